"""Writes on accounts: create and update, the parent hierarchy, hand-set tiers, timeline entries."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from guanxi.core import services as core_services
from guanxi.core.choices import Action
from guanxi.core.db import service_atomic
from guanxi.core.errors import FieldErrors
from guanxi.core.permissions import restrict_queryset, restricted
from guanxi.core.timeline import timeline_add
from guanxi.customers import classification
from guanxi.customers.assignment import Assigner, Assignment
from guanxi.customers.choices import LifecycleStage, Tier, TimelineKind, size_band_for
from guanxi.customers.duplicates import detect_after_commit
from guanxi.customers.guard import held_saved, new_keys, refusals_told, refuse_held
from guanxi.customers.models import Account, AccountContact, AssignmentRule, Contact
from guanxi.customers.normalize import DEFAULT_REGION, normalize_registration_number, normalize_website
from guanxi.customers.services.common import (
    CLASSIFYING_FIELDS,
    MAX_HIERARCHY_DEPTH,
    classify_after_commit,
    clean_place,
    raise_if,
    strip_texts,
    user_names,
)


def prepare_account_data(data: dict[str, Any], *, current: Account | None, user: Any) -> dict[str, Any]:
    """The account's input tidied and checked (FieldErrors names each field) with what follows from
    it: the region of a new province, the size band of a head count, a hand-set tier locked."""
    data = dict(data)
    errors: dict[str, list[str]] = {}
    strip_texts(data, "name", "legal_name", "region")
    if "name" in data and not data["name"]:
        errors["name"] = [_("Give the account a name.")]
    if "website" in data:
        try:
            data["website"] = normalize_website(data["website"] or "")
        except ValueError as exc:
            errors["website"] = [str(exc)]
    if "currency" in data:
        currency = (data["currency"] or "").strip().upper()
        if len(currency) != 3 or not currency.isalpha():
            errors["currency"] = [_("Use a three-letter currency code such as CNY or USD.")]
        data["currency"] = currency
    region = clean_place(data, current, errors)
    # Checked as the account's country writes it: when the number or the country changes (a company
    # moved to China must carry a valid 统一社会信用代码).
    country = data.get("country", current.country if current else DEFAULT_REGION)
    number = data.get("registration_number", current.registration_number if current else "")
    if "registration_number" in data or (current is not None and number and country != current.country):
        try:
            data["registration_number"] = normalize_registration_number(number or "", country)
        except ValueError as exc:
            errors["registration_number"] = [str(exc)]
    if region and "region" not in data and not (current and current.region):
        data["region"] = region  # territories usually follow the 大区 of the province
    if data.get("employee_count") is not None and "size" not in data:
        data["size"] = size_band_for(data["employee_count"])
    if data.get("annual_revenue") is not None and data["annual_revenue"] < 0:
        errors["annual_revenue"] = [_("Use 0 (not known) or more.")]
    tier_changed = "tier" in data and data["tier"] != (current.tier if current else "")
    if tier_changed and "tier_locked" not in data:
        # A tier set by hand sticks until someone unlocks it; clearing the tier hands it back to the rules.
        data["tier_locked"] = bool(data["tier"])
    if data.get("tier_locked") and (tier_changed or not (current and current.tier_locked)):
        data["tier_reason"] = _("Set by hand by %(user)s.") % {"user": str(user)}
    elif data.get("tier_locked") is False and current and current.tier_locked:
        data["tier_reason"] = ""
    raise_if(errors)
    return data


def _check_parent(user: Any, account_pk: Any, parent_id: Any) -> None:
    """The parent must be an account the user can see, and not the account or one below it."""
    if parent_id is None:
        return
    if not Account.objects.restrict(user, Action.VIEW).filter(pk=parent_id).exists():
        raise FieldErrors({"parent": [_("No account with id %(id)s.") % {"id": parent_id}]})
    if account_pk is not None and str(parent_id) == str(account_pk):
        raise FieldErrors({"parent": [_("An account cannot be its own parent.")]})
    current, depth = parent_id, 0
    while current is not None:
        if account_pk is not None and str(current) == str(account_pk):
            raise FieldErrors({"parent": [_("This parent is already below this account; that would make a loop.")]})
        depth += 1
        if depth > MAX_HIERARCHY_DEPTH:
            raise FieldErrors(
                {"parent": [_("Account groups are at most %(depth)s levels deep.") % {"depth": MAX_HIERARCHY_DEPTH}]}
            )
        # Locking each ancestor makes two crossing moves (A under B, B under A) wait for each other.
        current = Account.all_objects.select_for_update().filter(pk=current).values_list("parent_id", flat=True).first()


def _assign(data: dict[str, Any], tags: Iterable[str] | None) -> Assignment | None:
    """Fill in the owner and team from the assignment rules when ``data`` names no owner (a rule may
    ask for the tags the account is created with)."""
    if any(data.get(name) is not None for name in ("owner", "owner_id")):
        return None
    for name in ("owner", "owner_id"):
        data.pop(name, None)
    assigner = Assigner()
    if not assigner:
        return None
    assignment = assigner.choose(classification.with_tags(Account(**data), tags))
    if assignment is not None:
        data.pop("team", None)
        data["owner_id"], data["team_id"] = assignment.owner_id, assignment.team_id
        assigner.save()
    return assignment


class AccountsByRules:
    """The bulk action "assign by rules" (按规则分配) on existing accounts, e.g. after territories or
    teams changed: each account goes to the owner its first matching rule names now.

    An owner who already fits that rule (its salesperson, or an active member of its team) keeps the
    account and takes nobody's turn; an account no rule matches keeps its owner. One instance serves
    one transaction of the bulk action (the rules read once); ``save`` writes the turns taken.

    ``changing`` chooses the owners of a chunk at once, in its order (each team's turn taken as one
    ``assign`` after another would take it), and remembers them: ``assign`` one by one and the
    set-based write (``bulk_owner.accounts_assign_bulk``, reading ``chosen``) then give the same."""

    def __init__(self, user: Any):
        self.user = user
        self.assigner = Assigner()
        if not self.assigner:
            raise FieldErrors(
                {"action": [_("No assignment rule is switched on: add one under Settings → Assignment rules.")]}
            )
        self._chosen: dict[Any, Assignment | None] = {}

    def changing(self, pks: list[Any]) -> list[Any]:
        """Of these accounts, those the rules give a new owner, chosen now in this order in one read
        (the tags too, when a rule asks for them). An account gone meanwhile is left to ``assign``."""
        fresh = [pk for pk in pks if pk not in self._chosen]
        accounts = Account.objects.in_bulk(fresh)
        if classification.asks_for_tags(rule.conditions for rule in self.assigner.rules):
            classification.load_tags(list(accounts.values()))
        for pk in fresh:
            if pk in accounts:
                self._chosen[pk] = self.assigner.reassign(accounts[pk])
        return [pk for pk in pks if self._chosen.get(pk, True) is not None]

    def chosen(self, pk: Any) -> Assignment | None:
        """The assignment ``changing`` chose for account ``pk`` (None: none was)."""
        return self._chosen.get(pk)

    def assign(self, pk: Any) -> bool:
        """Give account ``pk`` to the owner the rules name; False when it stays as it is."""
        chosen = pk in self._chosen
        assignment = self._chosen[pk] if chosen else self.assigner.reassign(Account.objects.get(pk=pk))
        if assignment is None:
            return False
        data = {"owner_id": assignment.owner_id, "team_id": assignment.team_id}
        account_update(pk=pk, user=self.user, data=data, rule=assignment.rule)
        return True

    def save(self) -> None:
        self.assigner.save()

    def describe(self) -> list[str]:
        """The rules in the order they are tried, in words, for the confirmation page."""
        return [
            _("%(rule)s: %(conditions)s → %(target)s")
            % {"rule": rule.name, "conditions": rule.get_conditions_display(), "target": rule.get_target_display()}
            for rule in self.assigner.rules
        ]


@refusals_told
def account_create(
    *,
    model: type[Account] = Account,
    user: Any,
    data: dict[str, Any],
    tags: Iterable[str] | None = None,
    custom_fields: dict[str, Any] | None = None,
) -> Account:
    """Add an account; its tier and fit score follow from the rules and profiles once committed.

    Without an owner in ``data`` (or with an empty one), the assignment rules choose it; when none
    matches, the account is the user's, as before rules existed."""
    data = prepare_account_data(data, current=None, user=user)
    held = refuse_held(
        user, Account, name=data.get("name") or "", registration_number=data.get("registration_number") or ""
    )
    tags = list(tags) if tags is not None else None  # read twice: by the rules and by record_create
    with transaction.atomic():
        _check_parent(user, None, data.get("parent_id"))
        assignment = _assign(data, tags)
        account = core_services.record_create(
            model=Account, user=user, data=data, tags=tags, custom_fields=custom_fields, by_rule=assignment is not None
        )
        summary = _("Account created")
        if assignment is not None:
            summary = _("Account created and assigned to %(owner)s by the rule “%(rule)s”") % {
                "owner": user_names(assignment.owner_id)[assignment.owner_id],
                "rule": assignment.rule.name,
            }
        timeline_add(subject=account, kind=TimelineKind.CREATED, summary=summary, actor=user)
        classify_after_commit([account.pk], tiers=not account.tier_locked)
        detect_after_commit(Account, [account.pk])
        held_saved(user, Account, held)
    return account


