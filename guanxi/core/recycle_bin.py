"""The recycle bin (回收站): which record types have one, the binned records a user may act on, and
the one filter definition of a type's bin, shared by its page (``views.recycle_bin``) and the API
(``GET /api/v1/recycle-bin``).

A bin is read one type at a time, newest deletion first, by keyset pages on ``(deleted_at, id)``:
the big tables keep a partial index of their binned rows for it (``customers.models.binned_indexes``),
the others the mixin's ``deleted_at`` index. Bringing records back or removing them for good, one or
many, goes through the bulk actions ``restore`` and ``purge`` (``core.bulk``), each record through
its resource's restore service or ``services.record_purge``.
"""

from __future__ import annotations

import datetime
import functools
from typing import Any

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.core.choices import Action
from guanxi.core.errors import FieldErrors
from guanxi.core.filters import RELATIVE_VALUES, FilterSet
from guanxi.core.permissions import may_reach, restrict_queryset
from guanxi.core.registry import Resource, resources

#: Binned records counted at most per type for the page's tabs: the count reads the binned index
#: alone, and past this it says "999+".
COUNT_CAP = 999


def bin_resources() -> list[Resource]:
    """Resources with a recycle bin (soft delete through the generic services)."""
    return [r for r in resources() if r.soft_delete and not r.read_only and hasattr(r.model, "all_objects")]


def bin_resource(path: str) -> Resource | None:
    """The resource at ``path`` when it has a recycle bin."""
    return next((r for r in bin_resources() if r.path == path), None)


def bin_resource_of_type(object_type: str) -> Resource | None:
    """The resource of ``object_type`` ("app.model") when it has a recycle bin."""
    return next((r for r in bin_resources() if r.object_type == object_type), None)


def bin_types(user: Any) -> list[Resource]:
    """The bins the user may act in: types whose records could reach them for "delete" (no query)."""
    return [r for r in bin_resources() if may_reach(user, r.model, Action.DELETE)]


def in_bin(model: type[models.Model]) -> models.QuerySet:
    """Every binned record of ``model`` (before ``restrict``)."""
    return model.all_objects.filter(deleted_at__isnull=False)  # type: ignore[attr-defined]


def binned(model: type[models.Model], user: Any, action: str = Action.DELETE) -> models.QuerySet:
    """The binned records of ``model`` that ``user`` may ``action``: restoring and purging take "delete"."""
    return restrict_queryset(in_bin(model), user, action)


def name_field(resource: Resource) -> str:
    """The field a bin's search reads: the first the type's own list searches (a company's name, a
    person's display name, a note's text)."""
    fields = resource.filterset.search_fields
    return fields[0] if fields else ""


def binned_count(resource: Resource, user: Any) -> int:
    """How many binned records of the type the user may act on, counted up to ``COUNT_CAP`` + 1."""
    return binned(resource.model, user)[: COUNT_CAP + 1].count()


class BinFilterSet(FilterSet):
    """A type's recycle bin: its name (``search=``, contained, in the binned rows only), who deleted
    (``deleted_by=me`` or ids), since when (``deleted_at__gte``) or on which day (``deleted_on``, in
    the site's time zone). Sorted by the time of deletion only, which the binned index holds."""

    search_index = False  # binned records are out of the search index (``services.record_delete``)
    filters = {"deleted_by": ("exact", "in"), "deleted_at": ("gte", "lt"), "deleted_on": ("exact",)}
    ordering_fields = ("deleted_at", "id")
    default_ordering = "-deleted_at"
    relative_values = {"deleted_by": RELATIVE_VALUES["owner"]}

    def custom_filter(self, qs: models.QuerySet, name: str, lookup: str, raw: str) -> models.QuerySet:
        if name != "deleted_on":
            return super().custom_filter(qs, name, lookup, raw)
        try:
            day = datetime.date.fromisoformat(raw.strip())
            start = timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))
            end = start + datetime.timedelta(days=1)
            for moment in (start, end):  # 0001-01-01 and 9999-12-31 have no such time in UTC, as stored
                moment.astimezone(datetime.UTC)
        except (ValueError, OverflowError):
            raise FieldErrors({"deleted_on": [_("Use a date like 2026-01-31.")]}) from None
        return qs.filter(deleted_at__gte=start, deleted_at__lt=end)


def bin_filterset(resource: Resource) -> type[FilterSet]:
    """The bin's filter set for ``resource`` (its name field searched)."""
    return _filterset(resource.model, name_field(resource))


@functools.cache
def _filterset(model: type[models.Model], name: str) -> type[FilterSet]:
    return type(
        f"{model.__name__}BinFilterSet", (BinFilterSet,), {"model": model, "search_fields": (name,) if name else ()}
    )


def bin_query(resource: Resource, user: Any, params: Any, *, strict: bool = True) -> tuple[models.QuerySet, str]:
    """The binned records of the type the user may act on, filtered by ``params``, and their order."""
    return bin_filterset(resource)(params, user, strict=strict).apply(binned(resource.model, user))
