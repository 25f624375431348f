"""The safety location, whose import meets Ctrl-C inside library code that mangles it.

Prefect's settings serialize themselves with a pydantic serializer that calls its
children's ``model_dump``: a ``KeyboardInterrupt`` raised in there comes out as a
``PydanticSerializationError`` ("Error calling function `_ser_model`: KeyboardInterrupt"),
with the interrupt in its chain only when one serializer was involved. Some callers catch
that error and carry on (Prefect's profile validation does), and an interrupt raised in a
finalizer is only printed. As the import begins to serialize, it creates the file named by
``$LOST_CTRL_C_MARKER``; ``$LOST_CTRL_C_MODE`` says what becomes of the interrupt:

* ``chained``: one serializer; the error, the interrupt as its cause, ends the import;
* ``wrapped``: nested serializers; the error, with nothing in its chain, ends the import;
* ``caught``: nested serializers, whose error is caught: the import completes;
* ``finalizer``: a finalizer waits, and the interrupt is lost in it: the import completes.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SerializerFunctionWrapHandler, model_serializer

from tests.safety_location import defs

__all__ = ["defs"]

MARKER_ENV = "LOST_CTRL_C_MARKER"
MODE_ENV = "LOST_CTRL_C_MODE"
_WAIT_SECONDS = 60.0


def _announce_and_wait() -> None:
    Path(os.environ[MARKER_ENV]).touch()
    time.sleep(_WAIT_SECONDS)


class Child(BaseModel):
    level: str = "INFO"

    @model_serializer(mode="wrap")
    def _ser_model(self, handler: SerializerFunctionWrapHandler) -> Any:
        _announce_and_wait()
        return handler(self)


class Parent(BaseModel):
    """Serializes its child with the child's ``model_dump``, as Prefect's settings do."""

    child: Child = Child()

    @model_serializer(mode="wrap")
    def _ser_model(self, handler: SerializerFunctionWrapHandler) -> Any:
        dumped = handler(self)
        dumped["child"] = self.child.model_dump()
        return dumped


class _WaitsWhenCollected:
    def __del__(self) -> None:
        _announce_and_wait()


_mode = os.environ.get(MODE_ENV)
if _mode == "chained":
    Child().model_dump()
elif _mode == "wrapped":
    Parent().model_dump()
elif _mode == "caught":
    with contextlib.suppress(ValueError):
        Parent().model_dump()
elif _mode == "finalizer":
    _WaitsWhenCollected()  # collected at once, its finalizer run here
