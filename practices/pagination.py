"""How the API's lists come in pages (docs/api.md, "Lists and pages").

Every list takes `page_size` (default 50, the `PAGE_SIZE` of settings.REST_FRAMEWORK). A size above
MAX_PAGE_SIZE is served as MAX_PAGE_SIZE rather than refused, so a client asking for "everything" still gets
the most a page holds; a size that is not a positive whole number is the default (DRF's own reading of it).

- PageNumberPagination (the default of every list): `?page=2`; the body is `{"count", "next", "previous",
  "results"}`.
- CursorPagination (the POS lists): `?cursor=` taken from `next`; the body is `{"next", "previous",
  "results"}`. Ordered by id ascending, so a POS reads forward from where it stopped: rows added meanwhile
  come on later pages (ids only grow), none is skipped or repeated. A cursor we did not make answers 404
  (DRF's "Invalid cursor").
"""

from rest_framework import pagination
from rest_framework.exceptions import NotFound

MAX_PAGE_SIZE = 200
BIGINT_MAX = 2**63 - 1


class PageNumberPagination(pagination.PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE


class CursorPagination(pagination.CursorPagination):
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
    ordering = "id"

    def decode_cursor(self, request):
        cursor = super().decode_cursor(request)
        # The position is an id, and DRF puts it in the query as the cursor says: a forged cursor holding
        # anything else is refused like any other cursor we did not make (DRF's 404), not left to the database.
        if cursor is not None and cursor.position is not None and not _is_id(cursor.position):
            raise NotFound(self.invalid_cursor_message)
        return cursor


def _is_id(value: str) -> bool:
    return value.isascii() and value.isdigit() and len(value) <= 19 and int(value) <= BIGINT_MAX
