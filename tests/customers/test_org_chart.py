"""The customer's decision chain (决策链): whom a person reports to, their decision role and stance,
the account's people as a tree (page and ``GET /accounts/{id}/org-chart``), a person's direct
reports, the filters, the import's columns and merges, on both engines."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from guanxi.customers import org_chart
from guanxi.customers.filters import ContactFilterSet
from guanxi.customers.models import Account, Contact
from guanxi.customers.services import merge as merge_services
from guanxi.identity.models import User
from tests.customers.conftest import Api
from tests.customers.test_import import csv_bytes, job_client, read_errors, upload
from tests.factories import field_rule

pytestmark = pytest.mark.django_db


@pytest.fixture
def company(rep: User, make_account: Callable[..., Account], make_contact: Callable[..., Contact]) -> dict[str, Any]:
    """华信科技: 总经理 王总 (decision maker) ← 采购经理 李采购 (buyer, supporter) ← 采购专员 赵专员;
    王总 ← 技术总监 钱工 (evaluator, opponent); 孙助理 with no manager. All the rep's."""
    account = make_account(by=rep, name="华信科技")

    def person(family: str, given: str, **data: Any) -> Contact:
        return make_contact(by=rep, family_name=family, given_name=given, accounts=[{"account": account.pk}], **data)

    boss = person("王", "总", title="总经理", decision_role="decision_maker", stance="neutral")
    buyer = person("李", "采购", title="采购经理", decision_role="buyer", stance="supporter", reports_to_id=boss.pk)
    clerk = person("赵", "专员", title="采购专员", reports_to_id=buyer.pk)
    engineer = person("钱", "工", title="技术总监", decision_role="evaluator", stance="opponent", reports_to_id=boss.pk)
    assistant = person("孙", "助理", title="助理")
    return {
        "account": account,
        "boss": boss,
        "buyer": buyer,
        "clerk": clerk,
        "engineer": engineer,
        "assistant": assistant,
    }


def page(client: Client, name: str, pk: int) -> str:
    response = client.get(reverse(f"ui:{name}-detail", args=[pk]))
    assert response.status_code == 200
    return response.content.decode()


def drawn(html: str) -> list[tuple[int, int]]:
    """(contact id, depth) of the account page's contacts panel, in order."""
    panel = html[html.index('id="account-contacts"') :]
    return [(int(pk), int(depth)) for pk, depth in re.findall(r'data-contact="(\d+)" data-depth="(\d+)"', panel)]


def test_the_account_page_draws_its_people_as_a_tree(company: dict[str, Any], rep: User) -> None:
    client = Client()
    client.force_login(rep)
    html = page(client, "accounts", company["account"].pk)
    c = company
    # Under 王总 the buyer before the evaluator (who decides first), the clerk under the buyer;
    # 孙助理, with no manager, at the top after the decision maker.
    assert drawn(html) == [
        (c["boss"].pk, 0),
        (c["buyer"].pk, 1),
        (c["clerk"].pk, 2),
        (c["engineer"].pk, 1),
        (c["assistant"].pk, 0),
    ]
    assert "gx-org-depth-2" in html
    assert html.count("data-decision-role") == 3 and html.count("data-stance") == 3
    assert ">Technical evaluator<" in html and ">Opponent<" in html


def test_a_contacts_page_names_the_manager_and_lists_direct_reports(company: dict[str, Any], rep: User) -> None:
    client = Client()
    client.force_login(rep)
    html = page(client, "contacts", company["boss"].pk)
    reports = html[html.index('id="contact-reports"') :]
    assert reports.index("李采购") < reports.index("钱工")  # by name: 李 (li) before 钱 (qian)
    assert "赵专员" not in reports  # reports to the buyer, not to the boss
    buyer = page(client, "contacts", company["buyer"].pk)
    assert f'href="{reverse("ui:contacts-detail", args=[company["boss"].pk])}"' in buyer  # reports to
    assert 'id="contact-reports"' in buyer and 'id="contact-reports"' not in page(
        client, "contacts", company["clerk"].pk
    )


def test_the_api_nests_the_chart_through_restrict(
    company: dict[str, Any],
    rep: User,
    other_rep: User,
    api_for: Callable[[User], Api],
    make_contact: Callable[..., Contact],
) -> None:
    c = company
    # Someone else's contact at the same company, reporting to the buyer: the rep does not see them.
    make_contact(
        owner_id=other_rep.pk,
        family_name="周",
        given_name="密",
        accounts=[{"account": c["account"].pk}],
        reports_to_id=c["buyer"].pk,
    )
    # The rep's clerk now reports to a manager the rep may not see: the clerk is at the top.
    hidden_boss = make_contact(owner_id=other_rep.pk, family_name="吴", given_name="上级")
    Contact.objects.filter(pk=c["clerk"].pk).update(reports_to=hidden_boss)
    body = api_for(rep).get(f"accounts/{c['account'].pk}/org-chart").json()
    assert body["mapped_only"] is False
    tops = [(item["name"], [r["name"] for r in item["reports"]]) for item in body["items"]]
    assert tops == [("王总", ["李采购", "钱工"]), ("孙助理", []), ("赵专员", [])]
    buyer = body["items"][0]["reports"][0]
    assert buyer["decision_role"] == "buyer" and buyer["stance"] == "supporter" and buyer["title"] == "采购经理"
    assert buyer["reports_to"] == c["boss"].pk and buyer["reports"] == []
    assert "周密" not in str(body) and "吴上级" not in str(body)
    other = Account.objects.create(name="别家", owner=other_rep)
    assert api_for(rep).get(f"accounts/{other.pk}/org-chart").status_code == 404


