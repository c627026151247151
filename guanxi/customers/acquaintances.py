"""Reading who among our people knows a customer's people (我方熟人).

A salesperson about to call 王总 at 恒信电子 asks colleagues "who here knows him?"; each user records
whom they know and how well (``services.acquaintance_set``). A person's page lists those who know
them; an account's page lists who knows whom there. Users are named to everyone (as owners are);
the customer's people only to those who may see them.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Case, IntegerField, QuerySet, Value, When

from guanxi.core.choices import Action
from guanxi.core.permissions import restricted, visible_ref
from guanxi.customers.choices import Closeness
from guanxi.customers.models import Account, AccountContact, Acquaintance, Contact

#: Who knows a person, listed on their page at most; who knows whom at an account, on its page.
LIMIT = 50
ACCOUNT_LIMIT = 20

#: The closest first.
_RANK = Case(
    *(When(closeness=value, then=Value(i)) for i, value in enumerate(Closeness.values)),
    output_field=IntegerField(),
)


def _rows(found: QuerySet[Acquaintance]) -> list[dict[str, Any]]:
    return [
        {
            "id": a.pk,
            "user": a.user,
            "contact": a.contact,
            "closeness": a.closeness,
            "label": a.get_closeness_display(),
            "colour": Closeness.colour(a.closeness),
            "note": a.note,
            "updated_at": a.updated_at,
        }
        for a in found
    ]


def contact_acquaintances(contact: Contact, *, user: Any = None, limit: int = LIMIT) -> list[dict[str, Any]]:
    """Our people (active users) who know ``contact``, the closest first (one query); ``user``: that
    one's row alone. The caller has checked that the reader may see the contact."""
    found = Acquaintance.objects.filter(contact=contact, user__is_active=True)
    if user is not None:
        found = found.filter(user=user)
    found = found.select_related("user", "contact").order_by(_RANK, "-updated_at", "-id")[:limit]
    return _rows(found)


def account_acquaintances(account: Account, user: Any, *, limit: int = ACCOUNT_LIMIT) -> list[dict[str, Any]]:
    """Who of ours knows whom at ``account``, among its people ``user`` may see, the closest and the
    newest first (one query, by the account's links: the acquaintance table is read by its
    contact index)."""
    visible = restricted(Contact, user, Action.VIEW)
    if visible.query.is_empty():
        return []
    here = AccountContact.objects.filter(account=account).values("contact_id")
    found = (
        Acquaintance.objects.filter(contact_id__in=here, user__is_active=True)
        .filter(visible_ref("contact_id", visible))
        .select_related("user", "contact")
        .order_by(_RANK, "-updated_at", "-id")[:limit]
    )
    return _rows(found)
