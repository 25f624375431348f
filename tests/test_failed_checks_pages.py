"""The pages of a run where an asset failed its checks: what failed, said once and short.

The UI review's scenario: the retail pipeline's four ``*_key_resolves`` checks of
``fact_sales`` broken (``NOT IN`` made ``IN``), a full run after a good one. The failed
page's ``Failed:`` paragraph was ~11 lines of example rows (UUIDs) that the Checks table
gave again; the table's rows were said to be published twice; four lines said of four
dimensions that the run rebuilt them with the same code and rows; the state row listed
eleven upstream this same run built before its real reason, the failure; *Versions read*
was eleven lines of ``X: this run``. The run's lineage page was 8,230 px tall, named one
of the four failed checks on its first screen, cut at ``…``, with ``Next:`` below the fold.

Pure rendering, as the run writes the pages (tests/test_failed_check_reads.py and
tests/test_failed_checks_state.py run it against the real engines).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from orchestration.artifacts import lineage_markdown
from orchestration.asset_page import (
    VERSIONS_READ,
    AssetPage,
    Materialization,
    PageLinks,
    UpstreamRead,
)
from orchestration.checks import AssetCheckError, AssetCheckResult, failures_in_brief
from orchestration.definitions import load_definitions
from orchestration.history import MaterializationRecord
from orchestration.io_manager import MaterializeResult
from orchestration.resolver import plan_materialization
from orchestration.run_report import AssetOutcome, CheckedRead, RunReport
from orchestration.staleness import Reason, upstream_since

RETAIL = load_definitions("assets").graph()
FACT = RETAIL["fact_sales"]
FINISHED = datetime(2026, 12, 7, 19, 51, 23, tzinfo=UTC)
ROWS = 97_356
#: The four checks the review broke, each the dimension it reads, its rows, and a sale.
DIMENSIONS = {
    "product_key": ("dim_product", 4_002),
    "customer_key": ("dim_customer", 1_904),
    "time_key": ("dim_time", 4_953),
    "country_key": ("dim_country", 40),
}
SALE = "7b62fc65-8a66-de76-0001-1be28d5c8af4"
SAME = "rebuilt this run with the same code and row count"
HELD = "The table holds this run's 97,356 rows: published, then its checks failed."


def _failing() -> tuple[AssetCheckResult, ...]:
    return tuple(
        AssetCheckResult(
            "fact_sales",
            FACT.table,
            f"{column}_resolves",
            "error",
            False,
            ROWS,
            ({"sale_id": SALE, "invoice_no": "491731", column: f"{column}-{SALE}"},),
        )
        for column in DIMENSIONS
    )


def _reads(*, differing: str | None = None) -> tuple[CheckedRead, ...]:
    """The dimensions the failed checks read, each rebuilt this run the same, but
    ``differing``'s, whose code changed."""
    reads = []
    for column, (dimension, rows) in DIMENSIONS.items():
        table = RETAIL[dimension].table
        if dimension == differing:
            change = f"rebuilt this run: code e193fcc9 -> 6cbcffdd, {rows:,} -> {rows - 1:,} rows"
            reads.append(CheckedRead(f"{column}_resolves", dimension, table, change, True))
        else:
            change = f"rebuilt this run: same code, {rows:,} rows as before"
            reads.append(
                CheckedRead(f"{column}_resolves", dimension, table, change, True, same=SAME)
            )
    return tuple(reads)


def _success() -> MaterializationRecord:
    ended = datetime(2026, 12, 7, 19, 50, 41, tzinfo=UTC)
    return MaterializationRecord(
        "m-0", "fact_sales", FACT.table, "c0de", ended, "materialized", run_id="run-0",
        rows=ROWS, ended=ended,
    )  # fmt: skip


def _outcome(*, differing: str | None = None, **extra) -> AssetOutcome:
    """fact_sales as the review's run left it: published, then its four checks failed."""
    passed = AssetCheckResult(
        "fact_sales", FACT.table, "lines_reconcile_with_vault", "error", True, 0
    )
    failing = _failing()
    error = AssetCheckError("fact_sales", FACT.table, failing)
    return AssetOutcome(
        "fact_sales",
        FACT.table,
        "failed",
        4.34,
        MaterializeResult(FACT.table, ROWS, 4.3),
        error=str(error),
        foreseen=True,
        cause=error.cause,
        checks=(*failing, passed),
        state="stale",
        last_success=_success(),
        checked_reads=_reads(differing=differing),
        **extra,
    )


def _page(outcome: AssetOutcome, reads: tuple[UpstreamRead, ...] | None = None) -> str:
    page = AssetPage(
        spec=FACT,
        graph=RETAIL,
        materialization=Materialization(outcome, "run-1", "all assets", FINISHED),
        reads=reads,
    )
    return page.markdown(PageLinks())


def _under_title(markdown: str) -> str:
    return markdown.split("\n\n", 1)[1].split("**This version:** run ", 1)[0]


