"""Database helpers both engines need: planner statistics after bulk writes, one row by a unique key.

Without statistics a planner guesses. After an import of many rows SQLite then takes the
single-column ``deleted_at`` index for "live rows" and sorts every one of them, and PostgreSQL
(until autovacuum comes round) estimates a few dozen rows and sorts too. ``ANALYZE`` tells both
how the indexes really divide the table, and the list pages use their (field, id) indexes.
On PostgreSQL, outside a transaction, ``VACUUM (ANALYZE)`` also sets the visibility map.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import connections, models
from django.db.models import ForeignKey, ManyToManyField

logger = logging.getLogger(__name__)

#: Below this many written rows, statistics are left to the database (autovacuum, ``PRAGMA optimize``).
ANALYZE_MIN_ROWS = 1000


def related_tables(model: type[models.Model]) -> list[str]:
    """``model``'s table and those of the models that point at it (links, contact points, through tables)."""
    tables = [model._meta.db_table]
    for field in model._meta.get_fields(include_hidden=True):
        related = field.related_model
        if not isinstance(related, type) or not issubclass(related, models.Model):
            continue
        opts = related._meta
        if opts.abstract or opts.proxy or not opts.managed:
            continue
        points_back = field.auto_created and not field.concrete and isinstance(field.remote_field, ForeignKey)
        if points_back and opts.db_table not in tables:
            tables.append(opts.db_table)
        if isinstance(field, ManyToManyField):
            through_table = field.m2m_db_table()
            if through_table not in tables:
                tables.append(through_table)
    return tables


def analyze_tables(*model_classes: type[models.Model], rows: int | None = None, using: str = "default") -> None:
    """Refresh the planner statistics of these models' tables (and their link tables).

    ``rows``: how many rows the caller wrote; under ``ANALYZE_MIN_ROWS`` nothing is done. Errors are
    logged, never raised: statistics are an optimisation.
    """
    if rows is not None and rows < ANALYZE_MIN_ROWS:
        return
    tables: list[str] = []
    for model in model_classes:
        tables += [t for t in related_tables(model) if t not in tables]
    if not tables:
        return
    connection = connections[using]
    quote = connection.ops.quote_name
    try:
        with connection.cursor() as cursor:
            if connection.vendor == "sqlite":
                # A full ANALYZE (no ``analysis_limit``): a sampled one guesses that "deleted_at IS NULL"
                # matches a few thousand rows, when it matches nearly all, and the plan sorts them again.
                cursor.execute("PRAGMA analysis_limit=0")
                for table in tables:
                    cursor.execute(f"ANALYZE {quote(table)}")
            elif connection.in_atomic_block or not connection.get_autocommit():
                cursor.execute(f"ANALYZE {', '.join(quote(t) for t in tables)}")
            else:
                # VACUUM also marks the new rows all-visible: the list's (field, id) indexes then
                # answer a page by an index-only scan, which the planner prefers to a narrower
                # single-column index plus an incremental sort.
                cursor.execute(f"VACUUM (ANALYZE) {', '.join(quote(t) for t in tables)}")
    except Exception:  # pragma: no cover - a locked or read-only database
        logger.exception("ANALYZE of %s failed", ", ".join(tables))


def first_row(qs: models.QuerySet) -> Any:
    """The one row of a query on a unique key, or None. Not ``first()``: that adds ORDER BY id, and
    compiling the ordering is about a third of the cost of a simple query (~0.3 ms a request)."""
    rows = list(qs.order_by()[:1])
    return rows[0] if rows else None
