"""Global search over every searchable record type (placeholder: the search part of issue 3 fills it in)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import models


def search_reindex(model: type[models.Model], pks: Iterable[int]) -> int:
    """(Re)build the index entries of these records; bulk-friendly. Returns how many were indexed."""
    return 0


def search_remove(model: type[models.Model], pks: Iterable[int]) -> int:
    """Drop these records from the index."""
    return 0
