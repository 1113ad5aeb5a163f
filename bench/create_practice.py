"""Benchmark: how long creating a practice takes (schema cloned from the template, domain, owner).

Creates 20 practices in the configured database, prints each time and the median, then
removes them and their schemas. For comparison it also times one creation that replays every
migration instead of cloning. Run with `make bench` (or `.venv/bin/python bench/create_practice.py`).
Target: median under 1 s on the 2-core reference machine.

`--smoke` creates 2 practices and checks no target: tests/bench runs it so that a change which breaks the
benchmark fails the tests. It leaves out the creation that replays every migration: that is django-tenants'
own migrate (the same the test database's set-up runs for the template schema), and the slowest step by far.
"""

import argparse
import os
import secrets
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

from bench.common import drop_practice  # noqa: E402
from practices.models import Practice  # noqa: E402
from practices.services import create_practice  # noqa: E402

COUNT = 20
SMOKE_COUNT = 2
TARGET_SECONDS = 1.0


def timed_create(slug: str) -> float:
    started = time.perf_counter()
    create_practice(name=f"Bench {slug}", slug=slug, owner_email=f"owner@{slug}.test")
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help=f"{SMOKE_COUNT} practices, no target checked.")
    args = parser.parse_args()
    count = SMOKE_COUNT if args.smoke else COUNT

    call_command("migrate_schemas", interactive=False, verbosity=0)
    run = secrets.token_hex(3)
    slugs = [f"bench-{run}-{i}" for i in range(count)]
    try:
        times = [timed_create(slug) for slug in slugs]
        for slug, seconds in zip(slugs, times, strict=True):
            print(f"{slug:<22} {seconds * 1000:8.1f} ms")

        full = None
        if not args.smoke:
            # The same without the template: every migration replayed.
            base, settings.TENANT_BASE_SCHEMA = settings.TENANT_BASE_SCHEMA, "no_template_schema"
            slugs.append(f"bench-{run}-full")
            try:
                full = timed_create(slugs[-1])
            finally:
                settings.TENANT_BASE_SCHEMA = base
    finally:
        for practice in Practice.objects.filter(slug__in=slugs):
            drop_practice(practice)

    median = statistics.median(times)
    print(
        f"\ncreate_practice x{count}: median {median * 1000:.1f} ms, min {min(times) * 1000:.1f} ms, "
        f"max {max(times) * 1000:.1f} ms (target < {TARGET_SECONDS * 1000:.0f} ms)"
    )
    if args.smoke:
        return 0
    print(f"without the template (all migrations replayed): {full * 1000:.1f} ms")
    return 0 if median < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
