"""Security: no code from a user's files ever runs.

  * cnndsl's own source has no `eval`, `exec`, builtin `compile` or `__import__` call, no
    pickle (or marshal, shelve, dill) import and no `allow_pickle=True` (checked on the AST,
    so `re.compile` and the module compile.py are fine);
  * pickled objects in an `.npz` or `.npy` (weights or input) are refused, and the pickle's
    payload, which would create a marker file, never runs;
  * `.keras` models are loaded in Keras's safe mode: a model with a Lambda layer (Python
    bytecode in the file) is refused, and its code never runs (Keras only);
  * `{expr}` is evaluated by cnndsl's own arithmetic, never by Python: Python code in braces
    is a located error, and the marker it would create never appears.
"""

from __future__ import annotations

import ast
import os
import pickle
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
from outcomes import cli

from cnndsl.backends.weights import WeightsError, load_npz
from cnndsl.support.files import ArchiveError, read_npz

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "cnndsl"
NO_KERAS = "TensorFlow/Keras not installed: pip install 'cnndsl[keras]'"


# ---- (a) the source -----------------------------------------------------------------------------

FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__"}
FORBIDDEN_MODULES = {"pickle", "cPickle", "_pickle", "marshal", "shelve", "dill", "cloudpickle",
                     "joblib"}
SOURCES = sorted(PACKAGE.rglob("*.py"))


def test_the_scan_sees_the_whole_package():
    names = {p.relative_to(PACKAGE).as_posix() for p in SOURCES}
    assert {"cli.py", "commands/compile.py", "syntax/expr.py", "support/files.py",
            "running/runner.py", "backends/weights.py", "backends/keras/builder.py",
            "backends/numpy/interpreter.py"} <= names


def violations(tree: ast.AST) -> list[str]:
    """Forbidden calls, imports and `allow_pickle=True` in one module's AST."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in FORBIDDEN_CALLS:
                found.append(f"line {node.lineno}: {func.id}(...)")
            # builtins.eval(...), getattr(builtins, "exec") and the like
            if isinstance(func, ast.Attribute) and func.attr in FORBIDDEN_CALLS - {"compile"} \
                    and isinstance(func.value, ast.Name) and func.value.id in ("builtins",
                                                                             "__builtins__"):
                found.append(f"line {node.lineno}: builtins.{func.attr}(...)")
            for keyword in node.keywords:
                if keyword.arg == "allow_pickle" and not (
                        isinstance(keyword.value, ast.Constant) and keyword.value.value is False):
                    found.append(f"line {node.lineno}: allow_pickle="
                                 f"{ast.unparse(keyword.value)}")
                if keyword.arg == "safe_mode" and not (
                        isinstance(keyword.value, ast.Constant) and keyword.value.value is True):
                    found.append(f"line {node.lineno}: safe_mode={ast.unparse(keyword.value)}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in FORBIDDEN_MODULES:
                    found.append(f"line {node.lineno}: import {alias.name}")
        elif isinstance(node, ast.ImportFrom):
            if (node.module or "").split(".")[0] in FORBIDDEN_MODULES:
                found.append(f"line {node.lineno}: from {node.module} import ...")
    return found


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_source_has_no_code_execution_or_pickle(path):
    text = path.read_text(encoding="utf-8")
    assert violations(ast.parse(text, filename=str(path))) == []
    assert "allow_pickle=True" not in text  # also in strings and comments


def test_the_scan_would_catch_them():
    """The checker itself: every forbidden form is found, the allowed look-alikes are not."""
    bad = ("eval('1')\nexec('x = 1')\ncompile('1', 'f', 'eval')\n__import__('os')\n"
           "import pickle\nfrom marshal import loads\nimport dill.settings\n"
           "np.load(p, allow_pickle=True)\nnp.load(p, allow_pickle=flag)\n"
           "builtins.exec('1')\nkeras.saving.load_model(p, safe_mode=False)\n")
    assert len(violations(ast.parse(bad))) == 11
    fine = ("import re\nre.compile('x')\nfrom . import compile as keras_compile\n"
            "keras_compile.command()\nnp.load(p, allow_pickle=False)\nmodel.evaluate(x)\n"
            "load_model(p, safe_mode=True)\n")
    assert violations(ast.parse(fine)) == []


# ---- (b) pickled objects ----------------------------------------------------------------------

class Payload:
    """Unpickling this creates the directory `marker`: proof that code from the file ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


