"""Validation of user-defined field values; definitions live in ``CustomFieldDefinition``."""

from __future__ import annotations

import datetime
import decimal
import functools
from collections.abc import Callable
from typing import Any

from django.db import models
from django.utils.translation import gettext as _

from guanxi.core.choices import CustomFieldType
from guanxi.core.errors import FieldErrors
from guanxi.core.imports.cells import parse_yes_no
from guanxi.core.models import CustomFieldDefinition
from guanxi.core.permissions import object_type_of


def definitions_for(model: type[models.Model]) -> list[CustomFieldDefinition]:
    return list(CustomFieldDefinition.objects.filter(object_type=object_type_of(model)))


def coerce_value(definition: CustomFieldDefinition, value: Any) -> Any:
    """Turn input (JSON or form text) into the stored JSON value, or raise ValueError with a reason."""
    if value is None or value == "" or value == []:
        return None
    kind = definition.field_type
    if kind == CustomFieldType.TEXT:
        text = str(value)
        if len(text) > 1000:
            raise ValueError(_("Use at most 1000 characters."))
        return text
    if kind == CustomFieldType.NUMBER:
        if isinstance(value, bool):
            raise ValueError(_("Enter a whole number."))
        try:
            number = decimal.Decimal(str(value).strip())
        except decimal.InvalidOperation:
            raise ValueError(_("Enter a whole number.")) from None
        if number != number.to_integral_value():
            raise ValueError(_("Enter a whole number."))
        return int(number)
    if kind == CustomFieldType.DECIMAL:
        try:
            number = decimal.Decimal(str(value).strip())
        except decimal.InvalidOperation:
            raise ValueError(_("Enter a number, for example 12.50.")) from None
        if not number.is_finite():
            raise ValueError(_("Enter a number, for example 12.50."))
        return str(number)
    if kind == CustomFieldType.DATE:
        try:
            return datetime.date.fromisoformat(str(value)).isoformat()
        except ValueError:
            raise ValueError(_("Enter a date as YYYY-MM-DD.")) from None
    if kind == CustomFieldType.BOOLEAN:
        if isinstance(value, bool):
            return value
        return parse_yes_no(value)
    if kind == CustomFieldType.CHOICE:
        if str(value) not in [str(c) for c in definition.choices]:
            raise ValueError(_("Pick one of: %(choices)s.") % {"choices": ", ".join(map(str, definition.choices))})
        return str(value)
    if kind == CustomFieldType.MULTI_CHOICE:
        values = value if isinstance(value, list) else [v.strip() for v in str(value).split(",") if v.strip()]
        allowed = [str(c) for c in definition.choices]
        bad = [v for v in map(str, values) if v not in allowed]
        if bad:
            raise ValueError(_("Pick from: %(choices)s.") % {"choices": ", ".join(allowed)})
        return sorted(set(map(str, values)), key=allowed.index)
    if kind == CustomFieldType.USER:
        from guanxi.identity.models import User

        try:
            user_id = int(value)
        except (TypeError, ValueError):
            raise ValueError(_("Pick a user.")) from None
        if not User.objects.filter(pk=user_id, is_active=True).exists():
            raise ValueError(_("Pick an active user."))
        return user_id
    raise ValueError(_("Unknown field type."))


