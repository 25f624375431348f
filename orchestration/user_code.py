"""Importing the user's own code, and where it failed: one compiler-style line.

The code location, and a schema module an asset names by reference, are the user's code:
a syntax error there, a typo in a Pandera ``Field`` or module-level code that raises is
their input, foreseen like a bad option, not a bug of the command, so the error is one
line and no ``--debug`` hint (``--debug`` still shows the traceback). The line starts
with the file, relative to the working directory, the line and, for a syntax error, the
column, as a compiler's does, so an editor or a CI log links to it:
``schemas/marts.py:48:36: SyntaxError: expected ':'``. Two modules of one name
(``assets/marts.py``, ``schemas/marts.py``) are then never confused.

The file and line are those of the user's frame that raised: the innermost frame outside
the standard library, the installed packages and this framework (their lines say where a
library noticed the mistake, not which line of the user's to change), or else the
innermost frame of the module being imported (a code location installed as a package).
"""

from __future__ import annotations

import importlib
import os
import re
from types import CodeType, ModuleType, TracebackType

from orchestration.errors import ExpectedError, Place, describe_error, did_you_mean

#: Directories whose frames are never the user's: this framework's own.
_FRAMEWORK = os.path.dirname(os.path.abspath(__file__))
#: What Pandera says of a ``Field`` argument that is neither its own nor a registered check.
_UNKNOWN_CHECK = re.compile(r"custom check '(?P<name>\w+)' is not available\b")


class UserCodeError(ExpectedError):
    """The user's code raised while it was imported; the message says where and what,
    and ``place`` is that where, for a script (``validate --json``) to read."""

    def __init__(self, place: Place, what: str) -> None:
        super().__init__(f"{place}: {what}")
        self.place = place
        self.what = what

    def __reduce__(self) -> tuple[type[UserCodeError], tuple[Place, str]]:
        return type(self), (self.place, self.what)  # pickled (a flow's failure) whole


def import_user_module(name: str) -> ModuleType:
    """Import the module ``name`` of the user's code.

    Raises ``ModuleNotFoundError`` as it is when there is no module ``name`` (the caller
    says which setting named it); a :class:`UserCodeError` naming the user's file and line
    when the module's code raised (an import inside it that fails included); else what
    the import raised (no frame of the user's to name).
    """
    try:
        return importlib.import_module(name)
    except UserCodeError:
        raise  # a module it imports said where already (a code location's found modules)
    except Exception as exc:
        if isinstance(exc, ModuleNotFoundError) and _names_the_module(exc, name):
            raise
        located = user_code_error(exc, name)
        if located is None:
            raise
        raise located from exc


def _names_the_module(exc: ModuleNotFoundError, name: str) -> bool:
    """Whether ``exc`` is about ``name`` itself (or a package above it) being missing,
    rather than about a module that ``name``'s own code imports."""
    missing = exc.name or ""
    return bool(missing) and (name == missing or name.startswith(missing + "."))


def user_code_error(exc: BaseException, module_name: str) -> UserCodeError | None:
    """``exc``, raised while importing ``module_name``, as one line that starts with the
    user's ``file:line``; ``None`` when no frame of the user's is found."""
    if isinstance(exc, SyntaxError) and exc.filename and exc.lineno:
        place = Place.at(exc.filename, exc.lineno, exc.offset)
        return UserCodeError(place, f"{type(exc).__name__}: {exc.msg}")
    frames = _frames(exc.__traceback__)
    package = module_name.partition(".")[0]
    users = [(code, line) for code, line, module in frames if _is_users(code, module, package)]
    if not users:
        return None
    code, line = users[-1]
    inside = "" if code.co_name == "<module>" else f"in {code.co_qualname}: "
    raised_by = frames[-1][0] if frames else code
    what = _pandera_field_typo(exc, raised_by) or describe_error(exc)
    return UserCodeError(Place.at(code.co_filename, line), f"{inside}{what}")


def _frames(tb: TracebackType | None) -> list[tuple[CodeType, int, str]]:
    """Each frame of the traceback, outermost first: its code, line and module's name."""
    frames = []
    while tb is not None:
        module = str(tb.tb_frame.f_globals.get("__name__", ""))
        frames.append((tb.tb_frame.f_code, tb.tb_lineno, module))
        tb = tb.tb_next
    return frames


def _is_users(code: CodeType, module: str, package: str) -> bool:
    """Whether a frame is of the user's code: in the package being imported, or in a
    file outside the libraries and this framework (a helper module of the project)."""
    if module == package or module.startswith(package + "."):
        return True
    filename = code.co_filename
    if filename.startswith("<"):  # <frozen importlib._bootstrap>, <string>
        return False
    return not any(_inside(filename, folder) for folder in _library_folders())


def _library_folders() -> list[str]:
    """Where the standard library, the installed packages and this framework live."""
    import sysconfig  # here: only an error of the user's asks

    paths = sysconfig.get_paths()
    folders = [paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")]
    return [*folders, _FRAMEWORK]


def _inside(filename: str, folder: str) -> bool:
    return os.path.abspath(filename).startswith(os.path.abspath(folder) + os.sep)


def _pandera_field_typo(exc: BaseException, raised_by: CodeType) -> str | None:
    """Pandera's words for a ``Field`` argument it does not know (it takes any unknown
    keyword for a custom check, "not available. Make sure you use
    pandera.extensions.register_check_method ..."), said as the typo it almost always
    is, with the arguments it is closest to."""
    found = _UNKNOWN_CHECK.match(str(exc))
    if not found or not type(exc).__module__.startswith("pandera"):
        return None
    name = found["name"]
    arguments = raised_by.co_varnames[: raised_by.co_argcount + raised_by.co_kwonlyargcount]
    return (
        f"pandera.{raised_by.co_name}({name}=...): neither one of its arguments nor a "
        f"registered custom check{did_you_mean(name, arguments)}"
    )
