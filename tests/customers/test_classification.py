"""Tier rules (with hand-set tiers), ideal customer profiles and the background recomputation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from guanxi.core.models import ChangeLogEntry, TimelineEntry
from guanxi.customers import services
from guanxi.customers.classification import account_fit_score
from guanxi.customers.models import Account, CustomerProfile, TierRule
from guanxi.customers.tasks import account_fit_recompute_task, account_tier_recompute_task
from guanxi.identity.models import User
from tests.customers.conftest import Api

pytestmark = pytest.mark.django_db


def _errors(response: Any) -> dict[str, list[str]]:
    return {e["field"]: e["detail"] for e in response.json_body.get("errors", [])}


@pytest.fixture
def ladder(db: Any) -> list[TierRule]:
    """A: big customers; B: mid-size or big prospects; D: everyone else."""
    return [
        TierRule.objects.create(
            name="大客户",
            tier="A",
            position=1,
            conditions={"min_annual_revenue": "100000000", "lifecycle_stages": ["customer", "partner"]},
        ),
        TierRule.objects.create(
            name="中型", tier="B", position=2, conditions={"sizes": ["large", "xlarge", "enterprise"]}
        ),
        TierRule.objects.create(name="其他", tier="D", position=9, conditions={}),
        TierRule.objects.create(name="停用", tier="C", position=0, is_active=False, conditions={}),
    ]


def test_tier_rules_and_hand_set_tiers(
    admin: User, ladder: list[TierRule], make_account: Callable[..., Account]
) -> None:
    big = make_account(name="大", annual_revenue=200_000_000, lifecycle_stage="customer")
    mid = make_account(name="中", employee_count=800)
    small = make_account(name="小")
    pinned = make_account(name="手动", annual_revenue=500_000_000, lifecycle_stage="customer")
    services.account_update(pk=pinned.pk, user=admin, data={"tier": "C"})

    result = account_tier_recompute_task.enqueue()
    assert result.return_value == {"checked": 4, "changed": 3, "locked": 1}
    tiers = dict(Account.objects.values_list("name", "tier"))
    assert tiers == {"大": "A", "中": "B", "小": "D", "手动": "C"}
    big.refresh_from_db()
    assert big.tier_reason == (
        "Rule “大客户” → Tier A: Lifecycle stage Customer is one of: Customer, Partner.; "
        "Annual revenue 200,000,000 CNY is within at least 100,000,000."
    )
    pinned.refresh_from_db()
    assert pinned.tier_locked and pinned.tier_reason == "Set by hand by 管理员."

    entry = ChangeLogEntry.objects.filter(object_id=big.pk, changes__has_key="tier").latest("id")
    assert entry.source == "job" and entry.actor is None
    assert entry.changes["tier"] == ["", "A"]
    assert TimelineEntry.objects.filter(object_id=big.pk, kind="tier").exists()

    # Safe to run twice: nothing changed, nothing written.
    logged = ChangeLogEntry.objects.count()
    assert account_tier_recompute_task.enqueue().return_value == {"checked": 4, "changed": 0, "locked": 1}
    assert ChangeLogEntry.objects.count() == logged

    # Unlocking hands the tier back to the rules.
    services.account_tier_recompute(account_ids=[pinned.pk])
    pinned.refresh_from_db()
    assert pinned.tier == "C"
    services.account_update(pk=pinned.pk, user=admin, data={"tier_locked": False})
    services.account_tier_recompute(account_ids=[pinned.pk])
    pinned.refresh_from_db()
    assert (pinned.tier, pinned.tier_locked) == ("A", False)
    assert small.pk and mid.pk


def test_changes_reclassify_after_commit(
    admin_api: Api, ladder: list[TierRule], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        created = admin_api.post("accounts", {"name": "新客户", "employee_count": 2000})
    pk = created.json_body["id"]
    assert Account.objects.get(pk=pk).tier == "B"
    with django_capture_on_commit_callbacks(execute=True):
        admin_api.patch(f"accounts/{pk}", {"annual_revenue": "300000000", "lifecycle_stage": "customer"})
    assert Account.objects.get(pk=pk).tier == "A"
    # A hand-set tier through the API is locked and not overwritten by the rules.
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_api.patch(f"accounts/{pk}", {"tier": "D"})
    assert response.json_body["tier_locked"] is True
    with django_capture_on_commit_callbacks(execute=True):
        admin_api.patch(f"accounts/{pk}", {"annual_revenue": "400000000"})
    assert Account.objects.get(pk=pk).tier == "D"
    # Changing the rules recomputes every account.
    with django_capture_on_commit_callbacks(execute=True):
        rule = admin_api.post("tier-rules", {"name": "全部C", "tier": "C", "position": 0})
    assert rule.status_code == 201, rule.json_body
    assert Account.objects.get(pk=pk).tier == "D"  # still locked


def test_tier_rule_conditions_are_checked(admin_api: Api) -> None:
    response = admin_api.post(
        "tier-rules",
        {"name": "x", "tier": "A", "conditions": {"sizes": ["huge"], "min_annual_revenue": "-5", "colour": "red"}},
    )
    assert response.status_code == 400
    assert set(_errors(response)) == {"conditions.sizes", "conditions.min_annual_revenue", "conditions.colour"}
    response = admin_api.post("tier-rules", {"name": "x", "tier": "Z"})
    assert response.status_code == 400 and "tier" in _errors(response)


def test_fit_score_explains_itself(admin: User, make_account: Callable[..., Account]) -> None:
    profile = CustomerProfile.objects.create(
        name="华东制造业",
        criteria={
            "industries": ["manufacturing", "automotive"],
            "sizes": ["large", "xlarge"],
            "regions": ["华东"],
            "min_annual_revenue": "10000000",
        },
        weights={"industries": 40, "sizes": 30, "regions": 20, "annual_revenue": 10},
    )
    account = make_account(
        name="宁波示例汽车零部件", industry="automotive", employee_count=60, province="浙江", annual_revenue=50_000_000
    )
    score, explanation = account_fit_score(account, profile)
    assert score == 70  # industry 40 + region 20 + revenue 10; size is medium, not large
    by_criterion = {item["criterion"]: item for item in explanation}
    assert by_criterion["industries"]["matched"] is True and by_criterion["industries"]["points"] == 40
    assert by_criterion["sizes"] == {
        "criterion": "sizes",
        "label": "Company size",
        "matched": False,
        "expected": ["large", "xlarge"],
        "actual": "medium",
        "detail": "Company size 50–199 employees is not one of: 200–999 employees, 1,000–4,999 employees.",
        "weight": 30,
        "points": 0,
    }
    assert by_criterion["regions"]["detail"] == "Region 华东 is one of: 华东."
    assert by_criterion["annual_revenue"]["matched"] is True

    blank = make_account(name="空白")
    score, explanation = account_fit_score(blank, profile)
    assert score == 0
    assert all("not recorded" in item["detail"] for item in explanation)

    account_fit_recompute_task.enqueue()
    account.refresh_from_db()
    assert (account.fit_score, account.fit_profile_id) == (70, profile.pk)
    assert account.fit_explanation[0]["criterion"] == "industries"
    entry = ChangeLogEntry.objects.filter(object_id=account.pk, changes__has_key="fit_score").latest("id")
    assert entry.source == "job" and entry.changes == {"fit_score": [None, 70], "fit_profile": [None, profile.pk]}


def test_fit_api_and_profile_validation(admin_api: Api, make_account: Callable[..., Account]) -> None:
    response = admin_api.post(
        "customer-profiles", {"name": "理想", "criteria": {"industries": ["software"]}, "weights": {"industry": 5}}
    )
    assert response.status_code == 400 and "weights.industry" in _errors(response)
    response = admin_api.post(
        "customer-profiles", {"name": "理想", "criteria": {"industries": ["software"]}, "weights": {"industries": 5}}
    )
    assert response.status_code == 201, response.json_body
    account = make_account(name="软件公司", industry="software")
    fit = admin_api.get(f"accounts/{account.pk}/fit").json_body
    assert fit["score"] == 100 and fit["profile"]["display"] == "理想"
    fit = admin_api.get(f"accounts/{account.pk}/fit?profile={response.json_body['id']}").json_body
    assert fit["explanation"][0]["matched"] is True
    assert admin_api.post("customer-profiles/recompute").status_code == 202


def test_settings_need_permission(rep: User, api_for: Callable[[User], Api], ladder: list[TierRule]) -> None:
    api = api_for(rep)
    assert api.post("tier-rules", {"name": "x", "tier": "A"}).status_code == 403
    assert api.post("tier-rules/recompute").status_code == 403
