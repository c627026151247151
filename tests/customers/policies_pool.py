"""The customer pool (公海) in the platform's walks (loaded by ``platform_policies``): pool rules and
release reasons, claiming an account from the pool or releasing one to it, through the API and the
account's page, and the pool's statistics.

Pool rules and release reasons are settings (not CRM records, so a role's ``*`` rules do not reach
them): only administrators see or write them here, like assignment rules (the world's roles are made
after the migration that lets roles changing accounts read the reasons). The world gets one rule,
switched off so that it never takes back the accounts of other checks, and the six reasons the
migration brings.

The statistics (``GET /accounts/pool-statistics``, the 公海统计 page) answer whoever may see some
accounts: 403 to norole, who may not; what they count follows ``restrict`` (tests/customers/
test_pool_statistics.py).

Claim and release, written out by hand from the rules (never computed with ``restrict``):

* claim: a role without "change" on accounts may not claim at all (403, asked first); then the
  account must be one the user sees (404), and in the pool (409: "yours already", or someone was
  quicker). Everyone whose role may see some accounts sees the pool (``Account.open_rows``); a role
  is needed for that, so norole never sees it. An account claimed from the pool within the last day
  is answered 409 (someone was quicker), not 404, also to those who no longer see it.
* release (with a reason): ``record_lock`` for "change": 404 when the user does not see the account,
  403 when they see it but may not change it, then 409 when it is in the pool already. The pool is
  open for viewing only: changing a pooled account takes claiming it first (403 to people).

The world's accounts are not in the pool (claims answer 409 or a refusal); two more accounts are
added for these checks only: ``a_pool`` (released to the pool by other) and ``a_claimed`` (released,
then claimed by admin a moment ago). Each check runs in a world of its own, so a successful claim or
release changes nothing another check reads.
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

AC = "/api/v1/accounts"
PR = "/api/v1/pool-rules"
PRS = "/api/v1/pool-reasons"
POOL = "pool_account"  # the kind of a_pool and a_claimed
REASON = "客户暂无预算 (no budget this year)"


def pool_world(w: World) -> World:
    """The customer world plus a pool rule (switched off) and the two pool accounts (once per world)."""
    from tests.customers.platform_policies import customers_world

    customers_world(w)
    if "poolrule" in w.objs:
        return w
    from guanxi.customers.models import Account, PoolReason, PoolRule
    from guanxi.customers.services import pool_claim, pool_release

    rule = PoolRule.objects.create(
        name="Idle prospects", position=10, is_active=False, idle_days=30, conditions={"lifecycle_stages": ["prospect"]}
    )
    w.add("poolrule", "pr_idle", rule)
    for reason in PoolReason.objects.order_by("pk"):
        w.add("poolreason", f"reason_{reason.pk}", reason)
    other = w.p.users["other"]
    for key in ("a_pool", "a_claimed"):
        account = Account.objects.create(
            name=f"Account {key}", annual_revenue=5_000_000, owner=other, team=other.team, created_by=other
        )
        w.add(POOL, key, pool_release(pk=account.pk, user=other, reason="Not my region"))
    w.add(POOL, "a_claimed", pool_claim(pk=w.pk(POOL, "a_claimed"), user=w.p.users["admin"]))
    return w


# --- who gets what ----------------------------------------------------------------------------------------


def _tables() -> tuple[dict[str, Any], dict[str, Any]]:
    from tests.customers import platform_policies as P

    return P.ACCOUNT_VIEW, P.ACCOUNT_CHANGE


def _has_role(who: str) -> bool:
    """People whose role has a scope on accounts (view and change: "*" in this organisation)."""
    return who in ("owner", "colleague", "other", "manager")


def _claim_outcome(c: Any, kind: str, key: str) -> int:
    """The answer to a signed-in principal whose token (if any) allows changing accounts."""
    if not _has_role(c.who) and c.who not in W.ADMINS:
        return 403  # norole: no "change" on accounts, asked before anything else
    if kind == "deleted_account":
        return 404
    if kind == POOL:
        return 200 if key == "a_pool" else 409  # a_claimed: someone was quicker / yours already
    view, _change = _tables()
    return 409 if key in c.rows_for(view, "account") else 404


def _release_outcome(c: Any, kind: str, key: str) -> int:
    admin = c.who in W.ADMINS
    if kind == "deleted_account":
        return 404
    if kind == POOL:
        if key == "a_claimed":  # the admin's account now: nobody else sees it
            return 200 if admin else 404
        if admin:
            return 409  # in the pool already
        return 403 if _has_role(c.who) else 404  # the pool is open for viewing only
    view, change = _tables()
    if key in c.rows_for(change, "account"):
        return 200
    return 403 if key in c.rows_for(view, "account") else 404


def _targets(w: World) -> list[tuple[str, str]]:
    """(kind, key) of every account a claim or release is tried on."""
    return [(kind, key) for kind in ("account", "deleted_account", POOL) for key in w.keys(kind)]


# --- API matrix rows ----------------------------------------------------------------------------------------


def _api_pool(op: str, outcome: Callable[[Any, str, str], int]) -> Callable[[Check], None]:
    def check(c: Check) -> None:
        w = pool_world(c.w)
        me = c.w.p.user(c.who)
        for kind, key in _targets(w):
            if c.who == "anonymous":
                expected = 401
            elif c.who == "token_noscope":
                expected = 403
            else:
                expected = outcome(c, kind, key)
            body = {"reason": REASON} if op == "release" else None
            response = c.request(f"{op} {key}", "POST", f"{AC}/{w.pk(kind, key)}/{op}", expected, body)
            if expected == 200 and response.status_code == 200:
                data = response.json()
                if op == "claim":
                    got = ((data.get("owner") or {}).get("id"), data.get("pooled_at"))
                    if me is None or got != (me.pk, None):
                        c.errors.append(
                            f"claim {key}: owner/pooled_at {got}, expected ({getattr(me, 'pk', None)}, None)"
                        )
                elif data.get("owner") is not None or not data.get("pooled_at") or data.get("pool_reason") != REASON:
                    c.errors.append(f"release {key}: not in the pool: {data}")

    return check


def _list(path: str = PR, kind: str = "poolrule") -> Callable[[Check], None]:
    def check(c: Check) -> None:
        from tests.customers.platform_policies import SETTINGS_DENIED

        pool_world(c.w)
        c.list(path, kind, SETTINGS_DENIED)

    return check


def _rows(
    method: str, ok: int, body: Callable[[World, str], Any] | None = None, path: str = PR, kind: str = "poolrule"
) -> Callable[[Check], None]:
    def check(c: Check) -> None:
        from tests.customers.platform_policies import NO_PEOPLE

        w = pool_world(c.w)
        for key in w.keys(kind):
            expected = c.status(key, kind, None, NO_PEOPLE, ok)
            c.request(f"{kind} {key}", method, f"{path}/{w.pk(kind, key)}", expected, body(w, key) if body else None)

    return check


def _rule_body(who: str) -> dict[str, Any]:
    """A pool rule, switched off (an active one would take back the accounts of other checks)."""
    return {"name": f"Rule by {who}", "is_active": False, "idle_days": 30}


def _reason_body(who: str) -> dict[str, Any]:
    return {"label_zh": f"{who} 的原因", "label_en": f"Reason by {who}", "position": 70}


def _create(path: str = PR, body: Callable[[str], dict[str, Any]] = _rule_body) -> Callable[[Check], None]:
    def check(c: Check) -> None:
        pool_world(c.w)
        expected = {"anonymous": 401, "token_noscope": 403}.get(c.who, 201 if c.who in W.ADMINS else 403)
        c.request(f"create {path}", "POST", path, expected, body(c.who))

    return check


def _statistics(c: Check) -> None:
    """Whoever may see some accounts reads the pool's statistics; they count the moves they may see."""
    pool_world(c.w)
    if c.who == "anonymous":
        expected = 401
    elif c.who == "token_noscope":
        expected = 403
    else:  # as the account list answers: 403 to whom no account may reach
        expected = 200 if c.who in W.ADMINS or _tables()[0][c.who] is not W.DENIED else 403
    response = c.request("pool statistics", "GET", f"{AC}/pool-statistics", expected)
    if expected == 200 and response.status_code == 200 and c.who in W.ADMINS:
        body = response.json()
        if (body["released"], body["claimed"]) != (2, 1):  # a_pool and a_claimed released, a_claimed claimed
            c.errors.append(f"pool statistics: {body}")


