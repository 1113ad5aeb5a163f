from django.core.management.base import BaseCommand, CommandError

from practices.errors import PracticeError
from practices.selectors import practice_url
from practices.services import create_practice


class Command(BaseCommand):
    help = "Create a practice: its schema, its domain <slug>.<BASE_DOMAIN> and its owner's account."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="The practice's name, e.g. 'Glow Med Spa'.")
        parser.add_argument("--slug", required=True, help="Lowercase letters, digits, hyphens: the host name.")
        parser.add_argument("--owner-email", required=True)
        parser.add_argument("--owner-first-name", default="")
        parser.add_argument("--owner-last-name", default="")
        parser.add_argument("--time-zone", default="America/New_York")

    def handle(self, *args, **options):
        try:
            created = create_practice(
                name=options["name"],
                slug=options["slug"],
                owner_email=options["owner_email"],
                owner_first_name=options["owner_first_name"],
                owner_last_name=options["owner_last_name"],
                time_zone=options["time_zone"],
            )
        except PracticeError as exc:
            raise CommandError(exc.message) from None
        practice = created.practice
        self.stdout.write(self.style.SUCCESS(f"Created {practice.name} (schema {practice.schema_name})."))
        self.stdout.write(f"  Practice invite code: {practice.invite_code}")
        self.stdout.write(f"  Owner sign-in:        {practice_url(practice, '/staff/login/')}")
        self.stdout.write(f"  Email:                {created.owner.email}")
        self.stdout.write(f"  One-time password:    {created.owner_password}  (to be changed at first sign-in)")
