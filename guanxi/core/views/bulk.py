"""``POST /<path>/bulk/``: delete, edit a field, add or remove tags, change owner, assign by rules,
claim from or release to the customer pool, and follow or stop following, on the selected records.

Every record is fetched again through ``restrict`` for the action, and all writes of one bulk action
run in one transaction: either every selected record changes, or none does.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from guanxi.core.bulk import BulkPlan, acting_on, bulk_apply_ids
from guanxi.core.errors import FieldErrors, GuanxiError, PreconditionFailed
from guanxi.core.forms import RecordForm, custom_json, parse_tags, record_form_class
from guanxi.core.list_cells import QuoteError
from guanxi.core.views.base import ResourceView, delete_verb, has_custom_delete_verb, resource_url, safe_next
from guanxi.core.views.lists import bulk_actions
from guanxi.core.views.recycle_bin import UNDO_KEY, offer_undo

#: Most records one bulk action touches (each is a service call with its own audit row).
MAX_BULK = 500
APPLY = "_apply"


class BulkActionView(ResourceView):
    """Bulk actions from the list's selection bar."""

    template_suffix = "bulk"
    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        action = request.POST.get("action", "")
        allowed = dict(bulk_actions(self.resource, request.user))
        back = safe_next(request, resource_url(self.resource, "list") or "/")
        if action not in allowed:
            messages.error(request, _("Pick a bulk action."))
            return redirect(back)
        if request.POST.get("select_all") == "matching":
            return self.do_matching(action, back)
        pks = [pk for pk in request.POST.getlist("pk") if pk.isdigit()][:MAX_BULK]
        objects = list(acting_on(self.model, request.user, action).filter(pk__in=pks))
        if not objects:
            messages.error(request, _("Select at least one record you may change."))
            return redirect(back)
        skipped = len(set(pks)) - len(objects)
        if skipped:
            messages.warning(
                request,
                ngettext(
                    "%(count)d selected record cannot be changed by you and was left out.",
                    "%(count)d selected records cannot be changed by you and were left out.",
                    skipped,
                )
                % {"count": skipped},
            )
        handler = getattr(self, f"do_{action}")
        return handler(objects, back)

    def context(self, objects: list[models.Model], action: str, back: str, **extra: Any) -> dict[str, Any]:
        return {
            **self.base_context(),
            "objects": objects,
            "action": action,
            "next": back,
            "verb": delete_verb(self.resource.path),
            **extra,
        }

    def done(self, count: int, back: str) -> HttpResponse:
        messages.success(
            self.request,
            ngettext("%(count)d record was updated.", "%(count)d records were updated.", count) % {"count": count},
        )
        return redirect(back)

    def failed(self, exc: GuanxiError, back: str) -> HttpResponse:
        if isinstance(exc, PreconditionFailed):
            text = _("A selected record was changed by someone else meanwhile; nothing was changed. Try again.")
        else:
            parts = [f"{k}: {m}" for k, ms in exc.errors.items() for m in ms]
            text = _("Nothing was changed: %(reason)s") % {"reason": " ".join(parts) or exc.detail}
        messages.error(self.request, text)
        return redirect(back)

    # --- actions ---------------------------------------------------------------------------------
    def do_delete(self, objects: list[models.Model], back: str) -> HttpResponse:
        if self.request.POST.get("confirm") != "yes":
            return render(self.request, self.template_names("bulk_delete"), self.context(objects, "delete", back))
        plan = BulkPlan(resource=self.resource, action="delete")
        started = timezone.now()
        try:  # all or nothing, as the API's: through the resource's set-based delete where it has one
            count = bulk_apply_ids(plan, self.request.user, [obj.pk for obj in objects], all_or_nothing=True)["changed"]
        except GuanxiError as exc:
            return self.failed(exc, back)
        if has_custom_delete_verb(self.resource.path):
            text = ngettext("%(verb)s: %(count)d record done.", "%(verb)s: %(count)d records done.", count)
            messages.success(self.request, text % {"verb": delete_verb(self.resource.path), "count": count})
            return redirect(back)
        if self.resource.soft_delete:
            text = ngettext(
                "%(count)d record was moved to the recycle bin.",
                "%(count)d records were moved to the recycle bin.",
                count,
            )
            # 撤销 in the message brings exactly these back (``views.recycle_bin.RecycleUndoView``).
            offer_undo(self.request, self.resource, [obj.pk for obj in objects], since=started)
            messages.success(self.request, text % {"count": count}, extra_tags="gx-undo")
            return redirect(back)
        text = ngettext("%(count)d record was deleted.", "%(count)d records were deleted.", count)
        messages.success(self.request, text % {"count": count})
        return redirect(back)

    def edit_form(self, data: Any = None) -> RecordForm:
        """All writable fields, none required; only those ticked under "change" are applied.

        The custom fields come as on the record's form (``cf_<key>``, the same widgets), unless the
        role's rule on "custom_fields" hides them (the form adds none) or makes them read-only: a
        disabled input with a tick would offer a change the service refuses (``_check_custom``)."""
        ticked = set(data.getlist(APPLY)) if data else None
        fields = [f for f in self.resource.write_fields if ticked is None or f in ticked]
        form_class = record_form_class(self.resource, self.request.user, fields=fields)
        form = form_class(data, resource=self.resource, user=self.request.user)
        for name in ("tags", "version"):
            form.fields.pop(name, None)
        for name in [n for n in form.fields if n.startswith("cf_")]:
            if form.fields[name].disabled or (ticked is not None and name not in ticked):
                form.fields.pop(name)
        for name, form_field in form.fields.items():
            if data is None:
                form_field.required = False
            form_field.apply_name = name  # type: ignore[attr-defined]
        return form

    def edit_page(self, objects: list[models.Model], back: str, *, untouched: bool, status: int = 200) -> HttpResponse:
        """The bulk edit form, empty; ``untouched``: saying that no field was ticked."""
        form = self.edit_form()
        if untouched:
            form.cleaned_data = {}  # an unbound form has none, and ``add_error`` reads it (a 500 before)
            form.add_error(None, _("Tick “change” next to the field you want to set."))
        context = self.context(objects, "edit", back, form=form)
        return render(self.request, self.template_names("bulk_edit"), context, status=status)

    def do_edit(self, objects: list[models.Model], back: str) -> HttpResponse:
        post = self.request.POST
        if post.get("step") != "apply" or not post.getlist(APPLY):
            return self.edit_page(objects, back, untouched=post.get("step") == "apply")
        form = self.edit_form(post)
        if form.is_valid():
            data, custom = self.edit_values(form)
            if not data and not custom:  # ticks of inputs not offered (a field the role keeps from them)
                return self.edit_page(objects, back, untouched=True, status=400)
            # One plan for both: a set-based hook writes the fields and the custom fields at once.
            plan = BulkPlan(resource=self.resource, action="update", data=data, custom_fields=custom or None)
            pks = [obj.pk for obj in objects]
            try:  # all or nothing, as the API's: through the resource's set-based edit where it has one
                result = bulk_apply_ids(plan, self.request.user, pks, all_or_nothing=True)
            except FieldErrors as exc:
                form.add_service_errors(_on_the_form(exc.errors))
            except GuanxiError as exc:
                return self.failed(exc, back)
            else:
                return self.done(result["changed"], back)
        return render(
            self.request,
            self.template_names("bulk_edit"),
            self.context(objects, "edit", back, form=form, applied=post.getlist(APPLY)),
            status=400,
        )

    def edit_values(self, form: RecordForm) -> tuple[dict[str, Any], dict[str, Any]]:
        """The ticked inputs as the update service takes them: model attributes (foreign keys as
        ``<name>_id``, an emptied text as ""), and custom fields by key, an emptied one None, which
        the service clears (``custom_fields._merged``) while keeping the record's other keys."""
        data: dict[str, Any] = {}
        custom: dict[str, Any] = {}
        for name in form.fields:
            if form.fields[name].disabled:
                continue
            if name.startswith("cf_"):
                custom[name.removeprefix("cf_")] = custom_json(form.cleaned_data.get(name))
            else:
                data.update(form.service_value(name))
        return data, custom

    def quotes_refused(self, exc: QuoteError, back: str) -> HttpResponse:
        """The tags typed in the bulk bar whose double quotes do not read: nothing done, and what to write."""
        messages.error(self.request, _("Nothing was changed: %(reason)s") % {"reason": exc})
        return redirect(back)

    def _retag(self, objects: list[models.Model], back: str, *, add: bool) -> HttpResponse:
        try:
            names = parse_tags(self.request.POST.get("tags", ""))
        except QuoteError as exc:
            return self.quotes_refused(exc, back)
        if not names:
            messages.error(self.request, _("Type the tags to add or remove, separated by commas."))
            return redirect(back)
        from guanxi.core.bulk import bulk_start_or_run

        try:  # as the API's bulk tags: a scoped tag (意向::中) takes the place of its scope's other
            outcome = bulk_start_or_run(
                resource=self.resource,
                user=self.request.user,
                action="tag_add" if add else "tag_remove",
                ids=[o.pk for o in objects],
                tags=names,
            )
        except GuanxiError as exc:
            return self.failed(exc, back)
        return self.done(outcome["changed"], back) if isinstance(outcome, dict) else self.report(outcome, back)

    def do_add_tags(self, objects: list[models.Model], back: str) -> HttpResponse:
        return self._retag(objects, back, add=True)

    def do_remove_tags(self, objects: list[models.Model], back: str) -> HttpResponse:
        return self._retag(objects, back, add=False)

    # --- change owner, and "all N matching" (guanxi.core.bulk: re-checked per record, a job when large) ---
    def owner_choices(self) -> list[tuple[int, str]]:
        from guanxi.core.forms import MAX_SELECT_OPTIONS, related_queryset

        users = related_queryset(self.model._meta.get_field("owner"), self.request.user)  # type: ignore[arg-type]
        return [(u.pk, str(u)) for u in users.order_by("display_name")[:MAX_SELECT_OPTIONS]]

    def bulk_confirm(self, action: str, back: str, **extra: Any) -> HttpResponse:
        labels = dict(bulk_actions(self.resource, self.request.user))
        pool = self.resource.pool if action == "release" else None
        context = {
            **self.base_context(),
            "action": action,
            "action_label": labels.get(action, action),
            "next": back,
            "owners": self.owner_choices() if action == "owner" else [],
            "tags_value": self.request.POST.get("tags", ""),
            "reason_value": self.request.POST.get("reason", ""),
            "reason_id_value": self.request.POST.get("reason_id", ""),
            # The release reasons (退回原因) to choose from, when the list has a pool, and whether one must be.
            "reasons": pool.reasons(self.request.user) if pool is not None else [],
            "reason_required": pool is not None and pool.reason_required(self.request.user),
            **extra,
        }
        return render(self.request, "core/bulk_confirm.html", context, status=extra.pop("status", 200))

    def report(self, outcome: Any, back: str, extra_tags: str = "") -> HttpResponse:
        from django.urls import reverse

        from guanxi.core.models import Job

        if isinstance(outcome, Job):
            text = _("Many records: the action runs in the background. Its progress is shown here.")
            messages.info(self.request, text)
            return redirect(reverse("ui:job-detail", args=[outcome.pk]))
        if outcome["action"] == "follow":
            text = _("You now follow %(changed)s more; %(unchanged)s you followed already.")
        elif outcome["action"] == "unfollow":
            text = _("You stopped following %(changed)s; %(unchanged)s you did not follow.")
        else:
            text = _(
                "Done: %(changed)s changed, %(unchanged)s already so, %(skipped)s skipped (you may not change them)."
            )
        messages.success(self.request, text % outcome, extra_tags=extra_tags)
        return redirect(back)

    def do_owner(self, objects: list[models.Model], back: str) -> HttpResponse:
        from guanxi.core.bulk import bulk_start_or_run

        owner = self.request.POST.get("owner", "")
        if self.request.POST.get("confirm") != "yes" or not owner.isdigit():
            return self.bulk_confirm("owner", back, objects=objects)
        try:
            outcome = bulk_start_or_run(
                resource=self.resource,
                user=self.request.user,
                action="owner",
                ids=[o.pk for o in objects],
                owner=int(owner),
            )
        except GuanxiError as exc:
            return self.failed(exc, back)
        return self.report(outcome, back)

    def do_assign_rules(self, objects: list[models.Model], back: str) -> HttpResponse:
        from guanxi.core.bulk import bulk_start_or_run

        try:
            if self.request.POST.get("confirm") != "yes":
                return self.bulk_confirm("assign_rules", back, objects=objects, rules=self.rules_in_words())
            outcome = bulk_start_or_run(
                resource=self.resource, user=self.request.user, action="assign_rules", ids=[o.pk for o in objects]
            )
        except GuanxiError as exc:
            return self.failed(exc, back)
        return self.report(outcome, back)

    def _pool(self, action: str, objects: list[models.Model], back: str) -> HttpResponse:
        """领取 / 退回公海 on the selected records, after a confirmation (a release asks why)."""
        from guanxi.core.bulk import bulk_start_or_run

        post = self.request.POST
        reason, reason_id = post.get("reason", "").strip(), post.get("reason_id", "")
        if post.get("confirm") != "yes":
            return self.bulk_confirm(action, back, objects=objects)
        try:
            outcome = bulk_start_or_run(
                resource=self.resource,
                user=self.request.user,
                action=action,
                ids=[o.pk for o in objects],
                reason=reason,
                reason_id=reason_id,
            )
        except FieldErrors as exc:
            if action == "release":  # said beside the reason's inputs, which keep what was typed
                return self.bulk_confirm(action, back, status=400, objects=objects, reason_error=_said(exc))
            return self.failed(exc, back)
        except GuanxiError as exc:
            return self.failed(exc, back)
        return self.report(outcome, back)

    def do_claim(self, objects: list[models.Model], back: str) -> HttpResponse:
        return self._pool("claim", objects, back)

    def do_release(self, objects: list[models.Model], back: str) -> HttpResponse:
        return self._pool("release", objects, back)

    def _follow(self, action: str, objects: list[models.Model], back: str) -> HttpResponse:
        """关注 / 取消关注 the selected records: the user's own list, nothing written to the records,
        so no confirmation (the "all matching" path asks, with the count)."""
        from guanxi.core.bulk import bulk_start_or_run

        try:
            outcome = bulk_start_or_run(
                resource=self.resource, user=self.request.user, action=action, ids=[o.pk for o in objects]
            )
        except GuanxiError as exc:
            return self.failed(exc, back)
        return self.report(outcome, back)

    def do_follow(self, objects: list[models.Model], back: str) -> HttpResponse:
        return self._follow("follow", objects, back)

    def do_unfollow(self, objects: list[models.Model], back: str) -> HttpResponse:
        return self._follow("unfollow", objects, back)

    def rules_in_words(self) -> list[str]:
        """What "assign by rules" will apply (refused, naming why, when there is nothing to apply)."""
        hook = self.resource.assign_by_rules
        return hook(self.request.user).describe() if hook is not None else []

    def do_matching(self, action: str, back: str) -> HttpResponse:
        """The action on every record matching the list's query (across pages), after a confirmation with N."""
        from guanxi.core.bulk import bulk_start_or_run, selection
        from guanxi.core.views.exports import list_params

        post = self.request.POST
        query = post.get("query", "")
        params, _columns = list_params(self.resource, self.request.user, query)
        count = selection(self.resource, self.request.user, query=params, strict=False).count()
        extra: dict[str, Any] = {"count": count, "query": query, "objects": []}
        form = None
        if action == "edit":
            form = self.edit_form(post if post.get("step") == "apply" and post.getlist(APPLY) else None)
            extra["form"] = form
            extra["applied"] = post.getlist(APPLY)
        elif action == "assign_rules":
            try:
                extra["rules"] = self.rules_in_words()
            except GuanxiError as exc:
                return self.failed(exc, back)
        if post.get("confirm") != "yes" or not count:
            return self.bulk_confirm(action, back, **extra)
        kwargs: dict[str, Any] = {}
        if action in ("add_tags", "remove_tags"):
            try:
                kwargs["tags"] = parse_tags(post.get("tags", ""))
            except QuoteError as exc:
                return self.quotes_refused(exc, back)
        elif action == "owner":
            kwargs["owner"] = int(post["owner"]) if post.get("owner", "").isdigit() else None
        elif action == "release":
            kwargs["reason"], kwargs["reason_id"] = post.get("reason", ""), post.get("reason_id", "")
        elif action == "edit":
            if form is None or not form.is_bound or not form.is_valid():
                return self.bulk_confirm(action, back, status=400, **extra)
            kwargs["data"] = self.form_payload(form)
        service_action = {"edit": "update", "add_tags": "tag_add", "remove_tags": "tag_remove"}.get(action, action)
        started = timezone.now()
        if action == "delete":  # an older 撤销 must not stand beside this deletion, even one that becomes a job
            self.request.session.pop(UNDO_KEY, None)
        try:
            outcome = bulk_start_or_run(
                resource=self.resource,
                user=self.request.user,
                action=service_action,
                query=params,
                strict=False,
                **kwargs,
            )
        except FieldErrors as exc:
            if form is not None:  # a record's refusal (``records.<id>.<field>``) beside its input too
                form.add_service_errors(_on_the_form({k.removeprefix("data."): v for k, v in exc.errors.items()}))
                return self.bulk_confirm(action, back, status=400, **extra)
            if action == "release":
                return self.bulk_confirm(action, back, status=400, reason_error=_said(exc), **extra)
            return self.failed(exc, back)
        except GuanxiError as exc:
            return self.failed(exc, back)
        if action == "delete" and isinstance(outcome, dict) and self.resource.soft_delete:
            # Done in the request: 撤销 offered for exactly the records it binned.
            offer_undo(self.request, self.resource, outcome.pop("ids", []), since=started)
            return self.report(outcome, back, extra_tags="gx-undo")
        return self.report(outcome, back)

    def form_payload(self, form: RecordForm) -> dict[str, Any]:
        """The ticked fields as API input (relations by id, dates and decimals as text: a job stores them)."""
        from guanxi.api.crud import plain

        data: dict[str, Any] = {}
        for name in form.fields:
            if form.fields[name].disabled:
                continue
            value = form.cleaned_data.get(name)
            if name.startswith("cf_"):  # as the API takes them: ``custom_fields={key: value}``
                data.setdefault("custom_fields", {})[name.removeprefix("cf_")] = custom_json(value)
                continue
            if isinstance(value, models.Model):
                value = value.pk
            data[name] = plain(value)
        return data


def _on_the_form(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """A batch's refusal, which names its record (``records.<id>.<field>``, ``core.bulk``), as the
    edit form says it: by the field, or for the form when it names none."""
    out: dict[str, list[str]] = {}
    for key, messages_ in errors.items():
        parts = key.split(".", 2)
        name = key if parts[0] != "records" else parts[2] if len(parts) == 3 else "__all__"
        out.setdefault(name, []).extend(messages_)
    return out


def _said(exc: FieldErrors) -> str:
    """What a refused input's messages say, in one line."""
    return " ".join(message for messages_ in exc.errors.values() for message in messages_)
