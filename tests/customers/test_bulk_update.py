"""The set-based bulk edit (``customers.services.bulk_update``, ``Resource.bulk_update``) writes
exactly what one ``account_update`` / ``contact_update`` with the same ``data`` per record writes,
and leaves the fields it does not take to them.

Two identical sets are built and edited alike (``conftest``'s ``bulk_both_ways``); set A record by
record (the hook taken away), set B through the hook; then the records (every stored field, their
tiers and fit scores computed again after the commit, the duplicate keys), the change log, the
timelines and the notifications are compared row by row, and each set's search documents with
what a fresh index of it holds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from guanxi.core import bulk
from guanxi.core.errors import FieldErrors
from guanxi.core.follows import follow_many
from guanxi.core.models import ChangeLogEntry, CustomFieldDefinition
from guanxi.core.registry import resource_at
from guanxi.core.search import search, search_reindex
from guanxi.core.search.backends import backend
from guanxi.core.search.engine import id_range
from guanxi.customers.models import Account, Contact, CustomerProfile, TierRule
from guanxi.identity.models import FieldRule, User
from tests.customers.conftest import BothWays, Desk, People, apply_in_bulk, assert_same, marks

pytestmark = pytest.mark.django_db


def _define(key: str, field_type: str, on: str, **extra: Any) -> None:
    CustomFieldDefinition.objects.create(
        object_type=f"customers.{on}", key=key, field_type=field_type, label_zh=key, label_en=key, **extra
    )


@pytest.fixture
def classifying(db: Any) -> None:
    """Tier rules and a profile that read what the edits change (industry, stage, region)."""
    _define("grade", "choice", "account", choices=["金", "银"])
    _define("grade", "choice", "contact", choices=["金", "银"])
    _define("po", "text", "account")
    TierRule.objects.create(name="软件客户", position=1, tier="B", conditions={"industries": ["software"]})
    TierRule.objects.create(name="华南", position=2, tier="C", conditions={"regions": ["华南"]})
    TierRule.objects.create(name="其他", position=3, tier="D", conditions={})
    CustomerProfile.objects.create(
        name="软件", criteria={"industries": ["software"], "lifecycle_stages": ["customer"]}, weights={"industries": 60}
    )


def varied(made: Desk) -> None:
    """Records each edit treats differently: a region of its own (a[0]: a new province keeps it), a
    stage and an industry that are the new ones already (a[4]), a tier set by hand (a[5]), custom
    values (a[1], c[1]), consent given (c[0]), a title that is the new one already (c[2])."""
    a, c = made.accounts, made.contacts
    Account.objects.filter(pk=a[0].pk).update(region="西南")
    Account.objects.filter(pk=a[1].pk).update(custom_fields={"grade": "银", "po": "PO-1"})
    Account.objects.filter(pk=a[4].pk).update(lifecycle_stage="customer", industry="software")
    Account.objects.filter(pk=a[5].pk).update(tier="A", tier_locked=True, tier_reason="Set by hand")
    Contact.objects.filter(pk=c[0].pk).update(
        email_consent=True, email_consent_source="web", email_consent_at=timezone.now()
    )
    Contact.objects.filter(pk=c[1].pk).update(custom_fields={"grade": "银"})
    Contact.objects.filter(pk=c[2].pk).update(title="采购经理")


def documents(made: Desk) -> list[Any]:
    ids = [id_range(type(x))[0] | x.pk for x in (*made.accounts, *made.contacts)]
    return sorted(backend().documents(ids))


def fresh(made: Desk) -> list[Any]:
    """The set's documents as a fresh index of the records holds them."""
    search_reindex(Account, [x.pk for x in made.accounts])
    search_reindex(Contact, [x.pk for x in made.contacts])
    return documents(made)


