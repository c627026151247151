"""Identity screens beyond the generic pages: role permission matrix, user form, API tokens, shares.

Users, teams and roles otherwise use the generic list/detail/edit views; the classes here replace
single pages through ``register_view`` and add their own URLs in ``ui_urlpatterns``.
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib import messages
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views import View

from guanxi.core import bulk
from guanxi.core.choices import Action, Scope
from guanxi.core.errors import FieldErrors, PreconditionFailed
from guanxi.core.forms import RecordForm
from guanxi.core.models import Job
from guanxi.core.permissions import scope_for
from guanxi.core.registry import resource_at
from guanxi.core.views.base import (
    GuanxiViewMixin,
    ResourceView,
    may,
    record_url_by_type,
    register_delete_verb,
    register_view,
    resource_url,
    safe_next,
    visible_or_404,
)
from guanxi.core.views.records import ObjectDeleteView, ObjectDetailView, ObjectEditView, stale_message
from guanxi.identity import services
from guanxi.identity.forms_admin import HandoverForm, RolePermissionsForm, ShareForm, TokenCreateForm
from guanxi.identity.handover import (
    handover,
    handover_counts,
    handover_source,
    left_to_a_person,
    may_hand_over,
    recipient_names,
)
from guanxi.identity.models import ApiToken, Role, Share, User

register_delete_verb("users", gettext_lazy("Deactivate"))


# --- users -----------------------------------------------------------------------------------------


@register_view("users", "add")
@register_view("users", "edit")
class UserEditView(ObjectEditView):
    """The generic form, plus an optional password when adding someone (see forms_admin tweaks)."""

    def save(self, form: RecordForm, obj: models.Model | None) -> models.Model:
        if obj is None:
            return services.user_create(
                user=self.request.user,
                data=form.service_data(),
                password=form.cleaned_data.get("password") or None,
            )
        return super().save(form, obj)


@register_view("users", "detail")
class UserDetailView(ObjectDetailView):
    """The generic page, with 交接客户 (hand over records) for whoever may change and assign records."""

    def get_context(self, obj: models.Model) -> dict[str, Any]:
        context = super().get_context(obj)
        if may_hand_over(self.request.user):
            context["handover_url"] = reverse("ui:users-handover", args=[obj.pk])
        return context


def _still_owned(user: Any, source: Any) -> tuple[int, str]:
    """How many records ``source`` still owns that ``user`` may see, and the handover page if the
    user may hand them over ("" otherwise)."""
    owned = sum(count for _resource, count in handover_counts(user=user, source=source))
    url = reverse("ui:users-handover", args=[source.pk]) if owned and may_hand_over(user) else ""
    return owned, url


@register_view("users", "delete")
class UserDeleteView(ObjectDeleteView):
    """Users are deactivated, never deleted: their records and history point at them. Records they
    still own are no reason to refuse: the page points to the handover, before or after."""

    def context(self, obj: models.Model, error: str = "") -> dict[str, Any]:
        owned, url = _still_owned(self.request.user, obj)
        return {**super().context(obj, error), "still_owned": owned, "handover_url": url}

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        obj = self.get_object(pk)
        try:
            services.user_deactivate(pk=obj.pk, user=request.user)
        except FieldErrors as exc:
            text = " ".join(m for ms in exc.errors.values() for m in ms) or exc.detail
            return render(request, self.template_names(), self.context(obj, text), status=400)
        messages.success(request, _("“%(name)s” was deactivated and can no longer sign in.") % {"name": obj})
        owned, url = _still_owned(request.user, obj)
        if url:
            text = ngettext(
                "They still own %(count)s record: hand it over with “Hand over records”.",
                "They still own %(count)s records: hand them over with “Hand over records”.",
                owned,
            )
            messages.warning(request, text % {"count": owned})
        return redirect(resource_url(self.resource, "detail", obj.pk) or "home")


class UserHandoverView(GuanxiViewMixin, View):
    """``/settings/users/<id>/handover/`` (交接客户): how many records of each kind the user owns (of
    those the viewer may see), and the form that hands them over to one colleague or shares them out
    among several, or sends them to the pool (``identity.handover``). "Preview" shows how many each
    colleague would get and moves nothing. Small handovers are done at once; large ones go to a job's page."""

    http_method_names = ["get", "post"]

    def source(self, pk: int) -> User:
        source = handover_source(self.request.user, pk)  # a user one may not see: 404 (GuanxiViewMixin)
        if not may_hand_over(self.request.user):
            raise PermissionDenied(_("You may not assign records to other people."))
        return source

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        source = self.source(pk)
        counts = handover_counts(user=request.user, source=source)
        return self.render_page(source, counts, self.form(source, counts))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        source = self.source(pk)
        counts = handover_counts(user=request.user, source=source)
        form = self.form(source, counts, request.POST)
        if form.is_valid():
            data = form.cleaned_data
            choice: dict[str, Any] = {
                "pk": source.pk,
                "user": request.user,
                "recipients": data.get("recipients") or [],
                "to_pool": bool(data.get("to_pool")),
                "reason": data.get("reason") or "",
                "reason_id": data.get("reason_id"),
                "deactivate": bool(data.get("deactivate")),
            }
            try:
                if request.POST.get("preview"):
                    split = split_table(cast(dict[str, Any], handover(**choice, preview=True)), counts)  # never a job
                    return self.render_page(source, counts, form, split=split)
                outcome = handover(**choice)
            except FieldErrors as exc:
                _form_errors(form, exc)
            else:
                if isinstance(outcome, Job):
                    text = _("Many records: the handover runs in the background. Its progress is shown here.")
                    messages.info(request, text)
                    return redirect(reverse("ui:job-detail", args=[outcome.pk]))
                messages.success(request, handover_summary(outcome, source))
                return redirect(request.path)
        return self.render_page(source, counts, form, status=400)

    def form(self, source: User, counts: list[Any], data: Any = None) -> HandoverForm:
        user = self.request.user
        pooled = [resource for resource, count in counts if count and resource.pool is not None]
        pool = pooled[0].pool if pooled else None
        manages = scope_for(user, "identity.user", Action.CHANGE) == Scope.ALL
        return HandoverForm(
            data,
            reasons=pool.reasons(user) if pool is not None else [],
            reason_required=pool is not None and pool.reason_required(user),
            pool_records=", ".join(str(resource.label_plural) for resource in pooled),
            offer_deactivate=source.is_active and source.pk != user.pk and manages,
        )

    def render_page(
        self,
        source: User,
        counts: list[Any],
        form: HandoverForm,
        status: int = 200,
        split: dict[str, Any] | None = None,
    ) -> HttpResponse:
        users = resource_at("users")
        rows = []
        for resource, count in counts:
            list_url = resource_url(resource, "list")
            if list_url and count and "owner" in resource.filterset.filters:
                list_url += f"?owner={source.pk}"
            rows.append({"label": resource.label_plural, "count": count, "url": list_url if count else ""})
        total = sum(count for _resource, count in counts)
        pool_left = []  # with "to the pool": what still needs a colleague (not a company's people)
        if "to_pool" in form.fields:
            left = left_to_a_person(user=self.request.user, source=source, counts=counts, to_pool=True)
            pool_left = [f"{resource.label_plural} {count}" for resource, count in left if count]
        context = {
            "object": source,
            "pool_left": ", ".join(pool_left),
            "rows": rows,
            "total": total,
            "form": form,
            # Nothing to move and nobody to deactivate: the page only says so.
            "can_submit": bool(total) or "deactivate" in form.fields,
            "in_background": total > bulk.SYNC_LIMIT,
            "list_url": resource_url(users, "list"),
            "verbose_name_plural": users.label_plural,
            "back_url": resource_url(users, "detail", source.pk),
            "split": split,
        }
        return render(self.request, "identity/user_handover.html", context, status=status)


