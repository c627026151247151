"""The plans global search picks for common prefixes and narrow scopes: same answers, whichever runs.

Scope tests run on both engines (SQLite keeps its one plan); plan tests need PostgreSQL's statistics.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection

from guanxi.core import services as core_services
from guanxi.core.search import engine as search_engine
from guanxi.core.search import search, search_analyze, search_reindex
from guanxi.core.search.backends import backend
from guanxi.core.search.engine import id_range
from guanxi.core.search.text import parse_query
from guanxi.customers.models import Account, Contact
from guanxi.customers.services.accounts import account_create
from guanxi.customers.services.contacts import contact_update
from tests.factories import UserFactory, field_rule, share

pytestmark = pytest.mark.django_db

postgres_only = pytest.mark.skipif("connection.vendor != 'postgresql'")


def ids(hits: list[Any]) -> list[int]:
    return [hit.id for hit in hits if hit.type == "contacts"]


def many(owner: Any, count: int, family: str = "张", phone: str = "1380013") -> list[Contact]:
    """``count`` contacts of one owner written in bulk (and indexed), the newest last."""
    rows = [
        Contact(
            family_name=family,
            given_name=f"{i}",
            display_name=f"{family}{i}",
            phones=[{"value": f"+86{phone}{i:04d}", "extension": "", "label": "mobile", "is_primary": True}],
            owner=owner,
        )
        for i in range(count)
    ]
    created = Contact.objects.bulk_create(rows)
    search_reindex(Contact, [c.pk for c in created])
    return created


# --- a narrow scope: matches among the records the user may see -------------------------------------------


def test_a_rep_finds_own_shared_and_never_others_among_many(rep: Any, other_rep: Any) -> None:
    mine = many(rep, 3)
    others = many(other_rep, 300)
    shared = others[5]
    share(shared, user=rep, access="view")
    found = ids(search(rep, "zhang", limit=50))
    assert set(found) == {c.pk for c in mine} | {shared.pk}
    assert set(ids(search(rep, "zh", limit=50))) == set(found)
    assert set(ids(search(rep, "1380013", limit=50))) == set(found)


def test_a_narrow_scope_never_shows_a_binned_record(rep: Any, other_rep: Any) -> None:
    mine = many(rep, 2)
    many(other_rep, 200)
    core_services.record_delete(model=Contact, pk=mine[0].pk, user=rep)
    assert ids(search(rep, "zhang")) == [mine[1].pk]
    Contact.all_objects.filter(pk=mine[1].pk).update(deleted_at="2026-01-01T00:00:00Z")  # behind the index's back
    assert ids(search(rep, "zhang")) == []


def test_a_narrow_scope_leaves_hidden_fields_out(rep: Any, rep_role: Any, other_rep: Any) -> None:
    mine = many(rep, 2)
    many(other_rep, 200)
    assert set(ids(search(rep, "1380013"))) == {c.pk for c in mine}
    field_rule(rep_role, "customers.contact", "phones", "hidden")
    rep = type(rep).objects.get(pk=rep.pk)  # the role's rules are cached on the user object
    assert search(rep, "1380013") == []


def test_a_wide_scope_walks_as_before(rep_role: Any, other_rep: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """More visible records than ``NARROW_SCOPE``: candidates are checked through restrict in batches."""
    monkeypatch.setattr(search_engine, "NARROW_SCOPE", 2)
    rep = UserFactory(email="rep3@example.com", role=rep_role)
    mine = many(rep, 3)
    many(other_rep, 300)
    assert set(ids(search(rep, "zhang", limit=50))) == {c.pk for c in mine}


@postgres_only
def test_the_narrow_scope_is_read_once_a_search(rep: Any, other_rep: Any) -> None:
    from django.test.utils import CaptureQueriesContext

    many(rep, 2)
    many(other_rep, 200)
    rep = type(rep).objects.get(pk=rep.pk)
    with CaptureQueriesContext(connection) as ctx:
        assert len(search(rep, "zhang")) == 2
    sqls = [q["sql"] for q in ctx.captured_queries]
    assert (
        len([sql for sql in sqls if sql.startswith("SELECT COUNT(*)")]) <= 2
    )  # each type's scope, once for three tiers
    assert len(sqls) <= 17, [sql[:120] for sql in sqls]


# --- plans on PostgreSQL ---------------------------------------------------------------------------------


@pytest.fixture
def analyzed(other_rep: Any) -> Iterator[list[Contact]]:
    """Many contacts named 张 among a few others, with fresh statistics."""
    created = many(other_rep, 400)
    many(other_rep, 20, family="Smith", phone="1390013")
    backend().optimize()
    yield created
    backend()._stats.clear()


def _candidates(q: str, mode: str, limit: int) -> list[int]:
    low, high = id_range(Contact)
    return [row[0] for row in backend().candidates(parse_query(q), ("k", "n", "e", "p", "o"), mode, low, high, limit)]


@postgres_only
def test_statistics_call_a_short_prefix_common(analyzed: list[Contact]) -> None:
    pg = backend()
    contacts, accounts = pg.namespace(id_range(Contact)[0]), pg.namespace(id_range(Account)[0])
    assert pg.estimated_share(parse_query("zh"), "prefix", contacts) >= pg.COMMON
    assert pg.estimated_share(parse_query("zhang"), "exact", contacts) >= pg.COMMON
    assert pg.estimated_share(parse_query("qqqq"), "prefix", contacts) == 0.0
    assert pg.estimated_share(parse_query("zhang"), "exact", accounts) == 0.0  # no account holds it


@postgres_only
@pytest.mark.parametrize(("q", "mode", "limit"), [("zh", "prefix", 40), ("zhang", "exact", 7), ("smith", "exact", 40)])
def test_the_walk_and_the_index_agree(analyzed: list[Contact], q: str, mode: str, limit: int, monkeypatch: Any) -> None:
    pg = backend()
    walked = _candidates(q, mode, limit)
    monkeypatch.setattr(pg, "COMMON", 2.0)  # never walk: the GIN plans alone
    assert walked == _candidates(q, mode, limit)
    assert walked == sorted(walked, reverse=True) and len(walked) == min(limit, 400 if q != "smith" else 20)


@postgres_only
def test_a_common_prefix_reads_no_gin_index(analyzed: list[Contact]) -> None:
    low, high = id_range(Contact)
    pg = backend()
    expression = pg.match_expression(parse_query("zh"), ("k", "n"), "prefix", pg.namespace(low))
    window = 40 * 3
    with connection.cursor() as cursor:
        cursor.execute(
            f"EXPLAIN SELECT id FROM (SELECT id, tsv FROM {pg.TABLE} WHERE id BETWEEN %s AND %s "  # noqa: S608
            "ORDER BY id DESC LIMIT %s) newest WHERE tsv @@ %s::tsquery ORDER BY id DESC LIMIT 40",
            [low, high, window, expression],
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "core_search_document_tsv" not in plan and "Index Scan Backward" in plan, plan


@postgres_only
@pytest.mark.parametrize("share", [0.0, 1.0])
@pytest.mark.parametrize(("q", "mode"), [("zh", "prefix"), ("zhang", "exact")])
def test_both_plans_among_a_scope_agree(
    analyzed: list[Contact], share: float, q: str, mode: str, monkeypatch: Any
) -> None:
    """Walked newest first (a common query) or read through GIN (a rare one): the same rows."""
    pg = backend()
    low, high = id_range(Contact)
    monkeypatch.setattr(pg, "estimated_share", lambda query, mode, space: share)
    pks = [c.pk for c in analyzed[::50]]
    scope = ("SELECT unnest(%s::bigint[])", [pks])
    rows = pg.candidates_among(parse_query(q), ("k", "n"), mode, low, high, scope, len(pks), 5)
    assert [row[0] for row in rows] == sorted((low | pk for pk in pks), reverse=True)[:5]
    below = pg.candidates_among(parse_query(q), ("k", "n"), mode, low, rows[2][0] - 1, scope, len(pks), 5)
    assert [row[0] for row in below] == sorted((low | pk for pk in pks), reverse=True)[3:8]
    assert pg.candidates_among(parse_query("smith"), ("k", "n"), "exact", low, high, scope, len(pks), 5) == []


# --- plans that do not depend on fresh statistics ---------------------------------------------------------


def _maintenance_counts() -> tuple[int, int]:
    """How many times the search table was analysed, and vacuumed."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT analyze_count, vacuum_count FROM pg_stat_user_tables WHERE relname = %s", [backend().TABLE]
        )
        analyses, vacuums = cursor.fetchone()
        return int(analyses), int(vacuums)


