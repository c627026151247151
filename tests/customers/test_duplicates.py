"""Duplicate detection: exact email/phone, pinyin-aware fuzzy names at the same company, blocking, the queue."""

from __future__ import annotations

import re
from collections.abc import Callable
from itertools import combinations_with_replacement
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from guanxi.customers import services
from guanxi.customers.duplicates import (
    account_dup_key,
    contact_dup_key,
    duplicates_detect,
    name_similarity,
    reason_text,
    strip_company,
)
from guanxi.customers.models import Account, AccountContact, Contact, ContactPoint, DuplicateCandidate
from guanxi.customers.normalize import website_domain

pytestmark = pytest.mark.django_db


def pairs(record_type: str = "contact", status: str | None = None) -> set[tuple[int, int]]:
    qs = DuplicateCandidate.objects.filter(record_type=record_type)
    if status:
        qs = qs.filter(status=status)
    return set(qs.values_list("low_id", "high_id"))


def error_fields(response: Any) -> set[str]:
    return {e["field"] for e in response.json_body["errors"]}


def pair(a: Any, b: Any) -> tuple[int, int]:
    return (min(a.pk, b.pk), max(a.pk, b.pk))


# --- keys and scores ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (("张", "三"), ("張", "三")),
        (("张", "三"), ("Zhang", "San")),
        (("Zhang", "San"), ("San", "Zhang")),
        (("李", "娜"), ("", "Li Na")),
    ],
)
def test_contact_keys_are_pinyin_aware(a: tuple[str, str], b: tuple[str, str]) -> None:
    assert contact_dup_key(*a) == contact_dup_key(*b) != ""


def test_contact_keys_tell_different_names_apart() -> None:
    assert contact_dup_key("张", "三") != contact_dup_key("李", "四")


@pytest.mark.parametrize(
    "name",
    [
        "阿里巴巴",
        "阿里巴巴（中国）有限公司",
        "阿里巴巴集团股份有限公司",
        "Alibaba Group Holding Ltd.",
        "Alibaba Co., Ltd.",
        "ALIBABA Inc",
    ],
)
def test_company_suffixes_and_places_in_brackets_are_stripped(name: str) -> None:
    assert account_dup_key(name) == "alibaba"


def test_company_strip_keeps_the_distinguishing_part() -> None:
    assert strip_company("Siemens GmbH") == "siemens"
    assert account_dup_key("华为技术有限公司") != account_dup_key("腾讯科技有限公司")
    assert account_dup_key("有限公司") != ""  # a name that is only a legal form keeps it


def test_name_similarity_reads_characters_by_their_pinyin() -> None:
    assert name_similarity("张三", "張三") == 100
    assert name_similarity("张三", "Zhang San") == 100
    assert name_similarity("Zhang San", "San Zhang") == 100
    assert 85 <= name_similarity("Zhang San", "Zhang Sna") < 100
    assert name_similarity("张三", "李四") < 50


# --- detection on create ------------------------------------------------------------------------------


