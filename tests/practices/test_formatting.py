"""One way to write numbers, money and phone numbers (practices.formatting and its template filters)."""

import re
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.template import Context, Template
from django.utils import timezone
from django_tenants.utils import schema_context

from loyalty.models import LedgerEntry, PointsAccount
from loyalty.services import post_points
from practices.formatting import format_money, format_number, format_phone, format_points, format_signed
from practices.models import Practice
from tests.factories import CatalogItemFactory, PatientFactory, sign_in_staff


def with_currency(practice: Practice, currency: str) -> None:
    """The practice keeps its prices in `currency`, for this test (the row and the instance the test entered)."""
    Practice.objects.filter(pk=practice.pk).update(currency=currency)
    practice.currency = currency


def render(source: str, **context) -> str:
    return Template("{% load formatting %}" + source).render(Context(context))


def test_numbers_have_thousands_separators(alpha):
    assert format_number(262197) == "262,197"
    assert format_number(None) == "—"
    assert format_points(1) == "1 point"
    assert format_points(1310) == "1,310 points"
    assert format_signed(1310) == "+1,310" and format_signed(-15) == "\u221215" and format_signed(0) == "0"


def test_money_is_written_from_cents_in_the_practices_currency(alpha):
    assert format_money(123456) == "$1,234.56"
    assert format_money(-1200) == "\u2212$12.00"
    assert format_money(5000, whole=True) == "$50" and format_money(4950, whole=True) == "$49.50"
    with_currency(alpha, "EUR")
    assert format_money(123456) == "€1,234.56"
    assert render("{{ cents|money }} · {{ cents|money_whole }}", cents=5000) == "€50.00 · €50"


def test_a_task_writes_money_in_its_practices_currency(alpha):
    """Inside a task the connection knows only the schema name: the currency is read from the practice."""
    with_currency(alpha, "GBP")
    with schema_context(alpha.schema_name):
        assert format_money(2500) == "£25.00"


def test_phone_numbers_are_written_in_the_practices_national_format(alpha):
    assert format_phone("+16285550119") == "(628) 555-0119"
    assert format_phone("+442079460018") == "+44 20 7946 0018"
    assert format_phone("") == ""
    assert render("{{ number|phone }}", number="+16285550119") == "(628) 555-0119"


def test_patients_at_risk_show_phones_and_points_as_every_other_page(alpha, alpha_client):
    sign_in_staff(alpha_client, "front_desk")
    patient = PatientFactory(user__first_name="Pia", user__last_name="Risk", user__phone="+16285550119")
    post_points(account_id=patient.points_account.pk, delta=262197, kind=LedgerEntry.Kind.BONUS, note="Welcome")
    PointsAccount.objects.filter(patient=patient).update(expires_at=timezone.now() + timedelta(days=5))

    html = alpha_client.get("/staff/analytics/at-risk/").content.decode()

    assert "(628) 555-0119" in html and "+16285550119" not in html
    assert "262,197" in html and "262197" not in html


def test_the_patient_sees_their_balance_with_separators(alpha, alpha_client):
    patient = PatientFactory(terms_accepted_at=timezone.now())
    post_points(account_id=patient.points_account.pk, delta=1310, kind=LedgerEntry.Kind.BONUS, note="Welcome")
    alpha_client.force_login(patient.user)

    assert "<strong>1,310</strong> points" in alpha_client.get("/").content.decode()
    assert "<strong>1,310</strong> points" in alpha_client.get("/points/").content.decode()


def test_staff_pages_show_prices_in_the_practices_currency(alpha, alpha_client):
    with_currency(alpha, "EUR")
    sign_in_staff(alpha_client, "manager")
    CatalogItemFactory(name="Peel", price_cents=1_250_000)

    html = alpha_client.get("/staff/catalog/").content.decode()

    assert "€12,500.00" in html and "$12,500.00" not in html


# ---------------------------------------------------------------- no page writes a raw amount, number or phone

VARIABLE = re.compile(r"\{\{\s*(.*?)\s*\}\}", re.S)
# Names of values that are amounts or counts: they go through |money, |number, |points... before reaching a page.
NUMERIC_NAME = re.compile(
    r"(?:^|[._])(?:count|points|balance|balance_after|cents|total|signups|visits|qualified|rewarded|rejected|"
    r"reversed|delta|quantity|price|amount|earned|redeemed|issued|outstanding|expired|points_cost|"
    r"points_returned|points_taken|shortfall_points|total_rows)$"
)
FORMATTING_FILTERS = {
    "number", "points", "money", "money_whole", "amount", "phone", "signed", "percent", "trend",
    "pluralize", "length", "yesno", "date", "floatformat",
}  # fmt: skip


def _inside_a_tag(text: str, position: int) -> bool:
    """In an attribute (value="{{ ... }}", max="..."): machine-read, so written plainly."""
    return text.rfind("<", 0, position) > text.rfind(">", 0, position)


def raw_renderings(text: str) -> list[str]:
    found = []
    for match in VARIABLE.finditer(text):
        expression = match.group(1)
        base, *filters = [part.strip() for part in expression.split("|")]
        names = {part.split(":")[0] for part in filters}
        if text[match.start() - 1 : match.start()] in ("$", "€", "£"):
            found.append(f"a currency sign written before {{{{ {expression} }}}}: use |money")
        if text[match.end() : match.end() + 1] == "¢":
            found.append(f"cents written as ¢ after {{{{ {expression} }}}}: use |money")
        if _inside_a_tag(text, match.start()):
            continue
        last = base.split(".")[-1]
        if "phone" in last and not last.endswith("_display") and "phone" not in names:
            found.append(f"a phone number without |phone: {{{{ {expression} }}}}")
        elif NUMERIC_NAME.search(base) and not names & FORMATTING_FILTERS:
            found.append(f"a number without |number (or |money, |points): {{{{ {expression} }}}}")
    return found


def test_the_scan_finds_raw_amounts_numbers_and_phones():
    assert raw_renderings("<td>{{ row.phone }}</td>")
    assert raw_renderings("<p>worth ${{ value }}</p>")
    assert raw_renderings("<p>at {{ settings.point_value_cents }}¢ a point</p>")
    assert raw_renderings("<p>{{ summary.balance }} points</p>")
    assert raw_renderings("<p>{{ purchase.total_cents }}</p>")
    assert not raw_renderings('<td>{{ row.phone|phone|default:"—" }}</td> <p>{{ summary.balance|number }}</p>')
    assert not raw_renderings('<input name="q" value="{{ balance }}"> <progress max="{{ import.total_rows }}">')


def test_no_template_writes_a_raw_amount_number_or_phone():
    problems = []
    for path in sorted(Path(settings.BASE_DIR, "templates").rglob("*.html")):
        problems += [
            f"{path.relative_to(settings.BASE_DIR)}: {problem}" for problem in raw_renderings(path.read_text())
        ]
    assert problems == []
