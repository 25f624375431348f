"""An asset's page (artifact ``asset-<key>``) and the UI-sized diagrams it and the run use.

Pure rendering, no server: tests/test_lineage_ui.py checks what the Prefect UI makes of
it (labels measured in the browser, links followed).
"""

from __future__ import annotations

import dataclasses
import html
import re
import uuid
from datetime import UTC, datetime

import networkx as nx
import pytest

from orchestration.artifacts import edges_in, mermaid_blocks
from orchestration.asset_page import (
    CODE_WIDTH,
    COLUMN_LINKS,
    LEGEND,
    VERSIONS_READ,
    WHOLE_ERROR,
    AssetPage,
    EarlierAttempts,
    Materialization,
    PageLinks,
    UpstreamRead,
    fenced,
    linked_page,
    run_cell,
    with_links_updated,
    with_relinked,
    with_state,
)
from orchestration.checks import AssetCheckResult
from orchestration.column_impact import uses_by_column
from orchestration.column_lineage import (
    LOADS_A_SOURCE,
    AssetColumnLineage,
    CheckColumns,
    ends_by_column,
)
from orchestration.definitions import load_definitions
from orchestration.fingerprint import ChosenSource, SourceFingerprint, chosen_source
from orchestration.graph import AssetGraph, Upstream
from orchestration.history import MaterializationRecord
from orchestration.io_manager import STAGED_ROWS, MaterializeResult
from orchestration.lineage import render_lineage, to_mermaid
from orchestration.prefect_ui import asset_page_key
from orchestration.run_report import AssetOutcome, CheckedRead
from orchestration.staleness import Reason
from orchestration.ui_lineage import (
    FOCUS_COLUMN,
    MAX_COLUMN,
    MAX_EDGES,
    MAX_RANKS,
    distances,
    focused_diagrams,
    layer_diagrams,
)
from tests.lineage_location import defs
from tests.lineage_markdown import link_styles, links, rendered
from tests.small_graphs import (
    graph_of,
    two_assets,
    with_a_checked_dimension,
    with_an_order_only_branch,
    with_an_ordering_dep,
)

GRAPH = defs.graph()
FINISHED = datetime(2026, 12, 2, 19, 52, 40, tzinfo=UTC)
#: A rerun's selection as its flow run is named (the ``Next:`` line of a failed check's
#: run): in a table's run cell it wrapped to three lines.
LONG_RUN = (
    "dim_customer or dim_product or dim_time or dim_country or fact_sales+ or fact_sale_returns+"
)


def _page(
    key: str = "fact_sales",
    outcome: AssetOutcome | None = None,
    warehouse: str | None = None,
    run_name: str = "fact_sales+",
    **extra,
) -> AssetPage:
    spec = GRAPH[key]
    outcome = outcome or AssetOutcome(
        key,
        spec.table,
        "materialized",
        0.5,
        MaterializeResult(table=spec.table, rows=97_356, seconds=0.5, inserted_rows=1_200),
    )
    return AssetPage(
        spec=spec,
        graph=GRAPH,
        materialization=Materialization(outcome, "run-1", run_name, FINISHED, warehouse),
        **extra,
    )


def test_page_key_is_the_asset_key_with_dashes():
    assert asset_page_key("fact_sales") == "asset-fact-sales"
    assert _page().key == "asset-fact-sales"


def test_description_leads_with_the_status_the_artifact_list_would_cut_off():
    """The UI's artifact cards, and the heading of an asset's version list, show the
    description under the key: the status first, then the rows in the table, then the
    table (a card cuts the line at ~45 characters)."""
    assert _page().description() == "materialized, 97,356 rows: marts.Fact_Sales"
    failed = AssetOutcome("fact_sales", "marts.Fact_Sales", "failed", 0.1, error="boom")
    assert _page(outcome=failed).description() == "failed: marts.Fact_Sales"


def test_description_names_the_warehouse_the_version_is_about():
    """Every warehouse's versions of a page share its key on one Prefect server, so the
    version list interleaves them: each version's line says which warehouse it is about,
    as the page shows it (a server without its user, password or options)."""
    embedded = _page(warehouse="chdb:///tmp/a")
    assert embedded.description() == "materialized, 97,356 rows: marts.Fact_Sales in chdb:///tmp/a"
    server = _page(warehouse="clickhouse://etl:s3cret@ch.internal:8123/?secure=false")
    assert server.description() == (
        "materialized, 97,356 rows: marts.Fact_Sales in clickhouse://ch.internal:8123/"
    )


def test_page_says_what_the_table_is():
    markdown = _page().markdown(PageLinks())
    spec = GRAPH["fact_sales"]
    assert markdown.startswith("# fact_sales\n")
    assert spec.description in markdown
    for fact in ("| table | `marts.Fact_Sales` |", "| group | marts |", "| kind | Python asset |"):
        assert fact in markdown
    assert "| owners | team:data-platform |" in markdown
    assert "| write mode | replace" in markdown
    assert "| schema | FrameSchema |" in markdown


def test_the_page_names_the_warehouse_its_run_wrote_under_the_table():
    """One Prefect server keeps the pages of runs against every warehouse (``--warehouse``
    differs between project directories, CI and a server): each version says which one
    its "last materialization" is about."""
    markdown = _page(warehouse="chdb:///srv/warehouse-a").markdown(PageLinks())
    assert "| table | `marts.Fact_Sales` |\n| warehouse | `chdb:///srv/warehouse-a` |\n" in markdown


def test_a_page_names_a_server_without_its_user_password_or_options():
    """Everyone with access to the UI reads the pages: whatever location the IO manager
    gives, the page shows scheme, host, port and path only."""
    location = "clickhouse://alice:s3cr%23t@ch.internal:9440/?secure=true&token=Zq9xK"
    markdown = _page(warehouse=location).markdown(PageLinks())
    assert "| warehouse | `clickhouse://ch.internal:9440/` |" in markdown
    for secret in ("alice", "s3cr", "token", "Zq9xK", "secure"):
        assert secret not in markdown


def test_a_page_of_storage_that_names_no_location_has_no_warehouse_row():
    markdown = _page().markdown(PageLinks())
    assert "| warehouse |" not in markdown


def test_a_written_page_is_read_for_where_it_links_a_neighbour_not_its_run():
    """A run relinks a page outside it by replacing the address it links a rebuilt
    neighbour at, read from the page: a run named after that neighbour (``--select
    sat_invoice``) links the run under the same text, and is not that address."""
    spec = GRAPH["fact_sales"]
    outcome = AssetOutcome("fact_sales", spec.table, "materialized", 0.1)
    page = AssetPage(spec, GRAPH, Materialization(outcome, "run-1", "sat_invoice", FINISHED))
    version = uuid.uuid4()
    markdown = page.markdown(PageLinks(versions={"sat_invoice": version}))
    assert "run [sat_invoice](/v2/runs/flow-run/run-1)" in markdown
    assert linked_page(markdown, "sat_invoice") == f"/v2/artifacts/artifact/{version}"
    assert linked_page(markdown, "hub_country") == "/v2/artifacts/key/asset-hub-country"
    assert linked_page(markdown, "no_such_asset") is None


def test_the_top_says_which_run_wrote_this_version_and_links_every_version():
    """A reader who lands on an older version (from an older run's Artifacts tab, its
    lineage page, or a bookmark) sees at once whose page it is, that what it says is as
    of that run (its ``state after this run: fresh`` read as the table's state now, after
    a later run failed it), and where the newer ones are: Prefect's version list, whose
    heading is the newest version's outcome (its description)."""
    lines = _page().markdown(PageLinks()).split("\n")
    assert lines[:3] == [
        "# fact_sales",
        "",
        "**This version:** run [fact_sales+](/v2/runs/flow-run/run-1) at "
        "2026\u201112\u201102\xa019:52:40\xa0UTC; what it says is as of then. "
        "**Newer versions:** [all versions of asset-fact-sales]"
        "(/v2/artifacts/key/asset-fact-sales), newest first.",
    ]
    lineage = uuid.uuid4()
    lines = _page().markdown(PageLinks(lineage=lineage)).split("\n")
    assert lines[2] == (
        "**This version:** run [fact_sales+](/v2/runs/flow-run/run-1) at "
        "2026\u201112\u201102\xa019:52:40\xa0UTC "
        f"([its lineage](/v2/artifacts/artifact/{lineage})); what it says is as of then. "
        "**Newer versions:** [all versions of asset-fact-sales]"
        "(/v2/artifacts/key/asset-fact-sales), newest first."
    )
    # The version line carries the run's whole name, however long.
    long = _page(run_name=LONG_RUN).markdown(PageLinks())
    assert f"**This version:** run [{LONG_RUN}](/v2/runs/flow-run/run-1) at " in long


def test_a_pages_times_keep_their_date_and_clock_on_one_line():
    """A time in a narrow column broke at its date's hyphen (``2026-12-`` over ``07
    19:12:33``): its hyphens are non-breaking (U+2011), as the space before the clock is,
    and markdown leaves them as they are."""
    markdown = _page().markdown(PageLinks())
    assert "2026-12-02" not in markdown
    assert "| 2026\u201112\u201102\xa019:52:40 |" in markdown
    assert "2026\u201112\u201102\xa019:52:40\xa0UTC" in rendered(markdown)


def test_a_failed_page_says_so_and_why_under_its_title():
    """A reader opens a failed asset's page for the reason: at 1600x1000 the table of
    facts filled the first screen, and the error came under it. The whole error goes under
    the title, once: its sentences as a paragraph, its indented lines in a code block."""
    error = "asset 'fact_sales' failed: the source has no rows | <none>\n  Traceback line"
    outcome = AssetOutcome("fact_sales", "marts.Fact_Sales", "failed", 0.1, error=error)
    lines = _page(outcome=outcome).markdown(PageLinks()).split("\n")
    assert lines[2] == (
        "**Failed:** asset 'fact_sales' failed: the source has no rows \\| \\<none\\>"
    )
    assert lines[3:8] == ["", "```text", "  Traceback line", "```", ""]
    assert lines[8].startswith("**This version:** run ")
    one_line = AssetOutcome("fact_sales", "marts.Fact_Sales", "cancelled", 0.1, error="stopped")
    assert _page(outcome=one_line).markdown(PageLinks()).split("\n")[2] == "**Cancelled:** stopped"


def test_a_failed_pages_error_is_shown_once_and_referred_to_elsewhere():
    """The error under the title, in the state row, in an Error section and in the
    Checks table: the same text three or four times, a screen of it. It is shown in full
    under the title; the state row and a check that could not run refer to it."""
    broken = AssetCheckResult(
        "fact_sales",
        "marts.Fact_Sales",
        "keys_resolve",
        "error",
        False,
        None,
        error="Code: 47. Unknown identifier `qty`",
    )
    error = (
        "asset 'fact_sales' (table marts.Fact_Sales): failed its checks: check "
        "'keys_resolve' could not run: Code: 47. Unknown identifier `qty`"
    )
    outcome = AssetOutcome(
        "fact_sales",
        "marts.Fact_Sales",
        "failed",
        0.1,
        MaterializeResult("marts.Fact_Sales", 5, 0.1),
        error=error,
        checks=(broken,),
        state="stale",
        reasons=(
            Reason("code_changed", "code changed (built with 6cbcffdd, now 2c554474)"),
            Reason(
                "last_run_failed",
                "last run failed after publishing 5 rows, which the table holds instead of "
                "the last success's: failed its checks: check 'keys_resolve' could not run: "
                "Code: 47. Unknown identifier…",
            ),
        ),
    )
    markdown = _page(outcome=outcome).markdown(PageLinks())
    assert markdown.count("Unknown identifier") == 1
    assert "**Error**" not in markdown
    assert (
        "| state after this run | stale (code changed (built with 6cbcffdd, now 2c554474); "
        "last run failed after publishing 5 rows, which the table holds instead of the last "
        "success's: see the error under the title) |"
    ) in markdown
    row = (
        '| <a id="check-keys_resolve"></a>keys_resolve | error | error | - | '
        "could not run: see the error under the title |"
    )
    assert row in markdown


def test_a_failed_page_says_the_next_step_its_run_says():
    """The terminal and the run's lineage page end a failed run with the command that
    builds what it left undone; the failed asset's page, where a reader lands from a
    task run or a link, said nothing of it. Given the run's line, the page says it under
    the error; a page of a success does not."""
    step = "Next: pipeline materialize --select 'fact\\_sales+' reruns the failed asset."
    failed = AssetOutcome("fact_sales", "marts.Fact_Sales", "failed", 0.1, error="boom")
    lines = _page(outcome=failed).markdown(PageLinks(), next_line=step).split("\n")
    assert lines[2:6] == ["**Failed:** boom", "", step, ""]
    assert step not in _page().markdown(PageLinks(), next_line=step)


RETAIL = load_definitions("assets").graph()


