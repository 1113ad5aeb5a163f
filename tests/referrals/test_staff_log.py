"""The referral activity log (managers and owners): filters, summary counts, CSV export, roles, isolation."""

import csv
import io
from datetime import UTC, datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from loyalty.services import LineIn, record_purchase
from practices import audit
from referrals import services
from referrals.codes import code_for_patient, code_for_staff
from referrals.models import Partner, Referral
from tests.factories import PatientFactory, sign_in_staff

SETUP = audit.System("test setup")  # data the test starts from


@pytest.fixture
def manager(alpha, alpha_client):
    return sign_in_staff(alpha_client, role="manager", first_name="Mia", last_name="Manager")


@pytest.fixture
def jane(alpha):
    return PatientFactory(user__first_name="Jane", user__last_name="Referrer")


def join(code: str, source: str = "qr", **names) -> Referral:
    friend = PatientFactory(**{f"user__{key}": value for key, value in names.items()})
    return services.record_signup(patient=friend, code=code, source=source)


def qualify_and_reward(referral: Referral) -> Referral:
    purchase, _ = record_purchase(
        patient=referral.referred,
        lines=[LineIn(quantity=1, unit_price_cents=12_000, name="Facial", category="Skin")],
        source="desk",
    )
    services.qualify(purchase_id=purchase.pk)
    services.issue_rewards(referral_id=referral.pk)
    referral.refresh_from_db()
    return referral


def log(client, **params) -> str:
    response = client.get("/staff/referrals/", params)
    assert response.status_code == 200
    return response.content.decode()


def test_the_log_shows_code_owner_friend_status_source_and_rewards(manager, alpha_client, jane):
    code = code_for_patient(jane)
    rewarded = qualify_and_reward(join(code.code, first_name="Fred", last_name="Friend"))

    page = log(alpha_client)

    assert code.code in page
    assert f'href="/staff/patients/{jane.pk}/">Jane Referrer</a>' in page
    assert f'href="/staff/patients/{rewarded.referred_id}/">Fred Friend</a>' in page
    assert "Rewarded" in page
    assert "QR code" in page
    assert "New patient: 250 points" in page
    assert "Referrer: 500 points" in page


def test_a_rejected_referral_shows_its_reason(manager, alpha_client):
    join("NOPE777", source="code", first_name="Rita")

    page = log(alpha_client)

    assert "NOPE777" in page
    assert "Unknown code" in page
    assert "The code is unknown" in page


def test_filters_by_status_owner_kind_source_and_search(manager, alpha_client, jane):
    patient_code = code_for_patient(jane)
    staff_code = code_for_staff(manager)
    join(patient_code.code, source="qr", first_name="Quinn")
    join(staff_code.code, source="link", first_name="Lena")
    join("NOPE777", source="code", first_name="Rita")

    by_status = log(alpha_client, status="rejected")
    assert "Rita" in by_status and "Quinn" not in by_status and "Lena" not in by_status

    by_owner = log(alpha_client, owner_kind="staff")
    assert "Lena" in by_owner and "Quinn" not in by_owner

    unknown = log(alpha_client, owner_kind="none")
    assert "Rita" in unknown and "Lena" not in unknown

    by_source = log(alpha_client, source="qr")
    assert "Quinn" in by_source and "Lena" not in by_source

    by_code = log(alpha_client, q=patient_code.code.lower())
    assert "Quinn" in by_code and "Lena" not in by_code

    by_owner_name = log(alpha_client, q="mia")
    assert "Lena" in by_owner_name and "Quinn" not in by_owner_name


def test_dates_filter_by_the_sign_up_day_in_the_practice_time_zone(manager, alpha_client, jane):
    code = code_for_patient(jane)
    # 03:30 UTC on May 2 is still May 1 in New York.
    with time_machine.travel(datetime(2025, 5, 2, 3, 30, tzinfo=UTC), tick=False):
        join(code.code, first_name="Early")
    with time_machine.travel(datetime(2025, 5, 2, 14, 0, tzinfo=UTC), tick=False):
        join(code.code, first_name="Later")

    may_first = log(alpha_client, since="2025-05-01", until="2025-05-01")
    may_second = log(alpha_client, since="2025-05-02")

    assert "Early" in may_first and "Later" not in may_first
    assert "Later" in may_second and "Early" not in may_second


def test_an_end_date_before_the_start_is_explained(manager, alpha_client):
    page = log(alpha_client, since="2025-05-02", until="2025-05-01")

    assert "The end date must be on or after the start date." in page


