"""The recycle bin (回收站) for many records: one type at a time by keyset pages, newest deletion first;
found by name, by who deleted and by when; restored or purged many at once through the bulk actions
``restore`` and ``purge`` (``core.bulk``), each record through its service, a refused one named with
its reason while the others go on; 撤销 right after a list's bulk delete; the restorer told whose
customer a restored one is too (撞单保护 under ``tell``). Page, API and the job path alike."""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from guanxi.core import bulk
from guanxi.core.models import Job
from guanxi.core.services import record_delete
from guanxi.core.views import recycle_bin as bin_views
from guanxi.customers import services
from guanxi.customers.models import Account
from guanxi.customers.services import bulk_delete
from guanxi.identity.models import DuplicateGuard, Role, User
from tests.customers.conftest import Api, field_errors
from tests.factories import client_for

pytestmark = pytest.mark.django_db

BIN = "/settings/recycle-bin/"
ROW = re.compile(r'<tr data-pk="(\d+)"')


def _accounts(user: User, names: list[str]) -> list[Account]:
    return [services.account_create(user=user, data={"name": name}) for name in names]


def _bin(user: User, accounts: list[Account]) -> None:
    """One by one, each at its own time: the oldest deletion first."""
    for account in accounts:
        record_delete(model=Account, pk=account.pk, user=user)


def _pages(api: Api, query: str) -> list[list[int]]:
    pages, cursor = [], ""
    while True:
        response = api.get(f"recycle-bin/customers.account?{query}{cursor}")
        assert response.status_code == 200, response.json_body
        pages.append([item["id"] for item in response.json_body["items"]])
        if not response.json_body["next_cursor"]:
            return pages
        cursor = f"&cursor={response.json_body['next_cursor']}"


def _ui_ids(client: Client, url: str) -> tuple[list[int], str | None]:
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    found = re.search(r'href="([^"]+)" class="btn btn-sm btn-primary" id="next-page"', html)
    next_url = found.group(1).replace("&amp;", "&") if found else None
    return [int(pk) for pk in ROW.findall(html)], next_url


# --- one type at a time, by pages ----------------------------------------------------------------------


def test_pages_hold_every_binned_record_once_newest_deletion_first(rep: User, monkeypatch: pytest.MonkeyPatch) -> None:
    singly = _accounts(rep, [f"逐个{i}" for i in range(5)])
    _bin(rep, singly)
    together = _accounts(rep, [f"一起{i}" for i in range(6)])
    # A set-based bulk delete bins them at one moment: the id breaks the tie.
    assert bulk_delete.accounts_delete_bulk(user=rep, pks=[a.pk for a in together]) == {}
    _accounts(rep, ["没删的"])
    expected = [a.pk for a in sorted(together, key=lambda a: -a.pk)] + [a.pk for a in reversed(singly)]

    pages = _pages(Api(rep), "limit=4")
    assert [len(p) for p in pages] == [4, 4, 3]
    assert [pk for page in pages for pk in page] == expected

    monkeypatch.setattr(bin_views, "PER_PAGE", 4)
    client, seen, url = client_for(rep), [], f"{BIN}?type=accounts"
    while url:
        ids, url = _ui_ids(client, url)
        seen += ids
    assert seen == expected


def test_the_page_has_a_tab_per_type_with_counts_and_opens_the_first_bin_holding_records(rep: User) -> None:
    _bin(rep, _accounts(rep, ["甲公司", "乙公司"]))
    html = client_for(rep).get(BIN).content.decode()
    tabs = dict(re.findall(r'data-bin-type="([a-z-]+)".*?<span class="badge[^"]*">(\d+\+?)</span>', html, re.S))
    assert tabs == {"notes": "0", "accounts": "2", "contacts": "0"}  # a rep deletes nothing else
    assert 'data-resource="accounts"' in html
    contacts = client_for(rep).get(f"{BIN}?type=contacts").content.decode()
    assert 'data-resource="contacts"' in contacts and not ROW.findall(contacts)


# --- finding ------------------------------------------------------------------------------------------


