"""Deterministic generator of large customer data sets in Guanxi's CSV import format.

    python bench/_generate.py --contacts 1000000 --accounts 200000      # writes var/bench/data-.../

``dataset(contacts, accounts)`` returns the cached files, generating them only when missing: the
directory name carries the sizes, the seed and the generator version, and ``meta.json`` is
written last, so an interrupted run is never taken for a finished one.

What the data looks like: Chinese names drawn from surname/given-name frequency lists (王, 李, 张
lead), some Western names and Chinese colleagues with an English given name; companies like
上海星辰科技有限公司 or Northwind Trading Ltd; mobiles mostly +86 1xx in the formats people type
(13812345678, 138 1234 5678, +86 138-1234-5678), landlines with extensions and a few foreign
numbers; emails on company domains and free mail. About 3 % of the rows are duplicates of an
earlier row that share its email or mobile and spell the name or the company differently
(张三 / 張三 / Zhang San, 有限公司 / 有限责任公司, Ltd / Limited), as when two sources are merged.
About 0.1 % of the rows carry a typing mistake (a cut-off email or mobile) that the import must
report rather than load. One ``random.Random(seed)`` drives everything, in a fixed order.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import random
import sys
import time
from bisect import bisect
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _names as names  # noqa: E402

GENERATOR_VERSION = 1
DEFAULT_SEED = 20261202
DUPLICATE_SHARE = 0.03
BAD_SHARE = 0.001
BENCH_DIR = Path(__file__).resolve().parent.parent / "var" / "bench"

# Headers as a Chinese Excel sheet names them; the importer matches Chinese and English headers.
ACCOUNT_HEADERS = (
    "外部编号",
    "客户名称",
    "行业",
    "员工人数",
    "年营业额",
    "网站",
    "国家",
    "省份",
    "城市",
    "详细地址",
    "电话",
)
CONTACT_HEADERS = (
    "外部编号",
    "姓",
    "名",
    "手机",
    "电话",
    "邮箱",
    "公司",
    "职位",
    "部门",
    "国家",
    "省份",
    "城市",
    "微信",
)
_CHUNK = 20000


@dataclass(frozen=True)
class Dataset:
    directory: Path
    accounts_csv: Path
    contacts_csv: Path
    meta: dict[str, Any]


def dataset(
    contacts: int,
    accounts: int,
    *,
    root: Path = BENCH_DIR,
    seed: int = DEFAULT_SEED,
    force: bool = False,
    log: Any = None,
) -> Dataset:
    """The data set of this size and seed, generated into ``root`` unless it is there already."""
    directory = root / f"data-c{contacts}-a{accounts}-s{seed}-v{GENERATOR_VERSION}"
    meta_path = directory / "meta.json"
    if force or not meta_path.exists():
        started = time.perf_counter()
        if log:
            log(f"generating {contacts:,} contacts and {accounts:,} accounts into {directory} …")
        generate(directory, contacts=contacts, accounts=accounts, seed=seed)
        if log:
            log(f"generated in {time.perf_counter() - started:.1f} s")
    elif log:
        log(f"using cached data in {directory}")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    return Dataset(directory, directory / "accounts.csv", directory / "contacts.csv", meta)


class _Weighted:
    """Fast weighted choice: bisect on cumulative weights (random.choices re-checks its arguments)."""

    __slots__ = ("items", "cum", "total")

    def __init__(self, pairs: Sequence[tuple[Any, float]]):
        self.items = [item for item, _ in pairs]
        self.cum: list[float] = []
        total = 0.0
        for _, weight in pairs:
            total += weight
            self.cum.append(total)
        self.total = total

    def pick(self, rnd: Any) -> Any:
        return self.items[bisect(self.cum, rnd() * self.total)]


_TRADITIONAL = {s: t for s, t, _, _ in names.SURNAMES} | {s: t for s, t, _, _ in names.GIVEN_CHARS}
_PINYIN = {s: p for s, _, p, _ in names.SURNAMES} | {s: p for s, _, p, _ in names.GIVEN_CHARS}


def pinyin_initials(text: str) -> str:
    """Initials of a name generated here (张伟 -> zw, 欧阳娜娜 -> oynn); other characters are skipped."""
    out: list[str] = []
    rest = text
    while rest:
        for size in (2, 1):
            syllables = _PINYIN.get(rest[:size])
            if syllables and (size == 1 or " " in syllables):
                out.extend(part[0] for part in syllables.split())
                rest = rest[size:]
                break
        else:
            rest = rest[1:]
    return "".join(out)


class _Generator:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.rnd = self.rng.random
        self.surnames = _Weighted([(entry, entry[3]) for entry in names.SURNAMES])
        self.given_chars = _Weighted([(entry, entry[3]) for entry in names.GIVEN_CHARS])
        cities = [
            ((province, city, area), weight) for province, items in names.CN_PLACES for city, area, weight in items
        ]
        self.cities = _Weighted(cities)
        self.industries = _Weighted([(entry, entry[4]) for entry in names.INDUSTRIES])
        self.cn_suffixes = _Weighted(list(names.CN_SUFFIXES))
        self.en_suffixes = _Weighted(list(names.EN_SUFFIXES))
        self.titles = _Weighted(list(names.TITLES))
        self.departments = _Weighted(list(names.DEPARTMENTS))
        self.free_mail = _Weighted(list(names.FREE_MAIL))
        self.mobile_prefixes = _Weighted(list(names.MOBILE_PREFIXES))
        self.emails: set[str] = set()
        self.mobiles: set[int] = set()

    # --- small pieces ------------------------------------------------------------------------------

    def digits(self, count: int, first: str = "") -> str:
        body = str(self.rng.randrange(10 ** (count - len(first)))).zfill(count - len(first))
        return first + body

    def new_mobile(self) -> str:
        while True:
            number = self.mobile_prefixes.pick(self.rnd) + self.digits(8)
            key = int(number)
            if key not in self.mobiles:
                self.mobiles.add(key)
                return number

    def format_mobile(self, number: str) -> str:
        r = self.rnd()
        if r < 0.6:
            return number
        if r < 0.72:
            return f"{number[:3]} {number[3:7]} {number[7:]}"
        if r < 0.84:
            return f"+86 {number[:3]}-{number[3:7]}-{number[7:]}"
        if r < 0.94:
            return "+86" + number
        return f"{number[:3]}-{number[3:7]}-{number[7:]}"

    def landline(self, area: str) -> str:
        length = 7 if area in names.SEVEN_DIGIT_AREAS else 8
        number = f"0{area}-{self.digits(length, str(self.rng.randint(2, 7)))}"
        if self.rnd() < 0.3:
            number += f" 转 {self.rng.randint(100, 8999)}"
        return number

    def foreign_phone(self, place: tuple[str, str, str, tuple[str, ...], int]) -> str:
        _country, _city, prefix, firsts, length = place
        while True:
            local = self.digits(length, self.rng.choice(firsts))
            key = int(prefix.replace("+", "").replace(" ", "") + local)
            if key not in self.mobiles:
                self.mobiles.add(key)
                break
        if length == 7:
            return f"{prefix} {local[:3]} {local[3:]}"
        return f"{prefix} {local[:4]} {local[4:]}"

    def unique_email(self, local: str, domain: str) -> str:
        email = f"{local}@{domain}"
        while email in self.emails:
            email = f"{local}{self.rng.randint(1, 9999)}@{domain}"
        self.emails.add(email)
        return email

    # --- accounts --------------------------------------------------------------------------------

    def accounts(self, count: int, writer: Any) -> tuple[list[tuple[Any, ...]], int]:
        """Write ``count`` account rows; return the distinct companies (for contacts) and the duplicates."""
        rng, rnd = self.rng, self.rnd
        companies: list[tuple[Any, ...]] = []  # (name, stem, suffix, english, province, city, area, country, domain)
        seen: set[tuple[str, ...]] = set()
        rows: list[list[str]] = []
        duplicates = 0
        for index in range(count):
            external_id = f"KH{index + 1:07d}"
            if companies and rnd() < DUPLICATE_SHARE:
                # The same company from a second source: another legal-form spelling, same place and site.
                source = companies[rng.randrange(len(companies))]
                name = self.company_variant(source)
                duplicates += 1
                _n, _stem, _suffix, english, province, city, area, country, domain = source
                industry = self.industries.pick(rnd)
            else:
                industry = self.industries.pick(rnd)
                english = rnd() < 0.18
                foreign = english and rnd() < 0.5
                if foreign:
                    place = rng.choice(names.FOREIGN_PLACES)
                    country, province, city, area = place[0], "", place[1], ""
                else:
                    province, city, area = self.cities.pick(rnd)
                    country = "CN"
                while True:
                    if english:
                        words = rng.choice(names.EN_WORDS)
                        if rnd() < 0.5:
                            words += " " + rng.choice(names.EN_WORDS)
                        stem = f"{words} {industry[1]}"
                        suffix = self.en_suffixes.pick(rnd)
                        key: tuple[str, ...] = (stem,)
                    else:
                        (c1, p1), (c2, p2) = rng.choice(names.BRAND_CHARS), rng.choice(names.BRAND_CHARS)
                        stem = f"{city.removesuffix('市')}{c1}{c2}{industry[0]}"
                        suffix = self.cn_suffixes.pick(rnd)
                        key = (stem,)
                    if key not in seen:
                        seen.add(key)
                        break
                name = f"{stem} {suffix}" if english else f"{stem}{suffix}"
                if english:
                    domain = stem.lower().replace(" & ", "-").replace(" ", "-") + ".com"
                else:
                    tld = ".com" if rnd() < 0.6 else (".com.cn" if rnd() < 0.7 else ".cn")
                    trade = industry[1].split()[0].lower() if rnd() < 0.5 else ""
                    domain = f"{p1}{p2}{trade}{tld}"
                companies.append((name, stem, suffix, english, province, city, area, country, domain))
            has_site = rnd() < 0.6
            employees = str(int(math.exp(rng.gauss(3.6, 1.5))) + 1) if rnd() < 0.75 else ""
            revenue = f"{math.exp(rng.gauss(16, 1.8)):.2f}" if rnd() < 0.65 else ""
            street = f"{rng.choice(names.STREETS)}{rng.randint(1, 999)}号" if country == "CN" else ""
            phone = self.landline(area) if area and rnd() < 0.55 else ""
            rows.append(
                [
                    external_id,
                    name,
                    industry[3],
                    employees,
                    revenue,
                    f"www.{domain}" if has_site else "",
                    country,
                    province,
                    city,
                    street,
                    phone,
                ]
            )
            if len(rows) >= _CHUNK:
                writer.writerows(rows)
                rows.clear()
        writer.writerows(rows)
        return companies, duplicates

    def company_variant(self, company: tuple[Any, ...]) -> str:
        name, stem, suffix, english = company[:4]
        variants = (names.EN_SUFFIX_VARIANTS if english else names.CN_SUFFIX_VARIANTS).get(suffix)
        if not variants:
            return name
        other = self.rng.choice(variants)
        return f"{stem} {other}" if english else f"{stem}{other}"

    # --- contacts --------------------------------------------------------------------------------

    def person(self, company: tuple[Any, ...] | None) -> dict[str, Any]:
        """A new person: name parts and how the name is written."""
        rnd = self.rnd
        foreign = company is not None and company[7] != "CN"
        r = rnd()
        if (foreign and r < 0.8) or (not foreign and r < 0.06):
            given = self.rng.choice(names.ENGLISH_GIVEN)
            family = self.rng.choice(names.ENGLISH_FAMILY)
            return {"kind": "western", "family": family, "given": given, "local": f"{given}.{family}".lower()}
        surname = self.surnames.pick(rnd)
        chars = (
            [self.given_chars.pick(rnd)] if rnd() < 0.25 else [self.given_chars.pick(rnd), self.given_chars.pick(rnd)]
        )
        given = "".join(c[0] for c in chars)
        family_py = surname[2].replace(" ", "")
        given_py = "".join(c[2] for c in chars)
        if not foreign and r < 0.11:
            # A Chinese colleague who goes by an English given name: 姓 Chen, 名 Emily.
            english = self.rng.choice(names.ENGLISH_GIVEN)
            return {
                "kind": "mixed",
                "family": family_py.capitalize(),
                "given": english,
                "local": f"{english.lower()}.{family_py}",
            }
        return {
            "kind": "chinese",
            "family": surname[0],
            "given": given,
            "family_py": family_py,
            "given_py": given_py,
            "local": self.rng.choice((f"{family_py}{given_py}", f"{given_py}.{family_py}", f"{family_py}.{given_py}")),
        }

    def email_for(self, person: dict[str, Any], company: tuple[Any, ...] | None) -> str:
        r = self.rnd()
        if company is not None and r < 0.55:
            return self.unique_email(person["local"], company[8])
        if person["kind"] == "chinese" and r < 0.75:
            return self.unique_email(str(self.rng.randint(10000, 3999999999)), "qq.com")
        local = person["local"] + (str(self.rng.randint(1, 99)) if self.rnd() < 0.5 else "")
        return self.unique_email(local, self.free_mail.pick(self.rnd))

    def name_variant(self, person: dict[str, Any]) -> tuple[str, str]:
        """How a second source writes the same person's name."""
        r = self.rnd()
        if person["kind"] == "chinese":
            if r < 0.4:
                traditional = "".join(_TRADITIONAL.get(ch, ch) for ch in person["family"] + person["given"])
                family_len = len(person["family"])
                if traditional != person["family"] + person["given"]:
                    return traditional[:family_len], traditional[family_len:]
            if r < 0.75:
                return person["family_py"].capitalize(), person["given_py"].capitalize()
            return person["family"], person["given"]
        if r < 0.5 and person["given"] in names.NICKNAMES:
            return person["family"], names.NICKNAMES[person["given"]]
        if r < 0.7:
            return person["family"].upper(), person["given"]
        return person["family"], person["given"]

    def contacts(
        self, count: int, companies: list[tuple[Any, ...]], writer: Any
    ) -> tuple[int, int, dict[str, list[str]], Counter[str]]:
        rng, rnd = self.rng, self.rnd
        duplicates = round(count * DUPLICATE_SHARE) if count >= 20 else 0
        base = count - duplicates
        # Each duplicate copies one earlier row and is written some rows after it.
        sources = rng.sample(range(base - 1), duplicates) if duplicates else []
        emit_after: dict[int, list[int]] = {}
        for source in sources:
            emit_after.setdefault(rng.randint(source + 1, base - 1), []).append(source)
        needed = set(sources)
        kept: dict[int, dict[str, Any]] = {}
        samples = set(rng.sample(range(base), min(base, 600)))
        search: dict[str, list[str]] = {"name": [], "pinyin": [], "email": [], "phone": [], "english": []}
        provinces: Counter[str] = Counter()
        rows: list[list[str]] = []
        bad_rows = 0
        written = 0
        n_companies = len(companies)
        for index in range(base):
            # Contacts cluster on some accounts (a few big customers, a long tail).
            company = companies[int(n_companies * rnd() ** 2.2)] if n_companies and rnd() < 0.9 else None
            person = self.person(company)
            mobile = ""
            foreign_phone = ""
            if company is not None and company[7] != "CN":
                place = next(p for p in names.FOREIGN_PLACES if p[0] == company[7])
                foreign_phone = self.foreign_phone(place) if rnd() < 0.85 else ""
            elif rnd() < 0.92:
                mobile = self.new_mobile()
            email = self.email_for(person, company) if rnd() < 0.75 else ""
            if index in needed and not (email or mobile or foreign_phone):
                email = self.email_for(person, company)  # a duplicate is found by its email or phone
            if company is not None:
                province, city, area, country = company[4], company[5], company[6], company[7]
            else:
                (province, city, area), country = self.cities.pick(rnd), "CN"
            landline = self.landline(area) if area and rnd() < 0.15 else ""
            record = {
                **person,
                "mobile": mobile,
                "foreign_phone": foreign_phone,
                "email": email,
                "company": company,
                "province": province,
                "city": city,
                "country": country,
            }
            mobile_text = self.format_mobile(mobile) if mobile else foreign_phone
            email_text = email
            if index not in needed and rnd() < BAD_SHARE:
                bad_rows += 1
                if email and rnd() < 0.5:
                    email_text = email.split("@")[0] + "@"
                elif mobile:
                    mobile_text = mobile[:-2]
                else:
                    email_text = (person["local"] or "x") + "#example.com"
            elif index in samples:
                self.sample(search, record)
            if index in needed:
                kept[index] = record
            rows.append(
                [
                    f"LXR{written + 1:08d}",
                    person["family"],
                    person["given"],
                    mobile_text,
                    landline,
                    email_text,
                    company[0] if company else "",
                    self.titles.pick(rnd),
                    self.departments.pick(rnd),
                    "" if country == "CN" and rnd() < 0.8 else country,
                    province,
                    city,
                    self.wechat(person) if rnd() < 0.2 else "",
                ]
            )
            provinces[province] += 1
            written += 1
            for source in emit_after.pop(index, ()):
                rows.append(self.duplicate_row(kept.pop(source), written + 1))
                provinces[rows[-1][10]] += 1
                written += 1
            if len(rows) >= _CHUNK:
                writer.writerows(rows)
                rows.clear()
        writer.writerows(rows)
        assert written == count, (written, count)
        return duplicates, bad_rows, search, provinces

    def duplicate_row(self, source: dict[str, Any], line_id: int) -> list[str]:
        """The same person from a second source: same email or mobile (or both), name written differently."""
        rnd = self.rnd
        r = rnd()
        has_email, has_mobile = bool(source["email"]), bool(source["mobile"])
        if r < 0.4:
            keep_email, keep_mobile = has_email, not has_email and has_mobile
        elif r < 0.8:
            keep_email, keep_mobile = not has_mobile and has_email, has_mobile
        else:
            keep_email, keep_mobile = has_email, has_mobile
        family, given = (source["family"], source["given"]) if r >= 0.8 else self.name_variant(source)
        if keep_mobile:
            mobile = self.format_mobile(source["mobile"])
        elif not has_mobile and not keep_email:
            mobile = source["foreign_phone"]  # a contact abroad known by phone only
        else:
            mobile = self.format_mobile(self.new_mobile()) if has_mobile and rnd() < 0.3 else ""
        email = source["email"] if keep_email else ""
        if email and rnd() < 0.2:  # typed with capitals by the second source
            email = email[0].upper() + email[1:]
        company = source["company"]
        company_name = ""
        if company is not None:
            company_name = self.company_variant(company) if rnd() < 0.5 else company[0]
        return [
            f"LXR{line_id:08d}",
            family,
            given,
            mobile,
            "",
            email,
            company_name,
            self.titles.pick(rnd),
            self.departments.pick(rnd),
            "" if source["country"] == "CN" else source["country"],
            source["province"],
            source["city"],
            "",
        ]

    def wechat(self, person: dict[str, Any]) -> str:
        if self.rnd() < 0.5:
            return "wxid_" + "".join(self.rng.choice("abcdefghijkmnpqrstuvwxyz0123456789") for _ in range(12))
        return person["local"].replace(".", "_")[:20] + str(self.rng.randint(1, 9999))

    def sample(self, search: dict[str, list[str]], record: dict[str, Any]) -> None:
        if record["kind"] == "chinese":
            search["name"].append(record["family"] + record["given"])
            search["pinyin"].append(pinyin_initials(record["family"] + record["given"]))
        elif record["kind"] == "western":
            search["english"].append(f"{record['given']} {record['family']}")
        if record["email"]:
            search["email"].append(record["email"])
        if record["mobile"]:
            search["phone"].append(record["mobile"][-4:])


