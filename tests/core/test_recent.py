"""Recently viewed records (最近查看): the record pages a user opened, in the search box and the API,
newest first, through ``restrict``."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from guanxi.core.models import RecentView
from guanxi.core.search import recent
from guanxi.core.services import record_delete
from guanxi.customers import services
from guanxi.customers.models import Contact
from tests.conftest import session_api
from tests.factories import AdminFactory, RoleFactory, UserFactory, grant, make_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin() -> Any:
    return AdminFactory(email="boss@example.com")


@pytest.fixture
def rep() -> Any:
    role = RoleFactory(name="rep")
    grant(role, "*", scope="own")
    return UserFactory(role=role, email="rep@example.com")


def open_page(client: Any, obj: Any) -> None:
    kind = "accounts" if obj._meta.model_name == "account" else "contacts"
    assert client.get(reverse(f"ui:{kind}-detail", args=[obj.pk])).status_code == 200


def suggested(client: Any) -> list[str]:
    import re

    html = client.get("/search/suggest/", {"q": ""}, headers={"HX-Request": "true"}).content.decode()
    return re.findall(r'data-search-recent\s+data-type="(\w+)" data-id="(\d+)"', html)


def test_opened_records_are_listed_newest_first_once_each(rep: Any) -> None:
    acme = services.account_create(user=rep, data={"name": "上海阿克米贸易有限公司"})
    zhang = services.contact_create(user=rep, data={"family_name": "张", "given_name": "三"}, phones=["13800138000"])
    client = session_api(rep).client
    assert suggested(client) == []
    open_page(client, zhang)
    open_page(client, acme)
    open_page(client, zhang)  # again: to the top, not twice
    assert suggested(client) == [("contacts", str(zhang.pk)), ("accounts", str(acme.pk))]
    html = client.get("/search/suggest/", {"q": ""}).content.decode()
    assert "张三" in html and "上海阿克米贸易有限公司" in html and f'href="/customers/contacts/{zhang.pk}/"' in html
    body = session_api(rep).get("search/recent").json()
    assert [(i["type"], i["id"], i["title"]) for i in body["items"]] == [
        ("contacts", zhang.pk, "张三"),
        ("accounts", acme.pk, "上海阿克米贸易有限公司"),
    ]
    assert body["items"][0]["viewed_at"] >= body["items"][1]["viewed_at"]
    # Typing still suggests matches, not the recent records.
    typed = client.get("/search/suggest/", {"q": "zs"}).content.decode()
    assert "data-search-recent" not in typed and "张三" in typed


def test_records_the_user_may_no_longer_see_drop_out(admin: Any, rep: Any) -> None:
    mine = services.contact_create(user=rep, data={"family_name": "李", "given_name": "四"})
    gone = services.contact_create(user=rep, data={"family_name": "王", "given_name": "五"})
    moved = services.contact_create(user=rep, data={"family_name": "赵", "given_name": "六"})
    client = session_api(rep).client
    for contact in (mine, gone, moved):
        open_page(client, contact)
    before = timezone.now()
    record_delete(model=Contact, pk=gone.pk, user=rep)  # to the recycle bin
    services.contact_update(pk=moved.pk, user=admin, data={"owner": admin})  # no longer the rep's
    assert suggested(client) == [("contacts", str(mine.pk))]
    assert [i["id"] for i in session_api(rep).get("search/recent").json()["items"]] == [mine.pk]
    # Nobody else's list shows them: lists are per user.
    assert suggested(session_api(admin).client) == []
    # A page the user may not open notes nothing.
    assert client.get(reverse("ui:contacts-detail", args=[moved.pk])).status_code == 404
    assert not RecentView.objects.filter(user=rep, object_id=moved.pk, viewed_at__gt=before).exists()


def test_only_the_newest_are_kept_and_reading_them_costs_fixed_queries(
    admin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recent, "KEPT", 5)
    client = session_api(admin).client
    contacts = [services.contact_create(user=admin, data={"family_name": "陈", "given_name": f"{i}"}) for i in range(3)]
    for contact in contacts:
        open_page(client, contact)
    suggested(client)  # content types and the session warm
    with CaptureQueriesContext(connection) as few:
        assert len(suggested(client)) == 3
    more = [services.contact_create(user=admin, data={"family_name": "周", "given_name": f"{i}"}) for i in range(4)]
    more.append(services.account_create(user=admin, data={"name": "深圳前海科技"}))
    for obj in more:
        open_page(client, obj)
    assert RecentView.objects.filter(user=admin).count() == 5
    with CaptureQueriesContext(connection) as many:
        listed = suggested(client)
    assert listed[0] == ("accounts", str(more[-1].pk)) and len(listed) == 5
    assert {pk for _type, pk in listed[1:]} == {str(c.pk) for c in more[:4]}
    # Two reads more for the second record type (its visible ids, its rows), none per record.
    assert len(many.captured_queries) <= len(few.captured_queries) + 2, [q["sql"][:120] for q in many.captured_queries]


def test_api_reads_and_settings_pages_are_not_recorded(admin: Any) -> None:
    contact = services.contact_create(user=admin, data={"family_name": "孙", "given_name": "七"})
    api = session_api(admin)
    assert api.get(f"contacts/{contact.pk}").status_code == 200
    role = RoleFactory(name="客服")
    assert api.client.get(reverse("ui:roles-detail", args=[role.pk])).status_code == 200
    assert not RecentView.objects.exists()


def test_a_token_sees_the_recent_records_of_its_scopes_only(admin: Any) -> None:
    acme = services.account_create(user=admin, data={"name": "杭州西湖数据"})
    person = services.contact_create(user=admin, data={"family_name": "吴", "given_name": "八"})
    client = session_api(admin).client
    open_page(client, acme)
    open_page(client, person)
    _token, key = make_token(admin, ["customers.account:view"])
    response = client.get("/api/v1/search/recent", headers={"Authorization": f"Bearer {key}"})
    assert [i["type"] for i in response.json()["items"]] == ["accounts"]
    assert session_api(None).client.get("/api/v1/search/recent").status_code == 401


# --- the permission matrix's row (tests/customers/platform_policies.py) ------------------------------------


def api_recent_policy(c: Any) -> None:
    """GET /search/recent: the principal's own recent records, exactly those they may view; every record
    of the world is planted as visited, newest first in world order."""
    import datetime

    from django.contrib.contenttypes.models import ContentType

    from guanxi.customers.models import Account
    from tests.api import world as W
    from tests.customers.platform_policies import ACCOUNT_VIEW, CONTACT_VIEW, customers_world

    w = customers_world(c.w)
    if c.who == "anonymous":
        c.request("recent", "GET", "/api/v1/search/recent", 401)
        return
    user = c.w.p.users.get(c.who) or c.w.p.users["admin"]  # the tokens are the admin's
    now = timezone.now()
    planted = [
        (kind, model, w.pk(kind, key))
        for kind, model in (("account", Account), ("contact", Contact))
        for key in w.keys(kind)
    ]
    RecentView.objects.bulk_create(
        RecentView(
            user=user,
            content_type=ContentType.objects.get_for_model(model),
            object_id=pk,
            viewed_at=now - datetime.timedelta(seconds=n),
        )
        for n, (_kind, model, pk) in enumerate(planted)
    )
    response = c.request("recent", "GET", "/api/v1/search/recent", 200)
    if response.status_code != 200:
        return
    kinds = {"accounts": "account", "contacts": "contact"}
    got = {w.key_of(kinds[item["type"]], item["id"]) for item in response.json()["items"]}
    newest = {w.key_of(kind, pk) for kind, _model, pk in planted[: recent.KEPT]}
    if c.who == "token_noscope":
        want: set[str] = set()
    elif c.who in W.ADMINS:
        want = newest
    else:
        want = (c.rows_for(ACCOUNT_VIEW, "account") | c.rows_for(CONTACT_VIEW, "contact")) & newest
    if got != want:
        c.errors.append(f"recent: listed {sorted(got)}, expected {sorted(want)}")
