"""The IR's text form and contract: fixtures in tests/cases/ir/ (sqlglot optimizer-fixture
style) pin what each construct elaborates into and what each optimizer pass makes of it;
`ir.verify` raises InternalError on a malformed graph; `check --emit ir` prints the dump."""

from __future__ import annotations

import subprocess
import sys

import pytest

from inception_dsl import api, ir
from inception_dsl.ir import InternalError, Node, Op, Role, StatementKind, dump, verify
from inception_dsl.ops import OP_HOME
from inception_dsl.passes.rewrites.pipeline import RULES, optimize, rule_names

from .conftest import CASES, ROOT

IR_CASES = CASES / "ir"
ELABORATE = sorted((IR_CASES / "elaborate").glob("*.incp"))
PASSES = sorted((IR_CASES / "passes").glob("*.incp"))


def _graph(path):
    result = api.analyze(path)
    assert result.ok, [d.message for d in result.diagnostics]
    return result.graph


def _dump(graph) -> str:
    return dump(graph, relative_to=str(IR_CASES))


@pytest.mark.parametrize("spec", ELABORATE, ids=lambda p: p.stem)
def test_elaboration_fixture(spec, golden):
    golden(spec.with_suffix(".ir.golden"), _dump(_graph(spec)))


@pytest.mark.parametrize("spec", PASSES, ids=lambda p: p.stem)
def test_pass_fixture(spec, golden):
    """The input IR, then the IR after each pass applied alone, then after all of them."""
    graph = _graph(spec)
    sections = [f"# input\n{_dump(graph)}"]
    for rule in RULES:
        sections.append(f"# after {rule.__name__}\n{_dump(optimize(graph, (rule,))[0])}")
    sections.append(f"# after {', '.join(rule_names())}\n{_dump(optimize(graph)[0])}")
    golden(spec.with_suffix(".ir.golden"), "\n".join(sections))


def test_every_pass_changes_the_pass_fixture():
    graph = _graph(IR_CASES / "passes" / "all.incp")
    before = dump(graph)
    for rule in RULES:
        assert dump(optimize(graph, (rule,))[0]) != before, f"{rule.__name__} leaves the fixture unchanged"


def test_every_op_appears_in_some_fixture_or_has_its_own_tests():
    """An op is pinned by an IR golden here, or by its op module's tests/test_op_<module>.py."""
    seen = set()
    for spec in ELABORATE + PASSES:
        graph = _graph(spec)
        seen |= {node.op for node in graph.nodes()} | {node.op for node in optimize(graph)[0].nodes()}
    tested = {kind for kind in Op if (ROOT / "tests" / f"test_op_{OP_HOME[kind.value]}.py").exists()}
    assert seen | tested == set(Op)


def test_dump_is_one_line_per_node_with_op_attrs_inputs_shape_and_location():
    graph = _graph(IR_CASES / "elaborate" / "concat.incp")
    lines = _dump(graph).splitlines()
    assert lines[0] == "graph concats" and lines[-1] == "outputs %output"
    assert len(lines) == len(graph) + 2
    cat = next(line for line in lines if line.startswith("%reduce.cat = "))
    assert cat.startswith("%reduce.cat = concat(%reduce.branch0.act, %reduce.branch1) {reduction=true fork=mixed.cat}")
    assert cat.endswith(": 20x8x8  # elaborate/concat.incp:13:11")


def test_nodes_carry_their_statement_and_role():
    graph = _graph(IR_CASES / "elaborate" / "residual.incp")
    bn = graph.node("plain.conv0.bn")
    assert (bn.statement, bn.role) == ("plain.conv0", Role.LAYER)
    add = graph.node("scaled.add")
    assert (add.statement, add.role) == ("scaled", Role.JOIN)
    assert graph.statements["scaled"] is StatementKind.CONCAT  # the unlabelled concat shares the path
    assert graph.statements["projected"] is StatementKind.RESIDUAL
    assert graph.statements["projected.shortcut"] is StatementKind.SEQ


def test_verify_raises_internal_error_on_bad_attributes():
    graph = _graph(IR_CASES / "elaborate" / "layers.incp")
    verify(graph)
    graph.node("c.conv").attrs["kernel"] = (3, 0)
    with pytest.raises(InternalError, match=r"c.conv: CONV.kernel = \(3, 0\) is not a \(int, int\), each >= 1"):
        verify(graph)


def test_verify_raises_on_missing_attributes_arity_and_unregistered_ops():
    graph = _graph(IR_CASES / "elaborate" / "layers.incp")
    del graph.node("fc").attrs["bias"]
    graph.add(Node("extra", Op.ADD, {}), ["fc"])
    assert any("missing ['bias']" in p for p in ir.check(graph))
    assert any("extra: ADD has 1 inputs" in p for p in ir.check(graph))
    with pytest.raises(InternalError, match="malformed"):
        verify(graph)


def test_verify_survives_python_O(tmp_path):
    """`python -O` strips asserts; the verifier must still refuse a malformed graph."""
    code = ("from inception_dsl import api, ir\n"
            "g = api.analyze('specs/v4.incp').graph\n"
            "next(n for n in g.nodes() if n.op is ir.Op.LINEAR).attrs['out_features'] = 0\n"
            "try:\n    ir.verify(g)\nexcept ir.InternalError as e:\n    print('refused', e)\n")
    out = subprocess.run([sys.executable, "-O", "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.startswith("refused malformed the IR: ") and ": LINEAR.out_features = 0 is not" in out.stdout


def test_duplicate_node_ids_are_an_internal_error():
    graph = _graph(IR_CASES / "elaborate" / "layers.incp")
    with pytest.raises(InternalError, match="duplicate node id fc"):
        graph.add(Node("fc", Op.IDENTITY, {}), ["drop"])


def test_check_emit_ir(tmp_path):
    spec = IR_CASES / "elaborate" / "concat.incp"
    run = [sys.executable, "-m", "inception_dsl", "check", str(spec)]
    out = subprocess.run(run + ["--emit", "ir"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0 and out.stdout == dump(_graph(spec))
    optimized = subprocess.run(run + ["--emit", "ir-optimized"], capture_output=True, text=True, cwd=ROOT)
    assert optimized.returncode == 0 and " = bn(" not in optimized.stdout and " = conv(" in optimized.stdout


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_check_emits_the_ir_as_a_document_equal_to_the_text_form(fmt):
    import json

    import yaml

    spec = ROOT / "specs" / "v4.incp"
    run = [sys.executable, "-m", "inception_dsl", "check", str(spec), "-p", "num_classes=10", "--emit", "ir", "--format", fmt]
    out = subprocess.run(run, capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    document = json.loads(out.stdout) if fmt == "json" else yaml.safe_load(out.stdout)
    graph = api.require(api.analyze(spec, params={"num_classes": 10}))
    assert document == ir.to_data(graph)
    # the document says what the text form says: one entry per dumped node, same ops and shapes
    lines = dump(graph, locations=False).splitlines()[1:-1]
    assert len(document["nodes"]) == len(lines) == len(graph)
    for node, line in zip(document["nodes"], lines):
        assert line.startswith(f"%{node['id']} = {node['op']}(")
        assert line.endswith(" : " + "x".join(map(str, node["shape"])))
    assert document["nodes"][-1]["op"] == "output" and document["nodes"][-2]["attrs"]["out_features"] == 10
    assert document["params"]["num_classes"] == 10
    assert all(node["location"]["line"] >= 1 for node in document["nodes"] if node["op"] != "output")