def test_same_email_is_found_when_a_contact_is_created(
    make_contact: Callable[..., Contact], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        first = make_contact(family_name="李", given_name="雷", emails=["li@x.com"])
    with django_capture_on_commit_callbacks(execute=True):
        second = make_contact(family_name="Wang", given_name="Wu", emails=["LI@x.com"])
    candidate = DuplicateCandidate.objects.get()
    assert (candidate.low_id, candidate.high_id) == pair(first, second)
    assert candidate.score == 100 and candidate.status == "open"
    assert {"kind": "email", "value": "li@x.com"} in candidate.reasons


def test_same_phone_is_found_whatever_its_format(
    make_contact: Callable[..., Contact], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        first = make_contact(family_name="赵", given_name="六", phones=["138 0013 8000"])
        second = make_contact(family_name="钱", given_name="七", phones=["+86-138-0013-8000"])
    assert pairs() == {pair(first, second)}
    assert DuplicateCandidate.objects.get().reasons == [{"kind": "phone", "value": "+8613800138000"}]


def test_fuzzy_pinyin_name_at_the_same_company_is_found(
    make_account: Callable[..., Account],
    make_contact: Callable[..., Contact],
    django_capture_on_commit_callbacks: Any,
) -> None:
    ali = make_account(name="阿里巴巴")
    ali_cn = make_account(name="阿里巴巴（中国）有限公司")
    other = make_account(name="腾讯科技有限公司")
    with django_capture_on_commit_callbacks(execute=True):
        a = make_contact(family_name="张", given_name="三", accounts=[{"account": ali.pk}])
        b = make_contact(family_name="Zhang", given_name="San", accounts=[{"account": ali_cn.pk}])
        c = make_contact(family_name="張", given_name="三", accounts=[{"account": ali.pk}])
        # the same name at another company is another person
        make_contact(family_name="张", given_name="三", accounts=[{"account": other.pk}])
        # no company: a name alone proves nothing
        make_contact(family_name="张", given_name="三")
    assert pairs() == {pair(a, b), pair(a, c), pair(b, c)}
    reasons = DuplicateCandidate.objects.get(low_id=a.pk, high_id=c.pk).reasons
    assert reasons == [{"kind": "name", "similarity": 100, "account": ali.pk}]


def test_similar_accounts_are_found(
    make_account: Callable[..., Account], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        a = make_account(name="阿里巴巴")
        b = make_account(name="阿里巴巴（中国）有限公司")
        make_account(name="腾讯科技有限公司")
        c = make_account(name="Alibaba Group Holding Ltd.")
    assert pairs("account") == {pair(a, b), pair(a, c), pair(b, c)}
    assert DuplicateCandidate.objects.filter(record_type="account", score__gte=85).count() == 3


def test_renaming_runs_detection_again(
    make_account: Callable[..., Account], admin: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        a = make_account(name="华为技术有限公司")
        b = make_account(name="某某公司")
    assert pairs("account") == set()
    with django_capture_on_commit_callbacks(execute=True):
        services.account_update(pk=b.pk, user=admin, data={"name": "华为技术"})
    assert pairs("account") == {pair(a, b)}


@pytest.mark.parametrize(
    ("website", "domain"),
    [
        ("https://www.Huaxin-Tech.com/about", "huaxin-tech.com"),
        ("huaxin-tech.com", "huaxin-tech.com"),
        ("http://shop.huaxin-tech.com:8080", "shop.huaxin-tech.com"),
        ("https://shop12345.1688.com", ""),  # a shop on a platform many companies share
        ("https://mp.weixin.qq.com/s/abc", ""),
        ("", ""),
        ("not a url", ""),
    ],
)
def test_a_websites_domain(website: str, domain: str) -> None:
    assert website_domain(website) == domain


def test_companies_with_one_website_are_found(
    make_account: Callable[..., Account], admin: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """Different names, one web address's host: most likely one company (a brand and its legal
    name). A change of website is checked again; a host six companies give is a shared one."""
    with django_capture_on_commit_callbacks(execute=True):
        brand = make_account(name="华信", website="www.huaxin-tech.com")
        legal = make_account(name="深圳市远景信息技术有限公司", website="https://huaxin-tech.com/about")
        other = make_account(name="明凯佳科技", website="mingkaijia.com")
        shops = [make_account(name=f"淘宝店{i}", website=f"https://shop{i}.taobao.com") for i in range(2)]
    assert pairs("account") == {pair(brand, legal)}
    found = DuplicateCandidate.objects.get(record_type="account")
    assert found.score == 95 and found.reasons == [{"kind": "website", "value": "huaxin-tech.com"}]
    assert reason_text(found.reasons[0]) == "same website huaxin-tech.com"
    assert Account.objects.get(pk=legal.pk).domain == "huaxin-tech.com" and shops[0].pk
    with django_capture_on_commit_callbacks(execute=True):
        services.account_update(pk=other.pk, user=admin, data={"website": "http://www.huaxin-tech.com"})
    assert pairs("account") == {pair(brand, legal), pair(brand, other), pair(legal, other)}

    group = [make_account(name=f"集团子公司{i}号", website="group.example.com") for i in range(6)]
    assert duplicates_detect(Account, [a.pk for a in group]) == 0


def test_records_in_the_recycle_bin_are_not_matched(
    make_contact: Callable[..., Contact], admin: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from guanxi.core.services import record_delete

    gone = make_contact(emails=["same@x.com"])
    record_delete(model=Contact, pk=gone.pk, user=admin)
    with django_capture_on_commit_callbacks(execute=True):
        make_contact(emails=["same@x.com"])
    assert pairs() == set()


def test_a_shared_switchboard_number_is_not_a_duplicate_signal(make_contact: Callable[..., Contact]) -> None:
    people = [make_contact(family_name=f"Person{i}", given_name="X", phones=["021 6123 4567"]) for i in range(7)]
    assert duplicates_detect(Contact, [p.pk for p in people]) == 0


# --- the queue ----------------------------------------------------------------------------------------


def test_dismissed_pairs_stay_dismissed(make_contact: Callable[..., Contact], admin: Any) -> None:
    a = make_contact(emails=["x@y.com"])
    b = make_contact(family_name="Other", emails=["x@y.com"])
    assert duplicates_detect(Contact, [a.pk, b.pk]) == 1
    candidate = DuplicateCandidate.objects.get()
    services.duplicate_dismiss(candidate_id=candidate.pk, user=admin)
    assert duplicates_detect(Contact, [a.pk, b.pk]) == 0
    assert duplicates_detect(Contact, [b.pk]) == 0
    candidate.refresh_from_db()
    assert candidate.status == "dismissed" and candidate.resolved_by == admin
    assert DuplicateCandidate.objects.count() == 1


def test_detection_twice_adds_nothing(make_contact: Callable[..., Contact]) -> None:
    a = make_contact(emails=["x@y.com"])
    b = make_contact(family_name="Other", emails=["x@y.com"])
    assert duplicates_detect(Contact, [a.pk, b.pk]) == 1
    assert duplicates_detect(Contact, [a.pk, b.pk]) == 0


_WORDS = ["".join(letters) for letters in combinations_with_replacement("abcdefghijklmnopqrstuvwxyz", 4)]


def _bulk_contacts(n: int, *, start: int = 0, company: Account | None = None) -> list[int]:
    """Contacts written the way a bulk import writes them (no services): rows, points and links.

    Each name is a different multiset of letters, so no two share a blocking key by accident.
    """
    contacts = Contact.objects.bulk_create(
        [
            Contact(family_name="Person", given_name=_WORDS[start + i], display_name=f"{_WORDS[start + i]} Person")
            for i in range(n)
        ]
    )
    ContactPoint.objects.bulk_create(
        [
            ContactPoint(contact=c, kind="email", value=f"p{start + i}@bulk.example", is_primary=True)
            for i, c in enumerate(contacts)
        ]
    )
    if company is not None:
        AccountContact.objects.bulk_create([AccountContact(contact=c, account=company) for c in contacts])
    return [c.pk for c in contacts]


def test_bulk_call_finds_pairs_inside_the_batch_and_against_the_table(make_account: Callable[..., Account]) -> None:
    company = make_account(name="字节跳动")
    old = _bulk_contacts(300, company=company)
    assert duplicates_detect(Contact, old) == 0
    assert Contact.objects.filter(pk__in=old).exclude(dup_key="").count() == 300  # keys written
    new = Contact.objects.bulk_create(
        [
            Contact(family_name="", given_name=f"PERSON {_WORDS[7]}", display_name=f"PERSON {_WORDS[7]}"),  # = old #7
            Contact(family_name="Someone", given_name="Else", display_name="Else Someone"),
            Contact(family_name="Another", given_name="One", display_name="One Another"),
        ]
    )
    AccountContact.objects.create(contact=new[0], account=company)
    ContactPoint.objects.bulk_create(
        [
            ContactPoint(contact=new[1], kind="email", value="p42@bulk.example", is_primary=True),  # = old #42
            ContactPoint(contact=new[2], kind="email", value="p42@bulk.example", is_primary=True),  # and new[1]
        ]
    )
    assert duplicates_detect(Contact, [c.pk for c in new]) == 4
    assert pairs() == {
        (old[7], new[0].pk),
        (old[42], new[1].pk),
        (old[42], new[2].pk),
        (new[1].pk, new[2].pk),
    }


def _queries_for_one_check(contact: Contact) -> int:
    with CaptureQueriesContext(connection) as ctx:
        duplicates_detect(Contact, [contact.pk])
    return len(ctx.captured_queries)


def test_blocking_one_check_costs_the_same_whatever_the_table_size(make_account: Callable[..., Account]) -> None:
    company = make_account(name="字节跳动")
    first = _bulk_contacts(20, company=company)
    twin = Contact.objects.create(family_name="Twin", display_name="Twin")
    ContactPoint.objects.create(contact=twin, kind="email", value="p3@bulk.example")
    duplicates_detect(Contact, first)
    probe = Contact.objects.get(pk=first[3])
    small = _queries_for_one_check(probe)
    more = _bulk_contacts(2000, start=20, company=company)
    duplicates_detect(Contact, more)
    large = _queries_for_one_check(probe)
    assert large == small <= 10
    assert DuplicateCandidate.objects.count() == 1


def test_one_check_reads_only_its_block(make_account: Callable[..., Account]) -> None:
    """Every statement of a one-record check starts from the record's id or its key: no table scan."""
    company = make_account(name="字节跳动")
    ids = _bulk_contacts(500, company=company)
    duplicates_detect(Contact, ids)
    with CaptureQueriesContext(connection) as ctx:
        duplicates_detect(Contact, [ids[0]])
    statements = [q["sql"] for q in ctx.captured_queries if q["sql"].lstrip().upper().startswith(("SELECT", "WITH"))]
    assert statements
    explain = "EXPLAIN QUERY PLAN" if connection.vendor == "sqlite" else "EXPLAIN"
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(f"{explain} {sql}")
            plan = " ".join(str(row) for row in cursor.fetchall())
            # SQLite: a full scan reads "SCAN <alias>"; only the id list and the CTEs may be scanned.
            # (PostgreSQL may choose to scan tiny test tables, so only SQLite's plan is strict here.)
            if connection.vendor == "sqlite":
                scanned = {m.group(1) for m in re.finditer(r"'SCAN (\w+)", plan)}
                assert scanned <= {"json_each", "mine", "few", "z", "mi", "co", "x"}, (sql, plan)


# --- API ----------------------------------------------------------------------------------------------


def test_queue_lists_only_pairs_whose_records_the_user_sees(
    make_contact: Callable[..., Contact], rep: Any, other_rep: Any, api_for: Callable[..., Any]
) -> None:
    mine = make_contact(by=rep, emails=["a@x.com"])
    mine_too = make_contact(by=rep, family_name="Other", emails=["a@x.com"])
    theirs = make_contact(by=other_rep, family_name="Third", emails=["a@x.com"])
    duplicates_detect(Contact, [mine.pk, mine_too.pk, theirs.pk])
    assert DuplicateCandidate.objects.count() == 3
    body = api_for(rep).get("duplicates?type=contacts").json_body
    assert [tuple(r["id"] for r in item["records"]) for item in body["items"]] == [pair(mine, mine_too)]
    item = body["items"][0]
    assert item["reasons"][0]["text"] == "same email a@x.com"
    assert item["records"][0]["email"] == "a@x.com"


def test_queue_query_count_does_not_grow_with_the_page(
    make_account: Callable[..., Account],
    make_contact: Callable[..., Contact],
    admin_api: Any,
    django_assert_max_num_queries: Any,
) -> None:
    company = make_account(name="字节跳动")
    ids = []
    for i in range(30):
        ids.append(
            make_contact(
                family_name="王", given_name=f"{i}", emails=[f"w{i}@x.com"], accounts=[{"account": company.pk}]
            ).pk
        )
        ids.append(make_contact(family_name="Wang", given_name=f"{i}", emails=[f"w{i}@x.com"]).pk)
    duplicates_detect(Contact, ids)
    assert DuplicateCandidate.objects.count() >= 30
    with django_assert_max_num_queries(12):
        response = admin_api.get("duplicates?type=contacts&limit=50")
    assert response.status_code == 200 and len(response.json_body["items"]) >= 30


def test_queue_is_keyset_paginated(make_contact: Callable[..., Contact], admin_api: Any) -> None:
    ids = [make_contact(family_name=f"P{i}", emails=[f"s{i // 2}@x.com"]).pk for i in range(10)]
    duplicates_detect(Contact, ids)
    seen: list[int] = []
    cursor = ""
    while True:
        body = admin_api.get(f"duplicates?type=contacts&limit=2{cursor}").json_body
        seen += [item["id"] for item in body["items"]]
        if not body["next_cursor"]:
            break
        cursor = f"&cursor={body['next_cursor']}"
    assert sorted(seen, reverse=True) == seen and len(seen) == 5 == len(set(seen))


def test_queue_rejects_unknown_parameters(admin_api: Any) -> None:
    response = admin_api.get("duplicates?type=people")
    assert response.status_code == 400 and error_fields(response) == {"type"}
    response = admin_api.get("duplicates?type=contacts&ordering=name")
    assert response.status_code == 400 and error_fields(response) == {"ordering"}


def test_dismiss_by_api(make_contact: Callable[..., Contact], admin_api: Any, admin: Any) -> None:
    a = make_contact(emails=["d@x.com"])
    b = make_contact(family_name="Other", emails=["d@x.com"])
    duplicates_detect(Contact, [a.pk, b.pk])
    candidate = DuplicateCandidate.objects.get()
    response = admin_api.post(f"duplicates/{candidate.pk}/dismiss")
    assert response.status_code == 200 and response.json_body["status"] == "dismissed"
    assert admin_api.get("duplicates?type=contacts").json_body["items"] == []
    again = admin_api.post(f"duplicates/{candidate.pk}/dismiss")
    assert again.status_code == 409


def test_dismiss_needs_change_on_both(
    make_contact: Callable[..., Contact], rep: Any, other_rep: Any, api_for: Callable[..., Any], unchanged: Any
) -> None:
    from tests.factories import share

    a = make_contact(by=rep, emails=["s@x.com"])
    b = make_contact(by=other_rep, family_name="Other", emails=["s@x.com"])
    duplicates_detect(Contact, [a.pk, b.pk])
    candidate = DuplicateCandidate.objects.get()
    with unchanged("not visible"):
        assert api_for(rep).post(f"duplicates/{candidate.pk}/dismiss").status_code == 404
    share(b, user=rep, access="view")
    with unchanged("view only"):
        assert api_for(rep).post(f"duplicates/{candidate.pk}/dismiss").status_code == 403


def test_a_records_pairs_are_read_from_the_pair_indexes() -> None:
    """The notice on a record's page (and the queue's ``record=``) reads that record's pairs by the
    pair index and the high-id index, not by walking the queue's index: written as one OR beside
    the status, both engines checked every open pair of the type (23,659 at 200,000 accounts)."""
    from guanxi.core.db import analyze_tables
    from guanxi.customers.api_duplicates import involving
    from tests.core.test_list_speed import plan_of, recorded

    DuplicateCandidate.objects.bulk_create(
        DuplicateCandidate(record_type="account", low_id=n, high_id=n + 1, score=80) for n in range(10_000, 16_000, 2)
    )
    low = DuplicateCandidate.objects.create(record_type="account", low_id=5, high_id=20, score=90)
    high = DuplicateCandidate.objects.create(record_type="account", low_id=1, high_id=5, score=70)
    DuplicateCandidate.objects.create(record_type="contact", low_id=5, high_id=6, score=90)
    analyze_tables(DuplicateCandidate, rows=3000)
    open_pairs = DuplicateCandidate.objects.filter(status="open")
    with recorded() as calls:
        found = list(involving(open_pairs, "account", 5).order_by("-score"))
    assert found == [low, high]
    plan = "\n".join(plan_of(*calls[0]))
    # SQLite names the unique pair constraint's index itself.
    pair_index = "duplicate_unique_pair" if connection.vendor == "postgresql" else "sqlite_autoindex"
    assert pair_index in plan and "duplicate_high_idx" in plan, plan
    assert "duplicate_queue_idx" not in plan, plan
