"""Export a filtered list to CSV (UTF-8 with BOM) or XLSX, as the user may see it.

The rows are the list's rows (same ``FilterSet``: filters, search, ordering) among the records the
user may both view and export (``restrict(user, "view")`` and ``restrict(user, "export")``), or
only those of them chosen on the list (``ids``: the rows ticked, up to ``SELECTED_LIMIT``); columns
the user's field rules hide are never written. Values read as on the page (choice labels, owner
names, local times) and re-import as they are. Text cells that a spreadsheet would run as a
formula (starting with = + - @, tab or CR) are escaped with a leading apostrophe.

Rows are read in keyset chunks, so memory stays flat however long the list is. Small lists download
at once (``export_response``); larger ones, and every API export, run as an ``export`` job whose
file is the job's ``output_file``.
"""

from __future__ import annotations

import codecs
import csv
import datetime
import decimal
import io
import json
import re
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO
from urllib.parse import quote

from django.core.exceptions import FieldDoesNotExist
from django.core.files import File
from django.db import models
from django.http import HttpResponse, QueryDict, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.utils import timezone, translation
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from guanxi.core.choices import Action, choice_label
from guanxi.core.errors import FieldErrors, PermissionDenied
from guanxi.core.filters import RESERVED, record_ids
from guanxi.core.jobs import JobRun, job_handler, job_start
from guanxi.core.list_cells import join_list
from guanxi.core.models import CustomFieldDefinition, Job
from guanxi.core.pagination import paginate
from guanxi.core.permissions import hidden_fields, may_reach, restrict_queryset, restricted, unseen_ids
from guanxi.core.registry import ComputedColumn, Resource, resources

FORMATS = ("csv", "xlsx")
#: Only for resources that write cards (``Resource.cards``: contacts), whatever the columns.
CARD_FORMAT = "vcf"
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    CARD_FORMAT: "text/vcard; charset=utf-8",
}
#: Lists up to this many rows download at once from the list page; longer ones run as a job.
SYNC_LIMIT = 2000
#: Rows read per query (keyset pagination).
CHUNK = 1000
#: First characters that make a spreadsheet treat a cell as a formula (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: Records chosen one by one on a list (``ids``) that an export takes at most: a few pages' worth.
SELECTED_LIMIT = 10_000
#: Query parameters that say where a page starts or how it looks, not which rows: ignored here.
NOT_FILTERS = {"cursor", "limit", "columns", "view", "page", "format"}


#: What Excel refuses in a sheet's name.
_SHEET_NAME_RE = re.compile(r"[\[\]:*?/\\]")


def escape_cell(text: str) -> str:
    """``'=cmd`` instead of ``=cmd``: the cell shows what was typed and never runs."""
    return "'" + text if text.startswith(FORMULA_START) else text


@dataclass
class ExportColumn:
    """One column of an export: a model field, the tags, or a custom field (``cf.<key>``)."""

    name: str
    label: str
    kind: str = "field"  # field | tags | cf | id | computed
    db_field: models.Field | None = None
    definition: CustomFieldDefinition | None = None
    computed: ComputedColumn | None = None


def resource_for_export(path: str) -> Resource:
    for resource in resources():
        if resource.path == path and (resource.api or resource.ui):
            return resource
    raise FieldErrors({"type": [_("Unknown list “%(type)s”.") % {"type": str(path)[:50]}]})


def _field(model: type[models.Model], name: str) -> models.Field | None:
    try:
        return model._meta.get_field(name)  # type: ignore[return-value]
    except FieldDoesNotExist:  # a resource field that is not a model field (none today)
        return None


def available_columns(resource: Resource, user: Any) -> list[ExportColumn]:
    """Everything this user may read on this record type: fields, tags, custom fields."""
    from guanxi.core.custom_fields import definitions_for

    model = resource.model
    hidden = hidden_fields(user, model)
    columns = [ExportColumn("id", _("Record ID"), kind="id")]
    for name in resource.fields:
        db_field = _field(model, name)
        if name in hidden or db_field is None:
            continue
        label = capfirst(str(getattr(db_field, "verbose_name", name)))
        columns.append(ExportColumn(name, label, db_field=db_field))
    for computed in resource.computed_columns:
        columns.append(ExportColumn(computed.name, capfirst(str(computed.label)), kind="computed", computed=computed))
    if resource.taggable and "tags" not in hidden:
        columns.append(ExportColumn("tags", _("Tags"), kind="tags"))
    if resource.custom_fields and "custom_fields" not in hidden:
        for definition in definitions_for(model):
            columns.append(ExportColumn(f"cf.{definition.key}", definition.label, kind="cf", definition=definition))
    return columns


