"""One filter definition per model, shared by the API list endpoints and the UI list pages.

A ``FilterSet`` declares what may be searched, filtered and sorted. Anything else is refused with
a 400 naming the parameter, and so is a field the user's role hides.
"""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models
from django.db.models import DecimalField, Exists, OuterRef, Q
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from guanxi.core.errors import FieldErrors
from guanxi.core.models import TaggedItem
from guanxi.core.money import money_fields, money_text
from guanxi.core.permissions import hidden_fields
from guanxi.core.tags import SEPARATOR, any_of_scope

#: A filter through another table (``through``) that matches fewer rows than this reads their ids
#: first; one that matches more checks the records row by row down the list's order. Measured on
#: the 1M bench databases, warm, for the contacts of the largest account (3,390): row by row 35 ms
#: p50 on PostgreSQL and 16 on SQLite, ids first 17 and 10 (it was 2,000 while a cold SQLite cache
#: made the ids-first read 0.17 s; the bench's "list filtered account" p99 went over 20 ms on
#: PostgreSQL on a slower host with it).
FEW = 5000

#: Matches of the search index above which a list's search also reads the text in its fields
#: (``FilterSet.search``).
SEARCH_LIMIT = 200

# Query parameters that are not filters.
RESERVED = {"cursor", "limit", "ordering", "search", "updated_since", "columns", "view", "format", "page"}
LOOKUPS = {"exact", "iexact", "icontains", "in", "gt", "gte", "lt", "lte", "isnull", "startswith"}
#: The rule on a field that governs a filter of every record type (the tags' rule, ``tag=``); a
#: FilterSet's ``governed_by`` names its own.
GOVERNED = {"tag": "tags"}


def _me(user: Any) -> list[int]:
    return [user.pk]


def _me_and_reports(user: Any) -> list[int]:
    from guanxi.identity.selectors import user_report_ids

    return [user.pk, *user_report_ids(user)]


def _my_teams(user: Any) -> list[int]:
    from guanxi.identity.selectors import user_team_ids

    return user_team_ids(user)


#: Values of the ownership filters that stand for people relative to whoever asks, so a link, a
#: bookmark or a shared saved view means the same to each user (``owner=me`` is everyone's own).
RELATIVE_VALUES: dict[str, dict[str, tuple[Any, Callable[[Any], list[int]]]]] = {
    "owner": {"me": (gettext_lazy("Me"), _me), "reports": (gettext_lazy("Me and my reports"), _me_and_reports)},
    "team": {"mine": (gettext_lazy("My team"), _my_teams)},
}


def record_id(value: Any) -> int | None:
    """A record id typed in a link or a file: a whole number an id column holds, else None.
    (``str.isdigit`` is true of "²", which ``int`` refuses, and of numbers past a bigint.)"""
    text = str(value).strip()
    return int(text) if text.isascii() and text.isdecimal() and 0 < int(text) < 2**63 else None


def record_ids(values: Iterable[Any], *, field: str = "ids", limit: int | None = None) -> list[int]:
    """Chosen records' ids as whole numbers, each once, in the order given (a bulk action's or an
    export's selection); anything else is a ``FieldErrors`` on ``field``."""
    try:
        ids = list(dict.fromkeys(int(value) for value in values))
    except (TypeError, ValueError):
        raise FieldErrors({field: [_("Give record ids (whole numbers).")]}) from None
    if limit is not None and len(ids) > limit:
        raise FieldErrors({field: [_("Choose at most %(limit)d records.") % {"limit": limit}]})
    return ids


def are_few(rows: models.QuerySet) -> bool:
    """Fewer than ``FEW`` rows, counted on at most ``FEW`` of them (an index range, no sort)."""
    return rows.order_by()[:FEW].count() < FEW


