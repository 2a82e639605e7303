"""`inception-dsl compile --optimize`: standalone source of the optimized network that
loads `inception_dsl.optimize(...).state_dict()` strictly and computes the same output."""

from __future__ import annotations

import pytest

import subprocess
import sys

import torch

from inception_dsl import api
from inception_dsl.runtime.graph_module import GraphModule
from inception_dsl.runtime.optimized_module import optimize
from inception_dsl.cli import main

from .conftest import ROOT, SPECS
from .test_optimize_passes import randomized


@pytest.mark.slow
def test_compile_optimize_writes_a_class_that_loads_the_optimized_weights(tmp_path):
    out = tmp_path / "googlenet_opt.py"
    assert main(["compile", str(SPECS / "googlenet.incp"), "--input", "3x75x75", "--optimize", "-o", str(out)]) == 0
    namespace: dict = {}
    exec(compile(out.read_text(encoding="utf-8"), str(out), "exec"), namespace)
    standalone = namespace["GooglenetOptimized"]()
    graph = api.require(api.analyze(SPECS / "googlenet.incp", input_shape=(3, 75, 75)))
    torch.manual_seed(0)
    reference = randomized(GraphModule(graph)).eval()
    optimized = optimize(reference)
    standalone.load_state_dict(optimized.state_dict(), strict=True)
    x = torch.randn(2, 3, 75, 75)
    with torch.no_grad():
        torch.testing.assert_close(standalone(x), reference(x), rtol=1e-4, atol=1e-4)
    assert not standalone.training


def test_compile_optimize_does_not_import_torch(tmp_path):
    code = ("import sys; from inception_dsl.cli import main; "
            f"rc = main(['compile', {str(SPECS / 'v4.incp')!r}, '--optimize', '-o', {str(tmp_path / 'v4.py')!r}]); "
            "assert rc == 0 and 'torch' not in sys.modules, rc")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
