"""The customer routes in the platform's walks: the API permission matrix, the change-log walk and the
UI permission matrix.

``tests/api/test_permission_matrix.py`` and ``tests/core/test_changelog.py`` load ``MATRIX``,
``CHANGELOG_CASES`` and ``CHANGELOG_EXEMPT`` from here through ``contributed(...)``. ``UI_MATRIX``
has the same shape as the UI matrix's own table; until that file loads contributed rows, it is run
by ``tests/customers/test_ui_policies.py``.

The customer records hang on the platform's organisation (``tests/conftest.py`` principals) and are
added to its world (``tests/api/world.py``) on first use. Who may see and change which record is
written out by hand below, from the rules (own / team / subordinates / shares), never computed with
``restrict`` — so a broken ``restrict`` fails here too.

Organisation: owner and other are reps (own), colleague a team rep (team A), manager sees and
changes the records of reps (subordinates) and adds and deletes their own, norole has nothing but
what is shared with them; admin and admin_token may do everything.

This module imports the platform test modules lazily (inside functions): they load it while they
are being imported themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from tests.api import world as W
from tests.api.world import World
from tests.core import imports_policies as _imports
from tests.customers import policies_acquaintances as _acquaintances
from tests.customers import policies_breakdown as _breakdown
from tests.customers import policies_duplicates as _duplicates
from tests.customers import policies_follows as _follows
from tests.customers import policies_handover as _handover
from tests.customers import policies_pool as _pool
from tests.customers import policies_relations as _relations
from tests.customers import policies_reveal as _reveal
from tests.factories import share

if TYPE_CHECKING:  # pragma: no cover
    from tests.api.test_permission_matrix import Check
    from tests.core.test_changelog import Ctx, Expect
    from tests.ui_matrix.test_ui_permission_matrix import UiCheck

# --- the customer records of the world ------------------------------------------------------------------

ACCOUNT_OWNERS = {
    "a_owner": "owner",
    "a_colleague": "colleague",
    "a_other": "other",
    "a_manager": "manager",
    "a_admin": "admin",  # shared with norole for viewing
    "a_sv": "other",  # shared with owner for viewing
    "a_sc": "other",  # shared with owner for changing
}
CONTACT_OWNERS = {
    "c_owner": "owner",
    "c_colleague": "colleague",
    "c_other": "other",
    "c_manager": "manager",
    "c_admin": "admin",  # shared with norole for viewing
    "c_sv": "other",  # shared with owner for viewing
    "c_sc": "other",  # shared with owner for changing
}
# contact -> [(account, role)]; the first is the contact's primary account.
LINKS: dict[str, list[tuple[str, str]]] = {
    "c_owner": [("a_owner", "采购经理"), ("a_other", "顾问")],
    "c_colleague": [("a_owner", "CTO")],
    "c_other": [("a_other", "总经理"), ("a_owner", "财务总监")],
    "c_manager": [("a_manager", "总经理")],
    "c_admin": [("a_admin", "董事长")],
    "c_sv": [("a_sv", "采购专员")],
    "c_sc": [("a_sc", "IT 经理")],
    "cd_owner": [("a_owner", "离职")],  # a contact in the recycle bin
}


def customers_world(w: World) -> World:
    """Add accounts, contacts, links, shares, tier rules and a profile to the platform's world (once)."""
    if "account" in w.objs:
        return w
    from guanxi.customers.models import Account, AccountContact, AssignmentRule, Contact, CustomerProfile, TierRule

    users = w.p.users

    def owned(owner: str) -> dict[str, Any]:
        user = users[owner]
        return {"owner": user, "team": user.team, "created_by": user}

    for key, owner in ACCOUNT_OWNERS.items():
        w.add("account", key, Account.objects.create(name=f"Account {key}", annual_revenue=5_000_000, **owned(owner)))
    for key, owner in CONTACT_OWNERS.items():
        contact = Contact.objects.create(
            family_name="Contact",
            given_name=key,
            display_name=f"{key} Contact",
            emails=[{"value": f"{key}@example.com", "label": "work", "is_primary": True}],
            **owned(owner),
        )
        w.add("contact", key, contact)
    gone = [
        ("deleted_account", "ad_owner", Account(name="Account in the bin", **owned("owner"))),
        ("deleted_contact", "cd_owner", Contact(family_name="Gone", display_name="Gone", **owned("owner"))),
    ]
    for kind, key, obj in gone:
        obj.deleted_at = timezone.now()
        obj.deleted_by = users["owner"]
        obj.save()
        w.add(kind, key, obj)
    contacts = {**w.objs["contact"], "cd_owner": w.obj("deleted_contact", "cd_owner")}
    for contact_key, links in LINKS.items():
        for index, (account_key, role) in enumerate(links):
            AccountContact.objects.create(
                contact=contacts[contact_key], account=w.obj("account", account_key), role=role, is_primary=index == 0
            )
    for kind, prefix in (("account", "a"), ("contact", "c")):
        share(w.obj(kind, f"{prefix}_sv"), user=users["owner"], access="view")
        share(w.obj(kind, f"{prefix}_sc"), user=users["owner"], access="change")
        share(w.obj(kind, f"{prefix}_admin"), user=users["norole"], access="view")
    w.add("tierrule", "tr_a", TierRule.objects.create(name="Tier A", tier="A", position=10, conditions={}))
    w.add("tierrule", "tr_d", TierRule.objects.create(name="Tier D", tier="D", position=40, conditions={}))
    w.add("profile", "p_icp", CustomerProfile.objects.create(name="ICP", criteria={"sizes": ["large"]}))
    # Switched off: an active rule would give the accounts the matrix creates to someone else.
    rule = AssignmentRule.objects.create(name="All to admin", position=10, is_active=False, assignee=users["admin"])
    w.add("assignmentrule", "ar_admin", rule)
    return w


# --- the policy -------------------------------------------------------------------------------------------

