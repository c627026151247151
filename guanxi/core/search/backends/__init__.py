"""The engine-specific half of search: one module per database engine, the same functions in each.

``write(rows, remove_ids)``, ``remove(ids)``, ``remove_range(lo, hi)``, ``candidates(query, columns,
exact, lo, hi, limit)``, ``count(lo, hi)``. A row is ``(doc_id, k, n, e, p, o)``: the document id and
the space-separated tokens of its columns (keys, words, emails, phones, other). All SQL is
parameterised; the match expression is built from tokens that hold only ``[a-z0-9._@+-]`` and Han
characters, and each is quoted anyway.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

from django.db import connection

#: The columns of a document, in storage order.
COLUMNS = ("k", "n", "e", "p", "o")
Row = tuple[int, str, str, str, str, str]
#: A document id is its record type's number (the content type id) shifted left by ``SHIFT``, ORed
#: with the record's primary key: each type's documents lie in one id range.
SHIFT = 40
MASK = (1 << SHIFT) - 1


def backend() -> ModuleType:
    """The module for the default database's engine."""
    if connection.vendor == "postgresql":
        from guanxi.core.search.backends import postgresql

        return postgresql
    if connection.vendor == "sqlite":
        from guanxi.core.search.backends import sqlite

        return sqlite
    raise NotImplementedError(f"search does not support the {connection.vendor} database engine")


def chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
