"""Customer API beyond plain CRUD: contact input shapes, account links, linked contacts, fit, recompute,
claiming from and releasing to the customer pool.

The CRUD routes come from ``guanxi.api.crud.build_router``; the hooks here add to the same routers.
"""

from __future__ import annotations

import dataclasses
from typing import Any, cast

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema
from pydantic import ConfigDict

from guanxi.api.crud import (
    detail_response,
    extra_by_pk,
    get_visible,
    get_visible_after_write,
    json_response,
    list_page,
    parse_if_match,
    plain,
    require_token_scope,
)
from guanxi.core.choices import Action
from guanxi.core.db import PkQuery
from guanxi.core.errors import FieldErrors, PermissionDenied
from guanxi.core.permissions import can, may_reach, sees_all
from guanxi.core.registry import Resource, resource_at
from guanxi.customers import classification, hierarchy, services
from guanxi.customers.acquaintances import account_acquaintances, contact_acquaintances
from guanxi.customers.breakdown import ACCOUNTS, CONTACTS, BreakdownSpec, breakdown_dimension, record_breakdown
from guanxi.customers.models import Account, AccountContact, Contact, CustomerProfile
from guanxi.customers.network import account_network
from guanxi.customers.org_chart import org_chart
from guanxi.customers.relations import relation_rows
from guanxi.customers.selectors import day_bounds, pool_statistics, statistics_period
from guanxi.customers.vcard import vcard_response

# --- input shapes -----------------------------------------------------------------------------------


class ContactPointIn(Schema):
    """An email or phone with its label; a plain text is accepted too (``"13800138000"``)."""

    model_config = ConfigDict(extra="forbid")
    value: str
    label: str = ""
    is_primary: bool = False
    extension: str = ""  # phones only; "021 6123 4567 转 123" in ``value`` works as well


class AccountLinkIn(Schema):
    """A contact's place at an account."""

    model_config = ConfigDict(extra="forbid")
    account: int
    role: str = ""
    is_primary: bool = False


class PoolReleaseIn(Schema):
    """Why the account goes back to the customer pool (whoever claims it reads this): one of the
    release reasons (``reason_id``, ``GET /pool-reasons``), words of one's own (``reason``), or both."""

    model_config = ConfigDict(extra="forbid")
    reason: str = ""
    reason_id: int | None = None


CONTACT_EXTRA_INPUT: dict[str, tuple[Any, Any]] = {
    "emails": (list[str | ContactPointIn], None),
    "phones": (list[str | ContactPointIn], None),
    "accounts": (list[AccountLinkIn], None),
}


# --- extra output -----------------------------------------------------------------------------------


def link_json(link: AccountContact) -> dict[str, Any]:
    return {"account": plain(link.account), "role": link.role, "is_primary": link.is_primary}


_PAGE_LINKS = PkQuery(
    lambda ids: (
        AccountContact.objects.filter(contact_id__in=ids, account__deleted_at__isnull=True)
        .order_by("-is_primary", "id")
        .values_list("contact_id", "account_id", "account__name", "role", "is_primary")
    )
)


@extra_by_pk
def contact_accounts(contacts: list[Any], user: Any) -> dict[Any, dict[str, Any]]:
    """The accounts of a page of contacts; only accounts the user may see are listed.

    One query by primary key, whatever the size of the tables: the page's links to live accounts,
    with the accounts' names. For a user whom ``restrict`` does not leave every account, a second
    one keeps the accounts they may see. Plain rows, no model instances; each link is what
    ``link_json`` gives (an account's display is its name, ``Account.__str__``).
    """
    out: dict[Any, dict[str, Any]] = {c.pk: {"accounts": []} for c in contacts}
    if not out:
        return out
    links = _PAGE_LINKS.rows(list(out))
    if links and not sees_all(Account, user, Action.VIEW):
        visible = set(
            Account.objects.restrict(user, Action.VIEW)
            .filter(pk__in={account_id for _contact, account_id, *_rest in links})
            .values_list("pk", flat=True)
        )
        links = [link for link in links if link[1] in visible]
    for contact_id, account_id, name, role, is_primary in links:
        out[contact_id]["accounts"].append(
            {"account": {"id": account_id, "display": name}, "role": role, "is_primary": is_primary}
        )
    return out


