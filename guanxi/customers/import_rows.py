"""Reading a contact or account import's rows: the cell helpers, ``_Row`` (one row's mapped
cells and its errors) and ``prepare_contacts`` / ``prepare_accounts``.

``prepare_*`` are pure (no database): they run in worker processes on chunks of rows and return
clean values or the reasons a row is refused. They also build what the writer would otherwise
build row by row in the writing process (a new contact's change-log JSON, duplicate key and search
columns: ``derive_contact``); that is why ``CONTACT_COLUMNS`` and ``custom_changes`` live here and
the writers import them.
"""

from __future__ import annotations

import datetime
import re
import unicodedata
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from django.utils.translation import gettext as _

from guanxi.core.errors import FieldErrors
from guanxi.core.filters import record_id
from guanxi.core.imports.cells import parse_date, parse_yes_no, unescape_cell
from guanxi.core.imports.custom import PREFIX as CF_PREFIX
from guanxi.core.imports.custom import read_custom_fields
from guanxi.core.imports.specs import PrepareContext, Prepared, RowError
from guanxi.core.jsontext import dumps
from guanxi.core.list_cells import QuoteError, split_list
from guanxi.core.money import parse_money
from guanxi.core.names import person_display_name, split_name
from guanxi.core.search.customers import contact_document
from guanxi.core.tags import check_scoped
from guanxi.core.tags import normalize as normalize_tag
from guanxi.customers.choices import (
    AccountSource,
    DecisionRole,
    Industry,
    LifecycleStage,
    SizeBand,
    Stance,
    size_band_for,
)
from guanxi.customers.duplicates import contact_dup_key
from guanxi.customers.import_fields import MAX_LENGTHS
from guanxi.customers.import_relations import read_relations
from guanxi.customers.normalize import (
    _CN_MOBILE_RE,
    DEFAULT_REGION,
    Phone,
    normalize_cn_province,
    normalize_country,
    normalize_email,
    normalize_phone,
    normalize_registration_number,
    normalize_website,
)

MAX_POINTS = 20

_TEXT_CONTACT = ("title", "department", "wechat_id", "city", "district", "postal_code")
# What an empty cell clears when the import says so (blank_cells = "clear"): plain values only. A
# name, the emails, phones, tags, companies, owner, country and parent stay: a record needs a name
# and an owner, and the others are lists or links an update adds to.
_CLEARABLE_CONTACT = (
    "title", "department", "wechat_id", "decision_role", "stance", "source", "birthday", "province", "city",
    "district", "street", "postal_code", "description", "external_id",
)  # fmt: skip
_CLEARABLE_ACCOUNT = (
    "legal_name", "registration_number", "industry", "size", "employee_count", "annual_revenue", "website",
    "region", "province", "city", "district", "street", "postal_code", "source", "description", "external_id",
)  # fmt: skip
_TEXT_ACCOUNT = ("legal_name", "region", "city", "district", "postal_code", "parent", "parent_external_id")

#: The contact columns an import writes (``ContactWriter.columns``); here because ``derive_contact``
#: logs them for a new contact where ``prepare`` runs.
CONTACT_COLUMNS = (
    "family_name", "given_name", "display_name", "title", "department", "wechat_id", "decision_role", "stance",
    "source", "birthday", "birthday_lunar", "country", "province", "city", "district", "street", "postal_code",
    "description", "external_id", "emails", "phones",
)  # fmt: skip

# --- cell helpers -------------------------------------------------------------------------------------

_EMAIL_SPLIT_RE = re.compile(r"[;,，；\s]+")
_PHONE_SPLIT_RE = re.compile(r"[;,，；/、]+")


def _clean(text: str) -> str:
    return " ".join(text.split()) if text else ""


