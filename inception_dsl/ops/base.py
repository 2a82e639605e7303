"""What an operation is made of, and the registry of the spec's layer words.

Two levels, both defined in one op module (inception_dsl/ops/<family>.py):

* `ir.OpKind`: an IR operation (`conv`, `pool`, `concat`, ...) with its attribute schema
  and its behaviour: shape rule, parameter and MAC counts, diagram label and fill, the
  torch constructor of its module (ops with weights) and its line of a flat forward.
* `LayerDef`: a word of the language (`conv`, `maxpool`, `relu`, ...) with its signature,
  how a call elaborates into IR nodes (`elaborate`), the constructor of its module in a
  standalone generated file (`source`), and the facts the code generator asks (does it
  keep the channel count, what grid does it leave).

Consumers dispatch through these objects (`node.op.shape(...)`, `LAYERS[call.name]`),
never by comparing names. What a pass, lint or `diff` needs to know of an op is a fact or
a trait on its `OpKind` (defaults in ir.py):

* `fresh`, `alias`: bools or `(emitter, node) -> bool`; the result is a new tensor (it may
  be written in place) / the result may be the input tensor itself or a view of it.
* `sliding`: a window with kernel, stride and padding attributes (lint's dropped pixels,
  the concat's fix search).
* `weight_scale`: how a factor per output channel (a BatchNorm, a residual scale) folds
  into its weight, "rows" (nn.Conv2d) or "transposed" (nn.ConvTranspose2d); None if not.
* `inference_noop`: a bool or `attrs -> bool`, the identity in inference (removed by
  passes/rewrites/drop_inference_noops.py).
* `residual_sum`: the sum of a residual's shortcut and branch, not any `sum { ... }`
  (`set zero_init_residual` zeroes the BatchNorm its branch ends in).
* `describe(attrs)`: a few words for `diff`; `call(x, attrs)`: the functional form of a
  one-input op, which its default `forward` writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping, Protocol, Union

from inception_dsl.ir import Node, fmt_shape, origin_notes
from inception_dsl.core import codes
from inception_dsl.core.diagnostics import DiagnosticSink
from inception_dsl.core.shapes import same_padding, is_tokens
from inception_dsl.core.signatures import SETTINGS, Bound, LayerSig, bind
from inception_dsl.core.values import EvalError

if TYPE_CHECKING:  # types only: the backends import ops, not the other way round at run time
    from inception_dsl.core.python_exprs import LayerCode, SourceArgs

__all__ = ["LayerDef", "Builder", "LAYERS", "register", "Grid", "run_shapes", "PROBE_CHANNELS",
           "shape_error", "spatial", "on_tokens", "unfolded", "heads_divide", "same_shape", "spatial_same", "size",
           "pair_text", "padding_words", "symmetric",
           "call_module", "dims_text", "stride_words", "Coerce", "coerced"]

Grid = Union[tuple[int, int], str, None]  # (h, w); a Python expression of h*w; or unknown


class Builder(Protocol):
    """What a layer's `elaborate` is given (language/elaborate.py implements it)."""

    sink: DiagnosticSink
    settings: Mapping[str, Any]

    def unique(self, suffix: str = "") -> bool:
        """Whether the node id `<path>.<suffix>` is still free (E-code emitted if not)."""

    def add(self, suffix: str, kind: Any, attrs: dict, also: tuple[str, ...] = ()) -> str | None:
        """Add a node `<path>.<suffix>` reading the last node added (the call's input at
        first), then the nodes `also`, and return its id."""

    def tensor(self, label: str, span: Any) -> str | None:
        """The node of an earlier labelled statement of the call's sequence (E113 if none)."""

    def add_from(self, suffix: str, kind: Any, attrs: dict, inputs: list[str]) -> str | None:
        """Add a node `<path>.<suffix>` reading `inputs` and return its id."""

    def in_shape(self) -> Any:
        """The shape of the call's input, or None where it is not known."""


GridRule = Callable[[Any, Mapping[str, Any], Grid, Mapping[str, str], set], Grid]
Coerce = Callable[[Bound, str, DiagnosticSink], Any]


def coerced(table: Mapping[str, Coerce], bound: Bound, sink: DiagnosticSink) -> dict[str, Any]:
    """Every argument of `table`, checked by its coercion (raises EvalError after an E-code)."""
    return {name: coerce(bound, name, sink) for name, coerce in table.items()}


