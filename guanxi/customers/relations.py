"""Reading the relations between records of one kind: whom a person knows (人脉关系, ``ContactRelation``)
and how a company stands to others (企业关系, ``AccountRelation``), as the reader may see them.

Writes are ``services.relations``. A relation shows only when the reader may see both records.
``RELATION_TYPES`` says, per record type, which table holds its relations, their kinds and the
directed ones' readings; everything else is the same for people and companies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import models
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from guanxi.core.choices import Action
from guanxi.core.list_cells import quote, reads_back
from guanxi.core.permissions import restricted, visible_ref
from guanxi.customers.choices import (
    DIRECTED_ACCOUNT_RELATIONS,
    DIRECTED_RELATIONS,
    AccountRelationKind,
    ColouredChoices,
    RelationKind,
)
from guanxi.customers.models import Account, AccountContact, AccountRelation, Contact, ContactRelation, Relation

#: The relations a record's page and the API list at most (newest first).
RELATIONS_LIMIT = 100


@dataclass(frozen=True)
class RelationType:
    """The relations of one record type: ``model``'s rows related in ``table``."""

    model: type[models.Model]
    table: type[ContactRelation] | type[AccountRelation]
    kinds: type[ColouredChoices]
    #: kind -> (the first record's reading, the second's)
    directed: dict[str, tuple[Any, Any]]
    path: str  # the resource's path: "contacts", "accounts"
    title: Any  # the card's
    other_label: Any  # the form's picker of the other record
    default_kind: str
    #: What the form's kind says of a directed kind (the page's record is the first).
    kind_hint: Any
    #: The messages of a refused ``other`` (lazy texts; ``not_found`` takes ``%(id)s``).
    choose_other: Any
    not_found: Any
    not_themselves: Any
    empty: Any

    @property
    def anchor(self) -> str:
        """The card's id on the record's page: ``contact-relations``, ``account-relations``."""
        return f"{self.model._meta.model_name}-relations"


RELATION_TYPES: dict[type[models.Model], RelationType] = {
    Contact: RelationType(
        model=Contact,
        table=ContactRelation,
        kinds=RelationKind,
        directed=DIRECTED_RELATIONS,
        path="contacts",
        title=_("Relationships"),
        other_label=pgettext_lazy("the other person of a relation", "Who"),
        default_kind=RelationKind.COLLEAGUE,
        kind_hint=_("Referral: this person referred the other."),
        choose_other=_("Choose the other person."),
        not_found=_("No contact with id %(id)s."),
        not_themselves=_("Choose someone else: a person is not related to themselves."),
        empty=_("No relationships recorded yet: colleagues, classmates, family, or whom they referred."),
    ),
    Account: RelationType(
        model=Account,
        table=AccountRelation,
        kinds=AccountRelationKind,
        directed=DIRECTED_ACCOUNT_RELATIONS,
        path="accounts",
        title=_("Related companies"),
        other_label=pgettext_lazy("the other company of a relation", "Which company"),
        default_kind=AccountRelationKind.PARTNER,
        kind_hint=_("Supplier, distributor, investor: this company supplies, distributes for or invests in the other."),
        choose_other=_("Choose the other company."),
        not_found=_("No account with id %(id)s."),
        not_themselves=_("Choose another company: a company is not related to itself."),
        empty=_("No relations with other companies yet: suppliers, customers, distributors, investors, partners."),
    ),
}


def relation_type(model: type[models.Model]) -> RelationType:
    """The relations of ``model`` (``Contact``, ``Account``) or those a relation table holds."""
    if issubclass(model, Relation):
        return next(kind for kind in RELATION_TYPES.values() if kind.table is model)
    return RELATION_TYPES[model]


def visible_relations(user: Any, record: models.Model) -> QuerySet[Any]:
    """The relations of ``record`` whose other record ``user`` may see too (newest first)."""
    kind = relation_type(type(record))
    visible = restricted(kind.model, user, Action.VIEW)
    return (
        kind.table.objects.filter(Q(first_id=record.pk) | Q(second_id=record.pk))
        .filter(visible_ref("first_id", visible), visible_ref("second_id", visible))
        .order_by("-created_at", "-id")
    )


def relation_label(relation: Relation, seen_from: int) -> str:
    """How the relation reads on ``seen_from``'s page: 同事, or for a referral 推荐了 / 推荐人."""
    return relation_reading(relation_type(type(relation)), relation.kind, first=relation.first_id == seen_from)


def relation_reading(kind: RelationType, value: str, *, first: bool) -> str:
    """How a relation of kind ``value`` reads from one side (``first``: the referrer, the supplier)."""
    directed = kind.directed.get(value)
    if directed is None:
        return str(kind.kinds(value).label)
    return str(directed[0] if first else directed[1])


def relation_readings(kind: RelationType) -> list[tuple[str, str, bool]]:
    """Every way a relation reads from one side, in the current language: ``(text, kind, first)``
    (供货给 and 采购自 for a supplier, 合作伙伴 for partners)."""
    out = []
    for value in kind.kinds.values:
        sides = (True, False) if value in kind.directed else (True,)
        out += [(relation_reading(kind, value, first=side), value, side) for side in sides]
    return out


