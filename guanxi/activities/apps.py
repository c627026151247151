from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ActivitiesConfig(AppConfig):
    name = "guanxi.activities"
    label = "activities"
    verbose_name = _("Activities")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from guanxi.activities.notifications import changes_written, holders_told, timeline_entry_added
        from guanxi.core.audit import on_change
        from guanxi.core.timeline import on_timeline_entry
        from guanxi.customers.guard import on_attempt

        on_change(changes_written)
        on_timeline_entry(timeline_entry_added)
        on_attempt(holders_told)
