"""Forms built from the resource registry: one generic record form for every edit and add page.

The form collects and converts input; it does not validate the model (the service does, inside its
transaction) — service ``FieldErrors`` are mapped back onto the form's fields by ``add_service_errors``.
"""

from __future__ import annotations

import datetime
import decimal
import re
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.forms.models import modelform_factory
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from guanxi.core.choices import Action, CustomFieldType
from guanxi.core.custom_fields import definitions_for
from guanxi.core.list_cells import QuoteError, join_items, split_items
from guanxi.core.models import CustomFieldDefinition, OwnedMixin, Tag
from guanxi.core.money import money_fields, money_text
from guanxi.core.permissions import can, frozen_fields, hidden_fields, withheld_fields
from guanxi.core.pickers import RecordPicker, pick_widget
from guanxi.core.registry import Resource, registered_models, resources

#: Most options a select offers before a form asks for an id instead (big tables need a search box).
MAX_SELECT_OPTIONS = 500
#: What a record's tags box is split on (``guanxi.js`` splits it so too); a name holding one is quoted.
TAG_SEPARATORS = ",，;；\n"


# --- widgets and fields ---------------------------------------------------------------------------


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None):
        super().__init__(attrs, format="%Y-%m-%d")


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs: dict[str, Any] | None = None):
        super().__init__(attrs, format="%Y-%m-%dT%H:%M")


DATETIME_INPUT_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"]


class ListField(forms.CharField):
    """A JSON list of texts, typed one per line (or separated by commas)."""

    widget = forms.Textarea(attrs={"rows": 3})

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return "\n".join(str(v) for v in value)
        return value

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        if isinstance(value, list):
            return [str(v) for v in value]
        text = super().to_python(value)
        return [part.strip() for part in re.split(r"[\n,，]+", text or "") if part.strip()]

    def has_changed(self, initial: Any, data: Any) -> bool:
        return (initial or []) != self.to_python(data)


class ContentTypeChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        model = obj.model_class()
        return capfirst(str(model._meta.verbose_name)) if model is not None else str(obj)


def parse_tags(text: str) -> list[str]:
    """The tags typed in a tags box, read as an import reads a tags cell (``core.list_cells``): a
    name in double quotes keeps its commas ("A, B Trading"). ``QuoteError`` for quotes that do not read."""
    return sorted(set(split_items(text or "", TAG_SEPARATORS)))


def tags_text(names: list[str]) -> str:
    """Tags as a tags box shows them: ``VIP, "A, B Trading"``, read back whole by ``parse_tags``."""
    return join_items(names, ", ", parse_tags)


def validate_tags(text: str) -> None:
    """A tags box whose double quotes do not read is the field's error, saying what to write."""
    try:
        parse_tags(text)
    except QuoteError as exc:
        raise forms.ValidationError(str(exc), code="quotes") from None


#: The existing tags are offered under a record's tags input while the vocabulary is this short.
MAX_TAG_CHIPS = 60


class TagsInput(forms.TextInput):
    """The tags as text, comma separated, with the existing tags under it as chips that add or remove
    themselves (``guanxi.js``). Picking the same names every time matters once rules ask for a tag
    (classification by needs): "设备维保需求" typed as "设备维修需求" would match no rule."""

    def __init__(self, names: list[str]):
        super().__init__()
        self.names = names

    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None) -> SafeString:
        field = super().render(name, value, attrs, renderer)
        if not self.names:
            return field
        input_id = (attrs or {}).get("id") or f"id_{name}"
        chips = format_html_join(
            "",
            '<button type="button" class="badge bg-blue-lt gx-tag-chip" data-tag="{}" aria-pressed="false">{}</button>',
            ((n, n) for n in self.names),
        )
        label = _("Existing tags: click to add or remove")
        return format_html(
            '{}<div class="gx-tag-chips mt-2" data-tag-chips="{}" role="group" aria-label="{}">{}</div>',
            field,
            input_id,
            label,
            chips,
        )


