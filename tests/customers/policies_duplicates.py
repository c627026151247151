"""The duplicates routes and pages in the platform's walks (loaded by ``platform_policies``).

The world gets three disjoint candidate pairs of contacts and of accounts (each principal sees a pair
only when they see both records), and two finished merges (of contacts owned by owner and by other),
built by the admin through the services. Who may do what is read from the hand-written customer
tables of ``platform_policies``; a merge needs "change" on the survivor and "delete" on the other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tests.api import world as W
from tests.api.world import World

if TYPE_CHECKING:  # pragma: no cover
    from tests.api.test_permission_matrix import Check
    from tests.core.test_changelog import Ctx, Expect
    from tests.ui_matrix.test_ui_permission_matrix import UiCheck

D = "/api/v1/duplicates"
PAIRS = {
    "contact": {
        "pc_owner_sc": ("c_owner", "c_sc"),
        "pc_other_sv": ("c_other", "c_sv"),
        "pc_col_man": ("c_colleague", "c_manager"),
    },
    "account": {
        "pa_owner_sc": ("a_owner", "a_sc"),
        "pa_other_sv": ("a_other", "a_sv"),
        "pa_col_man": ("a_colleague", "a_manager"),
    },
}
MERGE_OWNERS = {"m_owner": "owner", "m_other": "other"}


def _tables(record_type: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    from tests.customers import platform_policies as P

    if record_type == "contact":
        return P.CONTACT_VIEW, P.CONTACT_CHANGE, P.CONTACT_DELETE
    return P.ACCOUNT_VIEW, P.ACCOUNT_CHANGE, P.ACCOUNT_DELETE


def dup_world(w: World) -> World:
    """The customer world plus candidate pairs and two merges (once per world)."""
    from tests.customers.platform_policies import customers_world

    customers_world(w)
    if "dupcontact" in w.objs:
        return w
    from guanxi.customers.models import Contact, DuplicateCandidate
    from guanxi.customers.services import contact_merge

    for record_type, pairs in PAIRS.items():
        for key, (a, b) in pairs.items():
            low, high = sorted((w.pk(record_type, a), w.pk(record_type, b)))
            reasons = [{"kind": "name", "similarity": 95}]
            candidate = DuplicateCandidate.objects.create(
                record_type=record_type, low_id=low, high_id=high, score=95, reasons=reasons
            )
            w.add(f"dup{record_type}", key, candidate)
    admin = w.p.users["admin"]
    for key, owner in MERGE_OWNERS.items():
        user = w.p.users[owner]
        kept, gone = (
            Contact.objects.create(
                family_name="Merged", given_name=f"{key}{n}", display_name=f"{key}{n} Merged",
                owner=user, team=user.team, created_by=user,
            )
            for n in (1, 2)
        )  # fmt: skip
        w.add("merge", key, contact_merge(survivor=kept.pk, others=[gone.pk], user=admin))
    return w


def _see_pair(c: Any, record_type: str, key: str, table: dict[str, Any]) -> bool:
    a, b = PAIRS[record_type][key]
    rows = c.rows_for(table, record_type)
    return a in rows and b in rows


def _list(record_type: str) -> Callable[[Check], None]:
    def check(c: Check) -> None:
        dup_world(c.w)
        view, _change, _delete = _tables(record_type)
        kind = f"dup{record_type}"
        table = {
            who: {k for k in PAIRS[record_type] if _see_pair(c_as(c, who), record_type, k, view)} for who in W.PEOPLE
        }
        c.list(D, kind, table, params=f"type={record_type}s&limit=200")

    return check


def c_as(c: Any, who: str) -> Any:
    """The same check object read as another principal (for computing expectation tables)."""

    class As:
        def rows_for(self, table: dict[str, Any], kind: str) -> set[str]:
            value = table.get(who, W.ALL if who in W.ADMINS else None)
            if value == W.ALL:
                return set(c.w.keys(kind))
            return set(value or ())

    return As()


def _pair_status(c: Any, record_type: str, key: str, ok: int) -> int:
    """Dismiss: both visible, both changeable."""
    if c.who == "anonymous":
        return 401 if hasattr(c, "api") else 302
    if c.who == "token_noscope":
        return 403
    view, change, _delete = _tables(record_type)
    if not _see_pair(c, record_type, key, view):
        return 404
    return ok if _see_pair(c, record_type, key, change) else 403


def _dismiss(record_type: str) -> Callable[[Check], None]:
    def check(c: Check) -> None:
        w = dup_world(c.w)
        kind = f"dup{record_type}"
        for key in w.keys(kind):
            expected = _pair_status(c, record_type, key, 200)
            c.request(f"dismiss {key}", "POST", f"{D}/{w.pk(kind, key)}/dismiss", expected)

    return check


def _merge_status(c: Any, record_type: str, key: str, ok: int) -> int:
    """Survivor (the lower id): visible and changeable; the other: visible and deletable."""
    if c.who == "anonymous":
        return 401 if hasattr(c, "api") else 302
    if c.who == "token_noscope":
        return 403
    view, change, delete = _tables(record_type)
    a, b = sorted(PAIRS[record_type][key], key=lambda k: c.w.pk(record_type, k))
    survivor = c.status(a, record_type, view, change, ok)
    if survivor != ok:
        return survivor
    return c.status(b, record_type, view, delete, ok)


def _merge(record_type: str) -> Callable[[Check], None]:
    def check(c: Check) -> None:
        w = dup_world(c.w)
        for key, (a, b) in PAIRS[record_type].items():
            survivor, other = sorted((w.pk(record_type, a), w.pk(record_type, b)))
            body = {"type": f"{record_type}s", "survivor": survivor, "others": [other]}
            c.request(f"merge {key}", "POST", f"{D}/merge", _merge_status(c, record_type, key, 201), body)

    return check


def _merges_check(c: Any, method: str, suffix: str, ok: int) -> None:
    """A merge is seen by who sees its survivor; undo needs change on it and delete on the merged one."""
    w = dup_world(c.w)
    view, change, delete = _tables("contact")
    for key, owner_key in MERGE_OWNERS.items():
        like = {"owner": "c_owner", "other": "c_other"}[owner_key]  # records of the same owner: same rules
        if c.who == "anonymous":
            expected = 401 if hasattr(c, "api") else 302
        elif c.who == "token_noscope":
            expected = 403
        elif like not in c.rows_for(view, "contact"):
            expected = 404
        elif method == "GET":
            expected = ok
        elif like not in c.rows_for(change, "contact") or like not in c.rows_for(delete, "contact"):
            expected = 403
        else:
            expected = ok
        c.request(f"merge {key}", method, f"{D}/merges/{w.pk('merge', key)}{suffix}", expected)


def _merge_detail(c: Check) -> None:
    _merges_check(c, "GET", "", 200)


def _merge_undo(c: Check) -> None:
    _merges_check(c, "POST", "/undo", 200)


def _list_both(c: Check) -> None:
    _list("contact")(c)
    _list("account")(c)


def _dismiss_both(c: Check) -> None:
    _dismiss("contact")(c)
    _dismiss("account")(c)


def _merge_both(c: Check) -> None:
    _merge("contact")(c)
    _merge("account")(c)


def _check_world(w: Any) -> dict[str, Any]:
    """Every contact of the world gets an email of its own and every account its blocking key, so the
    check before saving can find each one; returns how to ask for each record type."""
    from guanxi.customers.duplicates import account_dup_key
    from guanxi.customers.models import Account, ContactPoint
    from tests.customers import platform_policies as P

    for key in w.keys("contact"):
        ContactPoint.objects.get_or_create(contact_id=w.pk("contact", key), kind="email", value=f"{key}@check.example")
    for key in w.keys("account"):
        account = w.objs["account"][key]
        Account.objects.filter(pk=account.pk).update(dup_key=account_dup_key(account.name))
    return {
        "contact": (P.CONTACT_VIEW, lambda key: {"emails": f"{key}@check.example"}),
        "account": (P.ACCOUNT_VIEW, lambda key: {"name": w.objs["account"][key].name}),
    }


def _named_only_if_seen(c: Any, record_type: str, key: str, named: set[Any], view: dict[str, Any]) -> None:
    visible = c.rows_for(view, record_type)
    if not named <= visible:
        c.errors.append(f"check {key}: names {sorted(map(str, named - visible))}, which {c.who} may not see")
    if (key in visible) != (key in named):
        c.errors.append(f"check {key}: named {key in named}, but {c.who} sees it: {key in visible}")


def _check(c: Check) -> None:
    """``GET /duplicates/check``: names a record only to those who see it, and always the one asked
    about when they do."""
    from urllib.parse import urlencode

    w = dup_world(c.w)
    for record_type, (view, query) in _check_world(w).items():
        for key in w.keys(record_type):
            if c.who == "anonymous":
                expected = 401
            elif c.who == "token_noscope":
                expected = 403
            else:
                expected = 200
            path = f"{D}/check?" + urlencode({"type": f"{record_type}s", **query(key)})
            response = c.request(f"check {key}", "GET", path, expected)
            if expected == 200 and response.status_code == 200:
                named = {w.key_of(record_type, item["id"]) for item in response.json()["items"]}
                _named_only_if_seen(c, record_type, key, named, view)


MATRIX: dict[tuple[str, str], Callable[[Check], None]] = {
    ("GET", D): _list_both,
    ("GET", D + "/check"): _check,
    ("POST", D + "/{id}/dismiss"): _dismiss_both,
    ("POST", D + "/merge"): _merge_both,
    ("GET", D + "/merges/{id}"): _merge_detail,
    ("POST", D + "/merges/{id}/undo"): _merge_undo,
}


# --- change-log cases ---------------------------------------------------------------------------------------


def _expect(*args: Any, **kwargs: Any) -> Expect:
    from tests.core.test_changelog import Expect

    return Expect(*args, **kwargs)


def _two_contacts(ctx: Ctx) -> tuple[Any, Any]:
    from guanxi.customers import services

    a = services.contact_create(user=ctx.admin, data={"family_name": "张", "given_name": "三"}, emails=["zs@x.com"])
    b = services.contact_create(
        user=ctx.admin, data={"family_name": "Zhang", "given_name": "San", "title": "CTO"}, emails=["zs@x.com"]
    )
    return a, b


def c_dismiss(ctx: Ctx) -> tuple[Any, Expect]:
    from guanxi.customers.duplicates import duplicates_detect
    from guanxi.customers.models import Contact, DuplicateCandidate

    a, b = _two_contacts(ctx)
    duplicates_detect(Contact, [a.pk, b.pk])
    candidate = DuplicateCandidate.objects.get()
    r = ctx.api.post(f"duplicates/{candidate.pk}/dismiss", {})
    changes = {"status": ["open", "dismissed"], "resolved_by": [None, ctx.admin.pk]}
    return r, _expect(DuplicateCandidate, candidate.pk, "update", changes, {"status", "resolved_by"})


def c_merge(ctx: Ctx) -> tuple[Any, Expect]:
    from guanxi.customers.models import Contact

    a, b = _two_contacts(ctx)
    r = ctx.api.post(
        "duplicates/merge", {"type": "contacts", "survivor": a.pk, "others": [b.pk], "fields": {"title": b.pk}}
    )
    return r, _expect(Contact, a.pk, "merge", {"title": ["", "CTO"], "merged": [None, [b.pk]]})


def c_undo(ctx: Ctx) -> tuple[Any, Expect]:
    from guanxi.customers import services
    from guanxi.customers.models import Contact

    a, b = _two_contacts(ctx)
    merge = services.contact_merge(survivor=a.pk, others=[b.pk], user=ctx.admin, fields={"title": b.pk})
    r = ctx.api.post(f"duplicates/merges/{merge.pk}/undo", {})
    return r, _expect(Contact, a.pk, "unmerge", {"title": ["CTO", ""], "merged": [[b.pk], None]})


CHANGELOG_CASES: dict[tuple[str, str], Callable[[Ctx], tuple[Any, Expect]]] = {
    ("POST", D + "/{id}/dismiss"): c_dismiss,
    ("POST", D + "/merge"): c_merge,
    ("POST", D + "/merges/{id}/undo"): c_undo,
}


# --- UI matrix rows (the pages of guanxi.customers.views_duplicates) -----------------------------------------


def _url(name: str, *args: Any) -> str:
    from django.urls import reverse

    return reverse(f"ui:{name}", args=args)


def _ui_queue(c: UiCheck) -> None:
    """The queue of each type: exactly the pairs whose two records the principal sees (rows carry data-pk)."""
    dup_world(c.w)
    for record_type in ("contact", "account"):
        view, _change, _delete = _tables(record_type)
        table = {
            who: {k for k in PAIRS[record_type] if _see_pair(c_as(c, who), record_type, k, view)} for who in W.PEOPLE
        }
        c.list(_url("duplicates-list") + f"?type={record_type}s", f"dup{record_type}", table)


def _ui_dismiss(c: UiCheck) -> None:
    w = dup_world(c.w)
    for record_type in ("contact", "account"):
        kind = f"dup{record_type}"
        for key in w.keys(kind):
            expected = 302 if c.who == "anonymous" else _pair_status(c, record_type, key, 302)
            c.request(f"dismiss {key}", "POST", _url("duplicates-dismiss", w.pk(kind, key)), expected)


def _ui_merge(c: UiCheck) -> None:
    """The merge page (GET shows the form, POST merges and redirects to the result)."""
    w = dup_world(c.w)
    for method in ("GET", "POST"):
        for record_type in ("contact", "account"):
            for key, (a, b) in PAIRS[record_type].items():
                survivor, other = sorted((w.pk(record_type, a), w.pk(record_type, b)))
                url = _url("duplicates-merge") + f"?type={record_type}s&ids={survivor},{other}"
                ok = 200 if method == "GET" else 302
                expected = 302 if c.who == "anonymous" else _merge_status(c, record_type, key, ok)
                if method == "GET" and expected == 403:
                    # the form is shown to whoever sees both; the refusal comes on submit
                    view, _change, _delete = _tables(record_type)
                    expected = 200 if _see_pair(c, record_type, key, view) else 404
                data = {"survivor": str(survivor)} if method == "POST" else None
                c.request(f"merge page {key}", method, url, expected, data)


def _ui_merge_result(c: UiCheck) -> None:
    w = dup_world(c.w)
    view, _change, _delete = _tables("contact")
    for key, owner_key in MERGE_OWNERS.items():
        like = {"owner": "c_owner", "other": "c_other"}[owner_key]
        expected = 302 if c.who == "anonymous" else (200 if like in c.rows_for(view, "contact") else 404)
        c.request(f"merge {key}", "GET", _url("merges-detail", w.pk("merge", key)), expected)


def _ui_merge_undo(c: UiCheck) -> None:
    w = dup_world(c.w)
    view, change, delete = _tables("contact")
    for key, owner_key in MERGE_OWNERS.items():
        like = {"owner": "c_owner", "other": "c_other"}[owner_key]
        if c.who == "anonymous":
            expected = 302
        elif like not in c.rows_for(view, "contact"):
            expected = 404
        elif like not in c.rows_for(change, "contact") or like not in c.rows_for(delete, "contact"):
            expected = 403
        else:
            expected = 302
        c.request(f"undo {key}", "POST", _url("merges-undo", w.pk("merge", key)), expected)


def _ui_find(c: UiCheck) -> None:
    """ "Find duplicates" on a record page: any record the principal sees (it only queues pairs)."""
    from tests.customers import platform_policies as P

    w = dup_world(c.w)
    for record_type, view in (("contact", P.CONTACT_VIEW), ("account", P.ACCOUNT_VIEW)):
        for key in w.keys(record_type):
            expected = c.status(key, record_type, None, view, 302)
            url = _url("duplicates-find", f"{record_type}s", w.pk(record_type, key))
            c.request(f"find {key}", "POST", url, expected, writes=expected == 302)


def _ui_check(c: UiCheck) -> None:
    """The add/edit form's "already in Guanxi?" check, as ``_check`` for the API."""
    import re
    from urllib.parse import urlencode

    w = dup_world(c.w)
    for record_type, (view, query) in _check_world(w).items():
        for key in w.keys(record_type):
            url = _url("duplicates-check", f"{record_type}s") + "?" + urlencode(query(key))
            expected = 302 if c.who == "anonymous" else 200
            response = c.request(f"check {key}", "GET", url, expected)
            if expected == 200 and response.status_code == 200:
                named = {w.key_of(record_type, int(pk)) for pk in re.findall(rb'data-record="(\d+)"', response.content)}
                _named_only_if_seen(c, record_type, key, named, view)


UI_MATRIX: dict[str, Callable[[UiCheck], None]] = {
    "duplicates-list": _ui_queue,
    "duplicates-dismiss": _ui_dismiss,
    "duplicates-merge": _ui_merge,
    "duplicates-find": _ui_find,
    "duplicates-check": _ui_check,
    "merges-detail": _ui_merge_result,
    "merges-undo": _ui_merge_undo,
}
