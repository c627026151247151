"""Bulk actions on many records: edit fields, change owner, assign by rules, add or remove tags, delete
to the recycle bin, claim from or release to the customer pool where the resource has one, and
follow or stop following (关注) where its records are followable.

Used by ``POST /api/v1/<resource>/bulk`` and the list pages' bulk bar. Records are chosen by id or by
a list query (the resource's ``FilterSet``: "all N matching"). Inside the transaction every record
is checked again through ``restrict`` for the action (owner changes also need "assign"); a record
the user may not touch is skipped and reported, never half-written. Each change goes through the
resource's own service (customer rules, timeline and change log apply), so a bulk edit is exactly N
single edits.

Exceptions, for speed: the action "owner" on a resource with a ``bulk_owner`` hook, "tag_add" /
"tag_remove" on one with ``bulk_tags``, "delete" on one with ``bulk_delete``, "update" on one with
``bulk_update`` for the fields it takes, "release" / "claim" on one with ``bulk_release`` /
``bulk_claim``, and "assign_rules" on one with ``bulk_assign`` (its rules choose the chunk's owners
first, ``changing``) (accounts and contacts: hand-overs and the bulk bar change owners, tags and
fields most, and clearing out a list bins hundreds at once) write the whole batch in a few
statements (one UPDATE, one insert of change-log rows; for an owner one of timeline entries too, for
tags one DELETE and one INSERT of the tag rows; notifications after the commit, as ever), five to
thirty times faster. They are equivalent, not approximate: a hook reproduces each effect of the
service for that change and nothing else differs (``customers.services.bulk_owner``, ``bulk_tags``,
``bulk_delete``, ``bulk_update`` and ``bulk_pool`` list them; ``tests/customers/test_bulk_owner.py``,
``test_bulk_tags.py``, ``test_bulk_delete.py``, ``test_bulk_update.py`` and ``test_bulk_pool.py``
compare both paths row by row), the same ``allowed`` records that the action changes reach it, and
it checks what the service would refuse before it writes, so refusals are reported per record as
before. Should it refuse unforeseen, its savepoint undoes it and the records go one by one
(``_in_bulk``).

Up to ``SYNC_LIMIT`` records run in the request, all or nothing. More run as a ``bulk`` job in
chunks of ``CHUNK`` (one transaction each, with a checkpoint, so a resumed job skips done chunks);
there a record the service refuses is reported and the others go on.

The recycle bin's ``restore`` and ``purge`` (``BIN_ACTIONS``, permission "delete") act on binned
records (``recycle_bin.binned``; a query is the bin's filters, ``recycle_bin.bin_query``), for every
resource with a bin, each record through its resource's restore service or ``record_purge``. In the
request too a refused record is listed (with its name) and the others go on (``_from_bin``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, models, transaction
from django.utils.translation import gettext as _
from pydantic import ValidationError as PydanticValidationError

from guanxi.core import services
from guanxi.core.choices import Action
from guanxi.core.db import one_unit, unit_savepoint
from guanxi.core.errors import Conflict, FieldErrors, GuanxiError, PermissionDenied
from guanxi.core.filters import record_ids
from guanxi.core.follows import follow_many
from guanxi.core.jobs import JobRun, job_handler, job_start
from guanxi.core.models import Job, OwnedMixin
from guanxi.core.notices import collecting
from guanxi.core.permissions import frozen_fields, may_reach, restrict_queryset, restricted
from guanxi.core.registry import Resource, resources
from guanxi.core.tags import check_scoped, normalize, tags_after

ACTIONS = (
    "update",
    "owner",
    "assign_rules",
    "tag_add",
    "tag_remove",
    "delete",
    "claim",
    "release",
    "follow",
    "unfollow",
    "restore",
    "purge",
)
#: Actions that add tags to records or take them off.
TAG_ACTIONS = ("tag_add", "tag_remove")
#: Actions that change owners: they need the "assign" permission besides "change".
ASSIGNING = ("owner", "assign_rules")
#: The actions of a resource's pool (公海, ``Resource.pool``). A claim takes records in the pool, which
#: their claimer may see but not yet change; a release, records not in it.
POOL_ACTIONS = ("claim", "release")
#: Following is the user's own (``guanxi.core.follows``): it needs only to see the records, and
#: writes nothing to them.
FOLLOW_ACTIONS = ("follow", "unfollow")
#: The recycle bin's actions (``core.recycle_bin``): on binned records, with the permission "delete";
#: each record through its resource's restore service or ``services.record_purge``. A refusal (撞单保护,
#: a unique name taken meanwhile) is listed with the record's name and the others go on, in a request
#: too: bringing back 499 records is what the user wants when the 500th cannot come.
BIN_ACTIONS = ("restore", "purge")
#: Most records one request changes itself; more become a job.
SYNC_LIMIT = 500
#: Records per transaction in a job.
CHUNK = 200
#: At most this many skipped ids and errors are listed in a result (the counts are always complete).
MAX_LISTED = 100


def permission_of(action: str) -> str:
    if action in FOLLOW_ACTIONS:
        return Action.VIEW
    return Action.DELETE if action == "delete" or action in BIN_ACTIONS else Action.CHANGE


def bulk_resources() -> list[Resource]:
    """Resources with bulk actions: writable CRM records (owned, with a recycle bin)."""
    return [r for r in resources() if not r.read_only and issubclass(r.model, OwnedMixin)]


def bulk_resource(path: str, *, binned: bool = False) -> Resource:
    """The resource at ``path`` with bulk actions; ``binned``: with a recycle bin (``BIN_ACTIONS``)."""
    from guanxi.core.recycle_bin import bin_resources

    for resource in bin_resources() if binned else bulk_resources():
        if resource.path == path:
            return resource
    raise FieldErrors({"type": [_("This list has no bulk actions.")]})


@dataclass
class BulkPlan:
    """A checked bulk request: what to do to each record."""

    resource: Resource
    action: str
    data: dict[str, Any] = field(default_factory=dict)  # model attributes (update, owner)
    custom_fields: dict[str, Any] | None = None
    tags: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)  # what the client sent: a job re-checks it


def bulk_plan(
    *,
    resource: Resource,
    user: Any,
    action: str,
    data: Mapping[str, Any] | None = None,
    owner: Any = None,
    tags: Iterable[str] | None = None,
    reason: Any = None,
    reason_id: Any = None,
) -> BulkPlan:
    """Validate the action and its input once, before any record is touched (errors name the field)."""
    from guanxi.api.crud import input_schema, to_model_data

    if action not in ACTIONS:
        raise FieldErrors({"action": [_("Use one of: %(actions)s.") % {"actions": ", ".join(ACTIONS)}]})
    if resource.read_only or (action == "delete" and resource.delete is None and not resource.soft_delete):
        raise FieldErrors({"action": [_("This list does not allow this action.")]})
    raw: dict[str, Any] = {"action": action}
    plan = BulkPlan(resource=resource, action=action, raw=raw)
    if action in BIN_ACTIONS:
        from guanxi.core.recycle_bin import bin_resources

        if resource not in bin_resources():
            raise FieldErrors({"action": [_("This list does not allow this action.")]})
    elif action == "update":
        payload = dict(data or {})
        if not payload:
            raise FieldErrors({"data": [_("Give at least one field to set.")]})
        not_allowed = sorted(k for k in payload if k not in resource.write_fields and k != "custom_fields")
        if "custom_fields" in payload and not resource.custom_fields:
            not_allowed.append("custom_fields")
        if not_allowed:
            raise FieldErrors({f"data.{k}": [_("This field cannot be set in bulk.")] for k in not_allowed})
        schema = input_schema(resource, name=f"{resource.model.__name__}Bulk")
        try:
            checked = schema(**payload).model_dump(exclude_unset=True)
        except PydanticValidationError as exc:
            errors: dict[str, list[str]] = {}
            for error in exc.errors():
                key = ".".join(str(p) for p in ("data", *error.get("loc", ())))
                errors.setdefault(key, []).append(str(error.get("msg", "")))
            raise FieldErrors(errors) from None
        plan.custom_fields = checked.pop("custom_fields", None)
        try:
            plan.data = to_model_data(resource, checked)
        except FieldErrors as exc:
            raise FieldErrors({f"data.{k}": v for k, v in exc.errors.items()}) from None
        raw["data"] = payload
    elif action == "owner":
        from guanxi.identity.models import User

        if not isinstance(owner, int) or isinstance(owner, bool):
            raise FieldErrors({"owner": [_("Give the new owner's user id.")]})
        if not User.objects.filter(pk=owner, is_active=True).exists():
            raise FieldErrors({"owner": [_("No active user with id %(id)s.") % {"id": owner}]})
        plan.data = {"owner_id": owner}
        raw["owner"] = owner
    elif action == "assign_rules":
        if resource.assign_by_rules is None:
            raise FieldErrors({"action": [_("This list does not allow this action.")]})
        resource.assign_by_rules(user)  # refuses now, naming the reason, when there is no rule to apply
    elif action in TAG_ACTIONS:
        if not resource.taggable:
            raise FieldErrors({"action": [_("These records have no tags.")]})
        if "tags" in frozen_fields(user, resource.model):
            raise FieldErrors({"tags": [_("You may not change this field.")]})
        names = sorted({normalize(str(n)) for n in (tags or []) if str(n).strip()})
        if not names:
            raise FieldErrors({"tags": [_("Give at least one tag.")]})
        if any(len(n) > 60 for n in names):
            raise FieldErrors({"tags": [_("A tag has at most 60 characters.")]})
        if action == "tag_add":
            check_scoped(names)  # which of two values of one scope to give is the user's to say
        plan.tags = names
        raw["tags"] = names
    elif action in POOL_ACTIONS:
        if resource.pool is None:
            raise FieldErrors({"action": [_("This list does not allow this action.")]})
        if action == "release":
            raw["reason"] = str(reason or "").strip()
            raw["reason_id"] = reason_id if reason_id not in (None, "") else None
            resource.pool.check_reason(user, raw["reason"], raw["reason_id"])
    elif action in FOLLOW_ACTIONS and not getattr(resource.model, "followable", False):
        raise FieldErrors({"action": [_("These records cannot be followed.")]})
    return plan


def check_may_bulk(user: Any, plan: BulkPlan) -> None:
    model = plan.resource.model
    if not may_reach(user, model, permission_of(plan.action)):
        raise PermissionDenied()
    if plan.action in ASSIGNING and not may_reach(user, model, Action.ASSIGN):
        raise PermissionDenied(_("You may not assign records to other people."))


def selection(
    resource: Resource,
    user: Any,
    *,
    ids: Iterable[Any] | None = None,
    query: Any = None,
    strict: bool = True,
    action: str = "",
) -> models.QuerySet:
    """The records the user chose and may see: by id, or every record matching a list query. For the
    recycle bin's actions, binned records, and the query is the bin's (``recycle_bin.bin_query``)."""
    if action in BIN_ACTIONS:
        return _binned_selection(resource, user, ids=ids, query=query, strict=strict)
    qs = restricted(resource.model, user, Action.VIEW)
    if ids is not None:
        return qs.filter(pk__in=record_ids(ids))
    from guanxi.core.exports import query_dict

    try:
        qs, _ordering = resource.filterset(query_dict(query), user, strict=strict).apply(qs)
    except FieldErrors as exc:
        raise FieldErrors({f"query.{k}": v for k, v in exc.errors.items()}) from None
    return qs


def _binned_selection(
    resource: Resource, user: Any, *, ids: Iterable[Any] | None, query: Any, strict: bool
) -> models.QuerySet:
    from guanxi.core.exports import query_dict
    from guanxi.core.recycle_bin import bin_query, binned

    if ids is not None:
        return binned(resource.model, user, Action.VIEW).filter(pk__in=record_ids(ids))
    try:
        return bin_query(resource, user, query_dict(query), strict=strict)[0]
    except FieldErrors as exc:
        raise FieldErrors({f"query.{k}": v for k, v in exc.errors.items()}) from None


def allowed(plan: BulkPlan, user: Any) -> models.QuerySet:
    """The records the user may do this action to (owner changes: change and assign)."""
    qs = acting_on(plan.resource.model, user, plan.action)
    if plan.action in ASSIGNING:
        qs = restrict_queryset(qs, user, Action.ASSIGN)
    return qs


def acting_on(model: Any, user: Any, action: str) -> models.QuerySet:
    """The records an action may start from, by the permission it needs: a claim, the records in the
    pool the user sees (``open_rows``); a release, those not in it that they may change; the others,
    those they may change (or delete). The list's bulk bar and the API read the same."""
    if action == "claim":
        return restricted(model, user, Action.VIEW).filter(model.open_rows)
    if action in BIN_ACTIONS:
        from guanxi.core.recycle_bin import binned

        return binned(model, user)
    qs = restricted(model, user, permission_of(action))
    return qs.exclude(model.open_rows) if action == "release" else qs


