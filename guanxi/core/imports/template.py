"""The import template: an Excel workbook with the columns an import reads, and how to fill them in.

The first sheet holds one header row, in the user's language, which the import matches back by
itself; its cells are formatted as text, so Excel keeps 13800138000 and leading zeros as typed. The
second sheet ("How to fill in") lists each column: required or not, and what to type (the choices
of a choice field). Only the first sheet is imported.
"""

from __future__ import annotations

import io
from typing import Any

from django.http import FileResponse
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from guanxi.core.choices import CustomFieldType
from guanxi.core.imports.specs import ImportField, ImportSpec, written_fields
from guanxi.core.list_cells import LIST_QUOTES_HINT, join_list
from guanxi.core.permissions import frozen_fields, masked_fields

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: A sheet's column width (characters) is the header's, within these bounds.
_MIN_WIDTH, _MAX_WIDTH = 12, 40


def template_fields(spec: ImportSpec, user: Any) -> list[ImportField]:
    """The columns of the template: what the user may import, without alternatives of other columns.
    A field the user sees masked is one: new records take it (``new_records_only``)."""
    frozen = frozen_fields(user, spec.model, adding=True)
    return [f for f in spec.mappable() if f.in_template and not written_fields(f) & frozen]


def new_records_only(spec: ImportSpec, user: Any) -> set[str]:
    """The targets that write a field the user sees masked (号码脱敏): a row that adds a record may
    fill them in, a row that updates one must leave them empty."""
    masked = masked_fields(user, spec.model)
    if not masked:
        return set()
    frozen = frozen_fields(user, spec.model, adding=True)
    return {f.name for f in spec.mappable() if written_fields(f) & masked and not written_fields(f) & frozen}


def field_required(spec: ImportSpec, field: ImportField) -> bool:
    """Required by the mapping, first of a group of which one is needed, or a required custom field."""
    if field.required or (field.definition is not None and field.definition.required):
        return True
    return any(group[0] == field.name for group in spec.required_any)


def _custom_hint(definition: Any) -> str:
    kind = definition.field_type
    choices = ", ".join(str(c) for c in definition.choices or ())
    picks = join_list(str(c) for c in definition.choices or ())  # as the cell writes them, quoted where need be
    hints = {
        CustomFieldType.TEXT: _("Text."),
        CustomFieldType.NUMBER: _("A whole number, e.g. 120."),
        CustomFieldType.DECIMAL: _("A number, e.g. 12.50."),
        CustomFieldType.DATE: _("A date, e.g. 1990-05-20 or 1990/5/20."),
        CustomFieldType.CHOICE: _("One of: %(choices)s.") % {"choices": choices},
        CustomFieldType.MULTI_CHOICE: _("Any of: %(choices)s, separated by commas.") % {"choices": picks},
        CustomFieldType.BOOLEAN: _("是 or 否 (yes or no)."),
        CustomFieldType.USER: _("A user's email or name."),
    }
    hint = str(hints.get(kind, ""))
    if kind == CustomFieldType.MULTI_CHOICE and picks != choices:
        hint += " " + str(LIST_QUOTES_HINT)  # a choice holds a separator
    return hint


def field_hint(field: ImportField, *, new_only: bool = False) -> str:
    """What to type in the column, in the current language; ``new_only``: said to be for new records
    only (a field the user sees masked)."""
    if field.definition is not None:
        hint = _custom_hint(field.definition)
    else:
        parts = [str(field.hint)] if field.hint else []
        if field.choices is not None:
            labels = ", ".join(str(label) for _value, label in field.choices.choices)
            parts.insert(0, _("One of: %(choices)s.") % {"choices": labels})
        hint = " ".join(parts) or _("Text.")
    if new_only:
        hint += " " + _(
            "New records only: you see this field masked, so leave it empty on a row that updates a record."
        )
    return hint


def header_label(spec: ImportSpec, field: ImportField) -> str:
    label = capfirst(str(field.label))
    return _("%(label)s (required)") % {"label": label} if field_required(spec, field) else label


def import_template(spec: ImportSpec, user: Any) -> bytes:
    """The workbook's bytes, in the current language."""
    import xlsxwriter

    fields = template_fields(spec, user)
    new_only = new_records_only(spec, user)
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(
        buffer, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}
    )
    bold = book.add_format({"bold": True, "bg_color": "#E8F0FE", "border": 1})
    text = book.add_format({"num_format": "@"})
    wrap = book.add_format({"text_wrap": True, "valign": "top"})
    sheet = book.add_worksheet(capfirst(str(spec.label))[:31] or "Import")
    for col, field in enumerate(fields):
        label = header_label(spec, field)
        sheet.set_column(col, col, max(_MIN_WIDTH, min(_MAX_WIDTH, _width(label))), text)
        sheet.write_string(0, col, label, bold)
    sheet.freeze_panes(1, 0)

    notes = book.add_worksheet(_("How to fill in")[:31])
    notes.set_column(0, 0, 24)
    notes.set_column(1, 1, 10)
    notes.set_column(2, 2, 80, wrap)
    for col, title in enumerate((_("Column"), _("Required"), _("What to type"))):
        notes.write_string(0, col, title, bold)
    for row, field in enumerate(fields, start=1):
        notes.write_string(row, 0, capfirst(str(field.label)))
        notes.write_string(row, 1, _("Yes") if field_required(spec, field) else "")
        notes.write_string(row, 2, field_hint(field, new_only=field.name in new_only), wrap)
    footer = len(fields) + 2
    notes.write_string(footer, 0, _("Only the first sheet is imported. Keep its first row: it names the columns."))
    notes.write_string(
        footer + 1, 0, _("To change existing records, export them from their list, edit that file and import it.")
    )
    book.close()
    return buffer.getvalue()


def _width(text: str) -> int:
    """Display width: a Chinese character takes two columns."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text) + 2


def template_response(name: str, content: bytes) -> FileResponse:
    response = FileResponse(io.BytesIO(content), as_attachment=True, filename=name, content_type=XLSX)
    response["X-Content-Type-Options"] = "nosniff"
    return response


def template_file_name(spec: ImportSpec) -> str:
    return _("%(type)s import template.xlsx") % {"type": capfirst(str(spec.label))}