MATRIX: dict[tuple[str, str], Callable[[Check], None]] = {
    # pool rules: settings, administrators only (like assignment rules)
    ("GET", PR): _list(),
    ("POST", PR): _create(),
    ("GET", PR + "/{id}"): _rows("GET", 200),
    ("PATCH", PR + "/{id}"): _rows("PATCH", 200, lambda w, k: {"position": 5, "idle_days": 60}),
    ("PUT", PR + "/{id}"): _rows("PUT", 200, lambda w, k: {**_rule_body(f"put {k}"), "idle_days": 90}),
    ("DELETE", PR + "/{id}"): _rows("DELETE", 204),
    # release reasons: settings, administrators only here
    ("GET", PRS): _list(PRS, "poolreason"),
    ("POST", PRS): _create(PRS, _reason_body),
    ("GET", PRS + "/{id}"): _rows("GET", 200, path=PRS, kind="poolreason"),
    ("PATCH", PRS + "/{id}"): _rows("PATCH", 200, lambda w, k: {"position": 3}, PRS, "poolreason"),
    ("PUT", PRS + "/{id}"): _rows("PUT", 200, lambda w, k: _reason_body(f"put {k}"), PRS, "poolreason"),
    ("DELETE", PRS + "/{id}"): _rows("DELETE", 204, path=PRS, kind="poolreason"),
    ("GET", AC + "/pool-statistics"): _statistics,
    # claiming from and releasing to the customer pool
    ("POST", AC + "/{id}/claim"): _api_pool("claim", _claim_outcome),
    ("POST", AC + "/{id}/release"): _api_pool("release", _release_outcome),
}


