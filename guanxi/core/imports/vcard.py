"""Reading vCard files (.vcf): a phone's address book, or the cards a mail client exports, as rows.

A salesperson's contacts are often on the phone, not in a spreadsheet. iOS, Android, WeChat Work,
Outlook and Google Contacts all export vCard (3.0, or 2.1 with quoted-printable Chinese). Each
card becomes one row of fixed columns, headed by the contact import's own field labels, so the
import's automatic matching maps them and the rest of the import (validation, duplicates, batches,
the error file) is the same as for a CSV. vobject parses each card.

Rows are numbered by the card's place in the file (the first card is 1; the made-up header is 0),
so an error names "row 3" for the third card, and a resumed import skips cards by count as it skips
rows. A card vobject cannot read is a bad row with its line in the file; a card left open at the
end refuses the file (it was cut short). The file streams: one card is held at a time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from guanxi.core.errors import FieldErrors
from guanxi.core.list_cells import join_list

SUFFIXES = (".vcf", ".vcard")

#: The columns every card gives, in order: (key, header). The headers are the contact import's field
#: labels (the same messages), so they are matched automatically in either language.
COLUMNS: tuple[tuple[str, Any], ...] = (
    ("uid", gettext_lazy("external ID")),
    ("family", gettext_lazy("family name")),
    ("given", gettext_lazy("given name")),
    ("full", gettext_lazy("full name")),
    ("title", gettext_lazy("job title")),
    ("department", gettext_lazy("department")),
    ("company", gettext_lazy("company")),
    ("email", gettext_lazy("email")),
    ("mobile", gettext_lazy("mobile")),
    ("phone", gettext_lazy("phone")),
    ("wechat", gettext_lazy("WeChat ID")),
    ("birthday", gettext_lazy("birthday")),
    ("country", gettext_lazy("country")),
    ("province", gettext_lazy("province / state")),
    ("city", gettext_lazy("city")),
    ("street", gettext_lazy("street address")),
    ("postal_code", gettext_lazy("postal code")),
    ("note", gettext_lazy("description")),
    ("tags", gettext_lazy("tags")),
)
KEYS = tuple(key for key, _header in COLUMNS)

_MOBILE_TYPES = {"CELL", "MOBILE", "IPHONE"}
_WECHAT_PROPERTIES = ("x-wechat", "x-weixin", "x-wechat-id")
_WECHAT_SCHEMES = ("weixin:", "wechat:", "wxid:")
_FULL_DATE_RE = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})")
#: Phones write a birthday without its year as --MMDD (vCard 3/4) or with the made-up year 1604 (iOS).
_NO_YEAR_RE = re.compile(r"^(?:--|1604-?)(\d{2})-?(\d{2})")


def is_vcard(path: Path, head: bytes) -> bool:
    return path.suffix.lower() in SUFFIXES or head.lstrip(b"\xef\xbb\xbf \r\n\t").upper().startswith(b"BEGIN:VCARD")


def header() -> list[str]:
    return [capfirst(str(label)) for _key, label in COLUMNS]


def cards(path: Path, encoding: str) -> Iterator[tuple[int, int, str]]:
    """(card number, line where it begins, its text) for every BEGIN:VCARD … END:VCARD in the file.

    Lines outside a card are passed over; a card left open at the end of the file is refused."""
    number = 0
    lines: list[str] = []
    start = 0
    with path.open("r", encoding=encoding, errors="strict", newline="") as handle:
        try:
            for line_number, line in enumerate(handle, start=1):
                word = line.strip().upper()
                if word.startswith("BEGIN:VCARD"):
                    if lines:  # a card nested in a card (an AGENT) stays inside its card
                        lines.append(line)
                        continue
                    start, lines = line_number, [line]
                elif lines:
                    lines.append(line)
                    if word.startswith("END:VCARD") and _balanced(lines):
                        number += 1
                        yield number, start, "".join(lines)
                        lines = []
        except UnicodeDecodeError as exc:
            raise FieldErrors(
                {
                    "file": [
                        _("The file is not readable as %(encoding)s text: %(error)s")
                        % {"encoding": encoding, "error": exc.reason}
                    ]
                }
            ) from None
    if lines:
        raise FieldErrors({"file": [_("The card that begins on line %(line)s has no END:VCARD.") % {"line": start}]})


def _balanced(lines: list[str]) -> bool:
    upper = [line.strip().upper() for line in lines]
    return sum(u.startswith("BEGIN:VCARD") for u in upper) == sum(u.startswith("END:VCARD") for u in upper)


def rows(path: Path, encoding: str) -> Iterator[tuple[int, list[str]]]:
    """The header (number 0), then one row of ``KEYS`` per card, numbered from 1. A card vobject
    cannot read is an ``UnreadableRow``: a bad row in the error file, the other cards import."""
    from guanxi.core.imports.reading import UnreadableRow

    yield 0, header()
    for number, line, text in cards(path, encoding):
        try:
            yield number, card_cells(text)
        except ValueError as exc:
            reason = _("The card that begins on line %(line)s cannot be read: %(error)s") % {
                "line": line,
                "error": str(exc)[:200],
            }
            yield number, UnreadableRow(len(KEYS), reason, " ".join(text.split())[:200])


def card_cells(text: str) -> list[str]:
    """One card's cells, in the order of ``COLUMNS``; ValueError for a card vobject cannot read."""
    import vobject

    try:
        card = vobject.readOne(text, allowQP=True)
    except Exception as exc:  # vobject raises ParseError, and ValueError / IndexError on odd lines
        raise ValueError(str(exc)) from None
    values = dict.fromkeys(KEYS, "")
    notes: list[str] = []
    name = _first(card, "n")
    if name is not None and not isinstance(name, str):
        values["family"] = _text(name.family)
        values["given"] = " ".join(p for p in (_text(name.given), _text(name.additional)) if p)
    values["full"] = _text(_first(card, "fn"))
    org = _first(card, "org")
    if org:
        parts = [_text(p) for p in (org if isinstance(org, list) else [org])]
        values["company"] = parts[0]
        values["department"] = " / ".join(p for p in parts[1:] if p)
    values["title"] = _text(_first(card, "title"))
    values["email"] = "; ".join(_text(line.value) for line in _lines(card, "email") if _text(line.value))
    mobiles: list[str] = []
    phones: list[str] = []
    for tel in _lines(card, "tel"):
        number_text = _text(tel.value).removeprefix("tel:")
        if number_text:
            (mobiles if _types(tel) & _MOBILE_TYPES else phones).append(number_text)
    values["mobile"], values["phone"] = "; ".join(mobiles), "; ".join(phones)
    values["wechat"] = _wechat(card)
    values["birthday"] = _birthday(_text(_first(card, "bday")), notes)
    _address(card, values, notes)
    values["uid"] = _text(_first(card, "uid"))
    # What has no field of its own goes to the description, labelled, so the card loses nothing a
    # salesperson reads: a nickname, web pages.
    for nickname in _lines(card, "nickname"):
        notes.append(_("Nickname: %(name)s") % {"name": _text(nickname.value)})
    for url in _lines(card, "url"):
        notes.append(_("Web page: %(url)s") % {"url": _text(url.value)})
    note = "\n".join(line.strip() for line in str(_first(card, "note") or "").splitlines() if line.strip())
    values["note"] = "\n".join(p for p in (note, *notes) if p)
    categories = [_text(c) for line in _lines(card, "categories") for c in _as_list(line.value)]
    values["tags"] = join_list(c for c in categories if c)
    return [values[key] for key in KEYS]


