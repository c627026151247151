"""Whose records a list shows, said relative to whoever asks: ``owner=me``, ``owner=reports`` (me and
the people who report to me: below my role, or in a team I manage) and ``team=mine`` (my team and
those I manage). A link, a bookmark or a shared saved view then means the same to each user; the
permission scope still decides what anyone sees at all."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from guanxi.core.models import SavedView
from guanxi.customers.models import Account
from guanxi.identity.models import Role, Team, User
from tests.customers.conftest import Api, grant
from tests.customers.test_home import card, home, listed
from tests.customers.test_record_page import page

pytestmark = pytest.mark.django_db


@pytest.fixture
def director_role(sales_role: Role) -> Role:
    """Above the sales reps in the role tree, seeing what those below own."""
    role = Role.objects.create(name="销售总监")
    Role.objects.filter(pk=sales_role.pk).update(parent=role)
    grant(role, "customers.account", scope="subordinates")
    return role


def names(user: User, query: str) -> set[str]:
    response = Api(user).get(f"accounts?{query}")
    assert response.status_code == 200, response.json_body
    return {item["name"] for item in response.json_body["items"]}


def test_owner_and_team_relative_to_who_asks(
    rep: User,
    other_rep: User,
    make_user: Callable[..., User],
    sales_role: Role,
    director_role: Role,
    team_east: Team,
    team_south: Team,
    make_account: Callable[..., Account],
) -> None:
    director = make_user(role=director_role, name="总监")
    make_account(name="李雷的", by=rep)
    make_account(name="韩梅梅的", by=other_rep)
    make_account(name="总监的", by=director)
    grant(sales_role, "customers.account", scope="all")

    assert names(rep, "owner=me") == {"李雷的"}
    assert names(other_rep, "owner=me") == {"韩梅梅的"}
    # Me and those below my role; a rep has nobody below.
    assert names(director, "owner=reports") == {"总监的", "李雷的", "韩梅梅的"}
    assert names(rep, "owner=reports") == {"李雷的"}
    # Mixed with plain ids in a list.
    assert names(rep, f"owner__in=me,{director.pk}") == {"李雷的", "总监的"}
    # My team, and the teams I manage (a manager need not be a member).
    assert names(rep, "team=mine") == {"李雷的"}
    Team.objects.filter(pk=team_south.pk).update(manager=rep)
    rep.refresh_from_db()
    assert names(rep, "team=mine") == {"李雷的", "韩梅梅的"}
    # ...whose members report to the manager, whatever their role.
    assert names(rep, "owner=reports") == {"李雷的", "韩梅梅的"}
    # A team that is deleted has no members reporting through it.
    Team.objects.filter(pk=team_south.pk).update(deleted_at=team_south.created_at)
    assert names(rep, "owner=reports") == {"李雷的"}

    # Another word is a wrong value, named with the parameter.
    response = Api(rep).get("accounts?owner=boss")
    assert response.status_code == 400
    assert "owner" in str(response.json_body)
    assert "Use an id, or one of: me, reports." in str(response.json_body)


def test_reports_still_go_through_the_permission_scope(
    rep: User,
    make_user: Callable[..., User],
    director_role: Role,
    make_account: Callable[..., Account],
) -> None:
    """Who reports to me is a filter, not a grant: with "own" the director sees their own alone."""
    director = make_user(role=director_role, name="总监")
    make_account(name="李雷的", by=rep)
    make_account(name="总监的", by=director)
    grant(director_role, "customers.account", scope="own")
    assert names(director, "owner=reports") == {"总监的"}


def test_a_shared_view_of_my_accounts_is_each_users_own(
    admin: User, rep: User, other_rep: User, sales_role: Role, make_account: Callable[..., Account]
) -> None:
    make_account(name="李雷的", by=rep)
    make_account(name="韩梅梅的", by=other_rep)
    grant(sales_role, "customers.account", scope="all")
    view = SavedView.objects.create(
        user=admin, object_type="customers.account", name="我的客户", query="owner=me", shared=True
    )
    for user, own, other in ((rep, "李雷的", "韩梅梅的"), (other_rep, "韩梅梅的", "李雷的")):
        html = page(user, "accounts-list", query=f"view={view.pk}")
        assert own in html and other not in html
        # The filter's select says so, so changing another filter keeps it.
        assert re.search(r'<option value="me"\s+selected>我</option>', html), html


def test_the_scope_links_of_a_manager(
    rep: User,
    make_user: Callable[..., User],
    director_role: Role,
    team_south: Team,
    make_account: Callable[..., Account],
) -> None:
    director = make_user(role=director_role, name="总监")
    make_account(name="李雷的", by=rep)
    make_account(name="总监的", by=director)

    def links(user: User, query: str = "") -> dict[str, tuple[str, bool]]:
        html = page(user, "accounts-list", query=query)
        bar = html.split('id="list-scope"', 1)[1].split("</div>", 1)[0]
        found = re.findall(
            r'<a href="([^"]*)" class="btn( btn-primary)?" data-scope="(\w+)"(?: aria-current="true")?>([^<]+)<', bar
        )
        return {key: (url.replace("&amp;", "&"), bool(active)) for url, active, key, _label in found}

    # A rep in a team: no "me and my reports"; the customer pool comes last for everyone.
    assert list(links(rep)) == ["all", "mine", "team", "followed", "pool"]
    # A director without a team: all, mine, me and my reports.
    scopes = links(director)
    assert list(scopes) == ["all", "mine", "reports", "followed", "pool"]
    assert "owner=reports" in scopes["reports"][0]
    html = page(director, "accounts-list", query=scopes["reports"][0].lstrip("?"))
    assert "李雷的" in html and "总监的" in html
    assert links(director, "owner=reports")["reports"][1]
    # A link from before (owner=<id>) is still "mine".
    assert links(director, f"owner={director.pk}")["mine"][1]
    # Managing a team gives "my team" too.
    Team.objects.filter(pk=team_south.pk).update(manager=director)
    assert list(links(director)) == ["all", "mine", "reports", "team", "followed", "pool"]


def test_the_home_card_of_a_manager_is_theirs_and_their_reports(
    rep: User,
    other_rep: User,
    make_user: Callable[..., User],
    director_role: Role,
    make_account: Callable[..., Account],
) -> None:
    director = make_user(role=director_role, name="总监")
    make_account(name="甲", by=rep, tier="A", tier_locked=True)
    make_account(name="乙", by=other_rep, tier="B", tier_locked=True)
    html = card(home(director))
    assert "我和下属的客户" in html and "共 2 家" in html and "owner=reports" in html
    all_url = re.search(r'<a href="([^"]+)" class="ms-auto" id="home-my-accounts-all">', html).group(1)
    assert listed(director, all_url) == 2
    # Their own count too, with their reports' (whom to nudge about a follow-up).
    make_account(name="丙", by=director)
    html = card(home(director))
    assert "我和下属的客户" in html and "共 3 家" in html
    # Someone nobody reports to keeps their own.
    assert "我负责的客户" in card(home(rep))


def test_the_owner_filter_is_picked_by_typing_when_people_are_too_many(
    admin: User, make_account: Callable[..., Account], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the select's size a person is found by typing; a link's ``owner=me`` stays, as 我."""
    monkeypatch.setattr("guanxi.core.views.lists.MAX_SELECT_OPTIONS", 0)
    make_account(name="甲", by=admin)
    html = page(admin, "accounts-list", query="owner=me")
    assert '<input type="hidden" name="owner" value="me">' in html and 'hx-get="/pick/users/"' in html
    assert re.search(r'gx-picker-chip-label">我<', html) and "甲" in html
    html = page(admin, "accounts-list", query=f"owner={admin.pk}")
    assert f'<input type="hidden" name="owner" value="{admin.pk}">' in html
    assert re.search(rf'gx-picker-chip-label">{re.escape(str(admin))}<', html)


