"""Template helpers of the UI shell: ``{% load guanxi %}``."""

from __future__ import annotations

from typing import Any

from django import forms, template
from django.contrib.contenttypes.models import ContentType
from django.db import models

from guanxi.core.choices import ChangeAction
from guanxi.core.views import display
from guanxi.core.views.base import record_url, record_url_by_type

register = template.Library()


@register.filter
def timeline_kind(kind: str) -> str:
    """The badge of a timeline entry (``core.timeline.register_timeline_kinds``)."""
    from guanxi.core.timeline import timeline_kind_label

    return timeline_kind_label(kind)


@register.filter
def change_colour(action: str) -> str:
    """Badge colour of a change-log action (created green, deleted orange...)."""
    return ChangeAction.colour(action)


@register.filter
def detail_url(obj: models.Model | None) -> str:
    return record_url(obj) or ""


@register.simple_tag
def object_url(content_type: ContentType | None, object_id: Any) -> str:
    return record_url_by_type(content_type, object_id) or ""


@register.filter
def type_label(content_type: ContentType | None) -> str:
    return display.content_type_label(content_type) if content_type is not None else ""


@register.filter
def when(value: Any) -> str:
    """A time in the user's zone as ``2026-01-31 08:00``."""
    return display.format_datetime(value) if value else ""


@register.filter
def is_checkbox(field: forms.BoundField) -> bool:
    return isinstance(field.field.widget, forms.CheckboxInput)


@register.filter
def is_multi_checkbox(field: forms.BoundField) -> bool:
    return isinstance(field.field.widget, forms.CheckboxSelectMultiple)


@register.filter
def is_hidden_input(field: forms.BoundField) -> bool:
    return isinstance(field.field.widget, forms.HiddenInput)


@register.inclusion_tag("partials/form_field.html")
def form_field(field: forms.BoundField) -> dict[str, Any]:
    """One input with its label, help text and errors in Tabler markup."""
    return {"field": field}


@register.filter
def filesize(num: int | None) -> str:
    if num is None:
        return ""
    size = float(num)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(num)


@register.filter
def bound(form: forms.Form, name: str) -> forms.BoundField:
    """``form|bound:"perm:*:view"``: a bound field whose name is not a template identifier."""
    return form[name]
