"""撞单保护: a new customer who is already a colleague's.

Two salespeople working one customer without knowing it (撞单) is the quarrel Chinese sales teams
know best: the second adds the company again, as they cannot see the first one's record, and both
call on it. The duplicate check (``api_duplicates.existing_matches``) names only records the user
may see; this module looks at the others, by exact keys: an account's 统一社会信用代码 or its exact
name, a contact's email or mobile number (a landline is often a switchboard that many people share,
so it is no sign of the same person). Of a record the user may not see it tells the name and who has
it, or that it waits in the customer pool; nothing else, and only for a key typed whole.

An account is also told of (never refused) by a *similar name*: one that differs only by its legal
form, group words or places, bracketed or leading (华信科技 / 华信科技有限公司 / 华信科技（北京）有限公司
/ 北京华信科技有限公司, ``duplicates.strip_company``). Those are read by the indexed blocking key
(``dup_key``, the pinyin of the stripped name) and kept only when the stripped names are the same
characters and name no two places: 华心科技 sounds the same and is another company, and so is
广州华信科技 beside 北京华信科技. A branch （上海）有限公司 may be a legal entity of its own, so a
similar name is a warning, not a refusal.

Each role chooses how far this goes (``Role.duplicate_guard``):

* ``off``: nothing is said of records one may not see (as before this existed);
* ``tell`` (the default): the add and edit forms and ``GET /api/v1/duplicates/check`` say whose it
  is, and saving goes ahead (the duplicate detection pairs the two afterwards, as ever);
* ``refuse``: besides, adding it is refused, from the form, the API and an import's "create"
  policy alike, naming the field and whose the record is; so is an edit that *changes* a name,
  registration number, email or mobile to a colleague's (a field it does not change is not looked
  at, so editing something else of an old duplicate always works).

Bringing a record back from the recycle bin (``services.restore.customer_restore``, and the merged
records of a merge undone) is guarded as adding it, on all its keys (``refuse_restored``): while it
was in the bin a colleague may have added the customer, which the guard then did not see. A merge is
not guarded: every value the kept record takes is one a merged record had, live, so it leaves one
record fewer holding a key, never one more (``services.merge``).

The holder is told (a notification, ``NotificationKind.DUPLICATE``, written by the activities app
through ``on_attempt``) when a colleague's add, edit or restore is refused, or is saved anyway under
``tell``: at most once a day for one colleague and one record, so typing and saving again does not
spam them; an import tells each holder once a run, with its count. A refusal is told where the
service's rollback cannot undo it, without a second connection: ``refusals_told`` wraps the service
and tells of the ``Refused`` error once the service's atomic block has rolled back (see there). Each
refusal is also a line of the security log.

A superuser sees every record, so nothing is ever elsewhere for them. An import looks up no record
by an email or phone its importer sees masked (号码脱敏, ``import_writers``), so there the guard goes
by the other keys only.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

import phonenumbers
from django.db import models
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from guanxi.core.choices import Action
from guanxi.core.db import after_commit
from guanxi.core.errors import FieldErrors
from guanxi.core.permissions import restricted
from guanxi.customers.duplicates import account_dup_key, same_company_name, strip_company
from guanxi.customers.models import Account, Contact, ContactPoint, ContactPointKind
from guanxi.customers.normalize import compact_registration_number, phone_display
from guanxi.customers.services.common import user_names
from guanxi.identity.models import DuplicateGuard, Role

security_log = logging.getLogger("guanxi.security")

#: At most this many records elsewhere are named for one record being added.
LIMIT = 5

#: A Chinese mobile number (+86 1[3-9]…): the common case, told apart without parsing.
_CN_MOBILE = re.compile(r"\+861[3-9]\d{9}")

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class Held:
    """A record the user may not see that the one being added would duplicate."""

    pk: int
    display: str
    owner: str  # "" when nobody holds it (in the customer pool)
    #: The fields of the new record that match it by an exact key ("name", "emails", ...): a
    #: refusing role refuses those. A record only of a similar name has none.
    fields: tuple[str, ...]
    reasons: tuple[str, ...]
    #: Whom to tell (never shown to the user: the name is).
    owner_id: int | None = field(default=None, compare=False)

    @property
    def refuses(self) -> bool:
        """Whether a refusing role refuses the new record because of this one (an exact key)."""
        return bool(self.fields)

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

    def restored_message(self, restored: Any) -> str:
        """What the restorer of ``restored`` is told under ``tell``: whose customer it is now too."""
        if self.owner:
            return _(
                "“%(restored)s” is back, but “%(record)s” is already %(owner)s's customer (%(reasons)s): "
                "talk to them, you both have it now."
            ) % {"restored": restored, "record": self.display, "owner": self.owner, "reasons": "; ".join(self.reasons)}
        return _(
            "“%(restored)s” is back, but “%(record)s” is in the customer pool (%(reasons)s): "
            "you may want to merge them."
        ) % {"restored": restored, "record": self.display, "reasons": "; ".join(self.reasons)}

    def as_json(self, *, refused: bool) -> dict[str, Any]:
        return {
            "display": self.display,
            "owner": self.owner,
            "pooled": not self.owner,
            "reasons": list(self.reasons),
            "message": self.message(),
            "refused": refused and self.refuses,
        }


@dataclass(frozen=True)
class HolderNote:
    """What the holder of a record is told: a colleague entered their customer again."""

    recipient_id: int
    actor_id: int
    model: type[models.Model]
    object_id: int
    object_repr: str
    #: The words, called in the recipient's language (their notification is in it, not the actor's).
    summary: Callable[[], str]
    #: At most one a day for one actor and one record (typing and saving again); an import's
    #: summary is one a run instead.
    once_a_day: bool = True


#: Who writes what holders are told (the activities app's notifications: ``on_attempt``).
_holder_hooks: list[Callable[[list[HolderNote]], None]] = []


def on_attempt(hook: Callable[[list[HolderNote]], None]) -> None:
    """Hear of colleagues' attempts at one's customers (the activities app notifies the holders).
    A hook, not an import: customers come before activities, which build on them."""
    _holder_hooks.append(hook)


def tell_holders(notes: list[HolderNote]) -> None:
    """Hand these notes to the hooks (``on_attempt``)."""
    if notes:
        for hook in _holder_hooks:
            hook(notes)


_KEY_WORDS: dict[str, Callable[[], str]] = {
    "name": lambda: _("name"),
    "registration_number": lambda: _("registration number"),
    "emails": lambda: _("email"),
    "phones": lambda: _("mobile"),
}


def _matched_by(record: Held) -> str:
    return ", ".join(_KEY_WORDS[f]() for f in record.fields if f in _KEY_WORDS) or _("a similar name")


def holder_note(user: Any, model: type[models.Model], record: Held, *, refused: bool) -> HolderNote | None:
    """What ``record``'s holder is told of ``user`` entering it again; None for a pooled record."""
    if not record.owner_id:
        return None

    def summary() -> str:
        if refused:
            return _("Matched by %(keys)s; their role refused it (撞单保护).") % {"keys": _matched_by(record)}
        return _("Matched by %(keys)s; saved anyway, so you both have it now.") % {"keys": _matched_by(record)}

    return HolderNote(record.owner_id, user.pk, model, record.pk, record.display, summary)


