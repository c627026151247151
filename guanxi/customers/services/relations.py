"""Writes on the relations between people (人脉关系): who knows whom, and who referred whom.

A relation is added from one person's page (or ``POST /contacts/{id}/relations``): the user must
be allowed to change that person and to see the other. Removing it asks the same of either side.
Both people's timelines say so, and the change log of the person it was added or removed on keeps
the relations before and after, as it keeps a contact's account links.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from guanxi.core import services as core_services
from guanxi.core.audit import changelog_record
from guanxi.core.choices import Action, ChangeAction
from guanxi.core.errors import FieldErrors, NotFound
from guanxi.core.permissions import restricted
from guanxi.core.timeline import timeline_add
from guanxi.customers.choices import DIRECTED_RELATIONS, RelationKind, TimelineKind
from guanxi.customers.models import Contact, ContactRelation
from guanxi.customers.relations import relation_label, visible_relations

MAX_NOTE = 200


def stored_pair(contact_id: int, other_id: int, kind: str) -> tuple[int, int]:
    """The stored order: a referral from the referrer, any other kind with the lower id first."""
    if kind in DIRECTED_RELATIONS:
        return contact_id, other_id
    return min(contact_id, other_id), max(contact_id, other_id)


def _rows(contact: Contact) -> list[dict[str, Any]]:
    relations = ContactRelation.objects.filter(Q(first=contact) | Q(second=contact)).order_by("id")
    return [{"first": r.first_id, "second": r.second_id, "kind": r.kind, "note": r.note} for r in relations]


def _record(user: Any, contact: Contact, before: list[dict[str, Any]]) -> None:
    changelog_record(
        actor=user,
        obj=contact,
        action=ChangeAction.UPDATE,
        before={"relations": before},
        after={"relations": _rows(contact)},
    )


def _timeline(user: Any, relation: ContactRelation, people: dict[int, Contact], *, added: bool) -> None:
    """An entry on both people's timelines, each naming the other."""
    for pk, other in ((relation.first_id, relation.second_id), (relation.second_id, relation.first_id)):
        values = {"relation": relation_label(relation, pk), "name": people[other].display_name}
        summary = (
            _("Relation added: %(relation)s %(name)s") if added else _("Relation removed: %(relation)s %(name)s")
        ) % values
        timeline_add(
            subject=people[pk],
            kind=TimelineKind.RELATION_ADDED if added else TimelineKind.RELATION_REMOVED,
            summary=summary,
            actor=user,
            data={"first": relation.first_id, "second": relation.second_id, "kind": relation.kind},
        )


def relation_add(*, contact_id: Any, other_id: Any, kind: Any, user: Any, note: str = "") -> ContactRelation:
    """Relate ``contact_id`` (which the user may change) to ``other_id`` (which they may see).

    For a referral, ``contact_id`` referred ``other_id`` (推荐了); ``kind`` is a ``RelationKind``.
    Errors name the field: ``other``, ``kind`` or ``note``.
    """
    errors: dict[str, list[str]] = {}
    if kind not in RelationKind.values:
        errors["kind"] = [_("Use one of: %(values)s.") % {"values": ", ".join(RelationKind.values)}]
    note = " ".join(str(note or "").split())
    if len(note) > MAX_NOTE:
        errors["note"] = [_("Use at most %(n)s characters.") % {"n": MAX_NOTE}]
    try:
        other_pk = int(other_id)
    except (TypeError, ValueError):
        errors["other"] = [_("Choose the other person.")]
        other_pk = 0
    with transaction.atomic():
        contact = core_services.record_lock(Contact, contact_id, user, Action.CHANGE)
        other = restricted(Contact, user, Action.VIEW).filter(pk=other_pk).first() if other_pk else None
        if other_pk and other is None:
            errors["other"] = [_("No contact with id %(id)s.") % {"id": other_pk}]
        elif other is not None and other.pk == contact.pk:
            errors["other"] = [_("Choose someone else: a person is not related to themselves.")]
        if errors:
            raise FieldErrors(errors)
        assert other is not None
        first, second = stored_pair(contact.pk, other.pk, kind)
        if ContactRelation.objects.filter(first_id=first, second_id=second, kind=kind).exists():
            raise FieldErrors({"other": [_("These two are already related this way.")]})
        before = _rows(contact)
        try:
            with transaction.atomic():
                relation = ContactRelation.objects.create(
                    first_id=first, second_id=second, kind=kind, note=note, created_by=user
                )
        except IntegrityError:  # added by someone else meanwhile
            raise FieldErrors({"other": [_("These two are already related this way.")]}) from None
        _record(user, contact, before)
        _timeline(user, relation, {contact.pk: contact, other.pk: other}, added=True)
    return relation


def relation_remove(*, contact_id: Any, relation_id: Any, user: Any) -> None:
    """Remove one of ``contact_id``'s relations (the user may change that person and see the other)."""
    with transaction.atomic():
        contact = core_services.record_lock(Contact, contact_id, user, Action.CHANGE)
        relation = visible_relations(user, contact).filter(pk=relation_id).first()
        if relation is None:
            raise NotFound()
        other_pk = relation.second_id if relation.first_id == contact.pk else relation.first_id
        other = Contact.all_objects.get(pk=other_pk)
        before = _rows(contact)
        relation.delete()
        _record(user, contact, before)
        _timeline(user, relation, {contact.pk: contact, other.pk: other}, added=False)
