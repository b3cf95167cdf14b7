"""What the tests of docs/editors.md's editor setups share (tests/test_neovim.py,
tests/test_emacs.py): the docs' snippet for one editor, the server command made runnable
here, the three files each editor opens, and what the CLI says of them to compare with.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

DOCS = Path(__file__).parent.parent / "docs" / "editors.md"
BAD = "# a 4x4 image\ninput 4x4x1\n  -> conv 5 x2\n"
LESSON = "input 6x6x1 -> conv 3x3/1 x2 -> maxpool 2 -> flatten -> dense 10\n"
MESSY = "input   6x6x1->conv 3x3/1   x2\n\n\n->maxpool 2 ->  flatten->dense 10   \n\n"
SERVER = [sys.executable, "-m", "cnndsl", "lsp"]


def docs_snippet(section: str, language: str) -> str:
    """The ```LANGUAGE block of docs/editors.md's `## SECTION` (there must be exactly one)."""
    text = DOCS.read_text(encoding="utf-8")
    part = text[text.index(f"\n## {section}\n"):]
    part = part[:part.find("\n## ", 1)]
    blocks = re.findall(rf"^```{language}\n(.*?)^```$", part, re.S | re.M)
    assert len(blocks) == 1, (f"docs/editors.md's {section} section has {len(blocks)} "
                              f"{language} blocks")
    return blocks[0]


def quoted(s: str) -> str:
    """A double-quoted string literal, as Lua and Emacs Lisp both read it."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def server_setup(snippet: str, command: str,
                 written: Callable[[list[str]], str]) -> tuple[str, str]:
    """The snippet and the PATH for the editor: this interpreter's `cnndsl` first on the
    PATH, or, without one beside it, the docs' `command` replaced by `python -m cnndsl
    lsp` as the editor's language writes an argument list (`written`)."""
    assert snippet.count(command) == 1, f"the docs' snippet no longer says {command}"
    scripts = Path(sys.executable).parent
    path = os.pathsep.join([str(scripts), os.environ.get("PATH", "")])
    if not (scripts / "cnndsl").exists():
        snippet = snippet.replace(command, written(SERVER))
    return snippet, path


def private_home(home: Path) -> dict[str, str]:
    """HOME and the XDG folders under `home`, so no file of the machine's user leaks in."""
    return {"HOME": str(home), **{f"XDG_{d}_HOME": str(home / d.lower())
                                  for d in ("CONFIG", "DATA", "STATE", "CACHE")}}


def cli(*args: str, text: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cnndsl", *args], input=text, text=True,
                          capture_output=True, timeout=60)


def check_says(path: Path) -> tuple[int, int, str, list[str], list[str]]:
    """Where `cnndsl check` puts the one error in `path` (1-based), its message, and its
    hint and note lines."""
    err = cli("check", str(path), text="").stderr
    (head,) = re.findall(re.escape(str(path)) + r":(\d+):(\d+): error: (.*)", err)
    return (int(head[0]), int(head[1]), head[2], re.findall(r"^hint: .*", err, re.M),
            re.findall(r"^note: .*", err, re.M))


def formatted(text: str) -> str:
    """`cnndsl fmt -`'s output for `text`, which it must change."""
    result = cli("fmt", "-", text=text)
    assert result.returncode == 0 and result.stdout != text, result.stderr
    return result.stdout
