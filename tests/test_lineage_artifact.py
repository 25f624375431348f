"""The lineage artifact's markdown: the run's graph, coloured by outcome, and its table.

Pure rendering, no server: what the Prefect UI receives is checked here line by line;
tests/test_lineage_ui.py checks what the UI makes of it.
"""

from __future__ import annotations

import html
import re
import uuid
from datetime import UTC, datetime

import pytest

from orchestration.artifacts import (
    edges_in,
    lineage_description,
    lineage_markdown,
    mermaid_block,
    mermaid_blocks,
    unfinished_lineage_markdown,
)
from orchestration.asset_page import PageLinks
from orchestration.definitions import load_definitions
from orchestration.fingerprint import ChosenSource, run_sources
from orchestration.graph import AssetGraph, Upstream
from orchestration.history import AssetHistory, MaterializationRecord
from orchestration.io_manager import MaterializeResult
from orchestration.lineage import to_mermaid
from orchestration.prefect_ui import flow_run_path
from orchestration.resolver import plan_materialization
from orchestration.run_report import AssetOutcome, RunReport
from orchestration.ui_lineage import layer_diagrams
from tests.lineage_location import defs
from tests.lineage_markdown import artifact_rows, mermaid_classes, rendered
from tests.small_graphs import two_assets, with_a_checked_dimension, with_an_ordering_dep

SELECTION = "key:fact_sales+"


def _report(
    plan, failing: str | None = None, error: str = "boom", cause: str | None = None
) -> RunReport:
    outcomes = []
    for spec in plan.selected:
        if spec.key == failing:
            failed = AssetOutcome(spec.key, spec.table, "failed", 0.5, error=error, cause=cause)
            outcomes.append(failed)
        elif failing and failing in plan.graph.ancestors(spec.key):
            outcomes.append(
                AssetOutcome(
                    spec.key,
                    spec.table,
                    "skipped",
                    failed_upstream=(failing,),
                    error=f"upstream failed: {failing}",
                )
            )
        else:
            result = MaterializeResult(table=spec.table, rows=1234, seconds=0.25)
            outcomes.append(AssetOutcome(spec.key, spec.table, "materialized", 0.25, result))
    return RunReport(outcomes=outcomes, flow_run_id="r1", seconds=1.0)


@pytest.fixture
def plan():
    return plan_materialization(defs.graph(), SELECTION)


def test_artifact_diagrams_hold_the_lineage_graph_with_run_outcomes(plan):
    report = _report(plan, failing="anomaly_invoice")
    diagrams = mermaid_blocks(lineage_markdown(plan, report))
    whole = to_mermaid(plan.graph, [spec.key for spec in plan.selected])
    assert set().union(*(edges_in(d) for d in diagrams)) == edges_in(whole)
    classes = mermaid_classes(diagrams)
    assert classes["failed"] == {"anomaly_invoice"}
    assert classes["skipped"] == {o.key for o in report.by_status("skipped")}
    assert "data_quality" in classes["skipped"]
    assert classes["not_selected"] == {spec.key for spec in plan.external}


def test_every_selected_asset_heads_exactly_one_layer_diagram(plan):
    report = _report(plan)
    markdown = lineage_markdown(plan, report)
    outcomes = {o.key: o.status for o in report.outcomes}
    selected = [spec.key for spec in plan.selected]
    diagrams = layer_diagrams(plan.graph, selected, outcomes, PageLinks().href)
    members = [key for d in diagrams for key in d.keys]
    assert sorted(members) == sorted(spec.key for spec in plan.selected)
    blocks = mermaid_blocks(markdown)
    assert len(blocks) == len(diagrams)
    for diagram, block in zip(diagrams, blocks, strict=True):
        assert f"### {diagram.title}" in markdown
        assert block == diagram.mermaid


