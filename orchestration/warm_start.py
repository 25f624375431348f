"""Commands that start warm: a background process with the libraries imported forks each one.

A cold ``pipeline materialize`` spends ~2 s importing Prefect, pandas, pandera and pyarrow
before any work (a third of a 100,000-row run), and ``status``, ``plan`` and ``validate``
most of their time (docs/benchmark.md, "Session 7"). So the first such command runs cold
and, as it ends, starts a *warm starter* in the background (:mod:`orchestration.warm_server`):
a process that imports those libraries once and waits on a Unix socket. Later commands
hand it their arguments, environment, working directory and their stdin, stdout and
stderr themselves (so a terminal stays a terminal); it forks a child that runs the
command as the cold process would, and reports the child's exit status, which the command
exits with. Ctrl-C, Ctrl-Z, SIGTERM and SIGHUP sent to the command go on to the child.

What keeps it honest:

- nothing of the project is imported before the fork: the child imports the code location
  as a cold command does, so an edited asset runs as edited;
- a starter serves one Python, one project and one import-time environment (the Prefect,
  pandera, locale and Python settings: :func:`starter_key`); a command with another one
  gets a starter of its own;
- and one process context: the command's child has the starter's namespaces, ids,
  capabilities, resource limits, umask, cgroup, root, priority and CPUs, not the
  command's, so they are part of the key too (:mod:`orchestration.process_context`); a
  starter is started by a command in its context, and runs no command in another one
  (say, after a ``prlimit`` on it): it steps down and the command runs cold;
- the starter holds only that environment (and ``PATH``): the command's own, secrets
  included, comes with its request and lives in the child that runs it
  (:func:`starter_environment`);
- the installed libraries are checked before every fork: after an install or an upgrade
  the starter steps down and the command runs cold (and starts a fresh one);
- only its user can connect to it (a 0700 directory, and the peer's uid checked);
- a command that an error refused before its work leaves none
  (:mod:`orchestration.launcher`): what refused it, a mistyped ``PREFECT_API_URL`` say,
  is often what the next command corrects, in a key of its own;
- it exits after :data:`IDLE_SECONDS` without a command; ``pipeline server status``
  counts those running (:func:`running_starters`), ``pipeline server stop
  --warm-only`` stops it (``pipeline server stop`` the local Prefect server too);
  ``PIPELINE_WARM_START=off`` keeps every command cold (so does a ``CI`` environment), and
  ``--debug``/``--verbose`` always run cold.

Any failure to reach a starter means the command runs cold: warm start only saves time.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from orchestration.debug_env import debug_asked
from orchestration.kept_environment import kept_environment, read_at_import
from orchestration.prefect_setup import prefect_defaults
from orchestration.process_context import ProcessContext, process_context

MODE_ENV = "PIPELINE_WARM_START"
DIR_ENV = "PIPELINE_WARM_DIR"
LOG_NAME = "starter.log"
#: Beside a starter's socket while the notice that it runs is owed to the person at the
#: terminal: the command that left it failed, and its error stays the last line there.
NOTICE_SUFFIX = ".notice"
#: A starter exits after this long without a command (it and its spare child hold ~0.35 GiB).
IDLE_SECONDS = 30 * 60
#: The sub-commands that start warm: the one-shot ones. ``server`` starts and stops
#: processes and ``serve`` runs for hours; both stay cold.
WARM_COMMANDS = frozenset(
    {"materialize", "status", "plan", "validate", "checks", "query", "lineage", "list"}
)
#: Flags that ask for Prefect's own logs and tracebacks: those commands run cold, where
#: Prefect configures its logging for them at import.
_COLD_FLAGS = frozenset({"--debug", "--verbose"})
#: The options taken before the sub-command that take a value (``pipeline --definitions
#: assets list``): their value is not the sub-command (orchestration.cli).
_GLOBAL_VALUE_OPTIONS = frozenset({"--definitions", "--warehouse"})
#: Seconds to wait for a starter to take a command before running it cold (a starter
#: that answers later finds the command gone and runs nothing).
_CONNECT_SECONDS = 5.0
_LENGTH = struct.Struct("!I")
_FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGWINCH)
_OFF, _ON = ("off", "0", "false", "no"), ("on", "1", "true", "yes")
#: Warm start needs fork() and Unix sockets (not on Windows: there commands run cold).
_CAN_FORK = hasattr(os, "fork") and hasattr(socket, "AF_UNIX")


class WarmStartError(RuntimeError):
    """``PIPELINE_WARM_START`` has a value that means neither on nor off."""


def enabled(env: Mapping[str, str]) -> bool:
    """Whether commands may start warm: ``PIPELINE_WARM_START``, else on unless ``CI`` is set
    (a CI job runs each command once and should leave no process behind)."""
    value = env.get(MODE_ENV, "").strip().lower()
    if value in _OFF or not _CAN_FORK:
        return False
    if value in _ON:
        return True
    if value:
        raise WarmStartError(
            f"{MODE_ENV}={env[MODE_ENV]!r} is not valid: use on (commands start in a "
            "background process that has the libraries imported) or off (every command cold)"
        )
    return not env.get("CI")


def eligible(argv: Sequence[str], env: Mapping[str, str]) -> bool:
    """Whether this command line may start warm (see :data:`WARM_COMMANDS`)."""
    args = list(argv[: argv.index("--")] if "--" in argv else argv)
    command = _sub_command(args)
    if command not in WARM_COMMANDS or _COLD_FLAGS.intersection(args):
        return False
    return not debug_asked(env)


def _sub_command(args: Sequence[str]) -> str | None:
    """The first argument that is neither an option nor a global option's value."""
    takes_value = False
    for arg in args:
        if takes_value:
            takes_value = False
        elif arg in _GLOBAL_VALUE_OPTIONS:
            takes_value = True
        elif not arg.startswith("-"):
            return arg
    return None


