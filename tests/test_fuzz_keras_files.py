"""Fuzzing `.keras` archives for `import` and `weights` (issue 19): names, sizes, nesting.

Every call of `cnndsl.cli.main` on a hostile archive exits 0, 1 or 2 with the project's
own message (`tests/test_fuzz_files.judge_error`), changes no input (checksums before and
after), and leaves no file outside its outputs: none beside the model, none in the
temporary directory (Keras extracts an archive of more than three members there).

Two kinds of archives:
  bombs     (no Keras) config.json declaring up to 1.6 GB; members, HDF5 datasets (chunked
            and never written, one gzip chunk written, contiguous and never written, many
            small ones) and `.npz` weights inside the archive declaring far more than they
            store; weights that are not HDF5; with extra members of hostile names (`..`,
            absolute, a newline, 300 characters, duplicates), stored or deflated. All are
            refused before TensorFlow: Keras's loader fails the test if reached.
  models    (Keras, few examples) real models saved by Keras whose model and layer names
            hold line breaks, bidi overrides, quotes, `def` lines, 2,000 characters, models
            nested three deep, then mutated: extra members, recompressed, a string of the
            config replaced by a hostile one, the config nested inside more models, the
            weights truncated or another model's. An import that succeeds writes text whose
            every line is free of the characters `escaping.UNSAFE` lists.

Profiles as in tests/test_fuzz_files.py (`CNNDSL_HYPOTHESIS_PROFILE=thorough`: 20 times as
many examples, random).
"""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
import zipfile
from pathlib import Path

import pytest
from bombs import (
    DEFLATED,
    DENSE_CONFIG,
    config_bomb,
    deflated,
    h5_bomb,
    keras_archive,
    make_keras_unreachable,
    member,
    npz_bomb,
)
from hypothesis import given
from hypothesis import strategies as st
from test_fuzz_files import HAVE_KERAS, budget, call, hidden, judge_error

from cnndsl.support.escaping import UNSAFE

h5py = pytest.importorskip("h5py", reason="h5py comes with cnndsl[keras]")
HOSTILE = ["a\nb", "x\ndef evil(k) = conv 3 x{k}\n# ", "safe\u202egpj.cnn", "q\"'\\`",
           "</script>]]>-->", "\u2028\u2029\x85", "é" * 40, "a" * 2000, "\x1b[31mred", ""]
KERAS_NAMES = [n for n in HOSTILE if "/" not in n] + ["<script>]]>-->"]  # Keras refuses `/`
MEMBER_NAMES = ["assets/a.txt", "../../evil.txt", "/abs/evil.txt", "a\nb.txt", "x" * 300,
                "config.json", "model.weights.h5", "assets/", "metadata.json"]
CONFIG = member("config.json", json.dumps(DENSE_CONFIG).encode())


def _digest(directory: Path) -> dict[str, str]:
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def check(workdir: Path, archive: bytes, command: str, monkeypatch, context: str) -> int:
    """One call on `archive`, held to the module's rules; its exit status."""
    directory = workdir / "case"
    temporary = workdir / "tmp"
    for d in (directory, temporary):
        if d.exists():
            import shutil

            shutil.rmtree(d)
        d.mkdir(parents=True)
    model = directory / "model.keras"
    model.write_bytes(archive)
    outputs = {"import": ["-o", directory / "out.cnn", "--weights-out", directory / "out.npz"],
               "import-names": ["-o", directory / "out.cnn", "--keep-names"],
               "weights": ["-o", directory / "out.npz"]}[command]
    argv = [command.split("-")[0], model, *outputs]
    before = _digest(directory)
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    rc, out, err, _ = call(argv)
    context += f"\nargv: {[str(a) for a in argv]}\nexit {rc}\nstderr:\n{err}"
    assert rc in (0, 1, 2), context
    judge_error(rc, out, err, model, context)
    after = _digest(directory)
    assert after["model.keras"] == before["model.keras"], "the input changed" + context
    written = set(after) - {"model.keras"}
    allowed = {Path(str(o)).name for o in outputs if str(o).startswith(str(directory))}
    assert written <= allowed and (rc == 0 or not written), f"files: {written}" + context
    assert hidden(directory) == [] and list(temporary.iterdir()) == [], context
    if rc == 0 and command.startswith("import"):
        text = (directory / "out.cnn").read_text(encoding="utf-8")
        assert not any(UNSAFE.search(line) for line in text.split("\n")), context
    return rc


# ---- bombs: refused before Keras ---------------------------------------------------------------

@st.composite
def bombs(draw) -> tuple[bytes, str]:
    """(a hostile archive, what makes it one)."""
    kind = draw(st.sampled_from(["config", "member", "h5", "h5", "npz", "not-h5"]))
    config = CONFIG
    weights: tuple | None = None
    extra: list[tuple] = []
    if kind == "config":
        config = config_bomb(draw(st.sampled_from([9, 20, 100])))
    elif kind == "member":
        name = draw(st.sampled_from(["model.weights.h5", "assets/big.bin", "junk",
                                     "metadata.json", "../evil", "a\nb"]))
        stream, size, crc = deflated(b"", draw(st.sampled_from([5, 10, 100])), byte=b"\0")
        extra.append((name, stream, DEFLATED, size, crc))
    elif kind == "h5":
        variant = draw(st.sampled_from(["unwritten", "gzip", "contiguous", "many"]))
        h5 = (h5_bomb("unwritten", draw(st.integers(17, 60)), 1_000_000) if variant == "many"
              else h5_bomb(variant, 1, draw(st.sampled_from([20_000_000, 400_000_000]))))
        weights = member("model.weights.h5", h5, draw(st.sampled_from([0, DEFLATED])))
    elif kind == "npz":
        weights = member("model.weights.npz", npz_bomb(draw(st.integers(1, 4))))
    else:
        weights = member("model.weights.h5", draw(st.binary(max_size=300)))
    for _ in range(draw(st.integers(0, 3))):  # hostile names, small contents
        extra.append(member(draw(st.sampled_from(MEMBER_NAMES)), draw(st.binary(max_size=40)),
                            draw(st.sampled_from([0, DEFLATED]))))
    members = [config, *([weights] if weights else []), *extra]
    order = draw(st.permutations(range(len(members))))
    return keras_archive(*(members[i] for i in order)), kind