def choose_columns(
    resource: Resource, user: Any, requested: Iterable[str] | None, *, strict: bool
) -> list[ExportColumn]:
    """The requested columns (list order) or, when none are asked for, all readable ones.

    A column that does not exist or is hidden from the user is refused (``strict``) or left out.
    The record id always comes first, so a file can be re-imported as an update.
    """
    available = available_columns(resource, user)
    names = []
    for raw in requested or []:
        name = str(raw).strip()
        if name.startswith("cf_"):  # the filter spelling of a custom field
            name = "cf." + name[3:]
        if name:
            names.append(name)
    if not names:
        return available
    by_name = {c.name: c for c in available}
    unknown = [n for n in names if n not in by_name]
    if unknown and strict:
        allowed = ", ".join(c.name for c in available)
        raise FieldErrors(
            {
                "columns": [
                    _("Unknown or hidden column(s): %(names)s. Allowed: %(allowed)s.")
                    % {"names": ", ".join(unknown)[:200], "allowed": allowed}
                ]
            }
        )
    chosen = [by_name["id"]] + [by_name[n] for n in dict.fromkeys(names) if n in by_name and n != "id"]
    return chosen


def query_dict(query: Mapping[str, Any] | QueryDict | str | None) -> QueryDict:
    """A list's parameters as the ``FilterSet`` reads them, without paging and display keys."""
    if isinstance(query, QueryDict):
        params = query.copy()
    elif isinstance(query, str):
        params = QueryDict(query, mutable=True)
    else:
        params = QueryDict(mutable=True)
        for key, value in (query or {}).items():
            values = value if isinstance(value, list | tuple) else [value]
            texts = ["true" if v is True else "false" if v is False else str(v) for v in values]
            if str(key).endswith("__in") and len(texts) > 1:  # {"owner__in": [1, 2]} reads as "1,2"
                texts = [",".join(texts)]
            params.setlist(str(key), texts)
    for key in NOT_FILTERS:
        params.pop(key, None)
    return params


def query_json(params: QueryDict) -> dict[str, list[str]]:
    return {key: params.getlist(key) for key in params}


def export_queryset(
    resource: Resource,
    user: Any,
    params: QueryDict,
    columns: list[ExportColumn],
    *,
    strict: bool,
    ids: list[int] | None = None,
) -> tuple[models.QuerySet, str]:
    """The rows to export, filtered and sorted like the list; refused filters raise ``FieldErrors``.
    With ``ids`` (rows chosen on the list), only those of them."""
    model = resource.model
    # No select_related: related records (owners, teams, parents) are few and read once, by id, into
    # RowReader's cache; joining them into every row would build three extra objects per row.
    qs = restrict_queryset(restricted(model, user, Action.VIEW), user, Action.EXPORT)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    return resource.filterset(params, user, strict=strict).apply(qs)


def selected_ids(ids: Iterable[Any] | None) -> list[int] | None:
    """An export's chosen rows (``None``: the whole list), checked: at least one, at most ``SELECTED_LIMIT``."""
    if ids is None:
        return None
    chosen = record_ids(ids, limit=SELECTED_LIMIT)
    if not chosen:
        raise FieldErrors({"ids": [_("Select at least one record to export.")]})
    return chosen


def lenient_queryset(
    resource: Resource, user: Any, params: QueryDict, columns: list[ExportColumn], ids: list[int] | None = None
) -> tuple[models.QuerySet, str, QueryDict]:
    """Like the list page: a refused parameter is dropped (the page already said so) and the rest applied."""
    params = params.copy()
    for _attempt in range(5):
        try:
            qs, ordering = export_queryset(resource, user, params, columns, strict=False, ids=ids)
            return qs, ordering, params
        except FieldErrors as exc:
            dropped = [key for key in exc.errors if key in params]
            for key in dropped or list(params):
                params.pop(key)
    qs, ordering = export_queryset(resource, user, QueryDict(mutable=True), columns, strict=False, ids=ids)
    return qs, ordering, QueryDict(mutable=True)


