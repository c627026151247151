"""RFC 9457 problem details: every API error is ``application/problem+json`` with per-field errors."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse

from guanxi.core.errors import GuanxiError

CONTENT_TYPE = "application/problem+json"


def problem(
    request: HttpRequest,
    status: int,
    code: str,
    title: str,
    detail: str = "",
    errors: dict[str, list[str]] | None = None,
    headers: dict[str, str] | None = None,
) -> HttpResponse:
    body: dict[str, Any] = {
        "type": f"urn:guanxi:problem:{code}",
        "title": str(title),
        "status": status,
        "detail": str(detail or title),
        "instance": request.get_full_path(),
        "request_id": getattr(request, "request_id", ""),
    }
    if errors:
        body["errors"] = [
            {"field": field, "detail": str(message)} for field, messages in errors.items() for message in messages
        ]
    response = HttpResponse(json.dumps(body, ensure_ascii=False), status=status, content_type=CONTENT_TYPE)
    for key, value in (headers or {}).items():
        response[key] = value
    return response


def from_error(request: HttpRequest, exc: GuanxiError) -> HttpResponse:
    return problem(request, exc.status, exc.code, str(exc.title), exc.detail, exc.errors)


def _field_from_loc(loc: list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "payload", "data")]
    return ".".join(parts) or "body"


def from_ninja_validation(request: HttpRequest, errors: list[dict[str, Any]]) -> HttpResponse:
    fields: dict[str, list[str]] = {}
    for error in errors:
        fields.setdefault(_field_from_loc(list(error.get("loc", []))), []).append(str(error.get("msg", "invalid")))
    return problem(request, 400, "validation-error", "Some fields need attention", errors=fields)
