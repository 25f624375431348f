"""A one-shot ``pipeline`` command ends when its work is done, not seconds later.

Two costs came after the work in every ``pipeline materialize`` (measured in
docs/benchmark.md, "Fixed cost of a command"):

* Prefect's sync flow engine joins its heartbeat thread when the flow ends, and that
  thread sleeps in 1 s steps: 0.5-1.3 s per run, for heartbeats (every 180 s by default)
  that a run of a few seconds barely sends and that nothing on a default server reads;
* interpreter teardown after the last exit handler: collecting a heap of Prefect, pandas
  and pyarrow objects and the embedded ClickHouse engine's static destructors, 1-2.5 s
  while the user waits for the prompt.

:func:`without_flow_heartbeats` turns the first off for a one-shot run
(``resolver.materialize``, which the CLI and the benchmark call; a user who
sets ``PREFECT_FLOWS_HEARTBEAT_FREQUENCY`` in the environment or the Prefect profile, e.g.
to detect crashed runs with an automation, keeps them). :func:`ends_without_teardown`
skips the second: the process ends with ``os._exit`` once every exit handler has run -
Prefect's own (which deliver the run's logs and events), then logging's flush - and
stdout and stderr are flushed. Every table is already closed by then; ClickHouse needs
no destructor to keep what it committed.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import logging
import os
import sys
from collections.abc import Callable, Iterator
from typing import NoReturn

HEARTBEAT_ENV = "PREFECT_FLOWS_HEARTBEAT_FREQUENCY"


@contextlib.contextmanager
def without_flow_heartbeats() -> Iterator[None]:
    """Flow runs started inside send no heartbeats, unless the user configured them
    (``PREFECT_FLOWS_HEARTBEAT_FREQUENCY`` in the environment or the Prefect profile).

    The run's settings are the current ones with that one field changed. Prefect's
    ``temporary_settings`` would rebuild every setting from the environment, the profile
    and the TOML files instead: 25 ms on an idle machine, ~40 ms of every command's
    start-up during a run (py-spy, docs/benchmark.md).
    """
    from prefect.context import SettingsContext, get_settings_context

    context = get_settings_context()
    flows = context.settings.flows
    if os.environ.get(HEARTBEAT_ENV) or "heartbeat_frequency" in flows.model_fields_set:
        yield
        return
    settings = context.settings.model_copy(
        update={"flows": flows.model_copy(update={"heartbeat_frequency": None})}
    )
    with SettingsContext(profile=context.profile, settings=settings):
        yield


def ends_without_teardown(main: Callable[[], None]) -> Callable[[], None]:
    """Wrap a console-script entry point so the process skips interpreter teardown.

    Only an exit with an integer code (or none) is shortened; an uncaught exception ends
    the ordinary way, traceback and all.
    """

    @functools.wraps(main)
    def run() -> None:
        exit_code: list[int] = []  # set once main has ended with a code
        # Registered before any library registers its own handler, so it runs last.
        atexit.register(_end_process, exit_code)
        try:
            main()
        except SystemExit as exit_:
            if exit_.code is None or isinstance(exit_.code, int):
                exit_code.append(exit_.code or 0)
            raise
        exit_code.append(0)

    return run


def end_now(code: int) -> NoReturn:
    """End the process with ``code`` once stdout and stderr are flushed, running no exit
    handler at all: for a run whose Prefect API is gone, Prefect's (its event and log
    workers, drained when the main thread ends, before ``atexit``) would try to deliver
    every queued event (~7 s each) and log batch to it, minutes for nothing."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: end anyway
            stream.flush()
    os._exit(code)


def _end_process(exit_code: list[int]) -> None:
    if not exit_code:
        return
    logging.shutdown()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return  # e.g. a closed pipe: let Python's own teardown report it as usual
    os._exit(exit_code[-1])
