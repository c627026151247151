"""Forms of the customer pages: the contact form with its emails, phones and account links.

The generic record form builds inputs from ``Resource.write_fields``; a contact's emails, phones and
account links are not among them (the API takes them as ``Resource.extra_input``). ``ContactForm``
adds them to the generic form and hands them to ``contact_create`` / ``contact_update`` in the shapes
those services take, and puts the services' item errors (``phones.1``, ``accounts.0.role``) back on
the input they came from. The contact add/edit views (``guanxi/customers/views.py``) use it; the
bulk edit page keeps the plain generic form (these inputs are not model fields it could apply).
"""

from __future__ import annotations

import decimal
import re
from collections.abc import Collection
from typing import Any, cast

from django import forms
from django.template.loader import render_to_string
from django.utils.safestring import SafeString
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from guanxi.core.choices import Action
from guanxi.core.forms import (
    MAX_SELECT_OPTIONS,
    MoneyField,
    RecordForm,
    record_form_class,
    register_form_tweak,
    style_widget,
)
from guanxi.core.models import Tag
from guanxi.core.permissions import frozen_fields, hidden_fields, visible_ref, withheld_fields
from guanxi.core.pickers import RecordIdsField
from guanxi.core.registry import Resource
from guanxi.customers import classification
from guanxi.customers.choices import ContactPointLabel, Industry, LifecycleStage, SizeBand, Tier
from guanxi.customers.models import Account, AccountContact, AssignmentRule, Contact
from guanxi.customers.normalize import (
    DEFAULT_REGION,
    country_choices,
    normalize_email,
    normalize_phone,
    phone_display,
)

#: The field rule that governs a contact's account links (as in the API and the services).
LINKS_RULE = "accounts"
POINT_FIELDS = ("emails", "phones")
NEW_ROLE = "new_accounts_role"
_ITEM_ERROR = re.compile(r"^(?P<field>emails|phones|accounts)\.(?P<index>\d+)(?:\.(?P<part>\w+))?$")


# --- emails and phones as lines ----------------------------------------------------------------------


def phone_text(point: dict[str, Any]) -> str:
    """A stored phone as people read it: ``+86 138 0013 8000``, ``+86 21 6123 4567 ext. 802``."""
    text = phone_display(str(point.get("value") or ""))
    extension = point.get("extension") or ""
    return f"{text} ext. {extension}" if extension else text


def point_text(kind: str, point: dict[str, Any]) -> str:
    return phone_text(point) if kind == "phones" else str(point.get("value") or "")


def point_label(point: dict[str, Any]) -> str:
    """An email's or phone's label in words (工作, 手机); one outside the choices as it was stored."""
    label = point.get("label") or ""
    return str(ContactPointLabel(label).label) if label in ContactPointLabel.values else label


def point_key(kind: str, text: str, region: str) -> tuple[str, str] | None:
    """What a typed line normalises to, to recognise a stored entry (None: the service will say why)."""
    try:
        if kind == "emails":
            return normalize_email(text), ""
        phone = normalize_phone(text, region)
    except ValueError:
        return None
    return phone.e164, phone.extension


class PointLinesField(forms.CharField):
    """Emails or phones, one per line; the first line is the main one."""

    def __init__(self, *, kind: str, **kwargs: Any):
        self.kind = kind
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 2, "autocomplete": "off"}))
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return "\n".join(point_text(self.kind, p) if isinstance(p, dict) else str(p) for p in value)
        return value

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        if isinstance(value, list):
            return [point_text(self.kind, p) if isinstance(p, dict) else str(p) for p in value]
        text = super().to_python(value) or ""
        return [line.strip() for line in text.splitlines() if line.strip()]

    def has_changed(self, initial: Any, data: Any) -> bool:
        if self.disabled:
            return False
        return self.to_python(initial or []) != self.to_python(data)


# --- the contact form --------------------------------------------------------------------------------


