"""The generic write services (guanxi/core/services.py): permission re-checks, assignment, versions,
frozen fields, tags and the audit helpers they use."""

from __future__ import annotations

import datetime
import decimal
from typing import Any

import pytest

from guanxi.core import services
from guanxi.core.audit import MASK, diff, snapshot
from guanxi.core.errors import FieldErrors, NotFound, PermissionDenied, PreconditionFailed
from guanxi.core.models import ChangeLogEntry, Tag, TaggedItem
from guanxi.identity.models import User
from tests.factories import (
    AdminFactory,
    GadgetFactory,
    RoleFactory,
    TeamFactory,
    UserFactory,
    field_rule,
    grant,
    share,
    tag,
)
from tests.testapp.models import Gadget

pytestmark = pytest.mark.django_db


@pytest.fixture
def team() -> Any:
    return TeamFactory()


@pytest.fixture
def rep(team: Any) -> User:
    role = RoleFactory(name="Rep")
    grant(role, "testapp.gadget", scope="own")
    return UserFactory(role=role, team=team)


@pytest.fixture
def lead(team: Any) -> User:
    """Team scope and the right to assign within it."""
    role = RoleFactory(name="Lead")
    grant(role, "testapp.gadget", ("view", "add", "change", "delete", "assign"), "team")
    return UserFactory(role=role, team=team)


class TestCreate:
    def test_defaults_owner_team_and_creator(self, rep: User) -> None:
        g = services.record_create(model=Gadget, user=rep, data={"name": "x"})
        assert (g.owner_id, g.team_id, g.created_by_id, g.version) == (rep.pk, rep.team_id, rep.pk, 1)

    def test_without_add_right(self) -> None:
        with pytest.raises(PermissionDenied):
            services.record_create(model=Gadget, user=UserFactory(), data={"name": "x"})
        assert not Gadget.objects.exists()

    def test_assigning_to_someone_else_needs_assign(self, rep: User, team: Any) -> None:
        other = UserFactory(team=team)
        with pytest.raises(FieldErrors) as exc:
            services.record_create(model=Gadget, user=rep, data={"name": "x", "owner_id": other.pk})
        assert set(exc.value.errors) == {"owner"}
        with pytest.raises(FieldErrors):
            services.record_create(model=Gadget, user=rep, data={"name": "x", "team_id": TeamFactory().pk})
        assert not Gadget.objects.exists()

    def test_assigning_with_the_right(self, lead: User, team: Any) -> None:
        other = UserFactory(team=team)
        g = services.record_create(model=Gadget, user=lead, data={"name": "x", "owner_id": other.pk})
        assert g.owner_id == other.pk

    def test_naming_yourself_is_not_assigning(self, rep: User) -> None:
        g = services.record_create(
            model=Gadget, user=rep, data={"name": "x", "owner_id": rep.pk, "team_id": rep.team_id}
        )
        assert g.owner_id == rep.pk

    def test_frozen_fields_are_refused_in_services_too(self, rep: User) -> None:
        field_rule(rep.role, "testapp.gadget", "price", "readonly")
        with pytest.raises(FieldErrors) as exc:
            services.record_create(model=Gadget, user=rep, data={"name": "x", "price": decimal.Decimal("1")})
        assert set(exc.value.errors) == {"price"}

    def test_model_validation(self, rep: User) -> None:
        with pytest.raises(FieldErrors) as exc:
            services.record_create(model=Gadget, user=rep, data={"name": ""})
        assert set(exc.value.errors) == {"name"}


