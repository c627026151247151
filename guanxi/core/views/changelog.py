"""The change-log entry page: the field diff of one write, without the fields the user may not see."""

from __future__ import annotations

from typing import Any

from django.db import models

from guanxi.core.audit import visible_changes
from guanxi.core.custom_fields import definitions_for
from guanxi.core.models import ChangeLogEntry
from guanxi.core.views.base import register_view
from guanxi.core.views.records import ObjectDetailView, change_panel


@register_view("change-log", "detail")
class ChangeLogEntryDetailView(ObjectDetailView):
    def get_context(self, obj: models.Model) -> dict[str, Any]:
        context = super().get_context(obj)
        assert isinstance(obj, ChangeLogEntry)
        target = obj.content_type.model_class()
        # Redact once, centrally (the API uses the same function), then render like a record's history.
        obj.changes = visible_changes([obj], self.request.user)[obj.pk]
        labels = {d.key: d.label for d in definitions_for(target)} if target else {}
        context["changes"] = change_panel([obj], set(), target, labels, user=self.request.user)
        return context
