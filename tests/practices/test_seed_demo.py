from django.core.management import call_command
from django_tenants.utils import tenant_context

from accounts.models import User
from practices.demo import DEMO_STAFF
from practices.models import Domain, Practice, StaffMember


def test_seed_demo_is_idempotent_and_its_logins_work(db, capsys):
    call_command("seed_demo", patients=12)
    call_command("seed_demo", patients=12)
    out = capsys.readouterr().out

    practice = Practice.objects.get(slug="demo")
    assert Domain.objects.filter(domain="demo.localhost", tenant=practice).count() == 1
    with tenant_context(practice):
        assert StaffMember.objects.count() == 3
        for login in DEMO_STAFF:
            user = User.objects.get(email=login.email)
            assert user.check_password(login.password)
            assert user.staff_member.role == login.role
            assert login.password in out
        from loyalty.models import CatalogItem, Purchase, Tier
        from patients.models import Patient

        assert Patient.objects.count() == 12
        assert CatalogItem.objects.count() > 10 and Tier.objects.count() == 3
        assert Purchase.objects.exists()
        from rewards.models import Reward

        assert Reward.objects.count() == 5
        assert Patient.objects.filter(terms_accepted_at__isnull=True).count() == 0
