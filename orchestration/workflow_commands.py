"""GitHub Actions workflow commands: lines a runner turns into annotations.

``::error file=assets/marts.py,line=209,title=...::message`` printed by a step shows the
message on that line of the pull request's diff, so ``pipeline validate --format github``
puts each problem where it is to be fixed, rather than in a log to be searched.

The runner reads ``%``, CR and LF in the message, and also ``:`` and ``,`` in a property,
as the command's own syntax; they are escaped as GitHub's toolkit escapes them
(``escapeData`` and ``escapeProperty`` of ``@actions/core``), so a message of several
lines, or a path with a comma, arrives whole.
"""

from __future__ import annotations

_DATA = {"%": "%25", "\r": "%0D", "\n": "%0A"}
_PROPERTY = {**_DATA, ":": "%3A", ",": "%2C"}


def workflow_command(command: str, message: str, **properties: str | int | None) -> str:
    """``::command key=value,...::message``, each escaped; a property that is None (a
    finding with no column) is left out, and the command has no ``key=`` part at all
    when every one is."""
    given = ",".join(
        f"{key}={_escaped(str(value), _PROPERTY)}"
        for key, value in properties.items()
        if value is not None
    )
    return f"::{command}{' ' + given if given else ''}::{_escaped(message, _DATA)}"


def _escaped(text: str, table: dict[str, str]) -> str:
    return "".join(table.get(character, character) for character in text)