def contact_companies(contacts: list[Any], user: Any) -> dict[Any, tuple[str, str]]:
    """The 公司 column of contact lists and exports: the primary account, or else the first account
    the user may see, with its address. One value, so an edited export imports back as that name."""
    from guanxi.core.registry import resource_at
    from guanxi.core.views.base import resource_url

    accounts = resource_at("accounts")
    out: dict[Any, tuple[str, str]] = {}
    for pk, extra in contact_accounts(contacts, user).items():
        if extra["accounts"]:
            first = extra["accounts"][0]["account"]  # the links come primary first
            out[pk] = (first["display"], resource_url(accounts, "detail", first["id"]) or "")
    return out


# --- routes -----------------------------------------------------------------------------------------


def _queue_recompute(request: HttpRequest, resource: Resource, *, tiers: bool) -> HttpResponse:
    require_token_scope(request, resource.object_type, Action.CHANGE)
    if not can(request.user, resource.model, Action.CHANGE):
        raise PermissionDenied()
    with transaction.atomic():
        services.classify_after_commit(None, tiers=tiers, fit=not tiers)
    return json_response({"status": "queued"}, status=202)


def breakdown_route(router: Router, resource: Resource, spec: BreakdownSpec, *, summary: str, dimensions: str) -> None:
    """``GET /breakdown`` of ``spec``'s records (客户分布, 联系人分布): the same route for accounts and contacts."""
    name = resource.path

    @router.get(
        "/breakdown",
        operation_id=f"{name}_breakdown",
        summary=summary,
        description=(
            f"``by``: {dimensions}; not a field your role hides. The list's own filters and ``search`` narrow "
            f"the {name} counted, as ``GET /{name}`` reads them. ``items``: the 50 largest values, the largest "
            "first, each with ``value`` (null: not filled in), ``label``, ``count`` and ``filters``, the list "
            f"filters that pick exactly those {name}; ``others``: the {name} with any other value; ``total``: "
            f"all the {name} counted. By ``month``: the last 24 months in time order, from the first with a "
            "record to the current one (a month without any counts 0), each ``value`` YYYY-MM and its "
            "``filters`` ``created_at__gte`` / ``__lt`` (days in your time zone); the months before them first, "
            "together, with ``value`` null."
        ),
    )
    def breakdown(request: HttpRequest, by: str = "") -> HttpResponse:
        require_token_scope(request, resource.object_type, Action.VIEW)
        if not may_reach(request.user, spec.model, Action.VIEW):
            raise PermissionDenied()
        figures = record_breakdown(spec, request.user, request.GET, breakdown_dimension(spec, request.user, by))
        return json_response(
            {
                "by": figures.dimension.key,
                "total": figures.total,
                "items": [dataclasses.asdict(item) for item in figures.items],
                "others": figures.others,
            }
        )