def _described(description: str) -> str:
    """The HTML of fact_sales's page, its description ``description``."""
    spec = dataclasses.replace(GRAPH["fact_sales"], description=description)
    outcome = AssetOutcome(spec.key, spec.table, "materialized", 0.5)
    page = AssetPage(spec, GRAPH, Materialization(outcome, "run-1", "all", FINISHED))
    return rendered(page.markdown(PageLinks()))


def test_a_description_shows_its_characters_as_written_in_code_and_out():
    """pipeline_metrics's docstring says the group is ``job="online_retail",
    warehouse=<the warehouse>``: its page showed ``warehouse=&lt;the warehouse&gt;`` in
    that code span, HTML-escaped where markdown shows each character as it is. Outside
    code, ``<``, ``>`` and ``&`` are escaped: the page shows them, and no HTML runs."""
    page = _described("Group ``w=<x>, a & b``; also <x> and a & b, `<y>`.")
    assert (
        "<p>Group <code>w=&lt;x&gt;, a &amp; b</code>; also &lt;x&gt; and a &amp; b, "
        "<code>&lt;y&gt;</code>.</p>" in page
    )
    assert "&amp;lt;" not in page and "&amp;amp;" not in page


@pytest.mark.parametrize(
    "description",
    [
        "<img src=x onerror=alert(1)>",
        "\\`<img src=x onerror=alert(1)>\\`",  # escaped backticks open no code span
        "`unclosed <img src=x onerror=alert(1)>",
        "``<img src=x onerror=alert(1)>`",  # a run of two is closed by two, not one
        "<http://x.example/> &amp; <!-- c --> <?p?> <![CDATA[x]]>",
    ],
)
def test_a_description_can_put_no_html_on_the_page(description: str):
    page = _described(description)
    body = page.split("newest first.</p>", 1)[1].split("<table>", 1)[0]  # the description
    assert "<img" not in body and "<a " not in body and "<!--" not in body, body
    assert "<?" not in body and "<![" not in body, body


def _failed_check_page(key: str, *names: str, unpublished: str | None = None) -> list[str]:
    """The lines of ``key``'s page (retail) after a run whose checks ``names`` failed
    before publishing (``unpublished``: what the table would have held)."""
    spec = RETAIL[key]
    failing = [
        AssetCheckResult(key, spec.table, name, "error", False, 3, ({"k": 1},)) for name in names
    ]
    outcome = AssetOutcome(
        key, spec.table, "failed", 0.1, error="failed its checks", checks=tuple(failing)
    )
    page = AssetPage(
        spec=spec,
        graph=RETAIL,
        materialization=Materialization(outcome, "run-1", "fact_sales+", FINISHED),
        unpublished=unpublished,
    )
    return page.markdown(PageLinks()).split("\n")


def _blocks(lines: list[str], language: str) -> list[list[str]]:
    """The lines of each fenced block of ``language``."""
    blocks, inside = [], None
    for line in lines:
        if inside is None and line.startswith("```") and line.strip("`") == language:
            inside = []
        elif inside is not None and line and set(line) == {"`"}:
            blocks.append(inside)
            inside = None
        elif inside is not None:
            inside.append(line)
    return blocks


def test_a_failed_checks_sql_is_shown_as_the_command_that_lists_its_rows():
    """A failed check names 5 examples of 183 rows; to see them all, or the rows of the
    dimension it joins, a reader needs its SQL, which no page showed. Each failed check's
    SQL, its table filled in, is shown as the ``pipeline query`` that runs it: pasted
    into a shell, it lists every offending row."""
    lines = _failed_check_page("fact_sales", "customer_key_resolves")
    (block,) = _blocks(lines, "sh")
    assert block == [
        "pipeline query \"$(cat <<'SQL'",
        "SELECT sale_id, invoice_no, customer_key FROM marts.Fact_Sales",
        "WHERE customer_key NOT IN (SELECT customer_key FROM marts.Dim_Customer)",
        "SQL",
        ')"',
    ]
    at = lines.index("```sh")
    said = next(line for line in reversed(lines[:at]) if line.startswith("Check "))
    assert "`customer_key_resolves`" in said


def test_a_failed_checks_query_is_a_click_away_behind_a_line_saying_how_long_it_is():
    """fact_sales's check ``lines_reconcile_with_vault`` is a 123-line command: shown open,
    its ``pipeline query`` took 4.5 of the failed page's 10 windows at 1600x1000, while
    the asset's own SQL was folded. It is folded the same way, under the sentence saying
    what it runs, behind a line naming the command and its length."""
    select = "SELECT sale_id, invoice_no FROM vault.hub_invoice"
    lines = _failed_check_page("fact_sales", "lines_reconcile_with_vault", unpublished=select)
    (block,) = _blocks(lines, "sh")
    assert len(block) > 40  # the reason to fold it
    # Its checks stopped the publish: the command reads what the table would have held.
    assert f"    FROM (\n{select}\n)\n    WHERE NOT reconciled" in "\n".join(block)
    assert "marts.Fact_Sales" not in "\n".join(block)
    page = rendered("\n".join(lines))
    said = page.index("<p>Check <code>lines_reconcile_with_vault</code> found its rows")
    start = page.index("<details>", said)
    assert (
        page[said:start]
        .rstrip()
        .endswith(
            "This command runs it on the rows this run would have published (its SELECT run "
            "again, on the tables as they are now) and lists them:</p>"
        )
    )
    folded = page[start : page.index("</details>", start)]
    summary = f"<summary>pipeline query … ({len(block)} lines)</summary>"
    assert folded.startswith(f"<details>\n{summary}"), folded[:200]
    assert '<pre><code class="language-sh">pipeline query' in folded


def test_passed_checks_show_no_sql():
    spec = RETAIL["fact_sales"]
    passed = AssetCheckResult("fact_sales", spec.table, "customer_key_resolves", "error", True, 0)
    outcome = AssetOutcome("fact_sales", spec.table, "materialized", 0.1, checks=(passed,))
    page = AssetPage(spec, RETAIL, Materialization(outcome, "run-1", "all", FINISHED))
    assert "pipeline query" not in page.markdown(PageLinks())


def test_a_skipped_page_says_why_under_its_title():
    outcome = AssetOutcome(
        "fact_sales",
        "marts.Fact_Sales",
        "skipped",
        error="upstream failed: sat_invoice",
        failed_upstream=("sat_invoice",),
    )
    lines = _page(outcome=outcome).markdown(PageLinks()).split("\n")
    assert lines[2] == (
        "**Skipped:** upstream [sat_invoice](/v2/artifacts/key/asset-sat-invoice) failed in "
        "this run, so this run left the table as it was."
    )


def test_a_failed_checks_read_of_another_assets_table_is_named_under_the_title():
    """fact_sales failed its check ``customer_key_resolves``, which reads the customers'
    dimension the run rebuilt without a row: the page says so with its failure, linking
    the dimension's page."""
    read = CheckedRead(
        "customer_key_resolves",
        "dim_customer",
        "marts.Dim_Customer",
        "rebuilt this run: code e193fcc9 -> 6cbcffdd, 1,904 -> 1,903 rows",
        True,
    )
    outcome = _failed_checks(97_356, checked_reads=(read,))
    lines = _page(outcome=outcome).markdown(PageLinks()).split("\n")
    assert lines[2].startswith("**Failed:** 1 error-severity check failed: positive (1 row). ")
    assert lines[2].endswith("\\")  # a hard line break
    assert lines[3] == (
        "The table holds this run's 97,356 rows: published, then its checks failed.\\"
    )
    assert lines[4] == (
        "Check `customer_key_resolves` reads `marts.Dim_Customer` "
        "([dim_customer](/v2/artifacts/key/asset-dim-customer)), rebuilt this run: code "
        "e193fcc9 -\\> 6cbcffdd, 1,904 -\\> 1,903 rows."
    )


def test_a_run_named_after_a_selection_with_stars_reads_as_typed():
    spec = GRAPH["fact_sales"]
    outcome = AssetOutcome("fact_sales", spec.table, "materialized", 0.5)
    page = AssetPage(
        spec=spec,
        graph=GRAPH,
        materialization=Materialization(outcome, "run-1", "key:hub_* or sinks(*)", FINISHED),
    )
    markdown = page.markdown(PageLinks())
    assert "[key:hub_\\* or sinks(\\*)](/v2/runs/flow-run/run-1)" in markdown
    assert "[key:hub_* or sinks(*)]" not in markdown


def test_this_runs_materialization_links_the_run_and_gives_rows_and_seconds():
    markdown = _page().markdown(PageLinks())
    assert "## This run: materialized" in markdown
    assert (
        "| [fact_sales+](/v2/runs/flow-run/run-1) | 2026\u201112\u201102\xa019:52:40 | 97,356 | "
        "1,200 "
        "| 0.50 | materialized |"
    ) in markdown
    # This run is the last success: nothing older to point at.
    assert "Last successful materialization" not in markdown


def _success(rows: int = 541_909) -> MaterializationRecord:
    return MaterializationRecord(
        materialization_id="m-0",
        asset_key="fact_sales",
        table="marts.Fact_Sales",
        code_version="c0de",
        started=datetime(2026, 12, 1, 7, 0, 1, tzinfo=UTC),
        status="materialized",
        run_id="run-0",
        rows=rows,
        ended=datetime(2026, 12, 1, 7, 0, 3, tzinfo=UTC),
    )


def test_a_failed_attempt_says_when_the_table_was_last_materialized_and_what_it_holds():
    """A reviewer of a failed run asks first what the table holds now and since when: the
    section is this run's attempt, not the table's last materialization, and it names
    that materialization (time, rows, run). The table holds its rows still, so "rows in
    table" says how many rather than "unchanged"."""
    outcome = AssetOutcome(
        "fact_sales",
        "marts.Fact_Sales",
        "failed",
        0.23,
        error="boom",
        state="stale",
        last_success=_success(),
        kept_rows=541_909,
    )
    markdown = _page(outcome=outcome).markdown(PageLinks())
    assert "## This run: failed\n" in markdown
    assert "Last materialization" not in markdown
    assert "| 2026\u201112\u201102\xa019:52:40 | 541,909 | - | 0.23 | failed |" in markdown
    assert (
        "Last successful materialization: finished 2026\u201112\u201101\xa007:00:03\xa0UTC, "
        "541,909 rows left in the table, by [its flow run](/v2/runs/flow-run/run-0).\n"
    ) in markdown


def test_a_skipped_asset_says_why_then_the_same_of_its_table():
    outcome = AssetOutcome(
        "fact_sales",
        "marts.Fact_Sales",
        "skipped",
        error="upstream failed: sat_invoice",
        failed_upstream=("sat_invoice",),
        state="stale",
        last_success=_success(1_000),
    )
    failed_page = uuid.uuid4()
    markdown = _page(outcome=outcome).markdown(PageLinks({"sat_invoice": failed_page}))
    assert "## This run: skipped\n" in markdown
    # What the table holds is not known (an attempt since the success may have changed
    # it): this run left it as it was. It took no time: it did not run.
    assert "| 2026\u201112\u201102\xa019:52:40 | unchanged | - | - | skipped |" in markdown
    # Why first, linking the failed upstream's page of this run, where its error is.
    assert (
        f"Skipped: upstream [sat_invoice](/v2/artifacts/artifact/{failed_page}) failed in "
        "this run, so this run left the table as it was.\n\nLast successful materialization: "
        "finished 2026\u201112\u201101\xa007:00:03\xa0UTC, 1,000 rows left in the table"
    ) in markdown
    assert "**Error**" not in markdown  # a skip is no error of this asset's


def _failed_checks(rows: int, inserted: int | None = None, **extra) -> AssetOutcome:
    """fact_sales as a run leaves it that published ``rows`` and then failed its checks."""
    check = AssetCheckResult("fact_sales", "marts.Fact_Sales", "positive", "error", False, 1)
    return AssetOutcome(
        "fact_sales",
        "marts.Fact_Sales",
        "failed",
        0.4,
        MaterializeResult("marts.Fact_Sales", rows, 0.3, inserted_rows=inserted),
        error="asset 'fact_sales' (table marts.Fact_Sales): failed its checks: ...",
        foreseen=True,
        checks=(check,),
        state="stale",
        **extra,
    )


def test_a_table_published_then_failing_its_checks_holds_this_runs_rows_not_the_last_successes():
    """The checks run on the published table: it holds this run's rows, so the last
    success's page line must not say its rows are "left in the table"."""
    outcome = _failed_checks(3, 3, last_success=_success(2))
    markdown = _page(outcome=outcome).markdown(PageLinks())
    assert "| 2026\u201112\u201102\xa019:52:40 | 3 | 3 | 0.40 | failed |" in markdown
    # Said once, under the title (:func:`_under_title`); under *This run*, the success.
    held = "The table holds this run's 3 rows: published, then its checks failed."
    assert markdown.count(held) == 1 and held in _under_title(markdown)
    assert (
        "\nLast successful materialization: finished "
        "2026\u201112\u201101\xa007:00:03\xa0UTC, 2 rows in "
        "the table then, by [its flow run](/v2/runs/flow-run/run-0).\n"
    ) in _this_run(markdown)
    assert "left in the table" not in markdown


