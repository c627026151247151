from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IdentityConfig(AppConfig):
    name = "guanxi.identity"
    label = "identity"
    verbose_name = _("Users and permissions")

    def ready(self) -> None:
        from guanxi.identity import middleware, twofactor  # noqa: F401 - connect their sign-in signal handlers
        from guanxi.identity.resources import register_identity

        register_identity()
