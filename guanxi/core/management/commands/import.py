"""``guanxi import FILE --type contacts [--policy skip] [--user EMAIL]``: import a file from the shell.

Runs the same job as the UI and the API (mapping checked, batches committed with checkpoints), in
this process by default so a large file needs no worker; ``--background`` queues it instead.
``--resume ID`` continues an import whose worker died (or that failed) from its last checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.files import File
from django.core.management.base import BaseCommand, CommandError, CommandParser

from guanxi.core.choices import JobStatus
from guanxi.core.errors import GuanxiError


class Command(BaseCommand):
    help = "Import contacts or accounts from a CSV or XLSX file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", nargs="?", help="CSV (UTF-8, GBK, GB18030) or XLSX file")
        parser.add_argument("--type", default="contacts", help="contacts or accounts (default: contacts)")
        parser.add_argument("--policy", default="skip", choices=("skip", "update", "create"), help="duplicates")
        parser.add_argument("--user", help="email of the importing user (default: the first superuser)")
        parser.add_argument("--mapping", help='JSON {"header": "field"} (default: headers matched automatically)')
        parser.add_argument("--background", action="store_true", help="queue the job for a worker and exit")
        parser.add_argument("--resume", type=int, metavar="ID", help="resume import ID from its checkpoint")
        parser.add_argument("--force", action="store_true", help="with --resume: even if it still looks alive")

    def handle(self, *args: Any, **options: Any) -> None:
        from guanxi.core.imports.services import import_as_json, import_create, import_start
        from guanxi.core.jobs import job_is_stale, job_run
        from guanxi.core.models import Job

        if options["resume"]:
            job = Job.objects.filter(kind="import", pk=options["resume"]).select_related("user").first()
            if job is None:
                raise CommandError(f"No import #{options['resume']}.")
            if job.status == JobStatus.RUNNING and not (job_is_stale(job) or options["force"]):
                raise CommandError("This import is still running (its worker reports progress); use --force.")
            if job.status == JobStatus.SUCCEEDED:
                raise CommandError("This import has finished.")
        else:
            if not options["file"]:
                raise CommandError("Give the file to import.")
            path = Path(options["file"])
            if not path.is_file():
                raise CommandError(f"No file {path}.")
            user = self._user(options["user"])
            try:
                with path.open("rb") as handle:
                    job = import_create(
                        user=user,
                        upload=File(handle, name=path.name),
                        type_name=options["type"],
                        duplicate_policy=options["policy"],
                        mapping=json.loads(options["mapping"]) if options["mapping"] else None,
                    )
                job = import_start(job=job, user=user, enqueue=options["background"])
            except GuanxiError as exc:
                raise CommandError(self._error_text(exc)) from None
            self.stdout.write(
                f"Import #{job.pk}: {job.total} rows, mapping {json.dumps(job.params['mapping'], ensure_ascii=False)}"
            )
            if options["background"]:
                self.stdout.write("Queued; a worker runs it (guanxi worker).")
                return
        job = job_run(job.pk)
        data = import_as_json(job, preview=False)
        self.stdout.write(
            json.dumps(
                {k: data[k] for k in ("id", "status", "total", "processed", "result", "error")}, ensure_ascii=False
            )
        )
        if job.status != JobStatus.SUCCEEDED:
            raise CommandError(job.error or "The import failed.")

    @staticmethod
    def _user(email: str | None) -> Any:
        from guanxi.identity.models import User

        user = (
            User.objects.filter(email__iexact=email).first()
            if email
            else User.objects.filter(is_superuser=True).order_by("pk").first()
        )
        if user is None:
            raise CommandError(f"No user {email}." if email else "No superuser; give --user.")
        return user

    @staticmethod
    def _error_text(exc: GuanxiError) -> str:
        parts = [f"{field}: {message}" for field, messages in exc.errors.items() for message in messages]
        return "; ".join(parts) or exc.detail
