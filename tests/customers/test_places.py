"""The places a company's name starts with (北京, 深圳市, 南山区): dropped for the blocking key, the
guard's similar names and the duplicate scores (深圳市华信科技有限公司 = 华信科技), kept where what
follows names no company (北京银行), and two different places are two companies."""

from __future__ import annotations

import re
from collections.abc import Callable
from importlib import import_module
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import stdnum
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from guanxi.customers import places
from guanxi.customers.duplicates import (
    NAME_THRESHOLD,
    account_dup_key,
    company_parts,
    name_similarity,
    same_company_name,
    strip_company,
)
from guanxi.customers.models import Account, DuplicateCandidate
from guanxi.customers.normalize import CN_PROVINCES


def test_the_table_holds_stdnums_divisions_in_use() -> None:
    """``places`` keeps python-stdnum's prefecture- and county-level divisions of today as text; an
    upgrade that adds or renames one fails here. Four of its names are in traditional characters
    (大兴安岭's districts), and county names under three characters are left out on purpose."""
    current = re.compile(r"^(?:\[\d*-\])?([^\[\],]+)$")
    prefectures, counties = set(), set()
    for line in (Path(stdnum.__file__).parent / "cn" / "loc.dat").read_text(encoding="utf-8").splitlines():
        found = re.match(r'^ +(\d{4}) county="(.*)"$', line)
        if not found:
            continue
        code, names = found.groups()
        for name in (m.group(1) for part in names.split(",") if (m := current.match(part))):
            if len(name) < 3 or "直辖" in name or name == "市辖区" or "區" in name or code == "0000":
                continue
            (prefectures if code.endswith("00") else counties).add(name)
    assert set(places.PREFECTURES) == prefectures
    assert set(places.COUNTIES) == counties - prefectures
    assert {"深圳市", "延边朝鲜族自治州", "阿里地区"} <= prefectures and {"南山区", "义乌市", "达拉特旗"} <= counties


def test_every_place_name_names_its_division() -> None:
    names = places.place_names()
    assert names["深圳"] == names["深圳市"] == "深圳市"
    assert names["北京"] == names["北京市"] == "北京市"
    assert names["广西"] == names["广西壮族自治区"] == "广西壮族自治区"
    assert names["吉林"] == "吉林省" and names["吉林市"] == "吉林市"  # the short name is the province's
    assert "阿里" not in names and "和县" not in names  # 阿里巴巴, 和县 start too many names
    assert places.latin_place_names()["beijing"] == "北京市" and "hong" not in places.latin_place_names()
    assert len(CN_PROVINCES) == 34 and len(names) > 3000


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        ("北京华信科技有限公司", (("北京市",), "华信科技")),
        ("北京市华信科技有限公司", (("北京市",), "华信科技")),
        ("深圳市华信科技", (("深圳市",), "华信科技")),
        ("华信科技（北京）有限公司", ((), "华信科技")),
        ("广东省深圳市南山区华信科技有限公司", (("广东省", "深圳市", "南山区"), "华信科技")),
        ("浙江杭州华信", (("浙江省", "杭州市"), "华信")),
        ("北京 华信", (("北京市",), "华信")),
        ("四川长虹电器股份有限公司", (("四川省",), "长虹电器")),
        # What follows is generic words only, or one character: the place is the name.
        ("北京银行股份有限公司", ((), "北京银行")),
        ("中国银行", ((), "中国银行")),
        ("浙江杭州银行", (("浙江省",), "杭州银行")),
        ("杭州市第一人民医院", ((), "杭州市第一人民医院")),
        ("上海电气集团股份有限公司", ((), "上海电气")),
        ("北京华", ((), "北京华")),
        ("北京", ((), "北京")),
        ("北京有限公司", ((), "北京")),
        # A place's last character that makes a word with the next is no place: 市场, 市政, 区块.
        ("东方市场营销有限公司", ((), "东方市场营销")),
        ("北京市政路桥股份有限公司", ((), "北京市政路桥")),
        ("南山区块链技术有限公司", ((), "南山区块链技术")),
        # Latin names lose a province's pinyin only.
        ("Beijing Huaxin Technology Co., Ltd.", (("北京市",), "huaxin technology")),
        ("Shanghai Bank", ((), "shanghai bank")),
        ("Shenzhen Huaxin Ltd", ((), "shenzhen huaxin")),
        ("Alibaba Group Holding Ltd.", ((), "alibaba")),
    ],
)
def test_a_company_names_leading_places(name: str, parts: tuple[tuple[str, ...], str]) -> None:
    assert company_parts(name) == parts
    assert strip_company(name) == parts[1]


