"""Weight initialization as the reference libraries do it, written into the generated
network class: the scheme a spec names with `set init = "torchvision.resnet"`
(language/metadata.py lists the names), or `load(..., init=...)`, becomes the class's
`_init_weights` method, which its `__init__` calls last, as torchvision's and timm's
constructors call their `_initialize_weights` / `_init_weights`. So the standalone file of
`compile` and `load()` start from the same weights (load() executes the same source).

Each scheme is the reference's own loop over `self.modules()`, read off torchvision's and
timm's sources, over the modules a generated network is made of (`nn.Conv2d`, `nn.Linear`,
`nn.BatchNorm2d`, LayerNorm, LayerScale, which start where PyTorch and the constructors put
them: norms at weight 1 and bias 0, layer scales at their `init`). `zero_init_residual`
zeroes the last BatchNorm of every residual branch (torchvision's
`zero_init_residual=True`, timm's `zero_init_last`), found in the IR: the module a
residual's sum reads its branch from. No torch here: this is text."""

from __future__ import annotations

from dataclasses import dataclass

from inception_dsl.core.literals import py_literal
from inception_dsl.language.metadata import INIT_SCHEMES, METADATA

__all__ = ["SCHEMES", "Scheme", "init_method", "zero_init_candidates", "write_init_weights"]


@dataclass(frozen=True)
class Scheme:
    """What a reference does to each kind of layer, as statements on the module `m`; ""
    leaves PyTorch's default."""

    conv: str = ""
    conv_bias_zero: bool = False
    linear: str = ""
    linear_bias_zero: bool = False
    last_conv: str = ""  # the network's last conv (SqueezeNet's final_conv)
    bn_reset: bool = False  # BatchNorm scale 1, offset 0 (TF-slim)
    tensors: tuple[tuple[str, str], ...] = ()  # (IR op, statement on its weight tensors `p`): ViT's tokens


_KAIMING_FAN_OUT = 'nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")'


def _trunc_normal(std: float) -> str:
    return f"nn.init.trunc_normal_(m.weight, mean=0.0, std={std}, a=-2.0, b=2.0)"


def _normal(std: float) -> str:
    return f"nn.init.normal_(m.weight, 0.0, {std})"


# torchvision's EfficientNet classifier: U(-1/sqrt(out), 1/sqrt(out))
_UNIFORM_BY_OUT = "nn.init.uniform_(m.weight, -m.out_features ** -0.5, m.out_features ** -0.5)"
# torchvision's RegNet: N(0, sqrt(2 / (k_h * k_w * out_channels)))
_REGNET_CONV = "nn.init.normal_(m.weight, 0.0, (2.0 / (m.kernel_size[0] * m.kernel_size[1] * m.out_channels)) ** 0.5)"
# TF-slim's Inception arg scope: variance_scaling_initializer() (factor 2, fan-in, truncated
# normal with stddev sqrt(1.3 * 2 / fan_in), cut at two standard deviations); fully
# connected weights Glorot-uniform (slim's default xavier_initializer)
_TF_CONV = ("std = (1.3 * 2.0 / m.weight[0].numel()) ** 0.5\n"
            "nn.init.trunc_normal_(m.weight, mean=0.0, std=std, a=-2 * std, b=2 * std)")

# timm's EfficientNet and ByobNet: N(0, sqrt(2 / fan-out)), the fan-out per group
_GOOG_CONV = ("nn.init.normal_(m.weight, 0.0, (2.0 / (m.kernel_size[0] * m.kernel_size[1] * m.out_channels "
              "// m.groups)) ** 0.5)")
_TRUNC_02 = Scheme(conv=_trunc_normal(0.02), conv_bias_zero=True, linear=_trunc_normal(0.02), linear_bias_zero=True)
_MOBILE = Scheme(conv=_KAIMING_FAN_OUT, conv_bias_zero=True, linear=_normal(0.01), linear_bias_zero=True)

