from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "guanxi.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        from guanxi.core import checks  # noqa: F401 - registers the production system checks
        from guanxi.core.resources import register_core

        register_core()