def _form_errors(form: HandoverForm, exc: FieldErrors) -> None:
    """A refused handover's errors on the form: by field, else above it."""
    for key, msgs in exc.errors.items():
        for msg in msgs:
            if key in form.fields:
                form.add_error(key, msg)
            else:  # a record a service refused ("records.<id>.<field>"): above the form
                record = key.split(".")[1] if key.startswith("records.") else ""
                form.add_error(None, f"#{record}: {msg}" if record else msg)


def split_table(split: dict[str, Any], counts: list[Any]) -> dict[str, Any]:
    """A preview (``handover(preview=True)``) as the page's table: a column per kind of record the user
    owns, a row per colleague in the order named, then the pool's."""
    kinds = [resource for resource, count in counts if count]
    names = recipient_names(split["recipients"])
    rows = [
        {
            "id": pk,
            "name": names.get(pk, f"#{pk}"),
            "counts": [got.get(resource.path, 0) for resource in kinds],
            "total": sum(got.values()),
        }
        for pk, got in split["recipients"].items()
    ]
    pool = split.get("pool") or {}
    if pool:
        cells = [pool.get(resource.path, 0) for resource in kinds]
        rows.append({"id": "pool", "name": capfirst(_("the pool")), "counts": cells, "total": sum(cells)})
    return {"kinds": [resource.label_plural for resource in kinds], "rows": rows, "skipped": split.get("skipped", 0)}


