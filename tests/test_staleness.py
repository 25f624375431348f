"""Each asset state and each reason, on plain records (the rules touch no warehouse)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from assets.sources.fingerprint import source_fingerprint
from orchestration.asset import AssetSpec
from orchestration.graph import AssetGraph
from orchestration.history import STOPPED, AssetHistory, MaterializationRecord
from orchestration.staleness import assess, assess_asset

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def record(key, mid, *, minutes=0, status="materialized", version="v1", upstream=None, **extra):
    return MaterializationRecord(
        materialization_id=mid,
        asset_key=key,
        table=f"db.{key}",
        code_version=version,
        started=T0 + timedelta(minutes=minutes),
        status=status,
        upstream=upstream or {},
        **extra,
    )


def built(rec: MaterializationRecord) -> AssetHistory:
    return AssetHistory(last_attempt=rec, last_success=rec)


def kinds(state) -> list[str]:
    return [reason.kind for reason in state.reasons]


def test_never_materialized_is_missing():
    state = assess_asset("a", (), "v1", None, {})
    assert state.state == "missing"
    assert kinds(state) == ["never_materialized"]


def test_missing_after_a_failed_first_attempt_says_so():
    failed = record("a", "m1", status="failed", error="boom\ntraceback")
    state = assess_asset("a", (), "v1", None, {"a": AssetHistory(last_attempt=failed)})
    assert state.state == "missing"
    assert kinds(state) == ["never_materialized", "last_run_failed"]
    assert state.reasons[1].detail == "last run failed: boom"


def test_unchanged_asset_is_fresh():
    state = assess_asset("a", (), "v1", None, {"a": built(record("a", "m1"))})
    assert state.state == "fresh"
    assert state.reasons == ()
    assert state.explain() == "fresh"


def test_changed_code_version_is_stale():
    state = assess_asset("a", (), "v2", None, {"a": built(record("a", "m1", version="v1"))})
    assert state.state == "stale"
    assert kinds(state) == ["code_changed"]
    assert "built with v1, now v2" in state.explain()


def test_changed_source_fingerprint_is_stale():
    history = {"a": built(record("a", "m1", source_fingerprint="file size=1"))}
    assert assess_asset("a", (), "v1", "file size=1", history).state == "fresh"
    state = assess_asset("a", (), "v1", "file size=2", history)
    assert kinds(state) == ["source_changed"]


@pytest.fixture
def data_csv(tmp_path, monkeypatch):
    """A CSV in the working directory, as ``--source data.csv`` names it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ONLINE_RETAIL_DATA_URL", raising=False)
    monkeypatch.delenv("ONLINE_RETAIL_SOURCE_ENCODING", raising=False)
    path = tmp_path / "data.csv"
    path.write_text("InvoiceNo\n1\n")
    return path


def source_reason(built_from: dict[str, str], compared_with: dict[str, str]) -> str:
    """The source_changed reason of an asset built from one source and judged on another,
    both fingerprinted as the retail ingest asset fingerprints them."""
    recorded = record("a", "m1", source_fingerprint=source_fingerprint(built_from))
    state = assess_asset("a", (), "v1", source_fingerprint(compared_with), {"a": built(recorded)})
    assert kinds(state) == ["source_changed"]  # the kind --json scripts read stays
    return state.reasons[0].detail


def test_a_source_compared_with_another_than_it_was_built_from_names_both(data_csv):
    """After materialize --source FILE, a plain status compares with the default source: its
    reason must not read as if the file changed, and says how to compare with the file."""
    latin1 = {"source": str(data_csv), "source_encoding": "latin-1"}
    assert source_reason(latin1, {}) == (
        "source changed: built from data.csv read as latin-1 (iso8859-1), compared with "
        "synthetic:100000:42 (pass --source data.csv --source-encoding latin-1 to "
        "compare with it)"
    )
    assert source_reason({"source": str(data_csv)}, {"source": "synthetic:500"}) == (
        "source changed: built from data.csv, compared with synthetic:500:42 "
        "(pass --source data.csv to compare with it)"
    )
    assert source_reason({"source": "synthetic:500"}, {"source": str(data_csv)}) == (
        "source changed: built from synthetic:500:42, compared with data.csv "
        "(pass --source synthetic:500:42 to compare with it)"
    )


