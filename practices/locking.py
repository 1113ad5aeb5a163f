"""Row locks, taken one way everywhere: `SELECT ... ORDER BY pk FOR UPDATE OF <the model's table>`.

Every row lock in the project goes through `lock`, `lock_one` or `lock_get` (a test fails on any other
`select_for_update` call), so that:

- **Rows are locked in primary-key order.** PostgreSQL locks rows as it reads them; two transactions that lock
  the same rows in different orders can each hold one the other wants, and one of them is killed as a
  deadlock. Ordered by primary key, the second one simply waits for the first. When a change locks rows of
  several kinds, it takes them in the order its module documents (say, the referral before the points
  account), and every change that touches the same kinds takes them in that same order.
- **Only the model's own rows are locked** (`FOR UPDATE OF` its table): rows joined with `select_related` only
  to be read are not. Name them in `of` when the change needs them locked too (Django's
  `select_for_update(of=...)` names: "self", "patient", "patient__user").
- **`no_key=True` for rows other rows point at** (a patient, which timeline lines, purchases and vouchers
  reference with foreign keys). `FOR NO KEY UPDATE` still keeps other writers of the row out, but lets rows
  pointing at it be inserted meanwhile (they take only a key-share lock); plain `FOR UPDATE` would make every
  such insert wait until we commit. Use plain `FOR UPDATE` (the default) when the change deletes the row or
  changes its primary key, or for rows nothing points at.
- **`skip_locked=True` for work queues**: two workers split the due rows between them instead of the second
  waiting for the first and then doing the same work again. Only `lock` takes it: a single row "or none if
  someone else has it" reads better as an explicit queue.

Locks last until the end of the transaction they are taken in, so each function must run inside
`transaction.atomic()`; Django refuses (TransactionManagementError) otherwise. Look the object up and check
permission before taking its lock; then lock, read again, change.

A `values()` / `values_list()` query can be locked too: the same rows are locked, and come back as values.

A service that takes locks owns its transaction. When wrapping it in a caller's transaction would be wrong,
because it takes several locks in its module's documented order (a caller holding others breaks the order),
or because what it did must be committed when it returns (a text sent while the lock is held, tasks queued on
commit), it opens it with `transaction.atomic(durable=True)`: Django then refuses (RuntimeError) to run it
inside another atomic block. Such services are called from views and tasks only (patients.merging.merge_patients,
patients.messaging.deliver_message, referrals.services.issue_rewards). Tests may still call them: the
transaction pytest-django wraps each test in is exempt from the check.
"""

from typing import Any, TypeVar

from django.db import models

M = TypeVar("M", bound=models.Model)

SELF = ("self",)


def _locking(
    queryset: "models.QuerySet[Any] | models.Manager[Any]",
    *,
    of: tuple[str, ...],
    no_key: bool,
    skip_locked: bool = False,
) -> "models.QuerySet[Any]":
    return queryset.select_for_update(of=of, no_key=no_key, skip_locked=skip_locked).order_by("pk")


def lock(
    queryset: "models.QuerySet[M] | models.Manager[M]",
    *,
    of: tuple[str, ...] = SELF,
    no_key: bool = False,
    skip_locked: bool = False,
) -> list[M]:
    """Lock the rows of `queryset` in primary-key order and return them (in that order).

    `queryset` may be a manager (`Reward.objects`: every row) or a filtered query. With `skip_locked`, rows
    another transaction holds are left out instead of waited for.
    """
    return list(_locking(queryset, of=of, no_key=no_key, skip_locked=skip_locked))


def lock_one(
    queryset: "models.QuerySet[M] | models.Manager[M]", *, of: tuple[str, ...] = SELF, no_key: bool = False
) -> M | None:
    """Lock the first row of `queryset` by primary key and return it; None when there is none (like `.first()`).

    Only that row is locked (`LIMIT 1`), even when the query matches more.
    """
    return _locking(queryset, of=of, no_key=no_key).first()


def lock_get(
    queryset: "models.QuerySet[M] | models.Manager[M]",
    *,
    of: tuple[str, ...] = SELF,
    no_key: bool = False,
    **lookups: Any,
) -> M:
    """Lock the one row of `queryset` matching `lookups` and return it (like `.get()`).

    Raises the model's DoesNotExist when there is none, MultipleObjectsReturned when there are several.
    """
    return _locking(queryset, of=of, no_key=no_key).get(**lookups)