def handover_summary(outcome: dict[str, Any], source: Any) -> str:
    """A handover's result in one message: how many of each kind went, then what stayed and why."""
    parts = []
    for records_path, part in (outcome.get("resources") or {}).items():
        records = resource_at(records_path).label_plural
        if part.get("action") == "release":
            text = _("%(records)s to the pool: %(count)s.") % {"records": records, "count": part.get("changed", 0)}
        else:
            text = _("%(records)s handed over: %(count)s.") % {"records": records, "count": part.get("changed", 0)}
        parts.append(str(capfirst(text)))
    if not parts:
        parts.append(_("There was nothing to hand over."))
    got = outcome.get("recipients") or {}
    if len(got) > 1:  # shared out: how many each colleague took over, people going with their company included
        names = recipient_names(got)
        for pk, kinds in got.items():
            text = _("%(recipient)s takes over %(count)s.")
            parts.append(text % {"recipient": names.get(pk, f"#{pk}"), "count": sum(kinds.values())})
    if outcome.get("skipped"):
        parts.append(_("%(count)s skipped (you may not change them).") % {"count": outcome["skipped"]})
    if (outcome.get("handover") or {}).get("deactivated"):
        parts.append(_("“%(name)s” was deactivated and can no longer sign in.") % {"name": source})
    return " ".join(parts)


# --- roles -----------------------------------------------------------------------------------------


@register_view("roles", "detail")
class RoleDetailView(ObjectDetailView):
    """The role's fields and its permission matrix (object type x action -> scope) with field rules."""

    def get_context(self, obj: models.Model, form: RolePermissionsForm | None = None) -> dict[str, Any]:
        context = super().get_context(obj)
        assert isinstance(obj, Role)
        context["permissions_form"] = form or RolePermissionsForm(role=obj)
        context["permissions_editable"] = context["can_change"]
        context["permissions_url"] = reverse("ui:roles-permissions", args=[obj.pk])
        context["actions"] = [(a.value, a.label) for a in Action]
        return context


