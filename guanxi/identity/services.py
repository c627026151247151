"""Writes on users, teams, roles, shares and tokens. The API and the UI both call these."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from guanxi.core import services as core_services
from guanxi.core.audit import changelog_record, snapshot
from guanxi.core.choices import Action, ChangeAction, Scope
from guanxi.core.errors import FieldErrors, NotFound, PermissionDenied
from guanxi.core.permissions import forget, restricted, scope_for, token_allows
from guanxi.identity.models import ApiToken, FieldRule, Role, RolePermission, Share, Team, User, hash_token

# Fields of a user that decide what they may do: only someone with "change users: all" sets them.
PRIVILEGED_USER_FIELDS = {"role", "team", "is_active", "is_staff", "is_superuser", "role_id", "team_id"}


def _check_password(password: str, user: User | None = None) -> None:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise FieldErrors({"password": list(exc.messages)}) from None


def _guard_privileged(actor: Any, data: dict[str, Any]) -> None:
    privileged = PRIVILEGED_USER_FIELDS & set(data)
    if not privileged:
        return
    if ("is_superuser" in data or "is_staff" in data) and not actor.is_superuser:
        raise FieldErrors({"is_superuser": [_("Only an administrator can grant administrator rights.")]})
    if scope_for(actor, "identity.user", Action.CHANGE) != Scope.ALL:
        raise FieldErrors(
            {sorted(privileged)[0].removesuffix("_id"): [_("Only someone who manages all users can change this.")]}
        )


def user_create(
    *, model: type[User] = User, user: Any, data: dict[str, Any], password: str | None = None, **_ignored: Any
) -> User:
    """Add a user. Without a password they get an unusable one and sign in after a password reset."""
    data = dict(data)
    data["email"] = (data.get("email") or "").strip().lower()
    data.setdefault("password", make_password(None))  # unusable until set below; full_clean needs a value
    if data["email"] and User.objects.filter(email__iexact=data["email"]).exists():
        raise FieldErrors({"email": [_("A user with this email already exists.")]})
    _guard_privileged(user, {k: v for k, v in data.items() if k not in ("team_id", "role_id") or v is not None})
    with transaction.atomic():
        created = core_services.record_create(model=User, user=user, data=data)
        if password:
            _check_password(password, created)
            created.set_password(password)
        else:
            created.set_unusable_password()
        created.save(update_fields=["password"])
    return created


def user_update(
    *,
    model: type[User] = User,
    pk: Any,
    user: Any,
    data: dict[str, Any],
    expected_version: int | None = None,
    **_ignored: Any,
) -> User:
    """Change a user's profile; role/team/active/admin need the right to manage all users."""
    if "email" in data and data["email"]:
        data = {**data, "email": data["email"].strip().lower()}
        if User.objects.filter(email__iexact=data["email"]).exclude(pk=pk).exists():
            raise FieldErrors({"email": [_("A user with this email already exists.")]})
    _guard_privileged(user, data)
    if str(pk) == str(user.pk) and data.get("is_active") is False:
        raise FieldErrors({"is_active": [_("You cannot deactivate yourself.")]})
    updated = core_services.record_update(model=User, pk=pk, user=user, data=data, expected_version=expected_version)
    forget(updated)
    return updated


def user_deactivate(*, model: type[User] = User, pk: Any, user: Any, expected_version: int | None = None) -> User:
    """Users are never deleted (the change log and records point at them): they are deactivated."""
    if str(pk) == str(user.pk):
        raise FieldErrors({"is_active": [_("You cannot deactivate yourself.")]})
    if scope_for(user, "identity.user", Action.DELETE) == Scope.NONE:
        if User.objects.restrict(user, Action.VIEW).filter(pk=pk).exists():
            raise PermissionDenied()
        raise NotFound()
    return user_update(pk=pk, user=user, data={"is_active": False}, expected_version=expected_version)


