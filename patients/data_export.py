"""A patient's own data, to download (their profile page and `GET /api/v1/me/data`): one zip, streamed.

The zip holds `data.json` (everything, one key per table) and one CSV file per table: profile, ledger,
purchases, vouchers, referrals, text messages and inbox messages. Every table is read by the patient's own
id (each app's part, patients.records), never from a list of patients. Staff notes and the staff timeline
are the practice's working notes, not part of the download.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterable, Iterator
from datetime import datetime

from django.utils import timezone

from practices.selectors import current_practice

from .models import Message, Notification, Patient
from .records import ExportTable, record_parts

# CSV cells that a spreadsheet would run as a formula start with one of these: written with a quote first.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def export_filename(patient: Patient, now: datetime | None = None) -> str:
    day = timezone.localdate(now or timezone.now())
    return f"my-data-{current_practice().slug}-{day:%Y-%m-%d}.zip"


def own_tables(patient: Patient) -> Iterator[ExportTable]:
    """This app's tables: the profile, the text messages and the inbox."""
    user = patient.user
    yield ExportTable(
        name="profile",
        columns=["field", "value"],
        rows=[
            ["first_name", user.first_name],
            ["last_name", user.last_name],
            ["phone", user.phone or ""],
            ["email", user.email or ""],
            ["birthday", patient.birthday.isoformat() if patient.birthday else ""],
            ["status", patient.status],
            ["joined_at", _iso(patient.joined_at)],
            ["terms_accepted_at", _iso(patient.terms_accepted_at)],
            ["sms_consent", patient.sms_consent],
            ["sms_consent_at", _iso(patient.sms_consent_at)],
            ["sms_consent_text", patient.sms_consent_text],
            ["sms_opted_out_at", _iso(patient.sms_opted_out_at)],
            ["notify_by_sms", patient.notify_by_sms],
            ["notify_by_push", patient.notify_by_push],
            ["signup_code", patient.signup_code],
        ],
    )
    messages = (
        Message.objects.filter(patient=patient)
        .order_by("created_at", "id")
        .values_list("created_at", "to", "purpose", "status", "body")
    )
    yield ExportTable(
        name="text_messages",
        columns=["date", "to", "purpose", "status", "text"],
        rows=([_iso(at), to, purpose, status, body] for at, to, purpose, status, body in messages),
    )
    inbox = (
        Notification.objects.filter(patient=patient)
        .order_by("created_at", "id")
        .values_list("created_at", "title", "body", "read_at")
    )
    yield ExportTable(
        name="inbox",
        columns=["date", "title", "text", "read_at"],
        rows=([_iso(at), title, body, _iso(read)] for at, title, body, read in inbox),
    )


def _iso(value) -> str:
    return value.isoformat() if value else ""


def patient_tables(patient: Patient) -> Iterator[ExportTable]:
    """Every table of the download, in a fixed order (fresh iterators on each call)."""
    for part in record_parts:
        if part.export:
            yield from part.export(patient)


def data_zip(patient: Patient) -> Iterator[bytes]:
    """The zip, chunk by chunk as it is written (no temporary file; rows are read as they are written)."""
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("data.json", "w") as out:
            yield from _json(patient, out, sink)
        for table in patient_tables(patient):
            with archive.open(f"{table.name}.csv", "w") as out:
                text = io.TextIOWrapper(out, encoding="utf-8", newline="")
                writer = csv.writer(text)
                writer.writerow(table.columns)
                for row in table.rows:
                    writer.writerow([_csv_cell(value) for value in row])
                    if sink.size > CHUNK:
                        text.flush()
                        yield sink.drain()
                text.flush()
                text.detach()
            yield sink.drain()
    yield sink.drain()


CHUNK = 64 * 1024


def _json(patient: Patient, out, sink: _Sink) -> Iterable[bytes]:
    out.write(
        json.dumps({"practice": current_practice().name, "exported_at": timezone.now().isoformat()})[:-1].encode()
    )
    for table in patient_tables(patient):
        out.write(f", {json.dumps(table.name)}: [".encode())
        for index, row in enumerate(table.rows):
            item = dict(zip(table.columns, row, strict=True))
            out.write(((", " if index else "") + json.dumps(item, default=str)).encode())
            if sink.size > CHUNK:
                yield sink.drain()
        out.write(b"]")
    out.write(b"}\n")


def _csv_cell(value):
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class _Sink(io.RawIOBase):
    """Where the zip is written: collects bytes until they are handed on (the zip module writes streams that
    cannot seek with data descriptors, which every unzip tool reads)."""

    def __init__(self):
        self._chunks: list[bytes] = []
        self.size = 0
        self._position = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        data = bytes(data)
        self._chunks.append(data)
        self.size += len(data)
        self._position += len(data)
        return len(data)

    def tell(self) -> int:
        return self._position

    def drain(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        self.size = 0
        return data
