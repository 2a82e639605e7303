"""Memoized elaboration: each distinct (block, bound arguments, input shape, call stack)
is elaborated once; every later instance clones what the first one added.

elaborate.py hands every block body to `instantiate`. The first instance of a key is
elaborated as always, and what it added to the graph becomes a `Template`: its nodes with
ids, statement paths and repetition paths relative to the call's path, inputs as
positions (or the block's input), the part of each node's origin inside the block, and
its shapes. A later instance with the same key clones the template under its own path,
with its own call site in every node's origin and the current stage, so the graph is the
one elaborating it again would build: the same ids, attributes, edges, spans, origins,
statements, stages and shapes, in the same order.

The key holds everything a block body's elaboration reads: the definition (by identity:
spans differ between equal-looking blocks), the bound parameters (with their types: 1,
1.0 and True are different arguments), the input shape (shapes decide the nodes of
nested blocks reading `in_channels`, and the shapes of all of them), and the call stack
(recursion and depth checks). The file settings, the definitions and the limits are the
program's: templates live on the `Program`, one table per `Limits`, so that `sweep` and
repeated `analyze` calls of one spec share them across variants.

Invisible by construction, and checked on generated specs (tests/test_memo.py):
* the memo only records and clones while the elaboration is clean (no diagnostic emitted
  since it began); from the first diagnostic on, everything is elaborated afresh, so
  every diagnostic comes from the code that made it;
* a template is kept only if its body emitted nothing, its shape rules emitted nothing,
  all its nodes lie under the call's path and read nothing but the block's input, every
  id that `_k` suffixes stepped over was one of its own (`_: concat` twice in a body), and
  it did not call a block that reads `in_height`/`in_width` (whose grid check is per call);
* a clone that would pass `max_nodes`, or whose ids are taken, is elaborated afresh.

Shapes: with the memo on, elaboration infers shapes as it goes (the key needs the input
shape); a node whose shape rule emitted nothing is `Graph.settled` and the shape pass
keeps its shape instead of computing it again (the rules are pure functions of the node
and its input shapes). A template's attributes are checked against their schemas when it
is kept (`ir.attr_problems`), so `verify` leaves its clones' attributes out (`Graph.checked`). Switch: `INCEPTION_DSL_MEMO=0` in the environment, or
`with memo.disabled(): ...` (tests compare both; handy when debugging elaboration)."""

from __future__ import annotations

import itertools
import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

from inception_dsl.ir import TEXT, Node, Role, attr_problems
from inception_dsl.core.diagnostics import DiagnosticSink
from inception_dsl.language.name_check import check_names
from inception_dsl.core.values import Symbol

__all__ = ["ENABLED", "MAX_TEMPLATES", "Session", "Template", "Templates", "check_names_once", "disabled", "enabled",
           "instantiate"]

ENABLED = os.environ.get("INCEPTION_DSL_MEMO", "1") != "0"
MAX_TEMPLATES = 4096  # per program and limits; beyond it, new keys are elaborated without being kept


def enabled() -> bool:
    return ENABLED


@contextmanager
def disabled() -> Iterator[None]:
    """Elaborate without the memo inside this block (the reference for tests, and for debugging)."""
    global ENABLED
    before, ENABLED = ENABLED, False
    try:
        yield
    finally:
        ENABLED = before


class Templates(dict):
    """key -> Template, with counters (`hits`: instances cloned, `misses`: instances
    elaborated) and `reads` (block name -> whether it reads in_channels & co)."""

    hits = misses = 0

    def __init__(self) -> None:
        super().__init__()
        self.reads: dict[str, bool] = {}
        self.names: set[int] = set()  # networks whose names check_names found in order


class _Unkeyable(Exception):
    pass


_PLAIN = (int, bool, str, type(None), Symbol)


def _value_key(value: Any):
    kind = type(value)
    if kind is float:
        return kind, repr(value)  # -0.0 and nan as themselves
    if kind is tuple:
        return kind, tuple(_value_key(v) for v in value)
    if kind in _PLAIN:
        return kind, value
    raise _Unkeyable()