def test_the_same_file_in_another_encoding_names_both_encodings(data_csv):
    assert source_reason(
        {"source": str(data_csv), "source_encoding": "latin-1"}, {"source": str(data_csv)}
    ) == (
        "source changed: built from data.csv read as latin-1 (iso8859-1), compared with "
        "data.csv read as utf-8 (pass --source-encoding latin-1 to compare with it)"
    )


def test_a_file_outside_the_working_directory_is_named_by_its_whole_path(
    data_csv, tmp_path, monkeypatch
):
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert source_reason({"source": str(data_csv)}, {}) == (
        f"source changed: built from {data_csv}, compared with synthetic:100000:42 "
        f"(pass --source {data_csv} to compare with it)"
    )


def test_a_path_the_shell_would_split_is_quoted_in_the_option(data_csv):
    spaced = data_csv.rename(data_csv.with_name("my data.csv"))
    assert source_reason({"source": str(spaced)}, {}) == (
        "source changed: built from my data.csv, compared with synthetic:100000:42 "
        "(pass --source 'my data.csv' to compare with it)"
    )


def test_a_url_is_never_named_by_its_text(data_csv):
    """A URL may carry a token: its fingerprint holds a hash of it, and the words none."""
    url = 'url 0123456789abcdef {"etag": "v1"}'

    def reason(built_from: str, compared_with: str) -> str:
        history = {"a": built(record("a", "m1", source_fingerprint=built_from))}
        return assess_asset("a", (), "v1", compared_with, history).reasons[0].detail

    assert reason(url, source_fingerprint({})) == (
        "source changed: built from a URL, compared with synthetic:100000:42 (pass the URL "
        "it was built from as --source to compare with it)"
    )
    assert reason(url, "url fedcba9876543210 sha256=ab") == (
        "source changed: built from a URL, compared with another URL (pass the URL it was "
        "built from as --source to compare with it)"
    )
    assert reason(f"{url} encoding=cp1252", url.replace("v1", "v2")) == (
        "source changed: built from a URL read as cp1252, compared with that URL read as "
        "utf-8 (pass --source-encoding cp1252 to compare with it)"
    )


def test_the_same_source_whose_content_changed_keeps_its_words(data_csv):
    before = source_fingerprint({"source": str(data_csv)})
    data_csv.write_text("InvoiceNo\n1\n2\n")
    history = {"a": built(record("a", "m1", source_fingerprint=before))}
    state = assess_asset("a", (), "v1", source_fingerprint({"source": str(data_csv)}), history)
    assert state.explain() == "source changed since it was read"


def test_unavailable_source_is_stale():
    history = {"a": built(record("a", "m1", source_fingerprint="file size=1"))}
    state = assess_asset("a", (), "v1", "unavailable: file gone", history)
    assert kinds(state) == ["source_changed"]


def test_source_that_cannot_be_asked_stays_stale_even_if_it_could_not_be_asked_before():
    # Built from a source that answered no question (e.g. a URL that refuses HEAD): the
    # same "unavailable" answer again says nothing about whether the data changed.
    unavailable = "unavailable: url 0123: HTTP 403"
    history = {"a": built(record("a", "m1", source_fingerprint=unavailable))}
    state = assess_asset("a", (), "v1", unavailable, history)
    assert state.state == "stale"
    assert kinds(state) == ["source_changed"]
    assert "cannot be asked (url 0123: HTTP 403)" in state.explain()


def test_upstream_materialized_since_it_was_read_is_stale():
    history = {
        "up": built(record("up", "u2", minutes=5)),
        "a": built(record("a", "m1", upstream={"up": "u1"})),
    }
    state = assess_asset("a", ("up",), "v1", None, history)
    assert kinds(state) == ["upstream_materialized"]
    assert "up" in state.explain()


def test_upstream_read_at_its_latest_materialization_is_fresh():
    history = {
        "up": built(record("up", "u1")),
        "a": built(record("a", "m1", minutes=1, upstream={"up": "u1"})),
    }
    assert assess_asset("a", ("up",), "v1", None, history).state == "fresh"


def test_upstream_never_materialized_by_the_framework_does_not_make_stale():
    history = {"a": built(record("a", "m1", upstream={"up": None}))}
    assert assess_asset("a", ("up",), "v1", None, history).state == "fresh"


