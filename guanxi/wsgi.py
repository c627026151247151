import gc
import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver
from django.utils import translation

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "guanxi.settings")
application = get_wsgi_application()


def warm_up() -> None:
    """Load now what the first requests of a process would otherwise load, without the database: the
    URLconf, the reverse lookup tables of each language (``reverse`` builds them on first use: ~40 ms
    of regular expressions) and the translation catalogs. ``guanxi serve`` loads the application
    once and forks its workers from it (gunicorn's preload), so a worker recycled after
    ``--max-requests`` starts warm: its first requests were the p99 of a benchmark run."""
    import django.db.models.sql.compiler  # noqa: F401 - imported by the first query
    from django.utils.module_loading import import_string

    from guanxi.core.search.backends import backend
    from guanxi.identity import selectors  # noqa: F401 - imported by the first permission check

    resolver = get_resolver()
    resolver.url_patterns  # noqa: B018 - the URLconf and the views and API behind it
    for code, _name in settings.LANGUAGES:
        with translation.override(code):  # activating a language loads its catalogs
            resolver.reverse_dict  # noqa: B018 - built per language
    backend()  # the search module of the engine (no connection: the vendor is the backend's)
    import_string(settings.MESSAGE_STORAGE)
    import_string(settings.SESSION_SERIALIZER)


# What start-up loaded (apps, models, URL patterns and the views and API behind them) lives as long
# as the process. Frozen out of the cyclic garbage collector, it is no longer walked by each full
# collection, which otherwise stops every thread of the worker for ~60 ms (1M contacts, list
# requests in-process: longest collection 64 -> 4 ms; the p99 of a busy worker).
warm_up()
gc.collect()
gc.freeze()