def record_type_choices(*, record_types_only: bool = True) -> list[tuple[str, str]]:
    """``(app.model, label)`` of every registered resource (only CRM record types by default)."""
    from guanxi.core.permissions import is_record_type

    seen: dict[str, str] = {}
    for resource in resources():
        if record_types_only and not is_record_type(resource.object_type):
            continue
        seen.setdefault(resource.object_type, f"{capfirst(resource.label)} ({resource.object_type})")
    return sorted(seen.items(), key=lambda item: item[1])


def related_queryset(db_field: models.Field, user: Any, current: Any = None) -> models.QuerySet:
    """The options of a foreign key: what the user may see (people and teams: everyone active)."""
    from guanxi.identity.models import Team, User

    related = db_field.related_model
    manager = related._default_manager  # type: ignore[union-attr]
    if related is User:
        qs = User.objects.filter(is_active=True)
    elif related is Team:
        qs = Team.objects.all()
    elif related is ContentType:
        ids = [
            ct.pk for ct in ContentType.objects.get_for_models(*registered_models(), for_concrete_models=False).values()
        ]
        qs = ContentType.objects.filter(pk__in=ids)
    elif hasattr(manager, "restrict"):
        qs = manager.restrict(user, Action.VIEW)
    else:
        qs = manager.all()
    if current is not None:
        # Keep the stored value selectable even when the user may not list it: saving must not drop it.
        qs = manager.filter(Q(pk__in=qs.values("pk")) | Q(pk=current))
    return qs


class MoneyField(forms.DecimalField):
    """An amount typed as people write it: 5000000, 5,000,000, 500万, 1.2亿 (``core.money``). A text
    input: a number input would refuse 万."""

    widget = forms.TextInput
    default_error_messages = {"invalid": gettext_lazy("Enter an amount, such as 5000000, 500万 or 1.2亿.")}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.widget.attrs.update(inputmode="decimal", placeholder=gettext_lazy("e.g. 5000000 or 500万"))

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str) and value.strip():
            try:
                value = money_text(value)
            except ValueError:
                raise ValidationError(self.error_messages["invalid"], code="invalid") from None
        return super().to_python(value)

    def widget_attrs(self, widget: forms.Widget) -> dict[str, Any]:
        # Not DecimalField's step and min/max: they are a number input's.
        return forms.Field.widget_attrs(self, widget)


def _formfield(db_field: models.Field, **kwargs: Any) -> forms.Field | None:
    if db_field.name in money_fields(db_field.model):
        return db_field.formfield(form_class=MoneyField, **kwargs)
    if isinstance(db_field, models.JSONField) and db_field.default is list:
        return ListField(
            label=capfirst(str(db_field.verbose_name)),
            required=not db_field.blank,
            help_text=db_field.help_text or gettext_lazy("One per line."),
        )
    if isinstance(db_field, models.DateTimeField):
        return db_field.formfield(widget=DateTimeInput(), input_formats=DATETIME_INPUT_FORMATS, **kwargs)
    if isinstance(db_field, models.DateField):
        return db_field.formfield(widget=DateInput(), **kwargs)
    if isinstance(db_field, models.ForeignKey) and db_field.related_model is ContentType:
        return db_field.formfield(form_class=ContentTypeChoiceField, **kwargs)
    return db_field.formfield(**kwargs)


def style_widget(field: forms.Field) -> None:
    """Tabler (Bootstrap) classes, set once so templates render ``{{ field }}`` as is."""
    widget = field.widget
    if isinstance(widget, forms.CheckboxInput):
        css = "form-check-input"
    elif isinstance(widget, forms.CheckboxSelectMultiple | forms.RadioSelect | forms.HiddenInput):
        css = ""
    elif isinstance(widget, forms.Select):
        css = "form-select"
    else:
        css = "form-control"
    if css:
        widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()
    if isinstance(widget, forms.Textarea) and str(widget.attrs.get("rows")) == "10":
        widget.attrs["rows"] = 4  # Django's default of 10 rows pushes the rest of a form off screen


