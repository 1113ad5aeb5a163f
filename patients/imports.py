"""CSV import of a practice's existing patients: start an import, and run it in the background."""

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from practices import audit, csv_files
from practices.csv_files import UnreadableFile
from practices.tasks import enqueue_for_practice

from .errors import InvalidPhone, PatientError
from .models import Activity, Patient, PatientImport
from .phones import normalize_phone
from .services import create_patient, record_activity

logger = logging.getLogger(__name__)

COLUMNS = ("phone", "first_name", "last_name", "email", "birthday", "external_id")
REQUIRED_COLUMNS = ("phone",)
BIRTHDAY_FORMATS = ("%Y-%m-%d", "%m/%d/%Y")
PROGRESS_EVERY = 100
# A wrong file can make every row bad; the report keeps the first rows, the count stays exact.
MAX_REPORTED_ROWS = 1000
MAX_LENGTHS = {"first_name": 150, "last_name": 150, "email": 254, "external_id": 64}
IMPORTED_FIELDS = ("first_name", "last_name", "email", "birthday", "external_id")
LABELS = {"first_name": "First name", "last_name": "Last name", "email": "Email", "external_id": "External id"}


@dataclass(frozen=True)
class ImportRow:
    phone: str
    first_name: str
    last_name: str
    email: str
    birthday: date | None
    external_id: str


class RowRefused(Exception):
    def __init__(self, reasons: list[str]):
        super().__init__("; ".join(reasons))
        self.reasons = reasons


def read_csv(data: bytes) -> tuple[list[str], Iterator[tuple[int, dict[str, str]]]]:
    """The patient file's columns and numbered rows (see practices.csv_files.read_csv)."""
    return csv_files.read_csv(data, columns=COLUMNS, required=REQUIRED_COLUMNS)


def clean_row(values: dict[str, str]) -> ImportRow:
    """The row's values checked and converted; raises RowRefused with every reason the row is wrong."""
    reasons = []
    raw_phone = values.get("phone", "")
    phone = ""
    if not raw_phone:
        reasons.append("Phone is missing.")
    else:
        try:
            phone = normalize_phone(raw_phone)
        except InvalidPhone:
            reasons.append(f"Phone “{raw_phone}” is not a valid phone number.")
    email = values.get("email", "")
    if email:
        try:
            validate_email(email)
        except ValidationError:
            reasons.append(f"Email “{email}” is not a valid email address.")
    raw_birthday = values.get("birthday", "")
    birthday = None
    if raw_birthday:
        birthday = _parse_birthday(raw_birthday)
        if birthday is None:
            reasons.append(f"Birthday “{raw_birthday}” is not a date (use YYYY-MM-DD or MM/DD/YYYY).")
        elif birthday > timezone.localdate():
            reasons.append(f"Birthday “{raw_birthday}” is in the future.")
    for name, limit in MAX_LENGTHS.items():
        if len(values.get(name, "")) > limit:
            reasons.append(f"{LABELS[name]} is longer than {limit} characters.")
    if reasons:
        raise RowRefused(reasons)
    return ImportRow(
        phone=phone,
        first_name=values.get("first_name", ""),
        last_name=values.get("last_name", ""),
        email=email,
        birthday=birthday,
        external_id=values.get("external_id", ""),
    )


def _parse_birthday(raw: str) -> date | None:
    for fmt in BIRTHDAY_FORMATS:
        try:
            return datetime.strptime(raw, fmt).date()
        except ValueError:
            continue
    return None


def _email_used_by_another(email: str, user: User | None = None) -> bool:
    others = User.objects.filter(email__iexact=email)
    if user is not None:
        others = others.exclude(pk=user.pk)
    return others.exists()


@transaction.atomic
def start_import(*, upload: UploadedFile, actor: User) -> PatientImport:
    """Store the uploaded file and queue its import to run once this transaction has committed; recorded in
    the audit trail, as is each patient the import then adds or fills in, under the same staff member."""
    audit.require_actor(actor)
    patient_import = PatientImport.objects.create(file=upload, filename=upload.name[:200], created_by=actor)
    audit.record(
        actor=actor,
        action="patient_import.started",
        target=patient_import,
        target_label=patient_import.filename,
        after={"filename": patient_import.filename},
    )
    _enqueue_run(patient_import)
    return patient_import


