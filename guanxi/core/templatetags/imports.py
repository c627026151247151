"""``{% import_url resource as href %}``: the import page of a list's type, for users who may import it."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

from guanxi.core.choices import Action
from guanxi.core.imports.specs import import_spec_for
from guanxi.core.permissions import can

register = template.Library()


@register.simple_tag(takes_context=True)
def import_url(context: Any, resource: Any) -> str:
    """ "" unless the type has an import spec and the user has the "import" permission on it."""
    spec = import_spec_for(resource.model) if resource is not None else None
    request = context.get("request")
    user = getattr(request, "user", None)
    if spec is None or user is None or not can(user, spec.model, Action.IMPORT):
        return ""
    return reverse("ui:imports-new", args=[spec.type])