def _gin_read_plan(q: str, mode: str) -> dict[str, Any]:
    """The plan, as run (EXPLAIN ANALYZE), of the GIN tier's read of contacts for ``q``, without
    sequential scans."""
    low, high = id_range(Contact)
    pg = backend()
    expression = pg.match_expression(parse_query(q), ("k", "n", "e", "p", "o"), mode, pg.namespace(low))
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(
            f"EXPLAIN (ANALYZE, FORMAT JSON) SELECT id FROM {pg.TABLE} WHERE {pg.GIN_RANGE} AND tsv @@ %s::tsquery",  # noqa: S608 - the backend's constants; the query is a parameter
            [low, high, expression],
        )
        return cursor.fetchone()[0][0]["Plan"]


@postgres_only
def test_a_rare_term_is_read_through_gin_alone(rep: Any) -> None:
    """The GIN tier's range only tells the types apart: never a primary-key bitmap of the whole range
    ANDed with GIN's few matches (the planner did so before the table's first ANALYZE: 17 ms a lookup
    at 300k documents instead of 0.3)."""
    many(rep, 50)
    plan = json.dumps(_gin_read_plan("张7", "exact"))
    assert "core_search_document_tsv" in plan and "pkey" not in plan, plan


@postgres_only
def test_search_analyze_refreshes_the_statistics_after_many_documents() -> None:
    before, _vacuums = _maintenance_counts()
    search_analyze(rows=10)  # a handful of records: autovacuum's business
    assert _maintenance_counts()[0] == before
    search_analyze(rows=5000)
    assert _maintenance_counts()[0] == before + 1


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_after_an_import_the_documents_are_vacuumed_as_well(rep: Any) -> None:
    """An import's ``search_analyze`` runs outside a transaction: a ``VACUUM (ANALYZE)`` that also
    empties GIN's pending list and marks the pages all-visible, so that the first searches after it
    do not pay for that. Inside a transaction (a test, a caller's atomic block) it can only ANALYZE."""
    many(rep, 20)
    analyses, vacuums = _maintenance_counts()
    search_analyze(rows=5000)
    assert _maintenance_counts() == (analyses + 1, vacuums + 1)
    assert ids(search(rep, "zhang", limit=50))


