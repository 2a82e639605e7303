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
never by comparing names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping, Protocol, Union

from inception_dsl.ir import fmt_shape, origin_notes
from inception_dsl.core import codes
from inception_dsl.core.diagnostics import DiagnosticSink
from inception_dsl.core.shapes import same_padding
from inception_dsl.core.signatures import SETTINGS, Bound, LayerSig, bind
from inception_dsl.core.values import EvalError

if TYPE_CHECKING:  # types only: the backends import ops, not the other way round at run time
    from inception_dsl.core.python_exprs import LayerCode, SourceArgs

__all__ = ["LayerDef", "Builder", "LAYERS", "register", "Grid", "keep_grid", "no_grid", "window_grid", "window_of",
           "shape_error", "spatial", "same_shape", "spatial_same", "size", "pair_text", "padding_words", "symmetric",
           "call_module"]

Grid = Union[tuple[int, int], str, None]  # (h, w); a Python expression of h*w; or unknown


class Builder(Protocol):
    """What a layer's `elaborate` is given (language/elaborate.py implements it)."""

    sink: DiagnosticSink
    settings: Mapping[str, Any]

    def unique(self, suffix: str = "") -> bool:
        """Whether the node id `<path>.<suffix>` is still free (E-code emitted if not)."""

    def add(self, suffix: str, kind: Any, attrs: dict) -> str | None:
        """Add a node `<path>.<suffix>` reading the last node added (the call's input at
        first) and return its id."""


GridRule = Callable[[Any, Mapping[str, Any], Grid, Mapping[str, str], set], Grid]


@dataclass(frozen=True)
class LayerDef:
    """A layer word of the language. `elaborate(builder, bound)` adds its IR nodes and
    returns the last one; `source(args, in_channels)` writes its module's constructor for
    a standalone file; `grid(call, env, grid, names, helpers)` says what grid it leaves
    (for a `flatten` further on); `window(bound, sink, hw)` is its output grid when it is
    a sliding window (conv, pooling)."""

    sig: LayerSig
    elaborate: Callable[[Builder, Bound], str | None]
    source: Callable[["SourceArgs", Any], "LayerCode"]
    keeps_channels: bool = True
    grid: GridRule | None = None
    window: Callable[[Bound, DiagnosticSink, tuple[int, int]], tuple[int, int]] | None = None
    # its part in a timm-style classifier head: "pool", "flatten" or "dropout" (backends/python/model_api.py)
    head: str = ""

    @property
    def name(self) -> str:
        return self.sig.name

    def leaves_grid(self, call, env, grid: Grid, names: Mapping[str, str], helpers: set) -> Grid:
        return self.grid(call, env, grid, names, helpers) if self.grid is not None else None


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
    """Whether the input is CxHxW (E-coded error if it is already flat)."""
    if len(shape) != 3:
        shape_error(sink, node, codes.NOT_SPATIAL, f"{what} needs a CxHxW input, got the flat {fmt_shape(shape)}",
                    "input is already flattened", help="move it before `flatten`")
        return False
    return True


def same_shape(graph, node, shapes, sink):
    return shapes[0]


def spatial_same(what: str):
    """The shape rule of an op that keeps a CxHxW shape (BatchNorm2d)."""
    return lambda graph, node, shapes, sink: shapes[0] if spatial(node, shapes[0], sink, what) else None


def size(shape) -> int:
    total = 1
    for d in shape or ():
        total *= d
    return total


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


# -- grid facts -------------------------------------------------------------------------
def keep_grid(call, env, grid: Grid, names, helpers) -> Grid:
    """The layer keeps the grid (BN, activations, dropout, flatten)."""
    return grid


def no_grid(call, env, grid: Grid, names, helpers) -> Grid:
    return None


def window_grid(call, env, grid: Grid, names, helpers) -> Grid:
    """A sliding window: computed for a known grid; an expression grid survives only a
    layer that keeps every size."""
    if isinstance(grid, str):
        probes = [(9, 9), (10, 10)]  # a layer that keeps these keeps any size
        return grid if all(window_of(call, env, p) == p for p in probes) else None
    return window_of(call, env, grid) if grid is not None else None


def window_of(call, env: Mapping[str, Any], grid: tuple[int, int]) -> tuple[int, int] | None:
    """The output grid of a window layer call, computed as shape inference does (None on doubt)."""
    definition = LAYERS[call.name]
    sink = DiagnosticSink()
    try:
        return definition.window(bind(call, definition.sig, env, SETTINGS, sink), sink, grid)
    except EvalError:
        return None