def account_routes(router: Router, resource: Resource) -> None:
    @router.get(
        "/pool-statistics",
        operation_id="accounts_pool_statistics",
        summary="The customer pool's statistics (公海统计) for a period",
        description=(
            "Accounts released to the pool by hand, taken back by the pool rules and claimed, from ``from`` "
            "to ``to`` (YYYY-MM-DD, both included; this month by default): in all, per salesperson, per "
            "release reason (``id`` null: said in words only) and per pool rule. Counted from the accounts "
            "you may see."
        ),
    )
    def account_pool_statistics(request: HttpRequest) -> HttpResponse:
        require_token_scope(request, resource.object_type, Action.VIEW)
        if not may_reach(request.user, Account, Action.VIEW):
            raise PermissionDenied()
        first, last = statistics_period(request.GET.get("from"), request.GET.get("to"))
        figures = pool_statistics(request.user, *day_bounds(first, last))
        return json_response({"from": first.isoformat(), "to": last.isoformat(), **dataclasses.asdict(figures)})

    breakdown_route(
        router,
        resource,
        ACCOUNTS,
        summary="How the accounts you may see break down by one field (客户分布)",
        dimensions="tier, lifecycle_stage, industry, size, source, province (a province in China, a country "
        "elsewhere), region, owner, team or month (the month added)",
    )

    @router.get(
        "/{id}/contacts",
        operation_id="accounts_contacts",
        summary="Contacts at an account (those you may see), with their role",
    )
    def account_contacts(request: HttpRequest, id: int) -> HttpResponse:
        require_token_scope(request, resource.object_type, Action.VIEW)
        account = cast(Account, get_visible(request, resource, id))
        contacts_resource = resource_at("contacts")
        user = request.user
        qs = Contact.objects.restrict(user, Action.VIEW).filter(account_links__account=account)
        items, next_cursor = list_page(request, contacts_resource, qs, "display_name")
        roles = {
            contact_id: (role, is_primary)
            for contact_id, role, is_primary in AccountContact.objects.filter(
                account=account, contact_id__in=[data["id"] for data in items]
            ).values_list("contact_id", "role", "is_primary")
        }
        for data in items:
            data["role"], data["is_primary"] = roles[data["id"]]
        return json_response({"items": items, "next_cursor": next_cursor})

    @router.get(
        "/{id}/hierarchy",
        operation_id="accounts_hierarchy",
        summary="An account's place in its group: the accounts above it, and roll-ups of the accounts below",
        description=(
            "``ancestors``: the accounts above, the top of the group first (those you may see). "
            "``subsidiaries``: how many accounts sit directly below (list them with ``?parent=<id>``). "
            "``rollups``: figures over the account and every account below it that you may see "
            "(list those with ``?group=<id>``, their contacts with ``/contacts?group=<id>``). "
            "A count stops at 1,000: ``at_least`` names the counts that reached it (or are a lower bound)."
        ),
    )
    def account_hierarchy(request: HttpRequest, id: int) -> HttpResponse:
        require_token_scope(request, resource.object_type, Action.VIEW)
        account = cast(Account, get_visible(request, resource, id))
        user = request.user
        rollups, at_least = hierarchy.group_rollups(account, user)
        return json_response(
            {
                "id": account.pk,
                "ancestors": [{"id": a.pk, "name": a.name} for a in hierarchy.ancestors(account, user)],
                "subsidiaries": hierarchy.subsidiary_count(account, user),
                "rollups": rollups,
                "at_least": at_least,
            }
        )

    @router.get(
        "/{id}/org-chart",
        operation_id="accounts_org_chart",
        summary="The people at an account as a tree: who reports to whom, their decision roles and stances",
        description=(
            "``items``: the people at the top (nobody above them here), each with ``reports``, the people "
            "who report to them, nested. Only the contacts you may see; a person whose manager you may "
            "not see, or who works elsewhere, is at the top. Among one manager's reports, decision makers "
            "come first (``decision_role``), then primary contacts, then by name. At an account with 500 "
            "people or more, ``mapped_only`` is true and the tree holds those with a manager, a decision "
            "role or a stance, and their managers. A token without ``customers.contact:view`` reads no one."
        ),
    )
    def account_org_chart(request: HttpRequest, id: int) -> HttpResponse:
        require_token_scope(request, resource.object_type, Action.VIEW)
        account = cast(Account, get_visible(request, resource, id))
        chart = org_chart(account, request.user)
        return json_response({"id": account.pk, "items": chart.as_json(), "mapped_only": chart.mapped_only})

    @router.get(
        "/{id}/network",
        operation_id="accounts_network",
        summary="Whom an account's people know elsewhere (人脉): the way in to the company",
        description=(
            "Relations (``/contacts/{id}/relations``) with one person at this account and the other elsewhere, "
            "newest first (at most 20): ``ours``, the person here; ``theirs``, the other with their primary "
            "account; ``label``, the relation from ours' side. Only relations whose two people you may see."
        ),
    )
    def account_network_route(request: HttpRequest, id: int) -> HttpResponse:
        require_token_scope(request, resource.object_type, Action.VIEW)
        account = cast(Account, get_visible(request, resource, id))
        items = [
            {
                "id": row["id"],
                "kind": row["kind"],
                "label": row["label"],
                "ours": {"id": row["ours"].pk, "name": row["ours"].display_name},
                "theirs": {"id": row["theirs"].pk, "name": row["theirs"].display_name, "company": row["company"]},
                "note": row["note"],
            }
            for row in account_network(account, request.user)
        ]
        return json_response({"items": items})

    @router.get(
        "/{id}/fit",
        operation_id="accounts_fit",
        summary="How well an account fits an ideal customer profile, criterion by criterion",
    )
    def account_fit(request: HttpRequest, id: int, profile: int | None = None) -> HttpResponse:
        require_token_scope(request, resource.object_type, Action.VIEW)
        account = cast(Account, get_visible(request, resource, id))
        if profile is not None:
            chosen = CustomerProfile.objects.restrict(request.user, Action.VIEW).filter(pk=profile).first()
            if chosen is None:
                raise FieldErrors({"profile": [f"No ideal customer profile with id {profile}."]})
            score, explanation = classification.account_fit_score(account, chosen)
            best: Any = chosen
        else:
            score, best, explanation = classification.best_fit(account, classification.active_profiles())  # type: ignore[assignment]
        return json_response({"profile": plain(best) if best else None, "score": score, "explanation": explanation})

    @router.post(
        "/{id}/claim",
        response={200: dict},
        operation_id="accounts_claim",
        summary="Claim an account from the customer pool (公海): it becomes yours, in your team",
        description=(
            "The pool is ``GET /accounts?pooled_at__isnull=false``. 409 when someone claimed it first, or "
            "when you own as many prospects as your role's ``pool_claim_limit``. The contacts the last "
            "owner held at the company come with it."
        ),
    )
    def account_claim(request: HttpRequest, id: int) -> HttpResponse:
        require_token_scope(request, resource.object_type, Action.CHANGE)
        account = services.pool_claim(pk=id, user=request.user)
        return detail_response(request, resource, get_visible_after_write(request, resource, account))

    @router.post(
        "/{id}/release",
        response={200: dict},
        operation_id="accounts_release",
        summary="Put an account back in the customer pool (退回公海), saying why",
        description=(
            "For an account you may change; send If-Match to guard against a stale copy. It loses its "
            "owner and team, and the contacts its owner held there go with it."
        ),
    )
    def account_release(request: HttpRequest, id: int, payload: PoolReleaseIn) -> HttpResponse:
        require_token_scope(request, resource.object_type, Action.CHANGE)
        account = services.pool_release(
            pk=id,
            user=request.user,
            reason=payload.reason,
            reason_id=payload.reason_id,
            expected_version=parse_if_match(request),
        )
        return detail_response(request, resource, get_visible_after_write(request, resource, account))

    relation_routes(router, resource, Account)

    @router.get(
        "/{id}/acquaintances",
        operation_id="accounts_acquaintances",
        summary="Who among our people knows whom at this account (我方熟人)",
        description="Among the account's people you may see, the closest and the newest first, at most 20: "
        "``user``, the colleague; ``contact``, the person they know.",
    )
    def account_acquaintances_route(request: HttpRequest, id: int) -> HttpResponse:
        require_token_scope(request, resource.object_type, Action.VIEW)
        account = cast(Account, get_visible(request, resource, id))
        return json_response(
            {"items": [acquaintance_json(row) for row in account_acquaintances(account, request.user)]}
        )


