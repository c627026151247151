"""Handing over a colleague's records (离职交接, ``guanxi.identity.handover``): the service, the job for
many, the API route ``POST /users/{id}/handover``, and the settings page 交接客户.

The departing salesperson (李雷) owns three companies and two people in 华东; a colleague (韩梅梅, 华南)
owns one of each and is never touched. Records go through the bulk machinery, so each moves through
its own service: the counts below are read back from the database, per owner, before and after.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from guanxi.core import bulk
from guanxi.core.errors import FieldErrors, NotFound, PermissionDenied
from guanxi.core.models import ChangeLogEntry, Job
from guanxi.customers.models import Account, Contact
from guanxi.identity import handover as handover_module
from guanxi.identity.handover import handover, handover_counts
from guanxi.identity.models import Role, Team, User
from tests.customers.conftest import Api, grant
from tests.factories import client_for

pytestmark = pytest.mark.django_db


@dataclass
class Desk:
    """The departing rep's records, and a colleague's that must not move."""

    departing: User
    colleague: User
    accounts: list[Account]
    at_company: Contact  # primary account: the first of ``accounts``
    on_own: Contact  # at no company of theirs
    colleague_account: Account
    colleague_contact: Contact


def owned(user: User) -> tuple[int, int]:
    return Account.objects.filter(owner=user).count(), Contact.objects.filter(owner=user).count()


@pytest.fixture
def desk(
    rep: User,
    other_rep: User,
    make_account: Callable[..., Account],
    make_contact: Callable[..., Contact],
) -> Desk:
    accounts = [make_account(name=f"上海浦江精密机械{i}号", by=rep) for i in range(3)]
    at_company = make_contact(
        by=rep, family_name="王", given_name="总", accounts=[{"account": accounts[0].pk, "role": "总经理"}]
    )
    on_own = make_contact(by=rep, family_name="赵", given_name="工")
    return Desk(
        departing=rep,
        colleague=other_rep,
        accounts=accounts,
        at_company=at_company,
        on_own=on_own,
        colleague_account=make_account(name="汕头潮汕玩具实业", by=other_rep),
        colleague_contact=make_contact(by=other_rep, family_name="钱", given_name="经理"),
    )


@pytest.fixture
def successor(make_user: Callable[..., User], sales_role: Role, team_east: Team) -> User:
    return make_user(role=sales_role, team=team_east, name="张伟")


@pytest.fixture
def lead(make_user: Callable[..., User], team_east: Team) -> User:
    """A sales lead of 华东: sees every company, changes and assigns those of the team; sees the team's people."""
    role = Role.objects.create(name="销售主管")
    grant(role, "customers.account", ("view",), scope="all")
    grant(role, "customers.account", ("change", "assign"), scope="team")
    grant(role, "customers.contact", ("view", "change", "assign"), scope="team")
    grant(role, "identity.user", ("view",), scope="all")
    return make_user(role=role, team=team_east, name="主管")


# --- the service ----------------------------------------------------------------------------------------


def test_moves_exactly_the_users_records_and_records_the_handover(admin: User, desk: Desk, successor: User) -> None:
    assert owned(desk.departing) == (3, 2) and owned(successor) == (0, 0) and owned(desk.colleague) == (1, 1)

    result = handover(pk=desk.departing.pk, user=admin, recipient=successor.pk)

    assert isinstance(result, dict)
    assert owned(desk.departing) == (0, 0) and owned(successor) == (3, 2) and owned(desk.colleague) == (1, 1)
    accounts, contacts = result["resources"]["accounts"], result["resources"]["contacts"]
    assert (accounts["action"], accounts["changed"], accounts["skipped"]) == ("owner", 3, 0)
    # The person at the first company went with it (account_update); only the other was left to move.
    assert (contacts["changed"], contacts["selected"]) == (1, 1)
    assert result["changed"] == 4 and result["skipped"] == 0
    # Each record went through its service: its own change log names the new owner.
    entry = ChangeLogEntry.objects.filter(object_id=desk.accounts[1].pk, content_type__model="account").latest("id")
    assert entry.changes["owner"] == [desk.departing.pk, successor.pk]
    # The handover itself: on the departing user's change log, from whom (the record), to whom, how many.
    logged = ChangeLogEntry.objects.filter(content_type__model="user", object_id=desk.departing.pk).latest("id")
    assert logged.actor_id == admin.pk
    assert logged.changes["handover"][1] == {
        "recipient": successor.pk,
        "pool": [],
        "moved": {"accounts": 3, "contacts": 1},
        # Per colleague, the person who went with their company included.
        "recipients": {str(successor.pk): {"accounts": 3, "contacts": 2}},
        "skipped": 0,
        "failed": 0,
    }


