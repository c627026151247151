"""Merging contacts and accounts: chosen values, every related row moved, audit, permissions, undo."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import models

from guanxi.core.errors import Conflict, FieldErrors, NotFound, PermissionDenied
from guanxi.core.merge import movers_for, row_data
from guanxi.core.models import Attachment, ChangeLogEntry, Note, TaggedItem, TimelineEntry
from guanxi.core.services import record_purge, record_update
from guanxi.customers import services
from guanxi.customers.duplicates import duplicates_detect
from guanxi.customers.models import (
    Account,
    AccountContact,
    Contact,
    ContactPoint,
    DuplicateCandidate,
    Merge,
)
from guanxi.identity.models import Share
from tests.factories import attach, note, share, tag, timeline_entry

pytestmark = pytest.mark.django_db

MERGE_KINDS = ("merged", "merge_undone")


def ct(model: type[models.Model]) -> ContentType:
    return ContentType.objects.get_for_model(model, for_concrete_model=False)


def related_rows(model: type[models.Model]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table a merge of ``model`` records touches (not the merge's own new entries)."""
    generic = {"tags": TaggedItem, "notes": Note, "files": Attachment, "timeline": TimelineEntry, "shares": Share}
    out: dict[str, list[tuple[Any, ...]]] = {}
    for name, table in generic.items():
        qs = table._base_manager.filter(content_type=ct(model))
        if table is TimelineEntry:
            qs = qs.exclude(kind__in=MERGE_KINDS)
        out[name] = sorted(tuple(sorted(row_data(o).items())) for o in qs)
    for table in (ContactPoint, AccountContact, DuplicateCandidate):
        out[table.__name__] = sorted(tuple(sorted(row_data(o).items())) for o in table.objects.all())
    out["parents"] = sorted(Account.all_objects.values_list("pk", "parent_id"))
    return out


def counts(model: type[models.Model]) -> dict[str, int]:
    return {name: len(rows) for name, rows in related_rows(model).items()}


def pointing_at(model: type[models.Model], pks: list[int]) -> dict[str, int]:
    """Rows per mover that point at these records."""
    return {m.key: m.count(model, pks) for m in movers_for(model) if m.count is not None}


@pytest.fixture
def world(
    admin: Any,
    rep: Any,
    make_account: Callable[..., Account],
    make_contact: Callable[..., Contact],
) -> dict[str, Any]:
    """Three 张三 at 阿里巴巴 with everything that can hang on a contact, distinct so no row is dropped."""
    ali = make_account(name="阿里巴巴")
    other = make_account(name="腾讯")
    third = make_account(name="华为")
    a = make_contact(
        family_name="张", given_name="三", title="", emails=["zs@ali.com"], phones=["13800138000"],
        accounts=[{"account": ali.pk, "role": "采购经理", "is_primary": True}],
    )  # fmt: skip
    b = make_contact(
        family_name="Zhang", given_name="San", title="CTO", department="IT", emails=["zhang.san@gmail.com"],
        phones=["13900139000"], accounts=[{"account": other.pk, "role": "顾问", "is_primary": True}],
    )  # fmt: skip
    c = make_contact(
        family_name="張", given_name="三", wechat_id="zs_wx", emails=["zs@qq.com"],
        accounts=[{"account": third.pk, "role": "董事"}],
    )  # fmt: skip
    for i, contact in enumerate((a, b, c)):
        tag(contact, f"tag-{i}")
        note(contact, owner=admin, body=f"note {i}")
        attach(contact, name=f"file{i}.txt")
        timeline_entry(contact, actor=admin, summary=f"call {i}")
        share(contact, user=rep, access="view" if i else "change")
    for low, high in ((a, b), (a, c), (b, c)):
        DuplicateCandidate.objects.create(
            record_type="contact",
            low_id=low.pk,
            high_id=high.pk,
            score=100,
            reasons=[{"kind": "name", "similarity": 100}],
        )
    return {"a": a, "b": b, "c": c, "ali": ali, "other": other, "third": third}


# --- contacts -----------------------------------------------------------------------------------------


