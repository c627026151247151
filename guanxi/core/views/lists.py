"""The generic list page: search, filters, sort, keyset paging, columns, saved views, bulk selection.

Filters and sort come from the resource's one ``FilterSet`` (the API uses the same), read with
``strict=False`` so an empty input means "any". A wrong value shows a message, never a 500.
"""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from guanxi.api.crud import tag_names_for
from guanxi.core.choices import Action
from guanxi.core.custom_fields import definitions_for
from guanxi.core.errors import FieldErrors
from guanxi.core.follows import asks_followed
from guanxi.core.forms import MAX_SELECT_OPTIONS, related_queryset
from guanxi.core.models import SavedView, Tag
from guanxi.core.money import money_fields
from guanxi.core.pagination import DEFAULT_LIMIT, paginate, parse_limit
from guanxi.core.permissions import (
    can,
    frozen_fields,
    hidden_fields,
    masked_fields,
    may_reach,
    restrict_queryset,
    restricted,
    unseen_references,
)
from guanxi.core.pickers import RecordPicker, pickable, picker_resource
from guanxi.core.registry import Resource, resource_at
from guanxi.core.tags import ANY, SEPARATOR, scope_of
from guanxi.core.views import display
from guanxi.core.views.base import ResourceView, delete_verb, resource_url
from guanxi.core.views.follows import follow_stars

#: How many columns a list shows when neither the resource nor the user chose.
DEFAULT_COLUMN_COUNT = 6
RESULTS_ID = "list-results"


@dataclass
class FilterControl:
    """One input of the filter bar; ``kind`` picks the widget (text, number, money: text that takes
    500万, date, select, picker: a record picker, rendered in ``html``)."""

    param: str
    label: str
    kind: str
    value: str = ""
    options: list[tuple[str, str]] = field(default_factory=list)
    html: str = ""

    @property
    def options_html(self) -> str:
        """The select's options, written here rather than one template node at a time: the country
        filter alone has some 250 (about 2 ms a page in the template)."""
        return display.select_options(self.options, self.value)


def _query(params: QueryDict, **changes: Any) -> str:
    """``params`` as a query string with some keys changed (``None`` removes a key)."""
    query = params.copy()
    for key, value in changes.items():
        if value is None:
            query.pop(key, None)
        else:
            query[key] = value
    encoded = query.urlencode()
    return f"?{encoded}" if encoded else "?"


def scope_links(resource: Resource, user: Any, params: QueryDict, link_params: QueryDict) -> list[dict[str, Any]]:
    """全部 / 我负责的 / 我和下属 / 我的团队 (and 公海 for accounts) above a list of owned records: the
    owner filter a salesperson sets fifty times a day, one tap away (full page links, so the filter
    inputs agree). Each link says ``owner=me``, not the user's id, so a saved view made from it is
    everyone's own."""
    from guanxi.identity.selectors import user_report_ids, user_team_ids

    declared = resource.filterset.filters
    hidden = hidden_fields(user, resource.model)
    if "owner" not in declared or "owner" in hidden:
        return []
    owner, team = params.get("owner", ""), params.get("team", "")
    # (key, label, owner, team): the owner and team each link sets (None: none).
    scopes: list[tuple[str, str, Any, Any]] = [("all", _("All"), None, None), ("mine", _("Mine"), "me", None)]
    if user_report_ids(user):
        scopes.append(("reports", _("Me and my reports"), "reports", None))
    if "team" in declared and "team" not in hidden and user_team_ids(user):
        scopes.append(("team", _("My team"), None, "mine"))
    # A link or a view from before these values (owner=7) is the same scope for user 7.
    same = {str(user.pk): "me"}
    pool = resource.pool
    in_pool = resource.shows_pool(params)
    leave: dict[str, Any] = {}
    if pool is not None:
        leave[pool.param] = None
        if link_params.get("ordering") == pool.ordering:  # leaving the pool leaves its order too
            leave["ordering"] = None
    follows = "followed" in declared
    following = follows and asks_followed(params.get("followed", ""))
    if follows:
        leave["followed"] = None
    links = [
        {
            "key": key,
            "label": label,
            "url": _query(link_params, owner=to_owner, team=to_team, cursor=None, **leave),
            "active": not in_pool
            and not following
            and same.get(owner, owner) == (to_owner or "")
            and team == (to_team or ""),
        }
        for key, label, to_owner, to_team in scopes
    ]
    if follows:
        # 我关注的: the records the user follows, whoever owns them.
        away = {key: None for key in leave if key != "followed"}
        url = _query(link_params, owner=None, team=None, cursor=None, followed="me", **away)
        links.append({"key": "followed", "label": _("Following"), "url": url, "active": following and not in_pool})
    if pool is not None:
        # The customer pool (公海): the records waiting for someone to claim them.
        url = _query(link_params, owner=None, team=None, cursor=None, followed=None, **pool.query())
        links.append({"key": "pool", "label": _("Customer pool"), "url": url, "active": in_pool})
    return links


