"""A served run whose Prefect API went away ends its process at once, in one log line.

A run started by a deployment (``pipeline serve``, a worker) runs in a process of
Prefect's own (``python -m prefect.engine``), not the CLI's, so the CLI's quick end does
not reach it. Measured (tests/test_served_api_lost.py, its server stopped from inside
an asset): the run's tables were published and recorded, and then its process lived 56 s
more. The engine's request for the run's final state failed at once (the run's breaker,
:mod:`orchestration.api_outage`) and was logged as three tracebacks; then Prefect's exit
handlers tried to deliver each of the run's 8 queued events for 7 s, logging two lines
and a warning for each, into the serve log.

None of that can reach a server that is gone, so once the run's breaker tripped and the
warehouse is closed, the process says so in one line and ends (exit code 1: the runner
that started it reports the run Crashed once its API answers again, rather than leave it
Running for ever).
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from orchestration.debug_env import debug_asked
from orchestration.quick_exit import end_now
from orchestration.reconnect_logs import one_line_reconnect_warnings
from orchestration.served_failure_lines import one_telling_of_failures

if TYPE_CHECKING:
    from orchestration.api_outage import ApiOutage
    from orchestration.run_report import RunReport


def quiet_served_run_logs() -> None:
    """Keep what a lost API makes Prefect print in a served run to the log's own lines.

    Prefect's log shipper writes each batch it could not send to stderr (the serve log,
    ``--- Error logging to API ---``, glued to the next line) unless ``logging``'s
    ``raiseExceptions`` is off, as ``pipeline materialize`` has it: the lines themselves
    are in the serve log already, and a lost API is said once (:func:`end_if_api_lost`).
    Prefect's tracebacks of a lost connection stay when serve was asked for ``--debug``,
    and so do its second tellings of a failure the run already logged
    (:mod:`orchestration.served_failure_lines`).
    """
    logging.raiseExceptions = False
    if not debug_asked(os.environ):
        one_line_reconnect_warnings()
        one_telling_of_failures()


def end_if_api_lost(outage: ApiOutage, report: RunReport) -> None:
    """Log the line for a served run that lost its API and end its process; return if the
    API answered throughout (the engine then records the run's end as usual)."""
    from prefect import get_run_logger

    line = outage.message(tables=f"the tables are as this run left them ({report.summary()})")
    if line is None:
        return
    get_run_logger().error(line)
    end_now(1)