ACCOUNT_VIEW: dict[str, Any] = {
    "owner": {"a_owner", "a_sv", "a_sc"},
    "colleague": {"a_owner", "a_colleague"},
    "other": {"a_other", "a_sv", "a_sc"},
    "manager": {"a_manager", "a_owner", "a_other", "a_sv", "a_sc"},
    "norole": {"a_admin"},
}
ACCOUNT_CHANGE: dict[str, Any] = {
    "owner": {"a_owner", "a_sc"},
    "colleague": {"a_owner", "a_colleague"},
    "other": {"a_other", "a_sv", "a_sc"},
    "manager": {"a_manager", "a_owner", "a_other", "a_sv", "a_sc"},
    "norole": set(),
}
ACCOUNT_DELETE: dict[str, Any] = {
    "owner": {"a_owner"},
    "colleague": {"a_owner", "a_colleague"},
    "other": {"a_other", "a_sv", "a_sc"},
    "manager": {"a_manager"},
    "norole": set(),
}
CONTACT_VIEW: dict[str, Any] = {
    "owner": {"c_owner", "c_sv", "c_sc"},
    "colleague": {"c_owner", "c_colleague"},
    "other": {"c_other", "c_sv", "c_sc"},
    "manager": {"c_manager", "c_owner", "c_other", "c_sv", "c_sc"},
    "norole": {"c_admin"},
}
CONTACT_CHANGE: dict[str, Any] = {
    "owner": {"c_owner", "c_sc"},
    "colleague": {"c_owner", "c_colleague"},
    "other": {"c_other", "c_sv", "c_sc"},
    "manager": {"c_manager", "c_owner", "c_other", "c_sv", "c_sc"},
    "norole": set(),
}
CONTACT_DELETE: dict[str, Any] = {
    "owner": {"c_owner"},
    "colleague": {"c_owner", "c_colleague"},
    "other": {"c_other", "c_sv", "c_sc"},
    "manager": {"c_manager"},
    "norole": set(),
}
# Who may add accounts and contacts (a role with "add" at any scope); norole may not.
ADDERS = {"owner", "colleague", "other", "manager", *W.ADMINS}
# Tier rules and ideal customer profiles are settings: no role in this organisation has a rule on them
# (and "*" covers CRM records only), so only administrators see or write them.
SETTINGS_DENIED: dict[str, Any] = dict.fromkeys(W.PEOPLE, W.DENIED)
NO_PEOPLE: dict[str, Any] = {who: set() for who in W.PEOPLE}
NOBODY: dict[str, Any] = {who: set() for who in (*W.PEOPLE, *W.ADMINS, "admin")}


# --- API matrix rows ----------------------------------------------------------------------------------------

AC = "/api/v1/accounts"
CO = "/api/v1/contacts"
TR = "/api/v1/tier-rules"
CP = "/api/v1/customer-profiles"
AR = "/api/v1/assignment-rules"


def _rule_body(w: World, who: str) -> dict[str, Any]:
    """An assignment rule, switched off (an active one would assign the accounts of other checks)."""
    return {"name": f"Rule by {who}", "is_active": False, "assignee": w.p.user("admin").pk}


def _rows(
    kind: str,
    path: str,
    method: str,
    view: dict[str, Any] | None,
    action: dict[str, Any],
    ok: int,
    body: Callable[[World, str], Any] | None = None,
    suffix: str = "",
    deleted: str = "",
) -> Callable[[Check], None]:
    """One request per row of ``kind`` at ``path/{id}{suffix}``; rows of ``deleted`` answer 404 to all."""

    def check(c: Check) -> None:
        w = customers_world(c.w)
        for key in w.keys(kind):
            expected = c.status(key, kind, view, action, ok)
            c.request(
                f"{kind} {key}", method, f"{path}/{w.pk(kind, key)}{suffix}", expected, body(w, key) if body else None
            )
        if deleted:
            for key in w.keys(deleted):
                expected = c.status(key, deleted, None, NOBODY, ok)
                url = f"{path}/{w.pk(deleted, key)}{suffix}"
                c.request(f"{deleted} {key}", method, url, expected, body(w, key) if body else None)

    return check


def _list(kind: str, path: str, view: dict[str, Any]) -> Callable[[Check], None]:
    def check(c: Check) -> None:
        customers_world(c.w)
        c.list(path, kind, view)

    return check


def _create(path: str, allowed: set[str], body: Callable[[Check], Any], owned: bool = True) -> Callable[[Check], None]:
    def check(c: Check) -> None:
        customers_world(c.w)
        expected = {"anonymous": 401, "token_noscope": 403}.get(c.who, 201 if c.who in allowed else 403)
        response = c.request(f"create {path}", "POST", path, expected, body(c))
        if owned and response.status_code == 201 and response.json()["owner"]["id"] != c.w.p.user(c.who).pk:
            c.errors.append(f"create {path}: not owned by the creator: {response.json()['owner']}")

    return check


def _own_account(c: Check) -> str:
    """An account the principal may see (norole: the one shared with them)."""
    return {"owner": "a_owner", "colleague": "a_colleague", "other": "a_other", "manager": "a_manager"}.get(
        c.who, "a_admin"
    )


def _contact_body(c: Check) -> dict[str, Any]:
    return {
        "family_name": "新",
        "given_name": c.who,
        "emails": [f"new-{c.who}@example.com"],
        "phones": ["138 0013 8000"],
        "accounts": [{"account": c.w.pk("account", _own_account(c)), "role": "采购经理"}],
    }


def _account_contacts(c: Check) -> None:
    """Contacts at an account: the account must be visible; only the contacts the principal may see."""
    w = customers_world(c.w)
    for key in [*w.keys("account"), *w.keys("deleted_account")]:
        kind = "account" if key in w.objs["account"] else "deleted_account"
        expected = c.status(key, kind, None, ACCOUNT_VIEW if kind == "account" else NOBODY, 200)
        response = c.request(f"contacts at {key}", "GET", f"{AC}/{w.pk(kind, key)}/contacts?limit=200", expected)
        if response.status_code != 200:
            continue
        visible = c.rows_for(CONTACT_VIEW, "contact")
        roles = {contact: role for contact, links in LINKS.items() for account, role in links if account == key}
        wanted = {contact: role for contact, role in roles.items() if contact in visible}
        got = {w.key_of("contact", item["id"]): item["role"] for item in response.json()["items"]}
        if got != wanted:
            c.errors.append(f"contacts at {key}: got {got}, expected {wanted}")


