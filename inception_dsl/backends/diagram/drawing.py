"""ir.Graph -> Drawing: what a diagram shows, before any DOT syntax.

A drawing is made of *units* (boxes) and edges between them. A unit is a collapsed
block instance, a traditional layer (conv + BN + activation of one statement: one box,
as in the paper's figures), or a single IR node. Repeated top-level statements
(`inception_a x4`) are folded into their first instance, marked "x4". Deterministic:
units and edges come out in the graph's topological order. Never imports torch."""

from __future__ import annotations

from dataclasses import dataclass, field

from inception_dsl.ir import Graph, Node, Op, Role, Stage, fmt_shape

# Top-level statements that are neither a layer nor a block call (Stage.kind): drawn as a
# cluster around their contents, like ResNet's `layer1 { ... }`.
COMPOUND_KINDS = frozenset({"seq", "concat", "reduction", "residual", "sum", "product", "split"})

__all__ = ["View", "Unit", "Drawing", "build_drawing", "fused_layers", "layer_path", "scope_names", "is_named_instance"]


@dataclass(frozen=True)
class View:
    """What to open. `expand`: block names or instance paths to open ("all" opens every
    block); `depth`: open blocks nested up to this many levels; `scope`: draw only this
    block instance, everything inside it opened; `fold`: fold repeated statements."""

    expand: frozenset[str] = frozenset()
    depth: int = 0
    scope: str | None = None
    fold: bool = True

    def opens(self, graph: Graph, scope: str, level: int) -> bool:
        if self.scope is not None or "all" in self.expand or level <= self.depth:
            return True
        return bool(scope_names(graph, scope) & self.expand)


@dataclass
class Unit:
    id: str  # the IR node (or block scope) it stands for
    kind: str  # "block", "layer", "input", "output", or an Op value
    nodes: list[Node]  # the IR nodes drawn as this box, first is the representative
    shape: tuple[int, ...] | None = None
    repeat: int = 1
    clusters: tuple[str, ...] = ()  # enclosing opened block scopes, outermost first
    is_stage: bool = False  # stands for a whole top-level statement


@dataclass
class Drawing:
    graph: Graph
    units: list[Unit] = field(default_factory=list)
    edges: list[tuple[str, str, str]] = field(default_factory=list)  # (unit, unit, shape label)
    repeats: dict[str, int] = field(default_factory=dict)  # folded scope -> count
    groups: dict[str, Stage] = field(default_factory=dict)  # compound top-level statements drawn as clusters


def scope_names(graph: Graph, scope: str) -> set[str]:
    """The names `--expand` may use for a block instance: its path (`inception_b.3`), its
    statement (`inception_b`, or `inner` for `tower.inner`) and its block (`unit`)."""
    statement = _strip_instance(graph, scope)
    site = graph.blocks.get(scope)
    return {scope, statement, statement.rpartition(".")[2]} | ({site.block} if site else set())


def is_named_instance(graph: Graph, path: str) -> bool:
    """`name.k`: an instance of a labelled (or named) `name xN`, not a sequence position."""
    head, _, tail = path.rpartition(".")
    return tail.isdigit() and path in graph.repeats and graph.repeats[path][0] == f"{head}.0"


def _strip_instance(graph: Graph, path: str) -> str:
    return path.rpartition(".")[0] if is_named_instance(graph, path) else path


def _enclosing_blocks(graph: Graph, node_id: str) -> list[str]:
    parts = node_id.split(".")
    return [p for p in (".".join(parts[:i]) for i in range(1, len(parts) + 1)) if p in graph.blocks]


@dataclass
class _Folding:
    """Repetitions folded onto their first instance, at any depth (the IR's
    `Graph.repeats` says which paths are instances of which `xN`)."""

    enabled: bool
    repeats: dict[str, tuple[str, int]]
    keep: int = 0  # leading path components never folded (those of the drawn scope)

    def canonical(self, node_id: str) -> str:
        if not self.enabled:
            return node_id
        parts = node_id.split(".")
        for i in range(self.keep, len(parts)):
            first = self.repeats.get(".".join(parts[: i + 1]))
            if first is not None:
                parts = first[0].split(".") + parts[i + 1:]
        return ".".join(parts)

    def separates(self, a: str, b: str) -> bool:
        """Whether a and b lie in different instances of one repetition (an edge between
        them is the chaining of instances, which a folded drawing leaves out)."""
        if not self.enabled:
            return False
        pa, pb = a.split("."), b.split(".")
        for i, (x, y) in enumerate(zip(pa, pb)):
            if x != y:
                first_a = self.repeats.get(".".join(pa[: i + 1]))
                first_b = self.repeats.get(".".join(pb[: i + 1]))
                return first_a is not None and first_b is not None and first_a[0] == first_b[0]
        return False

    def repeat(self, path: str) -> int:
        """How many instances a unit or cluster stands for (1 unless it is a folded repetition)."""
        first = self.repeats.get(path)
        return first[1] if self.enabled and first is not None and first[0] == path else 1


