"""The set-based bulk delete (``customers.services.bulk_delete``, ``Resource.bulk_delete``) writes
exactly what one ``record_delete`` per record writes, and the records it bins come back from the
recycle bin one by one as singly deleted ones do.

Two identical sets of accounts and people are built (``conftest.desk``); set A goes to the recycle
bin record by record (the hook taken away, as before it existed), set B through the hook; then
everything the two wrote is compared row by row, names and times aside: the records, their change
log, their timelines, the notifications to followers and owners.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from guanxi.core import bulk, services
from guanxi.core.choices import Action
from guanxi.core.errors import FieldErrors, GuanxiError, NotFound, PermissionDenied
from guanxi.core.follows import follow_many
from guanxi.core.permissions import restricted
from guanxi.core.registry import resource_at
from guanxi.core.search import search
from guanxi.customers.models import Account, Contact
from guanxi.customers.services import bulk_delete
from guanxi.identity.models import Role, Team, User
from tests.customers.conftest import (
    Api,
    BothWays,
    Desk,
    People,
    apply_in_bulk,
    assert_same,
    grant,
    marks,
    written,
)

pytestmark = pytest.mark.django_db

PATHS = {
    "accounts": ("customers.account", lambda d: d.accounts),
    "contacts": ("customers.contact", lambda d: d.contacts),
}


def _restore_one_by_one(desk: Desk, path: str, actor: User, on_commit: Any) -> dict[str, Any]:
    """Each record of the set back from the recycle bin (``POST /recycle-bin/<type>/<id>/restore``),
    and what that wrote."""
    object_type, records = PATHS[path]
    api, since = Api(actor), marks()
    with on_commit(execute=True):
        for record in records(desk):
            response = api.post(f"recycle-bin/{object_type}/{record.pk}/restore")
            assert response.status_code == 200, response.json_body
    return written(desk, since)


@pytest.mark.parametrize("all_or_nothing", [True, False], ids=["request", "job"])
def test_the_set_based_delete_writes_what_one_delete_per_account_writes_and_restores_alike(
    people: People,
    bulk_both_ways: Callable[..., BothWays],
    django_capture_on_commit_callbacks: Any,
    all_or_nothing: bool,
) -> None:
    ways = bulk_both_ways("delete", all_or_nothing=all_or_nothing)
    assert ways.result_a == ways.result_b == {**ways.result_a, "selected": 8, "changed": 8, "failed": 0}
    assert_same(ways.seen_a, ways.seen_b)
    assert ways.queries_b * 4 < ways.queries_a, (ways.queries_a, ways.queries_b)  # the hook did it
    # What the comparison stands on: in the bin by the actor, logged, the followers and owners told.
    binned = Account.all_objects.filter(pk__in=[a.pk for a in ways.in_bulk.accounts])
    assert set(binned.values_list("deleted_by", flat=True)) == {people.actor.pk}
    assert not binned.filter(deleted_at__isnull=True).exists()
    assert sorted(row[:2] for row in ways.seen_b["log"]) == [(f"a{i}", "delete") for i in range(8)]
    told = {(n[0], n[1], n[2]) for n in ways.seen_b["notifications"]}
    assert {("a0", people.follower.pk, "deleted"), ("a0", people.rep.pk, "deleted")} <= told
    assert ("a5", people.other_rep.pk, "deleted") in told
    assert not search(people.actor, "乙测试公司1")
    assert not ways.seen_b["timeline"]  # a delete writes no timeline entry, either way

    # Back from the bin one by one: the same rows again, found by search again.
    restore = django_capture_on_commit_callbacks
    back_a = _restore_one_by_one(ways.one_by_one, "accounts", people.actor, restore)
    back_b = _restore_one_by_one(ways.in_bulk, "accounts", people.actor, restore)
    assert_same(back_a, back_b)
    assert not Account.all_objects.filter(pk__in=[a.pk for a in ways.in_bulk.accounts], deleted_at__isnull=False)
    assert [a["version"] for a in back_b["accounts"]] == [a.version + 2 for a in ways.in_bulk.accounts]
    assert ("a1", people.follower.pk, "restored") in {(n[0], n[1], n[2]) for n in back_b["notifications"]}
    assert ways.in_bulk.accounts[1].pk in {hit.id for hit in search(people.actor, "乙测试公司1")}


def test_contacts_go_to_the_bin_in_bulk_as_one_by_one_and_come_back(
    people: People, bulk_both_ways: Callable[..., BothWays], django_capture_on_commit_callbacks: Any
) -> None:
    ways = bulk_both_ways("delete", path="contacts")
    assert ways.result_a == ways.result_b == {**ways.result_a, "changed": 8}
    assert_same(ways.seen_a, ways.seen_b)
    assert ways.queries_b * 4 < ways.queries_a, (ways.queries_a, ways.queries_b)
    assert ("c0", people.follower.pk, "deleted") in {(n[0], n[1], n[2]) for n in ways.seen_b["notifications"]}
    restore = django_capture_on_commit_callbacks
    back_a = _restore_one_by_one(ways.one_by_one, "contacts", people.actor, restore)
    assert_same(back_a, _restore_one_by_one(ways.in_bulk, "contacts", people.actor, restore))
    # The people come back with their links: 乙测试公司1 lists its four again.
    assert Contact.objects.filter(account_links__account=ways.in_bulk.accounts[1]).count() == 4


@pytest.fixture
def viewer(make_user: Callable[..., User], team_east: Team) -> User:
    """Sees every account, deletes only their own."""
    role = Role.objects.create(name="看全部删自己")
    grant(role, "customers.account", ("view",), scope="all")
    grant(role, "customers.account", ("change", "delete"), scope="own")
    return make_user(role=role, team=team_east, name="赵敏")


def _four(make_account: Callable[..., Account], viewer: User, rep: User, prefix: str) -> list[Account]:
    """The viewer's account (theirs to delete), a colleague's (seen, not theirs to delete: 403), one to
    be binned by someone else (404 then), and the viewer's again."""
    names = ("自己的", "同事的", "将被删除", "自己的二")
    owners = (viewer, rep, viewer, viewer)
    return [make_account(name=f"{prefix}{name}", owner_id=owner.pk) for name, owner in zip(names, owners, strict=True)]


