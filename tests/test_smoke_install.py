"""The install plumbing: `guanxi demo` builds a believable organisation, once, through the services."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from guanxi.core.choices import Action
from guanxi.core.models import ChangeLogEntry, Tag
from guanxi.demo import DEMO_ADMIN_EMAIL, DEMO_PASSWORD
from guanxi.identity.models import Role, RolePermission, Team, User
from tests.testapp.models import Gadget


def run_demo() -> str:
    out = StringIO()
    call_command("demo", stdout=out)
    return out.getvalue()


def counts() -> dict[str, int]:
    models: list[Any] = [User, Team, Role, RolePermission, Tag, ChangeLogEntry]
    return {model.__name__: model._default_manager.count() for model in models}


@pytest.mark.django_db
def test_demo_is_idempotent(unchanged: Any) -> None:
    first = run_demo()
    assert "Demo data created" in first
    assert f"{DEMO_ADMIN_EMAIL} / {DEMO_PASSWORD}" in first
    after_first = counts()
    assert after_first["User"] >= 12 and after_first["Team"] == 5 and after_first["Role"] == 4
    assert after_first["Tag"] >= 5 and after_first["RolePermission"] > 20

    with unchanged("second `guanxi demo` run"):
        second = run_demo()
    assert "nothing changed" in second
    assert counts() == after_first


@pytest.mark.django_db
@pytest.mark.usefixtures("demo_built")
class TestDemoOrganisation:
    """The organisation the demo builds, read from one build (``demo_built`` in tests/conftest.py)."""

    def test_demo_organisation(self) -> None:
        admin = User.objects.get(email=DEMO_ADMIN_EMAIL)
        assert admin.is_superuser and admin.check_password(DEMO_PASSWORD)

        rep = User.objects.get(email="li.wei@demo.guanxi")
        assert rep.check_password(DEMO_PASSWORD)
        assert rep.role.parent.name == "销售经理" and rep.role.parent.parent.name == "销售总监"
        assert Team.objects.get(name="华东销售部").manager.email == "wang.fang@demo.guanxi"
        assert {u.display_name for u in User.objects.all()} >= {"王芳", "李伟", "陈静", "Emily Chen", "David Müller"}

        # Every write went through the services: the change log names each row, from the "system" source.
        entries = ChangeLogEntry.objects.filter(object_repr="李伟")
        assert entries.exists() and set(entries.values_list("source", flat=True)) == {"system"}

    def test_demo_roles_scope_records(self) -> None:
        """Reps see their own records, managers their team's, the director and support everyone's."""
        users = {u.email.split("@")[0]: u for u in User.objects.all()}
        gadget = Gadget.objects.create(name="上海电气 年度框架协议", owner=users["li.wei"], team=users["li.wei"].team)

        def sees(name: str) -> bool:
            viewer = User.objects.get(pk=users[name].pk)  # fresh object: no cached policy
            return Gadget.objects.restrict(viewer, Action.VIEW).filter(pk=gadget.pk).exists()

        assert sees("li.wei") and not sees("chen.jing")  # a rep: own only
        assert sees("wang.fang") and not sees("zhang.qiang")  # managers: their own team only
        assert sees("zhao.lei") and sees("sun.mei")  # the director and support: everything
        assert Team.objects.restrict(users["chen.jing"], Action.VIEW).count() == 5  # owners can be picked
        # The sales teams sit under 销售中心, whose head is the director.
        assert {t.name for t in Team.objects.filter(parent__name="销售中心")} == {
            "华东销售部",
            "华南销售部",
            "International Sales",
        }
        assert Team.objects.get(name="销售中心").manager == users["zhao.lei"]
