"""Importing contacts and accounts: the two import types the import framework offers
(``register_importers``) and what runs once each batch has committed (``after_batch``).

The parts live in modules of their own, each importing only from those above it in this list:

* ``import_fields``: the fields a column can feed (header aliases, hints) and ``MAX_LENGTHS``.
* ``import_rows``: the cell helpers, ``_Row`` and the pure ``prepare_contacts`` / ``prepare_accounts``,
  which run in worker processes and validate and normalise each row.
* ``import_writers``: the ``Writer`` base the two writers share (owners, matching duplicates,
  permissions, change log, tags) and the helpers of their updates.
* ``import_contacts``: ``ContactWriter`` (people, contact points, account links); its 直属上级 column
  is ``import_managers``.
* ``import_accounts``: ``AccountWriter`` (companies, parents, contacts following a new owner); its
  关联企业 column is ``import_relations``.

Each module's docstring states the decisions of its part.
"""

from __future__ import annotations

from django.utils.translation import pgettext_lazy

from guanxi.core.imports.specs import BatchResult, ImportSpec, import_spec_register
from guanxi.customers.import_accounts import AccountWriter
from guanxi.customers.import_contacts import ContactWriter
from guanxi.customers.import_fields import ACCOUNT_FIELDS, CONTACT_FIELDS
from guanxi.customers.import_rows import prepare_accounts, prepare_contacts
from guanxi.customers.models import Account, Contact


def after_batch(result: BatchResult) -> None:
    """Accounts written by a batch get their tier and fit recomputed once it commits."""
    from guanxi.customers.services.common import classify_after_commit

    pks = result.written.get(Account)
    if pks:
        classify_after_commit(list(pks))


def register_importers() -> None:
    import_spec_register(
        ImportSpec(
            type="contacts",
            model=Contact,
            fields=CONTACT_FIELDS,
            required_any=(("name", "family_name", "given_name"),),
            prepare=prepare_contacts,
            writer=ContactWriter,
            label=pgettext_lazy("import type", "Contacts"),
            on_batch=after_batch,
            reads_vcard=True,
        )
    )
    import_spec_register(
        ImportSpec(
            type="accounts",
            model=Account,
            fields=ACCOUNT_FIELDS,
            required_any=(),
            prepare=prepare_accounts,
            writer=AccountWriter,
            label=pgettext_lazy("import type", "Accounts"),
            on_batch=after_batch,
        )
    )
