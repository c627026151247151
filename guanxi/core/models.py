"""Base models for every CRM record, built from small feature mixins, and the shared core tables.

A record model is declared as ``class Account(GuanxiModel)`` and gets: 64-bit id, timestamps,
created_by, owner + team, a ``version`` bumped on every write, soft delete, tags, custom fields and
``objects.restrict(user, action)``. Records that are not owned by a person (tags, custom field
definitions) take only the mixins they need.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from guanxi.core.choices import ChangeAction, ChangeSource, CustomFieldType, JobStatus, Scope

if TYPE_CHECKING:
    from guanxi.identity.models import User


class RestrictedQuerySet(models.QuerySet):
    """A queryset that knows how to narrow itself to what a user may do."""

    def restrict(self, user: Any, action: str = "view") -> RestrictedQuerySet:
        from guanxi.core.permissions import restrict_queryset

        return restrict_queryset(self, user, action)


class LiveManager(models.Manager.from_queryset(RestrictedQuerySet)):  # type: ignore[misc]
    """Default manager: hides soft-deleted rows so no list, search or report sees them by accident."""

    def get_queryset(self) -> RestrictedQuerySet:
        qs = super().get_queryset()
        if issubclass(self.model, SoftDeleteMixin):
            qs = qs.filter(deleted_at__isnull=True)
        return qs


RestrictedManager = models.Manager.from_queryset(RestrictedQuerySet)


class PermissionScopeMixin(models.Model):
    """How a permission scope (own/team/subordinates/all) reads as a filter on this model.

    The default suits shared dictionaries (tags, custom field definitions): any scope but "none"
    means every row. Owned records and identity models override it.
    """

    #: Explicit sharing of single records applies to this model.
    shareable: ClassVar[bool] = False
    #: Notes, files and timeline entries can hang on records of this model.
    has_timeline: ClassVar[bool] = False
    #: Users may follow (关注) records of this model: a button on the record's page, 我关注的 on its list.
    followable: ClassVar[bool] = False
    #: A field a role sees masked (号码脱敏) can be asked for in full, one logged request at a time
    #: (``guanxi.core.masking``); elsewhere a masked field stays masked.
    revealable: ClassVar[bool] = False

    class Meta:
        abstract = True

    @classmethod
    def scope_filter(cls, user: User, scope: str) -> Q | None:
        return None if scope == Scope.NONE else Q()

    @classmethod
    def object_type_key(cls) -> str:
        """The name permissions, tokens and custom fields use for this model: ``app.model``."""
        return f"{cls._meta.app_label}.{cls._meta.model_name}"


class TimestampMixin(models.Model):
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)

    class Meta:
        abstract = True


class CreatedByMixin(models.Model):
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )

    class Meta:
        abstract = True


class VersionMixin(models.Model):
    """Optimistic concurrency: services bump ``version``; API clients send it back in If-Match."""

    version = models.PositiveIntegerField(_("version"), default=1, editable=False)

    class Meta:
        abstract = True


class SoftDeleteMixin(models.Model):
    """Deletes move a record to the recycle bin; purge removes it for good."""

    deleted_at = models.DateTimeField(_("deleted at"), null=True, blank=True, editable=False, db_index=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("deleted by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )

    class Meta:
        abstract = True

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class OwnedMixin(models.Model):
    """A record that belongs to a person and a team; the scopes own/team/subordinates read these."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    team = models.ForeignKey(
        "identity.Team",
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    shareable: ClassVar[bool] = True
    has_timeline: ClassVar[bool] = True

    class Meta:
        abstract = True

    @classmethod
    def scope_filter(cls, user: User, scope: str) -> Q | None:
        from guanxi.identity.selectors import user_subordinate_ids, user_team_ids

        if scope == Scope.ALL:
            return Q()
        if scope == Scope.OWN:
            return Q(owner_id=user.pk)
        if scope == Scope.TEAM:
            return Q(owner_id=user.pk) | Q(team_id__in=user_team_ids(user))
        if scope == Scope.SUBORDINATES:
            return Q(owner_id=user.pk) | Q(owner_id__in=user_subordinate_ids(user))
        return None


