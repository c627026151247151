"""Relations between people (人脉关系) and between companies (企业关系) in the platform's walks (loaded
by ``platform_policies``): listing, adding and removing a contact's or an account's relations through
the API and the record's page. The same rules for both types (``Kind``).

Written out from the rules (never computed with ``restrict``):

* list: the record must be one the principal sees (404); the relations shown are those whose
  other record they see too (``tests/customers/test_relations.py`` checks which);
* add: "change" on the record (403 when they only see it, 404 when not), then the other record
  must be one they see (else 400, naming ``other``);
* remove: "change" on the record, then the relation must be one they see, so its other record
  too (else 404).

Each request adds or removes a relation between the world's contacts; a check puts back what it
changed, so that every principal starts from the same world.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tests.api.world import World

if TYPE_CHECKING:  # pragma: no cover
    from tests.api.test_permission_matrix import Check
    from tests.core.test_changelog import Ctx, Expect
    from tests.ui_matrix.test_ui_permission_matrix import UiCheck

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    """One record type's relations in the walks: its world keys, route and tables."""

    kind: str  # the world's kind: "contact", "account"
    owner: str  # the principal's own record and another's: each is related to the other
    other: str
    path: str
    ui: str  # the UI route names' prefix
    model: str  # the relation table's name in guanxi.customers.models

    def tables(self) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        from tests.customers import platform_policies as p

        if self.kind == "contact":
            return p.CONTACT_VIEW, p.CONTACT_CHANGE, p.NOBODY
        return p.ACCOUNT_VIEW, p.ACCOUNT_CHANGE, p.NOBODY

    def table(self) -> Any:
        from guanxi.customers import models

        return getattr(models, self.model)

    def partner(self, key: str) -> str:
        """The record each one is related to in these checks: the owner's, or for that one the other's."""
        return self.other if key == self.owner else self.owner

    def targets(self, w: World) -> list[tuple[str, str]]:
        return [
            *((self.kind, key) for key in w.keys(self.kind)),
            *((f"deleted_{self.kind}", k) for k in w.keys(f"deleted_{self.kind}")),
        ]

    def expected(self, c: Any, kind: str, key: str, action: dict[str, Any], ok: int) -> int:
        view, _change, nobody = self.tables()
        if kind == self.kind:
            return c.status(key, kind, view, action, ok)
        return c.status(key, kind, None, nobody, ok)

    def relate(self, w: World, key: str, kind: str) -> Any:
        first, second = sorted((w.pk(kind, key), w.pk(self.kind, self.partner(key))))
        return self.table().objects.create(first_id=first, second_id=second, kind="other")


CONTACTS = Kind("contact", "c_owner", "c_other", "/api/v1/contacts", "contacts", "ContactRelation")
ACCOUNTS = Kind("account", "a_owner", "a_other", "/api/v1/accounts", "accounts", "AccountRelation")
CO = CONTACTS.path


def _world(w: World) -> Any:
    from tests.customers.platform_policies import customers_world

    return customers_world(w)


def _list(k: Kind) -> Callable[[Check], None]:
    def check(c: Check) -> None:
        view, _change, _nobody = k.tables()
        w = _world(c.w)
        for kind, key in k.targets(w):
            relation = k.relate(w, key, kind)
            try:
                expected = k.expected(c, kind, key, view, 200)
                response = c.request(f"relations of {key}", "GET", f"{k.path}/{w.pk(kind, key)}/relations", expected)
                if response.status_code == 200:
                    shown = [item["other"]["id"] for item in response.json()["items"]]
                    partner = k.partner(key)
                    wanted = [w.pk(k.kind, partner)] if partner in c.rows_for(view, k.kind) else []
                    if shown != wanted:
                        c.errors.append(f"relations of {key}: shows {shown}, expected {wanted}")
            finally:
                relation.delete()

    return check


def _add(k: Kind) -> Callable[[Check], None]:
    def check(c: Check) -> None:
        view, change, _nobody = k.tables()
        w = _world(c.w)
        for kind, key in k.targets(w):
            expected = k.expected(c, kind, key, change, 201)
            if expected == 201 and k.partner(key) not in c.rows_for(view, k.kind):
                expected = 400
            body = {"other": w.pk(k.kind, k.partner(key)), "kind": "partner" if k is ACCOUNTS else "friend"}
            body["note"] = f"by {c.who}"
            response = c.request(f"relate {key}", "POST", f"{k.path}/{w.pk(kind, key)}/relations", expected, body)
            if response.status_code == 201:
                k.table().objects.filter(pk=response.json()["id"]).delete()

    return check


def _remove(k: Kind) -> Callable[[Check], None]:
    def check(c: Check) -> None:
        view, change, _nobody = k.tables()
        w = _world(c.w)
        for kind, key in k.targets(w):
            relation = k.relate(w, key, kind)
            expected = k.expected(c, kind, key, change, 204)
            if expected == 204 and k.partner(key) not in c.rows_for(view, k.kind):
                expected = 404
            url = f"{k.path}/{w.pk(kind, key)}/relations/{relation.pk}"
            try:
                c.request(f"unrelate {key}", "DELETE", url, expected)
            finally:
                type(relation).objects.filter(pk=relation.pk).delete()

    return check


MATRIX: dict[tuple[str, str], Callable[[Check], None]] = {
    route: check
    for k in (CONTACTS, ACCOUNTS)
    for route, check in (
        (("GET", k.path + "/{id}/relations"), _list(k)),
        (("POST", k.path + "/{id}/relations"), _add(k)),
        (("DELETE", k.path + "/{id}/relations/{relation_id}"), _remove(k)),
    )
}


