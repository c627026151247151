"""An account's network (人脉): whom its people know elsewhere, the way in to a company.

A salesperson who wants to reach 恒信电子 asks "who do we know there, and who knows them?". The
relations between people (``ContactRelation``) answer it: every relation with one person at the
account and the other somewhere else, seen from the account's side ("上官婉清 · 同学 · 王五, 华东精密").
Relations between two people of the account itself are its org chart's business, not listed here.

Read through ``restrict`` on both people, newest first, in three queries whatever the account's size:
the relations (by the relation table's two person indexes, through the account's links), the
people's names, and the other people's primary companies.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from guanxi.core.choices import Action
from guanxi.core.permissions import restricted, visible_ref
from guanxi.customers.choices import RelationKind
from guanxi.customers.models import Account, AccountContact, Contact, ContactRelation
from guanxi.customers.relations import primary_companies, relation_label

#: The relations an account's card lists at most.
NETWORK_LIMIT = 20


def account_network(account: Account, user: Any, *, limit: int = NETWORK_LIMIT) -> list[dict[str, Any]]:
    """The relations between ``account``'s people and people elsewhere, as ``user`` may see them."""
    visible = restricted(Contact, user, Action.VIEW)
    if visible.query.is_empty():
        return []
    here = AccountContact.objects.filter(account=account).values("contact_id")
    relations = list(
        ContactRelation.objects.filter(Q(first_id__in=here) | Q(second_id__in=here))
        .exclude(Q(first_id__in=here) & Q(second_id__in=here))
        .filter(visible_ref("first_id", visible), visible_ref("second_id", visible))
        .order_by("-created_at", "-id")[:limit]
    )
    if not relations:
        return []
    ends = {pk for r in relations for pk in (r.first_id, r.second_id)}
    inside = set(
        AccountContact.objects.filter(account=account, contact_id__in=ends).values_list("contact_id", flat=True)
    )
    people = {c.pk: c for c in Contact.objects.filter(pk__in=ends).only("pk", "display_name", "title")}
    outside = ends - inside
    companies = primary_companies(user, outside)
    rows = []
    for relation in relations:
        ours = relation.first_id if relation.first_id in inside else relation.second_id
        theirs = relation.second_id if ours == relation.first_id else relation.first_id
        rows.append(
            {
                "id": relation.pk,
                "kind": relation.kind,
                "label": relation_label(relation, ours),
                "colour": RelationKind.colour(relation.kind),
                "ours": people[ours],
                "theirs": people[theirs],
                "company": companies.get(theirs, ""),
                "note": relation.note,
            }
        )
    return rows
