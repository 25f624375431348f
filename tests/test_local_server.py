"""The local Prefect server a run starts in the background when no API is configured.

Every test runs real ``pipeline`` processes with a Prefect home of its own and stops the
server it caused, whatever happens.
"""

from __future__ import annotations

import contextlib
import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestration import local_server, warm_start
from orchestration.prefect_server import free_port
from tests.prefect_api import api
from tests.server_logs import frozen_start_up_objects
from tests.waiting import wait_for

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


def server_status(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``pipeline server status`` where no warm starter runs: one a command run before on
    this machine left in the user's directory would be named on a line of its own."""
    starters = Path(env["PREFECT_HOME"]).parent / "no-warm-starters"
    return pipeline({**env, warm_start.DIR_ENV: str(starters)}, "server", "status")


def flow_run_count(api_url: str) -> int:
    return int(api(api_url, "/flow_runs/count", {}))


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
    assert "`pipeline server stop` stops it and your warm starters" in first.stderr
    server = local_server.running(home)
    assert server is not None
    assert frozen_start_up_objects(server.log_path.read_text()) > 100_000
    assert f"Flow run:  {server.url}/v2/runs/flow-run/" in first.stdout
    assert f"Warehouse: chdb://{tmp_path / 'warehouse'}\n" in first.stdout  # where it went
    assert flow_run_count(server.api_url) == 1

    second = pipeline(env, "materialize", *LOCATION, "--source", "synthetic:5", *warehouse)
    assert second.returncode == 0, second.stderr
    assert second.stderr == ""  # nothing started, nothing to say
    assert local_server.running(home) == server
    assert flow_run_count(server.api_url) == 2

    status = server_status(env)
    assert status.returncode == 0
    assert f"UI {server.url}/v2" in status.stdout and f"process {server.pid}" in status.stdout

    stopped = pipeline(env, "server", "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert f"stopped the Prefect server at {server.url}" in stopped.stdout
    assert local_server.recorded(home) is None
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{server.api_url}/health", timeout=2)
    down = server_status(env)
    assert down.returncode == 1
    # What to do about it, as when a configured server does not answer.
    assert down.stdout == (
        f"no local Prefect server is running (Prefect home {home}): "
        "pipeline server start starts one, as the next run does\n"
    )


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


@pytest.mark.parametrize("userinfo", ["", "ci:s3cret@"])
def test_server_status_with_a_configured_api_url_says_runs_go_there_and_it_answers(
    home: Path, prefect_api_url: str, userinfo: str
) -> None:
    """The same with credentials (a proxy in front of the server asks for them): sent as
    Prefect's client sends them, named nowhere."""
    import prefect

    typed = prefect_api_url.replace("://", f"://{userinfo}", 1)
    env = newcomer_env(home, PREFECT_API_URL=typed)
    status = server_status(env)
    assert (status.returncode, status.stderr) == (0, "")
    ui = f"{prefect_api_url.removesuffix('/api')}/v2"  # Prefect's UI for that API
    assert status.stdout == (
        f"runs go to PREFECT_API_URL={prefect_api_url} (answers; Prefect {prefect.__version__})"
        f", UI {ui}\n"
    )
    assert local_server.recorded(home) is None


def test_server_status_with_a_configured_api_url_that_does_not_answer_exits_1(
    home: Path,
) -> None:
    url = f"http://127.0.0.1:{free_port()}/api"  # nothing listens there
    status = server_status(newcomer_env(home, PREFECT_API_URL=url))
    assert (status.returncode, status.stderr) == (1, "")
    assert status.stdout == (
        f"runs go to PREFECT_API_URL={url} (does not answer: connection refused): "
        "start that server, or unset PREFECT_API_URL to run on the local one\n"
    )


def test_server_status_never_shows_the_credentials_of_a_configured_api_url(
    home: Path,
) -> None:
    """A URL with a password or a token is probed as a run probes it (the credentials
    sent as Prefect's client sends them), and named without them."""
    port = free_port()  # nothing listens there
    url = f"http://ci:s3cret@127.0.0.1:{port}/api?token=t0ken"
    status = server_status(newcomer_env(home, PREFECT_API_URL=url))
    assert (status.returncode, status.stderr) == (1, "")
    assert status.stdout == (
        f"runs go to PREFECT_API_URL=http://127.0.0.1:{port}/api (does not answer: connection "
        "refused): start that server, or unset PREFECT_API_URL to run on the local one\n"
    )


def test_server_start_with_a_configured_api_url_says_runs_do_not_use_that_server(
    home: Path, prefect_api_url: str
) -> None:
    """Started on request, and the one line says runs go elsewhere; unless the setting
    names this very server, as when it was copied from ``pipeline server start``."""
    elsewhere = newcomer_env(home, PREFECT_API_URL=prefect_api_url)
    started = pipeline(elsewhere, "server", "start")
    assert started.returncode == 0, started.stderr
    server = local_server.running(home)
    assert server is not None
    assert started.stdout.startswith(f"Prefect server started: UI {server.url}/v2")
    assert started.stderr == (
        f"warning: runs go to PREFECT_API_URL={prefect_api_url}, not to this server: "
        "unset PREFECT_API_URL for runs to use it\n"
    )
    status = server_status(elsewhere)
    assert status.returncode == 0, status.stderr
    runs, local = status.stdout.splitlines()
    assert runs.startswith(f"runs go to PREFECT_API_URL={prefect_api_url} (answers; Prefect ")
    # The UI the runs are in comes first, not only the unused local server's.
    assert runs.endswith(f", UI {prefect_api_url.removesuffix('/api')}/v2")
    assert local == (
        "the local Prefect server runs too, unused while PREFECT_API_URL is set: "
        f"UI {server.url}/v2, API {server.api_url}, process {server.pid}, log {server.log_path}"
    )

    itself = newcomer_env(home, PREFECT_API_URL=server.api_url)
    again = pipeline(itself, "server", "start")
    assert (again.returncode, again.stderr) == (0, "")
    assert again.stdout.startswith(f"Prefect server already running: UI {server.url}/v2")
    status = server_status(itself)
    assert status.returncode == 0, status.stderr
    runs, local = status.stdout.splitlines()
    assert runs.startswith(f"runs go to PREFECT_API_URL={server.api_url} (answers; Prefect ")
    assert local.startswith(f"it is the local Prefect server: UI {server.url}/v2, ")


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


def group_environments(pgid: int) -> dict[int, list[bytes]]:
    """``/proc/PID/environ`` of every process in process group ``pgid``: the server, and
    any process it starts."""
    found = {}
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and os.getpgid(int(proc.name)) == pgid:
                found[int(proc.name)] = (proc / "environ").read_bytes().split(b"\0")
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


def test_the_background_server_keeps_none_of_the_starting_commands_secrets(home: Path) -> None:
    """It outlives the command by hours; it held the whole environment of the command that
    started it (a warehouse password, a Pushgateway URL with credentials) in
    ``/proc/PID/environ``, which the user's every process can read."""
    secret = "Zk8-secret-Qv3"
    setting = "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE"
    env = newcomer_env(
        home,
        WAREHOUSE_URL=f"clickhouse://etl:{secret}@127.0.0.1:8123/",
        CLICKHOUSE_PASSWORD=secret,
        PUSHGATEWAY_URL=f"http://pg:{secret}@127.0.0.1:9091",
        AWS_SECRET_ACCESS_KEY=secret,
        **{setting: "7"},  # the user's server settings stay theirs
    )
    # Not on Prefect's 4200, which a person's own server may hold.
    code = (
        "from orchestration import local_server\n"
        "from orchestration.prefect_server import free_port\n"
        "local_server.PREFERRED_PORT = free_port()\n"
        "print(local_server.ensure(300)[0].pid)\n"
    )
    started = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=600
    )
    assert started.returncode == 0, started.stderr
    pid = int(started.stdout.strip())
    environments = group_environments(pid)
    assert pid in environments
    for environ in environments.values():
        assert not [item for item in environ if secret.encode() in item]
        assert f"PREFECT_HOME={home}".encode() in environ
        assert f"{setting}=7".encode() in environ


# --------------------------------------------------------------------------- pipeline serve

SERVING = "Serving deployment"


@contextlib.contextmanager
def serving(
    env: dict[str, str], tmp_path: Path, *args: str, location: tuple[str, ...] = LOCATION
) -> Iterator[tuple[Path, Path]]:
    """``pipeline serve ARGS`` of ``location`` in the background until the block ends, then
    Ctrl+C (killed if it lingers); yields the files its stdout and stderr go to, as a log
    file would.

    It runs in a process group of its own, ended with it, so a test that fails leaves
    nothing behind; a temporary Prefect server still there after the Ctrl+C fails the test.
    """
    out, err = tmp_path / "serve.out", tmp_path / "serve.err"
    with out.open("w") as stdout, err.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "orchestration", "serve", *location, *args],
            cwd=REPO,
            env=env,
            stdout=stdout,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        wait_for(
            lambda: SERVING in out.read_text() or process.poll() is not None,
            600,
            "pipeline serve to start serving",
        )
        assert process.poll() is None, f"pipeline serve exited: {err.read_text()}"
        yield out, err
    finally:
        interrupt(process)
        left = temporary_servers(Path(env["PREFECT_HOME"]))
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)  # what it started and left behind
    assert not left, f"pipeline serve left its temporary Prefect server running: {left}"


