"""Importing contacts and accounts: the fields a column can feed, row validation, and the bulk writers.

``prepare_*`` are pure (no database): they run in worker processes on chunks of rows and return
clean values or the reasons a row is refused. The writers run in the import job, one batch per
transaction, and write what the contact and account services would: the records, contact points,
account links, tags, and one change-log row per created or updated record (source "import").

Decisions:

* Duplicates are matched by external ID, then (contacts) email, then phone, or (accounts) the
  registration number (统一社会信用代码), then exact name, among live records. An external ID always
  means the same record: with the "create" policy a row whose external ID exists updates that
  record, so a re-run never adds anything.
* A contact's "company" links it to the visible account of that exact name (or the one with the
  given account external ID). A company name that matches no account creates the account, owned by
  the importing user, if they may add accounts; otherwise the row is refused.
* An account's parent ("上级客户", or its external ID) is a visible account that exists before the
  row's batch (an earlier row of the file included), or another row of the same batch (a batch is
  written at once, so there a parent may also come below). A parent named nowhere, the row itself,
  a loop, or a group deeper than ``MAX_HIERARCHY_DEPTH`` refuses the row, as the account form would.
* An account's relations with other companies ("关联企业", or by external ID "关联企业编号":
  ``供货给:华信科技; 合作伙伴:明凯佳``) are found like its parent, among the accounts the user may see
  and the batch's new ones, and added through ``relation_add`` once the batch is written
  (``import_relations``); one there already is left alone, and a bad item refuses the row.
* A contact's manager ("直属上级" by email or by name at the row's company, or "上级编号" by external
  ID) is found the same way, among the people the user may see or the batch's rows
  (``import_managers``); a name at another company is kept when it is the person's manager already
  (an export read back).
* No timeline entry per record: the import job is the summary (who, when, which file, the counts
  and the error file) and each record's change log says it came from the import. Adding a
  timeline row per record would double the rows written for no new information.
"""

from __future__ import annotations

import datetime
import json
import re
import time
import unicodedata
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from functools import cache, lru_cache
from types import SimpleNamespace
from typing import Any

from django.db import connection, models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from guanxi.core.choices import Action, ChangeAction
from guanxi.core.errors import FieldErrors
from guanxi.core.imports.bulk import (
    TAG_SPLIT_RE,
    ChangeLogRows,
    Owners,
    TableRows,
    TagWriter,
    allocate_ids,
    may_add,
    select_pairs,
    timed,
    update_rows,
)
from guanxi.core.imports.cells import parse_date, parse_yes_no, unescape_cell
from guanxi.core.imports.custom import PREFIX as CF_PREFIX
from guanxi.core.imports.custom import missing_required, read_custom_fields, required_reason
from guanxi.core.imports.specs import (
    BatchResult,
    ImportField,
    ImportSpec,
    PrepareContext,
    Prepared,
    RowError,
    import_spec_register,
)
from guanxi.core.jsontext import dumps
from guanxi.core.money import parse_money
from guanxi.core.names import person_display_name, split_name
from guanxi.core.permissions import restrict_queryset, restricted
from guanxi.core.search.customers import account_document, contact_document
from guanxi.core.search.registry import Columns
from guanxi.core.tags import check_scoped, with_added
from guanxi.core.tags import normalize as normalize_tag
from guanxi.customers.assignment import Assigner
from guanxi.customers.birthdays import refresh_lunar
from guanxi.customers.choices import (
    AccountSource,
    ContactPointKind,
    DecisionRole,
    Industry,
    LifecycleStage,
    SizeBand,
    Stance,
    size_band_for,
)
from guanxi.customers.classification import with_tags
from guanxi.customers.duplicates import account_dup_key, contact_dup_key
from guanxi.customers.hierarchy import ancestor_chains
from guanxi.customers.import_managers import Managers
from guanxi.customers.import_relations import BY_EXTERNAL_ID, BY_NAME, Relations, read_relations
from guanxi.customers.models import Account, AccountContact, Contact, ContactPoint
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
    phone_digits_reversed,
)
from guanxi.customers.services.common import MAX_HIERARCHY_DEPTH

POLICIES = ("skip", "update", "create")
LOOKUP_CHUNK = 2000
MAX_POINTS = 20

# --- fields -------------------------------------------------------------------------------------------

_RELATIONS_LABEL = gettext_lazy("related companies")
_RELATION_IDS_LABEL = gettext_lazy("related company external IDs")
_EXTERNAL_ID_HINT = gettext_lazy("Your ID from another system: the same ID updates the same record next time.")
_DATE_HINT = gettext_lazy("A date, e.g. 1990-05-20 or 1990/5/20.")

_ADDRESS_FIELDS = (
    ImportField(
        "country",
        gettext_lazy("country"),
        ("国家", "国家地区", "国别", "country code"),
        hint=gettext_lazy("A name or code, e.g. 中国, Singapore, SG. Empty: China."),
    ),
    ImportField(
        "province",
        gettext_lazy("province / state"),
        ("省份", "省", "省直辖市", "所在省份", "province", "state"),
        hint=gettext_lazy("In China a province, e.g. 广东 or 广东省."),
    ),
    ImportField("city", gettext_lazy("city"), ("城市", "市", "所在城市", "city", "town")),
    ImportField("district", gettext_lazy("district"), ("区县", "区", "县区", "县", "district", "county")),
    ImportField(
        "street", gettext_lazy("street address"), ("地址", "详细地址", "街道地址", "通讯地址", "address", "street")
    ),
    ImportField("postal_code", gettext_lazy("postal code"), ("邮编", "邮政编码", "zip", "zip code", "postcode")),
)
#: Guanxi's own id of the record, the first column of every export: a row that names it updates
#: that record (never another, never a new one). "ID" alone stays an external ID: the first column
#: of another system's file must not be taken for Guanxi's ids.
_RECORD_ID = ImportField(
    "id", gettext_lazy("record ID"), ("记录id", "记录编号", "guanxi id", "record id"), in_template=False
)
_COMMON_TAIL = (
    ImportField(
        "owner",
        gettext_lazy("owner"),
        ("负责人", "所有者", "归属人", "销售", "销售代表", "owner email"),
        hint=gettext_lazy("A user's email or name. Empty: you, or the assignment rules for new accounts."),
    ),
    ImportField(
        "tags", gettext_lazy("tags"), ("标签", "tag", "labels"), hint=gettext_lazy("Several separated by commas.")
    ),
    ImportField("description", gettext_lazy("description"), ("备注", "描述", "说明", "notes", "note", "remarks")),
)