def project_root() -> Path:
    """The directory the project's packages are imported from."""
    return Path(__file__).resolve().parents[1]


def import_environment(env: Mapping[str, str]) -> dict[str, str]:
    """The environment a non-verbose command has when it imports Prefect: the starter is
    started with what of it the imports read (:func:`starter_environment`), so what it
    imports is configured as the command's own imports are."""
    return {**prefect_defaults(verbose=False), **env}


def starter_environment(env: Mapping[str, str]) -> dict[str, str]:
    """The environment a starter is started with: what its imports read (after
    :func:`import_environment`) and what its process needs, nothing else.

    The rest of the command's environment (a warehouse password, a Pushgateway URL with
    credentials, a token) would sit in ``/proc/PID/environ`` of the starter and of its
    spare child for up to :data:`IDLE_SECONDS`, readable by this user's every process
    (and root) long after the command ended. Each command hands its whole environment
    over with its request, so nothing it reads at run time depends on the starter's."""
    return kept_environment(import_environment(env))


def starter_key(env: Mapping[str, str], context: ProcessContext | None = None) -> str:
    """What a starter's imports depend on, and what its children run in, hashed: Python,
    the project, the environment variables libraries read at import time (after
    :func:`import_environment`) and the process context (this process's unless given; a
    starter inherits it from the command that starts it). OSError without ``/proc``."""
    relevant = {
        name: value for name, value in import_environment(env).items() if read_at_import(name)
    }
    identity = {
        "python": sys.executable,
        "version": sys.version,
        "project": str(project_root()),
        "env": sorted(relevant.items()),
        "context": sorted((process_context() if context is None else context).items()),
    }
    return hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:20]


class SharedDirectoryError(OSError):
    """The starters' directory is not this user's alone: another user could hand a
    command to a starter there, or plant one; warm start is off until it is."""


def runtime_dir(env: Mapping[str, str]) -> Path:
    """The private directory of this user's starters (created 0700); OSError if it exists
    but is not this user's alone."""
    base = env.get(DIR_ENV)
    if base:
        path = Path(base)
    else:
        parent = env.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
        path = Path(parent) / f"pipeline-warm-{os.getuid()}"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise SharedDirectoryError(f"{path} is not a directory only this user can use")
    return path


def socket_path(env: Mapping[str, str], context: ProcessContext | None = None) -> Path:
    return runtime_dir(env) / f"{starter_key(env, context)}.sock"


def send_message(sock: socket.socket, message: Mapping[str, Any]) -> None:
    """One length-prefixed JSON message."""
    data = json.dumps(message).encode()
    sock.sendall(_LENGTH.pack(len(data)) + data)


def receive_message(stream: BinaryIO) -> dict[str, Any] | None:
    """The next length-prefixed JSON message; None when the other side has closed."""
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None
    (length,) = _LENGTH.unpack(head)
    body = stream.read(length)
    if len(body) < length:
        return None
    message = json.loads(body)
    if not isinstance(message, dict):
        raise ValueError(f"a warm starter sent {message!r}, not a message")
    return message


def send_request(sock: socket.socket, message: Mapping[str, Any], fds: Sequence[int] = ()) -> None:
    """A message with descriptors: they ride on one byte before it (``SCM_RIGHTS``)."""
    socket.send_fds(sock, [b"\0"], list(fds))
    send_message(sock, message)


