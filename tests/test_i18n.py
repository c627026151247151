"""The zh-Hans and en catalogues are complete, compiled and used.

* Every entry of the zh_Hans catalogue is translated and none is fuzzy; placeholders and HTML tags
  survive translation; the en catalogue translates its Chinese msgids (settings.LANGUAGES labels...).
* The committed ``.mo`` files say what the ``.po`` files say (``make run`` needs no gettext tools, so
  a forgotten ``compilemessages`` would silently show stale text).
* When GNU gettext is installed, the source is extracted again into a scratch directory: a string
  marked for translation in Python or in a template but missing from the catalogue fails the build.
* Translations reach users: model verbose names, gettext, and a rendered page chosen by the
  ``django_language`` cookie.

To refresh after adding strings: ``make messages``, translate the new entries in
``guanxi/locale/zh_Hans/LC_MESSAGES/django.po``, then ``make messages`` again (it compiles).
"""

from __future__ import annotations

import ast
import gettext as gnu_gettext
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.utils import translation
from django.utils.text import capfirst

LOCALE_DIR = Path(settings.BASE_DIR) / "locale"
ZH_PO = LOCALE_DIR / "zh_Hans" / "LC_MESSAGES" / "django.po"
EN_PO = LOCALE_DIR / "en" / "LC_MESSAGES" / "django.po"
REFRESH = (
    "run `make messages`, translate the new entries in guanxi/locale/zh_Hans/LC_MESSAGES/django.po, "
    "then `make messages` again"
)

CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
# Python-format placeholders (%(name)s, %s, %d, %%), brace fields ({name}) and HTML tags.
TOKENS = re.compile(r"%%|%\([A-Za-z0-9_]+\)[-#0 +]*\d*(?:\.\d+)?[sdifr]|%[sdifr]|\{[A-Za-z0-9_]*\}|</?[A-Za-z][^>]*>")


# --- a small .po reader (polib is not a dependency) --------------------------------------------------


@dataclass
class Entry:
    msgid: str = ""
    msgid_plural: str | None = None
    msgctxt: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)  # index 0 for singular entries
    flags: set[str] = field(default_factory=set)
    references: list[str] = field(default_factory=list)
    line: int = 0

    @property
    def translated(self) -> bool:
        return bool(self.msgstr) and all(self.msgstr.values())

    @property
    def where(self) -> str:
        refs = " ".join(self.references[:2]) or f"line {self.line}"
        return f"{self.msgid!r} ({refs})"


def _unquote(text: str) -> str:
    return ast.literal_eval(text) if text.startswith('"') else ""


def parse_po(path: Path) -> tuple[Entry, list[Entry]]:
    """The header entry and the other (non-obsolete) entries of a .po file."""
    entries: list[Entry] = []
    current = Entry()
    target: tuple[str, int | None] | None = None

    def finish() -> None:
        nonlocal current, target
        if target is not None:
            entries.append(current)
        current, target = Entry(), None

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line:
            finish()
            continue
        if line.startswith("#~"):  # obsolete entries are not used
            continue
        if line.startswith("#,"):
            if target is not None:
                finish()
            current.flags.update(flag.strip() for flag in line[2:].split(","))
            continue
        if line.startswith("#:"):
            if target is not None:
                finish()
            current.references.extend(line[2:].split())
            continue
        if line.startswith("#"):
            if target is not None and target[0] == "msgstr":
                finish()
            continue
        keyword, _, rest = line.partition(" ")
        if keyword in {"msgctxt", "msgid"} and target is not None and target[0] == "msgstr":
            finish()
        if keyword == "msgctxt":
            current.msgctxt, target = _unquote(rest), ("msgctxt", None)
            current.line = current.line or number
        elif keyword == "msgid":
            current.msgid, target = _unquote(rest), ("msgid", None)
            current.line = current.line or number
        elif keyword == "msgid_plural":
            current.msgid_plural, target = _unquote(rest), ("msgid_plural", None)
        elif keyword == "msgstr":
            current.msgstr[0], target = _unquote(rest), ("msgstr", 0)
        elif keyword.startswith("msgstr["):
            index = int(keyword[7:-1])
            current.msgstr[index], target = _unquote(rest), ("msgstr", index)
        elif line.startswith('"') and target is not None:
            name, index = target
            if name == "msgstr":
                current.msgstr[index or 0] += _unquote(line)
            elif name == "msgid_plural":
                current.msgid_plural = (current.msgid_plural or "") + _unquote(line)
            else:
                setattr(current, name, (getattr(current, name) or "") + _unquote(line))
        else:
            raise AssertionError(f"{path}:{number}: cannot read {raw!r}")
    finish()
    assert entries and entries[0].msgid == "" and entries[0].msgctxt is None, f"{path} has no header entry"
    return entries[0], entries[1:]


