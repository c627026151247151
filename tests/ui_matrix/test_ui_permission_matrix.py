"""The permission matrix of the HTML pages: every UI URL × every principal answers the same policy as
the API (tests/api/world.py), read from the same hand-written tables.

* anonymous: redirected to the sign-in page, nothing written;
* a record the principal may not see: 404; a page they may see but not act on: 403;
* lists show exactly the rows the principal may see;
* a refused POST leaves every table unchanged.

The URL list is read from ``guanxi.core.urls_ui``: a page added without a row here fails
``test_every_ui_url_has_a_policy``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from guanxi.core.models import SavedView
from tests.activities.platform_policies import UI_MATRIX as _NOTIFICATIONS
from tests.api import world as W
from tests.api.world import World
from tests.conftest import db_snapshot, matrix_principals, session_api
from tests.core.imports_policies import UI_MATRIX as _IMPORTS
from tests.core.platform_policies import UI_MATRIX as _JOBS_AND_EXPORTS

UI_PRINCIPALS = ("anonymous", "owner", "colleague", "other", "manager", "norole", "admin")
ROW = re.compile(rb'data-pk="(\d+)"')


def ui_url_names() -> set[str]:
    from guanxi.core import urls_ui

    return {p.name for p in urls_ui.urlpatterns if getattr(p, "name", None)}


class UiCheck:
    def __init__(self, w: World, who: str):
        self.w = w
        self.who = who
        if who == "anonymous":
            from django.test import Client

            self.client = Client()
        else:
            self.client = session_api(w.p.users[who]).client
        self.errors: list[str] = []

    # --- expectations ---------------------------------------------------------------------------------
    def rows_for(self, table: dict[str, Any], kind: str) -> set[str]:
        value = table.get(self.who, W.ALL if self.who == "admin" else None)
        if value == W.ALL:
            return set(self.w.keys(kind))
        return set(value or ())

    def status(self, key: str, kind: str, view: dict[str, Any] | None, action: dict[str, Any], ok: int) -> int:
        if self.who == "anonymous":
            return 302
        if key in self.rows_for(action, kind):
            return ok
        if view is not None and key in self.rows_for(view, kind):
            return 403
        return 404

    # --- requests -------------------------------------------------------------------------------------
    def request(
        self,
        label: str,
        method: str,
        url: str,
        expected: int,
        data: dict[str, Any] | None = None,
        *,
        writes: bool | None = None,
    ) -> Any:
        """``writes``: whether the request may change the database (default: a successful POST may)."""
        if writes is None:
            writes = method == "POST" and expected in (200, 302) and self.who != "anonymous"
        before = None if writes else db_snapshot()
        response = self.client.post(url, data or {}) if method == "POST" else self.client.get(url)
        if response.status_code != expected:
            self.errors.append(f"{label}: {method} {url} -> {response.status_code}, expected {expected}")
            return response
        if expected == 302 and self.who == "anonymous" and not response["Location"].startswith(reverse("login")):
            self.errors.append(f"{label}: anonymous sent to {response['Location']}, not to sign in")
        if before is not None:
            after = db_snapshot()
            if before.changed_tables(after):
                self.errors.append(f"{label}: {method} {url} changed {before.describe_diff(after)}")
        return response

    def list(self, url: str, kind: str, table: dict[str, Any]) -> None:
        if self.who == "anonymous":
            self.request(f"list {url}", "GET", url, 302)
            return
        if self.who != "admin" and table[self.who] is W.DENIED:
            self.request(f"list {url}", "GET", url, 403)
            return
        response = self.request(f"list {url}", "GET", url, 200)
        if response.status_code == 200:
            got = {self.w.key_of(kind, int(pk)) for pk in ROW.findall(response.content)}
            expected = self.rows_for(table, kind)
            if got != expected:
                self.errors.append(f"list {url}: shows {sorted(got)}, expected {sorted(expected)}")

    def each(
        self,
        kind: str,
        method: str,
        url: Callable[[str], str],
        view: dict[str, Any] | None,
        action: dict[str, Any],
        ok: int,
        data: Callable[[str], dict[str, Any]] | None = None,
        keys: list[str] | None = None,
        writes: Callable[[str, int], bool | None] | None = None,
    ) -> None:
        for key in keys if keys is not None else self.w.keys(kind):
            expected = self.status(key, kind, view, action, ok)
            self.request(
                f"{kind} {key}",
                method,
                url(key),
                expected,
                data(key) if data else None,
                writes=writes(key, expected) if writes else None,
            )

    def done(self) -> None:
        assert not self.errors, f"{self.who}:\n" + "\n".join(self.errors)


def url(name: str, *args: Any) -> str:
    return reverse(f"ui:{name}", args=args)


NOBODY: dict[str, Any] = {who: set() for who in (*W.PEOPLE, "admin")}
NO_PEOPLE: dict[str, Any] = {who: set() for who in W.PEOPLE}
ADD_GADGETS = {"owner", "colleague", "other", "manager", "admin"}


# --- generic page checks --------------------------------------------------------------------------------


def page_list(path: str, kind: str, view: dict[str, Any]) -> Callable[[UiCheck], None]:
    return lambda c: c.list(url(f"{path}-list"), kind, view)


def page_rows(
    path: str,
    page: str,
    kind: str,
    view: dict[str, Any] | None,
    action: dict[str, Any],
    ok: int = 200,
    method: str = "GET",
    data: Callable[[World, str], dict[str, Any]] | None = None,
    keys: Callable[[UiCheck], list[str]] | None = None,
) -> Callable[[UiCheck], None]:
    def check(c: UiCheck) -> None:
        c.each(
            kind,
            method,
            lambda k: url(f"{path}-{page}", c.w.pk(kind, k)),
            view,
            action,
            ok,
            (lambda k: data(c.w, k)) if data else None,
            keys=keys(c) if keys else None,
        )

    return check


def add_page(path: str, allowed: set[str], method: str = "GET", data: dict[str, Any] | None = None):
    def check(c: UiCheck) -> None:
        if c.who == "anonymous":
            expected = 302
        elif c.who in allowed:
            expected = 200 if method == "GET" else 302
        else:
            expected = 403
        c.request(f"add {path}", method, url(f"{path}-add"), expected, data)

    return check


def unheld(kind: str) -> Callable[[UiCheck], list[str]]:
    """Teams without active members and roles nobody holds: the ones that may be binned at all.

    Refusing to bin a held team or role (400) is covered by the API matrix."""

    def keys(c: UiCheck) -> list[str]:
        from guanxi.identity.models import Role, User

        out = []
        for key in c.w.keys(kind):
            pk = c.w.pk(kind, key)
            if kind == "team":
                held = User.objects.filter(team_id=pk, is_active=True).exists()
            else:
                held = (
                    User.objects.filter(role_id=pk, is_active=True).exists()
                    or Role.objects.filter(parent_id=pk).exists()
                )
            if not held:
                out.append(key)
        return out

    return keys


def bulk_delete(
    path: str,
    kind: str,
    action: dict[str, Any],
    skip_self: bool = False,
    only: Callable[[UiCheck], list[str]] | None = None,
) -> Callable[[UiCheck], None]:
    """Select every row and bulk-delete: exactly the rows the principal may delete go.

    ``skip_self``: users do not select themselves (deactivating yourself fails the whole batch).
    ``only``: the rows to select (e.g. teams that may be binned at all).
    """

    def check(c: UiCheck) -> None:
        model = type(next(iter(c.w.objs[kind].values())))
        manager = getattr(model, "all_objects", model._default_manager)
        candidates = only(c) if only else c.w.keys(kind)
        keys = [k for k in candidates if not (skip_self and k == c.who)]
        pks = [c.w.pk(kind, k) for k in keys]
        allowed = set() if c.who == "anonymous" else c.rows_for(action, kind) & set(keys)
        data = {"action": "delete", "confirm": "yes", "pk": [str(pk) for pk in pks]}
        response = c.request(f"bulk {path}", "POST", url(f"{path}-bulk"), 302, data, writes=bool(allowed))
        if response.status_code != 302:
            return
        remaining = manager.filter(pk__in=pks)
        if hasattr(model, "deleted_at"):
            remaining = remaining.filter(deleted_at__isnull=True)
        if hasattr(model, "is_active"):
            remaining = remaining.filter(is_active=True)
        gone = {c.w.key_of(kind, pk) for pk in set(pks) - set(remaining.values_list("pk", flat=True))}
        if gone != allowed:
            c.errors.append(f"bulk delete {path}: removed {sorted(gone)}, expected {sorted(allowed)}")

    return check


def gadget_form(w: World, key: str) -> dict[str, Any]:
    g = w.obj("gadget", key)
    g.refresh_from_db()
    return {
        "name": f"Edited {key}",
        "price": str(g.price),
        "status": g.status,
        "owner": g.owner_id or "",
        "team": g.team_id or "",
        "version": g.version,
        "tags": "",
    }


def _with_deleted(check: Callable[[UiCheck], None], page: str, method: str = "GET") -> Callable[[UiCheck], None]:
    """Records in the recycle bin have no pages, for anyone."""

    def both(c: UiCheck) -> None:
        check(c)
        c.each("deleted", method, lambda k: url(f"gadgets-{page}", c.w.pk("deleted", k)), None, NOBODY, 200)

    return both


def _user_delete_keys(c: UiCheck) -> list[str]:
    me = c.who if c.who in c.w.p.users else None
    return [k for k in c.w.keys("user") if k != me]


# --- special pages ----------------------------------------------------------------------------------------


def _recycle_bin(c: UiCheck) -> None:
    if c.who == "anonymous":
        c.request("bin", "GET", url("recycle-bin"), 302)
        return
    response = c.request("bin", "GET", url("recycle-bin"), 200)
    if response.status_code == 200:
        got = {c.w.key_of("deleted", int(pk)) for pk in ROW.findall(response.content)}
        expected = c.rows_for(W.DELETED_DELETE, "deleted")
        if got != expected:
            c.errors.append(f"recycle bin shows {sorted(got)}, expected {sorted(expected)}")


def _bin_action(name: str) -> Callable[[UiCheck], None]:
    def check(c: UiCheck) -> None:
        c.each(
            "deleted",
            "POST",
            lambda k: url(name, "gadgets", c.w.pk("deleted", k)),
            W.DELETED_VIEW,
            W.DELETED_DELETE,
            302,
        )
        c.each(
            "gadget", "POST", lambda k: url(name, "gadgets", c.w.pk("gadget", k)), None, NOBODY, 302, keys=["g_owner"]
        )

    return check


def _bin_bulk(c: UiCheck) -> None:
    """Tick every binned gadget and a live one, restore: exactly the binned ones the principal may
    delete come back (the others are skipped), and nothing changes for one who may delete none."""
    from tests.testapp.models import Gadget

    deleted = {key: c.w.pk("deleted", key) for key in c.w.keys("deleted")}
    pks = [*deleted.values(), c.w.pk("gadget", "g_owner")]
    allowed = set() if c.who == "anonymous" else c.rows_for(W.DELETED_DELETE, "deleted")
    data = {"action": "restore", "pk": [str(pk) for pk in pks]}
    c.request("bin bulk", "POST", url("recycle-bulk", "gadgets"), 302, data, writes=bool(allowed))
    back = {key for key, pk in deleted.items() if Gadget.objects.filter(pk=pk).exists()}
    if back != allowed:
        c.errors.append(f"bin bulk restore brought back {sorted(back)}, expected {sorted(allowed)}")


def _bin_undo(c: UiCheck) -> None:
    """撤销 takes a token of the user's own session: a made-up one restores nothing, for anyone."""
    c.request("bin undo", "POST", url("recycle-undo"), 302, {"token": "made-up"}, writes=False)