@refusals_told
def account_update(
    *,
    model: type[Account] = Account,
    pk: Any,
    user: Any,
    data: dict[str, Any],
    expected_version: int | None = None,
    tags: Iterable[str] | None = None,
    custom_fields: dict[str, Any] | None = None,
    rule: AssignmentRule | None = None,
) -> Account:
    """Change an account: refuses parent loops, locks a hand-set tier, puts notable changes on the timeline.

    A new owner takes along the contacts the previous owner held here (``_contacts_follow``).
    ``rule``: the assignment rule that chose the new owner (the timeline names it)."""
    with service_atomic():
        current = core_services.record_lock(Account, pk, user, Action.CHANGE)
        core_services.check_version(current, expected_version)
        data = prepare_account_data(data, current=current, user=user)
        derived = _owner_changes(data, current)
        keys = {"name": data.get("name"), "registration_number": data.get("registration_number")}
        held = refuse_held(user, Account, exclude=current.pk, **new_keys(current, **keys))
        if "parent_id" in data and data["parent_id"] != current.parent_id:
            _check_parent(user, current.pk, data["parent_id"])
        before = {
            name: getattr(current, name)
            for name in (*CLASSIFYING_FIELDS, "owner_id", "parent_id", "tier", "name", "website")
        }
        before_locked = current.tier_locked
        # Rules and profiles may ask for tags (classification by needs): read the old ones first.
        tags_before = set(classification.tag_names_of(current)) if tags is not None else None
        account = core_services.record_update(
            model=Account,
            pk=pk,
            user=user,
            data=data,
            expected_version=expected_version,
            tags=tags,
            custom_fields=custom_fields,
            derived=derived,
            locked=current,
        )
        moved = _contacts_follow(account, before["owner_id"], user) if before["owner_id"] != account.owner_id else None
        _account_timeline(account, before, user, rule, moved)
        if before["name"] != account.name or before["website"] != account.website:
            detect_after_commit(Account, [account.pk])
        reclassify = any(before[name] != getattr(account, name) for name in CLASSIFYING_FIELDS) or (
            tags_before is not None and tags_before != set(classification.tag_names_of(account))
        )
        if reclassify or (before_locked and not account.tier_locked):
            classify_after_commit([account.pk], tiers=not account.tier_locked)
        held_saved(user, Account, held)
    return account