def test_unselected_upstream_is_drawn_with_a_dashed_border_and_listed_as_not_selected(plan):
    markdown = lineage_markdown(plan, _report(plan))
    diagrams = "\n".join(mermaid_blocks(markdown))
    external = {spec.key for spec in plan.external}
    assert external == {
        "sat_invoice",
        "link_invoice_product",
        "link_invoice_customer",
        "link_invoice_time",
        "link_invoice_country",
        "dim_customer",
    }
    for key in external:
        # Its edges are arrows as any read: a dotted line is an ordering-only edge.
        assert any(line.strip().startswith(f"{key} --> ") for line in diagrams.splitlines())
        assert artifact_rows(markdown)[key][1:] == [plan.graph[key].table, "-", "-"]
    assert re.search(r"classDef not_selected .*stroke-dasharray", diagrams)
    assert "-.->" not in diagrams


def test_table_lists_rows_inserted_seconds_status_and_error(plan):
    markdown = lineage_markdown(plan, _report(plan, failing="anomaly_invoice"))
    rows = artifact_rows(markdown)
    assert rows["fact_sales"][1:] == [
        "marts.Fact_Sales",
        "1,234",
        "1,234",
        "0.25",
        "materialized",
        "-",
    ]
    assert rows["anomaly_invoice"][2:] == ["-", "-", "0.50", "failed", "boom"]
    assert rows["data_quality"][4:] == ["-", "skipped", "upstream failed: anomaly_invoice"]


def test_each_asset_row_links_to_its_page(plan):
    version = uuid.uuid4()
    links = PageLinks(versions={"fact_sales": version})
    rows = artifact_rows(lineage_markdown(plan, _report(plan), links))
    assert rows["fact_sales"][0] == f"/v2/artifacts/artifact/{version}"
    # No version known yet: the page's history (its version list).
    assert rows["sales_summary"][0] == "/v2/artifacts/key/asset-sales-summary"


def test_errors_cannot_break_the_table_or_inject_html(plan):
    error = "bad | value <script>alert(1)</script>\nsecond line"
    rows = artifact_rows(lineage_markdown(plan, _report(plan, "anomaly_invoice", error)))
    cell = rows["anomaly_invoice"][6]
    assert cell == "bad \\| value \\<script\\>alert(1)\\</script\\>"


#: What chdb raised for a query naming a column that is not there: the code span, the
#: ``*`` and ``_`` of a query and, in its string literal, a tag, a link, a pipe, emphasis.
ENGINE_ERROR = (
    "ChdbError: Code: 47. DB::Exception: Unknown expression or function identifier "
    "`unit_price_eur`. In scope SELECT * FROM (SELECT 1 AS qty_sold, "
    "'<b>[x](y)</b> | *new* _old_ ~~w~~' AS note) WHERE (qty_sold * unit_price_eur) > 0. "
    "(UNKNOWN_IDENTIFIER)"
)


def _shown_error(markdown: str, key: str) -> tuple[str, str]:
    """What a reader sees of ``key``'s error: its item in the list of failures and the
    last cell of its table row (the HTML), after checking the row kept its 7 cells."""
    page = rendered(markdown)
    link = f'">{key}</a>'
    item = page.split(f"{link}: ", 1)[1].split("</li>", 1)[0]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", page.split(f"{link}</td>", 1)[1].split("</tr>")[0])
    assert len(cells) == 6, cells
    return item, cells[-1]


def test_an_error_reads_as_written_in_the_failed_list_and_the_table(plan):
    """Markdown in an error (a SELECT's ``*``, backticks, a tag, a link, a pipe) is shown,
    not obeyed: rendered, the page holds the error's own characters, in its list of
    failures and in its table's cell, and the table keeps its columns."""
    markdown = lineage_markdown(plan, _report(plan, "anomaly_invoice", ENGINE_ERROR))
    item, cell = _shown_error(markdown, "anomaly_invoice")
    assert item == html.escape(ENGINE_ERROR, quote=False)
    assert cell == html.escape("ChdbError: Code: 47. DB::Exception: Unknown…")


