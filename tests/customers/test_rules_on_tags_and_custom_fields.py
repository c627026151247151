"""A role's field rule on "tags" or "custom_fields" (the role form offers both beside the columns):
read-only, they stay as they are wherever a user may write them; hidden, they are neither shown nor
written nor filtered by. Before, the API and the services read neither rule."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from guanxi.api.crud import tag_names_for
from guanxi.core import bulk
from guanxi.core.errors import FieldErrors
from guanxi.core.registry import resource_at
from guanxi.customers import services
from guanxi.customers.models import Account
from guanxi.identity.models import FieldRule, User
from tests.customers.conftest import Api, field_errors
from tests.factories import CustomFieldFactory

pytestmark = pytest.mark.django_db


def _rule(user: User, access: str) -> None:
    FieldRule.objects.create(role=user.role, object_type="customers.account", field="tags", access=access)


@pytest.mark.parametrize("access", ["readonly", "hidden"])
def test_a_rule_on_tags_keeps_them_from_every_way_of_writing(
    access: str, rep: User, make_account: Callable[..., Account], api_for: Callable[[User], Api]
) -> None:
    account = make_account(by=rep, tags=["重点"])
    _rule(rep, access)
    rep = User.objects.get(pk=rep.pk)  # the role's rules as a new request reads them
    api = api_for(rep)
    response = api.patch(f"accounts/{account.pk}", {"tags": ["重点", "VIP"]})
    assert response.status_code == 400 and "tags" in field_errors(response)
    with pytest.raises(FieldErrors) as refused:
        services.account_create(user=rep, data={"name": "新公司"}, tags=["VIP"])
    assert list(refused.value.errors) == ["tags"]
    with pytest.raises(FieldErrors) as refused:
        bulk.bulk_start_or_run(
            resource=resource_at("accounts"), user=rep, action="tag_add", ids=[account.pk], tags=["VIP"]
        )
    assert list(refused.value.errors) == ["tags"]
    # The tags sent as they are (a form sends them all), and the other fields, still go through.
    services.account_update(user=rep, pk=account.pk, data={"industry": "software"}, tags=["重点"])
    assert api.patch(f"accounts/{account.pk}", {"industry": "retail"}).status_code == 200
    assert tag_names_for(Account, [account.pk])[account.pk] == ["重点"]
    # The list's bulk bar offers no tag actions.
    client = Client()
    client.force_login(rep)
    page = client.get("/customers/accounts/").content.decode()
    assert 'value="add_tags"' not in page and 'value="remove_tags"' not in page


def test_read_only_tags_read_and_show_disabled_on_the_form(
    rep: User, make_account: Callable[..., Account], api_for: Callable[[User], Api]
) -> None:
    account = make_account(by=rep, tags=["重点"])
    _rule(rep, "readonly")
    assert api_for(rep).get(f"accounts/{account.pk}").json_body["tags"] == ["重点"]
    client = Client()
    client.force_login(rep)
    page = client.get(f"/customers/accounts/{account.pk}/edit/")
    html = page.content.decode()
    assert 'name="tags"' in html and "disabled" in html.split('name="tags"')[1].split(">")[0]
    # The form sent back as the browser does: a disabled box sends nothing; the tags stay.
    form = page.context["form"]
    data = {name: form[name].value() for name in form.fields if name != "tags" and form[name].value() is not None}
    response = client.post(f"/customers/accounts/{account.pk}/edit/", {**data, "industry": "software"})
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.industry == "software"
    assert tag_names_for(Account, [account.pk])[account.pk] == ["重点"]


def test_hidden_tags_are_not_shown_nor_filtered_by(
    rep: User, make_account: Callable[..., Account], api_for: Callable[[User], Api]
) -> None:
    account = make_account(by=rep, tags=["秘密标签"])
    _rule(rep, "hidden")
    api = api_for(rep)
    assert "tags" not in api.get(f"accounts/{account.pk}").json_body
    assert all("tags" not in item for item in api.get("accounts").json_body["items"])
    assert api.get("accounts?tag=秘密标签").status_code == 400
    client = Client()
    client.force_login(rep)
    assert "秘密标签" not in client.get(f"/customers/accounts/{account.pk}/").content.decode()
    assert 'name="tags"' not in client.get(f"/customers/accounts/{account.pk}/edit/").content.decode()


@pytest.mark.parametrize("access", ["readonly", "hidden"])
def test_a_rule_on_custom_fields_keeps_them_the_same_way(
    access: str, rep: User, make_account: Callable[..., Account], api_for: Callable[[User], Api]
) -> None:
    CustomFieldFactory(object_type="customers.account", key="contract_no", field_type="text")
    account = services.account_create(user=rep, data={"name": "合同客户"}, custom_fields={"contract_no": "HT-001"})
    FieldRule.objects.create(role=rep.role, object_type="customers.account", field="custom_fields", access=access)
    rep = User.objects.get(pk=rep.pk)
    api = api_for(rep)
    response = api.patch(f"accounts/{account.pk}", {"custom_fields": {"contract_no": "HT-999"}})
    assert response.status_code == 400 and "custom_fields" in field_errors(response)
    with pytest.raises(FieldErrors):
        services.account_create(user=rep, data={"name": "新公司"}, custom_fields={"contract_no": "HT-002"})
    # Sent back as they are, or not at all, the record's other fields still change.
    services.account_update(
        user=rep, pk=account.pk, data={"industry": "software"}, custom_fields={"contract_no": "HT-001"}
    )
    assert api.patch(f"accounts/{account.pk}", {"industry": "retail"}).status_code == 200
    account.refresh_from_db()
    assert account.custom_fields == {"contract_no": "HT-001"}
    shown = api.get(f"accounts/{account.pk}").json_body
    listed = api.get("accounts").json_body["items"]
    if access == "hidden":
        assert "custom_fields" not in shown and all("custom_fields" not in item for item in listed)
        assert api.get("accounts?cf_contract_no=HT-001").status_code == 400
        client = Client()
        client.force_login(rep)
        assert "HT-001" not in client.get(f"/customers/accounts/{account.pk}/edit/").content.decode()
    else:
        assert shown["custom_fields"] == {"contract_no": "HT-001"}
