"""Running examples/lesson.ipynb top to bottom and exporting it to HTML, for the tests.

`lesson_html(directory)` is what a browser test screenshots: the executed notebook as
one HTML file (its pictures embedded), written into `directory`. The kernel is the
Python running the tests, with this checkout's cnndsl first on its path.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LESSON = ROOT / "examples" / "lesson.ipynb"
TIMEOUT = 120  # seconds per cell: a slow, loaded machine, not a speed target


def run_lesson(path: Path = LESSON):
    """The notebook after running every cell in a fresh kernel; nbclient raises
    `CellExecutionError` at the first cell that fails."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["MPLBACKEND"] = "Agg"  # no display on a test machine; the pictures are PNG data
    client = NotebookClient(notebook, timeout=TIMEOUT, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute(env=env)
    return notebook


def to_html(notebook, destination: Path) -> Path:
    """The executed notebook exported by nbconvert as one HTML page."""
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(notebook)
    destination.write_text(body, encoding="utf-8")
    return destination


def lesson_html(directory: Path, executed=None) -> Path:
    """examples/lesson.ipynb run (unless given `executed`, the notebook already run) and
    written as `directory/lesson.html`."""
    return to_html(executed or run_lesson(), Path(directory) / "lesson.html")
