"""What the points engine shows on the patient's home page."""

from .selectors import patient_ledger, points_summary

RECENT_ENTRIES = 5


def home_panel_context(request, patient) -> dict:
    summary = points_summary(patient=patient)
    progress = 0
    if summary.next_tier and summary.next_tier.threshold_points:
        progress = min(100, summary.earned_last_12_months * 100 // summary.next_tier.threshold_points)
    return {
        "summary": summary,
        "value_dollars": f"{summary.value_cents / 100:,.2f}",
        "tier_multiplier": f"{summary.tier.multiplier_percent / 100:g}" if summary.tier else "1",
        "progress_percent": progress,
        "recent": list(patient_ledger(patient=patient)[:RECENT_ENTRIES]),
    }
