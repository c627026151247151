"""Writes on accounts, contacts, their links, tier rules and ideal customer profiles.

The API and the UI call these; they wrap ``core.services.record_*`` (permission re-checks inside the
transaction, version, change log) and add the customer rules: normalised contact points, the
Chinese/Western name order, parent cycles, hand-set tiers, timeline entries, and the background
recomputation of tiers and fit scores after a relevant change.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Iterator
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from guanxi.core import context
from guanxi.core import services as core_services
from guanxi.core.audit import changelog_record, diff
from guanxi.core.choices import Action, ChangeAction
from guanxi.core.errors import FieldErrors, NotFound
from guanxi.core.models import ChangeLogEntry, TimelineEntry
from guanxi.core.permissions import frozen_fields
from guanxi.core.timeline import timeline_add
from guanxi.customers import classification
from guanxi.customers.choices import (
    ContactPointKind,
    ContactPointLabel,
    LifecycleStage,
    Tier,
    TimelineKind,
    size_band_for,
)
from guanxi.customers.models import Account, AccountContact, Contact, ContactPoint, CustomerProfile, TierRule
from guanxi.customers.normalize import (
    DEFAULT_REGION,
    normalize_cn_province,
    normalize_country,
    normalize_email,
    normalize_phone,
    normalize_website,
    person_display_name,
    phone_digits_reversed,
)

#: Account fields that tier rules and customer profiles read: a change re-classifies the account.
CLASSIFYING_FIELDS = frozenset(
    {"annual_revenue", "size", "employee_count", "lifecycle_stage", "industry", "region", "province", "city"}
)
MAX_HIERARCHY_DEPTH = 20
MAX_CONTACT_POINTS = 20
BATCH_SIZE = 1000


def _raise_if(errors: dict[str, list[str]]) -> None:
    if errors:
        raise FieldErrors(errors)


def _strip(data: dict[str, Any], *names: str) -> None:
    for name in names:
        if isinstance(data.get(name), str):
            data[name] = " ".join(data[name].split()) if name != "street" else data[name].strip()


def _clean_place(data: dict[str, Any], current: Any, errors: dict[str, list[str]]) -> str:
    """Country code and, in China, the full province name; returns the province's region (or "")."""
    _strip(data, "province", "city", "district", "street", "postal_code")
    if "country" in data:
        try:
            data["country"] = normalize_country(data["country"] or "")
        except ValueError as exc:
            errors["country"] = [str(exc)]
            return ""
    country = data.get("country", getattr(current, "country", "CN"))
    if data.get("province") and country == "CN":
        try:
            data["province"], region = normalize_cn_province(data["province"])
        except ValueError as exc:
            errors["province"] = [str(exc)]
            return ""
        return region
    return ""


def _user_names(*user_ids: Any) -> dict[Any, str]:
    from guanxi.identity.models import User

    ids = [i for i in user_ids if i is not None]
    names = {u.pk: str(u) for u in User.objects.filter(pk__in=ids)} if ids else {}
    return {i: names.get(i, "—") for i in user_ids} | {None: "—"}


# --- accounts -------------------------------------------------------------------------------------


def _prepare_account_data(data: dict[str, Any], *, current: Account | None, user: Any) -> dict[str, Any]:
    data = dict(data)
    errors: dict[str, list[str]] = {}
    _strip(data, "name", "legal_name", "region")
    if "name" in data and not data["name"]:
        errors["name"] = [_("Give the account a name.")]
    if "website" in data:
        try:
            data["website"] = normalize_website(data["website"] or "")
        except ValueError as exc:
            errors["website"] = [str(exc)]
    if "currency" in data:
        currency = (data["currency"] or "").strip().upper()
        if len(currency) != 3 or not currency.isalpha():
            errors["currency"] = [_("Use a three-letter currency code such as CNY or USD.")]
        data["currency"] = currency
    region = _clean_place(data, current, errors)
    if region and "region" not in data and not (current and current.region):
        data["region"] = region  # territories usually follow the 大区 of the province
    if data.get("employee_count") is not None and "size" not in data:
        data["size"] = size_band_for(data["employee_count"])
    if data.get("annual_revenue") is not None and data["annual_revenue"] < 0:
        errors["annual_revenue"] = [_("Use 0 (not known) or more.")]
    tier_changed = "tier" in data and data["tier"] != (current.tier if current else "")
    if tier_changed and "tier_locked" not in data:
        # A tier set by hand sticks until someone unlocks it; clearing the tier hands it back to the rules.
        data["tier_locked"] = bool(data["tier"])
    if data.get("tier_locked") and (tier_changed or not (current and current.tier_locked)):
        data["tier_reason"] = _("Set by hand by %(user)s.") % {"user": str(user)}
    elif data.get("tier_locked") is False and current and current.tier_locked:
        data["tier_reason"] = ""
    _raise_if(errors)
    return data


