"""The activation `hardtanh(min=-1.0, max=1.0)`: torch's nn.Hardtanh / F.hardtanh
(clamp to [min, max]). One record in the activation table: the layer word, `act=hardtanh`,
`act(hardtanh)`, `set act hardtanh` and `residual(act=hardtanh)` follow from it."""

from __future__ import annotations

from inception_dsl.ops.activations import Activation, Param, register_activation

register_activation(Activation(
    "hardtanh", "Hardtanh", "F.hardtanh", "nn.Hardtanh",
    (Param("min", "min_val", -1.0), Param("max", "max_val", 1.0)), inplace="keyword",
    check=lambda v: "" if v["max"] > v["min"] else f"max ({v['max']:g}) must be above min ({v['min']:g})",
))
