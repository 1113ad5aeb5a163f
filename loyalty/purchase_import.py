"""CSV import of past purchases: one row per purchase line, rows sharing a transaction id form one purchase.

Purchases are recorded through record_purchases (idempotent on the transaction id), so importing the
same file twice, or a file overlapping what the POS already sent, never pays points twice.
"""

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, time, tzinfo
from decimal import Decimal, InvalidOperation
from itertools import islice

from django.utils import timezone

from accounts.models import User
from patients.errors import InvalidPhone
from patients.models import Patient
from patients.phones import normalize_phone
from practices.csv_files import UnreadableFile, read_csv
from practices.formatting import format_number

from .models import CatalogItem, Purchase
from .services import LineIn, Sale, record_purchases

COLUMNS = (
    "transaction_id",
    "phone",
    "member_code",
    "purchased_at",
    "item_id",
    "item_name",
    "category",
    "quantity",
    "unit_price",
    "payment_method",
)
REQUIRED = ("transaction_id",)
MAX_ROWS = 5000
# Purchases recorded together (as one POS batch request).
BATCH = 500
DATE_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%d", "%m/%d/%Y %H:%M", "%m/%d/%Y")


@dataclass
class PurchaseImportReport:
    created: int = 0
    already_imported: int = 0
    rows: int = 0
    # [{"row": 3, "transaction_id": "...", "errors": ["..."]}]
    errors: list[dict] = field(default_factory=list)


@dataclass
class _Transaction:
    rows: list[int] = field(default_factory=list)
    patient: Patient | None = None
    purchased_at: datetime | None = None
    payment_method: str = ""
    lines: list[LineIn] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def import_purchases(*, data: bytes, actor: User) -> PurchaseImportReport:
    """Record every valid transaction in the file; a transaction with a bad row is refused whole and reported.

    The purchases go through record_purchases, BATCH at a time (the path of the POS's batches): the same rules,
    idempotent on the transaction id, so importing a file again records nothing twice."""
    _, rows = read_csv(data, columns=COLUMNS, required=REQUIRED)
    rows = list(islice(rows, MAX_ROWS + 1))
    if len(rows) > MAX_ROWS:
        raise UnreadableFile(f"The file has more than {format_number(MAX_ROWS)} rows; split it and import each part.")
    zone = timezone.get_current_timezone()
    items = {item.external_id: item for item in CatalogItem.objects.exclude(external_id=None)}
    patients = _Patients(values for _, values in rows)
    transactions: OrderedDict[str, _Transaction] = OrderedDict()
    report = PurchaseImportReport(rows=len(rows))
    for number, values in rows:
        transaction_id = values.get("transaction_id", "")
        if not transaction_id:
            report.errors.append({"row": number, "transaction_id": "", "errors": ["The transaction id is missing."]})
            continue
        entry = transactions.setdefault(transaction_id, _Transaction())
        entry.rows.append(number)
        _read_row(entry, number, values, items, zone, patients)

    valid = []
    for transaction_id, entry in transactions.items():
        if entry.errors:
            report.errors.append({"row": entry.rows[0], "transaction_id": transaction_id, "errors": entry.errors})
        else:
            valid.append((transaction_id, entry))
    for start in range(0, len(valid), BATCH):
        chunk = valid[start : start + BATCH]
        results = record_purchases(
            [
                Sale(
                    patient=entry.patient,
                    lines=entry.lines,
                    source=Purchase.Source.IMPORT,
                    external_id=transaction_id,
                    purchased_at=entry.purchased_at,
                    actor=actor,
                    payment_method=entry.payment_method,
                )
                for transaction_id, entry in chunk
            ]
        )
        for (transaction_id, entry), result in zip(chunk, results, strict=True):
            if result.error is not None:
                report.errors.append(
                    {"row": entry.rows[0], "transaction_id": transaction_id, "errors": [result.error.message]}
                )
            elif result.created:
                report.created += 1
            else:
                report.already_imported += 1
    return report


