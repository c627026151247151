"""The 客户分布 and 联系人分布 pages (``/customers/accounts/breakdown/``, ``/customers/contacts/breakdown/``):
the list's records, with its filters and saved view, counted by one field at a time; each value links
to the list narrowed to it.

The figures come from ``customers.breakdown``, as the API's (``GET /api/v1/accounts/breakdown``,
``GET /api/v1/contacts/breakdown``) do; one view serves both, configured by the breakdown's spec.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views import View

from guanxi.core.choices import Action
from guanxi.core.errors import FieldErrors
from guanxi.core.exports import CONTENT_TYPES, as_download, escape_cell, report_file
from guanxi.core.filters import record_id
from guanxi.core.models import SavedView
from guanxi.core.permissions import may_reach
from guanxi.core.registry import resource_at
from guanxi.core.views import display
from guanxi.core.views.base import GuanxiViewMixin, resource_url
from guanxi.core.views.lists import ObjectListView
from guanxi.customers.breakdown import (
    ACCOUNTS,
    CONTACTS,
    OWN_PARAMS,
    Breakdown,
    BreakdownSpec,
    Dimension,
    breakdown_dimensions,
    record_breakdown,
)

#: Parameters of the list that say how it looks, not which records: not carried to the row links.
PAGING = ("cursor",)
#: ``?format=`` of a download of the figures shown.
FORMATS = ("xlsx", "csv")


def _url(base: str, params: QueryDict, **changes: str) -> str:
    query = params.copy()
    for key in PAGING:
        query.pop(key, None)
    for key, value in changes.items():
        query[key] = value
    return f"{base}?{query.urlencode()}" if query else base


class BreakdownView(GuanxiViewMixin, View):
    """客户分布 / 联系人分布: counts per value of the chosen field (``by``), the list's filters applied.
    ``spec`` says which records; ``template_name`` words the page for them."""

    spec: BreakdownSpec = ACCOUNTS
    template_name = "customers/account_breakdown.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        spec = self.spec
        if not may_reach(user, spec.model, Action.VIEW):
            raise DjangoPermissionDenied()  # as the list answers
        resource = resource_at(spec.path)
        # The list's saved view (?view=), whose filters the request's own override, as on the list.
        view_id = record_id(request.GET.get("view", ""))
        active_view = (
            SavedView.objects.filter(Q(user_id=user.pk) | Q(shared=True), object_type=resource.object_type)
            .filter(pk=view_id)
            .first()
            if view_id
            else None
        )
        params = ObjectListView.effective_params(request.GET, active_view)
        fmt = params.pop("format", [""])[-1]
        dimensions = breakdown_dimensions(spec, user)
        errors: list[str] = []
        by = params.get("by") or ""
        dimension = next((d for d in dimensions if d.key == by), dimensions[0] if dimensions else None)
        if by and (dimension is None or dimension.key != by):
            errors.append(str(spec.refused) % {"by": by[:50]})
        breakdown = self._breakdown(user, params, dimension, errors) if dimension else None
        # Links keep the request's own parameters (the saved view too), less those refused.
        link_params = request.GET.copy()
        for key in [*OWN_PARAMS, *(k for k in link_params if k != "view" and k not in params)]:
            link_params.pop(key, None)
        if fmt in FORMATS and breakdown is not None and dimension is not None and not errors:
            # The figures as shown (as 公海统计's download is): counts, not records.
            return breakdown_download(spec, breakdown, fmt)
        list_url = resource_url(resource, "list") or "/"
        here = request.path
        rows = []
        if breakdown is not None:
            for item in breakdown.items:
                rows.append(
                    {
                        "item": item,
                        "share": item.share(breakdown.total),
                        "url": _url(list_url, link_params, **item.filters),
                    }
                )
        context = {
            "active_view": active_view,
            "dimension": dimension,
            "dimensions": [
                {"key": d.key, "label": d.title(), "url": _url(here, link_params, by=d.key), "active": d == dimension}
                for d in dimensions
            ],
            "breakdown": breakdown,
            "rows": rows,
            "others_share": round(100 * breakdown.others / breakdown.total) if breakdown and breakdown.total else 0,
            "list_url": _url(list_url, link_params),
            "filtered": any(key not in ("view", "columns", "ordering", "cursor", "limit") for key in link_params),
            "errors": errors,
            "downloads": [(f, _url(here, link_params, by=dimension.key, format=f)) for f in FORMATS]
            if breakdown is not None and dimension is not None
            else [],
        }
        return render(request, self.template_name, context)

    def _breakdown(self, user: Any, params: QueryDict, dimension: Dimension, errors: list[str]) -> Breakdown:
        """Counted as the list shows them: a refused filter is said and dropped, the rest applied."""
        spec = self.spec
        for _attempt in range(4):
            try:
                return record_breakdown(spec, user, params, dimension, strict=False)
            except FieldErrors as exc:
                dropped = [key for key in exc.errors if key in params]
                errors.extend(
                    f"{display.field_label(spec.model, key.split('__')[0])}: {message}"
                    for key in exc.errors
                    for message in exc.errors[key]
                )
                for key in dropped or [k for k in params if k not in OWN_PARAMS]:
                    params.pop(key)
        return record_breakdown(spec, user, QueryDict(), dimension, strict=False)


def breakdown_download(spec: BreakdownSpec, breakdown: Breakdown, fmt: str) -> HttpResponse:
    """The figures of the page as Excel or CSV: each value, its count and share, the others, the total
    (客户分布_行业_2026-12-07.xlsx). Labels are escaped as every export's cells are."""
    dimension = breakdown.dimension
    rows: list[list[Any]] = [
        [escape_cell(item.label), item.count, item.share(breakdown.total)] for item in breakdown.items
    ]
    if breakdown.others:
        others = ngettext("%(count)s other value", "%(count)s other values", breakdown.others_values) % {
            "count": breakdown.others_values
        }
        rows.append([others, breakdown.others, round(100 * breakdown.others / breakdown.total)])
    rows.append([_("Total"), breakdown.total, 100 if breakdown.total else 0])
    title = f"{spec.title} · {dimension.title()}"
    header = [dimension.title(), _("Count"), _("Share (%)")]
    response = HttpResponse(report_file(fmt, [(title, header, rows)]), content_type=CONTENT_TYPES[fmt])
    day = timezone.localdate().isoformat()
    name = f"{spec.title}_{dimension.title()}_{day}.{fmt}"
    as_download(response, name, f"{spec.path}-breakdown_{dimension.key}_{day}.{fmt}")
    return response


urlpatterns = [
    path("customers/accounts/breakdown/", BreakdownView.as_view(), name="accounts-breakdown"),
    path(
        "customers/contacts/breakdown/",
        BreakdownView.as_view(spec=CONTACTS, template_name="customers/contact_breakdown.html"),
        name="contacts-breakdown",
    ),
]
