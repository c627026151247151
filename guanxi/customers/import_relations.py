"""An account import's 关联企业 column: the relations between companies (企业关系) a row gives its
company, in the words of the company's page and of the account export's column of the same name
(``供货给:华信科技; 合作伙伴:明凯佳科技``, ``relations.relation_cells``).

A cell holds zero or more relations, separated by ; or , (full-width too), each the relation as the
row's company reads it (供货给 or 采购自, 合作伙伴 ...), a colon, and the other company: by its exact
name, or in the 关联企业编号 column by its external ID. A kind's label or stored key (经销商,
supplier) reads as the relation form reads it: this company supplies, distributes for or invests in
the other. A name that holds ; or ； is in double quotes, as the export writes it
(``供货给:"A;B Trading"``; the whole item quoted reads the same), a quote inside it doubled
(``core.list_cells``); a quote left open refuses the row on its column.

The other company is one the importing user may see that exists before the row's batch (an earlier
row of the file included), or a new account of the same batch, as an account's parent is found. An
item that names an unknown relation, no such company, several of them, or the row's own company
refuses the row, as a bad 上级客户 does, with the item and what to do. An empty cell adds and removes
nothing.

The relations are added once the batch's accounts are written, each through ``relation_add`` (the
change log, both timelines, the permission to change the company; a company the batch created is
written whole, its relations with it, even when the owner column or the assignment rules gave it to
someone whose accounts the importer may not change). One already there (of that kind
between the two, whichever side's row says it) is left alone, so a second run of a file adds nothing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import cache
from typing import Any

from django.utils import translation
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from guanxi.core.choices import Action
from guanxi.core.errors import FieldErrors, NotFound, PermissionDenied
from guanxi.core.imports.specs import BatchResult, Prepared
from guanxi.core.list_cells import QuoteError, read_items
from guanxi.core.permissions import restricted
from guanxi.customers.choices import AccountRelationKind
from guanxi.customers.models import Account, AccountRelation
from guanxi.customers.relations import RELATION_TYPES, relation_reading, relation_readings
from guanxi.customers.services.relations import relation_add, stored_pair

#: The import fields: the other company by name, or by external ID.
BY_NAME, BY_EXTERNAL_ID = "relations", "relation_external_ids"
#: How many keys one ``IN`` list holds.
CHUNK = 2000

#: (field, the item as written, kind, whether the row's company is the first, "name" | "external_id", key)
Item = tuple[str, str, str, bool, str, str]
#: An account in the database ("pk", id) or a new account of the batch ("line", its row's line).
Node = tuple[str, int]
Key = tuple[str, str]

#: What separates relations; a comma does too, before a relation's word (``split_items``).
ITEM_SEPARATORS = ";；"
_COMMA_RE = re.compile(r"([,，])")
_KIND_RE = re.compile(r"[:：]")
#: A noun people write for a kind whose label is two (供应商与客户); the other kinds' Chinese labels
#: are nouns already (经销商, 投资方). Read as the kind's key is: this company is the supplier.
_SYNONYMS = {"供应商": (AccountRelationKind.SUPPLIER.value, True)}


def _fold(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).split()).lower()


@cache
def kind_words() -> dict[str, tuple[str, bool]]:
    """Every word for a relation, folded -> (kind, whether the row's company is the first): the
    stored keys, the kinds' labels and each side's reading, in English and Chinese."""
    kinds = RELATION_TYPES[Account]
    out: dict[str, tuple[str, bool]] = dict(_SYNONYMS)
    out.update({value: (value, True) for value in kinds.kinds.values})
    for language in ("en", "zh-hans"):
        with translation.override(language):
            for value, label in kinds.kinds.choices:
                out[_fold(str(label))] = (value, True)
            for text, value, first in relation_readings(kinds):
                out[_fold(text)] = (value, first)
    return out


def _starts_item(text: str) -> bool:
    head = _KIND_RE.split(text, maxsplit=1)
    return len(head) == 2 and _fold(head[0]) in kind_words()


def split_items(cell: str) -> list[str]:
    """A cell's items. An item whose name (or whole text) is in double quotes is one item whatever it
    holds; elsewhere a comma starts a new item only before a relation's word and a colon, so a name
    such as "Acme, Inc." stays whole. ``QuoteError`` for quotes that do not read."""
    items: list[str] = []
    for chunk, quoted in read_items(cell, ITEM_SEPARATORS, opens_after=":："):
        if quoted:
            items.append(chunk)
            continue
        parts = _COMMA_RE.split(chunk)
        current = parts[0]
        for separator, part in zip(parts[1::2], parts[2::2], strict=True):
            if _starts_item(part):
                items.append(current)
                current = part
            else:
                current += separator + part
        items.append(current)
    return [item.strip() for item in items if item.strip()]


def _kinds_list() -> str:
    return ", ".join(text for text, _value, _first in relation_readings(RELATION_TYPES[Account]))


def _item(field: str, by: str, text: str) -> Item | str:
    """One item of a cell, or why it cannot be read."""
    parts = _KIND_RE.split(text, maxsplit=1)
    if len(parts) < 2 or not parts[0].strip() or not parts[1].strip():
        example = relation_reading(RELATION_TYPES[Account], AccountRelationKind.SUPPLIER, first=True)
        return _("Write the relation, a colon, then the company, e.g. “%(example)s”.") % {
            "example": f"{example}:{text.strip(' :：') or '华信科技'}"
        }
    found = kind_words().get(_fold(parts[0]))
    if found is None:
        return _("Unknown relation “%(kind)s”: use one of %(kinds)s, then a colon and the company.") % {
            "kind": parts[0].strip()[:40],
            "kinds": _kinds_list(),
        }
    kind, first = found
    # An undirected kind reads the same from both sides.
    first = first or kind not in RELATION_TYPES[Account].directed
    return (field, text, kind, first, by, " ".join(parts[1].split()))


def read_relations(row: Any) -> None:
    """The row's 关联企业 and 关联企业编号 cells as ``values["relations"]``, a list of ``Item``;
    each item that cannot be read fails on its column (``row``: ``import_rows._Row``). Pure."""
    items: dict[tuple[str, bool, str, str], Item] = {}
    for field, by in ((BY_NAME, "name"), (BY_EXTERNAL_ID, "external_id")):
        raw = row.get(field)
        if not raw:
            continue
        try:
            texts = split_items(raw)
        except QuoteError as exc:
            row.fail(field, raw, str(exc))
            continue
        for text in texts:
            item = _item(field, by, text)
            if isinstance(item, str):
                row.fail(field, text, item)
            else:
                items.setdefault(item[2:], item)  # said twice, added once
    if items:
        row.values["relations"] = list(items.values())


def _chunks(items: list[Any]) -> list[list[Any]]:
    return [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)]


Refuse = Callable[[Prepared, str, str, str], None]  # (row, field, value, reason)


class Relations:
    """The relations of one batch's rows: the other companies found before the accounts are
    written (``find``, ``check``), the relations added after (``add``)."""

    def __init__(self, user: Any, columns: dict[str, int], ext_id_label: Any):
        self.user = user
        #: A file without the columns (the bench's million rows) pays nothing.
        self.used = BY_NAME in columns or BY_EXTERNAL_ID in columns
        self.ext_id_label = ext_id_label  # the 关联企业编号 column's name, for "use the external ID"
        self.named: set[Key] = set()  # the keys of the batch's rows, refused ones included
        self.found: dict[Key, list[int]] = {}
        self.pending: list[tuple[int | None, Prepared]] = []  # rows kept, with their targets
        self.update_rows: dict[int, int] = {}  # the rows of each account the batch updates

    def start(self, rows: list[Prepared], match_keys: Callable[[dict[str, Any]], list[Key]]) -> None:
        """The batch's rows, bad ones included, before any is matched: a company named by one of
        them that is not written is "refused", not "not found"."""
        self.named = {key for row in rows for key in match_keys(row.values)} if self.used else set()
        self.found, self.pending = {}, []

    def find(self, rows: list[Prepared]) -> None:
        """The accounts the user may see that the rows name, by name and by external ID."""
        refs = {(item[4], item[5]) for row in rows for item in row.values.get("relations", ())}
        visible = restricted(Account, self.user, Action.VIEW)
        for by in ("name", "external_id"):
            for chunk in _chunks(sorted(key for kind, key in refs if kind == by)):
                for key, pk in visible.filter(**{f"{by}__in": chunk}).values_list(by, "pk"):
                    self.found.setdefault((by, key), []).append(pk)

    def check(
        self,
        creates: list[Prepared],
        updates: dict[int, list[Prepared]],
        match_keys: Callable[[dict[str, Any]], list[Key]],
        refuse: Refuse,
    ) -> tuple[list[Prepared], dict[int, list[Prepared]], int]:
        """Each row's other companies found, or the row refused: returns the rows kept and how many
        were refused. A row whose other company is a new row refused here is refused too."""
        rows: list[tuple[int | None, Prepared]] = [(None, r) for r in creates]
        rows += [(pk, r) for pk, group in updates.items() for r in group]
        named = [(pk, row) for pk, row in rows if row.values.get("relations")]
        refused: set[int] = set()  # lines
        while True:
            index: dict[Key, set[int]] = {}  # the batch's new accounts still kept, by key
            for row in creates:
                if row.line not in refused:
                    for key in match_keys(row.values):
                        index.setdefault(key, set()).add(row.line)
            newly = 0
            for pk, row in named:
                if row.line in refused:
                    continue
                targets, problems = self._targets(pk, row, index, set(match_keys(row.values)))
                for item, reason in problems:
                    refuse(row, item[0], item[1], reason)
                if problems:
                    refused.add(row.line)
                    newly += 1
                else:
                    row.values["relation_targets"] = targets
            if not newly:
                break
        self.pending = [(pk, row) for pk, row in named if row.line not in refused]
        kept_creates = [row for row in creates if row.line not in refused]
        kept_updates = {pk: [r for r in group if r.line not in refused] for pk, group in updates.items()}
        kept_updates = {pk: group for pk, group in kept_updates.items() if group}
        self.update_rows = {pk: len(group) for pk, group in kept_updates.items()}
        return kept_creates, kept_updates, len(refused)

    def _targets(
        self, pk: int | None, row: Prepared, index: dict[Key, set[int]], own_keys: set[Key]
    ) -> tuple[list[tuple[Item, Node]], list[tuple[Item, str]]]:
        """The company each of the row's items names, or why not."""
        own: Node = ("pk", pk) if pk is not None else ("line", row.line)
        targets: list[tuple[Item, Node]] = []
        problems: list[tuple[Item, str]] = []
        for item in row.values["relations"]:
            ref = (item[4], item[5])
            nodes: set[Node] = {("pk", p) for p in self.found.get(ref, ())}
            nodes |= {("line", line) for line in index.get(ref, ())}
            if ref in own_keys or nodes == {own}:
                problems.append((item, _("A company is not related to itself: name another company.")))
                continue
            nodes.discard(own)
            if len(nodes) == 1:
                targets.append((item, nodes.pop()))
            elif nodes:
                reason = _(
                    "%(n)s accounts you may see have this name: name the one you mean by its external ID "
                    "in the column “%(column)s”."
                ) % {"n": len(nodes), "column": capfirst(str(self.ext_id_label))}
                problems.append((item, reason))
            elif ref in self.named:
                problems.append((item, _("The related company's own row could not be imported.")))
            else:
                reason = _(
                    "No account you may see has this name or external ID: import that company first, "
                    "or put its row above this one in the file."
                )
                problems.append((item, reason))
        return targets, problems

    def add(self, new_by_line: dict[int, int], result: BatchResult, refuse: Refuse) -> None:
        """Once the batch's accounts are written: each relation not there yet, through
        ``relation_add``. A row that added some to an account it left as it was counts as updated."""
        failed = {line for line, _error in result.errors}
        kind_type = RELATION_TYPES[Account]
        wanted: list[tuple[Prepared, Item, int, int, tuple[int, int, str]]] = []
        for pk, row in self.pending:
            if row.line in failed:  # refused by the writer (an account the user may not change)
                continue
            record = pk if pk is not None else new_by_line[row.line]
            for item, (where, ref) in row.values["relation_targets"]:
                other = ref if where == "pk" else new_by_line[ref]
                kind, first = item[2], item[3]
                pair = (
                    stored_pair(record, other, kind, kind_type)
                    if first
                    else stored_pair(other, record, kind, kind_type)
                )
                wanted.append((row, item, record, other, (*pair, kind)))
        have: set[tuple[int, int, str]] = set()
        for chunk in _chunks(sorted({stored[0] for *_rest, stored in wanted})):
            have.update(AccountRelation.objects.filter(first_id__in=chunk).values_list("first_id", "second_id", "kind"))
        touched = set(result.written.get(Account, ()))
        created = set(new_by_line.values())
        related: set[int] = set()  # accounts the batch wrote nothing else to, now related
        for row, item, record, other, stored in wanted:
            if stored in have:
                continue
            have.add(stored)
            try:
                relation_add(
                    model=Account,
                    record_id=record,
                    other_id=other,
                    kind=stored[2],
                    user=self.user,
                    reverse=not item[3],
                    created=record in created,
                )
            except FieldErrors as exc:
                refuse(row, item[0], item[1], " ".join(m for ms in exc.errors.values() for m in ms))
                continue
            except (PermissionDenied, NotFound):  # an account there before, which the user may not change
                refuse(row, item[0], item[1], _("You may not change this account, so this relation was not added."))
                continue
            if record not in touched:
                related.add(record)
        for record in related:  # ``update`` counted their rows as skipped
            result.skipped -= self.update_rows[record]
            result.updated += self.update_rows[record]
