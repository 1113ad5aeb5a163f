"""Staff pages that change a patient's record: edit it (front desk and above), change the number with a code
the patient reads out (front desk and above), merge two records of one person (managers and owners)."""

from allauth.core.exceptions import RateLimited
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from practices.errors import DomainError
from practices.models import StaffMember
from practices.roles import staff_required

from . import ratelimits
from .forms_records import NewPhoneForm, PatientRecordForm, PhoneCodeForm
from .merging import MERGE_RULES, MergeRefused, merge_facts, merge_patients, merge_refusals, patient_label
from .models import Patient
from .phone_change import TooManyWrongCodes, confirm_phone_change, start_phone_change, waiting_change
from .phones import display_phone
from .staff_services import update_patient_record
from .views_staff import search_patients

MERGE_CANDIDATES = 10
ARCHIVED = "This record is archived: it can't be changed."


def _patient(patient_id: int) -> Patient:
    return get_object_or_404(Patient.objects.select_related("user"), pk=patient_id)


def _detail(patient: Patient):
    return redirect("patients:staff_patient_detail", patient_id=patient.pk)


def _refuse_archived(request, patient: Patient):
    if patient.status == Patient.Status.ARCHIVED:
        messages.error(request, ARCHIVED)
        return _detail(patient)
    return None


def _add_error(form, error: DomainError) -> None:
    form.add_error(error.field if error.field in form.fields else None, error.message)


# ---------------------------------------------------------------- edit


@staff_required
def patient_edit(request, patient_id: int):
    patient = _patient(patient_id)
    if refused := _refuse_archived(request, patient):
        return refused
    user = patient.user
    form = PatientRecordForm(
        request.POST if request.method == "POST" else None,
        initial={
            "first_name": user.first_name,
            "last_name": user.last_name,
            "email": user.email or "",
            "birthday": patient.birthday,
            "external_id": patient.external_id,
            "notes": patient.notes,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            waiting = update_patient_record(patient=patient, actor=request.user, request=request, **form.cleaned_data)
        except DomainError as error:
            _add_error(form, error)
        else:
            messages.success(request, "The record is saved.")
            if waiting:
                messages.info(
                    request, f"We emailed a link to {waiting}: the address is used once the patient opens it."
                )
            return _detail(patient)
    return render(request, "patients/staff/patient_edit.html", {"patient": patient, "form": form})


# ---------------------------------------------------------------- the number


@staff_required
def patient_phone(request, patient_id: int):
    """The new number: a code is texted to it, which the patient reads out to the desk."""
    patient = _patient(patient_id)
    if refused := _refuse_archived(request, patient):
        return refused
    form = NewPhoneForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        phone = form.cleaned_data["phone"]
        try:
            start_phone_change(patient=patient, phone=phone, request=request, actor=request.user)
        except RateLimited:
            return ratelimits.too_many_requests(
                request,
                action="verify_phone",
                key=phone,
                message="Too many codes were sent to this number. Please try again {when}.",
            )
        except DomainError as error:
            _add_error(form, error)
        else:
            messages.info(request, f"We texted a code to {display_phone(phone)}.")
            return redirect("patients:staff_patient_phone_confirm", patient_id=patient.pk)
    return render(
        request,
        "patients/staff/patient_phone.html",
        {"patient": patient, "form": form, "phone_display": display_phone(patient.phone)},
    )


@staff_required
def patient_phone_confirm(request, patient_id: int):
    patient = _patient(patient_id)
    change = waiting_change(patient=patient)
    if change is None:
        messages.error(request, "No new number is waiting for its code (codes last 10 minutes). Enter it again.")
        return redirect("patients:staff_patient_phone", patient_id=patient.pk)
    form = PhoneCodeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            confirm_phone_change(patient=patient, code=form.cleaned_data["code"], actor=request.user)
        except TooManyWrongCodes as error:
            messages.error(request, error.message)
            return redirect("patients:staff_patient_phone", patient_id=patient.pk)
        except DomainError as error:
            _add_error(form, error)
        else:
            messages.success(request, f"The mobile number is now {display_phone(change.phone)}.")
            return _detail(patient)
    return render(
        request,
        "patients/staff/patient_phone_confirm.html",
        {"patient": patient, "form": form, "new_phone": display_phone(change.phone)},
    )


# ---------------------------------------------------------------- merge


@staff_required(role=StaffMember.Role.MANAGER)
def patient_merge(request, patient_id: int):
    """Find the other record of the same person."""
    patient = _patient(patient_id)
    if refused := _refuse_archived(request, patient):
        return refused
    query = request.GET.get("q", "").strip()
    candidates = []
    if query:
        found = search_patients(query).exclude(pk=patient.pk).exclude(status=Patient.Status.ARCHIVED)
        candidates = list(found[:MERGE_CANDIDATES])
        for candidate in candidates:
            candidate.phone_display = display_phone(candidate.phone)
    return render(
        request,
        "patients/staff/patient_merge.html",
        {"patient": patient, "query": query, "candidates": candidates, "phone_display": display_phone(patient.phone)},
    )


@staff_required(role=StaffMember.Role.MANAGER)
def patient_merge_confirm(request, patient_id: int, other_id: int):
    """The two records side by side, the rules, and why not (if not); confirming folds `other` into `patient`."""
    kept, merged = _patient(patient_id), _patient(other_id)
    if request.method == "POST":
        try:
            merge = merge_patients(kept=kept, merged=merged, actor=request.user)
        except MergeRefused as refused:
            for reason in refused.reasons:
                messages.error(request, reason)
            return redirect(request.path)
        messages.success(request, f"{patient_label(merged)} was merged into this record.")
        if freed := merge.merged_details.get("phone"):
            messages.info(
                request,
                f"Its number, {display_phone(freed)}, is free now: if the patient uses it, change this record's "
                "number to it (Change the number).",
            )
        return _detail(kept)
    return render(
        request,
        "patients/staff/patient_merge_confirm.html",
        {
            "kept": kept,
            "merged": merged,
            "facts": merge_facts(kept=kept, merged=merged),
            "refusals": merge_refusals(kept=kept, merged=merged),
            "rules": MERGE_RULES,
            "swap_url": reverse("patients:staff_patient_merge_confirm", args=[merged.pk, kept.pk]),
            "kept_label": patient_label(kept),
            "merged_label": patient_label(merged),
        },
    )
