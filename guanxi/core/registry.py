"""The resources Guanxi exposes: one entry per model configures its API routes and its UI pages.

Modules register in their ``AppConfig.ready``; the generic CRUD router, the generic views, the
permission-matrix tests and (later) search and merge all read this one list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import models

from guanxi.core.filters import FilterSet


@dataclass(frozen=True)
class ComputedColumn:
    """A column of lists and exports that is no field of the record, read for a page (or an export's
    chunk) of records at once, never per row: ``values(objs, user)`` -> ``{pk: (text, url)}``; the
    url may be "" and a record may be missing. Only what ``user`` may see goes in."""

    name: str
    label: Any  # lazy translatable text
    values: Callable[[list[Any], Any], dict[Any, tuple[str, str]]]


@dataclass(frozen=True)
class DetailSection:
    """A group of fields on a record's page. ``folded`` sections (consent, record stamps) start closed:
    a salesperson scrolls past them fifty times a day, on a phone too."""

    key: str
    title: Any  # lazy translatable text
    fields: tuple[str, ...]
    folded: bool = False
    #: Fields not shown on their own: a field of the section says them in its words (a contact's
    #: birthday says whether it is kept on the lunar calendar).
    within: tuple[str, ...] = ()


@dataclass(frozen=True)
class Pool:
    """A resource's pool of records without an owner that anyone who sees them may claim (the
    customer pool, 公海). The list shows it with ``param=value``, sorted by ``ordering``, in
    ``columns``; ``claim(pk=, user=)`` and ``release(pk=, user=, reason=, reason_id=)`` are the
    services of the bulk actions of that name (a release names one of the module's reasons, or says
    why in words, or both); the model's ``open_rows`` (``core.permissions``) are its records."""

    claim: Callable[..., Any]
    release: Callable[..., Any]
    param: str
    value: str
    ordering: str
    columns: tuple[str, ...]
    #: ``(user, reason, reason_id)``: raises FieldErrors when a release's reason will not do (checked
    #: once before a bulk release touches any record).
    check_reason: Callable[[Any, str, Any], Any]
    #: ``(user)``: the release reasons to offer, as (id, label) pairs.
    reasons: Callable[[Any], list[tuple[Any, str]]]
    #: ``(user)``: must the user choose one of them (words only add to it)?
    reason_required: Callable[[Any], bool] = lambda user: False

    def shows(self, params: Any) -> bool:
        """Whether a list query (a QueryDict or a dict) is the pool's."""
        return params.get(self.param) == self.value

    def query(self) -> dict[str, str]:
        return {self.param: self.value, "ordering": self.ordering}