# What people commonly write in a spreadsheet besides the labels themselves.
_CHOICE_SYNONYMS: dict[str, dict[str, str]] = {
    "lifecycle_stage": {
        "客户": "customer", "已成交": "customer", "成交": "customer", "潜在": "prospect", "意向客户": "prospect",
        "合作伙伴": "partner", "渠道": "partner", "流失": "churned", "流失客户": "churned", "lead": "prospect",
    },
    "decision_role": {
        "决策者": "decision_maker", "关键决策人": "decision_maker", "拍板人": "decision_maker", "采购": "buyer",
        "采购者": "buyer", "评估人": "evaluator", "技术评估": "evaluator", "影响者": "influencer", "使用者": "user",
        "用户": "user",
    },
    "stance": {"支持者": "supporter", "中立者": "neutral", "反对者": "opponent", "support": "supporter"},
    "industry": {
        "软件": "software", "it": "software", "互联网/it": "internet", "金融": "finance", "教育培训": "education",
    },
    # An account's or a person's source as people write it besides the labels (合作伙伴, 陌拜...).
    "source": {
        "官方网站": "website", "网站": "website", "推荐": "referral", "介绍": "referral", "陌拜": "cold_call",
        "陌生拜访": "cold_call", "社媒": "social", "合作伙伴": "partner", "渠道": "partner", "代理商": "partner",
        "其它": "other",
    },
}  # fmt: skip


@lru_cache(maxsize=256)
def _choice_lookup(kind: str) -> dict[str, str]:
    """Value, English and Chinese labels of a choice class, folded, -> value."""
    from django.utils import translation

    classes: dict[str, Any] = {
        "industry": Industry,
        "size": SizeBand,
        "lifecycle_stage": LifecycleStage,
        "source": AccountSource,
        "decision_role": DecisionRole,
        "stance": Stance,
    }
    out: dict[str, str] = dict(_CHOICE_SYNONYMS.get(kind, {}))
    for value, label in classes[kind].choices:
        out[str(value).lower()] = value
        for language in ("en", "zh-hans"):
            with translation.override(language):
                out[str(label).strip().lower()] = value
    return out


def _choice(kind: str, text: str) -> str:
    found = _choice_lookup(kind).get(text.strip().lower())
    if found is None:
        raise ValueError(_("“%(value)s” is not one of the choices.") % {"value": text[:40]})
    return found


def parse_amount(text: str) -> Decimal:
    """1,200,000 / ¥1200000 / 120万 / 1.2亿 (``core.money.parse_money``) -> Decimal to the cent;
    refuses negatives."""
    try:
        value = parse_money(text).quantize(Decimal("0.01"))
    except InvalidOperation:
        value = Decimal(10) ** 16  # too many digits to hold: said below
    if value < 0 or value >= Decimal(10) ** 16:
        raise ValueError(_("Use an amount from 0 to 9,999,999,999,999,999."))
    return value