def _owner_changes(data: dict[str, Any], current: Account) -> dict[str, Any]:
    """What a new owner changes besides (``record_update``'s ``derived``): the pool rules' count of days
    starts again (and the date a rule would take the account back is gone); one given an account in
    the customer pool (by hand, in bulk, by the rules) takes it out of the pool."""
    if not any(name in data for name in ("owner", "owner_id")):
        return {}
    owner = data.get("owner_id", data.get("owner"))
    owner_id = getattr(owner, "pk", owner)
    if owner_id == current.owner_id:
        return {}
    derived: dict[str, Any] = {"owner_since": timezone.now() if owner_id is not None else None, "pool_due_at": None}
    if owner_id is not None and current.pooled_at is not None:
        derived["pooled_at"], derived["pool_reason"] = None, ""
    return derived


#: Contacts moved with an account inside the request; more go to a background bulk job. Each is a
#: service call of about 25 queries: 200 took 1.9 s on SQLite and 4.0 s on PostgreSQL here.
FOLLOW_IN_REQUEST = 100


def contacts_held_at(account: Account, owner_ids: Iterable[Any], user: Any) -> models.QuerySet:
    """The contacts whose primary account is ``account`` and whom one of ``owner_ids`` holds, as far
    as ``user`` may change and assign them: the people who go along when the company changes hands
    (here, and in an account merge)."""
    held = restricted(Contact, user, Action.CHANGE).filter(
        owner_id__in=list(owner_ids), account_links__account=account, account_links__is_primary=True
    )
    return restrict_queryset(held, user, Action.ASSIGN)


