"""Claiming and releasing many accounts at once (批量领取 / 批量退回公海): the bulk actions ``claim`` and
``release``, through the API and the list's bulk bar, as a job when many."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.urls import reverse

from guanxi.core.models import Job
from guanxi.customers import services
from guanxi.customers.models import Account
from guanxi.identity.models import Role, Share, User
from tests.customers.conftest import Api, grant
from tests.customers.test_record_page import page
from tests.factories import client_for, share

pytestmark = pytest.mark.django_db


def _errors(response: Any) -> dict[str, str]:
    return {e["field"]: e["detail"] for e in (response.json_body or {}).get("errors", [])}


def test_release_and_claim_many_through_the_api(
    rep: User, other_rep: User, make_account: Callable[..., Account]
) -> None:
    mine = [make_account(name=f"李雷的客户{i}", by=rep) for i in range(3)]
    theirs = make_account(name="韩梅梅的客户", by=other_rep)
    ids = [a.pk for a in mine] + [theirs.pk]

    no_reason = Api(rep).post("accounts/bulk", {"action": "release", "ids": ids, "reason": "  "})
    assert no_reason.status_code == 400 and "reason" in _errors(no_reason)
    assert not Account.objects.filter(pooled_at__isnull=False).exists()

    released = Api(rep).post("accounts/bulk", {"action": "release", "ids": ids, "reason": "季度末清理"})
    assert released.status_code == 200, released.json_body
    # The colleague's account is not the rep's to release: skipped, untouched.
    assert released.json_body["changed"] == 3 and released.json_body["skipped"] == 1
    assert set(Account.objects.filter(pooled_at__isnull=False).values_list("pk", flat=True)) == {a.pk for a in mine}
    assert set(Account.objects.filter(pk__in=[a.pk for a in mine]).values_list("pool_reason", flat=True)) == {
        "季度末清理"
    }
    assert Account.objects.get(pk=theirs.pk).owner_id == other_rep.pk

    # Releasing again: they are in the pool already, so there is nothing to release.
    again = Api(rep).post("accounts/bulk", {"action": "release", "ids": ids, "reason": "再来一次"})
    assert again.status_code == 200 and again.json_body["changed"] == 0 and again.json_body["skipped"] == 4

    # The colleague claims them all; an account not in the pool is skipped.
    claimed = Api(other_rep).post("accounts/bulk", {"action": "claim", "ids": ids})
    assert claimed.status_code == 200, claimed.json_body
    assert claimed.json_body["changed"] == 3 and claimed.json_body["skipped"] == 1
    assert set(Account.objects.filter(pk__in=ids).values_list("owner_id", flat=True)) == {other_rep.pk}
    assert not Account.objects.filter(pooled_at__isnull=False).exists()


def test_a_bulk_claim_over_the_limit_claims_nothing(
    rep: User, other_rep: User, sales_role: Role, make_account: Callable[..., Account]
) -> None:
    Role.objects.filter(pk=sales_role.pk).update(pool_claim_limit=2)
    pooled = []
    for i in range(3):
        account = make_account(name=f"公海客户{i}", by=other_rep, lifecycle_stage="prospect")
        pooled.append(services.pool_release(pk=account.pk, user=other_rep, reason="没有预算"))
    response = Api(rep).post("accounts/bulk", {"action": "claim", "ids": [a.pk for a in pooled]})
    # All or nothing: the third would pass the limit, so none is claimed, and the answer says why.
    assert response.status_code == 400, response.json_body
    assert "your role may claim only below 2" in str(response.json_body)
    assert Account.objects.filter(pk__in=[a.pk for a in pooled], pooled_at__isnull=False).count() == 3


def test_claiming_the_whole_pool_runs_as_a_job(
    rep: User,
    other_rep: User,
    make_account: Callable[..., Account],
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from guanxi.core import bulk

    monkeypatch.setattr(bulk, "SYNC_LIMIT", 2)
    monkeypatch.setattr(bulk, "CHUNK", 2)
    for i in range(5):
        account = make_account(name=f"公海客户{i}", by=other_rep)
        services.pool_release(pk=account.pk, user=other_rep, reason="没有预算")
    make_account(name="李雷自己的", by=rep)
    with django_capture_on_commit_callbacks(execute=True):
        response = Api(rep).post("accounts/bulk", {"action": "claim", "query": {"pooled_at__isnull": "false"}})
    assert response.status_code == 202, response.json_body
    job = Job.objects.get(pk=response.json_body["id"])
    assert job.status == "succeeded" and job.result["changed"] == 5, (job.error, job.result)
    assert Account.objects.filter(owner=rep).count() == 6


def test_the_bulk_bar_offers_claim_in_the_pool_and_release_elsewhere(
    rep: User, other_rep: User, make_account: Callable[..., Account]
) -> None:
    own = make_account(name="李雷的客户", by=rep)
    account = make_account(name="汕头潮汕玩具实业有限公司", by=other_rep)
    pooled = services.pool_release(pk=account.pk, user=other_rep, reason="联系人已离职")

    listing = page(rep, "accounts-list")
    assert 'value="release"' in listing and 'value="claim"' not in listing
    pool = page(rep, "accounts-list", query="pooled_at__isnull=false&ordering=-pooled_at")
    assert 'value="claim"' in pool and 'value="release"' not in pool

    client = client_for(rep)
    url = reverse("ui:accounts-bulk")
    # Claim asks to confirm, then claims.
    confirm = client.post(url, {"action": "claim", "pk": [pooled.pk]})
    assert confirm.status_code == 200 and 'id="bulk-claim-note"' in confirm.content.decode()
    done = client.post(url, {"action": "claim", "pk": [pooled.pk], "confirm": "yes"})
    assert done.status_code == 302
    assert Account.objects.get(pk=pooled.pk).owner_id == rep.pk

    # Release asks why, and will not go on without a reason.
    confirm = client.post(url, {"action": "release", "pk": [own.pk]})
    assert 'name="reason"' in confirm.content.decode()
    empty = client.post(url, {"action": "release", "pk": [own.pk], "confirm": "yes", "reason": " "})
    assert empty.status_code == 400 and "is-invalid" in empty.content.decode()
    assert Account.objects.get(pk=own.pk).pooled_at is None
    client.post(url, {"action": "release", "pk": [own.pk], "confirm": "yes", "reason": "今年没有预算"})
    own.refresh_from_db()
    assert own.pooled_at is not None and own.pool_reason == "今年没有预算" and own.owner_id is None


def test_whoever_let_an_account_go_waits_before_claiming_it_back(
    rep: User, other_rep: User, sales_role: Role, make_account: Callable[..., Account]
) -> None:
    """A release and a claim at once would restart the pool rules' count of days without a follow-up."""
    import datetime

    from guanxi.customers.models import PoolMove

    account = make_account(name="李雷的客户", by=rep)
    services.pool_release(pk=account.pk, user=rep, reason="没有预算")
    # Without a waiting time, claiming back at once is allowed.
    assert Api(rep).post(f"accounts/{account.pk}/claim").status_code == 200
    services.pool_release(pk=account.pk, user=rep, reason="还是没有预算")

    Role.objects.filter(pk=sales_role.pk).update(pool_reclaim_days=7)
    refused = Api(rep).post(f"accounts/{account.pk}/claim")
    assert refused.status_code == 409, refused.json_body
    assert "you may claim it again from" in str(refused.json_body)
    # A colleague may claim it now; and once the days have passed, so may the one who let it go.
    assert Api(other_rep).post(f"accounts/{account.pk}/claim").status_code == 200
    services.pool_release(pk=account.pk, user=other_rep, reason="换人跟进")
    # Eight days ago: the account's PoolMove rows say when each let it go.
    PoolMove.objects.filter(account_id=account.pk, kind="released", user_id=rep.pk).update(
        at=PoolMove.objects.get(account_id=account.pk, kind="released", user_id=other_rep.pk).at
        - datetime.timedelta(days=8)
    )
    assert Api(rep).post(f"accounts/{account.pk}/claim").status_code == 200