def _record_post(name: str, data: Callable[[], dict[str, Any]]) -> Callable[[UiCheck], None]:
    """Notes and files on a record: who may change the record may add them."""

    def check(c: UiCheck) -> None:
        c.each(
            "gadget",
            "POST",
            lambda k: url(name, c.w.gadget_ct, c.w.pk("gadget", k)),
            W.GADGET_VIEW,
            W.GADGET_CHANGE,
            302,
            lambda k: data(),
        )

    return check


def _share_add(c: UiCheck) -> None:
    """GET is the form, for who may change the record (403 to who may only see it, 404 to the rest).
    share_create answers an invisible record with a field error: the page redirects with a message."""
    for key in c.w.keys("gadget"):
        path = url("share-add", c.w.gadget_ct, c.w.pk("gadget", key))
        c.request(f"share form {key}", "GET", path, c.status(key, "gadget", W.GADGET_VIEW, W.GADGET_CHANGE, 200))
    for key in c.w.keys("gadget"):
        expected = c.status(key, "gadget", W.GADGET_VIEW, W.GADGET_CHANGE, 302)
        denied = expected != 302
        if expected == 404:
            expected = 302
        c.request(
            f"share {key}",
            "POST",
            url("share-add", c.w.gadget_ct, c.w.pk("gadget", key)),
            expected,
            {"user": c.w.pk("user", "norole"), "access": "view"},
            writes=False if denied else None,
        )


