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
