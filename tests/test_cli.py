"""The `cnndsl` command: `check`, `shapes` in every format, `--name`, stdin, usage errors,
`python -m cnndsl`, and that no command imports TensorFlow or Keras.

Expected numbers for the seed network are the ones LANGUAGE.md states, and MACs worked out
by hand: the conv computes 4x4 positions x 2 filters x 3x3x1 weights = 288
multiply-accumulates, the dense layer 8 inputs x 10 units = 80.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from outcomes import cli

from cnndsl.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SEED = EXAMPLES / "seed.cnn"
EXAMPLE_PATHS = sorted(EXAMPLES.glob("*.cnn"))
SEED_SOURCE = "input 6x6x1 -> conv 3x3/1 x2 -> maxpool 2 -> flatten -> dense 10\n"

LAYER_KEYS = {"name", "kind", "output_shape", "params", "trainable_params", "macs", "flops",
              "receptive_field"}
TOTAL_KEYS = {"params", "trainable_params", "non_trainable_params", "macs", "flops"}


def table_rows(table: str) -> dict[str, dict[str, str]]:
    """The per-layer rows of the table, by layer name (cells: the columns' texts)."""
    lines = table.split("\n")
    header = next(i for i, line in enumerate(lines) if re.match(r"^\s*# +name +step", line))
    rows = {}
    for line in lines[header + 2:]:
        if line.startswith("-"):
            break
        cells = line.split()
        if not cells[0].isdigit():  # a reference row, `@name`: no layer of its own
            continue
        rows[cells[1].lstrip(TREE)] = {
            "index": cells[0], "step": " ".join(cells[2:-6]), "output": cells[-6],
            "memory": cells[-5], "params": cells[-4], "macs": cells[-3], "flops": cells[-2],
            "rf": cells[-1]}
    return rows


TREE = "├─│└ |-`"  # the tree lines before a name in the table, Unicode or ASCII


def json_report(path: Path, *extra: str) -> dict:
    rc, out, err = cli("shapes", str(path), "--format", "json", *extra)
    assert rc == 0, err
    return json.loads(out)


# ---- check --------------------------------------------------------------------------------

def test_check_seed():
    rc, out, err = cli("check", str(SEED))
    assert rc == 0
    assert out == "ok: 5 layers, 110 params\n"
    assert err == ""


def test_check_prints_thousands_separators():
    rc, out, _ = cli("check", str(EXAMPLES / "vgg16.cnn"))
    assert rc == 0
    assert out == "ok: 23 layers, 138,357,544 params\n"


# ---- shapes: the table --------------------------------------------------------------------

def test_shapes_table_for_the_seed():
    rc, out, err = cli("shapes", str(SEED))
    assert rc == 0 and err == ""
    assert out.startswith("seed")
    rows = table_rows(out)
    assert list(rows) == ["input", "conv_1", "maxpool_1", "flatten_1", "dense_1"]
    assert rows["input"]["output"] == "6x6x1"
    assert (rows["conv_1"]["output"], rows["conv_1"]["params"]) == ("4x4x2", "20")
    assert (rows["maxpool_1"]["output"], rows["maxpool_1"]["params"]) == ("2x2x2", "0")
    assert (rows["flatten_1"]["output"], rows["flatten_1"]["params"]) == ("8", "0")
    assert (rows["dense_1"]["output"], rows["dense_1"]["params"]) == ("10", "90")
    assert rows["conv_1"]["macs"] == str(4 * 4 * 2 * 3 * 3 * 1)  # 288
    assert rows["dense_1"]["macs"] == str(8 * 10)  # 80
    assert rows["conv_1"]["step"] == "conv 3x3/1 x2"
    total = next(line for line in out.split("\n") if line.startswith("Total params:"))
    assert re.match(r"^Total params:\s+110\b", total)


@pytest.mark.parametrize("path", EXAMPLE_PATHS, ids=lambda p: p.stem)
def test_table_fits_in_100_columns(path):
    rc, out, _ = cli("shapes", str(path))
    assert rc == 0
    for line in out.split("\n"):
        assert len(line) <= 100, f"{len(line)} columns: {line!r}"


def test_table_fits_in_100_columns_with_long_names(tmp_path):
    path = tmp_path / "wide.cnn"
    path.write_text("input 1024x1024x64 -> conv 3 x2048 same name=" + "n" * 60
                    + " -> conv 1 x1 -> flatten -> dense 1\n", encoding="utf-8")
    rc, out, _ = cli("shapes", str(path))
    assert rc == 0
    for line in out.split("\n"):
        assert len(line) <= 100, f"{len(line)} columns: {line!r}"


def test_table_never_cuts_a_number(tmp_path):
    # Names and steps may be shortened with an ellipsis; a count never may: `2,147,441,…`
    # is not a number. Dense 46340 -> 46340 has 2,147,441,940 params; the conv's dense
    # equivalent is 2^31 * 2^31 + 2^31 values.
    path = tmp_path / "big.cnn"
    path.write_text("input 46340 -> dense 46340 -> reshape 1x46340x1 -> conv 1 x1\n"
                    "  -> reshape 46340 -> dense 2\n", encoding="utf-8")
    rc, out, _ = cli("shapes", str(path))
    assert rc == 0
    cut = [tok for tok in out.split() if re.fullmatch(r"[\d,.]+…[A-Za-z]?x?", tok)]
    assert not cut, f"numbers cut short in the table: {cut}\n{out}"
    wide = tmp_path / "wide.cnn"
    wide.write_text("input 1024x1024x64 -> conv 3 x2048 same -> conv 1 x1\n", encoding="utf-8")
    rc, out, _ = cli("shapes", str(wide))
    assert rc == 0
    cut = [tok for tok in out.split() if re.fullmatch(r"[\d,.]+…[A-Za-z]?x?", tok)]
    assert not cut, f"numbers cut short in the table: {cut}\n{out}"


# ---- shapes: JSON, CSV, Markdown ----------------------------------------------------------

def test_json_for_the_seed():
    doc = json_report(SEED)
    assert doc["output_shape"] == [10]
    layers = {layer["name"]: layer for layer in doc["layers"]}
    assert list(layers) == ["input", "conv_1", "maxpool_1", "flatten_1", "dense_1"]
    for layer in doc["layers"]:
        assert LAYER_KEYS <= set(layer), f"missing {LAYER_KEYS - set(layer)}"
        assert isinstance(layer["output_shape"], list)
        assert all(type(d) is int for d in layer["output_shape"])
        for key in ("params", "trainable_params", "macs", "flops"):
            assert type(layer[key]) is int and layer[key] >= 0
        assert layer["flops"] >= 2 * layer["macs"]
    expect = {"input": ([6, 6, 1], 0, 0), "conv_1": ([4, 4, 2], 20, 288),
              "maxpool_1": ([2, 2, 2], 0, 0), "flatten_1": ([8], 0, 0),
              "dense_1": ([10], 90, 80)}
    for name, (shape, params, macs) in expect.items():
        layer = layers[name]
        assert (layer["output_shape"], layer["params"], layer["macs"]) == (shape, params, macs)
        assert layer["trainable_params"] == params
    assert [layer["kind"] for layer in doc["layers"]] == \
        ["input", "conv", "maxpool", "flatten", "dense"]
    # Receptive fields: 3x3 after the conv, 3 + (2-1)*1 = 4 after the pool.
    assert layers["conv_1"]["receptive_field"]["size"] == [3, 3]
    assert layers["maxpool_1"]["receptive_field"]["size"] == [4, 4]
    total = doc["total"]
    assert TOTAL_KEYS <= set(total), f"missing {TOTAL_KEYS - set(total)}"
    assert total["params"] == 110
    assert total["trainable_params"] == 110
    assert total["non_trainable_params"] == 0
    assert total["macs"] == 288 + 80
    assert total["flops"] == sum(layer["flops"] for layer in doc["layers"])


@pytest.mark.parametrize("path", EXAMPLE_PATHS, ids=lambda p: p.stem)
def test_json_totals_are_sums_of_rows(path):
    doc = json_report(path)
    layers, total = doc["layers"], doc["total"]
    assert TOTAL_KEYS <= set(total)
    for key in ("params", "trainable_params", "macs", "flops"):
        assert total[key] == sum(layer[key] for layer in layers), key
    assert total["params"] == total["trainable_params"] + total["non_trainable_params"]
    rows = {layer["name"]: layer for layer in layers}
    for end in doc["inputs"] + doc["outputs"]:
        assert rows[end["layer"]]["output_shape"] == end["shape"], end
    assert doc["output_shape"] == doc["outputs"][0]["shape"]
    assert doc["input_shape"] == doc["inputs"][0]["shape"]
    if len(doc["outputs"]) == 1:  # one output: the last layer, as in language version 1
        assert doc["outputs"][0]["layer"] == layers[-1]["name"]
    assert doc["name"] == path.stem
    assert len({layer["name"] for layer in layers}) == len(layers)


def test_csv_for_the_seed():
    rc, out, _ = cli("shapes", str(SEED), "--format", "csv")
    assert rc == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["name"] for r in rows] == ["input", "conv_1", "maxpool_1", "flatten_1",
                                         "dense_1"]
    by_name = {r["name"]: r for r in rows}
    assert by_name["conv_1"]["params"] == "20" and by_name["conv_1"]["macs"] == "288"
    assert by_name["dense_1"]["params"] == "90" and by_name["dense_1"]["macs"] == "80"
    assert sum(int(r["params"]) for r in rows) == 110


