"""The one permission path: ``restrict(user, action)`` and the field rules.

Policy, per role and object type (``app.model``): each action has a scope (none / own / team /
subordinates / all); field rules hide or freeze fields. Superusers may do everything. A record can
also be shared with a user or a team, and a model may name rows open to everyone its role lets see
some of its rows (``open_rows``: the accounts in the customer pool). API tokens carry scopes that
narrow what their user may do.
Everything that shows or changes records (API, UI, search, export, reports, bulk actions) starts
from ``Model.objects.restrict(user, action)``; services re-check inside their transaction.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models import Exists, OuterRef, Q

from guanxi.core.choices import SCOPE_RANK, Action, FieldAccess, Scope

_CACHE_ATTR = "_guanxi_permissions"
_CONDITIONS_ATTR = "_guanxi_conditions"
# Up to this many records shared with a user are written into their queries as ids; more are
# read by a subquery.
SHARED_IDS_INLINE = 1000
QS = TypeVar("QS", bound=models.QuerySet)


def object_type_of(model: type[models.Model]) -> str:
    return f"{model._meta.app_label}.{model._meta.model_name}"


def token_allows(scopes: list[str], object_type: str, action: str) -> bool:
    """Token scopes are ``<object_type>:<action>``; ``*`` may stand for either part."""
    wanted = {f"{object_type}:{action}", f"{object_type}:*", f"*:{action}", "*:*"}
    return not wanted.isdisjoint(scopes)


def _model_or_none(object_type: str) -> type[models.Model] | None:
    from django.apps import apps

    try:
        return apps.get_model(object_type)
    except (LookupError, ValueError):
        return None


def _policy(user: Any) -> dict[str, Any]:
    """Load the user's role rules once per user object (one request, one job)."""
    cached = getattr(user, _CACHE_ATTR, None)
    if cached is not None:
        return cached
    from guanxi.identity.models import FieldRule, Role, RolePermission

    scopes: dict[tuple[str, str], str] = {}
    fields: dict[str, dict[str, str]] = {}
    # A role in the recycle bin grants nothing (deleting one is refused while held; this is the backstop).
    if user.role_id and Role.objects.filter(pk=user.role_id).exists():
        for object_type, action, scope in RolePermission.objects.filter(role_id=user.role_id).values_list(
            "object_type", "action", "scope"
        ):
            scopes[(object_type, action)] = scope
        for object_type, field, access in FieldRule.objects.filter(role_id=user.role_id).values_list(
            "object_type", "field", "access"
        ):
            fields.setdefault(object_type, {})[field] = access
    for object_type, rules in fields.items():
        # A rule on a field covers the fields that only make sense with it (``field_rules_cover``:
        # hiding a contact's birthday hides whether it is kept on the lunar calendar), unless they
        # have a rule of their own.
        covers = getattr(_model_or_none(object_type), "field_rules_cover", {})
        for field, access in list(rules.items()):
            for companion in covers.get(field, ()):
                rules.setdefault(companion, access)
    cached = {"scopes": scopes, "fields": fields}
    setattr(user, _CACHE_ATTR, cached)
    return cached


def forget(user: Any) -> None:
    """Drop the cached policy and shares (after the user's role, its rules or a share change)."""
    for attr in (_CACHE_ATTR, _CONDITIONS_ATTR):
        user.__dict__.pop(attr, None)


def scope_for(user: Any, object_type: str, action: str) -> str:
    if user is None or not user.is_authenticated or not user.is_active:
        return Scope.NONE
    token_scopes = getattr(user, "token_scopes", None)
    if token_scopes is not None and not token_allows(token_scopes, object_type, action):
        return Scope.NONE
    if user.is_superuser:
        return Scope.ALL
    scopes = _policy(user)["scopes"]
    scope = scopes.get((object_type, action))
    if scope is None and is_record_type(object_type):
        scope = scopes.get(("*", action))
    return scope or Scope.NONE


def is_record_type(object_type: str) -> bool:
    """CRM records (GuanxiModel) take a role's ``*`` rules; identity and admin models never do."""
    from guanxi.core.models import GuanxiModel

    model = _model_or_none(object_type)
    return model is not None and issubclass(model, GuanxiModel)


def can(user: Any, model: type[models.Model] | str, action: str) -> bool:
    """May the user do ``action`` on at least some records of this type? (menus, buttons, 403s)."""
    object_type = model if isinstance(model, str) else object_type_of(model)
    return scope_for(user, object_type, action) != Scope.NONE


def widest_scope(*scopes: str) -> str:
    return max(scopes, key=lambda s: SCOPE_RANK[Scope(s)])


