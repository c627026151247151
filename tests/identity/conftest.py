"""Fixtures of the sign-in tests: a clean cache (the throttle lives there), users with and without
an authenticator, and a helper that computes the current TOTP code with the real algorithm."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.factories import PASSWORD, UserFactory


@pytest.fixture(autouse=True)
def _clean_cache() -> Any:
    """Throttle counters are cache entries; one test's failures must not lock the next test out."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def user(db: None) -> Any:
    return UserFactory(email="li.lei@example.com", display_name="李雷")


@pytest.fixture
def totp_user(db: None) -> Any:
    """A user whose two-factor sign-in is on (a confirmed authenticator)."""
    person = UserFactory(email="han.meimei@example.com", display_name="韩梅梅")
    TOTPDevice.objects.create(user=person, name="phone", confirmed=True)
    return person


def totp_code(device: TOTPDevice, steps_ahead: int = 0) -> str:
    """The code an authenticator app shows now (RFC 6238 via django_otp.oath), or ``steps_ahead``
    steps later; a device refuses a code of a step it already accepted."""
    device.refresh_from_db()
    code = totp(device.bin_key, device.step, device.t0 - steps_ahead * device.step, device.digits, device.drift)
    return f"{code:0{device.digits}d}"
