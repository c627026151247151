"""The permission engine (guanxi/core/permissions.py) on its own: scopes, hierarchy, shares, parents,
field rules and token ceilings — plus a property test against a reference model written in Python."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guanxi.core.models import Note
from guanxi.core.permissions import (
    can,
    field_rules,
    forget,
    frozen_fields,
    hidden_fields,
    is_record_type,
    scope_for,
    token_allows,
)
from guanxi.identity.models import ApiToken, Role, Team, User
from guanxi.identity.selectors import role_descendant_ids, user_subordinate_ids, user_team_ids
from tests.factories import (
    AdminFactory,
    GadgetFactory,
    RoleFactory,
    TeamFactory,
    UserFactory,
    field_rule,
    grant,
    make_token,
    note,
    share,
)
from tests.testapp.models import Gadget

pytestmark = pytest.mark.django_db


def visible(user: Any, action: str = "view", model: Any = Gadget) -> set[int]:
    return set(model.objects.restrict(user, action).values_list("pk", flat=True))


class TestScopeFor:
    def test_anonymous_and_inactive_get_nothing(self) -> None:
        from django.contrib.auth.models import AnonymousUser

        admin = AdminFactory(is_active=False)
        assert scope_for(AnonymousUser(), "testapp.gadget", "view") == "none"
        assert scope_for(None, "testapp.gadget", "view") == "none"
        assert scope_for(admin, "testapp.gadget", "view") == "none"
        GadgetFactory(owner=admin)
        assert visible(admin) == set()

    def test_superuser_gets_all(self) -> None:
        assert scope_for(AdminFactory(), "identity.role", "delete") == "all"

    def test_star_applies_to_record_types_only(self) -> None:
        role = RoleFactory()
        grant(role, "*", "view", "all")
        user = UserFactory(role=role)
        assert scope_for(user, "testapp.gadget", "view") == "all"
        assert scope_for(user, "core.note", "view") == "all"
        assert scope_for(user, "identity.user", "view") == "none"
        assert scope_for(user, "core.tag", "view") == "none"

    def test_specific_rule_wins_over_star(self) -> None:
        role = RoleFactory()
        grant(role, "*", "view", "all")
        grant(role, "testapp.gadget", "view", "own")
        assert scope_for(UserFactory(role=role), "testapp.gadget", "view") == "own"

    def test_actions_are_separate(self) -> None:
        role = RoleFactory()
        grant(role, "testapp.gadget", "view", "all")
        user = UserFactory(role=role)
        assert can(user, Gadget, "view") and not can(user, Gadget, "change") and not can(user, "testapp.gadget", "add")

    def test_unknown_action_is_a_programming_error(self) -> None:
        with pytest.raises(ValueError):
            Gadget.objects.restrict(AdminFactory(), "fly")

    def test_is_record_type(self) -> None:
        assert is_record_type("testapp.gadget") and is_record_type("core.note")
        assert not is_record_type("identity.user") and not is_record_type("nope.nope") and not is_record_type("*")

    def test_policy_is_cached_per_user_object_until_forgotten(self) -> None:
        role = RoleFactory()
        user = UserFactory(role=role)
        assert scope_for(user, "testapp.gadget", "view") == "none"
        grant(role, "testapp.gadget", "view", "all")
        assert scope_for(user, "testapp.gadget", "view") == "none"  # one request sees one policy
        forget(user)
        assert scope_for(user, "testapp.gadget", "view") == "all"


class TestTokens:
    @pytest.mark.parametrize(
        "scopes, object_type, action, allowed",
        [
            (["*:*"], "testapp.gadget", "delete", True),
            (["*:view"], "testapp.gadget", "view", True),
            (["*:view"], "testapp.gadget", "change", False),
            (["testapp.gadget:*"], "testapp.gadget", "add", True),
            (["testapp.gadget:*"], "core.tag", "add", False),
            (["testapp.gadget:view"], "testapp.gadget", "view", True),
            (["testapp.gadget:view"], "testapp.gadgets", "view", False),
            ([], "testapp.gadget", "view", False),
            (["testapp:view"], "testapp.gadget", "view", False),
        ],
    )
    def test_token_allows(self, scopes: list[str], object_type: str, action: str, allowed: bool) -> None:
        assert token_allows(scopes, object_type, action) is allowed

    def test_token_caps_a_superuser(self) -> None:
        admin = AdminFactory()
        GadgetFactory(owner=admin)
        admin.token_scopes = ["core.tag:view"]
        assert scope_for(admin, "testapp.gadget", "view") == "none"
        assert visible(admin) == set()
        assert scope_for(admin, "core.tag", "view") == "all"

    def test_token_caps_shares_and_parents(self) -> None:
        owner, other = UserFactory(), UserFactory()
        g = GadgetFactory(owner=other)
        share(g, user=owner, access="change")
        n = note(g, owner=other)
        assert visible(owner) == {g.pk} and visible(owner, model=Note) == {n.pk}
        owner.token_scopes = ["core.note:view"]
        assert visible(owner) == set()  # the share does not widen the token
        owner.token_scopes = ["testapp.gadget:view"]
        assert visible(owner, model=Note) == set()  # nor does the parent

    def test_token_without_the_token_scope_sees_no_tokens(self) -> None:
        user = UserFactory()
        token, _ = make_token(user, ["*:*"])
        assert visible(user, model=ApiToken) == {token.pk}  # a session: your own tokens
        user.token_scopes = ["testapp.gadget:view"]
        assert visible(user, model=ApiToken) == set()

    def test_token_with_the_token_scope_sees_its_users_tokens(self) -> None:
        user = UserFactory()
        token, _ = make_token(user, ["*:*"])
        user.token_scopes = ["identity.apitoken:*"]
        assert visible(user, model=ApiToken) == {token.pk}


class TestScopes:
    @pytest.fixture
    def org(self) -> dict[str, Any]:
        director = RoleFactory(name="Director")
        manager = RoleFactory(name="Manager", parent=director)
        rep = RoleFactory(name="Rep", parent=manager)
        trainee = RoleFactory(name="Trainee", parent=rep)
        a, b = TeamFactory(name="A"), TeamFactory(name="B")
        return {
            "roles": {"director": director, "manager": manager, "rep": rep, "trainee": trainee},
            "teams": {"A": a, "B": b},
        }

    def test_own(self, org: dict[str, Any]) -> None:
        grant(org["roles"]["rep"], "testapp.gadget", "view", "own")
        me = UserFactory(role=org["roles"]["rep"], team=org["teams"]["A"])
        mine = GadgetFactory(owner=me)
        GadgetFactory(owner=UserFactory(team=org["teams"]["A"]))
        GadgetFactory(owner=None, team=org["teams"]["A"])
        assert visible(me) == {mine.pk}

    def test_team_includes_teams_the_user_manages(self, org: dict[str, Any]) -> None:
        grant(org["roles"]["rep"], "testapp.gadget", "view", "team")
        a, b = org["teams"]["A"], org["teams"]["B"]
        me = UserFactory(role=org["roles"]["rep"], team=a)
        in_a = GadgetFactory(owner=UserFactory(team=a))
        unowned_in_a = GadgetFactory(owner=None, team=a)
        in_b = GadgetFactory(owner=UserFactory(team=b))
        mine_elsewhere = GadgetFactory(owner=me, team=b)
        assert visible(me) == {in_a.pk, unowned_in_a.pk, mine_elsewhere.pk}
        b.manager = me
        b.save()
        me = User.objects.get(pk=me.pk)
        assert visible(me) == {in_a.pk, unowned_in_a.pk, mine_elsewhere.pk, in_b.pk}
        assert user_team_ids(me) == sorted([a.pk, b.pk])

    def test_team_reaches_the_teams_below(self, org: dict[str, Any]) -> None:
        """本部门及下级部门: a department's people, and whoever manages it, see its groups' records
        too; a group's people do not see the department's, nor a sibling group's."""
        grant(org["roles"]["rep"], "testapp.gadget", "view", "team")
        dept = TeamFactory(name="销售中心")
        east = TeamFactory(name="华东", parent=dept)
        shanghai = TeamFactory(name="上海组", parent=east)
        south = TeamFactory(name="华南", parent=dept)
        g = {
            name: GadgetFactory(owner=None, team=team)
            for name, team in (("dept", dept), ("east", east), ("shanghai", shanghai), ("south", south))
        }
        other = GadgetFactory(owner=None, team=org["teams"]["B"])

        def sees(user: User) -> set[str]:
            return {name for name, gadget in g.items() if gadget.pk in visible(user)}

        assert sees(UserFactory(role=org["roles"]["rep"], team=dept)) == {"dept", "east", "shanghai", "south"}
        assert sees(UserFactory(role=org["roles"]["rep"], team=east)) == {"east", "shanghai"}
        assert sees(UserFactory(role=org["roles"]["rep"], team=shanghai)) == {"shanghai"}
        head = UserFactory(role=org["roles"]["rep"], team=None)
        Team.objects.filter(pk=east.pk).update(manager=head)
        head = User.objects.get(pk=head.pk)
        assert sees(head) == {"east", "shanghai"}
        assert other.pk not in visible(head)
        # A team in the recycle bin no longer carries its groups along.
        Team.objects.filter(pk=east.pk).update(deleted_at=timezone.now())
        assert sees(User.objects.get(pk=head.pk)) == set()

    def test_a_share_with_a_group_reaches_its_department(self) -> None:
        dept = TeamFactory(name="销售中心")
        east = TeamFactory(name="华东", parent=dept)
        owner = UserFactory()
        to_group, to_dept = GadgetFactory(owner=owner), GadgetFactory(owner=owner)
        share(to_group, team=east)
        share(to_dept, team=dept)
        assert visible(UserFactory(team=dept)) == {to_group.pk, to_dept.pk}
        assert visible(UserFactory(team=east)) == {to_group.pk}

    def test_subordinates_follow_the_whole_role_tree(self, org: dict[str, Any]) -> None:
        roles = org["roles"]
        grant(roles["manager"], "testapp.gadget", "view", "subordinates")
        boss = UserFactory(role=roles["manager"])
        peer = UserFactory(role=roles["manager"])
        rep, trainee, director = (
            UserFactory(role=roles["rep"]),
            UserFactory(role=roles["trainee"]),
            UserFactory(role=roles["director"]),
        )
        g = {
            u: GadgetFactory(owner=obj).pk
            for u, obj in (("boss", boss), ("peer", peer), ("rep", rep), ("trainee", trainee), ("director", director))
        }
        assert visible(boss) == {g["boss"], g["rep"], g["trainee"]}
        assert set(user_subordinate_ids(boss)) == {rep.pk, trainee.pk}

    def test_role_cycle_in_data_does_not_loop(self) -> None:
        a = RoleFactory()
        b = RoleFactory(parent=a)
        Role.objects.filter(pk=a.pk).update(parent=b)  # corrupt data, written around the service
        assert set(role_descendant_ids(a.pk)) == {b.pk}

    def test_all(self, org: dict[str, Any]) -> None:
        grant(org["roles"]["rep"], "testapp.gadget", "view", "all")
        me = UserFactory(role=org["roles"]["rep"])
        rows = {GadgetFactory(owner=None).pk, GadgetFactory(owner=UserFactory()).pk}
        assert visible(me) == rows

    def test_soft_deleted_rows_are_never_listed(self) -> None:
        admin = AdminFactory()
        g = GadgetFactory(owner=admin)
        Gadget.objects.filter(pk=g.pk).update(deleted_at="2026-01-01T00:00:00Z")
        assert visible(admin) == set()
        assert Gadget.all_objects.restrict(admin, "view").filter(pk=g.pk).exists()


