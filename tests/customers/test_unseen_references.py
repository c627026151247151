"""A field that points at a record the reader may not see (a contact's 直属上级, an account's 上级客户)
says there is one and names nothing: on the record's page, in lists, in the API and in exports
(``permissions.unseen_references``), on both engines."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from guanxi.customers.models import Account, Contact
from guanxi.identity.models import Role, User
from tests.core.test_exports import body, read_csv, ui_export
from tests.customers.conftest import Api, grant
from tests.factories import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def hidden_manager(
    rep: User, other_rep: User, make_contact: Callable[..., Contact], admin: User
) -> tuple[Contact, Contact]:
    """The rep's 李四 reports to other_rep's 秘密经理, whom the rep may not see."""
    manager = make_contact(owner_id=other_rep.pk, family_name="秘密", given_name="经理")
    person = make_contact(by=rep, family_name="李", given_name="四")
    Contact.objects.filter(pk=person.pk).update(reports_to=manager)
    return person, manager


def test_the_api_gives_the_id_without_the_name(
    hidden_manager: tuple[Contact, Contact], rep: User, admin: User, api_for: Callable[[User], Api]
) -> None:
    person, manager = hidden_manager
    api = api_for(rep)
    assert api.get(f"contacts/{person.pk}").json()["reports_to"] == {"id": manager.pk, "display": None}
    listed = api.get("contacts?limit=50").json()["items"]
    assert [item["reports_to"] for item in listed if item["id"] == person.pk] == [{"id": manager.pk, "display": None}]
    assert "秘密经理" not in str(listed)
    # Whoever may see the manager reads the name.
    assert api_for(admin).get(f"contacts/{person.pk}").json()["reports_to"] == {"id": manager.pk, "display": "秘密经理"}


def test_the_page_and_the_list_say_there_is_one(
    hidden_manager: tuple[Contact, Contact], rep: User, make_account: Callable[..., Account], other_rep: User
) -> None:
    person, _manager = hidden_manager
    client = client_for(rep)
    page = client.get(reverse("ui:contacts-detail", args=[person.pk])).content.decode()
    field = page[page.index('data-field="reports_to"') :][:400]
    assert "data-unseen" in field and "秘密经理" not in page
    listed = client.get(reverse("ui:contacts-list") + "?columns=display_name,reports_to").content.decode()
    assert "data-unseen" in listed and "秘密经理" not in listed
    # An account under a parent the rep may not see: the field no longer names what the group panel hides.
    parent = make_account(by=other_rep, name="保密集团")
    child = make_account(by=rep, name="子公司")
    Account.objects.filter(pk=child.pk).update(parent=parent)
    page = client.get(reverse("ui:accounts-detail", args=[child.pk])).content.decode()
    assert "保密集团" not in page and "data-unseen" in page


def test_an_export_leaves_the_name_out(hidden_manager: tuple[Contact, Contact], rep: User, sales_role: Role) -> None:
    grant(sales_role, "customers.contact", ("export",))
    response = ui_export(client_for(rep), "contacts", "columns=display_name,reports_to", format="csv")
    rows = read_csv(body(response))
    assert rows[1][1:] == ["李四", ""] and "秘密经理" not in str(rows)


def test_one_query_a_page_whatever_its_rows(
    rep: User, other_rep: User, make_contact: Callable[..., Contact], api_for: Callable[[User], Api]
) -> None:
    api = api_for(rep)
    manager = make_contact(owner_id=other_rep.pk, family_name="秘密", given_name="经理")

    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert api.get("contacts?limit=50").status_code == 200
        return len(captured)

    first = make_contact(by=rep, family_name="甲", given_name="一")
    Contact.objects.filter(pk=first.pk).update(reports_to=manager)
    api.get("contacts?limit=50")
    before = count()
    for i in range(5):
        person = make_contact(by=rep, family_name="乙", given_name=f"{i}")
        Contact.objects.filter(pk=person.pk).update(reports_to=manager)
    assert count() == before


def test_the_change_history_does_not_name_it_either(
    rep: User, other_rep: User, admin: User, make_contact: Callable[..., Contact]
) -> None:
    from guanxi.customers import services

    manager = make_contact(owner_id=other_rep.pk, family_name="秘密", given_name="经理")
    person = make_contact(by=rep, family_name="李", given_name="四")
    services.contact_update(pk=person.pk, user=admin, data={"reports_to_id": manager.pk})
    page = client_for(rep).get(reverse("ui:contacts-detail", args=[person.pk])).content.decode()
    assert "a record you may not see" in page and "秘密经理" not in page
    assert "秘密经理" in client_for(admin).get(reverse("ui:contacts-detail", args=[person.pk])).content.decode()


def test_the_recycle_bin_names_it_neither(
    hidden_manager: tuple[Contact, Contact],
    rep: User,
    admin: User,
    make_contact: Callable[..., Contact],
    api_for: Callable[[User], Api],
) -> None:
    """Whoever may restore a deleted person reads their manager's id, not the name, and a page of the
    bin costs the same queries for one deleted person as for six (the foreign keys read in one join)."""
    person, manager = hidden_manager
    api = api_for(rep)

    def listed() -> tuple[list[dict], int]:
        with CaptureQueriesContext(connection) as captured:
            response = api.get("recycle-bin?object_type=customers.contact")
        assert response.status_code == 200, response.content
        return response.json()["items"], len(captured)

    assert api.delete(f"contacts/{person.pk}").status_code == 204
    items, one = listed()
    assert [item["reports_to"] for item in items] == [{"id": manager.pk, "display": None}]
    assert "秘密经理" not in str(items)
    for i in range(5):
        other = make_contact(by=rep, family_name="丙", given_name=f"{i}")
        Contact.objects.filter(pk=other.pk).update(reports_to=manager)
        assert api.delete(f"contacts/{other.pk}").status_code == 204
    items, six = listed()
    assert len(items) == 6 and six == one
    # Whoever may see the manager reads the name.
    admin_items = api_for(admin).get("recycle-bin?object_type=customers.contact").json()["items"]
    assert {item["reports_to"]["display"] for item in admin_items} == {"秘密经理"}
