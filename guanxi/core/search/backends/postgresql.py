"""Search on PostgreSQL: a table of documents with a weighted ``tsvector`` and a GIN index on it.

Each column's tokens carry a weight (keys and words A, emails B, phones C, other D), so hidden
fields are left out with tsquery weight labels (``'28/zh':*AC``). Each whole-name key (column k) is
also written once more as a key lexeme, ``28/k=zs``, with no weight (see ``key_lexeme``). Every
lexeme starts with its record type's number (see ``namespace``). The tsvector is written by the
application as a literal (``'28/zs':1A '28/com':2B,4 '28/k=zs'``): the tokens are already the
lexemes, no parser or dictionary touches them. Batches are written with COPY.

Each whole-name key is also a row of ``core_search_key`` (key, document id): the key tier reads the
newest documents of a key from that B-tree alone (see ``KEY_TABLE``).
"""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Iterable
from typing import Any

from django.db import connection
from django.db.models.expressions import RawSQL

from guanxi.core.db import analyze_table_names
from guanxi.core.search.backends import COLUMNS, SHIFT, Row
from guanxi.core.search.text import Query

TABLE = "core_search_document"
#: Every whole-name key of a document (column k) as a row (key, document id), primary key (key, id):
#: "the newest 40 documents whose key is lw" is a backward index-only scan of that key's range, then
#: 40 documents read by id. GIN finds the same documents but, to hand back their ids, reads the heap
#: page of every one that holds the key: at a million contacts 2,252 documents hold "lw", and
#: the key tier read 4,360 pages for it (2,000 counted, then all of them again, newest first), 165
#: this way; "刘伟", 948 pages before. Keys are stored without the namespace: the id range of a type
#: tells the types apart. Three rows a contact (name, pinyin, initials) cost the import a B-tree
#: entry each, as the key lexemes cost GIN; those stay in ``tsv`` for the walks and a narrow scope.
KEY_TABLE = "core_search_key"
WEIGHTS = {"k": "A", "n": "A", "e": "B", "p": "C", "o": "D"}
_POSITION = {"A": 1, "B": 2, "C": 3, "D": 4}

# The table is created by guanxi/core/migrations/0005_search.py; 0006 added the key lexemes, 0007
# the namespaces.


def namespace(doc_id: int) -> str:
    """What every lexeme of a document starts with: its record type's number and a slash (``28/``).

    One GIN index then answers each type on its own. Without it a contact search read every account
    that matched too, and threw it away: at a million contacts and 200,000 accounts, "syy" matched
    581 contacts and 6,893 accounts (every 实业有限公司 has "syyxgs"), and the GIN read took 5.7 ms
    instead of 0.9; "gz" (广州) 9.5 instead of 2.0. Tokens never contain "/" (``text``), so a query
    of one type cannot reach another's lexemes.
    """
    return f"{doc_id >> SHIFT}/"


def key_lexeme(token: str) -> str:
    """A whole-name key as its own lexeme, without a weight: the "key" tier reads it straight from the
    GIN index. Asking for the token with weights instead (``'yj':A``, then a check of the text that
    the match is a key, not a word of the name) made PostgreSQL fetch and recheck every document
    holding the token anywhere: 13,160 for "yj" at a million contacts, of which 1,709 hold it as a key
    (26 ms). Tokens never contain "=" (``guanxi.core.search.text``), nor do queries, so a key lexeme
    only matches a key query; a prefix query is two characters or more, and "k=" cannot be typed.

    Emails and phones get none: their tokens are rare, so asking for them with weights rechecks
    few documents, and key lexemes for them cost the import 35 µs a row (150k contacts).
    """
    return f"k={token}"


def _may_be_contact_point(token: str) -> bool:
    """Whether a whole email or phone token could equal this query: one with a digit or one of
    ``._@+-`` in it. A query of letters or Han characters alone finds email words ("qq", "wang")
    through the exact tier instead, which ``rank`` orders as before."""
    return not token.isalpha()