def test_a_multiline_errors_lines_are_joined_in_the_failed_list(plan):
    """A line of its own in the list of failures would begin a new item: the error's
    lines are joined by spaces, each as written."""
    error = f"{ENGINE_ERROR}\n- Maybe you meant: ['unit_price']\n  1. frame"
    markdown = lineage_markdown(plan, _report(plan, "anomaly_invoice", error))
    item, _ = _shown_error(markdown, "anomaly_invoice")
    assert item == html.escape(" ".join(error.split()), quote=False)


def test_the_tables_error_cell_is_the_start_of_the_first_line_without_the_asset(plan):
    """In the table's seventh column (~150 px at 1600x1000) a compile error of 600
    characters wrapped to 16 lines: the cell gives the start of its first line, less the
    ``asset 'k' (table t):`` its row says already and the place in the code (the run keeps
    the cause apart), cut at a word; the list of failures above gives the error in full,
    and the asset's page its every line."""
    cause = (
        "SELECT does not compile: Identifier 'sale.total_amout' cannot be resolved. "
        "Maybe you meant: ['sale.total_amount']\n  frame"
    )
    error = (
        "asset 'anomaly_invoice' (table quality.anomaly_invoice): assets/quality.py:117:19: "
        f"{cause}"
    )
    markdown = lineage_markdown(plan, _report(plan, "anomaly_invoice", error, cause))
    rows = artifact_rows(markdown)
    assert rows["anomaly_invoice"][6] == "SELECT does not compile: Identifier…"
    item, _ = _shown_error(markdown, "anomaly_invoice")
    assert item == html.escape(" ".join(error.split()), quote=False)


def test_long_errors_are_shortened(plan):
    markdown = lineage_markdown(plan, _report(plan, "anomaly_invoice", "x" * 5000))
    rows = artifact_rows(markdown)
    assert rows["anomaly_invoice"][6] == "x" * 49 + "…"
    item, _ = _shown_error(markdown, "anomaly_invoice")
    assert len(item) == 300 and item.endswith("…")


def test_headline_names_the_outcome_and_the_selection(plan):
    markdown = lineage_markdown(plan, _report(plan, failing="anomaly_invoice"))
    first = markdown.splitlines()[0]
    assert first.startswith("## Asset lineage: ")
    assert "1 failed" in first and "skipped" in first
    assert f"`{SELECTION}`" in markdown


def test_the_run_names_the_warehouse_it_wrote_and_read_before_its_diagrams(plan):
    """Runs against every warehouse share one Prefect server: the lineage says which
    warehouse its rows and its "not selected" tables are in, a server without its user,
    password or options (everyone with access to the UI reads it)."""
    server = "clickhouse://alice:s3cr%23t@ch.internal:9440/?secure=true&token=Zq9xK"
    report = _report(plan)
    report.warehouses = [server]
    markdown = lineage_markdown(plan, report)
    paragraphs = markdown.split("\n\n")
    assert paragraphs[1] == "Warehouse: `clickhouse://ch.internal:9440/`."
    for secret in ("alice", "s3cr", "token", "Zq9xK", "secure"):
        assert secret not in markdown
    report.warehouses = ["chdb:///a", "chdb:///b"]
    two = lineage_markdown(plan, report)
    assert two.split("\n\n")[1] == "Warehouses: `chdb:///a`, `chdb:///b`."
    assert "Warehouse" not in lineage_markdown(plan, _report(plan))


def test_the_run_names_the_source_it_read_beside_its_warehouse(plan):
    """The run's source was on its lineage page only inside the ``Next:`` command, and
    on no page of a run that left nothing undone: a reviewer could not tell a run of the
    UCI file from one of generated rows. It is named beside the warehouse, with what
    chose it, a URL's secrets as the command's placeholders."""
    report = _report(plan)
    report.warehouses = ["chdb:///w"]
    url = ChosenSource("https://USER:PASSWORD@data.example/retail.csv?QUERY", "--source")
    paragraphs = lineage_markdown(plan, report, sources=[url]).split("\n\n")
    assert paragraphs[1] == (
        "Warehouse: `chdb:///w`.\\\n"
        "Source: `https://USER:PASSWORD@data.example/retail.csv?QUERY` (given by `--source`)."
    )
    default = ChosenSource("synthetic:100000", "")
    alone = lineage_markdown(plan, _report(plan), sources=[default]).split("\n\n")[1]
    assert alone == "Source: `synthetic:100000` (the default: this run named no source)."
    assert "Source:" not in lineage_markdown(plan, report)  # no selected asset reads one


