"""Benchmark: the analytics dashboard at real size.

Builds a throwaway practice (practices.services.create_practice, schema cloned from the template) and fills
it with plain SQL (INSERT ... SELECT over generate_series, no ORM round trips): 50,000 patients, 200,000
purchases with their lines' totals, refunds, 1,000,000 ledger entries of every kind, rewards and vouchers,
referral codes, share-link visits and 20,000 referrals, spread over two years. It then builds the analytics
rollups (the daily job's backfill), times every dashboard query and the full page render (Django's test
client, signed in as the owner on the practice's host: server time, no network), prints a table, and drops
the practice.

Run: `make bench-dashboard` (or `.venv/bin/python bench/dashboard.py`), against the embedded PostgreSQL or
DATABASE_URL. `--keep` leaves the practice in place and `--slug <slug>` times an existing one again.
Target on the 2-core reference machine: the full dashboard under 300 ms of server time.

`--smoke` builds the same history at a few dozen rows a table over 60 days and runs each query and page once,
checking no target: tests/bench runs it so that a schema change which breaks the benchmark fails the tests.
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
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from analytics import jobs, rollups, selectors  # noqa: E402
from analytics.models import RollupState  # noqa: E402
from analytics.periods import PRESETS, preset_period  # noqa: E402
from bench.common import drop_practice  # noqa: E402
from practices.models import Practice, StaffMember  # noqa: E402
from practices.services import create_practice  # noqa: E402
from practices.tenancy import practice_context  # noqa: E402

PATIENTS = 50_000
PURCHASES = 200_000
LEDGER_ENTRIES = 1_000_000
REFERRALS = 20_000
REDEMPTIONS = 60_000
REFUNDS = 5_000
PATIENT_CODES = 10_000
VISIT_ROWS = 150_000
ACTIVITIES = 300_000
DAYS = 730
# --smoke: every statement and page of the full run, at a few rows.
SMOKE_SIZES = {
    "PATIENTS": 60,
    "PURCHASES": 120,
    "LEDGER_ENTRIES": 400,
    "REFERRALS": 10,
    "REDEMPTIONS": 30,
    "REFUNDS": 5,
    "PATIENT_CODES": 10,
    "VISIT_ROWS": 20,
    "ACTIVITIES": 200,
    "DAYS": 60,
}
TARGET_MS = 300
OWNER_PASSWORD = "bench-owner-pass-1234"  # noqa: S105 (a throwaway practice)

# Each statement runs in the practice's schema; %(now)s is the moment the history ends.
BUILD = [
    (
        "patients",
        """
        INSERT INTO accounts_user (password, email, phone, first_name, last_name, is_active, is_staff,
                                   is_superuser, date_joined, phone_verified)
        SELECT '!', NULL, '+1' || (2000000000 + n)::text, 'Bench', 'Patient ' || n, true, false, false,
               %(now)s, true
        FROM generate_series(1, %(patients)s) n;

        INSERT INTO patients_patient (user_id, status, source, signup_code, sms_consent, sms_consent_text,
                                      notify_by_sms, notify_by_push, external_id, notes, created_at, joined_at)
        SELECT u.id,
               CASE WHEN u.n > %(patients)s - %(referrals)s THEN 'active'
                    WHEN u.n %% 50 = 0 THEN 'pending' WHEN u.n %% 33 = 0 THEN 'archived' ELSE 'active' END,
               CASE WHEN u.n > %(patients)s - %(referrals)s THEN 'referral'
                    ELSE (ARRAY['qr', 'invite_code', 'desk', 'import'])[1 + u.n %% 4] END,
               '', false, '', true, true, '', '', u.joined, CASE WHEN u.n %% 50 = 0
                    AND u.n <= %(patients)s - %(referrals)s THEN NULL ELSE u.joined END
        FROM (SELECT id, row_number() OVER (ORDER BY id) AS n,
                     %(now)s - (power(random(), 0.8) * %(days)s) * interval '1 day' AS joined
              FROM accounts_user WHERE phone LIKE '+12%%') u;

        CREATE TEMP TABLE bench_patient AS
        SELECT row_number() OVER (ORDER BY id) AS n, id, joined_at, created_at FROM patients_patient;
        CREATE UNIQUE INDEX ON bench_patient (n);

        INSERT INTO loyalty_pointsaccount (patient_id, balance, lifetime_earned, created_at, updated_at)
        SELECT id, CASE WHEN random() < 0.3 THEN 0 ELSE (random() * 2500)::int END,
               (random() * 6000)::int, created_at, %(now)s
        FROM bench_patient;
        CREATE TEMP TABLE bench_account AS
        SELECT b.n, a.id AS account_id, b.id AS patient_id FROM bench_patient b
        JOIN loyalty_pointsaccount a ON a.patient_id = b.id;
        CREATE UNIQUE INDEX ON bench_account (n);
        """,
    ),
    (
        "purchases and refunds",
        """
        INSERT INTO loyalty_purchase (patient_id, source, total_cents, points, tier_multiplier_percent,
                                      purchased_at, payment_method, note, created_at)
        SELECT b.id, 'pos', t.total, greatest(1, t.total / 100), 100, t.at, 'card', '', t.at
        FROM (SELECT 1 + floor(random() * %(patients)s)::int AS n, random() AS r,
                     (5000 + floor(random() * 130) * 500)::int AS total, random() AS r2
              FROM generate_series(1, %(purchases)s)) g
        JOIN bench_patient b ON b.n = g.n
        CROSS JOIN LATERAL (SELECT CASE
            WHEN b.joined_at IS NULL THEN %(now)s - g.r2 * %(days)s * interval '1 day'
            WHEN g.r < 0.1 THEN b.joined_at - g.r2 * interval '120 days'
            ELSE b.joined_at + g.r2 * (%(now)s - b.joined_at) END AS at, g.total AS total) t;

        INSERT INTO loyalty_refund (purchase_id, amount_cents, points, points_taken, shortfall_points, reason,
                                    is_whole, created_at)
        SELECT id, total_cents, points, points, 0, 'bench', true,
               least(%(now)s, purchased_at + (1 + random() * 9) * interval '1 day')
        FROM loyalty_purchase ORDER BY random() LIMIT %(refunds)s;

        UPDATE loyalty_pointsaccount a SET last_purchase_at = p.last, expires_at = p.last + interval '365 days'
        FROM (SELECT patient_id, max(purchased_at) AS last FROM loyalty_purchase GROUP BY patient_id) p
        WHERE p.patient_id = a.patient_id;
        """,
    ),
    (
        "rewards and vouchers",
        """
        INSERT INTO rewards_reward (name, description, image, kind, credit_cents, percent_off, points_cost,
                                    limit_period, is_active, is_gift, display_order, created_at)
        VALUES ('$25 off', '', '', 'credit', 2500, NULL, 500, 'year', true, false, 1, %(now)s),
               ('$75 credit', '', '', 'credit', 7500, NULL, 1400, 'year', true, false, 2, %(now)s),
               ('15%% off skincare', '', '', 'percent', NULL, 15, 800, 'year', true, false, 3, %(now)s),
               ('Free peel', '', '', 'free_item', NULL, NULL, 2500, 'year', true, false, 4, %(now)s),
               ('Free HydraFacial', '', '', 'free_item', NULL, NULL, 3500, 'year', true, false, 5, %(now)s),
               ('$50 referral credit', 'Gift voucher', '', 'credit', 5000, NULL, 1, 'year', false, true, 0,
                %(now)s);

        INSERT INTO rewards_redemption (reward_id, patient_id, points_cost, voucher_code, status, expires_at,
                                        used_at, used_via, cancelled_at, points_returned, form_token, created_at)
        SELECT r.id, b.id, CASE WHEN r.is_gift THEN 0 ELSE r.points_cost END,
               'BV' || lpad(to_hex(g.i), 8, '0'), s.status, g.at + interval '90 days',
               CASE WHEN s.status = 'used' THEN g.at + random() * interval '30 days' END,
               CASE WHEN s.status = 'used' THEN 'desk' ELSE '' END,
               CASE WHEN s.status = 'cancelled' THEN g.at + interval '2 days' END,
               CASE WHEN s.status IN ('cancelled', 'expired') AND NOT r.is_gift THEN r.points_cost ELSE 0 END,
               '', g.at
        FROM (SELECT i, 1 + floor(random() * %(patients)s)::int AS n, random() AS pick, random() AS st,
                     %(now)s - random() * %(days)s * interval '1 day' AS at
              FROM generate_series(1, %(redemptions)s) i) g
        JOIN bench_patient b ON b.n = g.n
        JOIN LATERAL (SELECT * FROM rewards_reward
                      ORDER BY is_gift, display_order OFFSET CASE WHEN g.pick < 0.03 THEN 5
                                                                  ELSE floor(g.pick * 5)::int END LIMIT 1) r ON true
        CROSS JOIN LATERAL (SELECT CASE
            WHEN g.st < 0.1 THEN 'cancelled'
            WHEN g.at + interval '90 days' < %(now)s AND g.st < 0.3 THEN 'expired'
            WHEN g.at + interval '90 days' >= %(now)s AND g.st < 0.5 THEN 'issued'
            ELSE 'used' END AS status) s;
        """,
    ),
    (
        "ledger",
        """
        INSERT INTO loyalty_ledgerentry (account_id, kind, delta, balance_after, source_type, note,
                                         idempotency_key, created_at, purchase_id)
        SELECT a.id, 'purchase', p.points, p.points + 100, '', '', 'purchase:' || p.id, p.purchased_at, p.id
        FROM loyalty_purchase p JOIN loyalty_pointsaccount a ON a.patient_id = p.patient_id;

        INSERT INTO loyalty_ledgerentry (account_id, kind, delta, balance_after, source_type, note,
                                         idempotency_key, created_at, purchase_id, refund_id)
        SELECT a.id, 'refund', -f.points, 0, '', '', 'refund:' || f.id, f.created_at, p.id, f.id
        FROM loyalty_refund f JOIN loyalty_purchase p ON p.id = f.purchase_id
        JOIN loyalty_pointsaccount a ON a.patient_id = p.patient_id;

        INSERT INTO loyalty_ledgerentry (account_id, kind, delta, balance_after, source_type, source_id, note,
                                         idempotency_key, created_at)
        SELECT a.id, 'redemption', -r.points_cost, 100, 'rewards.redemption', r.id, '',
               'redemption:' || r.id, r.created_at
        FROM rewards_redemption r JOIN loyalty_pointsaccount a ON a.patient_id = r.patient_id
        WHERE r.points_cost > 0;

        INSERT INTO loyalty_ledgerentry (account_id, kind, delta, balance_after, source_type, source_id, note,
                                         idempotency_key, created_at)
        SELECT a.id, 'redemption_cancel', r.points_returned, r.points_returned + 100, 'rewards.redemption', r.id,
               '', 'redemption-return:' || r.id, coalesce(r.cancelled_at, r.expires_at)
        FROM rewards_redemption r JOIN loyalty_pointsaccount a ON a.patient_id = r.patient_id
        WHERE r.points_returned > 0 AND coalesce(r.cancelled_at, r.expires_at) <= %(now)s;

        INSERT INTO loyalty_ledgerentry (account_id, kind, delta, balance_after, source_type, note,
                                         idempotency_key, created_at)
        SELECT b.account_id, k.kind, k.delta, greatest(k.delta, 0) + 200, '', '', NULL, g.at
        FROM (SELECT i, 1 + floor(random() * %(patients)s)::int AS n, random() AS r,
                     %(now)s - random() * %(days)s * interval '1 day' AS at
              FROM generate_series(1, %(other_entries)s) i) g
        JOIN bench_account b ON b.n = g.n
        CROSS JOIN LATERAL (SELECT
            CASE WHEN g.r < 0.80 THEN 'bonus' WHEN g.r < 0.88 THEN 'adjustment'
                 WHEN g.r < 0.94 THEN 'referral' ELSE 'expiry' END AS kind,
            CASE WHEN g.r < 0.80 THEN 50 + (g.i %% 3) * 25
                 WHEN g.r < 0.88 THEN CASE WHEN g.i %% 4 = 0 THEN -100 ELSE 150 END
                 WHEN g.r < 0.94 THEN 250 ELSE -(100 + g.i %% 900) END AS delta) k;
        """,
    ),
    (
        "referrals",
        """
        INSERT INTO accounts_user (password, email, phone, first_name, last_name, is_active, is_staff,
                                   is_superuser, date_joined, phone_verified)
        SELECT '!', 'staff' || n || '@bench.test', NULL, 'Staff', 'Member ' || n, true, false, false, %(now)s, false
        FROM generate_series(1, 5) n;
        INSERT INTO practices_staffmember (user_id, role, is_active, must_change_password, created_at)
        SELECT id, 'front_desk', true, false, %(now)s FROM accounts_user WHERE email LIKE '%%@bench.test';
        INSERT INTO referrals_partner (name, kind, contact_name, email, phone, notes, is_active, referee_reward_kind,
                                       referee_points, referee_credit_cents, referee_percent_off, created_at)
        SELECT 'Partner ' || n, 'influencer', '', '', '', '', true, 'default', 0, 0, 0, %(now)s
        FROM generate_series(1, 30) n;

        INSERT INTO referrals_referralcode (code, owner_kind, patient_id, is_active, created_at)
        SELECT 'BP' || n, 'patient', id, true, created_at FROM bench_patient WHERE n <= %(patient_codes)s;
        INSERT INTO referrals_referralcode (code, owner_kind, staff_id, is_active, created_at)
        SELECT 'BS' || s.id, 'staff', s.id, true, %(now)s FROM practices_staffmember s
        JOIN accounts_user u ON u.id = s.user_id WHERE u.email LIKE '%%@bench.test';
        INSERT INTO referrals_referralcode (code, owner_kind, partner_id, is_active, created_at)
        SELECT 'BR' || id, 'partner', id, true, %(now)s FROM referrals_partner;
        CREATE TEMP TABLE bench_code AS
        SELECT row_number() OVER (ORDER BY id) AS n, id, owner_kind, code FROM referrals_referralcode
        WHERE code LIKE 'B%%';

        INSERT INTO referrals_visit (code_id, source, day, count)
        SELECT c.id, (ARRAY['link', 'qr', 'sms', 'code'])[1 + (c.n + v.k) %% 4],
               (%(now)s - ((v.k * 48 + c.n * 7) %% %(days)s) * interval '1 day')::date, 1 + (c.n * v.k) %% 7
        FROM bench_code c CROSS JOIN generate_series(0, %(visit_rounds)s) v(k)
        ORDER BY v.k, c.n LIMIT %(visit_rows)s;

        INSERT INTO referrals_referral (code_id, code_used, owner_kind, source, referred_id, status, reason,
                                        created_at, qualified_at, rewarded_at, reversed_at)
        SELECT c.id, c.code, c.owner_kind, (ARRAY['link', 'qr', 'sms', 'code'])[1 + b.n %% 4], b.id, s.status,
               CASE WHEN s.status = 'rejected' THEN 'limit_reached' ELSE '' END, b.joined_at,
               CASE WHEN s.status IN ('qualified', 'rewarded', 'reversed') THEN s.q END,
               CASE WHEN s.status IN ('rewarded', 'reversed') THEN s.q + interval '1 minute' END,
               CASE WHEN s.status = 'reversed' THEN s.q + interval '5 days' END
        FROM bench_patient b
        CROSS JOIN LATERAL (SELECT 1 + (b.n * 7919) %% (SELECT count(*) FROM bench_code) AS code_n,
                                   random() AS r) g
        JOIN bench_code c ON c.n = g.code_n
        CROSS JOIN LATERAL (SELECT CASE WHEN g.r < 0.35 THEN 'pending' WHEN g.r < 0.40 THEN 'qualified'
                                        WHEN g.r < 0.90 THEN 'rewarded' WHEN g.r < 0.95 THEN 'rejected'
                                        ELSE 'reversed' END AS status,
                                   least(%(now)s, b.joined_at + random() * interval '20 days') AS q) s
        WHERE b.n > %(patients)s - %(referrals)s;
        """,
    ),
    (
        "activity",
        """
        INSERT INTO patients_activity (patient_id, kind, summary, data, created_at)
        SELECT p.patient_id, 'purchase', 'Purchase of $' || (p.total_cents / 100) || ': earned ' || p.points
               || ' points', '{}', p.purchased_at
        FROM loyalty_purchase p;
        INSERT INTO patients_activity (patient_id, kind, summary, data, created_at)
        SELECT b.id, 'bonus', 'Bonus points', '{}', %(now)s - random() * %(days)s * interval '1 day'
        FROM generate_series(1, %(other_activities)s) g
        JOIN bench_patient b ON b.n = 1 + (g * 7919) %% %(patients)s;
        ANALYZE;
        """,
    ),
]


def build(practice: Practice, now) -> dict[str, float]:
    """Fill the practice with the history; returns seconds per step."""
    params = {
        "now": now,
        "days": DAYS,
        "patients": PATIENTS,
        "purchases": PURCHASES,
        "referrals": REFERRALS,
        "redemptions": REDEMPTIONS,
        "refunds": REFUNDS,
        "patient_codes": PATIENT_CODES,
        "visit_rows": VISIT_ROWS,
        "visit_rounds": VISIT_ROWS // PATIENT_CODES + 1,
        "other_activities": ACTIVITIES - PURCHASES,
    }
    seconds = {}
    with practice_context(practice), connection.cursor() as cursor:
        for name, sql in BUILD:
            started = time.perf_counter()
            if name == "ledger":
                cursor.execute("SELECT count(*) FROM loyalty_purchase")
                written = cursor.fetchone()[0] + REFUNDS
                cursor.execute(
                    "SELECT count(*) FILTER (WHERE points_cost > 0), count(*) FILTER (WHERE points_returned > 0"
                    " AND coalesce(cancelled_at, expires_at) <= %s) FROM rewards_redemption",
                    [now],
                )
                written += sum(cursor.fetchone())
                params["other_entries"] = LEDGER_ENTRIES - written
            # One statement at a time: with parameters bound by the server, a call runs a single statement.
            for statement in filter(str.strip, sql.split(";")):
                cursor.execute(statement, {key: value for key, value in params.items() if f"%({key})s" in statement})
            seconds[name] = time.perf_counter() - started
            print(f"  built {name:<24} {seconds[name]:6.1f} s", flush=True)
        sizes = []
        for table in ["patients_patient", "loyalty_purchase", "loyalty_ledgerentry", "referrals_referral",
                      "referrals_visit", "rewards_redemption", "patients_activity"]:  # fmt: skip
            cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 (names from this list)
            sizes.append(f"{table} {cursor.fetchone()[0]:,}")
        print("  rows: " + ", ".join(sizes))
    return seconds


def timed(func, runs: int) -> tuple[float, int]:
    """Median milliseconds over `runs` calls (after one warm-up call), and the queries one call makes; with no
    runs (--smoke), the warm-up call's milliseconds."""
    queries = []

    def count(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        started = time.perf_counter()
        func()
        first = (time.perf_counter() - started) * 1000
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        func()
        times.append((time.perf_counter() - started) * 1000)
    return (statistics.median(times) if times else first), len(queries)


def in_custom_plans(func, period):
    """The metric as the views run it (analytics.rollups.custom_plans)."""

    def run():
        with rollups.custom_plans():
            func(period)

    return run


def page(client: Client, path: str):
    def get():
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)

    return get


