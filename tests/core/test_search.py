"""Global search on the engine under test (SQLite or PostgreSQL): what is found, in which order, by whom.

Records are written through the services, so these tests also prove the services keep the index
current inside their transactions (create, update, links, delete, restore, purge, account renames).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from guanxi.core import services as core_services
from guanxi.core.errors import FieldErrors
from guanxi.core.search import (
    Document,
    index_size,
    register_search_type,
    search,
    search_grouped,
    search_rebuild,
    search_reindex,
    search_remove,
    unregister_search_type,
)
from guanxi.core.search.backends import backend
from guanxi.core.search.engine import id_range
from guanxi.core.search.text import parse_query
from guanxi.customers import services
from guanxi.customers.models import Account, Contact
from tests.factories import AdminFactory, GadgetFactory, RoleFactory, UserFactory, field_rule, grant, share
from tests.testapp.models import Gadget

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin() -> Any:
    return AdminFactory(email="boss@example.com")


def contact(user: Any, family: str, given: str, **kwargs: Any) -> Contact:
    return services.contact_create(user=user, data={"family_name": family, "given_name": given}, **kwargs)


def ids(hits: list[Any], kind: str = "contacts") -> list[int]:
    return [hit.id for hit in hits if hit.type == kind]


# --- what is found --------------------------------------------------------------------------------------


@pytest.fixture
def zhang(admin: Any) -> Contact:
    acme = services.account_create(user=admin, data={"name": "阿里巴巴网络技术有限公司"})
    return contact(
        admin,
        "张",
        "三",
        emails=["zhang.san@acme-example.com"],
        phones=["138 0013 8000"],
        accounts=[{"account": acme.pk, "role": "采购经理"}],
    )


@pytest.fixture
def noise(admin: Any) -> list[Contact]:
    return [
        contact(admin, "李", "四", emails=["li.si@example.com"], phones=["13912345678"]),
        contact(admin, "Smith", "John", emails=["john@smith.example"], phones=["+1 202 555 0123"]),
        contact(admin, "王", "五", phones=["13700001111"]),
    ]


@pytest.mark.parametrize(
    "q",
    [
        "张三",
        "张",
        "zhangsan",
        "zhang san",
        "zhangs",
        "zs",
        "ZS",
        "zhang.san@acme-example.com",
        "zhang.san",
        "acme-example.com",
        "13800138000",
        "+86 138 0013 8000",
        "8000",
        "38000",
        "阿里巴巴",
        "alibaba",
        "网络",
    ],
)
def test_finds_a_chinese_contact_by(q: str, admin: Any, zhang: Contact, noise: list[Contact]) -> None:
    hits = search(admin, q, types=["contacts"])
    assert ids(hits) and ids(hits)[0] == zhang.pk, (q, [(h.title, h.rank) for h in hits])
    assert not {n.pk for n in noise} & set(ids(hits)), q


def test_the_hit_reads_like_a_result(admin: Any, zhang: Contact) -> None:
    (hit,) = search(admin, "zs", types="contacts")
    assert hit.as_dict() == {
        "type": "contacts",
        "id": zhang.pk,
        "title": "张三",
        "subtitle": "阿里巴巴网络技术有限公司 · +86 138 0013 8000",
        "url": f"/customers/contacts/{zhang.pk}/",
    }


@pytest.mark.parametrize("q", ["8000", "zhang.san@acme-example.com", "zs", "张三"])
def test_a_rare_term_is_one_index_lookup(
    q: str, admin: Any, zhang: Contact, noise: list[Contact], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fewer matches than a batch in the broadest tier are every match: the narrower tiers (whole
    tokens) are not asked for again, and ``rank`` still puts the best first. A query that may be a
    name asks its whole-name keys first (``test_a_common_name_is_its_keys_alone``)."""
    engine, asked = backend(), []
    lookup = engine.candidates

    def counted(query: Any, columns: Any, mode: str, lo: int, *args: Any, **kwargs: Any) -> Any:
        asked.append((lo, mode))
        return lookup(query, columns, mode, lo, *args, **kwargs)

    monkeypatch.setattr(engine, "candidates", counted)
    hits = search(admin, q, types=["contacts"])
    assert ids(hits)[0] == zhang.pk
    low = id_range(Contact)[0]  # the contacts' own lookups; their accounts' names are searched after
    broadest = "prefix" if q != "张三" else "exact"
    name = q in ("zs", "张三")
    assert [mode for lo, mode in asked if lo == low] == (["key", broadest] if name else [broadest])