CONTACT_FIELDS: tuple[ImportField, ...] = (
    ImportField(
        "external_id",
        gettext_lazy("external ID"),
        ("外部编号", "外部id", "编号", "联系人编号", "id", "ext id"),
        hint=_EXTERNAL_ID_HINT,
    ),
    _RECORD_ID,  # after the external ID, whose alias "id" then wins the header "ID" (the first match does)
    ImportField(
        "name",
        gettext_lazy("full name"),
        ("姓名", "名字", "联系人", "联系人姓名", "名称", "name", "contact name", "display name"),
        writes="family_name",
        hint=gettext_lazy("张三, 欧阳娜娜 or John Smith (or use two columns, family name and given name)."),
    ),
    ImportField(
        "family_name",
        gettext_lazy("family name"),
        ("姓", "姓氏", "last name", "surname", "lastname"),
        in_template=False,
    ),
    ImportField("given_name", gettext_lazy("given name"), ("名", "first name", "firstname"), in_template=False),
    ImportField("title", gettext_lazy("job title"), ("职位", "职务", "头衔", "岗位", "title", "position")),
    ImportField("department", gettext_lazy("department"), ("部门", "dept")),
    ImportField(
        "email",
        gettext_lazy("email"),
        ("邮箱", "电子邮件", "电子邮箱", "邮件", "e-mail", "mail", "emails"),
        writes="emails",
        hint=gettext_lazy("Several separated by ; or commas."),
    ),
    ImportField(
        "mobile",
        gettext_lazy("mobile"),
        ("手机", "手机号", "手机号码", "移动电话", "mobile phone", "cell"),
        writes="phones",
        hint=gettext_lazy("13800138000, or +65 9123 4567 outside China. Several separated by ;"),
    ),
    ImportField(
        "phone",
        gettext_lazy("phone"),
        ("电话", "座机", "办公电话", "固定电话", "联系电话", "telephone", "tel", "phones"),
        writes="phones",
        hint=gettext_lazy("With the area code, e.g. 021-62345678 转 801. Several separated by ;"),
    ),
    ImportField("wechat_id", gettext_lazy("WeChat ID"), ("微信", "微信号", "wechat", "weixin")),
    ImportField(
        "decision_role",
        gettext_lazy("decision role"),
        ("决策角色", "决策链角色", "角色类型", "关键人角色", "decision role", "buying role"),
        choices=DecisionRole,
    ),
    ImportField(
        "stance", pgettext_lazy("attitude towards us", "stance"), ("态度", "立场", "stance", "attitude"), choices=Stance
    ),
    ImportField(
        "birthday",
        gettext_lazy("birthday"),
        ("生日", "出生日期", "date of birth", "dob", "birth date"),
        hint=_DATE_HINT,
    ),
    ImportField(
        "birthday_lunar",
        gettext_lazy("lunar birthday"),
        ("农历生日", "过农历生日", "阴历生日", "lunar birthday", "lunar"),
        hint=gettext_lazy("是 or 否: whether they celebrate on the lunar calendar's day; the birthday stays solar"),
    ),
    *_ADDRESS_FIELDS,
    ImportField(
        "company",
        gettext_lazy("company"),
        ("公司", "公司名称", "单位", "企业", "客户", "客户名称", "account"),
        writes="accounts",
        hint=gettext_lazy("The account's exact name; one that does not exist yet is created."),
    ),
    ImportField(
        "account_external_id",
        gettext_lazy("account external ID"),
        ("公司编号", "客户编号", "企业编号", "company id", "account id"),
        writes="accounts",
        hint=gettext_lazy("The account's external ID, in place of its name."),
    ),
    ImportField(
        "account_registration_number",
        gettext_lazy("company's registration number"),
        (
            *("统一社会信用代码", "公司统一社会信用代码", "社会信用代码", "信用代码", "纳税人识别号", "税号"),
            *("registration number", "company registration number", "company number", "tax id"),
        ),
        writes="accounts",
        hint=gettext_lazy(
            "The company's 统一社会信用代码: finds it whatever the file calls it; "
            "a company created from the row keeps it."
        ),
    ),
    ImportField(
        "manager",
        pgettext_lazy("a person's manager", "reports to"),
        ("上级", "上级领导", "直接上级", "汇报对象", "汇报给", "manager", "reports to", "boss", "manager email"),
        writes="reports_to",
        hint=gettext_lazy(
            "The manager's email, or their name at the person's company; someone in Guanxi already or in a row above."
        ),
    ),
    ImportField(
        "manager_external_id",
        gettext_lazy("manager's external ID"),
        ("上级编号", "上级外部编号", "manager id", "manager external id", "reports to id"),
        writes="reports_to",
        hint=gettext_lazy("The manager's external ID, in place of the email or name."),
    ),
    *_COMMON_TAIL,
)

ACCOUNT_FIELDS: tuple[ImportField, ...] = (
    ImportField(
        "external_id",
        gettext_lazy("external ID"),
        ("外部编号", "外部id", "编号", "客户编号", "id", "ext id"),
        hint=_EXTERNAL_ID_HINT,
    ),
    _RECORD_ID,  # after the external ID, whose alias "id" then wins the header "ID" (the first match does)
    ImportField(
        "name",
        gettext_lazy("name"),
        ("公司", "公司名称", "客户名称", "企业名称", "名称", "客户", "企业", "company", "company name", "account name"),
        required=True,
        hint=gettext_lazy("The company's name."),
    ),
    ImportField("legal_name", gettext_lazy("legal name"), ("工商注册名称", "法定名称", "注册名称", "全称")),
    ImportField(
        "registration_number",
        gettext_lazy("registration number"),
        (
            *("统一社会信用代码", "社会信用代码", "信用代码", "纳税人识别号", "税号", "注册号", "uscc"),
            *("registration number", "company number", "company registration number", "tax id", "vat number"),
        ),
        hint=gettext_lazy(
            "18 characters for a company registered in China, checked; a row with it updates that company."
        ),
    ),
    ImportField("industry", gettext_lazy("industry"), ("行业", "所属行业"), choices=Industry),
    ImportField(
        "size",
        gettext_lazy("company size"),
        ("规模", "公司规模", "企业规模", "size"),
        choices=SizeBand,
        hint=gettext_lazy("Empty: from the number of employees."),
    ),
    ImportField(
        "employee_count",
        gettext_lazy("employees"),
        ("员工数", "员工人数", "人数", "employee count"),
        hint=gettext_lazy("A whole number, e.g. 120."),
    ),
    ImportField(
        "annual_revenue",
        gettext_lazy("annual revenue"),
        ("年营业额", "年收入", "营收", "年营收", "revenue"),
        hint=gettext_lazy("An amount, e.g. 1200000, 120万 or 1.2亿."),
    ),
    ImportField(
        "currency",
        gettext_lazy("currency"),
        ("币种", "货币"),
        hint=gettext_lazy("Three letters, e.g. CNY or USD. Empty: CNY."),
    ),
    ImportField(
        "website",
        gettext_lazy("website"),
        ("网站", "网址", "官网", "web", "url", "homepage"),
        hint=gettext_lazy("e.g. www.example.com"),
    ),
    ImportField(
        "region",
        gettext_lazy("region / territory"),
        ("区域", "大区", "销售区域", "region", "territory"),
        hint=gettext_lazy("A sales region, e.g. 华东. Empty: from the province in China."),
    ),
    *_ADDRESS_FIELDS,
    ImportField(
        "lifecycle_stage",
        gettext_lazy("lifecycle stage"),
        ("阶段", "生命周期阶段", "客户阶段", "stage"),
        choices=LifecycleStage,
    ),
    ImportField("source", gettext_lazy("source"), ("来源", "客户来源", "source"), choices=AccountSource),
    ImportField(
        "parent",
        gettext_lazy("parent account"),
        ("上级客户", "上级公司", "母公司", "总公司", "所属集团", "parent", "parent account", "parent company"),
        writes="parent",
        hint=gettext_lazy("The exact name of an account that exists, or of one in a row above."),
    ),
    ImportField(
        "parent_external_id",
        gettext_lazy("parent account external ID"),
        ("上级客户编号", "母公司编号", "parent id", "parent external id"),
        writes="parent",
    ),
    ImportField(
        BY_NAME,
        _RELATIONS_LABEL,
        ("关联企业", "企业关系", "关联公司", "related companies", "relations", "related accounts", "account relations"),
        hint=gettext_lazy(
            "Each relation as the company's page reads it (Supplies, Buys from, Partners...), a colon, then the "
            "other company's exact name; several separated by ; e.g. Supplies:Acme Ltd; Partners:Beta Co. "
            "Relations already there are kept."
        ),
    ),
    ImportField(
        BY_EXTERNAL_ID,
        _RELATION_IDS_LABEL,
        (
            *("关联企业编号", "关联公司编号", "企业关系编号"),
            *("related company ids", "related company external ids", "relation ids", "related account ids"),
        ),
        hint=gettext_lazy(
            "As related companies, with the other company's external ID in place of its name, e.g. Supplies:ERP-1001."
        ),
    ),
    *_COMMON_TAIL,
)

