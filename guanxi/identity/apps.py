from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IdentityConfig(AppConfig):
    name = "guanxi.identity"
    label = "identity"
    verbose_name = _("Users and permissions")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in
        from django.db.models.signals import post_delete, post_save

        from guanxi.core.permissions import shares_written
        from guanxi.identity import handover, twofactor  # noqa: F401 - the "handover" job handler, the sign-in handler
        from guanxi.identity.middleware import renewed_at_sign_in
        from guanxi.identity.resources import register_identity

        user_logged_in.connect(renewed_at_sign_in, dispatch_uid="guanxi.identity.middleware.renewed_at_sign_in")
        register_identity()
        from guanxi.identity.change_words import register_change_words_of_identity

        register_change_words_of_identity()
        share = self.get_model("Share")
        post_save.connect(shares_written, sender=share, dispatch_uid="guanxi.share_saved")
        post_delete.connect(shares_written, sender=share, dispatch_uid="guanxi.share_deleted")
