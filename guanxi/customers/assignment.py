"""Assignment rules (分配规则): choosing the owner of a new account that nobody assigned.

``Assigner`` loads the active rules once and answers for many accounts (a form, an API call or a
whole import batch), so an import pays one query per batch, not one per row. A team rule hands
accounts to the team's active members in turn, or to the member who owns the fewest accounts
(counted once per transaction); the turn is kept on the rule row, which is locked
(``select_for_update``) the first time a rule is used in a transaction, so two imports or two
requests at once do not give the same salesperson the same turn. ``save`` writes the turns back,
inside the caller's transaction.

``reassign(account)`` answers for an account that already has an owner (the bulk action "assign by
rules", after territories or teams changed): an owner who already fits the matching rule keeps the
account and takes nobody's turn.

A rule may ask for tiers. An account that has no tier yet (a new one: the tier job runs after it is
saved) is matched on the tier the active tier rules give it now, which is the tier the job will
store; an account whose tier was set by hand, or already computed, is matched on that.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count

from guanxi.customers.choices import TeamMethod
from guanxi.customers.classification import active_tier_rules, evaluate, tier_for
from guanxi.customers.models import Account, AssignmentRule, TierRule


@dataclass(frozen=True)
class Assignment:
    owner_id: int
    team_id: int | None
    rule: AssignmentRule


class Assigner:
    """The active rules in order; ``choose(account)`` gives the ``Assignment`` of the first that matches."""

    def __init__(self) -> None:
        self.rules = list(
            AssignmentRule.objects.filter(is_active=True).select_related("assignee", "team").order_by("position", "id")
        )
        self._members: dict[int, list[int]] = {}  # rule id -> its team's active members, by id
        self._turn: dict[int, int | None] = {}  # rule id -> the last member given an account
        self._loads: dict[int, dict[int, int]] = {}  # rule id -> accounts per member ("least loaded")
        self._tier_rules: list[TierRule] | None = None  # read when a rule first asks for a tier

    def __bool__(self) -> bool:
        return bool(self.rules)

    def choose(self, account: Any) -> Assignment | None:
        """``account`` is an ``Account`` or anything with its attributes (an import row's values)."""
        return self._first(account, keep_fitting=False)

    def reassign(self, account: Any) -> Assignment | None:
        """The new owner the rules give an existing account, or None: no rule matches, or its owner
        already fits the first matching rule (is its salesperson, or an active member of its team)."""
        return self._first(account, keep_fitting=True)

    def _first(self, account: Any, *, keep_fitting: bool) -> Assignment | None:
        tiered: Any = None
        for rule in self.rules:
            conditions = rule.conditions or {}
            if conditions.get("tiers"):
                tiered = tiered or self._with_tier(account)
            if not all(r.matched for r in evaluate(conditions, tiered or account)):
                continue
            if keep_fitting and self._fits(rule, account.owner_id):
                return None
            picked = self._pick(rule)
            if picked is None:
                continue  # nobody to give it to (the salesperson left, the team is empty): the next rule
            return Assignment(picked[0], picked[1], rule)
        return None

    def _with_tier(self, account: Any) -> Any:
        """``account`` as a tier criterion should see it: with the tier the tier rules give it when it
        has none yet (and none was set by hand)."""
        if getattr(account, "tier", "") or getattr(account, "tier_locked", False):
            return account
        if self._tier_rules is None:
            self._tier_rules = active_tier_rules()
        return _Tiered(account, tier_for(account, self._tier_rules)[0])

    def _fits(self, rule: AssignmentRule, owner_id: int | None) -> bool:
        """Whether ``_pick`` could have given the account to this owner (same precedence)."""
        if owner_id is None:
            return False
        if rule.assignee is not None and rule.assignee.is_active:
            return rule.assignee.pk == owner_id
        return rule.team is not None and rule.team.deleted_at is None and owner_id in self._team_members(rule)

    def _pick(self, rule: AssignmentRule) -> tuple[int, int | None] | None:
        if rule.assignee is not None and rule.assignee.is_active:
            return rule.assignee.pk, rule.team_id or rule.assignee.team_id
        if rule.team is None or rule.team.deleted_at is not None:
            return None
        members = self._team_members(rule)
        if not members:
            return None
        if rule.pk not in self._turn:
            # Locked until the caller's transaction ends: the next request waits for this turn (and
            # counts the accounts this one gave, once it has committed).
            locked = AssignmentRule.objects.select_for_update().filter(pk=rule.pk)
            self._turn[rule.pk] = locked.values_list("last_assignee_id", flat=True).first()
        if rule.team_method == TeamMethod.LEAST_LOADED:
            load = self._load(rule, members)
            chosen = min(members, key=lambda pk: (load[pk], pk))
            load[chosen] += 1
        else:
            last = self._turn[rule.pk]
            # The first member after the last one given an account, or the first of all.
            chosen = next((pk for pk in members if last is None or pk > last), members[0])
        self._turn[rule.pk] = chosen
        return chosen, rule.team_id

    def _load(self, rule: AssignmentRule, members: list[int]) -> dict[int, int]:
        """Live accounts each member owns, counted once per transaction (after the rule's lock) and
        then kept up to date in memory as this ``Assigner`` gives accounts."""
        if rule.pk not in self._loads:
            counts = (
                Account.objects.filter(owner_id__in=members)
                .values("owner_id")
                .annotate(n=Count("id"))
                .values_list("owner_id", "n")
            )
            self._loads[rule.pk] = dict.fromkeys(members, 0) | dict(counts)
        return self._loads[rule.pk]

    def _team_members(self, rule: AssignmentRule) -> list[int]:
        from guanxi.identity.models import User

        if rule.pk not in self._members:
            users = User.objects.filter(team_id=rule.team_id, is_active=True).order_by("pk")
            self._members[rule.pk] = list(users.values_list("pk", flat=True))
        return self._members[rule.pk]

    def save(self) -> None:
        """Write the turns taken back to the rules (in the transaction that wrote the accounts)."""
        for rule_pk, last in self._turn.items():
            AssignmentRule.objects.filter(pk=rule_pk).update(last_assignee_id=last)


class _Tiered:
    """An account (or an import row's values) seen with a tier it has not stored yet."""

    def __init__(self, account: Any, tier: str):
        self._account = account
        self.tier = tier

    def __getattr__(self, name: str) -> Any:
        return getattr(self._account, name)
