"""A real Prometheus Pushgateway (Debian ``prometheus-pushgateway``) for the tests, and what
it serves, read back as Prometheus would scrape it.

The gateway runs on a free loopback port without persistence; a module uses it with
``from tests.pushgateway_support import pushgateway`` (the fixture is module-scoped).
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

PUSHGATEWAY_BINARY = Path("/usr/bin/prometheus-pushgateway")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="module")
def pushgateway(tmp_path_factory) -> Iterator[str]:
    """A real Pushgateway on loopback for this module; in CI its absence is a failure."""
    if not PUSHGATEWAY_BINARY.exists():
        message = f"{PUSHGATEWAY_BINARY} missing: apt-get install prometheus-pushgateway"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path_factory.mktemp("pushgateway") / "pushgateway.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            # An empty persistence file keeps it in memory: Debian's default file is
            # shared by every gateway on the machine, earlier runs' groups included.
            [
                str(PUSHGATEWAY_BINARY),
                f"--web.listen-address=127.0.0.1:{port}",
                "--persistence.file=",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while not _ready(url):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the Pushgateway did not start:\n{log_path.read_text()[-2000:]}")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def scraped(url: str) -> list[tuple[str, dict[str, str], float]]:
    """Every sample the gateway serves on ``/metrics``: name, labels, value."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:
        text = response.read().decode()
    return [
        (sample.name, dict(sample.labels), sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]


def group_samples(url: str, **grouping: str) -> dict[str, tuple[dict[str, str], float]]:
    """The samples whose labels include ``grouping``, by name (one sample per name, as a
    group of gauges holds), without the gateway's own ``push_*`` metrics."""
    found: dict[str, tuple[dict[str, str], float]] = {}
    for name, labels, value in scraped(url):
        if name.startswith("push_") or any(labels.get(k) != v for k, v in grouping.items()):
            continue
        assert name not in found, f"{name} twice in {grouping}: {found[name]}, {labels}"
        found[name] = (labels, value)
    return found


def group_values(url: str, **grouping: str) -> dict[str, float]:
    """:func:`group_samples`' values by name."""
    return {name: value for name, (_, value) in group_samples(url, **grouping).items()}