class ContactFormMixin:
    """Emails, phones and account links on the generic contact form (see the module docstring)."""

    fields: dict[str, forms.Field]
    initial: dict[str, Any]
    instance: Contact
    user: Any
    is_add: bool
    extra_inputs: set[str]
    cleaned_data: dict[str, Any]
    changed_data: list[str]

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        # A new person's emails and phones may be typed even by those who see them masked.
        hidden = (withheld_fields if self.is_add else hidden_fields)(self.user, Contact)
        frozen = frozen_fields(self.user, Contact, adding=self.is_add)
        added: dict[str, forms.Field] = {}
        #: Where typed numbers without a country code are read (as the service reads them).
        self.region = self.instance.country or DEFAULT_REGION
        for kind in POINT_FIELDS:
            if kind in hidden:
                continue
            if kind == "emails":
                field = PointLinesField(
                    kind=kind,
                    label=_("Emails"),
                    required=False,
                    help_text=_("One per line; the first is the main one."),
                )
            else:
                field = PointLinesField(
                    kind=kind,
                    label=_("Phones"),
                    required=False,
                    help_text=_(
                        "One per line, e.g. 138 0013 8000 or 021-6123 4567 ext. 802; the first is the main one."
                    ),
                )
            self.initial[kind] = list(getattr(self.instance, kind, None) or [])
            self._freeze(field, kind in frozen)
            added[kind] = field
        #: The links the user may see now (links to other accounts are never shown nor touched).
        self.links: list[AccountContact] = []
        self.role_fields: dict[int, str] = {}  # account id -> name of its role input
        if LINKS_RULE not in hidden:
            added.update(self._link_fields(frozen=LINKS_RULE in frozen))
        self.extra_inputs |= set(added)
        for added_field in added.values():
            style_widget(added_field)
        self._place(added)

    # --- building ------------------------------------------------------------------------------------
    @staticmethod
    def _freeze(field: forms.Field, frozen: bool) -> None:
        if frozen:
            field.disabled = True
            field.help_text = _("You may not change this field.")

    def _link_fields(self, *, frozen: bool) -> dict[str, forms.Field]:
        visible = Account.objects.restrict(self.user, Action.VIEW)
        if not self.is_add:
            self.links = list(
                AccountContact.objects.filter(visible_ref("account_id", visible), contact=self.instance)
                .select_related("account")
                .order_by("-is_primary", "id")
            )
        fields: dict[str, forms.Field] = {}
        accounts = RecordIdsField(
            "accounts",
            visible,
            label=_("Accounts"),
            required=False,
            help_text=_("The companies this person works at or for: type a name or its pinyin and choose."),
        )
        self._freeze(accounts, frozen)
        fields["accounts"] = accounts
        self.initial["accounts"] = [str(link.account_id) for link in self.links]
        for link in self.links:
            name = f"role_{link.account_id}"
            fields[name] = forms.CharField(
                label=_("Role at %(account)s") % {"account": link.account.name},
                required=False,
                max_length=100,
                help_text=_("Primary account") if link.is_primary else "",
            )
            self.initial[name] = link.role
            self._freeze(fields[name], frozen)
            self.role_fields[link.account_id] = name
        fields[NEW_ROLE] = forms.CharField(
            label=_("Role") if not self.links else _("Role at newly chosen accounts"),
            required=False,
            max_length=100,
            help_text=_("e.g. 总经理, 采购经理, CTO"),
        )
        self._freeze(fields[NEW_ROLE], frozen)
        return fields

    def _place(self, added: dict[str, forms.Field]) -> None:
        """The new inputs go after the department (or first, if the user may not see it)."""
        order = list(self.fields)
        anchor = next((n for n in ("department", "title", "given_name", "family_name") if n in order), None)
        at = order.index(anchor) + 1 if anchor else 0
        names = [n for n in order if n not in added]
        names[at:at] = list(added)
        self.fields = {name: self.fields.get(name) or added[name] for name in names}

    # --- what the services take ----------------------------------------------------------------------
    def _points(self, kind: str) -> list[dict[str, Any]]:
        """The typed lines as service items; a line that is a stored entry keeps its label and extension."""
        stored: dict[tuple[str, str], dict[str, Any]] = {}
        for point in getattr(self.instance, kind, None) or []:
            stored[(point["value"], point.get("extension", ""))] = point
        items = []
        for index, line in enumerate(self.cleaned_data.get(kind) or []):
            key = point_key(kind, line, self.region)
            base = stored.get(key) if key else None
            item = {k: v for k, v in base.items() if k != "is_primary"} if base else {"value": line}
            item["is_primary"] = index == 0
            items.append(item)
        return items

    def _link_items(self) -> list[dict[str, Any]]:
        chosen = [int(pk) for pk in self.cleaned_data.get("accounts") or []]
        current = {link.account_id: link for link in self.links}
        new_role = self.cleaned_data.get(NEW_ROLE) or ""
        items = [
            {
                "account": link.account_id,
                "role": self.cleaned_data.get(self.role_fields[link.account_id], link.role) or "",
                "is_primary": link.is_primary,
            }
            for link in self.links
            if link.account_id in chosen
        ]
        items += [{"account": pk, "role": new_role, "is_primary": False} for pk in chosen if pk not in current]
        return items

    def contact_extras(self) -> dict[str, Any]:
        """``emails``, ``phones`` and ``accounts`` for the service: on add, what was given; on edit, what changed."""
        extras: dict[str, Any] = {}
        for kind in POINT_FIELDS:
            field = self.fields.get(kind)
            if field is not None and not field.disabled and (self.is_add or kind in self.changed_data):
                extras[kind] = self._points(kind)
        field = self.fields.get("accounts")
        if field is not None and not field.disabled:
            items = self._link_items()
            before = [{"account": ln.account_id, "role": ln.role, "is_primary": ln.is_primary} for ln in self.links]
            if (self.is_add and items) or (not self.is_add and items != before):
                extras["accounts"] = items
        self._sent_links = extras.get("accounts", [])
        return extras

    # --- errors --------------------------------------------------------------------------------------
    def add_service_errors(self, errors: dict[str, list[str]]) -> None:
        """``phones.1`` goes under the phones with the line number; ``accounts.0.role`` under that role."""
        rest: dict[str, list[str]] = {}
        for key, messages_ in errors.items():
            match = _ITEM_ERROR.match(key)
            target = key if key in POINT_FIELDS or key == "accounts" else None
            prefix = ""
            if match:
                field, index = match.group("field"), int(match.group("index"))
                target = field
                if field == "accounts":
                    sent = getattr(self, "_sent_links", [])
                    account = sent[index]["account"] if index < len(sent) else None
                    if match.group("part") == "role":
                        target = self.role_fields.get(account, NEW_ROLE) if account is not None else NEW_ROLE
                else:
                    prefix = _("Line %(number)s: ") % {"number": index + 1}
            if target in self.fields and not self.fields[target].disabled:
                for message in messages_:
                    self.add_error(target, prefix + message)  # type: ignore[attr-defined]
            else:
                rest[key] = messages_
        if rest:
            super().add_service_errors(rest)  # type: ignore[misc]


