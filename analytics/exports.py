"""Every dashboard table as CSV rows. Money tables need a manager or owner; in the other tables money
columns only appear when the selectors were asked for money."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from loyalty.models import LedgerEntry

from . import selectors
from .selectors import ISSUING_KINDS, Scope

EXPORTED_ACTIVITY_LIMIT = 5000


def _dollars(cents: int | None) -> str:
    return "" if cents is None else f"{cents / 100:.2f}"


def _percent(fraction: float | None) -> str:
    return "" if fraction is None else f"{fraction * 100:.1f}"


def _local(moment: datetime | None, scope: Scope) -> str:
    return timezone.localtime(moment, scope.period.zone).strftime("%Y-%m-%d %H:%M") if moment else ""


Rows = tuple[list[str], list[list]]


def members_table(s: Scope, with_money: bool) -> Rows:
    data = selectors.members(s)
    rows = [[point["label"], point["new"], point["active"], point["members"]] for point in data["series"]]
    return ["period", "new_members", "active_members", "members_by_then"], rows


def points_table(s: Scope, with_money: bool) -> Rows:
    data = selectors.points(s)
    previous = data["previous"]
    rows = [
        [
            f"issued: {LedgerEntry.Kind(kind).label.lower()}",
            data["issued_by_kind"][kind],
            previous["issued_by_kind"][kind],
        ]
        for kind in ISSUING_KINDS
    ]
    rows += [[label, data[key], previous[key]] for label, key in [
        ("issued", "issued"), ("redeemed (net of cancellations)", "redeemed"), ("expired", "expired"),
        ("taken back", "taken_back"), ("net change", "net"),
    ]]  # fmt: skip
    rows += [
        ["redemption rate (%)", _percent(data["redemption_rate"]), _percent(previous["redemption_rate"])],
        ["breakage (%)", _percent(data["breakage"]), _percent(previous["breakage"])],
    ]
    return ["measure", "this_period", "previous_period"], rows


def liability_table(s: Scope, with_money: bool) -> Rows:
    data = selectors.liability(s)
    rows = [
        ["start of the period", data["points_at_start"], _dollars(data["cents_at_start"])],
        ["end of the period", data["points"], _dollars(data["cents"])],
    ]
    return ["when", "points", "dollars"], rows


def revenue_table(s: Scope, with_money: bool) -> Rows:
    data = selectors.revenue(s)
    rows = []
    for label, figures in [("this period", data), ("previous period", data["previous"])]:
        for group in ["all", "referred"]:
            totals = figures[group]
            rows.append([
                label, "all patients" if group == "all" else "referred patients", totals.purchases,
                _dollars(totals.spend_cents), totals.refunds, _dollars(totals.refund_cents), _dollars(totals.net_cents),
            ])  # fmt: skip
    header = ["period", "patients", "purchases", "spend_dollars", "refunds", "refunded_dollars", "net_dollars"]
    return header, rows


def rewards_table(s: Scope, with_money: bool) -> Rows:
    data = selectors.rewards(s)
    keys = ["issued", "issued_previous", "points", "used", "cancelled", "expired", "outstanding"]
    rows = [[row["name"], "no", *(row[key] for key in keys)] for row in data["rows"]]
    rows += [[row["name"], "yes", *(row[key] for key in keys)] for row in data["gifts"]]
    header = ["reward", "gift", "redeemed", "redeemed_previous_period", "points_spent", "used", "cancelled",
              "expired", "outstanding_now"]  # fmt: skip
    return header, rows


def _funnel_table(s: Scope, with_money: bool, group: str) -> Rows:
    data = selectors.referrals(s, with_money=with_money)
    header = [group, "visits", "signups", "qualified", "rewarded", "rejected"]
    if with_money:
        header.append("revenue_dollars")
    rows = []
    for row in [*data[f"by_{group}"], {"label": "Total", **data["total"]}]:
        line = [row["label"], row["visits"], row["signups"], row["qualified"], row["rewarded"], row["rejected"]]
        if with_money:
            line.append(_dollars(row["revenue_cents"]))
        rows.append(line)
    return header, rows


def referrals_table(s: Scope, with_money: bool) -> Rows:
    return _funnel_table(s, with_money, "owner")


def referral_sources_table(s: Scope, with_money: bool) -> Rows:
    return _funnel_table(s, with_money, "source")


def retention_table(s: Scope, with_money: bool) -> Rows:
    data = selectors.retention(s, with_money=with_money)
    header = ["when", "patients", "repeat_patients", "repeat_rate_percent", "visits", "visits_per_patient"]
    if with_money:
        header += ["spend_dollars", "spend_per_visit_dollars"]
    rows = []
    for label, key in [("before joining", "before"), ("as members", "member")]:
        row = data[key]
        per_patient = "" if row["visits_per_patient"] is None else f"{row['visits_per_patient']:.2f}"
        line = [
            label,
            row["patients"],
            row["repeat_patients"],
            _percent(row["repeat_rate"]),
            row["visits"],
            per_patient,
        ]
        if with_money:
            line += [_dollars(row["spend_cents"]), _dollars(row["spend_per_visit_cents"])]
        rows.append(line)
    return header, rows


def at_risk_table(s: Scope, with_money: bool) -> Rows:
    data = selectors.at_risk(now=s.now, limit=None)
    yes = {True: "yes", False: "no"}
    rows = [
        [
            row["patient_id"], row["name"], row["phone"], row["balance"], _local(row["expires_at"], s),
            _local(row["last_purchase_at"], s), yes[row["is_expiring"]], yes[row["is_lapsed"]],
        ]
        for row in data["rows"]
    ]  # fmt: skip
    header = ["patient_id", "name", "phone", "points", "points_expire", "last_purchase", "expiring_within_30_days",
              "no_purchase_for_6_months"]  # fmt: skip
    return header, rows


def top_earners_table(s: Scope, with_money: bool) -> Rows:
    rows = [
        [rank, row["patient_id"], row["name"], row["points"], row["balance"], row["tier"]]
        for rank, row in enumerate(selectors.top_earners(s, limit=selectors.RANKING_DEPTH), start=1)
    ]
    return ["rank", "patient_id", "name", "points_earned", "balance_now", "tier"], rows


def activity_table(s: Scope, with_money: bool) -> Rows:
    activities = selectors.recent_activity(limit=EXPORTED_ACTIVITY_LIMIT, period=s.period)
    rows = [
        [
            _local(activity.created_at, s), activity.patient_id, str(activity.patient), activity.get_kind_display(),
            activity.summary, (activity.actor.get_full_name() or activity.actor.email) if activity.actor else "",
        ]
        for activity in activities
    ]  # fmt: skip
    return ["when", "patient_id", "patient", "what", "summary", "staff_member"], rows


@dataclass(frozen=True)
class Table:
    title: str
    build: Callable[[Scope, bool], Rows]
    # Only money (liability, revenue): managers and owners only.
    is_money: bool = False


TABLES = {
    "members": Table("Members over time", members_table),
    "points": Table("Points", points_table),
    "liability": Table("Outstanding liability", liability_table, is_money=True),
    "revenue": Table("Revenue", revenue_table, is_money=True),
    "rewards": Table("Rewards", rewards_table),
    "referrals": Table("Referrals by who referred", referrals_table),
    "referral_sources": Table("Referrals by source", referral_sources_table),
    "retention": Table("Retention", retention_table),
    "at_risk": Table("Patients at risk", at_risk_table),
    "top_earners": Table("Top earners", top_earners_table),
    "activity": Table("Recent activity", activity_table),
}


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _cell(value):
    # Text starting with =, +, - or @ is a formula to a spreadsheet: names and notes are kept as text.
    if isinstance(value, str) and value[:1] in "=+-@" and not _is_number(value):
        return f"'{value}"
    return value


def to_csv(header: list[str], rows: list[list]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(value) for value in row])
    return out.getvalue()
