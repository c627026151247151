"""What can be imported: one ``ImportSpec`` per record type, registered by the module that owns the type.

A spec names the fields a column can feed (with the Chinese and English headers that match them
automatically), a pure ``prepare`` function that validates and normalises a chunk of rows (it runs
in worker processes, so it must not touch the database), and a ``writer`` that puts a batch of
prepared rows into the database inside the batch's transaction.
"""

from __future__ import annotations

import builtins
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from django.db import models

from guanxi.core.search.registry import Columns

# Brackets with a note inside ("手机（必填）", "Email (work)") and separators are ignored in headers.
_BRACKETS_RE = re.compile(r"[(（\[【].*?[)）\]】]")
_NOISE_RE = re.compile(r"[\s_\-*:：/.,，、#＃]+")


def header_key(text: str) -> str:
    """The comparable form of a column header: NFKC, lower case, without notes and separators."""
    folded = unicodedata.normalize("NFKC", text or "").strip().lower().lstrip("\ufeff")
    stripped = _NOISE_RE.sub("", _BRACKETS_RE.sub("", folded))
    return stripped or _NOISE_RE.sub("", folded)


@dataclass(frozen=True)
class ImportField:
    """A target a column can be mapped to."""

    name: str
    label: Any  # lazy translatable text
    aliases: tuple[str, ...] = ()
    required: bool = False
    #: The model field a column of this kind writes (field rules that freeze it refuse the mapping).
    writes: str = ""
    #: A custom field's ``CustomFieldDefinition`` (targets named ``cf.<key>``, see ``imports.custom``).
    definition: Any = None
    #: What to type in the column (lazy text), for the template's notes; choice fields list ``choices``.
    hint: Any = ""
    choices: Any = None  # a TextChoices class
    #: In the import template: no for the record ID (it comes from an export) and for alternatives
    #: of another column (family and given name beside the full name).
    in_template: bool = True


def written_fields(target: ImportField) -> set[str]:
    """The model fields a column mapped to ``target`` writes, which a role's field rules judge: a full
    name writes both of a person's names."""
    written = {target.writes or target.name}
    if target.name == "name":
        written |= {"family_name", "given_name"}
    return written


class RowError(NamedTuple):
    """One reason a row cannot be imported: the column (header) and value it is about."""

    column: str
    value: str
    reason: str


class Prepared(NamedTuple):
    """A row after ``prepare``: its spreadsheet row number, the clean values, and what is wrong."""

    line: int
    values: dict[str, Any]
    errors: list[RowError]


@dataclass
class PrepareContext:
    """What ``prepare`` needs besides the rows; picklable (it is sent to worker processes)."""

    columns: dict[str, int]  # field -> column index
    headers: list[str]
    options: dict[str, Any] = field(default_factory=dict)

    def header_of(self, name: str) -> str:
        index = self.columns.get(name)
        return self.headers[index] if index is not None and index < len(self.headers) else name


@dataclass
class BatchResult:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    errors: list[tuple[int, RowError]] = field(default_factory=list)  # (line, error)
    written: dict[type[models.Model], list[int]] = field(default_factory=dict)  # model -> pks created/updated
    #: Search columns (``Document.columns()``) of created records, built from the rows written: no read-back
    documents: dict[type[models.Model], dict[int, Columns]] = field(default_factory=dict)

    def touch(self, model: type[models.Model], pks: Iterable[int]) -> None:
        self.written.setdefault(model, []).extend(pks)


class BatchWriter(Protocol):
    """Writes an import's batches; may also have ``finish()``, called once when the run is done."""

    def write(self, rows: list[Prepared]) -> BatchResult: ...


@dataclass
class ImportSpec:
    """How rows become records of one type."""

    type: str  # the API's name: "contacts", "accounts"
    model: builtins.type[models.Model]
    fields: tuple[ImportField, ...]
    #: Groups of fields of which at least one must be mapped, e.g. (("name", "family_name", "given_name"),).
    required_any: tuple[tuple[str, ...], ...]
    prepare: Callable[[list[tuple[int, list[str]]], PrepareContext], list[Prepared]]
    #: (user, policy, context, job) -> a BatchWriter for one run of the import
    writer: Callable[..., BatchWriter]
    label: Any = ""
    #: Called after each batch commits, with what it wrote (e.g. queue reclassification).
    on_batch: Callable[[BatchResult], None] | None = None
    #: Whether a vCard file (people's cards, ``guanxi.core.imports.vcard``) can feed this type.
    reads_vcard: bool = False

    def prepare_rows(self, rows: list[tuple[int, list[str]]], ctx: PrepareContext) -> list[Prepared]:
        """``prepare``, with the rows the reader could not make out (``UnreadableRow``) reported as
        bad rows in their place."""
        from guanxi.core.imports.reading import UnreadableRow

        unreadable = {line: row for line, row in rows if isinstance(row, UnreadableRow)}
        if not unreadable:
            return self.prepare(rows, ctx)
        prepared = self.prepare([(line, row) for line, row in rows if line not in unreadable], ctx)
        prepared += [Prepared(line, {}, [RowError("", row.source, row.reason)]) for line, row in unreadable.items()]
        return sorted(prepared, key=lambda row: row.line)

    def mappable(self) -> list[ImportField]:
        """What a column can feed now: the spec's fields, then the custom fields defined on the model
        (one query)."""
        from guanxi.core.imports.custom import custom_import_fields

        return [*self.fields, *custom_import_fields(self.model)]

    def field(self, name: str) -> ImportField | None:
        fields = self.mappable() if name.startswith("cf.") else self.fields
        return next((f for f in fields if f.name == name), None)

    def alias_map(self, fields: list[ImportField] | None = None) -> dict[str, str]:
        """Header key -> field name, from each field's name, labels (both languages) and aliases.
        The spec's own fields come first: a custom field labelled like one of them does not take
        its column."""
        from django.utils import translation

        out: dict[str, str] = {}
        for spec_field in self.mappable() if fields is None else fields:
            names = [spec_field.name, spec_field.name.replace("_", " "), *spec_field.aliases]
            for language in ("en", "zh-hans"):
                with translation.override(language):
                    names.append(str(spec_field.label))
            for name in names:
                out.setdefault(header_key(name), spec_field.name)
        return out


_specs: dict[str, ImportSpec] = {}


def import_spec_register(spec: ImportSpec) -> ImportSpec:
    _specs[spec.type] = spec
    return spec


def import_spec(type_name: str) -> ImportSpec | None:
    return _specs.get(type_name)


def import_specs() -> list[ImportSpec]:
    return list(_specs.values())


def import_spec_for(model: type[models.Model]) -> ImportSpec | None:
    return next((s for s in _specs.values() if s.model is model), None)
