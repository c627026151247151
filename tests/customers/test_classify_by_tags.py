"""Classification by needs (seed 004 §3, 客户需求: "产品需求", "服务需求"): accounts carry tags for
their needs and interests, and tier rules, assignment rules and ideal customer profiles can ask for
them (``"tags": [...]``, any one of the names)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from guanxi.core.models import ChangeLogEntry, Tag
from guanxi.customers import services
from guanxi.customers.models import Account, AssignmentRule, CustomerProfile, TierRule
from guanxi.identity.models import User
from tests.customers.conftest import Api

pytestmark = pytest.mark.django_db


def _errors(response: Any) -> dict[str, str]:
    return {e["field"]: e["detail"] for e in response.json_body.get("errors", [])}


@pytest.fixture
def needs(db: Any) -> list[Tag]:
    return [Tag.objects.create(name=name) for name in ("产品需求", "服务需求", "VIP")]


def test_a_tier_follows_the_tags_at_once(
    admin_api: Api, needs: list[Tag], django_capture_on_commit_callbacks: Any
) -> None:
    """Tagged with a need, the account takes the rule's tier; untagged, it drops back; the reason
    names the tag."""
    TierRule.objects.create(name="服务客户", position=1, tier="B", conditions={"tags": ["服务需求", "售后"]})
    TierRule.objects.create(name="其他", position=2, tier="D", conditions={})
    with django_capture_on_commit_callbacks(execute=True):
        created = admin_api.post("accounts", {"name": "海湾化工", "tags": ["服务需求"]})
    assert created.status_code == 201, created.json_body
    account = Account.objects.get(pk=created.json_body["id"])
    assert account.tier == "B"
    assert account.tier_reason == "Rule “服务客户” → Tier B: Tags 服务需求 is one of: 服务需求, 售后."
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_api.patch(f"accounts/{account.pk}", {"tags": ["VIP"]})
    assert response.status_code == 200, response.json_body
    assert Account.objects.get(pk=account.pk).tier == "D"
    # A change that leaves the tags as they were queues no recomputation (its notifications may
    # still wait for the commit).
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        admin_api.patch(f"accounts/{account.pk}", {"tags": ["VIP"], "description": "老客户"})
    assert [c for c in callbacks if c.__qualname__.startswith("classify_after_commit")] == []


def test_a_profile_scores_and_explains_the_needs_it_asks_for(
    admin_api: Api, make_account: Callable[..., Account], needs: list[Tag], django_capture_on_commit_callbacks: Any
) -> None:
    response = admin_api.post(
        "customer-profiles",
        {
            "name": "设备维保",
            "criteria": {"tags": ["服务需求"], "industries": ["manufacturing"]},
            "weights": {"tags": 60, "industries": 40},
        },
    )
    assert response.status_code == 201, response.json_body
    with django_capture_on_commit_callbacks(execute=True):
        fits = make_account(name="浦江精密", industry="manufacturing", tags=["服务需求", "VIP"])
        half = make_account(name="绿茶餐饮", industry="hospitality", tags=["服务需求"])
        none = make_account(name="白纸", industry="hospitality")
    scores = dict(Account.objects.values_list("name", "fit_score"))
    assert scores == {fits.name: 100, half.name: 60, none.name: 0}
    explained = {item["criterion"]: item for item in Account.objects.get(pk=none.pk).fit_explanation}
    assert explained["tags"]["matched"] is False and explained["tags"]["points"] == 0
    assert explained["tags"]["detail"] == "Tags is not recorded (wanted: 服务需求)."


def test_the_jobs_read_a_batch_of_tags_in_one_query(
    admin: User, needs: list[Tag], make_account: Callable[..., Account]
) -> None:
    """Each batch of the tier job reads its accounts' tags in one query, and none when no rule asks."""
    rule = TierRule.objects.create(name="产品", position=1, tier="A", conditions={"tags": ["产品需求"]})
    accounts = [make_account(name=f"公司{n}", tags=["产品需求"] if n % 2 else ["VIP"]) for n in range(12)]

    def tag_reads() -> int:
        with CaptureQueriesContext(connection) as queries:
            services.account_tier_recompute(batch_size=5)
        return sum("core_taggeditem" in q["sql"] for q in queries.captured_queries)

    assert tag_reads() == 3
    assert dict(Account.objects.values_list("name", "tier")) == {
        a.name: "A" if n % 2 else "" for n, a in enumerate(accounts)
    }
    rule.conditions = {"regions": ["华东"]}
    rule.save()
    assert tag_reads() == 0


