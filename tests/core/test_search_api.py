"""``GET /api/v1/search`` and the search pages, on the engine under test; plus the permission-matrix rows
of both (``api_search_policy``, ``ui_search_policy``, ``ui_suggest_policy``), which the platform's
matrices load from ``tests/customers/platform_policies.py`` and ``tests/ui_matrix``."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from guanxi.core.search import search_reindex
from guanxi.customers import services
from guanxi.customers.models import Account, Contact
from tests.conftest import Api, session_api
from tests.factories import AdminFactory, RoleFactory, UserFactory, grant, make_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin() -> Any:
    return AdminFactory(email="boss@example.com")


@pytest.fixture
def people(admin: Any) -> dict[str, Any]:
    acme = services.account_create(user=admin, data={"name": "上海阿克米贸易有限公司"})
    zhang = services.contact_create(
        user=admin,
        data={"family_name": "张", "given_name": "三"},
        phones=["13800138000"],
        emails=["zs@acme.example"],
        accounts=[{"account": acme.pk}],
    )
    li = services.contact_create(user=admin, data={"family_name": "李", "given_name": "四"}, phones=["13912348000"])
    return {"acme": acme, "zhang": zhang, "li": li}


def test_search_api_answers_items(admin: Any, people: dict[str, Any]) -> None:
    api = session_api(admin)
    response = api.get("search", {"q": "zs"})
    assert response.status_code == 200
    assert response.json() == {
        "items": [
            {
                "type": "contacts",
                "id": people["zhang"].pk,
                "title": "张三",
                "subtitle": "上海阿克米贸易有限公司 · +86 138 0013 8000",
                "url": f"/customers/contacts/{people['zhang'].pk}/",
            }
        ],
        "notice": None,
        "masked_search_resumes_at": None,
    }
    # last four digits: both phones end with 8000; types and limit narrow the answer
    items = api.get("search", {"q": "8000", "types": "contacts", "limit": "1"}).json()["items"]
    assert len(items) == 1 and items[0]["type"] == "contacts"
    both = {(i["type"], i["id"]) for i in api.get("search", {"q": "8000"}).json()["items"]}
    assert both == {("contacts", people["zhang"].pk), ("contacts", people["li"].pk)}
    accounts = api.get("search", {"q": "akemi", "types": "accounts"}).json()["items"]
    assert [(i["type"], i["id"]) for i in accounts] == [("accounts", people["acme"].pk)]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "q"),
        ({"q": ""}, "q"),
        ({"q": "x" * 101}, "q"),
        ({"q": "zs", "types": "contacts,nonsense"}, "types"),
        ({"q": "zs", "limit": "0"}, "limit"),
        ({"q": "zs", "limit": "51"}, "limit"),
        ({"q": "zs", "limit": "ten"}, "limit"),
    ],
)
def test_bad_parameters_answer_problem_json(admin: Any, params: dict[str, str], field: str) -> None:
    response = session_api(admin).get("search", params)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/problem+json")
    assert {e["field"] for e in response.json()["errors"]} == {field}


def test_anonymous_and_scopeless_tokens_are_refused(admin: Any, people: dict[str, Any]) -> None:
    assert Api(session_api(None).client).get("search", {"q": "zs"}).status_code == 401
    _token, key = make_token(admin, ["sales.lead:view"])
    response = session_api(None).client.get("/api/v1/search", {"q": "zs"}, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 403
    _token, key = make_token(admin, ["customers.account:view"])
    response = session_api(None).client.get(
        "/api/v1/search", {"q": "akemi"}, headers={"Authorization": f"Bearer {key}"}
    )
    assert [i["type"] for i in response.json()["items"]] == ["accounts"]
    response = session_api(None).client.get("/api/v1/search", {"q": "zs"}, headers={"Authorization": f"Bearer {key}"})
    assert response.json()["items"] == []  # the token does not reach contacts


def test_api_query_count_is_bounded(admin: Any, people: dict[str, Any]) -> None:
    api = session_api(admin)
    api.get("search", {"q": "zs"})  # sessions, content types warm
    with CaptureQueriesContext(connection) as ctx:
        assert api.get("search", {"q": "zhang"}).status_code == 200
    assert len(ctx.captured_queries) <= 16, "\n".join(q["sql"][:150] for q in ctx.captured_queries)


# --- pages ------------------------------------------------------------------------------------------------


def test_results_page_groups_by_type(admin: Any, people: dict[str, Any]) -> None:
    client = session_api(admin).client
    response = client.get("/search/", {"q": "阿克米"})
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-search-group="accounts"' in html and 'data-search-group="contacts"' in html
    assert f'href="/customers/contacts/{people["zhang"].pk}/"' in html
    assert f'href="/customers/accounts/{people["acme"].pk}/"' in html
    only = client.get("/search/", {"q": "阿克米", "type": "accounts"}).content.decode()
    assert 'data-search-group="contacts"' not in only
    empty = client.get("/search/", {"q": "nobody-at-all"}).content.decode()
    assert 'id="search-empty"' in empty
    too_long = client.get("/search/", {"q": "x" * 101}).content.decode()
    assert "data-search-error" in too_long


def test_every_page_has_the_search_box(admin: Any) -> None:
    html = session_api(admin).client.get("/").content.decode()
    assert 'id="gx-search-input"' in html and "guanxi-search.js" in html
    assert "{#" not in html and "#}" not in html, "a template comment over two lines shows as text"


def test_suggestions_partial(admin: Any, people: dict[str, Any]) -> None:
    client = session_api(admin).client
    html = client.get("/search/suggest/", {"q": "zs"}, headers={"HX-Request": "true"}).content.decode()
    assert "张三" in html and "data-search-all" in html and "<html" not in html
    assert client.get("/search/suggest/", {"q": ""}).content.decode().strip() == ""
    nothing = client.get("/search/suggest/", {"q": "qqqqqq"}).content.decode()
    assert "data-search-empty" in nothing


def test_pages_in_chinese(admin: Any, people: dict[str, Any]) -> None:
    client = session_api(admin).client
    html = client.get("/search/", {"q": "zs"}, headers={"Accept-Language": "zh-hans"}).content.decode()
    assert "张三" in html


# --- the permission matrices' rows ------------------------------------------------------------------------

# Search queries that find every customer record of the platform world (tests/customers/platform_policies.py):
# all accounts are "Account …", all contacts "… Contact" with an @example.com email.
WORLD_QUERIES = {"accounts": "account", "contacts": "contact"}


def index_world(w: Any) -> Any:
    """The world's records are written directly (no services): index them, as an import would."""
    from tests.customers.platform_policies import customers_world

    customers_world(w)
    search_reindex(Account, Account.all_objects.values_list("pk", flat=True))
    search_reindex(Contact, Contact.all_objects.values_list("pk", flat=True))
    return w


