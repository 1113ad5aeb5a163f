"""The patient's own account pages: a new mobile number (with a code texted to it), downloading their data,
and closing the account."""

from allauth.core.exceptions import RateLimited
from django.contrib import messages
from django.contrib.auth import logout
from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from practices.errors import DomainError

from . import ratelimits
from .access import patient_required
from .closing import close_account
from .data_export import data_zip, export_filename
from .forms_records import CloseAccountForm, NewPhoneForm, PhoneCodeForm
from .phone_change import TooManyWrongCodes, confirm_phone_change, start_phone_change, waiting_change
from .phones import display_phone


def _add_error(form, error: DomainError) -> None:
    form.add_error(error.field if error.field in form.fields else None, error.message)


@patient_required
def phone(request):
    patient = request.user.patient
    form = NewPhoneForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        number = form.cleaned_data["phone"]
        try:
            start_phone_change(patient=patient, phone=number, request=request)
        except RateLimited:
            return ratelimits.too_many_requests(
                request,
                action="verify_phone",
                key=number,
                message="Too many codes were sent to this number. Please try again {when}.",
            )
        except DomainError as error:
            _add_error(form, error)
        else:
            return redirect("patients:phone_confirm")
    return render(
        request,
        "patients/phone.html",
        {"form": form, "patient": patient, "phone_display": display_phone(patient.phone)},
    )


@patient_required
def phone_confirm(request):
    patient = request.user.patient
    change = waiting_change(patient=patient)
    if change is None:
        messages.error(request, "No new number is waiting for its code (codes last 10 minutes). Enter it again.")
        return redirect("patients:phone")
    form = PhoneCodeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            confirm_phone_change(patient=patient, code=form.cleaned_data["code"])
        except TooManyWrongCodes as error:
            messages.error(request, error.message)
            return redirect("patients:phone")
        except DomainError as error:
            _add_error(form, error)
        else:
            messages.success(
                request, f"Your mobile number is now {display_phone(change.phone)}. Sign in with it from now on."
            )
            return redirect("patients:profile")
    return render(request, "patients/phone_confirm.html", {"form": form, "new_phone": display_phone(change.phone)})


@require_GET
@patient_required
def data_download(request):
    """Everything the practice keeps about the patient, as a zip of data.json and CSV files, streamed."""
    patient = request.user.patient
    return zip_response(patient)


def zip_response(patient) -> StreamingHttpResponse:
    response = StreamingHttpResponse(data_zip(patient), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{export_filename(patient)}"'
    response["Cache-Control"] = "no-store"
    return response


@patient_required(allow_unfinished=True)
def close(request):
    patient = request.user.patient
    form = CloseAccountForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        close_account(patient=patient)
        logout(request)
        messages.success(
            request, "Your account is closed and your personal details are erased. Thank you for being a member."
        )
        return redirect("/")
    return render(request, "patients/close.html", {"form": form})
