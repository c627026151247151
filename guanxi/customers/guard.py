"""撞单保护: a new customer who is already a colleague's.

Two salespeople working one customer without knowing it (撞单) is the quarrel Chinese sales teams
know best: the second adds the company again, as they cannot see the first one's record, and both
call on it. The duplicate check (``api_duplicates.existing_matches``) names only records the user
may see; this module looks at the others, by exact keys only: an account's 统一社会信用代码 or its
exact name, a contact's email or mobile number (a landline is often a switchboard that many people
share, so it is no sign of the same person). Of a record the user may not see it tells the name and
who has it, or that it waits in the customer pool; nothing else, and only for a key typed whole.

Each role chooses how far this goes (``Role.duplicate_guard``):

* ``off``: nothing is said of records one may not see (as before this existed);
* ``tell`` (the default): the add form and ``GET /api/v1/duplicates/check`` say whose it is, and
  saving goes ahead (the duplicate detection pairs the two afterwards, as ever);
* ``refuse``: besides, adding it is refused, from the form, the API and an import's "create"
  policy alike, naming the field and whose the record is.

Only adding is guarded: an edit that gives a record a colleague's number is the duplicate queue's to
catch. A superuser sees every record, so nothing is ever elsewhere for them. An import looks up no
record by an email or phone its importer sees masked (号码脱敏, ``import_writers``), so there the
guard goes by the other keys only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import phonenumbers
from django.db import models
from django.utils.translation import gettext as _

from guanxi.core.choices import Action
from guanxi.core.errors import FieldErrors
from guanxi.core.permissions import restricted
from guanxi.customers.models import Account, Contact, ContactPoint, ContactPointKind
from guanxi.customers.normalize import compact_registration_number, phone_display
from guanxi.customers.services.common import user_names
from guanxi.identity.models import DuplicateGuard, Role

#: At most this many records elsewhere are named for one record being added.
LIMIT = 5

#: A Chinese mobile number (+86 1[3-9]…): the common case, told apart without parsing.
_CN_MOBILE = re.compile(r"\+861[3-9]\d{9}")


@dataclass(frozen=True)
class Held:
    """A record the user may not see that the one being added would duplicate."""

    pk: int
    display: str
    owner: str  # "" when nobody holds it (in the customer pool)
    fields: tuple[str, ...]  # the fields of the new record that match it ("name", "emails", ...)
    reasons: tuple[str, ...]

    def message(self) -> str:
        if self.owner:
            return _(
                "“%(record)s” is already %(owner)s's customer: ask them or an administrator instead of adding it again."
            ) % {
                "record": self.display,
                "owner": self.owner,
            }
        return _(
            "“%(record)s” is already in Guanxi, in the customer pool: claim it there instead of adding it again."
        ) % {"record": self.display}

    def as_json(self, *, refused: bool) -> dict[str, Any]:
        return {
            "display": self.display,
            "owner": self.owner,
            "pooled": not self.owner,
            "reasons": list(self.reasons),
            "message": self.message(),
            "refused": refused,
        }


def guard_of(user: Any) -> str:
    """The user's role's choice (``DuplicateGuard``); ``tell`` without a role."""
    if getattr(user, "is_superuser", False):
        return DuplicateGuard.OFF
    if not getattr(user, "role_id", None):
        return DuplicateGuard.TELL
    guard = Role.objects.filter(pk=user.role_id).values_list("duplicate_guard", flat=True).first()
    return guard or DuplicateGuard.TELL


def is_personal_phone(e164: str) -> bool:
    """A mobile number, which one person carries (a landline may be the whole company's)."""
    if _CN_MOBILE.fullmatch(e164):
        return True
    if e164.startswith("+86"):
        return False
    try:
        kind = phonenumbers.number_type(phonenumbers.parse(e164, None))
    except phonenumbers.NumberParseException:
        return False
    return kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)


def held_elsewhere(user: Any, model: type[models.Model], **keys: Any) -> list[Held]:
    """``find_held`` when the user's role tells of such records (not ``off``)."""
    return [] if guard_of(user) == DuplicateGuard.OFF else find_held(user, model, **keys)


