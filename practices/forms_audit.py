"""The filters of the owner's audit trail page."""

from django import forms

from . import audit_selectors

NO_MATCH = "Nothing in the trail matches this: choose from the list."


class AuditFilterForm(forms.Form):
    actor = forms.ChoiceField(label="Who", required=False)
    target_type = forms.ChoiceField(label="Kind of object", required=False)
    action = forms.ChoiceField(label="What", required=False)
    since = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Only what the trail holds, so every choice finds something.
        self.fields["actor"].choices = [("", "Everyone"), *audit_selectors.actor_choices()]
        self.fields["target_type"].choices = [("", "Everything"), *audit_selectors.kind_choices()]
        self.fields["action"].choices = [("", "Any change"), *audit_selectors.action_choices()]
        for name in ("actor", "target_type", "action"):
            self.fields[name].error_messages["invalid_choice"] = NO_MATCH

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            self.add_error("until", "The end date must be on or after the start date.")
        return data