def _new_result() -> dict[str, Any]:
    return {"selected": 0, "changed": 0, "unchanged": 0, "skipped": 0, "failed": 0, "skipped_ids": [], "errors": []}


def merge_results(total: dict[str, Any], part: dict[str, Any]) -> dict[str, Any]:
    """Add a part's counters and listed ids and errors to ``total`` (a job's chunks, a handover's shares)."""
    for key in ("selected", "changed", "unchanged", "skipped", "failed"):
        total[key] = total.get(key, 0) + part.get(key, 0)
    for key in ("skipped_ids", "errors"):
        total[key] = (list(total.get(key, [])) + list(part.get(key, [])))[:MAX_LISTED]
    if "notices" in part or "notices" in total:  # the recycle bin's (``BIN_ACTIONS``)
        total["notices"] = (list(total.get("notices", [])) + list(part.get("notices", [])))[:MAX_LISTED]
    return total


def _apply_one(plan: BulkPlan, user: Any, pk: Any, current_tags: dict[Any, list[str]], by_rules: Any) -> bool:
    """Do the action to one record through the resource's service; False when nothing needed changing."""
    resource = plan.resource
    model = resource.model
    if by_rules is not None:
        return bool(by_rules.assign(pk))
    if plan.action == "claim" and resource.pool is not None:
        resource.pool.claim(pk=pk, user=user)
        return True
    if plan.action == "release" and resource.pool is not None:
        resource.pool.release(pk=pk, user=user, reason=plan.raw["reason"], reason_id=plan.raw.get("reason_id"))
        return True
    if plan.action == "delete":
        delete = resource.delete or services.record_delete
        delete(model=model, pk=pk, user=user)
        return True
    if plan.action == "restore":
        (resource.restore or services.record_restore)(model=model, pk=pk, user=user)
        return True
    if plan.action == "purge":
        services.record_purge(model=model, pk=pk, user=user)
        return True
    update = resource.update or services.record_update
    if plan.action in TAG_ACTIONS:
        after = tags_after(current_tags.get(pk, []), plan.tags, adding=plan.action == "tag_add")
        update(model=model, pk=pk, user=user, data={}, tags=sorted(after))
        return True
    kwargs: dict[str, Any] = {}
    if plan.custom_fields is not None:
        kwargs["custom_fields"] = plan.custom_fields
    update(model=model, pk=pk, user=user, data=dict(plan.data), **kwargs)
    return True


