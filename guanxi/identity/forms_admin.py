"""Forms of the identity screens: role permission matrix, API tokens, shares, and the user form tweaks."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.apps import apps
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from guanxi.core.choices import Action, FieldAccess, Scope, ShareAccess
from guanxi.core.forms import DATETIME_INPUT_FORMATS, DateTimeInput, RecordForm, register_form_tweak, style_widget
from guanxi.core.permissions import scope_for
from guanxi.core.pickers import RecordIdsField, RecordPicker
from guanxi.core.registry import resources
from guanxi.identity.models import Role, Team, User

ALL_RECORD_TYPES = "*"
#: Short scope names that fit a matrix cell; the legend above the matrix explains them.
SCOPE_SHORT_LABELS = {
    Scope.NONE: gettext_lazy("None"),
    Scope.OWN: gettext_lazy("Own"),
    Scope.TEAM: gettext_lazy("Team"),
    Scope.SUBORDINATES: gettext_lazy("Subordinates"),
    Scope.ALL: gettext_lazy("All"),
}
#: Blank field-rule rows offered below the existing ones.
EXTRA_RULE_ROWS = 3
MAX_RULE_ROWS = 200


def _styled(form: forms.Form) -> None:
    for field in form.fields.values():
        style_widget(field)


# --- users -----------------------------------------------------------------------------------------


@register_form_tweak("identity.user")
def _user_form(form: RecordForm) -> None:
    """Admin rights only from an admin; role/team/active only from someone who manages all users."""
    actor = form.user
    if not actor.is_superuser:
        form.fields.pop("is_superuser", None)
    if scope_for(actor, "identity.user", Action.CHANGE) != Scope.ALL:
        for name in ("role", "team", "is_active"):
            if name in form.fields:
                form.fields[name].disabled = True
                form.fields[name].help_text = _("Only someone who manages all users can change this.")
    if "time_zone" in form.fields:
        from guanxi.identity.account import time_zone_names

        current = form.initial.get("time_zone") or "Asia/Shanghai"
        zones = time_zone_names()
        form.fields["time_zone"] = forms.ChoiceField(
            label=form.fields["time_zone"].label,
            choices=[(z, z) for z in ([current] if current not in zones else []) + zones],
            initial=current,
            disabled=form.fields["time_zone"].disabled,
        )
    if form.is_add:
        form.fields["password"] = forms.CharField(
            label=_("Password"),
            required=False,
            strip=False,
            widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
            help_text=_("Optional. Without one, the person sets a password through “Forgot password”."),
        )
        form.extra_inputs.add("password")


# --- role permission matrix ------------------------------------------------------------------------


def matrix_object_types() -> list[tuple[str, str]]:
    """Rows of the matrix: ``*`` (every CRM record type), then each registered object type."""
    seen: dict[str, str] = {}
    for resource in resources():
        seen.setdefault(resource.object_type, f"{capfirst(resource.label_plural)}")
    rows = sorted(seen.items(), key=lambda item: item[0])
    return [(ALL_RECORD_TYPES, str(_("Every CRM record type"))), *rows]


def field_names_of(object_type: str) -> list[str]:
    try:
        model = apps.get_model(object_type)
    except (LookupError, ValueError):
        return []
    return [f.name for f in model._meta.concrete_fields]


class RolePermissionsForm(forms.Form):
    """One scope select per object type and action, plus field rules (hidden / read-only)."""

    version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    rule_rows = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, role: Role, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.role = role
        self.fields["version"].initial = role.version
        scopes = {(p.object_type, p.action): p.scope for p in role.permissions.all()}
        scope_choices = [(value, str(label)) for value, label in SCOPE_SHORT_LABELS.items()]
        self.object_types = matrix_object_types()
        self.matrix: list[dict[str, Any]] = []
        for object_type, label in self.object_types:
            cells = []
            for action in Action.values:
                name = f"perm:{object_type}:{action}"
                self.fields[name] = forms.ChoiceField(
                    choices=scope_choices, initial=scopes.get((object_type, action), Scope.NONE), required=False
                )
                cells.append(name)
            self.matrix.append({"object_type": object_type, "label": label, "names": cells})
        # Rules on types no longer registered stay editable rather than being dropped silently.
        known = {ot for ot, _label in self.object_types}
        for (object_type, action), scope in sorted(scopes.items()):
            if object_type not in known:
                name = f"perm:{object_type}:{action}"
                self.fields[name] = forms.ChoiceField(choices=scope_choices, initial=scope)
        rules = list(role.field_rules.order_by("object_type", "field"))
        posted_rows = self.data.get("rule_rows") if self.is_bound else None
        count = len(rules) + EXTRA_RULE_ROWS
        if posted_rows and str(posted_rows).isascii() and str(posted_rows).isdecimal():
            count = min(int(posted_rows), MAX_RULE_ROWS)
        self.fields["rule_rows"].initial = count
        type_choices = [("", "—"), *[(ot, f"{label} ({ot})") for ot, label in self.object_types if ot != "*"]]
        access_choices = [("", _("(no rule)")), *[(a.value, a.label) for a in FieldAccess]]
        self.rule_inputs: list[list[str]] = []
        for index in range(count):
            rule = rules[index] if index < len(rules) else None
            prefix = f"fr-{index}-"
            self.fields[prefix + "object_type"] = forms.ChoiceField(
                choices=type_choices, required=False, initial=rule.object_type if rule else ""
            )
            self.fields[prefix + "field"] = forms.CharField(
                required=False, max_length=100, initial=rule.field if rule else ""
            )
            self.fields[prefix + "access"] = forms.ChoiceField(
                choices=access_choices, required=False, initial=rule.access if rule else ""
            )
            self.rule_inputs.append([prefix + "object_type", prefix + "field", prefix + "access"])
        _styled(self)
        for name, field in self.fields.items():
            if name.startswith(("perm:", "fr-")):
                css = field.widget.attrs.get("class", "")
                field.widget.attrs["class"] = css.replace("form-select", "form-select form-select-sm").replace(
                    "form-control", "form-control form-control-sm"
                )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for object_type_name, field_name, access_name in self.rule_inputs:
            object_type = cleaned.get(object_type_name)
            field = (cleaned.get(field_name) or "").strip()
            access = cleaned.get(access_name)
            if not (object_type or field or access):
                continue
            if not (object_type and field and access):
                self.add_error(field_name, _("Pick the record type, the field and hidden or read-only."))
                continue
            if field not in field_names_of(object_type) and field not in ("custom_fields", "tags"):
                self.add_error(
                    field_name, _("“%(field)s” is not a field of %(type)s.") % {"field": field, "type": object_type}
                )
        return cleaned

    def permissions(self) -> list[dict[str, str]]:
        rules = []
        for name, value in self.cleaned_data.items():
            if name.startswith("perm:") and value and value != Scope.NONE:
                _prefix, rest = name.split(":", 1)
                object_type, action = rest.rsplit(":", 1)
                rules.append({"object_type": object_type, "action": action, "scope": value})
        return rules

    def field_rules(self) -> list[dict[str, str]]:
        rules = []
        for object_type_name, field_name, access_name in self.rule_inputs:
            object_type = self.cleaned_data.get(object_type_name)
            field = (self.cleaned_data.get(field_name) or "").strip()
            access = self.cleaned_data.get(access_name)
            if object_type and field and access:
                rules.append({"object_type": object_type, "field": field, "access": access})
        return rules

    def field_datalist(self) -> list[str]:
        """Field names of every registered type, offered while typing a field rule."""
        names: set[str] = set()
        for object_type, _label in self.object_types:
            names.update(field_names_of(object_type))
        return sorted(names)


# --- API tokens ------------------------------------------------------------------------------------


class TokenCreateForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    scopes = forms.CharField(
        label=gettext_lazy("Scopes"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy(
            "One per line or separated by spaces or commas, e.g. identity.team:view, *:view (read everything) or *:*."
        ),
    )
    expires_at = forms.DateTimeField(
        label=gettext_lazy("Expires at"),
        required=False,
        widget=DateTimeInput(),
        input_formats=DATETIME_INPUT_FORMATS,
        help_text=gettext_lazy("Optional. Leave empty for a token that does not expire."),
    )

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        _styled(self)

    def clean_scopes(self) -> list[str]:
        import re

        raw = self.cleaned_data.get("scopes") or ""
        return sorted({part for part in re.split(r"[\s,，]+", raw) if part})


# --- shares ----------------------------------------------------------------------------------------


class ShareForm(forms.Form):
    # Picked by typing: a company's people are too many for a select (guanxi.core.pickers).
    user = forms.ModelChoiceField(
        label=gettext_lazy("User"),
        queryset=User.objects.filter(is_active=True),
        required=False,
        widget=RecordPicker("users", User.objects.filter(is_active=True)),
    )
    team = forms.ModelChoiceField(label=gettext_lazy("Team"), queryset=Team.objects.all(), required=False)
    access = forms.ChoiceField(label=gettext_lazy("Access"), choices=ShareAccess.choices, initial=ShareAccess.VIEW)

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        _styled(self)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if bool(cleaned.get("user")) == bool(cleaned.get("team")):
            raise forms.ValidationError(_("Share with either one user or one team."))
        return cleaned


# --- handover (离职交接) -----------------------------------------------------------------------------


class HandoverForm(forms.Form):
    """Whom a colleague's records go to (``identity.handover``); the service checks every choice."""

    # Picked by typing, as owners are: a company's people are too many for a select. Several may
    # share the records (a departing salesperson's customers split among the team).
    recipients = RecordIdsField(
        "users",
        User.objects.filter(is_active=True),
        label=gettext_lazy("Hand over to"),
        required=False,
        help_text=gettext_lazy(
            "One colleague, or several: the records are shared out evenly among them, each company with its people."
        ),
    )
    to_pool = forms.BooleanField(required=False)
    reason_id = forms.TypedChoiceField(
        label=gettext_lazy("Release reason"), required=False, coerce=int, empty_value=None, choices=()
    )
    reason = forms.CharField(
        label=gettext_lazy("Why do they go back?"),
        required=False,
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    deactivate = forms.BooleanField(
        label=gettext_lazy("Deactivate this user afterwards"),
        required=False,
        help_text=gettext_lazy("They can no longer sign in; their history stays."),
    )

    def __init__(
        self,
        *args: Any,
        reasons: list[tuple[Any, str]] | None = None,
        pool_records: str = "",
        reason_required: bool = False,
        offer_deactivate: bool = False,
        **kwargs: Any,
    ):
        """``pool_records``: the kinds of record that may go to their pool instead (none: no such choice);
        ``reason_required``: the user's role must pick a listed release reason (as the pool's other forms say)."""
        super().__init__(*args, **kwargs)
        if pool_records:
            self.fields["to_pool"].label = _("%(records)s go back to the pool instead of to a colleague") % {
                "records": capfirst(pool_records)
            }
            # Short, as on a record's 退回公海: a phone's select shows its first line whole; the rest is a hint.
            reason_id = cast(forms.TypedChoiceField, self.fields["reason_id"])
            reason_id.choices = [("", _("— choose a reason —")), *(reasons or [])]
            if not reason_required:
                reason_id.help_text = _("Or leave it and say why in your own words below.")
            if reasons:
                self.fields["reason"].label = _("In your own words (optional)")
            else:
                self.fields.pop("reason_id")
        else:
            for name in ("to_pool", "reason_id", "reason"):
                self.fields.pop(name)
        if not offer_deactivate:
            self.fields.pop("deactivate")
        _styled(self)
