"""A contact as a vCard (3.0): 保存到通讯录 on a phone, or a card to hand on.

The card holds what the page shows the user: fields their role hides are left out, and the
companies are those ``restrict`` lets them see (the primary one first, as the page lists them). It
reads back through the contact import (``guanxi.core.imports.vcard``) as the same person.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse

from guanxi.core.exports import as_download
from guanxi.core.permissions import hidden_fields
from guanxi.customers.forms import LINKS_RULE
from guanxi.customers.models import Contact
from guanxi.customers.normalize import country_name, phone_display

#: vCard types of a phone's label; a mobile is also a voice line.
_PHONE_TYPES = {
    "mobile": ["CELL", "VOICE"],
    "work": ["WORK", "VOICE"],
    "home": ["HOME", "VOICE"],
    "fax": ["FAX"],
    "personal": ["VOICE"],
}
_EMAIL_TYPES = {"work": ["INTERNET", "WORK"], "home": ["INTERNET", "HOME"], "personal": ["INTERNET", "HOME"]}


def contact_vcard(contact: Contact, hidden: set[str], companies: list[str]) -> str:
    """The card's text (CRLF lines, folded as vCard asks); ``hidden`` the fields the reader's role
    hides, ``companies`` the account names they may see, the primary first."""
    import vobject

    card = vobject.vCard()
    card.add("n").value = vobject.vcard.Name(family=contact.family_name, given=contact.given_name)
    card.add("fn").value = contact.display_name or " "
    if companies and LINKS_RULE not in hidden:
        card.add("org").value = [companies[0], *([contact.department] if _shown(contact, "department", hidden) else [])]
    elif _shown(contact, "department", hidden):
        card.add("org").value = ["", contact.department]
    if _shown(contact, "title", hidden):
        card.add("title").value = contact.title
    if "emails" not in hidden:
        for point in contact.emails or []:
            line = card.add("email")
            line.value = point["value"]
            line.params["TYPE"] = _types(_EMAIL_TYPES.get(point.get("label", ""), ["INTERNET"]), point)
    if "phones" not in hidden:
        for point in contact.phones or []:
            line = card.add("tel")
            extension = point.get("extension") or ""
            line.value = phone_display(point["value"]) + (f" ext. {extension}" if extension else "")
            line.params["TYPE"] = _types(_PHONE_TYPES.get(point.get("label", ""), ["VOICE"]), point)
    if _shown(contact, "wechat_id", hidden):
        card.add("x-wechat").value = contact.wechat_id
    if contact.birthday is not None and "birthday" not in hidden:
        card.add("bday").value = contact.birthday.isoformat()
    if any(_shown(contact, name, hidden) for name in ("street", "city", "province", "postal_code")):
        card.add("adr").value = vobject.vcard.Address(
            street=_value(contact, "street", hidden),
            city=_value(contact, "city", hidden),
            region=_value(contact, "province", hidden),
            code=_value(contact, "postal_code", hidden),
            country=country_name(contact.country) if contact.country and "country" not in hidden else "",
        )
    return card.serialize()


def _types(types: list[str], point: dict[str, Any]) -> list[str]:
    """TYPE=CELL,VOICE,PREF as vCard 3.0 writes it (unquoted: some phones read a quoted list as one type)."""
    return [*types, "PREF"] if point.get("is_primary") else list(types)


def _shown(contact: Contact, name: str, hidden: set[str]) -> bool:
    return name not in hidden and bool(getattr(contact, name))


def _value(contact: Contact, name: str, hidden: set[str]) -> str:
    return getattr(contact, name) if _shown(contact, name, hidden) else ""


def contact_cards(contacts: list[Contact], user: Any) -> str:
    """The cards of a page of contacts, one after another: a list exported as .vcf
    (``Resource.cards``). Two queries for the page's companies, whatever its length."""
    from guanxi.customers.api import contact_accounts

    hidden = hidden_fields(user, Contact)
    links = contact_accounts(contacts, user)
    return "".join(
        contact_vcard(c, hidden, [link["account"]["display"] for link in links[c.pk]["accounts"]]) for c in contacts
    )


def vcard_response(contact: Contact, user: Any) -> HttpResponse:
    """The card as a download named after the person (张伟.vcf); a phone offers to add it."""
    response = HttpResponse(contact_cards([contact], user), content_type="text/vcard; charset=utf-8")
    name = (contact.display_name or "contact").replace("/", " ").replace("\\", " ")
    ascii_name = name.encode("ascii", "ignore").decode().strip().replace('"', "") or f"contact-{contact.pk}"
    as_download(response, f"{name}.vcf", f"{ascii_name}.vcf")
    return response
