"""Tier rules and ideal-customer-profile fit: checking criteria and evaluating them against an account.

Tier rules, assignment rules and profiles share one criteria vocabulary. ``clean_criteria`` validates
what an administrator sends; ``evaluate`` says, criterion by criterion, whether an account meets it
and why. Only assignment rules may name tiers: a tier is what tier rules compute, and a profile's fit
is meant to be read beside it.
Pure functions over already-loaded rows: the recompute jobs call them for thousands of accounts.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from guanxi.core.errors import FieldErrors
from guanxi.core.money import short_money
from guanxi.customers.choices import Industry, LifecycleStage, SizeBand, Tier
from guanxi.customers.models import Account, CustomerProfile, TierRule

# Criterion name -> the account attribute it reads (regions read region, province and city).
LIST_CRITERIA: dict[str, tuple[str, Any]] = {
    "industries": ("industry", Industry),
    "sizes": ("size", SizeBand),
    "lifecycle_stages": ("lifecycle_stage", LifecycleStage),
    "regions": ("region", None),
}
#: Criteria that only assignment rules take ("A-tier accounts to the senior team", seed 004 §3).
TIER_CRITERIA: dict[str, tuple[str, Any]] = {"tiers": ("tier", Tier)}
_EVERY_LIST = LIST_CRITERIA | TIER_CRITERIA
REVENUE_KEYS = ("min_annual_revenue", "max_annual_revenue")
#: Interactions in the last 90 days (``Account.engagement``, guanxi.customers.engagement), whole numbers.
ENGAGEMENT_KEYS = ("min_engagement", "max_engagement")
#: Tags, by name: the account meets it with any one of them. Classification by needs and interests
#: (seed 004 §3, 客户需求: "产品需求", "服务需求") is tags an administrator chose, which rules can ask for.
TAGS_KEY = "tags"
# Names used in explanations and profile weights.
CRITERIA = ("industries", "sizes", "lifecycle_stages", "regions", "tags", "annual_revenue", "engagement")


def _labels() -> dict[str, str]:
    return {
        "industries": _("Industry"),
        "sizes": _("Company size"),
        "lifecycle_stages": _("Lifecycle stage"),
        "regions": _("Region"),
        "tiers": _("Tier"),
        "tags": _("Tags"),
        "annual_revenue": _("Annual revenue"),
        "engagement": _("Interactions in 90 days"),
    }


def criterion_labels() -> dict[str, str]:
    """Each criterion's name in the active language (for forms and explanations)."""
    return _labels()


