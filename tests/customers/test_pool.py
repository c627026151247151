"""The customer pool (公海): accounts an owner released, or the pool rules took back after days without a
follow-up, wait there without an owner; anyone who may see accounts sees them and may claim one (领取),
while their role's limit of prospects allows. The contacts the owner held there go and come with it."""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from guanxi.core.errors import Conflict
from guanxi.core.models import ChangeLogEntry, TimelineEntry
from guanxi.customers import services
from guanxi.customers.models import Account, Contact, PoolRule
from guanxi.customers.services import pool
from guanxi.identity.models import FieldRule, Role, User
from tests.customers.conftest import Api, grant

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)


def _errors(response: Any) -> dict[str, str]:
    return {e["field"]: e["detail"] for e in (response.json_body or {}).get("errors", [])}


def _ids(response: Any) -> set[int]:
    assert response.status_code == 200, response.json_body
    return {item["id"] for item in response.json_body["items"]}


def _released(account: Account, by: User, reason: str = "联系不上") -> Account:
    return services.pool_release(pk=account.pk, user=by, reason=reason)


def _age(account: Account, **days_ago: int | None) -> None:
    """Move ``created_at`` / ``last_interaction_at`` / ``owner_since`` this many days into the past."""
    now = timezone.now()
    Account.objects.filter(pk=account.pk).update(
        **{field: None if days is None else now - days * DAY for field, days in days_ago.items()}
    )


# --- who sees and changes a pooled account ----------------------------------------------------------


def test_a_rep_sees_the_pool_but_not_its_contacts_until_claiming(
    rep: User,
    other_rep: User,
    make_account: Callable[..., Account],
    make_contact: Callable[..., Contact],
) -> None:
    pooled = make_account(name="深圳公海电子有限公司", by=other_rep, lifecycle_stage="prospect")
    theirs = make_account(name="深圳私有电子有限公司", by=other_rep, lifecycle_stage="prospect")
    person = make_contact(by=other_rep, family_name="欧阳", given_name="公海", accounts=[{"account": pooled.pk}])
    _released(pooled, other_rep)
    api = Api(rep)

    # The company is in the list, the pool filter, the detail and the search; the other rep's own is not.
    assert pooled.pk in _ids(api.get("accounts"))
    assert theirs.pk not in _ids(api.get("accounts"))
    assert _ids(api.get("accounts?pooled_at__isnull=false")) == {pooled.pk}
    detail = api.get(f"accounts/{pooled.pk}")
    assert detail.status_code == 200
    assert detail.json_body["owner"] is None and detail.json_body["pool_reason"] == "联系不上"
    assert detail.json_body["pooled_at"]
    assert api.get(f"accounts/{theirs.pk}").status_code == 404
    found = api.get("search?q=深圳&types=accounts&limit=50").json_body["items"]
    assert {hit["id"] for hit in found} == {pooled.pk}

    # Its people went to the pool with it: nobody's, so not the rep's to see.
    assert Contact.objects.get(pk=person.pk).owner_id is None
    assert _ids(api.get(f"accounts/{pooled.pk}/contacts")) == set()
    assert api.get(f"contacts/{person.pk}").status_code == 404
    assert person.pk not in _ids(api.get("contacts"))

    # Seeing is not changing: claim it first.
    assert api.patch(f"accounts/{pooled.pk}", {"description": "我来跟进"}).status_code == 403
    claimed = api.post(f"accounts/{pooled.pk}/claim")
    assert claimed.status_code == 200, claimed.json_body
    body = claimed.json_body
    assert body["owner"]["id"] == rep.pk and body["team"]["id"] == rep.team_id
    assert body["pooled_at"] is None and body["pool_reason"] == "" and body["owner_since"]
    assert api.patch(f"accounts/{pooled.pk}", {"description": "我来跟进"}).status_code == 200
    assert _ids(api.get(f"accounts/{pooled.pk}/contacts")) == {person.pk}
    assert Contact.objects.get(pk=person.pk).owner_id == rep.pk
    assert api.get(f"contacts/{person.pk}").status_code == 200
    # Out of the pool, it is nobody else's to see any more.
    assert pooled.pk not in _ids(Api(other_rep).get("accounts"))
    entry = TimelineEntry.objects.filter(content_type__model="account", object_id=pooled.pk, kind="pool").first()
    assert entry is not None and "Claimed" in entry.summary


