"""The staff pages that change a patient's record: editing it (front desk and above, audited, a new email
confirmed by its link) and merging two records (managers and owners, refused with the reasons shown)."""

import pytest
from allauth.account.models import EmailAddress
from django.core import mail

from accounts.models import AuditEvent
from loyalty.ledger_check import check_ledger
from loyalty.models import PointsAccount
from loyalty.services import LineIn, record_purchase
from patients.models import Activity, Patient
from practices.models import StaffMember
from referrals.codes import code_for_patient
from referrals.services import record_signup
from tests.factories import CatalogItemFactory, PatientFactory, sign_in_staff

Role = StaffMember.Role


def patient(first="Ada", last="Lovelace", **fields):
    return PatientFactory(user__first_name=first, user__last_name=last, **fields)


def edit_data(**overrides) -> dict:
    data = {
        "first_name": "Ada",
        "last_name": "King",
        "email": "",
        "birthday": "1985-12-10",
        "external_id": "EMR-77",
        "notes": "Prefers mornings.",
    }
    return data | overrides


def buy(person, cents: int) -> None:
    item = CatalogItemFactory(price_cents=cents)
    record_purchase(patient=person, lines=[LineIn(quantity=1, unit_price_cents=cents, item=item)], source="desk")


# ---------------------------------------------------------------- editing


def test_the_desk_corrects_a_record_and_the_change_is_audited(alpha, alpha_client):
    desk = sign_in_staff(alpha_client)
    ada = patient()

    response = alpha_client.post(f"/staff/patients/{ada.pk}/edit/", edit_data())

    assert response.url == f"/staff/patients/{ada.pk}/"
    ada.refresh_from_db()
    ada.user.refresh_from_db()
    assert (ada.user.last_name, str(ada.birthday), ada.external_id, ada.notes) == (
        "King",
        "1985-12-10",
        "EMR-77",
        "Prefers mornings.",
    )
    page = alpha_client.get(response.url).content.decode()
    assert "Prefers mornings." in page and "Updated last name, birthday, id in your system, notes" in page
    event = AuditEvent.objects.get(action="patient.updated")
    assert event.actor == desk.user and event.target_id == str(ada.pk)
    assert event.before == {"last_name": "Lovelace", "birthday": None, "external_id": "", "notes": ""}
    assert event.after["last_name"] == "King" and event.after["birthday"] == "1985-12-10"


def test_a_new_email_waits_for_its_link(alpha, alpha_client):
    sign_in_staff(alpha_client)
    ada = patient(user__email="ada@old.test")

    alpha_client.post(f"/staff/patients/{ada.pk}/edit/", edit_data(email="ada@new.test"))

    ada.user.refresh_from_db()
    assert ada.user.email == "ada@old.test"
    assert EmailAddress.objects.filter(user=ada.user, email="ada@new.test", verified=False).exists()
    assert mail.outbox[-1].to == ["ada@new.test"]
    assert AuditEvent.objects.get(action="patient.updated").after["email_to_confirm"] == "ada@new.test"


def test_removing_the_email_is_one_timeline_line_under_the_staff_member(alpha, alpha_client):
    desk = sign_in_staff(alpha_client)
    ada = patient(user__email="ada@old.test")

    alpha_client.post(f"/staff/patients/{ada.pk}/edit/", edit_data(last_name="Lovelace", email=""))

    ada.user.refresh_from_db()
    assert ada.user.email is None
    (line,) = Activity.objects.filter(patient=ada, kind=Activity.Kind.PROFILE_UPDATED)
    assert (line.summary, line.actor) == ("Updated birthday, id in your system, notes, email (removed)", desk.user)


def test_an_email_another_account_uses_is_refused(alpha, alpha_client):
    sign_in_staff(alpha_client)
    patient("Grace", "Hopper", user__email="grace@navy.test")
    ada = patient()

    page = alpha_client.post(f"/staff/patients/{ada.pk}/edit/", edit_data(email="Grace@navy.test")).content.decode()

    assert "Another account already uses this email address." in page
    assert not AuditEvent.objects.exists()


