"""Following accounts and contacts (关注): the button on a record's page, 我关注的 on its list, the
API's ``/follow`` and ``followed=me``; personal, through ``restrict``, carried by a merge."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from guanxi.core.models import ChangeLogEntry, Follow
from guanxi.customers import services
from guanxi.customers.models import Account, Contact
from guanxi.identity.models import User
from tests.customers.conftest import Api
from tests.factories import client_for, content_type_of

pytestmark = pytest.mark.django_db


def followed(api: Api, path: str = "accounts", query: str = "followed=me") -> list[int]:
    response = api.get(f"{path}?{query}")
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json_body["items"]]


def test_follow_what_one_sees_and_find_it_under_following(
    rep: User, other_rep: User, admin: User, make_account: Callable[..., Account], api_for: Callable[[User], Api]
) -> None:
    mine = make_account(name="我的", by=rep)
    theirs = make_account(name="别人的", by=other_rep)  # not the rep's to see
    big = make_account(name="大客户", by=admin)
    api = api_for(rep)
    assert api.post(f"accounts/{theirs.pk}/follow").status_code == 404
    assert followed(api) == []

    api_admin = api_for(admin)
    for account in (big, theirs):
        response = api_admin.post(f"accounts/{account.pk}/follow")
        assert response.status_code == 200 and response.json_body == {"id": account.pk, "following": True}
    assert api_admin.post(f"accounts/{big.pk}/follow").json_body["following"] is True  # twice: one follow
    assert Follow.objects.filter(user=admin).count() == 2
    assert set(followed(api_admin)) == {big.pk, theirs.pk}
    assert set(followed(api_admin, query="followed=false")) == {mine.pk}
    # Whom someone follows is theirs alone.
    assert api.post(f"accounts/{mine.pk}/follow").status_code == 200
    assert followed(api) == [mine.pk]
    assert api_admin.delete(f"accounts/{big.pk}/follow").json_body == {"id": big.pk, "following": False}
    assert followed(api_admin) == [theirs.pk]


def test_a_followed_record_out_of_sight_drops_out(
    rep: User, other_rep: User, make_account: Callable[..., Account], api_for: Callable[[User], Api]
) -> None:
    account = make_account(name="会转走的", by=rep)
    api = api_for(rep)
    api.post(f"accounts/{account.pk}/follow")
    assert followed(api) == [account.pk]
    Account.objects.filter(pk=account.pk).update(owner=other_rep, team=other_rep.team)
    assert followed(api) == []  # through restrict, like every list
    assert api.delete(f"accounts/{account.pk}/follow").status_code == 404


@pytest.mark.parametrize("value", ["bogus", "2", ""])
def test_followed_takes_me_or_false(admin_api: Api, value: str) -> None:
    response = admin_api.get(f"contacts?followed={value}")
    assert response.status_code == 400
    assert [e["field"] for e in response.json_body["errors"]] == ["followed"]


def test_following_leaves_the_record_and_its_history_alone(
    admin: User, make_contact: Callable[..., Contact], api_for: Callable[[User], Api]
) -> None:
    person = make_contact()
    before = (Contact.objects.get(pk=person.pk).version, ChangeLogEntry.objects.count())
    api = api_for(admin)
    api.post(f"contacts/{person.pk}/follow")
    api.delete(f"contacts/{person.pk}/follow")
    api.post(f"contacts/{person.pk}/follow")
    assert (Contact.objects.get(pk=person.pk).version, ChangeLogEntry.objects.count()) == before
    assert followed(api, "contacts") == [person.pk]


def test_the_button_and_the_list_link(rep: User, make_account: Callable[..., Account]) -> None:
    account = make_account(name="华为", by=rep)
    other = make_account(name="中兴", by=rep)
    client = client_for(rep)
    page = client.get(f"/customers/accounts/{account.pk}/").content.decode()
    assert 'id="follow-button"' in page and 'aria-pressed="false"' in page
    url = f"/follow/accounts/{account.pk}/"
    # htmx gets the button back, pressed; a plain form goes back to the page.
    button = client.post(url, {"following": "1"}, HTTP_HX_REQUEST="true").content.decode()
    assert 'aria-pressed="true"' in button and 'name="following" value="0"' in button
    assert client.post(url, {"following": "1"})["Location"] == f"/customers/accounts/{account.pk}/"
    assert Follow.objects.filter(user=rep).count() == 1
    html = client.get("/customers/accounts/", {"followed": "me"}).content.decode()
    scope = html.split('id="list-scope"', 1)[1].split("</div>", 1)[0]
    assert re.search(r'class="btn btn-primary" data-scope="followed"', scope)
    assert f"/customers/accounts/{account.pk}/" in html and f"/customers/accounts/{other.pk}/" not in html
    assert client.post("/follow/tier-rules/1/", {"following": "1"}).status_code == 404  # not followable
    client.post(url, {"following": "0"}, HTTP_HX_REQUEST="true")
    assert not Follow.objects.filter(user=rep).exists()


def star_of(page: str, pk: int) -> str:
    """The 关注 star of one list row."""
    row = re.search(rf'<tr data-pk="{pk}">.*?</tr>', page, re.S)
    assert row, f"no row {pk}"
    star = re.search(r'<button type="button" class="[^"]*gx-star[^"]*".*?</button>', row.group(0), re.S)
    assert star, f"row {pk} has no star"
    return star.group(0)


def test_a_star_on_each_row_of_the_list(
    rep: User, other_rep: User, make_account: Callable[..., Account], make_contact: Callable[..., Contact]
) -> None:
    huawei = make_account(name="华为", by=rep)
    zte = make_account(name="中兴", by=rep)
    theirs = make_account(name="别人的", by=other_rep)
    Follow.objects.create(user=rep, content_type=content_type_of(Account), object_id=huawei.pk)
    client = client_for(rep)
    page = client.get("/customers/accounts/").content.decode()
    assert 'aria-pressed="true"' in star_of(page, huawei.pk) and "★" in star_of(page, huawei.pk)
    assert 'aria-pressed="false"' in star_of(page, zte.pk) and 'aria-label="Follow 中兴"' in star_of(page, zte.pk)

    # A tap: htmx posts it and swaps the star for the pressed one; the next tap stops following.
    url = f"/follow/accounts/{zte.pk}/"
    assert f'hx-post="{url}"' in star_of(page, zte.pk)
    star = client.post(url, {"following": "1", "style": "star"}, HTTP_HX_REQUEST="true").content.decode()
    assert star.startswith("<button") and 'aria-pressed="true"' in star and "Stop following 中兴" in star
    assert '"following": "0"' in star
    assert Follow.objects.filter(user=rep, object_id=zte.pk).exists()
    client.post(url, {"following": "0", "style": "star"}, HTTP_HX_REQUEST="true")
    assert not Follow.objects.filter(user=rep, object_id=zte.pk).exists()
    # Out of sight is out of reach.
    response = client.post(
        f"/follow/accounts/{theirs.pk}/", {"following": "1", "style": "star"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 404
    # Contacts have their stars too; a list of records one cannot follow has none.
    person = make_contact(by=rep, family_name="任", given_name="正非")
    assert "gx-star" in star_of(client.get("/customers/contacts/").content.decode(), person.pk)


def test_the_stars_are_read_in_one_query_however_many_rows(rep: User, make_account: Callable[..., Account]) -> None:
    client = client_for(rep)

    def queries() -> int:
        client.get("/customers/accounts/")
        with CaptureQueriesContext(connection) as captured:
            client.get("/customers/accounts/")
        return len(captured)

    first = make_account(name="一号", by=rep)
    Follow.objects.create(user=rep, content_type=content_type_of(Account), object_id=first.pk)
    few = queries()
    for i in range(15):
        account = make_account(name=f"客户{i}", by=rep)
        if i % 2:
            Follow.objects.create(user=rep, content_type=content_type_of(Account), object_id=account.pk)
    assert queries() == few


def test_a_merge_carries_the_follows_and_its_undo_puts_them_back(
    admin: User, rep: User, make_contact: Callable[..., Contact], api_for: Callable[[User], Api]
) -> None:
    keep = make_contact(by=rep)
    gone = make_contact(by=rep)
    api_for(rep).post(f"contacts/{gone.pk}/follow")
    for contact in (keep, gone):  # the admin follows both: one follow of the survivor afterwards
        api_for(admin).post(f"contacts/{contact.pk}/follow")
    merge = services.contact_merge(survivor=keep.pk, others=[gone.pk], user=admin)
    assert sorted(Follow.objects.values_list("user_id", "object_id")) == sorted(
        [(rep.pk, keep.pk), (admin.pk, keep.pk)]
    )
    services.merge_undo(merge_id=merge.pk, user=admin)
    assert sorted(Follow.objects.values_list("user_id", "object_id")) == sorted(
        [(rep.pk, gone.pk), (admin.pk, keep.pk), (admin.pk, gone.pk)]
    )


def test_the_home_card_lists_what_one_follows_latest_changed_first(
    rep: User,
    other_rep: User,
    make_account: Callable[..., Account],
    make_contact: Callable[..., Contact],
    api_for: Callable[[User], Api],
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from guanxi.core.follows import home_card

    assert home_card(rep) is None  # follows nothing
    api = api_for(rep)
    old, new = make_account(name="老客户", by=rep), make_account(name="新动态", by=rep)
    person = make_contact(by=rep, family_name="王", given_name="伟")
    gone = make_account(name="会转走的", by=rep)
    for path, pk in (("accounts", old.pk), ("accounts", new.pk), ("contacts", person.pk), ("accounts", gone.pk)):
        api.post(f"{path}/{pk}/follow")
    now = timezone.now()
    Account.objects.filter(pk=old.pk).update(updated_at=now - timezone.timedelta(days=3))
    Account.objects.filter(pk=new.pk).update(updated_at=now)
    Contact.objects.filter(pk=person.pk).update(updated_at=now - timezone.timedelta(days=1))
    Account.objects.filter(pk=gone.pk).update(owner=other_rep, team=other_rep.team)  # out of sight now
    with CaptureQueriesContext(connection) as queries:
        card = home_card(rep)
    assert card is not None
    assert [r["name"] for r in card["records"]] == ["新动态", "王伟", "老客户"]
    assert {(c["url"], c["count"]) for c in card["lists"]} == {
        ("/customers/accounts/?followed=me", 2),
        ("/customers/contacts/?followed=me", 1),
    }
    # The follows; per type the user's shares (read once a request), a count and a page of rows:
    # the same however many records are followed.
    assert len(queries) <= 8, [q["sql"] for q in queries]
    User.objects.filter(pk=rep.pk).update(language="zh-hans")
    html = client_for(rep).get("/").content.decode()
    card_html = html.split('id="home-following"', 1)[1]
    assert "我关注的" in html and "新动态" in card_html and "会转走的" not in card_html


def test_bulk_follow_and_unfollow_through_the_api(
    rep: User,
    other_rep: User,
    make_account: Callable[..., Account],
    api_for: Callable[[User], Api],
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.factories import share

    mine = [make_account(name=f"批量{i}", by=rep) for i in range(6)]
    viewable = make_account(name="只读的", by=other_rep)
    share(viewable, user=rep, access="view")  # may see, may not change: may follow
    hidden = make_account(name="看不到的", by=other_rep)
    api = api_for(rep)
    api.post(f"accounts/{mine[0].pk}/follow")
    ids = [a.pk for a in mine] + [viewable.pk, hidden.pk]
    with CaptureQueriesContext(connection) as queries:
        response = api.post("accounts/bulk", {"action": "follow", "ids": ids})
    # One read of the follows and one insert, not one per record (read before the next request
    # empties the connection's log).
    follow_queries = [q["sql"] for q in queries if Follow._meta.db_table in q["sql"]]
    assert len(follow_queries) == 2, follow_queries
    assert response.status_code == 200, response.json_body
    body = response.json_body
    assert (body["selected"], body["changed"], body["unchanged"], body["skipped"]) == (8, 6, 1, 1)
    assert body["skipped_ids"] == [hidden.pk]
    assert set(followed(api)) == {a.pk for a in mine} | {viewable.pk}
    # By a list query: every matching record the user sees.
    response = api.post("accounts/bulk", {"action": "unfollow", "query": {"search": "批量"}})
    assert (response.json_body["changed"], response.json_body["unchanged"]) == (6, 0)
    assert followed(api) == [viewable.pk]
    assert not Follow.objects.filter(user=other_rep).exists()  # personal: nobody else's changed


def test_bulk_follow_is_refused_where_records_cannot_be_followed(admin_api: Api) -> None:
    response = admin_api.post("notes/bulk", {"action": "follow", "ids": [1]})  # notes have bulk actions
    assert response.status_code == 400, response.content
    assert [e["field"] for e in response.json_body["errors"]] == ["action"]


def test_bulk_follow_from_the_list_page(
    rep: User, other_rep: User, make_account: Callable[..., Account], monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.urls import reverse

    from guanxi.core import bulk
    from tests.factories import share

    accounts = [make_account(name=f"关注{i}", by=rep) for i in range(3)]
    viewer_only = make_account(name="关注别人的", by=other_rep)
    share(viewer_only, user=rep, access="view")
    client = client_for(rep)
    page = client.get(reverse("ui:accounts-list")).content.decode()
    assert '<option value="follow">' in page and '<option value="unfollow">' in page
    url = reverse("ui:accounts-bulk")
    # Selected rows: followed at once, no confirmation (nothing is written to the records).
    done = client.post(url, {"action": "follow", "pk": [accounts[0].pk, viewer_only.pk]})
    assert done.status_code == 302
    assert set(Follow.objects.filter(user=rep).values_list("object_id", flat=True)) == {accounts[0].pk, viewer_only.pk}
    # All matching: a confirmation with the count, then the action, as a job past the request's limit.
    monkeypatch.setattr(bulk, "SYNC_LIMIT", 2)
    data = {"action": "follow", "select_all": "matching", "query": "search=关注"}
    confirm = client.post(url, data).content.decode()
    assert 'id="bulk-matching-count"' in confirm and 'id="bulk-follow-note"' in confirm
    assert not Follow.objects.filter(object_id=accounts[1].pk).exists()
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        job_page = client.post(url, {**data, "confirm": "yes"})
    assert job_page.status_code == 302 and "/jobs/" in job_page["Location"]
    assert Follow.objects.filter(user=rep).count() == 4
    monkeypatch.undo()
    done = client.post(url, {"action": "unfollow", "pk": [a.pk for a in accounts]}, follow=True)
    assert "You stopped following 3; 0 you did not follow." in done.content.decode()
    assert list(Follow.objects.filter(user=rep).values_list("object_id", flat=True)) == [viewer_only.pk]
