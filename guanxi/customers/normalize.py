"""Normalising what people type about customers: phones, emails, names, websites, registration
numbers, places.

Everything here is pure (no database) and cached where imports repeat values, so a 100,000-row
import pays the phonenumbers / email-validator price once per distinct value. Errors are
``ValueError`` with a message that says what to type instead; services attach the field name.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache, lru_cache
from typing import NamedTuple
from urllib.parse import urlsplit, urlunsplit

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from email_validator import EmailNotValidError, validate_email
from stdnum import exceptions as stdnum_exceptions
from stdnum.cn import uscc

from guanxi.customers.countries import COUNTRY_NAMES

DEFAULT_REGION = "CN"
#: Entries of the phone and email caches. Most numbers and addresses of an import are unique, so a
#: large cache is memory for nothing; a small one still catches a file's repeated switchboard
#: numbers and shared addresses (65,536 entries cost an import's worker ~30 MB).
UNIQUE_CACHE = 4096

# --- phones ---------------------------------------------------------------------------------------

# Mainland mobile prefixes that phonenumbers accepts in full (checked against its metadata in the
# tests); any other number takes the slow, validating path.
_CN_MOBILE = r"1(?:3\d|4[57]|5[0-35-9]|6[2567]|7[0-35-8]|8\d|9[0-35-9])\d{8}"
_CN_MOBILE_RE = re.compile(_CN_MOBILE)
_CN_MOBILE_E164_RE = re.compile(r"\+86" + _CN_MOBILE)
# Separators people put inside numbers: spaces, dashes, dots, brackets, slashes.
_PHONE_NOISE_RE = re.compile(r"[\s\-.()/\[\]\u00a0\u3000]+")
# "转 123", "分机 123", "ext. 123", "x123", "#123" at the end of a number.
_EXTENSION_RE = re.compile(r"^(?P<main>.*?)\s*(?:转|分机|ext\.?|extension|x|#)\s*(?P<ext>\d{1,8})$", re.IGNORECASE)


class Phone(NamedTuple):
    e164: str
    extension: str = ""


def phone_display(e164: str) -> str:
    """A stored number as people read it (``+86 138 0013 8000``): phonenumbers' international format,
    written directly for mainland mobiles (a search result or list shows dozens; formatting through
    phonenumbers costs ~50 µs each). ``e164`` that is not a number comes back as it is."""
    if _CN_MOBILE_E164_RE.fullmatch(e164):
        return f"+86 {e164[3:6]} {e164[6:10]} {e164[10:]}"
    return _formatted(e164)


@lru_cache(maxsize=4096)
def _formatted(e164: str) -> str:
    """phonenumbers' international format (kept: a list shows the same landlines page after page)."""
    try:
        return phonenumbers.format_number(phonenumbers.parse(e164, None), phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    except phonenumbers.NumberParseException:
        return e164


def _phone_error(raw: str) -> ValueError:
    return ValueError(_("“%(value)s” is not a valid phone number; use e.g. +86 138 0013 8000.") % {"value": raw[:40]})


@lru_cache(maxsize=UNIQUE_CACHE)
def normalize_phone(raw: str, region: str = DEFAULT_REGION) -> Phone:
    """``raw`` as E.164 (plus any extension), read as a number of ``region`` when it has no ``+``.

    Full-width digits and the usual separators are accepted (``１３８-0013 8000``); "转 123" is an
    extension. Raises ValueError when phonenumbers says the number cannot exist.
    """
    text = unicodedata.normalize("NFKC", raw or "").strip()
    if not text:
        raise _phone_error(raw or "")
    main, extension = text, ""
    match = _EXTENSION_RE.match(text)
    if match and match.group("main"):
        main, extension = match.group("main"), match.group("ext")
    compact = _PHONE_NOISE_RE.sub("", main)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    # Fast paths: the two shapes most Chinese data arrives in, fully checked by the pattern.
    if _CN_MOBILE_E164_RE.fullmatch(compact):
        return Phone(compact, extension)
    if (region or DEFAULT_REGION).upper() == "CN" and _CN_MOBILE_RE.fullmatch(compact):
        return Phone("+86" + compact, extension)
    try:
        number = phonenumbers.parse(compact, (region or DEFAULT_REGION).upper())
    except phonenumbers.NumberParseException:
        raise _phone_error(raw) from None
    if not phonenumbers.is_valid_number(number):
        raise _phone_error(raw)
    return Phone(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), extension)


def phone_digits_reversed(e164: str) -> str:
    """Digits of an E.164 number, last first: "ends with 8000" becomes an indexable prefix match."""
    return "".join(ch for ch in reversed(e164) if ch.isdigit())