def _link_account(c: Check) -> None:
    """Linking needs "change" on the contact, then the account must be one the principal sees (else 400)."""
    w = customers_world(c.w)
    for target in ("a_owner", "a_other"):
        for kind in ("contact", "deleted_contact"):
            for key in w.keys(kind):
                table = CONTACT_CHANGE if kind == "contact" else NOBODY
                expected = c.status(key, kind, CONTACT_VIEW if kind == "contact" else None, table, 201)
                if expected == 201 and target not in c.rows_for(ACCOUNT_VIEW, "account"):
                    expected = 400
                body = {"account": w.pk("account", target), "role": f"linked by {c.who}"}
                c.request(f"link {key} to {target}", "POST", f"{CO}/{w.pk(kind, key)}/accounts", expected, body)


UNLINKS = [
    ("c_owner", "a_owner"),
    ("c_owner", "a_other"),
    ("c_colleague", "a_owner"),
    ("c_other", "a_other"),
    ("c_other", "a_owner"),
    ("c_manager", "a_manager"),
    ("c_admin", "a_admin"),
    ("c_sv", "a_sv"),
    ("c_sc", "a_sc"),
    ("cd_owner", "a_owner"),
]


def _unlink_account(c: Check) -> None:
    """Unlinking needs "change" on the contact; a link to an account the principal cannot see is not there (404)."""
    w = customers_world(c.w)
    for key, target in UNLINKS:
        kind = "contact" if key in w.objs["contact"] else "deleted_contact"
        if kind == "contact":
            expected = c.status(key, kind, CONTACT_VIEW, CONTACT_CHANGE, 204)
        else:
            expected = c.status(key, kind, None, NOBODY, 204)
        if expected == 204 and target not in c.rows_for(ACCOUNT_VIEW, "account"):
            expected = 404
        url = f"{CO}/{w.pk(kind, key)}/accounts/{w.pk('account', target)}"
        c.request(f"unlink {key} from {target}", "DELETE", url, expected)


def _recompute(path: str) -> Callable[[Check], None]:
    def check(c: Check) -> None:
        customers_world(c.w)
        expected = {"anonymous": 401, "token_noscope": 403}.get(c.who, 202 if c.who in W.ADMINS else 403)
        c.request(f"recompute {path}", "POST", path, expected)

    return check


def _put_contact(w: World, key: str) -> dict[str, Any]:
    return {"family_name": "Put", "given_name": key}


