"""One JSON shape for every API error: {"error": {"code", "message", "fields"}}."""

from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from practices.errors import DomainError, error_body

__all__ = ["error_body", "exception_handler", "json_not_found"]


def _first_message(detail) -> str:
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    if isinstance(detail, dict) and detail:
        return _first_message(next(iter(detail.values())))
    return str(detail)


def _fields(detail) -> dict:
    if not isinstance(detail, dict):
        return {}
    return {
        name: [str(item) for item in (value if isinstance(value, list) else [value])] for name, value in detail.items()
    }


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        fields = {exc.field: [exc.message]} if exc.field else {}
        return Response(error_body(exc.code, exc.message, fields), status=exc.status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    detail = exc.detail if isinstance(exc, exceptions.APIException) else response.data
    if isinstance(exc, exceptions.ValidationError):
        fields = _fields(detail)
        message = "Some fields are not valid." if fields else _first_message(detail)
        code = "invalid"
    elif isinstance(exc, exceptions.Throttled):
        # DRF has set Retry-After (whole seconds); the message says the same to people.
        fields = {}
        wait = response.get("Retry-After")
        message = "Too many requests. " + (
            f"Please try again in {wait} second{'' if wait == '1' else 's'}." if wait else "Please try again later."
        )
        code = "rate_limited"
    else:
        fields = {}
        message = _first_message(detail)
        code = getattr(exc, "default_code", "error")
        if isinstance(exc.detail, exceptions.ErrorDetail):
            code = exc.detail.code or code
    response.data = error_body(code, message, fields)
    return response


def json_not_found(request, exception=None):
    return JsonResponse(error_body("not_found", "Not found."), status=404)


def json_server_error(request):
    return JsonResponse(error_body("server_error", "Something went wrong on our side."), status=500)


class JsonTooDeep:
    """Middleware: a JSON body nested deeper than Python's decoder goes (a RecursionError wherever it is
    parsed: DRF's parser, allauth's app API) is answered with a 400, not a 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, RecursionError) and request.content_type == "application/json":
            return JsonResponse(error_body("parse_error", "The JSON body is nested too deeply."), status=400)
        return None


class JsonApiErrors:
    """Middleware: under /api/, a 404 or 405 answered outside the API's views is the error body too.

    An unmatched /api/ path is answered by handler404 (config.errors.not_found) in JSON, but with DEBUG on Django
    answers its technical HTML page instead; a 405 from a plain Django view is an empty HTML answer. A client of
    the API reads the same shape in every case. Other paths keep their HTML pages.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code not in (404, 405) or not request.path.startswith("/api/") or _is_json(response):
            return response
        if response.status_code == 404:
            return json_not_found(request)
        # In DRF's words, as the API's own views answer a 405.
        answer = JsonResponse(error_body("method_not_allowed", f'Method "{request.method}" not allowed.'), status=405)
        if "Allow" in response:
            answer["Allow"] = response["Allow"]
        return answer


def _is_json(response) -> bool:
    content_type = response.get("Content-Type", "").split(";")[0].strip()
    return content_type == "application/json" or content_type.endswith("+json")
