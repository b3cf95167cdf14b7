// The cnndsl extension's client: starts the cnndsl language server (`cnndsl lsp` by
// default) over standard input and output for `.cnn` files, and says clearly what to do
// when it cannot be started. Highlighting needs none of this: it is the TextMate grammar
// in syntaxes/, which VS Code applies by itself.
//
// Settings (package.json's `contributes.configuration`):
//   cnndsl.server.path        the command, `cnndsl` on the PATH by default
//   cnndsl.server.args        its arguments, ["lsp"] by default
//   cnndsl.inlayHints.shapes  output shapes as inlay hints; sent to the server in the
//                             initialization options ({"inlayHints": {"shapes": true}},
//                             and the same under "cnndsl") and as the workspace
//                             configuration {"cnndsl": {"inlayHints": {"shapes": true}}}
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const vscode = require('vscode');
const {
  CloseAction, ErrorAction, LanguageClient, TransportKind,
} = require('vscode-languageclient/node');

const SECTION = 'cnndsl';
const INSTALL_HINT = "install the server: pip install 'cnndsl[lsp]'";

let client = null;
let outputChannel = null;
// Starts, stops and restarts run one after another, never interleaved.
let queue = Promise.resolve();

function enqueue(task) {
  queue = queue.then(task, task);
  return queue;
}

/** What the server reads: {"inlayHints": {"shapes": bool}}, under the key `cnndsl`. */
function serverSettings() {
  const config = vscode.workspace.getConfiguration(SECTION);
  return { inlayHints: { shapes: config.get('inlayHints.shapes', false) === true } };
}

function workspaceFolder() {
  const folders = vscode.workspace.workspaceFolders;
  return folders && folders.length > 0 ? folders[0].uri.fsPath : undefined;
}

/** `~`, `${userHome}` and `${workspaceFolder}` expanded; a relative path with a
 * directory in it (`.venv/bin/cnndsl`) taken from the first workspace folder. */
function expandCommand(command) {
  const folder = workspaceFolder();
  let expanded = command.trim()
    .replace(/\$\{userHome\}/g, os.homedir())
    .replace(/\$\{workspaceFolder\}/g, folder || '');
  if (expanded === '~' || expanded.startsWith('~/') || expanded.startsWith('~\\')) {
    expanded = path.join(os.homedir(), expanded.slice(1));
  }
  const hasDirectory = expanded.includes('/') || expanded.includes('\\');
  if (hasDirectory && !path.isAbsolute(expanded) && folder) {
    expanded = path.resolve(folder, expanded);
  }
  return expanded;
}

function isExecutableFile(file) {
  try {
    if (!fs.statSync(file).isFile()) {
      return false;
    }
    if (process.platform !== 'win32') {
      fs.accessSync(file, fs.constants.X_OK);
    }
    return true;
  } catch {
    return false;
  }
}

/** The file a command runs, looked up on the PATH as a shell would; null if none. */
function findExecutable(command) {
  const extensions = process.platform === 'win32'
    ? ['', ...(process.env.PATHEXT || '.EXE;.CMD;.BAT;.COM').split(';').filter(Boolean)]
    : [''];
  const candidates = (base) => extensions.map((ext) => base + ext);
  if (command.includes('/') || command.includes('\\')) {
    return candidates(command).find(isExecutableFile) || null;
  }
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    if (dir) {
      const found = candidates(path.join(dir, command)).find(isExecutableFile);
      if (found) {
        return found;
      }
    }
  }
  return null;
}

/** The project's own virtualenv, when `cnndsl` is not on the PATH (VS Code started
 * without the virtualenv activated) and the workspace is trusted to run its programs. */
function virtualenvServer() {
  const folder = workspaceFolder();
  if (!folder || !vscode.workspace.isTrusted) {
    return null;
  }
  const bin = process.platform === 'win32' ? ['Scripts', 'cnndsl.exe'] : ['bin', 'cnndsl'];
  for (const venv of ['.venv', 'venv']) {
    const candidate = path.join(folder, venv, ...bin);
    if (isExecutableFile(candidate)) {
      return candidate;
    }
  }
  return null;
}

/** The command and arguments to start, or an explanation of why there is none. */
function resolveServer() {
  const config = vscode.workspace.getConfiguration(SECTION);
  const configured = config.get('server.path', 'cnndsl') || 'cnndsl';
  const args = config.get('server.args', ['lsp']);
  const command = expandCommand(configured);
  const found = findExecutable(command) ||
    (configured === 'cnndsl' ? virtualenvServer() : null);
  const written = [configured, ...args].join(' ');
  if (!found) {
    const where = command.includes('/') || command.includes('\\')
      ? `\`${command}\` does not exist or is not executable`
      : `\`${command}\` is not on the PATH`;
    return {
      error: `cnndsl: cannot start the language server \`${written}\`: ${where}. ` +
        `To use it, ${INSTALL_HINT} (in the environment VS Code starts it from), or set ` +
        '`cnndsl.server.path` to the full path of the `cnndsl` command (e.g. your ' +
        'virtualenv\'s `.venv/bin/cnndsl`).',
    };
  }
  return { command: found, args: Array.isArray(args) ? args.map(String) : ['lsp'], written };
}

