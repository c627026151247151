"""查看完整信息统计 (who saw masked values in full, per person) in the platform's walks: the API
matrix row of ``GET /reveals/summary`` and the UI matrix row of its page (loaded by
``tests/core/platform_policies.py``).

Written out from the rule: whoever may read the change log by role may read it, with the scope "all"
about everyone, with a narrower one about the people it reaches (team, subordinates, themselves). In
the organisation only Team rep (colleague) has the change log, scope "own"; the administrators see
everyone who saw something; every other person gets 403 (the history of the records they may see
opens the change log to them, but a count names no record). The counts themselves are in
tests/core/test_reveal_report.py.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tests.api.world import World

if TYPE_CHECKING:  # pragma: no cover
    from tests.api.test_permission_matrix import Check
    from tests.ui_matrix.test_ui_permission_matrix import UiCheck

SUMMARY = "/api/v1/reveals/summary"
#: Views in full per person, by days ago (all within the week the page shows by default).
SEEN = {"owner": {0: 2}, "colleague": {0: 1, 3: 4}, "other": {5: 6}, "manager": {0: 1}, "admin": {1: 3}}
#: Whose rows each principal reads (None: 403).
REVEAL_VIEW: dict[str, set[str] | None] = {
    "owner": None,
    "colleague": {"colleague"},
    "other": None,
    "manager": None,
    "norole": None,
    "admin": set(SEEN),
    "admin_token": set(SEEN),
    "token_noscope": None,  # a token without core.changelogentry:view
}
ROW = re.compile(rb'<tr data-pk="(\d+)"')


def reveals_world(w: World) -> World:
    """The day counts of ``SEEN`` (once per world)."""
    if "revealcount" in w.objs:
        return w
    from django.utils import timezone

    from guanxi.core.models import RevealCount

    today = timezone.localdate()
    for who, days in SEEN.items():
        for ago, count in days.items():
            day = today - datetime.timedelta(days=ago)
            w.add("revealcount", f"{who}_{ago}", RevealCount.objects.create(user=w.p.users[who], day=day, count=count))
    return w


def _compare(errors: list[str], label: str, w: World, ids: list[int], expected: set[str]) -> None:
    got = {w.key_of("user", pk) for pk in ids}
    if got != expected:
        errors.append(f"{label}: shows {sorted(got)}, expected {sorted(expected)}")


def _walk(c: Check | UiCheck, label: str, url: str, signed_out: int, shown: Callable[[Any], list[int]]) -> None:
    """The one rule on either side: signed out ``signed_out``, 403 without the change log, else the
    rows of exactly the people ``REVEAL_VIEW`` names (``shown``: the user ids a response lists)."""
    reveals_world(c.w)
    if c.who == "anonymous":
        c.request(label, "GET", url, signed_out)
        return
    expected = REVEAL_VIEW[c.who]
    if expected is None:
        c.request(label, "GET", url, 403)
        return
    response = c.request(label, "GET", url, 200)
    if response.status_code == 200:
        _compare(c.errors, label, c.w, shown(response), expected)


def _api_summary(c: Check) -> None:
    _walk(c, "reveal summary", f"{SUMMARY}?days=7", 401, lambda r: [item["id"] for item in r.json()["items"]])


def _ui_report(c: UiCheck) -> None:
    from django.urls import reverse

    _walk(c, "reveal report", reverse("ui:reveal-report"), 302, lambda r: [int(pk) for pk in ROW.findall(r.content)])


MATRIX: dict[tuple[str, str], Callable[[Check], None]] = {("GET", SUMMARY): _api_summary}
UI_MATRIX: dict[str, Callable[[UiCheck], None]] = {"reveal-report": _ui_report}
