"""The customer demo data (guanxi/customers/demo.py), loaded by `guanxi demo` after the organisation:
believable, deterministic, written through the services, and loaded once."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from guanxi.core.choices import Action
from guanxi.core.models import ChangeLogEntry, Note, TaggedItem, TimelineEntry
from guanxi.core.names import has_east_asian_script
from guanxi.customers.demo import ACCOUNTS, CONTACT_NOTES, SEED, contact_plan, credit_code
from guanxi.customers.models import (
    Account,
    AccountContact,
    AssignmentRule,
    Contact,
    ContactPoint,
    CustomerProfile,
    TierRule,
)
from guanxi.customers.normalize import normalize_email, normalize_phone
from guanxi.demo import DEMO_DOMAIN
from guanxi.identity.models import User

pytestmark = pytest.mark.django_db


def run_demo() -> str:
    out = StringIO()
    call_command("demo", stdout=out)
    return out.getvalue()


def _check_character_ok(code: str) -> bool:
    chars = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    weights = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
    total = sum(chars.index(ch) * w for ch, w in zip(code[:17], weights, strict=True))
    return len(code) == 18 and chars[(31 - total % 31) % 31] == code[17]


def test_customer_demo_is_idempotent(unchanged: Any) -> None:
    first = run_demo()
    assert f"{len(ACCOUNTS)} accounts" in first and f"{len(contact_plan())} contacts" in first
    with unchanged("second `guanxi demo` run"):
        second = run_demo()
    assert "nothing changed" in second


def test_customer_demo_fills_in_only_what_is_missing() -> None:
    run_demo()
    gone = Contact.all_objects.get(points__kind="email", points__value=contact_plan()[5].key)
    Contact.all_objects.filter(pk=gone.pk).delete()  # e.g. purged from the recycle bin
    Account.all_objects.filter(name="温州瓯江电气有限公司").delete()
    again = run_demo()
    assert "1 accounts" in again and "1 contacts" in again
    assert Account.objects.count() == len(ACCOUNTS) and Contact.objects.count() == len(contact_plan())


@pytest.mark.usefixtures("demo_built")
class TestDemoContents:
    """What the demo holds, read from one build (``demo_built`` in tests/conftest.py)."""

    def test_demo_follows(self) -> None:
        """The manager follows two large customers she may see and does not own (我关注的 shows them)."""
        from guanxi.core.follows import home_card
        from guanxi.identity.models import User

        manager = User.objects.get(email=f"wang.fang@{DEMO_DOMAIN}")
        card = home_card(manager)
        assert card is not None and len(card["records"]) == 2
        followed = Account.objects.filter(name__in=[r["name"] for r in card["records"]])
        assert all(a.owner_id != manager.pk for a in followed)

    def test_demo_notifications(self) -> None:
        """Only news is unread: what building the demo told people is read; 李伟 hears of his manager's
        note and change on his largest account, 王芳 of a note on an account she follows."""
        from guanxi.activities.models import Notification

        unread = Notification.objects.filter(read_at__isnull=True)
        by_whom = sorted((n.recipient.email.split("@")[0], n.kind, n.actor.email.split("@")[0]) for n in unread)
        assert by_whom == [
            ("li.wei", "changed", "wang.fang"),
            ("li.wei", "note", "wang.fang"),
            ("wang.fang", "note", "chen.jing"),
        ]
        assert Notification.objects.filter(read_at__isnull=False).count() > 50

    def test_demo_account_relations(self) -> None:
        """The supply chain between some demo companies (企业关系): a supplier reads 供货给 on its page."""
        from guanxi.customers.demo import ACCOUNT_RELATIONS
        from guanxi.customers.models import AccountRelation

        stored = set(AccountRelation.objects.values_list("first__name", "second__name", "kind"))
        wanted = {(first, second, kind) for first, second, kind, _note in ACCOUNT_RELATIONS}
        # Undirected kinds are stored with the lower id first, whichever way the demo wrote them.
        assert {(a, b, k) if k == "supplier" else (*sorted((a, b)), k) for a, b, k in stored} == {
            (a, b, k) if k == "supplier" else (*sorted((a, b)), k) for a, b, k in wanted
        }

    def test_demo_acquaintances(self) -> None:
        """A salesperson and a manager each know the head of a customer (我方熟人)."""
        from guanxi.customers.models import Acquaintance

        known = {(a.user.email.split("@")[0], a.closeness) for a in Acquaintance.objects.select_related("user")}
        assert known == {("li.wei", "close"), ("wang.fang", "known")}
        assert {a.contact.decision_role for a in Acquaintance.objects.select_related("contact")} == {"decision_maker"}

    def test_demo_customers_arrived_over_the_months(self) -> None:
        """新增趋势 has a history to show: records spread over the last year and more, their 创建
        entries with them, and none of the pool's companies moved (nor any taken back for it)."""
        from guanxi.customers.breakdown import ACCOUNTS as ACCOUNT_SPEC
        from guanxi.customers.breakdown import CONTACTS as CONTACT_SPEC
        from guanxi.customers.breakdown import MONTH, record_breakdown

        admin = User.objects.get(email=f"admin@{DEMO_DOMAIN}")
        for spec in (ACCOUNT_SPEC, CONTACT_SPEC):
            months = record_breakdown(spec, admin, {}, MONTH).items
            assert len([m for m in months if m.count]) >= 8, [(m.label, m.count) for m in months]
        created = TimelineEntry.objects.filter(kind="created", content_type__model="contact")
        assert created.filter(at__lt=timezone.now() - timezone.timedelta(days=60)).count() >= 20
        first = Contact.objects.order_by("created_at").first()
        assert created.get(object_id=first.pk).at == first.created_at
        assert Account.objects.filter(pooled_at__isnull=False).count() == 2
        going_back = Account.objects.filter(name__in=["无锡华芯半导体科技有限公司", "温州瓯江电气有限公司"])
        assert all(a.pool_due_at is not None for a in going_back)

    def test_demo_accounts(self) -> None:
        accounts = list(Account.objects.select_related("owner", "team", "parent"))
        assert len(accounts) == len(ACCOUNTS) >= 40
        names = [a.name for a in accounts]
        assert sum(has_east_asian_script(n) for n in names) >= 25 and sum(n.isascii() for n in names) >= 6
        assert {"上海浦江精密机械有限公司", "深圳云帆科技有限公司", "Northwind Trading Pte Ltd"} <= set(names)

        # Groups: subsidiaries under their parent.
        children = {a.name: a.parent.name for a in accounts if a.parent}
        assert children["苏州浦江精密零部件有限公司"] == "上海浦江精密机械有限公司"
        assert children["巴伐利亚工业技术（苏州）有限公司"] == "Bavaria Industrietechnik GmbH"
        assert len(children) >= 5

        # Spread over the demo sales people, each filed under their own team; two wait in the
        # customer pool (公海), without an owner, saying why.
        pooled = [a for a in accounts if a.pooled_at is not None]
        assert {a.name for a in pooled} == {"南宁八桂农业发展有限公司", "汕头潮汕玩具实业有限公司"}
        assert all(a.owner is None and a.team is None and a.pool_reason for a in pooled)
        owned = [a for a in accounts if a.pooled_at is None]
        owners = Counter(a.owner.email.split("@")[0] for a in owned)
        assert len(owners) >= 9 and all(a.owner.email.endswith(f"@{DEMO_DOMAIN}") for a in owned)
        assert all(a.team_id == a.owner.team_id for a in owned)
        assert len({a.industry for a in accounts}) >= 10
        assert {a.lifecycle_stage for a in accounts} == {"prospect", "customer", "partner", "churned"}
        assert {a.region for a in accounts} >= {"华东", "华南", "华北", "东南亚", "欧洲"}

        # Tiers and fit scores were computed during the load (no worker needed).
        assert Counter(a.tier for a in accounts).keys() == {"A", "B", "C", "D"}
        assert all(a.fit_score is not None and a.fit_explanation for a in accounts)
        pujiang = next(a for a in accounts if a.name == "上海浦江精密机械有限公司")
        assert (pujiang.tier, pujiang.fit_score, pujiang.region, pujiang.province) == ("A", 100, "华东", "上海市")
        assert _check_character_ok(pujiang.registration_number)
        northwind = next(a for a in accounts if a.name == "Northwind Trading Pte Ltd")
        assert northwind.tier == "A" and northwind.tier_locked  # set by hand, left alone by the rules
        assert [r.name for r in TierRule.objects.order_by("position")] == [
            "A 类：年营收 ≥ 1 亿",
            "B 类：年营收 ≥ 1000 万",
            "C 类：年营收 ≥ 100 万",
            "D 类：其他",
        ]
        assert CustomerProfile.objects.get().criteria["regions"] == ["华东", "华南"]
        rules = AssignmentRule.objects.order_by("position").select_related("assignee", "team")
        assert [(r.conditions, r.get_target_display()) for r in rules] == [
            ({"regions": ["华南"], "tiers": ["A"]}, "张强"),
            ({"regions": ["华南"]}, "the members of 华南销售部 in turn"),
            ({"regions": ["华东"]}, "the members of 华东销售部 in turn"),
        ]

        tagged = TaggedItem.objects.filter(content_type__model="account", object_id=pujiang.pk)
        assert {t.tag.name for t in tagged.select_related("tag")} == {"重点客户", "华东", "VIP"}
        # Its owner's two, and his manager's (guanxi.activities.demo: news for his notifications).
        assert Note.objects.filter(content_type__model="account", object_id=pujiang.pk).count() == 3
        assert TimelineEntry.objects.filter(content_type__model="account", object_id=pujiang.pk, kind="note").exists()
        # Some accounts were last followed up weeks ago: the home page's "超过 30 天未跟进" shows them.
        tianning = next(a for a in accounts if a.name == "常州天宁纺织有限公司")
        assert tianning.last_interaction_at is not None
        assert 61 <= (timezone.now() - tianning.last_interaction_at).days <= 62
        entry = TimelineEntry.objects.get(content_type__model="account", object_id=tianning.pk, kind="note")
        assert entry.at == tianning.last_interaction_at
        assert (timezone.now() - northwind.last_interaction_at).days in (40, 41)

    def test_demo_contacts(self) -> None:
        contacts = list(Contact.objects.all())
        assert len(contacts) == len(contact_plan()) >= 110
        chinese = [c for c in contacts if has_east_asian_script(c.display_name)]
        western = [c for c in contacts if c.display_name.isascii()]
        assert len(chinese) >= 70 and len(western) >= 20
        assert all(len(c.display_name) in (2, 3) for c in chinese)  # 张伟, 欧阳修: family name first, no space

        for contact in contacts:
            assert contact.emails and contact.phones and contact.emails[0]["is_primary"]
            assert all(
                p["value"].endswith(".example.com") or p["value"].endswith("@mail.example.net") for p in contact.emails
            )
            for phone in contact.phones:
                assert normalize_phone(phone["value"]).e164 == phone["value"]
        phones = [p["value"] for c in contacts for p in c.phones]
        assert any(p.startswith("+861") for p in phones)  # mainland mobiles
        assert any(p.startswith("+8621") for p in phones)  # Shanghai landlines
        assert any(p.startswith("+65") for p in phones) and any(p.startswith("+49") for p in phones)
        assert any(p.get("extension") for c in contacts for p in c.phones)
        assert ContactPoint.objects.filter(kind="email").count() == sum(len(c.emails) for c in contacts)

        assert sum(bool(c.wechat_id) for c in chinese) >= len(chinese) // 2
        assert 0 < sum(c.email_consent for c in contacts) < len(contacts)
        assert all(c.email_consent_source and c.email_consent_at for c in contacts if c.email_consent)
        assert any(c.birthday for c in contacts)

        # Links with roles; the head of a group also sits at its subsidiaries.
        links = list(AccountContact.objects.select_related("account", "contact"))
        assert {link.role for link in links} >= {"总经理", "采购经理", "Managing Director", "集团董事"}
        assert all(link.contact.account_links.filter(is_primary=True).count() == 1 for link in links)
        per_contact = Counter(link.contact_id for link in links)
        assert max(per_contact.values()) >= 2 and len(per_contact) == len(contacts)
        # A contact belongs to the owner of their account.
        for link in links:
            if link.is_primary:
                assert link.contact.owner_id == link.account.owner_id
        # A few people have been called: the contact list's 最近互动 shows it.
        followed = [c for c in contacts if c.last_interaction_at]
        assert len(followed) == len(CONTACT_NOTES)

    def test_demo_reps_see_their_own_customers(self) -> None:
        li_wei = User.objects.get(email=f"li.wei@{DEMO_DOMAIN}")
        wang_fang = User.objects.get(email=f"wang.fang@{DEMO_DOMAIN}")
        # Their own, and the customer pool's (no owner), which everyone who sees accounts sees.
        mine = set(Account.objects.restrict(li_wei, Action.VIEW).values_list("owner_id", flat=True))
        assert mine == {li_wei.pk, None}
        team = Account.objects.restrict(wang_fang, Action.VIEW).filter(pooled_at__isnull=True)
        assert team.count() > Account.objects.filter(owner=wang_fang).count()
        assert set(team.values_list("team_id", flat=True)) == {wang_fang.team_id}
        assert Contact.objects.restrict(li_wei, Action.VIEW).exists()

    def test_demo_writes_go_through_the_services(self) -> None:
        entries = ChangeLogEntry.objects.filter(content_type__app_label="customers")
        assert set(entries.values_list("source", flat=True)) == {"system"}
        pujiang = Account.objects.get(name="上海浦江精密机械有限公司")
        assert entries.filter(object_id=pujiang.pk, content_type__model="account", action="create").exists()
        # Recomputed tiers are logged too (no actor: the rules set them).
        assert entries.filter(object_id=pujiang.pk, content_type__model="account", changes__has_key="tier").exists()


def test_contact_plan_is_deterministic() -> None:
    first, second = contact_plan(), contact_plan()
    assert [asdict(c) for c in first] == [asdict(c) for c in second]
    keys = [c.key for c in first]
    assert len(set(keys)) == len(keys)
    assert all(normalize_email(e["value"]) == e["value"] for c in first for e in c.emails)
    assert {name for c in first for name, _role, _primary in c.accounts} == {a.name for a in ACCOUNTS}


def test_credit_codes_carry_their_check_character() -> None:
    import random

    rng = random.Random(SEED)
    assert all(_check_character_ok(credit_code(rng)) for _ in range(200))
