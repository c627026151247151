"""A stored choice reads as its label, in the reader's language, without Django's per-call rebuild."""

from __future__ import annotations

from typing import Any

import pytest
from django.apps import apps
from django.db import models
from django.test import Client
from django.utils import translation

from guanxi.core.choices import choice_label
from guanxi.customers.models import Account
from tests.factories import AdminFactory

CHOICE_FIELDS = [
    field
    for model in apps.get_models()
    if model.__module__.startswith("guanxi.")
    for field in model._meta.concrete_fields
    if field.choices
]


def test_there_are_choice_fields_to_check() -> None:
    assert len(CHOICE_FIELDS) > 10


@pytest.mark.parametrize("language", ["zh-hans", "en"])
@pytest.mark.parametrize("field", CHOICE_FIELDS, ids=lambda f: f"{f.model._meta.label}.{f.name}")
def test_every_choice_reads_as_get_display_reads_it(field: models.Field, language: str) -> None:
    with translation.override(language):
        for value, _label in field.flatchoices:
            obj = field.model(**{field.attname: value})
            assert choice_label(field, value) == str(getattr(obj, f"get_{field.name}_display")())


def test_a_value_that_is_no_longer_a_choice_reads_as_itself() -> None:
    field = next(f for f in CHOICE_FIELDS if f.model._meta.label == "customers.Account" and f.name == "industry")
    assert choice_label(field, "asteroid_mining") == "asteroid_mining"


@pytest.mark.django_db
def test_a_list_page_labels_its_choices_without_rebuilding_them_per_cell(
    make_account: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Django's get_<field>_display() hashes every choice's lazy label on each call, which translates
    each of them (27 industries a cell): a 50-row list spent about 4 ms on it. The list must not."""
    for i in range(3):
        make_account(name=f"广州{i}", industry="manufacturing", lifecycle_stage="customer")
    calls: list[str] = []
    flatchoices = models.Field.flatchoices

    def counted(field: models.Field) -> Any:
        calls.append(field.name)
        return flatchoices.fget(field)

    monkeypatch.setattr(models.Field, "flatchoices", property(counted))
    client = Client()
    client.force_login(AdminFactory())
    client.cookies["django_language"] = "zh-hans"
    with translation.override("zh-hans"):
        industry = choice_label(Account._meta.get_field("industry"), "manufacturing")
        stage = choice_label(Account._meta.get_field("lifecycle_stage"), "customer")
    assert (industry, stage) != ("Manufacturing", "Customer"), "the zh-Hans catalogue translates these"
    response = client.get(
        "/customers/accounts/?columns=name,industry,lifecycle_stage", headers={"Accept-Language": "zh-hans"}
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count(f">{industry}</td>") == 3 and page.count(f">{stage}</td>") == 3
    assert len(calls) == len(set(calls)), f"choices read once per field, not per cell: {calls}"