@pytest.fixture
def unreachable_keras(monkeypatch):
    make_keras_unreachable(monkeypatch)
    return monkeypatch


@budget(100)
@given(case=bombs(), command=st.sampled_from(["import", "weights"]))
def test_hostile_archives_are_refused_before_keras(tmp_path_factory, unreachable_keras, case,
                                                   command):
    archive, kind = case
    workdir = tmp_path_factory.getbasetemp() / "keras-bombs"
    rc = check(workdir, archive, command, unreachable_keras, f"\nkind: {kind}")
    assert rc == 1, f"kind: {kind}"


# ---- real models, hostile names and nesting: through Keras ------------------------------------

@pytest.fixture(scope="module")
def saved_models(tmp_path_factory) -> list[bytes]:
    """Small models saved by Keras: hostile model and layer names; nested three deep."""
    if not HAVE_KERAS:
        pytest.skip("TensorFlow/Keras not installed: pip install 'cnndsl[keras]'")
    import keras

    directory = tmp_path_factory.mktemp("saved")
    models = []
    for i, name in enumerate(KERAS_NAMES):
        x = keras.Input((4,), name=f"in{i}")
        y = keras.layers.Dense(3, name=name or None)(x)
        models.append(keras.Model(x, keras.layers.ReLU(name=f"r{i}")(y), name=name or None))
    inner = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name=HOSTILE[1])],
                             name=HOSTILE[0])
    middle = keras.Sequential([keras.Input((4,)), inner, keras.layers.ReLU()],
                              name=HOSTILE[2])
    x = keras.Input((4,))
    models.append(keras.Model(x, keras.layers.Dense(2)(middle(x)), name="outer"))
    out = []
    for i, model in enumerate(models):
        path = directory / f"m{i}.keras"
        model.save(path)
        out.append(path.read_bytes())
    return out


def _members(archive: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        return [(i.filename, z.read(i)) for i in z.infolist()]


def _strings(value, found: list) -> None:
    if isinstance(value, dict):
        for v in value.values():
            _strings(v, found)
    elif isinstance(value, list):
        for v in value:
            _strings(v, found)
    elif isinstance(value, str):
        found.append(value)


def _replace(value, old: str, new: str):
    if isinstance(value, dict):
        return {k: _replace(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v, old, new) for v in value]
    return new if value == old else value


@st.composite
def mutated(draw, models: list[bytes]) -> tuple[bytes, str]:
    base = draw(st.integers(0, len(models) - 1))
    members = _members(models[base])
    how = draw(st.sampled_from(["none", "extra", "deflate", "string", "nest", "weights",
                                "truncate"]))
    config = json.loads(dict(members)["config.json"])
    if how == "string":
        found: list[str] = []
        _strings(config, found)
        if found:
            config = _replace(config, draw(st.sampled_from(found)),
                              draw(st.sampled_from(HOSTILE)))
    elif how == "nest":
        for _ in range(draw(st.integers(1, 30))):
            config = {"module": "keras", "class_name": "Sequential",
                      "config": {"name": "n", "layers": [config]}}
    elif how == "weights":
        other = dict(_members(models[draw(st.integers(0, len(models) - 1))]))
        members = [(n, other["model.weights.h5"] if n == "model.weights.h5" else d)
                   for n, d in members]
    elif how == "truncate":
        members = [(n, d[:draw(st.integers(0, len(d)))] if n == "model.weights.h5" else d)
                   for n, d in members]
    members = [(n, json.dumps(config).encode() if n == "config.json" else d)
               for n, d in members]
    if how == "extra":  # names Keras extracts into the temporary directory, duplicates
        for _ in range(draw(st.integers(1, 3))):
            members.append((draw(st.sampled_from(MEMBER_NAMES)), draw(st.binary(max_size=40))))
    method = DEFLATED if how == "deflate" else 0
    return keras_archive(*(member(n, d, method) for n, d in members
                           if n != "metadata.json")), f"model {base}, {how}"


@budget(40)
@given(data=st.data(), command=st.sampled_from(["import", "import-names", "weights"]))
def test_hostile_names_and_nesting_through_keras(tmp_path_factory, saved_models, data,
                                                 command):
    archive, how = data.draw(mutated(saved_models), label="archive")
    with pytest.MonkeyPatch.context() as monkeypatch:
        check(tmp_path_factory.getbasetemp() / "keras-models", archive, command,
              monkeypatch, f"\n{how}")


def test_the_saved_models_import(tmp_path_factory, saved_models):
    """Unmutated, every model imports: the names alone never make a failure."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        for i, archive in enumerate(saved_models):
            rc = check(tmp_path_factory.getbasetemp() / "keras-saved", archive, "import",
                       monkeypatch, f"\nmodel {i}")
            assert rc == 0, f"model {i}"