def _saved_view_save(c: UiCheck) -> None:
    expected = 302
    c.request("save view", "POST", url("saved-view-save", "gadgets"), expected, {"name": "mine", "query": "status=new"})


def _saved_view_delete(c: UiCheck) -> None:
    theirs = SavedView.objects.create(user=c.w.p.users["admin"], object_type="testapp.gadget", name="admin's")
    mine = None
    if c.who in c.w.p.users:
        mine = SavedView.objects.create(user=c.w.p.users[c.who], object_type="testapp.gadget", name="mine")
    if c.who == "anonymous":
        c.request("delete view", "POST", url("saved-view-delete", theirs.pk), 302)
        return
    # someone else's view: 404 (an administrator may remove any)
    c.request("delete other's view", "POST", url("saved-view-delete", theirs.pk), 302 if c.who == "admin" else 404)
    if mine is not None and c.who != "admin":
        c.request("delete own view", "POST", url("saved-view-delete", mine.pk), 302)


def _token_revoke(c: UiCheck) -> None:
    c.each("token", "POST", lambda k: url("tokens-revoke", c.w.pk("token", k)), None, W.TOKEN_VIEW, 302)


def _role_permissions(c: UiCheck) -> None:
    c.each(
        "role",
        "POST",
        lambda k: url("roles-permissions", c.w.pk("role", k)),
        W.ROLE_VIEW,
        NO_PEOPLE,
        302,
        lambda k: {"version": c.w.obj("role", k).version, "perm:testapp.gadget:view": "team"},
    )


