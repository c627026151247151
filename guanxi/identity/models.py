"""Users, teams, roles (a hierarchy), the permission rules of each role, shares and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from guanxi.core.choices import Action, FieldAccess, Scope, ShareAccess
from guanxi.core.models import (
    CreatedByMixin,
    LiveManager,
    PermissionScopeMixin,
    RestrictedManager,
    RestrictedQuerySet,
    SoftDeleteMixin,
    TimestampMixin,
    VersionMixin,
)


class Team(PermissionScopeMixin, TimestampMixin, CreatedByMixin, VersionMixin, SoftDeleteMixin):
    """A sales or service team with a manager and a territory (region). Teams form a tree (a
    department and its groups, 本部门及下级部门): whoever is in or manages a team also reaches the
    teams below it (``selectors.user_team_ids``)."""

    name = models.CharField(_("name"), max_length=100)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("part of"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        help_text=_("The team this one belongs to (a department above its groups)."),
    )
    manager = models.ForeignKey(
        "identity.User",
        verbose_name=_("manager"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="managed_teams",
    )
    territory = models.CharField(_("territory"), max_length=100, blank=True)
    description = models.TextField(_("description"), blank=True)

    objects = LiveManager()
    all_objects = RestrictedManager()

    class Meta:
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        ordering = ("name",)
        base_manager_name = "all_objects"
        constraints = [
            models.UniqueConstraint(
                fields=("name",), condition=Q(deleted_at__isnull=True), name="team_unique_live_name"
            )
        ]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def scope_filter(cls, user: Any, scope: str) -> Q | None:
        from guanxi.identity.selectors import user_team_ids

        if scope == Scope.ALL:
            return Q()
        if scope in (Scope.OWN, Scope.TEAM, Scope.SUBORDINATES):
            return Q(pk__in=user_team_ids(user))
        return None


class DuplicateGuard(models.TextChoices):
    """What adding a customer a colleague already has does (撞单保护, ``guanxi.customers.guard``): editing
    one of its keys to theirs, or restoring it from the recycle bin, does the same."""

    OFF = "off", _("Nothing: colleagues' customers are not looked at")
    TELL = "tell", _("Say whose customer it is, and let it be added")
    REFUSE = "refuse", _("Say whose customer it is, and refuse to add it")


class Role(PermissionScopeMixin, TimestampMixin, CreatedByMixin, VersionMixin, SoftDeleteMixin):
    """A job role. Roles form a tree: a role with scope "subordinates" sees what roles below it own."""

    name = models.CharField(_("name"), max_length=100)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("reports to"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    description = models.TextField(_("description"), blank=True)
    pool_claim_limit = models.PositiveIntegerField(
        _("prospects one may hold"),
        null=True,
        blank=True,
        help_text=_(
            "Someone with this role may claim accounts from the customer pool while they own fewer "
            "prospects than this. Empty: no limit."
        ),
    )
    pool_reclaim_days = models.PositiveSmallIntegerField(
        _("days before claiming back"),
        null=True,
        blank=True,
        help_text=_(
            "An account someone with this role released, or that went back to the pool from them, "
            "waits this many days before they may claim it again; colleagues may claim it at once. "
            "Empty: at once."
        ),
    )
    pool_reason_required = models.BooleanField(
        _("release needs a listed reason"),
        default=False,
        help_text=_(
            "Someone with this role who releases an account to the customer pool must choose one of the "
            "release reasons; words of their own may be added, not given instead."
        ),
    )

    duplicate_guard = models.CharField(
        _("adding a colleague's customer"),
        max_length=10,
        choices=DuplicateGuard.choices,
        default=DuplicateGuard.TELL,
        help_text=_(
            "When someone with this role adds, edits or restores an account with the name (places and legal "
            "form aside) or 统一社会信用代码 of one they cannot see, or a contact with its email or mobile "
            "number (撞单): whether Guanxi tells them whose it is, and whether it refuses to save it. A similar "
            "name is only told."
        ),
    )

    objects = LiveManager()
    all_objects = RestrictedManager()

    class Meta:
        verbose_name = _("role")
        verbose_name_plural = _("roles")
        ordering = ("name",)
        base_manager_name = "all_objects"
        constraints = [
            models.UniqueConstraint(
                fields=("name",), condition=Q(deleted_at__isnull=True), name="role_unique_live_name"
            )
        ]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def scope_filter(cls, user: Any, scope: str) -> Q | None:
        from guanxi.identity.selectors import role_descendant_ids

        if scope == Scope.ALL:
            return Q()
        if scope in (Scope.OWN, Scope.TEAM):
            return Q(pk=user.role_id)
        if scope == Scope.SUBORDINATES:
            return Q(pk=user.role_id) | Q(pk__in=role_descendant_ids(user.role_id))
        return None


class RolePermission(models.Model):
    """What a role may do with one object type (``app.model``, or ``*`` for every CRM record type)."""

    role = models.ForeignKey(Role, on_delete=models.CASCADE, related_name="permissions")
    object_type = models.CharField(_("object type"), max_length=100)
    action = models.CharField(_("action"), max_length=10, choices=Action.choices)
    scope = models.CharField(_("scope"), max_length=15, choices=Scope.choices, default=Scope.OWN)

    class Meta:
        verbose_name = _("role permission")
        verbose_name_plural = _("role permissions")
        constraints = [models.UniqueConstraint(fields=("role", "object_type", "action"), name="rolepermission_unique")]

    def __str__(self) -> str:
        return f"{self.role}: {self.object_type} {self.action} {self.scope}"


class FieldRule(models.Model):
    """A field a role may not see (hidden) or not change (read-only) on one object type."""

    role = models.ForeignKey(Role, on_delete=models.CASCADE, related_name="field_rules")
    object_type = models.CharField(_("object type"), max_length=100)
    field = models.CharField(_("field"), max_length=100)
    access = models.CharField(_("access"), max_length=10, choices=FieldAccess.choices)

    class Meta:
        verbose_name = _("field rule")
        verbose_name_plural = _("field rules")
        constraints = [models.UniqueConstraint(fields=("role", "object_type", "field"), name="fieldrule_unique")]

    def __str__(self) -> str:
        return f"{self.role}: {self.object_type}.{self.field} {self.access}"


class UserManager(BaseUserManager.from_queryset(RestrictedQuerySet)):  # type: ignore[misc]
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        if not email:
            raise ValueError("email is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class NotificationEmail(models.TextChoices):
    """Whether a user's notifications (通知, ``guanxi.activities``) also come by email, and when."""

    OFF = "off", _("Never")
    INSTANT = "instant", _("At once")
    DAILY = "daily", _("Once a day, a summary")


