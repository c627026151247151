"""The import job: stream the file, validate chunks (on every core), write batch by batch.

Each batch is one transaction holding the records, their change log, the search index entries and
the job's checkpoint (rows consumed, counters, the error file's length). A crash loses at most the
batch in flight: resuming truncates the error file to the checkpointed length, skips the rows
already consumed, and goes on. Nothing half-written stays, nothing is written twice.
"""

from __future__ import annotations

import contextlib
import csv
import gc
import logging
import multiprocessing
import os
import queue
import signal
import threading
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from guanxi.core.db import analyze_tables
from guanxi.core.errors import FieldErrors, PermissionDenied
from guanxi.core.exports import escape_cell
from guanxi.core.imports.bulk import engine, last_timing
from guanxi.core.imports.custom import custom_import_fields, has_custom_fields, mapped_definitions
from guanxi.core.imports.reading import FileFormat, is_blank, numbered_rows
from guanxi.core.imports.specs import BatchResult, ImportSpec, PrepareContext, Prepared, import_spec, written_fields
from guanxi.core.jobs import JobRun, job_handler
from guanxi.core.models import Job
from guanxi.core.permissions import masked_fields
from guanxi.core.search import search_analyze

logger = logging.getLogger(__name__)

COUNTERS = ("created", "updated", "skipped", "failed")


def batch_size() -> int:
    """Rows per transaction (and per checkpoint)."""
    return int(getattr(settings, "GUANXI_IMPORT_BATCH_SIZE", 0) or os.environ.get("GUANXI_IMPORT_BATCH_SIZE") or 5000)


def worker_count(total: int | None) -> int:
    """Processes that validate chunks beside the writer: none for small files (forking costs more)."""
    configured = os.environ.get("GUANXI_IMPORT_PROCESSES")
    if configured is not None:
        return max(0, int(configured))
    threshold = int(os.environ.get("GUANXI_IMPORT_PARALLEL_MIN", "20000"))
    if total is None or total < threshold:
        return 0
    # One core writes; the rest validate. ``prepare`` does all the pure work (validation,
    # normalisation, the change log's JSON, duplicate keys, search columns), so one validating
    # process halves the writer's CPU per row (bench/_import_probe.py, 100k rows: SQLite 226 -> 179
    # µs/row of the writing process). On PostgreSQL too, although its server needs a core: the
    # writer waits for the server most of the time, and validation fills that wait (two cores,
    # 100k rows: 1,932 -> 2,420 rows/s).
    return max(0, min(4, (os.cpu_count() or 1) - 1))


def file_format(job: Job) -> FileFormat:
    data = job.params.get("format") or {}
    return FileFormat(data.get("kind", "csv"), data.get("encoding", ""), data.get("delimiter", ","))


def prepare_context(spec: ImportSpec, job: Job) -> PrepareContext:
    headers = job.params["headers"]
    index = {h: i for i, h in enumerate(headers)}
    columns = {f: index[h] for h, f in job.params["mapping"].items() if f and h in index}
    options: dict[str, Any] = {}
    if has_custom_fields(spec.model):
        # Read once per run: the definitions go to the validating processes with the context.
        # A mapped field deleted since the mapping was made is left out (its column is ignored).
        fields = custom_import_fields(spec.model)
        options["custom_fields"] = mapped_definitions(fields, columns)
        options["required_custom_fields"] = [f.definition for f in fields if f.definition.required]
    if job.params.get("blank_cells") == "clear":
        options["clear_blank"] = True
    masked = masked_fields(job.user, spec.model) if job.user_id else set()  # a preview's job may have none
    if masked:
        # Columns writing a field the importer sees masked (号码脱敏): ``prepare`` notes the rows
        # that fill them in, which the writer refuses on an existing record, and never clears them.
        targets = {target.name: target for target in spec.mappable()}
        options["masked_columns"] = [
            name for name in columns if name in targets and written_fields(targets[name]) & masked
        ]
    return PrepareContext(columns=columns, headers=headers, options=options)


# --- the error file ----------------------------------------------------------------------------------------


def error_file_name(job: Job) -> str:
    return f"jobs/import/{job.pk}/errors.csv"


