"""Following a record (关注): a salesperson keeps an eye on accounts and people they do not own (a
colleague's big customer, a renewal a manager watches) and finds them under 我关注的 on the list,
the filter ``followed=me`` of the API and the UI.

Personal: nobody sees whom another user follows, and following writes nothing to the record, its
change log or its timeline. A followed record the user may no longer see drops out of their list
(every list goes through ``restrict``); a merge moves the follows to the surviving record.
"""

from __future__ import annotations

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models

from guanxi.core.choices import Action
from guanxi.core.errors import NotFound
from guanxi.core.models import Follow
from guanxi.core.permissions import restricted

#: ``followed=`` values that ask for the records the user follows, and for the others.
FOLLOWED = frozenset({"me", "true", "1"})
NOT_FOLLOWED = frozenset({"false", "0"})


def asks_followed(value: str) -> bool:
    """Does a ``followed=`` value ask for the records the user follows (the list's 我关注的)?"""
    return value.strip().lower() in FOLLOWED


def follows_of(user: Any, model: type[models.Model]) -> models.QuerySet:
    """The user's follows of records of ``model`` (their ``object_id``s)."""
    content_type = ContentType.objects.get_for_model(model, for_concrete_model=False)
    return Follow.objects.filter(user_id=user.pk, content_type=content_type)


def followed_among(user: Any, model: type[models.Model], pks: list[Any]) -> set[Any]:
    """Which of these records (a list's page) the user follows: one read of the follow index."""
    if not pks:
        return set()
    return set(follows_of(user, model).filter(object_id__in=pks).values_list("object_id", flat=True))


def is_following(user: Any, obj: models.Model) -> bool:
    return follows_of(user, type(obj)).filter(object_id=obj.pk).exists()


def record_follow(*, user: Any, model: type[models.Model], pk: Any, following: bool) -> bool:
    """Follow (or stop following) one record the user may see; 404 for any other. Doing it twice
    changes nothing. Returns whether the user now follows it."""
    if not getattr(model, "followable", False):
        raise NotFound()
    obj = restricted(model, user, Action.VIEW).filter(pk=pk).only("pk").first()
    if obj is None:
        raise NotFound()
    if not following:
        follows_of(user, model).filter(object_id=obj.pk).delete()
        return False
    # A second tab's click at the same moment is the same follow (the unique constraint; get_or_create
    # reads the row the other one wrote).
    content_type = ContentType.objects.get_for_model(model, for_concrete_model=False)
    Follow.objects.get_or_create(user_id=user.pk, content_type=content_type, object_id=obj.pk)
    return True


def follow_many(*, user: Any, model: type[models.Model], pks: list[Any], following: bool) -> int:
    """Follow (or stop following) many records at once, the list's bulk 关注 / 取消关注: one read of
    the user's follows among them, one write. The caller has checked the ``pks`` through
    ``restrict``. Returns how many changed (those already so are not counted)."""
    if not pks:
        return 0
    mine = follows_of(user, model).filter(object_id__in=pks)
    if not following:
        return mine.delete()[0]
    already = set(mine.values_list("object_id", flat=True))
    content_type = ContentType.objects.get_for_model(model, for_concrete_model=False)
    new = [Follow(user_id=user.pk, content_type=content_type, object_id=pk) for pk in pks if pk not in already]
    # ignore_conflicts: a follow written meanwhile (another tab) is the same follow.
    Follow.objects.bulk_create(new, ignore_conflicts=True)
    return len(new)


#: How many followed records the home card names, the latest changed first.
HOME_SHOWN = 6


def home_card(user: Any) -> dict[str, Any] | None:
    """The home page's 我关注的: the records the user follows, the latest changed first, with a link
    to each type's list of them. None when they follow nothing they may still see. One read of the
    follows, then per followable type a count and a page of rows through ``restrict``."""
    from guanxi.core.registry import resources
    from guanxi.core.views.base import resource_url

    types = [r for r in resources() if r.ui and getattr(r.model, "followable", False)]
    wanted = {ContentType.objects.get_for_model(r.model, for_concrete_model=False).pk: r for r in types}
    ids: dict[int, list[int]] = {}
    for content_type_id, object_id in Follow.objects.filter(
        user_id=user.pk, content_type_id__in=list(wanted)
    ).values_list("content_type_id", "object_id"):
        ids.setdefault(content_type_id, []).append(object_id)
    lists, rows = [], []
    for content_type_id, pks in ids.items():
        resource = wanted[content_type_id]
        visible = restricted(resource.model, user, Action.VIEW).filter(pk__in=pks)
        count = visible.count()
        if not count:
            continue
        url = resource_url(resource, "list")
        lists.append({"label": resource.label_plural, "count": count, "url": f"{url}?followed=me"})
        for obj in visible.order_by("-updated_at", "-pk")[:HOME_SHOWN]:
            detail = resource_url(resource, "detail", obj.pk)
            rows.append({"name": str(obj), "kind": resource.label, "url": detail, "updated_at": obj.updated_at})
    if not rows:
        return None
    rows.sort(key=lambda row: row["updated_at"], reverse=True)
    return {"lists": lists, "records": rows[:HOME_SHOWN]}