def _check_parent(user: Any, account_pk: Any, parent_id: Any) -> None:
    """The parent must be an account the user can see, and not the account or one below it."""
    if parent_id is None:
        return
    if not Account.objects.restrict(user, Action.VIEW).filter(pk=parent_id).exists():
        raise FieldErrors({"parent": [_("No account with id %(id)s.") % {"id": parent_id}]})
    if account_pk is not None and str(parent_id) == str(account_pk):
        raise FieldErrors({"parent": [_("An account cannot be its own parent.")]})
    current, depth = parent_id, 0
    while current is not None:
        if account_pk is not None and str(current) == str(account_pk):
            raise FieldErrors({"parent": [_("This parent is already below this account; that would make a loop.")]})
        depth += 1
        if depth > MAX_HIERARCHY_DEPTH:
            raise FieldErrors(
                {"parent": [_("Account groups are at most %(depth)s levels deep.") % {"depth": MAX_HIERARCHY_DEPTH}]}
            )
        # Locking each ancestor makes two crossing moves (A under B, B under A) wait for each other.
        current = Account.all_objects.select_for_update().filter(pk=current).values_list("parent_id", flat=True).first()


def _classify_after_commit(account_ids: list[int] | None, *, tiers: bool = True, fit: bool = True) -> None:
    """Queue tier and fit recomputation once the transaction commits (None = every account)."""
    from guanxi.customers import tasks

    def enqueue() -> None:
        ids = list(account_ids) if account_ids is not None else None
        if tiers and (ids is None or TierRule.objects.filter(is_active=True).exists()):
            tasks.account_tier_recompute_task.enqueue(account_ids=ids)
        if fit and (ids is None or CustomerProfile.objects.filter(is_active=True).exists()):
            tasks.account_fit_recompute_task.enqueue(account_ids=ids)

    transaction.on_commit(enqueue, robust=True)


def account_create(
    *,
    model: type[Account] = Account,
    user: Any,
    data: dict[str, Any],
    tags: Iterable[str] | None = None,
    custom_fields: dict[str, Any] | None = None,
) -> Account:
    """Add an account; its tier and fit score follow from the rules and profiles once committed."""
    data = _prepare_account_data(data, current=None, user=user)
    with transaction.atomic():
        _check_parent(user, None, data.get("parent_id"))
        account = core_services.record_create(
            model=Account, user=user, data=data, tags=tags, custom_fields=custom_fields
        )
        timeline_add(subject=account, kind=TimelineKind.CREATED, summary=_("Account created"), actor=user)
        _classify_after_commit([account.pk], tiers=not account.tier_locked)
    return account


def account_update(
    *,
    model: type[Account] = Account,
    pk: Any,
    user: Any,
    data: dict[str, Any],
    expected_version: int | None = None,
    tags: Iterable[str] | None = None,
    custom_fields: dict[str, Any] | None = None,
) -> Account:
    """Change an account: refuses parent loops, locks a hand-set tier, puts notable changes on the timeline."""
    with transaction.atomic():
        current = core_services._lock(Account, pk, user, Action.CHANGE)
        core_services._check_version(current, expected_version)
        data = _prepare_account_data(data, current=current, user=user)
        if "parent_id" in data and data["parent_id"] != current.parent_id:
            _check_parent(user, current.pk, data["parent_id"])
        before = {name: getattr(current, name) for name in (*CLASSIFYING_FIELDS, "owner_id", "parent_id", "tier")}
        before_locked = current.tier_locked
        account = core_services.record_update(
            model=Account,
            pk=pk,
            user=user,
            data=data,
            expected_version=expected_version,
            tags=tags,
            custom_fields=custom_fields,
        )
        _account_timeline(account, before, user)
        reclassify = any(before[name] != getattr(account, name) for name in CLASSIFYING_FIELDS)
        if reclassify or (before_locked and not account.tier_locked):
            _classify_after_commit([account.pk], tiers=not account.tier_locked)
    return account


