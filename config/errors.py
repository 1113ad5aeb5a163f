"""Error pages: JSON under /api/, HTML elsewhere."""

from django.views.defaults import page_not_found
from django.views.defaults import server_error as html_server_error

from config.api_errors import json_not_found, json_server_error


def not_found(request, exception=None):
    if request.path.startswith("/api/"):
        return json_not_found(request, exception)
    return page_not_found(request, exception)


def server_error(request):
    if request.path.startswith("/api/"):
        return json_server_error(request)
    return html_server_error(request)
