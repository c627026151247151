"""Guanxi reads pypinyin's tables without importing pypinyin (``guanxi/core/search/pinyin.py``): the
readings must be pypinyin's own, and no Guanxi process may pay for pypinyin's import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pypinyin import Style, lazy_pinyin
from pypinyin.phrases_dict import phrases_dict
from pypinyin.pinyin_dict import pinyin_dict

from guanxi.core.search import pinyin
from guanxi.core.search.text import syllables
from guanxi.customers.duplicates import _CJK_RE, _syllable, _toned

ROOT = Path(__file__).resolve().parents[2]


def test_every_character_reads_as_pypinyin_reads_it() -> None:
    chars = [chr(code) for code in pinyin_dict if _CJK_RE.match(chr(code))]
    assert len(chars) > 20_000
    plain = [c for c in chars if _syllable(c) != (lazy_pinyin(c, errors="ignore") or [c])[0]]
    toned = [c for c in chars if _toned(c) != (lazy_pinyin(c, style=Style.TONE3, errors="ignore") or [c])[0]]
    assert plain == [] and toned == []
    assert (_syllable("绿"), _toned("绿"), _toned("张"), _syllable("a")) == ("lv", "lv4", "zhang1", "a")


def test_two_character_phrases_are_pypinyins() -> None:
    expected = {key: (value[0][0], value[1][0]) for key, value in phrases_dict.items() if len(key) == 2}
    assert {pair: pinyin.pair_readings(pair) for pair in expected} == expected
    assert pinyin.pair_readings("张三") is None
    assert syllables("重庆") == ["chong", "qing"] and syllables("银行") == ["yin", "hang"]


def test_no_guanxi_process_imports_pypinyin() -> None:
    """``import pypinyin`` costs ~50 MB in every web worker and task worker."""
    code = (
        "import sys, django; django.setup(); import guanxi.urls; "
        "from guanxi.core.management.commands import worker; "
        "from guanxi.core.search.text import name_tokens; from guanxi.customers.duplicates import _syllable; "
        "name_tokens('张伟', person=True); _syllable('张'); "
        "print('pypinyin' in sys.modules)"
    )
    env = {"DJANGO_SETTINGS_MODULE": "tests.settings", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
