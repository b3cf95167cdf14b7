"""The VS Code extension's TextMate grammar, editors/vscode/syntaxes/cnn.tmLanguage.json.

Files are tokenised as VS Code tokenises them: by vscode-textmate on the Oniguruma regex
engine, through editors/vscode/test/tokenize.js (Node.js). The checks:

* every example in examples/ and every ```cnn program in docs/ is covered: each
  non-blank character gets a scope more specific than `source.cnn`, and none is marked
  `invalid` (the grammar marks characters the language never allows);
* golden tokens, (line, text, most specific scope), for the lesson's network
  (tests/golden/textmate_lesson.cnn), a version 2 network (examples/image_and_meta.cnn)
  and every argument form (tests/golden/textmate_forms.cnn), in
  tests/golden/textmate_*.json, checked by hand when written;
* the grammar is valid JSON, every `include` names a rule of its repository, every rule is
  used, every regex compiles with Oniguruma, every scope name ends in `.cnn`;
* the words the grammar colours are the layer catalogue's: step words, activations,
  merges, padding and flag words, `{expr}` functions, compared as sets, so a word added
  to the catalogue and not to the grammar fails here; and each of them, tokenised in
  place, gets its scope;
* the extension's manifest, lock file, language configuration and client script hold
  together;
* the checks can fail: a grammar with a rule taken out fails the golden and coverage
  checks.

Without `node` the tests that tokenise are skipped, with the reason. Without
editors/vscode/node_modules, `npm ci --ignore-scripts` installs it once (under a lock
file, since pytest-xdist's workers start together); if npm is missing or fails, those
tests are skipped with the reason.

After a deliberate change of the grammar, rewrite the golden files with
`CNNDSL_UPDATE_TEXTMATE_GOLDEN=1 python -m pytest tests/test_textmate.py` and read the diff
token by token before committing it.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import cnndsl
from cnndsl.highlighting.words import flag_words
from cnndsl.layers import BY_WORD, MERGES
from cnndsl.layers.activations import ACTIVATIONS
from cnndsl.layers.arguments import BOOLEANS, PADDINGS
from cnndsl.layers.padding import CAUSAL, PAD_MODES
from cnndsl.layers.spellings import MERGE_WORDS
from cnndsl.syntax.expr import FUNCTIONS

ROOT = Path(__file__).resolve().parents[1]
VSCODE = ROOT / "editors" / "vscode"
GRAMMAR = VSCODE / "syntaxes" / "cnn.tmLanguage.json"
TOKENIZE = VSCODE / "test" / "tokenize.js"
GOLDEN = ROOT / "tests" / "golden"
NEEDED_MODULES = ("vscode-textmate/package.json", "vscode-oniguruma/release/onig.wasm",
                  "shiki/package.json", "markdown-it/package.json")  # tests/test_vscode_render.py
NPM_CI_TIMEOUT = 300
UPDATE = os.environ.get("CNNDSL_UPDATE_TEXTMATE_GOLDEN") == "1"

# name -> the file its golden tokens are of
GOLDEN_SOURCES = {
    "lesson": "tests/golden/textmate_lesson.cnn",
    "v2": "examples/image_and_meta.cnn",
    "forms": "tests/golden/textmate_forms.cnn",
}


def grammar() -> dict:
    return json.loads(GRAMMAR.read_text(encoding="utf-8"))


# -- node and the node modules ----------------------------------------------------------

def _modules_ready() -> bool:
    return all((VSCODE / "node_modules" / p).is_file() for p in NEEDED_MODULES)


def _scratch(suffix: str) -> Path:
    """A file in the temporary directory, one per checkout."""
    tag = re.sub(r"[^A-Za-z0-9]+", "_", str(VSCODE))[-80:]
    return Path(tempfile.gettempdir()) / f"cnndsl-npm-ci-{tag}.{suffix}"


@contextlib.contextmanager
def _install_lock() -> Iterator[None]:
    """One `npm ci` at a time on this machine for this checkout: xdist's workers all
    reach the fixture at once, and npm ci starts by deleting node_modules."""
    try:
        import fcntl
    except ImportError:  # Windows: no xdist-safe lock here; install without one
        yield
        return
    with open(_scratch("lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _install_modules() -> str | None:
    """Run `npm ci` in editors/vscode; None when it worked, else why not. A failure is
    remembered for ten minutes, so that the other workers of the run do not each wait
    for npm again."""
    failed = _scratch("failed")
    with contextlib.suppress(OSError):
        if time.time() - failed.stat().st_mtime < 600:
            return (failed.read_text(encoding="utf-8") + f" (remembered for ten minutes; "
                    f"delete {failed} to try again at once)")
    npm = shutil.which("npm")
    if npm is None:
        return ("editors/vscode/node_modules is missing and npm is not installed to make it "
                "(npm ci in editors/vscode)")
    try:
        done = subprocess.run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
                              cwd=VSCODE, capture_output=True, text=True,
                              timeout=NPM_CI_TIMEOUT, check=False)
        said = [line for line in (done.stderr + done.stdout).splitlines()
                if line.strip() not in ("", "npm error")]
        reason = None if done.returncode == 0 and _modules_ready() else (
            "npm ci in editors/vscode failed, so its node modules are missing: "
            + " / ".join(said[:3]))
    except subprocess.TimeoutExpired:
        reason = f"npm ci in editors/vscode took over {NPM_CI_TIMEOUT} s"
    if reason is None:
        failed.unlink(missing_ok=True)
    else:
        failed.write_text(reason, encoding="utf-8")
    return reason


def node_with_modules(used_for: str) -> str:
    """The `node` command, with editors/vscode's node modules (`NEEDED_MODULES`) installed,
    by one `npm ci` under the lock if they are not; else a skip that says why, `used_for`
    saying what node is for."""
    found = shutil.which("node")
    if found is None:
        pytest.skip(f"node (Node.js) is not installed: {used_for}")
    with _install_lock():
        reason = None if _modules_ready() else _install_modules()
    if reason is not None:
        pytest.skip(reason)
    return found


@pytest.fixture(scope="session")
def node() -> str:
    """The `node` command, with vscode-textmate and vscode-oniguruma installed."""
    return node_with_modules("the TextMate grammar is tested with vscode-textmate, which "
                             "runs on it")


def run_tokenize(node: str, *args: str | Path, grammar_path: Path = GRAMMAR):
    done = subprocess.run([node, str(TOKENIZE), "--grammar", str(grammar_path),
                           *map(str, args)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, f"tokenize.js failed:\n{done.stderr}"
    return json.loads(done.stdout)


def tokenize(node: str, files: list[Path], grammar_path: Path = GRAMMAR) -> dict[Path, list]:
    """Each file's lines, each a list of tokens {"text", "scopes"} (whitespace left out)."""
    result = run_tokenize(node, *files, grammar_path=grammar_path)
    return {Path(entry["file"]): entry["lines"] for entry in result}


