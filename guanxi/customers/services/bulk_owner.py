"""The bulk action "owner" (转移负责人) on accounts and contacts, set-based: what one
``account_update`` / ``contact_update`` call with ``data={"owner_id": X}`` per record writes, in a
few statements for a whole chunk (``core.bulk`` calls these through ``Resource.bulk_owner``).

Hand-overs (离职交接) and the lists' bulk bar change owners more than anything else; one service
call an account (with its people) took 7 ms on SQLite and 14 on PostgreSQL, so 500 accounts 3.5 s
and 6.9 s (``bench/_bulk_probe.py 500``, medians of three); this way 0.35 s and 0.56 s.

What an owner change does through the single path, and so here:

* refusals: the owner field read-only or hidden for the user (``record_update``'s frozen fields),
  the new owner's own checks (``_validate``), and for an account whose people go along, the
  same of the contacts' owner and team; none depends on the record, so each is asked once;
* the account row: owner, ``owner_since`` now, ``pool_due_at`` cleared, out of the customer pool
  (``pooled_at``, ``pool_reason``) when it was in it, version + 1, ``updated_at`` (``_owner_changes``);
* the contacts whose primary account it is and whom the previous owner held, as far as the user
  may change and assign them (``contacts_held_at``), go to the new owner and the account's team;
  past ``FOLLOW_IN_REQUEST`` for one account, in a bulk job as ``_contacts_follow`` queues it;
* a change-log row per record, the ``snapshot`` diff, through ``changelog_records``, whose hooks
  tell the followers, the previous owner and the new one (notifications) as single writes do;
* an "owner" timeline entry per account (naming how many people went along) and per contact;
* the search index of every record written.

The bulk action "assign by rules" (按规则分配) is owner changes too: ``AccountsByRules.changing``
chooses each account's owner, team and rule as ``assign`` one by one would (the teams' turns in the
same order), and ``accounts_assign_bulk`` writes each group of one owner, team and rule as above,
the team set as well, the timeline naming the rule (``account_update(data={"owner_id", "team_id"},
rule=...)``). 500 accounts given by the demo's rules to a team in turn took 4.6 s on SQLite and
9.7 s on PostgreSQL one by one, 0.47 s and 0.93 s this way (``bench/_pool_probe.py 500``).

An owner change asks nothing else of the single path: classification (none of
``CLASSIFYING_FIELDS``), duplicate detection (name, website, points), 撞单保护 (names, numbers,
points), tags, custom fields, follows and shares are untouched, so none runs here.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from django.db import models
from django.db.models import Case, F, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.core.audit import changelog_records, diff, snapshot
from guanxi.core.choices import Action, ChangeAction
from guanxi.core.errors import GuanxiError, NotFound
from guanxi.core.permissions import restrict_queryset, restricted
from guanxi.core.search import search_reindex
from guanxi.core.services import Refused, record_bulk_check, record_lock_many, records_checked
from guanxi.core.timeline import timeline_add_many
from guanxi.customers.choices import TimelineKind
from guanxi.customers.models import Account, AssignmentRule, Contact
from guanxi.customers.services.accounts import FOLLOW_IN_REQUEST, AccountsByRules, follow_job, owner_summary
from guanxi.customers.services.common import user_names


def accounts_owner_bulk(*, user: Any, pks: list[Any], owner_id: int) -> Refused:
    """Give these accounts (each one the user may change and assign, whose owner is not
    ``owner_id``) to ``owner_id``, their people going along, as ``account_update`` would one by one."""
    return _give_accounts(user, pks, owner_id)


def accounts_assign_bulk(*, user: Any, pks: list[Any], by_rules: AccountsByRules) -> Refused:
    """The bulk action "assign by rules" (``Resource.bulk_assign``): each of these accounts (each one
    the user may change and assign, that the rules give a new owner: ``by_rules.changing`` chose
    them, taking the teams' turns in the single path's order) to the owner and team its rule names,
    as ``account_update(data={"owner_id", "team_id"}, rule=...)`` would one by one. The chunk goes
    in groups of one owner, team and rule, each written as a bulk owner change is: as many groups
    as a team has members, not as there are accounts."""
    groups: dict[tuple[Any, Any, Any], list[Any]] = defaultdict(list)
    rules: dict[Any, AssignmentRule] = {}
    refused: Refused = {}
    for pk in pks:
        assignment = by_rules.chosen(pk)
        if assignment is None:  # gone since it was chosen (``changing``)
            refused[pk] = NotFound()
            continue
        rules[assignment.rule.pk] = assignment.rule
        groups[(assignment.owner_id, assignment.team_id, assignment.rule.pk)].append(pk)
    for (owner_id, team_id, rule_pk), group in groups.items():
        refused |= _give_accounts(user, group, owner_id, team_id=team_id, rule=rules[rule_pk])
    return refused


#: ``_give_accounts``' team when the owner change leaves it as it is.
_KEEP: Any = object()


def _give_accounts(
    user: Any, pks: list[Any], owner_id: int, *, team_id: Any = _KEEP, rule: AssignmentRule | None = None
) -> Refused:
    """The accounts to ``owner_id`` (and to ``team_id`` when given), their people going along to the
    owner and the account's team after the change; ``rule``: the assignment rule that chose them
    (the timeline names it)."""
    now = timezone.now()
    data: dict[str, Any] = {"owner_id": owner_id}
    if team_id is not _KEEP:
        data["team_id"] = team_id
    accounts, refused = records_checked(
        Account,
        user,
        pks,
        data=data,
        changed=_OWNER_FIELDS | ({"team"} if team_id is not _KEEP else set()),
        apply=lambda a: _apply_owner(a, owner_id, now, team_id),
    )
    if not accounts:
        return refused
    going = _people_going(user, accounts)
    team_of = {a.pk: a.team_id if team_id is _KEEP else team_id for a in accounts}  # the team after the change
    jobs: dict[Any, Callable[[], Any]] = {}
    for account in accounts:
        try:
            if len(going.get(account.pk, ())) > FOLLOW_IN_REQUEST:
                jobs[account.pk] = follow_job(user, owner_id, team_of[account.pk], going[account.pk])
        except GuanxiError as exc:
            refused[account.pk] = exc
    moving = [pk for a in accounts if a.pk not in jobs for pk in going.get(a.pk, ())]
    contacts = record_lock_many(Contact, moving, user, Action.CHANGE)[0] if moving else []
    refused |= _contacts_refused(user, accounts, going, jobs, contacts, owner_id, team_of)
    accounts = [a for a in accounts if a.pk not in refused]
    if not accounts:
        return refused
    previous = _write_accounts(user, accounts, owner_id, now, team_id)
    # Each person goes to the new owner and to their company's team (``_contacts_follow``).
    staying = {a.pk: team_of[a.pk] for a in accounts if a.pk not in jobs}
    new_team = {pk: staying[account_pk] for account_pk, pks in going.items() if account_pk in staying for pk in pks}
    contacts = [c for c in contacts if c.pk in new_team]
    _write_contacts(user, contacts, owner_id, {c.pk: new_team[c.pk] for c in contacts}, now)
    names = user_names(owner_id, *previous.values())
    entries = []
    for account in accounts:
        moved = (len(going.get(account.pk, ())), account.pk in jobs)
        summary = owner_summary(names, previous[account.pk], owner_id, moved, rule)
        data = {"from": previous[account.pk], "to": owner_id}
        entries.append((account, TimelineKind.OWNER, summary, data))
        if account.pk in jobs:
            jobs[account.pk]()
    timeline_add_many(entries=entries, actor=user)
    return refused


def contacts_owner_bulk(*, user: Any, pks: list[Any], owner_id: int) -> Refused:
    """Give these contacts (each one the user may change and assign, whose owner is not
    ``owner_id``) to ``owner_id``, as ``contact_update`` would one by one; their team stays."""
    contacts, refused = records_checked(
        Contact,
        user,
        pks,
        data={"owner_id": owner_id},
        changed={"owner"},
        apply=lambda c: setattr(c, "owner_id", owner_id),
    )
    if not contacts:
        return refused
    _write_contacts(user, contacts, owner_id, None, timezone.now())
    return refused


#: The fields an account's new owner changes (``_owner_changes``), checked once for all.
_OWNER_FIELDS = {"owner", "owner_since", "pool_due_at", "pooled_at", "pool_reason"}


def _apply_owner(account: Account, owner_id: int, now: Any, team_id: Any = _KEEP) -> None:
    """``_owner_changes`` on the object: a new (never empty) owner (and team, when given), the pool
    rules' count of days starting again, and out of the customer pool."""
    account.owner_id = owner_id
    if team_id is not _KEEP:
        account.team_id = team_id
    account.owner_since, account.pool_due_at = now, None
    if account.pooled_at is not None:
        account.pooled_at, account.pool_reason = None, ""


