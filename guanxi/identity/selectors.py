"""Reads about the organisation that permission checks need; cached on the user object per request."""

from __future__ import annotations

from typing import Any

from django.db.models import Q


def role_descendant_ids(role_id: int | None) -> list[int]:
    """Every role below ``role_id`` in the hierarchy (not the role itself)."""
    if role_id is None:
        return []
    from guanxi.identity.models import Role

    children: dict[int | None, list[int]] = {}
    for pk, parent_id in Role.objects.values_list("pk", "parent_id"):
        children.setdefault(parent_id, []).append(pk)
    found: list[int] = []
    stack = list(children.get(role_id, []))
    while stack:
        pk = stack.pop()
        if pk in found or pk == role_id:
            continue  # a cycle would be a data error; never loop on it
        found.append(pk)
        stack.extend(children.get(pk, []))
    return found


def user_team_ids(user: Any) -> list[int]:
    """The user's own team and every team they manage."""
    cached = getattr(user, "_guanxi_team_ids", None)
    if cached is not None:
        return cached
    from guanxi.identity.models import Team

    ids = set(Team.objects.filter(manager_id=user.pk).values_list("pk", flat=True))
    if user.team_id:
        ids.add(user.team_id)
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
    manages (the user not among them). Inactive people too: the accounts someone who left still
    owns are the ones to hand over."""
    cached = getattr(user, "_guanxi_report_ids", None)
    if cached is not None:
        return cached
    from guanxi.identity.models import User

    below = Q(team__manager_id=user.pk, team__deleted_at__isnull=True)
    roles = role_descendant_ids(user.role_id)
    if roles:
        below |= Q(role_id__in=roles)
    result = sorted(set(User.objects.filter(below).exclude(pk=user.pk).values_list("pk", flat=True)))
    user._guanxi_report_ids = result
    return result