def tokenize_text(node: str, text: str, tmp_path: Path, grammar_path: Path = GRAMMAR):
    path = tmp_path / "t.cnn"
    path.write_text(text, encoding="utf-8")
    return tokenize(node, [path], grammar_path)[path]


# -- what is checked ----------------------------------------------------------------------

def coverage_problems(path: Path, lines: list[list[dict]]) -> list[str]:
    """Characters left with only the root scope, or marked invalid, and text the tokens do
    not account for."""
    problems = []
    text = path.read_text(encoding="utf-8").lstrip("\ufeff").splitlines()
    for number, (source, tokens) in enumerate(zip(text, lines), 1):
        where = f"{path.name}:{number}"
        for token in tokens:
            scopes, text = token["scopes"], token["text"].strip()
            if len(scopes) < 2:
                problems.append(f"{where}: {text!r} has only the scope {scopes}")
            elif any(s.startswith("invalid") for s in scopes):
                problems.append(f"{where}: {text!r} is marked {scopes[-1]}")
        joined = "".join(t["text"] for t in tokens)
        if "".join(joined.split()) != "".join(source.split()):
            problems.append(f"{where}: the tokens {joined!r} are not the line {source!r}")
    return problems


def golden_rows(lines: list[list[dict]]) -> list[list]:
    """[line, text, most specific scope] for every token."""
    return [[number, token["text"], token["scopes"][-1]]
            for number, tokens in enumerate(lines, 1) for token in tokens]


def golden_diff(expected: list[list], actual: list[list]) -> str:
    show = [f"{n:3} {text!r:34} {scope}" for n, text, scope in expected]
    got = [f"{n:3} {text!r:34} {scope}" for n, text, scope in actual]
    return "\n".join(difflib.unified_diff(show, got, "golden", "grammar", lineterm=""))