def test_records_the_actor_may_not_reach_are_skipped_and_reported(
    lead: User, desk: Desk, successor: User, team_south: Team
) -> None:
    """The lead changes and assigns 华东's records only: a company of the departing rep booked in 华南 is
    seen (every company is) but skipped and reported; a person booked in 华南 is not even seen."""
    elsewhere = desk.accounts[2]
    Account.objects.filter(pk=elsewhere.pk).update(team=team_south)
    Contact.objects.filter(pk=desk.on_own.pk).update(team=team_south)
    counts = {r.path: n for r, n in handover_counts(user=lead, source=desk.departing)}
    assert counts == {"accounts": 3, "contacts": 1}

    result = handover(pk=desk.departing.pk, user=lead, recipient=successor.pk)

    assert isinstance(result, dict)
    accounts = result["resources"]["accounts"]
    assert (accounts["changed"], accounts["skipped"], accounts["skipped_ids"]) == (2, 1, [elsewhere.pk])
    assert result["skipped"] == 1
    assert set(Account.objects.filter(owner=desk.departing).values_list("pk", flat=True)) == {elsewhere.pk}
    assert set(Contact.objects.filter(owner=desk.departing).values_list("pk", flat=True)) == {desk.on_own.pk}
    assert owned(successor) == (2, 1) and owned(desk.colleague) == (1, 1)


@pytest.mark.parametrize("who", ["inactive", "same", "nobody", "missing"])
def test_refuses_a_recipient_who_cannot_take_over_naming_the_field(
    admin: User, desk: Desk, make_user: Callable[..., User], who: str
) -> None:
    recipient: Any = {
        "inactive": lambda: make_user(name="离职的人").pk,
        "same": lambda: desk.departing.pk,
        "nobody": lambda: None,
        "missing": lambda: 987654,
    }[who]()
    if who == "inactive":
        User.objects.filter(pk=recipient).update(is_active=False)
    with pytest.raises(FieldErrors) as refused:
        handover(pk=desk.departing.pk, user=admin, recipient=recipient)
    assert list(refused.value.errors) == ["recipient"], refused.value.errors
    assert owned(desk.departing) == (3, 2)


def test_who_may_not_assign_or_see_the_user_is_refused(
    rep: User, other_rep: User, desk: Desk, successor: User, sales_role: Role
) -> None:
    with pytest.raises(NotFound):  # a rep's role sees no user
        handover(pk=rep.pk, user=rep, recipient=successor.pk)
    grant(sales_role, "identity.user", ("view",), scope="all")
    rep = User.objects.get(pk=rep.pk)  # the role's rules are read once per user object
    with pytest.raises(PermissionDenied):  # now they see them, but may not assign records
        handover(pk=other_rep.pk, user=rep, recipient=successor.pk)
    assert owned(desk.departing) == (3, 2) and owned(desk.colleague) == (1, 1)


def test_to_the_pool_with_a_reason_and_the_rest_to_a_colleague(admin: User, desk: Desk, successor: User) -> None:
    with pytest.raises(FieldErrors) as no_reason:
        handover(pk=desk.departing.pk, user=admin, recipient=successor.pk, to_pool=True)
    assert "reason" in no_reason.value.errors
    with pytest.raises(FieldErrors) as no_one:  # the person at no company has no pool to go to
        handover(pk=desk.departing.pk, user=admin, to_pool=True, reason="离职")
    assert list(no_one.value.errors) == ["recipient"] and "contacts" in no_one.value.errors["recipient"][0]
    assert owned(desk.departing) == (3, 2)

    result = handover(pk=desk.departing.pk, user=admin, recipient=successor.pk, to_pool=True, reason="李雷离职")

    assert isinstance(result, dict)
    assert result["resources"]["accounts"]["action"] == "release"
    pooled = Account.objects.filter(pk__in=[a.pk for a in desk.accounts])
    assert {(a.owner_id, a.pool_reason) for a in pooled} == {(None, "李雷离职")}
    assert all(a.pooled_at is not None for a in pooled)
    # The person at a pooled company waits in the pool with it; the other goes to the colleague.
    assert Contact.objects.get(pk=desk.at_company.pk).owner_id is None
    assert Contact.objects.get(pk=desk.on_own.pk).owner_id == successor.pk
    assert owned(desk.departing) == (0, 0) and owned(desk.colleague) == (1, 1)
    logged = ChangeLogEntry.objects.filter(content_type__model="user", object_id=desk.departing.pk).latest("id")
    assert logged.changes["handover"][1]["pool"] == ["accounts"]


