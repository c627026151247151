"""Import services: upload a file (detect, map, preview), start or resume the job, describe it.

The API, the UI wizard and the ``guanxi import`` command all call these.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from guanxi.core.choices import Action, JobStatus
from guanxi.core.errors import Conflict, FieldErrors, PermissionDenied
from guanxi.core.imports.cells import unescape_cell
from guanxi.core.imports.mapping import auto_map, check_mapping, mapping_from_columns, unique_headers
from guanxi.core.imports.reading import count_rows, detect_format, read_head
from guanxi.core.imports.runner import file_format, prepare_context
from guanxi.core.imports.specs import ImportField, ImportSpec, import_spec, import_specs, written_fields
from guanxi.core.jobs import job_enqueue, job_is_stale, job_start
from guanxi.core.models import Job
from guanxi.core.permissions import can, frozen_fields, object_type_of

POLICIES = ("skip", "update", "create")
PREVIEW_ROWS = 10
#: Largest upload accepted (bytes); no row cap, but a sane bound on one file.
MAX_UPLOAD = 2 * 1024 * 1024 * 1024


def spec_or_error(type_name: Any) -> ImportSpec:
    spec = import_spec(str(type_name or ""))
    if spec is None:
        names = ", ".join(s.type for s in import_specs())
        raise FieldErrors({"type": [_("Use one of: %(types)s.") % {"types": names}]})
    return spec


#: What an empty cell does to a record the row updates: keep its value (the default: a file cannot
#: tell "not known" from "remove") or clear the field (an export edited to remove values).
BLANK_CELLS = ("keep", "clear")


def _check_blank_cells(value: Any) -> str:
    if value not in BLANK_CELLS:
        raise FieldErrors({"blank_cells": [_("Use one of: %(p)s.") % {"p": ", ".join(BLANK_CELLS)}]})
    return str(value)


def _check_policy(policy: Any) -> str:
    if policy not in POLICIES:
        raise FieldErrors({"duplicate_policy": [_("Use one of: %(p)s.") % {"p": ", ".join(POLICIES)}]})
    return str(policy)


def _parse_mapping(mapping: Any) -> Any:
    if isinstance(mapping, str):
        if not mapping.strip():
            return None
        try:
            return json.loads(mapping)
        except ValueError:
            raise FieldErrors({"mapping": [_('Send JSON like {"姓名": "name", "手机": "mobile"}.')]}) from None
    return mapping


def _check_frozen(user: Any, spec: ImportSpec, headers: list[str], columns: dict[str, int]) -> None:
    """Refuse columns that write a field the user may not write. A field they see masked may be
    mapped, as the add form takes it: rows that add a record write it, and the writers refuse a row
    that would write it onto an existing record (``prepare_context``'s ``masked_columns``)."""
    frozen = frozen_fields(user, spec.model, adding=True)
    if not frozen:
        return
    errors: dict[str, list[str]] = {}
    for name, index in columns.items():
        spec_field = spec.field(name) or ImportField(name, name)
        if written_fields(spec_field) & frozen:
            errors[f"mapping.{headers[index]}"] = [_("You may not change this field.")]
    if errors:
        raise FieldErrors(errors)


#: How many of the user's last imports of a type are asked how they mapped a header.
REMEMBER_IMPORTS = 20


def remembered_mapping(user: Any, spec: ImportSpec, headers: list[str]) -> tuple[dict[str, str], Job | None]:
    """How this user mapped these headers in their last started imports of this type (the newest
    import that had a header decides it), and the newest of those imports. A monthly file from the
    same system then needs no mapping twice."""
    wanted = set(headers)
    remembered: dict[str, str] = {}
    source: Job | None = None
    jobs = Job.objects.filter(kind="import", user_id=user.pk, object_type=object_type_of(spec.model)).order_by("-id")
    for job in jobs[:REMEMBER_IMPORTS]:
        params = job.params or {}
        if params.get("type") != spec.type or not params.get("started"):
            continue
        for header, target in (params.get("mapping") or {}).items():
            if header in wanted and header not in remembered and isinstance(target, str):
                remembered[header] = target
                source = source or job
        if len(remembered) == len(wanted):
            break
    return remembered, source


def require_import(user: Any, spec: ImportSpec) -> None:
    if not can(user, spec.model, Action.IMPORT):
        raise PermissionDenied()


def import_create(
    *,
    user: Any,
    upload: Any,
    type_name: str,
    duplicate_policy: str = "skip",
    mapping: Any = None,
    start: bool = False,
    blank_cells: str = "keep",
) -> Job:
    """Save an uploaded file as a pending import job: detect its format, read its header, map the
    columns (given, else automatically) and count its rows. With ``start`` the job is queued."""
    spec = spec_or_error(type_name)
    require_import(user, spec)
    policy = _check_policy(duplicate_policy or "skip")
    blank = _check_blank_cells(blank_cells or "keep")
    mapping = _parse_mapping(mapping)
    if upload is None:
        raise FieldErrors({"file": [_("Choose a file to import.")]})
    if getattr(upload, "size", 0) > MAX_UPLOAD:
        raise FieldErrors({"file": [_("The file is too large.")]})
    file_name = Path(getattr(upload, "name", "") or "upload.csv").name[:200]
    saved = ""
    try:
        with transaction.atomic():
            job = job_start(kind="import", user=user, object_type=object_type_of(spec.model), enqueue=False)
            job.input_file.save(file_name, upload, save=True)
            saved = job.input_file.name or ""
            path = job.input_file.path
            fmt = detect_format(path)
            if fmt.kind == "vcard" and not spec.reads_vcard:
                raise FieldErrors({"file": [_("A vCard file holds people's cards: import it as contacts.")]})
            header_line, header, _head = read_head(path, fmt, rows=0)
            headers = unique_headers(header)
            remembered_from: dict[str, Any] | None = None
            if mapping is not None:
                columns = check_mapping(spec, headers, mapping)
                chosen = mapping_from_columns(headers, columns)
            else:
                remembered, source = remembered_mapping(user, spec, headers)
                chosen = auto_map(spec, headers, remembered)
                if source is not None and chosen != auto_map(spec, headers):
                    remembered_from = {"id": source.pk, "file_name": source.params.get("file_name", "")}
            job.params = {
                "type": spec.type,
                "duplicate_policy": policy,
                "blank_cells": blank,
                "file_name": file_name,
                "headers": headers,
                "mapping": chosen,
                "format": {"kind": fmt.kind, "encoding": fmt.encoding, "delimiter": fmt.delimiter},
                "language": getattr(user, "language", "") or translation.get_language() or "zh-hans",
                "header_line": header_line,
            }
            if remembered_from:
                job.params["remembered_from"] = remembered_from
            job.total = count_rows(path, fmt)
            if fmt.kind == "vcard" and not job.total:
                raise FieldErrors({"file": [_("The file holds no cards (BEGIN:VCARD … END:VCARD).")]})
            job.save(update_fields=["params", "total"])
            if start:
                import_start(job=job, user=user)
    except Exception:
        if saved:
            default_storage.delete(saved)
        raise
    return job


def import_start(
    *,
    job: Job,
    user: Any,
    mapping: Any = None,
    duplicate_policy: str | None = None,
    blank_cells: str | None = None,
    enqueue: bool = True,
) -> Job:
    """Queue a pending import (after checking its mapping), or resume one whose worker died.

    A job that has committed batches keeps its mapping and policy: changing them halfway would mix
    two imports in one.
    """
    spec = spec_or_error(job.params.get("type"))
    require_import(user, spec)
    mapping = _parse_mapping(mapping)
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        resumable = job.status == JobStatus.FAILED or (job.status == JobStatus.RUNNING and job_is_stale(job))
        if job.status != JobStatus.PENDING and not resumable:
            raise Conflict(_("This import has already run or is running."))
        if job.checkpoint and (mapping is not None or duplicate_policy is not None or blank_cells is not None):
            raise Conflict(_("This import has started; its mapping and policy can no longer change."))
        params = dict(job.params)
        headers = params["headers"]
        columns = check_mapping(spec, headers, mapping if mapping is not None else params["mapping"])
        _check_frozen(user, spec, headers, columns)
        params["mapping"] = mapping_from_columns(headers, columns)
        if duplicate_policy is not None:
            params["duplicate_policy"] = _check_policy(duplicate_policy)
        if blank_cells is not None:
            params["blank_cells"] = _check_blank_cells(blank_cells)
        params["started"] = True
        job.params = params
        job.status = JobStatus.PENDING if not resumable else job.status
        job.error = ""
        job.save(update_fields=["params", "status", "error"])
        if enqueue:
            job_enqueue(job)
    return job


def import_preview(job: Job, rows: int = PREVIEW_ROWS) -> list[dict[str, Any]]:
    """The first rows as mapped, each with what is wrong with it (no database checks)."""
    spec = spec_or_error(job.params.get("type"))
    if not job.input_file:
        return []
    try:
        _line, _header, head = read_head(job.input_file.path, file_format(job), rows=rows)
    except (FieldErrors, OSError):
        return []
    ctx = prepare_context(spec, job)
    prepared = spec.prepare_rows(head, ctx)
    out = []
    for (line, cells), row in zip(head, prepared, strict=True):
        values = {
            name: (unescape_cell(cells[index].strip()) if index < len(cells) else "")
            for name, index in ctx.columns.items()
        }
        out.append(
            {
                "line": line,
                "values": values,
                "errors": [{"column": e.column, "value": e.value, "reason": e.reason} for e in row.errors],
            }
        )
    return out


def import_fields(*, user: Any, type_name: str) -> list[dict[str, Any]]:
    """What a column of this type can feed: the mapping targets with their label, whether one is
    needed, and what to type (the template's notes), in the current language."""
    from guanxi.core.imports.template import field_hint, field_required, new_records_only

    spec = spec_or_error(type_name)
    require_import(user, spec)
    frozen = frozen_fields(user, spec.model, adding=True)
    new_only = new_records_only(spec, user)
    return [
        {
            "name": f.name,
            "label": str(f.label),
            "required": field_required(spec, f),
            "hint": field_hint(f, new_only=f.name in new_only),
            "read_only": bool(written_fields(f) & frozen),
            # A field the user sees masked: written on the records a file adds, never on those it updates.
            "new_records_only": f.name in new_only,
        }
        for f in spec.mappable()
    ]


def import_template_file(*, user: Any, type_name: str) -> tuple[str, bytes]:
    """(file name, bytes) of the Excel template for this type, in the current language."""
    from guanxi.core.imports.template import import_template, template_file_name

    spec = spec_or_error(type_name)
    require_import(user, spec)
    return template_file_name(spec), import_template(spec, user)


def import_result(job: Job) -> dict[str, int]:
    result = job.result or {}
    return {key: int(result.get(key, 0)) for key in ("created", "updated", "skipped", "failed")}


def import_as_json(job: Job, *, preview: bool = True) -> dict[str, Any]:
    """The import as the API shows it (the contract the UI and the benchmark read)."""
    params = job.params or {}
    data: dict[str, Any] = {
        "id": job.pk,
        "type": params.get("type", ""),
        "status": job.status,
        "file_name": params.get("file_name", ""),
        "encoding": (params.get("format") or {}).get("encoding") or (params.get("format") or {}).get("kind", ""),
        "duplicate_policy": params.get("duplicate_policy", "skip"),
        "blank_cells": params.get("blank_cells", "keep"),
        "headers": params.get("headers", []),
        "mapping": params.get("mapping", {}),
        "remembered_from": params.get("remembered_from"),
        "total": job.total,
        "processed": job.processed,
        "percent": job.percent,
        "result": import_result(job),
        "error_file_url": f"/api/v1/imports/{job.pk}/errors" if job.output_file else None,
        "error": job.error,
        "created_at": job.created_at.isoformat() if job.created_at else None,
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }
    if preview:
        # Not while it runs: progress is polled, and reading the head of a big workbook is not free.
        data["preview"] = [] if job.status == JobStatus.RUNNING else import_preview(job)
    return data
