import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "guanxi.settings")
application = get_wsgi_application()

# What start-up loaded (apps, models, URL patterns and the views and API behind them) lives as long
# as the process. Frozen out of the cyclic garbage collector, it is no longer walked by each full
# collection, which otherwise stops every thread of the worker for ~60 ms (1M contacts, list
# requests in-process: longest collection 64 -> 4 ms; the p99 of a busy worker).
get_resolver().url_patterns  # noqa: B018 - load the URLconf now, not on the first request
gc.collect()
gc.freeze()