def contact_form_class(resource: Resource, user: Any, *, adding: bool = False) -> type[RecordForm]:
    """The generic contact form of this user (field rules applied) with the contact inputs added."""
    base = record_form_class(resource, user, adding=adding)
    return type("ContactForm", (ContactFormMixin, base), {"__module__": __name__})


@register_form_tweak("customers.account")
def assignment_rules_choose_owner(form: RecordForm) -> None:
    """On a new account, an empty owner lets the assignment rules choose (the creator when none matches).

    Without active rules the form proposes the user, as for any record."""
    if not form.is_add or "owner" not in form.fields or not AssignmentRule.objects.filter(is_active=True).exists():
        return
    form.initial["owner"] = None
    form.initial["team"] = None
    owner = form.fields["owner"]
    owner.required = False
    if owner.disabled:
        owner.help_text = _("The assignment rules choose the owner; the account is yours when no rule matches.")
    else:
        owner.help_text = _(
            "Leave empty to let the assignment rules choose; the account is yours when no rule matches."
        )


@register_form_tweak("customers.account")
def contacts_follow_the_owner(form: RecordForm) -> None:
    """On an existing account, say what a new owner takes along (``account_update``)."""
    owner = form.fields.get("owner")
    if form.is_add or owner is None or owner.disabled:
        return
    owner.help_text = _("A new owner takes along the contacts of this account that the current owner holds.")


@register_form_tweak("customers.account")
@register_form_tweak("customers.contact")
def country_select(form: RecordForm) -> None:
    """A list of countries by name instead of a box for a two-letter code."""
    field = form.fields.get("country")
    if field is None:
        return
    choices = list(country_choices(get_language() or ""))
    current = form.initial.get("country") or ""
    if current and current not in dict(choices):  # a code stored before phonenumbers dropped it
        choices.append((current, current))
    field.widget = forms.Select(choices=[("", "—"), *choices])
    field.help_text = ""


# --- criteria (tier rules, assignment rules, ideal customer profiles) -----------------------------------

