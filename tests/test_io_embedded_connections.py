"""The embedded warehouse runs the statements of different threads at once.

Each call borrows a connection of its own from the engine's pool, so an asset's short
statements do not queue behind another asset's long one (the resolver runs assets side
by side on a thread pool). These tests use the real engine: ``system.processes`` shows
what it is running, and ``sleep()`` makes one statement long.
"""

from __future__ import annotations

import threading
import time

import pytest

from io_managers.errors import WarehouseError, WarehouseQueryError
from io_managers.transport import EmbeddedTransport

LONG = "SELECT sleep(2) AS slept -- the long statement"
RUNNING_LONG = (
    "SELECT count() FROM system.processes "
    "WHERE query LIKE '%the long statement%' AND query NOT LIKE '%system.processes%'"
)


@pytest.fixture
def transport(tmp_path):
    opened = EmbeddedTransport(tmp_path / "warehouse")
    yield opened
    opened.close()


def _start_long(transport: EmbeddedTransport) -> tuple[threading.Thread, list[float]]:
    finished: list[float] = []

    def run() -> None:
        transport.query_arrow(LONG)
        finished.append(time.monotonic())

    thread = threading.Thread(target=run)
    thread.start()
    return thread, finished


def _seen_running(transport: EmbeddedTransport, within: float) -> bool:
    """Whether another thread's long statement shows in ``system.processes`` while this
    thread queries (on one serialized connection this query would wait until it ended)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if transport.query_arrow(RUNNING_LONG).column(0)[0].as_py() == 1:
            return True
        time.sleep(0.02)
    return False


def test_a_statement_runs_while_another_thread_s_statement_is_still_running(transport):
    thread, finished = _start_long(transport)
    try:
        assert _seen_running(transport, within=1.5)
        assert not finished  # the long one was still running when ours returned
    finally:
        thread.join()
    assert finished


def test_an_insert_does_not_wait_for_a_long_query(transport):
    transport.command("CREATE TABLE default.t (n UInt8) ENGINE = MergeTree ORDER BY n")
    thread, finished = _start_long(transport)
    try:
        assert _seen_running(transport, within=1.5)
        transport.command("INSERT INTO default.t VALUES (1), (2)")
        count = transport.query_arrow("SELECT count() FROM default.t").column(0)[0].as_py()
        assert (count, finished) == (2, [])
    finally:
        thread.join()


def test_close_waits_for_the_statement_in_flight_then_refuses_new_ones(tmp_path):
    transport = EmbeddedTransport(tmp_path / "warehouse")
    thread, finished = _start_long(transport)
    assert _seen_running(transport, within=1.5)
    transport.close()  # returns only once the long statement gave its connection back
    assert finished
    thread.join()
    with pytest.raises(WarehouseError, match="closed"):
        transport.command("SELECT 1")


def test_a_failed_read_only_call_leaves_the_next_one_a_clean_connection(transport):
    transport.command("CREATE TABLE default.t (n UInt8) ENGINE = MergeTree ORDER BY n")
    with pytest.raises(WarehouseQueryError, match="readonly"):
        transport.query_arrow("INSERT INTO default.t VALUES (1)", readonly=2)
    result = transport.query_arrow("SELECT count() AS n FROM default.t", readonly=2)
    assert result.column("n")[0].as_py() == 0
    transport.command("INSERT INTO default.t VALUES (1)")  # ordinary calls still write
    assert transport.query_arrow("SELECT count() AS n FROM default.t").column("n")[0].as_py() == 1


def test_a_query_that_failed_after_its_first_rows_leaves_the_next_result_clean(transport):
    # chdb keeps the partial Arrow output of a query that failed part-way in the
    # connection, in front of the next result: that connection must not be used again.
    failing = "SELECT throwIf(number = 70000, 'boom') AS x FROM numbers(100000)"
    with pytest.raises(WarehouseQueryError, match="boom"):
        transport.query_arrow(f"{failing} SETTINGS max_block_size = 1000")

    described = transport.query_arrow("DESCRIBE (SELECT toUInt8(1) AS a)")

    assert described.column("name").to_pylist() == ["a"]
    assert described.column("type").to_pylist() == ["UInt8"]


def test_closing_while_this_thread_still_holds_a_stream_does_not_wait_for_itself(tmp_path):
    """A stream left open by the closing thread (an exception's traceback keeps it
    alive) cannot give its connection back while that thread waits: closing must not
    wait for it, and the stream's connection is closed when it ends."""
    outcome: list[str] = []

    def scenario() -> None:
        transport = EmbeddedTransport(tmp_path / "warehouse")
        stream = transport.iter_arrow("SELECT number FROM numbers(100000)", batch_rows=10)
        next(stream)
        transport.close()
        stream.close()
        outcome.append("closed")

    thread = threading.Thread(target=scenario, daemon=True)
    thread.start()
    thread.join(timeout=20)
    assert outcome == ["closed"]
    reopened = EmbeddedTransport(tmp_path / "warehouse")  # the engine was released
    reopened.close()