UI_MATRIX: dict[str, Callable[[UiCheck], None]] = {
    # gadgets: an owned record, every page
    "gadgets-list": page_list("gadgets", "gadget", W.GADGET_VIEW),
    "gadgets-detail": _with_deleted(page_rows("gadgets", "detail", "gadget", None, W.GADGET_VIEW), "detail"),
    "gadgets-add": lambda c: (
        add_page("gadgets", ADD_GADGETS)(c),
        add_page("gadgets", ADD_GADGETS, "POST", {"name": f"New by {c.who}", "price": "1", "status": "new"})(c),
    ),
    "gadgets-edit": lambda c: (
        _with_deleted(page_rows("gadgets", "edit", "gadget", W.GADGET_VIEW, W.GADGET_CHANGE), "edit")(c),
        page_rows("gadgets", "edit", "gadget", W.GADGET_VIEW, W.GADGET_CHANGE, 302, "POST", gadget_form)(c),
    ),
    "gadgets-delete": lambda c: (
        page_rows("gadgets", "delete", "gadget", W.GADGET_VIEW, W.GADGET_DELETE)(c),
        page_rows("gadgets", "delete", "gadget", W.GADGET_VIEW, W.GADGET_DELETE, 302, "POST")(c),
    ),
    "gadgets-bulk": bulk_delete("gadgets", "gadget", W.GADGET_DELETE),
    # settings resources: lists and pages follow the same tables; only an administrator writes them
    "users-list": page_list("users", "user", W.USER_VIEW),
    "users-detail": page_rows("users", "detail", "user", None, W.USER_VIEW),
    "users-add": add_page("users", {"admin"}),
    "users-edit": page_rows("users", "edit", "user", W.USER_VIEW, NO_PEOPLE),
    "users-delete": lambda c: (
        page_rows("users", "delete", "user", W.USER_VIEW, NO_PEOPLE)(c),
        page_rows("users", "delete", "user", W.USER_VIEW, NO_PEOPLE, 302, "POST", keys=_user_delete_keys)(c),
    ),
    "users-bulk": bulk_delete("users", "user", {**NO_PEOPLE, "admin": W.ALL}, skip_self=True),
    # 交接客户: moves customer records, so its rows are with the customers' (tests/customers/policies_handover.py)
    "users-handover": lambda c: __import__("tests.customers.policies_handover", fromlist=["_"]).ui_handover(c),
    "teams-list": page_list("teams", "team", W.TEAM_VIEW),
    "teams-detail": page_rows("teams", "detail", "team", None, W.TEAM_VIEW),
    "teams-add": add_page("teams", {"admin"}),
    "teams-edit": page_rows("teams", "edit", "team", W.TEAM_VIEW, NO_PEOPLE),
    "teams-delete": lambda c: (
        page_rows("teams", "delete", "team", W.TEAM_VIEW, NO_PEOPLE)(c),
        page_rows("teams", "delete", "team", W.TEAM_VIEW, NO_PEOPLE, 302, "POST", keys=unheld("team"))(c),
    ),
    "teams-bulk": bulk_delete("teams", "team", {**NO_PEOPLE, "admin": W.ALL}, only=unheld("team")),
    "roles-list": page_list("roles", "role", W.ROLE_VIEW),
    "roles-detail": page_rows("roles", "detail", "role", None, W.ROLE_VIEW),
    "roles-add": add_page("roles", {"admin"}),
    "roles-edit": page_rows("roles", "edit", "role", W.ROLE_VIEW, NO_PEOPLE),
    "roles-delete": page_rows("roles", "delete", "role", W.ROLE_VIEW, NO_PEOPLE),
    "roles-bulk": bulk_delete("roles", "role", {**NO_PEOPLE, "admin": W.ALL}, only=unheld("role")),
    "roles-permissions": _role_permissions,
    "tags-list": page_list("tags", "tag", W.TAG_VIEW),
    "tags-detail": page_rows("tags", "detail", "tag", None, W.TAG_VIEW),
    "tags-add": add_page("tags", W.TAG_ADD),
    "tags-edit": page_rows("tags", "edit", "tag", W.TAG_VIEW, NO_PEOPLE),
    "tags-delete": page_rows("tags", "delete", "tag", W.TAG_VIEW, NO_PEOPLE),
    "tags-bulk": bulk_delete("tags", "tag", {**NO_PEOPLE, "admin": W.ALL}),
    "custom-fields-list": page_list("custom-fields", "customfield", W.CUSTOMFIELD_VIEW),
    "custom-fields-detail": page_rows("custom-fields", "detail", "customfield", None, W.CUSTOMFIELD_VIEW),
    "custom-fields-add": add_page("custom-fields", {"admin"}),
    "custom-fields-edit": page_rows("custom-fields", "edit", "customfield", W.CUSTOMFIELD_VIEW, NO_PEOPLE),
    "custom-fields-delete": page_rows("custom-fields", "delete", "customfield", W.CUSTOMFIELD_VIEW, NO_PEOPLE),
    "custom-fields-bulk": bulk_delete("custom-fields", "customfield", {**NO_PEOPLE, "admin": W.ALL}),
    "change-log-list": page_list("change-log", "changelog", W.CHANGELOG_VIEW),
    "change-log-detail": page_rows("change-log", "detail", "changelog", None, W.CHANGELOG_VIEW),
    "shares-list": page_list("shares", "share", W.SHARE_VIEW),
    "shares-detail": page_rows("shares", "detail", "share", None, W.SHARE_VIEW),
    "shares-add": add_page("shares", {"admin"}),
    "shares-edit": page_rows("shares", "edit", "share", W.SHARE_VIEW, W.SHARE_CHANGE),
    "shares-delete": page_rows("shares", "delete", "share", W.SHARE_VIEW, W.SHARE_CHANGE),
    "shares-bulk": bulk_delete("shares", "share", {**W.SHARE_CHANGE, "admin": W.LIVE_SHARES}),
    "share-add": _share_add,
    "share-remove": lambda c: c.each(
        "share", "POST", lambda k: url("share-remove", c.w.pk("share", k)), None, W.SHARE_CHANGE, 302
    ),
    "tokens-list": lambda c: c.list(url("tokens-list"), "token", W.TOKEN_VIEW),
    "tokens-detail": page_rows("tokens", "detail", "token", None, W.TOKEN_VIEW),
    "tokens-revoke": _token_revoke,
    # the recycle bin
    "recycle-bin": _recycle_bin,
    "recycle-restore": _bin_action("recycle-restore"),
    "recycle-bulk": _bin_bulk,
    "recycle-undo": _bin_undo,
    "recycle-purge": _bin_action("recycle-purge"),
    # notes and files on a record's page
    "note-add": _record_post("note-add", lambda: {"body": "a note"}),
    "attachment-add": _record_post(
        "attachment-add", lambda: {"file": SimpleUploadedFile("offer.pdf", b"%PDF-1.4", content_type="application/pdf")}
    ),
    # the timeline's pages (narrowed, older): whoever may see the record (a deleted one is not seen)
    "timeline": lambda c: c.each(
        "gadget", "GET", lambda k: url("timeline", c.w.gadget_ct, c.w.pk("gadget", k)), None, W.GADGET_VIEW, 200
    ),
    "attachment-delete": lambda c: c.each(
        "attachment",
        "POST",
        lambda k: url("attachment-delete", c.w.pk("attachment", k)),
        None,
        W.ATTACHMENT_CHANGE,
        302,
    ),
    # global search: results and suggestions show only what the principal may view (tests/core/test_search_api.py)
    "search": lambda c: __import__("tests.core.test_search_api", fromlist=["_"]).ui_search_policy(c),
    "search-suggest": lambda c: __import__("tests.core.test_search_api", fromlist=["_"]).ui_suggest_policy(c),
    # record pickers offer only what the principal may view (tests/customers/test_pickers.py)
    "pick": lambda c: __import__("tests.customers.test_pickers", fromlist=["_"]).ui_pick_policy(c),
    # saved views are personal preferences, not records
    "saved-view-save": _saved_view_save,
    "saved-view-delete": _saved_view_delete,
}