def prefix_upper_bound(prefix: str) -> str | None:
    """The smallest digit string of the same length after every string starting with ``prefix``.

    ``value >= prefix AND value < bound`` is a prefix match that a plain b-tree index serves on
    SQLite and PostgreSQL alike (LIKE needs special operator classes or collations for that).
    """
    digits = list(prefix)
    for i in range(len(digits) - 1, -1, -1):
        if digits[i] != "9":
            digits[i] = str(int(digits[i]) + 1)
            return "".join(digits[: i + 1])
    return None


# --- emails ---------------------------------------------------------------------------------------

_SPECIAL_USE_TLDS = {"arpa", "invalid", "local", "localhost", "onion", "test"}
_ATOM = r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_EMAIL_FAST_RE = re.compile(rf"(?P<local>{_ATOM}(?:\.{_ATOM})*)@(?P<domain>(?:{_LABEL}\.)+(?P<tld>[a-z]{{2,63}}))")


@lru_cache(maxsize=UNIQUE_CACHE)
def normalize_email(raw: str) -> str:
    """A checked, lower-case email address. Full-width input (＠, ．) is folded first.

    Plain ASCII addresses are checked by a strict pattern; anything else (internationalised
    addresses, quoted local parts, odd cases) goes through email-validator without DNS lookups.
    """
    text = unicodedata.normalize("NFKC", raw or "").strip().lower()
    if text.startswith("mailto:"):
        text = text[7:]
    match = _EMAIL_FAST_RE.fullmatch(text)
    if match and len(text) <= 254 and len(match.group("local")) <= 64 and match.group("tld") not in _SPECIAL_USE_TLDS:
        return text
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError:
        raise ValueError(
            _("“%(value)s” is not a valid email address (%(reason)s); use e.g. li.lei@example.com.")
            % {"value": (raw or "")[:60], "reason": _email_reason(text)}
        ) from None
    return result.normalized.lower()


def _email_reason(text: str) -> str:
    """What is wrong with an address email-validator refused, in the reader's language (its own
    reasons are English only): the common mistakes named, anything rarer said in general."""
    local, at, domain = text.rpartition("@")
    if not at:
        return _("it has no @")
    if not local:
        return _("nothing comes before the @")
    if not domain:
        return _("nothing comes after the @")
    if ".." in text or local.startswith(".") or local.endswith(".") or domain.startswith("."):
        return _("a dot is doubled or at the start or end of a part")
    if "." not in domain:
        return _("the part after the @ has no dot, as example.com has")
    if domain.rsplit(".", 1)[-1] in _SPECIAL_USE_TLDS:
        return _("the part after the @ is a name reserved for tests or local networks")
    if len(text) > 254 or len(local) > 64:
        return _("it is too long")
    return _("it holds a character or a part an email address cannot have")


# --- websites -------------------------------------------------------------------------------------

_url_validator = URLValidator(schemes=["http", "https"])


def normalize_website(raw: str) -> str:
    """``www.Example.com/about`` -> ``https://www.example.com/about``; empty stays empty."""
    text = unicodedata.normalize("NFKC", raw or "").strip()
    if not text:
        return ""
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    text = urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path, parts.query, parts.fragment))
    try:
        _url_validator(text)
    except ValidationError:
        raise ValueError(
            _("“%(value)s” is not a web address; use e.g. www.example.com.") % {"value": raw[:60]}
        ) from None
    if len(text) > 200:
        raise ValueError(_("Use at most 200 characters."))
    return text.rstrip("/") if parts.path in ("", "/") and not parts.query else text


#: Hosts where many companies have a page (a shop, an official account, a profile): a web address
#: there says nothing of which company it is. Their subdomains too (shop123.1688.com).
PLATFORM_HOSTS = frozenset(
    {
        "1688.com",
        "taobao.com",
        "tmall.com",
        "jd.com",
        "alibaba.com",
        "aliexpress.com",
        "made-in-china.com",
        "qq.com",
        "weixin.qq.com",
        "mp.weixin.qq.com",
        "weibo.com",
        "douyin.com",
        "xiaohongshu.com",
        "zhihu.com",
        "baidu.com",
        "linkedin.com",
        "facebook.com",
        "instagram.com",
        "x.com",
        "twitter.com",
        "github.com",
        "google.com",
        "sites.google.com",
        "wix.com",
        "wixsite.com",
        "wordpress.com",
        "blogspot.com",
        "amazon.com",
        "ebay.com",
        "yelp.com",
    }
)