# --- the change log: a relation added or removed is a change of the record it was written on ----------


def _people(ctx: Ctx) -> tuple[Any, Any]:
    from guanxi.customers import services

    def person(given: str) -> Any:
        return services.contact_create(user=ctx.admin, data={"family_name": "关", "given_name": given})

    return person("一"), person("二")


def _companies(ctx: Ctx) -> tuple[Any, Any]:
    from guanxi.customers import services

    upstream = services.account_create(user=ctx.admin, data={"name": "上游材料"})
    return upstream, services.account_create(user=ctx.admin, data={"name": "下游制造"})


def _expect(*args: Any, **kwargs: Any) -> Expect:
    from tests.core.test_changelog import Expect

    return Expect(*args, **kwargs)


def c_relation_add(ctx: Ctx) -> tuple[Any, Expect]:
    from guanxi.customers.models import Contact

    a, b = _people(ctx)
    r = ctx.api.post(f"contacts/{b.pk}/relations", {"other": a.pk, "kind": "classmate", "note": "同学"})
    row = {"first": a.pk, "second": b.pk, "kind": "classmate", "note": "同学"}
    return r, _expect(Contact, b.pk, "update", {"relations": [[], [row]]}, {"relations"})


def c_relation_remove(ctx: Ctx) -> tuple[Any, Expect]:
    from guanxi.customers import services
    from guanxi.customers.models import Contact

    a, b = _people(ctx)
    relation = services.relation_add(model=Contact, record_id=a.pk, other_id=b.pk, kind="referral", user=ctx.admin)
    r = ctx.api.delete(f"contacts/{a.pk}/relations/{relation.pk}")
    row = {"first": a.pk, "second": b.pk, "kind": "referral", "note": ""}
    return r, _expect(Contact, a.pk, "update", {"relations": [[row], []]}, {"relations"})


def a_relation_add(ctx: Ctx) -> tuple[Any, Expect]:
    from guanxi.customers.models import Account

    supplier, maker = _companies(ctx)
    r = ctx.api.post(f"accounts/{supplier.pk}/relations", {"other": maker.pk, "kind": "supplier", "note": "钢材"})
    row = {"first": supplier.pk, "second": maker.pk, "kind": "supplier", "note": "钢材"}
    return r, _expect(Account, supplier.pk, "update", {"relations": [[], [row]]}, {"relations"})


def a_relation_remove(ctx: Ctx) -> tuple[Any, Expect]:
    from guanxi.customers import services
    from guanxi.customers.models import Account

    a, b = _companies(ctx)
    relation = services.relation_add(model=Account, record_id=a.pk, other_id=b.pk, kind="competitor", user=ctx.admin)
    r = ctx.api.delete(f"accounts/{b.pk}/relations/{relation.pk}")
    row = {"first": a.pk, "second": b.pk, "kind": "competitor", "note": ""}
    return r, _expect(Account, b.pk, "update", {"relations": [[row], []]}, {"relations"})


CHANGELOG_CASES: dict[tuple[str, str], Callable[[Ctx], tuple[Any, Expect]]] = {
    ("POST", CO + "/{id}/relations"): c_relation_add,
    ("DELETE", CO + "/{id}/relations/{relation_id}"): c_relation_remove,
    ("POST", ACCOUNTS.path + "/{id}/relations"): a_relation_add,
    ("DELETE", ACCOUNTS.path + "/{id}/relations/{relation_id}"): a_relation_remove,
}


# --- the record's page: the card's add and remove buttons (a plain form: back to the page) ---------------


def _ui(k: Kind, remove: bool) -> Callable[[UiCheck], None]:
    def check(c: UiCheck) -> None:
        from django.urls import reverse

        view, change, _nobody = k.tables()
        w = _world(c.w)
        table = k.table()
        for kind, key in k.targets(w):
            pk = w.pk(kind, key)
            expected = 302 if c.who == "anonymous" else k.expected(c, kind, key, change, 302)
            if remove:
                relation = k.relate(w, key, kind)
                if expected == 302 and c.who != "anonymous" and k.partner(key) not in c.rows_for(view, k.kind):
                    expected = 404
                url = reverse(f"ui:{k.ui}-relation-remove", args=[pk, relation.pk])
                data = None
            else:
                relation = None
                url = reverse(f"ui:{k.ui}-relations", args=[pk])
                data = {"other": w.pk(k.kind, k.partner(key)), "kind": "partner" if k is ACCOUNTS else "friend"}
                # GET is the add form, for the same people as the POST.
                form_expected = 302 if c.who == "anonymous" else k.expected(c, kind, key, change, 200)
                c.request(f"relation form {key}", "GET", url, form_expected)
            try:
                c.request(f"{'unrelate' if remove else 'relate'} {key}", "POST", url, expected, data)
            finally:
                if relation is not None:
                    table.objects.filter(pk=relation.pk).delete()
                else:
                    table.objects.filter(note="", kind=data["kind"] if data else "").delete()

    return check


UI_MATRIX: dict[str, Callable[[UiCheck], None]] = {
    name: check
    for k in (CONTACTS, ACCOUNTS)
    for name, check in ((f"{k.ui}-relations", _ui(k, remove=False)), (f"{k.ui}-relation-remove", _ui(k, remove=True)))
}
