"""Merging 2-3 contacts or accounts into one, undoing a merge, and dismissing a possible duplicate.

A merge keeps one record (the survivor), takes each field's value from the record the user chose
(blank fields are filled from the others by default; emails, phones and tags are unioned), moves every
row that pointed at the merged records to the survivor through the movers of ``guanxi.core.merge``,
and sends the merged records to the recycle bin. Everything is in one transaction, in the change log
(action "merge") and on the survivor's timeline, and can be undone while nothing has built on it.

Permissions: "change" on the survivor, "delete" on each merged record, all visible; otherwise 404 /
403 before anything is written.

撞单保护 (``guard``) does not look at a merge, whatever values are chosen: each is one a merged record
had, live, so a name, registration number, email or mobile that a colleague's record has was a
duplicate before, and after the merge one record fewer holds it. Refusing would keep the duplicate
the merge removes. Undoing a merge brings the merged records back from the recycle bin, which is
guarded as restoring them (``guard.refuse_restored``): a colleague may have added one meanwhile.
"""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from guanxi.core import services as core_services
from guanxi.core.audit import changelog_record, snapshot
from guanxi.core.choices import Action, ChangeAction
from guanxi.core.errors import Conflict, FieldErrors, NotFound, PermissionDenied
from guanxi.core.merge import (
    MergeContext,
    Mover,
    fk_mover,
    merge_move_all,
    merge_undo_all,
    register_mover,
    row_data,
    row_restore,
)
from guanxi.core.names import person_display_name
from guanxi.core.permissions import frozen_fields, restricted
from guanxi.core.timeline import timeline_add
from guanxi.customers.choices import TimelineKind
from guanxi.customers.guard import held_saved, refusals_told, refuse_restored
from guanxi.customers.models import (
    Account,
    AccountContact,
    AccountRelation,
    Acquaintance,
    Contact,
    ContactPoint,
    ContactRelation,
    DuplicateCandidate,
    DuplicateStatus,
    Merge,
    MergedRecord,
    MergeStatus,
    PoolMove,
)

#: The mover that takes the merged companies' people to the survivor's owner; the merge's timeline
#: entry counts them from its journal.
CONTACT_OWNER_MOVER = "customers.contact.owner"
MERGE_KIND = TimelineKind.MERGED
UNMERGE_KIND = TimelineKind.MERGE_UNDONE
MAX_OTHERS = 2

ADDRESS = ("country", "province", "city", "district", "street", "postal_code")

# A choice the user makes per "field" may set several columns that belong together.
CONTACT_FIELDS: dict[str, tuple[str, ...]] = {
    "family_name": ("family_name",),
    "given_name": ("given_name",),
    "title": ("title",),
    "department": ("department",),
    "wechat_id": ("wechat_id",),
    "reports_to": ("reports_to_id",),
    "decision_role": ("decision_role",),
    "stance": ("stance",),
    "source": ("source",),
    "birthday": ("birthday", "birthday_lunar"),  # the lunar month and day follow on save
    "address": ADDRESS,
    **{
        f"{channel}_consent": (f"{channel}_consent", f"{channel}_consent_source", f"{channel}_consent_at")
        for channel in Contact.CONSENT_CHANNELS
    },
    "description": ("description",),
    "owner": ("owner_id",),
    "team": ("team_id",),
}
ACCOUNT_FIELDS: dict[str, tuple[str, ...]] = {
    "name": ("name",),
    "legal_name": ("legal_name",),
    "registration_number": ("registration_number",),
    "industry": ("industry",),
    "size": ("size",),
    "employee_count": ("employee_count",),
    "annual_revenue": ("annual_revenue", "currency"),
    "website": ("website",),
    "region": ("region",),
    "address": ADDRESS,
    "parent": ("parent_id",),
    "lifecycle_stage": ("lifecycle_stage",),
    "source": ("source",),
    "tier": ("tier", "tier_locked", "tier_reason"),
    "description": ("description",),
    "owner": ("owner_id",),
    "team": ("team_id",),
}
# Groups whose survivor value always counts as given (a flag, a stage, an owner): never filled in.
_ALWAYS_SET = {"email_consent", "sms_consent", "phone_consent", "lifecycle_stage", "owner", "team"}


def merge_fields(model: type[models.Model]) -> dict[str, tuple[str, ...]]:
    """The choices a merge of ``model`` records offers: name -> the columns it sets."""
    fields = dict(CONTACT_FIELDS if model is Contact else ACCOUNT_FIELDS)
    if any(f.name == "external_id" for f in model._meta.concrete_fields):
        fields["external_id"] = ("external_id",)
    return fields


def model_for(record_type: str) -> type[Account] | type[Contact]:
    if record_type == "contact":
        return Contact
    if record_type == "account":
        return Account
    raise FieldErrors({"type": [_('Use "contacts" or "accounts".')]})


def record_type_of(model: type[models.Model]) -> str:
    return "contact" if model is Contact else "account"


def _blank(value: Any) -> bool:
    return value in (None, "", [], {}) or (isinstance(value, decimal.Decimal) and value == 0)