def _actor(patient_import: PatientImport) -> User | audit.System:
    """Who the import's changes are recorded under: the staff member who started it (or, once their account
    is gone, the import itself)."""
    return patient_import.created_by or audit.System(f"Patient import #{patient_import.pk} ({patient_import.filename})")


def run_import(import_id: int) -> PatientImport:
    """Import every good row of the file and report the others; finished imports are returned unchanged.

    Each row is its own transaction, so a bad row never loses the good ones. A phone number the
    practice already has fills in what the patient is missing, so running a file twice creates no one twice.
    A long file is worked through in turns, each queued after the previous one (see `_turn_seconds`).
    """
    patient_import = PatientImport.objects.get(pk=import_id)
    if patient_import.status in (PatientImport.Status.DONE, PatientImport.Status.FAILED):
        return patient_import
    if not patient_import.file:
        return _finish(
            patient_import,
            status=PatientImport.Status.FAILED,
            file_error="The uploaded file is no longer kept; upload it again.",
        )
    try:
        with patient_import.file.open("rb") as handle:
            data = handle.read()
        _header, rows = read_csv(data)
        rows = list(rows)
    except (UnreadableFile, OSError) as error:
        message = error.message if isinstance(error, UnreadableFile) else "The uploaded file could not be opened."
        return _finish(patient_import, status=PatientImport.Status.FAILED, file_error=message)

    # A later turn (or a run cut short by a restarted worker) carries on after the last saved progress.
    # Rows done after it in a cut-short run are applied again: harmless, a known phone is only filled in.
    already_done = patient_import.processed_rows if patient_import.status == PatientImport.Status.RUNNING else 0
    patient_import.status = PatientImport.Status.RUNNING
    patient_import.total_rows = len(rows)
    patient_import.save(update_fields=["status", "total_rows"])

    deadline = time.monotonic() + _turn_seconds()
    try:
        for position, (number, values) in enumerate(rows[already_done:], start=already_done + 1):
            _import_row(patient_import, number, values)
            patient_import.processed_rows = position
            if position % PROGRESS_EVERY == 0:
                _save_progress(patient_import)
            if position < len(rows) and time.monotonic() > deadline:
                _save_progress(patient_import)
                _enqueue_run(patient_import)
                return patient_import
    except Exception:
        logger.exception("Patient import %s stopped at row %s", import_id, patient_import.processed_rows)
        return _finish(
            patient_import,
            status=PatientImport.Status.FAILED,
            file_error="The import stopped unexpectedly. The rows before it were imported; upload the file again "
            "to finish (rows already imported are not duplicated).",
        )
    return _finish(patient_import, status=PatientImport.Status.DONE)


def _turn_seconds() -> float:
    # The worker kills a task that runs longer than the cluster's timeout, which would leave the import
    # "running" for ever; half of it leaves room for the row in progress and the final save.
    return settings.Q_CLUSTER.get("timeout", 60) / 2


def _enqueue_run(patient_import: PatientImport, *, requeue_failed: bool = True):
    # One task per import: a turn queued while the previous one is still running runs right after it.
    return enqueue_for_practice(
        "patients.imports.run_import",
        patient_import.pk,
        key=f"run_import:{patient_import.pk}",
        requeue_failed=requeue_failed,
    )


def redrive_stuck_imports(*, now: datetime | None = None) -> int:
    """Queue again the imports left "queued" or "running" by a lost task; returns how many were queued.

    An import whose task is waiting or running absorbs this (one task per import), so only a lost one
    is started again; it carries on after its last saved progress.
    """
    now = now or timezone.now()
    unfinished = PatientImport.objects.filter(
        status__in=[PatientImport.Status.QUEUED, PatientImport.Status.RUNNING],
        created_at__lt=now - timedelta(seconds=_turn_seconds() * 2),
    )
    queued = 0
    for patient_import in unfinished.order_by("pk")[:100]:
        with transaction.atomic():
            queued += _enqueue_run(patient_import, requeue_failed=False) is not None
    return queued


def _import_row(patient_import: PatientImport, number: int, values: dict[str, str]) -> None:
    try:
        row = clean_row(values)
        with transaction.atomic():
            created = _apply_row(patient_import, number, row)
    except RowRefused as refused:
        _report(patient_import, number, refused.reasons)
    except PatientError as error:
        _report(patient_import, number, [error.message])
    except IntegrityError:
        # Someone added the same phone or email between our check and the insert.
        _report(patient_import, number, ["This phone number or email was just added by someone else; import again."])
    else:
        if created:
            patient_import.created_count += 1
        else:
            patient_import.updated_count += 1


