from django.contrib import admin
from django.urls import include, path

from guanxi.api.main import api, mount_routers
from guanxi.core.views.home import HomeView, set_language

mount_routers()

urlpatterns = [
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
    # Django's set_language, wrapped to also save a signed-in user's choice; same URL and name.
    path("i18n/setlang/", set_language, name="set_language"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("guanxi.identity.urls_auth")),
    path("", HomeView.as_view(), name="home"),
    path("", include("guanxi.core.urls_ui")),
]
