"""Load weights trained with timm or torchvision into a compiled spec.

    from inception_dsl.runtime.interop import convert_state_dict
    ours = convert_state_dict(torch.load("ref.pth"), source="timm:inception_v4", model=model)
    model.load_state_dict(ours, strict=True)

The mapping from the reference's parameter names to ours is derived, never typed in.
A *layer* is any module that holds tensors of its own (parameters and persistent
buffers, not its children's): a conv, batchnorm, linear, layernorm or groupnorm by its
class, or any other module with tensors of its own (a block holding a layer-scale
vector, as torchvision's CNBlock and timm's MetaNeXtBlock do) under the role
`parameters`. The reference runs one forward pass under a torch function mode that
records the first use of each layer's tensors (so a block's own `gamma`, multiplied
after its children ran, comes after them); this execution order is paired position by
position with our module's layers in the order the spec defines them, and each pair
must agree on its role and on the shape of every tensor it holds (up to the 1x1 kernel
of a conv read as a channels-last Linear, and up to dimensions of size 1 for a
`parameters` layer: a (C, 1, 1) layer scale against a (C,) one). The reference's
execution order, not its registration order, because they differ (torchvision's
GoogLeNet registers its auxiliary heads last but runs them after inception4a/4d); our
definition order, not our execution order, because a generated forward may run a
residual's shortcut before its branch where torchvision runs it after (if the
definition order does not pair, our execution order is tried too). The first pair that
disagrees raises `InteropError` naming both layers.

Auxiliary heads only run in training mode in torchvision, so the tracing pass sets the
`training` flag of the top-level module alone: its forward takes the training path
while every BatchNorm and Dropout below stays in eval mode and nothing is updated.

Imports torch (and timm/torchvision when a reference is built): only torch-facing code
may import this module."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from typing import Mapping

import torch
from torch import nn

from inception_dsl.runtime.layer_trace import LayerTrace, flows_agree, pair_by_flow

__all__ = ["SOURCES", "InteropError", "Layer", "build_reference", "convert_state_dict", "definition_order",
           "execution_order", "has_aux_weights", "pair_layers"]

# Layer kinds known by class, checked in this order (Linear is not a conv, BN is neither);
# any other module with tensors of its own has the role GENERIC.
_ROLES: tuple[tuple[str, type], ...] = (
    ("conv", nn.modules.conv._ConvNd),
    ("batchnorm", nn.modules.batchnorm._BatchNorm),
    ("linear", nn.Linear),
    ("layernorm", nn.LayerNorm),
    ("groupnorm", nn.GroupNorm),
)
GENERIC = "parameters"


class InteropError(ValueError):
    """The weights cannot be carried over: the networks differ, or the source is unknown."""


@dataclass(frozen=True)
class _Source:
    library: str  # "timm" or "torchvision"
    name: str  # the model's name in that library
    trace_size: int = 224  # input resolution of the tracing pass (the reference is traced on the meta device)
    aux_prefix: str | None = None  # state_dict prefix of the auxiliary head(s), if it has any


# Shortcuts: every `timm:<name>` and `torchvision:<name>` works; these say what is special.
SOURCES: dict[str, _Source] = {
    "timm:inception_v4": _Source("timm", "inception_v4", 139),
    "timm:inception_resnet_v2": _Source("timm", "inception_resnet_v2", 139),
    # v3's auxiliary head needs the full 17x17 grid at Mixed_6e
    "timm:inception_v3": _Source("timm", "inception_v3", 299, "AuxLogits."),
    "torchvision:inception_v3": _Source("torchvision", "inception_v3", 299, "AuxLogits."),
    "torchvision:googlenet": _Source("torchvision", "googlenet", 96, "aux"),
    "torchvision:resnet50": _Source("torchvision", "resnet50", 96),
    "torchvision:vgg16": _Source("torchvision", "vgg16"),
    "torchvision:squeezenet1_1": _Source("torchvision", "squeezenet1_1"),
    "torchvision:resnext50_32x4d": _Source("torchvision", "resnext50_32x4d"),
    "torchvision:densenet121": _Source("torchvision", "densenet121"),
    "torchvision:mobilenet_v2": _Source("torchvision", "mobilenet_v2"),
    # built on the CPU (its constructor computes with tensors): a small tracing pass
    "torchvision:regnet_y_400mf": _Source("torchvision", "regnet_y_400mf", 64),
    # MobileViT's 2x2 patches need even grids down to the last stage (224 leaves 7x7)
    "timm:mobilevit_xs": _Source("timm", "mobilevit_xs", 256),
}
_LIBRARIES = ("timm", "torchvision")
_MODEL_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")


@dataclass(frozen=True)
class Layer:
    """One module holding tensors of its own, as found by tracing."""

    name: str  # its path in the module tree (the state_dict prefix)
    role: str  # conv | batchnorm | linear | layernorm | groupnorm | parameters
    shapes: tuple[tuple[str, tuple[int, ...]], ...]  # (local state key, shape), sorted by key
    uses: tuple[str, ...] = field(default=(), compare=False)  # its keys in the order a forward pass first used them

    def parts(self) -> list["Layer"]:
        """One `parameters` layer per tensor, in the order of first use: a module holding
        several tensors of its own (timm's VisionTransformer holds `cls_token` and
        `pos_embed`) against a model that keeps each in a layer of its own."""
        shapes = dict(self.shapes)
        order = list(self.uses) + [key for key in shapes if key not in self.uses]
        return [Layer(self.name, GENERIC, ((key, shapes[key]),)) for key in order]

    def describe(self) -> str:
        tensors = ", ".join(f"{key} {tuple(shape)}" for key, shape in self.shapes)
        return f"`{self.name}` ({self.role}: {tensors})"

    def matches(self, other: "Layer") -> bool:
        return self.key_pairs(other) is not None

    def key_pairs(self, other: "Layer") -> list[tuple[str, str]] | None:
        """(our key, other's key) for each tensor if the two layers hold the same tensors,
        else None. Same role: the same keys and shapes. A Linear against a 1x1 conv of the
        same weights (a channels-last reference, like ConvNeXt's pointwise Linear, against
        our 1x1 conv). A `parameters` layer against any layer: the same number of tensors
        whose shapes agree in key order once dimensions of size 1 are dropped (torchvision's
        layer scale (C, 1, 1) against a (C,) one; a hand-written LayerNorm module)."""
        same_keys = [(key, key) for key, _ in self.shapes]
        if self.role == other.role != GENERIC:
            return same_keys if self.shapes == other.shapes else None
        if {self.role, other.role} == {"conv", "linear"}:
            return same_keys if _pointwise(self.shapes) == _pointwise(other.shapes) else None
        if GENERIC in (self.role, other.role) and len(self.shapes) == len(other.shapes):
            if all(_squeezed(a) == _squeezed(b) for (_, a), (_, b) in zip(self.shapes, other.shapes)):
                return [(a, b) for (a, _), (b, _) in zip(self.shapes, other.shapes)]
        return None


def _pointwise(shapes) -> tuple:
    """Tensor shapes with a 1x1 kernel's trailing (1, 1) dropped."""
    return tuple((key, shape[:2] if len(shape) == 4 and shape[2:] == (1, 1) else shape) for key, shape in shapes)


def _squeezed(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(size for size in shape if size != 1)


def _source(source: str) -> _Source:
    """A shortcut of SOURCES, or any `timm:<model>` / `torchvision:<model>`."""
    if source in SOURCES:
        return SOURCES[source]
    library, _, name = source.partition(":")
    if library in _LIBRARIES and _MODEL_NAME.fullmatch(name):
        return _Source(library, name)
    raise InteropError(f"unknown weight source {source!r}: expected `timm:<model>` or `torchvision:<model>` "
                       f"(shortcuts: {', '.join(SOURCES)}), or pass the reference module itself as `reference=`")


def has_aux_weights(state_dict: Mapping[str, torch.Tensor], source: str) -> bool:
    """Whether a reference state_dict carries the auxiliary classifier(s)."""
    prefix = _source(source).aux_prefix
    return prefix is not None and any(key.startswith(prefix) for key in state_dict)


def build_reference(source: str, *, aux_logits: bool = False, num_classes: int = 1000) -> nn.Module:
    """The reference architecture with random weights (nothing is downloaded), eval mode."""
    spec = _source(source)
    kwargs: dict = {"num_classes": num_classes}
    if spec.aux_prefix is not None:
        kwargs["aux_logits"] = aux_logits
    try:
        with _no_downloads(source):
            if spec.library == "timm":
                import timm

                model = timm.create_model(spec.name, pretrained=False, **kwargs)
            else:
                model = _torchvision_model(spec.name, kwargs)
    except InteropError:
        raise
    except (RuntimeError, ValueError, KeyError) as error:  # an unknown model name
        raise InteropError(f"cannot build the reference {source!r}: {error}") from None
    return model.eval()


def _torchvision_model(name: str, kwargs: dict) -> nn.Module:
    """A torchvision model without any weights: every `weights*` argument of its builder
    (`weights`, and `weights_backbone` whose default is ImageNet weights in the detection
    and segmentation builders) is None."""
    import inspect

    import torchvision

    builder = torchvision.models.get_model_builder(name)
    if name in ("googlenet", "inception_v3"):
        kwargs["init_weights"] = False  # its truncated-normal init is slow and irrelevant here
    kwargs.update((key, None) for key in inspect.signature(builder).parameters if key.startswith("weights"))
    return builder(**kwargs)


@contextlib.contextmanager
def _no_downloads(source: str):
    """While a reference is built, torch.hub's and torchvision's download functions raise
    InteropError instead of fetching: building a structure never needs a file from the net."""
    import torch.hub

    def refuse(url, *args, **kwargs):
        raise InteropError(f"building the reference {source!r} would download {url}; inception-dsl builds "
                           "references without weights and never fetches a URL (pass the weights with --weights)")

    targets = [(torch.hub, "load_state_dict_from_url"), (torch.hub, "download_url_to_file")]
    try:
        from torchvision.models import _api

        targets.append((_api, "load_state_dict_from_url"))
    except ImportError:  # torchvision is not installed: nothing of it to guard
        pass
    saved = [(owner, attr, getattr(owner, attr)) for owner, attr in targets if hasattr(owner, attr)]
    for owner, attr, _ in saved:
        setattr(owner, attr, refuse)
    try:
        yield
    finally:
        for owner, attr, original in saved:
            setattr(owner, attr, original)


def _structure(source: str, *, aux_logits: bool, num_classes: int) -> nn.Module:
    """The reference on the meta device: its layers and their order, no weights to initialize.
    A constructor that computes with tensors (torchvision's RegNet derives its widths with
    torch.round(...).tolist(), which has no data on meta) is built on the CPU instead."""
    try:
        with torch.device("meta"):
            return build_reference(source, aux_logits=aux_logits, num_classes=num_classes)
    except InteropError:  # an unknown name fails again here, with the same message
        return build_reference(source, aux_logits=aux_logits, num_classes=num_classes)


def _own_state(module: nn.Module) -> dict[str, torch.Tensor]:
    """The module's own parameters and persistent buffers (not its children's). An integer
    buffer of a module other than a BatchNorm (whose step counter it is) is an index table
    derived from the architecture, not a weight: timm's EfficientFormer keeps its attention's
    `attention_bias_idxs` persistent where LeViT's and ours are not, so it is left out."""
    state = {name: p for name, p in module.named_parameters(recurse=False) if p is not None}
    skip = module._non_persistent_buffers_set
    counters = isinstance(module, nn.modules.batchnorm._BatchNorm)
    state.update((name, b) for name, b in module.named_buffers(recurse=False)
                 if b is not None and name not in skip and (counters or b.is_floating_point()))
    return state


def _role(module: nn.Module) -> str | None:
    """The layer's role, or None for a module without tensors of its own."""
    if not _own_state(module):
        return None
    return next((role for role, kind in _ROLES if isinstance(module, kind)), GENERIC)


def _layer(name: str, module: nn.Module, role: str, uses: tuple[str, ...] = ()) -> Layer:
    state = _own_state(module)
    return Layer(name, role, tuple(sorted((key, tuple(value.shape)) for key, value in state.items())), uses)


def definition_order(model: nn.Module) -> list[Layer]:
    """Every layer of `model` in registration order. A module compiled from a spec
    registers its layers in the order the spec writes them, which is the order a
    reference runs them in; its generated forward may differ where the order does not
    matter (it may run a residual's shortcut before the branch)."""
    return [_layer(name, module, role) for name, module in model.named_modules() if (role := _role(module))]


def execution_order(model: nn.Module, input_size: int | None = None) -> list[Layer]:
    """Every layer of `model` in the order one forward pass first uses its tensors
    (auxiliary heads included); layers the pass never reaches follow in registration order.
    Without `input_size`, the smallest of 64, 224 and 299 that the model runs at."""
    return trace_layers(model, input_size)[0]


def trace_layers(model: nn.Module, input_size: int | None = None) -> tuple[list[Layer], dict[str, frozenset[str]]]:
    """`execution_order`, and for each layer the layers whose outputs it reads (layer_trace.py)."""
    if input_size is None:
        for size in _TRACE_SIZES[:-1]:
            try:
                return trace_layers(model, size)
            except (RuntimeError, AssertionError):  # too small for its pooling; timm's ViT asserts its size
                continue
        input_size = _TRACE_SIZES[-1]
    layers = {name: (module, role) for name, module in model.named_modules() if (role := _role(module))}
    owners = {id(tensor): (name, key) for name, (module, _) in layers.items()
              for key, tensor in _own_state(module).items()}
    was_training = [m.training for m in model.modules()]
    model.eval()
    model.training = True  # the top-level forward takes its training path (aux heads); see module doc
    x = torch.zeros(1, _input_channels(model), input_size, input_size, device=_device(model))  # outside the mode
    try:
        with torch.no_grad(), LayerTrace(owners) as trace:
            model(x)
    finally:
        for module, flag in zip(model.modules(), was_training):
            module.training = flag
    order = trace.order + [name for name in layers if name not in trace.order]
    return [_layer(name, *layers[name], tuple(trace.uses.get(name, ()))) for name in order], trace.inputs


_TRACE_SIZES = (64, 224, 299)


def _input_channels(model: nn.Module) -> int:
    """The channels the first conv reads (3 for an RGB classifier)."""
    conv = next((m for m in model.modules() if isinstance(m, nn.modules.conv._ConvNd)), None)
    return conv.in_channels if conv is not None else 3


def _device(model: nn.Module) -> torch.device:
    tensor = next(model.parameters(), None)
    return tensor.device if tensor is not None else torch.device("cpu")


def pair_layers(reference: list[Layer], ours: list[Layer]) -> list[tuple[Layer, Layer]]:
    """Pair two execution orders position by position; raise on the first disagreement.
    A reference layer holding several tensors of its own pairs with as many one-tensor
    layers of ours (`Layer.parts`) where it does not pair as a whole."""
    reference = _split_where_needed(reference, ours)
    for index, (theirs, mine) in enumerate(zip(reference, ours)):
        if not theirs.matches(mine):
            raise InteropError(
                f"layer {index} disagrees: the reference runs {theirs.describe()} where the model runs "
                f"{mine.describe()}")
    if len(reference) != len(ours):
        longer, which = (reference, "reference") if len(reference) > len(ours) else (ours, "model")
        extra = longer[min(len(reference), len(ours))]
        raise InteropError(
            f"the reference has {len(reference)} weighted layers and the model {len(ours)}; "
            f"the first one without a partner is the {which}'s {extra.describe()}")
    return list(zip(reference, ours))


def _split_where_needed(reference: list[Layer], ours: list[Layer]) -> list[Layer]:
    result: list[Layer] = []
    for theirs in reference:
        mine = ours[len(result):]
        parts = theirs.parts() if theirs.role == GENERIC and len(theirs.shapes) > 1 else []
        whole = bool(mine) and theirs.matches(mine[0])
        split = len(mine) >= len(parts) and all(p.matches(m) for p, m in zip(parts, mine))
        result.extend(parts if parts and not whole and split else [theirs])
    return result


def convert_state_dict(
    state_dict: Mapping[str, torch.Tensor] | None = None,
    *,
    model: nn.Module,
    source: str | None = None,
    reference: nn.Module | None = None,
    input_size: int | None = None,
) -> dict[str, torch.Tensor]:
    """Rename a reference state_dict so that `model.load_state_dict(result, strict=True)`
    accepts it. The reference is either `source` (`timm:<model>`, `torchvision:<model>`;
    its architecture is built to trace it) or `reference`, any nn.Module that computes the
    same network (its own state_dict is used when `state_dict` is None). Weights that carry
    auxiliary heads the model does not have lose them, as torchvision's own loader drops
    them for `aux_logits=False`; every other difference raises InteropError."""
    if (source is None) == (reference is None):
        raise InteropError("give exactly one of `source` (like 'torchvision:vgg16') and `reference` (a module)")
    if reference is not None:
        state_dict = reference.state_dict() if state_dict is None else state_dict
        pairs = _pair_orders(trace_layers(reference, input_size), model, input_size)
        return _converted(state_dict, pairs, model)
    if state_dict is None:
        raise InteropError(f"no weights given for {source!r}")
    spec = _source(source)
    with_aux = has_aux_weights(state_dict, source)
    try:
        pairs = _pair(state_dict, source, model, aux_logits=with_aux)
    except InteropError as error:
        if not with_aux:
            raise
        without = {k: v for k, v in state_dict.items() if not k.startswith(spec.aux_prefix)}
        try:
            pairs = _pair(without, source, model, aux_logits=False)
        except InteropError:
            raise error from None
    return _converted(state_dict, pairs, model)


def _converted(state_dict: Mapping[str, torch.Tensor], pairs, model: nn.Module) -> dict[str, torch.Tensor]:
    converted: dict[str, torch.Tensor] = {}
    for theirs, mine in pairs:
        shapes = dict(mine.shapes)
        for my_key, their_key in mine.key_pairs(theirs):
            tensor = state_dict[_join(theirs.name, their_key)]
            shape = shapes[my_key]
            converted[_join(mine.name, my_key)] = tensor if tuple(tensor.shape) == shape else tensor.reshape(shape)
    missing = [key for key in model.state_dict() if key not in converted]
    if missing:
        raise InteropError(f"the model has state no layer pairing covers: {', '.join(missing[:5])}")
    return converted


def _pair(state_dict: Mapping[str, torch.Tensor], source: str, model: nn.Module, *,
          aux_logits: bool) -> list[tuple[Layer, Layer]]:
    """Build the reference for these weights and pair its layers with the model's."""
    spec = _source(source)
    reference = _structure(source, aux_logits=aux_logits, num_classes=_num_classes(state_dict))
    _check_keys(reference, state_dict, source)
    return _pair_orders(trace_layers(reference, spec.trace_size), model, spec.trace_size)


def _pair_orders(traced: tuple[list[Layer], dict], model: nn.Module, input_size: int | None) -> list[tuple[Layer, Layer]]:
    """The reference's running order against our definition order, else our running order;
    where the pairs found that way do not read what their partners read (a `sum` whose
    branches of equal shapes run in another order), or neither order pairs (a `sum` whose
    branches run in another order), the pairing by data flow (layer_trace.pair_by_flow)."""
    theirs, their_inputs = traced
    ours, our_inputs = trace_layers(model, input_size)
    try:
        pairs = _first_pairing(theirs, [definition_order(model), ours])
    except InteropError as error:
        pairs = pair_by_flow(theirs, their_inputs, ours, our_inputs, Layer.matches, _name)
        if pairs is None:
            raise error from None
        return pairs
    if flows_agree(pairs, their_inputs, our_inputs, _name):
        return pairs
    return pair_by_flow(theirs, their_inputs, ours, our_inputs, Layer.matches, _name) or pairs


def _first_pairing(theirs: list[Layer], orders: list[list[Layer]]) -> list[tuple[Layer, Layer]]:
    """The pairing with the first of our orders that pairs; else the first order's error."""
    first_error = None
    for ours in orders:
        try:
            return pair_layers(theirs, ours)
        except InteropError as error:
            first_error = first_error or error
    raise first_error


def _name(layer: Layer) -> str:
    return layer.name


def _num_classes(state_dict: Mapping[str, torch.Tensor]) -> int:
    """The classifier width: the output size of the last 2-d weight (every source ends in its
    classifier), or without one, of the last conv weight (a segmentation head's 1x1 conv)."""
    for dims in ((2,), (3, 4, 5)):
        weights = [value for key, value in state_dict.items() if key.endswith("weight") and value.dim() in dims]
        if weights:
            return int(weights[-1].shape[0])
    return 1000


def _check_keys(reference: nn.Module, state_dict: Mapping[str, torch.Tensor], source: str) -> None:
    expected = reference.state_dict()
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    wrong = [k for k in expected if k in state_dict and tuple(state_dict[k].shape) != tuple(expected[k].shape)]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} key(s), first `{missing[0]}`")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected key(s), first `{unexpected[0]}`")
        if wrong:
            key = wrong[0]
            parts.append(f"`{key}` is {tuple(state_dict[key].shape)}, {source} has {tuple(expected[key].shape)}")
        raise InteropError(f"these weights are not a {source} state_dict: " + "; ".join(parts))


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key
