"""An admin change list whose date-hierarchy filter refuses impossible dates.

Django's ChangeList turns ``?created__year=abc`` into "invalid filter" (the
admin then redirects to ``?e=1``), but a year past 9999 or a day that ends
after 9999-12-31 escapes as OverflowError/ValueError and becomes a 500.
Mapping those to IncorrectLookupParameters gives them the same treatment.
"""

from __future__ import annotations

from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.http import HttpRequest


class BoundedDateChangeList(ChangeList):
    def get_filters(self, request: HttpRequest):
        try:
            return super().get_filters(request)
        except (OverflowError, ValueError) as exc:
            # The date hierarchy's arithmetic: datetime(99999999999, 1, 1), year 9999 + 1.
            raise IncorrectLookupParameters(exc) from exc


class BoundedDateHierarchyMixin:
    """For every ModelAdmin with a ``date_hierarchy``."""

    def get_changelist(self, request: HttpRequest, **kwargs) -> type[ChangeList]:
        return BoundedDateChangeList