class _Row:
    """Reads one row's mapped cells and collects its errors."""

    __slots__ = ("cells", "ctx", "errors", "values")

    def __init__(self, cells: list[str], ctx: PrepareContext):
        self.cells = cells
        self.ctx = ctx
        self.errors: list[RowError] = []
        self.values: dict[str, Any] = {}

    def get(self, name: str) -> str:
        index = self.ctx.columns.get(name)
        if index is None or index >= len(self.cells):
            return ""
        text = self.cells[index].strip()
        return unescape_cell(text) if text[:1] == "'" else text

    def fail(self, name: str, value: str, reason: str) -> None:
        self.errors.append(RowError(self.ctx.header_of(name), value, reason))

    def text(self, name: str, value: str | None = None) -> str:
        """A plain text, spaces folded, length checked. Formula-looking text stays text."""
        value = _clean(self.get(name) if value is None else value)
        limit = MAX_LENGTHS.get(name)
        if limit and len(value) > limit:
            self.fail(name, value, _("Too long: use at most %(n)s characters.") % {"n": limit})
            return ""
        return value

    def choices(self, *names: str) -> None:
        """Each named cell as its choice's stored value (a label in Chinese or English, the value, a
        usual word); one that is none of them fails on its column."""
        for name in names:
            raw = self.get(name)
            if raw:
                try:
                    self.values[name] = _choice(name, raw)
                except ValueError as exc:
                    self.fail(name, raw, str(exc))

    def place(self) -> str:
        """Country and (in China) province, like the services' ``clean_place``; returns the region."""
        country_raw = self.get("country")
        country = DEFAULT_REGION
        if country_raw:
            try:
                country = normalize_country(country_raw) or DEFAULT_REGION
            except ValueError as exc:
                self.fail("country", country_raw, str(exc))
        self.values["country"] = country
        province = self.get("province")
        if province and country == "CN":
            try:
                self.values["province"], region = normalize_cn_province(province)
                return region
            except ValueError as exc:
                self.fail("province", province, str(exc))
        elif province:
            self.values["province"] = self.text("province", province)
        street = self.get("street")
        if street:
            self.values["street"] = self.text("street", street)
        return ""

    def blanks(self, names: tuple[str, ...]) -> None:
        """With "empty cells clear" (``clear_blank``), the mapped columns of ``names`` and the mapped
        custom fields that are empty in this row, as ``values["blank"]``; updates clear them. A
        required custom field is never cleared."""
        if not self.ctx.options.get("clear_blank"):
            return
        required = {d.key for d in self.ctx.options.get("required_custom_fields") or ()}
        custom = [f"cf.{key}" for key in self.ctx.options.get("custom_fields") or {} if key not in required]
        masked = self.ctx.options.get("masked_columns") or ()  # the importer may not change them
        blank = [
            name for name in (*names, *custom) if name in self.ctx.columns and name not in masked and not self.get(name)
        ]
        if blank:
            self.values["blank"] = blank

    def masked(self) -> None:
        """The cells this row fills in of the columns the importer sees masked (号码脱敏), as
        ``values["masked"]`` (column -> text): the writer refuses them on a row that updates a
        record, whatever they hold (comparing them with the stored value would let a file test
        guesses of the hidden digits)."""
        given = {name: text for name in self.ctx.options.get("masked_columns") or () if (text := self.get(name))}
        if given:
            self.values["masked"] = given

    def tags(self, raw: str) -> None:
        """The tags cell: names split as ``list_cells`` reads them (a quoted one whole)."""
        try:
            tags = [normalize_tag(t) for t in split_list(raw)]
        except QuoteError as exc:
            self.fail("tags", raw, str(exc))
            return
        if any(len(t) > 60 for t in tags):
            self.fail("tags", raw, _("A tag has at most 60 characters."))
            return
        try:
            check_scoped(tags)
        except FieldErrors as exc:
            self.fail("tags", raw, " ".join(exc.errors["tags"]))
        else:
            self.values["tags"] = list(dict.fromkeys(tags))

    def shared(self) -> None:
        """The columns contacts and accounts share: record ID, owner, tags, description, external ID,
        custom fields; and which columns the importer sees masked the row fills in."""
        self.masked()
        typed_id = self.get("id")
        if typed_id:
            if pk := record_id(typed_id):
                self.values["id"] = pk
            else:
                self.fail(
                    "id", typed_id, _("Use the record ID of a Guanxi export (a whole number), or leave it empty.")
                )
        owner = self.get("owner")
        if owner:
            self.values["owner"] = unicodedata.normalize("NFKC", owner).strip().lower() if "@" in owner else owner
        tags_raw = self.get("tags")
        if tags_raw:
            self.tags(tags_raw)
        description = self.get("description")
        if description:
            self.values["description"] = description
        external = self.get("external_id")
        if external:
            self.values["external_id"] = self.text("external_id", external)
        definitions = self.ctx.options.get("custom_fields")
        if definitions:
            custom, users = read_custom_fields(self.get, self.fail, definitions)
            if custom:
                self.values["custom_fields"] = custom
            if users:
                self.values["custom_users"] = users


# --- contacts -----------------------------------------------------------------------------------------