def clean_custom_fields(
    model: type[models.Model], values: dict[str, Any] | None, existing: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Validate ``values`` against the model's definitions and merge them over ``existing``.

    Unknown keys and bad values are reported per field as ``custom_fields.<key>``.
    """
    return custom_fields_cleaner(model, values)(existing)


def custom_fields_cleaner(
    model: type[models.Model], values: dict[str, Any] | None
) -> Callable[[dict[str, Any] | None], dict[str, Any]]:
    """``clean_custom_fields`` of the same ``values`` over many records' values (a bulk edit): the
    definitions are read and the values checked once, here (a user field asks the database), and
    each call merges them over one record's ``existing``, which may still lack a required one."""
    definitions = {d.key: d for d in definitions_for(model)}
    coerced: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for key, raw in (values or {}).items():
        definition = definitions.get(key)
        if definition is None:
            errors[f"custom_fields.{key}"] = [_("There is no custom field with this key.")]
            continue
        try:
            coerced[key] = coerce_value(definition, raw)
        except ValueError as exc:
            errors[f"custom_fields.{key}"] = [str(exc)]
    return functools.partial(_merged, definitions, coerced, errors)


def _merged(
    definitions: dict[str, CustomFieldDefinition],
    coerced: dict[str, Any],
    refused: dict[str, list[str]],
    existing: dict[str, Any] | None,
) -> dict[str, Any]:
    merged = dict(existing or {})
    for key, value in coerced.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    errors = dict(refused)
    for key, definition in definitions.items():
        if definition.required and merged.get(key) in (None, "", []) and f"custom_fields.{key}" not in errors:
            errors[f"custom_fields.{key}"] = [_("This field is required.")]
    if errors:
        raise FieldErrors(errors)
    return merged


_CHOICE_TYPES = {CustomFieldType.CHOICE, CustomFieldType.MULTI_CHOICE}


def _check_definition(data: dict[str, Any], *, creating: bool) -> None:
    import re

    from guanxi.core.permissions import is_record_type

    errors: dict[str, list[str]] = {}
    if creating:
        if not is_record_type(str(data.get("object_type") or "")):
            errors["object_type"] = [_("Custom fields can be added to record types such as customers.account.")]
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,49}", str(data.get("key") or "")):
            errors["key"] = [_("Use lower-case letters, digits and underscores, starting with a letter.")]
    if data.get("field_type") in _CHOICE_TYPES or (not creating and "choices" in data):
        choices = data.get("choices")
        if data.get("field_type") in _CHOICE_TYPES and (not isinstance(choices, list) or not choices):
            errors["choices"] = [_('List the choices, e.g. ["Gold", "Silver"].')]
        elif choices is not None and (
            not isinstance(choices, list) or not all(isinstance(c, str) and c for c in choices)
        ):
            errors["choices"] = [_("Choices must be a list of non-empty texts.")]
    if errors:
        raise FieldErrors(errors)


def custom_field_create(
    *, model: type[CustomFieldDefinition] = CustomFieldDefinition, user: Any, data: dict[str, Any], **_ignored: Any
) -> CustomFieldDefinition:
    """Define a new field on a record type."""
    from guanxi.core.services import record_create

    _check_definition(data, creating=True)
    if CustomFieldDefinition.objects.filter(object_type=data["object_type"], key=data["key"]).exists():
        raise FieldErrors({"key": [_("This record type already has a field with this key.")]})
    return record_create(model=CustomFieldDefinition, user=user, data=data)


def custom_field_update(
    *,
    model: type[CustomFieldDefinition] = CustomFieldDefinition,
    pk: Any,
    user: Any,
    data: dict[str, Any],
    expected_version: int | None = None,
    **_ignored: Any,
) -> CustomFieldDefinition:
    """Change labels, choices and flags; the type, key and record type stay (stored values depend on them)."""
    from guanxi.core.services import record_update

    fixed = {"object_type", "key", "field_type"} & set(data)
    if not CustomFieldDefinition.objects.restrict(user, "change").filter(pk=pk).exists():
        # Let record_update answer 404/403 before any rule that would reveal the definition.
        return record_update(
            model=CustomFieldDefinition, pk=pk, user=user, data=data, expected_version=expected_version
        )
    current: dict[str, Any] | None = (
        CustomFieldDefinition.objects.filter(pk=pk).values("object_type", "key", "field_type").first()  # type: ignore[assignment]
    )
    if current:
        changed = [f for f in fixed if data[f] != current[f]]
        if changed:
            raise FieldErrors(
                {f: [_("This cannot change once the field exists; add a new field instead.")] for f in changed}
            )
        _check_definition({**current, **data}, creating=False)
    return record_update(model=CustomFieldDefinition, pk=pk, user=user, data=data, expected_version=expected_version)