class TestShares:
    def test_user_and_team_shares(self) -> None:
        team = TeamFactory()
        me, colleague, owner = UserFactory(team=team), UserFactory(team=team), UserFactory()
        to_me = GadgetFactory(owner=owner)
        to_team = GadgetFactory(owner=owner)
        GadgetFactory(owner=owner)
        share(to_me, user=me)
        share(to_team, team=team)
        assert visible(me) == {to_me.pk, to_team.pk}
        assert visible(colleague) == {to_team.pk}

    def test_access_levels(self) -> None:
        me, owner = UserFactory(), UserFactory()
        view_only = GadgetFactory(owner=owner)
        change = GadgetFactory(owner=owner)
        share(view_only, user=me, access="view")
        share(change, user=me, access="change")
        assert visible(me, "view") == {view_only.pk, change.pk}
        assert visible(me, "change") == {change.pk}
        assert visible(me, "delete") == set()
        assert visible(me, "assign") == set()

    def test_shares_of_another_type_do_not_apply(self) -> None:
        """Shares point at (content_type, object_id): a share of note #n is not a share of gadget #n."""
        from tests.factories import content_type_of

        me, owner = UserFactory(), UserFactory()
        g = GadgetFactory(owner=owner)
        assert not Note.all_objects.filter(pk=g.pk).exists()
        n = Note.objects.create(id=g.pk, content_type=content_type_of(g), object_id=g.pk, body="x", owner=owner)
        share(n, user=me)
        assert visible(me) == set()

    def test_the_condition_is_worked_out_once_per_user_and_again_after_a_share(
        self, monkeypatch: pytest.MonkeyPatch, django_assert_num_queries: Any
    ) -> None:
        """A list page asks ``restrict`` and ``may_reach`` about a dozen times: the shares are read,
        and the condition built, once for each record type and action, until a share is written."""
        from guanxi.core import permissions

        built: list[tuple[Any, str]] = []
        build = permissions._build_condition
        monkeypatch.setattr(permissions, "_build_condition", lambda m, u, a: built.append((m, a)) or build(m, u, a))
        me, owner = UserFactory(), UserFactory()
        shared = GadgetFactory(owner=owner)
        share(shared, user=me)
        assert visible(me) == {shared.pk}
        with django_assert_num_queries(1):  # the rows only
            assert visible(me) == {shared.pk} and permissions.may_reach(me, Gadget, "view")
        assert built == [(Gadget, "view")]
        later = GadgetFactory(owner=owner)
        share(later, user=me)
        assert visible(me) == {shared.pk, later.pk}  # read again: the new share counts at once
        assert built == [(Gadget, "view"), (Gadget, "view")]