def _group_blank(obj: models.Model, name: str, columns: tuple[str, ...]) -> bool:
    if name == "address":
        return all(_blank(getattr(obj, c)) for c in ADDRESS if c != "country")
    return _blank(getattr(obj, columns[0]))


def _json(value: Any) -> Any:
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


def _frozen_group(frozen: set[str], columns: tuple[str, ...]) -> bool:
    return any(c.removesuffix("_id") in frozen for c in columns)


def merge_plan(
    model: type[models.Model],
    survivor: models.Model,
    others: list[models.Model],
    chosen: dict[str, Any] | None,
    user: Any,
) -> tuple[dict[str, int], dict[str, Any]]:
    """Which record each field comes from, and the survivor's new column values.

    Not chosen: the survivor's value, or (when the survivor's is blank) the first other record's.
    Custom fields are chosen as ``cf.<key>``. Raises FieldErrors naming ``fields.<name>``.
    """
    groups = merge_fields(model)
    records = {int(survivor.pk): survivor, **{int(o.pk): o for o in others}}
    frozen = frozen_fields(user, model)
    errors: dict[str, list[str]] = {}
    sources: dict[str, int] = {}
    chosen = dict(chosen or {})
    cf_keys = sorted({k for obj in records.values() for k in (getattr(obj, "custom_fields", None) or {})})
    for name, source in chosen.items():
        known = name in groups or (name.startswith("cf.") and name[3:] in cf_keys)
        if not known:
            errors[f"fields.{name}"] = [_("This field cannot be chosen in a merge.")]
            continue
        try:
            source_id = int(source)
        except (TypeError, ValueError):
            source_id = -1
        if source_id not in records:
            errors[f"fields.{name}"] = [
                _("Choose one of the records being merged (%(ids)s).") % {"ids": ", ".join(str(pk) for pk in records)}
            ]
            continue
        columns = groups.get(name, ("custom_fields",))
        if source_id != survivor.pk and _frozen_group(frozen, columns):
            errors[f"fields.{name}"] = [_("You may not change this field.")]
            continue
        sources[name] = source_id
    if errors:
        raise FieldErrors(errors)
    values: dict[str, Any] = {}
    for name, columns in groups.items():
        if name not in sources:
            sources[name] = int(survivor.pk)
            if name not in _ALWAYS_SET and not _frozen_group(frozen, columns) and _group_blank(survivor, name, columns):
                filled = next((o for o in others if not _group_blank(o, name, columns)), None)
                if filled is not None:
                    sources[name] = int(filled.pk)
        source = records[sources[name]]
        for column in columns:
            if getattr(source, column) != getattr(survivor, column):
                values[column] = getattr(source, column)
    if cf_keys and "custom_fields" not in frozen:
        merged_cf = dict(getattr(survivor, "custom_fields", None) or {})
        for key in cf_keys:
            name = f"cf.{key}"
            if name not in sources:
                sources[name] = int(survivor.pk)
                if _blank(merged_cf.get(key)):
                    filled = next((o for o in others if not _blank((o.custom_fields or {}).get(key))), None)  # type: ignore[attr-defined]
                    if filled is not None:
                        sources[name] = int(filled.pk)
            value = (records[sources[name]].custom_fields or {}).get(key)  # type: ignore[attr-defined]
            if value is None:
                merged_cf.pop(key, None)
            else:
                merged_cf[key] = value
        if merged_cf != (survivor.custom_fields or {}):  # type: ignore[attr-defined]
            values["custom_fields"] = merged_cf
    if model is Contact:
        _plan_contact(survivor, others, values)  # type: ignore[arg-type]
    else:
        _plan_account(survivor, others, values)  # type: ignore[arg-type]
    return sources, values


