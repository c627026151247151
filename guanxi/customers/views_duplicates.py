"""Pages of the duplicates part: the review queue, the side-by-side merge form, a merge's result (with
undo), "find duplicates" from a record's page, and the redirect from a merged record to its merge.

Reads start from ``restrict``; writes go through ``guanxi.customers.services.merge`` (and detection).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from guanxi.core.choices import Action
from guanxi.core.errors import Conflict, FieldErrors
from guanxi.core.merge import attached_counts
from guanxi.core.pagination import paginate
from guanxi.core.permissions import hidden_fields, may_reach, restricted
from guanxi.core.registry import resource_for
from guanxi.core.views import display
from guanxi.core.views.base import GuanxiViewMixin, resource_url, safe_next
from guanxi.customers.api_duplicates import (
    TYPES,
    account_names,
    candidates_visible,
    elsewhere_asked,
    involving,
    matches_asked,
)
from guanxi.customers.duplicates import duplicates_detect, reason_text
from guanxi.customers.models import Contact, DuplicateStatus, MergedRecord, MergeStatus
from guanxi.customers.services import merge as merge_services

PAGE_SIZE = 25

FIELD_LABELS: dict[str, Any] = {
    "address": gettext_lazy("Address"),
    "annual_revenue": gettext_lazy("Annual revenue"),
    "tier": gettext_lazy("Tier"),
    "owner": gettext_lazy("Owner"),
    "team": gettext_lazy("Team"),
    "parent": gettext_lazy("Parent account"),
}


def _type(request: HttpRequest, source: Any = None) -> tuple[str, str, type[Any]]:
    raw = (source or {}).get("type") or request.GET.get("type") or "contacts"
    if raw not in TYPES:
        raise Http404()
    record_type = TYPES[raw]
    return raw, record_type, merge_services.model_for(record_type)


def _detail_url(model: type[models.Model], pk: Any) -> str | None:
    resource = resource_for(model)
    return resource_url(resource, "detail", pk) if resource else None


class DuplicateListView(GuanxiViewMixin, View):
    """``/customers/duplicates/``: possible duplicates of one type, the pairs whose two records the user sees."""

    def get(self, request: HttpRequest) -> HttpResponse:
        type_param, record_type, model = _type(request)
        if not may_reach(request.user, model, Action.VIEW):
            raise DjangoPermissionDenied()
        status = request.GET.get("status") or DuplicateStatus.OPEN
        if status not in DuplicateStatus.values:
            status = DuplicateStatus.OPEN
        qs = candidates_visible(request.user, record_type).filter(status=status)
        record = request.GET.get("record", "")
        if record.isdigit():
            qs = involving(qs, record_type, int(record))
        try:
            page = paginate(qs, "-id", request.GET.get("cursor") or None, PAGE_SIZE)
        except FieldErrors:
            page = paginate(qs, "-id", None, PAGE_SIZE)
        ids = sorted({pk for c in page.items for pk in (c.low_id, c.high_id)})
        hidden = hidden_fields(request.user, model)
        records = {o.pk: o for o in restricted(model, request.user, Action.VIEW).filter(pk__in=ids)}
        companies = account_names(page.items, request.user)
        rows = []
        for candidate in page.items:
            pair = [records.get(candidate.low_id), records.get(candidate.high_id)]
            rows.append(
                {
                    "candidate": candidate,
                    "records": [
                        {"obj": obj, "url": _detail_url(model, obj.pk), "lines": _summary(obj, hidden)}
                        for obj in pair
                        if obj is not None
                    ],
                    "reasons": [reason_text(r, companies) for r in candidate.reasons or [] if isinstance(r, dict)],
                    "merge_url": merge_url(type_param, candidate),
                }
            )
        base = reverse("ui:duplicates-list")
        context = {
            "type_param": type_param,
            "record_type": record_type,
            "status": status,
            "statuses": DuplicateStatus.choices,
            "rows": rows,
            "record": record if record.isdigit() else "",
            "tabs": [
                {"param": p, "label": model_label, "url": f"{base}?type={p}&status={status}", "active": p == type_param}
                for p, model_label in (("contacts", _("Contacts")), ("accounts", _("Accounts")))
            ],
            "next_url": f"{base}?type={type_param}&status={status}&cursor={page.next_cursor}"
            + (f"&record={record}" if record.isdigit() else "")
            if page.next_cursor
            else None,
            "list_url": base,
        }
        return render(request, "customers/duplicate_list.html", context)


def merge_url(type_param: str, candidate: Any) -> str:
    """The side-by-side merge form of one pair."""
    return f"{reverse('ui:duplicates-merge')}?type={type_param}&ids={candidate.low_id},{candidate.high_id}"


def _summary(obj: Any, hidden: set[str]) -> list[str]:
    """A line or two that tells two records apart in the queue (what the user may see)."""
    lines: list[str] = []
    if isinstance(obj, Contact):
        if obj.title and "title" not in hidden:
            lines.append(obj.title)
        if obj.emails and "emails" not in hidden:
            lines.append(obj.emails[0]["value"])
        if obj.phones and "phones" not in hidden:
            lines.append(obj.phones[0]["value"])
    else:
        for name in ("city", "website"):
            if getattr(obj, name) and name not in hidden:
                lines.append(getattr(obj, name))
    return lines


#: How many possible duplicates a record's page names; the queue has the rest.
ALERT_LIMIT = 3


def duplicate_alert(obj: Any, user: Any) -> dict[str, Any] | None:
    """The open possible duplicates of one record that the user may see, for a notice on its page.

    Found when the record was created, imported or renamed; without this notice they waited in a
    queue few people open. Two queries: the pairs (by the pair indexes) and the other records."""
    model = type(obj)
    type_param = "contacts" if model is Contact else "accounts"
    if not may_reach(user, model, Action.VIEW):
        return None
    open_pairs = candidates_visible(user, TYPES[type_param]).filter(status=DuplicateStatus.OPEN)
    pairs = list(involving(open_pairs, TYPES[type_param], obj.pk).order_by("-score", "-id")[: ALERT_LIMIT + 1])
    if not pairs:
        return None
    shown = pairs[:ALERT_LIMIT]
    others = {c.high_id if c.low_id == obj.pk else c.low_id: c for c in shown}
    records = {o.pk: o for o in restricted(model, user, Action.VIEW).filter(pk__in=others)}
    companies = account_names(shown, user)
    rows = [
        {
            "candidate": candidate,
            "obj": records[pk],
            "url": _detail_url(model, pk),
            "reasons": [reason_text(r, companies) for r in candidate.reasons or [] if isinstance(r, dict)],
            "merge_url": merge_url(type_param, candidate),
        }
        for pk, candidate in others.items()
        if pk in records
    ]
    return {
        "rows": rows,
        "more": len(pairs) > ALERT_LIMIT,
        "queue_url": f"{reverse('ui:duplicates-list')}?type={type_param}&record={obj.pk}",
    }


class DuplicateCheckView(GuanxiViewMixin, View):
    """GET from the add/edit form, as the user types (htmx): the records the one being written may
    duplicate, before it is saved. Contacts by email, phone and name at the chosen company, accounts
    by name; records the user may see, and (by exact keys, as the role says) whose the others are."""

    def get(self, request: HttpRequest, type_param: str) -> HttpResponse:
        if type_param not in TYPES:
            raise Http404()
        model = merge_services.model_for(TYPES[type_param])
        if not may_reach(request.user, model, Action.VIEW):
            raise DjangoPermissionDenied()
        matches = matches_asked(request.user, model, request.GET)
        rows = [{"obj": obj, "url": _detail_url(model, obj.pk), "reasons": reasons} for obj, reasons in matches]
        elsewhere = elsewhere_asked(request.user, model, request.GET)
        return render(request, "customers/duplicate_check.html", {"matches": rows, "elsewhere": elsewhere})


class DuplicateDismissView(GuanxiViewMixin, View):
    """POST: "not a duplicate"."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        candidate = merge_services.duplicate_dismiss(candidate_id=pk, user=request.user)
        messages.success(request, _("Marked as not a duplicate; it will not be suggested again."))
        type_param = "contacts" if candidate.record_type == "contact" else "accounts"
        return redirect(safe_next(request, f"{reverse('ui:duplicates-list')}?type={type_param}"))


