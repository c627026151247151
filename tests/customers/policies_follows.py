"""Following accounts and contacts (关注) in the platform's walks (loaded by ``platform_policies``).

Written out from the rule, not computed with ``restrict``: anyone may follow (and stop following) a
record they may see, whatever they may do with it; a record they may not see, or one in the recycle
bin, answers 404. Following is the user's own: it writes nothing to the record or its change log.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tests.api import world as W

if TYPE_CHECKING:  # pragma: no cover
    from tests.api.test_permission_matrix import Check
    from tests.ui_matrix.test_ui_permission_matrix import UiCheck

KINDS = {"accounts": ("account", "deleted_account"), "contacts": ("contact", "deleted_contact")}


#: Nobody follows a record in the recycle bin, administrators included.
NOBODY: dict[str, Any] = {who: set() for who in (*W.PEOPLE, *W.ADMINS)}


def visible_rows(path: str, kind: str) -> dict[str, Any]:
    from tests.customers import platform_policies as P

    if kind.startswith("deleted_"):
        return NOBODY
    return P.ACCOUNT_VIEW if path == "accounts" else P.CONTACT_VIEW


def _api(path: str, method: str) -> Callable[[Check], None]:
    def check(c: Check) -> None:
        from tests.customers.platform_policies import customers_world

        customers_world(c.w)
        for kind in KINDS[path]:
            for key in c.w.keys(kind):
                expected = c.status(key, kind, None, visible_rows(path, kind), 200)
                url = f"/api/v1/{path}/{c.w.pk(kind, key)}/follow"
                response = c.request(f"{method} follow {key}", method, url, expected)
                done = expected == 200 and response.status_code == 200
                if done and response.json()["following"] != (method == "POST"):
                    c.errors.append(f"{method} follow {key}: {response.json()}")

    return check


MATRIX: dict[tuple[str, str], Callable[[Check], None]] = {
    (method, f"/api/v1/{path}/{{id}}/follow"): _api(path, method) for path in KINDS for method in ("POST", "DELETE")
}

_PERSONAL = (
    "following is the user's own (like 最近查看): it writes no change-log entry and changes nothing on the "
    "record - tests/customers/test_follows.py::test_following_leaves_the_record_and_its_history_alone"
)
CHANGELOG_EXEMPT: dict[tuple[str, str], str] = dict.fromkeys(MATRIX, _PERSONAL)


def _ui(c: UiCheck) -> None:
    """The page's 关注 button (a plain POST: back to the record's page) for every account and contact."""
    from django.urls import reverse

    from tests.customers.platform_policies import customers_world

    customers_world(c.w)
    for path, kinds in KINDS.items():
        for kind in kinds:
            for key in c.w.keys(kind):
                expected = c.status(key, kind, None, visible_rows(path, kind), 302)
                url = reverse("ui:follow", args=[path, c.w.pk(kind, key)])
                c.request(f"follow {key}", "POST", url, expected, {"following": "1"})


UI_MATRIX: dict[str, Callable[[UiCheck], None]] = {"follow": _ui}
