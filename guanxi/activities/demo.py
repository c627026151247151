"""Notifications demo data: a few days' news for 李伟 and 王芳, and nothing else unread.

Building the demo company gives accounts to people through the services, which tells each of them
("管理员 把 客户 X 分配给你"); that is the demo's setup, not news, so it is marked read on the first
run, once the demo's transaction has committed (notifications are written then). Then 王芳 (the
manager) writes a note on 李伟's largest account and adds a line to its description, and the owner
of an account 王芳 follows writes a note on it: each has a short unread list that shows what the
bell is for. Runs once: the manager's note, found by its text, says it has.
"""

from __future__ import annotations

from typing import Any

from guanxi.demo import DemoContext, DemoStep

#: 王芳's note on 李伟's largest account; also the sign that this step has run.
MANAGER_NOTE = "已和对方采购总监约好下周二上门拜访，李伟同去，带上新版报价。"
DESCRIPTION = "年度框架协议 2027 年 1 月到期，需提前一个月启动续签。"
OWNER_NOTE = "客户确认 2027 年续约意向，合同草稿下周寄出。"


def notifications_step(ctx: DemoContext) -> None:
    from django.contrib.contenttypes.models import ContentType
    from django.db import transaction
    from django.utils import timezone

    from guanxi.activities.models import Notification
    from guanxi.core.models import Note
    from guanxi.customers.models import Account

    rep, manager = ctx.users.get("li_wei"), ctx.users.get("wang_fang")
    account_type = ContentType.objects.get_for_model(Account, for_concrete_model=False)
    if rep is None or manager is None or Note.all_objects.filter(content_type=account_type, body=MANAGER_NOTE).exists():
        return

    def news() -> None:
        # Notifications are written once a change commits: the demo's own are there by now.
        Notification.objects.filter(read_at__isnull=True).update(read_at=timezone.now())
        with transaction.atomic():
            _news(ctx, rep, manager, account_type)

    transaction.on_commit(news)


def _news(ctx: DemoContext, rep: Any, manager: Any, account_type: Any) -> None:
    from guanxi.core.follows import follows_of
    from guanxi.core.timeline import note_create
    from guanxi.customers import services
    from guanxi.customers.models import Account

    def note(user: Any, account: Account, body: str) -> None:
        note_create(user=user, data={"content_type_id": account_type.pk, "object_id": account.pk, "body": body})
        ctx.note("notifications")

    largest = Account.objects.filter(owner=rep, pooled_at__isnull=True).order_by("-annual_revenue", "name").first()
    if largest is not None:
        note(manager, largest, MANAGER_NOTE)
        described = f"{largest.description}\n{DESCRIPTION}".strip()
        services.account_update(pk=largest.pk, user=manager, data={"description": described})
        ctx.note("notifications")
    followed = Account.objects.filter(
        pk__in=follows_of(manager, Account).values("object_id"), owner__isnull=False
    ).exclude(owner=manager)
    watched = followed.order_by("-annual_revenue", "name").first()
    if watched is not None and watched.owner is not None:
        note(watched.owner, watched, OWNER_NOTE)


STEPS = [DemoStep("notifications", notifications_step)]
