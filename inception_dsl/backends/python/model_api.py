"""timm's model API on the generated network class: `forward_features`, `forward_head`,
and the attributes the prelude's `ModelApi` base class reads (`num_features`,
`num_classes`, `pretrained_cfg`, `feature_info`, the classifier's and the head's module
names, the feature stages). The head is language/metadata.py's: the classifier (declared
with `set classifier`, else the last top-level `linear`; the last `linear` inside it when it
is a sequence, as timm's MobileNetV3 keeps its 1280-wide layer) and the pooling, flatten and
dropout statements right before it, or every statement from the one `set head` names. No
torch here."""

from __future__ import annotations

from dataclasses import dataclass

from inception_dsl.core.python_exprs import Channels
from inception_dsl.core.literals import py_literal
from inception_dsl.backends.python.names import member_ref
from inception_dsl.ir import Op
from inception_dsl.ops import LAYERS
from inception_dsl.core import syntax
from inception_dsl.core.shapes import is_tokens
from inception_dsl.language.metadata import feature_stages, feature_taps, find_head, param_groups, pretrained_cfg

__all__ = ["Mark", "write_model_api"]


@dataclass(frozen=True)
class Mark:
    """Where one top-level statement of the network starts in the generated forward."""

    line: int  # index into cls.forward
    in_var: str
    in_ch: Channels
    out_var: str


def _first_conv(graph) -> str:
    conv = next((n for n in graph.nodes() if n.op is Op.CONV), None)
    return conv.id if conv is not None else ""


def write_model_api(gen, scope, definition: syntax.BlockDef, names: list, marks: list[Mark], aux_only: set[int]) -> None:
    """Append forward_features/forward_head and the API attributes to the network class."""
    cls, graph = scope.cls, gen.graph
    statements = [s for s in definition.body if isinstance(s, syntax.Labeled)]
    settings = gen.program.settings_for(definition.span)
    head_parts = {word: definition.head for word, definition in LAYERS.items() if definition.head}
    head = find_head(statements, names, settings.get("classifier", ""), head_parts, settings.get("head", ""))
    ends = [m.line for m in marks[1:]] + [len(cls.forward)]
    main = [i for i, s in enumerate(statements) if s.source is None and i not in aux_only]

    def lines(indices) -> list[str]:
        return [line for i in indices for line in cls.forward[marks[i].line:ends[i]]]

    before = [i for i in main if i < head.start]
    features_out = marks[head.start].in_var if head.start < len(marks) else (marks[before[-1]].out_var if before else "x")
    features_ch = marks[head.start].in_ch if head.start < len(marks) else (marks[before[-1]].in_ch if before else "in_channels")
    grid = _nhwc_grid(graph, names[before[-1]]) if before and head.start < len(marks) else None
    features_return, body = _features_handover(features_out, grid)
    cls.methods.append(_method("forward_features", "x: torch.Tensor", "Everything before the head (timm's forward_features).",
                               cls.forward[:marks[0].line if marks else 0] + lines(before) + features_return))
    if head.classifier is None:
        body += ["return x"]
    else:
        pooled = [i for i in main if head.start <= i < head.classifier]
        after = [i for i in main if i >= head.classifier]
        classifier = _classifier_module(graph, names[head.classifier])
        logits_in = marks[head.classifier].in_var
        stop = f"self._pre_logits({logits_in})" if classifier != names[head.classifier] else logits_in
        body += lines(pooled) + ["if pre_logits:", f"    return {stop}"] + lines(after)
        body.append(f"return {marks[after[-1]].out_var}")
    cls.methods.append(_method("forward_head", "x: torch.Tensor, pre_logits: bool = False",
                               "The head (timm's forward_head): pooling, flatten, dropout, the classifier and what "
                               "`set head` puts before it; pre_logits stops before the classifier.", body))
    classifier = _classifier_module(graph, names[head.classifier]) if head.classifier is not None else ""
    layer = {i: statements[i].op.name for i in range(head.start, head.classifier or head.start)
             if isinstance(statements[i].op, syntax.Call)}
    part = {i: LAYERS[word].head for i, word in layer.items() if word in LAYERS}  # asked of the op registry
    pool = next((names[i] for i, role in part.items() if role == "pool"), "")
    flatten = next((names[i] for i, role in part.items() if role == "flatten"), "")
    num_classes = _out_features(graph, classifier)
    head_start = names[head.start] if head.start < len(names) else None
    taps = feature_taps(graph, tuple(settings.get("feature_taps", ())), head_start)
    stages = feature_stages(graph, head_start)
    groups = param_groups(graph, head_start, taps[-1].module if taps else None)
    cfg = pretrained_cfg(settings, graph.input_node.shape, _first_conv(graph), classifier, num_classes)
    cls.attributes += _feature_grids(taps)
    cls.attributes += [
        "pretrained_cfg = {" + ", ".join(f"{py_literal(k)}: {py_literal(v)}" for k, v in cfg.items()) + "}",
        "default_cfg = pretrained_cfg",
        "feature_info = [" + ", ".join("{" + f'"num_chs": {t.channels}, "reduction": {t.reduction}, "module": {py_literal(t.module)}' + "}"
                                       for t in taps) + "]",
        f"head_modules = {py_literal((classifier, pool, flatten))}  # classifier, pooling, flatten",
        f"stage_modules = {py_literal(tuple(stages))}  # the feature stages, checkpointed one by one",
        _groups_attribute(groups),
    ]
    hidden = f"{_ref(classifier)}.in_features" if num_classes else features_ch
    cls.init += [f"self.num_features = {features_ch}", f"self.head_hidden_size = {hidden}",
                 f"self.num_classes = {_ref(classifier)}.out_features" if num_classes else "self.num_classes = 0"]
    cls.base = "ModelApi"
    gen.helpers.add("ModelApi")


