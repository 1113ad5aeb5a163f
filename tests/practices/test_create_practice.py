import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from django_tenants.utils import schema_exists, tenant_context

from accounts.models import User
from practices.models import Domain, Practice, StaffMember
from practices.services import create_practice


def test_it_creates_schema_domain_and_owner(db, capsys):
    call_command("create_practice", name="Glow Spa", slug="glow-spa", owner_email="ann@glow.test")
    out = capsys.readouterr().out

    practice = Practice.objects.get(slug="glow-spa")
    assert practice.schema_name == "p_glow_spa"
    assert schema_exists("p_glow_spa")
    assert Domain.objects.get(tenant=practice).domain == "glow-spa.localhost"
    assert len(practice.invite_code) == 8
    assert "http://glow-spa.localhost:8000/staff/login/" in out
    password = out.split("One-time password:")[1].split()[0]
    with tenant_context(practice):
        owner = User.objects.get(email="ann@glow.test")
        assert owner.check_password(password)
        member = StaffMember.objects.get(user=owner)
        assert member.role == StaffMember.Role.OWNER
        assert member.must_change_password


def test_new_practice_is_cloned_with_migrations_recorded(db):
    practice = create_practice(name="Clone Co", slug="clone-co", owner_email="c@clone.test").practice
    with connection.cursor() as cursor:
        template = settings.TENANT_BASE_SCHEMA  # a setting, not input
        cursor.execute(f"SELECT app, name FROM {template}.django_migrations ORDER BY app, name")  # noqa: S608
        template_migrations = cursor.fetchall()
    with tenant_context(practice), connection.cursor() as cursor:
        cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
        assert cursor.fetchall() == template_migrations
        assert ("loyalty", "0002_ledger_append_only") in template_migrations
        # The clone carries the template's triggers too (the ledger stays append-only).
        cursor.execute(
            "SELECT count(*) FROM information_schema.triggers WHERE trigger_schema = %s"
            " AND event_object_table = 'loyalty_ledgerentry'",
            [practice.schema_name],
        )
        assert cursor.fetchone()[0] >= 1
        # Public-only tables are not copied into a practice's schema.
        cursor.execute(
            "SELECT count(*) FROM information_schema.tables"
            " WHERE table_schema = %s AND table_name = 'practices_practice'",
            [practice.schema_name],
        )
        assert cursor.fetchone()[0] == 0


def test_duplicate_slug_is_refused_and_nothing_is_half_created(alpha):
    connection.set_schema_to_public()
    practices_before = Practice.objects.count()
    domains_before = Domain.objects.count()
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_practice", name="Other", slug="alpha", owner_email="x@other.test")
    assert Practice.objects.count() == practices_before
    assert Domain.objects.count() == domains_before
    with tenant_context(alpha):
        assert not User.objects.filter(email="x@other.test").exists()


@pytest.mark.parametrize("slug", ["A", "no spaces", "-dash", "dash-", "www", "über"])
def test_invalid_slug_is_refused_with_a_clear_message(db, slug):
    with pytest.raises(CommandError, match=r"slug|reserved"):
        call_command("create_practice", name="X", slug=slug, owner_email="x@x.test")
    assert not Practice.objects.filter(name="X").exists()


def test_invalid_owner_email_leaves_no_schema(db):
    with pytest.raises(CommandError, match="not a valid email"):
        call_command("create_practice", name="Bad", slug="bad-email", owner_email="not-an-email")
    assert not Practice.objects.filter(slug="bad-email").exists()
    assert not schema_exists("p_bad_email")
