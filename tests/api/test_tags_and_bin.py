"""Tags on records, and the recycle bin: soft delete -> bin -> restore -> purge."""

from __future__ import annotations

from typing import Any

import pytest

from guanxi.core.models import Tag, TaggedItem
from tests.conftest import Api, db_snapshot
from tests.factories import GadgetFactory, TeamFactory, attach, note, share, tag
from tests.testapp.models import Gadget


class TestTags:
    def test_set_on_create_and_returned_sorted(self, admin_api: Api) -> None:
        response = admin_api.post("gadgets", {"name": "x", "tags": ["重点", "b", "a", " a ", ""]})
        assert response.status_code == 201
        assert response.json()["tags"] == ["a", "b", "重点"]
        pk = response.json()["id"]
        assert admin_api.get(f"gadgets/{pk}").json()["tags"] == ["a", "b", "重点"]
        assert [i["tags"] for i in admin_api.get("gadgets").json()["items"]] == [["a", "b", "重点"]]
        assert set(Tag.objects.values_list("name", flat=True)) == {"a", "b", "重点"}

    def test_patch_replaces_and_empty_clears(self, admin_api: Api, admin_user: Any) -> None:
        g = GadgetFactory(owner=admin_user)
        tag(g, "old", "keep")
        assert admin_api.patch(f"gadgets/{g.pk}", {"tags": ["keep", "new"]}).json()["tags"] == ["keep", "new"]
        assert admin_api.patch(f"gadgets/{g.pk}", {"name": "no tags sent"}).json()["tags"] == ["keep", "new"]
        assert admin_api.patch(f"gadgets/{g.pk}", {"tags": []}).json()["tags"] == []
        assert not TaggedItem.objects.filter(object_id=g.pk).exists()
        assert Tag.objects.filter(name="old").exists()  # the vocabulary stays

    def test_tag_too_long(self, admin_api: Api) -> None:
        before = db_snapshot()
        response = admin_api.post("gadgets", {"name": "x", "tags": ["x" * 61]})
        assert response.status_code == 400 and response.json()["errors"][0]["field"] == "tags"
        assert not before.changed_tables(db_snapshot())

    def test_tags_of_other_records_are_untouched(self, admin_api: Api, admin_user: Any) -> None:
        a, b = GadgetFactory(owner=admin_user), GadgetFactory(owner=admin_user)
        tag(b, "b-tag")
        admin_api.patch(f"gadgets/{a.pk}", {"tags": ["a-tag"]})
        assert admin_api.get(f"gadgets/{b.pk}").json()["tags"] == ["b-tag"]

    def test_deleting_a_tag_untags_records(self, admin_api: Api, admin_user: Any) -> None:
        g = GadgetFactory(owner=admin_user)
        tag(g, "gone", "stays")
        assert admin_api.delete(f"tags/{Tag.objects.get(name='gone').pk}").status_code == 204
        assert admin_api.get(f"gadgets/{g.pk}").json()["tags"] == ["stays"]


