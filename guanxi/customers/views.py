"""Customer pages beyond the generic ones: the contact form with emails, phones and account links, and
the panels that connect contacts and accounts on their detail pages.

Each class replaces one generic page through ``register_view`` (found by ``guanxi.core.urls_ui``);
reads start from ``restrict``, writes go through ``guanxi.customers.services``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, cast
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import models
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import numberformat, timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from guanxi.api.crud import get_visible
from guanxi.core.choices import Action
from guanxi.core.errors import Conflict, FieldErrors, PreconditionFailed
from guanxi.core.forms import RecordForm, style_widget
from guanxi.core.money import short_money
from guanxi.core.permissions import can, hidden_fields, may_reach, restricted, visible_ref
from guanxi.core.pickers import RecordPicker
from guanxi.core.qr import qr_svg
from guanxi.core.registry import resource_at
from guanxi.core.views import display
from guanxi.core.views.base import GuanxiViewMixin, may, register_view, resource_url
from guanxi.core.views.lists import ObjectListView
from guanxi.core.views.records import PANEL_LIMIT, ObjectDetailView, ObjectEditView
from guanxi.customers import birthdays, hierarchy, pool_report, services
from guanxi.customers.acquaintances import account_acquaintances, contact_acquaintances
from guanxi.customers.choices import Closeness, DecisionRole, Stance
from guanxi.customers.completeness import completeness
from guanxi.customers.forms import LINKS_RULE, contact_form_class, phone_text, point_label
from guanxi.customers.models import Account, AccountContact, Contact
from guanxi.customers.network import account_network
from guanxi.customers.org_chart import org_chart
from guanxi.customers.relations import RelationType, relation_rows, relation_type
from guanxi.customers.selectors import day_bounds, pool_statistics, statistics_period
from guanxi.customers.services.pool import (
    days_to_due,
    prospects_held,
    release_reason_choices,
    role_limits,
    role_requires_reason,
)
from guanxi.customers.vcard import contact_cards, vcard_response
from guanxi.customers.views_breakdown import urlpatterns as breakdown_urlpatterns
from guanxi.customers.views_duplicates import MergedRedirectMixin, duplicate_alert
from guanxi.customers.views_duplicates import urlpatterns as duplicate_urlpatterns

# --- how emails and phones read -----------------------------------------------------------------------


def tel_href(point: dict[str, Any]) -> str:
    """``tel:`` with the E.164 number (RFC 3966), and the extension when there is one."""
    extension = point.get("extension") or ""
    return f"tel:{point['value']};ext={extension}" if extension else f"tel:{point['value']}"


def _point_rows(points: list[dict[str, Any]] | None, kind: str) -> SafeString:
    if not points:
        return display.EMPTY
    rows = []
    for point in points:
        if kind == "emails":
            href, text = f"mailto:{point['value']}", point["value"]
        else:
            href, text = tel_href(point), phone_text(point)
        rows.append((href, text, point_label(point)))
    return format_html(
        '<ul class="list-unstyled mb-0 gx-points" data-points="{}">{}</ul>',
        kind,
        format_html_join(
            "",
            '<li><a href="{}">{}</a> <span class="text-secondary small">{}</span></li>',
            rows,
        ),
    )


def email_links(points: list[dict[str, Any]] | None) -> SafeString:
    return _point_rows(points, "emails")


def phone_links(points: list[dict[str, Any]] | None) -> SafeString:
    return _point_rows(points, "phones")


def main_point(points: list[dict[str, Any]] | None, kind: str, *, link: bool = True) -> SafeString | str:
    """The main email or phone (and how many more) for a list cell."""
    if not points:
        return display.EMPTY
    point = points[0]
    text = point["value"] if kind == "emails" else phone_text(point)
    href = f"mailto:{point['value']}" if kind == "emails" else tel_href(point)
    # f-strings of escaped values, not format_html: a contact list has two of these a row.
    more = f' <span class="text-secondary small">+{len(points) - 1}</span>' if len(points) > 1 else ""
    text = display.escaped(text)
    if not link:
        return mark_safe(f'<span class="gx-point" title="{text}">{text}</span>{more}')  # noqa: S308 - escaped
    return mark_safe(  # noqa: S308 - escaped
        f'<a href="{display.escaped(href)}" class="gx-point" title="{text}">{text}</a>{more}'
    )


# --- contacts ----------------------------------------------------------------------------------------


@register_view("contacts", "list")
class ContactListView(ObjectListView):
    """The generic list; emails and phones show the main one as a link instead of raw JSON."""

    cell_formats = {
        "emails": lambda points, link: main_point(points, "emails", link=link),
        "phones": lambda points, link: main_point(points, "phones", link=link),
    }
    name_reads_relations = False  # a contact is named by its display_name


@register_view("contacts", "add")
@register_view("contacts", "edit")
class ContactEditView(ObjectEditView):
    """The generic form plus emails, phones and account links (``guanxi.customers.forms``).

    ``/customers/contacts/add/?account=12`` starts with that account chosen (the account page links here).
    """

    def get_form_class(self, adding: bool = False) -> type[RecordForm]:
        return contact_form_class(self.resource, self.request.user, adding=adding)

    def get_form(self, obj: models.Model | None, data: Any = None, files: Any = None) -> RecordForm:
        form = super().get_form(obj, data, files)
        account = self.request.GET.get("account", "")
        field = form.fields.get("accounts")
        if obj is None and data is None and account.isdigit() and field is not None and _offers(field, account):
            form.initial["accounts"] = [account]
        return form

    def save(self, form: RecordForm, obj: models.Model | None) -> models.Model:
        extras = {**form.service_extras(), **form.contact_extras()}  # type: ignore[attr-defined]
        user = self.request.user
        if obj is None:
            return services.contact_create(user=user, data=form.service_data(), **extras)
        return services.contact_update(
            pk=obj.pk,
            user=user,
            data=form.service_data(),
            expected_version=form.cleaned_data.get("version"),
            **extras,
        )


def _offers(field: Any, value: str) -> bool:
    """Whether a select offers ``value`` (an id input, for very many accounts, takes any)."""
    choices = getattr(field, "choices", None)
    return choices is None or value in {str(v) for v, _label in choices}


@register_view("contacts", "detail")
class ContactDetailView(MergedRedirectMixin, ObjectDetailView):
    """Emails and phones as mailto/tel links; the accounts the contact is at (those the user may see)."""

    value_formats: ClassVar[dict[str, Callable[[Any], Any]]] = {
        "emails": lambda contact: email_links(contact.emails),
        "phones": lambda contact: phone_links(contact.phones),
    }

    def get_context(self, obj: models.Model) -> dict[str, Any]:
        context = super().get_context(obj)
        assert isinstance(obj, Contact)
        user = self.request.user
        if LINKS_RULE not in hidden_fields(user, Contact):
            links = (
                AccountContact.objects.filter(visible_ref("account_id", restricted(Account, user)), contact=obj)
                .select_related("account")
                .order_by("-is_primary", "account__name", "id")
            )
            accounts = resource_at("accounts")
            context["contact_accounts"] = [
                {
                    "account": link.account,
                    "url": resource_url(accounts, "detail", link.account_id),
                    "role": link.role,
                    "is_primary": link.is_primary,
                }
                for link in links
            ]
        context.update(direct_reports(obj, user))
        context["relations"] = relations_context(self.request, obj, can_change=context["can_change"])
        context["acquaintances"] = acquaintances_context(self.request, obj)
        if "birthday" not in hidden_fields(user, Contact):
            context["birthday_soon"] = birthdays.coming(obj.birthday, timezone.localdate(), lunar=obj.birthday_lunar)
        context["vcard_url"] = reverse("ui:contacts-vcard", args=[obj.pk])
        context["vcard_qr_url"] = reverse("ui:contacts-vcard-qr", args=[obj.pk])
        context["find_duplicates_url"] = reverse("ui:duplicates-find", args=["contacts", obj.pk])
        context["duplicate_alert"] = duplicate_alert(obj, user)
        # Companies hidden by the role: not counted (``LINKS_RULE``); none listed is one missing.
        context["completeness"] = completeness(
            obj, hidden_fields(user, Contact), accounts=context.get("contact_accounts")
        )
        return context


class RelationForm(forms.Form):
    """Relate the record whose page this is (a person, a company) to another of its type (the
    service checks everything)."""

    # Nothing is checked here (so no message is said twice): ``services.relation_add`` checks all.
    other = forms.CharField(required=False)
    kind = forms.CharField(label=gettext_lazy("Relationship"), required=False)
    note = forms.CharField(label=gettext_lazy("Note"), required=False, widget=forms.TextInput(attrs={"maxlength": 200}))

    def __init__(self, user: Any, relations: RelationType, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["other"].widget = RecordPicker(relations.path, restricted(relations.model, user, Action.VIEW))
        self.fields["other"].label = relations.other_label
        self.fields["kind"].widget = forms.Select(choices=relations.kinds.choices)
        self.fields["kind"].help_text = relations.kind_hint
        for field in self.fields.values():
            style_widget(field)


def card_errors(request: HttpRequest, form: forms.Form, exc: FieldErrors) -> None:
    """A service's refusal on a card's form (relations, 我方熟人): each message at its field, what was
    typed kept; the forms check nothing themselves, so nothing is said twice. A plain form (no htmx)
    goes back to the page, which says it in a message."""
    form.is_valid()
    for name, problems in exc.errors.items():
        for problem in problems:
            form.add_error(name if name in form.fields else None, problem)
    if not getattr(request, "htmx", None):
        messages.error(request, " ".join(p for problems in exc.errors.values() for p in problems))


def relations_context(
    request: HttpRequest,
    record: Contact | Account,
    form: RelationForm | None = None,
    *,
    can_change: bool | None = None,
) -> dict[str, Any]:
    """The relations card of a person's or a company's page: the rows, and the add form to whoever
    may change the record (``can_change``: as the page has worked it out already)."""
    user = request.user
    relations = relation_type(type(record))
    resource = resource_at(relations.path)
    rows = relation_rows(user, record)
    for row in rows:
        row["url"] = resource_url(resource, "detail", row["other"].pk)
        row["remove_url"] = reverse(f"ui:{relations.path}-relation-remove", args=[record.pk, row["id"]])
    return {
        "rows": rows,
        "can_change": may(user, record, Action.CHANGE) if can_change is None else can_change,
        # A refused form comes back with its errors; otherwise the card fetches one when opened.
        **relation_form_context(relations, record, form),
        # The same people (companies) as a list, to filter further, export or act on in bulk.
        "list_url": f"{resource_url(resource, 'list')}?related_to={record.pk}",
        "empty": relations.empty,
    }


def relation_form_context(relations: RelationType, record: Contact | Account, form: RelationForm | None) -> dict:
    """What the card's add form needs (``customers/relation_form.html``), in the card or alone."""
    return {
        "form": form,
        "add_url": reverse(f"ui:{relations.path}-relations", args=[record.pk]),
        "anchor": relations.anchor,
        "title": relations.title,
    }


