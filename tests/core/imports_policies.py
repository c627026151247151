"""The import routes and pages in the platform's walks: API permission matrix rows, change-log exemptions
and UI matrix rows. ``tests/customers/platform_policies.py`` adds ``MATRIX`` and ``CHANGELOG_EXEMPT``
to its own; ``tests/ui_matrix/test_ui_permission_matrix.py`` adds ``UI_MATRIX``.

Imports are personal: each principal sees the imports they started, administrators every import;
only the one who started an import may start it. Nobody in the test organisation has the "import"
permission but the administrators. Platform test modules are imported lazily (they load this one).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.api import world as W
from tests.api.world import World

if TYPE_CHECKING:  # pragma: no cover
    from tests.api.test_permission_matrix import Check
    from tests.ui_matrix.test_ui_permission_matrix import UiCheck

IM = "/api/v1/imports"
IMPORT_OWNERS = {"i_owner": "owner", "i_other": "other", "i_admin": "admin"}
IMPORT_VIEW: dict[str, Any] = {
    "owner": {"i_owner"},
    "colleague": set(),
    "other": {"i_other"},
    "manager": set(),
    "norole": set(),
}
# The list shows one's own imports only, administrators included.
IMPORT_LIST: dict[str, Any] = {**IMPORT_VIEW, "admin": {"i_admin"}, "admin_token": {"i_admin"}}
# Starting needs the import permission and one's own import.
IMPORT_START: dict[str, Any] = {**{who: set() for who in W.PEOPLE}, "admin": {"i_admin"}, "admin_token": {"i_admin"}}
CSV = "姓名,手机\n张三,13800138000\n".encode()


def imports_world(w: World) -> World:
    """A pending import with an error file for owner, other and admin (once per world)."""
    if "import" in w.objs:
        return w
    from guanxi.core.models import Job

    for key, who in IMPORT_OWNERS.items():
        job = Job.objects.create(
            kind="import",
            user=w.p.users[who],
            object_type="customers.contact",
            params={"type": "contacts", "headers": ["姓名", "手机"], "mapping": {"姓名": "name", "手机": "mobile"},
                    "format": {"kind": "csv", "encoding": "utf-8", "delimiter": ","}, "file_name": f"{key}.csv"},
        )  # fmt: skip
        job.input_file.save(f"{key}.csv", ContentFile(CSV), save=False)
        job.output_file.save("errors.csv", ContentFile("\ufeffRow,Column,Value,Reason\n".encode()), save=True)
        w.add("import", key, job)
    return w


def _list(c: Check) -> None:
    imports_world(c.w)
    c.list(IM, "import", IMPORT_LIST)


def _rows(
    method: str, suffix: str, view: dict[str, Any] | None, action: dict[str, Any], ok: int
) -> Callable[[Check], None]:
    def check(c: Check) -> None:
        w = imports_world(c.w)
        body = (lambda k: {}) if method == "POST" else None
        c.each("import", method, lambda k: f"{IM}/{w.pk('import', k)}{suffix}", view, action, ok, body)

    return check


def _create(c: Check) -> None:
    """Only administrators may import here; a refused upload leaves no job and no file."""
    imports_world(c.w)
    expected = {"anonymous": 401, "token_noscope": 403}.get(c.who, 201 if c.who in W.ADMINS else 403)
    upload = {"file": SimpleUploadedFile("c.csv", CSV), "type": "contacts"}
    response = c.request("import contacts", "POST", IM, expected, upload=upload)
    if response.status_code == 201 and response.json()["mapping"] != {"姓名": "name", "手机": "mobile"}:
        c.errors.append(f"import: not mapped automatically: {response.json()}")


def _by_type(suffix: str) -> Callable[[Check], None]:
    """The fields and the template of a type: for those who may import it (here the administrators)."""

    def check(c: Check) -> None:
        expected = {"anonymous": 401, "token_noscope": 403}.get(c.who, 200 if c.who in W.ADMINS else 403)
        for type_name in ("contacts", "accounts"):
            c.request(f"import {suffix} {type_name}", "GET", f"{IM}/{suffix}?type={type_name}", expected)

    return check


MATRIX: dict[tuple[str, str], Callable[[Check], None]] = {
    ("GET", IM): _list,
    ("GET", IM + "/fields"): _by_type("fields"),
    ("GET", IM + "/template"): _by_type("template"),
    ("POST", IM): _create,
    ("GET", IM + "/{id}"): _rows("GET", "", None, IMPORT_VIEW, 200),
    ("GET", IM + "/{id}/errors"): _rows("GET", "/errors", None, IMPORT_VIEW, 200),
    ("POST", IM + "/{id}/start"): _rows("POST", "/start", IMPORT_VIEW, IMPORT_START, 202),
}

_LOGGED_BY_THE_JOB = (
    "writes no record itself: the import job writes one change-log row per created or updated record, with "
    "source 'import' and the importing user - see tests/customers/test_import.py (test_ten_thousand_rows_with_"
    "five_percent_bad, test_policy_update)"
)
CHANGELOG_EXEMPT: dict[tuple[str, str], str] = {
    ("POST", IM): _LOGGED_BY_THE_JOB,
    ("POST", IM + "/{id}/start"): _LOGGED_BY_THE_JOB,
}


# --- UI matrix ----------------------------------------------------------------------------------------


def _ui_url(name: str, *args: Any) -> str:
    from django.urls import reverse

    return reverse(f"ui:{name}", args=args)


def _ui_by_type(name: str) -> Callable[[UiCheck], None]:
    def check(c: UiCheck) -> None:
        expected = {"anonymous": 302, "admin": 200}.get(c.who, 403)
        for type_name in ("contacts", "accounts"):
            c.request(f"{name} {type_name}", "GET", _ui_url(name, type_name), expected)

    return check


def _ui_rows(name: str) -> Callable[[UiCheck], None]:
    def check(c: UiCheck) -> None:
        w = imports_world(c.w)
        c.each("import", "GET", lambda k: _ui_url(name, w.pk("import", k)), None, IMPORT_VIEW, 200)

    return check


def _ui_list(c: UiCheck) -> None:
    imports_world(c.w)
    c.list(_ui_url("imports-list"), "import", {k: v for k, v in IMPORT_LIST.items() if k != "admin_token"})


UI_MATRIX: dict[str, Callable[[UiCheck], None]] = {
    "imports-list": _ui_list,
    "imports-new": _ui_by_type("imports-new"),
    "imports-template": _ui_by_type("imports-template"),
    "imports-detail": _ui_rows("imports-detail"),
    "imports-errors": _ui_rows("imports-errors"),
}
