"""The rewards app's part of merging two records, a patient's data download and closing an account
(patients.records): vouchers move with the patient, and go when the account closes."""

from __future__ import annotations

from collections.abc import Iterator

from patients.models import Patient
from patients.records import ExportTable, MergeStep, RecordPart

from .models import Redemption
from .services import withdraw_gift_voucher


def merge(step: MergeStep) -> dict[str, int]:
    # Under the points accounts' locks (the merge holds both): a voucher cancelled meanwhile gives its points
    # back to the account of whoever holds the voucher once it has the lock, the kept patient after this.
    return {"vouchers": Redemption.objects.filter(patient=step.merged).update(patient=step.kept)}


def facts(patient: Patient) -> list[tuple[str, str]]:
    ready = Redemption.objects.filter(patient=patient, status=Redemption.Status.ISSUED).count()
    return [("Vouchers ready to use", f"{ready:,}")]


def export(patient: Patient) -> Iterator[ExportTable]:
    vouchers = (
        Redemption.objects.filter(patient=patient)
        .select_related("reward")
        .order_by("created_at", "id")
        .values_list("voucher_code", "reward__name", "points_cost", "status", "created_at", "expires_at", "used_at")
    )
    yield ExportTable(
        name="vouchers",
        columns=["code", "reward", "points", "status", "issued", "expires", "used"],
        rows=(
            [code, name, points, status, _iso(issued), _iso(expires), _iso(used)]
            for code, name, points, status, issued, expires, used in vouchers
        ),
    )


def _iso(value) -> str:
    return value.isoformat() if value else ""


def close(patient: Patient) -> None:
    """Unused vouchers are withdrawn (their points go with the rest of the balance)."""
    issued = Redemption.objects.filter(patient=patient, status=Redemption.Status.ISSUED).values_list("pk", flat=True)
    for redemption_id in issued:
        withdraw_gift_voucher(redemption_id=redemption_id, why="the account was closed")


REWARDS_PART = RecordPart(
    name="rewards",
    order=20,
    relations=("rewards.Redemption.patient",),
    merge=merge,
    facts=facts,
    export=export,
    close=close,
)
