"""The customer tests' people and record builders: notifications are told of accounts and contacts."""

from tests.customers.conftest import (  # noqa: F401 - fixtures
    admin,
    api_for,
    english,
    make_account,
    make_contact,
    make_user,
    other_rep,
    rep,
    sales_role,
    team_east,
    team_south,
)
