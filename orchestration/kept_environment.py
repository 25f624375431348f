"""What of a command's environment a process that outlives it may keep: an allow-list.

The warm starter (:mod:`orchestration.warm_start`) and the background Prefect server
(:mod:`orchestration.local_server`) live on for minutes or hours after the command that
started them. Whatever environment they were started with sits in their
``/proc/PID/environ`` all that time, readable by every process of the user (and root): a
warehouse password, a Pushgateway URL with credentials, a cloud token. So they are given
only what a library reads as it is imported or a server as it starts (Prefect's own
``PREFECT_*`` settings, Python's, the locale, the loader's and the allocator's), and
where programs and temporary files are; nothing a command reads at run time.
"""

from __future__ import annotations

from collections.abc import Mapping

#: Environment variables a library reads when it is imported, or a server as it starts:
#: prefixes, then exact names. The dynamic loader (``LD_LIBRARY_PATH``), the C allocator
#: and numpy's OpenBLAS (``OPENBLAS_CORETYPE``) read theirs as the process or the library
#: loads; Prefect's server reads every setting of its own (``PREFECT_SERVER_*``, its
#: database's ``PREFECT_API_DATABASE_*``) from the environment.
IMPORT_TIME_PREFIXES = (
    "PREFECT_",
    "PANDERA_",
    "PYTHON",
    "LC_",
    "ARROW_",
    "LD_",
    "MALLOC_",
    "OMP_",
    "OPENBLAS_",
)
IMPORT_TIME_NAMES = frozenset(
    {"LANG", "LANGUAGE", "TZ", "HOME", "DO_NOT_TRACK", "NO_COLOR", "GLIBC_TUNABLES"}
)
#: What a process needs besides: where programs and temporary files are.
PROCESS_NAMES = frozenset({"PATH", "TMPDIR"})


def read_at_import(name: str) -> bool:
    """Whether the variable ``name`` is one a library reads as it is imported."""
    return name.startswith(IMPORT_TIME_PREFIXES) or name in IMPORT_TIME_NAMES


def kept_environment(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` without what a long-lived process must not hold: only the variables read
    at import (:func:`read_at_import`) and :data:`PROCESS_NAMES`."""
    return {
        name: value for name, value in env.items() if read_at_import(name) or name in PROCESS_NAMES
    }
