"""The ``guanxi`` command: Guanxi's own commands plus every Django management command.

    guanxi serve [--production] [--bind 127.0.0.1:8000] [--workers 2]   web server (gunicorn)
    guanxi worker                                                       background task worker
    guanxi migrate                                                      create/upgrade the database
    guanxi createuser [--email E --name N --password P --admin]         add a user
    guanxi demo                                                         fill in demo data (idempotent)
    guanxi import FILE --type contacts|accounts [--policy skip]        import a CSV/XLSX file
    guanxi check --deploy, guanxi shell, ...                            any ``manage.py`` command

``serve``, ``worker``, ``createuser`` and ``demo`` are management commands of ``guanxi.core``, so
``python manage.py serve`` works too. This module only prepares the environment before Django
reads its settings: ``--production`` must be seen before ``guanxi.settings`` is imported.
"""

from __future__ import annotations

import os
import sys

USAGE = """\
Guanxi (关系) — open-source CRM

Usage: guanxi <command> [options]

  serve        run the web server (gunicorn); --production for a real deployment
  worker       run the background task worker (database queue, or RQ when REDIS_URL is set)
  migrate      create or upgrade the database tables
  createuser   add a user (interactive, or --email --name --password [--admin])
  demo         fill the database with demo users, teams, roles and tags (safe to run twice)
  import       import contacts or accounts from CSV (UTF-8 / GBK) or XLSX: guanxi import FILE --type contacts
  search_reindex  rebuild the global search index

Any other Django management command works too: guanxi check --deploy, guanxi shell, ...
Run `guanxi <command> --help` for the options of a command, `guanxi help --commands` for all.
"""


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help"}:
        sys.stdout.write(USAGE)
        return
    if args[0] == "--version":
        from importlib.metadata import PackageNotFoundError, version

        try:
            sys.stdout.write(f"guanxi {version('guanxi')}\n")
        except PackageNotFoundError:  # running from a checkout that was never pip-installed
            sys.stdout.write("guanxi (not installed)\n")
        return
    if args[0] == "serve" and "--production" in args:
        # Settings decide DEBUG, cookies, HSTS... from this variable when they are first imported.
        os.environ["GUANXI_PRODUCTION"] = "1"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "guanxi.settings")

    import django
    from django.core.management import execute_from_command_line

    django.setup()  # CoreConfig.ready registers the production system checks
    execute_from_command_line(["guanxi", *args])


if __name__ == "__main__":
    main()