def through(
    qs: models.QuerySet,
    rows: models.QuerySet,
    column: str,
    *,
    check: models.QuerySet | None = None,
    few: bool = False,
) -> models.QuerySet:
    """``qs`` narrowed to the records that ``rows`` of another table point at by ``column``: the
    contacts of an account, with an email or a phone, with a tag.

    When ``rows`` are few (under ``FEW``), their ids come first and the page is sorted from those;
    when they are many, each record down the list's order is checked (EXISTS), which soon finds a
    page. Each way fails the other case, at a million contacts on SQLite: checked row by row, an
    account with 60 contacts took 0.3 s, an email 0.7 s, the last digits of a phone 1.1 s; read
    first, the 3,390 contacts of the largest account took 0.17 s from a cold cache (7 ms row by
    row then; warm, the ids first are the quicker: see ``FEW``). Counting up to ``FEW`` rows reads
    their index alone.

    ``check`` is the same rows written for the second way, when the first way's text would lead
    the database to the wrong index there (see ``customers.filters.links_to``).

    ``few``: the rows are known to be few whatever the data (an exact email or phone, a phone's last
    4 or more digits: about one phone in 10,000), so the first way is taken without counting; one
    query fewer per page.
    """
    if few or are_few(rows):
        return qs.filter(pk__in=rows.values(column))
    return qs.filter(Exists((rows if check is None else check).filter(**{column: OuterRef("pk")})))


