"""Custom fields in imports: a column per field an administrator defined, read as the record form reads it.

Each definition of the record type becomes a mapping target ``cf.<key>`` whose headers are its
Chinese and English labels and its key, so a file exported from Guanxi maps back by itself. The
cells are parsed here, in the validating processes (no database): the definitions travel in the
``PrepareContext``. A user field holds a name or email that only the writer can look up; it stays
text until then (``user_keys``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from decimal import InvalidOperation
from typing import Any

from django.db import models
from django.utils.translation import gettext as _

from guanxi.core.choices import CustomFieldType
from guanxi.core.custom_fields import coerce_value, definitions_for
from guanxi.core.imports.cells import parse_date
from guanxi.core.imports.specs import ImportField
from guanxi.core.list_cells import split_list
from guanxi.core.models import CustomFieldDefinition

PREFIX = "cf."
_NUMBER_NOISE_RE = re.compile(r"[\s,，]")


def has_custom_fields(model: type[models.Model]) -> bool:
    return any(f.name == "custom_fields" for f in model._meta.concrete_fields)


def custom_import_fields(model: type[models.Model]) -> list[ImportField]:
    """One mapping target per custom field of ``model``. Never required by the mapping: a required
    field is checked on the rows that create a record (an update may leave it as it is)."""
    if not has_custom_fields(model):
        return []
    return [
        ImportField(
            f"{PREFIX}{d.key}",
            d.label,
            (d.label_zh, d.label_en, d.key),
            writes="custom_fields",
            definition=d,
        )
        for d in definitions_for(model)
    ]


def mapped_definitions(fields: list[ImportField], columns: dict[str, int]) -> dict[str, CustomFieldDefinition]:
    """``{key: definition}`` of the custom fields a column feeds (what ``prepare`` needs, picklable)."""
    return {f.name[len(PREFIX) :]: f.definition for f in fields if f.definition is not None and f.name in columns}


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().casefold()


def cell_value(definition: CustomFieldDefinition, text: str) -> Any:
    """The stored value of one cell, or ValueError with the reason. More lenient than a form, as a
    spreadsheet is: choices in any case, thousands separators, dates as 2024/3/5 or 2024年3月5日."""
    kind = definition.field_type
    if kind in (CustomFieldType.NUMBER, CustomFieldType.DECIMAL):
        text = _NUMBER_NOISE_RE.sub("", text)
    elif kind == CustomFieldType.DATE:
        return parse_date(text).isoformat()
    elif kind == CustomFieldType.CHOICE:
        by_folded = {_fold(str(c)): str(c) for c in definition.choices}
        text = by_folded.get(_fold(text), text)
    elif kind == CustomFieldType.MULTI_CHOICE:
        # Picks as the export writes them ("a, b", a pick that holds a separator in quotes: ``list_cells``);
        # a quote left open is a ValueError too.
        by_folded = {_fold(str(c)): str(c) for c in definition.choices}
        picks = [by_folded.get(_fold(p), p) for p in split_list(text)]
        return coerce_value(definition, picks)
    return coerce_value(definition, text)  # user fields never come here: the writer looks them up


def read_custom_fields(
    get: Callable[[str], str], fail: Callable[[str, str, str], None], definitions: dict[str, CustomFieldDefinition]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The custom field values of one row, and the user fields' cells to look up.

    ``get(name)`` reads a mapped cell; ``fail(name, value, reason)`` records a bad one."""
    values: dict[str, Any] = {}
    users: dict[str, str] = {}
    for key, definition in definitions.items():
        name = PREFIX + key
        text = get(name)
        if not text:
            continue
        if definition.field_type == CustomFieldType.USER:
            users[key] = unicodedata.normalize("NFKC", text).strip().lower() if "@" in text else text
            continue
        try:
            values[key] = cell_value(definition, text)
        except (ValueError, InvalidOperation) as exc:
            fail(name, text, str(exc))
    return values, users


def missing_required(definitions: list[CustomFieldDefinition], values: dict[str, Any]) -> list[CustomFieldDefinition]:
    """The required fields a new record would lack."""
    return [d for d in definitions if d.required and values.get(d.key) in (None, "", [])]


def required_reason(definition: CustomFieldDefinition) -> str:
    return _("“%(field)s” is required for a new record; fill it in or map its column.") % {"field": definition.label}


__all__ = [
    "PREFIX",
    "cell_value",
    "custom_import_fields",
    "has_custom_fields",
    "mapped_definitions",
    "missing_required",
    "read_custom_fields",
    "required_reason",
]
