"""撞单保护: adding a customer a colleague already has. Each role chooses whether Guanxi says whose it
is (``tell``, the default), also refuses to add it (``refuse``), or says nothing (``off``); by exact
name or 统一社会信用代码 for accounts, email or mobile number for contacts, on the form, the API's
check, the services (form and API alike) and an import's "create" policy."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from guanxi.core.errors import FieldErrors
from guanxi.core.services import record_delete
from guanxi.customers import services
from guanxi.customers.guard import held_elsewhere, is_personal_phone
from guanxi.customers.models import Account, Contact
from guanxi.identity.models import DuplicateGuard, Role, User
from tests.customers.conftest import Api, grant
from tests.customers.test_import import csv_bytes, job_client, read_errors, upload
from tests.factories import client_for

pytestmark = pytest.mark.django_db

NUMBER = "91350100M000100Y43"  # a valid 统一社会信用代码


def guard(role: Role, value: str) -> None:
    Role.objects.filter(pk=role.pk).update(duplicate_guard=value)


@pytest.fixture
def huaxin(other_rep: User) -> Account:
    return services.account_create(
        user=other_rep, data={"name": "华信科技有限公司", "registration_number": NUMBER, "owner_id": other_rep.pk}
    )


@pytest.fixture
def zhang(other_rep: User) -> Contact:
    return services.contact_create(
        user=other_rep,
        data={"family_name": "张", "given_name": "三", "owner_id": other_rep.pk},
        emails=["zhang.san@huaxin.cn"],
        phones=["13800138000", "021-62345678"],
    )


def test_a_role_tells_by_default(sales_role: Role) -> None:
    assert Role.objects.get(pk=sales_role.pk).duplicate_guard == DuplicateGuard.TELL


def test_the_check_says_whose_account_it_is_and_adding_goes_ahead(rep: User, huaxin: Account) -> None:
    body = Api(rep).get("duplicates/check?type=accounts&name=华信科技有限公司").json_body
    assert body["items"] == []  # the rep may not see it
    [held] = body["elsewhere"]
    assert held["display"] == "华信科技有限公司" and held["owner"] == "韩梅梅"
    assert not held["refused"] and not held["pooled"]
    assert "韩梅梅" in held["message"] and held["reasons"] == ["same name"]
    # Nothing more of it: no id, no link, no other field.
    assert set(held) == {"display", "owner", "pooled", "reasons", "message", "refused"}
    services.account_create(user=rep, data={"name": "华信科技有限公司"})
    assert Account.objects.filter(name="华信科技有限公司").count() == 2


def test_a_refusing_role_may_not_add_a_colleagues_account(rep: User, sales_role: Role, huaxin: Account) -> None:
    guard(sales_role, DuplicateGuard.REFUSE)
    with pytest.raises(FieldErrors) as by_name:
        services.account_create(user=rep, data={"name": "华信科技有限公司"})
    assert "韩梅梅" in by_name.value.errors["name"][0]
    with pytest.raises(FieldErrors) as by_number:
        services.account_create(user=rep, data={"name": "华信", "registration_number": NUMBER.lower()})
    assert set(by_number.value.errors) == {"registration_number"}
    assert Account.objects.count() == 1
    # The API says so, naming the field; a name only alike is no exact key.
    response = Api(rep).post("accounts", {"name": "华信科技有限公司"})
    assert response.status_code in (400, 422) and "韩梅梅" in str(response.json_body)
    assert Api(rep).get("duplicates/check?type=accounts&name=华信科技有限公司").json_body["elsewhere"][0]["refused"]
    services.account_create(user=rep, data={"name": "华信科技（北京）有限公司"})


def test_a_refusing_role_may_not_add_a_colleagues_contact_by_email_or_mobile(
    rep: User, sales_role: Role, zhang: Contact
) -> None:
    guard(sales_role, DuplicateGuard.REFUSE)
    with pytest.raises(FieldErrors) as by_email:
        services.contact_create(user=rep, data={"family_name": "张"}, emails=["ZHANG.SAN@huaxin.cn"])
    assert "emails" in by_email.value.errors and "韩梅梅" in by_email.value.errors["emails"][0]
    with pytest.raises(FieldErrors) as by_mobile:
        services.contact_create(user=rep, data={"family_name": "张"}, phones=["+86 138 0013 8000"])
    assert "phones" in by_mobile.value.errors
    # The switchboard two colleagues' people share is no sign of the same person.
    services.contact_create(user=rep, data={"family_name": "李", "given_name": "四"}, phones=["021-62345678"])
    assert Contact.objects.count() == 2


def test_records_one_may_see_and_records_in_the_bin_are_not_elsewhere(
    rep: User, admin: User, sales_role: Role, huaxin: Account
) -> None:
    guard(sales_role, DuplicateGuard.REFUSE)
    mine = services.account_create(user=rep, data={"name": "东方精工"})
    services.account_create(user=rep, data={"name": "东方精工"})  # one's own: the check's, not the guard's
    assert held_elsewhere(rep, Account, name="东方精工") == []
    record_delete(model=Account, pk=huaxin.pk, user=admin)
    services.account_create(user=rep, data={"name": "华信科技有限公司"})
    assert mine.pk


def test_off_says_nothing_and_superusers_are_never_refused(
    rep: User, admin: User, sales_role: Role, huaxin: Account
) -> None:
    guard(sales_role, DuplicateGuard.OFF)
    assert Api(rep).get("duplicates/check?type=accounts&name=华信科技有限公司").json_body["elsewhere"] == []
    assert held_elsewhere(admin, Account, name="华信科技有限公司") == []  # sees it: the check's matter
    services.account_create(user=admin, data={"name": "华信科技有限公司"})


def test_a_record_nobody_holds_is_said_to_be_in_the_pool(rep: User, zhang: Contact) -> None:
    Contact.objects.filter(pk=zhang.pk).update(owner=None)
    [held] = held_elsewhere(rep, Contact, emails=["zhang.san@huaxin.cn"])
    assert held.owner == "" and "customer pool" in held.message()


def test_editing_is_not_guarded_and_the_form_check_says_nothing_then(rep: User, huaxin: Account) -> None:
    body = Api(rep).get(f"duplicates/check?type=accounts&name=华信科技有限公司&exclude={huaxin.pk + 1}").json_body
    assert body["elsewhere"] == []


@pytest.mark.parametrize(
    ("number", "personal"),
    [("+8613800138000", True), ("+862162345678", False), ("+6591234567", True), ("+14155550100", True), ("x", False)],
)
def test_mobile_numbers_are_personal(number: str, personal: bool) -> None:
    assert is_personal_phone(number) is personal


def test_the_add_form_shows_whose_it_is_and_refuses(rep: User, sales_role: Role, huaxin: Account) -> None:
    client = client_for(rep)
    check = reverse("ui:duplicates-check", args=["accounts"])
    html = client.get(check, {"name": "华信科技有限公司"}).content.decode()
    assert "韩梅梅" in html and "duplicate-check-elsewhere" in html and "alert-warning" in html
    guard(sales_role, DuplicateGuard.REFUSE)
    html = client.get(check, {"name": "华信科技有限公司"}).content.decode()
    assert "alert-danger" in html
    form = {"name": "华信科技有限公司", "annual_revenue": "0", "currency": "CNY", "lifecycle_stage": "prospect"}
    response = client.post(reverse("ui:accounts-add"), form)
    assert response.status_code == 400 and "韩梅梅" in response.content.decode()
    assert Account.objects.count() == 1


def test_an_import_refuses_the_rows_a_colleague_has(
    rep: User, sales_role: Role, zhang: Contact, django_capture_on_commit_callbacks: Any
) -> None:
    grant(sales_role, "customers.contact", ["import"])
    guard(sales_role, DuplicateGuard.REFUSE)
    client = job_client(rep, django_capture_on_commit_callbacks)
    rows = [
        ["姓", "名", "手机", "电话", "邮箱"],
        ["张", "三", "", "", "zhang.san@huaxin.cn"],  # line 2: 韩梅梅's person by email
        ["李", "四", "", "021-62345678", ""],  # line 3: the shared switchboard only
        ["王", "五", "13800138000", "", ""],  # line 4: 韩梅梅's person by mobile
        ["赵", "六", "13900139000", "", "zhao@new.cn"],  # line 5: new
    ]
    response = upload(client, csv_bytes(rows), duplicate_policy="create", start="true")
    assert response.status_code == 201, response.content
    job = client.get(f"/api/v1/imports/{response.json()['id']}").json()
    assert job["status"] == "succeeded" and job["result"]["created"] == 2 and job["result"]["failed"] == 2
    errors = {int(r[0]): r for r in read_errors(client, job["id"])[1:]}
    assert set(errors) == {2, 4}
    assert errors[2][1] == "邮箱" and "韩梅梅" in errors[2][3]
    assert errors[4][1] == "手机" and "韩梅梅" in errors[4][3]
    assert set(Contact.objects.values_list("display_name", flat=True)) == {"张三", "李四", "赵六"}
    # Skipping them, as ever, is no error.
    guard(sales_role, DuplicateGuard.TELL)
    response = upload(client, csv_bytes(rows[:2]), duplicate_policy="create", start="true")
    job = client.get(f"/api/v1/imports/{response.json()['id']}").json()
    assert job["result"]["created"] == 1


def test_an_administrator_sets_a_roles_guard(admin: User, sales_role: Role) -> None:
    api = Api(admin)
    assert api.patch(f"roles/{sales_role.pk}", {"duplicate_guard": "refuse"}).status_code == 200
    assert Role.objects.get(pk=sales_role.pk).duplicate_guard == "refuse"
    response = api.patch(f"roles/{sales_role.pk}", {"duplicate_guard": "block"})
    assert response.status_code in (400, 422) and "duplicate_guard" in str(response.json_body)


def test_a_contact_import_does_not_add_a_colleagues_company(
    rep: User, sales_role: Role, huaxin: Account, django_capture_on_commit_callbacks: Any
) -> None:
    """A contact import creates the companies its rows name that the importer cannot find; one a
    colleague has is refused like adding it by hand, and the person with it."""
    grant(sales_role, "customers.contact", ["import"])
    guard(sales_role, DuplicateGuard.REFUSE)
    client = job_client(rep, django_capture_on_commit_callbacks)
    rows = [["姓", "名", "公司"], ["钱", "七", "华信科技有限公司"], ["孙", "八", "新客户有限公司"]]
    response = upload(client, csv_bytes(rows), duplicate_policy="create", start="true")
    job = client.get(f"/api/v1/imports/{response.json()['id']}").json()
    assert job["result"]["created"] == 1 and job["result"]["failed"] == 1
    [error] = read_errors(client, job["id"])[1:]
    assert error[:3] == ["2", "公司", "华信科技有限公司"] and "韩梅梅" in error[3]
    assert list(Account.objects.filter(name="华信科技有限公司").values_list("pk", flat=True)) == [huaxin.pk]
    assert Account.objects.filter(name="新客户有限公司", owner=rep).exists()
