"""The bare limit of a list request: a minimal Django project with one JSON view and one SQL query.

Served by gunicorn beside Guanxi (same worker count, same thread count, same database):

    DATABASE_URL=... gunicorn --chdir bench _bare_app:application --workers 2 --bind 127.0.0.1:8766

``GET /contacts`` answers the first 50 live contacts in the order of Guanxi's default contact list
(``-updated_at``, then ``-id``), every column, as JSON: no auth, no permissions, no middleware.
``GET /contacts?ordering=display_name`` uses that order instead.
"""

from __future__ import annotations

import os

import dj_database_url
from django.conf import settings

_db = dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=600)
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # The connection settings Guanxi uses on SQLite, so the comparison is like for like.
    _db["OPTIONS"] = {
        "init_command": (
            "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;PRAGMA busy_timeout=20000;"
            "PRAGMA temp_store=MEMORY;PRAGMA mmap_size=268435456;PRAGMA cache_size=-65536;"
        ),
    }
settings.configure(
    DEBUG=False,
    SECRET_KEY="bench-bare-app",  # noqa: S106 - never deployed
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    DATABASES={"default": _db},
    INSTALLED_APPS=[],
    MIDDLEWARE=[],
    USE_TZ=True,
)

import django  # noqa: E402

django.setup()

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.db import connection  # noqa: E402
from django.http import HttpRequest, JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402

ORDERINGS = {
    "-updated_at": "updated_at DESC, id DESC",
    "display_name": "display_name ASC, id ASC",
}


def _sql(request: HttpRequest) -> str:
    order = ORDERINGS.get(request.GET.get("ordering", "-updated_at"), ORDERINGS["-updated_at"])
    return f"SELECT * FROM customers_contact WHERE deleted_at IS NULL ORDER BY {order} LIMIT 50"  # noqa: S608


def contacts(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute(_sql(request))
        columns = [column[0] for column in cursor.description]
        items = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    return JsonResponse({"items": items}, json_dumps_params={"ensure_ascii": False})


def plan(request: HttpRequest) -> JsonResponse:
    """The query plan of the list query, so the report can say when even the bare query sorts every row."""
    sqlite = connection.vendor == "sqlite"
    with connection.cursor() as cursor:
        cursor.execute(("EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN ") + _sql(request))
        lines = [str(row[3] if sqlite else row[0]) for row in cursor.fetchall()]
    return JsonResponse({"plan": lines})


urlpatterns = [path("contacts", contacts), path("plan", plan)]
application = get_wsgi_application()
