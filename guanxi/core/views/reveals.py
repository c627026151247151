"""``/settings/reveals/``: 查看完整信息统计, who saw masked values in full, per person (``core.reveal_report``)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views import View

from guanxi.core.errors import FieldErrors
from guanxi.core.reveal_report import (
    DEFAULT_DAYS,
    NEAR_ALLOWANCE,
    PERIODS,
    change_log_filters,
    reveal_days,
    reveal_reach,
    reveal_summary,
)
from guanxi.core.views.base import GuanxiViewMixin


def period_label(days: int) -> str:
    return _("Today") if days == 1 else _("Last %(days)d days") % {"days": days}


class RevealReportView(GuanxiViewMixin, View):
    """Each person's views in full in a period (the last 7 days by default), most first, each total
    linking to those views in the change log; for whoever may read the change log."""

    def get(self, request: HttpRequest) -> HttpResponse:
        reveal_reach(request.user)  # 403 before anything is read or said about the period
        try:
            days = reveal_days(request.GET.get("days"))
            errors: list[str] = []
        except FieldErrors as exc:
            days = DEFAULT_DAYS
            errors = [message for field_messages in exc.errors.values() for message in field_messages]
        summary = reveal_summary(request.user, days)
        change_log = reverse("ui:change-log-list")
        rows: list[dict[str, Any]] = [
            {"row": row, "change_log_url": f"{change_log}?{urlencode(change_log_filters(row, summary.first))}"}
            for row in summary.rows
        ]
        numerator, denominator = NEAR_ALLOWANCE
        context = {
            "summary": summary,
            "rows": rows,
            "errors": errors,
            "periods": [(n, period_label(n), f"?{urlencode({'days': n})}") for n in PERIODS],
            "period_label": period_label(summary.days),
            "near_share": f"{100 * numerator // denominator}%",
        }
        return render(request, "core/reveal_report.html", context)