def primary_companies(contact_pks: list[Any]) -> dict[Any, tuple[Any, Any]]:
    """Of these contacts, those with a primary account: contact id -> (that account's id, its owner's
    id now), in one query. A handover to several colleagues gives such a person to whichever of them
    holds or takes their company (``identity.handover``)."""
    rows = AccountContact.objects.filter(
        contact_id__in=contact_pks, is_primary=True, account__deleted_at__isnull=True
    ).values_list("contact_id", "account_id", "account__owner_id")
    return {contact: (account, owner) for contact, account, owner in rows}


def contacts_going_with(user: Any, source: Any, account_pks: list[Any]) -> int:
    """How many contacts go along (``_contacts_follow``) when these accounts leave ``source``: those
    ``source`` holds whose primary account is one of them, as far as ``user`` may change and assign
    them (``contacts_held_at``, for many accounts in one count)."""
    held = restricted(Contact, user, Action.CHANGE).filter(
        owner_id=source.pk, account_links__account_id__in=account_pks, account_links__is_primary=True
    )
    return restrict_queryset(held, user, Action.ASSIGN).count()


def _contacts_follow(account: Account, previous_owner_id: Any, user: Any) -> tuple[int, bool]:
    """Move the account's contacts that the previous owner held to the new owner (and team).

    Only contacts whose primary account this is: a person at two companies stays with the owner of
    the other. Contacts someone else holds, or that the user may not change or assign, stay too.
    Without this, a new owner whose role reaches only their own records would get the company and
    not its people. Each goes through ``contact_update`` (its checks, timeline and change log), in
    this transaction, or past ``FOLLOW_IN_REQUEST`` in a bulk job queued when it commits.
    Returns (how many, whether they went to a job)."""
    from guanxi.customers.services.contacts import contact_update

    if previous_owner_id is None:
        return 0, False
    ids = list(contacts_held_at(account, [previous_owner_id], user).order_by("pk").values_list("pk", flat=True))
    if len(ids) > FOLLOW_IN_REQUEST:
        follow_job(user, account.owner_id, account.team_id, ids)()
        return len(ids), True
    for pk in ids:
        contact_update(pk=pk, user=user, data={"owner_id": account.owner_id, "team_id": account.team_id})
    return len(ids), False


def follow_job(user: Any, owner_id: Any, team_id: Any, ids: list[Any]) -> Callable[[], Any]:
    """The bulk job that moves a company's people along when they are more than ``FOLLOW_IN_REQUEST``
    (an edit of their owner and team): checked now (``bulk_plan`` raises FieldErrors), started by
    calling what this returns, so a bulk owner change can refuse the account before it writes."""
    from guanxi.core.bulk import bulk_plan, bulk_resource
    from guanxi.core.jobs import job_start

    contacts = bulk_resource("contacts")
    data = {"owner": owner_id, "team": team_id}
    plan = bulk_plan(resource=contacts, user=user, action="update", data=data)
    params = {"type": contacts.path, **plan.raw, "ids": ids}
    return functools.partial(job_start, kind="bulk", user=user, object_type=contacts.object_type, params=params)


