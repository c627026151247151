from django.contrib import admin
from django.urls import include, path

from guanxi.api.main import api, mount_routers

mount_routers()

urlpatterns = [
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
]