def held_saved(user: Any, model: type[models.Model], held: Iterable[Held]) -> None:
    """Once the record that duplicates these is saved (under ``tell``, or a similar name only),
    tell their holders; after the commit, so a save rolled back tells nobody."""
    notes = [note for record in held if (note := holder_note(user, model, record, refused=False))]
    if notes:
        after_commit(("guard", model), notes, tell_holders)


def import_notes(user: Any, matched: Iterable[tuple[type[models.Model], Held, bool]]) -> list[HolderNote]:
    """An import run's matches (each held record, of which model, and whether its row was refused),
    one note per holder: how many rows, how many refused, on the first of their records."""
    by_owner: dict[int, list[tuple[type[models.Model], Held, bool]]] = {}
    for model, record, refused in matched:
        if record.owner_id:
            by_owner.setdefault(record.owner_id, []).append((model, record, refused))
    notes = []
    for owner_id, items in by_owner.items():
        model, first, _refused = items[0]
        count, refused_count = len(items), sum(1 for item in items if item[2])

        def summary(count: int = count, refused_count: int = refused_count) -> str:
            return ngettext(
                "%(count)d row of their import matched your customers (%(refused)d refused, %(saved)d saved anyway).",
                "%(count)d rows of their import matched your customers (%(refused)d refused, %(saved)d saved anyway).",
                count,
            ) % {"count": count, "refused": refused_count, "saved": count - refused_count}

        notes.append(HolderNote(owner_id, user.pk, model, first.pk, first.display, summary, once_a_day=False))
    return notes


class Refused(FieldErrors):
    """撞单保护 refused a record: the field errors, and the records whose holders are told."""

    def __init__(self, errors: dict[str, list[str]], *, user: Any, model: type[models.Model], held: list[Held]):
        super().__init__(errors)
        self.user, self.model, self.held = user, model, held

    def tell(self) -> None:
        """Tell the holders, and write the security log's line (ids only: no typed values)."""
        security_log.warning(
            "duplicate guard refused: user=%s (%s) entering a %s that matches records of others: %s",
            self.user.pk,
            getattr(self.user, "email", ""),
            self.model._meta.label_lower,
            ",".join(str(record.pk) for record in self.held),
        )
        tell_holders([n for record in self.held if (n := holder_note(self.user, self.model, record, refused=True))])