# jobs, their files and exports: rows in tests/core/platform_policies.py
UI_MATRIX.update(_JOBS_AND_EXPORTS)
# imports: rows in tests/core/imports_policies.py
UI_MATRIX.update(_IMPORTS)
# notifications: rows in tests/activities/platform_policies.py
UI_MATRIX.update(_NOTIFICATIONS)

_CUSTOMERS_PENDING = (
    "customer pages: their policy rows are UI_MATRIX in tests/customers/platform_policies.py, run for every "
    "principal by tests/customers/test_ui_policies.py"
)
UI_EXEMPT: dict[str, str] = {
    f"{path}-{page}": _CUSTOMERS_PENDING
    for path in (
        "accounts",
        "contacts",
        "tier-rules",
        "customer-profiles",
        "assignment-rules",
        "pool-rules",
        "pool-reasons",
    )
    for page in ("list", "detail", "add", "edit", "delete", "bulk")
} | dict.fromkeys(
    (
        "duplicates-list",
        "duplicates-merge",
        "duplicates-dismiss",
        "duplicates-find",
        "duplicates-check",
        "merges-detail",
        "merges-undo",
        "contacts-vcard",
        "contacts-vcard-qr",
        "contacts-relations",
        "contacts-relation-remove",
        "accounts-relations",
        "accounts-relation-remove",
        "contacts-acquaintance",
        "contacts-acquaintance-remove",
        "accounts-claim",
        "accounts-release",
        "pool-statistics",
        "accounts-breakdown",
        "contacts-breakdown",
        "follow",  # accounts and contacts are the records one follows
        "accounts-reveal",
        "contacts-reveal",
    ),
    _CUSTOMERS_PENDING,
)

