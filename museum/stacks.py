"""SIGUSR1 asks a worker's task where it is: every thread's stack, into the worker's log.

In a Celery prefork pool child SIGUSR1 is billiard's soft-time-limit signal: sent to a
child that trains a run or paints a request, it raised ``SoftTimeLimitExceeded`` inside
the job and failed it. No task here sets a soft time limit (a test in
tests/training/test_runs_recovery.py keeps it so), so while a long job runs the
signal is faulthandler's (the operator's ``kill -USR1 <pid>``: the pid a training run's
worker column shows, or ``worker_pid`` in ``celery inspect active``; as a
``training.distributed_run`` rank has it), and billiard's handler is
back when the job ends, for whatever the child runs next.
"""

from __future__ import annotations

import contextlib
import faulthandler
import signal
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def stacks_on_sigusr1() -> Iterator[None]:
    """While the block runs, SIGUSR1 prints every thread's stack to stderr and the job goes on."""
    faulthandler.register(signal.SIGUSR1, file=sys.__stderr__, all_threads=True)
    try:
        yield
    finally:
        faulthandler.unregister(signal.SIGUSR1)