def _apply_row(patient_import: PatientImport, number: int, row: ImportRow) -> bool:
    """Create the patient or fill in what they are missing; True when created."""
    actor = patient_import.created_by
    patient = Patient.objects.select_related("user").filter(user__phone=row.phone).first()
    if patient is None:
        if row.email and _email_used_by_another(row.email):
            raise RowRefused([f"Email “{row.email}” is already used by another account."])
        patient = create_patient(
            phone=row.phone,
            first_name=row.first_name,
            last_name=row.last_name,
            email=row.email,
            birthday=row.birthday,
            status=Patient.Status.PENDING,
            source=Patient.Source.IMPORT,
            external_id=row.external_id,
            actor=actor,
        )
        record_activity(
            patient=patient,
            kind=Activity.Kind.IMPORTED,
            summary=f"Imported from {patient_import.filename}",
            actor=actor,
            data={"import_id": patient_import.pk, "row": number},
        )
        audit.record(
            actor=_actor(patient_import),
            action="patient.imported",
            target=patient,
            after={name: getattr(row, name) for name in IMPORTED_FIELDS if getattr(row, name)},
            note=f"{patient_import.filename}, row {number}",
        )
        return True

    user = patient.user
    before = {name: getattr(user, name) for name in ("first_name", "last_name", "email")}
    before.update(birthday=patient.birthday, external_id=patient.external_id)
    filled = []
    for field in ("first_name", "last_name"):
        if not getattr(user, field) and getattr(row, field):
            setattr(user, field, getattr(row, field))
            filled.append(field)
    if not user.email and row.email:
        if _email_used_by_another(row.email, user):
            raise RowRefused([f"Email “{row.email}” is already used by another account."])
        user.email = User.objects.normalize_email(row.email)
        filled.append("email")
    if filled:
        user.save(update_fields=filled)
    patient_fields = []
    if patient.birthday is None and row.birthday:
        patient.birthday = row.birthday
        patient_fields.append("birthday")
    if not patient.external_id and row.external_id:
        patient.external_id = row.external_id
        patient_fields.append("external_id")
    if patient_fields:
        patient.save(update_fields=patient_fields)
        filled += patient_fields
    if filled:
        names = ", ".join(LABELS.get(field, field.capitalize()).lower() for field in filled)
        record_activity(
            patient=patient,
            kind=Activity.Kind.PROFILE_UPDATED,
            summary=f"Filled in from {patient_import.filename}: {names}",
            actor=actor,
            data={"import_id": patient_import.pk, "row": number, "fields": filled},
        )
        after = {name: getattr(user, name) for name in ("first_name", "last_name", "email")}
        after.update(birthday=patient.birthday, external_id=patient.external_id)
        audit.record(
            actor=_actor(patient_import),
            action="patient.filled_in_by_import",
            target=patient,
            **audit.changes(before, after, filled),
            note=f"{patient_import.filename}, row {number}",
        )
    return False


def _report(patient_import: PatientImport, number: int, reasons: list[str]) -> None:
    patient_import.error_count += 1
    if len(patient_import.errors) < MAX_REPORTED_ROWS:
        patient_import.errors.append({"row": number, "errors": reasons})


def _save_progress(patient_import: PatientImport) -> None:
    patient_import.save(update_fields=["processed_rows", "created_count", "updated_count", "error_count", "errors"])


@transaction.atomic
def _finish(patient_import: PatientImport, *, status: str, file_error: str = "") -> PatientImport:
    """Record the outcome (in the audit trail too) and delete the uploaded file: the report keeps what staff
    need, the list is not kept."""
    if file_error:
        patient_import.errors.append({"row": None, "errors": [file_error]})
    patient_import.status = status
    patient_import.finished_at = timezone.now()
    stored, patient_import.file = patient_import.file.name, ""
    patient_import.save()
    audit.record(
        actor=_actor(patient_import),
        action="patient_import.finished",
        target=patient_import,
        target_label=patient_import.filename,
        after={
            "status": status,
            "created_count": patient_import.created_count,
            "updated_count": patient_import.updated_count,
            "error_count": patient_import.error_count,
        },
        note=file_error,
    )
    if stored:
        path = Path(patient_import.file.storage.path(stored))  # found now, inside the practice
        transaction.on_commit(lambda: path.unlink(missing_ok=True))
    return patient_import
