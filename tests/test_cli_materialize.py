"""``pipeline materialize`` end to end as a user runs it: a real process, a real Prefect
server, the embedded warehouse, and what the person at the terminal reads.

A failed run must say, in one line per failed asset, which file, row, column and value
broke it, then show the report, and exit non-zero, with no traceback unless asked for.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from orchestration import local_server
from tests.hand_written_zip import write_zip
from tests.prefect_api import api
from tests.retail_support import http_server
from tests.test_cli import failure_of

REPO = Path(__file__).resolve().parents[1]
REAL_SAMPLE = REPO / "tests" / "fixtures" / "online_retail_real_sample.csv"


def materialize(
    *args: str, env: dict[str, str], tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestration", "materialize", *args,
         "--warehouse", f"chdb://{tmp_path / 'warehouse'}"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )  # fmt: skip


def default_path_env(home: Path, **settings: str) -> dict[str, str]:
    """A newcomer's environment: no Prefect settings at all, so no PREFECT_API_URL, no
    server mode, and a Prefect home of its own (the server starts on a fresh database)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.pop(local_server.MODE_ENV, None)
    return {**env, "PREFECT_HOME": str(home), **settings}


def server_env(api_url: str) -> dict[str, str]:
    return {**os.environ, "PREFECT_API_URL": api_url}


@pytest.fixture
def bad_source(tmp_path: Path) -> Path:
    """The real sample with one unreadable quantity on line 6 (data row 5)."""
    lines = REAL_SAMPLE.read_text(encoding="utf-8-sig").splitlines()
    fields = lines[5].split(",")
    fields[3] = "abc"
    lines[5] = ",".join(fields)
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_failing_source_on_the_default_path_prints_one_line_and_the_report(
    tmp_path: Path, bad_source: Path
) -> None:
    home = tmp_path / "prefect-home"
    try:
        result = materialize(
            "--source", str(bad_source), env=default_path_env(home), tmp_path=tmp_path
        )
    finally:
        local_server.stop(home)

    assert result.returncode == 1, result.stderr
    out = result.stdout.splitlines()
    assert failure_of(result.stderr, "raw_online_retails").startswith(
        f"{bad_source}, line 6, column 'Quantity': not a number: 'abc'"
    )
    assert "Run report: 0 materialized, 1 failed, 28 skipped" in out
    rows = {line.split()[0]: line.split() for line in out if line.split()}
    assert rows["raw_online_retails"][1] == "-" and rows["raw_online_retails"][3] == "failed"
    # an indirect descendant names the failed asset that stopped it, not its direct parent
    (skipped,) = [line for line in out if line.startswith("28 assets skipped")]
    assert skipped.startswith("28 assets skipped (upstream failed: raw_online_retails): ")
    assert "fact_sales" in skipped.split(": ")[-1].split(", ")
    # On stderr: that a server now runs in the background, and where; the failure; the rerun.
    err = result.stderr.splitlines()
    assert err[0].startswith("Prefect server running in the background: UI http://")
    assert len(err) == 3 and err[2].startswith("Next: pipeline materialize"), err
    assert "Traceback" not in result.stdout


def test_run_that_fails_exits_non_zero_and_one_that_succeeds_exits_zero(
    prefect_api_url: str, tmp_path: Path
) -> None:
    location = ("--definitions", "tests.serve_location")
    env = server_env(prefect_api_url)

    failed = materialize(*location, "--source", "nope", env=env, tmp_path=tmp_path)
    assert failed.returncode == 1, failed.stderr
    assert "Run report: 0 materialized, 1 failed, 1 skipped" in failed.stdout
    assert "1 asset skipped (upstream failed: numbers): numbers_total" in failed.stdout

    succeeded = materialize(*location, "--source", "synthetic:5", env=env, tmp_path=tmp_path)
    assert succeeded.returncode == 0, succeeded.stdout + succeeded.stderr
    assert "Run report: 2 materialized" in succeeded.stdout
    rows = {line.split()[0]: line.split() for line in succeeded.stdout.splitlines() if line}
    assert rows["numbers"][1] == "5" and rows["numbers_total"][1] == "1"


