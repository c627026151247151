"""The generic pages of one record: detail (with its panels), add / edit, and delete."""

from __future__ import annotations

import decimal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from django.contrib import messages
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html
from django.utils.translation import gettext as _

from guanxi.api.crud import tag_names_for
from guanxi.core import services
from guanxi.core.choices import Action, ChangeAction, choice_label
from guanxi.core.custom_fields import definitions_for
from guanxi.core.errors import FieldErrors, NotFound, PreconditionFailed
from guanxi.core.errors import PermissionDenied as ServicePermissionDenied
from guanxi.core.follows import is_following
from guanxi.core.forms import RecordForm, record_form_class
from guanxi.core.models import Attachment, ChangeLogEntry
from guanxi.core.money import money_fields
from guanxi.core.permissions import can, hidden_fields, masked_fields, restricted, unseen_references
from guanxi.core.registry import Resource
from guanxi.core.search.recent import recent_view_record
from guanxi.core.views import display
from guanxi.core.views.base import (
    ResourceView,
    delete_verb,
    may,
    resource_url,
    view_class_for,
    visible_or_404,
)
from guanxi.core.views.follows import follow_context
from guanxi.core.views.panels import timeline_context

PANEL_LIMIT = 50


@dataclass
class FieldGroup:
    """One section of a record's page. Its empty fields are named on one line instead of one "—"
    each: a contact has some thirty fields, most of them empty, and the page is read on phones.

    Rows are ``{"name", "label", "value"}``; pages may replace a row's value after the groups are
    made (a contact's emails become links), so emptiness is read when the template asks."""

    key: str
    title: Any
    rows: list[dict[str, Any]]
    folded: bool = False

    def filled(self) -> list[dict[str, Any]]:
        return [row for row in self.rows if row["value"] is not display.EMPTY]

    def unfilled(self) -> list[dict[str, Any]]:
        return [row for row in self.rows if row["value"] is display.EMPTY]


def field_groups(resource: Resource, rows: dict[str, dict[str, Any]]) -> list[FieldGroup]:
    """The resource's detail sections over the rows the user may see; the rest in a last one."""
    groups = []
    placed: set[str] = set()
    for section in resource.detail_sections:
        placed.update(section.fields, section.within)
        members = [rows[name] for name in section.fields if name in rows]
        if members:
            groups.append(FieldGroup(section.key, section.title, members, section.folded))
    rest = [row for name, row in rows.items() if name not in placed]
    if rest:
        groups.append(FieldGroup("other", _("Other") if groups else "", rest))
    return groups


def stale_message() -> str:
    return _(
        "Someone else changed this record while you were editing it, so your changes were not saved. "
        "Open the record again to see the current values, then make your change once more."
    )


EMPTY_VALUES: tuple[Any, ...] = (None, "", [], {})


def _pair(changes: dict[str, Any] | None, name: str) -> tuple[Any, Any]:
    """(before, after) of a field in a change-log entry's ``changes`` (an old entry kept the value alone)."""
    pair = (changes or {}).get(name)
    if not isinstance(pair, list):
        return None, pair
    padded = [*pair, None, None]
    return padded[0], padded[1]