@dataclass
class Resource:
    model: type[models.Model]
    path: str  # kebab-case plural under /api/v1/ and the UI
    filterset: type[FilterSet]
    fields: tuple[str, ...]  # what reads return (id and version are added)
    write_fields: tuple[str, ...] = ()  # what create/update accept
    required_fields: tuple[str, ...] = ()  # required on create
    list_columns: tuple[str, ...] = ()  # default UI columns
    nav_group: str = ""
    icon: str = ""
    taggable: bool = False
    custom_fields: bool = False
    api: bool = True
    ui: bool = True
    read_only: bool = False
    # Service overrides: (model, user, data, ...) like core.services.record_*
    create: Callable[..., Any] | None = None
    update: Callable[..., Any] | None = None
    delete: Callable[..., Any] | None = None
    restore: Callable[..., Any] | None = None  # from the recycle bin
    # Extra API operations on the same router (actions like /{id}/revoke, uploads...).
    routes: Callable[[Any, Resource], None] | None = None
    # Extra API input that is not a model field: name -> (type, default). Keys the client sends are
    # passed to the create/update service as keyword arguments (e.g. a contact's ``emails`` list).
    extra_input: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    # Extra output for a page of records, computed in one query: (objs, user) -> {pk: {key: value}}.
    # Keys the user's field rules hide are dropped.
    serialize_extra: Callable[[list[Any], Any], dict[Any, dict[str, Any]]] | None = None
    # The bulk action "assign by rules": (user) -> an object whose ``changing(pks)`` chooses, in that
    # order, the records the module's rules give a new owner (and remembers the choices), whose
    # ``assign(pk)`` gives one record to the owner the rules name (False: it stays) and whose
    # ``save()`` ends the transaction's work; raises FieldErrors when there is nothing to apply.
    assign_by_rules: Callable[[Any], Any] | None = None
    # The bulk action "assign by rules" set-based, the same way as ``bulk_owner``: (user=, pks=,
    # by_rules=) gives the records (each one the user may change and assign, that
    # ``by_rules.changing`` chose) to the owners ``by_rules`` chose, with exactly what its
    # ``assign(pk)`` does for each, and returns those it refused, unwritten.
    bulk_assign: Callable[..., dict[Any, Any]] | None = None
    # The bulk action "owner" set-based (``core.bulk``): (user=, pks=, owner_id=) gives the records
    # (each one the user may change and assign, whose owner is not ``owner_id``) to ``owner_id`` with
    # exactly what the resource's ``update`` service does for each, in a few statements, and returns
    # those it refused {pk: GuanxiError}, unwritten. Without it, each record goes through ``update``.
    bulk_owner: Callable[..., dict[Any, Any]] | None = None
    # The bulk action "delete" set-based, the same way: (user=, pks=) moves the records (each one the
    # user may delete) to the recycle bin with exactly what the ``delete`` service does for each, and
    # returns those it refused, unwritten. Without it, each record goes through ``delete``.
    bulk_delete: Callable[..., dict[Any, Any]] | None = None
    # The bulk actions "tag_add" / "tag_remove" set-based, the same way: (user=, pks=, tags=, adding=)
    # adds ``tags`` to the records or takes them off (``core.tags.tags_after``; each one the user may
    # change, whose tags this changes) with exactly what ``update(data={}, tags=...)`` does for each.
    bulk_tags: Callable[..., dict[Any, Any]] | None = None
    # The bulk action "update" (edit fields) set-based, the same way: (user=, pks=, data=,
    # custom_fields=) sets ``data`` (model attributes, as ``bulk_plan`` checked them) and the custom
    # fields on the records (each one the user may change) with exactly what ``update`` does for
    # each. It may decline a change it does not take (fields whose checks or effects go record by
    # record): it returns None before it writes, and each record goes through ``update``.
    bulk_update: Callable[..., dict[Any, Any] | None] | None = None
    # The records without an owner that anyone may claim (the customer pool, 公海).
    pool: Pool | None = None
    # The pool's bulk actions set-based, the same way: "release" (user=, pks=, reason=, reason_id=)
    # puts the records (each one the user may change, not in the pool) back in it, and "claim"
    # (user=, pks=) takes them (each one in the pool the user sees), with exactly what ``pool.release``
    # / ``pool.claim`` do for each (in ``pks``' order: a claim limit counts them), and return those
    # they refused, unwritten.
    bulk_release: Callable[..., dict[Any, Any]] | None = None
    bulk_claim: Callable[..., dict[Any, Any]] | None = None
    select_related: tuple[str, ...] = ()
    # Columns of lists and exports that are no field of the record (a contact's company).
    computed_columns: tuple[ComputedColumn, ...] = ()
    # A list exported as vCard (.vcf) besides CSV and XLSX: (records, user) -> the cards of a chunk.
    cards: Callable[[list[Any], Any], str] | None = None
    # How the record's page groups its fields; fields in no section follow in a last one ("Other").
    # Empty: one section of every field, in ``fields`` order.
    detail_sections: tuple[DetailSection, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def object_type(self) -> str:
        return f"{self.model._meta.app_label}.{self.model._meta.model_name}"

    @property
    def label(self) -> str:
        return str(self.model._meta.verbose_name)

    @property
    def label_plural(self) -> str:
        return str(self.model._meta.verbose_name_plural)

    @property
    def soft_delete(self) -> bool:
        return hasattr(self.model, "deleted_at")

    def shows_pool(self, params: Any) -> bool:
        """Whether a list query (a QueryDict or a dict) is this resource's pool."""
        return self.pool is not None and self.pool.shows(params)


_resources: dict[str, Resource] = {}


def register(resource: Resource) -> Resource:
    if resource.path in _resources and _resources[resource.path].model is not resource.model:
        raise ValueError(f"resource path {resource.path!r} registered twice")
    _resources[resource.path] = resource
    return resource


def resources() -> list[Resource]:
    return list(_resources.values())


def resource_at(path: str) -> Resource:
    return _resources[path]


def resource_for(model: type[models.Model]) -> Resource | None:
    for resource in _resources.values():
        if resource.model is model:
            return resource
    return None


def registered_models() -> list[type[models.Model]]:
    return [r.model for r in _resources.values()]
