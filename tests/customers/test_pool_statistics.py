"""Release reasons (退回原因) and the customer pool's statistics (公海统计): an account goes back to the
pool with one of the reasons an administrator keeps, words of one's own, or both; the statistics count
what went in and out in a period, per salesperson, per reason and per pool rule."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from guanxi.core.models import TimelineEntry
from guanxi.customers import services
from guanxi.customers.models import Account, PoolMove, PoolReason, PoolRule
from guanxi.customers.selectors import day_bounds, pool_statistics, statistics_period
from guanxi.identity.models import RolePermission, User
from tests.customers.conftest import Api, grant
from tests.factories import client_for

pytestmark = pytest.mark.django_db


def _errors(response: Any) -> dict[str, str]:
    return {e["field"]: e["detail"] for e in (response.json_body or {}).get("errors", [])}


def reason(label_zh: str) -> PoolReason:
    return PoolReason.objects.get(label_zh=label_zh)


@pytest.fixture
def reasons_readable(sales_role: Any) -> None:
    """The reps' role reads the release reasons (the migration grants it to roles that change accounts;
    the test roles are made after it)."""
    grant(sales_role, "customers.poolreason", ("view",), "all")


def test_the_usual_reasons_come_with_the_install() -> None:
    assert list(PoolReason.objects.order_by("position").values_list("label_zh", "label_en"))[:2] == [
        ("客户无意向", "No interest"),
        ("联系不上", "Cannot reach them"),
    ]
    assert PoolReason.objects.filter(is_active=True).count() == 6


def test_a_release_names_a_reason_and_adds_words(
    rep: User, reasons_readable: None, make_account: Callable[..., Account], api_for: Callable[[User], Api]
) -> None:
    account = make_account(by=rep, name="甲公司")
    response = api_for(rep).post(
        f"accounts/{account.pk}/release", {"reason_id": reason("联系不上").pk, "reason": "前台说人已离职"}
    )
    assert response.status_code == 200, response.json_body
    account.refresh_from_db()
    # The pool shows the reason in the releaser's language, then their words.
    assert account.pool_reason == "Cannot reach them：前台说人已离职"
    entry = TimelineEntry.objects.filter(object_id=account.pk, kind="pool").get()
    assert entry.body == "Cannot reach them：前台说人已离职" and entry.data["from"] == rep.pk
    move = PoolMove.objects.get(account=account)  # what the statistics count
    assert (move.kind, move.user_id, move.reason_id, move.rule_id) == ("released", rep.pk, reason("联系不上").pk, None)

    other = make_account(by=rep, name="乙公司")
    assert api_for(rep).post(f"accounts/{other.pk}/release", {"reason_id": reason("已选择竞品").pk}).status_code == 200
    assert Account.objects.get(pk=other.pk).pool_reason == "Chose a competitor"


def test_a_release_needs_a_reason_it_may_choose_or_words(
    rep: User, reasons_readable: None, make_account: Callable[..., Account], api_for: Callable[[User], Api]
) -> None:
    account = make_account(by=rep, name="甲公司")
    api = api_for(rep)
    nothing = api.post(f"accounts/{account.pk}/release", {})
    assert nothing.status_code == 400 and "reason" in _errors(nothing)
    PoolReason.objects.filter(label_zh="其他").update(is_active=False)
    for bad in (reason("其他").pk, 999_999):
        refused = api.post(f"accounts/{account.pk}/release", {"reason_id": bad, "reason": "x"})
        assert refused.status_code == 400 and "choose one from the list" in _errors(refused)["reason_id"]
    # The reason and the words together fit the pool's 300 characters (PostgreSQL would refuse more).
    long = api.post(f"accounts/{account.pk}/release", {"reason_id": reason("联系不上").pk, "reason": "长" * 290})
    assert long.status_code == 400 and "282 characters" in _errors(long)["reason"]
    # A role that may not read the reasons may not choose one, and still says why in words.
    RolePermission.objects.filter(object_type="customers.poolreason").delete()
    rep.refresh_from_db()
    refused = api_for(rep).post(f"accounts/{account.pk}/release", {"reason_id": reason("联系不上").pk})
    assert refused.status_code == 400 and "reason_id" in _errors(refused)
    assert Account.objects.get(pk=account.pk).pooled_at is None  # nothing half-done
    assert api_for(rep).post(f"accounts/{account.pk}/release", {"reason": "不再做这个行业"}).status_code == 200


def test_the_release_forms_offer_the_reasons(
    rep: User, reasons_readable: None, make_account: Callable[..., Account]
) -> None:
    account = make_account(by=rep, name="甲公司")
    client = client_for(rep)
    page = client.get(reverse("ui:accounts-detail", args=[account.pk])).content.decode()
    assert 'name="reason_id"' in page and "Cannot reach them" in page
    bulk = reverse("ui:accounts-bulk")
    confirm = client.post(bulk, {"action": "release", "pk": [account.pk]}).content.decode()
    assert 'id="bulk-reason-id"' in confirm and "No interest" in confirm
    # Its first line short, as on the record's form (a phone's select shows it whole), the rest a hint.
    assert "— choose a reason —" in confirm and 'id="bulk-reason-id-hint"' in confirm
    # Neither chosen nor said: the form again, saying so, with nothing released.
    empty = client.post(bulk, {"action": "release", "pk": [account.pk], "confirm": "yes", "reason_id": ""})
    assert empty.status_code == 400 and "is-invalid" in empty.content.decode()
    chosen = reason("客户无意向").pk
    done = client.post(bulk, {"action": "release", "pk": [account.pk], "confirm": "yes", "reason_id": str(chosen)})
    assert done.status_code == 302
    assert Account.objects.get(pk=account.pk).pool_reason == "No interest"
    other = make_account(by=rep, name="乙公司")
    posted = client.post(
        reverse("ui:accounts-release", args=[other.pk]), {"reason_id": str(chosen), "reason": "只做内贸"}
    )
    assert posted.status_code == 302
    assert Account.objects.get(pk=other.pk).pool_reason == "No interest：只做内贸"


def test_a_bulk_release_through_the_api_takes_a_reason(
    rep: User, reasons_readable: None, make_account: Callable[..., Account], api_for: Callable[[User], Api]
) -> None:
    accounts = [make_account(by=rep, name=f"公司{n}") for n in range(3)]
    response = api_for(rep).post(
        "accounts/bulk", {"action": "release", "ids": [a.pk for a in accounts], "reason_id": reason("联系不上").pk}
    )
    assert response.status_code == 200, response.json_body
    assert set(Account.objects.filter(pk__in=[a.pk for a in accounts]).values_list("pool_reason", flat=True)) == {
        "Cannot reach them"
    }
    refused = api_for(rep).post("accounts/bulk", {"action": "release", "ids": [accounts[0].pk], "reason_id": 0})
    assert refused.status_code == 400 and "reason_id" in _errors(refused)


def test_a_role_may_require_a_reason_from_the_list(
    rep: User,
    admin: User,
    sales_role: Any,
    reasons_readable: None,
    make_account: Callable[..., Account],
    api_for: Callable[[User], Api],
) -> None:
    """退回时必须选择原因: words alone no longer do for that role; an administrator is not bound."""
    from guanxi.identity.models import Role

    Role.objects.filter(pk=sales_role.pk).update(pool_reason_required=True)
    accounts = [make_account(by=rep, name=f"要理由的{n}") for n in range(3)]
    api = api_for(rep)
    refused = api.post(f"accounts/{accounts[0].pk}/release", {"reason": "不做了"})
    assert refused.status_code == 400 and "choose one" in _errors(refused)["reason_id"]
    bulk = api.post("accounts/bulk", {"action": "release", "ids": [a.pk for a in accounts], "reason": "不做了"})
    assert bulk.status_code == 400 and "reason_id" in _errors(bulk)
    assert not Account.objects.filter(pk__in=[a.pk for a in accounts], pooled_at__isnull=False).exists()
    client = client_for(rep)
    page = client.get(f"/customers/accounts/{accounts[0].pk}/").content.decode()
    assert 'name="reason_id" required' in page
    bulk_page = client.post(
        "/customers/accounts/bulk/", {"action": "release", "pk": [a.pk for a in accounts], "next": "/"}
    ).content.decode()
    assert 'id="bulk-reason-id" class="form-select mb-2" required' in bulk_page
    assert 'id="bulk-reason-id-hint"' not in bulk_page
    done = api.post(f"accounts/{accounts[0].pk}/release", {"reason_id": reason("联系不上").pk, "reason": "换号了"})
    assert done.status_code == 200 and Account.objects.get(pk=accounts[0].pk).pool_reason == "Cannot reach them：换号了"
    assert api_for(admin).post(f"accounts/{accounts[1].pk}/release", {"reason": "管理员清理"}).status_code == 200
    # With no reason offered (every one switched off), words do again: a release is never impossible.
    PoolReason.objects.update(is_active=False)
    assert api_for(rep).post(f"accounts/{accounts[2].pk}/release", {"reason": "没有原因可选"}).status_code == 200


# --- the statistics ----------------------------------------------------------------------------------


@pytest.fixture
def moves(
    admin: User, rep: User, other_rep: User, make_account: Callable[..., Account], reasons_readable: None
) -> dict[str, Any]:
    """This month: the rep released two accounts (联系不上, and in words only) and the rules took back one
    of theirs; the other rep claimed one. Last month: a release that the period leaves out."""
    mine = [make_account(by=rep, name=f"李雷的客户{n}", lifecycle_stage="prospect") for n in range(4)]
    services.pool_release(pk=mine[0].pk, user=rep, reason_id=reason("联系不上").pk)
    services.pool_release(pk=mine[1].pk, user=rep, reason="不做了")
    rule = PoolRule.objects.create(name="潜在客户30天", conditions={"lifecycle_stages": ["prospect"]}, idle_days=30)
    long_ago = timezone.now() - datetime.timedelta(days=40)
    Account.objects.filter(pk=mine[2].pk).update(created_at=long_ago, owner_since=long_ago)
    assert services.pool_recycle() == {rule.name: 1}
    services.pool_claim(pk=mine[0].pk, user=other_rep)
    services.pool_release(pk=mine[3].pk, user=rep, reason_id=reason("客户无意向").pk)
    long_before = timezone.now() - datetime.timedelta(days=70)
    PoolMove.objects.filter(account=mine[3]).update(at=long_before)
    TimelineEntry.objects.filter(object_id=mine[3].pk, kind="pool").update(at=long_before)

    return {"rule": rule, "accounts": mine}


def this_month(user: User) -> Any:
    return pool_statistics(user, *day_bounds(*statistics_period(None, None)))


def test_the_statistics_count_releases_rule_returns_and_claims(
    admin: User, rep: User, other_rep: User, moves: dict[str, Any]
) -> None:
    figures = this_month(admin)
    assert (figures.released, figures.taken_back, figures.claimed) == (2, 1, 1)
    by_person = {row["id"]: row for row in figures.people}
    assert {k: by_person[rep.pk][k] for k in ("released", "taken_back", "claimed")} == {
        "released": 2,
        "taken_back": 1,
        "claimed": 0,
    }
    assert by_person[other_rep.pk]["claimed"] == 1
    assert {(row["id"], row["count"]) for row in figures.reasons} == {(reason("联系不上").pk, 1), (None, 1)}
    assert figures.rules == [{"id": moves["rule"].pk, "label": "潜在客户30天", "count": 1}]
    # The whole of the period of the old release, and only it.
    day = (timezone.localdate() - datetime.timedelta(days=70)).isoformat()
    old = pool_statistics(admin, *day_bounds(*statistics_period(day, day)))
    assert (old.released, old.reasons[0]["label"]) == (1, "No interest")


def test_the_statistics_count_what_the_reader_may_see(admin: User, other_rep: User, moves: dict[str, Any]) -> None:
    """The other rep sees the pool and the account they claimed; not one an administrator claimed since."""
    services.pool_claim(pk=moves["accounts"][1].pk, user=admin)
    assert (this_month(admin).released, this_month(admin).claimed) == (2, 2)
    figures = this_month(other_rep)
    assert (figures.released, figures.taken_back, figures.claimed) == (1, 1, 1)


def test_the_statistics_read_in_a_fixed_number_of_queries(
    admin: User, rep: User, make_account: Callable[..., Account], moves: dict[str, Any]
) -> None:
    with CaptureQueriesContext(connection) as few:
        this_month(admin)
    for n in range(6):
        account = make_account(by=rep, name=f"更多{n}")
        services.pool_release(pk=account.pk, user=rep, reason_id=reason("其他").pk)
    with CaptureQueriesContext(connection) as more:
        assert this_month(admin).released == 8
    assert len(more) == len(few)


def test_the_statistics_page_and_api(admin: User, moves: dict[str, Any], api_for: Callable[[User], Api]) -> None:
    client = client_for(admin)
    page = client.get(reverse("ui:pool-statistics")).content.decode()
    assert 'data-total="released">2<' in page and "潜在客户30天" in page and "Cannot reach them" in page
    assert 'href="/customers/pool/statistics/"' in page  # in the Customers menu
    bad = client.get(reverse("ui:pool-statistics"), {"from": "2026-13-01"}).content.decode()
    assert 'id="period-errors"' in bad and "YYYY-MM-DD" in bad
    api = api_for(admin)
    body = api.get("accounts/pool-statistics").json_body
    assert (body["released"], body["taken_back"], body["claimed"]) == (2, 1, 1)
    assert body["from"] == timezone.localdate().replace(day=1).isoformat()
    refused = api.get("accounts/pool-statistics?from=2026-12-05&to=2026-12-01")
    assert refused.status_code == 400 and "to" in _errors(refused)


def test_reasons_are_kept_in_settings(admin: User, api_for: Callable[[User], Api]) -> None:
    api = api_for(admin)
    made = api.post("pool-reasons", {"label_zh": "价格太高", "label_en": "Price too high", "position": 5})
    assert made.status_code == 201, made.json_body
    listed = api.get("pool-reasons").json_body["items"]
    assert listed[0]["label_zh"] == "价格太高"
    missing = api.post("pool-reasons", {"label_zh": "只有中文"})
    assert missing.status_code == 400 and "label_en" in _errors(missing)
    assert client_for(admin).get("/settings/pool-reasons/").status_code == 200


def test_a_merge_counts_the_merged_companys_moves_under_the_survivor(
    admin: User, rep: User, make_account: Callable[..., Account], moves: dict[str, Any]
) -> None:
    """Merged away, a company goes to the recycle bin; its moves count under the company it became,
    and go back with an undo."""
    released = moves["accounts"][1]  # in the pool, released by the rep in words
    survivor = make_account(by=admin, name="合并后的公司")
    merge = services.account_merge(survivor=survivor.pk, others=[released.pk], user=admin)
    assert this_month(admin).released == 2
    assert PoolMove.objects.filter(account=survivor).count() == 1
    services.merge_undo(merge_id=merge.pk, user=admin)
    assert PoolMove.objects.filter(account=released).count() == 1


def test_moves_from_before_the_table_are_read_from_the_timeline(admin: User, moves: dict[str, Any]) -> None:
    """The migration counts the moves the timeline told before (without their reasons and rules)."""
    from importlib import import_module

    from django.apps import apps

    before = this_month(admin)
    PoolMove.objects.all().delete()
    import_module("guanxi.customers.migrations.0017_pool_reasons_and_moves").backfill(apps, None)
    after = this_month(admin)
    assert (after.released, after.taken_back, after.claimed) == (before.released, before.taken_back, before.claimed)
    assert [row["id"] for row in after.rules] == [None]  # the rule is not in the timeline's data


def test_the_statistics_download_as_excel_and_csv(
    admin: User, rep: User, other_rep: User, moves: dict[str, Any]
) -> None:
    """The page's figures as a file, a sheet (or a CSV block) per table; names stay text."""
    import csv
    import io

    from python_calamine import CalamineWorkbook

    User.objects.filter(pk=rep.pk).update(display_name='=HYPERLINK("http://evil.example")')
    client = client_for(admin)
    url = reverse("ui:pool-statistics")
    assert 'data-format="xlsx"' in client.get(url).content.decode()
    response = client.get(url, {"format": "xlsx"})
    assert response.status_code == 200 and "spreadsheetml" in response["Content-Type"]
    assert "filename*=UTF-8''Pool%20statistics_" in response["Content-Disposition"]
    book = CalamineWorkbook.from_filelike(io.BytesIO(response.content))
    sheets = [book.get_sheet_by_name(name).to_python() for name in book.sheet_names]
    assert book.sheet_names == ["Totals", "By salesperson", "Release reasons", "Pool rules"]
    assert [int(n) for n in sheets[0][1][1:]] == [2, 1, 1]
    people = {row[0]: [int(n) for n in row[1:]] for row in sheets[1][1:]}
    assert people['\'=HYPERLINK("http://evil.example")'] == [2, 1, 0]  # text, never a formula
    assert sheets[3][1][0] == "潜在客户30天"

    rows = list(csv.reader(io.StringIO(client.get(url, {"format": "csv"}).content.decode("utf-8-sig"))))
    assert rows[:3] == [["Totals"], ["Period", "Released by hand", "Taken back by the rules", "Claimed"], rows[2]]
    assert rows[2][1:] == ["2", "1", "1"]
    assert ['\'=HYPERLINK("http://evil.example")', "2", "1", "0"] in rows
    # What the reader may see, as on the page: an account an administrator claims leaves the other
    # rep's figures.
    services.pool_claim(pk=moves["accounts"][1].pk, user=admin)
    theirs = client_for(other_rep).get(url, {"format": "csv"}).content.decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(theirs)))[2][1:] == ["1", "1", "1"]
    # A wrong day shows the page and its message, not a file of another period.
    bad = client.get(url, {"format": "csv", "from": "2026-13-01"})
    assert bad["Content-Type"].startswith("text/html") and 'id="period-errors"' in bad.content.decode()