def _people_going(user: Any, accounts: list[Account]) -> dict[Any, list[Any]]:
    """Account id -> the ids of the contacts that go along (``contacts_held_at`` of each account
    with its previous owner), in one query for them all. A pooled account has no previous owner,
    so nobody goes along."""
    owners = {a.pk: a.owner_id for a in accounts if a.owner_id is not None}
    if not owners:
        return {}
    held = restrict_queryset(restricted(Contact, user, Action.CHANGE), user, Action.ASSIGN).filter(
        owner_id__in=set(owners.values()),
        account_links__account_id__in=list(owners),
        account_links__is_primary=True,
    )
    going: dict[Any, list[Any]] = defaultdict(list)
    for pk, account_id, owner in held.order_by("pk").values_list("pk", "account_links__account_id", "owner_id"):
        if owners[account_id] == owner:
            going[account_id].append(pk)
    return going


def _contacts_refused(
    user: Any,
    accounts: list[Account],
    going: dict[Any, list[Any]],
    jobs: dict[Any, Any],
    contacts: list[Contact],
    owner_id: int,
    team_of: dict[Any, Any],
) -> Refused:
    """The accounts whose people would refuse the change in ``contact_update`` (their owner or team
    read-only for the user, or a value its checks refuse): the account's update fails with them.
    Asked once per team the people go to; the checks depend on nothing else."""
    by_team: dict[Any, list[Any]] = defaultdict(list)
    for account in accounts:
        if going.get(account.pk) and account.pk not in jobs:
            by_team[team_of[account.pk]].append(account.pk)
    if not by_team or not contacts:
        return {}
    refused: Refused = {}
    sample = copy.copy(contacts[0])
    for team_id, account_pks in by_team.items():
        try:
            sample.owner_id, sample.team_id = owner_id, team_id
            data = {"owner_id": owner_id, "team_id": team_id}
            record_bulk_check(model=Contact, user=user, data=data, sample=sample, changed={"owner", "team"})
        except GuanxiError as exc:
            refused |= dict.fromkeys(account_pks, exc)
    return refused