def test_failed_upstream_attempt_is_not_a_materialization():
    good = record("up", "u1")
    failed = record("up", "u2", minutes=5, status="failed", error="x")
    history = {
        "up": AssetHistory(last_attempt=failed, last_success=good),
        "a": built(record("a", "m1", minutes=1, upstream={"up": "u1"})),
    }
    assert assess_asset("a", ("up",), "v1", None, history).state == "fresh"


def test_last_run_failed_after_a_success_is_stale():
    good = record("a", "m1")
    failed = record("a", "m2", minutes=5, status="failed", error="check failed")
    state = assess_asset("a", (), "v1", None, {"a": AssetHistory(failed, good)})
    assert state.state == "stale"
    assert kinds(state) == ["last_run_failed"]
    assert state.last_success is good
    assert state.last_attempt is failed


def test_interrupted_run_is_a_failed_run():
    good = record("a", "m1")
    interrupted = record("a", "m2", minutes=5, status="started")
    state = assess_asset("a", (), "v1", None, {"a": AssetHistory(interrupted, good)})
    assert kinds(state) == ["last_run_failed"]
    assert "did not finish" in state.explain()


def test_the_assets_one_interrupt_stopped_read_alike():
    """After Ctrl-C, an asset whose worker ended as the run stopped read "last run failed:
    interrupted: the run was stopped"; one the stop left ``started`` (it had not begun,
    or its worker never got back) "last run did not finish (interrupted, or still
    running)": one interruption, two stories. Both now read as the second."""
    good = record("a", "m1")
    stopped = record("a", "m2", minutes=5, status="failed", error=STOPPED)
    left = record("a", "m3", minutes=5, status="started")
    said = [
        assess_asset("a", (), "v1", None, {"a": AssetHistory(attempt, good)}).explain()
        for attempt in (stopped, left)
    ]
    assert said == ["last run did not finish (interrupted, or still running)"] * 2


def test_all_reasons_are_listed_together():
    history = {
        "up": built(record("up", "u2", minutes=3)),
        "a": AssetHistory(
            record("a", "m2", minutes=5, status="failed", error="e"),
            record("a", "m1", upstream={"up": "u1"}, source_fingerprint="s1"),
        ),
    }
    state = assess_asset("a", ("up",), "v2", "s2", history)
    assert kinds(state) == [
        "code_changed",
        "source_changed",
        "upstream_materialized",
        "last_run_failed",
    ]


def test_a_table_holding_other_rows_than_its_build_left_changed_outside_the_pipeline():
    history = {"a": built(record("a", "m1", rows=1_904))}
    assert assess_asset("a", (), "v1", None, history, held_rows=1_904).state == "fresh"
    state = assess_asset("a", (), "v1", None, history, held_rows=1_901)
    assert state.state == "stale"
    assert [(r.kind, r.detail) for r in state.reasons] == [
        ("changed_outside", "changed outside the pipeline: holds 1,901 rows, 1,904 when built")
    ]
    added = assess_asset("a", (), "v1", None, {"a": built(record("a", "m1", rows=0))}, held_rows=1)
    assert added.explain() == "changed outside the pipeline: holds 1 row, 0 when built"


def test_rows_are_compared_with_those_the_latest_attempt_left_and_only_when_it_tells():
    good = record("a", "m1", rows=10)
    checked = record("a", "m2", minutes=5, status="failed", error="e", rows=12)
    # It published 12 rows and then failed its checks: the table holds those.
    after_checks = assess_asset(
        "a", (), "v1", None, {"a": AssetHistory(checked, good)}, held_rows=12
    )
    assert kinds(after_checks) == ["last_run_failed"]
    # A failure before publishing leaves what an earlier attempt left: not told, not compared.
    early = record("a", "m2", minutes=5, status="failed", error="e")
    before = assess_asset("a", (), "v1", None, {"a": AssetHistory(early, good)}, held_rows=3)
    assert kinds(before) == ["last_run_failed"]
    # No count (storage that cannot tell, an engine whose count changes on its own).
    assert assess_asset("a", (), "v1", None, {"a": built(good)}).state == "fresh"


def test_the_outside_change_is_listed_before_the_failure():
    good = record("a", "m1", rows=10, upstream={"up": "u1"})
    checked = record("a", "m2", minutes=5, status="failed", error="e", rows=12)
    history = {"up": built(record("up", "u2", minutes=3)), "a": AssetHistory(checked, good)}
    state = assess_asset("a", ("up",), "v2", None, history, held_rows=11)
    assert kinds(state) == [
        "code_changed",
        "upstream_materialized",
        "changed_outside",
        "last_run_failed",
    ]