MATRIX: dict[tuple[str, str], Callable[[Check], None]] = {
    # accounts: owned records (own / team / subordinates / shares); the recycle bin holds ad_owner
    ("GET", AC): _list("account", AC, ACCOUNT_VIEW),
    ("POST", AC): _create(AC, ADDERS, lambda c: {"name": f"New account by {c.who}", "province": "广东"}),
    ("GET", AC + "/{id}"): _rows("account", AC, "GET", None, ACCOUNT_VIEW, 200, deleted="deleted_account"),
    ("PATCH", AC + "/{id}"): _rows(
        "account", AC, "PATCH", ACCOUNT_VIEW, ACCOUNT_CHANGE, 200, lambda w, k: {"lifecycle_stage": "customer"},
        deleted="deleted_account",
    ),
    ("PUT", AC + "/{id}"): _rows(
        "account", AC, "PUT", ACCOUNT_VIEW, ACCOUNT_CHANGE, 200, lambda w, k: {"name": f"Put {k}"},
        deleted="deleted_account",
    ),
    ("DELETE", AC + "/{id}"): _rows(
        "account", AC, "DELETE", ACCOUNT_VIEW, ACCOUNT_DELETE, 204, deleted="deleted_account"
    ),
    ("GET", AC + "/{id}/contacts"): _account_contacts,
    ("GET", AC + "/{id}/fit"): _rows(
        "account", AC, "GET", None, ACCOUNT_VIEW, 200, suffix="/fit", deleted="deleted_account"
    ),
    ("GET", AC + "/{id}/hierarchy"): _rows(
        "account", AC, "GET", None, ACCOUNT_VIEW, 200, suffix="/hierarchy", deleted="deleted_account"
    ),
    ("GET", AC + "/{id}/org-chart"): _rows(
        "account", AC, "GET", None, ACCOUNT_VIEW, 200, suffix="/org-chart", deleted="deleted_account"
    ),
    ("GET", AC + "/{id}/network"): _rows(
        "account", AC, "GET", None, ACCOUNT_VIEW, 200, suffix="/network", deleted="deleted_account"
    ),
    # contacts: the same rules; links need "change" on the contact and "view" on the account
    ("GET", CO): _list("contact", CO, CONTACT_VIEW),
    ("POST", CO): _create(CO, ADDERS, _contact_body),
    ("GET", CO + "/{id}"): _rows("contact", CO, "GET", None, CONTACT_VIEW, 200, deleted="deleted_contact"),
    ("PATCH", CO + "/{id}"): _rows(
        "contact", CO, "PATCH", CONTACT_VIEW, CONTACT_CHANGE, 200, lambda w, k: {"title": "CTO", "phones": []},
        deleted="deleted_contact",
    ),
    ("PUT", CO + "/{id}"): _rows(
        "contact", CO, "PUT", CONTACT_VIEW, CONTACT_CHANGE, 200, _put_contact, deleted="deleted_contact"
    ),
    ("DELETE", CO + "/{id}"): _rows(
        "contact", CO, "DELETE", CONTACT_VIEW, CONTACT_DELETE, 204, deleted="deleted_contact"
    ),
    ("GET", CO + "/{id}/vcard"): _rows(
        "contact", CO, "GET", None, CONTACT_VIEW, 200, suffix="/vcard", deleted="deleted_contact"
    ),
    ("POST", CO + "/{id}/accounts"): _link_account,
    ("DELETE", CO + "/{id}/accounts/{account_id}"): _unlink_account,
    # tier rules and ideal customer profiles: settings, administrators only
    ("GET", TR): _list("tierrule", TR, SETTINGS_DENIED),
    ("POST", TR): _create(TR, set(W.ADMINS), lambda c: {"name": f"Rule by {c.who}", "tier": "B"}, owned=False),
    ("GET", TR + "/{id}"): _rows("tierrule", TR, "GET", None, NO_PEOPLE, 200),
    ("PATCH", TR + "/{id}"): _rows("tierrule", TR, "PATCH", None, NO_PEOPLE, 200, lambda w, k: {"position": 5}),
    ("PUT", TR + "/{id}"): _rows(
        "tierrule", TR, "PUT", None, NO_PEOPLE, 200, lambda w, k: {"name": f"Put {k}", "tier": "C"}
    ),
    ("DELETE", TR + "/{id}"): _rows("tierrule", TR, "DELETE", None, NO_PEOPLE, 204),
    ("POST", TR + "/recompute"): _recompute(f"{TR}/recompute"),
    ("GET", CP): _list("profile", CP, SETTINGS_DENIED),
    ("POST", CP): _create(
        CP, set(W.ADMINS), lambda c: {"name": f"Profile by {c.who}", "criteria": {"sizes": ["medium"]}}, owned=False
    ),
    ("GET", CP + "/{id}"): _rows("profile", CP, "GET", None, NO_PEOPLE, 200),
    ("PATCH", CP + "/{id}"): _rows("profile", CP, "PATCH", None, NO_PEOPLE, 200, lambda w, k: {"is_active": False}),
    ("PUT", CP + "/{id}"): _rows("profile", CP, "PUT", None, NO_PEOPLE, 200, lambda w, k: {"name": f"Put {k}"}),
    ("DELETE", CP + "/{id}"): _rows("profile", CP, "DELETE", None, NO_PEOPLE, 204),
    ("POST", CP + "/recompute"): _recompute(f"{CP}/recompute"),
    # assignment rules: settings, administrators only
    ("GET", AR): _list("assignmentrule", AR, SETTINGS_DENIED),
    ("POST", AR): _create(AR, set(W.ADMINS), lambda c: _rule_body(c.w, c.who), owned=False),
    ("GET", AR + "/{id}"): _rows("assignmentrule", AR, "GET", None, NO_PEOPLE, 200),
    ("PATCH", AR + "/{id}"): _rows("assignmentrule", AR, "PATCH", None, NO_PEOPLE, 200, lambda w, k: {"position": 5}),
    ("PUT", AR + "/{id}"): _rows(
        "assignmentrule", AR, "PUT", None, NO_PEOPLE, 200,
        lambda w, k: _rule_body(w, f"put {k}"),
    ),
    ("DELETE", AR + "/{id}"): _rows("assignmentrule", AR, "DELETE", None, NO_PEOPLE, 204),
    # global search: exactly the accounts and contacts the principal may view (tests/core/test_search_api.py)
    ("GET", "/api/v1/search"): lambda c: __import__("tests.core.test_search_api", fromlist=["_"]).api_search_policy(c),
    # recently viewed: the principal's own, exactly those they may view (tests/core/test_recent.py)
    ("GET", "/api/v1/search/recent"): lambda c: import_module("tests.core.test_recent").api_recent_policy(c),
}  # fmt: skip


# --- change-log cases ---------------------------------------------------------------------------------------


def _expect(*args: Any, **kwargs: Any) -> Expect:
    from tests.core.test_changelog import Expect

    return Expect(*args, **kwargs)


def _any() -> str:
    from tests.core.test_changelog import ANY

    return ANY


def _account(ctx: Ctx, **data: Any) -> Any:
    from guanxi.customers import services

    return services.account_create(user=ctx.admin, data={"name": "Before", **data})


def _contact(ctx: Ctx, **kwargs: Any) -> Any:
    from guanxi.customers import services

    return services.contact_create(user=ctx.admin, data={"family_name": "张", "given_name": "三"}, **kwargs)


def c_account_create(ctx: Ctx) -> tuple[Any, Expect]:
    from guanxi.customers.models import Account

    r = ctx.api.post("accounts", {"name": "深圳示例科技有限公司", "province": "广东", "tags": ["重点客户"]})
    changes = {
        "name": [None, "深圳示例科技有限公司"],
        "province": [None, "广东省"],
        "region": [None, "华南"],
        "owner": [None, ctx.admin.pk],
        "tags": [None, ["重点客户"]],
    }
    return r, _expect(Account, r.json()["id"], "create", changes)


def c_account_patch(ctx: Ctx) -> tuple[Any, Expect]:
    from guanxi.customers.models import Account

    a = _account(ctx)
    r = ctx.api.patch(f"accounts/{a.pk}", {"lifecycle_stage": "customer"})
    return r, _expect(Account, a.pk, "update", {"lifecycle_stage": ["prospect", "customer"]}, {"lifecycle_stage"})


def c_account_put(ctx: Ctx) -> tuple[Any, Expect]:
    from guanxi.customers.models import Account

    a = _account(ctx)
    r = ctx.api.put(f"accounts/{a.pk}", {"name": "After"})
    return r, _expect(Account, a.pk, "update", {"name": ["Before", "After"]}, {"name"})


def c_account_delete(ctx: Ctx) -> tuple[Any, Expect]:
    from guanxi.customers.models import Account

    a = _account(ctx)
    r = ctx.api.delete(f"accounts/{a.pk}")
    changes = {"deleted_at": [None, _any()], "deleted_by": [None, ctx.admin.pk]}
    return r, _expect(Account, a.pk, "delete", changes, {"deleted_at", "deleted_by"})