# --- key lexemes ------------------------------------------------------------------------------------------


@postgres_only
def test_the_key_tier_reads_key_lexemes_only(other_rep: Any) -> None:
    """A whole name key, "yj" of 杨军, is a key match; "yj" as the initials of a part of a name (向玉娟's
    玉娟) is not, and the SQL needs no recheck of the text columns. Emails and phones are asked for
    with weights, and only by a query that may be one."""
    yang = many(other_rep, 1, family="杨", phone="1390013")[0]
    Contact.objects.filter(pk=yang.pk).update(given_name="军", display_name="杨军")
    xiang = many(other_rep, 1, family="向", phone="1390014")[0]
    Contact.objects.filter(pk=xiang.pk).update(given_name="玉娟", display_name="向玉娟")
    search_reindex(Contact, [yang.pk, xiang.pk])
    low, high = id_range(Contact)
    pg = backend()
    space = pg.namespace(low)
    assert space == f"{ContentType.objects.get_for_model(Contact).pk}/"
    expression = pg.match_expression(parse_query("yj"), ("k", "n", "e", "p", "o"), "key", space)
    assert expression == f"'{space}k=yj'"
    key_rows = backend().candidates(parse_query("yj"), ("k", "n", "e", "p", "o"), "key", low, high, 10)
    assert [row[0] for row in key_rows] == [low | yang.pk]
    prefix_rows = backend().candidates(parse_query("yj"), ("k", "n", "e", "p", "o"), "prefix", low, high, 10)
    assert {row[0] for row in prefix_rows} == {low | yang.pk, low | xiang.pk}
    # A column the user may not see is not asked for.
    assert pg.match_expression(parse_query("yj"), ("n", "o"), "key", space) is None
    everything = ("k", "n", "e", "p", "o")
    expression = pg.match_expression(parse_query("13900130000"), everything, "key", space)
    assert expression == f"'{space}k=13900130000' | '{space}13900130000':BC"
    assert pg.match_expression(parse_query("yj@x.cn"), ("n", "e", "o"), "key", space) == f"'{space}yj@x.cn':B"
    assert pg.match_expression(parse_query("yj@x.cn"), ("n", "o"), "key", space) is None
    phone = backend().candidates(parse_query("13900130000"), everything, "key", low, high, 10)
    assert [row[0] for row in phone] == [low | yang.pk]


