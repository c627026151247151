"""What a column of a contact or account import can feed: the import fields (``CONTACT_FIELDS``,
``ACCOUNT_FIELDS``) with their header aliases, in Chinese and English as people head a spreadsheet,
and hints, and the length each text may take (``MAX_LENGTHS``).

Declarations only, apart from the code that reads them: the import framework uses them on their own
(header mapping, the Excel template, ``GET /api/v1/imports/fields``) through the ``ImportSpec`` that
``importers.register_importers`` builds, and the rows and writers import them from here.
"""

from __future__ import annotations

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy, pgettext_lazy

from guanxi.core.imports.specs import ImportField
from guanxi.core.list_cells import LIST_QUOTES_HINT
from guanxi.customers.choices import AccountSource, DecisionRole, Industry, LifecycleStage, SizeBand, Stance
from guanxi.customers.import_relations import BY_EXTERNAL_ID, BY_NAME

_RELATIONS_LABEL = gettext_lazy("related companies")
RELATION_IDS_LABEL = gettext_lazy("related company external IDs")
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
        "tags",
        gettext_lazy("tags"),
        ("标签", "tag", "labels"),
        hint=format_lazy("{} {}", gettext_lazy("Several separated by commas."), LIST_QUOTES_HINT),
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
        "source",
        gettext_lazy("source"),
        ("来源", "客户来源", "联系人来源", "获客渠道", "来源渠道", "source", "lead source", "contact source"),
        choices=AccountSource,
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
        hint=format_lazy(
            "{} {}",
            gettext_lazy(
                "Each relation as the company's page reads it (Supplies, Buys from, Partners...), a colon, then the "
                "other company's exact name; several separated by ; e.g. Supplies:Acme Ltd; Partners:Beta Co. "
                "Relations already there are kept."
            ),
            gettext_lazy(
                'A name that holds ; goes in double quotes, e.g. Supplies:"A;B Ltd"; '
                "a quote inside it is written twice."
            ),
        ),
    ),
    ImportField(
        BY_EXTERNAL_ID,
        RELATION_IDS_LABEL,
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
