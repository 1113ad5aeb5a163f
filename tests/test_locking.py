"""Row locks: one helper (practices.locking) takes them all, in primary-key order, on the model's own rows."""

import io
import itertools
import threading
import tokenize
from pathlib import Path

import pytest
from django.db import OperationalError, connection, transaction
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext

from patients.merging import merge_patients
from patients.messaging import deliver_message
from patients.models import Patient
from practices.locking import lock, lock_get, lock_one
from practices.models import Practice, StaffMember
from referrals.services import issue_rewards
from rewards.models import Reward
from tests.factories import PatientFactory, RewardFactory

ROOT = Path(__file__).resolve().parent.parent
NOT_APPLICATION = {".venv", ".data", "tests", "static", "staticfiles", "media", "node_modules"}

# Files that may still call select_for_update() themselves, each until the change named beside it lands.
ALLOWED = {
    "practices/locking.py": "the helper itself",
}


def application_files():
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT).parts
        if parts[0] in NOT_APPLICATION or any(part.startswith(".") for part in parts):
            continue
        yield path


def select_for_update_calls(source: str) -> list[int]:
    """Lines calling select_for_update( in code (comments and strings don't count)."""
    tokens = [t for t in tokenize.generate_tokens(io.StringIO(source).readline) if t.type != tokenize.NL]
    return [
        token.start[0]
        for token, following in itertools.pairwise(tokens)
        if token.type == tokenize.NAME and token.string == "select_for_update" and following.string == "("
    ]


def test_the_scan_finds_a_call_split_over_lines_and_ignores_comments_and_strings():
    source = (
        'x = (\n    Reward.objects\n    .select_for_update(\n    )\n)\n# select_for_update(\ny = "select_for_update("\n'
    )
    assert select_for_update_calls(source) == [3]


def test_no_application_code_calls_select_for_update_itself():
    files = list(application_files())
    assert any(path.relative_to(ROOT).as_posix() == "rewards/services.py" for path in files)  # the scan sees apps
    offenders = [
        f"{path.relative_to(ROOT).as_posix()}:{line}"
        for path in files
        if path.relative_to(ROOT).as_posix() not in ALLOWED
        for line in select_for_update_calls(path.read_text())
    ]
    assert offenders == [], "lock rows with practices.locking (lock, lock_one, lock_get), not select_for_update()"


# ---------------------------------------------------------------- the SQL the helper writes


def sql_of(work) -> str:
    with CaptureQueriesContext(connection) as queries:
        work()
    selects = [query["sql"] for query in queries if not query["sql"].startswith("SET ")]  # search_path
    assert len(selects) == 1
    return selects[0]


def test_rows_are_locked_in_primary_key_order_whatever_the_query_asks(alpha):
    rewards = [RewardFactory(points_cost=cost) for cost in (300, 100, 200)]
    query = Reward.objects.filter(pk__in=[r.pk for r in rewards]).order_by("-points_cost")

    sql = sql_of(lambda: lock(query))

    assert 'ORDER BY "rewards_reward"."id" ASC' in sql
    assert sql.endswith('FOR UPDATE OF "rewards_reward"')
    assert [r.pk for r in lock(query)] == sorted(r.pk for r in rewards)


def test_rows_joined_for_reading_are_not_locked_unless_named(alpha):
    patient = PatientFactory()
    query = Patient.objects.select_related("user").filter(pk=patient.pk)

    sql = sql_of(lambda: lock(query))
    assert "JOIN" in sql
    assert sql.endswith('FOR UPDATE OF "patients_patient"')

    sql = sql_of(lambda: lock(query, of=("self", "user")))
    assert sql.endswith('FOR UPDATE OF "patients_patient", "accounts_user"')
    assert lock(query)[0].user == patient.user


def test_no_key_and_skip_locked(alpha):
    assert sql_of(lambda: lock(Patient.objects, no_key=True)).endswith('FOR NO KEY UPDATE OF "patients_patient"')
    assert sql_of(lambda: lock(Reward.objects, skip_locked=True)).endswith('FOR UPDATE OF "rewards_reward" SKIP LOCKED')


def test_values_queries_lock_the_same_rows(alpha):
    rewards = [RewardFactory(), RewardFactory()]
    query = Reward.objects.filter(pk__in=[r.pk for r in rewards]).values_list("pk", flat=True)

    assert sql_of(lambda: lock(query)).endswith('FOR UPDATE OF "rewards_reward"')
    assert lock(query) == sorted(r.pk for r in rewards)