#: The inputs of a criteria editor: (key in the JSON, label, choices or None for a text / amount input).
Inputs = tuple[tuple[str, Any, Any], ...]
CRITERIA_INPUTS: Inputs = (
    ("regions", gettext_lazy("Regions, provinces or cities"), None),
    ("industries", gettext_lazy("Industries"), Industry),
    ("sizes", gettext_lazy("Company sizes"), SizeBand),
    ("lifecycle_stages", gettext_lazy("Lifecycle stages"), LifecycleStage),
    ("min_annual_revenue", gettext_lazy("Annual revenue at least"), None),
    ("max_annual_revenue", gettext_lazy("Annual revenue at most"), None),
    ("min_engagement", gettext_lazy("Interactions in the last 90 days at least"), None),
    ("max_engagement", gettext_lazy("Interactions in the last 90 days at most"), None),
)
COUNT_INPUTS = {"min_engagement", "max_engagement"}
#: Assignment rules also choose by tier (tier rules and profiles cannot: a tier is what they give).
ASSIGNMENT_INPUTS = (CRITERIA_INPUTS[0], ("tiers", gettext_lazy("Tiers"), Tier), *CRITERIA_INPUTS[1:])
REGION_SPLIT_RE = re.compile(r"[,，、;；\s]+")
TAGS_LABEL = gettext_lazy("Tags (needs, interests…): any one of")


class TagChoices:
    """The shared tag vocabulary as the choices of a criteria input, read when a form is built: a
    rule can ask only for tags that exist (classification by needs, seed 004 §3)."""

    def __init__(self, user: Any, chosen: list[str]):
        names = Tag.objects.restrict(user, Action.VIEW).order_by("name").values_list("name", flat=True)
        vocabulary = list(names[:MAX_SELECT_OPTIONS])
        # A name the rule holds stays on offer, ticked, even when its tag is gone: saving the form
        # again must not drop the criterion quietly (the rule would match more accounts); a change
        # to the criteria is then refused with "No tag is called …".
        self.choices = [(name, name) for name in [*vocabulary, *(n for n in chosen if n not in vocabulary)]]


def _with_tags(inputs: Inputs, form: RecordForm, name: str) -> Inputs:
    """The inputs, with the tag toggles after the lists of choices (before the amounts)."""
    criteria = getattr(form.instance, name, None) or {}
    chosen = [str(n) for n in criteria.get("tags") or []] if isinstance(criteria, dict) else []
    at = next(i for i, (key, _label, _choices) in enumerate(inputs) if key == "min_annual_revenue")
    return (*inputs[:at], ("tags", TAGS_LABEL, TagChoices(form.user, chosen)), *inputs[at:])


class CriteriaWidget(forms.MultiWidget):
    """One input per criterion, labelled, instead of JSON to type: choices as toggles, regions as text."""

    template = "widgets/criteria.html"

    def __init__(self, inputs: Inputs = CRITERIA_INPUTS, counts: Collection[str] = COUNT_INPUTS) -> None:
        self.inputs = inputs
        self.counts = counts  # the keys whose inputs take whole numbers
        widgets: dict[str, forms.Widget | type[forms.Widget]] = {
            key: forms.CheckboxSelectMultiple(choices=choices.choices) if choices else forms.TextInput()
            for key, _label, choices in inputs
        }
        super().__init__(widgets)

    def decompress(self, value: Any) -> list[Any]:
        value = value if isinstance(value, dict) else {}
        out: list[Any] = []
        for key, _label, choices in self.inputs:
            item = value.get(key)
            if choices is not None:
                out.append(list(item or []))
            elif item in (None, ""):
                out.append("")
            elif key in self.counts:
                out.append(str(item))
            elif key == "regions":
                out.append("、".join(item))
            else:
                out.append(f"{decimal.Decimal(str(item)):f}")
        return out

    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None) -> SafeString:
        attrs = self.build_attrs(self.attrs, attrs)
        values = value if isinstance(value, list) else self.decompress(value)
        parts = []
        for (key, label, choices), current in zip(self.inputs, values, strict=True):
            part: dict[str, Any] = {"key": key, "name": f"{name}_{key}", "id": f"id_{name}_{key}", "label": label}
            if choices is not None:
                chosen = {str(v) for v in current or []}
                part["toggles"] = True
                part["options"] = [(v, text, v in chosen) for v, text in choices.choices]
            else:
                part["value"] = current or ""
                part["amount"] = key != "regions"
                part["count"] = key in self.counts
            parts.append(part)
        context = {
            "parts": parts,
            "disabled": bool(attrs.get("disabled")),
            "invalid": "is-invalid" in attrs.get("class", ""),
        }
        return cast(SafeString, render_to_string(self.template, context))