def _naming(pk: Any, exc: GuanxiError) -> FieldErrors:
    """A refusal naming its record: the whole batch is undone because of this one."""
    errors = {f"records.{pk}.{k}": v for k, v in exc.errors.items()} or {f"records.{pk}": [exc.detail]}
    return FieldErrors(errors, detail=exc.detail)


def _failed(result: dict[str, Any], pk: Any, exc: GuanxiError) -> None:
    """Count and list a record a service refused (a job goes on with the others)."""
    result["failed"] += 1
    if len(result["errors"]) < MAX_LISTED:
        result["errors"].append({"id": pk, "errors": exc.errors or {"": [exc.detail]}})


def _changing(plan: BulkPlan, todo: list[Any], owners: dict[Any, Any], tags: dict[Any, list[str]]) -> list[Any]:
    """The records of ``todo`` the action changes: a new owner, those someone else holds; tags, those
    whose tags it changes (adding 意向::中 takes 意向::高 off, ``core.tags``); otherwise all."""
    if plan.action == "owner":
        return [pk for pk in todo if owners.get(pk) != plan.data["owner_id"]]
    if plan.action in TAG_ACTIONS:
        adding = plan.action == "tag_add"
        return [
            pk for pk in todo if set(tags_after(tags.get(pk, []), plan.tags, adding=adding)) != set(tags.get(pk, []))
        ]
    return todo