def _spec(key: str, deps=()) -> AssetSpec:
    return AssetSpec(
        key=key, table=f"db.{key}", body=lambda c: pd.DataFrame(), kind="python", deps=deps
    )


def test_stale_upstream_does_not_make_its_descendants_stale():
    graph = AssetGraph([_spec("up"), _spec("down", ("up",))])
    history = {
        "up": built(record("up", "u1")),
        "down": built(record("down", "d1", minutes=1, upstream={"up": "u1"})),
    }
    states = assess(graph, {"up": "v2", "down": "v1"}, {}, history)
    assert [s.state for s in states.values()] == ["stale", "fresh"]
    assert list(states) == ["up", "down"]


def test_an_order_only_upstream_rebuilt_since_says_so():
    """``fact`` reads ``source`` and only runs after ``dimension`` (its checks read it):
    the rebuilt dimension still makes it stale - its checks' verdict is out of date - but
    the reason must not read as if its data came from there."""
    from orchestration.graph import Upstream

    specs = [
        _spec("source"),
        _spec("dimension", ("source",)),
        _spec("fact", ("source", "dimension")),
    ]
    upstream = {"fact": Upstream(reads=("source",), ordering=("dimension",), derived=True)}
    graph = AssetGraph(specs, upstream=upstream)
    history = {
        "source": built(record("source", "s1")),
        "dimension": built(record("dimension", "d2", minutes=5)),
        "fact": built(
            record("fact", "f1", minutes=1, upstream={"source": "s1", "dimension": "d1"})
        ),
    }
    state = assess(graph, dict.fromkeys(("source", "dimension", "fact"), "v1"), {}, history)["fact"]
    assert state.state == "stale"
    assert [r.detail for r in state.reasons] == ["upstream materialized since: dimension (order)"]


DRIFTED = (
    "asset 'dim_country' (table marts.Dim_Country): has drifted from its DDL, so nothing was "
    "written: column 'country_name' is String in the warehouse but LowCardinality(String) in "
    "the DDL"
)
REBUILD = "Rebuild it from the DDL with: pipeline materialize --full-refresh --select dim_country"


def last_failure(error: str) -> str:
    failed = record("a", "m1", status="failed", error=error)
    state = assess_asset("a", (), "v1", None, {"a": AssetHistory(last_attempt=failed)})
    return state.reasons[1].detail.removeprefix("last run failed: ")


def test_a_long_failure_keeps_the_command_it_ends_with():
    """A drift refusal (~260 characters) cut at 200 lost the --full-refresh it names."""
    assert last_failure(f"{DRIFTED}. {REBUILD}") == f"{DRIFTED}. {REBUILD}"


def test_a_long_failure_is_cut_at_a_sentence_not_mid_word_and_keeps_its_command():
    drifted = DRIFTED + "; column 'avg_price' is missing in the warehouse (Float64 in the DDL)"
    error = f"{drifted}. Then more words here. {REBUILD}"
    head = error[: error.index(" Then")]
    assert len(head) > 200  # cut at a word then, with the command after the mark
    assert last_failure(error) == f"{head[: head.rindex(' ', 0, 200)]} … {REBUILD}"
    shorter = f"{DRIFTED}. {'More words. ' * 8}{REBUILD}"
    assert last_failure(shorter) == f"{DRIFTED}. More words. … {REBUILD}"


def test_a_long_failure_ending_in_no_command_is_cut_at_its_last_sentence_that_fits():
    error = f"{DRIFTED}. {'More words. ' * 8}The end"
    assert last_failure(error) == f"{DRIFTED}. More words. …"


def test_a_failure_said_of_the_asset_its_row_names_keeps_the_engines_guess():
    """History keeps a compile error whole (the engine's ~600-character quote of the
    SELECT after its guess); cut at 200 with ``asset 'a' (table db.a):`` before it, the
    reason lost the guess, ``Maybe you meant``. The row names the asset already."""
    cause = (
        "assets/marts.py:36:5: SELECT does not compile: Identifier 'sat.Quantiy' cannot be "
        "resolved from table with name sat (an alias of sat_invoice). Maybe you meant: "
        "['sat.Quantity']."
    )
    quote = " In scope SELECT hub.hub_invoice_hash_key AS sale_id, " + "x, " * 200
    assert last_failure(f"asset 'a' (table db.a): {cause}{quote}") == f"{cause} …"