# --- change-log cases ---------------------------------------------------------------------------------------


def _expect(*args: Any, **kwargs: Any) -> Expect:
    from tests.core.test_changelog import Expect

    return Expect(*args, **kwargs)


def _any() -> str:
    from tests.core.test_changelog import ANY

    return ANY


def _pool_rule(ctx: Ctx, **data: Any) -> Any:
    from guanxi.customers import services

    return services.pool_rule_create(
        user=ctx.admin, data={"name": "Before", "is_active": False, "idle_days": 30, **data}
    )


def c_pool_rule_create(ctx: Ctx) -> tuple[Any, Expect]:
    from guanxi.customers.models import PoolRule

    body = {
        "name": "C/D 类潜在客户",
        "position": 3,
        "is_active": False,
        "conditions": {"tiers": ["C", "D"], "lifecycle_stages": ["prospect"]},
        "idle_days": 30,
    }
    r = ctx.api.post("pool-rules", body)
    changes = {
        "name": [None, "C/D 类潜在客户"],
        "position": [None, 3],
        "conditions": [None, {"tiers": ["C", "D"], "lifecycle_stages": ["prospect"]}],
        "idle_days": [None, 30],
    }
    return r, _expect(PoolRule, r.json()["id"], "create", changes)


def c_pool_rule_patch(ctx: Ctx) -> tuple[Any, Expect]:
    from guanxi.customers.models import PoolRule

    rule = _pool_rule(ctx)
    r = ctx.api.patch(f"pool-rules/{rule.pk}", {"idle_days": 60})
    return r, _expect(PoolRule, rule.pk, "update", {"idle_days": [30, 60]}, {"idle_days"})


def c_pool_rule_put(ctx: Ctx) -> tuple[Any, Expect]:
    from guanxi.customers.models import PoolRule

    rule = _pool_rule(ctx)
    r = ctx.api.put(f"pool-rules/{rule.pk}", {"name": "After", "is_active": False, "idle_days": 45})
    changes = {"name": ["Before", "After"], "idle_days": [30, 45]}
    return r, _expect(PoolRule, rule.pk, "update", changes, {"name", "idle_days"})