@transaction.atomic
def user_set_password(*, target: User, user: Any, password: str) -> None:
    """Set a password: your own, or another user's if you may change all users."""
    if target.pk != user.pk and scope_for(user, "identity.user", Action.CHANGE) != Scope.ALL:
        raise PermissionDenied()
    _check_password(password, target)
    target.set_password(password)
    target.version += 1
    target.save(update_fields=["password", "version"])
    changelog_record(
        actor=user, obj=target, action=ChangeAction.UPDATE, before={"password": "old"}, after={"password": "new"}
    )


def _would_cycle(model: type[Role] | type[Team], pk: Any, parent_id: Any) -> bool:
    """Whether ``pk`` under ``parent_id`` would be its own ancestor (roles and teams are trees)."""
    seen = set()
    current = parent_id
    parents = dict(model.all_objects.values_list("pk", "parent_id"))
    while current is not None and current not in seen:
        if str(current) == str(pk):
            return True
        seen.add(current)
        current = parents.get(current)
    return False


def role_update(
    *,
    model: type[Role] = Role,
    pk: Any,
    user: Any,
    data: dict[str, Any],
    expected_version: int | None = None,
    **_ignored: Any,
) -> Role:
    """Change a role; a role may not report to itself or to a role below it."""
    if data.get("parent_id") is not None and _would_cycle(Role, pk, data["parent_id"]):
        raise FieldErrors({"parent": [_("A role cannot report to itself or to a role below it.")]})
    return core_services.record_update(model=Role, pk=pk, user=user, data=data, expected_version=expected_version)


def _permission_rows(role: Role) -> dict[str, Any]:
    return {
        "permissions": sorted(
            f"{p.object_type}:{p.action}={p.scope}" for p in RolePermission.objects.filter(role=role)
        ),
        "field_rules": sorted(f"{r.object_type}.{r.field}={r.access}" for r in FieldRule.objects.filter(role=role)),
    }


@transaction.atomic
def role_permissions_set(
    *,
    role_id: Any,
    user: Any,
    permissions: list[dict[str, str]],
    field_rules: list[dict[str, str]] | None = None,
    expected_version: int | None = None,
) -> Role:
    """Replace a role's permission rules (and field rules); audited as a change of the role."""
    from guanxi.core.choices import FieldAccess

    role = core_services.record_lock(Role, role_id, user, Action.CHANGE)
    core_services.check_version(role, expected_version)
    errors: dict[str, list[str]] = {}
    for index, rule in enumerate(permissions):
        if rule.get("action") not in Action.values:
            errors[f"permissions.{index}.action"] = [_("Use one of: %s.") % ", ".join(Action.values)]
        if rule.get("scope") not in Scope.values:
            errors[f"permissions.{index}.scope"] = [_("Use one of: %s.") % ", ".join(Scope.values)]
        if not rule.get("object_type"):
            errors[f"permissions.{index}.object_type"] = [_("Name the object type, e.g. identity.team.")]
    for index, rule in enumerate(field_rules or []):
        if rule.get("access") not in FieldAccess.values:
            errors[f"field_rules.{index}.access"] = [_("Use hidden, masked or readonly.")]
        if not rule.get("object_type") or not rule.get("field"):
            errors[f"field_rules.{index}"] = [_("Name the object type and the field.")]
    if errors:
        raise FieldErrors(errors)
    before = _permission_rows(role)
    RolePermission.objects.filter(role=role).delete()
    RolePermission.objects.bulk_create(
        [
            RolePermission(role=role, object_type=r["object_type"], action=r["action"], scope=r["scope"])
            for r in {(r["object_type"], r["action"]): r for r in permissions}.values()
            if r["scope"] != Scope.NONE
        ]
    )
    if field_rules is not None:
        FieldRule.objects.filter(role=role).delete()
        FieldRule.objects.bulk_create(
            [
                FieldRule(role=role, object_type=r["object_type"], field=r["field"], access=r["access"])
                for r in {(r["object_type"], r["field"]): r for r in field_rules}.values()
            ]
        )
    role.version += 1
    role.save(update_fields=["version", "updated_at"])
    changelog_record(actor=user, obj=role, action=ChangeAction.UPDATE, before=before, after=_permission_rows(role))
    return role


# --- shares ---------------------------------------------------------------------------------------


