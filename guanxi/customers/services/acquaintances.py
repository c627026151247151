"""Writes on who among our people knows a customer's person (我方熟人): each user says it of themselves.

Anyone who may see the person may say they know them, and how well, and take it back; it is the
user's own statement, so it needs no right to change the person and writes no change-log entry of
theirs (as following does), but it is shared: the person's timeline says so, and their page lists
it for everyone who may see them.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from guanxi.core.choices import Action
from guanxi.core.errors import FieldErrors, NotFound
from guanxi.core.permissions import restricted
from guanxi.core.timeline import timeline_add
from guanxi.customers.choices import Closeness, TimelineKind
from guanxi.customers.models import Acquaintance, Contact

MAX_NOTE = 200


def _person(user: Any, contact_id: Any) -> Contact:
    try:
        pk = int(contact_id)
    except (TypeError, ValueError):
        raise NotFound() from None
    contact = restricted(Contact, user, Action.VIEW).filter(pk=pk).first()
    if contact is None:
        raise NotFound()
    return contact


def acquaintance_set(*, contact_id: Any, user: Any, closeness: Any, note: Any = "") -> Acquaintance:
    """``user`` knows the person (``closeness``: a ``Closeness``), or now knows them this well.
    Errors name the field: ``closeness`` or ``note``."""
    errors: dict[str, list[str]] = {}
    if closeness not in Closeness.values:
        errors["closeness"] = [_("Use one of: %(values)s.") % {"values": ", ".join(Closeness.values)}]
    note = " ".join(str(note or "").split())
    if len(note) > MAX_NOTE:
        errors["note"] = [_("Use at most %(n)s characters.") % {"n": MAX_NOTE}]
    with transaction.atomic():
        contact = _person(user, contact_id)
        if errors:
            raise FieldErrors(errors)
        before = Acquaintance.objects.filter(contact=contact, user=user).values_list("closeness", flat=True).first()
        acquaintance, _created = Acquaintance.objects.update_or_create(
            contact=contact, user=user, defaults={"closeness": closeness, "note": note}
        )
        if before != closeness:  # a note alone changed: nothing for the timeline
            values = {"user": str(user), "closeness": acquaintance.get_closeness_display()}
            timeline_add(
                subject=contact,
                kind=TimelineKind.ACQUAINTANCE_SET,
                summary=_("%(user)s: %(closeness)s") % values,
                actor=user,
                data={"user": user.pk, "closeness": closeness},
            )
    return acquaintance


def acquaintance_remove(*, contact_id: Any, user: Any) -> None:
    """``user`` takes back that they know the person (404 when they had not said so)."""
    with transaction.atomic():
        contact = _person(user, contact_id)
        deleted, _rows = Acquaintance.objects.filter(contact=contact, user=user).delete()
        if not deleted:
            raise NotFound()
        timeline_add(
            subject=contact,
            kind=TimelineKind.ACQUAINTANCE_REMOVED,
            summary=_("%(user)s no longer listed as knowing them") % {"user": str(user)},
            actor=user,
            data={"user": user.pk},
        )