@postgres_only
def test_a_search_of_one_type_reads_no_other_types_documents(rep: Any) -> None:
    """Lexemes are namespaced by record type: the GIN read for contacts "syy" (宋洋洋) finds the
    contacts' documents alone, not every 实业有限公司 account's ("syyxgs") to throw away after."""
    for i in range(30):
        account_create(user=rep, data={"name": f"测{i}实业有限公司"})
    song = many(rep, 2, family="宋")
    Contact.objects.filter(pk__in=[c.pk for c in song]).update(given_name="洋洋", display_name="宋洋洋")
    search_reindex(Contact, [c.pk for c in song])
    pg = backend()
    low, high = id_range(Contact)
    plan = _gin_read_plan("syy", "prefix")
    assert plan["Node Type"] == "Bitmap Heap Scan" and plan["Actual Rows"] == 2, plan
    assert plan["Plans"][0]["Node Type"] == "Bitmap Index Scan" and plan["Plans"][0]["Actual Rows"] == 2, plan
    assert {row[0] for row in pg.candidates(parse_query("syy"), ("k", "n"), "prefix", low, high, 10)} == {
        low | c.pk for c in song
    }
    accounts = id_range(Account)
    assert len(pg.candidates(parse_query("syy"), ("k", "n"), "prefix", *accounts, 50)) == 30


@postgres_only
def test_the_migrations_write_the_lexemes_the_application_writes(other_rep: Any, rep: Any) -> None:
    """0006 adds key lexemes to documents written before it, from their stored columns, and 0007 puts
    every lexeme in its type's namespace: together the same tsvector as writing them anew, weights and
    positions kept. Reversing 0007 leaves no namespace, and reversing 0006 no key lexeme."""
    import importlib

    keys = importlib.import_module("guanxi.core.migrations.0006_search_key_lexemes")
    spaces = importlib.import_module("guanxi.core.migrations.0007_search_namespaces")
    many(other_rep, 3)
    account = account_create(user=rep, data={"name": "金思医药有限公司"})

    def documents() -> list[tuple[int, str]]:
        cursor.execute("SELECT id, tsv::text FROM core_search_document ORDER BY id")
        return cursor.fetchall()

    def count(sql: str) -> int:
        cursor.execute(sql)
        return int(cursor.fetchone()[0])

    with connection.cursor() as cursor:
        written = documents()
        cursor.execute(spaces.REMOVE)
        assert count("SELECT count(*) FROM core_search_document, unnest(tsv) u WHERE strpos(u.lexeme, '/') > 0") == 0
        cursor.execute(keys.REMOVE)
        assert count("SELECT count(*) FROM core_search_document, unnest(tsv) u WHERE left(u.lexeme, 2) = 'k='") == 0
        cursor.execute(keys.ADD)
        cursor.execute(spaces.ADD)
        assert documents() == written
    by_id = dict(written)
    contacts, accounts = (backend().namespace(id_range(model)[0]) for model in (Contact, Account))
    assert len(by_id) == 4 and contacts != accounts
    for contact in Contact.objects.all():
        tsv = by_id[id_range(Contact)[0] | contact.pk]
        assert f"'{contacts}k=zhang" in tsv and f"'{contacts}zhang':1A" in tsv and "'zhang" not in tsv, tsv
    tsv = by_id[id_range(Account)[0] | account.pk]
    assert f"'{accounts}金思医药有限公司':1A" in tsv and f"'{accounts}k=jsyyyxgs'" in tsv, tsv


