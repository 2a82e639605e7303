"""The layer word `scale(value)`: multiply by a constant, the IR op `scale` of ops/graph.py
(which a residual's `scale=` makes too). timm's distilled heads (DeiT, EfficientFormer,
LeViT) average two classifiers in inference, `(head(x) + head_dist(x)) / 2`:
`sum { head: linear(n); head_dist: linear(n) }` then `scale(0.5)`."""

from __future__ import annotations

from inception_dsl.core.helper_classes import register_helper
from inception_dsl.core.signatures import REQUIRED, LayerSig, number
from inception_dsl.ops.base import LayerDef, coerced, register
from inception_dsl.ir import Op

__all__: list[str] = []

_ARGS = {"value": lambda b, n, s: number(b, n, s, -1e6, 1e6, "the scale")}

register_helper("Scale", '''
class Scale(nn.Module):
    """y = x * value, a constant (`scale(0.5)`: the mean of a distilled head's two classifiers)."""

    def __init__(self, value: float):
        super().__init__()
        self.value = value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.value
''')


def _elaborate(b, bound):
    attrs = coerced(_ARGS, bound, b.sink)
    return b.add("", Op.SCALE, attrs) if b.unique() else None


def _source(args, in_ch):
    args.helpers.add("Scale")
    return args.code(f"Scale({args.get('value').src})", in_ch)


register(LayerDef(
    LayerSig("scale", ("value",), {"value": REQUIRED}, summary="multiply by a constant", example="scale(0.5)"),
    elaborate=_elaborate, source=_source, args=_ARGS,
    doc="`y = x · value`; the mean of a distilled head's two classifiers is `sum { ... }` then `scale(0.5)`",
))