def c_contact_create(ctx: Ctx) -> tuple[Any, Expect]:
    from guanxi.customers.models import Contact

    r = ctx.api.post(
        "contacts",
        {"family_name": "李", "given_name": "雷", "emails": ["Li.Lei@Example.com"], "phones": ["138 0013 8000"]},
    )
    changes = {
        "display_name": [None, "李雷"],
        "emails": [None, [{"value": "li.lei@example.com", "label": "", "is_primary": True}]],
        "phones": [None, [{"value": "+8613800138000", "extension": "", "label": "", "is_primary": True}]],
        "owner": [None, ctx.admin.pk],
    }
    return r, _expect(Contact, r.json()["id"], "create", changes)


def c_contact_patch(ctx: Ctx) -> tuple[Any, Expect]:
    from guanxi.customers.models import Contact

    c = _contact(ctx, phones=["13800138000"])
    r = ctx.api.patch(f"contacts/{c.pk}", {"title": "采购经理", "phones": ["139 0013 9000"]})
    changes = {
        "title": ["", "采购经理"],
        "phones": [
            [{"value": "+8613800138000", "extension": "", "label": "", "is_primary": True}],
            [{"value": "+8613900139000", "extension": "", "label": "", "is_primary": True}],
        ],
    }
    return r, _expect(Contact, c.pk, "update", changes, {"title", "phones"})


def c_contact_put(ctx: Ctx) -> tuple[Any, Expect]:
    from guanxi.customers.models import Contact

    c = _contact(ctx)
    r = ctx.api.put(f"contacts/{c.pk}", {"family_name": "李", "given_name": "三"})
    changes = {"family_name": ["张", "李"], "display_name": ["张三", "李三"]}
    return r, _expect(Contact, c.pk, "update", changes, {"family_name", "display_name"})


def c_contact_delete(ctx: Ctx) -> tuple[Any, Expect]:
    from guanxi.customers.models import Contact

    c = _contact(ctx)
    r = ctx.api.delete(f"contacts/{c.pk}")
    changes = {"deleted_at": [None, _any()], "deleted_by": [None, ctx.admin.pk]}
    return r, _expect(Contact, c.pk, "delete", changes, {"deleted_at", "deleted_by"})


def c_contact_link(ctx: Ctx) -> tuple[Any, Expect]:
    from guanxi.customers.models import Contact

    c = _contact(ctx)
    a = _account(ctx)
    r = ctx.api.post(f"contacts/{c.pk}/accounts", {"account": a.pk, "role": "CTO"})
    changes = {"accounts": [[], [{"account": a.pk, "role": "CTO", "is_primary": True}]]}
    return r, _expect(Contact, c.pk, "update", changes, {"accounts"})


def c_contact_unlink(ctx: Ctx) -> tuple[Any, Expect]:
    from guanxi.customers.models import Contact

    a = _account(ctx)
    c = _contact(ctx, accounts=[{"account": a.pk, "role": "采购经理"}])
    r = ctx.api.delete(f"contacts/{c.pk}/accounts/{a.pk}")
    changes = {"accounts": [[{"account": a.pk, "role": "采购经理", "is_primary": True}], []]}
    return r, _expect(Contact, c.pk, "update", changes, {"accounts"})


def _tier_rule(ctx: Ctx, **data: Any) -> Any:
    from guanxi.customers import services

    return services.tier_rule_create(user=ctx.admin, data={"name": "Before", "tier": "B", **data})


def _profile(ctx: Ctx, **data: Any) -> Any:
    from guanxi.customers import services

    return services.customer_profile_create(user=ctx.admin, data={"name": "Before", **data})


def _assignment_rule(ctx: Ctx, **data: Any) -> Any:
    from guanxi.customers import services

    body = {"name": "Before", "is_active": False, "assignee_id": ctx.admin.pk, **data}
    return services.assignment_rule_create(user=ctx.admin, data=body)


def c_assignment_rule_create(ctx: Ctx) -> tuple[Any, Expect]:
    from guanxi.customers.models import AssignmentRule

    body = {
        "name": "华南",
        "position": 3,
        "is_active": False,
        "conditions": {"regions": ["华南"]},
        "assignee": ctx.admin.pk,
    }
    r = ctx.api.post("assignment-rules", body)
    changes = {
        "name": [None, "华南"],
        "position": [None, 3],
        "conditions": [None, {"regions": ["华南"]}],
        "assignee": [None, ctx.admin.pk],
    }
    return r, _expect(AssignmentRule, r.json()["id"], "create", changes)


def c_assignment_rule_patch(ctx: Ctx) -> tuple[Any, Expect]:
    from guanxi.customers.models import AssignmentRule

    rule = _assignment_rule(ctx)
    r = ctx.api.patch(f"assignment-rules/{rule.pk}", {"conditions": {"industries": ["software"]}})
    changes = {"conditions": [{}, {"industries": ["software"]}]}
    return r, _expect(AssignmentRule, rule.pk, "update", changes, {"conditions"})


def c_assignment_rule_put(ctx: Ctx) -> tuple[Any, Expect]:
    from guanxi.customers.models import AssignmentRule

    rule = _assignment_rule(ctx)
    r = ctx.api.put(f"assignment-rules/{rule.pk}", {"name": "After", "is_active": False, "assignee": ctx.admin.pk})
    return r, _expect(AssignmentRule, rule.pk, "update", {"name": ["Before", "After"]}, {"name"})


def c_assignment_rule_delete(ctx: Ctx) -> tuple[Any, Expect]:
    from guanxi.customers.models import AssignmentRule

    rule = _assignment_rule(ctx)
    r = ctx.api.delete(f"assignment-rules/{rule.pk}")
    assert not AssignmentRule.objects.filter(pk=rule.pk).exists()
    return r, _expect(AssignmentRule, rule.pk, "purge", {"name": ["Before", None], "assignee": [ctx.admin.pk, None]})


