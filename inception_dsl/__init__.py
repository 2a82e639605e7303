"""inception-dsl: a declarative DSL and compiler for Inception-style networks.

    import inception_dsl
    result = inception_dsl.analyze("specs/v4.incp")     # parse + shape-check, no torch
    model = inception_dsl.load("specs/v4.incp")         # a torch.nn.Module (imports torch)
    inception_dsl.show("specs/v4.incp")                 # in Jupyter: diagram and summary table
"""

from __future__ import annotations

from inception_dsl.core.version import __version__  # noqa: F401  (re-exported)

from inception_dsl import ops  # noqa: F401  (registers the operations before anything reads them)
from inception_dsl.api import Result, analyze, analyze_text
from inception_dsl.core.diagnostics import CompileError, Diagnostic

__all__ = ["__version__", "analyze", "analyze_text", "Result", "CompileError", "Diagnostic", "load", "loads",
           "optimize", "show", "diff", "sweep", "profile", "decompile"]

_TORCH_API = {"load", "loads"}  # from runtime/module.py, imported on first use


def __getattr__(name: str):
    # Lazy, so that `import inception_dsl` and the check/lint/fmt commands never import torch.
    if name in _TORCH_API:
        from inception_dsl.runtime import module as torch_module

        return getattr(torch_module, name)
    if name == "show":  # notebooks: api.show, displayed by inception_dsl/notebook.py
        from inception_dsl.api import show

        return show
    if name == "diff":  # study/diff.py: two networks compared structurally (no torch)
        from inception_dsl.study.diff import diff

        return diff
    if name == "sweep":  # study/sweep.py: a grid of parameters checked in process (torch only to measure)
        from inception_dsl.study.sweep import sweep

        return sweep
    if name == "profile":  # runtime/profile.py: measured time per stage (imports torch)
        from inception_dsl.runtime.profile import profile

        return profile
    if name == "decompile":  # decompiler/: a PyTorch network as a spec (imports torch)
        from inception_dsl.decompiler import decompile

        return decompile
    if name == "optimize":  # the inference optimizer, runtime/optimized_module.py
        from inception_dsl.runtime.optimized_module import optimize

        return optimize
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
