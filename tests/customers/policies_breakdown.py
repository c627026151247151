"""客户分布 and 联系人分布 (the account and contact breakdowns) in the platform's walks (loaded by
``platform_policies``): ``GET /accounts/breakdown``, ``GET /contacts/breakdown`` and the pages
``accounts-breakdown`` and ``contacts-breakdown``.

Each answers whoever its list answers (anonymous 401 / sign in, a token without
``customers.account:view`` or ``customers.contact:view`` 403), and counts exactly the records the
hand-written ``ACCOUNT_VIEW`` / ``CONTACT_VIEW`` table gives the principal, per owner: written out
from the world's records, never computed with ``restrict``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from tests.api.test_permission_matrix import Check
    from tests.ui_matrix.test_ui_permission_matrix import UiCheck

AC = "/api/v1/accounts"
CO = "/api/v1/contacts"
#: kind -> (the API path, the page's URL name, the name in messages).
KINDS = {
    "account": (AC, "accounts-breakdown", "account breakdown"),
    "contact": (CO, "contacts-breakdown", "contact breakdown"),
}


def _owners(c: Any, kind: str) -> Counter[int]:
    """How many records of ``kind`` each owner has among those the principal may see (``*_VIEW``)."""
    from tests.customers.platform_policies import ACCOUNT_VIEW, CONTACT_VIEW, customers_world

    customers_world(c.w)
    table = ACCOUNT_VIEW if kind == "account" else CONTACT_VIEW
    return Counter(c.w.obj(kind, key).owner_id for key in c.rows_for(table, kind))


def _api(kind: str) -> Callable[[Check], None]:
    path, _page, name = KINDS[kind]

    def check(c: Check) -> None:
        expected_owners = _owners(c, kind)
        expected = {"anonymous": 401, "token_noscope": 403}.get(c.who, 200)
        response = c.request(name, "GET", f"{path}/breakdown?by=owner", expected)
        if expected != 200 or response.status_code != 200:
            return
        body = response.json()
        got = Counter({item["value"]: item["count"] for item in body["items"]})
        if got != expected_owners or body["total"] != sum(expected_owners.values()):
            c.errors.append(f"{name}: counts {body}, expected {dict(expected_owners)}")

    return check


def _ui(kind: str) -> Callable[[UiCheck], None]:
    _path, page, name = KINDS[kind]

    def check(c: UiCheck) -> None:
        from django.urls import reverse

        expected_owners = _owners(c, kind)
        expected = 302 if c.who == "anonymous" else 200
        response = c.request(name, "GET", reverse(f"ui:{page}") + "?by=owner", expected)
        if expected == 200 and response.status_code == 200:
            total = f'data-total="{sum(expected_owners.values())}"'
            if total not in response.content.decode():
                c.errors.append(f"{name} page: not {total}")

    return check


MATRIX: dict[tuple[str, str], Callable[[Check], None]] = {
    ("GET", path + "/breakdown"): _api(kind) for kind, (path, _page, _name) in KINDS.items()
}
UI_MATRIX: dict[str, Callable[[UiCheck], None]] = {page: _ui(kind) for kind, (_path, page, _name) in KINDS.items()}
