"""Record URLs on list pages are built from one ``reverse`` per page kind; they must be what ``reverse``
gives for every id, under a script prefix too. Short cells skip the truncator and say the same."""

from __future__ import annotations

import pytest
from django.urls import clear_script_prefix, reverse, set_script_prefix
from django.utils import translation
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator

from guanxi.core.registry import resource_at
from guanxi.core.views import base
from guanxi.core.views.display import plain_value


@pytest.mark.parametrize("path", ["contacts", "accounts"])
def test_record_urls_are_what_reverse_gives(path: str) -> None:
    resource = resource_at(path)
    assert resource is not None
    base._pk_urls.clear()
    for pk in (0, 1, 7, 42, 987654321, 10**12):
        assert base.resource_url(resource, "detail", pk) == reverse(f"ui:{path}-detail", args=[pk])
        assert base.resource_url(resource, "edit", pk) == reverse(f"ui:{path}-edit", args=[pk])
    assert base.resource_url(resource, "list") == reverse(f"ui:{path}-list")
    assert base.resource_url(resource, "no-such-page", 5) is None
    assert base.resource_url(resource, "detail", "12") == reverse(f"ui:{path}-detail", args=["12"])


def test_record_urls_follow_the_script_prefix_and_language() -> None:
    resource = resource_at("contacts")
    assert resource is not None
    expected = reverse("ui:contacts-detail", args=[5])
    assert base.resource_url(resource, "detail", 5) == expected
    set_script_prefix("/crm/")  # Guanxi served under a sub-path
    try:
        assert base.resource_url(resource, "detail", 5) == "/crm" + expected
    finally:
        clear_script_prefix()
        set_script_prefix("/")
    with translation.override("zh-hans"):
        assert base.resource_url(resource, "detail", 5) == reverse("ui:contacts-detail", args=[5])
    assert base.resource_url(resource, "detail", 5) == expected


@translation.override("en")  # the ellipsis is translated; an earlier test may leave another language active
def test_cells_are_cut_as_the_truncator_cuts_them() -> None:
    assert plain_value("张三", truncate=80) == "张三"
    long = "长" * 100
    cut = plain_value(long, truncate=80)
    assert len(cut) == 80 and cut.endswith("…")
    assert plain_value("x" * 80, truncate=80) == "x" * 80
    for text in ("张三", "长" * 100, "x" * 80, "x" * 81, mark_safe("<b>x</b>")):
        ours, truncator = plain_value(text, truncate=80), Truncator(text).chars(80)
        assert ours == truncator and isinstance(ours, SafeString) == isinstance(truncator, SafeString)
