"""Identity API operations beyond plain CRUD: passwords, handovers, role permissions, token mint/revoke."""

from __future__ import annotations

import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema
from pydantic import ConfigDict

from guanxi.api.crud import detail_response, get_visible, json_response, parse_if_match, require_token_scope, serialize
from guanxi.core.choices import Action
from guanxi.core.permissions import hidden_fields
from guanxi.core.registry import Resource
from guanxi.identity import services
from guanxi.identity.handover import handover
from guanxi.identity.models import FieldRule, RolePermission

router = Router(tags=["identity"])


class PasswordIn(Schema):
    model_config = ConfigDict(extra="forbid")
    password: str


class PermissionRule(Schema):
    object_type: str
    action: str
    scope: str


class FieldRuleIn(Schema):
    object_type: str
    field: str
    access: str


class RolePermissionsIn(Schema):
    model_config = ConfigDict(extra="forbid")
    permissions: list[PermissionRule]
    field_rules: list[FieldRuleIn] | None = None


class HandoverIn(Schema):
    model_config = ConfigDict(extra="forbid")
    recipient: int | None = None  # the colleague who takes the records over (a user id)
    # Or several colleagues (user ids) who share them out evenly, each company with its people.
    recipients: list[int] | None = None
    to_pool: bool = False  # records of resources with a pool (accounts) go back to it instead
    reason: str = ""  # to the pool: why (one's own words)
    reason_id: int | None = None  # to the pool: one of the release reasons (GET /pool-reasons)
    deactivate: bool = False  # deactivate the user once their records are handed over
    preview: bool = False  # only tell how many records each colleague would get; nothing moves


class TokenIn(Schema):
    model_config = ConfigDict(extra="forbid")
    name: str
    scopes: list[str]
    expires_at: datetime.datetime | None = None


def user_routes(router: Router, resource: Resource) -> None:
    @router.post("/{id}/password", summary="Set a user's password (your own, or any if you manage all users)")
    def set_password(request: HttpRequest, id: int, payload: PasswordIn) -> HttpResponse:
        require_token_scope(request, resource.object_type, Action.CHANGE)
        target = get_visible(request, resource, id)
        services.user_set_password(target=target, user=request.user, password=payload.password)  # type: ignore[arg-type]
        return HttpResponse(status=204)

    @router.post(
        "/{id}/handover",
        response={200: dict, 202: dict},
        summary=(
            "Hand over every record a user owns (离职交接) to a colleague, shared among several, or to the pool;"
            " 202 and a job when many; with preview, only the split"
        ),
    )
    def handover_records(request: HttpRequest, id: int, payload: HandoverIn) -> HttpResponse:
        from guanxi.core.api_jobs import job_json

        require_token_scope(request, resource.object_type, Action.VIEW)
        outcome = handover(pk=id, user=request.user, **payload.model_dump())
        if isinstance(outcome, dict):
            return json_response(outcome)
        return json_response(job_json(outcome), status=202, headers={"Location": f"/api/v1/jobs/{outcome.pk}"})


def role_routes(router: Router, resource: Resource) -> None:
    def _rules(role_id: int) -> dict[str, Any]:
        return {
            "permissions": [
                {"object_type": p.object_type, "action": p.action, "scope": p.scope}
                for p in RolePermission.objects.filter(role_id=role_id).order_by("object_type", "action")
            ],
            "field_rules": [
                {"object_type": r.object_type, "field": r.field, "access": r.access}
                for r in FieldRule.objects.filter(role_id=role_id).order_by("object_type", "field")
            ],
        }

    @router.get("/{id}/permissions", summary="A role's permission and field rules")
    def get_permissions(request: HttpRequest, id: int) -> HttpResponse:
        require_token_scope(request, resource.object_type, Action.VIEW)
        role = get_visible(request, resource, id)
        return json_response(_rules(role.pk), headers={"ETag": f'"v{role.version}"'})  # type: ignore[attr-defined]

    @router.put("/{id}/permissions", summary="Replace a role's permission and field rules (send If-Match)")
    def put_permissions(request: HttpRequest, id: int, payload: RolePermissionsIn) -> HttpResponse:
        require_token_scope(request, resource.object_type, Action.CHANGE)
        role = services.role_permissions_set(
            role_id=id,
            user=request.user,
            permissions=[r.model_dump() for r in payload.permissions],
            field_rules=[r.model_dump() for r in payload.field_rules] if payload.field_rules is not None else None,
            expected_version=parse_if_match(request),
        )
        return json_response(_rules(role.pk), headers={"ETag": f'"v{role.version}"'})


def token_routes(router: Router, resource: Resource) -> None:
    @router.post("", response={201: dict}, summary="Create an API token; the key is in this response only")
    def create_token(request: HttpRequest, payload: TokenIn) -> HttpResponse:
        require_token_scope(request, resource.object_type, Action.ADD)
        token, key = services.token_create(
            user=request.user, name=payload.name, scopes=payload.scopes, expires_at=payload.expires_at
        )
        data = serialize(token, resource, hidden_fields(request.user, resource.model))
        data["key"] = key
        return json_response(data, status=201)

    @router.post("/{id}/revoke", summary="Revoke an API token")
    def revoke_token(request: HttpRequest, id: int) -> HttpResponse:
        require_token_scope(request, resource.object_type, Action.DELETE)
        token = services.token_revoke(pk=id, user=request.user)
        return detail_response(request, resource, token)

    @router.delete("/{id}", response={204: None}, summary="Revoke an API token")
    def delete_token(request: HttpRequest, id: int) -> HttpResponse:
        require_token_scope(request, resource.object_type, Action.DELETE)
        services.token_revoke(pk=id, user=request.user)
        return HttpResponse(status=204)
