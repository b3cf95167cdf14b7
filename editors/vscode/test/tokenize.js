#!/usr/bin/env node
// Tokenise .cnn files with the extension's TextMate grammar, exactly as VS Code does
// (vscode-textmate on the Oniguruma regex engine compiled to WebAssembly), and print
// what each token is:
//
//   node test/tokenize.js [--grammar PATH] FILE...
//   node test/tokenize.js [--grammar PATH] --check-regexes
//
// prints a JSON list with, for each FILE, {"file": FILE, "lines": [[token, ...], ...]},
// one list per line of the file, each token {"text": ..., "scopes": [...]} from the root
// scope `source.cnn` to the most specific one. Tokens that are only whitespace are left
// out. `--grammar` tokenises with another grammar file (tests/test_textmate.py checks that
// a broken grammar is caught). `--check-regexes` compiles every regular expression of the
// grammar with Oniguruma, those no file reaches too, and prints a JSON list of the ones
// that do not compile, each {"key": "match", "regex": ..., "error": ...}. Exit status 2 on
// a usage or loading error.
'use strict';

const fs = require('fs');
const path = require('path');
const vsctm = require('vscode-textmate');
const oniguruma = require('vscode-oniguruma');

const HERE = __dirname;
const DEFAULT_GRAMMAR = path.join(HERE, '..', 'syntaxes', 'cnn.tmLanguage.json');
const SCOPE = 'source.cnn';
const USAGE = 'usage: node test/tokenize.js [--grammar PATH] (FILE... | --check-regexes)';

function parseArgs(argv) {
  const files = [];
  let grammar = DEFAULT_GRAMMAR;
  let checkRegexes = false;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--check-regexes') {
      checkRegexes = true;
    } else if (argv[i] === '--grammar') {
      grammar = argv[++i];
      if (grammar === undefined) {
        throw new Error('--grammar needs a path');
      }
    } else if (argv[i] === '-h' || argv[i] === '--help') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else {
      files.push(argv[i]);
    }
  }
  if (files.length === 0 && !checkRegexes) {
    throw new Error(USAGE);
  }
  return { files, grammar, checkRegexes };
}

async function loadOniguruma() {
  const wasmPath = require.resolve('vscode-oniguruma/release/onig.wasm');
  const wasm = fs.readFileSync(wasmPath);
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
}

/** Every regular expression of a raw grammar (`match`, `begin`, `end`, `while`), compiled
 * alone; the ones that fail, with Oniguruma's message. An `end` or `while` that refers
 * to its `begin`'s captures (`\1`) is only compiled once they are filled in, so it is
 * skipped. */
function checkRegexes(grammarPath) {
  const raw = JSON.parse(fs.readFileSync(grammarPath, 'utf8'));
  const failures = [];
  const visit = (node) => {
    if (Array.isArray(node)) {
      node.forEach(visit);
      return;
    }
    if (node === null || typeof node !== 'object') {
      return;
    }
    for (const key of ['match', 'begin', 'end', 'while']) {
      const regex = node[key];
      if (typeof regex !== 'string' || ((key === 'end' || key === 'while') && /\\[0-9]/.test(regex))) {
        continue;
      }
      try {
        const scanner = new oniguruma.OnigScanner([regex]);
        scanner.dispose();
      } catch (error) {
        failures.push({ key, regex, error: String(error && error.message ? error.message : error) });
      }
    }
    Object.values(node).forEach(visit);
  };
  visit(raw);
  return failures;
}

async function loadGrammar(grammarPath) {
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (text) => new oniguruma.OnigString(text),
    }),
    loadGrammar: async (scopeName) => {
      if (scopeName !== SCOPE) {
        return null;
      }
      const text = fs.readFileSync(grammarPath, 'utf8');
      return vsctm.parseRawGrammar(text, grammarPath);
    },
  });
  const grammar = await registry.loadGrammar(SCOPE);
  if (!grammar) {
    throw new Error(`no grammar for ${SCOPE} in ${grammarPath}`);
  }
  return grammar;
}

function tokenizeText(grammar, text) {
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/);
  let stack = vsctm.INITIAL;
  const result = [];
  for (const line of lines) {
    const { tokens, ruleStack } = grammar.tokenizeLine(line, stack);
    stack = ruleStack;
    const kept = [];
    for (const token of tokens) {
      const piece = line.substring(token.startIndex, Math.min(token.endIndex, line.length));
      if (piece.trim() !== '') {
        kept.push({ text: piece, scopes: token.scopes });
      }
    }
    result.push(kept);
  }
  return result;
}

async function main() {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  await loadOniguruma();
  if (args.checkRegexes) {
    process.stdout.write(`${JSON.stringify(checkRegexes(args.grammar))}\n`);
    return;
  }
  const grammar = await loadGrammar(args.grammar);
  const out = args.files.map((file) => ({
    file,
    lines: tokenizeText(grammar, fs.readFileSync(file, 'utf8')),
  }));
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().catch((error) => {
  process.stderr.write(`tokenize.js: ${error && error.stack ? error.stack : error}\n`);
  process.exit(2);
});