def measure(practice: Practice, runs: int) -> int:
    """Times every dashboard query and the pages; returns 0 when the full page meets the target."""
    owner = practice_owner(practice)
    client = Client(HTTP_HOST=practice.domains.first().domain)
    with practice_context(practice):
        zone = timezone.get_current_timezone()
        started = time.perf_counter()
        first = jobs.run_daily_jobs()
        build_seconds = time.perf_counter() - started
        started = time.perf_counter()
        jobs.run_daily_jobs()
        rerun_seconds = time.perf_counter() - started
        days = first["days_built"]
        print(f"\nrollups: {days} days built in {build_seconds:.1f} s; run again: {rerun_seconds * 1000:.0f} ms")
        client.force_login(owner)
        today = timezone.now().astimezone(zone).date()
        periods = {key: preset_period(key, today=today, zone=zone) for key in PRESETS}
        rows = []
        for name, func in [
            ("members", lambda p: selectors.members(selectors.scope(p))),
            ("points", lambda p: selectors.points(selectors.scope(p))),
            ("liability", lambda p: selectors.liability(selectors.scope(p))),
            ("revenue", lambda p: selectors.revenue(selectors.scope(p))),
            ("retention", lambda p: selectors.retention(selectors.scope(p), with_money=True)),
            ("rewards", lambda p: selectors.rewards(selectors.scope(p))),
            ("referrals", lambda p: selectors.referrals(selectors.scope(p), with_money=True)),
            ("top earners", lambda p: selectors.top_earners(selectors.scope(p))),
            ("at risk (count + first 10)", lambda p: selectors.at_risk()),
            ("recent activity", lambda p: selectors.recent_activity()),
            ("all figures (selectors.dashboard)", lambda p: selectors.dashboard(p, with_money=True)),
        ]:
            rows.append((name, *[timed(in_custom_plans(func, period), runs) for period in periods.values()]))
        pages = [
            ("full page, owner (/staff/)", "/staff/?period={}"),
            ("live refresh (fragment)", "/staff/analytics/live/?period={}"),
            ("CSV: rewards", "/staff/analytics/export/rewards.csv?period={}"),
        ]
        for name, path in pages:
            rows.append((name, *[timed(page(client, path.format(key)), runs) for key in periods]))
        # For comparison: the same page with no rollups at all (every figure from the raw rows).
        with transaction.atomic():
            RollupState.objects.all().delete()
            rows.append(
                (
                    "full page without rollups",
                    *[timed(page(client, f"/staff/?period={key}"), min(runs, 1)) for key in periods],
                )
            )
            transaction.set_rollback(True)

    print(f"\n{'milliseconds (queries)':<36}" + "".join(f"{PRESETS[key][0].lower():>20}" for key in PRESETS))
    for name, *results in rows:
        cells = "".join(f"{f'{ms:.1f} ({count})':>20}" for ms, count in results)
        print(f"{name:<36}{cells}")
    full = max(ms for ms, _ in next(results for name, *results in rows if name.startswith("full page, owner")))
    print(f"\nfull dashboard: {full:.0f} ms server time at the slowest period (target < {TARGET_MS} ms)")
    return 0 if full < TARGET_MS else 1