def _account_timeline(account: Account, before: dict[str, Any], user: Any) -> None:
    if before["lifecycle_stage"] != account.lifecycle_stage:
        timeline_add(
            subject=account,
            kind=TimelineKind.LIFECYCLE_STAGE,
            summary=_("Lifecycle stage: %(old)s → %(new)s")
            % {
                "old": LifecycleStage(before["lifecycle_stage"]).label,
                "new": LifecycleStage(account.lifecycle_stage).label,
            },
            actor=user,
            data={"from": before["lifecycle_stage"], "to": account.lifecycle_stage},
        )
    if before["owner_id"] != account.owner_id:
        names = _user_names(before["owner_id"], account.owner_id)
        timeline_add(
            subject=account,
            kind=TimelineKind.OWNER,
            summary=_("Owner: %(old)s → %(new)s") % {"old": names[before["owner_id"]], "new": names[account.owner_id]},
            actor=user,
            data={"from": before["owner_id"], "to": account.owner_id},
        )
    if before["parent_id"] != account.parent_id:
        parents: dict[Any, str] = dict(
            Account.all_objects.filter(pk__in=[p for p in (before["parent_id"], account.parent_id) if p]).values_list(
                "pk", "name"
            )
        )
        timeline_add(
            subject=account,
            kind=TimelineKind.PARENT,
            summary=_("Parent account: %(old)s → %(new)s")
            % {"old": parents.get(before["parent_id"], "—"), "new": parents.get(account.parent_id, "—")},
            actor=user,
            data={"from": before["parent_id"], "to": account.parent_id},
        )
    if before["tier"] != account.tier:
        timeline_add(
            subject=account,
            kind=TimelineKind.TIER,
            summary=_tier_change_summary(before["tier"], account.tier),
            body=account.tier_reason,
            actor=user,
            data={"from": before["tier"], "to": account.tier, "by_hand": account.tier_locked},
        )


def _tier_label(tier: str) -> str:
    return str(Tier(tier).label) if tier else _("no tier")


def _tier_change_summary(old: str, new: str) -> str:
    return _("Tier: %(old)s → %(new)s") % {"old": _tier_label(old), "new": _tier_label(new)}


# --- recomputation jobs -----------------------------------------------------------------------------


def _id_batches(account_ids: Iterable[int] | None, size: int) -> Iterator[list[int]]:
    if account_ids is not None:
        ids = sorted({int(i) for i in account_ids})
        for start in range(0, len(ids), size):
            yield ids[start : start + size]
        return
    last = 0
    while True:
        ids = list(Account.objects.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:size])
        if not ids:
            return
        yield ids
        last = ids[-1]


def _write_job_changes(rows: list[tuple[Account, dict[str, Any], dict[str, Any]]], fields: list[str]) -> None:
    """Save the recomputed fields of many accounts and log each change, in bulk."""
    if not rows:
        return
    now = timezone.now()
    for account, _before, _after in rows:
        account.version += 1
        account.updated_at = now
    Account.all_objects.bulk_update([r[0] for r in rows], [*fields, "version", "updated_at"])
    ctx = context.current()
    ct = ContentType.objects.get_for_model(Account, for_concrete_model=False)
    ChangeLogEntry.objects.bulk_create(
        [
            ChangeLogEntry(
                actor=None,
                actor_repr="",
                source=ctx.source,
                request_id=ctx.request_id,
                action=ChangeAction.UPDATE,
                content_type=ct,
                object_id=account.pk,
                object_repr=str(account)[:200],
                changes=diff(before, after),
            )
            for account, before, after in rows
        ]
    )


