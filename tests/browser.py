"""Headless Chromium for tests: screenshots and the DOM of a page after its scripts ran.

Shared by the tests that look at what a browser makes of cnndsl's output (diagrams,
notebook exports). `find()` is None when no browser is installed; tests skip then, with
the reason. Each call is one Chromium process with its own throw-away profile, so tests
can run in parallel and leave nothing behind.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--force-device-scale-factor=1")
TIMEOUT = 120  # seconds for one page; a slow shared machine, not a speed requirement


def find() -> str | None:
    """The path of a Chromium-like browser, or None."""
    given = os.environ.get("CNNDSL_BROWSER")
    if given:
        return given if shutil.which(given) else None
    for name in NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _run(args: list[str]) -> str:
    browser = find()
    if browser is None:
        raise RuntimeError("no Chromium found (install the `chromium` package)")
    with tempfile.TemporaryDirectory(prefix="cnndsl-browser-") as profile:
        done = subprocess.run([browser, *FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=TIMEOUT,
                              env={**os.environ, "HOME": profile})
    if done.returncode != 0:
        raise RuntimeError(f"chromium failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout


def screenshot(page: Path, png: Path, width: int, height: int) -> Path:
    """A PNG of `page` (an .svg or .html file) rendered in a window of that size."""
    _run([f"--screenshot={png}", f"--window-size={width},{height}",
          "--virtual-time-budget=5000", page.resolve().as_uri()])
    if not png.exists():
        raise RuntimeError(f"chromium wrote no screenshot for {page}")
    return png


def dump_dom(page: Path) -> str:
    """The page's DOM as HTML once its scripts have run (what they wrote into it)."""
    return _run(["--dump-dom", "--virtual-time-budget=5000", page.resolve().as_uri()])


def blank(png: Path) -> bool:
    """Whether a screenshot is one colour all over (nothing was drawn)."""
    from PIL import Image

    with Image.open(png) as image:
        low, high = image.convert("L").getextrema()
        return low == high


def pixels_near(image, colours: dict[str, str], near: float) -> dict[str, int]:
    """How many pixels of a PIL image lie within RGB distance `near` of each colour
    (`#RRGGBB` or `RRGGBB`): antialiasing blends a glyph's colour with its background."""
    counts = image.convert("RGB").getcolors(image.width * image.height)
    found = {}
    for what, hex_colour in colours.items():
        code = hex_colour.lstrip("#")
        target = tuple(int(code[i:i + 2], 16) for i in (0, 2, 4))
        found[what] = sum(n for n, rgb in counts
                          if sum((a - b) ** 2 for a, b in zip(rgb, target)) <= near ** 2)
    return found