def website_domain(website: str) -> str:
    """The host a company's web address names, without ``www.`` (``https://www.Huaxin.com/about`` ->
    ``huaxin.com``): two companies with the same one are likely one (duplicate detection). Empty for
    no address, one that does not parse, or a page on a platform many companies share (``PLATFORM_HOSTS``)."""
    text = unicodedata.normalize("NFKC", website or "").strip().lower()
    if not text:
        return ""
    try:
        host = urlsplit(text if "://" in text else "https://" + text).hostname or ""
    except ValueError:
        return ""
    host = host.rstrip(".").removeprefix("www.")
    labels = host.split(".")
    if len(labels) < 2 or any(".".join(labels[i:]) in PLATFORM_HOSTS for i in range(len(labels))):
        return ""
    return host[:200]


# --- registration numbers -----------------------------------------------------------------------

_REGISTRATION_RE = re.compile(r"[A-Z0-9./]{2,40}")


def compact_registration_number(raw: str) -> str:
    """Upper case, without spaces or dashes: how a registration number is stored and looked up."""
    return re.sub(r"[\s\-‐-―]", "", unicodedata.normalize("NFKC", raw or "")).upper()


def normalize_registration_number(raw: str, country: str = DEFAULT_REGION) -> str:
    """A company's registration number as stored: upper case, without spaces or dashes. In China
    (``country`` CN or not given) it is the 18-character 统一社会信用代码, its check character checked
    (python-stdnum); elsewhere letters, digits, dots and slashes, as the country writes them."""
    text = compact_registration_number(raw)
    if not text:
        return ""
    if (country or DEFAULT_REGION) == "CN":
        try:
            return str(uscc.validate(text))
        except stdnum_exceptions.InvalidLength:
            raise ValueError(
                _("A 统一社会信用代码 has 18 characters; “%(value)s” has %(count)s.")
                % {"value": raw[:40], "count": len(text)}
            ) from None
        except stdnum_exceptions.ValidationError:
            raise ValueError(
                _("“%(value)s” is not a valid 统一社会信用代码: check each of its 18 characters.") % {"value": raw[:40]}
            ) from None
    if not _REGISTRATION_RE.fullmatch(text):
        raise ValueError(_("Use 2 to 40 letters and digits (dots and slashes allowed)."))
    return text


# --- places ---------------------------------------------------------------------------------------

# Provincial-level divisions of China: full name, short name, pinyin, and the region (大区) that
# sales territories usually follow.
CN_PROVINCES: tuple[tuple[str, str, str, str], ...] = (
    ("北京市", "北京", "beijing", "华北"),
    ("天津市", "天津", "tianjin", "华北"),
    ("河北省", "河北", "hebei", "华北"),
    ("山西省", "山西", "shanxi", "华北"),
    ("内蒙古自治区", "内蒙古", "neimenggu", "华北"),
    ("辽宁省", "辽宁", "liaoning", "东北"),
    ("吉林省", "吉林", "jilin", "东北"),
    ("黑龙江省", "黑龙江", "heilongjiang", "东北"),
    ("上海市", "上海", "shanghai", "华东"),
    ("江苏省", "江苏", "jiangsu", "华东"),
    ("浙江省", "浙江", "zhejiang", "华东"),
    ("安徽省", "安徽", "anhui", "华东"),
    ("福建省", "福建", "fujian", "华东"),
    ("江西省", "江西", "jiangxi", "华东"),
    ("山东省", "山东", "shandong", "华东"),
    ("河南省", "河南", "henan", "华中"),
    ("湖北省", "湖北", "hubei", "华中"),
    ("湖南省", "湖南", "hunan", "华中"),
    ("广东省", "广东", "guangdong", "华南"),
    ("广西壮族自治区", "广西", "guangxi", "华南"),
    ("海南省", "海南", "hainan", "华南"),
    ("重庆市", "重庆", "chongqing", "西南"),
    ("四川省", "四川", "sichuan", "西南"),
    ("贵州省", "贵州", "guizhou", "西南"),
    ("云南省", "云南", "yunnan", "西南"),
    ("西藏自治区", "西藏", "xizang", "西南"),
    ("陕西省", "陕西", "shaanxi", "西北"),
    ("甘肃省", "甘肃", "gansu", "西北"),
    ("青海省", "青海", "qinghai", "西北"),
    ("宁夏回族自治区", "宁夏", "ningxia", "西北"),
    ("新疆维吾尔自治区", "新疆", "xinjiang", "西北"),
    ("香港特别行政区", "香港", "hong kong", "港澳台"),
    ("澳门特别行政区", "澳门", "macau", "港澳台"),
    ("台湾省", "台湾", "taiwan", "港澳台"),
)
_PROVINCE_LOOKUP: dict[str, tuple[str, str]] = {}
for _full, _short, _pinyin, _region in CN_PROVINCES:
    for _alias in (_full, _short, _pinyin, _pinyin.replace(" ", "")):
        _PROVINCE_LOOKUP[_alias] = (_full, _region)