def test_the_api_schema_names_these_values(admin: User) -> None:
    operation = Api(admin).get("openapi.json").json_body["paths"]["/api/v1/accounts"]["get"]
    params = {p["name"]: p for p in operation["parameters"]}
    assert params["owner"]["description"] == "Also: me (Me); reports (Me and my reports)"
    assert params["owner__in"]["description"] == params["owner"]["description"]
    assert params["team"]["description"] == "Also: mine (My team)"
    assert params["tier"]["description"] == "Also: none (No tier)"
    assert "description" not in params["owner__isnull"]


def test_a_department_reaches_its_groups(
    rep: User,
    other_rep: User,
    make_user: Callable[..., User],
    sales_role: Role,
    team_east: Team,
    team_south: Team,
    make_account: Callable[..., Account],
) -> None:
    """本部门及下级部门: the head of a department sees its groups under 我的团队 and its groups'
    people under 我和下属."""
    make_account(name="李雷的", by=rep)
    make_account(name="韩梅梅的", by=other_rep)
    grant(sales_role, "customers.account", scope="team")
    head = make_user(role=sales_role, name="部长")
    department = Team.objects.create(name="销售中心", manager=head)
    Team.objects.filter(pk=team_east.pk).update(parent=department)
    assert names(head, "owner=reports") == {"李雷的"}
    assert names(head, "team=mine") == {"李雷的"}
    Team.objects.filter(pk=team_south.pk).update(parent=department)
    assert names(head, "owner=reports") == {"李雷的", "韩梅梅的"}
    assert names(head, "team=mine") == {"李雷的", "韩梅梅的"}
    # A rep of one group does not see the other's.
    assert names(rep, "team=mine") == {"李雷的"}
