from django.http import HttpResponseBadRequest, JsonResponse
from django.utils import timezone
from django_tenants.middleware.main import TenantMainMiddleware

from .errors import error_body
from .selectors import current_practice_or_none


class PracticeMiddleware(TenantMainMiddleware):
    """django-tenants' middleware: the practice is found by host, inactive practices are unknown hosts (404),
    and the practice's time zone is active while its request is served (practices.tenancy).

    (`/healthz` is answered before this runs, on any host: practices.health.HealthMiddleware.)
    """

    # The time zone is put back around a synchronous call (below); under ASGI Django adapts the middleware.
    async_capable = False

    def __call__(self, request):
        # No zone is active before the practice is known, and whatever was active before is back afterwards,
        # also when the view raised (Django turns the exception into a response inside the call).
        with timezone.override(None):
            return super().__call__(request)

    def get_tenant(self, domain_model, hostname):
        # The connection is on the public schema here (django-tenants switches to it first).
        return domain_model.objects.select_related("tenant").get(domain=hostname, tenant__is_active=True).tenant

    def process_request(self, request):
        response = super().process_request(request)
        # The platform's own host speaks for every practice: it keeps the server's zone (UTC), and what it
        # shows of one practice names that practice's zone explicitly (practices.tenancy.zone_of).
        if response is None and (practice := current_practice_or_none()) is not None:
            timezone.activate(practice.time_zone)
        return response


def reject_nul_bytes(get_response):
    """A query string with a NUL byte is refused with a 400: PostgreSQL cannot store or compare one, and no
    search or filter needs it. (Form and API fields refuse them already.)"""

    def middleware(request):
        if any("\x00" in value for values in request.GET.lists() for value in values[1]):
            message = "The address contains a character that is not allowed."
            if request.path_info.startswith("/api/"):
                return JsonResponse(error_body("invalid", message), status=400)
            return HttpResponseBadRequest(message)
        return get_response(request)

    return middleware
