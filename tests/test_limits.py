"""Specs beyond the limits are refused with a located error (cnndsl/limits.py), never by
exhausting memory or the stack. How fast is measured by benchmarks/bench_limits.py."""

import pytest

from cnndsl.cli import main
from cnndsl.limits import MAX_LAYERS, MAX_SOURCE_BYTES

DOUBLING = "def b0 = conv 1 x1 -> conv 1 x1\n" + "".join(
    f"def b{i} = b{i - 1} -> b{i - 1}\n" for i in range(1, 40)) + "input 4x4x1 -> b39\n"

CASES = [
    pytest.param("input 6x6x1 -> ( conv 1 x1 ) * 1000000000\n", (1, 16),
                 "more than 100,000 layers", id="repeat a billion times"),
    pytest.param(DOUBLING, (41, 16), "more than 100,000 layers", id="blocks doubling 39 times"),
    pytest.param("input 4x4x1 " + "-> relu " * (MAX_LAYERS + 5) + "\n", (1, 800013),
                 "more than 100,000 steps", id="100,005 steps written out"),
    pytest.param("input 4x4x1 -> ( relu ) * 100000\n", (1, 16), "more than 100,000 layers",
                 id="exactly one layer too many"),
    pytest.param("input 8x8x4 -> " + "add { id | " * 10_000 + "relu" + " }" * 10_000 + "\n",
                 None, "nest", id="merges 10,000 deep"),
    pytest.param("input 8x8x4 -> " + "( " * 10_000 + "relu" + " ) * 2" * 10_000 + "\n",
                 None, "nest", id="repeats 10,000 deep"),
    pytest.param("input 65536x65536x2\n", (1, 1), "over the limit of 2^31", id="2^33 inputs"),
    pytest.param("input 4096x4096x1 -> conv 3 x256 same\n", (1, 22), "2^31",
                 id="a conv output over 2^31"),
    pytest.param("input 8 -> dense {" + "1+" * 600 + "1}\n", (1, 18), "1,000 characters",
                 id="a 1,201-character expression"),
    # Literals past Python's 4,300-digit int() limit were internal errors (exit 3).
    pytest.param("input 8 -> dense " + "1" * 5000 + "\n", (1, 18), "too long",
                 id="a 5,000-digit width"),
    pytest.param("input 8 -> dropout 0." + "1" * 5000 + "\n", (1, 20), "too long",
                 id="a 5,002-character rate"),
    pytest.param("input 8 -> dropout 1e-" + "0" * 5000 + "1\n", (1, 20), "too long",
                 id="an exponent with 5,000 leading zeros"),
    pytest.param("input 8 -> (relu) * " + "1" * 5000 + "\n", (1, 21), "too long",
                 id="a 5,000-digit repeat count"),
    pytest.param("input 8 -> dense {" + "9" * 900 + "}\n", (1, 19), "too long",
                 id="a 900-digit number in an expression"),
    pytest.param("input 8x" + "7" * 5000 + "\n", (1, 9), "too long",
                 id="a 5,000-digit input size"),
]


@pytest.mark.parametrize("source, where, words", CASES)
def test_beyond_a_limit(tmp_path, capsys, source, where, words):
    path = tmp_path / "net.cnn"
    path.write_text(source)
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    first = err.splitlines()[0]
    assert first.startswith(f"{path}:") and ": error: " in first and words in first, err
    if where:
        assert first.startswith(f"{path}:{where[0]}:{where[1]}: error: "), first
    assert "Traceback" not in err and "RecursionError" not in err


def test_a_huge_file_is_refused_before_it_is_read_as_text(tmp_path, capsys):
    path = tmp_path / "huge.cnn"
    with open(path, "wb") as f:
        f.write(b"input 8x8x1 -> relu\n")
        f.write(b"#" * (50 * 2**20) + b"\n")
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{path}:1:1: error: the file is over the limit of "
                          f"{MAX_SOURCE_BYTES // 2**20} MiB")
    assert "\nhint: " in err


def test_just_within_the_layer_limit_compiles(tmp_path, capsys):
    path = tmp_path / "net.cnn"
    path.write_text(f"input 4x4x1 -> ( relu ) * {MAX_LAYERS - 1}\n")
    assert main(["check", str(path)]) == 0
    assert capsys.readouterr().out == "ok: 100,000 layers, 0 params\n"
