"""The warm starter: imports the libraries once, then forks one child per command.

``python -m orchestration.warm_server SOCKET`` is started by a cold command
(:func:`orchestration.warm_start.start_in_background`); see :mod:`orchestration.warm_start`
for why and for the rules. This process stays single-threaded (a fork copies only the
thread that calls it, so any lock another thread held would stay locked in the child):
one loop accepts commands, forks, reaps children and reports their exit status.

Only libraries are imported here, never the project, and never the embedded ClickHouse
engine: chdb starts its thread pools when it is imported, and a child forked after that
hangs in its first query (tried). Importing chdb takes a child 0.13-0.16 s, on the path of
every command that opens the warehouse; so the starter keeps one *spare* child that has
imported it and waits on a socket pair for the next command, which then starts there (a
spare is forked before the command exists: it imports nothing of the project either).
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import gc
import importlib
import io
import os
import selectors
import signal
import socket
import struct
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, NamedTuple

from orchestration.preload import import_libraries
from orchestration.process_context import process_context
from orchestration.uninterruptible import uninterruptible
from orchestration.warm_start import (
    IDLE_SECONDS,
    notice_path,
    project_root,
    receive_request,
    send_message,
    send_request,
)

#: What ``ps`` and ``top`` call the starter, and a command it runs: a command started
#: cold is ``pipeline`` too (the kernel names a process after the script it executes).
STARTER_NAME = "pipeline-warm"
COMMAND_NAME = "pipeline"
_NEVER_PRELOADED = ("chdb",)
#: What a spare child imports after its fork, before any command is there.
SPARE_IMPORTS = ("chdb", "chdb.session")


def preload() -> None:
    """Import the libraries, frozen before any fork: a child's collections skip them."""
    import_libraries(freeze=True)
    loaded = [name for name in _NEVER_PRELOADED if name in sys.modules]
    if loaded:
        raise RuntimeError(f"{loaded} must not be imported before a fork")


def watched_paths() -> list[Path]:
    """What a child would inherit stale: each directory libraries are imported from
    (installing, upgrading or removing a package changes its directory) and each file of
    the project this process has imported (this module among them)."""
    root = project_root()
    paths = [Path(entry or ".").resolve() for entry in sys.path[1:]]
    libraries = [path for path in paths if path != root and path.is_dir()]
    project = []
    for module in list(sys.modules.values()):
        source = Path(getattr(module, "__file__", None) or "/")
        # The project's own modules (a virtualenv inside the project is a library's place).
        if source.is_relative_to(root) and not any(map(source.is_relative_to, libraries)):
            project.append(source)
    return libraries + project


def modification_times(paths: list[Path]) -> list[int]:
    return [path.stat().st_mtime_ns if path.exists() else 0 for path in paths]


class Spare(NamedTuple):
    """A child that has imported :data:`SPARE_IMPORTS` and waits for a command."""

    pid: int
    #: The starter's end of the socket pair the command's request goes down.
    channel: socket.socket


