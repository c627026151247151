"""Database helpers both engines need: planner statistics after bulk writes, one row by a unique key,
a date's month and day as one indexed number.

Without statistics a planner guesses. After an import of many rows SQLite then takes the
single-column ``deleted_at`` index for "live rows" and sorts every one of them, and PostgreSQL
(until autovacuum comes round) estimates a few dozen rows and sorts too. ``ANALYZE`` tells both
how the indexes really divide the table, and the list pages use their (field, id) indexes.
On PostgreSQL, outside a transaction, ``VACUUM (ANALYZE)`` also sets the visibility map.
"""

from __future__ import annotations

import datetime
import functools
import json
import logging
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import orjson
from django.conf import settings
from django.db import connections, models, transaction
from django.db.models import ForeignKey, ManyToManyField

logger = logging.getLogger(__name__)

#: Below this many written rows, statistics are left to the database (autovacuum, ``PRAGMA optimize``).
ANALYZE_MIN_ROWS = 1000


# Work left for after the commit, gathered inside ``one_unit``: key -> (run, items).
_Gathered = dict[Hashable, tuple[Callable[[list[Any]], Any], list[Any]]]
_one_unit: ContextVar[_Gathered | None] = ContextVar("guanxi_one_unit", default=None)


@contextmanager
def one_unit() -> Iterator[None]:
    """Many records written as one unit (a bulk action's batch), inside the caller's transaction.

    The services' own atomic blocks open no savepoints (``service_atomic``): the caller's
    transaction, or a savepoint it opens per record (``unit_savepoint``), is what a refusal undoes.
    500 accounts changing hands made 1,500 savepoints in one transaction, and PostgreSQL slows down
    past 64 (a record cost 14.5 ms in a batch of 100, 21 in one of 500). And the work they leave for
    after the commit (``after_commit``: notifications, recomputes) is done once for the unit, with
    every record's items, not once a record."""
    gathered: _Gathered = {}
    token = _one_unit.set(gathered)
    try:
        yield
    finally:
        _one_unit.reset(token)
    for run, items in gathered.values():
        if items:  # a refused record's dropped ones may leave none
            transaction.on_commit(functools.partial(run, items), robust=True)


@contextmanager
def unit_savepoint() -> Iterator[None]:
    """A savepoint for one record inside ``one_unit``: a refusal undoes its writes, and drops the
    work it had left for after the commit with them."""
    gathered = _one_unit.get()
    marks = {key: len(items) for key, (_run, items) in gathered.items()} if gathered is not None else {}
    try:
        with transaction.atomic():
            yield
    except BaseException:
        for key, (_run, items) in (gathered or {}).items():
            del items[marks.get(key, 0) :]
        raise


def after_commit(key: Hashable, items: list[Any], run: Callable[[list[Any]], Any]) -> None:
    """Run ``run(items)`` once the transaction commits (``robust``: a failure is logged and undoes
    nothing). Inside ``one_unit``, the items of every call with the same ``key`` go to one run."""
    gathered = _one_unit.get()
    if gathered is None:
        transaction.on_commit(lambda: run(items), robust=True)
        return
    gathered.setdefault(key, (run, []))[1].extend(items)


def service_atomic() -> Any:
    """``transaction.atomic()`` for a write service: a savepoint when nested (a caller may go on after
    a refusal), none inside ``one_unit``."""
    return transaction.atomic(savepoint=_one_unit.get() is None)


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
    analyze_table_names(tables, using=using)


def analyze_table_names(tables: list[str], using: str = "default") -> None:
    """Refresh the planner statistics of these tables; on PostgreSQL outside a transaction, vacuum
    them too. Errors are logged, never raised."""
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
                # single-column index plus an incremental sort. It also empties a GIN index's
                # pending list, which every read of that index scans in full (the search index).
                cursor.execute(f"VACUUM (ANALYZE) {', '.join(quote(t) for t in tables)}")
    except Exception:  # pragma: no cover - a locked or read-only database
        logger.exception("ANALYZE of %s failed", ", ".join(tables))


class MonthDay(models.Func):
    """A date's month and day as one number (12-25 -> 1225): birthdays by the calendar, any year.

    Written for a stored generated column (``Contact.birthday_md``), so each engine gets an
    expression it accepts there: PostgreSQL's ``EXTRACT`` on a date is immutable; SQLite keeps
    dates as ``YYYY-MM-DD`` text, and ``substr`` is deterministic where its date functions need care.
    """

    arity = 1
    output_field = models.SmallIntegerField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = "CAST(substr(%(expressions)s, 6, 2) || substr(%(expressions)s, 9, 2) AS INTEGER)"
        return self.as_sql(compiler, connection, template=template, **extra)

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = "(EXTRACT(MONTH FROM %(expressions)s) * 100 + EXTRACT(DAY FROM %(expressions)s))::smallint"
        return self.as_sql(compiler, connection, template=template, **extra)


