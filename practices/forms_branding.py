"""The owner's branding and program text forms (the rules are in practices.branding; these parse the input)."""

from django import forms

from .images import PictureField
from .program_texts import MAX_CHARS

TEXT_HELP = (
    "Plain text. A blank line starts a new paragraph, a line starting with “## ” is a heading, lines starting "
    "with “- ” make a list, and web and email addresses become links."
)


class ColourInput(forms.TextInput):
    input_type = "color"


class BrandingForm(forms.Form):
    name = forms.CharField(label="Practice name", max_length=120)
    short_name = forms.CharField(
        label="Short name",
        max_length=30,
        required=False,
        help_text="Shown under the app's icon on phones (about 12 characters fit). Empty: the first words of the name.",
    )
    logo = PictureField(
        label="Logo",
        required=False,
        help_text="A JPG, PNG or WebP. We keep the square in its centre, so a square picture works best.",
    )
    remove_logo = forms.BooleanField(label="Remove the logo (use your initials instead)", required=False)
    primary_color = forms.CharField(
        label="Primary colour",
        widget=ColourInput,
        help_text="Buttons and the header. Their text is white or near-black, whichever is easier to read on it.",
    )
    accent_color = forms.CharField(label="Accent colour", widget=ColourInput, help_text="Highlights and progress bars.")
    sms_sender_name = forms.CharField(
        label="Name in text messages",
        max_length=30,
        required=False,
        help_text="Texts to patients start with it, e.g. “Alpha: your code is …”. Empty: the short name or the name.",
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("logo") and cleaned.get("remove_logo"):
            self.add_error("remove_logo", "Choose a new logo or remove the logo, not both.")
        return cleaned


class ProgramTextsForm(forms.Form):
    terms = forms.CharField(
        label="Program terms", widget=forms.Textarea({"rows": 18}), max_length=MAX_CHARS, help_text=TEXT_HELP
    )
    privacy = forms.CharField(
        label="Privacy notice", widget=forms.Textarea({"rows": 18}), max_length=MAX_CHARS, help_text=TEXT_HELP
    )