@postgres_only
def test_a_short_prefix_walks_first_whatever_the_statistics(analyzed: list[Contact], monkeypatch: Any) -> None:
    """The statistics hold a short prefix's most common lexemes only: "zh" walks the newest rows even
    when they call it too rare for a walk to find 40 in ``MAX_WALK`` rows (at a million contacts,
    "zz" was estimated at 0.2% and matched 1.3%), and reads no GIN index when the walk finds enough."""
    from django.test.utils import CaptureQueriesContext

    pg = backend()
    assert math.ceil(40 / (pg.COMMON * 1.05) * 3) > pg.MAX_WALK
    monkeypatch.setattr(pg, "estimated_share", lambda query, mode, space: pg.COMMON * 1.05)
    with CaptureQueriesContext(connection) as ctx:
        walked = _candidates("zh", "prefix", 40)
    assert len(ctx.captured_queries) == 1 and "MATERIALIZED" not in ctx.captured_queries[0]["sql"]
    assert walked == sorted((row.pk | id_range(Contact)[0] for row in analyzed), reverse=True)[:40]


@postgres_only
def test_many_matches_the_statistics_missed_are_walked(analyzed: list[Contact], monkeypatch: Any) -> None:
    """A longer prefix estimated rare whose GIN read reaches its cap: the newest rows are walked
    (bounded), not left to a planner that would read and sort every match. Whole tokens are left to
    the planner, whose statistics know them."""
    from django.test.utils import CaptureQueriesContext

    pg = backend()
    monkeypatch.setattr(pg, "estimated_share", lambda query, mode, space: 0.0)
    monkeypatch.setattr(pg, "RARE", 50)
    with CaptureQueriesContext(connection) as ctx:
        walked = _candidates("zhan", "prefix", 40)
    sqls = [q["sql"] for q in ctx.captured_queries]
    assert len(sqls) == 2 and "MATERIALIZED" in sqls[0] and f"LIMIT {pg.MAX_WALK}) newest" in sqls[1], sqls
    with CaptureQueriesContext(connection) as ctx:
        assert len(_candidates("zhang", "exact", 40)) == 40
    assert len(ctx.captured_queries) == 2 and "newest" not in ctx.captured_queries[1]["sql"]
    monkeypatch.setattr(pg, "COMMON", 2.0)
    monkeypatch.setattr(pg, "RARE", 100000)  # the GIN plan alone
    assert walked == _candidates("zhan", "prefix", 40)


