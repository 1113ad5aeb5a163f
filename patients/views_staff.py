"""The staff portal's patient pages (the CRM): find a patient, their profile and timeline, notes,
adding a patient at the desk, and importing existing patients from a CSV file."""

import contextlib
import re

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from practices.errors import DomainError
from practices.forms import CsvUploadForm
from practices.models import StaffMember
from practices.page_helpers import query_string
from practices.roles import staff_required

from .desk import add_patient_at_desk
from .errors import InvalidPhone, PhoneTaken
from .imports import UnreadableFile, read_csv, start_import
from .models import Activity, Patient, PatientImport
from .phones import display_phone, normalize_phone
from .services import patient_by_phone, record_activity
from .staff_sections import render_patient_panels

PATIENTS_PER_PAGE = 25
ACTIVITIES_PER_PAGE = 50
RECENT_IMPORTS = 10
# What a phone number looks like when typed: digits with the usual punctuation, nothing else.
PHONE_LIKE = re.compile(r"^\+?[\d\s().-]+$")
MIN_PHONE_DIGITS = 3


# ---------------------------------------------------------------- reads


def search_patients(query: str) -> QuerySet[Patient]:
    """Patients matching a name, phone number (any format, or a part of it), sign-up code or email."""
    patients = Patient.objects.select_related("user").order_by("-created_at", "-id")
    query = query.strip()
    if not query:
        return patients
    names = Q()
    for word in query.split():
        names &= Q(user__first_name__icontains=word) | Q(user__last_name__icontains=word)
    matches = names | Q(user__email__icontains=query) | Q(signup_code__iexact=query)
    digits = re.sub(r"\D", "", query)
    if PHONE_LIKE.match(query) and len(digits) >= MIN_PHONE_DIGITS:
        # Numbers are stored in E.164, so the digits typed are a part of it, whatever the punctuation;
        # a full national number (with a trunk 0 that E.164 drops) is matched through normalisation.
        matches |= Q(user__phone__contains=digits)
        with contextlib.suppress(InvalidPhone):
            matches |= Q(user__phone=normalize_phone(query))
    return patients.filter(matches)


def patient_timeline(*, patient: Patient, kind: str = "") -> QuerySet[Activity]:
    """The patient's timeline, newest first, optionally one kind only."""
    activities = patient.activities.select_related("actor").order_by("-created_at", "-id")
    return activities.filter(kind=kind) if kind else activities


def _page(request, items, per_page: int):
    return Paginator(items, per_page).get_page(request.GET.get("page"))


# ---------------------------------------------------------------- forms


class NoteForm(forms.Form):
    text = forms.CharField(
        label="Add a note",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Write the note before saving it."},
    )


class DeskPatientForm(forms.Form):
    phone = forms.CharField(
        label="Mobile number",
        max_length=32,
        help_text="Any format, e.g. (555) 123-4567. The invitation is texted to this number.",
        widget=forms.TextInput(attrs={"type": "tel", "inputmode": "tel", "autocomplete": "off"}),
        error_messages={"required": "Enter the patient's mobile number."},
    )
    first_name = forms.CharField(
        label="First name", max_length=150, error_messages={"required": "Enter the patient's first name."}
    )
    last_name = forms.CharField(
        label="Last name", max_length=150, error_messages={"required": "Enter the patient's last name."}
    )
    email = forms.EmailField(label="Email", required=False)
    birthday = forms.DateField(
        label="Birthday",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d", "%m/%d/%Y"],
    )

    def clean_phone(self) -> str:
        try:
            return normalize_phone(self.cleaned_data["phone"])
        except InvalidPhone as error:
            raise forms.ValidationError(error.message) from None

    def clean_birthday(self):
        birthday = self.cleaned_data.get("birthday")
        if birthday and birthday > timezone.localdate():
            raise forms.ValidationError("A birthday can't be in the future.")
        return birthday


class ImportForm(CsvUploadForm):
    def clean_file(self):
        upload = super().clean_file()
        # Check the header now, so a wrong file is refused here rather than failing in the background.
        try:
            read_csv(upload.read())
        except UnreadableFile as error:
            raise forms.ValidationError(error.message) from None
        finally:
            upload.seek(0)
        return upload


