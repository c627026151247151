"""Records older than the retention period leave the recycle bin for good; younger ones stay."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from guanxi.core.models import ChangeLogEntry, TaggedItem
from guanxi.core.services import record_delete, tags_set
from tests.factories import AdminFactory, GadgetFactory
from tests.testapp.models import Gadget

pytestmark = pytest.mark.django_db


def test_expired_records_are_purged_with_their_tags_and_logged(settings) -> None:
    settings.GUANXI_RECYCLE_BIN_DAYS = 30
    admin = AdminFactory()
    old, young, live = GadgetFactory(owner=admin), GadgetFactory(owner=admin), GadgetFactory(owner=admin)
    tags_set(old, ["x"])
    for gadget in (old, young):
        record_delete(model=Gadget, pk=gadget.pk, user=admin)
    Gadget.all_objects.filter(pk=old.pk).update(deleted_at=timezone.now() - timedelta(days=31))

    out = StringIO()
    call_command("purge_recycle_bin", stdout=out)

    assert "Purged 1 record(s)" in out.getvalue()
    assert set(Gadget.all_objects.values_list("pk", flat=True)) == {young.pk, live.pk}
    assert not TaggedItem.objects.filter(object_id=old.pk).exists()
    entry = ChangeLogEntry.objects.filter(object_id=old.pk, action="purge").get()
    assert entry.source == "job" and entry.actor is None and entry.changes["name"][0] == old.name