class RelationsView(GuanxiViewMixin, View):
    """POST from a person's or a company's page (``model``): add a relation (``relation_id`` absent)
    or remove one. htmx gets the card back (with the form's errors and what was typed); a plain form
    goes back to the page. GET is the add form, fetched when the card's 添加关系 is opened (or a page
    of its own without JavaScript), for who may change the record."""

    http_method_names = ["get", "post"]
    model: type[Contact] | type[Account] = Contact

    def get(self, request: HttpRequest, pk: int, relation_id: int | None = None) -> HttpResponse:
        if relation_id is not None:  # removing is a POST
            return HttpResponseNotAllowed(["POST"])
        relations = relation_type(self.model)
        resource = resource_at(relations.path)
        record = cast(Contact | Account, get_visible(request, resource, pk))
        if not may(request.user, record, Action.CHANGE):
            raise DjangoPermissionDenied()
        form = RelationForm(request.user, relations, initial={"kind": relations.default_kind})
        context = {"relations": relation_form_context(relations, record, form), "object": record}
        if getattr(request, "htmx", None):
            return render(request, "customers/relation_form.html", context)
        back_url = f"{resource_url(resource, 'detail', pk)}#{relations.anchor}"
        return render(request, "customers/relation_form_page.html", {**context, "back_url": back_url})

    def post(self, request: HttpRequest, pk: int, relation_id: int | None = None) -> HttpResponse:
        relations = relation_type(self.model)
        record = cast(Contact | Account, get_visible(request, resource_at(relations.path), pk))
        form = None
        try:
            if relation_id is None:
                form = RelationForm(request.user, relations, request.POST)
                services.relation_add(
                    model=self.model,
                    record_id=pk,
                    other_id=request.POST.get("other", ""),
                    kind=request.POST.get("kind", ""),
                    note=request.POST.get("note", ""),
                    user=request.user,
                )
                form = None  # added: an empty form for the next one
            else:
                services.relation_remove(model=self.model, record_id=pk, relation_id=relation_id, user=request.user)
        except FieldErrors as exc:
            if form is None:
                raise
            card_errors(request, form, exc)
        if getattr(request, "htmx", None):
            return render(
                request, "customers/relations_panel.html", {"relations": relations_context(request, record, form)}
            )
        return redirect(f"{resource_url(resource_at(relations.path), 'detail', pk)}#{relations.anchor}")