@pytest.mark.parametrize("path", EXAMPLE_PATHS, ids=lambda p: p.stem)
def test_csv_has_one_row_per_layer(path):
    layers = json_report(path)["layers"]
    rc, out, _ = cli("shapes", str(path), "--format", "csv")
    assert rc == 0
    rows = list(csv.reader(io.StringIO(out)))
    header, body = rows[0], rows[1:]
    assert "name" in header and "params" in header
    assert len(body) == len(layers)
    assert all(len(r) == len(header) for r in body)
    names = [r[header.index("name")] for r in body]
    assert names == [layer["name"] for layer in layers]


def test_markdown_for_the_seed():
    rc, out, _ = cli("shapes", str(SEED), "--format", "markdown")
    assert rc == 0
    lines = out.split("\n")
    table = [line for line in lines if line.startswith("|")]
    assert len(table) == 2 + 5, out  # header, separator, one row per layer
    assert re.fullmatch(r"\|(\s*:?-{3,}:?\s*\|)+", table[1]), table[1]
    assert all(line.rstrip().endswith("|") for line in table)
    columns = table[0].count("|")
    assert all(line.count("|") - line.count("\\|") == columns for line in table)
    assert any("conv_1" in line and "4x4x2" in line for line in table)
    assert "110" in out


@pytest.mark.parametrize("fmt", ["table", "json", "markdown"])
def test_name_option(fmt):
    rc, out, _ = cli("shapes", str(SEED), "--format", fmt, "--name", "lesson")
    assert rc == 0
    assert "lesson" in out and "seed" not in out
    if fmt == "json":
        assert json.loads(out)["name"] == "lesson"
    elif fmt == "table":
        assert out.startswith("lesson")
    rc, out, _ = cli("shapes", str(SEED), "--format", fmt)
    assert "seed" in out and "lesson" not in out