def header_fields(header: Entry) -> dict[str, str]:
    fields = {}
    for line in header.msgstr.get(0, "").splitlines():
        name, _, value = line.partition(":")
        fields[name.strip()] = value.strip()
    return fields


def tokens(text: str) -> list[str]:
    return sorted(TOKENS.findall(text))


@pytest.fixture(scope="module")
def zh() -> tuple[Entry, list[Entry]]:
    return parse_po(ZH_PO)


@pytest.fixture(scope="module")
def en() -> tuple[Entry, list[Entry]]:
    return parse_po(EN_PO)


# --- the catalogues ----------------------------------------------------------------------------------


def test_zh_catalogue_header(zh: tuple[Entry, list[Entry]]) -> None:
    header, entries = zh
    fields = header_fields(header)
    assert "fuzzy" not in header.flags, "the zh_Hans header is still marked fuzzy"
    assert fields.get("Language") == "zh_Hans"
    assert fields.get("Content-Type") == "text/plain; charset=UTF-8"
    assert fields.get("Plural-Forms", "").replace(" ", "") == "nplurals=1;plural=0;"
    assert len(entries) > 100, "the zh_Hans catalogue is nearly empty: was makemessages run?"


def test_zh_catalogue_has_no_untranslated_or_fuzzy_entry(zh: tuple[Entry, list[Entry]]) -> None:
    _, entries = zh
    fuzzy = [e.where for e in entries if "fuzzy" in e.flags]
    untranslated = [e.where for e in entries if not e.translated]
    assert not fuzzy, f"{len(fuzzy)} fuzzy zh_Hans entries ({REFRESH}):\n" + "\n".join(fuzzy)
    assert not untranslated, f"{len(untranslated)} untranslated zh_Hans entries ({REFRESH}):\n" + "\n".join(
        untranslated
    )


def test_zh_plural_entries_have_exactly_one_form(zh: tuple[Entry, list[Entry]]) -> None:
    _, entries = zh
    wrong = [e.where for e in entries if e.msgid_plural is not None and sorted(e.msgstr) != [0]]
    assert not wrong, "zh_Hans has one plural form (msgstr[0] only):\n" + "\n".join(wrong)


def test_zh_translations_keep_placeholders_and_tags(zh: tuple[Entry, list[Entry]]) -> None:
    _, entries = zh
    broken = []
    for entry in entries:
        wanted = [tokens(entry.msgid)] + ([tokens(entry.msgid_plural)] if entry.msgid_plural else [])
        for text in entry.msgstr.values():
            if text and tokens(text) not in wanted:
                broken.append(f"{entry.where}: {text!r} has {tokens(text)}, wanted {wanted[-1]}")
    assert not broken, "placeholders or HTML tags changed in translation:\n" + "\n".join(broken)


def test_en_catalogue_translates_chinese_msgids_and_has_no_fuzzy_entry(en: tuple[Entry, list[Entry]]) -> None:
    header, entries = en
    fields = header_fields(header)
    assert "fuzzy" not in header.flags
    assert fields.get("Language") == "en"
    assert fields.get("Content-Type") == "text/plain; charset=UTF-8"
    assert fields.get("Plural-Forms", "").replace(" ", "") == "nplurals=2;plural=(n!=1);"
    fuzzy = [e.where for e in entries if "fuzzy" in e.flags]
    assert not fuzzy, "fuzzy en entries:\n" + "\n".join(fuzzy)
    chinese = [e.where for e in entries if CJK.search(e.msgid) and not e.translated]
    assert not chinese, "Chinese msgids need an English msgstr:\n" + "\n".join(chinese)


def test_both_catalogues_hold_the_same_msgids(zh: tuple[Entry, list[Entry]], en: tuple[Entry, list[Entry]]) -> None:
    def keys(entries: list[Entry]) -> set[tuple[str | None, str]]:
        return {(e.msgctxt, e.msgid) for e in entries}

    only_zh, only_en = keys(zh[1]) - keys(en[1]), keys(en[1]) - keys(zh[1])
    assert not only_zh and not only_en, f"catalogues differ ({REFRESH}): zh only {only_zh}, en only {only_en}"