def test_an_assignment_rule_gives_accounts_by_their_needs(
    admin: User,
    admin_api: Api,
    make_user: Callable[..., User],
    needs: list[Tag],
    django_capture_on_commit_callbacks: Any,
) -> None:
    """Accounts that need after-sales service go to the service engineer 刘工: on create (the tags the
    account is created with) and on import (the row's 标签 column)."""
    engineer = make_user(name="刘工")
    AssignmentRule.objects.create(name="服务需求", position=1, conditions={"tags": ["服务需求"]}, assignee=engineer)
    created = admin_api.post("accounts", {"name": "需要维保的公司", "tags": ["服务需求"]})
    plain = admin_api.post("accounts", {"name": "普通公司"})
    assert created.json_body["owner"]["id"] == engineer.pk
    assert plain.json_body["owner"]["id"] == admin.pk

    buffer = io.StringIO()
    csv.writer(buffer).writerows([["公司名称", "标签"], ["导入维保", "服务需求;VIP"], ["导入其他", "VIP"]])
    client = Client()
    client.force_login(admin)
    upload = SimpleUploadedFile("accounts.csv", buffer.getvalue().encode())
    with django_capture_on_commit_callbacks(execute=True):
        job = client.post("/api/v1/imports", {"file": upload, "type": "accounts", "start": "true"}).json()
    assert client.get(f"/api/v1/imports/{job['id']}").json()["result"]["created"] == 2
    owners = dict(Account.objects.filter(name__startswith="导入").values_list("name", "owner_id"))
    assert owners == {"导入维保": engineer.pk, "导入其他": admin.pk}


def test_tag_criteria_are_validated_naming_the_field(admin_api: Api, needs: list[Tag]) -> None:
    def errors(conditions: Any) -> dict[str, str]:
        response = admin_api.post("tier-rules", {"name": "坏", "tier": "A", "conditions": conditions})
        assert response.status_code == 400
        return _errors(response)

    assert errors({"tags": "服务需求"}) == {"conditions.tags": "Send a list of tag names."}
    assert errors({"tags": ["服务需求", "售后服务"]}) == {
        "conditions.tags": "No tag is called 售后服务: put it on an account first, or check the spelling."
    }
    ok = admin_api.post("tier-rules", {"name": "好", "tier": "A", "conditions": {"tags": [" 服务需求 ", "服务需求"]}})
    assert ok.status_code == 201, ok.json_body
    assert ok.json_body["conditions"] == {"tags": ["服务需求"]}
    assert TierRule.objects.get(name="好").get_conditions_display() == "Tags: 服务需求"


def test_a_renamed_tag_is_renamed_in_the_criteria(admin_api: Api, needs: list[Tag]) -> None:
    rule = TierRule.objects.create(name="服务", tier="B", conditions={"tags": ["服务需求", "VIP"], "sizes": ["large"]})
    profile = CustomerProfile.objects.create(name="维保", criteria={"tags": ["服务需求"]}, weights={"tags": 5})
    response = admin_api.patch(f"tags/{needs[1].pk}", {"name": "售后服务需求"})
    assert response.status_code == 200, response.json_body
    rule.refresh_from_db()
    profile.refresh_from_db()
    assert rule.conditions == {"tags": ["售后服务需求", "VIP"], "sizes": ["large"]}
    assert profile.criteria == {"tags": ["售后服务需求"]} and profile.weights == {"tags": 5}
    # Renamed to a name a rule already holds (that of a tag deleted since): each name once.
    both = TierRule.objects.create(name="两者", tier="C", conditions={"tags": ["产品需求", "VIP"]})
    Tag.objects.filter(name="VIP").delete()
    assert admin_api.patch(f"tags/{needs[0].pk}", {"name": "VIP"}).status_code == 200
    both.refresh_from_db()
    assert both.conditions == {"tags": ["VIP"]}