# --- custom fields -------------------------------------------------------------------------------


def custom_formfield(definition: CustomFieldDefinition) -> forms.Field:
    kind = definition.field_type
    common: dict[str, Any] = {"label": definition.label, "required": definition.required}
    if kind == CustomFieldType.NUMBER:
        return forms.IntegerField(**common)
    if kind == CustomFieldType.DECIMAL:
        return forms.DecimalField(**common)
    if kind == CustomFieldType.DATE:
        return forms.DateField(widget=DateInput(), **common)
    if kind == CustomFieldType.BOOLEAN:
        return forms.TypedChoiceField(
            choices=[("", "—"), ("true", _("Yes")), ("false", _("No"))],
            coerce=lambda v: v == "true",
            empty_value=None,
            **common,
        )
    if kind == CustomFieldType.CHOICE:
        return forms.ChoiceField(choices=[("", "—"), *[(str(c), str(c)) for c in definition.choices]], **common)
    if kind == CustomFieldType.MULTI_CHOICE:
        return forms.MultipleChoiceField(
            choices=[(str(c), str(c)) for c in definition.choices], widget=forms.CheckboxSelectMultiple, **common
        )
    if kind == CustomFieldType.USER:
        from guanxi.identity.models import User

        people = User.objects.filter(is_active=True)
        return forms.ModelChoiceField(queryset=people, widget=RecordPicker("users", people), **common)
    return forms.CharField(max_length=1000, **common)


def custom_initial(definition: CustomFieldDefinition, value: Any) -> Any:
    if value is None:
        return None
    if definition.field_type == CustomFieldType.BOOLEAN:
        return "true" if value else "false"
    return value


def custom_json(value: Any) -> Any:
    """A cleaned form value as the JSON the custom-field service stores."""
    if value in (None, "", []):
        return None
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, models.Model):
        return value.pk
    return value


# --- the record form ------------------------------------------------------------------------------

#: Per object type, functions that adjust the generic form (choices, disabled fields, extra inputs).
_form_tweaks: dict[str, list[Callable[[RecordForm], None]]] = {}


def register_form_tweak(object_type: str) -> Callable[[Callable[[RecordForm], None]], Callable[[RecordForm], None]]:
    """Adjust the generic form of one object type, e.g. offer a select instead of free text."""

    def decorator(fn: Callable[[RecordForm], None]) -> Callable[[RecordForm], None]:
        _form_tweaks.setdefault(object_type, []).append(fn)
        return fn

    return decorator