def test_failures_in_brief_name_each_check_and_its_rows_and_no_example():
    said = failures_in_brief(_failing())
    assert said == (
        "4 error-severity checks failed: product_key_resolves (97,356 rows), "
        "customer_key_resolves (97,356), time_key_resolves (97,356), "
        "country_key_resolves (97,356)"
    )
    one = failures_in_brief(_failing()[:1])
    assert one == "1 error-severity check failed: product_key_resolves (97,356 rows)"
    broken = AssetCheckResult(
        "fact_sales", FACT.table, "keys_resolve", "error", False, None, error="Code: 47."
    )
    # A check that could not run says why: its SQL is what to fix, and no table shows it.
    assert failures_in_brief((*_failing()[:1], broken)) == (
        "1 error-severity check failed: product_key_resolves (97,356 rows); "
        "check 'keys_resolve' could not run: Code: 47."
    )


def test_a_page_failed_by_its_checks_names_them_and_their_rows_and_leaves_examples_to_the_table():
    markdown = _page(_outcome())
    failed = _under_title(markdown)
    assert failed.startswith(
        "**Failed:** 4 error-severity checks failed: product_key_resolves (97,356 rows), "
        "customer_key_resolves (97,356), time_key_resolves (97,356), "
        "country_key_resolves (97,356). The Checks table below shows an example row of "
        "each, and the command that lists them all.\\\n"
    )
    assert SALE not in failed
    assert "asset 'fact_sales' (table marts.Fact_Sales)" not in failed  # the page is its
    # The examples: once each, in the Checks table.
    for column in DIMENSIONS:
        assert markdown.count(f"{column}-{SALE}") == 1


def test_a_page_failed_by_its_checks_says_once_that_the_table_holds_its_rows():
    markdown = _page(_outcome())
    assert markdown.count(HELD) == 1
    assert HELD in _under_title(markdown)
    # Under *This run*: the last success, whose rows the table held then.
    this_run = markdown.split("## This run: failed", 1)[1].split("## Checks", 1)[0]
    assert (
        "\nLast successful materialization: finished "
        "2026\u201112\u201107\xa019:50:41\xa0UTC, 97,356 "
        "rows in the table then, by [its flow run](/v2/runs/flow-run/run-0).\n"
    ) in this_run


def test_reads_of_dimensions_the_run_rebuilt_the_same_are_said_in_one_line():
    failed = _under_title(_page(_outcome()))
    links = ", ".join(
        f"[{dimension}](/v2/artifacts/key/asset-{dimension.replace('_', '-')})"
        for dimension, _ in DIMENSIONS.values()
    )
    assert f"\\\nIts failed checks read {links}: each {SAME}.\n" in failed
    assert "Check `" not in failed


def test_a_read_that_differs_keeps_its_own_line_beside_the_others_in_one():
    failed = _under_title(_page(_outcome(differing="dim_customer")))
    lines = failed.split("\n")
    assert lines[1] == f"{HELD}\\"
    assert lines[2] == (
        "Check `customer_key_resolves` reads `marts.Dim_Customer` "
        "([dim_customer](/v2/artifacts/key/asset-dim-customer)), rebuilt this run: code "
        "e193fcc9 -\\> 6cbcffdd, 1,904 -\\> 1,903 rows.\\"
    )
    assert lines[3] == (
        "Its failed checks read [dim_product](/v2/artifacts/key/asset-dim-product), "
        "[dim_time](/v2/artifacts/key/asset-dim-time), "
        f"[dim_country](/v2/artifacts/key/asset-dim-country): each {SAME}."
    )


def test_a_single_read_alike_is_said_as_before():
    """Nothing to fold: one line, naming the check, as a read that differs."""
    (read,) = _reads()[:1]
    markdown = _page(_one_read(read))
    assert (
        "Check `product_key_resolves` reads `marts.Dim_Product` "
        "([dim_product](/v2/artifacts/key/asset-dim-product)), rebuilt this run: same code, "
        "4,002 rows as before."
    ) in _under_title(markdown)


def _one_read(read: CheckedRead) -> AssetOutcome:
    outcome = _outcome()
    outcome.checked_reads = (read,)
    return outcome


def _state_row(markdown: str) -> str:
    (row,) = [line for line in markdown.split("\n") if line.startswith("| state after this run")]
    return row


def _reasons(*rebuilt: str) -> tuple[Reason, ...]:
    deps = FACT.deps
    ordering = RETAIL.upstream_of("fact_sales").ordering
    return (
        Reason("upstream_materialized", upstream_since(deps, ordering), upstream=tuple(deps)),
        Reason(
            "last_run_failed",
            "last run failed after publishing 97,356 rows, which the table holds instead of "
            "the last success's: failed its checks: check 'product_key_resolves' (error): ...",
        ),
    )


def test_the_state_row_says_the_failure_first_and_counts_the_upstream_this_run_built():
    reads = tuple(UpstreamRead(dep, this_run=True) for dep in FACT.deps)
    markdown = _page(_outcome(reasons=_reasons()), reads)
    assert _state_row(markdown) == (
        "| state after this run | stale (last run failed after publishing 97,356 rows, which "
        "the table holds instead of the last success's: see the error under the title; "
        "upstream materialized since: 11, all by this run (hub_invoice, "
        "link_invoice_product, link_invoice_customer, …)) |"
    )


