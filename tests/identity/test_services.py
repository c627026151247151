"""Identity services: the rules that keep users, roles, shares and tokens safe, called directly."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from guanxi.core.errors import FieldErrors, NotFound, PermissionDenied, PreconditionFailed
from guanxi.identity import services
from guanxi.identity.models import ApiToken, FieldRule, Role, RolePermission, Share, User
from tests.conftest import session_api
from tests.factories import (
    PASSWORD,
    AdminFactory,
    GadgetFactory,
    RoleFactory,
    TagFactory,
    TeamFactory,
    UserFactory,
    content_type_of,
    grant,
    make_token,
    share,
)
from tests.testapp.models import Gadget

pytestmark = pytest.mark.django_db


def errors_of(exc: pytest.ExceptionInfo[FieldErrors]) -> set[str]:
    return set(exc.value.errors)


@pytest.fixture
def admin() -> User:
    return AdminFactory()


@pytest.fixture
def user_admin() -> User:
    """Not a superuser, but manages all users (view/add/change/delete all)."""
    role = RoleFactory(name="HR")
    grant(role, "identity.user", scope="all")
    return UserFactory(role=role)


class TestUsers:
    def test_email_is_unique_case_insensitively(self, admin: User) -> None:
        UserFactory(email="li@example.com")
        with pytest.raises(FieldErrors) as exc:
            services.user_create(user=admin, data={"email": " LI@Example.com ", "display_name": "Li"})
        assert errors_of(exc) == {"email"}

    def test_email_is_stored_lower_case(self, admin: User) -> None:
        user = services.user_create(user=admin, data={"email": "Wang@Example.COM", "display_name": "Wang"})
        assert user.email == "wang@example.com"

    def test_weak_password_is_refused_and_nothing_is_written(self, admin: User) -> None:
        with pytest.raises(FieldErrors) as exc:
            services.user_create(user=admin, data={"email": "a@example.com", "display_name": "A"}, password="123")
        assert errors_of(exc) == {"password"}
        assert not User.objects.filter(email="a@example.com").exists()

    def test_only_a_superuser_grants_admin_rights(self, user_admin: User) -> None:
        with pytest.raises(FieldErrors) as exc:
            services.user_create(
                user=user_admin, data={"email": "x@example.com", "display_name": "X", "is_superuser": True}
            )
        assert errors_of(exc) == {"is_superuser"}
        target = UserFactory()
        for field in ("is_superuser", "is_staff"):
            with pytest.raises(FieldErrors):
                services.user_update(pk=target.pk, user=user_admin, data={field: True})
        target.refresh_from_db()
        assert not target.is_superuser and not target.is_staff

    def test_someone_managing_all_users_sets_role_and_team(self, user_admin: User) -> None:
        role, team = RoleFactory(), TeamFactory()
        target = UserFactory()
        services.user_update(pk=target.pk, user=user_admin, data={"role_id": role.pk, "team_id": team.pk})
        target.refresh_from_db()
        assert (target.role_id, target.team_id) == (role.pk, team.pk)

    @pytest.mark.parametrize("field", ["role_id", "team_id", "is_active"])
    def test_editing_yourself_does_not_reach_privileged_fields(self, field: str) -> None:
        role = RoleFactory()
        grant(role, "identity.user", ("view", "change"), "own")
        me = UserFactory(role=role, team=TeamFactory())
        services.user_update(pk=me.pk, user=me, data={"display_name": "New me"})
        value = {"role_id": RoleFactory().pk, "team_id": TeamFactory().pk, "is_active": True}[field]
        with pytest.raises(FieldErrors) as exc:
            services.user_update(pk=me.pk, user=me, data={field: value})
        assert errors_of(exc) == {field.removesuffix("_id")}

    def test_privilege_escalation_through_the_api_is_refused(self) -> None:
        role = RoleFactory()
        grant(role, "identity.user", ("view", "change"), "own")
        me = UserFactory(role=role)
        api = session_api(me)
        assert api.patch(f"users/{me.pk}", {"display_name": "ok"}).status_code == 200
        for body in ({"is_superuser": True}, {"role": RoleFactory().pk}, {"team": TeamFactory().pk}):
            response = api.patch(f"users/{me.pk}", body)
            assert response.status_code == 400, body
        me.refresh_from_db()
        assert not me.is_superuser and me.role_id == role.pk and me.team_id is None

    def test_nobody_deactivates_themself(self, admin: User) -> None:
        with pytest.raises(FieldErrors):
            services.user_deactivate(pk=admin.pk, user=admin)
        with pytest.raises(FieldErrors):
            services.user_update(pk=admin.pk, user=admin, data={"is_active": False})
        admin.refresh_from_db()
        assert admin.is_active

    def test_deactivate_needs_delete_rights(self) -> None:
        role = RoleFactory()
        grant(role, "identity.user", "view", "all")
        viewer, target = UserFactory(role=role), UserFactory()
        with pytest.raises(PermissionDenied):
            services.user_deactivate(pk=target.pk, user=viewer)
        with pytest.raises(NotFound):
            services.user_deactivate(pk=target.pk, user=UserFactory())

    def test_set_password(self, user_admin: User) -> None:
        me, other = UserFactory(), UserFactory()
        services.user_set_password(target=me, user=me, password="My-New-Secret-77")
        assert User.objects.get(pk=me.pk).check_password("My-New-Secret-77")
        with pytest.raises(PermissionDenied):
            services.user_set_password(target=other, user=me, password="My-New-Secret-77")
        with pytest.raises(FieldErrors):
            services.user_set_password(target=me, user=me, password="short")
        services.user_set_password(target=other, user=user_admin, password="Set-By-HR-2026")
        assert User.objects.get(pk=other.pk).check_password("Set-By-HR-2026")

    def test_role_change_takes_effect_on_the_next_request(self, admin: User) -> None:
        role = RoleFactory()
        grant(role, "testapp.gadget", "view", "all")
        target = UserFactory()
        GadgetFactory(owner=admin)
        api = session_api(target)
        assert api.get("gadgets").json()["items"] == []
        services.user_update(pk=target.pk, user=admin, data={"role_id": role.pk})
        assert len(api.get("gadgets").json()["items"]) == 1


class TestRoles:
    def test_a_role_cannot_report_to_itself_or_below(self, admin: User) -> None:
        top = RoleFactory()
        mid = RoleFactory(parent=top)
        low = RoleFactory(parent=mid)
        for parent in (top, mid, low):
            with pytest.raises(FieldErrors) as exc:
                services.role_update(pk=top.pk, user=admin, data={"parent_id": parent.pk})
            assert errors_of(exc) == {"parent"}
        services.role_update(pk=low.pk, user=admin, data={"parent_id": top.pk})  # moving up is fine

    def test_names_are_unique_case_insensitively(self, admin: User) -> None:
        RoleFactory(name="Sales")
        TeamFactory(name="East")
        with pytest.raises(FieldErrors):
            services.role_create(user=admin, data={"name": "sales"})
        with pytest.raises(FieldErrors):
            services.team_create(user=admin, data={"name": " east "})

    def test_permissions_set(self, admin: User) -> None:
        role = RoleFactory()
        grant(role, "core.tag", "view", "all")
        FieldRule.objects.create(role=role, object_type="testapp.gadget", field="price", access="hidden")
        services.role_permissions_set(
            role_id=role.pk,
            user=admin,
            permissions=[
                {"object_type": "testapp.gadget", "action": "view", "scope": "own"},
                {"object_type": "testapp.gadget", "action": "view", "scope": "team"},  # the last one wins
                {"object_type": "testapp.gadget", "action": "delete", "scope": "none"},  # none: no row
            ],
        )
        rows = set(RolePermission.objects.filter(role=role).values_list("object_type", "action", "scope"))
        assert rows == {("testapp.gadget", "view", "team")}
        assert FieldRule.objects.filter(role=role).count() == 1  # field_rules=None keeps them
        services.role_permissions_set(role_id=role.pk, user=admin, permissions=[], field_rules=[])
        assert not FieldRule.objects.filter(role=role).exists()
        assert Role.objects.get(pk=role.pk).version == 3

    @pytest.mark.parametrize(
        "permissions, field_rules, fields",
        [
            ([{"object_type": "x.y", "action": "fly", "scope": "own"}], None, {"permissions.0.action"}),
            ([{"object_type": "x.y", "action": "view", "scope": "galaxy"}], None, {"permissions.0.scope"}),
            ([{"object_type": "", "action": "view", "scope": "own"}], None, {"permissions.0.object_type"}),
            ([], [{"object_type": "x.y", "field": "f", "access": "secret"}], {"field_rules.0.access"}),
            ([], [{"object_type": "x.y", "field": "", "access": "hidden"}], {"field_rules.0"}),
        ],
    )
    def test_invalid_rules_name_the_entry(
        self, admin: User, permissions: list[Any], field_rules: Any, fields: set[str]
    ) -> None:
        role = RoleFactory()
        grant(role, "core.tag", "view", "all")
        with pytest.raises(FieldErrors) as exc:
            services.role_permissions_set(role_id=role.pk, user=admin, permissions=permissions, field_rules=field_rules)
        assert errors_of(exc) == fields
        assert RolePermission.objects.filter(role=role).count() == 1

    def test_stale_version(self, admin: User) -> None:
        role = RoleFactory()
        with pytest.raises(PreconditionFailed):
            services.role_permissions_set(role_id=role.pk, user=admin, permissions=[], expected_version=7)

    def test_role_admin_without_change_cannot(self) -> None:
        viewer_role = RoleFactory()
        grant(viewer_role, "identity.role", "view", "all")
        viewer = UserFactory(role=viewer_role)
        with pytest.raises(PermissionDenied):
            services.role_permissions_set(role_id=viewer_role.pk, user=viewer, permissions=[])


class TestTeams:
    def test_a_team_cannot_belong_to_itself_or_below(self, admin: User) -> None:
        top = TeamFactory()
        mid = TeamFactory(parent=top)
        low = TeamFactory(parent=mid)
        for parent in (top, mid, low):
            with pytest.raises(FieldErrors) as exc:
                services.team_update(pk=top.pk, user=admin, data={"parent_id": parent.pk})
            assert errors_of(exc) == {"parent"}
        services.team_update(pk=low.pk, user=admin, data={"parent_id": top.pk})  # moving up is fine

    def test_a_team_with_teams_below_stays(self, admin: User) -> None:
        top = TeamFactory()
        low = TeamFactory(parent=top)
        with pytest.raises(FieldErrors) as exc:
            services.team_delete(pk=top.pk, user=admin)
        assert errors_of(exc) == {"team"}
        services.team_delete(pk=low.pk, user=admin)
        services.team_delete(pk=top.pk, user=admin)  # once they are gone

    def test_through_the_api(self, admin: User) -> None:
        api = session_api(admin)
        top = api.post("teams", {"name": "销售中心"}).json()
        low = api.post("teams", {"name": "华东销售部", "parent": top["id"]})
        assert low.status_code == 201, low.content
        assert low.json()["parent"] == {"id": top["id"], "display": "销售中心"}
        back = api.patch(f"teams/{top['id']}", {"parent": low.json()["id"]})
        assert back.status_code == 400 and "parent" in str(back.json())


class TestShares:
    @pytest.fixture
    def rep(self) -> User:
        role = RoleFactory()
        grant(role, "testapp.gadget", ("view", "change"), "own")
        return UserFactory(role=role)

    def data(self, obj: Any, **extra: Any) -> dict[str, Any]:
        return {"content_type_id": content_type_of(obj).pk, "object_id": obj.pk, **extra}

    def test_share_what_you_may_change(self, rep: User) -> None:
        friend = UserFactory()
        mine = GadgetFactory(owner=rep)
        s = services.share_create(user=rep, data=self.data(mine, user_id=friend.pk))
        assert s.created_by_id == rep.pk
        assert Gadget.objects.restrict(friend, "view").filter(pk=mine.pk).exists()

    def test_cannot_reshare_a_view_share(self, rep: User) -> None:
        theirs = GadgetFactory(owner=UserFactory())
        share(theirs, user=rep, access="view")
        with pytest.raises(PermissionDenied):
            services.share_create(user=rep, data=self.data(theirs, user_id=UserFactory().pk))

    def test_invisible_record_is_no_such_record(self, rep: User) -> None:
        theirs = GadgetFactory(owner=UserFactory())
        with pytest.raises(FieldErrors) as exc:
            services.share_create(user=rep, data=self.data(theirs, user_id=UserFactory().pk))
        assert errors_of(exc) == {"object_id"}

    @pytest.mark.parametrize("target", ["both", "neither"])
    def test_one_user_or_one_team(self, rep: User, target: str) -> None:
        mine = GadgetFactory(owner=rep)
        extra = {"user_id": UserFactory().pk, "team_id": TeamFactory().pk} if target == "both" else {}
        with pytest.raises(FieldErrors) as exc:
            services.share_create(user=rep, data=self.data(mine, **extra))
        assert errors_of(exc) == {"user"}

    def test_only_shareable_types(self, admin: User) -> None:
        for obj in (TagFactory(), UserFactory()):
            with pytest.raises(FieldErrors) as exc:
                services.share_create(user=admin, data=self.data(obj, user_id=UserFactory().pk))
            assert errors_of(exc) == {"content_type"}
        with pytest.raises(FieldErrors):
            services.share_create(
                user=admin, data={"content_type_id": 999999, "object_id": 1, "user_id": UserFactory().pk}
            )

    def test_delete_needs_change_on_the_record(self, rep: User) -> None:
        theirs = GadgetFactory(owner=UserFactory())
        s = share(theirs, user=rep, access="view")
        with pytest.raises(NotFound):
            services.share_delete(pk=s.pk, user=rep)
        assert Share.objects.filter(pk=s.pk).exists()


class TestTokens:
    def test_mint_returns_the_key_once(self, admin: User) -> None:
        token, key = services.token_create(user=admin, name=" sync ", scopes=["*:view", "*:view", "core.tag:add"])
        assert token.name == "sync" and token.scopes == ["*:view", "core.tag:add"]
        assert token.prefix == key[: ApiToken.PREFIX_LENGTH] and key not in token.key_hash

    def test_minting_for_someone_else_needs_token_admin_rights(self) -> None:
        me, other = UserFactory(), UserFactory()
        with pytest.raises(PermissionDenied):
            services.token_create(user=me, name="x", scopes=["*:view"], owner=other)
        role = RoleFactory()
        grant(role, "identity.apitoken", "add", "all")
        token_admin = UserFactory(role=role)
        token, _ = services.token_create(user=token_admin, name="x", scopes=["*:view"], owner=other)
        assert token.user_id == other.pk

    def test_expiry_must_be_in_the_future(self, admin: User) -> None:
        with pytest.raises(FieldErrors) as exc:
            services.token_create(
                user=admin, name="x", scopes=["*:view"], expires_at=timezone.now() - datetime.timedelta(minutes=1)
            )
        assert errors_of(exc) == {"expires_at"}

    def test_revoke_is_idempotent_and_only_your_own(self, admin: User) -> None:
        me, other = UserFactory(), UserFactory()
        mine, _ = make_token(me, ["*:view"])
        theirs, _ = make_token(other, ["*:view"])
        first = services.token_revoke(pk=mine.pk, user=me).revoked_at
        assert first is not None
        assert services.token_revoke(pk=mine.pk, user=me).revoked_at == first
        with pytest.raises(NotFound):
            services.token_revoke(pk=theirs.pk, user=me)
        assert services.token_revoke(pk=theirs.pk, user=admin).revoked_at is not None

    def test_a_token_cannot_grant_more_than_it_has(self, admin: User) -> None:
        admin.token_scopes = ["identity.apitoken:add", "core.tag:view"]
        with pytest.raises(FieldErrors):
            services.token_create(user=admin, name="x", scopes=["core.tag:*"])
        token, _ = services.token_create(user=admin, name="x", scopes=["core.tag:view"])
        assert token.scopes == ["core.tag:view"]


def test_users_are_created_with_a_usable_password_through_the_api(admin: User) -> None:
    from django.test import Client

    api = session_api(admin)
    response = api.post("users", {"email": "new@example.com", "display_name": "New"})
    assert response.status_code == 201
    user = User.objects.get(pk=response.json()["id"])
    assert not user.has_usable_password()  # they set one through the reset email
    api.post(f"users/{user.pk}/password", {"password": PASSWORD})
    assert Client().login(username="new@example.com", password=PASSWORD)


def test_content_type_helper_matches_contenttypes() -> None:
    assert content_type_of(Gadget) == ContentType.objects.get_for_model(Gadget)
