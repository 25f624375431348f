"""The scheduled materialization: deployment, schedule, parameters, prefect.yaml.

Serving and a work-pool worker are exercised end to end against a real server in
tests/test_lineage_ui.py; these tests pin the declarations and run the deployment's
flow directly, checking its tasks belong to its own run (not a subflow).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import typer
import yaml

from orchestration import deployment, serving
from orchestration.cli import app
from orchestration.commands import serve as serve_command
from orchestration.commands.serve import cron_fault

REPO = Path(__file__).resolve().parents[1]
SERVED = ("--definitions", "tests.serve_location")


def serve_against_a_closed_prefect_port(*args: str) -> subprocess.CompletedProcess[str]:
    """``pipeline serve`` with a Prefect API nothing answers at: what it checks before
    Prefect fails first; getting as far as Prefect fails differently."""
    return subprocess.run(
        [sys.executable, "-m", "orchestration", "serve", *args, *SERVED],
        cwd=REPO,
        env={**os.environ, "PREFECT_API_URL": "http://127.0.0.1:9/api"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def closed_clickhouse() -> str:
    """A ClickHouse URL nothing listens at: a serve that gets past its command line
    fails on it at once, in one line, before Prefect is contacted."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    return f"clickhouse://etl:secret-pw@127.0.0.1:{closed}/?connect_timeout=5"


def test_default_deployment_runs_everything_daily_at_midnight_utc():
    built = deployment.build_deployment()
    (schedule,) = built.schedules
    assert schedule.schedule.cron == "0 0 * * *"
    assert schedule.schedule.timezone == "UTC"
    assert schedule.active
    assert built.parameters == {"select": "", "source": "", "source_encoding": ""}
    assert (built.flow_name, built.name) == ("materialize-assets", "daily")
    assert built.entrypoint == "orchestration.deployment.materialize_assets"


def test_selection_source_and_schedule_are_deployment_settings():
    built = deployment.build_deployment(
        name="hourly-marts",
        cron="15 * * * *",
        timezone="Europe/London",
        select="group:marts",
        source="data/data.csv",
        source_encoding="latin-1",
        work_pool_name="retail-process",
    )
    (schedule,) = built.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone) == ("15 * * * *", "Europe/London")
    assert built.parameters == {
        "select": "group:marts",
        "source": "data/data.csv",
        "source_encoding": "latin-1",
    }
    assert built.work_pool_name == "retail-process"


def test_flow_parameters_are_exactly_select_source_and_its_encoding():
    schema = deployment.materialize_assets.parameters
    assert set(schema.properties) == {"select", "source", "source_encoding"}
    assert schema.required == []


def test_the_custom_run_form_explains_each_parameter_in_a_plain_text_box():
    """The UI's Custom run form showed each parameter as a str/None switch set to None,
    with "Property is type None" and no word of what it is: now a text box, empty for the
    default, under a line saying what it takes. Both ways Prefect reads the flow: loaded
    (``pipeline serve``) and from its source file (``prefect deploy``)."""
    from prefect.utilities.callables import parameter_schema_from_entrypoint

    from_source = parameter_schema_from_entrypoint(str(REPO / deployment.ENTRYPOINT))
    for schema in (deployment.materialize_assets.parameters, from_source):
        for name, words in PARAMETER_WORDS.items():
            field = schema.properties[name]
            assert (field["type"], field["default"]) == ("string", ""), (name, field)
            assert words in field["description"], (name, field)
            assert "`" not in field["description"]  # the form shows text, not Markdown


#: A few words each parameter's description must hold.
PARAMETER_WORDS = {
    "select": "empty: every asset",
    "source": "synthetic:ROWS:SEED",
    "source_encoding": "latin-1",
}


@pytest.mark.usefixtures("prefect_server")
def test_a_run_created_before_the_parameters_were_text_still_runs(tmp_path, monkeypatch):
    """Runs a schedule created before (and deployments registered before, prefect.yaml's
    included) hold null for an empty parameter: they must not fail Prefect's check of
    their parameters against the flow's."""
    monkeypatch.setenv("PIPELINE_DEFINITIONS", "tests.serve_location")
    monkeypatch.setenv("WAREHOUSE_URL", f"chdb://{tmp_path / 'warehouse'}")

    state = deployment.materialize_assets(
        select=None, source="synthetic:2", source_encoding=None, return_state=True
    )

    assert state.is_completed(), state.message


