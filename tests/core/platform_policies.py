"""The jobs, exports, bulk and reveal-report routes in the platform's walks: API permission matrix rows, change-log
cases and UI matrix rows (the UI matrix adds ``UI_MATRIX`` from here to its own table).

Jobs are personal: each principal sees the jobs they started; administrators see every job. Nobody
in the test organisation has the "export" permission but the administrators. Bulk actions change
exactly the rows the principal may change (the hand-written tables of tests/api/world.py and
tests/customers/platform_policies.py); everything else selected is skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.core.files.base import ContentFile

from tests.api import world as W
from tests.api.world import World
from tests.core import reveal_policies as _reveals

if TYPE_CHECKING:  # pragma: no cover
    from tests.api.test_permission_matrix import Check
    from tests.core.test_changelog import Ctx, Expect
    from tests.ui_matrix.test_ui_permission_matrix import UiCheck

JOBS = "/api/v1/jobs"
EXPORTS = "/api/v1/exports"
JOB_OWNERS = {"j_owner": "owner", "j_other": "other", "j_admin": "admin"}
JOB_VIEW: dict[str, Any] = {
    "owner": {"j_owner"},
    "colleague": set(),
    "other": {"j_other"},
    "manager": set(),
    "norole": set(),
    "admin_token": W.ALL,  # the admin's token: the admin's view
}


def jobs_world(w: World) -> World:
    """Three finished export jobs with files, started by owner, other and admin (once per world)."""
    if "job" in w.objs:
        return w
    from guanxi.core.models import Job

    for key, who in JOB_OWNERS.items():
        job = Job.objects.create(
            kind="export", user=w.p.users[who], object_type="testapp.gadget", status="succeeded", result={"rows": 1}
        )
        job.output_file.save(f"{key}.csv", ContentFile(f"ID\n{key}\n".encode()), save=True)
        w.add("job", key, job)
    return w


# --- API matrix ----------------------------------------------------------------------------------------------


def _job_list(c: Check) -> None:
    jobs_world(c.w)
    c.list(JOBS, "job", JOB_VIEW)


def _job_rows(path: str, suffix: str = "") -> Callable[[Check], None]:
    def check(c: Check) -> None:
        w = jobs_world(c.w)
        c.each("job", "GET", lambda k: f"{path}/{w.pk('job', k)}{suffix}", None, JOB_VIEW, 200)

    return check


def _export_create(c: Check) -> None:
    """Only administrators hold the export permission here; a refused export queues nothing."""
    expected = {"anonymous": 401, "token_noscope": 403}.get(c.who, 202 if c.who in W.ADMINS else 403)
    response = c.request("export gadgets", "POST", EXPORTS, expected, {"type": "gadgets", "format": "csv"})
    if response.status_code == 202 and response.json()["kind"] != "export":
        c.errors.append(f"export: not an export job: {response.json()}")


def _bulk(
    path: str,
    kind: str,
    table: dict[str, Any],
    body: dict[str, Any],
    changed: Callable[[Any], bool],
    world: Callable[[World], World] | None = None,
    deleted: str = "",
) -> Callable[[Check], None]:
    """Select every row (and the ones in the recycle bin): exactly the rows the principal may change change."""

    def check(c: Check) -> None:
        w = world(c.w) if world else c.w
        keys = w.keys(kind)
        pks = [w.pk(kind, k) for k in keys] + ([w.pk(deleted, k) for k in w.keys(deleted)] if deleted else [])
        expected = {"anonymous": 401, "token_noscope": 403}.get(c.who, 200)
        response = c.request(f"bulk {path}", "POST", path, expected, {**body, "ids": pks})
        if response.status_code != 200:
            return
        model = type(w.obj(kind, keys[0]))
        manager = getattr(model, "all_objects", model._default_manager)
        names = {obj.pk: key for k in (kind, deleted) if k for key, obj in w.objs[k].items()}
        got = {names[o.pk] for o in manager.filter(pk__in=pks) if changed(o)}
        wanted = c.rows_for(table, kind)
        if got != wanted:
            c.errors.append(f"bulk {path}: changed {sorted(got)}, expected {sorted(wanted)}")
        result = response.json()
        if result["changed"] != len(wanted) or result["selected"] != len(pks):
            c.errors.append(f"bulk {path}: counts {result}, expected {len(wanted)} changed of {len(pks)}")

    return check


def _tagged(name: str) -> Callable[[Any], bool]:
    def check(obj: Any) -> bool:
        from guanxi.api.crud import tag_names_for

        return name in tag_names_for(type(obj), [obj.pk]).get(obj.pk, [])

    return check


def _customers(w: World) -> World:
    from tests.customers.platform_policies import customers_world

    return customers_world(w)


def _customer_bulk(path: str, kind: str, table_name: str) -> Callable[[Check], None]:
    def check(c: Check) -> None:
        from tests.customers import platform_policies as CP

        table = getattr(CP, table_name)
        _bulk(
            path, kind, table, {"action": "tag_add", "tags": ["bulk"]}, _tagged("bulk"), _customers, f"deleted_{kind}"
        )(c)

    return check


MATRIX: dict[tuple[str, str], Callable[[Check], None]] = {
    ("GET", JOBS): _job_list,
    ("GET", JOBS + "/{id}"): _job_rows(JOBS),
    ("GET", JOBS + "/{id}/file"): _job_rows(JOBS, "/file"),
    ("POST", EXPORTS): _export_create,
    ("GET", EXPORTS + "/{id}"): _job_rows(EXPORTS),
    ("GET", EXPORTS + "/{id}/file"): _job_rows(EXPORTS, "/file"),
    ("POST", "/api/v1/gadgets/bulk"): _bulk(
        "/api/v1/gadgets/bulk", "gadget", W.GADGET_CHANGE, {"action": "tag_add", "tags": ["bulk"]}, _tagged("bulk"),
        deleted="deleted",
    ),
    ("POST", "/api/v1/notes/bulk"): _bulk(
        "/api/v1/notes/bulk", "note", W.NOTE_CHANGE, {"action": "update", "data": {"body": "bulk"}},
        lambda o: o.body == "bulk",
    ),
    ("POST", "/api/v1/accounts/bulk"): _customer_bulk("/api/v1/accounts/bulk", "account", "ACCOUNT_CHANGE"),
    ("POST", "/api/v1/contacts/bulk"): _customer_bulk("/api/v1/contacts/bulk", "contact", "CONTACT_CHANGE"),
}  # fmt: skip


# --- change-log cases -----------------------------------------------------------------------------------------


def _expect(*args: Any, **kwargs: Any) -> Expect:
    from tests.core.test_changelog import Expect

    return Expect(*args, **kwargs)


def c_gadget_bulk(ctx: Ctx) -> tuple[Any, Expect]:
    from tests.factories import GadgetFactory
    from tests.testapp.models import Gadget

    g = GadgetFactory(owner=ctx.admin, name="Before")
    r = ctx.api.post("gadgets/bulk", {"action": "update", "ids": [g.pk], "data": {"name": "After"}})
    return r, _expect(Gadget, g.pk, "update", {"name": ["Before", "After"]}, {"name"})


def c_note_bulk(ctx: Ctx) -> tuple[Any, Expect]:
    from guanxi.core.models import Note
    from tests.factories import GadgetFactory, note

    n = note(GadgetFactory(owner=ctx.admin), owner=ctx.admin, body="before")
    r = ctx.api.post("notes/bulk", {"action": "update", "ids": [n.pk], "data": {"body": "after"}})
    return r, _expect(Note, n.pk, "update", {"body": ["before", "after"]}, {"body"})


def c_account_bulk(ctx: Ctx) -> tuple[Any, Expect]:
    from guanxi.customers import services
    from guanxi.customers.models import Account

    a = services.account_create(user=ctx.admin, data={"name": "Before"})
    r = ctx.api.post("accounts/bulk", {"action": "tag_add", "ids": [a.pk], "tags": ["重点客户"]})
    return r, _expect(Account, a.pk, "update", {"tags": [[], ["重点客户"]]}, {"tags"})


def c_contact_bulk(ctx: Ctx) -> tuple[Any, Expect]:
    from guanxi.customers import services
    from guanxi.customers.models import Contact

    c = services.contact_create(user=ctx.admin, data={"family_name": "张", "given_name": "三"})
    r = ctx.api.post("contacts/bulk", {"action": "update", "ids": [c.pk], "data": {"department": "采购部"}})
    return r, _expect(Contact, c.pk, "update", {"department": ["", "采购部"]}, {"department"})


CHANGELOG_CASES: dict[tuple[str, str], Callable[[Ctx], tuple[Any, Expect]]] = {
    ("POST", "/api/v1/gadgets/bulk"): c_gadget_bulk,
    ("POST", "/api/v1/notes/bulk"): c_note_bulk,
    ("POST", "/api/v1/accounts/bulk"): c_account_bulk,
    ("POST", "/api/v1/contacts/bulk"): c_contact_bulk,
}
CHANGELOG_EXEMPT: dict[tuple[str, str], str] = {
    ("POST", EXPORTS): "changes no record: it queues an export job (a Job row, the user's own, not audited); "
    "see tests/core/test_exports.py",
}


# --- UI matrix rows --------------------------------------------------------------------------------------------


def _ui_url(name: str, *args: Any) -> str:
    from django.urls import reverse

    return reverse(f"ui:{name}", args=args)


def _ui_job_list(c: UiCheck) -> None:
    jobs_world(c.w)
    c.list(_ui_url("job-list"), "job", JOB_VIEW)


def _ui_job_rows(name: str) -> Callable[[UiCheck], None]:
    def check(c: UiCheck) -> None:
        w = jobs_world(c.w)
        c.each("job", "GET", lambda k: _ui_url(name, w.pk("job", k)), None, JOB_VIEW, 200)

    return check


def _ui_export(c: UiCheck) -> None:
    """Only administrators may export (a small list: the file itself, nothing written)."""
    expected = {"anonymous": 302, "admin": 200}.get(c.who, 403)
    c.request("export gadgets", "POST", _ui_url("export", "gadgets"), expected, {"format": "csv"}, writes=False)


UI_MATRIX: dict[str, Callable[[UiCheck], None]] = {
    "job-list": _ui_job_list,
    "job-detail": _ui_job_rows("job-detail"),
    "job-file": _ui_job_rows("job-file"),
    "export": _ui_export,
}


# --- 查看完整信息统计, who saw masked values in full (rows in tests/core/reveal_policies.py) -------------------

MATRIX.update(_reveals.MATRIX)
UI_MATRIX.update(_reveals.UI_MATRIX)