def clean_criteria(raw: Any, *, field: str, tiers: bool = False) -> dict[str, Any]:
    """Validate criteria JSON; errors name the key, e.g. ``conditions.sizes``. Returns a tidy copy.
    ``tiers``: the criteria may name tiers (assignment rules)."""
    lists = _EVERY_LIST if tiers else LIST_CRITERIA
    if raw in (None, ""):
        return {}
    if not isinstance(raw, dict):
        raise FieldErrors({field: [_('Send an object, e.g. {"sizes": ["large"], "min_annual_revenue": 1000000}.')]})
    errors: dict[str, list[str]] = {}
    clean: dict[str, Any] = {}
    for key, value in raw.items():
        where = f"{field}.{key}"
        if key in lists:
            _attr, choices = lists[key]
            if value in (None, []):
                continue
            if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
                errors[where] = [_("Send a list of values.")]
                continue
            values = [v.strip() for v in value]
            if choices is not None:
                bad = [v for v in values if v not in choices.values]
                if bad:
                    errors[where] = [
                        _("Unknown value %(bad)s; use: %(allowed)s.")
                        % {"bad": ", ".join(bad[:3]), "allowed": ", ".join(choices.values)}
                    ]
                    continue
            clean[key] = sorted(set(values), key=values.index)
        elif key == TAGS_KEY:
            if value in (None, []):
                continue
            names = _clean_tag_names(value)
            if names is None:
                errors[where] = [_("Send a list of tag names.")]
                continue
            unknown = _unknown_tags(names)
            if unknown:
                errors[where] = [
                    _("No tag is called %(bad)s: put it on an account first, or check the spelling.")
                    % {"bad": ", ".join(unknown[:3])}
                ]
                continue
            clean[key] = names
        elif key in REVENUE_KEYS:
            if value in (None, ""):
                continue
            try:
                amount = decimal.Decimal(str(value))
            except decimal.InvalidOperation:
                errors[where] = [_("Send an amount, e.g. 1000000.")]
                continue
            if not amount.is_finite() or amount < 0:
                errors[where] = [_("Send an amount of 0 or more.")]
                continue
            clean[key] = str(amount)
        elif key in ENGAGEMENT_KEYS:
            if value in (None, ""):
                continue
            try:
                count = int(str(value))
            except ValueError:
                errors[where] = [_("Send a whole number of interactions, e.g. 3.")]
                continue
            if count < 0:
                errors[where] = [_("Send a whole number of interactions, e.g. 3.")]
                continue
            clean[key] = count
        else:
            errors[where] = [
                _("Unknown criterion; use: %(allowed)s.")
                % {"allowed": ", ".join([*lists, TAGS_KEY, *REVENUE_KEYS, *ENGAGEMENT_KEYS])}
            ]
    both = not errors and {"min_annual_revenue", "max_annual_revenue"} <= set(clean)
    if both and decimal.Decimal(clean["min_annual_revenue"]) > decimal.Decimal(clean["max_annual_revenue"]):
        errors[f"{field}.max_annual_revenue"] = [_("The maximum is below the minimum.")]
    both = not errors and set(ENGAGEMENT_KEYS) <= set(clean)
    if both and clean["min_engagement"] > clean["max_engagement"]:
        errors[f"{field}.max_engagement"] = [_("The maximum is below the minimum.")]
    if errors:
        raise FieldErrors(errors)
    return clean


def _clean_tag_names(value: Any) -> list[str] | None:
    """The names, trimmed, each once, in the order given; None when it is not a list of names."""
    if not isinstance(value, list) or not all(isinstance(v, str) and 0 < len(v.strip()) <= 60 for v in value):
        return None
    return list(dict.fromkeys(v.strip() for v in value))


def _unknown_tags(names: list[str]) -> list[str]:
    from guanxi.core.models import Tag

    known = set(Tag.objects.filter(name__in=names).values_list("name", flat=True))
    return [name for name in names if name not in known]


def tag_names_of(account: Any) -> list[str]:
    """The account's tag names: as loaded (``load_tags``, ``with_tags``, a save with tags), else
    read now (``core.services.tags_remember``), once per account object."""
    if getattr(account, "_tag_names", None) is None:
        if getattr(account, "pk", None) is None:
            return []
        from guanxi.core.services import tags_remember

        tags_remember(account)
    return list(account._tag_names)


def with_tags(account: Any, names: Any) -> Any:
    """``account`` as the rules see it with ``names``, tags it does not have stored yet (a form's or
    an import row's, for the assignment rules)."""
    account._tag_names = sorted({str(name).strip() for name in names or () if name and str(name).strip()})
    return account


def load_tags(accounts: list[Any]) -> list[list[str]]:
    """Read the tags of many accounts in one query and keep them on each (``_tag_names``, which the
    change log's snapshot also reads)."""
    from guanxi.api.crud import tag_names_for

    found = tag_names_for(Account, [a.pk for a in accounts])
    for account in accounts:
        account._tag_names = found.get(account.pk, [])
    return [account._tag_names for account in accounts]


def asks_for_tags(criteria_sets: Iterable[dict[str, Any] | None]) -> bool:
    return any((criteria or {}).get(TAGS_KEY) for criteria in criteria_sets)