def test_merge_moves_every_related_row_and_undo_restores_exactly(world: dict[str, Any], admin: Any) -> None:
    a, b = world["a"], world["b"]
    before = related_rows(Contact)
    pointing_before = pointing_at(Contact, [a.pk, b.pk])
    merge = services.contact_merge(survivor=a.pk, others=[b.pk], user=admin, fields={"title": b.pk})

    after = counts(Contact)
    assert {k: v for k, v in after.items() if k != "DuplicateCandidate"} == {
        k: len(v) for k, v in before.items() if k != "DuplicateCandidate"
    }
    pointing_after = pointing_at(Contact, [a.pk])
    # nothing is left on the merged contact but the timeline entry saying where it went
    assert pointing_at(Contact, [b.pk]) == {**dict.fromkeys(pointing_after, 0), "core.timelineentry": 1}
    # ... and the survivor has everything, plus the timeline entry of the merge
    assert pointing_after == {**pointing_before, "core.timelineentry": pointing_before["core.timelineentry"] + 1}
    for table in (TaggedItem, Note, Attachment, Share):
        assert not table._base_manager.filter(content_type=ct(Contact), object_id=b.pk).exists()
    assert set(AccountContact.objects.filter(contact=a).values_list("account_id", flat=True)) == {
        world["ali"].pk,
        world["other"].pk,
    }
    assert AccountContact.objects.get(contact=a, is_primary=True).account_id == world["ali"].pk

    a.refresh_from_db()
    assert a.title == "CTO" and a.department == "IT"  # chosen, and a blank filled from the other
    assert [p["value"] for p in a.emails] == ["zs@ali.com", "zhang.san@gmail.com"]
    assert [p["is_primary"] for p in a.emails] == [True, False]
    assert set(ContactPoint.objects.filter(contact=a).values_list("value", flat=True)) == {
        "zs@ali.com", "zhang.san@gmail.com", "+8613800138000", "+8613900139000",
    }  # fmt: skip
    loser = Contact.all_objects.get(pk=b.pk)
    assert loser.deleted_at is not None
    assert DuplicateCandidate.objects.get(low_id=a.pk, high_id=b.pk).status == "merged"

    services.merge_undo(merge_id=merge.pk, user=admin)
    assert related_rows(Contact) == before
    a.refresh_from_db()
    assert a.title == "" and a.department == "" and [p["value"] for p in a.emails] == ["zs@ali.com"]
    assert Contact.objects.filter(pk=b.pk).exists()
    merge.refresh_from_db()
    assert merge.status == "undone" and merge.undone_by == admin


def test_three_way_merge(world: dict[str, Any], admin: Any) -> None:
    a, b, c = world["a"], world["b"], world["c"]
    before = related_rows(Contact)
    merge = services.contact_merge(
        survivor=c.pk, others=[a.pk, b.pk], user=admin, fields={"family_name": a.pk, "given_name": a.pk}
    )
    c.refresh_from_db()
    assert c.display_name == "张三" and c.wechat_id == "zs_wx" and c.title == "CTO"
    assert len(c.emails) == 3 and len(c.phones) == 2
    assert AccountContact.objects.filter(contact=c).count() == 3
    assert AccountContact.objects.filter(contact=c, is_primary=True).count() == 1
    assert TaggedItem.objects.filter(content_type=ct(Contact), object_id=c.pk).count() == 3
    assert set(Contact.all_objects.filter(pk__in=[a.pk, b.pk]).values_list("deleted_at", flat=True)) != {None}
    assert DuplicateCandidate.objects.filter(status="merged").count() == 3
    services.merge_undo(merge_id=merge.pk, user=admin)
    assert related_rows(Contact) == before