def _feature_grids(taps) -> list[str]:
    """`feature_grids`, where taps are tokens on a grid (given as NHWC, as timm's Swin)."""
    grids = {tap.module: tap.grid for tap in taps if tap.grid is not None}
    if not grids:
        return []
    return ["feature_grids = {" + ", ".join(f"{py_literal(k)}: {py_literal(v)}" for k, v in grids.items())
            + "}  # taps of tokens on a grid: given as NHWC (B, H, W, C), as timm's Swin"]


def _features_handover(features_out: str, grid) -> tuple[list[str], list[str]]:
    """forward_features' return and forward_head's first lines: the features as they are,
    or tokens on a grid as (B, H, W, C) (timm's NHWC, Swin) and back to tokens for the head."""
    if grid is None:
        return [f"return {features_out}"], ([f"{features_out} = x"] if features_out != "x" else [])
    return [f"return {features_out}.unflatten(1, {py_literal(grid)})  # NHWC, as timm's"], \
        [f"{features_out} = x.flatten(1, 2)"]


def _nhwc_grid(graph, statement: str) -> tuple[int, int] | None:
    """The grid of a statement whose output is tokens on a grid with nothing prepended
    (forward_features then gives them as timm's NHWC), else None."""
    stage = next((s for s in graph.stages if s.name == statement and s.output is not None), None)
    shape = graph.node(stage.output).shape if stage is not None else None
    return shape.grid if is_tokens(shape) and shape.grid is not None and not shape.prefix else None


def _groups_attribute(groups) -> str:
    """The class attribute group_matcher reads (language/metadata.param_groups)."""
    values = ", ".join(f'"{key}": {py_literal(getattr(groups, key))}' for key in ("stem", "fine", "coarse"))
    return "group_modules = {" + values + "}  # group_matcher's stem, blocks and stages"


def _classifier_module(graph, statement: str) -> str:
    """The classifier's module: the statement's own `linear`, or the last `linear` inside it."""
    if statement in graph and "out_features" in graph.node(statement).attrs:  # a linear
        return statement
    inside = [n.id for n in graph.nodes() if "out_features" in n.attrs and n.id.startswith(statement + ".")]
    return inside[-1] if inside else statement


def _ref(name: str) -> str:
    return member_ref(name) if "." not in name else f"self.get_submodule({py_literal(name)})"


def _out_features(graph, classifier: str) -> int:
    if not classifier or classifier not in graph:
        return 0
    node = graph.node(classifier)
    return node.attrs.get("out_features", 0) if node.op is Op.LINEAR else 0


def _method(name: str, signature: str, doc: str, body: list[str]) -> list[str]:
    return [f"def {name}(self, {signature}) -> torch.Tensor:", f'    """{doc}"""'] + [f"    {line}" for line in body]