def test_the_blocking_key_pairs_a_name_with_and_without_its_place() -> None:
    assert account_dup_key("北京华信科技有限公司") == account_dup_key("华信科技") == "huaxinkeji"
    assert account_dup_key("深圳市华信科技") == account_dup_key("华信科技有限公司")
    assert account_dup_key("北京银行") != account_dup_key("上海银行") != account_dup_key("银行")


def test_two_places_are_two_companies() -> None:
    assert same_company_name("北京华信科技有限公司", "华信科技")
    assert same_company_name("广东深圳华信", "深圳市华信有限公司")  # one's places hold the other's
    assert name_similarity("Beijing Huaxin", "北京华信", company=True) == 100  # one place
    assert not same_company_name("深圳华信", "广州华信")
    assert not same_company_name("华心科技", "华信科技")
    assert name_similarity("北京华信科技有限公司", "华信科技", company=True) == 100
    # However long the rest, two registered places score below the threshold.
    long_a, long_b = "深圳市华信网络科技发展有限公司", "广州市华信网络科技发展有限公司"
    assert name_similarity(long_a, long_b, company=True) < NAME_THRESHOLD


@pytest.mark.django_db
def test_the_detection_pairs_a_company_with_and_without_its_place(
    make_account: Callable[..., Account], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        plain = make_account(name="华信科技有限公司")
        beijing = make_account(name="北京华信科技有限公司")
        guangzhou = make_account(name="广州华信科技有限公司")
        make_account(name="北京银行")
        make_account(name="上海银行")
    # Without a place it may be either; 北京华信 and 广州华信 are two companies.
    pairs = set(DuplicateCandidate.objects.values_list("low_id", "high_id", "score"))
    assert pairs == {(plain.pk, beijing.pk, 100), (plain.pk, guangzhou.pk, 100)}


@pytest.mark.django_db
def test_the_migration_rewrites_the_keys_stored_before_in_batches(
    make_account: Callable[..., Account], monkeypatch: pytest.MonkeyPatch
) -> None:
    migration = import_module("guanxi.customers.migrations.0027_account_dup_key_places")
    monkeypatch.setattr(migration, "BATCH", 3)
    names = ["北京华信科技有限公司", "华信科技", "深圳市远景信息技术有限公司", "北京银行", "Alibaba Co., Ltd."]
    accounts = [make_account(name=name) for name in names]
    for account in accounts:  # as detection stores them once the accounts' transaction commits
        Account.objects.filter(pk=account.pk).update(dup_key=account_dup_key(account.name))
    # The keys as stored before places were dropped (one of them in the recycle bin).
    stale = Account.all_objects.filter(pk=accounts[0].pk)
    stale.update(dup_key="beijinghuaxinkeji", deleted_at=timezone.now())
    Account.all_objects.filter(pk=accounts[2].pk).update(dup_key="shenzhenshiyuanjingxinxijishu")
    with CaptureQueriesContext(connection) as ctx:
        migration.recompute_keys(apps, SimpleNamespace(connection=connection))
    stored = dict(Account.all_objects.values_list("name", "dup_key"))
    assert stored == {name: account_dup_key(name) for name in names}
    assert stored["北京华信科技有限公司"] == "huaxinkeji"
    assert stored["深圳市远景信息技术有限公司"] == "yuanjingxinxijishu"
    # A read of three rows a batch (the last finds none), one write for the batch that changed.
    statements = [re.sub(r"^\d+ times: ", "", q["sql"]).split()[0] for q in ctx.captured_queries]
    assert statements == ["SELECT", "UPDATE", "SELECT", "SELECT"]