def test_an_insert_only_table_failing_its_checks_says_how_many_rows_this_run_added():
    outcome = _failed_checks(1_203, 3, last_success=_success(1_200))
    markdown = _page(outcome=outcome).markdown(PageLinks())
    assert (
        "The table holds 1,203 rows, 3 of them this run's: published, then its checks failed."
    ) in _under_title(markdown)
    assert (
        "\nLast successful materialization: finished "
        "2026\u201112\u201101\xa007:00:03\xa0UTC, 1,200 "
        "rows in the table then, by"
    ) in _this_run(markdown)


def test_a_table_whose_first_materialization_failed_its_checks_holds_its_rows():
    """Beside the rows the table holds, "never materialized" read as a contradiction."""
    markdown = _page(outcome=_failed_checks(3, 3)).markdown(PageLinks())
    assert (
        "The table holds this run's 3 rows: published, then its checks failed."
    ) in _under_title(markdown)
    assert "\nLast successful materialization: none in this warehouse.\n" in _this_run(markdown)
    assert "never materialized" not in markdown


def _under_title(markdown: str) -> str:
    return markdown.split("This version: run ", 1)[0]


def _this_run(markdown: str) -> str:
    return markdown.split("## This run: ", 1)[1].split("\n## ", 1)[0]


def test_a_page_failed_by_its_checks_says_under_its_title_that_the_table_holds_its_rows():
    """The first screen of a page failed by its checks said why, and not that its rows are
    published: that was under *This run*, a screen down. The failure says it, as the run's
    lineage page does, before the tables its checks read."""
    read = CheckedRead("positive", "dim_customer", "marts.Dim_Customer", "not rebuilt", False)
    outcome = _failed_checks(3, 3, last_success=_success(2), checked_reads=(read,))
    markdown = _page(outcome=outcome).markdown(PageLinks())
    failed = markdown.split("**This version:** run ", 1)[0]
    assert failed.startswith("# fact_sales\n\n**Failed:** 1 error-severity check failed: ")
    assert (
        "\\\nThe table holds this run's 3 rows: published, then its checks failed.\\\n"
        "Check `positive` reads `marts.Dim_Customer`"
    ) in failed
    before = AssetOutcome("fact_sales", "marts.Fact_Sales", "failed", 0.1, error="boom")
    assert "The table holds" not in _page(outcome=before).markdown(PageLinks())


def test_a_failed_attempt_of_an_asset_never_materialized_says_so():
    outcome = AssetOutcome(
        "fact_sales", "marts.Fact_Sales", "failed", 0.1, error="boom", state="missing"
    )
    markdown = _page(outcome=outcome).markdown(PageLinks())
    assert "## This run: failed\n" in markdown
    assert (
        "Last successful materialization: none, never materialized in this warehouse.\n"
    ) in markdown


def test_a_page_without_a_settled_state_claims_no_last_success():
    """An outcome no history judged (its state is not settled) says nothing of the
    table's past rather than "never materialized"."""
    outcome = AssetOutcome("fact_sales", "marts.Fact_Sales", "failed", 0.1, error="boom")
    assert "Last successful materialization" not in _page(outcome=outcome).markdown(PageLinks())


def test_an_asset_without_checks_says_so_rather_than_leave_the_section_out():
    assert not GRAPH["fact_sales"].checks
    markdown = _page().markdown(PageLinks())
    assert "## Checks\n\nNo asset checks are declared for fact_sales.\n" in markdown


def _error_html(error: str) -> str:
    """What a reader sees of a failed page's error: its HTML under the title, up to the
    line that says whose version the page is, less the ``Failed:`` before it."""
    outcome = AssetOutcome("fact_sales", "marts.Fact_Sales", "failed", 0.1, error=error)
    page = rendered(_page(outcome=outcome).markdown(PageLinks()))
    shown = page.split("</h1>\n", 1)[1].split("<p><strong>This version:</strong> run ", 1)[0]
    return shown.replace("<strong>Failed:</strong> ", "", 1)


def test_a_failed_materialization_shows_its_error_in_full_as_written():
    """Markdown in an error (a SELECT's ``*``, backticks, a pipe, a tag) is shown, not
    obeyed: the reader sees the error's own characters."""
    error = (
        "RuntimeError: fact_sales cannot be built: ```rows``` | contain <bad> values in "
        "SELECT * FROM t WHERE a * b > 0 AND _x_ = [y](z) ~~w~~ &amp; #1 !"
    )
    assert _error_html(error) == f"<p>{html.escape(error, quote=False)}</p>\n"


def test_a_failed_pages_error_is_the_runs_line_and_the_whole_of_it_opens_on_a_click():
    """A SELECT that does not compile: under the title the line the run printed (cause,
    guess, place), as the run's report and the lineage page give it; the engine's quote of
    the SELECT it compiled (~600 characters) only in a ``<details>`` under it, each
    character as written."""
    line = (
        "asset 'fact_sales' (table marts.Fact_Sales): assets/marts.py:36:5: SELECT does not "
        "compile: Identifier 'sat.Quantiy' cannot be resolved from table with name sat (an "
        "alias of sat_invoice). Maybe you meant: ['sat.Quantity']."
    )
    full = f"{line} In scope SELECT * FROM t AS sat WHERE a < b & `c`. (UNKNOWN_IDENTIFIER)"
    outcome = AssetOutcome(
        "fact_sales", "marts.Fact_Sales", "failed", 0.1, error=line, full_error=full
    )
    page = rendered(_page(outcome=outcome).markdown(PageLinks()))
    shown = page.split("</h1>\n", 1)[1].split("<p><strong>This version:</strong> run ", 1)[0]
    assert shown == (
        f"<p><strong>Failed:</strong> {html.escape(line, quote=False)}</p>\n"
        "<details>\n<summary>The whole error</summary>\n"
        f"<p>{html.escape(full, quote=False)}</p>\n</details>\n"
    )
    whole = AssetOutcome("fact_sales", "marts.Fact_Sales", "failed", 0.1, error=line)
    assert WHOLE_ERROR not in _page(outcome=whole).markdown(PageLinks())


def test_an_error_sentence_wraps_with_the_page_not_at_a_fixed_column():
    """Broken at 78 characters inside a code block, "Error while type casting for
    column 'amount'" read "Error while type" on one line and "casting for ..." on the
    next, and a copied error came out in pieces: a sentence is one paragraph, which the
    page wraps at its own width, between words."""
    error = (
        "asset 'orders' (table shop.orders): writing its rows failed: Error while type "
        "casting for column 'amount': Cannot parse string 'twelve' as Decimal(10, 2) "
        "(CANNOT_PARSE_TEXT); see https://example.com/" + "a" * 120
    )
    assert _error_html(error) == f"<p>{html.escape(error, quote=False)}</p>\n"
    second = "- the second line, unindented, starts no list"
    assert _error_html(f"{error}\n{second}").endswith(f"<br />\n{second}</p>\n")


def test_an_errors_indented_lines_keep_their_layout_in_a_code_block():
    """A table of failure cases or a traceback's frames line up only in monospace, as
    written; a line of them longer than the code block's width is broken at spaces."""
    long = "    " + " ".join(["frame"] * 30)
    error = f"SchemaError: column 'amount' failed\n  index  failure_case\n  0      -1\n{long}"
    shown = _error_html(error)
    assert shown.startswith("<p>SchemaError: column 'amount' failed</p>\n<pre><code")
    code = shown.split('<code class="language-text">', 1)[1].split("</code></pre>", 1)[0]
    assert code.startswith("  index  failure_case\n  0      -1\n    frame frame")
    assert all(len(line) <= CODE_WIDTH for line in code.splitlines())
    assert " ".join(code.split()) == " ".join(error.split("\n", 1)[1].split())


def test_a_failure_that_wrote_nothing_says_the_table_is_unchanged_not_empty():
    # "-" under "rows in table" read as an empty table; a failed materialization that
    # published nothing leaves the table (and its earlier rows) as it was.
    outcome = AssetOutcome("fact_sales", "marts.Fact_Sales", "failed", 0.69, error="boom")
    markdown = _page(outcome=outcome).markdown(PageLinks())
    assert "| 2026\u201112\u201102\xa019:52:40 | unchanged | - | 0.69 | failed |" in markdown


def test_checks_are_listed_with_their_outcome():
    check = AssetCheckResult(
        "fact_sales", "marts.Fact_Sales", "keys_resolve", "error", False, 3, ({"key": "x"},)
    )
    outcome = AssetOutcome("fact_sales", "marts.Fact_Sales", "failed", 0.1, checks=(check,))
    markdown = _page(outcome=outcome).markdown(PageLinks())
    row = "| <a id=\"check-keys_resolve\"></a>keys_resolve | error | failed | 3 | {key='x'} |"
    assert row in markdown
    assert "| check | severity |" in markdown  # no check has a description: no column


def test_a_checks_description_is_shown_when_any_check_has_one():
    """``AssetCheck(description=...)`` says what a check guards; the table showed its name
    alone."""
    described = AssetCheckResult(
        "fact_sales",
        "marts.Fact_Sales",
        "keys_resolve",
        "error",
        True,
        0,
        description="Every sale's keys resolve | to a dimension.",
    )
    plain = AssetCheckResult("fact_sales", "marts.Fact_Sales", "not_empty", "warn", True, 0)
    checks = (described, plain)
    outcome = AssetOutcome("fact_sales", "marts.Fact_Sales", "materialized", 0.1, checks=checks)
    markdown = _page(outcome=outcome).markdown(PageLinks())
    assert "| check | description | severity | status | violations | example / error |" in markdown
    assert (
        '| <a id="check-keys_resolve"></a>keys_resolve | Every sale\'s keys resolve \\| to a '
        "dimension. | error | passed | 0 | - |" in markdown
    )
    assert '| <a id="check-not_empty"></a>not_empty | - | warn | passed | 0 | - |' in markdown


def test_a_checks_error_and_example_read_as_written():
    """A check's SQL error quotes identifiers in backticks and may hold ``*``, a tag or
    a pipe; an example row's values are the user's data: shown, not obeyed as markdown
    (backticks made code of half the error), each row keeping its columns. The check
    that could not run failed the asset: its error is said once, under the title."""
    error = "Code: 47. Unknown identifier `qty`. In scope SELECT * FROM t WHERE a*b > 0 | <b>x</b>"
    broken = AssetCheckResult(
        "fact_sales", "marts.Fact_Sales", "sql_fails", "error", False, None, error=error
    )
    example = {"note": "*new* [x](y) `z`"}
    found = AssetCheckResult(
        "fact_sales", "marts.Fact_Sales", "notes", "warn", False, 1, (example,), description="_a_"
    )
    outcome = AssetOutcome("fact_sales", "marts.Fact_Sales", "failed", 0.1, checks=(broken, found))
    page = rendered(_page(outcome=outcome).markdown(PageLinks()))
    table = page.split("<th>example / error</th>", 1)[1].split("</table>", 1)[0]
    rows = [re.findall(r"<td[^>]*>(.*?)</td>", r) for r in table.split("<tr>")[1:]]
    assert [len(cells) for cells in rows] == [6, 6]
    assert rows[0][-1] == "could not run: see the error under the title"
    assert html.escape(error, quote=False) in page.split("<table>", 1)[0]
    assert rows[1][1] == "_a_"
    assert rows[1][-1] == html.escape("{note='*new* [x](y) `z`'}", quote=False)


def test_lineage_diagram_holds_the_direct_neighbours_and_counts_the_rest():
    """All 20 ancestors of a dashboard in one column made a diagram taller than the
    screen, most of it boxes without arrows: the diagram shows the asset and its direct
    neighbours, and one box per side counts the assets further away (the table under
    it lists them by steps, with links)."""
    markdown = _page().markdown(PageLinks())
    (diagram,) = mermaid_blocks(markdown)
    nodes = set(re.findall(r"^\s+(\w+)\[", diagram, re.M))
    direct_up = set(GRAPH["fact_sales"].deps)
    direct_down = set(GRAPH.dag.successors("fact_sales"))
    further_up = len(GRAPH.ancestors("fact_sales") - direct_up)
    further_down = len(GRAPH.dag.reachable("fact_sales", upstream=False) - direct_down)
    assert further_up > 0 and further_down > 0
    assert nodes == direct_up | direct_down | {
        "fact_sales",
        "0_more_upstream",
        "0_more_downstream",
    }
    assert f'0_more_upstream["{further_up} more upstream, listed below"]' in diagram
    assert f'0_more_downstream["{further_down} more downstream, listed below"]' in diagram
    assert diagram.splitlines()[1] == "flowchart LR"
    assert re.search(r"^\s+class fact_sales focus$", diagram, re.M)
    direct = {(dep, "fact_sales") for dep in direct_up} | {("fact_sales", k) for k in direct_down}
    assert edges_in(diagram) == direct