@transaction.atomic
def share_create(*, model: type[Share] = Share, user: Any, data: dict[str, Any], **_ignored: Any) -> Share:
    """Share one record with a user or team; you must be allowed to change that record."""
    from guanxi.core.registry import registered_models

    content_type_id = data.get("content_type_id")
    object_id = data.get("object_id")
    if (data.get("user_id") is None) == (data.get("team_id") is None):
        raise FieldErrors({"user": [_("Share with either one user or one team.")]})
    ct = ContentType.objects.filter(pk=content_type_id).first() if content_type_id is not None else None
    target_model = ct.model_class() if ct else None
    if target_model is None or target_model not in registered_models() or not getattr(target_model, "shareable", False):
        raise FieldErrors({"content_type": [_("Records of this type cannot be shared.")]})
    if not restricted(target_model, user, Action.CHANGE).filter(pk=object_id).exists():
        if restricted(target_model, user, Action.VIEW).filter(pk=object_id).exists():
            raise PermissionDenied(_("You may share only records you may change."))
        raise FieldErrors({"object_id": [_("No such record.")]})
    same_target: dict[str, Any] = {
        "content_type_id": content_type_id,
        "object_id": object_id,
        "user_id": data.get("user_id"),
        "team_id": data.get("team_id"),
    }
    existing = Share.objects.select_for_update().filter(**same_target).first()
    if existing is not None:
        # Sharing again with the same person or team changes the access instead of adding a duplicate.
        access = data.get("access") or existing.access
        if access != existing.access:
            before = snapshot(existing)
            existing.access = access
            existing.save(update_fields=["access", "updated_at"])
            changelog_record(
                actor=user, obj=existing, action=ChangeAction.UPDATE, before=before, after=snapshot(existing)
            )
        return existing
    share = Share(created_by_id=user.pk, **data)
    try:
        share.full_clean()
    except ValidationError as exc:
        raise FieldErrors(exc.message_dict) from None
    share.save()
    changelog_record(actor=user, obj=share, action=ChangeAction.CREATE, after=snapshot(share))
    return share


@transaction.atomic
def share_delete(*, model: type[Share] = Share, pk: Any, user: Any, **_ignored: Any) -> None:
    share = Share.objects.restrict(user, Action.DELETE).filter(pk=pk).first()
    if share is None:
        raise NotFound()
    changelog_record(actor=user, obj=share, action=ChangeAction.PURGE, before=snapshot(share))
    share.delete()


# --- API tokens -----------------------------------------------------------------------------------


@transaction.atomic
def token_create(
    *, user: Any, name: str, scopes: list[str], expires_at: Any = None, owner: User | None = None
) -> tuple[ApiToken, str]:
    """Mint a token for ``owner`` (default: the acting user). Returns the row and the key, shown once."""
    owner = owner or user
    errors: dict[str, list[str]] = {}
    if not name or not name.strip():
        errors["name"] = [_("Give the token a name, e.g. “ERP sync”.")]
    if not scopes:
        errors["scopes"] = [_("Give at least one scope, e.g. identity.team:view or *:view.")]
    for scope in scopes:
        object_type, _sep, action = scope.partition(":")
        if not object_type or (action not in Action.values and action != "*"):
            errors["scopes"] = [_("Scopes look like identity.team:view, *:view or *:*.")]
    if expires_at is not None and expires_at <= timezone.now():
        errors["expires_at"] = [_("Pick a time in the future.")]
    if errors:
        raise FieldErrors(errors)
    if owner.pk != user.pk and scope_for(user, "identity.apitoken", Action.ADD) != Scope.ALL:
        raise PermissionDenied()
    acting_scopes = getattr(user, "token_scopes", None)
    if acting_scopes is not None:
        if not token_allows(acting_scopes, "identity.apitoken", Action.ADD):
            raise PermissionDenied(_("This API token may not create tokens."))
        if any(not token_allows(acting_scopes, *s.split(":", 1)) for s in scopes):
            raise FieldErrors({"scopes": [_("A token cannot grant more than it has.")]})
    while True:
        key = ApiToken.generate_key()
        if not ApiToken.objects.filter(prefix=key[: ApiToken.PREFIX_LENGTH]).exists():
            break
    token = ApiToken.objects.create(
        user=owner,
        name=name.strip(),
        prefix=key[: ApiToken.PREFIX_LENGTH],
        key_hash=hash_token(key),
        scopes=sorted(set(scopes)),
        expires_at=expires_at,
    )
    changelog_record(actor=user, obj=token, action=ChangeAction.CREATE, after=snapshot(token))
    return token, key