def fused_layers(graph: Graph, nodes: list[Node]) -> dict[str, str]:
    """BN and activation nodes of a traditional layer -> the conv (or linear) they follow."""
    owner: dict[str, str] = {}
    for node in nodes:
        if node.op not in (Op.CONV, Op.LINEAR):
            continue
        current, allowed = node, [Op.BN, Op.ACT]
        while allowed:
            users = graph.users(current.id)
            if len(users) != 1:
                break
            user = graph.node(users[0])
            if user.op not in allowed or user.span is not node.span or user.id in graph.outputs:
                break
            owner[user.id] = node.id
            allowed = allowed[allowed.index(user.op) + 1:]
            current = user
    return owner


def build_drawing(graph: Graph, view: View = View()) -> Drawing:
    drawing = Drawing(graph)
    nodes = list(graph.nodes())
    if view.scope is not None:
        nodes = [n for n in nodes if n.id == view.scope or n.id.startswith(view.scope + ".")]
    folding = _Folding(view.fold, graph.repeats, len(view.scope.split(".")) if view.scope else 0)
    fused = fused_layers(graph, nodes)
    if view.scope is None:
        compound = [s for s in graph.stages if s.kind in COMPOUND_KINDS] + list(graph.groups.values())
        drawing.groups = {s.name: s for s in compound if folding.canonical(s.name) == s.name}
    units: dict[str, Unit] = {}
    unit_of: dict[str, str] = {}
    members: dict[str, set[str]] = {}  # unit -> ids of its nodes (a set: a folded unit covers every instance)
    for node in nodes:
        stage = folding.canonical(node.stage)
        parts = stage.split(".")
        outer = tuple(g for g in (".".join(parts[:i]) for i in range(1, len(parts) + 1)) if g in drawing.groups)
        unit_of[node.id] = _place(graph, view, folding, fused, units, node, outer)
        unit = units[unit_of[node.id]]
        covered = members.get(unit.id)
        if covered is None:
            covered = members[unit.id] = {n.id for n in unit.nodes}
        if node.id not in covered:
            covered.add(node.id)
            unit.nodes.append(node)
        unit.shape = node.shape  # the last node covered, in the last repetition: the output
    if view.scope is not None:
        units = _add_scope_inputs(graph, nodes, units, unit_of)
    stage_names = {s.name for s in graph.stages}
    for unit in units.values():
        path = layer_path(unit)
        unit.repeat = folding.repeat(path)
        unit.is_stage = view.scope is None and (path in stage_names or unit.kind in ("input", "output"))
    drawing.repeats = {scope: folding.repeat(scope) for unit in units.values() for scope in unit.clusters}
    drawing.units = list(units.values())
    _add_edges(drawing, graph, nodes, unit_of, folding)
    return drawing


def _place(graph: Graph, view: View, folding: _Folding, fused: dict[str, str], units: dict[str, Unit],
           node: Node, outer: tuple[str, ...]) -> str:
    """The unit that draws `node`: the outermost closed block around it, else its layer.
    `outer`: the cluster of a compound top-level statement around it, if any."""
    key = folding.canonical(node.id)
    key = fused.get(key, key)
    opened: list[str] = list(outer)
    for level, scope in enumerate(_enclosing_blocks(graph, key), start=1):
        if view.scope is not None and len(scope) <= len(view.scope):
            continue  # the drawn scope and what encloses it are the whole picture
        if not view.opens(graph, scope, level):
            _add_unit(units, scope, "block", node, tuple(opened))
            return scope
        opened.append(scope)
    representative = graph.node(key)
    _add_unit(units, key, representative.op.value, representative, tuple(opened))
    return key


def layer_path(unit: Unit) -> str:
    """The statement path of a unit: a traditional layer `x` is drawn from its conv `x.conv`."""
    node = unit.nodes[0]
    if unit.kind not in ("block", "input") and node.role is Role.LAYER and node.statement and node.id == unit.id:
        return node.statement
    return unit.id


def _add_unit(units: dict[str, Unit], key: str, kind: str, node: Node, clusters: tuple[str, ...]) -> None:
    if key not in units:
        units[key] = Unit(key, kind, [node], clusters=clusters)


def _add_scope_inputs(graph: Graph, nodes: list[Node], units: dict[str, Unit], unit_of) -> dict[str, Unit]:
    """An "Input" box for each tensor that enters the drawn scope, drawn first."""
    inside = {n.id for n in nodes}
    inputs: dict[str, Unit] = {}
    for node in nodes:
        for source in graph.inputs(node.id):
            if source not in inside and source not in unit_of:
                source_node = graph.node(source)
                inputs[source] = Unit(source, "input", [source_node], source_node.shape)
                unit_of[source] = source
    return {**inputs, **units}


def _add_edges(drawing: Drawing, graph: Graph, nodes: list[Node], unit_of, folding: _Folding) -> None:
    seen: set[tuple[str, str]] = set()
    for node in nodes:
        for source in graph.inputs(node.id):
            if source not in unit_of or folding.separates(source, node.id):
                continue
            pair = (unit_of[source], unit_of[node.id])
            if pair[0] == pair[1] or pair in seen:
                continue
            seen.add(pair)
            shape = graph.node(source).shape
            drawing.edges.append((pair[0], pair[1], fmt_shape(shape) if shape else "?"))
