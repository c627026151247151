"""撞单保护: adding a customer a colleague already has. Each role chooses whether Guanxi says whose it
is (``tell``, the default), also refuses to add it (``refuse``), or says nothing (``off``); by exact
name or 统一社会信用代码 for accounts, email or mobile number for contacts, on the form, the API's
check, the services (form and API alike) and an import's "create" policy. A similar company name
(with or without its place) is told, never refused; an edit that changes a key, a restore from the
recycle bin and a merge undone are guarded as an add, a merge is not; the holder is told."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from guanxi.activities.models import Notification, NotificationKind, NotificationMute
from guanxi.core.errors import FieldErrors
from guanxi.core.services import record_delete
from guanxi.customers import services
from guanxi.customers.duplicates import account_dup_key
from guanxi.customers.guard import held_elsewhere, is_personal_phone
from guanxi.customers.models import Account, Contact, DuplicateCandidate
from guanxi.identity.models import DuplicateGuard, Role, User
from tests.customers.conftest import Api, field_errors, grant
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


def test_the_check_says_nothing_of_an_edit_of_a_record_one_may_not_see(rep: User, huaxin: Account) -> None:
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


# --- similar names (told, never refused) -------------------------------------------------------------


def keyed(account: Account) -> Account:
    """The blocking key the duplicate detection stores once the account's transaction commits
    (tests run inside one transaction, so it would not be there yet)."""
    Account.objects.filter(pk=account.pk).update(dup_key=account_dup_key(account.name))
    return account


def elsewhere(api: Api, query: str) -> list[dict[str, Any]]:
    return api.get(f"duplicates/check?type=accounts&{query}").json_body["elsewhere"]


def test_a_similar_company_name_is_told_and_never_refused(rep: User, sales_role: Role, huaxin: Account) -> None:
    keyed(huaxin)
    guard(sales_role, DuplicateGuard.REFUSE)
    api = Api(rep)
    for typed in ("华信科技", "华信科技（北京）有限公司"):
        [held] = elsewhere(api, f"name={typed}")
        assert held["display"] == "华信科技有限公司" and held["owner"] == "韩梅梅"
        assert held["reasons"] == ["similar name 华信科技有限公司"] and held["refused"] is False
        assert set(held) == {"display", "owner", "pooled", "reasons", "message", "refused"}
    # A similar name refuses nothing, even a refusing role's: a branch may be a company of its own.
    services.account_create(user=rep, data={"name": "华信科技"})
    services.account_create(user=rep, data={"name": "华信科技（上海）有限公司"})
    # The exact name is told once, as the same name (and refused), not also as a similar one.
    [exact] = elsewhere(api, "name=华信科技有限公司")
    assert exact["reasons"] == ["same name"] and exact["refused"] is True
    with pytest.raises(FieldErrors) as refused:
        services.account_create(user=rep, data={"name": "华信科技有限公司"})
    assert set(refused.value.errors) == {"name"}


def test_a_name_that_only_sounds_alike_is_not_similar(rep: User, huaxin: Account) -> None:
    keyed(huaxin)
    assert account_dup_key("华心科技") == account_dup_key("华信科技")  # the same pinyin block
    assert elsewhere(Api(rep), "name=华心科技") == []
    assert elsewhere(Api(rep), "name=华信电子") == []


def test_a_similar_name_beside_an_exact_number_refuses_by_the_number(
    rep: User, sales_role: Role, huaxin: Account
) -> None:
    keyed(huaxin)
    guard(sales_role, DuplicateGuard.REFUSE)
    [held] = elsewhere(Api(rep), f"name=华信科技&registration_number={NUMBER}")
    assert held["refused"] is True and len(held["reasons"]) == 2
    with pytest.raises(FieldErrors) as refused:
        services.account_create(user=rep, data={"name": "华信科技", "registration_number": NUMBER})
    assert set(refused.value.errors) == {"registration_number"}


# --- edits ---------------------------------------------------------------------------------------------


def test_a_refusing_role_may_not_rename_an_account_to_a_colleagues(
    rep: User, sales_role: Role, huaxin: Account
) -> None:
    mine = services.account_create(user=rep, data={"name": "东方精工"})
    guard(sales_role, DuplicateGuard.REFUSE)
    api = Api(rep)
    response = api.patch(f"accounts/{mine.pk}", {"name": "华信科技有限公司"})
    assert response.status_code == 400 and "韩梅梅" in field_errors(response)["name"][0]
    response = api.patch(f"accounts/{mine.pk}", {"registration_number": NUMBER})
    assert set(field_errors(response)) == {"registration_number"}
    assert Account.objects.get(pk=mine.pk).name == "东方精工"
    # A similar name is no refusal; a role that tells lets the rename through.
    services.account_update(pk=mine.pk, user=rep, data={"name": "华信科技"})
    guard(sales_role, DuplicateGuard.TELL)
    services.account_update(pk=mine.pk, user=rep, data={"name": "华信科技有限公司"})
    assert Account.objects.get(pk=mine.pk).name == "华信科技有限公司"


def test_editing_another_field_of_an_old_duplicate_never_fails(rep: User, sales_role: Role, huaxin: Account) -> None:
    old = services.account_create(user=rep, data={"name": "华信科技有限公司", "registration_number": NUMBER})
    guard(sales_role, DuplicateGuard.REFUSE)
    api = Api(rep)
    same = {"name": "华信科技有限公司", "registration_number": NUMBER, "city": "福州"}
    assert api.patch(f"accounts/{old.pk}", same).status_code == 200
    # Its own edit form's check says nothing of what the record already has, and tells of a change.
    assert elsewhere(api, f"name=华信科技有限公司&registration_number={NUMBER}&exclude={old.pk}") == []
    mine = services.account_create(user=rep, data={"name": "东方精工"})
    [held] = elsewhere(api, f"name=华信科技有限公司&exclude={mine.pk}")
    assert held["owner"] == "韩梅梅" and held["refused"] is True


def test_a_refusing_role_may_not_give_a_contact_a_colleagues_email_or_mobile(
    rep: User, sales_role: Role, zhang: Contact
) -> None:
    mine = services.contact_create(user=rep, data={"family_name": "张", "given_name": "三"}, emails=["zs@mine.cn"])
    guard(sales_role, DuplicateGuard.REFUSE)
    with pytest.raises(FieldErrors) as by_email:
        services.contact_update(pk=mine.pk, user=rep, data={}, emails=["zs@mine.cn", "zhang.san@huaxin.cn"])
    assert set(by_email.value.errors) == {"emails"} and "韩梅梅" in by_email.value.errors["emails"][0]
    with pytest.raises(FieldErrors) as by_mobile:
        services.contact_update(pk=mine.pk, user=rep, data={}, phones=["13800138000"])
    assert set(by_mobile.value.errors) == {"phones"}
    api = Api(rep)
    check = f"duplicates/check?type=contacts&emails=zs@mine.cn&emails=zhang.san@huaxin.cn&exclude={mine.pk}"
    [held] = api.get(check).json_body["elsewhere"]
    assert held["refused"] and held["reasons"] == ["same email zhang.san@huaxin.cn"]
    assert api.get(f"duplicates/check?type=contacts&emails=zs@mine.cn&exclude={mine.pk}").json_body["elsewhere"] == []


def test_an_old_duplicate_contact_stays_editable(rep: User, sales_role: Role, zhang: Contact) -> None:
    old = services.contact_create(
        user=rep, data={"family_name": "张", "given_name": "三"}, emails=["zhang.san@huaxin.cn"]
    )
    guard(sales_role, DuplicateGuard.REFUSE)
    services.contact_update(pk=old.pk, user=rep, data={"title": "经理"}, emails=["zhang.san@huaxin.cn", "zs@mine.cn"])
    assert Contact.objects.get(pk=old.pk).title == "经理"


# --- the holder is told ------------------------------------------------------------------------------------


def told(user: User) -> list[Notification]:
    return list(Notification.objects.filter(recipient=user, kind=NotificationKind.DUPLICATE).order_by("pk"))


def test_the_holder_is_told_of_a_refused_add_once_a_day(
    rep: User, other_rep: User, admin: User, sales_role: Role, huaxin: Account, caplog: Any
) -> None:
    guard(sales_role, DuplicateGuard.REFUSE)
    api = Api(rep)
    with caplog.at_level("WARNING", logger="guanxi.security"):
        assert api.post("accounts", {"name": "华信科技有限公司"}).status_code == 400
    [note] = told(other_rep)
    assert (note.actor_id, note.object_id, note.object_repr) == (rep.pk, huaxin.pk, "华信科技有限公司")
    assert "refused" in note.summary and "name" in note.summary
    logged = [r.getMessage() for r in caplog.records if r.name == "guanxi.security"]
    assert any("duplicate guard refused" in m and f"user={rep.pk}" in m and str(huaxin.pk) in m for m in logged)
    # Trying again the same day tells nothing new; the holder reads it in their notifications.
    api.post("accounts", {"name": "华信科技有限公司", "registration_number": NUMBER})
    assert len(told(other_rep)) == 1
    [item] = Api(other_rep).get("notifications").json_body["items"]
    assert item["kind"] == "duplicate" and item["actor"]["name"] == "李雷"
    assert item["record"]["id"] == huaxin.pk and item["record"]["url"]
    page = client_for(other_rep).get(reverse("ui:notification-list")).content.decode()
    assert "entered your customer" in page and "华信科技有限公司" in page
    assert told(rep) == [] and Notification.objects.filter(kind=NotificationKind.DUPLICATE).count() == 1


def test_a_refused_edit_is_told_although_the_service_rolled_back(
    rep: User, other_rep: User, sales_role: Role, zhang: Contact
) -> None:
    """The update refuses inside its atomic block: the notification is written after that rollback."""
    mine = services.contact_create(user=rep, data={"family_name": "李", "given_name": "四"})
    guard(sales_role, DuplicateGuard.REFUSE)
    with pytest.raises(FieldErrors):
        services.contact_update(pk=mine.pk, user=rep, data={}, phones=["13800138000"])
    [note] = told(other_rep)
    assert note.object_id == zhang.pk and note.actor_id == rep.pk and "mobile" in note.summary
    assert Contact.objects.get(pk=mine.pk).phones == []


def test_the_holder_is_told_once_the_duplicate_is_saved_under_tell(
    rep: User,
    other_rep: User,
    make_user: Any,
    sales_role: Role,
    huaxin: Account,
    django_capture_on_commit_callbacks: Any,
) -> None:
    keyed(huaxin)
    with django_capture_on_commit_callbacks(execute=True):
        services.account_create(user=rep, data={"name": "华信科技"})
    [note] = told(other_rep)
    assert note.object_id == huaxin.pk and "saved anyway" in note.summary and "similar name" in note.summary
    with django_capture_on_commit_callbacks(execute=True):
        services.account_create(user=rep, data={"name": "华信科技有限公司"})
    assert len(told(other_rep)) == 1  # the same colleague, the same record, the same day
    colleague = make_user(role=sales_role, name="王芳")
    with django_capture_on_commit_callbacks(execute=True):
        services.account_create(user=colleague, data={"name": "华信科技有限公司"})
    assert [n.actor_id for n in told(other_rep)] == [rep.pk, colleague.pk]


def test_nobody_is_told_when_muted_pooled_or_off(
    rep: User, other_rep: User, sales_role: Role, huaxin: Account, zhang: Contact
) -> None:
    guard(sales_role, DuplicateGuard.REFUSE)
    NotificationMute.objects.create(user=other_rep, kind=NotificationKind.DUPLICATE)
    with pytest.raises(FieldErrors):
        services.account_create(user=rep, data={"name": "华信科技有限公司"})
    NotificationMute.objects.all().delete()
    Contact.objects.filter(pk=zhang.pk).update(owner=None)
    with pytest.raises(FieldErrors):
        services.contact_create(user=rep, data={"family_name": "张"}, emails=["zhang.san@huaxin.cn"])
    guard(sales_role, DuplicateGuard.OFF)
    services.account_create(user=rep, data={"name": "华信科技有限公司"})
    assert Notification.objects.filter(kind=NotificationKind.DUPLICATE).count() == 0


def test_an_import_tells_each_holder_once_with_the_count(
    rep: User, other_rep: User, sales_role: Role, zhang: Contact, django_capture_on_commit_callbacks: Any
) -> None:
    grant(sales_role, "customers.contact", ["import"])
    guard(sales_role, DuplicateGuard.REFUSE)
    client = job_client(rep, django_capture_on_commit_callbacks)
    rows = [
        ["姓", "名", "手机", "邮箱"],
        ["张", "三", "", "zhang.san@huaxin.cn"],
        ["王", "五", "13800138000", ""],
        ["赵", "六", "13900139000", "zhao@new.cn"],
    ]
    upload(client, csv_bytes(rows), duplicate_policy="create", start="true")
    [note] = told(other_rep)
    assert note.object_id == zhang.pk and note.actor_id == rep.pk
    assert note.summary == "2 rows of their import matched your customers (2 refused, 0 saved anyway)."
    # Under tell the rows are added, and the holder told of those too: a note a run, not a day.
    guard(sales_role, DuplicateGuard.TELL)
    upload(client, csv_bytes(rows[:2]), duplicate_policy="create", start="true")
    assert told(other_rep)[-1].summary == "1 row of their import matched your customers (0 refused, 1 saved anyway)."
    assert len(told(other_rep)) == 2


def test_a_contact_import_tells_the_holder_of_a_company_it_adds_again(
    rep: User, other_rep: User, sales_role: Role, huaxin: Account, django_capture_on_commit_callbacks: Any
) -> None:
    grant(sales_role, "customers.contact", ["import"])
    client = job_client(rep, django_capture_on_commit_callbacks)
    rows = [["姓", "名", "公司"], ["钱", "七", "华信科技有限公司"], ["孙", "八", "华信科技有限公司"]]
    upload(client, csv_bytes(rows), duplicate_policy="create", start="true")
    assert Account.objects.filter(name="华信科技有限公司").count() == 2
    [note] = told(other_rep)
    assert note.object_id == huaxin.pk and "1 row" in note.summary and "1 saved anyway" in note.summary


# --- a place the name starts with -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("held_name", "typed"),
    [("北京华信科技有限公司", "华信科技"), ("华信科技有限公司", "深圳市华信科技"), ("华信科技", "浙江杭州华信科技")],
)
def test_a_name_with_or_without_its_place_is_similar(rep: User, other_rep: User, held_name: str, typed: str) -> None:
    keyed(services.account_create(user=other_rep, data={"name": held_name, "owner_id": other_rep.pk}))
    [held] = elsewhere(Api(rep), f"name={typed}")
    assert held["display"] == held_name and held["reasons"] == [f"similar name {held_name}"]
    assert held["refused"] is False


def test_another_place_or_a_place_and_a_generic_word_is_not_similar(rep: User, other_rep: User) -> None:
    """广州华信 is not 北京华信; 上海银行 is not 北京银行 (a place before generic words is the name)."""
    for name in ("北京华信科技有限公司", "北京银行股份有限公司"):
        keyed(services.account_create(user=other_rep, data={"name": name, "owner_id": other_rep.pk}))
    api = Api(rep)
    assert elsewhere(api, "name=广州华信科技有限公司") == []
    assert elsewhere(api, "name=上海银行") == [] and elsewhere(api, "name=银行") == []
    [held] = elsewhere(api, "name=北京银行")
    assert held["display"] == "北京银行股份有限公司"


# --- restoring from the recycle bin, merging -----------------------------------------------------------


def in_the_bin(user: User, record: Account | Contact) -> None:
    record_delete(model=type(record), pk=record.pk, user=user)


def restore(user: User, record: Account | Contact) -> Any:
    return Api(user).post(f"recycle-bin/customers.{type(record)._meta.model_name}/{record.pk}/restore")


def test_a_refusing_role_may_not_restore_a_customer_a_colleague_added_meanwhile(
    rep: User, other_rep: User, sales_role: Role, caplog: Any
) -> None:
    mine = services.account_create(user=rep, data={"name": "华信科技有限公司", "registration_number": NUMBER})
    in_the_bin(rep, mine)
    # While it is in the bin, the guard sees nothing of it: the colleague adds the customer.
    theirs = services.account_create(user=other_rep, data={"name": "华信科技有限公司", "owner_id": other_rep.pk})
    guard(sales_role, DuplicateGuard.REFUSE)
    with caplog.at_level("WARNING", logger="guanxi.security"):
        response = restore(rep, mine)
    assert response.status_code == 400 and "韩梅梅" in field_errors(response)["name"][0]
    assert Account.all_objects.get(pk=mine.pk).deleted_at is not None
    [note] = told(other_rep)
    assert note.object_id == theirs.pk and "refused" in note.summary
    assert any("duplicate guard refused" in r.getMessage() for r in caplog.records)
    # The recycle bin's page says so, back on it, and leaves the record there.
    client, bin_page = client_for(rep), reverse("ui:recycle-bin")
    assert f'name="next" value="{bin_page}"' in client.get(bin_page).content.decode()
    page = client.post(f"{bin_page}accounts/{mine.pk}/restore/", {"next": bin_page}, follow=True)
    assert page.redirect_chain == [(bin_page, 302)] and "韩梅梅" in page.content.decode()
    assert Account.all_objects.get(pk=mine.pk).deleted_at is not None


def test_a_restore_under_tell_goes_ahead_and_the_holder_and_the_detection_hear_of_it(
    rep: User, other_rep: User, django_capture_on_commit_callbacks: Any
) -> None:
    mine = services.account_create(user=rep, data={"name": "华信科技有限公司"})
    in_the_bin(rep, mine)
    with django_capture_on_commit_callbacks(execute=True):
        theirs = services.account_create(user=other_rep, data={"name": "北京华信科技有限公司"})
    with django_capture_on_commit_callbacks(execute=True):
        assert restore(rep, mine).status_code == 200
    assert Account.objects.filter(pk=mine.pk).exists()
    [note] = told(other_rep)
    assert note.object_id == theirs.pk and "saved anyway" in note.summary and "similar name" in note.summary
    pair = DuplicateCandidate.objects.get(record_type="account")
    assert {pair.low_id, pair.high_id} == {mine.pk, theirs.pk}


def test_a_refusing_role_may_not_restore_a_contact_whose_mobile_a_colleague_has(
    rep: User, other_rep: User, sales_role: Role
) -> None:
    mine = services.contact_create(user=rep, data={"family_name": "张", "given_name": "三"}, phones=["13800138000"])
    in_the_bin(rep, mine)
    services.contact_create(user=other_rep, data={"family_name": "张"}, phones=["13800138000"])
    guard(sales_role, DuplicateGuard.REFUSE)
    response = restore(rep, mine)
    assert response.status_code == 400 and set(field_errors(response)) == {"phones"}
    guard(sales_role, DuplicateGuard.TELL)
    assert restore(rep, mine).status_code == 200


def test_the_guard_adds_two_reads_to_a_restore(rep: User, sales_role: Role) -> None:
    """The exact name and the similar names' block (the role is read either way)."""
    first, second = (services.account_create(user=rep, data={"name": name}) for name in ("东方精工", "西方精工"))
    in_the_bin(rep, first)
    in_the_bin(rep, second)
    counts = []
    for setting, record in ((DuplicateGuard.OFF, first), (DuplicateGuard.REFUSE, second)):
        guard(sales_role, setting)
        with CaptureQueriesContext(connection) as ctx:
            services.customer_restore(model=Account, pk=record.pk, user=rep)
        counts.append(len(ctx.captured_queries))
    assert counts[1] - counts[0] == 2 and Account.objects.filter(pk__in=[first.pk, second.pk]).count() == 2