class TestRecycleBin:
    def test_full_cycle(self, admin_api: Api, admin_user: Any) -> None:
        g = GadgetFactory(owner=admin_user, name="Cycle")
        tag(g, "vip")
        assert admin_api.delete(f"gadgets/{g.pk}").status_code == 204
        # gone from lists and detail
        assert admin_api.get(f"gadgets/{g.pk}").status_code == 404
        assert g.pk not in [i["id"] for i in admin_api.get("gadgets").json()["items"]]
        assert admin_api.patch(f"gadgets/{g.pk}", {"name": "x"}).status_code == 404
        # in the bin, with who and when
        items = admin_api.get("recycle-bin", {"object_type": "testapp.gadget"}).json()["items"]
        assert [i["id"] for i in items] == [g.pk]
        assert items[0]["deleted_by"] == admin_user.pk and items[0]["deleted_at"] and items[0]["tags"] == []
        # restore brings it back as it was
        restored = admin_api.post(f"recycle-bin/testapp.gadget/{g.pk}/restore")
        assert restored.status_code == 200 and restored.json()["name"] == "Cycle"
        assert admin_api.get(f"gadgets/{g.pk}").json()["tags"] == ["vip"]
        assert admin_api.get("recycle-bin", {"object_type": "testapp.gadget"}).json()["items"] == []
        # delete again and purge: gone for good, with what hung on it
        attach(g)
        note(g, owner=admin_user)
        admin_api.delete(f"gadgets/{g.pk}")
        assert admin_api.delete(f"recycle-bin/testapp.gadget/{g.pk}").status_code == 204
        assert not Gadget.all_objects.filter(pk=g.pk).exists()
        assert not TaggedItem.objects.filter(object_id=g.pk, content_type__model="gadget").exists()
        assert admin_api.post(f"recycle-bin/testapp.gadget/{g.pk}/restore").status_code == 404

    def test_live_records_cannot_be_purged_or_restored(self, admin_api: Api, admin_user: Any) -> None:
        g = GadgetFactory(owner=admin_user)
        before = db_snapshot()
        assert admin_api.delete(f"recycle-bin/testapp.gadget/{g.pk}").status_code == 404
        assert admin_api.post(f"recycle-bin/testapp.gadget/{g.pk}/restore").status_code == 404
        assert not before.changed_tables(db_snapshot())

    @pytest.mark.parametrize("object_type", ["core.tag", "identity.user", "nope.nope", "testapp", ""])
    def test_types_without_a_bin(self, admin_api: Api, object_type: str) -> None:
        response = admin_api.get("recycle-bin", {"object_type": object_type})
        assert response.status_code == 400
        assert [e["field"] for e in response.json()["errors"]] == ["object_type"]

    def test_object_type_is_required(self, admin_api: Api) -> None:
        assert admin_api.get("recycle-bin").status_code == 400

    def test_teams_use_the_bin_too(self, admin_api: Api) -> None:
        team = TeamFactory(name="East")
        admin_api.delete(f"teams/{team.pk}")
        assert [i["id"] for i in admin_api.get("recycle-bin", {"object_type": "identity.team"}).json()["items"]] == [
            team.pk
        ]
        assert admin_api.post(f"recycle-bin/identity.team/{team.pk}/restore").status_code == 200

    def test_restore_when_the_name_was_taken_meanwhile(self, admin_api: Api) -> None:
        team = TeamFactory(name="East")
        admin_api.delete(f"teams/{team.pk}")
        assert admin_api.post("teams", {"name": "East"}).status_code == 201
        before = db_snapshot()
        response = admin_api.post(f"recycle-bin/identity.team/{team.pk}/restore")
        assert response.status_code == 400
        assert not before.changed_tables(db_snapshot())

    def test_bin_is_paginated(self, admin_api: Api, admin_user: Any) -> None:
        pks = []
        for _ in range(5):
            g = GadgetFactory(owner=admin_user)
            admin_api.delete(f"gadgets/{g.pk}")
            pks.append(g.pk)
        seen, cursor = [], None
        while True:
            params = {"object_type": "testapp.gadget", "limit": 2, **({"cursor": cursor} if cursor else {})}
            body = admin_api.get("recycle-bin", params).json()
            seen += [i["id"] for i in body["items"]]
            cursor = body["next_cursor"]
            if not cursor:
                break
        assert seen == sorted(pks, reverse=True)

    def test_shares_of_a_binned_record_stop_working(self, principals: Any) -> None:
        from tests.conftest import session_api

        other, owner = principals.users["other"], principals.users["owner"]
        g = GadgetFactory(owner=other)
        share(g, user=owner, access="change")
        owner_api = session_api(owner)
        assert owner_api.get(f"gadgets/{g.pk}").status_code == 200
        assert session_api(other).delete(f"gadgets/{g.pk}").status_code == 204
        assert owner_api.get(f"gadgets/{g.pk}").status_code == 404
        # a change-share does not give delete rights, so the bin stays closed to them
        assert owner_api.post(f"recycle-bin/testapp.gadget/{g.pk}/restore").status_code == 403
