from datetime import date
from zoneinfo import ZoneInfo

from django import forms

from practices.formatting import format_number

from .periods import CUSTOM, DEFAULT_PRESET, MAX_CUSTOM_DAYS, PRESETS, Period, custom_period, preset_period

# The oldest day a custom period may start on (earlier dates are typing mistakes).
EARLIEST_DAY = date(2000, 1, 1)


class PeriodForm(forms.Form):
    """The period selector: a preset, or custom dates checked against the practice's calendar."""

    period = forms.ChoiceField(
        choices=[*((key, label) for key, (label, _) in PRESETS.items()), (CUSTOM, "Custom")], required=False
    )
    start = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, today: date, zone: ZoneInfo, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today
        self.zone = zone

    def clean(self):
        data = super().clean()
        if data.get("period") != CUSTOM or self.errors:
            return data
        start, end = data.get("start"), data.get("end")
        if start is None or end is None:
            raise forms.ValidationError("Enter both dates of the custom period.", code="missing")
        if start > end:
            self.add_error("end", "The end date must be on or after the start date.")
        elif end > self.today:
            today = f"{self.today:%b} {self.today.day}, {self.today.year}"
            self.add_error("end", f"The end date can't be after today ({today}).")
        elif start < EARLIEST_DAY:
            self.add_error("start", f"The start date can't be before {EARLIEST_DAY.year}.")
        elif (end - start).days + 1 > MAX_CUSTOM_DAYS:
            self.add_error("start", f"A custom period can be at most {format_number(MAX_CUSTOM_DAYS)} days long.")
        return data

    def chosen_period(self) -> Period:
        """The chosen period; the default one when the form is empty or invalid."""
        key = self.cleaned_data.get("period") if self.is_valid() else None
        if key == CUSTOM:
            return custom_period(self.cleaned_data["start"], self.cleaned_data["end"], zone=self.zone)
        return preset_period(key if key in PRESETS else DEFAULT_PRESET, today=self.today, zone=self.zone)