def test_lineage_diagram_of_an_asset_without_further_neighbours_has_no_count_box():
    up, _ = distances(GRAPH, "raw_online_retails")
    assert up == {}
    (diagram,) = focused_diagrams(GRAPH, "raw_online_retails")
    assert "0_more_upstream" not in diagram


def test_lineage_lists_every_neighbour_by_steps_with_a_link_to_its_page():
    version = uuid.uuid4()
    markdown = _page().markdown(PageLinks(versions={"sat_invoice": version}))
    assert f"[sat_invoice](/v2/artifacts/artifact/{version})" in markdown
    assert "[hub_invoice](/v2/artifacts/key/asset-hub-invoice)" in markdown  # no page yet
    rows = {
        (m.group(1), int(m.group(2))): set(re.findall(r"\[(\w+)\]", m.group(3)))
        for m in re.finditer(r"^\| (upstream|downstream) \| (\d+) \| (.*) \|$", markdown, re.M)
    }
    assert rows[("upstream", 1)] == set(GRAPH["fact_sales"].deps)
    assert rows[("upstream", 3)] == {"psa_online_retails"}
    assert rows[("upstream", 4)] == {"raw_online_retails"}
    assert rows[("downstream", 1)] == set(GRAPH.dag.successors("fact_sales"))


def _built(key: str, run: str, *, rows: int | None = 10, status: str = "materialized"):
    """A materialization of ``key`` by run ``run``, as the history the run read holds it."""
    ended = datetime(2026, 12, 1, 7, 0, 3, tzinfo=UTC)
    return MaterializationRecord(
        f"m-{key}", key, GRAPH[key].table, "c0de", ended, status, run_id=run, rows=rows, ended=ended
    )  # type: ignore[arg-type]


def _read_lines(markdown: str) -> list[str]:
    """The list of the versions of its direct upstream a page's attempt read."""
    lines = markdown.split("\n")
    start = lines.index(VERSIONS_READ) + 2
    return lines[start : lines.index("", start)]


def test_the_lineage_says_which_version_of_each_direct_upstream_this_attempt_read():
    """No page said which version of an upstream an asset was built from, though its record
    names the materialization read per upstream: one line per direct upstream says it,
    this run's or when and by which run it was built, linking the page of that version
    (or, where the run knows no page of it, the run)."""
    sat, link_time = uuid.uuid4(), uuid.uuid4()
    reads = (
        UpstreamRead("sat_invoice", this_run=True),
        UpstreamRead(
            "link_invoice_product", _built("link_invoice_product", "run-0"), "all assets", link_time
        ),
        UpstreamRead("link_invoice_customer", _built("link_invoice_customer", "run-7")),
        UpstreamRead(
            "link_invoice_time",
            _built("link_invoice_time", "run-6", status="failed"),
            "link_invoice_time",
        ),
        UpstreamRead("link_invoice_country"),
    )
    markdown = _page(reads=reads).markdown(PageLinks(versions={"sat_invoice": sat}))
    assert _read_lines(markdown) == [
        f"- [sat_invoice](/v2/artifacts/artifact/{sat}?tab=Artifact): this run",
        f"- [link_invoice_product](/v2/artifacts/artifact/{link_time}?tab=Artifact): built "
        "2026\u201112\u201101\xa007:00:03\xa0UTC by run [all assets](/v2/runs/flow-run/run-0)",
        "- link_invoice_customer: built 2026\u201112\u201101\xa007:00:03\xa0UTC by run "
        "[run-7](/v2/runs/flow-run/run-7) (its page: in that run's Artifacts tab)",
        "- link_invoice_time: built 2026\u201112\u201101\xa007:00:03\xa0UTC by run "
        "[link_invoice_time](/v2/runs/flow-run/run-6), then its checks failed "
        "(its page: in that run's Artifacts tab)",
        "- link_invoice_country: no recorded build (read as it was)",
    ]
    # Under the list of every neighbour, in the Lineage section.
    lineage = markdown.split("## Lineage", 1)[1].split("\n## ", 1)[0]
    assert lineage.index("| upstream | 1 |") < lineage.index(VERSIONS_READ)


def test_a_relink_leaves_the_versions_an_attempt_read_as_they_were():
    """A later run relinks a page to its neighbours' newer pages: the version an attempt
    read is a fact of that attempt, and its link stays."""
    old, new = uuid.uuid4(), uuid.uuid4()
    reads = (UpstreamRead("sat_invoice", _built("sat_invoice", "run-0"), "all assets", old),)
    written = _page(reads=reads).markdown(PageLinks(versions={"sat_invoice": old}))
    found = linked_page(written, "sat_invoice")
    assert found == f"/v2/artifacts/artifact/{old}"
    relinked = with_relinked(written, "sat_invoice", found, f"/v2/artifacts/artifact/{new}")
    (row,) = [line for line in relinked.split("\n") if line.startswith("| upstream | 1 |")]
    assert f"[sat_invoice](/v2/artifacts/artifact/{new})" in row
    assert _read_lines(relinked)[0].startswith(
        f"- [sat_invoice](/v2/artifacts/artifact/{old}?tab=Artifact): built "
    )


def test_an_order_only_upstream_is_not_listed_as_read_and_a_checked_one_says_so():
    """Rows flow from what an asset reads; its checks read the tables they are checked
    against; an order-only dep gives it nothing to read."""
    graph = load_definitions("assets").graph()
    spec = graph["fact_sales"]
    outcome = AssetOutcome("fact_sales", spec.table, "materialized", 0.5)
    earlier = _built("dim_customer", "run-0")
    reads = tuple(
        UpstreamRead(dep, earlier) if dep == "dim_customer" else UpstreamRead(dep, this_run=True)
        for dep in spec.deps
    )
    page = AssetPage(
        spec=spec,
        graph=graph,
        materialization=Materialization(outcome, "run-1", "all assets", FINISHED),
        reads=reads,
    )
    lines = _read_lines(page.markdown(PageLinks()))
    # Ten of this run's in one line (no page of them given: no link), the other its own.
    others = [dep for dep in spec.deps if dep != "dim_customer"]
    assert lines == [
        f"- this run's, of {len(others)}: {', '.join(others)}",
        "- dim_customer (checked against): built 2026\u201112\u201101\xa007:00:03\xa0UTC by run "
        "[run-0](/v2/runs/flow-run/run-0) (its page: in that run's Artifacts tab)",
    ]
    skipped = AssetOutcome("fact_sales", spec.table, "skipped", error="upstream failed: x")
    assert VERSIONS_READ not in _page(outcome=skipped).markdown(PageLinks())


def test_columns_show_types_and_upstream_columns_or_why_not():
    columns = [("total_amount", "Decimal(10, 4)"), ("loaded", "DateTime"), ("note", "String")]
    sources = {
        "total_amount": ("vault.sat_invoice.TotalAmount",),
        "loaded": (),
    }
    markdown = _page(columns=columns, column_sources=sources).markdown(PageLinks())
    sat = "[vault.sat_invoice.TotalAmount](/v2/artifacts/key/asset-sat-invoice)"
    assert f"| total_amount | Decimal(10, 4) | {sat} |" in markdown
    assert "| loaded | DateTime | no upstream column (a constant or a function) |" in markdown
    assert "| note | String | not derived |" in markdown


def test_sql_asset_page_shows_its_sql_behind_a_click_saying_how_long_it_is():
    """The SQL of fact_sales took a screen of an eight-screen page: it is a click away,
    the line that opens it saying what and how much is there."""
    markdown = _page(sql="SELECT 1 AS n\n").markdown(PageLinks())
    assert (
        "## SQL\n\n<details>\n<summary>The SELECT that builds marts.Fact_Sales (1 line)"
        "</summary>\n\n```sql\nSELECT 1 AS n\n```\n\n</details>\n"
    ) in markdown
    long = _page(sql="SELECT 1 AS n,\n  2 AS m\nFROM t\n").markdown(PageLinks())
    assert "<summary>The SELECT that builds marts.Fact_Sales (3 lines)</summary>" in long


def test_python_asset_page_names_its_function():
    markdown = _page().markdown(PageLinks())
    assert "## Python" in markdown and "tests.lineage_location._body.<locals>.body" in markdown


def test_page_shows_code_version_and_state_once_the_run_settled_them():
    page = _page()
    assert "| code version |" not in page.markdown(PageLinks())
    outcome = page.materialization.outcome
    outcome.code_version, outcome.state = "abc123", "stale"
    outcome.reasons = (Reason("code_changed", "code changed (built with c0de, now abc123)"),)
    markdown = page.markdown(PageLinks())
    assert "| code version | `abc123` |" in markdown
    assert (
        "| state after this run | stale (code changed (built with c0de, now abc123)) |"
    ) in markdown


def test_a_written_pages_state_row_is_replaced_and_nothing_else():
    """A later run re-states a page it does not render again: the state row of the table
    at the top changes, a check that happens to be named ``state`` does not."""
    check = AssetCheckResult("fact_sales", "marts.Fact_Sales", "state", "warn", True, 0, ())
    outcome = AssetOutcome("fact_sales", "marts.Fact_Sales", "materialized", 0.1, checks=(check,))
    outcome.code_version, outcome.state = "abc123", "fresh"
    written = _page(outcome=outcome).markdown(PageLinks())
    restated = with_state(written, "stale (upstream materialized since: sat_invoice)")
    assert "| state after this run | fresh |" in written
    assert restated == written.replace(
        "| state after this run | fresh |",
        "| state | stale (upstream materialized since: sat_invoice) |",
        1,
    )
    assert with_state(restated, "fresh") == written.replace(
        "| state after this run | fresh |", "| state | fresh |", 1
    )
    assert '| <a id="check-state"></a>state | warn | passed |' in restated


def test_a_page_written_without_a_state_gets_one_at_the_end_of_its_top_table():
    written = _page().markdown(PageLinks())
    restated = with_state(written, "stale (code changed)")
    assert "| schema | FrameSchema |\n| state | stale (code changed) |\n\n" in restated


@pytest.mark.parametrize("text", ["plain", "has ``` inside", "`````"])
def test_fence_is_longer_than_any_backtick_run_inside(text):
    opening, body, closing = fenced(text, "text")
    assert opening == closing + "text" and body == text
    assert closing not in text


# --------------------------------------------------------------------------- run diagrams


def _longest_path(mermaid: str) -> int:
    return nx.dag_longest_path_length(nx.DiGraph(list(edges_in(mermaid))))


def test_layer_diagrams_are_at_most_three_ranks_wide():
    selected = [spec.key for spec in GRAPH]
    for diagram in layer_diagrams(GRAPH, selected):
        assert _longest_path(diagram.mermaid) <= MAX_RANKS, diagram.title
        assert diagram.mermaid.splitlines()[1] == "flowchart LR"


def test_a_layer_with_many_edges_is_drawn_one_rank_per_diagram():
    """The marts' dimensions and facts in one diagram crossed 29 edges into a tangle
    that the UI shrank to fit its column; one rank per diagram draws each as a fan-in."""
    retail = load_definitions("assets").graph()
    diagrams = {d.title: d for d in layer_diagrams(retail, list(retail.specs))}
    assert "marts" not in diagrams
    dimensions, facts = diagrams["marts (1 of 2)"], diagrams["marts (2 of 2)"]
    assert set(dimensions.keys) == {"dim_product", "dim_customer", "dim_time", "dim_country"}
    assert set(facts.keys) == {"fact_sales", "fact_sale_returns"}
    for diagram in diagrams.values():
        edges = edges_in(diagram.mermaid)
        assert len(edges) <= MAX_EDGES or _longest_path(diagram.mermaid) == 1, diagram.title


def test_layer_diagrams_split_deep_layers_and_keep_every_edge_once():
    selected = [spec.key for spec in GRAPH]
    diagrams = layer_diagrams(GRAPH, selected)
    titles = [d.title for d in diagrams]
    assert "raw" in titles and "marts" in titles
    drawn = [edge for d in diagrams for edge in edges_in(d.mermaid)]
    assert sorted(drawn) == sorted((dep, spec.key) for spec in GRAPH for dep in spec.deps)


def test_focused_diagram_of_a_root_has_no_upstream():
    (diagram,) = focused_diagrams(GRAPH, "raw_online_retails")
    assert not any(target == "raw_online_retails" for _, target in edges_in(diagram))


