"""The local Prefect server a run starts in the background when no API is configured.

Every test runs real ``pipeline`` processes with a Prefect home of its own and stops the
server it caused, whatever happens.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestration import local_server
from tests.server_logs import frozen_start_up_objects

REPO = Path(__file__).resolve().parents[1]
LOCATION = ("--definitions", "tests.serve_location")


def newcomer_env(home: Path, **extra: str) -> dict[str, str]:
    """No Prefect settings at all and no server mode: what a first-time user has."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.pop(local_server.MODE_ENV, None)
    return {**env, "PREFECT_HOME": str(home), **extra}


def pipeline(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestration", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def flow_run_count(api_url: str) -> int:
    request = urllib.request.Request(
        f"{api_url}/flow_runs/count", data=b"{}", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return int(json.loads(response.read()))


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "prefect-home"
    yield path
    local_server.stop(path)  # whatever the test left running


def test_first_run_starts_the_server_later_runs_reuse_it_and_stop_ends_it(
    home: Path, tmp_path: Path
) -> None:
    env = newcomer_env(home)
    warehouse = ("--warehouse", f"chdb://{tmp_path / 'warehouse'}")

    first = pipeline(env, "materialize", *LOCATION, "--source", "synthetic:5", *warehouse)
    assert first.returncode == 0, first.stderr
    assert first.stderr.startswith("Prefect server running in the background: UI http://")
    assert "`pipeline server stop` stops it" in first.stderr
    server = local_server.running(home)
    assert server is not None
    assert frozen_start_up_objects(server.log_path.read_text()) > 100_000
    assert f"Flow run:  {server.url}/v2/runs/flow-run/" in first.stdout
    assert flow_run_count(server.api_url) == 1

    second = pipeline(env, "materialize", *LOCATION, "--source", "synthetic:5", *warehouse)
    assert second.returncode == 0, second.stderr
    assert second.stderr == ""  # nothing started, nothing to say
    assert local_server.running(home) == server
    assert flow_run_count(server.api_url) == 2

    status = pipeline(env, "server", "status")
    assert status.returncode == 0
    assert f"UI {server.url}/v2" in status.stdout and f"process {server.pid}" in status.stdout

    stopped = pipeline(env, "server", "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert f"stopped the Prefect server at {server.url}" in stopped.stdout
    assert local_server.recorded(home) is None
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{server.api_url}/health", timeout=2)
    assert pipeline(env, "server", "status").returncode == 1


def test_two_commands_at_once_start_one_server(home: Path) -> None:
    code = (
        "from orchestration import local_server\n"
        "server, started = local_server.ensure(300)\n"
        "print(server.pid, started)\n"
    )
    env = newcomer_env(home)
    starts = [
        subprocess.Popen(
            [sys.executable, "-c", code], cwd=REPO, env=env, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    answers = sorted(process.communicate(timeout=600)[0].split() for process in starts)
    assert [started for _, started in answers] == ["False", "True"]
    assert answers[0][0] == answers[1][0]  # the same server process


def test_a_stale_record_is_replaced_and_an_unrelated_process_is_left_alone(
    home: Path,
) -> None:
    bystander = subprocess.Popen(["sleep", "300"])  # holds the recorded process number
    try:
        home.mkdir(parents=True)
        (home / "pipeline-server.json").write_text(
            json.dumps({"url": "http://127.0.0.1:9", "pid": bystander.pid, "log": "x"})
        )
        server, started = local_server.ensure(300, home)
        assert started and server.pid != bystander.pid
        assert local_server.running(home) == server
        assert bystander.poll() is None  # never signalled: it is not a Prefect server
    finally:
        bystander.kill()
        bystander.wait()


def _wait_for_exec(pid: int, marker: bytes, timeout: float = 30.0) -> None:
    """Wait until process ``pid`` runs the program whose command line holds ``marker``."""
    deadline = time.monotonic() + timeout
    while marker not in Path(f"/proc/{pid}/cmdline").read_bytes():
        assert time.monotonic() < deadline, f"process {pid} did not start in {timeout} s"
        time.sleep(0.01)


def test_only_a_prefect_server_process_counts_as_the_background_server() -> None:
    """A recorded process is signalled only if it is a server: started this project's way
    or, by an earlier version, as ``prefect server start``; never an unrelated process."""
    sleeper = [sys.executable, "-c", "import time; time.sleep(300)"]
    started_as = {
        "this project's": ["orchestration.server_process", "server", "start"],
        "an earlier version's": ["prefect", "server", "start"],
        "unrelated": ["server", "start"],
    }
    processes = {name: subprocess.Popen(sleeper + args) for name, args in started_as.items()}
    try:
        for process in processes.values():  # until it has exec'd, it shows pytest's cmdline
            _wait_for_exec(process.pid, b"time.sleep(300)")
        recognised = {name: local_server._alive(p.pid) for name, p in processes.items()}
        assert recognised == {
            "this project's": True,
            "an earlier version's": True,
            "unrelated": False,
        }
    finally:
        for process in processes.values():
            process.kill()
            process.wait()
    assert not local_server._alive(processes["this project's"].pid)  # gone: not alive


def test_a_configured_api_url_wins_and_starts_nothing(
    home: Path, tmp_path: Path, prefect_api_url: str
) -> None:
    env = newcomer_env(home, PREFECT_API_URL=prefect_api_url)
    result = pipeline(
        env, "materialize", *LOCATION, "--source", "synthetic:2",
        "--warehouse", f"chdb://{tmp_path / 'warehouse'}",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert local_server.recorded(home) is None


def test_an_unknown_server_mode_is_one_clear_line(home: Path, tmp_path: Path) -> None:
    env = newcomer_env(home, PIPELINE_PREFECT_SERVER="sometimes")
    result = pipeline(
        env, "materialize", *LOCATION, "--warehouse", f"chdb://{tmp_path / 'warehouse'}"
    )
    assert result.returncode == 1
    first = result.stderr.splitlines()[0]
    assert first.startswith("error: PIPELINE_PREFECT_SERVER='sometimes' is not valid: use")
    assert "Traceback" not in result.stderr
    assert local_server.recorded(home) is None


def _recorder_settings(api_url: str) -> dict[str, object]:
    with urllib.request.urlopen(f"{api_url}/admin/settings", timeout=30) as response:
        return json.loads(response.read())["server"]["services"]["task_run_recorder"]


@pytest.mark.parametrize(("user_setting", "batch_size"), [(None, 100), ("7", 7)])
def test_the_background_server_batches_task_run_states_unless_the_user_set_it(
    home: Path, user_setting: str | None, batch_size: int
) -> None:
    setting = "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE"
    env = newcomer_env(home, **({setting: user_setting} if user_setting else {}))
    code = "from orchestration import local_server\nprint(local_server.ensure(300)[0].api_url)\n"
    started = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=600
    )
    assert started.returncode == 0, started.stderr
    recorder = _recorder_settings(started.stdout.strip())
    assert recorder["batch_size"] == batch_size
    assert recorder["flush_interval"] == 1.0
