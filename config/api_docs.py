"""The API's reference pages (Swagger UI at /api/docs/, ReDoc at /api/redoc/) from our own static files.

Both come from drf-spectacular-sidecar (SPECTACULAR_SETTINGS "SIDECAR"): nothing is loaded from a CDN on the
host where staff are signed in. Swagger UI is drf-spectacular's "split" view, whose start-up script is a
file of its own (`/api/docs/?script=`), so the page runs under the site's Content-Security-Policy unchanged.
ReDoc draws with styles it inserts at run time and searches in a worker made from a blob: URL; its page
alone allows those (no script is loosened)."""

from csp.decorators import csp_replace
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerSplitView


class SwaggerDocs(SpectacularSwaggerSplitView):
    # drf-spectacular's page with its one inline <style> carrying the request's nonce.
    template_name = "api_docs/swagger_ui.html"


class RedocDocs(SpectacularRedocView):
    # Without the web fonts drf-spectacular's page loads from a font CDN, and without an inline script.
    template_name = "api_docs/redoc.html"


REDOC_POLICY = {
    "style-src": ["'self'", "'unsafe-inline'"],
    "worker-src": ["'self'", "blob:"],
}


def swagger_view():
    return SwaggerDocs.as_view(url_name="api_schema")


def redoc_view():
    return csp_replace(REDOC_POLICY)(RedocDocs.as_view(url_name="api_schema"))
