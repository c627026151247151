"""Who among our people knows a customer's person (我方熟人, ``Acquaintance``): said by each user of
themselves for a person they may see, listed on the person's and the account's pages and in the
API, on the person's timeline, moved by a merge. Real database, both engines."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from guanxi.core.models import ChangeLogEntry, TimelineEntry
from guanxi.customers.models import Account, Acquaintance, Contact
from guanxi.customers.services import acquaintance_set
from guanxi.customers.services import merge as merge_services
from guanxi.identity.models import User
from tests.customers.conftest import Api

pytestmark = pytest.mark.django_db


@pytest.fixture
def place(
    rep: User, other_rep: User, make_account: Callable[..., Account], make_contact: Callable[..., Contact]
) -> Any:
    """恒信电子 (the rep's) with 王总 and 李工; other_rep's 赵总 elsewhere (the rep cannot see him)."""
    account = make_account(by=rep, name="恒信电子")
    at = [{"account": account.pk}]
    return {
        "account": account,
        "wang": make_contact(by=rep, family_name="王", given_name="总", accounts=at),
        "li": make_contact(by=rep, family_name="李", given_name="工", accounts=at),
        "zhao": make_contact(owner_id=other_rep.pk, family_name="赵", given_name="总"),
    }


def listed(api: Api, path: str) -> list[tuple[str, str, str]]:
    response = api.get(path)
    assert response.status_code == 200, response.content
    return [(i["user"]["name"], i["closeness"], i["contact"]["name"]) for i in response.json()["items"]]


def test_a_user_says_they_know_someone_and_everyone_who_sees_them_reads_it(
    place: Any, rep: User, admin: User, api_for: Callable[[User], Api]
) -> None:
    api = api_for(rep)
    wang = place["wang"]
    said = api.put(f"contacts/{wang.pk}/acquaintances/me", {"closeness": "close", "note": "  华为  老同事 "})
    assert said.status_code == 200, said.content
    assert said.json()["note"] == "华为 老同事" and said.json()["user"]["name"] == rep.display_name
    assert api_for(admin).put(f"contacts/{wang.pk}/acquaintances/me", {"closeness": "met"}).status_code == 200
    # The closest first, for whoever may see 王总.
    assert listed(api_for(admin), f"contacts/{wang.pk}/acquaintances") == [
        (rep.display_name, "close", "王总"),
        (admin.display_name, "met", "王总"),
    ]
    # Said again: one row, now as said; the timeline says each change of how well, not a note alone.
    assert api.put(f"contacts/{wang.pk}/acquaintances/me", {"closeness": "known", "note": "华为"}).status_code == 200
    assert (
        api.put(f"contacts/{wang.pk}/acquaintances/me", {"closeness": "known", "note": "华为旧识"}).status_code == 200
    )
    assert Acquaintance.objects.filter(contact=wang, user=rep).count() == 1
    entries = TimelineEntry.objects.filter(object_id=wang.pk, kind="acquaintance_set").order_by("id")
    assert [e.summary for e in entries if e.actor_id == rep.pk] == [
        f"{rep.display_name}: Knows them well",
        f"{rep.display_name}: Knows them",
    ]
    # The user's own statement: the person's change log holds none of it.
    assert not ChangeLogEntry.objects.filter(object_id=wang.pk, action="update").exists()
    assert api.delete(f"contacts/{wang.pk}/acquaintances/me").status_code == 204
    assert api.delete(f"contacts/{wang.pk}/acquaintances/me").status_code == 404
    assert listed(api, f"contacts/{wang.pk}/acquaintances") == [(admin.display_name, "met", "王总")]
    assert TimelineEntry.objects.filter(object_id=wang.pk, kind="acquaintance_removed").count() == 1


def test_refusals(place: Any, rep: User, api_for: Callable[[User], Api], make_contact: Callable[..., Contact]) -> None:
    api = api_for(rep)
    wang, zhao = place["wang"], place["zhao"]
    bad = api.put(f"contacts/{wang.pk}/acquaintances/me", {"closeness": "best friends"})
    assert bad.status_code == 400 and [e["field"] for e in bad.json()["errors"]] == ["closeness"]
    long = api.put(f"contacts/{wang.pk}/acquaintances/me", {"closeness": "met", "note": "长" * 201})
    assert long.status_code == 400 and [e["field"] for e in long.json()["errors"]] == ["note"]
    # A person the rep may not see, or one in the recycle bin: as if there were none.
    assert api.put(f"contacts/{zhao.pk}/acquaintances/me", {"closeness": "met"}).status_code == 404
    assert api.get(f"contacts/{zhao.pk}/acquaintances").status_code == 404
    gone = make_contact(by=rep, family_name="钱", given_name="多")
    assert api.delete(f"contacts/{gone.pk}").status_code == 204
    assert api.put(f"contacts/{gone.pk}/acquaintances/me", {"closeness": "met"}).status_code == 404
    assert not Acquaintance.objects.exists()


def test_the_account_lists_who_knows_whom_there(
    place: Any, rep: User, other_rep: User, admin: User, api_for: Callable[[User], Api]
) -> None:
    wang, li, zhao = place["wang"], place["li"], place["zhao"]
    account = place["account"]
    zhao.account_links.create(account=account, is_primary=False)  # other_rep's 赵总 works there too
    acquaintance_set(contact_id=li.pk, user=rep, closeness="met")
    acquaintance_set(contact_id=wang.pk, user=admin, closeness="close", note="校友")
    acquaintance_set(contact_id=zhao.pk, user=other_rep, closeness="known")
    gone = User.objects.get(pk=admin.pk)
    assert listed(api_for(rep), f"accounts/{account.pk}/acquaintances") == [
        (gone.display_name, "close", "王总"),
        (rep.display_name, "met", "李工"),
    ]  # not 赵总, whom the rep may not see
    assert len(listed(api_for(admin), f"accounts/{account.pk}/acquaintances")) == 3
    # A colleague who left (inactive) is no longer listed.
    User.objects.filter(pk=rep.pk).update(is_active=False)
    assert (rep.display_name, "met", "李工") not in listed(api_for(admin), f"accounts/{account.pk}/acquaintances")


def test_a_merge_takes_them_along_and_undo_puts_them_back(
    place: Any, rep: User, admin: User, make_contact: Callable[..., Contact]
) -> None:
    wang = place["wang"]
    twin = make_contact(by=rep, family_name="王", given_name="总")
    acquaintance_set(contact_id=twin.pk, user=rep, closeness="close")  # moves to 王总
    acquaintance_set(contact_id=wang.pk, user=admin, closeness="met")  # stays
    acquaintance_set(contact_id=twin.pk, user=admin, closeness="known")  # admin knew both: one kept
    before = set(Acquaintance.objects.values_list("id", "contact_id", "user_id", "closeness"))
    merge = merge_services.contact_merge(survivor=wang.pk, others=[twin.pk], user=admin)
    after = set(Acquaintance.objects.values_list("contact_id", "user_id", "closeness"))
    assert after == {(wang.pk, rep.pk, "close"), (wang.pk, admin.pk, "met")}
    merge_services.merge_undo(merge_id=merge.pk, user=admin)
    assert set(Acquaintance.objects.values_list("id", "contact_id", "user_id", "closeness")) == before


def test_the_pages_say_it_and_take_it_through_htmx(place: Any, rep: User, admin: User) -> None:
    client = Client()
    client.force_login(rep)
    wang = place["wang"]
    page = client.get(reverse("ui:contacts-detail", args=[wang.pk])).content.decode()
    assert 'id="contact-acquaintances-empty"' in page and 'id="acquaintance-form"' in page
    url = reverse("ui:contacts-acquaintance", args=[wang.pk])
    refused = client.post(url, {"closeness": "", "note": "展会认识"}, headers={"HX-Request": "true"}).content.decode()
    assert 'id="id_closeness_error"' in refused and 'value="展会认识"' in refused
    done = client.post(url, {"closeness": "close", "note": "展会认识"}, headers={"HX-Request": "true"}).content.decode()
    assert done.count("data-acquaintance=") == 1 and "展会认识" in done and 'id="acquaintance-remove"' in done
    # The account's page names who knows whom there.
    account_page = client.get(reverse("ui:accounts-detail", args=[place["account"].pk])).content.decode()
    card = account_page[account_page.index('id="account-acquaintances"') :]
    assert card.count("data-acquaintance=") == 1 and "王总" in card
    gone = client.post(reverse("ui:contacts-acquaintance-remove", args=[wang.pk]), headers={"HX-Request": "true"})
    assert 'id="contact-acquaintances-empty"' in gone.content.decode() and not Acquaintance.objects.exists()
    back = client.post(url, {"closeness": "met"})
    assert back.status_code == 302 and back["Location"].endswith("#contact-acquaintances")


def test_the_pages_read_them_in_a_fixed_number_of_queries(
    place: Any, rep: User, make_user: Callable[..., User]
) -> None:
    client = Client()
    client.force_login(rep)
    wang = place["wang"]
    urls = [reverse("ui:contacts-detail", args=[wang.pk]), reverse("ui:accounts-detail", args=[place["account"].pk])]

    def count() -> list[int]:
        out = []
        for url in urls:
            with CaptureQueriesContext(connection) as captured:
                assert client.get(url).status_code == 200
            out.append(len(captured))
        return out

    acquaintance_set(contact_id=wang.pk, user=rep, closeness="met")
    count()
    before = count()
    for i in range(5):
        colleague = make_user(superuser=True, name=f"同事{i}")
        acquaintance_set(contact_id=wang.pk if i % 2 else place["li"].pk, user=colleague, closeness="known")
    assert count() == before


def test_the_contact_list_filters_the_people_a_user_knows(
    place: Any, rep: User, admin: User, api_for: Callable[[User], Api]
) -> None:
    """known_by=me (我认识的) or a colleague's id: through restrict like every filter."""
    wang, li, zhao = place["wang"], place["li"], place["zhao"]
    acquaintance_set(contact_id=wang.pk, user=rep, closeness="close")
    acquaintance_set(contact_id=zhao.pk, user=admin, closeness="met")
    acquaintance_set(contact_id=li.pk, user=admin, closeness="known")

    def names(api: Api, query: str) -> list[str]:
        response = api.get(f"contacts?{query}&ordering=display_name")
        assert response.status_code == 200, response.content
        return [item["display_name"] for item in response.json()["items"]]

    assert names(api_for(rep), "known_by=me") == ["王总"]
    assert names(api_for(rep), f"known_by={admin.pk}") == ["李工"]  # not 赵总, whom the rep may not see
    assert sorted(names(api_for(admin), "known_by=me")) == ["李工", "赵总"]
    refused = api_for(rep).get("contacts?known_by=李伟")
    assert refused.status_code == 400 and [e["field"] for e in refused.json()["errors"]] == ["known_by"]
    client = Client()
    client.force_login(rep)
    listed = client.get(reverse("ui:contacts-list") + "?known_by=me").content.decode()
    assert "王总" in listed and "李工" not in listed
    # The list's filter picks the person by typing (any colleague, not only 我), and names the one chosen.
    assert '<input type="hidden" name="known_by" value="me">' in listed
    theirs = client.get(reverse("ui:contacts-list") + f"?known_by={admin.pk}").content.decode()
    assert f'<input type="hidden" name="known_by" value="{admin.pk}">' in theirs
    chip = r'data-id="{}">\s*<span class="gx-picker-chip-label">([^<]*)</span>\s*<input type="hidden" name="known_by"'
    assert re.findall(chip.format(admin.pk), theirs) == [str(admin)]
    assert re.findall(chip.format("me"), listed) == ["Me"]
    assert "李工" in theirs and "王总" not in theirs