def bulk_actions(resource: Resource, user: Any, *, in_pool: bool | None = None) -> list[tuple[str, str]]:
    """The bulk actions this user may start on this list (each record is checked again on submit).

    ``in_pool``: the list shows the customer pool (claim comes first, release is not offered), or
    not (the reverse); None: every action (to check a submitted one)."""
    if resource.read_only:
        return []
    actions = []
    if resource.pool is not None and in_pool is not False and can(user, resource.model, Action.CHANGE):
        actions.append(("claim", _("Claim")))
    if may_reach(user, resource.model, Action.CHANGE):
        if resource.soft_delete and resource.write_fields:
            actions.append(("edit", _("Edit a field")))
        if resource.taggable and "tags" not in frozen_fields(user, resource.model):
            actions += [("add_tags", _("Add tags")), ("remove_tags", _("Remove tags"))]
        if _may_assign(resource, user):
            actions.append(("owner", _("Change owner")))
            if resource.assign_by_rules is not None:
                actions.append(("assign_rules", _("Assign by rules")))
        if resource.pool is not None and in_pool is not True:
            actions.append(("release", _("Release to pool")))
    if may_reach(user, resource.model, Action.DELETE):
        actions.append(("delete", delete_verb(resource.path)))
    if getattr(resource.model, "followable", False):
        # Anyone who sees the list may follow its records: a viewer's bulk bar offers only these.
        actions += [("follow", _("Follow")), ("unfollow", _("Stop following"))]
    return actions


def _may_assign(resource: Resource, user: Any) -> bool:
    from guanxi.core.models import OwnedMixin

    return issubclass(resource.model, OwnedMixin) and may_reach(user, resource.model, Action.ASSIGN)