# ---- standard input -----------------------------------------------------------------------

def feed_stdin(monkeypatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))


def test_check_from_stdin(monkeypatch):
    feed_stdin(monkeypatch, SEED_SOURCE.encode())
    assert cli("check", "-") == (0, "ok: 5 layers, 110 params\n", "")


def test_shapes_from_stdin(monkeypatch):
    feed_stdin(monkeypatch, SEED_SOURCE.encode())
    rc, out, _ = cli("shapes", "-", "--format", "json")
    assert rc == 0
    doc = json.loads(out)
    assert doc["total"]["params"] == 110
    assert doc["name"] == "model"


def test_error_from_stdin(monkeypatch):
    feed_stdin(monkeypatch, b"input 6x6x1 -> comv 3x3 x2\n")
    rc, out, err = cli("check", "-")
    assert rc == 1 and out == ""
    lines = err.split("\n")
    assert lines[0].startswith("<stdin>:1:16: error: ")
    assert lines[1] == "    input 6x6x1 -> comv 3x3 x2"
    assert lines[2].index("^") == 4 + 15


def test_invalid_utf8_from_stdin(monkeypatch):
    feed_stdin(monkeypatch, b"input 6x6x1 -> conv 3 x2 \xff\n")
    rc, out, err = cli("check", "-")
    assert rc == 1
    assert re.match(r"^<stdin>:1:\d+: error: .*UTF-8", err)


