"""Going back to the pool soon (即将退回公海): the nightly run dates the accounts whose pool rule's warning
days have begun, so their owner sees it coming on the home page, the list and the account's page; a
follow-up or a new owner clears the date, and the next run dates again what still waits."""

from __future__ import annotations

import datetime
import io
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from guanxi.core.models import ChangeLogEntry
from guanxi.customers import services
from guanxi.customers.models import Account, PoolRule
from guanxi.identity.models import User
from tests.customers.conftest import Api, grant
from tests.customers.test_engagement import _note
from tests.customers.test_pool import _age, _errors
from tests.customers.test_record_page import page

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)


def _due(account: Account) -> datetime.datetime | None:
    return Account.objects.get(pk=account.pk).pool_due_at


@pytest.fixture(autouse=True)
def reps_write_notes(sales_role: Any) -> None:
    grant(sales_role, "core.note")


@pytest.fixture
def soon(rep: User, make_account: Callable[..., Account], prospects_rule: PoolRule) -> Account:
    """A prospect of the rep's, created 26 days ago and never followed up: back in the pool in 4 days."""
    account = make_account(name="杭州快到期网络科技有限公司", by=rep, lifecycle_stage="prospect")
    _age(account, created_at=26)
    services.pool_recycle()
    return Account.objects.get(pk=account.pk)


def test_the_nightly_run_dates_the_accounts_within_their_warning(
    rep: User, make_account: Callable[..., Account], prospects_rule: PoolRule
) -> None:
    within = make_account(name="四天后回收", by=rep, lifecycle_stage="prospect")
    _age(within, created_at=26)
    early = make_account(name="十天后回收", by=rep, lifecycle_stage="prospect")
    _age(early, created_at=20)
    gone = make_account(name="已到期", by=rep, lifecycle_stage="prospect")
    _age(gone, created_at=31)
    customer = make_account(name="老客户不回收", by=rep, lifecycle_stage="customer")
    _age(customer, created_at=29)
    handed = make_account(name="刚转来的", by=rep, lifecycle_stage="prospect")
    _age(handed, created_at=29, owner_since=2)

    assert services.pool_recycle() == {"潜在客户30天": 1}
    created = Account.objects.get(pk=within.pk).created_at
    assert _due(within) == created + 30 * DAY  # counted from the creation: never followed up
    for not_yet in (early, customer, handed):
        assert _due(not_yet) is None
    # Gone back now: in the pool, with no date left.
    stored = Account.objects.get(pk=gone.pk)
    assert stored.pooled_at is not None and stored.pool_due_at is None

    # The date is derived: the change log has no line for it.
    assert not ChangeLogEntry.objects.filter(object_id=within.pk, changes__has_key="pool_due_at").exists()

    # The nightly command says how many are dated.
    out = io.StringIO()
    call_command("classify", stdout=out)
    assert "going back soon: 1." in out.getvalue()

    # Days later the early one enters its warning, and the dated one goes back.
    services.pool_recycle(now=timezone.now() + 5 * DAY)
    assert _due(early) is not None
    assert Account.objects.get(pk=within.pk).pooled_at is not None
    assert _due(within) is None


def test_a_follow_up_or_a_new_owner_clears_the_date(
    rep: User, other_rep: User, admin_api: Api, soon: Account, make_account: Callable[..., Account]
) -> None:
    assert soon.pool_due_at is not None
    _note(Api(rep), soon)
    assert _due(soon) is None
    services.pool_recycle()  # followed up today: thirty days again
    assert _due(soon) is None

    handed = make_account(name="换负责人", by=rep, lifecycle_stage="prospect")
    _age(handed, created_at=27)
    services.pool_recycle()
    assert _due(handed) is not None
    moved = admin_api.patch(f"accounts/{handed.pk}", {"owner": other_rep.pk})
    assert moved.status_code == 200, moved.json_body
    assert moved.json_body["pool_due_at"] is None
    assert _due(handed) is None
    services.pool_recycle()
    assert _due(handed) is None


def test_releasing_clears_the_date_and_a_rule_change_undates_at_the_next_run(
    rep: User, soon: Account, make_account: Callable[..., Account], prospects_rule: PoolRule
) -> None:
    other = make_account(name="规则改了", by=rep, lifecycle_stage="prospect")
    _age(other, created_at=27)
    services.pool_recycle()
    assert _due(other) is not None

    released = services.pool_release(pk=soon.pk, user=rep, reason="客户已转投别家")
    assert released.pool_due_at is None and _due(soon) is None
    assert not ChangeLogEntry.objects.filter(object_id=soon.pk, changes__has_key="pool_due_at").exists()

    # No warning days: the rule still takes it back on time, without a warning.
    PoolRule.objects.filter(pk=prospects_rule.pk).update(warn_days=0)
    services.pool_recycle()
    assert _due(other) is None
    PoolRule.objects.filter(pk=prospects_rule.pk).update(warn_days=7, is_active=False)
    services.pool_recycle()
    assert _due(other) is None and Account.objects.get(pk=other.pk).pooled_at is None