class CustomFieldsMixin(models.Model):
    """Values of user-defined fields, keyed by the definition's key; validated by core.custom_fields."""

    custom_fields = models.JSONField(_("custom fields"), default=dict, blank=True)

    class Meta:
        abstract = True


class GuanxiModel(
    OwnedMixin,  # first, so its scope_filter and shareable win over PermissionScopeMixin's
    PermissionScopeMixin,
    TimestampMixin,
    CreatedByMixin,
    VersionMixin,
    SoftDeleteMixin,
    CustomFieldsMixin,
):
    """The base of every owned CRM record (accounts, contacts, leads, deals, tickets, ...)."""

    objects = LiveManager()
    all_objects = RestrictedManager()

    class Meta:
        abstract = True
        base_manager_name = "all_objects"


# --- change log -----------------------------------------------------------------------------------


class ChangeLogEntry(models.Model):
    """One write to one record: who, when, through which channel, and each field before/after."""

    time = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_repr = models.CharField(_("actor"), max_length=200, blank=True)
    source = models.CharField(_("source"), max_length=10, choices=ChangeSource.choices)
    request_id = models.CharField(_("request id"), max_length=64, blank=True, db_index=True)
    action = models.CharField(_("action"), max_length=10, choices=ChangeAction.choices)
    content_type = models.ForeignKey(ContentType, verbose_name=_("object type"), on_delete=models.PROTECT)
    object_id = models.BigIntegerField(_("object id"))
    object_repr = models.CharField(_("object"), max_length=200)
    changes = models.JSONField(_("changes"), default=dict)

    objects = RestrictedManager()

    #: Besides the entries a user made (role scope), they see the history of every record they may view.
    also_follows_parent: ClassVar[bool] = True

    class Meta:
        verbose_name = _("change log entry")
        verbose_name_plural = _("change log")
        ordering = ("-id",)
        indexes = [models.Index(fields=("content_type", "object_id", "-id"), name="changelog_object_idx")]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.object_repr}"

    @classmethod
    def scope_filter(cls, user: User, scope: str) -> Q | None:
        """Whose entries a role's change-log scope reaches: everyone's ("all"), else the user's own
        (an entry carries a record's values, which a team's scope on the change log does not open)."""
        if scope == Scope.NONE:
            return None
        if scope == Scope.ALL:
            return Q()
        return Q(actor_id=user.pk)


# --- tags -----------------------------------------------------------------------------------------


class Tag(PermissionScopeMixin, TimestampMixin, CreatedByMixin, VersionMixin):
    """A label that can be put on any record; one shared vocabulary."""

    name = models.CharField(_("name"), max_length=60, unique=True)
    colour = models.CharField(_("colour"), max_length=20, default="blue")
    description = models.CharField(_("description"), max_length=200, blank=True)

    objects = RestrictedManager()

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        from guanxi.core.tags import normalize

        self.name = normalize(self.name)  # 意向 ：：高 -> 意向::高, the scoped form (core.tags)
        super().save(*args, **kwargs)


class TaggedItem(models.Model):
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="items")
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
    object_id = models.BigIntegerField()
    content_object = GenericForeignKey("content_type", "object_id")

    class Meta:
        constraints = [models.UniqueConstraint(fields=("content_type", "object_id", "tag"), name="taggeditem_unique")]
        indexes = [models.Index(fields=("tag", "content_type"), name="taggeditem_tag_idx")]

    def __str__(self) -> str:
        return f"{self.tag_id}→{self.content_type_id}#{self.object_id}"


# --- custom fields --------------------------------------------------------------------------------


