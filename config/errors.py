"""Error pages: JSON under /api/, HTML elsewhere."""

from django.http import JsonResponse
from django.views.defaults import bad_request as html_bad_request
from django.views.defaults import page_not_found
from django.views.defaults import server_error as html_server_error

from config.api_errors import error_body, json_not_found, json_server_error


def bad_request(request, exception=None):
    """A request Django itself refuses before any view (too many fields, a suspicious header or file name)."""
    if request.path.startswith("/api/"):
        return JsonResponse(error_body("bad_request", "The request could not be read."), status=400)
    return html_bad_request(request, exception)


def not_found(request, exception=None):
    if request.path.startswith("/api/"):
        return json_not_found(request, exception)
    return page_not_found(request, exception)


def server_error(request):
    if request.path.startswith("/api/"):
        return json_server_error(request)
    return html_server_error(request)


def not_here(request, *args, **kwargs):
    """A page a library offers that this product does not (config/urls_practice.py): a plain 404."""
    return not_found(request)