@dataclass(frozen=True)
class Template:
    """One elaborated block body, relative to its call path. `nodes` holds per node:
    (id suffix, op, attrs, [(attr, input position)] for attributes naming a node, span,
    origin inside the block, statement suffix, role, shape, input positions); position
    -1 is the block's input. The other fields are the graph's tables, suffix-keyed."""

    nodes: tuple
    output: int
    statements: tuple
    blocks: tuple
    block_inputs: tuple
    repeats: tuple

    def clone(self, elab, path: str, x: str, origin: tuple) -> str | None:
        """Add the instance at `path` reading `x`; returns its output, or `_MISS`."""
        graph = elab.graph
        ids = [path + node[0] for node in self.nodes]
        if len(graph) + len(ids) > elab.limits.max_nodes or graph.taken(ids):
            return _MISS
        stage, nodes = elab.stage, []
        for (_, op, attrs, refs, span, tail, statement, role, shape, _), id_ in zip(self.nodes, ids):
            attrs = dict(attrs)
            for name, position in refs:
                attrs[name] = x if position < 0 else ids[position]
            nodes.append(Node(id_, op, attrs, span, origin + tail, stage, shape, path + statement, role))
        graph.add_new(nodes, [[x if i < 0 else ids[i] for i in node[-1]] for node in self.nodes])
        graph.settled.update(ids)
        graph.checked.update(ids)
        for suffix, kind in self.statements:
            graph.statements[path + suffix] = kind
        for suffix, site in self.blocks:
            graph.blocks[path + suffix] = site
        for suffix, shape in self.block_inputs:
            graph.block_inputs[path + suffix] = shape
        for suffix, (first, count) in self.repeats:
            graph.repeats[path + suffix] = (path + first, count)
        return x if self.output == -1 else ids[self.output]


_MISS = object()


def _tail(table: dict, start: int) -> list:
    """The entries added to `table` after it held `start` (in insertion order, in time
    proportional to their number)."""
    return list(itertools.islice(reversed(table.items()), len(table) - start))[::-1]


def _relative(path: str, key: str) -> str:
    if key == path or key.startswith(path + "."):
        return key[len(path):]
    raise _Unkeyable()


class Session:
    """The memo of one elaboration: the program's templates for these limits, and whether
    the elaboration is still clean. It holds no reference to the elaborator (which holds
    it): a cycle would keep the whole graph alive until the cycle collector found it."""

    def __init__(self, elab) -> None:
        self.sink = elab.sink
        self.templates: Templates = elab.program.memo.setdefault(elab.limits, Templates())
        self.start = elab.sink.count
        self.renamed: list[tuple[str, str]] = []  # (id, the id it got) where elaborate._add added `_k`
        self.grid_calls = 0  # calls of blocks reading in_height/in_width (elaborate._one_grid)
        elab.reads_builtins = self.templates.reads  # which blocks read in_channels & co, per program

    @classmethod
    def open(cls, elab) -> "Session | None":
        return cls(elab) if ENABLED else None

    def clean(self) -> bool:
        return self.sink.count == self.start

    @staticmethod
    def shape(elab, node_id: str | None):
        """Shapes of the nodes added since the last call, in order; a node whose shape rule
        emitted nothing is settled (the shape pass keeps it). The shape of `node_id`."""
        graph, probe, settled = elab.graph, DiagnosticSink(), elab.graph.settled
        for fresh in graph.added[elab.shaped:]:
            node = graph.node(fresh)
            shapes = [graph.node(i).shape for i in graph.inputs(fresh)]
            if any(s is None for s in shapes):
                node.shape = None
            else:
                before = probe.count
                node.shape = node.op.shape(graph, node, shapes, probe)
                if probe.count != before:
                    continue
            settled.add(fresh)
        elab.shaped = len(graph)
        return None if node_id is None else graph.node(node_id).shape

    def key(self, elab, definition, env: dict, x: str):
        shape = self.shape(elab, x)
        if shape is None:
            return None
        try:
            bound = tuple((name, _value_key(value)) for name, value in env.items())
        except _Unkeyable:
            return None
        return id(definition), bound, shape, tuple(elab.call_stack)


