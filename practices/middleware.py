from django.http import HttpResponseBadRequest
from django_tenants.middleware.main import TenantMainMiddleware

from .health import healthz


class PracticeMiddleware(TenantMainMiddleware):
    """Route each request to its practice by host; inactive practices are unknown hosts.

    `/healthz` answers on any host (load balancers probe by IP).
    """

    def get_tenant(self, domain_model, hostname):
        domain = domain_model.objects.select_related("tenant").get(domain=hostname, tenant__is_active=True)
        return domain.tenant

    def no_tenant_found(self, request, hostname):
        if request.path == "/healthz":
            return healthz(request)
        return super().no_tenant_found(request, hostname)


def reject_nul_bytes(get_response):
    """A query string with a NUL byte is refused with a 400: PostgreSQL cannot store or compare one, and no
    search or filter needs it. (Form and API fields refuse them already.)"""

    def middleware(request):
        if any("\x00" in value for values in request.GET.lists() for value in values[1]):
            return HttpResponseBadRequest("The address contains a character that is not allowed.")
        return get_response(request)

    return middleware