MAX_LENGTHS = {
    "external_id": 100,
    "family_name": 100,
    "given_name": 100,
    "title": 100,
    "department": 100,
    "wechat_id": 64,
    "province": 50,
    "city": 50,
    "district": 50,
    "street": 200,
    "postal_code": 20,
    "company": 200,
    "account_external_id": 100,
    "name": 200,
    "legal_name": 200,
    "region": 100,
    "owner": 254,
    "parent": 200,
    "parent_external_id": 100,
    "manager": 254,
    "manager_external_id": 100,
}
_TEXT_CONTACT = ("title", "department", "wechat_id", "city", "district", "postal_code")
# What an empty cell clears when the import says so (blank_cells = "clear"): plain values only. A
# name, the emails, phones, tags, companies, owner, country and parent stay: a record needs a name
# and an owner, and the others are lists or links an update adds to.
_CLEARABLE_CONTACT = (
    "title", "department", "wechat_id", "decision_role", "stance", "birthday", "province", "city", "district",
    "street", "postal_code", "description", "external_id",
)  # fmt: skip
_CLEARABLE_ACCOUNT = (
    "legal_name", "registration_number", "industry", "size", "employee_count", "annual_revenue", "website",
    "region", "province", "city", "district", "street", "postal_code", "source", "description", "external_id",
)  # fmt: skip
_TEXT_ACCOUNT = ("legal_name", "region", "city", "district", "postal_code", "parent", "parent_external_id")

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
        blank = [name for name in (*names, *custom) if name in self.ctx.columns and not self.get(name)]
        if blank:
            self.values["blank"] = blank

    def shared(self) -> None:
        """The columns contacts and accounts share: record ID, owner, tags, description, external ID,
        custom fields."""
        record_id = self.get("id")
        if record_id:
            if record_id.isdigit() and 0 < int(record_id) < 2**63:
                self.values["id"] = int(record_id)
            else:
                self.fail(
                    "id", record_id, _("Use the record ID of a Guanxi export (a whole number), or leave it empty.")
                )
        owner = self.get("owner")
        if owner:
            self.values["owner"] = unicodedata.normalize("NFKC", owner).strip().lower() if "@" in owner else owner
        tags_raw = self.get("tags")
        if tags_raw:
            tags = [normalize_tag(t) for t in TAG_SPLIT_RE.split(tags_raw) if t.strip()]
            too_long = [t for t in tags if len(t) > 60]
            if too_long:
                self.fail("tags", tags_raw, _("A tag has at most 60 characters."))
            else:
                try:
                    check_scoped(tags)
                except FieldErrors as exc:
                    self.fail("tags", tags_raw, " ".join(exc.errors["tags"]))
                else:
                    self.values["tags"] = list(dict.fromkeys(tags))
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
        row.choices("decision_role", "stance")
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
            _derive_contact(values)
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


def _derive_contact(values: dict[str, Any]) -> None:
    """What a new contact's row derives from its values, built where ``prepare`` runs (beside the
    writing process when the import has a second core): the change log's JSON, the duplicate
    blocking key and the search index columns."""
    changes = {name: [None, values[name]] for name in _CONTACT_COLUMNS if values.get(name) not in (None, "")}
    changes.update(_custom_changes({}, values.get("custom_fields") or {}))
    values["changes_json"] = dumps(changes)
    family, given = values.get("family_name", ""), values.get("given_name", "")
    values["dup_key"] = contact_dup_key(family, given)
    values["search_columns"] = contact_document(
        family, given, values.get("display_name", ""), values.get("emails"), values.get("phones")
    ).columns()


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
            if cleaned.isdigit() and int(cleaned) < 2**31:
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


# --- writers ------------------------------------------------------------------------------------------

_CONTACT_COLUMNS = (
    "family_name", "given_name", "display_name", "title", "department", "wechat_id", "decision_role", "stance",
    "birthday", "birthday_lunar", "country", "province", "city", "district", "street", "postal_code", "description",
    "external_id", "emails", "phones",
)  # fmt: skip
_ACCOUNT_COLUMNS = (
    "name", "legal_name", "registration_number", "industry", "size", "employee_count", "annual_revenue",
    "currency", "website", "region", "country", "province", "city", "district", "street", "postal_code",
    "lifecycle_stage", "source", "description", "external_id", "parent_id",
)  # fmt: skip


#: The JSON columns an import update writes.
_JSON_COLUMNS = ("emails", "phones", "custom_fields")


def _custom_after(before: dict[str, Any] | None, wanted: dict[str, Any]) -> dict[str, Any]:
    """A record's custom fields after an update: the file's non-empty cells over what it had, less
    the fields its empty cells clear (``blank``)."""
    after = {**(before or {}), **(wanted.get("custom_fields") or {})}
    for name in wanted.get("blank", ()):
        if name.startswith("cf."):
            after.pop(name[3:], None)
    return after


@cache
def _empty_values(model: type[models.Model]) -> dict[str, Any]:
    """What clearing each column stores: NULL where the column takes it, else its default ("", 0)."""
    out: dict[str, Any] = {}
    for f in model._meta.concrete_fields:
        if f.generated:
            continue
        if f.null:
            out[f.attname] = None
        elif f.has_default() and isinstance(f, models.DecimalField):
            # As the update reads it back (annual_revenue "0.00"), so clearing a cleared field is no change.
            out[f.attname] = str(Decimal(f.get_default()).quantize(Decimal(1).scaleb(-(f.decimal_places or 0))))
        elif f.has_default():
            out[f.attname] = f.get_default()
        else:
            out[f.attname] = ""
    return out


def _clear_blanks(
    model: type[models.Model], after: dict[str, Any], wanted: dict[str, Any], attnames: list[str]
) -> None:
    """An update's empty cells that clear (``blank``), where no other row of the record gave a value."""
    empty = _empty_values(model)
    for name in wanted.get("blank", ()):
        if name in attnames and wanted.get(name) in (None, ""):
            after[name] = empty[name]


def _changes(before: dict[str, Any], after: dict[str, Any], attnames: list[str]) -> dict[str, list[Any]]:
    """``{field: [before, after]}`` of an updated record, custom fields by key."""
    changes = {
        _field_name(n): [before[n], after[n]] for n in attnames if n != "custom_fields" and before[n] != after[n]
    }
    if "custom_fields" in attnames:
        changes.update(_custom_changes(before["custom_fields"] or {}, after["custom_fields"] or {}))
    return changes


def _tagged(merged: dict[int, list[Prepared]]) -> list[int]:
    """The records an update's rows give tags to."""
    return [pk for pk, rows in merged.items() if any("tags" in row.values for row in rows)]


def _new_tags(wanted: dict[str, Any], had: Iterable[str], changes: dict[str, list[Any]]) -> tuple[list[str], list[str]]:
    """The file's tags a record does not have yet, and those they take off (a scoped tag replaces
    the record's tag of its scope: ``core.tags``); when there are any, ``changes`` logs the tags as
    the services do (before and after, sorted). Tags it has already change nothing."""
    before = set(had)
    after = with_added(sorted(before), wanted.get("tags") or ())
    added = [name for name in after if name not in before]
    removed = sorted(before - set(after))
    if added or removed:
        changes["tags"] = [sorted(before), sorted(after)]
    return added, removed


def _custom_changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """Custom fields in a change log, by key (``cf.<key>``) as the services write them."""
    return {
        f"{CF_PREFIX}{key}": [before.get(key), after.get(key)]
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    }


#: Keys that always mean the same record: a row that names one updates that record whatever the policy.
_SAME_RECORD = ("id", "external_id")


def _chunks(items: list[Any], size: int = LOOKUP_CHUNK) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


