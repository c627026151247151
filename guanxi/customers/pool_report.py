"""The pool's statistics (公海统计) as a file to send on: Excel (a sheet per table) or CSV (the tables
one under another), the same figures as the page, in the reader's language, written by the exports'
own writers (``core.exports.report_file``). Names are escaped like every export's cells
(``escape_cell``): a salesperson called "=1+1" stays text."""

from __future__ import annotations

import datetime
from typing import Any

from django.http import HttpResponse
from django.utils.translation import gettext as _

from guanxi.core.exports import CONTENT_TYPES, as_download, escape_cell, report_file
from guanxi.customers.selectors import PoolFigures

FORMATS = ("xlsx", "csv")

Table = tuple[str, list[str], list[list[Any]]]


def tables(figures: PoolFigures, first: datetime.date, last: datetime.date) -> list[Table]:
    """(title, header, rows) of each table the page shows, the period first."""
    period = f"{first.isoformat()} – {last.isoformat()}"
    return [
        (
            _("Totals"),
            [_("Period"), _("Released by hand"), _("Taken back by the rules"), _("Claimed")],
            [[period, figures.released, figures.taken_back, figures.claimed]],
        ),
        (
            _("By salesperson"),
            [_("Salesperson"), _("Released"), _("Taken back"), _("Claimed")],
            [[row["name"], row["released"], row["taken_back"], row["claimed"]] for row in figures.people],
        ),
        (
            _("Release reasons"),
            [_("Release reason"), _("Released")],
            [[row["label"], row["count"]] for row in figures.reasons],
        ),
        (
            _("Pool rules"),
            [_("Pool rule"), _("Taken back")],
            [[row["label"], row["count"]] for row in figures.rules],
        ),
    ]


def pool_report_response(figures: PoolFigures, first: datetime.date, last: datetime.date, fmt: str) -> HttpResponse:
    """The download, named after the period (公海统计_2026-12-01_2026-12-06.xlsx)."""
    escaped = [
        (title, header, [[escape_cell(v) if isinstance(v, str) else v for v in row] for row in rows])
        for title, header, rows in tables(figures, first, last)
    ]
    response = HttpResponse(report_file(fmt, escaped), content_type=CONTENT_TYPES[fmt])
    days = f"{first.isoformat()}_{last.isoformat()}"
    as_download(response, f"{_('Pool statistics')}_{days}.{fmt}", f"pool-statistics_{days}.{fmt}")
    return response
