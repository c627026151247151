"""What the contact and account import writers share: the ``Writer`` base (owners, matching rows
to records, permissions, the batch's change log and tags) and the helpers both writers' ``update``
use (merging a record's rows, custom fields, blank cells, the change log's before and after).

The writers run in the import job, one batch per transaction, and write what the contact and
account services would: the records, contact points, account links, tags, and one change-log row
per created or updated record (source "import").

Decisions:

* Duplicates are matched by external ID, then (contacts) email, then phone, or (accounts) the
  registration number (统一社会信用代码), then exact name, among live records. An external ID always
  means the same record: with the "create" policy a row whose external ID exists updates that
  record, so a re-run never adds anything.
* A field the importer sees masked (号码脱敏) may be imported: a row that adds a record writes it
  (they typed it, as on the add form); a row that would write it onto an existing record is
  refused, whatever the cell holds, and its empty cell never clears the field. Nothing compares a
  masked cell with a stored value, nor finds a record by it (an email or phone the importer sees
  masked matches only another row of the batch): either would let a file test guesses of the
  hidden digits by what the rows do.
* No timeline entry per record: the import job is the summary (who, when, which file, the counts
  and the error file) and each record's change log says it came from the import. Adding a
  timeline row per record would double the rows written for no new information.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from decimal import Decimal
from functools import cache
from types import SimpleNamespace
from typing import Any, ClassVar

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.core.choices import Action
from guanxi.core.imports.bulk import ChangeLogRows, Owners, TableRows, TagWriter, may_add, timed
from guanxi.core.imports.custom import PREFIX as CF_PREFIX
from guanxi.core.imports.custom import missing_required, required_reason
from guanxi.core.imports.specs import BatchResult, PrepareContext, Prepared, RowError
from guanxi.core.permissions import masked_fields, restricted
from guanxi.core.tags import with_added
from guanxi.customers.assignment import Assigner
from guanxi.customers.classification import with_tags
from guanxi.customers.guard import Held, guard_of, held_records, import_notes, is_personal_phone, tell_holders
from guanxi.customers.import_rows import custom_changes
from guanxi.customers.models import Contact
from guanxi.identity.models import DuplicateGuard

POLICIES = ("skip", "update", "create")
LOOKUP_CHUNK = 2000


#: The JSON columns an import update writes.
JSON_COLUMNS = ("emails", "phones", "custom_fields")


def custom_after(before: dict[str, Any] | None, wanted: dict[str, Any]) -> dict[str, Any]:
    """A record's custom fields after an update: the file's non-empty cells over what it had, less
    the fields its empty cells clear (``blank``)."""
    after = {**(before or {}), **(wanted.get("custom_fields") or {})}
    for name in wanted.get("blank", ()):
        if name.startswith("cf."):
            after.pop(name[3:], None)
    return after


@cache
def _empty_values(model: type[models.Model]) -> dict[str, Any]:
    """What clearing each column stores: NULL where the column takes it, else its default ("", 0)."""
    out: dict[str, Any] = {}
    for f in model._meta.concrete_fields:
        if f.generated:
            continue
        if f.null:
            out[f.attname] = None
        elif f.has_default() and isinstance(f, models.DecimalField):
            # As the update reads it back (annual_revenue "0.00"), so clearing a cleared field is no change.
            out[f.attname] = str(Decimal(f.get_default()).quantize(Decimal(1).scaleb(-(f.decimal_places or 0))))
        elif f.has_default():
            out[f.attname] = f.get_default()
        else:
            out[f.attname] = ""
    return out


def clear_blanks(model: type[models.Model], after: dict[str, Any], wanted: dict[str, Any], attnames: list[str]) -> None:
    """An update's empty cells that clear (``blank``), where no other row of the record gave a value."""
    empty = _empty_values(model)
    for name in wanted.get("blank", ()):
        if name in attnames and wanted.get(name) in (None, ""):
            after[name] = empty[name]