def test_the_pool_lists_newest_first(admin: User, rep: User, make_account: Callable[..., Account]) -> None:
    older, newer, kept = (make_account(name=name) for name in ("早进公海", "晚进公海", "还有主人"))
    _released(older, admin)
    _released(newer, admin)
    now = timezone.now()
    Account.objects.filter(pk=older.pk).update(pooled_at=now - 2 * DAY)
    Account.objects.filter(pk=newer.pk).update(pooled_at=now - DAY)
    response = Api(rep).get("accounts?pooled_at__isnull=false&ordering=-pooled_at")
    assert response.status_code == 200, response.json_body
    assert [item["id"] for item in response.json_body["items"]] == [newer.pk, older.pk]
    assert kept.pk not in _ids(Api(admin).get("accounts?pooled_at__isnull=false"))


def test_a_role_that_may_only_look_cannot_claim(
    make_user: Callable[..., User], admin: User, make_account: Callable[..., Account]
) -> None:
    viewer_role = Role.objects.create(name="只读")
    grant(viewer_role, "customers.account", actions=["view"], scope="own")
    viewer = make_user(role=viewer_role)
    account = _released(make_account(name="只能看"), admin)
    api = Api(viewer)
    assert api.get(f"accounts/{account.pk}").status_code == 200
    assert api.post(f"accounts/{account.pk}/claim").status_code == 403
    assert Account.objects.get(pk=account.pk).pooled_at is not None


# --- claiming --------------------------------------------------------------------------------------------


def test_the_first_claim_wins_and_the_second_is_told(
    rep: User, other_rep: User, admin: User, make_account: Callable[..., Account]
) -> None:
    account = _released(make_account(name="抢手客户"), admin)
    first = Api(rep).post(f"accounts/{account.pk}/claim")
    assert first.status_code == 200, first.json_body
    again = Api(rep).post(f"accounts/{account.pk}/claim")
    assert again.status_code == 409
    assert "yours already" in str(again.json_body)
    # The second claimant, who sees only their own accounts, is told why rather than "not found".
    second = Api(other_rep).post(f"accounts/{account.pk}/claim")
    assert Account.objects.get(pk=account.pk).owner_id == rep.pk
    # One claim, one entry: the refused ones wrote nothing.
    assert TimelineEntry.objects.filter(object_id=account.pk, kind="pool", summary__startswith="Claimed").count() == 1
    assert second.status_code == 409, second.json_body
    assert "someone claimed it first" in str(second.json_body)


