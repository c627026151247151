"""The set-based bulk tags (``customers.services.bulk_tags``, ``Resource.bulk_tags``) write exactly
what one ``account_update`` / ``contact_update`` with ``data={}, tags=...`` per record writes.

Two identical sets are built and tagged alike (``conftest``'s ``bulk_both_ways``); set A is tagged
record by record (the hook taken away), set B through the hook; then the records (their tags and
versions), the change log, the timelines and the notifications are compared row by row, and the
tiers the tags lead to with them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from guanxi.core import bulk
from guanxi.core.errors import FieldErrors
from guanxi.core.follows import follow_many
from guanxi.core.models import Tag, TaggedItem
from guanxi.core.registry import resource_at
from guanxi.core.search.backends import backend
from guanxi.core.search.engine import id_range
from guanxi.core.services import tags_set
from guanxi.customers.models import Account, CustomerProfile, TierRule
from tests.customers.conftest import BothWays, Desk, People, apply_in_bulk, assert_same

pytestmark = pytest.mark.django_db


def tagged(made: Desk) -> None:
    """Tags of each kind the actions treat differently: a scope's other value (意向::低, the desk's
    意向::高 on a[2]), the tags added already (a[1], c[3]), none; and a tier set by hand (a[5])."""
    a, c = made.accounts, made.contacts
    for record, names in (
        (a[0], ["意向::低", "VIP"]),
        (a[1], ["意向::中", "重点"]),
        (a[4], ["VIP"]),
        (c[0], ["意向::高"]),
        (c[1], ["重点"]),
        (c[3], ["意向::中", "重点"]),
        (c[6], ["VIP"]),
    ):
        tags_set(record, names)
    Account.objects.filter(pk=a[5].pk).update(tier="A", tier_locked=True, tier_reason="Set by hand")


def documents(made: Desk) -> list[Any]:
    """The set's search documents as the index holds them."""
    ids = [id_range(type(x))[0] | x.pk for x in (*made.accounts, *made.contacts)]
    return sorted(backend().documents(ids))


@pytest.mark.parametrize(
    ("path", "action", "tags", "counts"),
    [
        ("accounts", "tag_add", ["意向::中", "重点"], {"changed": 7, "unchanged": 1}),
        ("accounts", "tag_remove", ["重点", "VIP"], {"changed": 4, "unchanged": 4}),
        ("contacts", "tag_add", ["意向::中", "重点"], {"changed": 7, "unchanged": 1}),
        ("contacts", "tag_remove", ["重点", "VIP"], {"changed": 3, "unchanged": 5}),
    ],
)
def test_the_set_based_tags_write_what_one_update_per_record_writes(
    people: People,
    bulk_both_ways: Callable[..., BothWays],
    path: str,
    action: str,
    tags: list[str],
    counts: dict[str, int],
) -> None:
    # Tiers and fit follow the tags (classification by needs): computed once committed, both ways.
    TierRule.objects.create(name="重点客户", position=1, tier="B", conditions={"tags": ["重点"]})
    TierRule.objects.create(name="其他", position=2, tier="D", conditions={})
    CustomerProfile.objects.create(name="重点", criteria={"tags": ["重点"]}, weights={"tags": 100})
    indexed: list[tuple[Desk, list[Any]]] = []

    def prepare(made: Desk) -> None:
        tagged(made)
        indexed.append((made, documents(made)))

    ways = bulk_both_ways(action, path=path, tags=tags, prepare=prepare)

    assert ways.result_a == ways.result_b == {**ways.result_a, **counts, "selected": 8, "failed": 0}
    assert_same(ways.seen_a, ways.seen_b)
    # What the comparison stands on: the tags and the log, the followers told, the tiers.
    seen = ways.seen_b
    records = seen[path]
    if action == "tag_add":
        assert records[0]["tags"] == (["VIP", "意向::中", "重点"] if path == "accounts" else ["意向::中", "重点"])
        assert records[2]["tags"] == ["意向::中", "重点"]  # a[2]'s 意向::高 gave way
    else:
        assert all(not {"重点", "VIP"} & set(r["tags"]) for r in records)
    assert sum(1 for row in seen["log"] if "'tags'" in row[4]) == counts["changed"]
    follower = people.follower.pk
    assert ("a0" if path == "accounts" else "c6", follower, "changed") in {n[:3] for n in seen["notifications"]}
    if path == "accounts":
        tiers = [a["tier"] for a in seen["accounts"]]
        assert tiers[0] == ("B" if action == "tag_add" else "D") and tiers[5] == "A"  # a[5]'s by hand
        assert seen["accounts"][0]["fit_score"] == (100 if action == "tag_add" else 0)
    # No document holds tags: the single path's reindex wrote each as it was, and the hook none.
    for made, before in indexed:
        assert documents(made) == before


