"""A channel slice as its own tensor: the layer word `channels(start, stop)`, channels
[start, stop) of its input (the IR's `slice`, ops/graph.py; `x[:, start:stop]`). With
`from` it takes a group of any earlier labelled tensor: Res2Net's scales
(`channels(w, 2 * w) from conv1`), rexnet's partial shortcut (`sum { channels(0, c);
identity from input }`). A slice past the input's channels is E211 (located, with the
range); `start` not below `stop` is E112."""

from __future__ import annotations

from inception_dsl.core import codes
from inception_dsl.core.helper_classes import register_helper
from inception_dsl.core.signatures import REQUIRED, LayerSig, positive_int
from inception_dsl.core.values import EvalError
from inception_dsl.ir import Op
from inception_dsl.ops.base import LayerDef, coerced, register

_ARGS = {"start": lambda b, n, s: positive_int(b, n, s, "the first channel", minimum=0),
         "stop": lambda b, n, s: positive_int(b, n, s, "the channel after the last")}


def _elaborate(b, bound):
    attrs = coerced(_ARGS, bound, b.sink)
    if attrs["start"] >= attrs["stop"]:
        b.sink.emit(codes.BAD_VALUE, f"channels({attrs['start']}, {attrs['stop']}) is empty: `start` must be below "
                    "`stop`", bound.span("stop"), "not after start",
                    help=f"`channels(a, b)` takes channels a to b - 1, e.g. `channels({attrs['start']}, "
                         f"{attrs['start'] + 1})`")
        raise EvalError()
    return b.add("", Op.SLICE, attrs) if b.unique() else None


_HELPER = '''
class Channels(nn.Module):
    """Channels [start, stop) of the input (`channels(start, stop)`)."""

    def __init__(self, start: int, stop: int, in_channels: int | None = None):
        super().__init__()
        if in_channels is not None and not 0 <= start < stop <= in_channels:
            raise ValueError(f"Channels: channels {start}:{stop} of a {in_channels}-channel input are out of range")
        self.start, self.stop = start, stop

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, self.start:self.stop]
'''
register_helper("Channels", _HELPER)


def _source(args, in_ch):
    start, stop = args.get("start"), args.get("stop")
    out = stop.value - start.value if not (start.symbolic or stop.symbolic) else f"({stop.src}) - ({start.src})"
    args.helpers.add("Channels")
    return args.code(f"Channels({start.src}, {stop.src}, {in_ch})", out)


register(LayerDef(
    LayerSig("channels", ("start", "stop"), {"start": REQUIRED, "stop": REQUIRED},
             summary="channels [start, stop) of the input as a tensor of its own", example="channels(0, 16)"),
    elaborate=_elaborate, source=_source, keeps_channels=False, args=_ARGS,
    doc="`x[:, start:stop]`; with `from LABEL` a group of an earlier tensor (Res2Net's scales, rexnet's partial "
        "shortcut); past the input's channels E211",
))
