"""Warm start: a real starter process forks real ``pipeline`` commands.

Each test runs the command as a user does (``python -m orchestration``, a real process)
against a starter in its own private directory, and compares with the same command cold.
A command that ran warm never imported the CLI in its own process: ``-X importtime`` on
the command's process shows it (the forked child inherits no such flag).
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from orchestration import local_server, warm_start
from orchestration.process_context import process_context
from tests import terminal
from tests.context_location import REPORT_ENV
from tests.printing_location import AT_IMPORT, IN_THE_BODY
from tests.safety_location import SLOW_MARKER_ENV
from tests.unprivileged import unprivileged
from tests.waiting import wait_for

REPO = Path(__file__).resolve().parents[1]
LIST = ("list", "--definitions", "tests.example_location")


@pytest.fixture
def warm_env() -> Iterator[dict[str, str]]:
    """Warm start on, in a short private directory (a Unix socket path has ~100 bytes)."""
    directory = tempfile.mkdtemp(prefix="pw-")
    env = {**os.environ, warm_start.MODE_ENV: "on", warm_start.DIR_ENV: directory}
    env.pop("CI", None)
    yield env
    warm_start.stop_all(env)
    for pid in _starters_in(directory):  # e.g. one a cold command left, still importing
        os.kill(pid, signal.SIGKILL)
    shutil.rmtree(directory, ignore_errors=True)


def _starters_in(directory: str) -> list[int]:
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            command = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if b"orchestration.warm_server" in command and directory.encode() in command:
            found.append(int(proc.name))
    return found


def start_starter(env: dict[str, str]) -> subprocess.Popen[bytes]:
    """A starter for ``env``, as a cold command leaves one; returns once it listens."""
    process = warm_start.spawn_starter(env)
    path = warm_start.socket_path(env)
    wait_for(path.exists, 120, f"a starter listening on {path}", interval=0.1)
    return process


@pytest.fixture
def starter(warm_env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    process = start_starter(warm_env)
    yield process
    warm_start.stop_all(warm_env)
    try:
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()


def pipeline(
    env: dict[str, str],
    *args: str,
    cwd: Path = REPO,
    importtime: bool = False,
    prefix: Sequence[str] = (),
) -> subprocess.CompletedProcess[str]:
    """The command run as a user runs it; ``prefix`` is what it runs under (``nice``,
    ``unshare``), as a shell would run ``nice pipeline ...``."""
    flags = ["-X", "importtime"] if importtime else []
    return subprocess.run(
        [*prefix, sys.executable, *flags, "-m", "orchestration", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def ran_warm(env: dict[str, str], *args: str) -> bool:
    """Whether the command's own process did without the CLI (a starter's child ran it)."""
    result = pipeline(env, *args, importtime=True)
    assert result.returncode == 0, result.stderr
    return "orchestration.cli\n" not in result.stderr


def cold(env: dict[str, str]) -> dict[str, str]:
    return {**env, warm_start.MODE_ENV: "off"}


@pytest.mark.parametrize(
    "args",
    [
        (*LIST, "--json"),
        (*LIST, "--select", "group:marts"),
        (*LIST, "--select", "key:nosuch"),  # a usage error: one line on stderr, exit 2
        ("list", "--definitions", "tests.no_such_location"),
    ],
)
def test_a_warm_command_prints_and_exits_exactly_as_a_cold_one(
    warm_env: dict[str, str], starter: subprocess.Popen[bytes], args: tuple[str, ...]
) -> None:
    warm, cold_run = pipeline(warm_env, *args), pipeline(cold(warm_env), *args)
    assert (warm.returncode, warm.stdout, warm.stderr) == (
        cold_run.returncode,
        cold_run.stdout,
        cold_run.stderr,
    )
    assert ran_warm(warm_env, *LIST)
    assert not ran_warm(cold(warm_env), *LIST)  # the check itself can tell the two apart


def test_a_run_that_found_the_local_prefect_server_leaves_a_starter_the_next_run_uses(
    warm_env: dict[str, str], tmp_path: Path
) -> None:
    # What a newcomer's `make run` does: no Prefect settings, so the first run starts the
    # local server and points itself at it (PREFECT_API_URL in its own environment). The
    # starter it leaves must serve the environment the next run is launched with.
    home = tmp_path / "prefect-home"
    env = {k: v for k, v in warm_env.items() if not k.startswith("PREFECT_")}
    env.pop(local_server.MODE_ENV, None)
    env["PREFECT_HOME"] = str(home)
    run = ("materialize", "--definitions", "tests.serve_location", "--source", "synthetic:5")
    run += ("--warehouse", f"chdb://{tmp_path / 'warehouse'}")
    try:
        first = pipeline(env, *run, importtime=True)
        assert first.returncode == 0, first.stderr
        assert "orchestration.cli\n" in first.stderr  # cold: no starter yet
        assert local_server.running(home) is not None
        wait_for(
            warm_start.socket_path(env).exists,
            120,
            "a starter for the next run's environment",
            interval=0.1,
        )
        second = pipeline(env, *run, importtime=True)
        assert second.returncode == 0, second.stderr
        assert "orchestration.cli\n" not in second.stderr  # warm
    finally:
        warm_start.stop_all(env)
        local_server.stop(home)


def test_the_first_command_runs_cold_and_leaves_a_starter_the_next_one_uses(
    warm_env: dict[str, str],
) -> None:
    assert not ran_warm(warm_env, *LIST)
    wait_for(
        warm_start.socket_path(warm_env).exists,
        120,
        "the starter the cold command leaves",
        interval=0.1,
    )
    assert ran_warm(warm_env, *LIST)
    assert warm_start.stop_all(warm_env) == 1
    assert not warm_start.socket_path(warm_env).exists()


def test_the_command_gets_its_own_directory_environment_and_import_path(
    warm_env: dict[str, str], starter: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    # A code location importable only from the command's directory (``python -m`` puts
    # the working directory first on the import path), named by the command's environment.
    (tmp_path / "here_location.py").write_text((REPO / "tests" / "example_location.py").read_text())
    env = {**warm_env, "PIPELINE_DEFINITIONS": "here_location", "PYTHONPATH": str(REPO)}
    # PYTHONPATH is read at start-up: this environment needs (and gets) a starter of its own.
    own = start_starter(env)
    try:
        warm = pipeline(env, "list", "--json", cwd=tmp_path)
        assert warm.returncode == 0, warm.stderr
        assert '"key": "daily_revenue"' in warm.stdout
        assert warm.stdout == pipeline(cold(env), "list", "--json", cwd=tmp_path).stdout
    finally:
        warm_start.stop_all(env)
        own.wait(timeout=10)


def _printing_location_env(
    warm_env: dict[str, str], prefect_api_url: str, tmp_path: Path
) -> dict[str, str]:
    """``warm_env`` for ``tests.printing_location`` on a warehouse of its own; the API URL
    is read at import, so these commands get a starter of their own."""
    return {
        **warm_env,
        "PREFECT_API_URL": prefect_api_url,
        "WAREHOUSE_URL": f"chdb://{tmp_path / 'wh'}",
        "PIPELINE_DEFINITIONS": "tests.printing_location",
    }


def test_a_warm_command_asked_for_json_prints_only_the_document(
    warm_env: dict[str, str], prefect_api_url: str, tmp_path: Path
) -> None:
    # The child runs on the command's own descriptors: what the code location prints goes
    # to the command's stderr, as cold (tests/test_document_output.py), never into its JSON.
    env = _printing_location_env(warm_env, prefect_api_url, tmp_path)
    own = start_starter(env)
    try:
        for command in ("materialize", "list"):
            result = pipeline(env, command, "--json", importtime=True)
            assert result.returncode == 0, result.stderr
            assert "orchestration.cli\n" not in result.stderr  # warm
            assert json.loads(result.stdout)
            printed = {AT_IMPORT, IN_THE_BODY} if command == "materialize" else {AT_IMPORT}
            assert printed <= set(result.stderr.splitlines()), result.stderr
    finally:
        warm_start.stop_all(env)
        own.wait(timeout=10)


def test_the_starter_keeps_none_of_the_commands_secrets_the_command_gets_them(
    warm_env: dict[str, str], tmp_path: Path
) -> None:
    """The starter and its spare child lived up to 30 idle minutes with the whole
    environment of the command that left them (a warehouse password, a Pushgateway URL
    with credentials) in ``/proc/PID/environ``; each command hands over its own anyway."""
    secret = "s3cr3t-Zq9"
    # A code location that refuses to load without the command's own password.
    (tmp_path / "secret_location.py").write_text(
        (REPO / "tests" / "example_location.py").read_text()
        + f"\nimport os\n\nif os.environ.get('CLICKHOUSE_PASSWORD') != {secret!r}:\n"
        "    raise RuntimeError('the command has lost its environment')\n"
    )
    env = {
        **warm_env,
        "PYTHONPATH": str(REPO),  # read at start-up: a starter of its own, as above
        "CLICKHOUSE_PASSWORD": secret,
        "PUSHGATEWAY_URL": f"http://pg:{secret}@127.0.0.1:9091",
    }
    own = start_starter(env)
    try:
        spare = _spare_of(own.pid)
        for pid in (own.pid, spare):
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            assert not [item for item in environ if secret.encode() in item], pid
            assert f"PYTHONPATH={REPO}".encode() in environ  # what its imports read
        warm = pipeline(env, "list", "--definitions", "secret_location", cwd=tmp_path,
                        importtime=True)  # fmt: skip
        assert warm.returncode == 0, warm.stderr
        assert "orchestration.cli\n" not in warm.stderr, "it ran cold: nothing was tested"
        assert "daily_revenue" in warm.stdout
    finally:
        warm_start.stop_all(env)
        own.wait(timeout=10)


def on_a_terminal(env: dict[str, str], *args: str) -> bytes:
    """What a person sees running the command on a terminal; it must succeed."""
    code, output = terminal.on_a_terminal(env, *args)
    assert code == 0, output
    return output


def test_a_terminal_stays_a_terminal(
    warm_env: dict[str, str], starter: subprocess.Popen[bytes]
) -> None:
    warm = on_a_terminal(warm_env, *LIST)
    assert b"\x1b[" in warm and "┃".encode() in warm  # styled: it knew it had a terminal
    assert warm == on_a_terminal(cold(warm_env), *LIST)


def test_a_person_is_told_when_a_starter_is_left_running_a_pipe_is_not(
    warm_env: dict[str, str],
) -> None:
    told = b"later commands start warm: a background process keeps the libraries imported"
    output = on_a_terminal(warm_env, *LIST)
    assert told in output
    # The command it names stops the starters and nothing else: not the local Prefect
    # server a `serve` or an open UI may be using.
    assert (
        b"`pipeline server stop --warm-only` stops it and your other warm starters, not the "
        b"local Prefect server" in output
    )
    wait_for(
        warm_start.socket_path(warm_env).exists,
        120,
        "the starter the cold command leaves",
        interval=0.1,
    )
    assert told not in on_a_terminal(warm_env, *LIST)  # it ran warm: nothing left to start
    warm_start.stop_all(warm_env)
    piped = pipeline(warm_env, *LIST)
    assert piped.returncode == 0 and told.decode() not in piped.stderr


TOLD = b"later commands start warm: a background process keeps the libraries imported"
#: A command that does its work and fails: validate finds the location's tables missing
#: from the DDL (exit 1, its last line the count).
FAILS = ("validate", "--definitions", "tests.example_location")
FAILED_LAST_LINE = b"4 problems in 4 assets"


def _last_line(output: bytes) -> bytes:
    """The last line a person sees on the terminal (styling dropped)."""
    return re.sub(rb"\x1b\[[0-9;]*m", b"", output).strip().splitlines()[-1]


def test_a_failed_command_ends_with_its_error_and_the_next_success_says_a_starter_runs(
    warm_env: dict[str, str],
) -> None:
    # The error stays the last line; the notice waits for the next command that succeeds
    # on a terminal (here warm: the starter the failure left serves it), and only that one.
    code, failed = terminal.on_a_terminal(warm_env, *FAILS)
    assert code == 1, failed
    assert TOLD not in failed
    assert _last_line(failed) == FAILED_LAST_LINE, failed
    wait_for(
        warm_start.socket_path(warm_env).exists,
        120,
        "the starter the failed command leaves",
        interval=0.1,
    )
    piped = pipeline(warm_env, *LIST)  # no terminal: it says nothing, and owes it still
    assert piped.returncode == 0 and TOLD.decode() not in piped.stderr
    code, failed_warm = terminal.on_a_terminal(warm_env, *LIST, "--select", "key:nosuch")
    assert code == 2 and TOLD not in failed_warm  # a warm failure keeps its error last too
    told = on_a_terminal(warm_env, *LIST)
    assert _last_line(told).startswith(TOLD), told
    assert TOLD not in on_a_terminal(warm_env, *LIST)  # once


def test_a_cold_success_after_a_failure_says_it_once_not_again_when_warm(
    warm_env: dict[str, str],
) -> None:
    # The failure's starter is gone (killed: nothing tidied up after it), so the next
    # command runs cold: it says so as any cold command does, and the new starter's
    # first warm command does not say it again.
    code, failed = terminal.on_a_terminal(warm_env, *FAILS)
    assert code == 1 and TOLD not in failed, failed
    path = warm_start.socket_path(warm_env)
    wait_for(path.exists, 120, "the starter the failed command leaves", interval=0.1)
    killed = _starters_in(warm_env[warm_start.DIR_ENV])  # it, and its spare child if forked
    for pid in killed:
        os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not any(map(_alive, killed)), 30, "the starter to be gone", interval=0.1)
    told = on_a_terminal(warm_env, *LIST)
    assert _last_line(told).startswith(TOLD), told
    wait_for(lambda: _listening(path), 120, "the starter the cold command leaves", interval=0.1)
    assert TOLD not in on_a_terminal(warm_env, *LIST)


def test_a_notice_owed_about_a_stopped_starter_is_not_given_about_another(
    warm_env: dict[str, str],
) -> None:
    code, failed = terminal.on_a_terminal(warm_env, *FAILS)
    assert code == 1 and TOLD not in failed, failed
    wait_for(
        warm_start.socket_path(warm_env).exists,
        120,
        "the starter the failed command leaves",
        interval=0.1,
    )
    assert warm_start.stop_all(warm_env) == 1  # `pipeline server stop`
    start_starter(warm_env)  # one no terminal was told of before (a piped command's, say)
    assert TOLD not in on_a_terminal(warm_env, *LIST)


#: Commands refused before any work, each with settings no command has worked with: the
#: review's mistyped PREFECT_API_URL values (each left a starter and its spare, ~205 MiB,
#: idle for 30 minutes, for a setting the corrected command does not share), a usage
#: error, a warehouse URL without a scheme; and the exit code each is refused with.
REFUSED: dict[str, tuple[dict[str, str], tuple[str, ...], int]] = {
    "unreachable API": (
        {"PREFECT_API_URL": "http://127.0.0.1:9/api"},
        ("materialize", "--definitions", "tests.example_location"),
        1,
    ),
    "API URL scheme": (
        {"PREFECT_API_URL": "htp://127.0.0.1:4200/api"},
        ("materialize", "--definitions", "tests.example_location"),
        1,
    ),
    "usage error": ({}, (*LIST, "--select", "key:nosuch"), 2),
    "warehouse URL": ({"WAREHOUSE_URL": "/tmp/no-scheme"}, ("status", *LIST[1:]), 1),
}


@pytest.mark.parametrize("case", REFUSED)
def test_a_command_refused_before_any_work_leaves_no_starter(
    warm_env: dict[str, str], tmp_path: Path, case: str
) -> None:
    settings, args, code = REFUSED[case]
    env = {**warm_env, "WAREHOUSE_URL": f"chdb://{tmp_path / 'wh'}", **settings}
    refused = pipeline(env, *args, importtime=True)
    assert refused.returncode == code, refused.stderr
    assert "orchestration.cli\n" in refused.stderr  # cold: there was no starter to use
    assert "error: " in refused.stderr
    # A starter is a process as soon as the command that leaves one has ended.
    assert _starters_in(warm_env[warm_start.DIR_ENV]) == []
    assert not list(Path(warm_env[warm_start.DIR_ENV]).iterdir())


def test_server_stop_warm_only_stops_the_starters_and_not_the_prefect_server(
    warm_env: dict[str, str], starter: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    home = tmp_path / "prefect-home"
    env = {k: v for k, v in warm_env.items() if not k.startswith("PREFECT_")}
    env.pop(local_server.MODE_ENV, None)
    env["PREFECT_HOME"] = str(home)
    try:
        started = pipeline(env, "server", "start")
        assert started.returncode == 0, started.stderr
        server = local_server.running(home)
        assert server is not None
        stopped = pipeline(env, "server", "stop", "--warm-only")
        assert stopped.returncode == 0, stopped.stderr
        assert stopped.stdout.splitlines() == ["stopped 1 warm starter"]
        assert starter.wait(timeout=30) == 0
        assert local_server.running(home) == server  # a `serve` or an open UI keeps it
        again = pipeline(env, "server", "stop", "--warm-only")
        assert again.returncode == 0, again.stderr
        assert again.stdout.splitlines() == ["no warm starter was running"]
    finally:
        local_server.stop(home)


def _listening(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX) as sock:
        try:
            sock.connect(str(path))
        except OSError:
            return False
    return True


def busy_materialize(env: dict[str, str], tmp_path: Path, output: int) -> subprocess.Popen[str]:
    """``pipeline materialize`` started, once one of its assets is busy (for minutes)."""
    source, marker = tmp_path / "n.csv", tmp_path / "busy"
    source.write_text("n,q\n1,10\n2,20\n")
    env = {**env, "WAREHOUSE_URL": f"chdb://{tmp_path / 'wh'}", SLOW_MARKER_ENV: str(marker)}
    command = [sys.executable, "-m", "orchestration", "materialize",
               "--definitions", "tests.safety_location", "--source", str(source)]  # fmt: skip
    run = subprocess.Popen(command, cwd=REPO, env=env, stdout=output, stderr=output, text=True)
    wait_for(
        lambda: marker.exists() or run.poll() is not None,
        180,
        "the command to get busy",
        interval=0.1,
    )
    assert marker.exists(), run.communicate(timeout=5)
    return run


@pytest.mark.parametrize(("number", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_to_the_command_stops_the_run_it_started(
    warm_env: dict[str, str],
    starter: subprocess.Popen[bytes],
    tmp_path: Path,
    number: signal.Signals,
    code: int,
) -> None:
    run = busy_materialize(warm_env, tmp_path, subprocess.PIPE)
    try:
        run.send_signal(number)
        stdout, stderr = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == code, stderr
    assert stderr.strip().splitlines()[0].startswith(f"interrupted ({number.name}): stopping")
    assert "cancelled" in stdout


def test_a_starter_told_to_stop_still_reports_how_its_running_commands_end(
    warm_env: dict[str, str], starter: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    run = busy_materialize(warm_env, tmp_path, subprocess.PIPE)
    try:
        assert warm_start.stop_all(warm_env) == 1  # e.g. `pipeline server stop` meanwhile
        assert ran_warm(warm_env, *LIST) is False  # it takes no new command ...
        run.send_signal(signal.SIGINT)
        _, stderr = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 130, stderr  # ... but still tells this one how it ended
    assert stderr.startswith("interrupted (SIGINT): stopping")
    assert starter.wait(timeout=30) == 0


def test_a_command_killed_outright_takes_its_run_with_it(
    warm_env: dict[str, str], starter: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    run = busy_materialize(warm_env, tmp_path, subprocess.DEVNULL)
    children = _children_of(starter.pid)
    assert len(children) == 1, children  # the run; no spare is forked while it runs
    run.kill()
    run.wait(timeout=10)
    wait_for(lambda: not _alive(children[0]), 60, "the run to end with its command", interval=0.1)


def test_a_command_whose_run_the_kernel_kills_ends_killed_without_a_traceback(
    warm_env: dict[str, str], starter: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    run = busy_materialize(warm_env, tmp_path, subprocess.PIPE)
    (child,) = _children_of(starter.pid)
    os.kill(child, signal.SIGKILL)  # say, the kernel's out-of-memory killer
    # What the run started in its own process group (here Prefect's temporary server,
    # which holds the command's output open) ends with it.
    _, stderr = run.communicate(timeout=60)
    assert run.returncode == -signal.SIGKILL, stderr  # as the shell shows a killed command
    assert "Traceback" not in stderr


def _children_of(pid: int) -> list[int]:
    listed = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [child for child in map(int, listed) if _alive(child)]


def _alive(pid: int) -> bool:
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat_line.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended


def _spare_of(starter_pid: int) -> int:
    """The starter's one child while no command runs, once it has imported the engine."""
    wait_for(
        lambda: len(_children_of(starter_pid)) == 1, 60, "the starter's spare child", interval=0.1
    )
    (spare,) = _children_of(starter_pid)
    wait_for(
        lambda: "_chdb" in Path(f"/proc/{spare}/maps").read_text(),
        60,
        "the spare to import chdb",
        interval=0.1,
    )
    return spare


