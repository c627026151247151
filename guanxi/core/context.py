"""Where a write comes from: the source (ui/api/import/job/system) and the request id.

Services read this when they write the change log, so the audit trail names the channel
without every service taking two more arguments. Middleware, the API and job runners set it.
"""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class WriteContext:
    source: str = "system"
    request_id: str = ""


_DEFAULT = WriteContext()
_current: ContextVar[WriteContext] = ContextVar("guanxi_write_context", default=_DEFAULT)


def current() -> WriteContext:
    return _current.get()


def new_request_id() -> str:
    return uuid.uuid4().hex


@contextmanager
def write_context(source: str, request_id: str | None = None) -> Iterator[WriteContext]:
    """Run a block with the given source; jobs and imports wrap their work in this."""
    ctx = WriteContext(source=source, request_id=request_id or new_request_id())
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)