class TestFollowParent:
    def test_notes_follow_the_record_not_their_owner(self) -> None:
        role = RoleFactory()
        grant(role, "testapp.gadget", ("view", "change"), "own")
        me, other = UserFactory(role=role), UserFactory(role=role)
        mine, theirs = GadgetFactory(owner=me), GadgetFactory(owner=other)
        on_mine_by_other = note(mine, owner=other)
        on_theirs_by_me = note(theirs, owner=me)
        assert visible(me, model=Note) == {on_mine_by_other.pk}
        assert visible(me, "change", model=Note) == {on_mine_by_other.pk}
        assert on_theirs_by_me.pk not in visible(me, model=Note)

    def test_view_share_lets_read_notes_but_not_change_them(self) -> None:
        me, owner = UserFactory(), UserFactory()
        g = GadgetFactory(owner=owner)
        n = note(g, owner=owner)
        share(g, user=me, access="view")
        assert visible(me, model=Note) == {n.pk}
        assert visible(me, "change", model=Note) == set()
        assert visible(me, "delete", model=Note) == set()


class TestFieldRules:
    def test_hidden_and_readonly(self) -> None:
        role = RoleFactory()
        field_rule(role, "testapp.gadget", "price", "hidden")
        field_rule(role, "testapp.gadget", "status", "readonly")
        user = UserFactory(role=role)
        assert field_rules(user, Gadget) == {"price": "hidden", "status": "readonly"}
        assert hidden_fields(user, Gadget) == {"price"}
        assert frozen_fields(user, "testapp.gadget") == {"price", "status"}
        assert hidden_fields(user, "core.note") == set()

    def test_superusers_and_anonymous_have_no_rules(self) -> None:
        from django.contrib.auth.models import AnonymousUser

        assert field_rules(AdminFactory(), Gadget) == {}
        assert field_rules(AnonymousUser(), Gadget) == {}


