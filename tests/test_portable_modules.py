"""Modules of inception-dsl travel as other PyTorch models do (issue 27): generated classes
pickle by their source (runtime/generated.py), optimize() modules are instances of a
generated class with a real forward, a load() module carries what optimize(model) needs,
and its state_dict records the parameters it was built with, so
`optimize(spec, model.state_dict())` (the README's snippet) builds the same network."""

from __future__ import annotations

import inspect
import io
import pickle
import subprocess
import sys

import pytest
import torch

import inception_dsl
from inception_dsl.runtime.graph_module import GraphModule
from inception_dsl.runtime.weights import WeightsError

from .conftest import ROOT, SPECS

TINY = ROOT / "tests" / "cases" / "codegen" / "tiny.incp"
X = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))


@pytest.fixture(scope="module")
def model():
    return inception_dsl.load(TINY, num_classes=7, seed=0).eval()


def _out(module):
    with torch.no_grad():
        return module(X)


def test_optimize_takes_a_load_module_and_its_pickled_copy(model):
    fast = inception_dsl.optimize(model)
    torch.testing.assert_close(_out(fast), _out(model), rtol=1e-4, atol=1e-5)
    again = inception_dsl.optimize(pickle.loads(pickle.dumps(model)))
    torch.testing.assert_close(_out(again), _out(fast))
    with pytest.raises(TypeError, match="spec path"):
        inception_dsl.optimize(model, num_classes=3)


def test_the_readme_snippet_optimizes_a_state_dict_with_its_parameters(model):
    """load(..., num_classes=7) then optimize(spec, model.state_dict()): the state_dict says
    num_classes=7, also after torch.save and a weights_only load."""
    fast = inception_dsl.optimize(TINY, model.state_dict())
    torch.testing.assert_close(_out(fast), _out(model), rtol=1e-4, atol=1e-5)
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=True)
    torch.testing.assert_close(_out(inception_dsl.optimize(TINY, loaded)), _out(fast))
    explicit = inception_dsl.optimize(TINY, dict(model.state_dict()), num_classes=7)
    torch.testing.assert_close(_out(explicit), _out(fast))


def test_a_state_dict_that_does_not_fit_names_the_tensors_and_the_parameters(model):
    plain = dict(model.state_dict())  # no record of the parameters: the spec's defaults (5 classes)
    with pytest.raises(WeightsError, match=r"(?s)linear7.*checkpoint 7x40, network 5x40.*network parameters"):
        inception_dsl.optimize(TINY, plain)


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:FutureWarning")
def test_an_optimized_module_is_a_generated_class_with_a_real_forward(model):
    fast = inception_dsl.optimize(model)
    cls = type(fast)
    assert issubclass(cls, GraphModule) and cls is not GraphModule and cls.__name__ == "TinyOptimized"
    assert "def forward(self, x):" in inspect.getsource(cls)
    assert "_generated_forward" not in vars(fast)
    copied = pickle.loads(pickle.dumps(fast))
    assert type(copied) is cls  # the same source in the same process: the same class
    torch.testing.assert_close(_out(copied), _out(fast))
    scripted = torch.jit.script(fast)
    torch.testing.assert_close(scripted(X), _out(fast))


def test_a_pickle_holds_the_generated_source_once(model):
    data = pickle.dumps(model)
    assert data.count(b"class ConvBnAct(nn.Module)") == 1
    assert len(data) < 3 * len(pickle.dumps(model.state_dict())) + 200_000


def test_torch_save_of_an_optimized_module_writes_a_complete_file(model, tmp_path):
    path = tmp_path / "fast.pt"
    fast = inception_dsl.optimize(model)
    torch.save(fast, path)
    torch.testing.assert_close(_out(torch.load(path, weights_only=False)), _out(fast))


@pytest.mark.slow
def test_saved_modules_load_in_a_fresh_process(model, tmp_path):
    """The issue's report: ModuleNotFoundError: No module named 'inception_dsl_generated_...'."""
    fast = inception_dsl.optimize(model)
    torch.save(model, tmp_path / "model.pt")
    torch.save(fast, tmp_path / "fast.pt")
    torch.save({"x": X, "model": _out(model), "fast": _out(fast)}, tmp_path / "data.pt")
    code = ("import torch\n"
            "d = torch.load('data.pt')\n"
            "for name in ('model', 'fast'):\n"
            "    m = torch.load(name + '.pt', weights_only=False)\n"
            "    with torch.no_grad():\n"
            "        assert torch.equal(m(d['x']), d[name]), name\n"
            "import inception_dsl\n"
            "again = inception_dsl.optimize(torch.load('model.pt', weights_only=False))\n"
            "with torch.no_grad():\n"
            "    torch.testing.assert_close(again(d['x']), d['fast'])\n"
            "print('ok')\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert (done.returncode, done.stdout.strip()) == (0, "ok"), done.stderr[-2000:]


def test_spec_path_still_takes_analysis_options():
    fast = inception_dsl.optimize(SPECS / "googlenet.incp", input_shape=(3, 75, 75), num_classes=3)
    with torch.no_grad():
        assert fast(torch.randn(1, 3, 75, 75)).shape == (1, 3)
