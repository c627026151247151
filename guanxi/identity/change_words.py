"""A user's handovers in words, in their change history (``display.register_change_words``).

A handover (``identity.handover``) is kept in the departing user's change log as data: whom to, how
many of each kind moved (to each colleague, when several shared them out), how many were skipped. The
history reads "Accounts: 3 to 李四", "Accounts: 2 to 王五", "Contacts: 5 to the pool"; a recipient the
reader may not see is not named (``record_names``).
"""

from __future__ import annotations

from typing import Any

from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from guanxi.core.registry import resource_at
from guanxi.core.views.display import ChangeValueWords, record_names, register_change_words
from guanxi.identity.models import User


def _records(path: str) -> str:
    try:
        return capfirst(resource_at(path).label_plural)
    except KeyError:  # a module no longer installed: its path says what it was
        return path


def _shared(value: dict[str, Any]) -> dict[int, dict[str, int]]:
    """A handover's counts by colleague (user id -> kind -> how many, their people included), when
    it names them (handovers since several colleagues could share the records out)."""
    shared = value.get("recipients")
    if not isinstance(shared, dict):
        return {}
    return {int(pk): dict(kinds or {}) for pk, kinds in shared.items() if str(pk).isdigit()}


def handover_words(values: list[Any], user: Any) -> ChangeValueWords:
    """One line per kind of record and colleague: how many went to whom, then what was left and why."""
    dicts = [v for v in values if isinstance(v, dict)]
    wanted = {v.get("recipient") for v in dicts} | {pk for v in dicts for pk in _shared(v)}
    names = record_names(User, wanted, user)

    def line(path: str, count: Any, recipient: str) -> str:
        return _("%(records)s: %(count)s to %(recipient)s") % {
            "records": _records(path),
            "count": count,
            "recipient": recipient,
        }

    def words(value: Any, _record_id: Any) -> list[str]:
        if not isinstance(value, dict):
            return [str(value)]
        pooled = set(value.get("pool") or [])
        shared = _shared(value)
        if shared or "recipients" in value:
            lines = [
                line(path, count, _("the pool")) for path, count in (value.get("moved") or {}).items() if path in pooled
            ]
            lines += [
                line(path, count, names.get(pk, "—")) for pk, kinds in shared.items() for path, count in kinds.items()
            ]
        else:  # an entry written before several colleagues could share the records out
            recipient = names.get(value.get("recipient"), "—")
            lines = [
                line(path, count, _("the pool") if path in pooled else recipient)
                for path, count in (value.get("moved") or {}).items()
            ]
        skipped = int(value.get("skipped") or 0)
        if skipped:
            lines.append(
                ngettext(
                    "%(count)s stayed (the person handing over may not change it)",
                    "%(count)s stayed (the person handing over may not change them)",
                    skipped,
                )
                % {"count": skipped}
            )
        failed = int(value.get("failed") or 0)
        if failed:
            lines.append(ngettext("%(count)s refused", "%(count)s refused", failed) % {"count": failed})
        return lines

    return words


def register_change_words_of_identity() -> None:
    register_change_words(User, "handover", handover_words, label=gettext_lazy("Handover"))
