"""``gadgets``: registered exactly like a real CRM record type, so it gets API routes and UI pages."""

from guanxi.core.filters import FilterSet
from guanxi.core.registry import Resource, register
from tests.testapp.models import Gadget


class GadgetFilterSet(FilterSet):
    model = Gadget
    search_fields = ("name",)
    filters = {
        "name": ("exact", "icontains"),
        "status": ("exact", "in"),
        "price": ("exact", "gte", "lte"),
        "owner": ("exact", "in", "isnull"),
        "team": ("exact", "isnull"),
        "created_at": ("gte", "lte"),
    }
    # price is sortable so a role that hides it proves the hidden rule (not the allow-list) refuses it.
    ordering_fields = ("id", "name", "created_at", "price")
    default_ordering = "-id"


def register_testapp() -> None:
    register(
        Resource(
            model=Gadget,
            path="gadgets",
            filterset=GadgetFilterSet,
            fields=("name", "price", "status", "owner", "team", "created_by", "created_at", "updated_at"),
            write_fields=("name", "price", "status", "owner", "team"),
            required_fields=("name",),
            list_columns=("name", "price", "status", "owner", "team"),
            select_related=("owner", "team", "created_by"),
            taggable=True,
            custom_fields=True,
            nav_group="sales",
        )
    )
