#!/usr/bin/env bash
# Package the VS Code extension as cnndsl-<version>.vsix in this folder, from a fresh
# clone: the locked node modules (npm ci), then vsce. Nothing is published; the only
# network use is npm ci's download of the modules package-lock.json pins.
#
#   editors/vscode/package.sh          ->  editors/vscode/cnndsl-0.1.0.vsix
#
# Install the result with `code --install-extension editors/vscode/cnndsl-0.1.0.vsix`.
set -euo pipefail
cd "$(dirname "$0")"

command -v npm >/dev/null 2>&1 || { echo "package.sh: npm is needed (Node.js 20 or newer)" >&2; exit 1; }
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' \
    || { echo "package.sh: Node.js 20 or newer is needed (vsce), this is $(node --version)" >&2; exit 1; }

version="$(node -p "require('./package.json').version")"
out="cnndsl-${version}.vsix"

# --ignore-scripts: no module needs an install script to package (vsce's optional signing
# tool has one, for `vsce sign` only); npm 11 asks before running any.
npm ci --ignore-scripts --no-audit --no-fund
rm -f "$out"
# The project publishes no repository address yet; vsce would stop to ask for one.
npx --no-install vsce package --allow-missing-repository --out "$out"
echo "package.sh: wrote $(pwd)/$out"
