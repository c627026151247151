from guanxi.core.filters import FilterSet
from guanxi.identity.models import ApiToken, Role, Share, Team, User


class UserFilterSet(FilterSet):
    model = User
    search_fields = ("display_name", "email", "phone")
    search_matches = {"display_name": User.name_matches}
    filters = {
        "team": ("exact", "in", "isnull"),
        "role": ("exact", "in", "isnull"),
        "is_active": ("exact",),
        "is_superuser": ("exact",),
        "email": ("exact", "icontains"),
        "language": ("exact",),
        "created_at": ("gte", "lte"),
    }
    ordering_fields = ("id", "display_name", "email", "created_at", "updated_at")
    default_ordering = "display_name"


class TeamFilterSet(FilterSet):
    model = Team
    search_fields = ("name", "territory")
    filters = {
        "parent": ("exact", "isnull"),
        "manager": ("exact", "isnull"),
        "territory": ("exact", "icontains"),
        "name": ("exact", "icontains"),
    }
    ordering_fields = ("id", "name", "territory", "created_at", "updated_at")
    default_ordering = "name"


class RoleFilterSet(FilterSet):
    model = Role
    search_fields = ("name",)
    filters = {"parent": ("exact", "isnull"), "name": ("exact", "icontains")}
    ordering_fields = ("id", "name", "created_at", "updated_at")
    default_ordering = "name"


class ShareFilterSet(FilterSet):
    model = Share
    filters = {
        "content_type": ("exact",),
        "object_id": ("exact",),
        "user": ("exact",),
        "team": ("exact",),
        "access": ("exact",),
    }
    ordering_fields = ("id", "created_at")


class ApiTokenFilterSet(FilterSet):
    model = ApiToken
    search_fields = ("name", "prefix")
    filters = {"user": ("exact",), "revoked_at": ("isnull",)}
    ordering_fields = ("id", "name", "created_at")