class AcquaintanceForm(forms.Form):
    """How well the user knows the person whose page this is (the service checks everything)."""

    closeness = forms.CharField(
        label=gettext_lazy("How well do you know them?"), required=False, widget=forms.Select(choices=Closeness.choices)
    )
    note = forms.CharField(
        label=gettext_lazy("Note"),
        required=False,
        widget=forms.TextInput(
            attrs={"maxlength": 200, "placeholder": gettext_lazy("e.g. former colleagues at Huawei")}
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            style_widget(field)


def acquaintances_context(
    request: HttpRequest, contact: Contact, form: AcquaintanceForm | None = None
) -> dict[str, Any]:
    """The 我方熟人 card of a person's page: who of ours knows them, and the user's own say."""
    rows = contact_acquaintances(contact)
    mine = next((row for row in rows if row["user"].pk == request.user.pk), None)
    if form is None:
        initial = {"closeness": mine["closeness"], "note": mine["note"]} if mine else {"closeness": Closeness.KNOWN}
        form = AcquaintanceForm(initial=initial)
    return {
        "rows": rows,
        "mine": mine,
        "form": form,
        "set_url": reverse("ui:contacts-acquaintance", args=[contact.pk]),
        "remove_url": reverse("ui:contacts-acquaintance-remove", args=[contact.pk]),
    }


class AcquaintanceView(GuanxiViewMixin, View):
    """POST from a person's page: the user says they know them (or how well now), or takes it back
    (``remove``). htmx gets the card back; a plain form goes back to the page."""

    http_method_names = ["post"]
    remove = False

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        contact = visible_contact(request, pk)
        form = None
        try:
            if self.remove:
                services.acquaintance_remove(contact_id=pk, user=request.user)
            else:
                form = AcquaintanceForm(request.POST)
                services.acquaintance_set(
                    contact_id=pk,
                    user=request.user,
                    closeness=request.POST.get("closeness", ""),
                    note=request.POST.get("note", ""),
                )
                form = None
        except FieldErrors as exc:
            if form is None:
                raise
            card_errors(request, form, exc)
        if getattr(request, "htmx", None):
            context = {"acquaintances": acquaintances_context(request, contact, form)}
            return render(request, "customers/acquaintances_panel.html", context)
        return redirect(f"{resource_url(resource_at('contacts'), 'detail', pk)}#contact-acquaintances")


def direct_reports(contact: Contact, user: Any) -> dict[str, Any]:
    """Who reports to the person (those the user may see), by name: read by the manager's index."""
    hidden = hidden_fields(user, Contact)
    if "reports_to" in hidden:
        return {}
    reports = list(
        Contact.objects.restrict(user, Action.VIEW)
        .filter(reports_to=contact)
        .order_by("display_name", "id")[: PANEL_LIMIT + 1]
    )
    contacts = resource_at("contacts")
    more = len(reports) > PANEL_LIMIT
    return {
        "direct_reports": [
            {
                "contact": person,
                "url": resource_url(contacts, "detail", person.pk),
                "title": "" if "title" in hidden else person.title,
                "decision_role": "" if "decision_role" in hidden else person.get_decision_role_display(),
                "decision_colour": DecisionRole.colour(person.decision_role),
            }
            for person in reports[:PANEL_LIMIT]
        ],
        "direct_reports_more_url": f"{resource_url(contacts, 'list')}?reports_to={contact.pk}" if more else None,
    }


# --- accounts ----------------------------------------------------------------------------------------


def fit_explanation_list(items: list[dict[str, Any]] | None) -> SafeString:
    """The stored fit explanation, criterion by criterion (met or not, and the points it earned)."""
    if not items:
        return display.EMPTY
    rows = []
    for item in items:
        met = bool(item.get("matched"))
        mark = format_html(
            '<span class="badge bg-{}-lt me-1">{}</span>',
            "green" if met else "secondary",
            _("met") if met else _("not met"),
        )
        points = item.get("points")
        weight = item.get("weight")
        score = format_html(' <span class="text-secondary small">({}/{})</span>', points, weight) if weight else ""
        rows.append((mark, item.get("detail") or item.get("criterion") or "", score))
    return format_html('<ul class="list-unstyled mb-0">{}</ul>', format_html_join("", "<li>{}{}{}</li>", rows))


def _grouped(value: Any, decimals: int | None = None) -> str:
    # 948,000,000.00 in both languages: Django's zh-Hans formats group no digits at all.
    return numberformat.format(value, ".", decimal_pos=decimals, grouping=3, thousand_sep=",", force_grouping=True)


def _money_total(currency: str, total: Any) -> str:
    """CNY 9.48亿 (948,000,000.00) in the Chinese UI; CNY 948,000,000.00 in others."""
    short = short_money(total)
    return f"{currency} {short} ({_grouped(total, 2)})" if short else f"{currency} {_grouped(total, 2)}"


def _rollup_text(rollup: hierarchy.Rollup, value: Any, *, at_least: bool) -> str:
    if rollup.kind == "money":
        if not value:
            return str(display.EMPTY)
        return " · ".join(_money_total(row["currency"], row["total"]) for row in value)
    return _grouped(value) + ("+" if at_least else "")


def account_group(account: Account, user: Any) -> dict[str, Any] | None:
    """The group panel of an account page: the accounts above it, its subsidiaries, and the roll-ups
    of what it heads. None for an account on its own (no parent, no subsidiary the user may see)."""
    above = hierarchy.ancestors(account, user)
    below = hierarchy.subsidiaries(account, user, PANEL_LIMIT + 1)
    if not above and not below and account.parent_id is None:
        return None
    accounts = resource_at("accounts")
    list_url = resource_url(accounts, "list")
    hidden = hidden_fields(user, Account)
    group: dict[str, Any] = {
        "ancestors": [(a, resource_url(accounts, "detail", a.pk)) for a in above],
        "parent_hidden": account.parent_id is not None and all(a.pk != account.parent_id for a in above),
        "subsidiaries": [
            {
                "account": a,
                "url": resource_url(accounts, "detail", a.pk),
                "tier": a.get_tier_display() if a.tier and "tier" not in hidden else "",
                "region": a.region if "region" not in hidden else "",
            }
            for a in below[:PANEL_LIMIT]
        ],
        "subsidiaries_url": f"{list_url}?parent={account.pk}" if len(below) > PANEL_LIMIT else None,
        "rollups": [],
    }
    if below:
        values, at_least = hierarchy.group_rollups(account, user)
        for rollup in hierarchy.registered_rollups():
            if rollup.key not in values:
                continue
            url = (
                f"{resource_url(resource_at(rollup.list_path), 'list')}?group={account.pk}"
                if rollup.list_path
                else None
            )
            group["rollups"].append(
                {
                    "key": rollup.key,
                    "label": rollup.label,
                    "text": _rollup_text(rollup, values[rollup.key], at_least=rollup.key in at_least),
                    "url": url,
                }
            )
    return group


#: A reporting line deeper than this is drawn at this indent (a phone has no room for more).
MAX_DRAWN_DEPTH = 5


@register_view("accounts", "detail")
class AccountDetailView(MergedRedirectMixin, ObjectDetailView):
    """The account's fields (the fit explained line by line) and the contacts there the user may see."""

    def get_context(self, obj: models.Model) -> dict[str, Any]:
        context = super().get_context(obj)
        assert isinstance(obj, Account)
        user = self.request.user
        for row in context["fields"]:
            if row["name"] == "fit_explanation":
                row["value"] = fit_explanation_list(obj.fit_explanation)
        context["find_duplicates_url"] = reverse("ui:duplicates-find", args=["accounts", obj.pk])
        context["duplicate_alert"] = duplicate_alert(obj, user)
        context["group"] = account_group(obj, user)
        context["pool"] = pool_state(obj, user, can_change=context.get("can_change", False))
        context["network"] = network_rows(obj, user)
        context["relations"] = relations_context(self.request, obj, can_change=context["can_change"])
        context["acquaintances"] = account_acquaintance_rows(obj, user)
        contacts = resource_at("contacts")
        visible = restricted(Contact, user, Action.VIEW)
        if visible.query.is_empty():  # no contact at all, by role or by share: no panel
            context["completeness"] = completeness(obj, {*hidden_fields(user, Account), "contacts"})
            return context
        hidden = hidden_fields(user, Contact)
        # The people in chart order (who reports to whom, who decides first: ``org_chart``), the
        # first PANEL_LIMIT read whole. At an account with very many people the chart holds those
        # mapped; with none mapped, the newest links come first (the order of the (account,
        # contact) index: no sort at all; by name, the bench's largest account took 29 ms).
        chart = org_chart(obj, user)
        depths = {node.pk: node.depth for node in chart.nodes[:PANEL_LIMIT]}
        if depths:
            found = {
                link.contact_id: link
                for link in AccountContact.objects.filter(account=obj, contact_id__in=list(depths)).select_related(
                    "contact"
                )
            }
            links = [found[pk] for pk in depths if pk in found]
            more = len(chart.nodes) > PANEL_LIMIT or chart.mapped_only
        else:
            links = list(
                AccountContact.objects.filter(visible_ref("contact_id", visible), account=obj)
                .select_related("contact")
                .order_by("-contact_id")[: PANEL_LIMIT + 1]
            )
            more = len(links) > PANEL_LIMIT
        context["account_contacts_newest_first"] = chart.mapped_only and not depths
        context["account_contacts_mapped_only"] = chart.mapped_only and bool(depths)
        context["account_contacts"] = [
            {
                "contact": link.contact,
                "url": resource_url(contacts, "detail", link.contact_id),
                "depth": min(depths.get(link.contact_id, 0), MAX_DRAWN_DEPTH),
                "role": link.role,
                "is_primary": link.is_primary,
                "decision_role": "" if "decision_role" in hidden else link.contact.get_decision_role_display(),
                "decision_colour": DecisionRole.colour(link.contact.decision_role),
                "stance": "" if "stance" in hidden else link.contact.get_stance_display(),
                "stance_colour": Stance.colour(link.contact.stance),
                # Nothing rather than a dash for none: the line under the name then stays out.
                "email": main_point(link.contact.emails, "emails")
                if link.contact.emails and "emails" not in hidden
                else None,
                "phone": main_point(link.contact.phones, "phones")
                if link.contact.phones and "phones" not in hidden
                else None,
                "title": "" if "title" in hidden else link.contact.title,
                # Whom at the company someone followed up lately, and whom never.
                "last_interaction": None if "last_interaction_at" in hidden else link.contact.last_interaction_at,
            }
            for link in links[:PANEL_LIMIT]
        ]
        list_url = resource_url(contacts, "list")
        context["account_contacts_more_url"] = f"{list_url}?account={obj.pk}" if more else None
        add_url = resource_url(contacts, "add")
        context["contact_add_url"] = f"{add_url}?account={obj.pk}" if can(user, Contact, Action.ADD) else None
        context["completeness"] = completeness(obj, hidden_fields(user, Account), contacts=context["account_contacts"])
        return context


def account_acquaintance_rows(account: Account, user: Any) -> list[dict[str, Any]]:
    """Who of ours knows whom at the account (我方熟人), each person a link."""
    contacts = resource_at("contacts")
    rows = account_acquaintances(account, user)
    for row in rows:
        row["contact_url"] = resource_url(contacts, "detail", row["contact"].pk)
    return rows


def network_rows(account: Account, user: Any) -> list[dict[str, Any]]:
    """The account's card of whom its people know elsewhere, with the links of both people."""
    contacts = resource_at("contacts")
    rows = account_network(account, user)
    for row in rows:
        row["ours_url"] = resource_url(contacts, "detail", row["ours"].pk)
        row["theirs_url"] = resource_url(contacts, "detail", row["theirs"].pk)
    return rows


def pool_state(account: Account, user: Any, *, can_change: bool) -> dict[str, Any]:
    """What the account's page says and offers about the customer pool (公海): since when and why it
    is there, and 领取 (claim); or, to whoever may change it, 退回公海 (release) with a reason."""
    if account.pooled_at is None:
        due = account.pool_due_at
        if due is not None and "pool_due_at" in hidden_fields(user, Account):
            due = None
        # Going back soon unless someone follows it up: say when, and how to keep it.
        days_left = days_to_due(due) if due is not None else None
        release = can_change and account.owner_id is not None
        reasons = release_reason_choices(user) if release else []
        return {
            "release": release,
            "reasons": reasons,
            "reason_required": bool(reasons) and role_requires_reason(user),
            "due": due,
            "days_left": days_left,
            "note": can_change,
        }
    claim = can(user, Account, Action.CHANGE)
    limit = role_limits(user)[0] if claim else None
    held = prospects_held(user) if limit is not None else None
    return {
        "since": account.pooled_at,
        "reason": account.pool_reason,
        "claim": claim and (limit is None or held is None or held < limit),
        "limit": limit,
        "held": held,
    }


class AccountPoolView(GuanxiViewMixin, View):
    """POST from an account's page: claim it from the pool, or release it to the pool with a reason."""

    http_method_names = ["post"]
    action = ""

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        accounts = resource_at("accounts")
        detail = resource_url(accounts, "detail", pk) or "/"
        try:
            if self.action == "claim":
                account = services.pool_claim(pk=pk, user=request.user)
                messages.success(request, _("%(account)s is yours now.") % {"account": account})
            else:
                version = request.POST.get("version", "")
                account = services.pool_release(
                    pk=pk,
                    user=request.user,
                    reason=request.POST.get("reason", ""),
                    reason_id=request.POST.get("reason_id", ""),
                    expected_version=int(version) if version.isdigit() else None,
                )
                messages.success(request, _("%(account)s is back in the customer pool.") % {"account": account})
                if not restricted(Account, request.user, Action.VIEW).filter(pk=pk).exists():
                    # Released by someone who reached it only through a share (shares go with a
                    # release) and sees no pool: the list, not a 404.
                    return redirect(resource_url(accounts, "list") or "/")
        except (FieldErrors, Conflict, PreconditionFailed) as exc:
            # Said on the account's page; a record one may not see or change answers 404 / 403 as
            # everywhere (GuanxiViewMixin).
            problems = [message for field_messages in exc.errors.values() for message in field_messages]
            messages.error(request, " ".join(problems) or exc.detail)
        return redirect(detail)


class PoolStatisticsView(GuanxiViewMixin, View):
    """公海统计: the accounts released to, taken back by the rules into, and claimed from the customer
    pool in a period (this month by default), per salesperson, per release reason and per rule."""

    def get(self, request: HttpRequest) -> HttpResponse:
        if not may_reach(request.user, Account, Action.VIEW):
            raise DjangoPermissionDenied()
        try:
            first, last = statistics_period(request.GET.get("from"), request.GET.get("to"))
            errors: list[str] = []
        except FieldErrors as exc:
            first, last = statistics_period(None, None)
            errors = [message for field_messages in exc.errors.values() for message in field_messages]
        figures = pool_statistics(request.user, *day_bounds(first, last))
        fmt = request.GET.get("format", "")
        if fmt in pool_report.FORMATS and not errors:  # a wrong day shows the page and its message instead
            return pool_report.pool_report_response(figures, first, last, fmt)
        accounts = resource_at("accounts")
        pool_url = f"{resource_url(accounts, 'list')}?{urlencode(accounts.pool.query())}" if accounts.pool else ""
        totals = [
            ("released", _("Released by hand"), figures.released),
            ("taken_back", _("Taken back by the rules"), figures.taken_back),
            ("claimed", _("Claimed"), figures.claimed),
        ]
        # The two breakdowns beside the people: (table id, title, row attribute, count kind, rows, empty text).
        breakdowns = [
            (
                "pool-by-reason",
                _("Why accounts were released"),
                "reason",
                "released",
                figures.reasons,
                _("No account was released by hand."),
            ),
            (
                "pool-by-rule",
                _("Taken back by pool rule"),
                "rule",
                "taken_back",
                figures.rules,
                _("The pool rules took back no account."),
            ),
        ]
        period = urlencode({"from": first.isoformat(), "to": last.isoformat()})
        context = {
            "first": first,
            "last": last,
            "errors": errors,
            "figures": figures,
            "pool_url": pool_url,
            "totals": totals,
            "breakdowns": breakdowns,
            "downloads": [(fmt, f"?{period}&format={fmt}") for fmt in pool_report.FORMATS],
        }
        return render(request, "customers/pool_statistics.html", context)


def visible_contact(request: HttpRequest, pk: int) -> Contact:
    """The contact as the API reads it: one lookup, 404 for one the user may not see."""
    return cast(Contact, get_visible(request, resource_at("contacts"), pk))


class ContactVcardView(GuanxiViewMixin, View):
    """保存到通讯录: the contact as a vCard download, which a phone offers to add to its contacts."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        contact = visible_contact(request, pk)
        return vcard_response(contact, request.user)


#: The densest QR code offered for a card: 97 modules a side (858 bytes), 2.5 px each at 240 px. A
#: typical card (name, company, title, two phones, an email, an address in Chinese) takes 300–500 bytes.
QR_MAX_VERSION = 20


class ContactVcardQrView(GuanxiViewMixin, View):
    """The contact's card as a QR code, for the phone's camera (扫码存入通讯录) beside a desktop.

    Loaded when the menu opens: drawing the code takes tens of milliseconds, which the contact's
    page, opened many times a day, should not pay each time."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        contact = visible_contact(request, pk)
        try:
            card = contact_cards([contact], request.user)
            svg: str | None = qr_svg(
                card, size=240, title_id="vcard-qr-title", max_version=QR_MAX_VERSION, on_screen=True
            )
        except ValueError:  # too much on the card for a code a camera can read: the file still works
            svg = None
        return render(request, "customers/vcard_qr.html", {"svg": svg})


# The duplicates queue, merge and undo pages (guanxi.customers.views_duplicates), the account breakdown
# (views_breakdown), the vCard, and the customer pool's claim, release and statistics.
ui_urlpatterns = [
    *duplicate_urlpatterns,
    *breakdown_urlpatterns,
    path("customers/contacts/<int:pk>/vcard/", ContactVcardView.as_view(), name="contacts-vcard"),
    path("customers/contacts/<int:pk>/vcard/qr/", ContactVcardQrView.as_view(), name="contacts-vcard-qr"),
    path("customers/contacts/<int:pk>/acquaintance/", AcquaintanceView.as_view(), name="contacts-acquaintance"),
    path(
        "customers/contacts/<int:pk>/acquaintance/remove/",
        AcquaintanceView.as_view(remove=True),
        name="contacts-acquaintance-remove",
    ),
    *(
        route
        for model, path_name in ((Contact, "contacts"), (Account, "accounts"))
        for route in (
            path(
                f"customers/{path_name}/<int:pk>/relations/",
                RelationsView.as_view(model=model),
                name=f"{path_name}-relations",
            ),
            path(
                f"customers/{path_name}/<int:pk>/relations/<int:relation_id>/remove/",
                RelationsView.as_view(model=model),
                name=f"{path_name}-relation-remove",
            ),
        )
    ),
    path("customers/pool/statistics/", PoolStatisticsView.as_view(), name="pool-statistics"),
    path("customers/accounts/<int:pk>/claim/", AccountPoolView.as_view(action="claim"), name="accounts-claim"),
    path("customers/accounts/<int:pk>/release/", AccountPoolView.as_view(action="release"), name="accounts-release"),
]