def test_only_companies_to_the_pool_need_no_recipient(
    admin: User, rep: User, make_account: Callable[..., Account]
) -> None:
    account = make_account(name="北京示例科技", by=rep)
    result = handover(pk=rep.pk, user=admin, to_pool=True, reason="客户暂无预算")
    assert isinstance(result, dict) and result["changed"] == 1
    assert Account.objects.get(pk=account.pk).pooled_at is not None


def test_people_who_go_to_the_pool_with_their_company_need_no_recipient(admin: User, desk: Desk) -> None:
    """Only the person at no company of theirs needs a colleague; once they are gone, the companies
    go to the pool with their people and nobody is asked for."""
    with pytest.raises(FieldErrors) as no_one:
        handover(pk=desk.departing.pk, user=admin, to_pool=True, reason="离职")
    assert "contacts" in no_one.value.errors["recipient"][0]
    counts = handover_counts(user=admin, source=desk.departing)
    left = handover_module.left_to_a_person(user=admin, source=desk.departing, counts=counts, to_pool=True)
    assert [(resource.path, count) for resource, count in left] == [("accounts", 0), ("contacts", 1)]
    Contact.objects.filter(pk=desk.on_own.pk).update(owner=desk.colleague)  # the one at no company: gone

    result = handover(pk=desk.departing.pk, user=admin, to_pool=True, reason="离职")

    assert isinstance(result, dict) and list(result["resources"]) == ["accounts"]
    assert Contact.objects.get(pk=desk.at_company.pk).owner_id is None  # in the pool with 上海浦江精密机械0号
    assert owned(desk.departing) == (0, 0)


def test_deactivates_the_user_afterwards_through_the_identity_service(admin: User, desk: Desk, successor: User) -> None:
    result = handover(pk=desk.departing.pk, user=admin, recipient=successor.pk, deactivate=True)
    assert isinstance(result, dict) and result["handover"]["deactivated"] is True
    desk.departing.refresh_from_db()
    assert desk.departing.is_active is False and owned(desk.departing) == (0, 0)
    entries = ChangeLogEntry.objects.filter(content_type__model="user", object_id=desk.departing.pk)
    assert entries.filter(changes__has_key="is_active").exists()
    # Nobody deactivates themselves: refused before any record moves.
    mine = Account.objects.create(name="管理员的客户", owner=admin, created_by=admin)
    with pytest.raises(FieldErrors) as refused:
        handover(pk=admin.pk, user=admin, recipient=successor.pk, deactivate=True)
    assert list(refused.value.errors) == ["deactivate"]
    assert Account.objects.get(pk=mine.pk).owner_id == admin.pk


def test_deactivating_takes_managing_all_users(lead: User, desk: Desk, successor: User) -> None:
    with pytest.raises(FieldErrors) as refused:
        handover(pk=desk.departing.pk, user=lead, recipient=successor.pk, deactivate=True)
    assert list(refused.value.errors) == ["deactivate"]
    assert owned(desk.departing) == (3, 2)


