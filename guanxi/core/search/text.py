"""Turning record values and what people type into index tokens: Han characters, pinyin, emails, phones.

The same token rules serve both engines, so a query means the same on SQLite and PostgreSQL:

* Han text: every character and every pair of neighbours ("北京字节" -> 北 京 字 节 北京 京字 字节). A
  query of Han text must contain all its pairs, so "字节" finds "北京字节跳动" without a phrase index.
* Pinyin of Han names: each syllable, the whole reading and the initials (张三 -> zhang san zhangsan zs).
  Readings come from a per-character cache over pypinyin's tables (``pinyin.py``; pypinyin itself
  costs ~30 µs a call, a name is a few dict lookups here), with its two-character phrases to settle
  polyphones (重庆 -> chongqing) and the usual readings of surnames (曾 -> zeng, 单 -> shan).
* Latin text: lower-case words of letters and digits.
* Emails: the address, its local part and domain, and their words.
* Phones: E.164 digits, the national number, and "x" + the digits last-first, so "ends with 8000" is
  the prefix "x0008".

Tokens only hold ``[a-z0-9._@+-]`` and Han characters: they never need escaping in FTS5 or tsquery
beyond quoting.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import cache, lru_cache

from guanxi.core.names import has_east_asian_script, split_name
from guanxi.core.search import pinyin

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_HAN_RUN_RE = re.compile(f"[{_HAN}]+")
_HAN_CHAR_RE = re.compile(f"[{_HAN}]")
# Han runs, and runs of latin letters/digits, in the order they appear.
_WORD_RE = re.compile(f"[{_HAN}]+|[a-z0-9]+")
_EMAIL_CHARS_RE = re.compile(r"[^a-z0-9._@+\-]")
_EMAIL_CLEAN_RE = re.compile(r"[a-z0-9._@+\-]*")
_PHONE_QUERY_RE = re.compile(r"\+?[\d\s\-().]+")

#: Longest whole-name key and pinyin kept (longer names still match by their words and pairs).
MAX_KEY = 40
#: Han characters of a name whose pinyin is indexed (company names can be long).
MAX_PINYIN_CHARS = 24

# Readings of polyphonic characters when they are a family name.
_SURNAME_READINGS = {
    "曾": "zeng", "单": "shan", "解": "xie", "仇": "qiu", "区": "ou", "查": "zha", "朴": "piao", "翟": "zhai",
    "覃": "qin", "盖": "ge", "缪": "miao", "乐": "yue", "召": "shao", "繁": "po", "种": "chong", "冼": "xian",
    "秘": "bi", "尉": "yu", "万": "wan", "隗": "wei", "长": "chang", "重": "chong", "厍": "she", "句": "gou",
    "俞": "yu", "沈": "shen", "贾": "jia", "柏": "bai", "藏": "zang", "宿": "su", "员": "yun",
}  # fmt: skip


@cache
def _char_readings(ch: str) -> tuple[str, ...]:
    """Every plain reading of one Han character, the most common first ("" when it has none)."""
    out: list[str] = []
    for reading in pinyin.char_readings(ch):
        plain = pinyin.plain(reading)
        if plain and plain not in out:
            out.append(plain)
    return tuple(out) or ("",)


@cache
def _phrase_reading(pair: str) -> tuple[str, str] | None:
    found = pinyin.pair_readings(pair)
    return None if found is None else (pinyin.plain(found[0]), pinyin.plain(found[1]))


def syllables(run: str, *, surname: bool = False) -> list[str]:
    """The pinyin of a run of Han characters, one syllable a character (cached per character)."""
    out: list[str] = []
    for i, ch in enumerate(run):
        readings = _char_readings(ch)
        reading = readings[0]
        if len(readings) > 1:
            if i == 0 and surname and ch in _SURNAME_READINGS:
                reading = _SURNAME_READINGS[ch]
            else:
                # A polyphone: let a two-character phrase it starts or ends decide.
                phrase = _phrase_reading(run[i : i + 2]) if i + 1 < len(run) else None
                if phrase is not None and phrase[0]:
                    reading = phrase[0]
                elif i > 0 and (phrase := _phrase_reading(run[i - 1 : i + 1])) is not None and phrase[1]:
                    reading = phrase[1]
        out.append(reading)
    return out


#: Characters of given names read more than one way, with the readings people use in names (the
#: first is not always pypinyin's first: 长 alone is zhang to it, 长风 is changfeng). A person's name
#: is also indexed by the other readings of these, one character at a time, at most
#: ``MAX_VARIANTS``. Every reading pypinyin knows would be too many: its tables hold rare readings
#: of common name characters (家, 俊...), and at a million contacts they made a quarter more
#: documents match each pinyin-initials query.
NAME_POLYPHONES = {
    "长": ("chang", "zhang"), "乐": ("le", "yue"), "朝": ("zhao", "chao"), "行": ("xing", "hang"),
    "重": ("zhong", "chong"), "茜": ("qian", "xi"), "蔚": ("wei", "yu"), "柏": ("bai", "bo"),
    "会": ("hui", "kuai"), "参": ("can", "shen"), "莎": ("sha", "suo"), "伽": ("jia", "qie"),
    "单": ("dan", "shan"), "都": ("du", "dou"), "藏": ("cang", "zang"), "解": ("jie", "xie"),
    "尉": ("wei", "yu"), "覃": ("qin", "tan"), "奇": ("qi", "ji"), "传": ("chuan", "zhuan"),
    "露": ("lu", "lou"), "曾": ("zeng", "ceng"), "区": ("qu", "ou"), "查": ("cha", "zha"),
    "朴": ("pu", "piao"), "翟": ("di", "zhai"), "仇": ("chou", "qiu"), "盖": ("gai", "ge"),
    "缪": ("miao", "mou"), "秘": ("mi", "bi"), "宿": ("su", "xiu"), "贾": ("jia", "gu"),
}  # fmt: skip
MAX_VARIANTS = 4


def reading_variants(run: str, spelled: list[str], *, surname: bool = False) -> list[list[str]]:
    """The pinyin of ``run`` with one of its ``NAME_POLYPHONES`` read the other way, at most
    ``MAX_VARIANTS``. A family name the family-name table reads (曾 zeng) keeps its reading."""
    out: list[list[str]] = []
    for i, ch in enumerate(run):
        readings = NAME_POLYPHONES.get(ch)
        if readings is None or (i == 0 and surname and ch in _SURNAME_READINGS):
            continue
        out.extend([*spelled[:i], other, *spelled[i + 1 :]] for other in readings if other != spelled[i])
        if len(out) >= MAX_VARIANTS:
            break
    return out[:MAX_VARIANTS]


def fold(text: str) -> str:
    """Full-width to half-width, lower case, trimmed."""
    return unicodedata.normalize("NFKC", text or "").lower().strip()


def _han_tokens(run: str, out: list[str]) -> None:
    out.extend(run)
    out.extend(run[i : i + 2] for i in range(len(run) - 1))


#: Entries of the per-name caches below. A cached person name costs about 1.6 kB (tokens and column
#: strings), in each of the import's processes; 8k entries (32k held 45 MB more in the validating
#: process at 1M contacts and were no faster, bench/_import_probe.py) keep the worker within 500 MB.
NAME_CACHE = 8192


@lru_cache(maxsize=NAME_CACHE)
def name_tokens(
    text: str, *, person: bool = False, inner: bool = False, readings: bool = False
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(keys, words) of a name. Keys are whole-name forms (the name without spaces, its pinyin, its
    initials) that rank a search first when they equal it; words are everything else.

    ``person``: the first Han character is a family name (its surname reading wins).
    ``inner``: also the pinyin (and initials) from the 2nd to 5th character on, so 上海阿克米贸易 is
    found by "akemi" and "akm" too (company names start with a place more often than not).
    ``readings`` (implied by ``person``): also the other readings of a polyphone no phrase settles
    (``reading_variants``), as keys: 司马长风 is found by smcf and smzf, its given name by cf and zf.
    """
    folded = fold(text)
    keys: list[str] = []
    words: list[str] = []
    parts = _WORD_RE.findall(folded)
    if not parts:
        return (), ()
    compact = "".join(parts)[:MAX_KEY]
    keys.append(compact)
    han = "".join(_HAN_RUN_RE.findall(folded))[:MAX_PINYIN_CHARS]
    if han:
        spelled = syllables(han, surname=person)
        full = "".join(spelled)[:MAX_KEY]
        if full:
            keys.append(full)
            initials = "".join(s[0] for s in spelled if s)
            if len(initials) > 1:
                keys.append(initials)
        if person or readings:
            for variant in reading_variants(han, spelled, surname=person):
                keys.append("".join(variant)[:MAX_KEY])
                keys.append("".join(s[0] for s in variant if s))
                if person:
                    words.extend(s for s in variant if s)
        if person:
            words.extend(s for s in spelled if s)
        elif inner:
            # After a place name of one to four characters (北京, 上海市, 黑龙江省...): the rest on its own.
            for start in range(1, min(5, len(spelled) - 1)):
                rest = spelled[start:]
                words.append("".join(rest)[:MAX_KEY])
                words.append("".join(s[0] for s in rest if s))
    for part in parts:
        if _HAN_CHAR_RE.match(part):
            if person or len(part) <= 4:
                _han_tokens(part, words)
            else:  # a long company name: its pairs, and its first character alone
                words.append(part[0])
                words.extend(part[i : i + 2] for i in range(len(part) - 1))
        else:
            words.append(part)
    if person and not han and len(parts) > 1:
        keys.append("".join(reversed(parts))[:MAX_KEY])  # "John Smith" also as "smithjohn"
    return tuple(dict.fromkeys(keys)), tuple(dict.fromkeys(w for w in words if w not in keys))


