#!/usr/bin/env node
// Render a Markdown docs page to a standalone HTML page whose ```cnn fences are coloured
// as VS Code colours a .cnn file: by the extension's TextMate grammar
// (../syntaxes/cnn.tmLanguage.json, loaded into shiki as the custom language `cnn`) and a
// real VS Code colour theme, through shiki, which runs VS Code's own engine
// (vscode-textmate on the Oniguruma regex engine compiled to WebAssembly):
//
//   node test/render.mjs INPUT.md OUTPUT.html [--theme dark-plus|light-plus] [--plain]
//
// The theme is Dark+ (VS Code's default dark theme, shiki's `dark-plus`) unless told.
// Other fences (a shell session, an error message, no language) are drawn in the same
// boxes in the theme's plain foreground colour. `--plain` draws the ```cnn fences plain
// too: the page as it would look without the grammar, which tests/test_vscode_render.py
// uses to show that the colours it finds come from the grammar. Prints one line of JSON:
// {"theme": ..., "cnn_blocks": N, "other_blocks": M, "plain": bool}. Exit status 2 on a
// usage or loading error.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import MarkdownIt from 'markdown-it';
import { createHighlighterCore } from 'shiki/core';
import { createOnigurumaEngine } from 'shiki/engine/oniguruma';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const GRAMMAR = path.join(HERE, '..', 'syntaxes', 'cnn.tmLanguage.json');
const THEMES = {
  'dark-plus': () => import('shiki/themes/dark-plus.mjs'),
  'light-plus': () => import('shiki/themes/light-plus.mjs'),
};
const USAGE = 'usage: node test/render.mjs INPUT.md OUTPUT.html '
  + `[--theme ${Object.keys(THEMES).join('|')}] [--plain]`;

function parseArgs(argv) {
  const files = [];
  let theme = 'dark-plus';
  let plain = false;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--theme') {
      theme = argv[++i];
      if (!(theme in THEMES)) {
        throw new Error(`--theme must be one of ${Object.keys(THEMES).join(', ')}`);
      }
    } else if (argv[i] === '--plain') {
      plain = true;
    } else if (argv[i] === '-h' || argv[i] === '--help') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else {
      files.push(argv[i]);
    }
  }
  if (files.length !== 2) {
    throw new Error(USAGE);
  }
  return { input: files[0], output: files[1], theme, plain };
}

/** The grammar as a shiki language registration: the raw TextMate grammar, named. */
function cnnLanguage() {
  const grammar = JSON.parse(fs.readFileSync(GRAMMAR, 'utf8'));
  return { ...grammar, name: 'cnn', scopeName: grammar.scopeName || 'source.cnn' };
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens,
 * `-1`, `-2`, ... on repeats; so the page's own links (`#output-sizes`) work and a test can
 * open the page at a section. */
function addHeadingIds(md) {
  md.core.ruler.push('heading_ids', (state) => {
    const seen = new Map();
    state.tokens.forEach((token, i) => {
      if (token.type !== 'heading_open') {
        return;
      }
      const text = state.tokens[i + 1].children.map((child) => child.content).join('');
      const base = text.toLowerCase().trim().replace(/[^\p{L}\p{N}\s_-]/gu, '')
        .replace(/\s/g, '-');
      const count = seen.get(base) || 0;
      seen.set(base, count + 1);
      token.attrSet('id', count ? `${base}-${count}` : base);
    });
  });
}

function escapeHtml(text) {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

// A docs site: light page, readable measure, code in boxes of the theme's own background.
const CSS = `
*, *::before, *::after { box-sizing: border-box; }
body { margin: 0; background: #ffffff; color: #1f2328;
  font: 16px/1.6 -apple-system, "Segoe UI", "Noto Sans", "DejaVu Sans", Helvetica, Arial,
    sans-serif; }
header.site { border-bottom: 1px solid #d0d7de; background: #f6f8fa; padding: 10px 24px;
  font-size: 14px; color: #59636e; }
header.site b { color: #1f2328; }
main { max-width: 880px; margin: 0 auto; padding: 8px 24px 48px; }
h1, h2, h3, h4 { line-height: 1.25; margin: 1.6em 0 0.6em; font-weight: 600; }
h1 { font-size: 2em; padding-bottom: 0.3em; border-bottom: 1px solid #d0d7de; }
h2 { font-size: 1.5em; padding-bottom: 0.3em; border-bottom: 1px solid #d0d7de; }
h3 { font-size: 1.25em; }
p, ul, ol, table, pre { margin: 0 0 16px; }
a { color: #0969da; text-decoration: none; }
code { font-family: "DejaVu Sans Mono", Menlo, Consolas, "Liberation Mono", monospace; }
:not(pre) > code { font-size: 85%; padding: 0.2em 0.4em; border-radius: 6px;
  background: #eff1f3; }
pre { font-size: 14px; line-height: 1.5; padding: 14px 16px; border-radius: 6px;
  border: 1px solid #d0d7de; overflow-x: auto; }
pre code { font-size: inherit; }
table { border-collapse: collapse; display: block; overflow-x: auto; font-size: 14px; }
th, td { border: 1px solid #d0d7de; padding: 4px 10px; text-align: left; vertical-align: top; }
tr:nth-child(2n) td { background: #f6f8fa; }
blockquote { margin: 0 0 16px; padding: 0 1em; color: #59636e;
  border-left: 0.25em solid #d0d7de; }
`;

async function main() {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  const highlighter = await createHighlighterCore({
    themes: [THEMES[args.theme]()],
    langs: [cnnLanguage()],
    engine: createOnigurumaEngine(import('shiki/wasm')),
  });
  const counts = { cnn: 0, other: 0 };
  const md = new MarkdownIt('default', {
    html: false,
    // markdown-it takes a result that starts with <pre as the whole block.
    highlight: (code, lang) => {
      const isCnn = lang === 'cnn';
      counts[isCnn ? 'cnn' : 'other'] += 1;
      const html = highlighter.codeToHtml(code.replace(/\n$/, ''), {
        lang: isCnn && !args.plain ? 'cnn' : 'text',
        theme: args.theme,
      });
      return isCnn ? html.replace('<pre class="shiki ', '<pre class="shiki language-cnn ') : html;
    },
  });
  addHeadingIds(md);
  const text = fs.readFileSync(args.input, 'utf8');
  const body = md.render(text);
  const heading = /^#\s+(.+)$/m.exec(text);
  const title = heading ? heading[1].replace(/`/g, '') : path.basename(args.input);
  const name = path.basename(args.input);
  const page = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>${escapeHtml(title)}</title>
<style>${CSS}</style></head>
<body>
<header class="site"><b>cnndsl docs</b> / ${escapeHtml(name)}
 &middot; code coloured by the VS Code grammar, theme ${escapeHtml(args.theme)}${args.plain ? ' (cnn fences left plain)' : ''}</header>
<main>
${body}</main>
</body></html>
`;
  fs.writeFileSync(args.output, page, 'utf8');
  highlighter.dispose();
  process.stdout.write(`${JSON.stringify({
    theme: args.theme, cnn_blocks: counts.cnn, other_blocks: counts.other, plain: args.plain,
  })}\n`);
}

main().catch((error) => {
  process.stderr.write(`render.mjs: ${error && error.stack ? error.stack : error}\n`);
  process.exit(2);
});
