"""factory-boy factories for the platform's rows, and helpers that grant permissions.

Factories write rows directly (no services, no change log): they build the world a test starts from.
Tests that exercise a write path call the API or the services instead.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable
from typing import Any

import factory
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.db import models
from django.test import Client

from guanxi.core.models import Attachment, ChangeLogEntry, CustomFieldDefinition, Note, Tag, TaggedItem, TimelineEntry
from guanxi.identity.models import ApiToken, FieldRule, Role, RolePermission, Share, Team, User, hash_token
from tests.testapp.models import Gadget

PASSWORD = "Correct-Horse-73!"  # passes the password validators
ACTIONS = ("view", "add", "change", "delete")


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")
    territory = "华东"


class RoleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Role

    name = factory.Sequence(lambda n: f"Role {n}")
    parent = None


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    display_name = factory.Sequence(lambda n: f"用户 {n}")
    team = None
    role = None
    language = "en"

    @factory.post_generation
    def password(obj: User, create: bool, extracted: str | None, **kwargs: Any) -> None:  # noqa: N805
        obj.set_password(extracted or PASSWORD)
        if create:
            obj.save(update_fields=["password"])


class AdminFactory(UserFactory):
    is_superuser = True
    is_staff = True


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"tag-{n}")


class GadgetFactory(factory.django.DjangoModelFactory):
    """A gadget owned by ``owner`` and, unless given, filed under the owner's team."""

    class Meta:
        model = Gadget

    name = factory.Sequence(lambda n: f"Gadget {n:04d}")
    price = factory.Sequence(lambda n: decimal.Decimal(n % 1000) + decimal.Decimal("0.50"))
    status = "new"
    owner = None
    team = factory.LazyAttribute(lambda o: o.owner.team if o.owner is not None else None)
    created_by = factory.LazyAttribute(lambda o: o.owner)


class CustomFieldFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomFieldDefinition

    object_type = "testapp.gadget"
    key = factory.Sequence(lambda n: f"field_{n}")
    label_en = factory.LazyAttribute(lambda o: o.key.replace("_", " ").title())
    label_zh = factory.LazyAttribute(lambda o: f"字段 {o.key}")
    field_type = "text"


# --- helpers ----------------------------------------------------------------------------------------


def content_type_of(model_or_obj: type[models.Model] | models.Model) -> ContentType:
    return ContentType.objects.get_for_model(model_or_obj, for_concrete_model=False)


def client_for(user: Any) -> Client:
    """A test client signed in as ``user`` (no password, no second factor)."""
    client = Client()
    client.force_login(user)
    return client


def grant(role: Role, object_type: str, actions: Iterable[str] | str = ACTIONS, scope: str = "own") -> None:
    """Give ``role`` the ``scope`` for each action on ``object_type`` (``*`` = every CRM record type)."""
    if isinstance(actions, str):
        actions = [actions]
    # One upsert for all the actions: the permission tests grant a few dozen times per test.
    RolePermission.objects.bulk_create(
        [RolePermission(role=role, object_type=object_type, action=action, scope=scope) for action in actions],
        update_conflicts=True,
        unique_fields=["role", "object_type", "action"],
        update_fields=["scope"],
    )


def field_rule(role: Role, object_type: str, field: str, access: str) -> FieldRule:
    rule, _ = FieldRule.objects.update_or_create(
        role=role, object_type=object_type, field=field, defaults={"access": access}
    )
    return rule


def share(obj: models.Model, *, user: User | None = None, team: Team | None = None, access: str = "view") -> Share:
    return Share.objects.create(
        content_type=content_type_of(obj), object_id=obj.pk, user=user, team=team, access=access
    )


def make_token(user: User, scopes: list[str], name: str = "test token", **extra: Any) -> tuple[ApiToken, str]:
    """A token row and its key (only the hash is stored, as in production)."""
    while True:
        key = ApiToken.generate_key()
        if not ApiToken.objects.filter(prefix=key[: ApiToken.PREFIX_LENGTH]).exists():
            break
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=key[: ApiToken.PREFIX_LENGTH],
        key_hash=hash_token(key),
        scopes=scopes,
        **extra,
    )
    return token, key


def tag(obj: models.Model, *names: str) -> None:
    ct = content_type_of(obj)
    for name in names:
        TaggedItem.objects.get_or_create(tag=TagFactory(name=name), content_type=ct, object_id=obj.pk)


def attach(
    obj: models.Model, *, name: str = "quote.txt", content: bytes = b"hello", by: User | None = None
) -> Attachment:
    attachment = Attachment(
        content_type=content_type_of(obj),
        object_id=obj.pk,
        name=name,
        size=len(content),
        mime_type="text/plain",
        created_by=by,
    )
    attachment.file.save(name, ContentFile(content), save=False)
    attachment.save()
    return attachment


def note(obj: models.Model, *, owner: User, body: str = "a note") -> Note:
    return Note.objects.create(
        content_type=content_type_of(obj),
        object_id=obj.pk,
        body=body,
        owner=owner,
        team=owner.team,
        created_by=owner,
    )


def timeline_entry(obj: models.Model, *, actor: User | None = None, summary: str = "called") -> TimelineEntry:
    from django.utils import timezone

    return TimelineEntry.objects.create(
        content_type=content_type_of(obj),
        object_id=obj.pk,
        kind="call",
        summary=summary,
        actor=actor,
        at=timezone.now(),
    )


def changelog_entry(obj: models.Model, *, actor: User | None, action: str = "update") -> ChangeLogEntry:
    return ChangeLogEntry.objects.create(
        actor=actor,
        actor_repr=str(actor) if actor else "",
        source="api",
        action=action,
        content_type=content_type_of(obj),
        object_id=obj.pk,
        object_repr=str(obj),
        changes={"name": ["a", "b"]},
    )
