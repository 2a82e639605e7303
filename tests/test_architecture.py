"""The package's shape, as the team's standards state it: no import cycles (deferred
imports included), no function over 60 lines, no module over 500, and no name-string
dispatch on layer kinds outside inception_dsl/ops/, comparisons with named ops only where
an allow-list says, and each op's declared facts checked against its shape rule."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import networkx as nx
import pytest

from inception_dsl import ops
from inception_dsl.ir import Op
from inception_dsl.core.shapes import Tokens
from inception_dsl.core.diagnostics import DiagnosticSink
from inception_dsl.core.signatures import REQUIRED
from inception_dsl.language.parse import parse
from inception_dsl.core.source import SourceFile
from inception_dsl.ops.base import PROBE_CHANNELS, run_shapes

PACKAGE = Path(__file__).resolve().parent.parent / "inception_dsl"
MAX_FUNCTION_LINES, MAX_MODULE_LINES = 60, 500


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, child.end_lineno + 1))
    return lines


def import_graph() -> nx.DiGraph:
    """Module -> module for every import in the package, deferred (in-function) ones
    included, `if TYPE_CHECKING:` ones excluded (they never run)."""
    modules = _modules()
    graph = nx.DiGraph()
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        skip = _type_checking_lines(tree)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(tree):
            if getattr(node, "lineno", None) in skip:
                continue
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            for target in targets:
                if target in modules and target != name:
                    graph.add_edge(name, target)
    return graph


def test_the_import_graph_sees_the_package():
    graph = import_graph()
    assert graph.has_edge("inception_dsl.language.elaborate", "inception_dsl.ops")
    assert graph.has_edge("inception_dsl.runtime.optimized_module", "inception_dsl.runtime.module")


def test_no_import_cycles():
    cycles = list(nx.simple_cycles(import_graph()))
    assert cycles == [], "import cycles: " + "; ".join(" -> ".join(c + c[:1]) for c in cycles[:5])


# The layers, bottom-up: a module imports only modules of its own layer or of layers
# below it (deferred imports included). The most specific prefix decides.
LAYERS = (
    ("core", ("inception_dsl.core",)),
    ("ir", ("inception_dsl.ir",)),
    ("ops", ("inception_dsl.ops",)),
    ("passes", ("inception_dsl.passes",)),
    ("front end", ("inception_dsl.language",)),
    ("backends", ("inception_dsl.backends",)),
    ("notebook display", ("inception_dsl.notebook",)),
    ("api", ("inception_dsl.api",)),
    ("runtime", ("inception_dsl.runtime", "inception_dsl.timm")),
    ("tools", ("inception_dsl.study", "inception_dsl.lint", "inception_dsl.lsp", "inception_dsl.pygments_lexer",
               "inception_dsl.decompiler")),
    ("commands", ("inception_dsl.commands",)),
    ("entry points", ("inception_dsl", "inception_dsl.cli", "inception_dsl.__main__")),
)


def layer_of(module: str) -> int:
    best, rank = "", None
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > len(best):
                best, rank = prefix, index
    assert rank is not None, f"{module} has no layer in tests/test_architecture.py's LAYERS"
    return rank


def upward_imports(graph: nx.DiGraph) -> list[str]:
    return sorted(f"{a} ({LAYERS[layer_of(a)][0]}) -> {b} ({LAYERS[layer_of(b)][0]})"
                  for a, b in graph.edges if layer_of(a) < layer_of(b))


def test_every_module_has_a_layer():
    for name in _modules():
        layer_of(name)


def test_no_import_runs_from_a_lower_layer_to_a_higher_one():
    assert upward_imports(import_graph()) == []


def test_an_upward_import_would_be_found():
    graph = import_graph()
    graph.add_edge("inception_dsl.ops.conv", "inception_dsl.backends.python.prelude")
    assert upward_imports(graph) == ["inception_dsl.ops.conv (ops) -> inception_dsl.backends.python.prelude (backends)"]


def test_a_cycle_would_be_found(tmp_path):
    graph = import_graph()
    graph.add_edge("inception_dsl.ops", "inception_dsl.language.elaborate")
    assert list(nx.simple_cycles(graph))


# a distribution's import name, where it differs from its name
IMPORT_NAMES = {"pyyaml": "yaml"}


def test_every_declared_dependency_is_imported():
    """A runtime dependency of pyproject.toml that no module of the package imports is a
    dependency for nothing (tests' own needs go in the `test` extra)."""
    text = (PACKAGE.parent / "pyproject.toml").read_text()
    block = re.search(r"^dependencies = \[(.*?)^\]", text, re.S | re.M).group(1)
    declared = [re.match(r"[A-Za-z0-9_.-]+", line.strip().strip('"')).group(0).lower()
                for line in block.splitlines() if line.strip().startswith('"')]
    imported = set()
    for path in _modules().values():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                imported.add(node.module.split(".")[0])
    assert declared and [d for d in declared if IMPORT_NAMES.get(d, d) not in imported] == []


def test_functions_and_modules_are_short():
    too_long = []
    for name, path in _modules().items():
        text = path.read_text()
        if len(text.splitlines()) > MAX_MODULE_LINES:
            too_long.append(f"module {name}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{name}.{node.name}: {length} lines")
    assert too_long == []


def test_no_layer_name_dispatch_outside_ops():
    """`== "avgpool"`, `in ("conv", ...)`, `.name == "bn"`: what a layer means is asked of
    its op (inception_dsl/ops/), never decided by comparing its name."""
    keywords = {"input", "output", "concat"}  # also statement keywords and contexts of the language
    words = sorted((set(ops.LAYERS) | {kind.value for kind in Op}) - keywords, key=len, reverse=True)
    alternatives = "|".join(re.escape(w) for w in words)
    subject = r"\b(name|value|kind|op|layer)\b[\]\)'\"]*"  # call.name, op.value, attrs["kind"], ...
    compare = re.compile(rf"""{subject}\s*(==|!=|\bin\b|\bnot in\b)\s*[\(\[\{{]?\s*["']({alternatives})["']""")
    found = []
    for name, path in _modules().items():
        if name.startswith("inception_dsl.ops"):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if compare.search(line):
                found.append(f"{path.relative_to(PACKAGE.parent)}:{number}: {line.strip()}")
    assert found == [], "\n".join(found)


def test_every_layer_word_and_op_is_complete():
    for definition in ops.LAYERS.values():
        assert definition.sig.name == definition.name and callable(definition.elaborate) and callable(definition.source)
    for kind in Op:
        assert kind.name == kind.value.upper() and Op.__getattr__(kind.name) is kind
        if kind.has_weights:
            assert kind.weights is not None and callable(kind.module)


def _names_used(tree: ast.Module) -> set[str]:
    """Names read anywhere, string annotations (`"Mapping[str, str]"`) included."""
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    for node in ast.walk(tree):
        annotations = [getattr(node, "annotation", None), getattr(node, "returns", None)]
        for annotation in annotations:
            if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
                used |= {n.id for n in ast.walk(ast.parse(annotation.value, mode="eval")) if isinstance(n, ast.Name)}
    return used


def test_no_unused_imports():
    """A name imported at module level is used in the module (or exported by `__all__`)."""
    unused = []
    for name, path in _modules().items():
        if path.name == "__init__.py":
            continue
        tree = ast.parse(path.read_text())
        used = _names_used(tree)
        exported = set()
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
                exported = {e.value for e in node.value.elts if isinstance(e, ast.Constant)}
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)) and getattr(node, "module", "") != "__future__":
                for alias in node.names:
                    bound = (alias.asname or alias.name).split(".")[0]
                    if bound not in used and bound not in exported:
                        unused.append(f"{name}:{node.lineno}: {bound}")
    assert unused == []


