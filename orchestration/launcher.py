"""The ``pipeline`` console script: start the command warm if a starter runs, else cold.

Kept to the standard library until it knows which: a warm command's whole process is this
module, a socket and a wait (see :mod:`orchestration.warm_start`).
"""

from __future__ import annotations

import os
import sys

from orchestration import warm_start


def main() -> None:
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
