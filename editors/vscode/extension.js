// The VS Code client: starts `inception-dsl lsp` (the command is a setting) and connects
// it to .incp documents. Everything the editor shows comes from the server.
"use strict";

const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function serverOptions() {
  const config = vscode.workspace.getConfiguration("inception-dsl");
  const [command, ...args] = config.get("server.command", ["inception-dsl", "lsp"]);
  return { command, args };
}

async function activate(context) {
  const config = vscode.workspace.getConfiguration("inception-dsl");
  client = new LanguageClient("inception-dsl", "Inception DSL", serverOptions(), {
    documentSelector: [
      { scheme: "file", language: "incp" },
      { scheme: "untitled", language: "incp" },
    ],
    initializationOptions: { inlayHints: { shapes: config.get("inlayHints.shapes", false) } },
    synchronize: { configurationSection: "inception-dsl" },
  });
  context.subscriptions.push(
    vscode.commands.registerCommand("inception-dsl.restart", () => client.restart())
  );
  await client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
