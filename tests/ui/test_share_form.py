"""The share form on a record's page: fetched when "Share with…" is opened instead of rendered with
each view (its select of every active user doubled the account page's time and HTML at 1,000
users); people are now picked by typing."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from guanxi.identity.models import Share, User
from tests.factories import (
    AdminFactory,
    GadgetFactory,
    RoleFactory,
    TeamFactory,
    UserFactory,
    client_for,
    content_type_of,
    grant,
)

pytestmark = pytest.mark.django_db

GADGETS = "/sales/gadgets/"
HTMX = {"HX-Request": "true"}


def option_count(html: str) -> int:
    return len(re.findall(r"<option\b", html))


def test_the_record_page_costs_the_same_however_many_users() -> None:
    admin = AdminFactory()
    gadget = GadgetFactory(owner=admin)
    client = client_for(admin)
    url = f"{GADGETS}{gadget.pk}/"
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        small = client.get(url).content.decode()
    User.objects.bulk_create(User(email=f"u{i}@example.com", display_name=f"用户{i}") for i in range(200))
    with CaptureQueriesContext(connection) as many:
        large = client.get(url).content.decode()
    assert len(many) == len(few)
    assert option_count(large) == option_count(small)
    assert "用户7" not in large and 'id="share-open"' in large
    ct = content_type_of(gadget)
    assert f'hx-get="/records/{ct.pk}/{gadget.pk}/shares/"' in large


def test_opening_share_fetches_the_form_with_the_active_users_and_the_teams() -> None:
    admin = AdminFactory()
    gadget = GadgetFactory(owner=admin)
    active = UserFactory(display_name="李雷 Li Lei")
    UserFactory(display_name="韩梅梅 gone", is_active=False)
    team = TeamFactory(name="华南销售")
    ct = content_type_of(gadget)
    url = f"/records/{ct.pk}/{gadget.pk}/shares/"
    fragment = client_for(admin).get(url, headers=HTMX)
    html = fragment.content.decode()
    assert fragment.status_code == 200 and "<html" not in html
    assert f'<option value="{team.pk}">' in html and 'id="share-form"' in html
    # People are picked by typing (a company has hundreds), among the active ones.
    assert '<select name="user"' not in html and 'hx-get="/pick/users/"' in html
    found = client_for(admin).get("/pick/users/", {"q": "Li Lei"}).content.decode()
    assert f'data-id="{active.pk}"' in found
    assert "data-picker-option" not in client_for(admin).get("/pick/users/", {"q": "韩梅梅"}).content.decode()
    # Without JavaScript the link in the panel opens the same form on a page of its own.
    page = client_for(admin).get(url).content.decode()
    assert "<html" in page and 'id="share-form"' in page and f'href="{GADGETS}{gadget.pk}/"' in page
    # And the form posts as before.
    client_for(admin).post(url, {"user": active.pk, "access": "change"})
    assert Share.objects.filter(object_id=gadget.pk, user=active, access="change").exists()


def test_the_form_is_for_who_may_change_the_record() -> None:
    owner = UserFactory(role=RoleFactory(name="Rep"))
    grant(owner.role, "testapp.gadget", scope="own")
    viewer = UserFactory(role=RoleFactory(name="Viewer"))
    grant(viewer.role, "testapp.gadget", "view", scope="all")
    stranger = UserFactory(role=RoleFactory(name="Nobody"))
    gadget = GadgetFactory(owner=owner)
    url = f"/records/{content_type_of(gadget).pk}/{gadget.pk}/shares/"
    assert client_for(owner).get(url, headers=HTMX).status_code == 200
    assert client_for(viewer).get(url, headers=HTMX).status_code == 403
    assert client_for(stranger).get(url, headers=HTMX).status_code == 404
    assert 'id="share-open"' not in client_for(viewer).get(f"{GADGETS}{gadget.pk}/").content.decode()
    assert Client().get(url).status_code == 302


def test_a_type_that_cannot_be_shared_has_no_form() -> None:
    from django.contrib.contenttypes.models import ContentType

    admin = AdminFactory()
    ct = ContentType.objects.get_for_model(User)
    assert client_for(admin).get(f"/records/{ct.pk}/{admin.pk}/shares/").status_code == 404
    assert client_for(admin).get(f"/records/99999/{admin.pk}/shares/").status_code == 404
