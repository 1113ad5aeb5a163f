"""The staff portal's navigation. Each section appears once its page exists (its URL name resolves)
and only to staff whose role allows it, so later features add a line here and nothing else."""

from django.urls import NoReverseMatch, reverse

from .models import StaffMember

Role = StaffMember.Role

STAFF_SECTIONS = [
    ("Dashboard", "practices:staff_dashboard", Role.FRONT_DESK),
    ("Patients", "patients:staff_patient_list", Role.FRONT_DESK),
    ("Checkout", "loyalty:checkout", Role.FRONT_DESK),
    ("Vouchers", "rewards:voucher_redeem", Role.FRONT_DESK),
    ("Rewards", "rewards:staff_reward_list", Role.MANAGER),
    ("Catalog", "loyalty:catalog_list", Role.MANAGER),
    ("Tiers", "loyalty:tier_list", Role.MANAGER),
    ("Actions", "loyalty:action_list", Role.MANAGER),
    ("Campaigns", "loyalty:campaign_list", Role.MANAGER),
    ("Adjustments", "loyalty:adjustment_list", Role.MANAGER),
    ("Import purchases", "loyalty:purchase_import", Role.MANAGER),
    ("Referrals", "referrals:staff_overview", Role.MANAGER),
    ("Leaderboard", "referrals:leaderboard", Role.FRONT_DESK),
    ("Settings", "loyalty:program_settings", Role.OWNER),
    ("Branding", "practices:branding", Role.OWNER),
    ("Team", "practices:team", Role.OWNER),
    ("Security", "practices:security_settings", Role.OWNER),
    ("Audit trail", "practices:audit_trail", Role.OWNER),
]


def staff_sections(member: StaffMember, current_path: str) -> list[dict]:
    items = []
    for label, url_name, role in STAFF_SECTIONS:
        if not member.has_role(role):
            continue
        try:
            url = reverse(url_name)
        except NoReverseMatch:
            continue
        active = current_path == url if url.rstrip("/") == "/staff" else current_path.startswith(url)
        items.append({"label": label, "url": url, "active": active})
    # One section is current: the most specific (e.g. the leaderboard, inside the referrals pages).
    active_items = sorted((item for item in items if item["active"]), key=lambda item: len(item["url"]))
    for item in active_items[:-1]:
        item["active"] = False
    return items
