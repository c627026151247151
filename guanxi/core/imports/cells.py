"""Reading single cells of an import file: dates as people type them, and cells an export escaped."""

from __future__ import annotations

import datetime
import re
from functools import lru_cache

from django.utils.translation import gettext as _

from guanxi.core.exports import FORMULA_START

_DATE_RE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T].*)?")
_COMPACT_DATE_RE = re.compile(r"(\d{4})(\d{2})(\d{2})")


@lru_cache(maxsize=4096)
def parse_date(text: str) -> datetime.date:
    """2024-03-05, 2024/3/5, 2024.03.05, 2024年3月5日, 20240305 (a time part is ignored)."""
    match = _DATE_RE.fullmatch(text) or _COMPACT_DATE_RE.fullmatch(text)
    if match:
        try:
            return datetime.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        except ValueError:
            pass
    raise ValueError(_("“%(value)s” is not a date; use e.g. 1990-05-20.") % {"value": text[:40]})


def unescape_cell(text: str) -> str:
    """The text an export escaped (``'=cmd`` -> ``=cmd``, ``'+86…`` -> ``+86…``), so a file exported,
    edited and imported again keeps its values. Only before a character a spreadsheet would run: an
    apostrophe anywhere else is the text's own."""
    if len(text) > 1 and text[0] == "'" and text[1:].startswith(FORMULA_START):
        return text[1:]
    return text


#: What a yes-or-no cell may say: an export writes 是 / 否 (Yes / No in English).
YES = frozenset({"1", "true", "yes", "y", "on", "是", "对"})
NO = frozenset({"0", "false", "no", "n", "off", "否", "不是"})


def parse_yes_no(text: str) -> bool:
    """是 / 否, yes / no, true / false, 1 / 0 -> a bool; ValueError (in words) for anything else."""
    value = str(text).strip().lower()
    if value in YES:
        return True
    if value in NO:
        return False
    raise ValueError(_("Enter yes or no (是 or 否)."))
