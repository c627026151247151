"""Who of ours knows a customer's person (我方熟人) in the platform's walks (loaded by
``platform_policies``).

Written out from the rule, not computed with ``restrict``: anyone may read who knows a person, and
say (or take back) that they know them, for a person they may see, whatever else they may do with
it; a person they may not see, or one in the recycle bin, answers 404. Taking back what one never
said is a 404 too. It is the user's own statement: it writes nothing to the person's change log.
An account's list needs only that the account may be seen.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tests.api import world as W

if TYPE_CHECKING:  # pragma: no cover
    from tests.api.test_permission_matrix import Check
    from tests.ui_matrix.test_ui_permission_matrix import UiCheck

CO = "/api/v1/contacts"
AC = "/api/v1/accounts"
KINDS = ("contact", "deleted_contact")
NOBODY: dict[str, Any] = {who: set() for who in (*W.PEOPLE, *W.ADMINS)}


def _visible(kind: str) -> dict[str, Any]:
    from tests.customers import platform_policies as P

    return NOBODY if kind.startswith("deleted_") else P.CONTACT_VIEW


def _said(c: Any, kind: str, key: str) -> Any:
    """The principal's own say on the person, so that there is one to take back."""
    from guanxi.customers.models import Acquaintance

    user = c.w.p.user(c.who)
    if user is None:
        return None
    return Acquaintance.objects.create(contact_id=c.w.pk(kind, key), user=user, closeness="met")


def _api(method: str) -> Callable[[Check], None]:
    def check(c: Check) -> None:
        from guanxi.customers.models import Acquaintance
        from tests.customers.platform_policies import customers_world

        customers_world(c.w)
        ok = {"GET": 200, "PUT": 200, "DELETE": 204}[method]
        suffix = "/acquaintances" if method == "GET" else "/acquaintances/me"
        for kind in KINDS:
            for key in c.w.keys(kind):
                said = _said(c, kind, key) if method == "DELETE" else None
                expected = c.status(key, kind, None, _visible(kind), ok)
                body = {"closeness": "known", "note": f"by {c.who}"} if method == "PUT" else None
                try:
                    c.request(
                        f"{method} acquaintance {key}", method, f"{CO}/{c.w.pk(kind, key)}{suffix}", expected, body
                    )
                finally:
                    if said is not None:
                        Acquaintance.objects.filter(pk=said.pk).delete()
                    if method == "PUT":
                        Acquaintance.objects.filter(note=f"by {c.who}").delete()

    return check


def _account_list(c: Check) -> None:
    from tests.customers import platform_policies as P

    P._rows("account", AC, "GET", None, P.ACCOUNT_VIEW, 200, suffix="/acquaintances", deleted="deleted_account")(c)


MATRIX: dict[tuple[str, str], Callable[[Check], None]] = {
    ("GET", CO + "/{id}/acquaintances"): _api("GET"),
    ("PUT", CO + "/{id}/acquaintances/me"): _api("PUT"),
    ("DELETE", CO + "/{id}/acquaintances/me"): _api("DELETE"),
    ("GET", AC + "/{id}/acquaintances"): _account_list,
}

_PERSONAL = (
    "saying one knows a person is the user's own statement (as following is): it writes no change-log entry "
    "and changes nothing on the person - tests/customers/test_acquaintances.py"
)
CHANGELOG_EXEMPT: dict[tuple[str, str], str] = {
    ("PUT", CO + "/{id}/acquaintances/me"): _PERSONAL,
    ("DELETE", CO + "/{id}/acquaintances/me"): _PERSONAL,
}


def _ui(remove: bool) -> Callable[[UiCheck], None]:
    """The person's page's 我认识此人 form and its take-back button (plain POSTs: back to the page)."""

    def check(c: UiCheck) -> None:
        from django.urls import reverse

        from guanxi.customers.models import Acquaintance
        from tests.customers.platform_policies import customers_world

        customers_world(c.w)
        for kind in KINDS:
            for key in c.w.keys(kind):
                pk = c.w.pk(kind, key)
                expected = 302 if c.who == "anonymous" else c.status(key, kind, None, _visible(kind), 302)
                said = _said(c, kind, key) if remove and c.who != "anonymous" else None
                name = "ui:contacts-acquaintance-remove" if remove else "ui:contacts-acquaintance"
                data = None if remove else {"closeness": "met"}
                try:
                    c.request(f"{'unsay' if remove else 'say'} {key}", "POST", reverse(name, args=[pk]), expected, data)
                finally:
                    if said is not None:
                        Acquaintance.objects.filter(pk=said.pk).delete()
                    Acquaintance.objects.filter(contact_id=pk, note="").delete()

    return check


UI_MATRIX: dict[str, Callable[[UiCheck], None]] = {
    "contacts-acquaintance": _ui(remove=False),
    "contacts-acquaintance-remove": _ui(remove=True),
}