def receive_request(sock: socket.socket) -> tuple[dict[str, Any] | None, list[int]]:
    """What :func:`send_request` sent: the message (None when the other side has closed)
    and the descriptors, which are the caller's to close (also when it raises)."""
    _, fds, _, _ = socket.recv_fds(sock, 1, 3)
    try:
        with sock.makefile("rb") as stream:
            return receive_message(stream), fds
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise


def _connect(path: Path) -> socket.socket | None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(_CONNECT_SECONDS)
    try:
        sock.connect(str(path))
    except OSError:
        sock.close()
        return None
    return sock


def run_warm(argv: Sequence[str]) -> int | None:
    """Run the command in a warm starter and return its exit code; None if no starter took
    it (none runs, it is stale, or it could not be reached): then run it cold."""
    env = dict(os.environ)
    try:
        context = process_context()
        path = socket_path(env, context)
    except OSError:
        return None
    sock = _connect(path)
    if sock is None:
        return None
    with sock, sock.makefile("rb") as replies:
        try:
            request = {
                "argv": list(argv),
                "env": env,
                "cwd": os.getcwd(),
                "path0": sys.path[0],
                "context": context,  # what the starter checks its child's against
            }
            send_request(sock, request, [0, 1, 2])
            started = receive_message(replies)
        except (OSError, ValueError):
            return None
        if not started or "pid" not in started:
            return None  # stale: it has stepped down; the command runs cold
        sock.settimeout(None)
        with _forwarding_signals(int(started["pid"])):
            ended = receive_message(replies)
    code = _exit_code(ended, int(started["pid"]))
    if code == 0:
        _tell_if_owed(path)
    return code


def notice_path(socket_file: Path) -> Path:
    """The marker saying the notice about the starter on ``socket_file`` is still owed."""
    return socket_file.with_suffix(NOTICE_SUFFIX)


def _tell_if_owed(socket_file: Path) -> None:
    """After a warm command that succeeded: the notice the failed command that left this
    starter held back, once (one unlink, and only on a terminal, where it is shown)."""
    if sys.stderr.isatty() and _took_mark(notice_path(socket_file)):
        _tell(socket_file.parent / LOG_NAME)


def _took_mark(marker: Path) -> bool:
    """Remove ``marker``; whether it was there (a removal that fails says so, once)."""
    try:
        marker.unlink()
    except FileNotFoundError:
        return False  # none owed: the usual case
    except OSError as exc:
        sys.stderr.write(f"warning: could not remove {marker}: {exc}\n")
        return False
    return True


def _exit_code(ended: dict[str, Any] | None, pid: int) -> int:
    if ended is None:  # the starter died; its child may still run
        _wait_gone(pid)
        sys.stderr.write(
            f"error: the warm starter stopped before process {pid} reported how it ended; "
            f"set {MODE_ENV}=off to run commands in their own process\n"
        )
        return 1
    if "signal" in ended:
        number = int(ended["signal"])
        if number != signal.SIGKILL:  # SIGKILL's disposition cannot be set, nor need be
            signal.signal(number, signal.SIG_DFL)  # end as the child did, so the shell sees it
        os.kill(os.getpid(), number)
        return 128 + number
    return int(ended["exit"])


def _wait_gone(pid: int) -> None:
    while True:
        try:
            os.kill(pid, 0)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.1)


@contextlib.contextmanager
def _forwarding_signals(pid: int) -> Iterator[None]:
    """Signals to this process go to the child's process group, as a terminal would send
    them to a cold command; Ctrl-Z stops both, and ``fg`` continues both."""

    def forward(number: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, number)

    def stop(_number: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGSTOP)
        os.kill(os.getpid(), signal.SIGSTOP)  # resumes here on SIGCONT

    def resume(_number: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGCONT)

    handlers: dict[int, Callable[[int, Any], None]] = dict.fromkeys(_FORWARDED_SIGNALS, forward)
    handlers.update({signal.SIGTSTP: stop, signal.SIGCONT: resume})
    previous = {number: signal.signal(number, handler) for number, handler in handlers.items()}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def start_in_background(env: Mapping[str, str], succeeded: bool = True) -> None:
    """Start a starter for ``env``, the environment this command was launched with (it
    steps aside if one runs), and say so on a terminal; never raises: a command that
    cannot leave a starter behind has still done its work.

    A command that did its work and failed leaves one too (a person iterating on a
    failure wants the next try warm) but keeps its error the last line: the notice is owed
    (:func:`notice_path`) and the next command that succeeds on a terminal gives it, warm
    or cold. (One an error refused before its work is not started here at all:
    :class:`orchestration.errors.CommandRefused`.)

    A starter directory others could use is refused (:func:`runtime_dir`): a person on a
    terminal is told why, after a success, or every command would run cold unexplained."""
    try:
        socket_file = socket_path(env)
        spawn_starter(env)
    except SharedDirectoryError as refused:
        if succeeded and sys.stderr.isatty():
            sys.stderr.write(
                f"warm start is off: {refused}; chmod 700 it (or set {MODE_ENV}=off)\n"
            )
        return
    except OSError:
        return
    if not sys.stderr.isatty():
        return
    marker = notice_path(socket_file)
    if not succeeded:
        # Unmarked, the notice is lost and nothing else: the starter serves all the same,
        # and a warning here would push the command's error up as the notice did.
        with contextlib.suppress(OSError):
            marker.touch()
        return
    _took_mark(marker)  # given now: not again by its first warm command
    _tell(socket_file.parent / LOG_NAME)


