from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import get_public_schema_name, schema_context

from accounts.models import User
from practices import audit
from practices.models import Practice, StaffMember
from practices.tenancy import practice_context
from practices.two_factor import reset_two_factor


class Command(BaseCommand):
    help = (
        "Reset the two-factor authentication of a staff member (--practice) or a platform operator (--platform) "
        "who lost their phone: their authenticator app and recovery codes are removed, and they set it up "
        "again at their next sign-in. Recorded with --by and --reason."
    )

    def add_arguments(self, parser):
        parser.add_argument("email", help="The account's email.")
        where = parser.add_mutually_exclusive_group(required=True)
        where.add_argument("--practice", metavar="SLUG", help="The staff member's practice.")
        where.add_argument("--platform", action="store_true", help="The account is a platform operator.")
        parser.add_argument("--by", required=True, help="Who is doing this (name or email), for the record.")
        parser.add_argument(
            "--reason", default="", help="Why, for the record, e.g. 'phone lost, identity checked by call'."
        )

    def handle(self, *args, email, practice, platform, by, reason, **options):
        by = by.strip()
        if not by:
            raise CommandError("Say who is doing this with --by, e.g. --by 'Jane Doe <jane@example.com>'.")
        if platform:
            where, context = "the platform", schema_context(get_public_schema_name())
        else:
            found = Practice.objects.filter(slug=practice.strip().lower()).first()
            if found is None or found.is_platform:
                raise CommandError(f"No practice has the slug “{practice}”.")
            where, context = found.name, practice_context(found)
        with context:
            user = User.objects.filter(email__iexact=email.strip()).first()
            if user is None:
                raise CommandError(f"No account at {where} has the email {email}.")
            if platform and not user.is_staff:
                raise CommandError(f"{user.email} is not a platform operator.")
            if not platform and not StaffMember.objects.filter(user=user).exists():
                raise CommandError(f"{user.email} is not a staff member of {where}.")
            done = reset_two_factor(
                user=user, actor=audit.System(f"{by} (manage.py reset_two_factor)"), note=reason.strip()
            )
        if done:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Reset the two-factor authentication of {user.email} at {where}: they sign in with their "
                    "password and set it up again."
                )
            )
        else:
            self.stdout.write(f"{user.email} at {where} has no two-factor authentication: nothing to reset.")
