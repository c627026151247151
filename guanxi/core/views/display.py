"""How values read on a page: foreign keys as links, choices by label, times in the user's zone.

Lists render every cell through here from rows fetched with ``select_related``, so a page costs the
same number of queries whatever its length.
"""

from __future__ import annotations

import datetime
import decimal
import html
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator, capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from guanxi.core.choices import choice_label
from guanxi.core.masking import mask, masked_point
from guanxi.core.models import CustomFieldDefinition
from guanxi.core.money import money_fields, short_money
from guanxi.core.permissions import unseen_ids
from guanxi.core.registry import ComputedColumn, Resource
from guanxi.core.tags import SEPARATOR, scope_of
from guanxi.core.views.base import record_url

EMPTY = mark_safe('<span class="text-secondary">—</span>')  # noqa: S308 - constant markup


def escaped(value: Any) -> str:
    """``value`` as HTML, as ``conditional_escape`` writes it (markup marked safe as it is, anything
    else escaped), for the markup of a list's cells, written with f-strings. Without
    ``conditional_escape``'s wrapper for lazy arguments: a list page escapes a few thousand values."""
    to_html = getattr(value, "__html__", None)
    return to_html() if to_html is not None else html.escape(str(value))


def masked_cell(value: Any, *, every: bool = False) -> SafeString | str:
    """A masked field's value (``guanxi.core.masking``), never a link: other values as their text
    masked; of a list (a contact's emails or phones) the first masked and how many more, or with
    ``every`` (a record's page) each on a line."""
    if value is None or value == "" or value == []:
        return EMPTY
    if not isinstance(value, list):
        return mark_safe(f'<span class="gx-masked">{escaped(mask(str(value)))}</span>')  # noqa: S308 - escaped
    texts = [escaped(masked_point(point)["value"]) for point in value]
    if every:
        return mark_safe("<br>".join(f'<span class="gx-masked">{t}</span>' for t in texts))  # noqa: S308 - escaped
    more = f' <span class="text-secondary small">+{len(texts) - 1}</span>' if len(texts) > 1 else ""
    return mark_safe(f'<span class="gx-masked">{texts[0]}</span>{more}')  # noqa: S308 - escaped


def unseen_value() -> SafeString:
    """The cell of a field that points at a record the reader may not see: there is one, unnamed
    (``permissions.unseen_references``)."""
    return format_html('<span class="text-secondary" data-unseen>{}</span>', _("a record you may not see"))


@dataclass
class Column:
    """A column a list can show: a model field, the tags, or a custom field (``cf.<key>``)."""

    name: str
    label: str
    kind: str = "field"  # field | masked (a field the reader sees masked) | tags | cf | computed
    sortable: bool = False
    definition: CustomFieldDefinition | None = None
    computed: ComputedColumn | None = None
    db_field: models.Field | None = field(default=None, repr=False)

    @property
    def is_relation(self) -> bool:
        return self.db_field is not None and bool(self.db_field.many_to_one)


def select_options(options: list[tuple[str, str]], selected: str) -> SafeString:
    """``<option>`` elements for (value, label) pairs, the one whose value is ``selected`` selected;
    both escaped."""
    return mark_safe(  # noqa: S308 - every value and label is escaped
        "".join(
            # html.escape as Django's escape does, less its wrapper: the country filter has some 250.
            f'<option value="{html.escape(str(value))}"{" selected" if value == selected else ""}>'
            f"{html.escape(str(label))}</option>"
            for value, label in options
        )
    )


def model_field(model: type[models.Model], name: str) -> models.Field | None:
    try:
        return model._meta.get_field(name)  # type: ignore[return-value]
    except FieldDoesNotExist:
        return None


#: Labels of names that are not model fields but that every taggable record's change log and forms use.
NON_FIELD_LABELS = {"tags": gettext_lazy("Tags")}