def _union_points(lists: Iterable[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Emails or phones of several records, the survivor's first (its primary stays primary), no repeats."""
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for items in lists:
        for item in items or []:
            key = (item.get("value", ""), item.get("extension", ""))
            if key in seen:
                continue
            seen.add(key)
            out.append({**item, "is_primary": not out})
    return out


def _plan_contact(survivor: Contact, others: list[Contact], values: dict[str, Any]) -> None:
    _not_among_merged(survivor, others, values, "reports_to_id")
    family = values.get("family_name", survivor.family_name)
    given = values.get("given_name", survivor.given_name)
    display = person_display_name(family, given)
    if display != survivor.display_name:
        values["display_name"] = display
    for name in ("emails", "phones"):
        merged = _union_points([getattr(survivor, name), *(getattr(o, name) for o in others)])
        if merged != getattr(survivor, name):
            values[name] = merged


def _not_among_merged(survivor: Any, others: list[Any], values: dict[str, Any], attname: str) -> None:
    """A record cannot hang under itself: when the chosen parent (an account's) or manager (a
    person's) is one of the merged records, take that record's own instead."""
    merged_ids = {survivor.pk, *(o.pk for o in others)}
    chosen = values.get(attname, getattr(survivor, attname))
    if chosen is not None and chosen in merged_ids:
        above = {o.pk: getattr(o, attname) for o in [survivor, *others]}.get(chosen)
        values[attname] = None if above in merged_ids else above


def _plan_account(survivor: Account, others: list[Account], values: dict[str, Any]) -> None:
    _not_among_merged(survivor, others, values, "parent_id")
    owner = values.get("owner_id", survivor.owner_id)
    if owner != survivor.owner_id:
        # The pool rules count anew for the new owner (the undo restores both).
        values["owner_since"], values["pool_due_at"] = timezone.now(), None
    if owner is not None and survivor.pooled_at is not None:
        # A pooled survivor given the owner of a merged account leaves the customer pool, as an
        # owner given by hand takes it out (``account_update``).
        values["pooled_at"], values["pool_reason"] = None, ""


def _check_others(survivor_id: Any, other_ids: Any) -> list[int]:
    try:
        others = [int(pk) for pk in other_ids or []]
    except (TypeError, ValueError):
        raise FieldErrors({"others": [_("Send the ids of the records to merge into the survivor.")]}) from None
    if not 1 <= len(others) <= MAX_OTHERS:
        raise FieldErrors({"others": [_("Merge one or two records into the survivor.")]})
    if len(set(others)) != len(others) or int(survivor_id) in others:
        raise FieldErrors({"others": [_("Each record may appear once, and not the survivor.")]})
    return others


def _lock_all(model: type[models.Model], survivor_id: Any, others: list[int], user: Any) -> tuple[Any, list[Any]]:
    """Survivor: change; others: delete. 404 for what the user cannot see, 403 for what they may not do."""
    survivor = core_services.record_lock(model, survivor_id, user, Action.CHANGE)
    return survivor, [core_services.record_lock(model, pk, user, Action.DELETE) for pk in others]


def _validate(obj: models.Model) -> None:
    try:
        obj.full_clean(validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        raise FieldErrors(exc.message_dict) from None


def _record_merge(
    *, model: type[Account] | type[Contact], survivor_id: Any, others: Any, user: Any, fields: dict[str, Any] | None
) -> Merge:
    other_ids = _check_others(survivor_id, others)
    with transaction.atomic():
        survivor, losers = _lock_all(model, survivor_id, other_ids, user)
        sources, values = merge_plan(model, survivor, losers, fields, user)
        if model is Account and "parent_id" in values:
            from guanxi.customers.services.accounts import _check_parent

            _check_parent(user, survivor.pk, values["parent_id"])
        if model is Contact and values.get("reports_to_id") is not None:
            from guanxi.customers.services.contacts import _check_reports_to

            errors: dict[str, list[str]] = {}
            _check_reports_to(user, survivor.pk, values["reports_to_id"], errors)
            if errors:
                raise FieldErrors(errors)
        ownership = {"owner_id", "team_id"} & set(values)
        if ownership and not restricted(model, user, Action.ASSIGN).filter(pk=survivor.pk).exists():
            raise FieldErrors({"fields.owner": [_("You may not assign this record to other people or teams.")]})

        core_services.tags_remember(survivor)
        before = snapshot(survivor)
        record_type = record_type_of(model)
        merge = Merge.objects.create(
            record_type=record_type,
            survivor_id=survivor.pk,
            loser_ids=[o.pk for o in losers],
            user=user,
            fields=dict(sources),
            versions_before={str(o.pk): o.version for o in [survivor, *losers]},
        )
        MergedRecord.objects.bulk_create(
            [MergedRecord(merge=merge, record_type=record_type, record_id=survivor.pk, is_survivor=True)]
            + [MergedRecord(merge=merge, record_type=record_type, record_id=o.pk) for o in losers]
        )
        # The merged records go to the recycle bin first: values unique among live records
        # (an external id) may then move to the survivor.
        now = timezone.now()
        for loser in losers:
            loser._before = snapshot(loser)
            loser.deleted_at = now
            loser.deleted_by_id = user.pk
            loser.version += 1
            loser.save(update_fields=["deleted_at", "deleted_by", "version", "updated_at"])
        ctx = MergeContext(model=model, survivor=survivor, losers=losers, user=user, merge_id=merge.pk, values=values)
        journal = merge_move_all(ctx)

        survivor_before = {column: _json(getattr(survivor, column)) for column in values}
        for column, value in values.items():
            setattr(survivor, column, value)
        _validate(survivor)
        survivor.version += 1
        survivor.save()
        if model is Contact:
            _sync_survivor_points(survivor)
        if not restricted(model, user, Action.CHANGE).filter(pk=survivor.pk).exists() and not ownership:
            raise PermissionDenied(_("This merge would move the record outside what you may change."))

        core_services.tags_remember(survivor)
        loser_names = ", ".join(f"{o} (#{o.pk})" for o in losers)
        changelog_record(
            actor=user,
            obj=survivor,
            action=ChangeAction.MERGE,
            before={**before, "merged": None},
            after={**snapshot(survivor), "merged": [o.pk for o in losers]},
        )
        for loser in losers:
            changelog_record(
                actor=user,
                obj=loser,
                action=ChangeAction.MERGE,
                before={**loser._before, "merged_into": None},
                after={**snapshot(loser), "merged_into": survivor.pk},
            )
            timeline_add(
                subject=loser,
                kind=MERGE_KIND,
                summary=_("Merged into %(record)s") % {"record": f"{survivor} (#{survivor.pk})"},
                actor=user,
                data={"merge_id": merge.pk, "survivor": survivor.pk},
            )
        summary = _("Merged with %(records)s") % {"records": loser_names}
        followed = len((journal.get(CONTACT_OWNER_MOVER) or {}).get("contacts", []))
        if followed:
            summary += ngettext(
                "; %(count)d contact of the account went along",
                "; %(count)d contacts of the account went along",
                followed,
            ) % {"count": followed}
        timeline_add(
            subject=survivor,
            kind=MERGE_KIND,
            summary=summary,
            actor=user,
            data={"merge_id": merge.pk, "merged": [o.pk for o in losers]},
        )
        merge.journal = journal
        merge.survivor_before = survivor_before
        merge.survivor_version = survivor.version
        merge.save(update_fields=["journal", "survivor_before", "survivor_version", "updated_at"])
        _after_commit(model, reindex=[survivor.pk], remove=[o.pk for o in losers])
    return merge


def _sync_survivor_points(contact: Contact) -> None:
    """Lookup rows mirror the (unioned) lists: primary and order follow them; moved rows keep their ids."""
    order = {("email", p["value"]): i for i, p in enumerate(contact.emails or [])}
    order |= {("phone", p["value"]): i for i, p in enumerate(contact.phones or [])}
    primary = {("email", p["value"]) for p in contact.emails or [] if p.get("is_primary")}
    primary |= {("phone", p["value"]) for p in contact.phones or [] if p.get("is_primary")}
    rows = list(ContactPoint.objects.filter(contact=contact))
    changed = []
    for row in rows:
        key = (row.kind, row.value)
        want_primary, want_position = key in primary, order.get(key, row.position)
        if (row.is_primary, row.position) != (want_primary, want_position):
            row.is_primary, row.position = want_primary, want_position
            changed.append(row)
    # Clear primaries first: the one-primary constraint must hold after every statement.
    ContactPoint.objects.filter(pk__in=[r.pk for r in changed if not r.is_primary]).update(is_primary=False)
    ContactPoint.objects.bulk_update(changed, ["is_primary", "position"])


def _after_commit(model: type[models.Model], *, reindex: list[int], remove: list[int] = ()) -> None:  # type: ignore[assignment]
    from guanxi.core.search import search_reindex, search_remove
    from guanxi.customers.engagement import accounts_of
    from guanxi.customers.services.common import classify_after_commit
    from guanxi.customers.services.recompute import contact_last_interaction_refresh, engagement_refresh

    def index() -> None:
        if remove:
            search_remove(model, list(remove))
        search_reindex(model, list(reindex))

    transaction.on_commit(index, robust=True)
    if model is Account:
        classify_after_commit(list(reindex))
    # Notes and account links moved between the records: recount the engagement of their accounts,
    # and the people's latest follow-up.
    engagement_refresh(accounts_of(model, list(reindex)))
    if model is Contact:
        contact_last_interaction_refresh([*reindex, *remove])


def contact_merge(*, survivor: Any, others: Any, user: Any, fields: dict[str, Any] | None = None) -> Merge:
    """Merge one or two contacts into ``survivor``; ``fields`` maps a field to the id whose value wins."""
    return _record_merge(model=Contact, survivor_id=survivor, others=others, user=user, fields=fields)


def account_merge(*, survivor: Any, others: Any, user: Any, fields: dict[str, Any] | None = None) -> Merge:
    """Merge one or two accounts into ``survivor``; ``fields`` maps a field to the id whose value wins."""
    return _record_merge(model=Account, survivor_id=survivor, others=others, user=user, fields=fields)


def merge_visible(user: Any, merge_id: Any) -> Merge:
    """The merge, if the user may see its survivor (live or in the recycle bin); else NotFound."""
    merge = Merge.objects.filter(pk=merge_id).first()
    if merge is None:
        raise NotFound()
    model = model_for(merge.record_type)
    if not model.all_objects.filter(pk=merge.survivor_id).restrict(user, Action.VIEW).exists():
        raise NotFound()
    return merge


def merge_undo_problem(merge: Merge) -> str | None:
    """Why this merge cannot be undone safely now (None: it can)."""
    if merge.status == MergeStatus.UNDONE:
        return _("This merge has already been undone.")
    model = model_for(merge.record_type)
    survivor = model.all_objects.filter(pk=merge.survivor_id).first()
    if survivor is None:
        return _("The kept record was purged, so this merge can no longer be undone.")
    if survivor.deleted_at is not None:
        return _("The kept record is in the recycle bin; restore it first, then undo the merge.")
    present = set(model.all_objects.filter(pk__in=merge.loser_ids).values_list("pk", flat=True))
    purged = [str(pk) for pk in merge.loser_ids if pk not in present]
    if purged:
        return _("Merged record %(ids)s was purged from the recycle bin, so this merge can no longer be undone.") % {
            "ids": ", ".join(f"#{pk}" for pk in purged)
        }
    later = (
        MergedRecord.objects.filter(
            record_type=merge.record_type,
            record_id__in=[merge.survivor_id, *merge.loser_ids],
            merge__id__gt=merge.pk,
            merge__status=MergeStatus.DONE,
        )
        .values_list("merge_id", flat=True)
        .first()
    )
    if later is not None:
        return _("A later merge (#%(id)s) involves these records; undo that one first.") % {"id": later}
    if survivor.version != merge.survivor_version:
        return _("%(record)s was changed after the merge; undoing it now would lose those changes.") % {
            "record": str(survivor)
        }
    return None


@refusals_told
def merge_undo(*, merge_id: Any, user: Any) -> Merge:
    """Undo a merge: the survivor's earlier values, every moved row back, the merged records restored.

    Refused (409, with the reason) when it cannot be done safely; 403 without "change" on the
    survivor and "delete" on the merged records; by 撞单保护 as a restore is, when a colleague has
    added one of the merged records meanwhile (``guard.refuse_restored``).
    """
    with transaction.atomic():
        merge = merge_visible(user, merge_id)
        merge = Merge.objects.select_for_update().get(pk=merge.pk)
        model = model_for(merge.record_type)
        survivor = (
            core_services.record_lock(model, merge.survivor_id, user, Action.CHANGE)
            if (model.objects.filter(pk=merge.survivor_id).exists())
            else None
        )
        problem = merge_undo_problem(merge)
        if problem:
            raise Conflict(problem)
        assert survivor is not None
        losers = []
        for pk in merge.loser_ids:
            loser = model.all_objects.filter(pk=pk).restrict(user, Action.DELETE).select_for_update().first()
            if loser is None:
                raise PermissionDenied()
            losers.append(loser)
        held = [record for loser in losers for record in refuse_restored(user, model, loser)]
        core_services.tags_remember(survivor)
        before = snapshot(survivor)
        ctx = MergeContext(model=model, survivor=survivor, losers=losers, user=user, merge_id=merge.pk)
        merge_undo_all(ctx, merge.journal or {})
        columns = {f.attname: f for f in model._meta.concrete_fields}
        for column, value in (merge.survivor_before or {}).items():
            field = columns[column]
            setattr(survivor, column, None if value is None else field.to_python(value))
        survivor.version += 1
        survivor.save()
        if model is Contact:
            for record in (survivor, *losers):
                _sync_survivor_points(record)
        core_services.tags_remember(survivor)
        changelog_record(
            actor=user,
            obj=survivor,
            action=ChangeAction.UNMERGE,
            before={**before, "merged": merge.loser_ids},
            after={**snapshot(survivor), "merged": None},
        )
        for loser in losers:
            loser_before = snapshot(loser)
            if loser.deleted_at is not None:
                loser.deleted_at = None
                loser.deleted_by = None
            loser.version += 1
            loser.save(update_fields=["deleted_at", "deleted_by", "version", "updated_at"])
            changelog_record(
                actor=user,
                obj=loser,
                action=ChangeAction.UNMERGE,
                before={**loser_before, "merged_into": merge.survivor_id},
                after={**snapshot(loser), "merged_into": None},
            )
            timeline_add(
                subject=loser,
                kind=UNMERGE_KIND,
                summary=_("Merge into %(record)s undone") % {"record": f"{survivor} (#{survivor.pk})"},
                actor=user,
                data={"merge_id": merge.pk},
            )
        timeline_add(
            subject=survivor,
            kind=UNMERGE_KIND,
            summary=_("Merge with %(records)s undone") % {"records": ", ".join(f"{o} (#{o.pk})" for o in losers)},
            actor=user,
            data={"merge_id": merge.pk},
        )
        # An earlier merge into one of these records could be undone before this one; it still can.
        for record in (survivor, *losers):
            version = (merge.versions_before or {}).get(str(record.pk))
            if version is not None:
                Merge.objects.filter(
                    record_type=merge.record_type,
                    survivor_id=record.pk,
                    status=MergeStatus.DONE,
                    survivor_version=version,
                ).exclude(pk=merge.pk).update(survivor_version=record.version)
        merge.status = MergeStatus.UNDONE
        merge.undone_at = timezone.now()
        merge.undone_by = user
        merge.save(update_fields=["status", "undone_at", "undone_by", "updated_at"])
        _after_commit(model, reindex=[survivor.pk, *(o.pk for o in losers)])
        held_saved(user, model, held)
    return merge


# --- possible duplicates ---------------------------------------------------------------------------------


def candidate_visible(user: Any, candidate_id: Any) -> DuplicateCandidate:
    """A pair the user may see: both records visible to them; else NotFound."""
    candidate = DuplicateCandidate.objects.filter(pk=candidate_id).first()
    if candidate is None:
        raise NotFound()
    model = model_for(candidate.record_type)
    ids = [candidate.low_id, candidate.high_id]
    if restricted(model, user, Action.VIEW).filter(pk__in=ids).count() != 2:
        raise NotFound()
    return candidate


def duplicate_dismiss(*, candidate_id: Any, user: Any) -> DuplicateCandidate:
    """Mark a pair "not a duplicate" (needs "change" on both records); detection never reopens it."""
    with transaction.atomic():
        candidate = candidate_visible(user, candidate_id)
        candidate = DuplicateCandidate.objects.select_for_update().get(pk=candidate.pk)
        model = model_for(candidate.record_type)
        ids = [candidate.low_id, candidate.high_id]
        if restricted(model, user, Action.CHANGE).filter(pk__in=ids).count() != 2:
            raise PermissionDenied()
        if candidate.status != DuplicateStatus.OPEN:
            raise Conflict(_("This pair is no longer waiting for review."))
        before = {"status": candidate.status, "resolved_by": None}
        candidate.status = DuplicateStatus.DISMISSED
        candidate.resolved_at = timezone.now()
        candidate.resolved_by = user
        candidate.save(update_fields=["status", "resolved_at", "resolved_by"])
        changelog_record(
            actor=user,
            obj=candidate,
            action=ChangeAction.UPDATE,
            before=before,
            after={"status": candidate.status, "resolved_by": user.pk},
        )
    return candidate


# --- movers of the customer tables -----------------------------------------------------------------------


def _move_points(ctx: MergeContext) -> Any:
    """A merged contact's emails and phones move to the survivor (not primary there); twins are dropped."""
    if ctx.model is not Contact:
        return None
    taken = set(ContactPoint.objects.filter(contact_id=ctx.survivor.pk).values_list("kind", "value"))
    moved: dict[str, list[int]] = {}
    dropped: list[dict[str, Any]] = []
    primary: list[int] = []
    for loser in ctx.loser_ids:
        ids = []
        for row in ContactPoint.objects.filter(contact_id=loser).order_by("kind", "position", "id"):
            if (row.kind, row.value) in taken:
                dropped.append(row_data(row))
                row.delete()
                continue
            taken.add((row.kind, row.value))
            ids.append(row.pk)
            if row.is_primary:
                primary.append(row.pk)
        if ids:
            ContactPoint.objects.filter(pk__in=ids).update(is_primary=False, contact_id=ctx.survivor.pk)
            moved[str(loser)] = ids
    if not moved and not dropped:
        return None
    return {"moved": moved, "dropped": dropped, "primary": primary}


def _unmove_points(ctx: MergeContext, journal: Any) -> None:
    for loser, ids in (journal.get("moved") or {}).items():
        ContactPoint.objects.filter(pk__in=ids).update(contact_id=int(loser), is_primary=False)
    ContactPoint.objects.filter(pk__in=journal.get("primary") or []).update(is_primary=True)
    row_restore(ContactPoint, journal.get("dropped") or [])


def _move_links_of_contact(ctx: MergeContext) -> Any:
    """A merged contact's account links move to the survivor; a link the survivor has already is dropped.

    The survivor keeps its primary account; a moved link stops being primary if the survivor has one.
    """
    if ctx.model is not Contact:
        return None
    survivor = ctx.survivor.pk
    links = {link.account_id: link for link in AccountContact.objects.filter(contact_id=survivor)}
    has_primary = any(link.is_primary for link in links.values())
    moved: dict[str, list[int]] = {}
    dropped: list[dict[str, Any]] = []
    unflagged: list[int] = []
    for loser in ctx.loser_ids:
        ids = []
        for link in AccountContact.objects.filter(contact_id=loser).order_by("-is_primary", "id"):
            if link.account_id in links:
                dropped.append(row_data(link))
                link.delete()
                continue
            if link.is_primary and has_primary:
                unflagged.append(link.pk)
            has_primary = has_primary or link.is_primary
            links[link.account_id] = link
            ids.append(link.pk)
        if ids:
            AccountContact.objects.filter(pk__in=[i for i in ids if i in unflagged]).update(is_primary=False)
            AccountContact.objects.filter(pk__in=ids).update(contact_id=survivor)
            moved[str(loser)] = ids
    if not moved and not dropped:
        return None
    return {"moved": moved, "dropped": dropped, "unflagged": unflagged}


def _unmove_links_of_contact(ctx: MergeContext, journal: Any) -> None:
    for loser, ids in (journal.get("moved") or {}).items():
        AccountContact.objects.filter(pk__in=ids).update(contact_id=int(loser))
    AccountContact.objects.filter(pk__in=journal.get("unflagged") or []).update(is_primary=True)
    row_restore(AccountContact, journal.get("dropped") or [])


def _move_links_of_account(ctx: MergeContext) -> Any:
    """Contacts at a merged account move to the survivor; a contact at both keeps the survivor's link
    (made primary if the dropped one was the contact's primary)."""
    if ctx.model is not Account:
        return None
    survivor = ctx.survivor.pk
    links = {link.contact_id: link for link in AccountContact.objects.filter(account_id=survivor)}
    moved: dict[str, list[int]] = {}
    dropped: list[dict[str, Any]] = []
    flagged: list[int] = []
    for loser in ctx.loser_ids:
        ids = []
        for link in AccountContact.objects.filter(account_id=loser).order_by("id"):
            twin = links.get(link.contact_id)
            if twin is None:
                links[link.contact_id] = link
                ids.append(link.pk)
                continue
            dropped.append(row_data(link))
            link.delete()
            if link.is_primary and not twin.is_primary:
                twin.is_primary = True
                AccountContact.objects.filter(pk=twin.pk).update(is_primary=True)
                flagged.append(twin.pk)
        if ids:
            AccountContact.objects.filter(pk__in=ids).update(account_id=survivor)
            moved[str(loser)] = ids
    if not moved and not dropped:
        return None
    return {"moved": moved, "dropped": dropped, "flagged": flagged}


def _unmove_links_of_account(ctx: MergeContext, journal: Any) -> None:
    for loser, ids in (journal.get("moved") or {}).items():
        AccountContact.objects.filter(pk__in=ids).update(account_id=int(loser))
    AccountContact.objects.filter(pk__in=journal.get("flagged") or []).update(is_primary=False)
    row_restore(AccountContact, journal.get("dropped") or [])


def _contacts_follow_owner(ctx: MergeContext) -> Any:
    """The merged company's people go to its owner, as when an account changes hands
    (``accounts._contacts_follow``): contacts whose primary account is now the survivor and whom an
    owner of one of the merged accounts held move to the survivor's owner and team, when the user
    may change and assign them. Runs after the links moved; the journal keeps each contact's owner,
    team and new version, and undo gives back those not changed since."""
    if ctx.model is not Account:
        return None
    survivor: Any = ctx.survivor
    owner_id = ctx.values.get("owner_id", survivor.owner_id)
    team_id = ctx.values.get("team_id", survivor.team_id)
    previous = {survivor.owner_id, *(getattr(loser, "owner_id", None) for loser in ctx.losers)} - {owner_id, None}
    if owner_id is None or not previous:
        return None
    from guanxi.customers.services.accounts import contacts_held_at

    moved = []
    for contact in contacts_held_at(survivor, previous, ctx.user).select_for_update().order_by("pk"):
        moved.append([contact.pk, contact.owner_id, contact.team_id])
        _set_owner(contact, owner_id, team_id, ctx.user)
        moved[-1].append(contact.version)
    return {"contacts": moved} if moved else None


def _contacts_unfollow_owner(ctx: MergeContext, journal: Any) -> None:
    rows = {pk: (owner, team, version) for pk, owner, team, version in journal.get("contacts") or []}
    for contact in Contact.objects.filter(pk__in=rows).select_for_update().order_by("pk"):
        owner_id, team_id, version = rows[contact.pk]
        if contact.version == version:  # else changed since the merge: its new owner stays
            _set_owner(contact, owner_id, team_id, ctx.user)


def _set_owner(contact: Contact, owner_id: Any, team_id: Any, user: Any) -> None:
    """A new owner and team for a locked contact: a new version and a change-log entry."""
    before = snapshot(contact)
    contact.owner_id, contact.team_id = owner_id, team_id
    contact.version += 1
    contact.save(update_fields=["owner", "team", "version", "updated_at"])
    changelog_record(actor=user, obj=contact, action=ChangeAction.UPDATE, before=before, after=snapshot(contact))


def _move_candidates(ctx: MergeContext) -> Any:
    """Pairs inside the merge are settled ("merged"); a merged record's other pairs become the survivor's."""
    record_type = record_type_of(ctx.model)
    survivor = int(ctx.survivor.pk)
    merged = {survivor, *ctx.loser_ids}
    rows = list(
        DuplicateCandidate.objects.filter(record_type=record_type, low_id__in=merged)
        | DuplicateCandidate.objects.filter(record_type=record_type, high_id__in=merged)
    )
    settled: list[dict[str, Any]] = []
    moved: list[dict[str, Any]] = []
    dropped: list[dict[str, Any]] = []
    existing = {(r.low_id, r.high_id) for r in rows}
    now = timezone.now()
    for row in rows:
        if row.low_id in merged and row.high_id in merged:
            settled.append({"id": row.pk, "status": row.status, "merge": row.merge_id})
            DuplicateCandidate.objects.filter(pk=row.pk).update(
                status=DuplicateStatus.MERGED, merge_id=ctx.merge_id, resolved_at=now, resolved_by=ctx.user
            )
            continue
        if row.low_id != survivor and row.high_id != survivor and (row.low_id in merged or row.high_id in merged):
            other = row.high_id if row.low_id in merged else row.low_id
            low, high = min(survivor, other), max(survivor, other)
            if (low, high) in existing or DuplicateCandidate.objects.filter(
                record_type=record_type, low_id=low, high_id=high
            ).exists():
                dropped.append(row_data(row))
                row.delete()
            else:
                moved.append({"id": row.pk, "low": row.low_id, "high": row.high_id})
                DuplicateCandidate.objects.filter(pk=row.pk).update(low_id=low, high_id=high)
                existing.add((low, high))
    if not settled and not moved and not dropped:
        return None
    return {"settled": settled, "moved": moved, "dropped": dropped}


def _unmove_candidates(ctx: MergeContext, journal: Any) -> None:
    for item in journal.get("settled") or []:
        DuplicateCandidate.objects.filter(pk=item["id"]).update(
            status=item["status"], merge_id=item["merge"], resolved_at=None, resolved_by=None
        )
    for item in journal.get("moved") or []:
        DuplicateCandidate.objects.filter(pk=item["id"]).update(low_id=item["low"], high_id=item["high"])
    row_restore(DuplicateCandidate, journal.get("dropped") or [])


def _move_relations(ctx: MergeContext) -> Any:
    """A merged record's relations (people's, companies') become the survivor's; one that would relate
    the survivor to itself, or repeat one the survivor has, is dropped (and put back by undo)."""
    from guanxi.customers.relations import relation_type
    from guanxi.customers.services.relations import stored_pair

    relations = relation_type(ctx.model)
    table = relations.table
    merged = set(ctx.loser_ids)
    survivor = int(ctx.survivor.pk)
    everyone = [survivor, *merged]
    rows = list(table.objects.filter(Q(first_id__in=everyone) | Q(second_id__in=everyone)).order_by("id"))
    kept = {(r.first_id, r.second_id, r.kind) for r in rows if r.first_id not in merged and r.second_id not in merged}
    moved, dropped = [], []
    for relation in rows:
        if relation.first_id not in merged and relation.second_id not in merged:
            continue
        first = survivor if relation.first_id in merged else relation.first_id
        second = survivor if relation.second_id in merged else relation.second_id
        key = (*stored_pair(first, second, relation.kind, relations), relation.kind) if first != second else None
        if key is None or key in kept:
            dropped.append(row_data(relation))
            relation.delete()
            continue
        kept.add(key)
        moved.append({"id": relation.pk, "first": relation.first_id, "second": relation.second_id})
        table.objects.filter(pk=relation.pk).update(first_id=key[0], second_id=key[1])
    return {"moved": moved, "dropped": dropped} if moved or dropped else None


def _unmove_relations(ctx: MergeContext, journal: Any) -> None:
    from guanxi.customers.relations import relation_type

    table = relation_type(ctx.model).table
    for row in journal.get("moved") or []:
        table.objects.filter(pk=row["id"]).update(first_id=row["first"], second_id=row["second"])
    row_restore(table, journal.get("dropped") or [])


def _relations_mover(model: type[Any], table: type[Any], key: str) -> Mover:
    return Mover(
        key=key,
        move=_move_relations,
        undo=_unmove_relations,
        applies_to=lambda m: m is model,
        count=lambda m, pks: table.objects.filter(Q(first_id__in=pks) | Q(second_id__in=pks)).count(),
    )


def register_customer_movers() -> None:
    """The customer tables that point at contacts and accounts (called from the app's ``ready``)."""
    register_mover(
        Mover(
            key="customers.contactpoint",
            move=_move_points,
            undo=_unmove_points,
            applies_to=lambda m: m is Contact,
            count=lambda m, pks: ContactPoint.objects.filter(contact_id__in=pks).count(),
        )
    )
    register_mover(
        Mover(
            key="customers.accountcontact.contact",
            move=_move_links_of_contact,
            undo=_unmove_links_of_contact,
            applies_to=lambda m: m is Contact,
            count=lambda m, pks: AccountContact.objects.filter(contact_id__in=pks).count(),
        )
    )
    register_mover(
        Mover(
            key="customers.accountcontact.account",
            move=_move_links_of_account,
            undo=_unmove_links_of_account,
            applies_to=lambda m: m is Account,
            count=lambda m, pks: AccountContact.objects.filter(account_id__in=pks).count(),
        )
    )
    register_mover(
        Mover(
            key=CONTACT_OWNER_MOVER,
            move=_contacts_follow_owner,
            undo=_contacts_unfollow_owner,
            applies_to=lambda m: m is Account,
        )
    )
    register_mover(fk_mover(Account, "parent", key="customers.account.parent", exclude_merged=True))
    register_mover(_relations_mover(Contact, ContactRelation, "customers.contactrelation"))
    register_mover(_relations_mover(Account, AccountRelation, "customers.accountrelation"))
    # The people who reported to a merged person report to the one they became.
    register_mover(fk_mover(Contact, "reports_to", key="customers.contact.reports_to", exclude_merged=True))
    # Who of ours knows a merged person knows the one they became (a user who knew both: one row kept).
    register_mover(fk_mover(Acquaintance, "contact", key="customers.acquaintance.contact", unique_with=("user_id",)))
    # The pool's statistics count a merged company's moves under the company it became.
    register_mover(fk_mover(PoolMove, "account", key="customers.poolmove.account"))
    register_mover(
        Mover(
            key="customers.duplicatecandidate",
            move=_move_candidates,
            undo=_unmove_candidates,
            applies_to=lambda m: m in (Account, Contact),
        )
    )