@postgres_only
def test_a_term_the_statistics_give_many_matches_is_walked_before_any_gin_read(
    analyzed: list[Contact], monkeypatch: Any
) -> None:
    """Too rare for a walk to be sure (below ``COMMON``) yet ``RARE`` matches or more by the statistics:
    a GIN read would only count ``RARE`` of them, the oldest, before the planner read them all again.
    The newest ``MAX_WALK`` rows are walked first; a term expected to match fewer still goes to GIN."""
    from django.test.utils import CaptureQueriesContext

    pg = backend()
    share = pg.COMMON / 2
    monkeypatch.setattr(pg, "estimated_share", lambda query, mode, space: share)
    stats = pg._stats.current()
    monkeypatch.setattr(stats, "rows", pg.RARE / share)  # RARE matches expected
    with CaptureQueriesContext(connection) as ctx:
        walked = _candidates("zhang", "exact", 40)
    sqls = [q["sql"] for q in ctx.captured_queries]
    assert len(sqls) == 1 and f"LIMIT {pg.MAX_WALK}) newest" in sqls[0], sqls
    monkeypatch.setattr(stats, "rows", pg.RARE / share - 100)
    with CaptureQueriesContext(connection) as ctx:
        assert _candidates("zhang", "exact", 40) == walked
    assert "MATERIALIZED" in ctx.captured_queries[0]["sql"] and "newest" not in ctx.captured_queries[0]["sql"]
    assert walked == sorted((row.pk | id_range(Contact)[0] for row in analyzed), reverse=True)[:40]


@postgres_only
def test_a_short_prefix_of_digits_walks_a_little_first(analyzed: list[Contact], monkeypatch: Any) -> None:
    """Phone numbers are unique lexemes the statistics never hold: "1380" (or "8613", which starts
    every +86 13x number) walks ``SHORT_WALK`` rows before any GIN read; a longer one does not."""
    from django.test.utils import CaptureQueriesContext

    pg = backend()
    monkeypatch.setattr(pg, "estimated_share", lambda query, mode, space: 0.0)
    with CaptureQueriesContext(connection) as ctx:
        walked = _candidates("1380", "prefix", 40)
    sqls = [q["sql"] for q in ctx.captured_queries]
    assert len(sqls) == 1 and f"LIMIT {pg.SHORT_WALK}) newest" in sqls[0], sqls
    assert walked == sorted((row.pk | id_range(Contact)[0] for row in analyzed), reverse=True)[:40]
    with CaptureQueriesContext(connection) as ctx:
        assert len(_candidates("13800", "prefix", 40)) == 40
    assert "newest" not in ctx.captured_queries[0]["sql"]


@postgres_only
def test_a_prefix_of_digits_matched_now_and_then_walks_further_not_through_gin(
    other_rep: Any, monkeypatch: Any
) -> None:
    """ "7777" (the last 4 digits people type, which start many numbers too) matched by a quarter of
    the newest documents: too few for the page in the first walk, enough that a walk of ``MAX_WALK``
    rows fills it; that walk runs, not GIN's read of every match. The same page either way."""
    from django.test.utils import CaptureQueriesContext

    pg = backend()
    monkeypatch.setattr(pg, "estimated_share", lambda query, mode, space: 0.0)
    monkeypatch.setattr(pg, "SHORT_WALK", 60)
    monkeypatch.setattr(pg, "MAX_WALK", 200)
    people = many(other_rep, 400)
    for i, person in enumerate(people):  # every fourth number ends in 7777; none starts with it
        person.phones = [{"value": f"+86138{i:04d}" + ("7777" if i % 4 == 0 else f"{i:04d}"), "is_primary": True}]
    Contact.objects.bulk_update(people, ["phones"])
    search_reindex(Contact, [c.pk for c in people])
    expected = sorted((id_range(Contact)[0] | c.pk for i, c in enumerate(people) if i % 4 == 0), reverse=True)[:40]
    with CaptureQueriesContext(connection) as ctx:
        walked = _candidates("7777", "prefix", 40)
    sqls = [q["sql"] for q in ctx.captured_queries]
    assert len(sqls) == 2 and "LIMIT 60) newest" in sqls[0] and "LIMIT 200) newest" in sqls[1], sqls
    assert walked == expected
    monkeypatch.setattr(pg, "MAX_WALK", 100)  # a walk that far would not fill it: GIN, as before
    with CaptureQueriesContext(connection) as ctx:
        assert _candidates("7777", "prefix", 40) == expected
    assert "MATERIALIZED" in ctx.captured_queries[1]["sql"]


# --- the key tier reads whole-name keys from a B-tree ------------------------------------------------------


