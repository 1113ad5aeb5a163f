"""Public uploads served by the app itself (whitenoise serves static files only).

A practice's host serves its own logos and reward pictures, the platform host the platform's; nothing
else: not another practice's folder, not a private file, not a type outside the image allow-list.
"""

from django.db import connection
from django.http import FileResponse, Http404, HttpResponseNotModified
from django.utils.http import http_date
from django.views.decorators.http import require_safe
from django.views.static import was_modified_since

from .media import public_file

# Stored names are never reused for other content (new uploads get new names), so a day is safe.
CACHE_SECONDS = 24 * 3600


@require_safe
def media(request, path: str):
    found = public_file(folder=connection.schema_name, path=path)
    if found is None:
        raise Http404("No such picture.")
    file, content_type = found
    stat = file.stat()
    if not was_modified_since(request.META.get("HTTP_IF_MODIFIED_SINCE"), stat.st_mtime):
        response = HttpResponseNotModified()
    else:
        response = FileResponse(file.open("rb"), content_type=content_type)
    response["Last-Modified"] = http_date(stat.st_mtime)
    response["Cache-Control"] = f"public, max-age={CACHE_SECONDS}"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = "inline"
    return response