def field_changes(before: dict[str, Any], after: dict[str, Any], attnames: list[str]) -> dict[str, list[Any]]:
    """``{field: [before, after]}`` of an updated record, custom fields by key."""
    changes = {field_name(n): [before[n], after[n]] for n in attnames if n != "custom_fields" and before[n] != after[n]}
    if "custom_fields" in attnames:
        changes.update(custom_changes(before["custom_fields"] or {}, after["custom_fields"] or {}))
    return changes


def tagged(merged: dict[int, list[Prepared]]) -> list[int]:
    """The records an update's rows give tags to."""
    return [pk for pk, rows in merged.items() if any("tags" in row.values for row in rows)]


def new_tags(wanted: dict[str, Any], had: Iterable[str], changes: dict[str, list[Any]]) -> tuple[list[str], list[str]]:
    """The file's tags a record does not have yet, and those they take off (a scoped tag replaces
    the record's tag of its scope: ``core.tags``); when there are any, ``changes`` logs the tags as
    the services do (before and after, sorted). Tags it has already change nothing."""
    before = set(had)
    after = with_added(sorted(before), wanted.get("tags") or ())
    added = [name for name in after if name not in before]
    removed = sorted(before - set(after))
    if added or removed:
        changes["tags"] = [sorted(before), sorted(after)]
    return added, removed


#: Keys that always mean the same record: a row that names one updates that record whatever the policy.
_SAME_RECORD = ("id", "external_id")


def chunks(items: list[Any], size: int = LOOKUP_CHUNK) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