class DuplicateFindView(GuanxiViewMixin, View):
    """POST from a record's page: look for its duplicates now, then show them."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, type_param: str, pk: int) -> HttpResponse:
        if type_param not in TYPES:
            raise Http404()
        model = merge_services.model_for(TYPES[type_param])
        if not restricted(model, request.user, Action.VIEW).filter(pk=pk).exists():
            raise Http404()
        found = duplicates_detect(model, [pk])
        open_pairs = candidates_visible(request.user, TYPES[type_param]).filter(status=DuplicateStatus.OPEN)
        total = involving(open_pairs, TYPES[type_param], pk).count()
        if total:
            messages.info(
                request, _("%(count)s possible duplicates to review (%(new)s new).") % {"count": total, "new": found}
            )
        else:
            messages.info(request, _("No possible duplicates found."))
        return redirect(f"{reverse('ui:duplicates-list')}?type={type_param}&record={pk}")


def _value_text(model: type[models.Model], obj: Any, name: str, columns: tuple[str, ...]) -> str:
    if name == "address":
        parts = [getattr(obj, c) for c in ("province", "city", "district", "street", "postal_code") if getattr(obj, c)]
        return " ".join(parts) if parts else "—"
    if name.endswith("_consent"):
        flag = getattr(obj, columns[0])
        source = getattr(obj, columns[1])
        text = _("Yes") if flag else _("No")
        return f"{text} ({source})" if source else str(text)
    if name.startswith("cf."):
        value = (getattr(obj, "custom_fields", None) or {}).get(name[3:])
        return display.plain_value(value) if value not in (None, "") else "—"
    value = display.field_value(obj, _field_name(model, columns[0]), truncate=80)
    return value if value not in (None, "") else "—"


def _field_label(model: type[models.Model], name: str, columns: tuple[str, ...]) -> str:
    if name in FIELD_LABELS:
        return str(FIELD_LABELS[name])
    if name.startswith("cf."):
        from guanxi.core.custom_fields import definitions_for

        labels = {d.key: d.label for d in definitions_for(model)}
        return labels.get(name[3:], name[3:])
    return str(display.field_label(model, _field_name(model, columns[0])))


def _field_name(model: type[models.Model], column: str) -> str:
    """The field a column belongs to (``owner_id`` → ``owner``; ``external_id`` stays)."""
    for field in model._meta.concrete_fields:
        if field.attname == column:
            return field.name
    return column


class MergeView(GuanxiViewMixin, View):
    """``/customers/duplicates/merge/?type=contacts&ids=1,2[,3]``: choose the record to keep and each value."""

    def records(self, request: HttpRequest, source: Any) -> tuple[str, type[Any], list[Any]]:
        type_param, _record_type, model = _type(request, source)
        raw = str(source.get("ids") or request.GET.get("ids") or "")
        try:
            ids = list(dict.fromkeys(int(part) for part in raw.split(",") if part.strip()))
        except ValueError:
            raise Http404() from None
        if not 2 <= len(ids) <= 1 + merge_services.MAX_OTHERS:
            raise Http404()
        found = {o.pk: o for o in restricted(model, request.user, Action.VIEW).filter(pk__in=ids)}
        if len(found) != len(ids):
            raise Http404()
        return type_param, model, [found[pk] for pk in ids]

    def context(
        self, request: HttpRequest, type_param: str, model: type[Any], objs: list[Any], errors: dict[str, list[str]]
    ) -> dict[str, Any]:
        data = request.POST if request.method == "POST" else {}
        survivor = int(data.get("survivor") or objs[0].pk) if str(data.get("survivor", "")).isdigit() else objs[0].pk
        others = [o for o in objs if o.pk != survivor] or objs[1:]
        survivor_obj = next((o for o in objs if o.pk == survivor), objs[0])
        try:
            defaults, _values = merge_services.merge_plan(model, survivor_obj, others, {}, request.user)
        except FieldErrors:
            defaults = {}
        hidden = hidden_fields(request.user, model)
        groups = dict(merge_services.merge_fields(model))
        for key in sorted({k for o in objs for k in (getattr(o, "custom_fields", None) or {})}):
            if "custom_fields" not in hidden:
                groups[f"cf.{key}"] = ("custom_fields",)
        rows = []
        for name, columns in groups.items():
            if any(c.removesuffix("_id") in hidden for c in columns):
                continue
            values = [(o, _value_text(model, o, name, columns)) for o in objs]
            chosen = str(data.get(f"f_{name}") or defaults.get(name, survivor))
            rows.append(
                {
                    "name": name,
                    "label": _field_label(model, name, columns),
                    "same": len({text for _o, text in values}) == 1,
                    "options": [{"obj": o, "text": text, "checked": str(o.pk) == chosen} for o, text in values],
                    "errors": errors.get(f"fields.{name}", []),
                }
            )
        union = []
        if model is Contact:
            union = [
                {"label": _("Emails"), "values": sorted({p["value"] for o in objs for p in o.emails or []})},
                {"label": _("Phones"), "values": sorted({p["value"] for o in objs for p in o.phones or []})},
            ]
            union = [u for u in union if u["values"] and u["label"]]
        return {
            "type_param": type_param,
            "objs": [
                {
                    "obj": o,
                    "url": _detail_url(model, o.pk),
                    "survivor": o.pk == survivor,
                    # What hangs on it, all kept whichever record is kept: what a merge will move.
                    "attached": attached_counts(model, o.pk),
                }
                for o in objs
            ],
            "ids": ",".join(str(o.pk) for o in objs),
            "rows": rows,
            "union": union,
            "errors": {k: v for k, v in errors.items() if not k.startswith("fields.")},
            "queue_url": f"{reverse('ui:duplicates-list')}?type={type_param}",
            "verbose_name_plural": model._meta.verbose_name_plural,
        }

    def get(self, request: HttpRequest) -> HttpResponse:
        type_param, model, objs = self.records(request, request.GET)
        return render(request, "customers/merge_form.html", self.context(request, type_param, model, objs, {}))

    def post(self, request: HttpRequest) -> HttpResponse:
        type_param, model, objs = self.records(request, request.POST)
        ids = [o.pk for o in objs]
        survivor_raw = request.POST.get("survivor", "")
        if not survivor_raw.isdigit() or int(survivor_raw) not in ids:
            context = self.context(request, type_param, model, objs, {"survivor": [_("Choose the record to keep.")]})
            return render(request, "customers/merge_form.html", context, status=400)
        survivor = int(survivor_raw)
        posted: dict[str, Any] = request.POST.dict()
        fields = {
            key[2:]: value
            for key, value in posted.items()
            if key.startswith("f_") and value.isdigit() and int(value) != survivor
        }
        service = merge_services.contact_merge if model is Contact else merge_services.account_merge
        try:
            merge = service(
                survivor=survivor, others=[pk for pk in ids if pk != survivor], user=request.user, fields=fields
            )
        except FieldErrors as exc:
            context = self.context(request, type_param, model, objs, exc.errors)
            return render(request, "customers/merge_form.html", context, status=400)
        messages.success(request, _("Merged. You can undo the merge from this page."))
        return redirect(reverse("ui:merges-detail", args=[merge.pk]))


class MergeDetailView(GuanxiViewMixin, View):
    """``/customers/merges/<id>/``: what was merged into what, the values chosen, and undo."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        merge = merge_services.merge_visible(request.user, pk)
        model = merge_services.model_for(merge.record_type)
        records = {o.pk: o for o in model.all_objects.filter(pk__in=[merge.survivor_id, *merge.loser_ids])}
        survivor = records.get(merge.survivor_id)
        problem = merge_services.merge_undo_problem(merge)
        groups = merge_services.merge_fields(model)
        chosen = [
            {
                "label": _field_label(model, name, groups.get(name, ("custom_fields",))),
                "record": records.get(source),
                "kept": source == merge.survivor_id,
            }
            for name, source in (merge.fields or {}).items()
            if source != merge.survivor_id and name.split(".")[0] not in hidden_fields(request.user, model)
        ]
        context = {
            "merge": merge,
            "type_param": "contacts" if merge.record_type == "contact" else "accounts",
            "survivor": survivor,
            "survivor_url": _detail_url(model, merge.survivor_id) if survivor and survivor.deleted_at is None else None,
            "others": [{"obj": records.get(pk), "pk": pk} for pk in merge.loser_ids],
            "chosen": chosen,
            "done": merge.status == MergeStatus.DONE,
            "undo_problem": problem,
            "recycle_bin_url": reverse("ui:recycle-bin"),
        }
        return render(request, "customers/merge_detail.html", context)