def test_a_pooled_account_keeps_no_share(rep: User, other_rep: User, make_account: Callable[..., Account]) -> None:
    """A share to change the account would let its holder edit it in the pool without claiming it."""
    account = make_account(name="李雷的客户", by=rep)
    share(account, user=other_rep, access="change")
    assert Api(other_rep).patch(f"accounts/{account.pk}", {"region": "华东"}).status_code == 200
    services.pool_release(pk=account.pk, user=rep, reason="没有预算")
    assert not Share.objects.filter(object_id=account.pk).exists()
    assert Api(other_rep).patch(f"accounts/{account.pk}", {"region": "华南"}).status_code == 403
    # Never in the pool and not yours: said so, not "someone claimed it first".
    other = make_account(name="韩梅梅的客户", by=other_rep)
    grant(rep.role, "customers.account", scope="all")
    refused = Api(rep).post(f"accounts/{other.pk}/claim")
    assert refused.status_code == 409 and "not in the customer pool" in str(refused.json_body)


def test_an_account_import_that_names_an_owner_takes_it_out_of_the_pool(
    admin: User, rep: User, make_account: Callable[..., Account], django_capture_on_commit_callbacks: Any
) -> None:
    """The import's bulk update path does what ``account_update`` does for a new owner."""
    from tests.customers.test_import import _import_accounts, job_client

    pooled = make_account(name="汕头潮汕玩具实业有限公司", by=rep, external_id="P1")
    services.pool_release(pk=pooled.pk, user=rep, reason="没有预算")
    kept = make_account(name="南宁八桂农业发展有限公司", by=admin, external_id="P2")
    Account.objects.filter(pk=kept.pk).update(owner_since=None)
    rows = [
        ["客户编号", "公司名称", "负责人"],
        ["P1", "汕头潮汕玩具实业有限公司", rep.email],
        ["P2", "南宁八桂农业发展有限公司", rep.email],
    ]
    result, _job = _import_accounts(job_client(admin, django_capture_on_commit_callbacks), rows)
    assert result["updated"] == 2, result
    pooled.refresh_from_db()
    kept.refresh_from_db()
    assert pooled.owner_id == rep.pk and pooled.pooled_at is None and pooled.pool_reason == ""
    assert pooled.owner_since is not None and kept.owner_since is not None


def test_a_pooled_account_merged_under_an_owner_leaves_the_pool_and_undo_puts_it_back(
    admin: User, rep: User, make_account: Callable[..., Account]
) -> None:
    pooled = make_account(name="汕头潮汕玩具实业有限公司", by=rep)
    services.pool_release(pk=pooled.pk, user=rep, reason="没有预算")
    owned = make_account(name="汕头潮汕玩具实业公司", by=rep)
    merge = services.account_merge(survivor=pooled.pk, others=[owned.pk], user=admin, fields={"owner": owned.pk})
    pooled.refresh_from_db()
    assert pooled.owner_id == rep.pk and pooled.pooled_at is None and pooled.pool_reason == ""
    assert pooled.owner_since is not None

    services.merge_undo(merge_id=merge.pk, user=admin)
    pooled.refresh_from_db()
    assert pooled.owner_id is None and pooled.pooled_at is not None and pooled.pool_reason == "没有预算"