def test_a_runs_source_is_the_one_its_ingest_asset_read_its_secrets_held_back():
    """What the run's review names: the source each selected asset that names one read
    with the run's parameters (the retail pipeline's ingest asset), once."""
    retail = load_definitions("assets").graph()
    secret = "https://alice:s3cr3t@data.example/retail.csv?X-Amz-Signature=abc"
    everything = plan_materialization(retail, None).selected
    assert run_sources(everything, {"source": secret}) == [
        ChosenSource("https://USER:PASSWORD@data.example/retail.csv?QUERY", "--source")
    ]
    downstream = plan_materialization(retail, "fact_sales+").selected
    assert run_sources(downstream, {"source": secret}) == []


def test_the_next_command_is_a_code_span_to_copy_whole(plan):
    """The ``Next:`` line ran its command into the prose around it: a reader selected
    where it ends by eye. The command is a code span, the prose around it kept."""
    failed = lineage_markdown(plan, _report(plan, failing="anomaly_invoice"))
    (step,) = [p for p in failed.split("\n\n") if p.startswith("Next: ")]
    shown = rendered(step)
    assert shown == (
        "<p>Next: <code>pipeline materialize --select 'anomaly_invoice+'</code> reruns the "
        "failed asset and the 4 skipped.</p>\n"
    )


def test_mermaid_block_requires_a_mermaid_fence():
    with pytest.raises(ValueError, match="no ```mermaid block"):
        mermaid_block("# just text\n")


def test_edges_in_reads_arrows_and_ordering_lines():
    mermaid = "flowchart TB\n  a --> b\n  c -.- b\n  d -. order .- b\n  class a x\n"
    assert edges_in(mermaid) == {("a", "b"), ("c", "b"), ("d", "b")}


def test_edges_in_reads_invisible_layout_links_only_when_asked():
    """A ``~~~`` link is no lineage edge (no diagram of the whole graph draws it), but
    the renderer ranks its nodes by it as by any other: a column count must see it."""
    mermaid = "flowchart LR\n  a --> b\n  a ~~~ c\n  c -.- b\n"
    assert edges_in(mermaid) == {("a", "b"), ("c", "b")}
    assert edges_in(mermaid, layout=True) == {("a", "b"), ("a", "c"), ("c", "b")}


def test_a_failed_run_says_its_failed_and_skipped_tables_are_left_as_they_were(plan):
    """A skipped row's '-' rows and 'upstream failed' read as if its table were gone."""
    markdown = lineage_markdown(plan, _report(plan, failing="anomaly_invoice"))
    assert (
        "A skipped asset's table, and a failed one's that wrote nothing (its rows read -), is "
        "left as it was; `pipeline status` says which are stale or missing." in markdown
    )
    assert "is left as it was" not in lineage_markdown(plan, _report(plan))


def test_a_failed_run_names_its_failures_and_their_errors_before_its_diagrams(plan):
    """The reason a run failed is on its first screen, not only in the table at the end;
    so are the assets it skipped for it, each linked (the diagrams show them by colour
    only, the table five screens down)."""
    version = uuid.uuid4()
    links = PageLinks(versions={"anomaly_invoice": version})
    report = _report(plan, "anomaly_invoice", "bad.csv, line 3, column 'Quantity': not a number")
    report.warehouses = ["chdb:///w"]
    skipped = [o.key for o in report.by_status("skipped")]
    assert len(skipped) == 4
    paragraphs = lineage_markdown(plan, report, links).split("\n\n")
    assert paragraphs[1:6] == [
        "**Failed:**",
        f"- [anomaly_invoice](/v2/artifacts/artifact/{version}): "
        "bad.csv, line 3, column 'Quantity': not a number",
        "**4 assets skipped** (upstream failed: anomaly_invoice): "
        + ", ".join(links.link(key) for key in skipped),
        "Next: `pipeline materialize --select 'anomaly_invoice+'` "
        "reruns the failed asset and the 4 skipped.",
        "Warehouse: `chdb:///w`.",
    ]
    assert "**Failed:**" not in lineage_markdown(plan, _report(plan))