class TestUpdate:
    def test_invisible_is_404_and_visible_is_403(self, rep: User) -> None:
        theirs = GadgetFactory(owner=UserFactory())
        with pytest.raises(NotFound):
            services.record_update(model=Gadget, pk=theirs.pk, user=rep, data={"name": "x"})
        share(theirs, user=rep, access="view")
        with pytest.raises(PermissionDenied):
            services.record_update(model=Gadget, pk=theirs.pk, user=rep, data={"name": "x"})
        with pytest.raises(NotFound):
            services.record_update(model=Gadget, pk=999999, user=rep, data={"name": "x"})

    def test_stale_version(self, rep: User) -> None:
        g = GadgetFactory(owner=rep, name="a")
        services.record_update(model=Gadget, pk=g.pk, user=rep, data={"name": "b"}, expected_version=1)
        with pytest.raises(PreconditionFailed):
            services.record_update(model=Gadget, pk=g.pk, user=rep, data={"name": "c"}, expected_version=1)
        assert Gadget.objects.get(pk=g.pk).name == "b"

    def test_reassigning_away_needs_assign(self, rep: User, lead: User, team: Any) -> None:
        g = GadgetFactory(owner=rep)
        with pytest.raises(FieldErrors):
            services.record_update(model=Gadget, pk=g.pk, user=rep, data={"owner_id": lead.pk})
        assert Gadget.objects.get(pk=g.pk).owner_id == rep.pk
        services.record_update(model=Gadget, pk=g.pk, user=lead, data={"owner_id": lead.pk})
        assert Gadget.objects.get(pk=g.pk).owner_id == lead.pk

    def test_a_change_share_cannot_move_the_record_out_of_reach(self, rep: User) -> None:
        owner = UserFactory()
        g = GadgetFactory(owner=owner)
        share(g, user=rep, access="change")
        services.record_update(model=Gadget, pk=g.pk, user=rep, data={"name": "edited via share"})
        with pytest.raises(FieldErrors):
            services.record_update(model=Gadget, pk=g.pk, user=rep, data={"owner_id": rep.pk})

    def test_deleted_rows_are_not_updated(self, rep: User) -> None:
        g = GadgetFactory(owner=rep)
        services.record_delete(model=Gadget, pk=g.pk, user=rep)
        with pytest.raises(NotFound):
            services.record_update(model=Gadget, pk=g.pk, user=rep, data={"name": "x"})


class TestDeleteRestorePurge:
    def test_delete_needs_delete(self, team: Any) -> None:
        role = RoleFactory()
        grant(role, "testapp.gadget", ("view", "change"), "own")
        user = UserFactory(role=role, team=team)
        g = GadgetFactory(owner=user)
        with pytest.raises(PermissionDenied):
            services.record_delete(model=Gadget, pk=g.pk, user=user)
        assert Gadget.objects.filter(pk=g.pk).exists()

    def test_restore_and_purge_need_delete_on_the_binned_row(self, rep: User) -> None:
        g = GadgetFactory(owner=rep)
        services.record_delete(model=Gadget, pk=g.pk, user=rep)
        with pytest.raises(NotFound):
            services.record_restore(model=Gadget, pk=g.pk, user=UserFactory())
        restored = services.record_restore(model=Gadget, pk=g.pk, user=rep)
        assert restored.deleted_at is None and restored.deleted_by_id is None
        with pytest.raises(NotFound):
            services.record_purge(model=Gadget, pk=g.pk, user=rep)  # not in the bin any more

    def test_models_without_a_bin_are_purged_with_their_links(self) -> None:
        admin = AdminFactory()
        t = Tag.objects.create(name="x")
        g = GadgetFactory(owner=admin)
        tag(g, "x")
        services.record_delete(model=Tag, pk=t.pk, user=admin)
        assert not Tag.objects.filter(pk=t.pk).exists()
        assert not TaggedItem.objects.filter(tag_id=t.pk).exists()
        assert ChangeLogEntry.objects.get(object_id=t.pk, action="purge").changes["name"] == ["x", None]


class TestTags:
    def test_tags_set_replaces_and_creates(self) -> None:
        admin = AdminFactory()
        g = GadgetFactory(owner=admin)
        services.tags_set(g, ["b", " a", "a", ""])
        assert sorted(Tag.objects.filter(items__object_id=g.pk).values_list("name", flat=True)) == ["a", "b"]
        services.tags_set(g, ["c"])
        assert list(Tag.objects.filter(items__object_id=g.pk).values_list("name", flat=True)) == ["c"]
        with pytest.raises(FieldErrors):
            services.tags_set(g, ["x" * 61])


class TestAudit:
    def test_snapshot_is_json_ready_and_masks_secrets(self) -> None:
        user = UserFactory()
        data = snapshot(user)
        assert data["password"] == MASK
        assert "version" not in data and "updated_at" not in data and "last_login" not in data
        g = GadgetFactory(owner=user, price=decimal.Decimal("1.50"))
        data = snapshot(g)
        assert data["price"] == "1.50" and data["owner"] == user.pk and isinstance(data["created_at"], str)

    def test_diff(self) -> None:
        before = {"a": 1, "b": 2, "custom_fields": {"x": 1, "y": 2}}
        after = {"a": 1, "b": 3, "c": 4, "custom_fields": {"x": 1, "y": None, "z": datetime.date(2026, 1, 1)}}
        assert diff(before, after) == {
            "b": [2, 3],
            "c": [None, 4],
            "cf.y": [2, None],
            "cf.z": [None, datetime.date(2026, 1, 1)],
        }
        assert diff(before, before) == {}