@pytest.fixture
def evil(tmp_path, monkeypatch):
    """A network, a good input, and files whose pickled payload would create MARKER."""
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "MARKER"
    payload = np.array([Payload(marker), 1.0], dtype=object)
    Path("net.cnn").write_text("input 4 -> dense 2\n", encoding="utf-8")
    np.save("x.npy", np.ones((3, 4), np.float32))
    # Weights with every key the network needs, one of them a pickled object array.
    np.savez("w.npz", **{"dense_1/kernel": payload, "dense_1/bias": np.zeros(2, np.float32)})
    np.savez("x_evil.npz", x=payload)
    np.save("x_evil.npy", payload, allow_pickle=True)
    np.save("x_record.npy", np.array([(Payload(marker), 1.0)], dtype=[("a", "O"), ("b", "f4")]),
            allow_pickle=True)
    Path("raw.npz").write_bytes(pickle.dumps(Payload(marker)))  # np.load would unpickle it
    Path("raw.npy").write_bytes(pickle.dumps(Payload(marker)))
    Path("out.npy").write_bytes(b"old")
    Path("out.keras").write_bytes(b"old")
    return marker


def test_the_payload_is_live(evil, tmp_path):
    """Control: loading these files with pickle allowed does run the payload."""
    with np.load("w.npz", allow_pickle=True) as data:
        data["dense_1/kernel"]
    assert evil.is_dir()
    evil.rmdir()
    np.load("raw.npy", allow_pickle=True)
    assert evil.is_dir()


@pytest.mark.parametrize("argv", [
    ("run", "net.cnn", "--input", "x.npy", "-o", "out.npy", "--weights", "w.npz"),
    ("run", "net.cnn", "--input", "x.npy", "-o", "out.npy", "--weights", "raw.npz"),
    ("compile", "net.cnn", "-o", "out.keras", "--weights", "w.npz"),
    ("compile", "net.cnn", "-o", "out.keras", "--weights", "raw.npz"),
    ("run", "net.cnn", "--input", "x_evil.npz", "-o", "out.npy"),
    ("run", "net.cnn", "--input", "x_evil.npy", "-o", "out.npy"),
    ("run", "net.cnn", "--input", "x_record.npy", "-o", "out.npy"),
    ("run", "net.cnn", "--input", "raw.npy", "-o", "out.npy"),
    ("run", "net.cnn", "--input", "raw.npz", "-o", "out.npy"),
], ids=lambda argv: " ".join(argv[3:]))
def test_pickled_objects_are_refused(evil, argv):
    rc, out, err = cli(*argv)
    bad = next(a for a in argv if a.startswith(("w.", "raw.", "x_")))
    assert rc == 1 and out == ""
    assert err.startswith(f"{bad}: error: "), err
    assert "pickle" in err.split("\n")[0], err
    assert "\nhint: " in err
    assert not evil.exists(), "the pickled payload ran"
    assert Path("out.npy").read_bytes() == b"old" and Path("out.keras").read_bytes() == b"old"


@pytest.mark.parametrize("name", ["w.npz", "raw.npz"])
def test_load_npz_refuses_pickled_objects(evil, name):
    with pytest.raises(WeightsError, match="pickle"):
        load_npz(name)
    with pytest.raises(ArchiveError, match="pickle"):
        read_npz(name)
    assert not evil.exists(), "the pickled payload ran"