def test_a_role_that_may_not_read_the_manager_sees_no_tree(
    company: dict[str, Any], rep: User, sales_role: Any, api_for: Callable[[User], Api]
) -> None:
    field_rule(sales_role, "customers.contact", "reports_to", "hidden")
    field_rule(sales_role, "customers.contact", "stance", "hidden")
    body = api_for(rep).get(f"accounts/{company['account'].pk}/org-chart").json()
    assert all(item["reports"] == [] and item["reports_to"] is None for item in body["items"])
    assert {item["stance"] for item in body["items"]} == {""}
    client = Client()
    client.force_login(rep)
    html = page(client, "accounts", company["account"].pk)
    assert {depth for _pk, depth in drawn(html)} == {0} and "data-stance" not in html
    assert 'id="contact-reports"' not in page(client, "contacts", company["boss"].pk)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("self", "A person cannot report to themselves."),
        ("loop", "This person already reports to them, directly or not; that would make a loop."),
        ("hidden", "No contact with id"),
    ],
)
def test_a_manager_is_checked(
    company: dict[str, Any],
    rep: User,
    other_rep: User,
    api_for: Callable[[User], Api],
    make_contact: Callable[..., Contact],
    change: str,
    message: str,
) -> None:
    c = company
    target, manager = {
        "self": (c["boss"], c["boss"]),
        "loop": (c["boss"], c["clerk"]),  # the clerk reports to the buyer, who reports to the boss
        "hidden": (c["boss"], make_contact(owner_id=other_rep.pk, family_name="外", given_name="人")),
    }[change]
    response = api_for(rep).patch(f"contacts/{target.pk}", {"reports_to": manager.pk})
    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert [e["field"] for e in errors] == ["reports_to"] and errors[0]["detail"].startswith(message)
    assert Contact.objects.get(pk=target.pk).reports_to_id is None


def test_a_chain_of_many_levels_is_refused_at_the_limit(
    rep: User, make_contact: Callable[..., Contact], api_for: Callable[[User], Api], monkeypatch: pytest.MonkeyPatch
) -> None:
    from guanxi.customers.services import contacts

    monkeypatch.setattr(contacts, "MAX_HIERARCHY_DEPTH", 3)
    people = [make_contact(by=rep, given_name="第0")]
    for i in range(1, 4):
        people.append(make_contact(by=rep, given_name=f"第{i}", reports_to_id=people[-1].pk))
    newcomer = make_contact(by=rep, given_name="新人")
    response = api_for(rep).patch(f"contacts/{newcomer.pk}", {"reports_to": people[-1].pk})
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "reports_to", "detail": "A reporting line is at most 3 people long."}
    ]
    assert api_for(rep).patch(f"contacts/{newcomer.pk}", {"reports_to": people[-2].pk}).status_code == 200


def test_a_loop_in_the_data_ends_the_walk() -> None:
    rows = [
        {"pk": 1, "manager": 2, "role": "", "is_primary": False, "name": "甲"},
        {"pk": 2, "manager": 1, "role": "", "is_primary": False, "name": "乙"},
        {"pk": 3, "manager": 3, "role": "", "is_primary": False, "name": "丙"},
    ]
    chart = org_chart.arrange(rows)
    assert sorted(node.pk for node in chart.nodes) == [1, 2, 3]
    assert len(chart.nodes) == 3


