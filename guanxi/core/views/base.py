"""Plumbing shared by the generic views: resource URLs, per-resource view overrides, error mapping."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.contrib.auth.mixins import LoginRequiredMixin
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language
from django.views import View

from guanxi.core.choices import Action
from guanxi.core.errors import GuanxiError, NotFound
from guanxi.core.errors import PermissionDenied as ServicePermissionDenied
from guanxi.core.permissions import restricted
from guanxi.core.registry import Resource, resource_for, resources

V = TypeVar("V", bound=type[View])

#: The pages every UI resource gets; a module may replace any of them for one resource.
PAGE_ACTIONS = ("list", "detail", "add", "edit", "delete", "bulk")

_overrides: dict[tuple[str, str], type[View]] = {}
#: What "delete" is called for a resource whose delete service does something else (users: deactivate).
_delete_verbs: dict[str, Any] = {}


def register_view(path: str, action: str) -> Callable[[V], V]:
    """Use this view class instead of the generic one for ``action`` of the resource at ``path``."""
    if action not in PAGE_ACTIONS:
        raise ValueError(f"unknown page action {action!r}; use one of {PAGE_ACTIONS}")

    def decorator(view_class: V) -> V:
        _overrides[(path, action)] = view_class
        return view_class

    return decorator


def register_delete_verb(path: str, verb: Any) -> None:
    _delete_verbs[path] = verb


def has_custom_delete_verb(path: str) -> bool:
    return path in _delete_verbs


def delete_verb(path: str) -> Any:
    from django.utils.translation import gettext as _

    return _delete_verbs.get(path) or _("Delete")


def view_class_for(path: str, action: str, default: type[View]) -> type[View]:
    return _overrides.get((path, action), default)


def ui_resources() -> list[Resource]:
    return [r for r in resources() if r.ui]


def ui_resource_or_404(path: str) -> Resource:
    """The resource a UI address names (``/follow/<path>/…``, ``/export/<path>/``), or 404."""
    resource = next((r for r in ui_resources() if r.path == path), None)
    if resource is None:
        raise Http404()
    return resource


def ui_prefix(resource: Resource) -> str:
    """Where a resource's pages live: ``settings/users/``, ``sales/opportunities/``, or ``<path>/``."""
    return f"{resource.nav_group}/{resource.path}/" if resource.nav_group else f"{resource.path}/"


def resource_url(resource: Resource, action: str, pk: Any = None) -> str | None:
    name = f"ui:{resource.path}-{action}"
    return _reverse(name, []) if pk is None else reverse_pk(name, pk)


def reverse_pk(name: str, pk: Any, *args: str) -> str | None:
    """``reverse(name, args=[*args, pk])`` (None: no such page), from one reversed URL per page
    kind when ``pk`` is an id (``_pk_url``)."""
    if type(pk) is int and pk >= 0:
        return _pk_url(name, pk, args)
    return _reverse(name, [*args, pk])


def _reverse(name: str, args: list[Any]) -> str | None:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


#: ``reverse`` costs about 40 µs, and a list page asks for a URL on every row (the record's own, its
#: owner's, its team's, its 关注 star's: some 180 a page). A record's URL is reversed once with a
#: stand-in id, and the id is put in its place. Kept per script prefix, URL configuration and
#: language, as ``reverse``'s answer depends on them. ``None``: no such page; ``()``: the URL does
#: not show the id once as it is, so it is reversed each time.
_STAND_IN = 987654321
_pk_urls: dict[tuple[Any, ...], tuple[str, str] | tuple[()] | None] = {}


def _pk_url(name: str, pk: int, args: tuple[str, ...] = ()) -> str | None:
    """``reverse(name, args=[*args, pk])`` for a non-negative integer ``pk``."""
    key = (name, args, get_script_prefix(), get_urlconf(), get_language())
    if key not in _pk_urls:
        url = _reverse(name, [*args, _STAND_IN])
        head, found, tail = (url or "").partition(str(_STAND_IN))
        _pk_urls[key] = None if url is None else (head, tail) if found and str(_STAND_IN) not in tail else ()
    parts = _pk_urls[key]
    if parts is None:
        return None
    if not parts:
        return _reverse(name, [*args, pk])
    before, after = parts
    return f"{before}{pk}{after}"


def record_url(obj: models.Model | None) -> str | None:
    """The detail page of any record that has one (no database query)."""
    if obj is None or obj.pk is None:
        return None
    resource = resource_for(type(obj))
    if resource is None or not resource.ui:
        return None
    return resource_url(resource, "detail", obj.pk)


def record_url_by_type(content_type: ContentType | None, object_id: Any) -> str | None:
    model = content_type.model_class() if content_type is not None else None
    resource = resource_for(model) if model is not None else None
    if resource is None or not resource.ui:
        return None
    return resource_url(resource, "detail", object_id)


def safe_next(request: HttpRequest, fallback: str) -> str:
    """A same-site URL from ``next`` (POST or GET), else ``fallback``: never an open redirect."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return target
    return fallback


def visible_or_404(model: type[models.Model], user: Any, pk: Any, *, select_related: tuple[str, ...] = ()) -> Any:
    """A record the user may view, or 404: a record they cannot see must not be told apart from none."""
    qs = restricted(model, user, Action.VIEW)
    if select_related:
        qs = qs.select_related(*select_related)
    obj = qs.filter(pk=pk).first()
    if obj is None:
        raise Http404()
    return obj


def may(user: Any, obj: models.Model, action: str) -> bool:
    """May the user do ``action`` on this one record? (buttons; services re-check on write)."""
    return restricted(type(obj), user, action).filter(pk=obj.pk).exists()


class GuanxiViewMixin(LoginRequiredMixin):
    """Sign-in required; service errors become the right page (404 stays 404, 403 says no)."""

    request: HttpRequest

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return super().dispatch(request, *args, **kwargs)  # type: ignore[return-value]
        except NotFound:
            raise Http404() from None
        except ServicePermissionDenied as exc:
            raise DjangoPermissionDenied(exc.detail) from None
        except GuanxiError as exc:
            # A service refused outside a form (e.g. a button post): tell the user and go back.
            from django.contrib import messages
            from django.shortcuts import redirect

            messages.error(request, _error_text(exc))
            return redirect(safe_next(request, request.path))


def _error_text(exc: GuanxiError) -> str:
    parts = [msg for messages_ in exc.errors.values() for msg in messages_]
    return " ".join(parts) if parts else exc.detail


class ResourceView(GuanxiViewMixin, View):
    """A page of one resource; ``resource`` is given by the URL conf (``as_view(resource=...)``)."""

    resource: Resource = None  # type: ignore[assignment]
    template_suffix = ""

    @property
    def model(self) -> type[models.Model]:
        return self.resource.model

    def template_names(self, suffix: str | None = None) -> list[str]:
        """``<app>/<model>_<suffix>.html`` wins over ``generic/object_<suffix>.html``."""
        suffix = suffix or self.template_suffix
        meta = self.model._meta
        return [f"{meta.app_label}/{meta.model_name}_{suffix}.html", f"generic/object_{suffix}.html"]

    def base_context(self) -> dict[str, Any]:
        from guanxi.core.permissions import can

        resource = self.resource
        user = self.request.user
        return {
            "resource": resource,
            "verbose_name": resource.label,
            "verbose_name_plural": resource.label_plural,
            "list_url": resource_url(resource, "list"),
            "add_url": None
            if resource.read_only or not can(user, resource.model, Action.ADD)
            else resource_url(resource, "add"),
        }