class _Writer:
    """What the contact and account writers share: owners, matching, permissions, change log, tags."""

    model: type[Any] = Contact
    columns: tuple[str, ...] = ()

    def __init__(self, user: Any, policy: str, ctx: PrepareContext, job: Any = None):
        if policy not in POLICIES:
            raise ValueError(policy)
        self.user = user
        self.policy = policy
        self.ctx = ctx
        self.job = job
        self.owners = Owners(user, self.model)
        self.tags = TagWriter(user)

    # subclasses
    def match_keys(self, values: dict[str, Any]) -> list[tuple[str, str]]:
        raise NotImplementedError

    def lookup(self, kind: str, keys: list[str]) -> dict[str, int]:
        raise NotImplementedError

    def before_write(self, rows: list[Prepared], result: BatchResult) -> list[Prepared]:
        return rows

    def refresh(self, values: dict[str, Any]) -> None:
        """Recompute what ``prepare`` derived from the values after two rows were merged."""

    def after_match(
        self, creates: list[Prepared], updates: dict[int, list[Prepared]], result: BatchResult
    ) -> tuple[list[Prepared], dict[int, list[Prepared]]]:
        """Last checks once each row knows whether it creates a record or updates which one."""
        return creates, updates

    def create(self, rows: list[Prepared], result: BatchResult, now: Any, log: ChangeLogRows) -> None:
        raise NotImplementedError

    def after_write(self, result: BatchResult) -> None:
        """What the batch adds through the services once its records are written."""

    def update(self, merged: dict[int, list[Prepared]], result: BatchResult, now: Any, log: ChangeLogRows) -> None:
        raise NotImplementedError

    # the batch
    def _refuse(self, result: BatchResult, row: Prepared, field: str, value: str, reason: str) -> None:
        result.errors.append((row.line, RowError(self.ctx.header_of(field), value, reason)))

    def _owners(self, rows: list[Prepared], result: BatchResult) -> list[Prepared]:
        """The owner column and user custom fields: users by email or name."""
        self.owners.resolve(row.values["owner"] for row in rows if row.values.get("owner"))
        self.owners.resolve(text for row in rows for text in (row.values.get("custom_users") or {}).values())
        kept = []
        for row in rows:
            key = row.values.get("owner")
            if key:
                found = self.owners.get(key)
                if found is None:
                    self._refuse(result, row, "owner", key, _("No active user with this email or name."))
                    continue
                if found[0] != self.user.pk and not self.owners.may_assign:
                    self._refuse(result, row, "owner", key, _("You may not assign records to other people."))
                    continue
                row.values["owner_id"], row.values["team_id"] = found
            users = row.values.pop("custom_users", None)
            if users:
                picked = {k: self.owners.get(text) for k, text in users.items()}
                missing = next((k for k, user in picked.items() if user is None), None)
                if missing is not None:
                    self._refuse(
                        result, row, CF_PREFIX + missing, users[missing], _("No active user with this email or name.")
                    )
                    continue
                custom = row.values.setdefault("custom_fields", {})
                custom.update({k: user[0] for k, user in picked.items() if user is not None})
                self.refresh(row.values)
            kept.append(row)
        return kept

    def _with_required(self, creates: list[Prepared], result: BatchResult) -> list[Prepared]:
        """Rows that would create a record without a required custom field are refused."""
        required = self.ctx.options.get("required_custom_fields")
        if not required:
            return creates
        kept = []
        for row in creates:
            missing = missing_required(required, row.values.get("custom_fields") or {})
            if missing:
                self._refuse(result, row, CF_PREFIX + missing[0].key, "", required_reason(missing[0]))
            else:
                kept.append(row)
        return kept

    def _record_ids(self, keys: list[str]) -> dict[str, int]:
        """Record IDs a row names, among the live records this user may see (others are "not found")."""
        out: dict[str, int] = {}
        visible = restricted(self.model, self.user, Action.VIEW)
        for chunk in _chunks(keys):
            out.update(
                (str(pk), pk) for pk in visible.filter(pk__in=[int(k) for k in chunk]).values_list("pk", flat=True)
            )
        return out

    def write(self, rows: list[Prepared]) -> BatchResult:
        result = BatchResult()
        good = []
        for row in rows:
            if row.errors:
                result.errors.extend((row.line, error) for error in row.errors)
            else:
                good.append(row)
        good = self._owners(good, result)
        good = self.before_write(good, result)
        # Matches in the database, one query per kind of key.
        wanted: dict[str, set[str]] = {}
        keys_of = [self.match_keys(row.values) for row in good]  # once per row: it runs a million times
        for row_keys in keys_of:
            for kind, key in row_keys:
                wanted.setdefault(kind, set()).add(key)
        found: dict[str, dict[str, int]] = {}
        for kind, keys in wanted.items():
            started = time.perf_counter()
            found[kind] = self._record_ids(sorted(keys)) if kind == "id" else self.lookup(kind, sorted(keys))
            timed(f"  match existing by {kind}", started)
        self._claim_external_ids(good, found)
        creates: list[Prepared] = []
        local: dict[tuple[str, str], int] = {}  # key -> index in creates
        updates: dict[int, list[Prepared]] = {}
        for row, row_keys in zip(good, keys_of, strict=True):
            target: tuple[str, int] | None = None
            by_external = False
            if "id" in row.values:
                problem = self._record_id_problem(row, found)
                if problem:
                    self._refuse(result, row, *problem)
                    continue
                row_keys = row_keys[:1]  # the record ID decides alone
            for kind, key in row_keys:
                if self.policy == "create" and kind not in _SAME_RECORD:
                    continue
                if (kind, key) in local:
                    target = ("local", local[(kind, key)])
                elif key in found.get(kind, {}):
                    target = ("db", found[kind][key])
                if target is not None:
                    by_external = kind in _SAME_RECORD
                    break
            if target is None:
                for kind, key in row_keys:
                    local.setdefault((kind, key), len(creates))
                creates.append(row)
                continue
            if self.policy == "skip" or (self.policy == "create" and not by_external):
                result.skipped += 1
                continue
            if target[0] == "local":
                _merge_into(creates[target[1]].values, row.values)
                self.refresh(creates[target[1]].values)
                result.updated += 1
            else:
                updates.setdefault(target[1], []).append(row)
        if creates and not may_add(self.user, self.model):
            for row in creates:
                self._refuse(result, row, "", "", _("You may not add records of this type."))
            creates = []
        creates = self._with_required(creates, result)
        # After the refusal above: a row whose parent is one of those is refused, not left pointing at nothing.
        creates, updates = self.after_match(creates, updates, result)
        now = timezone.now()
        log = ChangeLogRows(self.user, now)
        if creates:
            self.create(creates, result, now, log)
        if updates:
            self.update(updates, result, now, log)
        log.flush()
        self.after_write(result)
        return result

    def _claim_external_ids(self, rows: list[Prepared], found: dict[str, dict[str, int]]) -> None:
        """An external ID that a row gives to the record it names by ID belongs to that record from
        now on: another row of the batch with that external ID is about the same record."""
        by_external = found.setdefault("external_id", {})
        by_id = found.get("id", {})
        for row in rows:
            external, record_id = row.values.get("external_id"), row.values.get("id")
            if external and record_id is not None and str(record_id) in by_id:
                by_external.setdefault(external, by_id[str(record_id)])

    def _record_id_problem(self, row: Prepared, found: dict[str, dict[str, int]]) -> tuple[str, str, str] | None:
        """Why a row that names a record ID cannot update that record: (column, value, reason)."""
        record_id = str(row.values["id"])
        pk = found.get("id", {}).get(record_id)
        if pk is None:
            return (
                "id",
                record_id,
                _("No record you may see has this ID. Leave the cell empty to add the row as a new record."),
            )
        external = str(row.values.get("external_id") or "")
        owner = found.get("external_id", {}).get(external) if external else None
        if owner is not None and owner != pk:
            return (
                "external_id",
                external,
                _("This external ID belongs to another record (ID %(id)s).") % {"id": owner},
            )
        return None

    def changeable(self, pks: list[int]) -> set[int]:
        allowed: set[int] = set()
        for chunk in _chunks(pks):
            allowed.update(
                restricted(self.model, self.user, Action.CHANGE).filter(pk__in=chunk).values_list("pk", flat=True)
            )
        return allowed

    def base_values(self, row: Prepared, table: TableRows, pk: int) -> dict[str, Any]:
        values = {"id": pk, "created_by_id": self.user.pk}
        values["owner_id"] = row.values.get("owner_id", self.user.pk)
        values["team_id"] = (
            row.values.get("team_id", getattr(self.user, "team_id", None))
            if "owner_id" in row.values
            else getattr(self.user, "team_id", None)
        )
        for name in self.columns:
            if name in row.values:
                values[name] = table.prep(name, row.values[name]) if name in ("emails", "phones") else row.values[name]
        if row.values.get("custom_fields"):
            values["custom_fields"] = table.prep("custom_fields", row.values["custom_fields"])
        return values


def _merge_into(target: dict[str, Any], extra: dict[str, Any]) -> None:
    """A later row about the same new record fills in what it adds (lists are joined)."""
    for name, value in extra.items():
        if name in ("emails", "phones"):
            have = {p["value"] for p in target.get(name, [])}
            target[name] = [
                *target.get(name, []),
                *({**p, "is_primary": False} for p in value if p["value"] not in have),
            ]
            if target[name] and not any(p["is_primary"] for p in target[name]):
                target[name][0]["is_primary"] = True
        elif name in ("tags", "blank", "relations"):
            target[name] = list(dict.fromkeys([*target.get(name, []), *value]))
        elif name in ("custom_fields", "custom_users"):
            target[name] = {**target.get(name, {}), **value}
        elif value not in (None, ""):
            target[name] = value


