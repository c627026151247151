"""Bringing an account or a contact back from the recycle bin (the resources' ``restore``)."""

from __future__ import annotations

from typing import Any

from guanxi.core import services as core_services
from guanxi.core.choices import Action
from guanxi.core.db import service_atomic
from guanxi.core.notices import notice
from guanxi.customers.duplicates import detect_after_commit
from guanxi.customers.guard import held_saved, refusals_told, refuse_restored
from guanxi.customers.models import Account, Contact


@refusals_told
def customer_restore(*, model: type[Account] | type[Contact], pk: Any, user: Any) -> Account | Contact:
    """Restore an account or a contact, guarded as adding it (撞单保护, ``guard.refuse_restored``):
    a role that refuses refuses it, naming whose customer it is, when a colleague has added it while
    it was in the bin; otherwise the holders are told once it is back, and the restorer whose customer
    it is (a ``notice``: the bin's page shows it). The duplicate detection looks at it again, as at a
    new record: it paired nothing with it while it was in the bin."""
    with service_atomic():
        record = core_services.record_lock(model, pk, user, Action.DELETE, deleted=True)
        held = refuse_restored(user, model, record)
        restored = core_services.record_restore(model=model, pk=pk, user=user, locked=record)
        detect_after_commit(model, [restored.pk])
        held_saved(user, model, held)
    for other in held:
        notice(other.restored_message(restored))
    return restored