def test_filters_by_name_by_who_deleted_and_by_when(rep: User, admin: User) -> None:
    mine = _accounts(rep, ["华信科技", "华为代理", "东方精工"])
    _bin(rep, mine[:2])
    _bin(admin, mine[2:])
    old = mine[0]
    Account.all_objects.filter(pk=old.pk).update(deleted_at=timezone.now() - datetime.timedelta(days=3))
    api = Api(admin)

    def ids(query: str) -> set[int]:
        response = api.get(f"recycle-bin/customers.account?{query}")
        assert response.status_code == 200, response.json_body
        return {item["id"] for item in response.json_body["items"]}

    assert ids("search=华") == {mine[0].pk, mine[1].pk}
    assert ids("search=精工") == {mine[2].pk}
    assert ids("deleted_by=me") == {mine[2].pk}
    assert ids(f"deleted_by={rep.pk}") == {mine[0].pk, mine[1].pk}
    today = timezone.localdate().isoformat()
    assert ids(f"deleted_on={today}") == {mine[1].pk, mine[2].pk}
    three_days_ago = (timezone.localdate() - datetime.timedelta(days=3)).isoformat()
    assert ids(f"deleted_on={three_days_ago}") == {old.pk}
    assert ids(f"deleted_at__gte={today}&search=华") == {mine[1].pk}
    # Only the bin's own filters: anything else is refused, naming it.
    # Days with no time in UTC (0001-01-01 in Shanghai, the day after 9999-12-31) too: 400, not 500.
    for bad in (
        "owner=me",
        "name=华信科技",
        "deleted_on=yesterday",
        "ordering=name",
        "deleted_on=9999-12-31",
        "deleted_on=0001-01-01",
        "deleted_at__gte=0001-01-01",
    ):
        response = api.get(f"recycle-bin/customers.account?{bad}")
        assert response.status_code == 400, bad
    assert client_for(admin).get(f"{BIN}?type=accounts&deleted_on=9999-12-31").status_code == 302
    # The page filters the same way (one FilterSet), and "deleted by me" is a link.
    page = client_for(admin).get(f"{BIN}?type=accounts&deleted_by=me").content.decode()
    assert [int(pk) for pk in ROW.findall(page)] == [mine[2].pk]
    page = client_for(admin).get(f"{BIN}?type=accounts&search=华信").content.decode()
    assert [int(pk) for pk in ROW.findall(page)] == [old.pk]


def test_a_rep_finds_only_the_binned_records_they_may_delete(rep: User, other_rep: User, admin: User) -> None:
    mine, theirs = _accounts(rep, ["我的公司"]), _accounts(other_rep, ["别人的公司"])
    _bin(rep, mine)
    _bin(other_rep, theirs)
    assert {i["id"] for i in Api(rep).get("recycle-bin/customers.account").json_body["items"]} == {mine[0].pk}
    assert [int(pk) for pk in ROW.findall(client_for(rep).get(BIN).content.decode())] == [mine[0].pk]
    assert len(Api(admin).get("recycle-bin/customers.account").json_body["items"]) == 2
    # Ticking a colleague's record restores nothing of it: skipped, as one not there.
    result = Api(rep).post("recycle-bin/customers.account/bulk", {"action": "restore", "ids": [theirs[0].pk]})
    assert result.status_code == 200 and result.json_body["skipped"] == 1 and result.json_body["changed"] == 0
    assert Account.all_objects.get(pk=theirs[0].pk).deleted_at is not None


# --- restoring and purging many -----------------------------------------------------------------------


#: Queries per restored account (its lock, the guard's reads, its validation, save, change log and
#: search document, with their savepoints) and per purged one (lock, change log, its dependents,
#: delete, search); the batch's own few come on top. Measured 18 and 14 on SQLite.
PER_RESTORE, PER_PURGE, BATCH = 20, 20, 30


@pytest.mark.parametrize("count", [5, 25])
def test_restoring_and_purging_many_costs_a_bounded_number_of_queries_per_record(
    rep: User, count: int, django_assert_max_num_queries: Any
) -> None:
    accounts = _accounts(rep, [f"批量{i}" for i in range(count)])
    pks = [a.pk for a in accounts]
    bulk_delete.accounts_delete_bulk(user=rep, pks=pks)
    api = Api(rep)
    with django_assert_max_num_queries(BATCH + PER_RESTORE * count):
        response = api.post("recycle-bin/customers.account/bulk", {"action": "restore", "ids": pks})
    assert response.json_body == {**response.json_body, "changed": count, "failed": 0, "skipped": 0}
    assert Account.objects.filter(pk__in=pks).count() == count
    bulk_delete.accounts_delete_bulk(user=rep, pks=pks)
    with django_assert_max_num_queries(BATCH + PER_PURGE * count):
        response = api.post("recycle-bin/customers.account/bulk", {"action": "purge", "ids": pks})
    assert response.json_body["changed"] == count
    assert not Account.all_objects.filter(pk__in=pks).exists()


