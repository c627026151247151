"""Relations between people (人脉关系) in the platform's walks (loaded by ``platform_policies``):
listing, adding and removing a contact's relations through the API and the contact's page.

Written out from the rules (never computed with ``restrict``):

* list: the contact must be one the principal sees (404); the relations shown are those whose
  other person they see too (``tests/customers/test_relations.py`` checks which);
* add: "change" on the contact (403 when they only see it, 404 when not), then the other person
  must be one they see (else 400, naming ``other``);
* remove: "change" on the contact, then the relation must be one they see, so its other person
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

CO = "/api/v1/contacts"


def _tables() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    from tests.customers.platform_policies import CONTACT_CHANGE, CONTACT_VIEW, NOBODY

    return CONTACT_VIEW, CONTACT_CHANGE, NOBODY


def _world(w: World) -> Any:
    from tests.customers.platform_policies import customers_world

    return customers_world(w)


def _other(key: str) -> str:
    """The person each contact is related to in these checks: the owner's, or for that one the other's."""
    return "c_other" if key == "c_owner" else "c_owner"


def _targets(w: World) -> list[tuple[str, str]]:
    return [
        *(("contact", key) for key in w.keys("contact")),
        *(("deleted_contact", k) for k in w.keys("deleted_contact")),
    ]


def _expected(c: Any, kind: str, key: str, action: dict[str, Any], ok: int) -> int:
    view, _change, nobody = _tables()
    if kind == "contact":
        return c.status(key, kind, view, action, ok)
    return c.status(key, kind, None, nobody, ok)


def _relate(w: World, key: str, kind: str) -> Any:
    from guanxi.customers.models import ContactRelation

    first, second = sorted((w.pk(kind, key), w.pk("contact", _other(key))))
    return ContactRelation.objects.create(first_id=first, second_id=second, kind="colleague")


def _list(c: Check) -> None:
    view, _change, _nobody = _tables()
    w = _world(c.w)
    for kind, key in _targets(w):
        relation = _relate(w, key, kind)
        try:
            expected = _expected(c, kind, key, view, 200)
            response = c.request(f"relations of {key}", "GET", f"{CO}/{w.pk(kind, key)}/relations", expected)
            if response.status_code == 200:
                shown = [item["other"]["id"] for item in response.json()["items"]]
                wanted = [w.pk("contact", _other(key))] if _other(key) in c.rows_for(view, "contact") else []
                if shown != wanted:
                    c.errors.append(f"relations of {key}: shows {shown}, expected {wanted}")
        finally:
            relation.delete()


def _add(c: Check) -> None:
    from guanxi.customers.models import ContactRelation

    view, change, _nobody = _tables()
    w = _world(c.w)
    for kind, key in _targets(w):
        expected = _expected(c, kind, key, change, 201)
        if expected == 201 and _other(key) not in c.rows_for(view, "contact"):
            expected = 400
        body = {"other": w.pk("contact", _other(key)), "kind": "friend", "note": f"by {c.who}"}
        response = c.request(f"relate {key}", "POST", f"{CO}/{w.pk(kind, key)}/relations", expected, body)
        if response.status_code == 201:
            ContactRelation.objects.filter(pk=response.json()["id"]).delete()


def _remove(c: Check) -> None:
    view, change, _nobody = _tables()
    w = _world(c.w)
    for kind, key in _targets(w):
        relation = _relate(w, key, kind)
        expected = _expected(c, kind, key, change, 204)
        if expected == 204 and _other(key) not in c.rows_for(view, "contact"):
            expected = 404
        try:
            c.request(f"unrelate {key}", "DELETE", f"{CO}/{w.pk(kind, key)}/relations/{relation.pk}", expected)
        finally:
            type(relation).objects.filter(pk=relation.pk).delete()


MATRIX: dict[tuple[str, str], Callable[[Check], None]] = {
    ("GET", CO + "/{id}/relations"): _list,
    ("POST", CO + "/{id}/relations"): _add,
    ("DELETE", CO + "/{id}/relations/{relation_id}"): _remove,
}


# --- the change log: a relation added or removed is a change of the person it was written on ----------


def _people(ctx: Ctx) -> tuple[Any, Any]:
    from guanxi.customers import services

    def person(given: str) -> Any:
        return services.contact_create(user=ctx.admin, data={"family_name": "关", "given_name": given})

    return person("一"), person("二")


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
    relation = services.relation_add(contact_id=a.pk, other_id=b.pk, kind="referral", user=ctx.admin)
    r = ctx.api.delete(f"contacts/{a.pk}/relations/{relation.pk}")
    row = {"first": a.pk, "second": b.pk, "kind": "referral", "note": ""}
    return r, _expect(Contact, a.pk, "update", {"relations": [[row], []]}, {"relations"})


CHANGELOG_CASES: dict[tuple[str, str], Callable[[Ctx], tuple[Any, Expect]]] = {
    ("POST", CO + "/{id}/relations"): c_relation_add,
    ("DELETE", CO + "/{id}/relations/{relation_id}"): c_relation_remove,
}


# --- the contact's page: the card's add and remove buttons (a plain form: back to the page) ---------------


def _ui(remove: bool) -> Callable[[UiCheck], None]:
    def check(c: UiCheck) -> None:
        from django.urls import reverse

        from guanxi.customers.models import ContactRelation

        view, change, _nobody = _tables()
        w = _world(c.w)
        for kind, key in _targets(w):
            pk = w.pk(kind, key)
            expected = 302 if c.who == "anonymous" else _expected(c, kind, key, change, 302)
            if remove:
                relation = _relate(w, key, kind)
                if expected == 302 and c.who != "anonymous" and _other(key) not in c.rows_for(view, "contact"):
                    expected = 404
                url = reverse("ui:contacts-relation-remove", args=[pk, relation.pk])
                data = None
            else:
                relation = None
                url = reverse("ui:contacts-relations", args=[pk])
                data = {"other": w.pk("contact", _other(key)), "kind": "friend"}
            try:
                c.request(f"{'unrelate' if remove else 'relate'} {key}", "POST", url, expected, data)
            finally:
                if relation is not None:
                    ContactRelation.objects.filter(pk=relation.pk).delete()
                else:
                    ContactRelation.objects.filter(note="", kind="friend").delete()

    return check


UI_MATRIX: dict[str, Callable[[UiCheck], None]] = {
    "contacts-relations": _ui(remove=False),
    "contacts-relation-remove": _ui(remove=True),
}