def clean_weights(raw: Any, criteria: dict[str, Any], *, field: str = "weights") -> dict[str, int]:
    """Points per criterion (whole numbers 0–100); criteria without a weight count 1."""
    if raw in (None, ""):
        return {}
    if not isinstance(raw, dict):
        raise FieldErrors({field: [_('Send an object, e.g. {"industries": 30, "sizes": 20}.')]})
    errors: dict[str, list[str]] = {}
    clean: dict[str, int] = {}
    for key, value in raw.items():
        if key not in CRITERIA:
            errors[f"{field}.{key}"] = [_("Unknown criterion; use: %(allowed)s.") % {"allowed": ", ".join(CRITERIA)}]
        elif isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
            errors[f"{field}.{key}"] = [_("Use a whole number from 0 to 100.")]
        else:
            clean[key] = value
    if errors:
        raise FieldErrors(errors)
    return clean


@dataclass(frozen=True)
class CriterionResult:
    criterion: str
    matched: bool
    expected: Any
    actual: Any
    detail: str

    def as_dict(self, weight: int | None = None) -> dict[str, Any]:
        data = {
            "criterion": self.criterion,
            "label": _labels()[self.criterion],
            "matched": self.matched,
            "expected": self.expected,
            "actual": self.actual,
            "detail": self.detail,
        }
        if weight is not None:
            data["weight"] = weight
            data["points"] = weight if self.matched else 0
        return data


def _money(value: Any) -> str:
    """至少 1000万 in Chinese, at least 10,000,000 in English (``core.money``)."""
    return short_money(value) or f"{decimal.Decimal(value):,.0f}"


def _choice_label(choices: Any, value: str) -> str:
    if choices is None:
        return value
    try:
        return str(choices(value).label)
    except ValueError:
        return value


def evaluate(criteria: dict[str, Any], account: Account) -> list[CriterionResult]:
    """Each criterion present in ``criteria``, checked against ``account``, with a sentence saying why."""
    results: list[CriterionResult] = []
    for key in ("tiers", "industries", "sizes", "lifecycle_stages", "regions"):
        wanted = criteria.get(key)
        if not wanted:
            continue
        attr, choices = _EVERY_LIST[key]
        label = _labels()[key]
        if key == "regions":
            places = [p for p in (account.region, account.province, account.city) if p]
            results.append(_any_of(key, wanted, places))
            continue
        wanted_text = ", ".join(_choice_label(choices, w) for w in wanted)
        value = getattr(account, attr) or ""
        matched = value in wanted
        if not value:
            detail = _("%(label)s is not recorded (wanted: %(wanted)s).") % {"label": label, "wanted": wanted_text}
        elif matched:
            detail = _("%(label)s %(value)s is one of: %(wanted)s.") % {
                "label": label,
                "value": _choice_label(choices, value),
                "wanted": wanted_text,
            }
        else:
            detail = _("%(label)s %(value)s is not one of: %(wanted)s.") % {
                "label": label,
                "value": _choice_label(choices, value),
                "wanted": wanted_text,
            }
        results.append(CriterionResult(key, matched, wanted, value, detail))
    if criteria.get(TAGS_KEY):
        results.append(_any_of(TAGS_KEY, criteria[TAGS_KEY], tag_names_of(account)))
    low, high = criteria.get("min_annual_revenue"), criteria.get("max_annual_revenue")
    if low is not None or high is not None:
        revenue = decimal.Decimal(account.annual_revenue or 0)
        label = _labels()["annual_revenue"]
        if low is not None and high is not None:
            wanted_text = _("%(low)s to %(high)s") % {"low": _money(low), "high": _money(high)}
        elif low is not None:
            wanted_text = _("at least %(low)s") % {"low": _money(low)}
        else:
            wanted_text = _("at most %(high)s") % {"high": _money(high)}
        expected = {"min": low, "max": high}
        if revenue <= 0:
            # 0 means "not known"; an unknown revenue meets no revenue criterion.
            results.append(
                CriterionResult(
                    "annual_revenue",
                    False,
                    expected,
                    None,
                    _("%(label)s is not recorded (wanted: %(wanted)s).") % {"label": label, "wanted": wanted_text},
                )
            )
        else:
            matched = (low is None or revenue >= decimal.Decimal(low)) and (
                high is None or revenue <= decimal.Decimal(high)
            )
            template = (
                _("%(label)s %(value)s %(currency)s is within %(wanted)s.")
                if matched
                else _("%(label)s %(value)s %(currency)s is outside %(wanted)s.")
            )
            detail = template % {
                "label": label,
                "value": _money(revenue),
                "currency": account.currency,
                "wanted": wanted_text,
            }
            results.append(CriterionResult("annual_revenue", matched, expected, str(revenue), detail))
    low, high = criteria.get("min_engagement"), criteria.get("max_engagement")
    if low is not None or high is not None:
        count = int(getattr(account, "engagement", 0) or 0)
        wanted_text = _count_range(low, high)
        matched = (low is None or count >= low) and (high is None or count <= high)
        template = (
            _("%(count)s interactions in 90 days, within %(wanted)s.")
            if matched
            else _("%(count)s interactions in 90 days, outside %(wanted)s.")
        )
        detail = template % {"count": count, "wanted": wanted_text}
        results.append(CriterionResult("engagement", matched, {"min": low, "max": high}, count, detail))
    return results