ACCOUNT_EDITS = [
    {"industry": "software", "lifecycle_stage": "customer"},
    {"province": "广东", "city": "深圳"},  # a region follows where an account has none
    {"tier": "B"},  # set by hand: locked, with who set it, on the timeline
    {"tier": ""},  # handed back to the rules: a[5]'s unlocked and computed again
    {
        "employee_count": 350,  # the size band follows
        "annual_revenue": "5000000",
        "currency": "usd",
        "website": "https://www.shili-example.com/about",  # the domain follows, for duplicate detection
        "legal_name": "示例科技有限公司",  # in the search documents
        "source": "trade_show",
        "description": "批量修改",
    },
    {"custom_fields": {"grade": "金"}},
    {"region": "华南", "custom_fields": {"grade": None, "po": "PO-9"}},
]
CONTACT_EDITS = [
    {"title": "采购经理", "department": "采购部", "wechat_id": "wx_buyer", "source": "referral"},
    {"decision_role": "decision_maker", "stance": "supporter", "description": "批量"},
    {"email_consent": True, "sms_consent": True},  # when and through which channel follow
    {"email_consent": False},
    {"country": "cn", "province": "上海", "custom_fields": {"grade": "金"}},
]


def by_place(made: list[Any], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``written``'s rows (in id order) in the desk's order: a[i] first to last."""
    ids = sorted(x.pk for x in made)
    return [rows[ids.index(x.pk)] for x in made]


def _check_both(ways: BothWays, path: str, indexed: list[tuple[Desk, list[Any]]]) -> None:
    assert ways.result_a == ways.result_b == {**ways.result_a, "selected": 8, "changed": 8, "failed": 0}
    assert_same(ways.seen_a, ways.seen_b)
    # The hook did it: a few statements for the set, where one by one is a service call a record.
    assert ways.queries_b * 2 < ways.queries_a, (ways.queries_a, ways.queries_b)
    for made, _before in indexed:
        assert documents(made) == fresh(made)


@pytest.mark.parametrize("data", ACCOUNT_EDITS, ids=lambda d: ",".join(d))
@pytest.mark.parametrize("all_or_nothing", [True, False], ids=["request", "job"])
def test_the_set_based_edit_of_accounts_writes_what_one_update_per_account_writes(
    people: People,
    bulk_both_ways: Callable[..., BothWays],
    classifying: None,
    data: dict[str, Any],
    all_or_nothing: bool,
) -> None:
    indexed: list[tuple[Desk, list[Any]]] = []

    def prepare(made: Desk) -> None:
        varied(made)
        indexed.append((made, documents(made)))

    ways = bulk_both_ways("update", data=data, all_or_nothing=all_or_nothing, prepare=prepare)
    _check_both(ways, "accounts", indexed)
    # What the comparison stands on.
    seen = ways.seen_b
    records = by_place(ways.in_bulk.accounts, seen["accounts"])
    kinds = {row[1] for row in seen["timeline"]}
    if "industry" in data:
        # a[5]'s by hand stays; a[4], software already, is not computed again (nothing it reads changed).
        assert [r["tier"] for r in records] == ["B", "B", "B", "B", "", "A", "B", "B"]
        assert records[0]["fit_score"] > 0
        assert "lifecycle_stage" in kinds and sum(row[1] == "lifecycle_stage" for row in seen["timeline"]) == 7
    if "province" in data:
        assert records[0]["region"] == "西南" and records[1]["region"] == "华南"
    if data.get("tier") == "B":
        assert all(r["tier"] == "B" and r["tier_locked"] for r in records)
        assert sum(row[1] == "tier" for row in seen["timeline"]) == 8
    if data.get("tier") == "":
        assert records[5]["tier_locked"] is False and records[5]["tier"] == "D"
    if "website" in data:
        assert {r["domain"] for r in records} == {"shili-example.com"} and {r["size"] for r in records} == {"large"}
        assert {r["currency"] for r in records} == {"USD"}
    if data.get("region") == "华南":
        assert records[1]["custom_fields"] == {"po": "PO-9"} and records[0]["tier"] == "C"
    if set(data) & Account.notify_fields and data.get("tier") != "":  # a[0]'s tier was empty already
        assert ("a0", people.follower.pk, "changed") in {n[:3] for n in seen["notifications"]}


@pytest.mark.parametrize("data", CONTACT_EDITS, ids=lambda d: ",".join(d))
def test_the_set_based_edit_of_contacts_writes_what_one_update_per_contact_writes(
    bulk_both_ways: Callable[..., BothWays], classifying: None, data: dict[str, Any]
) -> None:
    indexed: list[tuple[Desk, list[Any]]] = []

    def prepare(made: Desk) -> None:
        varied(made)
        indexed.append((made, documents(made)))

    ways = bulk_both_ways("update", path="contacts", data=data, prepare=prepare)
    _check_both(ways, "contacts", indexed)
    records = by_place(ways.in_bulk.contacts, ways.seen_b["contacts"])
    if data.get("email_consent") is True:
        assert all(r["email_consent"] and r["email_consent_at"] == "<time>" for r in records)
        assert records[0]["email_consent_source"] == "web"  # given before: kept as it was
    if "custom_fields" in data:
        assert {r["custom_fields"]["grade"] for r in records} == {"金"}
        assert {r["province"] for r in records} == {"上海市"} and {r["country"] for r in records} == {"CN"}


def counted(patch: pytest.MonkeyPatch, resource: Any) -> dict[str, int]:
    """Count the calls of the resource's update service from now on (in ``patch``'s context)."""
    calls = {"n": 0}
    service = resource.update

    def update(**kwargs: Any) -> Any:
        calls["n"] += 1
        return service(**kwargs)

    patch.setattr(resource, "update", update)
    return calls


def _rule(user: User, field: str, access: str = "readonly", on: str = "account") -> None:
    FieldRule.objects.create(role=user.role, object_type=f"customers.{on}", field=field, access=access)


def test_a_read_only_field_is_refused_as_one_by_one(
    people: People, desk: Callable[[str], Desk], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rep's role makes "industry" read-only: every account is refused, naming the field, and
    nothing is written. "region" read-only refuses a new province only where the region follows
    it (an account without one): in a job, those fail and the others change. Both ways alike."""
    rep = people.rep
    _rule(rep, "industry")
    _rule(rep, "region")
    accounts = resource_at("accounts")
    outcomes = []
    for prefix, hook in (("甲", None), ("乙", accounts.bulk_update)):
        made = desk(prefix)
        mine = [a for a in made.accounts if a.owner_id == rep.pk]
        Account.objects.filter(pk=mine[0].pk).update(region="西南")
        mark = marks()
        with monkeypatch.context() as patch:
            patch.setattr(accounts, "bulk_update", hook)
            calls = counted(patch, accounts)
            with pytest.raises(FieldErrors) as refused:
                apply_in_bulk(rep, mine, "update", data={"industry": "software"})
            job = apply_in_bulk(rep, mine, "update", all_or_nothing=False, data={"province": "广东"})
        assert (calls["n"] == 0) == (prefix == "乙")  # set B: the hook refused, not the service
        first = str(mine[0].pk)
        outcomes.append(
            (
                {k.replace(first, "first"): v for k, v in refused.value.errors.items()},
                (job["changed"], job["failed"]),
                [e["errors"] for e in job["errors"]],
                list(Account.objects.filter(pk__in=[a.pk for a in mine]).order_by("pk").values_list("province")),
            )
        )
        assert not Account.objects.filter(pk__in=[a.pk for a in mine], industry="software").exists()
        changed = ChangeLogEntry.objects.filter(pk__gt=mark[0]).values_list("object_id", flat=True)
        assert list(changed) == [mine[0].pk]
    assert outcomes[0] == outcomes[1]
    assert outcomes[1][0] == {"records.first.industry": ["You may not change this field."]}
    assert outcomes[1][1] == (1, len(outcomes[1][3]) - 1)
    assert outcomes[1][2][0] == {"region": ["You may not change this field."]}


