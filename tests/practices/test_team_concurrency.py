"""Real threads against the real database: two owners removing each other at the same moment leave one owner.

Run in a throwaway practice, for the reasons given in tests/throwaway.py.
"""

import pytest

from practices import team
from practices.models import StaffMember
from tests.factories import StaffMemberFactory
from tests.throwaway import entered, kinds, race, throwaway_practice

Role = StaffMember.Role


@pytest.fixture(scope="module")
def throwaway(django_db_setup, django_db_blocker):
    yield from throwaway_practice(django_db_blocker, prefix="team", name="Team Races")


@pytest.fixture
def practice(throwaway):
    yield from entered(throwaway)


def two_owners() -> tuple[StaffMember, StaffMember]:
    first, second = StaffMemberFactory(role=Role.OWNER), StaffMemberFactory(role=Role.OWNER)
    for other in StaffMember.objects.filter(role=Role.OWNER, is_active=True).exclude(pk__in=[first.pk, second.pk]):
        team.deactivate_member(actor=first.user, member=other)
    return first, second


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("change", ["demote", "deactivate"])
def test_two_owners_removing_each_other_at_once_leave_one_owner(practice, change):
    first, second = two_owners()
    pairs = [(first, second), (second, first)]

    def work(i: int):
        actor, member = pairs[i % 2]
        if change == "demote":
            return team.change_role(actor=actor.user, member=member, role=Role.MANAGER)
        return team.deactivate_member(actor=actor.user, member=member)

    results = race(practice, work, count=2)

    assert kinds(results) == {"StaffMember": 1, "TeamError": 1}
    assert StaffMember.objects.filter(role=Role.OWNER, is_active=True).count() == 1