SCHEMES: dict[str, Scheme] = {
    "torch": Scheme(),  # PyTorch's defaults (timm's inception_v4, inception_resnet_v2; torchvision's shufflenet_v2)
    "tf": Scheme(conv=_TF_CONV, conv_bias_zero=True, linear="nn.init.xavier_uniform_(m.weight)",
                 linear_bias_zero=True, bn_reset=True),
    "torchvision.resnet": Scheme(conv=_KAIMING_FAN_OUT),
    "torchvision.vgg": _MOBILE,
    "torchvision.mobilenet": _MOBILE,  # mobilenet_v2 and mobilenet_v3
    "torchvision.efficientnet": Scheme(conv=_KAIMING_FAN_OUT, conv_bias_zero=True, linear=_UNIFORM_BY_OUT,
                                       linear_bias_zero=True),
    "torchvision.convnext": _TRUNC_02,
    "torchvision.googlenet": Scheme(conv=_trunc_normal(0.01), linear=_trunc_normal(0.01)),
    "torchvision.inception_v3": Scheme(conv=_trunc_normal(0.1), linear=_trunc_normal(0.1)),
    "torchvision.regnet": Scheme(conv=_REGNET_CONV, linear=_normal(0.01), linear_bias_zero=True),
    "torchvision.densenet": Scheme(conv="nn.init.kaiming_normal_(m.weight)", linear_bias_zero=True),
    "torchvision.squeezenet": Scheme(conv="nn.init.kaiming_uniform_(m.weight)", conv_bias_zero=True,
                                     last_conv=_normal(0.01)),
    "timm.inception_v3": Scheme(conv=_trunc_normal(0.1), linear=_trunc_normal(0.1)),
    "timm.convnext": _TRUNC_02,
    "timm.inception_next": _TRUNC_02,
    "timm.xception": Scheme(conv=_KAIMING_FAN_OUT),
    # timm's EfficientNet family (_init_weight_goog)
    "timm.efficientnet": Scheme(conv=_GOOG_CONV, conv_bias_zero=True, linear=_UNIFORM_BY_OUT, linear_bias_zero=True),
    # timm's ByobNet (MobileViT)
    "timm.byobnet": Scheme(conv=_GOOG_CONV, conv_bias_zero=True, linear=_normal(0.01), linear_bias_zero=True),
    "timm.metaformer": _TRUNC_02,  # poolformer, caformer, convformer
    # timm's EfficientFormer (_init_weights): linears truncated normal std 0.02 with zero bias, convs PyTorch's
    "timm.efficientformer": Scheme(linear=_trunc_normal(0.02), linear_bias_zero=True),
    # timm's ViT (init_weights, mode ''): linears truncated normal std 0.02 with zero bias,
    # the position embedding truncated normal std 0.02, the class token N(0, 1e-6); the
    # patch embedding conv keeps PyTorch's default
    "timm.vit": Scheme(linear=_trunc_normal(0.02), linear_bias_zero=True,
                       tensors=(("pos_embed", "nn.init.trunc_normal_(p, std=0.02)"),
                                ("class_token", "nn.init.normal_(p, std=1e-6)"))),
}
assert set(SCHEMES) == set(INIT_SCHEMES), "language/metadata.py's INIT_SCHEMES names these schemes"


def _layer(kind: str, init: str, bias_zero: bool) -> list[str]:
    body = init.split("\n") if init else []
    body += ["if m.bias is not None:", "    nn.init.zeros_(m.bias)"] if bias_zero else []
    return [f"    elif isinstance(m, {kind}):"] + [f"        {line}" for line in body] if body else []