def check_may_export(resource: Resource, user: Any) -> None:
    if not may_reach(user, resource.model, Action.EXPORT) or not may_reach(user, resource.model, Action.VIEW):
        raise PermissionDenied(_("You may not export these records."))


# --- reading values -------------------------------------------------------------------------------------


def _json_text(value: Any) -> str:
    """Lists of contact points read as ``a@x.cn; b@y.cn``; other JSON as compact JSON."""
    if isinstance(value, list):
        parts = []
        for item in value:
            if isinstance(item, dict) and "value" in item:
                text = str(item["value"])
                if item.get("extension"):
                    text += f" ext. {item['extension']}"
                parts.append(text)
            else:
                parts.append(item if isinstance(item, str) else json.dumps(item, ensure_ascii=False))
        return "; ".join(parts)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True) if value else ""
    return str(value)


def _yes_no(value: Any) -> str:
    return _("Yes") if value else _("No")


Cell = str | int | float | decimal.Decimal


class RowReader:
    """Turns a chunk of records into rows of cells. Per chunk, one query each for tags, users named by
    custom fields, and related records not seen in an earlier chunk (their names are kept)."""

    #: Related-record names kept between chunks (owners, teams, parents repeat across the list).
    MAX_CACHED = 50_000

    def __init__(self, resource: Resource, columns: list[ExportColumn], user: Any = None):
        self.resource = resource
        self.columns = columns
        self.user = user
        self.want_tags = any(c.kind == "tags" for c in columns)
        self.user_keys = [
            c.definition.key for c in columns if c.definition is not None and c.definition.field_type == "user"
        ]
        self.relations = [
            c for c in columns if c.db_field is not None and (c.db_field.many_to_one or c.db_field.one_to_one)
        ]
        self.names: dict[str, dict[Any, str]] = {c.name: {} for c in self.relations}
        self.zone = timezone.get_current_timezone()

    def _related_names(self, objs: list[models.Model]) -> None:
        for column in self.relations:
            db_field = column.db_field
            assert db_field is not None
            cache = self.names[column.name]
            if len(cache) > self.MAX_CACHED:
                cache.clear()
            wanted = {getattr(o, db_field.attname) for o in objs} - set(cache) - {None}
            if wanted:
                related: Any = db_field.related_model
                # A record the exporting user may not see is not named (an empty cell), as on the page.
                unseen = unseen_ids(self.user, related, wanted) if self.user is not None else set()
                for other in related._base_manager.filter(pk__in=wanted - unseen):
                    cache[other.pk] = str(other)
                cache.update(dict.fromkeys(unseen, ""))

    def rows(self, objs: list[models.Model]) -> Iterator[list[Cell]]:
        from guanxi.api.crud import tag_names_for

        tags = tag_names_for(self.resource.model, [o.pk for o in objs]) if self.want_tags and objs else {}
        users: dict[Any, Any] = {}
        if self.user_keys and objs:
            from guanxi.identity.models import User

            ids = {(getattr(o, "custom_fields", None) or {}).get(k) for o in objs for k in self.user_keys}
            users = {u.pk: u for u in User.objects.filter(pk__in={i for i in ids if isinstance(i, int)})}
        computed: dict[str, dict[Any, tuple[str, str]]] = {}
        if objs:
            self._related_names(objs)
            computed = {c.name: c.computed.values(objs, self.user) for c in self.columns if c.computed is not None}
        for obj in objs:
            yield [
                escape_cell(computed[c.name].get(obj.pk, ("", ""))[0])
                if c.computed is not None
                else self.cell(obj, c, tags, users)
                for c in self.columns
            ]

    def cell(self, obj: models.Model, column: ExportColumn, tags: dict[Any, list[str]], users: dict[Any, Any]) -> Cell:
        if column.kind == "id":
            return int(obj.pk)
        if column.kind == "tags":
            return escape_cell(join_list(tags.get(obj.pk, [])))
        if column.kind == "cf":
            return self.custom_cell(obj, column, users)
        db_field = column.db_field
        assert db_field is not None
        value = getattr(obj, db_field.attname)
        if db_field.many_to_one or db_field.one_to_one:
            return escape_cell(self.names[column.name].get(value, "")) if value is not None else ""
        if value is None or value == "":
            return ""
        if db_field.choices:
            return escape_cell(choice_label(db_field, value))
        if isinstance(value, bool):
            return _yes_no(value)
        if isinstance(value, datetime.datetime):
            if timezone.is_aware(value):
                value = value.astimezone(self.zone)
            return value.strftime("%Y-%m-%d %H:%M:%S")
        if isinstance(value, datetime.date | datetime.time):
            return value.isoformat()
        if isinstance(value, decimal.Decimal | int | float):
            return value
        if isinstance(db_field, models.FileField):
            return escape_cell(value.name or "")
        if isinstance(db_field, models.JSONField):
            return escape_cell(_json_text(value))
        return escape_cell(str(value))

    @staticmethod
    def custom_cell(obj: models.Model, column: ExportColumn, users: dict[Any, Any]) -> Cell:
        value = (getattr(obj, "custom_fields", None) or {}).get(column.name[3:])
        definition = column.definition
        if value is None or value == "" or value == []:
            return ""
        if definition is not None and definition.field_type == "user":
            user = users.get(value)
            return escape_cell(str(user)) if user is not None else f"#{value}"
        if isinstance(value, bool) or (definition is not None and definition.field_type == "boolean"):
            return _yes_no(value)
        if isinstance(value, int | float):
            return value
        if isinstance(value, list):
            return escape_cell(join_list(str(v) for v in value))
        return escape_cell(str(value))


