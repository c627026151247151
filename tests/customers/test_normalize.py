"""Normalising names, phones, emails, websites and places (pure functions, no database)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import phonenumbers
import pytest
from email_validator import EmailNotValidError, validate_email

from guanxi.core.names import person_display_name
from guanxi.customers.choices import size_band_for
from guanxi.customers.countries import COUNTRY_NAMES
from guanxi.customers.normalize import (
    country_name,
    country_names,
    normalize_cn_province,
    normalize_country,
    normalize_email,
    normalize_phone,
    normalize_website,
    phone_digits_reversed,
    phone_display,
    prefix_upper_bound,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("family", "given", "expected"),
    [
        ("张", "三", "张三"),
        (" 欧阳 ", " 娜娜", "欧阳娜娜"),
        ("Smith", "John", "John Smith"),
        ("van  der Berg", "Anna  Maria", "Anna Maria van der Berg"),
        ("王", "David", "王David"),  # either part in Han script: family first, no space
        ("山田", "太郎", "山田太郎"),
        ("김", "민준", "김민준"),
        ("", "三", "三"),
        ("Smith", "", "Smith"),
        ("𠮷野", "家", "𠮷野家"),  # a character outside the basic plane
    ],
)
def test_display_name_order(family: str, given: str, expected: str) -> None:
    assert person_display_name(family, given) == expected


@pytest.mark.parametrize(
    ("raw", "region", "expected", "extension"),
    [
        ("13800138000", "CN", "+8613800138000", ""),
        ("138 0013 8000", "CN", "+8613800138000", ""),
        ("138-0013-8000", "CN", "+8613800138000", ""),
        ("１３８００１３８０００", "CN", "+8613800138000", ""),  # full-width digits from a Chinese IME
        ("+86 138 0013 8000", "CN", "+8613800138000", ""),
        ("0086 13800138000", "CN", "+8613800138000", ""),
        ("+8613800138000", "US", "+8613800138000", ""),
        ("+1 415 555 2671", "CN", "+14155552671", ""),
        ("(415) 555-2671", "US", "+14155552671", ""),
        ("010-1234 5678", "CN", "+861012345678", ""),
        ("021 6123 4567 转 123", "CN", "+862161234567", "123"),
        ("021-61234567 ext. 88", "CN", "+862161234567", "88"),
        ("400 812 3123", "CN", "+864008123123", ""),
    ],
)
def test_phone_normalisation(raw: str, region: str, expected: str, extension: str) -> None:
    phone = normalize_phone(raw, region)
    assert phone.e164 == expected
    assert phone.extension == extension


@pytest.mark.parametrize("raw", ["123", "", "   ", "+1 555 0100", "14012345678", "abc", "+86 138 0013 800"])
def test_bad_phone_says_what_to_type(raw: str) -> None:
    with pytest.raises(ValueError, match=r"is not a valid phone number; use e\.g\. \+86 138 0013 8000"):
        normalize_phone(raw, "CN")


def test_mobile_fast_path_agrees_with_phonenumbers() -> None:
    """Every 3-digit mainland prefix: the pattern accepts a number only if phonenumbers does."""
    for prefix in range(130, 200):
        for tail in ("00138000", "99999999"):
            number = f"{prefix}{tail}"
            library_ok = phonenumbers.is_valid_number(phonenumbers.parse(number, "CN"))
            try:
                ours = normalize_phone(number, "CN").e164
            except ValueError:
                ours = None
            if library_ok:
                assert ours == f"+86{number}", number
            else:
                assert ours is None, number


def test_phone_display_is_phonenumbers_international_format() -> None:
    numbers = [f"+86{prefix}{tail}" for prefix in range(130, 200) for tail in ("00138000", "99999999")]
    numbers += ["+862161234567", "+16502530000", "+85223456789", "+441632960961", "not a number"]
    for number in numbers:
        try:
            expected = phonenumbers.format_number(
                phonenumbers.parse(number, None), phonenumbers.PhoneNumberFormat.INTERNATIONAL
            )
        except phonenumbers.NumberParseException:
            expected = number
        assert phone_display(number) == expected, number


def test_digits_reversed_and_prefix_bound() -> None:
    assert phone_digits_reversed("+8613800138000") == "0008310083168"
    assert prefix_upper_bound("0008") == "0009"
    assert prefix_upper_bound("1299") == "13"
    assert prefix_upper_bound("999") is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Li.Lei@Example.COM", "li.lei@example.com"),
        ("  han_meimei+crm@mail.example.cn ", "han_meimei+crm@mail.example.cn"),
        ("li.lei＠example．com", "li.lei@example.com"),  # full-width @ and dot
        ("mailto:a@example.org", "a@example.org"),
        ("用户@例子.中国", "用户@例子.中国"),
    ],
)
def test_email_normalisation(raw: str, expected: str) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    "raw", ["", "li.lei", "a..b@example.com", "a@localhost", "x@foo.test", "@example.com", "a@-x.com"]
)
def test_bad_email_says_what_to_type(raw: str) -> None:
    with pytest.raises(ValueError, match=r"is not a valid email address .*use e\.g\. li\.lei@example\.com"):
        normalize_email(raw)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("li.lei", "没有 @"),
        ("@example.com", "@ 前面没有内容"),
        ("li.lei@", "@ 后面没有内容"),
        ("a..b@example.com", "点号重复"),
        ("li.lei@example", "@ 后面的部分没有点号"),
        ("x@foo.test", "保留给测试或本地网络"),
        ("a@-x.com", "不能使用的字符或部分"),
    ],
)
def test_a_bad_emails_reason_is_in_the_readers_language(raw: str, reason: str) -> None:
    """email-validator says why in English only: the reason is Guanxi's own, translated."""
    from django.utils import translation

    with translation.override("zh-hans"), pytest.raises(ValueError) as refused:
        normalize_email(raw)
    assert reason in str(refused.value) and "不是有效的邮箱地址" in str(refused.value)
    assert not re.search(r"\b(must|should|sign|period|cannot|invalid|characters)\b", str(refused.value))