def c_tier_rule_create(ctx: Ctx) -> tuple[Any, Expect]:
    from guanxi.customers.models import TierRule

    body = {"name": "A 类", "tier": "A", "position": 10, "conditions": {"min_annual_revenue": 100000000}}
    r = ctx.api.post("tier-rules", body)
    changes = {
        "name": [None, "A 类"],
        "tier": [None, "A"],
        "position": [None, 10],
        "conditions": [None, {"min_annual_revenue": "100000000"}],
    }
    return r, _expect(TierRule, r.json()["id"], "create", changes)


def c_tier_rule_patch(ctx: Ctx) -> tuple[Any, Expect]:
    from guanxi.customers.models import TierRule

    rule = _tier_rule(ctx)
    r = ctx.api.patch(f"tier-rules/{rule.pk}", {"conditions": {"industries": ["software"]}})
    changes = {"conditions": [{}, {"industries": ["software"]}]}
    return r, _expect(TierRule, rule.pk, "update", changes, {"conditions"})


def c_tier_rule_put(ctx: Ctx) -> tuple[Any, Expect]:
    from guanxi.customers.models import TierRule

    rule = _tier_rule(ctx)
    r = ctx.api.put(f"tier-rules/{rule.pk}", {"name": "After", "tier": "C"})
    return r, _expect(TierRule, rule.pk, "update", {"name": ["Before", "After"], "tier": ["B", "C"]}, {"name", "tier"})


def c_tier_rule_delete(ctx: Ctx) -> tuple[Any, Expect]:
    from guanxi.customers.models import TierRule

    rule = _tier_rule(ctx)
    r = ctx.api.delete(f"tier-rules/{rule.pk}")
    assert not TierRule.objects.filter(pk=rule.pk).exists()
    return r, _expect(TierRule, rule.pk, "purge", {"name": ["Before", None], "tier": ["B", None]})


def c_profile_create(ctx: Ctx) -> tuple[Any, Expect]:
    from guanxi.customers.models import CustomerProfile

    body = {"name": "理想客户", "criteria": {"regions": ["华东"]}, "weights": {"regions": 50}}
    r = ctx.api.post("customer-profiles", body)
    changes = {
        "name": [None, "理想客户"],
        "criteria": [None, {"regions": ["华东"]}],
        "weights": [None, {"regions": 50}],
    }
    return r, _expect(CustomerProfile, r.json()["id"], "create", changes)


def c_profile_patch(ctx: Ctx) -> tuple[Any, Expect]:
    from guanxi.customers.models import CustomerProfile

    profile = _profile(ctx)
    r = ctx.api.patch(f"customer-profiles/{profile.pk}", {"is_active": False})
    return r, _expect(CustomerProfile, profile.pk, "update", {"is_active": [True, False]}, {"is_active"})


def c_profile_put(ctx: Ctx) -> tuple[Any, Expect]:
    from guanxi.customers.models import CustomerProfile

    profile = _profile(ctx)
    r = ctx.api.put(f"customer-profiles/{profile.pk}", {"name": "After", "description": "East China"})
    changes = {"name": ["Before", "After"], "description": ["", "East China"]}
    return r, _expect(CustomerProfile, profile.pk, "update", changes, {"name", "description"})


def c_profile_delete(ctx: Ctx) -> tuple[Any, Expect]:
    from guanxi.customers.models import CustomerProfile

    profile = _profile(ctx)
    r = ctx.api.delete(f"customer-profiles/{profile.pk}")
    assert not CustomerProfile.objects.filter(pk=profile.pk).exists()
    return r, _expect(CustomerProfile, profile.pk, "purge", {"name": ["Before", None]})


CHANGELOG_CASES: dict[tuple[str, str], Callable[[Ctx], tuple[Any, Expect]]] = {
    ("POST", AC): c_account_create,
    ("PATCH", AC + "/{id}"): c_account_patch,
    ("PUT", AC + "/{id}"): c_account_put,
    ("DELETE", AC + "/{id}"): c_account_delete,
    ("POST", CO): c_contact_create,
    ("PATCH", CO + "/{id}"): c_contact_patch,
    ("PUT", CO + "/{id}"): c_contact_put,
    ("DELETE", CO + "/{id}"): c_contact_delete,
    ("POST", CO + "/{id}/accounts"): c_contact_link,
    ("DELETE", CO + "/{id}/accounts/{account_id}"): c_contact_unlink,
    ("POST", TR): c_tier_rule_create,
    ("PATCH", TR + "/{id}"): c_tier_rule_patch,
    ("PUT", TR + "/{id}"): c_tier_rule_put,
    ("DELETE", TR + "/{id}"): c_tier_rule_delete,
    ("POST", CP): c_profile_create,
    ("PATCH", CP + "/{id}"): c_profile_patch,
    ("PUT", CP + "/{id}"): c_profile_put,
    ("DELETE", CP + "/{id}"): c_profile_delete,
    ("POST", AR): c_assignment_rule_create,
    ("PATCH", AR + "/{id}"): c_assignment_rule_patch,
    ("PUT", AR + "/{id}"): c_assignment_rule_put,
    ("DELETE", AR + "/{id}"): c_assignment_rule_delete,
}

_QUEUES_A_JOB = (
    "writes nothing itself: it queues the recompute job (202), whose account changes are logged with source "
    "'job' and no actor - see tests/customers/test_platform_extras.py::test_recompute_routes_log_as_jobs"
)
CHANGELOG_EXEMPT: dict[tuple[str, str], str] = {
    ("POST", TR + "/recompute"): _QUEUES_A_JOB,
    ("POST", CP + "/recompute"): _QUEUES_A_JOB,
}


# --- UI matrix rows -----------------------------------------------------------------------------------------

UI_ADDERS = {"owner", "colleague", "other", "manager", "admin"}
UI_NO_PEOPLE: dict[str, Any] = {who: set() for who in W.PEOPLE}
UI_NOBODY: dict[str, Any] = {who: set() for who in (*W.PEOPLE, "admin")}


def _url(name: str, *args: Any) -> str:
    from django.urls import reverse

    return reverse(f"ui:{name}", args=args)


