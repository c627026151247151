"""The contact import's writer, ``ContactWriter``: people in bulk, with their contact points, their
account links (creating the companies a row names that do not exist yet) and their managers.

Decisions:

* A contact's "company" links it to the visible account of that exact name (or the one with the
  given account external ID). A company name that matches no account creates the account, owned by
  the importing user, if they may add accounts; otherwise the row is refused.
* A contact's manager ("直属上级" by email or by name at the row's company, or "上级编号" by external
  ID) is found the same way, among the people the user may see or the batch's rows
  (``import_managers``); a name at another company is kept when it is the person's manager already
  (an export read back).
"""

from __future__ import annotations

import datetime
import json
from typing import Any, ClassVar

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.core.choices import Action, ChangeAction
from guanxi.core.imports.bulk import ChangeLogRows, TableRows, allocate_ids, may_add, select_pairs, update_rows
from guanxi.core.imports.specs import BatchResult, PrepareContext, Prepared
from guanxi.core.jsontext import dumps
from guanxi.core.names import person_display_name
from guanxi.core.permissions import restricted
from guanxi.core.search.customers import account_document
from guanxi.core.search.registry import Columns
from guanxi.customers.assignment import Assigner
from guanxi.customers.birthdays import refresh_lunar
from guanxi.customers.choices import ContactPointKind
from guanxi.customers.duplicates import account_dup_key
from guanxi.customers.guard import held_accounts
from guanxi.customers.import_managers import Managers
from guanxi.customers.import_rows import CONTACT_COLUMNS, derive_contact
from guanxi.customers.import_writers import (
    JSON_COLUMNS,
    Writer,
    assign_row,
    chunks,
    clear_blanks,
    column,
    custom_after,
    field_changes,
    merge_into,
    new_tags,
    tagged,
)
from guanxi.customers.models import Account, AccountContact, Contact, ContactPoint
from guanxi.customers.normalize import phone_digits_reversed
from guanxi.identity.models import DuplicateGuard

#: Account ids by name or external id an import remembers between batches.
ACCOUNT_CACHE = 20000


