"""Customer demo data: accounts, contacts and their links, notes, tier rules and an ideal customer profile.

Picked up by ``guanxi demo`` (``guanxi.demo.module_steps``) after the identity and core steps, so the
demo users, teams and tags exist. Everything goes through the customer services, as the demo
administrator, inside the command's ``write_context("system")``. Running it again changes nothing:
accounts are found by name, contacts by their first email, notes by their text, tier rules and
profiles by name. Contacts are generated from a fixed seed, so every run proposes the same people.

Emails and websites use ``*.example.com`` (RFC 2606) so a demo install never mails a real company.
"""

from __future__ import annotations

import datetime
import random
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from guanxi.demo import DemoContext, DemoStep

SEED = 20260315

# --- accounts ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoAccount:
    name: str
    industry: str
    employees: int
    revenue: int  # CNY a year; 0 = not known
    country: str
    province: str
    city: str
    district: str
    street: str
    postal_code: str
    domain: str  # web and email domain, below example.com
    stage: str
    source: str
    owner: str  # a demo user key (guanxi.demo.USERS)
    parent: str = ""  # the parent account's name
    tags: tuple[str, ...] = ()
    description: str = ""
    tier: str = ""  # a tier set by hand (locks it against the rules)
    region: str = ""  # outside China; inside, the service derives it from the province

    @property
    def chinese(self) -> bool:
        return self.country == "CN"


