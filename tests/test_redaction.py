"""Secrets in URLs stay out of everything a command prints, however the URL is written.

Found by an audit: ``validate --sample`` echoed its source URL whole; the usage error that
moves an option after the command repeated the command line, credentials and all; a URL
whose password holds a reserved character (``?``, ``#``, ``/``) broke the redactor itself,
so the error was Python's (``Port could not be cast to integer value as 'tok3n'``, part of
the secret) or a wrong one; and a short password was masked inside every word of a server
error. Each is checked on real processes: the CLI, a loopback HTTP server, the chdb
ClickHouse stand-in.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from assets.sources import SOURCE_ENV

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "tests" / "fixtures" / "online_retail_real_sample.csv"
SECRET = "tok3n-B7"


def pipeline(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``pipeline ARGS`` as a user runs it, on the shipped code location."""
    clean = {k: v for k, v in os.environ.items() if k not in ("WAREHOUSE_URL", SOURCE_ENV)}
    return subprocess.run(
        [sys.executable, "-m", "orchestration", *args],
        cwd=REPO,
        env={**clean, "PIPELINE_WARM_START": "off", **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output clean."""


@contextmanager
def serving(directory: Path) -> Iterator[int]:
    """A plain HTTP server on loopback serving ``directory`` (credentials and query string
    ignored, as many file servers do); yields its port."""
    handler = functools.partial(_Quiet, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# ---------------------------------------------------------------- validate --sample --source


def test_validate_names_its_sample_url_without_credentials_or_token(tmp_path: Path) -> None:
    shutil.copy(SAMPLE, tmp_path / "x.csv")
    with serving(tmp_path) as port:
        passed = pipeline(
            "validate", "--sample", "--source", f"http://user:{SECRET}@127.0.0.1:{port}/x.csv"
        )
        failed = pipeline(
            "validate", "--sample", "--source", f"http://127.0.0.1:{port}/gone.csv?token={SECRET}"
        )

    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert passed.stdout.splitlines()[-1] == (
        f"schemas, DDL and SQL agree (27 assets, sample run from http://127.0.0.1:{port}/x.csv)"
    )
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert failed.stdout.splitlines()[-1] == (
        f"1 problem(s) in 27 assets, sample run from http://127.0.0.1:{port}/gone.csv "
        "(26 assets not validated)"
    )
    for result in (passed, failed):
        assert SECRET not in result.stdout + result.stderr


# ------------------------------------------------------- an option written before the command


WAREHOUSE = "clickhouse://alice:s3cr3t-Zq9@127.0.0.1:53625/?secure=false"
NOTE = "(URLs shown without credentials or query string)"


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ("--warehouse", WAREHOUSE, "--json", "status"),
            "--json goes after the command: pipeline --warehouse clickhouse://127.0.0.1:53625/ "
            f"status --json {NOTE} (see 'pipeline status --help')",
        ),
        (
            (f"--warehouse={WAREHOUSE}", "--select", "key:x", "list"),
            "--select goes after the command: pipeline "
            f"--warehouse=clickhouse://127.0.0.1:53625/ list --select key:x {NOTE} "
            "(see 'pipeline list --help')",
        ),
        (
            ("--source", f"https://u:{SECRET}@h.example/x.csv?token={SECRET}", "plan"),
            "--source goes after the command: pipeline plan --source https://h.example/x.csv "
            f"{NOTE} (see 'pipeline plan --help')",
        ),
        (
            ("--source", "/data/x.csv", "plan"),
            "--source goes after the command: pipeline plan --source /data/x.csv "
            "(see 'pipeline plan --help')",
        ),
    ],
    ids=["warehouse-json", "warehouse-select", "source", "path-as-it-is"],
)
def test_moving_an_option_after_the_command_does_not_repeat_a_urls_secrets(
    args: tuple[str, ...], line: str
) -> None:
    result = pipeline(*args)

    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"error: {line}"]
    assert "s3cr3t" not in result.stderr and SECRET not in result.stderr