class ContactWriter(Writer):
    model = Contact
    guard_keys = {"email": ("email",), "phone": ("mobile", "phone")}
    columns = CONTACT_COLUMNS
    key_fields: ClassVar[dict[str, str]] = {"email": "emails", "phone": "phones"}

    def __init__(self, user: Any, policy: str, ctx: PrepareContext, job: Any = None):
        super().__init__(user, policy, ctx, job)
        self.account_ids: dict[tuple[str, str], int | None] = {}
        self.may_add_accounts = may_add(user, Account)
        self.managers = Managers(user, self._account_of)
        self.new_by_line: dict[int, int] = {}  # the batch's new people by line, for their reports

    def match_keys(self, values: dict[str, Any]) -> list[tuple[str, str]]:
        keys = [("id", str(values["id"]))] if "id" in values else []
        if values.get("external_id"):
            keys.append(("external_id", values["external_id"]))
        keys += [("email", p["value"]) for p in values.get("emails", ())]
        keys += [("phone", p["value"]) for p in values.get("phones", ())]
        return keys

    def lookup(self, kind: str, keys: list[str]) -> dict[str, int]:
        contacts, points = Contact._meta.db_table, ContactPoint._meta.db_table
        out: dict[str, int] = {}
        for chunk in chunks(keys):
            if kind == "external_id":
                # The condition of the partial unique index as written there (SQLite matches the text
                # ``NOT (external_id = '')``, not ``<>``), so that index serves the lookup; otherwise
                # SQLite without statistics walks the ``deleted_at`` index: every live contact.
                # With sampled statistics (``analysis_limit``) SQLite may still judge ``deleted_at IS NULL``
                # the narrower condition for a long IN list: the index is named on SQLite.
                hint = " INDEXED BY contact_external_id_unique" if connection.vendor == "sqlite" else ""
                sql = (
                    f"SELECT external_id, id FROM {contacts}{hint} WHERE deleted_at IS NULL "  # noqa: S608
                    "AND NOT (external_id = '') AND external_id IN ({keys})"
                )
                out.update(select_pairs(sql, [], chunk))
            else:
                sql = (
                    f"SELECT p.value, p.contact_id FROM {points} p JOIN {contacts} c ON c.id = p.contact_id "  # noqa: S608
                    "WHERE p.kind = %s AND p.value IN ({keys}) AND c.deleted_at IS NULL ORDER BY p.contact_id DESC"
                )
                out.update(select_pairs(sql, [kind], chunk))  # the oldest contact wins
        return out

    def refresh(self, values: dict[str, Any]) -> None:
        for name in ("emails", "phones"):
            if name in values:
                values[f"{name}_json"] = dumps(values[name])
        derive_contact(values)

    def before_write(self, rows: list[Prepared], result: BatchResult) -> list[Prepared]:
        """Find (or create) the accounts the rows name; refuse rows whose account cannot be found."""
        if len(self.account_ids) > ACCOUNT_CACHE:
            # Bounded: a file naming 200k companies would otherwise keep them all for the whole
            # import (names already written are found again by the lookup below).
            self.account_ids.clear()
        by_ext = {r.values["account_external_id"] for r in rows if r.values.get("account_external_id")}
        by_number = {
            r.values["account_registration_number"]
            for r in rows
            if r.values.get("account_registration_number") and not r.values.get("account_external_id")
        }
        by_name = {
            r.values["company"] for r in rows if r.values.get("company") and not r.values.get("account_external_id")
        }
        visible = restricted(Account, self.user, Action.VIEW)
        for kind, keys in (("external_id", by_ext), ("registration_number", by_number), ("name", by_name)):
            missing = [k for k in keys if (kind, k) not in self.account_ids]
            for chunk in chunks(missing):
                rows_found = visible.filter(**{f"{kind}__in": chunk}).order_by("-id").values_list(kind, "pk")
                for key, pk in rows_found:
                    self.account_ids[(kind, key)] = pk
        # A company to create that a colleague has already, as the importer's role tells of it (撞单保护).
        held = held_accounts(
            self.guard,
            self.user,
            (name for name in by_name if ("name", name) not in self.account_ids),
            (number for number in by_number if ("registration_number", number) not in self.account_ids),
        )
        kept: list[Prepared] = []
        new_names: dict[str, str] = {}  # name -> the registration number the new account takes
        for row in rows:
            ext = row.values.get("account_external_id")
            number = row.values.get("account_registration_number")
            if ext:
                if self.account_ids.get(("external_id", ext)) is None:
                    self._refuse(result, row, "account_external_id", ext, _("No account with this external ID."))
                    continue
            elif number and self.account_ids.get(("registration_number", number)) is not None:
                pass  # the company, whatever the row calls it
            elif number and not row.values.get("company"):
                self._refuse(
                    result,
                    row,
                    "account_registration_number",
                    number,
                    _("No account you may see has this registration number; give the company's name to create it."),
                )
                continue
            elif row.values.get("company") and ("name", row.values["company"]) not in self.account_ids:
                if not self.may_add_accounts:
                    self._refuse(result, row, "company", row.values["company"], _("No account with this name."))
                    continue
                colleagues = held.get(("name", row.values["company"])) or held.get(
                    ("registration_number", number or "")
                )
                if colleagues is not None and self.guard == DuplicateGuard.REFUSE:
                    self.matched.append((Account, colleagues, True))
                    self._refuse(result, row, "company", row.values["company"], colleagues.message())
                    continue
                if colleagues is not None:
                    self.matched.append((Account, colleagues, False))  # created anyway: one company, once
                self.account_ids[("name", row.values["company"])] = None
                new_names[row.values["company"]] = number or ""
            kept.append(row)
        if new_names:
            self._create_accounts(new_names, result)
        return kept

    def _create_accounts(self, names: dict[str, str], result: BatchResult) -> None:
        """The accounts the rows name that do not exist yet: ``{name: registration number or ""}``."""
        now = timezone.now()
        table = TableRows(Account, now)
        log = ChangeLogRows(self.user, now)
        pks = allocate_ids(Account, len(names))
        rows = []
        documents: dict[int, Columns] = {}
        rules = Assigner()
        for pk, (name, number) in zip(pks, names.items(), strict=True):
            values = {
                "id": pk,
                "name": name,
                "registration_number": number,
                "owner_id": self.user.pk,
                "team_id": getattr(self.user, "team_id", None),
                "created_by_id": self.user.pk,
                "dup_key": account_dup_key(name),
            }
            if rules:
                assign_row(rules, table, values, None)
            rows.append(table.row(values))
            self.account_ids[("name", name)] = pk
            if number:
                self.account_ids[("registration_number", number)] = pk
            documents[pk] = account_document(name, registration_number=number).columns()
            changes = {"name": [None, name], "owner": [None, values["owner_id"]]}
            if number:
                changes["registration_number"] = [None, number]
            log.add(Account, pk, name, ChangeAction.CREATE, changes)
        table.insert(rows)
        if rules:
            rules.save()
        log.flush()
        result.touch(Account, pks)
        result.documents.setdefault(Account, {}).update(documents)

    def after_match(
        self, creates: list[Prepared], updates: dict[int, list[Prepared]], result: BatchResult
    ) -> tuple[list[Prepared], dict[int, list[Prepared]]]:
        """Each row's 直属上级 (``import_managers``): found, or the row refused."""
        if "manager" not in self.ctx.columns and "manager_external_id" not in self.ctx.columns:
            return creates, updates  # a file without the columns (the bench's million rows) pays nothing

        def refuse(row: Prepared, reason: str) -> None:
            kind, key = row.values["manager_ref"]
            self._refuse(result, row, "manager_external_id" if kind == "external_id" else "manager", key, reason)

        return self.managers.resolve(creates, updates, refuse)

    def _with_managers(self, pks: list[int], rows: list[Prepared]) -> None:
        """The new people's managers as ids (one of this batch's new people has one only now), each
        in its change log."""
        self.new_by_line = {row.line: pk for pk, row in zip(pks, rows, strict=True)}
        for row in rows:
            values = row.values
            if "reports_to_line" in values:
                values["reports_to_id"] = self.new_by_line[values.pop("reports_to_line")]
            if "reports_to_id" in values:
                changes = json.loads(values["changes_json"])
                changes["reports_to"] = [None, values["reports_to_id"]]
                values["changes_json"] = dumps(changes)

    def _account_of(self, values: dict[str, Any]) -> int | None:
        if values.get("account_external_id"):
            return self.account_ids.get(("external_id", values["account_external_id"]))
        number = values.get("account_registration_number")
        if number and self.account_ids.get(("registration_number", number)) is not None:
            return self.account_ids[("registration_number", number)]
        if values.get("company"):
            return self.account_ids.get(("name", values["company"]))
        return None

    def create(self, rows: list[Prepared], result: BatchResult, now: Any, log: ChangeLogRows) -> None:
        table = TableRows(Contact, now)
        pks = allocate_ids(Contact, len(rows))
        link_table = TableRows(AccountContact, now, with_pk=False)
        point_table = TableRows(ContactPoint, now, with_pk=False)
        # Rows are filled by position from templates of defaults: this loop runs a million times.
        template = table.template()
        template[table.index("created_by_id")] = self.user.pk
        i_id, i_owner, i_team, i_dup = (table.index(n) for n in ("id", "owner_id", "team_id", "dup_key"))
        positions = [(name, table.index(name)) for name in self.columns if name not in ("emails", "phones")]
        if self.managers.used:  # only then: the loop below runs a million times
            self._with_managers(pks, rows)
            positions.append(("reports_to_id", table.index("reports_to_id")))
        i_emails, i_phones, i_custom = table.index("emails"), table.index("phones"), table.index("custom_fields")
        point_template = point_table.template()
        p_contact, p_kind, p_value, p_ext, p_label, p_primary, p_position, p_digits = (
            point_table.index(n)
            for n in ("contact_id", "kind", "value", "extension", "label", "is_primary", "position", "digits_reversed")
        )
        default_team = getattr(self.user, "team_id", None)
        records, points, links = [], [], []
        documents: dict[int, Columns] = {}
        seen_points: set[tuple[int, str, str]] = set()
        tags: dict[int, list[str]] = {}
        for pk, row in zip(pks, rows, strict=True):
            values = row.values
            record = template.copy()
            record[i_id] = pk
            owner = values.get("owner_id", self.user.pk)
            record[i_owner] = owner
            record[i_team] = values.get("team_id") if "owner_id" in values else default_team
            for name, index in positions:
                if name in values:
                    record[index] = values[name]
            if "emails_json" in values:
                record[i_emails] = values["emails_json"]
            if "phones_json" in values:
                record[i_phones] = values["phones_json"]
            if "custom_fields" in values:
                record[i_custom] = dumps(values["custom_fields"])
            # The blocking key the duplicate check would store: no UPDATE later.
            record[i_dup] = values["dup_key"]
            records.append(record)
            documents[pk] = values["search_columns"]
            extra = f'"owner": [null, {owner}]'
            for kind, name in ((ContactPointKind.EMAIL, "emails"), (ContactPointKind.PHONE, "phones")):
                for position, p in enumerate(values.get(name, ())):
                    key = (pk, kind, p["value"])
                    if key in seen_points:  # one lookup row per value (extensions may differ)
                        continue
                    seen_points.add(key)
                    point = point_template.copy()
                    point[p_contact], point[p_kind], point[p_value] = pk, kind, p["value"]
                    point[p_label], point[p_primary], point[p_position] = p["label"], p["is_primary"], position
                    if kind == ContactPointKind.PHONE:
                        point[p_ext], point[p_digits] = p["extension"], _digits_reversed(p["value"])
                    points.append(point)
            account_id = self._account_of(values)
            if account_id is not None:
                links.append(
                    link_table.row({"account_id": account_id, "contact_id": pk, "role": "", "is_primary": True})
                )
                extra += f', "accounts": [null, [{{"account": {account_id}, "role": "", "is_primary": true}}]]'
            if values.get("tags"):
                tags[pk] = values["tags"]
                extra += ', "tags": [null, ' + dumps(sorted(values["tags"])) + "]"
            head = values["changes_json"]
            changes = "{" + extra + "}" if head == "{}" else head[:-1] + ", " + extra + "}"
            log.add(Contact, pk, values.get("display_name", ""), ChangeAction.CREATE, changes)
        table.insert(records)
        # Those who keep a lunar birthday (few): its month and day, grouped into an update per day.
        for chunk in chunks([pk for pk, row in zip(pks, rows, strict=True) if row.values.get("birthday_lunar")]):
            refresh_lunar(chunk)
        point_table.insert(points)
        link_table.insert(links)
        self.tags.link(Contact, tags, existing=False)
        result.created += len(rows)
        result.touch(Contact, pks)
        result.documents.setdefault(Contact, {}).update(documents)

    def update(self, merged: dict[int, list[Prepared]], result: BatchResult, now: Any, log: ChangeLogRows) -> None:
        allowed = self.changeable(list(merged))
        table = TableRows(Contact, now)
        attnames = [*self.columns, "owner_id", "team_id", "custom_fields"]
        if self.managers.used:
            attnames.append("reports_to_id")
            for row in (r for rows in merged.values() for r in rows):
                if "reports_to_line" in row.values:  # a new person of this batch (``create`` ran first)
                    row.values["reports_to_id"] = self.new_by_line[row.values.pop("reports_to_line")]
        current = {}
        for chunk in chunks([pk for pk in merged if pk in allowed]):
            for row in Contact.all_objects.filter(pk__in=chunk).values("id", "version", *attnames):
                current[row["id"]] = row
        updates, point_rows, links, rewrite = [], [], [], []
        born: list[int] = []  # whose birthday changed: a lunar one's month and day follow
        tags: dict[int, list[str]] = {}
        untag: dict[int, list[str]] = {}  # scoped tags a file's tag replaces
        had_tags = self.tags.names_on(Contact, tagged(merged))
        link_table = TableRows(AccountContact, now, with_pk=False)
        point_table = TableRows(ContactPoint, now, with_pk=False)
        have_links = set()
        account_pks = {self._account_of(r.values) for rows in merged.values() for r in rows} - {None}
        primary = set()
        if account_pks:
            for linked_account, contact_id, is_primary in AccountContact.objects.filter(
                contact_id__in=list(current)
            ).values_list("account_id", "contact_id", "is_primary"):
                have_links.add((linked_account, contact_id))
                if is_primary:
                    primary.add(contact_id)
        for pk, rows in merged.items():
            if pk not in allowed:
                for row in rows:
                    self._refuse(result, row, "", "", _("This row matches a contact you may not change."))
                continue
            before = current[pk]
            after = dict(before)
            wanted: dict[str, Any] = {}
            for row in rows:
                merge_into(wanted, row.values)
            for name in attnames:
                if name in ("emails", "phones"):
                    if wanted.get(name):
                        have = {p["value"] for p in before[name] or []}
                        extra = [{**p, "is_primary": False} for p in wanted[name] if p["value"] not in have]
                        if extra:
                            after[name] = [*(before[name] or []), *extra]
                            if not any(p.get("is_primary") for p in after[name]):
                                after[name][0]["is_primary"] = True
                elif name == "custom_fields":
                    after[name] = custom_after(before[name], wanted)
                elif wanted.get(name) not in (None, ""):
                    after[name] = wanted[name]
            clear_blanks(Contact, after, wanted, attnames)
            if "birthday" in after and isinstance(after["birthday"], datetime.date):
                after["birthday"] = after["birthday"].isoformat()
            if isinstance(before.get("birthday"), datetime.date):
                before = {**before, "birthday": before["birthday"].isoformat()}
            if "family_name" in wanted or "given_name" in wanted:
                after["display_name"] = person_display_name(after["family_name"], after["given_name"])
            changes = field_changes(before, after, attnames)
            account_id = self._account_of(wanted)
            if account_id is not None and (account_id, pk) not in have_links:
                is_primary = pk not in primary
                links.append(
                    link_table.row({"account_id": account_id, "contact_id": pk, "role": "", "is_primary": is_primary})
                )
                changes["accounts"] = [None, [{"account": account_id, "role": "", "is_primary": is_primary}]]
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
                if "birthday" in changes or "birthday_lunar" in changes:
                    born.append(pk)
                if "emails" in changes or "phones" in changes:
                    rewrite.append(pk)
                    for kind, name in ((ContactPointKind.EMAIL, "emails"), (ContactPointKind.PHONE, "phones")):
                        for position, p in enumerate(after[name] or []):
                            point_rows.append(
                                point_table.row(
                                    {
                                        "contact_id": pk,
                                        "kind": kind,
                                        "value": p["value"],
                                        "extension": p.get("extension", ""),
                                        "label": p.get("label", ""),
                                        "is_primary": p.get("is_primary", False),
                                        "position": position,
                                        "digits_reversed": phone_digits_reversed(p["value"])
                                        if kind == ContactPointKind.PHONE
                                        else "",
                                    }
                                )
                            )
                log.add(Contact, pk, after["display_name"], ChangeAction.UPDATE, changes)
            result.updated += len(rows)
            result.touch(Contact, [pk])
        update_rows(Contact, [*(column(Contact, n) for n in attnames), "version", "updated_at"], updates)
        for chunk in chunks(born):
            refresh_lunar(chunk)
        for chunk in chunks(rewrite):
            ContactPoint.objects.filter(contact_id__in=chunk).delete()
        point_table.insert(_unique_points(point_rows, point_table))
        link_table.insert(links)
        self.tags.link(Contact, tags, existing=True)
        self.tags.unlink(Contact, untag)


def _digits_reversed(e164: str) -> str:
    """``phone_digits_reversed`` for the E.164 numbers ``normalize_phone`` returns, by slicing."""
    return e164[:0:-1] if e164.startswith("+") and e164[1:].isdigit() else phone_digits_reversed(e164)


def _unique_points(rows: list[tuple[Any, ...]], table: TableRows) -> list[tuple[Any, ...]]:
    """One lookup row per (contact, kind, value), as ``_sync_points`` keeps (extensions may differ)."""
    i_contact, i_kind, i_value = (table.attnames.index(n) for n in ("contact_id", "kind", "value"))
    seen: set[tuple[Any, Any, Any]] = set()
    out = []
    for row in rows:
        key = (row[i_contact], row[i_kind], row[i_value])
        if key not in seen:
            seen.add(key)
            out.append(row)
    return out