class User(AbstractBaseUser, PermissionsMixin, PermissionScopeMixin, VersionMixin):
    """A person who signs in. Email is the login; deactivate instead of deleting (history keeps them)."""

    email = models.EmailField(_("email"), unique=True)
    display_name = models.CharField(_("display name"), max_length=100)
    # The name's pinyin, initials and words (李伟: " liwei lw li wei "), kept on every save: people
    # pickers and the users list find a colleague by them (users are not in the search index).
    name_keys = models.CharField(max_length=400, blank=True, default="", editable=False)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    time_zone = models.CharField(_("time zone"), max_length=64, default="Asia/Shanghai")
    language = models.CharField(
        _("language"), max_length=10, choices=[("zh-hans", "简体中文"), ("en", "English")], default="zh-hans"
    )
    team = models.ForeignKey(
        Team, verbose_name=_("team"), null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )
    role = models.ForeignKey(
        Role, verbose_name=_("role"), null=True, blank=True, on_delete=models.SET_NULL, related_name="users"
    )
    notification_email = models.CharField(
        _("notifications by email"), max_length=10, choices=NotificationEmail.choices, default=NotificationEmail.DAILY
    )
    is_active = models.BooleanField(_("active"), default=True)
    is_staff = models.BooleanField(_("can open the Django admin"), default=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = UserManager()

    # Set per request by the API's token auth (never stored): the token's scopes cap what restrict()
    # allows this user; None means a signed-in session, capped only by the role.
    token_scopes: list[str] | None = None
    api_token_id: int | None = None

    unlogged_fields = ("name_keys",)

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["display_name"]

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ("display_name",)

    def __str__(self) -> str:
        return self.display_name or self.email

    def save(self, *args: Any, **kwargs: Any) -> None:
        from guanxi.core.search.text import spelled_name

        self.name_keys = spelled_name(self.display_name)
        fields = kwargs.get("update_fields")
        if fields is not None and "display_name" in fields:
            kwargs["update_fields"] = {*fields, "name_keys"}
        super().save(*args, **kwargs)

    @staticmethod
    def name_matches(typed: str) -> Q:
        """People whose name contains ``typed`` (王, Smith), or whose name's pinyin, initials or a
        word of it begins with it (李伟: "liwei", "li wei", "lw", "wei")."""
        from guanxi.core.search.text import spelled_query

        match = Q(display_name__icontains=typed)
        spelled = spelled_query(typed)
        return match | Q(name_keys__contains=f" {spelled}") if spelled else match

    def get_full_name(self) -> str:
        return self.display_name

    def get_short_name(self) -> str:
        return self.display_name

    @classmethod
    def scope_filter(cls, user: Any, scope: str) -> Q | None:
        from guanxi.identity.selectors import user_subordinate_ids, user_team_ids

        if scope == Scope.ALL:
            return Q()
        if scope == Scope.OWN:
            return Q(pk=user.pk)
        if scope == Scope.TEAM:
            return Q(pk=user.pk) | Q(team_id__in=user_team_ids(user))
        if scope == Scope.SUBORDINATES:
            return Q(pk=user.pk) | Q(pk__in=user_subordinate_ids(user))
        return None


class Share(PermissionScopeMixin, TimestampMixin, CreatedByMixin):
    """One record shared with one user or one team, beyond what their roles allow."""

    follows_parent: ClassVar[bool] = True

    content_type = models.ForeignKey("contenttypes.ContentType", on_delete=models.CASCADE)
    object_id = models.BigIntegerField()
    user = models.ForeignKey(User, null=True, blank=True, on_delete=models.CASCADE, related_name="shares")
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.CASCADE, related_name="shares")
    access = models.CharField(_("access"), max_length=10, choices=ShareAccess.choices, default=ShareAccess.VIEW)

    objects = RestrictedManager()

    class Meta:
        verbose_name = _("share")
        verbose_name_plural = _("shares")
        ordering = ("-id",)
        indexes = [models.Index(fields=("content_type", "object_id"), name="share_object_idx")]
        constraints = [
            models.CheckConstraint(
                condition=(Q(user__isnull=False) & Q(team__isnull=True))
                | (Q(user__isnull=True) & Q(team__isnull=False)),
                name="share_user_xor_team",
            )
        ]

    def __str__(self) -> str:
        return f"{self.content_type.model}#{self.object_id} → {self.user or self.team}"


def hash_token(key: str) -> str:
    """Tokens are 256-bit random strings, so a plain SHA-256 is a safe, fast lookup hash."""
    return hashlib.sha256(key.encode()).hexdigest()


class ApiToken(PermissionScopeMixin, TimestampMixin):
    """A machine credential. Only its hash is stored; the key is shown once when it is created."""

    PREFIX_LENGTH = 8

    user = models.ForeignKey(User, verbose_name=_("user"), on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=PREFIX_LENGTH, unique=True)
    key_hash = models.CharField(max_length=64)
    scopes = models.JSONField(_("scopes"), default=list)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    objects = RestrictedManager()

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ("-id",)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def generate_key() -> str:
        return secrets.token_urlsafe(32)

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > timezone.now())

    @classmethod
    def scope_filter(cls, user: Any, scope: str) -> Q | None:
        # Everyone manages their own tokens; a role scope of "all" lets an admin see and revoke others'.
        if scope == Scope.ALL:
            return Q()
        token_scopes = getattr(user, "token_scopes", None)
        if token_scopes is not None and not any(s.startswith(("identity.apitoken:", "*:")) for s in token_scopes):
            return None  # a token reaches tokens only when it carries a token scope
        return Q(user_id=user.pk)
