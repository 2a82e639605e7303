"""ir.Graph -> Drawing: what a diagram shows, before any DOT syntax.

A drawing is made of *units* (boxes) and edges between them. A unit is a collapsed
block instance, a traditional layer (conv + BN + activation of one statement: one box,
as in the paper's figures), or a single IR node. Repeated top-level statements
(`inception_a x4`) are folded into their first instance, marked "x4". Deterministic:
units and edges come out in the graph's topological order. Never imports torch."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..ir import Graph, Node, Op

__all__ = ["View", "Unit", "Drawing", "build_drawing", "fused_layers", "scope_names"]


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


def scope_names(graph: Graph, scope: str) -> set[str]:
    """The names `--expand` may use for a block instance: its path (`inception_b.3`), its
    statement (`inception_b`, or `inner` for `tower.inner`) and its block (`unit`)."""
    statement = _strip_instance(scope)
    site = graph.blocks.get(scope)
    return {scope, statement, statement.rpartition(".")[2]} | ({site.block} if site else set())


def _strip_instance(path: str) -> str:
    head, _, tail = path.rpartition(".")
    return head if head and tail.isdigit() else path


def _enclosing_blocks(graph: Graph, node_id: str) -> list[str]:
    parts = node_id.split(".")
    return [p for p in (".".join(parts[:i]) for i in range(1, len(parts) + 1)) if p in graph.blocks]


def _fold_groups(graph: Graph) -> dict[str, tuple[str, int, int]]:
    """Stage name -> (first instance name, index in the group, group size), for the
    instances of repeated top-level statements."""
    groups: list[list] = []
    for stage in graph.stages:
        base = _strip_instance(stage.name)
        last = groups[-1] if groups else None
        if (base != stage.name and last and last[0].span is stage.span
                and _strip_instance(last[0].name) == base and last[0].kind == stage.kind):
            last.append(stage)
        else:
            groups.append([stage])
    result = {}
    for group in groups:
        if len(group) > 1:
            for index, stage in enumerate(group):
                result[stage.name] = (group[0].name, index, len(group))
    return result


def _counterpart(node_id: str, stage: str, first: str) -> str:
    return first + node_id[len(stage):] if node_id.startswith(stage) else node_id


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
    folds = _fold_groups(graph) if view.fold and view.scope is None else {}
    fused = fused_layers(graph, nodes)
    units: dict[str, Unit] = {}
    unit_of: dict[str, str] = {}

    def place(node: Node) -> str:
        folded = folds.get(node.stage)
        key = _counterpart(node.id, node.stage, folded[0]) if folded else node.id
        key = fused.get(key, key)
        opened: list[str] = []
        for level, scope in enumerate(_enclosing_blocks(graph, key), start=1):
            if view.scope is not None and len(scope) < len(view.scope):
                continue  # the drawn scope and what encloses it are the whole picture
            if view.scope is not None and scope == view.scope:
                continue
            if not view.opens(graph, scope, level):
                _add_unit(units, scope, "block", node, tuple(opened))
                return scope
            opened.append(scope)
        representative = graph.node(key)
        _add_unit(units, key, representative.op.value, representative, tuple(opened))
        return key

    for node in nodes:
        unit_of[node.id] = place(node)
        unit = units[unit_of[node.id]]
        if node not in unit.nodes:
            unit.nodes.append(node)
        unit.shape = node.shape if _is_last(graph, node, unit, folds) else unit.shape
    if view.scope is not None:
        units = _add_scope_inputs(graph, nodes, units, unit_of)
    _mark_stages(graph, units, folds, view, drawing)
    drawing.units = list(units.values())
    _add_edges(drawing, graph, nodes, unit_of, folds)
    return drawing


def _add_unit(units: dict[str, Unit], key: str, kind: str, node: Node, clusters: tuple[str, ...]) -> None:
    if key not in units:
        units[key] = Unit(key, kind, [node], clusters=clusters)


def _is_last(graph: Graph, node: Node, unit: Unit, folds) -> bool:
    """A unit's shape is the shape of the last node it covers (in the last repetition)."""
    folded = folds.get(node.stage)
    return not folded or folded[1] == folded[2] - 1 or unit.shape is None


def _mark_stages(graph: Graph, units: dict[str, Unit], folds, view: View, drawing: Drawing) -> None:
    stage_names = {s.name for s in graph.stages}
    for unit in units.values():
        node = unit.nodes[0]
        folded = folds.get(node.stage)
        top = unit.id in stage_names or (unit.kind != "block" and node.stage in stage_names
                                         and not _enclosing_blocks(graph, unit.id))
        if top or unit.kind in ("input", "output"):
            unit.is_stage = view.scope is None
        if folded and (unit.id == folded[0] or top):
            unit.repeat = folded[2]
    for stage_name, (first, index, size) in folds.items():
        if index == 0:
            drawing.repeats[first] = size


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


def _add_edges(drawing: Drawing, graph: Graph, nodes: list[Node], unit_of, folds) -> None:
    seen: set[tuple[str, str]] = set()
    for node in nodes:
        for source in graph.inputs(node.id):
            if source not in unit_of:
                continue
            source_fold, target_fold = folds.get(graph.node(source).stage), folds.get(node.stage)
            if source_fold and target_fold and source_fold[0] == target_fold[0] and (source_fold[1] or target_fold[1]):
                continue  # inside the later repetitions, which are drawn once
            pair = (unit_of[source], unit_of[node.id])
            if pair[0] == pair[1] or pair in seen:
                continue
            seen.add(pair)
            shape = graph.node(source).shape
            drawing.edges.append((pair[0], pair[1], "x".join(map(str, shape)) if shape else "?"))