def _legacy(made: Desk) -> None:
    """a[3] holds two tags of one scope, from before they were refused (as an old import left them)."""
    for name in ("意向::高", "意向::低"):
        tag = Tag.objects.get_or_create(name=name)[0]
        TaggedItem.objects.create(tag=tag, content_object=made.accounts[3])


def test_a_record_the_service_refuses_is_refused_alone_and_named(
    people: People,
    desk: Callable[[str], Desk],
    bulk_both_ways: Callable[..., BothWays],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A record holding two tags of one scope already: adding a plain tag keeps both, which the
    service refuses; in a job it is listed, the others tagged; in a request the batch is undone,
    naming it. Both ways alike."""
    ways = bulk_both_ways("tag_add", tags=["重点"], all_or_nothing=False, prepare=_legacy)
    assert_same(ways.seen_a, ways.seen_b)
    for result in (ways.result_a, ways.result_b):
        assert result["failed"] == 1 and result["changed"] == 6 and result["unchanged"] == 1  # a[2] had it
    [a_error], [b_error] = ways.result_a["errors"], ways.result_b["errors"]
    assert a_error["errors"] == b_error["errors"] and "意向" in b_error["errors"]["tags"][0]
    assert b_error["id"] == ways.in_bulk.accounts[3].pk

    accounts = resource_at("accounts")
    refusals = []
    for prefix, hook in (("丙", None), ("丁", accounts.bulk_tags)):
        made = desk(prefix)
        _legacy(made)
        with monkeypatch.context() as patch, pytest.raises(FieldErrors) as refused:
            patch.setattr(accounts, "bulk_tags", hook)
            apply_in_bulk(people.actor, made.accounts, "tag_add", tags=["重点"])
        refusals.append({k.replace(str(made.accounts[3].pk), "a3"): v for k, v in refused.value.errors.items()})
        assert not TaggedItem.objects.filter(object_id=made.accounts[0].pk, tag__name="重点").exists()
    assert refusals[0] == refusals[1] and list(refusals[1]) == ["records.a3.tags"]


def _query_count(n: int, p: People, make_account: Callable[..., Account]) -> int:
    ids = []
    for i in range(n):
        account = make_account(name=f"数量{n}公司{i}", owner_id=p.rep.pk, tags=["VIP", f"意向::{'高低'[i % 2]}"])
        ids.append(account.pk)
    follow_many(user=p.follower, model=Account, pks=ids, following=True)
    tags = [f"意向::中{n}", f"数量{n}"]  # new tags, the scoped one taking its scope's other values off
    plan = bulk.bulk_plan(resource=resource_at("accounts"), user=p.actor, action="tag_add", tags=tags)
    with CaptureQueriesContext(connection) as queries:
        result = bulk.bulk_apply_ids(plan, p.actor, ids, all_or_nothing=True)
    assert result["changed"] == n
    assert TaggedItem.objects.filter(object_id__in=ids, tag__name__in=tags).count() == 2 * n
    return len(queries)


def test_the_queries_do_not_grow_with_the_records(people: People, make_account: Callable[..., Account]) -> None:
    few = _query_count(5, people, make_account)
    many = _query_count(50, people, make_account)
    assert few == many, (few, many)