#: Between a relation's reading and the other company (``供货给:华信科技``), and between relations:
#: what the 关联企业 column of account lists and exports writes and the import reads back.
KIND_SEPARATOR = ":"
ITEM_SEPARATOR = "; "


def relation_cells(accounts: list[Any], user: Any) -> dict[Any, tuple[str, str]]:
    """The 关联企业 column of account lists and exports: each relation as the company's page reads
    it, then the other company's name (``供货给:华信科技; 合作伙伴:明凯佳科技``), oldest first, as
    the account import reads it back: a name it would not read whole (one holding ;) in double
    quotes, ``供货给:"A;B Trading"``. Only relations to companies ``user`` may see; one query for
    the page or the export's chunk."""
    # The import's reader of the column reads this module's words, so it comes in here.
    from guanxi.customers.import_relations import split_items

    def item(reading: str, name: str) -> str:
        text = f"{reading}{KIND_SEPARATOR}{name}"
        return text if reads_back(text, split_items) else f"{reading}{KIND_SEPARATOR}{quote(name)}"

    pks = [a.pk for a in accounts]
    if not pks:
        return {}
    kind = RELATION_TYPES[Account]
    visible = restricted(Account, user, Action.VIEW)
    found = (
        AccountRelation.objects.filter(Q(first_id__in=pks) | Q(second_id__in=pks))
        .filter(visible_ref("first_id", visible), visible_ref("second_id", visible))
        .order_by("id")
        .values_list("first_id", "second_id", "kind", "first__name", "second__name")
    )
    words = {(value, side): text for text, value, side in relation_readings(kind)}
    wanted = set(pks)
    items: dict[int, list[str]] = {}
    for first, second, value, first_name, second_name in found:
        # A relation between two companies of the page is in both their cells, read from each side.
        if first in wanted:
            items.setdefault(first, []).append(item(words[(value, True)], second_name))
        if second in wanted:
            items.setdefault(second, []).append(item(words[(value, value not in kind.directed)], first_name))
    return {pk: (ITEM_SEPARATOR.join(texts), "") for pk, texts in items.items()}


def primary_companies(user: Any, contact_ids: Any) -> dict[int, str]:
    """Each person's primary company by name, among the companies ``user`` may see (one query)."""
    return dict(
        AccountContact.objects.filter(
            visible_ref("account_id", restricted(Account, user, Action.VIEW)),
            contact_id__in=contact_ids,
            is_primary=True,
        ).values_list("contact_id", "account__name")
    )


def _others(user: Any, model: type[models.Model], pks: set[int]) -> tuple[dict[int, Any], dict[int, str]]:
    """The other records by id and a line under each name: a person's primary company, a
    company's city."""
    if model is Contact:
        people = {c.pk: c for c in Contact.objects.filter(pk__in=pks).only("pk", "display_name", "title")}
        return people, primary_companies(user, pks)
    companies = {a.pk: a for a in Account.objects.filter(pk__in=pks).only("pk", "name", "city", "province")}
    return companies, {pk: a.city or a.province for pk, a in companies.items()}


def relation_rows(
    user: Any, record: models.Model, *, limit: int = RELATIONS_LIMIT, relation_id: int | None = None
) -> list[dict[str, Any]]:
    """``record``'s relations for a page or the API (``relation_id``: that one only): the other
    record, a ``line`` under its name (a person's primary company the reader may see, a company's
    city), the relation
    as it reads from ``record``'s side. Three queries a page."""
    kind = relation_type(type(record))
    found = visible_relations(user, record)
    if relation_id is not None:
        found = found.filter(pk=relation_id)
    relations = list(found[:limit])
    pks = {r.second_id if r.first_id == record.pk else r.first_id for r in relations}
    others, lines = _others(user, kind.model, pks)
    rows = []
    for relation in relations:
        pk = relation.second_id if relation.first_id == record.pk else relation.first_id
        other = others.get(pk)
        if other is None:
            continue
        rows.append(
            {
                "id": relation.pk,
                "kind": relation.kind,
                "label": relation_label(relation, record.pk),
                "colour": kind.kinds.colour(relation.kind),
                "other": other,
                "line": lines.get(pk, ""),
                "note": relation.note,
                "created_at": relation.created_at,
            }
        )
    return rows


def related_ids(user: Any, model: type[models.Model], pk: int) -> list[int]:
    """The records related to ``pk`` in any way (the lists' ``related_to=`` filter): none when the
    user may not see ``pk`` itself. The caller's list is restricted already, so the others it keeps
    are those the user may see: a relation shows when both records may be seen. By the relation
    table's two indexes (one pair a row), whatever the size of the list."""
    kind = relation_type(model)
    if not restricted(model, user, Action.VIEW).filter(pk=pk).exists():
        return []
    pairs = kind.table.objects.filter(Q(first_id=pk) | Q(second_id=pk)).values_list("first_id", "second_id")
    return sorted({second if first == pk else first for first, second in pairs})
