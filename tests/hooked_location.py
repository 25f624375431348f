"""The two-asset served location with a run hook that writes down every run it is told of.

Each call appends one JSON line to ``$HOOKED_RUNS_FILE``: whether the run succeeded, each
asset's status, where its warehouse is and when it finished. With ``$HOOK_FAILS`` set, the
hook then raises with that text, as a metrics push to a gateway that is down does.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from orchestration.definitions import Definitions
from orchestration.errors import ExpectedError
from orchestration.run_hooks import FinishedRun
from tests.serve_location import defs as served

RUNS_FILE_ENV = "HOOKED_RUNS_FILE"
FAILS_ENV = "HOOK_FAILS"


class HookFailedError(ExpectedError, RuntimeError):
    """What the hook raises when ``$HOOK_FAILS`` asks it to."""


def record_run(run: FinishedRun) -> None:
    record = {
        "ok": run.report.ok,
        "statuses": {o.key: o.status for o in run.report.outcomes},
        "locations": dict(run.locations),
        "finished_at": run.finished_at.isoformat(),
        "seconds": run.report.seconds,
    }
    with Path(os.environ[RUNS_FILE_ENV]).open("a") as runs:
        runs.write(json.dumps(record) + "\n")
    if os.environ.get(FAILS_ENV):
        raise HookFailedError(os.environ[FAILS_ENV])


def recorded_runs(path: Path) -> list[dict]:
    """The runs the hook was told of, in order (none if it never was)."""
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


defs = Definitions(
    assets=served.assets,
    ddl_paths=served.ddl_paths,
    io_managers=served.io_managers,
    run_hooks=(record_run,),
)