def _field_name(attname: str) -> str:
    return attname.removesuffix("_id") if attname in ("owner_id", "team_id", "parent_id", "reports_to_id") else attname


#: Account ids by name or external id an import remembers between batches.
ACCOUNT_CACHE = 20000


class ContactWriter(_Writer):
    model = Contact
    columns = _CONTACT_COLUMNS

    def __init__(self, user: Any, policy: str, ctx: PrepareContext, job: Any = None):
        super().__init__(user, policy, ctx, job)
        self.account_ids: dict[tuple[str, str], int | None] = {}
        self.may_add_accounts = may_add(user, Account)
        self.managers = Managers(user, self._account_of)
        self.new_by_line: dict[int, int] = {}  # the batch's new people by line, for their reports

    def match_keys(self, values: dict[str, Any]) -> list[tuple[str, str]]:
        keys = [("id", str(values["id"]))] if "id" in values else []
        if values.get("external_id"):
            keys.append(("external_id", values["external_id"]))
        keys += [("email", p["value"]) for p in values.get("emails", ())]
        keys += [("phone", p["value"]) for p in values.get("phones", ())]
        return keys

    def lookup(self, kind: str, keys: list[str]) -> dict[str, int]:
        contacts, points = Contact._meta.db_table, ContactPoint._meta.db_table
        out: dict[str, int] = {}
        for chunk in _chunks(keys):
            if kind == "external_id":
                # The condition of the partial unique index as written there (SQLite matches the text
                # ``NOT (external_id = '')``, not ``<>``), so that index serves the lookup; otherwise
                # SQLite without statistics walks the ``deleted_at`` index: every live contact.
                # With sampled statistics (``analysis_limit``) SQLite may still judge ``deleted_at IS NULL``
                # the narrower condition for a long IN list: the index is named on SQLite.
                hint = " INDEXED BY contact_external_id_unique" if connection.vendor == "sqlite" else ""
                sql = (
                    f"SELECT external_id, id FROM {contacts}{hint} WHERE deleted_at IS NULL "  # noqa: S608
                    "AND NOT (external_id = '') AND external_id IN ({keys})"
                )
                out.update(select_pairs(sql, [], chunk))
            else:
                sql = (
                    f"SELECT p.value, p.contact_id FROM {points} p JOIN {contacts} c ON c.id = p.contact_id "  # noqa: S608
                    "WHERE p.kind = %s AND p.value IN ({keys}) AND c.deleted_at IS NULL ORDER BY p.contact_id DESC"
                )
                out.update(select_pairs(sql, [kind], chunk))  # the oldest contact wins
        return out

    def refresh(self, values: dict[str, Any]) -> None:
        for name in ("emails", "phones"):
            if name in values:
                values[f"{name}_json"] = dumps(values[name])
        _derive_contact(values)

    def before_write(self, rows: list[Prepared], result: BatchResult) -> list[Prepared]:
        """Find (or create) the accounts the rows name; refuse rows whose account cannot be found."""
        if len(self.account_ids) > ACCOUNT_CACHE:
            # Bounded: a file naming 200k companies would otherwise keep them all for the whole
            # import (names already written are found again by the lookup below).
            self.account_ids.clear()
        by_ext = {r.values["account_external_id"] for r in rows if r.values.get("account_external_id")}
        by_number = {
            r.values["account_registration_number"]
            for r in rows
            if r.values.get("account_registration_number") and not r.values.get("account_external_id")
        }
        by_name = {
            r.values["company"] for r in rows if r.values.get("company") and not r.values.get("account_external_id")
        }
        visible = restricted(Account, self.user, Action.VIEW)
        for kind, keys in (("external_id", by_ext), ("registration_number", by_number), ("name", by_name)):
            missing = [k for k in keys if (kind, k) not in self.account_ids]
            for chunk in _chunks(missing):
                rows_found = visible.filter(**{f"{kind}__in": chunk}).order_by("-id").values_list(kind, "pk")
                for key, pk in rows_found:
                    self.account_ids[(kind, key)] = pk
        kept: list[Prepared] = []
        new_names: dict[str, str] = {}  # name -> the registration number the new account takes
        for row in rows:
            ext = row.values.get("account_external_id")
            number = row.values.get("account_registration_number")
            if ext:
                if self.account_ids.get(("external_id", ext)) is None:
                    self._refuse(result, row, "account_external_id", ext, _("No account with this external ID."))
                    continue
            elif number and self.account_ids.get(("registration_number", number)) is not None:
                pass  # the company, whatever the row calls it
            elif number and not row.values.get("company"):
                self._refuse(
                    result,
                    row,
                    "account_registration_number",
                    number,
                    _("No account you may see has this registration number; give the company's name to create it."),
                )
                continue
            elif row.values.get("company") and ("name", row.values["company"]) not in self.account_ids:
                if not self.may_add_accounts:
                    self._refuse(result, row, "company", row.values["company"], _("No account with this name."))
                    continue
                self.account_ids[("name", row.values["company"])] = None
                new_names[row.values["company"]] = number or ""
            kept.append(row)
        if new_names:
            self._create_accounts(new_names, result)
        return kept

    def _create_accounts(self, names: dict[str, str], result: BatchResult) -> None:
        """The accounts the rows name that do not exist yet: ``{name: registration number or ""}``."""
        now = timezone.now()
        table = TableRows(Account, now)
        log = ChangeLogRows(self.user, now)
        pks = allocate_ids(Account, len(names))
        rows = []
        documents: dict[int, Columns] = {}
        rules = Assigner()
        for pk, (name, number) in zip(pks, names.items(), strict=True):
            values = {
                "id": pk,
                "name": name,
                "registration_number": number,
                "owner_id": self.user.pk,
                "team_id": getattr(self.user, "team_id", None),
                "created_by_id": self.user.pk,
                "dup_key": account_dup_key(name),
            }
            if rules:
                _assign_row(rules, table, values, None)
            rows.append(table.row(values))
            self.account_ids[("name", name)] = pk
            if number:
                self.account_ids[("registration_number", number)] = pk
            documents[pk] = account_document(name, registration_number=number).columns()
            changes = {"name": [None, name], "owner": [None, values["owner_id"]]}
            if number:
                changes["registration_number"] = [None, number]
            log.add(Account, pk, name, ChangeAction.CREATE, changes)
        table.insert(rows)
        if rules:
            rules.save()
        log.flush()
        result.touch(Account, pks)
        result.documents.setdefault(Account, {}).update(documents)

    def after_match(
        self, creates: list[Prepared], updates: dict[int, list[Prepared]], result: BatchResult
    ) -> tuple[list[Prepared], dict[int, list[Prepared]]]:
        """Each row's 直属上级 (``import_managers``): found, or the row refused."""
        if "manager" not in self.ctx.columns and "manager_external_id" not in self.ctx.columns:
            return creates, updates  # a file without the columns (the bench's million rows) pays nothing

        def refuse(row: Prepared, reason: str) -> None:
            kind, key = row.values["manager_ref"]
            self._refuse(result, row, "manager_external_id" if kind == "external_id" else "manager", key, reason)

        return self.managers.resolve(creates, updates, refuse)

    def _with_managers(self, pks: list[int], rows: list[Prepared]) -> None:
        """The new people's managers as ids (one of this batch's new people has one only now), each
        in its change log."""
        self.new_by_line = {row.line: pk for pk, row in zip(pks, rows, strict=True)}
        for row in rows:
            values = row.values
            if "reports_to_line" in values:
                values["reports_to_id"] = self.new_by_line[values.pop("reports_to_line")]
            if "reports_to_id" in values:
                changes = json.loads(values["changes_json"])
                changes["reports_to"] = [None, values["reports_to_id"]]
                values["changes_json"] = dumps(changes)

    def _account_of(self, values: dict[str, Any]) -> int | None:
        if values.get("account_external_id"):
            return self.account_ids.get(("external_id", values["account_external_id"]))
        number = values.get("account_registration_number")
        if number and self.account_ids.get(("registration_number", number)) is not None:
            return self.account_ids[("registration_number", number)]
        if values.get("company"):
            return self.account_ids.get(("name", values["company"]))
        return None

    def create(self, rows: list[Prepared], result: BatchResult, now: Any, log: ChangeLogRows) -> None:
        table = TableRows(Contact, now)
        pks = allocate_ids(Contact, len(rows))
        link_table = TableRows(AccountContact, now, with_pk=False)
        point_table = TableRows(ContactPoint, now, with_pk=False)
        # Rows are filled by position from templates of defaults: this loop runs a million times.
        template = table.template()
        template[table.index("created_by_id")] = self.user.pk
        i_id, i_owner, i_team, i_dup = (table.index(n) for n in ("id", "owner_id", "team_id", "dup_key"))
        positions = [(name, table.index(name)) for name in self.columns if name not in ("emails", "phones")]
        if self.managers.used:  # only then: the loop below runs a million times
            self._with_managers(pks, rows)
            positions.append(("reports_to_id", table.index("reports_to_id")))
        i_emails, i_phones, i_custom = table.index("emails"), table.index("phones"), table.index("custom_fields")
        point_template = point_table.template()
        p_contact, p_kind, p_value, p_ext, p_label, p_primary, p_position, p_digits = (
            point_table.index(n)
            for n in ("contact_id", "kind", "value", "extension", "label", "is_primary", "position", "digits_reversed")
        )
        default_team = getattr(self.user, "team_id", None)
        records, points, links = [], [], []
        documents: dict[int, Columns] = {}
        seen_points: set[tuple[int, str, str]] = set()
        tags: dict[int, list[str]] = {}
        for pk, row in zip(pks, rows, strict=True):
            values = row.values
            record = template.copy()
            record[i_id] = pk
            owner = values.get("owner_id", self.user.pk)
            record[i_owner] = owner
            record[i_team] = values.get("team_id") if "owner_id" in values else default_team
            for name, index in positions:
                if name in values:
                    record[index] = values[name]
            if "emails_json" in values:
                record[i_emails] = values["emails_json"]
            if "phones_json" in values:
                record[i_phones] = values["phones_json"]
            if "custom_fields" in values:
                record[i_custom] = dumps(values["custom_fields"])
            # The blocking key the duplicate check would store: no UPDATE later.
            record[i_dup] = values["dup_key"]
            records.append(record)
            documents[pk] = values["search_columns"]
            extra = f'"owner": [null, {owner}]'
            for kind, name in ((ContactPointKind.EMAIL, "emails"), (ContactPointKind.PHONE, "phones")):
                for position, p in enumerate(values.get(name, ())):
                    key = (pk, kind, p["value"])
                    if key in seen_points:  # one lookup row per value (extensions may differ)
                        continue
                    seen_points.add(key)
                    point = point_template.copy()
                    point[p_contact], point[p_kind], point[p_value] = pk, kind, p["value"]
                    point[p_label], point[p_primary], point[p_position] = p["label"], p["is_primary"], position
                    if kind == ContactPointKind.PHONE:
                        point[p_ext], point[p_digits] = p["extension"], _digits_reversed(p["value"])
                    points.append(point)
            account_id = self._account_of(values)
            if account_id is not None:
                links.append(
                    link_table.row({"account_id": account_id, "contact_id": pk, "role": "", "is_primary": True})
                )
                extra += f', "accounts": [null, [{{"account": {account_id}, "role": "", "is_primary": true}}]]'
            if values.get("tags"):
                tags[pk] = values["tags"]
                extra += ', "tags": [null, ' + dumps(sorted(values["tags"])) + "]"
            head = values["changes_json"]
            changes = "{" + extra + "}" if head == "{}" else head[:-1] + ", " + extra + "}"
            log.add(Contact, pk, values.get("display_name", ""), ChangeAction.CREATE, changes)
        table.insert(records)
        # Those who keep a lunar birthday (few): its month and day, grouped into an update per day.
        for chunk in _chunks([pk for pk, row in zip(pks, rows, strict=True) if row.values.get("birthday_lunar")]):
            refresh_lunar(chunk)
        point_table.insert(points)
        link_table.insert(links)
        self.tags.link(Contact, tags, existing=False)
        result.created += len(rows)
        result.touch(Contact, pks)
        result.documents.setdefault(Contact, {}).update(documents)

    def update(self, merged: dict[int, list[Prepared]], result: BatchResult, now: Any, log: ChangeLogRows) -> None:
        allowed = self.changeable(list(merged))
        table = TableRows(Contact, now)
        attnames = [*self.columns, "owner_id", "team_id", "custom_fields"]
        if self.managers.used:
            attnames.append("reports_to_id")
            for row in (r for rows in merged.values() for r in rows):
                if "reports_to_line" in row.values:  # a new person of this batch (``create`` ran first)
                    row.values["reports_to_id"] = self.new_by_line[row.values.pop("reports_to_line")]
        current = {}
        for chunk in _chunks([pk for pk in merged if pk in allowed]):
            for row in Contact.all_objects.filter(pk__in=chunk).values("id", "version", *attnames):
                current[row["id"]] = row
        updates, point_rows, links, rewrite = [], [], [], []
        born: list[int] = []  # whose birthday changed: a lunar one's month and day follow
        tags: dict[int, list[str]] = {}
        untag: dict[int, list[str]] = {}  # scoped tags a file's tag replaces
        had_tags = self.tags.names_on(Contact, _tagged(merged))
        link_table = TableRows(AccountContact, now, with_pk=False)
        point_table = TableRows(ContactPoint, now, with_pk=False)
        have_links = set()
        account_pks = {self._account_of(r.values) for rows in merged.values() for r in rows} - {None}
        primary = set()
        if account_pks:
            for linked_account, contact_id, is_primary in AccountContact.objects.filter(
                contact_id__in=list(current)
            ).values_list("account_id", "contact_id", "is_primary"):
                have_links.add((linked_account, contact_id))
                if is_primary:
                    primary.add(contact_id)
        for pk, rows in merged.items():
            if pk not in allowed:
                for row in rows:
                    self._refuse(result, row, "", "", _("This row matches a contact you may not change."))
                continue
            before = current[pk]
            after = dict(before)
            wanted: dict[str, Any] = {}
            for row in rows:
                _merge_into(wanted, row.values)
            for name in attnames:
                if name in ("emails", "phones"):
                    if wanted.get(name):
                        have = {p["value"] for p in before[name] or []}
                        extra = [{**p, "is_primary": False} for p in wanted[name] if p["value"] not in have]
                        if extra:
                            after[name] = [*(before[name] or []), *extra]
                            if not any(p.get("is_primary") for p in after[name]):
                                after[name][0]["is_primary"] = True
                elif name == "custom_fields":
                    after[name] = _custom_after(before[name], wanted)
                elif wanted.get(name) not in (None, ""):
                    after[name] = wanted[name]
            _clear_blanks(Contact, after, wanted, attnames)
            if "birthday" in after and isinstance(after["birthday"], datetime.date):
                after["birthday"] = after["birthday"].isoformat()
            if isinstance(before.get("birthday"), datetime.date):
                before = {**before, "birthday": before["birthday"].isoformat()}
            if "family_name" in wanted or "given_name" in wanted:
                after["display_name"] = person_display_name(after["family_name"], after["given_name"])
            changes = _changes(before, after, attnames)
            account_id = self._account_of(wanted)
            if account_id is not None and (account_id, pk) not in have_links:
                is_primary = pk not in primary
                links.append(
                    link_table.row({"account_id": account_id, "contact_id": pk, "role": "", "is_primary": is_primary})
                )
                changes["accounts"] = [None, [{"account": account_id, "role": "", "is_primary": is_primary}]]
            added, removed = _new_tags(wanted, had_tags.get(pk, ()), changes)
            if added:
                tags[pk] = added
            if removed:
                untag[pk] = removed
            if not changes:
                result.skipped += len(rows)
                continue
            if changes:
                values = [table.prep(n, after[n]) if n in _JSON_COLUMNS else after[n] for n in attnames]
                updates.append((*values, before["version"] + 1, table.now_db, pk))
                if "birthday" in changes or "birthday_lunar" in changes:
                    born.append(pk)
                if "emails" in changes or "phones" in changes:
                    rewrite.append(pk)
                    for kind, name in ((ContactPointKind.EMAIL, "emails"), (ContactPointKind.PHONE, "phones")):
                        for position, p in enumerate(after[name] or []):
                            point_rows.append(
                                point_table.row(
                                    {
                                        "contact_id": pk,
                                        "kind": kind,
                                        "value": p["value"],
                                        "extension": p.get("extension", ""),
                                        "label": p.get("label", ""),
                                        "is_primary": p.get("is_primary", False),
                                        "position": position,
                                        "digits_reversed": phone_digits_reversed(p["value"])
                                        if kind == ContactPointKind.PHONE
                                        else "",
                                    }
                                )
                            )
                log.add(Contact, pk, after["display_name"], ChangeAction.UPDATE, changes)
            result.updated += len(rows)
            result.touch(Contact, [pk])
        update_rows(Contact, [*(_column(Contact, n) for n in attnames), "version", "updated_at"], updates)
        for chunk in _chunks(born):
            refresh_lunar(chunk)
        for chunk in _chunks(rewrite):
            ContactPoint.objects.filter(contact_id__in=chunk).delete()
        point_table.insert(_unique_points(point_rows, point_table))
        link_table.insert(links)
        self.tags.link(Contact, tags, existing=True)
        self.tags.unlink(Contact, untag)


