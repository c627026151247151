"""Long jobs backed by a ``Job`` row: start one, report progress, finish, resume after a crash.

A module declares what a kind of job does with ``@job_handler("export")``; ``job_start`` saves the
row and enqueues ``job_run_task`` after the transaction commits. The task marks the row running,
calls the handler with a ``JobRun`` (progress, checkpoint, heartbeat), and records the result or
the error. Handlers must be safe to run twice: a crashed job is resumed by running it again, and
it reads ``job.checkpoint`` to skip the work already committed. A job whose process dies (the
worker's child, see ``guanxi.core.worker``) is marked failed, and so can be started again at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone, translation
from django.utils.translation import gettext
from django_tasks import task
from django_tasks.base import TaskResultStatus
from django_tasks.signals import task_finished

from guanxi.core.choices import JobStatus
from guanxi.core.context import write_context
from guanxi.core.models import Job

logger = logging.getLogger(__name__)

Handler = Callable[["JobRun"], dict[str, Any]]
_handlers: dict[str, Handler] = {}
#: Kind -> what the job's page says of a result's nested parts (``job_handler(describe=)``).
_describers: dict[str, Callable[[dict[str, Any]], list[tuple[str, str]]]] = {}

#: A running job whose heartbeat is older than this is taken as crashed and may be resumed.
STALE_AFTER = timedelta(minutes=2)


def job_handler(
    kind: str, *, describe: Callable[[dict[str, Any]], list[tuple[str, str]]] | None = None
) -> Callable[[Handler], Handler]:
    """Register the function that runs jobs of ``kind``; it returns the job's ``result`` dict.
    ``describe(result)``: (label, value) lines for what the job's page cannot show by itself (its
    nested parts, such as how many records each colleague of a handover took over)."""

    def register(fn: Handler) -> Handler:
        _handlers[kind] = fn
        if describe is not None:
            _describers[kind] = describe
        return fn

    return register


def job_result_lines(job: Job) -> list[tuple[str, str]]:
    """What the job's kind says of its result's nested parts (``job_handler(describe=)``), if anything."""
    describe = _describers.get(job.kind)
    return describe(job.result or {}) if describe is not None and job.result else []


class JobRun:
    """What a handler gets: the job row and ways to report progress and save a checkpoint."""

    def __init__(self, job: Job):
        self.job = job

    def progress(self, processed: int, total: int | None = None, **result: Any) -> None:
        """Save progress (and partial result counters) without touching other columns."""
        job = self.job
        job.processed = processed
        if total is not None:
            job.total = total
        if result:
            job.result = {**job.result, **result}
        job.heartbeat_at = timezone.now()
        Job.objects.filter(pk=job.pk).update(
            processed=job.processed, total=job.total, result=job.result, heartbeat_at=job.heartbeat_at
        )

    def checkpoint(self, state: dict[str, Any], processed: int | None = None, **result: Any) -> None:
        """Save resumable state. Call it inside the transaction that commits the work it describes,
        so the checkpoint and the work land together or not at all."""
        self.job.checkpoint = state
        Job.objects.filter(pk=self.job.pk).update(checkpoint=state)
        if processed is not None or result:
            self.progress(self.job.processed if processed is None else processed, **result)


def job_start(
    *,
    kind: str,
    user: Any,
    object_type: str = "",
    params: dict[str, Any] | None = None,
    input_file: Any = None,
    enqueue: bool = True,
) -> Job:
    """Create a job row for ``user`` and (by default) queue it to run once the transaction commits."""
    if kind not in _handlers:
        raise ValueError(f"no job handler for {kind!r}")
    job = Job.objects.create(kind=kind, user=user, object_type=object_type, params=params or {})
    if input_file is not None:
        job.input_file.save(getattr(input_file, "name", "upload"), input_file, save=True)
    if enqueue:
        job_enqueue(job)
    return job


def job_enqueue(job: Job) -> None:
    """Queue ``job`` after the current transaction commits (immediately when there is none)."""
    transaction.on_commit(lambda: job_run_task.enqueue(job.pk))


def job_is_stale(job: Job) -> bool:
    """A running job that stopped reporting: its worker died and it can be resumed."""
    if job.status != JobStatus.RUNNING:
        return False
    last = job.heartbeat_at or job.started_at
    return last is None or timezone.now() - last > STALE_AFTER


def job_run(job_id: int) -> Job:
    """Run (or resume) one job now, in this process. Finished or cancelled jobs are left alone."""
    job = Job.objects.select_related("user").get(pk=job_id)
    if job.status in (JobStatus.SUCCEEDED, JobStatus.CANCELLED):
        return job
    now = timezone.now()
    job.status = JobStatus.RUNNING
    job.started_at = job.started_at or now
    job.heartbeat_at = now
    job.error = ""
    Job.objects.filter(pk=job.pk).update(status=job.status, started_at=job.started_at, heartbeat_at=now, error="")
    run = JobRun(job)
    try:
        with write_context(job.kind if job.kind == "import" else "job"):
            result = _handlers[job.kind](run)
    except Exception as exc:
        logger.exception("job %s (%s) failed", job.pk, job.kind)
        job.status = JobStatus.FAILED
        job.error = str(exc)[:2000] or exc.__class__.__name__
        job.finished_at = timezone.now()
        Job.objects.filter(pk=job.pk).update(status=job.status, error=job.error, finished_at=job.finished_at)
        return job
    job.status = JobStatus.SUCCEEDED
    job.result = {**job.result, **(result or {})}
    job.finished_at = timezone.now()
    Job.objects.filter(pk=job.pk).update(status=job.status, result=job.result, finished_at=job.finished_at)
    return job


@task()
def job_run_task(job_id: int) -> str:
    """The queued form of ``job_run``."""
    return job_run(job_id).status


@receiver(task_finished)
def job_task_failed(sender: Any, task_result: Any, **kwargs: Any) -> None:
    """``job_run`` records its own errors; a job task that failed outright had its process die
    (killed, out of memory) while the job was running: say so on the job, which can be resumed."""
    if task_result.task.func is not job_run_task.func or task_result.status != TaskResultStatus.FAILED:
        return
    job = Job.objects.select_related("user").filter(pk=task_result.args[0], status=JobStatus.RUNNING).first()
    if job is None:
        return
    with translation.override(job.user.language if job.user else None):
        job.error = gettext(
            "The job's process ended before it finished (it was stopped, or ran out of memory). "
            "Start it again to resume after the last saved step."
        )
    job.status = JobStatus.FAILED
    job.finished_at = timezone.now()
    Job.objects.filter(pk=job.pk).update(status=job.status, error=job.error, finished_at=job.finished_at)
