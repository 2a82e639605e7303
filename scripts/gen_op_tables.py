"""The op tables of the docs and the editors' word lists, generated from the op registry
(inception_dsl/ops/): each layer word's signature, summary, example, standalone module,
state_dict keys and diagram box are computed by the code that builds them, so a new op
module appears everywhere without an edit. scripts/gen_docs.py writes them (and checks
them with --check); each lives between markers in its file:

    <!-- begin: generated op table NAME (scripts/gen_docs.py); do not edit -->
    ...
    <!-- end: generated op table NAME -->
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from inception_dsl import ops
from inception_dsl.core.shapes import Tokens
from inception_dsl.core.python_exprs import LayerContext
from inception_dsl.backends.python.layer_source import layer_code
from inception_dsl.ir import Op
from inception_dsl.core import syntax
from inception_dsl.core.diagnostics import DiagnosticSink
from inception_dsl.core.signatures import SETTINGS
from inception_dsl.language.parse import parse
from inception_dsl.core.source import SourceFile
from inception_dsl.lsp.signatures import layer_signature

ROOT = Path(__file__).resolve().parent.parent
IN_CHANNELS = 16


def _example(word: str) -> str:
    return ops.LAYERS[word].sig.example or word


def _call(text: str) -> syntax.Call:
    module = parse(SourceFile("<example>", f"network n {{ input 16x16x16\n {text} }}"), DiagnosticSink())
    return next(s.op for s in module.definitions[0].body if isinstance(s, syntax.Labeled))


def _nodes(word: str) -> list:
    return ops.LAYERS[word].lower(_call(_example(word)), {}) or []


def _code(text: str) -> str:
    return text.replace("|", "\\|")


def language_table() -> list[str]:
    rows = ["| layer | example | what it is | op module |", "|---|---|---|---|"]
    for word, definition in ops.LAYERS.items():
        what = definition.sig.summary + (f". {definition.doc}" if definition.doc else "")
        example = f"`{definition.sig.example}`" if definition.sig.example else ""
        signature = layer_signature(word)
        shown = signature.label() if signature.params or signature.flags else word
        rows.append(f"| `{shown}` | {example} | {what} | "
                    f"`ops/{ops.WORD_HOME[word]}.py` |")
    return rows


def _keys(nodes) -> str:
    keys = [f"`X{'.' + node.id if node.id != 'node' else ''}.{key}`"
            for node in nodes for key in node.op.weights(node)]
    return ", ".join(keys) or "none"


def backend_table() -> list[str]:
    rows = [f"| spec (in {IN_CHANNELS} channels) | module in the standalone file | state_dict keys |", "|---|---|---|"]
    # a token layer's sizes come from shape inference: shown for 196 patch tokens of a 14x14 grid after a class token
    ctx = LayerContext({}, {}, SETTINGS, lambda call: 1, lambda call: {Tokens(IN_CHANNELS, 197, (14, 14), 1)})
    for word in ops.LAYERS:
        ctor = layer_code(_call(_example(word)), IN_CHANNELS, ctx).ctor
        rows.append(f"| `{_code(_example(word))}` | `{_code(ctor)}` | {_keys(_nodes(word))} |")
    return rows


def render_table() -> list[str]:
    rows = ["| spec | box |", "|---|---|"]
    for word in ops.LAYERS:
        nodes = _nodes(word)
        if nodes:
            label = nodes[0].op.label(nodes[0], nodes[1:]).replace("\n", " ")
            rows.append(f"| `{_code(_example(word))}` | `{_code(label)}` |")
    return rows


def ir_table() -> list[str]:
    rows = ["| op | attributes | inputs | what it is | op module |", "|---|---|---|---|---|"]
    for kind in Op:
        attrs = ", ".join(f"`{name}`" for name in kind.attrs) or "—"
        low, high = kind.arity
        arity = str(low) if low == high else f"{low}+" if high is None else f"{low}-{high}"
        rows.append(f"| `{kind.value}` | {attrs} | {arity} | {kind.doc} | `ops/{ops.OP_HOME[kind.value]}.py` |")
    return rows


def ops_table() -> list[str]:
    homes = dict.fromkeys([*ops.OP_HOME.values(), *ops.WORD_HOME.values()])
    rows = ["| file | layer words | IR ops |", "|---|---|---|"]
    for home in homes:
        words = ", ".join(f"`{w}`" for w, h in ops.WORD_HOME.items() if h == home) or "—"
        kinds = ", ".join(f"`{k}`" for k, h in ops.OP_HOME.items() if h == home) or "—"
        rows.append(f"| `{home}.py` | {words} | {kinds} |")
    return rows


TABLES = {
    "docs/language.md": {"layers": language_table},
    "docs/backend.md": {"modules": backend_table},
    "docs/render.md": {"boxes": render_table},
    "docs/architecture.md": {"ops": ops_table, "ir": ir_table},
}


def _replace(text: str, name: str, rows: list[str], path: str) -> str:
    begin = f"<!-- begin: generated op table {name} (scripts/gen_docs.py); do not edit -->"
    end = f"<!-- end: generated op table {name} -->"
    if begin not in text or end not in text:
        raise SystemExit(f"{path}: the markers of the generated table {name!r} are missing")
    return text[:text.index(begin)] + begin + "\n\n" + "\n".join(rows) + "\n\n" + text[text.index(end):]


def lexer_text(current: str) -> str:
    """pygments_lexer.py with LAYER_NAMES as the registry has them."""
    names = ", ".join(f'"{w}"' for w in ops.LAYERS)
    lines, line = [], "LAYER_NAMES = ("
    for word in names.split(", "):
        if len(line) + len(word) + 2 > 110:
            lines.append(line.rstrip())
            line = "               "
        line += word + ", "
    lines.append(line.rstrip(", ") + ")")
    return re.sub(r"LAYER_NAMES = \((?:[^)]*)\)", lambda m: "\n".join(lines), current, count=1)


def textmate_text(current: str) -> str:
    """The TextMate grammar with its `layer` pattern matching every registered word."""
    match = json.dumps("\\b(?:" + "|".join(ops.LAYERS) + ")\\b")
    return re.sub(r'("layer": \{\s*"name": "[^"]*",\s*"match": )"(?:[^"\\]|\\.)*"',
                  lambda m: m.group(1) + match, current, count=1)


def generated() -> dict[Path, str]:
    """Every file this module writes, with its generated content."""
    out = {}
    for path, tables in TABLES.items():
        text = (ROOT / path).read_text(encoding="utf-8")
        for name, rows in tables.items():
            text = _replace(text, name, rows(), path)
        out[ROOT / path] = text
    lexer = ROOT / "inception_dsl" / "pygments_lexer.py"
    out[lexer] = lexer_text(lexer.read_text(encoding="utf-8"))
    grammar = ROOT / "editors" / "incp.tmLanguage.json"
    out[grammar] = textmate_text(grammar.read_text(encoding="utf-8"))
    return out