class RecordForm(forms.ModelForm):
    """The generic add/edit form; build one with ``record_form_class``."""

    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    resource: Resource
    user: Any
    definitions: list[CustomFieldDefinition]
    #: Inputs that are neither model fields, tags, custom fields nor the version (e.g. a password).
    extra_inputs: set[str]

    def __init__(self, *args: Any, resource: Resource, user: Any, tags: list[str] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.resource = resource
        self.user = user
        self.extra_inputs = set()
        self.is_add = self.instance.pk is None
        frozen = frozen_fields(user, resource.model, adding=self.is_add)
        if self.is_add and issubclass(resource.model, OwnedMixin):
            # What the service would fill in anyway; shown so the user sees whose the record will be.
            self.initial.setdefault("owner", user.pk)
            self.initial.setdefault("team", getattr(user, "team_id", None))
        if issubclass(resource.model, OwnedMixin) and not can(user, resource.model, Action.ASSIGN):
            # Without "assign", new records are the user's own and existing ones keep their owner.
            frozen |= {"owner", "team"}
        for name, form_field in list(self.fields.items()):
            if name == "version":
                continue
            db_field = resource.model._meta.get_field(name)
            if name in resource.required_fields:
                form_field.required = True
            if isinstance(form_field, forms.ModelChoiceField) and isinstance(db_field, models.ForeignKey):
                current = getattr(self.instance, db_field.attname, None)
                form_field.queryset = related_queryset(db_field, user, current)
                # Records (accounts...) are too many for a select: a picker searches them as you type.
                picker = pick_widget(db_field, form_field.queryset)
                if picker is not None:
                    form_field.widget = picker
            if name in frozen:
                form_field.disabled = True
                form_field.help_text = _("You may not change this field.")
                if self.is_add and name in ("owner", "team"):
                    form_field.help_text = _("New records are yours; you may not assign them to others.")
        self.fields["version"].initial = getattr(self.instance, "version", None)
        # A role's rule on "tags": hidden, no box; read-only, the box shown and kept as it is.
        unseen = (withheld_fields if self.is_add else hidden_fields)(user, resource.model)
        if resource.taggable and "tags" not in unseen:
            names = list(
                Tag.objects.restrict(user, Action.VIEW)
                .order_by("name")
                .values_list("name", flat=True)[: MAX_TAG_CHIPS + 1]
            )
            self.fields["tags"] = forms.CharField(
                label=_("Tags"),
                required=False,
                help_text=_('Separate tags with commas; a tag that holds a comma goes in double quotes, e.g. "A, B".'),
                max_length=2000,
                validators=[validate_tags],
                widget=TagsInput(names if len(names) <= MAX_TAG_CHIPS else []),
            )
            self.fields["tags"].initial = tags_text(tags or [])
            if "tags" in frozen:
                self.fields["tags"].disabled = True
                self.fields["tags"].help_text = _("You may not change this field.")
        # Hidden custom fields: no inputs (read-only ones: disabled inputs, below).
        self.definitions = (
            definitions_for(resource.model) if resource.custom_fields and "custom_fields" not in unseen else []
        )
        stored = getattr(self.instance, "custom_fields", None) or {}
        for definition in self.definitions:
            name = f"cf_{definition.key}"
            self.fields[name] = custom_formfield(definition)
            self.fields[name].initial = custom_initial(definition, stored.get(definition.key))
            if "custom_fields" in frozen:
                self.fields[name].disabled = True
        for tweak in _form_tweaks.get(resource.object_type, []):
            tweak(self)
        for form_field in self.fields.values():
            style_widget(form_field)

    # The service validates the model inside its transaction; the form only converts input.
    def _post_clean(self) -> None:
        return None

    def add_error(self, field: str | None, error: Any) -> None:
        super().add_error(field, error)
        for name in self.errors:
            if name in self.fields:
                widget = self.fields[name].widget
                if "is-invalid" not in widget.attrs.get("class", ""):
                    widget.attrs["class"] = f"{widget.attrs.get('class', '')} is-invalid".strip()

    def add_service_errors(self, errors: dict[str, list[str]]) -> None:
        """Put a service's ``FieldErrors`` on the inputs they name (``custom_fields.<key>``, ``tags``...)."""
        for key, messages_ in errors.items():
            name = key
            if key.startswith("custom_fields."):
                name = "cf_" + key.split(".", 1)[1]
            elif key.endswith("_id") and key.removesuffix("_id") in self.fields:
                name = key.removesuffix("_id")
            elif "." in key and key.split(".", 1)[0] in self.fields:
                name = key.split(".", 1)[0]  # ``conditions.sizes``: a part of a structured input
            for message in messages_:
                if name in self.fields and not self.fields[name].disabled:
                    self.add_error(name, message)
                elif key in ("__all__", "non_field_errors"):
                    self.add_error(None, message)
                else:
                    label = self.fields[name].label if name in self.fields else self._custom_label(key)
                    self.add_error(None, f"{label}: {message}")

    def _custom_label(self, key: str) -> str:
        """The label of a custom field a refusal names when the form has no input for it (a bulk
        edit's unticked one that a record lacks although required), else ``key`` as it is."""
        wanted = key.removeprefix("custom_fields.")
        found = [d.label for d in self.definitions if key != wanted and d.key == wanted]
        return found[0] if found else key

    @property
    def main_inputs(self) -> list[forms.BoundField]:
        """Model inputs in resource order (and extra ones like a password); then tags and custom fields."""
        return [self[n] for n in self.fields if n not in ("version", "tags") and not n.startswith("cf_")]

    @property
    def tag_input(self) -> forms.BoundField | None:
        return self["tags"] if "tags" in self.fields else None

    @property
    def custom_inputs(self) -> list[forms.BoundField]:
        return [self[n] for n in self.fields if n.startswith("cf_")]

    def service_data(self) -> dict[str, Any]:
        """Changed model fields as the service takes them: foreign keys as ``<name>_id``."""
        data: dict[str, Any] = {}
        for name in self.changed_data:
            if name in ("version", "tags") or name.startswith("cf_") or name in self.extra_inputs:
                continue
            data.update(self.service_value(name))
        return data

    def service_value(self, name: str) -> dict[str, Any]:
        """One model field's cleaned value as the service takes it: a foreign key as ``<name>_id``,
        an emptied text as "" (the bulk edit's ticked inputs read the same)."""
        value = self.cleaned_data.get(name)
        db_field = self.resource.model._meta.get_field(name)
        if isinstance(db_field, models.ForeignKey):
            return {db_field.attname: value.pk if value is not None else None}
        if value is None and isinstance(db_field, models.CharField | models.TextField):
            return {name: ""}
        return {name: value}

    def service_extras(self) -> dict[str, Any]:
        """``tags`` and ``custom_fields`` for the service: all of them on add, the changed ones on edit."""
        extras: dict[str, Any] = {}
        if "tags" in self.fields and not self.fields["tags"].disabled and (self.is_add or "tags" in self.changed_data):
            extras["tags"] = parse_tags(self.cleaned_data.get("tags") or "")
        if self.resource.custom_fields:
            values = {}
            for definition in self.definitions:
                name = f"cf_{definition.key}"
                if self.fields[name].disabled:
                    continue
                if self.is_add or name in self.changed_data:
                    values[definition.key] = custom_json(self.cleaned_data.get(name))
            if values or self.is_add:
                extras["custom_fields"] = values
        return extras

    def has_changes(self) -> bool:
        return bool(self.service_data() or self.service_extras() or self.extra_inputs & set(self.changed_data))


def record_form_class(
    resource: Resource, user: Any, *, fields: list[str] | None = None, adding: bool = False
) -> type[RecordForm]:
    """A ModelForm class of the resource's writable fields the user may see (and, ``adding`` a
    record, those they see masked: see ``frozen_fields``)."""
    hidden = (withheld_fields if adding else hidden_fields)(user, resource.model)
    names = [f for f in (fields if fields is not None else resource.write_fields) if f not in hidden]
    form_class: type[RecordForm] = modelform_factory(  # type: ignore[assignment]
        resource.model, form=RecordForm, fields=names, formfield_callback=_formfield
    )
    return form_class


# --- tweaks of core object types -----------------------------------------------------------------


@register_form_tweak("core.customfielddefinition")
def _custom_field_definition(form: RecordForm) -> None:
    if "object_type" in form.fields:
        choices = record_type_choices()
        current = form.initial.get("object_type")
        if current and current not in dict(choices):
            choices.append((current, current))
        form.fields["object_type"] = forms.ChoiceField(
            label=form.fields["object_type"].label, choices=[("", "—"), *choices], required=True
        )
    if not form.is_add:
        # Stored values depend on these; the service refuses a change, so do not offer one.
        for name in ("object_type", "key", "field_type"):
            if name in form.fields:
                form.fields[name].disabled = True
    if "choices" in form.fields:
        form.fields["choices"].help_text = _("For choice fields: one choice per line.")
