"""Weight initialization as the reference libraries do it, per layer kind: the scheme a spec
names with `set init = "torchvision.resnet"` (language/metadata.py lists the names), or
`load(..., init=...)`. Each scheme is the reference's own `_initialize_weights` /
`_init_weights` loop, read off torchvision's and timm's sources, over the modules a
generated network is made of (`nn.Conv2d`, `nn.Linear`, `nn.BatchNorm2d`, `nn.GroupNorm`,
LayerNorm, LayerScale, which start where PyTorch and the constructors put them: norms at
weight 1 and bias 0, layer scales at their `init`). `zero_init_residual` zeroes the last
BatchNorm of every residual branch (torchvision's `zero_init_residual=True`, timm's
`zero_init_last`), found in the IR: the BN a residual's sum reads its branch from."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional

import torch
from torch import nn

from inception_dsl.ir import Role
from inception_dsl.language.metadata import INIT_SCHEMES

__all__ = ["SCHEMES", "Scheme", "apply_scheme", "zero_init_residual"]

Init = Callable[[nn.Module], None]


@dataclass(frozen=True)
class Scheme:
    """What a reference does to each kind of layer; None leaves PyTorch's default."""

    conv: Optional[Init] = None
    conv_bias_zero: bool = False
    linear: Optional[Init] = None
    linear_bias_zero: bool = False
    last_conv: Optional[Init] = None  # the network's last conv (SqueezeNet's final_conv)


def _kaiming_fan_out(module: nn.Module) -> None:
    nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")


def _kaiming_fan_in(module: nn.Module) -> None:
    nn.init.kaiming_normal_(module.weight)


def _kaiming_uniform(module: nn.Module) -> None:
    nn.init.kaiming_uniform_(module.weight)


def _normal(std: float) -> Init:
    return lambda module: nn.init.normal_(module.weight, 0.0, std)


def _trunc_normal(std: float) -> Init:
    return lambda module: nn.init.trunc_normal_(module.weight, mean=0.0, std=std, a=-2.0, b=2.0)


def _uniform_by_out(module: nn.Module) -> None:
    """torchvision's EfficientNet classifier: U(-1/sqrt(out), 1/sqrt(out))."""
    bound = 1.0 / math.sqrt(module.out_features)
    nn.init.uniform_(module.weight, -bound, bound)


def _regnet_conv(module: nn.Module) -> None:
    """torchvision's RegNet: N(0, sqrt(2 / (k_h * k_w * out_channels)))."""
    fan_out = module.kernel_size[0] * module.kernel_size[1] * module.out_channels
    nn.init.normal_(module.weight, 0.0, math.sqrt(2.0 / fan_out))


_TRUNC_02 = Scheme(conv=_trunc_normal(0.02), conv_bias_zero=True, linear=_trunc_normal(0.02), linear_bias_zero=True)
_MOBILE = Scheme(conv=_kaiming_fan_out, conv_bias_zero=True, linear=_normal(0.01), linear_bias_zero=True)

SCHEMES: dict[str, Scheme] = {
    "torch": Scheme(),  # PyTorch's defaults (timm's inception_v4, inception_resnet_v2; torchvision's shufflenet_v2)
    "torchvision.resnet": Scheme(conv=_kaiming_fan_out),
    "torchvision.vgg": _MOBILE,
    "torchvision.mobilenet": _MOBILE,  # mobilenet_v2 and mobilenet_v3
    "torchvision.efficientnet": Scheme(conv=_kaiming_fan_out, conv_bias_zero=True, linear=_uniform_by_out,
                                       linear_bias_zero=True),
    "torchvision.convnext": _TRUNC_02,
    "torchvision.googlenet": Scheme(conv=_trunc_normal(0.01), linear=_trunc_normal(0.01)),
    "torchvision.inception_v3": Scheme(conv=_trunc_normal(0.1), linear=_trunc_normal(0.1)),
    "torchvision.regnet": Scheme(conv=_regnet_conv, linear=_normal(0.01), linear_bias_zero=True),
    "torchvision.densenet": Scheme(conv=_kaiming_fan_in, linear_bias_zero=True),
    "torchvision.squeezenet": Scheme(conv=_kaiming_uniform, conv_bias_zero=True, last_conv=_normal(0.01)),
    "timm.inception_v3": Scheme(conv=_trunc_normal(0.1), linear=_trunc_normal(0.1)),
    "timm.convnext": _TRUNC_02,
    "timm.inception_next": _TRUNC_02,
    "timm.xception": Scheme(conv=_kaiming_fan_out),
}
assert set(SCHEMES) | {"tf"} == set(INIT_SCHEMES), "language/metadata.py's INIT_SCHEMES names these schemes"


@torch.no_grad()
def apply_scheme(model: nn.Module, name: str) -> None:
    """Initialize `model`'s convs and linears as the scheme `name` says (in module order,
    as the reference's loop over `self.modules()`)."""
    scheme = SCHEMES[name]
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            init = scheme.last_conv if scheme.last_conv is not None and module is convs[-1] else scheme.conv
            _apply(module, init, scheme.conv_bias_zero)
        elif isinstance(module, nn.Linear):
            _apply(module, scheme.linear, scheme.linear_bias_zero)


def _apply(module: nn.Module, init: Optional[Init], bias_zero: bool) -> None:
    if init is not None:
        init(module)
    if bias_zero and module.bias is not None:
        nn.init.zeros_(module.bias)


@torch.no_grad()
def zero_init_residual(model: nn.Module, graph) -> int:
    """Zero the weight of the BatchNorm each residual sum reads its branch from, through
    the single-input ops without weights after it (scales, identities, stochastic depth);
    returns how many were zeroed."""
    count = 0
    for node in graph.nodes():
        inputs = graph.inputs(node.id)
        if not (node.role is Role.JOIN and len(inputs) == 2 and all(graph.node(i).shape == node.shape for i in inputs)):
            continue  # not the sum of (shortcut, branch): a concat widens, a gate broadcasts
        source = graph.node(graph.inputs(node.id)[-1])
        while not source.op.has_weights and len(graph.inputs(source.id)) == 1:
            source = graph.node(graph.inputs(source.id)[0])
        module = model.get_submodule(source.id) if source.op.has_weights else None
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            nn.init.zeros_(module.weight)
            count += 1
    return count