def test_the_next_command_starts_in_a_spare_child_that_has_imported_the_engine(
    warm_env: dict[str, str], starter: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    spare = _spare_of(starter.pid)
    run = busy_materialize(warm_env, tmp_path, subprocess.PIPE)
    try:
        assert _children_of(starter.pid) == [spare]  # the run is there, and nothing else
        run.send_signal(signal.SIGINT)
        _, stderr = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 130, stderr  # signals reach it, its exit status comes back
    wait_for(lambda: not _alive(spare), 30, "the command's process to end", interval=0.1)
    assert _spare_of(starter.pid) != spare  # a fresh spare for the next command
    assert ran_warm(warm_env, *LIST)


def _program(pid: int) -> str:
    return Path(f"/proc/{pid}/comm").read_text().strip()


def test_ps_names_a_warm_command_pipeline_and_its_starter_pipeline_warm(
    warm_env: dict[str, str], starter: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    assert _program(starter.pid) == "pipeline-warm"
    run = busy_materialize(warm_env, tmp_path, subprocess.PIPE)
    try:
        (child,) = _children_of(starter.pid)
        assert _program(child) == "pipeline"  # as a cold command started by its script is
        # So the line refusing a second command on the warehouse names what to wait for.
        second = pipeline(
            cold(warm_env), "status", "--definitions", "tests.safety_location",
            "--warehouse", f"chdb://{tmp_path / 'wh'}",
        )  # fmt: skip
        assert second.returncode == 1
        assert f"in use by another process (pid {child}, pipeline, since" in second.stderr
    finally:
        run.kill()
        run.communicate(timeout=60)


def test_a_command_still_starts_warm_when_the_spare_has_died(
    warm_env: dict[str, str], starter: subprocess.Popen[bytes]
) -> None:
    os.kill(_spare_of(starter.pid), signal.SIGKILL)  # say, the kernel's out-of-memory killer
    assert ran_warm(warm_env, *LIST)
    assert _spare_of(starter.pid)  # and the next one has a spare again


@pytest.mark.parametrize("how", ["stopped", "killed"])
def test_the_spare_ends_with_its_starter(
    warm_env: dict[str, str], starter: subprocess.Popen[bytes], how: str
) -> None:
    spare = _spare_of(starter.pid)
    if how == "stopped":
        assert warm_start.stop_all(warm_env) == 1
    else:
        starter.kill()  # no chance to end it: the spare reads the end of its socket pair
    wait_for(
        lambda: not _alive(spare), 30, f"the spare to end with its starter ({how})", interval=0.1
    )


def test_after_an_install_the_starter_steps_down_and_the_command_runs_cold(
    warm_env: dict[str, str], tmp_path: Path
) -> None:
    libraries = tmp_path / "libraries"
    libraries.mkdir()
    env = {**warm_env, "PYTHONPATH": f"{REPO}{os.pathsep}{libraries}"}
    process = start_starter(env)
    try:
        assert ran_warm(env, *LIST)
        (libraries / "new_package.py").write_text("")  # what an install does to a directory
        stepped_down = pipeline(env, *LIST, importtime=True)
        assert stepped_down.returncode == 0, stepped_down.stderr
        assert "orchestration.cli\n" in stepped_down.stderr  # ran cold
        assert process.wait(timeout=30) == 0
        # ... and left a fresh starter, which knows the new library.
        wait_for(
            warm_start.socket_path(env).exists,
            120,
            "a fresh starter after the install",
            interval=0.1,
        )
        assert ran_warm(env, *LIST)
    finally:
        warm_start.stop_all(env)
        if process.poll() is None:
            process.kill()


def test_warm_start_is_off_in_ci_and_a_bad_value_is_one_clear_line(
    warm_env: dict[str, str],
) -> None:
    assert warm_start.enabled({}) is True
    assert warm_start.enabled({"CI": "true"}) is False
    assert warm_start.enabled({"CI": "true", warm_start.MODE_ENV: "on"}) is True
    assert warm_start.enabled({warm_start.MODE_ENV: "OFF"}) is False
    result = pipeline({**warm_env, warm_start.MODE_ENV: "sometimes"}, *LIST)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: PIPELINE_WARM_START='sometimes' is not valid: use on (commands start in a "
        "background process that has the libraries imported) or off (every command cold)"
    ]


@pytest.mark.parametrize(
    ("argv", "env", "expected"),
    [
        (["materialize", "--select", "x"], {}, True),
        (["--debug", "materialize"], {}, False),
        (["materialize", "--verbose"], {}, False),
        (["materialize"], {"PIPELINE_DEBUG": "1"}, False),
        (["server", "start"], {}, False),
        (["serve"], {}, False),
        (["query", "--", "--debug"], {}, True),  # after --, an argument, not a flag
        (["--definitions", "assets", "list"], {}, True),  # an option's value, not a command
        (["--warehouse", "chdb:///w", "--definitions=assets", "status"], {}, True),
        (["--definitions", "serve", "serve"], {}, False),
        ([], {}, False),
    ],
)
def test_only_one_shot_commands_without_debugging_start_warm(argv, env, expected) -> None:
    assert warm_start.eligible(argv, env) is expected


def test_warm_start_knows_every_global_option_that_takes_a_value() -> None:
    """warm_start decides before the CLI is imported, so it names these options itself;
    an option added to the CLI's callback and not there would be taken for the command."""
    import typer

    from orchestration.cli import app

    group = typer.main.get_command(app)
    taking_values = {
        name
        for param in group.params
        if not getattr(param, "is_flag", False)
        for name in param.opts
        if name.startswith("--")
    }
    assert taking_values == warm_start._GLOBAL_VALUE_OPTIONS


def test_a_directory_others_can_use_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    with pytest.raises(OSError, match="only this user"):
        warm_start.runtime_dir({warm_start.DIR_ENV: str(shared)})
    env = {**os.environ, warm_start.MODE_ENV: "on", warm_start.DIR_ENV: str(shared)}
    result = pipeline(env, *LIST, "--json")
    assert result.returncode == 0, result.stderr
    assert not list(shared.glob("*.sock"))


def test_a_person_is_told_why_warm_start_is_off_in_a_directory_others_can_use(
    tmp_path: Path,
) -> None:
    """Refused in silence, every command ran cold (~1 s more) and nothing said why."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    env = {**os.environ, warm_start.MODE_ENV: "on", warm_start.DIR_ENV: str(shared)}
    output = on_a_terminal(env, *LIST).decode()
    assert f"warm start is off: {shared} is not a directory only this user can use" in output
    assert "chmod 700" in output
    assert not list(shared.glob("*.sock"))


def test_server_stop_stops_the_warm_starters_too(
    warm_env: dict[str, str], starter: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    result = pipeline({**warm_env, "PREFECT_HOME": str(tmp_path / "home")}, "server", "stop")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "no local Prefect server was running",
        "stopped 1 warm starter",
    ]
    assert starter.wait(timeout=30) == 0
    assert not warm_start.socket_path(warm_env).exists()


def test_server_status_says_how_many_warm_starters_run(
    warm_env: dict[str, str], starter: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    """``server stop --warm-only`` stopped starters ``server status`` never mentioned: it
    says how many run, and when they exit, without stopping or disturbing any; nothing
    when none runs."""
    env = {k: v for k, v in warm_env.items() if not k.startswith("PREFECT_")}
    env.pop(local_server.MODE_ENV, None)
    env["PREFECT_HOME"] = str(tmp_path / "home")
    status = pipeline(env, "server", "status")
    assert status.returncode == 1, status.stderr  # no local Prefect server runs
    assert status.stdout.splitlines()[-1] == (
        f"1 warm starter of yours is running (process {starter.pid}; each exits after 30 "
        "minutes without a command; pipeline server stop --warm-only stops them)"
    )
    assert starter.poll() is None and ran_warm(warm_env, *LIST)
    warm_start.stop_all(warm_env)
    assert starter.wait(timeout=30) == 0
    after = pipeline(env, "server", "status")
    assert "warm starter" not in after.stdout  # none runs: nothing to say


def test_a_starter_also_watches_the_project_files_it_has_imported() -> None:
    # They are part of every child (the fork logic itself, Prefect's set-up): an edit
    # to one must retire the starter, as an install does.
    from orchestration.warm_server import watched_paths

    watched = [str(path) for path in watched_paths()]
    for name in ("warm_server.py", "warm_start.py", "prefect_setup.py"):
        assert str(REPO / "orchestration" / name) in watched
    assert str(REPO) not in watched  # the project's own directory changes with every run
    assert not [path for path in watched if "site-packages/" in path]  # its directory is


def test_a_command_that_gave_up_waiting_is_not_run_by_a_starter_that_answers_late(
    warm_env: dict[str, str], starter: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    # The command ran cold after its wait; a late fork would run it a second time.
    output = tmp_path / "output"
    starter.send_signal(signal.SIGSTOP)  # a starter too busy to answer
    try:
        with output.open("wb") as sink, socket.socket(socket.AF_UNIX) as sock:
            sock.connect(str(warm_start.socket_path(warm_env)))
            socket.send_fds(sock, [b"\0"], [sink.fileno()] * 3)
            request = {"argv": [*LIST, "--json"], "env": warm_env, "cwd": str(REPO)}
            context = process_context()
            warm_start.send_message(sock, {**request, "path0": str(REPO), "context": context})
    finally:  # the command hangs up, then the starter gets to it
        starter.send_signal(signal.SIGCONT)
    assert warm_start.stop_all(warm_env) == 1  # answered after that command: it is done
    assert starter.wait(timeout=30) == 0
    time.sleep(5)  # a child forked for it would have listed the assets by now (~0.5 s)
    assert output.read_bytes() == b""


def test_server_stop_also_ends_a_starter_still_importing(warm_env: dict[str, str]) -> None:
    # What `make run && pipeline server stop` meets: the run left a starter seconds ago.
    path = warm_start.socket_path(warm_env)
    process = warm_start.spawn_starter(warm_env)
    lock = path.with_suffix(".lock")
    wait_for(
        lambda: lock.exists() and lock.read_text() == str(process.pid),
        30,
        "the starter's lock",
        interval=0.1,
    )
    assert not path.exists()  # still importing: no socket to ask yet
    assert warm_start.stop_all(warm_env) == 1
    assert process.wait(timeout=30) == -signal.SIGTERM
    assert not path.exists()


CONTEXT_LOCATION = ("list", "--definitions", "tests.context_location")


def _as_root(command: Sequence[str]) -> list[str]:
    """``command``, which only root may run (a CI job runs as root)."""
    if os.geteuid() != 0:
        pytest.skip("only root may run this")
    return list(command)


#: What a command can be run under that changes its process context, as a shell runs it.
CONTEXTS = {
    "umask": lambda: ["sh", "-c", 'umask 077 && exec "$@"', "sh"],
    "resource limits": lambda: ["prlimit", "--nofile=1000:", "--cpu=3600:", "--"],
    "nice": lambda: ["nice", "-n", "5"],
    "no_new_privs": lambda: ["setpriv", "--no-new-privs"],
    "capabilities": lambda: _as_root(unprivileged([])),
    # The review's full disk: a private tmpfs is seen only in the command's namespace.
    "mount namespace": lambda: _as_root(["unshare", "--mount"]),
}


def observed_context(
    env: dict[str, str], tmp_path: Path, prefix: Sequence[str] = ()
) -> tuple[dict[str, object], bool]:
    """The process context the command ran in (tests/context_location.py), and whether
    it ran warm."""
    report = tmp_path / "context.json"
    report.unlink(missing_ok=True)
    result = pipeline(
        {**env, REPORT_ENV: str(report)}, *CONTEXT_LOCATION, prefix=prefix, importtime=True
    )
    assert result.returncode == 0, result.stderr
    return json.loads(report.read_text()), "orchestration.cli\n" not in result.stderr


@pytest.mark.parametrize("context", CONTEXTS)
def test_a_command_runs_in_its_callers_process_context_not_the_starters(
    warm_env: dict[str, str], starter: subprocess.Popen[bytes], tmp_path: Path, context: str
) -> None:
    """Forked by the starter, a warm command had the starter's umask, limits, namespaces
    and capabilities: it wrote to the host's disk from inside ``unshare -m``, created a
    warehouse 755 under ``umask 077``, ran 44 s under ``ulimit -t 2`` and read a file
    that its caller, without CAP_DAC_OVERRIDE, could not."""
    prefix = CONTEXTS[context]()
    the_starters, warm = observed_context(warm_env, tmp_path)
    assert warm, "no warm command: nothing was tested"
    callers, _ = observed_context(cold(warm_env), tmp_path, prefix)
    assert callers != the_starters, f"{prefix} changed nothing here: nothing was tested"
    assert observed_context(warm_env, tmp_path, prefix)[0] == callers


def test_a_command_in_another_context_starts_warm_in_a_starter_of_its_own(
    warm_env: dict[str, str], starter: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    umask = CONTEXTS["umask"]()
    context, warm = observed_context(warm_env, tmp_path, umask)
    assert not warm and context["status"]["Umask"] == "0077"  # type: ignore[index]
    directory = Path(warm_env[warm_start.DIR_ENV])
    wait_for(lambda: len(list(directory.glob("*.sock"))) == 2, 120, "a starter for umask 077", 0.1)
    context, warm = observed_context(warm_env, tmp_path, umask)
    assert warm and context["status"]["Umask"] == "0077"  # type: ignore[index]
    assert observed_context(warm_env, tmp_path)[0]["status"]["Umask"] == "0022"  # type: ignore[index]


def test_a_starter_whose_context_changed_since_it_started_runs_no_command_in_it(
    warm_env: dict[str, str], starter: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    # Say, `prlimit --pid` on the spare child, then on the starter itself.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    expected = [soft, hard]
    lowered = (soft // 2, hard)
    resource.prlimit(_spare_of(starter.pid), resource.RLIMIT_NOFILE, lowered)
    context, warm = observed_context(warm_env, tmp_path)
    assert context["limits"]["RLIMIT_NOFILE"] == expected  # type: ignore[index]
    assert warm  # in a child forked for it: the starter's own context is the command's
    resource.prlimit(starter.pid, resource.RLIMIT_NOFILE, lowered)
    context, warm = observed_context(warm_env, tmp_path)
    assert context["limits"]["RLIMIT_NOFILE"] == expected  # type: ignore[index]
    assert not warm
    assert starter.wait(timeout=30) == 0  # it stepped down: it serves nobody's context now


def test_a_warehouse_a_warm_command_creates_has_the_callers_umask(
    warm_env: dict[str, str], prefect_api_url: str, tmp_path: Path
) -> None:
    env = _printing_location_env(warm_env, prefect_api_url, tmp_path)
    own = start_starter(env)
    try:
        result = pipeline(env, "materialize", prefix=CONTEXTS["umask"]())
        assert result.returncode == 0, result.stderr
        assert (tmp_path / "wh").stat().st_mode & 0o777 == 0o700
    finally:
        warm_start.stop_all(env)
        own.wait(timeout=10)