# --- property test: restrict() == a reference model of the policy -----------------------------------------

VIEW_SCOPE = {"rep": "own", "team_rep": "team", "manager": "subordinates", "director": "subordinates", "all": "all"}
CHANGE_SCOPE = {"rep": "own", "team_rep": "own", "manager": "own", "director": "subordinates", "all": "team"}
PARENT = {"rep": "manager", "manager": "director"}  # team_rep and all stand alone


def below(role: str | None) -> set[str]:
    out: set[str] = set()
    for child, parent in PARENT.items():
        if parent == role:
            out |= {child} | below(child)
    return out


def reference(users: list[dict[str, Any]], gadgets: list[dict[str, Any]], shares: list[dict[str, Any]], action: str):
    """Who may ``action`` which gadget, from the written rules (not from the code under test)."""
    scopes = VIEW_SCOPE if action == "view" else CHANGE_SCOPE
    result = {}
    for i, u in enumerate(users):
        teams = {u["team"]} - {None}
        scope = scopes.get(u["role"]) if u["role"] else None
        subordinates = {j for j, v in enumerate(users) if v["role"] in below(u["role"])}
        seen = set()
        for k, g in enumerate(gadgets):
            ok = (
                scope == "all"
                or (scope is not None and g["owner"] == i)
                or (scope == "team" and g["team"] in teams)
                or (scope == "subordinates" and g["owner"] in subordinates)
            )
            for s in shares:
                if s["gadget"] == k and (s["user"] == i or (s["team"] is not None and s["team"] in teams)):
                    ok = ok or action == "view" or s["access"] == "change"
            if ok:
                seen.add(k)
        result[i] = seen
    return result


