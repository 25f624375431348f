"""A source file this user may not read is a bad source, said in one line, never a bug.

Looking the path up raised ``PermissionError`` (``Path.exists()`` raises it for a file in
a directory the user may not enter), so ``status``, ``plan`` and ``materialize`` printed
``error: [Errno 13] Permission denied: '...'`` and sent the user to ``--debug`` for a
traceback; a file the user may not open failed the ingest asset as ``PermissionError: ...``
with "add --verbose for the traceback". Each is now the source's own line: the file and
"permission denied", exit 1.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from assets.sources import SOURCE_ENCODING_ENV, SOURCE_ENV
from tests.test_cli import REPO, failure_of
from tests.test_sources_encoding import sample_lines, write
from tests.unprivileged import mode, unprivileged

Run = Callable[..., subprocess.CompletedProcess[str]]
PERMISSION_DENIED = (
    "permission denied (this user may not read the file, or enter a directory on its path)"
)


@pytest.fixture
def retail(prefect_api_url: str, tmp_path: Path) -> Run:
    """`pipeline ARGS --definitions assets` as a user the files' modes hold for, on a
    warehouse in ``tmp_path``, with no source from this environment (``env`` adds one)."""
    base = {
        **{k: v for k, v in os.environ.items() if k not in (SOURCE_ENV, SOURCE_ENCODING_ENV)},
        "PREFECT_API_URL": prefect_api_url,
        "PYTHONPATH": str(REPO),
        "WAREHOUSE_URL": f"chdb://{tmp_path / 'warehouse'}",
    }

    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "orchestration", *args, "--definitions", "assets"]
        return subprocess.run(
            unprivileged(command),
            cwd=tmp_path,
            env={**base, **(env or {})},
            capture_output=True,
            text=True,
            timeout=180,
        )

    return run


def test_a_source_in_a_directory_the_user_may_not_enter_is_one_line(retail: Run, tmp_path: Path):
    """The review's `chmod 000` directory: status, plan and materialize each stop before
    any work in the source's own line, exit 1, with no `--debug` hint."""
    locked = tmp_path / "locked"
    locked.mkdir()
    source = write(locked / "data.csv", sample_lines(), "utf-8")
    said = f"error: {source}: {PERMISSION_DENIED}\n"
    with mode(locked, 0):
        for command in ("status", "plan", "materialize"):
            done = retail(command, "--source", str(source))
            assert (done.returncode, done.stdout, done.stderr) == (1, "", said), command


def test_a_source_file_the_user_may_not_read_fails_the_ingest_in_one_line(
    retail: Run, tmp_path: Path
):
    """Typed as `--source`, the file stops the command before any work, as one that is not
    there does; named by the environment, the run's ingest asset fails on it in the same
    words, and its next step offers no traceback (there is no bug to look into)."""
    source = write(tmp_path / "data.csv", sample_lines(), "utf-8")
    with mode(source, 0):
        typed = retail("materialize", "--source", str(source))
        assert (typed.returncode, typed.stdout) == (1, ""), typed.stderr
        assert typed.stderr == f"error: {source}: {PERMISSION_DENIED}\n"

        named = {SOURCE_ENV: str(source)}
        from_env = retail("materialize", "--select", "raw_online_retails", env=named)
    assert from_env.returncode == 1, from_env.stdout + from_env.stderr
    assert failure_of(from_env.stderr, "raw_online_retails") == f"{source}: {PERMISSION_DENIED}"
    assert "PermissionError" not in from_env.stdout + from_env.stderr
    assert "traceback" not in from_env.stdout + from_env.stderr