@dataclass(frozen=True)
class LayerDef:
    """A layer word of the language. `elaborate(builder, bound)` adds its IR nodes and
    returns the last one; `source(args, in_channels)` writes its module's constructor for
    a standalone file. What grid a call leaves (for a `flatten` further on) is derived:
    the call is lowered to its nodes (`lower`) and their ops' shape rules run; `grid`
    overrides it only where a block parameter can set the grid (adaptive pooling: an
    expression of its area). `keeps_channels` is declared for the standalone source and
    checked against the shape rules by tests/test_architecture.py."""

    sig: LayerSig
    elaborate: Callable[[Builder, Bound], str | None]
    source: Callable[["SourceArgs", Any], "LayerCode"]
    keeps_channels: bool = True
    grid: GridRule | None = None
    # its part in a timm-style classifier head: "pool", "flatten", "dropout" or "classifier"
    # (backends/python/model_api.py, language/metadata.py)
    head: str = ""
    doc: str = ""  # what docs/language.md's generated table says of it, beyond the signature's summary
    # how each argument is checked: the one coercion (bound, name, sink) -> value that
    # `elaborate` (through `coerced`) and `source` (`args.get(name)`) both use
    args: Mapping[str, Coerce] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.sig.name

    def leaves_grid(self, call, env, grid: Grid, names: Mapping[str, str], helpers: set) -> Grid:
        if self.grid is not None:
            return self.grid(call, env, grid, names, helpers)
        if isinstance(grid, tuple):
            return self.grid_of(call, env, grid)
        probes = [self.grid_of(call, env, p) for p in [(9, 9), (10, 10)]]
        if probes == [(9, 9), (10, 10)]:  # it keeps every size: an expression of the area survives
            return grid
        return probes[0] if probes[0] is not None and probes[0] == probes[1] else None  # a fixed grid (global pooling)

    def lower(self, call, env: Mapping[str, Any]) -> list | None:
        """The IR nodes (`ir.Node`, unconnected) that `call` elaborates into, or None when
        its arguments are not all known here."""
        sink = DiagnosticSink()
        try:
            bound = bind(call, self.sig, env, SETTINGS, sink)
            probe = _Probe(sink)
            self.elaborate(probe, bound)
        except EvalError:
            return None
        return probe.nodes if not sink.has_errors else None

    def grid_of(self, call, env, grid: tuple[int, int]) -> tuple[int, int] | None:
        """The grid the call leaves from `grid`, by its nodes' shape rules (None on doubt)."""
        shape = run_shapes(self.lower(call, env), (PROBE_CHANNELS, *grid))
        return tuple(shape[1:]) if shape is not None and len(shape) == 3 else None


PROBE_CHANNELS = 40320  # 8!: divisible by any small group count


def run_shapes(nodes, shape) -> tuple[int, ...] | None:
    """The shape after `nodes` (a chain) from `shape`, by their shape rules; None if one refuses."""
    if nodes is None:
        return None
    sink = DiagnosticSink()
    for node in nodes:
        shape = node.op.shape(None, node, [shape], sink)
        if shape is None:
            return None
    return shape


class _Probe:
    """A `Builder` that keeps the nodes a call adds, unconnected (LayerDef.lower)."""

    settings = SETTINGS

    def __init__(self, sink: DiagnosticSink) -> None:
        self.sink, self.nodes = sink, []

    def unique(self, suffix: str = "") -> bool:
        return True

    def add(self, suffix: str, kind: Any, attrs: dict, also: tuple[str, ...] = ()) -> str:
        self.nodes.append(Node(suffix or "node", kind, dict(attrs)))
        return suffix

    def add_from(self, suffix: str, kind: Any, attrs: dict, inputs: list[str]) -> str:
        return self.add(suffix, kind, attrs)

    def in_shape(self) -> Any:
        return None

    def tensor(self, label: str, span: Any) -> str:
        return label  # unconnected: a two-input node's rule sees one shape and leaves the grid unknown


LAYERS: dict[str, LayerDef] = {}


def register(*definitions: LayerDef) -> None:
    for definition in definitions:
        if definition.name in LAYERS:
            raise ValueError(f"layer {definition.name!r} is defined twice")
        LAYERS[definition.name] = definition


# -- shape rules ------------------------------------------------------------------------
def shape_error(sink: DiagnosticSink, node, code, message: str, label: str, **kwargs) -> None:
    """A shape diagnostic at the node's statement, with the block call chain as notes."""
    notes = list(kwargs.pop("notes", ())) + origin_notes(node)
    sink.emit(code, message, node.span, label, notes=notes, **kwargs)