def test_the_served_deployment_runs_one_run_at_a_time():
    """``pipeline serve`` limits its own runner to one run at a time, but a second serve
    of the deployment (or a worker) is another runner: on a ClickHouse server (no
    warehouse lock) two runs wrote the same tables at once. The deployment's own limit
    holds across runners; a run that finds one running waits for it (ENQUEUE), as
    prefect.yaml's does, rather than be cancelled."""
    from prefect.client.schemas.objects import ConcurrencyLimitStrategy

    built = deployment.build_deployment()
    assert built.concurrency_limit == 1
    assert built.concurrency_options is not None
    assert built.concurrency_options.collision_strategy is ConcurrencyLimitStrategy.ENQUEUE


def test_cli_defaults_agree_with_the_deployment_module():
    assert serve_command.DEFAULT_CRON == deployment.DEFAULT_CRON
    assert serve_command.DEFAULT_TIMEZONE == deployment.DEFAULT_TIMEZONE
    assert serve_command.DEFAULT_DEPLOYMENT_NAME == deployment.DEFAULT_DEPLOYMENT_NAME


def test_prefect_yaml_describes_the_same_deployment():
    from prefect.flows import load_flow_from_entrypoint

    config = yaml.safe_load((REPO / "prefect.yaml").read_text())
    (entry,) = config["deployments"]
    assert entry["name"] == deployment.DEFAULT_DEPLOYMENT_NAME
    assert entry["entrypoint"] == deployment.ENTRYPOINT
    assert entry["parameters"] == {"select": "", "source": "", "source_encoding": ""}
    assert entry["concurrency_limit"] == {"limit": 1, "collision_strategy": "ENQUEUE"}
    (schedule,) = entry["schedules"]
    assert (schedule["cron"], schedule["timezone"]) == (
        deployment.DEFAULT_CRON,
        deployment.DEFAULT_TIMEZONE,
    )
    assert entry["work_pool"]["name"]
    loaded = load_flow_from_entrypoint(str(REPO / deployment.ENTRYPOINT))
    assert loaded.name == deployment.FLOW_NAME


def test_serve_rejects_a_bad_selection_before_registering_anything():
    result = serve_against_a_closed_prefect_port("--select", "key:no_such_asset")
    assert result.returncode == 2
    assert "no_such_asset" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_rejects_a_warehouse_it_cannot_reach_before_registering_anything():
    """A wrong host or password would otherwise be found at the first scheduled run,
    hours after the user walked away from a `serve` that looked fine."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    warehouse = f"clickhouse://etl:secret-pw@127.0.0.1:{closed}/?connect_timeout=5"
    result = serve_against_a_closed_prefect_port("--warehouse", warehouse)
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: cannot connect to ClickHouse at 127.0.0.1:{closed}"), line
    assert "connection refused" in line
    assert "secret-pw" not in result.stderr + result.stdout


@pytest.mark.usefixtures("prefect_server")
def test_serve_says_when_its_embedded_warehouse_does_not_exist_yet(tmp_path, monkeypatch, capsys):
    """Said once the Prefect API answered (beside an error it would be a second line);
    serving itself, Prefect's loop, is left out: it runs until interrupted."""
    from orchestration.definitions import DEFINITIONS_ENV

    served = []
    monkeypatch.setattr(serving, "serve", served.append)
    missing = tmp_path / "typo"
    # serve sets these for its runs: set here first, so they are unset again afterwards
    # (a later test's `pipeline` process would otherwise read this location and warehouse).
    monkeypatch.setenv(DEFINITIONS_ENV, "tests.serve_location")
    monkeypatch.setenv(serve_command.WAREHOUSE_ENV, f"chdb://{missing}")

    without_debug = typer.Context(typer.main.get_command(app))  # `pipeline serve`: no --debug
    serve_command.serve(
        without_debug, warehouse=f"chdb://{missing}", definitions="tests.serve_location"
    )

    assert capsys.readouterr().err.splitlines() == [
        f"no warehouse at {missing} yet: the first run creates it "
        "(check --warehouse if it should exist)"
    ]
    assert len(served) == 1
    assert not missing.exists()


@pytest.mark.usefixtures("prefect_server")
def test_serve_with_debug_hands_it_on_to_the_runs_it_starts(tmp_path, monkeypatch):
    """A run is a process of Prefect's own that inherits serve's environment: `pipeline
    --debug serve` shows Prefect's tracebacks in its runs' log too (orchestration.debug_env)."""
    from orchestration.debug_env import DEBUG_ENV, debug_asked
    from orchestration.definitions import DEFINITIONS_ENV

    asked_in_runs = []
    monkeypatch.setattr(
        serving, "serve", lambda *_a, **_k: asked_in_runs.append(debug_asked(os.environ))
    )
    for name in (DEFINITIONS_ENV, serve_command.WAREHOUSE_ENV, DEBUG_ENV):
        monkeypatch.setenv(name, "")  # unset again afterwards, as serve sets them
    with_debug = typer.Context(typer.main.get_command(app), obj={"debug": True})
    warehouse = f"chdb://{tmp_path / 'wh'}"
    serve_command.serve(with_debug, warehouse=warehouse, definitions="tests.serve_location")

    assert asked_in_runs == [True]