@pytest.mark.parametrize(
    ("path", "data", "field"),
    [
        ("accounts", {"annual_revenue": "-5"}, "annual_revenue"),  # the service's own check
        ("accounts", {"industry": "martian"}, "industry"),  # the model's choices (full_clean)
        ("accounts", {"province": "火星省"}, "province"),
        ("accounts", {"custom_fields": {"grade": "铜"}}, "custom_fields.grade"),
        ("contacts", {"stance": "hostile"}, "stance"),
        ("contacts", {"custom_fields": {"nope": 1}}, "custom_fields.nope"),
    ],
)
def test_a_bad_value_is_refused_naming_the_field_and_nothing_is_written(
    people: People,
    desk: Callable[[str], Desk],
    classifying: None,
    monkeypatch: pytest.MonkeyPatch,
    path: str,
    data: dict[str, Any],
    field: str,
) -> None:
    resource = resource_at(path)
    refusals = []
    for prefix, hook in (("甲", None), ("乙", resource.bulk_update)):
        made = desk(prefix)
        records = made.accounts if path == "accounts" else made.contacts
        mark = marks()
        model = type(records[0])
        rows = model.all_objects.filter(pk__in=[r.pk for r in records]).order_by("pk")
        stored = list(rows.values())
        with monkeypatch.context() as patch, pytest.raises(FieldErrors) as refused:
            patch.setattr(resource, "bulk_update", hook)
            calls = counted(patch, resource)
            apply_in_bulk(people.actor, records, "update", path=path, data=data)
        assert (calls["n"] == 0) == (prefix == "乙")  # set B: the hook refused, not the service
        refusals.append({k.replace(str(records[0].pk), "r0"): v for k, v in refused.value.errors.items()})
        assert marks() == mark  # no change-log row, timeline entry or notification
        assert list(rows.values()) == stored  # nor any value, version or time changed
    assert refusals[0] == refusals[1] and list(refusals[1]) == [f"records.r0.{field}"]


