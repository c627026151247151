"""Assignment rules (分配规则): who owns a new account nobody assigned, by territory or in turn in a team."""

from __future__ import annotations

import csv
import io
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client

from guanxi.core.models import ChangeLogEntry, TimelineEntry
from guanxi.customers.assignment import Assigner
from guanxi.customers.models import Account, AssignmentRule, TierRule
from guanxi.identity.models import Role, Team, User
from tests.customers.conftest import PASSWORD, Api

pytestmark = pytest.mark.django_db


def _errors(response: Any) -> dict[str, str]:
    return {e["field"]: e["detail"] for e in response.json_body.get("errors", [])}


@pytest.fixture
def team_gz(db: Any) -> Team:
    return Team.objects.create(name="广州组", territory="华南")


@pytest.fixture
def south_reps(make_user: Callable[..., User], sales_role: Role, team_gz: Team) -> list[User]:
    """Three active members of the 广州组 team and one who left (never given accounts)."""
    reps = [make_user(role=sales_role, team=team_gz, name=f"华南{i}") for i in range(3)]
    left = make_user(role=sales_role, team=team_gz, name="离职")
    left.is_active = False
    left.save()
    return reps


@pytest.fixture
def rules(admin: User, other_rep: User, team_gz: Team, south_reps: list[User]) -> list[AssignmentRule]:
    """华南 in turn to 广州组; big software accounts to one person; a rule switched off."""
    return [
        AssignmentRule.objects.create(name="停用", position=0, is_active=False, assignee=admin),
        AssignmentRule.objects.create(
            name="大软件客户",
            position=1,
            conditions={"industries": ["software"], "min_annual_revenue": "100000000"},
            assignee=other_rep,
        ),
        AssignmentRule.objects.create(name="华南大区", position=2, conditions={"regions": ["华南"]}, team=team_gz),
    ]


def test_the_first_matching_rule_chooses_the_owner(
    admin_api: Api,
    rules: list[AssignmentRule],
    other_rep: User,
    team_south: Team,
    team_gz: Team,
    south_reps: list[User],
) -> None:
    big = admin_api.post(
        "accounts", {"name": "广州大软件", "province": "广东", "industry": "software", "annual_revenue": "300000000"}
    )
    assert big.status_code == 201, big.json_body
    assert (big.json_body["owner"]["id"], big.json_body["team"]["id"]) == (other_rep.pk, team_south.pk)
    south = admin_api.post("accounts", {"name": "深圳小店", "province": "广东"})
    assert south.json_body["owner"]["id"] == south_reps[0].pk and south.json_body["team"]["id"] == team_gz.pk
    entry = TimelineEntry.objects.filter(object_id=south.json_body["id"], kind="created").get()
    assert entry.summary == "Account created and assigned to 华南0 by the rule “华南大区”"
    log = ChangeLogEntry.objects.get(content_type__model="account", object_id=south.json_body["id"], action="create")
    assert log.changes["owner"] == [None, south_reps[0].pk]

    # Named owners and accounts no rule matches are left alone; the switched-off rule never applies.
    named = admin_api.post("accounts", {"name": "指定", "province": "广东", "owner": south_reps[2].pk})
    assert named.json_body["owner"]["id"] == south_reps[2].pk
    east = admin_api.post("accounts", {"name": "上海客户", "province": "上海"})
    assert east.json_body["owner"]["id"] == admin_api.user.pk
    assert TimelineEntry.objects.get(object_id=east.json_body["id"], kind="created").summary == "Account created"


def test_a_team_takes_new_accounts_in_turn(
    admin: User, rules: list[AssignmentRule], south_reps: list[User], make_account: Callable[..., Account]
) -> None:
    owners = [make_account(name=f"华南{i}号", province="广东").owner_id for i in range(4)]
    assert owners == [south_reps[0].pk, south_reps[1].pk, south_reps[2].pk, south_reps[0].pk]
    rule = AssignmentRule.objects.get(name="华南大区")
    assert rule.last_assignee_id == south_reps[0].pk
    # A member who leaves drops out of the turn; one who joins takes theirs after the last given.
    south_reps[1].is_active = False
    south_reps[1].save()
    assert [make_account(name=f"续{i}", province="广西").owner_id for i in range(2)] == [
        south_reps[2].pk,
        south_reps[0].pk,
    ]


