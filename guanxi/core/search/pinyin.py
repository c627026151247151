"""Pinyin readings from pypinyin's data files, without importing pypinyin.

``import pypinyin`` loads every table and builds its phrase segmenter: about 50 MB of Python objects
in each process that imports it (web workers, the task worker, each child of an import). Guanxi
needs two of its tables: the readings of each character, and the readings of two-character phrases
(to settle polyphones: 重庆 -> chong qing). They are read here from pypinyin's JSON files, on first
use: about 15 MB. tests/core/test_pinyin.py checks that they agree with pypinyin itself.
"""

from __future__ import annotations

import importlib.util
import json
import re
import unicodedata
from functools import cache
from pathlib import Path

# The phrase file has one JSON token a line; a two-character key and the first reading of each of
# its two characters: "重庆": [\n[\n"chóng"\n],\n[\n"qìng"\n]\n],
_PAIR_RE = re.compile(r'^"(\w\w)": \[\n\[\n"([^"\n]+)"[^\]]*\],\n\[\n"([^"\n]+)"', re.MULTILINE)

# Combining tone marks after NFD: the tone number of TONE3 style (zhāng -> zhang1).
_TONES = {"\u0304": "1", "\u0301": "2", "\u030c": "3", "\u0300": "4"}


def _data_file(name: str) -> Path:
    """A file of the installed pypinyin package, found without running its ``__init__``."""
    spec = importlib.util.find_spec("pypinyin")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("pypinyin is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / name


@cache
def _char_table() -> dict[str, str]:
    """Code point (as text, the file's keys) -> readings with tone marks, comma separated."""
    with _data_file("pinyin_dict.json").open(encoding="utf-8") as fp:
        table: dict[str, str] = json.load(fp)
    return table


@cache
def _pair_table() -> dict[str, tuple[str, str]]:
    """Two-character phrase -> the reading of each character, with tone marks."""
    text = _data_file("phrases_dict.json").read_text(encoding="utf-8")
    return {match[1]: (match[2], match[3]) for match in _PAIR_RE.finditer(text)}


def plain(marked: str) -> str:
    """ "zhāng" -> "zhang", "lǚ" -> "lv" (the keyboard spelling of ü)."""
    text = marked.replace("ü", "v").replace("ǖ", "v").replace("ǘ", "v").replace("ǚ", "v").replace("ǜ", "v")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if "a" <= ch <= "z")


def toned(marked: str) -> str:
    """ "zhāng" -> "zhang1", "lǜ" -> "lv4", "de" (neutral tone) -> "de": pypinyin's TONE3 style."""
    decomposed = unicodedata.normalize("NFD", marked.replace("ü", "v"))
    tone = next((_TONES[ch] for ch in decomposed if ch in _TONES), "")
    base = decomposed.replace("u\u0308", "v")
    return "".join(ch for ch in base if ch not in _TONES and not unicodedata.combining(ch)) + tone


def char_readings(ch: str) -> tuple[str, ...]:
    """Every reading of one character with tone marks, the most common first (empty: none known).
    Not cached here: its callers cache what they derive from it (plain or toned syllables)."""
    marked = _char_table().get(str(ord(ch)))
    return tuple(marked.split(",")) if marked else ()


def pair_readings(pair: str) -> tuple[str, str] | None:
    """The readings of a two-character phrase, one per character (None: not a known phrase)."""
    return _pair_table().get(pair)
