"""Tables as people read them: whole values on a pipe, never a cut error on a terminal."""

from __future__ import annotations

import io

from rich.console import Console

from orchestration.text_table import Column, print_table

ERROR = (
    "PushgatewayError: asset 'pipeline_metrics': cannot reach the Pushgateway at "
    "http://127.0.0.1:1/metrics/job/online_retail (check PUSHGATEWAY_URL)"
)
COLUMNS = [
    Column("asset"),
    Column("rows", right=True),
    Column("status"),
    Column("error", wrap=True),
]
ROWS = [["pipeline_metrics", "-", "failed", ERROR], ["fact_sales", "1,917", "materialized", ""]]


def render(*, terminal: bool, width: int) -> str:
    out = io.StringIO()
    console = Console(file=out, force_terminal=terminal, width=width, color_system=None)
    print_table(console, COLUMNS, ROWS, title="Run report")
    return out.getvalue()


def test_pipe_gets_plain_aligned_columns_with_every_value_whole():
    lines = render(terminal=False, width=80).splitlines()
    assert lines == [
        "Run report",
        "asset              rows  status        error",
        f"pipeline_metrics      -  failed        {ERROR}",
        "fact_sales        1,917  materialized",
    ]


def test_wide_terminal_folds_the_error_inside_the_box_at_word_boundaries():
    text = render(terminal=True, width=160)
    assert "┃ error" in text
    assert "PushgatewayError: asset 'pipeline_metrics': cannot reach the Pushgateway at" in text


def test_narrow_terminal_moves_the_error_below_the_box_whole():
    text = render(terminal=True, width=60)
    box, _, below = text.partition("error:\n")
    assert "error" not in box.splitlines()[2]  # the header row holds no error column
    assert " ".join(below.split()) == f"pipeline_metrics {ERROR}"


def test_values_and_headers_print_as_they_are_never_as_emoji_or_markup():
    """A query result is data: ``root:x:0`` (a line of /etc/passwd) is not an emoji code,
    ``[red]`` in a column name is not a style."""
    columns = [Column(":x: [red]name"), Column("line")]
    rows = [["a", "root:x:0:0:root:/root:/bin/bash :smile: [bold]b[/bold]"]]
    for terminal in (False, True):
        out = io.StringIO()
        console = Console(file=out, force_terminal=terminal, width=200, color_system=None)
        print_table(console, columns, rows, title="t :x:")
        text = out.getvalue()
        assert "root:x:0:0:root:/root:/bin/bash :smile: [bold]b[/bold]" in text, text
        assert ":x: [red]name" in text, text
        assert "t :x:" in text, text