def _lines(card: Any, name: str) -> list[Any]:
    return list(card.contents.get(name, []))


def _first(card: Any, name: str) -> Any:
    lines = _lines(card, name)
    return lines[0].value if lines else None


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return " ".join(_text(v) for v in value if _text(v))
    return " ".join(str(value).split())


def _types(line: Any) -> set[str]:
    """A property's types, as vCard 3 writes them (TYPE=CELL,VOICE) and as 2.1 does (TEL;CELL)."""
    found: set[str] = set()
    for value in [*line.params.get("TYPE", []), *getattr(line, "singletonparams", [])]:
        found.update(part.strip().upper() for part in str(value).split(","))
    return found


def _wechat(card: Any) -> str:
    for name in _WECHAT_PROPERTIES:
        value = _text(_first(card, name))
        if value:
            return value
    for line in _lines(card, "impp"):
        value = _text(line.value)
        service = " ".join(line.params.get("X-SERVICE-TYPE", [])).lower()
        lowered = value.lower()
        for scheme in _WECHAT_SCHEMES:
            if lowered.startswith(scheme):
                return value[len(scheme) :]
        if "wechat" in service or "weixin" in service:
            return value.split(":", 1)[-1]
    return ""


def _birthday(raw: str, notes: list[str]) -> str:
    """An ISO date for the birthday column. A birthday without its year has no place in a date
    field: it goes to the description instead ("生日：05-20"), so nothing on the card is lost."""
    if not raw:
        return ""
    without_year = _NO_YEAR_RE.match(raw)
    if without_year:
        notes.append(_("Birthday: %(date)s") % {"date": f"{without_year[1]}-{without_year[2]}"})
        return ""
    full = _FULL_DATE_RE.match(raw)
    return f"{full[1]}-{full[2]}-{full[3]}" if full else raw  # an odd value: the import says what is wrong


def _address(card: Any, values: dict[str, str], notes: list[str]) -> None:
    """The preferred address (TYPE=pref, else a work address, else the first) into its columns; any
    other address into the description, on a line of its own."""
    lines = _lines(card, "adr")
    if not lines:
        return
    lines.sort(key=lambda line: 0 if "PREF" in _types(line) else 1 if "WORK" in _types(line) else 2)
    adr = lines[0].value
    if isinstance(adr, str):  # a card that wrote its address as plain text
        values["street"] = _text(adr)
    else:
        values["street"] = " ".join(p for p in (_text(adr.street), _text(adr.extended), _text(adr.box)) if p)
        values["city"] = _text(adr.city)
        values["province"] = _text(adr.region)
        values["postal_code"] = _text(adr.code)
        values["country"] = _text(adr.country)
    for other in lines[1:]:
        value = other.value
        parts = (
            [value]
            if isinstance(value, str)
            else [value.country, value.region, value.city, value.street, value.extended, value.box, value.code]
        )
        text = " ".join(_text(p) for p in parts if _text(p))
        if text:
            notes.append(_("Other address: %(address)s") % {"address": text})