def _quote(lexeme: str) -> str:
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def tsvector_literal(row: Row) -> str:
    """``'28/tok':1A,2B ... '28/k=tok'``: every token with the weights of the columns it is in, then
    the whole-name keys as key lexemes, all in the document's namespace."""
    space = namespace(row[0])
    weights: dict[str, set[str]] = {}
    keys: dict[str, None] = {}
    for column, text in zip(COLUMNS, row[1:], strict=True):
        weight = WEIGHTS[column]
        for token in text.split():
            weights.setdefault(token, set()).add(weight)
            if column == "k":
                keys[key_lexeme(token)] = None
    parts = []
    for token, marks in weights.items():
        positions = ",".join(f"{_POSITION[w]}{w if w != 'D' else ''}" for w in sorted(marks))
        parts.append(_quote(space + token) + ":" + positions)
    parts.extend(_quote(space + lexeme) for lexeme in keys)
    return " ".join(parts)


def write(rows: list[Row], remove_ids: Iterable[int]) -> None:
    """Drop the documents ``remove_ids`` and COPY ``rows`` in (the caller includes rewritten ids in both),
    with the keys that changed."""
    ids = list(remove_ids)
    old: dict[int, set[str]] = {}
    with connection.cursor() as cursor:
        if ids:
            cursor.execute(f"SELECT id, k FROM {TABLE} WHERE id = ANY(%s)", [ids])  # noqa: S608 - fixed name
            old = {doc_id: set(keys.split()) for doc_id, keys in cursor.fetchall()}
            cursor.execute(f"DELETE FROM {TABLE} WHERE id = ANY(%s)", [ids])  # noqa: S608 - fixed name
        # Only the keys that changed: a person whose phone changed keeps their name's rows. Each is a
        # random B-tree page at a million documents (rewriting 5,000 documents' 14,000 keys took
        # 0.2 s with the pages cached, 2.3 s without).
        new = {row[0]: set(row[1].split()) for row in rows}
        gone = [(key, doc_id) for doc_id, keys in old.items() for key in keys - new.get(doc_id, set())]
        if gone:
            cursor.execute(
                f"DELETE FROM {KEY_TABLE} WHERE (key, id) IN (SELECT * FROM unnest(%s::text[], %s::bigint[]))",  # noqa: S608
                [[key for key, _doc in gone], [doc for _key, doc in gone]],
            )
        if rows:
            raw = cursor.cursor  # psycopg's own cursor: Django's wrapper has no COPY
            with raw.copy(f"COPY {TABLE} (id, k, n, e, p, o, tsv) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row((*row, tsvector_literal(row)))
            with raw.copy(f"COPY {KEY_TABLE} (key, id) FROM STDIN") as copy:
                for doc_id, keys in new.items():
                    for key in keys - old.get(doc_id, set()):
                        copy.write_row((key, doc_id))


def remove(ids: Iterable[int]) -> None:
    write([], ids)


def remove_range(lo: int, hi: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {KEY_TABLE} WHERE id BETWEEN %s AND %s", [lo, hi])  # noqa: S608
        cursor.execute(f"DELETE FROM {TABLE} WHERE id BETWEEN %s AND %s", [lo, hi])  # noqa: S608
        return int(cursor.rowcount or 0)


def count(lo: int, hi: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {TABLE} WHERE id BETWEEN %s AND %s", [lo, hi])  # noqa: S608
        return int(cursor.fetchone()[0])


def _lexeme(token: str, prefix: bool, weights: str) -> str:
    quoted = _quote(token)
    suffix = ("*" if prefix else "") + weights
    return f"{quoted}:{suffix}" if suffix else quoted


def _weights(columns: Iterable[str]) -> str:
    weights = "".join(sorted({WEIGHTS[c] for c in columns}))
    return "" if weights == "ABCD" else weights


def match_expression(query: Query, columns: tuple[str, ...], mode: str, space: str) -> str | None:
    """The tsquery of one tier in the namespace ``space`` (one record type's), limited to the weights
    of the allowed columns (None: nothing to ask).

    ``key``: the whole query is a whole-name key (its key lexeme) or, when it may be one, a token of
    the emails or phones; ``exact``: every term is a whole token; ``prefix``: terms may be the start
    of a token.
    """
    if mode == "key":
        if not query.compact:
            return None
        parts = [_quote(space + key_lexeme(query.compact))] if "k" in columns else []
        points = [c for c in ("e", "p") if c in columns]
        if points and _may_be_contact_point(query.compact):
            parts.append(_lexeme(space + query.compact, False, _weights(points)))
        return " | ".join(parts) or None
    weights = _weights(columns)
    terms = []
    for term in query.terms:
        # A GIN prefix search unions every lexeme that starts with the prefix (the parser already
        # matches single letters whole); two-letter prefixes are allowed but are the slow case here.
        alts = [
            _lexeme(space + alt.token, alt.prefix and mode == "prefix" and len(alt.token) > MIN_PREFIX, weights)
            for alt in term
        ]
        terms.append(alts[0] if len(alts) == 1 else "(" + " | ".join(alts) + ")")
    return " & ".join(terms)


#: Shortest token matched as a prefix (see ``match_expression``) is one longer than this.
MIN_PREFIX = 1
#: Matches read through the GIN index before a query counts as common (see ``candidates``).
RARE = 2000
#: Share of the documents a query must be estimated to match to be read by a walk down the primary
#: key first (see ``candidates``): below it, the GIN index; above it, expanding a short prefix in GIN
#: (every lexeme of "zh*", and all their postings) costs far more than reading the newest rows.
COMMON = 0.002
#: Longest such walk, in rows (a few milliseconds); when it finds too few, the GIN plans run.
MAX_WALK = 20000
#: A prefix this long at most is tried with a walk of ``MAX_WALK`` rows first, whatever the statistics:
#: they hold only the most common lexemes, and a short prefix starts many rare ones, so its share is
#: a floor. At a million contacts "zz" was estimated at 0.2% and matched 1.3%: GIN read all 15,920
#: matches (30 ms) where the walk finds 40 in 7,113 rows (2 ms). A walk that finds too few (a rare
#: short prefix) costs a few milliseconds before the GIN plans run.
SHORT_PREFIX = 2
#: A prefix of digits this long at most is tried with a walk of ``SHORT_WALK`` rows first: phone
#: numbers are unique lexemes the statistics never hold, and "8613" starts every +86 13x number in
#: E.164 (GIN expanded some 600,000 lexemes for it: 75 ms at a million contacts). The last four
#: digits people mostly type are rare, and a walk this short costs them 1–2 milliseconds.
SHORT_DIGITS = 4
SHORT_WALK = 5000
#: Seconds the lexeme statistics are kept before they are read again.
STATS_TTL = 300.0
#: The type's id range where matches are read through GIN: ``id + 0`` keeps the planner from ANDing
#: the GIN bitmap with a primary-key bitmap of the whole range (every contact: 17 ms at 300k
#: documents, for a lookup GIN alone answers in 0.3 ms), which it does when it underestimates the
#: range, as it does before the table's first ANALYZE. The range only tells the types apart here.
GIN_RANGE = "id + 0 BETWEEN %s AND %s"


class _LexemeStats:
    """The planner's statistics of the ``tsv`` column (the most common lexemes and the share of
    documents holding each), read once in a while: a cheap estimate of how common a query is."""

    def __init__(self) -> None:
        self.database: Any = None
        self.read_at = -math.inf
        self.lexemes: list[str] = []
        self.freqs: list[float] = []
        self.exact: dict[str, float] = {}
        #: The planner's count of documents (``reltuples``).
        self.rows = 0.0

    def current(self) -> _LexemeStats:
        database = connection.settings_dict.get("NAME")
        if database != self.database or time.monotonic() - self.read_at > STATS_TTL:
            self.load(database)
        return self

    def load(self, database: Any) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT c.reltuples, s.most_common_elems::text::text[], s.most_common_elem_freqs FROM pg_class c "
                "LEFT JOIN pg_stats s ON s.schemaname = current_schema() AND s.tablename = c.relname "
                "AND s.attname = 'tsv' WHERE c.oid = to_regclass(%s)",
                [TABLE],
            )
            row = cursor.fetchone()
        self.rows = max(float(row[0]), 0.0) if row else 0.0
        pairs = sorted(zip(row[1], row[2], strict=False)) if row and row[1] and row[2] else []
        self.lexemes = [lexeme for lexeme, _freq in pairs]
        self.freqs = [freq for _lexeme, freq in pairs]
        self.exact = dict(pairs)
        self.database, self.read_at = database, time.monotonic()

    def clear(self) -> None:
        self.read_at = -math.inf

    def share(self, token: str, prefix: bool) -> float:
        """Estimated share of documents holding the token (or, as a prefix, any token it starts)."""
        if not prefix:
            return self.exact.get(token, 0.0)
        start = bisect.bisect_left(self.lexemes, token)
        end = bisect.bisect_left(self.lexemes, token + "\U0010ffff", start)
        return sum(self.freqs[start:end])


_stats = _LexemeStats()


def estimated_share(query: Query, mode: str, space: str) -> float:
    """The share of all documents this tier of the query is estimated to match in the namespace
    ``space`` (terms independent; lexemes outside the statistics count as rare). Weights are left
    out: it only picks a plan."""
    stats = _stats.current()
    if not stats.lexemes:
        return 0.0
    if mode == "key":
        if not query.compact:
            return 0.0
        points = stats.share(space + query.compact, False) if _may_be_contact_point(query.compact) else 0.0
        return stats.share(space + key_lexeme(query.compact), False) + points
    share = 1.0
    for term in query.terms:
        share *= min(
            1.0,
            sum(
                stats.share(space + alt.token, alt.prefix and mode == "prefix" and len(alt.token) > MIN_PREFIX)
                for alt in term
            ),
        )
    return share


def _first_walk(query: Query, mode: str) -> int:
    """Rows to walk before any GIN read, whatever the statistics, for a query with a short prefix
    ("zh", "8613"), which may start a great many rare lexemes; 0 for any other."""
    window = 0
    if mode == "prefix":
        for term in query.terms:
            for alt in term:
                if not alt.prefix or len(alt.token) <= MIN_PREFIX:
                    continue
                if len(alt.token) <= SHORT_PREFIX:
                    return MAX_WALK
                if alt.token.isdigit() and len(alt.token) <= SHORT_DIGITS:
                    window = SHORT_WALK
    return window


def _where(query: Query, columns: tuple[str, ...], mode: str, space: str) -> tuple[str, list[Any]] | None:
    """The match condition (``tsv @@ ...``) and its parameters."""
    expression = match_expression(query, columns, mode, space)
    if expression is None:
        return None
    return "tsv @@ %s::tsquery", [expression]


def candidates(
    query: Query, columns: tuple[str, ...], mode: str, lo: int, hi: int, limit: int, *, texts: bool = True
) -> list[Row]:
    """Matching documents with ids in [lo, hi], highest id first, at most ``limit``; ``texts=False``
    reads the ids alone.

    The key tier of a name reads ``KEY_TABLE`` (``_key_candidates``). For the rest, three plans, because none
    suits every query. A short prefix ("zh", "13") or a query the
    statistics call common first walks the newest ``MAX_WALK`` rows at most down the primary key,
    which stops after ``limit`` matches. Otherwise a rare term is read through the GIN index (all its
    matches, then the newest first), which the planner may skip for a walk down the primary key that
    reads half the table when it misjudges a prefix; and a common one that the statistics missed is
    read newest first down the primary key. The GIN query reads at most ``RARE`` matches; only when
    there are more does the unbounded walk run.
    """
    space = namespace(lo)
    where = _where(query, columns, mode, space)
    if where is None or limit <= 0:
        return []
    condition, match_params = where
    selected = "id" + (", " + ", ".join(COLUMNS) if texts else "")
    if mode == "key" and "k" in columns and not _may_be_contact_point(query.compact):
        # Letters or Han characters alone: no email or phone token equals it, only a key does. A
        # query that may be one ("qq.com", "138…") keeps the plans below, which the statistics steer
        # away from GIN for a common token (an email's domain).
        return _key_candidates(query, lo, hi, limit, selected)
    share = estimated_share(query, mode, space)
    window = _first_walk(query, mode)
    if not window:
        window = math.ceil(limit / share * 3) + 100 if share >= COMMON else MAX_WALK + 1
        if window > MAX_WALK and share and share * _stats.current().rows >= RARE:
            # Too rare for the walk to be sure, too common for GIN: its read of RARE matches would
            # only count them (the oldest, in the heap's order) before the planner reads them all
            # again. The newest MAX_WALK rows hold ``limit`` of them more often than not: "k=ljy",
            # 2,461 keys among a million contacts, read 4,018 pages that way and 1,875 by the walk (the
            # newest rows, which the prefix tier had just walked).
            window = MAX_WALK
    walk = (
        f"SELECT {selected} FROM (SELECT id, {', '.join(COLUMNS)}, tsv FROM {TABLE} "  # noqa: S608 - fixed names
        f"WHERE id BETWEEN %s AND %s ORDER BY id DESC LIMIT %s) newest "
        f"WHERE {condition} ORDER BY id DESC LIMIT %s"
    )
    with connection.cursor() as cursor:
        if limit <= window <= MAX_WALK:
            cursor.execute(walk, [lo, hi, window, *match_params, limit])
            rows = cursor.fetchall()
            if len(rows) >= limit:
                return [tuple(row) for row in rows]
            if window < MAX_WALK and len(rows) * MAX_WALK >= limit * window:
                # Too few for the page, but at a rate that fills it within MAX_WALK rows: walk that far
                # rather than read through GIN the thousands of matches that rate means. At a million
                # contacts "1310" (the last 4 digits people type, and the start of every 1310… mobile)
                # matched a dozen of the newest 5,000 documents; GIN then read 2,000 matches to
                # count them and the planner all of them again (22 ms of a 32 ms search).
                cursor.execute(walk, [lo, hi, MAX_WALK, *match_params, limit])
                rows = cursor.fetchall()
                if len(rows) >= limit:
                    return [tuple(row) for row in rows]
        cap = max(RARE, limit + 1)
        cursor.execute(
            f"WITH m AS MATERIALIZED (SELECT id FROM {TABLE} WHERE {GIN_RANGE} AND {condition} "  # noqa: S608
            f"OFFSET 0 LIMIT %s) "
            f"SELECT {selected}, (SELECT count(*) FROM m) FROM {TABLE} "
            "WHERE id IN (SELECT id FROM m ORDER BY id DESC LIMIT %s) ORDER BY id DESC",
            [lo, hi, *match_params, cap, limit],
        )
        rows = cursor.fetchall()
        if not rows or rows[0][-1] < cap:
            return [tuple(row[:-1]) for row in rows]
        if window > MAX_WALK and mode == "prefix":
            # At least ``cap`` matches of a prefix, which the statistics missed (they hold whole
            # lexemes): the newest are most likely near. Left to itself, the planner read every match
            # of "8613*" (a prefix of most mobile numbers in E.164) through GIN and sorted them:
            # 460 ms at a million contacts. Whole lexemes it estimates as well as we do.
            cursor.execute(walk, [lo, hi, MAX_WALK, *match_params, limit])
            rows = cursor.fetchall()
            if len(rows) >= limit:
                return [tuple(row) for row in rows]
        cursor.execute(
            f"SELECT {selected} FROM {TABLE} "  # noqa: S608 - fixed names
            f"WHERE id BETWEEN %s AND %s AND {condition} ORDER BY id DESC LIMIT %s",
            [lo, hi, *match_params, limit],
        )
        return [tuple(row) for row in cursor.fetchall()]


def _key_candidates(query: Query, lo: int, hi: int, limit: int, selected: str) -> list[Row]:
    """The key tier of a query that can only be a name (see ``candidates``): the newest documents with
    it as a whole-name key, from ``KEY_TABLE`` alone, then their columns by id."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {selected} FROM {TABLE} WHERE id IN (SELECT id FROM {KEY_TABLE} "  # noqa: S608 - fixed names
            "WHERE key = %s AND id BETWEEN %s AND %s ORDER BY id DESC LIMIT %s) ORDER BY id DESC",
            [query.compact, lo, hi, limit],
        )
        return [tuple(row) for row in cursor.fetchall()]


def candidates_among(
    query: Query, columns: tuple[str, ...], mode: str, lo: int, hi: int, scope: tuple[str, Any], size: int, limit: int
) -> list[Row]:
    """Matching documents with ids in [lo, hi] among the records ``scope`` selects (SQL and parameters
    of a query of record ids: the few a narrow scope lets the user see; ``size`` of them), highest id
    first, at most ``limit``.

    The ids are gathered on the server (one array, an init plan). A query common enough, or a short
    prefix, walks them newest first down the primary key and stops after ``limit`` matches (GIN would
    first expand and merge whole posting lists); a rarer one is read through GIN, then kept if listed.
    """
    space = namespace(lo)
    where = _where(query, columns, mode, space)
    if where is None or limit <= 0:
        return []
    condition, match_params = where
    scope_sql, scope_params = scope
    scoped = f"SELECT %s::bigint + v.pk FROM ({scope_sql}) v(pk)"  # noqa: S608 - SQL compiled by Django
    # As an array, an index condition the walk takes in order; as a subquery, a hash join (an array
    # from a sub-select is searched one element after another).
    listed = f"id = ANY(ARRAY({scoped}))"
    selected = ", ".join(COLUMNS)
    share = estimated_share(query, mode, space)
    # Rows the walk reads (until ``limit`` matches, at most the whole scope) against the matches GIN
    # reads in the whole table (every type, every owner).
    if _first_walk(query, mode) or min(size, limit / max(share, 1e-9)) < share * _stats.current().rows:
        sql = (
            f"SELECT id, {selected} FROM (SELECT id, {selected}, tsv FROM {TABLE} "  # noqa: S608
            f"WHERE {listed} AND id BETWEEN %s AND %s ORDER BY id DESC OFFSET 0) d "
            f"WHERE {condition} ORDER BY id DESC LIMIT %s"
        )
        params = [lo, *scope_params, lo, hi, *match_params, limit]
    else:  # the planner cannot know how many ids the array holds: keep it from probing them all
        sql = (
            f"WITH m AS MATERIALIZED (SELECT id FROM {TABLE} WHERE {GIN_RANGE} AND {condition}) "  # noqa: S608
            f"SELECT id, {selected} FROM {TABLE} WHERE id IN "
            f"(SELECT id FROM m WHERE id IN ({scoped}) ORDER BY id DESC LIMIT %s) ORDER BY id DESC"
        )
        params = [lo, hi, *match_params, lo, *scope_params, limit]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [tuple(row) for row in cursor.fetchall()]


def documents(ids: list[int]) -> list[Row]:
    """The stored columns of these documents."""
    if not ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, {', '.join(COLUMNS)} FROM {TABLE} WHERE id IN ({', '.join(['%s'] * len(ids))})",  # noqa: S608
            ids,
        )
        return [tuple(row) for row in cursor.fetchall()]


def id_list(ids: list[int]) -> RawSQL:
    """Thousands of ids as one array parameter, for ``pk__in`` (Django prepares each element of a list)."""
    return RawSQL("SELECT unnest(%s::bigint[])", (ids,))  # noqa: S611 - fixed SQL, one parameter


def optimize() -> None:
    """Refresh the planner's statistics after a rebuild (term frequencies decide index vs. scan)."""
    analyze()


def analyze() -> None:
    """Fresh planner statistics of the documents, after many were written (a rebuild, an import): the
    lexeme frequencies ``candidates`` picks its plan by (``_LexemeStats``) come from them.

    Outside a transaction (an import's end) it is a ``VACUUM (ANALYZE)``, which also empties GIN's
    pending list (up to 4 MB of new entries that every index read scans in full) and marks the new
    documents' pages all-visible with their hint bits set (and the keys', which the key tier then
    reads by an index-only scan). Otherwise the first searches after an
    import pay for that: at a million contacts, ``make bench`` measured search p99 for names 51.6 ->
    37.2 ms and for initials 62.8 -> 44.2 ms with it (a second VACUUM of that table took 3 s).
    """
    analyze_table_names([TABLE, KEY_TABLE])
    _stats.clear()
