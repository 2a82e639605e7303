"""Network metadata a spec can set with `set` (timm's `pretrained_cfg`, the classifier, the
feature taps), checked where the spec says it, and what a network's model API is made of:
where the head starts, which statement is the classifier, which stage outputs are features.

    set mean = (0.5, 0.5, 0.5)          # input normalization (timm's IMAGENET_INCEPTION_MEAN)
    set std = (0.5, 0.5, 0.5)
    set interpolation = "bicubic"       # resize filter for evaluation
    set crop_pct = 0.875                # center-crop fraction for evaluation
    set classifier = "last_linear"      # the classifier statement (default: inferred)
    set head = "avgpool"                # the first statement of the head (default: inferred)
    set feature_taps = ("features.2", "features.9")  # stage outputs returned by features_only
    set reference = "timm:inception_v4"  # whose pretrained weights fit (timm's pretrained=True)
    set init = "torchvision.resnet"     # the reference's weight initialization (load(); default "torch")
    set zero_init_residual = true       # zero each residual branch's last BatchNorm weight

The settings of a network's own file apply to it. No torch here."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

from inception_dsl.core import codes
from inception_dsl.core import syntax
from inception_dsl.core.shapes import is_tokens
from inception_dsl.core.values import did_you_mean
from inception_dsl.ir import StatementKind

__all__ = ["BLOCK_VIEW", "METADATA", "INIT_SCHEMES", "check_setting", "check_metadata", "Head", "find_head", "FeatureTap", "feature_taps",
           "feature_stages", "resolve_tap", "ParamGroups", "param_groups",
           "pretrained_cfg"]

METADATA: dict[str, Any] = {
    "mean": (0.485, 0.456, 0.406),  # ImageNet, timm's IMAGENET_DEFAULT_MEAN
    "std": (0.229, 0.224, 0.225),
    "interpolation": "bilinear",
    "crop_pct": 0.875,
    "classifier": "",
    "head": "",
    "feature_taps": (),
    "reference": "",  # "timm:NAME" / "torchvision:NAME": whose pretrained weights fit (pretrained=True)
    "init": "torch",  # the initialization scheme the network class applies (backends/python/init_source.py)
    "zero_init_residual": False,
}
# the schemes of backends/python/init_source.py (TF-slim's is "tf")
INIT_SCHEMES = ("torch", "tf", "torchvision.resnet", "torchvision.vgg", "torchvision.mobilenet",
                "torchvision.efficientnet", "torchvision.convnext", "torchvision.googlenet",
                "torchvision.inception_v3", "torchvision.regnet", "torchvision.densenet", "torchvision.squeezenet",
                "timm.inception_v3", "timm.convnext", "timm.inception_next", "timm.xception",
                "timm.metaformer", "timm.vit", "timm.efficientnet", "timm.byobnet", "timm.efficientformer")
INTERPOLATIONS = ("nearest", "bilinear", "bicubic")


def check_setting(name: str, value: Any) -> str | None:
    """Why `value` cannot be the metadata setting `name` (None if it can)."""
    if name in ("mean", "std"):
        ok = isinstance(value, tuple) and value and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                        for v in value)
        if not ok or (name == "std" and min(value) <= 0):
            return "expected a tuple of numbers, one per input channel" + (", each above 0" if name == "std" else "")
    elif name == "interpolation":
        if value not in INTERPOLATIONS:
            return "expected one of " + ", ".join(f'"{i}"' for i in INTERPOLATIONS)
    elif name == "crop_pct":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
            return "expected a fraction in (0, 1]"
    elif name in ("classifier", "head"):
        if not isinstance(value, str):
            return f"expected the label of the {'classifier' if name == 'classifier' else 'first head'} statement, as a string"
    elif name == "init":
        if value not in INIT_SCHEMES:
            return "expected one of " + ", ".join(f'"{i}"' for i in INIT_SCHEMES)
    elif name == "zero_init_residual":
        if not isinstance(value, bool):
            return "expected true or false"
    elif name == "reference":
        if not isinstance(value, str) or (value and value.partition(":")[0] not in ("timm", "torchvision")):
            return 'expected "timm:NAME" or "torchvision:NAME"'
    elif name == "feature_taps":
        if isinstance(value, str):
            value = (value,)
        if not isinstance(value, tuple) or not all(isinstance(v, str) for v in value):
            return 'expected a tuple of stage names as strings, e.g. ("features.2", "features.9")'
    return None


@dataclass(frozen=True)
class Head:
    """The top-level statements after the features: indices into the network body's
    statements (`start` is the first head statement, `classifier` the linear), or None."""

    start: int
    classifier: int | None


def _layer(stmt: syntax.Labeled) -> str | None:
    return stmt.op.name if isinstance(stmt.op, syntax.Call) else None


def find_head(statements: list[syntax.Labeled], names: list[str | None], declared: str = "",
              head_parts: Mapping[str, str] | None = None, declared_start: str = "") -> Head:
    """The classifier is the statement labelled `declared`, else the last top-level `linear`
    of the main chain; the head is the classifier and the run of statements right before it
    whose layer words are head parts (pooling, flatten and dropout), or, where `set head`
    names one (`declared_start`), every statement from that one on. `head_parts` maps a
    layer word to its part (the op registry's `LayerDef.head` facts: "classifier" for
    `linear`). Without a classifier the head is empty."""
    head_parts = head_parts or {}
    main = [i for i, s in enumerate(statements) if s.source is None]
    if declared:
        classifier = next((i for i in main if names[i] == declared), None)
    else:
        classifier = next((i for i in reversed(main) if head_parts.get(_layer(statements[i])) == "classifier"), None)
    if classifier is None:
        return Head(len(statements), None)
    start = next((i for i in main if names[i] == declared_start and i <= classifier), None) if declared_start else None
    if start is not None:
        return Head(start, classifier)
    start = classifier
    for i in reversed([i for i in main if i < classifier]):
        if head_parts.get(_layer(statements[i])) in (None, "classifier") or statements[i].repeat is not None:
            break
        start = i
    return Head(start, classifier)


@dataclass(frozen=True)
class FeatureTap:
    module: str  # the module whose output is the feature map (a stage, or a repeated statement)
    channels: int
    reduction: int  # nominal stride: a power of two, as timm's feature_info gives it
    grid: tuple[int, int] | None = None  # tokens on this grid (a Swin stage): given as NHWC, as timm's Swin


def _grid_of(shape) -> tuple[int, int] | None:
    """The grid of a feature map: a CxHxW shape's, or that of tokens that remember their grid
    and have nothing prepended (timm's NHWC stages, tapped where `set feature_taps` names them)."""
    if is_tokens(shape):
        return shape.grid if shape.grid is not None and not shape.prefix else None
    return tuple(shape[1:]) if len(shape) == 3 else None


def _nominal(input_size: int, size: int) -> int:
    return 2 ** max(0, round(math.log2(input_size / size))) if size else 0


def feature_taps(graph, declared: tuple[str, ...] = (), head_start: str | None = None) -> list[FeatureTap]:
    """The declared taps, or the last stage at each nominal reduction before the head
    (auxiliary and side stages excluded). A stage that ends a repetition is named by the
    repeated statement (`repeat`, timm's name for the Sequential), unless the repetition's
    instances are positions of a sequence (`features.9`)."""
    height = graph.input_node.shape[1]
    shapes = {s.name: graph.node(s.output).shape for s in graph.stages if s.output is not None and not s.aux}
    names = _before_head(list(shapes), head_start)
    if declared:
        taps = list(declared)
    else:
        last: dict[int, str] = {}
        for name in names:  # grids only: tokens are tapped where the spec names them (Swin's stages)
            shape = shapes[name]
            if len(shape) == 3:
                last[_nominal(height, shape[1])] = name
        taps = [last[r] for r in sorted(last)]
    result = []
    for name in taps:
        stage = _stage_for(graph, name, shapes)
        if stage is None:
            raise KeyError(name)
        shape = shapes[stage]
        grid = _grid_of(shape)
        result.append(FeatureTap(_module_name(graph, stage) if not declared else name, shape[0],
                                 _nominal(height, grid[0] if grid else shape[1]),
                                 grid if is_tokens(shape) else None))
    return result


def _before_head(names: list[str], head_start: str | None) -> list[str]:
    """The stages before the head's first statement (a stage, or a sequence of stages)."""
    if head_start is None:
        return names
    first = next((i for i, name in enumerate(names) if name == head_start or name.startswith(head_start + ".")), None)
    return names if first is None else names[:first]


def feature_stages(graph, head_start: str | None = None) -> list[str]:
    """The stages of the main chain before the head, in order (auxiliary stages excluded):
    what `set_grad_checkpointing` recomputes one by one and `group_matcher` groups."""
    return _before_head([s.name for s in graph.stages if s.output is not None and not s.aux], head_start)


@dataclass(frozen=True)
class ParamGroups:
    """timm's `group_matcher` groups (layer-wise learning-rate decay), as IR node-id
    prefixes: the stem, then the blocks one by one (`fine`) or stage by stage (`coarse`)."""

    stem: tuple[str, ...]
    fine: tuple[tuple[str, ...], ...]
    coarse: tuple[tuple[str, ...], ...]


def param_groups(graph, head_start: str | None = None, last_tap: str | None = None) -> ParamGroups:
    """The stem is the leading single-layer statements (the first statement where there
    are none); a stage is a run of statements with the same output shape (timm's stages
    of these families change width or resolution); a block is a statement, or each block
    instance of a block call made of nothing else (ConvNeXt's `convnext_stage(3)`), where
    the statement that opens a stage before such blocks (ConvNeXt's downsample) joins its
    first block, as timm numbers them. Statements after the last feature map `last_tap`
    (EfficientNet's head conv) join the last block and stage, as timm's `conv_head`."""
    stages = [s for s in graph.stages if s.output is not None and not s.aux]
    names = _before_head([s.name for s in stages], head_start)
    shape = {s.name: graph.node(s.output).shape for s in stages}
    layers = 0
    while layers < len(names) and graph.statements.get(names[layers]) is StatementKind.LAYER:
        layers += 1
    stem, rest = names[:max(layers, 1)], names[max(layers, 1):]
    tapped = [i for i, name in enumerate(rest) if last_tap and (name == last_tap or name.startswith(last_tap + "."))]
    rest, tail = (rest[:tapped[-1] + 1], tuple(rest[tapped[-1] + 1:])) if tapped else (rest, ())
    runs: list[list[str]] = []
    for name in rest:
        if runs and shape[runs[-1][-1]] == shape[name]:
            runs[-1].append(name)
        else:
            runs.append([name])
    fine: list[tuple[str, ...]] = []
    for run in runs:
        for index, name in enumerate(run):
            blocks = _blocks_within(graph, name)
            if blocks and index > 0 and not _blocks_within(graph, run[index - 1]):
                blocks[0] = fine.pop() + blocks[0]  # the stage's opening statement joins its first block
            blocks = blocks or _stage_call_blocks(graph, name)
            fine += [unit for block in blocks for unit in _split_calls(graph, block)] or [(name,)]
    coarse = [tuple(run) for run in runs]
    if tail and fine:
        fine[-1], coarse[-1] = fine[-1] + tail, coarse[-1] + tail
    return ParamGroups(tuple(stem), tuple(fine), tuple(coarse))


def _children(graph, name: str) -> list[str]:
    """The statements directly inside `name` (block bodies, repetition instances), in order."""
    inside = [key for key in graph.statements if key.startswith(name + ".")]
    known = set(inside)
    return [key for key in inside
            if not any(key[:i] in known for i in range(len(name) + 1, len(key)) if key[i] == ".")]


def _inside(node_id: str, part: str) -> bool:
    return node_id == part or node_id.startswith(part + ".")


def _weights_outside(graph, name: str, parts) -> bool:
    """Whether a node with weights inside `name` lies outside all of `parts`."""
    return any(n.op.has_weights and n.id.startswith(name + ".") and not any(_inside(n.id, p) for p in parts)
               for n in graph.nodes())


def _in_sequence(graph, parts: list[str]) -> bool:
    """Whether each of `parts` reads the one before it (a sequence: a concat's branches all
    read the same input instead)."""
    return all(any(_inside(n.id, part) and any(_inside(i, before) for i in graph.inputs(n.id)) for n in graph.nodes())
               for before, part in zip(parts, parts[1:]))


def _stage_call_blocks(graph, name: str) -> list[tuple[str, ...]]:
    """A stage that is one block call made of opening statements, then one repetition
    (Swin's `swin_stage`: the patch merging, then `blocks: swin_pair x n`): the repetition's
    instances, an opener joining the next block (as timm numbers Swin's downsample) unless
    it calls the repeated block itself (ResNet's strided first block), or []."""
    if name not in graph.blocks:
        return []
    kids = _children(graph, name)
    base = kids[-1].rpartition(".")[0] if kids else ""
    run = [kid for kid in kids if kid.rpartition(".")[0] == base and kid.rpartition(".")[2].isdigit()]
    if not run or base == name or run != [f"{base}.{i}" for i in range(len(run))] or run != kids[len(kids) - len(run):]:
        return []
    if any(kid not in graph.blocks for kid in run) or _weights_outside(graph, name, kids) \
            or not _in_sequence(graph, kids):
        return []
    repeated = graph.blocks[run[0]].block
    blocks: list[tuple[str, ...]] = []
    pending: tuple[str, ...] = ()
    for kid in kids:  # an opener calling the repeated block is a block (ResNet's first); others join the next
        site = graph.blocks.get(kid)
        if (site is not None and site.block == repeated) or kid in run:
            blocks.append(pending + (kid,))
            pending = ()
        else:
            pending += (kid,)
    return blocks


def _split_calls(graph, block: tuple[str, ...]) -> list[tuple[str, ...]]:
    """A repeated instance made of nothing but two or more calls of one block (Swin's pair
    of a plain and a shifted block) is that many blocks, as the reference counts them."""
    instance = block[-1]
    if not instance.rpartition(".")[2].isdigit():
        return [block]
    kids = _children(graph, instance)
    sites = [graph.blocks.get(kid) for kid in kids]
    if (len(kids) < 2 or any(site is None for site in sites) or len({site.block for site in sites}) != 1
            or _weights_outside(graph, instance, kids) or not _in_sequence(graph, kids)):
        return [block]
    return [block[:-1] + (kids[0],)] + [(kid,) for kid in kids[1:]]


def _blocks_within(graph, name: str) -> list[tuple[str, ...]]:
    """The instances `name.0`, `name.1`, ... of one block that a block call is made of
    (each as a 1-tuple), or [] where there are fewer than two or weights outside them."""
    site = graph.blocks.get(f"{name}.0")
    count = 0
    while f"{name}.{count}" in graph.blocks and site is not None and graph.blocks[f"{name}.{count}"].block == site.block:
        count += 1
    inside = tuple(f"{name}.{i}." for i in range(count))
    if count < 2 or any(n.op.has_weights and n.id.startswith(name + ".") and not n.id.startswith(inside)
                        for n in graph.nodes()):
        return []
    return [(f"{name}.{i}",) for i in range(count)]


def resolve_tap(graph, name: str) -> str | None:
    """The stage a feature tap names (None if it names none)."""
    return _stage_for(graph, name, {s.name for s in graph.stages})


def _stage_for(graph, name: str, shapes) -> str | None:
    """The stage whose output is `name`'s: a stage, the last instance of a repetition, or
    the last stage of a sequence of stages."""
    if name in shapes:
        return name
    instances = [i for i, (first, _) in graph.repeats.items() if first == f"{name}.0"]
    if instances:
        return instances[-1] if instances[-1] in shapes else None
    inside = [stage for stage in shapes if stage.startswith(name + ".")]
    return inside[-1] if inside else None


def _module_name(graph, stage: str) -> str:
    first = graph.repeats.get(stage)
    head, _, tail = stage.rpartition(".")
    if first is not None and first[0] == f"{head}.0" and tail == str(first[1] - 1):
        return head
    return stage


def pretrained_cfg(settings: dict[str, Any], input_shape: tuple[int, ...], first_conv: str, classifier: str,
                   num_classes: int) -> dict[str, Any]:
    """timm's pretrained_cfg keys, from the network file's settings and the network."""
    return {
        "input_size": tuple(input_shape),
        "interpolation": settings.get("interpolation", METADATA["interpolation"]),
        "mean": tuple(float(v) for v in settings.get("mean", METADATA["mean"])),
        "std": tuple(float(v) for v in settings.get("std", METADATA["std"])),
        "crop_pct": float(settings.get("crop_pct", METADATA["crop_pct"])),
        "crop_mode": "center",
        "num_classes": num_classes,
        "pool_size": None,
        "first_conv": first_conv,
        "classifier": classifier,
    }


# The network `render --block` appends to a spec to draw one block alone: the file's head and
# feature settings describe the spec's own networks, not this one.
BLOCK_VIEW = "__block_view__"


def _check_head(settings, labels: list[str], classifier: str | None, span, sink) -> None:
    """`set head` names a top-level statement at or before the classifier."""
    start = settings.get("head")
    if not start:
        return
    if start not in labels:
        sink.emit(codes.UNKNOWN_SOURCE, f"`set head`: no top-level statement is labelled `{start}`", span,
                  "unknown label", help=did_you_mean(start, labels))
        return
    if classifier in labels and labels.index(start) > labels.index(classifier):
        sink.emit(codes.UNKNOWN_SOURCE, f"`set head`: `{start}` comes after the classifier `{classifier}`; "
                  f"the head starts at or before its classifier", span, "after the classifier",
                  help=f"name a statement before `{classifier}`, or `{classifier}` itself")


def check_metadata(program, definition: syntax.BlockDef, graph, sink) -> None:
    """`set classifier` names a top-level statement; `set feature_taps` names stages."""
    if definition.name == BLOCK_VIEW:
        return
    settings = program.settings_for(definition.span)
    module = program.files.get(definition.span.path, (None, None))[1]
    spans = {s.name: s.value.span for s in module.settings} if module is not None else {}
    labels = [s.label for s in definition.body if isinstance(s, syntax.Labeled) and s.label]
    if settings.get("classifier") and settings["classifier"] not in labels:
        sink.emit(codes.UNKNOWN_SOURCE, f"`set classifier`: no top-level statement is labelled "
                  f"`{settings['classifier']}`", spans.get("classifier"), "unknown label",
                  help=did_you_mean(settings["classifier"], labels))
    _check_head(settings, labels, settings.get("classifier") or None, spans.get("head"), sink)
    for tap in settings.get("feature_taps", ()) if not sink.has_errors else ():  # stages are known
        if resolve_tap(graph, tap) is None:
            stages = [s.name for s in graph.stages]
            sink.emit(codes.UNKNOWN_SOURCE, f"`set feature_taps`: `{tap}` is not a stage of the network",
                      spans.get("feature_taps"), "unknown stage", help=did_you_mean(tap, stages))
