"""The permission matrix: every API route × every principal answers exactly the policy.

The route list is read from the API object, so a route added without a row here fails
``test_every_route_has_a_policy``. For each route and principal:

* lists return exactly the ids the principal may see;
* reading a record the principal may not see answers 404 (never 403 with data);
* a refused write answers 403/404 (or the documented 400) and leaves every table unchanged;
* anonymous gets 401, a token without the route's scope 403, the admin may do everything.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from guanxi.api.main import api
from tests.api import world as W
from tests.api.world import World
from tests.conftest import PRINCIPALS, db_snapshot, matrix_principals

PASSWORD2 = "Another-Secret-58?"


def api_routes() -> set[tuple[str, str]]:
    """Every (METHOD, path) the API serves: from the routers and from the OpenAPI document."""
    routes: set[tuple[str, str]] = set()
    for prefix, router in api._routers:
        for path, path_view in router.path_operations.items():
            for operation in path_view.operations:
                for method in operation.methods:
                    full = re.sub("/+", "/", f"/api/v1/{prefix}/{path}")
                    routes.add((method.upper(), full.rstrip("/")))
    for path, operations in api.get_openapi_schema()["paths"].items():
        for method in operations:
            routes.add((method.upper(), path.rstrip("/")))
    return routes


class Check:
    """Runs the requests of one route for one principal and collects every mismatch."""

    def __init__(self, w: World, who: str):
        self.w = w
        self.who = who
        self.api = w.p.client(who)
        self.errors: list[str] = []

    def rows_for(self, table: dict[str, Any], kind: str) -> set[str]:
        """The rows of ``kind`` this principal gets in ``table`` (admins: every row unless listed)."""
        value = table.get(self.who, W.ALL if self.who in W.ADMINS else None)
        if value == W.ALL:
            return set(self.w.keys(kind))
        return set(value or ())

    def status(self, key: str, kind: str, view: dict[str, Any] | None, action: dict[str, Any], ok: int) -> int:
        """``ok`` if the principal may do it; 403 if they may only see the row; else 404."""
        if self.who == "anonymous":
            return 401
        if self.who == "token_noscope":
            return 403
        if key in self.rows_for(action, kind):
            return ok
        if view is not None and key in self.rows_for(view, kind):
            return 403
        return 404

    def request(
        self,
        label: str,
        method: str,
        path: str,
        expected: int,
        json_body: Any = None,
        upload: dict[str, Any] | None = None,
    ) -> Any:
        # Reads and refused writes must leave every table as it was.
        guard = method == "GET" or not 200 <= expected < 300
        before = db_snapshot() if guard else None
        if upload is not None:  # noqa: SIM108 - two calls read better than one long ternary
            response = self.api.upload(path, upload)
        else:
            response = self.api.request(method, path, json_body)
        if response.status_code != expected:
            body = b"" if response.streaming else response.content[:300]
            self.errors.append(f"{label}: {method} {path} -> {response.status_code}, expected {expected} ({body!r})")
            return response
        if before is not None:
            after = db_snapshot()
            if before.changed_tables(after):
                self.errors.append(f"{label}: {method} {path} changed {before.describe_diff(after)}")
        if response.status_code in (401, 403, 404):
            self.no_data(label, response)
        return response

    def no_data(self, label: str, response: Any) -> None:
        """A refusal is a problem document; it never carries the record."""
        if not response["Content-Type"].startswith("application/problem+json"):
            self.errors.append(f"{label}: refusal is not problem+json: {response['Content-Type']}")
            return
        body = response.json()
        leaked = set(body) - {"type", "title", "status", "detail", "instance", "request_id", "errors"}
        if leaked:
            self.errors.append(f"{label}: refusal carries data {sorted(leaked)}")

    def list(self, path: str, kind: str, table: dict[str, Any], params: str = "limit=200") -> None:
        label = f"list {path}"
        url = f"{path}?{params}"
        if self.who == "anonymous":
            self.request(label, "GET", url, 401)
            return
        if self.who == "token_noscope":
            self.request(label, "GET", url, 403)
            return
        if self.who not in W.ADMINS and table[self.who] is W.DENIED:
            self.request(label, "GET", url, 403)
            return
        expected = self.rows_for(table, kind)
        response = self.request(label, "GET", url, 200)
        if response.status_code != 200:
            return
        body = response.json()
        got = {self.w.key_of(kind, item["id"]) for item in body["items"]}
        if got != expected:
            self.errors.append(f"{label}: sees {sorted(got)}, expected {sorted(expected)}")
        if body["next_cursor"] is not None:
            self.errors.append(f"{label}: unexpected next_cursor")

    def each(
        self,
        kind: str,
        method: str,
        path: Callable[[str], str],
        view: dict[str, Any] | None,
        action: dict[str, Any],
        ok: int,
        body: Callable[[str], Any] | None = None,
        keys: list[str] | None = None,
        status: Callable[[str, int], int] | None = None,
    ) -> None:
        """One request per row of ``kind``; the answer follows the view/action tables."""
        for key in keys or self.w.keys(kind):
            expected = self.status(key, kind, view, action, ok)
            if status is not None and self.who not in ("anonymous", "token_noscope"):
                expected = status(key, expected)
            self.request(f"{kind} {key}", method, path(key), expected, body(key) if body else None)

    def done(self) -> None:
        assert not self.errors, f"{self.who}:\n" + "\n".join(self.errors)


NOBODY: dict[str, Any] = {who: set() for who in (*W.PEOPLE, *W.ADMINS)}  # not even an administrator
NO_PEOPLE: dict[str, Any] = {who: set() for who in W.PEOPLE}  # administrators only


# --- per-route checks ----------------------------------------------------------------------------------

G = "/api/v1/gadgets"
U = "/api/v1/users"
T = "/api/v1/teams"
R = "/api/v1/roles"
S = "/api/v1/shares"
TK = "/api/v1/tokens"
TG = "/api/v1/tags"
CF = "/api/v1/custom-fields"
N = "/api/v1/notes"
A = "/api/v1/attachments"
BIN = "/api/v1/recycle-bin"


def _list(kind: str, path: str, view: dict[str, Any], params: str = "limit=200") -> Callable[[Check], None]:
    def check(c: Check) -> None:
        c.list(path, kind, view, params)

    return check


def _rows(
    kind: str,
    path: str,
    method: str,
    view: dict[str, Any] | None,
    action: dict[str, Any],
    ok: int,
    body: Callable[[World, str], Any] | None = None,
    suffix: str = "",
    status: Callable[[Check, str, int], int] | None = None,
    order: Callable[[Check], list[str]] | None = None,
) -> Callable[[Check], None]:
    """One request per row of ``kind`` at ``path/{id}{suffix}``."""

    def check(c: Check) -> None:
        c.each(
            kind,
            method,
            lambda k: f"{path}/{c.w.pk(kind, k)}{suffix}",
            view,
            action,
            ok,
            (lambda k: body(c.w, k)) if body else None,
            keys=order(c) if order else None,
            status=(lambda k, e: status(c, k, e)) if status else None,
        )

    return check


def _detail(kind: str, path: str, view: dict[str, Any]) -> Callable[[Check], None]:
    return _rows(kind, path, "GET", None, view, 200)


def _create(path: str, allowed: set[str], body: Callable[[Check], Any]) -> Callable[[Check], None]:
    def check(c: Check) -> None:
        if c.who == "anonymous":
            expected = 401
        elif c.who == "token_noscope":
            expected = 403
        else:
            expected = 201 if c.who in allowed else 403
        c.request(f"create {path}", "POST", path, expected, body(c))

    return check


# gadgets ------------------------------------------------------------------------------------------------


def _gadget_rows(method: str, action: dict[str, Any], ok: int, body: Callable[[World, str], Any] | None = None):
    gadget_rows = _rows("gadget", G, method, W.GADGET_VIEW, action, ok, body)
    # records in the recycle bin are not there for reads and writes, admins included
    deleted_rows = _rows("deleted", G, method, None, NOBODY, ok, body)

    def check(c: Check) -> None:
        gadget_rows(c)
        deleted_rows(c)

    return check


def _gadget_create(c: Check) -> None:
    expected = {"anonymous": 401, "token_noscope": 403, "norole": 403}.get(c.who, 201)
    body = {"name": f"New by {c.who}", "price": "12.50", "tags": ["new"]}
    response = c.request("create", "POST", G, expected, body)
    if response.status_code == 201:
        data = response.json()
        if data["owner"]["id"] != c.w.p.user(c.who).pk or data["tags"] != ["new"]:
            c.errors.append(f"create: owner/tags not set: {data}")


# recycle bin ---------------------------------------------------------------------------------------------


def _bin_rows(method: str, ok: int) -> Callable[[Check], None]:
    suffix = "/restore" if method == "POST" else ""
    in_bin = _rows("deleted", f"{BIN}/testapp.gadget", method, W.DELETED_VIEW, W.DELETED_DELETE, ok, suffix=suffix)
    # live records are not in the bin
    live = _rows(
        "gadget",
        f"{BIN}/testapp.gadget",
        method,
        None,
        NOBODY,
        ok,
        suffix=suffix,
        order=lambda c: ["g_owner", "g_admin"],
    )

    def check(c: Check) -> None:
        in_bin(c)
        live(c)

    return check


def _bin_bulk(c: Check) -> None:
    """``POST /recycle-bin/{type}/bulk`` restore, every binned gadget and a live one ticked: exactly the
    binned ones the principal may delete come back; a principal who may delete none is refused whole
    (403) and nothing changes."""
    from guanxi.core.permissions import may_reach
    from tests.testapp.models import Gadget

    deleted = {key: c.w.pk("deleted", key) for key in c.w.keys("deleted")}
    live = c.w.pk("gadget", "g_owner")
    body = {"action": "restore", "ids": [*deleted.values(), live]}
    path = f"{BIN}/testapp.gadget/bulk"
    if c.who in ("anonymous", "token_noscope"):
        c.request("bulk restore", "POST", path, 401 if c.who == "anonymous" else 403, body)
        return
    allowed = c.rows_for(W.DELETED_DELETE, "deleted")
    reachable = may_reach(c.w.p.user(c.who), Gadget, "delete")
    response = c.request("bulk restore", "POST", path, 200 if reachable else 403, body)
    if response.status_code != 200:
        return
    back = set(Gadget.objects.filter(pk__in=deleted.values()).values_list("pk", flat=True))
    got = {key for key, pk in deleted.items() if pk in back}
    if got != allowed:
        c.errors.append(f"bulk restore brought back {sorted(got)}, expected {sorted(allowed)}")
    result = response.json()
    if result["changed"] != len(allowed) or result["skipped"] != len(deleted) + 1 - len(allowed):
        c.errors.append(f"bulk restore counted {result}")


# users ---------------------------------------------------------------------------------------------------


def _me(c: Check) -> str | None:
    return "admin" if c.who in W.ADMINS else c.who if c.who in c.w.p.users else None


def _user_delete_status(c: Check, key: str, expected: int) -> int:
    # nobody deactivates themself (400, checked first); an administrator deactivates anyone else
    return 400 if key == _me(c) else expected


def _held_status(kind: str) -> Callable[[Check, str, int], int]:
    """Teams with active members and roles that people hold (or that roles report to) are not binned: 400."""

    def status(c: Check, key: str, expected: int) -> int:
        from guanxi.identity.models import Role, User

        if expected != 204:
            return expected
        pk = c.w.pk(kind, key)
        if kind == "team":
            held = User.objects.filter(team_id=pk, is_active=True).exists()
        else:
            held = (
                User.objects.filter(role_id=pk, is_active=True).exists() or Role.objects.filter(parent_id=pk).exists()
            )
        return 400 if held else expected

    return status


def _self_last(c: Check) -> list[str]:
    me = _me(c)
    return [k for k in c.w.keys("user") if k != me] + ([me] if me else [])


def _password_status(c: Check, key: str, expected: int) -> int:
    # your own password, if you may see yourself; someone else's needs "change users: all"
    return 204 if expected == 403 and key == c.who else expected


# attachments, notes, shares, tokens ----------------------------------------------------------------------


def _upload(c: Check) -> None:
    for key in c.w.keys("gadget"):
        expected = c.status(key, "gadget", W.GADGET_VIEW, W.GADGET_CHANGE, 201)
        data = {
            "content_type": str(c.w.gadget_ct),
            "object_id": str(c.w.pk("gadget", key)),
            "file": SimpleUploadedFile("offer.pdf", b"%PDF-1.4 offer", content_type="application/pdf"),
        }
        c.request(f"upload to {key}", "POST", A, expected, upload=data)


def _download(c: Check) -> None:
    for key in c.w.keys("attachment"):
        expected = c.status(key, "attachment", None, W.ATTACHMENT_VIEW, 200)
        response = c.request(f"download {key}", "GET", f"{A}/{c.w.pk('attachment', key)}/download", expected)
        if response.status_code == 200:
            stored = c.w.obj("attachment", key)
            with stored.file.open("rb") as fh:
                if b"".join(response.streaming_content) != fh.read():
                    c.errors.append(f"download {key}: wrong bytes")


def _note_create(c: Check) -> None:
    for key in c.w.keys("gadget"):
        expected = c.status(key, "gadget", W.GADGET_VIEW, W.GADGET_CHANGE, 201)
        body = {"content_type": c.w.gadget_ct, "object_id": c.w.pk("gadget", key), "body": f"note by {c.who}"}
        c.request(f"note on {key}", "POST", N, expected, body)


def _share_create(c: Check) -> None:
    for key in c.w.keys("gadget"):
        expected = c.status(key, "gadget", W.GADGET_VIEW, W.GADGET_CHANGE, 201)
        # a record the user may not see is "no such record": 400 on the body's object_id, like a wrong id
        expected = 400 if expected == 404 else expected
        body = {
            "content_type": c.w.gadget_ct,
            "object_id": c.w.pk("gadget", key),
            "user": c.w.pk("user", "norole"),
            "access": "view",
        }
        c.request(f"share {key}", "POST", S, expected, body)


def _token_create(c: Check) -> None:
    expected = {"anonymous": 401, "token_noscope": 403}.get(c.who, 201)
    response = c.request("mint", "POST", TK, expected, {"name": "sync", "scopes": ["testapp.gadget:view"]})
    if response.status_code == 201:
        data = response.json()
        if not data.get("key") or data["user"]["id"] != c.w.p.user(c.who).pk:
            c.errors.append(f"mint: {data}")


def _tokens_self_last(c: Check) -> list[str]:
    # the admin token revoking itself ends its session: do it last
    return [k for k in c.w.keys("token") if k != "t_admin"] + ["t_admin"]


def _object_types(c: Check) -> None:
    # metadata about record types, no records: every signed-in principal, whatever the token's scopes
    expected = 401 if c.who == "anonymous" else 200
    response = c.request("object types", "GET", "/api/v1/object-types", expected)
    if response.status_code == 200:
        paths = {item["path"] for item in response.json()["items"]}
        if "gadgets" not in paths:
            c.errors.append(f"object types: {paths}")


def _with_ct(w: World, **extra: Any) -> dict[str, Any]:
    return {"content_type": w.gadget_ct, **extra}


MATRIX: dict[tuple[str, str], Callable[[Check], None]] = {
    # gadgets: owned records (own / team / subordinates / shares)
    ("GET", G): _list("gadget", G, W.GADGET_VIEW),
    ("POST", G): _gadget_create,
    ("GET", G + "/{id}"): _gadget_rows("GET", W.GADGET_VIEW, 200),
    ("PATCH", G + "/{id}"): _gadget_rows("PATCH", W.GADGET_CHANGE, 200, lambda w, k: {"name": f"Patched {k}"}),
    ("PUT", G + "/{id}"): _gadget_rows(
        "PUT", W.GADGET_CHANGE, 200, lambda w, k: {"name": f"Put {k}", "price": "9.99", "status": "won"}
    ),
    ("DELETE", G + "/{id}"): _gadget_rows("DELETE", W.GADGET_DELETE, 204),
    # recycle bin: list, restore and purge need "delete" on the record
    ("GET", BIN): _list("deleted", BIN, W.DELETED_DELETE, "object_type=testapp.gadget&limit=200"),
    ("GET", BIN + "/{object_type}"): _list("deleted", BIN + "/testapp.gadget", W.DELETED_DELETE),
    ("POST", BIN + "/{object_type}/bulk"): _bin_bulk,
    ("POST", BIN + "/{object_type}/{id}/restore"): _bin_rows("POST", 200),
    ("DELETE", BIN + "/{object_type}/{id}"): _bin_rows("DELETE", 204),
    # users: nobody but an administrator writes users in this organisation
    ("GET", U): _list("user", U, W.USER_VIEW),
    ("GET", U + "/{id}"): _detail("user", U, W.USER_VIEW),
    ("POST", U): _create(U, set(W.ADMINS), lambda c: {"email": f"new-{c.who}@example.com", "display_name": "New"}),
    ("PATCH", U + "/{id}"): _rows("user", U, "PATCH", W.USER_VIEW, NO_PEOPLE, 200, lambda w, k: {"phone": "138"}),
    ("PUT", U + "/{id}"): _rows(
        "user",
        U,
        "PUT",
        W.USER_VIEW,
        NO_PEOPLE,
        200,
        lambda w, k: {"email": w.obj("user", k).email, "display_name": f"Put {k}"},
    ),
    ("DELETE", U + "/{id}"): _rows("user", U, "DELETE", W.USER_VIEW, NO_PEOPLE, 204, status=_user_delete_status),
    ("POST", U + "/{id}/password"): _rows(
        "user",
        U,
        "POST",
        W.USER_VIEW,
        NO_PEOPLE,
        204,
        lambda w, k: {"password": PASSWORD2},
        suffix="/password",
        status=_password_status,
        order=_self_last,
    ),
    # teams
    ("GET", T): _list("team", T, W.TEAM_VIEW),
    ("GET", T + "/{id}"): _detail("team", T, W.TEAM_VIEW),
    ("POST", T): _create(T, set(W.ADMINS), lambda c: {"name": f"New team {c.who}"}),
    ("PATCH", T + "/{id}"): _rows("team", T, "PATCH", W.TEAM_VIEW, NO_PEOPLE, 200, lambda w, k: {"territory": "华南"}),
    ("PUT", T + "/{id}"): _rows(
        "team", T, "PUT", W.TEAM_VIEW, NO_PEOPLE, 200, lambda w, k: {"name": w.obj("team", k).name, "description": "d"}
    ),
    ("DELETE", T + "/{id}"): _rows("team", T, "DELETE", W.TEAM_VIEW, NO_PEOPLE, 204, status=_held_status("team")),
    # roles and their permission rules
    ("GET", R): _list("role", R, W.ROLE_VIEW),
    ("GET", R + "/{id}"): _detail("role", R, W.ROLE_VIEW),
    ("POST", R): _create(R, set(W.ADMINS), lambda c: {"name": f"New role {c.who}"}),
    ("PATCH", R + "/{id}"): _rows("role", R, "PATCH", W.ROLE_VIEW, NO_PEOPLE, 200, lambda w, k: {"description": "x"}),
    ("PUT", R + "/{id}"): _rows(
        "role", R, "PUT", W.ROLE_VIEW, NO_PEOPLE, 200, lambda w, k: {"name": w.obj("role", k).name, "description": "y"}
    ),
    ("DELETE", R + "/{id}"): _rows("role", R, "DELETE", W.ROLE_VIEW, NO_PEOPLE, 204, status=_held_status("role")),
    ("GET", R + "/{id}/permissions"): _rows("role", R, "GET", None, W.ROLE_VIEW, 200, suffix="/permissions"),
    ("PUT", R + "/{id}/permissions"): _rows(
        "role",
        R,
        "PUT",
        W.ROLE_VIEW,
        NO_PEOPLE,
        200,
        lambda w, k: {"permissions": [{"object_type": "testapp.gadget", "action": "view", "scope": "team"}]},
        suffix="/permissions",
    ),
    # shares: visible with the record they share, writable by who may change that record
    ("GET", S): _list("share", S, W.SHARE_VIEW),
    ("GET", S + "/{id}"): _detail("share", S, W.SHARE_VIEW),
    ("POST", S): _share_create,
    ("PATCH", S + "/{id}"): _rows(
        "share", S, "PATCH", W.SHARE_VIEW, W.SHARE_CHANGE, 200, lambda w, k: {"access": "change"}
    ),
    ("PUT", S + "/{id}"): _rows(
        "share",
        S,
        "PUT",
        W.SHARE_VIEW,
        W.SHARE_CHANGE,
        200,
        lambda w, k: _with_ct(w, object_id=w.obj("share", k).object_id, access="change"),
    ),
    # share_delete answers 404 (not 403) for a share the user may see but not remove
    ("DELETE", S + "/{id}"): _rows("share", S, "DELETE", None, W.SHARE_CHANGE, 204),
    # API tokens: your own; an administrator sees and revokes everyone's
    ("GET", TK): _list("token", TK, W.TOKEN_VIEW),
    ("GET", TK + "/{id}"): _detail("token", TK, W.TOKEN_VIEW),
    ("POST", TK): _token_create,
    ("POST", TK + "/{id}/revoke"): _rows(
        "token", TK, "POST", None, W.TOKEN_VIEW, 200, suffix="/revoke", order=_tokens_self_last
    ),
    ("DELETE", TK + "/{id}"): _rows("token", TK, "DELETE", None, W.TOKEN_VIEW, 204, order=_tokens_self_last),
    # tags and custom field definitions: shared dictionaries
    ("GET", TG): _list("tag", TG, W.TAG_VIEW),
    ("GET", TG + "/{id}"): _detail("tag", TG, W.TAG_VIEW),
    ("POST", TG): _create(TG, W.TAG_ADD, lambda c: {"name": f"new-{c.who}"}),
    ("PATCH", TG + "/{id}"): _rows("tag", TG, "PATCH", W.TAG_VIEW, NO_PEOPLE, 200, lambda w, k: {"colour": "red"}),
    ("PUT", TG + "/{id}"): _rows(
        "tag", TG, "PUT", W.TAG_VIEW, NO_PEOPLE, 200, lambda w, k: {"name": k, "description": "d"}
    ),
    ("DELETE", TG + "/{id}"): _rows("tag", TG, "DELETE", W.TAG_VIEW, NO_PEOPLE, 204),
    ("GET", CF): _list("customfield", CF, W.CUSTOMFIELD_VIEW),
    ("GET", CF + "/{id}"): _detail("customfield", CF, W.CUSTOMFIELD_VIEW),
    ("POST", CF): _create(
        CF,
        set(W.ADMINS),
        lambda c: {
            "object_type": "testapp.gadget",
            "key": f"k_{c.who}",
            "label_en": "K",
            "label_zh": "钥",
            "field_type": "text",
        },
    ),
    ("PATCH", CF + "/{id}"): _rows(
        "customfield", CF, "PATCH", W.CUSTOMFIELD_VIEW, NO_PEOPLE, 200, lambda w, k: {"label_en": "Area"}
    ),
    ("PUT", CF + "/{id}"): _rows(
        "customfield",
        CF,
        "PUT",
        W.CUSTOMFIELD_VIEW,
        NO_PEOPLE,
        200,
        lambda w, k: {
            "object_type": "testapp.gadget",
            "key": "region",
            "label_en": "Area",
            "label_zh": "区域",
            "field_type": "text",
        },
    ),
    ("DELETE", CF + "/{id}"): _rows("customfield", CF, "DELETE", W.CUSTOMFIELD_VIEW, NO_PEOPLE, 204),
    # change log (read only)
    ("GET", "/api/v1/change-log"): _list("changelog", "/api/v1/change-log", W.CHANGELOG_VIEW),
    ("GET", "/api/v1/change-log/{id}"): _detail("changelog", "/api/v1/change-log", W.CHANGELOG_VIEW),
    # attachments, notes, timeline: follow the record they hang on
    ("GET", A): _list("attachment", A, W.ATTACHMENT_VIEW),
    ("GET", A + "/{id}"): _detail("attachment", A, W.ATTACHMENT_VIEW),
    ("GET", A + "/{id}/download"): _download,
    ("POST", A): _upload,
    # attachment_delete answers 404 (not 403) for a file the user may see but not remove
    ("DELETE", A + "/{id}"): _rows("attachment", A, "DELETE", None, W.ATTACHMENT_CHANGE, 204),
    ("GET", N): _list("note", N, W.NOTE_VIEW),
    ("GET", N + "/{id}"): _detail("note", N, W.NOTE_VIEW),
    ("POST", N): _note_create,
    ("PATCH", N + "/{id}"): _rows("note", N, "PATCH", W.NOTE_VIEW, W.NOTE_CHANGE, 200, lambda w, k: {"body": "edited"}),
    ("PUT", N + "/{id}"): _rows(
        "note",
        N,
        "PUT",
        W.NOTE_VIEW,
        W.NOTE_CHANGE,
        200,
        lambda w, k: _with_ct(w, object_id=w.obj("note", k).object_id, body="rewritten"),
    ),
    ("DELETE", N + "/{id}"): _rows("note", N, "DELETE", W.NOTE_VIEW, W.NOTE_CHANGE, 204),
    ("GET", "/api/v1/timeline"): _list("timeline", "/api/v1/timeline", W.TIMELINE_VIEW),
    ("GET", "/api/v1/timeline/{id}"): _detail("timeline", "/api/v1/timeline", W.TIMELINE_VIEW),
    ("GET", "/api/v1/object-types"): _object_types,
}

# Routes deliberately outside the matrix, each with the reason.
EXEMPT: dict[tuple[str, str], str] = {}


def contributed(name: str) -> dict[Any, Any]:
    """Rows other test packages add without editing this file: ``tests/<package>/platform_policies.py``
    may define ``MATRIX`` (route -> check(Check)), ``MATRIX_EXEMPT``, ``CHANGELOG_CASES`` and
    ``CHANGELOG_EXEMPT`` (route -> reason)."""
    import importlib
    from pathlib import Path

    found: dict[Any, Any] = {}
    for module_file in sorted(Path(__file__).resolve().parent.parent.glob("*/platform_policies.py")):
        module = importlib.import_module(f"tests.{module_file.parent.name}.platform_policies")
        found.update(getattr(module, name, {}))
    return found


def full_matrix() -> dict[tuple[str, str], Callable[[Check], None]]:
    return {**contributed("MATRIX"), **MATRIX}


def all_exemptions() -> dict[tuple[str, str], str]:
    matrix = full_matrix()
    return {r: why for r, why in {**EXEMPT, **contributed("MATRIX_EXEMPT")}.items() if r not in matrix}


def test_every_route_has_a_policy() -> None:
    routes = api_routes()
    matrix, exempt = full_matrix(), all_exemptions()
    missing = sorted(routes - set(matrix) - set(exempt))
    assert not missing, f"API routes without a permission policy in the matrix: {missing}"
    stale = sorted((set(matrix) | set(exempt)) - routes)
    assert not stale, f"matrix rows or exemptions for routes that no longer exist: {stale}"
    assert all(len(reason) > 20 for reason in exempt.values()), "every exemption says why"


def test_matrix_covers_every_registered_resource() -> None:
    from guanxi.core.registry import resources

    covered = {path for _method, path in full_matrix()} | {path for _method, path in all_exemptions()}
    for resource in resources():
        if resource.api:
            assert f"/api/v1/{resource.path}" in covered, resource.path


@pytest.mark.parametrize("who", matrix_principals(PRINCIPALS))
@pytest.mark.parametrize("route", sorted(full_matrix()), ids=lambda r: f"{r[0]} {r[1].removeprefix('/api/v1/')}")
def test_permission_matrix(route: tuple[str, str], who: str, world: World) -> None:
    check = Check(world, who)
    full_matrix()[route](check)
    check.done()


def test_refusals_are_problem_documents(world: World) -> None:
    w = world
    response = w.p.client("owner").get(f"gadgets/{w.pk('gadget', 'g_other')}")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/problem+json")
    body = json.loads(response.content)
    assert body["status"] == 404 and "name" not in body and "Other" not in response.content.decode()
