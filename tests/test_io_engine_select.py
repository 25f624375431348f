"""A Python asset returning :class:`EngineSelect`: the engine computes the rows, or the
asset's Python fallback does - never both, never neither.

Runs on the embedded engine (which reads this machine's files) and on the server backend
(which cannot be assumed to: it always takes the fallback).
"""

from __future__ import annotations

import pandas as pd
import pytest

from io_managers import MaterializationError
from orchestration.io_manager import EngineSelect
from tests.io_helpers import (
    context,
    python_asset,
    staging_tables,
)


def engine_numbers(count: int) -> str:
    return (
        f"SELECT number AS n, concat('n', toString(number)) AS label, "
        f"toFloat64(number) AS score FROM numbers({count})"
    )


class Fallback:
    """The asset's Python way: ``rows`` rows labelled ``python``, counting its calls."""

    def __init__(self, rows: int) -> None:
        self.rows = rows
        self.calls = 0

    def __call__(self) -> pd.DataFrame:
        self.calls += 1
        return pd.DataFrame(
            {
                "n": pd.Series(range(self.rows), dtype="uint64"),
                "label": ["python"] * self.rows,
                "score": [1.0] * self.rows,
            }
        )


def materialize(backend, db, output):
    spec = python_asset(f"{db}.numbers", lambda ctx: output)
    result = backend.warehouse.materialize(spec, context(spec, backend.warehouse))
    labels = backend.warehouse.query_arrow(
        f"SELECT label, count() AS rows FROM {db}.numbers GROUP BY label ORDER BY label"
    ).to_pylist()
    return result, {row["label"]: row["rows"] for row in labels}


def test_the_engine_computes_the_rows_when_it_can(backend, db):
    fallback = Fallback(3)
    output = EngineSelect(engine_numbers(50), fallback, reads_local_files=False)
    result, labels = materialize(backend, db, output)
    assert result.rows == 50
    assert fallback.calls == 0
    assert sum(labels.values()) == 50 and "python" not in labels


def test_a_select_reading_local_files_runs_only_on_an_engine_that_sees_them(backend, db):
    fallback = Fallback(3)
    result, labels = materialize(backend, db, EngineSelect(engine_numbers(50), fallback))
    if backend.kind == "embedded":
        assert (result.rows, fallback.calls) == (50, 0)
    else:  # a server reads its own disk, not ours
        assert (result.rows, fallback.calls, labels) == (3, 1, {"python": 3})


def test_a_select_that_fails_part_way_leaves_only_the_fallbacks_rows(backend, db):
    # The first block of rows is written before the failing one: staging must be emptied.
    failing = (
        "SELECT number AS n, concat('n', toString(number)) AS label, "
        "toFloat64(throwIf(number = 150000, 'declined')) AS score FROM numbers(200000) "
        "SETTINGS max_block_size = 1000, max_threads = 1, min_insert_block_size_rows = 1000, "
        "min_insert_block_size_bytes = 0"
    )
    fallback = Fallback(4)
    result, labels = materialize(backend, db, EngineSelect(failing, fallback, False))
    assert (result.rows, fallback.calls, labels) == (4, 1, {"python": 4})


def test_a_select_staging_no_rows_hands_over_to_the_fallback(backend, db):
    fallback = Fallback(2)
    result, labels = materialize(backend, db, EngineSelect(engine_numbers(0), fallback, False))
    assert (result.rows, fallback.calls, labels) == (2, 1, {"python": 2})


def test_a_select_with_the_wrong_columns_hands_over_to_the_fallback(backend, db):
    fallback = Fallback(2)
    wrong = "SELECT number AS n, 'x' AS nickname FROM numbers(5)"
    result, labels = materialize(backend, db, EngineSelect(wrong, fallback, False))
    assert (result.rows, fallback.calls, labels) == (2, 1, {"python": 2})


def test_after_the_interrupt_sweep_no_staging_table_is_created(backend, db):
    """The interrupt's sweep drops this process's staging tables; a worker thread that
    reaches its materialization afterwards must not create a new one, which the exiting
    process would leave behind (the next run would have to clean it up)."""
    backend.warehouse.stop(timeout=10)
    staging = backend.warehouse.staging.new_name(db, "numbers")
    with pytest.raises(MaterializationError, match="interrupted"):
        backend.warehouse.staging.create(staging, f"{db}.numbers")
    assert staging_tables(backend.warehouse, db) == []


def test_declared_columns_are_inserted_by_name_without_asking_the_engine(backend, db, monkeypatch):
    # Declared in another order than the SELECT gives them: each lands in its own column.
    described = []
    columns = backend.warehouse.queries.columns

    def recorded(sql):
        described.append(sql)
        return columns(sql)

    monkeypatch.setattr(backend.warehouse.queries, "columns", recorded)
    fallback = Fallback(3)
    output = EngineSelect(
        engine_numbers(5), fallback, reads_local_files=False, columns=("score", "n", "label")
    )
    result, labels = materialize(backend, db, output)
    assert (result.rows, fallback.calls, labels) == (5, 0, {f"n{i}": 1 for i in range(5)})
    assert not [sql for sql in described if "numbers(5)" in sql]  # no DESCRIBE of the SELECT
    stored = backend.warehouse.query_arrow(
        f"SELECT n, label, score FROM {db}.numbers ORDER BY n"
    ).to_pylist()
    assert stored[4] == {"n": 4, "label": "n4", "score": 4.0}


def test_a_declared_column_the_select_lacks_hands_over_to_the_fallback(backend, db):
    fallback = Fallback(2)
    output = EngineSelect(
        engine_numbers(5), fallback, reads_local_files=False, columns=("n", "label", "rank")
    )
    result, labels = materialize(backend, db, output)
    assert (result.rows, fallback.calls, labels) == (2, 1, {"python": 2})


class SourceChanged(Exception):
    """What an asset's ``verify_read`` raises for a source that changed under the read."""


def test_a_read_that_fails_verification_publishes_nothing_and_never_falls_back(backend, db):
    """The SELECT read its source whole, but the source changed while it was read: the
    asset fails with the asset's own error, before anything is published, and the fallback
    (which would read the changed source) never runs."""
    materialize(backend, db, EngineSelect(engine_numbers(3), Fallback(0), False))
    staged = []

    def changed() -> None:
        (staging,) = staging_tables(backend.warehouse, db)
        staged.append(backend.warehouse.row_count(f"{db}.{staging}"))
        raise SourceChanged("data.csv: the file changed while it was read")

    fallback = Fallback(2)
    output = EngineSelect(engine_numbers(50), fallback, False, verify_read=changed)
    with pytest.raises(SourceChanged, match="changed while it was read"):
        materialize(backend, db, output)
    assert fallback.calls == 0
    assert staged == [50]  # called once, with every row staged and none published
    assert backend.warehouse.row_count(f"{db}.numbers") == 3  # as the last load left it
    assert staging_tables(backend.warehouse, db) == []