def _contact_points(row: _Row, region: str) -> None:
    emails: list[dict[str, Any]] = []
    raw = row.get("email")
    if raw:
        seen: set[str] = set()
        for part in _EMAIL_SPLIT_RE.split(raw):
            if not part:
                continue
            try:
                value = normalize_email(part)
            except ValueError as exc:
                row.fail("email", raw, str(exc))
                break
            if value not in seen:
                seen.add(value)
                emails.append({"value": value, "label": "", "is_primary": not emails})
    phones: list[dict[str, Any]] = []
    seen_phones: set[tuple[str, str]] = set()
    for name, label in (("mobile", "mobile"), ("phone", "work")):
        raw = row.get(name)
        if not raw:
            continue
        for part in _PHONE_SPLIT_RE.split(raw):
            part = part.strip()
            if not part:
                continue
            try:
                # Most rows hold a bare mainland mobile: the pattern normalize_phone's fast path checks.
                if region == "CN" and len(part) == 11 and _CN_MOBILE_RE.fullmatch(part):
                    phone = Phone("+86" + part)
                else:
                    phone = normalize_phone(part, region)
            except ValueError as exc:
                row.fail(name, raw, str(exc))
                break
            key = (phone.e164, phone.extension)
            if key not in seen_phones:
                seen_phones.add(key)
                phones.append(
                    {"value": phone.e164, "extension": phone.extension, "label": label, "is_primary": not phones}
                )
    if len(emails) > MAX_POINTS or len(phones) > MAX_POINTS:
        row.fail("email" if len(emails) > MAX_POINTS else "phone", "", _("At most %(n)s entries.") % {"n": MAX_POINTS})
    if emails:
        row.values["emails"] = emails
    if phones:
        row.values["phones"] = phones


def prepare_contacts(rows: list[tuple[int, list[str]]], ctx: PrepareContext) -> list[Prepared]:
    """Validate and normalise contact rows (pure: runs in worker processes)."""
    out: list[Prepared] = []
    today = datetime.date.today()
    for line, cells in rows:
        row = _Row(cells, ctx)
        values = row.values
        family = row.text("family_name")
        given = row.text("given_name")
        if not family and not given:
            full = row.get("name")
            if len(full) > 200:
                row.fail("name", full, _("Too long: use at most %(n)s characters.") % {"n": 200})
            else:
                family, given = split_name(full)
                if len(family) > 100 or len(given) > 100:
                    row.fail("name", full, _("Too long: use at most %(n)s characters.") % {"n": 100})
        if not family and not given:
            if not row.errors and not row.get("id"):  # a row that names its record keeps that record's name
                column = (
                    "name"
                    if "name" in ctx.columns
                    else ("family_name" if "family_name" in ctx.columns else "given_name")
                )
                row.fail(column, "", _("Give a family name, a given name or both."))
        else:
            values["family_name"], values["given_name"] = family, given
            values["display_name"] = person_display_name(family, given)
        for name in _TEXT_CONTACT:
            raw = row.get(name)
            if raw:
                values[name] = row.text(name, raw)
        region = row.place()  # noqa: F841 - contacts keep no region
        _contact_points(row, values.get("country") or DEFAULT_REGION)
        birthday = row.get("birthday")
        if birthday:
            try:
                day = parse_date(birthday)
                if day > today:
                    row.fail("birthday", birthday, _("A birthday cannot be in the future."))
                elif day.year < 1900:
                    row.fail("birthday", birthday, _("Use a year from 1900 on."))
                else:
                    values["birthday"] = day.isoformat()
            except ValueError as exc:
                row.fail("birthday", birthday, str(exc))
        row.choices("decision_role", "stance", "source")
        lunar = row.get("birthday_lunar")
        if lunar:
            try:
                values["birthday_lunar"] = parse_yes_no(lunar)
            except ValueError as exc:
                row.fail("birthday_lunar", lunar, str(exc))
        company = row.get("company")
        if company:
            values["company"] = row.text("company", company)
        account_ext = row.get("account_external_id")
        if account_ext:
            values["account_external_id"] = row.text("account_external_id", account_ext)
        _manager(row)
        number = row.get("account_registration_number")
        if number:  # checked as the row's country writes it, as the account import does
            try:
                values["account_registration_number"] = normalize_registration_number(number, values["country"])
            except ValueError as exc:
                row.fail("account_registration_number", number, str(exc))
        row.shared()
        row.blanks(_CLEARABLE_CONTACT)
        if not row.errors:
            # JSON is built here, in the worker processes, not in the writing process.
            if "emails" in values:
                values["emails_json"] = dumps(values["emails"])
            if "phones" in values:
                values["phones_json"] = dumps(values["phones"])
            derive_contact(values)
        out.append(Prepared(line, values, row.errors))
    return out