# ---- usage errors -------------------------------------------------------------------------

USAGE_ERRORS = [
    pytest.param([], id="no command"),
    pytest.param(["frob", str(SEED)], id="unknown command"),
    pytest.param(["shapes"], id="no file"),
    pytest.param(["check"], id="check without file"),
    pytest.param(["shapes", str(SEED), "--format", "xml"], id="unknown format"),
    pytest.param(["check", str(SEED), "--bogus"], id="unknown flag"),
    pytest.param(["shapes", str(SEED), "--name"], id="--name without value"),
]


@pytest.mark.parametrize("argv", USAGE_ERRORS)
def test_usage_error_returns_2(capsys, argv):
    # cli.main documents: "returns the exit status: ... 2 a usage error (argparse)".
    try:
        rc = main(argv)
    except SystemExit as e:
        pytest.fail(f"main({argv}) raised SystemExit({e.code}) instead of returning 2")
    assert rc == 2
    err = capsys.readouterr().err
    assert "usage:" in err and "Traceback" not in err


@pytest.mark.parametrize("argv", USAGE_ERRORS)
def test_usage_error_exits_2(argv):
    result = run_module(*argv)
    assert result.returncode == 2, result.stderr
    assert "usage:" in result.stderr and "Traceback" not in result.stderr


def test_a_misspelt_command_gets_a_suggestion(capsys):
    rc = main(["shape", str(SEED)])
    err = capsys.readouterr().err
    assert rc == 2
    assert "invalid choice: 'shape'" in err
    assert err.rstrip("\n").endswith("hint: did you mean `shapes`?")


def test_an_unrelated_command_gets_no_suggestion(capsys):
    assert main(["frobnicate", str(SEED)]) == 2
    assert "did you mean" not in capsys.readouterr().err


def test_version(capsys):
    from importlib.metadata import PackageNotFoundError, version

    import cnndsl
    try:
        expected = version("cnndsl")
    except PackageNotFoundError:  # run from a checkout that is not installed
        expected = cnndsl.__version__
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"cnndsl {expected}\n"
    result = run_module("--version")
    assert result.returncode == 0 and result.stdout == f"cnndsl {expected}\n"


def test_version_without_package_metadata(capsys, monkeypatch):
    import importlib.metadata

    import cnndsl

    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", missing)
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"cnndsl {cnndsl.__version__}\n"


# ---- python -m cnndsl ---------------------------------------------------------------------

def run_module(*argv: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    """`python -m cnndsl ARGV` from the checkout's root (text output unless `stdin`)."""
    environ = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "cnndsl", *argv], cwd=ROOT, env=environ,
                          input=stdin, capture_output=True, timeout=120,
                          text=stdin is None)


def test_python_m_cnndsl_check():
    result = run_module("check", "examples/seed.cnn")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok: 5 layers, 110 params\n"