def _legend(markdown: str) -> str:
    return next(p for p in markdown.split("\n\n") if p.startswith("Legend: "))


def test_a_two_asset_runs_legend_explains_only_what_its_diagram_draws():
    """Under two green boxes and an arrow, a legend of red, amber, grey dashed boxes and
    dotted lines sent the reader looking for them, in words of the retail pipeline ("a
    fact after the dimensions") that mean nothing in a project of one's own."""
    plan = plan_materialization(two_assets(), None)
    assert _legend(lineage_markdown(plan, _report(plan))) == "Legend: green = materialized."
    failed = lineage_markdown(plan, _report(plan, failing="orders"))
    assert _legend(failed) == "Legend: red = failed, amber = skipped (an upstream failed)."


def test_the_legend_names_every_colour_the_diagrams_draw_and_what_they_start_with(plan):
    legend = _legend(lineage_markdown(plan, _report(plan, failing="anomaly_invoice")))
    assert legend.startswith(
        "Legend: green = materialized, red = failed, amber = skipped (an upstream failed), "
        "grey dashed = not selected (left in the warehouse as it is). "
    )
    assert legend.endswith(
        "Each diagram starts with the assets outside it that its assets depend on."
    )
    assert "dotted" not in legend  # no asset of this graph runs after one it does not read
    assert "arrow" not in legend  # so every line is a read: nothing to tell apart


def test_a_cancelled_asset_is_named_under_the_colour_it_is_drawn_in():
    plan = plan_materialization(two_assets(), None)
    report = _report(plan)
    report.outcomes[1] = AssetOutcome("totals", "db.totals", "cancelled", error="interrupted")
    markdown = lineage_markdown(plan, report)
    assert mermaid_classes(mermaid_blocks(markdown))["cancelled"] == {"totals"}
    assert "classDef cancelled fill:#dbe9ff" in markdown
    legend = _legend(markdown)
    assert legend == "Legend: green = materialized, blue = cancelled (the run was stopped)."


def test_an_ordering_edge_is_explained_when_drawn_in_words_of_any_project():
    graph = with_an_ordering_dep()
    plan = plan_materialization(graph, "key:fact")
    legend = _legend(lineage_markdown(plan, _report(plan)))
    assert (
        "an arrow joins a table to an asset that reads it; a purple dotted line without an "
        "arrowhead joins an asset to one it runs after but does not read (e.g. one its "
        "checks read)." in legend
    )
    assert "fact after" not in legend and "dimensions" not in legend


def test_an_edge_a_check_reads_is_said_to_be_checked_against_not_order_only():
    """fact's check reads dimension's table: "runs after but does not read" hid that a
    failed check may be that table's doing."""
    graph = with_a_checked_dimension()
    plan = plan_materialization(graph, "key:fact")
    legend = _legend(lineage_markdown(plan, _report(plan)))
    assert (
        "a purple dotted line without an arrowhead joins an asset to a table its checks "
        "read (checked against: none of its rows are in the asset's table, but a check "
        "can fail on them)." in legend
    )
    assert "does not read" not in legend