def change_panel(
    entries: list[ChangeLogEntry],
    hidden: set[str],
    model: type[models.Model] | None,
    labels: dict[str, str],
    user: Any = None,
) -> list[dict[str, Any]]:
    """Change-log entries as ``field: before → after`` rows, without the fields the user may not see.

    Foreign keys are stored as ids; they are shown by name (one query per related model), but a
    record ``user`` may not see by that it is one (``unseen_ids``: a manager or parent account out of
    their reach is named in no history either); times in the user's zone, custom fields by their label.
    """
    related: dict[type[models.Model], set[Any]] = {}
    for entry in entries:
        for name, pair in (entry.changes or {}).items():
            db_field = display.model_field(model, name) if model else None
            if db_field is not None and db_field.many_to_one and isinstance(pair, list):
                related.setdefault(db_field.related_model, set()).update(v for v in pair if isinstance(v, int))  # type: ignore[arg-type]
    names = {
        (related_model, pk): name
        for related_model, ids in related.items()
        for pk, name in display.record_names(related_model, ids, user).items()
    }

    # Structured values (a person's emails, companies, relations; a rule's conditions) in words,
    # each field's prepared once for the entries shown.
    structured = display.change_fields(model)
    worded: dict[str, display.ChangeValueWords] = {}
    for name, change_field in structured.items():
        values = [value for entry in entries for value in _pair(entry.changes, name) if value not in EMPTY_VALUES]
        if values:
            worded[name] = change_field.words(values, user)

    def show(name: str, value: Any, record_id: Any = None) -> Any:
        if name in worded and value not in EMPTY_VALUES:
            return display.lines(worded[name](value, record_id))
        words = display.value_words(model, name)
        if value and words is not None:
            return words(value)
        db_field = display.model_field(model, name) if model else None
        if value is not None and db_field is not None:
            if isinstance(db_field, models.ForeignKey):
                return names.get((db_field.related_model, value), f"#{value}")
            if isinstance(db_field, models.Field) and db_field.choices:
                return choice_label(db_field, value)
            if isinstance(db_field, models.DateTimeField) and isinstance(value, str):
                parsed = parse_datetime(value)
                return display.format_datetime(parsed) if parsed else value
            if isinstance(db_field, models.DecimalField) and isinstance(value, str | int | float):
                try:
                    amount = decimal.Decimal(str(value))
                except decimal.InvalidOperation:
                    return value
                if name in money_fields(model):
                    return display.money_value(amount, exact=True)
                return display.format_decimal(amount)
        return display.plain_value(value, truncate=120)

    def labels_of(name: str) -> str:
        return display.field_label(model, name) if model else name

    panel = []
    for entry in entries:
        rows = []
        for name in sorted(entry.changes or {}):
            base = name.split(".", 1)[0]
            if name == "id" or base in hidden or (name.startswith("cf.") and "custom_fields" in hidden):
                continue
            before, after = _pair(entry.changes, name)
            if before in EMPTY_VALUES and after in EMPTY_VALUES:
                continue  # a new record's empty fields say nothing
            if name.startswith("cf."):
                label = labels.get(name[3:], name[3:])
            elif name in structured and structured[name].label is not None:
                label = str(structured[name].label)
            else:
                label = labels_of(name)
            record_id = entry.object_id
            rows.append(
                {"field": label, "before": show(name, before, record_id), "after": show(name, after, record_id)}
            )
        # A view of masked fields in full names the fields; their values were never written.
        revealed = [labels_of(name) for name in entry.changes or {}] if entry.action == ChangeAction.REVEAL else []
        panel.append({"entry": entry, "rows": rows, "revealed": revealed})
    return panel