# ---------------------------------------------------------------- pages


@staff_required
def patient_list(request):
    query = request.GET.get("q", "").strip()
    page = _page(request, search_patients(query), PATIENTS_PER_PAGE)
    # Tells "no patients yet" (invite or import some) from "nothing matches the search".
    has_patients = bool(page.object_list) or Patient.objects.exists()
    return render(
        request,
        "patients/staff/patient_list.html",
        {
            "query": query,
            "page": page,
            "has_patients": has_patients,
            "page_query": query_string(request, page=None),
            "can_import": request.staff_member.has_role(StaffMember.Role.MANAGER),
        },
    )


@staff_required
def patient_detail(request, patient_id: int):
    patient = get_object_or_404(Patient.objects.select_related("user"), pk=patient_id)
    return _render_detail(request, patient, NoteForm())


@staff_required
@require_POST
def patient_note(request, patient_id: int):
    patient = get_object_or_404(Patient.objects.select_related("user"), pk=patient_id)
    form = NoteForm(request.POST)
    if not form.is_valid():
        return _render_detail(request, patient, form)
    text = form.cleaned_data["text"]
    # The summary column is short; the full note is kept in the data and shown on the timeline.
    record_activity(patient=patient, kind=Activity.Kind.NOTE, summary=text, actor=request.user, data={"text": text})
    messages.success(request, "Note added.")
    return redirect("patients:staff_patient_detail", patient_id=patient.pk)


def _render_detail(request, patient: Patient, note_form: NoteForm):
    kind = request.GET.get("kind", "")
    if kind not in Activity.Kind.values:
        kind = ""
    timeline = _page(request, patient_timeline(patient=patient, kind=kind), ACTIVITIES_PER_PAGE)
    return render(
        request,
        "patients/staff/patient_detail.html",
        {
            "patient": patient,
            "phone_display": display_phone(patient.phone),
            "timeline": timeline,
            "panels": render_patient_panels(request, patient),
            "kind": kind,
            "kinds": Activity.Kind.choices,
            "page_query": query_string(request, page=None),
            "note_form": note_form,
            "can_merge": request.staff_member.has_role(StaffMember.Role.MANAGER),
        },
    )


@staff_required
def patient_add(request):
    form = DeskPatientForm(request.POST or None)
    existing = None
    if request.method == "POST" and form.is_valid():
        try:
            patient = add_patient_at_desk(**form.cleaned_data, actor=request.user)
        except PhoneTaken as error:
            existing = patient_by_phone(form.cleaned_data["phone"])
            form.add_error("phone", error.message)
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(request, f"{patient} was added and invited by SMS.")
            return redirect("patients:staff_patient_detail", patient_id=patient.pk)
    return render(request, "patients/staff/patient_add.html", {"form": form, "existing": existing})


@staff_required(role=StaffMember.Role.MANAGER)
def import_upload(request):
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        patient_import = start_import(upload=form.cleaned_data["file"], actor=request.user)
        messages.success(request, f"{patient_import.filename} was uploaded; the import has started.")
        return redirect("patients:staff_import_status", import_id=patient_import.pk)
    recent = PatientImport.objects.select_related("created_by").order_by("-created_at", "-id")[:RECENT_IMPORTS]
    return render(request, "patients/staff/import_upload.html", {"form": form, "recent_imports": recent})


@staff_required(role=StaffMember.Role.MANAGER)
def import_status(request, import_id: int):
    patient_import = get_object_or_404(PatientImport.objects.select_related("created_by"), pk=import_id)
    return render(request, "patients/staff/import_status.html", {"import": patient_import})


@staff_required(role=StaffMember.Role.MANAGER)
def import_progress(request, import_id: int):
    """The progress part of the status page alone, which the page polls while the import runs."""
    patient_import = get_object_or_404(PatientImport, pk=import_id)
    return render(request, "patients/staff/_import_progress.html", {"import": patient_import})
