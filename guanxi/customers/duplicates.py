"""Duplicate detection for accounts and contacts: blocking keys, exact and fuzzy matches, the review queue.

How it scales (1M contacts, 200k accounts): nothing is ever compared with the whole table.

* **Exact**: a contact's emails and phones are looked up in ``ContactPoint`` (indexed on kind + value),
  an account's registration number (统一社会信用代码) and its website's host (``domain``, kept here
  with the blocking key; platforms such as 1688.com left out) in their own indexes.
  A value shared by more than ``SHARED_POINT_LIMIT`` contacts (a switchboard, ``info@``) says nothing
  about who is who and is skipped.
* **Fuzzy, pinyin-aware**: every record carries a *blocking key* (``dup_key``, indexed). A contact's
  key is the letters of its name's pinyin, sorted, so 张三, 張三, "Zhang San", "San Zhang" and
  "zhangsan" share one key; an account's key is the pinyin of its name without legal suffixes,
  bracketed places and the places it starts with (阿里巴巴 = 阿里巴巴（中国）有限公司 = "Alibaba Group
  Holding Ltd."; 华信科技 = 深圳市华信科技有限公司, but 北京银行 stays itself). Only records with
  the same key are scored (rapidfuzz on the toned pinyin and the name), and contacts only when they
  are at the same company (the same account, or accounts with the same key): checking one record
  reads the handful of rows in its block, and a bulk check groups a batch by key in a few queries.

``duplicates_detect(model, pks)`` is the one entry point: the import calls it for every committed
batch, the services after a record is created or renamed. Pairs are stored once (lower id first);
a pair someone marked "not a duplicate" is never reopened.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from typing import Any

from django.db import connection, models, transaction
from django.utils.translation import gettext as _
from django_tasks import task
from rapidfuzz import fuzz

from guanxi.core.db import ANALYZE_MIN_ROWS, after_commit
from guanxi.core.search import pinyin
from guanxi.customers import places
from guanxi.customers.normalize import website_domain

#: How many rows one IN (...) list carries (well below SQLite's variable limit).
CHUNK = 5000
#: Records checked by one set of statements, and by one transaction of an import's follow-up. The
#: contacts of a large company are read once per part that links to it: at a million contacts on
#: PostgreSQL, 200,000 of them took 33 s in parts of 5,000 and 21 s in parts of 20,000 (50,000: 14 s,
#: with 60 MB more memory, which the import worker does not have to spare on SQLite).
PART = 20_000
#: An email or phone shared by more contacts than this is a shared line, not a sign of a duplicate.
SHARED_POINT_LIMIT = 5
#: At most this many records of one block are paired with a record (a block of 10,000 "测试公司"
#: must not make 50 million pairs).
BLOCK_LIMIT = 20
#: Name similarity (0-100) from which two names count as the same.
NAME_THRESHOLD = 85
KEY_LENGTH = 100

# --- keys -------------------------------------------------------------------------------------------------

_CJK_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_TOKEN_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[a-z0-9]+")
_BRACKETS_RE = re.compile(r"[(（\[【][^)）\]】]*[)）\]】]")
# Legal forms and group words that do not tell two companies apart; longest first.
_CN_SUFFIXES = (
    "集团股份有限公司",
    "股份有限公司",
    "有限责任公司",
    "集团有限公司",
    "有限公司",
    "分公司",
    "集团",
    "公司",
    "控股",
    "股份",
)
_LATIN_SUFFIXES = frozenset(
    {
        "co",
        "company",
        "ltd",
        "limited",
        "inc",
        "incorporated",
        "corp",
        "corporation",
        "gmbh",
        "llc",
        "plc",
        "ag",
        "sa",
        "bv",
        "kg",
        "group",
        "holding",
        "holdings",
        "the",
    }
)


@lru_cache(maxsize=65536)
def _syllable(char: str) -> str:
    readings = pinyin.char_readings(char) if _CJK_RE.match(char) else ()
    return pinyin.plain(readings[0]) if readings else char


@lru_cache(maxsize=65536)
def _toned(char: str) -> str:
    readings = pinyin.char_readings(char) if _CJK_RE.match(char) else ()
    return pinyin.toned(readings[0]) if readings else char


_ACCENTED_RE = re.compile(r"[\u00c0-\u024f\u1e00-\u1eff]")


def _fold(text: str) -> str:
    """Lower case, full-width to half-width, accents off (José → jose)."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    if text.isascii() or not _ACCENTED_RE.search(text):
        return text  # the common cases (ASCII, Chinese) skip the decomposition
    text = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def pinyin_tokens(text: str, *, toned: bool = False) -> list[str]:
    """A name as pinyin syllables and Latin words: 张三 → [zhang, san]; "Zhang-San" → [zhang, san]."""
    convert = _toned if toned else _syllable
    return [convert(token) for token in _TOKEN_RE.findall(_fold(text))]


