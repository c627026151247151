"""Masked fields (号码脱敏): a role that sees a contact's phones as +86 138 **** 8000, on every page and
in the API, and in full one logged request at a time, at most ``GUANXI_REVEALS_PER_DAY`` a day."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.urls import reverse

from guanxi.core.choices import ChangeAction
from guanxi.core.masking import mask, mask_email, mask_phone, masked_value
from guanxi.core.models import ChangeLogEntry, RevealCount
from guanxi.customers import services
from guanxi.customers.models import Contact
from guanxi.identity.models import Role, User
from tests.factories import client_for, field_rule

pytestmark = pytest.mark.django_db

FULL = ("13800138000", "0013 8000", "138 0013", "zhang.san@")


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("+8613800138000", "+86 138 **** 8000"),  # as stored: grouped first, the country code kept
        ("+86 138 0013 8000", "+86 138 **** 8000"),
        ("+1 415-555-0100", "+1 415-****-0100"),
        ("010 8888 1234", "010 **** 1234"),
        ("12345", "****45"),
        ("zhang.san@acme.com", "zh****@acme.com"),
        ("ab@x.cn", "a****@x.cn"),
        ("wxid_zhangsan", "w****n"),
        ("张三", "****"),
    ],
)
def test_a_value_masked_keeps_what_tells_it_apart(value: str, masked: str) -> None:
    assert mask(value) == masked


def test_stored_points_are_masked_each_without_their_extension() -> None:
    points = [{"value": "+8613800138000", "extension": "801", "label": "work", "is_primary": True}]
    assert masked_value(points) == [{"label": "work", "is_primary": True, "value": "+86 138 **** 8000", "masked": True}]
    assert masked_value(None) is None and masked_value([]) == [] and masked_value(42) == "****"
    assert mask_phone("+86 21 5555 0101").endswith("0101") and mask_email("plain") == "p****n"


@pytest.fixture
def masked_rep(rep: User, sales_role: Role) -> User:
    field_rule(sales_role, "customers.contact", "phones", "masked")
    field_rule(sales_role, "customers.contact", "emails", "masked")
    return rep


@pytest.fixture
def zhang(masked_rep: User) -> Contact:
    return services.contact_create(
        user=masked_rep,
        data={"family_name": "张", "given_name": "三", "title": "采购经理"},
        emails=[{"value": "zhang.san@acme.com"}],
        phones=[{"value": "13800138000"}, {"value": "13900139000"}],
    )


def _no_full_value(html: str) -> None:
    assert not [text for text in FULL if text in html], [text for text in FULL if text in html]


def test_the_list_and_the_page_show_the_numbers_masked(masked_rep: User, zhang: Contact) -> None:
    browser = client_for(masked_rep)
    listing = browser.get("/customers/contacts/?columns=display_name,phones,emails,title").content.decode()
    assert "+86 138 **** 8000" in listing and "zh****@acme.com" in listing and "采购经理" in listing
    _no_full_value(listing)
    page = browser.get(f"/customers/contacts/{zhang.pk}/").content.decode()
    assert "+86 138 **** 8000" in page and "+86 139 **** 9000" in page and "tel:" not in page
    assert f'hx-post="/customers/contacts/{zhang.pk}/reveal/phones/"' in page
    _no_full_value(page)
    # Not a way round: no sort or filter by a masked field (an order or a match tells digits apart).
    assert "ordering=phones" not in listing
    refused = browser.get("/customers/contacts/?phone__endswith=9999").content.decode()
    assert "+86 138 **** 8000" in refused  # the filter dropped (it would match no one), the list whole
    assert browser.get("/api/v1/contacts?phone__endswith=9999").status_code == 400


def test_show_gives_the_number_in_full_and_writes_who_saw_it(masked_rep: User, zhang: Contact) -> None:
    browser = client_for(masked_rep)
    response = browser.post(f"/customers/contacts/{zhang.pk}/reveal/phones/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'href="tel:+8613800138000"' in html and 'data-revealed="phones"' in html
    (entry,) = ChangeLogEntry.objects.filter(action=ChangeAction.REVEAL)
    assert entry.actor_id == masked_rep.pk and entry.object_id == zhang.pk
    assert entry.changes == {"phones": [None, None]}  # which field, never its value
    page = browser.get(f"/customers/contacts/{zhang.pk}/").content.decode()
    history = page.split('id="panel-changes"')[1]
    assert "Viewed in full" in history and "data-revealed-fields" in history
    _no_full_value(page)  # seen once, masked again on the next visit


def test_a_day_allows_so_many_views_in_full(masked_rep: User, zhang: Contact, settings: Any) -> None:
    settings.GUANXI_REVEALS_PER_DAY = 2
    browser = client_for(masked_rep)
    url = f"/customers/contacts/{zhang.pk}/reveal/"
    for field in ("phones", "emails"):
        assert "data-revealed" in browser.post(url + f"{field}/", HTTP_HX_REQUEST="true").content.decode()
    refused = browser.post(url + "phones/", HTTP_HX_REQUEST="true").content.decode()
    assert "data-reveal-refused" in refused and "2" in refused and "tel:" not in refused
    assert browser.post(url + "phones/").status_code == 403  # without htmx: a plain refusal
    assert ChangeLogEntry.objects.filter(action=ChangeAction.REVEAL).count() == 2
    (day,) = RevealCount.objects.all()  # one row a user a day: the change log keeps no index for it
    assert (day.user_id, day.count) == (masked_rep.pk, 2)


def test_only_a_masked_field_of_a_record_one_may_see(
    masked_rep: User, other_rep: User, zhang: Contact, admin: User
) -> None:
    browser = client_for(masked_rep)
    title = browser.post(f"/customers/contacts/{zhang.pk}/reveal/title/", HTTP_HX_REQUEST="true")
    assert "data-reveal-refused" in title.content.decode()  # not masked: nothing to show
    theirs = services.contact_create(user=other_rep, data={"family_name": "韩"}, phones=[{"value": "13700137000"}])
    assert browser.post(f"/customers/contacts/{theirs.pk}/reveal/phones/").status_code == 404
    # A hidden field stays hidden: it is not masked.
    field_rule(masked_rep.role, "customers.contact", "phones", "hidden")
    hidden = browser.post(f"/customers/contacts/{zhang.pk}/reveal/phones/", HTTP_HX_REQUEST="true")
    assert "data-reveal-refused" in hidden.content.decode() and "tel:" not in hidden.content.decode()
    assert not ChangeLogEntry.objects.filter(action=ChangeAction.REVEAL).exists()
    # The administrator, who has no rule, sees every number and has nothing to reveal.
    page = client_for(admin).get(f"/customers/contacts/{zhang.pk}/").content.decode()
    assert 'href="tel:+8613800138000"' in page and "/reveal/" not in page


def test_the_api_gives_the_numbers_masked_and_in_full_on_request(masked_rep: User, zhang: Contact) -> None:
    api = client_for(masked_rep)
    one = api.get(f"/api/v1/contacts/{zhang.pk}").json()
    assert one["phones"][0]["value"] == "+86 138 **** 8000" and one["phones"][0]["masked"] is True
    assert one["emails"][0]["value"] == "zh****@acme.com" and one["title"] == "采购经理"
    listed = api.get("/api/v1/contacts").json()["items"]
    assert [item["phones"] for item in listed] == [one["phones"]]
    _no_full_value(json.dumps([one, listed], ensure_ascii=False))
    response = api.post(
        f"/api/v1/contacts/{zhang.pk}/reveal", data=json.dumps({"field": "phones"}), content_type="application/json"
    )
    assert response.status_code == 200
    assert [point["value"] for point in response.json()["value"]] == ["+8613800138000", "+8613900139000"]
    refused = api.post(
        f"/api/v1/contacts/{zhang.pk}/reveal", data=json.dumps({"field": "title"}), content_type="application/json"
    )
    assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == "field"
    # Masked is read-only: a change would need the number in full.
    patch = api.patch(
        f"/api/v1/contacts/{zhang.pk}",
        data=json.dumps({"phones": [{"value": "13600136000"}]}),
        content_type="application/json",
    )
    assert patch.status_code in (400, 403)
    zhang.refresh_from_db()
    assert zhang.phones[0]["value"] == "+8613800138000"


@pytest.mark.parametrize("narrow", [True, False], ids=["among-own", "whole-index"])
def test_search_finds_the_person_and_shows_the_number_masked(
    masked_rep: User, zhang: Contact, narrow: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both plans: among the few records the rep sees, and through the whole index (a rep who sees
    more than ``NARROW_SCOPE``)."""
    from guanxi.core.search import engine

    if not narrow:
        monkeypatch.setattr(engine, "NARROW_SCOPE", 0)
    hits = client_for(masked_rep).get("/api/v1/search?q=zhangsan").json()["items"]
    (hit,) = [hit for hit in hits if hit["type"] == "contacts"]
    assert "+86 138 **** 8000" in hit["subtitle"]
    # The number a customer rang from finds them, as typed or in E.164; a part of it finds no one
    # (the digits could be read off one by one). So does an email, whole.
    for whole in ("13800138000", "138 0013 8000", "+8613800138000", "13900139000", "zhang.san@acme.com"):
        found = client_for(masked_rep).get("/api/v1/search", {"q": whole}).json()["items"]
        assert [hit["id"] for hit in found if hit["type"] == "contacts"] == [zhang.pk], whole
    for part in ("8000", "0013 8000", "1380013", "138001380", "san@acme.com", "@acme.com", "acme.com"):
        found = client_for(masked_rep).get("/api/v1/search", {"q": part}).json()["items"]
        assert not [hit for hit in found if hit["type"] == "contacts"], part