def test_python_m_cnndsl_shapes_json():
    result = run_module("shapes", "examples/seed.cnn", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["total"]["params"] == 110


def test_python_m_cnndsl_error(tmp_path):
    bad = tmp_path / "bad.cnn"
    bad.write_text("input 6x6x1 -> conv 7x7 x2\n", encoding="utf-8")
    result = run_module("check", str(bad))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"{bad}:1:16: error: kernel 7x7 is larger")
    assert "Traceback" not in result.stderr


def test_python_m_cnndsl_stdin():
    result = run_module("check", "-", stdin=SEED_SOURCE.encode())
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"ok: 5 layers, 110 params\n"


def shell(command: str) -> subprocess.CompletedProcess:
    """`command` in sh, with `cnndsl` meaning this checkout's `python -m cnndsl`."""
    command = command.replace("cnndsl", f"'{sys.executable}' -m cnndsl")
    return subprocess.run(["sh", "-c", command], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)


@pytest.mark.parametrize("command, message", [
    pytest.param("cnndsl shapes examples/resnet50.cnn > /dev/full",
                 "cnndsl shapes: error: cannot write to standard output: No space left",
                 id="full-disk"),
    pytest.param("cnndsl check examples/seed.cnn >&-",
                 "cnndsl check: error: cannot write to standard output: standard output "
                 "is closed", id="stdout-closed"),
    pytest.param("cnndsl check - <&-",
                 "<stdin>: error: standard input is closed", id="stdin-closed"),
])
def test_regression_unwritable_stdout_and_closed_stdin_are_errors(command, message):
    """These were internal errors (exit 3): OSError from print, None for sys.stdin."""
    if "/dev/full" in command and not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    for buffered in ("", "1"):  # PYTHONUNBUFFERED set or not: print fails or the flush does
        result = shell(f"PYTHONUNBUFFERED={buffered} {command}")
        assert result.returncode == 1, result.stderr
        assert result.stderr.startswith(message), result.stderr
        assert "\nhint: " in result.stderr and "Traceback" not in result.stderr


def test_regression_stderr_closed_too_still_exits_1():
    result = shell("cnndsl check examples/seed.cnn >&- 2>&-")
    assert result.returncode == 1


@pytest.mark.parametrize("argv", [
    ["run", "examples/seed.cnn", "--input", "x.npy", "-o", ""],
    ["run", "examples/seed.cnn", "--input", "", "-o", "y.npy"],
    ["compile", "examples/seed.cnn", "-o", ""],
    ["weights", "m.keras", "-o", ""],
    ["check", ""],
])
def test_regression_an_empty_file_name_is_a_usage_error(argv):
    result = run_module(*argv)
    assert result.returncode == 2, result.stderr
    assert "expected a file name, got an empty string" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_terminal_that_cannot_encode_the_report_gets_ascii_not_a_crash():
    """The table cuts long names with `…` and draws branches with box-drawing lines; a
    locale whose encoding lacks them (ASCII here, as under a non-UTF-8 locale) printed an
    internal error instead of the report, and escapes would break the columns: ASCII."""
    spec = ("input 6x6x1 -> conv 3x3/1 x2 name=" + "n" * 40
            + " -> residual { relu } -> flatten -> dense 10\n")
    result = subprocess.run([sys.executable, "-m", "cnndsl", "shapes", "-"], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT),
                                 "PYTHONIOENCODING": "ascii"},
                            input=spec.encode(), capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert b"\\u" not in result.stdout
    assert b" nnnnnnnnnnnnnnnnnnn... " in result.stdout  # 22 columns for the name
    assert re.search(rb"^ +\|-@nnnn", result.stdout, re.M), result.stdout  # the id branch
    assert re.search(rb"^ *\d+ `-relu_1 ", result.stdout, re.M), result.stdout
    # conv 3*3*1*2 + 2 = 20, dense 4*4*2*10 + 10 = 330
    assert re.search(rb"^Total params: +350 ", result.stdout, re.M), result.stdout

