"""The benchmark data generator (bench/_generate.py): import format, realism, duplicates, determinism.

The benchmark itself never runs in the test suite; this checks at a small size that the data it
feeds the import is what the issue asks for.
"""

from __future__ import annotations

import csv
import importlib.util
import re
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

from guanxi.customers.normalize import normalize_cn_province, normalize_email, normalize_phone

BENCH = Path(__file__).resolve().parent.parent / "bench"
CONTACTS, ACCOUNTS = 2000, 400
HAN = re.compile("[\u4e00-\u9fff]")
ELAPSED: list[float] = []


def _load_generator() -> ModuleType:
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location("bench_generate", BENCH / "_generate.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


@pytest.fixture(scope="module")
def gen() -> ModuleType:
    return _load_generator()


@pytest.fixture(scope="module")
def data(gen: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> object:
    root = tmp_path_factory.mktemp("bench")
    started = time.perf_counter()
    ds = gen.dataset(CONTACTS, ACCOUNTS, root=root)
    ELAPSED.append(time.perf_counter() - started)
    return ds


def _rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "UTF-8 with BOM, as Excel saves it"
    text = raw.decode("utf-8")  # raises on anything that is not UTF-8
    reader = csv.DictReader(text.removeprefix("\ufeff").splitlines())
    return list(reader.fieldnames or []), list(reader)


def _phone_key(text: str) -> str:
    digits = "".join(ch for ch in text if ch.isdigit())
    return digits[2:] if len(digits) == 13 and digits.startswith("86") else digits


def test_generates_quickly_with_import_headers(data: object, gen: ModuleType) -> None:
    assert ELAPSED[0] < 10
    headers, contacts = _rows(data.contacts_csv)  # type: ignore[attr-defined]
    assert headers == list(gen.CONTACT_HEADERS)
    for header in ("姓", "名", "手机", "邮箱", "公司", "职位", "部门", "省份", "城市", "外部编号"):
        assert header in headers
    assert len(contacts) == CONTACTS
    account_headers, accounts = _rows(data.accounts_csv)  # type: ignore[attr-defined]
    assert account_headers == list(gen.ACCOUNT_HEADERS)
    assert len(accounts) == ACCOUNTS
    assert len({r["外部编号"] for r in contacts}) == CONTACTS
    assert len({r["外部编号"] for r in accounts}) == ACCOUNTS


def test_mixed_chinese_and_english(data: object) -> None:
    _, contacts = _rows(data.contacts_csv)  # type: ignore[attr-defined]
    chinese = [r for r in contacts if HAN.search(r["姓"] + r["名"])]
    english = [r for r in contacts if re.fullmatch(r"[A-Za-zÀ-ÿ]+", r["名"])]
    assert 0.7 * CONTACTS < len(chinese) < 0.97 * CONTACTS
    assert len(english) > 0.03 * CONTACTS
    # Surnames follow the frequency list: 王, 李 and 张 lead.
    families = sorted({r["姓"] for r in chinese}, key=lambda f: -sum(r["姓"] == f for r in chinese))
    assert set(families[:5]) & {"王", "李", "张"}
    _, accounts = _rows(data.accounts_csv)  # type: ignore[attr-defined]
    names = [r["客户名称"] for r in accounts]
    assert sum(n.endswith("有限公司") for n in names) > 0.4 * ACCOUNTS
    assert sum(bool(re.search(r"(Ltd|Limited|Inc|LLC|GmbH|Corp)\.?$", n)) for n in names) > 0.05 * ACCOUNTS
    # Contacts name companies of the accounts file (or a suffix variant of one).
    companies = [r["公司"] for r in contacts if r["公司"]]
    assert sum(c in set(names) for c in companies) > 0.85 * len(companies)


def test_values_normalise_except_the_counted_typos(data: object) -> None:
    _, contacts = _rows(data.contacts_csv)  # type: ignore[attr-defined]
    bad = 0
    mobiles = 0
    for row in contacts:
        failed = False
        for column in ("手机", "电话"):
            if row[column]:
                try:
                    phone = normalize_phone(row[column], row["国家"] or "CN")
                except ValueError:
                    failed = True
                    continue
                mobiles += column == "手机" and phone.e164.startswith("+861")
        if row["邮箱"]:
            try:
                normalize_email(row["邮箱"])
            except ValueError:
                failed = True
        if row["省份"]:
            normalize_cn_province(row["省份"])
        bad += failed
    assert bad == data.meta["bad_rows"]["contacts"]  # type: ignore[attr-defined]
    assert mobiles > 0.7 * CONTACTS  # mostly +86 1xx mobiles
    _, accounts = _rows(data.accounts_csv)  # type: ignore[attr-defined]
    for row in accounts:
        if row["电话"]:
            normalize_phone(row["电话"])


def test_duplicate_share_in_range(data: object) -> None:
    _, contacts = _rows(data.contacts_csv)  # type: ignore[attr-defined]
    seen_emails: set[str] = set()
    seen_phones: set[str] = set()
    duplicates = 0
    variants = 0
    by_key: dict[str, dict[str, str]] = {}
    for row in contacts:
        email = row["邮箱"].lower()
        phone = _phone_key(row["手机"])
        earlier = (email and email in seen_emails) or (phone and phone in seen_phones)
        if earlier:
            duplicates += 1
            first = by_key.get(email) or by_key.get(phone)
            if first and (first["姓"], first["名"]) != (row["姓"], row["名"]):
                variants += 1  # 张三 / 張三 / Zhang San
        for key, seen in ((email, seen_emails), (phone, seen_phones)):
            if key:
                seen.add(key)
                by_key.setdefault(key, row)
    share = duplicates / CONTACTS
    assert 0.02 <= share <= 0.045, share
    assert duplicates == data.meta["duplicates"]["contacts"]  # type: ignore[attr-defined]
    assert variants > duplicates / 3


def test_cached_and_deterministic(data: object, gen: ModuleType, tmp_path: Path) -> None:
    before = data.contacts_csv.stat().st_mtime_ns  # type: ignore[attr-defined]
    again = gen.dataset(CONTACTS, ACCOUNTS, root=data.directory.parent)  # type: ignore[attr-defined]
    assert again.contacts_csv.stat().st_mtime_ns == before  # not regenerated
    other = gen.dataset(CONTACTS, ACCOUNTS, root=tmp_path)
    assert other.contacts_csv.read_bytes() == data.contacts_csv.read_bytes()  # type: ignore[attr-defined]
    assert other.accounts_csv.read_bytes() == data.accounts_csv.read_bytes()  # type: ignore[attr-defined]
    third = gen.dataset(CONTACTS, ACCOUNTS, root=tmp_path / "s", seed=7)
    assert third.contacts_csv.read_bytes() != other.contacts_csv.read_bytes()


def test_search_samples_match_rows(data: object, gen: ModuleType) -> None:
    search = data.meta["search"]  # type: ignore[attr-defined]
    assert search["name"] and search["pinyin"] and search["email"] and search["phone"]
    _, contacts = _rows(data.contacts_csv)  # type: ignore[attr-defined]
    names = {r["姓"] + r["名"] for r in contacts}
    emails = {r["邮箱"] for r in contacts}
    assert set(search["name"]) <= names
    assert set(search["email"]) <= emails
    assert all(re.fullmatch(r"\d{4}", p) for p in search["phone"])
    assert gen.pinyin_initials("张伟") == "zw"
    assert gen.pinyin_initials("欧阳娜娜") == "oynn"
    assert all(re.fullmatch("[a-z]{2,5}", p) for p in search["pinyin"])
