"""Small helpers the staff pages of every app share."""

from django.http import HttpRequest

from .errors import DomainError


def query_string(request: HttpRequest, **changes) -> str:
    """The current query string with `changes` applied (None removes a key), for page and filter links."""
    params = request.GET.copy()
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = value
    return params.urlencode()


def add_domain_error(form, error: DomainError) -> None:
    """Show a refusal of the rules on the form: on the field it names, or on the whole form."""
    form.add_error(error.field if error.field in form.fields else None, error.message)
