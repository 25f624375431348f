"""Headless Debian chromium, driven by Playwright, for checking what the Prefect UI shows.

Playwright's own browser download is never used (no internet in CI sandboxes): it drives
the system's ``/usr/bin/chromium`` (Debian package ``chromium``). Without that browser
the UI tests skip on a developer machine, but fail under CI (``CI`` set), where the
browser is part of the environment and a silent skip would hide a broken UI check.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def chromium_path() -> str | None:
    """The system chromium, or None."""
    configured = os.environ.get("CHROMIUM_PATH")
    for candidate in (configured, *CHROMIUM_CANDIDATES, shutil.which("chromium")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def require_browser() -> str:
    """Chromium's path; skip (locally) or fail (in CI) when the browser stack is missing."""
    problems = []
    path = chromium_path()
    if path is None:
        problems.append("no chromium at /usr/bin/chromium (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problems.append("Playwright for Python is not installed (pip install playwright)")
    if problems:
        message = "; ".join(problems)
        if os.environ.get("CI"):
            pytest.fail(f"the Prefect UI check must run in CI: {message}")
        pytest.skip(f"UI check needs a browser: {message}")
    assert path is not None
    return path


@contextlib.contextmanager
def launched_browser() -> Iterator[Any]:
    """Headless chromium for a whole test session (a launch costs a second or two)."""
    from playwright.sync_api import sync_playwright

    executable = require_browser()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser: Any, width: int = 1600, height: int = 1000, scale: float = 1.0) -> Any:
    """A page in its own context (light theme, fixed viewport for stable screenshots)."""
    context = browser.new_context(
        viewport={"width": width, "height": height},
        device_scale_factor=scale,
        color_scheme="light",
    )
    page = context.new_page()
    page.set_default_timeout(60_000)
    return page


@contextlib.contextmanager
def browser_page(width: int = 1440, height: int = 1000, scale: float = 1.0) -> Iterator[Any]:
    """A fresh page in a browser of its own."""
    with launched_browser() as browser:
        yield new_page(browser, width, height, scale)


_COLOUR_COUNT_JS = """
async ([b64, rules]) => {
  const img = new Image();
  img.src = 'data:image/png;base64,' + b64;
  await img.decode();
  const canvas = document.createElement('canvas');
  canvas.width = img.width; canvas.height = img.height;
  const ctx = canvas.getContext('2d');
  ctx.drawImage(img, 0, 0);
  const d = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  const counts = Object.fromEntries(Object.keys(rules).map(k => [k, 0]));
  for (let i = 0; i < d.length; i += 4) {
    const [r, g, b] = [d[i], d[i + 1], d[i + 2]];
    if (g > 120 && g > r + 40 && g > b + 20) counts.green += 1;
    if (r > 170 && r > g + 80 && r > b + 80) counts.red += 1;
  }
  return counts;
}
"""


def colour_pixels(page: Any, png: bytes) -> dict[str, int]:
    """How many clearly green and clearly red pixels a screenshot has (decoded in the page).

    The run graph is a WebGL canvas, so its content is not in the DOM; counting state
    colours in a screenshot is how a test tells a drawn graph from an empty one.
    """
    encoded = base64.b64encode(png).decode()
    return page.evaluate(_COLOUR_COUNT_JS, [encoded, {"green": 0, "red": 0}])
