"""What the apps above this one keep about a patient, for the things done to a whole record: merging two
records (patients.merging), the patient's data download (patients.data_export) and closing an account
(patients.closing).

This app cannot import loyalty, rewards or referrals; each of them registers a `RecordPart` from its
AppConfig.ready (as panels are, patients.staff_sections), and the services here call the parts in order.
Every relation to Patient must belong to a part (`relations`): tests/patients/test_records.py checks that a
new one is not forgotten by a merge or a closure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .models import Patient, PatientMerge


@dataclass(frozen=True)
class ExportTable:
    """One table of the data download: `<name>.csv` in the zip, and the `<name>` key of data.json."""

    name: str
    columns: list[str]
    # Lists in the order of `columns`; read lazily, so a long history is streamed.
    rows: Iterable[list[Any]]


@dataclass(frozen=True)
class MergeStep:
    """What a part is given to merge `merged` into `kept`, inside the merge's transaction, after the locks."""

    kept: Patient
    merged: Patient
    merge: PatientMerge
    actor: Any


@dataclass(frozen=True)
class RecordPart:
    name: str
    order: int = 100
    # "app_label.Model.field" of every relation to Patient this part moves, keeps or erases.
    relations: tuple[str, ...] = ()
    # Lock the rows changes to these patients go through (always in primary-key order). Merges and closures
    # call every part's lock first, highest app first (patients.merging.lock_records).
    lock: Callable[[list[Patient]], None] | None = None
    # Merging: the reasons it is refused (sentences for the staff), then the move itself, which returns
    # what it moved for the timeline ({"points": 1200, "vouchers": 2}).
    refusals: Callable[[Patient, Patient], list[str]] | None = None
    merge: Callable[[MergeStep], dict[str, int]] | None = None
    # Facts shown side by side on the merge page: [("Points", "1,200"), ...].
    facts: Callable[[Patient], list[tuple[str, str]]] | None = None
    # The patient's tables in the data download.
    export: Callable[[Patient], Iterable[ExportTable]] | None = None
    # Closing an account: what this part erases, retires or settles (inside the closure's transaction).
    close: Callable[[Patient], None] | None = None


@dataclass
class PartRegistry:
    parts: list[RecordPart] = field(default_factory=list)

    def register(self, part: RecordPart) -> None:
        self.parts = sorted([p for p in self.parts if p.name != part.name] + [part], key=lambda p: p.order)

    def __iter__(self):
        return iter(list(self.parts))


record_parts = PartRegistry()


def register_record_part(part: RecordPart) -> None:
    """Called from an AppConfig.ready: this app's part of merges, data downloads and closures."""
    record_parts.register(part)
