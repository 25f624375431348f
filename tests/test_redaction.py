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

import base64
import functools
import http.client
import http.server
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assets.sources import SOURCE_ENV, SourceError, read_source
from orchestration.redaction import credential_forms, redact, redact_url
from tests.chdb_http_server import TEST_PASSWORD, running_stand_in, stand_in_url
from tests.retail_support import http_port

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "tests" / "fixtures" / "online_retail_real_sample.csv"
SECRET = "tok3n-B7"
#: What the CLI says of a URL whose user or password holds a reserved character.
RESERVED = (
    "password (or user) holds a reserved character: percent-encode ? as %3F, # as %23, "
    "/ as %2F, @ as %40 (an @ in the path or query string too)"
)


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
    with http_port(functools.partial(_Quiet, directory=str(directory))) as port:
        yield port


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
        f"schemas, DDL and SQL agree (29 assets, sample run from http://127.0.0.1:{port}/x.csv)"
    )
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert failed.stdout.splitlines()[-1] == (
        f"1 problem in 29 assets, sample run from http://127.0.0.1:{port}/gone.csv "
        "(28 assets not validated)"
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


# ------------------------------------------------------------ URLs the redactor cannot read


@pytest.mark.parametrize(
    "url",
    [
        "http://user:tok3n?B7@127.0.0.1:1/x.csv",
        "http://user:tok3n#B7@127.0.0.1:1/x.csv",
        "http://user:tok3n/B7@127.0.0.1:1/x.csv",
        "http://user:9000?tok3n@127.0.0.1:1/x.csv",
        "http://user:tok3n@127.0.0.1:99999/x.csv",
        "http://user:tok3n@[::1/x.csv",
        "http://[::1/x.csv?tok3n",
    ],
)
def test_an_unreadable_url_is_never_shown_and_never_raises(url: str) -> None:
    shown = redact_url(url)

    assert shown == "<unreadable URL>"
    assert "tok3n" not in shown and "9000" not in shown


@given(st.text())
def test_redact_url_takes_any_text(text: str) -> None:
    redact_url(text)
    redact_url(f"http://{text}")


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        (f"http://user:{SECRET[:5]}?{SECRET[6:]}@127.0.0.1:1/x.csv", f"the URL's {RESERVED}"),
        (f"http://user:{SECRET[:5]}#{SECRET[6:]}@127.0.0.1:1/x.csv", f"the URL's {RESERVED}"),
        (f"http://user:{SECRET[:5]}/{SECRET[6:]}@127.0.0.1:1/x.csv", f"the URL's {RESERVED}"),
        (f"http://user:{SECRET}@127.0.0.1:99999/x.csv", "the URL has an invalid port"),
        (f"http://[::1/x.csv?{SECRET}", "the URL has a host that cannot be read"),
    ],
    ids=["question-mark", "hash", "slash", "port-out-of-range", "open-bracket"],
)
def test_a_source_url_that_cannot_be_read_is_a_usage_error_naming_source(
    url: str, problem: str
) -> None:
    result = pipeline("validate", "--sample", "--source", url)

    assert result.returncode == 2, result.stdout + result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: Invalid value for '--source': {problem}"), line
    assert line.endswith("(see 'pipeline validate --help')"), line
    assert SECRET[:5] not in line and SECRET[6:] not in line


def test_a_source_url_from_the_environment_fails_the_read_naming_the_variable() -> None:
    with pytest.raises(SourceError) as raised:
        list(read_source("http://user:tok3n?B7@127.0.0.1:1/x.csv", named_by=SOURCE_ENV))

    assert str(raised.value) == f"{SOURCE_ENV}'s {RESERVED}"


@pytest.mark.parametrize(
    ("warehouse", "problem"),
    [
        ("clickhouse://alice:9000?s3cr3t-Zq9@127.0.0.1:53625/", f"the warehouse URL's {RESERVED}"),
        ("clickhouse://alice:9000#s3cr3t-Zq9@127.0.0.1:53625/", f"the warehouse URL's {RESERVED}"),
        ("clickhouse://alice:9000/s3cr3t-Zq9@127.0.0.1:53625/", f"the warehouse URL's {RESERVED}"),
        ("clickhouse://alice:s3cr3t?Zq9@127.0.0.1:53625/", f"the warehouse URL's {RESERVED}"),
        ("clickhouse://alice:s3cr3t-Zq9@[::1/", "the warehouse URL has a host that cannot be read"),
    ],
    ids=["question-mark", "hash", "slash", "not-a-port", "open-bracket"],
)
def test_a_warehouse_url_that_cannot_be_read_says_why_without_its_text(
    warehouse: str, problem: str
) -> None:
    result = pipeline("status", "--warehouse", warehouse)

    assert result.returncode == 1, result.stdout + result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: {problem}"), line
    assert "s3cr3t" not in line and "Zq9" not in line and "9000" not in line