class CustomFieldDefinition(PermissionScopeMixin, TimestampMixin, CreatedByMixin, VersionMixin):
    """A field an administrator adds to a record type; values live in the record's ``custom_fields``."""

    object_type = models.CharField(_("object type"), max_length=100)
    key = models.SlugField(_("key"), max_length=50, help_text=_("Letters, digits and underscores."))
    label_en = models.CharField(_("label (English)"), max_length=100)
    label_zh = models.CharField(_("label (Chinese)"), max_length=100)
    field_type = models.CharField(_("type"), max_length=20, choices=CustomFieldType.choices)
    choices = models.JSONField(_("choices"), default=list, blank=True)
    required = models.BooleanField(_("required"), default=False)
    filterable = models.BooleanField(_("filterable"), default=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    objects = RestrictedManager()

    class Meta:
        verbose_name = _("custom field")
        verbose_name_plural = _("custom fields")
        ordering = ("object_type", "position", "key")
        constraints = [models.UniqueConstraint(fields=("object_type", "key"), name="customfield_unique_key")]

    def __str__(self) -> str:
        return f"{self.object_type}.{self.key}"

    @property
    def label(self) -> str:
        from django.utils.translation import get_language

        return self.label_zh if (get_language() or "").startswith("zh") else self.label_en


# --- attachments ----------------------------------------------------------------------------------


def attachment_path(instance: Attachment, filename: str) -> str:
    return f"attachments/{instance.content_type_id}/{instance.object_id}/{filename}"


class Attachment(PermissionScopeMixin, TimestampMixin, CreatedByMixin):
    """A file on a record. Who may see it follows who may see the record it hangs on."""

    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
    object_id = models.BigIntegerField()
    content_object = GenericForeignKey("content_type", "object_id")
    follows_parent: ClassVar[bool] = True
    file = models.FileField(_("file"), upload_to=attachment_path, max_length=300)
    name = models.CharField(_("name"), max_length=200)
    size = models.PositiveBigIntegerField(_("file size"))
    mime_type = models.CharField(_("type"), max_length=100)

    objects = RestrictedManager()

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ("-id",)
        indexes = [models.Index(fields=("content_type", "object_id"), name="attachment_object_idx")]

    def __str__(self) -> str:
        return self.name


# --- timeline -------------------------------------------------------------------------------------


class TimelineEntry(PermissionScopeMixin, models.Model):
    """A user-facing event on a customer's history (note, field change, email, order, ticket...).

    Modules add entries through ``core.timeline.timeline_add``; the change log is the audit trail,
    the timeline is the story a salesperson reads.
    """

    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
    object_id = models.BigIntegerField()
    subject = GenericForeignKey("content_type", "object_id")
    follows_parent: ClassVar[bool] = True
    kind = models.CharField(_("kind"), max_length=30)
    at = models.DateTimeField(_("time"), db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    summary = models.CharField(_("summary"), max_length=300)
    body = models.TextField(_("details"), blank=True)
    data = models.JSONField(default=dict, blank=True)

    objects = RestrictedManager()

    class Meta:
        verbose_name = _("timeline entry")
        verbose_name_plural = _("timeline")
        ordering = ("-at", "-id")
        indexes = [models.Index(fields=("content_type", "object_id", "-at"), name="timeline_subject_idx")]

    def __str__(self) -> str:
        return self.summary


class Note(GuanxiModel):
    """A free-text note on a record's timeline; notes are records too (owned, audited, restorable)."""

    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, related_name="+")
    object_id = models.BigIntegerField()
    subject = GenericForeignKey("content_type", "object_id")
    follows_parent: ClassVar[bool] = True
    body = models.TextField(_("note"))

    class Meta:
        verbose_name = _("note")
        verbose_name_plural = _("notes")
        ordering = ("-id",)
        indexes = [models.Index(fields=("content_type", "object_id"), name="note_subject_idx")]

    def __str__(self) -> str:
        return self.body[:60]


class RevealCount(models.Model):
    """How many masked values (号码脱敏) a user saw in full on a day: ``record_reveal``'s allowance,
    one row a user a day, locked while a view is counted. Kept apart from the change log, which
    records each view: an index there on views made every change-log insert pay for it (an import
    writes one a record: 10% of the contact import's rate on SQLite)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=("user", "day"), name="revealcount_user_day")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.day}: {self.count}"


class SavedView(TimestampMixin, models.Model):
    """A list's filters, sort and columns saved by a user, optionally shared with everyone."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views")
    object_type = models.CharField(max_length=100)
    name = models.CharField(_("name"), max_length=100)
    query = models.CharField(_("query"), max_length=2000, blank=True)
    columns = models.JSONField(default=list, blank=True)
    shared = models.BooleanField(_("shared with everyone"), default=False)

    class Meta:
        verbose_name = _("saved view")
        verbose_name_plural = _("saved views")
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class RecentView(models.Model):
    """A record a user opened lately (its page in the UI), for the search box's "最近查看" and
    ``GET /api/v1/search/recent``. One row per user and record, its time moved on each visit; the
    newest ``search.recent.KEPT`` per user are kept. Shown through ``restrict``, like a search hit."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, related_name="+")
    object_id = models.BigIntegerField()
    viewed_at = models.DateTimeField()

    class Meta:
        verbose_name = _("recently viewed record")
        verbose_name_plural = _("recently viewed records")
        constraints = [models.UniqueConstraint(fields=("user", "content_type", "object_id"), name="recentview_unique")]
        indexes = [models.Index(fields=("user", "-viewed_at"), name="recentview_user_idx")]

    def __str__(self) -> str:
        return f"{self.content_type_id}:{self.object_id}"


class Follow(models.Model):
    """A record a user follows (关注, ``guanxi.core.follows``): one they want to keep an eye on
    without owning it. Personal: only the user reads their own; the record's history is not touched."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, related_name="+")
    object_id = models.BigIntegerField()
    created_at = models.DateTimeField(_("followed since"), auto_now_add=True)

    class Meta:
        verbose_name = _("followed record")
        verbose_name_plural = _("followed records")
        # Also the index of "the records this user follows of this type" (the list's 我关注的).
        constraints = [models.UniqueConstraint(fields=("user", "content_type", "object_id"), name="follow_unique")]
        # "Who follows these records", read on each change of one (activities.notifications).
        indexes = [models.Index(fields=("content_type", "object_id"), name="follow_object_idx")]

    def __str__(self) -> str:
        return f"{self.content_type_id}:{self.object_id}"


# --- background jobs ------------------------------------------------------------------------------


def job_file_path(instance: Job, filename: str) -> str:
    return f"jobs/{instance.kind}/{instance.pk or 'new'}/{filename}"


class Job(PermissionScopeMixin, TimestampMixin):
    """A long piece of work a user started (import, export, recompute): its status, progress and files.

    The task that runs it updates ``processed`` / ``total`` as it goes and keeps what it needs to
    resume after a crash in ``checkpoint``; the UI and ``/api/v1/jobs`` read progress from here.
    A job is seen by the user who started it (and superusers), whatever their role.
    """

    kind = models.CharField(_("kind"), max_length=30, db_index=True)  # "import", "export", ...
    object_type = models.CharField(_("object type"), max_length=100, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("started by"), on_delete=models.PROTECT, related_name="jobs"
    )
    status = models.CharField(_("status"), max_length=10, choices=JobStatus.choices, default=JobStatus.PENDING)
    total = models.PositiveBigIntegerField(_("total"), null=True, blank=True)
    processed = models.PositiveBigIntegerField(_("processed"), default=0)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    result = models.JSONField(_("result"), default=dict, blank=True)
    checkpoint = models.JSONField(default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)
    input_file = models.FileField(_("input file"), upload_to=job_file_path, max_length=300, blank=True)
    output_file = models.FileField(_("result file"), upload_to=job_file_path, max_length=300, blank=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    objects = RestrictedManager()

    class Meta:
        verbose_name = _("job")
        verbose_name_plural = _("jobs")
        ordering = ("-created_at", "-id")
        indexes = [models.Index(fields=("user", "kind", "created_at"), name="job_user_kind_idx")]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"

    @classmethod
    def scope_filter(cls, user: User, scope: str) -> Q | None:
        # Jobs are personal: a role grants nothing here, only having started the job does.
        return Q() if user.is_superuser else Q(user_id=user.pk)

    @property
    def percent(self) -> int:
        if self.status == JobStatus.SUCCEEDED:
            return 100
        if not self.total:
            return 0
        return min(100, int(self.processed * 100 / self.total))