def test_an_ordering_only_dep_is_drawn_and_listed_apart_from_what_is_read():
    """A data engineer reads an arrow as "is built from": a dep the asset only runs after
    must not look like one (its columns come from elsewhere)."""
    graph = with_an_ordering_dep()
    run_diagrams = "".join(d.mermaid for d in layer_diagrams(graph, list(graph.specs)))
    (page_diagram,) = focused_diagrams(graph, "fact")
    # Dotted, no arrowhead (ten ends piled into one blob at fact_sales), and labelled where
    # an asset's few edges leave room (its page); many edges have no room for labels.
    assert "dimension -. order .- fact" in page_diagram
    for whole_graph in (run_diagrams, to_mermaid(graph, list(graph.specs))):
        assert "dimension -.- fact" in whole_graph
    for mermaid in (page_diagram, run_diagrams, to_mermaid(graph, list(graph.specs))):
        assert "source --> fact" in mermaid
        assert "dimension --> fact" not in mermaid
        assert edges_in(mermaid) >= {("source", "fact"), ("dimension", "fact")}
    text = render_lineage(graph, list(graph.specs), "text")
    assert re.search(r"db\.fact +<- source, dimension \(order\)", text), text
    dot = render_lineage(graph, list(graph.specs), "dot")
    assert '"dimension" -> "fact" [style=dotted, arrowhead=odot, color="#a855f7"];' in dot
    unselected = render_lineage(graph, ["fact", "report"], "dot")  # source: a dashed border
    assert '"source" -> "fact";' in unselected
    page = AssetPage(
        spec=graph["fact"],
        graph=graph,
        materialization=Materialization(
            AssetOutcome("fact", "db.fact", "materialized", 0.1), "run-1", "all assets", FINISHED
        ),
    ).markdown(PageLinks())
    assert "| upstream | 1 | [source](" in page
    assert "[dimension](/v2/artifacts/key/asset-dimension) (order only)" in page
    assert "[source](/v2/artifacts/key/asset-source) (order only)" not in page


def test_only_ordering_edges_are_dotted_and_each_is_coloured():
    """The Prefect UI's Mermaid drew 7 of the marts' 8 dotted ordering edges solid (a line
    crossing another gets a dash array that overrides the dots), so fact_sales seemed to
    read the dimensions; and in a run of ``fact+`` every read from an unselected asset was
    dotted too. A read is an arrow whatever is selected (the node's dashed border says
    "not selected"); an ordering edge is a dotted line coloured by ``linkStyle``, which
    the renderer keeps, and no thicker in ink than a read (2 px dots, half of it gaps)."""
    graph = with_an_ordering_dep()
    for selected in (["fact", "report"], list(graph.specs)):
        diagrams = [d.mermaid for d in layer_diagrams(graph, selected)]
        diagrams += [to_mermaid(graph, selected), *focused_diagrams(graph, "fact")]
        for mermaid in diagrams:
            styles = link_styles(mermaid)
            for number, (upstream, line, downstream) in enumerate(links(mermaid)):
                if line == "~~~":  # places a count box; draws nothing
                    continue
                if upstream in graph.upstream_of(downstream).ordering:
                    assert line in ("-.-", "-. order .-"), mermaid
                    assert styles[number] == "stroke:#a855f7,stroke-width:2px", mermaid
                else:
                    assert line == "-->", mermaid
                    assert number not in styles, mermaid


def test_a_diagram_stacks_what_an_asset_reads_above_what_it_only_runs_after():
    """The renderer stacks a column in the order its nodes are declared: the dimensions
    fact_sales only runs after, declared among the links it reads, ran their lines across
    the reads. Declared last, they join it from below, apart from its sources."""
    retail = load_definitions("assets").graph()
    ordering = set(retail.upstream_of("fact_sales").ordering)
    assert len(ordering) == 4
    facts = {d.title: d for d in layer_diagrams(retail, list(retail.specs))}["marts (2 of 2)"]
    assert set(facts.inputs[-4:]) == ordering
    declared = re.findall(r"^\s+(\w+)\[", facts.mermaid, re.M)
    assert declared[: len(facts.inputs)] == list(facts.inputs)


def _columns(mermaid: str) -> list[int]:
    """How many nodes each column of a left-to-right diagram stacks (by longest path,
    over its invisible layout links too, as the renderer ranks them)."""
    dag = nx.DiGraph(list(edges_in(mermaid, layout=True)))
    dag.add_nodes_from(re.findall(r"^\s+(\w+)\[", mermaid, re.M))
    column: dict[str, int] = {}
    for node in nx.topological_sort(dag):
        column[node] = max((column[p] + 1 for p in dag.predecessors(node)), default=0)
    return [list(column.values()).count(c) for c in range(max(column.values()) + 1)]


def test_no_column_of_a_run_diagram_is_taller_than_the_window():
    """At 1600x1000 the vault's 13 assets in one column drew 1,237 px, the 10 assets
    fact_sales depends on 946 px: no diagram could be seen whole. At most
    :data:`MAX_COLUMN` nodes a column, in labels of 16 px, fit the window."""
    retail = load_definitions("assets").graph()
    diagrams = layer_diagrams(retail, list(retail.specs))
    for diagram in diagrams:
        assert max(_columns(diagram.mermaid)) <= MAX_COLUMN, diagram.title
        assert '"fontSize": "16px"' in diagram.mermaid
    titles = [d.title for d in diagrams]
    assert titles[1:4] == ["vault (1 of 3)", "vault (2 of 3)", "vault (3 of 3)"]
    assert sorted(k for d in diagrams for k in d.keys) == sorted(retail.specs)


def test_what_a_diagram_only_runs_after_takes_a_column_of_its_own_when_inputs_overflow():
    """fact_sales reads 7 vault tables and runs after 4 dimensions: 11 inputs in one
    column, taller than the window. Where the inputs exceed :data:`MAX_COLUMN`, those its
    members only run after stand in a column between what they read and the members,
    ranked there by invisible links from every read; no lineage edge is added."""
    sources = [f"source_{i}" for i in range(8)]
    dimensions = [f"dimension_{i}" for i in range(4)]
    graph = graph_of(
        [
            *((s, ()) for s in sources),
            *((d, (sources[0],)) for d in dimensions),
            ("fact", (*sources, *dimensions)),
        ],
        {"fact": Upstream(reads=tuple(sources), ordering=tuple(dimensions), derived=True)},
    )
    (diagram,) = [d for d in layer_diagrams(graph, list(graph.specs)) if d.keys == ("fact",)]
    assert _columns(diagram.mermaid) == [8, 4, 1]
    assert edges_in(diagram.mermaid) == {(dep, "fact") for dep in sources + dimensions}
    # ELK ranks a node next to what it links to: a read left unlinked joined the dimensions.
    layout = edges_in(diagram.mermaid, layout=True) - edges_in(diagram.mermaid)
    assert {a for a, _ in layout} == set(sources) and {b for _, b in layout} == set(dimensions)


def test_run_diagrams_keep_dotted_lines_dotted_where_they_cross():
    """The UI's renderer (ELK layout) draws a hop where lines cross, and in doing so
    rewrites a dotted line's dash array as a solid one's: hops are turned off."""
    retail = load_definitions("assets").graph()
    for diagram in layer_diagrams(retail, list(retail.specs)):
        assert '"elk": {"lineHops": false}' in diagram.mermaid.splitlines()[0]


def test_lineage_text_lists_the_selection_and_counts_the_upstream_left_out():
    """``lineage --select fact_sales`` printed eleven ``(not selected)`` rows, the one asset
    selected last: the upstream outside the selection is named after the ``<-`` of the
    assets that read it (or only run after it, ``(order)``), and counted once below."""
    graph = with_an_ordering_dep()
    lines = render_lineage(graph, ["fact", "report"], "text").splitlines()

    assert [line.split()[0] for line in lines[:-1]] == ["fact", "report"]
    assert lines[0].endswith("<- source, dimension (order)")
    assert lines[-1] == "2 upstream assets not selected (left in the warehouse as they are)"
    assert "not selected" not in "\n".join(lines[:-1])
    assert len({line.index("<- ") for line in lines[:-1]}) == 1, lines


def test_lineage_text_of_a_selection_reading_nothing_outside_it_has_no_count():
    graph = with_an_ordering_dep()
    lines = render_lineage(graph, list(graph.specs), "text").splitlines()

    assert [line.split()[0] for line in lines] == ["source", "dimension", "fact", "report"]


def _page_of(graph: AssetGraph, key: str) -> str:
    outcome = AssetOutcome(key, f"db.{key}", "materialized", 0.1)
    materialization = Materialization(outcome, "run-1", "all assets", FINISHED)
    return AssetPage(spec=graph[key], graph=graph, materialization=materialization).markdown(
        PageLinks()
    )


def test_an_asset_reached_only_through_an_ordering_edge_is_marked_order_only():
    """``fact_sales`` lists ``hub_product`` two steps upstream: a reader takes it for a
    source of its rows, yet it is only behind ``dim_product``, which fact_sales runs after
    without reading. Further steps say so too, upstream and downstream."""
    graph = with_an_order_only_branch()
    fact = _page_of(graph, "fact")
    assert "| upstream | 2 | [hub](/v2/artifacts/key/asset-hub) (order only) |" in fact
    assert "[link](/v2/artifacts/key/asset-link) (order only)" not in fact
    dimension = _page_of(graph, "dimension")
    assert "| downstream | 2 | [report](/v2/artifacts/key/asset-report) (order only) |" in dimension
    assert "[audit](/v2/artifacts/key/asset-audit) (order only)" not in dimension
    hub = _page_of(graph, "hub")
    assert "[report](/v2/artifacts/key/asset-report) (order only)" in hub
    assert "[audit](/v2/artifacts/key/asset-audit) (order only)" not in hub


def _lineage_paragraph(graph: AssetGraph, key: str) -> str:
    """What a page says above its diagrams: a line, and the legend, folded under it."""
    guide = _page_of(graph, key).split("## Lineage\n\n", 1)[1].split("```mermaid", 1)[0]
    line, _, legend = guide.strip().partition("\n\n")
    folded = legend.removeprefix(f"<details>\n<summary>{LEGEND}</summary>\n\n")
    return " ".join([line, folded.removesuffix("\n\n</details>")]).strip()


def test_a_two_asset_projects_lineage_explains_only_what_its_page_shows():
    """Two assets, one arrow: a paragraph about *order* arrows, dashed boxes and *order
    only* sent the reader looking for things the page does not draw."""
    graph = two_assets()
    assert _lineage_paragraph(graph, "orders") == (
        "0 upstream and 1 downstream assets. Right: what reads orders directly. A click on "
        "a box opens its page."
    )
    assert _lineage_paragraph(graph, "totals") == (
        "1 upstream and 0 downstream assets. Left: what totals reads directly. A click on "
        "a box opens its page."
    )


def test_order_arrows_dashed_boxes_and_order_only_are_explained_where_shown():
    graph = with_an_order_only_branch()
    arrow = "A purple dotted line labelled *order*"
    box = "A dashed box counts the assets further away"
    only = "*order only* marks"
    fact = _lineage_paragraph(graph, "fact")  # dimension -. order .- fact; hub 2 steps up
    assert arrow in fact and box in fact and only in fact
    assert "one its checks read" in fact  # in words of any project, not the retail one
    assert "dimensions" not in fact
    hub = _lineage_paragraph(graph, "hub")  # its arrows are reads; report is order only
    assert arrow not in hub and box in hub and only in hub
    assert "runs after one it does not read" in hub  # order only, said without the arrow
    link = _lineage_paragraph(graph, "link")  # fact and report are both read from it
    assert arrow not in link and box in link and only not in link
    report = _lineage_paragraph(graph, "report")
    assert arrow not in report and only in report


def test_a_table_a_check_reads_is_checked_against_not_order_only():
    """fact's check reads dimension's table. Called *order only*, "no rows flow between
    them", the line sent a reader of a failed check away from the table it failed on."""
    graph = with_a_checked_dimension()
    for key in ("fact", "dimension"):
        (diagram,) = focused_diagrams(graph, key)
        assert "dimension -. checked against .- fact" in diagram
        assert edges_in(diagram) >= {("dimension", "fact")}
    fact = _page_of(graph, "fact")
    assert "| upstream | 1 | [source](/v2/artifacts/key/asset-source), [dimension](" in fact
    assert "[dimension](/v2/artifacts/key/asset-dimension) (checked against)" in fact
    assert "(order only)" not in fact
    paragraph = _lineage_paragraph(graph, "fact")
    assert (
        "A purple dotted line labelled *checked against* joins an asset to a table its "
        "checks read: none of that table's rows are in the asset's, but a check can fail "
        "on them, and the asset runs after it" in paragraph
    )
    assert "*checked against* marks an asset whose table this one's checks read." in paragraph
    assert "no rows flow" not in paragraph and "*order*" not in paragraph
    dimension = _page_of(graph, "dimension")
    assert "[fact](/v2/artifacts/key/asset-fact) (checks this)" in dimension
    assert "*checks this* marks an asset whose checks read this table." in (
        _lineage_paragraph(graph, "dimension")
    )
    # report reads fact: dimension is behind fact's line, and none of its rows reach report
    assert "[dimension](/v2/artifacts/key/asset-dimension) (order only)" in _page_of(
        graph, "report"
    )


