"""`cnndsl fmt` as a user runs it: files rewritten whole and in place (their mode kept),
`--check` for CI, `--diff`, standard input, folders, and files with errors left alone."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from outcomes import cli

ROOT = Path(__file__).resolve().parent.parent
BAD = "input 6x6x1->conv 3x3/1 x2  ->maxpool 2->flatten->dense 10   # the lesson\n"
GOOD = "input 6x6x1 -> conv 3x3/1 x2 -> maxpool 2 -> flatten -> dense 10  # the lesson\n"
BROKEN = "input 4x4x1 -> conv 5\n"


@pytest.fixture
def files(tmp_path):
    (tmp_path / "bad.cnn").write_text(BAD, encoding="utf-8")
    (tmp_path / "good.cnn").write_text(GOOD, encoding="utf-8")
    return tmp_path


def test_files_are_rewritten_in_place_and_said_so(files):
    os.chmod(files / "bad.cnn", 0o640)
    rc, out, err = cli("fmt", files / "bad.cnn", files / "good.cnn")
    assert rc == 0 and out == ""
    assert (files / "bad.cnn").read_text(encoding="utf-8") == GOOD
    assert stat.S_IMODE((files / "bad.cnn").stat().st_mode) == 0o640
    assert err == (f"reformatted {files / 'bad.cnn'}\n"
                   "1 file reformatted, 1 file left unchanged\n")
    assert not [p for p in files.iterdir() if p.name.startswith(".")], "a temporary file left"


def test_check_changes_nothing_and_fails_when_a_file_would_change(files):
    rc, out, err = cli("fmt", "--check", files)
    assert rc == 1 and out == ""
    assert (files / "bad.cnn").read_text(encoding="utf-8") == BAD
    assert err == (f"would reformat {files / 'bad.cnn'}\n"
                   "1 file would be reformatted, 1 file would be left unchanged\n")
    assert cli("fmt", "--check", files / "good.cnn")[0] == 0


def test_diff_prints_a_unified_diff_that_patch_applies(files):
    rc, out, _ = cli("fmt", "--diff", files / "bad.cnn")
    assert rc == 0
    assert out.splitlines()[2:] == ["@@ -1 +1 @@", "-" + BAD.rstrip("\n"),
                                    "+" + GOOD.rstrip("\n")]
    assert (files / "bad.cnn").read_text(encoding="utf-8") == BAD
    rc, checked, _ = cli("fmt", "--diff", "--check", files / "bad.cnn")
    assert rc == 1 and checked == out
    if shutil.which("patch"):
        subprocess.run(["patch", "-s", str(files / "bad.cnn")], input=out + "\n", text=True,
                       check=True)
        assert (files / "bad.cnn").read_text(encoding="utf-8") == GOOD


def test_standard_input_to_standard_output():
    result = subprocess.run([sys.executable, "-m", "cnndsl", "fmt", "-"], input=BAD,
                            capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert (result.returncode, result.stdout, result.stderr) == (0, GOOD, "")
    result = subprocess.run([sys.executable, "-m", "cnndsl", "fmt", "--check", "-"],
                            input=BAD, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 1 and result.stdout == ""


def test_a_file_with_an_error_is_left_alone_and_the_others_formatted(files):
    (files / "broken.cnn").write_text(BROKEN, encoding="utf-8")
    rc, out, err = cli("fmt", files)
    assert rc == 1
    assert (files / "broken.cnn").read_text(encoding="utf-8") == BROKEN
    assert (files / "bad.cnn").read_text(encoding="utf-8") == GOOD
    assert f"{files / 'broken.cnn'}:1:16: error: `conv` needs a number of filters" in err
    assert "    input 4x4x1 -> conv 5\n                   ^~~~~~\nhint: " in err
    assert err.endswith("1 file reformatted, 1 file left unchanged, "
                        "1 file with errors left as they were\n")


def test_a_folder_means_every_cnn_file_under_it_and_none_is_an_error(tmp_path):
    (tmp_path / "deep" / "er").mkdir(parents=True)
    (tmp_path / "deep" / "er" / "x.cnn").write_text(BAD, encoding="utf-8")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "y.cnn").write_text(BAD, encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not a spec", encoding="utf-8")
    rc, _, err = cli("fmt", tmp_path)
    assert rc == 0 and "1 file reformatted" in err
    assert (tmp_path / "deep" / "er" / "x.cnn").read_text(encoding="utf-8") == GOOD
    assert (tmp_path / ".hidden" / "y.cnn").read_text(encoding="utf-8") == BAD
    empty = tmp_path / "empty"
    empty.mkdir()
    rc, _, err = cli("fmt", empty)
    assert rc == 1 and err == (f"{empty}: error: no .cnn files in this directory\n"
                               "hint: give .cnn files or a folder that holds some\n")


def test_a_missing_file_is_an_error_with_a_hint(tmp_path):
    rc, _, err = cli("fmt", tmp_path / "nowhere.cnn")
    assert rc == 1 and err.startswith(f"{tmp_path / 'nowhere.cnn'}: error: no such file\n"
                                      "hint: check the path\n")


def test_an_unwritable_folder_leaves_the_file_as_it_was(files):
    if os.geteuid() == 0:
        pytest.skip("root writes into a read-only folder")
    os.chmod(files, 0o500)
    try:
        rc, _, err = cli("fmt", files / "bad.cnn")
    finally:
        os.chmod(files, 0o700)
    assert rc == 1 and "error: cannot write the file" in err
    assert (files / "bad.cnn").read_text(encoding="utf-8") == BAD


def test_the_examples_are_formatted_as_ci_checks():
    rc, _, err = cli("fmt", "--check", ROOT / "examples")
    assert rc == 0, err
    assert err.endswith("files would be left unchanged\n")