def test_a_common_name_is_its_keys_alone(admin: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A name that fills the page with people of that very name is not asked as a word: "王伟" is a
    word of every 王伟X, several times as many documents to read."""
    monkeypatch.setattr("guanxi.core.search.engine.FIRST_BATCH", 4)
    named = [contact(admin, "王", "伟") for _ in range(4)]
    contact(admin, "王", "伟明")
    engine, asked = backend(), []
    lookup = engine.candidates

    def counted(query: Any, columns: Any, mode: str, lo: int, *args: Any, **kwargs: Any) -> Any:
        asked.append((lo, mode))
        return lookup(query, columns, mode, lo, *args, **kwargs)

    monkeypatch.setattr(engine, "candidates", counted)
    hits = search(admin, "王伟", types=["contacts"], limit=2)
    assert ids(hits) == [named[3].pk, named[2].pk]  # the newest of that name
    assert [mode for lo, mode in asked if lo == id_range(Contact)[0]] == ["key"]
    # With fewer of that name than a batch, the word is asked too: 王伟明 comes after them.
    asked.clear()
    hits = search(admin, "王伟", types=["contacts"], limit=8)
    assert len(ids(hits)) == 5 and ids(hits)[:4] == [c.pk for c in reversed(named)]
    assert [mode for lo, mode in asked if lo == id_range(Contact)[0]] == ["key", "exact"]


def test_western_names_and_accounts(admin: Any, noise: list[Contact]) -> None:
    account = services.account_create(user=admin, data={"name": "Acme Trading", "website": "www.acme.com"})
    assert ids(search(admin, "john smith")) == [noise[1].pk]
    assert ids(search(admin, "smi")) == [noise[1].pk]
    assert ids(search(admin, "acme.com"), "accounts") == [account.pk]
    assert ids(search(admin, "acme tr"), "accounts") == [account.pk]
    assert ids(search(admin, "0123")) == [noise[1].pk]  # +1 202 555 0123 ends with 0123


def test_polyphones_and_surnames(admin: Any) -> None:
    zeng = contact(admin, "曾", "小贤")
    chongqing = services.account_create(user=admin, data={"name": "重庆长安汽车"})
    assert ids(search(admin, "zengxiaoxian")) == [zeng.pk]
    assert ids(search(admin, "zxx")) == [zeng.pk]
    assert ids(search(admin, "chongqing"), "accounts") == [chongqing.pk]
    assert not ids(search(admin, "cxx"))  # 曾 as a family name is zeng only


def test_a_polyphone_in_a_given_name_is_found_by_each_reading(admin: Any) -> None:
    """长风 is read changfeng, though 长 alone is zhang first: both readings find the person, by the
    whole name, its initials and the given name alone; a name without one gains no token."""
    from guanxi.core.search.text import person_tokens

    sima = contact(admin, "司马", "长风")
    for query in ("simachangfeng", "smcf", "simazhangfeng", "smzf", "changfeng", "cf"):
        assert ids(search(admin, query)) == [sima.pk], query
    assert person_tokens("张", "三", "张三") == (("张三", "zhangsan", "zs"), ("zhang", "san", "张", "三"))
    # Only the name readings listed: 家 has rare readings of its own, and no variant.
    assert person_tokens("王", "家俊", "王家俊")[0] == ("王家俊", "wangjiajun", "wjj")
    assert "smzf" in person_tokens("司马", "长风", "司马长风")[0]


def test_exact_matches_rank_first(admin: Any) -> None:
    longer = contact(admin, "张", "三丰")
    by_initials = contact(admin, "赵", "四")  # zs too
    exact = contact(admin, "张", "三")
    hits = search(admin, "张三")
    assert ids(hits) == [exact.pk, longer.pk]
    hits = search(admin, "zs")
    assert ids(hits)[:2] == [exact.pk, by_initials.pk] and longer.pk not in ids(hits)[:2]
    assert ids(search(admin, "zhangsan")) == [exact.pk, longer.pk]


def test_company_name_ranks_after_own_name(admin: Any) -> None:
    huawei = services.account_create(user=admin, data={"name": "华为技术"})
    at_huawei = contact(admin, "李", "雷", accounts=[{"account": huawei.pk}])
    named = contact(admin, "华", "为")
    assert ids(search(admin, "华为")) == [named.pk, at_huawei.pk]
    assert search(admin, "华为")[0].rank < search(admin, "华为")[1].rank


# --- keeping the index current ------------------------------------------------------------------------------


def test_rename_reindexes(admin: Any, zhang: Contact) -> None:
    services.contact_update(user=admin, pk=zhang.pk, data={"family_name": "李"})
    assert ids(search(admin, "zhangsan")) == []
    assert ids(search(admin, "lisan")) == [zhang.pk]


def test_renaming_an_account_reindexes_its_contacts(admin: Any, zhang: Contact) -> None:
    account = zhang.accounts.get()
    services.account_update(user=admin, pk=account.pk, data={"name": "腾讯科技"})
    assert ids(search(admin, "alibaba")) == []
    assert ids(search(admin, "tengxun")) == [zhang.pk]
    assert ids(search(admin, "tengxun"), "accounts") == [account.pk]


def test_link_changes_reindex(admin: Any, zhang: Contact) -> None:
    other = services.account_create(user=admin, data={"name": "字节跳动"})
    services.contact_link_account(contact_id=zhang.pk, account_id=other.pk, user=admin)
    assert ids(search(admin, "字节")) == [zhang.pk]
    services.contact_unlink_account(contact_id=zhang.pk, account_id=other.pk, user=admin)
    assert ids(search(admin, "字节")) == []


def test_phone_and_email_changes_reindex(admin: Any, zhang: Contact) -> None:
    services.contact_update(user=admin, pk=zhang.pk, data={}, phones=["13911112222"], emails=[])
    assert ids(search(admin, "8000")) == []
    assert ids(search(admin, "2222")) == [zhang.pk]
    assert ids(search(admin, "zhang.san@acme-example.com")) == []


def test_binned_record_not_found_restored_found_again(admin: Any, zhang: Contact) -> None:
    core_services.record_delete(model=Contact, pk=zhang.pk, user=admin)
    assert search(admin, "zs") == []
    core_services.record_restore(model=Contact, pk=zhang.pk, user=admin)
    assert ids(search(admin, "zs")) == [zhang.pk]
    core_services.record_delete(model=Contact, pk=zhang.pk, user=admin)
    core_services.record_purge(model=Contact, pk=zhang.pk, user=admin)
    assert search(admin, "zs") == []


def test_binned_account_drops_out_of_its_contacts(admin: Any, zhang: Contact) -> None:
    account = zhang.accounts.get()
    core_services.record_delete(model=Account, pk=account.pk, user=admin)
    assert search(admin, "alibaba") == []
    core_services.record_restore(model=Account, pk=account.pk, user=admin)
    assert ids(search(admin, "alibaba")) == [zhang.pk]


def test_a_stale_entry_never_shows_a_binned_record(admin: Any, zhang: Contact) -> None:
    """Even if something binned a record behind the services' back, search checks it is live."""
    Contact.all_objects.filter(pk=zhang.pk).update(deleted_at="2026-01-01T00:00:00Z")
    assert search(admin, "zs") == []


def test_reindex_and_remove_in_bulk(admin: Any) -> None:
    people = [
        Contact.objects.create(family_name="欧阳", given_name=f"{i}号", display_name=f"欧阳{i}号") for i in range(30)
    ]
    assert search(admin, "ouyang") == []  # written behind the services' back: not indexed yet
    pks = [p.pk for p in people]
    assert search_reindex(Contact, pks) == 30
    assert len(search(admin, "ouyang", limit=50)) == 30
    Contact.all_objects.filter(pk__in=pks[:10]).update(deleted_at="2026-01-01T00:00:00Z")
    assert search_reindex(Contact, pks) == 20  # binned rows leave the index
    assert index_size("contacts") == 20
    assert search_remove(Contact, pks) == 30
    assert index_size("contacts") == 0
    assert search_rebuild("contacts") == 20
    assert len(search(admin, "ouyang", limit=50)) == 20


# --- who sees what ------------------------------------------------------------------------------------


def test_a_rep_never_finds_another_reps_contact(rep: Any, other_rep: Any) -> None:
    mine = contact(rep, "张", "三", phones=["13800138000"])
    theirs = contact(other_rep, "张", "三", phones=["13800138001"])
    for q in ("张三", "zs", "zhangsan", "张", "1380013800", "8000", "8001"):
        found = ids(search(rep, q))
        assert theirs.pk not in found, q
    assert ids(search(rep, "zs")) == [mine.pk]
    assert ids(search(other_rep, "zs")) == [theirs.pk]
    share(theirs, user=rep, access="view")
    assert set(ids(search(rep, "zs"))) == {mine.pk, theirs.pk}


def test_a_rep_finds_own_records_among_many_others(rep: Any, other_rep: Any) -> None:
    """The rep's one match is older than hundreds of others': batches go on until it is found."""
    mine = Contact.objects.create(family_name="张", given_name="一", display_name="张一", owner=rep)
    others = [Contact(family_name="张", given_name=f"{i}", display_name=f"张{i}", owner=other_rep) for i in range(400)]
    Contact.objects.bulk_create(others)
    search_reindex(Contact, Contact.objects.values_list("pk", flat=True))
    assert ids(search(rep, "zhang")) == [mine.pk]
    assert ids(search(rep, "张")) == [mine.pk]


def test_hidden_fields_are_not_searched_or_shown(rep: Any, rep_role: Any) -> None:
    mine = contact(rep, "张", "三", emails=["secret@example.com"], phones=["13800138000"])
    field_rule(rep_role, "customers.contact", "phones", "hidden")
    field_rule(rep_role, "customers.contact", "emails", "hidden")
    rep = type(rep).objects.get(pk=rep.pk)  # the role's rules are cached on the user object
    assert search(rep, "8000") == []
    assert search(rep, "secret@example.com") == []
    (hit,) = search(rep, "zs")
    assert hit.id == mine.pk and "8000" not in hit.subtitle and "secret" not in hit.subtitle


def test_subtitle_leaves_out_accounts_the_reader_cannot_see(rep: Any, other_rep: Any, admin: Any) -> None:
    hidden_account = services.account_create(user=other_rep, data={"name": "Secret Corp"})
    mine = contact(rep, "张", "三")
    services.contact_link_account(contact_id=mine.pk, account_id=hidden_account.pk, user=admin)
    (hit,) = search(rep, "zs")
    assert "Secret" not in hit.subtitle
    assert "Secret Corp" in search(admin, "zs")[0].subtitle


def test_types_the_user_cannot_see_are_left_out(rep: Any) -> None:
    role = RoleFactory(name="Accounts only")
    grant(role, "customers.account", ("view",), scope="all")
    user = UserFactory(role=role)
    contact(rep, "张", "三")
    services.account_create(user=rep, data={"name": "张三贸易"})
    groups = {t.key: [h.title for h in hits] for t, hits in search_grouped(user, "zs")}
    # contacts could still be shared with them one by one, so the type stays, without hits
    assert groups == {"accounts": ["张三贸易"], "contacts": []}
    user.token_scopes = ["customers.account:view"]  # an API token that covers accounts only
    assert [t.key for t, _hits in search_grouped(user, "zs")] == ["accounts"]


# --- input ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"q": ""}, "q"),
        ({"q": "   "}, "q"),
        ({"q": "x" * 101}, "q"),
        ({"q": "zs", "types": "contacts,leads"}, "types"),
        ({"q": "zs", "limit": 0}, "limit"),
        ({"q": "zs", "limit": 51}, "limit"),
        ({"q": "zs", "limit": "many"}, "limit"),
    ],
)
def test_bad_input_names_the_field(admin: Any, kwargs: dict[str, Any], field: str) -> None:
    q = kwargs.pop("q")
    with pytest.raises(FieldErrors) as caught:
        search(admin, q, **kwargs)
    assert set(caught.value.errors) == {field}


