"""With TENANT_LIMIT_SET_CALLS, django-tenants' backend sets the search_path once per connection and practice:
it is still set again whenever the practice changes, and after a rollback that may have undone it."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from loyalty.models import Tier
from tests.factories import TierFactory


def statements(work) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        work()
    return [query["sql"] for query in captured.captured_queries]


def sets(sql: list[str]) -> list[str]:
    return [statement for statement in sql if statement.startswith("SET search_path")]


def test_entering_another_practice_sets_its_schema_and_reads_its_rows(alpha, beta):
    TierFactory(name="Alpha only")
    Tier.objects.count()
    connection.set_tenant(beta)

    names = []
    sql = statements(lambda: names.extend(Tier.objects.values_list("name", flat=True)))

    assert sets(sql) == [f'SET search_path = "{beta.schema_name}","public"']
    assert names == []
    connection.set_tenant(alpha)
    assert sets(statements(Tier.objects.count)) == [f'SET search_path = "{alpha.schema_name}","public"']
    assert list(Tier.objects.values_list("name", flat=True)) == ["Alpha only"]


def test_after_a_rollback_the_search_path_is_set_again(alpha):
    Tier.objects.count()

    def roll_back_to_a_savepoint():
        with pytest.raises(ZeroDivisionError), transaction.atomic():
            Tier.objects.count()
            raise ZeroDivisionError  # a SET made inside the savepoint would be undone

    sql = statements(roll_back_to_a_savepoint)

    rolled_back = next(i for i, statement in enumerate(sql) if statement.startswith("ROLLBACK TO SAVEPOINT"))
    assert sets(sql[rolled_back:]) == [f'SET search_path = "{alpha.schema_name}","public"']