def refusals_told(service: Callable[P, R]) -> Callable[P, R]:
    """Wrap a write service so that a ``Refused`` is told once the service's own atomic block has
    rolled back, then raised on: the notification is not undone with the refused write.

    It is written on the same connection: outside a transaction (the API and the forms open none)
    it commits at once; a caller that runs the service in a transaction of its own and lets the
    refusal roll that back takes the notification with it, as everything else it did there. Simpler
    than a second connection (which SQLite's one writer would make wait for the first), and no
    view or endpoint has to remember to do it."""

    @functools.wraps(service)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return service(*args, **kwargs)
        except Refused as refused:
            try:
                refused.tell()
            except Exception:  # the user still gets the refusal's field errors, not a server error
                logging.getLogger(__name__).exception("telling the holders of a refused duplicate failed")
            raise

    return wrapper


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
    """Live records the user may not see that a record being added would duplicate by an exact key
    (or, an account, by a similar name: told, never refused). Emails lower case and phones in E.164
    (as the services store them); what is not normalised matches nothing. The caller has asked the
    role (``guard_of``) whether to look."""
    why: dict[int, dict[str, str]] = {}  # pk -> {reason: field}; field "" for a similar name
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
            for pk, other in similar_names(name.strip()):
                why.setdefault(pk, {})[_("similar name %(name)s") % {"name": other}] = ""
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


def similar_names(name: str) -> list[tuple[int, str]]:
    """Live accounts named like ``name`` but for legal forms, group words and places (bracketed or
    leading: 华信科技, 深圳市华信科技有限公司), and not exactly so (the exact name is its own, refusing
    reason), as ``(pk, name)``.

    Read by the blocking key (``account_dup_key``: indexed, a handful of rows), then kept only when
    ``duplicates.same_company_name`` finds the same characters and no two places: the key is pinyin,
    and 华心 is not 华信; 广州华信 is not 深圳华信."""
    if not strip_company(name) or not (key := account_dup_key(name)):
        return []
    block = Account.objects.filter(dup_key=key, deleted_at__isnull=True).exclude(name=name)
    return [(pk, other) for pk, other in block.values_list("pk", "name")[: LIMIT * 4] if same_company_name(name, other)]


def held_records(
    user: Any, model: type[models.Model], why: dict[int, dict[str, str]], *, limit: int | None = LIMIT
) -> list[Held]:
    """Of the records in ``why`` (pk -> {reason: field}), those the user may not see, named: the
    first ``limit`` (an import asks for all of its batch's, a few queries a thousand). A reason
    whose field is "" (a similar name) is told and refuses nothing."""
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
                fields=tuple(sorted({f for f in reasons.values() if f})),
                reasons=tuple(reasons),
                owner_id=obj.owner_id,
            )
        )
    # Exact matches first: the form colours its warning by the first one's refusal.
    return sorted(held, key=lambda record: not record.refuses)


def held_accounts(guard: str, user: Any, names: Iterable[str], numbers: Iterable[str]) -> dict[tuple[str, str], Held]:
    """Accounts the user may not see with these exact names or registration numbers, by
    ``("name" | "registration_number", key)``, when their role (``guard``) tells of such records: for
    the companies a contact import would create (an account import matches its own rows' keys)."""
    if guard == DuplicateGuard.OFF:
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


def refuse_held(user: Any, model: type[models.Model], **keys: Any) -> list[Held]:
    """Before a record is added or changed (``find_held``'s keys: an edit passes only the keys it
    changes, and ``exclude``): refuse it when it duplicates, by an exact key, a record the user may
    not see and their role says so (``Refused``: the error names the new record's matching field and
    whose the other record is). Otherwise returns what the role tells of, for ``held_saved`` to tell
    the holders once saved."""
    if not any(value for name, value in keys.items() if name != "exclude"):
        return []  # an edit of other fields asks nothing (not even the role)
    guard = guard_of(user)
    if guard == DuplicateGuard.OFF:
        return []
    held = find_held(user, model, **keys)
    refusing = [record for record in held if record.refuses] if guard == DuplicateGuard.REFUSE else []
    if not refusing:
        return held
    errors: dict[str, list[str]] = {}
    for record in refusing:
        for name in record.fields:
            errors.setdefault(name, []).append(record.message())
    raise Refused(errors, user=user, model=model, held=refusing)


def refuse_restored(user: Any, model: type[models.Model], record: Any) -> list[Held]:
    """Before ``record`` comes back from the recycle bin (a restore, a merge undone): ``refuse_held``
    on all its keys, as adding it. While it was in the bin the guard did not see it, so a colleague
    may have added the customer meanwhile; bringing it back makes the same duplicate as adding it."""
    if isinstance(record, Account):
        keys: dict[str, Any] = {"name": record.name, "registration_number": record.registration_number}
    else:
        keys = {"emails": point_values(record.emails), "phones": point_values(record.phones)}
    return refuse_held(user, model, exclude=record.pk, **keys)


def new_keys(record: Any, **keys: Any) -> dict[str, Any]:
    """Of the keys typed for ``record`` (an edit: ``find_held``'s keys), those it does not have
    already: only they are guarded, by the update services and the edit form's check alike, so an
    old duplicate's other fields stay editable."""
    if isinstance(record, Account):
        names = ("name", "registration_number")
        return {name: keys[name] for name in names if keys.get(name) and keys[name] != getattr(record, name)}
    had = {*point_values(record.emails), *point_values(record.phones)}
    return {name: [value for value in keys.get(name) or () if value not in had] for name in ("emails", "phones")}


def point_values(items: Iterable[Any] | None) -> list[str]:
    """The values of a contact's cleaned emails or phones (``{"value": ...}`` items)."""
    return [item["value"] for item in items or () if isinstance(item, dict) and item.get("value")]
