from datetime import date, datetime, time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from practices.models import Practice
from practices.selectors import practices_in_service
from practices.tasks import run_daily_job
from practices.tenancy import practice_context


class Command(BaseCommand):
    help = (
        "Run the daily jobs (expiry, birthdays, reminders, tiers, vouchers, analytics) now, in the foreground, "
        "for every active practice or one. Safe to run twice or while the scheduled run is going: a second run "
        "waits for the first and finds nothing left to do. --date re-runs a missed day as of its end."
    )

    def add_arguments(self, parser):
        parser.add_argument("--practice", metavar="SLUG", help="Only this practice.")
        parser.add_argument(
            "--date",
            metavar="YYYY-MM-DD",
            help="Run as of the end of this day in each practice's time zone (a missed day); default now.",
        )

    def handle(self, *args, **options):
        day = _parse_day(options["date"]) if options["date"] else None
        practices = practices_in_service().order_by("slug")
        if options["practice"]:
            practice = Practice.objects.filter(slug=options["practice"]).first()
            if practice is None or practice.is_platform:
                raise CommandError(f"No practice has the slug {options['practice']!r}.")
            if not practices.filter(pk=practice.pk).exists():
                raise CommandError(f"The practice {practice.slug!r} is not active; its jobs do not run.")
            practices = [practice]

        failures = 0
        for practice in practices:
            with practice_context(practice):
                at = _as_of(day)
                for job in settings.PRACTICE_DAILY_JOBS:
                    try:
                        result = run_daily_job(job, at.isoformat())
                    except Exception as exc:  # one failing job or practice must not stop the others
                        failures += 1
                        self.stderr.write(f"{practice.slug}: {job} failed: {type(exc).__name__}: {exc}")
                    else:
                        self.stdout.write(f"{practice.slug}: {job}: {result}")
        if failures:
            raise CommandError(f"{failures} job(s) failed; the others ran. Running the command again is safe.")


def _parse_day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--date must be a date as YYYY-MM-DD, not {value!r}.") from None


def _as_of(day: date | None) -> datetime:
    """The end of `day` in the practice's time zone (the current one; never later than now); now without a day."""
    now = timezone.now()
    if day is None:
        return now
    zone = timezone.get_current_timezone()
    if day > timezone.localdate(now):
        raise CommandError(f"--date {day} is in the future for the practice's time zone ({zone.key}).")
    return min(datetime.combine(day, time.max, tzinfo=zone), now)
