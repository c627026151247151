"""Writes on the relations between records of one kind: who knows whom among people (人脉关系), who
supplies, distributes for, invests in or competes with whom among companies (企业关系).

A relation is added from one record's page (or ``POST /contacts/{id}/relations``, ``/accounts/...``):
the user must be allowed to change that record and to see the other. Removing it asks the same of
either side. Both records' timelines say so, and the change log of the record it was added or
removed on keeps the relations before and after, as it keeps a contact's account links.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from guanxi.core import services as core_services
from guanxi.core.audit import changelog_record
from guanxi.core.choices import Action, ChangeAction
from guanxi.core.errors import FieldErrors, NotFound
from guanxi.core.permissions import restricted
from guanxi.core.timeline import timeline_add
from guanxi.customers.choices import TimelineKind
from guanxi.customers.models import Relation
from guanxi.customers.relations import RelationType, relation_label, relation_type, visible_relations

MAX_NOTE = 200


def stored_pair(record_id: int, other_id: int, kind: str, relations: RelationType) -> tuple[int, int]:
    """The stored order: a directed kind (a referral, a supplier) from its first record (the
    referrer, the supplier), any other kind with the lower id first."""
    if kind in relations.directed:
        return record_id, other_id
    return min(record_id, other_id), max(record_id, other_id)


def _rows(relations: RelationType, record: models.Model) -> list[dict[str, Any]]:
    found = relations.table.objects.filter(Q(first_id=record.pk) | Q(second_id=record.pk)).order_by("id")
    return [{"first": r.first_id, "second": r.second_id, "kind": r.kind, "note": r.note} for r in found]


def _record(user: Any, relations: RelationType, record: models.Model, before: list[dict[str, Any]]) -> None:
    changelog_record(
        actor=user,
        obj=record,
        action=ChangeAction.UPDATE,
        before={"relations": before},
        after={"relations": _rows(relations, record)},
    )


def _timeline(user: Any, relation: Relation, records: dict[int, Any], *, added: bool) -> None:
    """An entry on both records' timelines, each naming the other."""
    for pk, other in ((relation.first_id, relation.second_id), (relation.second_id, relation.first_id)):
        values = {"relation": relation_label(relation, pk), "name": str(records[other])}
        summary = (
            _("Relation added: %(relation)s %(name)s") if added else _("Relation removed: %(relation)s %(name)s")
        ) % values
        timeline_add(
            subject=records[pk],
            kind=TimelineKind.RELATION_ADDED if added else TimelineKind.RELATION_REMOVED,
            summary=summary,
            actor=user,
            data={"first": relation.first_id, "second": relation.second_id, "kind": relation.kind},
        )


def relation_add(
    *,
    model: type[models.Model],
    record_id: Any,
    other_id: Any,
    kind: Any,
    user: Any,
    note: str = "",
    reverse: bool = False,
    created: bool = False,
) -> Relation:
    """Relate ``record_id`` (a contact or account the user may change) to ``other_id`` (one of the
    same type they may see).

    For a directed kind the record is the first: it referred, supplies, distributes for or invests
    in ``other_id``; with ``reverse`` it is the second (it buys from ``other_id``...), as a row of
    the account import may say it from its own side. ``kind`` is one of the type's kinds
    (``RelationKind``, ``AccountRelationKind``). Errors name the field: ``other``, ``kind`` or ``note``.

    ``created``: the user created the record in this transaction (a row of an import), whoever it was
    given to: its relations are part of writing it, as its fields are, so it need not be one they may
    change now.
    """
    relations = relation_type(model)
    errors: dict[str, list[str]] = {}
    if kind not in relations.kinds.values:
        errors["kind"] = [_("Use one of: %(values)s.") % {"values": ", ".join(relations.kinds.values)}]
    note = " ".join(str(note or "").split())
    if len(note) > MAX_NOTE:
        errors["note"] = [_("Use at most %(n)s characters.") % {"n": MAX_NOTE}]
    try:
        other_pk = int(other_id)
    except (TypeError, ValueError):
        errors["other"] = [str(relations.choose_other)]
        other_pk = 0
    with transaction.atomic():
        if created:
            record = model._default_manager.select_for_update().filter(pk=record_id, created_by_id=user.pk).first()
            if record is None:
                raise NotFound()
        else:
            record = core_services.record_lock(model, record_id, user, Action.CHANGE)
        other = restricted(model, user, Action.VIEW).filter(pk=other_pk).first() if other_pk else None
        if other_pk and other is None:
            errors["other"] = [str(relations.not_found) % {"id": other_pk}]
        elif other is not None and other.pk == record.pk:
            errors["other"] = [str(relations.not_themselves)]
        if errors:
            raise FieldErrors(errors)
        assert other is not None
        if reverse:
            first, second = stored_pair(other.pk, record.pk, kind, relations)
        else:
            first, second = stored_pair(record.pk, other.pk, kind, relations)
        if relations.table.objects.filter(first_id=first, second_id=second, kind=kind).exists():
            raise FieldErrors({"other": [_("These two are already related this way.")]})
        before = _rows(relations, record)
        try:
            with transaction.atomic():
                relation = relations.table.objects.create(
                    first_id=first, second_id=second, kind=kind, note=note, created_by=user
                )
        except IntegrityError:  # added by someone else meanwhile
            raise FieldErrors({"other": [_("These two are already related this way.")]}) from None
        _record(user, relations, record, before)
        _timeline(user, relation, {record.pk: record, other.pk: other}, added=True)
    return relation


def relation_remove(*, model: type[models.Model], record_id: Any, relation_id: Any, user: Any) -> None:
    """Remove one of ``record_id``'s relations (the user may change that record and see the other)."""
    relations = relation_type(model)
    with transaction.atomic():
        record = core_services.record_lock(model, record_id, user, Action.CHANGE)
        relation = visible_relations(user, record).filter(pk=relation_id).first()
        if relation is None:
            raise NotFound()
        other_pk = relation.second_id if relation.first_id == record.pk else relation.first_id
        other = model._base_manager.get(pk=other_pk)
        before = _rows(relations, record)
        relation.delete()
        _record(user, relations, record, before)
        _timeline(user, relation, {record.pk: record, other.pk: other}, added=False)
