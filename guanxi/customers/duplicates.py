"""Duplicate detection for accounts and contacts: blocking keys, exact and fuzzy matches, the review queue.

How it scales (1M contacts, 200k accounts): nothing is ever compared with the whole table.

* **Exact**: a contact's emails and phones are looked up in ``ContactPoint`` (indexed on kind + value).
  A value shared by more than ``SHARED_POINT_LIMIT`` contacts (a switchboard, ``info@``) says nothing
  about who is who and is skipped.
* **Fuzzy, pinyin-aware**: every record carries a *blocking key* (``dup_key``, indexed). A contact's
  key is the letters of its name's pinyin, sorted, so 张三, 張三, "Zhang San", "San Zhang" and
  "zhangsan" share one key; an account's key is the pinyin of its name without legal suffixes and
  bracketed places (阿里巴巴 = 阿里巴巴（中国）有限公司 = "Alibaba Group Holding Ltd."). Only records with
  the same key are scored (rapidfuzz on the toned pinyin and the name), and contacts only when they
  are at the same company (the same account, or accounts with the same key): checking one record
  reads the handful of rows in its block, and a bulk check groups a batch by key in a few queries.

``duplicates_detect(model, pks)`` is the one entry point: the import calls it for every committed
batch, the services after a record is created or renamed. Pairs are stored once (lower id first);
a pair someone marked "not a duplicate" is never reopened.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from itertools import combinations, islice
from typing import Any

from django.db import connection, models, transaction
from django.utils.translation import gettext as _
from pypinyin import Style, lazy_pinyin
from rapidfuzz import fuzz

#: How many rows one IN (...) list carries (well below SQLite's variable limit).
CHUNK = 5000
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
    return lazy_pinyin(char, errors="ignore")[0] if _CJK_RE.match(char) else char


@lru_cache(maxsize=65536)
def _toned(char: str) -> str:
    return lazy_pinyin(char, style=Style.TONE3, errors="ignore")[0] if _CJK_RE.match(char) else char


def _fold(text: str) -> str:
    """Lower case, full-width to half-width, accents off (José → jose)."""
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text or "").lower())
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def pinyin_tokens(text: str, *, toned: bool = False) -> list[str]:
    """A name as pinyin syllables and Latin words: 张三 → [zhang, san]; "Zhang-San" → [zhang, san]."""
    convert = _toned if toned else _syllable
    return [convert(token) for token in _TOKEN_RE.findall(_fold(text))]


@lru_cache(maxsize=262144)
def contact_dup_key(family_name: str, given_name: str) -> str:
    """The contact's blocking key: the letters of its name's pinyin, sorted (张三 = "San Zhang")."""
    letters = "".join(pinyin_tokens(f"{family_name} {given_name}"))
    return "".join(sorted(letters))[:KEY_LENGTH]


def strip_company(name: str) -> str:
    """The part of a company name that tells it apart: no brackets, legal forms or group words."""
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
    return " ".join(words)


@lru_cache(maxsize=262144)
def account_dup_key(name: str) -> str:
    """The account's blocking key: the pinyin of its stripped name (阿里巴巴（中国）有限公司 → alibaba)."""
    return "".join(pinyin_tokens(strip_company(name)))[:KEY_LENGTH]