def test_checked_and_order_only_edges_drawn_together_are_both_explained():
    graph = with_a_checked_dimension()  # and report only runs after fact
    upstream = {key: graph.upstream_of(key) for key in graph.specs}
    upstream["report"] = Upstream(ordering=("fact",), derived=True)
    both = AssetGraph(graph.specs.values(), upstream)
    plan = plan_materialization(both, None)
    legend = _legend(lineage_markdown(plan, _report(plan)))
    assert (
        "a purple dotted line without an arrowhead joins an asset to one it does not read: "
        "a table its checks read (checked against: none of its rows are in the asset's "
        "table, but a check can fail on them), or one it only runs after." in legend
    )


def test_the_state_of_each_unselected_upstream_and_a_warning_when_one_is_stale(plan):
    """A selection built on a stale table: its reader is told at the top, and the table
    of what it read gives each one's state."""
    from orchestration.staleness import AssetState, Reason

    code = Reason("code_changed", "code changed (built with e193fcc9, now 6cbcffdd)")
    states = {spec.key: AssetState(spec.key, "fresh", "c0de") for spec in plan.external}
    states["dim_customer"] = AssetState("dim_customer", "stale", "c0de", (code,))
    markdown = lineage_markdown(plan, _report(plan), upstream_states=states)
    (warning,) = [line for line in markdown.splitlines() if line.startswith("**Read while")]
    assert warning == (
        "**Read while stale:** [dim_customer](/v2/artifacts/key/asset-dim-customer): code "
        "changed (built with e193fcc9, now 6cbcffdd). This run read its table as it is, not "
        "as its code and upstream make it now."
    )
    rows = artifact_rows(markdown)
    assert rows["dim_customer"][-1] == "stale: code changed"  # in full above: a narrow cell
    assert rows["sat_invoice"][-1] == "fresh"
    assert "| asset | table | rows | built (UTC) | state |" in markdown


def test_a_failure_that_published_nothing_says_its_table_is_left_as_it_was(plan):
    """Under the failed asset, what its table holds now: as its last success left it."""
    report = _report(plan, failing="anomaly_invoice")
    (failed,) = report.by_status("failed")
    failed.state = "stale"
    failed.last_success = MaterializationRecord(
        "m1",
        "anomaly_invoice",
        failed.table,
        "c1",
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        "materialized",
        run_id="run-1",
        rows=42,
    )
    markdown = lineage_markdown(plan, report)
    failures = markdown.split("**Failed:**", 1)[1].split("Selection:", 1)[0]
    assert (
        f"`{failed.table}` is left as it was. Last successful materialization: finished "
        "2026\u201101\u201102\xa003:04:05\xa0UTC, 42 rows left in the table, by "
        f"[its flow run]({flow_run_path('run-1')})." in failures
    )
    assert "Next: `pipeline materialize --select " in failures


def test_the_lineage_page_as_the_run_begins_says_it_is_not_written_yet(plan):
    """The first version, which the run's pages link as they are written, is all a run
    stopped before its end leaves: it must not read as a lineage with nothing in it."""
    markdown = unfinished_lineage_markdown(plan)
    assert markdown.startswith("## Asset lineage: not written yet\n\nSelection: `key:fact_sales+`")
    assert "the run was stopped before its end" in markdown
    assert lineage_description(None) == "not written yet: this run's asset lineage"


def _record(key: str, status: str, run: str, rows: int | None, minute: int):
    at = datetime(2026, 1, 2, 3, minute, 0, tzinfo=UTC)
    return MaterializationRecord(
        f"m-{run}", key, "t", "c", at, status, run_id=run, rows=rows, ended=at
    )


def _not_selected(markdown: str) -> tuple[str, dict[str, list[str]]]:
    """The sentence over the table of unselected upstream, and its rows."""
    read = markdown.split("**Not selected**, read as they are: ", 1)[1]
    return read.split("\n", 1)[0], artifact_rows(read)


