"""Notifications (通知): a follower hears of others' changes, notes, files, deletion; an owner of the
records given to them; nobody of their own doing, of fields they may not see or of records out of
their reach; read through the API, the bell and ``/notifications/``."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from guanxi.activities.models import Notification, NotificationKind
from guanxi.core import services as core_services
from guanxi.core.follows import record_follow
from guanxi.core.timeline import note_create
from guanxi.customers import services
from guanxi.customers.models import Account, Contact, TierRule
from guanxi.identity.models import FieldRule, Team, User
from tests.customers.conftest import Api
from tests.factories import client_for

# Notifications are written once a change commits: these tests commit (and the tables are emptied
# after each).
pytestmark = pytest.mark.django_db(transaction=True)


def follow(user: User, record: Account | Contact) -> None:
    record_follow(user=user, model=type(record), pk=record.pk, following=True)


def told(user: User) -> list[tuple[str, str, int | None]]:
    """(kind, record name, actor id) of the user's notifications, oldest first."""
    return list(
        Notification.objects.filter(recipient=user).order_by("id").values_list("kind", "object_repr", "actor_id")
    )


def update(account: Account, by: User, **data: Any) -> Account:
    return services.account_update(pk=account.pk, user=by, data=data)


def test_a_follower_hears_of_what_others_change_and_not_of_what_they_do(
    admin: User, rep: User, make_account: Callable[..., Account]
) -> None:
    account = make_account(name="星河科技", by=rep)
    follow(admin, account)
    update(account, rep, industry="manufacturing")
    assert told(admin) == [("changed", "星河科技", rep.pk)]
    change = Notification.objects.get(recipient=admin).change
    assert change is not None and change.changes["industry"] == ["", "manufacturing"]
    # A field followers are not told of (the currency) and one's own change say nothing.
    update(account, rep, currency="USD")
    update(account, admin, industry="retail")
    assert len(told(admin)) == 1
    # The owner hears of what others do to their record without following it: once, not twice.
    follow(rep, account)
    update(account, admin, lifecycle_stage="customer")
    assert told(rep) == [("changed", "星河科技", admin.pk), ("changed", "星河科技", admin.pk)]


def test_a_record_given_to_someone_tells_them(
    admin: User, rep: User, other_rep: User, make_account: Callable[..., Account]
) -> None:
    account = make_account(name="交给李雷", owner_id=rep.pk, team_id=rep.team_id, by=admin)
    assert told(rep) == [("assigned", "交给李雷", admin.pk)]
    follow(rep, account)
    update(account, admin, owner_id=other_rep.pk, team_id=other_rep.team_id)
    assert told(other_rep) == [("assigned", "交给李雷", admin.pk)]
    # The rep followed it and owned it, but may no longer see it (own scope): told nothing of it.
    assert len(told(rep)) == 1
    # Taking it oneself tells nobody of it.
    make_account(name="自己的", by=rep)
    assert len(told(rep)) == 1


def test_fields_the_reader_may_not_see_are_not_told(
    admin: User, rep: User, make_account: Callable[..., Account], api_for: Callable[[User], Api]
) -> None:
    FieldRule.objects.create(role=rep.role, object_type="customers.account", field="annual_revenue", access="hidden")
    account = make_account(name="保密营收", by=rep)
    follow(rep, account)
    update(account, admin, annual_revenue=Decimal("50000000"))
    assert told(rep) == []
    update(account, admin, annual_revenue=Decimal("60000000"), industry="finance")
    [item] = api_for(rep).get("notifications").json_body["items"]
    assert item["changes"] == {"industry": ["", "finance"]}
    assert "60000000" not in str(item) and "annual_revenue" not in str(item)


def test_notes_files_deletion_and_restoring_tell_the_followers(
    admin: User, rep: User, make_account: Callable[..., Account], api_for: Callable[[User], Api]
) -> None:
    account = make_account(name="跟进中", by=rep)
    follow(rep, account)
    content_type_id = ContentType.objects.get_for_model(Account).pk
    note_create(user=admin, data={"content_type_id": content_type_id, "object_id": account.pk, "body": "客户要报价"})
    core_services.record_delete(model=Account, pk=account.pk, user=admin)
    assert [kind for kind, _name, _actor in told(rep)] == ["note", "deleted"]
    items = api_for(rep).get("notifications").json_body["items"]
    assert items[1]["summary"] == "客户要报价"
    # In the recycle bin the record has no page: the notification keeps its name, without a link.
    assert items[0]["record"] == {"type": "accounts", "id": account.pk, "name": "跟进中", "url": None}
    core_services.record_restore(model=Account, pk=account.pk, user=admin)
    assert told(rep)[-1][0] == "restored"
    assert api_for(rep).get("notifications").json_body["items"][0]["record"]["url"].endswith(f"/{account.pk}/")