def person_tokens(family: str, given: str, display: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Keys and words of a person's name: the display name, plus each part on its own."""
    keys, words = name_tokens(display, person=True)
    extra: list[str] = []
    for part, is_family in ((family, True), (given, False)):
        part_keys, part_words = name_tokens(part, person=is_family, readings=True)
        extra.extend(part_keys)
        extra.extend(part_words)
    key_set = set(keys)
    return keys, tuple(dict.fromkeys([*words, *(t for t in extra if t not in key_set)]))


# --- column strings, cached: an import of a million rows repeats names, companies and domains ---------


@lru_cache(maxsize=NAME_CACHE)
def person_columns(family: str, given: str, display: str) -> tuple[str, str]:
    """(keys, words) of a person's name as column strings."""
    keys, words = person_tokens(family, given, display)
    return " ".join(keys), " ".join(words)


@lru_cache(maxsize=NAME_CACHE)
def name_columns(value: str, inner: bool = False) -> tuple[str, str]:
    """(keys, words) of a record's name as column strings."""
    keys, words = name_tokens(value, inner=inner)
    return " ".join(keys), " ".join(words)


@lru_cache(maxsize=NAME_CACHE)
def related_name_column(value: str) -> str:
    """Every token of a related record's name (keys and words) as one column string."""
    keys, words = name_tokens(value)
    return " ".join((*keys, *words))


# --- people who are not records: users are picked by the pinyin of their name without the index --


#: Longest ``spelled_name`` (``User.name_keys``).
SPELLED_MAX = 400
_NOT_LATIN_RE = re.compile(r"[^a-z0-9]+")
_SPELLED_QUERY_RE = re.compile(r"[a-z0-9\s]+")


def spelled_name(display: str) -> str:
    """A person's name as the latin words it is typed by, each after a space: 李伟 -> " liwei lw li
    wei " (the pinyin and initials of the name and of its given name, the syllables, the other
    readings of a polyphone), John Smith -> " johnsmith smithjohn john smith js ". A query
    (``spelled_query``) finds a word by its beginning."""
    keys, words = person_tokens(*split_name(display), display)
    # A latin name's initials in the order it is shown (John Smith: js), as a Chinese name's are: a
    # picker is typed the same way whoever is picked. Contacts' search documents leave them out, where
    # "js" would be one more match for every 金SX among a million people.
    initials = ""
    if not has_east_asian_script(display):
        starts = [_WORDS_RE.search(word) for word in fold(display).split()]
        initials = "".join(start.group()[0] for start in starts if start) if len(starts) > 1 else ""
    out = ""
    for token in (*keys, *words, *([initials] if initials else [])):
        if _NOT_LATIN_RE.search(token) is None and len(out) + len(token) + 2 <= SPELLED_MAX:
            out += f" {token}"
    return f"{out} " if out else ""


def spelled_query(typed: str) -> str:
    """What ``typed`` is looked for in a ``spelled_name``: its words run together ("Li Wei" ->
    "liwei"); "" unless it is latin words alone (王 matches the name itself; wang.wu@ is an email,
    not the spelling of 王五)."""
    folded = fold(typed)
    return "".join(folded.split()) if _SPELLED_QUERY_RE.fullmatch(folded) else ""


_WORDS_RE = re.compile(r"[a-z0-9]+")
# An email's characters that separate words (the rest are [a-z0-9]).
_SEPARATORS = str.maketrans("._+-", "    ")


@lru_cache(maxsize=65536)
def _domain_tokens(domain: str) -> str:
    """The domain and its words but the last ("com" would match every address)."""
    if not domain:
        return ""
    labels = domain.split(".")
    words = _WORDS_RE.findall(".".join(labels[:-1])) if len(labels) > 1 else []
    return " ".join(dict.fromkeys([domain, *words]))


def email_column(address: str) -> str:
    """The address, its local part and domain, and the words of both, as a column string."""
    text = address.lower() if address.isascii() else fold(address)
    if not _EMAIL_CLEAN_RE.fullmatch(text):
        text = _EMAIL_CHARS_RE.sub("", text)
    if not text:
        return ""
    local, _at, domain = text.partition("@")
    parts = [text]
    if local and local != text:
        parts.append(local)
    local_words = local.translate(_SEPARATORS).split()
    if local_words != [local]:
        parts.extend(local_words)
    parts.append(_domain_tokens(domain))
    return " ".join(p for p in parts if p)


def email_tokens(address: str) -> list[str]:
    """The address, its local part and domain, and the words of both."""
    return email_column(address).split()


def phone_column(e164: str) -> str:
    """E.164 digits, the national number (for +86: the 11 digits people type), and the reversed digits."""
    digits = e164[1:] if e164.startswith("+") else e164
    if not digits.isdigit():
        digits = "".join(ch for ch in e164 or "" if ch.isdigit())
        if not digits:
            return ""
    national = _national(digits)
    if national and national != digits:
        return f"{digits} {national} x{digits[::-1]}"
    return f"{digits} x{digits[::-1]}"


def phone_tokens(e164: str) -> list[str]:
    return phone_column(e164).split()


@lru_cache(maxsize=1)
def _country_codes() -> frozenset[str]:
    import phonenumbers

    return frozenset(str(code) for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE)


def _national(digits: str) -> str:
    """The digits after the country code (country codes are prefix-free: one of 1-3 digits matches)."""
    if digits.startswith("86"):
        return digits[2:]
    codes = _country_codes()
    for size in (1, 2, 3):
        if digits[:size] in codes:
            return digits[size:]
    return digits


def website_tokens(url: str) -> list[str]:
    """A website's host without "www." (and its words): acme.com finds Acme."""
    host = fold(url).split("://", 1)[-1].split("/", 1)[0].removeprefix("www.")
    host = _EMAIL_CHARS_RE.sub("", host)
    return [host, *re.findall(r"[a-z0-9]+", host)] if host else []


def join(tokens: list[str] | tuple[str, ...]) -> str:
    """Tokens as one column value: unique, space-separated, none empty."""
    return " ".join(dict.fromkeys(t for t in tokens if t))


# --- queries ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Alternative:
    token: str
    prefix: bool


@dataclass
class Query:
    """What someone typed, as terms that must all match; each term matches any of its alternatives."""

    text: str
    compact: str  # the query without spaces or separators, compared with whole-name keys
    terms: list[tuple[Alternative, ...]] = field(default_factory=list)
    phone: bool = False

    @property
    def has_prefix(self) -> bool:
        return any(alt.prefix for term in self.terms for alt in term)


MAX_TERMS = 8
_DOTTED_RE = re.compile(r"[a-z0-9][a-z0-9_+\-]*(?:\.[a-z0-9_+\-]+)+")


def parse_query(raw: str) -> Query:
    """Split a search text into terms (see the module docstring for the token rules)."""
    text = fold(raw)[:200]
    if _PHONE_QUERY_RE.fullmatch(text) and sum(ch.isdigit() for ch in text) >= 3:
        digits = "".join(ch for ch in text if ch.isdigit())
        alternatives = [Alternative(digits, True)]
        if digits.startswith("0") and len(digits.lstrip("0")) >= 3:
            alternatives.append(Alternative(digits.lstrip("0"), True))  # a trunk prefix: 010 1234 5678
        alternatives.append(Alternative("x" + digits[::-1], True))
        return Query(text, digits, [tuple(alternatives)], phone=True)
    terms: list[tuple[Alternative, ...]] = []
    for chunk in text.split():
        if "@" in chunk or _DOTTED_RE.fullmatch(chunk):  # an email, a domain, an address's local part
            token = _EMAIL_CHARS_RE.sub("", chunk)
            if token.strip("@"):
                terms.append((Alternative(token.strip("@") if token.startswith("@") else token, True),))
            continue
        for part in _WORD_RE.findall(chunk):
            if _HAN_CHAR_RE.match(part):
                if len(part) == 1:
                    terms.append((Alternative(part, False),))
                else:
                    terms.extend((Alternative(part[i : i + 2], False),) for i in range(len(part) - 1))
            else:
                terms.append((Alternative(part, len(part) > 1),))
    # Only the last word is still being typed: earlier ones match whole tokens ("john sm" -> john, sm*),
    # which keeps every prefix expansion (the costly part of a full-text query) to one.
    terms = [tuple(Alternative(a.token, False) for a in term) for term in terms[:-1]] + terms[-1:]
    unique = list(dict.fromkeys(terms))[:MAX_TERMS]
    compact = "".join(_WORD_RE.findall(text)) if "@" not in text else text.replace(" ", "")
    return Query(text, compact[:MAX_KEY], unique)
