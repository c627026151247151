"""Resource registrations of accounts, contacts, tier rules and ideal customer profiles."""

from django.utils.translation import gettext_lazy

from guanxi.core.registry import ComputedColumn, DetailSection, Pool, Resource, register
from guanxi.customers import services
from guanxi.customers.filters import (
    AccountFilterSet,
    AssignmentRuleFilterSet,
    ContactFilterSet,
    CustomerProfileFilterSet,
    PoolReasonFilterSet,
    PoolRuleFilterSet,
    TierRuleFilterSet,
)
from guanxi.customers.models import Account, AssignmentRule, Contact, CustomerProfile, PoolReason, PoolRule, TierRule
from guanxi.customers.services import bulk_delete, bulk_owner, bulk_pool, bulk_tags, bulk_update, pool

ADDRESS_FIELDS = ("country", "province", "city", "district", "street", "postal_code")
CONSENT_FIELDS = tuple(
    f"{channel}_consent{suffix}" for channel in Contact.CONSENT_CHANNELS for suffix in ("", "_source", "_at")
)
OWNERSHIP = ("owner", "team")
STAMPS = ("created_by", "created_at", "updated_at")

# The sections of an account's and a contact's page: what a salesperson reads first comes first; the
# consent trail and the record's stamps start folded.
ADDRESS = DetailSection("address", gettext_lazy("Address"), ADDRESS_FIELDS)
RECORD = DetailSection("record", gettext_lazy("About this record"), ("external_id", *STAMPS), folded=True)
ACCOUNT_RECORD = DetailSection(
    "record",
    gettext_lazy("About this record"),
    ("external_id", "owner_since", "pool_due_at", "pooled_at", "pool_reason", *STAMPS),
    folded=True,
)
ACCOUNT_SECTIONS = (
    DetailSection(
        "summary",
        gettext_lazy("Summary"),
        (
            "industry",
            "size",
            "lifecycle_stage",
            "tier",
            "tier_reason",
            "tier_locked",
            "owner",
            "team",
            "region",
            "source",
            "last_interaction_at",
            "engagement",
            "tags",
            "description",
        ),
    ),
    DetailSection(
        "company",
        gettext_lazy("Company"),
        (
            "name",
            "legal_name",
            "registration_number",
            "parent",
            "employee_count",
            "annual_revenue",
            "currency",
            "website",
        ),
    ),
    DetailSection("fit", gettext_lazy("Ideal customer fit"), ("fit_score", "fit_profile", "fit_explanation")),
    ADDRESS,
    ACCOUNT_RECORD,
)
CONTACT_SECTIONS = (
    DetailSection(
        "summary",
        gettext_lazy("Summary"),
        (
            "title",
            "department",
            "emails",
            "phones",
            "wechat_id",
            "reports_to",
            "decision_role",
            "stance",
            "owner",
            "team",
            "source",
            "last_interaction_at",
            "tags",
            "description",
        ),
    ),
    DetailSection(
        "person",
        gettext_lazy("Person"),
        ("display_name", "family_name", "given_name", "birthday"),
        within=("birthday_lunar",),  # in the birthday's own words (Contact.get_birthday_display)
    ),
    ADDRESS,
    DetailSection("consent", gettext_lazy("Consent"), CONSENT_FIELDS, folded=True),
    RECORD,
)


