"""Keyset (cursor) pagination: deep pages cost what the first page costs.

The cursor carries the ordering and the last row's (value, id); the next page asks for rows after
that pair. Cursors are opaque to clients and checked on the way back in.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext as _

from guanxi.core.audit import _plain
from guanxi.core.errors import FieldErrors

MAX_LIMIT = 200
DEFAULT_LIMIT = 50


@dataclass
class Page:
    items: list[Any]
    next_cursor: str | None


def parse_limit(raw: Any, default: int = DEFAULT_LIMIT) -> int:
    if raw in (None, ""):
        return default
    try:
        limit = int(raw)
    except (TypeError, ValueError):
        raise FieldErrors({"limit": [_("Use a whole number between 1 and %(max)s.") % {"max": MAX_LIMIT}]}) from None
    if not 1 <= limit <= MAX_LIMIT:
        raise FieldErrors({"limit": [_("Use a whole number between 1 and %(max)s.") % {"max": MAX_LIMIT}]})
    return limit


def _encode(ordering: str, value: Any, pk: Any) -> str:
    raw = json.dumps({"o": ordering, "v": _plain(value), "id": pk}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str, ordering: str) -> tuple[Any, Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(data, dict) or data.get("o") != ordering or "id" not in data:
            raise ValueError
        return data.get("v"), int(data["id"])
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError, UnicodeDecodeError):
        raise FieldErrors(
            {"cursor": [_("This cursor is invalid or belongs to another sort order; start again without it.")]}
        ) from None


def paginate(qs: models.QuerySet, ordering: str, cursor: str | None = None, limit: int = DEFAULT_LIMIT) -> Page:
    """One page of ``qs`` sorted by ``ordering`` (one field, optional "-") with the id as tie-break."""
    descending = ordering.startswith("-")
    name = ordering.lstrip("-")
    if cursor:
        value, pk = _decode(cursor, ordering)
        if name == "id":
            qs = qs.filter(pk__lt=pk) if descending else qs.filter(pk__gt=pk)
        else:
            field = qs.model._meta.get_field(name)
            try:
                value = field.to_python(value)
            except ValidationError:
                raise FieldErrors({"cursor": [_("This cursor is invalid; start again without it.")]}) from None
            if descending:
                qs = qs.filter(Q(**{f"{name}__lt": value}) | Q(**{name: value, "pk__lt": pk}))
            else:
                qs = qs.filter(Q(**{f"{name}__gt": value}) | Q(**{name: value, "pk__gt": pk}))
    order = [ordering] if name == "id" else [ordering, "-pk" if descending else "pk"]
    rows = list(qs.order_by(*order)[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more and rows:
        last = rows[-1]
        next_cursor = _encode(ordering, getattr(last, name if name != "id" else "pk"), last.pk)
    return Page(items=rows, next_cursor=next_cursor)
