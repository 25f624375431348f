"""``PIPELINE_DEBUG``: ``--debug`` for a command, and for the processes it starts.

A run that ``pipeline serve`` starts is a process of Prefect's own, which no command line
of ours reaches: ``pipeline --debug serve`` hands its ``--debug`` on through this, as a
user can set it for any command.
"""

from __future__ import annotations

from collections.abc import Mapping

DEBUG_ENV = "PIPELINE_DEBUG"


def debug_asked(env: Mapping[str, str]) -> bool:
    """Whether ``env`` asks for tracebacks and library logs (set, and not ``0``)."""
    return env.get(DEBUG_ENV, "") not in ("", "0")