def test_a_rule_with_nobody_to_assign_hands_over_to_the_next(
    admin: User, rules: list[AssignmentRule], south_reps: list[User], make_account: Callable[..., Account]
) -> None:
    fallback = AssignmentRule.objects.create(name="兜底", position=9, assignee=admin)
    User.objects.filter(pk__in=[u.pk for u in south_reps]).update(is_active=False)
    account = make_account(name="无人", province="广东")
    assert account.owner_id == admin.pk
    assert fallback.pk


def test_a_rep_who_may_not_assign_still_gets_rules_applied(
    rep: User, rules: list[AssignmentRule], south_reps: list[User], other_rep: User
) -> None:
    api = Api(rep)
    created = api.post("accounts", {"name": "代录客户", "province": "广东"})
    assert created.status_code == 201, created.json_body
    assert Account.objects.get(pk=created.json_body["id"]).owner_id == south_reps[0].pk
    # The rule is the administrator's choice; the rep still may not choose another owner.
    refused = api.post("accounts", {"name": "自选", "owner": other_rep.pk})
    assert refused.status_code == 400
    assert "owner" in _errors(refused)


def test_rules_are_validated_naming_the_field(admin_api: Api, team_east: Team, south_reps: list[User]) -> None:
    nobody = admin_api.post("assignment-rules", {"name": "没人"})
    assert nobody.status_code == 400 and "assignee" in _errors(nobody)
    empty_team = admin_api.post("assignment-rules", {"name": "空团队", "team": team_east.pk})
    assert _errors(empty_team) == {
        "team": "This team has no active members; add members first or choose a salesperson."
    }
    bad = admin_api.post(
        "assignment-rules", {"name": "错", "assignee": south_reps[0].pk, "conditions": {"sizes": ["huge"]}}
    )
    assert list(_errors(bad)) == ["conditions.sizes"]
    gone = User.objects.filter(is_active=False).get()
    left = admin_api.post("assignment-rules", {"name": "离职", "assignee": gone.pk})
    assert "assignee" in _errors(left)
    assert not AssignmentRule.objects.exists()

    ok = admin_api.post(
        "assignment-rules", {"name": "华东", "assignee": south_reps[0].pk, "conditions": {"regions": ["华东"]}}
    )
    assert ok.status_code == 201, ok.json_body
    # Dropping the salesperson of a rule without a team leaves nobody: refused.
    cleared = admin_api.patch(f"assignment-rules/{ok.json_body['id']}", {"assignee": None})
    assert cleared.status_code == 400 and "assignee" in _errors(cleared)


def test_rules_are_settings_for_administrators(rep: User, rules: list[AssignmentRule]) -> None:
    api = Api(rep)
    assert api.get("assignment-rules").status_code == 403
    assert api.post("assignment-rules", {"name": "我的", "assignee": rep.pk}).status_code == 403


# --- the account form -----------------------------------------------------------------------------------


def _browser(user: User) -> Client:
    client = Client()
    assert client.login(email=user.email, password=PASSWORD)
    return client


def test_the_add_form_leaves_the_owner_to_the_rules(
    admin: User, rules: list[AssignmentRule], south_reps: list[User]
) -> None:
    client = _browser(admin)
    page = client.get("/customers/accounts/add/").content.decode()
    assert "Leave empty to let the assignment rules choose" in page
    form = {
        "name": "表单客户",
        "annual_revenue": "0",
        "currency": "CNY",
        "lifecycle_stage": "prospect",
        "country": "CN",
    }
    response = client.post("/customers/accounts/add/", {**form, "province": "广东省"})
    assert response.status_code == 302
    assert Account.objects.get(name="表单客户").owner_id == south_reps[0].pk
    client.post("/customers/accounts/add/", {**form, "name": "自己的", "province": "广东省", "owner": admin.pk})
    assert Account.objects.get(name="自己的").owner_id == admin.pk


