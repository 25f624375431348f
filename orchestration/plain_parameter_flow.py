"""A Prefect flow whose JSON-ready parameters are stored as they are.

Prefect stores a flow run's parameters as JSON and runs each one through FastAPI's
``jsonable_encoder`` first, which imports the whole web framework (FastAPI, Starlette
and their OpenAPI models: 0.09-0.11 s of CPU on a quiet machine, 0.27 s under
``-X importtime``) into a process that serves no HTTP. A
materialization's parameters (``select``, ``source``) are strings or ``None``: JSON
already, and ``jsonable_encoder`` returns them unchanged. Anything else still goes
through Prefect's encoder.
"""

from __future__ import annotations

from typing import Any

from prefect.flows import Flow

_JSON_SCALARS = (str, int, float, bool, type(None))


class PlainParameterFlow(Flow[Any, Any]):
    """A :class:`prefect.flows.Flow` that encodes JSON scalars without FastAPI."""

    def serialize_parameters(self, parameters: dict[str, Any]) -> dict[str, Any]:
        bound = self.ismethod or self.isclassmethod  # Prefect drops the bound self or cls
        if not bound and all(isinstance(v, _JSON_SCALARS) for v in parameters.values()):
            return dict(parameters)
        return super().serialize_parameters(parameters)