def test_an_export_leaves_a_masked_field_out(masked_rep: User, zhang: Contact) -> None:
    from guanxi.core.exports import available_columns
    from guanxi.core.registry import resource_at

    names = [column.name for column in available_columns(resource_at("contacts"), masked_rep)]
    assert "phones" not in names and "emails" not in names and "title" in names


def test_a_role_takes_a_masked_rule(admin: User, sales_role: Role) -> None:
    from guanxi.identity.services import role_permissions_set

    role_permissions_set(
        role_id=sales_role.pk,
        user=admin,
        permissions=[],
        field_rules=[{"object_type": "customers.contact", "field": "phones", "access": "masked"}],
    )
    assert sales_role.field_rules.get().access == "masked"
    page = client_for(admin).get(reverse("ui:roles-detail", args=[sales_role.pk])).content.decode()
    assert 'value="masked"' in page  # the role's page offers the choice


def test_a_new_persons_numbers_may_be_typed_but_not_changed_after(masked_rep: User, zhang: Contact) -> None:
    """Masked is read-only, except on a new record: the rep typed the number, so knows it."""
    browser = client_for(masked_rep)
    adding = browser.get("/customers/contacts/add/").content.decode()
    assert 'name="phones"' in adding and 'name="emails"' in adding
    response = browser.post(
        "/customers/contacts/add/", {"family_name": "王", "given_name": "五", "phones": "13500135000"}
    )
    assert response.status_code == 302
    added = Contact.objects.get(family_name="王")
    assert added.phones[0]["value"] == "+8613500135000"
    editing = browser.get(f"/customers/contacts/{zhang.pk}/edit/").content.decode()
    assert 'name="phones"' not in editing and 'name="emails"' not in editing
    _no_full_value(editing)
    edited = browser.post(
        f"/customers/contacts/{zhang.pk}/edit/",
        {"family_name": "张", "given_name": "三", "title": "总监", "version": zhang.version},
    )
    assert edited.status_code == 302
    zhang.refresh_from_db()
    assert zhang.title == "总监" and zhang.phones[0]["value"] == "+8613800138000"  # the numbers kept


