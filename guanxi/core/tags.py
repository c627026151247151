"""Scoped tags (分组标签): a tag named ``scope::value`` (意向::高, 阶段::试用) belongs to the scope before
``::``, and a record holds at most one tag of each scope: putting 意向::中 on it takes 意向::高 off.

A salesperson classifies a customer along a few axes (purchase intent, need, source campaign) with
one value each; plain tags (VIP, 设备维保需求) stay as many as one likes. The scope is the name's own
prefix, as GitLab's scoped labels have it, so the shared vocabulary, its filters (``tag=意向::高``; ``tag=意向::*``
for any of the scope), rules and exports need nothing more. Every path that writes tags keeps the rule: a record's own
tags (``services.tags_set``: two of one scope are refused, naming them), the bulk action and the
import's added tags (``with_added``: the new one replaces), and a merge (the survivor's tag of a
scope stays).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.utils.translation import gettext as _

from guanxi.core.errors import FieldErrors

SEPARATOR = "::"
# Typed on a Chinese keyboard: full-width colons, and spaces around the separator.
_SEPARATOR_RE = re.compile(r"\s*(?:::|：：|:：|：:)\s*")


def normalize(name: str) -> str:
    """A tag's name as it is kept: trimmed, and "意向 ：：高" as "意向::高"."""
    return _SEPARATOR_RE.sub(SEPARATOR, name.strip(), count=1)


def scope_of(name: str) -> str | None:
    """The scope of ``scope::value`` (意向::高 -> 意向); None for a plain tag."""
    scope, separator, value = name.partition(SEPARATOR)
    return scope if separator and scope and value else None


#: ``tag=意向::*`` in a list's filter: any tag of the scope.
ANY = "*"


def any_of_scope(name: str) -> str | None:
    """The scope that ``意向::*`` asks for any tag of; None for a tag's own name."""
    scope, separator, value = name.partition(SEPARATOR)
    return scope if separator and scope and value == ANY else None


def check_scoped(names: Iterable[str], field: str = "tags") -> None:
    """Refuse two tags of one scope, naming them: which one is meant is the user's to say."""
    seen: dict[str, list[str]] = {}
    for name in names:
        scope = scope_of(name)
        if scope is not None:
            seen.setdefault(scope, []).append(name)
    clashes = {scope: sorted(set(found)) for scope, found in seen.items() if len(set(found)) > 1}
    if clashes:
        raise FieldErrors(
            {
                field: [
                    _("A record holds one tag of “%(scope)s”: keep one of %(tags)s.")
                    % {"scope": scope, "tags": ", ".join(found)}
                    for scope, found in sorted(clashes.items())
                ]
            }
        )


def with_added(before: Iterable[str], added: Iterable[str]) -> list[str]:
    """A record's tags after adding ``added`` (in order): each scoped one replaces the tag of its
    scope the record had (or an earlier one of ``added``)."""
    result = list(dict.fromkeys(before))
    for name in added:
        scope = scope_of(name)
        if scope is not None:
            result = [t for t in result if t == name or scope_of(t) != scope]
        if name not in result:
            result.append(name)
    return result


def tags_after(before: Iterable[str], names: Iterable[str], *, adding: bool) -> list[str]:
    """A record's tags after the bulk action "tag_add" (``with_added``) or "tag_remove" of ``names``."""
    if adding:
        return with_added(before, names)
    gone = set(names)
    return [name for name in before if name not in gone]