def test_unselected_upstream_rows_say_what_the_run_read_from_the_history(plan):
    """An unselected upstream's row: the rows its last build left in its table and the
    run that built them (linked, with its time), as the history the run read at its start
    tells; a table whose latest attempt published nothing has rows nobody counted, since
    its last success. Not counted as the run began, they are said to be the build's."""
    good = _record("sat_invoice", "materialized", "r1", 97_356, 4)
    history = {
        "sat_invoice": AssetHistory(good, good),
        "dim_customer": AssetHistory(_record("dim_customer", "failed", "r2", 40, 5), None),
        "link_invoice_time": AssetHistory(
            _record("link_invoice_time", "failed", "r3", None, 6), good
        ),
    }
    markdown = lineage_markdown(plan, _report(plan), history=history)
    said, rows = _not_selected(markdown)
    assert said == "the rows each table held when built, and the run that built them."
    assert "| asset | table | rows | built (UTC) |\n" in markdown
    assert set(rows) == {spec.key for spec in plan.external}
    assert rows["sat_invoice"][1:] == [
        plan.graph["sat_invoice"].table,
        "97,356",
        f"[2026\u201101\u201102\xa003:04:00]({flow_run_path('r1')})",
    ]
    assert rows["dim_customer"][2:] == [
        "40",
        f"[2026\u201101\u201102\xa003:05:00]({flow_run_path('r2')}), then its checks failed",
    ]
    assert rows["link_invoice_time"][2:] == [
        "-",
        f"[2026\u201101\u201102\xa003:04:00]({flow_run_path('r1')}); "
        f"a run at [2026\u201101\u201102\xa003:06:00]({flow_run_path('r3')}) failed",
    ]
    assert rows["link_invoice_product"][2:] == ["-", "-"]


def test_the_unselected_upstream_table_is_a_click_away_saying_how_many_it_lists(plan):
    """A selection's table of unselected upstream took a screen, its build times wrapped
    to two lines each: it opens on a click, its line saying how many tables it lists, and
    a time is never broken between its date and its clock."""
    markdown = lineage_markdown(plan, _report(plan))
    n = len(plan.external)
    read = markdown.split("**Not selected**, read as they are: ", 1)[1].split("\n")
    assert read[1:5] == [
        "",
        "<details>",
        f"<summary>The {n} unselected upstream tables this run read</summary>",
        "",
    ]
    assert read[5] == "| asset | table | rows | built (UTC) |"
    closed = read.index("</details>")
    assert read[closed - 1] == "" and read[closed - 2].startswith("| [")


def test_unselected_upstream_rows_are_those_counted_as_the_run_began(plan):
    """Rows deleted from a dimension outside the pipeline: the page said the 1,904 its
    build left were what the run read, where ``count()`` said 1,901. Counted as the run
    began, each row says the count, and the build's where it differs."""
    good = _record("dim_customer", "materialized", "r1", 1_904, 4)
    sat = _record("sat_invoice", "materialized", "r1", 97_356, 4)
    history = {"dim_customer": AssetHistory(good, good), "sat_invoice": AssetHistory(sat, sat)}
    held = {spec.key: 7 for spec in plan.external} | {"dim_customer": 1_901, "sat_invoice": 97_356}
    markdown = lineage_markdown(plan, _report(plan), history=history, held=held)
    said, rows = _not_selected(markdown)
    assert said == "the rows each table held as the run began, and the run that built them."
    assert rows["dim_customer"][2] == "1,901 (1,904 when built)"
    assert rows["sat_invoice"][2] == "97,356"
    assert rows["link_invoice_product"][2] == "7"


def test_a_table_not_counted_as_the_run_began_says_its_rows_are_the_builds(plan):
    """Storage that cannot count (or a count that failed) leaves the build's rows, said
    to be that: the sentence names both."""
    sat = _record("sat_invoice", "materialized", "r1", 97_356, 4)
    held = {spec.key: 7 for spec in plan.external if spec.key != "sat_invoice"}
    markdown = lineage_markdown(
        plan, _report(plan), history={"sat_invoice": AssetHistory(sat, sat)}, held=held
    )
    said, rows = _not_selected(markdown)
    assert said == (
        "the rows each table held as the run began (*when built*: as its build left it, "
        "not counted), and the run that built them."
    )
    assert rows["sat_invoice"][2] == "97,356 when built"