def _share_q(model: type[models.Model], user: Any, action: str) -> Q | None:
    if not getattr(model, "shareable", False) or action not in (Action.VIEW, Action.CHANGE):
        return None
    token_scopes = getattr(user, "token_scopes", None)
    if token_scopes is not None and not token_allows(token_scopes, object_type_of(model), action):
        return None
    from guanxi.identity.models import Share
    from guanxi.identity.selectors import user_team_ids

    content_type = ContentType.objects.get_for_model(model, for_concrete_model=False)
    access = ["view", "change"] if action == Action.VIEW else ["change"]
    shares = Share.objects.filter(content_type=content_type, access__in=access).filter(
        Q(user_id=user.pk) | Q(team_id__in=user_team_ids(user))
    )
    found = list(shares.values_list("object_id", flat=True)[: SHARED_IDS_INLINE + 1])
    # The ids themselves, not a subquery: PostgreSQL reads "mine, or one of these few, or in the
    # pool" by the owner index, the primary key and the pool's index (a bitmap OR), where an
    # IN (subquery) under the OR left it a scan of every row (a salesperson's list past
    # ``pagination.WALK``: 67 -> 16 ms at 200,000 accounts). No shares leaves ``pk__in=[]``: it
    # matches nothing without a query, and the list is still there, empty. Read once per user
    # object with the rest of the condition (``_condition``).
    return Q(pk__in=found) if len(found) <= SHARED_IDS_INLINE else Q(pk__in=shares.values("object_id"))


# Bumped whenever this process writes a share, so that a user object that outlives the write (a
# job, a test) reads its shares again; each request has its own user object.
_shares_written = 0


def shares_written(**_kwargs: Any) -> None:
    """A share was saved or deleted (connected to Share's post_save and post_delete)."""
    global _shares_written
    _shares_written += 1


def _parent_q(model: type[models.Model], user: Any, action: str) -> Q | None:
    """For rows that hang on another record (notes, attachments, timeline): follow the parent."""
    from guanxi.core.registry import registered_models

    parent_action = Action.VIEW if action == Action.VIEW else Action.CHANGE
    q: Q | None = None
    for parent in registered_models():
        if parent is model or getattr(parent, "follows_parent", False):
            continue
        if not getattr(parent, "has_timeline", False) and not getattr(model, "also_follows_parent", False):
            continue
        ct = ContentType.objects.get_for_model(parent, for_concrete_model=False)
        visible = restricted(parent, user, parent_action)
        if not visible.query.is_empty():
            part = Q(Q(content_type_id=ct.pk), visible_ref("object_id", visible))
            q = part if q is None else q | part
    return q


def restrict_queryset(qs: QS, user: Any, action: str) -> QS:
    """Narrow ``qs`` to the rows ``user`` may ``action``. The only way records reach a user."""
    condition = _condition(qs.model, user, action)
    if condition is None:
        return qs.none()
    return qs.filter(condition) if condition else qs  # Q() == every row


def _condition(model: type[models.Model], user: Any, action: str) -> Q | None:
    """What ``restrict`` filters by: ``Q()`` for every row, None for none. Worked out once per user
    object (a request, a job) for each model and action, and again after a share is written: a list
    page asks it about a dozen times (the rows, the filters' selects, the bulk actions, the export
    button), and building it each time was a fifth of a salesperson's page in Python."""
    if action not in Action.values:
        raise ValueError(f"unknown action {action!r}")
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    memo: dict[tuple[Any, ...], Q | None] = user.__dict__.setdefault(_CONDITIONS_ATTR, {})
    token_scopes = getattr(user, "token_scopes", None)
    key = (model, action, _shares_written, None if token_scopes is None else tuple(token_scopes))
    if key not in memo:
        memo[key] = _build_condition(model, user, action)
    return memo[key]


def _build_condition(model: type[models.Model], user: Any, action: str) -> Q | None:
    if getattr(model, "follows_parent", False):
        token_scopes = getattr(user, "token_scopes", None)
        if token_scopes is not None and not token_allows(token_scopes, object_type_of(model), action):
            return None
        return _parent_q(model, user, action)
    q = _scope_q(model, user, action)
    if q is not None and not q:  # every row
        return q
    extra = _share_q(model, user, action)
    if getattr(model, "also_follows_parent", False) and action == Action.VIEW:
        extra = _parent_q(model, user, action)
    open_rows = getattr(model, "open_rows", None)
    if q is not None and action == Action.VIEW and open_rows is not None:
        extra = open_rows if extra is None else extra | open_rows
    if q is None and extra is None:
        return None
    return q if extra is None else extra if q is None else q | extra


def _scope_q(model: type[models.Model], user: Any, action: str) -> Q | None:
    """The rows the user's role reaches: ``Q()`` for every row, ``None`` for none."""
    return model.scope_filter(user, scope_for(user, object_type_of(model), action))  # type: ignore[attr-defined]


def sees_all(model: type[models.Model], user: Any, action: str = Action.VIEW) -> bool:
    """Does ``restrict`` leave ``user`` every live row of ``model`` (an administrator, a role whose
    scope is "all")? Then a read that joins those rows needs no second look at which are visible."""
    if user is None or not user.is_authenticated or not user.is_active or getattr(model, "follows_parent", False):
        return False
    q = _scope_q(model, user, action)
    return q is not None and not q


