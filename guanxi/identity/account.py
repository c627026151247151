"""Self-service: what anyone may change on their own user record, whatever their role allows."""

from __future__ import annotations

import zoneinfo
from functools import cache
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from guanxi.core.audit import changelog_record, snapshot
from guanxi.core.choices import ChangeAction
from guanxi.core.errors import FieldErrors
from guanxi.core.permissions import frozen_fields
from guanxi.identity.models import NotificationEmail, User

# Profile and preferences only. Role, team, email, active and admin flags stay with user managers
# (guanxi.identity.services.user_update), so an account page can never widen anyone's rights.
ACCOUNT_FIELDS = ("display_name", "phone", "time_zone", "language", "notification_email")


@cache
def _all_time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


@cache
def time_zone_names() -> list[str]:
    """IANA zone names for the time-zone picker, sorted; legacy aliases ("PRC", "GB") left out."""
    return sorted(name for name in _all_time_zones() if "/" in name or name == "UTC")


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name, value in data.items():
        cleaned[name] = value.strip() if isinstance(value, str) else value
    if "display_name" in cleaned and not cleaned["display_name"]:
        errors["display_name"] = [_("Enter the name colleagues know you by.")]
    if "time_zone" in cleaned and cleaned["time_zone"] not in _all_time_zones():
        errors["time_zone"] = [_("Pick a time zone from the list, e.g. Asia/Shanghai.")]
    if "language" in cleaned and cleaned["language"] not in {code for code, _label in settings.LANGUAGES}:
        errors["language"] = [_("Pick one of the offered languages.")]
    if "notification_email" in cleaned and cleaned["notification_email"] not in NotificationEmail.values:
        errors["notification_email"] = [_("Use one of: %(values)s.") % {"values": ", ".join(NotificationEmail.values)}]
    if errors:
        raise FieldErrors(errors)
    return cleaned


@transaction.atomic
def account_update(*, user: Any, data: dict[str, Any]) -> User:
    """Change the acting user's own display name, phone, time zone or language.

    Any other field is refused (never silently dropped), so a caller cannot smuggle in a role or an
    admin flag. Read-only field rules of the user's role still apply to fields that would change.
    """
    if user is None or not user.is_authenticated:
        raise FieldErrors({"user": [_("Sign in first.")]})
    refused = sorted(set(data) - set(ACCOUNT_FIELDS))
    if refused:
        raise FieldErrors(
            {name.removesuffix("_id"): [_("You cannot change this on your own account.")] for name in refused}
        )
    cleaned = _clean(data)
    obj = User.objects.select_for_update().get(pk=user.pk)
    before = snapshot(obj)
    changed = {name: value for name, value in cleaned.items() if getattr(obj, name) != value}
    frozen = frozen_fields(user, User) & set(changed)
    if frozen:
        raise FieldErrors({name: [_("You may not change this field.")] for name in sorted(frozen)})
    if not changed:
        return obj
    for name, value in changed.items():
        setattr(obj, name, value)
    try:
        obj.full_clean(
            exclude=[f.name for f in User._meta.concrete_fields if f.name not in changed], validate_unique=False
        )
    except ValidationError as exc:
        raise FieldErrors(exc.message_dict) from None
    obj.version += 1
    obj.save(update_fields=[*changed, "version", "updated_at"])
    changelog_record(actor=user, obj=obj, action=ChangeAction.UPDATE, before=before, after=snapshot(obj))
    # Keep the request's user object in step, so the page rendered next shows the new values.
    for name in (*changed, "version"):
        setattr(user, name, getattr(obj, name))
    return obj
