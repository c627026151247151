"""An account's whole history (客户动态): its timeline shows its contacts' and its subsidiaries'
notes and changes too, each under their name (``core.timeline.register_timeline_gatherer``).

Only records the reader may see, and at an account with more than ``GATHER_LIMIT`` contacts (or
direct subsidiaries) the newest linked (the (account, contact) index, read backwards: no sort), as
subqueries of the timeline's reads; only the names of the records on the page shown are read. A
subsidiary's own contacts stay on its page (its timeline gathers them).
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy

from guanxi.core.choices import Action
from guanxi.core.permissions import restricted, visible_ref
from guanxi.customers.models import Account, AccountContact, Contact

#: Contacts (and direct subsidiaries) whose entries an account's timeline gathers at most.
GATHER_LIMIT = 1000
GATHERED_LABEL = gettext_lazy("With its contacts and subsidiaries")


def account_history(account: Account, user: Any) -> list[tuple[type[models.Model], models.QuerySet]]:
    out: list[tuple[type[models.Model], models.QuerySet]] = []
    visible = restricted(Contact, user, Action.VIEW)
    if not visible.query.is_empty():
        contacts = (
            AccountContact.objects.filter(visible_ref("contact_id", visible), account=account)
            .order_by("-contact_id")
            .values_list("contact_id", flat=True)[:GATHER_LIMIT]
        )
        out.append((Contact, contacts))
    subsidiaries = restricted(Account, user, Action.VIEW).filter(parent=account).order_by("-id")
    out.append((Account, subsidiaries.values_list("pk", flat=True)[:GATHER_LIMIT]))
    return out