def _criterion_field(key: str, label: Any, choices: Any) -> forms.Field:
    if choices is not None:
        return forms.MultipleChoiceField(choices=choices.choices, required=False)
    if key == "regions":
        return forms.CharField(required=False)
    if key in COUNT_INPUTS:
        wrong = _("%(input)s: enter a whole number, 0 or more.") % {"input": label}
        return forms.IntegerField(required=False, min_value=0, error_messages=_all_invalid(wrong))
    wrong = _("%(input)s: enter an amount, 0 or more, e.g. 1000000 or 100万.") % {"input": label}
    return MoneyField(required=False, min_value=0, max_digits=18, decimal_places=2, error_messages=_all_invalid(wrong))


def _all_invalid(message: str) -> dict[str, str]:
    """One message, naming the input, for every way a number can be wrong: the errors of a
    ``MultiValueField`` show together, under the whole editor, and must say which input they mean."""
    escaped = message.replace("%", "%%")  # Django formats the min/max messages with the limit
    keys = ("invalid", "min_value", "max_value", "max_digits", "max_decimal_places", "max_whole_digits")
    return {key: message if key == "invalid" else escaped for key in keys}


class CriteriaField(forms.MultiValueField):
    """The criteria JSON of ``guanxi.customers.classification`` from the inputs of ``CriteriaWidget``.
    Only shapes are checked here; ``clean_criteria`` in the service checks the rest."""

    def __init__(self, inputs: tuple[tuple[str, Any, Any], ...] = CRITERIA_INPUTS, **kwargs: Any) -> None:
        self.inputs = inputs
        fields = [_criterion_field(key, label, choices) for key, label, choices in inputs]
        super().__init__(
            fields=fields, widget=CriteriaWidget(inputs), require_all_fields=False, required=False, **kwargs
        )

    def compress(self, data_list: list[Any]) -> dict[str, Any]:
        criteria: dict[str, Any] = {}
        for (key, _label, choices), value in zip(self.inputs, data_list or [None] * len(self.inputs), strict=True):
            if choices is not None and value:
                criteria[key] = list(value)
            elif key == "regions" and value:
                regions = [r for r in REGION_SPLIT_RE.split(value) if r]
                if regions:
                    criteria[key] = list(dict.fromkeys(regions))
            elif choices is None and key != "regions" and value is not None:
                criteria[key] = str(value)
        return criteria


def use_criteria_inputs(name: str, help_text: Any, inputs: tuple[tuple[str, Any, Any], ...] = CRITERIA_INPUTS) -> Any:
    """A form tweak: the JSON field ``name`` becomes a ``CriteriaField`` with the same label."""

    def tweak(form: RecordForm) -> None:
        current = form.fields.get(name)
        if current is None:
            return
        field = CriteriaField(_with_tags(inputs, form, name), label=current.label, help_text=help_text)
        field.disabled = current.disabled
        form.fields[name] = field

    return tweak


class WeightsField(forms.MultiValueField):
    """A profile's points per criterion (``weights``): one whole-number input per criterion, labelled,
    instead of JSON to type. An empty one counts 1, as the fit score counts it."""

    def __init__(self, **kwargs: Any) -> None:
        labels = classification.criterion_labels()
        self.keys = classification.CRITERIA
        inputs = tuple((key, labels[key], None) for key in self.keys)
        fields = [
            forms.IntegerField(
                required=False,
                min_value=0,
                max_value=100,
                error_messages=_all_invalid(_("%(input)s: enter points from 0 to 100.") % {"input": labels[key]}),
            )
            for key in self.keys
        ]
        widget = CriteriaWidget(inputs, counts=set(self.keys))
        super().__init__(fields=fields, widget=widget, require_all_fields=False, required=False, **kwargs)

    def compress(self, data_list: list[Any]) -> dict[str, int]:
        return {key: value for key, value in zip(self.keys, data_list or [], strict=False) if value is not None}


def use_weight_inputs(form: RecordForm) -> None:
    current = form.fields.get("weights")
    if current is None:
        return
    help_text = gettext_lazy("Points for each criterion the profile sets, 0 to 100; empty counts 1.")
    field = WeightsField(label=current.label, help_text=help_text)
    field.disabled = current.disabled
    form.fields["weights"] = field


RULE_HELP = gettext_lazy(
    "The rule applies to an account that meets every criterion filled in; none filled in: every account."
)
register_form_tweak("customers.tierrule")(use_criteria_inputs("conditions", RULE_HELP))
register_form_tweak("customers.assignmentrule")(use_criteria_inputs("conditions", RULE_HELP, ASSIGNMENT_INPUTS))
register_form_tweak("customers.customerprofile")(
    use_criteria_inputs(
        "criteria", gettext_lazy("The fit score counts the criteria an account meets, by their weights.")
    )
)
register_form_tweak("customers.customerprofile")(use_weight_inputs)
