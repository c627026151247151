"""The search pages: results grouped by type (``/search/``) and the top bar's live suggestions
(``/search/suggest/``, an htmx partial). Both read through ``guanxi.core.search.search*``, which
applies ``restrict``."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views import View

from guanxi.core.errors import FieldErrors
from guanxi.core.search.engine import MAX_LIMIT, MAX_QUERY, SearchResults, search_results, searchable_types_for
from guanxi.core.search.recent import recent_views
from guanxi.core.search.registry import search_types
from guanxi.core.views.base import GuanxiViewMixin

PER_TYPE = 20
SUGGESTIONS = 8


def _errors(exc: FieldErrors) -> list[str]:
    return [message for messages in exc.errors.values() for message in messages]


def _notice(results: SearchResults) -> str:
    """Why numbers and emails the reader sees masked were not searched (``lookups``), or ""."""
    return results.masked_lookups.message() if results.masked_lookups else ""


class SearchView(GuanxiViewMixin, View):
    """Everything the user may see that matches, one card per type; ``type=`` narrows to one type."""

    def get(self, request: HttpRequest) -> HttpResponse:
        q = (request.GET.get("q") or "").strip()
        types = searchable_types_for(request.user)
        chosen = request.GET.get("type") or ""
        if chosen not in {t.key for t in types}:
            chosen = ""
        context: dict[str, Any] = {"q": q, "types": types, "chosen": chosen, "groups": [], "errors": []}
        if q:
            try:
                results = search_results(request.user, q, types=chosen or None, limit=MAX_LIMIT if chosen else PER_TYPE)
            except FieldErrors as exc:
                context["errors"] = _errors(exc)
            else:
                context["groups"] = results.groups
                context["notice"] = _notice(results)
        context["total"] = sum(len(hits) for _type, hits in context["groups"])
        context["per_type"] = PER_TYPE
        context["max_query"] = MAX_QUERY
        return render(request, "search/results.html", context)


class SearchSuggestView(GuanxiViewMixin, View):
    """The top bar's dropdown: the best few hits of every type, and a link to all results; with
    the box empty, the records the user opened lately (最近查看)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        q = (request.GET.get("q") or "").strip()
        context: dict[str, Any] = {"q": q}
        if q:
            context.update(self.suggestions(request.user, q))
        else:
            names = {t.key: t.model._meta.verbose_name for t in search_types()}
            context["recent"] = [
                (hit, names.get(hit.type, hit.type)) for hit, _at in recent_views(request.user, SUGGESTIONS)
            ]
        response = render(request, "search/suggestions.html", context)
        response["Cache-Control"] = "no-store"
        return response

    @staticmethod
    def suggestions(user: Any, q: str) -> dict[str, Any]:
        """The best hits for ``q``, grouped by type (in the order of each type's best hit), each with
        its type's label; or the errors of a query the search refuses."""
        try:
            results = search_results(user, q, limit=SUGGESTIONS)
        except FieldErrors as exc:
            return {"hits": [], "errors": _errors(exc)}
        hits = results.hits()
        labels = {t.key: t.label_plural for t in search_types()}
        first: dict[str, int] = {}
        for index, hit in enumerate(hits):
            first.setdefault(hit.type, index)
        hits.sort(key=lambda hit: first[hit.type])
        return {
            "hits": [(hit, labels.get(hit.type, hit.type)) for hit in hits],
            "errors": [],
            "notice": _notice(results),
        }