@pytest.mark.parametrize(
    "raw",
    ["a@b.co", "x.y@sub.example.com", "a-b@x-y.org", "t@a.local", "t@b.onion", "a.@x.com", "A@B.CN", "x@y.internal"],
)
def test_email_fast_path_agrees_with_email_validator(raw: str) -> None:
    try:
        library = validate_email(raw, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        library = None
    try:
        ours = normalize_email(raw)
    except ValueError:
        ours = None
    assert ours == library


def test_website_and_places() -> None:
    assert normalize_website("www.Example.com") == "https://www.example.com"
    assert normalize_website("http://example.com/about?x=1") == "http://example.com/about?x=1"
    assert normalize_website("") == ""
    with pytest.raises(ValueError, match="is not a web address"):
        normalize_website("not a site")
    assert normalize_cn_province("广东") == ("广东省", "华南")
    assert normalize_cn_province("Guangdong Province") == ("广东省", "华南")
    assert normalize_cn_province("内蒙古自治区") == ("内蒙古自治区", "华北")
    with pytest.raises(ValueError, match="is not a province of China"):
        normalize_cn_province("广东省深圳市")
    assert normalize_country("cn") == "CN"
    with pytest.raises(ValueError):
        normalize_country("XX")


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("中国", "CN"),
        ("中华人民共和国", "CN"),
        (" China ", "CN"),
        ("ＣＮ", "CN"),  # full-width, as a Chinese input method types it
        ("香港", "HK"),
        ("美国", "US"),
        ("USA", "US"),
        ("united states", "US"),
        ("英国", "GB"),
        ("UK", "GB"),
        ("德国", "DE"),
        ("Germany", "DE"),
        ("新加坡", "SG"),
        ("", ""),
    ],
)
def test_countries_by_name_or_code(typed: str, code: str) -> None:
    assert normalize_country(typed) == code


def test_an_unknown_country_says_what_to_type() -> None:
    with pytest.raises(ValueError, match=r"“火星” is not a country .*\(中国, China\).*\(CN, US\)"):
        normalize_country("火星")


def test_the_country_table_agrees_with_phonenumbers() -> None:
    """``countries.COUNTRY_NAMES`` holds phonenumbers' own names as a table: reading them at run time
    loads its names in every language (about 100 MB a process). An upgrade of phonenumbers that adds
    or renames a region fails here."""
    from phonenumbers import geocoder

    assert set(COUNTRY_NAMES) == set(phonenumbers.SUPPORTED_REGIONS)
    for code, pair in COUNTRY_NAMES.items():
        example = phonenumbers.example_number(code)
        names = [geocoder.country_name_for_number(example, lang) if example else "" for lang in ("zh", "en")]
        assert pair == tuple("" if name.startswith("*") else name for name in names), code


def test_country_names_load_no_geocoder_data() -> None:
    """Reading a 国家 column of names, or showing one, must not load phonenumbers' locale data into
    an import worker or a web process (a fresh interpreter: this one may hold it from the test above)."""
    code = (
        "import sys\n"
        "from guanxi.customers.normalize import country_name, normalize_country\n"
        "assert normalize_country('美国') == 'US' and country_name('DE', 'zh-hans') == '德国'\n"
        "print('phonenumbers.geodata.locale' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "False", out.stderr


def test_country_names_in_both_languages() -> None:
    """From phonenumbers' own data (no table of ours); its pointers such as "*zh" never show."""
    assert country_name("CN", "zh-hans") == "中国" and country_name("CN", "en") == "China"
    assert country_name("US", "zh-hans") == "美国" and country_name("DE", "en") == "Germany"
    assert country_name("ZZ", "zh-hans") == "ZZ"
    assert not any(name.startswith("*") for pair in country_names().values() for name in pair)
    assert len(country_names()) > 240


def test_size_bands() -> None:
    assert [size_band_for(n) for n in (None, 0, 1, 9, 10, 199, 200, 4999, 5000)] == [
        "",
        "",
        "micro",
        "micro",
        "small",
        "medium",
        "large",
        "xlarge",
        "enterprise",
    ]
