"""Showing a masked field in full (号码脱敏) in the platform's walks (loaded by ``platform_policies``).

Written out from the rule: anyone who may see an account or a contact may ask; the walks' roles mask
no field, so each answer is a refusal that names the field (400) for a record one sees and 404 for
one out of reach or in the recycle bin, and writes nothing. What a masked field gives, and the day's
allowance, are in tests/customers/test_masking.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from tests.customers.policies_follows import KINDS, visible_rows

if TYPE_CHECKING:  # pragma: no cover
    from tests.api.test_permission_matrix import Check
    from tests.ui_matrix.test_ui_permission_matrix import UiCheck

FIELD = {"accounts": "name", "contacts": "phones"}


def _api(path: str) -> Callable[[Check], None]:
    def check(c: Check) -> None:
        from tests.customers.platform_policies import customers_world

        customers_world(c.w)
        for kind in KINDS[path]:
            for key in c.w.keys(kind):
                expected = c.status(key, kind, None, visible_rows(path, kind), 400)
                url = f"/api/v1/{path}/{c.w.pk(kind, key)}/reveal"
                c.request(f"reveal {key}", "POST", url, expected, {"field": FIELD[path]})

    return check


MATRIX: dict[tuple[str, str], Callable[[Check], None]] = {
    ("POST", f"/api/v1/{path}/{{id}}/reveal"): _api(path) for path in KINDS
}
CHANGELOG_EXEMPT: dict[tuple[str, str], str] = dict.fromkeys(
    MATRIX,
    "no walk's role masks a field, so every request is refused and writes nothing; a view in full is "
    "logged - tests/customers/test_masking.py::test_show_gives_the_number_in_full_and_writes_who_saw_it",
)


def _ui(path: str) -> Callable[[UiCheck], None]:
    def check(c: UiCheck) -> None:
        from django.urls import reverse

        from tests.customers.platform_policies import customers_world

        customers_world(c.w)
        for kind in KINDS[path]:
            for key in c.w.keys(kind):
                expected = c.status(key, kind, None, visible_rows(path, kind), 400)
                url = reverse(f"ui:{path}-reveal", args=[c.w.pk(kind, key), FIELD[path]])
                c.request(f"reveal {key}", "POST", url, expected, {})

    return check


UI_MATRIX: dict[str, Callable[[UiCheck], None]] = {f"{path}-reveal": _ui(path) for path in KINDS}
