"""What a process runs *in*, besides its environment: read from ``/proc``, cheaply.

A warm command runs in a child the starter forks (:mod:`orchestration.warm_start`), so it
has the starter's process context, not its caller's: its namespaces (a private mount of
a full disk), its user, groups and capabilities, its resource limits, umask, cgroup,
root directory, security label, priority and CPUs. Run in another one, a command writes
where its caller cannot see, with modes, limits and permissions its caller did not give
it, and says nothing. So a starter serves only commands whose context is its own: the
context is part of its key (a command in another one gets a starter of its own), and the
starter compares it again before each command (:func:`process_context` of the process
that would run it), since a starter's context can change after it was started.

Everything is read from ``/proc/PID`` (tens of microseconds, standard library only: the
``pipeline`` script reads it before it knows whether to start warm), so the context of a
spare child can be read by its starter as a process's own is. Without ``/proc`` (not
Linux) there is no knowing it: :class:`OSError`, and the command runs cold.
"""

from __future__ import annotations

import os

#: The namespaces a process is in (``/proc/PID/ns``): a link per kind, named by inode.
NAMESPACES = (
    "cgroup",
    "ipc",
    "mnt",
    "net",
    "pid",
    "pid_for_children",
    "time",
    "time_for_children",
    "user",
    "uts",
)
#: The lines of ``/proc/PID/status`` that are context: who the process is and may be
#: (ids, groups, capabilities, no_new_privs, seccomp), its umask, CPUs and memory nodes.
STATUS_FIELDS = frozenset(
    {
        "Umask",
        "Uid",
        "Gid",
        "Groups",
        "CapInh",
        "CapPrm",
        "CapEff",
        "CapBnd",
        "CapAmb",
        "NoNewPrivs",
        "Seccomp",
        "Seccomp_filters",
        "Cpus_allowed_list",
        "Mems_allowed_list",
    }
)
#: Files of ``/proc/PID`` taken whole: every resource limit, the cgroups, the
#: out-of-memory killer's bias, the execution domain, the audit login and session, and
#: the security module's label (SELinux, AppArmor, Smack; unreadable without one).
FILES = (
    "limits",
    "cgroup",
    "oom_score_adj",
    "personality",
    "loginuid",
    "sessionid",
    "attr/current",
)
#: Fields of ``/proc/PID/stat``, counted from the state (field 3): nice, real-time
#: priority and scheduling policy.
_STAT_FIELDS = {"nice": 19 - 3, "rt_priority": 40 - 3, "policy": 41 - 3}
#: ``ioprio_get`` (``ionice``), which ``/proc`` does not show: its system call number.
_IOPRIO_GET = {"x86_64": 252, "aarch64": 31}
_IOPRIO_WHO_PROCESS = 1

#: A process's context: each entry's text as the kernel shows it (None: not shown).
ProcessContext = dict[str, str | None]


def process_context(pid: int = 0) -> ProcessContext:
    """The context of process ``pid`` (0: this one), as strings to compare or hash; an
    entry the kernel will not show is None. OSError when ``/proc`` cannot say."""
    proc = f"/proc/{pid}" if pid else "/proc/self"
    context: ProcessContext = {}
    with open(f"{proc}/status", encoding="utf-8") as status:  # OSError: not Linux, or gone
        for line in status:
            name, _, value = line.partition(":")
            if name in STATUS_FIELDS:
                context[name] = value.strip()
    fields = _read(f"{proc}/stat")
    after_name = fields.rsplit(")", 1)[1].split() if fields else []
    for name, index in _STAT_FIELDS.items():
        context[name] = after_name[index] if len(after_name) > index else None
    for kind in NAMESPACES:
        context[f"ns/{kind}"] = _link(f"{proc}/ns/{kind}")
    for name in FILES:
        context[name] = _read(f"{proc}/{name}")
    context["root"] = _identity(f"{proc}/root")
    context["ioprio"] = _ioprio(pid)
    return context


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            return file.read()
    except OSError:  # no such file here, or none to show (attr/current without a module)
        return None


def _link(path: str) -> str | None:
    try:
        return os.readlink(path)
    except OSError:
        return None


def _identity(path: str) -> str | None:
    """Which directory ``path`` is (``chroot`` and ``pivot_root`` change the root)."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return f"{info.st_dev}:{info.st_ino}"


def _ioprio(pid: int) -> str | None:
    """The I/O priority (``ionice``): its class and level, as ``ioprio_get`` returns it."""
    number = _IOPRIO_GET.get(os.uname().machine)
    if number is None:
        return None
    import ctypes  # here: ``pipeline --help`` and ``server`` never need it (~2 ms)

    value = ctypes.CDLL(None, use_errno=True).syscall(number, _IOPRIO_WHO_PROCESS, pid)
    return None if value < 0 else str(value)
