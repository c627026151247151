"""Resource registrations of users, teams, roles, shares and API tokens."""

from guanxi.core.registry import Resource, register
from guanxi.identity import services
from guanxi.identity.filters import ApiTokenFilterSet, RoleFilterSet, ShareFilterSet, TeamFilterSet, UserFilterSet
from guanxi.identity.models import ApiToken, Role, Share, Team, User


def register_identity() -> None:
    from guanxi.identity.api import role_routes, token_routes, user_routes

    register(
        Resource(
            model=User,
            path="users",
            filterset=UserFilterSet,
            fields=(
                "email",
                "display_name",
                "phone",
                "time_zone",
                "language",
                "team",
                "role",
                "is_active",
                "is_superuser",
                "last_login",
                "created_at",
                "updated_at",
            ),
            write_fields=(
                "email",
                "display_name",
                "phone",
                "time_zone",
                "language",
                "team",
                "role",
                "is_active",
                "is_superuser",
            ),
            required_fields=("email", "display_name"),
            list_columns=("display_name", "email", "team", "role", "is_active", "last_login"),
            select_related=("team", "role"),
            create=services.user_create,
            update=services.user_update,
            delete=services.user_deactivate,
            routes=user_routes,
            nav_group="settings",
            icon="user",
        )
    )
    register(
        Resource(
            model=Team,
            path="teams",
            filterset=TeamFilterSet,
            fields=("name", "parent", "manager", "territory", "description", "created_at", "updated_at"),
            write_fields=("name", "parent", "manager", "territory", "description"),
            required_fields=("name",),
            list_columns=("name", "parent", "manager", "territory"),
            select_related=("parent", "manager"),
            create=services.team_create,
            update=services.team_update,
            delete=services.team_delete,
            nav_group="settings",
            icon="users",
        )
    )
    # The pool settings (公海) are per role: how many prospects one may hold and still claim, how long
    # one waits to claim back an account one let go, and whether a release must name a listed reason;
    # and what adding a colleague's customer does (撞单保护, guanxi.customers.guard).
    role_writable = (
        "name",
        "parent",
        "description",
        "pool_claim_limit",
        "pool_reclaim_days",
        "pool_reason_required",
        "duplicate_guard",
    )
    register(
        Resource(
            model=Role,
            path="roles",
            filterset=RoleFilterSet,
            fields=(*role_writable, "created_at", "updated_at"),
            write_fields=role_writable,
            required_fields=("name",),
            list_columns=("name", "parent", "description", "pool_claim_limit"),
            select_related=("parent",),
            create=services.role_create,
            update=services.role_update,
            delete=services.role_delete,
            routes=role_routes,
            nav_group="settings",
            icon="shield",
        )
    )
    register(
        Resource(
            model=Share,
            path="shares",
            filterset=ShareFilterSet,
            fields=("content_type", "object_id", "user", "team", "access", "created_by", "created_at"),
            write_fields=("content_type", "object_id", "user", "team", "access"),
            required_fields=("content_type", "object_id"),
            list_columns=("content_type", "object_id", "user", "team", "access"),
            select_related=("content_type", "user", "team", "created_by"),
            create=services.share_create,
            delete=services.share_delete,
            nav_group="settings",
            icon="share",
        )
    )
    register(
        Resource(
            model=ApiToken,
            path="tokens",
            filterset=ApiTokenFilterSet,
            fields=("user", "name", "prefix", "scopes", "expires_at", "last_used_at", "revoked_at", "created_at"),
            list_columns=("name", "user", "prefix", "scopes", "last_used_at", "revoked_at"),
            select_related=("user",),
            read_only=True,  # minted and revoked through token_routes; never edited
            routes=token_routes,
            nav_group="settings",
            icon="key",
        )
    )
