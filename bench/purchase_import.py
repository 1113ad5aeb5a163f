"""Benchmark: a year of purchase history imported from CSV, as the staff import page does it.

Creates a practice of its own (practices.services.create_practice), bulk-seeds 5,000 patients (phone numbers and
the practice's member codes, points accounts) and 20 catalog items, writes a CSV of 60,000 purchases over the last
365 days (one or two lines each, in date order, the columns of loyalty.purchase_import.COLUMNS: patients named by
phone or member code, lines by catalog id or by name and price), and imports it through
`loyalty.purchase_import.import_purchases(data=..., actor=...)` in the practice, as loyalty/views_import.py does
(the file's bytes, the signed-in staff member as actor). It prints the wall time, purchases/s and rows/s, checks
what was stored (every purchase recorded once, none refused), and drops the practice.

While the importer takes at most `purchase_import.MAX_ROWS` rows a file, the history is cut into files of at most
that many rows (a purchase's rows stay together), imported one after another as staff would, and the time is the
sum.

Run: `make bench-import` (or `.venv/bin/python bench/purchase_import.py`), against the embedded PostgreSQL or
DATABASE_URL. `--purchases` and `--patients` change the size. Target on the 2-core reference machine: the whole
year (60,000 purchases) in under 60 s.

`--smoke` imports 30 purchases for 20 patients and checks no target, only that every purchase was recorded:
tests/bench runs it so that a change which breaks the benchmark fails the tests.
"""

import argparse
import csv
import io
import os
import random
import secrets
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.contrib.auth.hashers import make_password  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Sum  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import User  # noqa: E402
from bench.common import drop_practice, stop_embedded_database_if_started_here  # noqa: E402
from loyalty import purchase_import  # noqa: E402
from loyalty.forms_import import PurchaseImportForm  # noqa: E402
from loyalty.models import CatalogItem, LedgerEntry, PointsAccount, Purchase, PurchaseLine, Tier  # noqa: E402
from patients.models import Patient  # noqa: E402
from practices.models import Practice  # noqa: E402
from practices.services import create_practice  # noqa: E402
from practices.tenancy import practice_context  # noqa: E402

PATIENTS = 5_000
PURCHASES = 60_000
SMOKE_PATIENTS = 20
SMOKE_PURCHASES = 30
ITEMS = 20
DAYS = 365
CATEGORIES = ["Injectables", "Facials", "Laser", "Skincare"]
TARGET_SECONDS = 60


def seed(practice: Practice, patients_count: int) -> list[dict]:
    """Tiers, catalog items, patients with points accounts; returns the patients as the CSV names them."""
    with practice_context(practice):
        Tier.objects.bulk_create(
            [
                Tier(name="Silver", threshold_points=1_000, multiplier_percent=110),
                Tier(name="Gold", threshold_points=5_000, multiplier_percent=125),
            ]
        )
        CatalogItem.objects.bulk_create(
            CatalogItem(
                name=f"Treatment {i}",
                category=CATEGORIES[i % len(CATEGORIES)],
                price_cents=random.randrange(5_000, 60_000, 500),
                external_id=f"SKU-{i}",
                earning=CatalogItem.Earning.FIXED if i % 5 == 4 else CatalogItem.Earning.PER_DOLLAR,
                fixed_points=50,
            )
            for i in range(ITEMS)
        )
        # Valid US mobile numbers (the fictional 555-01xx range is too small), E.164 as the importer stores them.
        phones = [f"+1415555{n:04d}" for n in range(1_000, 1_000 + patients_count)]
        unusable = make_password(None)
        users = User.objects.bulk_create(
            User(phone=phone, first_name="Bench", last_name=f"Patient {i}", password=unusable)
            for i, phone in enumerate(phones)
        )
        joined = timezone.now() - timedelta(days=DAYS + 30)
        patients = Patient.objects.bulk_create(
            Patient(user=user, status="active", joined_at=joined, external_id=f"M{i:05d}")
            for i, user in enumerate(users)
        )
        # bulk_create sends no post_save, so the accounts every patient has are made here.
        PointsAccount.objects.bulk_create(PointsAccount(patient=patient) for patient in patients)
    return [
        {"phone": user.phone, "member_code": patient.external_id} for user, patient in zip(users, patients, strict=True)
    ]


def history(patients: list[dict], count: int, run: str) -> list[list[list[str]]]:
    """`count` purchases over the last year, in date order: each a list of CSV rows (one per line).

    Patients are named by phone (in the national format a POS export often uses) or by member code; a line is a
    catalog item by its POS id (at the catalog price, or at a discounted price), or an item by name and price.
    """
    now = timezone.localtime()  # in the practice's time zone, as the importer reads the dates
    times = sorted(now - timedelta(seconds=random.randint(3_600, DAYS * 86_400)) for _ in range(count))
    purchases = []
    for number, at in enumerate(times, start=1):
        patient = random.choice(patients)
        phone, member_code = "", ""
        if random.random() < 0.25:
            member_code = patient["member_code"]
        else:
            national = patient["phone"][2:]
            phone = f"({national[:3]}) {national[3:6]}-{national[6:]}"
        rows = []
        for _ in range(random.choice((1, 1, 1, 2, 2))):
            item_id, item_name, category, price = f"SKU-{random.randrange(ITEMS)}", "", "", ""
            roll = random.random()
            if roll < 0.05:
                item_id, item_name, category = "", "Gift card", "Retail"
                price = f"{random.randrange(25, 200, 25)}.00"
            elif roll < 0.15:
                price = f"{random.randrange(40, 500)}.{random.randrange(100):02d}"
            rows.append(
                {
                    "transaction_id": f"IMP-{run}-{number:06d}",
                    "phone": phone,
                    "member_code": member_code,
                    "purchased_at": at.strftime("%Y-%m-%d %H:%M"),
                    "item_id": item_id,
                    "item_name": item_name,
                    "category": category,
                    "quantity": str(random.choice((1, 1, 1, 2))),
                    "unit_price": price,
                    "payment_method": random.choice(("card", "card", "cash")),
                }
            )
        purchases.append([[row[column] for column in purchase_import.COLUMNS] for row in rows])
    return purchases


