"""Writes on contacts: names, emails and phones (normalised), consent, and links to accounts."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.core import context
from guanxi.core import services as core_services
from guanxi.core.audit import changelog_record, diff
from guanxi.core.choices import Action, ChangeAction
from guanxi.core.db import service_atomic
from guanxi.core.errors import FieldErrors, NotFound
from guanxi.core.models import ChangeLogEntry, Note
from guanxi.core.names import person_display_name
from guanxi.core.permissions import frozen_fields, restricted, visible_ref
from guanxi.core.search import search_reindex
from guanxi.core.timeline import timeline_add
from guanxi.customers.choices import ContactPointKind, ContactPointLabel, TimelineKind
from guanxi.customers.duplicates import detect_after_commit
from guanxi.customers.guard import held_saved, new_keys, point_values, refusals_told, refuse_held
from guanxi.customers.models import Account, AccountContact, Contact, ContactPoint
from guanxi.customers.normalize import (
    DEFAULT_REGION,
    normalize_email,
    normalize_phone,
    phone_digits_reversed,
)
from guanxi.customers.services.common import (
    MAX_CONTACT_POINTS,
    MAX_HIERARCHY_DEPTH,
    clean_place,
    raise_if,
    strip_texts,
    user_names,
)


def _clean_points(field: str, items: Any, *, region: str, errors: dict[str, list[str]]) -> list[dict[str, Any]]:
    """Normalise a list of emails or phones (strings or {value, label, is_primary}); primary first."""
    if not isinstance(items, list):
        errors[field] = [_("Send a list.")]
        return []
    if len(items) > MAX_CONTACT_POINTS:
        errors[field] = [_("At most %(n)s entries.") % {"n": MAX_CONTACT_POINTS}]
        return []
    out: list[dict[str, Any]] = []
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for index, item in enumerate(items):
        where = f"{field}.{index}"
        entry = {"value": item} if isinstance(item, str) else item
        if not isinstance(entry, dict) or not isinstance(entry.get("value"), str):
            errors[where] = [_('Send a text or an object like {"value": "…", "label": "work"}.')]
            continue
        label = entry.get("label") or ""
        if label not in ContactPointLabel.values and label != "":
            errors[f"{where}.label"] = [_("Use one of: %(labels)s.") % {"labels": ", ".join(ContactPointLabel.values)}]
            continue
        try:
            if field == "emails":
                point: dict[str, Any] = {"value": normalize_email(entry["value"]), "label": label}
            else:
                phone = normalize_phone(entry["value"], region)
                extension = phone.extension or str(entry.get("extension") or "").strip()
                if extension and (not (extension.isascii() and extension.isdigit()) or len(extension) > 8):
                    errors[f"{where}.extension"] = [_("Use up to 8 digits.")]
                    continue
                point = {"value": phone.e164, "extension": extension, "label": label}
        except ValueError as exc:
            errors[where] = [str(exc)]
            continue
        point["is_primary"] = bool(entry.get("is_primary"))
        key = (point["value"], point.get("extension", ""))
        if key in seen:  # the same address twice: keep one, primary if either was
            seen[key]["is_primary"] = seen[key]["is_primary"] or point["is_primary"]
            continue
        seen[key] = point
        out.append(point)
    if sum(p["is_primary"] for p in out) > 1:
        errors[field] = [_("Mark at most one as primary.")]
    if out and not any(p["is_primary"] for p in out):
        out[0]["is_primary"] = True
    return sorted(out, key=lambda p: not p["is_primary"])


def prepare_contact_data(
    data: dict[str, Any],
    *,
    current: Contact | None,
    user: Any,
    emails: Any,
    phones: Any,
    errors: dict[str, list[str]],
    now: Any = None,
) -> dict[str, Any]:
    """The contact's input tidied and checked (errors gathered in ``errors``) with what follows from
    it: its display name, the time consent changed (``now``: a bulk edit's one time for all)."""
    data = dict(data)
    strip_texts(data, "family_name", "given_name", "title", "department", "wechat_id")
    family = data.get("family_name", current.family_name if current else "")
    given = data.get("given_name", current.given_name if current else "")
    if current is None or {"family_name", "given_name"} & set(data):
        if not family and not given:
            errors["family_name"] = [_("Give a family name, a given name or both.")]
        display = person_display_name(family, given)
        if current is None or display != current.display_name:
            data["display_name"] = display
    clean_place(data, current, errors)
    region = data.get("country", current.country if current else DEFAULT_REGION) or DEFAULT_REGION
    if emails is not None:
        data["emails"] = _clean_points("emails", emails, region=region, errors=errors)
    if phones is not None:
        data["phones"] = _clean_points("phones", phones, region=region, errors=errors)
    birthday = data.get("birthday")
    if isinstance(birthday, datetime.date) and birthday > timezone.localdate():
        errors["birthday"] = [_("A birthday cannot be in the future.")]
    if data.get("reports_to_id") is not None and (current is None or data["reports_to_id"] != current.reports_to_id):
        _check_reports_to(user, current.pk if current else None, data["reports_to_id"], errors)
    now = now or timezone.now()
    for channel in Contact.CONSENT_CHANNELS:
        flag = f"{channel}_consent"
        if flag not in data:
            continue
        was = getattr(current, flag) if current else False
        if bool(data[flag]) != was:
            # Record when consent was given or withdrawn, and through which channel if not told.
            data.setdefault(f"{flag}_at", now)
            if not data.get(f"{flag}_source"):
                data[f"{flag}_source"] = context.current().source
    return data


def _check_reports_to(user: Any, contact_pk: Any, manager_id: Any, errors: dict[str, list[str]]) -> None:
    """The manager must be a person the user can see, and not the contact or someone reporting to them."""
    if not Contact.objects.restrict(user, Action.VIEW).filter(pk=manager_id).exists():
        errors["reports_to"] = [_("No contact with id %(id)s.") % {"id": manager_id}]
        return
    if contact_pk is None:
        return  # a new person has nobody reporting to them: no loop to look for
    if str(manager_id) == str(contact_pk):
        errors["reports_to"] = [_("A person cannot report to themselves.")]
        return
    current, depth = manager_id, 0
    while current is not None:
        if str(current) == str(contact_pk):
            errors["reports_to"] = [_("This person already reports to them, directly or not; that would make a loop.")]
            return
        depth += 1
        if depth > MAX_HIERARCHY_DEPTH:
            errors["reports_to"] = [
                _("A reporting line is at most %(depth)s people long.") % {"depth": MAX_HIERARCHY_DEPTH}
            ]
            return
        # Locking each manager up the line makes two crossing changes (A under B, B under A) wait
        # for each other, as an account's parent does.
        current = (
            Contact.all_objects.select_for_update().filter(pk=current).values_list("reports_to_id", flat=True).first()
        )


def _sync_points(contact: Contact) -> None:
    """Rewrite the contact's lookup rows from its ``emails`` and ``phones``."""
    ContactPoint.objects.filter(contact=contact).delete()
    rows = [
        ContactPoint(
            contact=contact,
            kind=ContactPointKind.EMAIL,
            value=p["value"],
            label=p.get("label", ""),
            is_primary=p.get("is_primary", False),
            position=i,
        )
        for i, p in enumerate(contact.emails or [])
    ]
    rows += [
        ContactPoint(
            contact=contact,
            kind=ContactPointKind.PHONE,
            value=p["value"],
            extension=p.get("extension", ""),
            label=p.get("label", ""),
            is_primary=p.get("is_primary", False),
            position=i,
            digits_reversed=phone_digits_reversed(p["value"]),
        )
        for i, p in enumerate(contact.phones or [])
    ]
    # Two entries may share an E.164 number with different extensions; one lookup row is enough.
    unique = {(r.kind, r.value): r for r in reversed(rows)}
    ContactPoint.objects.bulk_create(sorted(unique.values(), key=lambda r: (r.kind, r.position)))


def _clean_links(user: Any, links: Any, errors: dict[str, list[str]]) -> list[dict[str, Any]]:
    """Validate ``[{account, role, is_primary}]``; every account must be one the user can see."""
    if not isinstance(links, list):
        errors["accounts"] = [_("Send a list.")]
        return []
    out: list[dict[str, Any]] = []
    for index, link in enumerate(links):
        entry = {"account": link} if isinstance(link, int) and not isinstance(link, bool) else link
        if not isinstance(entry, dict) or not isinstance(entry.get("account"), int):
            errors[f"accounts.{index}"] = [_('Send an object like {"account": 12, "role": "采购经理"}.')]
            continue
        role = " ".join(str(entry.get("role") or "").split())
        if len(role) > 100:
            errors[f"accounts.{index}.role"] = [_("Use at most 100 characters.")]
            continue
        out.append({"account": entry["account"], "role": role, "is_primary": bool(entry.get("is_primary"))})
    ids = [link["account"] for link in out]
    visible = set(Account.objects.restrict(user, Action.VIEW).filter(pk__in=ids).values_list("pk", flat=True))
    for index, link in enumerate(out):
        if link["account"] not in visible:
            errors[f"accounts.{index}.account"] = [_("No account with id %(id)s.") % {"id": link["account"]}]
    if len(set(ids)) != len(ids):
        errors["accounts"] = [_("Each account may appear once.")]
    if sum(link["is_primary"] for link in out) > 1:
        errors["accounts"] = [_("Mark at most one account as primary.")]
    return out


def _link_rows(contact: Contact) -> list[dict[str, Any]]:
    return [link.as_dict() for link in AccountContact.objects.filter(contact=contact).order_by("account_id")]


def _touch(contact: Contact) -> None:
    """Links are part of what a contact is: bump its version so caches and sync clients notice."""
    contact.version += 1
    contact.save(update_fields=["version", "updated_at"])


def _last_entry_id(contact: Contact) -> int:
    """The newest change-log row of the contact (0: none): a write's own row is the one after it."""
    ct = ContentType.objects.get_for_model(Contact, for_concrete_model=False)
    last = ChangeLogEntry.objects.filter(content_type=ct, object_id=contact.pk).order_by("-id").values("id").first()
    return last["id"] if last else 0


def _apply_links(
    user: Any, contact: Contact, links: list[dict[str, Any]], *, replace: bool, merge_after: int | None = None
) -> None:
    """Create/update the given links; with ``replace``, drop links to other accounts the user can see.

    ``merge_after``: the write that called this already logged the contact (its row comes after this
    id); the link change joins that row, so one request is one change-log entry.

    Links to accounts the user cannot see are never touched: replacing "my" list must not
    silently unlink someone else's account.
    """
    before = _link_rows(contact)
    existing = {link.account_id: link for link in AccountContact.objects.filter(contact=contact)}
    wanted = {link["account"]: link for link in links}
    names = dict(Account.all_objects.filter(pk__in=[*existing, *wanted]).values_list("pk", "name"))
    removed: list[int] = []
    if replace:
        visible = set(
            Account.objects.restrict(user, Action.VIEW).filter(pk__in=list(existing)).values_list("pk", flat=True)
        )
        removed = [pk for pk in existing if pk in visible and pk not in wanted]
        AccountContact.objects.filter(contact=contact, account_id__in=removed).delete()
    primary = next((pk for pk, link in wanted.items() if link["is_primary"]), None)
    if primary is not None:
        AccountContact.objects.filter(contact=contact, is_primary=True).exclude(account_id=primary).update(
            is_primary=False
        )
    added: list[int] = []
    for account_id, link in wanted.items():
        row = existing.get(account_id)
        if row is None:
            AccountContact.objects.create(
                contact=contact, account_id=account_id, role=link["role"], is_primary=link["is_primary"]
            )
            added.append(account_id)
        elif (row.role, row.is_primary) != (link["role"], link["is_primary"]):
            row.role, row.is_primary = link["role"], link["is_primary"]
            row.save(update_fields=["role", "is_primary", "updated_at"])
    links_now = AccountContact.objects.filter(contact=contact)
    if not links_now.filter(is_primary=True).exists():
        # A contact with accounts always has a primary one: the first given, else the oldest link.
        first = links_now.filter(account_id__in=list(wanted)[:1]).first() or links_now.order_by("id").first()
        if first is not None:
            first.is_primary = True
            first.save(update_fields=["is_primary", "updated_at"])
    after = _link_rows(contact)
    if before == after:
        return
    _touch(contact)
    search_reindex(Contact, [contact.pk])  # the contact's companies are part of its search document
    ct = ContentType.objects.get_for_model(Contact, for_concrete_model=False)
    entry = None
    if merge_after is not None:
        entries = ChangeLogEntry.objects.filter(content_type=ct, object_id=contact.pk, id__gt=merge_after)
        entry = entries.order_by("-id").first()
    if entry is not None:
        was = None if entry.action == ChangeAction.CREATE else before
        entry.changes = {**entry.changes, **diff({"accounts": was}, {"accounts": after})}
        entry.save(update_fields=["changes"])
    else:
        changelog_record(
            actor=user, obj=contact, action=ChangeAction.UPDATE, before={"accounts": before}, after={"accounts": after}
        )
    for account_id in added:
        role = wanted[account_id]["role"]
        _link_timeline(user, contact, account_id, names.get(account_id, "—"), role, linked=True)
    for account_id in removed:
        _link_timeline(user, contact, account_id, names.get(account_id, "—"), existing[account_id].role, linked=False)
    _links_moved_engagement(contact, [*added, *removed])


def _links_moved_engagement(contact: Contact, account_ids: list[int]) -> None:
    """The contact's follow-ups count for the accounts it is linked to: recount those it joined or left."""
    from guanxi.customers.services.recompute import engagement_refresh

    ct = ContentType.objects.get_for_model(Contact, for_concrete_model=False)
    if account_ids and Note.objects.filter(content_type=ct, object_id=contact.pk).exists():
        engagement_refresh(account_ids)


def _link_timeline(user: Any, contact: Contact, account_id: int, account_name: str, role: str, *, linked: bool) -> None:
    account = Account(pk=account_id, name=account_name)
    data = {"account": account_id, "contact": contact.pk, "role": role}
    if linked:
        contact_summary = _("Linked to %(account)s") % {"account": account_name}
        account_summary = _("Contact %(contact)s added") % {"contact": contact.display_name}
        if role:
            contact_summary += f" ({role})"
            account_summary += f" ({role})"
        timeline_add(subject=contact, kind=TimelineKind.ACCOUNT_LINKED, summary=contact_summary, actor=user, data=data)
        timeline_add(subject=account, kind=TimelineKind.CONTACT_LINKED, summary=account_summary, actor=user, data=data)
    else:
        timeline_add(
            subject=contact,
            kind=TimelineKind.ACCOUNT_UNLINKED,
            summary=_("No longer at %(account)s") % {"account": account_name},
            actor=user,
            data=data,
        )
        timeline_add(
            subject=account,
            kind=TimelineKind.CONTACT_UNLINKED,
            summary=_("Contact %(contact)s removed") % {"contact": contact.display_name},
            actor=user,
            data=data,
        )


def _check_extra_frozen(user: Any, **given: Any) -> None:
    frozen = frozen_fields(user, Contact) & {name for name, value in given.items() if value is not None}
    if frozen:
        raise FieldErrors({name: [_("You may not change this field.")] for name in sorted(frozen)})


@refusals_told
def contact_create(
    *,
    model: type[Contact] = Contact,
    user: Any,
    data: dict[str, Any],
    emails: list[Any] | None = None,
    phones: list[Any] | None = None,
    accounts: list[Any] | None = None,
    tags: Iterable[str] | None = None,
    custom_fields: dict[str, Any] | None = None,
) -> Contact:
    """Add a contact with its emails, phones (normalised; E.164, default region CN) and account links.

    ``emails``/``phones`` items are texts or ``{"value", "label", "is_primary"}``; ``accounts`` items
    are ``{"account": id, "role": "…", "is_primary": bool}``. Errors name the item, e.g. ``phones.1``.
    """
    _check_extra_frozen(user, accounts=accounts)
    errors: dict[str, list[str]] = {}
    data = prepare_contact_data(data, current=None, user=user, emails=emails, phones=phones, errors=errors)
    links = _clean_links(user, accounts, errors) if accounts else []
    raise_if(errors)
    held = refuse_held(user, Contact, emails=point_values(data.get("emails")), phones=point_values(data.get("phones")))
    with transaction.atomic():
        contact = core_services.record_create(
            model=Contact, user=user, data=data, tags=tags, custom_fields=custom_fields
        )
        _sync_points(contact)
        timeline_add(subject=contact, kind=TimelineKind.CREATED, summary=_("Contact created"), actor=user)
        if links:
            _apply_links(user, contact, links, replace=False, merge_after=0)
        detect_after_commit(Contact, [contact.pk])
        held_saved(user, Contact, held)
    return contact


@refusals_told
def contact_update(
    *,
    model: type[Contact] = Contact,
    pk: Any,
    user: Any,
    data: dict[str, Any],
    expected_version: int | None = None,
    emails: list[Any] | None = None,
    phones: list[Any] | None = None,
    accounts: list[Any] | None = None,
    tags: Iterable[str] | None = None,
    custom_fields: dict[str, Any] | None = None,
) -> Contact:
    """Change a contact. Given ``emails``/``phones``/``accounts`` lists replace the current ones
    (links to accounts the user cannot see stay); the change log shows the lists before and after."""
    _check_extra_frozen(user, accounts=accounts)
    with service_atomic():
        current = core_services.record_lock(Contact, pk, user, Action.CHANGE)
        core_services.check_version(current, expected_version)
        errors: dict[str, list[str]] = {}
        data = prepare_contact_data(data, current=current, user=user, emails=emails, phones=phones, errors=errors)
        links = _clean_links(user, accounts, errors) if accounts is not None else None
        raise_if(errors)
        typed = {"emails": point_values(data.get("emails")), "phones": point_values(data.get("phones"))}
        held = refuse_held(user, Contact, exclude=current.pk, **new_keys(current, **typed))
        before_owner = current.owner_id
        log_marker = _last_entry_id(current) if links is not None else None
        points_before = (current.emails, current.phones)
        contact = core_services.record_update(
            model=Contact,
            pk=pk,
            user=user,
            data=data,
            expected_version=expected_version,
            tags=tags,
            custom_fields=custom_fields,
            locked=current,
        )
        if (contact.emails, contact.phones) != points_before:
            _sync_points(contact)
        if links is not None:
            _apply_links(user, contact, links, replace=True, merge_after=log_marker)
        if {"family_name", "given_name"} & set(data) or emails is not None or phones is not None or links:
            detect_after_commit(Contact, [contact.pk])
        if before_owner != contact.owner_id:
            names = user_names(before_owner, contact.owner_id)
            timeline_add(
                subject=contact,
                kind=TimelineKind.OWNER,
                summary=_("Owner: %(old)s → %(new)s") % {"old": names[before_owner], "new": names[contact.owner_id]},
                actor=user,
                data={"from": before_owner, "to": contact.owner_id},
            )
        held_saved(user, Contact, held)
    return contact


def contact_link_account(
    *, contact_id: Any, account_id: Any, user: Any, role: str = "", is_primary: bool = False
) -> AccountContact:
    """Link a contact (which the user may change) to an account (which the user may see), or update the link."""
    _check_extra_frozen(user, accounts=True)
    with transaction.atomic():
        contact = core_services.record_lock(Contact, contact_id, user, Action.CHANGE)
        errors: dict[str, list[str]] = {}
        links = _clean_links(user, [{"account": account_id, "role": role, "is_primary": is_primary}], errors)
        if errors:
            raise FieldErrors({key.replace("accounts.0.", ""): value for key, value in errors.items()})
        _apply_links(user, contact, links, replace=False)
        detect_after_commit(Contact, [contact.pk])
        return AccountContact.objects.select_related("account").get(contact=contact, account_id=account_id)


def contact_unlink_account(*, contact_id: Any, account_id: Any, user: Any) -> None:
    """Remove a contact's link to an account; 404 when there is no such link the user can see."""
    _check_extra_frozen(user, accounts=True)
    with transaction.atomic():
        contact = core_services.record_lock(Contact, contact_id, user, Action.CHANGE)
        link = AccountContact.objects.filter(
            visible_ref("account_id", restricted(Account, user)), contact=contact, account_id=account_id
        ).first()
        if link is None:
            raise NotFound()
        before = _link_rows(contact)
        link.delete()
        _touch(contact)
        search_reindex(Contact, [contact.pk])
        changelog_record(
            actor=user,
            obj=contact,
            action=ChangeAction.UPDATE,
            before={"accounts": before},
            after={"accounts": _link_rows(contact)},
        )
        name = Account.all_objects.filter(pk=account_id).values_list("name", flat=True).first() or "—"
        _link_timeline(user, contact, int(account_id), name, link.role, linked=False)
        _links_moved_engagement(contact, [int(account_id)])