class MergeUndoView(GuanxiViewMixin, View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        merge = merge_services.merge_visible(request.user, pk)
        try:
            merge_services.merge_undo(merge_id=merge.pk, user=request.user)
        except Conflict as exc:
            messages.error(request, exc.detail)
            return redirect(reverse("ui:merges-detail", args=[merge.pk]))
        messages.success(request, _("The merge was undone; the merged records are back."))
        return redirect(reverse("ui:merges-detail", args=[merge.pk]))


class MergedRedirectMixin:
    """On a record page: a record merged into another (and in the recycle bin) leads to its merge."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        try:
            return super().get(request, pk)  # type: ignore[misc]
        except Http404:
            model = self.resource.model  # type: ignore[attr-defined]
            record_type = merge_services.record_type_of(model)
            merge_id = (
                MergedRecord.objects.filter(
                    record_type=record_type, record_id=pk, is_survivor=False, merge__status=MergeStatus.DONE
                )
                .order_by("-merge_id")
                .values_list("merge_id", flat=True)
                .first()
            )
            if merge_id is None or not model.all_objects.filter(pk=pk, deleted_at__isnull=False).exists():
                raise
            merge = merge_services.merge_visible(request.user, merge_id)  # 404 unless the survivor is visible
            messages.info(request, _("This record was merged into another one and is in the recycle bin."))
            return redirect(reverse("ui:merges-detail", args=[merge.pk]))


urlpatterns = [
    path("customers/duplicates/", DuplicateListView.as_view(), name="duplicates-list"),
    path("customers/duplicates/merge/", MergeView.as_view(), name="duplicates-merge"),
    path("customers/duplicates/<int:pk>/dismiss/", DuplicateDismissView.as_view(), name="duplicates-dismiss"),
    path("customers/duplicates/find/<slug:type_param>/<int:pk>/", DuplicateFindView.as_view(), name="duplicates-find"),
    path("customers/duplicates/check/<slug:type_param>/", DuplicateCheckView.as_view(), name="duplicates-check"),
    path("customers/merges/<int:pk>/", MergeDetailView.as_view(), name="merges-detail"),
    path("customers/merges/<int:pk>/undo/", MergeUndoView.as_view(), name="merges-undo"),
]

__all__ = ["MergedRedirectMixin", "urlpatterns"]