class Writer:
    """What the contact and account writers share: owners, matching, permissions, change log, tags."""

    model: type[Any] = Contact
    columns: tuple[str, ...] = ()
    #: The field each kind of ``match_keys`` reads, where the kind is not the field's name.
    key_fields: ClassVar[dict[str, str]] = {}
    #: The match keys by which adding a record a colleague already has is refused under the "create"
    #: policy, when the user's role says so (撞单保护, ``guard``), each with the columns that carry it.
    guard_keys: ClassVar[dict[str, tuple[str, ...]]] = {}

    def __init__(self, user: Any, policy: str, ctx: PrepareContext, job: Any = None):
        if policy not in POLICIES:
            raise ValueError(policy)
        self.user = user
        self.policy = policy
        self.ctx = ctx
        self.job = job
        self.owners = Owners(user, self.model)
        self.tags = TagWriter(user)
        self.masked = masked_fields(user, self.model)
        self._guard: str | None = None
        #: Colleagues' records the run's rows matched (撞单保护) and whether each row was refused:
        #: their holders are told once, when the run ends (``finish``).
        self.matched: list[tuple[type[Any], Held, bool]] = []

    @property
    def guard(self) -> str:
        """The importer's role's ``duplicate_guard``, asked once a run."""
        if self._guard is None:
            self._guard = guard_of(self.user)
        return self._guard

    def finish(self) -> None:
        """Once the run is done: tell each holder of a record its rows matched, once, with the count
        (a notification a row would bury them)."""
        tell_holders(import_notes(self.user, self.matched))

    # subclasses
    def match_keys(self, values: dict[str, Any]) -> list[tuple[str, str]]:
        raise NotImplementedError

    def lookup(self, kind: str, keys: list[str]) -> dict[str, int]:
        raise NotImplementedError

    def before_write(self, rows: list[Prepared], result: BatchResult) -> list[Prepared]:
        return rows

    def refresh(self, values: dict[str, Any]) -> None:
        """Recompute what ``prepare`` derived from the values after two rows were merged."""

    def after_match(
        self, creates: list[Prepared], updates: dict[int, list[Prepared]], result: BatchResult
    ) -> tuple[list[Prepared], dict[int, list[Prepared]]]:
        """Last checks once each row knows whether it creates a record or updates which one."""
        return creates, updates

    def create(self, rows: list[Prepared], result: BatchResult, now: Any, log: ChangeLogRows) -> None:
        raise NotImplementedError

    def after_write(self, result: BatchResult) -> None:
        """What the batch adds through the services once its records are written."""

    def update(self, merged: dict[int, list[Prepared]], result: BatchResult, now: Any, log: ChangeLogRows) -> None:
        raise NotImplementedError

    # the batch
    def _refuse(self, result: BatchResult, row: Prepared, field: str, value: str, reason: str) -> None:
        result.errors.append((row.line, RowError(self.ctx.header_of(field), value, reason)))

    def _owners(self, rows: list[Prepared], result: BatchResult) -> list[Prepared]:
        """The owner column and user custom fields: users by email or name."""
        self.owners.resolve(row.values["owner"] for row in rows if row.values.get("owner"))
        self.owners.resolve(text for row in rows for text in (row.values.get("custom_users") or {}).values())
        kept = []
        for row in rows:
            key = row.values.get("owner")
            if key:
                found = self.owners.get(key)
                if found is None:
                    self._refuse(result, row, "owner", key, _("No active user with this email or name."))
                    continue
                if found[0] != self.user.pk and not self.owners.may_assign:
                    self._refuse(result, row, "owner", key, _("You may not assign records to other people."))
                    continue
                row.values["owner_id"], row.values["team_id"] = found
            users = row.values.pop("custom_users", None)
            if users:
                picked = {k: self.owners.get(text) for k, text in users.items()}
                missing = next((k for k, user in picked.items() if user is None), None)
                if missing is not None:
                    self._refuse(
                        result, row, CF_PREFIX + missing, users[missing], _("No active user with this email or name.")
                    )
                    continue
                custom = row.values.setdefault("custom_fields", {})
                custom.update({k: user[0] for k, user in picked.items() if user is not None})
                self.refresh(row.values)
            kept.append(row)
        return kept

    def _with_required(self, creates: list[Prepared], result: BatchResult) -> list[Prepared]:
        """Rows that would create a record without a required custom field are refused."""
        required = self.ctx.options.get("required_custom_fields")
        if not required:
            return creates
        kept = []
        for row in creates:
            missing = missing_required(required, row.values.get("custom_fields") or {})
            if missing:
                self._refuse(result, row, CF_PREFIX + missing[0].key, "", required_reason(missing[0]))
            else:
                kept.append(row)
        return kept

    def _record_ids(self, keys: list[str]) -> dict[str, int]:
        """Record IDs a row names, among the live records this user may see (others are "not found")."""
        out: dict[str, int] = {}
        visible = restricted(self.model, self.user, Action.VIEW)
        for chunk in chunks(keys):
            out.update(
                (str(pk), pk) for pk in visible.filter(pk__in=[int(k) for k in chunk]).values_list("pk", flat=True)
            )
        return out

    def write(self, rows: list[Prepared]) -> BatchResult:
        result = BatchResult()
        good = []
        for row in rows:
            if row.errors:
                result.errors.extend((row.line, error) for error in row.errors)
            else:
                good.append(row)
        good = self._owners(good, result)
        good = self.before_write(good, result)
        # Matches in the database, one query per kind of key.
        wanted: dict[str, set[str]] = {}
        keys_of = [self.match_keys(row.values) for row in good]  # once per row: it runs a million times
        for row_keys in keys_of:
            for kind, key in row_keys:
                wanted.setdefault(kind, set()).add(key)
        found: dict[str, dict[str, int]] = {}
        for kind, keys in wanted.items():
            if kind != "id" and self.key_fields.get(kind, kind) in self.masked:
                continue  # a key the importer sees masked finds no record (see the module's decisions)
            started = time.perf_counter()
            found[kind] = self._record_ids(sorted(keys)) if kind == "id" else self.lookup(kind, sorted(keys))
            timed(f"  match existing by {kind}", started)
        self._claim_external_ids(good, found)
        held = self._held_elsewhere(found) if self.policy == "create" else {}
        told: list[tuple[int, Held]] = []  # (line, record) of the rows created beside a colleague's
        creates: list[Prepared] = []
        local: dict[tuple[str, str], int] = {}  # key -> index in creates
        updates: dict[int, list[Prepared]] = {}
        for row, row_keys in zip(good, keys_of, strict=True):
            target: tuple[str, int] | None = None
            by_external = False
            if "id" in row.values:
                problem = self._record_id_problem(row, found)
                if problem:
                    self._refuse(result, row, *problem)
                    continue
                row_keys = row_keys[:1]  # the record ID decides alone
            elsewhere: tuple[str, str, Held] | None = None
            for kind, key in row_keys:
                if self.policy == "create" and kind not in _SAME_RECORD:
                    if elsewhere is None and (kind, key) in held:
                        elsewhere = (kind, key, held[(kind, key)])
                        if self.guard == DuplicateGuard.REFUSE:
                            break
                    continue
                if (kind, key) in local:
                    target = ("local", local[(kind, key)])
                elif key in found.get(kind, {}):
                    target = ("db", found[kind][key])
                if target is not None:
                    by_external = kind in _SAME_RECORD
                    break
            if elsewhere is not None and self.guard == DuplicateGuard.REFUSE:
                kind, key, record = elsewhere
                self.matched.append((self.model, record, True))
                self._refuse(result, row, self._guard_column(kind), key, record.message())
                continue
            if target is None:
                if elsewhere is not None:
                    told.append((row.line, elsewhere[2]))  # added anyway (``tell``), if nothing refuses it
                for kind, key in row_keys:
                    local.setdefault((kind, key), len(creates))
                creates.append(row)
                continue
            if self.policy == "skip" or (self.policy == "create" and not by_external):
                result.skipped += 1
                continue
            if target[0] == "local":
                merge_into(creates[target[1]].values, row.values)
                self.refresh(creates[target[1]].values)
                result.updated += 1
            else:
                updates.setdefault(target[1], []).append(row)
        updates = self._without_masked(updates, result)
        if creates and not may_add(self.user, self.model):
            for row in creates:
                self._refuse(result, row, "", "", _("You may not add records of this type."))
            creates = []
        creates = self._with_required(creates, result)
        # After the refusal above: a row whose parent is one of those is refused, not left pointing at nothing.
        creates, updates = self.after_match(creates, updates, result)
        now = timezone.now()
        log = ChangeLogRows(self.user, now)
        if creates:
            self.create(creates, result, now, log)
        if updates:
            self.update(updates, result, now, log)
        log.flush()
        self.after_write(result)
        refused = {line for line, _error in result.errors}
        self.matched.extend((self.model, record, False) for line, record in told if line not in refused)
        return result

    def _held_elsewhere(self, found: dict[str, dict[str, int]]) -> dict[tuple[str, str], Held]:
        """The records matched by a guarded key that the user may not see, by that key, when their
        role tells of such records (refusing them or not)."""
        if not self.guard_keys or self.guard == DuplicateGuard.OFF:
            return {}
        keys: dict[tuple[str, str], int] = {}
        for kind in self.guard_keys:
            for key, pk in found.get(kind, {}).items():
                if kind != "phone" or is_personal_phone(key):
                    keys[(kind, key)] = pk
        why = {pk: {kind: kind} for (kind, _key), pk in keys.items()}
        held = {record.pk: record for record in held_records(self.user, self.model, why, limit=None)}
        return {key: held[pk] for key, pk in keys.items() if pk in held}

    def _guard_column(self, kind: str) -> str:
        """The column of a guarded key as the file names it (a phone's: mobile or phone, as mapped)."""
        names = self.guard_keys[kind]
        return next((name for name in names if name in self.ctx.columns), names[0])

    def _without_masked(self, updates: dict[int, list[Prepared]], result: BatchResult) -> dict[int, list[Prepared]]:
        """Refuse the rows that would write a field the importer sees masked onto an existing record
        (``values["masked"]``: the columns the row fills in), whatever the value: never compared."""
        if not self.ctx.options.get("masked_columns"):
            return updates
        kept: dict[int, list[Prepared]] = {}
        for pk, rows in updates.items():
            for row in rows:
                given = row.values.get("masked")
                if given:
                    name, text = next(iter(given.items()))
                    reason = _(
                        "You see this field masked and may not change it on an existing record; leave the cell empty."
                    )
                    self._refuse(result, row, name, text, reason)
                else:
                    kept.setdefault(pk, []).append(row)
        return kept

    def _claim_external_ids(self, rows: list[Prepared], found: dict[str, dict[str, int]]) -> None:
        """An external ID that a row gives to the record it names by ID belongs to that record from
        now on: another row of the batch with that external ID is about the same record."""
        by_external = found.setdefault("external_id", {})
        by_id = found.get("id", {})
        for row in rows:
            external, record_id = row.values.get("external_id"), row.values.get("id")
            if external and record_id is not None and str(record_id) in by_id:
                by_external.setdefault(external, by_id[str(record_id)])

    def _record_id_problem(self, row: Prepared, found: dict[str, dict[str, int]]) -> tuple[str, str, str] | None:
        """Why a row that names a record ID cannot update that record: (column, value, reason)."""
        record_id = str(row.values["id"])
        pk = found.get("id", {}).get(record_id)
        if pk is None:
            return (
                "id",
                record_id,
                _("No record you may see has this ID. Leave the cell empty to add the row as a new record."),
            )
        external = str(row.values.get("external_id") or "")
        owner = found.get("external_id", {}).get(external) if external else None
        if owner is not None and owner != pk:
            return (
                "external_id",
                external,
                _("This external ID belongs to another record (ID %(id)s).") % {"id": owner},
            )
        return None

    def changeable(self, pks: list[int]) -> set[int]:
        allowed: set[int] = set()
        for chunk in chunks(pks):
            allowed.update(
                restricted(self.model, self.user, Action.CHANGE).filter(pk__in=chunk).values_list("pk", flat=True)
            )
        return allowed

    def base_values(self, row: Prepared, table: TableRows, pk: int) -> dict[str, Any]:
        values = {"id": pk, "created_by_id": self.user.pk}
        values["owner_id"] = row.values.get("owner_id", self.user.pk)
        values["team_id"] = (
            row.values.get("team_id", getattr(self.user, "team_id", None))
            if "owner_id" in row.values
            else getattr(self.user, "team_id", None)
        )
        for name in self.columns:
            if name in row.values:
                values[name] = table.prep(name, row.values[name]) if name in ("emails", "phones") else row.values[name]
        if row.values.get("custom_fields"):
            values["custom_fields"] = table.prep("custom_fields", row.values["custom_fields"])
        return values


