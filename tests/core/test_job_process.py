"""Each job runs in a forked child of the worker: what the job leaves in memory goes with the child,
a child that dies fails its job (which can then be resumed), and a killed worker takes its child
along instead of leaving a job running unseen."""

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
from guanxi.core.jobs import JobRun, job_handler, job_run_forked, job_start
from guanxi.core.models import Job
from guanxi.customers.models import Contact
from tests.customers.test_import import mixed_file
from tests.customers.test_import_resume import database_url
from tests.factories import AdminFactory, UserFactory

ROOT = Path(__file__).resolve().parents[2]

#: Stands for the caches an import fills (names, phones, account ids): module state of the process.
LEFT_BEHIND: list[str] = []


@job_handler("test-remember")
def remember(run: JobRun) -> dict[str, Any]:
    LEFT_BEHIND.extend(f"row {i}" for i in range(10_000))
    run.checkpoint({"step": 1}, processed=1)
    return {"pid": os.getpid(), "left_behind": len(LEFT_BEHIND)}


@job_handler("test-killed")
def killed(run: JobRun) -> dict[str, Any]:
    run.checkpoint({"rows": 500}, processed=500)
    os.kill(os.getpid(), signal.SIGKILL)
    return {}


@job_handler("test-raises")
def raises(run: JobRun) -> dict[str, Any]:
    raise ValueError("column 3 is not a date")


def start(kind: str, language: str = "en") -> Job:
    return job_start(kind=kind, user=UserFactory(language=language), enqueue=False)


@pytest.mark.django_db(transaction=True)
def test_a_forked_job_runs_in_a_child_and_leaves_nothing_in_the_worker() -> None:
    job = job_run_forked(start("test-remember").pk)
    assert job.status == JobStatus.SUCCEEDED
    assert job.result["pid"] != os.getpid() and job.result["left_behind"] == 10_000
    assert LEFT_BEHIND == [], "the child's memory went with it"
    assert Job.objects.get(pk=job.pk).checkpoint == {"step": 1}, "the child wrote through its own connection"


@pytest.mark.django_db(transaction=True)
def test_a_child_that_dies_fails_its_job_and_keeps_the_checkpoint() -> None:
    job = job_run_forked(start("test-killed").pk)
    stored = Job.objects.get(pk=job.pk)
    assert stored.status == JobStatus.FAILED and stored.finished_at is not None
    assert "Killed" in stored.error and "Start it again" in stored.error
    assert stored.checkpoint == {"rows": 500} and stored.processed == 500
    chinese = job_run_forked(start("test-killed", language="zh-hans").pk)
    assert chinese.status == JobStatus.FAILED and "请重新启动任务" in chinese.error, "in the user's language"


@pytest.mark.django_db(transaction=True)
def test_a_job_that_raises_in_the_child_fails_with_its_message() -> None:
    job = job_run_forked(start("test-raises").pk)
    assert job.status == JobStatus.FAILED and job.error == "column 3 is not a date"


@pytest.mark.django_db
def test_a_job_is_not_forked_inside_a_transaction() -> None:
    with pytest.raises(RuntimeError, match="inside a transaction"):
        job_run_forked(start("test-remember").pk)


def _env(**extra: str) -> dict[str, str]:
    # Without REDIS_URL the worker is the database queue's, which forks each job itself.
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


@pytest.mark.django_db(transaction=True)
def test_the_database_queue_worker_runs_a_queued_import_in_a_child(tmp_path: Path) -> None:
    env = _env()
    job, bad = _queue_import(tmp_path, 300, env)
    assert job.status == JobStatus.PENDING
    worker = subprocess.Popen(  # noqa: S603 - our own command
        [sys.executable, "manage.py", "worker", "--burst"], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True
    )
    _, log = worker.communicate(timeout=120)
    assert worker.returncode == 0, log
    child = re.search(rf"job {job.pk} started in process (\d+)", log)
    assert child and int(child[1]) != worker.pid, log
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.result["created"] == Contact.objects.count() == 300 - len(bad)


@pytest.mark.django_db(transaction=True)
def test_a_killed_worker_takes_its_job_process_along(tmp_path: Path) -> None:
    env = _env(GUANXI_IMPORT_BATCH_SIZE="100", GUANXI_IMPORT_PAUSE="0.2")
    job, _ = _queue_import(tmp_path, 3000, env)
    worker = subprocess.Popen(  # noqa: S603 - our own command
        [sys.executable, "manage.py", "worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while (job.checkpoint or {}).get("rows", 0) < 300:
            assert time.monotonic() < deadline, "the worker did not commit a batch in time"
            assert worker.poll() is None, worker.communicate()
            time.sleep(0.05)
            job.refresh_from_db()
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    time.sleep(1.0)  # a batch in flight may still commit before the kernel's SIGKILL lands
    job.refresh_from_db()
    stopped_at = job.checkpoint["rows"]
    time.sleep(1.5)  # a child left running would commit several more batches of 100 meanwhile
    job.refresh_from_db()
    assert job.checkpoint["rows"] == stopped_at < 3000
    assert job.status == JobStatus.RUNNING, "left for the stale-heartbeat resume, as after any crash"