def filter_controls(resource: Resource, user: Any, params: QueryDict, definitions: list[Any]) -> list[FilterControl]:
    """Inputs for the filters the ``FilterSet`` declares (one query per foreign-key select)."""
    model = resource.model
    hidden = hidden_fields(user, model)
    controls: list[FilterControl] = []
    for name, lookups in resource.filterset.filters.items():
        if name == "tag":
            controls += _tag_controls(user, params, without="not" in lookups)
            continue
        if name in resource.filterset.pickers:
            if resource.filterset.governed_by.get(name, name) in hidden:
                continue
            controls.append(_picker_control(resource, user, params, name))
            continue
        if name in resource.filterset.choice_filters:
            if resource.filterset.governed_by.get(name, name) in hidden:
                continue
            label, values = resource.filterset.choice_filters[name]
            controls.append(FilterControl(name, str(label), "select", params.get(name, ""), list(values())))
            continue
        db_field = display.model_field(model, name)
        if name in hidden or db_field is None:
            continue
        label = display.field_label(model, name)
        option_list = resource.filterset.option_lists.get(name)
        if option_list is not None and "exact" in lookups:
            # A link may say country=中国: the select holds CN.
            value = params.get(name, "")
            with contextlib.suppress(ValueError):  # an unknown one: the list names the filter it ignored
                value = resource.filterset.as_stored(name, value)
            controls.append(FilterControl(name, label, "select", value, list(option_list())))
        elif db_field.many_to_one:
            picked = pickable(db_field.related_model)
            if "exact" in lookups and picked is not None:
                # Records (accounts...) may be too many to list: chosen by typing, like in the forms.
                widget = RecordPicker(picked.path, related_queryset(db_field, user))
                html = widget.render(name, params.get(name, ""), {"id": f"filter-{name}"})
                controls.append(FilterControl(name, label, "picker", params.get(name, ""), html=html))
            elif "exact" in lookups:
                options = _relation_options(db_field, user)
                relative = resource.filterset.relative_values.get(name, {})
                people = picker_resource(db_field.related_model)
                if options is None and people is not None:
                    # Too many people for a select: chosen by typing, and a link's owner=me kept as 我.
                    words = {value: str(entry[0]) for value, entry in relative.items()}
                    widget = RecordPicker(people.path, related_queryset(db_field, user), words=words)
                    html = widget.render(name, params.get(name, ""), {"id": f"filter-{name}"})
                    controls.append(FilterControl(name, label, "picker", params.get(name, ""), html=html))
                elif options is None:
                    # An id to type; a text input, so that team=mine from a link survives the form.
                    kind = "text" if relative else "number"
                    controls.append(FilterControl(name, label, kind, params.get(name, "")))
                else:
                    mine = [(value, str(entry[0])) for value, entry in relative.items()]
                    controls.append(FilterControl(name, label, "select", params.get(name, ""), mine + options))
            elif "isnull" in lookups:
                param = f"{name}__isnull"
                options = [("true", _("Empty")), ("false", _("Not empty"))]
                controls.append(FilterControl(param, label, "select", params.get(param, ""), options))
        elif isinstance(db_field, models.BooleanField) and "exact" in lookups:
            options = [("true", _("Yes")), ("false", _("No"))]
            controls.append(FilterControl(name, label, "select", params.get(name, ""), options))
        elif getattr(db_field, "choices", None) and "exact" in lookups:
            options = [(str(v), str(lbl)) for v, lbl in db_field.choices]  # type: ignore[union-attr]
            empty = resource.filterset.empty_values.get(name)
            if empty is not None:  # the records without one (未分级)
                options.append((empty[0], str(empty[1])))
            controls.append(FilterControl(name, label, "select", params.get(name, ""), options))
        elif isinstance(db_field, models.DateField | models.DateTimeField):
            for lookup, suffix in (("gte", _("from")), ("lte", _("to"))):
                if lookup in lookups:
                    param = f"{name}__{lookup}"
                    controls.append(FilterControl(param, f"{label} {suffix}", "date", params.get(param, "")))
        elif isinstance(db_field, models.IntegerField | models.DecimalField | models.FloatField):
            # An amount of money takes 500万: a text input, not a number one.
            kind = "money" if name in money_fields(model) else "number"
            if "exact" in lookups and not {"gte", "lte"} & set(lookups):
                controls.append(FilterControl(name, label, kind, params.get(name, "")))
            for lookup, suffix in (("gte", "≥"), ("lte", "≤")):
                if lookup in lookups:
                    param = f"{name}__{lookup}"
                    controls.append(FilterControl(param, f"{label} {suffix}", kind, params.get(param, "")))
        elif "icontains" in lookups:
            param = f"{name}__icontains"
            controls.append(FilterControl(param, label, "text", params.get(param, "")))
        elif "exact" in lookups:
            controls.append(FilterControl(name, label, "text", params.get(name, "")))
    for definition in definitions:
        if not definition.filterable:
            continue
        if definition.field_type == "choice":
            param = f"cf_{definition.key}"
            options = [(str(c), str(c)) for c in definition.choices]
            controls.append(FilterControl(param, definition.label, "select", params.get(param, ""), options))
        elif definition.field_type in ("text", "multichoice"):
            param = f"cf_{definition.key}__icontains"
            controls.append(FilterControl(param, definition.label, "text", params.get(param, "")))
    return controls