def test_a_long_failure_without_a_sentence_break_is_cut_at_a_word():
    error = "word " * 60
    failed = record("a", "m1", status="failed", error=error)
    state = assess_asset("a", (), "v1", None, {"a": AssetHistory(last_attempt=failed)})
    detail = state.reasons[1].detail.removeprefix("last run failed: ")
    assert detail.endswith("word …") and len(detail) <= 202


def test_the_rows_a_table_holds_are_those_of_the_latest_attempt_that_published():
    """A page of an attempt that published nothing says what the table still holds: the
    latest attempt's rows if it published them (a success, or a failure only in its
    checks, which run on the published table); else the records do not tell."""
    good = record("a", "m1", rows=100)
    checks_failed = record("a", "m2", minutes=1, status="failed", rows=120)
    broke = record("a", "m3", minutes=2, status="failed")
    interrupted = record("a", "m4", minutes=2, status="started")
    assert built(good).table_rows == 100
    assert AssetHistory(checks_failed, good).table_rows == 120
    assert AssetHistory(checks_failed, None).table_rows == 120
    # What an earlier attempt left, between the success and this one, is not recorded here.
    assert AssetHistory(broke, good).table_rows is None
    assert AssetHistory(interrupted, good).table_rows is None
    assert AssetHistory().table_rows is None


#: A failure in its checks, as the history keeps it, and as status gives it (its row
#: names the asset: the reason leaves out the ``asset 'a' (table db.a): `` lead).
CHECKS_CAUSE = "failed its checks: check 'positive' (error): 1 row"
CHECKS_FAILED = f"asset 'a' (table db.a): {CHECKS_CAUSE}"


def test_a_first_run_that_published_and_failed_its_checks_says_the_table_holds_its_rows():
    """Its table holds the rows it published: "never materialized" beside them read as a
    contradiction. Still ``missing``: no materialization passed its checks."""
    failed = record("a", "m1", status="failed", rows=3, error=CHECKS_FAILED)
    state = assess_asset("a", (), "v1", None, {"a": AssetHistory(last_attempt=failed)})
    assert state.state == "missing"
    assert kinds(state) == ["never_materialized", "last_run_failed"]
    assert state.explain() == (
        "no successful materialization; last run failed after publishing 3 rows, which the "
        f"table holds: {CHECKS_CAUSE}"
    )


def test_a_run_that_failed_its_checks_after_a_success_replaced_the_successes_rows():
    good = record("a", "m1", rows=2)
    failed = record("a", "m2", minutes=5, status="failed", rows=3, error=CHECKS_FAILED)
    state = assess_asset("a", (), "v1", None, {"a": AssetHistory(failed, good)})
    assert state.state == "stale"
    assert state.explain() == (
        "last run failed after publishing 3 rows, which the table holds instead of the last "
        f"success's: {CHECKS_CAUSE}"
    )


def test_an_insert_only_run_that_failed_its_checks_added_to_the_rows_before_it():
    good = record("a", "m1", rows=1_200, inserted_rows=1_200)
    failed = record(
        "a", "m2", minutes=5, status="failed", rows=1_203, inserted_rows=3, error=CHECKS_FAILED
    )
    state = assess_asset("a", (), "v1", None, {"a": AssetHistory(failed, good)})
    assert state.explain() == (
        f"last run failed after adding 3 rows to the table (1,203 in all): {CHECKS_CAUSE}"
    )


def test_a_reader_of_a_table_that_failed_its_checks_stays_fresh_and_names_it():
    """The failed attempt is no materialization, so its reader keeps its state (fresh);
    but what the reader was built from, or would be rebuilt from, failed its checks."""
    good = record("up", "u1", rows=2)
    failed = record("up", "u2", minutes=5, status="failed", rows=3, error=CHECKS_FAILED)
    history = {
        "up": AssetHistory(failed, good),
        "down": built(record("down", "d1", minutes=1, upstream={"up": "u1"})),
    }
    state = assess_asset("down", ("up",), "v1", None, history)
    assert state.state == "fresh"
    assert state.reasons == ()
    assert state.upstream_failed_checks == ("up",)
    assert state.notes == ["upstream up holds rows that failed their checks"]
    assert state.as_dict()["upstream_failed_checks"] == ["up"]