@pytest.mark.usefixtures("prefect_server")
def test_serve_hands_the_source_encoding_to_its_runs_as_a_parameter(tmp_path, monkeypatch):
    """As --source is handed: a deployment parameter, shown in the UI and editable on
    "Run with parameters", which the runs give the ingest asset."""
    from orchestration.definitions import DEFINITIONS_ENV

    served = []
    monkeypatch.setattr(serving, "serve", served.append)
    for name in (DEFINITIONS_ENV, serve_command.WAREHOUSE_ENV):
        monkeypatch.setenv(name, "")  # unset again afterwards, as serve sets them
    serve_command.serve(
        typer.Context(typer.main.get_command(app)),
        source="data/data.csv",
        source_encoding="latin-1",
        warehouse=f"chdb://{tmp_path / 'wh'}",
        definitions="tests.serve_location",
    )

    [built] = served
    assert built.parameters == {
        "select": "",
        "source": "data/data.csv",
        "source_encoding": "latin-1",
    }


def test_the_serve_test_above_leaves_no_location_or_warehouse_in_the_environment():
    from orchestration.definitions import DEFINITIONS_ENV

    assert os.environ.get(DEFINITIONS_ENV) != "tests.serve_location"
    assert "typo" not in os.environ.get(serve_command.WAREHOUSE_ENV, "")


def test_serve_rejects_an_unknown_time_zone_in_one_line_naming_the_option():
    result = serve_against_a_closed_prefect_port("--timezone", "Mars/Base")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: Invalid value for '--timezone': 'Mars/Base' is not an IANA time zone "
        "(such as UTC or Europe/London) (see 'pipeline serve --help')"
    ]
    assert "pydantic" not in result.stderr and "Traceback" not in result.stderr


CRON_HINT = "(five fields: minute hour day-of-month month day-of-week, e.g. '0 0 * * *')"


def test_serve_rejects_a_bad_cron_expression_first_in_one_line_naming_the_option():
    """A usage error, exit 2, like a bad --timezone: before, Prefect refused it once the
    warehouse had been reached and the API contacted, as an unforeseen error (exit 1,
    "run with --debug for the traceback"). The warehouse nothing listens at shows it is
    checked first: reaching it would fail differently."""
    result = serve_against_a_closed_prefect_port(
        "--cron", "61 * * * *", "--warehouse", closed_clickhouse()
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        "error: Invalid value for '--cron': '61 * * * *' is not a cron expression: its minute, "
        f"'61', is not one (0-59) {CRON_HINT} (see 'pipeline serve --help')"
    ]


@pytest.mark.parametrize(
    ("cron", "why"),
    [
        ("0 25 * * *", "its hour, '25', is not one (0-23)"),
        ("0 0 * * 8", "its day-of-week, '8', is not one (0-6 or sun-sat)"),
        ("0 0 * *", "it has 4 fields"),
    ],
)
def test_a_bad_cron_expression_names_the_field_the_schedule_refuses(cron, why):
    """Prefect's check says only "Invalid cron string": which of five fields was wrong
    was left to the reader. Each field is asked of the same parser alone."""
    assert cron_fault(cron) == why


@pytest.mark.parametrize("cron", ["0 0 * *", "0 0 * * 8", "@reboot", "R 0 * * *", ""])
def test_serve_refuses_on_its_command_line_what_prefects_schedule_refuses(cron):
    from prefect.schedules import Cron

    with pytest.raises(ValueError):
        Cron(cron, timezone="UTC")
    result = serve_against_a_closed_prefect_port("--cron", cron, "--warehouse", closed_clickhouse())
    assert result.returncode == 2, result.stderr
    why = cron_fault(cron)
    assert why
    assert result.stderr.splitlines() == [
        f"error: Invalid value for '--cron': {cron!r} is not a cron expression: {why} "
        f"{CRON_HINT} (see 'pipeline serve --help')"
    ]