def iter_chunks(qs: models.QuerySet, ordering: str, size: int = CHUNK) -> Iterator[list[models.Model]]:
    """The whole queryset in keyset pages: each query costs what the first one costs."""
    cursor = None
    while True:
        page = paginate(qs, ordering, cursor, size)
        if page.items:
            yield page.items
        if not page.next_cursor:
            return
        cursor = page.next_cursor


# --- writing files ----------------------------------------------------------------------------------------


class CsvSink:
    """CSV in UTF-8 with a BOM (so Excel reads Chinese correctly), CRLF line ends."""

    def __init__(self, out: BinaryIO):
        self.out = out
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer)
        self.tables = 0
        out.write(codecs.BOM_UTF8)

    def table(self, title: str, header: list[str], rows: Iterable[list[Cell]]) -> None:
        """One of several small tables (a report's): its title on a line of its own, an empty line
        before every table but the first. Cells are written as given (escape text beforehand)."""
        if self.tables:
            self.row([])
        self.tables += 1
        self.row([escape_cell(title)])
        self.header(header)
        for row in rows:
            self.row(row)

    def header(self, labels: list[str]) -> None:
        self.row([escape_cell(label) for label in labels])

    def row(self, cells: list[Cell]) -> None:
        self.writer.writerow(["" if c is None else str(c) for c in cells])

    def flush(self) -> None:
        data = self.buffer.getvalue()
        if data:
            self.out.write(data.encode("utf-8"))
            self.buffer.seek(0)
            self.buffer.truncate()

    def close(self) -> None:
        self.flush()


class XlsxSink:
    """XLSX in xlsxwriter's constant-memory mode: every text cell is written as text, never a formula."""

    def __init__(self, out: BinaryIO, title: str | None):
        """``title``: the one sheet's name; None for a report of several, each made by ``table``."""
        import xlsxwriter

        self.book = xlsxwriter.Workbook(
            out,
            {
                "constant_memory": True,
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
                "tmpdir": tempfile.gettempdir(),
            },
        )
        self.bold = self.book.add_format({"bold": True})
        self.row_index = 0
        if title is not None:
            self.sheet = self.book.add_worksheet(title[:31] or "Export")

    def table(self, title: str, header: list[str], rows: Iterable[list[Cell]]) -> None:
        """One of several small tables, each on a sheet of its own named after it (as Excel allows a
        sheet's name: 31 characters, none of ``[]:*?/\\``, which a title such as 地区 / 区域 has)."""
        self.sheet = self.book.add_worksheet(_SHEET_NAME_RE.sub("-", title)[:31].strip("'") or None)
        self.header(header)
        for row in rows:
            self.row(row)

    def header(self, labels: list[str]) -> None:
        for col, label in enumerate(labels):
            self.sheet.write_string(0, col, escape_cell(label), self.bold)
        self.sheet.freeze_panes(1, 0)
        self.row_index = 1

    def row(self, cells: list[Cell]) -> None:
        for col, value in enumerate(cells):
            if isinstance(value, bool) or value is None:
                self.sheet.write_string(self.row_index, col, "" if value is None else str(value))
            elif isinstance(value, int | float | decimal.Decimal) and abs(float(value)) < 1e15:
                self.sheet.write_number(self.row_index, col, float(value))
            elif value != "":
                self.sheet.write_string(self.row_index, col, str(value))
        self.row_index += 1

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.book.close()