def first_row(qs: models.QuerySet) -> Any:
    """The one row of a query on a unique key, or None. Not ``first()``: that adds ORDER BY id, and
    compiling the ordering is about a third of the cost of a simple query (~0.3 ms a request)."""
    rows = list(qs.order_by()[:1])
    return rows[0] if rows else None


# --- reads by primary keys on hot paths -------------------------------------------------------------------


#: A compiled read: its SQL, its parameters, the ids' places among them, and the converters by column.
_Compiled = tuple[str, list[Any], list[int], list[tuple[int, list[Any], Any]]]


class PkQuery:
    """A read by a list of primary keys that runs on every list request (a page's rows, tags, links).

    Building and compiling ``filter(pk__in=ids).values(...)`` costs more than running it: a page of 50
    contacts took 3.3 ms through the ORM, 0.9 ms of it compiling, against 0.5 ms for the same SQL on
    the bare driver (SQLite, 100k contacts). So the SQL is compiled once per number of ids, and each
    call runs it with its own ids and puts the rows through Django's converters (with two faster
    equivalents, ``_fast_converters``). The rows are what ``values_list()`` would give.

    ``build(ids)`` returns the queryset. Its SQL is compiled twice, with the ids and with stand-ins:
    the parameters that differ are the ids' places, everything else is fixed. A query whose text
    changes with the ids (or whose ids do not show up one for one) is run through the ORM each time.
    """

    def __init__(self, build: Callable[[list[Any]], models.QuerySet], using: str = "default"):
        self.build = build
        self.using = using
        self._compiled: dict[int, _Compiled | None] = {}

    def _compile(self, ids: list[Any]) -> _Compiled | None:
        stand_ins = [-1 - i for i in range(len(ids))]
        first, second = (self.build(list(v)).query.get_compiler(self.using) for v in (ids, stand_ins))
        sql, params = first.as_sql()
        sql_again, params_again = second.as_sql()
        places = [i for i, (a, b) in enumerate(zip(params, params_again, strict=True)) if a != b]
        if sql != sql_again or [params_again[i] for i in places] != stand_ins:
            return None
        columns = [s[0] for s in first.select[: first.col_count]]
        converters = [(i, _fast_converters(convs), expr) for i, (convs, expr) in first.get_converters(columns).items()]
        return sql, list(params), places, converters

    def rows(self, ids: list[Any]) -> list[tuple[Any, ...]]:
        ids = list(dict.fromkeys(ids))  # as ``pk__in`` does: a repeated id is one parameter
        if not ids:
            return []
        if len(ids) not in self._compiled:
            self._compiled[len(ids)] = self._compile(ids)
        compiled = self._compiled[len(ids)]
        if compiled is None:
            return list(self.build(ids))
        sql, params, places, converters = compiled
        params = list(params)
        for place, pk in zip(places, ids, strict=True):
            params[place] = pk
        connection = connections[self.using]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            fetched = cursor.fetchall()
        if not converters:
            return [tuple(row) for row in fetched]
        out = []
        for row in fetched:
            values = list(row)
            for i, convs, expression in converters:
                value = values[i]
                for convert in convs:
                    value = convert(value, expression, connection)
                values[i] = value
            out.append(tuple(values))
        return out


_pk_queries: dict[Hashable, PkQuery] = {}


def pk_query(key: Hashable, build: Callable[[list[Any]], models.QuerySet], using: str = "default") -> PkQuery:
    """The ``PkQuery`` kept under ``key`` (made from ``build`` the first time): one per shape of read,
    so that each is compiled once per process. ``key`` names everything ``build`` depends on."""
    query = _pk_queries.get(key)
    if query is None:
        query = _pk_queries[key] = PkQuery(build, using)
    return query


def _sqlite_datetime(value: Any, expression: Any, connection: Any) -> Any:
    """``convert_datetimefield_value`` for a connection in UTC, without its layers: the driver has
    parsed the text already (Django registers a converter for the "datetime" column type), so a
    naive datetime becomes an aware one in UTC."""
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=datetime.UTC)
    if value is None:
        return value
    return connection.ops.convert_datetimefield_value(value, expression, connection)


def _json_text(value: Any, expression: Any, connection: Any) -> Any:
    """``JSONField.from_db_value`` without a custom decoder, by orjson (the standard library for what
    orjson refuses: NaN, integers beyond 64 bits; text that is not JSON stays text, as there)."""
    if not isinstance(value, str):
        return value
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value


def _fast_converters(converters: list[Any]) -> list[Any]:
    out = []
    for convert in converters:
        owner: Any = getattr(convert, "__self__", None)
        function = getattr(convert, "__func__", None)
        backend = getattr(owner, "connection", None)
        if (
            getattr(function, "__name__", "") == "convert_datetimefield_value"
            and backend is not None
            and backend.vendor == "sqlite"
            and backend.timezone_name == "UTC"
            and settings.USE_TZ
        ):
            out.append(_sqlite_datetime)
        elif function is models.JSONField.from_db_value and getattr(owner, "decoder", None) is None:
            out.append(_json_text)
        else:
            out.append(convert)
    return out
