"""Reading import files: CSV in any of the encodings Chinese spreadsheets save, XLSX, and vCard.

Everything streams: ``numbered_rows`` yields one row (a list of texts) at a time, so a file of a million
rows is never held in memory (XLSX sheets are held by calamine's Rust reader, compactly). Row
numbers are spreadsheet row numbers: the header is row 1, the first data row is row 2 (a vCard
file numbers its cards instead: ``guanxi.core.imports.vcard``).
"""

from __future__ import annotations

import codecs
import csv
import datetime
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _

from guanxi.core.errors import FieldErrors
from guanxi.core.imports import vcard

#: How much of a CSV file decides its encoding and delimiter.
SAMPLE_BYTES = 1 << 20
XLSX_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".xlsb", ".ods")
CSV_SUFFIXES = (".csv", ".txt", ".tsv")
#: charset-normalizer names that GB18030 (a superset of GB2312 and GBK) decodes.
_CHINESE_CODECS = {"gb2312", "gbk", "gb18030", "hz", "cp936", "euc_cn", "big5"}

# Cells longer than this are cut (no field takes more); a CSV field limit stops a runaway quote.
csv.field_size_limit(1 << 20)


@dataclass(frozen=True)
class FileFormat:
    kind: str  # "csv", "xlsx" or "vcard"
    encoding: str = ""  # CSV and vCard: a Python codec name
    delimiter: str = ","


class UnreadableRow(list[str]):
    """A row the reader could not make out (a vCard file's broken card). It is reported as a bad row
    (``reason``, and ``source``: the start of what was there), and the file's other rows import."""

    def __init__(self, width: int, reason: str, source: str = ""):
        super().__init__([""] * width)
        self.reason = reason
        self.source = source


def _is_xlsx(path: Path, head: bytes) -> bool:
    return path.suffix.lower() in XLSX_SUFFIXES or head.startswith(b"PK\x03\x04")


def detect_encoding(sample: bytes) -> str:
    """The codec of a CSV sample: BOMs first, then strict UTF-8, then charset-normalizer.

    Chinese Excel saves CSV in GBK; any GB-family guess is read as GB18030, which decodes GBK and
    GB2312 alike and also the characters GBK lacks.
    """
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        # The sample may end inside a character: decode incrementally, without the final flush.
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(sample[: 256 * 1024]).best()
    name = (best.encoding if best else "").lower().replace("-", "_")
    if not name or name in _CHINESE_CODECS or name.startswith("gb"):
        return "gb18030"
    return name


def _detect_delimiter(text: str) -> str:
    lines = [line for line in text.splitlines()[:20] if line.strip()]
    if not lines:
        return ","
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=",;\t|").delimiter
    except csv.Error:
        counts = {d: lines[0].count(d) for d in (",", ";", "\t", "|")}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


def detect_format(path: str | Path) -> FileFormat:
    """Which reader a file needs; raises FieldErrors({"file": ...}) for files that are neither."""
    path = Path(path)
    with path.open("rb") as handle:
        sample = handle.read(SAMPLE_BYTES)
    if not sample.strip():
        raise FieldErrors({"file": [_("The file is empty.")]})
    if _is_xlsx(path, sample[:4]):
        return FileFormat("xlsx")
    if vcard.is_vcard(path, sample[:64]):
        # Cards are short and mostly ASCII, too little for a guess: what is not Unicode is taken
        # for GB18030, what the Chinese phones that predate UTF-8 wrote.
        encoding = detect_encoding(sample)
        return FileFormat("vcard", encoding if encoding.startswith(("utf-8", "utf-16")) else "gb18030")
    if (
        path.suffix.lower() not in CSV_SUFFIXES
        and b"\x00" in sample[:4096]
        and not sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    ):
        raise FieldErrors({"file": [_("Upload a CSV, an Excel (.xlsx) or a vCard (.vcf) file.")]})
    encoding = detect_encoding(sample)
    text = sample.decode(encoding, errors="ignore")
    return FileFormat("csv", encoding, "\t" if path.suffix.lower() == ".tsv" else _detect_delimiter(text))