# ---- (b2) zip bombs: archives that expand past memory are refused before reading -----------

def declaring(path: Path, size: int) -> None:
    """Rewrite every central-directory entry of the zip at `path` to declare `size`
    uncompressed bytes (a few bytes on disk that claim gigabytes)."""
    data = bytearray(path.read_bytes())
    start = 0
    while (start := data.find(b"PK\x01\x02", start)) >= 0:
        data[start + 24:start + 28] = size.to_bytes(4, "little")
        start += 4
    path.write_bytes(bytes(data))


@pytest.fixture
def bombs(tmp_path, monkeypatch):
    """A network, a good input, and archives declaring 10 x 4 GiB, on a machine with
    16 GiB free (the real figure varies: a large server has more than 40 GiB free)."""
    import cnndsl.support.files as files

    monkeypatch.setattr(files, "available_memory", lambda: 16 * 2**30)
    monkeypatch.chdir(tmp_path)
    Path("net.cnn").write_text("input 4x4x1 -> conv 3 x2 -> flatten -> dense 2\n")
    np.save("x.npy", np.zeros((1, 4, 4, 1), np.float32))
    weights = {f"pad_{i}": np.zeros(4, np.float32) for i in range(10)}
    np.savez("w.npz", **weights)
    declaring(Path("w.npz"), 2**32 - 2)
    np.savez("x.npz", *[np.zeros((1, 4, 4, 1), np.float32)] * 10)
    declaring(Path("x.npz"), 2**32 - 2)
    for name in ("out.npy", "out.keras"):
        Path(name).write_bytes(b"old")


@pytest.mark.parametrize("argv", [
    ("run", "net.cnn", "--input", "x.npy", "-o", "out.npy", "--weights", "w.npz"),
    ("run", "net.cnn", "--input", "x.npz", "-o", "out.npy"),
    ("compile", "net.cnn", "-o", "out.keras", "--weights", "w.npz"),
], ids=["weights", "input", "compile"])
def test_archives_larger_than_memory_are_refused(bombs, argv):
    rc, out, err = cli(*argv)
    bad = "x.npz" if "x.npz" in argv else "w.npz"
    assert rc == 1 and out == "", err
    assert err.startswith(f"{bad}: error: "), err
    assert "GiB once decompressed" in err.split("\n")[0] and "\nhint: " in err, err
    assert Path("out.npy").read_bytes() == b"old" and Path("out.keras").read_bytes() == b"old"


def test_a_real_bomb_is_refused_before_it_is_inflated(tmp_path, monkeypatch):
    """64 MiB of zeros deflate to about 64 KiB: refused against a 32 MiB budget, read
    against a 128 MiB one."""
    import cnndsl.support.files as files

    path = tmp_path / "bomb.npz"
    np.savez_compressed(path, x=np.zeros(2**24, np.float32))
    assert path.stat().st_size < 2**20
    monkeypatch.setattr(files, "available_memory", lambda: 2**25)
    with pytest.raises(ArchiveError, match="GiB once decompressed"):
        read_npz(path)
    monkeypatch.setattr(files, "available_memory", lambda: 2**27)
    assert read_npz(path)["x"].shape == (2**24,)
    monkeypatch.setattr(files, "available_memory", lambda: None)  # unknown: no limit
    assert read_npz(path)["x"].shape == (2**24,)


def test_available_memory_is_plausible():
    import cnndsl.support.files as files

    free = files.available_memory()
    assert free is None or 2**20 < free < 2**50


# ---- (c) .keras models: safe mode ---------------------------------------------------------------

MARKER_VARIABLE = "CNNDSL_SECURITY_MARKER"


# A Lambda's function: creates the directory named by $CNNDSL_SECURITY_MARKER whenever it
# runs. A lambda, so Keras saves it in the .keras file as Python bytecode; it names only
# builtins, so it would run wherever the file is loaded.
TOUCH_MARKER = (lambda t: (__import__("os").makedirs(  # noqa: E731
    __import__("os").environ["CNNDSL_SECURITY_MARKER"], exist_ok=True), t)[1])


