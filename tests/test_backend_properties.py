"""Shape oracle: for random small conv/pool layers (kernel, stride, padding, dilation,
ceil mode), the shape inferred by the front end equals the shape the generated module
produces, and the state_dict keys equal the IR's."""

from __future__ import annotations

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inception_dsl import analyze_text, loads

from .backend_helpers import ir_state_dict_keys

sizes = st.integers(1, 4)
paddings = st.sampled_from(["same", "valid", "1", "(0, 1)", "(1, 0, 0, 1)", "(0, 1, 1, 0)"])


@st.composite
def conv_layers(draw) -> str:
    kernel = f"{draw(sizes)}x{draw(sizes)}"
    stride, dilation = draw(st.integers(1, 3)), draw(st.integers(1, 2))
    bn = draw(st.booleans())
    return (f"conv({draw(st.integers(1, 6))}, {kernel}, stride={stride}, dilation={dilation}, "
            f"pad={draw(paddings)}, bn={'true' if bn else 'false'})")


@st.composite
def pool_layers(draw) -> str:
    kind = draw(st.sampled_from(["maxpool", "avgpool"]))
    kernel = draw(st.integers(1, 4))
    pad = draw(st.sampled_from(["valid", "same"])) if kernel % 2 else "valid"  # pooling pads symmetrically
    ceil = ", ceil" if draw(st.booleans()) else ""
    return f"{kind}({kernel}x{kernel}, stride={draw(st.integers(1, 3))}, pad={pad}{ceil})"


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layers=st.lists(st.one_of(conv_layers(), pool_layers()), min_size=1, max_size=4),
       size=st.integers(6, 20))
def test_inferred_shapes_equal_module_shapes(layers, size):
    text = "network n {\n  input 3x%dx%d\n%s\n}\n" % (size, size, "\n".join(f"  {layer}" for layer in layers))
    result = analyze_text(text)
    if not result.ok:  # too small for these windows: the front end says so; nothing to build
        return
    model = loads(text, seed=0).eval()
    assert set(model.state_dict()) == ir_state_dict_keys(result.graph)
    with torch.no_grad():
        out = model(torch.zeros(1, 3, size, size))
    assert tuple(out.shape[1:]) == result.graph.node("output").shape
