"""Notes and attachments on a record: validation, limits, download headers, timeline entries."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from guanxi.core.models import Attachment, Note, TimelineEntry
from tests.conftest import Api, db_snapshot
from tests.factories import GadgetFactory, TagFactory, content_type_of, note


@pytest.fixture
def gadget(admin_user: Any) -> Any:
    return GadgetFactory(owner=admin_user)


def upload(api: Api, obj: Any, name: str = "offer.pdf", content: bytes = b"%PDF-1.4", ct: int | None = None) -> Any:
    data = {
        "content_type": ct or content_type_of(obj).pk,
        "object_id": obj.pk,
        "file": SimpleUploadedFile(name, content),
    }
    return api.upload("attachments", data)


def refused(response: Any, field: str, before: Any) -> None:
    assert response.status_code == 400, response.content
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert not before.changed_tables(db_snapshot())


class TestAttachments:
    def test_upload_download_and_timeline(self, admin_api: Api, gadget: Any) -> None:
        response = upload(admin_api, gadget, "报价单.pdf", b"%PDF-1.4 quote")
        assert response.status_code == 201
        data = response.json()
        assert (data["name"], data["size"], data["mime_type"]) == ("报价单.pdf", 14, "application/pdf")
        download = admin_api.get(f"attachments/{data['id']}/download")
        assert download.status_code == 200
        assert b"".join(download.streaming_content) == b"%PDF-1.4 quote"
        assert download["Content-Type"] == "application/pdf"
        assert download["X-Content-Type-Options"] == "nosniff"
        assert download["Content-Disposition"].startswith("attachment")
        assert TimelineEntry.objects.filter(object_id=gadget.pk, kind="attachment").count() == 1
        listed = admin_api.get("attachments", {"object_id": gadget.pk}).json()["items"]
        assert [a["id"] for a in listed] == [data["id"]]

    @pytest.mark.parametrize("name", ["run.exe", "page.html", "script.svg", "noextension"])
    def test_types_outside_the_allow_list(self, admin_api: Api, gadget: Any, name: str) -> None:
        before = db_snapshot()
        refused(upload(admin_api, gadget, name, b"MZ..."), "file", before)

    def test_empty_file(self, admin_api: Api, gadget: Any) -> None:
        before = db_snapshot()
        refused(upload(admin_api, gadget, "empty.txt", b""), "file", before)

    def test_too_large(self, admin_api: Api, gadget: Any, settings: Any) -> None:
        settings.GUANXI_ATTACHMENT_MAX_BYTES = 10
        before = db_snapshot()
        refused(upload(admin_api, gadget, "big.txt", b"x" * 11), "file", before)

    def test_only_on_records_with_a_timeline(self, admin_api: Api) -> None:
        tag = TagFactory()
        before = db_snapshot()
        refused(upload(admin_api, tag), "content_type", before)
        refused(upload(admin_api, tag, ct=999999), "content_type", before)

    def test_path_traversal_in_the_name_is_dropped(self, admin_api: Api, gadget: Any) -> None:
        response = upload(admin_api, gadget, "../../etc/passwd.txt", b"x")
        assert response.status_code == 201
        stored = Attachment.objects.get(pk=response.json()["id"])
        assert stored.name == "passwd.txt" and ".." not in stored.file.name

    def test_delete_removes_the_file(self, admin_api: Api, gadget: Any) -> None:
        pk = upload(admin_api, gadget).json()["id"]
        stored = Attachment.objects.get(pk=pk)
        assert stored.file.storage.exists(stored.file.name)

        assert admin_api.delete(f"attachments/{pk}").status_code == 204
        assert not Attachment.objects.filter(pk=pk).exists()


class TestNotes:
    def test_empty_body(self, admin_api: Api, gadget: Any) -> None:
        before = db_snapshot()
        ct = content_type_of(gadget).pk
        refused(admin_api.post("notes", {"content_type": ct, "object_id": gadget.pk, "body": "   "}), "body", before)

    def test_a_note_cannot_move(self, admin_api: Api, gadget: Any, admin_user: Any) -> None:
        n = note(gadget, owner=admin_user, body="stay")
        other = GadgetFactory(owner=admin_user)
        ct = content_type_of(gadget).pk
        before = db_snapshot()
        for method in ("put", "patch"):
            response = getattr(admin_api, method)(
                f"notes/{n.pk}", {"content_type": ct, "object_id": other.pk, "body": "x"}
            )
            refused(response, "object_id", before)
        response = admin_api.put(f"notes/{n.pk}", {"content_type": ct, "object_id": gadget.pk, "body": "edited"})
        assert response.status_code == 200 and response.json()["body"] == "edited"

    def test_notes_on_records_without_a_timeline(self, admin_api: Api) -> None:
        tag = TagFactory()
        before = db_snapshot()
        body = {"content_type": content_type_of(tag).pk, "object_id": tag.pk, "body": "x"}
        refused(admin_api.post("notes", body), "content_type", before)

    def test_a_note_goes_on_the_timeline_and_to_the_bin(self, admin_api: Api, gadget: Any) -> None:
        ct = content_type_of(gadget).pk
        pk = admin_api.post("notes", {"content_type": ct, "object_id": gadget.pk, "body": "called"}).json()["id"]
        assert TimelineEntry.objects.filter(object_id=gadget.pk, kind="note", data__note_id=pk).exists()
        assert admin_api.delete(f"notes/{pk}").status_code == 204
        assert Note.all_objects.get(pk=pk).deleted_at is not None
        items = admin_api.get("recycle-bin", {"object_type": "core.note"}).json()["items"]
        assert [i["id"] for i in items] == [pk]
        assert admin_api.post(f"recycle-bin/core.note/{pk}/restore").status_code == 200