def _expected(c: Any, kind: str, view: dict[str, Any]) -> set[str]:
    return c.rows_for(view, kind)


def api_search_policy(c: Any) -> None:
    """GET /search: exactly the accounts and contacts the principal may view (never binned ones)."""
    from tests.api import world as W
    from tests.customers.platform_policies import ACCOUNT_VIEW, CONTACT_VIEW

    w = index_world(c.w)
    for path, kind, view in (("accounts", "account", ACCOUNT_VIEW), ("contacts", "contact", CONTACT_VIEW)):
        url = f"/api/v1/search?q={WORLD_QUERIES[path]}&types={path}&limit=50"
        if c.who == "anonymous":
            c.request(f"search {path}", "GET", url, 401)
            continue
        if c.who == "token_noscope":
            c.request(f"search {path}", "GET", url, 403)
            continue
        response = c.request(f"search {path}", "GET", url, 200)
        if response.status_code != 200:
            continue
        got = {(w.key_of(kind, item["id"]) if item["type"] == path else item) for item in response.json()["items"]}
        want = _expected(c, kind, view) if c.who not in W.ADMINS else set(w.keys(kind))
        if got != want:
            c.errors.append(f"search {path}: found {sorted(map(str, got))}, expected {sorted(want)}")


def _ui_search(url_name: str) -> Any:
    def check(c: Any) -> None:
        import re

        from django.urls import reverse

        from tests.customers.platform_policies import ACCOUNT_VIEW, CONTACT_VIEW

        w = index_world(c.w)
        for path, kind, view in (("accounts", "account", ACCOUNT_VIEW), ("contacts", "contact", CONTACT_VIEW)):
            url = f"{reverse(url_name)}?q={WORLD_QUERIES[path]}"
            if url_name == "ui:search":
                url += f"&type={path}"
            response = c.request(f"search page {path}", "GET", url, 302 if c.who == "anonymous" else 200)
            if response.status_code != 200:
                continue
            found = re.findall(rf'data-type="{path}" data-id="(\d+)"'.encode(), response.content)
            got = {w.key_of(kind, int(pk)) for pk in found}
            want = c.rows_for(view, kind)
            if url_name == "ui:search-suggest":
                # suggestions: the best 8 of both types, so only "nothing unseen" is checked
                if not got <= want:
                    c.errors.append(f"suggestions {path}: shows {sorted(got - want)} the principal may not see")
            elif got != want:
                c.errors.append(f"search page {path}: shows {sorted(got)}, expected {sorted(want)}")

    return check


ui_search_policy = _ui_search("ui:search")
ui_suggest_policy = _ui_search("ui:search-suggest")


def test_api_policy_rows_run(principals: Any) -> None:
    """The matrix rows themselves work (the full matrix runs them for every principal)."""
    from tests.api.test_permission_matrix import Check
    from tests.api.world import build_world

    w = build_world(principals)
    for who in ("owner", "norole", "admin", "token_noscope", "anonymous"):
        check = Check(w, who)
        api_search_policy(check)
        check.done()


def test_ui_policy_rows_run(principals: Any) -> None:
    from tests.api.world import build_world
    from tests.ui_matrix.test_ui_permission_matrix import UiCheck

    w = build_world(principals)
    for who in ("owner", "manager", "admin", "anonymous"):
        check = UiCheck(w, who)
        ui_search_policy(check)
        ui_suggest_policy(check)
        check.done()


def test_search_for_a_rep_in_api(admin: Any) -> None:
    role = RoleFactory(name="rep")
    grant(role, "*", scope="own")
    rep = UserFactory(role=role)
    mine = services.contact_create(user=rep, data={"family_name": "张", "given_name": "三"})
    services.contact_create(user=admin, data={"family_name": "张", "given_name": "三"})
    items = session_api(rep).get("search", {"q": "张三"}).json()["items"]
    assert [i["id"] for i in items] == [mine.pk]
