"""The customer pool (公海) in the UI: the list's 公海 link, the account page's banner with 领取 (claim),
退回公海 (release) with a reason, and the messages when someone was quicker or the limit is reached."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.urls import reverse

from guanxi.customers import services
from guanxi.customers.models import Account
from guanxi.identity.models import Role, User
from tests.customers.test_record_page import page
from tests.factories import client_for

pytestmark = pytest.mark.django_db


def _pooled(make_account: Callable[..., Account], owner: User, name: str, reason: str = "今年没有预算") -> Account:
    account = make_account(name=name, by=owner)
    return services.pool_release(pk=account.pk, user=owner, reason=reason)


def _links(html: str) -> dict[str, str]:
    """The scope links above the list: label -> href (the active one marked with a *)."""
    found = {}
    for attrs, label in re.findall(r'<a ([^>]*data-scope="[^"]+"[^>]*)>([^<]+)</a>', html):
        href = re.search(r'href="([^"]+)"', attrs)
        active = 'aria-current="true"' in attrs
        found[label.strip() + ("*" if active else "")] = href.group(1).replace("&amp;", "&") if href else ""
    return found


def test_the_pool_link_lists_the_pool_with_since_when_and_why(
    rep: User, other_rep: User, make_account: Callable[..., Account]
) -> None:
    _pooled(make_account, other_rep, "南宁八桂农业发展有限公司")
    make_account(name="李雷的客户", by=rep)

    html = page(rep, "accounts-list")
    links = _links(html)
    assert "公海" in links, links
    pool_url = links["公海"]
    assert "pooled_at__isnull=false" in pool_url and "ordering=-pooled_at" in pool_url

    pool = page(rep, "accounts-list", query=pool_url.split("?", 1)[1])
    assert "公海*" in _links(pool)
    assert "南宁八桂农业发展有限公司" in pool
    assert "李雷的客户" not in pool
    # The pool's own columns: since when, and why (no owner to show).
    assert "进入公海时间" in pool and "退回原因" in pool and "今年没有预算" in pool
    # Leaving the pool leaves its order too.
    back = _links(pool)["全部"]
    assert "pooled_at" not in back


def test_a_pooled_account_offers_claim_and_an_owned_one_release(
    rep: User, other_rep: User, make_account: Callable[..., Account]
) -> None:
    pooled = _pooled(make_account, other_rep, "汕头潮汕玩具实业有限公司", reason="联系人已离职")
    own = make_account(name="李雷的客户", by=rep)

    html = page(rep, "accounts-detail", pooled.pk)
    assert 'id="pool-alert"' in html and "在公海中" in html and "联系人已离职" in html
    assert 'id="pool-claim"' in html
    assert 'id="pool-release"' not in html  # not theirs to release

    html = page(rep, "accounts-detail", own.pk)
    assert 'id="pool-alert"' not in html
    assert 'id="pool-release"' in html and 'name="reason"' in html


def test_claiming_from_the_page(rep: User, other_rep: User, make_account: Callable[..., Account]) -> None:
    pooled = _pooled(make_account, other_rep, "汕头潮汕玩具实业有限公司")
    client = client_for(rep)
    response = client.post(reverse("ui:accounts-claim", args=[pooled.pk]), follow=True)
    assert response.status_code == 200
    assert "is yours now" in response.content.decode()
    pooled.refresh_from_db()
    assert pooled.owner_id == rep.pk and pooled.pooled_at is None

    # The colleague who opened the same page a moment earlier is told someone was quicker.
    services.pool_release(pk=pooled.pk, user=rep, reason="再放回去")
    services.pool_claim(pk=pooled.pk, user=rep)
    late = client_for(other_rep).post(reverse("ui:accounts-claim", args=[pooled.pk]), follow=True)
    assert "someone claimed it first" in late.content.decode()
    pooled.refresh_from_db()
    assert pooled.owner_id == rep.pk


def test_releasing_from_the_page_asks_why(rep: User, make_account: Callable[..., Account]) -> None:
    account = make_account(name="李雷的客户", by=rep)
    client = client_for(rep)
    url = reverse("ui:accounts-release", args=[account.pk])

    response = client.post(url, {"reason": "  ", "version": account.version}, follow=True)
    assert "Say why the account goes back to the pool" in response.content.decode()
    account.refresh_from_db()
    assert account.pooled_at is None and account.owner_id == rep.pk

    # A page opened before someone else changed the account does not release a stale copy.
    stale = account.version
    services.account_update(pk=account.pk, user=rep, data={"region": "华东"})
    response = client.post(url, {"reason": "没有预算", "version": stale}, follow=True)
    account.refresh_from_db()
    assert account.pooled_at is None

    response = client.post(url, {"reason": "没有预算", "version": account.version}, follow=True)
    assert "is back in the customer pool" in response.content.decode()
    account.refresh_from_db()
    assert account.pooled_at is not None and account.owner_id is None and account.pool_reason == "没有预算"


def test_the_claim_limit_shows_on_the_page(
    rep: User, other_rep: User, sales_role: Role, make_account: Callable[..., Account]
) -> None:
    Role.objects.filter(pk=sales_role.pk).update(pool_claim_limit=1)
    make_account(name="李雷的潜在客户", by=rep, lifecycle_stage="prospect")
    pooled = _pooled(make_account, other_rep, "汕头潮汕玩具实业有限公司")

    html = page(rep, "accounts-detail", pooled.pk)
    assert 'id="pool-claim"' not in html
    assert 'id="pool-limit"' in html

    response = client_for(rep).post(reverse("ui:accounts-claim", args=[pooled.pk]), follow=True)
    assert "您的角色只能在少于 1 个时领取" in response.content.decode()  # the page set zh-Hans
    pooled.refresh_from_db()
    assert pooled.pooled_at is not None


def test_the_home_card_counts_the_pool_for_those_who_may_claim(
    rep: User, other_rep: User, make_user: Callable[..., User], make_account: Callable[..., Account]
) -> None:
    from tests.customers.test_home import home

    assert 'id="home-pool"' not in home(rep)  # an empty pool says nothing
    _pooled(make_account, other_rep, "汕头潮汕玩具实业有限公司")
    _pooled(make_account, other_rep, "南宁八桂农业发展有限公司")
    html = home(rep)  # a rep who owns nothing yet: the pool is where to start
    pool = html.split('id="home-pool"', 1)[1].split("</a>", 1)[0]
    assert "公海" in pool and ">2<" in pool
    href = re.search(r'href="([^"]+)"\s+class="[^"]*"\s+id="home-pool"', html)
    assert href and "pooled_at__isnull=false" in href.group(1)

    # Someone whose role sees accounts but may not change them cannot claim: no pool line.
    looker_role = Role.objects.create(name="只读")
    from tests.customers.conftest import grant

    grant(looker_role, "customers.account", actions=["view"])
    looker = make_user(role=looker_role, name="访客")
    assert 'id="home-pool"' not in home(looker)