def test_punctuation_only_finds_nothing(admin: Any, zhang: Contact) -> None:
    assert search(admin, "!!! ??") == []
    assert search(admin, '"*) OR (') == []  # FTS / tsquery syntax is never passed through


def test_query_parsing() -> None:
    assert [t[0].token for t in parse_query("字节跳动").terms] == ["字节", "节跳", "跳动"]
    assert parse_query("138-0013-8000").phone
    assert parse_query("Ｚｓ").compact == "zs"  # full-width letters fold


# --- speed ----------------------------------------------------------------------------------------------


def test_query_count_of_one_search_is_bounded(admin: Any, rep: Any) -> None:
    account = services.account_create(user=admin, data={"name": "张氏集团"})
    for i in range(60):
        links = [{"account": account.pk}] if i % 2 else []
        contact(admin if i % 2 else rep, "张", f"{i}号", phones=[f"1380013{i:04d}"], accounts=links)
    # The rep's candidates are checked through restrict, a query per batch; the administrator sees
    # every live record, and the index holds live records only: no check, the hits are read once.
    # The rep's shares are read once per type (accounts, contacts) and written into the checks.
    for user, most in ((admin, 9), (rep, 15)):
        user = type(user).objects.get(pk=user.pk)  # no cached policy
        with CaptureQueriesContext(connection) as ctx:
            hits = search(user, "zhang", limit=20)
        assert len(hits) == 20
        assert len(ctx.captured_queries) <= most, [q["sql"][:120] for q in ctx.captured_queries]


