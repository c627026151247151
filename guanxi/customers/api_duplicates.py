"""``/api/v1/duplicates``: the review queue of possible duplicates, dismissing a pair, merging, undoing a merge.

A pair is listed only when the user may see both records; a merge needs "change" on the survivor and
"delete" on the others (``guanxi.customers.services.merge``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Router, Schema
from pydantic import ConfigDict

from guanxi.api.crud import json_response, plain, require_token_scope
from guanxi.core.choices import Action
from guanxi.core.errors import FieldErrors, PermissionDenied
from guanxi.core.filters import record_id
from guanxi.core.pagination import paginate, parse_limit
from guanxi.core.permissions import hidden_fields, may_reach, object_type_of, restricted, token_allows, visible_ref
from guanxi.customers.choices import ContactPointKind
from guanxi.customers.duplicates import (
    BLOCK_LIMIT,
    NAME_THRESHOLD,
    account_dup_key,
    contact_dup_key,
    name_similarity,
    reason_text,
)
from guanxi.customers.filters import account_ids
from guanxi.customers.guard import find_held, guard_of, new_keys
from guanxi.customers.models import (
    Account,
    AccountContact,
    Contact,
    ContactPoint,
    DuplicateCandidate,
    DuplicateStatus,
    Merge,
)
from guanxi.customers.normalize import compact_registration_number, normalize_email, normalize_phone, phone_display
from guanxi.customers.services import merge as merge_services
from guanxi.identity.models import DuplicateGuard

router = Router(tags=["duplicates"])

TYPES = {"contacts": "contact", "accounts": "account"}
ORDERINGS = ("-id", "id", "-score", "score")


#: How many existing records a check before saving names.
CHECK_LIMIT = 5
#: At most this many accounts named alike count as "the same company" for a check by name (a name
#: that thousands of accounts share, 测试公司, must not make the check read them all).
COMPANY_LIMIT = 1000


def typed_lines(values: list[str]) -> list[str]:
    """Emails or phones as a form or a query string gives them: one per line or comma, several params."""
    return [part.strip() for value in values for part in re.split(r"[\n,;，；]", value) if part.strip()][:20]


def existing_matches(
    user: Any,
    model: type[Any],
    *,
    emails: Sequence[str] = (),
    phones: Sequence[str] = (),
    name: str = "",
    family_name: str = "",
    given_name: str = "",
    accounts: Sequence[int] = (),
    registration_number: str = "",
    exclude: int | None = None,
) -> list[tuple[Any, list[str]]]:
    """The live records the user may see that a record about to be saved may duplicate, each with
    its reasons: contacts by email or phone (normalised as the contact services save them; what does
    not parse is not looked up) and by name at the same company (as detection pairs them after
    saving), accounts by registration number and by name (the detection's blocking key and
    similarity)."""
    if model is Contact:
        found = dict(_contacts_with_points(user, emails, phones, exclude))
        for obj, reasons in _contacts_named_alike(user, family_name[:100], given_name[:100], accounts, exclude):
            found.setdefault(obj, []).extend(reasons)
        return list(found.items())[:CHECK_LIMIT]
    found = dict(_accounts_numbered(user, registration_number[:60], exclude))
    for obj, reasons in _accounts_named_alike(user, name[:200], exclude):
        found.setdefault(obj, []).extend(reasons)
    return list(found.items())[:CHECK_LIMIT]


def _accounts_numbered(user: Any, registration_number: str, exclude: int | None) -> list[tuple[Any, list[str]]]:
    """Accounts with this registration number as typed (compacted, checked or not: a wrong check
    character is the form's error to tell)."""
    number = compact_registration_number(registration_number)
    # A role that may not read the number may not probe which account holds one either.
    if not number or "registration_number" in hidden_fields(user, Account):
        return []
    same = restricted(Account, user, Action.VIEW).filter(registration_number=number).order_by("id")
    if exclude is not None:
        same = same.exclude(pk=exclude)
    reason = _("same registration number %(value)s") % {"value": number}
    return [(obj, [reason]) for obj in same[:CHECK_LIMIT]]


def _typed_points(emails: Sequence[str], phones: Sequence[str]) -> dict[tuple[str, str], str]:
    """(kind, value as stored) -> the reason's words, for the emails and phones typed that parse."""
    wanted: dict[tuple[str, str], str] = {}
    for raw in emails:
        try:
            wanted[(ContactPointKind.EMAIL, normalize_email(raw))] = _("same email %(value)s")
        except ValueError:
            continue
    for raw in phones:
        try:
            wanted[(ContactPointKind.PHONE, normalize_phone(raw).e164)] = _("same phone %(value)s")
        except ValueError:
            continue
    return wanted


def _contacts_with_points(
    user: Any, emails: Sequence[str], phones: Sequence[str], exclude: int | None
) -> list[tuple[Any, list[str]]]:
    wanted = _typed_points(emails, phones)
    if not wanted:
        return []
    match = Q()
    for kind, value in wanted:
        match |= Q(kind=kind, value=value)
    visible = restricted(Contact, user, Action.VIEW)
    points = ContactPoint.objects.filter(match).filter(visible_ref("contact_id", visible))
    if exclude is not None:
        points = points.exclude(contact_id=exclude)
    reasons: dict[int, list[str]] = {}
    for contact_id, kind, value in points.values_list("contact_id", "kind", "value")[: CHECK_LIMIT * 4]:
        shown = phone_display(value) if kind == ContactPointKind.PHONE else value
        reasons.setdefault(contact_id, []).append(wanted[(kind, value)] % {"value": shown})
    found = Contact.objects.in_bulk(list(reasons)[:CHECK_LIMIT])
    return [(obj, reasons[pk]) for pk, obj in found.items()]


def _contacts_named_alike(
    user: Any, family_name: str, given_name: str, accounts: Sequence[int], exclude: int | None
) -> list[tuple[Any, list[str]]]:
    """Contacts with a name alike at the company chosen in the form: one of its accounts, or an
    account whose name blocks with it (阿里巴巴 and 阿里巴巴（中国）有限公司), as detection reads "the
    same company". A name alone is not asked about: 张伟 is thousands of people."""
    key = contact_dup_key(family_name, given_name)
    visible_accounts = restricted(Account, user, Action.VIEW).filter(pk__in=list(accounts)[:20])
    chosen = {
        pk: (account_key, name) for pk, account_key, name in visible_accounts.values_list("pk", "dup_key", "name")
    }
    if not key or not chosen:
        return []
    # Each company account -> the chosen account it stands for (the one the reason names).
    company = {pk: pk for pk in chosen}
    by_key = {account_key: pk for pk, (account_key, _name) in chosen.items() if account_key}
    alike = Account.objects.filter(dup_key__in=list(by_key)).values_list("pk", "dup_key")
    for pk, account_key in alike[:COMPANY_LIMIT]:
        company.setdefault(pk, by_key[account_key])
    visible = restricted(Contact, user, Action.VIEW)
    links = AccountContact.objects.filter(
        visible_ref("contact_id", visible), account_id__in=list(company), contact__dup_key=key
    ).order_by("contact_id")
    if exclude is not None:
        links = links.exclude(contact_id=exclude)
    at: dict[int, int] = {}
    for contact_id, account_id in links.values_list("contact_id", "account_id")[:BLOCK_LIMIT]:
        at.setdefault(contact_id, company[account_id])
    names = {pk: name for pk, (_key, name) in chosen.items()}
    typed = f"{family_name} {given_name}"
    found = []
    for pk, obj in Contact.objects.in_bulk(list(at)).items():
        score = name_similarity(typed, obj.display_name)
        if score >= NAME_THRESHOLD:
            reason = {"kind": "name", "similarity": score, "account": at[pk]}
            found.append((obj, [reason_text(reason, names)]))
    return found


def _accounts_named_alike(user: Any, name: str, exclude: int | None) -> list[tuple[Any, list[str]]]:
    key = account_dup_key(name) if name.strip() else ""
    if not key:
        return []
    block = restricted(Account, user, Action.VIEW).filter(dup_key=key).order_by("id")
    if exclude is not None:
        block = block.exclude(pk=exclude)
    found = []
    for obj in block[:BLOCK_LIMIT]:
        score = name_similarity(name, obj.name, company=True)
        if score >= NAME_THRESHOLD:
            found.append((obj, [_("company name %(similarity)s%% similar") % {"similarity": score}]))
    return found[:CHECK_LIMIT]


def involving(pairs: QuerySet[DuplicateCandidate], record_type: str, pk: int) -> QuerySet[DuplicateCandidate]:
    """The pairs one record is in, on either side.

    Their ids are read first, from the unique pair index (low side) and the high-id index: a record
    is in few pairs. Written as one condition (``low_id = pk OR high_id = pk``) beside the status,
    both engines read the whole queue index instead and checked every open pair of the type: 23,659
    at 200,000 accounts, 8 ms on SQLite and 5 ms on PostgreSQL on every account's page."""
    side = DuplicateCandidate.objects.filter(record_type=record_type).order_by()
    low = side.filter(low_id=pk).values_list("pk", flat=True)
    ids = list(low.union(side.filter(high_id=pk).values_list("pk", flat=True)))
    return pairs.filter(pk__in=ids)


def matches_asked(user: Any, model: type[Any], params: Any) -> list[tuple[Any, list[str]]]:
    """``existing_matches`` for a query string (the API's and the form's): ``emails`` and
    ``phones`` repeated or separated by commas, ``name``, ``family_name``, ``given_name`` and the
    ``accounts`` chosen, ``registration_number``, and the record to leave out."""
    exclude = params.get("exclude", "")
    return existing_matches(
        user,
        model,
        emails=typed_lines(params.getlist("emails")),
        phones=typed_lines(params.getlist("phones")),
        name=str(params.get("name", "")),
        family_name=str(params.get("family_name", "")),
        given_name=str(params.get("given_name", "")),
        accounts=account_ids("accounts", ",".join(params.getlist("accounts"))),
        registration_number=str(params.get("registration_number", "")),
        exclude=record_id(exclude),
    )


def elsewhere_asked(user: Any, model: type[Any], params: Any) -> list[dict[str, Any]]:
    """Records the user may not see that the one being written duplicates by an exact key (or, an
    account, by a similar name), as their role tells of them (撞单保护, ``guard.find_held``), for the
    same query string as ``matches_asked``; ``refused`` when saving it will be refused. While editing
    a record (``exclude``) only the keys that differ from the record's are looked up, as the update
    service guards only those: an old duplicate's page does not warn of what it always had."""
    guard = guard_of(user)
    if guard == DuplicateGuard.OFF:
        return []
    points = _typed_points(typed_lines(params.getlist("emails")), typed_lines(params.getlist("phones")))
    keys: dict[str, Any] = {
        "emails": [value for kind, value in points if kind == ContactPointKind.EMAIL],
        "phones": [value for kind, value in points if kind == ContactPointKind.PHONE],
        "name": str(params.get("name", ""))[:200].strip(),
        "registration_number": compact_registration_number(str(params.get("registration_number", ""))[:60]),
    }
    if params.get("exclude"):
        editing = restricted(model, user, Action.VIEW).filter(pk=record_id(params["exclude"])).first()
        if editing is None:
            return []  # a record one may not see is no record one edits: nothing to say
        keys = {**new_keys(editing, **keys), "exclude": editing.pk}
    held = find_held(user, model, **keys)
    refused = guard == DuplicateGuard.REFUSE
    return [record.as_json(refused=refused) for record in held]


def record_type_param(value: str | None) -> str:
    if value not in TYPES:
        raise FieldErrors({"type": [_('Use "contacts" or "accounts".')]})
    return TYPES[value]


def candidates_visible(user: Any, record_type: str) -> QuerySet[DuplicateCandidate]:
    """Pairs whose two records the user may both see (records in the recycle bin are never listed)."""
    model = merge_services.model_for(record_type)
    visible = restricted(model, user, Action.VIEW)
    return DuplicateCandidate.objects.filter(
        visible_ref("low_id", visible), visible_ref("high_id", visible), record_type=record_type
    )


def record_summaries(model: type[Any], ids: list[int], user: Any) -> dict[int, dict[str, Any]]:
    """What the queue shows of each record, in one query, without the fields the user's role hides."""
    hidden = hidden_fields(user, model)
    out: dict[int, dict[str, Any]] = {}
    for obj in restricted(model, user, Action.VIEW).filter(pk__in=ids):
        if model is Contact:
            data = {
                "id": obj.pk,
                "display": obj.display_name,
                "title": "" if "title" in hidden else obj.title,
                "email": None if "emails" in hidden or not obj.emails else obj.emails[0]["value"],
                "phone": None if "phones" in hidden or not obj.phones else obj.phones[0]["value"],
            }
        else:
            data = {
                "id": obj.pk,
                "display": obj.name,
                "city": "" if "city" in hidden else obj.city,
                "website": "" if "website" in hidden else obj.website,
            }
        out[obj.pk] = data
    return out


def account_names(candidates: list[DuplicateCandidate], user: Any) -> dict[int, str]:
    """Names of the companies the reasons mention, for those the user may see (one query)."""
    ids = {r.get("account") for c in candidates for r in c.reasons or [] if isinstance(r, dict) and r.get("account")}
    if not ids:
        return {}
    return dict(restricted(Account, user, Action.VIEW).filter(pk__in=ids).values_list("pk", "name"))


def candidate_json(
    candidate: DuplicateCandidate, records: dict[int, dict[str, Any]], companies: dict[int, str]
) -> dict[str, Any]:
    reasons = [r for r in candidate.reasons or [] if isinstance(r, dict)]
    return {
        "id": candidate.pk,
        "type": "contacts" if candidate.record_type == "contact" else "accounts",
        "records": [records.get(candidate.low_id), records.get(candidate.high_id)],
        "score": candidate.score,
        "reasons": [{**r, "text": reason_text(r, companies)} for r in reasons],
        "status": candidate.status,
        "created_at": plain(candidate.created_at),
        "resolved_at": plain(candidate.resolved_at),
        "merge": candidate.merge_id,
    }


def candidates_page_json(candidates: list[DuplicateCandidate], record_type: str, user: Any) -> list[dict[str, Any]]:
    model = merge_services.model_for(record_type)
    ids = sorted({pk for c in candidates for pk in (c.low_id, c.high_id)})
    records = record_summaries(model, ids, user) if ids else {}
    companies = account_names(candidates, user)
    return [candidate_json(c, records, companies) for c in candidates]


def merge_json(merge: Merge, user: Any) -> dict[str, Any]:
    model = merge_services.model_for(merge.record_type)
    names = dict(
        model.all_objects.filter(pk__in=[merge.survivor_id, *merge.loser_ids]).values_list(
            "pk", "display_name" if model is Contact else "name"
        )
    )
    problem = merge_services.merge_undo_problem(merge)
    return {
        "id": merge.pk,
        "type": "contacts" if merge.record_type == "contact" else "accounts",
        "survivor": {"id": merge.survivor_id, "display": names.get(merge.survivor_id, f"#{merge.survivor_id}")},
        "others": [{"id": pk, "display": names.get(pk, f"#{pk}")} for pk in merge.loser_ids],
        "fields": merge.fields,
        "status": merge.status,
        "created_at": plain(merge.created_at),
        "user": merge.user_id,
        "undone_at": plain(merge.undone_at),
        "undone_by": merge.undone_by_id,
        "can_undo": problem is None,
        "undo_problem": problem,
    }


class MergeIn(Schema):
    """Which record survives, which merge into it, and per field the record whose value wins."""

    model_config = ConfigDict(extra="forbid")
    type: str
    survivor: int
    others: list[int]
    fields: dict[str, int] = {}


@router.get("", summary="Possible duplicates waiting for review (pairs whose two records you may see)")
def duplicates_list(
    request: HttpRequest,
    type: str = "contacts",
    status: str = DuplicateStatus.OPEN,
    record: int | None = None,
    ordering: str = "-id",
    cursor: str | None = None,
    limit: int | None = None,
) -> HttpResponse:
    record_type = record_type_param(type)
    model = merge_services.model_for(record_type)
    require_token_scope(request, object_type_of(model), Action.VIEW)
    if not may_reach(request.user, model, Action.VIEW):
        raise PermissionDenied()
    if status not in DuplicateStatus.values:
        raise FieldErrors({"status": [_("Use one of: %(values)s.") % {"values": ", ".join(DuplicateStatus.values)}]})
    if ordering not in ORDERINGS:
        raise FieldErrors({"ordering": [_("Use one of: %(values)s.") % {"values": ", ".join(ORDERINGS)}]})
    qs = candidates_visible(request.user, record_type).filter(status=status)
    if record is not None:
        qs = involving(qs, record_type, record)
    page = paginate(qs, ordering, cursor, parse_limit(limit))
    return json_response(
        {"items": candidates_page_json(page.items, record_type, request.user), "next_cursor": page.next_cursor}
    )


@router.get("/check", summary="Before creating a contact (emails, phones) or an account (name): does it exist?")
def duplicates_check(
    request: HttpRequest,
    type: str = "contacts",
    name: str = "",
    family_name: str = "",
    given_name: str = "",
    exclude: int | None = None,
) -> HttpResponse:
    """Records you may see that the one about to be created may duplicate, with the reasons. Give
    ``emails`` and ``phones`` (repeated, or separated by commas) for contacts, and ``family_name``,
    ``given_name`` with the ``accounts`` (ids) the person works at for a name at the same company;
    ``name`` for accounts. The named parameters are declared for the schema (and checked by it);
    all of the query string is read by ``matches_asked``, as the form's check reads it.

    ``elsewhere`` names, by exact email, mobile number, name or registration number, records you
    may not see (a colleague's customer, or one in the pool) with whose they are, when your role
    says so (撞单保护); an account also by a similar name (the same but for legal form and a
    bracketed place: 华信科技 / 华信科技（北京）有限公司), which is told and never refused.
    ``refused`` is true when saving the record will be refused because of that one. With
    ``exclude`` (the record being edited) only the keys that differ from that record's are looked up."""
    record_type = record_type_param(type)
    model = merge_services.model_for(record_type)
    require_token_scope(request, object_type_of(model), Action.VIEW)
    if not may_reach(request.user, model, Action.VIEW):
        raise PermissionDenied()
    matches = matches_asked(request.user, model, request.GET)
    return json_response(
        {
            "items": [{"id": obj.pk, "display": str(obj), "reasons": reasons} for obj, reasons in matches],
            "elsewhere": elsewhere_asked(request.user, model, request.GET),
        }
    )


@router.post("/merge", response={201: dict}, summary="Merge one or two records into a survivor, choosing each field")
def duplicates_merge(request: HttpRequest, payload: MergeIn) -> HttpResponse:
    record_type = record_type_param(payload.type)
    model = merge_services.model_for(record_type)
    require_token_scope(request, object_type_of(model), Action.CHANGE)
    require_token_scope(request, object_type_of(model), Action.DELETE)
    service = merge_services.contact_merge if model is Contact else merge_services.account_merge
    merge = service(survivor=payload.survivor, others=payload.others, user=request.user, fields=payload.fields)
    return json_response(merge_json(merge, request.user), status=201)


def require_any_scope(request: HttpRequest, action: str) -> None:
    """Before the record type is known: the token must allow ``action`` on contacts or accounts."""
    scopes = getattr(request.user, "token_scopes", None)
    if scopes is not None and not any(token_allows(scopes, f"customers.{t}", action) for t in TYPES.values()):
        raise PermissionDenied(
            _("This API token lacks the scope %(scope)s.") % {"scope": f"customers.contact:{action}"}
        )


@router.get("/merges/{id}", summary="One merge: what was merged into what, and whether it can be undone")
def duplicates_merge_detail(request: HttpRequest, id: int) -> HttpResponse:
    require_any_scope(request, Action.VIEW)
    merge = merge_services.merge_visible(request.user, id)
    require_token_scope(request, f"customers.{merge.record_type}", Action.VIEW)
    return json_response(merge_json(merge, request.user))


@router.post("/merges/{id}/undo", summary="Undo a merge: earlier values, moved rows back, merged records restored")
def duplicates_merge_undo(request: HttpRequest, id: int) -> HttpResponse:
    require_any_scope(request, Action.CHANGE)
    merge = merge_services.merge_visible(request.user, id)
    require_token_scope(request, f"customers.{merge.record_type}", Action.CHANGE)
    merge = merge_services.merge_undo(merge_id=id, user=request.user)
    return json_response(merge_json(merge, request.user))


@router.post("/{id}/dismiss", summary='Mark a pair "not a duplicate"; finding it again will not reopen it')
def duplicates_dismiss(request: HttpRequest, id: int) -> HttpResponse:
    require_any_scope(request, Action.CHANGE)
    candidate = merge_services.candidate_visible(request.user, id)
    require_token_scope(request, f"customers.{candidate.record_type}", Action.CHANGE)
    candidate = merge_services.duplicate_dismiss(candidate_id=id, user=request.user)
    return json_response(candidates_page_json([candidate], candidate.record_type, request.user)[0])