def account_tier_recompute(*, account_ids: Iterable[int] | None = None, batch_size: int = BATCH_SIZE) -> dict[str, int]:
    """Apply the active tier rules to accounts (all live ones when ``account_ids`` is None).

    Hand-set tiers (``tier_locked``) are left alone (counted as "locked"). Each changed account gets a change-log entry
    (source from the write context: "job" in the task) and, when the tier itself moved, a timeline
    entry. Batches are locked and written one transaction at a time.
    """
    rules = classification.active_tier_rules()
    checked = changed = locked = 0
    # Stored reasons are in the install's language, whatever request happened to trigger the job.
    with translation.override(settings.LANGUAGE_CODE):
        for ids in _id_batches(account_ids, batch_size):
            with transaction.atomic():
                accounts = list(Account.objects.select_for_update().filter(pk__in=ids))
                rows = []
                timeline: list[TimelineEntry] = []
                for account in accounts:
                    checked += 1
                    if account.tier_locked:
                        locked += 1
                        continue
                    tier, reason = classification.tier_for(account, rules)
                    if (tier, reason) == (account.tier, account.tier_reason):
                        continue
                    before = {"tier": account.tier, "tier_reason": account.tier_reason}
                    if tier != account.tier:
                        timeline.append(
                            TimelineEntry(
                                content_type=ContentType.objects.get_for_model(Account, for_concrete_model=False),
                                object_id=account.pk,
                                kind=TimelineKind.TIER,
                                summary=_tier_change_summary(account.tier, tier),
                                body=reason,
                                data={"from": account.tier, "to": tier, "by_hand": False},
                                at=timezone.now(),
                            )
                        )
                    account.tier, account.tier_reason = tier, reason
                    rows.append((account, before, {"tier": tier, "tier_reason": reason}))
                _write_job_changes(rows, ["tier", "tier_reason"])
                TimelineEntry.objects.bulk_create(timeline)
                changed += len(rows)
    return {"checked": checked, "changed": changed, "locked": locked}


def account_fit_recompute(*, account_ids: Iterable[int] | None = None, batch_size: int = BATCH_SIZE) -> dict[str, int]:
    """Score accounts against every active ideal customer profile and keep the best fit.

    The change log records score and profile changes (the explanation is derived and stays out of it).
    """
    profiles = classification.active_profiles()
    checked = changed = 0
    with translation.override(settings.LANGUAGE_CODE):
        for ids in _id_batches(account_ids, batch_size):
            with transaction.atomic():
                accounts = list(Account.objects.select_for_update().filter(pk__in=ids))
                rows = []
                for account in accounts:
                    checked += 1
                    score, profile, explanation = classification.best_fit(account, profiles)
                    profile_id = profile.pk if profile else None
                    if (score, profile_id, explanation) == (
                        account.fit_score,
                        account.fit_profile_id,
                        account.fit_explanation,
                    ):
                        continue
                    before = {"fit_score": account.fit_score, "fit_profile": account.fit_profile_id}
                    account.fit_score, account.fit_profile_id, account.fit_explanation = score, profile_id, explanation
                    rows.append((account, before, {"fit_score": score, "fit_profile": profile_id}))
                _write_job_changes(rows, ["fit_score", "fit_profile", "fit_explanation"])
                changed += len(rows)
    return {"checked": checked, "changed": changed}


# --- contacts -------------------------------------------------------------------------------------


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
                if extension and (not extension.isdigit() or len(extension) > 8):
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


def _prepare_contact_data(
    data: dict[str, Any],
    *,
    current: Contact | None,
    user: Any,
    emails: Any,
    phones: Any,
    errors: dict[str, list[str]],
) -> dict[str, Any]:
    data = dict(data)
    _strip(data, "family_name", "given_name", "title", "department", "wechat_id")
    family = data.get("family_name", current.family_name if current else "")
    given = data.get("given_name", current.given_name if current else "")
    if current is None or {"family_name", "given_name"} & set(data):
        if not family and not given:
            errors["family_name"] = [_("Give a family name, a given name or both.")]
        display = person_display_name(family, given)
        if current is None or display != current.display_name:
            data["display_name"] = display
    _clean_place(data, current, errors)
    region = data.get("country", current.country if current else DEFAULT_REGION) or DEFAULT_REGION
    if emails is not None:
        data["emails"] = _clean_points("emails", emails, region=region, errors=errors)
    if phones is not None:
        data["phones"] = _clean_points("phones", phones, region=region, errors=errors)
    birthday = data.get("birthday")
    if isinstance(birthday, datetime.date) and birthday > timezone.localdate():
        errors["birthday"] = [_("A birthday cannot be in the future.")]
    now = timezone.now()
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


