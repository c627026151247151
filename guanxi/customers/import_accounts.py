"""The account import's writer, ``AccountWriter``: companies in bulk, with their parent account and
their relations with other companies, and the contacts that go along when an update gives an
account a new owner (``_contacts_follow``, as ``account_update`` does).

Decisions:

* An account's parent ("上级客户", or its external ID) is a visible account that exists before the
  row's batch (an earlier row of the file included), or another row of the same batch (a batch is
  written at once, so there a parent may also come below). A parent named nowhere, the row itself,
  a loop, or a group deeper than ``MAX_HIERARCHY_DEPTH`` refuses the row, as the account form would.
* An account's relations with other companies ("关联企业", or by external ID "关联企业编号":
  ``供货给:华信科技; 合作伙伴:明凯佳``) are found like its parent, among the accounts the user may see
  and the batch's new ones, and added through ``relation_add`` once the batch is written
  (``import_relations``); one there already is left alone, and a bad item refuses the row.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.core.choices import Action, ChangeAction
from guanxi.core.imports.bulk import ChangeLogRows, TableRows, allocate_ids, update_rows
from guanxi.core.imports.specs import BatchResult, PrepareContext, Prepared
from guanxi.core.permissions import restrict_queryset, restricted
from guanxi.core.search.customers import account_document
from guanxi.core.search.registry import Columns
from guanxi.customers.assignment import Assigner
from guanxi.customers.duplicates import account_dup_key
from guanxi.customers.hierarchy import ancestor_chains
from guanxi.customers.import_fields import RELATION_IDS_LABEL
from guanxi.customers.import_relations import Relations
from guanxi.customers.import_rows import custom_changes
from guanxi.customers.import_writers import (
    JSON_COLUMNS,
    Writer,
    assign_row,
    chunks,
    clear_blanks,
    column,
    custom_after,
    field_changes,
    field_name,
    merge_into,
    new_tags,
    tagged,
)
from guanxi.customers.models import Account, Contact
from guanxi.customers.normalize import website_domain
from guanxi.customers.services.common import MAX_HIERARCHY_DEPTH

_ACCOUNT_COLUMNS = (
    "name", "legal_name", "registration_number", "industry", "size", "employee_count", "annual_revenue",
    "currency", "website", "region", "country", "province", "city", "district", "street", "postal_code",
    "lifecycle_stage", "source", "description", "external_id", "parent_id",
)  # fmt: skip


def _parent_ref(values: dict[str, Any]) -> tuple[str, str] | None:
    """How a row names its parent account: by external ID when it gives one, else by name."""
    if values.get("parent_external_id"):
        return ("external_id", values["parent_external_id"])
    if values.get("parent"):
        return ("name", values["parent"])
    return None


class AccountWriter(Writer):
    model = Account
    guard_keys = {"registration_number": ("registration_number",), "name": ("name",)}
    columns = _ACCOUNT_COLUMNS

    def __init__(self, user: Any, policy: str, ctx: PrepareContext, job: Any = None):
        super().__init__(user, policy, ctx, job)
        # Per batch: the accounts above each parent found in the database, and the ids of the
        # batch's new accounts by their keys (a parent named by another row of the batch).
        self.chains: dict[int, list[int]] = {}
        self.new_ids: dict[tuple[str, str], int] = {}
        self.new_by_line: dict[int, int] = {}  # the batch's new accounts by line, for their relations
        self.relations = Relations(user, ctx.columns, RELATION_IDS_LABEL)

    def write(self, rows: list[Prepared]) -> BatchResult:
        # Every row of the batch, the bad ones too: a company named by a row that is refused reads
        # "its row could not be imported", not "not found".
        self.relations.start(rows, self.match_keys)
        return super().write(rows)

    def _refuse_parent(self, result: BatchResult, row: Prepared, reason: str) -> None:
        ref = _parent_ref(row.values)
        assert ref is not None
        self._refuse(result, row, "parent_external_id" if ref[0] == "external_id" else "parent", ref[1], reason)

    def before_write(self, rows: list[Prepared], result: BatchResult) -> list[Prepared]:
        """Find each row's parent among the accounts the user may see, or else among the batch's rows."""
        self.chains, self.new_ids, self.new_by_line = {}, {}, {}
        refs = {ref for row in rows if (ref := _parent_ref(row.values))}
        if not refs:
            return rows
        visible = restricted(Account, self.user, Action.VIEW)
        found: dict[tuple[str, str], int] = {}
        for kind in ("external_id", "name"):
            for chunk in chunks(sorted(key for k, key in refs if k == kind)):
                # The oldest of two accounts with one name, as a contact's company is found.
                for key, pk in visible.filter(**{f"{kind}__in": chunk}).order_by("-id").values_list(kind, "pk"):
                    found[(kind, key)] = pk
        self.chains = ancestor_chains(found.values())
        in_batch = {key for row in rows for key in self.match_keys(row.values)}
        kept = []
        for row in rows:
            ref = _parent_ref(row.values)
            if ref is None:
                kept.append(row)
            elif ref in self.match_keys(row.values):
                self._refuse_parent(result, row, _("An account cannot be its own parent."))
            elif ref in found:
                row.values["parent_id"] = found[ref]
                kept.append(row)
            elif ref in in_batch:
                row.values["parent_ref"] = ref  # its id comes when that row's account is created
                kept.append(row)
            else:
                self._refuse_parent(
                    result,
                    row,
                    _(
                        "No account you may see has this name or external ID: import the parent first, "
                        "or put it above its subsidiaries in the file."
                    ),
                )
        return kept

    def after_match(
        self, creates: list[Prepared], updates: dict[int, list[Prepared]], result: BatchResult
    ) -> tuple[list[Prepared], dict[int, list[Prepared]]]:
        """Refuse rows whose parent cannot be set, or whose related companies are not found
        (``import_relations``). A row refused for either can take away another row's parent or
        related company: repeat until no more are refused."""
        creates, updates = self._with_parents(creates, updates, result)
        if not self.relations.used:
            return creates, updates

        def refuse(row: Prepared, field: str, value: str, reason: str) -> None:
            self._refuse(result, row, field, value, reason)

        self.relations.find([*creates, *(row for group in updates.values() for row in group)])
        while True:
            creates, updates, refused = self.relations.check(creates, updates, self.match_keys, refuse)
            if not refused:
                return creates, updates
            creates, updates = self._with_parents(creates, updates, result)

    def _with_parents(
        self, creates: list[Prepared], updates: dict[int, list[Prepared]], result: BatchResult
    ) -> tuple[list[Prepared], dict[int, list[Prepared]]]:
        """Refuse rows whose parent would make a loop or a group deeper than ``MAX_HIERARCHY_DEPTH``.

        A parent in the batch is followed up through the batch's new accounts to one in the database
        (its ``chains``). Refusing a row can leave another row's parent uncreated: repeat until none."""
        rows = [(None, row) for row in creates] + [(pk, row) for pk, group in updates.items() for row in group]
        if not any("parent_id" in row.values or "parent_ref" in row.values for _pk, row in rows):
            return creates, updates
        refused: set[int] = set()  # lines
        while True:
            new = [row for pk, row in rows if pk is None and row.line not in refused]
            index = {key: row for row in new for key in self.match_keys(row.values)}
            newly = 0
            for pk, row in rows:
                if row.line in refused or not ("parent_id" in row.values or "parent_ref" in row.values):
                    continue
                reason = self._parent_problem(pk, row, index)
                if reason:
                    self._refuse_parent(result, row, reason)
                    refused.add(row.line)
                    newly += 1
            if not newly:
                break
        kept_creates = [row for row in creates if row.line not in refused]
        kept_updates = {pk: [r for r in group if r.line not in refused] for pk, group in updates.items()}
        return kept_creates, {pk: group for pk, group in kept_updates.items() if group}

    def _parent_problem(self, pk: int | None, row: Prepared, new: dict[tuple[str, str], Prepared]) -> str:
        """Why this row's parent cannot be set, or "". ``pk``: the account the row updates, if any."""
        seen = {row.line}
        depth, current = 0, row  # depth: the batch's new accounts above this row
        while "parent_ref" in current.values:
            above = new.get(current.values["parent_ref"])
            if above is None:
                return _("The parent account's own row could not be imported.")
            if above.line in seen:
                return _("This parent is already below this account; that would make a loop.")
            seen.add(above.line)
            depth, current = depth + 1, above
        chain = self.chains.get(current.values.get("parent_id") or 0, [])
        if pk is not None and pk in chain:
            return _("This parent is already below this account; that would make a loop.")
        if depth + len(chain) > MAX_HIERARCHY_DEPTH:
            return _("Account groups are at most %(depth)s levels deep.") % {"depth": MAX_HIERARCHY_DEPTH}
        return ""

    def match_keys(self, values: dict[str, Any]) -> list[tuple[str, str]]:
        keys = [("id", str(values["id"]))] if "id" in values else []
        if values.get("external_id"):
            keys.append(("external_id", values["external_id"]))
        # One company's registration number is that company, whatever the row calls it.
        if values.get("registration_number"):
            keys.append(("registration_number", values["registration_number"]))
        if values.get("name"):
            keys.append(("name", values["name"]))
        return keys

    def lookup(self, kind: str, keys: list[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        for chunk in chunks(keys):
            rows = Account.all_objects.filter(deleted_at__isnull=True, **{f"{kind}__in": chunk})
            if kind == "external_id":
                rows = rows.exclude(external_id="")
            for key, pk in rows.order_by("-id").values_list(kind, "pk"):
                out[key] = pk
        return out

    def create(self, rows: list[Prepared], result: BatchResult, now: Any, log: ChangeLogRows) -> None:
        table = TableRows(Account, now)
        pks = allocate_ids(Account, len(rows))
        self.new_ids = {key: pk for pk, row in zip(pks, rows, strict=True) for key in self.match_keys(row.values)}
        self.new_by_line = {row.line: pk for pk, row in zip(pks, rows, strict=True)}
        records = []
        documents: dict[int, Columns] = {}
        tags: dict[int, list[str]] = {}
        rules = Assigner() if any("owner_id" not in row.values for row in rows) else None
        for pk, row in zip(pks, rows, strict=True):
            if "parent_ref" in row.values:
                row.values["parent_id"] = self.new_ids[row.values["parent_ref"]]
            values = self.base_values(row, table, pk)
            if rules and "owner_id" not in row.values:
                assign_row(rules, table, values, row.values.get("tags"))
            # The blocking key and the website's host now, so the import's closing statistics know them
            # (duplicate detection reads both by their indexes).
            keys = {
                "dup_key": account_dup_key(values.get("name") or ""),
                "domain": website_domain(values.get("website") or ""),
            }
            records.append(table.row({**values, **keys}))
            documents[pk] = account_document(
                values["name"],
                values.get("legal_name", ""),
                values.get("website", ""),
                values.get("registration_number", ""),
            ).columns()
            changes = {
                field_name(k): [None, v]
                for k, v in values.items()
                if k not in ("id", "created_by_id", "team_id", "custom_fields") and v not in (None, "")
            }
            changes.update(custom_changes({}, row.values.get("custom_fields") or {}))
            if row.values.get("tags"):
                tags[pk] = row.values["tags"]
                changes["tags"] = [None, sorted(row.values["tags"])]
            log.add(Account, pk, values["name"], ChangeAction.CREATE, changes)
        table.insert(records)
        if rules:
            rules.save()
        self.tags.link(Account, tags, existing=False)
        result.created += len(rows)
        result.touch(Account, pks)
        result.documents.setdefault(Account, {}).update(documents)

    def update(self, merged: dict[int, list[Prepared]], result: BatchResult, now: Any, log: ChangeLogRows) -> None:
        allowed = self.changeable(list(merged))
        table = TableRows(Account, now)
        for rows in merged.values():
            for row in rows:
                if "parent_ref" in row.values:  # a parent created by this batch (``create`` ran first)
                    row.values["parent_id"] = self.new_ids[row.values["parent_ref"]]
        attnames = [*self.columns, "owner_id", "team_id", "custom_fields"]
        current = {}
        for chunk in chunks([pk for pk in merged if pk in allowed]):
            for row in Account.all_objects.filter(pk__in=chunk).values("id", "version", *attnames):
                row["annual_revenue"] = str(row["annual_revenue"])
                current[row["id"]] = row
        updates = []
        tags: dict[int, list[str]] = {}
        untag: dict[int, list[str]] = {}  # scoped tags a file's tag replaces
        had_tags = self.tags.names_on(Account, tagged(merged))
        handed: dict[int, tuple[Any, Any, Any]] = {}  # account -> (previous owner, new owner, new team)
        for pk, rows in merged.items():
            if pk not in allowed:
                for row in rows:
                    self._refuse(result, row, "", "", _("This row matches an account you may not change."))
                continue
            before = current[pk]
            wanted: dict[str, Any] = {}
            for row in rows:
                merge_into(wanted, row.values)
            after = {**before, **{n: wanted[n] for n in attnames if wanted.get(n) not in (None, "")}}
            after["custom_fields"] = custom_after(before["custom_fields"], wanted)
            clear_blanks(Account, after, wanted, attnames)
            changes = field_changes(before, after, attnames)
            added, removed = new_tags(wanted, had_tags.get(pk, ()), changes)
            if added:
                tags[pk] = added
            if removed:
                untag[pk] = removed
            if not changes:
                result.skipped += len(rows)
                continue
            if changes:
                values = [table.prep(n, after[n]) if n in JSON_COLUMNS else after[n] for n in attnames]
                updates.append((*values, before["version"] + 1, table.now_db, pk))
                log.add(Account, pk, after["name"], ChangeAction.UPDATE, changes)
                if before["owner_id"] != after["owner_id"]:
                    handed[pk] = (before["owner_id"], after["owner_id"], after["team_id"])
            result.updated += len(rows)
            result.touch(Account, [pk])
        update_rows(Account, [*(column(Account, n) for n in attnames), "version", "updated_at"], updates)
        self.tags.link(Account, tags, existing=True)
        self.tags.unlink(Account, untag)
        self._contacts_follow(handed, table.now_db, log)
        if handed:
            # As ``account_update``: a new owner starts the pool rules' count of days again, and an
            # account in the customer pool that the file gives an owner leaves the pool.
            for chunk in chunks(list(handed)):
                Account.all_objects.filter(pk__in=chunk).update(owner_since=timezone.now(), pool_due_at=None)
                Account.all_objects.filter(pk__in=chunk, owner__isnull=False, pooled_at__isnull=False).update(
                    pooled_at=None, pool_reason=""
                )

    def after_write(self, result: BatchResult) -> None:
        """The rows' relations with other companies, once their accounts are written."""
        if self.relations.pending:
            self.relations.add(
                self.new_by_line,
                result,
                lambda row, field, value, reason: self._refuse(result, row, field, value, reason),
            )

    def _contacts_follow(self, handed: dict[int, tuple[Any, Any, Any]], now_db: Any, log: ChangeLogRows) -> None:
        """What ``account_update`` does, in bulk: the contacts whose primary account changed hands and
        whom its previous owner held go to the new owner and team, as far as the user may assign them.
        ``handed``: account id -> (previous owner, new owner, new team)."""
        if not handed:
            return
        held = restrict_queryset(restricted(Contact, self.user, Action.CHANGE), self.user, Action.ASSIGN)
        updates = []
        for chunk in chunks(list(handed)):
            found = held.filter(account_links__account_id__in=chunk, account_links__is_primary=True).values_list(
                "pk", "account_links__account_id", "owner_id", "team_id", "version", "display_name"
            )
            for pk, account_id, owner_id, team_id, version, name in found:
                previous, owner, team = handed[account_id]
                if owner_id != previous:
                    continue
                updates.append((owner, team, version + 1, now_db, pk))
                changes = {"owner": [owner_id, owner]} | ({"team": [team_id, team]} if team_id != team else {})
                log.add(Contact, pk, name, ChangeAction.UPDATE, changes)
        update_rows(
            Contact, [column(Contact, "owner_id"), column(Contact, "team_id"), "version", "updated_at"], updates
        )