def _digits_reversed(e164: str) -> str:
    """``phone_digits_reversed`` for the E.164 numbers ``normalize_phone`` returns, by slicing."""
    return e164[:0:-1] if e164.startswith("+") and e164[1:].isdigit() else phone_digits_reversed(e164)


def _column(model: type[Any], attname: str) -> str:
    return next(f.column for f in model._meta.concrete_fields if f.attname == attname)


def _unique_points(rows: list[tuple[Any, ...]], table: TableRows) -> list[tuple[Any, ...]]:
    """One lookup row per (contact, kind, value), as ``_sync_points`` keeps (extensions may differ)."""
    i_contact, i_kind, i_value = (table.attnames.index(n) for n in ("contact_id", "kind", "value"))
    seen: set[tuple[Any, Any, Any]] = set()
    out = []
    for row in rows:
        key = (row[i_contact], row[i_kind], row[i_value])
        if key not in seen:
            seen.add(key)
            out.append(row)
    return out


def _parent_ref(values: dict[str, Any]) -> tuple[str, str] | None:
    """How a row names its parent account: by external ID when it gives one, else by name."""
    if values.get("parent_external_id"):
        return ("external_id", values["parent_external_id"])
    if values.get("parent"):
        return ("name", values["parent"])
    return None


def _assign_row(rules: Assigner, table: TableRows, values: dict[str, Any], tags: list[str] | None) -> None:
    """The owner and team of a new account from the assignment rules (the row named no owner)."""
    chosen = rules.choose(with_tags(SimpleNamespace(**(table.defaults | values)), tags))
    if chosen is not None:
        values["owner_id"], values["team_id"] = chosen.owner_id, chosen.team_id