def contact_routes(router: Router, resource: Resource) -> None:
    breakdown_route(
        router,
        resource,
        CONTACTS,
        summary="How the contacts you may see break down by one field (联系人分布)",
        dimensions="province (a province in China, a country elsewhere), owner, team, source, decision_role, "
        "stance, email_consent, sms_consent, phone_consent or month (the month added)",
    )

    @router.get(
        "/{id}/vcard",
        operation_id="contacts_vcard",
        summary="A contact as a vCard (.vcf), to save in a phone's address book",
        description="The fields you may see, and the accounts you may see (the primary one as ORG). "
        "Imports back as the same person through POST /imports (a .vcf file).",
        response={200: None},
    )
    def contact_vcard(request: HttpRequest, id: int) -> HttpResponse:
        require_token_scope(request, resource.object_type, Action.VIEW)
        return vcard_response(cast(Contact, get_visible(request, resource, id)), request.user)

    @router.post(
        "/{id}/accounts",
        response={201: dict},
        operation_id="contacts_link_account",
        summary="Link a contact to an account (or change the link)",
    )
    def link_account(request: HttpRequest, id: int, payload: AccountLinkIn) -> HttpResponse:
        require_token_scope(request, resource.object_type, Action.CHANGE)
        link = services.contact_link_account(
            contact_id=id,
            account_id=payload.account,
            user=request.user,
            role=payload.role,
            is_primary=payload.is_primary,
        )
        return json_response(link_json(link), status=201)

    @router.delete(
        "/{id}/accounts/{account_id}",
        response={204: None},
        operation_id="contacts_unlink_account",
        summary="Unlink a contact from an account",
    )
    def unlink_account(request: HttpRequest, id: int, account_id: int) -> HttpResponse:
        require_token_scope(request, resource.object_type, Action.CHANGE)
        services.contact_unlink_account(contact_id=id, account_id=account_id, user=request.user)
        return HttpResponse(status=204)

    relation_routes(router, resource, Contact)

    @router.get(
        "/{id}/acquaintances",
        operation_id="contacts_acquaintances",
        summary="Who among our people knows this person (我方熟人), the closest first",
        description="``closeness``: close, known or met; ``user``: the colleague (active users only), at most 50.",
    )
    def acquaintances(request: HttpRequest, id: int) -> HttpResponse:
        require_token_scope(request, resource.object_type, Action.VIEW)
        contact = cast(Contact, get_visible(request, resource, id))
        return json_response({"items": [acquaintance_json(row) for row in contact_acquaintances(contact)]})

    @router.put(
        "/{id}/acquaintances/me",
        operation_id="contacts_acquaintance_set",
        summary="Say that you know this person, and how well (or change it)",
        description="For a person you may see; your own statement, so no right to change them is needed. "
        "``closeness``: close, known or met; ``note`` up to 200 characters.",
    )
    def acquaintance_set(request: HttpRequest, id: int, payload: AcquaintanceIn) -> HttpResponse:
        require_token_scope(request, resource.object_type, Action.VIEW)
        services.acquaintance_set(contact_id=id, user=request.user, closeness=payload.closeness, note=payload.note)
        [row] = contact_acquaintances(Contact.objects.get(pk=id), user=request.user)
        return json_response(acquaintance_json(row))

    @router.delete(
        "/{id}/acquaintances/me",
        response={204: None},
        operation_id="contacts_acquaintance_remove",
        summary="Take back that you know this person",
    )
    def acquaintance_remove(request: HttpRequest, id: int) -> HttpResponse:
        require_token_scope(request, resource.object_type, Action.VIEW)
        services.acquaintance_remove(contact_id=id, user=request.user)
        return HttpResponse(status=204)


