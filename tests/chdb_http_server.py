"""A development stand-in for a ClickHouse server: its HTTP interface, answered by chdb.

Not a server to run anything on. It exists so the server backend (clickhouse-connect over
HTTP) can be exercised end to end on a machine without ClickHouse: every statement is
executed by the real ClickHouse engine in chdb; only the HTTP framing is reimplemented,
and only as much of it as clickhouse-connect uses (query in the URL or body, settings as
URL parameters, ``FORMAT``, compressed insert bodies, basic auth, error headers).

The test session starts one (``clickhouse_test_url`` in tests/conftest.py) unless
``CLICKHOUSE_TEST_URL`` names a real server, as the GitHub workflow's
``clickhouse/clickhouse-server`` container does. By hand:

    python -m tests.chdb_http_server --port 18123 --path /tmp/chdb-server --password secret
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

REPO = Path(__file__).resolve().parents[1]
#: The stand-in's password for tests: characters that must survive URL quoting.
TEST_PASSWORD = "stand-in p@ss"

#: URL parameters that are HTTP-interface controls, not settings for the statement.
_CONTROL_PARAMS = {
    "query",
    "database",
    "default_format",
    "session_id",
    "session_timeout",
    "session_check",
    "query_id",
    "compress",
    "decompress",
    "enable_http_compression",
    "wait_end_of_query",
    "send_progress_in_http_headers",
    "http_headers_progress_interval_ms",
    "client_protocol_version",
    "user",
    "password",
    "quota_key",
}
#: Settings this stand-in applies; others (client tuning) are accepted and ignored.
_APPLIED_SETTINGS = re.compile(
    r"^(readonly|input_format_.*|output_format_.*|format_.*|date_time_output_format|insert_.*)$"
)
_FORMAT_CLAUSE = re.compile(r"\sFORMAT\s+([A-Za-z0-9_]+)\s*;?\s*$", re.IGNORECASE)
_INSERT = re.compile(r"^\s*INSERT\s", re.IGNORECASE)
_CODE = re.compile(r"Code: (\d+)")
_INLINE_INSERT = re.compile(
    rb"^(\s*INSERT\s.*?\sFORMAT\s+[A-Za-z0-9_]+)[ \t]*\r?\n?", re.DOTALL | re.IGNORECASE
)


def _decompress(body: bytes, encoding: str) -> bytes:
    encoding = encoding.lower()
    if encoding == "lz4":
        import lz4.frame

        return lz4.frame.decompress(body)
    if encoding == "zstd":
        import zstandard

        return zstandard.ZstdDecompressor().decompressobj().decompress(body)
    if encoding in ("gzip", "deflate"):
        import zlib

        return zlib.decompress(body, 16 + zlib.MAX_WBITS if encoding == "gzip" else 0)
    raise ValueError(f"unsupported Content-Encoding {encoding}")


def _literal(value: str) -> str:
    return value if value.lstrip("-").isdigit() else repr(value)


def _settings_clause(settings: dict[str, str]) -> str:
    parts = [f"{name} = {_literal(value)}" for name, value in settings.items()]
    return " SETTINGS " + ", ".join(parts) if parts else ""


class _Engine:
    def __init__(self, path: str, user: str, password: str) -> None:
        from chdb.session import Session

        self.path = path
        self.session = Session(path)
        self.lock = threading.Lock()
        self.user = user
        self.password = password
        self._read_only: dict[tuple[tuple[str, str], ...], Any] = {}

    def read_only_session(self, settings: dict[str, str]) -> Any:
        """The session for a request carrying ``readonly``, as a real server treats it.

        A server applies a request's settings before it parses the statement, so the
        engine refuses writes of every kind (DROP, INSERT, table functions, settings
        changes), not only in SELECTs. chdb connections to one directory keep their own
        settings: one per distinct set, ``readonly`` set last as it freezes the others.
        """
        from chdb.session import Session

        key = tuple(sorted(settings.items()))
        session = self._read_only.get(key)
        if session is None:
            session = Session(self.path)
            for name, value in settings.items():
                if name != "readonly":
                    session.query(f"SET {name} = {_literal(value)}", "CSV")
            session.query(f"SET readonly = {int(settings['readonly'])}", "CSV")
            self._read_only[key] = session
        return session

    def discard_read_only_session(self, settings: dict[str, str]) -> None:
        """Forget a session whose statement failed (chdb may leave output behind)."""
        session = self._read_only.pop(tuple(sorted(settings.items())), None)
        if session is not None:
            session.close()


def make_handler(engine: _Engine) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            """Quiet: the tests read their own output."""

        def _read_body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().strip() or b"0", 16)
                    if size == 0:
                        self.rfile.readline()
                        break
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                body = b"".join(chunks)
            else:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            encoding = self.headers.get("Content-Encoding")
            return _decompress(body, encoding) if encoding and body else body

        def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _authorized(self, params: dict[str, str]) -> bool:
            user, password = params.get("user", "default"), params.get("password", "")
            header = self.headers.get("Authorization", "")
            if header.startswith("Basic "):
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            user = self.headers.get("X-ClickHouse-User", user)
            password = self.headers.get("X-ClickHouse-Key", password)
            return user == engine.user and password == engine.password

        def _handle(self) -> None:
            params = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
            body = self._read_body()
            if not self._authorized(params):
                message = (
                    f"Code: 516. DB::Exception: {params.get('user', 'user')}: Authentication "
                    "failed: password is incorrect, or there is no user with such name. "
                    "(AUTHENTICATION_FAILED)"
                )
                self._reply(401, message.encode(), {"X-ClickHouse-Exception-Code": "516"})
                return
            settings = {
                name: value
                for name, value in params.items()
                if name not in _CONTROL_PARAMS
                and not name.startswith("param_")
                and _APPLIED_SETTINGS.match(name)
            }
            query = params.get("query")
            data = b""
            inline = _INLINE_INSERT.match(body) if query is None else None
            if inline:  # "INSERT ... FORMAT X\n<data>" all in the body
                query, data = inline.group(1).decode(), body[inline.end() :]
            elif query is None:
                query = body.decode()
            elif _INSERT.match(query):
                data = body
            else:
                query = f"{query} {body.decode()}".strip()
            try:
                status, output, fmt, written = 200, *self._execute(query, data, params, settings)
            except Exception as exc:  # the engine's error goes back as ClickHouse sends it
                message = str(exc).removeprefix("Streaming insert finish failed: ")
                code = _CODE.search(message)
                self._reply(
                    500,
                    message.encode(),
                    {"X-ClickHouse-Exception-Code": code.group(1) if code else "1"},
                )
                return
            summary = {"read_rows": "0", "read_bytes": "0", "written_rows": str(written),
                       "written_bytes": "0", "total_rows_to_read": "0", "result_rows": "0",
                       "result_bytes": "0", "elapsed_ns": "0"}  # fmt: skip
            self._reply(
                status,
                output,
                {
                    "Content-Type": "application/octet-stream",
                    "X-ClickHouse-Format": fmt,
                    "X-ClickHouse-Timezone": "UTC",
                    "X-ClickHouse-Summary": json.dumps(summary),
                    "X-ClickHouse-Query-Id": "chdb-stand-in",
                },
            )

        def _execute(
            self, query: str, data: bytes, params: dict[str, str], settings: dict[str, str]
        ) -> tuple[bytes, str, int]:
            fmt = params.get("default_format", "TabSeparated")
            match = _FORMAT_CLAUSE.search(query)
            if match:
                fmt = match.group(1)
                query = query[: match.start()]
            with engine.lock:
                if settings.get("readonly", "0") not in ("", "0"):
                    return self._execute_read_only(query, data, fmt, settings)
                if _INSERT.match(query) and data:
                    inputs = {k: v for k, v in settings.items() if k.startswith("input_")}
                    with engine.session.send_insert(
                        query + _settings_clause(inputs), fmt
                    ) as inserter:
                        inserter.append(data)
                        result = inserter.finish()
                    return b"", fmt, result.rows_written
                reads = {k: v for k, v in settings.items() if not k.startswith("input_")}
                keyword = query.lstrip().split(None, 1)[0].upper() if query.strip() else ""
                if reads and keyword in ("SELECT", "WITH"):
                    query += _settings_clause(reads)
                result = engine.session.query(query, fmt)
            output = result.bytes() if hasattr(result, "bytes") else result
            if isinstance(output, str):
                output = output.encode()
            return bytes(output or b""), fmt, 0

        def _execute_read_only(
            self, query: str, data: bytes, fmt: str, settings: dict[str, str]
        ) -> tuple[bytes, str, int]:
            session = engine.read_only_session(settings)
            try:
                if _INSERT.match(query) and data:
                    with session.send_insert(query, fmt) as inserter:
                        inserter.append(data)
                        return b"", fmt, inserter.finish().rows_written
                result = session.query(query, fmt)
            except Exception:
                engine.discard_read_only_session(settings)
                raise
            output = result.bytes() if hasattr(result, "bytes") else result
            return bytes(output.encode() if isinstance(output, str) else output or b""), fmt, 0

        do_GET = do_POST = _handle

    return Handler


def serve(port: int, path: str, user: str, password: str) -> ThreadingHTTPServer:
    """Start the stand-in on 127.0.0.1:``port`` (0 picks one); call ``serve_forever``."""
    engine = _Engine(path, user, password)
    return ThreadingHTTPServer(("127.0.0.1", port), make_handler(engine))


@contextlib.contextmanager
def running_stand_in(path: Path, password: str = TEST_PASSWORD) -> Iterator[int]:
    """Run the stand-in in its own process (chdb allows one data directory per process).

    Yields its port once it listens; stops it on the way out.
    """
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.chdb_http_server", "--port", "0",
         "--path", str(path), "--password", password],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if "listening on" not in line:
            process.wait(timeout=30)
            raise RuntimeError(f"the chdb stand-in did not start: {line}{process.stdout.read()}")
        yield int(line.rsplit(":", 1)[1])
    finally:
        process.terminate()
        process.wait(timeout=30)


def stand_in_url(port: int, password: str = TEST_PASSWORD) -> str:
    """The warehouse URL of a stand-in on ``port``."""
    return f"clickhouse://default:{quote(password, safe='')}@127.0.0.1:{port}/"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=18123)
    parser.add_argument("--path", required=True, help="chdb data directory")
    parser.add_argument("--user", default="default")
    parser.add_argument("--password", default="")
    args = parser.parse_args()
    server = serve(args.port, args.path, args.user, args.password)
    print(f"listening on 127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
