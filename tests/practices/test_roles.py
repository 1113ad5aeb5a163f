import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.test import RequestFactory
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from practices.models import StaffMember
from practices.roles import HasStaffRole, staff_required
from tests.factories import StaffMemberFactory

Role = StaffMember.Role


@staff_required(role=Role.MANAGER)
def manager_page(request):
    return HttpResponse("manager area")


def request_as(user):
    request = RequestFactory().get("/staff/reports/")
    request.user = user
    return request


def test_front_desk_is_refused_where_a_manager_is_required(alpha):
    desk = StaffMemberFactory(role=Role.FRONT_DESK)
    with pytest.raises(PermissionDenied, match="Manager role"):
        manager_page(request_as(desk.user))


@pytest.mark.parametrize("role", [Role.MANAGER, Role.OWNER])
def test_manager_and_owner_are_let_through(alpha, role):
    member = StaffMemberFactory(role=role)
    response = manager_page(request_as(member.user))
    assert response.content == b"manager area"


def test_anonymous_visitor_is_sent_to_sign_in(alpha):
    response = manager_page(request_as(AnonymousUser()))
    assert response.status_code == 302
    assert response["Location"] == "/staff/login/?next=/staff/reports/"


def test_api_permission_follows_the_same_ranks(alpha):
    class ManagerOnly(APIView):
        required_role = Role.MANAGER

    permission = HasStaffRole()
    request = APIRequestFactory().get("/api/v1/x")
    request.user = StaffMemberFactory(role=Role.FRONT_DESK).user
    assert not permission.has_permission(request, ManagerOnly())
    request.user = StaffMemberFactory(role=Role.OWNER).user
    assert permission.has_permission(request, ManagerOnly())