def _any_of(key: str, wanted: list[str], values: list[str]) -> CriterionResult:
    """A criterion that any one of several values the account has meets: its places (region,
    province, city) or its tags."""
    label = _labels()[key]
    wanted_text = ", ".join(wanted)
    hit = next((value for value in values if value in wanted), None)
    if hit:
        detail = _("%(label)s %(value)s is one of: %(wanted)s.") % {"label": label, "value": hit, "wanted": wanted_text}
    elif values:
        detail = _("%(label)s %(value)s is not one of: %(wanted)s.") % {
            "label": label,
            "value": " / ".join(values),
            "wanted": wanted_text,
        }
    else:
        detail = _("%(label)s is not recorded (wanted: %(wanted)s).") % {"label": label, "wanted": wanted_text}
    return CriterionResult(key, hit is not None, wanted, values, detail)


def _count_range(low: int | None, high: int | None) -> str:
    if low is not None and high is not None:
        return _("%(low)s to %(high)s") % {"low": low, "high": high}
    if low is not None:
        return _("at least %(low)s") % {"low": low}
    return _("at most %(high)s") % {"high": high}


def describe(criteria: dict[str, Any] | None) -> str:
    """The criteria in words for pages, e.g. "Region: 华南, 深圳市; Annual revenue: at least 1,000,000"."""
    criteria = criteria or {}
    parts = []
    for key in ("regions", "tiers", "industries", "sizes", "lifecycle_stages"):
        if criteria.get(key):
            _attr, choices = _EVERY_LIST[key]
            values = ", ".join(_choice_label(choices, v) for v in criteria[key])
            parts.append(_("%(label)s: %(values)s") % {"label": _labels()[key], "values": values})
    if criteria.get(TAGS_KEY):
        tags = ", ".join(criteria[TAGS_KEY])
        parts.append(_("%(label)s: %(values)s") % {"label": _labels()[TAGS_KEY], "values": tags})
    low, high = criteria.get("min_annual_revenue"), criteria.get("max_annual_revenue")
    if low is not None and high is not None:
        revenue = _("%(low)s to %(high)s") % {"low": _money(low), "high": _money(high)}
    elif low is not None:
        revenue = _("at least %(low)s") % {"low": _money(low)}
    elif high is not None:
        revenue = _("at most %(high)s") % {"high": _money(high)}
    else:
        revenue = ""
    if revenue:
        parts.append(_("%(label)s: %(values)s") % {"label": _labels()["annual_revenue"], "values": revenue})
    low, high = criteria.get("min_engagement"), criteria.get("max_engagement")
    if low is not None or high is not None:
        parts.append(_("%(label)s: %(values)s") % {"label": _labels()["engagement"], "values": _count_range(low, high)})
    return pgettext("between criteria", "; ").join(parts) or _("Every account")