async function explain(message) {
  const choice = await vscode.window.showErrorMessage(message, 'Open Settings', 'Show Output');
  if (choice === 'Open Settings') {
    await vscode.commands.executeCommand('workbench.action.openSettings', 'cnndsl.server');
  } else if (choice === 'Show Output' && outputChannel) {
    outputChannel.show(true);
  }
}

/** While the server starts, a failure is reported once, by `start` (with the install
 * hint), not by the client's own pop-ups; once it runs, a crash restarts it, up to 4 times
 * in 3 minutes, as the client's default handler does. */
class ErrorHandler {
  constructor() {
    this.running = false;
    this.restarts = [];
  }

  error(_error, _message, count) {
    if (!this.running) {
      return { action: ErrorAction.Shutdown, handled: true };
    }
    return { action: count && count <= 3 ? ErrorAction.Continue : ErrorAction.Shutdown };
  }

  closed() {
    if (!this.running) {
      return { action: CloseAction.DoNotRestart, handled: true };
    }
    const now = Date.now();
    this.restarts = this.restarts.filter((t) => now - t < 3 * 60 * 1000);
    this.restarts.push(now);
    if (this.restarts.length <= 4) {
      return { action: CloseAction.Restart };
    }
    return {
      action: CloseAction.DoNotRestart,
      message: 'The cnndsl language server stopped 5 times in 3 minutes and is not restarted; ' +
        'the output panel "cnndsl" shows why. Run "cnndsl: Restart Language Server" to try again.',
    };
  }
}

function createClient(server, errorHandler) {
  const serverOptions = {
    command: server.command,
    args: server.args,
    transport: TransportKind.stdio,
    options: { cwd: workspaceFolder(), env: process.env },
  };
  const clientOptions = {
    documentSelector: [
      { scheme: 'file', language: 'cnn' },
      { scheme: 'untitled', language: 'cnn' },
    ],
    outputChannel,
    errorHandler,
    initializationFailedHandler: () => false,
    // Read at every start, so a restart sends the settings of the moment: the settings
    // themselves ({"inlayHints": ...}, what cnndsl's server reads), and the same under
    // `cnndsl`, the shape of the workspace configuration.
    initializationOptions: () => ({ ...serverSettings(), [SECTION]: serverSettings() }),
    // workspace/didChangeConfiguration with {"cnndsl": {...}} whenever a setting changes.
    synchronize: { configurationSection: SECTION },
    middleware: {
      workspace: {
        // workspace/configuration: the `cnndsl` section as VS Code has it; asked for
        // without a section, {"cnndsl": {"inlayHints": {...}}} rather than every setting.
        configuration: async (params, token, next) => {
          const answers = await next(params, token);
          if (!Array.isArray(answers)) {
            return answers;
          }
          return params.items.map((item, i) => (item.section ? answers[i] : { [SECTION]: serverSettings() }));
        },
      },
    },
  };
  return new LanguageClient('cnndsl', 'cnndsl language server', serverOptions, clientOptions);
}

async function start() {
  const server = resolveServer();
  if (server.error) {
    outputChannel.appendLine(server.error);
    void explain(server.error);
    return;
  }
  outputChannel.appendLine(`starting the language server: ${server.command} ${server.args.join(' ')}`);
  const errorHandler = new ErrorHandler();
  const candidate = createClient(server, errorHandler);
  try {
    await candidate.start();
    // start() resolves, rather than rejects, when the server exits while starting (an
    // older cnndsl without the `lsp` command does, with a usage error).
    if (!candidate.isRunning()) {
      throw new Error('the server exited while starting');
    }
    errorHandler.running = true;
    client = candidate;
  } catch (error) {
    const reason = error && error.message ? error.message : String(error);
    const message = `cnndsl: the language server \`${server.written}\` did not start (${reason}). ` +
      `If this cnndsl has no language server, ${INSTALL_HINT}; the output panel "cnndsl" ` +
      'shows what the server said.';
    outputChannel.appendLine(message);
    try {
      await candidate.dispose();
    } catch {
      // already stopped
    }
    void explain(message);
  }
}

async function stop() {
  const running = client;
  client = null;
  if (running) {
    try {
      await running.stop();
    } catch (error) {
      outputChannel.appendLine(`stopping the language server: ${error && error.message ? error.message : error}`);
    }
  }
}

function activate(context) {
  outputChannel = vscode.window.createOutputChannel('cnndsl');
  context.subscriptions.push(outputChannel);
  context.subscriptions.push(vscode.commands.registerCommand('cnndsl.restartServer',
    () => enqueue(async () => { await stop(); await start(); })));
  context.subscriptions.push(vscode.workspace.onDidChangeConfiguration((event) => {
    if (event.affectsConfiguration(`${SECTION}.server`)) {
      void enqueue(async () => { await stop(); await start(); });
    }
  }));
  context.subscriptions.push(vscode.workspace.onDidGrantWorkspaceTrust(() => {
    if (!client) {
      void enqueue(start);
    }
  }));
  // Not awaited: activation does not wait for the server to answer.
  void enqueue(start);
}

function deactivate() {
  return enqueue(stop);
}

module.exports = { activate, deactivate, resolveServer, expandCommand, findExecutable };