@lru_cache(maxsize=65536)  # names repeat less than characters; the pinyin is cached per character
def contact_dup_key(family_name: str, given_name: str) -> str:
    """The contact's blocking key: the letters of its name's pinyin, sorted (张三 = "San Zhang")."""
    letters = "".join(pinyin_tokens(f"{family_name} {given_name}"))
    return "".join(sorted(letters))[:KEY_LENGTH]


def strip_company(name: str) -> str:
    """The part of a company name that tells it apart: no brackets, legal forms, group words or the
    places it starts with (``company_parts``)."""
    return company_parts(name)[1]


def company_parts(name: str) -> tuple[tuple[str, ...], str]:
    """The places a company's name starts with (each the division's full name) and the part that
    tells it apart: 广东省深圳市华信科技有限公司 → ((广东省, 深圳市), 华信科技).

    The places go as the legal form and a bracketed place do: people write the company with them or
    without (深圳华信科技 / 华信科技有限公司 / 华信科技（深圳）有限公司), and the blocking key, the
    guard's similar names and the name scores must see one company. Done here and not only in the key
    because the rest compare these parts: a key that dropped the place would block 北京华信 with
    华信, and its score would still part them. The places are read by a lookup of the name's first
    two characters (``places.leading``): the key is on the import's hot path."""
    text = _BRACKETS_RE.sub(" ", _fold(name))
    changed = True
    while changed:
        changed = False
        stripped = text.strip(" .,-&")
        for suffix in _CN_SUFFIXES:
            if stripped.endswith(suffix) and len(stripped) > len(suffix):
                text, changed = stripped[: -len(suffix)], True
                break
    words = re.findall(r"[a-z0-9]+|[^\sa-z0-9.,&]+", text)
    while len(words) > 1 and words[-1] in _LATIN_SUFFIXES:
        words.pop()
    if len(words) > 1 and words[0] == "the":
        words.pop(0)
    return places.leading(" ".join(words))


def same_company_name(a: str, b: str) -> bool:
    """Whether two company names are the same characters but for legal forms, group words and places,
    and name no two different places (``places.differ``)."""
    (places_a, rest_a), (places_b, rest_b) = company_parts(a), company_parts(b)
    return bool(rest_a) and rest_a == rest_b and not places.differ(places_a, places_b)


@lru_cache(maxsize=32768)  # new accounts of an import are mostly new names: a bigger cache only holds memory
def account_dup_key(name: str) -> str:
    """The account's blocking key: the pinyin of its stripped name (阿里巴巴（中国）有限公司 → alibaba)."""
    return "".join(pinyin_tokens(strip_company(name)))[:KEY_LENGTH]


def _rotations(tokens: list[str]) -> set[str]:
    return {"".join(tokens[i:] + tokens[:i]) for i in range(len(tokens))} if tokens else set()