@pytest.fixture
def lookups(settings: Any) -> Any:
    """Three whole-value lookups an hour, counted in a clean cache (counters outlive a test's rollback)."""
    from django.core.cache import cache

    settings.GUANXI_MASKED_LOOKUPS_PER_HOUR = 3
    cache.clear()
    yield
    cache.clear()


def _contacts_found(client: Any, q: str) -> tuple[list[int], Any]:
    body = client.get("/api/v1/search", {"q": q}).json()
    return [hit["id"] for hit in body["items"] if hit["type"] == "contacts"], body


def test_whole_number_lookups_have_an_hourly_allowance(
    masked_rep: User, zhang: Contact, lookups: None, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Someone who sees +86 138 **** 8000 could try the 10,000 middles one search at a time."""
    from guanxi.core.search import lookups as allowance

    api = client_for(masked_rep)
    for whole in ("13800138000", "13900139000", "zhang.san@acme.com"):
        found, body = _contacts_found(api, whole)
        assert found == [zhang.pk] and body["notice"] is None and body["masked_search_resumes_at"] is None
    assert _contacts_found(api, "zhangsan")[0] == [zhang.pk]  # a name is no lookup of a number
    with caplog.at_level("WARNING", logger="guanxi.security"):
        found, body = _contacts_found(api, "13800138000")
        assert found == [] and "this hour" in body["notice"]
        assert body["masked_search_resumes_at"].endswith(":00:00+00:00")  # when the clock hour ends
        assert _contacts_found(api, "zhang.san@acme.com")[0] == []
    assert _contacts_found(api, "zhangsan")[0] == [zhang.pk]  # names are still searched
    # The search page, its suggestions and a list's search box are held to it too.
    page = api.get("/search/", {"q": "13800138000"}).content.decode()
    assert 'data-search-notice="masked-lookups"' in page and "this hour" in page and f'data-id="{zhang.pk}"' not in page
    suggested = api.get("/search/suggest/", {"q": "13800138000"}).content.decode()
    assert 'data-search-notice="masked-lookups"' in suggested
    assert api.get("/api/v1/contacts", {"search": "13800138000"}).json()["items"] == []
    # The moment the allowance ran out is in the security log, once.
    used_up = [r for r in caplog.records if r.name == "guanxi.security" and "masked lookups" in r.getMessage()]
    assert len(used_up) == 1 and str(masked_rep.pk) in used_up[0].getMessage()
    # The next hour brings it back.
    monkeypatch.setattr(allowance, "_now", lambda: allowance.time.time() + allowance.HOUR)
    found, body = _contacts_found(api, "13800138000")
    assert found == [zhang.pk] and body["notice"] is None


def test_the_allowance_is_each_readers_own_and_only_theirs_who_see_numbers_masked(
    masked_rep: User, other_rep: User, zhang: Contact, admin: User, lookups: None
) -> None:
    api = client_for(masked_rep)
    for _ in range(4):
        _contacts_found(api, "13800138000")
    assert _contacts_found(api, "13800138000")[0] == []
    theirs = services.contact_create(user=other_rep, data={"family_name": "韩"}, phones=[{"value": "13700137000"}])
    assert _contacts_found(client_for(other_rep), "13700137000")[0] == [theirs.pk]  # their own count
    administrator = client_for(admin)  # sees every number: never counted
    for _ in range(5):
        found, body = _contacts_found(administrator, "13800138000")
        assert found == [zhang.pk] and body["notice"] is None


def test_old_daily_counts_of_values_seen_in_full_are_purged(masked_rep: User) -> None:
    import datetime
    from io import StringIO

    from django.core.management import call_command
    from django.utils import timezone

    from guanxi.core.tasks import recycle_bin_purge_task

    today = timezone.localdate()
    for days in (200, 91, 90, 10, 0):
        RevealCount.objects.create(user=masked_rep, day=today - datetime.timedelta(days=days), count=3)
    out = StringIO()
    call_command("purge_recycle_bin", stdout=out)
    assert "Deleted 2 daily count(s)" in out.getvalue()
    kept = sorted((today - day).days for day in RevealCount.objects.values_list("day", flat=True))
    assert kept == [0, 10, 90]
    RevealCount.objects.filter(day=today - datetime.timedelta(days=10)).update(day=today - datetime.timedelta(days=95))
    recycle_bin_purge_task.enqueue()  # the same daily job as a task
    assert sorted((today - day).days for day in RevealCount.objects.values_list("day", flat=True)) == [0, 90]
