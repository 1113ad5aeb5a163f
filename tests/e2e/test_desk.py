"""The front desk in a real browser: a patient found by typing three letters and checked out from the desk's
page; the pages staff and patients use most, checked by axe-core (no serious or critical problem) and laid
out at 1440 px (one line of navigation, no table cut off, nothing wider than the window)."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from loyalty.models import LedgerEntry, PointsAccount, Purchase
from loyalty.services import LineIn, post_points, record_purchase
from patients.models import Patient
from practices.models import StaffMember
from rewards.services import redeem_reward
from tests.e2e.steps import join, staff_sign_in
from tests.factories import CatalogItemFactory, PatientFactory, RewardFactory, StaffMemberFactory

AXE = "/static/vendor/axe-core-4.14.1/axe.min.js"
WIDE = {"width": 1440, "height": 900}


@pytest.mark.django_db(transaction=True)
def test_the_desk_finds_a_patient_by_typing_three_letters_and_checks_them_out(person):
    botox = CatalogItemFactory(name="Botox", category="Injectables", price_cents=12_000)
    ada = PatientFactory(user__first_name="Ada", user__last_name="Lovelace", user__phone="+16285550142")
    PatientFactory(user__first_name="Grace", user__last_name="Hopper")
    desk = StaffMemberFactory(role=StaffMember.Role.FRONT_DESK, user__first_name="Dana", user__last_name="Desk")

    page = person("front desk")
    staff_sign_in(page, desk, next_page="/staff/")
    page.wait_for_load_state()
    expect(page.get_by_role("heading", name="Front desk")).to_be_visible()

    page.get_by_role("searchbox", name="Name or phone number").press_sequentially("Lov")
    results = page.locator("#desk-results")
    expect(results).to_contain_text("(628) 555-0142")
    expect(results).not_to_contain_text("Grace")
    results.get_by_role("link", name="Check out Ada Lovelace").click()

    expect(page.get_by_role("heading", name="Ada Lovelace")).to_be_visible()
    page.wait_for_load_state()
    line = page.get_by_role("group", name="Line 1")
    line.get_by_label("Item", exact=True).press_sequentially("bot")
    line.get_by_role("button", name=re.compile(r"^Botox\b")).click()
    expect(page.locator("[data-quote-points]")).to_have_attribute("data-quote-points", "120")
    page.get_by_role("button", name="Confirm purchase").click()

    expect(page.get_by_role("heading", name=re.compile(r"^Receipt #\d+$"))).to_be_visible()
    expect(page.locator(".points-balance").filter(has_text="earned")).to_have_text("+120 points earned")
    purchase = Purchase.objects.get(patient=ada)
    assert (purchase.points, purchase.total_cents, purchase.recorded_by) == (120, 12_000, desk.user)
    assert purchase.lines.get().item == botox


# ---------------------------------------------------------------- accessibility and layout


def serious_problems(page: Page) -> list[str]:
    """axe-core's serious and critical findings on the page (loaded from our own static files: the policy
    refuses inline scripts, for this test as for everyone)."""
    page.add_script_tag(url=AXE)
    found = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    return [
        f"{page.url}: {problem['id']} ({problem['impact']}): {problem['help']} — "
        + "; ".join(" ".join(node["target"]) for node in problem["nodes"][:5])
        for problem in found
        if problem["impact"] in ("serious", "critical")
    ]


def layout_problems(page: Page) -> list[str]:
    """At the page's width: the staff navigation on one line, no table scrolled out of view, no sideways scroll."""
    return page.evaluate(
        """() => {
          const problems = [];
          const nav = document.querySelector('.staff-nav > ul');
          if (nav) {
            const tops = new Set([...nav.children].map((item) => Math.round(item.getBoundingClientRect().top)));
            if (tops.size > 1) problems.push(`the navigation wraps onto ${tops.size} lines`);
          }
          for (const box of document.querySelectorAll('.table-wrap')) {
            if (box.scrollWidth > box.clientWidth + 1) {
              const heading = box.closest('section')?.querySelector('h2')?.textContent.trim();
              problems.push(`a table is cut off (${heading}): ${box.scrollWidth} > ${box.clientWidth} px`);
            }
          }
          if (document.documentElement.scrollWidth > window.innerWidth) problems.push('the page scrolls sideways');
          return problems.map((problem) => `${location.pathname}: ${problem}`);
        }"""
    )


def history_for_the_pages() -> Patient:
    """A little of everything the dashboard and the patient pages show: purchases, a reward, a voucher, points
    at risk. Returns a patient with a voucher ready to use."""
    item = CatalogItemFactory(name="Facial", category="Skin", price_cents=15_000)
    reward = RewardFactory(name="Free peel", points_cost=100)
    vera = PatientFactory(user__first_name="Vera", user__last_name="Voucher", user__phone="+16285550150")
    for number in range(3):
        someone = PatientFactory(user__first_name=f"Pat{number}", user__last_name="Smith")
        record_purchase(patient=someone, lines=[LineIn(quantity=1, unit_price_cents=15_000, item=item)], source="desk")
    post_points(account_id=vera.points_account.pk, delta=262_197, kind=LedgerEntry.Kind.BONUS, note="Welcome")
    PointsAccount.objects.filter(patient=vera).update(expires_at=timezone.now() + timedelta(days=5))
    redeem_reward(patient=vera, reward=reward)
    return vera


@pytest.mark.django_db(transaction=True)
def test_the_busiest_pages_have_no_serious_accessibility_problems_and_fit_1440_px(person, tmp_path):
    history_for_the_pages()
    owner = StaffMemberFactory(role=StaffMember.Role.OWNER, user__first_name="Olive", user__last_name="Owner")
    desk = StaffMemberFactory(role=StaffMember.Role.FRONT_DESK, user__first_name="Dana", user__last_name="Desk")
    problems: list[str] = []

    def check(page: Page, path: str, *, layout: bool = True) -> None:
        page.goto(path)
        page.wait_for_load_state("networkidle")
        page.screenshot(path=tmp_path / f"{len(problems)}-{re.sub(r'[^a-z0-9]+', '-', path)}.png", full_page=True)
        problems.extend(serious_problems(page))
        if layout:
            problems.extend(layout_problems(page))

    owner_page = person("owner")
    owner_page.set_viewport_size(WIDE)
    staff_sign_in(owner_page, owner, next_page="/staff/")
    check(owner_page, "/staff/")  # the dashboard
    check(owner_page, "/staff/catalog/")  # a page of a group: the second row of the navigation

    desk_page = person("front desk")
    desk_page.set_viewport_size(WIDE)
    staff_sign_in(desk_page, desk, next_page="/staff/")
    check(desk_page, "/staff/?q=smi")  # the desk, with patients found
    check(desk_page, "/staff/vouchers/")
    check(desk_page, "/staff/vouchers/list/")

    patient_page = person("patient")
    check(patient_page, "/join/", layout=False)
    join(patient_page, phone="(628) 555-0177", first_name="Pia", last_name="Patient")
    joined = Patient.objects.get(user__phone="+16285550177")
    post_points(account_id=joined.points_account.pk, delta=500, kind=LedgerEntry.Kind.BONUS, note="Welcome")
    voucher = redeem_reward(patient=joined, reward=RewardFactory(name="Free facial", points_cost=200))
    for path in ("/", "/rewards/", "/vouchers/", f"/vouchers/{voucher.pk}/"):
        check(patient_page, path, layout=False)

    assert problems == [], "\n".join(problems) + f"\nScreenshots: {tmp_path}"
