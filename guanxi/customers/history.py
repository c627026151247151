"""An account's whole history (客户动态): its timeline shows its contacts' notes and changes too,
each under the contact's name (``core.timeline.register_timeline_gatherer``).

Only contacts the reader may see, and at an account with more than ``GATHER_LIMIT`` of them the
newest linked (the (account, contact) index, read backwards: no sort), as a subquery of the
timeline's reads; only the names of the contacts on the page shown are read.
"""

from __future__ import annotations

from typing import Any

from django.db import models

from guanxi.core.choices import Action
from guanxi.core.permissions import restricted, visible_ref
from guanxi.customers.models import Account, AccountContact, Contact

#: Contacts whose entries an account's timeline gathers at most.
GATHER_LIMIT = 1000


def account_contacts_history(account: Account, user: Any) -> list[tuple[type[models.Model], models.QuerySet]]:
    visible = restricted(Contact, user, Action.VIEW)
    if visible.query.is_empty():
        return []
    ids = (
        AccountContact.objects.filter(visible_ref("contact_id", visible), account=account)
        .order_by("-contact_id")
        .values_list("contact_id", flat=True)[:GATHER_LIMIT]
    )
    return [(Contact, ids)]
