"""Cells that hold several names (an account's 关联企业, a record's tags, a multiple-choice custom
field): how an export writes them and an import reads them back.

An export joins the names with a separator; an import splits a cell on every separator people type
for that column (; and ； for relations; , ， ; ； 、 | for tags and choices). A name that holds one of
them, or would not read back as it is for another reason, is written in double quotes as a CSV
file quotes a cell, a quote inside it doubled: ``"A;B Trading"; 华信科技``. Reading, a quoted
name is one item, its quotes taken off and ``""`` read as ``"``. A quote opens only at an item's
start (or, where a column says so, right after its first colon: ``供货给:"A;B Trading"``);
anywhere else it is the name's own (``华信"科技"``), so the cells written before quoting existed,
which hold no quoted names, read as they always did.

A quote left open, or text after a closing quote, raises ``QuoteError`` (a ``ValueError``) saying
what to write: the import refuses the row on that column.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import cache

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

QUOTE = '"'
#: What a tags or multiple-choice cell is split on: the export writes "a, b"; people also type 、 ; ， |.
LIST_SEPARATORS = ",，;；、|"
LIST_JOINER = ", "
#: Said under a tags or multiple-choice column (the template, the list of import fields).
LIST_QUOTES_HINT = gettext_lazy(
    'One that holds a separator (, ; 、 |) goes in double quotes, e.g. "A, B"; a quote inside it is written twice.'
)


class QuoteError(ValueError):
    """A cell whose double quotes do not read: a quote left open, or text after a closing one."""


@cache
def _splitter(separators: str) -> re.Pattern[str]:
    return re.compile(f"[{re.escape(separators)}]")


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 40 else text[:39] + "…"


def _quoted(cell: str, start: int) -> tuple[str, int]:
    """The quoted text opening at ``cell[start]`` (``""`` read as ``"``) and where it ends."""
    parts: list[str] = []
    at = start + 1
    while True:
        end = cell.find(QUOTE, at)
        if end < 0:
            raise QuoteError(
                _(
                    "“%(item)s” opens a double quote but does not close it: end the quoted name with a double "
                    'quote, and write a quote inside it twice ("").'
                )
                % {"item": _excerpt(cell[start:])}
            )
        parts.append(cell[at:end])
        if not cell.startswith(QUOTE, end + 1):
            return "".join(parts), end + 1
        parts.append(QUOTE)
        at = end + 2


def read_items(cell: str, separators: str, *, opens_after: str = "") -> list[tuple[str, bool]]:
    """The items of ``cell`` in order, each ``(text, quoted)``: an unquoted item as written
    (spaces kept, empty ones too), a quoted one without its quotes, after what came before its
    opening quote (``opens_after``: the characters after the first of which a quote may open too,
    ``:：`` for ``供货给:"A;B"``). ``QuoteError`` for quotes that do not read."""
    if QUOTE not in cell:  # nearly every cell: one split
        return [(part, False) for part in _splitter(separators).split(cell)]
    items: list[tuple[str, bool]] = []
    at, size = 0, len(cell)
    while True:
        start = at
        end = at
        while end < size and cell[end] not in separators:
            end += 1
        head = cell[start:end].lstrip()
        opening = -1
        if head.startswith(QUOTE):
            opening = end - len(head)
        elif opens_after:
            colon = next((i for i in range(start, end) if cell[i] in opens_after), -1)
            if colon >= 0 and cell[colon + 1 : end].lstrip().startswith(QUOTE):
                opening = end - len(cell[colon + 1 : end].lstrip())
        if opening < 0:
            items.append((cell[start:end], False))
            at = end
        else:
            text, after = _quoted(cell, opening)
            end = after
            while end < size and cell[end] not in separators:
                end += 1
            if cell[after:end].strip():
                raise QuoteError(
                    _(
                        "“%(item)s” goes on after its closing double quote: put the whole name inside the quotes, "
                        'and write a quote inside it twice ("").'
                    )
                    % {"item": _excerpt(cell[start:end])}
                )
            items.append((cell[start:opening].lstrip() + text, True))
            at = end
        if at >= size:
            return items
        at += 1  # the separator


def split_items(cell: str, separators: str) -> list[str]:
    """The names in ``cell``, trimmed, empty ones left out."""
    return [text.strip() for text, _was_quoted in read_items(cell, separators) if text.strip()]


def quote(name: str) -> str:
    """``name`` in double quotes, a quote inside it doubled."""
    return QUOTE + name.replace(QUOTE, QUOTE * 2) + QUOTE


def reads_back(item: str, read: Callable[[str], list[str]]) -> bool:
    """Whether ``read`` (an import's splitter) gives ``item`` back whole, as written."""
    try:
        return read(item) == [item]
    except QuoteError:
        return False


def join_items(items: Iterable[str], separator: str, read: Callable[[str], list[str]]) -> str:
    """``items`` in one cell, ``separator`` between them; each that ``read`` would not give back
    whole in double quotes. Names without a separator are written as they are."""
    return separator.join(item if reads_back(item, read) else quote(item) for item in items)


def split_list(cell: str) -> list[str]:
    """A tags or multiple-choice cell's names."""
    return split_items(cell, LIST_SEPARATORS)


def join_list(names: Iterable[str]) -> str:
    """Tags or choices as their export cell writes them: ``VIP, "A, B"``."""
    return join_items(names, LIST_JOINER, split_list)


__all__ = [
    "LIST_QUOTES_HINT",
    "QuoteError",
    "join_items",
    "join_list",
    "quote",
    "read_items",
    "reads_back",
    "split_items",
    "split_list",
]
