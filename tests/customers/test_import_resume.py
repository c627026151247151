"""A real worker process is killed (SIGKILL) in the middle of an import; resuming it leaves no partial
row and no duplicate, and progress was visible through the API while it ran."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone

from guanxi.core.models import ChangeLogEntry, Job
from guanxi.customers.models import AccountContact, Contact, ContactPoint
from tests.customers.test_import import mixed_file
from tests.factories import AdminFactory

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_killed_worker_resumes_without_partial_rows_or_duplicates(
    tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    admin = AdminFactory(email="importer@example.com", language="en")
    content, bad = mixed_file(6000)
    path = tmp_path / "contacts.csv"
    path.write_bytes(content)
    media = Path(settings.MEDIA_ROOT)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "GUANXI_TESTING": "1",
        "DATABASE_URL": database_url(),
        "GUANXI_MEDIA_ROOT": str(media),
        "GUANXI_IMPORT_BATCH_SIZE": "500",
        "GUANXI_IMPORT_PAUSE": "0.4",
    }
    worker = subprocess.Popen(  # noqa: S603 - our own command
        [sys.executable, "manage.py", "import", str(path), "--type", "contacts", "--user", admin.email],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    client = Client()
    client.force_login(admin)
    seen_running: dict[str, Any] = {}
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            job = Job.objects.filter(kind="import").first()
            if job is not None and (job.checkpoint or {}).get("rows", 0) >= 1500:
                body = client.get(f"/api/v1/imports/{job.pk}").json()
                if body["status"] == "running" and body["processed"] > 0:
                    seen_running = body
                    break
            assert worker.poll() is None, worker.communicate()
            time.sleep(0.05)
        else:
            pytest.fail("the worker did not commit a batch in time")
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    assert seen_running["status"] == "running"
    assert 0 < seen_running["percent"] < 100 and seen_running["total"] == 6000

    job = Job.objects.get(kind="import")
    consumed = job.checkpoint["rows"]
    assert consumed % 500 == 0 and 1500 <= consumed < 6000
    # Exactly the committed batches are in: their good rows, nothing of the batch in flight.
    good_committed = consumed - sum(1 for line in bad if line - 2 < consumed)
    assert Contact.objects.count() == job.checkpoint["created"] == good_committed
    assert ContactPoint.objects.filter(kind="phone").count() == good_committed
    assert ChangeLogEntry.objects.filter(source="import", content_type__model="contact").count() == good_committed

    # The worker is gone; once its heartbeat is stale the import can be resumed through the API.
    response = client.post(f"/api/v1/imports/{job.pk}/start", "{}", content_type="application/json")
    assert response.status_code == 409, "a running job with a fresh heartbeat is not started twice"
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/api/v1/imports/{job.pk}/start", "{}", content_type="application/json")
    assert response.status_code == 202, response.content
    body = client.get(f"/api/v1/imports/{job.pk}").json()
    assert body["status"] == "succeeded", body
    good = 6000 - len(bad)
    assert body["result"] == {"created": good, "updated": 0, "skipped": 0, "failed": len(bad)}
    assert Contact.objects.count() == good
    assert Contact.objects.values("external_id").distinct().count() == good
    assert ContactPoint.objects.filter(kind="phone").count() == good
    assert AccountContact.objects.count() == good
    assert ChangeLogEntry.objects.filter(source="import", content_type__model="contact").count() == good
    errors = b"".join(client.get(f"/api/v1/imports/{job.pk}/errors").streaming_content).decode("utf-8-sig")
    lines = [int(line.split(",", 1)[0]) for line in errors.splitlines()[1:]]
    assert sorted(lines) == sorted(bad), "every bad row reported once, none twice"
