"""``python -m orchestration`` is the ``pipeline`` command."""

from orchestration.launcher import main

main()