_A = DemoAccount
# fmt: off
ACCOUNTS: list[DemoAccount] = [
    # 华东 East China ------------------------------------------------------------------------------------
    _A("上海浦江精密机械有限公司", "manufacturing", 680, 280_000_000, "CN", "上海市", "上海", "闵行区",
       "春东路 508 号", "201108", "pujiang-precision", "customer", "trade_show", "li_wei",
       tags=("重点客户", "华东", "VIP"), description="五轴加工中心与精密零部件，集团总部。年度维保框架协议客户。"),
    _A("苏州浦江精密零部件有限公司", "manufacturing", 320, 95_000_000, "CN", "江苏省", "苏州", "工业园区",
       "星湖街 328 号", "215123", "pujiang-suzhou", "customer", "referral", "li_wei",
       parent="上海浦江精密机械有限公司", tags=("华东",)),
    _A("宁波浦江模具有限公司", "manufacturing", 140, 42_000_000, "CN", "浙江省", "宁波", "北仑区",
       "明州路 77 号", "315800", "pujiang-mould", "prospect", "referral", "li_wei",
       parent="上海浦江精密机械有限公司", tags=("华东", "老客户转介绍")),
    _A("杭州绿茶餐饮管理有限公司", "hospitality", 2600, 650_000_000, "CN", "浙江省", "杭州", "西湖区",
       "文三路 259 号", "310012", "lvcha-dining", "customer", "website", "chen_jing",
       tags=("重点客户", "华东", "数字化升级需求"), description="连锁餐饮，华东 180 家门店，会员系统与门店 POS 集成。"),
    _A("上海绿茶餐饮有限公司", "hospitality", 800, 120_000_000, "CN", "上海市", "上海", "黄浦区",
       "南京东路 300 号", "200001", "lvcha-shanghai", "customer", "referral", "chen_jing",
       parent="杭州绿茶餐饮管理有限公司", tags=("华东",)),
    _A("南京金陵智能装备股份有限公司", "manufacturing", 450, 160_000_000, "CN", "江苏省", "南京", "江宁区",
       "将军大道 159 号", "211106", "jinling-equipment", "customer", "trade_show", "wang_fang",
       tags=("华东", "2026 展会")),
    _A("无锡华芯半导体科技有限公司", "electronics", 230, 80_000_000, "CN", "江苏省", "无锡", "新吴区",
       "长江路 21 号", "214028", "huaxin-semi", "prospect", "trade_show", "li_wei",
       tags=("华东", "2026 展会")),
    _A("杭州数澜网络科技有限公司", "software", 120, 35_000_000, "CN", "浙江省", "杭州", "滨江区",
       "网商路 699 号", "310052", "shulan-tech", "customer", "website", "chen_jing", tags=("华东",)),
    _A("合肥启明新能源科技有限公司", "energy", 380, 110_000_000, "CN", "安徽省", "合肥", "高新区",
       "创新大道 2800 号", "230088", "qiming-energy", "prospect", "cold_call", "wang_fang",
       tags=("华东", "待回访", "数字化升级需求")),
    _A("上海东方远航国际物流有限公司", "logistics", 900, 320_000_000, "CN", "上海市", "上海", "浦东新区",
       "外高桥港区洲海路 999 号", "200137", "yuanhang-logistics", "partner", "partner", "wang_fang",
       tags=("华东",), description="合作伙伴：为华东客户提供仓储与干线运输。"),
    _A("青岛海湾化工材料有限公司", "chemicals", 520, 210_000_000, "CN", "山东省", "青岛", "黄岛区",
       "江山南路 480 号", "266555", "haiwan-chem", "customer", "advertising", "chen_jing",
       tags=("华东", "设备维保需求")),
    _A("厦门鹭岛医疗器械有限公司", "healthcare", 85, 18_000_000, "CN", "福建省", "厦门", "思明区",
       "软件园二期观日路 24 号", "361008", "ludao-medical", "prospect", "website", "li_wei",
       tags=("待回访", "意向::中")),
    _A("常州天宁纺织有限公司", "manufacturing", 60, 9_500_000, "CN", "江苏省", "常州", "天宁区",
       "青洋北路 88 号", "213003", "tianning-textile", "churned", "cold_call", "chen_jing",
       description="2025 年底转用竞品（价格原因），半年后回访。"),
    _A("温州瓯江电气有限公司", "manufacturing", 35, 6_000_000, "CN", "浙江省", "温州", "乐清市",
       "柳市镇长江路 16 号", "325604", "oujiang-electric", "prospect", "trade_show", "li_wei",
       tags=("待回访", "2026 展会", "意向::低")),
    _A("上海明德教育科技有限公司", "education", 40, 800_000, "CN", "上海市", "上海", "徐汇区",
       "漕溪北路 398 号", "200030", "mingde-edu", "prospect", "social", "chen_jing"),
    # 华南 South China -----------------------------------------------------------------------------------
    _A("深圳云帆科技有限公司", "software", 750, 460_000_000, "CN", "广东省", "深圳", "南山区",
       "科技园科苑路 15 号", "518057", "yunfan-tech", "customer", "referral", "liu_yang",
       tags=("重点客户", "华南", "VIP"), description="SaaS 与物联网平台；年度框架协议续签中。"),
    _A("东莞云帆智能制造有限公司", "manufacturing", 410, 130_000_000, "CN", "广东省", "东莞", "松山湖",
       "工业北路 6 号", "523808", "yunfan-dg", "customer", "referral", "liu_yang",
       parent="深圳云帆科技有限公司", tags=("华南",)),
    _A("广州珠江食品集团有限公司", "manufacturing", 3200, 1_200_000_000, "CN", "广东省", "广州", "天河区",
       "珠江新城华夏路 10 号", "510623", "zhujiang-food", "customer", "trade_show", "zhang_qiang",
       tags=("重点客户", "华南")),
    _A("佛山南海五金制品有限公司", "manufacturing", 180, 52_000_000, "CN", "广东省", "佛山", "南海区",
       "桂城街道南海大道 33 号", "528200", "nanhai-hardware", "customer", "cold_call", "huang_li",
       tags=("华南", "设备维保需求")),
    _A("深圳前海跨境电商有限公司", "ecommerce", 95, 26_000_000, "CN", "广东省", "深圳", "前海合作区",
       "前湾一路 1 号", "518066", "qianhai-ecom", "prospect", "trade_show", "huang_li",
       tags=("华南", "2026 展会", "意向::高")),
    _A("珠海横琴生物医药有限公司", "pharma", 260, 90_000_000, "CN", "广东省", "珠海", "横琴新区",
       "环岛东路 3000 号", "519031", "hengqin-bio", "prospect", "website", "liu_yang", tags=("华南", "意向::高")),
    _A("南宁八桂农业发展有限公司", "agriculture", 150, 30_000_000, "CN", "广西壮族自治区", "南宁", "西乡塘区",
       "大学东路 100 号", "530004", "bagui-agri", "prospect", "advertising", "huang_li"),
    _A("海口椰风旅游酒店管理有限公司", "hospitality", 300, 75_000_000, "CN", "海南省", "海口", "美兰区",
       "海甸五西路 28 号", "570228", "yefeng-hotels", "customer", "referral", "huang_li", tags=("华南",)),
    _A("深圳鹏程电子有限公司", "electronics", 1200, 550_000_000, "CN", "广东省", "深圳", "宝安区",
       "西乡街道宝源路 168 号", "518102", "pengcheng-elec", "customer", "trade_show", "zhang_qiang",
       tags=("重点客户", "华南")),
    _A("广州白云建材有限公司", "construction", 70, 15_000_000, "CN", "广东省", "广州", "白云区",
       "机场路 1718 号", "510405", "baiyun-building", "churned", "cold_call", "liu_yang"),
    _A("汕头潮汕玩具实业有限公司", "manufacturing", 45, 8_000_000, "CN", "广东省", "汕头", "澄海区",
       "莲下镇玩具城 12 栋", "515800", "chaoshan-toys", "prospect", "referral", "huang_li",
       tags=("华南", "老客户转介绍")),
    # 其他地区 Elsewhere in China --------------------------------------------------------------------------
    _A("北京中关村智联软件有限公司", "software", 600, 240_000_000, "CN", "北京市", "北京", "海淀区",
       "中关村大街 27 号", "100080", "zhilian-soft", "customer", "partner", "director", tags=("重点客户",)),
    _A("武汉光谷光电科技有限公司", "electronics", 350, 150_000_000, "CN", "湖北省", "武汉", "东湖高新区",
       "光谷大道 77 号", "430074", "guanggu-opto", "prospect", "trade_show", "wang_fang",
       tags=("2026 展会", "意向::中")),
    _A("成都天府云数据服务有限公司", "internet", 210, 60_000_000, "CN", "四川省", "成都", "高新区",
       "天府大道中段 1388 号", "610041", "tianfu-cloud", "customer", "website", "zhang_qiang"),
    _A("西安秦川汽车零部件有限公司", "automotive", 880, 360_000_000, "CN", "陕西省", "西安", "经开区",
       "凤城十二路 1 号", "710018", "qinchuan-auto", "partner", "partner", "director"),
    _A("天津滨海港务贸易有限公司", "wholesale", 130, 0, "CN", "天津市", "天津", "滨海新区",
       "新港二号路 35 号", "300456", "binhai-trade", "prospect", "cold_call", "director", tags=("待回访",)),
    # 海外 Overseas --------------------------------------------------------------------------------------
    _A("Northwind Trading Pte Ltd", "wholesale", 85, 42_000_000, "SG", "", "Singapore", "",
       "8 Marina View, #30-01", "018960", "northwind-trading", "customer", "trade_show", "priya_nair",
       tags=("海外", "VIP"), tier="A", region="东南亚",
       description="Distributor for Singapore and Malaysia; strategic partner, tier set by hand."),
    _A("Bavaria Industrietechnik GmbH", "manufacturing", 1500, 850_000_000, "DE", "Bayern", "München", "",
       "Leopoldstraße 180", "80804", "bavaria-industrietechnik", "customer", "trade_show", "david_muller",
       tags=("海外", "重点客户"), region="欧洲", description="Machine tools; plants in Munich and Suzhou."),
    _A("巴伐利亚工业技术（苏州）有限公司", "manufacturing", 260, 98_000_000, "CN", "江苏省", "苏州", "工业园区",
       "苏虹中路 200 号", "215021", "bavaria-suzhou", "customer", "referral", "david_muller",
       parent="Bavaria Industrietechnik GmbH", tags=("华东",)),
    _A("Lion City Logistics Pte Ltd", "logistics", 220, 110_000_000, "SG", "", "Singapore", "",
       "21 Changi North Rise", "498788", "lioncity-logistics", "prospect", "website", "priya_nair",
       tags=("海外",), region="东南亚"),
    _A("Rheinland Precision Tools GmbH", "manufacturing", 340, 190_000_000, "DE", "Nordrhein-Westfalen",
       "Düsseldorf", "", "Königsallee 92", "40212", "rheinland-tools", "prospect", "trade_show", "david_muller",
       tags=("海外", "2026 展会"), region="欧洲", description="Met at Hannover Messe 2026."),
    _A("Saigon Garment Export Co., Ltd", "manufacturing", 600, 90_000_000, "VN", "", "Ho Chi Minh City",
       "District 7", "15 Nguyen Luong Bang", "700000", "saigon-garment", "prospect", "cold_call", "priya_nair",
       tags=("海外",), region="东南亚"),
    _A("Melaka Palm Oil Sdn Bhd", "agriculture", 400, 160_000_000, "MY", "Melaka", "Melaka", "",
       "Jalan Tun Sri Lanang 12", "75100", "melaka-palm", "churned", "advertising", "emily_chen",
       tags=("海外",), region="东南亚"),
    _A("Alpine MedTech AG", "healthcare", 180, 230_000_000, "CH", "Zürich", "Zürich", "",
       "Bahnhofstrasse 45", "8001", "alpine-medtech", "prospect", "website", "emily_chen",
       tags=("海外",), region="欧洲"),
    _A("Harbourfront Capital Partners Pte Ltd", "finance", 45, 20_000_000, "SG", "", "Singapore", "",
       "1 HarbourFront Avenue, #14-07", "098632", "harbourfront-capital", "partner", "partner", "emily_chen",
       tags=("海外",), region="东南亚"),
    _A("PT Digital Nusantara Indonesia", "internet", 120, 38_000_000, "ID", "DKI Jakarta", "Jakarta", "",
       "Jl. Jend. Sudirman Kav. 52-53", "12190", "digital-nusantara", "prospect", "social", "priya_nair",
       tags=("海外", "待回访"), region="东南亚"),
]
# fmt: on


