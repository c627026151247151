"""``guanxi worker``: run background tasks (imports, exports, bulk email, recomputes).

Which worker runs follows the ``TASKS`` setting: the database queue's ``db_worker``
(django-tasks-db) by default, or an RQ worker (django-rq's ``rqworker`` with django-tasks-rq's
job class) when ``REDIS_URL`` is set. Either way each task runs in a forked child process
(``guanxi.core.worker``), so the memory a big import used is returned when it ends. Run several for more
throughput (systemd template units, see docs/deploy.md); each one takes tasks from the shared queue.
"""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.utils.autoreload import DJANGO_AUTORELOAD_ENV, run_with_reloader
from django.utils.crypto import get_random_string
from django_tasks.base import DEFAULT_TASK_BACKEND_ALIAS

from guanxi.core.worker import ForkingWorker

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
            self.stdout.write(f"Guanxi worker: database queue ({', '.join(queues) or 'all queues'}).")
            self._run_database_queue(queues, burst=options["burst"], reload=options["reload"])
        else:
            self.stdout.write(f"Tasks run in-process with {backend or 'no backend'}; there is nothing to work on.")

    def _run_database_queue(self, queues: list[str], *, burst: bool, reload: bool) -> None:
        """django-tasks-db's ``db_worker`` loop, with each task in a forked child (``ForkingWorker``)."""
        worker = ForkingWorker(
            queue_names=queues or ["*"],
            interval=1,
            batch=burst,
            backend_name=DEFAULT_TASK_BACKEND_ALIAS,
            startup_delay=not burst,
            max_tasks=None,
            worker_id=get_random_string(32),
            excluded_queue_names=[],
        )
        if not reload:
            worker.configure_signals()
            worker.run()
            return
        # The autoreloader runs the worker in a child; only that child handles the signals.
        if os.environ.get(DJANGO_AUTORELOAD_ENV) == "true":
            worker.configure_signals()
        run_with_reloader(worker.run)