def spatial(node, shape, sink: DiagnosticSink, what: str) -> bool:
    """Whether the input is CxHxW (E204 if it is flat or tokens)."""
    if is_tokens(shape):
        shape_error(sink, node, codes.NOT_SPATIAL, f"{what} needs a CxHxW input, got {fmt_shape(shape)}",
                    "input is a sequence of tokens", help="put them back on a grid first with `to_grid`"
                    + ("" if shape.grid else " and their size, like `to_grid(14x14)`"))
        return False
    if len(shape) != 3:
        shape_error(sink, node, codes.NOT_SPATIAL, f"{what} needs a CxHxW input, got the flat {fmt_shape(shape)}",
                    "input is already flattened", help="move it before `flatten`")
        return False
    return True


def on_tokens(node, shape, sink: DiagnosticSink, what: str) -> bool:
    """Whether the input is a sequence of tokens (E212 if it is a grid or flat)."""
    if is_tokens(shape):
        return True
    grid = len(shape) == 3
    shape_error(sink, node, codes.NOT_TOKENS, f"{what} needs tokens, got the {'grid' if grid else 'flat'} "
                f"{fmt_shape(shape)}", "input is a CxHxW grid" if grid else "input is flat features",
                help="turn the grid into tokens first with `to_tokens`" if grid else
                "token layers come before the head's `token` or `avg_tokens`")
    return False


def heads_divide(node, width: int, sink: DiagnosticSink, what: str, other_fix: str = "") -> bool:
    """Whether the node's `heads` divide the width (E213 with the nearest divisors if not;
    `other_fix` ends the help with a fix the op has besides other heads)."""
    heads = node.attrs["heads"]
    if width % heads == 0:
        return True
    divisors = [d for d in range(1, width + 1) if width % d == 0]
    near = sorted(sorted(divisors, key=lambda d: (abs(d - heads), d))[:2])
    shape_error(sink, node, codes.BAD_HEADS, f"{what} with {heads} heads needs a width divisible by {heads}, "
                f"got {width} channels", f"{width} channels",
                help=f"use {' or '.join(f'`heads={d}`' for d in near)} "
                f"(the divisors of {width}: {', '.join(map(str, divisors))})" + (f", or {other_fix}" if other_fix else ""))
    return False


def same_shape(graph, node, shapes, sink):
    return shapes[0]


def spatial_same(what: str):
    """The shape rule of an op that keeps a CxHxW shape (BatchNorm2d)."""
    return lambda graph, node, shapes, sink: shapes[0] if spatial(node, shapes[0], sink, what) else None


def size(shape) -> int:
    """The product of the dimensions (of one sequence, for folded tokens: `Tokens.batch`)."""
    total = 1
    for d in shape or ():
        total *= d
    return total


def unfolded(node, shape, sink: DiagnosticSink, what: str) -> bool:
    """Whether tokens are one sequence per image (E212 for `to_patches`'s folded ones)."""
    if getattr(shape, "batch", 1) == 1:
        return True
    shape_error(sink, node, codes.NOT_TOKENS, f"{what} needs one sequence of tokens per image, got {fmt_shape(shape)} "
                f"(patches folded into the batch)", "patches folded into the batch",
                help="fold them back onto their grid first with `from_patches`")
    return False


def pair_text(values: tuple[int, int]) -> str:
    """`3` for (3, 3), `1x7` otherwise (diagram labels)."""
    return str(values[0]) if values[0] == values[1] else f"{values[0]}x{values[1]}"


def padding_words(kernel, padding, dilation=(1, 1)) -> list[str]:
    """The paper's padding marks in a label: `V` for valid, nothing for same, else the numbers."""
    if tuple(padding) == (0, 0, 0, 0) and tuple(kernel) != (1, 1):
        return ["V"]
    if tuple(padding) == same_padding(kernel[0], dilation[0]) + same_padding(kernel[1], dilation[1]):
        return []
    return ["pad " + ",".join(map(str, padding))]


def symmetric(padding) -> tuple[int, int] | None:
    """(top, left) when padding is even on both sides (what nn.Conv2d and pooling take)."""
    top, bottom, left, right = padding
    return (top, left) if top == bottom and left == right else None


def call_module(emitter, node, ins, out) -> list[str]:
    """The flat forward line of an op with weights: its submodule, called."""
    return [f"{out} = self.{emitter.attr_of[node.id]}({ins[0]})"]


# -- diff words (study/diff.py: `describe`) ---------------------------------------------
def dims_text(value) -> str:
    """`3x3` for a tuple of ints, `0.2` for a float: attribute values in a few words."""
    if isinstance(value, tuple) and value and all(isinstance(v, int) for v in value):
        return "x".join(map(str, value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def stride_words(stride) -> list[str]:
    """`["stride 2"]` (nothing for stride 1)."""
    if tuple(stride) == (1, 1):
        return []
    return [f"stride {stride[0]}" if len(set(stride)) == 1 else f"stride {dims_text(tuple(stride))}"]
