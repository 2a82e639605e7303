"""Stochastic depth: the IR op `drop_path` and the layer word `drop_path(p)`, as timm's
DropPath: the identity in eval; in training each sample's whole tensor is kept with
probability 1 - p and then scaled by 1 / (1 - p) (dropped samples are zero). No
parameters. The optimizer removes it (passes/rewrites/drop_inference_noops.py)."""

from __future__ import annotations

from inception_dsl.core.literals import py_literal
from inception_dsl.core.helper_classes import register_helper
from inception_dsl.ir import FLOAT, Op, OpKind
from inception_dsl.core.signatures import REQUIRED, LayerSig, number
from inception_dsl.ops.base import LayerDef, coerced, register

__all__ = ["DROP_PATH"]


def _forward(emitter, node, ins, out) -> list[str]:
    """timm's drop_path written out: a per-sample Bernoulli mask, divided by keep (unless 0)."""
    x, keep = ins[0], 1.0 - float(node.attrs["p"])
    if keep == 1.0 or emitter.inference_only:
        return [f"{out} = {x}"]
    mask = f"{x}.new_empty(({x}.shape[0],) + (1,) * ({x}.dim() - 1)).bernoulli_({py_literal(keep)})"
    mask += f".div_({py_literal(keep)})" if keep > 0.0 else ""
    return [f"{out} = {x} * {mask} if self.training else {x}"]


DROP_PATH = OpKind(
    "drop_path", {"p": FLOAT}, doc="stochastic depth (timm DropPath): per-sample drop with probability p, training only",
    label=lambda node, members: f"DropPath ({node.attrs['p']:g})",
    forward=_forward,
    alias=lambda emitter, node: emitter.inference_only,  # in training it makes a new tensor
    inference_noop=True,
)

register_helper("DropPath", '''
class DropPath(nn.Module):
    """Stochastic depth, as timm's DropPath: the identity in eval; in training each sample
    is kept with probability 1 - drop_prob and scaled by 1 / (1 - drop_prob)."""

    def __init__(self, drop_prob: float = 0.0):
        super().__init__()
        self.drop_prob = float(drop_prob)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.drop_prob == 0.0 or not self.training:
            return x
        keep = 1.0 - self.drop_prob
        mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
        if keep > 0.0:
            mask.div_(keep)
        return x * mask

    def extra_repr(self) -> str:
        return f"drop_prob={self.drop_prob:g}"
''')


def _p(bound, name, sink) -> float:
    return number(bound, name, sink, 0.0, 1.0, "the drop-path probability")


_ARGS = {"p": _p}


def _elaborate(b, bound):
    if not b.unique():
        return None
    return b.add("", Op.DROP_PATH, coerced(_ARGS, bound, b.sink))


def _source(args, in_ch):
    args.helpers.add("DropPath")
    return args.code(f"DropPath({args.get('p').src})", in_ch)


register(LayerDef(LayerSig("drop_path", ("p",), {"p": REQUIRED}, summary="stochastic depth (per-sample drop)",
                           example="drop_path(0.1)"),
                  elaborate=_elaborate, source=_source, args=_ARGS,
                  doc="`p` in [0, 1]; timm's DropPath: the identity in eval; in training each sample is dropped whole "
                      "with probability `p`, the kept ones scaled by 1/(1−p)"))