@pytest.mark.parametrize("cron", ["@daily", "0 2 * * * 30", "*/15 9-17 * * mon-fri", "0 0 L * *"])
def test_serve_accepts_what_prefects_schedule_accepts(cron):
    """Six fields (seconds last, as Prefect's croniter reads them), @daily and the rest:
    what Prefect schedules, the command line lets through (to the warehouse check here)."""
    assert deployment.build_deployment(cron=cron).schedules[0].schedule.cron == cron
    result = serve_against_a_closed_prefect_port("--cron", cron, "--warehouse", closed_clickhouse())
    assert result.returncode == 1, result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith("error: cannot connect to ClickHouse at 127.0.0.1:"), line


def test_serve_rejects_an_unknown_source_encoding_in_one_line_naming_the_option():
    result = serve_against_a_closed_prefect_port("--source-encoding", "klingon")
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("error: Invalid value for '--source-encoding': 'klingon': not a text ")
    assert "Traceback" not in result.stderr


def test_serve_checks_the_source_timeout_as_materialize_does():
    result = serve_against_a_closed_prefect_port("--source-timeout", "0")
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        "error: Invalid value for '--source-timeout': Input should be greater than or equal "
        "to 0.001 (see 'pipeline serve --help')"
    ]


@pytest.mark.usefixtures("prefect_server")
def test_deployment_flow_runs_one_task_per_asset_in_its_own_run(tmp_path, monkeypatch):
    from prefect import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowRunFilter,
        FlowRunFilterId,
        FlowRunFilterParentFlowRunId,
    )

    monkeypatch.setenv("PIPELINE_DEFINITIONS", "tests.serve_location")
    monkeypatch.setenv("WAREHOUSE_URL", f"chdb://{tmp_path / 'warehouse'}")
    state = deployment.materialize_assets(source="synthetic:5", return_state=True)

    assert state.is_completed(), state.message
    flow_run_id = state.state_details.flow_run_id
    run_filter = FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
    with get_client(sync_client=True) as client:
        # Prefect 3 records task runs from their events, asynchronously: poll briefly.
        deadline = time.monotonic() + 60
        while len(task_runs := client.read_task_runs(flow_run_filter=run_filter)) < 2:
            assert time.monotonic() < deadline, f"task runs never recorded: {task_runs}"
            time.sleep(0.5)
        subflows = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[flow_run_id])
            )
        )
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    assert sorted(t.name for t in task_runs) == ["numbers", "numbers_total"]
    assert subflows == []
    by_key = {a.key: a for a in artifacts}
    assert sorted(by_key) == ["asset-lineage", "asset-numbers", "asset-numbers-total"]
    assert "| served.numbers | 5 | 5 |" in by_key["asset-lineage"].data
    assert by_key["asset-numbers"].task_run_id in {t.id for t in task_runs}


@pytest.mark.usefixtures("prefect_server")
def test_scheduled_status_selection_builds_what_is_missing_then_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("PIPELINE_DEFINITIONS", "tests.serve_location")
    monkeypatch.setenv("WAREHOUSE_URL", f"chdb://{tmp_path / 'warehouse'}")
    select = "status:stale+ or status:missing+"
    first = deployment.materialize_assets(select=select, source="synthetic:5", return_state=True)
    assert first.is_completed(), first.message
    assert first.message == "2 materialized"
    again = deployment.materialize_assets(select=select, source="synthetic:5", return_state=True)
    assert again.is_completed()
    assert again.message == "nothing to materialize"


@pytest.mark.usefixtures("prefect_server")
def test_a_scheduled_run_reading_upstream_never_built_fails_before_any_work(tmp_path, monkeypatch):
    """As ``pipeline materialize`` does: planned on readers, so the refusal comes before
    the run would create a new embedded warehouse (or apply the DDL to a server)."""
    monkeypatch.setenv("PIPELINE_DEFINITIONS", "tests.serve_location")
    monkeypatch.setenv("WAREHOUSE_URL", f"chdb://{tmp_path / 'warehouse'}")
    state = deployment.materialize_assets(
        select="numbers_total", source="synthetic:5", return_state=True
    )
    assert state.is_failed()
    assert "never materialized in this warehouse; 'numbers_total or numbers' builds it too" in (
        state.message or ""
    )
    assert not (tmp_path / "warehouse").exists(), "a refused run creates no warehouse"