def test_a_required_custom_field_refuses_the_records_without_it(
    bulk_both_ways: Callable[..., BothWays], classifying: None
) -> None:
    """Setting one custom field merges it over each record's: where a required one is missing, the
    record is refused (in a job, listed), as the service would; a[1], which has it, changes."""

    def prepare(made: Desk) -> None:
        varied(made)
        CustomFieldDefinition.objects.filter(key="po").update(required=True)  # after the records were added

    ways = bulk_both_ways("update", data={"custom_fields": {"grade": "金"}}, all_or_nothing=False, prepare=prepare)
    a_errors, b_errors = ways.result_a.pop("errors"), ways.result_b.pop("errors")
    assert ways.result_a == ways.result_b
    assert (ways.result_b["changed"], ways.result_b["failed"]) == (1, 7)
    assert [e["errors"] for e in a_errors] == [e["errors"] for e in b_errors]
    assert b_errors[0]["errors"] == {"custom_fields.po": ["This field is required."]}
    assert ways.queries_b * 2 < ways.queries_a  # the hook refused them, in a few statements
    assert_same(ways.seen_a, ways.seen_b)


def _edit_queries(n: int, p: People, make_account: Callable[..., Account]) -> int:
    ids = []
    for i in range(n):
        account = make_account(name=f"数量{n}公司{i}", owner_id=p.rep.pk)
        ids.append(account.pk)
    follow_many(user=p.follower, model=Account, pks=ids, following=True)
    data = {"industry": "software", "lifecycle_stage": "customer", "province": "广东", "custom_fields": {"grade": "金"}}
    plan = bulk.bulk_plan(resource=resource_at("accounts"), user=p.actor, action="update", data=data)
    with CaptureQueriesContext(connection) as queries:
        result = bulk.bulk_apply_ids(plan, p.actor, ids, all_or_nothing=True)
    assert result["changed"] == n
    assert Account.objects.filter(pk__in=ids, industry="software", region="华南").count() == n
    return len(queries)