def _write_accounts(user: Any, accounts: list[Account], owner_id: int, now: Any, team_id: Any) -> dict[Any, Any]:
    """One UPDATE for the accounts, their change-log rows, their search documents; returns each
    account's previous owner."""
    previous, rows, changed = {}, [], defaultdict(list)
    pooled = [a.pk for a in accounts if a.pooled_at is not None]
    for account in accounts:
        previous[account.pk] = account.owner_id
        before = snapshot(account)
        _apply_owner(account, owner_id, now, team_id)
        account.version += 1
        account.updated_at = now
        after = snapshot(account)
        rows.append((account.pk, str(account), diff(before, after)))
        changed[frozenset(k for k in after if before.get(k) != after[k])].append(account.pk)
    team: dict[str, Any] = {} if team_id is _KEEP else {"team_id": team_id}
    Account.all_objects.filter(pk__in=list(previous)).update(
        owner_id=owner_id,
        **team,
        owner_since=now,
        pool_due_at=None,
        pooled_at=None,  # none has it after: those in the pool leave it, the others had none
        pool_reason=Case(When(pk__in=pooled, then=Value("")), default=F("pool_reason")) if pooled else F("pool_reason"),
        version=F("version") + 1,
        updated_at=now,
    )
    changelog_records(actor=user, model=Account, action=ChangeAction.UPDATE, rows=rows)
    for fields, pks in changed.items():
        search_reindex(Account, pks, changed=fields)
    return previous


def _write_contacts(user: Any, contacts: list[Contact], owner_id: int, teams: dict[Any, Any] | None, now: Any) -> None:
    """The contacts to ``owner_id`` (and, when ``teams`` names one per contact, that team): one
    UPDATE, their change-log rows, "owner" timeline entries and search documents."""
    if not contacts:
        return
    previous, rows, entries, changed = {}, [], [], defaultdict(list)
    for contact in contacts:
        previous[contact.pk] = contact.owner_id
        before = snapshot(contact)
        contact.owner_id = owner_id
        if teams is not None:
            contact.team_id = teams[contact.pk]
        contact.version += 1
        contact.updated_at = now
        after = snapshot(contact)
        rows.append((contact.pk, str(contact), diff(before, after)))
        changed[frozenset(k for k in after if before.get(k) != after[k])].append(contact.pk)
    values: dict[str, Any] = {"owner_id": owner_id, "version": F("version") + 1, "updated_at": now}
    if teams is not None:
        values["team_id"] = _team_case(teams)
    Contact.all_objects.filter(pk__in=list(previous)).update(**values)
    changelog_records(actor=user, model=Contact, action=ChangeAction.UPDATE, rows=rows)
    names = user_names(owner_id, *previous.values())
    for contact in contacts:
        summary = _("Owner: %(old)s → %(new)s") % {"old": names[previous[contact.pk]], "new": names[owner_id]}
        entries.append((contact, TimelineKind.OWNER, summary, {"from": previous[contact.pk], "to": owner_id}))
    timeline_add_many(entries=entries, actor=user)
    for fields, pks in changed.items():
        search_reindex(Contact, pks, changed=fields)


def _team_case(teams: dict[Any, Any]) -> Any:
    """Each contact's new team in one UPDATE: a CASE by the team's contacts (few teams, many people)."""
    by_team: dict[Any, list[Any]] = defaultdict(list)
    for pk, team_id in teams.items():
        by_team[team_id].append(pk)
    if len(by_team) == 1:
        return next(iter(by_team))
    whens = [When(pk__in=pks, then=Value(team_id)) for team_id, pks in by_team.items()]
    return Case(*whens, default=F("team_id"), output_field=models.BigIntegerField())
