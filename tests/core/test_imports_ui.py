"""The import wizard pages: upload, mapping and preview, start, progress, result and error file, and the
Import button on the lists. (The pages' permission matrix: tests/core/imports_policies.py.)"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from guanxi.core.models import Job
from guanxi.customers.models import Contact
from tests.customers.test_import import ZH_HEADER, csv_bytes, good_row
from tests.factories import AdminFactory, RoleFactory, UserFactory, grant

GBK_ROWS = [
    ZH_HEADER,
    good_row(1),
    good_row(2),
    [*good_row(3)[:2], "123", *good_row(3)[3:]],
    [*good_row(4)[:3], "bad@", *good_row(4)[4:]],
]


@pytest.fixture
def zh_admin(db: None) -> Any:
    return AdminFactory(email="zh@example.com", display_name="管理员", language="zh-hans")


@pytest.fixture
def browser(zh_admin: Any, django_capture_on_commit_callbacks: Any) -> Client:
    class JobClient(Client):
        def request(self, **request: Any) -> Any:
            with django_capture_on_commit_callbacks(execute=True):
                return super().request(**request)

    c = JobClient(HTTP_ACCEPT_LANGUAGE="zh-hans")
    c.force_login(zh_admin)
    return c


def test_wizard_in_chinese(browser: Client) -> None:
    contacts = browser.get(reverse("ui:contacts-list"))
    assert contacts.status_code == 200
    new_url = reverse("ui:imports-new", args=["contacts"])
    assert new_url.encode() in contacts.content and b'id="import-button"' in contacts.content
    page = browser.get(new_url)
    assert page.status_code == 200 and b'id="import-upload-form"' in page.content
    upload = browser.post(
        new_url, {"file": SimpleUploadedFile("联系人.csv", csv_bytes(GBK_ROWS, "gbk")), "duplicate_policy": "skip"}
    )
    assert upload.status_code == 302
    job = Job.objects.get()
    detail = browser.get(upload["Location"])
    html = detail.content.decode()
    assert detail.status_code == 200
    assert 'id="import-columns"' in html and 'value="mobile" selected' in html and 'value="name" selected' in html
    assert html.count("table-danger") == 2, "the two bad rows are highlighted in the preview"
    # Map 手机 to nothing and refresh: the preview follows (the bad phone row is no longer bad).
    data = {f"map_{i}": job.params["mapping"][h] for i, h in enumerate(job.params["headers"])}
    data["map_2"] = ""
    refreshed = browser.post(upload["Location"], {**data, "action": "preview", "duplicate_policy": "skip"})
    assert refreshed.content.decode().count("table-danger") == 1
    job.refresh_from_db()
    assert job.params["mapping"]["手机"] == "mobile", "a preview changes nothing"
    data["map_2"] = "mobile"
    started = browser.post(upload["Location"], {**data, "action": "start", "duplicate_policy": "skip"})
    assert started.status_code == 302
    result = browser.get(started["Location"]).content.decode()
    assert (
        'id="import-progress"' in result and 'data-count="created">2<' in result and 'data-count="failed">2<' in result
    )
    assert "every 1s" not in result, "a finished import stops polling"
    errors = browser.get(reverse("ui:imports-errors", args=[job.pk]))
    body = b"".join(errors.streaming_content).decode("utf-8-sig")
    with translation.override("zh-hans"):
        expected_header = ",".join([_("Row"), _("Column"), _("Value"), _("Reason"), *ZH_HEADER])
    assert body.splitlines()[0] == expected_header, "the error file speaks the importer's language"
    assert {line.split(",")[0] for line in body.splitlines()[1:]} == {"4", "5"}
    assert Contact.objects.count() == 2
    listing = browser.get(reverse("ui:imports-list")).content.decode()
    assert f'data-pk="{job.pk}"' in listing


def test_progress_partial_polls_while_running(browser: Client, zh_admin: Any) -> None:
    job = Job.objects.create(
        kind="import",
        user=zh_admin,
        status="running",
        total=100,
        processed=40,
        params={"type": "contacts", "headers": [], "mapping": {}, "started": True, "file_name": "a.csv"},
    )
    part = browser.get(reverse("ui:imports-detail", args=[job.pk]) + "?part=progress", HTTP_HX_REQUEST="true")
    html = part.content.decode()
    assert 'hx-trigger="every 1s"' in html and 'value="40"' in html and "<html" not in html


def test_wizard_refuses_bad_files_and_mappings(browser: Client) -> None:
    new_url = reverse("ui:imports-new", args=["contacts"])
    empty = browser.post(new_url, {"file": SimpleUploadedFile("empty.csv", b"")})
    assert empty.status_code == 400 and not Job.objects.exists()
    assert browser.get(reverse("ui:imports-new", args=["nothing"])).status_code == 404
    upload = browser.post(new_url, {"file": SimpleUploadedFile("a.csv", csv_bytes(GBK_ROWS))})
    job = Job.objects.get()
    headers = job.params["headers"]
    data = {f"map_{i}": "" for i in range(len(headers))}  # nothing mapped: a name is needed
    refused = browser.post(upload["Location"], {**data, "action": "start"})
    assert refused.status_code == 400 and 'id="import-errors"' in refused.content.decode()
    job.refresh_from_db()
    assert job.status == "pending" and not Contact.objects.exists()


def test_import_button_only_for_users_who_may_import(db: None) -> None:
    role = RoleFactory(name="Rep")
    grant(role, "*", ("view", "add", "change", "delete"), "own")
    rep = UserFactory(role=role)
    c = Client()
    c.force_login(rep)
    assert b'id="import-button"' not in c.get(reverse("ui:contacts-list")).content
    assert c.get(reverse("ui:imports-new", args=["contacts"])).status_code == 403
    grant(role, "customers.contact", "import", "own")
    assert b'id="import-button"' in c.get(reverse("ui:contacts-list")).content
    assert b'id="import-button"' not in c.get(reverse("ui:accounts-list")).content