def _dim_country_of_an_earlier_run() -> tuple[UpstreamRead, ...]:
    """fact_sales' versions read: dim_country's of a run at 19:00, the rest this run's."""
    built = datetime(2026, 12, 7, 19, 0, tzinfo=UTC)
    earlier = MaterializationRecord(
        "m-1", "dim_country", "marts.Dim_Country", "c0de", built, "materialized", ended=built
    )
    return tuple(
        UpstreamRead(dep, earlier) if dep == "dim_country" else UpstreamRead(dep, this_run=True)
        for dep in FACT.deps
    )


def test_the_state_row_names_in_full_the_upstream_an_earlier_run_built():
    reads = _dim_country_of_an_earlier_run()
    row = _state_row(_page(_outcome(reasons=_reasons()), reads))
    assert row.endswith(
        "upstream materialized since: dim_country (order), and 10 by this run (hub_invoice, "
        "link_invoice_product, link_invoice_customer, …)) |"
    )
    # Without the versions read (no history kept), nothing tells: the list, in full.
    full = _state_row(_page(_outcome(reasons=_reasons())))
    ordering = RETAIL.upstream_of("fact_sales").ordering
    assert full.endswith(f"; {upstream_since(FACT.deps, ordering)}) |")


def test_versions_read_all_of_this_run_are_said_in_one_line():
    reads = tuple(UpstreamRead(dep, this_run=True) for dep in FACT.deps)
    lines = _page(_outcome(), reads).split("\n")
    at = lines.index(VERSIONS_READ)
    assert lines[at + 2 :][:2] == [
        "- this run's, of all 11: hub_invoice, link_invoice_product, link_invoice_customer, "
        "link_invoice_time, link_invoice_country, sat_invoice, sat_invoice_status, "
        "dim_product, dim_customer, dim_time, dim_country",
        "",
    ]


def test_versions_read_list_each_one_not_of_this_run():
    reads = _dim_country_of_an_earlier_run()
    lines = _page(_outcome(), reads).split("\n")
    at = lines.index(VERSIONS_READ)
    items = lines[at + 2 : lines.index("", at + 2)]
    assert items[0].startswith("- this run's, of 10: hub_invoice, link_invoice_product, ")
    assert items[1:] == [
        "- dim_country (checked against): built 2026\u201112\u201107\xa019:00:00\xa0UTC",
    ]


def _report() -> tuple[object, RunReport]:
    plan = plan_materialization(RETAIL, None)
    outcomes = []
    for spec in plan.selected:
        if spec.key == "fact_sales":
            outcomes.append(_outcome(differing="dim_customer"))
        elif "fact_sales" in RETAIL.ancestors(spec.key):
            outcomes.append(
                AssetOutcome(
                    spec.key,
                    spec.table,
                    "skipped",
                    failed_upstream=("fact_sales",),
                    error="upstream failed: fact_sales",
                )
            )
        else:
            result = MaterializeResult(table=spec.table, rows=10, seconds=0.1)
            outcomes.append(AssetOutcome(spec.key, spec.table, "materialized", 0.1, result))
    return plan, RunReport(outcomes=outcomes, flow_run_id="r1", seconds=1.0)


def test_the_lineage_pages_failure_is_what_failed_and_the_counts_then_what_differs():
    plan, report = _report()
    page = uuid.uuid4()
    markdown = lineage_markdown(plan, report, PageLinks(versions={"fact_sales": page}))  # type: ignore[arg-type]
    failed, skipped = (
        markdown.split("**Failed:**\n\n", 1)[1].split("\n\nNext: ", 1)[0].split("\n\n")
    )
    assert skipped.startswith("**6 assets skipped** (upstream failed: fact_sales): [anomaly_")
    assert failed.split("\\\n  ") == [
        f"- [fact_sales](/v2/artifacts/artifact/{page}): 4 error-severity checks failed: "
        "product_key_resolves (97,356 rows), customer_key_resolves (97,356), "
        "time_key_resolves (97,356), country_key_resolves (97,356).",
        "`marts.Fact_Sales` holds this run's 97,356 rows: published, then its checks failed. "
        "Last successful materialization: finished "
        "2026\u201112\u201107\xa019:50:41\xa0UTC, 97,356 rows "
        "in the table then, by [its flow run](/v2/runs/flow-run/run-0).",
        "Check `customer_key_resolves` reads `marts.Dim_Customer` "
        "([dim_customer](/v2/artifacts/key/asset-dim-customer)), rebuilt this run: code "
        "e193fcc9 -\\> 6cbcffdd, 1,904 -\\> 1,903 rows.",
    ]
    # The run table's error cell: the cause, not the asset its row names.
    (row,) = [line for line in markdown.split("\n") if line.startswith("| [fact_sales](")]
    assert row.endswith("| failed | failed its checks: check 'product_key_resolves'… |")
