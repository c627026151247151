"""Fixtures shared by the search tests: two sales reps who see only their own records."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import RoleFactory, UserFactory, grant


@pytest.fixture
def rep_role() -> Any:
    role = RoleFactory(name="Sales rep")
    grant(role, "*", scope="own")
    return role


@pytest.fixture
def rep(rep_role: Any) -> Any:
    return UserFactory(email="rep@example.com", role=rep_role)


@pytest.fixture
def other_rep(rep_role: Any) -> Any:
    return UserFactory(email="rep2@example.com", role=rep_role)