def _picker_control(resource: Resource, user: Any, params: QueryDict, name: str) -> FilterControl:
    """A filter that picks a record without being a column of the list's model (``group=``), or a
    person (``known_by=``: named to everyone, as owners are; ``me`` kept as 我)."""
    path, label = resource.filterset.pickers[name]
    model = resource_at(path).model
    if model is get_user_model():
        widget = RecordPicker(path, model.objects.all(), words={"me": _("Me")})
    else:
        widget = RecordPicker(path, restricted(model, user, Action.VIEW))
    html = widget.render(name, params.get(name, ""), {"id": f"filter-{name}"})
    return FilterControl(name, str(label), "picker", params.get(name, ""), html=html)


def _tag_controls(user: Any, params: QueryDict, *, without: bool) -> list[FilterControl]:
    """The tag filter, and 不含标签 (``tag__not``) when the list has it: selects of the shared
    vocabulary (read once), or a name to type when it is long."""
    names = list(
        Tag.objects.restrict(user, Action.VIEW)
        .order_by("name")
        .values_list("name", flat=True)[: MAX_SELECT_OPTIONS + 1]
    )
    options: list[tuple[str, str]] = []
    for name in names:  # by name: a scope's tags are together, "意向: any" first (core.tags)
        scope = scope_of(name)
        if scope is not None and (not options or scope_of(options[-1][0]) != scope):
            options.append((f"{scope}{SEPARATOR}{ANY}", _("%(scope)s: any") % {"scope": scope}))
        options.append((name, name))
    wanted = [("tag", _("Tag"))] + ([("tag__not", _("Without tag"))] if without else [])
    if len(names) > MAX_SELECT_OPTIONS:
        return [FilterControl(param, label, "text", params.get(param, "")) for param, label in wanted]
    return [FilterControl(param, label, "select", params.get(param, ""), options) for param, label in wanted]


def _relation_options(db_field: models.Field, user: Any) -> list[tuple[str, str]] | None:
    qs = related_queryset(db_field, user)
    if db_field.related_model is ContentType:
        return [(str(ct.pk), display.content_type_label(ct)) for ct in qs]
    rows = list(qs[: MAX_SELECT_OPTIONS + 1])
    if len(rows) > MAX_SELECT_OPTIONS:
        return None
    return [(str(row.pk), str(row)) for row in rows]


def export_url(resource: Resource, user: Any) -> str | None:
    """Where the list's Export menu posts, for users who may export these records."""
    from django.urls import reverse

    from guanxi.core.views.exports import may_export

    return reverse("ui:export", args=[resource.path]) if may_export(resource, user) else None


def _saved_query(params: QueryDict) -> str:
    """What "save this view" stores: filters, search and sort (not the page, nor the columns)."""
    query = params.copy()
    for key in ("cursor", "view", "columns"):
        query.pop(key, None)
    return query.urlencode()


def rows_html(
    rows: list[dict[str, Any]],
    columns: list[display.Column],
    *,
    selectable: bool,
    star: Callable[[dict[str, Any]], str] | None = None,
) -> None:
    """Each row's cells as HTML (``row["html"]``): the first links to the record, and a checkbox for
    bulk actions comes first when there are any. Built here, not in the template: a page holds
    some 500 cells, and rendering them one template node at a time took about 10 ms (contacts, 50
    rows); plain f-strings, not ``format_html``, halve what is left. Every value goes through
    ``display.escaped``, which escapes what is not marked safe.

    Each cell carries its column's label and empty ones say so: on a phone the table reads as one
    card per row, "label value" a line, without the empty lines (guanxi.css). ``star``: the 关注
    star after the record's name (a followable list), ``star(row)`` its HTML."""
    select = conditional_escape(_("Select"))
    labels = [conditional_escape(capfirst(c.label)) for c in columns[1:]]
    escape = display.escaped
    for row in rows:
        parts = []
        if selectable:
            parts.append(
                '<td><label class="gx-tick"><input class="form-check-input m-0 align-middle" type="checkbox" name="pk" '
                f'value="{escape(row["pk"])}" form="bulk-form" aria-label="{select} {escape(row["obj"])}"></label></td>'
            )
        cells = row["cells"]
        if cells:
            link = f'<a href="{escape(row["url"])}" class="fw-medium">{escape(cells[0])}</a>'
            parts.append(f'<td class="gx-first-cell">{link}{star(row) if star else ""}</td>')
            parts.extend(
                f'<td class="gx-empty-cell" data-label="{label}">{cell}</td>'
                if cell is display.EMPTY
                else f'<td data-label="{label}">{escape(cell)}</td>'
                for label, cell in zip(labels, cells[1:], strict=True)
            )
        row["html"] = mark_safe("".join(parts))  # noqa: S308 - every value above is escaped


