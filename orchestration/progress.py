"""Live progress of a run on the terminal: a bar plus one line per finished asset."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from orchestration.run_report import AssetOutcome, rows_phrase

_MARKS = {"materialized": "[green]✓[/]", "failed": "[bold red]✗[/]", "skipped": "[yellow]-[/]"}


class RunProgress:
    """Progress display fed by the resolver's ``on_progress`` callback (from worker threads).

    With no console (``--json``) it stays silent so stdout holds only the JSON; so it does
    on a pipe, where the run report's table is each asset's one line: a line per asset
    before the table printed every asset twice in a log.
    """

    def __init__(self, console: Console | None, total: int) -> None:
        self._progress = (
            Progress(
                TextColumn("materializing"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            )
            if console is not None and console.is_terminal
            else None
        )
        self._task = self._progress.add_task("assets", total=total) if self._progress else None

    def __enter__(self) -> RunProgress:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    def advance(self, outcome: AssetOutcome) -> None:
        if self._progress is None or self._task is None:
            return
        # One line per asset. A failure's cause is the run report's, on stderr: said here
        # too, a terminal (and a log of both streams) showed it twice.
        if outcome.status == "failed":
            detail = f"failed{outcome.publish_said}"
        elif outcome.rows is None:
            detail = escape(" ".join((outcome.said_beside() or "").split()))
        else:
            detail = rows_phrase(outcome.rows)
        self._progress.console.print(
            f"{_MARKS[outcome.status]} {outcome.key}  {detail}  {outcome.seconds:.2f}s",
            highlight=False,
        )
        self._progress.advance(self._task)
