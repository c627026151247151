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
        from guanxi.core.follows import home_card
        from guanxi.core.views.home import HomePanel, register_home_panel

        # Read on every visit, so that a record followed a moment ago is there: one read of the
        # follows and, per followed type, a count and a few rows.
        register_home_panel(
            HomePanel("following", "generic/partials/home_following.html", home_card, cached=False, position=30)
        )
