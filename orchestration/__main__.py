"""``python -m orchestration`` is the ``pipeline`` command."""

from orchestration.cli import main

main()
