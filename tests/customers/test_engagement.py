"""Engagement (互动): follow-ups with a company and its people in the last 90 days, for tiers and lists."""

from __future__ import annotations

import datetime
import io
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from guanxi.core.models import ChangeLogEntry, Note
from guanxi.customers import services
from guanxi.customers.models import Account, Contact, CustomerProfile, TierRule
from guanxi.identity.models import User
from tests.customers.conftest import Api

pytestmark = pytest.mark.django_db


def _note(api: Api, record: Account | Contact, body: str = "电话沟通了报价") -> int:
    ct = ContentType.objects.get_for_model(type(record), for_concrete_model=False).pk
    response = api.post("notes", {"content_type": ct, "object_id": record.pk, "body": body})
    assert response.status_code == 201, response.json_body
    return int(response.json_body["id"])


def _engagement(account: Account) -> tuple[int, Any]:
    fresh = Account.objects.get(pk=account.pk)
    return fresh.engagement, fresh.last_interaction_at


@pytest.fixture
def companies(
    make_account: Callable[..., Account], make_contact: Callable[..., Contact]
) -> tuple[Account, Account, Contact]:
    """Two companies and a person who works with both."""
    acme = make_account(name="艾克米")
    beta = make_account(name="贝塔")
    person = make_contact(
        family_name="王", given_name="五", accounts=[{"account": acme.pk, "is_primary": True}, {"account": beta.pk}]
    )
    return acme, beta, person


def test_follow_ups_on_the_company_and_its_people_count_at_once(
    admin_api: Api, companies: tuple[Account, Account, Contact]
) -> None:
    acme, beta, person = companies
    version, updated = acme.version, Account.objects.get(pk=acme.pk).updated_at
    assert _engagement(acme) == (0, None)

    _note(admin_api, acme)
    count, last = _engagement(acme)
    assert count == 1 and last is not None
    # A note on the person counts for both companies they are linked to.
    _note(admin_api, person)
    assert _engagement(acme)[0] == 2 and _engagement(beta)[0] == 1
    # A derived figure: no new version, no change-log entry, "last updated" untouched.
    fresh = Account.objects.get(pk=acme.pk)
    assert (fresh.version, fresh.updated_at) == (version, updated)
    assert not ChangeLogEntry.objects.filter(content_type__model="account", object_id=acme.pk, action="update").exists()
    # The API shows both figures and lists can filter and sort by them.
    body = admin_api.get(f"accounts/{acme.pk}").json_body
    assert body["engagement"] == 2 and body["last_interaction_at"]
    names = [row["name"] for row in admin_api.get("accounts?ordering=-engagement").json_body["items"]]
    assert names[:2] == ["艾克米", "贝塔"]
    never = admin_api.get("accounts?last_interaction_at__isnull=true").json_body["items"]
    assert {row["name"] for row in never}.isdisjoint({"艾克米", "贝塔"})
    busy = admin_api.get("accounts?engagement__gte=2").json_body["items"]
    assert [row["name"] for row in busy] == ["艾克米"]


def test_deleted_and_restored_notes_count_at_once_and_the_nightly_count_drops_the_old(
    admin_api: Api, companies: tuple[Account, Account, Contact]
) -> None:
    acme, beta, person = companies
    old = _note(admin_api, acme, "去年的拜访")
    _note(admin_api, acme, "本周的电话")
    gone = _note(admin_api, person, "记错了")
    assert _engagement(acme)[0] == 3 and _engagement(beta)[0] == 1
    # A deleted note stops counting at once (for both of the person's companies).
    assert admin_api.delete(f"notes/{gone}").status_code == 204
    assert _engagement(acme)[0] == 2 and _engagement(beta) == (0, None)
    # Restored from the recycle bin, it counts again; deleted again, it goes.
    assert admin_api.post(f"recycle-bin/core.note/{gone}/restore").status_code == 200
    assert _engagement(acme)[0] == 3 and _engagement(beta)[0] == 1
    assert admin_api.delete(f"notes/{gone}").status_code == 204
    long_ago = timezone.now() - datetime.timedelta(days=120)
    Note.objects.filter(pk=old).update(created_at=long_ago)

    out = io.StringIO()
    call_command("classify", stdout=out)
    assert "Engagement: 1 of" in out.getvalue()
    count, last = _engagement(acme)
    assert count == 1 and last > long_ago  # the latest is this week's call
    assert _engagement(beta) == (0, None)
    # Outside the window, a note still says when the company was last followed up.
    Note.objects.filter(content_type__model="account", object_id=acme.pk).update(created_at=long_ago)
    services.account_engagement_recompute(account_ids=[acme.pk])
    assert _engagement(acme) == (0, long_ago)