def init_method(name: str, zero_init: tuple[str, ...] = (), tensors: dict[str, tuple[str, ...]] | None = None) -> list[str]:
    """The lines of the network class's `_init_weights` for the scheme `name`, zeroing the
    BatchNorms among the modules `zero_init` (zero_init_candidates); `tensors`: the
    parameter names of each IR op (`scheme_tensors`); [] where it would do nothing
    (PyTorch's defaults)."""
    scheme = SCHEMES[name]
    own = [(names, init) for op, init in scheme.tensors for names in [(tensors or {}).get(op, ())] if names]
    conv = scheme.conv
    if scheme.last_conv:
        conv = f"if m is convs[-1]:\n    {scheme.last_conv}\nelse:\n    {conv}"
    loop = (_layer("nn.Conv2d", conv, scheme.conv_bias_zero) + _layer("nn.Linear", scheme.linear, scheme.linear_bias_zero)
            + _layer("nn.BatchNorm2d", "nn.init.ones_(m.weight)\nnn.init.zeros_(m.bias)" if scheme.bn_reset else "", False))
    if not loop and not zero_init and not own:
        return []
    lines = ["@torch.no_grad()", "def _init_weights(self) -> None:",
             f'    """The initialization of `set init = {py_literal(name)}` (the reference\'s own, per layer kind)'
             + (", then the last BatchNorm of each residual branch zeroed (`set zero_init_residual`)" if zero_init else "")
             + '."""']
    if scheme.last_conv:
        lines.append("    convs = [m for m in self.modules() if isinstance(m, nn.Conv2d)]")
    if loop:
        loop[0] = loop[0].replace("    elif", "    if", 1)
        lines += ["    for m in self.modules():"] + [f"    {line}" for line in loop]
    for names, init in own:
        lines += [f"    for name in {py_literal(names)}:", "        p = self.get_parameter(name)", f"        {init}"]
    if zero_init:
        lines += [f"    for name in {py_literal(tuple(zero_init))}:", "        m = self.get_submodule(name)",
                  "        if isinstance(m, nn.modules.batchnorm._BatchNorm):", "            nn.init.zeros_(m.weight)"]
    return lines


def zero_init_candidates(graph) -> tuple[str, ...]:
    """The module each residual sum reads its branch from, through the single-input ops
    without weights after it (scales, identities, stochastic depth), or the BatchNorm inside
    it that gives its output (the op's `closing_norm`: LeViT's attention projection): where
    it is a BatchNorm, `zero_init_residual` zeroes its weight. A `sum { ... }` is not a
    residual's (Res2Net's groups add the previous group's output: its 1x1 conv's BN stays at 1)."""
    found = []
    for node in graph.nodes():
        inputs = graph.inputs(node.id)
        if not (node.op.residual_sum and len(inputs) == 2 and all(graph.node(i).shape == node.shape for i in inputs)):
            continue  # not the sum of a residual's (shortcut, branch): a `sum { ... }`, a gate
        source = graph.node(inputs[-1])
        while not source.op.has_weights and len(graph.inputs(source.id)) == 1:
            source = graph.node(graph.inputs(source.id)[0])
        closing = source.op.closing_norm(source.attrs) if source.op.closing_norm else None
        name = f"{source.id}.{closing}" if closing else source.id
        if source.op.has_weights and name not in found:
            found.append(name)
    return tuple(found)


def write_init_weights(cls, settings, graph, init: str | None) -> None:
    """Give the network class (backends/python/classes.Class) the scheme `init` (None: the
    spec's `set init`) as `_init_weights`, called last in its __init__."""
    scheme = init or settings.get("init", METADATA["init"])
    zero = zero_init_candidates(graph) if settings.get("zero_init_residual", False) else ()
    ops = {op for op, _ in SCHEMES[scheme].tensors}
    tensors: dict[str, tuple[str, ...]] = {}
    for node in graph.nodes():
        if node.op.value in ops:
            tensors[node.op.value] = tensors.get(node.op.value, ()) + tuple(f"{node.id}.{w}" for w in node.op.weights(node))
    method = init_method(scheme, zero, tensors)
    if method:
        cls.init.append("self._init_weights()")
        cls.methods.append(method)
