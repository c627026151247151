"""The customer pages in the UI permission matrix: the rows of ``platform_policies.UI_MATRIX``, run with the
platform's ``UiCheck`` against the same hand-written policy as the API matrix.

``tests/ui_matrix/test_ui_permission_matrix.py`` keeps the customer pages in ``UI_EXEMPT`` and has no
hook for contributed rows yet; this module runs them meanwhile (see the note in platform_policies).
"""

from __future__ import annotations

import pytest

from tests.api.world import World
from tests.conftest import matrix_principals
from tests.customers.platform_policies import UI_MATRIX
from tests.ui_matrix.test_ui_permission_matrix import UI_PRINCIPALS, UiCheck, ui_url_names

CUSTOMER_PAGES = (
    "accounts-",
    "contacts-",
    "tier-rules-",
    "customer-profiles-",
    "assignment-rules-",
    "pool-rules-",
    "pool-reasons-",
    "pool-statistics",
    "duplicates-",
    "merges-",
    "follow",
)


def test_every_customer_page_has_a_policy() -> None:
    pages = {name for name in ui_url_names() if name.startswith(CUSTOMER_PAGES)}
    assert pages, "the customer pages are not registered"
    assert pages == set(UI_MATRIX), (sorted(pages - set(UI_MATRIX)), sorted(set(UI_MATRIX) - pages))


@pytest.mark.parametrize("who", matrix_principals(UI_PRINCIPALS))
@pytest.mark.parametrize("name", sorted(UI_MATRIX))
def test_customer_ui_permission_matrix(name: str, who: str, world: World) -> None:
    check = UiCheck(world, who)
    UI_MATRIX[name](check)
    check.done()