def website_of(account: DemoAccount) -> str:
    return f"https://www.{account.domain}.example.com"


def email_domain_of(account: DemoAccount) -> str:
    return f"{account.domain}.example.com"


_CREDIT_CODE_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def credit_code(rng: random.Random) -> str:
    """A well-formed 统一社会信用代码 (GB 32100-2015, with its check character) of an invented company."""
    body = "91" + rng.choice(["310000", "320500", "330100", "440300", "440100", "110108"])
    body += "".join(rng.choice(_CREDIT_CODE_CHARS) for _ in range(9))
    total = sum(_CREDIT_CODE_CHARS.index(ch) * w for ch, w in zip(body, _CREDIT_CODE_WEIGHTS, strict=True))
    return body + _CREDIT_CODE_CHARS[(31 - total % 31) % 31]


# --- contacts ----------------------------------------------------------------------------------------

# (汉字, pinyin); none of them makes the name of a demo user.
# fmt: off
CN_FAMILY = [
    ("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"), ("杨", "yang"),
    ("黄", "huang"), ("吴", "wu"), ("周", "zhou"), ("徐", "xu"), ("马", "ma"), ("朱", "zhu"),
    ("胡", "hu"), ("郭", "guo"), ("何", "he"), ("林", "lin"), ("罗", "luo"), ("高", "gao"),
    ("郑", "zheng"), ("梁", "liang"), ("谢", "xie"), ("宋", "song"), ("唐", "tang"), ("韩", "han"),
    ("冯", "feng"), ("邓", "deng"), ("曹", "cao"), ("沈", "shen"), ("钱", "qian"), ("蒋", "jiang"),
]
# fmt: on
# fmt: off
CN_GIVEN = [
    ("建国", "jianguo"), ("海燕", "haiyan"), ("志强", "zhiqiang"), ("晓明", "xiaoming"), ("丽娟", "lijuan"),
    ("国平", "guoping"), ("静怡", "jingyi"), ("文博", "wenbo"), ("雪梅", "xuemei"), ("俊杰", "junjie"),
    ("秀英", "xiuying"), ("子涵", "zihan"), ("宏伟", "hongwei"), ("婷婷", "tingting"), ("永康", "yongkang"),
    ("佳琪", "jiaqi"), ("浩然", "haoran"), ("春华", "chunhua"), ("立新", "lixin"), ("慧敏", "huimin"),
    ("鹏飞", "pengfei"), ("晓燕", "xiaoyan"), ("德华", "dehua"), ("欣怡", "xinyi"), ("振华", "zhenhua"),
    ("玉兰", "yulan"), ("明辉", "minghui"), ("思远", "siyuan"), ("红霞", "hongxia"), ("世杰", "shijie"),
    ("敏", "min"), ("勇", "yong"), ("娜", "na"), ("超", "chao"), ("斌", "bin"), ("颖", "ying"),
]
# fmt: on
# Western and South-East Asian names by country: (given names, family names).
FOREIGN_NAMES: dict[str, tuple[list[str], list[str]]] = {
    "DE": (
        ["Thomas", "Andreas", "Stefan", "Julia", "Katrin", "Markus", "Sabine", "Michael", "Anna", "Lukas", "Jürgen"],
        ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Wagner", "Becker", "Hoffmann", "Koch", "Bauer"],
    ),
    "CH": (
        ["Reto", "Claudia", "Martin", "Nicole", "Urs", "Sandra", "Beat", "Simone"],
        ["Keller", "Meier", "Huber", "Brunner", "Baumann", "Frei", "Gerber", "Widmer"],
    ),
    "SG": (
        ["Rachel", "Daniel", "Jasmine", "Marcus", "Priscilla", "Kelvin", "Sharon", "Benjamin", "Ravi", "Aisha"],
        ["Tan", "Lim", "Ng", "Lee", "Goh", "Wong", "Chua", "Kumar", "Rahman", "Teo", "Ong"],
    ),
    "MY": (["Ahmad", "Siti", "Farid", "Nurul", "Mei Ling", "Hafiz"], ["Abdullah", "Ismail", "Tan", "Lim", "Rahman"]),
    "VN": (["Thi Lan", "Van Minh", "Thu Trang", "Quoc Bao", "Ngoc Anh"], ["Nguyen", "Tran", "Le", "Pham", "Vo"]),
    "ID": (["Budi", "Dewi", "Agus", "Sri", "Andi", "Putri"], ["Santoso", "Wijaya", "Pratama", "Halim", "Kusuma"]),
}
# (job title, department); the first is the account's decision maker, the second its buyer.
# fmt: off
CN_ROLES = [
    ("总经理", "总经办"), ("采购经理", "采购部"), ("技术总监", "技术部"), ("财务总监", "财务部"),
    ("生产经理", "生产部"), ("IT 经理", "信息部"), ("CTO", "技术中心"), ("采购专员", "采购部"),
    ("质量经理", "质量部"), ("副总经理", "总经办"), ("行政主管", "行政部"),
]
# fmt: on
# fmt: off
EN_ROLES = [
    ("Managing Director", "Management"), ("Head of Procurement", "Procurement"), ("CTO", "Technology"),
    ("CFO", "Finance"), ("Operations Director", "Operations"), ("IT Manager", "IT"),
    ("Purchasing Manager", "Procurement"), ("Plant Manager", "Production"),
]
# fmt: on
# Office area codes of the demo cities (landlines are dialled with them).
# fmt: off
AREA_CODES = {
    "上海": "21", "北京": "10", "天津": "22", "广州": "20", "深圳": "755", "杭州": "571", "南京": "25",
    "苏州": "512", "宁波": "574", "无锡": "510", "合肥": "551", "青岛": "532", "厦门": "592", "常州": "519",
    "温州": "577", "东莞": "769", "佛山": "757", "珠海": "756", "南宁": "771", "海口": "898", "汕头": "754",
    "武汉": "27", "成都": "28", "西安": "29",
}
# fmt: on
CN_MOBILE_PREFIXES = ["138", "139", "136", "135", "137", "186", "188", "158", "150", "177", "199", "189", "133"]
FOREIGN_PHONES: dict[str, tuple[str, list[str]]] = {
    # country: (calling code, mobile prefixes)
    "SG": ("65", ["9", "8"]),
    "DE": ("49", ["151", "160", "170", "171", "172", "175", "176"]),
    "CH": ("41", ["79", "78", "76"]),
    "MY": ("60", ["12", "13", "17"]),
    "VN": ("84", ["90", "91", "98"]),
    "ID": ("62", ["812", "813", "821"]),
}
CONSENT_SOURCES = [
    "展会登记表 Trade-show form",
    "官网订阅 Website sign-up",
    "电话确认 Phone call",
    "名片 Business card",
]