class RelationIn(Schema):
    """Relate the record to another of its type; for a directed kind (``referral``, ``supplier``,
    ``distributor``, ``investor``) the record is the one that referred, supplies, distributes for or
    invests in ``other``."""

    model_config = ConfigDict(extra="forbid")
    other: int
    kind: str
    note: str = ""


#: What each type's relation routes say (summary, description) beyond the shared words.
_RELATION_DOCS: dict[type[Any], tuple[str, str, str]] = {
    Contact: (
        "Whom a person knows (人脉关系): colleagues, classmates, family, referrals",
        "a referral reads ``Referred`` on the referrer's and ``Referred by`` on the other's. "
        "``other.company``: their primary account, if you may see it.",
        "colleague, former_colleague, classmate, friend, family, referral (this person referred ``other``) or other",
    ),
    Account: (
        "How a company stands to others (企业关系): suppliers, customers, distributors, investors, partners, "
        "competitors",
        "a supplier reads ``Supplies`` on its page and ``Buys from`` on its customer's. ``other.city``: "
        "where the other company is.",
        "supplier (this company supplies ``other``), distributor (this company distributes for "
        "``other``), investor (this company invests in ``other``), partner, competitor or other",
    ),
}


def relation_routes(router: Router, resource: Resource, model: type[Contact] | type[Account]) -> None:
    """``GET`` / ``POST /{id}/relations`` and ``DELETE /{id}/relations/{relation_id}`` of ``model``."""
    name = resource.path
    summary, reading, kinds = _RELATION_DOCS[model]

    @router.get(
        "/{id}/relations",
        operation_id=f"{name}_relations",
        summary=summary,
        description=(
            "The relations whose other record you may see too, newest first (at most 100). ``label`` is "
            "the relation as it reads from this record's side: " + reading
        ),
    )
    def relations(request: HttpRequest, id: int) -> HttpResponse:
        require_token_scope(request, resource.object_type, Action.VIEW)
        record = get_visible(request, resource, id)
        return json_response({"items": [relation_json(row) for row in relation_rows(request.user, record)]})

    @router.post(
        "/{id}/relations",
        response={201: dict},
        operation_id=f"{name}_relation_add",
        summary="Relate a record to another of its type (you may change this one and see the other)",
        description=f"``kind``: {kinds}; ``note`` up to 200 characters.",
    )
    def relation_add(request: HttpRequest, id: int, payload: RelationIn) -> HttpResponse:
        require_token_scope(request, resource.object_type, Action.CHANGE)
        relation = services.relation_add(
            model=model, record_id=id, other_id=payload.other, kind=payload.kind, note=payload.note, user=request.user
        )
        record = model.objects.get(pk=id)
        [row] = relation_rows(request.user, record, relation_id=relation.pk)
        return json_response(relation_json(row), status=201)

    @router.delete(
        "/{id}/relations/{relation_id}",
        response={204: None},
        operation_id=f"{name}_relation_remove",
        summary="Remove one of a record's relations",
    )
    def relation_remove(request: HttpRequest, id: int, relation_id: int) -> HttpResponse:
        require_token_scope(request, resource.object_type, Action.CHANGE)
        services.relation_remove(model=model, record_id=id, relation_id=relation_id, user=request.user)
        return HttpResponse(status=204)