def field_label(model: type[models.Model], name: str) -> str:
    db_field = model_field(model, name)
    if db_field is None and name in NON_FIELD_LABELS:
        return str(NON_FIELD_LABELS[name])
    verbose = getattr(db_field, "verbose_name", None)
    if verbose is None and db_field is not None and db_field.related_model is not None:
        verbose = db_field.related_model._meta.verbose_name_plural  # a reverse relation (role -> rules)
    return capfirst(str(verbose or name.replace("_", " ")))


def available_columns(
    resource: Resource,
    hidden: set[str],
    definitions: list[CustomFieldDefinition],
    masked: frozenset[str] | set[str] = frozenset(),
) -> list[Column]:
    """The columns a reader may choose: not the ``hidden`` fields, except the ``masked`` among them,
    which show masked and sort nothing (an order would tell the values apart)."""
    ordering = set(resource.filterset.ordering_fields)
    columns = []
    for name in resource.fields:
        if name in hidden and name not in masked:
            continue
        db_field = model_field(resource.model, name)
        columns.append(
            Column(
                name=name,
                label=field_label(resource.model, name),
                kind="masked" if name in masked else "field",
                sortable=name in ordering and name not in hidden,
                db_field=db_field,
            )
        )
    for computed in resource.computed_columns:
        label = capfirst(str(computed.label))
        columns.append(Column(name=computed.name, label=label, kind="computed", computed=computed))
    if resource.taggable and "tags" not in hidden:
        columns.append(Column(name="tags", label=_("Tags"), kind="tags"))
    if resource.custom_fields and "custom_fields" not in hidden:
        for definition in definitions:
            columns.append(
                Column(name=f"cf.{definition.key}", label=definition.label, kind="cf", definition=definition)
            )
    return columns


def computed_value(text: str, url: str, *, link: bool = True) -> SafeString | str:
    """A computed column's cell: its text, linked when it has an address (not in a row's first cell)."""
    if not text:
        return EMPTY
    if not (url and link):
        return text
    # The title holds the whole text where a narrow list cell shows it shortened.
    text = escaped(text)
    return mark_safe(f'<a href="{escaped(url)}" title="{text}">{text}</a>')  # noqa: S308 - escaped


def format_datetime(value: datetime.datetime) -> str:
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return value.strftime("%Y-%m-%d %H:%M")


def list_datetime(value: datetime.datetime, this_year: int | None = None) -> SafeString:
    """A time in a list's cell: this year's without the year ("12-05 21:49"), an older one as its
    date ("2025-11-30"); the whole stamp in its title. In their long form the account list's two
    time columns made it wider than a 1280-px screen. ``this_year``: the current year in the
    user's zone, when the caller read it once for the page's cells."""
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    if this_year is None:
        this_year = timezone.localtime().year
    shown = local.strftime("%m-%d %H:%M") if local.year == this_year else local.strftime("%Y-%m-%d")
    return mark_safe(  # noqa: S308 - escaped
        f'<time datetime="{escaped(local.isoformat())}" title="{escaped(format_datetime(local))}">'
        f"{escaped(shown)}</time>"
    )


def format_decimal(value: decimal.Decimal) -> str:
    """An amount as people read it: 240,000,000 (not 240000000.00); cents only when there are some."""
    if value == value.to_integral_value():
        return f"{value:,.0f}"
    return f"{value:,f}"


def money_value(value: decimal.Decimal, *, exact: bool = False) -> SafeString | str:
    """An amount of money (``core.money``): in the Chinese UI a large one as 2.4亿, with the figure
    in its title (lists) or beside it (``exact``: a record's page, its change history)."""
    figure = format_decimal(value)
    short = short_money(value)
    if short is None:
        return figure
    if exact:
        return format_html('{} <span class="text-secondary">({})</span>', short, figure)
    return mark_safe(f'<span title="{escaped(figure)}">{escaped(short)}</span>')  # noqa: S308 - escaped


