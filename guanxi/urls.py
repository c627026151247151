from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path, re_path

from guanxi.api.main import api, mount_routers
from guanxi.api.problems import problem
from guanxi.core.views.home import HomeView, set_language

mount_routers()


def api_not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Unknown API paths answer problem+json like every other API error, not an HTML page."""
    return problem(request, 404, "not-found", "No such API endpoint")


urlpatterns = [
    path("api/v1/", api.urls),
    re_path(r"^api/(?P<rest>.*)$", api_not_found),
    path("admin/", admin.site.urls),
    # Django's set_language, wrapped to also save a signed-in user's choice; same URL and name.
    path("i18n/setlang/", set_language, name="set_language"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("guanxi.identity.urls_auth")),
    path("", HomeView.as_view(), name="home"),
    path("", include("guanxi.core.urls_ui")),
]
