"""Smoke tests of the UI shell and the generic pages, driven through Django's test client.

``gadgets`` (tests/testapp) is registered like a real CRM record type (nav group "sales"), so it
exercises the generic list/detail/edit/delete/bulk views with tags, custom fields, timeline and shares.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from guanxi.core.models import Attachment, ChangeLogEntry, CustomFieldDefinition, Note, SavedView
from guanxi.identity.models import ApiToken, RolePermission, Share, Team, User
from tests.factories import (
    PASSWORD,
    AdminFactory,
    CustomFieldFactory,
    GadgetFactory,
    RoleFactory,
    TeamFactory,
    UserFactory,
    client_for,
    content_type_of,
    field_rule,
    grant,
    tag,
)
from tests.testapp.models import Gadget

pytestmark = pytest.mark.django_db

GADGETS = "/sales/gadgets/"


@pytest.fixture
def admin() -> User:
    return AdminFactory(display_name="管理员")


@pytest.fixture
def admin_client(admin: User) -> Client:
    return client_for(admin)


@pytest.fixture
def rep() -> User:
    """A sales rep: own records only, no rights on users."""
    role = RoleFactory(name="Rep")
    grant(role, "*", ("view", "add", "change", "delete"), "own")
    return UserFactory(role=role, team=TeamFactory())


def body(response: Any) -> str:
    return response.content.decode()


# --- the shell -------------------------------------------------------------------------------------


def test_pages_need_sign_in() -> None:
    client = Client()
    for url in ("/", GADGETS, "/settings/users/", "/settings/recycle-bin/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")


def test_home_and_navigation(admin_client: Client, admin: User) -> None:
    GadgetFactory(owner=admin)
    response = admin_client.get("/")
    assert response.status_code == 200
    html = body(response)
    assert 'id="main-nav"' in html
    for url in ("/settings/users/", "/settings/roles/", "/settings/tokens/", "/settings/recycle-bin/", GADGETS):
        assert f'href="{url}"' in html
    assert 'data-nav-group="sales"' in html
    # CSP: scripts only from files.
    assert "<script>" not in html and "onclick=" not in html


def test_home_counts_the_records_one_works_on(admin_client: Client, admin: User) -> None:
    """The figures are the CRM records (gadgets here), not the settings' users, teams or tags; those
    only for someone whose role opens nothing else, so the page never says there is nothing."""
    GadgetFactory(owner=admin)
    counts = body(admin_client.get("/")).split('id="home-counts"', 1)[1].split('id="home-changes"', 1)[0]
    assert f'href="{GADGETS}"' in counts and 'href="/settings/users/"' not in counts
    clerk = UserFactory(email="clerk@example.com", role=RoleFactory())
    grant(clerk.role, "identity.user", ["view"], scope="all")
    counts = body(client_for(clerk).get("/")).split('id="home-counts"', 1)[1].split('id="home-changes"', 1)[0]
    assert 'href="/settings/users/"' in counts and f'href="{GADGETS}"' not in counts


def test_navigation_follows_permissions(rep: User) -> None:
    html = body(client_for(rep).get("/"))
    assert 'href="/settings/users/"' not in html
    assert 'href="/settings/roles/"' not in html
    assert f'href="{GADGETS}"' in html  # "*" rules cover CRM record types
    assert 'href="/settings/tokens/"' in html  # everyone manages their own tokens


def test_generic_pages_render(admin_client: Client, admin: User) -> None:
    gadget = GadgetFactory(owner=admin)
    team = TeamFactory()
    urls = [
        GADGETS,
        f"{GADGETS}{gadget.pk}/",
        f"{GADGETS}add/",
        f"{GADGETS}{gadget.pk}/edit/",
        f"{GADGETS}{gadget.pk}/delete/",
        "/settings/users/",
        f"/settings/users/{admin.pk}/",
        "/settings/users/add/",
        f"/settings/users/{admin.pk}/edit/",
        "/settings/teams/",
        f"/settings/teams/{team.pk}/",
        "/settings/roles/",
        "/settings/shares/",
        "/settings/tokens/",
        "/settings/tags/",
        "/settings/custom-fields/",
        "/settings/custom-fields/add/",
        "/settings/change-log/",
        "/settings/recycle-bin/",
    ]
    for url in urls:
        assert admin_client.get(url).status_code == 200, url


def test_language_switch_saves_the_preference(admin_client: Client, admin: User) -> None:
    response = admin_client.post("/i18n/setlang/", {"language": "zh-hans", "next": GADGETS})
    assert response.status_code == 302 and response["Location"] == GADGETS
    admin.refresh_from_db()
    assert admin.language == "zh-hans"
    assert response.cookies["django_language"].value == "zh-hans"


def test_language_switch_works_for_people_who_do_not_manage_users(rep: User) -> None:
    client_for(rep).post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    rep.refresh_from_db()
    assert rep.language == "zh-hans"
    response = Client().post("/i18n/setlang/", {"language": "en", "next": "/login/"})
    assert response.status_code == 302 and response.cookies["django_language"].value == "en"


# --- list ------------------------------------------------------------------------------------------


def test_list_filters_sort_and_htmx_partial(admin_client: Client, admin: User) -> None:
    GadgetFactory(owner=admin, name="Alpha", price=5)
    GadgetFactory(owner=admin, name="Beta", price=1)
    response = admin_client.get(GADGETS, {"search": "alp", "name__icontains": "", "ordering": "price"})
    html = body(response)
    assert "Alpha" in html and "Beta" not in html
    partial = admin_client.get(
        GADGETS, {"ordering": "-price", "status": ""}, headers={"HX-Request": "true", "HX-Target": "list-results"}
    )
    html = body(partial)
    assert "<html" not in html and 'id="list-results"' in html
    assert html.index("Alpha") < html.index("Beta")
    assert partial["HX-Push-Url"] == f"{GADGETS}?ordering=-price"  # empty inputs left out


def test_list_bad_parameters_show_a_message(admin_client: Client, admin: User) -> None:
    GadgetFactory(owner=admin, name="Alpha")
    response = admin_client.get(GADGETS, {"ordering": "owner__password", "price__gte": "abc", "cursor": "zzz"})
    assert response.status_code == 200
    html = body(response)
    assert 'id="filter-errors"' in html
    assert "Alpha" in html


def test_list_pages_with_cursor(admin_client: Client, admin: User) -> None:
    GadgetFactory.create_batch(3, owner=admin)
    html = body(admin_client.get(GADGETS, {"limit": 2}))
    assert 'id="next-page"' in html and 'id="first-page"' not in html
    start = html.index('id="next-page"')
    href = html[html.rindex('href="', 0, start) + 6 :]
    href = href[: href.index('"')].replace("&amp;", "&")
    second = body(admin_client.get(GADGETS + href))
    assert 'id="first-page"' in second and 'id="next-page"' not in second


def _list_queries(client: Client, count: int, admin: User, team: Team) -> int:
    existing = Gadget.objects.count()
    for index in range(existing, count):
        gadget = GadgetFactory(owner=admin, team=team, custom_fields={"colour": "red", "buyer": admin.pk})
        tag(gadget, f"t{index % 3}", "vip")
    params = {"columns": "name,price,owner,team,created_by,tags,cf.colour,cf.buyer"}
    with CaptureQueriesContext(connection) as queries:
        response = client.get(GADGETS, params)
    assert response.status_code == 200
    assert body(response).count('data-pk="') == count
    return len(queries)


def test_list_query_count_does_not_grow_with_rows(admin_client: Client, admin: User) -> None:
    CustomFieldFactory(key="colour", field_type="text")
    CustomFieldFactory(key="buyer", field_type="user")
    team = TeamFactory()
    five = _list_queries(admin_client, 5, admin, team)
    thirty = _list_queries(admin_client, 30, admin, team)
    assert five == thirty, f"{five} queries for 5 rows, {thirty} for 30"


def test_saved_view_save_and_apply(admin_client: Client, admin: User) -> None:
    GadgetFactory(owner=admin, name="Alpha")
    GadgetFactory(owner=admin, name="Beta")
    response = admin_client.post(
        "/saved-views/gadgets/",
        {"name": "Alphas", "query": "search=alp&cursor=abc", "columns": "name,price", "shared": "on"},
    )
    view = SavedView.objects.get(name="Alphas")
    assert view.query == "search=alp" and view.columns == ["name", "price"] and view.shared
    assert response["Location"] == f"{GADGETS}?view={view.pk}"
    html = body(admin_client.get(GADGETS, {"view": view.pk}))
    assert "Alpha" in html and "Beta" not in html
    assert 'data-column="status"' not in html
    other = UserFactory(is_superuser=True)
    assert "Alphas" in body(client_for(other).get(GADGETS))  # shared views are visible to all


# --- detail, edit, delete ------------------------------------------------------------------------


def test_records_the_user_cannot_see_answer_404(rep: User, admin: User) -> None:
    theirs = GadgetFactory(owner=admin)
    client = client_for(rep)
    for suffix in ("", "edit/", "delete/"):
        assert client.get(f"{GADGETS}{theirs.pk}/{suffix}").status_code == 404
    assert client.post(f"{GADGETS}{theirs.pk}/edit/", {"name": "x"}).status_code == 404
    assert client.post(f"{GADGETS}{theirs.pk}/delete/").status_code == 404
    assert theirs.name not in body(client.get(GADGETS))
    assert Gadget.objects.filter(pk=theirs.pk, name=theirs.name).exists()


def test_detail_panels(admin_client: Client, admin: User) -> None:
    CustomFieldFactory(key="colour", label_en="Colour", field_type="text")
    gadget = GadgetFactory(owner=admin, custom_fields={"colour": "red"})
    tag(gadget, "vip")
    ct = content_type_of(gadget)
    admin_client.post(f"/records/{ct.pk}/{gadget.pk}/notes/", {"body": "Called the buyer"})
    upload = SimpleUploadedFile("quote.txt", b"hello", content_type="text/plain")
    admin_client.post(f"/records/{ct.pk}/{gadget.pk}/attachments/", {"file": upload})
    other = UserFactory()
    admin_client.post(f"/records/{ct.pk}/{gadget.pk}/shares/", {"user": other.pk, "access": "view"})
    assert Note.objects.filter(object_id=gadget.pk).exists()
    assert Attachment.objects.filter(object_id=gadget.pk).exists()
    share = Share.objects.get(object_id=gadget.pk, user=other)
    html = body(admin_client.get(f"{GADGETS}{gadget.pk}/"))
    for text in ("Called the buyer", "quote.txt", str(other), "vip", "Colour", "red", 'id="panel-changes"'):
        assert text in html, text
    # "Add a note" at the top goes to the note box, for who may write one: not a view-only share.
    assert '<a href="#note-body" class="btn" id="note-jump">' in html and 'id="note-body"' in html
    shared = client_for(other).get(f"{GADGETS}{gadget.pk}/")
    assert shared.status_code == 200 and 'id="note-jump"' not in body(shared)
    admin_client.post(f"/settings/shares/{share.pk}/remove/")
    assert not Share.objects.filter(pk=share.pk).exists()


def test_add_with_tags_and_custom_fields(admin_client: Client) -> None:
    CustomFieldFactory(key="colour", field_type="choice", choices=["red", "blue"])
    response = admin_client.post(
        f"{GADGETS}add/", {"name": "New one", "price": "12.50", "status": "new", "tags": "a, 重点", "cf_colour": "blue"}
    )
    gadget = Gadget.objects.get(name="New one")
    assert response.status_code == 302 and response["Location"] == f"{GADGETS}{gadget.pk}/"
    assert gadget.custom_fields == {"colour": "blue"}
    entry = ChangeLogEntry.objects.filter(object_id=gadget.pk, action="create").get()
    assert entry.changes["tags"][1] == ["a", "重点"]
    # The change history names the tags in the reader's language, like the fields.
    admin_client.cookies["django_language"] = "zh-hans"
    page = body(admin_client.get(f"{GADGETS}{gadget.pk}/"))
    assert ">标签<" in page and ">Tags<" not in page


def test_a_tag_holding_a_comma_is_quoted_in_the_box_and_kept(admin_client: Client, admin: User) -> None:
    """A tag named "A, B Trading" (from the API or an import) shows quoted in the tags box and
    survives a save that adds another; quotes that do not read are the field's error, nothing saved."""
    from guanxi.core import services as core_services

    def names() -> set[str]:
        core_services.tags_remember(gadget)
        return set(gadget._tag_names)

    gadget = GadgetFactory(owner=admin, name="Tagged")
    core_services.tags_set(gadget, ["A, B Trading", "vip"])
    edit = f"{GADGETS}{gadget.pk}/edit/"
    assert 'value="&quot;A, B Trading&quot;, vip"' in body(admin_client.get(edit))
    saved = admin_client.post(
        edit,
        {"name": "Tagged", "price": "1", "status": "new", "version": gadget.version, "tags": '"A, B Trading", vip, 新'},
    )
    assert saved.status_code == 302
    assert names() == {"A, B Trading", "vip", "新"}
    gadget.refresh_from_db()
    refused = admin_client.post(
        edit, {"name": "Renamed", "price": "1", "status": "new", "version": gadget.version, "tags": '"A, B'}
    )
    assert refused.status_code == 400 and "opens a double quote but does not close it" in body(refused)
    gadget.refresh_from_db()
    assert gadget.name == "Tagged"
    # The bulk bar reads tags so too, and says what is wrong with its quotes.
    admin_client.post(f"{GADGETS}bulk/", {"action": "add_tags", "tags": '"C; D", e', "pk": [gadget.pk]})
    assert {"C; D", "e"} <= names()
    bad = admin_client.post(f"{GADGETS}bulk/", {"action": "add_tags", "tags": '"x" y', "pk": [gadget.pk]}, follow=True)
    assert "goes on after its closing double quote" in body(bad)
    assert names() == {"A, B Trading", "vip", "新", "C; D", "e"}


