"""The activation `squared_relu`: relu(x)² (So et al. 2021, "Primer"; the MLP head of the
MetaFormer baselines, timm's `SquaredReLU` in CAFormer and ConvFormer). One record in the
activation table: the layer word, `act=squared_relu`, `act(squared_relu)`, `set act
squared_relu` and `residual(act=squared_relu)` follow from it. torch has no module or single
function for it: the forward writes `F.relu(x).square()`, generated files hold the
`Activation` helper."""

from __future__ import annotations

from inception_dsl.ops.activations import Activation, register_activation

register_activation(Activation("squared_relu", "SquaredReLU", "F.relu({x}).square()", ""))
