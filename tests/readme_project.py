"""The README's "project of its own", built from its blocks and run as a user runs it.

Shared by the tests of the README's example and of docs/json.md, which reads the
documents its commands print.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
SECTION = "## Declaring assets"
#: A fenced block whose first line is a comment naming a file of the project.
FILE_BLOCK = re.compile(r"```(?:python|sql)\n(?:#|--) (\S+)\n(.*?)```", re.S)


def readme_project() -> tuple[dict[str, str], list[str]]:
    """The project's files by path (pyproject.toml from the layout's first line) and the
    shell lines of its ``sh`` block, from the README's section on declaring assets."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index(SECTION) :]
    section = section[: section.index("\n## ", len(SECTION))]
    files = {path: body for path, body in FILE_BLOCK.findall(section)}
    layout = re.search(r"^pyproject\.toml +(\[tool\.pipeline\]) (.+)$", section, re.M)
    assert layout, "the layout no longer names the pyproject.toml's setting"
    files["pyproject.toml"] = f"{layout.group(1)}\n{layout.group(2)}\n"
    shell = re.search(r"```sh\n(.*?)```", section, re.S)
    assert shell, "the section no longer shows the commands to run"
    return files, [line.split("  #")[0].strip() for line in shell.group(1).splitlines()]


def build_readme_project(directory: Path) -> Path:
    """The README project's files written into ``directory``."""
    files, _ = readme_project()
    assert set(files) == {"pyproject.toml", "shop/__init__.py", "shop/assets.py", "ddl/shop.sql"}
    for path, body in files.items():
        (directory / path).parent.mkdir(parents=True, exist_ok=True)
        (directory / path).write_text(body)
    return directory


def run(project: Path, line: str, api_url: str) -> subprocess.CompletedProcess[str]:
    """One of the README's lines in ``project``, ``pipeline`` being the console script."""
    script = str(Path(sys.executable).with_name("pipeline"))
    words = shlex.split(line)
    if words[0] == "pipeline":
        words[0] = script
    else:  # the data file's line: a shell's own
        words = ["sh", "-c", line]
    env = {**os.environ, "PREFECT_API_URL": api_url}
    env.pop("PYTHONPATH", None)
    env.pop("WAREHOUSE_URL", None)  # the README's warehouse: ./.warehouse
    return subprocess.run(
        words, cwd=project, env=env, capture_output=True, text=True, timeout=300
    )  # fmt: skip