# What a pass, lint or a backend asks of an op is a trait or a fact on it (ops/base.py); a
# comparison with one named op (`node.op is Op.BN`) is left only where the code is about
# that op itself. The most each module (by its file name) may still hold; lower it when
# you remove one, never raise it for a new one: give the op a trait instead.
OP_DISPATCH_ALLOWED = {
    "rules": 20,  # lint: each rule is about an arrangement of particular ops
    "forward": 6, "check": 4, "diff": 5, "fold_layer_scale": 3, "fuse_sibling_convs": 2, "drawing": 2,
    "model_api": 2, "summary": 2, "instances": 2, "dot": 1, "source": 1, "fold_bn": 1, "drop_aux_heads": 1,
    "fold_residual_scale": 1,
}


def _op_comparisons(tree: ast.Module) -> int:
    """`x is Op.X`, `x in (Op.X, Op.Y)`, `Op.X == y`: comparisons with a named op."""
    def named_ops(node) -> int:
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "Op":
            return 1
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            return sum(named_ops(item) for item in node.elts)
        return 0
    return sum(named_ops(side) for node in ast.walk(tree) if isinstance(node, ast.Compare)
               for side in [node.left, *node.comparators])


def test_no_op_identity_dispatch_beyond_the_allow_list():
    found = {}
    for name, path in _modules().items():
        if name.startswith("inception_dsl.ops") or name == "inception_dsl.ir":
            continue
        count = _op_comparisons(ast.parse(path.read_text()))
        if count > OP_DISPATCH_ALLOWED.get(path.stem, 0):
            found[str(path.relative_to(PACKAGE.parent))] = count
    assert found == {}, f"comparisons with a named op (ask a trait, ops/base.py): {found}"


