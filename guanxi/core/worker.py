"""The database queue's worker runs each task in a forked child, as RQ's work horse does.

A million-row import fills caches and allocator arenas that CPython never gives back, and a
long-lived worker would carry them into every later task (and into the processes those tasks
fork). In a child they go when the task ends: the worker itself stays at its start-up size.

Before forking, the worker closes its database connections (the child opens its own; no socket
or SQLite handle is shared) and freezes its objects out of the garbage collector, so the children's
collections do not write to, and so copy, the pages they share with it. A child dies with the worker
(Linux: PR_SET_PDEATHSIG), so a killed worker leaves no task running on unseen. A child that ends
without finishing (killed, out of memory) fails its task; ``task_finished`` tells the task's
module, so a job is marked failed and can be started again from its checkpoint.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

from django.db import connection, connections
from django_tasks.signals import task_finished
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

logger = logging.getLogger(__name__)


class ChildDied(Exception):
    """The forked child ended without finishing its work."""


def run_in_child(work: Callable[[], Any], name: str) -> None:
    """Run ``work`` in a forked child and wait for it; ``ChildDied`` if it does not exit cleanly."""
    if connection.in_atomic_block:
        raise RuntimeError("cannot fork inside a transaction: the child would not see its rows")
    connections.close_all()
    gc.collect()
    gc.freeze()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # the child: work, then leave without the parent's exit handlers
        code = 1
        try:
            _die_with(parent)
            work()
            code = 0
        except BaseException:
            logger.exception("%s failed", name)
        finally:
            connections.close_all()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    logger.info("%s runs in process %s", name, pid)
    try:
        _, status = os.waitpid(pid, 0)
    finally:
        gc.unfreeze()  # the child no longer shares our pages
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        raise ChildDied(signal.strsignal(-code) or f"signal {-code}")
    if code > 0:
        raise ChildDied(f"exit status {code}")


def _die_with(parent: int) -> None:
    """Linux: the kernel sends this process SIGKILL when ``parent`` dies."""
    if not sys.platform.startswith("linux"):
        return
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


class ForkingWorker(Worker):
    """django-tasks-db's worker, each task in a child (``run_in_child``)."""

    def run_task(self, db_task_result: DBTaskResult) -> None:
        name = f"task {db_task_result.id} ({db_task_result.task_path})"
        self.running_task = True  # a first SIGTERM lets the task finish, as without the fork
        try:
            run_in_child(lambda: Worker.run_task(self, db_task_result), name)
        except ChildDied as died:
            logger.error("%s: its process ended before it finished (%s)", name, died)
            db_task_result.set_failed(died)
            task_finished.send(sender=type(db_task_result.task.get_backend()), task_result=db_task_result.task_result)
        finally:
            self.running_task = False
            self._run_tasks += 1
