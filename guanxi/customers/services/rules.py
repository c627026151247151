"""Writes on tier rules and ideal customer profiles (each change queues a recomputation after commit),
on assignment rules (which apply to accounts created later) and on pool rules (which the nightly
run applies)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from guanxi.core import services as core_services
from guanxi.core.choices import Action
from guanxi.core.errors import FieldErrors
from guanxi.customers import classification
from guanxi.customers.models import AssignmentRule, CustomerProfile, PoolRule, TierRule
from guanxi.customers.services.common import classify_after_commit, raise_if, strip_texts


def _prepare_setting(data: dict[str, Any], *, json_field: str, creating: bool, tiers: bool = False) -> dict[str, Any]:
    data = dict(data)
    errors: dict[str, list[str]] = {}
    strip_texts(data, "name")
    if (creating or "name" in data) and not data.get("name"):
        errors["name"] = [_("Give it a name.")]
    raise_if(errors)
    if json_field in data:
        data[json_field] = classification.clean_criteria(data[json_field], field=json_field, tiers=tiers)
    return data


def tier_rule_create(*, model: type[TierRule] = TierRule, user: Any, data: dict[str, Any]) -> TierRule:
    """Add a tier rule; every account's tier is recomputed after commit."""
    data = _prepare_setting(data, json_field="conditions", creating=True)
    with transaction.atomic():
        rule = core_services.record_create(model=TierRule, user=user, data=data)
        classify_after_commit(None, fit=False)
    return rule


def tier_rule_update(
    *, model: type[TierRule] = TierRule, pk: Any, user: Any, data: dict[str, Any], expected_version: int | None = None
) -> TierRule:
    """Change a tier rule; every account's tier is recomputed after commit."""
    data = _prepare_setting(data, json_field="conditions", creating=False)
    with transaction.atomic():
        rule = core_services.record_update(
            model=TierRule, pk=pk, user=user, data=data, expected_version=expected_version
        )
        classify_after_commit(None, fit=False)
    return rule


def tier_rule_delete(
    *, model: type[TierRule] = TierRule, pk: Any, user: Any, expected_version: int | None = None
) -> TierRule:
    """Delete a tier rule (the change log keeps it); tiers are recomputed after commit."""
    with transaction.atomic():
        rule = core_services.record_delete(model=TierRule, pk=pk, user=user, expected_version=expected_version)
        classify_after_commit(None, fit=False)
    return rule


def _prepare_profile(data: dict[str, Any], *, current: CustomerProfile | None) -> dict[str, Any]:
    data = _prepare_setting(data, json_field="criteria", creating=current is None)
    if "name" in data:
        clash = CustomerProfile.objects.filter(name__iexact=data["name"])
        if current is not None:
            clash = clash.exclude(pk=current.pk)
        if clash.exists():
            raise FieldErrors({"name": [_("A profile with this name already exists.")]})
    if "weights" in data:
        criteria = data.get("criteria", current.criteria if current else {})
        data["weights"] = classification.clean_weights(data["weights"], criteria)
    return data


def customer_profile_create(
    *, model: type[CustomerProfile] = CustomerProfile, user: Any, data: dict[str, Any]
) -> CustomerProfile:
    """Add an ideal customer profile; fit scores are recomputed after commit."""
    data = _prepare_profile(data, current=None)
    with transaction.atomic():
        profile = core_services.record_create(model=CustomerProfile, user=user, data=data)
        classify_after_commit(None, tiers=False)
    return profile


def customer_profile_update(
    *,
    model: type[CustomerProfile] = CustomerProfile,
    pk: Any,
    user: Any,
    data: dict[str, Any],
    expected_version: int | None = None,
) -> CustomerProfile:
    """Change an ideal customer profile; fit scores are recomputed after commit."""
    with transaction.atomic():
        current = core_services.record_lock(CustomerProfile, pk, user, Action.CHANGE)
        data = _prepare_profile(data, current=current)
        profile = core_services.record_update(
            model=CustomerProfile, pk=pk, user=user, data=data, expected_version=expected_version, locked=current
        )
        classify_after_commit(None, tiers=False)
    return profile


def customer_profile_delete(
    *, model: type[CustomerProfile] = CustomerProfile, pk: Any, user: Any, expected_version: int | None = None
) -> CustomerProfile:
    """Delete an ideal customer profile; fit scores are recomputed after commit."""
    with transaction.atomic():
        profile = core_services.record_delete(
            model=CustomerProfile, pk=pk, user=user, expected_version=expected_version
        )
        classify_after_commit(None, tiers=False)
    return profile


def _prepare_assignment_rule(data: dict[str, Any], *, current: AssignmentRule | None) -> dict[str, Any]:
    from guanxi.identity.models import Team, User

    # Assignment rules may name tiers: they run after tier rules have had their say.
    data = _prepare_setting(data, json_field="conditions", creating=current is None, tiers=True)

    def chosen(name: str) -> Any:
        if name in data or f"{name}_id" in data:
            value: Any = data.get(name, data.get(f"{name}_id"))
            return getattr(value, "pk", value)
        return getattr(current, f"{name}_id", None) if current else None

    assignee, team = chosen("assignee"), chosen("team")
    errors: dict[str, list[str]] = {}
    if assignee is None and team is None:
        errors["assignee"] = [_("Choose the salesperson who gets the accounts, or a team that takes them in turn.")]
    elif assignee is not None and not User.objects.filter(pk=assignee, is_active=True).exists():
        errors["assignee"] = [_("This user is deactivated; choose an active salesperson.")]
    elif assignee is None and not User.objects.filter(team_id=team, is_active=True).exists():
        if Team.objects.filter(pk=team).exists():
            errors["team"] = [_("This team has no active members; add members first or choose a salesperson.")]
        else:
            errors["team"] = [_("No team with id %(id)s.") % {"id": team}]
    raise_if(errors)
    return data


