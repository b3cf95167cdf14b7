"""docs/editors.md's Emacs setup, run in a real Emacs with eglot against `cnndsl lsp`.

The docs' ```elisp block is read out of its Emacs section and used as `init.el`, as written
(only its server command is replaced, and only when this interpreter has no `cnndsl`
script beside it). `emacs --batch` skips what Emacs does at startup for a user, so a
test-only `startup.el` does it: HOME and `user-emacs-directory` in a temporary folder,
the installed packages activated (`package-activate-all`: eglot's autoloads on Emacs 28,
where eglot comes from GNU ELPA or Debian's `elpa-eglot`), then `init.el` loaded. A driver
(test-only Elisp) then opens three `.cnn` files with `find-file`, as `C-x C-f` does, and
writes what the editor got as JSON:

- a file with an error: it must be in `cnn-mode` with `comment-start` "# ", and flymake
  (fed by eglot) must have the error where `cnndsl check` puts it, with its hint;
- the lesson's network: the hover over its `conv` (shape 4x4x2, 20 parameters), asked of
  eglot's server as eldoc asks it, and the inlay hints the snippet's initialization
  options turned on;
- a badly spaced file formatted with `eglot-format-buffer`: the buffer must be `cnndsl
  fmt`'s output;
- one server for all three files.

Batch mode has no command loop, so the driver stands in for it while it waits: it runs
`post-command-hook` (where `eglot-ensure` and flymake defer their start to "after the
next command") and lets processes and timers run (`accept-process-output`).

Skipped, with the reason, when no `emacs` is on the PATH or it cannot load eglot. Every
wait has a timeout, so a hang fails rather than blocks.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from editor_setup import (
    BAD,
    LESSON,
    MESSY,
    check_says,
    docs_snippet,
    formatted,
    private_home,
    quoted,
    server_setup,
)

pytest.importorskip("pygls", reason="the language server needs pygls: pip install 'cnndsl[lsp]'")

EMACS = shutil.which("emacs")
COMMAND = '"cnndsl" "lsp"'
TIMEOUT = 60  # seconds, for the whole Emacs run; each wait inside it has its own

# What Emacs's startup does before init.el, and `emacs --batch` does not (test-only).
STARTUP = r"""
(setq user-emacs-directory (file-name-as-directory (getenv "CNNDSL_EMACS_DIR")))
(setq package-user-dir (expand-file-name "elpa" user-emacs-directory))
(when package-enable-at-startup (package-activate-all))
(setq user-init-file (expand-file-name "init.el" user-emacs-directory))
"""

# The editor's side: test-only Elisp, run after the docs' snippet (init.el) has been read.
DRIVER = r"""
;;; -*- lexical-binding: t -*-
(require 'json)
(require 'seq)
(defvar cnndsl-plan (let ((json-object-type 'alist) (json-key-type 'symbol))
                      (json-read-file (getenv "CNNDSL_EMACS_PLAN"))))
(defun cnndsl-plan (key) (alist-get key cnndsl-plan))
(defvar cnndsl-out nil)
(defun cnndsl-put (key value) (push (cons key value) cnndsl-out))
(defvar cnndsl-seconds (/ (cnndsl-plan 'timeout) 1000.0))

(defun cnndsl-wait (what done)
  "Stand in for the command loop until DONE returns non-nil, or fail with WHAT."
  (let ((deadline (+ (float-time) cnndsl-seconds)))
    (while (not (funcall done))
      (when (> (float-time) deadline)
        (error "%s within %s s" what cnndsl-seconds))
      (run-hooks 'post-command-hook)
      (accept-process-output nil 0.02))))

(defun cnndsl-open (path)
  "Visit PATH as `C-x C-f' does; wait for eglot to manage it."
  (find-file path)
  (unless (eq major-mode 'cnn-mode)
    (error "%s: major mode is %s, not cnn-mode" path major-mode))
  (cnndsl-wait (format "%s: eglot did not manage the buffer" path)
               (lambda () (and (fboundp 'eglot-managed-p) (eglot-managed-p))))
  (current-buffer))

(defun cnndsl-run ()
  (require 'lisp-mnt)
  (cnndsl-put 'eglot (ignore-errors (lm-version (locate-library "eglot.el"))))
  (let (buffers)
    (with-current-buffer (cnndsl-open (cnndsl-plan 'bad))
      (push (current-buffer) buffers)
      (cnndsl-put 'comment_start comment-start)
      (cnndsl-wait "no flymake diagnostics" #'flymake-diagnostics)
      (cnndsl-put 'diagnostics
                  (mapcar (lambda (d)
                            (let ((beg (flymake-diagnostic-beg d)))
                              `((line . ,(line-number-at-pos beg))
                                (column . ,(save-excursion (goto-char beg)
                                                           (- beg (line-beginning-position))))
                                (message . ,(flymake-diagnostic-text d))
                                (type . ,(symbol-name (flymake-diagnostic-type d))))))
                          (flymake-diagnostics))))
    (with-current-buffer (cnndsl-open (cnndsl-plan 'lesson))
      (push (current-buffer) buffers)
      (goto-char (+ (point-min) (cnndsl-plan 'hover)))
      (cnndsl-put 'hover_at (thing-at-point 'symbol t))
      (let ((contents (plist-get (jsonrpc-request (eglot-current-server) :textDocument/hover
                                                  (eglot--TextDocumentPositionParams)
                                                  :timeout cnndsl-seconds)
                                 :contents)))
        (cnndsl-put 'hover `((kind . ,(plist-get contents :kind))
                             (value . ,(plist-get contents :value)))))
      (cnndsl-put 'inlay_hints
                  (mapcar (lambda (hint) (plist-get hint :label))
                          (jsonrpc-request
                           (eglot-current-server) :textDocument/inlayHint
                           `(:textDocument ,(eglot--TextDocumentIdentifier)
                             :range (:start (:line 0 :character 0)
                                     :end (:line 1 :character 0)))
                           :timeout cnndsl-seconds))))
    (with-current-buffer (cnndsl-open (cnndsl-plan 'messy))
      (push (current-buffer) buffers)
      (eglot-format-buffer)
      (cnndsl-put 'formatted (buffer-substring-no-properties (point-min) (point-max))))
    (cnndsl-put 'servers
                (length (seq-uniq (mapcar (lambda (b) (with-current-buffer b
                                                        (eglot-current-server)))
                                          buffers))))))

(cnndsl-put 'version emacs-version)
(defun cnndsl-log (buffer)
  (format "\n-- %s --\n%s" (buffer-name buffer) (with-current-buffer buffer (buffer-string))))

(condition-case err
    (cnndsl-run)
  (error (cnndsl-put 'error  ; with *Messages* and what the server printed on stderr
                     (apply #'concat (error-message-string err)
                            (mapcar #'cnndsl-log
                                    (cons (messages-buffer)
                                          (seq-filter (lambda (b) (string-match-p
                                                                   "stderr" (buffer-name b)))
                                                      (buffer-list))))))))
(with-temp-file (cnndsl-plan 'out)
  (insert (json-encode cnndsl-out)))
(kill-emacs 0)
"""


def environment(tmp_path: Path, path: str) -> dict[str, str]:
    """Emacs's environment: the machine's, but HOME and XDG folders in `tmp_path`, so no
    init file or package of the machine's user leaks in; `path` as PATH."""
    home = tmp_path / "home"
    (home / ".emacs.d").mkdir(parents=True, exist_ok=True)
    return {**os.environ, "PATH": path, "CNNDSL_EMACS_DIR": str(home / ".emacs.d"),
            **private_home(home)}


def eglot_missing(tmp_path: Path, startup: Path) -> str | None:
    """Why this Emacs cannot run eglot after `startup`, or None when it can."""
    if EMACS is None:
        return "no Emacs installed (apt-get install emacs-nox)"
    try:
        probe = subprocess.run([EMACS, "--batch", "-l", str(startup),
                                "--eval", "(condition-case e (require 'eglot) (error (message"
                                " \"%s\" (error-message-string e)) (kill-emacs 1)))"],
                               env=environment(tmp_path, os.environ.get("PATH", "")),
                               stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return f"{EMACS} --batch did not finish within {TIMEOUT} s"
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["?"])[-1]
        return (f"{EMACS} cannot load eglot ({last}): Emacs 29 or newer has it; on Emacs 28 "
                "apt-get install elpa-eglot, or M-x package-install RET eglot")
    return None


def test_the_docs_emacs_setup(tmp_path):
    snippet, path = server_setup(docs_snippet("Emacs", "elisp"), COMMAND,
                                 lambda argv: " ".join(map(quoted, argv)))
    startup = tmp_path / "startup.el"
    startup.write_text(STARTUP, encoding="utf-8")
    missing = eglot_missing(tmp_path, startup)
    if missing:
        pytest.skip(missing)
    env = environment(tmp_path, path)
    init = Path(env["CNNDSL_EMACS_DIR"]) / "init.el"
    init.write_text(snippet, encoding="utf-8")
    (tmp_path / "driver.el").write_text(DRIVER, encoding="utf-8")
    files = {}
    for name, text in [("bad", BAD), ("lesson", LESSON), ("messy", MESSY)]:
        files[name] = tmp_path / f"{name}.cnn"
        files[name].write_text(text, encoding="utf-8")
    result = tmp_path / "result.json"
    plan = {**{k: str(p) for k, p in files.items()}, "out": str(result), "timeout": 10000,
            "hover": LESSON.index("conv") + 1}
    (tmp_path / "plan.json").write_text(json.dumps(plan), encoding="utf-8")
    env["CNNDSL_EMACS_PLAN"] = str(tmp_path / "plan.json")
    try:
        run = subprocess.run([EMACS, "--batch", "-l", str(startup),
                              "-l", str(init), "-l", str(tmp_path / "driver.el")],
                             cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
                             capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"Emacs did not finish within {TIMEOUT} s; it printed: {e.stderr!r}")
    assert result.exists(), (f"Emacs wrote no result (exit status {run.returncode}); "
                             f"it printed:\n{run.stdout}\n{run.stderr}")
    got = json.loads(result.read_text(encoding="utf-8"))
    where = f"in Emacs {got['version']}, eglot {got.get('eglot')}"
    if "error" in got:
        pytest.fail(f"{where}: {got['error']}\n{run.stderr}", pytrace=False)
    assert got["comment_start"] == "# ", f"{where}: comment-start is {got['comment_start']!r}"

    # The error, where the CLI puts it (Emacs's columns count from 0), with its hint.
    line, column, message, (hint,), _ = check_says(files["bad"])
    (d,) = got["diagnostics"]
    assert (d["line"], d["column"] + 1) == (line, column) == (3, 6), (where, d)
    assert message in d["message"] and hint in d["message"], (where, d["message"])
    assert message.startswith("kernel 5x5 is larger than the 4x4 input")
    assert d["type"] == "eglot-error", (where, d)

    # The hover over `conv`: its output shape and its parameters (3*3*1*2 + 2); the shapes
    # as inlay hints, which only the snippet's initialization options turn on.
    assert got["hover_at"] == "conv"
    hover = got["hover"]
    assert hover["kind"] == "markdown", (where, hover)
    assert "4x4x2" in hover["value"] and re.search(r"\b20\b", hover["value"]), hover["value"]
    assert any("4x4x2" in h for h in got["inlay_hints"] or []), \
        f"{where}: no shapes as inlay hints (are the initialization options sent?)"

    # Formatting through the server gives what `cnndsl fmt` gives.
    assert got["formatted"] == formatted(MESSY), where

    assert got["servers"] == 1, "each .cnn file should share the one server"
