"""``guanxi serve``: run Guanxi under gunicorn with sane defaults.

On a laptop it serves on 127.0.0.1:8000 in DEBUG mode. With ``--production`` (or
``GUANXI_PRODUCTION=1``) it refuses unsafe settings, collects static files and then serves;
put a reverse proxy (nginx, Caddy) in front of it for TLS (see docs/deploy.md).
"""

from __future__ import annotations

import os
import sys
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        raise CommandError(f"{name} must be a whole number.") from None


class Command(BaseCommand):
    help = "Run the Guanxi web server (gunicorn). --production refuses unsafe settings."
    # The checks run below, with the deployment checks when in production mode.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--bind",
            default=os.environ.get("GUANXI_BIND", "127.0.0.1:8000"),
            help="Address to listen on, HOST:PORT or unix:/path (default: GUANXI_BIND or 127.0.0.1:8000).",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=_env_int("GUANXI_WEB_WORKERS", 2),
            help="Web worker processes (default: GUANXI_WEB_WORKERS or 2). About 2 per CPU core.",
        )
        parser.add_argument(
            "--threads",
            type=int,
            default=_env_int("GUANXI_WEB_THREADS", 4),
            help="Threads per worker process (default: GUANXI_WEB_THREADS or 4).",
        )
        parser.add_argument(
            "--timeout",
            type=int,
            default=_env_int("GUANXI_WEB_TIMEOUT", 120),
            help="Seconds before a stuck request's worker is restarted (default: 120).",
        )
        parser.add_argument(
            "--production",
            action="store_true",
            help="Production mode (GUANXI_PRODUCTION=1): refuse DEBUG and weak secrets, collect static files.",
        )
        parser.add_argument("--reload", action="store_true", help="Restart workers when code changes (development).")
        parser.add_argument(
            "--check-only",
            action="store_true",
            help="Run the start-up checks (and collectstatic without DEBUG), then exit without serving.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        production = bool(getattr(settings, "PRODUCTION", False))
        if options["production"] and not production:
            # Settings were imported before the flag was seen (e.g. `manage.py serve --production`).
            raise CommandError(
                "--production needs GUANXI_PRODUCTION=1 before settings load: "
                "run `guanxi serve --production` or `GUANXI_PRODUCTION=1 python manage.py serve`."
            )
        if options["workers"] < 1 or options["threads"] < 1:
            raise CommandError("--workers and --threads must be at least 1.")

        if production:
            self._refuse_unsafe_settings()
        self.check(include_deployment_checks=production, display_num_errors=False)
        self.check_migrations()
        if not settings.DEBUG:
            # Without DEBUG the static files are served by their hashed names (settings.STORAGES): a
            # page naming a file the manifest lacks fails with a 500, in production or not.
            self.stdout.write("Collecting static files…")
            call_command("collectstatic", interactive=False, verbosity=0)
        if options["check_only"]:
            self.stdout.write(self.style.SUCCESS("Start-up checks passed."))
            return

        argv = self._gunicorn_argv(options)
        mode = "production" if production else ("DEBUG" if settings.DEBUG else "non-DEBUG")
        bind = options["bind"]
        where = bind if bind.startswith("unix:") else f"http://{bind}"
        self.stdout.write(
            f"Guanxi {mode} server on {where} "
            f"({options['workers']} workers × {options['threads']} threads). Stop with Ctrl+C."
        )
        self.stdout.flush()
        sys.stderr.flush()
        # Gunicorn replaces this process: signals (Ctrl+C, systemd's SIGTERM) reach it directly.
        connections.close_all()
        os.execv(sys.executable, argv)  # noqa: S606

    def _refuse_unsafe_settings(self) -> None:
        from guanxi.core.checks import production_problems

        problems = production_problems()
        if not problems:
            return
        lines = ["Refusing to start in production mode:"]
        for problem in problems:
            lines.append(f"  - {problem.msg}")
            if problem.hint:
                lines.append(f"    {problem.hint}")
        raise CommandError("\n".join(lines))

    def _gunicorn_argv(self, options: dict[str, Any]) -> list[str]:
        argv = [
            sys.executable,
            "-m",
            "gunicorn",
            "guanxi.wsgi:application",
            "--bind",
            options["bind"],
            "--workers",
            str(options["workers"]),
            "--threads",
            str(options["threads"]),
            "--worker-class",
            "gthread",
            "--timeout",
            str(options["timeout"]),
            "--graceful-timeout",
            "30",
            # Recycle workers now and then so a slow leak never grows into an outage.
            "--max-requests",
            "2000",
            "--max-requests-jitter",
            "200",
            "--access-logfile",
            "-",
            "--error-logfile",
            "-",
        ]
        shm = "/dev/shm"  # noqa: S108 - gunicorn's documented heartbeat directory, not a temp file
        if os.path.isdir(shm):
            # Heartbeat files on tmpfs: a slow disk cannot make gunicorn think workers hung.
            argv += ["--worker-tmp-dir", shm]
        if options["reload"]:
            argv.append("--reload")
        else:
            # Load the application once, in the arbiter, and fork the workers from it: a worker that
            # replaces a recycled one (--max-requests) starts with everything ``guanxi.wsgi`` warmed
            # and frozen, instead of paying for it in its first requests (1M contacts, in-process: a
            # fresh process's first search 35 -> 26 ms, later ones 6-7 ms), and the workers share those pages.
            argv.append("--preload")
        if _gunicorn_has_setting("control_socket_disable"):
            # Gunicorn 25+ opens a control socket under $HOME: one path shared by every server on the
            # machine, and not writable under a hardened systemd unit. Guanxi does not use it.
            argv.append("--no-control-socket")
        return argv


def _gunicorn_has_setting(name: str) -> bool:
    from gunicorn.config import KNOWN_SETTINGS

    return any(setting.name == name for setting in KNOWN_SETTINGS)