# ---- no TensorFlow, no Keras --------------------------------------------------------------

NO_TF_SCRIPT = r"""
import contextlib, io, json, sys
# Importable stand-ins sit first on sys.path, so an import of tensorflow or keras anywhere
# in cnndsl would succeed and show up in sys.modules. The commands run through `main`, as
# `python -m cnndsl` runs them (which then leaves the process at once: cli.entry).
from cnndsl.cli import main
out = io.StringIO()
codes = []
for argv in ARGVS:
    with contextlib.redirect_stdout(out):
        codes.append(main(argv))
# This line runs after every command above, in the same process.
loaded = sorted(m for m in sys.modules
                if m.split(".")[0] in ("tensorflow", "keras", "tf_keras"))
print(json.dumps({"codes": codes, "loaded": loaded, "output": out.getvalue()}))
"""


def test_no_command_imports_tensorflow_or_keras(tmp_path):
    fake = tmp_path / "fake"
    for name in ("tensorflow", "keras", "tf_keras"):
        (fake / name).mkdir(parents=True)
        (fake / name / "__init__.py").write_text("", encoding="utf-8")
    argvs = [["shapes", "examples/resnet50.cnn"],
             ["shapes", "examples/resnet50.cnn", "--format", "json"],
             ["shapes", "examples/mobilenet_v2.cnn", "--format", "csv"],
             ["shapes", "examples/unet.cnn", "--format", "markdown"],
             ["check", "examples/densenet121.cnn"]]
    script = NO_TF_SCRIPT.replace("ARGVS", repr(argvs))
    environ = dict(os.environ)
    environ["PYTHONPATH"] = os.pathsep.join([str(fake), str(ROOT)])
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=environ,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().split("\n")[-1])
    assert report["codes"] == [0] * len(argvs)
    assert "resnet50: 177 layers" in report["output"]  # the commands really ran
    assert "25,636,712" in report["output"]
    assert report["loaded"] == []


# ---- the text of every kind of layer (issue 9: mutants of describe() and the RF column) ----

# (step as written, its JSON `layer`, its `step`), worked out from docs/report.md: `layer`
# spells every size out (`3x3/2x2`) and shows options only when they are not the default;
# `step` is the text as written unless it holds `{expr}`; a merge's step is `KIND {...}`.
KIND_TEXTS = [
    ("conv 3/2 x8 same relu", "conv 3x3/2x2 x8 same relu", "conv 3/2 x8 same relu"),
    ("dwconv 3 x2 same bias=false", "dwconv 3x3 x2 same bias=false",
     "dwconv 3 x2 same bias=false"),
    ("sepconv 3 x8 same dilation=2", "sepconv 3x3 x8 same dilation=2x2",
     "sepconv 3 x8 same dilation=2"),
    ("deconv 2/2 x4", "deconv 2x2/2x2 x4", "deconv 2/2 x4"),
    ("conv 1 x{C*2} groups=2", "conv 1x1 x8 groups=2", "conv 1x1 x8 groups=2"),
    ("maxpool 2", "maxpool 2x2", "maxpool 2"),
    ("avgpool 3/1 same", "avgpool 3x3/1x1 same", "avgpool 3/1 same"),
    ("zeropad 1", "zeropad 1:1x1:1", "zeropad 1"),
    ("upsample 2", "upsample 2x2", "upsample 2"),
    ("batchnorm", "batchnorm eps=0.001 momentum=0.99", "batchnorm"),
    ("leaky_relu=0.1", "leaky_relu=0.1", "leaky_relu=0.1"),
    ("add { id | relu }", "add", "add {...}"),
    ("concat { id | tanh }", "concat", "concat {...}"),
    ("dropout {1/4}", "dropout 0.25", "dropout 0.25"),
    # version 2: options are shown only when they are not the default
    ("layernorm center=false", "layernorm eps=0.001 center=false", "layernorm center=false"),
    ("bn scale=false", "batchnorm eps=0.001 momentum=0.99 scale=false", "bn scale=false"),
    ("rescale {1/255}", "rescale 0.00392156862745098", "rescale 0.00392156862745098"),
    ("rescale 2 offset=-1", "rescale 2 offset=-1", "rescale 2 offset=-1"),
    ("normalize", "normalize", "normalize"),
    ("normalize mean=0.5 variance={1/4}", "normalize mean=0.5 variance=0.25",
     "normalize mean=0.5 variance=0.25"),
    ("crop 1x0:2", "crop 1:1x0:2", "crop 1x0:2"),
    ("dropout 0.5 noise=1x1x16", "dropout 0.5 noise=1x1x16", "dropout 0.5 noise=1x1x16"),
    ("gap keepdims", "gap keepdims", "gap keepdims"),
    ("gmp", "gmp", "gmp"),
    ("reshape 4x4", "reshape 4x4", "reshape 4x4"),
    ("flatten", "flatten", "flatten"),
    ("dense 10 softmax", "dense 10 softmax", "dense 10 softmax"),
]