class ErrorFile:
    """Bad rows as CSV in UTF-8 with a BOM (Excel then shows Chinese): row, column, value, reason,
    and the row's original cells. Opened for append at the checkpointed length."""

    def __init__(self, job: Job, length: int):
        self.name = error_file_name(job)
        self.path = Path(default_storage.path(self.name))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        exists = self.path.exists()
        self.handle: IO[str] = self.path.open("a+", encoding="utf-8", newline="")
        self.handle.truncate(length if exists else 0)
        self.handle.seek(0, os.SEEK_END)
        self.writer = csv.writer(self.handle)
        if length == 0:
            self.handle.write("\ufeff")
            headers = job.params.get("headers", [])
            self.writer.writerow([_("Row"), _("Column"), _("Value"), _("Reason"), *headers])

    def write(self, result: BatchResult, cells_by_line: dict[int, list[str]]) -> None:
        for line, error in sorted(result.errors, key=lambda item: item[0]):
            cells = [escape_cell(c) for c in cells_by_line.get(line, [])]
            self.writer.writerow([line, error.column, escape_cell(error.value), error.reason, *cells])

    def commit_length(self) -> int:
        self.handle.flush()
        os.fsync(self.handle.fileno())
        return self.handle.tell()

    def close(self) -> None:
        self.handle.close()


# --- reading and preparing ---------------------------------------------------------------------------------


def _numbered_rows(job: Job, skip: int) -> Iterator[tuple[int, list[str]]]:
    """Data rows with their spreadsheet row numbers, blanks dropped; the first ``skip`` data rows
    (blank or not, counted after the header) are passed over."""
    header_seen = False
    seen = 0
    for number, row in numbered_rows(job.input_file.path, file_format(job)):
        if not header_seen:
            if not is_blank(row):
                header_seen = True
            continue
        seen += 1
        if seen <= skip or is_blank(row):
            continue
        yield number, row


