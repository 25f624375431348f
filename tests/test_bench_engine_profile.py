"""bench/engine_profile.py: statements summed by kind, and the engine's idle gaps."""

from __future__ import annotations

from bench.engine_profile import by_kind, idle_gaps, kind_of
from bench.metering import EngineClock, Statement, busy_seconds


def test_each_statement_the_framework_issues_has_its_kind() -> None:
    assert kind_of("INSERT INTO _pipeline.materializations FORMAT JSONEachRow {}") == (
        "history write"
    )
    assert kind_of("INSERT INTO `vault`.`_stg_hub_1` (`a`) SETTINGS x = 0\nSELECT 1") == (
        "staging INSERT ... SELECT (the work)"
    )
    assert kind_of("(Arrow rows) INSERT INTO `raw`.`_stg_x`") == "Arrow insert (Python asset)"
    assert kind_of("SELECT count() AS __staged_rows, 1 FROM t") == "validation aggregate"
    assert kind_of("SELECT count() AS violations FROM (SELECT 1)") == "asset check"
    assert kind_of("DESCRIBE (SELECT 1)") == "DESCRIBE"
    assert kind_of("ALTER TABLE t ATTACH PARTITION ID 'all' FROM s") == (
        "publish (EXCHANGE / ATTACH)"
    )
    assert kind_of("SELECT database, name FROM system.tables") == (
        "other (catalog, reports' queries)"
    )


def test_seconds_add_up_by_kind_largest_first() -> None:
    statements = [
        Statement("a", 0.0, 1.0, "INSERT INTO `x`.`_stg_a` SELECT 1"),
        Statement("a", 1.0, 1.25, "DESCRIBE (SELECT 1)"),
        Statement("b", 2.0, 3.5, "INSERT INTO `x`.`_stg_b` SELECT 1"),
    ]
    assert by_kind(statements) == [
        ("staging INSERT ... SELECT (the work)", 2, 2.5),
        ("DESCRIBE", 1, 0.25),
    ]


def test_idle_gaps_ignore_overlap_and_name_what_ran_before() -> None:
    statements = [
        Statement("a", 0.0, 1.0, ""),
        Statement("b", 0.5, 2.0, ""),  # overlaps a: no gap
        Statement("c", 2.5, 3.0, ""),  # 0.5 s after b
        Statement("d", 3.1, 3.2, ""),  # 0.1 s after c
    ]
    gaps = idle_gaps(statements)
    assert [(round(seconds, 3), asset) for seconds, asset in gaps] == [(0.5, "b"), (0.1, "c")]


def test_busy_counts_overlapping_statements_once() -> None:
    assert busy_seconds([(0.0, 1.0), (0.5, 2.0), (0.6, 0.7), (2.5, 3.0)]) == 2.5
    assert busy_seconds([]) == 0.0


def test_the_clock_s_busy_time_leaves_out_unattributed_statements() -> None:
    clock = EngineClock()
    clock.charge(0.0, 5.0)  # set-up, no asset yet
    clock.working_on("a")
    clock.charge(10.0, 11.0)
    clock.charge(10.5, 12.0)
    assert (clock.busy(), clock.total()) == (2.0, 2.5 + 5.0)
