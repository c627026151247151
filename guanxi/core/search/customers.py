"""Accounts and contacts in the search index: how their documents are built and how hits read.

Registered by ``guanxi.customers`` when it starts (``register_customer_search``). Each builder reads
a batch in two queries at most; names share the per-character pinyin cache, so an import batch of
5,000 contacts costs a few milliseconds of Python beyond the queries.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils.translation import gettext_lazy as _

from guanxi.core.choices import Action
from guanxi.core.masking import masked_point
from guanxi.core.permissions import hidden_fields, masked_fields
from guanxi.core.search.registry import Document, Via, register_search_type


def _ids(pks: list[int]) -> Any:
    """The batch's ids for ``pk__in``: one parameter for a big batch (an import's 5,000), where Django
    would otherwise prepare and bind each id."""
    if len(pks) < 100:
        return pks
    from guanxi.core.search.backends import backend

    return backend().id_list([int(pk) for pk in pks])


def account_documents(pks: list[int]) -> dict[int, Document]:
    """Name (with pinyin), legal name, website and registration number of the live accounts among ``pks``."""
    from guanxi.customers.models import Account

    rows = Account.objects.filter(pk__in=_ids(pks)).values_list(
        "pk", "name", "legal_name", "website", "registration_number"
    )
    return {pk: account_document(*values) for pk, *values in rows.iterator(chunk_size=5000)}


def account_document(name: str, legal_name: str = "", website: str = "", registration_number: str = "") -> Document:
    """One account's document from its values (imports build it from the rows they write). A
    统一社会信用代码 pasted into the search box finds its company."""
    document = Document().add_name(name)
    if legal_name and legal_name != name:
        document.add_words(legal_name)
    if website:
        document.add_website(website)
    if registration_number:
        document.add_code(registration_number)
    return document


def contact_documents(pks: list[int]) -> dict[int, Document]:
    """Name (with pinyin), emails and phones of the live contacts among ``pks``, in one query.

    Company names are not copied in: contacts are found through their accounts at query time
    (``contacts_at_accounts``), so renaming an account rewrites nothing here.
    """
    from guanxi.customers.models import Contact

    rows = Contact.objects.filter(pk__in=_ids(pks)).values_list(
        "pk", "family_name", "given_name", "display_name", "emails", "phones"
    )
    return {pk: contact_document(*values) for pk, *values in rows.iterator(chunk_size=5000)}


def contact_document(family: str, given: str, display: str, emails: Any, phones: Any) -> Document:
    """One contact's document from its values; ``emails`` / ``phones`` as the contact stores them."""
    document = Document().add_person(family, given, display)
    for point in emails or ():
        document.add_email(point.get("value", "") if isinstance(point, dict) else str(point))
    for point in phones or ():
        document.add_phone(point.get("value", "") if isinstance(point, dict) else str(point))
    return document


def contacts_at_accounts(account_ids: list[int], limit: int) -> Iterable[tuple[int, int]]:
    """(account, contact) links of these accounts, newest contacts first, at most ``limit``."""
    from guanxi.customers.models import AccountContact

    links = AccountContact.objects.filter(account_id__in=account_ids).order_by("-contact_id")
    return links.values_list("account_id", "contact_id")[:limit]


def _place(account: Any) -> str:
    return " ".join(part for part in (account.city or "", account.province or "") if part) or account.region or ""


def account_hits(accounts: list[Any], user: Any) -> dict[Any, tuple[str, str]]:
    """Title: the name; subtitle: industry and place."""
    hidden = hidden_fields(user, "customers.account")
    out = {}
    for account in accounts:
        parts = []
        if account.industry and "industry" not in hidden:
            parts.append(str(account.get_industry_display()))
        if "city" not in hidden and "province" not in hidden:
            parts.append(_place(account))
        out[account.pk] = (account.name, " · ".join(p for p in parts if p))
    return out


def contact_hits(contacts: list[Any], user: Any) -> dict[Any, tuple[str, str]]:
    """Title: the name; subtitle: primary account (only one the reader may see), main phone or email,
    each left out when the reader's field rules hide it. One query for the accounts of all hits."""
    from guanxi.customers.forms import phone_text
    from guanxi.customers.models import Account, AccountContact

    hidden = hidden_fields(user, "customers.contact")
    masked = masked_fields(user, "customers.contact")
    company: dict[int, str] = {}
    if "accounts" not in hidden and contacts:
        # The links of these few contacts, then which of their accounts the reader may see: two small
        # queries (a subquery of every visible account would make the database read them all).
        links = list(
            AccountContact.objects.filter(contact_id__in=[c.pk for c in contacts])
            .order_by("-is_primary", "id")
            .values_list("contact_id", "account_id")
        )
        names = dict(
            Account.objects.restrict(user, Action.VIEW)
            .filter(pk__in={account_id for _contact, account_id in links})
            .values_list("pk", "name")
        )
        for contact_id, account_id in links:
            if account_id in names:
                company.setdefault(contact_id, names[account_id])
    out = {}
    for contact in contacts:
        parts = [company.get(contact.pk, "")]
        if contact.phones and "phones" not in hidden:
            parts.append(phone_text(contact.phones[0]))
        elif contact.phones and "phones" in masked:  # the number to tell two 张伟 apart, not to copy
            parts.append(masked_point(contact.phones[0])["value"])
        elif contact.emails and "emails" not in hidden:
            parts.append(contact.emails[0].get("value", ""))
        elif contact.emails and "emails" in masked:
            parts.append(masked_point(contact.emails[0])["value"])
        if contact.title and "title" not in hidden:
            parts.append(contact.title)
        out[contact.pk] = (contact.display_name, " · ".join(p for p in parts if p))
    return out


def register_customer_search() -> None:
    from guanxi.customers.models import Account, Contact

    register_search_type(
        key="accounts",
        model=Account,
        build=account_documents,
        present=account_hits,
        label=_("accounts"),
        guards={"other": "registration_number"},
    )
    register_search_type(
        key="contacts",
        model=Contact,
        build=contact_documents,
        present=contact_hits,
        label=_("contacts"),
        guards={"email": "emails", "phone": "phones"},
        via=[Via("accounts", contacts_at_accounts, guard="accounts")],
    )