def test_saving_without_changes_records_nothing(alpha, alpha_client):
    sign_in_staff(alpha_client)
    ada = patient(birthday="1985-12-10", external_id="EMR-77", notes="Prefers mornings.")
    ada.user.last_name = "King"
    ada.user.save()

    alpha_client.post(f"/staff/patients/{ada.pk}/edit/", edit_data())

    assert not AuditEvent.objects.exists()
    assert not Activity.objects.filter(kind=Activity.Kind.PROFILE_UPDATED).exists()


def test_a_future_birthday_is_refused(alpha, alpha_client):
    sign_in_staff(alpha_client)
    ada = patient()

    page = alpha_client.post(f"/staff/patients/{ada.pk}/edit/", edit_data(birthday="2999-01-01")).content.decode()

    assert "A birthday can&#x27;t be in the future." in page


# ---------------------------------------------------------------- merging


def test_a_manager_merges_two_records_from_the_patient_page(alpha, alpha_client):
    sign_in_staff(alpha_client, role=Role.MANAGER)
    kept, merged = patient("Ada", "Lovelace"), patient("Ada", "Byron", user__phone="+14155550142")
    buy(kept, 10_000)
    buy(merged, 25_000)

    search = alpha_client.get(f"/staff/patients/{kept.pk}/merge/", {"q": "Byron"}).content.decode()
    assert f"/staff/patients/{kept.pk}/merge/{merged.pk}/" in search
    compare = alpha_client.get(f"/staff/patients/{kept.pk}/merge/{merged.pk}/").content.decode()
    assert "(415) 555-0142" in compare and "250" in compare and "can&#x27;t be merged" not in compare
    assert "Nobody can refer themselves" not in compare and "A merge cannot be undone." in compare
    response = alpha_client.post(f"/staff/patients/{kept.pk}/merge/{merged.pk}/")

    assert response.url == f"/staff/patients/{kept.pk}/"
    assert PointsAccount.objects.get(patient=kept).balance == 350
    assert check_ledger().is_consistent
    kept_page = alpha_client.get(response.url).content.decode()
    assert f"Ada Byron (#{merged.pk}) was merged into this record." in kept_page
    assert "Its number, (415) 555-0142, is free now" in kept_page
    merged_page = alpha_client.get(f"/staff/patients/{merged.pk}/").content.decode()
    assert "This record was merged into" in merged_page and "Merged into the record Ada Lovelace" in merged_page


def test_the_merge_page_shows_why_two_records_cannot_be_merged(alpha, alpha_client):
    sign_in_staff(alpha_client, role=Role.OWNER)
    ada, ben = patient("Ada"), patient("Ben")
    record_signup(patient=ben, code=code_for_patient(ada).code)

    page = alpha_client.get(f"/staff/patients/{ada.pk}/merge/{ben.pk}/").content.decode()
    posted = alpha_client.post(f"/staff/patients/{ada.pk}/merge/{ben.pk}/", follow=True).content.decode()

    for shown in (page, posted):
        assert "Nobody can refer themselves" in shown
    assert "Merge into #" not in page
    assert Patient.objects.get(pk=ben.pk).status == Patient.Status.ACTIVE


def test_the_front_desk_cannot_merge(alpha, alpha_client):
    sign_in_staff(alpha_client, role=Role.FRONT_DESK)
    ada, ben = patient("Ada"), patient("Ben")

    assert alpha_client.get(f"/staff/patients/{ada.pk}/merge/").status_code == 403
    assert alpha_client.post(f"/staff/patients/{ada.pk}/merge/{ben.pk}/").status_code == 403
    assert "Merge with another record" not in alpha_client.get(f"/staff/patients/{ada.pk}/").content.decode()
    assert Patient.objects.get(pk=ben.pk).status == Patient.Status.ACTIVE


@pytest.mark.parametrize("path", ["edit/", "phone/"])
def test_an_archived_record_is_not_changed(alpha, alpha_client, path):
    sign_in_staff(alpha_client)
    gone = patient(status=Patient.Status.ARCHIVED)

    response = alpha_client.post(f"/staff/patients/{gone.pk}/{path}", edit_data() | {"phone": "+14155550177"})

    assert response.url == f"/staff/patients/{gone.pk}/"
    gone.user.refresh_from_db()
    assert gone.user.last_name == "Lovelace"
