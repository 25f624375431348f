"""The ingest's read-ahead: same items, same errors, bounded, and it cleans up."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from assets.sources import SourceError, read_source
from assets.sources.read_ahead import read_ahead
from tests.retail_support import write_source


def test_items_arrive_in_order_from_another_thread() -> None:
    threads: list[str] = []

    def numbers() -> Iterator[int]:
        for number in range(50):
            threads.append(threading.current_thread().name)
            yield number

    assert list(read_ahead(numbers(), name="producer")) == list(range(50))
    assert set(threads) == {"producer"}


def test_an_error_is_raised_after_the_items_before_it() -> None:
    def failing() -> Iterator[int]:
        yield 1
        yield 2
        raise SourceError("row 3 is bad", source="x.csv")

    received = []
    with pytest.raises(SourceError, match=r"x\.csv: row 3 is bad"):
        for item in read_ahead(failing()):
            received.append(item)
    assert received == [1, 2]


def test_at_most_one_item_is_produced_ahead() -> None:
    produced = []

    def counting() -> Iterator[int]:
        for number in range(10):
            produced.append(number)
            yield number

    stream = read_ahead(counting())
    assert next(stream) == 0
    time.sleep(0.3)  # give the producer time to run as far ahead as it may
    # 0 was handed over, 1 waits in the hand-over, 2 is computed but cannot be put yet.
    assert len(produced) <= 3
    stream.close()


def test_closing_early_closes_the_source_in_its_thread() -> None:
    closed = threading.Event()

    def endless() -> Iterator[int]:
        try:
            number = 0
            while True:
                yield number
                number += 1
        finally:
            closed.set()

    stream = read_ahead(endless())
    assert [next(stream) for _ in range(3)] == [0, 1, 2]
    stream.close()
    assert closed.wait(5)


def test_read_source_still_names_the_bad_rows_line(tmp_path) -> None:
    from assets.sources import synthetic

    frame = synthetic.generate(3_000, 5)
    frame["Quantity"] = frame["Quantity"].astype(object)
    frame.loc[2_600, "Quantity"] = "many"
    path = write_source(frame, tmp_path, "csv", "II")
    tables = []
    with pytest.raises(SourceError, match=r"line 2602, column 'Quantity': not a number: 'many'"):
        for table in read_source(str(path), chunk_rows=1_000):
            tables.append(table)
    assert [t.num_rows for t in tables] == [1_000, 1_000]
