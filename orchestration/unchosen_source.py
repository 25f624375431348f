"""Refuse a run that would load a default source into assets built from another.

An ingest asset reads the source its run chooses (``--source``; the Online Retail asset
also reads ``$ONLINE_RETAIL_DATA_URL``), else its default (the generator). After
``materialize --source data.csv``, a plain ``materialize`` - ``make run``, or a
``status:stale+`` selection, which then selects the ingest asset - read the generator:
the raw table was replaced by generated rows, and the insert-only tables below it (the
PSA, the vault's hubs, links and satellites) kept the file's rows and added the generated
ones, which only a ``--full-refresh`` took out again.

So a run that selects such an asset, given no source, is refused before any work when the
asset's last materialization was built from another source (another file, a URL, the
generator with other parameters), in one line naming both sources and the options that
choose either. A chosen source always runs: the choice is the user's. The same source
whose data changed is what a run is for, and the same source in another encoding needs a
chosen source to differ from the default at all, so neither is refused here (``status``
names the latter). ``pipeline plan`` says the same, as it says what else materialize
would refuse.

The history and the source fingerprint this reads are those every run reads anyway
(:class:`~orchestration.asset_state.StateBook`); a run given a source asks nothing more.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestration.asset import AssetSpec
from orchestration.asset_state import StateBook
from orchestration.errors import ExpectedError
from orchestration.fingerprint import SourceFingerprint
from orchestration.fingerprinted_source import SOURCE_OPTION, SourceSwitch, source_switch
from orchestration.history import AssetHistory
from orchestration.run_report import MaterializationPlan
from orchestration.setting_names import parameter_for, setting, setting_given


class UnchosenSourceError(ExpectedError, RuntimeError):
    """The run, given no source, would read another than its assets were built from.

    ``switches`` maps each of those assets to the source it was built from and the one
    the run would read.
    """

    def __init__(self, message: str, switches: dict[str, SourceSwitch]) -> None:
        super().__init__(message)
        self.switches = switches


def source_chosen(spec: AssetSpec, params: Mapping[str, Any]) -> bool:
    """Whether a run with ``params`` chose the source ``spec`` reads: as its
    :class:`SourceFingerprint` says (an environment variable may choose it), else by the
    run parameter ``source``."""
    if isinstance(spec.fingerprint, SourceFingerprint):
        return bool(spec.fingerprint.chosen_by(params))
    return bool(params.get("source"))


def unchosen_switches(plan: MaterializationPlan, book: StateBook) -> dict[str, SourceSwitch]:
    """Each selected asset that would read a source no setting chose, whose last
    materialization was built from another source -> that switch.

    Given a source, or selecting no fingerprinted asset, a run asks nothing here; else
    the history (read once per run) and the fingerprint the run records anyway.
    """
    found: dict[str, SourceSwitch] = {}
    for spec in plan.selected:
        if spec.fingerprint is None or source_chosen(spec, book.params):
            continue
        success = book.history.get(spec.key, AssetHistory()).last_success
        if success is None:
            continue
        switch = source_switch(success.source_fingerprint, book.fingerprint_of(spec) or "")
        if switch is not None and switch.another_source:
            found[spec.key] = switch
    return found


def unchosen_source_error(plan: MaterializationPlan, book: StateBook) -> UnchosenSourceError | None:
    """Why a run of ``plan`` is refused, in one line; None when it loads no default over
    another source."""
    switches = unchosen_switches(plan, book)
    if not switches:
        return None
    by_switch: dict[SourceSwitch, list[str]] = {}
    for key, switch in switches.items():
        by_switch.setdefault(switch, []).append(key)
    said = " ".join(f"{refusal(keys, switch)}." for switch, keys in by_switch.items())
    return UnchosenSourceError(said.removesuffix("."), switches)


def refusal(keys: list[str], switch: SourceSwitch) -> str:
    """What refuses to load ``switch``'s default into ``keys``: both sources, and the
    options that keep the one they were built from or load the default."""
    built, read = switch.names()
    one = len(keys) == 1
    default = switch.compared.spec()
    load = (
        setting_given(SOURCE_OPTION, default) if default else f"its URL as {setting(SOURCE_OPTION)}"
    )
    return (
        f"{', '.join(keys)} {'was' if one else 'were'} built from {built}; this run would "
        f"read {read} ({_unchosen()}). Pass {switch.typed()} to keep "
        f"{'it' if one else 'them'}, or {load} to load that instead"
    )


def _unchosen() -> str:
    """Why the run reads what it reads, after the source it names."""
    parameter = parameter_for(SOURCE_OPTION)
    return f"the default: no {f'{parameter} parameter' if parameter else SOURCE_OPTION} given"