def _keys_of(contact: Contact) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT key FROM {backend().KEY_TABLE} WHERE id = %s", [id_range(Contact)[0] | contact.pk])  # noqa: S608
        return {row[0] for row in cursor.fetchall()}


def _key_rows_written() -> tuple[int, int]:
    """Rows of the key table inserted and deleted so far in this transaction."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n_tup_ins, n_tup_del FROM pg_stat_xact_user_tables WHERE relname = %s", [backend().KEY_TABLE]
        )
        row = cursor.fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)


@postgres_only
def test_the_key_table_follows_every_write_of_a_document(rep: Any) -> None:
    """A person's keys are rows of their own (name, pinyin, initials), rewritten with the document: a
    rename leaves none of the old, binning none at all, a rebuild the same rows."""
    from guanxi.core.search import search_rebuild

    contact = many(rep, 1, family="李")[0]
    contact.given_name, contact.display_name = "伟", "李伟"
    contact.save()
    search_reindex(Contact, [contact.pk])
    assert _keys_of(contact) == {"李伟", "liwei", "lw"}
    contact_update(pk=contact.pk, user=rep, data={"given_name": "明"})
    assert _keys_of(contact) == {"李明", "liming", "lm"}
    # A change that leaves the name alone rewrites the document, not its keys.
    written = _key_rows_written()
    assert written[0] >= 6 and written[1] >= 3  # the create and the rename above
    contact_update(pk=contact.pk, user=rep, data={"title": "采购经理"}, phones=[{"value": "13900139000"}])
    search_reindex(Contact, [contact.pk])
    assert _keys_of(contact) == {"李明", "liming", "lm"} and _key_rows_written() == written
    assert search_rebuild("contacts") >= 1 and _keys_of(contact) == {"李明", "liming", "lm"}
    core_services.record_delete(model=Contact, pk=contact.pk, user=rep)
    assert _keys_of(contact) == set()


@postgres_only
def test_the_key_tier_reads_the_newest_keys_from_the_index_alone(rep: Any) -> None:
    """The newest five named 李伟 is a backward index-only scan of the key table, then five documents
    by id: not GIN, which would read the heap page of every document holding the key."""
    people = many(rep, 60, family="李伟")  # display names 李伟0 … 李伟59: each holds the word 李伟, not the key
    named = many(rep, 30, family="")
    Contact.objects.filter(pk__in=[c.pk for c in named]).update(family_name="李", given_name="伟", display_name="李伟")
    search_reindex(Contact, [c.pk for c in named])
    search_analyze(rows=5000)
    low, high = id_range(Contact)
    pg = backend()
    rows = pg.candidates(parse_query("李伟"), ("k", "n"), "key", low, high, 5)
    assert [row[0] for row in rows] == sorted((low | c.pk for c in named), reverse=True)[:5]
    for q in ("liwei", "lw", "李伟"):  # the same documents as the key lexemes GIN holds
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id FROM {pg.TABLE} WHERE tsv @@ %s::tsquery ORDER BY id DESC",  # noqa: S608
                [pg.match_expression(parse_query(q), ("k",), "key", pg.namespace(low))],
            )
            expected = [row[0] for row in cursor.fetchall()]
        assert [row[0] for row in pg.candidates(parse_query(q), ("k",), "key", low, high, 100)] == expected, q
        assert len(expected) >= 30
    assert pg.candidates(parse_query("李伟"), ("n",), "key", low, high, 5) == []  # names hidden: no key
    captured: list[tuple[str, Any]] = []

    def keep(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        captured.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(keep):
        pg.candidates(parse_query("lw"), ("k", "n", "e", "p", "o"), "key", low, high, 5)
    ((sql, params),) = captured
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
        plan = json.dumps(cursor.fetchone()[0][0]["Plan"])
    assert "Index Only Scan" in plan and f"{pg.KEY_TABLE}_pkey" in plan and "core_search_document_tsv" not in plan, plan
    assert len(people) == 60
