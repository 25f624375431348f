"""Source fingerprints: files by size, times and inode, URLs by HEAD validators, else content."""

from __future__ import annotations

import hashlib
import os
import subprocess
from http.server import BaseHTTPRequestHandler

import pytest

from assets.sources.fingerprint import source_fingerprint
from orchestration.fingerprint import (
    content_fingerprint,
    file_fingerprint,
    is_available,
    url_fingerprint,
)
from orchestration.fingerprinted_source import named_source, source_switch
from tests.retail_support import http_server


class _Handler(BaseHTTPRequestHandler):
    body = b"a,b\n1,2\n"
    headers_for = {"/etag.csv": {"ETag": '"v1"'}, "/plain.csv": {}}
    gets: list[str] = []

    def _answer(self, with_body: bool) -> None:
        if self.path not in self.headers_for:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        for name, value in self.headers_for[self.path].items():
            self.send_header(name, value)
        self.end_headers()
        if with_body:
            self.wfile.write(type(self).body)

    def do_HEAD(self):
        if self.path.startswith("/no-head/"):
            # Like a presigned S3 URL: signed for GET only, so HEAD is refused.
            self.send_response(403)
            self.end_headers()
            return
        self._answer(with_body=False)

    def do_GET(self):
        self.gets.append(self.path)
        self.path = self.path.removeprefix("/no-head")
        self._answer(with_body=True)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    with http_server(_Handler) as url:
        yield url
    _Handler.body = b"a,b\n1,2\n"
    _Handler.headers_for["/etag.csv"] = {"ETag": '"v1"'}
    _Handler.gets.clear()