def practice_owner(practice: Practice):
    with practice_context(practice):
        return (
            StaffMember.objects.select_related("user")
            .get(role=StaffMember.Role.OWNER, user__email__startswith="owner@")
            .user
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="Leave the practice in place.")
    parser.add_argument("--slug", help="Time an existing practice (built by an earlier --keep run).")
    parser.add_argument("--runs", type=int, default=7, help="Timed runs of each query (the median is shown).")
    parser.add_argument("--smoke", action="store_true", help="A few rows a table, one run, no target checked.")
    args = parser.parse_args()
    if args.smoke:
        globals().update(SMOKE_SIZES)
        args.runs = 0
    # Production-like: no query log kept by the database wrapper while timing.
    settings.DEBUG = False
    if args.slug:
        practice = Practice.objects.get(slug=args.slug)
    else:
        call_command("migrate_schemas", interactive=False, verbosity=0)
        slug = f"bench-dash-{secrets.token_hex(3)}"
        practice = create_practice(
            name="Bench dashboard", slug=slug, owner_email=f"owner@{slug}.test", owner_password=OWNER_PASSWORD
        ).practice
    try:
        if not args.slug:
            print(f"practice {practice.slug}: building the history")
            build(practice, timezone.now())
        met = measure(practice, args.runs) == 0
        return 0 if met or args.smoke else 1
    finally:
        if not args.keep and not args.slug:
            connection.set_schema_to_public()
            drop_practice(practice)
            print(f"dropped {practice.slug}")


if __name__ == "__main__":
    sys.exit(main())