def check_names_once(elab, definition) -> None:
    """name_check.check_names of a network, which depends on the program alone: skipped
    where it found nothing on this program before."""
    done = elab.memo.templates.names if elab.memo is not None else None
    if done is not None and id(definition) in done:
        return
    before = elab.sink.count
    check_names(elab.program.definitions, definition, elab.sink)
    if done is not None and elab.sink.count == before:
        done.add(id(definition))


def instantiate(elab, definition, x: str | None, env: dict, path: str, origin: tuple) -> str | None:
    """The body of a block call at `path` reading `x`: cloned from its template, or
    elaborated (and kept as the template of its key when it qualifies)."""
    session: Session | None = elab.memo
    if session is None or x is None or not path or not session.clean():
        return elab.sequence(definition.body, x, env, path, origin, context="block")
    key = session.key(elab, definition, env, x)
    template = session.templates.get(key) if key is not None else None
    if template is not None:
        y = template.clone(elab, path, x, origin)
        if y is not _MISS:
            session.templates.hits += 1
            elab.shaped = len(elab.graph)
            return y
    session.templates.misses += 1
    return _record(elab, session, key, definition, x, env, path, origin)


def _record(elab, session: Session, key, definition, x: str, env: dict, path: str, origin: tuple) -> str | None:
    graph = elab.graph
    marks = (len(graph), len(graph.statements), len(graph.blocks), len(graph.block_inputs), len(graph.repeats),
             len(session.renamed), len(graph.stages), len(graph.groups), len(graph.outputs), session.grid_calls)
    y = elab.sequence(definition.body, x, env, path, origin, context="block")
    if key is None or y is None or not session.clean() or key in session.templates:
        return y
    if len(session.templates) >= MAX_TEMPLATES or marks[6:] != (len(graph.stages), len(graph.groups),
                                                                  len(graph.outputs), session.grid_calls):
        return y
    session.shape(elab, None)
    try:
        session.templates[key] = _capture(elab, marks, path, x, origin, y, session.renamed[marks[5]:])
    except _Unkeyable:
        pass
    return y


def _capture(elab, marks: tuple, path: str, x: str, origin: tuple, y: str, renamed: list) -> Template:
    graph = elab.graph
    ids = graph.added[marks[0]:]
    position = {node_id: index for index, node_id in enumerate(ids)}
    for base, given in renamed:  # every id tried before the one given must be the block's own
        taken = [base] + [f"{base}_{k}" for k in range(1, int(given.rsplit("_", 1)[1]))]
        if any(t not in position for t in taken):
            raise _Unkeyable()
    position[x] = -1
    nodes = [_capture_node(graph, node_id, path, position, origin, elab.stage) for node_id in ids]
    if y not in position:
        raise _Unkeyable()
    return Template(
        tuple(nodes), position[y],
        tuple((_relative(path, p), kind) for p, kind in _tail(graph.statements, marks[1])),
        tuple((_relative(path, p), site) for p, site in _tail(graph.blocks, marks[2])),
        tuple((_relative(path, p), shape) for p, shape in _tail(graph.block_inputs, marks[3])),
        tuple((_relative(path, p), (_relative(path, first), count))
              for p, (first, count) in _tail(graph.repeats, marks[4])),
    )


def _capture_node(graph, node_id: str, path: str, position: dict, origin: tuple, stage: str) -> tuple:
    node: Node = graph.node(node_id)
    if (node_id not in graph.settled or attr_problems(node) or node.shape is None or node.stage != stage or node.role is Role.REWRITE
            or len(node.origin) < len(origin) or any(a is not b for a, b in zip(node.origin, origin))):
        raise _Unkeyable()
    inputs = tuple(position[i] if i in position else _outside() for i in graph.inputs(node_id))
    schema = node.op.attrs
    refs = tuple((name, position[value]) for name, value in node.attrs.items()
                 if schema.get(name) is TEXT and isinstance(value, str) and value in position)
    return (_relative(path, node_id), node.op, dict(node.attrs), refs, node.span, node.origin[len(origin):],
            _relative(path, node.statement), node.role, node.shape, inputs)


def _outside() -> int:
    raise _Unkeyable()  # a node of the block reads something other than the block's input