def owner_summary(
    names: dict[Any, str], before: Any, after: Any, moved: tuple[int, bool] | None, rule: Any = None
) -> str:
    """The timeline's words for an account's new owner: whose it was and is, the rule that chose them,
    and how many of its people went along (or move along in a background job)."""
    owners = {"old": names[before], "new": names[after]}
    summary = _("Owner: %(old)s → %(new)s") % owners
    if rule is not None:
        summary = _("Owner: %(old)s → %(new)s, by the rule “%(rule)s”") % {**owners, "rule": rule.name}
    count, queued = moved or (0, False)
    if queued:
        summary += ngettext(
            "; %(count)d contact of the account moves along in the background",
            "; %(count)d contacts of the account move along in the background",
            count,
        ) % {"count": count}
    elif count:
        summary += ngettext(
            "; %(count)d contact of the account went along", "; %(count)d contacts of the account went along", count
        ) % {"count": count}
    return summary


def _account_timeline(
    account: Account, before: dict[str, Any], user: Any, rule: AssignmentRule | None, moved: tuple[int, bool] | None
) -> None:
    stage = lifecycle_entry(account, before["lifecycle_stage"])
    if stage is not None:
        _subject, kind, summary, data = stage
        timeline_add(subject=account, kind=kind, summary=summary, actor=user, data=data)
    if before["owner_id"] != account.owner_id:
        names = user_names(before["owner_id"], account.owner_id)
        summary = owner_summary(names, before["owner_id"], account.owner_id, moved, rule)
        timeline_add(
            subject=account,
            kind=TimelineKind.OWNER,
            summary=summary,
            actor=user,
            data={"from": before["owner_id"], "to": account.owner_id},
        )
    if before["parent_id"] != account.parent_id:
        parents: dict[Any, str] = dict(
            Account.all_objects.filter(pk__in=[p for p in (before["parent_id"], account.parent_id) if p]).values_list(
                "pk", "name"
            )
        )
        timeline_add(
            subject=account,
            kind=TimelineKind.PARENT,
            summary=_("Parent account: %(old)s → %(new)s")
            % {"old": parents.get(before["parent_id"], "—"), "new": parents.get(account.parent_id, "—")},
            actor=user,
            data={"from": before["parent_id"], "to": account.parent_id},
        )
    tier = tier_entry(account, before["tier"])
    if tier is not None:
        _subject, kind, summary, data, body = tier
        timeline_add(subject=account, kind=kind, summary=summary, body=body, actor=user, data=data)


def lifecycle_entry(account: Account, before: str) -> tuple[Account, str, str, dict[str, Any]] | None:
    """The timeline entry of an account's new lifecycle stage (None: it has not changed), for
    ``timeline_add`` here and ``timeline_add_many`` in a bulk edit."""
    if before == account.lifecycle_stage:
        return None
    summary = _("Lifecycle stage: %(old)s → %(new)s") % {
        "old": LifecycleStage(before).label,
        "new": LifecycleStage(account.lifecycle_stage).label,
    }
    return account, TimelineKind.LIFECYCLE_STAGE, summary, {"from": before, "to": account.lifecycle_stage}


def tier_entry(account: Account, before: str) -> tuple[Account, str, str, dict[str, Any], str] | None:
    """The timeline entry of an account's tier changed by a person (None: it has not changed), with
    why (its body), as ``lifecycle_entry``."""
    if before == account.tier:
        return None
    data = {"from": before, "to": account.tier, "by_hand": account.tier_locked}
    return account, TimelineKind.TIER, tier_change_summary(before, account.tier), data, account.tier_reason


def _tier_label(tier: str) -> str:
    return str(Tier(tier).label) if tier else _("no tier")


def tier_change_summary(old: str, new: str) -> str:
    return _("Tier: %(old)s → %(new)s") % {"old": _tier_label(old), "new": _tier_label(new)}