def test_a_large_account_charts_the_mapped_people(
    company: dict[str, Any],
    rep: User,
    make_contact: Callable[..., Contact],
    api_for: Callable[[User], Api],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(org_chart, "CHART_LIMIT", 5)
    c = company
    for i in range(3):  # unmapped people
        make_contact(by=rep, family_name="散", given_name=f"{i}", accounts=[{"account": c["account"].pk}])
    body = api_for(rep).get(f"accounts/{c['account'].pk}/org-chart").json()
    assert body["mapped_only"] is True
    names = str(body)
    assert all(name in names for name in ("王总", "李采购", "赵专员", "钱工")) and "孙助理" not in names
    client = Client()
    client.force_login(rep)
    html = page(client, "accounts", c["account"].pk)
    assert [pk for pk, _depth in drawn(html)] == [c[k].pk for k in ("boss", "buyer", "clerk", "engineer")]
    assert 'id="account-contacts-mapped"' in html and 'id="account-contacts-more"' in html


def test_the_account_page_reads_the_chart_in_a_fixed_number_of_queries(
    company: dict[str, Any], rep: User, make_contact: Callable[..., Contact]
) -> None:
    client = Client()
    client.force_login(rep)
    account = company["account"]

    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            page(client, "accounts", account.pk)
        return len(captured)

    page(client, "accounts", account.pk)
    before = count()
    manager = company["clerk"]
    for i in range(6):
        manager = make_contact(
            by=rep,
            family_name="层",
            given_name=f"{i}",
            decision_role="user",
            reports_to_id=manager.pk,
            accounts=[{"account": account.pk}],
        )
    assert count() == before
    assert max(depth for _pk, depth in drawn(page(client, "accounts", account.pk))) == 5  # drawn at most 5 deep


def test_filters_pick_roles_stances_and_reports(
    company: dict[str, Any], rep: User, api_for: Callable[[User], Api]
) -> None:
    api = api_for(rep)

    def names(query: str) -> list[str]:
        response = api.get(f"contacts?{query}&ordering=display_name")
        assert response.status_code == 200, response.content
        return [item["display_name"] for item in response.json()["items"]]

    assert names("decision_role=buyer") == ["李采购"]
    assert names("decision_role__in=buyer,evaluator") == ["李采购", "钱工"]
    assert names("stance=opponent") == ["钱工"]
    assert names(f"reports_to={company['boss'].pk}") == ["李采购", "钱工"]
    assert names("reports_to__isnull=true") == ["孙助理", "王总"]
    refused = api.get("contacts?decision_role=boss")
    assert refused.status_code == 400 and [e["field"] for e in refused.json()["errors"]] == ["decision_role"]


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's plan; PostgreSQL proves the index's condition")
def test_a_role_filter_reads_its_partial_index(company: dict[str, Any], admin: User) -> None:
    """Most contacts have no decision role (none imported has): their index holds only those set, and
    SQLite uses it only when the query states its condition (``FilterSet.sparse_columns``)."""
    qs = ContactFilterSet({"decision_role": "buyer"}, admin).filter(Contact.objects.all()).order_by("-updated_at")
    assert "contact_decision_role_idx" in qs.explain()
    qs = ContactFilterSet({"stance__in": "supporter,opponent"}, admin).filter(Contact.objects.all())
    assert "contact_stance_idx" in qs.explain()


def test_merging_people_moves_their_reports_and_undo_puts_them_back(
    company: dict[str, Any], admin: User, make_contact: Callable[..., Contact]
) -> None:
    c = company
    twin = make_contact(family_name="李", given_name="采购", accounts=[{"account": c["account"].pk}])
    helper = make_contact(family_name="何", given_name="助手", reports_to_id=twin.pk)
    # The survivor takes its manager from the twin: the buyer itself, one of the merged. It then
    # keeps the buyer's own manager rather than reporting to itself.
    Contact.objects.filter(pk=twin.pk).update(reports_to=c["buyer"])
    merge = merge_services.contact_merge(
        survivor=c["buyer"].pk, others=[twin.pk], user=admin, fields={"reports_to": twin.pk}
    )
    buyer = Contact.objects.get(pk=c["buyer"].pk)
    assert buyer.reports_to_id == c["boss"].pk
    assert Contact.objects.get(pk=helper.pk).reports_to_id == buyer.pk
    assert Contact.objects.get(pk=c["clerk"].pk).reports_to_id == buyer.pk
    merge_services.merge_undo(merge_id=merge.pk, user=admin)
    assert Contact.objects.get(pk=helper.pk).reports_to_id == twin.pk
    assert Contact.objects.get(pk=c["buyer"].pk).reports_to_id == c["boss"].pk


def test_the_import_reads_decision_roles_and_stances(admin: Any, django_capture_on_commit_callbacks: Any) -> None:
    client = job_client(admin, django_capture_on_commit_callbacks)
    rows = [
        ["姓名", "手机", "决策角色", "态度"],
        ["王决策", "13900000001", "决策人", "支持"],
        ["李拍板", "13900000002", "拍板人", ""],
        ["张评估", "13900000003", "Technical evaluator", "opponent"],
        ["赵错误", "13900000004", "老板", "中立"],
    ]
    body = upload(client, csv_bytes(rows), start="true").json()
    assert body["mapping"]["决策角色"] == "decision_role" and body["mapping"]["态度"] == "stance"
    people = dict(Contact.objects.values_list("display_name", "decision_role"))
    assert people == {"王决策": "decision_maker", "李拍板": "decision_maker", "张评估": "evaluator"}
    assert Contact.objects.get(display_name="张评估").stance == "opponent"
    errors = read_errors(client, body["id"])
    assert [row[:3] for row in errors[1:]] == [["5", "决策角色", "老板"]] and errors[1][3]