def describe_weights(criteria: dict[str, Any] | None, weights: dict[str, Any] | None) -> str:
    """A profile's points per criterion in words, e.g. "Industry 40; Region 30; Tags 1", for each
    criterion it sets (one without a weight counts 1, as ``account_fit_score`` counts it)."""
    criteria, weights = criteria or {}, weights or {}
    return describe_points({name: weights.get(name, 1) for name in CRITERIA if _sets(criteria, name)})


def describe_points(points: dict[str, Any]) -> str:
    """Points per criterion in words, in the order of ``CRITERIA`` ("Industry 40; Region 30")."""
    labels = _labels()
    parts = [
        _("%(label)s %(points)s") % {"label": labels[name], "points": points[name]}
        for name in CRITERIA
        if name in points
    ]
    return pgettext("between criteria", "; ").join(parts) or _("No criteria")


def _sets(criteria: dict[str, Any], name: str) -> bool:
    if name == "annual_revenue":
        return any(criteria.get(key) is not None for key in REVENUE_KEYS)
    if name == "engagement":
        return any(criteria.get(key) is not None for key in ENGAGEMENT_KEYS)
    return bool(criteria.get(name))


# --- tiers ----------------------------------------------------------------------------------------


def tier_for(account: Account, rules: Sequence[TierRule]) -> tuple[str, str]:
    """(tier, reason) from the first matching rule of ``rules`` (already in order); ("", reason) if none."""
    for rule in rules:
        results = evaluate(rule.conditions or {}, account)
        if all(r.matched for r in results):
            reasons = "; ".join(r.detail for r in results) or _("the rule has no conditions")
            text = _("Rule “%(rule)s” → %(tier)s: %(reasons)s") % {
                "rule": rule.name,
                "tier": Tier(rule.tier).label,
                "reasons": reasons,
            }
            return rule.tier, text[:300]
    return "", _("No tier rule matches.") if rules else ""


def active_tier_rules() -> list[TierRule]:
    return list(TierRule.objects.filter(is_active=True).order_by("position", "id"))


# --- fit ------------------------------------------------------------------------------------------


def account_fit_score(account: Account, profile: CustomerProfile) -> tuple[int, list[dict[str, Any]]]:
    """How well ``account`` fits ``profile``: 0–100 and one explanation item per criterion.

    The score is the share of weighted points the account earns: each criterion the profile sets is
    worth its weight (default 1), earned in full when met. A profile without criteria scores 0.
    """
    results = evaluate(profile.criteria or {}, account)
    weights = profile.weights or {}
    explanation = [r.as_dict(int(weights.get(r.criterion, 1))) for r in results]
    total = sum(item["weight"] for item in explanation)
    if total <= 0:
        return 0, explanation
    earned = sum(item["points"] for item in explanation)
    return round(100 * earned / total), explanation


def best_fit(
    account: Account, profiles: Iterable[CustomerProfile]
) -> tuple[int | None, CustomerProfile | None, list[dict[str, Any]]]:
    """The best score over ``profiles`` (ties go to the first); (None, None, []) without profiles."""
    best: tuple[int | None, CustomerProfile | None, list[dict[str, Any]]] = (None, None, [])
    for profile in profiles:
        if not profile.criteria:
            continue
        score, explanation = account_fit_score(account, profile)
        if best[0] is None or score > best[0]:
            best = (score, profile, explanation)
    return best


def active_profiles() -> list[CustomerProfile]:
    return list(CustomerProfile.objects.filter(is_active=True).order_by("name", "id"))
