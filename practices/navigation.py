"""The staff portal's navigation. Each section appears once its page exists (its URL name resolves)
and only to staff whose role allows it, so later features add a line here and nothing else.

A line is (label, URL name, lowest role) and optionally a group and a highest role. Sections of one group
("Program", "Settings") share one item of the top bar, which opens the group's first section the member may
see; while one of them is open the group's sections show as a second row. So the bar stays one line at
1280 px whatever the role: the front desk sees its five sections, an owner nine items.
"""

from typing import NamedTuple

from django.urls import NoReverseMatch, reverse

from .models import ROLE_RANK, StaffMember

Role = StaffMember.Role


class Section(NamedTuple):
    label: str
    url_name: str
    role: str  # the lowest role that sees it
    group: str = ""  # sections sharing a group share one item of the top bar
    up_to: str = ""  # the highest role that sees it, if any (the front desk's home differs from a manager's)


STAFF_SECTIONS = [
    ("Desk", "practices:staff_dashboard", Role.FRONT_DESK, "", Role.FRONT_DESK),  # the front desk's home
    ("Dashboard", "practices:staff_dashboard", Role.MANAGER),  # a manager's home: the analytics
    ("Desk", "analytics:desk", Role.MANAGER),
    ("Patients", "patients:staff_patient_list", Role.FRONT_DESK),
    ("Checkout", "loyalty:checkout", Role.FRONT_DESK),
    ("Vouchers", "rewards:voucher_redeem", Role.FRONT_DESK),
    ("Rewards", "rewards:staff_reward_list", Role.MANAGER, "Program"),
    ("Catalog", "loyalty:catalog_list", Role.MANAGER, "Program"),
    ("Tiers", "loyalty:tier_list", Role.MANAGER, "Program"),
    ("Actions", "loyalty:action_list", Role.MANAGER, "Program"),
    ("Campaigns", "loyalty:campaign_list", Role.MANAGER, "Program"),
    ("Adjustments", "loyalty:adjustment_list", Role.MANAGER, "Program"),
    ("Import purchases", "loyalty:purchase_import", Role.MANAGER, "Program"),
    ("Referrals", "referrals:staff_overview", Role.MANAGER),
    ("Leaderboard", "referrals:leaderboard", Role.FRONT_DESK),
    ("Settings", "loyalty:program_settings", Role.OWNER, "Settings"),
    ("Branding", "practices:branding", Role.OWNER, "Settings"),
    ("Team", "practices:team", Role.OWNER, "Settings"),
    ("Security", "practices:security_settings", Role.OWNER, "Settings"),
    ("Audit trail", "practices:audit_trail", Role.OWNER, "Settings"),
]


def _sees(member: StaffMember, section: Section) -> bool:
    if not member.has_role(section.role):
        return False
    return not section.up_to or ROLE_RANK[member.role] <= ROLE_RANK[section.up_to]


def staff_sections(member: StaffMember, current_path: str) -> list[dict]:
    """The items of the top bar for `member`: {"label", "url", "active", "children"}; a group's children are its
    sections (each {"label", "url", "active"}), shown as a second row while the group is active."""
    links = []
    for entry in STAFF_SECTIONS:
        section = Section(*entry)
        if not _sees(member, section):
            continue
        try:
            url = reverse(section.url_name)
        except NoReverseMatch:
            continue
        active = current_path == url if url.rstrip("/") == "/staff" else current_path.startswith(url)
        links.append((section, {"label": section.label, "url": url, "active": active}))
    # One section is current: the most specific (e.g. the leaderboard, inside the referrals pages).
    active_links = sorted((link for _, link in links if link["active"]), key=lambda link: len(link["url"]))
    for link in active_links[:-1]:
        link["active"] = False

    items: list[dict] = []
    groups: dict[str, dict] = {}
    for section, link in links:
        if not section.group:
            items.append({**link, "children": []})
        elif section.group in groups:
            groups[section.group]["children"].append(link)
        else:
            groups[section.group] = {"label": section.group, "url": link["url"], "children": [link]}
            items.append(groups[section.group])
    for item in groups.values():
        item["active"] = any(child["active"] for child in item["children"])
        if len(item["children"]) == 1:  # a group of one is just that section
            item.update(item["children"][0], children=[])
    return items