def test_merge_drops_twins_and_undo_puts_them_back(
    admin: Any, make_account: Callable[..., Account], make_contact: Callable[..., Contact]
) -> None:
    ali = make_account(name="阿里巴巴")
    a = make_contact(emails=["same@x.com"], accounts=[{"account": ali.pk, "role": "A", "is_primary": True}])
    b = make_contact(emails=["same@x.com", "b@x.com"], accounts=[{"account": ali.pk, "role": "B", "is_primary": True}])
    tag(a, "vip")
    tag(b, "vip")
    before = related_rows(Contact)
    merge = services.contact_merge(survivor=a.pk, others=[b.pk], user=admin)
    assert AccountContact.objects.filter(account=ali).count() == 1
    assert ContactPoint.objects.filter(value="same@x.com").count() == 1
    assert TaggedItem.objects.filter(content_type=ct(Contact)).count() == 1
    a.refresh_from_db()
    assert [p["value"] for p in a.emails] == ["same@x.com", "b@x.com"]
    services.merge_undo(merge_id=merge.pk, user=admin)
    assert related_rows(Contact) == before


def test_merge_is_audited_and_on_the_timeline(world: dict[str, Any], admin: Any) -> None:
    a, b = world["a"], world["b"]
    merge = services.contact_merge(survivor=a.pk, others=[b.pk], user=admin, fields={"title": b.pk})
    survivor_log = ChangeLogEntry.objects.get(content_type=ct(Contact), object_id=a.pk, action="merge")
    assert survivor_log.changes["title"] == ["", "CTO"]
    assert survivor_log.changes["merged"] == [None, [b.pk]]
    assert survivor_log.changes["tags"] == [["tag-0"], ["tag-0", "tag-1"]]
    loser_log = ChangeLogEntry.objects.get(content_type=ct(Contact), object_id=b.pk, action="merge")
    assert loser_log.changes["merged_into"] == [None, a.pk]
    entry = TimelineEntry.objects.get(content_type=ct(Contact), object_id=a.pk, kind="merged")
    assert entry.data["merge_id"] == merge.pk and "San Zhang" in entry.summary
    services.merge_undo(merge_id=merge.pk, user=admin)
    assert ChangeLogEntry.objects.filter(object_id__in=[a.pk, b.pk], action="unmerge").count() == 2
    assert TimelineEntry.objects.filter(content_type=ct(Contact), object_id=a.pk, kind="merge_undone").exists()


def test_bad_choices_name_the_field(world: dict[str, Any], admin: Any, unchanged: Any) -> None:
    a, b, c = world["a"], world["b"], world["c"]
    with unchanged("unknown field"), pytest.raises(FieldErrors) as exc:
        services.contact_merge(survivor=a.pk, others=[b.pk], user=admin, fields={"salary": b.pk})
    assert set(exc.value.errors) == {"fields.salary"}
    with unchanged("not in the merge"), pytest.raises(FieldErrors) as exc:
        services.contact_merge(survivor=a.pk, others=[b.pk], user=admin, fields={"title": c.pk})
    assert set(exc.value.errors) == {"fields.title"}
    with unchanged("survivor among the others"), pytest.raises(FieldErrors) as exc:
        services.contact_merge(survivor=a.pk, others=[a.pk], user=admin)
    assert set(exc.value.errors) == {"others"}
    with unchanged("too many"), pytest.raises(FieldErrors):
        services.contact_merge(survivor=a.pk, others=[b.pk, c.pk, c.pk + 1000], user=admin)


# --- permissions --------------------------------------------------------------------------------------


def test_permission_refusals_write_nothing(
    rep: Any, other_rep: Any, make_contact: Callable[..., Contact], unchanged: Any
) -> None:
    mine = make_contact(by=rep, emails=["m@x.com"])
    mine_too = make_contact(by=rep, family_name="李")
    theirs = make_contact(by=other_rep, family_name="王")
    with unchanged("other not visible"), pytest.raises(NotFound):
        services.contact_merge(survivor=mine.pk, others=[theirs.pk], user=rep)
    with unchanged("survivor not visible"), pytest.raises(NotFound):
        services.contact_merge(survivor=theirs.pk, others=[mine.pk], user=rep)
    share(theirs, user=rep, access="change")
    with unchanged("may change but not delete the other"), pytest.raises(PermissionDenied):
        services.contact_merge(survivor=mine.pk, others=[theirs.pk], user=rep)
    services.contact_merge(survivor=theirs.pk, others=[mine.pk, mine_too.pk], user=rep)  # change + delete: fine