def test_the_tags_input_offers_the_existing_tags_while_they_are_few(
    admin_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from guanxi.core import forms as core_forms
    from guanxi.core.models import Tag

    for name in ("设备维保需求", "VIP", "<b>x</b>"):
        Tag.objects.create(name=name)
    page = body(admin_client.get(f"{GADGETS}add/"))
    assert 'data-tag-chips="id_tags"' in page and 'data-tag="设备维保需求"' in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page
    monkeypatch.setattr(core_forms, "MAX_TAG_CHIPS", 2)  # a long vocabulary: typed, not listed
    assert "data-tag-chips" not in body(admin_client.get(f"{GADGETS}add/"))


def test_edit_with_a_stale_version_is_refused(admin_client: Client, admin: User) -> None:
    gadget = GadgetFactory(owner=admin, name="Before")
    stale = gadget.version
    Gadget.objects.filter(pk=gadget.pk).update(version=stale + 1)  # someone else saved meanwhile
    response = admin_client.post(
        f"{GADGETS}{gadget.pk}/edit/", {"name": "Mine", "price": "1", "status": "new", "version": stale}
    )
    assert response.status_code == 409
    assert "Someone else changed this record" in body(response)
    gadget.refresh_from_db()
    assert gadget.name == "Before"


def test_service_errors_land_on_the_field(admin_client: Client) -> None:
    TeamFactory(name="East")
    response = admin_client.post("/settings/teams/add/", {"name": "east"})
    assert response.status_code == 400
    assert 'id="id_name_error"' in body(response)


def test_hidden_and_frozen_fields(rep: User) -> None:
    field_rule(rep.role, "testapp.gadget", "price", "hidden")
    field_rule(rep.role, "testapp.gadget", "status", "readonly")
    mine = GadgetFactory(owner=rep, price=99, status="new")
    client = client_for(rep)
    edit = body(client.get(f"{GADGETS}{mine.pk}/edit/"))
    assert 'name="price"' not in edit
    assert 'name="status"' in edit and "disabled" in edit.split('name="status"')[1].split(">")[0]
    detail = body(client.get(f"{GADGETS}{mine.pk}/"))
    assert 'data-field="price"' not in detail
    listing = body(client.get(GADGETS))
    assert 'data-column="price"' not in listing
    # Frozen (and, without "assign", owner/team) inputs are disabled: what the browser sends is ignored.
    response = client.post(
        f"{GADGETS}{mine.pk}/edit/", {"name": "Renamed", "status": "won", "owner": "", "version": mine.version}
    )
    assert response.status_code == 302
    mine.refresh_from_db()
    assert mine.name == "Renamed" and mine.status == "new"


def test_delete_restore_purge(admin_client: Client, admin: User) -> None:
    gadget = GadgetFactory(owner=admin, name="Doomed")
    response = admin_client.post(f"{GADGETS}{gadget.pk}/delete/", {"version": gadget.version})
    assert response.status_code == 302
    assert not Gadget.objects.filter(pk=gadget.pk).exists()
    assert "Doomed" in body(admin_client.get("/settings/recycle-bin/"))
    admin_client.post(f"/settings/recycle-bin/gadgets/{gadget.pk}/restore/")
    assert Gadget.objects.filter(pk=gadget.pk).exists()
    admin_client.post(f"{GADGETS}{gadget.pk}/delete/")
    admin_client.post(f"/settings/recycle-bin/gadgets/{gadget.pk}/purge/")
    assert not Gadget.all_objects.filter(pk=gadget.pk).exists()


# --- bulk ------------------------------------------------------------------------------------------


def test_bulk_delete_asks_then_deletes(admin_client: Client, admin: User) -> None:
    first, second = GadgetFactory(owner=admin), GadgetFactory(owner=admin)
    data = {"action": "delete", "pk": [first.pk, second.pk], "next": GADGETS}
    confirm = admin_client.post(f"{GADGETS}bulk/", data)
    assert confirm.status_code == 200 and 'id="bulk-confirm-form"' in body(confirm)
    assert Gadget.objects.count() == 2
    done = admin_client.post(f"{GADGETS}bulk/", {**data, "confirm": "yes"})
    assert done.status_code == 302 and Gadget.objects.count() == 0


def test_bulk_edit_and_tags(admin_client: Client, admin: User) -> None:
    first, second = GadgetFactory(owner=admin, status="new"), GadgetFactory(owner=admin, status="new")
    pks = [first.pk, second.pk]
    form = admin_client.post(f"{GADGETS}bulk/", {"action": "edit", "pk": pks})
    assert 'id="bulk-edit-form"' in body(form)
    done = admin_client.post(
        f"{GADGETS}bulk/", {"action": "edit", "step": "apply", "_apply": "status", "status": "won", "pk": pks}
    )
    assert done.status_code == 302
    assert set(Gadget.objects.values_list("status", flat=True)) == {"won"}
    admin_client.post(f"{GADGETS}bulk/", {"action": "add_tags", "tags": "vip, hot", "pk": pks})
    html = body(admin_client.get(GADGETS, {"columns": "name,tags"}))
    assert html.count(">vip<") == 2


def test_bulk_skips_records_outside_the_users_scope(rep: User, admin: User) -> None:
    mine, theirs = GadgetFactory(owner=rep), GadgetFactory(owner=admin)
    client = client_for(rep)
    client.post(f"{GADGETS}bulk/", {"action": "delete", "confirm": "yes", "pk": [mine.pk, theirs.pk]})
    assert not Gadget.objects.filter(pk=mine.pk).exists()
    assert Gadget.objects.filter(pk=theirs.pk).exists()


# --- identity screens --------------------------------------------------------------------------------


def test_role_permission_matrix(admin_client: Client) -> None:
    role = RoleFactory()
    page = body(admin_client.get(f"/settings/roles/{role.pk}/"))
    assert 'id="permission-matrix"' in page and 'name="perm:*:view"' in page
    response = admin_client.post(
        f"/settings/roles/{role.pk}/permissions/",
        {
            "version": role.version,
            "rule_rows": 1,
            "perm:*:view": "team",
            "perm:identity.user:view": "all",
            "fr-0-object_type": "testapp.gadget",
            "fr-0-field": "price",
            "fr-0-access": "hidden",
        },
    )
    assert response.status_code == 302
    rules = set(RolePermission.objects.filter(role=role).values_list("object_type", "action", "scope"))
    assert rules == {("*", "view", "team"), ("identity.user", "view", "all")}
    assert role.field_rules.get().field == "price"
    assert admin_client.get(f"/settings/roles/{role.pk}/").status_code == 200  # history shows the change
    stale = admin_client.post(f"/settings/roles/{role.pk}/permissions/", {"version": role.version, "rule_rows": 0})
    assert stale.status_code == 409


def test_user_add_with_password_and_no_admin_flag_for_non_admins(admin_client: Client) -> None:
    response = admin_client.post(
        "/settings/users/add/",
        {
            "email": "new@example.com",
            "display_name": "新人",
            "password": PASSWORD,
            "language": "zh-hans",
            "time_zone": "Asia/Shanghai",
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    assert User.objects.get(email="new@example.com").check_password(PASSWORD)
    manager_role = RoleFactory()
    grant(manager_role, "identity.user", ("view", "change"), "all")
    manager = UserFactory(role=manager_role)
    html = body(client_for(manager).get(f"/settings/users/{manager.pk}/edit/"))
    assert 'name="is_superuser"' not in html and 'name="display_name"' in html


def test_api_tokens_page_shows_the_key_once(rep: User) -> None:
    client = client_for(rep)
    response = client.post("/settings/tokens/", {"name": "ERP", "scopes": "testapp.gadget:view *:view"})
    assert response.status_code == 200
    token = ApiToken.objects.get(user=rep)
    html = body(response)
    assert 'id="new-token-key"' in html and token.scopes == ["*:view", "testapp.gadget:view"]
    assert 'id="new-token-key"' not in body(client.get("/settings/tokens/"))
    client.post(f"/settings/tokens/{token.pk}/revoke/")
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_custom_field_definition_form(admin_client: Client) -> None:
    form = body(admin_client.get("/settings/custom-fields/add/"))
    assert 'value="testapp.gadget"' in form  # record types offered in a select
    response = admin_client.post(
        "/settings/custom-fields/add/",
        {
            "object_type": "testapp.gadget",
            "key": "grade",
            "label_en": "Grade",
            "label_zh": "等级",
            "field_type": "choice",
            "choices": "A\nB，C",
            "filterable": "on",
            "position": "0",
        },
    )
    assert response.status_code == 302
    definition = CustomFieldDefinition.objects.get(key="grade")
    assert definition.choices == ["A", "B", "C"]
    edit = body(admin_client.get(f"/settings/custom-fields/{definition.pk}/edit/"))
    assert "disabled" in edit.split('name="key"')[1].split(">")[0]
    # The new field shows on the record form and as a list filter.
    assert 'name="cf_grade"' in body(admin_client.get(f"{GADGETS}add/"))
    assert 'name="cf_grade"' in body(admin_client.get(GADGETS))


def test_users_are_deactivated_not_deleted(admin_client: Client) -> None:
    person = UserFactory()
    page = body(admin_client.get(f"/settings/users/{person.pk}/"))
    assert "Deactivate" in page
    confirm = admin_client.post("/settings/users/bulk/", {"action": "delete", "pk": [person.pk]})
    assert "Deactivate" in body(confirm)
    admin_client.post("/settings/users/bulk/", {"action": "delete", "confirm": "yes", "pk": [person.pk]})
    person.refresh_from_db()
    assert person.is_active is False


def test_a_person_custom_field_is_picked_by_typing(admin_client: Client, admin: User) -> None:
    """A custom field of people (对接人) offers them as the owner does: a picker, not a select of all."""
    CustomFieldFactory(key="buyer", field_type="user")
    buyer = UserFactory(display_name="采购 钱七")
    gadget = GadgetFactory(owner=admin, custom_fields={"buyer": buyer.pk})
    page = body(admin_client.get(f"{GADGETS}{gadget.pk}/edit/"))
    assert '<select name="cf_buyer"' not in page
    assert f'<input type="hidden" name="cf_buyer" value="{buyer.pk}">' in page and "采购 钱七" in page
    response = admin_client.post(
        f"{GADGETS}{gadget.pk}/edit/",
        {"name": gadget.name, "price": "1", "status": gadget.status, "cf_buyer": admin.pk, "version": gadget.version},
    )
    assert response.status_code == 302
    gadget.refresh_from_db()
    assert gadget.custom_fields == {"buyer": admin.pk}