@dataclass
class DemoContact:
    family_name: str
    given_name: str
    title: str
    department: str
    owner: str
    emails: list[dict[str, Any]]
    phones: list[dict[str, Any]]
    accounts: list[tuple[str, str, bool]]  # (account name, role, primary)
    place: tuple[str, str, str] = ("CN", "", "")  # country, province, city: the account's
    wechat_id: str = ""
    birthday: str = ""
    birthday_lunar: bool = False
    consent: dict[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    decision_role: str = ""
    stance: str = ""
    source: str = ""  # where the person came from (来源): an AccountSource value
    manager: str = ""  # the key of whom they report to

    @property
    def key(self) -> str:
        """The natural key: the first email."""
        return self.emails[0]["value"]


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _valid_phone(make: Any) -> str:
    """Draw numbers until one is valid (the same draws every run: the generator is seeded)."""
    from guanxi.customers.normalize import normalize_phone

    for _attempt in range(50):
        number = make()
        try:
            normalize_phone(number)
        except ValueError:
            continue
        return number
    raise RuntimeError("no valid demo phone number drawn")  # pragma: no cover - the plans are generous


def _cn_mobile(rng: random.Random) -> str:
    return _valid_phone(lambda: f"+86 {rng.choice(CN_MOBILE_PREFIXES)} {_digits(rng, 4)} {_digits(rng, 4)}")


def _cn_office(rng: random.Random, city: str) -> str:
    area = AREA_CODES.get(city, "21")
    sizes = [8] if len(area) == 2 else [7, 8]  # smaller cities dial 7 or 8 digits after the area code
    return _valid_phone(lambda: f"0{area}-{rng.choice('5678')}{_digits(rng, rng.choice(sizes) - 1)}")


def _foreign_mobile(rng: random.Random, country: str) -> str:
    code, prefixes = FOREIGN_PHONES[country]
    lengths = {"SG": 7, "DE": 8, "CH": 7, "MY": 7, "VN": 7, "ID": 8}
    return _valid_phone(lambda: f"+{code} {rng.choice(prefixes)}{_digits(rng, lengths[country])}")


def _ascii(text: str) -> str:
    table = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"})
    return "".join(ch for ch in text.translate(table).lower() if ch.isalnum())


class _Emails:
    """Hands out unique addresses: a second 张伟 at the same company gets zhang.wei2@."""

    def __init__(self) -> None:
        self.taken: set[str] = set()

    def __call__(self, local: str, domain: str) -> str:
        candidate, n = f"{local}@{domain}", 1
        while candidate in self.taken:
            n += 1
            candidate = f"{local}{n}@{domain}"
        self.taken.add(candidate)
        return candidate


def _contact_count(account: DemoAccount) -> int:
    if account.employees >= 1000:
        return 4
    if account.employees < 100:
        return 2
    return 3


def _consent(rng: random.Random, chinese: bool) -> dict[str, Any]:
    consent: dict[str, Any] = {}
    source = rng.choice(CONSENT_SOURCES)
    if rng.random() < 0.7:
        consent.update(email_consent=True, email_consent_source=source)
    if chinese and rng.random() < 0.4:
        consent.update(sms_consent=True, sms_consent_source=source)
    if rng.random() < 0.5:
        consent.update(phone_consent=True, phone_consent_source=source)
    return consent


def _people(account: DemoAccount, rng: random.Random, emails: _Emails) -> Iterator[DemoContact]:
    domain = email_domain_of(account)
    style = rng.choice(["dot", "initial", "joined"])  # each company has one address style
    roles = CN_ROLES if account.chinese else EN_ROLES
    picked = [roles[0], roles[1], *rng.sample(roles[2:], _contact_count(account) - 2)]
    for title, department in picked:
        if account.chinese:
            (family, family_py), (given, given_py) = rng.choice(CN_FAMILY), rng.choice(CN_GIVEN)
            local = {"dot": f"{given_py}.{family_py}", "initial": f"{family_py}.{given_py}"}.get(style)
            local = local or f"{family_py}{given_py}"
            phones = [{"value": _cn_mobile(rng), "label": "mobile", "is_primary": True}]
            if rng.random() < 0.5:
                office = _cn_office(rng, account.city)
                if rng.random() < 0.5:
                    office += f" 转 {rng.randint(801, 899)}"
                phones.append({"value": office, "label": "work"})
            wechat = f"{family_py}{given_py}_{_digits(rng, rng.choice([2, 3, 4]))}" if rng.random() < 0.75 else ""
        else:
            givens, families = FOREIGN_NAMES[account.country]
            given, family = rng.choice(givens), rng.choice(families)
            local = f"{_ascii(given)}.{_ascii(family)}" if style != "initial" else f"{_ascii(given)[0]}{_ascii(family)}"
            phones = [{"value": _foreign_mobile(rng, account.country), "label": "mobile", "is_primary": True}]
            wechat = f"{_ascii(given)}_{_ascii(family)}" if account.country == "SG" and rng.random() < 0.3 else ""
        addresses = [{"value": emails(local, domain), "label": "work", "is_primary": True}]
        if rng.random() < 0.15:
            addresses.append({"value": emails(f"{local}.home", "mail.example.net"), "label": "personal"})
        birthday = ""
        if rng.random() < 0.3:
            birthday = f"{rng.randint(1962, 1996)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        tags = ("VIP",) if title in ("总经理", "Managing Director") and "VIP" in account.tags else ()
        yield DemoContact(
            family_name=family,
            given_name=given,
            title=title,
            department=department,
            owner=account.owner,
            emails=addresses,
            phones=phones,
            accounts=[(account.name, title, True)],
            place=(account.country, account.province, account.city),
            wechat_id=wechat,
            birthday=birthday,
            # About a third of the Chinese people keep their lunar birthday (no draw: the rest of
            # the demo stays as it was).
            birthday_lunar=bool(birthday) and account.chinese and int(birthday[-2:]) % 3 == 0,
            consent=_consent(rng, account.chinese),
            tags=tags,
        )


# Each title's part in buying (决策链) and whose title they report to ("" for the head, who is listed
# first at each company); a stance by title, no draw, so that the rest of the demo stays as it was.
# fmt: off
DECISION_CHAIN = {
    "总经理": ("decision_maker", "", "neutral"), "Managing Director": ("decision_maker", "", "neutral"),
    "副总经理": ("influencer", "总经理", "supporter"), "采购经理": ("buyer", "总经理", "supporter"),
    "采购专员": ("buyer", "采购经理", ""), "技术总监": ("evaluator", "总经理", ""), "CTO": ("evaluator", "总经理", ""),
    "IT 经理": ("evaluator", "CTO", "supporter"), "财务总监": ("influencer", "总经理", "opponent"),
    "生产经理": ("user", "总经理", ""), "质量经理": ("user", "生产经理", ""), "行政主管": ("", "副总经理", ""),
    "Head of Procurement": ("buyer", "Managing Director", "supporter"),
    "Purchasing Manager": ("buyer", "Head of Procurement", ""), "CFO": ("influencer", "Managing Director", ""),
    "IT Manager": ("evaluator", "CTO", "supporter"), "Operations Director": ("user", "Managing Director", ""),
    "Plant Manager": ("user", "Operations Director", ""),
}
# fmt: on


def _decision_chain(people: list[DemoContact]) -> None:
    """Who reports to whom at one company: to the title named, else to the head."""
    by_title = {person.title: person for person in people}
    head = people[0]
    for person in people:
        role, manager_title, stance = DECISION_CHAIN.get(person.title, ("", "", ""))
        person.decision_role, person.stance = role, stance
        if person is not head:
            person.manager = by_title.get(manager_title, head).key


# Where the people after a company's first two came from (来源), mostly through a colleague (转介绍);
# one in eight not recorded, as in a real book.
LATER_SOURCES = ("referral", "referral", "website", "social", "trade_show", "advertising", "cold_call", "")


def _sources(account: DemoAccount, people: list[DemoContact]) -> None:
    """The head and the next person came the way their company did; the others as ``LATER_SOURCES``
    falls by their email (no draw, so that the rest of the demo stays as it was)."""
    for index, person in enumerate(people):
        if index < 2:
            person.source = account.source
        else:
            person.source = LATER_SOURCES[zlib.crc32(person.key.encode()) % len(LATER_SOURCES)]


def contact_plan() -> list[DemoContact]:
    """Every demo contact, the same on every run: people per account, group executives linked to subsidiaries."""
    rng = random.Random(SEED)
    emails = _Emails()
    plan: list[DemoContact] = []
    first_at: dict[str, DemoContact] = {}
    for account in ACCOUNTS:
        people = list(_people(account, rng, emails))
        _decision_chain(people)
        _sources(account, people)
        first_at[account.name] = people[0]
        if account.parent:
            # The group's head sits on the subsidiary's board as well.
            head = first_at[account.parent]
            role = "集团董事" if account.chinese else "Group board member"
            head.accounts.append((account.name, role, False))
        plan.extend(people)
    return plan


# --- notes -------------------------------------------------------------------------------------------

# (account name, body); written by the account's owner.
# fmt: off
ACCOUNT_NOTES = [
    ("上海浦江精密机械有限公司", "拜访了总经理，对五轴加工中心的维保方案很感兴趣，下周二前提交报价。"),
    ("上海浦江精密机械有限公司", "苏州和宁波两家子公司希望并入集团框架协议，需要确认各自的开票主体。"),
    ("杭州绿茶餐饮管理有限公司", "计划今年新开 12 家门店，需要统一的会员系统；采购经理希望 4 月底前完成选型。"),
    ("深圳云帆科技有限公司", "年度框架协议续签中，法务在审合同条款（付款周期 60 天 → 45 天）。"),
    ("广州珠江食品集团有限公司", "集团 IT 部门牵头评估，要求提供等保三级证明材料。"),
    ("常州天宁纺织有限公司", "客户已转用竞品，原因是价格。约定半年后回访。"),
    ("Bavaria Industrietechnik GmbH", "Call with procurement: they want the Suzhou plant on the same service "
     "contract. Send a joint offer in EUR and CNY."),
    ("Northwind Trading Pte Ltd", "Met at the Singapore trade fair. Interested in the distribution module; "
     "follow up after Chinese New Year."),
]
# Accounts last followed up weeks ago (their notes are dated back), so the home page's "超过 30 天未跟进"
# has something to show: {account name: days ago}.
FOLLOWED_UP_DAYS_AGO = {"常州天宁纺织有限公司": 62, "Northwind Trading Pte Ltd": 41}
# Notes on the first person of a company: (company, note).
CONTACT_NOTES = [
    ("上海浦江精密机械有限公司", "电话确认：报价单已收到，下周二内部评审。"),
    ("杭州绿茶餐饮管理有限公司", "微信沟通了会员系统的演示时间，定在周四下午。"),
    ("深圳云帆科技有限公司", "电话回访：对新报价满意，等待法务意见。"),
    ("Bavaria Industrietechnik GmbH", "Call: confirmed the Suzhou plant contact for the joint offer."),
]
# fmt: on


# --- tier rules and the ideal customer profile ------------------------------------------------------

# (name, tier, position, conditions, description)
TIER_RULES = [
    ("A 类：年营收 ≥ 1 亿", "A", 10, {"min_annual_revenue": "100000000"}, "Annual revenue of CNY 100 million or more."),
    (
        "B 类：年营收 ≥ 1000 万",
        "B",
        20,
        {"min_annual_revenue": "10000000"},
        "Annual revenue of CNY 10 million or more.",
    ),
    ("C 类：年营收 ≥ 100 万", "C", 30, {"min_annual_revenue": "1000000"}, "Annual revenue of CNY 1 million or more."),
    ("D 类：其他", "D", 40, {}, "Everyone else, including accounts whose revenue is not known."),
]
# name, position, conditions, whom: tier A accounts of the south to its manager; other new accounts of
# a territory to its team's members in turn.
ASSIGNMENT_RULES = [
    ("华南 A 类新客户 → 张强", 5, {"regions": ["华南"], "tiers": ["A"]}, {"assignee": "zhang_qiang"}),
    ("华南新客户 → 华南销售部轮流", 10, {"regions": ["华南"]}, {"team": "south"}),
    ("华东新客户 → 华东销售部轮流", 20, {"regions": ["华东"]}, {"team": "east"}),
]
PROFILE = {
    "name": "制造业与科技企业（华东/华南，50–999 人）",
    "description": "Manufacturing and technology companies in East and South China with 50 to 999 employees: "
    "the customers that buy, renew and refer most.",
    "criteria": {
        "industries": ["manufacturing", "electronics", "automotive", "software", "internet"],
        "regions": ["华东", "华南"],
        "sizes": ["medium", "large"],
    },
    "weights": {"industries": 40, "regions": 30, "sizes": 30},
}


# --- steps -------------------------------------------------------------------------------------------


def accounts_step(ctx: DemoContext) -> None:
    from guanxi.core.custom_fields import definitions_for
    from guanxi.customers import services
    from guanxi.customers.models import Account

    rng = random.Random(SEED)
    custom_keys = {d.key for d in definitions_for(Account)}
    for account in ACCOUNTS:
        code, budget = credit_code(rng), rng.choice([50, 80, 120, 200, 350, 600])  # drawn for every account
        if Account.all_objects.filter(name=account.name).exists():
            continue
        owner = ctx.users[account.owner]
        data: dict[str, Any] = {
            "name": account.name,
            "legal_name": account.name,
            "industry": account.industry,
            "employee_count": account.employees,
            "annual_revenue": account.revenue,
            "currency": "CNY",
            "website": website_of(account),
            "country": account.country,
            "province": account.province,
            "city": account.city,
            "district": account.district,
            "street": account.street,
            "postal_code": account.postal_code,
            "lifecycle_stage": account.stage,
            "source": account.source,
            "description": account.description,
            "owner_id": owner.pk,
            "team_id": owner.team_id,
        }
        if account.region:
            data["region"] = account.region
        if account.tier:
            data["tier"] = account.tier
        if account.parent:
            data["parent_id"] = Account.objects.filter(name=account.parent).values_list("pk", flat=True).first()
        if account.chinese:
            data["registration_number"] = code
        custom: dict[str, Any] = {}
        if account.stage == "customer":
            custom["annual_budget"] = str(budget)
        services.account_create(
            user=ctx.admin,
            data=data,
            tags=list(account.tags),
            custom_fields={k: v for k, v in custom.items() if k in custom_keys},
        )
        ctx.note("accounts")


def contacts_step(ctx: DemoContext) -> None:
    from guanxi.customers import services
    from guanxi.customers.models import Account, ContactPoint

    account_ids = dict(Account.objects.filter(name__in=[a.name for a in ACCOUNTS]).values_list("name", "pk"))
    for person in contact_plan():
        if ContactPoint.objects.filter(kind="email", value=person.key).exists():
            continue
        owner = ctx.users[person.owner]
        data: dict[str, Any] = {
            "family_name": person.family_name,
            "given_name": person.given_name,
            "title": person.title,
            "department": person.department,
            "wechat_id": person.wechat_id,
            "country": person.place[0],
            "province": person.place[1],
            "city": person.place[2],
            "owner_id": owner.pk,
            "team_id": owner.team_id,
            "decision_role": person.decision_role,
            "stance": person.stance,
            "source": person.source,
            **person.consent,
        }
        manager = ContactPoint.objects.filter(kind="email", value=person.manager).values_list("contact_id", flat=True)
        if person.manager and manager:  # listed after their manager at each company
            data["reports_to_id"] = manager[0]
        if person.birthday:
            data["birthday"] = datetime.date.fromisoformat(person.birthday)
            data["birthday_lunar"] = person.birthday_lunar
        links = [
            {"account": account_ids[name], "role": role, "is_primary": primary}
            for name, role, primary in person.accounts
            if name in account_ids
        ]
        services.contact_create(
            user=ctx.admin,
            data=data,
            emails=person.emails,
            phones=person.phones,
            accounts=links,
            tags=list(person.tags),
        )
        ctx.note("contacts")


def notes_step(ctx: DemoContext) -> None:
    from django.contrib.contenttypes.models import ContentType
    from django.utils import timezone

    from guanxi.core.models import Note, TimelineEntry
    from guanxi.core.timeline import note_create
    from guanxi.customers.models import Account, Contact

    ct = ContentType.objects.get_for_model(Account, for_concrete_model=False)
    accounts = {a.name: a for a in Account.objects.filter(name__in={name for name, _body in ACCOUNT_NOTES})}
    for name, body in ACCOUNT_NOTES:
        account = accounts.get(name)
        if account is None or Note.all_objects.filter(content_type=ct, object_id=account.pk, body=body).exists():
            continue
        owner = ctx.users.get(next(a.owner for a in ACCOUNTS if a.name == name), ctx.admin)
        note = note_create(user=owner, data={"content_type_id": ct.pk, "object_id": account.pk, "body": body})
        if name in FOLLOWED_UP_DAYS_AGO:
            # Dated back on the note and its timeline entry; the classification step then counts it.
            then = timezone.now() - datetime.timedelta(days=FOLLOWED_UP_DAYS_AGO[name])
            Note.all_objects.filter(pk=note.pk).update(created_at=then)
            TimelineEntry.objects.filter(kind="note", data__note_id=note.pk).update(at=then)
        ctx.note("notes")
    # Calls with people, so the contact list's 最近互动 (last interaction) has something to show.
    person_ct = ContentType.objects.get_for_model(Contact, for_concrete_model=False)
    for name, body in CONTACT_NOTES:
        account = Account.objects.filter(name=name).first()
        person = (
            Contact.objects.filter(account_links__account=account, account_links__is_primary=True)
            .order_by("pk")
            .first()
            if account
            else None
        )
        if person is None or Note.all_objects.filter(content_type=person_ct, object_id=person.pk, body=body).exists():
            continue
        owner = person.owner or ctx.admin
        note_create(user=owner, data={"content_type_id": person_ct.pk, "object_id": person.pk, "body": body})
        ctx.note("notes")


def classification_step(ctx: DemoContext) -> None:
    """The tier ladder and the ideal customer profile, then tiers and fit scores computed right away."""
    from guanxi.customers import services
    from guanxi.customers.models import CustomerProfile, TierRule

    for name, tier, position, conditions, description in TIER_RULES:
        if not TierRule.objects.filter(name=name).exists():
            data = {"name": name, "tier": tier, "position": position, "conditions": conditions}
            services.tier_rule_create(user=ctx.admin, data={**data, "description": description})
            ctx.note("tier rules")
    if not CustomerProfile.objects.filter(name=PROFILE["name"]).exists():
        services.customer_profile_create(user=ctx.admin, data=dict(PROFILE))
        ctx.note("ideal customer profiles")
    # Synchronously, so the demo shows tiers and scores without a worker; writes only what changed.
    done = services.accounts_classify()
    tiers, fits = done["tiers"], done["fit"]
    if tiers["changed"]:
        ctx.note("account tiers set", tiers["changed"])
    if fits["changed"]:
        ctx.note("account fit scores set", fits["changed"])


def assignment_step(ctx: DemoContext) -> None:
    """Assignment rules by territory; last, so the demo's own accounts keep the owners they name."""
    from guanxi.customers import services
    from guanxi.customers.models import AssignmentRule

    for name, position, conditions, whom in ASSIGNMENT_RULES:
        if not AssignmentRule.objects.filter(name=name).exists():
            data = {"name": name, "position": position, "conditions": conditions}
            if "team" in whom:
                data["team_id"] = ctx.teams[whom["team"]].pk
            else:
                data["assignee_id"] = ctx.users[whom["assignee"]].pk
            services.assignment_rule_create(user=ctx.admin, data=data)
            ctx.note("assignment rules")


#: The customer pool (公海): a rule that takes back prospects nobody followed up for a month, a limit
#: of prospects a sales rep may hold and still claim, a week before one claims back what one let go,
#: and two companies already waiting in the pool.
POOL_RULE = {
    "name": "潜在客户 30 天未跟进退回公海",
    "position": 10,
    "conditions": {"lifecycle_stages": ["prospect"]},
    "idle_days": 30,
    "description": "销售代表一个月没有跟进的潜在客户，回到公海让其他同事领取。",
}
REP_CLAIM_LIMIT = 30
REP_RECLAIM_DAYS = 7
#: (company, release reason, words of the releaser's own)
POOLED = [
    ("南宁八桂农业发展有限公司", "暂无预算或需求", "今年没有采购预算，明年春耕前可再联系。"),
    ("汕头潮汕玩具实业有限公司", "联系不上", "联系人已离职，需要重新找到采购负责人。"),
]
#: Two of 李伟's prospects from the trade show, entered this many days ago and never followed up: the
#: pool rule takes them back within its week of warning (his home page and their pages say so).
GOING_BACK = {"无锡华芯半导体科技有限公司": 27, "温州瓯江电气有限公司": 25}


def pool_step(ctx: DemoContext) -> None:
    """The pool rule and the reps' claim limit, the two companies released to the pool, and two of a
    rep's going back soon."""
    from django.utils import timezone

    from guanxi.core.choices import Action, Scope
    from guanxi.customers import services
    from guanxi.customers.models import Account, PoolReason, PoolRule
    from guanxi.customers.services.pool import pool_moves
    from guanxi.identity.models import DuplicateGuard, Role, RolePermission

    if not PoolRule.objects.filter(name=POOL_RULE["name"]).exists():
        services.pool_rule_create(user=ctx.admin, data=dict(POOL_RULE))
        ctx.note("pool rules")
    for role in ctx.roles.values():  # every role may choose a release reason (退回原因)
        RolePermission.objects.get_or_create(
            role=role, object_type="customers.poolreason", action=Action.VIEW, defaults={"scope": Scope.ALL}
        )
    rep = ctx.roles.get("rep")
    if rep is not None and Role.objects.filter(pk=rep.pk, pool_claim_limit__isnull=True).update(
        pool_claim_limit=REP_CLAIM_LIMIT, pool_reclaim_days=REP_RECLAIM_DAYS, pool_reason_required=True
    ):
        ctx.note("claim limits")
    # A salesperson may not add a customer a colleague already has (撞单保护); managers are told whose it is.
    if rep is not None and Role.objects.filter(pk=rep.pk, duplicate_guard=DuplicateGuard.TELL).update(
        duplicate_guard=DuplicateGuard.REFUSE
    ):
        ctx.note("duplicate guard")
    for name, label, reason in POOLED:
        account = Account.objects.filter(name=name, pooled_at__isnull=True, owner__isnull=False).first()
        # Once only: an account someone claimed since stays theirs when the demo runs again.
        if account is not None and not pool_moves(account.pk).exists():
            kind = PoolReason.objects.filter(label_zh=label).values_list("pk", flat=True).first()
            services.pool_release(pk=account.pk, user=ctx.admin, reason=reason, reason_id=kind)
            ctx.note("accounts in the customer pool")
    for name, days in GOING_BACK.items():
        # Entered that long ago (a plain update: the demo's history, not a change) unless followed up since.
        entered = timezone.now() - datetime.timedelta(days=days)
        if Account.objects.filter(name=name, last_interaction_at__isnull=True, created_at__gt=entered).update(
            created_at=entered
        ):
            ctx.note("accounts going back to the pool soon")
    services.pool_recycle()  # the nightly run: dates the two


#: Who follows (关注) what in the demo: the largest accounts each may see and does not own.
FOLLOWERS = {"wang_fang": 2, "li_wei": 1}


def follows_step(ctx: DemoContext) -> None:
    """A manager follows her team's two largest customers she does not own, a rep a colleague's: the
    home page's 我关注的 and the lists' link have something to show."""
    from guanxi.core.follows import follows_of, record_follow
    from guanxi.core.permissions import restricted
    from guanxi.customers.models import Account

    for key, count in FOLLOWERS.items():
        user = ctx.users.get(key)
        if user is None or follows_of(user, Account).exists():
            continue  # once only: what they unfollowed since stays unfollowed
        largest = restricted(Account, user).exclude(owner=user).order_by("-annual_revenue", "name")[:count]
        for account in largest:
            record_follow(user=user, model=Account, pk=account.pk, following=True)
            ctx.note("followed accounts")


# Who knows whom across the demo's companies (人脉关系): (the people's positions in the contact
# plan's heads of company, kind, note). A referral goes from the first to the second.
RELATIONS = [
    (0, 1, "referral", "在行业协会年会上介绍认识"),
    (1, 2, "classmate", "复旦大学 EMBA 同学"),
    (2, 3, "former_colleague", "曾同在一家外企任职"),
    (0, 4, "friend", ""),
]


def relations_step(ctx: DemoContext) -> None:
    """A few relations between the heads of the demo's companies, each written once."""
    from guanxi.core.errors import FieldErrors
    from guanxi.customers.models import Contact, ContactPoint
    from guanxi.customers.services import relation_add

    heads = [person for person in contact_plan() if person.decision_role == "decision_maker"]
    for a, b, kind, note in RELATIONS:
        if max(a, b) >= len(heads):
            continue
        ids = dict(
            ContactPoint.objects.filter(kind="email", value__in=[heads[a].key, heads[b].key]).values_list(
                "value", "contact_id"
            )
        )
        first, second = ids.get(heads[a].key), ids.get(heads[b].key)
        if first is None or second is None:
            continue
        try:
            relation_add(model=Contact, record_id=first, other_id=second, kind=kind, note=note, user=ctx.admin)
        except FieldErrors:
            continue  # related so already: written by an earlier run
        ctx.note("relations between people")


# How some demo companies stand to each other (企业关系): (first, second, kind, note); a supplier,
# distributor or investor is the first.
ACCOUNT_RELATIONS = [
    ("无锡华芯半导体科技有限公司", "南京金陵智能装备股份有限公司", "supplier", "控制芯片，年框协议"),
    ("青岛海湾化工材料有限公司", "上海浦江精密机械有限公司", "supplier", "工业润滑与防锈材料"),
    ("上海东方远航国际物流有限公司", "上海浦江精密机械有限公司", "partner", "出口设备的海运与报关"),
    ("南京金陵智能装备股份有限公司", "上海浦江精密机械有限公司", "competitor", "数控机床招标常遇"),
]


def account_relations_step(ctx: DemoContext) -> None:
    """A few relations between the demo's companies, each written once."""
    from guanxi.core.errors import FieldErrors
    from guanxi.customers.models import Account
    from guanxi.customers.services import relation_add

    names = {name for first, second, _kind, _note in ACCOUNT_RELATIONS for name in (first, second)}
    ids = dict(Account.objects.filter(name__in=names).values_list("name", "pk"))
    for first, second, kind, note in ACCOUNT_RELATIONS:
        if first not in ids or second not in ids:
            continue
        try:
            relation_add(
                model=Account, record_id=ids[first], other_id=ids[second], kind=kind, note=note, user=ctx.admin
            )
        except FieldErrors:
            continue  # related so already: written by an earlier run
        ctx.note("relations between companies")


#: Whom the demo's people know (我方熟人): (user, how well, note); each the head of a customer they
#: may see (by name), so that the person's page shows whom to ask.
ACQUAINTANCES = [
    ("li_wei", "close", "大学同学，逢年过节常联系"),
    ("wang_fang", "known", "行业协会年会上认识"),
]


def acquaintances_step(ctx: DemoContext) -> None:
    """A salesperson and a manager each know a customer's head (written once a user)."""
    from guanxi.core.permissions import restricted
    from guanxi.customers.models import Acquaintance, Contact
    from guanxi.customers.services import acquaintance_set

    for key, closeness, note in ACQUAINTANCES:
        user = ctx.users.get(key)
        if user is None or Acquaintance.objects.filter(user=user).exists():
            continue
        heads = restricted(Contact, user).filter(decision_role="decision_maker")
        head = heads.order_by("display_name", "id").first()
        if head is not None:
            acquaintance_set(contact_id=head.pk, user=user, closeness=closeness, note=note)
            ctx.note("acquaintances")


#: The demo's customers arrived over this many months (新增趋势 has a history to show).
HISTORY_MONTHS = 14


def history_step(ctx: DemoContext) -> None:
    """Date the demo's accounts and contacts back over the last ``HISTORY_MONTHS`` months, each by its
    name (the same every run), with their 创建 timeline entries: the breakdown by month added shows a
    trend, not one bar. Once only (records added within the last day). The pool's companies keep
    their dates, and an account's idle clock starts with its owner today (``owner_since``), so the
    pool's rules take back none of them."""
    import zlib

    from django.contrib.contenttypes.models import ContentType
    from django.utils import timezone

    from guanxi.core.models import TimelineEntry
    from guanxi.customers.choices import TimelineKind
    from guanxi.customers.models import Account, Contact

    now = timezone.now()
    kept = {name for name, _label, _reason in POOLED} | set(GOING_BACK)
    for model, names in ((Account, "name"), (Contact, "display_name")):
        ct = ContentType.objects.get_for_model(model, for_concrete_model=False)
        fresh = model.objects.filter(created_at__gt=now - datetime.timedelta(days=1))
        if model is Account:
            fresh = fresh.exclude(name__in=kept).filter(pooled_at__isnull=True)
        moved = 0
        for pk, name in fresh.values_list("pk", names):
            days = 1 + zlib.crc32(name.encode()) % (HISTORY_MONTHS * 30 - 1)  # a day back at least: once only
            then = now - datetime.timedelta(days=days, hours=days % 9)
            extra = {"owner_since": now} if model is Account else {}
            model.objects.filter(pk=pk).update(created_at=then, **extra)
            TimelineEntry.objects.filter(content_type=ct, object_id=pk, kind=TimelineKind.CREATED).update(at=then)
            moved += 1
        if moved:
            ctx.note("records dated back")


STEPS: list[DemoStep] = [
    DemoStep("accounts", accounts_step),
    DemoStep("contacts", contacts_step),
    DemoStep("relations between people", relations_step),
    DemoStep("relations between companies", account_relations_step),
    DemoStep("acquaintances", acquaintances_step),
    DemoStep("notes", notes_step),
    DemoStep("tier rules and fit", classification_step),
    DemoStep("assignment rules", assignment_step),
    DemoStep("customer pool", pool_step),
    DemoStep("follows", follows_step),
    DemoStep("history", history_step),
]