def test_many_records_are_handed_over_by_a_job(
    admin: User,
    desk: Desk,
    successor: User,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    monkeypatch.setattr(bulk, "SYNC_LIMIT", 2)
    monkeypatch.setattr(bulk, "CHUNK", 2)
    with django_capture_on_commit_callbacks(execute=True):
        job = handover(pk=desk.departing.pk, user=admin, recipient=successor.pk, deactivate=True)
    assert isinstance(job, Job) and job.kind == "handover"
    job.refresh_from_db()
    assert job.status == "succeeded", (job.error, job.result)
    assert job.total == 5 and job.result["changed"] == 4 and job.result["handover"]["deactivated"] is True
    assert job.checkpoint["closed"] is True
    assert owned(desk.departing) == (0, 0) and owned(successor) == (3, 2) and owned(desk.colleague) == (1, 1)
    desk.departing.refresh_from_db()
    assert desk.departing.is_active is False
    logged = ChangeLogEntry.objects.filter(content_type__model="user", object_id=desk.departing.pk)
    assert logged.filter(changes__has_key="handover", source="job").count() == 1

    # Run again (a resumed job): the end has committed, nothing is done twice.
    from guanxi.core.jobs import job_run

    Job.objects.filter(pk=job.pk).update(status="running")
    job_run(job.pk)
    assert logged.filter(changes__has_key="handover").count() == 1


def test_a_later_module_joins_through_the_registry(
    admin: User, rep: User, successor: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Gadgets (the test app's owned records) join without a change to the handover module."""
    from tests.testapp.models import Gadget

    monkeypatch.setattr(handover_module, "_handed_over", dict(handover_module._handed_over))
    handover_module.register_handover("gadgets", position=30)
    gadget = Gadget.objects.create(name="样机", price="10.00", owner=rep, created_by=rep)
    result = handover(pk=rep.pk, user=admin, recipient=successor.pk)
    assert isinstance(result, dict) and result["resources"]["gadgets"]["changed"] == 1
    assert Gadget.objects.get(pk=gadget.pk).owner_id == successor.pk


# --- the API ----------------------------------------------------------------------------------------------


def test_the_api_hands_over_and_answers_the_result(admin: User, desk: Desk, successor: User, lead: User) -> None:
    url = f"users/{desk.departing.pk}/handover"
    refused = Api(admin).post(url, {"recipient": desk.departing.pk})
    assert refused.status_code == 400 and refused["Content-Type"].startswith("application/problem+json")
    assert [e["field"] for e in refused.json_body["errors"]] == ["recipient"]
    assert Api(desk.colleague).post(url, {"recipient": successor.pk}).status_code == 404
    unknown = Api(admin).post(url, {"recipient": successor.pk, "owner": 1})
    assert unknown.status_code in (400, 422)

    done = Api(admin).post(url, {"recipient": successor.pk})
    assert done.status_code == 200, done.json_body
    assert done.json_body["changed"] == 4 and done.json_body["resources"]["accounts"]["changed"] == 3
    assert owned(successor) == (3, 2)


def test_the_api_answers_202_and_the_job_when_many(
    admin: User,
    desk: Desk,
    successor: User,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    monkeypatch.setattr(bulk, "SYNC_LIMIT", 2)
    with django_capture_on_commit_callbacks(execute=True):
        response = Api(admin).post(f"users/{desk.departing.pk}/handover", {"recipient": successor.pk})
    assert response.status_code == 202, response.json_body
    assert response["Location"] == f"/api/v1/jobs/{response.json_body['id']}"
    assert response.json_body["kind"] == "handover"
    assert Job.objects.get(pk=response.json_body["id"]).status == "succeeded"
    assert owned(desk.departing) == (0, 0)


# --- the settings pages -----------------------------------------------------------------------------------


def test_the_page_shows_the_counts_and_hands_over(admin: User, desk: Desk, successor: User) -> None:
    client = client_for(admin)
    url = reverse("ui:users-handover", args=[desk.departing.pk])
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-count="3"' in html and 'data-count="2"' in html
    assert 'data-gx-picker data-name="recipients" data-multiple' in html and reverse("ui:pick", args=["users"]) in html
    assert 'name="to_pool"' in html and 'name="deactivate"' in html
    # With the pool, the person at no company of theirs still needs a colleague (王总 goes with 0号).
    assert "still for the colleagues chosen above: contacts 1." in html

    empty = client.post(url, {})
    assert empty.status_code == 400 and "Choose who takes over" in empty.content.decode()
    assert owned(desk.departing) == (3, 2)

    done = client.post(url, {"recipients": successor.pk}, follow=True)
    assert done.redirect_chain[-1] == (url, 302)
    text = done.content.decode()
    assert "Accounts handed over: 3." in text and 'data-count="0"' in text
    assert owned(successor) == (3, 2)


def test_the_page_sends_a_large_handover_to_its_job(
    admin: User,
    desk: Desk,
    successor: User,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    monkeypatch.setattr(bulk, "SYNC_LIMIT", 2)
    url = reverse("ui:users-handover", args=[desk.departing.pk])
    assert 'id="handover-in-background"' in client_for(admin).get(url).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(admin).post(url, {"recipients": successor.pk, "deactivate": "on"})
    job = Job.objects.get(kind="handover")
    assert response.status_code == 302 and response["Location"] == reverse("ui:job-detail", args=[job.pk])
    assert "Handover" in client_for(admin).get(response["Location"]).content.decode()
    assert owned(desk.departing) == (0, 0)


def test_the_pages_point_to_the_handover(admin: User, desk: Desk, successor: User, lead: User, rep: User) -> None:
    handover_url = reverse("ui:users-handover", args=[desk.departing.pk])
    detail = client_for(admin).get(reverse("ui:users-detail", args=[desk.departing.pk])).content.decode()
    assert f'href="{handover_url}"' in detail
    # A rep who sees the users but may not assign records: no button, and the page is refused.
    grant(Role.objects.get(pk=rep.role_id), "identity.user", ("view",), scope="all")
    own_page = client_for(rep).get(reverse("ui:users-detail", args=[rep.pk])).content.decode()
    assert 'id="page-title"' in own_page and 'id="handover-button"' not in own_page
    assert client_for(rep).get(handover_url).status_code == 403

    # Deactivating someone who still owns records is not refused: the page says so and links here.
    delete_url = reverse("ui:users-delete", args=[desk.departing.pk])
    confirm = client_for(admin).get(delete_url).content.decode()
    assert 'id="still-owned"' in confirm and f'href="{handover_url}"' in confirm
    done = client_for(admin).post(delete_url, follow=True)
    assert "still own 5 records" in done.content.decode()
    desk.departing.refresh_from_db()
    assert desk.departing.is_active is False

    # Afterwards the records are handed over from the deactivated user's page.
    client_for(admin).post(handover_url, {"recipients": successor.pk})
    assert owned(desk.departing) == (0, 0)
    history = client_for(admin).get(reverse("ui:users-detail", args=[desk.departing.pk])).content.decode()
    assert "Accounts: 3 to 张伟" in history


def test_the_counts_page_reads_a_fixed_number_of_queries(
    admin: User, rep: User, successor: User, make_account: Callable[..., Account], make_contact: Callable[..., Contact]
) -> None:
    client = client_for(admin)
    url = reverse("ui:users-handover", args=[rep.pk])

    def queries() -> int:
        client.get(url)  # sessions, caches and translations warm
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    first = make_account(name="第一家", by=rep)
    make_contact(by=rep, given_name="一", accounts=[{"account": first.pk, "role": "采购"}])
    few = queries()
    for i in range(12):
        account = make_account(name=f"又一家{i}", by=rep)
        make_contact(by=rep, given_name=f"{i}", accounts=[{"account": account.pk, "role": "采购"}])
    assert queries() == few


def test_a_queued_handover_is_checked_again_when_it_runs(
    admin: User, desk: Desk, successor: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The recipient left between the click and the job: nothing moves, and the job says why."""
    from guanxi.core.jobs import job_run

    monkeypatch.setattr(bulk, "SYNC_LIMIT", 2)
    job = handover(pk=desk.departing.pk, user=admin, recipient=successor.pk)
    assert isinstance(job, Job)
    User.objects.filter(pk=successor.pk).update(is_active=False)
    job = job_run(job.pk)
    assert job.status == "failed" and f"No active user with id {successor.pk}:" in job.error
    assert owned(desk.departing) == (3, 2)


def test_the_page_says_when_the_role_must_pick_a_listed_reason(lead: User, desk: Desk) -> None:
    """As the pool's other forms do: a role that must name a listed release reason is not offered
    "or in your own words" (the service refuses it anyway)."""
    from guanxi.customers.models import PoolReason

    PoolReason.objects.create(label_zh="客户失联", label_en="Lost touch")
    grant(lead.role, "customers.poolreason", ("view",), scope="all")  # the reasons offered to the lead
    url = reverse("ui:users-handover", args=[desk.departing.pk])
    page = client_for(lead).get(url).content.decode()
    assert "Lost touch" in page
    assert "say why in your own words" in page
    Role.objects.filter(pk=lead.role_id).update(pool_reason_required=True)
    page = client_for(lead).get(url).content.decode()
    assert "— choose a reason —" in page and "say why in your own words" not in page


# --- several colleagues share the records out ---------------------------------------------------------------


@dataclass
class Team3:
    """Three colleagues of 华东 who share out a departing rep's customers."""

    people: list[User]

    @property
    def ids(self) -> list[int]:
        return [person.pk for person in self.people]


@pytest.fixture
def team3(make_user: Callable[..., User], sales_role: Role, team_east: Team) -> Team3:
    return Team3([make_user(role=sales_role, team=team_east, name=name) for name in ("张伟", "王芳", "刘洋")])


def spread(counts: list[int]) -> int:
    return max(counts) - min(counts)


@pytest.mark.parametrize("how_many", [2, 3])
def test_accounts_are_dealt_evenly_in_turn(
    admin: User, rep: User, team3: Team3, make_account: Callable[..., Account], how_many: int
) -> None:
    accounts = [make_account(name=f"杭州西湖茶业{i}号", by=rep) for i in range(7)]
    people = team3.people[:how_many]

    result = handover(pk=rep.pk, user=admin, recipients=[person.pk for person in people])

    assert isinstance(result, dict) and result["changed"] == 7
    got = [Account.objects.filter(owner=person).count() for person in people]
    assert sum(got) == 7 and spread(got) <= 1
    # Round robin in id order, one to each colleague in the order named.
    owners = list(
        Account.objects.filter(pk__in=[a.pk for a in accounts]).order_by("pk").values_list("owner", flat=True)
    )
    assert owners == [people[i % how_many].pk for i in range(7)]
    assert result["resources"]["accounts"]["recipients"] == {str(p.pk): n for p, n in zip(people, got, strict=True)}
    assert result["recipients"] == {str(p.pk): {"accounts": n} for p, n in zip(people, got, strict=True)}
    # The departing user's change log names every colleague and how many each got.
    logged = ChangeLogEntry.objects.filter(content_type__model="user", object_id=rep.pk).latest("id")
    record = logged.changes["handover"][1]
    assert record["recipient"] is None and record["recipients"] == result["recipients"]
    history = client_for(admin).get(reverse("ui:users-detail", args=[rep.pk])).content.decode()
    for person, count in zip(people, got, strict=True):
        assert f"Accounts: {count} to {person.display_name}" in history


def test_people_go_with_their_company_and_the_others_are_dealt(
    admin: User,
    rep: User,
    team3: Team3,
    make_account: Callable[..., Account],
    make_contact: Callable[..., Contact],
) -> None:
    """Each company's people go to the colleague who gets the company; a person of the departing rep
    at a company one of the colleagues holds already goes to that colleague; the people at no company
    are dealt in turn. The preview said so beforehand."""
    companies = [make_account(name=f"苏州工业园区电子{i}号", by=rep) for i in range(5)]
    at_company = [
        make_contact(by=rep, family_name="周", given_name=f"{i}{j}", accounts=[{"account": c.pk, "role": "采购"}])
        for i, c in enumerate(companies)
        for j in range(i % 3)  # 0, 1 or 2 people a company
    ]
    held = make_account(name="王芳的老客户", by=team3.people[1])
    at_held = make_contact(
        family_name="吴", given_name="工", owner_id=rep.pk, accounts=[{"account": held.pk, "role": "技术"}]
    )
    alone = [make_contact(by=rep, family_name="郑", given_name=f"{i}") for i in range(5)]

    preview = handover(pk=rep.pk, user=admin, recipients=team3.ids, preview=True)
    assert owned(rep) == (5, len(at_company) + 1 + 5)  # the preview moved nothing

    result = handover(pk=rep.pk, user=admin, recipients=team3.ids)

    assert isinstance(result, dict) and owned(rep) == (0, 0)
    for contact in at_company:
        contact.refresh_from_db()
        company = contact.account_links.get(is_primary=True).account
        assert contact.owner_id == company.owner_id
    assert Contact.objects.get(pk=at_held.pk).owner_id == team3.people[1].pk
    dealt = [Contact.objects.filter(pk__in=[c.pk for c in alone], owner=person).count() for person in team3.people]
    assert sum(dealt) == 5 and spread(dealt) <= 1
    accounts = [Account.objects.filter(owner=person).exclude(pk=held.pk).count() for person in team3.people]
    assert spread(accounts) <= 1
    # The result and the preview count alike, people going with their company included.
    assert preview["recipients"] == result["recipients"]
    for person in team3.people:
        mine = result["recipients"][str(person.pk)]
        assert mine.get("contacts", 0) == Contact.objects.filter(owner=person).count()


def test_to_the_pool_and_the_people_left_shared_among_colleagues(
    admin: User, rep: User, team3: Team3, make_account: Callable[..., Account], make_contact: Callable[..., Contact]
) -> None:
    company = make_account(name="无锡太湖纺织", by=rep)
    in_pool = make_contact(
        by=rep, family_name="孙", given_name="总", accounts=[{"account": company.pk, "role": "总经理"}]
    )
    alone = [make_contact(by=rep, family_name="钱", given_name=f"{i}") for i in range(4)]

    preview = handover(pk=rep.pk, user=admin, recipients=team3.ids[:2], to_pool=True, reason="离职", preview=True)
    assert preview["pool"] == {"accounts": 1, "contacts": 1}
    result = handover(pk=rep.pk, user=admin, recipients=team3.ids[:2], to_pool=True, reason="离职")

    assert isinstance(result, dict) and result["resources"]["accounts"]["action"] == "release"
    assert Account.objects.get(pk=company.pk).pooled_at is not None
    assert Contact.objects.get(pk=in_pool.pk).owner_id is None
    dealt = [Contact.objects.filter(pk__in=[c.pk for c in alone], owner=person).count() for person in team3.people[:2]]
    assert dealt == [2, 2]
    assert preview["recipients"] == result["recipients"]


@pytest.mark.parametrize("wrong", ["inactive", "same", "twice", "empty", "both", "not_a_number"])
def test_refuses_a_list_of_colleagues_naming_the_field(
    admin: User, desk: Desk, team3: Team3, make_user: Callable[..., User], wrong: str
) -> None:
    gone = make_user(name="已离职")
    User.objects.filter(pk=gone.pk).update(is_active=False)
    kwargs: dict[str, Any] = {
        "inactive": {"recipients": [team3.ids[0], gone.pk]},
        "same": {"recipients": [team3.ids[0], desk.departing.pk]},
        "twice": {"recipients": [team3.ids[0], team3.ids[1], team3.ids[0]]},
        "empty": {"recipients": []},
        "both": {"recipient": team3.ids[0], "recipients": team3.ids[1:]},
        "not_a_number": {"recipients": [team3.ids[0], "张伟"]},
    }[wrong]
    with pytest.raises(FieldErrors) as refused:
        handover(pk=desk.departing.pk, user=admin, **kwargs)
    assert list(refused.value.errors) == ["recipients"], refused.value.errors
    message = refused.value.errors["recipients"][0]
    if wrong in ("inactive", "twice"):
        assert str(gone.pk if wrong == "inactive" else team3.ids[0]) in message
    assert owned(desk.departing) == (3, 2)


def test_an_empty_list_is_enough_when_everything_goes_to_the_pool(
    admin: User, rep: User, make_account: Callable[..., Account]
) -> None:
    make_account(name="北京示例科技", by=rep)
    result = handover(pk=rep.pk, user=admin, recipients=[], to_pool=True, reason="客户暂无预算")
    assert isinstance(result, dict) and result["changed"] == 1 and result["recipients"] == {}


def test_a_large_handover_shares_out_in_a_resumable_job(
    admin: User,
    rep: User,
    team3: Team3,
    make_account: Callable[..., Account],
    make_contact: Callable[..., Contact],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Chunks of two; the job is stopped after its second chunk and resumed: the deal goes on where it
    stopped (the turn is in the checkpoint), so the split is as even as in one go."""
    from guanxi.core.jobs import job_run

    monkeypatch.setattr(bulk, "SYNC_LIMIT", 2)
    monkeypatch.setattr(bulk, "CHUNK", 2)
    companies = [make_account(name=f"宁波港口物流{i}号", by=rep) for i in range(7)]
    people = [
        make_contact(by=rep, family_name="林", given_name=f"{i}", accounts=[{"account": c.pk, "role": "采购"}])
        for i, c in enumerate(companies[:3])
    ]
    alone = [make_contact(by=rep, family_name="何", given_name=f"{i}") for i in range(5)]
    job = handover(pk=rep.pk, user=admin, recipients=team3.ids)
    assert isinstance(job, Job) and job.params["recipients"] == team3.ids

    real_apply = handover_module.Dealer.apply
    chunks = iter(range(100))

    def stop_after_two(self: Any, step: Any, ids: list[Any], *, all_or_nothing: bool) -> dict[str, Any]:
        if next(chunks) == 2:
            raise RuntimeError("the worker stopped")
        return real_apply(self, step, ids, all_or_nothing=all_or_nothing)

    monkeypatch.setattr(handover_module.Dealer, "apply", stop_after_two)
    job = job_run(job.pk)
    assert job.status == "failed"
    assert job.checkpoint["turn"] == 4 and job.checkpoint["last"] == companies[3].pk
    monkeypatch.setattr(handover_module.Dealer, "apply", real_apply)
    Job.objects.filter(pk=job.pk).update(status="running")
    job = job_run(job.pk)

    assert job.status == "succeeded", (job.error, job.result)
    assert owned(rep) == (0, 0)
    owners = list(
        Account.objects.filter(pk__in=[a.pk for a in companies]).order_by("pk").values_list("owner", flat=True)
    )
    assert owners == [team3.ids[i % 3] for i in range(7)]
    for contact in people:
        assert (
            Contact.objects.get(pk=contact.pk).owner_id
            == Account.objects.get(pk=contact.account_links.get().account_id).owner_id
        )
    dealt = [Contact.objects.filter(pk__in=[c.pk for c in alone], owner=pk).count() for pk in team3.ids]
    assert sum(dealt) == 5 and spread(dealt) <= 1
    expected = {
        str(pk): {"accounts": owners.count(pk), "contacts": Contact.objects.filter(owner_id=pk).count()}
        for pk in team3.ids
    }
    assert job.result["recipients"] == expected
    logged = ChangeLogEntry.objects.filter(content_type__model="user", object_id=rep.pk, changes__has_key="handover")
    assert logged.count() == 1 and logged.get().changes["handover"][1]["recipients"] == expected
    # The job's page says how many each colleague took over, not only the totals.
    page = client_for(admin).get(reverse("ui:job-detail", args=[job.pk])).content.decode()
    for person in team3.people:
        got = expected[str(person.pk)]
        assert f'data-result="{person}">Accounts {got["accounts"]} · Contacts {got["contacts"]}<' in page


def test_a_job_queued_with_one_recipient_before_still_runs(
    admin: User, desk: Desk, successor: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job's parameters from before several colleagues could share the records out: ``recipient`` only."""
    from guanxi.core.jobs import job_run, job_start

    params = {"user": desk.departing.pk, "recipient": successor.pk, "to_pool": False, "reason": "", "deactivate": False}
    job = job_start(kind="handover", user=admin, object_type="identity.user", params=params, enqueue=False)
    job = job_run(job.pk)
    assert job.status == "succeeded", job.error
    assert owned(successor) == (3, 2) and owned(desk.departing) == (0, 0)


def test_the_api_takes_a_list_of_colleagues_and_previews(admin: User, desk: Desk, team3: Team3) -> None:
    url = f"users/{desk.departing.pk}/handover"
    refused = Api(admin).post(url, {"recipients": [team3.ids[0], team3.ids[0]]})
    assert refused.status_code == 400 and [e["field"] for e in refused.json_body["errors"]] == ["recipients"]

    preview = Api(admin).post(url, {"recipients": team3.ids[:2], "preview": True})
    assert preview.status_code == 200, preview.json_body
    assert preview.json_body["total"] == 5 and owned(desk.departing) == (3, 2)
    # 0号 (with 王总) to the first, 1号 to the second, 2号 to the first; 赵工, at no company, to the second.
    first, second = (str(pk) for pk in team3.ids[:2])
    assert preview.json_body["recipients"] == {
        first: {"accounts": 2, "contacts": 1},
        second: {"accounts": 1, "contacts": 1},
    }

    done = Api(admin).post(url, {"recipients": team3.ids[:2]})
    assert done.status_code == 200, done.json_body
    assert done.json_body["recipients"] == preview.json_body["recipients"]
    assert done.json_body["handover"]["recipients"] == team3.ids[:2]
    assert owned(team3.people[0]) == (2, 1) and owned(team3.people[1]) == (1, 1)


def test_the_page_previews_the_split_and_hands_over_to_several(admin: User, desk: Desk, team3: Team3) -> None:
    client = client_for(admin)
    url = reverse("ui:users-handover", args=[desk.departing.pk])
    assert 'id="handover-preview"' in client.get(url).content.decode()

    preview = client.post(url, {"recipients": team3.ids, "preview": "1"})
    assert preview.status_code == 200
    html = preview.content.decode()
    assert 'id="handover-split"' in html and owned(desk.departing) == (3, 2)
    for person in team3.people:
        assert f'data-recipient="{person.pk}"' in html and person.display_name in html
    # Each colleague is still chosen in the picker, to confirm with 交接客户.
    assert html.count('name="recipients" value=') == 3

    twice = client.post(url, {"recipients": [team3.ids[0], desk.departing.pk]})
    assert twice.status_code == 400 and "Choose someone else" in twice.content.decode()

    done = client.post(url, {"recipients": team3.ids}, follow=True)
    assert done.redirect_chain[-1] == (url, 302)
    text = done.content.decode()
    assert "Accounts handed over: 3." in text
    for person in team3.people:
        assert f"{person.display_name} takes over " in text
    assert [owned(person)[0] for person in team3.people] == [1, 1, 1]


def test_sharing_out_costs_per_record_what_one_colleague_costs(
    admin: User,
    make_user: Callable[..., User],
    team3: Team3,
    sales_role: Role,
    team_east: Team,
    make_account: Callable[..., Account],
    make_contact: Callable[..., Contact],
) -> None:
    """The deal reads a few rows per resource and colleague, never per record: twice the records cost
    the same extra queries whether one colleague takes them or three share them."""

    def departing(n: int) -> User:
        person = make_user(role=sales_role, team=team_east)
        for i in range(n):
            company = make_account(name=f"测试公司{person.pk}-{i}", by=person)
            make_contact(by=person, given_name=f"{i}", accounts=[{"account": company.pk, "role": "采购"}])
            make_contact(by=person, given_name=f"独{i}")
        return person

    def queries(n: int, recipients: list[int]) -> int:
        source = departing(n)
        with CaptureQueriesContext(connection) as captured:
            handover(pk=source.pk, user=admin, recipients=recipients)
        assert owned(source) == (0, 0)
        return len(captured)

    queries(2, team3.ids)  # caches and translations warm
    one = queries(6, team3.ids[:1]) - queries(3, team3.ids[:1])
    three = queries(6, team3.ids) - queries(3, team3.ids)
    assert three <= one, (one, three)
    # And the preview reads the same whatever the number of records.
    small, large = departing(2), departing(8)
    counted = []
    for source in (small, large):
        with CaptureQueriesContext(connection) as captured:
            handover(pk=source.pk, user=admin, recipients=team3.ids, preview=True)
        counted.append(len(captured))
    assert counted[0] == counted[1], counted
