"""One process of a run trained under ``torchrun`` (``python -m training.distributed_run``).

The gpu task (``training.runner``) starts ``torchrun --standalone
--nproc-per-node N -m training.distributed_run ...`` when a node trains with
several processes. Every rank trains its slice of the batch; rank 0 alone
reports to the run's row through the same ``RunCallbacks`` as a one-process
run (progress, sample grids, checkpoints, cancel), and writes ``result.json``
into the run folder for the task that launched it. The other ranks never
touch the database.
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

RESULT_FILE = "result.json"
CONFIG_FILE = "config.json"


def _write_result(run_dir: Path, result: dict[str, Any]) -> None:
    partial = run_dir / f".{RESULT_FILE}.part"
    partial.write_text(json.dumps(result))
    os.replace(partial, run_dir / RESULT_FILE)


def _launcher_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.distributed_run")
    parser.add_argument("--run-id", type=int, required=True)
    parser.add_argument("--token", required=True, help="the lease token of the task that launched this")
    parser.add_argument("--start-step", type=int, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--launcher-pid", type=int, required=True, help="stop when this process is gone")
    args = parser.parse_args(argv)
    # `kill -USR1 <pid>` prints where every thread of this rank is to torchrun.log: a rank that
    # seems stuck says in which collective or query it waits.
    faulthandler.register(signal.SIGUSR1, all_threads=True)

    from training.engine.loop import TrainCallbacks, train
    from training.engine.options import TrainConfig

    config = TrainConfig.from_dict(json.loads((args.run_dir / CONFIG_FILE).read_text()))
    if os.environ.get("RANK", "0") != "0":
        train(config, args.data, args.run_dir, callbacks=TrainCallbacks(), resume="auto", progress=False)
        return 0

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "museum.settings")
    django.setup()
    from training.models import TrainingRun
    from training.runner import LeaseLost, RunCallbacks, readable_error

    run = TrainingRun.objects.get(pk=args.run_id)

    class LeaseState:
        """The launcher keeps the lease's heartbeat; this rank only learns when it is lost."""

        lost = threading.Event()
        error = None

    class Callbacks(RunCallbacks, TrainCallbacks):
        def should_stop(self) -> bool:
            if not _launcher_alive(args.launcher_pid):
                self.heartbeat.lost.set()  # the task that holds the lease is gone: stop, report nothing
                return True
            return super().should_stop()

    callbacks = Callbacks(run, args.token, LeaseState(), args.start_step)
    try:
        result = train(config, args.data, args.run_dir, callbacks=callbacks, resume="auto", progress=False)
    except LeaseLost:
        _write_result(args.run_dir, {"lease_lost": True})
        return 3
    except Exception as exc:  # the launcher shows it on the run's page
        _write_result(args.run_dir, {"error": readable_error(exc, run)})
        raise
    _write_result(
        args.run_dir,
        {
            "kimg": result.kimg,
            "steps": result.steps,
            "stopped": result.stopped,
            "lease_lost": LeaseState.lost.is_set(),
            "history": callbacks.history,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