@pytest.mark.django_db(transaction=True)
def test_two_claims_at_once_give_the_account_once(
    rep: User,
    other_rep: User,
    admin: User,
    make_account: Callable[..., Account],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first claim holds the account (locked) until it commits; the second then finds it claimed.
    Without the lock both would read it in the pool and the second would take it from the first."""
    account = _released(make_account(name="同时领取"), admin)
    real_save = pool._save

    def slow_save(*args: Any, **kwargs: Any) -> None:
        time.sleep(0.3)  # the account is read (and locked): the other claim must wait for this commit
        real_save(*args, **kwargs)

    monkeypatch.setattr(pool, "_save", slow_save)
    barrier = threading.Barrier(2)
    results: dict[int, Any] = {}

    def claim(user: User) -> None:
        client = Client()
        client.force_login(user)
        try:
            barrier.wait(timeout=10)
            response = client.post(f"/api/v1/accounts/{account.pk}/claim", content_type="application/json")
            results[user.pk] = (response.status_code, response.json())
        except Exception as exc:  # surfaced by the assertion below
            results[user.pk] = (None, repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=claim, args=(user,)) for user in (rep, other_rep)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    winners = [pk for pk, (status, _) in results.items() if status == 200]
    assert len(winners) == 1, results
    assert Account.objects.get(pk=account.pk).owner_id == winners[0]
    assert TimelineEntry.objects.filter(object_id=account.pk, kind="pool", summary__startswith="Claimed").count() == 1
    loser_status, loser_body = next(result for pk, result in results.items() if pk != winners[0])
    assert loser_status == 409, results
    assert "someone claimed it first" in str(loser_body)


def test_the_claim_limit_counts_prospects_only(
    rep: User, admin: User, sales_role: Role, make_account: Callable[..., Account]
) -> None:
    Role.objects.filter(pk=sales_role.pk).update(pool_claim_limit=1)
    mine = make_account(name="我的潜在客户", by=rep, lifecycle_stage="prospect")
    wanted = _released(make_account(name="想领的", lifecycle_stage="prospect"), admin)

    with pytest.raises(Conflict, match="your role may claim only below 1"):
        services.pool_claim(pk=wanted.pk, user=rep)
    assert Account.objects.get(pk=wanted.pk).pooled_at is not None

    # A customer is not a prospect: it does not count.
    services.account_update(pk=mine.pk, user=rep, data={"lifecycle_stage": "customer"})
    assert services.pool_claim(pk=wanted.pk, user=rep).owner_id == rep.pk
    # Now the claimed prospect fills the limit.
    next_one = _released(make_account(name="下一个", lifecycle_stage="prospect"), admin)
    with pytest.raises(Conflict):
        services.pool_claim(pk=next_one.pk, user=rep)


def test_the_claim_limit_is_set_on_the_role_and_applies_to_api_claims(
    rep: User, admin: User, admin_api: Api, sales_role: Role, make_account: Callable[..., Account]
) -> None:
    limited = admin_api.patch(f"roles/{sales_role.pk}", {"pool_claim_limit": 1})
    assert limited.status_code == 200, limited.json_body
    assert limited.json_body["pool_claim_limit"] == 1
    make_account(name="我的潜在客户", by=rep, lifecycle_stage="prospect")
    wanted = _released(make_account(name="想领的", lifecycle_stage="prospect"), admin)
    refused = Api(rep).post(f"accounts/{wanted.pk}/claim")
    assert refused.status_code == 409, refused.json_body
    assert "your role may claim only below 1" in str(refused.json_body)
    assert Account.objects.get(pk=wanted.pk).pooled_at is not None


# --- releasing -------------------------------------------------------------------------------------------


def test_release_checks_the_reason_the_version_and_who_asks(
    rep: User, other_rep: User, admin_api: Api, make_account: Callable[..., Account]
) -> None:
    account = make_account(name="要退回的", by=rep)
    api = Api(rep)
    blank = api.post(f"accounts/{account.pk}/release", {"reason": "  "})
    assert blank.status_code == 400 and "reason" in _errors(blank)
    long = api.post(f"accounts/{account.pk}/release", {"reason": "太" * 301})
    assert long.status_code == 400 and "reason" in _errors(long)
    stale = api.post(f"accounts/{account.pk}/release", {"reason": "不跟了"}, **{"If-Match": '"v0"'})
    assert stale.status_code == 412
    # Not theirs and not in the pool: not even there for the other rep.
    assert Api(other_rep).post(f"accounts/{account.pk}/release", {"reason": "不要了"}).status_code == 404
    assert Account.objects.get(pk=account.pk).owner_id == rep.pk
    assert Account.objects.get(pk=account.pk).pooled_at is None
    version = Account.objects.get(pk=account.pk).version
    done = api.post(f"accounts/{account.pk}/release", {"reason": "不跟了"}, **{"If-Match": f'"v{version}"'})
    assert done.status_code == 200, done.json_body
    # In the pool now: the reps may see it but not change it; for one who may, it is there already.
    assert api.post(f"accounts/{account.pk}/release", {"reason": "再退"}).status_code == 403
    assert Api(other_rep).post(f"accounts/{account.pk}/release", {"reason": "再退"}).status_code == 403
    again = admin_api.post(f"accounts/{account.pk}/release", {"reason": "再退"})
    assert again.status_code == 409 and "in the pool already" in str(again.json_body)


def test_release_moves_the_account_and_the_owners_contacts_to_the_pool(
    rep: User,
    other_rep: User,
    make_account: Callable[..., Account],
    make_contact: Callable[..., Contact],
) -> None:
    account = make_account(name="杭州退回科技", by=rep)
    elsewhere = make_account(name="杭州另一家", by=rep)
    held = make_contact(by=rep, given_name="跟走", accounts=[{"account": account.pk}])
    # Primary at another company: stays with the rep.
    two_jobs = make_contact(
        by=rep, given_name="兼职", accounts=[{"account": elsewhere.pk, "is_primary": True}, {"account": account.pk}]
    )
    # Held by someone else: not the previous owner's to give away.
    others = make_contact(given_name="别人", owner_id=other_rep.pk, accounts=[{"account": account.pk}])
    assert Contact.objects.get(pk=others.pk).owner_id == other_rep.pk

    response = Api(rep).post(f"accounts/{account.pk}/release", {"reason": "预算取消，明年再联系"})
    assert response.status_code == 200, response.json_body
    body = response.json_body
    assert body["owner"] is None and body["team"] is None and body["owner_since"] is None
    assert body["pooled_at"] and body["pool_reason"] == "预算取消，明年再联系"
    stored = Account.objects.get(pk=account.pk)
    assert (stored.owner_id, stored.team_id, stored.pool_reason) == (None, None, "预算取消，明年再联系")
    assert stored.version == account.version + 1

    owners = dict(Contact.objects.filter(pk__in=[held.pk, two_jobs.pk, others.pk]).values_list("pk", "owner_id"))
    assert owners == {held.pk: None, two_jobs.pk: rep.pk, others.pk: other_rep.pk}

    log = ChangeLogEntry.objects.filter(content_type__model="account", object_id=account.pk, action="update").latest(
        "id"
    )
    assert log.changes["owner"] == [rep.pk, None]
    assert log.actor_id == rep.pk
    contact_log = ChangeLogEntry.objects.filter(content_type__model="contact", object_id=held.pk).latest("id")
    assert contact_log.changes["owner"] == [rep.pk, None]
    entry = TimelineEntry.objects.get(content_type__model="account", object_id=account.pk, kind="pool")
    assert entry.body == "预算取消，明年再联系" and entry.actor_id == rep.pk
    # The rep no longer holds it; it is in the pool, to see but not to change.
    assert Api(rep).patch(f"accounts/{account.pk}", {"description": "x"}).status_code == 403


# --- the pool rules ------------------------------------------------------------------------------------


def test_idle_prospects_go_back_to_the_pool(
    rep: User, make_account: Callable[..., Account], prospects_rule: PoolRule
) -> None:
    forgotten = make_account(name="没人跟", by=rep, lifecycle_stage="prospect")
    _age(forgotten, created_at=40)
    touched_long_ago = make_account(name="很久前跟过", by=rep, lifecycle_stage="prospect")
    _age(touched_long_ago, created_at=90, last_interaction_at=35, owner_since=60)
    customer = make_account(name="老客户", by=rep, lifecycle_stage="customer")
    _age(customer, created_at=40)
    followed = make_account(name="刚跟过", by=rep, lifecycle_stage="prospect")
    _age(followed, created_at=40, last_interaction_at=10)
    handed_over = make_account(name="刚转来", by=rep, lifecycle_stage="prospect")
    _age(handed_over, created_at=40, last_interaction_at=40, owner_since=5)
    fresh = make_account(name="新客户", by=rep, lifecycle_stage="prospect")

    assert services.pool_recycle() == {"潜在客户30天": 2}
    in_pool = set(Account.objects.filter(pooled_at__isnull=False).values_list("pk", flat=True))
    assert in_pool == {forgotten.pk, touched_long_ago.pk}
    for kept in (customer, followed, handed_over, fresh):
        assert Account.objects.get(pk=kept.pk).owner_id == rep.pk
    stored = Account.objects.get(pk=forgotten.pk)
    assert stored.owner_id is None and "潜在客户30天" in stored.pool_reason
    entry = TimelineEntry.objects.get(content_type__model="account", object_id=forgotten.pk, kind="pool")
    assert entry.actor_id is None and "潜在客户30天" in entry.body
    # Run again: nothing more to take.
    assert services.pool_recycle() == {"潜在客户30天": 0}


def test_the_first_matching_active_rule_decides(rep: User, make_account: Callable[..., Account]) -> None:
    prospect = make_account(name="潜在40天", by=rep, lifecycle_stage="prospect")
    customer = make_account(name="客户40天", by=rep, lifecycle_stage="customer")
    _age(prospect, created_at=40)
    _age(customer, created_at=40)
    PoolRule.objects.create(name="停用", position=0, is_active=False, idle_days=1)
    assert services.pool_recycle() == {}
    assert not Account.objects.filter(pooled_at__isnull=False).exists()

    # Prospects get 60 days: the catch-all's 30 does not reach them, as the first rule they meet decides.
    PoolRule.objects.create(name="潜在60天", position=1, conditions={"lifecycle_stages": ["prospect"]}, idle_days=60)
    PoolRule.objects.create(name="全部30天", position=2, idle_days=30)
    assert services.pool_recycle() == {"潜在60天": 0, "全部30天": 1}
    assert Account.objects.get(pk=prospect.pk).pooled_at is None
    stored = Account.objects.get(pk=customer.pk)
    assert stored.pooled_at is not None and "全部30天" in stored.pool_reason


def test_the_nightly_classify_runs_the_pool_rules(
    rep: User, make_account: Callable[..., Account], prospects_rule: PoolRule, capsys: pytest.CaptureFixture[str]
) -> None:
    forgotten = make_account(name="夜里回收", by=rep, lifecycle_stage="prospect")
    _age(forgotten, created_at=40)
    kept = make_account(name="夜里不动", by=rep, lifecycle_stage="prospect")
    call_command("classify")
    out = capsys.readouterr().out
    assert "customer pool: 1" in out
    assert Account.objects.get(pk=forgotten.pk).pooled_at is not None
    assert Account.objects.get(pk=kept.pk).pooled_at is None


# --- giving an account an owner by hand ----------------------------------------------------------------


def test_giving_an_owner_takes_an_account_out_of_the_pool(
    rep: User, other_rep: User, admin: User, admin_api: Api, make_account: Callable[..., Account]
) -> None:
    pooled = _released(make_account(name="管理员分配"), admin)
    before = timezone.now()
    response = admin_api.patch(f"accounts/{pooled.pk}", {"owner": rep.pk})
    assert response.status_code == 200, response.json_body
    stored = Account.objects.get(pk=pooled.pk)
    assert stored.owner_id == rep.pk
    assert (stored.pooled_at, stored.pool_reason) == (None, "")
    assert stored.owner_since is not None and stored.owner_since >= before
    assert pooled.pk not in _ids(Api(other_rep).get("accounts"))

    # A plain hand-over restarts the count; an edit that keeps the owner does not.
    normal = make_account(name="正常转交", by=rep)
    Account.objects.filter(pk=normal.pk).update(owner_since=before - 100 * DAY)
    assert admin_api.patch(f"accounts/{normal.pk}", {"description": "备注"}).status_code == 200
    assert Account.objects.get(pk=normal.pk).owner_since == before - 100 * DAY
    moved = admin_api.patch(f"accounts/{normal.pk}", {"owner": other_rep.pk})
    assert moved.status_code == 200, moved.json_body
    since = Account.objects.get(pk=normal.pk).owner_since
    assert since is not None and since >= before


def test_hidden_bookkeeping_fields_do_not_stop_a_hand_over(
    rep: User, other_rep: User, sales_role: Role, make_account: Callable[..., Account], prospects_rule: PoolRule
) -> None:
    # A role that hides when the owner changed and when the pool takes an account back, as a company
    # may: handing an account over sets both, and that is the service's doing, not the rep's input.
    grant(sales_role, "customers.account", actions=["assign"])
    for field in ("owner_since", "pool_due_at"):
        FieldRule.objects.create(role=sales_role, object_type="customers.account", field=field, access="hidden")
    account = make_account(name="交接客户", by=rep, lifecycle_stage="prospect")
    _age(account, created_at=26)
    services.pool_recycle()
    assert Account.objects.get(pk=account.pk).pool_due_at is not None

    before = timezone.now()
    response = Api(rep).patch(f"accounts/{account.pk}", {"owner": other_rep.pk})
    assert response.status_code == 200, response.json_body
    stored = Account.objects.get(pk=account.pk)
    assert stored.owner_id == other_rep.pk and stored.pool_due_at is None
    assert stored.owner_since is not None and stored.owner_since >= before
    # Still hidden from the rep's role, and the date a rule would take it back is never logged.
    assert "owner_since" not in response.json_body
    entry = ChangeLogEntry.objects.filter(object_id=account.pk, action="update").latest("pk")
    assert "owner_since" in entry.changes and "pool_due_at" not in entry.changes


def test_pool_rules_are_settings_with_checked_days(rep: User, admin_api: Api) -> None:
    zero = admin_api.post("pool-rules", {"name": "零天", "idle_days": 0})
    assert zero.status_code == 400 and "idle_days" in _errors(zero)
    missing = admin_api.post("pool-rules", {"name": "没写天数"})
    assert missing.status_code == 400 and "idle_days" in _errors(missing)
    too_long = admin_api.post("pool-rules", {"name": "十一年", "idle_days": 4000})
    assert too_long.status_code == 400 and "idle_days" in _errors(too_long)
    assert not PoolRule.objects.exists()

    ok = admin_api.post(
        "pool-rules", {"name": "潜在客户30天", "conditions": {"lifecycle_stages": ["prospect"]}, "idle_days": 30}
    )
    assert ok.status_code == 201, ok.json_body
    assert (ok.json_body["idle_days"], ok.json_body["conditions"]) == (30, {"lifecycle_stages": ["prospect"]})
    cleared = admin_api.patch(f"pool-rules/{ok.json_body['id']}", {"idle_days": 0})
    assert cleared.status_code == 400 and "idle_days" in _errors(cleared)
    assert PoolRule.objects.get().idle_days == 30

    api = Api(rep)
    assert api.get("pool-rules").status_code == 403
    assert api.post("pool-rules", {"name": "我的", "idle_days": 7}).status_code == 403
    assert PoolRule.objects.count() == 1


# --- speed ----------------------------------------------------------------------------------------------


def test_the_list_does_not_grow_with_the_pool(
    rep: User, admin: User, make_account: Callable[..., Account], make_contact: Callable[..., Contact]
) -> None:
    for i in range(3):
        make_account(name=f"自己的{i}", by=rep, tags=["重点"])
    api = Api(rep)

    def pool_of(size: int) -> int:
        while Account.objects.filter(pooled_at__isnull=False).count() < size:
            n = Account.objects.count()
            account = make_account(name=f"公海{n}", tags=["公海", f"批{n}"])
            make_contact(given_name=f"联系人{n}", accounts=[{"account": account.pk}])
            _released(account, admin)
        api.get("accounts")  # warm caches (content types, custom field definitions)
        with CaptureQueriesContext(connection) as queries:
            response = api.get("accounts")
        assert response.status_code == 200
        assert len(response.json_body["items"]) == size + 3
        return len(queries)

    assert pool_of(3) == pool_of(20)
