"""People's names: which part is the family name, and the order a name is shown in.

Han, kana and hangul names read family name first without a space (张三, 欧阳娜娜); others given name
first (John Smith). Contacts (the form, the import, a merge) and users (their pinyin for pickers,
``User.name_keys``) read names the same way.
"""

from __future__ import annotations

import re

# Han (with extensions and compatibility forms), kana and hangul: scripts whose names read
# family name first, without a space.
_EAST_ASIAN_RE = re.compile(
    "[\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u1100-\u11ff\uac00-\ud7af\U00020000-\U0003134f]"
)

COMPOUND_SURNAMES = frozenset(
    ("欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒", "夏侯",
     "轩辕", "令狐", "钟离", "端木", "独孤", "南宫", "西门", "万俟", "闻人", "澹台", "公冶", "呼延")
)  # fmt: skip


def has_east_asian_script(text: str) -> bool:
    return bool(_EAST_ASIAN_RE.search(text or ""))


def person_display_name(family_name: str, given_name: str) -> str:
    """张 + 三 -> "张三"; Smith + John -> "John Smith"; one part alone stands alone."""
    family = " ".join((family_name or "").split())
    given = " ".join((given_name or "").split())
    if has_east_asian_script(family) or has_east_asian_script(given):
        return f"{family}{given}"
    return " ".join(part for part in (given, family) if part)


def split_name(full: str) -> tuple[str, str]:
    """(family, given) of a full name: 张三 -> (张, 三), 欧阳娜娜 -> (欧阳, 娜娜), John Smith -> (Smith, John)."""
    full = " ".join(full.split()) if full else ""
    if not full:
        return "", ""
    if has_east_asian_script(full) and " " not in full:
        if len(full) >= 3 and full[:2] in COMPOUND_SURNAMES:
            return full[:2], full[2:]
        return full[:1], full[1:]
    if "," in full:
        family, _sep, given = full.partition(",")
        return family.strip(), given.strip()
    parts = full.rsplit(" ", 1)
    if len(parts) == 1:
        return "", parts[0]
    return parts[1], parts[0]