# Known differences between the HTML pages and the policy, each with its reason (none today).
UI_KNOWN_BUGS: dict[tuple[str, str], str] = {}


def test_every_ui_url_has_a_policy() -> None:
    names = ui_url_names()
    missing = sorted(names - set(UI_MATRIX) - set(UI_EXEMPT))
    assert not missing, f"UI pages without a permission policy: {missing}"
    stale = sorted((set(UI_MATRIX) | set(UI_EXEMPT)) - names)
    assert not stale, f"rows for pages that no longer exist: {stale}"


@pytest.mark.parametrize("who", matrix_principals(UI_PRINCIPALS))
@pytest.mark.parametrize("name", sorted(UI_MATRIX))
def test_ui_permission_matrix(name: str, who: str, world: World, request: pytest.FixtureRequest) -> None:
    if (name, who) in UI_KNOWN_BUGS:
        request.applymarker(pytest.mark.xfail(strict=True, reason=UI_KNOWN_BUGS[(name, who)]))
    check = UiCheck(world, who)
    UI_MATRIX[name](check)
    check.done()


def test_bearer_tokens_do_not_open_the_html_pages(world: World) -> None:
    from django.test import Client

    client = Client(headers={"Authorization": f"Bearer {world.p.keys['admin_token']}"})
    response = client.get(url("gadgets-list"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