def temporary_servers(home: Path) -> list[str]:
    """The Prefect temporary servers (uvicorn processes) running on Prefect home ``home``,
    whoever their parent is now: one its command left behind is re-parented to PID 1."""
    wanted = {f"PREFECT_HOME={home}".encode(), b"PREFECT__SERVER_EPHEMERAL=1"}
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if not proc.name.isdigit() or not wanted <= set(
                (proc / "environ").read_bytes().split(b"\0")
            ):
                continue
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if state != "Z":
            found.append(f"{proc.name}: {command[:100]}")
    return found


def interrupt(process: subprocess.Popen[Any]) -> None:
    """Ctrl-C, as a user stops ``pipeline serve``; killed if it does not stop in a minute."""
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def test_a_process_a_test_starts_takes_ctrl_c_as_on_a_terminal() -> None:
    """The serve tests' Ctrl+C reaches Python's KeyboardInterrupt even when the suite was
    started in the background (``make test &``), which ignores SIGINT (see conftest.py)."""
    shown = subprocess.run(
        [sys.executable, "-c", "import signal; print(signal.getsignal(signal.SIGINT))"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "default_int_handler" in shown, shown  # "1": SIGINT ignored


def served_deployment(api_url: str, name: str) -> dict[str, Any] | None:
    try:
        return api(api_url, f"/deployments/name/materialize-assets/{name}")
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise


def serve_env(home: Path, **extra: str) -> dict[str, str]:
    """A newcomer's environment; the runner polls every second so a triggered run starts
    at once (Prefect's default is 10 s)."""
    return newcomer_env(home, PREFECT_RUNNER_POLL_FREQUENCY="1", **extra)


def test_serve_starts_the_local_server_and_registers_its_deployment_there(
    home: Path, tmp_path: Path
) -> None:
    warehouse = ("--warehouse", f"chdb://{tmp_path / 'warehouse'}")
    with serving(serve_env(home), tmp_path, "--name", "nightly", *warehouse) as (out, err):
        server = local_server.running(home)
        assert server is not None, f"pipeline serve started no local server: {err.read_text()}"
        deployment = wait_for(
            lambda: served_deployment(server.api_url, "nightly"), 120, "the deployment"
        )
    assert deployment["schedules"][0]["schedule"]["cron"] == "0 0 * * *"
    said = err.read_text()
    assert f"Prefect server running in the background: UI {server.url}/v2" in said
    serving_line = "Serving deployment 'materialize-assets/nightly' on '0 0 * * *' (UTC), "
    printed = out.read_text()
    assert (
        f"{serving_line}UI {server.url}/v2/deployments (its Run button starts a run now); "
        "Ctrl+C stops it." in printed
    )
    # Prefect's own banner linked V1 pages (no Mermaid) and a `prefect` command that, in a
    # shell without PREFECT_API_URL, would not find this server: not printed.
    assert all("/v2/" in url for url in re.findall(r"https?://\S+", printed)), printed
    assert "prefect deployment run" not in printed
    assert "temporary" not in said
    assert local_server.running(home) == server  # serve's end leaves the server running


def test_serve_uses_the_running_local_server_whose_ui_then_shows_its_runs(
    home: Path, tmp_path: Path
) -> None:
    server, _ = local_server.ensure(300, home)  # as `pipeline server start` does
    warehouse = ("--warehouse", f"chdb://{tmp_path / 'warehouse'}")
    args = ("--name", "every-minute", "--cron", "* * * * *", "--source", "synthetic:4")
    with serving(serve_env(home), tmp_path, *args, *warehouse) as (out, err):
        deployment = wait_for(
            lambda: served_deployment(server.api_url, "every-minute"), 120, "the deployment"
        )
        # A run started from the server's UI ("Run" on the deployment page) is run by serve.
        run = api(server.api_url, f"/deployments/{deployment['id']}/create_flow_run", {})

        def finished() -> dict[str, Any] | None:
            state = api(server.api_url, f"/flow_runs/{run['id']}")["state"]
            return state if state["type"] in ("COMPLETED", "FAILED", "CRASHED") else None

        state = wait_for(finished, 300, "the served run to finish")
    assert (state["type"], state["message"]) == ("COMPLETED", "2 materialized"), err.read_text()
    assert local_server.running(home) == server  # reused, not replaced
    said = err.read_text()
    assert "Prefect server running in the background" not in said  # nothing started
    assert "Starting temporary server" not in said and "temporary" not in said
    assert f", UI {server.url}/v2/deployments (" in out.read_text()


def test_serve_with_the_temporary_server_opt_out_starts_no_local_server(
    home: Path, tmp_path: Path
) -> None:
    env = serve_env(home, PIPELINE_PREFECT_SERVER="temporary")
    with serving(env, tmp_path, "--warehouse", f"chdb://{tmp_path / 'warehouse'}") as (_, err):
        assert local_server.recorded(home) is None
    (warning,) = [line for line in err.read_text().splitlines() if line.startswith("warning:")]
    assert "temporary Prefect server that stops with this command, with no UI" in warning
    assert local_server.recorded(home) is None


@pytest.mark.parametrize(
    ("signum", "to_group", "code"),
    [
        (signal.SIGINT, True, 130),  # Ctrl+C on a terminal: serve and its children
        (signal.SIGINT, False, 130),  # kill -INT PID
        (signal.SIGTERM, False, 143),  # kill PID, as a supervisor stops it
    ],
    ids=["ctrl-c", "sigint-to-serve-only", "sigterm-to-serve-only"],
)
def test_serve_stopped_while_its_temporary_server_starts_leaves_no_server_running(
    home: Path, tmp_path: Path, signum: signal.Signals, to_group: bool, code: int
) -> None:
    """The temporary server serve caused to start ends with serve, however it is stopped;
    only the signal the user's action sends is sent (no clean-up by the test counts)."""
    env = serve_env(home, PIPELINE_PREFECT_SERVER="temporary")
    err = tmp_path / "serve.err"  # a file: a server left behind would hold a pipe open
    with err.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "orchestration", "serve", *LOCATION,
             "--warehouse", f"chdb://{tmp_path / 'warehouse'}"],
            cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=stderr, start_new_session=True,
        )  # fmt: skip
    try:
        wait_for(
            lambda: temporary_servers(home) or process.poll() is not None,
            300,
            "pipeline serve to start its temporary server",
            interval=0.05,
        )
        assert process.poll() is None, err.read_text()
        (os.killpg if to_group else os.kill)(process.pid, signum)
        process.wait(timeout=60)
        left = temporary_servers(home)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # a failed test leaves nothing behind
        process.wait()
    said = err.read_text()
    assert not left, f"the temporary server outlived pipeline serve: {left}\n{said}"
    assert process.returncode == code, said
    if not to_group:  # a terminal's Ctrl+C also reaches the server, whose Python may report it
        assert "Traceback" not in said


