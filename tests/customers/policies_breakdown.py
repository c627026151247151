"""客户分布 (the account breakdown) in the platform's walks (loaded by ``platform_policies``): ``GET
/accounts/breakdown`` and the page ``accounts-breakdown``.

Both answer whoever the account list answers (anonymous 401 / sign in, a token without
``customers.account:view`` 403), and count exactly the accounts the hand-written ``ACCOUNT_VIEW``
table gives the principal, per owner: written out from the world's accounts, never computed with
``restrict``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from tests.api.test_permission_matrix import Check
    from tests.ui_matrix.test_ui_permission_matrix import UiCheck

AC = "/api/v1/accounts"


def _owners(c: Any) -> Counter[int]:
    """How many accounts each owner has among those the principal may see (``ACCOUNT_VIEW``)."""
    from tests.customers.platform_policies import ACCOUNT_VIEW, customers_world

    customers_world(c.w)
    return Counter(c.w.obj("account", key).owner_id for key in c.rows_for(ACCOUNT_VIEW, "account"))


def _api(c: Check) -> None:
    expected_owners = _owners(c)
    expected = {"anonymous": 401, "token_noscope": 403}.get(c.who, 200)
    response = c.request("account breakdown", "GET", f"{AC}/breakdown?by=owner", expected)
    if expected != 200 or response.status_code != 200:
        return
    body = response.json()
    got = Counter({item["value"]: item["count"] for item in body["items"]})
    if got != expected_owners or body["total"] != sum(expected_owners.values()):
        c.errors.append(f"account breakdown: counts {body}, expected {dict(expected_owners)}")


def _ui(c: UiCheck) -> None:
    from django.urls import reverse

    expected_owners = _owners(c)
    expected = 302 if c.who == "anonymous" else 200
    response = c.request("account breakdown", "GET", reverse("ui:accounts-breakdown") + "?by=owner", expected)
    if expected == 200 and response.status_code == 200:
        total = f'data-total="{sum(expected_owners.values())}"'
        if total not in response.content.decode():
            c.errors.append(f"account breakdown page: not {total}")


MATRIX: dict[tuple[str, str], Callable[[Check], None]] = {("GET", AC + "/breakdown"): _api}
UI_MATRIX: dict[str, Callable[[UiCheck], None]] = {"accounts-breakdown": _ui}