def yes_no(value: bool) -> SafeString:
    if value:
        return format_html('<span class="badge bg-green-lt">{}</span>', _("Yes"))
    return format_html('<span class="badge bg-secondary-lt">{}</span>', _("No"))


def content_type_label(ct: ContentType) -> str:
    model = ct.model_class()
    return capfirst(str(model._meta.verbose_name)) if model is not None else f"{ct.app_label}.{ct.model}"


def plain_value(value: Any, *, truncate: int | None = None) -> SafeString | str:
    """Text for a stored value that has no model field to explain it (JSON, change-log values)."""
    if value is None or value == "" or value == [] or value == {}:
        return EMPTY
    if isinstance(value, bool):
        return yes_no(value)
    if isinstance(value, datetime.datetime):
        return format_datetime(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return format_decimal(value)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
        return _truncate(text, truncate)
    return _truncate(str(value), truncate)


def _truncate(text: str, limit: int | None) -> str:
    # Most cells are short: no need for Truncator's per-character walk (a list page has hundreds).
    if not limit or len(text) <= limit:
        return text
    return Truncator(text).chars(limit)


#: ``(value, record id) -> text, or lines``: one structured value of a change-log entry in words.
ChangeValueWords = Callable[[Any, Any], "str | list[str]"]
#: ``(every value of the field the history shows, reader) -> ChangeValueWords``.
ChangeWords = Callable[[list[Any], Any], ChangeValueWords]


@dataclass(frozen=True)
class ChangeField:
    words: ChangeWords
    label: Any = None  # a name the change log keeps that is not a model field (a person's relations)


_CHANGE_FIELDS: dict[type[models.Model], dict[str, ChangeField]] = {}


def register_change_words(model: type[models.Model], name: str, words: ChangeWords, *, label: Any = None) -> None:
    """How ``model``'s change history words ``name``'s structured values (a person's emails and
    companies, a rule's conditions), which would read as raw data. ``words`` is given every value
    of the field that a history shows first, so that it reads the records they name once, and
    whom they are shown to (a record they may not see is not named)."""
    _CHANGE_FIELDS.setdefault(model, {})[name] = ChangeField(words, label)


def change_fields(model: type[models.Model] | None) -> dict[str, ChangeField]:
    return _CHANGE_FIELDS.get(model, {}) if model is not None else {}


def record_names(model: type[models.Model], ids: Iterable[Any], user: Any) -> dict[Any, str]:
    """``model``'s records ``ids`` by name, in one query, those ``user`` may not see said to be one
    (``unseen_ids``: what one may not see names nothing); one gone has no name here."""
    wanted = {pk for pk in ids if pk is not None}
    if not wanted:
        return {}
    names = {obj.pk: str(obj) for obj in model._default_manager.filter(pk__in=wanted)}
    if user is not None:
        for pk in unseen_ids(user, model, wanted):
            names[pk] = _("a record you may not see")
    return names


def lines(value: str | list[str]) -> SafeString | str:
    """Text, or lines of it one under another (each escaped)."""
    if isinstance(value, str):
        return value or EMPTY
    return format_html_join(mark_safe("<br>"), "{}", ((line,) for line in value)) if value else EMPTY


def value_words(model: type[models.Model] | None, name: str) -> Callable[[Any], str] | None:
    """How a model shows a stored value in words (``value_displays``: CN -> 中国), on its page, in
    its lists and in its change history alike."""
    return getattr(model, "value_displays", {}).get(name)


def field_value(
    obj: models.Model, name: str, *, truncate: int | None = 80, link: bool = True, exact: bool = False
) -> SafeString | str:
    """The display of one model field of ``obj``; relations must be select_related by the caller.
    ``exact``: amounts of money with their whole figure in sight (a record's page)."""
    return field_cell(type(obj), name, truncate=truncate, link=link, exact=exact)(obj)


def field_cell(
    model: type[models.Model], name: str, *, truncate: int | None = 80, link: bool = True, exact: bool = False
) -> Callable[[Any], SafeString | str]:
    """``field_value`` for one field of many records: how the field reads is worked out once (a list
    asks it per column, not for each of its some 400 cells), the value read from each record."""
    db_field = model_field(model, name)
    if db_field is None:
        return lambda obj: plain_value(getattr(obj, name, None), truncate=truncate)
    if db_field.many_to_one or db_field.one_to_one:

        def related_cell(obj: Any) -> SafeString | str:
            related = getattr(obj, name)
            if related is None:
                return EMPTY
            if isinstance(related, ContentType):
                return content_type_label(related)
            url = record_url(related) if link else None
            if not url:
                return str(related)
            return mark_safe(f'<a href="{escaped(url)}">{escaped(related)}</a>')  # noqa: S308 - escaped

        return related_cell
    show = _value_display(model, name, db_field, truncate=truncate, exact=exact)
    attname = db_field.attname

    def cell(obj: Any) -> SafeString | str:
        value = getattr(obj, attname)
        if value is None or value == "":
            return EMPTY
        return show(obj, value)

    return cell


def _value_display(
    model: type[models.Model], name: str, db_field: models.Field, *, truncate: int | None, exact: bool
) -> Callable[[Any, Any], SafeString | str]:
    """How a field's stored value (neither empty nor a relation) reads: ``(record, value) -> text``."""
    words = value_words(model, name)
    if words is not None:
        return lambda obj, value: words(value)
    if getattr(db_field, "choices", None):
        return lambda obj, value: choice_label(db_field, value)
    display_name = f"get_{name}_display"
    if hasattr(model, display_name):  # a model's own wording of a structured value (e.g. a rule's conditions)
        return lambda obj, value: _truncate(str(getattr(obj, display_name)()), truncate)
    if isinstance(db_field, models.BooleanField):
        return lambda obj, value: yes_no(bool(value))
    if isinstance(db_field, models.FileField):
        return lambda obj, value: value.name or EMPTY
    if name in money_fields(model):
        return lambda obj, value: money_value(value, exact=exact)
    return lambda obj, value: plain_value(value, truncate=truncate)


def custom_value(
    definition: CustomFieldDefinition | None, value: Any, users: dict[Any, Any] | None = None
) -> SafeString | str:
    """A custom field's stored JSON value, shown by its definition's type."""
    if value is None or value == "" or value == []:
        return EMPTY
    if definition is not None and definition.field_type == "user":
        user = (users or {}).get(value)
        if user is None:
            return f"#{value}"
        url = record_url(user)
        return format_html('<a href="{}">{}</a>', url, user) if url else str(user)
    if definition is not None and definition.field_type == "boolean":
        return yes_no(bool(value))
    return plain_value(value, truncate=80)


def users_by_id(ids: set[Any]) -> dict[Any, Any]:
    """Users named by custom fields of a page, in one query."""
    if not ids:
        return {}
    from guanxi.identity.models import User

    clean = {i for i in ids if isinstance(i, int)}
    return {u.pk: u for u in User.objects.filter(pk__in=clean)}


def tag_badges(names: list[str] | None) -> SafeString:
    """Tags as badges; a scoped one (意向::高, ``core.tags``) reads "意向: 高", its scope lighter."""
    if not names:
        return EMPTY
    return mark_safe(" ".join(_tag_badge(name) for name in names))  # noqa: S308 - escaped


def _tag_badge(name: str) -> str:
    scope = scope_of(name)
    if scope is None:
        return f'<span class="badge bg-blue-lt">{escaped(name)}</span>'
    value = name[len(scope) + len(SEPARATOR) :]
    return (
        f'<span class="badge bg-azure-lt" title="{escaped(name)}"><span class="fw-normal">{escaped(scope)}:</span>'
        f" {escaped(value)}</span>"
    )
