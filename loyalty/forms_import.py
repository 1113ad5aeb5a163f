from practices.forms import CsvUploadForm


class PurchaseImportForm(CsvUploadForm):
    """Past purchases: one row per purchase line, at most 5,000 rows."""