class ObjectDetailView(ResourceView):
    """``GET /<path>/<id>/``: fields, tags, custom fields, and the timeline, files, shares, history."""

    template_suffix = "detail"
    #: How a field reads on the page when not as ``display.field_value`` (a contact's phones as tel:
    #: links), and so once a reader who sees it masked asks for it in full (``ObjectRevealView``).
    value_formats: ClassVar[dict[str, Callable[[Any], Any]]] = {}

    @classmethod
    def field_html(cls, obj: models.Model, name: str) -> Any:
        show = cls.value_formats.get(name)
        return show(obj) if show is not None else display.field_value(obj, name, truncate=None, exact=True)

    def masked_html(self, obj: models.Model, name: str) -> Any:
        """A masked field's value with the button that shows it in full (logged, see ``record_reveal``)
        when its record type allows that."""
        value = display.masked_cell(getattr(obj, name, None), every=True)
        if not getattr(self.model, "revealable", False) or value is display.EMPTY:
            return value
        context = {
            "url": reverse(f"ui:{self.resource.path}-reveal", args=[obj.pk, name]),
            "name": name,
            "value": value,
        }
        return render_to_string("generic/partials/masked_value.html", context, request=self.request)

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        obj = visible_or_404(self.model, request.user, pk, select_related=self.resource.select_related)
        recent_view_record(request.user, obj)
        return render(request, self.template_names(), self.get_context(obj))

    def get_context(self, obj: models.Model) -> dict[str, Any]:
        resource = self.resource
        user = self.request.user
        hidden = hidden_fields(user, resource.model)
        masked = masked_fields(user, resource.model)
        ct = ContentType.objects.get_for_model(resource.model, for_concrete_model=False)
        can_change = not resource.read_only and may(user, obj, Action.CHANGE)
        can_delete = not resource.read_only and may(user, obj, Action.DELETE)
        model = resource.model
        context: dict[str, Any] = {
            **self.base_context(),
            "object": obj,
            "content_type": ct,
            "can_change": can_change,
            "can_delete": can_delete,
            "delete_verb": delete_verb(resource.path),
            "edit_url": resource_url(resource, "edit", obj.pk) if can_change else None,
            "delete_url": resource_url(resource, "delete", obj.pk) if can_delete else None,
            "has_timeline": getattr(model, "has_timeline", False),
            "shareable": getattr(model, "shareable", False),
        }
        unseen = unseen_references(user, model, resource.fields, [obj])
        rows = {
            name: {
                "name": name,
                "label": display.field_label(model, name),
                "value": (
                    self.masked_html(obj, name)
                    if name in masked
                    else display.unseen_value()
                    if name in unseen
                    else self.field_html(obj, name)
                ),
            }
            for name in resource.fields
            if name not in hidden or name in masked
        }
        if resource.taggable and "tags" not in hidden:
            context["tags"] = tag_names_for(model, [obj.pk]).get(obj.pk, [])
            rows["tags"] = {"name": "tags", "label": _("Tags"), "value": display.tag_badges(context["tags"])}
        context["fields"] = list(rows.values())
        context["sections"] = field_groups(resource, rows)
        if resource.custom_fields and "custom_fields" not in hidden:
            custom = self.custom_field_rows(obj)
            context["custom_fields"] = FieldGroup("custom", "", custom) if custom else None
        if context["has_timeline"]:
            context.update(timeline_context(user, obj, ct))
            context["attachments"] = list(
                Attachment.objects.restrict(user, Action.VIEW)
                .filter(content_type=ct, object_id=obj.pk)
                .select_related("created_by")[:PANEL_LIMIT]
            )
        if context["shareable"]:
            context.update(self.share_context(obj, ct, can_change))
        if getattr(model, "followable", False):
            context["follow"] = follow_context(resource, obj.pk, is_following(user, obj))
        entries = list(
            ChangeLogEntry.objects.restrict(user, Action.VIEW)
            .filter(content_type=ct, object_id=obj.pk)
            .select_related("actor")
            .order_by("-id")[:PANEL_LIMIT]
        )
        labels = {d.key: d.label for d in definitions_for(model)} if resource.custom_fields else {}
        context["changes"] = change_panel(entries, hidden, model, labels, user=self.request.user)
        return context

    def custom_field_rows(self, obj: models.Model) -> list[dict[str, Any]]:
        values = dict(getattr(obj, "custom_fields", None) or {})
        definitions = definitions_for(self.model)
        users = display.users_by_id({values.get(d.key) for d in definitions if d.field_type == "user"} - {None})
        rows = [
            {"name": f"cf.{d.key}", "label": d.label, "value": display.custom_value(d, values.pop(d.key, None), users)}
            for d in definitions
        ]
        # Values whose definition was removed stay visible under their key rather than vanish.
        rows += [
            {"name": f"cf.{key}", "label": key, "value": display.plain_value(value)}
            for key, value in sorted(values.items())
        ]
        return rows

    def share_context(self, obj: models.Model, ct: ContentType, can_change: bool) -> dict[str, Any]:
        from guanxi.identity.models import Share

        shares = list(
            Share.objects.restrict(self.request.user, Action.VIEW)
            .filter(content_type=ct, object_id=obj.pk)
            .select_related("user", "team")
        )
        return {"shares": shares, "can_share": can_change}


class ObjectRevealView(ResourceView):
    """``POST /<path>/<id>/reveal/<field>/``: a field the reader sees masked, in full, as the record's
    page shows it (the markup htmx puts in place of the masked value); logged by ``record_reveal``."""

    def post(self, request: HttpRequest, pk: int, field: str) -> HttpResponse:
        try:
            obj = services.record_reveal(model=self.model, pk=pk, user=request.user, field=field)
        except NotFound:
            raise Http404() from None
        except (FieldErrors, ServicePermissionDenied) as exc:
            message = exc.errors["field"][0] if isinstance(exc, FieldErrors) else str(exc.detail)
            refused = format_html('<span class="text-danger small" data-reveal-refused>{}</span>', message)
            # htmx puts a 200 in place only: the reason where the button was.
            return HttpResponse(refused, status=200 if getattr(request, "htmx", None) else exc.status)
        page = view_class_for(self.resource.path, "detail", ObjectDetailView)
        value = page.field_html(obj, field) if issubclass(page, ObjectDetailView) else display.field_value(obj, field)
        return HttpResponse(format_html('<span data-revealed="{}">{}</span>', field, value))