def test_the_hook_refuses_what_record_delete_refuses(
    viewer: User, rep: User, make_account: Callable[..., Account]
) -> None:
    """Each record the hook refuses, it refuses with ``record_delete``'s answer, and writes nothing of it."""
    answers: list[type[GuanxiError] | None] = []
    singly = _four(make_account, viewer, rep, "甲")
    services.record_delete(model=Account, pk=singly[2].pk, user=viewer)
    for account in singly:
        try:
            services.record_delete(model=Account, pk=account.pk, user=viewer)
            answers.append(None)
        except GuanxiError as exc:
            answers.append(type(exc))
    assert answers == [None, PermissionDenied, NotFound, None]

    in_bulk = _four(make_account, viewer, rep, "乙")
    services.record_delete(model=Account, pk=in_bulk[2].pk, user=viewer)
    never = 10**12  # an id that never was
    refused = bulk_delete.accounts_delete_bulk(user=viewer, pks=[a.pk for a in in_bulk] + [never])
    assert {pk: type(exc) for pk, exc in refused.items()} == {
        in_bulk[1].pk: PermissionDenied,
        in_bulk[2].pk: NotFound,
        never: NotFound,
    }
    assert Account.objects.filter(pk=in_bulk[1].pk).exists()
    assert not Account.objects.filter(pk__in=[in_bulk[0].pk, in_bulk[3].pk]).exists()


