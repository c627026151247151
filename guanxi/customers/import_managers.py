"""An import's 直属上级 column: whom each person of a contact import reports to (the decision chain).

A row names its manager by email, by external ID, or by name; a name is looked for among the
people of the row's company (the row's own company column, or for a person already in Guanxi the
companies they are linked to), where two people with that name make the row ask for an email or
an external ID instead. The manager is a person the importing user may see, who exists before the
row's batch (an earlier row of the file included), or another row of the same batch (a batch is
written at once, so there a manager may also come below), as an account's parent is found.

A row is refused, as the contact form would refuse it, when the manager is found nowhere, is the
person themselves, is already below them (a loop, through the batch's other rows too), or would
make a reporting line longer than ``MAX_HIERARCHY_DEPTH``; and when the manager's own row is
refused. The rows' ``values`` then carry ``reports_to_id`` (a person in the database) or
``reports_to_line`` (the line of the batch's new person, whose id comes when it is created).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils.translation import gettext as _

from guanxi.core.choices import Action
from guanxi.core.imports.specs import Prepared
from guanxi.core.permissions import masked_fields, restricted
from guanxi.customers.choices import ContactPointKind
from guanxi.customers.models import AccountContact, Contact, ContactPoint
from guanxi.customers.services.common import MAX_HIERARCHY_DEPTH

#: How many keys one ``IN`` list holds.
CHUNK = 2000

#: A person in the database ("pk", id) or a new person of the batch ("line", line).
Node = tuple[str, int]
Ref = tuple[str, Any]  # ("email" | "external_id" | "name", key); a name's key is (account id, name)


def manager_ref(values: dict[str, Any]) -> Ref | None:
    """How a prepared row names its manager: ``("email" | "external_id" | "name", text)``."""
    ref = values.get("manager_ref")
    return (ref[0], ref[1]) if ref else None


def _node(pk: int | None, row: Prepared) -> Node:
    """A row as a person: the one in the database it updates, or the new one it creates."""
    return ("pk", pk) if pk is not None else ("line", row.line)


def _chunks(items: list[Any]) -> list[list[Any]]:
    return [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)]


class Managers:
    """Finds the managers of one batch's rows; ``account_of`` gives a row's company id (or None)."""

    def __init__(self, user: Any, account_of: Callable[[dict[str, Any]], int | None]):
        self.user = user
        self.account_of = account_of
        self.used = False  # did this batch's rows name managers (the writers then write the column)

    def resolve(
        self,
        creates: list[Prepared],
        updates: dict[int, list[Prepared]],
        refuse: Callable[[Prepared, str], None],
    ) -> tuple[list[Prepared], dict[int, list[Prepared]]]:
        """The rows kept, each with its manager found (``refuse`` is told of the others)."""
        rows: list[tuple[int | None, Prepared]] = [(None, r) for r in creates]
        rows += [(pk, r) for pk, group in updates.items() for r in group]
        named = [(pk, row) for pk, row in rows if manager_ref(row.values)]
        self.used = bool(named)
        if not named:
            return creates, updates
        companies = self._companies(named)
        found = self._in_database(named, companies)
        batch = self._in_batch(creates)
        current = self._current([pk for pk, _row in named if pk is not None])
        refused: set[int] = set()  # lines
        targets: dict[int, Node] = {}  # line -> the manager found
        for pk, row in named:
            kept_as_is = current.get(pk) if pk is not None else None
            if kept_as_is is not None and manager_ref(row.values) == ("name", kept_as_is[1]):
                # An export read back names each person's manager as they are, at whichever company.
                targets[row.line] = ("pk", kept_as_is[0])
                continue
            target, reason = self._target(pk, row, companies, found, batch)
            if target is None:
                refuse(row, reason)
                refused.add(row.line)
            else:
                targets[row.line] = target
        db_managers = self._chains([t[1] for t in targets.values() if t[0] == "pk"])
        # Refusing a row can leave another row's manager uncreated, or end a loop: repeat until none.
        while True:
            kept = [(_node(pk, row), row) for pk, row in named if row.line not in refused]
            new_manager = {node: targets[row.line] for node, row in kept}
            # Each round judges every row against the same rows: both of two rows under each other
            # are told of the loop, whichever comes first.
            problems = [(row, self._problem(node, new_manager, db_managers, refused)) for node, row in kept]
            problems = [(row, reason) for row, reason in problems if reason]
            for row, reason in problems:
                refuse(row, reason)
                refused.add(row.line)
            if not problems:
                break
        for _pk, row in named:
            if row.line in refused:
                continue
            kind, value = targets[row.line]
            row.values["reports_to_id" if kind == "pk" else "reports_to_line"] = value
        kept_creates = [row for row in creates if row.line not in refused]
        kept_updates = {pk: [r for r in group if r.line not in refused] for pk, group in updates.items()}
        return kept_creates, {pk: group for pk, group in kept_updates.items() if group}

    # --- finding them ---------------------------------------------------------------------------------

    def _companies(self, named: list[tuple[int | None, Prepared]]) -> dict[int, set[int]]:
        """Line -> the companies among whose people the row's manager is looked for by name."""
        out: dict[int, set[int]] = {}
        existing: list[int] = []
        for pk, row in named:
            ref = manager_ref(row.values)
            if ref is None or ref[0] != "name":
                continue
            account = self.account_of(row.values)
            if account is not None:
                out[row.line] = {account}
            elif pk is not None:
                existing.append(pk)
        linked: dict[int, set[int]] = {}
        for chunk in _chunks(sorted(set(existing))):
            for contact_id, account_id in AccountContact.objects.filter(contact_id__in=chunk).values_list(
                "contact_id", "account_id"
            ):
                linked.setdefault(contact_id, set()).add(account_id)
        for pk, row in named:
            if pk is not None and row.line not in out and pk in linked:
                out[row.line] = linked[pk]
        return out

    @staticmethod
    def _current(pks: list[int]) -> dict[int, tuple[int, str]]:
        """The managers the people a batch updates have now: ``{pk: (manager id, display name)}``."""
        out: dict[int, tuple[int, str]] = {}
        for chunk in _chunks(sorted(set(pks))):
            rows = Contact.all_objects.filter(pk__in=chunk, reports_to__isnull=False)
            for pk, manager, name in rows.values_list("pk", "reports_to_id", "reports_to__display_name"):
                out[pk] = (manager, name)
        return out

    def _in_database(
        self, named: list[tuple[int | None, Prepared]], companies: dict[int, set[int]]
    ) -> dict[tuple[str, Any], list[int]]:
        """``{(kind, key): [ids]}`` of the people the user may see that the rows name; a name's key
        is ``(account id, name)``. Candidates are read by their index first, then checked against
        ``restrict`` by id (a join with every visible person would read them all)."""
        wanted: dict[str, set[Any]] = {"email": set(), "external_id": set(), "name": set()}
        for _pk, row in named:
            ref = manager_ref(row.values)
            assert ref is not None
            if ref[0] == "name":
                wanted["name"].update((account, ref[1]) for account in companies.get(row.line, ()))
            else:
                wanted[ref[0]].add(ref[1])
        candidates: dict[tuple[str, Any], list[int]] = {}
        live = Contact.objects.all()
        for chunk in _chunks(sorted(wanted["external_id"])):
            for key, pk in live.filter(external_id__in=chunk).exclude(external_id="").values_list("external_id", "pk"):
                candidates.setdefault(("external_id", key), []).append(pk)
        # An email the importer sees masked (号码脱敏) finds only a row of the batch: found or not,
        # a file could test guesses of the hidden part by it.
        by_email = [] if "emails" in masked_fields(self.user, Contact) else sorted(wanted["email"])
        for chunk in _chunks(by_email):
            points = ContactPoint.objects.filter(
                kind=ContactPointKind.EMAIL, value__in=chunk, contact__deleted_at__isnull=True
            )
            for key, pk in points.values_list("value", "contact_id"):
                candidates.setdefault(("email", key), []).append(pk)
        accounts = sorted({account for account, _name in wanted["name"]})
        names = sorted({name for _account, name in wanted["name"]})
        for chunk in _chunks(accounts):
            links = AccountContact.objects.filter(
                account_id__in=chunk, contact__display_name__in=names, contact__deleted_at__isnull=True
            )
            for account, name, pk in links.values_list("account_id", "contact__display_name", "contact_id"):
                if (account, name) in wanted["name"]:
                    candidates.setdefault(("name", (account, name)), []).append(pk)
        ids = sorted({pk for pks in candidates.values() for pk in pks})
        visible: set[int] = set()
        for chunk in _chunks(ids):
            visible.update(
                restricted(Contact, self.user, Action.VIEW).filter(pk__in=chunk).values_list("pk", flat=True)
            )
        return {key: sorted(set(pks) & visible) for key, pks in candidates.items() if set(pks) & visible}

    def _in_batch(self, creates: list[Prepared]) -> dict[tuple[str, Any], list[int]]:
        """The batch's new people (lines) by external ID, email and (company id, display name)."""
        out: dict[tuple[str, Any], list[int]] = {}
        for row in creates:
            values = row.values
            if values.get("external_id"):
                out.setdefault(("external_id", values["external_id"]), []).append(row.line)
            for point in values.get("emails", ()):
                out.setdefault(("email", point["value"]), []).append(row.line)
            account = self.account_of(values)
            if account is not None and values.get("display_name"):
                out.setdefault(("name", (account, values["display_name"])), []).append(row.line)
        return out

    @staticmethod
    def _target(
        pk: int | None,
        row: Prepared,
        companies: dict[int, set[int]],
        found: dict[tuple[str, Any], list[int]],
        batch: dict[tuple[str, Any], list[int]],
    ) -> tuple[Node | None, str]:
        """The manager a row names, or ``(None, why not)``."""
        ref = manager_ref(row.values)
        assert ref is not None  # only rows that name a manager come here
        kind, key = ref
        if kind == "name":
            places = companies.get(row.line)
            if not places:
                return None, _(
                    "A manager named by name is looked for at the person's company: give the company, "
                    "or the manager's email or external ID."
                )
            people = sorted({p for place in places for p in found.get(("name", (place, key)), ())})
            lines = sorted({line for place in places for line in batch.get(("name", (place, key)), ())})
        else:
            people = found.get((kind, key), [])[:1]  # the oldest of two people with one email, as matching does
            lines = [] if people else batch.get((kind, key), [])[:1]
        matches: list[Node] = [("pk", p) for p in people] + [("line", line) for line in lines]
        me = _node(pk, row)
        others = [m for m in matches if m != me]
        if not others:
            if matches:
                return None, _("A person cannot report to themselves.")
            return None, _(
                "No person you may see has this name, email or external ID: import the manager first, "
                "or put them above their reports in the file."
            )
        if len(others) > 1:
            return None, _(
                "More than one person at this company has this name: give the manager's email or external ID."
            )
        return others[0], ""

    # --- loops and depth ------------------------------------------------------------------------------

    @staticmethod
    def _chains(pks: list[int]) -> dict[int, int | None]:
        """Each person's manager in the database, for ``pks`` and everyone above them (one query a level)."""
        known: dict[int, int | None] = {}
        frontier = set(pks)
        for _level in range(MAX_HIERARCHY_DEPTH + 2):
            frontier -= set(known)
            if not frontier:
                break
            for chunk in _chunks(sorted(frontier)):
                known.update(Contact.all_objects.filter(pk__in=chunk).values_list("pk", "reports_to_id"))
            frontier = {m for m in known.values() if m is not None}
        return known

    @staticmethod
    def _problem(
        start: Node, new_manager: dict[Node, Node], db_managers: dict[int, int | None], refused: set[int]
    ) -> str:
        """Why ``start``'s new manager cannot be set, or "": walks up through the batch's new managers
        first, then the database's."""
        current: Node | None = new_manager[start]
        depth = 0
        seen = {start}
        while current is not None:
            if current == start:
                return _("This person already reports to them, directly or not; that would make a loop.")
            if current in seen:
                return ""  # a loop above, among other rows: those rows are refused, not this one
            if current[0] == "line" and current[1] in refused:
                return _("The manager's own row could not be imported.")
            seen.add(current)
            depth += 1
            if depth > MAX_HIERARCHY_DEPTH:
                return _("A reporting line is at most %(depth)s people long.") % {"depth": MAX_HIERARCHY_DEPTH}
            if current in new_manager:
                current = new_manager[current]
            elif current[0] == "pk":
                above = db_managers.get(current[1])
                current = ("pk", above) if above is not None else None
            else:
                current = None
        return ""