def test_a_merge_tells_the_followers_of_each_record(
    admin: User, rep: User, make_account: Callable[..., Account], api_for: Callable[[User], Api]
) -> None:
    keep = make_account(name="合并后保留", by=rep)
    gone = make_account(name="合并后移除", by=rep)
    Notification.objects.all().delete()
    services.account_merge(survivor=keep.pk, others=[gone.pk], user=admin)
    kinds = {(kind, name) for kind, name, _actor in told(rep)}
    assert {("merged", "合并后保留"), ("merged", "合并后移除")} <= kinds
    items = {i["record"]["name"]: i for i in api_for(rep).get("notifications").json_body["items"]}
    assert "合并后移除" in items["合并后保留"]["summary"]
    assert items["合并后移除"]["record"]["url"] is None  # merged away: in the recycle bin


def test_a_contact_is_followed_like_an_account(admin: User, rep: User, make_contact: Callable[..., Contact]) -> None:
    person = make_contact(by=rep)
    follow(admin, person)
    services.contact_update(pk=person.pk, user=rep, data={"title": "采购经理"})
    assert told(admin) == [("changed", str(person), rep.pk)]


def test_the_nightly_tiers_are_told_as_the_systems(admin: User, make_account: Callable[..., Account]) -> None:
    account = make_account(name="升级了", size="enterprise")
    follow(admin, account)
    Notification.objects.all().delete()
    TierRule.objects.create(name="大型", tier="A", position=1, conditions={"sizes": ["enterprise"]})
    services.account_tier_recompute(account_ids=[account.pk])
    assert told(admin) == [("changed", "升级了", None)]


def test_the_change_pays_nothing_and_after_it_one_query_when_nobody_is_told(
    rep: User, make_account: Callable[..., Account]
) -> None:
    """The followers are read once the change has committed, not in its transaction (its locks are
    held no longer); nobody to tell, nothing more."""
    account = make_account(name="无人关注", by=rep)
    with (
        CaptureQueriesContext(connection) as everything,
        transaction.atomic(),
        CaptureQueriesContext(connection) as inside,
    ):
        update(account, rep, industry="retail")
    assert not any("core_follow" in q["sql"] for q in inside.captured_queries)
    follow_reads = [q["sql"] for q in everything.captured_queries if "core_follow" in q["sql"]]
    assert len(follow_reads) == 1
    assert not any("activities_notification" in q["sql"] for q in everything.captured_queries)


def test_a_change_rolled_back_tells_nobody(admin: User, rep: User, make_account: Callable[..., Account]) -> None:
    account = make_account(name="回滚", by=rep)
    with pytest.raises(RuntimeError), transaction.atomic():
        update(account, admin, industry="retail")
        raise RuntimeError("the request failed after the change")
    assert told(rep) == []
    update(account, admin, industry="retail")
    assert told(rep) == [("changed", "回滚", admin.pk)]


