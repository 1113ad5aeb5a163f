from django.shortcuts import render

from practices.csv_files import UnreadableFile
from practices.models import StaffMember
from practices.roles import staff_required

from .forms_import import PurchaseImportForm
from .purchase_import import COLUMNS, import_purchases


@staff_required(role=StaffMember.Role.MANAGER)
def purchase_import(request):
    """Upload past purchases as CSV; the report lists what was recorded and every refused row."""
    report = None
    form = PurchaseImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            report = import_purchases(data=form.cleaned_data["file"].read(), actor=request.user)
        except UnreadableFile as error:
            form.add_error("file", error.message)
    return render(request, "loyalty/staff/purchase_import.html", {"form": form, "report": report, "columns": COLUMNS})
