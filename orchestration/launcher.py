"""The ``pipeline`` console script: start the command warm if a starter runs, else cold.

Kept to the standard library until it knows which: a warm command's whole process is this
module, a socket and a wait (see :mod:`orchestration.warm_start`).
"""

from __future__ import annotations

import os
import sys

from orchestration import warm_start


def main() -> None:
    # Import the code location from the directory the command runs in, as `python -m`
    # and Dagster's `-m` do: a project of one's own needs no install, and a second checkout
    # sharing the environment runs its own assets, not the editable install's. A console
    # script's first path entry is its own directory (the venv's bin), where nothing is
    # imported from; a warm start hands this entry on to the child that runs the command.
    sys.path[0] = os.getcwd()
    argv = sys.argv[1:]
    # The environment as launched: what the next command's key is computed from (a cold
    # command changes its own, e.g. PREFECT_API_URL once the local server is found).
    launched = dict(os.environ)
    try:
        warm = warm_start.enabled(os.environ) and warm_start.eligible(argv, os.environ)
    except warm_start.WarmStartError as exc:
        sys.stderr.write(f"error: {exc}\n")
        sys.exit(2)
    if warm:
        code = warm_start.run_warm(argv)
        if code is not None:
            sys.exit(code)
    from orchestration.cli import main as cold_main

    succeeded = False
    try:
        cold_main()
        succeeded = True
    except SystemExit as exit_:
        succeeded = exit_.code in (0, None)
        raise
    finally:
        if warm:  # no starter took it: leave one for the next command
            warm_start.start_in_background(launched, succeeded=succeeded)