def _chunks(rows: Iterator[tuple[int, list[str]]], size: int) -> Iterator[list[tuple[int, list[str]]]]:
    chunk: list[tuple[int, list[str]]] = []
    for item in rows:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _validator_signals() -> None:
    """A validating process ends on the pool's SIGTERM and leaves Ctrl+C to the writer: it must not
    keep the handlers it inherited (the task worker's graceful "finish the task first" one)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _prepare_in_worker(type_name: str, ctx: PrepareContext, language: str, chunk: list[Any]) -> list[Prepared]:
    spec = import_spec(type_name)
    assert spec is not None
    with translation.override(language):
        return spec.prepare_rows(chunk, ctx)


def _prepared(
    spec: ImportSpec, ctx: PrepareContext, language: str, chunks: Iterator[list[Any]], processes: int
) -> Iterator[tuple[list[Any], list[Prepared]]]:
    """Each chunk with its prepared rows, in order. With ``processes``, a bounded number of chunks
    are validated ahead in a process pool while this process writes (never the whole file)."""
    if processes <= 0:
        if pipeline_enabled():
            yield from _prepared_ahead(spec, ctx, language, chunks)
        else:
            for chunk in chunks:
                yield chunk, spec.prepare_rows(chunk, ctx)
        return
    # fork: the workers inherit the loaded apps and translations; they never touch the database.
    # Frozen out of the garbage collector, the objects they inherit are not written to (and so not
    # copied) by its passes (bench, 300k contacts: worker tree 528 -> 487 MB with the worker's own freeze).
    gc.freeze()
    pool = multiprocessing.get_context("fork").Pool(processes, initializer=_validator_signals)
    try:
        pending: deque[tuple[list[Any], Any]] = deque()
        for chunk in chunks:
            pending.append((chunk, pool.apply_async(_prepare_in_worker, (spec.type, ctx, language, chunk))))
            if len(pending) > processes + 1:
                head, job = pending.popleft()
                yield head, job.get()
        while pending:
            head, job = pending.popleft()
            yield head, job.get()
    finally:
        pool.terminate()
        pool.join()
        gc.unfreeze()


def pipeline_enabled() -> bool:
    """Read and validate the next chunk in a thread while this one is written (GUANXI_IMPORT_PIPELINE=1).

    Off by default: on the two busy cores it was measured on (bench/_import_probe.py, 200k rows) it
    gained nothing (4,130 vs 4,103 rows/s) and cost 40 MB; with a spare core it may pay off."""
    return os.environ.get("GUANXI_IMPORT_PIPELINE", "0") == "1"


_DONE = object()


def _prepared_ahead(
    spec: ImportSpec, ctx: PrepareContext, language: str, chunks: Iterator[list[Any]], depth: int = 2
) -> Iterator[tuple[list[Any], list[Prepared]]]:
    """A producer thread reads and validates up to ``depth`` chunks ahead of the writer.

    A pipeline, not a pool: no forking or pickling, and the database's C code releases the GIL
    while it writes, so reading the file and validating overlap the writes. The thread never
    touches the database. Errors (an unreadable file) reach the writer in order, as raised.
    """
    ahead: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for chunk in chunks:
                item = (chunk, _prepare_in_worker(spec.type, ctx, language, chunk))
                while not stop.is_set():
                    try:
                        ahead.put(item, timeout=0.5)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            ahead.put(_DONE)
        except BaseException as exc:  # handed to the writer, raised there
            ahead.put(exc)

    thread = threading.Thread(target=produce, name="import-prepare", daemon=True)
    thread.start()
    try:
        while True:
            item = ahead.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            with contextlib.suppress(queue.Empty):
                ahead.get_nowait()
            thread.join(timeout=0.1)


# --- the job -------------------------------------------------------------------------------------------------


@job_handler("import")
def run_import(run: JobRun) -> dict[str, Any]:
    """Run or resume one import job (see the module docstring)."""
    from guanxi.core.permissions import can
    from guanxi.core.search import search_index_new, search_reindex
    from guanxi.customers.duplicates import duplicates_detect

    job = run.job
    spec = import_spec(job.params.get("type", ""))
    if spec is None:
        raise FieldErrors({"type": ["unknown import type"]})
    user = job.user
    if not can(user, spec.model, "import"):
        raise PermissionDenied()
    language = job.params.get("language") or settings.LANGUAGE_CODE
    state = dict(job.checkpoint or {})
    consumed = int(state.get("rows", 0))
    counts = {key: int(state.get(key, 0)) for key in COUNTERS}
    processed = int(state.get("processed", 0))
    detect: dict[str, list[list[int]]] = dict(state.get("detect") or {})
    written, analyzed_at = 0, 1250  # rows written by this run; statistics at 5,000, 20,000, 80,000...
    ctx = prepare_context(spec, job)
    writer = spec.writer(user, job.params.get("duplicate_policy", "skip"), ctx, job)
    size = batch_size()
    pause = float(os.environ.get("GUANXI_IMPORT_PAUSE", "0") or 0)  # tests: time to kill a worker mid-import
    last_timing.clear()
    with translation.override(language), engine().import_session():
        errors = ErrorFile(job, int(state.get("error_bytes", 0)))
        if not job.output_file:
            job.output_file.name = errors.name
            Job.objects.filter(pk=job.pk).update(output_file=errors.name)
        try:
            rows = _numbered_rows(job, consumed)
            stream = _prepared(spec, ctx, language, _chunks(rows, size), worker_count(job.total))
            clock = time.perf_counter()
            for chunk, prepared in stream:
                clock = _lap("read+validate (waited for)", clock)
                last_line = chunk[-1][0]
                with transaction.atomic():
                    result = writer.write(prepared)
                    clock = _lap("write records", clock)
                    for model, pks in result.written.items():
                        fresh = result.documents.get(model) or {}
                        search_index_new(model, fresh)
                        search_reindex(model, [pk for pk in pks if pk not in fresh])
                    clock = _lap("search index", clock)
                    bad_lines = {line for line, _error in result.errors}
                    errors.write(result, {line: cells for line, cells in chunk if line in bad_lines})
                    error_bytes = errors.commit_length()
                    counts["created"] += result.created
                    counts["updated"] += result.updated
                    counts["skipped"] += result.skipped
                    counts["failed"] += len(bad_lines)
                    processed += len(chunk)
                    # Data rows consumed: up to this chunk's last row (blank rows included).
                    consumed = _consumed_through(job, last_line)
                    inline = _defer_detection(detect, result.written)
                    run.checkpoint(
                        {
                            "rows": consumed,
                            "processed": processed,
                            "error_bytes": error_bytes,
                            "detect": detect,
                            **counts,
                        },
                        processed=processed,
                        **counts,
                    )
                    if spec.on_batch is not None:
                        spec.on_batch(result)
                clock = _lap("error file, checkpoint, commit", clock)
                for model, pks in inline.items():
                    duplicates_detect(model, pks)
                clock = _lap("duplicates (inline)", clock)
                written += result.created + result.updated
                if written >= analyzed_at * 4:
                    # Planner statistics while the tables grow (first at one batch, then each time
                    # they have grown fourfold): without them SQLite takes the ``deleted_at`` index
                    # for the batch's lookups (every live row) and each batch gets slower.
                    analyze_tables(spec.model, *result.written, rows=written)
                    analyzed_at = written
                    clock = _lap("planner statistics", clock)
                if pause:
                    time.sleep(pause)
        except FieldErrors as exc:
            # A file that turns unreadable halfway (a bad byte deep in a CSV): say what and where.
            messages = "; ".join(m for ms in exc.errors.values() for m in ms) or exc.detail
            raise RuntimeError(messages) from None
        finally:
            errors.close()
        # Fresh planner statistics, still inside the import session: a full ANALYZE reads every
        # index, and through SQLite's memory map that whole read would count in this worker's
        # memory (up to 256 MB; bench/_import_probe.py at 300k rows: peak RSS 521 -> 394 MB).
        analyze_tables(spec.model, rows=counts["created"] + counts["updated"])
        search_analyze(rows=counts["created"] + counts["updated"])  # and of the search index
    if not counts["failed"]:
        default_storage.delete(errors.name)
        Job.objects.filter(pk=job.pk).update(output_file="")
        job.output_file.name = ""
    run.progress(processed, total=max(job.total or 0, processed), **counts)
    finish = getattr(writer, "finish", None)
    if finish is not None:
        finish()  # what the writer tells once a run (customers: colleagues whose records rows matched)
    if detect:
        # The review queue's fuzzy detection runs after the import, as its own task over the
        # written ids (ranges), so it never holds up the import (exact duplicates are the policy's).
        from guanxi.customers.duplicates import duplicates_detect_ranges

        duplicates_detect_ranges.enqueue(detect)
    return counts


#: Written ids are remembered as ranges for the follow-up duplicate detection; a batch whose ids
#: scatter into more ranges than this (updates of old records) is checked at once instead.
MAX_DEFERRED_RANGES = 200


def _defer_detection(detect: dict[str, list[list[int]]], written: dict[Any, list[int]]) -> dict[Any, list[int]]:
    """Add the batch's written ids, as [first, last] ranges, to ``detect`` (model label -> ranges);
    returns what is to be checked now instead: models without detection are left out."""
    from guanxi.customers.duplicates import detects

    inline: dict[Any, list[int]] = {}
    for model, pks in written.items():
        if not pks or not detects(model):
            continue
        runs = _ranges(pks)
        label = model._meta.label_lower
        have = detect.setdefault(label, [])
        if len(runs) > MAX_DEFERRED_RANGES or len(have) + len(runs) > 50 * MAX_DEFERRED_RANGES:
            inline[model] = pks
            if not have:
                del detect[label]
            continue
        for lo, hi in runs:
            if have and have[-1][1] + 1 == lo:
                have[-1][1] = hi
            else:
                have.append([lo, hi])
    return inline


def _ranges(pks: list[int]) -> list[list[int]]:
    out: list[list[int]] = []
    for pk in sorted(set(pks)):
        if out and out[-1][1] + 1 == pk:
            out[-1][1] = pk
        else:
            out.append([pk, pk])
    return out


def _lap(stage: str, since: float) -> float:
    now = time.perf_counter()
    last_timing[stage] = last_timing.get(stage, 0.0) + now - since
    return now


def _consumed_through(job: Job, line: int) -> int:
    """Data rows up to spreadsheet row ``line``: the header's row number is remembered per job."""
    header_line = job.params.get("header_line", 1)
    return line - header_line
