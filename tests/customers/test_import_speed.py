"""The import's fast path: blocking keys written with the records, fuzzy duplicate detection as a
follow-up task over the written id ranges, the read-ahead thread, lookups through the right index.

Every test runs the real job (the test settings run tasks immediately) against the real database.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from guanxi.core.imports import runner
from guanxi.core.models import Job
from guanxi.customers.duplicates import account_dup_key, contact_dup_key, duplicates_detect_ranges
from guanxi.customers.models import Account, Contact, DuplicateCandidate
from tests.customers.test_import import admin, csv_bytes, upload  # noqa: F401 - admin: a fixture
from tests.customers.test_import import client as client  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db

HEADER = ["外部编号", "姓名", "手机", "邮箱", "公司"]


def _run(client: Any, rows: list[list[str]]) -> Job:
    body = upload(client, csv_bytes([HEADER, *rows]), start="true").json()
    return Job.objects.get(pk=body["id"])


def test_keys_written_with_records_and_duplicates_found_after_the_import(client: Any) -> None:
    job = _run(
        client,
        [
            ["A1", "张三", "13800000001", "a1@example.com", "示例科技有限公司"],
            ["A2", "張三", "13800000002", "a2@example.com", "示例科技有限公司"],
            ["A3", "李四", "13800000003", "a3@example.com", ""],
        ],
    )
    assert job.status == "succeeded", job.error
    contacts = {c.external_id: c for c in Contact.objects.all()}
    for contact in contacts.values():
        assert contact.dup_key == contact_dup_key(contact.family_name, contact.given_name) != ""
    account = Account.objects.get(name="示例科技有限公司")
    assert account.dup_key == account_dup_key(account.name) == "shili keji".replace(" ", "")
    # The checkpoint remembers the written ids as ranges; the follow-up task found the pair.
    detect = job.checkpoint["detect"]
    low, high = min(c.pk for c in contacts.values()), max(c.pk for c in contacts.values())
    assert detect["customers.contact"] == [[low, high]]
    pair = DuplicateCandidate.objects.get(record_type="contact")
    assert {pair.low_id, pair.high_id} == {contacts["A1"].pk, contacts["A2"].pk}
    assert any(r["kind"] == "name" for r in pair.reasons)


def test_follow_up_detection_skips_missing_ids_and_is_idempotent(client: Any) -> None:
    job = _run(
        client,
        [
            ["B1", "王五", "13900000001", "same@example.com", ""],
            ["B2", "赵六", "13900000002", "same@example.com", ""],
        ],
    )
    assert job.status == "succeeded", job.error
    # "same@example.com" matched B1 (skip policy): one contact, nothing to pair.
    assert Contact.objects.count() == 1
    spans = job.checkpoint["detect"]
    assert duplicates_detect_ranges.call({"customers.contact": [[1, 10**6 + 5]], **spans}) == 0


def test_ranges_merge_and_scattered_ids_run_inline() -> None:
    assert runner._ranges([5, 3, 4, 9, 10, 12]) == [[3, 5], [9, 10], [12, 12]]
    detect: dict[str, list[list[int]]] = {}
    assert runner._defer_detection(detect, {Contact: [1, 2, 3]}) == {}
    assert runner._defer_detection(detect, {Contact: [4, 5], Account: [7]}) == {}
    assert detect == {"customers.contact": [[1, 5]], "customers.account": [[7, 7]]}
    scattered = list(range(0, 4 * runner.MAX_DEFERRED_RANGES, 2))
    inline = runner._defer_detection(detect, {Contact: scattered, Job: [1]})
    assert inline == {Contact: scattered}  # Job has no duplicate detection: neither kept nor run
    assert detect["customers.contact"] == [[1, 5]]


def test_read_ahead_thread_hands_over_chunks_in_order_and_raises_errors_in_the_writer() -> None:
    from guanxi.core.errors import FieldErrors
    from guanxi.core.imports.specs import PrepareContext, import_spec

    spec = import_spec("contacts")
    assert spec is not None
    ctx = PrepareContext(columns={"name": 0}, headers=["姓名"])
    chunks = [[(i * 10 + j, [f"张{i}{j}"]) for j in range(3)] for i in range(5)]
    out = list(runner._prepared_ahead(spec, ctx, "zh-hans", iter(chunks)))
    assert [chunk for chunk, _prepared in out] == chunks
    assert [p.values["given_name"] for _c, prepared in out for p in prepared][:3] == ["00", "01", "02"]

    def broken() -> Any:
        yield chunks[0]
        raise FieldErrors({"file": ["bad byte at row 12"]})

    stream = runner._prepared_ahead(spec, ctx, "zh-hans", broken())
    assert next(stream)[0] == chunks[0]
    with pytest.raises(FieldErrors):
        next(stream)


def test_writer_stopping_early_ends_the_thread() -> None:
    from guanxi.core.imports.specs import PrepareContext, import_spec

    spec = import_spec("contacts")
    assert spec is not None
    ctx = PrepareContext(columns={"name": 0}, headers=["姓名"])
    endless = ([(i, ["李雷"])] for i in range(10**9))
    stream = runner._prepared_ahead(spec, ctx, "en", endless)
    next(stream)
    stream.close()  # type: ignore[attr-defined]  # the job failed: the generator's finally stops and joins the producer
    assert not any(t.name == "import-prepare" for t in __import__("threading").enumerate())


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite planner hint")
def test_external_id_lookup_uses_its_partial_index(client: Any) -> None:
    from guanxi.customers.import_contacts import ContactWriter

    _run(client, [["C1", "韩梅梅", "13700000001", "", ""]])
    writer = ContactWriter(Contact.objects.get().owner, "skip", None)  # type: ignore[arg-type]
    keys = [f"X{i}" for i in range(1500)] + ["C1"]
    assert writer.lookup("external_id", keys) == {"C1": Contact.objects.get().pk}
    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN QUERY PLAN SELECT id FROM customers_contact INDEXED BY contact_external_id_unique "
            "WHERE deleted_at IS NULL AND NOT (external_id = '') AND external_id IN ('a', 'b')"
        )
        assert "contact_external_id_unique" in str(cursor.fetchall())


def test_import_with_the_read_ahead_thread(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUANXI_IMPORT_PIPELINE", "1")
    monkeypatch.setenv("GUANXI_IMPORT_BATCH_SIZE", "2")
    rows = [[f"D{i}", f"周{i}", f"1360000000{i}", f"d{i}@example.com", ""] for i in range(7)]
    rows[3][2] = "12345"  # a bad phone: reported, the rest written in order
    job = _run(client, rows)
    assert job.status == "succeeded", job.error
    assert job.result["created"] == 6 and job.result["failed"] == 1
    assert sorted(Contact.objects.values_list("external_id", flat=True)) == [f"D{i}" for i in range(7) if i != 3]


def test_companies_beyond_the_account_cache_are_found_again_not_doubled(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from guanxi.customers import import_contacts

    monkeypatch.setattr(import_contacts, "ACCOUNT_CACHE", 2)  # cleared before nearly every batch
    monkeypatch.setenv("GUANXI_IMPORT_BATCH_SIZE", "2")
    companies = ["甲公司", "乙公司", "丙公司", "丁公司"]
    # Each company is named again after the cache was cleared; the second mention must link to
    # the account the first one created.
    rows = [[f"E{i}", f"吴{i}", f"1350000000{i}", "", companies[i % 4]] for i in range(10)]
    job = _run(client, rows)
    assert job.status == "succeeded", job.error
    assert sorted(Account.objects.values_list("name", flat=True)) == sorted(companies)
    for contact in Contact.objects.prefetch_related("accounts"):
        index = int(contact.external_id[1:])
        assert [a.name for a in contact.accounts.all()] == [companies[index % 4]]


def test_a_big_file_is_validated_beside_the_writer_on_both_engines(monkeypatch: pytest.MonkeyPatch) -> None:
    # Two cores: one validating process on SQLite and on PostgreSQL too (its writer mostly waits
    # for the server); none for a small file, where forking costs more than it saves.
    monkeypatch.delenv("GUANXI_IMPORT_PROCESSES", raising=False)
    monkeypatch.delenv("GUANXI_IMPORT_PARALLEL_MIN", raising=False)
    monkeypatch.setattr(runner.os, "cpu_count", lambda: 2)
    assert runner.worker_count(1_000_000) == 1
    assert runner.worker_count(500) == 0
    assert runner.worker_count(None) == 0
    monkeypatch.setattr(runner.os, "cpu_count", lambda: 8)
    assert runner.worker_count(1_000_000) == 4


def test_follow_up_detection_checks_a_part_of_ids_at_a_time(monkeypatch: Any) -> None:
    """A large company's contacts are read once per part that links to it, so the follow-up checks
    ``PART`` ids (20,000) per call and transaction, not 5,000 (at a million contacts on PostgreSQL,
    200,000 contacts took 21 s instead of 33)."""
    from guanxi.customers import duplicates

    calls: list[tuple[type, int, int]] = []
    monkeypatch.setattr(duplicates, "duplicates_detect", lambda model, ids: calls.append((model, ids[0], ids[-1])) or 1)
    assert duplicates_detect_ranges.call({"customers.contact": [[1, 45_000]], "customers.account": [[7, 9]]}) == 4
    assert calls == [(Contact, 1, 20_000), (Contact, 20_001, 40_000), (Contact, 40_001, 45_000), (Account, 7, 9)]