def c_pool_rule_delete(ctx: Ctx) -> tuple[Any, Expect]:
    from guanxi.customers.models import PoolRule

    rule = _pool_rule(ctx)
    r = ctx.api.delete(f"pool-rules/{rule.pk}")
    assert not PoolRule.objects.filter(pk=rule.pk).exists()
    return r, _expect(PoolRule, rule.pk, "purge", {"name": ["Before", None], "idle_days": [30, None]})


def _rep_account(ctx: Ctx) -> Any:
    """An account of a rep in a team (so that releasing it empties both owner and team)."""
    from guanxi.customers.models import Account
    from tests.factories import TeamFactory, UserFactory

    rep = UserFactory(team=TeamFactory())
    return Account.objects.create(name="Before", owner=rep, team=rep.team, created_by=rep)


def c_account_release(ctx: Ctx) -> tuple[Any, Expect]:
    from guanxi.customers.models import Account

    a = _rep_account(ctx)
    r = ctx.api.post(f"accounts/{a.pk}/release", {"reason": REASON})
    changes = {
        "owner": [a.owner_id, None],
        "team": [a.team_id, None],
        "pooled_at": [None, _any()],
        "pool_reason": ["", REASON],
    }
    return r, _expect(Account, a.pk, "update", changes, set(changes))


def c_account_claim(ctx: Ctx) -> tuple[Any, Expect]:
    from guanxi.customers import services
    from guanxi.customers.models import Account

    a = _rep_account(ctx)
    services.pool_release(pk=a.pk, user=ctx.admin, reason=REASON)
    r = ctx.api.post(f"accounts/{a.pk}/claim")
    # the admin has no team: the team stays empty
    changes = {
        "owner": [None, ctx.admin.pk],
        "pooled_at": [_any(), None],
        "pool_reason": [REASON, ""],
        "owner_since": [None, _any()],
    }
    return r, _expect(Account, a.pk, "update", changes, set(changes))


def _pool_reason(ctx: Ctx) -> Any:
    from guanxi.core import services
    from guanxi.customers.models import PoolReason

    return services.record_create(model=PoolReason, user=ctx.admin, data={"label_zh": "之前", "label_en": "Before"})


def c_pool_reason_create(ctx: Ctx) -> tuple[Any, Expect]:
    from guanxi.customers.models import PoolReason

    r = ctx.api.post("pool-reasons", {"label_zh": "价格太高", "label_en": "Price too high", "position": 5})
    changes = {"label_zh": [None, "价格太高"], "label_en": [None, "Price too high"], "position": [None, 5]}
    return r, _expect(PoolReason, r.json()["id"], "create", changes)


def c_pool_reason_patch(ctx: Ctx) -> tuple[Any, Expect]:
    from guanxi.customers.models import PoolReason

    reason = _pool_reason(ctx)
    r = ctx.api.patch(f"pool-reasons/{reason.pk}", {"is_active": False})
    return r, _expect(PoolReason, reason.pk, "update", {"is_active": [True, False]}, {"is_active"})


def c_pool_reason_put(ctx: Ctx) -> tuple[Any, Expect]:
    from guanxi.customers.models import PoolReason

    reason = _pool_reason(ctx)
    r = ctx.api.put(f"pool-reasons/{reason.pk}", {"label_zh": "之后", "label_en": "After"})
    changes = {"label_zh": ["之前", "之后"], "label_en": ["Before", "After"]}
    return r, _expect(PoolReason, reason.pk, "update", changes, {"label_zh", "label_en"})


def c_pool_reason_delete(ctx: Ctx) -> tuple[Any, Expect]:
    from guanxi.customers.models import PoolReason

    reason = _pool_reason(ctx)
    r = ctx.api.delete(f"pool-reasons/{reason.pk}")
    assert not PoolReason.objects.filter(pk=reason.pk).exists()
    return r, _expect(PoolReason, reason.pk, "purge", {"label_zh": ["之前", None], "label_en": ["Before", None]})