def test_a_refused_record_is_named_with_its_reason_and_the_others_come_back(
    rep: User, other_rep: User, sales_role: Role
) -> None:
    ours = _accounts(rep, ["华信科技有限公司", "东方精工", "西方精工"])
    _bin(rep, ours)
    services.account_create(user=other_rep, data={"name": "华信科技有限公司", "owner_id": other_rep.pk})
    Role.objects.filter(pk=sales_role.pk).update(duplicate_guard=DuplicateGuard.REFUSE)
    response = Api(rep).post("recycle-bin/customers.account/bulk", {"action": "restore", "ids": [a.pk for a in ours]})
    assert response.status_code == 200
    result = response.json_body
    assert (result["changed"], result["failed"]) == (2, 1)
    [error] = result["errors"]
    assert error["id"] == ours[0].pk and error["name"] == "华信科技有限公司" and "韩梅梅" in error["errors"]["name"][0]
    assert Account.objects.filter(pk__in=[ours[1].pk, ours[2].pk]).count() == 2
    assert Account.all_objects.get(pk=ours[0].pk).deleted_at is not None
    # The page says the same, by name.
    _bin(rep, ours[1:])
    client = client_for(rep)
    page = client.post(
        reverse("ui:recycle-bulk", args=["accounts"]),
        {"action": "restore", "pk": [str(a.pk) for a in ours]},
        follow=True,
    ).content.decode()
    assert "2 records were restored." in page
    assert "“华信科技有限公司” was not restored:" in page and "韩梅梅" in page


def test_restoring_under_tell_names_whose_customer_it_is_too(rep: User, other_rep: User) -> None:
    first, second = _accounts(rep, ["华信科技有限公司", "东方精工"])
    _bin(rep, [first, second])
    services.account_create(user=other_rep, data={"name": "华信科技有限公司", "owner_id": other_rep.pk})
    client = client_for(rep)
    page = client.post(reverse("ui:recycle-restore", args=["accounts", first.pk]), follow=True).content.decode()
    assert "is already 韩梅梅&#x27;s customer" in page or "is already 韩梅梅's customer" in page
    assert Account.objects.filter(pk=first.pk).exists()
    # The bulk restore tells it too (its result's notices, then the page's messages).
    _bin(rep, [first])
    result = Api(rep).post("recycle-bin/customers.account/bulk", {"action": "restore", "ids": [first.pk, second.pk]})
    [notice] = result.json_body["notices"]
    assert "韩梅梅" in notice and "华信科技有限公司" in notice


def test_all_matching_restores_what_the_filters_find(rep: User) -> None:
    wanted = _accounts(rep, ["华信一", "华信二"])
    other = _accounts(rep, ["东方"])
    _bin(rep, wanted + other)
    client = client_for(rep)
    client.post(
        reverse("ui:recycle-bulk", args=["accounts"]),
        {"action": "restore", "select_all": "matching", "query": "type=accounts&search=华信&cursor=x"},
    )
    assert set(Account.objects.filter(owner=rep).values_list("pk", flat=True)) == {a.pk for a in wanted}
    response = Api(rep).post("recycle-bin/customers.account/bulk", {"action": "purge", "query": {"search": "东方"}})
    assert response.json_body["changed"] == 1 and not Account.all_objects.filter(pk=other[0].pk).exists()