def test_a_merge_is_not_guarded(rep: User, other_rep: User, sales_role: Role, huaxin: Account) -> None:
    """Every value a merge keeps was a live record's: a key a colleague has was a duplicate before,
    and one record fewer holds it after."""
    services.account_create(user=rep, data={"name": "华信科技有限公司"})  # under tell: saved
    old = Account.objects.get(name="华信科技有限公司", owner=rep)
    survivor = services.account_create(user=rep, data={"name": "东方精工"})
    guard(sales_role, DuplicateGuard.REFUSE)
    services.account_merge(survivor=survivor.pk, others=[old.pk], user=rep, fields={"name": old.pk})
    assert Account.objects.get(pk=survivor.pk).name == "华信科技有限公司"
    assert told(other_rep) == []


def test_undoing_a_merge_restores_as_a_restore_is_guarded(rep: User, other_rep: User, sales_role: Role) -> None:
    survivor = services.account_create(user=rep, data={"name": "东方精工"})
    merged = services.account_create(user=rep, data={"name": "华信科技"})
    merge = services.account_merge(survivor=survivor.pk, others=[merged.pk], user=rep)
    services.account_create(user=other_rep, data={"name": "华信科技"})  # meanwhile, the colleague's
    guard(sales_role, DuplicateGuard.REFUSE)
    response = Api(rep).post(f"duplicates/merges/{merge.pk}/undo")
    assert response.status_code == 400 and "韩梅梅" in field_errors(response)["name"][0]
    assert Account.all_objects.get(pk=merged.pk).deleted_at is not None and len(told(other_rep)) == 1
    guard(sales_role, DuplicateGuard.TELL)
    services.merge_undo(merge_id=merge.pk, user=rep)
    assert Account.objects.filter(pk=merged.pk).exists()
