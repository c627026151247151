"""Demo data: a believable small company to click through (``guanxi demo``, ``make run``).

Everything is written through the services, inside ``write_context("system")``, so the change
log shows where it came from. Running it again changes nothing: each step looks a row up by its
natural key (email, name, object type + key) and creates only what is missing.

The data is a list of steps. This module holds the identity and core steps; a module adds its own
section by shipping ``guanxi/<app>/demo.py`` with a ``STEPS`` list of :class:`DemoStep`. They are
run in ``INSTALLED_APPS`` order (customers before sales before service...), each step receiving
the shared :class:`DemoContext` (the admin who acts, and the users, teams and roles by key).

The demo password is public: the command refuses to run in production mode unless forced.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.db import transaction

from guanxi.core.audit import changelog_record, snapshot
from guanxi.core.choices import Action, ChangeAction, CustomFieldType, Scope
from guanxi.core.context import write_context

DEMO_DOMAIN = "demo.guanxi"
DEMO_ADMIN_EMAIL = f"admin@{DEMO_DOMAIN}"
# One documented password for every demo user (README.md). Demo data only: never in production.
DEMO_PASSWORD = "guanxi-demo-2026"


@dataclass
class DemoContext:
    """What the steps share: the acting administrator and the rows made so far, by key."""

    admin: Any
    users: dict[str, Any] = field(default_factory=dict)  # key -> User
    teams: dict[str, Any] = field(default_factory=dict)  # key -> Team
    roles: dict[str, Any] = field(default_factory=dict)  # key -> Role
    created: Counter[str] = field(default_factory=Counter)  # label -> rows created this run

    def note(self, label: str, count: int = 1) -> None:
        self.created[label] += count


@dataclass(frozen=True)
class DemoStep:
    name: str
    run: Callable[[DemoContext], None]


# --- who's who ---------------------------------------------------------------------------------

# key, name, parent key, description
ROLES = [
    ("director", "销售总监", None, "Sales director: sees and manages every customer and deal."),
    ("manager", "销售经理", "director", "Sales manager: sees and manages the records of their team."),
    ("rep", "销售代表", "manager", "Sales rep: works their own customers, leads and deals."),
    ("support", "客服", None, "Support agent: sees every customer, handles service requests."),
]

# Everyone may pick owners and teams, read the custom-field definitions and use the tag vocabulary.
COMMON_PERMISSIONS = [
    ("identity.user", Action.VIEW, Scope.ALL),
    ("identity.team", Action.VIEW, Scope.ALL),
    ("identity.role", Action.VIEW, Scope.ALL),
    ("core.tag", Action.VIEW, Scope.ALL),
    ("core.tag", Action.ADD, Scope.ALL),
    ("core.customfielddefinition", Action.VIEW, Scope.ALL),
]

# "*" stands for every CRM record type (accounts, contacts, leads, deals...).
RECORD_PERMISSIONS: dict[str, dict[str, str]] = {
    "director": dict.fromkeys(Action.values, Scope.ALL),
    "manager": {
        Action.VIEW: Scope.TEAM,
        Action.ADD: Scope.TEAM,
        Action.CHANGE: Scope.TEAM,
        Action.DELETE: Scope.TEAM,
        Action.EXPORT: Scope.TEAM,
        Action.IMPORT: Scope.TEAM,
        Action.ASSIGN: Scope.TEAM,
    },
    "rep": {
        Action.VIEW: Scope.OWN,
        Action.ADD: Scope.OWN,
        Action.CHANGE: Scope.OWN,
        Action.DELETE: Scope.OWN,
        Action.EXPORT: Scope.OWN,
    },
    "support": {Action.VIEW: Scope.ALL, Action.ADD: Scope.OWN, Action.CHANGE: Scope.OWN},
}

# key, name, territory, description, the key of the team it belongs to (a parent comes first;
# managers are set once the users exist)
TEAMS = [
    ("sales", "销售中心", "全国 Nationwide", "Every sales team, under the sales director.", None),
    ("east", "华东销售部", "上海 Shanghai", "East China sales: Shanghai, Jiangsu, Zhejiang.", "sales"),
    ("south", "华南销售部", "深圳 Shenzhen", "South China sales: Guangdong, Fujian, Hainan.", "sales"),
    ("intl", "International Sales", "Singapore", "Overseas customers: South-East Asia and Europe.", "sales"),
    ("support", "客户服务部", "全国 Nationwide", "Customer service for every region.", None),
]

# key, display name, email local part, role key, team key, language, time zone, phone
USERS = [
    ("director", "赵磊", "zhao.lei", "director", None, "zh-hans", "Asia/Shanghai", "+8613801000001"),
    ("wang_fang", "王芳", "wang.fang", "manager", "east", "zh-hans", "Asia/Shanghai", "+8613801000002"),
    ("li_wei", "李伟", "li.wei", "rep", "east", "zh-hans", "Asia/Shanghai", "+8613801000003"),
    ("chen_jing", "陈静", "chen.jing", "rep", "east", "zh-hans", "Asia/Shanghai", "+8613801000004"),
    ("zhang_qiang", "张强", "zhang.qiang", "manager", "south", "zh-hans", "Asia/Shanghai", "+8613801000005"),
    ("liu_yang", "刘洋", "liu.yang", "rep", "south", "zh-hans", "Asia/Shanghai", "+8613801000006"),
    ("huang_li", "黄丽", "huang.li", "rep", "south", "zh-hans", "Asia/Shanghai", "+8613801000007"),
    ("emily_chen", "Emily Chen", "emily.chen", "manager", "intl", "en", "Asia/Singapore", "+6591000001"),
    ("david_muller", "David Müller", "david.mueller", "rep", "intl", "en", "Europe/Berlin", "+4915100000001"),
    ("priya_nair", "Priya Nair", "priya.nair", "rep", "intl", "en", "Asia/Singapore", "+6591000002"),
    ("sun_mei", "孙梅", "sun.mei", "support", "support", "zh-hans", "Asia/Shanghai", "+8613801000008"),
    ("zhou_jie", "周杰", "zhou.jie", "support", "support", "zh-hans", "Asia/Shanghai", "+8613801000009"),
]

TEAM_MANAGERS = {
    "sales": "director",
    "east": "wang_fang",
    "south": "zhang_qiang",
    "intl": "emily_chen",
    "support": "sun_mei",
}

# name, colour, description
TAGS = [
    ("重点客户", "red", "Key account: top customers by revenue, reviewed monthly."),
    ("华东", "blue", "Region: East China."),
    ("华南", "teal", "Region: South China."),
    ("海外", "cyan", "Overseas customer."),
    ("2026 展会", "purple", "Met at a 2026 trade show (Trade show 2026)."),
    ("老客户转介绍", "green", "Referred by an existing customer."),
    ("待回访", "orange", "Needs a follow-up call."),
    ("VIP", "yellow", "VIP service level."),
    # Needs (客户需求, seed 004 §3): rules and profiles can ask for them like any tag.
    ("设备维保需求", "lime", "Needs: maintenance and after-sales service."),
    ("数字化升级需求", "indigo", "Needs: a digital upgrade (MES, ERP, IoT)."),
    # Purchase intent, one value per customer: scoped tags (core.tags), 意向::中 replaces 意向::高.
    ("意向::高", "red", "Purchase intent: high."),
    ("意向::中", "orange", "Purchase intent: medium."),
    ("意向::低", "azure", "Purchase intent: low."),
]

# object type, key, Chinese label, English label, type, choices
_T = CustomFieldType
CUSTOM_FIELDS = [
    ("customers.account", "annual_budget", "年采购预算（万元）", "Annual budget (10k CNY)", _T.DECIMAL, []),
    ("customers.account", "payment_terms", "付款条件", "Payment terms", _T.CHOICE, ["预付", "月结30天", "月结60天"]),
    ("customers.contact", "hobby", "兴趣爱好", "Interests", _T.TEXT, []),
    ("sales.lead", "trade_show", "展会", "Trade show", _T.CHOICE, ["2026 上海工博会", "2026 广交会", "Hannover Messe"]),
    ("sales.opportunity", "competitor", "竞争对手", "Competitor", _T.TEXT, []),
    ("sales.opportunity", "tender_required", "需要招投标", "Tender required", _T.BOOLEAN, []),
]


# --- steps -------------------------------------------------------------------------------------


def ensure_admin() -> tuple[Any, bool]:
    """The demo administrator, created with the user manager when missing (nobody can act yet)."""
    from guanxi.identity.models import User

    admin = User.objects.filter(email__iexact=DEMO_ADMIN_EMAIL).first()
    if admin is not None:
        return admin, False
    admin = User.objects.create_superuser(
        DEMO_ADMIN_EMAIL, DEMO_PASSWORD, display_name="管理员 Admin", language="zh-hans"
    )
    changelog_record(actor=None, obj=admin, action=ChangeAction.CREATE, after=snapshot(admin))
    return admin, True


def roles_step(ctx: DemoContext) -> None:
    from guanxi.identity import services
    from guanxi.identity.models import Role

    for key, name, parent_key, description in ROLES:
        role = Role.objects.filter(name=name).first()
        if role is None:
            parent = ctx.roles[parent_key] if parent_key else None
            role = services.role_create(
                user=ctx.admin,
                data={"name": name, "parent_id": parent.pk if parent else None, "description": description},
            )
            ctx.note("roles")
        ctx.roles[key] = role


def role_permissions_step(ctx: DemoContext) -> None:
    from guanxi.identity import services
    from guanxi.identity.models import RolePermission

    for key, role in ctx.roles.items():
        if RolePermission.objects.filter(role=role).exists():
            continue  # set once; an administrator's later edits are theirs to keep
        wanted = [{"object_type": t, "action": a, "scope": s} for t, a, s in COMMON_PERMISSIONS]
        wanted += [{"object_type": "*", "action": a, "scope": s} for a, s in RECORD_PERMISSIONS[key].items()]
        services.role_permissions_set(role_id=role.pk, user=ctx.admin, permissions=wanted)
        ctx.note("role permission rules", len(wanted))


def teams_step(ctx: DemoContext) -> None:
    from guanxi.identity import services
    from guanxi.identity.models import Team

    for key, name, territory, description, parent_key in TEAMS:
        parent_id = ctx.teams[parent_key].pk if parent_key else None
        team = Team.objects.filter(name=name).first()
        if team is None:
            data = {"name": name, "territory": territory, "description": description, "parent_id": parent_id}
            team = services.team_create(user=ctx.admin, data=data)
            ctx.note("teams")
        elif team.parent_id is None and parent_id is not None:  # a demo loaded before teams had parents
            team = services.team_update(pk=team.pk, user=ctx.admin, data={"parent_id": parent_id})
        ctx.teams[key] = team


def users_step(ctx: DemoContext) -> None:
    from guanxi.identity import services
    from guanxi.identity.models import User

    ctx.users["admin"] = ctx.admin
    for key, name, local, role_key, team_key, language, time_zone, phone in USERS:
        email = f"{local}@{DEMO_DOMAIN}"
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            data = {
                "email": email,
                "display_name": name,
                "role_id": ctx.roles[role_key].pk,
                "team_id": ctx.teams[team_key].pk if team_key else None,
                "language": language,
                "time_zone": time_zone,
                "phone": phone,
            }
            user = services.user_create(user=ctx.admin, data=data, password=DEMO_PASSWORD)
            ctx.note("users")
        ctx.users[key] = user


def team_managers_step(ctx: DemoContext) -> None:
    from guanxi.core import services as core_services
    from guanxi.identity.models import Team

    for team_key, user_key in TEAM_MANAGERS.items():
        team = ctx.teams[team_key]
        if team.manager_id is None:
            ctx.teams[team_key] = core_services.record_update(
                model=Team, pk=team.pk, user=ctx.admin, data={"manager_id": ctx.users[user_key].pk}
            )
            ctx.note("team managers")


def tags_step(ctx: DemoContext) -> None:
    from guanxi.core import services as core_services
    from guanxi.core.models import Tag

    for name, colour, description in TAGS:
        if not Tag.objects.filter(name=name).exists():
            core_services.record_create(
                model=Tag, user=ctx.admin, data={"name": name, "colour": colour, "description": description}
            )
            ctx.note("tags")


def custom_fields_step(ctx: DemoContext) -> None:
    """Only for record types that exist in this install (modules arrive one by one)."""
    from guanxi.core.custom_fields import custom_field_create
    from guanxi.core.models import CustomFieldDefinition
    from guanxi.core.permissions import is_record_type

    positions: Counter[str] = Counter()
    for object_type, key, label_zh, label_en, field_type, choices in CUSTOM_FIELDS:
        positions[object_type] += 1
        if not is_record_type(object_type):
            continue
        if CustomFieldDefinition.objects.filter(object_type=object_type, key=key).exists():
            continue
        custom_field_create(
            user=ctx.admin,
            data={
                "object_type": object_type,
                "key": key,
                "label_zh": label_zh,
                "label_en": label_en,
                "field_type": field_type,
                "choices": choices,
                "position": positions[object_type] * 10,
            },
        )
        ctx.note("custom fields")


STEPS: list[DemoStep] = [
    DemoStep("roles", roles_step),
    DemoStep("role permissions", role_permissions_step),
    DemoStep("teams", teams_step),
    DemoStep("users", users_step),
    DemoStep("team managers", team_managers_step),
    DemoStep("tags", tags_step),
    DemoStep("custom fields", custom_fields_step),
]


def module_steps() -> list[DemoStep]:
    """``STEPS`` of each Guanxi app's ``demo`` module, in ``INSTALLED_APPS`` order."""
    found: list[DemoStep] = []
    for config in apps.get_app_configs():
        if not config.name.startswith("guanxi.") or config.name in {"guanxi.core", "guanxi.identity"}:
            continue
        module_name = f"{config.name}.demo"
        if importlib.util.find_spec(module_name) is None:
            continue
        found.extend(getattr(importlib.import_module(module_name), "STEPS", []))
    return found


def all_steps() -> list[DemoStep]:
    return [*STEPS, *module_steps()]


def load_demo(log: Callable[[str], None] = lambda _line: None) -> DemoContext:
    """Create whatever demo data is missing, in one transaction; returns what was made."""
    with write_context("system"), transaction.atomic():
        admin, created = ensure_admin()
        ctx = DemoContext(admin=admin)
        if created:
            ctx.note("users")
        for step in all_steps():
            before = sum(ctx.created.values())
            step.run(ctx)
            made = sum(ctx.created.values()) - before
            log(f"  {step.name}: {made} created" if made else f"  {step.name}: nothing new")
    return ctx
