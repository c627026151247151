from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IdentityConfig(AppConfig):
    name = "guanxi.identity"
    label = "identity"
    verbose_name = _("Users and permissions")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from guanxi.identity import twofactor  # noqa: F401 - connects the sign-in signal handler
        from guanxi.identity.middleware import renewed_at_sign_in
        from guanxi.identity.resources import register_identity

        user_logged_in.connect(renewed_at_sign_in, dispatch_uid="guanxi.identity.middleware.renewed_at_sign_in")
        register_identity()