def cell_text(value: Any) -> str:
    """A spreadsheet cell as text: whole floats without ".0" (phone numbers!), dates as ISO dates."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)
    if isinstance(value, datetime.datetime):
        if value.time() == datetime.time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return str(value)


def _csv_rows(path: Path, fmt: FileFormat) -> Iterator[list[str]]:
    with path.open("r", encoding=fmt.encoding, newline="", errors="strict") as handle:
        try:
            yield from csv.reader(handle, delimiter=fmt.delimiter)
        except UnicodeDecodeError as exc:
            raise FieldErrors(
                {
                    "file": [
                        _("The file is not readable as %(encoding)s text: %(error)s")
                        % {"encoding": fmt.encoding, "error": exc.reason}
                    ]
                }
            ) from None
        except csv.Error as exc:
            raise FieldErrors({"file": [_("The CSV file is malformed: %(error)s") % {"error": exc}]}) from None


def _xlsx_rows(path: Path) -> Iterator[list[str]]:
    from python_calamine import CalamineError, CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_path(str(path))
        sheet = workbook.get_sheet_by_index(0)
        for row in sheet.iter_rows():
            yield [cell_text(value) for value in row]
    except CalamineError as exc:
        raise FieldErrors({"file": [_("The Excel file cannot be read: %(error)s") % {"error": exc}]}) from None
    except Exception as exc:  # calamine raises its own error types per format (zip, xml, password...)
        if exc.__class__.__module__.startswith("python_calamine"):
            raise FieldErrors({"file": [_("The Excel file cannot be read: %(error)s") % {"error": exc}]}) from None
        raise


def numbered_rows(path: str | Path, fmt: FileFormat) -> Iterator[tuple[int, list[str]]]:
    """Every row of the file with its number, the header first, as lists of texts (trailing empty
    cells kept). Numbers count up by one: a resumed import skips rows by count."""
    path = Path(path)
    if fmt.kind == "vcard":
        return vcard.rows(path, fmt.encoding)
    return enumerate(_xlsx_rows(path) if fmt.kind == "xlsx" else _csv_rows(path, fmt), start=1)


def is_blank(row: list[str]) -> bool:
    return not isinstance(row, UnreadableRow) and not any(cell.strip() for cell in row)


def read_head(path: str | Path, fmt: FileFormat, rows: int = 10) -> tuple[int, list[str], list[tuple[int, list[str]]]]:
    """The header's row number, the header, and the first ``rows`` non-blank data rows with their
    row numbers. The first non-blank row is the header."""
    header: list[str] | None = None
    header_line = 1
    out: list[tuple[int, list[str]]] = []
    for number, row in numbered_rows(path, fmt):
        if header is None:
            if is_blank(row):
                continue
            header = [cell.strip().lstrip("\ufeff") for cell in row]
            header_line = number
            if rows <= 0:
                break
            continue
        if is_blank(row):
            continue
        out.append((number, row))
        if len(out) >= rows:
            break
    if header is None:
        raise FieldErrors({"file": [_("The file is empty.")]})
    return header_line, header, out


def count_rows(path: str | Path, fmt: FileFormat) -> int:
    """Data rows (not blank, header excluded): one streaming pass over the file."""
    if fmt.kind == "vcard":  # its cards, not parsed (a card that cannot be read is a bad row later)
        return sum(1 for _card in vcard.cards(Path(path), fmt.encoding))
    if fmt.kind == "xlsx":
        return sum(0 if is_blank(row) else 1 for _number, row in numbered_rows(path, fmt)) - 1
    path = Path(path)
    total = 0
    with path.open("r", encoding=fmt.encoding, newline="", errors="replace") as handle:
        for row in csv.reader(handle, delimiter=fmt.delimiter):
            if row and not is_blank(row):
                total += 1
    return max(total - 1, 0)
