"""Tables as people read them: whole values on a pipe, never a cut error on a terminal."""

from __future__ import annotations

import io

from rich.console import Console

from orchestration.report_output import CHECK_COLUMNS
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
    assert "".join(below.split()) == "".join(f"pipeline_metrics {ERROR}".split())


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


def render_table(columns: list[Column], rows: list[list[str]], width: int) -> list[str]:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=width, color_system=None)
    print_table(console, columns, rows)
    return out.getvalue().splitlines()


def cells(line: str) -> list[str]:
    """The cells of one line of a box, as printed (padding stripped)."""
    return [cell.strip() for cell in line.strip("│┃").split("│" if "│" in line else "┃")]


STATUS_COLUMNS = [
    Column("asset", fold=True, key=True),
    Column("state"),
    Column("last built (UTC)"),
    Column("why", wrap=True),
]
ASSETS = ["raw_online_retails", "anomaly_customer_invoices", "link_customer_country"]


def test_a_table_that_fits_keeps_every_column_in_the_box():
    """``pipeline status`` at 80 columns: a 62-column table, yet each "-" of its why column
    followed it on a line of its own, 27 of them."""
    rows = [[asset, "fresh", "2026-12-07 03:48", "-"] for asset in ASSETS]
    lines = render_table(STATUS_COLUMNS, rows, width=80)
    assert cells(lines[1]) == ["asset", "state", "last built (UTC)", "why"]
    assert cells(lines[3]) == ["raw_online_retails", "fresh", "2026-12-07 03:48", "-"]
    assert len(lines) == 4 + len(ASSETS)


CHECK_ROWS = [
    ["link_invoice_product", "link_invoice_product_hash_key_unique", "error", "passed", "0", ""],
    ["link_customer_country", "link_customer_country_hash_key_unique", "warn", "warning", "12", ""],
]


def test_short_columns_and_headers_are_never_cut_when_the_names_are_too_long():
    """``pipeline checks`` at 80 columns read ``pa`` for passed, under ``st`` and ``sever``."""
    lines = render_table(CHECK_COLUMNS, CHECK_ROWS, width=80)
    assert all(len(line) <= 80 for line in lines)
    assert cells(lines[1])[:5] == ["asset", "check", "severity", "status", "violations"]
    body = [cells(line) for line in lines[3:-1]]
    assert [row[2:] for row in body if row[2]] == [
        ["error", "passed", "0"],
        ["warn", "warning", "12"],
    ]


def test_long_names_fold_after_their_underscores_never_mid_word():
    lines = render_table(CHECK_COLUMNS, CHECK_ROWS, width=80)
    folded = [cells(line)[1] for line in lines[3:-1]]
    first_row = folded[: folded.index("link_customer_")]
    assert "".join(first_row) == "link_invoice_product_hash_key_unique"
    assert all(piece.endswith("_") for piece in first_row[:-1]), first_row


def test_numbers_are_right_aligned_and_whole():
    columns = [Column("sale_id", fold=True), Column("total_amount", right=True)]
    uuid = "7b62fc65-8a66-de76-0001-1be28d5c8af4"
    lines = render_table(columns, [[uuid, "77.7600"], [uuid, "4.38"]], width=30)
    assert cells(lines[1]) == ["sale_id", "total_amount"]
    amounts = [line.split("│")[2] for line in lines[3:-1]]
    assert [amount for amount in amounts if amount.strip()] == [
        "      77.7600 ",
        "         4.38 ",
    ]


def test_a_table_whose_headers_cannot_fit_prints_each_row_as_a_record():
    """Nine columns of a query at 80 columns folded their headers (``sale_i``/``d``) and
    their numbers (``77.76``/``00``): each row becomes ``column  value`` lines instead."""
    columns = [Column(f"column_number_{n}", fold=True) for n in range(6)]
    columns.append(Column("total_amount", right=True))
    row = [f"value_{n}" for n in range(6)] + ["77.7600"]
    lines = render_table(columns, [row, row], width=80)
    assert lines[:9] == [
        "row 1",
        "  column_number_0  value_0",
        "  column_number_1  value_1",
        "  column_number_2  value_2",
        "  column_number_3  value_3",
        "  column_number_4  value_4",
        "  column_number_5  value_5",
        "  total_amount     77.7600",
        "row 2",
    ]


PLAN_COLUMNS = [
    Column("#", right=True),
    Column("asset", fold=True, key=True),
    Column("state"),
    Column("why", wrap=True),
]
WHY = (
    "stale: upstream link_invoice_customer was materialized after it, at 2026-12-07 03:48; "
    "drifted from its DDL: column total_amount; refused unless --full-refresh"
)


def test_a_column_that_leaves_the_box_is_keyed_by_the_asset_with_a_hanging_indent():
    """``pipeline plan`` keyed the moved lines by row number (``  7  selected``), and a long
    one came back to the first column of the terminal with a trailing space."""
    rows = [[str(n), asset, "stale", WHY] for n, asset in enumerate(ASSETS, start=1)]
    rows.append(["4", "hub_time", "fresh", "-"])
    lines = render_table(PLAN_COLUMNS, rows, width=80)
    below = lines[lines.index("why:") + 1 :]
    keyed = [line for line in below if not line.startswith("   ")]
    assert [line.split()[0] for line in keyed] == ASSETS  # nothing to say of hub_time
    value_at = len("  anomaly_customer_invoices  ")
    assert all(line[:value_at].isspace() for line in below if line not in keyed)
    assert " ".join(" ".join(below).split()).startswith(f"raw_online_retails {WHY[:60]}")
    assert all(not line.endswith(" ") and len(line) <= 80 for line in lines)


def test_keys_too_wide_to_line_values_up_put_a_long_value_under_them():
    rows = [
        [*CHECK_ROWS[0][:5], "{product_key='4524958d-8c5b-44b1-588b-08d255675c33'}"],
        [*CHECK_ROWS[1][:5], "{n=1}"],
    ]
    lines = render_table(CHECK_COLUMNS, rows, width=70)
    below = lines[lines.index("example / error:") + 1 :]
    assert below == [
        "  link_invoice_product  link_invoice_product_hash_key_unique",
        "    {product_key='4524958d-8c5b-44b1-588b-08d255675c33'}",
        "  link_customer_country  link_customer_country_hash_key_unique  {n=1}",
    ]
