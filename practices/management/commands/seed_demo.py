from contextlib import contextmanager

from django.core.management.base import BaseCommand
from django.test.utils import override_settings
from django_q.conf import Conf

from practices import demo
from practices.selectors import practice_url, site_url
from practices.services import ensure_platform
from practices.tenancy import practice_context


@contextmanager
def run_tasks_inline():
    previous = Conf.SYNC
    Conf.SYNC = True
    try:
        yield
    finally:
        Conf.SYNC = previous


class Command(BaseCommand):
    help = "Create (or refresh) the demo practice at demo.<BASE_DOMAIN> with its staff and data."

    def add_arguments(self, parser):
        parser.add_argument("--patients", type=int, default=300, help="How many demo patients (default 300).")

    def handle(self, *args, **options):
        from django.conf import settings

        demo.OPTIONS["patients"] = options["patients"]
        ensure_platform()
        practice = demo.ensure_demo_practice()
        # While the history is written (with the clock set to each event), background tasks run at once,
        # so what they do (e.g. referral rewards after a purchase) is dated with the event; the texts
        # they would send stay in memory instead of going to a year of demo patients.
        with practice_context(practice), override_settings(SMS_BACKEND="locmem"), run_tasks_inline():
            for step in demo.DEMO_STEPS:
                step(practice)

        self.stdout.write(self.style.SUCCESS(f"Demo practice ready: {practice.name}"))
        self.stdout.write(f"  Platform page:  {site_url(settings.BASE_DOMAIN, '/')}")
        self.stdout.write(f"  Patient app:    {practice_url(practice, '/')}")
        self.stdout.write(f"  Staff portal:   {practice_url(practice, '/staff/')}")
        self.stdout.write(f"  Invite code:    {practice.invite_code}")
        self.stdout.write("  Demo sign-ins (email / password):")
        for login in demo.DEMO_STAFF:
            self.stdout.write(f"    {login.role:<11} {login.name:<14} {login.email:<22} {login.password}")