def name_similarity(a: str, b: str, *, company: bool = False) -> int:
    """0-100: how alike two names are, reading Chinese by its toned pinyin.

    Same toned pinyin (张三 / 張三, simplified and traditional) is 100; the same sounds with other
    tones or characters (张伟 / 张玮) score a little lower; otherwise rapidfuzz on the pinyin, with
    the word order ignored (San Zhang / Zhang San).
    """
    if company:
        a, b = strip_company(a), strip_company(b)
    toned_a, toned_b = pinyin_tokens(a, toned=True), pinyin_tokens(b, toned=True)
    if toned_a and sorted(toned_a) == sorted(toned_b):
        return 100
    plain_a, plain_b = pinyin_tokens(a), pinyin_tokens(b)
    same_sounds = plain_a and (
        "".join(plain_a) == "".join(plain_b) or "".join(sorted(plain_a)) == "".join(sorted(plain_b))
    )
    if same_sounds:
        # Romanised on one side: no tones to compare, the same name. Both in characters: homophones.
        both_chinese = bool(_CJK_RE.search(a)) and bool(_CJK_RE.search(b))
        return 90 if both_chinese else 100
    score = max(
        fuzz.ratio("".join(plain_a), "".join(plain_b)),
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


def _store_keys(model: type[models.Model], changed: list[tuple[str, int]]) -> None:
    """Write blocking keys that differ from the stored ones (one statement per chunk)."""
    if not changed:
        return
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for part in _chunks(changed):
                cursor.execute(
                    f"UPDATE {table} AS t SET dup_key = v.key FROM unnest(%s::text[], %s::bigint[]) AS v(key, id) "
                    "WHERE t.id = v.id",
                    [[k for k, _ in part], [i for _, i in part]],
                )
        else:
            cursor.executemany(f"UPDATE {table} SET dup_key = %s WHERE id = %s", changed)


def _block_pairs(members: list[int], batch: set[int]) -> Iterator[tuple[int, int]]:
    """Pairs inside one block that involve the batch; each batch record meets at most BLOCK_LIMIT others."""
    members = sorted(set(members))
    if len(members) <= BLOCK_LIMIT + 1:
        for a, b in combinations(members, 2):
            if a in batch or b in batch:
                yield a, b
        return
    for pk in members:
        if pk in batch:
            for other in islice((m for m in members if m != pk), BLOCK_LIMIT):
                yield pk, other


def _detect_accounts(pks: list[int], pairs: _Pairs) -> None:
    from guanxi.customers.models import Account

    rows = list(Account.objects.filter(pk__in=pks).values_list("pk", "name", "dup_key"))
    keys: dict[int, str] = {}
    changed: list[tuple[str, int]] = []
    for pk, name, stored in rows:
        key = account_dup_key(name)
        keys[pk] = key
        if key != stored:
            changed.append((key, pk))
    _store_keys(Account, changed)
    wanted = sorted({k for k in keys.values() if k})
    if not wanted:
        return
    blocks: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for part in _chunks(wanted):
        for pk, name, key in Account.objects.filter(dup_key__in=part).values_list("pk", "name", "dup_key"):
            blocks[key].append((pk, name))
    batch = set(keys)
    for members in blocks.values():
        names = dict(members)
        for a, b in _block_pairs(list(names), batch):
            score = name_similarity(names[a], names[b], company=True)
            if score >= NAME_THRESHOLD:
                pairs.add(a, b, score, {"kind": "company_name", "similarity": score})


def _detect_contact_points(pks: list[int], pairs: _Pairs) -> None:
    from guanxi.customers.models import ContactPoint

    mine: set[tuple[str, str]] = set()
    for part in _chunks(pks):
        mine.update(ContactPoint.objects.filter(contact_id__in=part).values_list("kind", "value"))
    by_kind: dict[str, list[str]] = defaultdict(list)
    for kind, value in mine:
        by_kind[kind].append(value)
    batch = set(pks)
    for kind, values in by_kind.items():
        holders: dict[str, set[int]] = defaultdict(set)
        for part in _chunks(sorted(values)):
            for contact_id, value in ContactPoint.objects.filter(
                kind=kind, value__in=part, contact__deleted_at__isnull=True
            ).values_list("contact_id", "value"):
                holders[value].add(contact_id)
        for value, contacts in holders.items():
            if len(contacts) < 2 or len(contacts) > SHARED_POINT_LIMIT:
                continue
            for a, b in combinations(sorted(contacts), 2):
                if a in batch or b in batch:
                    pairs.add(a, b, 100, {"kind": kind, "value": value})


def _detect_contact_names(pks: list[int], keys: dict[int, str], pairs: _Pairs) -> None:
    """Same name key at the same company (the same account, or accounts whose names block together)."""
    from guanxi.customers.models import Account, AccountContact

    links: list[tuple[int, int]] = []
    for part in _chunks(pks):
        links += AccountContact.objects.filter(contact_id__in=part).values_list("contact_id", "account_id")
    if not links:
        return
    account_ids = sorted({account for _, account in links})
    account_keys: dict[int, str] = {}
    changed: list[tuple[str, int]] = []
    for part in _chunks(account_ids):
        for pk, name, stored in Account.objects.filter(pk__in=part).values_list("pk", "name", "dup_key"):
            account_keys[pk] = account_dup_key(name)
            if account_keys[pk] != stored:
                changed.append((account_keys[pk], pk))
    _store_keys(Account, changed)  # accounts written without detection (a bulk load) get theirs now
    company_keys = sorted({k for k in account_keys.values() if k})
    for part in _chunks(company_keys):
        account_keys.update(Account.objects.filter(dup_key__in=part).values_list("pk", "dup_key"))
    # A company is an account key, or the account itself when its key is not known.
    company_of = {pk: (f"k:{key}" if key else f"a:{pk}") for pk, key in account_keys.items()}
    name_keys = sorted({k for k in keys.values() if k})
    if not name_keys:
        return
    blocks: dict[tuple[str, str], dict[int, tuple[str, int]]] = defaultdict(dict)
    all_accounts = sorted(company_of)
    for part in _chunks(all_accounts):
        for contact_id, account_id, key, display in AccountContact.objects.filter(
            account_id__in=part, contact__dup_key__in=name_keys, contact__deleted_at__isnull=True
        ).values_list("contact_id", "account_id", "contact__dup_key", "contact__display_name"):
            blocks[(company_of[account_id], key)][contact_id] = (display, account_id)
    batch = set(pks)
    for members in blocks.values():
        for a, b in _block_pairs(list(members), batch):
            (name_a, account_a), (name_b, account_b) = members[a], members[b]
            score = name_similarity(name_a, name_b)
            if score >= NAME_THRESHOLD:
                reason = {"kind": "name", "similarity": score, "account": account_a}
                if account_a != account_b:
                    reason["other_account"] = account_b
                pairs.add(a, b, min(score, 95), reason)


def _detect_contacts(pks: list[int], pairs: _Pairs) -> None:
    from guanxi.customers.models import Contact

    keys: dict[int, str] = {}
    changed: list[tuple[str, int]] = []
    for part in _chunks(pks):
        for pk, family, given, stored in Contact.objects.filter(pk__in=part).values_list(
            "pk", "family_name", "given_name", "dup_key"
        ):
            key = contact_dup_key(family, given)
            keys[pk] = key
            if key != stored:
                changed.append((key, pk))
    _store_keys(Contact, changed)
    live = sorted(keys)
    _detect_contact_points(live, pairs)
    _detect_contact_names(live, keys, pairs)


def _queue(record_type: str, pairs: _Pairs) -> int:
    """Add the pairs not yet in the queue (whatever their status there); returns how many were added."""
    from guanxi.customers.models import DuplicateCandidate

    if not pairs.found:
        return 0
    found = sorted(pairs.found)
    known: set[tuple[int, int]] = set()
    for part in _chunks(sorted({low for low, _ in found})):
        known.update(
            DuplicateCandidate.objects.filter(record_type=record_type, low_id__in=part).values_list("low_id", "high_id")
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

    Also (re)computes the records' blocking keys, so callers need not. Records in the recycle bin
    are neither checked nor matched. Returns how many new candidate pairs were queued.
    """
    record_type = _record_type(model)
    ids = sorted({int(pk) for pk in pks})
    if not ids:
        return 0
    pairs = _Pairs()
    with transaction.atomic():
        if record_type == "account":
            _detect_accounts(ids, pairs)
        else:
            _detect_contacts(ids, pairs)
        return _queue(record_type, pairs)


def detect_after_commit(model: type[models.Model], pks: Iterable[int]) -> None:
    """Run detection for these records once the current transaction commits (services call this)."""
    ids = list(pks)
    transaction.on_commit(lambda: duplicates_detect(model, ids), robust=True)


# --- how a pair reads -------------------------------------------------------------------------------------


def reason_text(reason: dict[str, Any], account_names: dict[int, str] | None = None) -> str:
    """One reason, in the reader's language: "same email li@x.com", "name 92% similar, same company"."""
    kind = reason.get("kind")
    if kind == "email":
        return _("same email %(value)s") % {"value": reason.get("value", "")}
    if kind == "phone":
        return _("same phone %(value)s") % {"value": reason.get("value", "")}
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
