from django import forms

MAX_UPLOAD_BYTES = 5 * 1024 * 1024


class PurchaseImportForm(forms.Form):
    file = forms.FileField(label="CSV file", help_text="One row per purchase line; at most 5,000 rows.")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith(".csv"):
            raise forms.ValidationError("Upload a .csv file (in your spreadsheet: File › Save as › CSV).")
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError("The file is larger than 5 MB; split it into smaller files.")
        if upload.size == 0:
            raise forms.ValidationError("The file is empty.")
        return upload
