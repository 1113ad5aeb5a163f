from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from loyalty.ledger_check import check_ledger
from practices.models import Practice
from practices.tenancy import practice_context


class Command(BaseCommand):
    help = (
        "Prove that every points balance equals the sum of its ledger entries, that each entry's balance_after "
        "follows from the one before and never goes below zero, and that lifetime earned matches the earning "
        "entries, for every practice (or one). Exits non-zero on any discrepancy."
    )

    def add_arguments(self, parser):
        parser.add_argument("--practice", metavar="SLUG", help="Check only this practice (its slug).")

    def handle(self, *args, **options):
        practices = Practice.objects.exclude(schema_name=settings.PUBLIC_SCHEMA_NAME).order_by("slug")
        if slug := options["practice"]:
            practices = practices.filter(slug=slug)
            if not practices.exists():
                raise CommandError(f"No practice has the slug “{slug}”.")
        found = 0
        for practice in practices:
            with practice_context(practice):
                report = check_ledger()
            self.stdout.write(report.summary())
            for discrepancy in report.discrepancies:
                self.stdout.write(self.style.ERROR(f"  {discrepancy}"))
            found += len(report.discrepancies)
        if found:
            raise CommandError(f"The ledger has {found:,} discrepancies.")
        self.stdout.write(self.style.SUCCESS("Every balance matches its ledger."))