def _binned_meanwhile(account: Account) -> Callable[..., Any]:
    """``bulk.allowed`` as if the user's delete permission had narrowed and a colleague had binned
    ``account`` between the choice of the records and their write: every record the user sees, and
    ``account`` binned once they are read."""

    def allowed(plan: Any, user: Any) -> Any:
        chosen = list(restricted(plan.resource.model, user, Action.VIEW).values_list("pk", flat=True))
        Account.all_objects.filter(pk=account.pk).update(deleted_at=account.created_at)
        return Account.all_objects.filter(pk__in=chosen)

    return allowed


@pytest.mark.parametrize("all_or_nothing", [True, False], ids=["request", "job"])
def test_refusals_are_reported_per_record_as_one_by_one(
    viewer: User, rep: User, make_account: Callable[..., Account], monkeypatch: pytest.MonkeyPatch, all_or_nothing: bool
) -> None:
    """In a request, the first refused record undoes all and is named; in a job, each is listed and
    the others go to the bin. The same both ways."""
    outcomes = []
    for prefix, hook in (("甲", None), ("乙", bulk_delete.accounts_delete_bulk)):
        accounts = _four(make_account, viewer, rep, prefix)
        place = {a.pk: i for i, a in enumerate(accounts)}
        with monkeypatch.context() as patch:
            patch.setattr(resource_at("accounts"), "bulk_delete", hook)
            patch.setattr(bulk, "allowed", _binned_meanwhile(accounts[2]))
            try:
                result = apply_in_bulk(viewer, accounts, "delete", all_or_nothing=all_or_nothing)
                said: Any = (
                    result["changed"],
                    result["failed"],
                    [(place[e["id"]], e["errors"]) for e in result["errors"]],
                )
            except FieldErrors as exc:
                said = sorted((place[int(key.split(".")[1])], value) for key, value in exc.errors.items())
        live = Account.objects.filter(pk__in=list(place)).values_list("pk", flat=True)
        outcomes.append((said, sorted(place[pk] for pk in live)))
    assert outcomes[0] == outcomes[1]
    denied, gone = [PermissionDenied().detail], [NotFound().detail]
    if all_or_nothing:
        assert outcomes[1] == ([(1, denied)], [0, 1, 2, 3])  # the first refusal undid the batch
    else:
        assert outcomes[1] == ((2, 2, [(1, {"": denied}), (2, {"": gone})]), [1])


def _accounts(n: int, p: People, make_account: Callable[..., Account], make_contact: Callable[..., Contact]) -> list:
    """``n`` of rep's accounts, each with a person and a follower."""
    accounts = []
    for i in range(n):
        account = make_account(name=f"数量{n}公司{i}", owner_id=p.rep.pk)
        accounts.append(account)
        links = [{"account": account.pk, "is_primary": True}]
        make_contact(family_name=f"数{n}", given_name=f"人{i}", owner_id=p.rep.pk, accounts=links)
    follow_many(user=p.follower, model=Account, pks=[a.pk for a in accounts], following=True)
    return accounts


def test_the_queries_do_not_grow_with_the_records(
    people: People, make_account: Callable[..., Account], make_contact: Callable[..., Contact]
) -> None:
    """The same statements for 10 accounts as for 100, through the API's path and the list's bulk bar.
    Only SQLite's limit of 999 parameters a statement makes Django split an insert of 100 change-log
    rows (10 columns) in two; PostgreSQL inserts them in one."""
    client = Client()
    client.force_login(people.actor)

    def counted(n: int, by_page: bool) -> int:
        accounts = _accounts(n, people, make_account, make_contact)
        with CaptureQueriesContext(connection) as queries:
            if by_page:
                data = {"action": "delete", "confirm": "yes", "pk": [a.pk for a in accounts]}
                assert client.post(reverse("ui:accounts-bulk"), data).status_code == 302
            else:
                assert apply_in_bulk(people.actor, accounts, "delete")["changed"] == n
        assert not Account.objects.filter(pk__in=[a.pk for a in accounts]).exists()
        return len(queries)

    for by_page in (False, True):
        few, many = counted(10, by_page), counted(100, by_page)
        assert few <= many <= few + (1 if connection.vendor == "sqlite" else 0), (by_page, few, many)