def _sink(fmt: str, out: BinaryIO, title: str | None) -> CsvSink | XlsxSink:
    return XlsxSink(out, title) if fmt == "xlsx" else CsvSink(out)


def report_file(fmt: str, tables: Iterable[tuple[str, list[str], list[list[Cell]]]]) -> bytes:
    """A small report of several tables as one file: Excel with a sheet per table, or CSV with the
    tables one under another. Text cells are the caller's to escape (``escape_cell``)."""
    out = io.BytesIO()
    sink = _sink(fmt, out, None)
    for title, header, rows in tables:
        sink.table(title, header, rows)
    sink.close()
    return out.getvalue()


def as_download(response: HttpResponseBase, name: str, fallback: str) -> HttpResponseBase:
    """Have the browser save ``response`` as ``name`` (Chinese kept, RFC 6266 ``filename*``; the
    ASCII ``fallback`` for older clients), never sniffed or cached."""
    response["Content-Disposition"] = f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name)}"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


def write_export(
    *,
    resource: Resource,
    columns: list[ExportColumn],
    qs: models.QuerySet,
    ordering: str,
    fmt: str,
    out: BinaryIO,
    user: Any,
    progress: Any = None,
) -> int:
    """Write every row of ``qs`` to ``out``; ``progress(n)`` after each chunk. Returns the row count."""
    if fmt == CARD_FORMAT:
        return _write_cards(resource, qs, ordering, out, user, progress)
    sink = _sink(fmt, out, capfirst(resource.label_plural))
    sink.header([str(c.label) for c in columns])
    reader = RowReader(resource, columns, user)
    count = 0
    for chunk in iter_chunks(qs, ordering):
        for row in reader.rows(chunk):
            sink.row(row)
        count += len(chunk)
        sink.flush()
        if progress is not None:
            progress(count)
    sink.close()
    return count


def _write_cards(
    resource: Resource, qs: models.QuerySet, ordering: str, out: BinaryIO, user: Any, progress: Any
) -> int:
    """The list as one vCard per record (a phone imports the file into its address book)."""
    assert resource.cards is not None
    count = 0
    for chunk in iter_chunks(qs, ordering):
        out.write(resource.cards(chunk, user).encode("utf-8"))
        count += len(chunk)
        if progress is not None:
            progress(count)
    return count


def file_name(resource: Resource, fmt: str) -> str:
    return f"{resource.path}-{timezone.localtime():%Y%m%d-%H%M%S}.{fmt}"


# --- entry points -----------------------------------------------------------------------------------------


def formats(resource: Resource) -> tuple[str, ...]:
    return (*FORMATS, CARD_FORMAT) if resource.cards is not None else FORMATS


def _check_format(fmt: str, resource: Resource) -> str:
    fmt = (fmt or "csv").lower()
    if fmt not in formats(resource):
        if resource.cards is not None:
            raise FieldErrors({"format": [_("Use csv, xlsx or vcf.")]})
        raise FieldErrors({"format": [_("Use csv or xlsx.")]})
    return fmt


def export_start(
    *,
    user: Any,
    resource: Resource,
    fmt: str,
    query: Mapping[str, Any] | QueryDict | str | None,
    columns: Iterable[str] | None = None,
    ids: Iterable[Any] | None = None,
    strict: bool = True,
) -> Job:
    """Check the request now (permission, format, columns, filters, chosen ids: errors name the
    field), then queue the job. ``ids``: only these rows of the list (those the user may export)."""
    fmt = _check_format(fmt, resource)
    check_may_export(resource, user)
    chosen = choose_columns(resource, user, columns, strict=strict)
    rows = selected_ids(ids)
    params = query_dict(query)
    if strict:
        try:
            export_queryset(resource, user, params, chosen, strict=True, ids=rows)
        except FieldErrors as exc:
            raise FieldErrors({f"query.{key}": msgs for key, msgs in exc.errors.items()}) from None
    else:
        _qs, _ordering, params = lenient_queryset(resource, user, params, chosen, rows)
    return job_start(
        kind="export",
        user=user,
        object_type=resource.object_type,
        params={
            "type": resource.path,
            "format": fmt,
            "query": query_json(params),
            "columns": [c.name for c in chosen],
            "ids": rows,
            "language": translation.get_language() or "",
        },
    )


