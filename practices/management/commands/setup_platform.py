from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from practices.errors import PracticeError
from practices.selectors import site_url
from practices.services import ensure_platform, ensure_platform_operator, ensure_platform_schedules


class Command(BaseCommand):
    help = (
        "Set up the platform at BASE_DOMAIN on a migrated database: its own row and domain, the background "
        "schedules and a platform operator. Safe to run again: it only adds what is missing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--domain",
            default=None,
            help="The platform's host; must equal BASE_DOMAIN (the default), which routing relies on.",
        )
        parser.add_argument(
            "--operator-email",
            default=None,
            help="Create a platform operator (superuser) with this email unless an account already uses it.",
        )

    def handle(self, *args, **options):
        try:
            # All or nothing: a refused operator email leaves no half-set-up platform behind.
            with transaction.atomic():
                platform = ensure_platform(domain=options["domain"])
                schedules = ensure_platform_schedules()
                operator = (
                    ensure_platform_operator(email=options["operator_email"]) if options["operator_email"] else None
                )
        except PracticeError as exc:
            raise CommandError(exc.message) from None

        changes = platform.changes + [f"created the schedule “{name}”" for name in schedules]
        if operator is not None and operator.password is not None:
            changes.append(f"created the platform operator {operator.user.email}")
        if changes:
            self.stdout.write(self.style.SUCCESS("Platform set up:"))
            for change in changes:
                self.stdout.write(f"  - {change}")
        else:
            self.stdout.write("Nothing to change: the platform's row, its domain and the schedules were in place.")
        if operator is not None and operator.password is None:
            kind = "a platform operator" if operator.user.is_superuser else "an account that is not an operator"
            self.stdout.write(f"{operator.user.email} is already {kind}: left unchanged.")

        self.stdout.write(f"  Platform page:     {site_url(settings.BASE_DOMAIN, '/')}")
        self.stdout.write(f"  Platform admin:    {site_url(settings.BASE_DOMAIN, '/admin/')}")
        if operator is not None and operator.password is not None:
            self.stdout.write(f"  Operator email:    {operator.user.email}")
            self.stdout.write(
                f"  One-time password: {operator.password}  (shown only now; change it after signing in, "
                f"at {site_url(settings.BASE_DOMAIN, '/admin/password_change/')})"
            )
            self.stdout.write(
                "  Two-factor:        set up at the first sign-in (an authenticator app on the operator's phone)"
            )