class ObjectEditView(ResourceView):
    """``/<path>/add/`` and ``/<path>/<id>/edit/``: the generic record form, saved by the resource's service."""

    template_suffix = "edit"

    def get_object(self, pk: int | None) -> models.Model | None:
        if pk is None:
            if self.resource.read_only or not can(self.request.user, self.model, Action.ADD):
                raise PermissionDenied()
            return None
        obj = visible_or_404(self.model, self.request.user, pk, select_related=self.resource.select_related)
        if self.resource.read_only or not may(self.request.user, obj, Action.CHANGE):
            raise PermissionDenied()
        return obj

    def get_form_class(self, adding: bool = False) -> type[RecordForm]:
        return record_form_class(self.resource, self.request.user, adding=adding)

    def get_form(self, obj: models.Model | None, data: Any = None, files: Any = None) -> RecordForm:
        tags = tag_names_for(self.model, [obj.pk]).get(obj.pk, []) if obj is not None and self.resource.taggable else []
        return self.get_form_class(adding=obj is None)(
            data, files, instance=obj, resource=self.resource, user=self.request.user, tags=tags
        )

    def get(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        obj = self.get_object(pk)
        return self.render_form(obj, self.get_form(obj))

    def post(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        obj = self.get_object(pk)
        form = self.get_form(obj, request.POST, request.FILES)
        status = 400
        if form.is_valid():
            if obj is not None and not form.has_changes():
                messages.info(request, _("Nothing was changed."))
                return redirect(resource_url(self.resource, "detail", obj.pk) or "home")
            try:
                saved = self.save(form, obj)
            except FieldErrors as exc:
                form.add_service_errors(exc.errors)
            except PreconditionFailed:
                form.add_error(None, stale_message())
                status = 409
            except ServicePermissionDenied as exc:
                form.add_error(None, exc.detail)
                status = 403
            else:
                return self.saved(saved, created=obj is None)
        return self.render_form(obj, form, status=status)

    def save(self, form: RecordForm, obj: models.Model | None) -> models.Model:
        """Call the resource's create/update service with the form's changed values."""
        resource = self.resource
        user = self.request.user
        if obj is None:
            create = resource.create or services.record_create
            return create(model=resource.model, user=user, data=form.service_data(), **form.service_extras())
        update = resource.update or services.record_update
        return update(
            model=resource.model,
            pk=obj.pk,
            user=user,
            data=form.service_data(),
            expected_version=form.cleaned_data.get("version"),
            **form.service_extras(),
        )

    def saved(self, obj: models.Model, *, created: bool) -> HttpResponse:
        label = self.resource.label
        if created:
            messages.success(self.request, _("Created %(type)s “%(name)s”.") % {"type": label, "name": obj})
        else:
            messages.success(self.request, _("Saved %(type)s “%(name)s”.") % {"type": label, "name": obj})
        visible = restricted(self.model, self.request.user, Action.VIEW).filter(pk=obj.pk).exists()
        target = resource_url(self.resource, "detail", obj.pk) if visible else None
        return redirect(target or resource_url(self.resource, "list") or "home")

    def render_form(self, obj: models.Model | None, form: RecordForm, status: int = 200) -> HttpResponse:
        context = {
            **self.base_context(),
            "object": obj,
            "form": form,
            "is_add": obj is None,
            "cancel_url": resource_url(self.resource, "detail", obj.pk) if obj else resource_url(self.resource, "list"),
            "action_url": self.request.path,
        }
        return render(self.request, self.template_names(), context, status=status)


class ObjectDeleteView(ResourceView):
    """``/<path>/<id>/delete/``: confirm, then the resource's delete service (recycle bin where there is one)."""

    template_suffix = "delete"

    def get_object(self, pk: int) -> models.Model:
        obj = visible_or_404(self.model, self.request.user, pk, select_related=self.resource.select_related)
        if self.resource.read_only or not may(self.request.user, obj, Action.DELETE):
            raise PermissionDenied()
        return obj

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        obj = self.get_object(pk)
        return render(request, self.template_names(), self.context(obj))

    def context(self, obj: models.Model, error: str = "") -> dict[str, Any]:
        return {
            **self.base_context(),
            "object": obj,
            "verb": delete_verb(self.resource.path),
            "soft_delete": self.resource.soft_delete,
            "cancel_url": resource_url(self.resource, "detail", obj.pk),
            "error": error,
        }

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        obj = self.get_object(pk)
        delete = self.resource.delete or services.record_delete
        version = request.POST.get("version")
        try:
            delete(
                model=self.model,
                pk=obj.pk,
                user=request.user,
                expected_version=int(version) if version and version.isdigit() else None,
            )
        except PreconditionFailed:
            return render(request, self.template_names(), self.context(obj, stale_message()), status=409)
        except FieldErrors as exc:
            text = " ".join(m for ms in exc.errors.values() for m in ms) or exc.detail
            return render(request, self.template_names(), self.context(obj, text), status=400)
        if self.resource.soft_delete:
            messages.success(request, _("“%(name)s” was moved to the recycle bin.") % {"name": obj})
        else:
            messages.success(request, _("“%(name)s” was deleted.") % {"name": obj})
        return redirect(resource_url(self.resource, "list") or "home")