def ui_list(path: str, kind: str, view: dict[str, Any]) -> Callable[[UiCheck], None]:
    def check(c: UiCheck) -> None:
        customers_world(c.w)
        c.list(_url(f"{path}-list"), kind, view)

    return check


def ui_rows(
    path: str,
    page: str,
    kind: str,
    view: dict[str, Any] | None,
    action: dict[str, Any],
    ok: int = 200,
    method: str = "GET",
    data: Callable[[UiCheck, str], dict[str, Any]] | None = None,
    deleted: str = "",
) -> Callable[[UiCheck], None]:
    """One page per row of ``kind`` (``deleted``: rows in the recycle bin, which have no pages)."""

    def check(c: UiCheck) -> None:
        w = customers_world(c.w)
        c.each(
            kind,
            method,
            lambda k: _url(f"{path}-{page}", w.pk(kind, k)),
            view,
            action,
            ok,
            (lambda k: data(c, k)) if data else None,
        )
        if deleted:
            c.each(deleted, method, lambda k: _url(f"{path}-{page}", w.pk(deleted, k)), None, UI_NOBODY, ok)

    return check


def ui_add(path: str, allowed: set[str], data: Callable[[UiCheck], dict[str, Any]]) -> Callable[[UiCheck], None]:
    """The add page (GET), then a submitted form (POST: a redirect to the new record)."""

    def check(c: UiCheck) -> None:
        customers_world(c.w)
        for method in ("GET", "POST"):
            if c.who == "anonymous":
                expected = 302
            elif c.who in allowed:
                expected = 200 if method == "GET" else 302
            else:
                expected = 403
            c.request(f"add {path}", method, _url(f"{path}-add"), expected, data(c) if method == "POST" else None)

    return check


def ui_bulk_delete(path: str, kind: str, action: dict[str, Any]) -> Callable[[UiCheck], None]:
    """Select every row and bulk-delete: exactly the rows the principal may delete go."""

    def check(c: UiCheck) -> None:
        w = customers_world(c.w)
        model = type(next(iter(w.objs[kind].values())))
        manager = getattr(model, "all_objects", model._default_manager)
        pks = [w.pk(kind, k) for k in w.keys(kind)]
        allowed = set() if c.who == "anonymous" else c.rows_for(action, kind)
        data = {"action": "delete", "confirm": "yes", "pk": [str(pk) for pk in pks]}
        response = c.request(f"bulk {path}", "POST", _url(f"{path}-bulk"), 302, data, writes=bool(allowed))
        if response.status_code != 302:
            return
        remaining = manager.filter(pk__in=pks)
        if hasattr(model, "deleted_at"):
            remaining = remaining.filter(deleted_at__isnull=True)
        gone = {w.key_of(kind, pk) for pk in set(pks) - set(remaining.values_list("pk", flat=True))}
        if gone != allowed:
            c.errors.append(f"bulk delete {path}: removed {sorted(gone)}, expected {sorted(allowed)}")

    return check


def _form_value(value: Any) -> Any:
    return "" if value is None else value


def account_form(c: UiCheck, key: str) -> dict[str, Any]:
    """The account's edit form as a browser would send it back, with a new name."""
    a = c.w.obj("account", key)
    a.refresh_from_db()
    data = {
        name: _form_value(getattr(a, name))
        for name in (
            "legal_name", "industry", "size", "employee_count", "currency", "website", "region", "country",
            "province", "city", "district", "street", "postal_code", "lifecycle_stage", "source", "tier",
            "description",
        )
    }  # fmt: skip
    data.update(
        name=f"Edited {key}",
        annual_revenue=str(a.annual_revenue),
        parent=a.parent_id or "",
        owner=a.owner_id or "",
        team=a.team_id or "",
        version=a.version,
        tags="",
    )
    return data


def contact_form(c: UiCheck, key: str) -> dict[str, Any]:
    """The contact's edit form as sent back by this principal: the links they see, unchanged."""
    from guanxi.customers.forms import point_text

    contact = c.w.obj("contact", key)
    contact.refresh_from_db()
    data: dict[str, Any] = {
        name: _form_value(getattr(contact, name))
        for name in (
            "given_name", "title", "department", "wechat_id", "country", "province", "city", "district",
            "street", "postal_code", "description", "email_consent_source", "sms_consent_source",
            "phone_consent_source",
        )
    }  # fmt: skip
    seen = c.rows_for(ACCOUNT_VIEW, "account")
    links = [(account, role) for account, role in LINKS.get(key, []) if account in seen]
    data.update(
        family_name="Edited",
        owner=contact.owner_id or "",
        team=contact.team_id or "",
        version=contact.version,
        tags="",
        emails="\n".join(point_text("emails", p) for p in contact.emails),
        phones="\n".join(point_text("phones", p) for p in contact.phones),
        accounts=[str(c.w.pk("account", account)) for account, _role in links],
        new_accounts_role="",
    )
    for account, role in links:
        data[f"role_{c.w.pk('account', account)}"] = role
    return data


def _new_account(c: UiCheck) -> dict[str, Any]:
    return {"name": f"New by {c.who}", "annual_revenue": "0", "currency": "CNY", "lifecycle_stage": "prospect"}


def _new_contact(c: UiCheck) -> dict[str, Any]:
    return {"family_name": "新", "given_name": c.who, "country": "CN", "emails": f"ui-{c.who}@example.com"}


def _both(*checks: Callable[[UiCheck], None]) -> Callable[[UiCheck], None]:
    def check(c: UiCheck) -> None:
        for part in checks:
            part(c)

    return check


def _settings_pages(path: str, kind: str, form: Callable[[UiCheck], dict[str, Any]]) -> dict[str, Any]:
    """Tier rules and profiles: administrators only (people get 403 on lists, 404 on records)."""
    admin_only: dict[str, Any] = {**UI_NO_PEOPLE, "admin": W.ALL}
    return {
        f"{path}-list": ui_list(path, kind, SETTINGS_DENIED),
        f"{path}-detail": ui_rows(path, "detail", kind, None, UI_NO_PEOPLE),
        f"{path}-add": ui_add(path, {"admin"}, form),
        f"{path}-edit": ui_rows(path, "edit", kind, None, UI_NO_PEOPLE),
        f"{path}-delete": _both(
            ui_rows(path, "delete", kind, None, UI_NO_PEOPLE),
            ui_rows(path, "delete", kind, None, UI_NO_PEOPLE, 302, "POST"),
        ),
        f"{path}-bulk": ui_bulk_delete(path, kind, admin_only),
    }


