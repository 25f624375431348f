"""A code location that writes down the process context it is imported in.

A warm command runs in a starter's child; what it runs *in* (umask, resource limits,
namespaces, capabilities, priority) must be its caller's, as a cold command's is
(tests/test_warm_start.py). Read here with the plain system calls, independently of
:mod:`orchestration.process_context`, and written as JSON to the file
``$PIPELINE_TEST_CONTEXT_REPORT`` names.
"""

from __future__ import annotations

import json
import os
import resource
from pathlib import Path

from orchestration.definitions import load_definitions

REPORT_ENV = "PIPELINE_TEST_CONTEXT_REPORT"


def observed() -> dict[str, object]:
    """This process's context, as a command would meet it."""
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    namespaces = Path("/proc/self/ns")
    return {
        "status": {
            name: status[name].strip()
            for name in ("Umask", "CapEff", "CapPrm", "CapBnd", "NoNewPrivs")
        },
        "limits": {
            name: resource.getrlimit(getattr(resource, name))
            for name in dir(resource)
            if name.startswith("RLIMIT_")
        },
        "namespaces": {link.name: os.readlink(link) for link in sorted(namespaces.iterdir())},
        "nice": os.getpriority(os.PRIO_PROCESS, 0),
        "cpus": sorted(os.sched_getaffinity(0)),
        "cgroup": Path("/proc/self/cgroup").read_text(),
        "root": list(os.stat("/proc/self/root")[1:3]),
    }


if REPORT_ENV in os.environ:
    Path(os.environ[REPORT_ENV]).write_text(json.dumps(observed()))
defs = load_definitions("tests.example_location")
