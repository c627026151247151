"""The jobs API and pages: your own jobs only (superusers: all), progress, counters, files."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse

from guanxi.core.models import Job
from tests.conftest import session_api
from tests.factories import AdminFactory, UserFactory, client_for, make_token

pytestmark = pytest.mark.django_db


def make_job(user: Any, **kw: Any) -> Job:
    return Job.objects.create(kind=kw.pop("kind", "import"), user=user, object_type="customers.contact", **kw)


def test_jobs_list_shows_only_your_own_and_superusers_see_all() -> None:
    me, other, admin = UserFactory(), UserFactory(), AdminFactory()
    mine = [make_job(me) for _ in range(3)]
    theirs = make_job(other)
    body = session_api(me).get("jobs").json()
    assert [j["id"] for j in body["items"]] == [j.pk for j in reversed(mine)]
    assert body["next_cursor"] is None
    all_ids = {j["id"] for j in session_api(admin).get("jobs", {"limit": 200}).json()["items"]}
    assert {theirs.pk, *(j.pk for j in mine)} <= all_ids


def test_jobs_list_is_keyset_paginated_and_filtered(django_assert_max_num_queries: Any) -> None:
    me = UserFactory()
    jobs = [make_job(me, kind="export" if i % 2 else "import") for i in range(7)]
    api = session_api(me)
    seen: list[int] = []
    cursor = None
    while True:
        with django_assert_max_num_queries(6):
            body = api.get("jobs", {"limit": 3, **({"cursor": cursor} if cursor else {})}).json()
        seen += [j["id"] for j in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen == [j.pk for j in reversed(jobs)]
    exports = api.get("jobs", {"kind": "export"}).json()["items"]
    assert {j["kind"] for j in exports} == {"export"} and len(exports) == 3
    bad = api.get("jobs", {"status": "bogus"})
    assert bad.status_code == 400 and [e["field"] for e in bad.json()["errors"]] == ["status"]


def test_job_detail_fields_and_other_users_job_is_404() -> None:
    me, other = UserFactory(), UserFactory()
    job = make_job(me, status="running", total=200, processed=50, result={"created": 40, "failed": 10})
    body = session_api(me).get(f"jobs/{job.pk}").json()
    assert body["status"] == "running" and body["percent"] == 25
    assert (body["processed"], body["total"]) == (50, 200)
    assert body["result"] == {"created": 40, "failed": 10}
    assert body["file_url"] is None and body["page_url"] == reverse("ui:job-detail", args=[job.pk])
    response = session_api(other).get(f"jobs/{job.pk}")
    assert response.status_code == 404 and "created" not in response.content.decode()


def test_job_file_downloads_only_for_its_user() -> None:
    me, other = UserFactory(), UserFactory()
    job = make_job(me, status="succeeded")
    job.output_file.save("errors.csv", ContentFile(b"line,reason\n3,bad phone\n"), save=True)
    api = session_api(me)
    body = api.get(f"jobs/{job.pk}").json()
    assert body["file_url"] == f"/api/v1/jobs/{job.pk}/file" and body["file_name"] == "errors.csv"
    response = api.get(f"jobs/{job.pk}/file")
    assert response.status_code == 200 and b"".join(response.streaming_content).startswith(b"line,reason")
    assert "attachment" in response["Content-Disposition"]
    assert session_api(other).get(f"jobs/{job.pk}/file").status_code == 404
    assert client_for(other).get(reverse("ui:job-file", args=[job.pk])).status_code == 404
    ui = client_for(me).get(reverse("ui:job-file", args=[job.pk]))
    assert ui.status_code == 200 and b"".join(ui.streaming_content).endswith(b"bad phone\n")
    empty = make_job(me)
    assert api.get(f"jobs/{empty.pk}/file").status_code == 404


def test_a_token_needs_the_job_scope() -> None:
    me = UserFactory()
    job = make_job(me)
    _token, key = make_token(me, ["customers.contact:view"])
    client = Client()
    assert client.get("/api/v1/jobs", headers={"Authorization": f"Bearer {key}"}).status_code == 403
    _token, key = make_token(me, ["core.job:view"])
    response = client.get(f"/api/v1/jobs/{job.pk}", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200


def test_job_page_polls_until_finished_and_labels_counters() -> None:
    me = UserFactory(language="en")
    job = make_job(
        me,
        kind="export",
        status="running",
        total=10,
        processed=4,
        result={"created": 3, "updated": 1, "custom_thing": 7},
    )
    client = client_for(me)
    url = reverse("ui:job-detail", args=[job.pk])
    html = client.get(url).content.decode()
    assert 'hx-trigger="every 1s"' in html and 'value="40"' in html
    assert "Created" in html and "Updated" in html and "Custom thing" in html
    partial = client.get(url, headers={"HX-Request": "true", "HX-Target": "job-status"})
    assert partial.content.decode().lstrip().startswith('<div id="job-status"')
    Job.objects.filter(pk=job.pk).update(status="succeeded", processed=10)
    done = client.get(url, headers={"HX-Request": "true", "HX-Target": "job-status"}).content.decode()
    assert "hx-trigger" not in done and 'value="100"' in done
    failed = make_job(me, kind="export", status="failed", error="The file is not a CSV.")
    assert "The file is not a CSV." in client.get(reverse("ui:job-detail", args=[failed.pk])).content.decode()
    assert client_for(UserFactory()).get(url).status_code == 404


def test_an_import_job_opens_its_import_page() -> None:
    """The jobs list links every job to /jobs/<id>/; an import lives on its own page (mapping, start,
    error file), so that address leads there instead of showing a second, partial page."""
    me = UserFactory(language="en")
    job = make_job(me, kind="import", params={"file_name": "c.csv"})
    response = client_for(me).get(reverse("ui:job-detail", args=[job.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("ui:imports-detail", args=[job.pk])
    assert client_for(UserFactory()).get(reverse("ui:job-detail", args=[job.pk])).status_code == 404


def test_job_list_page_shows_your_jobs() -> None:
    me, other = UserFactory(language="en"), UserFactory()
    mine, theirs = make_job(me, kind="export"), make_job(other)
    html = client_for(me).get(reverse("ui:job-list")).content.decode()
    assert f'data-pk="{mine.pk}"' in html and f'data-pk="{theirs.pk}"' not in html
    assert reverse("ui:job-list") in client_for(me).get("/").content.decode()  # the user menu links here
    assert Client().get(reverse("ui:job-list")).status_code == 302