@pytest.fixture
def lambda_model(keras, tmp_path, monkeypatch):
    """`lambda.keras`: a Dense layer named as `input 4 -> dense 2` expects, after a Lambda
    running `TOUCH_MARKER`; and the marker it would create."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(MARKER_VARIABLE, str(tmp_path / "built"))  # building calls it once
    inputs = keras.Input((4,), name="input")
    hidden = keras.layers.Lambda(TOUCH_MARKER, name="sneaky")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2, name="dense_1")(hidden))
    model.save("lambda.keras")
    marker = tmp_path / "MARKER"
    monkeypatch.setenv(MARKER_VARIABLE, str(marker))
    Path("net.cnn").write_text("input 4 -> dense 2\n", encoding="utf-8")
    np.save("x.npy", np.ones((3, 4), np.float32))
    for name in ("out.npy", "w.npz", "out.keras"):
        Path(name).write_bytes(b"old")
    with zipfile.ZipFile("lambda.keras") as archive:
        assert "Lambda" in archive.read("config.json").decode()
    return marker


def test_the_lambda_is_live(keras, lambda_model):
    """Control: loading the model with safe mode off runs the Lambda's code."""
    assert not lambda_model.exists()
    keras.saving.load_model("lambda.keras", safe_mode=False)
    assert lambda_model.is_dir()


@pytest.mark.parametrize("argv", [
    ("weights", "lambda.keras", "-o", "w.npz"),
    ("run", "net.cnn", "--input", "x.npy", "-o", "out.npy", "--weights", "lambda.keras"),
    ("compile", "net.cnn", "-o", "out.keras", "--weights", "lambda.keras"),
], ids=["weights", "run", "compile"])
def test_models_with_lambda_layers_are_refused(lambda_model, argv):
    rc, out, err = cli(*argv)
    assert rc == 1 and out == ""
    assert err.startswith("lambda.keras: error: Keras cannot load the model: "), err
    assert "\nhint: " in err
    assert not lambda_model.exists(), "the Lambda's code ran"
    for name in ("out.npy", "w.npz", "out.keras"):
        assert Path(name).read_bytes() == b"old"


# ---- (d) `{expr}` never reaches Python --------------------------------------------------------

PAYLOADS = [
    "__import__('os').system('touch MARKER')",
    '__import__("os").mkdir("MARKER")',
    "open('MARKER', 'w')",
    "exec('import os; os.mkdir(\"MARKER\")')",
    "eval('__import__(\"os\").mkdir(\"MARKER\")')",
    "().__class__.__base__.__subclasses__()",
    "C.__class__",
    "[x for x in (1,)]",
    "lambda: 0",
    "1 if 1 else 0",
    "2**10",
    "'a' * 3",
    "n.real",
    "globals()",
    "breakpoint()",
]
PLACES = [
    "input {P} -> dense 2",
    "input 4 -> dense {P}",
    "input 8x8x3 -> conv {P} x4",
    "input 8x8x3 -> conv 3 x{P}",
    "def b(n=4) = dense {P}\ninput 4 -> b",
    "def b(n=4) = dense {n}\ninput 4 -> b({P})",
    "input 4 -> (dense 2) * {P}",
    "input 8x8x3 -> zeropad {P}:1",
]
COMMANDS = [("check",), ("shapes", "--format", "json"),
            ("compile", "--emit", "python", "-o", "out.py")]


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("payload", PAYLOADS)
def test_expressions_never_reach_python(tmp_path, monkeypatch, payload, place):
    monkeypatch.chdir(tmp_path)
    text = place.replace("P", payload, 1) + "\n"
    Path("net.cnn").write_text(text, encoding="utf-8")
    np.save("x.npy", np.ones((1, 4), np.float32))
    located = re.compile(r"^net\.cnn:(\d+):(\d+): error: ")
    argvs = [(c[0], "net.cnn", *c[1:]) for c in COMMANDS]
    argvs.append(("run", "net.cnn", "--input", "x.npy", "-o", "y.npy"))
    for argv in argvs:
        rc, out, err = cli(*argv)
        assert rc == 1 and out == "", (argv, err)
        m = located.match(err)
        assert m, (argv, err)
        line, column = int(m.group(1)), int(m.group(2))
        assert 1 <= line <= text.count("\n") and column >= 1
        assert "^" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.cnn", "x.npy"], \
        "something was created"