def write_golden(path: Path, source: str, rows: list[list]) -> None:
    """One token a line, so that a diff of the file is a diff of tokens."""
    body = ",\n".join(f"    {json.dumps(row)}" for row in rows)
    path.write_text(f'{{\n  "source": {json.dumps(source)},\n  "tokens": [\n{body}\n  ]\n}}\n',
                    encoding="utf-8")


def alternatives(regex: str) -> set[str]:
    r"""The words of a rule written `\b(?:a|b|c)\b`, with an optional lookahead after."""
    found = re.fullmatch(r"\\b\(\?:([A-Za-z0-9_|]+)\)\\b(\(\?=.*\))?", regex)
    assert found, f"not a list of words: {regex}"
    return set(found.group(1).split("|"))


def rule_named(patterns: list[dict], scope: str) -> dict:
    matches = [p for p in patterns if p.get("name") == scope]
    assert len(matches) == 1, f"one rule for {scope} expected, found {len(matches)}"
    return matches[0]


def walk(node) -> Iterator[dict]:
    """Every rule (a dict) of a grammar, nested ones and captures included."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


# -- the grammar as a file -----------------------------------------------------------------

def test_grammar_is_json_and_every_include_names_a_rule():
    g = grammar()
    assert g["scopeName"] == "source.cnn"
    repository = g["repository"]
    included = set()
    for rule in walk(g):
        target = rule.get("include")
        if target is None:
            continue
        assert target.startswith("#"), f"include {target!r}: only the grammar's own rules"
        assert target[1:] in repository, f"include {target!r} names no rule"
        included.add(target[1:])
    assert set(repository) - included == set(), "rules nothing includes"


def test_every_scope_name_ends_in_cnn():
    g = grammar()
    names = {rule["name"] for rule in walk([g["patterns"], g["repository"]])
             if isinstance(rule.get("name"), str)}
    assert names, "no scope names"
    assert {n for n in names if not n.endswith(".cnn")} == set()
    conventional = ("comment.", "keyword.", "punctuation.", "entity.", "support.", "constant.",
                    "variable.", "string.", "meta.", "invalid.")
    assert {n for n in names if not n.startswith(conventional)} == set()


def test_every_regex_compiles_with_oniguruma(node):
    assert run_tokenize(node, "--check-regexes") == []


# -- the catalogue's words -------------------------------------------------------------------

def test_step_words_are_the_catalogues():
    repository = grammar()["repository"]
    assert alternatives(repository["layer-words"]["match"]) == set(BY_WORD) - set(ACTIVATIONS)
    assert alternatives(repository["activation-words"]["match"]) == set(ACTIVATIONS)
    assert set(ACTIVATIONS) <= set(BY_WORD)  # an activation is a step too (`-> relu`)


def test_merge_words_are_the_catalogues_and_the_parsers():
    merges = alternatives(grammar()["repository"]["merge"]["begin"])
    assert merges == set(MERGE_WORDS) == set(MERGES) | {"residual"}
    lark = (ROOT / "grammar" / "cnn.lark").read_text(encoding="utf-8")
    written = re.search(r"^MERGE\.\d+: /\((.*?)\)\\b/$", lark, re.M)
    assert written, "MERGE terminal not found in grammar/cnn.lark"
    assert merges == set(written.group(1).split("|"))


def test_padding_and_flag_words_are_the_catalogues():
    """The bare words a step may take: `same`/`valid` and `causal`, and every flag word a
    layer kind accepts (`highlighting.words.flag_words`, which the lexer and completion
    use too, and which tests/test_highlighting.py holds to what the front end accepts)."""
    constants = grammar()["repository"]["constants"]["patterns"]
    paddings = alternatives(rule_named(constants, "constant.language.padding.cnn")["match"])
    flags = alternatives(rule_named(constants, "constant.language.flag.cnn")["match"])
    booleans = alternatives(rule_named(constants, "constant.language.boolean.cnn")["match"])
    assert paddings == set(PADDINGS) | {CAUSAL}
    assert paddings | flags == set(PADDINGS) | set(flag_words())
    assert paddings & flags == set()
    assert booleans == set(BOOLEANS)


def test_expression_functions_are_the_evaluators():
    body = grammar()["repository"]["expression-body"]["patterns"]
    assert alternatives(rule_named(body, "support.function.builtin.cnn")["match"]) == set(FUNCTIONS)


def test_catalogue_words_get_their_scopes_in_place(node, tmp_path):
    """Each word tokenised where it is written: a step, a fused activation, a valued
    activation, a merge, a flag, a function of `{expr}`."""
    cases = []  # (line, word, scope)
    for word in sorted(set(BY_WORD) - set(ACTIVATIONS)):
        cases.append((f"input 8x8x3 -> {word}", word, "support.function.layer.cnn"))
    for word in sorted(ACTIVATIONS):
        cases.append((f"input 8x8x3 -> {word}", word, "support.function.activation.cnn"))
        cases.append((f"input 8x8x3 -> conv 3 x8 same {word}", word,
                      "support.function.activation.cnn"))
        cases.append((f"input 8x8x3 -> {word}=0.1", word, "support.function.activation.cnn"))
    for word in sorted(MERGE_WORDS):
        cases.append((f"input 8x8x3 -> {word} {{ id | relu }}", word, "keyword.other.merge.cnn"))
    for word in sorted(set(PADDINGS) | {CAUSAL}):
        cases.append((f"input 8x8x3 -> conv 3 x8 {word}", word, "constant.language.padding.cnn"))
    for word in sorted(PAD_MODES):
        cases.append((f"input 8x8x3 -> pad 1 {word}", word, "constant.language.flag.cnn"))
    for word in sorted(FUNCTIONS):
        cases.append((f"input 8x8x3 -> conv 1 x{{{word}(8, 4)}}", word,
                      "support.function.builtin.cnn"))
    lines = tokenize_text(node, "\n".join(line for line, _, _ in cases) + "\n", tmp_path)
    wrong = []
    for (line, word, scope), tokens in zip(cases, lines):
        got = [t["scopes"][-1] for t in tokens if t["text"] == word]
        if got != [scope]:
            wrong.append(f"{line!r}: {word!r} got {got}, expected {scope}")
    assert wrong == []


# -- examples, documentation, goldens --------------------------------------------------------

def docs_programs(tmp_path: Path) -> list[Path]:
    """The ```cnn programs of docs/*.md, each written to a file."""
    files = []
    for doc in sorted((ROOT / "docs").glob("*.md")):
        blocks = re.findall(r"^```cnn\n(.*?)^```", doc.read_text(encoding="utf-8"), re.M | re.S)
        for i, block in enumerate(blocks, 1):
            path = tmp_path / f"{doc.stem}_{i}.cnn"
            path.write_text(block, encoding="utf-8")
            files.append(path)
    return files


def test_examples_and_docs_are_fully_scoped(node, tmp_path):
    examples = sorted((ROOT / "examples").glob("*.cnn"))
    docs = docs_programs(tmp_path)
    assert len(examples) >= 30 and len(docs) >= 30
    files = examples + docs + [ROOT / p for p in GOLDEN_SOURCES.values()]
    tokens = tokenize(node, files)
    problems = [p for path in files for p in coverage_problems(path, tokens[path])]
    assert problems == [], "\n".join(problems[:40])


@pytest.mark.parametrize("name", sorted(GOLDEN_SOURCES))
def test_golden_tokens(node, name):
    source = ROOT / GOLDEN_SOURCES[name]
    golden = GOLDEN / f"textmate_{name}.json"
    actual = golden_rows(tokenize(node, [source])[source])
    if UPDATE:
        write_golden(golden, GOLDEN_SOURCES[name], actual)
    expected = json.loads(golden.read_text(encoding="utf-8"))
    assert expected["source"] == GOLDEN_SOURCES[name]
    assert expected["tokens"] == actual, (
        f"{golden.name}: the grammar tokenises {source.name} differently:\n"
        + golden_diff(expected["tokens"], actual))


@pytest.mark.parametrize("name", sorted(GOLDEN_SOURCES))
def test_golden_sources_are_programs(name):
    """What the goldens show is the language: each file compiles."""
    assert cnndsl.load(ROOT / GOLDEN_SOURCES[name]).params > 0


def test_a_broken_grammar_is_caught(node, tmp_path):
    """The checks above fail when the grammar loses a word or a rule: without `maxpool`,
    the golden tokens differ; without the numbers, they are marked invalid; without the
    fallback that marks them, they have the root scope alone."""
    lesson = ROOT / GOLDEN_SOURCES["lesson"]
    expected = json.loads((GOLDEN / "textmate_lesson.json").read_text(encoding="utf-8"))

    def broken(name: str, change) -> list[list[dict]]:
        g = grammar()
        change(g["repository"])
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(g), encoding="utf-8")
        return tokenize(node, [lesson], path)[lesson]

    def without_maxpool(repository):
        rule = repository["layer-words"]
        rule["match"] = rule["match"].replace("|maxpool|", "|")

    def without(*includes):
        def change(repository):
            chain = repository["chain"]
            chain["patterns"] = [p for p in chain["patterns"] if p.get("include") not in includes]
        return change

    actual = golden_rows(broken("maxpool", without_maxpool))
    assert actual != expected["tokens"]
    assert "+  2 'maxpool'                          entity.name.function.call.cnn" in (
        golden_diff(expected["tokens"], actual).splitlines())
    assert coverage_problems(lesson, broken("maxpool", without_maxpool)) == []

    problems = coverage_problems(lesson, broken("numbers", without("#numbers")))
    assert "textmate_lesson.cnn:3: '6' is marked invalid.illegal.character.cnn" in problems

    problems = coverage_problems(lesson, broken("fallback", without("#numbers", "#invalid")))
    assert "textmate_lesson.cnn:3: '6' has only the scope ['source.cnn']" in problems


# -- the extension around the grammar ---------------------------------------------------------

def test_extension_manifest():
    manifest = json.loads((VSCODE / "package.json").read_text(encoding="utf-8"))
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    version = re.search(r'^version = "([^"]+)"', pyproject, re.M)
    assert version and manifest["version"] == version.group(1)
    assert (manifest["name"], manifest["publisher"], manifest["license"]) == (
        "cnndsl", "cnndsl", "MIT")
    assert manifest["main"] == "./extension.js" and (VSCODE / "extension.js").is_file()
    assert manifest["activationEvents"] == ["onLanguage:cnn"]
    assert "repository" not in manifest, "no address is published: package.sh says so to vsce"
    assert "vscode-languageclient" in manifest["dependencies"]
    assert {"@vscode/vsce", "vscode-textmate", "vscode-oniguruma"} <= set(
        manifest["devDependencies"])
    assert "package" in manifest["scripts"]
    contributes = manifest["contributes"]
    (language,) = contributes["languages"]
    assert language["id"] == "cnn" and language["extensions"] == [".cnn"]
    configuration = json.loads((VSCODE / language["configuration"]).read_text(encoding="utf-8"))
    (syntax,) = contributes["grammars"]
    assert syntax["language"] == "cnn" and syntax["scopeName"] == grammar()["scopeName"]
    assert (VSCODE / syntax["path"]).resolve() == GRAMMAR
    settings = contributes["configuration"]["properties"]
    assert settings["cnndsl.server.path"]["default"] == "cnndsl"
    assert settings["cnndsl.server.args"]["default"] == ["lsp"]
    assert settings["cnndsl.inlayHints.shapes"] == {**settings["cnndsl.inlayHints.shapes"],
                                                    "type": "boolean", "default": False}
    restricted = manifest["capabilities"]["untrustedWorkspaces"]["restrictedConfigurations"]
    assert set(restricted) == {"cnndsl.server.path", "cnndsl.server.args"}
    # the lock file pins what package.json asks for, for npm ci
    lock = json.loads((VSCODE / "package-lock.json").read_text(encoding="utf-8"))
    assert lock["packages"][""]["dependencies"] == manifest["dependencies"]
    assert lock["packages"][""]["devDependencies"] == manifest["devDependencies"]
    # the language configuration
    assert configuration["comments"]["lineComment"] == "#"
    assert ["{", "}"] in configuration["brackets"] and ["(", ")"] in configuration["brackets"]
    word = re.compile(configuration["wordPattern"])
    for text in ("@features", "leaky_relu", "x64", "3x3/2", "1e-3"):
        assert word.fullmatch(text), text
    ignored = (VSCODE / ".vscodeignore").read_text(encoding="utf-8").split()
    assert "test/**" in ignored and "node_modules/" in (VSCODE / ".gitignore").read_text()


def test_extension_script_is_valid_javascript(node):
    for script in (VSCODE / "extension.js", TOKENIZE):
        done = subprocess.run([node, "--check", str(script)], capture_output=True, text=True,
                              timeout=60, check=False)
        assert done.returncode == 0, done.stderr