def name_similarity(a: str, b: str, *, company: bool = False) -> int:
    """0-100: how alike two names are, reading Chinese by its toned pinyin.

    Same toned pinyin (张三 / 張三, simplified and traditional) is 100; the same sounds with other
    tones or characters (张伟 / 张玮) score a little lower; otherwise rapidfuzz on the pinyin, with
    the word order ignored (San Zhang / Zhang San). ``company``: two company names, compared
    without legal forms and places (``company_parts``); two registered in different places score
    below ``NAME_THRESHOLD``, however alike the rest.
    """
    if company:
        (places_a, a), (places_b, b) = company_parts(a), company_parts(b)
        if places.differ(places_a, places_b):
            # Registered in two places: two companies, however alike the rest (深圳华信 / 广州华信).
            return min(name_similarity("".join(places_a) + a, "".join(places_b) + b), NAME_THRESHOLD - 1)
    toned_a, toned_b = pinyin_tokens(a, toned=True), pinyin_tokens(b, toned=True)
    if toned_a and sorted(toned_a) == sorted(toned_b):
        return 100
    plain_a, plain_b = pinyin_tokens(a), pinyin_tokens(b)
    # Family name first or last, and "San Feng" / "Sanfeng": compare every rotation, spaces dropped.
    spelled_a, spelled_b = _rotations(plain_a), _rotations(plain_b)
    if plain_a and (spelled_a & spelled_b or sorted(plain_a) == sorted(plain_b)):
        # Romanised on one side: no tones to compare, the same name. Both in characters: homophones.
        both_chinese = bool(_CJK_RE.search(a)) and bool(_CJK_RE.search(b))
        return 90 if both_chinese else 100
    score = max(
        max((fuzz.ratio(x, y) for x in spelled_a for y in spelled_b), default=0),
        fuzz.token_sort_ratio(" ".join(plain_a), " ".join(plain_b)),
    )
    return int(round(score))


# --- the queue --------------------------------------------------------------------------------------------


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _record_type(model: type[models.Model]) -> str:
    from guanxi.customers.models import Account, Contact

    if model is Account:
        return "account"
    if model is Contact:
        return "contact"
    raise ValueError(f"no duplicate detection for {model.__name__}")


class _Pairs:
    """Pairs found in one run, each with its best score and every reason, keyed (low, high)."""

    def __init__(self) -> None:
        self.found: dict[tuple[int, int], dict[str, Any]] = {}

    def add(self, a: int, b: int, score: int, reason: dict[str, Any]) -> None:
        if a == b:
            return
        key = (a, b) if a < b else (b, a)
        entry = self.found.setdefault(key, {"score": 0, "reasons": []})
        entry["score"] = max(entry["score"], score)
        if reason not in entry["reasons"]:
            entry["reasons"].append(reason)


# --- set-based SQL ------------------------------------------------------------------------------------------
#
# A batch of ids travels as ONE parameter (a JSON array on SQLite, an array on PostgreSQL) and the
# joins run inside the database, so a 5,000-row batch costs a few statements that return only the
# pairs, not 5,000-item IN lists and every row back to Python. Records in the recycle bin are
# filtered on each joined row (``_live``); the ``dup_key`` indexes are plain, not partial, so that
# filter need not be indexable.


def _ids_sql() -> str:
    """A table expression with one column ``id`` from the one id-list parameter."""
    if connection.vendor == "postgresql":
        return "SELECT unnest(%s::bigint[]) AS id"
    return "SELECT CAST(value AS INTEGER) AS id FROM json_each(%s)"


def _live(alias: str) -> str:
    """``alias`` is not in the recycle bin. On SQLite the column is wrapped (``+``) so the planner never
    walks the ``deleted_at`` index (every live row) instead of the batch's ids and the key index."""
    return f"+{alias}.deleted_at IS NULL" if connection.vendor == "sqlite" else f"{alias}.deleted_at IS NULL"


def _join() -> str:
    """SQLite's CROSS JOIN keeps the written order: the batch first, then index lookups from it."""
    return "CROSS JOIN" if connection.vendor == "sqlite" else "JOIN"


def _keys_sql() -> str:
    """A table expression with one column ``key`` from the one key-list parameter."""
    if connection.vendor == "postgresql":
        return "SELECT unnest(%s::text[]) AS key"
    return "SELECT value AS key FROM json_each(%s)"


def _keys_param(keys: Sequence[str]) -> Any:
    return list(keys) if connection.vendor == "postgresql" else json.dumps(list(keys), ensure_ascii=False)


def _ids_param(ids: Sequence[int]) -> Any:
    return list(ids) if connection.vendor == "postgresql" else json.dumps(list(ids))


def _table(model_name: str) -> str:
    from django.apps import apps

    return connection.ops.quote_name(apps.get_model("customers", model_name)._meta.db_table)