CHANGELOG_CASES: dict[tuple[str, str], Callable[[Ctx], tuple[Any, Expect]]] = {
    ("POST", PRS): c_pool_reason_create,
    ("PATCH", PRS + "/{id}"): c_pool_reason_patch,
    ("PUT", PRS + "/{id}"): c_pool_reason_put,
    ("DELETE", PRS + "/{id}"): c_pool_reason_delete,
    ("POST", PR): c_pool_rule_create,
    ("PATCH", PR + "/{id}"): c_pool_rule_patch,
    ("PUT", PR + "/{id}"): c_pool_rule_put,
    ("DELETE", PR + "/{id}"): c_pool_rule_delete,
    ("POST", AC + "/{id}/claim"): c_account_claim,
    ("POST", AC + "/{id}/release"): c_account_release,
}


# --- UI matrix rows -----------------------------------------------------------------------------------------

# The platform's convention (``GuanxiViewMixin``; the duplicates-dismiss and merges-undo rows): a POST
# button on a record the user may not see answers 404, one they may not act on 403; a refusal of
# another kind (409, 400) tells them in a message and redirects back.


def _messages(response: Any) -> list[str]:
    """The levels of the messages this request added (those of earlier ones wait, unread, before them:
    the checks do not follow redirects)."""
    return [m.level_tag for m in response.wsgi_request._messages._queued_messages]


def _ui_pool(op: str, outcome: Callable[[Any, str, str], int]) -> Callable[[UiCheck], None]:
    """POST the account page's claim or release button for every account."""

    def check(c: UiCheck) -> None:
        from django.urls import reverse

        from guanxi.customers.models import Account

        w = pool_world(c.w)
        for kind, key in _targets(w):
            pk = w.pk(kind, key)
            answer = 302 if c.who == "anonymous" else outcome(c, kind, key)
            ok = answer == 200
            # done, or refused with a message (409, 400): 302
            expected = answer if answer in (403, 404) else 302
            data = {"reason": REASON} if op == "release" else None
            url = reverse(f"ui:accounts-{op}", args=[pk])
            response = c.request(f"{op} {key}", "POST", url, expected, data, writes=ok)
            if c.who == "anonymous" or expected != 302 or response.status_code != 302:
                continue
            levels = _messages(response)
            wanted = "success" if ok else "error"
            if wanted not in levels:
                c.errors.append(f"{op} {key}: messages {levels}, expected an {wanted} message")
            if ok:
                account = Account.all_objects.get(pk=pk)
                me = c.w.p.users[c.who]
                done = (
                    (account.owner_id, account.pooled_at is None) == (me.pk, True)
                    if op == "claim"
                    else (account.owner_id, account.pool_reason) == (None, REASON)
                )
                if not done:
                    c.errors.append(f"{op} {key}: owner {account.owner_id}, pooled at {account.pooled_at}")

    return check


def _with_pool(check: Callable[[UiCheck], None]) -> Callable[[UiCheck], None]:
    def run(c: UiCheck) -> None:
        pool_world(c.w)
        check(c)

    return run


def _ui_statistics(c: UiCheck) -> None:
    from django.urls import reverse

    pool_world(c.w)
    # As the account list answers: 403 to whom no account may reach.
    sees = c.who == "admin" or (c.who != "anonymous" and _tables()[0][c.who] is not W.DENIED)
    expected = 302 if c.who == "anonymous" else 200 if sees else 403
    c.request("pool statistics", "GET", reverse("ui:pool-statistics"), expected)


def ui_matrix(settings_pages: Callable[..., dict[str, Any]]) -> dict[str, Callable[[UiCheck], None]]:
    """The rows, given ``platform_policies._settings_pages`` (pool rules are pages like assignment rules)."""
    pages = settings_pages(
        "pool-rules", "poolrule", lambda c: {"name": f"Rule by {c.who}", "position": 50, "idle_days": 30}
    )
    reasons = settings_pages(
        "pool-reasons",
        "poolreason",
        lambda c: {"label_zh": f"{c.who} 的原因", "label_en": f"By {c.who}", "position": 60},
    )
    return {
        **{name: _with_pool(check) for name, check in pages.items()},
        **{name: _with_pool(check) for name, check in reasons.items()},
        "pool-statistics": _ui_statistics,
        "accounts-claim": _ui_pool("claim", _claim_outcome),
        "accounts-release": _ui_pool("release", _release_outcome),
    }