def test_each_upstream_column_links_to_the_page_of_the_asset_that_holds_it():
    """A column's chain goes on in the page of the table it is computed from: one click,
    instead of finding that asset in the lineage list."""
    columns = [("total_amount", "Decimal(10, 4)"), ("other", "String")]
    sources = {"total_amount": ("vault.sat_invoice.TotalAmount",), "other": ("ext.t.c",)}
    links = PageLinks({"sat_invoice": uuid.UUID(int=7)})
    markdown = _page(columns=columns, column_sources=sources).markdown(links)
    sat = f"[vault.sat_invoice.TotalAmount](/v2/artifacts/artifact/{uuid.UUID(int=7)})"
    assert f"| total_amount | Decimal(10, 4) | {sat} |" in markdown
    assert "| other | String | ext.t.c |" in markdown  # no asset holds that table


#: fact_sales's chain down to the raw file: total_amount through the satellite and the
#: PSA to two raw columns; loaded computed here; note read from a column of the raw file
#: and from link_invoice_product, here a Python asset that declares no column lineage.
CHAIN = [
    AssetColumnLineage("raw_online_retails", "raw.online_retails", (), None, LOADS_A_SOURCE),
    AssetColumnLineage(
        "psa_online_retails",
        "raw.psa_online_retails",
        ("raw_online_retails",),
        {"TotalAmount": ("raw.online_retails.Quantity", "raw.online_retails.UnitPrice")},
        "parsed from the SQL",
    ),
    AssetColumnLineage(
        "sat_invoice",
        "vault.sat_invoice",
        ("psa_online_retails",),
        {"TotalAmount": ("raw.psa_online_retails.TotalAmount",)},
        "parsed from the SQL",
    ),
    AssetColumnLineage(
        "link_invoice_product",
        "vault.link_invoice_product",
        ("raw_online_retails",),
        None,
        "not derived: a Python asset that declares no column lineage",
    ),
    AssetColumnLineage(
        "fact_sales",
        "marts.Fact_Sales",
        ("sat_invoice", "link_invoice_product"),
        {
            "total_amount": ("vault.sat_invoice.TotalAmount",),
            "loaded": (),
            "note": ("vault.link_invoice_product.note", "raw.online_retails.Country"),
        },
        "parsed from the SQL",
    ),
]
FACT_COLUMNS = [("total_amount", "Decimal(10, 4)"), ("loaded", "DateTime"), ("note", "String")]


def _columns_rows(markdown: str) -> dict[str, str]:
    """Each row of a page's Columns table by its column's name."""
    section = markdown.split("## Columns\n\n", 1)[1].split("\n\n## ", 1)[0]
    return {
        line.split(" | ")[0].removeprefix("| "): line
        for line in section.split("\n")
        if line.startswith("| ") and not line.startswith(("| column |", "|---"))
    }


def test_each_column_names_the_raw_columns_its_whole_chain_ends_in():
    """On fact_sales's page a reviewer sees which raw file columns a column comes from
    without clicking through the satellite's and the PSA's pages: the one-step source
    stays, linked; the raw columns, grouped by table, link the page of the asset that
    loads them."""
    page = _page(
        columns=FACT_COLUMNS,
        column_sources=CHAIN[-1].columns,
        column_ends=ends_by_column(CHAIN, "fact_sales"),
    )
    markdown = page.markdown(PageLinks({"raw_online_retails": uuid.UUID(int=3)}))
    rows = _columns_rows(markdown)
    assert "| column | type | computed from | raw source columns |" in markdown
    sat = "[vault.sat_invoice.TotalAmount](/v2/artifacts/key/asset-sat-invoice)"
    raw = f"[raw.online_retails](/v2/artifacts/artifact/{uuid.UUID(int=3)})"
    assert rows["total_amount"] == (
        f"| total_amount | Decimal(10, 4) | {sat} | {raw}: Quantity, UnitPrice |"
    )
    assert rows["loaded"].endswith(
        "| no upstream column (a constant or a function) | none (a constant or a function) |"
    )


def test_a_chain_that_cannot_be_followed_to_raw_says_where_and_why():
    """A Python asset that declares no column lineage ends the chain: the page says so in
    words, naming the column where it stops, and still gives the raw columns it reaches."""
    page = _page(
        columns=FACT_COLUMNS,
        column_sources=CHAIN[-1].columns,
        column_ends=ends_by_column(CHAIN, "fact_sales"),
    )
    note = _columns_rows(page.markdown(PageLinks()))["note"]
    assert note.endswith(
        "| [raw.online_retails](/v2/artifacts/key/asset-raw-online-retails): Country; "
        "unknown past [vault.link_invoice_product.note]"
        "(/v2/artifacts/key/asset-link-invoice-product) "
        "(not derived: a Python asset that declares no column lineage) |"
    )


def test_a_page_whose_columns_are_read_from_the_raw_columns_does_not_repeat_them():
    """The PSA's upstream columns are the raw file's: a column of raw sources would repeat
    the one before it, link for link, and push the table past the page's width."""
    psa = CHAIN[1]
    page = _page(
        "psa_online_retails",
        columns=[("TotalAmount", "Float64")],
        column_sources=psa.columns,
        column_ends=ends_by_column(CHAIN, "psa_online_retails"),
    )
    markdown = page.markdown(PageLinks())
    assert "| column | type | computed from |\n" in markdown
    assert (
        "Each column's upstream columns are raw source columns: its whole chain ends one "
        "step up." in markdown
    )


def test_a_note_that_holds_for_every_column_is_said_once_not_in_each_row():
    """The raw asset's page said "not derived: a Python asset that loads a source" in each
    of its ten rows: said once over a table of names and types."""
    markdown = _page("raw_online_retails", columns=FACT_COLUMNS, column_note=LOADS_A_SOURCE)
    columns = markdown.markdown(PageLinks()).split("## Columns\n\n", 1)[1].split("\n\n## ")[0]
    assert columns.split("\n") == [
        "*computed from*: not derived for any column (a Python asset that loads a source).",
        "",
        "| column | type |",
        "|---|---|",
        "| total_amount | Decimal(10, 4) |",
        "| loaded | DateTime |",
        "| note | String |",
    ]


def test_a_page_without_its_columns_chains_keeps_its_three_columns():
    markdown = _page(columns=FACT_COLUMNS, column_sources=CHAIN[-1].columns).markdown(PageLinks())
    assert "| column | type | computed from |\n" in markdown


#: sat_invoice and what reads it downstream: the facts compute two columns from it and
#: filter it on ReturnStatus, a check of theirs reads their total, the summary computes
#: five columns from that total, and anomaly_invoice declares no column lineage.
DOWNSTREAM = [
    AssetColumnLineage(
        "sat_invoice",
        "vault.sat_invoice",
        ("hub_invoice",),
        {"TotalAmount": (), "Quantity": (), "ReturnStatus": (), "LOAD_DATETIME": ()},
        "parsed from the SQL",
    ),
    AssetColumnLineage(
        "fact_sales",
        "marts.Fact_Sales",
        ("sat_invoice",),
        {
            "total_amount": ("vault.sat_invoice.TotalAmount",),
            "quantity": ("vault.sat_invoice.Quantity",),
        },
        "parsed from the SQL",
        reads=(
            "vault.sat_invoice.Quantity",
            "vault.sat_invoice.ReturnStatus",
            "vault.sat_invoice.TotalAmount",
        ),
        checks=(
            CheckColumns(
                "amount_positive", ("marts.Fact_Sales.total_amount",), ("marts.Fact_Sales",)
            ),
        ),
    ),
    AssetColumnLineage(
        "sales_summary",
        "quality.sales_summary",
        ("fact_sales",),
        {
            name: ("marts.Fact_Sales.total_amount",)
            for name in ("min_total", "max_total", "avg_total", "median_total", "volume")
        },
        "parsed from the SQL",
    ),
    AssetColumnLineage(
        "anomaly_invoice",
        "quality.anomaly_invoice",
        ("fact_sales",),
        None,
        "not derived: a Python asset that declares no column lineage",
    ),
]
SAT_COLUMNS = [
    ("TotalAmount", "Decimal(10, 4)"),
    ("Quantity", "Int32"),
    ("ReturnStatus", "String"),
    ("LOAD_DATETIME", "DateTime"),
]


def _used_downstream(markdown: str) -> str:
    return markdown.split("## Used downstream\n\n", 1)[1].split("\n\n## ", 1)[0]


def _sat_invoice_page() -> str:
    names = [name for name, _ in SAT_COLUMNS]
    page = _page(
        "sat_invoice",
        columns=SAT_COLUMNS,
        column_uses=uses_by_column(DOWNSTREAM, "vault.sat_invoice", names),
    )
    return page.markdown(PageLinks({"fact_sales": uuid.UUID(int=5)}))


def test_each_column_says_what_downstream_uses_it_nearest_first_and_capped():
    """Before renaming a satellite's column, its page says which mart and quality columns
    are computed from it, each a click from the page that carries it on, which checks read
    them, and who may use them: the first few by name, then the rest behind a click
    (``and 2 more`` named none of them, and nothing in the UI listed them)."""
    section = _used_downstream(_sat_invoice_page())
    fact = f"/v2/artifacts/artifact/{uuid.UUID(int=5)}"
    summary = "/v2/artifacts/key/asset-sales-summary"
    rows = {line.split(" | ")[0].removeprefix("| "): line for line in section.split("\n")}
    assert rows["TotalAmount"] == (
        f"| TotalAmount | [marts.Fact_Sales.total_amount]({fact}), "
        f"[quality.sales_summary.min_total]({summary}), "
        f"[quality.sales_summary.max_total]({summary}), "
        f"[quality.sales_summary.avg_total]({summary}) "
        "<details><summary>and 2 more</summary>"
        f"[quality.sales_summary.median_total]({summary}), "
        f"[quality.sales_summary.volume]({summary})</details>"
        f"read by check [fact_sales.amount_positive]({fact}); "
        "maybe used by [anomaly_invoice](/v2/artifacts/key/asset-anomaly-invoice) |"
    )
    assert rows["Quantity"] == (
        f"| Quantity | [marts.Fact_Sales.quantity]({fact}); "
        "maybe used by [anomaly_invoice](/v2/artifacts/key/asset-anomaly-invoice) |"
    )


def test_what_uses_the_columns_is_a_click_away_saying_how_many_are_used():
    """The raw page's table of what uses each column took four of its six screens: behind
    a click saying how many columns it covers; the columns nothing reads, under it."""
    section = _used_downstream(_sat_invoice_page())
    lines = section.split("\n")
    summary = "<summary>What uses 3 of its 4 columns downstream</summary>"
    assert lines[:3] == ["<details>", summary, ""]
    closed = lines.index("</details>")
    assert lines[closed - 1] == "" and lines[closed - 2].startswith("| ReturnStatus |")
    assert lines[closed + 1 :] == ["", "Nothing downstream reads LOAD_DATETIME."]
    used = SAT_COLUMNS[:3]  # each read downstream
    page = _page(
        "sat_invoice",
        columns=used,
        column_uses=uses_by_column(DOWNSTREAM, "vault.sat_invoice", [name for name, _ in used]),
    )
    said = _used_downstream(page.markdown(PageLinks()))
    assert "<summary>What uses its 3 columns downstream</summary>" in said


def test_a_column_only_a_filter_reads_is_named_with_the_sql_that_reads_it():
    section = _used_downstream(_sat_invoice_page())
    fact = f"/v2/artifacts/artifact/{uuid.UUID(int=5)}"
    assert (
        f"| ReturnStatus | read by the SQL of [fact_sales]({fact}) (not into a column) |" in section
    )


def test_the_columns_nothing_downstream_reads_are_named_in_one_line():
    section = _used_downstream(_sat_invoice_page())
    assert "Nothing downstream reads LOAD_DATETIME." in section
    assert "| LOAD_DATETIME |" not in section
    assert "pipeline lineage --column vault.sat_invoice.<column> --downstream" in section
    assert "*maybe used by*" in section  # explained, since a row says it


def test_a_page_of_an_asset_nothing_reads_says_so_in_one_line():
    page = _page(
        "sales_summary",
        columns=[("volume", "Float64")],
        column_uses=uses_by_column(DOWNSTREAM, "quality.sales_summary", ["volume"]),
    )
    assert _used_downstream(page.markdown(PageLinks())) == (
        "Nothing downstream reads a column of sales_summary."
    )


def test_a_page_not_given_what_uses_its_columns_has_no_such_section():
    assert "## Used downstream" not in _page(columns=FACT_COLUMNS).markdown(PageLinks())