_PROVINCE_LOOKUP.update({"tibet": ("西藏自治区", "西南"), "inner mongolia": ("内蒙古自治区", "华北")})


def normalize_cn_province(raw: str) -> tuple[str, str]:
    """(full name, region) of a Chinese province given as 广东, 广东省 or Guangdong."""
    text = unicodedata.normalize("NFKC", raw or "").strip()
    key = text.lower().removesuffix(" province").strip()
    found = _PROVINCE_LOOKUP.get(key) or _PROVINCE_LOOKUP.get(text)
    if found is None:
        raise ValueError(_("“%(value)s” is not a province of China; use e.g. 广东省.") % {"value": text[:40]})
    return found


# Names people type for a country that phonenumbers does not give (its names are 中国, China...).
_COUNTRY_ALIASES = {
    "中华人民共和国": "CN",
    "中國": "CN",
    "prc": "CN",
    "p.r.c.": "CN",
    "people's republic of china": "CN",
    "中国香港": "HK",
    "香港特别行政区": "HK",
    "中国澳门": "MO",
    "澳门": "MO",
    "澳门特别行政区": "MO",
    "中国台湾": "TW",
    "台湾": "TW",
    "usa": "US",
    "u.s.a.": "US",
    "u.s.": "US",
    "united states of america": "US",
    "uk": "GB",
    "u.k.": "GB",
    "great britain": "GB",
    "england": "GB",
    "korea": "KR",
    "republic of korea": "KR",
    "macau": "MO",
    "russian federation": "RU",
}


# Chinese names phonenumbers lacks.
_ZH_MISSING = {"WS": "萨摩亚"}


def country_names() -> dict[str, tuple[str, str]]:
    """Each country phonenumbers knows -> (Chinese name, English name); a region without a name
    keeps its code (``countries.COUNTRY_NAMES``, a table checked against phonenumbers' data)."""
    return _COUNTRY_PAIRS


_COUNTRY_PAIRS = {
    code: (zh or _ZH_MISSING.get(code) or en or code, en or code) for code, (zh, en) in COUNTRY_NAMES.items()
}


# Every name above, and the aliases, lower-case -> code.
_COUNTRY_LOOKUP = {name.lower(): code for code, pair in _COUNTRY_PAIRS.items() for name in pair} | _COUNTRY_ALIASES


def country_name(code: str, language: str = "") -> str:
    """The country's name in ``language`` (the active one by default): 中国 / China; else the code."""
    pair = country_names().get(code)
    if pair is None:
        return code
    return pair[0] if (language or get_language() or "").startswith("zh") else pair[1]


def normalize_country(raw: str) -> str:
    """An ISO 3166 alpha-2 code from a code (``cn`` -> ``CN``) or a name in Chinese or English
    (中国, China, 美国, USA), as a spreadsheet's 国家 column holds it; empty stays empty."""
    text = unicodedata.normalize("NFKC", raw or "").strip()
    code = text.upper()
    if not code or code in phonenumbers.SUPPORTED_REGIONS:
        return code
    found = _COUNTRY_LOOKUP.get(text.lower())
    if found is None:
        raise ValueError(
            _("“%(value)s” is not a country Guanxi knows: type its name (中国, China) or its two-letter code (CN, US).")
            % {"value": text[:40]}
        )
    return found


@cache
def country_choices(language: str) -> tuple[tuple[str, str], ...]:
    """Countries by name, China and its special regions first (most customers are there), then
    the others in the reader's alphabetical order (in Chinese, by pinyin)."""
    # Here, not at the top: importing this module stays light (the search package needs Django set up).
    from guanxi.core.search.text import syllables

    first = ("CN", "HK", "MO", "TW")
    names = {code: country_name(code, language) for code in country_names()}

    def key(code: str) -> tuple[bool, str]:
        name = names[code]
        if name == code:  # a few territories without a name: last
            return (True, code)
        return (False, " ".join(syllables(name)) if language.startswith("zh") else name.casefold())

    rest = sorted((code for code in names if code not in first), key=key)
    return tuple((code, code if names[code] == code else f"{names[code]} ({code})") for code in (*first, *rest))
