"""Each task of the database queue runs in a forked child of the worker: what it leaves in memory
goes with the child, a child that dies fails its task (and its job, which can then be resumed), and
a killed worker takes its child along instead of leaving a job running unseen."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from guanxi.core.choices import JobStatus
from guanxi.core.models import Job
from guanxi.core.worker import ChildDied, run_in_child
from guanxi.customers.models import Contact
from tests.customers.test_import import mixed_file
from tests.customers.test_import_resume import database_url
from tests.factories import AdminFactory

ROOT = Path(__file__).resolve().parents[2]

#: Stands for the caches an import fills (names, phones, account ids): module state of the process.
LEFT_BEHIND: list[str] = []


@pytest.mark.django_db(transaction=True)
def test_work_in_a_child_leaves_nothing_in_the_parent(tmp_path: Path) -> None:
    out = tmp_path / "child"
    user = AdminFactory()

    def work() -> None:
        LEFT_BEHIND.extend(f"row {i}" for i in range(10_000))
        Job.objects.create(kind="import", user=user)  # through its own connection
        out.write_text(f"{os.getpid()} {len(LEFT_BEHIND)}")

    run_in_child(work, "test")
    pid, held = map(int, out.read_text().split())
    assert pid != os.getpid() and held == 10_000
    assert LEFT_BEHIND == [], "the child's memory went with it"
    assert Job.objects.count() == 1, "what the child committed is there"


@pytest.mark.django_db(transaction=True)
def test_a_child_that_dies_or_fails_is_reported() -> None:
    with pytest.raises(ChildDied, match="Killed"):
        run_in_child(lambda: os.kill(os.getpid(), signal.SIGKILL), "test")

    def fails() -> None:
        raise ValueError("the work itself failed")

    with pytest.raises(ChildDied, match="exit status 1"):
        run_in_child(fails, "test")


@pytest.mark.django_db
def test_no_fork_inside_a_transaction() -> None:
    with pytest.raises(RuntimeError, match="inside a transaction"):
        run_in_child(lambda: None, "test")


def _env(**extra: str) -> dict[str, str]:
    # Without REDIS_URL the worker is the database queue's (RQ forks each task itself).
    return {
        **{key: value for key, value in os.environ.items() if key != "REDIS_URL"},
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "GUANXI_TESTING": "1",
        "GUANXI_TEST_REAL_QUEUE": "1",
        "DATABASE_URL": database_url(),
        "GUANXI_MEDIA_ROOT": str(Path(settings.MEDIA_ROOT)),
        **extra,
    }


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own command
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def _queue_import(tmp_path: Path, rows: int, env: dict[str, str]) -> tuple[Any, list[int]]:
    admin = AdminFactory(email="importer@example.com", language="en")
    content, bad = mixed_file(rows)
    path = tmp_path / "contacts.csv"
    path.write_bytes(content)
    done = _manage("import", str(path), "--type", "contacts", "--user", admin.email, "--background", env=env)
    assert done.returncode == 0, done.stderr
    return Job.objects.get(kind="import"), bad


def _child_of(job: Job, log: str) -> int | None:
    """The process the worker forked for ``job``'s task, from the worker's log."""
    found = re.search(r"task \S+ \(guanxi\.core\.jobs\.job_run_task\) runs in process (\d+)", log)
    return int(found[1]) if found else None


def _start_worker(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 - our own command
        [sys.executable, "manage.py", "worker", *args],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def _import_under_way(tmp_path: Path) -> tuple[Job, subprocess.Popen[bytes], Path]:
    """A slow 3,000-row import (batches of 100) running in a worker that has committed 300 rows."""
    env = _env(GUANXI_IMPORT_BATCH_SIZE="100", GUANXI_IMPORT_PAUSE="0.2")
    job, _ = _queue_import(tmp_path, 3000, env)
    log = tmp_path / "worker.log"
    worker = _start_worker(env, log)
    deadline = time.monotonic() + 60
    while (job.checkpoint or {}).get("rows", 0) < 300:
        if time.monotonic() > deadline or worker.poll() is not None:
            worker.kill()
            worker.wait()
            pytest.fail(f"the worker did not commit a batch in time: {log.read_text()}")
        time.sleep(0.05)
        job.refresh_from_db()
    return job, worker, log


@pytest.mark.django_db(transaction=True)
def test_the_database_queue_worker_runs_a_queued_import_in_a_child(tmp_path: Path) -> None:
    env = _env(GUANXI_IMPORT_PROCESSES="1")  # with its validating process, a grandchild of the worker
    job, bad = _queue_import(tmp_path, 300, env)
    assert job.status == JobStatus.PENDING
    log = tmp_path / "worker.log"
    worker = _start_worker(env, log, "--burst")
    assert worker.wait(timeout=120) == 0, log.read_text()
    child = _child_of(job, log.read_text())
    assert child is not None and child != worker.pid, log.read_text()
    # The validating process ended on the pool's SIGTERM, not through the worker's graceful handler.
    assert "Received Terminated" not in log.read_text()
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.result["created"] == Contact.objects.count() == 300 - len(bad)


@pytest.mark.django_db(transaction=True)
def test_a_job_whose_process_is_killed_fails_and_the_worker_goes_on(tmp_path: Path) -> None:
    job, worker, log = _import_under_way(tmp_path)
    try:
        child = _child_of(job, log.read_text())
        assert child is not None
        os.kill(child, signal.SIGKILL)  # as the kernel's out-of-memory killer would
        deadline = time.monotonic() + 30
        while job.status == JobStatus.RUNNING and time.monotonic() < deadline:
            time.sleep(0.1)
            job.refresh_from_db()
        assert job.status == JobStatus.FAILED, log.read_text()
        assert "ran out of memory" in job.error and "Start it again" in job.error
        assert 300 <= job.checkpoint["rows"] < 3000, "resumable from its last batch"
        assert worker.poll() is None, "the worker itself goes on"
    finally:
        worker.kill()
        worker.wait()


@pytest.mark.django_db(transaction=True)
def test_a_killed_worker_takes_its_job_process_along(tmp_path: Path) -> None:
    job, worker, _log = _import_under_way(tmp_path)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    time.sleep(1.0)  # a batch in flight may still commit before the kernel's SIGKILL lands
    job.refresh_from_db()
    stopped_at = job.checkpoint["rows"]
    time.sleep(1.5)  # a child left running would commit several more batches of 100 meanwhile
    job.refresh_from_db()
    assert job.checkpoint["rows"] == stopped_at < 3000
    assert job.status == JobStatus.RUNNING, "left for the stale-heartbeat resume, as after any crash"