class FilterSet:
    """Declare ``model``, ``search_fields``, ``filters`` ({field: lookups}) and ``ordering_fields``.

    Each ordering field needs an index on (field, id) of the rows a list shows; the primary key breaks
    ties. A nullable field sorts its empty values first going up and last going down (``pagination``).
    A declared filter that is not a column of the model is applied by ``custom_filter``.
    """

    model: ClassVar[type[models.Model]]
    search_fields: ClassVar[tuple[str, ...]] = ()
    #: A search field matched otherwise than by containing the text: ``{field: (text) -> Q}`` (a
    #: user's name also by its pinyin, ``User.name_matches``).
    search_matches: ClassVar[dict[str, Callable[[str], Q]]] = {}
    #: ``search=`` asks the search index (the model is a search type), not ``search_fields``.
    search_index: ClassVar[bool] = False
    #: The model field whose field rule also governs a filter that is not a column (``custom_filter``):
    #: hiding ``emails`` hides ``email=``.
    governed_by: ClassVar[dict[str, str]] = {}
    #: Filters that are not a column but pick a record (``account=``, ``group=``): the list page shows a
    #: record picker for each, ``{filter: (resource path, label)}``.
    pickers: ClassVar[dict[str, tuple[str, Any]]] = {}
    #: Filters that are not a column but take a few set values: the list page shows a select of them,
    #: ``{filter: (label, () -> [(value, label)])}`` (``birthday_within``: today, this week…).
    choice_filters: ClassVar[dict[str, tuple[Any, Callable[[], Sequence[tuple[str, str]]]]]] = {}
    filters: ClassVar[dict[str, tuple[str, ...]]] = {}
    #: Columns with an index on (column, id) of the rows a list shows, whose ranges (``__gte``,
    #: ``__lte``) may match few records: those few are read from that index first (``_narrow``).
    indexed_ranges: ClassVar[tuple[str, ...]] = ()
    #: Columns most records leave blank, indexed only where set (a partial index): ``{filter: Q}``,
    #: the index's condition. A filter on a value repeats it, since SQLite uses a partial index only
    #: for a query that states its condition (PostgreSQL proves it from the value).
    sparse_columns: ClassVar[dict[str, Q]] = {}
    ordering_fields: ClassVar[tuple[str, ...]] = ("id",)
    default_ordering: ClassVar[str] = "-id"
    #: What people type for a value, read as it is stored (``country=中国`` -> ``CN``), for the exact
    #: and "in" lookups: ``{filter: (text) -> stored text}``; a ValueError's message is the error.
    #: The model's money fields take amounts as people write them (500万) without saying so here.
    value_cleaners: ClassVar[dict[str, Callable[[str], str]]] = {}
    #: Choice filters whose records may have none (a blank ``tier``): ``{filter: (value, label)}``,
    #: the value that picks them (``tier=none``, also in ``tier__in=A,none``) and its option's label
    #: on the list page.
    empty_values: ClassVar[dict[str, tuple[str, Any]]] = {}
    #: Filters the list page offers as a list to choose from though the field has no choices
    #: (countries by name): ``{filter: () -> [(stored value, label)]}``, in the reader's language.
    option_lists: ClassVar[dict[str, Callable[[], Sequence[tuple[str, str]]]]] = {}
    #: Values that stand for users or teams relative to whoever asks (``owner=me``, ``team=mine``;
    #: also within ``owner__in=me,12``): ``{filter: {value: (label, (user) -> ids)}}``.
    relative_values: ClassVar[dict[str, dict[str, tuple[Any, Callable[[Any], list[int]]]]]] = RELATIVE_VALUES

    def __init__(self, params: Mapping[str, Any], user: Any, *, strict: bool = True):
        self.params = params
        self.user = user
        self.strict = strict
        self.hidden = hidden_fields(user, self.model)

    # --- helpers ---------------------------------------------------------------------------------
    def _field(self, name: str) -> models.Field:
        try:
            return self.model._meta.get_field(name)  # type: ignore[return-value]
        except FieldDoesNotExist:
            raise FieldErrors({name: [_("Unknown field.")]}) from None

    @classmethod
    def as_stored(cls, name: str, raw: str) -> str:
        """A typed value of filter ``name`` as it is stored (``value_cleaners``; ValueError: not one)."""
        empty = cls.empty_values.get(name)
        if empty is not None and raw == empty[0]:
            return ""
        cleaner = cls.value_cleaners.get(name)
        if cleaner is None and name in money_fields(cls.model):
            cleaner = money_text  # annual_revenue__gte=500万
        return cleaner(raw) if cleaner is not None and raw else raw

    def _coerce(self, param: str, field: models.Field, lookup: str, raw: str) -> Any:
        if lookup == "isnull":
            if raw.lower() in {"true", "1"}:
                return True
            if raw.lower() in {"false", "0"}:
                return False
            raise FieldErrors({param: [_("Use true or false.")]})
        if lookup == "in":
            return [self._coerce(param, field, "exact", part) for part in raw.split(",") if part != ""]
        if lookup in {"icontains", "iexact", "startswith"}:
            return raw
        try:
            raw = self.as_stored(field.name, raw)
        except ValueError as exc:
            raise FieldErrors({param: [str(exc)]}) from None
        target = field.target_field if field.is_relation else field  # type: ignore[attr-defined]
        if isinstance(target, models.BooleanField):
            # The lists' Yes/No selects and the breakdowns' links send true/false, which
            # ``BooleanField.to_python`` does not take (it wants True, t or 1).
            from guanxi.core.imports.cells import parse_yes_no  # cells -> exports -> this module

            try:
                return parse_yes_no(raw)
            except ValueError:
                raise FieldErrors({param: [_("Use true or false.")]}) from None
        try:
            if isinstance(target, models.DateTimeField):
                value = parse_datetime(raw)
                if value is None:
                    value = datetime.datetime.combine(datetime.date.fromisoformat(raw), datetime.time.min)
                # A date, or a time without an offset, is in the site's time zone (TIME_ZONE: Shanghai).
                value = timezone.make_aware(value) if timezone.is_naive(value) else value
                value.astimezone(datetime.UTC)  # as the database stores it: 0001-01-01 in Shanghai has none
                return value
            value = target.to_python(raw)
            if field.choices and value not in ("", None) and value not in {v for v, _label in field.flatchoices}:
                raise ValidationError("not a choice")  # decision_role=boss finds nothing: say so
            return value
        except (ValidationError, ValueError, OverflowError):
            message = _("“%(value)s” is not a valid value here.") % {"value": raw[:50]}
            words = self.relative_values.get(field.name)
            if words:  # owner=boss: say what else it takes
                message += " " + _("Use an id, or one of: %(words)s.") % {"words": ", ".join(words)}
            raise FieldErrors({param: [message]}) from None

    # --- the three parts ------------------------------------------------------------------------
    def ordering(self) -> str:
        ordering = str(self.params.get("ordering") or self.default_ordering)
        name = ordering.lstrip("-")
        if name == "pk":
            name = "id"
        if name not in self.ordering_fields or name in self.hidden:
            raise FieldErrors(
                {
                    "ordering": [
                        _("You cannot sort by “%(field)s”. Allowed: %(allowed)s.")
                        % {
                            "field": name[:50],
                            "allowed": ", ".join(f for f in self.ordering_fields if f not in self.hidden),
                        }
                    ]
                }
            )
        return ("-" if ordering.startswith("-") else "") + name

    def search(self, qs: models.QuerySet) -> models.QuerySet:
        """``search=``: records whose ``search_fields`` contain the text; for types in the search
        index (``search_index``), the records the index finds for it instead (names with their
        pinyin, emails, phone digits, companies: ``guanxi.core.search``).

        A text the index finds fewer than ``SEARCH_LIMIT`` times gives those records alone: written
        as LIKE '%text%', it read every record to find them (at a million contacts, 0.56 s on SQLite
        for a name nobody has). A text it finds more often gives its best ``SEARCH_LIMIT`` and every
        record that contains it, which a list finds a page of soon, and an export or a bulk action
        has in full.
        """
        term = str(self.params.get("search") or "").strip()
        if not term:
            return qs
        ids = None
        if self.search_index:
            from guanxi.core.search import search_ids

            ids = search_ids(self.user, self.model, term, SEARCH_LIMIT)
            if ids is not None and len(ids) < SEARCH_LIMIT:
                return qs.filter(pk__in=ids)
        if not self.search_fields:
            return qs
        q = Q(pk__in=ids) if ids else Q()
        for name in self.search_fields:
            if name.split("__")[0] not in self.hidden:
                match = self.search_matches.get(name)
                q |= match(term) if match else Q(**{f"{name}__icontains": term})
        return qs.filter(q)

    def filter(self, qs: models.QuerySet) -> models.QuerySet:
        from guanxi.core.custom_fields import definitions_for

        custom = None
        ranges: dict[str, dict[str, Any]] = {}
        for param in self.params:
            if param in RESERVED or param.startswith("_"):
                continue
            values = self.params.getlist(param) if hasattr(self.params, "getlist") else [self.params[param]]
            raw = str(values[-1]) if values else ""
            if raw == "" and not self.strict:
                continue
            name, _sep, lookup = param.partition("__")
            lookup = lookup or "exact"
            if name.startswith("cf_"):
                if custom is None:
                    custom = {d.key: d for d in definitions_for(self.model) if d.filterable}
                key = name[3:]
                unknown = key not in custom or "custom_fields" in self.hidden
                if unknown or lookup not in {"exact", "icontains", "gte", "lte", "isnull"}:
                    if self.strict:
                        raise FieldErrors({param: [_("Unknown or unfilterable custom field.")]})
                    continue
                qs = self._filter_custom(qs, param, custom[key], lookup, raw)
                continue
            allowed = self.filters.get(name)
            column = allowed is not None and self._is_column(name)
            if (
                allowed is None
                or lookup not in allowed
                or (column and lookup not in LOOKUPS)
                or self.governed_by.get(name, GOVERNED.get(name, name)) in self.hidden
            ):
                if self.strict:
                    raise FieldErrors({param: [_("You cannot filter by “%(param)s”.") % {"param": param[:50]}]})
                continue
            if not column:
                qs = self.custom_filter(qs, name, lookup, raw)
                continue
            field = self._field(name)
            relative = self.relative_values.get(name)
            if relative and lookup in ("exact", "in"):
                parts = raw.split(",") if lookup == "in" else [raw]
                if any(part in relative for part in parts):
                    qs = qs.filter(**{f"{name}__in": self._relative(param, field, relative, parts)})
                    continue
            value = self._coerce(param, field, lookup, raw)
            if name in self.indexed_ranges and lookup in ("gte", "lte"):
                ranges.setdefault(name, {})[f"{name}__{lookup}"] = value
                continue
            qs = qs.filter(**{f"{name}__{lookup}": value})
            if name in self.sparse_columns and lookup in ("exact", "in") and all(value if lookup == "in" else [value]):
                qs = qs.filter(self.sparse_columns[name])
        for bounds in ranges.values():
            qs = self._narrow(qs, bounds)
        since = self.params.get("updated_since")
        if since:
            if not hasattr(self.model, "updated_at"):
                raise FieldErrors({"updated_since": [_("This list has no update time.")]})
            parsed = parse_datetime(str(since))
            if parsed is None:
                raise FieldErrors({"updated_since": [_("Use an ISO 8601 time, e.g. 2026-01-31T08:00:00Z.")]})
            qs = qs.filter(updated_at__gte=parsed)
        return qs

    def _relative(self, param: str, field: models.Field, relative: dict[str, Any], parts: list[str]) -> list[Any]:
        """The ids that values like ``me`` stand for for this user, with the plain ids among them."""
        ids: list[Any] = []
        for part in parts:
            if part in relative:
                ids += relative[part][1](self.user)
            elif part != "":
                ids.append(self._coerce(param, field, "exact", part))
        return ids

    def _narrow(self, qs: models.QuerySet, bounds: dict[str, Any]) -> models.QuerySet:
        """``qs`` within a range of an ``indexed_ranges`` column.

        SQLite (built without STAT4) cannot tell a range that few rows meet from one that most do,
        so it reads the list's own order and checks each row: 94 ms at 200,000 accounts for
        ``engagement__gte=20``, which a few hundred meet. When the range's index gives fewer than
        ``FEW`` rows, their ids come first, as for a filter through another table (``through``).
        """
        rows = qs.filter(**bounds)
        if are_few(rows):
            return qs.filter(pk__in=rows.values("pk"))
        return rows

    def _is_column(self, name: str) -> bool:
        try:
            self.model._meta.get_field(name)
        except FieldDoesNotExist:
            return False
        return True

    def custom_filter(self, qs: models.QuerySet, name: str, lookup: str, raw: str) -> models.QuerySet:
        """A declared filter that is not one of the model's columns: ``tag`` here (filter sets of
        taggable records declare ``"tag": ("exact", "in")``); subclasses add theirs and pass the rest on.

        ``tag=重点客户``: records carrying the tag; ``tag__in=重点客户,VIP``: any of the tags;
        ``tag=意向::*``: any tag of the scope 意向; ``tag__not=意向::*,VIP``: none of these.
        ``followed=me`` (or ``true``): the records the user follows (关注); ``false``: the others.
        """
        if name == "followed":
            return self._followed(qs, raw)
        if name != "tag":
            raise NotImplementedError(name)
        names = [part.strip() for part in (raw.split(",") if lookup in ("in", "not") else [raw]) if part.strip()]
        if not names:
            raise FieldErrors({"tag" if lookup == "exact" else f"tag__{lookup}": [_("Give a tag name.")]})
        content_type = ContentType.objects.get_for_model(self.model, for_concrete_model=False)
        # 意向::* asks for any tag of the scope 意向 (core.tags); other names are tags' own.
        scopes = [scope for name in names if (scope := any_of_scope(name)) is not None]
        match = Q(tag__name__in=[name for name in names if any_of_scope(name) is None])
        for scope in scopes:
            match |= Q(tag__name__startswith=f"{scope}{SEPARATOR}")
        tagged = TaggedItem.objects.filter(match, content_type=content_type)
        if lookup == "not":  # none of them: the prospects not yet given a 意向, to classify next
            return qs.exclude(pk__in=tagged.values("object_id"))
        return through(qs, tagged, "object_id")

    def _followed(self, qs: models.QuerySet, raw: str) -> models.QuerySet:
        from guanxi.core.follows import FOLLOWED, NOT_FOLLOWED, follows_of

        value = raw.strip().lower()
        if value not in FOLLOWED | NOT_FOLLOWED:
            raise FieldErrors({"followed": [_("Use followed=me for the records you follow, or followed=false.")]})
        # Only the asking user's follows: whom others follow is theirs.
        mine = follows_of(self.user, self.model)
        if value in NOT_FOLLOWED:
            return qs.exclude(pk__in=mine.values("object_id"))
        return through(qs, mine, "object_id")

    def _filter_custom(
        self, qs: models.QuerySet, param: str, definition: Any, lookup: str, raw: str
    ) -> models.QuerySet:
        """Filter on a custom field's JSON value, compared as its declared type (numbers numerically)."""
        from guanxi.core.choices import CustomFieldType
        from guanxi.core.custom_fields import coerce_value

        key = definition.key
        if lookup == "isnull":
            return qs.filter(**{f"custom_fields__{key}__isnull": self._coerce(param, models.Field(), "isnull", raw)})
        if lookup == "icontains":
            return qs.filter(**{f"custom_fields__{key}__icontains": raw})
        try:
            value = coerce_value(definition, raw)
        except ValueError as exc:
            raise FieldErrors({param: [str(exc)]}) from None
        if definition.field_type in (CustomFieldType.NUMBER, CustomFieldType.DECIMAL):
            # Decimals are stored as text to keep their precision; compare both kinds as numbers.
            alias = f"_cf_{key}"
            qs = qs.annotate(
                **{alias: Cast(KeyTextTransform(key, "custom_fields"), DecimalField(max_digits=30, decimal_places=10))}
            )
            return qs.filter(**{f"{alias}__{lookup}": decimal.Decimal(str(value))})
        if definition.field_type == CustomFieldType.MULTI_CHOICE:
            return qs.filter(**{f"custom_fields__{key}__icontains": f'"{value[0]}"'}) if value else qs
        return qs.filter(**{f"custom_fields__{key}__{lookup}": value})

    def apply(self, qs: models.QuerySet) -> tuple[models.QuerySet, str]:
        """Return the filtered queryset and the validated ordering (applied by the paginator)."""
        ordering = self.ordering()
        return self.search(self.filter(qs)), ordering
