"""What people do in the browser, step by step, as the browser tests say it."""

import re

from playwright.sync_api import Page, expect

from loyalty.models import CatalogItem
from patients import sms
from patients.phones import normalize_phone
from practices.models import StaffMember
from tests.factories import STAFF_PASSWORD


def last_code(phone: str) -> str:
    """The 6-digit code last texted to `phone` (the locmem SMS backend keeps what it sends)."""
    to = normalize_phone(phone)
    bodies = [message.body for message in sms.outbox if message.to == to]
    assert bodies, f"no SMS to {to}"
    return re.search(r"\b(\d{6})\b", bodies[-1]).group(1)


def join(page: Page, *, phone: str, first_name: str, last_name: str, birthday: str = "1990-04-21") -> None:
    """Fill in the join page the browser is on (or open it), confirm the texted code, land home."""
    if not re.search(r"/join/(\?.*)?$", page.url):
        page.goto("/join/")
    page.get_by_label("Phone", exact=True).fill(phone)
    page.get_by_label("First name").fill(first_name)
    page.get_by_label("Last name").fill(last_name)
    page.get_by_label("Birthday").fill(birthday)
    page.get_by_label("I accept the practice's rewards program terms").check()
    page.get_by_role("button", name="Text me a code").click()

    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    page.get_by_label("Code", exact=True).fill(last_code(phone))
    page.get_by_role("button", name="Confirm").click()

    expect(page.get_by_role("heading", name=f"Hi {first_name}!")).to_be_visible()
    expect(page).to_have_url(re.compile(r"^[^?#]*://[^/]+/$"))


def staff_sign_in(page: Page, member: StaffMember, *, next_page: str = "/staff/checkout/") -> None:
    """Sign in at /staff/login/ coming from `next_page` (the page a bookmark at the desk would open)."""
    page.goto(f"/staff/login/?next={next_page}")
    page.get_by_label("Email").fill(member.user.email)
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".topbar .who")).to_contain_text(member.get_role_display())
    expect(page).to_have_url(re.compile(rf"^[^?#]*://[^/]+{re.escape(next_page)}$"))


def check_out(page: Page, *, search: str, patient_name: str, item: CatalogItem) -> int:
    """One catalog item for the patient at the desk: find them as their name is typed, type the item and pick it
    from the suggestions, see the points, confirm once.

    Returns the points the receipt says were earned."""
    if "/staff/checkout/" not in page.url:
        page.goto("/staff/checkout/")
    page.wait_for_load_state()  # htmx (a deferred script) listens once the page has loaded
    if "patient=" not in page.url:
        page.get_by_label("Find the patient").fill(search)
        page.locator("#patient-results").get_by_role("link", name=patient_name).click()
    expect(page.get_by_role("heading", name=patient_name)).to_be_visible()

    # Typing a few letters suggests catalog items (htmx); picking one fills the line and asks for the points quote.
    line = page.get_by_role("group", name="Line 1")
    line.get_by_label("Item", exact=True).fill(item.name[:3])
    line.get_by_role("button", name=re.compile(rf"^{re.escape(item.name)}\b")).click()
    expect(page.get_by_role("group", name="Line 1").get_by_label("Item", exact=True)).to_have_value(
        re.compile(rf"^{re.escape(item.name)} · ")
    )
    quote = page.locator("[data-quote-points]")
    expect(quote).to_be_visible()
    quoted = quote.get_attribute("data-quote-points")
    page.get_by_role("button", name="Confirm purchase").click()

    expect(page.get_by_role("heading", name=re.compile(r"^Receipt #\d+$"))).to_be_visible()
    # The receipt pays what the quote promised.
    expect(page.locator(".points-balance").filter(has_text="earned")).to_have_text(f"+{quoted} points earned")
    return int(quoted)