def _set_based(
    plan: BulkPlan, by_rules: Any = None
) -> tuple[Callable[..., dict[Any, GuanxiError] | None] | None, dict[str, Any]]:
    """The resource's set-based hook for the action (``Resource.bulk_owner``, ``bulk_tags``,
    ``bulk_delete``, ``bulk_update``, ``bulk_release``, ``bulk_claim``, ``bulk_assign``), if it has
    one, and what the hook is given besides the user and the records."""
    if plan.action == "update":
        return plan.resource.bulk_update, {"data": plan.data, "custom_fields": plan.custom_fields}
    if plan.action == "owner":
        return plan.resource.bulk_owner, {"owner_id": plan.data["owner_id"]}
    if plan.action in TAG_ACTIONS:
        return plan.resource.bulk_tags, {"tags": plan.tags, "adding": plan.action == "tag_add"}
    if plan.action == "delete":
        return plan.resource.bulk_delete, {}
    if plan.action == "release" and plan.resource.pool is not None:
        return plan.resource.bulk_release, {"reason": plan.raw["reason"], "reason_id": plan.raw.get("reason_id")}
    if plan.action == "claim" and plan.resource.pool is not None:
        return plan.resource.bulk_claim, {}
    if plan.action == "assign_rules":
        return plan.resource.bulk_assign, {"by_rules": by_rules}
    return None, {}


