from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "guanxi.customers"
    label = "customers"
    verbose_name = _("Customers")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from guanxi.core.imports import runner  # noqa: F401 - registers the "import" job handler
        from guanxi.customers.importers import register_importers
        from guanxi.customers.resources import register_customers
        from guanxi.customers.services.merge import register_customer_movers

        register_customers()
        from guanxi.customers.services.accounts import contacts_going_with, primary_companies
        from guanxi.customers.services.pool import contacts_along_to_pool
        from guanxi.identity.handover import Follows, register_handover

        # A company before its people: those its owner held go with it (into the pool too), and, when
        # several colleagues share the records, a person goes to whoever holds or takes their company.
        register_handover("accounts", position=10)
        register_handover(
            "contacts",
            position=20,
            pooled_along=contacts_along_to_pool,
            follows=Follows(leader="accounts", leaders=primary_companies, going_with=contacts_going_with),
        )
        from guanxi.core.search.customers import register_customer_search

        register_customer_search()
        register_importers()
        register_customer_movers()
        from guanxi.customers.change_words import register_change_words_of_customers

        register_change_words_of_customers()
        from guanxi.core.timeline import on_interaction, register_timeline_gatherer, register_timeline_kinds
        from guanxi.customers.choices import TimelineKind
        from guanxi.customers.history import GATHERED_LABEL, account_history
        from guanxi.customers.models import Account
        from guanxi.customers.services.recompute import engagement_after_interaction

        on_interaction(engagement_after_interaction)
        register_timeline_kinds(dict(TimelineKind.choices))
        register_timeline_gatherer(Account, account_history, label=GATHERED_LABEL)
        from guanxi.core.views.home import HomePanel, register_home_panel
        from guanxi.customers.birthdays import upcoming
        from guanxi.customers.home import my_accounts

        register_home_panel(HomePanel("my-accounts", "customers/home_accounts.html", my_accounts, position=10))
        # Read on every visit: a count and a few rows of a small index range (see birthdays.upcoming).
        register_home_panel(
            HomePanel("birthdays", "customers/home_birthdays.html", upcoming, cached=False, position=20)
        )
        from django.db.models.signals import pre_save

        from guanxi.core.models import Tag
        from guanxi.customers.services.rules import criteria_follow_tag_rename

        pre_save.connect(criteria_follow_tag_rename, sender=Tag, dispatch_uid="customers.criteria_follow_tag_rename")
