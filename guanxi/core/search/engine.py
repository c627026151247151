"""Keeping the index current, and answering a search through ``restrict``.

Document ids are ``content type id << 40 | record id``: no mapping table, and each type is one id
range, searched on its own. A search walks each type's matches newest first in bounded batches,
in three tiers — the whole query equals a name, email or phone (``key``); every word matches a
whole token (``exact``); words match as prefixes (``prefix``) — and keeps only the candidates
``restrict(user, "view")`` lets through, until it has ``limit`` hits or has looked at
``MAX_SCAN`` candidates. However common a prefix and however narrow the user's scope, no search
loads more than that many ids. On PostgreSQL, a user who sees at most ``NARROW_SCOPE`` records of
a type is searched the other way round: the matches among those records, in SQL.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import EmptyResultSet
from django.db import models, transaction
from django.db.models.sql.where import AND, OR, WhereNode
from django.utils.translation import gettext as _

from guanxi.core.db import ANALYZE_MIN_ROWS
from guanxi.core.errors import FieldErrors
from guanxi.core.permissions import hidden_fields, masked_fields, restricted
from guanxi.core.search.backends import COLUMNS, MASK, SHIFT, Row, backend
from guanxi.core.search.lookups import LookupsUsedUp, masked_lookup
from guanxi.core.search.registry import Columns, SearchType, search_type_for, search_types
from guanxi.core.search.registry import search_type as get_search_type
from guanxi.core.search.text import Query, parse_query

#: Records indexed per build call (one import batch is 5,000).
BUILD_CHUNK = 5000
MAX_QUERY = 100
MAX_LIMIT = 50
FIRST_BATCH = 40
MAX_BATCH = 5000
#: Candidates one type may look at in one search, whatever the user's scope lets through.
MAX_SCAN = 20000
MODES = ("key", "exact", "prefix")


def _content_type_id(model: type[models.Model]) -> int:
    return ContentType.objects.get_for_model(model, for_concrete_model=False).pk


def id_range(model: type[models.Model]) -> tuple[int, int]:
    """The document ids of one type: [content type << 40, next content type << 40)."""
    low = _content_type_id(model) << SHIFT
    return low, low | MASK


def _unique_ints(pks: Iterable[Any]) -> list[int]:
    return list(dict.fromkeys(int(pk) for pk in pks if pk is not None))


# --- writing ------------------------------------------------------------------------------------------


def _reindex(search_type: SearchType, pks: list[int]) -> int:
    base = _content_type_id(search_type.model) << SHIFT
    engine = backend()
    written = 0
    for start in range(0, len(pks), BUILD_CHUNK):
        chunk = pks[start : start + BUILD_CHUNK]
        documents = search_type.build(chunk)
        rows: list[Row] = [(base | int(pk), *document.columns()) for pk, document in documents.items()]
        engine.write(rows, [base | pk for pk in chunk])
        written += len(rows)
    return written


def _cascade(model: type[models.Model], pks: list[int], changed: set[str] | None) -> None:
    """Rebuild the documents of other types that hold values of these records."""
    for search_type in search_types():
        for dependency in search_type.depends_on:
            if dependency.model is not model:
                continue
            if changed is not None and not (changed & dependency.fields):
                continue
            affected = _unique_ints(dependency.affected(pks))
            if affected:
                _reindex(search_type, affected)


def search_reindex(
    model: type[models.Model], pks: Iterable[Any], *, changed: Iterable[str] | None = None, cascade: bool = True
) -> int:
    """(Re)build the index entries of these records in bulk; records not live (binned, gone) leave it.

    Returns how many were indexed. ``changed``: the fields that changed (documents of other types
    that hold this record's values are rebuilt only when one of theirs did; None = rebuild them).
    Runs in the caller's transaction, so the index never disagrees with what was committed.
    """
    ids = _unique_ints(pks)
    search_type = search_type_for(model)
    if not ids or (search_type is None and not (cascade and _has_dependents(model))):
        return 0
    # No savepoint: inside a service's transaction this is part of it; alone, it is one transaction.
    with transaction.atomic(savepoint=False):
        written = _reindex(search_type, ids) if search_type is not None else 0
        if cascade:
            _cascade(model, ids, set(changed) if changed is not None else None)
    return written


def search_index_new(model: type[models.Model], documents: dict[int, Columns]) -> int:
    """Index records created in this transaction from their documents' ``columns()``, built by their
    writer (an import batch): nothing to delete first and nothing to read back, unlike ``search_reindex``."""
    search_type = search_type_for(model)
    if not documents or search_type is None:
        return 0
    base = _content_type_id(model) << SHIFT
    rows: list[Row] = [(base | int(pk), *columns) for pk, columns in documents.items()]
    with transaction.atomic(savepoint=False):
        backend().write(rows, [])
        if _has_dependents(model):
            _cascade(model, list(documents), None)
    return len(rows)


def _has_dependents(model: type[models.Model]) -> bool:
    return any(d.model is model for t in search_types() for d in t.depends_on)


def search_remove(model: type[models.Model], pks: Iterable[Any]) -> int:
    """Drop these records from the index (and rebuild documents that held their values)."""
    ids = _unique_ints(pks)
    search_type = search_type_for(model)
    if not ids or (search_type is None and not _has_dependents(model)):
        return 0
    with transaction.atomic(savepoint=False):
        if search_type is not None:
            base = _content_type_id(model) << SHIFT
            backend().remove([base | pk for pk in ids])
        _cascade(model, ids, None)
    return len(ids) if search_type is not None else 0


def search_rebuild(key: str, *, batch: int = BUILD_CHUNK, progress: Any = None) -> int:
    """Rebuild one type from scratch: clear its range, index every live record in batches."""
    search_type = get_search_type(key)
    if search_type is None:
        raise ValueError(f"unknown search type {key!r}")
    model = search_type.model
    low, high = id_range(model)
    engine = backend()
    with transaction.atomic():
        engine.remove_range(low, high)
    manager: Any = getattr(model, "all_objects", model._default_manager)
    live = manager.all()
    if hasattr(model, "deleted_at"):
        live = live.filter(deleted_at__isnull=True)
    total, last = 0, 0
    while True:
        ids = list(live.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:batch])
        if not ids:
            break
        with transaction.atomic():
            total += _reindex(search_type, ids)
        last = ids[-1]
        if progress is not None:
            progress(total)
    engine.optimize()
    return total


def search_analyze(rows: int) -> None:
    """After ``rows`` documents were written at once (an import): fresh planner statistics where the
    engine plans by them (PostgreSQL; FTS5 keeps none)."""
    if rows >= ANALYZE_MIN_ROWS:
        backend().analyze()


def index_size(key: str) -> int:
    search_type = get_search_type(key)
    if search_type is None:
        return 0
    return backend().count(*id_range(search_type.model))


# --- searching ----------------------------------------------------------------------------------------


@dataclass
class Hit:
    """One record found: what the results list shows, and how well it matched (0 is best)."""

    type: str
    id: int
    title: str
    subtitle: str
    url: str | None
    rank: int

    def as_dict(self) -> dict[str, Any]:
        return {"type": self.type, "id": self.id, "title": self.title, "subtitle": self.subtitle, "url": self.url}


_COLUMN_WEIGHT = {"k": 0, "n": 0, "e": 1, "p": 1, "o": 3}


def rank(query: Query, row: Row, columns: tuple[str, ...]) -> int:
    """0: the query is a whole name, email or phone; 1: it starts a name; 2..6: how its words matched
    (whole tokens before prefixes, the record's own values before related ones)."""
    tokens = {name: value.split() for name, value in zip(COLUMNS, row[1:], strict=True) if name in columns}
    compact = query.compact
    if compact and any(compact in tokens.get(name, ()) for name in ("k", "e", "p")):
        return 0
    if compact and not query.phone and any(token.startswith(compact) for token in tokens.get("k", ())):
        return 1
    worst = 0
    for term in query.terms:
        best = 9
        for alternative in term:
            for name, values in tokens.items():
                weight = _COLUMN_WEIGHT[name]
                if alternative.token in values:
                    best = min(best, weight)
                elif alternative.prefix and any(v.startswith(alternative.token) for v in values):
                    best = min(best, weight + 1)
        worst = max(worst, best)
    return 2 + min(worst, 4)


def _matches(
    search_type: SearchType, user: Any, query: Query, limit: int, visible: Any, memo: dict[Any, Any] | None = None
) -> dict[int, int]:
    """Record id -> rank of up to ``limit`` visible matches (more when a batch brings more), in tiers.

    ``memo`` keeps the answer for the rest of one search (a type searched for itself and through another).
    """
    if memo is not None and (search_type.key, limit) in memo:
        return memo[(search_type.key, limit)]
    hidden = search_type.hidden_columns(hidden_fields(user, search_type.model))
    columns = tuple(c for c in COLUMNS if c not in hidden)
    low, high = id_range(search_type.model)
    engine = backend()
    found: dict[int, int] = {}
    seen: set[int] = set()
    scanned = 0
    modes = [m for m in MODES if m != "prefix" or query.has_prefix]
    among = _narrow_scope(search_type, visible, engine, memo)
    # The index holds live records only (a record leaves it in the transaction that bins it), so a
    # user who may see every live record needs no query to check candidates: ``_hits_of_type``
    # reads the few it shows through ``visible`` anyway.
    check = None if _sees_every_record(search_type, visible) else visible
    first_size = max(FIRST_BATCH, limit * 2)
    whole = _whole_only(search_type, user, query)
    if whole and not _may_look_up_masked(user, memo):
        whole = set()  # the hour's lookups are used up (``lookups``): the masked columns stay out
    if whole:
        # An email or phone the reader sees masked (号码脱敏) is found by its whole value only: the
        # number a customer rang from finds them; part of it finds nothing, or the digits could be
        # read off one by one. The key tier asks for exactly that token.
        wide = tuple(c for c in COLUMNS if c in columns or c in whole)
        if among is None:
            _admit(engine.candidates(query, wide, "key", low, high, first_size), seen, check, found, query, wide)
        else:
            rows = engine.candidates_among(query, wide, "key", low, high, among[:2], among[2], first_size)
            _admit_visible(rows, seen, found, query, wide)
    last_mode, broadest, keys = modes[-1], None, None
    if among is None and len(modes) > 1 and modes[0] == "key" and _may_be_name(query):
        # The whole query as a name first: a common name's own matches fill the page, best ranked,
        # and the broader tiers need no query. They read several times as many matches ("刘伟" is
        # a word of every 刘伟X: 2,233 documents at a million contacts, 560 of them named 刘伟), each
        # a heap page far from the others on PostgreSQL: the bench's slowest names went from 20–36
        # to 13 ms, initials from 24–55 to 18–25. A rare name pays one index lookup more.
        keys = engine.candidates(query, columns, "key", low, high, first_size)
    if among is None and len(modes) > 1 and (keys is None or len(keys) < first_size):
        # The broadest tier first: when it has fewer matches than a batch, they are all the matches
        # (a whole key is a whole token, a whole token is its own prefix) and ``rank`` orders them;
        # the narrower tiers need no query. A rare term (a phone's last digits, an email) is then one
        # index lookup instead of three. Otherwise its batch serves its own tier later on.
        broadest = engine.candidates(query, columns, last_mode, low, high, first_size)
        if len(broadest) < first_size:
            _admit(broadest, seen, check, found, query, columns)
            modes = []
    for mode in modes:
        # When the user sees few records (and the engine can), the matches among those. Otherwise
        # first a small batch with its texts (enough when the user sees most records); then one long
        # walk of ids alone (the index only), checked through restrict in chunks until enough are
        # visible; only the visible few are read back.
        if among is not None:  # a narrow scope: the matches among the records the user may see
            # As many as the first batch of a user who sees everything, so they are ranked alike.
            _admit_visible(
                engine.candidates_among(query, columns, mode, low, high, among[:2], among[2], first_size + len(found)),
                seen,
                found,
                query,
                columns,
            )
            if len(found) >= limit:
                break
            continue
        if mode == last_mode and broadest is not None:
            rows = broadest
        elif mode == "key" and keys is not None:
            rows = keys
        else:
            rows = engine.candidates(query, columns, mode, low, high, first_size)
        scanned += len(rows)
        _admit(rows, seen, check, found, query, columns)
        if len(rows) < first_size or len(found) >= limit or scanned >= MAX_SCAN:
            if len(found) >= limit or scanned >= MAX_SCAN:
                break
            continue
        ids = engine.candidates(query, columns, mode, low, rows[-1][0] - 1, MAX_SCAN - scanned, texts=False)
        scanned += len(ids)
        for start in range(0, len(ids), MAX_BATCH):
            chunk = [row[0] for row in ids[start : start + MAX_BATCH]]
            _admit_ids(chunk, seen, check, found, query, columns, engine)
            if len(found) >= limit:
                break
        if len(found) >= limit or scanned >= MAX_SCAN:
            break
    if memo is not None:
        memo[(search_type.key, limit)] = found
    return found


def _whole_only(search_type: SearchType, user: Any, query: Query) -> set[str]:
    """The email and phone columns the reader sees masked, when the query may be a whole one."""
    if not (query.phone or "@" in query.compact):
        return set()
    return search_type.hidden_columns(masked_fields(user, search_type.model)) & {"e", "p"}


#: Where a search's memo keeps what its lookup of masked values counted (``_may_look_up_masked``).
_LOOKUP = "masked_lookup"


def _may_look_up_masked(user: Any, memo: dict[Any, Any] | None) -> bool:
    """Whether this search may find values the reader sees masked by their whole value: counted
    once a search, however many types it asks (``lookups.masked_lookup``); the memo keeps the answer
    (``SearchResults.masked_lookups``)."""
    if memo is not None and _LOOKUP in memo:
        return memo[_LOOKUP] is None
    used_up = masked_lookup(user)
    if memo is not None:
        memo[_LOOKUP] = used_up
    return used_up is None


def _may_be_name(query: Query) -> bool:
    """Not a phone number or an email, which are rare: their broadest tier alone finds them."""
    return bool(query.compact) and not query.phone and not any(ch in query.compact for ch in "@.")


#: Records of a type a user may see at most for a search to start from them (see ``_narrow_scope``).
NARROW_SCOPE = 10000


def _narrow_scope(
    search_type: SearchType, visible: Any, engine: Any, memo: dict[Any, Any] | None
) -> tuple[str, Any, int] | None:
    """The SQL selecting the ids of the records the user may see (with its parameters, and how many),
    when they are few and the engine can start from them (PostgreSQL); None otherwise. Counted once a
    search per type."""
    if not hasattr(engine, "candidates_among"):
        return None
    key = ("narrow", search_type.key)
    if memo is not None and key in memo:
        return memo[key]
    scope = None
    try:
        if not _sees_every_record(search_type, visible):
            pks = _scope_pks(visible)
            size = pks[: NARROW_SCOPE + 1].count()
            scope = (*pks.query.sql_with_params(), size) if size <= NARROW_SCOPE else None
    except EmptyResultSet:  # a part of the scope that matches nothing: the usual walk copes
        scope = None
    if memo is not None:
        memo[key] = scope
    return scope


def _scope_pks(visible: Any) -> Any:
    """``visible``'s ids; "live AND (own OR shared)" as the union of "live AND own" and "live AND
    shared", so that each part is read through its index (one OR with a subquery is a full scan)."""
    pks = visible.order_by().values_list("pk", flat=True)
    where = visible.query.where
    if where.connector != AND or where.negated:
        return pks
    ors = [c for c in where.children if isinstance(c, WhereNode) and c.connector == OR and not c.negated]
    if len(ors) != 1:
        return pks
    rest = [c for c in where.children if c is not ors[0]]
    parts = []
    for child in ors[0].children:
        part = visible.order_by()
        part.query.where = WhereNode([*rest, child], AND)
        parts.append(part.values_list("pk", flat=True))
    return parts[0].union(*parts[1:])


def _admit_visible(rows: list[Row], seen: set[int], found: dict[int, int], query: Query, columns: Any) -> None:
    """Rank rows read from among the records the user may see (``_narrow_scope``)."""
    for row in rows:
        if row[0] not in seen:
            seen.add(row[0])
            found[row[0] & MASK] = rank(query, row, columns)


def _sees_every_record(search_type: SearchType, visible: Any) -> bool:
    return bool(visible.query.where == search_type.model._default_manager.all().query.where)


def _admit(
    rows: list[Row], seen: set[int], visible: Any | None, found: dict[int, int], query: Query, columns: Any
) -> None:
    """Rank the rows (with texts) the user may see (``visible`` None: every one)."""
    fresh = [row for row in rows if row[0] not in seen]
    if not fresh:
        return
    seen.update(row[0] for row in fresh)
    allowed = None
    if visible is not None:
        allowed = set(visible.filter(pk__in=[row[0] & MASK for row in fresh]).values_list("pk", flat=True))
    for row in fresh:
        if allowed is None or row[0] & MASK in allowed:
            found[row[0] & MASK] = rank(query, row, columns)


def _admit_ids(
    ids: list[int], seen: set[int], visible: Any | None, found: dict[int, int], query: Query, columns: Any, engine: Any
) -> None:
    """Like ``_admit`` for bare ids: the texts of the visible ones are read afterwards."""
    fresh = [doc for doc in ids if doc not in seen]
    if not fresh:
        return
    seen.update(fresh)
    if visible is None:
        keep = sorted(fresh)
    else:
        pks = engine.id_list([doc & MASK for doc in fresh])
        allowed = set(visible.filter(pk__in=pks).values_list("pk", flat=True))
        keep = sorted(doc for doc in fresh if doc & MASK in allowed)
    for row in engine.documents(keep):
        found[row[0] & MASK] = rank(query, row, columns)


#: Rank of a record found through a related one: after every match on its own values.
VIA_RANK = 6


def _matches_via(
    search_type: SearchType, user: Any, query: Query, limit: int, visible: Any, memo: dict[Any, Any]
) -> dict[int, int]:
    """Records found through related records the user may see (contacts through their accounts' names)."""
    found: dict[int, int] = {}
    hidden = hidden_fields(user, search_type.model)
    for via in search_type.via:
        other = get_search_type(via.key)
        if other is None or (via.guard and via.guard in hidden):
            continue
        other_visible = restricted(other.model, user, "view")
        if other_visible.query.is_empty():
            continue
        related = _matches(other, user, query, limit, other_visible, memo)
        if not related:
            continue
        pairs = list(via.linked(list(related), MAX_BATCH))
        allowed = set(visible.filter(pk__in=[own for _other, own in pairs]).values_list("pk", flat=True))
        for other_pk, own in pairs:
            if own in allowed:
                found[own] = min(found.get(own, 99), VIA_RANK + min(related[other_pk], 1))
        if len(found) >= limit:
            break
    return found


def _ranked(
    search_type: SearchType, user: Any, query: Query, limit: int, visible: Any, memo: dict[Any, Any]
) -> dict[int, int]:
    """Record id -> rank of the matches of one type: its own, then those through related records."""
    found = _matches(search_type, user, query, limit, visible, memo)
    if len(found) < limit and search_type.via:
        for pk, via_rank in _matches_via(search_type, user, query, limit, visible, memo).items():
            found.setdefault(pk, via_rank)
    return found


def search_ids(user: Any, model: type[models.Model], q: str, limit: int) -> list[int] | None:
    """Ids of up to ``limit`` records of ``model`` that match ``q`` and that ``user`` may see, best
    first: what a list's search box asks (``FilterSet.search``). None when ``model`` is not indexed.
    """
    search_type = search_type_for(model)
    if search_type is None:
        return None
    query = parse_query(q.strip()[:MAX_QUERY])
    visible = restricted(model, user, "view")
    if not query.terms or visible.query.is_empty():
        return []
    found = _ranked(search_type, user, query, limit, visible, {})
    return sorted(found, key=lambda pk: (found[pk], -pk))[:limit]


def _hits_of_type(
    search_type: SearchType, user: Any, query: Query, limit: int, memo: dict[Any, Any] | None = None
) -> list[Hit] | None:
    """Up to ``limit`` hits of one type, best first; None when the user may see no record of it."""
    visible = restricted(search_type.model, user, "view")
    if visible.query.is_empty():
        return None
    found = _ranked(search_type, user, query, limit, visible, {} if memo is None else memo)
    best = sorted(found, key=lambda pk: (found[pk], -pk))[:limit]
    if not best:
        return []
    objects = {obj.pk: obj for obj in visible.filter(pk__in=best)}
    return as_hits(search_type, [objects[pk] for pk in best if pk in objects], user, found)


def as_hits(search_type: SearchType, objs: list[Any], user: Any, ranks: dict[Any, int] | None = None) -> list[Hit]:
    """``objs`` (records of ``search_type`` the user may see) as hits, in their order: the type's
    ``present`` gives title and subtitle (one read for them all), else the record's name."""
    texts = search_type.present(objs, user) if search_type.present else {o.pk: (str(o), "") for o in objs}
    return [
        Hit(
            search_type.key,
            obj.pk,
            *texts.get(obj.pk, (str(obj), "")),
            url=_detail_url(obj),
            rank=(ranks or {}).get(obj.pk, 0),
        )
        for obj in objs
    ]


def _detail_url(obj: models.Model) -> str | None:
    from guanxi.core.views.base import record_url

    return record_url(obj)


def clean_search_input(q: Any, types: Any = None, limit: Any = 20) -> tuple[str, list[SearchType], int]:
    """Check what a client sent; FieldErrors name the parameter (the API answers 400 with them)."""
    errors: dict[str, list[str]] = {}
    text = q.strip() if isinstance(q, str) else ""
    if not text or len(text) > MAX_QUERY:
        errors["q"] = [_("Type 1 to %(max)s characters to search for.") % {"max": MAX_QUERY}]
    chosen = search_types()
    if types not in (None, "", []):
        keys = [t.strip() for t in types.split(",")] if isinstance(types, str) else [str(t) for t in types]
        keys = [k for k in keys if k]
        unknown = [k for k in keys if get_search_type(k) is None]
        if unknown or not keys:
            errors["types"] = [
                _("Unknown type %(types)s; use any of: %(known)s.")
                % {"types": ", ".join(unknown) or "—", "known": ", ".join(t.key for t in search_types())}
            ]
        else:
            wanted = set(keys)
            chosen = [t for t in chosen if t.key in wanted]
    try:
        number = int(limit) if limit not in (None, "") else 20
    except (TypeError, ValueError):
        number = 0
    if not 1 <= number <= MAX_LIMIT:
        errors["limit"] = [_("Use a whole number between 1 and %(max)s.") % {"max": MAX_LIMIT}]
    if errors:
        raise FieldErrors(errors)
    return text, chosen, number


@dataclass
class SearchResults:
    """One search's answer: hits per type (the types the user may see at all, in registration
    order), each best first; and, when the reader's whole-value lookups of values they see masked
    were used up, until when (``lookups``: the masked columns were left out)."""

    groups: list[tuple[SearchType, list[Hit]]]
    limit: int
    masked_lookups: LookupsUsedUp | None = None

    def hits(self) -> list[Hit]:
        """Up to ``limit`` hits of every type, best first: whole-name/email/phone matches, then name
        starts, then word matches."""
        order = {search_type_.key: index for index, (search_type_, _hits) in enumerate(self.groups)}
        hits = [hit for _type, group in self.groups for hit in group]
        hits.sort(key=lambda hit: (hit.rank, order[hit.type], -hit.id))
        return hits[: self.limit]


def search_results(user: Any, q: str, *, types: Any = None, limit: int | str = 20) -> SearchResults:
    """Records of the given types (default: every searchable type) that match ``q`` and that ``user``
    may see, per type (``SearchResults``)."""
    text, chosen, limit = clean_search_input(q, types, limit)
    query = parse_query(text)
    out: list[tuple[SearchType, list[Hit]]] = []
    memo: dict[Any, Any] = {}
    for search_type_ in chosen:
        hits = _hits_of_type(search_type_, user, query, limit, memo) if query.terms else []
        if hits is not None and (query.terms or not restricted(search_type_.model, user, "view").query.is_empty()):
            out.append((search_type_, hits))
    return SearchResults(out, limit, memo.get(_LOOKUP))


def search_grouped(
    user: Any, q: str, *, types: Any = None, limit: int | str = 20
) -> list[tuple[SearchType, list[Hit]]]:
    """Hits per type (the types the user may see at all, in registration order), each best first."""
    return search_results(user, q, types=types, limit=limit).groups


def search(user: Any, q: str, *, types: Any = None, limit: int | str = 20) -> list[Hit]:
    """Records of the given types (default: every searchable type) that match ``q`` and that ``user``
    may see, best first: whole-name/email/phone matches, then name starts, then word matches."""
    return search_results(user, q, types=types, limit=limit).hits()


def searchable_types_for(user: Any) -> list[SearchType]:
    """The types whose records the user may see at all (the results page's filter)."""
    return [t for t in search_types() if not restricted(t.model, user, "view").query.is_empty()]
