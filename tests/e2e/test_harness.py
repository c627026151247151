"""Smoke test of the e2e harness itself: the server answers, Chromium renders, screenshots are written,
and the API's own documentation page works offline under the site's Content Security Policy."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.e2e


def test_api_docs(page: Any, shot: Any, accounts: Any, browser_errors: Any) -> None:
    response = page.goto("/api/v1/openapi.json")
    assert response is not None and response.ok
    assert page.evaluate("() => JSON.parse(document.body.innerText).info.title") == "Guanxi API"
    shot("openapi-json", full_page=False)  # the whole spec is a very tall page

    response = page.goto("/api/v1/docs")
    assert response is not None and response.ok, f"/api/v1/docs answered {response and response.status}"
    # Swagger UI must come from our own static files (no CDN at run time, nothing the CSP blocks)
    # and really render.
    page.wait_for_load_state("load")
    browser_errors.check("api-docs")
    page.get_by_role("heading", name="Guanxi API").wait_for()
    shot("api-docs")

    # The seeded TOTP key gives a six-digit code.
    code = accounts["admin"].totp()
    assert len(code) == 6 and code.isdigit()
