"""Ctrl-C before a run ends the command with 130, whatever library code it lands in.

Before a run starts (while the command loads its code location, imports Prefect, plans,
opens the warehouse), Ctrl-C is Python's ``KeyboardInterrupt``, and Typer ends the command
with 130, silently. But the interrupt is raised in whatever code is running, and library
code does not always let it through:

* Prefect's settings serialize themselves with a pydantic serializer, which turns an
  exception raised inside it into ``PydanticSerializationError`` ("Error calling function
  `_ser_model`: KeyboardInterrupt"); nested serializers, as Prefect's are, leave the
  interrupt out of the error's chain. The command printed that as its error, exit 1;
* some callers catch that error and carry on (Prefect's profile validation does), and an
  interrupt raised in a finalizer is printed ("Exception ignored in ...") and dropped: the
  command went on to run every asset, as if no Ctrl-C had come.

So while a command runs, SIGINT is noted before it is raised (:func:`noting_ctrl_c`): an
error the command ends with is the interrupt's doing if a SIGINT came or a
``KeyboardInterrupt`` is in its chain (:func:`caused_by_ctrl_c`), never told by its text;
and a run does not start once one came (:func:`end_if_ctrl_c_came`).
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

from orchestration.exception_chain import exception_chain

#: How a shell reports a command that Ctrl-C ended (128 + SIGINT).
INTERRUPTED = 128 + signal.SIGINT

_came = threading.Event()


@contextlib.contextmanager
def noting_ctrl_c() -> Iterator[None]:
    """For the block, SIGINT is noted, then raised as ``KeyboardInterrupt`` as Python does;
    an interrupt a finalizer could not raise is not printed (it is noted). A SIGINT that is
    ignored, or handled otherwise already, stays as it is."""
    _came.clear()
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield
        return
    previous_hook = sys.unraisablehook
    signal.signal(signal.SIGINT, _note_and_raise)
    sys.unraisablehook = _unless_ctrl_c(previous_hook)
    try:
        yield
    finally:
        sys.unraisablehook = previous_hook
        signal.signal(signal.SIGINT, signal.default_int_handler)


def ctrl_c_came() -> bool:
    """Whether SIGINT came in the :func:`noting_ctrl_c` block."""
    return _came.is_set()


def caused_by_ctrl_c(exc: BaseException) -> bool:
    """Whether ``exc`` is the doing of Ctrl-C: a ``KeyboardInterrupt`` is in its chain, or
    a SIGINT came while the command ran (library code wraps the interrupt in errors of its
    own, sometimes with nothing in their chain)."""
    return ctrl_c_came() or any(isinstance(e, KeyboardInterrupt) for e in exception_chain(exc))


def end_if_ctrl_c_came() -> None:
    """Raise ``KeyboardInterrupt`` if a SIGINT came and library code lost it, so that the
    command ends as Ctrl-C ends it, rather than start its work."""
    if ctrl_c_came():
        raise KeyboardInterrupt


def _note_and_raise(_signum: int, _frame: object) -> None:
    _came.set()
    raise KeyboardInterrupt


def _unless_ctrl_c(hook: Any) -> Any:
    """``hook``, save for an interrupt raised in a finalizer: noted, it ends the command."""

    def unraisable(unraisable: Any) -> None:
        if not isinstance(unraisable.exc_value, KeyboardInterrupt):
            hook(unraisable)

    return unraisable