def test_an_upstream_that_failed_before_publishing_is_no_note():
    good = record("up", "u1", rows=2)
    broke = record("up", "u2", minutes=5, status="failed", error="boom")
    history = {
        "up": AssetHistory(broke, good),
        "down": built(record("down", "d1", minutes=1, upstream={"up": "u1"})),
    }
    state = assess_asset("down", ("up",), "v1", None, history)
    assert (state.upstream_failed_checks, state.notes) == ((), [])
    assert state.as_dict()["upstream_failed_checks"] == []


def test_the_table_holds_the_rows_of_an_attempt_that_failed_its_checks_else_the_success():
    """What a reader reads, and its record names: the rows the table holds now."""
    good = record("up", "u1", rows=2)
    checks_failed = record("up", "u2", minutes=5, status="failed", rows=3)
    broke = record("up", "u3", minutes=6, status="failed")
    assert built(good).holding is good
    assert AssetHistory(checks_failed, good).holding is checks_failed
    assert AssetHistory(checks_failed, None).holding is checks_failed
    assert AssetHistory(broke, good).holding is good
    assert AssetHistory().holding is None


def _checks_failed_then_read(*later: MaterializationRecord) -> dict[str, AssetHistory]:
    """``up`` succeeded (u1), then failed its checks (u2), and ``down`` was built from
    u2's rows; ``later`` are up's attempts since, oldest first."""
    good = record("up", "u1", rows=2, ended=T0 + timedelta(minutes=1))
    failed = record("up", "u2", minutes=5, status="failed", rows=3, error=CHECKS_FAILED)
    attempts = [good, failed, *later]
    successes = [a for a in attempts if a.status == "materialized"]
    return {
        "up": AssetHistory(attempts[-1], successes[-1]),
        "down": built(record("down", "d1", minutes=10, upstream={"up": failed.materialization_id})),
    }


def test_a_reader_built_from_rows_that_failed_their_checks_is_fresh_while_the_table_holds_them():
    state = assess_asset("down", ("up",), "v1", None, _checks_failed_then_read())
    assert (state.state, state.reasons) == ("fresh", ())
    assert state.upstream_failed_checks == state.built_from_failed_checks == ("up",)
    assert state.notes == ["built from rows of upstream up that failed their checks"]
    assert state.as_dict()["built_from_failed_checks"] == ["up"]


def test_a_reader_built_from_rows_that_failed_their_checks_is_stale_once_its_upstream_passes():
    passed = record("up", "u3", minutes=20, ended=T0 + timedelta(minutes=21))
    state = assess_asset("down", ("up",), "v1", None, _checks_failed_then_read(passed))
    assert kinds(state) == ["upstream_materialized"]
    assert (state.upstream_failed_checks, state.built_from_failed_checks) == ((), ())


def test_a_success_between_the_rows_it_read_and_another_failure_makes_it_stale():
    passed = record("up", "u3", minutes=20, ended=T0 + timedelta(minutes=21))
    failed = record("up", "u4", minutes=30, status="failed", rows=4, error=CHECKS_FAILED)
    state = assess_asset("down", ("up",), "v1", None, _checks_failed_then_read(passed, failed))
    assert kinds(state) == ["upstream_materialized"]
    assert state.notes == ["upstream up holds rows that failed their checks"]


def test_a_second_failure_after_the_rows_it_read_is_no_materialization_since():
    """No success since the failed rows it read: as for a reader of the last success, the
    failure is no materialization, and the note says what the table holds now."""
    failed = record("up", "u3", minutes=20, status="failed", rows=4, error=CHECKS_FAILED)
    state = assess_asset("down", ("up",), "v1", None, _checks_failed_then_read(failed))
    assert (state.state, state.reasons) == ("fresh", ())
    assert state.built_from_failed_checks == ()
    assert state.notes == ["upstream up holds rows that failed their checks"]


def test_a_note_names_what_it_was_built_from_apart_from_what_only_holds_failed_rows():
    from orchestration.staleness import failed_checks_notes

    assert failed_checks_notes(("a", "b", "c"), ("b",)) == [
        "built from rows of upstream b that failed their checks",
        "upstream a, c hold rows that failed their checks",
    ]