def test_the_api_lists_counts_and_marks_read_only_ones_own(
    admin: User, rep: User, other_rep: User, make_account: Callable[..., Account], api_for: Callable[[User], Api]
) -> None:
    for n in range(3):
        make_account(name=f"分给你{n}", owner_id=rep.pk, team_id=rep.team_id, by=admin)
    make_account(name="分给别人", owner_id=other_rep.pk, team_id=other_rep.team_id, by=admin)
    api = api_for(rep)
    assert api.get("notifications/unread-count").json_body == {"unread": 3}
    first = api.get("notifications?limit=2").json_body
    assert [i["record"]["name"] for i in first["items"]] == ["分给你2", "分给你1"]
    assert first["items"][0]["kind"] == "assigned" and first["items"][0]["actor"]["id"] == admin.pk
    rest = api.get(f"notifications?limit=2&cursor={first['next_cursor']}").json_body
    assert [i["record"]["name"] for i in rest["items"]] == ["分给你0"] and rest["next_cursor"] is None
    theirs = Notification.objects.get(recipient=other_rep).pk
    newest = first["items"][0]["id"]
    assert api.post("notifications/read", {"ids": [newest, theirs]}).json_body == {"marked": 1}
    assert Notification.objects.get(pk=theirs).read_at is None  # another's is left alone
    assert [i["id"] for i in api.get("notifications?unread=true").json_body["items"]] == [
        i["id"] for i in [*first["items"][1:], *rest["items"]]
    ]
    response = api.post("notifications/read", {"ids": []})
    assert response.status_code == 400 and response.json_body["errors"][0]["field"] == "ids"
    assert api.post("notifications/read", {}).json_body == {"marked": 2}
    assert api.get("notifications/unread-count").json_body == {"unread": 0}
    assert api_for(other_rep).get("notifications/unread-count").json_body == {"unread": 1}


def test_the_page_the_bell_and_opening_one(admin: User, rep: User, make_account: Callable[..., Account]) -> None:
    account = make_account(name="看板客户", by=rep)
    follow(admin, account)
    update(account, rep, industry="retail", lifecycle_stage="customer")
    client = client_for(admin)
    bell = client.get("/notifications/bell/").content.decode()
    assert 'id="notification-count">1<' in bell
    page = client.get("/notifications/").content.decode()
    assert "看板客户" in page and "gx-unread" in page
    notification = Notification.objects.get(recipient=admin)
    response = client.get(f"/notifications/{notification.pk}/")
    assert response.status_code == 302 and response["Location"].endswith(f"/{account.pk}/")
    notification.refresh_from_db()
    assert notification.read_at is not None
    assert "notification-count" not in client.get("/notifications/bell/").content.decode()
    # Another's notification is not found; nor is a record's page through it.
    assert client_for(rep).get(f"/notifications/{notification.pk}/").status_code == 404


def test_the_bell_of_a_session_that_ran_out_asks_quietly(client: Any) -> None:
    """No redirect to sign in from a poll: the page (and what is typed in it) stays."""
    response = client.get("/notifications/bell/", HTTP_HX_REQUEST="true")
    assert response.status_code == 204 and response.content == b""
    assert client.get("/notifications/").status_code == 302


def test_mark_all_read_from_the_page(admin: User, rep: User, make_account: Callable[..., Account]) -> None:
    for n in range(2):
        make_account(name=f"给你{n}", owner_id=rep.pk, team_id=rep.team_id, by=admin)
    client = client_for(rep)
    response = client.post("/notifications/read/")
    assert response.status_code == 302
    assert not Notification.objects.filter(recipient=rep, read_at__isnull=True).exists()
    assert "notification-read-all" not in client.get("/notifications/").content.decode()


def test_the_page_reads_a_fixed_number_of_queries(
    admin: User,
    rep: User,
    team_south: Team,
    make_account: Callable[..., Account],
    make_contact: Callable[..., Contact],
) -> None:
    def counted() -> int:
        client = client_for(rep)
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/notifications/").status_code == 200
        return len(queries.captured_queries)

    def some(n: int) -> None:
        for i in range(n):
            account = make_account(name=f"客户{n}-{i}", by=rep)
            person = make_contact(by=rep, given_name=f"{n}{i}")
            follow(rep, account)
            follow(rep, person)
            # A team by name and a choice by label on every row: read once a page, not once a row.
            update(account, admin, industry="retail", team_id=team_south.pk)
            services.contact_update(pk=person.pk, user=admin, data={"title": f"经理{i}"})

    some(1)
    few = counted()
    some(6)
    assert counted() == few


def test_old_notifications_are_purged(admin: User, rep: User, make_account: Callable[..., Account]) -> None:
    make_account(name="旧的", owner_id=rep.pk, team_id=rep.team_id, by=admin)
    make_account(name="新的", owner_id=rep.pk, team_id=rep.team_id, by=admin)
    Notification.objects.filter(object_repr="旧的").update(created_at=timezone.now() - datetime.timedelta(days=91))
    call_command("purge_notifications")
    assert [name for _kind, name, _actor in told(rep)] == ["新的"]
    assert told(rep)[0][0] == NotificationKind.ASSIGNED