def _fetch(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def store_keys(model: type[models.Model], changed: list[tuple[str, int]], column: str = "dup_key") -> None:
    """Write blocking keys (``column``: ``dup_key`` or an account's ``domain``) that differ from the
    stored ones (one statement per chunk)."""
    if not changed:
        return
    table = connection.ops.quote_name(model._meta.db_table)
    column = connection.ops.quote_name(column)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for part in _chunks(changed):
                cursor.execute(
                    f"UPDATE {table} AS t SET {column} = v.key FROM unnest(%s::text[], %s::bigint[]) AS v(key, id) "  # noqa: S608 - table names from model meta; values are parameters
                    "WHERE t.id = v.id",
                    [[k for k, _pk in part], [i for _key, i in part]],
                )
        else:
            cursor.executemany(f"UPDATE {table} SET {column} = %s WHERE id = %s", changed)  # noqa: S608 - table names from model meta; values are parameters


def _refresh_keys(model_name: str, ids: Sequence[int]) -> dict[int, str]:
    """Compute the blocking keys of these records (live ones), store those that changed, return them all."""
    from django.apps import apps

    model = apps.get_model("customers", model_name)
    table, join, live = _table(model_name), _join(), _live("t")
    keys: dict[int, str] = {}
    source = f"FROM ({_ids_sql()}) b {join} {table} t ON t.id = b.id WHERE {live}"
    if model_name == "Contact":
        sql = f"SELECT t.id, t.family_name, t.given_name, t.dup_key {source}"  # noqa: S608 - names from model meta
        rows = _fetch(sql, [_ids_param(ids)])
        for pk, family, given, _stored in rows:
            keys[pk] = contact_dup_key(family, given)
    else:
        sql = f"SELECT t.id, t.name, t.website, t.domain, t.dup_key {source}"  # noqa: S608 - names from model meta
        rows = _fetch(sql, [_ids_param(ids)])
        domains = {pk: website_domain(website) for pk, _name, website, _domain, _stored in rows}
        changed = [(domains[row[0]], row[0]) for row in rows if domains[row[0]] != row[3]]
        store_keys(model, changed, "domain")
        if len(changed) >= ANALYZE_MIN_ROWS:
            # Many hosts the statistics do not know yet (accounts from before the column, an import
            # that changed websites): without them the planner takes every host for the empty one
            # and counts its holders by reading the whole table (see ``_detect_websites``).
            with connection.cursor() as cursor:
                target = "account_domain_idx" if connection.vendor == "sqlite" else f"{table} (domain)"
                cursor.execute(f"ANALYZE {target}")
        for pk, name, *_rest in rows:
            keys[pk] = account_dup_key(name)
    stored_keys = {row[0]: row[-1] for row in rows}
    store_keys(model, [(key, pk) for pk, key in keys.items() if key != stored_keys[pk]])
    return keys


def _names(model_name: str, column: str, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    table = _table(model_name)
    sql = f"SELECT t.id, t.{column} FROM ({_ids_sql()}) b {_join()} {table} t ON t.id = b.id"  # noqa: S608 - see _table
    rows = _fetch(sql, [_ids_param(sorted(ids))])
    return dict(rows)


def _detect_accounts(ids: list[int], pairs: _Pairs) -> None:
    _refresh_keys("Account", ids)
    account = _table("Account")
    rows = _fetch(
        f"""
        SELECT x.a, x.o FROM (
            SELECT m.id AS a, o.id AS o, ROW_NUMBER() OVER (PARTITION BY m.id ORDER BY o.id) AS n
            FROM ({_ids_sql()}) b
            {_join()} {account} m ON m.id = b.id AND {_live("m")} AND m.dup_key <> ''
            {_join()} {account} o ON o.dup_key = m.dup_key AND {_live("o")} AND o.id <> m.id
        ) x WHERE x.n <= %s
        """,  # noqa: S608 - table names from model meta; values are parameters
        [_ids_param(ids), BLOCK_LIMIT],
    )
    names = _names("Account", "name", {pk for row in rows for pk in row})
    for a, b in rows:
        score = name_similarity(names[a], names[b], company=True)
        if score >= NAME_THRESHOLD:
            pairs.add(a, b, score, {"kind": "company_name", "similarity": score})
    # One registration number (统一社会信用代码) is one company, whatever the names say (read from
    # the number's index).
    same_number = _fetch(
        f"""
        SELECT x.a, x.o, x.number FROM (
            SELECT m.id AS a, o.id AS o, m.registration_number AS number,
                   ROW_NUMBER() OVER (PARTITION BY m.id ORDER BY o.id) AS n
            FROM ({_ids_sql()}) b
            {_join()} {account} m ON m.id = b.id AND {_live("m")} AND m.registration_number <> ''
            {_join()} {account} o ON o.registration_number = m.registration_number AND {_live("o")} AND o.id <> m.id
        ) x WHERE x.n <= %s
        """,  # noqa: S608 - table names from model meta; values are parameters
        [_ids_param(ids), BLOCK_LIMIT],
    )
    for a, b, number in same_number:
        pairs.add(a, b, 100, {"kind": "registration_number", "value": number})
    _detect_websites(ids, pairs)


def _detect_websites(ids: list[int], pairs: _Pairs) -> None:
    """One web address's host (without www.) is most likely one company: the companies holding the
    batch's hosts, grouped by host; a host more than ``SHARED_POINT_LIMIT`` companies give (a
    platform, a group's shared site) says nothing and is skipped.

    Grouped in one pass, not counted host by host: right after hosts are written in bulk, PostgreSQL's
    statistics may still say every company has none, and then it takes any one host for the whole
    table. A count per host (a correlated subquery with a LIMIT) was then read by scanning the table
    for each of the batch's hosts (the bench's 20,000 accounts a part ran for ten minutes); grouped,
    the worst plan reads the table once."""
    account, join = _table("Account"), _join()
    shared = _fetch(
        f"""
        SELECT o.domain FROM {account} o
        WHERE o.domain IN (
            SELECT m.domain FROM ({_ids_sql()}) b
            {join} {account} m ON m.id = b.id AND {_live("m")} AND m.domain <> ''
        ) AND {_live("o")}
        GROUP BY o.domain HAVING COUNT(*) BETWEEN 2 AND %s
        """,  # noqa: S608 - table names from model meta; values are parameters
        [_ids_param(ids), SHARED_POINT_LIMIT],
    )
    if not shared:
        return
    holders: dict[tuple[str, str], list[int]] = {}
    for part in _chunks([domain for (domain,) in shared]):
        marks = ", ".join(["%s"] * len(part))
        sql = f"SELECT o.id, o.domain FROM {account} o WHERE o.domain IN ({marks}) AND {_live('o')}"  # noqa: S608 - table name from model meta; hosts are parameters
        for pk, domain in _fetch(sql, part):
            holders.setdefault(("website", domain), []).append(pk)
    _pair_holders(holders, set(ids), pairs, 95)


def _detect_contact_points(ids: list[int], pairs: _Pairs) -> None:
    """Same email or phone: the batch's distinct values against the value index; shared lines skipped.

    Each value's holders are counted at most ``SHARED_POINT_LIMIT + 1`` deep, so a switchboard number
    held by 10,000 contacts costs what a private one costs.
    """
    point, contact, join = _table("ContactPoint"), _table("Contact"), _join()
    sql = f"""
        WITH mine AS (
            SELECT DISTINCT m.kind, m.value FROM ({_ids_sql()}) b {join} {point} m ON m.contact_id = b.id
        ),
        few AS (
            SELECT mine.kind, mine.value FROM mine
            WHERE (SELECT COUNT(*) FROM (
                SELECT 1 FROM {point} s WHERE s.kind = mine.kind AND s.value = mine.value LIMIT %s
            ) z) BETWEEN 2 AND %s
        )
        SELECT o.contact_id, o.kind, o.value FROM few
        {join} {point} o ON o.kind = few.kind AND o.value = few.value
        {join} {contact} oc ON oc.id = o.contact_id AND {_live("oc")}
    """  # noqa: S608 - table names from model meta; values are parameters
    holders: dict[tuple[str, str], list[int]] = {}
    for contact_id, kind, value in _fetch(sql, [_ids_param(ids), SHARED_POINT_LIMIT + 1, SHARED_POINT_LIMIT]):
        holders.setdefault((kind, value), []).append(contact_id)
    _pair_holders(holders, set(ids), pairs, 100)


def _pair_holders(holders: dict[tuple[str, str], list[int]], batch: set[int], pairs: _Pairs, score: int) -> None:
    """Every two records holding one (kind, value), at least one of them from the batch."""
    for (kind, value), records in holders.items():
        records = sorted(set(records))
        for i, a in enumerate(records):
            for b in records[i + 1 :]:
                if a in batch or b in batch:
                    pairs.add(a, b, score, {"kind": kind, "value": value})


def _detect_contact_names(ids: list[int], pairs: _Pairs) -> None:
    """Same name key at the same company: the same account, or accounts whose names block together."""
    link, contact, account = _table("AccountContact"), _table("Contact"), _table("Account")
    join = _join()
    # The batch's links: contact, account, the contact's name key, the account's key.
    mine = _fetch(
        f"SELECT l.contact_id, l.account_id, c.dup_key, a.dup_key FROM ({_ids_sql()}) b "  # noqa: S608 - see _table
        f"{join} {link} l ON l.contact_id = b.id "
        f"{join} {contact} c ON c.id = l.contact_id AND {_live('c')} "
        f"{join} {account} a ON a.id = l.account_id",
        [_ids_param(ids)],
    )
    mine = [row for row in mine if row[2]]
    if not mine:
        return
    unkeyed = sorted({aid for _cid, aid, _nk, ak in mine if not ak})
    if unkeyed:  # accounts written without detection (a bulk load) get their keys now
        keys = _refresh_keys("Account", unkeyed)
        mine = [(cid, aid, nk, ak or keys.get(aid, "")) for cid, aid, nk, ak in mine]
    # A company is an account key, or the account itself when its name gives no key.
    company_of = {aid: (f"k:{ak}" if ak else f"a:{aid}") for _cid, aid, _nk, ak in mine}
    company_keys = sorted({ak for _cid, _aid, _nk, ak in mine if ak})
    if company_keys:
        for aid, ak in _fetch(
            f"SELECT s.id, s.dup_key FROM ({_keys_sql()}) k {join} {account} s ON s.dup_key = k.key "  # noqa: S608
            f"WHERE {_live('s')}",
            [_keys_param(company_keys)],
        ):
            company_of[aid] = f"k:{ak}"
    wanted = {(company_of[aid], nk) for _cid, aid, nk, _ak in mine}
    blocks: dict[tuple[str, str], dict[int, int]] = {}
    for aid, cid, nk in _fetch(
        f"SELECT o.account_id, o.contact_id, oc.dup_key FROM ({_ids_sql()}) b "  # noqa: S608 - see _table
        f"{join} {link} o ON o.account_id = b.id "
        f"{join} {contact} oc ON oc.id = o.contact_id AND {_live('oc')} "
        f"WHERE oc.dup_key IN ({_keys_sql()})",
        [_ids_param(sorted(company_of)), _keys_param(sorted({nk for _b, nk in wanted}))],
    ):
        block = (company_of[aid], nk)
        if block in wanted:
            blocks.setdefault(block, {})[cid] = aid
    batch = set(ids)
    found = [
        (a, b, members[a], members[b]) for members in blocks.values() for a, b in _block_pairs(list(members), batch)
    ]
    names = _names("Contact", "display_name", {pk for a, b, _x, _y in found for pk in (a, b)})
    for a, b, account_a, account_b in found:
        score = name_similarity(names[a], names[b])
        if score >= NAME_THRESHOLD:
            reason: dict[str, Any] = {"kind": "name", "similarity": score, "account": account_a}
            if account_a != account_b:
                reason["other_account"] = account_b
            pairs.add(a, b, min(score, 95), reason)


def _block_pairs(members: list[int], batch: set[int]) -> Iterator[tuple[int, int]]:
    """Pairs inside one block that involve the batch; each batch record meets at most BLOCK_LIMIT others."""
    members = sorted(set(members))
    if len(members) < 2:
        return
    if len(members) <= BLOCK_LIMIT + 1:
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                if a in batch or b in batch:
                    yield a, b
        return
    for pk in members:
        if pk in batch:
            others = [m for m in members if m != pk][:BLOCK_LIMIT]
            for other in others:
                yield pk, other


def _detect_contacts(ids: list[int], pairs: _Pairs) -> None:
    _refresh_keys("Contact", ids)
    _detect_contact_points(ids, pairs)
    _detect_contact_names(ids, pairs)


def _queue(record_type: str, pairs: _Pairs) -> int:
    """Add the pairs not yet in the queue (whatever their status there); returns how many were added."""
    from guanxi.customers.models import DuplicateCandidate

    if not pairs.found:
        return 0
    found = sorted(pairs.found)
    known: set[tuple[int, int]] = set()
    table = _table("DuplicateCandidate")
    for part in _chunks(sorted({low for low, _high in found})):
        known.update(
            _fetch(
                f"SELECT d.low_id, d.high_id FROM ({_ids_sql()}) b {_join()} {table} d ON d.low_id = b.id "  # noqa: S608 - table names from model meta; values are parameters
                "WHERE d.record_type = %s",
                [_ids_param(part), record_type],
            )
        )
    new = [
        DuplicateCandidate(
            record_type=record_type,
            low_id=low,
            high_id=high,
            score=pairs.found[(low, high)]["score"],
            reasons=pairs.found[(low, high)]["reasons"],
        )
        for low, high in found
        if (low, high) not in known
    ]
    # ignore_conflicts: two imports may find the same pair at the same moment.
    DuplicateCandidate.objects.bulk_create(new, batch_size=1000, ignore_conflicts=True)
    return len(new)


def duplicates_detect(model: type[models.Model], pks: Iterable[int]) -> int:
    """Look for duplicates of these records (bulk, with blocking) and queue candidate pairs for review.

    Also (re)computes the records' blocking keys, so callers need not (an import may set ``dup_key``
    itself with ``contact_dup_key`` / ``account_dup_key`` and save the update). Records in the recycle
    bin are neither checked nor matched. Returns how many new candidate pairs were queued.
    """
    record_type = _record_type(model)
    ids = sorted({int(pk) for pk in pks})
    if not ids:
        return 0
    pairs = _Pairs()
    with transaction.atomic():
        for part in _chunks(ids, PART):
            if record_type == "account":
                _detect_accounts(list(part), pairs)
            else:
                _detect_contacts(list(part), pairs)
        return _queue(record_type, pairs)


def detects(model: type[models.Model]) -> bool:
    """Whether ``duplicates_detect`` looks at records of this model."""
    try:
        _record_type(model)
    except ValueError:
        return False
    return True


@task()
def duplicates_detect_ranges(ranges: dict[str, list[list[int]]]) -> int:
    """Duplicate detection over id ranges, ``{"customers.contact": [[first, last], ...]}``: the follow-up
    of an import (the ids it wrote), ``PART`` ids per transaction. Ids that are gone are passed over."""
    from django.apps import apps

    from guanxi.core.imports.bulk import engine

    queued = 0
    # With the import's connection settings: the detection reads name keys across the whole table,
    # and through SQLite's memory map every page it touched would count in the worker's memory
    # (bench/_import_probe.py --detect, 300k contacts: peak RSS 486 -> 352 MB with the session).
    with engine().import_session():
        for label, spans in ranges.items():
            model = apps.get_model(label)
            for lo, hi in spans:
                for start in range(int(lo), int(hi) + 1, PART):
                    queued += duplicates_detect(model, range(start, min(int(hi), start + PART - 1) + 1))
    return queued


def detect_after_commit(model: type[models.Model], pks: Iterable[int]) -> None:
    """Run detection for these records once the current transaction commits (services call this)."""
    after_commit(("duplicates", model), list(pks), lambda ids: duplicates_detect(model, sorted(set(ids))))


# --- how a pair reads -------------------------------------------------------------------------------------


def reason_text(reason: dict[str, Any], account_names: dict[int, str] | None = None) -> str:
    """One reason, in the reader's language: "same email li@x.com", "name 92% similar, same company"."""
    kind = reason.get("kind")
    if kind == "email":
        return _("same email %(value)s") % {"value": reason.get("value", "")}
    if kind == "phone":
        return _("same phone %(value)s") % {"value": reason.get("value", "")}
    if kind == "registration_number":
        return _("same registration number %(value)s") % {"value": reason.get("value", "")}
    if kind == "website":
        return _("same website %(value)s") % {"value": reason.get("value", "")}
    if kind == "company_name":
        return _("company name %(similarity)s%% similar") % {"similarity": reason.get("similarity", 0)}
    if kind == "name":
        names = account_names or {}
        company = names.get(reason.get("account") or 0)
        if company:
            return _("name %(similarity)s%% similar, same company (%(company)s)") % {
                "similarity": reason.get("similarity", 0),
                "company": company,
            }
        return _("name %(similarity)s%% similar, same company") % {"similarity": reason.get("similarity", 0)}
    return str(kind or "")
