"""Reading the relations between people (人脉关系): whom a person knows, as the reader may see them.

Writes are ``services.relations``. A relation shows only when the reader may see both people.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from guanxi.core.choices import Action
from guanxi.core.permissions import restricted, visible_ref
from guanxi.customers.choices import DIRECTED_RELATIONS, RelationKind
from guanxi.customers.models import Account, AccountContact, Contact, ContactRelation

#: The relations a person's page and the API list at most (newest first).
RELATIONS_LIMIT = 100


def visible_relations(user: Any, contact: Contact | int) -> QuerySet[ContactRelation]:
    """The relations of ``contact`` whose other person ``user`` may see too (newest first)."""
    visible = restricted(Contact, user, Action.VIEW)
    pk = contact.pk if isinstance(contact, Contact) else contact
    return (
        ContactRelation.objects.filter(Q(first_id=pk) | Q(second_id=pk))
        .filter(visible_ref("first_id", visible), visible_ref("second_id", visible))
        .order_by("-created_at", "-id")
    )


def relation_label(relation: ContactRelation, seen_from: int) -> str:
    """How the relation reads on ``seen_from``'s page: 同事, or for a referral 推荐了 / 推荐人."""
    directed = DIRECTED_RELATIONS.get(relation.kind)
    if directed is None:
        return str(relation.get_kind_display())
    return str(directed[0] if relation.first_id == seen_from else directed[1])


def primary_companies(user: Any, contact_ids: Any) -> dict[int, str]:
    """Each person's primary company by name, among the companies ``user`` may see (one query)."""
    return dict(
        AccountContact.objects.filter(
            visible_ref("account_id", restricted(Account, user, Action.VIEW)),
            contact_id__in=contact_ids,
            is_primary=True,
        ).values_list("contact_id", "account__name")
    )


def relation_rows(
    user: Any, contact: Contact, *, limit: int = RELATIONS_LIMIT, relation_id: int | None = None
) -> list[dict[str, Any]]:
    """``contact``'s relations for a page or the API (``relation_id``: that one only): the other
    person, their primary company (one the reader may see), the relation as it reads from
    ``contact``'s side. Three queries a page."""
    found = visible_relations(user, contact)
    if relation_id is not None:
        found = found.filter(pk=relation_id)
    relations = list(found[:limit])
    others = {r.second_id if r.first_id == contact.pk else r.first_id for r in relations}
    people = {c.pk: c for c in Contact.objects.filter(pk__in=others).only("pk", "display_name", "title")}
    companies = primary_companies(user, others)
    rows = []
    for relation in relations:
        other = relation.second_id if relation.first_id == contact.pk else relation.first_id
        person = people.get(other)
        if person is None:
            continue
        rows.append(
            {
                "id": relation.pk,
                "kind": relation.kind,
                "label": relation_label(relation, contact.pk),
                "colour": RelationKind.colour(relation.kind),
                "other": person,
                "company": companies.get(other, ""),
                "note": relation.note,
                "created_at": relation.created_at,
            }
        )
    return rows