org_users = st.lists(
    st.fixed_dictionaries({"team": st.sampled_from([None, 0, 1]), "role": st.sampled_from([None, *VIEW_SCOPE])}),
    min_size=1,
    max_size=6,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), users=org_users)
def test_restrict_matches_the_reference_model(data: st.DataObject, users: list[dict[str, Any]]) -> None:
    n = len(users)
    gadgets = data.draw(
        st.lists(
            st.fixed_dictionaries(
                {"owner": st.one_of(st.none(), st.integers(0, n - 1)), "team": st.sampled_from([None, 0, 1])}
            ),
            max_size=8,
        )
    )
    shares = []
    if gadgets:
        shares = data.draw(
            st.lists(
                st.fixed_dictionaries(
                    {
                        "gadget": st.integers(0, len(gadgets) - 1),
                        "user": st.one_of(st.none(), st.integers(0, n - 1)),
                        "team": st.sampled_from([None, 0, 1]),
                        "access": st.sampled_from(["view", "change"]),
                    }
                ).filter(lambda s: (s["user"] is None) != (s["team"] is None)),
                max_size=4,
            )
        )
    with transaction.atomic():
        teams = [Team.objects.create(name=f"T{i}") for i in range(2)]
        roles: dict[str, Role] = {}
        for name in ("director", "manager", "rep", "team_rep", "all"):
            roles[name] = Role.objects.create(name=f"role {name}", parent=roles.get(PARENT.get(name, "")))
            grant(roles[name], "testapp.gadget", "view", VIEW_SCOPE[name])
            grant(roles[name], "testapp.gadget", "change", CHANGE_SCOPE[name])
        people = [
            User.objects.create(
                email=f"p{i}@example.com",
                display_name=f"P{i}",
                team=teams[u["team"]] if u["team"] is not None else None,
                role=roles[u["role"]] if u["role"] else None,
            )
            for i, u in enumerate(users)
        ]
        rows = [
            Gadget.objects.create(
                name=f"G{k}",
                owner=people[g["owner"]] if g["owner"] is not None else None,
                team=teams[g["team"]] if g["team"] is not None else None,
            )
            for k, g in enumerate(gadgets)
        ]
        for s in shares:
            share(
                rows[s["gadget"]],
                user=people[s["user"]] if s["user"] is not None else None,
                team=teams[s["team"]] if s["team"] is not None else None,
                access=s["access"],
            )
        index = {row.pk: k for k, row in enumerate(rows)}
        for action in ("view", "change"):
            expected = reference(users, gadgets, shares, action)
            for i, person in enumerate(people):
                person = User.objects.get(pk=person.pk)  # a fresh policy cache, as in a new request
                got = {index[pk] for pk in visible(person, action)}
                assert got == expected[i], (action, i, users[i])
        transaction.set_rollback(True)


def test_a_role_in_the_recycle_bin_grants_nothing() -> None:
    from tests.conftest import session_api

    admin = AdminFactory()
    role = RoleFactory()
    grant(role, "testapp.gadget", "view", "all")
    user = UserFactory(role=role)
    GadgetFactory(owner=admin)
    response = session_api(admin).delete(f"roles/{role.pk}")
    if response.status_code >= 400:
        return  # refusing to bin a role that people hold is a fine answer too
    assert scope_for(User.objects.get(pk=user.pk), "testapp.gadget", "view") == "none"