def _in_bulk(
    plan: BulkPlan,
    user: Any,
    todo: list[Any],
    changing: list[Any],
    result: dict[str, Any],
    *,
    all_or_nothing: bool,
    by_rules: Any = None,
) -> bool:
    """The action through the resource's set-based hook (``_set_based``), when it has one: the
    ``changing`` records in a few statements, with what the ``update`` or ``delete`` service does to
    each (``customers.services.bulk_owner``, ``bulk_tags``, ``bulk_delete``). Its refusals count as
    the service's would: all or nothing, the first in ``todo``'s order undoes the batch; in a job,
    each is listed and the others stay written (the hook writes none of them). False: do it record
    by record instead (no hook, it declined, or it failed unforeseen; its savepoint undid all it
    wrote)."""
    hook, given = _set_based(plan, by_rules)
    if hook is None:
        return False
    if changing:
        try:
            with unit_savepoint():
                refused = hook(user=user, pks=changing, **given)
        except GuanxiError:
            return False
        if refused is None:  # declined (``Resource.bulk_update``: a field it leaves to the service)
            return False
        if refused and all_or_nothing:
            first = next(pk for pk in changing if pk in refused)
            raise _naming(first, refused[first])
        for pk in changing:
            if pk in refused:
                _failed(result, pk, refused[pk])
        result["changed"] += len(changing) - len(refused)
    result["unchanged"] += len(todo) - len(changing)
    return True


def _from_bin(plan: BulkPlan, user: Any, todo: list[Any], result: dict[str, Any]) -> dict[str, Any]:
    """Restore or purge each record (``BIN_ACTIONS``) in its own savepoint: a refusal is listed with
    the record's name and its reason, and the others go on. What the services tell the user besides
    (撞单保护 under ``tell``: whose customer a restored one is too) is listed as ``notices``."""
    with collecting() as notices:
        for pk in todo:
            try:
                with unit_savepoint():
                    _apply_one(plan, user, pk, {}, None)
            except GuanxiError as exc:
                _failed(result, pk, exc)
                continue
            except IntegrityError:  # a record of the same unique name restored at the same moment elsewhere
                _failed(result, pk, Conflict(_("Another record now has a value this one must not share; rename one.")))
                continue
            result["changed"] += 1
    if result["errors"]:  # named: "3 failed" says nothing of which
        manager: Any = getattr(plan.resource.model, "all_objects", plan.resource.model._default_manager)
        listed = [error["id"] for error in result["errors"]]
        names = {obj.pk: str(obj) for obj in manager.filter(pk__in=listed)}
        for error in result["errors"]:
            error["name"] = names.get(error["id"], "")
    result["notices"] = notices[:MAX_LISTED]
    return result