def _apply_links(user: Any, contact: Contact, links: list[dict[str, Any]], *, replace: bool) -> None:
    """Create/update the given links; with ``replace``, drop links to other accounts the user can see.

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
    changelog_record(
        actor=user, obj=contact, action=ChangeAction.UPDATE, before={"accounts": before}, after={"accounts": after}
    )
    for account_id in added:
        role = wanted[account_id]["role"]
        _link_timeline(user, contact, account_id, names.get(account_id, "—"), role, linked=True)
    for account_id in removed:
        _link_timeline(user, contact, account_id, names.get(account_id, "—"), existing[account_id].role, linked=False)


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
    data = _prepare_contact_data(data, current=None, user=user, emails=emails, phones=phones, errors=errors)
    links = _clean_links(user, accounts, errors) if accounts else []
    _raise_if(errors)
    with transaction.atomic():
        contact = core_services.record_create(
            model=Contact, user=user, data=data, tags=tags, custom_fields=custom_fields
        )
        _sync_points(contact)
        timeline_add(subject=contact, kind=TimelineKind.CREATED, summary=_("Contact created"), actor=user)
        if links:
            _apply_links(user, contact, links, replace=False)
    return contact


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
    with transaction.atomic():
        current = core_services._lock(Contact, pk, user, Action.CHANGE)
        core_services._check_version(current, expected_version)
        errors: dict[str, list[str]] = {}
        data = _prepare_contact_data(data, current=current, user=user, emails=emails, phones=phones, errors=errors)
        links = _clean_links(user, accounts, errors) if accounts is not None else None
        _raise_if(errors)
        before_owner = current.owner_id
        points_before = (current.emails, current.phones)
        contact = core_services.record_update(
            model=Contact,
            pk=pk,
            user=user,
            data=data,
            expected_version=expected_version,
            tags=tags,
            custom_fields=custom_fields,
        )
        if (contact.emails, contact.phones) != points_before:
            _sync_points(contact)
        if links is not None:
            _apply_links(user, contact, links, replace=True)
        if before_owner != contact.owner_id:
            names = _user_names(before_owner, contact.owner_id)
            timeline_add(
                subject=contact,
                kind=TimelineKind.OWNER,
                summary=_("Owner: %(old)s → %(new)s") % {"old": names[before_owner], "new": names[contact.owner_id]},
                actor=user,
                data={"from": before_owner, "to": contact.owner_id},
            )
    return contact


def contact_link_account(
    *, contact_id: Any, account_id: Any, user: Any, role: str = "", is_primary: bool = False
) -> AccountContact:
    """Link a contact (which the user may change) to an account (which the user may see), or update the link."""
    _check_extra_frozen(user, accounts=True)
    with transaction.atomic():
        contact = core_services._lock(Contact, contact_id, user, Action.CHANGE)
        errors: dict[str, list[str]] = {}
        links = _clean_links(user, [{"account": account_id, "role": role, "is_primary": is_primary}], errors)
        if errors:
            raise FieldErrors({key.replace("accounts.0.", ""): value for key, value in errors.items()})
        _apply_links(user, contact, links, replace=False)
        return AccountContact.objects.select_related("account").get(contact=contact, account_id=account_id)


def contact_unlink_account(*, contact_id: Any, account_id: Any, user: Any) -> None:
    """Remove a contact's link to an account; 404 when there is no such link the user can see."""
    _check_extra_frozen(user, accounts=True)
    with transaction.atomic():
        contact = core_services._lock(Contact, contact_id, user, Action.CHANGE)
        link = AccountContact.objects.filter(
            contact=contact,
            account_id=account_id,
            account__in=Account.objects.restrict(user, Action.VIEW).values("pk"),
        ).first()
        if link is None:
            raise NotFound()
        before = _link_rows(contact)
        link.delete()
        _touch(contact)
        changelog_record(
            actor=user,
            obj=contact,
            action=ChangeAction.UPDATE,
            before={"accounts": before},
            after={"accounts": _link_rows(contact)},
        )
        name = Account.all_objects.filter(pk=account_id).values_list("name", flat=True).first() or "—"
        _link_timeline(user, contact, int(account_id), name, link.role, linked=False)


# --- tier rules and profiles ------------------------------------------------------------------------