def test_lock_one_locks_the_first_row_only_or_gives_none(alpha):
    first, second = RewardFactory(points_cost=500), RewardFactory(points_cost=100)
    both = Reward.objects.filter(pk__in=[first.pk, second.pk]).order_by("points_cost")

    sql = sql_of(lambda: lock_one(both))
    assert 'ORDER BY "rewards_reward"."id" ASC LIMIT 1 FOR UPDATE OF "rewards_reward"' in sql
    assert lock_one(both) == first
    assert lock_one(Reward.objects.filter(pk=-1)) is None


def test_lock_get_is_like_get(alpha):
    reward = RewardFactory()
    assert lock_get(Reward.objects, pk=reward.pk) == reward
    assert lock_get(Reward.objects.filter(pk=reward.pk)) == reward
    with pytest.raises(Reward.DoesNotExist):
        lock_get(Reward.objects, pk=-1)
    RewardFactory()
    with pytest.raises(Reward.MultipleObjectsReturned):
        lock_get(Reward.objects.all())


# ---------------------------------------------------------------- what the locks do (committed rows, two connections)


def in_other_connection(work):
    """Run `work()` on a connection of its own (a thread), outside this test's transaction."""
    outcome = {}

    def run():
        try:
            outcome["value"] = work()
        except Exception as exc:
            outcome["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive()
    return outcome


def test_it_refuses_to_run_outside_a_transaction(db):
    # A lock outside a transaction would end with the statement: Django refuses, and so does every helper.
    outcome = in_other_connection(lambda: lock(Practice.objects.all()))
    assert isinstance(outcome.get("error"), TransactionManagementError)
    assert isinstance(in_other_connection(lambda: lock_one(Practice.objects)).get("error"), TransactionManagementError)
    assert isinstance(
        in_other_connection(lambda: lock_get(Practice.objects, slug="alpha")).get("error"), TransactionManagementError
    )

    def in_a_transaction():
        with transaction.atomic():
            return [practice.slug for practice in lock(Practice.objects.filter(slug__in=["alpha", "beta"]))]

    assert in_other_connection(in_a_transaction) == {"value": ["alpha", "beta"]}


def other_writer_skips():
    """What another transaction gets when it asks for the alpha and beta rows, skipping locked ones."""
    with transaction.atomic():
        return [p.slug for p in lock(Practice.objects.filter(slug__in=["alpha", "beta"]), skip_locked=True)]


def key_share(slug: str):
    """Another transaction takes the key-share lock that inserting a row pointing at this one takes."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT id FROM practices_practice WHERE slug = %s FOR KEY SHARE NOWAIT", [slug])
        return cursor.fetchone() is not None


def test_a_locked_row_is_held_until_the_transaction_ends(db):
    assert in_other_connection(other_writer_skips) == {"value": ["alpha", "beta"]}
    with transaction.atomic():
        lock(Practice.objects.filter(slug="alpha"))
        assert in_other_connection(other_writer_skips) == {"value": ["beta"]}
        # Plain FOR UPDATE: even a row pointing at it would have to wait.
        assert isinstance(in_other_connection(lambda: key_share("alpha")).get("error"), OperationalError)


def test_no_key_lets_rows_pointing_at_the_locked_one_be_written(db):
    with transaction.atomic():
        lock(Practice.objects.filter(slug="alpha"), no_key=True)
        assert in_other_connection(lambda: key_share("alpha")) == {"value": True}
        assert in_other_connection(other_writer_skips) == {"value": ["beta"]}


# ---------------------------------------------------------------- services that own their transaction


def merge_two():
    owner = StaffMember.objects.filter(role=StaffMember.Role.OWNER).select_related("user").first()
    merge_patients(kept=PatientFactory(), merged=PatientFactory(), actor=owner.user)


@pytest.mark.parametrize(
    "service",
    [lambda: deliver_message(message_id=-1), lambda: issue_rewards(referral_id=-1), merge_two],
    ids=["deliver_message", "issue_rewards", "merge_patients"],
)
def test_a_durable_service_refuses_to_run_inside_a_callers_transaction(alpha, service):
    with pytest.raises(RuntimeError, match="durable"), transaction.atomic():
        service()
