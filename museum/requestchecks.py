"""Refuse requests that no view can answer sensibly, before any view runs.

A NUL byte can never be part of a slug, a filter value or a search: PostgreSQL
text cannot hold one, so a query that compares with it fails inside the
database driver (a 500 on every page that filters by a GET value). Refusing
them here, once, covers every admin filter, every room slug and every view
added later, instead of each view validating its own parameters.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest


class RefuseNulBytesMiddleware:
    """400 for a path or query parameter that holds a NUL byte (``%00``).

    Form bodies are left to the forms: Django's ``CharField`` already refuses
    NUL with a field error.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path:
            return _refused("The address contains a NUL byte (%00); remove it and try again.")
        for name, values in request.GET.lists():
            if "\x00" in name or any("\x00" in value for value in values):
                return _refused(
                    f"The query parameter {name.replace(chr(0), '%00')!r} contains a NUL byte (%00); "
                    "remove it and try again."
                )
        return self.get_response(request)


def _refused(message: str) -> HttpResponse:
    return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