def generate(directory: Path, *, contacts: int, accounts: int, seed: int = DEFAULT_SEED) -> dict[str, Any]:
    """Write accounts.csv, contacts.csv and meta.json (last) into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "meta.json").unlink(missing_ok=True)
    started = time.perf_counter()
    gen = _Generator(seed)
    tmp_accounts = directory / "accounts.csv.tmp"
    tmp_contacts = directory / "contacts.csv.tmp"
    # UTF-8 with a BOM: what Excel's "CSV UTF-8" saves.
    with tmp_accounts.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(ACCOUNT_HEADERS)
        companies, account_duplicates = gen.accounts(accounts, writer)
    with tmp_contacts.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(CONTACT_HEADERS)
        contact_duplicates, bad_rows, search, provinces = gen.contacts(contacts, companies, writer)
    os.replace(tmp_accounts, directory / "accounts.csv")
    os.replace(tmp_contacts, directory / "contacts.csv")
    meta = {
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "rows": {"accounts": accounts, "contacts": contacts},
        "duplicates": {"accounts": account_duplicates, "contacts": contact_duplicates},
        "bad_rows": {"contacts": bad_rows},
        "provinces": dict(provinces.most_common()),
        "search": search,
        "seconds": round(time.perf_counter() - started, 2),
    }
    (directory / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
    return meta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--accounts", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--out", type=Path, default=BENCH_DIR, help="cache directory (default var/bench)")
    parser.add_argument("--force", action="store_true", help="generate even when cached")
    args = parser.parse_args()
    data = dataset(args.contacts, args.accounts, root=args.out, seed=args.seed, force=args.force, log=print)
    print(data.accounts_csv)
    print(data.contacts_csv)


if __name__ == "__main__":
    main()
