"""Holding stderr while the engine opens a warehouse loses nothing but what the error says."""

from __future__ import annotations

import os

from io_managers.engine_stderr import stderr_held

ENGINE_LINES = (
    "Code: 62. DB::Exception: Syntax error (in file metadata/raw.sql): garbage (UUID)\n"
    ". Expected one of: CREATE: while loading database `raw`. (SYNTAX_ERROR)\n"
)


def test_what_others_write_meanwhile_reaches_stderr_after_the_hold(capfd):
    with stderr_held() as held:
        os.write(2, b"a warning from elsewhere\n")
        assert capfd.readouterr().err == ""  # held, not shown yet
        assert held.take_engine_exception() is None
    assert capfd.readouterr().err == "a warning from elsewhere\n"


def test_the_engine_exception_taken_for_the_error_is_not_shown_twice(capfd):
    with stderr_held() as held:
        os.write(2, f"before\n{ENGINE_LINES}after\n".encode())
        assert held.take_engine_exception() == ENGINE_LINES
    assert capfd.readouterr().err == "before\nafter\n"


def test_an_exception_not_taken_is_passed_on_whole(capfd):
    with stderr_held():
        os.write(2, ENGINE_LINES.encode())
    assert capfd.readouterr().err == ENGINE_LINES


def test_a_process_without_stderr_opens_as_usual(monkeypatch):
    """Started with ``2>&-``, Python has no ``sys.stderr`` at all (None)."""
    monkeypatch.setattr("sys.stderr", None)
    with stderr_held() as held:
        assert held.take_engine_exception() is None