def test_warehouse_url_from_the_environment_is_named_as_the_variable() -> None:
    env = {"WAREHOUSE_URL": "clickhouse://alice:9000?s3cr3t-Zq9@127.0.0.1:53625/"}
    result = pipeline("status", env=env)

    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.splitlines() == [f"error: WAREHOUSE_URL's {RESERVED}"]


#: An embedded warehouse has no login: a user or password in a chdb:// URL was read as part
#: of a relative directory (``./default:WhPwZz91@/tmp/...``), created there, and printed.
CHDB_WITH_A_USER = {
    "user and password": "chdb://default:WhPwZz91@{tmp}/whx",
    "user alone": "chdb://WhPwZz91@{tmp}/whx",
    "password holding a slash": "chdb://default:WhPw/Zz91@{tmp}/whx",
    "password holding a question mark": "chdb://default:WhPw?Zz91@{tmp}/whx",
}
CHDB_USER_REFUSED = (
    "holds a user or password (user:password@), which an embedded chdb:// warehouse does "
    "not take: it is a directory, with no login (write chdb:///abs/path)"
)


def _with_warehouse(
    command: tuple[str, ...], warehouse: str, given: str, cwd: Path
) -> subprocess.CompletedProcess[str]:
    """``pipeline COMMAND`` run in ``cwd`` on the shipped assets with ``warehouse`` given
    as ``--warehouse`` (``given`` "option") or as ``WAREHOUSE_URL`` ("environment")."""
    option = ["--warehouse", warehouse] if given == "option" else []
    env = {
        **{k: v for k, v in os.environ.items() if k != "WAREHOUSE_URL"},
        "PIPELINE_WARM_START": "off",
        "PIPELINE_DEFINITIONS": "assets",
        "PYTHONPATH": str(REPO),
        **({"WAREHOUSE_URL": warehouse} if given == "environment" else {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "orchestration", *command, *option],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


@pytest.mark.parametrize(
    "command",
    [("status",), ("materialize", "--source", "synthetic:50")],
    ids=["status", "materialize"],
)
@pytest.mark.parametrize("given", ["option", "environment"])
@pytest.mark.parametrize("template", list(CHDB_WITH_A_USER.values()), ids=list(CHDB_WITH_A_USER))
def test_a_chdb_url_with_a_user_or_password_is_refused_without_repeating_it(
    tmp_path: Path, template: str, given: str, command: tuple[str, ...]
) -> None:
    """Was: ``Warehouse: ./default:WhPwZz91@/tmp/...``, a directory of that name made in
    the working directory, and the password in the ``no warehouse at`` and Next lines."""
    warehouse = template.format(tmp=tmp_path / "elsewhere")
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    result = _with_warehouse(command, warehouse, given, workdir)

    assert result.returncode == 1, result.stdout + result.stderr
    name = "the warehouse URL" if given == "option" else "WAREHOUSE_URL"
    assert result.stderr.splitlines() == [f"error: {name} {CHDB_USER_REFUSED}"]
    assert "WhPw" not in result.stdout + result.stderr
    assert os.listdir(workdir) == [] and not (tmp_path / "elsewhere").exists()


#: An embedded warehouse takes no options: ``chdb:///tmp/wh?password=...`` was read as
#: ``chdb:///tmp/wh``, the query string silently dropped and echoed back in ``Next:``.
CHDB_WITH_A_QUERY = {
    "password": "{tmp}/whx?password=WhPwZz91",
    "option": "{tmp}/whx?secure=WhPwZz91",
    "empty": "{tmp}/whx?",
}
CHDB_QUERY_REFUSED = (
    "has options after '?', which an embedded chdb:// warehouse does not take (it is a "
    "directory, with no login or settings): write chdb://{tmp}/whx"
)


@pytest.mark.parametrize("given", ["option", "environment"])
@pytest.mark.parametrize("template", list(CHDB_WITH_A_QUERY.values()), ids=list(CHDB_WITH_A_QUERY))
def test_a_chdb_url_with_a_query_string_is_refused_without_repeating_it(
    tmp_path: Path, template: str, given: str
) -> None:
    """Was: the query string ignored, the warehouse opened, and the whole URL, password
    and all, quoted back in the ``Next:`` line."""
    where = tmp_path / "elsewhere"
    warehouse = "chdb://" + template.format(tmp=where)
    result = _with_warehouse(("status",), warehouse, given, tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    name = "the warehouse URL" if given == "option" else "WAREHOUSE_URL"
    refused = CHDB_QUERY_REFUSED.format(tmp=where)
    assert result.stderr.splitlines() == [f"error: {name} {refused}"]
    assert "WhPw" not in result.stdout + result.stderr
    assert result.stdout == "" and not where.exists()


# -------------------------------------------------------------- a short password in an error


def test_a_password_is_masked_as_a_whole_word_never_inside_other_words(tmp_path: Path) -> None:
    """With password ``e`` the server's error read ``Unknown ***xpr***ssion id***ntifi***r``:
    garbled, and the pattern gave the password away. The password is masked where it
    stands as a word of its own, as an identifier echoed back does."""
    with running_stand_in(tmp_path / "server", password="e") as port:
        warehouse = f"clickhouse://default:e@127.0.0.1:{port}/"
        # --verbose: the engine's whole message, its quote of the query included.
        inside = pipeline(
            "query", "SELECT nosuchcol FROM system.one", "--verbose", "--warehouse", warehouse
        )
        whole = pipeline("query", "SELECT e FROM system.one", "--warehouse", warehouse)

    assert inside.returncode == 1
    (line,) = inside.stderr.splitlines()
    assert line.startswith("error: Unknown expression identifier `nosuchcol`"), line
    assert "system.one" in line and "***" not in line
    assert whole.returncode == 1
    (line,) = whole.stderr.splitlines()
    assert line == "error: column *** is not in system.one", line
    assert " e " not in line and "`e`" not in line


# ------------------------------------------------- credentials echoed by a proxy after connecting

#: What makes the proxy below echo a request instead of passing it on.
ECHO_MARKER = b"echo-me"


def echoing_proxy(server_port: int) -> type[http.server.BaseHTTPRequestHandler]:
    """A proxy in front of the server on ``server_port`` that passes every request on,
    except one carrying :data:`ECHO_MARKER`: that it answers itself with ClickHouse's error
    header and the request echoed back, its ``Authorization`` header first, as a
    debugging proxy does. The connection is made, so the server was ClickHouse."""

    class Proxy(http.server.BaseHTTPRequestHandler):
        def _relay(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if ECHO_MARKER in self.path.encode() + body:
                echoed = (
                    "Code: 62. DB::Exception: "
                    f"Authorization: {self.headers['Authorization']}\n"
                    f"{self.requestline}\n{self.headers}"
                )
                self._reply(500, {"X-ClickHouse-Exception-Code": "62"}, echoed.encode() + body)
                return
            upstream = http.client.HTTPConnection("127.0.0.1", server_port, timeout=60)
            try:
                upstream.request(self.command, self.path, body, dict(self.headers.items()))
                answer = upstream.getresponse()
                self._reply(answer.status, dict(answer.getheaders()), answer.read())
            finally:
                upstream.close()

        def _reply(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _relay

        def log_message(self, format: str, *args: object) -> None:
            """Keep the test output clean."""

    return Proxy


def test_an_error_echoing_the_request_after_connecting_masks_the_credentials(
    tmp_path: Path,
) -> None:
    """A statement's error text is the server's, shown (masked) as an engine error: the
    base64 of ``user:password`` in an echoed ``Authorization`` header was shown as is."""
    with (
        running_stand_in(tmp_path / "server") as server_port,
        http_port(echoing_proxy(server_port)) as proxy_port,
    ):
        result = pipeline("query", "SELECT 'echo-me'", "--warehouse", stand_in_url(proxy_port))

    encoded = base64.b64encode(f"default:{TEST_PASSWORD}".encode()).decode()
    assert result.returncode == 1, result.stdout + result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: Authorization: Basic *** POST /?"), line
    assert encoded not in line and TEST_PASSWORD not in line, line


def test_every_form_of_the_password_an_answer_may_repeat_is_masked() -> None:
    """As typed, percent-encoded as in a URL (``%20`` or ``+`` for a space, ``%40`` for
    ``@``) and as the Basic ``Authorization`` header's base64 of ``user:password``; the
    user alone is no secret, and a word merely holding the password is left alone."""
    password = "stand-in p@ss"
    basic = base64.b64encode(b"etl:stand-in p@ss").decode()
    text = (
        f"login etl with 'stand-in p@ss', url http://etl:stand-in%20p%40ss@ch:8123/, "
        f"form password=stand-in+p%40ss, header Authorization: Basic {basic}."
    )

    masked = redact(text, credential_forms("etl", password))

    assert masked == (
        "login etl with '***', url http://etl:***@ch:8123/, form password=***, "
        "header Authorization: Basic ***."
    )
    assert redact("Unknown expression identifier", credential_forms("etl", "e")) == (
        "Unknown expression identifier"
    )
    assert credential_forms("etl", "") == ()