def bulk_apply_ids(plan: BulkPlan, user: Any, ids: list[Any], *, all_or_nothing: bool) -> dict[str, Any]:
    """Apply ``plan`` to the given (visible) record ids in one transaction.

    ``all_or_nothing``: the first refusal by a service undoes the whole batch and is raised (naming
    the record); otherwise each record has its own savepoint and refusals are counted and listed.
    """
    from guanxi.api.crud import tag_names_for

    result = _new_result()
    result["selected"] = len(ids)
    model = plan.resource.model
    # One unit (``core.db.one_unit``): the services open no savepoints of their own, and their
    # after-commit work runs once for the batch. All or nothing, the transaction is what a refusal
    # undoes; otherwise the savepoint each record gets below.
    with transaction.atomic(), one_unit():
        permitted = set(allowed(plan, user).filter(pk__in=ids).values_list("pk", flat=True))
        skipped = [pk for pk in ids if pk not in permitted]
        result["skipped"] = len(skipped)
        result["skipped_ids"] = skipped[:MAX_LISTED]
        todo = [pk for pk in ids if pk in permitted]
        if plan.action in FOLLOW_ACTIONS:
            changed = follow_many(user=user, model=model, pks=todo, following=plan.action == "follow")
            result.update(changed=changed, unchanged=len(todo) - changed)
            return result
        if plan.action in BIN_ACTIONS:
            return _from_bin(plan, user, todo, result)
        tags = tag_names_for(model, todo) if plan.action in TAG_ACTIONS and todo else {}
        owners = (
            dict(model._default_manager.filter(pk__in=todo).values_list("pk", "owner_id"))
            if plan.action == "owner" and todo
            else {}
        )
        # The rules are read once per transaction, and the turns they hand out are saved with it. They
        # choose the chunk's new owners first (``changing``), for the set-based hook or one by one.
        hook = plan.resource.assign_by_rules
        by_rules = hook(user) if hook is not None and plan.action == "assign_rules" and todo else None
        changing = by_rules.changing(todo) if by_rules is not None else _changing(plan, todo, owners, tags)
        if _in_bulk(plan, user, todo, changing, result, all_or_nothing=all_or_nothing, by_rules=by_rules):
            if by_rules is not None:
                by_rules.save()
            return result
        unchanged = set(todo) - set(changing)
        for pk in todo:
            if pk in unchanged:
                result["unchanged"] += 1
                continue
            if all_or_nothing:
                try:
                    changed = _apply_one(plan, user, pk, tags, by_rules)
                except GuanxiError as exc:
                    raise _naming(pk, exc) from None
            else:
                try:
                    with unit_savepoint():
                        changed = _apply_one(plan, user, pk, tags, by_rules)
                except GuanxiError as exc:
                    _failed(result, pk, exc)
                    continue
            result["changed" if changed else "unchanged"] += 1
        if by_rules is not None:
            by_rules.save()
    return result