def export_response(
    *,
    user: Any,
    resource: Resource,
    fmt: str,
    params: QueryDict,
    columns: Iterable[str] | None,
    ids: Iterable[Any] | None = None,
) -> HttpResponseBase | Job:
    """From the list page: the file itself when the list (or the rows chosen on it, ``ids``) is
    small, else a queued job (the caller shows it)."""
    fmt = _check_format(fmt, resource)
    check_may_export(resource, user)
    chosen = choose_columns(resource, user, columns, strict=False)
    rows = selected_ids(ids)
    qs, ordering, params = lenient_queryset(resource, user, query_dict(params), chosen, rows)
    if qs.order_by()[: SYNC_LIMIT + 1].count() > SYNC_LIMIT:
        return export_start(
            user=user,
            resource=resource,
            fmt=fmt,
            query=params,
            columns=[c.name for c in chosen],
            ids=rows,
            strict=False,
        )
    name = file_name(resource, fmt)
    if fmt in ("xlsx", CARD_FORMAT):
        buffer = io.BytesIO()
        write_export(resource=resource, columns=chosen, qs=qs, ordering=ordering, fmt=fmt, out=buffer, user=user)
        response: HttpResponseBase = HttpResponse(buffer.getvalue(), content_type=CONTENT_TYPES[fmt])
    else:
        stream = _stream_csv(resource, chosen, qs, ordering, user)
        response = StreamingHttpResponse(stream, content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


def _stream_csv(
    resource: Resource, columns: list[ExportColumn], qs: models.QuerySet, ordering: str, user: Any
) -> Iterator[bytes]:
    """CSV bytes chunk by chunk, in the language and time zone of the request that asked.

    The server iterates this after the view returned: each step re-enters the request's language
    and time zone, and leaves them before it yields.
    """
    language = translation.get_language()
    zone = timezone.get_current_timezone()
    out = io.BytesIO()

    def take() -> bytes:
        data = out.getvalue()
        out.seek(0)
        out.truncate()
        return data

    with translation.override(language), timezone.override(zone):
        sink = CsvSink(out)
        sink.header([str(c.label) for c in columns])
        sink.flush()
    yield take()
    reader = RowReader(resource, columns, user)
    chunks = iter_chunks(qs, ordering)
    while True:
        with translation.override(language), timezone.override(zone):
            chunk = next(chunks, None)
            if chunk is None:
                break
            for row in reader.rows(chunk):
                sink.row(row)
            sink.flush()
        yield take()


@job_handler("export")
def export_job(run: JobRun) -> dict[str, Any]:
    """Write the export file; safe to run again (a resumed job starts the file over)."""
    job = run.job
    params = job.params or {}
    user = job.user
    resource = resource_for_export(str(params.get("type", "")))
    fmt = _check_format(str(params.get("format", "csv")), resource)
    language = params.get("language") or getattr(user, "language", "") or None
    zone = getattr(user, "time_zone", "") or None
    with translation.override(language), timezone.override(zone):
        check_may_export(resource, user)
        columns = choose_columns(resource, user, params.get("columns"), strict=False)
        qs, ordering = export_queryset(
            resource, user, query_dict(params.get("query")), columns, strict=True, ids=params.get("ids")
        )
        total = qs.count()
        run.progress(0, total)
        if job.output_file:
            job.output_file.delete(save=False)
        with tempfile.TemporaryFile() as tmp:
            count = write_export(
                resource=resource,
                columns=columns,
                qs=qs,
                ordering=ordering,
                fmt=fmt,
                out=tmp,
                user=user,
                progress=lambda n: run.progress(n, max(total, n)),
            )
            tmp.seek(0)
            job.output_file.save(file_name(resource, fmt), File(tmp), save=False)
        Job.objects.filter(pk=job.pk).update(output_file=job.output_file.name)
    return {"rows": count, "format": fmt}


__all__ = [
    "CARD_FORMAT",
    "FORMATS",
    "SYNC_LIMIT",
    "escape_cell",
    "available_columns",
    "choose_columns",
    "export_start",
    "export_response",
    "write_export",
    "RESERVED",
]