class AcquaintanceIn(Schema):
    """How well you know the person."""

    model_config = ConfigDict(extra="forbid")
    closeness: str
    note: str = ""


def acquaintance_json(row: dict[str, Any]) -> dict[str, Any]:
    user, contact = row["user"], row["contact"]
    return {
        "id": row["id"],
        "user": {"id": user.pk, "name": str(user)},
        "contact": {"id": contact.pk, "name": contact.display_name},
        "closeness": row["closeness"],
        "label": str(row["label"]),
        "note": row["note"],
        "updated_at": row["updated_at"],
    }


def relation_json(row: dict[str, Any]) -> dict[str, Any]:
    other = row["other"]
    if isinstance(other, Contact):
        described = {"id": other.pk, "name": other.display_name, "company": row["line"]}
    else:
        described = {"id": other.pk, "name": other.name, "city": row["line"]}
    return {
        "id": row["id"],
        "kind": row["kind"],
        "label": row["label"],
        "other": described,
        "note": row["note"],
        "created_at": row["created_at"],
    }


def tier_rule_routes(router: Router, resource: Resource) -> None:
    @router.post(
        "/recompute",
        response={202: dict},
        operation_id="tier_rules_recompute",
        summary="Recompute every account's tier in the background",
    )
    def recompute(request: HttpRequest) -> HttpResponse:
        return _queue_recompute(request, resource, tiers=True)


def customer_profile_routes(router: Router, resource: Resource) -> None:
    @router.post(
        "/recompute",
        response={202: dict},
        operation_id="customer_profiles_recompute",
        summary="Recompute every account's fit score in the background",
    )
    def recompute(request: HttpRequest) -> HttpResponse:
        return _queue_recompute(request, resource, tiers=False)