def test_view_share_is_not_enough_to_keep_a_record(
    rep: Any, other_rep: Any, make_contact: Callable[..., Contact], unchanged: Any
) -> None:
    mine = make_contact(by=rep)
    theirs = make_contact(by=other_rep, family_name="王")
    share(theirs, user=rep, access="view")
    with unchanged("view-only survivor"), pytest.raises(PermissionDenied):
        services.contact_merge(survivor=theirs.pk, others=[mine.pk], user=rep)


def test_frozen_fields_cannot_be_taken_from_another_record(
    rep: Any, make_contact: Callable[..., Contact], unchanged: Any
) -> None:
    from guanxi.core.permissions import forget
    from tests.factories import field_rule

    a = make_contact(by=rep, title="")
    b = make_contact(by=rep, title="CEO")
    field_rule(rep.role, "customers.contact", "title", "readonly")
    forget(rep)
    with unchanged("frozen"), pytest.raises(FieldErrors) as exc:
        services.contact_merge(survivor=a.pk, others=[b.pk], user=rep, fields={"title": b.pk})
    assert set(exc.value.errors) == {"fields.title"}
    services.contact_merge(survivor=a.pk, others=[b.pk], user=rep)
    a.refresh_from_db()
    assert a.title == ""  # not filled in from the other either


# --- undo refusals ------------------------------------------------------------------------------------


def test_undo_refused_when_a_merged_record_was_purged(world: dict[str, Any], admin: Any, unchanged: Any) -> None:
    merge = services.contact_merge(survivor=world["a"].pk, others=[world["b"].pk], user=admin)
    record_purge(model=Contact, pk=world["b"].pk, user=admin)
    with unchanged("purged"), pytest.raises(Conflict) as exc:
        services.merge_undo(merge_id=merge.pk, user=admin)
    assert "purged" in str(exc.value.detail)


def test_undo_refused_while_a_later_merge_involves_the_survivor(world: dict[str, Any], admin: Any) -> None:
    first = services.contact_merge(survivor=world["a"].pk, others=[world["b"].pk], user=admin)
    second = services.contact_merge(survivor=world["a"].pk, others=[world["c"].pk], user=admin)
    with pytest.raises(Conflict) as exc:
        services.merge_undo(merge_id=first.pk, user=admin)
    assert f"#{second.pk}" in str(exc.value.detail)
    services.merge_undo(merge_id=second.pk, user=admin)
    services.merge_undo(merge_id=first.pk, user=admin)
    with pytest.raises(Conflict):
        services.merge_undo(merge_id=first.pk, user=admin)


def test_undo_refused_after_the_survivor_changed(world: dict[str, Any], admin: Any, unchanged: Any) -> None:
    merge = services.contact_merge(survivor=world["a"].pk, others=[world["b"].pk], user=admin)
    record_update(model=Contact, pk=world["a"].pk, user=admin, data={"title": "Boss"})
    with unchanged("changed since"), pytest.raises(Conflict) as exc:
        services.merge_undo(merge_id=merge.pk, user=admin)
    assert "changed after the merge" in str(exc.value.detail)


def test_undo_needs_the_same_permissions(
    rep: Any, other_rep: Any, make_contact: Callable[..., Contact], admin: Any, unchanged: Any
) -> None:
    a = make_contact(by=rep)
    b = make_contact(by=rep, family_name="李")
    merge = services.contact_merge(survivor=a.pk, others=[b.pk], user=rep)
    with unchanged("invisible"), pytest.raises(NotFound):
        services.merge_undo(merge_id=merge.pk, user=other_rep)
    services.merge_undo(merge_id=merge.pk, user=rep)


# --- accounts -----------------------------------------------------------------------------------------