def test_layer_and_step_text_of_every_kind(tmp_path):
    path = tmp_path / "kinds.cnn"
    path.write_text("input 8x8x4\n" + "".join(f"  -> {s}\n" for s, _, _ in KIND_TEXTS))
    doc = json_report(path)
    # the merges' branches (`relu`, `tanh`) are layers of their own, before their merge
    mine = [layer for layer in doc["layers"][1:] if layer["kind"] not in ("activation",)
            or layer["layer"] == "leaky_relu=0.1"]
    assert [(layer["layer"], layer["step"]) for layer in mine] == \
        [(layer, step) for _, layer, step in KIND_TEXTS]
    assert doc["layers"][0]["layer"] == "input 8x8x4"


def test_receptive_field_column_and_dense_equivalent(tmp_path):
    # conv 3: 3x3; maxpool 2 (k=2, jump 1): 3 + 1 = 4; conv 3x1 on jump 2: 4+2*2 x 4+0 = 8x4;
    # gap and everything after it: global.
    path = tmp_path / "rf.cnn"
    path.write_text("input 12x12x1 -> conv 3 x2 -> maxpool 2 -> conv 3x1 x2 -> gap "
                    "-> dense 3\n")
    rc, out, _ = cli("shapes", str(path), "--format", "csv")
    assert rc == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["receptive_field"] for r in rows] == ["1x1", "3x3", "4x4", "8x4", "global",
                                                    "global"]
    # a fully connected layer from 12*12*1 to 10*10*2 values: 144*200 + 200
    assert [r["dense_equivalent"] for r in rows] == ["", str(144*200 + 200), "",
                                                     str((5*5*2) * (3*5*2) + 3*5*2), "", ""]
    rows = table_rows(cli("shapes", str(path))[1])
    assert [r["rf"] for r in rows.values()] == ["1x1", "3x3", "4x4", "8x4", "global",
                                                "global"]


NO_NUMPY_SCRIPT = r"""
import contextlib, io, json, sys
from cnndsl.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    codes = [main(argv) for argv in ARGVS]
print(json.dumps({"codes": codes, "numpy": "numpy" in sys.modules}))
"""


def test_shapes_check_and_draw_start_without_numpy(tmp_path):
    """The commands that only read the spec start fast: none of them, nor the CLI's
    table of commands (train, evaluate, import, maps), imports NumPy."""
    argvs = [["shapes", "examples/resnet50.cnn"], ["check", "examples/nasnet_mobile.cnn"],
             ["draw", "examples/resnet50.cnn", "-o", str(tmp_path / "r.svg")]]
    script = NO_NUMPY_SCRIPT.replace("ARGVS", repr(argvs))
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                            text=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().split("\n")[-1]) == {"codes": [0, 0, 0],
                                                                 "numpy": False}