def _tell(log_path: Path) -> None:
    """Say that a starter runs, and what stops it and nothing else: ``pipeline server stop
    --warm-only`` stops all of this user's starters (:func:`stop_all`); plain ``pipeline
    server stop``, once the only command named, also ends the local Prefect server a
    ``serve`` or an open UI may be using."""
    sys.stderr.write(
        "later commands start warm: a background process keeps the libraries imported "
        f"(its log: {log_path}; {MODE_ENV}=off turns it off; `pipeline server stop "
        "--warm-only` stops it and your other warm starters, not the local Prefect server)\n"
    )


def spawn_starter(env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """Start a starter for commands run with ``env`` in this process's context: it
    inherits that context (its key's) from this process, imports, then listens on
    :func:`socket_path`, writing to :data:`LOG_NAME` beside it."""
    path = socket_path(env)
    with (path.parent / LOG_NAME).open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "orchestration.warm_server", str(path)],
            cwd=project_root(),
            env=starter_environment(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,  # outlives the command, away from its terminal
        )


def stop_all(env: Mapping[str, str] | None = None) -> int:
    """Ask every starter of this user to exit, and end those still importing (a command
    that just left one); how many there were."""
    try:
        directory = runtime_dir(env if env is not None else os.environ)
    except OSError:
        return 0
    stopped = 0
    for marker in directory.glob(f"*{NOTICE_SUFFIX}"):  # about starters now stopped
        marker.unlink(missing_ok=True)
    for lock in sorted(directory.glob("*.lock")):
        if _ask_to_stop(lock.with_suffix(".sock")):
            stopped += 1
            continue
        pid = _starting(lock)
        if pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGTERM)
                stopped += 1
    return stopped


def running_starters(env: Mapping[str, str] | None = None) -> list[int]:
    """The process ids of this user's starters, serving or still importing, found without
    a word to them or a touch of their locks (a lock taken even for a moment would make a
    starter that is starting step aside): ``pipeline server status``."""
    try:
        directory = runtime_dir(env if env is not None else os.environ)
    except OSError:
        return []
    found = (_starter_holding(lock) for lock in directory.glob("*.lock"))
    return sorted(pid for pid in found if pid is not None)


def _ask_to_stop(path: Path) -> bool:
    sock = _connect(path)
    if sock is None:
        return False
    with sock, sock.makefile("rb") as replies:
        try:
            send_request(sock, {"stop": True})
            return receive_message(replies) is not None
        except (OSError, ValueError):
            return False


def _starting(lock_path: Path) -> int | None:
    """The starter holding this lock without answering on its socket yet (importing)."""
    with lock_path.open("a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            text = lock.read().strip()
        else:
            fcntl.flock(lock, fcntl.LOCK_UN)
            return None  # nobody holds it
    return _starter_holding(lock_path, text)


def _starter_holding(lock_path: Path, text: str | None = None) -> int | None:
    """The starter whose process id the lock holds (``text``, else read from it) if that
    process is still the starter of its socket: a starter that ended leaves its id there,
    which another process may have by now."""
    if text is None:
        try:
            text = lock_path.read_text().strip()
        except OSError:
            return None
    if not text.isdigit():
        return None
    try:
        command = Path(f"/proc/{text}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    ours = b"orchestration.warm_server" in command
    return (
        int(text) if ours and any(arg.endswith(_socket_of(lock_path)) for arg in command) else None
    )


def _socket_of(lock_path: Path) -> bytes:
    """The name of the socket the starter holding ``lock_path`` serves, as its command
    line ends (:func:`spawn_starter`)."""
    return os.fsencode(lock_path.with_suffix(".sock").name)
