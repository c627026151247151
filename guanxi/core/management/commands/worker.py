"""``guanxi worker``: run background tasks (imports, exports, bulk email, recomputes).

Which worker runs follows the ``TASKS`` setting: the database queue's ``db_worker``
(django-tasks-db) by default, or an RQ worker (django-rq's ``rqworker`` with django-tasks-rq's
job class) when ``REDIS_URL`` is set. Either way each job (imports, exports, bulk actions) runs in
a forked child process, so the memory it used is returned when it ends. Run several for more
throughput (systemd template units, see docs/deploy.md); each one takes tasks from the shared queue.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from guanxi.core.jobs import fork_each_job

DB_BACKEND = "django_tasks_db.DatabaseBackend"
RQ_BACKEND = "django_tasks_rq.RQBackend"


class Command(BaseCommand):
    help = "Run the background task worker (database queue, or RQ when REDIS_URL is set)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--queue",
            action="append",
            dest="queues",
            metavar="NAME",
            help="Queue to work on; repeat for several (default: every queue).",
        )
        parser.add_argument("--burst", action="store_true", help="Run the tasks waiting now, then exit.")
        parser.add_argument(
            "--reload",
            action="store_true",
            help="Database queue only: restart when code changes (development).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        backend = settings.TASKS.get("default", {}).get("BACKEND", "")
        queues: list[str] = options["queues"] or []
        verbosity = options["verbosity"]
        if backend == RQ_BACKEND:
            queues = queues or list(settings.TASKS["default"].get("QUEUES") or settings.RQ_QUEUES)
            self.stdout.write(f"Guanxi worker: RQ on {', '.join(queues)} (REDIS_URL).")
            call_command(
                "rqworker",
                *queues,
                job_class="django_tasks_rq.Job",
                with_scheduler=True,  # tasks enqueued with run_after wait in RQ's scheduled registry
                burst=options["burst"],
                verbosity=verbosity,
            )
        elif backend == DB_BACKEND:
            # Like RQ's work horse: each job in a child, so its memory goes back when it ends.
            fork_each_job()
            self.stdout.write(f"Guanxi worker: database queue ({', '.join(queues) or 'all queues'}).")
            worker_args = ["--queue-name", ",".join(queues) or "*"]
            # The autoreloader forks a child that a plain SIGTERM to this process would orphan.
            worker_args.append("--reload" if options["reload"] else "--no-reload")
            if options["burst"]:
                worker_args.append("--batch")
            call_command("db_worker", *worker_args, verbosity=verbosity)
        else:
            self.stdout.write(f"Tasks run in-process with {backend or 'no backend'}; there is nothing to work on.")