def assignment_rule_create(
    *, model: type[AssignmentRule] = AssignmentRule, user: Any, data: dict[str, Any]
) -> AssignmentRule:
    """Add an assignment rule; it applies to accounts created from then on."""
    data = _prepare_assignment_rule(data, current=None)
    return core_services.record_create(model=AssignmentRule, user=user, data=data)


def assignment_rule_update(
    *,
    model: type[AssignmentRule] = AssignmentRule,
    pk: Any,
    user: Any,
    data: dict[str, Any],
    expected_version: int | None = None,
) -> AssignmentRule:
    """Change an assignment rule (accounts already assigned keep their owner)."""
    return _checked_update(AssignmentRule, _prepare_assignment_rule, pk, user, data, expected_version)


def _checked_update(
    model: type[Any], prepare: Any, pk: Any, user: Any, data: dict[str, Any], expected_version: int | None
) -> Any:
    """Update a rule whose check reads its stored values (``prepare(data, current=…)``), on the row
    locked for the update."""
    with transaction.atomic():
        current = core_services.record_lock(model, pk, user, Action.CHANGE)
        data = prepare(data, current=current)
        return core_services.record_update(
            model=model, pk=pk, user=user, data=data, expected_version=expected_version, locked=current
        )


def assignment_rule_delete(
    *, model: type[AssignmentRule] = AssignmentRule, pk: Any, user: Any, expected_version: int | None = None
) -> AssignmentRule:
    """Delete an assignment rule (the change log keeps it)."""
    return core_services.record_delete(model=AssignmentRule, pk=pk, user=user, expected_version=expected_version)


#: A new pool rule's warning days unless it says otherwise (the model's default).
WARN_DAYS = PoolRule._meta.get_field("warn_days").default


def _prepare_pool_rule(data: dict[str, Any], *, current: PoolRule | None) -> dict[str, Any]:
    # Pool rules may name tiers, like assignment rules: "C and D prospects go back after 30 days".
    data = _prepare_setting(data, json_field="conditions", creating=current is None, tiers=True)
    days = data.get("idle_days", current.idle_days if current else None)
    if days is None or not 1 <= days <= 3650:
        raise FieldErrors({"idle_days": [_("Give the number of days without a follow-up: from 1 to 3650.")]})
    warn = data.get("warn_days")
    if warn is None:  # not given: the rule's own, or for a new rule a week (a short rule: from day one)
        warn = data["warn_days"] = current.warn_days if current else min(WARN_DAYS, days - 1)
    if warn is None or not 0 <= warn < days:
        raise FieldErrors(
            {
                "warn_days": [
                    _("Warn from 0 days up to one day fewer than the days without a follow-up (%(days)d).")
                    % {"days": days}
                ]
            }
        )
    return data


def pool_rule_create(*, model: type[PoolRule] = PoolRule, user: Any, data: dict[str, Any]) -> PoolRule:
    """Add a pool rule; the next nightly run applies it."""
    data = _prepare_pool_rule(data, current=None)
    return core_services.record_create(model=PoolRule, user=user, data=data)


def pool_rule_update(
    *, model: type[PoolRule] = PoolRule, pk: Any, user: Any, data: dict[str, Any], expected_version: int | None = None
) -> PoolRule:
    """Change a pool rule (accounts already in the pool stay there)."""
    return _checked_update(PoolRule, _prepare_pool_rule, pk, user, data, expected_version)


def pool_rule_delete(
    *, model: type[PoolRule] = PoolRule, pk: Any, user: Any, expected_version: int | None = None
) -> PoolRule:
    """Delete a pool rule (the change log keeps it)."""
    return core_services.record_delete(model=PoolRule, pk=pk, user=user, expected_version=expected_version)


def criteria_follow_tag_rename(sender: Any, instance: Any, raw: bool = False, **kwargs: Any) -> None:
    """``pre_save`` of a tag: a new name reaches the rules and profiles that ask for the old one, so
    they go on matching the same accounts (criteria hold tag names, as the API reads and writes them).

    A plain UPDATE: the criteria mean what they meant, so no new version and no recomputation. The
    rules and profiles are a few settings rows, read whole rather than by a JSON lookup that differs
    between the engines."""
    if raw or instance.pk is None:
        return
    old = type(instance).objects.filter(pk=instance.pk).values_list("name", flat=True).first()
    if old is None or old == instance.name:
        return
    for model, field in ((TierRule, "conditions"), (AssignmentRule, "conditions"), (CustomerProfile, "criteria")):
        for pk, criteria in model.objects.values_list("pk", field):
            names = (criteria or {}).get(classification.TAGS_KEY) or []
            if old in names:
                # Each name once: the new name may already be there (a deleted tag's, now reused).
                renamed = list(dict.fromkeys(instance.name if name == old else name for name in names))
                model.objects.filter(pk=pk).update(**{field: {**criteria, classification.TAGS_KEY: renamed}})