def _attempt(
    run: str, status: str, rows: int | None, ended: datetime, code: str = "c0ffee0123456789"
) -> MaterializationRecord:
    """An earlier attempt of fact_sales, as the history store returns it."""
    return MaterializationRecord(
        materialization_id=f"m-{run}",
        asset_key="fact_sales",
        table="marts.Fact_Sales",
        code_version=code,
        started=ended.replace(second=0),
        status=status,  # type: ignore[arg-type]
        run_id=run,
        rows=rows,
        ended=None if status == "started" else ended,
    )


#: fact_sales's records before this version's, newest first: a run that skipped it (an
#: upstream failed), one that failed its checks (it published 97,300 rows), one that
#: failed before publishing, one stopped mid-way (no outcome recorded) and a success.
EARLIER = EarlierAttempts(
    records=(
        _attempt("run-5", "skipped", None, datetime(2026, 12, 2, 19, 0, 0, tzinfo=UTC)),
        _attempt("run-4", "failed", 97_300, datetime(2026, 12, 2, 18, 0, 5, tzinfo=UTC)),
        _attempt("run-3", "failed", None, datetime(2026, 12, 2, 9, 30, 0, tzinfo=UTC)),
        _attempt("run-2", "started", None, datetime(2026, 12, 1, 23, 15, 0, tzinfo=UTC)),
        _attempt("run-0", "materialized", 97_000, datetime(2026, 12, 1, 7, 0, 3, tzinfo=UTC)),
    ),
    run_names={
        "run-5": "all assets",
        "run-4": "fact_sales+",
        "run-3": "all assets",
        "run-0": "key:hub_* or sinks(*)",
    },
)


def _history(markdown: str) -> list[str]:
    """The lines of a page's History section."""
    return markdown.split("## History\n\n", 1)[1].split("\n\n## ", 1)[0].split("\n")


def test_the_history_lists_this_version_then_the_earlier_attempts_each_linking_its_run():
    """The versions of a page (``/v2/artifacts/key/asset-fact-sales``) show only an id and
    the run's name, ``fact_sales+`` three times: each page lists the asset's last attempts,
    this version's marked, with what tells them apart (when each ended, how, the rows it
    left and the code it ran), a failure marked, and a skip listed as the version it is."""
    outcome = _page().materialization.outcome
    outcome.code_version = "feedfacecafebeef"
    markdown = _page(outcome=outcome, earlier=EARLIER).markdown(PageLinks())
    table = _history(markdown)[2:]
    assert table == [
        "| run | ended (UTC) | status | rows in table | code version |",
        "|---|---|---|--:|---|",
        "| **[fact_sales+](/v2/runs/flow-run/run-1)** (this version) | "
        "**2026\u201112\u201102\xa019:52:40** "
        "| **materialized** | **97,356** | **`feedface`** |",
        "| [all assets](/v2/runs/flow-run/run-5) | 2026\u201112\u201102\xa019:00:00 | skipped | "
        "unchanged "
        "| `c0ffee01` |",
        "| [fact_sales+](/v2/runs/flow-run/run-4) | 2026\u201112\u201102\xa018:00:05 | ✗ failed "
        "its checks "
        "| 97,300 | `c0ffee01` |",
        "| [all assets](/v2/runs/flow-run/run-3) | 2026\u201112\u201102\xa009:30:00 | ✗ failed | "
        "unchanged "
        "| `c0ffee01` |",
        # No name known for its run (deleted from the server): its id, shortened, links it.
        "| [run-2](/v2/runs/flow-run/run-2) | 2026\u201112\u201101\xa023:15:00 | did not finish | "
        "- "
        "| `c0ffee01` |",
        "| [key:hub_\\* or sinks(\\*)](/v2/runs/flow-run/run-0) | 2026\u201112\u201101\xa007:00:03 "
        "| materialized | 97,000 | `c0ffee01` |",
    ]
    # Where the section is: after this run's checks, and the lineage, before the SQL.
    assert markdown.index("## Checks") < markdown.index("## Lineage") < markdown.index("## History")
    # A run's name reads as typed, in the rendered page too.
    assert '<td><a href="/v2/runs/flow-run/run-0">key:hub_* or sinks(*)</a></td>' in rendered(
        markdown
    )


def test_a_long_run_name_is_cut_in_a_tables_run_cell_and_whole_in_its_link_title():
    """A rerun's selection as its run's name wrapped to three lines in the History and
    This run tables: a cell says its first words, the link's title (shown on hover) the
    whole name, as the run it opens does; the version line gives it whole."""
    earlier = EarlierAttempts(
        records=(_attempt("run-0", "failed", None, FINISHED.replace(hour=9)),),
        run_names={"run-0": LONG_RUN},
    )
    markdown = _page(run_name=LONG_RUN, earlier=earlier).markdown(PageLinks())
    short = "dim_customer or dim_product …"
    link = f'[{short}](/v2/runs/flow-run/run-1 "{LONG_RUN}")'
    assert f"| {link} | 2026\u201112\u201102\xa019:52:40 | 97,356 |" in markdown  # This run
    history = _history(markdown)
    assert history[4].startswith(f"| **{link}** (this version) | ")
    assert history[5].startswith(f'| [{short}](/v2/runs/flow-run/run-0 "{LONG_RUN}") | ')
    html_page = rendered(markdown)
    assert f'<a href="/v2/runs/flow-run/run-0" title="{LONG_RUN}">{short}</a>' in html_page
    # A name that fits is as it was, without a title; a cut one reads as typed too.
    assert "| [fact_sales+](/v2/runs/flow-run/run-1) | " in _page().markdown(PageLinks())
    starred = _page(run_name="key:hub_* or key:sat_* or key:link_* or sinks(*)")
    assert (
        "| [key:hub_\\* or key:sat_\\* or …](/v2/runs/flow-run/run-1 "
        '"key:hub_* or key:sat_* or key:link_* or sinks(*)") | '
    ) in starred.markdown(PageLinks())
    assert (
        '<a href="/v2/runs/flow-run/run-1" title="key:hub_* or key:sat_* or key:link_* or '
        'sinks(*)">key:hub_* or key:sat_* or …</a>'
    ) in rendered(starred.markdown(PageLinks()))
    # One word longer than the cell is cut inside it; a run without an id, not at all.
    word = "key:" + "a" * 40
    assert run_cell(word, "r") == f'[key:{"a" * 25}…](/v2/runs/flow-run/r "{word}")'
    assert run_cell(LONG_RUN, None) == LONG_RUN


def test_the_history_says_what_changed_since_the_previous_materialization():
    """One line a reviewer reads before the table: the code, the rows, and the checks that
    turned, against the previous attempt (a skip, since, changed nothing)."""
    outcome = _page().materialization.outcome
    outcome.code_version = "feedfacecafebeef"
    since = _history(_page(outcome=outcome, earlier=EARLIER).markdown(PageLinks()))[0]
    assert since == (
        "Since the previous materialization (2026\u201112\u201102\xa018:00:05\xa0UTC, failed its "
        "checks): "
        "code version changed (`c0ffee01` → `feedface`); rows 97,300 → 97,356 (+56); "
        "error-severity checks failed then, all pass now."
    )


def test_a_version_that_failed_its_checks_names_the_checks_that_turned():
    """After a success (every error-severity check passed), the checks that fail now are
    the ones that turned; the same code and fewer rows say the data changed."""
    outcome = _failed_checks(96_000)
    outcome.code_version = "c0ffee0123456789"
    previous = _attempt("run-0", "materialized", 97_000, datetime(2026, 12, 1, 7, 0, 3, tzinfo=UTC))
    earlier = EarlierAttempts(records=(previous,), run_names={})
    lines = _history(_page(outcome=outcome, earlier=earlier).markdown(PageLinks()))
    assert lines[0] == (
        "Since the previous materialization (2026\u201112\u201101\xa007:00:03\xa0UTC, "
        "materialized): "
        "code version unchanged; rows 97,000 → 96,000 (-1,000); error-severity checks "
        "passed then, now positive fails."
    )
    assert lines[4] == (
        "| **[fact_sales+](/v2/runs/flow-run/run-1)** (this version) | "
        "**2026\u201112\u201102\xa019:52:40** "
        "| **✗ failed its checks** | **96,000** | **`c0ffee01`** |"
    )


def test_a_version_that_published_nothing_says_the_table_was_left_as_it_was():
    outcome = AssetOutcome(
        "fact_sales",
        "marts.Fact_Sales",
        "failed",
        0.1,
        error="boom",
        code_version="c0ffee0123456789",
    )
    lines = _history(_page(outcome=outcome, earlier=EARLIER).markdown(PageLinks()))
    assert lines[0] == (
        "Since the previous materialization (2026\u201112\u201102\xa018:00:05\xa0UTC, failed its "
        "checks): "
        "code version unchanged; table left as it was."
    )
    assert "| **✗ failed** | **unchanged** |" in lines[4]


def test_the_first_materialization_says_there_was_none_before():
    markdown = _page(earlier=EarlierAttempts(records=(), run_names={})).markdown(PageLinks())
    lines = _history(markdown)
    assert lines[0] == "Since the previous materialization: none, the first in this warehouse."
    assert len(lines) == 5  # the line, a blank, the table's header and this version's row
    skipped = _attempt("run-5", "skipped", None, datetime(2026, 12, 2, 19, 0, 0, tzinfo=UTC))
    markdown = _page(earlier=EarlierAttempts(records=(skipped,))).markdown(PageLinks())
    assert _history(markdown)[0] == "Since the previous materialization: none in the runs below."


def test_storage_without_a_history_gives_no_history_section():
    assert "## History" not in _page().markdown(PageLinks())


def _outcomes(*statuses: str) -> list[AssetOutcome]:
    """The outcomes of a run's assets a relinked page links, by status (a result: its
    rows published, as an attempt failed by its checks publishes them)."""
    published = MaterializeResult("t.t", 1, 0.1)
    return [
        AssetOutcome(
            f"a{i}",
            "t.t",
            "failed" if s == "failed its checks" else s,
            0.1,
            published if s in ("materialized", "failed its checks") else None,
        )
        for i, s in enumerate(statuses)
    ]  # type: ignore[arg-type]


def test_a_relinked_page_says_plainly_which_run_rebuilt_what_it_links_and_when():
    """A page outside a run is rewritten in place to link that run's pages: it says so
    under its version line, in words a reader who never read the code follows ("Links
    updated by run ...: they lead to that run's pages of the assets it rebuilt" was
    not); a later relink replaces the line (one, the latest)."""
    written = _page().markdown(PageLinks())
    at = datetime(2026, 12, 3, 8, 15, 0, tzinfo=UTC)
    rebuilt = _outcomes("materialized", "materialized")
    relinked = with_links_updated(written, "key:hub_* or sinks(*)", "run-9", at, rebuilt)
    lines = relinked.split("\n")
    assert lines[2].startswith("**This version:** run [fact_sales+](/v2/runs/flow-run/run-1)")
    assert lines[3:6] == [
        "",
        "Since this version, run [key:hub_\\* or sinks(\\*)](/v2/runs/flow-run/run-9) "
        "rebuilt 2 assets this page links to (2026\u201112\u201103\xa008:15:00\xa0UTC): their "
        "links "
        "now open that run's pages.",
        "",
    ]
    assert relinked.replace(f"\n\n{lines[4]}", "", 1) == written
    again = with_links_updated(relinked, "b+", "run-10", at.replace(hour=9), rebuilt[:1])
    assert again.count("Since this version, run") == 1
    assert "Since this version, run [b+](/v2/runs/flow-run/run-10) rebuilt 1 asset " in again
    assert "(2026\u201112\u201103\xa009:15:00\xa0UTC)" in again


def test_a_relink_by_a_run_that_rebuilt_nothing_says_what_it_did():
    """After a run that rebuilt nothing (its one asset failed its checks, the rest were
    skipped), older pages said it "rebuilt some assets this page links to": the note
    counts what the run did to them."""
    written = _page().markdown(PageLinks())
    at = datetime(2026, 12, 3, 8, 15, 0, tzinfo=UTC)
    did = _outcomes("failed its checks", *["skipped"] * 6)
    note = with_links_updated(written, "fact_sales+", "run-9", at, did).split("\n")[4]
    assert note == (
        "Since this version, run [fact_sales+](/v2/runs/flow-run/run-9) wrote new pages of 7 "
        "assets this page links to (0 rebuilt, 1 failed its checks, 6 skipped; "
        "2026\u201112\u201103\xa008:15:00\xa0UTC): their links now open that run's pages."
    )
    did = _outcomes("materialized", "failed", "cancelled")
    note = with_links_updated(written, "b+", "run-9", at, did).split("\n")[4]
    assert "3 assets this page links to (1 rebuilt, 1 failed, 1 cancelled; " in note