class AccountWriter(_Writer):
    model = Account
    columns = _ACCOUNT_COLUMNS

    def __init__(self, user: Any, policy: str, ctx: PrepareContext, job: Any = None):
        super().__init__(user, policy, ctx, job)
        # Per batch: the accounts above each parent found in the database, and the ids of the
        # batch's new accounts by their keys (a parent named by another row of the batch).
        self.chains: dict[int, list[int]] = {}
        self.new_ids: dict[tuple[str, str], int] = {}
        self.new_by_line: dict[int, int] = {}  # the batch's new accounts by line, for their relations
        self.relations = Relations(user, ctx.columns, _RELATION_IDS_LABEL)

    def write(self, rows: list[Prepared]) -> BatchResult:
        # Every row of the batch, the bad ones too: a company named by a row that is refused reads
        # "its row could not be imported", not "not found".
        self.relations.start(rows, self.match_keys)
        return super().write(rows)

    def _refuse_parent(self, result: BatchResult, row: Prepared, reason: str) -> None:
        ref = _parent_ref(row.values)
        assert ref is not None
        self._refuse(result, row, "parent_external_id" if ref[0] == "external_id" else "parent", ref[1], reason)

    def before_write(self, rows: list[Prepared], result: BatchResult) -> list[Prepared]:
        """Find each row's parent among the accounts the user may see, or else among the batch's rows."""
        self.chains, self.new_ids, self.new_by_line = {}, {}, {}
        refs = {ref for row in rows if (ref := _parent_ref(row.values))}
        if not refs:
            return rows
        visible = restricted(Account, self.user, Action.VIEW)
        found: dict[tuple[str, str], int] = {}
        for kind in ("external_id", "name"):
            for chunk in _chunks(sorted(key for k, key in refs if k == kind)):
                # The oldest of two accounts with one name, as a contact's company is found.
                for key, pk in visible.filter(**{f"{kind}__in": chunk}).order_by("-id").values_list(kind, "pk"):
                    found[(kind, key)] = pk
        self.chains = ancestor_chains(found.values())
        in_batch = {key for row in rows for key in self.match_keys(row.values)}
        kept = []
        for row in rows:
            ref = _parent_ref(row.values)
            if ref is None:
                kept.append(row)
            elif ref in self.match_keys(row.values):
                self._refuse_parent(result, row, _("An account cannot be its own parent."))
            elif ref in found:
                row.values["parent_id"] = found[ref]
                kept.append(row)
            elif ref in in_batch:
                row.values["parent_ref"] = ref  # its id comes when that row's account is created
                kept.append(row)
            else:
                self._refuse_parent(
                    result,
                    row,
                    _(
                        "No account you may see has this name or external ID: import the parent first, "
                        "or put it above its subsidiaries in the file."
                    ),
                )
        return kept

    def after_match(
        self, creates: list[Prepared], updates: dict[int, list[Prepared]], result: BatchResult
    ) -> tuple[list[Prepared], dict[int, list[Prepared]]]:
        """Refuse rows whose parent cannot be set, or whose related companies are not found
        (``import_relations``). A row refused for either can take away another row's parent or
        related company: repeat until no more are refused."""
        creates, updates = self._with_parents(creates, updates, result)
        if not self.relations.used:
            return creates, updates

        def refuse(row: Prepared, field: str, value: str, reason: str) -> None:
            self._refuse(result, row, field, value, reason)

        self.relations.find([*creates, *(row for group in updates.values() for row in group)])
        while True:
            creates, updates, refused = self.relations.check(creates, updates, self.match_keys, refuse)
            if not refused:
                return creates, updates
            creates, updates = self._with_parents(creates, updates, result)

    def _with_parents(
        self, creates: list[Prepared], updates: dict[int, list[Prepared]], result: BatchResult
    ) -> tuple[list[Prepared], dict[int, list[Prepared]]]:
        """Refuse rows whose parent would make a loop or a group deeper than ``MAX_HIERARCHY_DEPTH``.

        A parent in the batch is followed up through the batch's new accounts to one in the database
        (its ``chains``). Refusing a row can leave another row's parent uncreated: repeat until none."""
        rows = [(None, row) for row in creates] + [(pk, row) for pk, group in updates.items() for row in group]
        if not any("parent_id" in row.values or "parent_ref" in row.values for _pk, row in rows):
            return creates, updates
        refused: set[int] = set()  # lines
        while True:
            new = [row for pk, row in rows if pk is None and row.line not in refused]
            index = {key: row for row in new for key in self.match_keys(row.values)}
            newly = 0
            for pk, row in rows:
                if row.line in refused or not ("parent_id" in row.values or "parent_ref" in row.values):
                    continue
                reason = self._parent_problem(pk, row, index)
                if reason:
                    self._refuse_parent(result, row, reason)
                    refused.add(row.line)
                    newly += 1
            if not newly:
                break
        kept_creates = [row for row in creates if row.line not in refused]
        kept_updates = {pk: [r for r in group if r.line not in refused] for pk, group in updates.items()}
        return kept_creates, {pk: group for pk, group in kept_updates.items() if group}

    def _parent_problem(self, pk: int | None, row: Prepared, new: dict[tuple[str, str], Prepared]) -> str:
        """Why this row's parent cannot be set, or "". ``pk``: the account the row updates, if any."""
        seen = {row.line}
        depth, current = 0, row  # depth: the batch's new accounts above this row
        while "parent_ref" in current.values:
            above = new.get(current.values["parent_ref"])
            if above is None:
                return _("The parent account's own row could not be imported.")
            if above.line in seen:
                return _("This parent is already below this account; that would make a loop.")
            seen.add(above.line)
            depth, current = depth + 1, above
        chain = self.chains.get(current.values.get("parent_id") or 0, [])
        if pk is not None and pk in chain:
            return _("This parent is already below this account; that would make a loop.")
        if depth + len(chain) > MAX_HIERARCHY_DEPTH:
            return _("Account groups are at most %(depth)s levels deep.") % {"depth": MAX_HIERARCHY_DEPTH}
        return ""

    def match_keys(self, values: dict[str, Any]) -> list[tuple[str, str]]:
        keys = [("id", str(values["id"]))] if "id" in values else []
        if values.get("external_id"):
            keys.append(("external_id", values["external_id"]))
        # One company's registration number is that company, whatever the row calls it.
        if values.get("registration_number"):
            keys.append(("registration_number", values["registration_number"]))
        if values.get("name"):
            keys.append(("name", values["name"]))
        return keys

    def lookup(self, kind: str, keys: list[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        for chunk in _chunks(keys):
            rows = Account.all_objects.filter(deleted_at__isnull=True, **{f"{kind}__in": chunk})
            if kind == "external_id":
                rows = rows.exclude(external_id="")
            for key, pk in rows.order_by("-id").values_list(kind, "pk"):
                out[key] = pk
        return out

    def create(self, rows: list[Prepared], result: BatchResult, now: Any, log: ChangeLogRows) -> None:
        table = TableRows(Account, now)
        pks = allocate_ids(Account, len(rows))
        self.new_ids = {key: pk for pk, row in zip(pks, rows, strict=True) for key in self.match_keys(row.values)}
        self.new_by_line = {row.line: pk for pk, row in zip(pks, rows, strict=True)}
        records = []
        documents: dict[int, Columns] = {}
        tags: dict[int, list[str]] = {}
        rules = Assigner() if any("owner_id" not in row.values for row in rows) else None
        for pk, row in zip(pks, rows, strict=True):
            if "parent_ref" in row.values:
                row.values["parent_id"] = self.new_ids[row.values["parent_ref"]]
            values = self.base_values(row, table, pk)
            if rules and "owner_id" not in row.values:
                _assign_row(rules, table, values, row.values.get("tags"))
            records.append(table.row({**values, "dup_key": account_dup_key(values.get("name") or "")}))
            documents[pk] = account_document(
                values["name"],
                values.get("legal_name", ""),
                values.get("website", ""),
                values.get("registration_number", ""),
            ).columns()
            changes = {
                _field_name(k): [None, v]
                for k, v in values.items()
                if k not in ("id", "created_by_id", "team_id", "custom_fields") and v not in (None, "")
            }
            changes.update(_custom_changes({}, row.values.get("custom_fields") or {}))
            if row.values.get("tags"):
                tags[pk] = row.values["tags"]
                changes["tags"] = [None, sorted(row.values["tags"])]
            log.add(Account, pk, values["name"], ChangeAction.CREATE, changes)
        table.insert(records)
        if rules:
            rules.save()
        self.tags.link(Account, tags, existing=False)
        result.created += len(rows)
        result.touch(Account, pks)
        result.documents.setdefault(Account, {}).update(documents)

    def update(self, merged: dict[int, list[Prepared]], result: BatchResult, now: Any, log: ChangeLogRows) -> None:
        allowed = self.changeable(list(merged))
        table = TableRows(Account, now)
        for rows in merged.values():
            for row in rows:
                if "parent_ref" in row.values:  # a parent created by this batch (``create`` ran first)
                    row.values["parent_id"] = self.new_ids[row.values["parent_ref"]]
        attnames = [*self.columns, "owner_id", "team_id", "custom_fields"]
        current = {}
        for chunk in _chunks([pk for pk in merged if pk in allowed]):
            for row in Account.all_objects.filter(pk__in=chunk).values("id", "version", *attnames):
                row["annual_revenue"] = str(row["annual_revenue"])
                current[row["id"]] = row
        updates = []
        tags: dict[int, list[str]] = {}
        untag: dict[int, list[str]] = {}  # scoped tags a file's tag replaces
        had_tags = self.tags.names_on(Account, _tagged(merged))
        handed: dict[int, tuple[Any, Any, Any]] = {}  # account -> (previous owner, new owner, new team)
        for pk, rows in merged.items():
            if pk not in allowed:
                for row in rows:
                    self._refuse(result, row, "", "", _("This row matches an account you may not change."))
                continue
            before = current[pk]
            wanted: dict[str, Any] = {}
            for row in rows:
                _merge_into(wanted, row.values)
            after = {**before, **{n: wanted[n] for n in attnames if wanted.get(n) not in (None, "")}}
            after["custom_fields"] = _custom_after(before["custom_fields"], wanted)
            _clear_blanks(Account, after, wanted, attnames)
            changes = _changes(before, after, attnames)
            added, removed = _new_tags(wanted, had_tags.get(pk, ()), changes)
            if added:
                tags[pk] = added
            if removed:
                untag[pk] = removed
            if not changes:
                result.skipped += len(rows)
                continue
            if changes:
                values = [table.prep(n, after[n]) if n in _JSON_COLUMNS else after[n] for n in attnames]
                updates.append((*values, before["version"] + 1, table.now_db, pk))
                log.add(Account, pk, after["name"], ChangeAction.UPDATE, changes)
                if before["owner_id"] != after["owner_id"]:
                    handed[pk] = (before["owner_id"], after["owner_id"], after["team_id"])
            result.updated += len(rows)
            result.touch(Account, [pk])
        update_rows(Account, [*(_column(Account, n) for n in attnames), "version", "updated_at"], updates)
        self.tags.link(Account, tags, existing=True)
        self.tags.unlink(Account, untag)
        self._contacts_follow(handed, table.now_db, log)
        if handed:
            # As ``account_update``: a new owner starts the pool rules' count of days again, and an
            # account in the customer pool that the file gives an owner leaves the pool.
            for chunk in _chunks(list(handed)):
                Account.all_objects.filter(pk__in=chunk).update(owner_since=timezone.now(), pool_due_at=None)
                Account.all_objects.filter(pk__in=chunk, owner__isnull=False, pooled_at__isnull=False).update(
                    pooled_at=None, pool_reason=""
                )

    def after_write(self, result: BatchResult) -> None:
        """The rows' relations with other companies, once their accounts are written."""
        if self.relations.pending:
            self.relations.add(
                self.new_by_line,
                result,
                lambda row, field, value, reason: self._refuse(result, row, field, value, reason),
            )

    def _contacts_follow(self, handed: dict[int, tuple[Any, Any, Any]], now_db: Any, log: ChangeLogRows) -> None:
        """What ``account_update`` does, in bulk: the contacts whose primary account changed hands and
        whom its previous owner held go to the new owner and team, as far as the user may assign them.
        ``handed``: account id -> (previous owner, new owner, new team)."""
        if not handed:
            return
        held = restrict_queryset(restricted(Contact, self.user, Action.CHANGE), self.user, Action.ASSIGN)
        updates = []
        for chunk in _chunks(list(handed)):
            found = held.filter(account_links__account_id__in=chunk, account_links__is_primary=True).values_list(
                "pk", "account_links__account_id", "owner_id", "team_id", "version", "display_name"
            )
            for pk, account_id, owner_id, team_id, version, name in found:
                previous, owner, team = handed[account_id]
                if owner_id != previous:
                    continue
                updates.append((owner, team, version + 1, now_db, pk))
                changes = {"owner": [owner_id, owner]} | ({"team": [team_id, team]} if team_id != team else {})
                log.add(Contact, pk, name, ChangeAction.UPDATE, changes)
        update_rows(
            Contact, [_column(Contact, "owner_id"), _column(Contact, "team_id"), "version", "updated_at"], updates
        )


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


__all__ = ["register_importers", "prepare_contacts", "prepare_accounts", "ContactWriter", "AccountWriter", "Q"]
