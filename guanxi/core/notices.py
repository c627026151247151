"""What a write service tells the person acting besides its result: a warning that did not stop it.

Restoring a customer a colleague has meanwhile added again (撞单保护 under ``tell``) goes ahead, and
the colleague is told; the restorer should be told too, whose customer it is. The service's return
value is the record (``Resource.restore`` is called generically, with ``record_restore`` as its
fallback), so the words go here instead: a caller that shows them (the recycle bin's page, its bulk
actions) collects them around the service call; elsewhere they are dropped.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_collected: ContextVar[list[str] | None] = ContextVar("guanxi_notices", default=None)


@contextmanager
def collecting() -> Iterator[list[str]]:
    """Gather the notices given inside the block, each once, in the order given."""
    notices: list[str] = []
    token = _collected.set(notices)
    try:
        yield notices
    finally:
        _collected.reset(token)


def notice(text: str) -> None:
    """Tell the acting user ``text``, if a caller collects it (``collecting``)."""
    notices = _collected.get()
    if notices is not None and text not in notices:
        notices.append(text)
