"""Plotly charts as HTML fragments, written as plain JSON for plotly.js.

Plotly's Python figures validate every property through generated classes: 0.25 s of CPU
for the dashboard's three charts, plus the import, inside a run whose engine work waits
for the GIL. The page only needs what ``Figure.to_html`` writes: plotly.js (shipped in the
``plotly`` package, read as a file), the named layout template (a JSON file beside it) and
a ``Plotly.newPlot`` call with the traces and layout. The markup is ``to_html``'s own.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from pathlib import Path
from typing import Any

#: Plotly's own wrapper: MathJax stays local, so the page never asks a CDN.
_PLOTLY_CONFIG_SCRIPT = "<script>window.PlotlyConfig = {MathJaxConfig: 'local'};</script>"
#: Characters a JSON value could use to close the ``<script>`` it sits in (as plotly escapes).
_SCRIPT_SAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "/": "\\u002f"})


@functools.cache
def _package_data() -> Path:
    """The plotly package's data folder, found without importing plotly."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("the plotly package (it ships plotly.js) is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "package_data"


@functools.cache
def plotly_js() -> str:
    """The minified plotly.js that the installed plotly package ships."""
    return (_package_data() / "plotly.min.js").read_text(encoding="utf-8")


@functools.cache
def _template_json(name: str) -> str:
    return (_package_data() / "templates" / f"{name}.json").read_text(encoding="utf-8")


def template(name: str) -> dict[str, Any]:
    """A named Plotly layout template (``plotly_white``...) as plotly.js takes it."""
    loaded: dict[str, Any] = json.loads(_template_json(name))
    return loaded


def script_json(value: Any) -> str:
    """``value`` as JSON that is safe inside an HTML ``<script>`` element."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).translate(_SCRIPT_SAFE)


def chart_div(
    div_id: str,
    traces: list[dict[str, Any]],
    layout: dict[str, Any],
    config: dict[str, Any],
    include_plotlyjs: bool,
) -> str:
    """One chart's ``<div>``, as ``Figure.to_html(full_html=False)`` writes it."""
    height = layout.get("height", "100%")
    height = f"{height}px" if isinstance(height, int | float) else height
    library = f"{_PLOTLY_CONFIG_SCRIPT}\n<script>{plotly_js()}</script>" if include_plotlyjs else ""
    return (
        f'<div style="height:{height}; width:100%;">{library}'
        f'<div id="{div_id}" class="plotly-graph-div" style="height:100%; width:100%;"></div>'
        "<script>window.PLOTLYENV=window.PLOTLYENV || {};"
        f'if (document.getElementById("{div_id}")) {{'
        f'Plotly.newPlot("{div_id}", {script_json(traces)}, {script_json(layout)}, '
        f"{script_json(config)})}};</script></div>"
    )