def test_a_file_named_marker_is_never_created_by_a_spec(tmp_path, monkeypatch):
    """Absolute paths in the payload too, in case a working directory is not the expected."""
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "MARKER"
    text = f"input {{__import__('os').mkdir('{marker}')}} -> dense 2\n"
    Path("net.cnn").write_text(text, encoding="utf-8")
    rc, _, err = cli("check", "net.cnn")
    assert rc == 1 and err.startswith("net.cnn:1:"), err
    assert not marker.exists()


# ---- (e) the terminal: nothing from a file reaches it raw, and nothing is endless -----------
#
# A file name, a stem, a `--name`, a weights key or an archive member's name can hold an
# escape sequence that recolours the terminal, clears it, sets its title, or (with the
# bidirectional overrides) makes a line read other than it is. Every such string is printed
# through `cnndsl.errors.shown`: control characters escaped, at most 200 characters.

RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")
ESC = "\x1b[2J\x1b]0;pwned\x07"  # clear the screen, set the window's title
SHOWN = "\\x1b[2J\\x1b]0;pwned\\x07"


@pytest.fixture
def hostile(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("net.cnn").write_text("input 4 -> dense 2\n", encoding="utf-8")
    np.save("x.npy", np.ones((3, 4), np.float32))
    return tmp_path


def _weights_with(*keys: str) -> dict[str, np.ndarray]:
    good = {"dense_1/kernel": np.ones((4, 2), np.float32), "dense_1/bias": np.zeros(2, np.float32)}
    return {**good, **{k: np.zeros(1, np.float32) for k in keys}}


def _setups():
    def spec_name():
        Path(f"bad{ESC}.cnn").write_text("input 4 -> comv 2\n", encoding="utf-8")
        return ("check", f"bad{ESC}.cnn")

    def missing_spec():
        return ("check", f"nope{ESC}.cnn")

    def weights_key():
        np.savez("evil.npz", **_weights_with(ESC))
        return ("run", "net.cnn", "--input", "x.npy", "-o", "y.npy", "--weights", "evil.npz")

    def member_names():
        np.savez("two.npz", **{f"a{ESC}": np.zeros(4), "b": np.zeros(4)})
        return ("run", "net.cnn", "--input", "two.npz", "-o", "y.npy")

    def npz_member():
        with zipfile.ZipFile("odd.npz", "w") as archive:
            archive.writestr(f"x{ESC}.npy", b"not an array")
        return ("run", "net.cnn", "--input", "x.npy", "-o", "y.npy", "--weights", "odd.npz")

    def output_name():
        return ("run", "net.cnn", "--input", "x.npy", "-o", f"y{ESC}.txt")

    def output_written():
        return ("run", "net.cnn", "--input", "x.npy", "-o", f"y{ESC}.npy")

    def input_name():
        return ("run", "net.cnn", "--input", f"x{ESC}.npy", "-o", "y.npy")

    def model_name():
        return ("shapes", "net.cnn", "--name", f"m{ESC}")

    def stem():
        Path(f"n{ESC}.cnn").write_text("input 4 -> dense 2\n", encoding="utf-8")
        return ("shapes", f"n{ESC}.cnn")

    def stem_markdown():
        Path(f"n{ESC}.cnn").write_text("input 4 -> dense 2\n", encoding="utf-8")
        return ("shapes", f"n{ESC}.cnn", "--format", "markdown")

    return [spec_name, missing_spec, weights_key, member_names, npz_member, output_name,
            output_written, input_name, model_name, stem, stem_markdown]


@pytest.mark.parametrize("setup", _setups(), ids=lambda f: f.__name__)
def test_escape_sequences_from_files_are_shown_escaped(hostile, setup):
    """Each of these printed the escape sequence raw (it cleared the screen and retitled
    the window); now it is shown as `\\x1b[2J...`, on both standard output and error."""
    rc, out, err = cli(*setup())
    assert rc in (0, 1), err
    assert not RAW.search(out + err), repr(out + err)
    assert SHOWN in out + err, out + err


@pytest.mark.parametrize("char, shown", [("\u202e", "\\u202e"), ("\x9b", "\\x9b"),
                                         ("\r", "\\r"), ("\n", "\\n"), ("\x7f", "\\x7f")])
def test_every_kind_of_control_character_is_escaped(hostile, char, shown):
    """Bidirectional overrides reorder a line, C1's CSI starts a sequence like ESC [, a
    carriage return rewrites the line, a newline fakes one (`hint: ...`)."""
    rc, _, err = cli("check", f"a{char}b.cnn")
    assert rc == 1 and err.startswith(f"a{shown}b.cnn: error: no such file\nhint: "), err


def test_a_file_name_that_is_not_utf8_is_shown_by_its_bytes(hostile):
    name = os.fsdecode(b"caf\xe9.cnn")  # Latin-1, as an old system may have written it
    rc, _, err = cli("check", name)
    assert rc == 1 and err.startswith("caf\\xe9.cnn: error: no such file\n"), err


def test_a_spec_line_with_control_characters_is_shown_with_spaces(hostile):
    Path("net.cnn").write_text(f"input 4 -> comv 2 # {ESC}\u202e\n", encoding="utf-8")
    rc, _, err = cli("check", "net.cnn")
    assert rc == 1 and not RAW.search(err), repr(err)
    assert err.split("\n")[1] == "    input 4 -> comv 2 #  [2J ]0;pwned  "


LONG = 5_000_000


@pytest.mark.parametrize("case", ["step", "option", "block", "block keyword", "weights keys",
                                  "members", "name", "missing file"])
def test_no_user_string_makes_an_endless_line(hostile, case):
    """A 5 MB name made a 5 MB line of stderr (and a `.keras` config string 52 MB): any
    quoted user string is cut at 200 characters, with its length; lists of names at 20."""
    word = "q" * LONG
    if case in ("step", "option", "block", "block keyword"):
        text = {"step": f"input 4 -> {word}\n", "option": f"input 4 -> dense 2 {word}=1\n",
                "block": f"def b(n) = dense {{n}}\ninput 4 -> b({word})\n",
                "block keyword": f"def b(n) = dense {{n}}\ninput 4 -> b({word}=2)\n"}[case]
        Path("long.cnn").write_text(text, encoding="utf-8")
        argv = ("check", "long.cnn")
    elif case == "weights keys":
        np.savez("many.npz", **_weights_with(*(f"k{i}" * 100 for i in range(5000))))
        argv = ("run", "net.cnn", "--input", "x.npy", "-o", "y.npy", "--weights", "many.npz")
    elif case == "members":
        np.savez("many.npz", **{f"m{i}" * 100: np.zeros(4) for i in range(5000)})
        argv = ("run", "net.cnn", "--input", "many.npz", "-o", "y.npy")
    elif case == "name":
        argv = ("shapes", "net.cnn", "--name", "\x00" + "n" * 100_000)
    else:
        argv = ("check", "n" * 100_000 + ".cnn")
    rc, out, err = cli(*argv)
    assert rc == 1 and out == ""
    assert len(err) < 5000 and max(len(line) for line in err.split("\n")) < 2000, \
        (len(err), err[:300])
    assert "\nhint: " in err
