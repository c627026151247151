"""Filters and resource registrations of the core models (tags, custom fields, change log...)."""

from typing import Any

from django.db import models
from django.utils.translation import gettext as _

from guanxi.core.audit import visible_changes
from guanxi.core.choices import Action
from guanxi.core.custom_fields import custom_field_create, custom_field_update
from guanxi.core.errors import FieldErrors
from guanxi.core.filters import FilterSet
from guanxi.core.models import Attachment, ChangeLogEntry, CustomFieldDefinition, Note, Tag, TimelineEntry
from guanxi.core.permissions import restricted
from guanxi.core.registry import Resource, register, resources
from guanxi.core.timeline import note_create, note_delete, note_restore, note_update, timeline_subjects


class TagFilterSet(FilterSet):
    model = Tag
    search_fields = ("name", "description")
    filters = {"name": ("exact", "icontains"), "colour": ("exact",)}
    ordering_fields = ("id", "name", "created_at")
    default_ordering = "name"


class CustomFieldFilterSet(FilterSet):
    model = CustomFieldDefinition
    search_fields = ("key", "label_en", "label_zh")
    filters = {"object_type": ("exact",), "field_type": ("exact",), "filterable": ("exact",)}
    ordering_fields = ("id", "key", "position", "created_at")
    default_ordering = "position"


class ChangeLogFilterSet(FilterSet):
    model = ChangeLogEntry
    search_fields = ("object_repr", "actor_repr")
    filters = {
        "actor": ("exact",),
        "action": ("exact", "in"),
        "source": ("exact",),
        "content_type": ("exact",),
        "object_id": ("exact",),
        "request_id": ("exact",),
        "time": ("gte", "lte"),
    }
    ordering_fields = ("id", "time")


class AttachmentFilterSet(FilterSet):
    model = Attachment
    search_fields = ("name",)
    filters = {"content_type": ("exact",), "object_id": ("exact",), "mime_type": ("exact",)}
    ordering_fields = ("id", "name", "size", "created_at")


class TimelineFilterSet(FilterSet):
    model = TimelineEntry
    search_fields = ("summary",)
    filters = {
        "content_type": ("exact",),
        "object_id": ("exact",),
        "record": ("exact",),
        "kind": ("exact", "in"),
        "at": ("gte", "lte"),
    }
    ordering_fields = ("id", "at")
    default_ordering = "-at"

    def custom_filter(self, qs: models.QuerySet, name: str, lookup: str, raw: str) -> models.QuerySet:
        """``record=accounts:12``: the record's whole timeline, its own entries and those of the
        records it gathers (an account's contacts), as its page shows it."""
        if name != "record":
            return super().custom_filter(qs, name, lookup, raw)
        path, _sep, pk = raw.partition(":")
        model = next((r.model for r in resources() if r.path == path), None)
        if model is None or not getattr(model, "has_timeline", False) or not pk.isdigit():
            raise FieldErrors({"record": [_("Give a record as type:id, e.g. accounts:12.")]})
        record = restricted(model, self.user, Action.VIEW).filter(pk=pk).first()
        if record is None:
            raise FieldErrors({"record": [_("There is no such record, or you may not see it.")]})
        return qs.filter(timeline_subjects(record, self.user).q())


class NoteFilterSet(FilterSet):
    model = Note
    search_fields = ("body",)
    filters = {"content_type": ("exact",), "object_id": ("exact",), "owner": ("exact",)}
    ordering_fields = ("id", "created_at")


def _changelog_extra(entries: list[ChangeLogEntry], user: Any) -> dict[Any, dict[str, Any]]:
    changes = visible_changes(entries, user)
    return {entry.pk: {"changes": changes[entry.pk]} for entry in entries}


def register_core() -> None:
    from guanxi.core.api import attachment_routes

    register(
        Resource(
            model=Tag,
            path="tags",
            filterset=TagFilterSet,
            fields=("name", "colour", "description", "created_at", "updated_at"),
            write_fields=("name", "colour", "description"),
            required_fields=("name",),
            list_columns=("name", "colour", "description"),
            nav_group="settings",
        )
    )
    register(
        Resource(
            model=CustomFieldDefinition,
            path="custom-fields",
            filterset=CustomFieldFilterSet,
            fields=(
                "object_type",
                "key",
                "label_en",
                "label_zh",
                "field_type",
                "choices",
                "required",
                "filterable",
                "position",
                "created_at",
                "updated_at",
            ),
            write_fields=(
                "object_type",
                "key",
                "label_en",
                "label_zh",
                "field_type",
                "choices",
                "required",
                "filterable",
                "position",
            ),
            required_fields=("object_type", "key", "label_en", "label_zh", "field_type"),
            list_columns=("object_type", "key", "label_zh", "label_en", "field_type", "required"),
            create=custom_field_create,
            update=custom_field_update,
            nav_group="settings",
        )
    )
    register(
        Resource(
            model=ChangeLogEntry,
            path="change-log",
            filterset=ChangeLogFilterSet,
            fields=(
                "time",
                "actor",
                "actor_repr",
                "source",
                "request_id",
                "action",
                "content_type",
                "object_id",
                "object_repr",
            ),  # "changes" comes from _changelog_extra, redacted for each reader
            list_columns=("time", "actor_repr", "action", "content_type", "object_repr", "source"),
            select_related=("actor", "content_type"),
            read_only=True,
            serialize_extra=_changelog_extra,
            nav_group="settings",
        )
    )
    register(
        Resource(
            model=Attachment,
            path="attachments",
            filterset=AttachmentFilterSet,
            fields=("content_type", "object_id", "name", "size", "mime_type", "created_by", "created_at"),
            list_columns=("name", "size", "mime_type", "created_at"),
            select_related=("content_type", "created_by"),
            read_only=True,  # uploads are multipart: see attachment_routes
            routes=attachment_routes,
            ui=False,
        )
    )
    register(
        Resource(
            model=TimelineEntry,
            path="timeline",
            filterset=TimelineFilterSet,
            fields=("content_type", "object_id", "kind", "at", "actor", "summary", "body", "data"),
            select_related=("content_type", "actor"),
            read_only=True,
            ui=False,
        )
    )
    register(
        Resource(
            model=Note,
            path="notes",
            filterset=NoteFilterSet,
            fields=("content_type", "object_id", "body", "owner", "created_at", "updated_at"),
            write_fields=("content_type", "object_id", "body"),
            required_fields=("content_type", "object_id", "body"),
            select_related=("content_type", "owner"),
            create=note_create,
            update=note_update,
            delete=note_delete,
            restore=note_restore,
            ui=False,
        )
    )
