"""Reads about the organisation that permission checks need; cached on the user object per request."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Q


def _below(pairs: Iterable[tuple[int, int | None]], roots: Iterable[int]) -> list[int]:
    """Every node below ``roots`` in a tree given as (id, parent id) pairs, the roots left out."""
    children: dict[int | None, list[int]] = {}
    for pk, parent_id in pairs:
        children.setdefault(parent_id, []).append(pk)
    seen = set(roots)
    found: list[int] = []
    stack = [child for root in seen for child in children.get(root, [])]
    while stack:
        pk = stack.pop()
        if pk in seen:
            continue  # a cycle would be a data error; never loop on it
        seen.add(pk)
        found.append(pk)
        stack.extend(children.get(pk, []))
    return found


def role_descendant_ids(role_id: int | None) -> list[int]:
    """Every role below ``role_id`` in the hierarchy (not the role itself)."""
    if role_id is None:
        return []
    from guanxi.identity.models import Role

    return _below(Role.objects.values_list("pk", "parent_id"), [role_id])


def _team_tree(user: Any) -> list[tuple[int, int | None, int | None]]:
    """Every live team as (id, parent id, manager id): one small read per request."""
    cached = getattr(user, "_guanxi_team_tree", None)
    if cached is None:
        from guanxi.identity.models import Team

        cached = list(Team.objects.values_list("pk", "parent_id", "manager_id"))
        user._guanxi_team_tree = cached
    return cached


def _with_teams_below(user: Any, team_ids: set[int]) -> set[int]:
    return team_ids | set(_below(((pk, parent) for pk, parent, _manager in _team_tree(user)), team_ids))


def managed_team_ids(user: Any) -> set[int]:
    """The teams the user manages and the teams below them."""
    return _with_teams_below(user, {pk for pk, _parent, manager in _team_tree(user) if manager == user.pk})


def user_team_ids(user: Any) -> list[int]:
    """The user's own team, every team they manage, and the teams below those (本部门及下级部门)."""
    cached = getattr(user, "_guanxi_team_ids", None)
    if cached is not None:
        return cached
    ids = managed_team_ids(user)
    if user.team_id:
        ids |= _with_teams_below(user, {user.team_id})
    result = sorted(ids)
    user._guanxi_team_ids = result
    return result


def user_subordinate_ids(user: Any) -> list[int]:
    """Users whose role sits below the user's role."""
    cached = getattr(user, "_guanxi_subordinate_ids", None)
    if cached is not None:
        return cached
    from guanxi.identity.models import User

    roles = role_descendant_ids(user.role_id)
    result = list(User.objects.filter(Q(role_id__in=roles)).values_list("pk", flat=True)) if roles else []
    user._guanxi_subordinate_ids = result
    return result


def user_report_ids(user: Any) -> list[int]:
    """The people who report to the user: below the user's role, and in the teams the user
    manages and the teams below them (the user not among them). Inactive people too: the accounts someone who left still
    owns are the ones to hand over."""
    cached = getattr(user, "_guanxi_report_ids", None)
    if cached is not None:
        return cached
    from guanxi.identity.models import User

    below = Q(team_id__in=sorted(managed_team_ids(user)))
    roles = role_descendant_ids(user.role_id)
    if roles:
        below |= Q(role_id__in=roles)
    result = sorted(set(User.objects.filter(below).exclude(pk=user.pk).values_list("pk", flat=True)))
    user._guanxi_report_ids = result
    return result