def register_customers() -> None:
    from guanxi.customers.api import (
        CONTACT_EXTRA_INPUT,
        account_routes,
        contact_accounts,
        contact_companies,
        contact_routes,
        customer_profile_routes,
        tier_rule_routes,
    )
    from guanxi.customers.relations import relation_cells
    from guanxi.customers.vcard import contact_cards

    account_writable = (
        "name",
        "legal_name",
        "registration_number",
        "industry",
        "size",
        "employee_count",
        "annual_revenue",
        "currency",
        "website",
        "region",
        *ADDRESS_FIELDS,
        "parent",
        "lifecycle_stage",
        "source",
        "tier",
        "tier_locked",
        "description",
        "external_id",
        *OWNERSHIP,
    )
    register(
        Resource(
            model=Account,
            path="accounts",
            filterset=AccountFilterSet,
            fields=(
                *account_writable,
                "tier_reason",
                "fit_score",
                "fit_profile",
                "fit_explanation",
                "engagement",
                "last_interaction_at",
                "pooled_at",
                "pool_reason",
                "owner_since",
                "pool_due_at",
                *STAMPS,
            ),
            write_fields=account_writable,
            required_fields=("name",),
            list_columns=(
                "name",
                "industry",
                "lifecycle_stage",
                "tier",
                "region",
                "owner",
                "last_interaction_at",
                "updated_at",
            ),
            select_related=("owner", "team", "parent", "fit_profile", "created_by"),
            # 企业关系 in the words the account import reads back (its 关联企业 column).
            computed_columns=(ComputedColumn("relations", gettext_lazy("related companies"), relation_cells),),
            detail_sections=ACCOUNT_SECTIONS,
            taggable=True,
            custom_fields=True,
            create=services.account_create,
            update=services.account_update,
            restore=services.customer_restore,
            bulk_owner=bulk_owner.accounts_owner_bulk,
            bulk_delete=bulk_delete.accounts_delete_bulk,
            bulk_tags=bulk_tags.accounts_tags_bulk,
            bulk_update=bulk_update.accounts_update_bulk,
            assign_by_rules=services.AccountsByRules,
            bulk_assign=bulk_owner.accounts_assign_bulk,
            bulk_release=bulk_pool.accounts_release_bulk,
            bulk_claim=bulk_pool.accounts_claim_bulk,
            # No owner to show in the pool, but since when and why each account is there.
            pool=Pool(
                claim=services.pool_claim,
                release=services.pool_release,
                check_reason=pool.release_reason,
                reasons=pool.release_reason_choices,
                reason_required=pool.reason_required,
                param="pooled_at__isnull",
                value="false",
                ordering="-pooled_at",
                columns=("name", "industry", "lifecycle_stage", "tier", "region", "pooled_at", "pool_reason"),
            ),
            routes=account_routes,
            nav_group="customers",
            icon="building",
        )
    )
    contact_writable = (
        "family_name",
        "given_name",
        "title",
        "department",
        "wechat_id",
        "reports_to",
        "decision_role",
        "stance",
        "source",
        "birthday",
        "birthday_lunar",
        *ADDRESS_FIELDS,
        *CONSENT_FIELDS,
        "description",
        "external_id",
        *OWNERSHIP,
    )
    register(
        Resource(
            model=Contact,
            path="contacts",
            filterset=ContactFilterSet,
            fields=(
                "display_name",
                *contact_writable[:4],
                "emails",
                "phones",
                *contact_writable[4:],
                "last_interaction_at",
                *STAMPS,
            ),
            write_fields=contact_writable,
            required_fields=(),  # a family or a given name: checked by the service
            # Name, company, title, how to reach them, owner, last follow-up: what a salesperson scans
            # for. The department and the update time are one click away under 列, so the list fits
            # a 1280 px screen.
            list_columns=(
                "display_name",
                "company",
                "title",
                "emails",
                "phones",
                "owner",
                "last_interaction_at",
            ),
            select_related=("owner", "team", "reports_to", "created_by"),
            detail_sections=CONTACT_SECTIONS,
            taggable=True,
            custom_fields=True,
            create=services.contact_create,
            update=services.contact_update,
            restore=services.customer_restore,
            bulk_owner=bulk_owner.contacts_owner_bulk,
            bulk_delete=bulk_delete.contacts_delete_bulk,
            bulk_tags=bulk_tags.contacts_tags_bulk,
            bulk_update=bulk_update.contacts_update_bulk,
            extra_input=CONTACT_EXTRA_INPUT,
            serialize_extra=contact_accounts,
            computed_columns=(ComputedColumn("company", gettext_lazy("company"), contact_companies),),
            cards=contact_cards,
            routes=contact_routes,
            nav_group="customers",
            icon="address-book",
        )
    )
    register(
        Resource(
            model=TierRule,
            path="tier-rules",
            filterset=TierRuleFilterSet,
            fields=("name", "tier", "position", "is_active", "conditions", "description", "created_at", "updated_at"),
            write_fields=("name", "tier", "position", "is_active", "conditions", "description"),
            required_fields=("name", "tier"),
            list_columns=("position", "name", "tier", "conditions", "is_active"),
            create=services.tier_rule_create,
            update=services.tier_rule_update,
            delete=services.tier_rule_delete,
            routes=tier_rule_routes,
            nav_group="settings",
            icon="stairs",
        )
    )
    register(
        Resource(
            model=CustomerProfile,
            path="customer-profiles",
            filterset=CustomerProfileFilterSet,
            fields=("name", "description", "is_active", "criteria", "weights", "created_at", "updated_at"),
            write_fields=("name", "description", "is_active", "criteria", "weights"),
            required_fields=("name",),
            list_columns=("name", "criteria", "is_active"),
            create=services.customer_profile_create,
            update=services.customer_profile_update,
            delete=services.customer_profile_delete,
            routes=customer_profile_routes,
            nav_group="settings",
            icon="target",
        )
    )
    rule_writable = ("name", "position", "is_active", "conditions", "assignee", "team", "team_method", "description")
    register(
        Resource(
            model=AssignmentRule,
            path="assignment-rules",
            filterset=AssignmentRuleFilterSet,
            # What a read returns: what may be written, and where the team's turn stands.
            fields=(*rule_writable, "last_assignee", "created_at", "updated_at"),
            write_fields=rule_writable,
            required_fields=("name",),
            list_columns=("position", "name", "conditions", "assignee", "team", "team_method", "is_active"),
            create=services.assignment_rule_create,
            update=services.assignment_rule_update,
            delete=services.assignment_rule_delete,
            nav_group="settings",
            icon="route",
        )
    )
    pool_writable = ("name", "position", "is_active", "conditions", "idle_days", "warn_days", "description")
    register(
        Resource(
            model=PoolRule,
            path="pool-rules",
            filterset=PoolRuleFilterSet,
            fields=(*pool_writable, "created_at", "updated_at"),
            write_fields=pool_writable,
            required_fields=("name", "idle_days"),
            list_columns=("position", "name", "conditions", "idle_days", "warn_days", "is_active"),
            create=services.pool_rule_create,
            update=services.pool_rule_update,
            delete=services.pool_rule_delete,
            nav_group="settings",
            icon="recycle",
        )
    )
    reason_writable = ("label_zh", "label_en", "position", "is_active")
    register(
        Resource(
            model=PoolReason,
            path="pool-reasons",
            filterset=PoolReasonFilterSet,
            fields=(*reason_writable, "created_at", "updated_at"),
            write_fields=reason_writable,
            required_fields=("label_zh", "label_en"),
            list_columns=reason_writable,
            nav_group="settings",
            icon="message-question",
        )
    )