def test_without_rules_the_add_form_proposes_the_user(admin: User) -> None:
    page = _browser(admin).get("/customers/accounts/add/").content.decode()
    assert "assignment rules" not in page
    assert f'<input type="hidden" name="owner" value="{admin.pk}">' in page  # the owner picker's choice


# --- imports --------------------------------------------------------------------------------------------


def _csv(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode()


@pytest.fixture
def importer(admin: User, django_capture_on_commit_callbacks: Any) -> Callable[..., dict[str, Any]]:
    client = Client()
    client.force_login(admin)

    def run(kind: str, rows: list[list[str]]) -> dict[str, Any]:
        data = {"file": SimpleUploadedFile(f"{kind}.csv", _csv(rows)), "type": kind, "start": "true"}
        with django_capture_on_commit_callbacks(execute=True):
            body = client.post("/api/v1/imports", data).json()
        return client.get(f"/api/v1/imports/{body['id']}").json()["result"]

    return run


def test_imported_accounts_without_an_owner_follow_the_rules(
    admin: User,
    rules: list[AssignmentRule],
    south_reps: list[User],
    other_rep: User,
    importer: Callable[..., dict[str, Any]],
    settings: Any,
) -> None:
    settings.GUANXI_IMPORT_BATCH_SIZE = 2  # the turn carries from one batch to the next
    header = ["公司名称", "省份", "行业", "年营业额", "负责人"]
    rows = [
        ["广州一号", "广东", "", "", ""],
        ["南宁二号", "广西", "", "", ""],
        ["深圳软件", "广东", "软件与信息技术服务", "5亿", ""],
        ["海口三号", "海南", "", "", ""],
        ["广州指定", "广东", "", "", admin.email],
        ["上海四号", "上海", "", "", ""],
    ]
    assert importer("accounts", [header, *rows]) == {"created": 6, "updated": 0, "skipped": 0, "failed": 0}
    owners = dict(Account.objects.values_list("name", "owner_id"))
    assert owners == {
        "广州一号": south_reps[0].pk,
        "南宁二号": south_reps[1].pk,
        "深圳软件": other_rep.pk,
        "海口三号": south_reps[2].pk,
        "广州指定": admin.pk,
        "上海四号": admin.pk,
    }
    assert Account.objects.get(name="南宁二号").team_id == south_reps[1].team_id
    first = Account.objects.get(name="广州一号")
    assert ChangeLogEntry.objects.get(content_type__model="account", object_id=first.pk, action="create").changes[
        "owner"
    ] == [None, south_reps[0].pk]
    assert AssignmentRule.objects.get(name="华南大区").last_assignee_id == south_reps[2].pk


def test_the_member_with_the_fewest_accounts_gets_the_next_one(
    admin: User,
    admin_api: Api,
    team_gz: Team,
    south_reps: list[User],
    make_account: Callable[..., Account],
    importer: Callable[..., dict[str, Any]],
) -> None:
    """ "Fewest accounts first": counted when a rule is first used in a transaction, then kept in memory
    (an import batch of four gives four accounts on one count); equal counts go in member order."""
    r0, r1, r2 = south_reps
    for owner, n in ((r0, 2), (r1, 1)):
        for i in range(n):
            make_account(name=f"{owner.display_name}旧{i}", owner_id=owner.pk)
    gone = make_account(name="回收站里的", owner_id=r2.pk)
    admin_api.delete(f"accounts/{gone.pk}")  # accounts in the recycle bin do not count
    created = admin_api.post(
        "assignment-rules",
        {"name": "华南均衡", "conditions": {"regions": ["华南"]}, "team": team_gz.pk, "team_method": "least_loaded"},
    )
    assert created.status_code == 201, created.json_body
    assert created.json_body["team_method"] == "least_loaded"
    # One at a time (each request counts again): 0 → r2, then r1 (1 each: member order), r2, r0.
    owners = [make_account(name=f"新{i}", province="广东").owner_id for i in range(4)]
    assert owners == [r2.pk, r1.pk, r2.pk, r0.pk]
    # Four rows in one import batch, on one count (3, 2, 2): r1 and r2 catch up, then member order again.
    header = ["公司名称", "省份"]
    assert importer("accounts", [header, *[[f"导入{i}", "广东"] for i in range(4)]])["created"] == 4
    imported = dict(Account.objects.filter(name__startswith="导入").values_list("name", "owner_id"))
    assert [imported[f"导入{i}"] for i in range(4)] == [r1.pk, r2.pk, r0.pk, r1.pk]
    rule = AssignmentRule.objects.get(name="华南均衡")
    assert rule.get_target_display() == "the member of 广州组 with the fewest accounts"


def test_an_account_import_that_changes_owners_takes_their_contacts_along(
    admin: User,
    rep: User,
    other_rep: User,
    make_account: Callable[..., Account],
    make_contact: Callable[..., Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    """As an owner change in the form does: the previous owner's contacts at the account go along."""
    from guanxi.customers.models import Contact

    acme = make_account(name="导入转移", external_id="A-1", owner_id=rep.pk)
    goes = make_contact(family_name="随", owner_id=rep.pk, accounts=[{"account": acme.pk, "is_primary": True}])
    stays = make_contact(family_name="留", owner_id=admin.pk, accounts=[{"account": acme.pk, "is_primary": True}])
    version = Contact.objects.get(pk=goes.pk).version
    client = Client()
    client.force_login(admin)
    upload = SimpleUploadedFile(
        "a.csv", _csv([["外部编号", "公司名称", "负责人"], ["A-1", "导入转移", other_rep.email]])
    )
    data = {"file": upload, "type": "accounts", "duplicate_policy": "update", "start": "true"}
    with django_capture_on_commit_callbacks(execute=True):
        job = client.post("/api/v1/imports", data).json()
    assert client.get(f"/api/v1/imports/{job['id']}").json()["result"]["updated"] == 1
    assert Account.objects.get(pk=acme.pk).owner_id == other_rep.pk
    assert Contact.objects.get(pk=goes.pk).owner_id == other_rep.pk
    assert Contact.objects.get(pk=stays.pk).owner_id == admin.pk
    log = ChangeLogEntry.objects.get(content_type__model="contact", object_id=goes.pk, action="update")
    assert log.changes["owner"] == [rep.pk, other_rep.pk] and log.source == "import"
    assert Contact.objects.get(pk=goes.pk).version == version + 1


def test_accounts_a_contact_import_creates_follow_the_rules(
    admin: User, other_rep: User, importer: Callable[..., dict[str, Any]]
) -> None:
    AssignmentRule.objects.create(name="新公司归李四", position=1, assignee=other_rep)
    rows = [["姓名", "手机", "公司"], ["张三", "13900000001", "新建公司"], ["李四", "13900000002", ""]]
    assert importer("contacts", rows)["created"] == 2
    account = Account.objects.get(name="新建公司")
    assert (account.owner_id, account.team_id) == (other_rep.pk, other_rep.team_id)
    assert ChangeLogEntry.objects.get(content_type__model="account", object_id=account.pk, action="create").changes[
        "owner"
    ] == [None, other_rep.pk]


def test_rules_are_written_with_inputs_not_json(admin: User, south_reps: list[User]) -> None:
    client = _browser(admin)
    assert 'href="/settings/assignment-rules/"' in client.get("/").content.decode()  # in the settings menu
    page = client.get("/settings/assignment-rules/add/").content.decode()
    assert 'name="conditions_industries" value="software"' in page and 'name="conditions_regions"' in page
    form = {
        "name": "华南软件",
        "position": "5",
        "assignee": south_reps[0].pk,
        "team_method": "round_robin",
        "conditions_regions": "华南、 深圳市,华南",
        "conditions_industries": ["software", "internet"],
        "conditions_min_annual_revenue": "100万",  # an amount as people write it (core.money)
    }
    response = client.post("/settings/assignment-rules/add/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    rule = AssignmentRule.objects.get(name="华南软件")
    assert rule.conditions == {
        "regions": ["华南", "深圳市"],
        "industries": ["software", "internet"],
        "min_annual_revenue": "1000000",
    }
    detail = client.get(f"/settings/assignment-rules/{rule.pk}/").content.decode()
    assert "Region: 华南, 深圳市; Industry: " in detail and "; Annual revenue: at least 1,000,000" in detail
    edit = client.get(f"/settings/assignment-rules/{rule.pk}/edit/").content.decode()
    assert 'value="software" class="form-selectgroup-input" checked' in edit
    assert 'value="华南、深圳市"' in edit and 'value="1000000"' in edit

    # The service's checks land on the criteria input, naming what is wrong.
    bad = client.post(
        "/settings/assignment-rules/add/",
        {**form, "name": "反了", "conditions_max_annual_revenue": "10"},
    )
    assert bad.status_code == 400
    assert "The maximum is below the minimum." in bad.content.decode()
    assert not AssignmentRule.objects.filter(name="反了").exists()


# --- tiers as a condition: valuable accounts to experienced people (seed 004 §3) -----------------------


@pytest.fixture
def tier_ladder(db: Any) -> list[TierRule]:
    """Revenue of 50 million or more is tier A; everything else tier C."""
    return [
        TierRule.objects.create(name="大客户", position=1, tier="A", conditions={"min_annual_revenue": "50000000"}),
        TierRule.objects.create(name="其余", position=2, tier="C", conditions={}),
    ]


@pytest.fixture
def senior_rule(rules: list[AssignmentRule], other_rep: User) -> AssignmentRule:
    """Tier A accounts to one experienced salesperson, before the territory rules."""
    return AssignmentRule.objects.create(name="A类客户", position=0, conditions={"tiers": ["A"]}, assignee=other_rep)


def test_a_rule_gives_a_tier_to_its_own_salesperson(
    admin_api: Api,
    tier_ladder: list[TierRule],
    senior_rule: AssignmentRule,
    other_rep: User,
    south_reps: list[User],
    django_capture_on_commit_callbacks: Any,
) -> None:
    # A new account has no tier yet: the rule sees the tier the tier rules give it, the one the tier
    # job then stores.
    with django_capture_on_commit_callbacks(execute=True):
        big = admin_api.post("accounts", {"name": "广州巨头", "province": "广东", "annual_revenue": "80000000"})
    assert big.status_code == 201, big.json_body
    assert big.json_body["owner"]["id"] == other_rep.pk
    assert Account.objects.get(pk=big.json_body["id"]).tier == "A"
    entry = TimelineEntry.objects.get(object_id=big.json_body["id"], kind="created")
    assert entry.summary == f"Account created and assigned to {other_rep} by the rule “A类客户”"
    # A tier-C account goes on to its territory's rule.
    small = admin_api.post("accounts", {"name": "广州小店", "province": "广东", "annual_revenue": "100000"})
    assert small.json_body["owner"]["id"] == south_reps[0].pk
    # A tier set by hand counts as set, whatever the revenue.
    by_hand = admin_api.post("accounts", {"name": "广州战略", "province": "广东", "tier": "A"})
    assert by_hand.json_body["owner"]["id"] == other_rep.pk
    # Without any tier rule an account has no tier, and the rule matches nothing.
    TierRule.objects.all().delete()
    plain = admin_api.post("accounts", {"name": "佛山巨头", "province": "广东", "annual_revenue": "90000000"})
    assert plain.json_body["owner"]["id"] == south_reps[1].pk


def test_imported_and_existing_accounts_are_matched_on_their_tier(
    admin_api: Api,
    tier_ladder: list[TierRule],
    senior_rule: AssignmentRule,
    other_rep: User,
    south_reps: list[User],
    make_account: Callable[..., Account],
    importer: Callable[..., dict[str, Any]],
) -> None:
    header = ["公司名称", "省份", "年营业额", "负责人"]
    rows = [["东莞巨头", "广东", "8000万", ""], ["东莞小店", "广东", "", ""]]
    assert importer("accounts", [header, *rows])["created"] == 2
    assert Account.objects.get(name="东莞巨头").owner_id == other_rep.pk
    assert Account.objects.get(name="东莞小店").owner_id == south_reps[0].pk

    # Existing accounts keep the tier they have: here one set by hand, one computed before.
    admin = admin_api.user
    hand = make_account(name="上海战略", province="上海", owner_id=admin.pk, tier="A")
    computed = make_account(name="上海普通", province="上海", owner_id=admin.pk)
    Account.objects.filter(pk=computed.pk).update(tier="C")
    response = admin_api.post("accounts/bulk", {"action": "assign_rules", "ids": [hand.pk, computed.pk]})
    assert (response.json_body["changed"], response.json_body["unchanged"]) == (1, 1)
    assert Account.objects.get(pk=hand.pk).owner_id == other_rep.pk
    assert Account.objects.get(pk=computed.pk).owner_id == admin.pk


def test_only_assignment_rules_take_tiers(admin_api: Api, other_rep: User) -> None:
    rule = admin_api.post(
        "assignment-rules", {"name": "A类", "conditions": {"tiers": ["A", "B"]}, "assignee": other_rep.pk}
    )
    assert rule.status_code == 201, rule.json_body
    assert AssignmentRule.objects.get(name="A类").get_conditions_display() == "Tier: Tier A, Tier B"
    wrong = admin_api.post(
        "assignment-rules", {"name": "E类", "conditions": {"tiers": ["E"]}, "assignee": other_rep.pk}
    )
    assert wrong.status_code == 400
    assert _errors(wrong)["conditions.tiers"] == "Unknown value E; use: A, B, C, D."
    # A tier rule may not ask for a tier (that is what it gives), nor a profile.
    tier_rule = admin_api.post("tier-rules", {"name": "循环", "tier": "A", "conditions": {"tiers": ["B"]}})
    assert tier_rule.status_code == 400
    assert _errors(tier_rule)["conditions.tiers"].startswith("Unknown criterion; use: industries, sizes,")
    profile = admin_api.post("customer-profiles", {"name": "画像", "criteria": {"tiers": ["A"]}})
    assert profile.status_code == 400 and "criteria.tiers" in _errors(profile)


def test_the_rule_form_offers_tiers_and_the_tier_rule_form_does_not(admin: User, other_rep: User) -> None:
    client = _browser(admin)
    page = client.get("/settings/assignment-rules/add/").content.decode()
    assert 'name="conditions_tiers" value="A"' in page
    assert 'name="conditions_tiers"' not in client.get("/settings/tier-rules/add/").content.decode()
    form = {
        "name": "重点客户",
        "position": "1",
        "assignee": other_rep.pk,
        "team_method": "round_robin",
        "conditions_tiers": ["A", "B"],
        "conditions_regions": "华东",
    }
    response = client.post("/settings/assignment-rules/add/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    rule = AssignmentRule.objects.get(name="重点客户")
    assert rule.conditions == {"regions": ["华东"], "tiers": ["A", "B"]}
    edit = client.get(f"/settings/assignment-rules/{rule.pk}/edit/").content.decode()
    assert 'value="B" class="form-selectgroup-input" checked' in edit


# --- assign by rules: the bulk action on existing accounts ----------------------------------------------


@pytest.fixture
def mixed_accounts(admin: User, south_reps: list[User], make_account: Callable[..., Account]) -> dict[str, Account]:
    """Accounts created before the rules (so their owners are the ones named here)."""
    return {
        "gd_admin": make_account(name="广东甲", province="广东", owner_id=admin.pk),
        "gd_member": make_account(name="广东乙", province="广东", owner_id=south_reps[1].pk),
        "sh_admin": make_account(name="上海丙", province="上海", owner_id=admin.pk),
        "big": make_account(
            name="大软件丁", industry="software", annual_revenue=Decimal("300000000"), owner_id=admin.pk
        ),
        "gx_admin": make_account(name="广西戊", province="广西", owner_id=admin.pk),
    }


def _owners(accounts: dict[str, Account]) -> dict[str, int]:
    return {key: Account.objects.get(pk=a.pk).owner_id for key, a in accounts.items()}


def test_assign_by_rules_gives_accounts_to_the_owners_the_rules_name_now(
    admin_api: Api,
    mixed_accounts: dict[str, Account],
    rules: list[AssignmentRule],
    south_reps: list[User],
    other_rep: User,
    team_gz: Team,
) -> None:
    ids = [a.pk for a in mixed_accounts.values()]
    response = admin_api.post("accounts/bulk", {"action": "assign_rules", "ids": ids})
    assert response.status_code == 200, response.json_body
    assert (response.json_body["changed"], response.json_body["unchanged"]) == (3, 2)
    admin = admin_api.user.pk
    # 乙 already belongs to a member of the team: it stays and takes no turn, so 甲 and 戊 get 0 and 1.
    assert _owners(mixed_accounts) == {
        "gd_admin": south_reps[0].pk,
        "gd_member": south_reps[1].pk,
        "sh_admin": admin,
        "big": other_rep.pk,
        "gx_admin": south_reps[1].pk,
    }
    assert Account.objects.get(pk=mixed_accounts["gd_admin"].pk).team_id == team_gz.pk
    assert AssignmentRule.objects.get(name="华南大区").last_assignee_id == south_reps[1].pk
    entry = TimelineEntry.objects.filter(object_id=mixed_accounts["gd_admin"].pk, kind="owner").get()
    assert entry.summary == f"Owner: {admin_api.user} → 华南0, by the rule “华南大区”"
    log = ChangeLogEntry.objects.get(content_type__model="account", object_id=mixed_accounts["big"].pk, action="update")
    assert log.changes["owner"] == [admin, other_rep.pk]
    # Run again: everything already fits, nothing changes and no turn is taken.
    again = admin_api.post("accounts/bulk", {"action": "assign_rules", "ids": ids})
    assert (again.json_body["changed"], again.json_body["unchanged"]) == (0, 5)
    assert AssignmentRule.objects.get(name="华南大区").last_assignee_id == south_reps[1].pk


def test_assign_by_rules_over_many_accounts_runs_as_a_job_carrying_the_turn(
    admin: User,
    rules: list[AssignmentRule],
    south_reps: list[User],
    make_account: Callable[..., Account],
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from guanxi.core import bulk
    from guanxi.core.models import Job

    monkeypatch.setattr(bulk, "SYNC_LIMIT", 2)
    monkeypatch.setattr(bulk, "CHUNK", 2)
    accounts = [make_account(name=f"广东{i}", province="广东", owner_id=admin.pk) for i in range(5)]
    with django_capture_on_commit_callbacks(execute=True):
        response = Api(admin).post("accounts/bulk", {"action": "assign_rules", "query": {"province": "广东省"}})
    assert response.status_code == 202, response.json_body
    job = Job.objects.get(pk=response.json_body["id"])
    assert job.status == "succeeded" and job.result["changed"] == 5, job.error
    # Three chunks, one turn: each chunk reads where the last one stopped.
    owners = [Account.objects.get(pk=a.pk).owner_id for a in accounts]
    assert owners == [south_reps[i % 3].pk for i in range(5)]


def test_assign_by_rules_needs_a_rule_and_the_assign_permission(
    admin_api: Api, rep: User, make_account: Callable[..., Account], south_reps: list[User], team_gz: Team
) -> None:
    account = make_account(name="广东己", province="广东", owner_id=rep.pk)
    refused = admin_api.post("accounts/bulk", {"action": "assign_rules", "ids": [account.pk]})
    assert refused.status_code == 400
    assert "No assignment rule is switched on" in _errors(refused)["action"]
    AssignmentRule.objects.create(name="华南大区", conditions={"regions": ["华南"]}, team=team_gz)
    # A rep changes their own accounts but may not give them away, by hand or by the rules.
    assert Api(rep).post("accounts/bulk", {"action": "assign_rules", "ids": [account.pk]}).status_code == 403
    # Contacts have no assignment rules.
    no_rules = admin_api.post("contacts/bulk", {"action": "assign_rules", "ids": [1]})
    assert no_rules.status_code == 400 and "action" in _errors(no_rules)
    assert Account.objects.get(pk=account.pk).owner_id == rep.pk


def test_assign_by_rules_from_the_list_page(
    admin: User, rep: User, mixed_accounts: dict[str, Account], rules: list[AssignmentRule], south_reps: list[User]
) -> None:
    client = _browser(admin)
    assert "Assign by rules" in client.get("/customers/accounts/").content.decode()
    rep_browser = _browser(rep)
    assert "Assign by rules" not in rep_browser.get("/customers/accounts/").content.decode()
    # Posted anyway by a rep (who may change their own accounts, not give them away): refused.
    mine = Account.objects.create(name="李雷的", province="广西壮族自治区", owner=rep, created_by=rep)
    rep_browser.post("/customers/accounts/bulk/", {"action": "assign_rules", "pk": [mine.pk], "confirm": "yes"})
    assert Account.objects.get(pk=mine.pk).owner_id == rep.pk
    picked = [mixed_accounts["gd_admin"].pk, mixed_accounts["sh_admin"].pk]
    form = {"action": "assign_rules", "pk": picked, "next": "/customers/accounts/"}
    confirm = client.post("/customers/accounts/bulk/", form)
    page = confirm.content.decode()
    assert confirm.status_code == 200
    # The rules in the order they are tried, in words; the switched-off one is not among them.
    assert page.index("大软件客户") < page.index("华南大区: ") and "停用" not in page
    assert "the members of 广州组 in turn" in page
    done = client.post("/customers/accounts/bulk/", {**form, "confirm": "yes"})
    assert done.status_code == 302
    assert _owners(mixed_accounts)["gd_admin"] == south_reps[0].pk
    assert _owners(mixed_accounts)["sh_admin"] == admin.pk
    # "All N matching" the list's filters: the other 广东 account already fits.
    matching = {"action": "assign_rules", "select_all": "matching", "query": "province=广东省", "next": "/"}
    count_page = client.post("/customers/accounts/bulk/", matching).content.decode()
    assert "2 records match the list" in count_page and "华南大区" in count_page
    client.post("/customers/accounts/bulk/", {**matching, "confirm": "yes"})
    assert _owners(mixed_accounts)["gd_member"] == south_reps[1].pk


def test_without_rules_the_list_page_says_why(admin: User, make_account: Callable[..., Account]) -> None:
    account = make_account(name="无规则")
    client = _browser(admin)
    response = client.post(
        "/customers/accounts/bulk/", {"action": "assign_rules", "pk": [account.pk], "next": "/customers/accounts/"}
    )
    assert response.status_code == 302
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("No assignment rule is switched on" in m for m in messages)


# --- two requests at once ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("method", ["round_robin", "least_loaded"])
def test_two_requests_at_once_take_two_turns(
    admin: User, make_user: Callable[..., User], sales_role: Role, monkeypatch: pytest.MonkeyPatch, method: str
) -> None:
    """Each request holds the rule's turn (locked) until it commits; the other waits, then takes the next.
    Without the lock both would read the same last assignee (or the same counts) and give the same
    salesperson two accounts."""
    team = Team.objects.create(name="深圳组", territory="华南")
    members = [make_user(role=sales_role, team=team, name=f"深圳{i}") for i in range(2)]
    AssignmentRule.objects.create(name="华南大区", conditions={"regions": ["华南"]}, team=team, team_method=method)
    real_save = Assigner.save

    def slow_save(self: Assigner) -> None:
        time.sleep(0.3)  # the turn is taken and locked; the other request must wait for this commit
        real_save(self)

    monkeypatch.setattr(Assigner, "save", slow_save)
    barrier = threading.Barrier(2)
    results: dict[str, Any] = {}

    def create(name: str) -> None:
        client = Client()
        client.force_login(admin)
        try:
            barrier.wait(timeout=10)
            started = time.monotonic()
            response = client.post(
                "/api/v1/accounts", {"name": name, "province": "广东"}, content_type="application/json"
            )
            results[name] = {"status": response.status_code, "start": started, "end": time.monotonic()}
        except Exception as exc:  # surfaced by the assertion below
            results[name] = {"error": repr(exc)}
        finally:
            connection.close()

    threads = [threading.Thread(target=create, args=(name,)) for name in ("甲", "乙")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [r.get("status") for r in results.values()] == [201, 201], results
    first, second = sorted(results.values(), key=lambda r: r["end"])
    assert second["start"] < first["end"]  # the two really overlapped
    owners = set(Account.objects.filter(name__in=["甲", "乙"]).values_list("owner_id", flat=True))
    assert owners == {m.pk for m in members}
    assert AssignmentRule.objects.get(name="华南大区").last_assignee_id in owners