def test_the_dispatch_count_sees_comparisons():
    tree = ast.parse("a = node.op is Op.BN or op in (Op.CONV, Op.LINEAR)\nb = Node('x', Op.CONV, {})")
    assert _op_comparisons(tree) == 3


def _probe_shape(definition):
    """The shape the word's example leaves from a probe input (spatial, flat, else tokens), or None."""
    text = f"network n {{ input 8x8x8\n {definition.sig.example or definition.name} }}"
    module = parse(SourceFile("<example>", text), DiagnosticSink())
    call = module.definitions[0].body[-1].op
    nodes = definition.lower(call, {})
    assert nodes, f"{definition.name}: its example does not lower"
    for shape in [(PROBE_CHANNELS, 12, 12), (PROBE_CHANNELS,), Tokens(PROBE_CHANNELS, 196, (14, 14)),
                  Tokens(PROBE_CHANNELS, 49, (7, 7), 0, 4)]:  # the last: to_patches(2x2)'s, folded
        out = run_shapes(nodes, shape)
        if out is not None:
            return shape, out
    raise AssertionError(f"{definition.name}: no probe input fits its shape rule")


@pytest.mark.parametrize("word", sorted(ops.LAYERS))
def test_each_word_declares_what_its_shape_rule_does(word):
    """`keeps_channels` (asked by the standalone source) agrees with the shape rules of the
    nodes the word's example lowers to; a word with a required parameter has an example."""
    definition = ops.LAYERS[word]
    if any(value is REQUIRED for value in definition.sig.keywords.values()):
        assert definition.sig.example, f"{word}: a word with a required parameter needs an example"
    before, after = _probe_shape(definition)
    assert definition.keeps_channels == (after[0] == before[0]), \
        f"{word}: keeps_channels={definition.keeps_channels}, but its shape rule makes {before} into {after}"


@pytest.mark.parametrize("kind", sorted(Op, key=lambda k: k.value), ids=lambda k: k.value)
def test_each_op_trait_fits_its_schema(kind):
    if kind.sliding:
        assert {"kernel", "stride", "padding"} <= set(kind.attrs), f"{kind.value}: sliding without a window"
    if kind.weight_scale is not None:
        assert kind.weight_scale in ("rows", "transposed") and kind.has_weights and "bias" in kind.attrs
    if kind.call is not None:
        assert kind.arity == (1, 1), f"{kind.value}: `call` renders a one-input op"