def files(purchases: list[list[list[str]]], max_rows: int | None) -> list[bytes]:
    """The CSV files staff would upload: one, or parts of at most `max_rows` rows, a purchase's rows together."""
    parts: list[list[list[str]]] = [[]]
    for rows in purchases:
        if max_rows and len(parts[-1]) + len(rows) > max_rows:
            parts.append([])
        parts[-1].extend(rows)
    encoded = []
    for part in parts:
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer)
        writer.writerow(purchase_import.COLUMNS)
        writer.writerows(part)
        encoded.append(buffer.getvalue().encode())
    return encoded


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=PATIENTS)
    parser.add_argument("--purchases", type=int, default=PURCHASES)
    parser.add_argument("--keep", action="store_true", help="Leave the practice in place.")
    parser.add_argument("--smoke", action="store_true", help="30 purchases for 20 patients, no target checked.")
    args = parser.parse_args()
    if args.smoke:
        args.patients, args.purchases = SMOKE_PATIENTS, SMOKE_PURCHASES

    call_command("migrate_schemas", interactive=False, verbosity=0)
    database = "DATABASE_URL" if os.environ.get("DATABASE_URL") else "embedded PostgreSQL"
    print(f"database: {database}; {os.cpu_count()} cores; load average before: {os.getloadavg()[0]:.2f}")
    run = secrets.token_hex(3)
    slug = f"bench-import-{run}"
    new = create_practice(name="Bench Import Clinic", slug=slug, owner_email=f"owner@{slug}.test")
    practice, staff = new.practice, new.owner
    try:
        started = time.perf_counter()
        patients = seed(practice, args.patients)
        with practice_context(practice):
            purchases = history(patients, args.purchases, run)
        max_rows = getattr(purchase_import, "MAX_ROWS", None)
        uploads = files(purchases, max_rows)
        rows = sum(len(rows) for rows in purchases)
        megabytes = sum(len(data) for data in uploads) / 1e6
        print(
            f"practice {slug}: {args.patients:,} patients, {ITEMS} catalog items; {args.purchases:,} purchases in "
            f"{rows:,} rows ({megabytes:.1f} MB) made in {time.perf_counter() - started:.1f} s"
        )
        if len(uploads) > 1:
            print(f"  the importer takes at most {max_rows:,} rows a file: {len(uploads)} files, imported in turn")
        if (largest := max(len(data) for data in uploads)) > PurchaseImportForm.max_bytes:
            print(
                f"  note: a file of {largest / 1e6:.1f} MB, over the import page's upload limit"
                f" ({PurchaseImportForm.max_bytes / 1e6:.1f} MB)"
            )

        created = already = 0
        errors: list[dict] = []
        # As the import page runs it: in the practice, its time zone active (the middleware's work there).
        with practice_context(practice):
            started = time.perf_counter()
            for number, data in enumerate(uploads, start=1):
                report = purchase_import.import_purchases(data=data, actor=staff)
                created, already = created + report.created, already + report.already_imported
                errors += report.errors
                if len(uploads) > 1 and (number % 5 == 0 or number == len(uploads)):
                    elapsed = time.perf_counter() - started
                    print(f"  {number} of {len(uploads)} files: {created:,} purchases in {elapsed:.1f} s", flush=True)
            seconds = time.perf_counter() - started

            recorded = Purchase.objects.filter(source=Purchase.Source.IMPORT).count()
            lines = PurchaseLine.objects.count()
            entries = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.PURCHASE).count()
            points = PointsAccount.objects.aggregate(total=Sum("balance"))["total"] or 0

        print(
            f"\nimported {created:,} purchases ({rows:,} rows) in {seconds:.1f} s: "
            f"{created / seconds:.0f} purchases/s, {rows / seconds:.0f} rows/s"
        )
        print(f"  stored: {recorded:,} purchases, {lines:,} lines, {entries:,} ledger entries, {points:,} points")
        for error in errors[:5]:
            print(f"  refused: {error}")
        complete = created == recorded == args.purchases and lines == rows and not already and not errors
        if not complete:
            print(f"NOT every purchase was recorded once: {len(errors)} refused, {already} already imported")
            return 1
        if args.smoke:
            print("smoke run: every purchase recorded")
            return 0
        year = seconds * PURCHASES / args.purchases
        met = year < TARGET_SECONDS
        at_this_rate = "" if args.purchases == PURCHASES else f"at this rate {year:.0f} s; "
        print(f"target ({PURCHASES:,} purchases in < {TARGET_SECONDS} s): {at_this_rate}{'met' if met else 'MISSED'}")
        return 0 if met else 1
    finally:
        connection.set_schema_to_public()
        if args.keep:
            print(f"kept {slug}")
        else:
            drop_practice(practice)
            print(f"dropped {slug}")
        stop_embedded_database_if_started_here()


if __name__ == "__main__":
    sys.exit(main())
