from functools import cache

from django.core.exceptions import DisallowedHost
from django.db import connection
from django.http import HttpResponseBadRequest, HttpResponseNotFound, JsonResponse
from django_tenants.middleware.main import TenantMainMiddleware
from django_tenants.utils import get_public_schema_name, get_tenant_domain_model

from .errors import error_body
from .models import Domain, Practice


class PracticeMiddleware(TenantMainMiddleware):
    """Route each request to its practice by host; inactive practices are unknown hosts.

    (`/healthz` is answered before this runs, on any host: practices.health.HealthMiddleware.)
    """

    def process_request(self, request):
        # As django-tenants does, except that the connection is not switched to the public schema to find
        # the practice (a SET search_path on every request): get_tenant names the public schema itself.
        try:
            hostname = self.hostname_from_request(request)
        except DisallowedHost:
            connection.set_schema_to_public()
            return HttpResponseNotFound()
        domain_model = get_tenant_domain_model()
        try:
            tenant = self.get_tenant(domain_model, hostname)
        except domain_model.DoesNotExist:
            connection.set_schema_to_public()
            return self.no_tenant_found(request, hostname)
        tenant.domain_url = hostname
        request.tenant = tenant
        connection.set_tenant(tenant)
        self.setup_url_routing(request)
        return None

    def get_tenant(self, domain_model, hostname):
        # On every request, so in plain SQL (building the ORM query costs more than running it), on the public
        # schema's tables whatever schema the connection is in.
        with connection.cursor() as cursor:
            cursor.execute(_practice_by_domain_sql(), [hostname])
            row = cursor.fetchone()
        if row is None:
            raise domain_model.DoesNotExist
        return Practice.from_db(connection.alias, [field.attname for field in Practice._meta.concrete_fields], row)


@cache
def _practice_by_domain_sql() -> str:
    quote = connection.ops.quote_name
    public = quote(get_public_schema_name())
    columns = ", ".join(f"p.{quote(field.column)}" for field in Practice._meta.concrete_fields)
    return (
        f"SELECT {columns} FROM {public}.{quote(Practice._meta.db_table)} p"  # noqa: S608
        f" JOIN {public}.{quote(Domain._meta.db_table)} d ON d.tenant_id = p.id WHERE d.domain = %s AND p.is_active"
    )


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