@transaction.atomic
def token_revoke(*, pk: Any, user: Any) -> ApiToken:
    token = ApiToken.objects.restrict(user, Action.DELETE).select_for_update().filter(pk=pk).first()
    if token is None:
        raise NotFound()
    if token.revoked_at is None:
        before = snapshot(token)
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at", "updated_at"])
        changelog_record(actor=user, obj=token, action=ChangeAction.UPDATE, before=before, after=snapshot(token))
    return token


def team_create(*, model: type[Team] = Team, user: Any, data: dict[str, Any], **kwargs: Any) -> Team:
    if Team.objects.filter(name__iexact=(data.get("name") or "").strip()).exists():
        raise FieldErrors({"name": [_("A team with this name already exists.")]})
    return core_services.record_create(model=Team, user=user, data=data, **kwargs)


def team_update(
    *,
    model: type[Team] = Team,
    pk: Any,
    user: Any,
    data: dict[str, Any],
    expected_version: int | None = None,
    **_ignored: Any,
) -> Team:
    """Change a team; a team may not belong to itself or to a team below it."""
    if data.get("parent_id") is not None and _would_cycle(Team, pk, data["parent_id"]):
        raise FieldErrors({"parent": [_("A team cannot belong to itself or to a team below it.")]})
    return core_services.record_update(model=Team, pk=pk, user=user, data=data, expected_version=expected_version)


def role_create(*, model: type[Role] = Role, user: Any, data: dict[str, Any], **kwargs: Any) -> Role:
    if Role.objects.filter(name__iexact=(data.get("name") or "").strip()).exists():
        raise FieldErrors({"name": [_("A role with this name already exists.")]})
    return core_services.record_create(model=Role, user=user, data=data, **kwargs)


@transaction.atomic
def role_delete(*, model: type[Role] = Role, pk: Any, user: Any, expected_version: int | None = None) -> Role:
    """Move a role to the recycle bin, unless people still hold it or roles report to it.

    A binned role must grant nothing; refusing while it is in use keeps users from silently losing
    (or, through a restore, regaining) their rights.
    """
    core_services.record_lock(Role, pk, user, Action.DELETE)  # 404/403 before any business rule
    holders = User.objects.filter(role_id=pk, is_active=True).count()
    children = Role.objects.filter(parent_id=pk).count()
    if holders or children:
        raise FieldErrors(
            {
                "role": [
                    _("Users holding this role: %(users)s; roles reporting to it: %(roles)s. Move them first.")
                    % {"users": holders, "roles": children}
                ]
            }
        )
    return core_services.record_delete(model=Role, pk=pk, user=user, expected_version=expected_version)


@transaction.atomic
def team_delete(*, model: type[Team] = Team, pk: Any, user: Any, expected_version: int | None = None) -> Team:
    """Move a team to the recycle bin, unless it still has active members or teams below it."""
    core_services.record_lock(Team, pk, user, Action.DELETE)  # 404/403 before any business rule
    if Team.objects.filter(parent_id=pk).exists():
        raise FieldErrors({"team": [_("Teams belong to this one; move them to another team first.")]})
    members = User.objects.filter(team_id=pk, is_active=True).count()
    if members:
        raise FieldErrors(
            {
                "team": [
                    ngettext(
                        "%(count)s active user belongs to this team; move them first.",
                        "%(count)s active users belong to this team; move them first.",
                        members,
                    )
                    % {"count": members}
                ]
            }
        )
    return core_services.record_delete(model=Team, pk=pk, user=user, expected_version=expected_version)
