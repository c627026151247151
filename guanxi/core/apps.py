from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "guanxi.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        from guanxi.core import bulk, checks, exports  # noqa: F401 - system checks; export and bulk job handlers
        from guanxi.core.resources import register_core

        register_core()
