import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Development: migrate, seed the demo practice, then serve the web app and the background "
        "worker together. Ctrl-C stops both (and the embedded database, if this started it)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--port", default=os.environ.get("PORT", "8000"))
        parser.add_argument("--host", default="0.0.0.0")

    def handle(self, *args, **options):
        call_command("migrate_schemas", interactive=False, verbosity=0)
        call_command("createcachetable", verbosity=0)
        call_command("seed_demo")

        port = options["port"]
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        # Each child leads its own process group, so stopping it also stops what it started
        # (runserver's autoreloader runs the server in a grandchild).
        children = [
            subprocess.Popen([*manage, "runserver", f"{options['host']}:{port}"], start_new_session=True),
            subprocess.Popen([*manage, "qcluster"], start_new_session=True),
        ]
        self.stdout.write(
            self.style.SUCCESS(
                f"\nServing on http://localhost:{port}/ and http://demo.{settings.BASE_DOMAIN}:{port}/staff/ "
                "(background worker running). Press Ctrl-C to stop."
            )
        )
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping and all(child.poll() is None for child in children):
                time.sleep(0.5)
        finally:
            web, worker = children
            if web.poll() is None:
                os.killpg(web.pid, signal.SIGTERM)  # the autoreloader and the server it runs
            if worker.poll() is None:
                worker.send_signal(signal.SIGINT)  # the cluster stops its own workers
            deadline = time.monotonic() + 15
            for child in children:
                try:
                    child.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    os.killpg(child.pid, signal.SIGKILL)
            if not os.environ.get("DATABASE_URL"):
                from django.db import connections

                from config import embedded_db

                connections.close_all()
                embedded_db.stop(settings.DATA_DIR)
            self.stdout.write("Stopped.")
