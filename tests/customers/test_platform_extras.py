"""What the platform walks (tests/customers/platform_policies.py) leave out on purpose, checked here:
the recompute routes (which queue a job instead of writing), and a contact written with its account
links in one request."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from guanxi.core.models import ChangeLogEntry
from guanxi.customers.models import Account, Contact, CustomerProfile, TierRule
from guanxi.identity.models import User
from tests.customers.conftest import Api

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("route", ["tier-rules/recompute", "customer-profiles/recompute"])
def test_recompute_routes_log_as_jobs(
    route: str,
    admin: User,
    admin_api: Api,
    make_account: Callable[..., Account],
    django_capture_on_commit_callbacks: Any,
) -> None:
    account = make_account(name="华南示例", annual_revenue=50_000_000, employee_count=300)
    # Rules and a profile written without their own recompute (no commit in this test's transaction).
    TierRule.objects.create(name="B", tier="B", conditions={"min_annual_revenue": "10000000"})
    CustomerProfile.objects.create(name="ICP", criteria={"sizes": ["large"]})
    ChangeLogEntry.objects.all().delete()

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_api.post(route)
    assert response.status_code == 202 and response.json_body == {"status": "queued"}

    # The request itself logs nothing; the job logs the account's change as "job", without an actor.
    assert not ChangeLogEntry.objects.filter(request_id=response["X-Request-ID"]).exists()
    entry = ChangeLogEntry.objects.get(object_id=account.pk, content_type__model="account")
    assert (entry.source, entry.actor_id, entry.action) == ("job", None, "update")
    field = "tier" if route.startswith("tier") else "fit_score"
    assert field in entry.changes


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_contact_write_with_links_is_one_change_log_entry(
    method: str, admin_api: Api, make_account: Callable[..., Account], make_contact: Callable[..., Contact]
) -> None:
    account = make_account(name="杭州示例")
    body = {"family_name": "王", "accounts": [{"account": account.pk, "role": "CTO"}]}
    if method == "POST":
        response = admin_api.post("contacts", body)
        pk = response.json_body["id"]
    else:
        pk = make_contact().pk
        response = admin_api.patch(f"contacts/{pk}", body)
    assert response.status_code in (200, 201)
    entries = ChangeLogEntry.objects.filter(
        request_id=response["X-Request-ID"], content_type__model="contact", object_id=pk
    )
    assert entries.count() == 1, [(e.action, sorted(e.changes)) for e in entries]
    assert "accounts" in entries.get().changes