def test_a_large_restore_runs_as_a_job(
    rep: User, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    accounts = _accounts(rep, [f"大批{i}" for i in range(5)])
    bulk_delete.accounts_delete_bulk(user=rep, pks=[a.pk for a in accounts])
    monkeypatch.setattr(bulk, "SYNC_LIMIT", 2)
    monkeypatch.setattr(bulk, "CHUNK", 2)
    with django_capture_on_commit_callbacks(execute=True):
        response = Api(rep).post("recycle-bin/customers.account/bulk", {"action": "restore", "query": {}})
    assert response.status_code == 202
    job = Job.objects.get(pk=response.json_body["id"])
    assert job.status == "succeeded", (job.status, job.result, job.error)
    assert job.result["changed"] == 5 and job.params["action"] == "restore"
    assert Account.objects.filter(pk__in=[a.pk for a in accounts]).count() == 5


def test_the_bulk_endpoint_takes_restore_and_purge_only(rep: User) -> None:
    _bin(rep, _accounts(rep, ["甲"]))
    response = Api(rep).post("recycle-bin/customers.account/bulk", {"action": "delete", "ids": [1]})
    assert response.status_code == 400 and "action" in field_errors(response)
    response = Api(rep).post("recycle-bin/customers.territory/bulk", {"action": "restore", "ids": [1]})
    assert response.status_code == 400 and "object_type" in field_errors(response)


# --- 撤销 right after a bulk delete ---------------------------------------------------------------------


def test_undo_after_a_bulk_delete_brings_exactly_those_back(rep: User) -> None:
    doomed = _accounts(rep, ["要删一", "要删二", "要删三"])
    earlier = _accounts(rep, ["早就删了"])
    _bin(rep, earlier)
    client = client_for(rep)
    page = client.post(
        reverse("ui:accounts-bulk"),
        {"action": "delete", "confirm": "yes", "pk": [str(a.pk) for a in doomed], "next": "/accounts/"},
        follow=True,
    ).content.decode()
    assert "3 records were moved to the recycle bin." in page and 'id="undo-delete-button"' in page
    assert not Account.objects.filter(pk__in=[a.pk for a in doomed]).exists()
    token = _undo_token(page)
    assert client.post(reverse("ui:recycle-undo"), {"token": "someone-elses"}).status_code == 302
    assert not Account.objects.filter(pk__in=[a.pk for a in doomed]).exists()
    back = client.post(reverse("ui:recycle-undo"), {"token": token, "next": "/accounts/"}, follow=True)
    assert back.redirect_chain[-1][0] == "/accounts/" and "3 records were restored." in back.content.decode()
    assert Account.objects.filter(pk__in=[a.pk for a in doomed]).count() == 3
    assert Account.all_objects.get(pk=earlier[0].pk).deleted_at is not None  # not that one
    # Once only: the offer is spent.
    client.post(reverse("ui:recycle-undo"), {"token": token})
    assert "undo-delete-button" not in client.get("/accounts/").content.decode()


def _undo_token(page: str) -> str:
    """The one-time token of the 撤销 form a bulk delete's message shows."""
    found = re.search(r'name="token" value="([^"]+)"', page)
    assert found, "no 撤销 form on the page"
    return found.group(1)


def _delete_matching(client: Client, search: str) -> str:
    """The accounts list's bulk delete of "all matching" ``search``: the page it lands on."""
    return client.post(
        reverse("ui:accounts-bulk"),
        {
            "action": "delete",
            "confirm": "yes",
            "select_all": "matching",
            "query": f"search={search}",
            "next": "/accounts/",
        },
        follow=True,
    ).content.decode()


def test_undo_after_deleting_all_matching(rep: User) -> None:
    doomed = _accounts(rep, ["匹配一", "匹配二"])
    kept = _accounts(rep, ["保留"])
    client = client_for(rep)
    page = _delete_matching(client, "匹配")
    assert Account.objects.filter(owner=rep).count() == 1 and 'id="undo-delete-button"' in page
    token = _undo_token(page)
    client.post(reverse("ui:recycle-undo"), {"token": token})
    assert Account.objects.filter(pk__in=[a.pk for a in doomed + kept]).count() == 3


def test_undo_brings_back_only_what_that_deletion_binned(
    rep: User, admin: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not what the same user binned elsewhere meanwhile (another tab, a job), nor a record restored
    and binned again since by someone else: 撤销 is of this deletion."""
    doomed = _accounts(rep, ["匹配一", "匹配二"])
    elsewhere = _accounts(rep, ["另一个标签页删的"])
    apply_ids = bulk.bulk_apply_ids

    def meanwhile(*args: Any, **kwargs: Any) -> Any:
        if elsewhere[0].pk not in {a.pk for a in Account.all_objects.filter(deleted_at__isnull=False)}:
            _bin(rep, elsewhere)  # binned by the same user while this deletion runs
        return apply_ids(*args, **kwargs)

    monkeypatch.setattr(bulk, "bulk_apply_ids", meanwhile)
    client = client_for(rep)
    page = _delete_matching(client, "匹配")
    monkeypatch.setattr(bulk, "bulk_apply_ids", apply_ids)
    token = _undo_token(page)
    # One of them is restored and binned again by someone else before the 撤销.
    services.customer_restore(model=Account, pk=doomed[1].pk, user=admin)
    record_delete(model=Account, pk=doomed[1].pk, user=admin)
    client.post(reverse("ui:recycle-undo"), {"token": token})
    assert list(Account.objects.filter(pk__in=[a.pk for a in doomed + elsewhere])) == [doomed[0]]