class Starter:
    """The accept-fork-reap loop, serving one socket."""

    def __init__(
        self, listener: socket.socket, path: Path, lock: IO[str], idle_seconds: float
    ) -> None:
        self._listener = listener
        self._path = path
        self._lock = lock
        self._idle_seconds = idle_seconds
        self._watched = watched_paths()  # after the imports: what there is to watch
        self._installed = modification_times(self._watched)
        self._selector = selectors.DefaultSelector()
        self._children: dict[int, socket.socket] = {}
        self._spare: Spare | None = None
        self._wakeup_read, self._wakeup_write = os.pipe()
        os.set_blocking(self._wakeup_read, False)
        os.set_blocking(self._wakeup_write, False)
        signal.set_wakeup_fd(self._wakeup_write)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # only to wake the loop
        self._selector.register(listener, selectors.EVENT_READ, "accept")
        self._selector.register(self._wakeup_read, selectors.EVENT_READ, "reap")
        self._accepting = True

    def serve(self) -> None:
        self._make_spare()
        last_active = time.monotonic()
        # After stepping down, it still reports how each running command ends.
        while self._accepting or self._children:
            for key, _ in self._selector.select(timeout=60):
                if key.data == "accept":
                    self._accept()
                elif key.data == "reap":
                    with contextlib.suppress(BlockingIOError):
                        os.read(self._wakeup_read, 512)
                    self._reap()
                else:  # a waiting command closed its connection: end its child too
                    self._client_gone(key.fileobj, key.data)  # type: ignore[arg-type]
                last_active = time.monotonic()
            if not self._children and time.monotonic() - last_active > self._idle_seconds:
                self._step_down()

    def _accept(self) -> None:
        conn, _ = self._listener.accept()
        conn.settimeout(5)
        fds: list[int] = []
        try:
            if _peer_uid(conn) != os.getuid():
                conn.close()
                return
            request, fds = receive_request(conn)
            if request is None:
                raise OSError("the command closed its connection")
            if request.get("stop"):
                self._step_down()
                send_message(conn, {"stopped": os.getpid()})
            elif modification_times(self._watched) != self._installed:
                self._step_down()
                send_message(conn, {"stale": "the installed libraries changed"})
            elif request.get("context") != process_context():
                # Its key says the command's context is the one it started in: its own
                # has changed since (a `prlimit --pid`, a move to another cgroup), and a
                # child it forks would run the command in that.
                self._step_down()
                send_message(conn, {"stale": "its process context changed"})
            elif not _hung_up(conn):  # one that gave up waiting runs cold: run nothing
                self._start(conn, request, fds)
                return
        except (OSError, ValueError) as exc:
            # The command runs cold when its request fails; the starter serves on, and
            # its log (starter.log) says why.
            print(f"warm starter: a command's request failed: {exc!r}", file=sys.stderr, flush=True)
        for fd in fds:
            os.close(fd)
        conn.close()

    def _step_down(self) -> None:
        """No new command reaches this starter once the one asking has its answer, and a
        fresh starter may take the socket's name while this one sees its children out."""
        self._path.unlink(missing_ok=True)
        notice_path(self._path).unlink(missing_ok=True)  # owed about this one: not now
        if self._accepting:
            self._selector.unregister(self._listener)
            self._listener.close()
            fcntl.flock(self._lock, fcntl.LOCK_UN)
        self._accepting = False
        spare = self._take_spare()
        if spare is not None:
            _discard(spare)

    def _make_spare(self) -> None:
        """Fork a spare child, unless there is one or no command can come any more."""
        if self._spare is not None or not self._accepting:
            return
        ours, theirs = socket.socketpair()
        pid = self._fork(lambda: _wait_as_spare(theirs), ours)
        theirs.close()
        self._spare = Spare(pid, ours)

    def _take_spare(self) -> Spare | None:
        """The spare, which is no longer this starter's to hand a command to."""
        spare, self._spare = self._spare, None
        return spare

    def _start(self, conn: socket.socket, request: dict[str, Any], fds: list[int]) -> None:
        """Run the command in the spare child, or in a child forked for it if there is
        none (two commands at once, say), the spare has gone or its process context is
        no longer the command's (the starter's own is: :meth:`_accept` checked)."""
        pid = None
        spare = self._take_spare()
        if spare is not None and not _in_context(spare.pid, request["context"]):
            _discard(spare)
            spare = None
        if spare is not None:
            try:
                send_request(spare.channel, request, fds)
                pid = spare.pid
            except OSError:  # it died, and is reaped as any child
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(spare.pid, signal.SIGKILL)
            finally:
                spare.channel.close()
        if pid is None:
            pid = self._fork(lambda: _run_command(request, fds), conn)
        for fd in fds:
            os.close(fd)
        try:
            send_message(conn, {"pid": pid})
        except OSError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)
        conn.settimeout(None)
        self._children[pid] = conn
        self._selector.register(conn, selectors.EVENT_READ, pid)

    def _fork(self, work: Callable[[], int], *inherited: socket.socket) -> int:
        """Fork a child that leaves the starter's state behind (closing ``inherited``
        too), does ``work`` and exits with its code; the child's pid."""
        with warnings.catch_warnings():
            # Python 3.12+ warns about fork() with threads; the only other thread here is
            # pyarrow's jemalloc background thread, which jemalloc's fork handlers restart.
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:
            code = 1
            try:
                self._leave_starter(inherited)
                code = work()
            except BaseException:
                traceback.print_exc()  # into the starter's log: the command was not begun
            finally:
                os._exit(code)
        # The child's own group, set from here too: signals to the group must not depend
        # on whether the child got to its own setpgid yet.
        with contextlib.suppress(OSError):
            os.setpgid(pid, pid)
        return pid

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if self._spare is not None and pid == self._spare.pid:
                self._spare.channel.close()  # it died waiting: the next command gets a fork
                self._spare = None
                continue
            conn = self._children.pop(pid, None)
            if conn is None:
                continue
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(conn)
            ended = (
                {"signal": os.WTERMSIG(status)}
                if os.WIFSIGNALED(status)
                else {"exit": os.waitstatus_to_exitcode(status)}
            )
            if "signal" in ended:
                # Killed outright (say, by the out-of-memory killer), it stopped nothing it
                # had started: what is left in its process group (Prefect's temporary
                # server, holding the command's output open) ends with it.
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGTERM)
            with contextlib.suppress(OSError):
                send_message(conn, ended)
            conn.close()
            # One spare per command that ended: a spare that keeps dying costs one fork per
            # command, never a loop; and none is imported while commands run beside it.
            if not self._children:
                self._make_spare()

    def _client_gone(self, conn: socket.socket, pid: int) -> None:
        self._selector.unregister(conn)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGTERM)

    def _leave_starter(self, inherited: tuple[socket.socket, ...]) -> None:
        """In a child: its own process group and the default signal handling, and none of
        the starter's descriptors (its sockets, other commands' connections, the lock)."""
        os.setpgid(0, 0)  # so signals forwarded to the command reach what it starts
        signal.set_wakeup_fd(-1)
        for number in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
            signal.signal(number, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        self._selector.close()
        if self._accepting:
            self._listener.close()
        # (No spare's channel: a fork happens only once the spare, if any, is taken.)
        for sock in (*inherited, *self._children.values()):
            sock.close()
        os.close(self._wakeup_read)
        os.close(self._wakeup_write)
        self._lock.close()  # closed, not unlocked: the lock stays the starter's


def _discard(spare: Spare) -> None:
    """End a spare no command will be handed to (it may be importing still)."""
    spare.channel.close()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(spare.pid, signal.SIGTERM)


def _in_context(pid: int, context: object) -> bool:
    """Whether process ``pid`` runs in ``context`` (False if it cannot be told: gone)."""
    try:
        return process_context(pid) == context
    except OSError:
        return False


def _wait_as_spare(channel: socket.socket) -> int:
    """In a spare child: import what every command would, then run the command the
    starter sends; exit quietly when the starter closes its end instead."""
    with uninterruptible():  # a spare stopped while chdb imports leaves its engine's dir
        for name in SPARE_IMPORTS:
            importlib.import_module(name)
    gc.freeze()  # as the starter's own imports are: no collection walks them
    request, fds = receive_request(channel)
    channel.close()
    if request is None:
        return 0
    return _run_command(request, fds)


def _run_command(request: dict[str, Any], fds: list[int]) -> int:
    """In a child: take the command's descriptors, directory, environment and arguments,
    run it, and return its exit code."""
    code = 1
    try:
        _take_stdio(fds)
        name_process(COMMAND_NAME)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = ["pipeline", *request["argv"]]
        sys.path[0] = request["path0"]
        from orchestration.cli import main

        main()
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        if not isinstance(exit_.code, int | None):
            sys.stderr.write(f"{exit_.code}\n")
    except BaseException:
        traceback.print_exc()
    finally:
        # What the interpreter does at exit: exit handlers (Prefect's deliver the run's
        # logs and events; the CLI's own ends the process with its code), then flush.
        atexit._run_exitfuncs()
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
    return code


def name_process(name: str) -> None:
    """Set the name ``ps``, ``top`` and ``/proc/PID/comm`` show (Linux; 15 bytes at most).

    Without it a warm command is ``python``, its arguments the starter's: a user looking
    up the pid a message names (a warehouse in use) could not tell a run from a starter.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_name = 15  # <linux/prctl.h>
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(pr_set_name, name.encode()[:15], 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"prctl(PR_SET_NAME, {name!r}): {os.strerror(errno)}")


def _take_stdio(fds: list[int]) -> None:
    """Make the command's descriptors this process's 0, 1 and 2, and give Python new
    stdio objects over them, buffered as Python buffers them at start-up (line by line
    on a terminal, stderr always)."""
    for number, fd in enumerate(fds):
        os.dup2(fd, number)
        os.close(fd)
    streams = {}
    for number, name, mode in ((0, "stdin", "rb"), (1, "stdout", "wb"), (2, "stderr", "wb")):
        old = getattr(sys, name)
        raw = io.FileIO(number, mode, closefd=False)
        buffered = io.BufferedReader(raw) if mode == "rb" else io.BufferedWriter(raw)
        line_buffered = name == "stderr" or (name == "stdout" and raw.isatty())
        streams[name] = io.TextIOWrapper(
            buffered, encoding=old.encoding, errors=old.errors, line_buffering=line_buffered
        )
    # sys.__stdout__ and the rest keep the start-up objects: they write to the same
    # descriptors, which now are the command's.
    sys.stdin, sys.stdout, sys.stderr = streams["stdin"], streams["stdout"], streams["stderr"]


def _hung_up(conn: socket.socket) -> bool:
    """Whether the command has closed its end (everything it sent is already read)."""
    timeout = conn.gettimeout()
    conn.setblocking(False)  # a socket with a timeout would wait that long for data
    try:
        return conn.recv(1, socket.MSG_PEEK) == b""
    except BlockingIOError:
        return False
    finally:
        conn.settimeout(timeout)


def _peer_uid(conn: socket.socket) -> int:
    """The uid of the process at the other end (Linux ``SO_PEERCRED``); this user's own
    where the platform cannot say (the socket's 0700 directory still guards it)."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        return os.getuid()
    _pid, uid, _gid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, option, 12))
    return int(uid)


def main(argv: list[str] | None = None) -> None:
    """Serve ``SOCKET`` until idle, stopped or stale; step aside if a starter serves it."""
    path = Path((argv or sys.argv[1:])[0])
    lock = path.with_suffix(".lock").open("a")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return  # another starter has it (or is importing to serve it)
    lock.truncate(0)  # who holds it: `pipeline server stop` ends a starter still importing
    lock.write(str(os.getpid()))
    lock.flush()
    name_process(STARTER_NAME)
    preload()
    path.unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    os.chmod(path, 0o600)
    listener.listen(16)
    try:
        Starter(listener, path, lock, IDLE_SECONDS).serve()
    finally:
        listener.close()  # the socket's name may be a fresh starter's by now: not unlinked


if __name__ == "__main__":
    main()