def _prepare_setting(data: dict[str, Any], *, json_field: str, creating: bool) -> dict[str, Any]:
    data = dict(data)
    errors: dict[str, list[str]] = {}
    _strip(data, "name")
    if (creating or "name" in data) and not data.get("name"):
        errors["name"] = [_("Give it a name.")]
    _raise_if(errors)
    if json_field in data:
        data[json_field] = classification.clean_criteria(data[json_field], field=json_field)
    return data


def tier_rule_create(*, model: type[TierRule] = TierRule, user: Any, data: dict[str, Any]) -> TierRule:
    """Add a tier rule; every account's tier is recomputed after commit."""
    data = _prepare_setting(data, json_field="conditions", creating=True)
    with transaction.atomic():
        rule = core_services.record_create(model=TierRule, user=user, data=data)
        _classify_after_commit(None, fit=False)
    return rule


def tier_rule_update(
    *, model: type[TierRule] = TierRule, pk: Any, user: Any, data: dict[str, Any], expected_version: int | None = None
) -> TierRule:
    """Change a tier rule; every account's tier is recomputed after commit."""
    data = _prepare_setting(data, json_field="conditions", creating=False)
    with transaction.atomic():
        rule = core_services.record_update(
            model=TierRule, pk=pk, user=user, data=data, expected_version=expected_version
        )
        _classify_after_commit(None, fit=False)
    return rule


def tier_rule_delete(
    *, model: type[TierRule] = TierRule, pk: Any, user: Any, expected_version: int | None = None
) -> TierRule:
    """Delete a tier rule (the change log keeps it); tiers are recomputed after commit."""
    with transaction.atomic():
        rule = core_services.record_delete(model=TierRule, pk=pk, user=user, expected_version=expected_version)
        _classify_after_commit(None, fit=False)
    return rule


def _prepare_profile(data: dict[str, Any], *, current: CustomerProfile | None) -> dict[str, Any]:
    data = _prepare_setting(data, json_field="criteria", creating=current is None)
    if "name" in data:
        clash = CustomerProfile.objects.filter(name__iexact=data["name"])
        if current is not None:
            clash = clash.exclude(pk=current.pk)
        if clash.exists():
            raise FieldErrors({"name": [_("A profile with this name already exists.")]})
    if "weights" in data:
        criteria = data.get("criteria", current.criteria if current else {})
        data["weights"] = classification.clean_weights(data["weights"], criteria)
    return data


def customer_profile_create(
    *, model: type[CustomerProfile] = CustomerProfile, user: Any, data: dict[str, Any]
) -> CustomerProfile:
    """Add an ideal customer profile; fit scores are recomputed after commit."""
    data = _prepare_profile(data, current=None)
    with transaction.atomic():
        profile = core_services.record_create(model=CustomerProfile, user=user, data=data)
        _classify_after_commit(None, tiers=False)
    return profile


def customer_profile_update(
    *,
    model: type[CustomerProfile] = CustomerProfile,
    pk: Any,
    user: Any,
    data: dict[str, Any],
    expected_version: int | None = None,
) -> CustomerProfile:
    """Change an ideal customer profile; fit scores are recomputed after commit."""
    with transaction.atomic():
        current = core_services._lock(CustomerProfile, pk, user, Action.CHANGE)
        data = _prepare_profile(data, current=current)
        profile = core_services.record_update(
            model=CustomerProfile, pk=pk, user=user, data=data, expected_version=expected_version
        )
        _classify_after_commit(None, tiers=False)
    return profile


def customer_profile_delete(
    *, model: type[CustomerProfile] = CustomerProfile, pk: Any, user: Any, expected_version: int | None = None
) -> CustomerProfile:
    """Delete an ideal customer profile; fit scores are recomputed after commit."""
    with transaction.atomic():
        profile = core_services.record_delete(
            model=CustomerProfile, pk=pk, user=user, expected_version=expected_version
        )
        _classify_after_commit(None, tiers=False)
    return profile


__all__ = [
    "account_create",
    "account_update",
    "account_tier_recompute",
    "account_fit_recompute",
    "contact_create",
    "contact_update",
    "contact_link_account",
    "contact_unlink_account",
    "tier_rule_create",
    "tier_rule_update",
    "tier_rule_delete",
    "customer_profile_create",
    "customer_profile_update",
    "customer_profile_delete",
]