def bulk_start_or_run(
    *,
    resource: Resource,
    user: Any,
    action: str,
    ids: Iterable[Any] | None = None,
    query: Any = None,
    data: Mapping[str, Any] | None = None,
    owner: Any = None,
    tags: Iterable[str] | None = None,
    reason: Any = None,
    reason_id: Any = None,
    strict: bool = True,
) -> dict[str, Any] | Job:
    """Check the request, then apply it now (up to ``SYNC_LIMIT`` records) or queue a ``bulk`` job."""
    if (ids is None) == (query is None):
        raise FieldErrors({"ids": [_("Send either ids or a query.")]})
    plan = bulk_plan(
        resource=resource,
        user=user,
        action=action,
        data=data,
        owner=owner,
        tags=tags,
        reason=reason,
        reason_id=reason_id,
    )
    check_may_bulk(user, plan)
    requested = record_ids(ids) if ids is not None else None
    chosen = selection(resource, user, ids=requested, query=query, strict=strict, action=action)
    if requested is not None and len(requested) <= SYNC_LIMIT:
        visible = set(chosen.values_list("pk", flat=True))
        result = bulk_apply_ids(plan, user, [pk for pk in requested if pk in visible], all_or_nothing=True)
        invisible = [pk for pk in requested if pk not in visible]
        result["selected"] += len(invisible)
        result["skipped"] += len(invisible)
        result["skipped_ids"] = (result["skipped_ids"] + invisible)[:MAX_LISTED]
        return {"action": action, **result}
    if requested is None:
        pks = list(chosen.order_by("pk").values_list("pk", flat=True)[: SYNC_LIMIT + 1])
        if len(pks) <= SYNC_LIMIT:  # "ids": which they were (a bulk delete's 撤销 brings back these)
            return {"action": action, "ids": pks, **bulk_apply_ids(plan, user, pks, all_or_nothing=True)}
    from guanxi.core.exports import query_dict, query_json

    params: dict[str, Any] = {"type": resource.path, **plan.raw}
    if requested is not None:
        params["ids"] = requested
    else:
        params["query"] = query_json(query_dict(query))
    return job_start(kind="bulk", user=user, object_type=resource.object_type, params=params)


def bulk_chunks(
    plan: BulkPlan,
    user: Any,
    chosen: models.QuerySet,
    *,
    result: dict[str, Any] | None = None,
    last: Any = 0,
    saved: Callable[[Any, dict[str, Any]], None],
    apply: Callable[[list[Any]], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Apply ``plan`` to the ``chosen`` records above id ``last``, ``CHUNK`` at a time: one transaction
    each, in which ``saved(last id, result so far)`` writes the job's checkpoint, so that the work and
    the checkpoint commit together and a resumed job goes on after the last chunk that did. A record
    the service refuses is counted and listed; the others go on. ``result``: the counts so far.
    ``apply(ids)``: what to do to a chunk instead of ``plan`` (a handover shares it among several)."""
    result = result if result is not None else _new_result()
    while True:
        pks = list(chosen.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:CHUNK])
        if not pks:
            return result
        with transaction.atomic():
            part = apply(pks) if apply is not None else bulk_apply_ids(plan, user, pks, all_or_nothing=False)
            result = merge_results(result, part)
            last = pks[-1]
            saved(last, result)


@job_handler("bulk")
def bulk_job(run: JobRun) -> dict[str, Any]:
    """A large bulk action, chunk by chunk; the checkpoint is the last record id done."""
    job = run.job
    params = job.params or {}
    user = job.user
    resource = bulk_resource(str(params.get("type", "")), binned=params.get("action") in BIN_ACTIONS)
    plan = bulk_plan(
        resource=resource,
        user=user,
        action=str(params.get("action", "")),
        data=params.get("data"),
        owner=params.get("owner"),
        tags=params.get("tags"),
        reason=params.get("reason"),
        reason_id=params.get("reason_id"),
    )
    check_may_bulk(user, plan)
    ids = params.get("ids")
    query = None if ids is not None else params.get("query")
    chosen = selection(resource, user, ids=ids, query=query, strict=False, action=plan.action)
    last = int((job.checkpoint or {}).get("last", 0))
    result = {**_new_result(), **{k: v for k, v in (job.result or {}).items() if k in _new_result()}}
    total = chosen.count()
    requested = len(set(ids)) if ids is not None else total
    run.progress(int(result.get("selected", 0)), requested)

    def saved(done: Any, so_far: dict[str, Any]) -> None:
        run.checkpoint({"last": done}, processed=so_far["selected"], **so_far)

    result = bulk_chunks(plan, user, chosen, result=result, last=last, saved=saved)
    if ids is not None:
        # Ids the user could not (or no longer) see count as skipped too.
        missing = requested - result["selected"]
        if missing > 0:
            result["selected"] += missing
            result["skipped"] += missing
    return {"action": plan.action, **result}