@pytest.mark.parametrize("as_json", [False, True])
def test_a_failed_run_says_its_failure_and_next_step_on_stderr_the_report_on_stdout(
    prefect_api_url: str, tmp_path: Path, as_json: bool
) -> None:
    """``pipeline materialize > run.log`` in cron left stderr empty on a failure (rc 1):
    the cause and the rerun were in the report on stdout. Now stderr says them, once
    (not on stdout too: a terminal shows both streams on one screen); stdout keeps the
    report, and with --json stays one JSON document."""
    location = ("--definitions", "tests.serve_location", "--source", "nope")
    result = materialize(*location, *(["--json"] if as_json else []),
                         env=server_env(prefect_api_url), tmp_path=tmp_path)  # fmt: skip

    assert result.returncode == 1, result.stderr
    cause = "ValueError: asset 'numbers': source must be synthetic:N, got 'nope'"
    err = result.stderr.splitlines()
    assert err[0].startswith("error: asset 'numbers' (table served.numbers): tests/"), err
    assert err[0].endswith(cause), err
    assert err[1].startswith("Next: pipeline materialize --select 'numbers+' --source nope "), err
    assert len(err) == 2, err
    if as_json:
        assert json.loads(result.stdout)["ok"] is False
        return
    out = result.stdout.splitlines()
    assert cause not in result.stdout and "Next:" not in result.stdout, out
    assert out[0] == "Run report: 0 materialized, 1 failed, 1 skipped", out
    assert re.fullmatch(r"numbers +- +\d+\.\d+  failed", out[2]), out
    assert out[3] == "1 asset skipped (upstream failed: numbers): numbers_total", out
    assert sum("numbers_total" in line for line in out) == 1, out  # no second copy