def test_tier_rules_and_profiles_can_ask_for_engagement(
    admin_api: Api, make_account: Callable[..., Account], django_capture_on_commit_callbacks: Any
) -> None:
    TierRule.objects.create(name="活跃", position=1, tier="A", conditions={"min_engagement": 2})
    TierRule.objects.create(name="沉睡", position=2, tier="D", conditions={"max_engagement": 0})
    profile = admin_api.post(
        "customer-profiles",
        {"name": "常联系", "criteria": {"min_engagement": 2}, "weights": {"engagement": 10}},
    )
    assert profile.status_code == 201, profile.json_body
    with django_capture_on_commit_callbacks(execute=True):
        account = make_account(name="回头客")
    assert Account.objects.get(pk=account.pk).tier == "D"
    for body in ("第一次回访", "第二次回访"):
        with django_capture_on_commit_callbacks(execute=True):
            _note(admin_api, account, body)
    fresh = Account.objects.get(pk=account.pk)
    assert fresh.tier == "A"
    assert fresh.tier_reason == "Rule “活跃” → Tier A: 2 interactions in 90 days, within at least 2."
    assert fresh.fit_score == 100 and fresh.fit_profile == CustomerProfile.objects.get(name="常联系")
    assert fresh.fit_explanation[0]["criterion"] == "engagement"
    assert TierRule.objects.get(name="活跃").get_conditions_display() == "Interactions in 90 days: at least 2"


def test_engagement_criteria_are_validated_naming_the_field(admin_api: Api) -> None:
    def errors(conditions: dict[str, Any]) -> dict[str, str]:
        response = admin_api.post("tier-rules", {"name": "坏", "tier": "A", "conditions": conditions})
        assert response.status_code == 400
        return {e["field"]: e["detail"] for e in response.json_body["errors"]}

    whole = "Send a whole number of interactions, e.g. 3."
    assert errors({"min_engagement": -1}) == {"conditions.min_engagement": whole}
    assert errors({"max_engagement": "三"}) == {"conditions.max_engagement": whole}
    assert errors({"min_engagement": 5, "max_engagement": 2}) == {
        "conditions.max_engagement": "The maximum is below the minimum."
    }
    assert not TierRule.objects.filter(name="坏").exists()


