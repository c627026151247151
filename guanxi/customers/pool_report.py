"""The pool's statistics (公海统计) as a file to send on: Excel (a sheet per table) or CSV (the tables
one under another), the same figures as the page, in the reader's language. Names are written as
text and escaped like every export's cells (``escape_cell``): a salesperson called "=1+1" stays text."""

from __future__ import annotations

import csv
import datetime
import io
from typing import Any
from urllib.parse import quote

from django.http import HttpResponse
from django.utils.translation import gettext as _

from guanxi.core.exports import escape_cell
from guanxi.customers.selectors import PoolFigures

FORMATS = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}

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


def _cell(value: Any) -> Any:
    return escape_cell(str(value)) if isinstance(value, str) else value


def _xlsx(parts: list[Table]) -> bytes:
    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False})
    bold = book.add_format({"bold": True})
    for title, header, rows in parts:
        sheet = book.add_worksheet(title[:31])  # Excel's limit for a sheet's name
        sheet.write_row(0, 0, header, bold)
        for number, row in enumerate(rows, start=1):
            for column, value in enumerate(row):
                if isinstance(value, int):
                    sheet.write_number(number, column, value)
                else:
                    sheet.write_string(number, column, _cell(value))
        sheet.set_column(0, 0, 28)
        sheet.set_column(1, len(header) - 1, 14)
    book.close()
    return buffer.getvalue()


def _csv(parts: list[Table]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for index, (title, header, rows) in enumerate(parts):
        if index:
            writer.writerow([])
        writer.writerow([title])
        writer.writerow(header)
        writer.writerows([[_cell(value) for value in row] for row in rows])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")  # the BOM: Excel then opens Chinese right


def pool_report_response(figures: PoolFigures, first: datetime.date, last: datetime.date, fmt: str) -> HttpResponse:
    """The download, named after the period (公海统计_2026-12-01_2026-12-06.xlsx)."""
    parts = tables(figures, first, last)
    content = _xlsx(parts) if fmt == "xlsx" else _csv(parts)
    response = HttpResponse(content, content_type=FORMATS[fmt])
    name = f"{_('Pool statistics')}_{first.isoformat()}_{last.isoformat()}.{fmt}"
    ascii_name = f"pool-statistics_{first.isoformat()}_{last.isoformat()}.{fmt}"
    response["Content-Disposition"] = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
    response["Cache-Control"] = "private, no-store"
    return response