def test_a_piped_success_lists_each_asset_once(prefect_api_url: str, tmp_path: Path) -> None:
    """Its row in the report's table: a live line each before it printed every asset
    twice (the live lines are a terminal's, under the progress bar)."""
    result = materialize("--definitions", "tests.serve_location", "--source", "synthetic:5",
                         env=server_env(prefect_api_url), tmp_path=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout.splitlines()
    assert out[0] == "Run report: 2 materialized", out
    assert [line.split()[:2] for line in out[2:4]] == [["numbers", "5"], ["numbers_total", "1"]]
    assert not any("✓" in line for line in out), out
    assert sum(line.startswith("numbers_total") for line in out) == 1, out
    assert out[-1].startswith("Next: pipeline query"), out


def test_verbose_shows_prefects_logs_and_the_task_traceback(
    prefect_api_url: str, tmp_path: Path
) -> None:
    result = materialize(
        "--definitions", "tests.serve_location", "--source", "nope", "--verbose",
        env=server_env(prefect_api_url), tmp_path=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1
    assert "Traceback" in result.stderr
    assert "ValueError: asset 'numbers': source must be synthetic:N" in result.stderr


def test_temporary_server_that_cannot_start_in_time_says_what_to_do(tmp_path: Path) -> None:
    env = default_path_env(
        tmp_path / "prefect-home",
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="1",
        PIPELINE_PREFECT_SERVER="temporary",
    )
    result = materialize("--definitions", "tests.serve_location", env=env, tmp_path=tmp_path)

    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith("error: Prefect's temporary server did not start within 1 s")
    assert "PREFECT_API_URL=http://127.0.0.1:4200/api" in lines[0]
    assert "Traceback" not in result.stderr


def test_a_run_imports_no_web_framework(prefect_api_url: str, tmp_path: Path) -> None:
    """Prefect encodes a flow run's parameters with FastAPI's ``jsonable_encoder``, which
    imports the whole web framework (~0.1 s of CPU) into a process that serves no HTTP; a
    materialization's parameters are plain strings and need none of it."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "orchestration", "materialize",
         "--definitions", "tests.serve_location", "--source", "synthetic:5",
         "--warehouse", f"chdb://{tmp_path / 'warehouse'}"],
        cwd=REPO,
        env=server_env(prefect_api_url),
        capture_output=True,
        text=True,
        timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    assert "Run report: 2 materialized" in result.stdout
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    # (Prefect's client itself imports starlette.status, a table of HTTP status codes.)
    assert {name.split(".")[0] for name in imported} & {"fastapi", "uvicorn"} == set()
    assert not any(name.startswith(("prefect.server", "starlette.routing")) for name in imported)


@pytest.mark.parametrize("named_by", ["--source", "ONLINE_RETAIL_DATA_URL"])
def test_a_missing_source_file_says_to_check_the_setting_that_named_it(
    prefect_api_url: str, tmp_path: Path, named_by: str
) -> None:
    """The hint fits what the user did: telling someone who typed ``--source`` to set an
    environment variable sends them to a setting the option overrides anyway. A typed
    path is refused before the run (one line on stderr), the environment's fails the
    ingest asset in the run."""
    missing = tmp_path / "nope.csv"
    env = {k: v for k, v in server_env(prefect_api_url).items() if k != "ONLINE_RETAIL_DATA_URL"}
    args: tuple[str, ...] = ("--select", "raw_online_retails")
    if named_by == "--source":
        args = (*args, "--source", str(missing))
    else:
        env[named_by] = str(missing)

    result = materialize(*args, env=env, tmp_path=tmp_path)

    assert result.returncode == 1, result.stderr
    said = f"{missing}: file not found; check the path given by {named_by}"
    if named_by == "--source":
        assert (result.stdout, result.stderr) == ("", f"error: {said}\n")
    else:
        assert said in failure_of(result.stderr, "raw_online_retails")
    other = {"--source", "ONLINE_RETAIL_DATA_URL"} - {named_by}
    assert other.pop() not in result.stdout + result.stderr


def _next_line(output: str) -> str:
    """The last line: a successful run's on stdout, a failed run's on stderr."""
    return output.splitlines()[-1]


def test_a_failed_run_ends_with_the_command_that_reruns_what_it_left_undone(
    prefect_api_url: str, tmp_path: Path
) -> None:
    """Not 'pipeline query reads the tables' (the tables are not there): the next step is
    the failure's, and the printed --select, run again, builds exactly what is missing."""
    location = ("--definitions", "tests.serve_location")
    env = server_env(prefect_api_url)

    failed = materialize(*location, "--source", "nope", env=env, tmp_path=tmp_path)

    assert failed.returncode == 1, failed.stderr
    assert "pipeline query" not in failed.stdout + failed.stderr
    last = _next_line(failed.stderr)
    assert last.startswith("Next: pipeline materialize --select 'numbers+' "), last
    assert "the failed asset and the 1 skipped" in last
    assert "--verbose" in last
    again = materialize(*location, "--select", "numbers+", "--source", "synthetic:5",
                        env=env, tmp_path=tmp_path)  # fmt: skip
    assert "Run report: 2 materialized" in again.stdout, again.stdout + again.stderr
    # A query that runs as printed (it was "SELECT ...", a syntax error if pasted), on the
    # warehouse the run wrote: the options typed come with it.
    query = (
        'pipeline query "SELECT * FROM served.numbers_total LIMIT 10" --warehouse '
        f"chdb://{tmp_path / 'warehouse'} --definitions tests.serve_location"
    )
    assert _next_line(again.stdout).startswith(f"Next: {query} reads the tables")
    pasted = subprocess.run(
        [sys.executable, "-m", "orchestration", *shlex.split(query)[1:]],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert pasted.returncode == 0, pasted.stderr
    assert pasted.stdout.split()[:2] == ["total", "5"]


def test_a_failed_run_of_one_asset_reruns_that_asset_not_its_descendants(
    prefect_api_url: str, tmp_path: Path
) -> None:
    failed = materialize(
        "--definitions", "tests.serve_location", "--select", "numbers", "--source", "nope",
        env=server_env(prefect_api_url), tmp_path=tmp_path,
    )  # fmt: skip

    assert failed.returncode == 1, failed.stderr
    assert _next_line(failed.stderr).startswith(
        f"Next: pipeline materialize --select 'numbers' --source nope --warehouse "
        f"chdb://{tmp_path}/warehouse --definitions tests.serve_location reruns the failed asset"
    )


def test_a_run_whose_failures_were_all_foreseen_does_not_suggest_a_traceback(
    prefect_api_url: str, tmp_path: Path, bad_source: Path
) -> None:
    """A bad source row (or a server that went away) is said in full by its one line: a
    traceback would add nothing, as for any command's foreseen error. An asset's own
    ValueError still gets the hint (the test above)."""
    failed = materialize("--source", str(bad_source), env=server_env(prefect_api_url),
                         tmp_path=tmp_path)  # fmt: skip

    assert failed.returncode == 1, failed.stderr
    last = _next_line(failed.stderr)
    assert last.startswith("Next: pipeline materialize --select 'raw_online_retails+' "), last
    assert "--verbose" not in last and "traceback" not in last


def test_a_failed_run_with_verbose_does_not_suggest_verbose(
    prefect_api_url: str, tmp_path: Path
) -> None:
    """With --verbose the traceback is already on the terminal: the next step is the rerun."""
    failed = materialize(
        "--definitions", "tests.serve_location", "--select", "numbers", "--source", "nope",
        "--verbose", env=server_env(prefect_api_url), tmp_path=tmp_path,
    )  # fmt: skip

    assert failed.returncode == 1, failed.stderr
    last = _next_line(failed.stderr)
    assert last.startswith("Next: pipeline materialize --select 'numbers' "), last
    assert "--verbose" not in last


def test_a_failed_run_with_verbose_says_next_once_and_its_prefect_log_still_ends_with_it(
    prefect_api_url: str, tmp_path: Path
) -> None:
    """--verbose shows Prefect's log lines: the flow run's last line, ``Next: ...`` (there
    for a reader of the run's page), came on the terminal just above the report's own."""
    failed = materialize(
        "--definitions", "tests.serve_location", "--select", "numbers", "--source", "nope",
        "--verbose", env=server_env(prefect_api_url), tmp_path=tmp_path,
    )  # fmt: skip

    assert failed.returncode == 1, failed.stderr
    said = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", failed.stdout + failed.stderr)
    assert said.count("Next: ") == 1, said
    assert "Finished in state Failed" in said  # Prefect's log lines are on the terminal
    run_id = re.search(r"Flow run id: ([0-9a-f-]{36})", failed.stdout)
    assert run_id, failed.stdout
    logs = api(prefect_api_url, "/logs/filter", {
        "logs": {"flow_run_id": {"any_": [run_id[1]]}}, "sort": "TIMESTAMP_ASC",
    })  # fmt: skip
    ours = [log["message"] for log in logs if log["name"] == "prefect.flow_runs"]
    nexts = [message for message in ours if message.startswith("Next: ")]
    assert nexts == [_next_line(failed.stderr)], ours


def test_a_failed_assets_line_is_the_projects_message_without_its_class(
    prefect_api_url: str, tmp_path: Path
) -> None:
    """The source error says file and cause; 'SourceError:' before it is only noise."""
    missing = tmp_path / "nope.csv"
    env = {**server_env(prefect_api_url), "ONLINE_RETAIL_DATA_URL": str(missing)}
    result = materialize("--select", "raw_online_retails", env=env, tmp_path=tmp_path)

    assert result.returncode == 1, result.stderr
    failure = failure_of(result.stderr, "raw_online_retails")
    assert failure.startswith(f"{missing}: file not found"), failure
    assert "SourceError" not in result.stdout + result.stderr


def test_an_error_raised_by_an_assets_own_code_keeps_its_class(
    prefect_api_url: str, tmp_path: Path
) -> None:
    """serve_location's asset raises a plain ValueError: that it is one is information,
    and so is the line of the asset's code that raised it."""
    result = materialize("--definitions", "tests.serve_location", "--source", "nope", "--json",
                         env=server_env(prefect_api_url), tmp_path=tmp_path)  # fmt: skip

    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    numbers = report["assets"][0]
    code = (REPO / "tests" / "serve_location.py").read_text().splitlines()
    raised = next(n for n, line in enumerate(code, start=1) if "raise ValueError(" in line)
    assert numbers["error"] == (
        f"tests/serve_location.py:{raised}: "
        "ValueError: asset 'numbers': source must be synthetic:N, got 'nope'"
    )
    assert report["warehouses"] == [f"chdb://{tmp_path / 'warehouse'}"]  # where it ran


def runaway_quote_source(tmp_path: Path) -> Path:
    """The real sample with a quote opened in line 4's Description and never closed
    on its line, and line 7's Description quoted only in part: the two quotes pair."""
    lines = REAL_SAMPLE.read_text(encoding="utf-8-sig").splitlines()  # [0] is the header
    lines[3] = lines[3].replace("CREAM CUPID HEARTS COAT HANGER", '"WHITE METAL LANTERN')
    glass_star = '"GLASS STAR" FROSTED T-LIGHT HOLDER'
    lines[6] = lines[6].replace("SET 7 BABUSHKA NESTING BOXES", glass_star)
    path = tmp_path / "runaway.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_quote_closed_in_a_later_row_fails_the_run_and_keeps_the_last_load(
    prefect_api_url: str, tmp_path: Path
) -> None:
    """Rows 3 to 6 would load as one (96 rows, exit 0): the run refuses the file in one
    line instead, and the table keeps the rows of the last good load."""
    env = server_env(prefect_api_url)
    raw = ("--select", "raw_online_retails")
    good = materialize(*raw, "--source", str(REAL_SAMPLE), env=env, tmp_path=tmp_path)
    assert good.returncode == 0, good.stdout + good.stderr
    runaway = runaway_quote_source(tmp_path)

    result = materialize(*raw, "--source", str(runaway), env=env, tmp_path=tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    assert failure_of(result.stderr, "raw_online_retails") == (
        f"{runaway}, line 4, column 'Description': "
        "malformed CSV: the quote opened here closes inside a later value (line 7: "
        "'\"GLASS STAR\" FROSTED T-LIGHT HOLDER'), which would swallow the rows between"
    )
    assert "Traceback" not in result.stdout + result.stderr
    count = subprocess.run(
        [sys.executable, "-m", "orchestration", "query",
         "SELECT count() AS n, uniqExact(StockCode) AS codes FROM raw.online_retails",
         "--format", "csv", "--warehouse", f"chdb://{tmp_path / 'warehouse'}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert count.returncode == 0, count.stderr
    assert count.stdout.splitlines()[-1] == "99,72"


def test_an_encrypted_zip_fails_the_run_in_one_line_and_keeps_the_last_load(
    prefect_api_url: str, tmp_path: Path
) -> None:
    """The line was ``RuntimeError: File <ZipInfo filename='good.csv' ...> is encrypted,
    password required for extraction``: a crash to read. It names archive and member and
    says what to do; the table keeps the rows of the last good load."""
    env = server_env(prefect_api_url)
    raw = ("--select", "raw_online_retails")
    good = materialize(*raw, "--source", str(REAL_SAMPLE), env=env, tmp_path=tmp_path)
    assert good.returncode == 0, good.stdout + good.stderr
    encrypted = tmp_path / "enc.zip"
    write_zip(encrypted, "good.csv", REAL_SAMPLE.read_bytes(), password=b"s3cret")

    result = materialize(*raw, "--source", str(encrypted), env=env, tmp_path=tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    failure = failure_of(result.stderr, "raw_online_retails")
    assert failure.startswith(f"{encrypted}!good.csv: encrypted zip member (password-protected)"), (
        failure
    )
    said = result.stdout + result.stderr
    assert "RuntimeError" not in said and "ZipInfo" not in said
    assert "Traceback" not in result.stdout + result.stderr
    count = subprocess.run(
        [sys.executable, "-m", "orchestration", "query", "SELECT count() FROM raw.online_retails",
         "--format", "csv", "--warehouse", f"chdb://{tmp_path / 'warehouse'}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert count.returncode == 0, count.stderr
    assert count.stdout.splitlines()[-1] == "99"


def test_a_configured_prefect_api_that_does_not_answer_is_one_line_before_any_work(
    tmp_path: Path,
) -> None:
    from orchestration.prefect_server import free_port

    api_url = f"http://127.0.0.1:{free_port()}/api"  # nothing listens there
    result = materialize(env=server_env(api_url), tmp_path=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: the Prefect API at {api_url} (PREFECT_API_URL) does not answer (connection "
        "refused): start that server, or unset PREFECT_API_URL to run on the local one"
    ]
    assert not (tmp_path / "warehouse").exists()  # no warehouse made for a run that cannot be


def test_serve_on_a_configured_prefect_api_that_does_not_answer_is_the_same_line(
    tmp_path: Path,
) -> None:
    from orchestration.prefect_server import free_port

    api_url = f"http://127.0.0.1:{free_port()}/api"
    result = subprocess.run(
        [sys.executable, "-m", "orchestration", "serve", "--warehouse", f"chdb://{tmp_path}"],
        cwd=REPO,
        env=server_env(api_url),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()  # not also that tmp_path holds no warehouse yet
    assert line.startswith(f"error: the Prefect API at {api_url} (PREFECT_API_URL) does not answer")


@pytest.mark.parametrize(
    ("api_url", "probed"),
    [
        ("http://127.0.0.1:4200/api", "http://127.0.0.1:4200/api/health"),
        ("http://prefect.internal/api/", "http://prefect.internal/api/health"),
        # Credentials go with it, for the probe to send as Prefect's client sends them.
        ("http://user:secret@127.0.0.1:4200/api", "http://user:secret@127.0.0.1:4200/api/health"),
        # Prefect's client has TLS settings of its own: Prefect is left to say.
        ("https://api.prefect.cloud/api/accounts/a/workspaces/w", None),
        ("http://127.0.0.1:port/api", None),
    ],
)
def test_only_an_api_a_plain_probe_reaches_as_prefect_would_is_probed(
    api_url: str, probed: str | None
) -> None:
    from orchestration.prefect_setup import health_url_to_probe

    assert health_url_to_probe(api_url) == probed


def refused_before_any_work(command: str, api_url: str, tmp_path: Path) -> list[str]:
    """``pipeline COMMAND`` on ``api_url``: its stderr lines, once it exited 1 and left no
    warehouse behind (``serve`` refuses before it looks for one)."""
    if command == "materialize":
        result = materialize(env=server_env(api_url), tmp_path=tmp_path)
    else:
        result = subprocess.run(
            [sys.executable, "-m", "orchestration", "serve",
             "--warehouse", f"chdb://{tmp_path / 'warehouse'}"],
            cwd=REPO, env=server_env(api_url), capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert not (tmp_path / "warehouse").exists()
    return result.stderr.splitlines()


@pytest.mark.parametrize("command", ["materialize", "serve"])
def test_a_prefect_api_url_without_a_scheme_is_told_what_to_write(
    command: str, prefect_api_url: str, tmp_path: Path
) -> None:
    """Was: "does not answer (request URL has an unsupported protocol '127.0.0.1://')" from
    the run's circuit breaker, after the warehouse was created."""
    typed = prefect_api_url.removeprefix("http://")  # 127.0.0.1:PORT/api
    assert refused_before_any_work(command, typed, tmp_path) == [
        f"error: PREFECT_API_URL {typed!r} has no scheme: write http://{typed}"
    ]


#: Why the review's PREFECT_API_URL cannot be read, in words that repeat none of it.
RESERVED_IN_PASSWORD = (
    "PREFECT_API_URL's password (or user) holds a reserved character: percent-encode ? as "
    "%3F, # as %23, / as %2F, @ as %40 (an @ in the path or query string too)"
)


@pytest.mark.parametrize("command", ["materialize", "serve"])
def test_a_prefect_api_url_whose_password_holds_a_slash_is_refused_without_repeating_it(
    command: str, tmp_path: Path
) -> None:
    """Was ``error: Invalid port: 'Api'`` (the password's start) from httpx once the flow
    run began."""
    typed = "http://apiuser:Api/Pw7766@127.0.0.1:4799/api"
    lines = refused_before_any_work(command, typed, tmp_path)
    assert lines == [f"error: {RESERVED_IN_PASSWORD}"]


@pytest.mark.parametrize(
    ("command", "path"),
    [("materialize", ""), ("materialize", "/v2"), ("serve", "")],
)
def test_a_prefect_servers_address_without_api_is_told_the_api_url(
    command: str, path: str, prefect_api_url: str, tmp_path: Path
) -> None:
    """The server's own address, or its UI's (which `pipeline` prints), answers 404 at
    /health: was "Failed to reach API at ..." as an unforeseen error, after the warehouse
    was created."""
    root = prefect_api_url.removesuffix("/api")
    typed = f"{root}{path}"
    assert refused_before_any_work(command, typed, tmp_path) == [
        f"error: no Prefect API answers at {typed} (PREFECT_API_URL: its /health is "
        f"404 Not Found): set PREFECT_API_URL={root}/api, the API of the server there"
    ]


class _StatusHandler(BaseHTTPRequestHandler):
    """Answers ``GET /STATUS/...`` with that HTTP status, anything else with 404."""

    def do_GET(self) -> None:
        first = self.path.strip("/").split("/")[0]
        self.send_response(int(first) if first.isdigit() else 404)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def status_server() -> Iterator[str]:
    """``http://127.0.0.1:PORT``: a real HTTP server, but no Prefect server."""
    with http_server(_StatusHandler) as base:
        yield base


def check_api(api_url: str) -> str | None:
    """What the check before a run says of ``api_url``; None if it lets the run go on."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from orchestration.errors import ExpectedError
    from orchestration.prefect_setup import check_configured_api

    with temporary_settings({PREFECT_API_URL: api_url}):
        try:
            check_configured_api(timeout=5)
        except ExpectedError as exc:
            return str(exc)
    return None


@pytest.mark.parametrize("status", [200, 401, 500, 503])
def test_any_other_answer_than_404_counts_as_an_api_answering(
    status_server: str, status: int
) -> None:
    """A busy server's 503, a proxy's 401: Prefect's client says more once the run starts."""
    assert check_api(f"{status_server}/{status}/api") is None


def test_a_404_where_no_prefect_api_is_near_says_what_the_url_should_be(
    status_server: str,
) -> None:
    typed = f"{status_server}/404/api"  # and {status_server}/api/health is 404 too
    assert check_api(typed) == (
        f"no Prefect API answers at {typed} (PREFECT_API_URL: its /health is 404 Not "
        "Found): set PREFECT_API_URL to a Prefect server's API (http://HOST:4200/api), or "
        "unset it to run on the local one"
    )


@pytest.mark.parametrize(
    ("typed", "line"),
    [
        ("localhost:4200/api",
         "PREFECT_API_URL 'localhost:4200/api' has no scheme: write http://localhost:4200/api"),
        ("http:/127.0.0.1:4200/api",
         "PREFECT_API_URL 'http:/127.0.0.1:4200/api' is missing '//' after its scheme: "
         "write http://127.0.0.1:4200/api"),
        ("HTTPS:prefect.example/api",
         "PREFECT_API_URL 'HTTPS:prefect.example/api' is missing '//' after its scheme: "
         "write https://prefect.example/api"),
        ("ftp://127.0.0.1:4200/api",
         "PREFECT_API_URL scheme 'ftp' is not supported; use http:// or https://"),
        # Credentials, or a token in a query string, are not repeated.
        ("etl:s3cret@prefect.internal:4200/api",
         "PREFECT_API_URL has no scheme: put http:// (or https://) in front of it"),
        ("prefect.internal/api?token=s3cret",
         "PREFECT_API_URL has no scheme: put http:// (or https://) in front of it"),
        ("http:etl:s3cret@prefect.internal:4200/api",
         "PREFECT_API_URL is missing '//' after its scheme 'http'"),
        # A password holding a character that ends the host part is not read as one.
        ("http://etl:s3/cret@prefect.internal:4200/api", RESERVED_IN_PASSWORD),
        ("https://etl:s3?cret@prefect.internal/api", RESERVED_IN_PASSWORD),
        ("http://etl:s3#cret@127.0.0.1:4200/api", RESERVED_IN_PASSWORD),
    ],
)  # fmt: skip
def test_a_prefect_api_url_that_is_no_http_url_is_refused_without_a_probe(
    typed: str, line: str
) -> None:
    assert check_api(typed) == line


def test_a_run_with_nothing_to_do_does_not_need_the_prefect_api(
    prefect_api_url: str, tmp_path: Path
) -> None:
    from orchestration.prefect_server import free_port

    built = materialize(
        "--source", "synthetic:50", env=server_env(prefect_api_url), tmp_path=tmp_path
    )
    assert built.returncode == 0, built.stderr
    gone = f"http://127.0.0.1:{free_port()}/api"
    result = materialize(
        "--source", "synthetic:50", "--select", "status:stale+",
        env=server_env(gone), tmp_path=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "nothing to materialize" in result.stdout