def test_the_queries_do_not_grow_with_the_records(
    people: People, make_account: Callable[..., Account], classifying: None
) -> None:
    few = _edit_queries(20, people, make_account)
    many = _edit_queries(60, people, make_account)
    assert few == many, (few, many)


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("accounts", {"name": "同名公司"}),  # 撞单保护 and duplicate keys, per record
        ("accounts", {"registration_number": ""}),
        ("accounts", {"industry": "software", "external_id": ""}),  # one field it leaves: all of it goes
        ("accounts", {"owner": None}),
        ("contacts", {"given_name": "某"}),
        ("contacts", {"birthday": "1990-10-03"}),
        ("contacts", {"team": None}),
    ],
)
def test_the_fields_it_leaves_go_one_by_one(
    people: People, desk: Callable[[str], Desk], path: str, data: dict[str, Any]
) -> None:
    made = desk("乙")
    records = made.accounts if path == "accounts" else made.contacts
    plan = bulk.bulk_plan(resource=resource_at(path), user=people.actor, action="update", data=data)
    hook = resource_at(path).bulk_update
    assert hook is not None
    with CaptureQueriesContext(connection) as queries:
        assert hook(user=people.actor, pks=[r.pk for r in records], data=plan.data, custom_fields=None) is None
    assert len(queries) == 0  # declined before it reads anything
    result = apply_in_bulk(people.actor, records, "update", path=path, data=data)
    assert result["changed"] == 8
    model = type(records[0])
    for record in model.all_objects.filter(pk__in=[r.pk for r in records]):
        assert {k: getattr(record, k) for k in plan.data} == plan.data


def test_a_parent_for_many_goes_one_by_one_and_a_new_country_with_a_number_too(
    people: People, bulk_both_ways: Callable[..., BothWays], make_account: Callable[..., Account]
) -> None:
    parent = make_account(name="集团总部", owner_id=people.rep.pk)
    ways = bulk_both_ways("update", data={"parent": parent.pk})
    assert ways.result_a == ways.result_b and ways.result_b["changed"] == 8
    assert_same(ways.seen_a, ways.seen_b)
    assert sum(row[1] == "parent" for row in ways.seen_b["timeline"]) == 8

    def numbered(made: Desk) -> None:  # a registration number read again for the new country
        Account.objects.filter(pk=made.accounts[0].pk).update(registration_number="91310000ma1k4abc1x")

    ways = bulk_both_ways("update", data={"country": "HK"}, prepare=numbered)
    assert ways.result_a == ways.result_b and ways.result_b["changed"] == 8
    assert_same(ways.seen_a, ways.seen_b)
    assert ways.queries_b * 2 > ways.queries_a  # declined: one by one both ways


def test_the_list_bulk_bar_edits_set_based_and_says_a_refusal_on_the_form(
    people: People, make_account: Callable[..., Account]
) -> None:
    """The list's 修改字段 on the selected records: through ``core.bulk`` (and so the hook), all or
    nothing; a refused value is said beside its input, naming no record id."""
    client = Client()
    client.force_login(people.actor)
    accounts = [make_account(name=f"列表公司{i}", owner_id=people.rep.pk) for i in range(12)]
    pks = [a.pk for a in accounts]

    def post(name: str, value: str) -> Any:
        body = {"action": "edit", "step": "apply", "_apply": name, name: value, "pk": pks}
        with CaptureQueriesContext(connection) as queries:
            response = client.post("/customers/accounts/bulk/", body)
        return response, len(queries)

    done, statements = post("industry", "software")
    assert done.status_code == 302, done.content.decode()[:500]
    assert Account.objects.filter(pk__in=pks, industry="software").count() == 12
    assert statements < 12 * 4, statements  # one service call an account took about 8
    refused, _statements = post("annual_revenue", "-5")
    assert refused.status_code == 400
    html = refused.content.decode()
    assert "Use 0 (not known) or more." in html and f"records.{pks[0]}" not in html
    assert not Account.objects.filter(pk__in=pks, annual_revenue=-5).exists()
    assert search(people.actor, "列表公司1")  # the index kept up