def test_account_merge_moves_contacts_children_and_notes(
    admin: Any, make_account: Callable[..., Account], make_contact: Callable[..., Contact]
) -> None:
    keep = make_account(name="阿里巴巴", industry="")
    gone = make_account(name="阿里巴巴（中国）有限公司", industry="internet", website="alibaba.com")
    child = make_account(name="蚂蚁金服", parent_id=gone.pk)
    both = make_contact(accounts=[{"account": gone.pk, "is_primary": True}])
    AccountContact.objects.create(account=keep, contact=both)
    only_gone = make_contact(family_name="李", accounts=[{"account": gone.pk}])
    note(gone, owner=admin)
    tag(gone, "vip")
    duplicates_detect(Account, [keep.pk, gone.pk])
    before = related_rows(Account)

    merge = services.account_merge(survivor=keep.pk, others=[gone.pk], user=admin, fields={"name": gone.pk})
    keep.refresh_from_db()
    assert keep.name == "阿里巴巴（中国）有限公司" and keep.industry == "internet"
    assert keep.website == "https://alibaba.com"
    child.refresh_from_db()
    assert child.parent_id == keep.pk
    assert set(AccountContact.objects.filter(account=keep).values_list("contact_id", flat=True)) == {
        both.pk,
        only_gone.pk,
    }
    assert AccountContact.objects.get(contact=both).is_primary  # the dropped link was the primary one
    assert Note.objects.filter(object_id=keep.pk, content_type=ct(Account)).count() == 1
    assert Merge.objects.get().record_type == "account"

    services.merge_undo(merge_id=merge.pk, user=admin)
    assert related_rows(Account) == before
    keep.refresh_from_db()
    assert keep.name == "阿里巴巴" and keep.industry == ""


def test_the_merged_companys_people_go_to_its_owner_and_back_on_undo(
    admin: Any, rep: Any, other_rep: Any, make_account: Callable[..., Account], make_contact: Callable[..., Contact]
) -> None:
    """As when an account changes hands: the people its previous owners held go along, so a rep who
    sees only their own records gets the merged company's people too; undo gives them back."""
    keep = make_account(name="阿里巴巴", owner_id=rep.pk, team_id=rep.team_id)
    gone = make_account(name="阿里巴巴（中国）有限公司", owner_id=other_rep.pk, team_id=other_rep.team_id)
    buyer = make_contact(family_name="王", owner_id=other_rep.pk, accounts=[{"account": gone.pk, "is_primary": True}])
    engineer = make_contact(
        family_name="赵", owner_id=other_rep.pk, accounts=[{"account": gone.pk, "is_primary": True}]
    )
    third = make_account(name="蚂蚁集团", owner_id=other_rep.pk)
    elsewhere = make_contact(
        family_name="钱",
        owner_id=other_rep.pk,
        accounts=[{"account": third.pk, "is_primary": True}, {"account": gone.pk}],
    )
    admins = make_contact(family_name="孙", owner_id=admin.pk, accounts=[{"account": gone.pk, "is_primary": True}])
    mine = make_contact(family_name="李", owner_id=rep.pk, accounts=[{"account": keep.pk, "is_primary": True}])

    def owners() -> dict[str, tuple[int, int | None]]:
        rows = Contact.objects.filter(pk__in=[buyer.pk, engineer.pk, elsewhere.pk, admins.pk, mine.pk])
        return {c.family_name: (c.owner_id, c.team_id) for c in rows}

    before = owners()
    merge = services.account_merge(survivor=keep.pk, others=[gone.pk], user=admin)
    after = owners()
    assert after["王"] == after["赵"] == (rep.pk, rep.team_id)
    assert after["钱"] == before["钱"]  # their primary company is another one
    assert after["孙"] == before["孙"]  # held by someone else than the merged companies' owners
    assert after["李"] == before["李"]
    entry = TimelineEntry.objects.get(object_id=keep.pk, content_type=ct(Account), kind="merged")
    assert entry.summary.endswith("; 2 contacts of the account went along")
    assert ChangeLogEntry.objects.filter(object_id=buyer.pk, action="update").exists()

    # A contact changed after the merge keeps its new owner on undo; the others go back.
    record_update(model=Contact, pk=engineer.pk, user=admin, data={"title": "总工程师"})
    services.merge_undo(merge_id=merge.pk, user=admin)
    undone = owners()
    assert undone["王"] == before["王"] and undone["赵"] == (rep.pk, rep.team_id)

    # Taking the merged record's owner moves the survivor's people to that owner instead.
    merge = services.account_merge(survivor=keep.pk, others=[gone.pk], user=admin, fields={"owner": gone.pk})
    assert owners()["李"] == (other_rep.pk, rep.team_id)  # the team stays the survivor's: not chosen
    assert owners()["王"] == before["王"]