def unseen_ids(user: Any, model: type[models.Model], ids: Any) -> set[Any]:
    """Of ``ids`` of ``model``'s records, those ``user`` may not see (one query, none when they see
    them all). A field that points at one (an account's 上级客户, a contact's 直属上级) then shows that
    there is a record, not its name: what a user may not see answers 404 and names nothing. Only CRM
    records (``GuanxiModel``) are checked; people, teams and settings are named to everyone."""
    from guanxi.core.models import GuanxiModel

    wanted = {pk for pk in ids if pk is not None}
    if not wanted or not issubclass(model, GuanxiModel) or sees_all(model, user):
        return set()
    return wanted - set(restricted(model, user).filter(pk__in=wanted).values_list("pk", flat=True))


def unseen_references(user: Any, model: type[models.Model], names: Any, values: Any) -> dict[str, set[Any]]:
    """``unseen_ids`` for each foreign key of ``names`` on ``model``, over ``values``: the records (or
    ``.values()`` rows keyed by attname) of a page. ``{field name: ids}``, only fields with some."""
    out: dict[str, set[Any]] = {}
    for name in names:
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:  # a computed column, tags: not a field
            continue
        if not isinstance(field, models.ForeignKey) or field.related_model is None:
            continue  # a OneToOneField is a ForeignKey too
        attname = field.attname
        ids = {row.get(attname) if isinstance(row, dict) else getattr(row, attname, None) for row in values}
        unseen = unseen_ids(user, field.related_model, ids)
        if unseen:
            out[name] = unseen
    return out


def field_rules(user: Any, model: type[models.Model] | str) -> dict[str, str]:
    """Field name -> "hidden" or "readonly" for this user on this object type."""
    if user is None or not user.is_authenticated or user.is_superuser:
        return {}
    object_type = model if isinstance(model, str) else object_type_of(model)
    return dict(_policy(user)["fields"].get(object_type, {}))


def hidden_fields(user: Any, model: type[models.Model] | str) -> set[str]:
    """Fields whose values the user may not have: hidden ones, and masked ones, which only the pages
    and API that show them masked (``masked_fields``) give in part."""
    return {f for f, access in field_rules(user, model).items() if access in (FieldAccess.HIDDEN, FieldAccess.MASKED)}


def withheld_fields(user: Any, model: type[models.Model] | str) -> set[str]:
    """Fields withheld whole: the hidden ones, not the masked ones, which some paths show in part."""
    return {f for f, access in field_rules(user, model).items() if access == FieldAccess.HIDDEN}


def masked_fields(user: Any, model: type[models.Model] | str) -> set[str]:
    """Fields the user sees masked (``guanxi.core.masking``); ``hidden_fields`` holds them too."""
    return {f for f, access in field_rules(user, model).items() if access == FieldAccess.MASKED}


def frozen_fields(user: Any, model: type[models.Model] | str, *, adding: bool = False) -> set[str]:
    """Fields the user may not write: read-only, hidden and masked ones; a masked one may be given
    when ``adding`` a record (the user typed it, so knows it; it reads masked from then on)."""
    rules = field_rules(user, model)
    return {f for f, access in rules.items() if not (adding and access == FieldAccess.MASKED)}


def may_reach(user: Any, model: type[models.Model], action: str) -> bool:
    """Could ``action`` apply to any row of this type: by role, share, parent record or ownership?

    Lists answer 403 and bulk actions hide only when this is false (no query is run).
    """
    return _condition(model, user, action) is not None


def visible_ref(ref: str, visible: models.QuerySet) -> Exists:
    """A condition on other rows: the record their ``ref`` column points at is among ``visible``, the
    records a user may see or change (``AccountContact.objects.filter(visible_ref("contact_id",
    restricted(Contact, user)))``). The caller builds ``visible`` once, often to ask first whether
    it is empty.

    Written as a correlated EXISTS rather than ``ref__in=restricted(...).values("pk")``: SQLite builds
    an IN subquery in full before it reads a row, and for anyone who sees every live record that is
    every id in the table (the panel of an account's contacts took 530 ms at a million contacts,
    against 1 ms this way: one primary-key look-up per row it reads). PostgreSQL plans both the same
    (a semi-join) when the condition stands alone; under an OR it reads the EXISTS row by row, where
    it hashes every id of an IN.
    """
    return Exists(visible.filter(pk=OuterRef(ref)))


def restricted(model: type[models.Model], user: Any, action: str = Action.VIEW) -> models.QuerySet:
    """``model``'s live rows that ``user`` may ``action``: the typed spelling of
    ``Model.objects.restrict(user, action)`` for code that holds a model class, not a manager."""
    return restrict_queryset(model._default_manager.all(), user, action)