def test_warning_days_are_checked_against_the_rules_days(admin_api: Api) -> None:
    short = admin_api.post("pool-rules", {"name": "三天", "idle_days": 3})
    assert short.status_code == 201, short.json_body
    assert short.json_body["warn_days"] == 2  # a short rule warns from its first day
    assert admin_api.post("pool-rules", {"name": "默认", "idle_days": 30}).json_body["warn_days"] == 7

    too_long = admin_api.post("pool-rules", {"name": "提前太多", "idle_days": 10, "warn_days": 10})
    assert too_long.status_code == 400 and "warn_days" in _errors(too_long)
    assert "10" in _errors(too_long)["warn_days"]
    # Shortening the days below the warning is refused on the warning, which says how far it may go.
    pk = short.json_body["id"]
    shorter = admin_api.patch(f"pool-rules/{pk}", {"idle_days": 2})
    assert shorter.status_code == 400 and "warn_days" in _errors(shorter)
    both = admin_api.patch(f"pool-rules/{pk}", {"idle_days": 2, "warn_days": 1})
    assert both.status_code == 200, both.json_body
    assert PoolRule.objects.get(pk=pk).warn_days == 1


def test_the_list_filters_and_sorts_by_the_date_for_whoever_sees_the_accounts(
    rep: User, other_rep: User, make_account: Callable[..., Account], prospects_rule: PoolRule
) -> None:
    mine = []
    for name, days in (("第二个到期", 25), ("第一个到期", 28), ("第三个到期", 24)):
        account = make_account(name=name, by=rep, lifecycle_stage="prospect")
        _age(account, created_at=days)
        mine.append(account)
    theirs = make_account(name="别人的到期", by=other_rep, lifecycle_stage="prospect")
    _age(theirs, created_at=27)
    make_account(name="不到期", by=rep, lifecycle_stage="prospect")
    services.pool_recycle()

    response = Api(rep).get("accounts?pool_due_at__isnull=false&ordering=pool_due_at")
    assert response.status_code == 200, response.json_body
    assert [item["name"] for item in response.json_body["items"]] == ["第一个到期", "第二个到期", "第三个到期"]
    assert response.json_body["items"][0]["pool_due_at"]
    by_date = Api(rep).get(f"accounts?pool_due_at__lte={(timezone.localdate() + 6 * DAY).isoformat()}")
    assert {item["name"] for item in by_date.json_body["items"]} == {"第一个到期", "第二个到期"}


def test_the_home_card_names_the_accounts_going_back_soonest(
    rep: User, make_account: Callable[..., Account], prospects_rule: PoolRule
) -> None:
    from tests.customers.test_home import home

    make_account(name="还早呢", by=rep, lifecycle_stage="prospect")
    assert 'data-waiting="due"' not in home(rep)  # nothing going back: no line
    first = make_account(name="明天回收电子有限公司", by=rep, lifecycle_stage="prospect")
    _age(first, created_at=29)
    second = make_account(name="五天后回收贸易有限公司", by=rep, lifecycle_stage="prospect")
    _age(second, created_at=25)
    services.pool_recycle()

    html = home(rep)
    line = html.split('data-waiting="due"', 1)[1].split("</a>", 1)[0]
    assert "即将退回公海" in line and ">2<" in line
    href = re.search(r'href="([^"]+)"\s+class="[^"]*"\s+data-waiting="due"', html)
    assert href and "pool_due_at__isnull=false" in href.group(1) and "ordering=pool_due_at" in href.group(1)
    names = html.split('data-waiting="due"', 1)[1].split('data-waiting="stale"', 1)[0]
    assert names.index("明天回收") < names.index("五天后回收")
    assert "1 天后" in names and "5 天后" in names


def test_the_accounts_page_warns_its_owner_until_a_follow_up(rep: User, soon: Account) -> None:
    html = page(rep, "accounts-detail", soon.pk)
    banner = html.split('id="pool-due"', 1)[1].split("</div>\n</div>", 1)[0]
    assert "4 天后退回公海" in banner
    assert soon.pool_due_at is not None
    assert timezone.localdate(soon.pool_due_at).isoformat() in banner
    assert 'id="pool-due-note"' in banner

    # The note form on the page is the follow-up that keeps it.
    from django.test import Client

    client = Client()
    client.force_login(rep)
    ct = ContentType.objects.get_for_model(Account, for_concrete_model=False).pk
    response = client.post(reverse("ui:note-add", args=(ct, soon.pk)), {"body": "拜访了客户，在谈方案"})
    assert response.status_code in (200, 302)
    assert _due(soon) is None
    assert 'id="pool-due"' not in page(rep, "accounts-detail", soon.pk)