class ObjectListView(ResourceView):
    """``GET /<area>/<path>/``: the records the user may see, one keyset page at a time."""

    template_suffix = "list"
    partial_template = "generic/partials/list_results.html"
    #: Fields whose cell a list writes its own way, ``name -> cell(value, link)`` (contacts: the main
    #: email or phone and how many more, instead of the whole list).
    cell_formats: ClassVar[dict[str, Callable[[Any, bool], Any]]] = {}
    #: Whether a row's record name reads relations of the record (a share names its user): the page
    #: then joins all of the resource's ``select_related`` (its record page's and the API's), not
    #: only the relations its columns show. A list whose records are named by a field of their own
    #: says False: each joined row is one more model built a row (a contact's manager, team and
    #: creator: about 2.4 ms a page of 50).
    name_reads_relations: ClassVar[bool] = True

    def get(self, request: HttpRequest) -> HttpResponse:
        resource = self.resource
        user = request.user
        if not may_reach(user, resource.model, Action.VIEW):
            raise PermissionDenied()
        saved_views = list(
            SavedView.objects.filter(object_type=resource.object_type)
            .filter(Q(user_id=user.pk) | Q(shared=True))
            .select_related("user")
        )
        active_view = next((v for v in saved_views if str(v.pk) == request.GET.get("view")), None)
        params = self.effective_params(request.GET, active_view)
        hidden = hidden_fields(user, resource.model)
        definitions = definitions_for(resource.model) if resource.custom_fields else []
        masked = masked_fields(user, resource.model)
        columns_available = display.available_columns(resource, hidden, definitions, masked)
        columns = self.chosen_columns(params, active_view, columns_available)

        errors: list[str] = []
        page, ordering = self.fetch_page(params, columns, errors)
        actions = bulk_actions(resource, user, in_pool=resource.shows_pool(params))
        rows = self.rows(page.items, columns)
        rows_html(rows, columns, selectable=bool(actions), star=follow_stars(resource, user, rows))
        filters = filter_controls(resource, user, params, definitions)
        # Links keep the request's own parameters (and the saved view), less any that were refused.
        link_params = request.GET.copy()
        for key in list(link_params):
            if key != "view" and key not in params:
                link_params.pop(key)
        scopes = scope_links(resource, user, params, link_params)
        sort_choices = self.sort_choices(link_params, columns, ordering)
        scoped = ("owner", "team") if scopes else ()
        context = {
            **self.base_context(),
            "params": params,
            "view_query": _saved_query(params),
            "columns": columns,
            "columns_available": columns_available,
            "column_names": [c.name for c in columns],
            "rows": rows,
            "ordering": ordering,
            "headers": self.headers(link_params, columns, ordering),
            "sort_choices": sort_choices,
            "sort_label": next((choice["label"] for choice in sort_choices if choice["active"]), ""),
            "next_url": _query(link_params, cursor=page.next_cursor) if page.next_cursor else None,
            "first_url": _query(link_params, cursor=None) if params.get("cursor") else None,
            "filter_errors": errors,
            "filters": filters,
            "scope_links": scopes,
            # The phone's menu is named after the link in use (none: a custom owner from a link).
            "scope_label": next((link["label"] for link in scopes if link["active"]), _("Whose records")),
            # The filter inputs start folded, so the rows come first; a list that is filtered shows
            # them (not for the owner or team a scope link set: the link says so).
            "filters_active": sum(1 for c in filters if c.value),
            "filters_open": bool(errors) or any(c.value for c in filters if c.param not in scoped),
            # The bulk "add / remove tags" input suggests the vocabulary the tag filter already read.
            "tag_names": next((c.options for c in filters if c.param == "tag" and c.kind == "select"), []),
            "search_enabled": bool(resource.filterset.search_fields),
            "search": params.get("search", ""),
            "saved_views": saved_views,
            "active_view": active_view,
            "bulk_actions": actions,
            "export_url": export_url(resource, user),
            "export_cards": resource.cards is not None,
            "bulk_url": resource_url(resource, "bulk"),
            "results_id": RESULTS_ID,
            "list_path": request.path,
            "has_filters": any(
                k not in ("columns", "view", "cursor", "limit", "ordering") and v for k, v in params.items()
            ),
        }
        htmx = getattr(request, "htmx", None)  # django_htmx's HtmxDetails
        if htmx and htmx.target == RESULTS_ID and not htmx.history_restore_request:
            response = render(request, self.partial_template, context)
            # The address bar shows the list as a link someone can share: no empty filter inputs.
            clean = QueryDict(mutable=True)
            for key, values in link_params.lists():
                kept = [v for v in values if v != ""]
                if kept:
                    clean.setlist(key, kept)
            response["HX-Push-Url"] = f"{request.path}?{clean.urlencode()}" if clean else request.path
        else:
            response = render(request, self.template_names(), context)
        patch_vary_headers(response, ["HX-Request", "HX-Target"])
        return response

    # --- parts -----------------------------------------------------------------------------------
    @staticmethod
    def effective_params(get: QueryDict, active_view: SavedView | None) -> QueryDict:
        """The saved view's query, overridden by whatever the request says (paging, sort, filters)."""
        params = QueryDict(active_view.query, mutable=True) if active_view else QueryDict(mutable=True)
        for key in get:
            if key != "view":
                params.setlist(key, get.getlist(key))
        if "columns" in params:
            names = [n for value in params.getlist("columns") for n in value.split(",") if n]
            params.setlist("columns", [",".join(names)])
        return params

    def chosen_columns(
        self, params: QueryDict, active_view: SavedView | None, available: list[display.Column]
    ) -> list[display.Column]:
        """``columns`` from the query, else the saved view's, else the resource's default columns."""
        by_name = {c.name: c for c in available}
        requested = [n for n in (params.get("columns") or "").split(",") if n]
        if not requested and active_view is not None:
            requested = [str(n) for n in active_view.columns]
        if not requested and self.resource.pool is not None and self.resource.shows_pool(params):
            requested = list(self.resource.pool.columns)
        if not requested:
            requested = list(self.resource.list_columns)
        chosen = [by_name[n] for n in requested if n in by_name]
        return chosen or available[:DEFAULT_COLUMN_COUNT]

    def fetch_page(self, params: QueryDict, columns: list[display.Column], errors: list[str]) -> tuple[Any, str]:
        """Filter, sort, restrict and page; a bad parameter is dropped with a message and the page shown
        without it. Filtered before restricted: the page is found with the list as it would be
        without the restriction (``page_keys``'s candidates), never shown."""
        resource = self.resource
        base = resource.model._default_manager.all()
        related = {c.name for c in columns if c.is_relation}
        if self.name_reads_relations:
            related.update(resource.select_related)
        if related:
            base = base.select_related(*sorted(related))
        for _attempt in range(4):
            try:
                filterset = resource.filterset(params, self.request.user, strict=False)
                candidates, ordering = filterset.apply(base)
                qs = restrict_queryset(candidates, self.request.user, Action.VIEW)
                limit = parse_limit(params.get("limit"), DEFAULT_LIMIT)
                return paginate(qs, ordering, params.get("cursor") or None, limit, candidates), ordering
            except FieldErrors as exc:
                dropped = False
                for key, messages_ in exc.errors.items():
                    errors.extend(f"{self.param_label(key)}: {m}" for m in messages_)
                    if key in params:
                        params.pop(key)
                        dropped = True
                if not dropped:  # the error names no single parameter: start from no filters at all
                    for key in list(params):
                        if key not in ("columns",):
                            params.pop(key)
        from guanxi.core.pagination import Page

        return Page(items=[], next_cursor=None), resource.filterset.default_ordering

    def param_label(self, param: str) -> str:
        name = param.split("__")[0]
        if name == "ordering":
            return _("Sort")
        if name == "cursor":
            return _("Page")
        if name == "limit":
            return _("Rows per page")
        if name.startswith("cf_"):
            return name[3:]
        return display.field_label(self.model, name)

    def rows(self, items: list[models.Model], columns: list[display.Column]) -> list[dict[str, Any]]:
        resource = self.resource
        tags: dict[Any, list[str]] = {}
        if any(c.kind == "tags" for c in columns):
            tags = tag_names_for(resource.model, [o.pk for o in items])
        users: dict[Any, Any] = {}
        user_keys = [
            c.definition.key for c in columns if c.definition is not None and c.definition.field_type == "user"
        ]
        if user_keys:
            ids = {(getattr(o, "custom_fields", None) or {}).get(k) for o in items for k in user_keys}
            users = display.users_by_id({i for i in ids if i is not None})
        computed = {
            c.name: c.computed.values(items, self.request.user) for c in columns if c.computed is not None and items
        }
        formats = [self.cell_formats.get(c.name) if c.kind == "field" else None for c in columns]
        # How each field column reads, worked out once for the page's cells (the first cell links to
        # the record, so it must not hold a link of its own).
        fields = {
            index: display.field_cell(resource.model, c.name, link=index > 0)
            for index, c in enumerate(columns)
            if c.kind == "field"
        }
        unseen = unseen_references(
            self.request.user, resource.model, [c.name for c in columns if c.kind == "field"], items
        )
        unseen_cell = display.unseen_value() if unseen else None
        this_year = timezone.localtime().year
        rows = []
        for obj in items:
            cells: list[Any] = []
            for index, column in enumerate(columns):
                if (cell_format := formats[index]) is not None:
                    cells.append(cell_format(getattr(obj, column.name), index > 0))
                elif column.kind == "masked":
                    cells.append(display.masked_cell(getattr(obj, column.name, None)))
                elif column.kind == "tags":
                    cells.append(display.tag_badges(tags.get(obj.pk)))
                elif column.kind == "cf":
                    value = (getattr(obj, "custom_fields", None) or {}).get(column.name[3:])
                    cells.append(display.custom_value(column.definition, value, users))
                elif column.kind == "computed":
                    text, url = computed[column.name].get(obj.pk, ("", ""))
                    cells.append(display.computed_value(text, url, link=index > 0))
                elif column.name in unseen and getattr(obj, f"{column.name}_id", None) in unseen[column.name]:
                    cells.append(unseen_cell)
                elif isinstance(value := getattr(obj, column.name, None), datetime.datetime):
                    cells.append(display.list_datetime(value, this_year))
                else:
                    cells.append(fields[index](obj))
            if cells and cells[0] is display.EMPTY:
                cells[0] = str(obj)
            rows.append({"pk": obj.pk, "obj": obj, "url": resource_url(resource, "detail", obj.pk), "cells": cells})
        return rows

    @staticmethod
    def headers(params: QueryDict, columns: list[display.Column], ordering: str) -> list[dict[str, Any]]:
        """Column headers; sortable ones link to the same list sorted by them (again: the other way)."""
        current = ordering.lstrip("-")
        descending = ordering.startswith("-")
        headers = []
        for column in columns:
            header: dict[str, Any] = {"column": column, "url": None, "direction": ""}
            if column.sortable:
                if column.name == current:
                    target = column.name if descending else f"-{column.name}"
                    header["direction"] = "desc" if descending else "asc"
                else:
                    target = column.name
                header["url"] = _query(params, ordering=target, cursor=None)
            headers.append(header)
        return headers

    @staticmethod
    def sort_choices(params: QueryDict, columns: list[display.Column], ordering: str) -> list[dict[str, Any]]:
        """The sorts a phone offers in a menu, where the table's headers are hidden: each sortable
        column shown, either way (the same links as the headers)."""
        choices = []
        for column in columns:
            if not column.sortable:
                continue
            for target, text in (
                (column.name, _("%(column)s, ascending")),
                (f"-{column.name}", _("%(column)s, descending")),
            ):
                choices.append(
                    {
                        "label": text % {"column": capfirst(column.label)},
                        "url": _query(params, ordering=target, cursor=None),
                        "active": target == ordering,
                    }
                )
        return choices