UI_MATRIX: dict[str, Callable[[UiCheck], None]] = {
    "accounts-list": ui_list("accounts", "account", ACCOUNT_VIEW),
    "accounts-detail": ui_rows("accounts", "detail", "account", None, ACCOUNT_VIEW, deleted="deleted_account"),
    "accounts-add": ui_add("accounts", UI_ADDERS, _new_account),
    "accounts-edit": _both(
        ui_rows("accounts", "edit", "account", ACCOUNT_VIEW, ACCOUNT_CHANGE, deleted="deleted_account"),
        ui_rows("accounts", "edit", "account", ACCOUNT_VIEW, ACCOUNT_CHANGE, 302, "POST", account_form),
    ),
    "accounts-delete": _both(
        ui_rows("accounts", "delete", "account", ACCOUNT_VIEW, ACCOUNT_DELETE, deleted="deleted_account"),
        ui_rows("accounts", "delete", "account", ACCOUNT_VIEW, ACCOUNT_DELETE, 302, "POST"),
    ),
    "accounts-bulk": ui_bulk_delete("accounts", "account", ACCOUNT_DELETE),
    "contacts-list": ui_list("contacts", "contact", CONTACT_VIEW),
    "contacts-detail": ui_rows("contacts", "detail", "contact", None, CONTACT_VIEW, deleted="deleted_contact"),
    "contacts-vcard": ui_rows("contacts", "vcard", "contact", None, CONTACT_VIEW, deleted="deleted_contact"),
    "contacts-vcard-qr": ui_rows("contacts", "vcard-qr", "contact", None, CONTACT_VIEW, deleted="deleted_contact"),
    "contacts-add": ui_add("contacts", UI_ADDERS, _new_contact),
    "contacts-edit": _both(
        ui_rows("contacts", "edit", "contact", CONTACT_VIEW, CONTACT_CHANGE, deleted="deleted_contact"),
        ui_rows("contacts", "edit", "contact", CONTACT_VIEW, CONTACT_CHANGE, 302, "POST", contact_form),
    ),
    "contacts-delete": _both(
        ui_rows("contacts", "delete", "contact", CONTACT_VIEW, CONTACT_DELETE, deleted="deleted_contact"),
        ui_rows("contacts", "delete", "contact", CONTACT_VIEW, CONTACT_DELETE, 302, "POST"),
    ),
    "contacts-bulk": ui_bulk_delete("contacts", "contact", CONTACT_DELETE),
    **_settings_pages("tier-rules", "tierrule", lambda c: {"name": f"Rule by {c.who}", "tier": "B", "position": 50}),
    **_settings_pages("customer-profiles", "profile", lambda c: {"name": f"Profile by {c.who}", "is_active": "on"}),
    **_settings_pages(
        "assignment-rules",
        "assignmentrule",
        lambda c: {
            "name": f"Rule by {c.who}",
            "position": 50,
            "assignee": c.w.p.user("admin").pk,
            "team_method": "round_robin",
        },
    ),
}


# --- the duplicates part: queue, merge and undo (rows in tests/customers/policies_duplicates.py) -------------

MATRIX.update(_duplicates.MATRIX)
CHANGELOG_CASES.update(_duplicates.CHANGELOG_CASES)
UI_MATRIX.update(_duplicates.UI_MATRIX)


# --- the customer pool: pool rules, claim and release (rows in tests/customers/policies_pool.py) ----------

MATRIX.update(_pool.MATRIX)
CHANGELOG_CASES.update(_pool.CHANGELOG_CASES)
UI_MATRIX.update(_pool.ui_matrix(_settings_pages))


# --- following accounts and contacts (关注; rows in tests/customers/policies_follows.py) -------------------

MATRIX.update(_follows.MATRIX)
CHANGELOG_EXEMPT.update(_follows.CHANGELOG_EXEMPT)
UI_MATRIX.update(_follows.UI_MATRIX)


# --- a masked field in full (号码脱敏; rows in tests/customers/policies_reveal.py) ----------------------------

MATRIX.update(_reveal.MATRIX)
CHANGELOG_EXEMPT.update(_reveal.CHANGELOG_EXEMPT)
UI_MATRIX.update(_reveal.UI_MATRIX)


# --- the import routes and pages (rows in tests/core/imports_policies.py) ----------------------------------

MATRIX.update(_imports.MATRIX)
CHANGELOG_EXEMPT.update(_imports.CHANGELOG_EXEMPT)


# --- relations between people and companies (人脉关系, 企业关系; rows in tests/customers/policies_relations.py)

MATRIX.update(_relations.MATRIX)
CHANGELOG_CASES.update(_relations.CHANGELOG_CASES)
UI_MATRIX.update(_relations.UI_MATRIX)


# --- who of ours knows whom (我方熟人; rows in tests/customers/policies_acquaintances.py) ------------------

MATRIX.update(_acquaintances.MATRIX)
CHANGELOG_EXEMPT.update(_acquaintances.CHANGELOG_EXEMPT)
UI_MATRIX.update(_acquaintances.UI_MATRIX)


# --- handing over a user's records (离职交接; rows in tests/customers/policies_handover.py; its page's row is
# in the UI matrix's own table, as users' pages are) -------------------------------------------------------

MATRIX.update(_handover.MATRIX)
CHANGELOG_CASES.update(_handover.CHANGELOG_CASES)


# --- the account and contact breakdowns (客户分布, 联系人分布; rows in tests/customers/policies_breakdown.py) ---

MATRIX.update(_breakdown.MATRIX)
UI_MATRIX.update(_breakdown.UI_MATRIX)
