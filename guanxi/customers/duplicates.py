"""Duplicate detection for accounts and contacts (placeholder: the duplicates part of issue 3 fills it in)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import models


def duplicates_detect(model: type[models.Model], pks: Iterable[int]) -> int:
    """Look for duplicates of these records (bulk, with blocking) and queue candidate pairs for review.

    Returns how many new candidate pairs were queued.
    """
    return 0
