"""An account's registration number (统一社会信用代码): checked as China writes it, stored compact, a
filter, the import's match and error file, an exact duplicate whatever the names say, the form's live
check, and the search box, hidden from whom a field rule hides it from."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction
from django.test import Client

from guanxi.core.errors import FieldErrors
from guanxi.customers import services
from guanxi.customers.duplicates import duplicates_detect
from guanxi.customers.models import Account, Contact, DuplicateCandidate
from guanxi.customers.normalize import normalize_registration_number
from guanxi.identity.models import Role, User
from tests.customers.test_import import job_client
from tests.customers.test_import_round_trip import errors_by_line, run_import
from tests.factories import client_for, field_rule

pytestmark = pytest.mark.django_db

CHECK = "/customers/duplicates/check/accounts/"
HUAWEI = "914403001922038216"  # a well-formed code (its check character is right)
OTHER = "91110000600037341L"


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("9144 0300 1922 0382 16", HUAWEI),
        ("9111-0000-6000-3734-1l", OTHER),  # dashes, a lower-case check letter
        ("９１１１００００６０００３７３４１Ｌ", OTHER),  # full-width, as a Chinese IME types it
        ("", ""),
    ],
)
def test_a_code_is_stored_compact(typed: str, stored: str) -> None:
    assert normalize_registration_number(typed) == stored


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("914403001922038217", "is not a valid unified social credit code"),  # the check character is wrong
        ("91440300192203821", "has 18 characters; “91440300192203821” has 17"),
        ("9144030019220382IO", "is not a valid"),  # I and O are not used
    ],
)
def test_a_wrong_code_says_what_is_wrong(typed: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        normalize_registration_number(typed, "CN")


def test_elsewhere_a_number_is_kept_as_written() -> None:
    assert normalize_registration_number("gb 123.456/78", "GB") == "GB123.456/78"
    with pytest.raises(ValueError, match="2 to 40 letters"):
        normalize_registration_number("ABC#1", "SG")


def test_the_account_service_checks_and_stores_it(admin: User, api_for: Callable[[User], Any]) -> None:
    with pytest.raises(FieldErrors) as caught:
        services.account_create(user=admin, data={"name": "华为", "registration_number": "914403001922038217"})
    assert set(caught.value.errors) == {"registration_number"}
    assert not Account.objects.exists()  # nothing half-written
    huawei = services.account_create(user=admin, data={"name": "华为", "registration_number": "9144 0300 1922 0382 16"})
    assert huawei.registration_number == HUAWEI
    # Abroad, by the account's country.
    acme = services.account_create(
        user=admin, data={"name": "Acme Ltd", "country": "GB", "registration_number": "gb 0123 4567"}
    )
    assert acme.registration_number == "GB01234567"

    api = api_for(admin)
    found = api.get("accounts?registration_number=9144-0300-1922-0382-16").json_body["items"]
    assert [row["id"] for row in found] == [huawei.pk] and found[0]["registration_number"] == HUAWEI
    response = api.patch(f"accounts/{huawei.pk}", {"registration_number": "123"})
    assert response.status_code == 400 and "registration_number" in str(response.json_body)


def test_one_code_is_one_company_whatever_the_names(admin: User) -> None:
    a = services.account_create(user=admin, data={"name": "华为技术有限公司", "registration_number": HUAWEI})
    b = services.account_create(user=admin, data={"name": "Shenzhen HW Tech", "registration_number": HUAWEI})
    c = services.account_create(user=admin, data={"name": "另一家公司", "registration_number": OTHER})
    duplicates_detect(Account, [a.pk, b.pk, c.pk])
    pairs = {(p.low_id, p.high_id): p for p in DuplicateCandidate.objects.filter(record_type="account")}
    assert set(pairs) == {(a.pk, b.pk)}
    assert pairs[(a.pk, b.pk)].score == 100
    assert {"kind": "registration_number", "value": HUAWEI} in pairs[(a.pk, b.pk)].reasons


def test_the_form_warns_of_the_code_as_it_is_typed(admin: User, rep: User) -> None:
    existing = services.account_create(user=admin, data={"name": "华为技术有限公司", "registration_number": HUAWEI})
    page = client_for(admin).get(
        "/customers/duplicates/check/accounts/", {"registration_number": "9144 0300 1922 0382 16"}
    )
    html = page.content.decode()
    assert f"/customers/accounts/{existing.pk}/" in html and f"same registration number {HUAWEI}" in html
    # Only what the user may see: a rep is told nothing of an account that is not theirs.
    other = client_for(rep).get("/customers/duplicates/check/accounts/", {"registration_number": HUAWEI})
    assert f"/customers/accounts/{existing.pk}/" not in other.content.decode()
    # Nor, by the number, of their own when their role hides the number from them.
    mine = services.account_create(user=rep, data={"name": "小米科技", "registration_number": OTHER})
    asked = {"registration_number": OTHER}
    assert f"/customers/accounts/{mine.pk}/" in client_for(rep).get(CHECK, asked).content.decode()
    field_rule(rep.role, "customers.account", "registration_number", "hidden")
    assert f"/customers/accounts/{mine.pk}/" not in client_for(rep).get(CHECK, asked).content.decode()


def test_the_import_checks_it_and_matches_by_it(admin: User, django_capture_on_commit_callbacks: Any) -> None:
    existing = services.account_create(user=admin, data={"name": "华为技术有限公司", "registration_number": HUAWEI})
    client: Client = job_client(admin, django_capture_on_commit_callbacks)
    rows = [
        ["客户名称", "统一社会信用代码", "行业"],
        ["华为（深圳）", "9144 0300 1922 0382 16", "制造业"],  # 2: the same company under another name
        ["坏代码公司", "914403001922038217", ""],  # 3: a wrong check character
        ["新公司", OTHER, ""],  # 4: new
    ]
    result = run_import(client, rows, "accounts", policy="update")
    assert result["mapping"]["统一社会信用代码"] == "registration_number"
    assert result["result"] == {"created": 1, "updated": 1, "skipped": 0, "failed": 1}
    errors = errors_by_line(client, result["id"])
    assert list(errors) == [3] and errors[3][0] == "统一社会信用代码" and "not a valid" in errors[3][1]
    existing.refresh_from_db()
    assert existing.name == "华为（深圳）" and existing.industry == "manufacturing"
    assert Account.objects.get(name="新公司").registration_number == OTHER
    assert not Account.objects.filter(name="坏代码公司").exists()


def test_the_search_box_finds_a_company_by_its_code(
    admin: User, rep: User, sales_role: Role, api_for: Callable[[User], Any]
) -> None:
    services.account_create(user=admin, data={"name": "华为技术有限公司", "registration_number": HUAWEI})
    mine = services.account_create(user=rep, data={"name": "小米科技", "registration_number": OTHER})
    hits = api_for(admin).get(f"search?q={HUAWEI.lower()}&types=accounts").json_body
    assert [hit["title"] for hit in hits["items"]] == ["华为技术有限公司"]
    assert [hit["id"] for hit in api_for(rep).get(f"search?q={OTHER}&types=accounts").json_body["items"]] == [mine.pk]
    # A role that hides the number cannot find a company by it (its name still finds it).
    field_rule(sales_role, "customers.account", "registration_number", "hidden")
    assert api_for(rep).get(f"search?q={OTHER}&types=accounts").json_body["items"] == []
    assert [hit["id"] for hit in api_for(rep).get("search?q=小米&types=accounts").json_body["items"]] == [mine.pk]


def test_the_filter_reads_the_numbers_index(admin: User) -> None:
    from django.db import connection

    from tests.core.test_list_speed import plan_of

    services.account_create(user=admin, data={"name": "华为", "registration_number": HUAWEI})
    # Enough rows, with statistics, that a planner weighs the indexes as it would on real data
    # (on a near-empty table every index costs about the same).
    Account.objects.bulk_create(
        Account(name=f"公司{i}", registration_number=f"9111{i:014d}", region=f"区{i % 7}", owner=admin)
        for i in range(400)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    sql, params = Account.objects.filter(registration_number=HUAWEI).order_by().query.sql_with_params()
    with transaction.atomic():  # PostgreSQL's SET LOCAL of plan_of
        plan = "\n".join(plan_of(sql, params))
    assert "account_reg_number_idx" in plan, (connection.vendor, plan)


def test_a_contact_import_finds_the_company_by_its_code(admin: User, django_capture_on_commit_callbacks: Any) -> None:
    huawei = services.account_create(user=admin, data={"name": "华为技术有限公司", "registration_number": HUAWEI})
    client: Client = job_client(admin, django_capture_on_commit_callbacks)
    rows = [
        ["姓名", "手机", "公司", "统一社会信用代码"],
        ["余承东", "13900139001", "华为", "9144 0300 1922 0382 16"],  # 2: the code wins over the short name
        ["雷军", "13900139002", "小米通讯技术有限公司", OTHER],  # 3: a new company, created with its code
        ["无名", "13900139003", "", "91110108551385082Q"],  # 4: an unknown code and no name to create
        ["错码", "13900139004", "某公司", "914403001922038217"],  # 5: a wrong check character
    ]
    result = run_import(client, rows, "contacts", policy="update")
    assert result["mapping"]["统一社会信用代码"] == "account_registration_number"
    assert result["result"] == {"created": 2, "updated": 0, "skipped": 0, "failed": 2}
    errors = errors_by_line(client, result["id"])
    assert sorted(errors) == [4, 5] and all(errors[line][0] == "统一社会信用代码" for line in (4, 5))
    assert "give the company's name" in errors[4][1] and "not a valid" in errors[5][1]
    yu = Contact.objects.get(display_name="余承东")
    assert list(yu.account_links.values_list("account_id", flat=True)) == [huawei.pk]
    assert not Account.objects.filter(name="华为").exists()
    xiaomi = Account.objects.get(name="小米通讯技术有限公司")
    assert xiaomi.registration_number == OTHER
    lei = Contact.objects.get(display_name="雷军")
    assert list(lei.account_links.values_list("account_id", flat=True)) == [xiaomi.pk]


def test_a_company_moved_to_china_must_carry_a_valid_code(admin: User) -> None:
    acme = services.account_create(
        user=admin, data={"name": "Acme Ltd", "country": "GB", "registration_number": "GB0123 4567"}
    )
    with pytest.raises(FieldErrors) as caught:
        services.account_update(pk=acme.pk, user=admin, data={"country": "CN"})
    assert set(caught.value.errors) == {"registration_number"}
    acme.refresh_from_db()
    assert acme.country == "GB"  # nothing half-written
    moved = services.account_update(pk=acme.pk, user=admin, data={"country": "CN", "registration_number": HUAWEI})
    assert (moved.country, moved.registration_number) == ("CN", HUAWEI)
    # Another change leaves a number alone.
    assert services.account_update(pk=acme.pk, user=admin, data={"industry": "retail"}).registration_number == HUAWEI