def test_the_summary_counts_the_filtered_referrals(manager, alpha_client, jane):
    code = code_for_patient(jane)
    qualify_and_reward(join(code.code))
    join(code.code)
    join("NOPE777")

    page = log(alpha_client)
    assert "<strong>2</strong> <span>sign-ups with a code</span>" in page
    assert "<strong>1</strong> <span>qualified (incl. rewarded)</span>" in page
    assert "<strong>1</strong> <span>rewarded</span>" in page
    assert "<strong>1</strong> <span>not counted</span>" in page

    only_rejected = log(alpha_client, status="rejected")
    assert "<strong>0</strong> <span>sign-ups with a code</span>" in only_rejected
    assert "<strong>1</strong> <span>not counted</span>" in only_rejected


def test_the_csv_export_has_the_filtered_rows(manager, alpha_client, jane):
    code = code_for_patient(jane)
    partner = services.save_partner(partner=Partner(name="=Glow Studio"), actor=SETUP)
    rewarded = qualify_and_reward(join(code.code, first_name="Fred", last_name="Friend"))
    join(partner.referral_code.code, source="link", first_name="Paula", last_name="Partnered")
    join("NOPE777", first_name="Rita")

    response = alpha_client.get("/staff/referrals/", {"format": "csv", "status": "rewarded"})

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="referrals-alpha-')
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:6] == ["Referral", "Joined", "Code", "Owner kind", "Owner", "Referred patient"]
    assert len(rows) == 2
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["Referral"] == str(rewarded.pk)
    assert row["Code"] == code.code
    assert (row["Owner kind"], row["Owner"]) == ("Patient", "Jane Referrer")
    assert row["Referred patient"] == "Fred Friend"
    assert row["Status"] == "Rewarded"
    assert row["Source"] == "QR code"
    assert row["Qualified"] and row["Rewarded"] and not row["Reversed"]
    assert row["Rewards"] == "New patient: 250 points; Referrer: 500 points"

    everything = alpha_client.get("/staff/referrals/", {"format": "csv"})
    all_rows = list(csv.reader(io.StringIO(b"".join(everything.streaming_content).decode())))
    assert len(all_rows) == 4
    partner_row = next(r for r in all_rows if r[5] == "Paula Partnered")
    # A name that starts like a spreadsheet formula is quoted, so opening the file runs nothing.
    assert partner_row[4] == "'=Glow Studio"
    assert next(r for r in all_rows if r[5].startswith("Rita"))[8] == "The code is unknown"


def test_the_log_pages_through_many_referrals(manager, alpha_client, jane):
    code = code_for_patient(jane)
    for _ in range(51):
        join(code.code)

    first, second = log(alpha_client), log(alpha_client, page=2)

    assert "51 referrals" in first
    assert "Page 1 of 2" in first and 'page=2" rel="next"' in first
    assert second.count('<tr id="referral-') == 1


def test_an_empty_log_explains_itself(manager, alpha_client):
    page = log(alpha_client)

    assert "No referrals yet" in page
    assert "No match" in log(alpha_client, status="rewarded")


def test_the_front_desk_cannot_open_the_log_or_export_it(alpha, alpha_client):
    sign_in_staff(alpha_client, role="front_desk")

    assert alpha_client.get("/staff/referrals/").status_code == 403
    assert alpha_client.get("/staff/referrals/", {"format": "csv"}).status_code == 403


def test_the_log_appears_in_the_managers_navigation(manager, alpha_client):
    page = log(alpha_client)

    assert '<a href="/staff/referrals/" aria-current="page">Referrals</a>' in page


def test_another_practice_never_sees_alphas_referrals(alpha, beta, beta_client, jane):
    code = code_for_patient(jane)
    join(code.code, first_name="Alphonse")

    with tenant_context(beta):
        sign_in_staff(beta_client, role="manager")
        page = beta_client.get("/staff/referrals/").content.decode()
        export = b"".join(beta_client.get("/staff/referrals/", {"format": "csv"}).streaming_content).decode()

    assert "Alphonse" not in page and code.code not in page
    assert "No referrals yet" in page
    assert "Alphonse" not in export and len(export.splitlines()) == 1


def test_the_log_makes_the_same_queries_however_many_referrals(manager, alpha_client, jane):
    code = code_for_patient(jane)
    staff_code = code_for_staff(manager)
    partner_code = services.save_partner(partner=Partner(name="Glow Studio"), actor=SETUP).referral_code
    qualify_and_reward(join(code.code))

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            log(alpha_client)
        return len(captured)

    few = queries()
    for owner_code in (code, staff_code, partner_code):
        qualify_and_reward(join(owner_code.code))
        join(owner_code.code)
    join("NOPE777")

    assert queries() == few
