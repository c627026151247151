"""Writes on accounts, contacts, their links, tier rules and ideal customer profiles.

The API and the UI call these; they wrap ``core.services.record_*`` (permission re-checks inside the
transaction, version, change log) and add the customer rules: normalised contact points, the
Chinese/Western name order, parent cycles, hand-set tiers, timeline entries, and the background
recomputation of tiers and fit scores after a relevant change.

- ``accounts``: account_create, account_update, AccountsByRules (bulk "assign by rules")
- ``contacts``: contact_create, contact_update, contact_link_account, contact_unlink_account
- ``recompute``: account_engagement_recompute, account_tier_recompute, account_fit_recompute (run by
  ``guanxi.customers.tasks`` and ``guanxi classify``)
- ``rules``: tier rules, ideal customer profiles and assignment rules
- ``relations``: relation_add, relation_remove, visible_relations (人脉关系 between people, 企业关系
  between companies)
- ``acquaintances``: acquaintance_set, acquaintance_remove (我方熟人: which of our people know a
  customer's person)
- ``merge``: contact_merge, account_merge, merge_undo, duplicate_dismiss (movers of the customer tables)
- ``restore``: customer_restore (from the recycle bin, guarded as an add: 撞单保护)
"""

from guanxi.customers.services.accounts import AccountsByRules, account_create, account_update
from guanxi.customers.services.acquaintances import acquaintance_remove, acquaintance_set
from guanxi.customers.services.common import classify_after_commit
from guanxi.customers.services.contacts import (
    contact_create,
    contact_link_account,
    contact_unlink_account,
    contact_update,
)
from guanxi.customers.services.merge import account_merge, contact_merge, duplicate_dismiss, merge_undo
from guanxi.customers.services.pool import pool_claim, pool_recycle, pool_release
from guanxi.customers.services.recompute import (
    account_engagement_recompute,
    account_fit_recompute,
    account_tier_recompute,
    accounts_classify,
)
from guanxi.customers.services.relations import relation_add, relation_remove, visible_relations
from guanxi.customers.services.restore import customer_restore
from guanxi.customers.services.rules import (
    assignment_rule_create,
    assignment_rule_delete,
    assignment_rule_update,
    customer_profile_create,
    customer_profile_delete,
    customer_profile_update,
    pool_rule_create,
    pool_rule_delete,
    pool_rule_update,
    tier_rule_create,
    tier_rule_delete,
    tier_rule_update,
)

__all__ = [
    "account_create",
    "acquaintance_remove",
    "acquaintance_set",
    "AccountsByRules",
    "account_update",
    "account_engagement_recompute",
    "account_fit_recompute",
    "account_merge",
    "contact_merge",
    "duplicate_dismiss",
    "merge_undo",
    "account_tier_recompute",
    "accounts_classify",
    "assignment_rule_create",
    "assignment_rule_delete",
    "assignment_rule_update",
    "classify_after_commit",
    "contact_create",
    "contact_link_account",
    "contact_unlink_account",
    "contact_update",
    "customer_profile_create",
    "customer_restore",
    "customer_profile_delete",
    "customer_profile_update",
    "pool_claim",
    "pool_recycle",
    "pool_release",
    "pool_rule_create",
    "pool_rule_delete",
    "pool_rule_update",
    "relation_add",
    "relation_remove",
    "tier_rule_create",
    "tier_rule_delete",
    "tier_rule_update",
    "visible_relations",
]
