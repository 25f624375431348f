"""What an error wraps, in order: the one walk every reader of a library's errors needs.

Libraries wrap a connection's failure in their own errors (urllib's ``URLError`` keeps it
as ``reason``; httpx, urllib3 and Prefect raise theirs *from* it), so the cause that
explains a failure in words sits somewhere down the chain. The Prefect-API messages
(:mod:`orchestration.unanswered`) and the warehouse driver's
(:mod:`io_managers.transport`) read it from this one walk.
"""

from __future__ import annotations

from collections.abc import Iterator


def exception_chain(exc: BaseException, *, raised_from: bool = False) -> Iterator[BaseException]:
    """``exc``, then what it wraps: urllib's ``reason``, then causes and contexts (each
    once, so a cycle ends). With ``raised_from``, only what each error was raised *from*
    (no contexts: an error raised while handling another is not that one's doing)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        reason = getattr(current, "reason", None)  # urllib.error.URLError, urllib3's
        if isinstance(reason, BaseException):
            current = reason
        elif raised_from:
            current = current.__cause__
        else:
            current = current.__cause__ or current.__context__
