"""The home page's "my accounts" card: a salesperson's accounts by tier and those waiting for a
follow-up, each number a link to the list that shows exactly those accounts."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from guanxi.core.views.home import home_cache_key
from guanxi.customers.models import Account
from guanxi.identity.models import Role, User
from tests.factories import client_for, grant

pytestmark = pytest.mark.django_db


def home(user: User) -> str:
    # Ids come back in tests that roll back: no card a previous test cached for "user 3".
    with translation.override("zh-hans"):
        cache.delete(home_cache_key(user))
    User.objects.filter(pk=user.pk).update(language="zh-hans")
    client = client_for(user)
    response = client.get("/")
    assert response.status_code == 200
    return response.content.decode()


def card(html: str) -> str:
    return html.split('id="home-my-accounts"', 1)[1].split('id="home-counts"', 1)[0]


def listed(user: User, url: str) -> int:
    """How many accounts the list behind a link shows (the same query string, through the API)."""
    client = client_for(user)
    query = url.split("?", 1)[1].replace("&amp;", "&")
    response = client.get(f"/api/v1/accounts?{query}")
    assert response.status_code == 200, response.content
    return len(response.json()["items"])


def test_my_accounts_by_tier_and_waiting_for_a_follow_up(
    rep: User, other_rep: User, make_account: Callable[..., Account]
) -> None:
    now = timezone.now()
    a1 = make_account(name="甲一", by=rep, tier="A", tier_locked=True)
    a2 = make_account(name="甲二", by=rep, tier="A", tier_locked=True)
    b1 = make_account(name="乙一", by=rep, tier="B", tier_locked=True)
    make_account(name="未分级", by=rep)
    make_account(name="别人的", by=other_rep, tier="A", tier_locked=True)
    Account.objects.filter(pk=a1.pk).update(last_interaction_at=now - datetime.timedelta(days=45))
    Account.objects.filter(pk=a2.pk).update(last_interaction_at=now - datetime.timedelta(days=2))
    Account.objects.filter(pk=b1.pk).update(last_interaction_at=now - datetime.timedelta(days=31, hours=1))

    html = card(home(rep))
    assert "我负责的客户" in html and "共 4 家" in html
    tiers = re.findall(r'<a href="([^"]+)" class="btn btn-sm" data-tier-count="(\d+)"><span[^>]*>([^<]+)</span>', html)
    assert [(label, int(count)) for _url, count, label in tiers] == [
        ("A 级", 2),
        ("B 级", 1),
        ("C 级", 0),
        ("D 级", 0),
        ("未分级", 1),  # only when there are some
    ]
    waiting = {
        key: (url, int(count))
        for url, key, count in re.findall(
            r'<a href="([^"]+)" class="list-group-item[^"]*" data-waiting="(\w+)">'
            r'.*?<span class="badge[^"]*">(\d+)</span>',
            html,
            re.S,
        )
    }
    assert {key: count for key, (_url, count) in waiting.items()} == {"stale": 2, "never": 1}
    # Whom to call first: those waiting longest, by name, with how long ago, linked to their pages.
    longest = re.findall(
        r'<a href="([^"]+)" class="[^"]*" data-waiting-account>'
        r"\s*<span[^>]*>([^<]+)</span>\s*<span[^>]*>([^<]+)</span>",
        html,
    )
    assert [(name, ago) for _url, name, ago in longest][0] == ("甲一", "45 天前")
    assert longest[1][1] == "乙一" and re.fullmatch(r"3[12] 天前", longest[1][2])
    assert longest[0][0] == f"/customers/accounts/{a1.pk}/" and len(longest) == 2
    # Each number is the count of the list its link opens.
    for url, count, _label in tiers:
        assert listed(rep, url) == int(count)
    for url, count in waiting.values():
        assert listed(rep, url) == count
    all_url = re.search(r'<a href="([^"]+)" class="ms-auto" id="home-my-accounts-all">', html).group(1)
    assert listed(rep, all_url) == 4


def test_a_manager_who_owns_none_sees_the_team_and_others_see_no_card(
    rep: User, make_user: Callable[..., User], sales_role: Role, make_account: Callable[..., Account]
) -> None:
    make_account(name="甲一", by=rep, tier="A", tier_locked=True)
    manager = make_user(role=sales_role, team=rep.team, name="经理")
    grant(sales_role, "customers.account", "view", scope="team")
    html = card(home(manager))
    assert "我的团队的客户" in html and "共 1 家" in html and "team=mine" in html

    # Nobody's accounts, no team: the card says so, without figures.
    loner = make_user(role=sales_role, name="新人")
    html = card(home(loner))
    assert 'id="home-my-accounts-none"' in html and 'id="home-tiers"' not in html

    # Who may not see accounts has no card at all.
    nobody = make_user(role=Role.objects.create(name="访客"), name="访客")
    assert 'id="home-my-accounts"' not in home(nobody)


def test_the_card_counts_once_a_minute(rep: User, make_account: Callable[..., Account]) -> None:
    make_account(name="甲一", by=rep)

    def counted() -> bool:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/").status_code == 200
        # The card's query: the accounts' tiers with their counts.
        return any('AS "stale"' in q["sql"] for q in ctx.captured_queries)

    home(rep)  # sets the language, forgets an earlier test's card
    client = client_for(rep)
    with translation.override("zh-hans"):
        cache.delete(home_cache_key(rep))
    assert counted()
    # Within the minute the card's grouped count is not run again (the recent changes still read the log).
    assert not counted()
    assert "共 1 家" in card(client.get("/").content.decode())


def test_accounts_without_a_tier_are_a_filter_value(rep: User, make_account: Callable[..., Account]) -> None:
    """``tier=none`` lists the accounts no rule has placed yet; the list page offers it as 未分级."""
    placed = make_account(name="甲", by=rep, tier="A", tier_locked=True)
    unplaced = make_account(name="乙", by=rep)
    client = client_for(rep)

    def ids(query: str) -> set[int]:
        response = client.get(f"/api/v1/accounts?{query}")
        assert response.status_code == 200, response.content
        return {item["id"] for item in response.json()["items"]}

    assert ids("tier=none") == {unplaced.pk}
    assert ids("tier__in=A,none") == {placed.pk, unplaced.pk}
    assert ids("tier=A") == {placed.pk}
    User.objects.filter(pk=rep.pk).update(language="zh-hans")
    page = client.get("/customers/accounts/?tier=none").content.decode()
    assert re.search(r'<option value="none"\s+selected>未分级</option>', page), page
    assert "乙" in page and f"/customers/accounts/{placed.pk}/" not in page
    # With every account placed the home card has no 未分级 chip.
    Account.objects.filter(pk=unplaced.pk).update(tier="B")
    assert "未分级" not in card(home(rep))


@pytest.mark.parametrize(
    ("hour", "chinese", "english"),
    [
        (2, "夜深了，李伟", "Working late, 李伟"),
        (7, "早上好，李伟", "Good morning, 李伟"),
        (10, "上午好，李伟", "Good morning, 李伟"),
        (12, "中午好，李伟", "Good afternoon, 李伟"),
        (15, "下午好，李伟", "Good afternoon, 李伟"),
        (21, "晚上好，李伟", "Good evening, 李伟"),
    ],
)
def test_the_greeting_goes_by_the_hour_where_the_user_is(hour: int, chinese: str, english: str) -> None:
    # 02:13 in Beijing read "上午好" before: Chinese greets the small hours, the early morning and
    # noon apart, with a full-width comma before the name.
    from guanxi.core.views.home import greeting

    when = timezone.make_aware(datetime.datetime(2026, 12, 8, hour, 13), timezone.get_current_timezone())
    with translation.override("zh-hans"):
        assert greeting(when, "李伟") == chinese
    with translation.override("en"):
        assert greeting(when, "李伟") == english
