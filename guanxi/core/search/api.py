"""``GET /api/v1/search``: one search box over every searchable type, through ``restrict``."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Router

from guanxi.api.crud import json_response
from guanxi.core.errors import PermissionDenied
from guanxi.core.search.engine import search_results
from guanxi.core.search.recent import recent_views

router = Router(tags=["search"])


@router.get(
    "/search",
    summary="Search accounts, contacts and every other searchable type",
    description=(
        "`q` (1-100 characters): a name (张三, also by pinyin `zhangsan` or initials `zs`), an email, a phone "
        "(also its last digits), or a company. `types`: comma-separated, default all (`contacts,accounts`...). "
        "`limit`: 1-50, default 20. Only records the caller may view are returned, best match first. "
        "An email or phone the caller sees masked is found by its whole value only, "
        "`GUANXI_MASKED_LOOKUPS_PER_HOUR` searches an hour; past them, until the hour ends, it is not "
        "searched: `notice` says so in words and `masked_search_resumes_at` (ISO 8601) when it is again "
        "(both null otherwise)."
    ),
)
def search_route(
    request: HttpRequest, q: str | None = None, types: str | None = None, limit: str | None = None
) -> HttpResponse:
    results = search_results(request.user, q or "", types=types, limit=limit if limit is not None else 20)
    hits = results.hits()
    if not hits and not _reachable(request, q or "", types):
        raise PermissionDenied(_("You may not see any record of these types."))
    used_up = results.masked_lookups
    return json_response(
        {
            "items": [hit.as_dict() for hit in hits],
            **(used_up.as_dict() if used_up else {"notice": None, "masked_search_resumes_at": None}),
        }
    )


@router.get(
    "/search/recent",
    summary="The records the caller opened lately in the UI (最近查看), newest first",
    description=(
        "Up to 30 records whose page the caller opened in the web UI, newest visit first, as `/search` "
        "gives its hits, with `viewed_at`. Records the caller may no longer view are left out."
    ),
)
def search_recent_route(request: HttpRequest) -> HttpResponse:
    items = [{**hit.as_dict(), "viewed_at": viewed_at} for hit, viewed_at in recent_views(request.user)]
    return json_response({"items": items})


def _reachable(request: HttpRequest, q: str, types: str | None) -> bool:
    from guanxi.core.permissions import restricted
    from guanxi.core.search.engine import clean_search_input

    _text, chosen, _limit = clean_search_input(q, types, 1)
    return any(not restricted(t.model, request.user, "view").query.is_empty() for t in chosen)
