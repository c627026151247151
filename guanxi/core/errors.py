"""Errors services raise. The API turns them into RFC 9457 problem+json; the UI into form errors."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _


class GuanxiError(Exception):
    status = 400
    code = "bad-request"
    title = _("Bad request")

    def __init__(self, detail: str = "", errors: dict[str, list[str]] | None = None):
        super().__init__(detail or str(self.title))
        self.detail = detail or str(self.title)
        self.errors = errors or {}


class FieldErrors(GuanxiError):
    """Input failed validation; ``errors`` maps a field name to messages saying what to do."""

    status = 400
    code = "validation-error"
    title = _("Some fields need attention")

    def __init__(self, errors: dict[str, list[str]], detail: str = ""):
        super().__init__(detail or str(self.title), {k: [str(m) for m in v] for k, v in errors.items()})


class NotFound(GuanxiError):
    status = 404
    code = "not-found"
    title = _("Not found")


class PermissionDenied(GuanxiError):
    status = 403
    code = "permission-denied"
    title = _("You do not have permission to do this")


class PreconditionFailed(GuanxiError):
    status = 412
    code = "stale-version"
    title = _("The record was changed by someone else; reload it and apply your change again")


class PreconditionRequired(GuanxiError):
    status = 428
    code = "if-match-required"
    title = _("Send the record's ETag in an If-Match header")


class Conflict(GuanxiError):
    status = 409
    code = "conflict"
    title = _("Conflict")
