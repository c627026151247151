"""Global search over every searchable record type, through one index with two engine backends.

Interface (used by services, imports, the API and the UI):

* ``search_reindex(model, pks) -> int`` and ``search_remove(model, pks) -> int``: keep the index
  current, in bulk, inside the caller's transaction. The generic record services and the customer
  services call them; imports call ``search_reindex`` once per batch.
* ``search(user, q, *, types=None, limit=20) -> list[Hit]`` (``search_grouped`` for per-type lists,
  ``search_results`` for both and whether the reader's lookups of masked values were used up:
  ``lookups``): only records ``restrict(user, "view")`` lets through, best match first.
* ``register_search_type(key=, model=, build=, present=, guards=, depends_on=, via=)`` with ``Document``,
  ``Dependency`` and ``Via``: how a module makes its records searchable (see ``registry``).

SQLite uses FTS5, PostgreSQL a weighted tsvector with a GIN index (``backends``); the token rules
(Han characters and pairs, pinyin, emails, phone suffixes) are shared (``text``).
"""

from __future__ import annotations

from guanxi.core.search.engine import (
    Hit,
    SearchResults,
    clean_search_input,
    index_size,
    search,
    search_analyze,
    search_grouped,
    search_ids,
    search_index_new,
    search_rebuild,
    search_reindex,
    search_remove,
    search_results,
    searchable_types_for,
)
from guanxi.core.search.registry import (
    Dependency,
    Document,
    SearchType,
    Via,
    register_search_type,
    search_type,
    search_type_for,
    search_types,
    unregister_search_type,
)

__all__ = [
    "Dependency",
    "Document",
    "Hit",
    "SearchResults",
    "SearchType",
    "Via",
    "clean_search_input",
    "index_size",
    "register_search_type",
    "search",
    "search_analyze",
    "search_grouped",
    "search_ids",
    "search_index_new",
    "search_rebuild",
    "search_reindex",
    "search_remove",
    "search_results",
    "search_type",
    "search_type_for",
    "search_types",
    "searchable_types_for",
    "unregister_search_type",
]
