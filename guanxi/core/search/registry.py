"""Which record types search covers, and how each builds its index documents.

A module registers a type once (in its ``AppConfig.ready``)::

    register_search_type(
        key="leads",                      # the ``types`` value of the API; usually the resource path
        model=Lead,
        build=lead_documents,             # (pks) -> {pk: Document} for the live rows among pks
        present=lead_hits,                # (objs, user) -> {pk: (title, subtitle)}; optional
        guards={"email": "email"},        # document column -> field whose "hidden" rule drops it
        via=[Via("accounts", leads_of_accounts)],  # also found by the names of their accounts
    )

``depends_on`` is for documents that copy values of other records (rebuilt when those change);
``via`` finds records through related ones at query time, so nothing is copied.

``build`` gets a batch (up to thousands of ids, e.g. one import batch) and must answer in a few
queries; ``Document`` turns values into tokens (with cached pinyin).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import models

from guanxi.core.search import text

#: Column names a type may guard with a field rule.
GUARDABLE = {"email": "e", "phone": "p", "other": "o"}


#: A document as the index stores it: keys, words, emails, phones, other (see ``Document.columns``).
Columns = tuple[str, str, str, str, str]


class Document:
    """The searchable values of one record, as tokens per column (see ``guanxi.core.search.text``).

    Each ``add_*`` appends a ready column string (names, companies and domains come from caches), so
    building a batch costs a few microseconds a record.
    """

    __slots__ = ("keys", "words", "emails", "phones", "other")

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.words: list[str] = []
        self.emails: list[str] = []
        self.phones: list[str] = []
        self.other: list[str] = []

    def add_name(self, value: str) -> Document:
        """A record's name (an account, a product...): ranks first when the query equals it; its pinyin
        is also indexed from the third character on (上海阿克米 is found by "akemi")."""
        if value:
            keys, words = text.name_columns(value, True)
            self.keys.append(keys)
            self.words.append(words)
        return self

    def add_person(self, family: str, given: str, display: str) -> Document:
        """A person's name: 张三 by 张三, zhangsan, zs, 张 and zhang; John Smith by john, smith, johnsmith."""
        keys, words = text.person_columns(family or "", given or "", display or "")
        self.keys.append(keys)
        self.words.append(words)
        return self

    def add_words(self, value: str) -> Document:
        """Other text of the record itself (legal name, title...): found by its words, ranked after names."""
        if value:
            keys, words = text.name_columns(value)
            self.words.append(keys)
            self.words.append(words)
        return self

    def add_email(self, address: str) -> Document:
        self.emails.append(text.email_column(address))
        return self

    def add_website(self, url: str) -> Document:
        self.emails.append(" ".join(text.website_tokens(url)))
        return self

    def add_phone(self, e164: str) -> Document:
        self.phones.append(text.phone_column(e164))
        return self

    def add_related_name(self, value: str) -> Document:
        """The name of a related record (a contact's company): found, ranked after the record's own values."""
        if value:
            self.other.append(text.related_name_column(value))
        return self

    def add_code(self, value: str) -> Document:
        """A code the record is known by (a company's 统一社会信用代码): found whole, in the column a
        field rule can leave out (``guards``), ranked after the record's names."""
        if value:
            self.other.append(text.related_name_column(value))
        return self

    def columns(self) -> Columns:
        return (
            _column(self.keys),
            _column(self.words),
            _column(self.emails),
            _column(self.phones),
            _column(self.other),
        )


def _column(parts: list[str]) -> str:
    if not parts:
        return ""
    if len(parts) == 1:
        return parts[0]
    return " ".join(p for p in parts if p)


@dataclass(frozen=True)
class Dependency:
    """Documents of this type hold values of ``model`` (a contact holds its accounts' names): when one
    of ``fields`` of such a record changes, or it is deleted or restored, ``affected(pks)`` gives the
    ids of this type to rebuild."""

    model: type[models.Model]
    fields: frozenset[str]
    affected: Callable[[list[int]], Iterable[int]]


@dataclass(frozen=True)
class Via:
    """Records of this type are also found through the hits of type ``key`` they are linked to (a
    contact through its accounts' names), ranked after matches on their own values. ``linked(pks,
    limit)`` gives up to ``limit`` pairs ``(other pk, own pk)``. Only related records the user may see
    lead anywhere; ``guard``: a field whose "hidden" rule turns this off."""

    key: str
    linked: Callable[[list[int], int], Iterable[tuple[int, int]]]
    guard: str = ""


@dataclass
class SearchType:
    key: str
    model: type[models.Model]
    build: Callable[[list[int]], dict[int, Document]]
    present: Callable[[list[Any], Any], dict[Any, tuple[str, str]]] | None = None
    label: Any = None
    guards: dict[str, str] = field(default_factory=dict)
    depends_on: list[Dependency] = field(default_factory=list)
    via: list[Via] = field(default_factory=list)

    @property
    def label_plural(self) -> str:
        return str(self.label or self.model._meta.verbose_name_plural)

    def hidden_columns(self, hidden: set[str]) -> set[str]:
        """Document columns to leave out for a reader whose field rules hide ``hidden``."""
        return {GUARDABLE[column] for column, field_name in self.guards.items() if field_name in hidden}


_types: dict[str, SearchType] = {}


def register_search_type(
    *,
    key: str,
    model: type[models.Model],
    build: Callable[[list[int]], dict[int, Document]],
    present: Callable[[list[Any], Any], dict[Any, tuple[str, str]]] | None = None,
    label: Any = None,
    guards: dict[str, str] | None = None,
    depends_on: Iterable[Dependency] = (),
    via: Iterable[Via] = (),
) -> SearchType:
    """Make records of ``model`` searchable under ``key`` (see the module docstring)."""
    unknown = set(guards or {}) - set(GUARDABLE)
    if unknown:
        raise ValueError(f"cannot guard {sorted(unknown)}; use {sorted(GUARDABLE)}")
    for existing in _types.values():
        if existing.model is model and existing.key != key:
            raise ValueError(f"{model.__name__} is already searchable as {existing.key!r}")
    search_type = SearchType(key, model, build, present, label, dict(guards or {}), list(depends_on), list(via))
    _types[key] = search_type
    return search_type


def unregister_search_type(key: str) -> None:
    """Forget a type (tests register and drop their own)."""
    _types.pop(key, None)


def search_types() -> list[SearchType]:
    return list(_types.values())


def search_type(key: str) -> SearchType | None:
    return _types.get(key)


def search_type_for(model: type[models.Model]) -> SearchType | None:
    for search_type in _types.values():
        if search_type.model is model:
            return search_type
    return None