def _manager(row: _Row) -> None:
    """The 直属上级 columns: an email, a name, or (instead of both) an external ID; found by the
    writer (``import_managers``), which may need the other rows of the batch."""
    ext = row.get("manager_external_id")
    text = row.get("manager")
    if ext:
        row.values["manager_ref"] = ("external_id", row.text("manager_external_id", ext))
    elif "@" in text:
        try:
            row.values["manager_ref"] = ("email", normalize_email(text))
        except ValueError as exc:
            row.fail("manager", text, str(exc))
    elif text:
        name = row.text("manager", text)
        if name:
            # As a display name is written: 张三 without a space, John Smith with one.
            row.values["manager_ref"] = ("name", person_display_name(*split_name(name)))


def derive_contact(values: dict[str, Any]) -> None:
    """What a new contact's row derives from its values, built where ``prepare`` runs (beside the
    writing process when the import has a second core): the change log's JSON, the duplicate
    blocking key and the search index columns."""
    changes = {name: [None, values[name]] for name in CONTACT_COLUMNS if values.get(name) not in (None, "")}
    changes.update(custom_changes({}, values.get("custom_fields") or {}))
    values["changes_json"] = dumps(changes)
    family, given = values.get("family_name", ""), values.get("given_name", "")
    values["dup_key"] = contact_dup_key(family, given)
    values["search_columns"] = contact_document(
        family, given, values.get("display_name", ""), values.get("emails"), values.get("phones")
    ).columns()


def custom_changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """Custom fields in a change log, by key (``cf.<key>``) as the services write them."""
    return {
        f"{CF_PREFIX}{key}": [before.get(key), after.get(key)]
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    }


# --- accounts -----------------------------------------------------------------------------------------


def prepare_accounts(rows: list[tuple[int, list[str]]], ctx: PrepareContext) -> list[Prepared]:
    """Validate and normalise account rows (pure: runs in worker processes)."""
    out: list[Prepared] = []
    for line, cells in rows:
        row = _Row(cells, ctx)
        values = row.values
        name = row.get("name")
        if not name:
            if not row.get("id"):  # a row that names its record keeps that record's name
                row.fail("name", "", _("Give the account a name."))
        else:
            values["name"] = row.text("name", name)
        for field in _TEXT_ACCOUNT:
            raw = row.get(field)
            if raw:
                values[field] = row.text(field, raw)
        row.choices("industry", "size", "lifecycle_stage", "source")
        raw = row.get("employee_count")
        if raw:
            cleaned = raw.replace(",", "").replace("人", "").strip()
            if cleaned.isascii() and cleaned.isdecimal() and int(cleaned) < 2**31:
                values["employee_count"] = int(cleaned)
                values.setdefault("size", size_band_for(int(cleaned)))
            else:
                row.fail("employee_count", raw, _("Use a whole number of people, e.g. 120."))
        raw = row.get("annual_revenue")
        if raw:
            try:
                values["annual_revenue"] = str(parse_amount(raw))
            except ValueError as exc:
                row.fail("annual_revenue", raw, str(exc))
        raw = row.get("currency")
        if raw:
            currency = raw.strip().upper()
            if len(currency) != 3 or not currency.isalpha():
                row.fail("currency", raw, _("Use a three-letter currency code such as CNY or USD."))
            else:
                values["currency"] = currency
        raw = row.get("website")
        if raw:
            try:
                values["website"] = normalize_website(raw)
            except ValueError as exc:
                row.fail("website", raw, str(exc))
        region = row.place()
        if region and not values.get("region"):
            values["region"] = region
        raw = row.get("registration_number")
        if raw:  # checked as the row's country writes it (统一社会信用代码 in China, the default)
            try:
                values["registration_number"] = normalize_registration_number(raw, values["country"])
            except ValueError as exc:
                row.fail("registration_number", raw, str(exc))
        read_relations(row)
        row.shared()
        row.blanks(_CLEARABLE_ACCOUNT)
        out.append(Prepared(line, values, row.errors))
    return out