def test_the_rule_form_offers_the_tags_as_toggles(admin: User, needs: list[Tag]) -> None:
    client = Client()
    client.force_login(admin)
    page = client.get("/settings/tier-rules/add/").content.decode()
    assert 'name="conditions_tags" value="服务需求"' in page
    form = {"name": "服务客户", "tier": "B", "position": "3", "conditions_tags": ["服务需求", "VIP"]}
    response = client.post("/settings/tier-rules/add/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    rule = TierRule.objects.get(name="服务客户")
    assert rule.conditions == {"tags": ["服务需求", "VIP"]}
    # A tag deleted since stays on offer, chosen: the form does not drop it from the criteria (which
    # would make the rule match more accounts), and a change to the criteria says what is wrong.
    Tag.objects.filter(name="VIP").delete()
    page = client.get(f"/settings/tier-rules/{rule.pk}/edit/").content.decode()
    assert 'value="VIP" class="form-selectgroup-input" checked' in page
    renamed = client.post(f"/settings/tier-rules/{rule.pk}/edit/", {**form, "name": "服务客户甲"})
    assert renamed.status_code == 302
    rule.refresh_from_db()
    assert rule.name == "服务客户甲" and rule.conditions == {"tags": ["服务需求", "VIP"]}
    changed = client.post(f"/settings/tier-rules/{rule.pk}/edit/", {**form, "conditions_sizes": ["large"]})
    assert changed.status_code == 400 and "No tag is called VIP" in changed.content.decode()


def test_a_new_criterion_that_leaves_the_score_rewords_without_a_new_version(
    admin_api: Api, make_account: Callable[..., Account], needs: list[Tag], django_capture_on_commit_callbacks: Any
) -> None:
    """Adding "needs 服务需求" to a profile an account already fits fully, and has the tag of, keeps
    its score: its explanation gains the line, with no new version and no empty change-log entry."""
    created = admin_api.post("customer-profiles", {"name": "制造", "criteria": {"industries": ["manufacturing"]}})
    with django_capture_on_commit_callbacks(execute=True):
        account = make_account(name="浦江精密", industry="manufacturing", tags=["服务需求"])
    before = Account.objects.get(pk=account.pk)
    assert before.fit_score == 100
    logged = ChangeLogEntry.objects.filter(object_id=account.pk, content_type__model="account").count()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_api.patch(
            f"customer-profiles/{created.json_body['id']}",
            {"criteria": {"industries": ["manufacturing"], "tags": ["服务需求"]}},
        )
    assert response.status_code == 200, response.json_body
    after = Account.objects.get(pk=account.pk)
    assert after.fit_score == 100 and [item["criterion"] for item in after.fit_explanation] == ["industries", "tags"]
    assert (after.version, after.updated_at) == (before.version, before.updated_at)
    assert ChangeLogEntry.objects.filter(object_id=account.pk, content_type__model="account").count() == logged


def test_a_profile_shows_its_weights_in_words(needs: list[Tag]) -> None:
    profile = CustomerProfile(
        name="维保",
        criteria={"tags": ["服务需求"], "industries": ["manufacturing"], "min_annual_revenue": "1000000"},
        weights={"tags": 60, "industries": 30},
    )
    assert profile.get_weights_display() == "Industry 30; Tags 60; Annual revenue 1"
    assert CustomerProfile(name="空").get_weights_display() == "No criteria"


def test_the_profile_form_takes_points_per_criterion_instead_of_json(admin: User, needs: list[Tag]) -> None:
    client = Client()
    client.force_login(admin)
    profile = CustomerProfile.objects.create(
        name="维保",
        criteria={"tags": ["服务需求"], "industries": ["manufacturing"], "regions": ["华南"]},
        weights={"tags": 60, "regions": 20},
    )
    page = client.get(f"/settings/customer-profiles/{profile.pk}/edit/").content.decode()
    assert 'name="weights_tags" value="60"' in page and 'name="weights_industries" value=""' in page
    assert 'name="weights_regions" value="20"' in page and 'name="criteria_regions" value="华南"' in page
    form = {
        "name": "维保",
        "is_active": "on",
        "criteria_tags": ["服务需求"],
        "criteria_industries": ["manufacturing"],
        "criteria_regions": "华南",
        "weights_tags": "70",
        "weights_industries": "30",
        "version": profile.version,
    }
    assert client.post(f"/settings/customer-profiles/{profile.pk}/edit/", form).status_code == 302
    profile.refresh_from_db()
    assert profile.weights == {"industries": 30, "tags": 70}
    bad = client.post(
        f"/settings/customer-profiles/{profile.pk}/edit/", {**form, "weights_tags": "101", "weights_industries": "三十"}
    )
    assert bad.status_code == 400
    page = bad.content.decode()
    assert "Tags: enter points from 0 to 100." in page and "Industry: enter points from 0 to 100." in page
    profile.refresh_from_db()
    assert profile.weights == {"industries": 30, "tags": 70}


def test_the_settings_lists_show_each_rule_s_conditions_in_words(admin: User, needs: list[Tag]) -> None:
    """A list of rules is read for what each one asks: the conditions are a column, in words."""
    TierRule.objects.create(name="服务客户", tier="B", conditions={"tags": ["服务需求"], "sizes": ["large"]})
    AssignmentRule.objects.create(name="维保", conditions={"tags": ["服务需求"]}, assignee=admin)
    CustomerProfile.objects.create(name="维保画像", criteria={"tags": ["产品需求"]})
    client = Client()
    client.force_login(admin)
    assert "Company size: 200–999 employees; Tags: 服务需求" in client.get("/settings/tier-rules/").content.decode()
    assert "Tags: 服务需求" in client.get("/settings/assignment-rules/").content.decode()
    assert "Tags: 产品需求" in client.get("/settings/customer-profiles/").content.decode()


def test_the_bulk_tags_input_suggests_the_existing_tags(admin: User, needs: list[Tag]) -> None:
    """Tagging fifty accounts with a need at once must use its exact name: the list's bulk "add /
    remove tags" input suggests the vocabulary the tag filter already read (no extra query)."""
    client = Client()
    client.force_login(admin)
    page = client.get("/customers/accounts/").content.decode()
    assert 'list="bulk-tag-names"' in page and '<option value="服务需求"></option>' in page