def test_serve_on_a_configured_api_url_starts_nothing_and_names_that_ui(
    home: Path, tmp_path: Path, prefect_api_url: str
) -> None:
    env = serve_env(home, PREFECT_API_URL=prefect_api_url)
    ui = prefect_api_url.removesuffix("/api")
    warehouse = ("--warehouse", f"chdb://{tmp_path / 'warehouse'}")
    with serving(env, tmp_path, "--name", "configured", *warehouse) as (out, err):
        wait_for(lambda: served_deployment(prefect_api_url, "configured"), 120, "the deployment")
    assert local_server.recorded(home) is None
    assert f", UI {ui}/v2/deployments (" in out.read_text()
    assert "warning" not in err.read_text()


def _read_until(fd: int, text: str, timeout: float) -> str:
    """What a terminal shows until ``text`` appears (or ``timeout``, or the end)."""
    shown = b""
    deadline = time.monotonic() + timeout
    # poll, not select: in a whole test session the pty's descriptor can pass 1023,
    # beyond what select() takes (in-process chdb sessions keep files open).
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    while text.encode() not in shown and time.monotonic() < deadline:
        if poller.poll(500):
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the other end closed: the process exited
                break
            if not chunk:
                break
            shown += chunk
    return shown.decode(errors="replace")


def test_serve_on_a_newcomers_terminal_shows_no_telemetry_notice(
    home: Path, tmp_path: Path, prefect_api_url: str
) -> None:
    """Prefect's telemetry stays off in ``serve`` as in ``materialize``: its first-run
    notice on a terminal, and the usage events behind it, are not what a user asked for."""
    env = serve_env(home, PREFECT_API_URL=prefect_api_url)
    for prefect_looks_at in ("CI", "DO_NOT_TRACK"):  # a person's terminal, not a CI job
        env.pop(prefect_looks_at, None)
    terminal, its_end = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestration", "serve", *LOCATION, "--name", "on-a-terminal",
         "--warehouse", f"chdb://{tmp_path / 'warehouse'}"],
        cwd=REPO, env=env, stdin=its_end, stdout=its_end, stderr=its_end,
    )  # fmt: skip
    os.close(its_end)
    try:
        shown = _read_until(terminal, SERVING, 300)
    finally:
        interrupt(process)
        os.close(terminal)
    assert SERVING in shown, shown
    assert "anonymous usage data" not in shown