def test_the_rule_form_has_inputs_for_engagement(admin: User) -> None:
    client = Client()
    client.force_login(admin)
    page = client.get("/settings/tier-rules/add/").content.decode()
    assert 'name="conditions_min_engagement"' in page and 'inputmode="numeric"' in page
    form = {"name": "活跃客户", "tier": "B", "position": "3", "conditions_min_engagement": "4"}
    response = client.post("/settings/tier-rules/add/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    rule = TierRule.objects.get(name="活跃客户")
    assert rule.conditions == {"min_engagement": 4}
    assert 'value="4"' in client.get(f"/settings/tier-rules/{rule.pk}/edit/").content.decode()
    bad = client.post("/settings/tier-rules/add/", {**form, "name": "负数", "conditions_min_engagement": "-2"})
    assert bad.status_code == 400 and not TierRule.objects.filter(name="负数").exists()
    # The criteria's errors show under the whole editor, so each names its input.
    assert "Interactions in the last 90 days at least: enter a whole number, 0 or more." in bad.content.decode()


def test_the_account_page_says_how_engaged_the_company_is(
    admin: User, admin_api: Api, companies: tuple[Account, Account, Contact]
) -> None:
    acme = companies[0]
    _note(admin_api, acme)
    client = Client()
    client.force_login(admin)
    page = client.get(f"/customers/accounts/{acme.pk}/").content.decode()
    assert "Interactions (90 days)" in page and "Last interaction" in page


def test_links_and_merges_move_follow_ups_between_companies(
    admin: User, admin_api: Api, companies: tuple[Account, Account, Contact], make_account: Callable[..., Account]
) -> None:
    acme, beta, person = companies
    gamma = make_account(name="伽马")
    _note(admin_api, person, "约了下周拜访")
    assert [_engagement(a)[0] for a in (acme, beta, gamma)] == [1, 1, 0]
    # The person joins a third company and leaves the second: their follow-up goes along.
    assert admin_api.post(f"contacts/{person.pk}/accounts", {"account": gamma.pk}).status_code == 201
    assert admin_api.delete(f"contacts/{person.pk}/accounts/{beta.pk}").status_code == 204
    assert [_engagement(a)[0] for a in (acme, beta, gamma)] == [1, 0, 1]
    # Merging a duplicate company brings its notes and people, and the count with them; undo takes it back.
    _note(admin_api, gamma, "伽马的跟进")
    merge = services.account_merge(survivor=acme.pk, others=[gamma.pk], user=admin)
    assert _engagement(acme)[0] == 2  # its own person's note, and gamma's note (the same person's links merged)
    services.merge_undo(merge_id=merge.pk, user=admin)
    assert [_engagement(a)[0] for a in (acme, gamma)] == [1, 2]


def test_each_person_keeps_their_latest_follow_up(
    admin: User,
    admin_api: Api,
    companies: tuple[Account, Account, Contact],
    make_contact: Callable[..., Contact],
) -> None:
    """A contact's 最近互动: notes on the person (not on their company) move it at once; deleted,
    restored and merged notes too; lists show it and filter by it."""
    acme, _beta, person = companies
    twin = make_contact(family_name="王", given_name="五", emails=["wang5@example.com"])

    def last(contact: Contact) -> Any:
        return Contact.all_objects.get(pk=contact.pk).last_interaction_at

    version = Contact.objects.get(pk=person.pk).version
    _note(admin_api, acme)  # the company's note is not the person's
    assert last(person) is None
    first = _note(admin_api, person, "第一次电话")
    at = last(person)
    assert at is not None and Contact.objects.get(pk=person.pk).version == version  # derived: no new version
    assert admin_api.get(f"contacts/{person.pk}").json_body["last_interaction_at"]
    # Followed up lately / never: both filters, through the API and the list page.
    since = (at - datetime.timedelta(minutes=1)).isoformat().replace("+", "%2B")
    recent = admin_api.get(f"contacts?last_interaction_at__gte={since}").json_body["items"]
    assert [row["id"] for row in recent] == [person.pk]
    never = admin_api.get("contacts?last_interaction_at__isnull=true").json_body["items"]
    assert [row["id"] for row in never] == [twin.pk]
    client = Client()
    client.force_login(admin)
    page = client.get("/customers/contacts/").content.decode()
    assert "Last interaction" in page
    # The company's page says whom there someone followed up, and when.
    page = client.get(f"/customers/accounts/{acme.pk}/").content.decode()
    assert f"Last interaction {timezone.localtime(at):%Y-%m-%d}" in page and page.count("data-last-interaction") == 1
    # Deleted, the note no longer counts; restored, it does again.
    assert admin_api.delete(f"notes/{first}").status_code == 204
    assert last(person) is None
    assert admin_api.post(f"recycle-bin/core.note/{first}/restore").status_code == 200
    assert last(person) == at
    # The twin's note goes to the person with a merge, and back with the undo.
    _note(admin_api, twin, "微信聊过")
    twin_at = last(twin)
    merge = services.contact_merge(survivor=person.pk, others=[twin.pk], user=admin)
    assert last(person) == twin_at and last(twin) is None
    services.merge_undo(merge_id=merge.pk, user=admin)
    assert (last(person), last(twin)) == (at, twin_at)
