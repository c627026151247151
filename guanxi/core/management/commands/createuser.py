"""``guanxi createuser``: add a user from the command line (the first administrator, typically).

Interactive when run in a terminal without flags; scripted with ``--email --name --password``.
The user is written through ``guanxi.identity.services.user_create`` (password rules, change
log) acting as an existing administrator; the very first administrator, for whom no such actor
exists yet, is created with the user manager and logged as a system change.
"""

from __future__ import annotations

import getpass
import sys
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from guanxi.core.audit import changelog_record, snapshot
from guanxi.core.choices import ChangeAction
from guanxi.core.context import write_context
from guanxi.core.errors import GuanxiError


def describe(exc: GuanxiError) -> str:
    """One readable line per field error, for a terminal."""
    if not exc.errors:
        return exc.detail
    return "\n".join(f"{field}: {' '.join(messages)}" for field, messages in exc.errors.items())


class Command(BaseCommand):
    help = "Add a user. Prompts for what is missing when run in a terminal."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", help="Login email address.")
        parser.add_argument("--name", help="Display name, e.g. 王芳 or Emily Chen.")
        parser.add_argument(
            "--password",
            help="Password (at least 10 characters). Omit to be asked; with --no-input the user gets "
            "no usable password and signs in after a password reset.",
        )
        parser.add_argument("--admin", action="store_true", help="Make the user an administrator (superuser).")
        parser.add_argument("--role", help="Name of the role to give the user.")
        parser.add_argument("--team", help="Name of the team the user belongs to.")
        parser.add_argument("--language", choices=["zh-hans", "en"], help="Interface language.")
        parser.add_argument("--no-input", action="store_false", dest="interactive", help="Never prompt.")

    def handle(self, *args: Any, **options: Any) -> None:
        from guanxi.identity.models import Role, Team, User

        interactive = options["interactive"] and sys.stdin.isatty()
        email = (options["email"] or "").strip() or (self._ask("Email") if interactive else "")
        name = (options["name"] or "").strip() or (self._ask("Name") if interactive else "")
        if not email or not name:
            raise CommandError("Give --email and --name (or run in a terminal to be asked).")
        password = options["password"]
        if password is None and interactive:
            password = self._ask_password(User(email=email, display_name=name))

        data: dict[str, Any] = {"email": email.lower(), "display_name": name}
        if options["language"]:
            data["language"] = options["language"]
        if options["admin"]:
            data.update(is_superuser=True, is_staff=True)
        if options["role"]:
            role = Role.objects.filter(name=options["role"]).first()
            if role is None:
                names = ", ".join(Role.objects.values_list("name", flat=True)) or "none yet"
                raise CommandError(f"No role named {options['role']!r} (roles: {names}).")
            data["role_id"] = role.pk
        if options["team"]:
            team = Team.objects.filter(name=options["team"]).first()
            if team is None:
                names = ", ".join(Team.objects.values_list("name", flat=True)) or "none yet"
                raise CommandError(f"No team named {options['team']!r} (teams: {names}).")
            data["team_id"] = team.pk

        try:
            with write_context("system"):
                user = create_user(data=data, password=password)
        except GuanxiError as exc:
            raise CommandError(describe(exc)) from None
        kind = "administrator" if user.is_superuser else "user"
        self.stdout.write(self.style.SUCCESS(f"Created {kind} {user.display_name} <{user.email}>."))
        if not password:
            self.stdout.write("No password was set: the user signs in after a password reset.")

    def _ask(self, label: str) -> str:
        while True:
            value = input(f"{label}: ").strip()
            if value:
                return value

    def _ask_password(self, user: Any) -> str:
        while True:
            first = getpass.getpass("Password: ")
            if first != getpass.getpass("Password (again): "):
                self.stderr.write("The passwords differ; try again.")
                continue
            try:
                validate_password(first, user)
            except ValidationError as exc:
                self.stderr.write(" ".join(exc.messages))
                continue
            return first


def create_user(*, data: dict[str, Any], password: str | None) -> Any:
    """Create through the identity service, acting as the first active administrator.

    With no administrator yet (a fresh install) there is nobody to act as: the manager creates
    the user, after the same password rules, and the change log records a system change.
    """
    from guanxi.identity import services
    from guanxi.identity.models import User

    actor = User.objects.filter(is_superuser=True, is_active=True).order_by("pk").first()
    if actor is not None:
        return services.user_create(user=actor, data=data, password=password)
    if not data.get("is_superuser"):
        raise CommandError("Create an administrator first: guanxi createuser --admin")
    if User.objects.filter(email__iexact=data["email"]).exists():
        raise CommandError("A user with this email already exists.")
    with transaction.atomic():
        user = User(**data)
        if password:
            try:
                validate_password(password, user)
            except ValidationError as exc:
                raise CommandError("password: " + " ".join(exc.messages)) from None
        user = User.objects.create_superuser(password=password or None, **data)
        changelog_record(actor=None, obj=user, action=ChangeAction.CREATE, after=snapshot(user))
    return user
