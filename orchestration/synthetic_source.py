"""The generated source as a user names it: ``synthetic[:ROWS[:SEED]]``.

The command line checks the form before any work (``--source synthetic:abc`` is a usage
error, as an unknown ``--source-encoding`` is, not a failed run minutes later) and the
ingest asset parses it again (the spec may come from the environment); both ask this
module, so both take the same text for a generated source and refuse the same specs.
Files and URLs are only checked when read: whether they are there is no matter of form.
"""

from __future__ import annotations

SYNTHETIC = "synthetic"
#: The form, as errors and help texts show it.
SYNTHETIC_FORM = "synthetic[:ROWS[:SEED]]"


def is_synthetic(spec: str) -> bool:
    """Whether ``spec`` names the generator (``synthetic`` or ``synthetic:...``), not a
    path such as ``synthetic.csv``."""
    return spec.split(":", 1)[0] == SYNTHETIC


def synthetic_parts(spec: str) -> tuple[int | None, int | None]:
    """ROWS and SEED of a :func:`is_synthetic` spec, ``None`` where left out (the generator
    chooses). Raises ``ValueError`` whose message names the spec and what is wrong."""
    parts = spec.split(":")
    if parts[0] != SYNTHETIC:
        raise ValueError(f"{spec!r}: not a generated source ({SYNTHETIC_FORM})")
    if len(parts) > 3:
        raise ValueError(f"{spec!r}: not {SYNTHETIC_FORM}")
    try:
        rows = int(parts[1].replace("_", "")) if len(parts) > 1 and parts[1] else None
        seed = int(parts[2]) if len(parts) > 2 and parts[2] else None
    except ValueError as error:
        raise ValueError(f"{spec!r}: ROWS and SEED must be integers ({SYNTHETIC_FORM})") from error
    if rows is not None and rows < 1:
        raise ValueError(f"{spec!r}: ROWS must be at least 1")
    return rows, seed