class _Patients:
    """The patients the file names, found with one query per kind of reference."""

    def __init__(self, rows):
        rows = list(rows)
        codes = {values.get("member_code", "") for values in rows} - {""}
        # Each number as written in the file, read once (a file repeats a patient's number on every line).
        self.phones: dict[str, str | InvalidPhone] = {}
        for raw in {values.get("phone", "") for values in rows} - {""}:
            try:
                self.phones[raw] = normalize_phone(raw)
            except InvalidPhone as error:
                self.phones[raw] = error
        self.by_code: dict[str, Patient] = {}
        for patient in Patient.objects.filter(external_id__in=codes).order_by("-pk"):
            self.by_code[patient.external_id] = patient  # the oldest, as .first() found it
        valid = [phone for phone in self.phones.values() if isinstance(phone, str)]
        self.by_phone = {p.phone: p for p in Patient.objects.select_related("user").filter(user__phone__in=valid)}


def _read_row(entry: _Transaction, number: int, values: dict, items: dict, zone: tzinfo, patients: _Patients) -> None:
    def refuse(reason: str) -> None:
        entry.errors.append(f"Row {number}: {reason}")

    patient = _find_patient(values, refuse, patients)
    if patient is not None:
        if entry.patient is not None and entry.patient.pk != patient.pk:
            refuse("a transaction's rows must all be for the same patient.")
        entry.patient = entry.patient or patient
    purchased_at = _parse_when(values.get("purchased_at", ""), zone, refuse)
    if purchased_at is not None:
        entry.purchased_at = entry.purchased_at or purchased_at
    entry.payment_method = entry.payment_method or values.get("payment_method", "")[:30]

    item = None
    if item_id := values.get("item_id", ""):
        item = items.get(item_id)
        if item is None:
            refuse(f"no catalog item has the POS id “{item_id}”.")
            return
    elif not values.get("item_name", ""):
        refuse("give an item_id (the catalog's POS id) or an item_name.")
        return
    quantity = _parse_quantity(values.get("quantity", ""), refuse)
    price = _parse_price(values.get("unit_price", ""), item, refuse)
    if quantity is None or price is None:
        return
    entry.lines.append(
        LineIn(
            item=item,
            quantity=quantity,
            unit_price_cents=price,
            name=values.get("item_name", "")[:120],
            category=values.get("category", "")[:60],
        )
    )


def _find_patient(values: dict, refuse, patients: _Patients) -> Patient | None:
    phone, member_code = values.get("phone", ""), values.get("member_code", "")
    if member_code:
        patient = patients.by_code.get(member_code)
        if patient is None:
            refuse(f"no patient has the member code “{member_code}”.")
        return patient
    if not phone:
        refuse("give the patient's phone or member_code.")
        return None
    normalized = patients.phones[phone]
    if isinstance(normalized, InvalidPhone):
        refuse(f"{normalized.message} ({phone})")
        return None
    patient = patients.by_phone.get(normalized)
    if patient is None:
        refuse(f"no patient has the phone number {phone}. Add or import the patient first.")
    return patient


def _parse_when(raw: str, zone: tzinfo, refuse) -> datetime | None:
    if not raw:
        refuse("the purchase date (purchased_at) is missing.")
        return None
    for fmt in DATE_FORMATS:
        try:
            parsed = datetime.strptime(raw, fmt)
        except ValueError:
            continue
        if fmt in ("%Y-%m-%d", "%m/%d/%Y"):
            parsed = datetime.combine(parsed.date(), time(12, 0))
        when = parsed.replace(tzinfo=zone)
        if when > timezone.now():
            refuse(f"the purchase date {raw} is in the future.")
            return None
        return when
    refuse(f"the purchase date “{raw}” is not a date like 2026-03-31 or 03/31/2026 (optionally with 14:30).")
    return None


def _parse_quantity(raw: str, refuse) -> int | None:
    if not raw:
        return 1
    if not raw.isdigit() or int(raw) < 1:
        refuse(f"the quantity “{raw}” must be a whole number of at least 1.")
        return None
    return int(raw)


def _parse_price(raw: str, item: CatalogItem | None, refuse) -> int | None:
    if not raw:
        if item is None:
            refuse("the unit_price is missing (needed for items not in the catalog).")
            return None
        return item.price_cents
    try:
        amount = Decimal(raw.replace("$", "").replace(",", ""))
    except InvalidOperation:
        refuse(f"the price “{raw}” is not an amount like 120.00.")
        return None
    if amount < 0 or amount.as_tuple().exponent < -2:
        refuse(f"the price “{raw}” must be positive with at most 2 decimals.")
        return None
    return int(amount * 100)