def test_a_merged_account_that_was_the_survivors_parent(admin: Any, make_account: Callable[..., Account]) -> None:
    group = make_account(name="阿里巴巴集团")
    keep = make_account(name="阿里巴巴", parent_id=group.pk)
    merge = services.account_merge(survivor=keep.pk, others=[group.pk], user=admin)
    keep.refresh_from_db()
    assert keep.parent_id is None
    services.merge_undo(merge_id=merge.pk, user=admin)
    keep.refresh_from_db()
    assert keep.parent_id == group.pk


# --- API ----------------------------------------------------------------------------------------------


def test_merge_and_undo_through_the_api(world: dict[str, Any], admin_api: Any) -> None:
    a, b = world["a"], world["b"]
    body = {"type": "contacts", "survivor": a.pk, "others": [b.pk], "fields": {"title": b.pk}}
    response = admin_api.post("duplicates/merge", body)
    assert response.status_code == 201, response.json_body
    merge = response.json_body
    assert merge["survivor"]["id"] == a.pk and merge["others"] == [{"id": b.pk, "display": "San Zhang"}]
    assert merge["can_undo"] is True and merge["fields"]["title"] == b.pk
    assert admin_api.get(f"contacts/{b.pk}").status_code == 404
    detail = admin_api.get(f"duplicates/merges/{merge['id']}")
    assert detail.status_code == 200 and detail.json_body["status"] == "done"
    undone = admin_api.post(f"duplicates/merges/{merge['id']}/undo")
    assert undone.status_code == 200 and undone.json_body["status"] == "undone"
    assert undone.json_body["can_undo"] is False
    again = admin_api.post(f"duplicates/merges/{merge['id']}/undo")
    assert again.status_code == 409 and "already been undone" in again.json_body["detail"]


def test_api_merge_refusals(
    rep: Any, other_rep: Any, make_contact: Callable[..., Contact], api_for: Callable[..., Any], unchanged: Any
) -> None:
    mine = make_contact(by=rep)
    theirs = make_contact(by=other_rep, family_name="王")
    api = api_for(rep)
    with unchanged("invisible"):
        response = api.post("duplicates/merge", {"type": "contacts", "survivor": mine.pk, "others": [theirs.pk]})
        assert response.status_code == 404
    with unchanged("bad type"):
        response = api.post("duplicates/merge", {"type": "leads", "survivor": mine.pk, "others": [theirs.pk]})
        assert response.status_code == 400
    with unchanged("unknown key"):
        body = {"type": "contacts", "survivor": mine.pk, "others": [theirs.pk], "extra": 1}
        assert api.post("duplicates/merge", body).status_code == 400


def test_the_merge_page_says_what_hangs_on_each_record(world: dict[str, Any], admin: Any) -> None:
    """Under each record, what the merge will keep of it (its notes, files, timeline, tags), read
    in a fixed number of queries; nothing that would tell of other records (links, relations)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    a, b = world["a"], world["b"]
    note(a, owner=admin, body="second note")
    client = Client()
    client.force_login(admin)
    url = reverse("ui:duplicates-merge") + f"?type=contacts&ids={a.pk},{b.pk}"
    with CaptureQueriesContext(connection) as two:
        page = client.get(url).content.decode()
    first = page[page.index(f'data-attached="{a.pk}"') :].split("</div>")[0]
    assert "notes 2" in first and "files 1" in first and "tags 1" in first and "timeline entries" in first
    assert "shares" not in first and "followers" not in first
    three = url.replace(f"{b.pk}", f"{b.pk},{world['c'].pk}")
    with CaptureQueriesContext(connection) as more:
        client.get(three)
    assert len(more) - len(two) <= 8  # one count a kind of row for the third record, whatever its rows