def test_a_relink_replaces_the_note_a_page_was_given_in_the_old_words():
    """Pages relinked before the note was reworded say "Links updated by run ...": a
    later relink replaces that note too, rather than add a second one."""
    old = (
        "Links updated by run [a+](/v2/runs/flow-run/run-8) at 2026-12-03 07:00:00 UTC: "
        "they lead to that run's pages of the assets it rebuilt."
    )
    written = _page().markdown(PageLinks()).split("\n")
    written[3:3] = ["", old]
    at = datetime(2026, 12, 3, 8, 15, 0, tzinfo=UTC)
    relinked = with_links_updated("\n".join(written), "b+", "run-9", at, _outcomes("materialized"))
    assert "Links updated by run" not in relinked
    assert relinked.count("Since this version, run [b+]") == 1


def test_a_relink_puts_its_note_under_a_version_line_in_the_old_words():
    """Pages written before the version line was reworded (``This version: run ...,
    <time>. [Every version, newest first](...)``) stay on the server: a relink puts its
    note under that line too, not above it under the title."""
    written = _page().markdown(PageLinks()).split("\n")
    written[2] = (
        "This version: run [fact_sales+](/v2/runs/flow-run/run-1), 2026-12-02 19:52:40 UTC. "
        "[Every version, newest first](/v2/artifacts/key/asset-fact-sales)."
    )
    at = datetime(2026, 12, 3, 8, 15, 0, tzinfo=UTC)
    relinked = with_links_updated("\n".join(written), "b+", "run-9", at, _outcomes("materialized"))
    lines = relinked.split("\n")
    assert lines[2] == written[2]
    assert lines[4].startswith("Since this version, run [b+]")


def _clicks(mermaid: str) -> dict[str, str]:
    """Each ``click <node> "<href>"`` of a flowchart: the page a click on a box opens."""
    return dict(re.findall(r'^\s+click (\w+) "([^"]+)"$', mermaid, re.M))


def _nodes(mermaid: str) -> list[str]:
    return re.findall(r"^\s+(\w+)\[", mermaid, re.M)


def test_each_box_of_an_asset_pages_diagram_opens_that_assets_page():
    """The boxes are where a reader's eye is: a click on one opens that asset's page, as
    its link in the list under the diagram does (the Prefect UI's Mermaid follows a
    ``click`` link, measured in tests/test_lineage_ui.py). The asset itself and the
    boxes counting assets further away open nothing."""
    version = uuid.uuid4()
    links = PageLinks(versions={"sat_invoice": version})
    (diagram,) = mermaid_blocks(_page().markdown(links))
    clicks = _clicks(diagram)
    neighbours = set(GRAPH["fact_sales"].deps) | set(GRAPH.dag.successors("fact_sales"))
    assert set(clicks) == neighbours
    assert clicks["sat_invoice"] == f"/v2/artifacts/artifact/{version}"
    assert clicks["data_quality"] == "/v2/artifacts/key/asset-data-quality"  # no page yet
    assert {key: links.href(key) for key in neighbours} == clicks


def test_each_box_of_a_run_diagram_opens_that_assets_page():
    """The run's lineage said "Each asset links to its page" above diagrams whose boxes
    opened nothing; the links were in the table ~8 screens down."""
    version = uuid.uuid4()
    links = PageLinks(versions={"fact_sales": version})
    selected = ["fact_sales", "fact_sale_returns", "sales_summary"]
    diagrams = layer_diagrams(GRAPH, selected, href=links.href)
    for diagram in diagrams:
        assert _clicks(diagram.mermaid) == {k: links.href(k) for k in _nodes(diagram.mermaid)}
    assert f'click fact_sales "/v2/artifacts/artifact/{version}"' in "".join(
        d.mermaid for d in diagrams
    )


def _column_of_assets(mermaid: str, key: str) -> tuple[list[str], list[str]]:
    """The assets drawn left of ``key`` and right of it in a focused diagram."""
    edges = edges_in(mermaid)
    return [a for a, b in edges if b == key], [b for a, b in edges if a == key]


def test_no_column_of_an_asset_pages_diagram_holds_more_than_max_column_assets():
    """The PSA's 14 readers in one column drew a diagram 1,092 px tall, which a 1000 px
    window cannot show whole: as on the run's page, a column holds at most
    :data:`MAX_COLUMN` assets, a longer one is cut in even pieces, one diagram each, the
    asset in every one; every neighbour and edge is drawn once."""
    retail = load_definitions("assets").graph()
    for key in retail.specs:
        diagrams = focused_diagrams(retail, key)
        up, down = set(retail[key].deps), set(retail.dag.successors(key))
        drawn_up: list[str] = []
        drawn_down: list[str] = []
        for diagram in diagrams:
            left, right = _column_of_assets(diagram, key)
            assert len(left) <= FOCUS_COLUMN and len(right) <= FOCUS_COLUMN, key
            drawn_up += left
            drawn_down += right
        assert sorted(drawn_up) == sorted(up) and sorted(drawn_down) == sorted(down), key
    psa = focused_diagrams(retail, "psa_online_retails")
    # 16 readers and the count of those further away: 7 a column at most, in even pieces
    assert [len(_column_of_assets(d, "psa_online_retails")[1]) for d in psa] == [6, 6, 4]
    assert ["0_more_downstream" in diagram for diagram in psa] == [False, False, True]
    facts = focused_diagrams(retail, "fact_sales")  # its 11 inputs do not fit one column
    assert [len(_column_of_assets(d, "fact_sales")[0]) for d in facts] == [6, 5]


def test_an_asset_page_says_its_neighbours_take_several_diagrams():
    retail = load_definitions("assets").graph()
    outcome = AssetOutcome("psa_online_retails", "raw.psa_online_retails", "materialized", 0.1)
    page = AssetPage(
        spec=retail["psa_online_retails"],
        graph=retail,
        materialization=Materialization(outcome, "run-1", "all assets", FINISHED),
    ).markdown(PageLinks())
    assert len(mermaid_blocks(page)) == 3
    guide = page.split("## Lineage\n\n", 1)[1].split("```mermaid", 1)[0]
    assert (
        "Its 16 direct downstream assets take 3 diagrams, at most 8 to a column with the "
        "count of those further away, so that each fits the window." in guide
    ), guide


def _ingest_page(source: ChosenSource | None, result: MaterializeResult | None) -> str:
    spec = GRAPH["raw_online_retails"]
    status = "materialized" if result else "failed"
    outcome = AssetOutcome(spec.key, spec.table, status, 0.4, result, error=None)
    materialization = Materialization(outcome, "run-1", "all assets", FINISHED, source=source)
    return AssetPage(spec=spec, graph=GRAPH, materialization=materialization).markdown(PageLinks())


def _this_run(markdown: str) -> str:
    return markdown.split("## This run: ", 1)[1].split("\n## ", 1)[0]


def test_an_ingest_assets_page_names_the_source_this_run_read_and_its_rows():
    """A run given no ``--source`` loads the default: the page said nothing of it, so a
    reader could not tell 100,000 generated rows from the UCI file. It names the source
    and what chose it, and the rows read from it (the rows staged, before validation)."""
    result = MaterializeResult(
        "raw.online_retails", 100_000, 0.4, inserted_rows=None, metadata={STAGED_ROWS: 100_000}
    )
    default = _this_run(_ingest_page(ChosenSource("synthetic:100000", ""), result))
    assert (
        "\nSource: `synthetic:100000` (the default: this run named no source); "
        "100,000 rows read.\n" in default
    )
    named = _this_run(_ingest_page(ChosenSource("/data/retail.csv", "--source"), result))
    assert "\nSource: `/data/retail.csv` (given by `--source`); 100,000 rows read.\n" in named
    env = _this_run(_ingest_page(ChosenSource("https://h/x.csv", "ONLINE_RETAIL_DATA_URL"), None))
    assert "\nSource: `https://h/x.csv` (from `$ONLINE_RETAIL_DATA_URL`).\n" in env
    assert "Source:" not in _this_run(_ingest_page(None, result))


def test_the_source_a_page_names_holds_placeholders_for_its_secrets():
    """Everyone with access to the UI reads the pages: a URL's user, password and query
    string (a presigned token) are never on one. They stand there as the ``Next:``
    command's ``--source`` holds them: the URL dropped them silently, and read as whole."""
    url = "https://alice:s3cr3t@data.example/retail.csv?X-Amz-Signature=abc"
    fingerprint = SourceFingerprint(
        lambda params: "x", chosen_by=lambda params: "--source", named=lambda params: url
    )
    assert chosen_source(fingerprint, {"source": url}) == ChosenSource(
        "https://USER:PASSWORD@data.example/retail.csv?QUERY", "--source"
    )
    assert chosen_source(lambda params: "x", {}) is None  # a plain function names no source


def _fact_sales_uses(checks: tuple[AssetCheckResult, ...]) -> str:
    """fact_sales's page, whose total_amount its own check amount_positive reads."""
    spec = GRAPH["fact_sales"]
    result = MaterializeResult(table=spec.table, rows=10, seconds=0.5)
    status = "materialized" if checks else "skipped"
    outcome = AssetOutcome("fact_sales", spec.table, status, 0.5, result, checks=checks)
    page = _page(
        outcome=outcome,
        columns=[("total_amount", "Decimal(10, 4)")],
        column_uses=uses_by_column(DOWNSTREAM, "marts.Fact_Sales", ["total_amount"]),
    )
    return page.markdown(PageLinks({"fact_sales": uuid.UUID(int=5)}))


def test_a_check_of_the_page_it_is_on_links_its_row_of_the_checks_table():
    """A link to the page's own version reloaded it at its top (the UI scrolls to no
    other page's anchor, but follows one on the page it shows): the check's row carries
    an anchor, and the check's name in *Used downstream* jumps to it."""
    passed = AssetCheckResult("fact_sales", "marts.Fact_Sales", "amount_positive", "error", True, 0)
    markdown = _fact_sales_uses((passed,))
    assert "read by check [fact_sales.amount_positive](#check-amount_positive)" in markdown
    checks = markdown.split("## Checks\n\n", 1)[1].split("\n\n", 1)[0]
    assert '| <a id="check-amount_positive"></a>amount_positive |' in checks
    page = rendered(markdown)
    assert '<a href="#check-amount_positive">fact_sales.amount_positive</a>' in page
    assert '<td><a id="check-amount_positive"></a>amount_positive</td>' in page


def test_a_check_of_the_page_it_is_on_that_did_not_run_is_named_where_its_row_would_be():
    """A skipped attempt's page has no Checks table to jump to, nor another page to open."""
    markdown = _fact_sales_uses(())
    assert "read by check fact_sales.amount_positive (not run by this attempt)" in markdown
    assert "#check-" not in markdown


def test_a_column_links_guide_says_where_on_the_opened_page_the_column_is():
    """A link to another page opens it at its top: the guide says which table and row."""
    markdown = _page(columns=FACT_COLUMNS, column_sources=CHAIN[-1].columns).markdown(PageLinks())
    columns = markdown.split("## Columns\n\n", 1)[1].split("\n\n## ", 1)[0]
    assert COLUMN_LINKS in columns.split("\n\n", 1)[0]


def test_columns_come_after_this_run_and_checks_and_before_the_lineage_and_history():
    """Columns, a key reason to open the page, was on its fifth screen of five, after the
    History, a paragraph of legend, two diagrams and the versions read."""
    markdown = _page(
        columns=FACT_COLUMNS,
        column_sources=CHAIN[-1].columns,
        earlier=EarlierAttempts(()),
    ).markdown(PageLinks())
    headings = [line for line in markdown.split("\n") if line.startswith("## ")]
    order = ["## This run", "## Checks", "## Columns", "## Lineage", "## History", "## Python"]
    assert [next(h for h in headings if h.startswith(o)) for o in order] == [
        h for h in headings if h.startswith(tuple(order))
    ]


def test_the_lineage_legend_is_one_line_before_the_diagrams_the_rest_a_click_away():
    """The eleven-line legend preceded the diagrams on every page: one line stays above
    them; what the lines, boxes and marks mean opens on a click."""
    retail = load_definitions("assets").graph()
    outcome = AssetOutcome("fact_sales", "marts.Fact_Sales", "materialized", 0.1)
    markdown = AssetPage(
        spec=retail["fact_sales"],
        graph=retail,
        materialization=Materialization(outcome, "run-1", "all assets", FINISHED),
    ).markdown(PageLinks())
    section = markdown.split("## Lineage\n\n", 1)[1]
    above = section.split("```mermaid", 1)[0].split("\n")
    assert above[0] == (
        "20 upstream and 6 downstream assets. Left: what fact_sales reads directly; right: "
        "what reads fact_sales directly. A click on a box opens its page."
    )
    assert above[2:4] == ["<details>", f"<summary>{LEGEND}</summary>"]
    folded = "\n".join(above[4:])
    assert "A purple dotted line labelled *checked against*" in folded
    assert "*order only* marks" in folded
