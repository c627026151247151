"""Which column feeds which field: automatic matching of Chinese and English headers, and checks."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from guanxi.core.errors import FieldErrors
from guanxi.core.imports.specs import ImportSpec, header_key


def unique_headers(header: list[str]) -> list[str]:
    """Headers as keys: blanks get a column name, repeats a number ("电话", "电话 (2)")."""
    out: list[str] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(header):
        name = " ".join((raw or "").split()) or _("Column %(n)s") % {"n": index + 1}
        count = seen.get(name, 0) + 1
        seen[name] = count
        out.append(name if count == 1 else f"{name} ({count})")
    return out


def auto_map(spec: ImportSpec, headers: list[str], remembered: dict[str, str] | None = None) -> dict[str, str]:
    """``{header: field}`` for every header; "" for a column no field matches (it is ignored).

    A header in ``remembered`` (how the user mapped it last time) keeps that choice, "ignore"
    included, while its field still exists; the others are matched by name. The first column that
    matches a field gets it; a later one with the same meaning is left unmapped so nothing is
    imported twice.
    """
    fields = spec.mappable()
    aliases = spec.alias_map(fields)  # the spec's fields and the custom fields
    names = {f.name for f in fields}
    remembered = {h: f for h, f in (remembered or {}).items() if f == "" or f in names}
    taken: set[str] = {f for h, f in remembered.items() if f and h in headers}
    mapping: dict[str, str] = {}
    for header in headers:
        if header in remembered:
            mapping[header] = remembered[header]
            continue
        target = aliases.get(header_key(header), "")
        if target and target not in taken:
            taken.add(target)
            mapping[header] = target
        else:
            mapping[header] = ""
    _old_export_id(headers, mapping, aliases, names, remembered)
    return mapping


def _old_export_id(
    headers: list[str], mapping: dict[str, str], aliases: dict[str, str], names: set[str], remembered: dict[str, str]
) -> None:
    """Exports made before the record ID had a header of its own (记录 ID) start with "ID", which
    alone is read as another system's external ID. When the file also has an external-ID column
    of its own (外部编号), that "ID" can only be Guanxi's record ID: it updates those records."""
    if "id" not in names or "id" in mapping.values():
        return
    claimants = [h for h in headers if aliases.get(header_key(h)) == "external_id" and h not in remembered]
    if len(claimants) < 2 or header_key(claimants[0]) != "id" or mapping.get(claimants[0]) != "external_id":
        return
    mapping[claimants[0]] = "id"
    mapping[claimants[1]] = "external_id"


def check_mapping(spec: ImportSpec, headers: list[str], mapping: Any) -> dict[str, int]:
    """Validate a ``{header: field}`` mapping; returns ``{field: column index}``.

    Refuses (400, naming the culprit) an unknown header or field, a field fed by two columns, and a
    mapping without the fields the type needs. Headers not in the mapping are ignored.
    """
    if not isinstance(mapping, dict):
        raise FieldErrors({"mapping": [_('Send an object like {"姓名": "name", "手机": "mobile"}.')]})
    errors: dict[str, list[str]] = {}
    columns: dict[str, int] = {}
    index_of = {header: index for index, header in enumerate(headers)}
    fields = spec.mappable()
    names = {f.name for f in fields}
    for header, target in mapping.items():
        if header not in index_of:
            errors[f"mapping.{header}"] = [_("The file has no column “%(header)s”.") % {"header": header}]
            continue
        if target in (None, ""):
            continue
        if not isinstance(target, str) or target not in names:
            errors[f"mapping.{header}"] = [
                _("Unknown field “%(field)s”; use one of: %(fields)s.")
                % {"field": target, "fields": ", ".join(sorted(names))}
            ]
            continue
        if target in columns:
            errors[f"mapping.{header}"] = [
                _("The field “%(field)s” is already fed by the column “%(other)s”; map each field once.")
                % {"field": target, "other": headers[columns[target]]}
            ]
            continue
        columns[target] = index_of[header]
    # Rows that name their record (an edited export) update it: nothing else is needed. A row
    # without an ID must still give what a new record needs (``prepare`` says so, row by row).
    by_id = "id" in columns
    required = [] if by_id else [f for f in fields if f.required]
    groups = () if by_id else spec.required_any
    for spec_field in required:
        if spec_field.name not in columns:
            errors.setdefault(f"mapping.{spec_field.name}", []).append(
                _("Map a column to the required field “%(field)s”.") % {"field": spec_field.label}
            )
    for group in groups:
        if not any(name in columns for name in group):
            labels = " / ".join(str(spec.field(name).label) for name in group if spec.field(name))  # type: ignore[union-attr]
            errors.setdefault(f"mapping.{group[0]}", []).append(
                _("Map a column to at least one of: %(fields)s.") % {"fields": labels}
            )
    if errors:
        raise FieldErrors(errors)
    return columns


def mapping_from_columns(headers: list[str], columns: dict[str, int]) -> dict[str, str]:
    by_index = {index: name for name, index in columns.items()}
    return {header: by_index.get(index, "") for index, header in enumerate(headers)}