def merge_into(target: dict[str, Any], extra: dict[str, Any]) -> None:
    """A later row about the same new record fills in what it adds (lists are joined)."""
    for name, value in extra.items():
        if name in ("emails", "phones"):
            have = {p["value"] for p in target.get(name, [])}
            target[name] = [
                *target.get(name, []),
                *({**p, "is_primary": False} for p in value if p["value"] not in have),
            ]
            if target[name] and not any(p["is_primary"] for p in target[name]):
                target[name][0]["is_primary"] = True
        elif name in ("tags", "blank", "relations"):
            target[name] = list(dict.fromkeys([*target.get(name, []), *value]))
        elif name in ("custom_fields", "custom_users"):
            target[name] = {**target.get(name, {}), **value}
        elif value not in (None, ""):
            target[name] = value


def field_name(attname: str) -> str:
    return attname.removesuffix("_id") if attname in ("owner_id", "team_id", "parent_id", "reports_to_id") else attname


def column(model: type[Any], attname: str) -> str:
    return next(f.column for f in model._meta.concrete_fields if f.attname == attname)


def assign_row(rules: Assigner, table: TableRows, values: dict[str, Any], tags: list[str] | None) -> None:
    """The owner and team of a new account from the assignment rules (the row named no owner)."""
    chosen = rules.choose(with_tags(SimpleNamespace(**(table.defaults | values)), tags))
    if chosen is not None:
        values["owner_id"], values["team_id"] = chosen.owner_id, chosen.team_id
