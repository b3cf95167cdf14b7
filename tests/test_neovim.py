"""docs/editors.md's Neovim setup, run in a real Neovim against `cnndsl lsp`.

The docs' ```lua block is read out of its Neovim section and used as `init.lua`, as written
(only its server command is replaced, and only when this interpreter has no `cnndsl`
script beside it). A headless Neovim then opens three `.cnn` files, as a person would with
`:edit`, and a driver script (test-only Lua) writes what the editor got as JSON:

- a file with an error: its diagnostics, which must be where `cnndsl check` puts the error
  (Neovim counts from 0, the CLI from 1) with the CLI's message, hint and note;
- the lesson's network: the hover over its `conv` (shape 4x4x2, 20 parameters);
- a badly spaced file formatted through the server (`vim.lsp.buf.format`, or
  `formatting_sync` on Neovim 0.7): the buffer must be `cnndsl fmt`'s output;
- one cnndsl server for all three files.

Skipped, with the reason, when no `nvim` is on the PATH (.ci/run installs Debian's
`neovim` when it can). Every wait has a timeout, so a hang fails rather than blocks.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

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

NVIM = shutil.which("nvim")
pytestmark = pytest.mark.skipif(NVIM is None,
                                reason="no Neovim installed (apt-get install neovim)")

COMMAND = '{ "cnndsl", "lsp" }'

# The editor's side: test-only Lua, run after the docs' snippet (the init.lua) has been read.
DRIVER = r"""
local plan = vim.fn.json_decode(table.concat(vim.fn.readfile(os.getenv("CNNDSL_NVIM_PLAN")), "\n"))
local out = {}
local v = vim.version()
out.version = string.format("%d.%d.%d", v.major, v.minor, v.patch)

local function fail(what)
  error(what .. "\n-- :messages --\n" .. vim.fn.execute("messages"), 0)
end

local function servers(buf)  -- the cnndsl clients (attached to `buf`, if given)
  local found = {}
  for _, c in pairs((vim.lsp.get_clients or vim.lsp.get_active_clients)()) do
    if c.name == "cnndsl" and (buf == nil or vim.lsp.buf_is_attached(buf, c.id)) then
      table.insert(found, c)
    end
  end
  return found
end

local function open(path)
  vim.cmd("edit " .. vim.fn.fnameescape(path))
  local buf = vim.api.nvim_get_current_buf()
  if vim.bo[buf].filetype ~= "cnn" then
    fail(path .. ": filetype is '" .. vim.bo[buf].filetype .. "', not 'cnn'")
  end
  if not vim.wait(plan.timeout, function() return #servers(buf) > 0 end, 20) then
    fail(path .. ": no cnndsl server attached within " .. plan.timeout .. " ms")
  end
  return buf
end

local function run()
  local buf = open(plan.bad)
  out.commentstring = vim.bo[buf].commentstring
  if not vim.wait(plan.timeout, function() return #vim.diagnostic.get(buf) > 0 end, 20) then
    fail(plan.bad .. ": no diagnostics within " .. plan.timeout .. " ms")
  end
  out.diagnostics = {}
  for _, d in ipairs(vim.diagnostic.get(buf)) do
    table.insert(out.diagnostics, { line = d.lnum, col = d.col, message = d.message,
                                    severity = d.severity, source = d.source })
  end

  buf = open(plan.lesson)
  local params = { textDocument = { uri = vim.uri_from_bufnr(buf) }, position = plan.hover }
  local answers = vim.lsp.buf_request_sync(buf, "textDocument/hover", params, plan.timeout)
  for _, answer in pairs(answers or {}) do
    if answer.result then out.hover = answer.result.contents end
    out.hover_error = answer.err or answer.error
  end

  buf = open(plan.messy)
  if vim.lsp.buf.format then
    vim.lsp.buf.format({ bufnr = buf, timeout_ms = plan.timeout })
  else
    vim.lsp.buf.formatting_sync(nil, plan.timeout)
  end
  out.formatted = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
  out.servers = #servers()
end

local ok, err = xpcall(run, debug.traceback)
if not ok then out.error = err end
vim.fn.writefile({ vim.fn.json_encode(out) }, plan.out)
vim.cmd("qall!")
"""


def test_the_docs_neovim_setup(tmp_path):
    snippet, path = server_setup(docs_snippet("Neovim", "lua"), COMMAND,
                                 lambda argv: "{ " + ", ".join(map(quoted, argv)) + " }")
    (tmp_path / "init.lua").write_text(snippet, encoding="utf-8")
    (tmp_path / "driver.lua").write_text(DRIVER, encoding="utf-8")
    files = {}
    for name, text in [("bad", BAD), ("lesson", LESSON), ("messy", MESSY)]:
        files[name] = tmp_path / f"{name}.cnn"
        files[name].write_text(text, encoding="utf-8")
    result = tmp_path / "result.json"
    conv = LESSON.index("conv") + 1
    plan = {**{k: str(p) for k, p in files.items()}, "out": str(result), "timeout": 10000,
            "hover": {"line": 0, "character": conv}}
    (tmp_path / "plan.json").write_text(json.dumps(plan), encoding="utf-8")
    home = tmp_path / "home"
    env = {**os.environ, "PATH": path, "CNNDSL_NVIM_PLAN": str(tmp_path / "plan.json"),
           "NVIM_LOG_FILE": str(tmp_path / "nvim.log"), **private_home(home)}
    try:
        run = subprocess.run([NVIM, "--headless", "--clean", "-u", str(tmp_path / "init.lua"),
                              "-c", f"luafile {tmp_path / 'driver.lua'}"],
                             cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
                             capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"Neovim did not finish within 60 s; it printed: {e.stderr!r}")
    assert result.exists(), (f"Neovim wrote no result (exit status {run.returncode}); "
                             f"it printed:\n{run.stdout}\n{run.stderr}")
    got = json.loads(result.read_text(encoding="utf-8"))
    if "error" in got:
        pytest.fail(f"in Neovim {got['version']}: {got['error']}\n{run.stderr}", pytrace=False)
    assert got["commentstring"] == "# %s"

    # The error, where the CLI puts it, with its message, hint and note.
    line, column, error, hints, notes = check_says(files["bad"])
    assert len(hints) == 1 and notes
    message = [error, *hints, *notes]
    (d,) = got["diagnostics"]
    assert (d["line"] + 1, d["col"] + 1) == (line, column) == (3, 6)
    assert d["message"].split("\n") == message
    assert message[0].startswith("kernel 5x5 is larger than the 4x4 input")
    assert d["severity"] == 1 and d["source"] == "cnndsl"  # vim.diagnostic.severity.ERROR

    # The hover over `conv`: its output shape and its parameters (3*3*1*2 + 2).
    hover = got.get("hover")
    assert hover is not None, f"no hover: {got.get('hover_error')}"
    assert hover["kind"] == "markdown"
    assert "4x4x2" in hover["value"] and re.search(r"\b20\b", hover["value"]), hover["value"]

    # Formatting through the server gives what `cnndsl fmt` gives.
    assert "\n".join(got["formatted"]) + "\n" == formatted(MESSY)

    assert got["servers"] == 1, "each .cnn file should share the one server"
