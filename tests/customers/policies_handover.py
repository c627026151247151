"""Handing over a user's records (离职交接) in the platform's walks (loaded by ``platform_policies``; the
UI row is called from ``tests/ui_matrix/test_ui_permission_matrix.py``): ``POST /users/{id}/handover``
and the page ``users-handover``.

Written out by hand from the rules: the user must be one the principal sees (``USER_VIEW``, else
404), and the principal must be able to change and assign some records. In this organisation no
role has "assign" (tests/conftest.py grants view, add, change and delete), so only administrators
hand over (200 / 302); people answer 403 for the users they see, and a refused handover writes
nothing. Each user's records go to the admin (the admin's own to owner): afterwards none of the
world's live accounts and contacts is theirs, and the recycle bin's are left alone.
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

U = "/api/v1/users"
HANDOVER = U + "/{id}/handover"
NO_PEOPLE: dict[str, Any] = {who: set() for who in W.PEOPLE}


def _world(w: World) -> World:
    from tests.customers.platform_policies import customers_world

    return customers_world(w)


def _recipient(w: World, key: str) -> int:
    return w.pk("user", "owner" if key == "admin" else "admin")


def _none_left(c: Any, w: World, key: str, label: str) -> None:
    """After a handover of ``key``'s records, no live account or contact of the world is theirs, and
    the ones in the recycle bin still are (a handover moves live records only)."""
    from guanxi.customers.models import Account, Contact

    source = w.obj("user", key)
    for model, kind in ((Account, "account"), (Contact, "contact")):
        pks = [w.pk(kind, k) for k in w.keys(kind)]
        left = model.objects.filter(pk__in=pks, owner=source).count()
        if left:
            c.errors.append(f"{label}: {left} {kind}s still theirs")
    binned = [w.obj(kind, k) for kind in ("deleted_account", "deleted_contact") for k in w.keys(kind)]
    for obj in binned:
        if type(obj).all_objects.get(pk=obj.pk).owner_id != obj.owner_id:
            c.errors.append(f"{label}: {obj} in the recycle bin changed hands")


def _api_handover(c: Check) -> None:
    w = _world(c.w)
    for key in w.keys("user"):
        if c.who == "anonymous":
            expected = 401
        elif c.who == "token_noscope":
            expected = 403
        else:
            expected = c.status(key, "user", W.USER_VIEW, NO_PEOPLE, 200)
        label = f"handover {key}"
        url = f"{U}/{w.pk('user', key)}/handover"
        response = c.request(label, "POST", url, expected, {"recipient": _recipient(w, key)})
        if expected == 200 and response.status_code == 200:
            _none_left(c, w, key, label)


MATRIX: dict[tuple[str, str], Callable[[Check], None]] = {("POST", HANDOVER): _api_handover}


def c_user_handover(ctx: Ctx) -> tuple[Any, Expect]:
    """The handover is in the departing user's change log: whom to, how many (the records' own
    entries are their services', as any change of owner)."""
    from guanxi.customers.models import Account
    from guanxi.identity.models import User
    from tests.core.test_changelog import ANY, Expect
    from tests.factories import UserFactory

    leaving = UserFactory(email="leaving@example.com", display_name="离职的人")
    Account.objects.create(name="交接的客户", owner=leaving, created_by=leaving)
    r = ctx.api.post(f"users/{leaving.pk}/handover", {"recipient": ctx.admin.pk})
    return r, Expect(User, leaving.pk, "update", {"handover": [None, ANY]}, {"handover"})


CHANGELOG_CASES: dict[tuple[str, str], Callable[[Ctx], tuple[Any, Expect]]] = {("POST", HANDOVER): c_user_handover}


def ui_handover(c: UiCheck) -> None:
    """The page (its counts and form), then a submitted handover (a redirect back to it)."""
    from django.urls import reverse

    w = _world(c.w)

    def url(key: str) -> str:
        return reverse("ui:users-handover", args=[w.pk("user", key)])

    c.each("user", "GET", url, W.USER_VIEW, NO_PEOPLE, 200)
    for key in w.keys("user"):
        expected = c.status(key, "user", W.USER_VIEW, NO_PEOPLE, 302)
        label = f"handover {key}"
        c.request(label, "POST", url(key), expected, {"recipients": _recipient(w, key)})
        if expected == 302 and c.who != "anonymous":
            _none_left(c, w, key, label)
