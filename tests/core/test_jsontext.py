"""JSON text for API responses and bulk columns: orjson, with the standard library's answer for
what orjson refuses, and the same text for what both can write."""

from __future__ import annotations

import datetime
import json
from decimal import Decimal

from django.utils import translation
from django.utils.translation import gettext_lazy

from guanxi.core.jsontext import dumps, dumps_bytes


@translation.override("en")  # not whatever language an earlier test in this process left active
def test_chinese_stays_readable_and_types_without_json_form_are_strings() -> None:
    value = {"name": "张三", "revenue": Decimal("1200.50"), 3: "int key", "label": gettext_lazy("name")}
    text = dumps(value)
    assert "张三" in text and "\\u" not in text
    assert json.loads(text) == {"name": "张三", "revenue": "1200.50", "3": "int key", "label": "name"}
    assert dumps_bytes(value) == text.encode()


def test_what_orjson_refuses_goes_the_long_way() -> None:
    huge = 2**70  # beyond 64 bits: orjson raises, the standard library writes it
    assert json.loads(dumps({"n": huge})) == {"n": huge}


def test_datetimes_are_iso_8601() -> None:
    moment = datetime.datetime(2026, 12, 3, 7, 30, 5, 123000, tzinfo=datetime.UTC)
    assert json.loads(dumps({"at": moment})) == {"at": "2026-12-03T07:30:05.123000+00:00"}