def test_a_source_url_with_secrets_is_served_through_the_environment_not_a_parameter(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Deployment parameters are shown in the Prefect UI: a token there is a leak."""
    # Set first, so that what deployment_source sets is unset again afterwards (delenv of
    # an unset variable records nothing to restore).
    monkeypatch.setenv(deployment.SOURCE_ENV, "")
    secret_url = "https://bob:hunter2@data.example/retail.csv?token=abc123"

    assert serve_command.deployment_source(secret_url) is None
    assert os.environ[deployment.SOURCE_ENV] == secret_url
    said = capsys.readouterr().err
    assert "https://data.example/retail.csv" in said and deployment.SOURCE_ENV in said
    assert "hunter2" not in said and "abc123" not in said
    for plain in ("synthetic:5", "data/online_retail.csv", "https://data.example/x.csv", None):
        assert serve_command.deployment_source(plain) == plain


@pytest.mark.usefixtures("prefect_server")
def test_a_served_run_without_a_source_parameter_reads_the_environments(tmp_path, monkeypatch):
    monkeypatch.setenv("PIPELINE_DEFINITIONS", "tests.serve_location")
    monkeypatch.setenv("WAREHOUSE_URL", f"chdb://{tmp_path / 'warehouse'}")
    monkeypatch.setenv(deployment.SOURCE_ENV, "synthetic:7")

    state = deployment.materialize_assets(return_state=True)

    assert state.is_completed(), state.message
    from io_managers import ClickHouseIOManager

    with ClickHouseIOManager.embedded(tmp_path / "warehouse") as warehouse:
        assert warehouse.row_count("served.numbers") == 7


#: Two rows of Online Retail with an accented description, to be written as Latin-1.
RETAIL_CSV = (
    "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country\n"
    "536365,71053,WHITE MÉTAL LANTERN,6,12/1/2010 8:26,3.39,17850,United Kingdom\n"
    "536366,22633,HAND WARMER,6,12/1/2010 8:28,1.85,,France\n"
)


@pytest.mark.usefixtures("prefect_server")
def test_a_served_run_reads_its_source_in_the_encoding_its_parameter_names(tmp_path, monkeypatch):
    from assets.sources import SOURCE_ENCODING_ENV
    from io_managers import ClickHouseIOManager

    monkeypatch.setenv("PIPELINE_DEFINITIONS", "assets")
    monkeypatch.setenv("WAREHOUSE_URL", f"chdb://{tmp_path / 'warehouse'}")
    monkeypatch.delenv(SOURCE_ENCODING_ENV, raising=False)
    source = tmp_path / "data.csv"
    source.write_bytes(RETAIL_CSV.encode("latin-1"))

    state = deployment.materialize_assets(
        select="raw_online_retails",
        source=str(source),
        source_encoding="latin-1",
        return_state=True,
    )

    assert state.is_completed(), state.message
    with ClickHouseIOManager.embedded(tmp_path / "warehouse") as warehouse:
        read = warehouse.query_arrow(
            "SELECT Description FROM raw.online_retails WHERE StockCode = '71053'"
        ).to_pylist()
    assert read == [{"Description": "WHITE MÉTAL LANTERN"}]


@pytest.mark.usefixtures("prefect_server")
def test_a_served_run_given_an_unknown_encoding_fails_before_any_work(tmp_path, monkeypatch):
    """The UI's "Run with parameters" takes any text: a typo there is the run's one-line
    failure, before the warehouse is opened, not an ingest asset's error."""
    monkeypatch.setenv("PIPELINE_DEFINITIONS", "tests.serve_location")
    monkeypatch.setenv("WAREHOUSE_URL", f"chdb://{tmp_path / 'warehouse'}")

    state = deployment.materialize_assets(
        source="synthetic:5", source_encoding="klingon", return_state=True
    )

    assert state.is_failed()
    assert state.message == (
        "source_encoding='klingon': not a text encoding Python knows "
        "(such as utf-8, latin-1, cp1252, utf-16)"
    )
    assert not (tmp_path / "warehouse").exists()


@pytest.mark.usefixtures("prefect_server")
def test_a_served_run_given_a_timeout_that_is_no_number_fails_before_any_work(
    tmp_path, monkeypatch
):
    """``pipeline serve`` checks the timeout it hands on; one set by hand in a worker's
    environment is checked by the run, in one line naming the variable."""
    monkeypatch.setenv("PIPELINE_DEFINITIONS", "tests.serve_location")
    monkeypatch.setenv("WAREHOUSE_URL", f"chdb://{tmp_path / 'warehouse'}")
    monkeypatch.setenv(deployment.SOURCE_TIMEOUT_ENV, "soon")

    state = deployment.materialize_assets(source="synthetic:5", return_state=True)

    assert state.is_failed()
    assert state.message == (
        "PIPELINE_SOURCE_TIMEOUT='soon': not a number of seconds of at least 0.001"
    )
    assert not (tmp_path / "warehouse").exists()
