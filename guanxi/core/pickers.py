"""Record pickers: choose an account (or any record) by typing, not from a select of every record.

A select lists every option in the page: with 200,000 accounts a parent-account select would be
megabytes of HTML and a query of the whole table on each edit. A picker renders only what is chosen
(a label and a hidden input per record) and asks ``/pick/<path>/?q=`` for the best few matches as the
user types: global search where the type is searchable (names, pinyin, initials, email, phone
digits), else a name filter. Both go through ``restrict(user, "view")``; what a form finally accepts
is still checked by the form field's restricted queryset or by the service.

* ``RecordPicker(resource_path, queryset, multiple=False)``: the widget. ``queryset`` labels the
  chosen ids (one query of a few rows).
* ``RecordIdsField``: several records by id (a contact's accounts); the service checks each one.
* ``pickable(model)``: the registered resource whose records a picker can offer, or None;
  ``picker_resource(model)`` adds people (users), whom forms pick too.
* ``pick_options(resource, user, q)``: the matches the picker shows; people by ``person_options``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from django import forms
from django.db import models
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from guanxi.core.choices import Action
from guanxi.core.models import GuanxiModel
from guanxi.core.permissions import restricted
from guanxi.core.registry import Resource, resource_for

#: Matches the picker shows at most.
PICK_LIMIT = 10
#: Fields a record is named by, for types global search does not cover (first one the model has).
NAME_FIELDS = ("name", "display_name", "title", "subject")


@dataclass(frozen=True)
class Option:
    id: int | str  # a record's id, or a word a filter takes (owner=me)
    label: str
    detail: str = ""


def pickable(model: Any) -> Resource | None:
    """The UI resource of ``model`` when it is a CRM record type (accounts, contacts...: many rows,
    filtered by ``restrict``); teams, roles and content types keep their selects."""
    if not (isinstance(model, type) and issubclass(model, GuanxiModel)):
        return None
    resource = resource_for(model)
    return resource if resource is not None and resource.ui else None


def picker_resource(model: Any) -> Resource | None:
    """What a form's picker searches: a record type, or people (a company's users are hundreds: an
    owner select of every one cost an add form 130 ms at 1,000). A list's owner filter keeps its
    select (我, 我和下属 and the people) while they are few (``lists.filter_controls``)."""
    from guanxi.identity.models import User

    if model is User:
        return resource_for(User)
    return pickable(model)


def name_field(model: type[models.Model]) -> str | None:
    names = {f.name for f in model._meta.concrete_fields}
    return next((n for n in NAME_FIELDS if n in names), None)


def pick_options(resource: Resource, user: Any, q: str) -> list[Option]:
    """The records ``q`` finds among those the user may see, best first; without ``q``, the most
    recently changed (what a salesperson usually means)."""
    from guanxi.core.search import search, search_type_for
    from guanxi.identity.models import User

    model = resource.model
    q = q.strip()[:100]
    if model is User:
        return person_options(user, q)
    search_type = search_type_for(model)
    if q and search_type is not None:
        hits = search(user, q, types=[search_type.key], limit=PICK_LIMIT)
        return [Option(hit.id, hit.title, hit.subtitle) for hit in hits]
    qs = restricted(model, user, Action.VIEW)
    field = name_field(model)
    if q:
        if field is None:
            return []
        qs = qs.filter(**{f"{field}__icontains": q}).order_by(field, "pk")
    elif any(f.name == "updated_at" for f in model._meta.concrete_fields):
        qs = qs.order_by("-updated_at", "-pk")
    else:
        qs = qs.order_by("-pk")
    return [Option(obj.pk, str(obj)) for obj in qs[:PICK_LIMIT]]


def person_options(user: Any, q: str) -> list[Option]:
    """Active users by name (or its pinyin: ``User.name_matches``), as an owner select named them
    to everyone, with their team under the name (teams are named to everyone too: two 王芳 are told
    apart); by email, and with it under the name, only the people the user may see in the users
    list (``restrict``, as the API's)."""
    from guanxi.identity.models import User

    known = restricted(User, user, Action.VIEW).values("pk")
    people = (
        User.objects.filter(is_active=True)
        .select_related("team")
        .only("pk", "display_name", "email", "team__name")
        .annotate(email_shown=models.Q(pk__in=known))
    )
    if q:
        people = people.filter(User.name_matches(q) | models.Q(email__icontains=q, email_shown=True))
    return [
        Option(person.pk, str(person), _person_detail(person))
        for person in people.order_by("display_name", "pk")[:PICK_LIMIT]
    ]


def _person_detail(person: Any) -> str:
    parts = [person.email if person.email_shown else "", person.team.name if person.team else ""]
    return " · ".join(part for part in parts if part)


class RecordPicker(forms.Widget):
    """A search box with the chosen record(s) above it: hidden inputs carry the ids (see module doc)."""

    template = "widgets/record_picker.html"

    def __init__(
        self,
        resource_path: str,
        queryset: models.QuerySet | None = None,
        *,
        multiple: bool = False,
        attrs: dict[str, Any] | None = None,
        words: dict[str, str] | None = None,
    ):
        super().__init__(attrs)
        self.resource_path = resource_path
        self.queryset = queryset
        self.multiple = multiple
        # Values that are not ids and their labels: a list's owner filter keeps a link's owner=me.
        self.words = words or {}

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        if self.multiple:
            return [v for v in data.getlist(name) if v] if hasattr(data, "getlist") else data.get(name)
        return data.get(name)

    def value_omitted_from_data(self, data: Any, files: Any, name: str) -> bool:
        # An emptied multiple picker posts nothing under ``name``: that is a choice of none.
        return False if self.multiple else name not in data

    def ids(self, value: Any) -> list[int]:
        values = value if isinstance(value, list | tuple) else [value]
        ids = []
        for v in values:
            v = getattr(v, "pk", v)
            if v not in (None, "") and str(v).isdigit():
                ids.append(int(v))
        return list(dict.fromkeys(ids))

    def chosen(self, value: Any) -> list[Option]:
        """The chosen records with their labels (one query); an id the user may not see keeps its number."""
        values = value if isinstance(value, list | tuple) else [value]
        named: list[Option] = [Option(v, self.words[v]) for v in values if isinstance(v, str) and v in self.words]
        ids = self.ids(value)
        if not ids:
            return named
        labels: dict[int, str] = {}
        if self.queryset is not None:
            labels = {obj.pk: str(obj) for obj in self.queryset.filter(pk__in=ids)}
        return named + [Option(pk, labels.get(pk, f"#{pk}")) for pk in ids]

    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None) -> SafeString:
        attrs = self.build_attrs(self.attrs, attrs)
        disabled = bool(attrs.pop("disabled", False))
        context = {
            "name": name,
            "id": attrs.pop("id", f"id_{name}"),
            "chosen": self.chosen(value),
            "multiple": self.multiple,
            "disabled": disabled,
            "invalid": "is-invalid" in str(attrs.get("class", "")),
            "describedby": attrs.get("aria-describedby", ""),
            "url": reverse("ui:pick", args=[self.resource_path]),
            "placeholder": _("Type a name, pinyin or email…")
            if self.resource_path == "users"
            else _("Type a name, pinyin, email or phone…"),
        }
        # An autoescaped template's output is already a SafeString; the stubs only say str.
        return cast(SafeString, render_to_string(self.template, context))


class RecordIdsField(forms.Field):
    """Several records by id, chosen with a multiple ``RecordPicker``; the service checks each id."""

    def __init__(self, resource_path: str, queryset: models.QuerySet | None = None, **kwargs: Any):
        kwargs.setdefault("widget", RecordPicker(resource_path, queryset, multiple=True))
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> list[str]:
        values = value if isinstance(value, list | tuple) else ([value] if value else [])
        parts = [str(v).strip() for v in values if str(v).strip()]
        if not all(p.isdigit() for p in parts):
            raise forms.ValidationError(_("Choose records from the list."), code="invalid")
        return list(dict.fromkeys(parts))

    def has_changed(self, initial: Any, data: Any) -> bool:
        try:
            return sorted(self.to_python(initial or [])) != sorted(self.to_python(data))
        except forms.ValidationError:
            return True


def pick_widget(db_field: models.Field, queryset: models.QuerySet) -> RecordPicker | None:
    """A picker for a foreign key to a record type or a person (None: the related model keeps a select)."""
    resource = picker_resource(db_field.related_model)
    return RecordPicker(resource.path, queryset) if resource is not None else None