@pytest.mark.parametrize("language", ["zh_Hans", "en"])
def test_compiled_catalogue_matches_its_source(language: str) -> None:
    po = LOCALE_DIR / language / "LC_MESSAGES" / "django.po"
    mo = po.with_suffix(".mo")
    assert mo.exists(), f"{mo} is missing: run `make messages` (the .mo files are committed)"
    with mo.open("rb") as handle:
        compiled = gnu_gettext.GNUTranslations(handle)
    stale = []
    for entry in parse_po(po)[1]:
        if not entry.translated or "fuzzy" in entry.flags:
            continue
        if entry.msgid_plural is not None:
            got = [compiled.ngettext(entry.msgid, entry.msgid_plural, n) for n in (1, 2)]
            want = [entry.msgstr[0], entry.msgstr.get(1, entry.msgstr[0])]
            if language == "zh_Hans":
                want = [entry.msgstr[0]] * 2
        elif entry.msgctxt is not None:
            got, want = [compiled.pgettext(entry.msgctxt, entry.msgid)], [entry.msgstr[0]]
        else:
            got, want = [compiled.gettext(entry.msgid)], [entry.msgstr[0]]
        if got != want:
            stale.append(entry.where)
    assert not stale, f"{mo.name} for {language} is older than its .po: run `make messages`:\n" + "\n".join(stale)


@pytest.mark.skipif(
    not (shutil.which("xgettext") and shutil.which("msgmerge") and shutil.which("msguniq")),
    reason="GNU gettext is not installed (apt-get install gettext)",
)
def test_every_marked_string_is_in_the_catalogue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, zh: tuple[Entry, list[Entry]]
) -> None:
    """Extract the source again (like `make messages`, into a scratch copy) and compare."""
    source = Path(settings.BASE_DIR)
    copy = tmp_path / "guanxi"
    shutil.copytree(
        source,
        copy,
        ignore=shutil.ignore_patterns("static", "locale", "migrations", "__pycache__", "*.pyc", "*.mo", "*.po"),
    )
    (copy / "locale").mkdir()
    monkeypatch.chdir(copy)
    monkeypatch.setattr(settings, "LOCALE_PATHS", [copy / "locale"])
    call_command("makemessages", locale=["zh_Hans"], ignore_patterns=["static/*", "migrations/*"], verbosity=0)
    _, extracted = parse_po(copy / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po")
    known = {(e.msgctxt, e.msgid, e.msgid_plural) for e in zh[1]}
    missing = [e.where for e in extracted if (e.msgctxt, e.msgid, e.msgid_plural) not in known]
    assert not missing, f"{len(missing)} strings marked for translation are not in the catalogue ({REFRESH}):\n" + (
        "\n".join(missing)
    )


# --- translations at run time -------------------------------------------------------------------------


def test_gettext_and_verbose_names_follow_the_active_language() -> None:
    from django.utils.translation import gettext, ngettext

    from guanxi.customers.models import Account, Contact
    from guanxi.identity.models import Team, User

    with translation.override("zh-hans"):
        assert gettext("Settings") == "设置"
        assert gettext("Recycle bin") == "回收站"
        assert gettext("Sign in") == "登录"
        assert gettext("Own and subordinates' records") == "本人及下属的记录"
        # Menu entries are the models' plural names with a capital (capfirst), e.g. "Teams".
        assert capfirst(Team._meta.verbose_name_plural) == "团队"
        assert str(User._meta.verbose_name_plural) == "用户"
        assert str(Account._meta.verbose_name) == "客户"
        assert str(Contact._meta.verbose_name) == "联系人"
        assert str(Account._meta.get_field("owner").verbose_name) == "负责人"
        assert str(User._meta.get_field("email").verbose_name) == "邮箱"
        assert ngettext("%(count)d record was updated.", "%(count)d records were updated.", 3) % {"count": 3} == (
            "已更新3条记录。"
        )
    with translation.override("en"):
        assert gettext("简体中文") == "Simplified Chinese"
        assert capfirst(Team._meta.verbose_name_plural) == "Teams"
        assert gettext("Settings") == "Settings"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "expected", "absent"),
    [
        ("zh-hans", ["团队", "设置", "用户", "角色", "回收站", "退出登录"], ["Sign out", "Recycle bin"]),
        ("en", ["Teams", "Settings", "Users", "Roles", "Recycle bin", "Sign out"], ["退出登录", "回收站"]),
    ],
)
def test_pages_are_rendered_in_the_language_of_the_cookie(
    language: str, expected: list[str], absent: list[str]
) -> None:
    from tests.factories import AdminFactory

    # The saved preference is the other language: the cookie (the switch just used) wins.
    admin: Any = AdminFactory(language="en" if language == "zh-hans" else "zh-hans")
    client = Client()
    client.force_login(admin)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    response = client.get("/")
    assert response.status_code == 200
    page = response.content.decode()
    assert f'<html lang="{language}"' in page
    for text in expected:
        assert text in page, f"{text!r} missing from the {language} home page"
    for text in absent:
        assert text not in page, f"{text!r} is untranslated on the {language} home page"