def test_file_fingerprint_changes_with_size_and_mtime(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("a\n1\n")
    first = file_fingerprint(path)
    assert first == file_fingerprint(path)
    os.utime(path, ns=(1, 1_000_000_000))
    assert file_fingerprint(path) != first
    touched = file_fingerprint(path)
    path.write_text("a\n1\n2\n")
    os.utime(path, ns=(1, 1_000_000_000))
    assert file_fingerprint(path) != touched


def test_a_correction_copied_with_its_size_and_mtime_kept_changes_the_fingerprint(tmp_path):
    """`cp -p` (or `rsync -t`, `touch -r`) of a corrected file of the same size sets its
    mtime back: size and mtime alone judged it unchanged, and it was never loaded."""
    path, corrected = tmp_path / "incoming.csv", tmp_path / "tmp.csv"
    path.write_text("n\n6\n")
    first = file_fingerprint(path)
    corrected.write_text("n\n7\n")
    subprocess.run(["touch", "-r", str(path), str(corrected)], check=True)
    subprocess.run(["cp", "-p", str(corrected), str(path)], check=True)
    assert path.read_text() == "n\n7\n"
    assert file_fingerprint(path) != first


def test_a_file_replaced_by_rename_with_its_size_and_mtime_changes_the_fingerprint(tmp_path):
    """A download written beside the file and renamed over it is another inode."""
    path, download = tmp_path / "incoming.csv", tmp_path / "incoming.csv.part"
    path.write_text("n\n6\n")
    first, before = file_fingerprint(path), path.stat()
    download.write_text("n\n7\n")
    os.utime(download, ns=(before.st_atime_ns, before.st_mtime_ns))
    download.replace(path)
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    assert f"ino={path.stat().st_ino}" in file_fingerprint(path)
    assert file_fingerprint(path) != first


def test_reading_a_file_keeps_its_fingerprint_and_chmod_changes_it(tmp_path):
    """A run reads the file after taking its fingerprint: that must not make it stale. A
    chmod changes the inode's change time, so it costs one reload, which adds nothing to
    the insert-only vault (tests/test_cli_status.py, tests/test_retail_pipeline.py)."""
    path = tmp_path / "incoming.csv"
    path.write_text("n\n6\n")
    first = file_fingerprint(path)
    assert path.read_text() == "n\n6\n"
    assert file_fingerprint(path) == first
    path.chmod(0o600)
    assert file_fingerprint(path) != first


def test_a_file_fingerprint_recorded_before_inode_fields_names_the_same_source(tmp_path):
    """Recorded by an earlier version (size and mtime only): it cannot say whether the file
    was corrected since, so the asset is stale once, as the same source whose data changed
    (no --source to pass, no run refused as reading another source)."""
    path = tmp_path / "incoming.csv"
    path.write_text("n\n6\n")
    info = path.stat()
    recorded = f"file {path.resolve()} size={info.st_size} mtime_ns={info.st_mtime_ns}"
    now = file_fingerprint(path)
    assert now != recorded
    for encoding in ("", " encoding=iso8859-1"):
        assert named_source(recorded + encoding) == named_source(now + encoding) is not None
        assert source_switch(recorded + encoding, now + encoding) is None


def test_missing_file_is_unavailable(tmp_path):
    fingerprint = file_fingerprint(tmp_path / "gone.csv")
    assert not is_available(fingerprint)
    assert "gone.csv" in fingerprint


def test_a_missing_file_is_named_by_the_path_given(tmp_path, monkeypatch):
    """``status`` said "source cannot be asked (file orders.csv: No such file or
    directory)" of the README's ``data/orders.csv``: its base name, not the path to
    look for."""
    monkeypatch.chdir(tmp_path)
    fingerprint = file_fingerprint("data/orders.csv")
    assert fingerprint == "unavailable: file data/orders.csv: No such file or directory"


def test_content_fingerprint_follows_the_bytes(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(b"one")
    first = content_fingerprint(path)
    path.write_bytes(b"two")
    assert content_fingerprint(path) != first


def test_url_with_etag_is_fingerprinted_by_head(server):
    first = url_fingerprint(f"{server}/etag.csv")
    assert '"etag": "\\"v1\\""' in first
    _Handler.body = b"changed but same etag"
    assert url_fingerprint(f"{server}/etag.csv") == first  # HEAD only: the body is not read
    _Handler.headers_for["/etag.csv"] = {"ETag": '"v2"'}
    assert url_fingerprint(f"{server}/etag.csv") != first


def test_url_without_validators_is_fingerprinted_by_content(server):
    first = url_fingerprint(f"{server}/plain.csv")
    assert "sha256=" in first
    _Handler.body = b"a,b\n1,3\n"
    assert url_fingerprint(f"{server}/plain.csv") != first


def test_url_that_refuses_head_is_fingerprinted_by_the_validators_of_its_get(server):
    first = url_fingerprint(f"{server}/no-head/etag.csv")
    assert is_available(first)
    assert '"etag": "\\"v1\\""' in first
    assert url_fingerprint(f"{server}/no-head/etag.csv") == first
    _Handler.headers_for["/etag.csv"] = {"ETag": '"v2"'}
    assert url_fingerprint(f"{server}/no-head/etag.csv") != first


def test_url_that_refuses_head_and_sends_no_validators_is_fingerprinted_by_content(server):
    first = url_fingerprint(f"{server}/no-head/plain.csv")
    assert "sha256=" in first
    _Handler.body = b"a,b\n1,3\n"
    assert url_fingerprint(f"{server}/no-head/plain.csv") != first
    assert _Handler.gets == ["/no-head/plain.csv"] * 2  # one GET each: not one to look, one to read


def test_url_fingerprint_never_shows_the_url(server):
    fingerprint = url_fingerprint(f"{server}/etag.csv?token=secret")
    assert "secret" not in fingerprint and "127.0.0.1" not in fingerprint


def _url_hash(fingerprint: str) -> str:
    """The hash a URL's fingerprint names it by (``url <hash> ...``)."""
    kind, name, *_ = fingerprint.removeprefix("unavailable: ").split()
    assert kind == "url", fingerprint
    return name.rstrip(":")


def test_url_fingerprint_hashes_the_url_without_its_credentials(server):
    """An unsalted hash of a URL with its password lets a short password be found by
    guessing offline; the hash is in ``status --json``, asset pages and the warehouse."""
    address = server.removeprefix("http://")
    plain = url_fingerprint(f"{server}/etag.csv")
    assert url_fingerprint(f"http://etl:pw-K3@{address}/etag.csv") == plain
    assert url_fingerprint(f"http://etl@{address}/etag.csv") == plain
    missing = _url_hash(url_fingerprint(f"{server}/missing.csv"))
    assert _url_hash(url_fingerprint(f"http://etl:pw-K3@{address}/missing.csv")) == missing
    # The rest of the URL still counts: another query may be another file.
    assert _url_hash(url_fingerprint(f"{server}/etag.csv?v=2")) != _url_hash(plain)


def test_a_url_without_credentials_keeps_the_fingerprint_recorded_before(server):
    """Recorded fingerprints of URLs without credentials still match after an upgrade."""
    url = f"{server}/etag.csv?token=t0k"
    assert _url_hash(url_fingerprint(url)) == hashlib.sha256(url.encode()).hexdigest()[:16]


def test_unreachable_or_missing_url_is_unavailable(server):
    assert not is_available(url_fingerprint(f"{server}/missing.csv"))
    assert not is_available(url_fingerprint("http://127.0.0.1:9/x.csv", timeout=1))


def test_synthetic_source_is_fingerprinted_by_its_parameters():
    assert (
        source_fingerprint({"source": "synthetic:100:7"}) == "synthetic rows=100 seed=7 version=2"
    )
    assert source_fingerprint({"source": "synthetic:100"}) != source_fingerprint(
        {"source": "synthetic:200"}
    )


def test_a_warehouse_built_by_an_earlier_generator_has_its_data_changed_not_its_source():
    """Recorded before the generator had a version: the same (rows, seed) are the same
    source, whose rows changed, so the ingest asset is stale, with no --source to pass."""
    recorded = "synthetic rows=100 seed=7"
    now = source_fingerprint({"source": "synthetic:100:7"})
    assert now != recorded
    assert named_source(recorded) == named_source(now)
    assert source_switch(recorded, now) is None


def test_retail_source_fingerprint_of_a_file(tmp_path):
    path = tmp_path / "online_retail.csv"
    path.write_text("x")
    assert source_fingerprint({"source": str(path)}) == file_fingerprint(path)