def find_held(
    user: Any,
    model: type[models.Model],
    *,
    emails: Iterable[str] = (),
    phones: Iterable[str] = (),
    name: str = "",
    registration_number: str = "",
    exclude: int | None = None,
) -> list[Held]:
    """Live records the user may not see that a record being added would duplicate by an exact key.
    Emails lower case and phones in E.164 (as the services store them); what is not normalised
    matches nothing. The caller has asked the role (``guard_of``) whether to look."""
    why: dict[int, dict[str, str]] = {}  # pk -> {reason: field}
    if model is Account:
        number = compact_registration_number(registration_number)
        if number:
            for pk in Account.objects.filter(registration_number=number, deleted_at__isnull=True).values_list(
                "pk", flat=True
            )[:LIMIT]:
                why.setdefault(pk, {})[_("same registration number %(value)s") % {"value": number}] = (
                    "registration_number"
                )
        if name.strip():
            for pk in Account.objects.filter(name=name.strip(), deleted_at__isnull=True).values_list("pk", flat=True)[
                :LIMIT
            ]:
                why.setdefault(pk, {})[_("same name")] = "name"
    elif model is Contact:
        wanted = [(str(ContactPointKind.EMAIL), e) for e in emails if e]
        wanted += [(str(ContactPointKind.PHONE), p) for p in phones if p and is_personal_phone(p)]
        if wanted:
            match = models.Q()
            for point_kind, point_value in wanted:
                match |= models.Q(kind=point_kind, value=point_value)
            points = ContactPoint.objects.filter(match, contact__deleted_at__isnull=True)
            for pk, kind, value in points.values_list("contact_id", "kind", "value")[: LIMIT * 4]:
                if kind == ContactPointKind.PHONE:
                    why.setdefault(pk, {})[_("same mobile number %(value)s") % {"value": phone_display(value)}] = (
                        "phones"
                    )
                else:
                    why.setdefault(pk, {})[_("same email %(value)s") % {"value": value}] = "emails"
    else:
        return []
    if exclude is not None:
        why.pop(exclude, None)
    return held_records(user, model, why)


def held_records(
    user: Any, model: type[models.Model], why: dict[int, dict[str, str]], *, limit: int | None = LIMIT
) -> list[Held]:
    """Of the records in ``why`` (pk -> {reason: field}), those the user may not see, named: the
    first ``limit`` (an import asks for all of its batch's, a few queries a thousand)."""
    if not why:
        return []
    pks = sorted(why)
    seen: set[int] = set()
    for part in _parts(pks):
        seen.update(restricted(model, user, Action.VIEW).filter(pk__in=part).values_list("pk", flat=True))
    unseen = [pk for pk in pks if pk not in seen][:limit]
    if not unseen:
        return []
    by_pk: dict[int, Any] = {}
    for part in _parts(unseen):
        records = model._default_manager.filter(pk__in=part).only("pk", "owner_id", *_display_columns(model))
        by_pk.update((obj.pk, obj) for obj in records)
    owners = user_names(*{obj.owner_id for obj in by_pk.values() if obj.owner_id})
    held = []
    for pk in unseen:
        obj = by_pk.get(pk)
        if obj is None:
            continue
        reasons = why[pk]
        held.append(
            Held(
                pk=pk,
                display=str(obj),
                owner=owners.get(obj.owner_id, "") if obj.owner_id else "",
                fields=tuple(sorted(set(reasons.values()))),
                reasons=tuple(reasons),
            )
        )
    return held


def held_accounts(user: Any, names: Iterable[str], numbers: Iterable[str]) -> dict[tuple[str, str], Held]:
    """Accounts the user may not see with these exact names or registration numbers, by
    ``("name" | "registration_number", key)``, when their role refuses to add such records: for the
    companies a contact import would create (an account import matches its own rows' keys)."""
    if guard_of(user) != DuplicateGuard.REFUSE:
        return {}
    keys: dict[tuple[str, str], int] = {}
    for kind, wanted in (("name", sorted(set(names))), ("registration_number", sorted(set(numbers)))):
        for part in _parts(wanted):
            live = Account.objects.filter(deleted_at__isnull=True, **{f"{kind}__in": part})
            for key, pk in live.values_list(kind, "pk"):
                keys[(kind, key)] = pk
    why = {pk: {kind: kind} for (kind, _key), pk in keys.items()}
    held = {record.pk: record for record in held_records(user, Account, why, limit=None)}
    return {key: held[pk] for key, pk in keys.items() if pk in held}


def _parts(items: list[Any], size: int = 2000) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _display_columns(model: type[models.Model]) -> Sequence[str]:
    return ("name",) if model is Account else ("display_name",)


def refuse_held(user: Any, model: type[models.Model], **keys: Any) -> None:
    """Refuse to add a record that duplicates one the user may not see (``find_held``'s keys), when
    their role says so: the error names the new record's matching field and whose the other record is."""
    if guard_of(user) != DuplicateGuard.REFUSE:
        return
    held = find_held(user, model, **keys)
    if not held:
        return
    errors: dict[str, list[str]] = {}
    for record in held:
        for field in record.fields:
            errors.setdefault(field, []).append(record.message())
    raise FieldErrors(errors)


def point_values(items: Iterable[Any] | None) -> list[str]:
    """The values of a contact's cleaned emails or phones (``{"value": ...}`` items)."""
    return [item["value"] for item in items or () if isinstance(item, dict) and item.get("value")]
