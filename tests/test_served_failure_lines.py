"""A served run that fails for a foreseen reason says so in its own line, no traceback.

Serve's log shows Prefect's lines for the runs it serves. A run whose source could not
be read logged the cause once in the asset's line, then Prefect's task engine logged it
again with ~40 lines of traceback, then the flow engine ~35 more for the Failed state it
returned ("Engine execution exited with unexpected exception"): both the same news.
"""

from __future__ import annotations

import logging
import sys

import pytest
from prefect.exceptions import FailedRun

from assets.sources.errors import SourceError
from orchestration.served_failure_lines import RepeatedFailureFilter


def _record(logger: str, message: str, exc: BaseException) -> logging.LogRecord:
    try:
        raise exc
    except BaseException:
        exc_info = sys.exc_info()
    return logging.LogRecord(logger, logging.ERROR, __file__, 1, message, None, exc_info)


@pytest.mark.parametrize(
    ("logger", "message", "exc"),
    [
        ("prefect.task_runs", "Task run failed with exception: SourceError(...)",
         SourceError("bad.csv, line 3: not a number", source="bad.csv")),
        ("prefect.flow_runs", "Engine execution exited with unexpected exception",
         FailedRun("0 materialized, 1 failed; failed: raw_online_retails")),
    ],
)  # fmt: skip
def test_a_foreseen_failure_said_again_with_a_traceback_is_dropped(logger, message, exc):
    assert not RepeatedFailureFilter().filter(_record(logger, message, exc))


def test_an_unforeseen_failure_keeps_its_traceback():
    """A bug's traceback is how anyone finds it."""
    record = _record("prefect.task_runs", "Task run failed with exception", KeyError("x"))
    assert RepeatedFailureFilter().filter(record)
    assert record.exc_info is not None
