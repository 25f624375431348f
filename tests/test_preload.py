"""The libraries a materialization imports are frozen out of the collector's way, and only
in a process that runs one command (the console script, a warm starter's child).

What is frozen is never freed, so each check that freezes runs in a process of its own;
this test process must come out of its own checks unfrozen.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from orchestration import preload

REPO = Path(__file__).resolve().parents[1]
#: More container objects than the project and the standard library make on their own.
LIBRARIES_FROZEN = 100_000


def run_python(
    code: str, env: dict[str, str] | None = None, returncode: int = 0
) -> dict[str, object]:
    """Run ``code`` in a fresh interpreter in the repository; it prints one JSON object."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == returncode, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_one_command_process_freezes_the_libraries_and_keeps_collecting() -> None:
    state = run_python(
        """
        import gc, json, sys
        from orchestration import preload
        preload.runs_one_command()
        preload.import_libraries()
        print(json.dumps({"frozen": gc.get_freeze_count(), "collecting": gc.isenabled(),
                          "missing": [m for m in preload.LIBRARIES if m not in sys.modules]}))
        """
    )
    assert state == {"frozen": state["frozen"], "collecting": True, "missing": []}
    assert isinstance(state["frozen"], int) and state["frozen"] > LIBRARIES_FROZEN


def test_any_other_process_imports_the_libraries_but_freezes_nothing() -> None:
    frozen = gc.get_freeze_count()
    preload.import_libraries()
    assert gc.get_freeze_count() == frozen
    assert gc.isenabled()


def test_the_collector_is_back_as_it_was_when_an_import_fails() -> None:
    state = run_python(
        """
        import gc, json
        from orchestration.preload import importing
        seen = {}
        for was_on in (True, False):
            gc.enable() if was_on else gc.disable()
            try:
                with importing():
                    import no_such_module_anywhere  # noqa: F401
            except ImportError:
                seen[str(was_on)] = gc.isenabled()
        print(json.dumps(seen))
        """
    )
    assert state == {"True": True, "False": False}


def test_the_warm_starter_forks_its_children_from_a_frozen_heap_without_chdb() -> None:
    state = run_python(
        """
        import gc, json, sys
        from orchestration.warm_server import preload
        preload()
        print(json.dumps({"frozen": gc.get_freeze_count(), "collecting": gc.isenabled(),
                          "chdb": "chdb" in sys.modules}))
        """
    )
    assert state["collecting"] is True and state["chdb"] is False
    assert isinstance(state["frozen"], int) and state["frozen"] > LIBRARIES_FROZEN


def run_pipeline(args: list[str], returncode: int = 0) -> dict[str, object]:
    """The console script as a user runs it, cold, in its own process; where the process
    ends (``os._exit``, after the command and its report) it reports its exit code, its
    collector's state and whether Prefect and pandas were imported."""
    return run_python(
        f"""
        import gc, json, os, sys
        end = os._exit
        def report_and_end(code):
            print(json.dumps({{"code": code, "frozen": gc.get_freeze_count(),
                              "collecting": gc.isenabled(), "prefect": "prefect" in sys.modules,
                              "pandas": "pandas" in sys.modules}}), flush=True)
            end(code)
        os._exit = report_and_end
        sys.argv = ["pipeline", *{args!r}]
        from orchestration.cli import main
        main()
        """,
        env={**os.environ, "PIPELINE_WARM_START": "off"},
        returncode=returncode,
    )


def test_pipeline_materialize_runs_its_assets_on_a_frozen_heap(tmp_path: Path) -> None:
    source = tmp_path / "n.csv"
    source.write_text("n,q\n1,10\n2,20\n")
    state = run_pipeline(
        ["materialize", "--definitions", "tests.safety_location", "--source", str(source),
         "--warehouse", f"chdb://{tmp_path / 'wh'}", "--json"]
    )  # fmt: skip
    assert state["code"] == 0
    assert state["collecting"] is True
    assert isinstance(state["frozen"], int) and state["frozen"] > LIBRARIES_FROZEN


def test_a_broken_code_location_is_reported_before_the_libraries_are_imported() -> None:
    # One clear line at once, not after seconds of importing Prefect and pandas.
    state = run_pipeline(["materialize", "--definitions", "tests.no_such_location"], returncode=1)
    assert (state["code"], state["prefect"], state["pandas"]) == (1, False, False)