# --- a type registered by another module -------------------------------------------------------------------


def gadget_documents(pks: list[int]) -> dict[int, Document]:
    return {pk: Document().add_name(name) for pk, name in Gadget.objects.filter(pk__in=pks).values_list("pk", "name")}


@pytest.fixture
def gadgets_searchable() -> Iterator[None]:
    register_search_type(key="gadgets", model=Gadget, build=gadget_documents)
    yield
    unregister_search_type("gadgets")


def test_a_registered_type_is_searchable(gadgets_searchable: None, rep: Any, other_rep: Any) -> None:
    grant(rep.role, "testapp.gadget", scope="own")
    created = core_services.record_create(model=Gadget, user=rep, data={"name": "蓝牙耳机 Pro"})
    GadgetFactory(owner=other_rep, name="蓝牙音箱")
    search_reindex(Gadget, Gadget.objects.values_list("pk", flat=True))
    hits = search(rep, "lanya", types="gadgets")
    assert [(h.type, h.id, h.title) for h in hits] == [("gadgets", created.pk, "蓝牙耳机 Pro")]
    assert hits[0].url == f"/sales/gadgets/{created.pk}/"
    core_services.record_update(model=Gadget, pk=created.pk, user=rep, data={"name": "Bluetooth headset"})
    assert search(rep, "lanya", types="gadgets") == []
    assert ids(search(rep, "bluetooth"), "gadgets") == [created.pk]


def test_reindex_command(admin: Any) -> None:
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    Contact.objects.create(family_name="欧阳", given_name="修", display_name="欧阳修")
    Account.objects.create(name="欧阳集团")
    out = StringIO()
    call_command("search_reindex", "--type", "contacts", stdout=out)
    assert "contacts: indexed 1 records" in out.getvalue()
    assert ids(search(admin, "ouyang")) and not ids(search(admin, "ouyang"), "accounts")
    call_command("search_reindex", stdout=StringIO())
    assert ids(search(admin, "ouyang"), "accounts")
    with pytest.raises(CommandError):
        call_command("search_reindex", "--type", "leads", stdout=StringIO())