class RolePermissionsView(GuanxiViewMixin, View):
    """``POST /settings/roles/<id>/permissions/``: replace the role's rules (version-checked)."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        resource = resource_at("roles")
        role = visible_or_404(Role, request.user, pk, select_related=resource.select_related)
        if not may(request.user, role, Action.CHANGE):
            raise PermissionDenied()
        form = RolePermissionsForm(request.POST, role=role)
        status = 400
        if form.is_valid():
            try:
                services.role_permissions_set(
                    role_id=role.pk,
                    user=request.user,
                    permissions=form.permissions(),
                    field_rules=form.field_rules(),
                    expected_version=form.cleaned_data.get("version"),
                )
            except PreconditionFailed:
                form.add_error(None, stale_message())
                status = 409
            except FieldErrors as exc:
                for key, msgs in exc.errors.items():
                    for msg in msgs:
                        form.add_error(None, f"{key}: {msg}")
            else:
                messages.success(request, _("Saved the permissions of “%(name)s”.") % {"name": role})
                return redirect(resource_url(resource, "detail", role.pk) or "home")
        view = RoleDetailView(resource=resource)
        view.setup(request, pk=pk)
        return render(request, view.template_names(), view.get_context(role, form), status=status)


# --- API tokens ------------------------------------------------------------------------------------


@register_view("tokens", "list")
class TokenListView(ResourceView):
    """``/settings/tokens/``: the user's tokens (all, for an admin), a create form, revoke buttons."""

    def tokens(self) -> list[ApiToken]:
        return list(
            ApiToken.objects.restrict(self.request.user, Action.VIEW).select_related("user").order_by("-id")[:200]
        )

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render_page(TokenCreateForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        form = TokenCreateForm(request.POST)
        if form.is_valid():
            try:
                token, key = services.token_create(
                    user=request.user,
                    name=form.cleaned_data["name"],
                    scopes=form.cleaned_data["scopes"],
                    expires_at=form.cleaned_data.get("expires_at"),
                )
            except FieldErrors as exc:
                for name, msgs in exc.errors.items():
                    for msg in msgs:
                        form.add_error(name if name in form.fields else None, msg)
            else:
                # The key exists only in this response: it is not stored, and the page is not cached.
                response = self.render_page(TokenCreateForm(), new_token=token, new_key=key)
                response["Cache-Control"] = "no-store"
                return response
        return self.render_page(form, status=400)

    def render_page(self, form: TokenCreateForm, status: int = 200, **extra: Any) -> HttpResponse:
        context = {
            **self.base_context(),
            "tokens": self.tokens(),
            "form": form,
            "create_url": self.request.path,
            **extra,
        }
        return render(self.request, "identity/token_list.html", context, status=status)


class TokenRevokeView(GuanxiViewMixin, View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        token = services.token_revoke(pk=pk, user=request.user)
        messages.success(request, _("Revoked the token “%(name)s”.") % {"name": token.name})
        return redirect(safe_next(request, resource_url(resource_at("tokens"), "list") or "home"))


# --- shares ----------------------------------------------------------------------------------------


class ShareAddView(GuanxiViewMixin, View):
    """``POST /records/<ct>/<id>/shares/`` from a record's page: share it with a user or a team.

    ``GET`` is the form: the record page fetches it when "Share with…" is opened (htmx), or shows it
    on a page of its own without JavaScript; most views of a record share nothing. (It listed every
    active user in a select then: at 1,000 users that doubled an account page's time.)"""

    http_method_names = ["get", "post"]

    def get(self, request: HttpRequest, content_type_id: int, object_id: int) -> HttpResponse:
        from guanxi.core.registry import registered_models

        ct = ContentType.objects.filter(pk=content_type_id).first()
        model = ct.model_class() if ct is not None else None
        if model is None or model not in registered_models() or not getattr(model, "shareable", False):
            raise Http404()
        obj = visible_or_404(model, request.user, object_id)
        if not may(request.user, obj, Action.CHANGE):
            raise PermissionDenied(_("You may share only records you may change."))
        context = {"share_form": ShareForm(), "content_type": ct, "object": obj}
        if getattr(request, "htmx", None):
            return render(request, "generic/panels/share_form.html", context)
        back_url = record_url_by_type(ct, obj.pk) or "/"
        return render(request, "generic/share_form_page.html", {**context, "back_url": back_url})

    def post(self, request: HttpRequest, content_type_id: int, object_id: int) -> HttpResponse:
        ct = ContentType.objects.filter(pk=content_type_id).first()
        if ct is None:
            raise Http404()
        back = safe_next(request, record_url_by_type(ct, object_id) or "/")
        form = ShareForm(request.POST)
        if not form.is_valid():
            for text in (str(m) for msgs in form.errors.values() for m in msgs):
                messages.error(request, text)
            return redirect(back)
        user = form.cleaned_data.get("user")
        team = form.cleaned_data.get("team")
        try:
            services.share_create(
                user=request.user,
                data={
                    "content_type_id": ct.pk,
                    "object_id": object_id,
                    "user_id": user.pk if user else None,
                    "team_id": team.pk if team else None,
                    "access": form.cleaned_data["access"],
                },
            )
        except FieldErrors as exc:
            for text in (m for msgs in exc.errors.values() for m in msgs):
                messages.error(request, text)
        else:
            messages.success(request, _("Shared with %(who)s.") % {"who": user or team})
        return redirect(back)


class ShareRemoveView(GuanxiViewMixin, View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        share = Share.objects.restrict(request.user, Action.VIEW).select_related("content_type").filter(pk=pk).first()
        if share is None:
            raise Http404()
        back = safe_next(request, record_url_by_type(share.content_type, share.object_id) or "/")
        services.share_delete(pk=pk, user=request.user)
        messages.success(request, _("The share was removed."))
        return redirect(back)


ui_urlpatterns = [
    path("settings/users/<int:pk>/handover/", UserHandoverView.as_view(), name="users-handover"),
    path("settings/roles/<int:pk>/permissions/", RolePermissionsView.as_view(), name="roles-permissions"),
    path("settings/tokens/<int:pk>/revoke/", TokenRevokeView.as_view(), name="tokens-revoke"),
    path("records/<int:content_type_id>/<int:object_id>/shares/", ShareAddView.as_view(), name="share-add"),
    path("settings/shares/<int:pk>/remove/", ShareRemoveView.as_view(), name="share-remove"),
]
