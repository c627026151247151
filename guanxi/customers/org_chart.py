"""The people at an account as a tree (组织架构 / 决策链): who reports to whom, each person's part
in the buying decision (``Contact.decision_role``) and where they stand (``Contact.stance``).

One query reads the account's people the reader may see (through ``restrict``) with their manager's
id; the tree is put in order here. A person whose manager is not among them (at another company,
hidden from the reader, or none) starts a branch at the top. Among people with one manager, who
decides comes first (the order ``DecisionRole`` declares), then the primary contacts, then by name.

The account's page draws its contacts panel in this order, indented; ``GET
/api/v1/accounts/{id}/org-chart`` returns it nested.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q

from guanxi.core.choices import Action
from guanxi.core.permissions import hidden_fields, restricted, visible_ref
from guanxi.customers.choices import DecisionRole
from guanxi.customers.models import Account, AccountContact, Contact

#: An account with this many people or more charts only those a salesperson has mapped (with a
#: manager, a decision role or a stance) and their managers: 3,390 people are no chart to read.
CHART_LIMIT = 500

_ROLE_RANK = {value: rank for rank, value in enumerate(DecisionRole.values)}


@dataclass
class OrgNode:
    """One person in the chart: their contact id, depth (0 at the top) and direct reports."""

    pk: int
    depth: int
    reports: list[OrgNode] = field(default_factory=list)


@dataclass
class OrgChart:
    nodes: list[OrgNode]  # every person, depth first: the order a list draws them in
    roots: list[OrgNode]
    people: dict[int, dict[str, Any]]  # what was read of each, by contact id
    mapped_only: bool = False  # a large account: only the mapped people and their managers

    def as_json(self) -> list[dict[str, Any]]:
        """The tree nested: each person with their ``reports`` (the API's answer)."""

        def person(node: OrgNode) -> dict[str, Any]:
            row = self.people[node.pk]
            return {
                "id": node.pk,
                "name": row["name"],
                "title": row["title"],
                "role": row["link_role"],
                "is_primary": row["is_primary"],
                "decision_role": row["role"],
                "stance": row["stance"],
                "reports_to": row["manager"],
                "reports": [person(r) for r in node.reports],
            }

        return [person(root) for root in self.roots]


def _sort_key(row: dict[str, Any]) -> tuple[int, int, str, int]:
    return (_ROLE_RANK.get(row["role"], len(_ROLE_RANK)), 0 if row["is_primary"] else 1, row["name"], row["pk"])


def arrange(rows: list[dict[str, Any]]) -> OrgChart:
    """Put people (``pk``, ``manager``, ``role``, ``is_primary``, ``name``) in chart order.

    A loop in the data (which the services refuse) cannot hang this: each person is placed once, and
    people left over start branches at the top.
    """
    by_pk = {row["pk"]: row for row in rows}
    reports: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        manager = row["manager"]
        if manager is not None and manager in by_pk and manager != row["pk"]:
            reports.setdefault(manager, []).append(row)
    tops = [row for row in rows if row["manager"] not in by_pk or row["manager"] == row["pk"]]
    nodes: list[OrgNode] = []
    roots: list[OrgNode] = []
    placed: set[int] = set()

    def place(row: dict[str, Any], depth: int, parent: OrgNode | None) -> None:
        # Iterative, depth first: a reporting line may be long, Python's recursion is not.
        stack = [(row, depth, parent)]
        while stack:
            current, level, above = stack.pop()
            if current["pk"] in placed:
                continue
            placed.add(current["pk"])
            node = OrgNode(current["pk"], level)
            nodes.append(node)
            (above.reports if above is not None else roots).append(node)
            below = sorted(reports.get(current["pk"], ()), key=_sort_key)
            stack.extend((r, level + 1, node) for r in reversed(below))

    for row in sorted(tops, key=_sort_key):
        place(row, 0, None)
    for row in sorted(rows, key=_sort_key):  # people in a loop: none of them was at the top
        if row["pk"] not in placed:
            place(row, 0, None)
    return OrgChart(nodes, roots, by_pk)


def org_chart(account: Account, user: Any) -> OrgChart:
    """The chart of the people at ``account`` whom ``user`` may see (see the module's docstring)."""
    hidden = hidden_fields(user, Contact)
    visible = restricted(Contact, user, Action.VIEW)
    links = AccountContact.objects.filter(visible_ref("contact_id", visible), account=account)
    mapped_only = AccountContact.objects.filter(account=account).order_by()[:CHART_LIMIT].count() >= CHART_LIMIT
    if mapped_only:
        mapped = Q(contact__reports_to__isnull=False) | ~Q(contact__decision_role="") | ~Q(contact__stance="")
        links = links.filter(mapped)
    columns = (
        *("contact_id", "contact__reports_to_id", "contact__decision_role", "is_primary", "contact__display_name"),
        *("contact__title", "contact__stance", "role"),
    )

    def person(values: tuple[Any, ...]) -> dict[str, Any]:
        pk, manager, role, is_primary, name, title, stance, link_role = values
        # What the reader's role hides does not shape what they see.
        return {
            "pk": pk,
            "manager": None if "reports_to" in hidden else manager,
            "role": "" if "decision_role" in hidden else role,
            "is_primary": is_primary,
            "name": name,
            "title": "" if "title" in hidden else title,
            "stance": "" if "stance" in hidden else stance,
            "link_role": link_role,
        }

    rows = [person(values) for values in links.order_by().values_list(*columns)[:CHART_LIMIT]]
    if mapped_only:
        # The managers of the mapped people who work here too, so the lines join up.
        missing = {row["manager"] for row in rows} - {row["pk"] for row in rows} - {None}
        if missing:
            extra = AccountContact.objects.filter(
                visible_ref("contact_id", visible), account=account, contact_id__in=missing
            ).values_list(*columns)
            rows += [person(values) for values in extra]
    chart = arrange(rows)
    chart.mapped_only = mapped_only
    return chart
