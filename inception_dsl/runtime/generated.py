"""Generated source executed in a private module, whose classes pickle by their source.

`load()` and `optimize()` execute the Python source the backends write (never spec text)
in a module named `inception_dsl_generated_<network>_<hash>`, registered in `sys.modules`
and `linecache` (so tracebacks, `inspect`, TorchScript and torch.compile read it, as they
do torch.fx's code). Only the process that built the module has it; so every nn.Module
class of such a module pickles as a call of `rebuild(network, source, qualname)`, which
executes the same source under the same name in the process that unpickles (once: a
module already there is reused) and returns a bare instance for pickle to fill. The
source is one string object per module, so a pickle holds it once however many instances
it holds. `torch.save(model)` then `torch.load(path, weights_only=False)` works in any
process that has inception_dsl installed; `copy.deepcopy` goes through the same path."""

from __future__ import annotations

import hashlib
import linecache
import sys
import types
from typing import Any

from torch import nn

__all__ = ["execute", "rebuild", "module_name"]

_SOURCE = "__inception_dsl_source__"
_NETWORK = "__inception_dsl_network__"


def module_name(source: str, network: str) -> str:
    """The private module's name: the network and a hash of the source (no dot: pickle
    would import a parent package)."""
    digest = hashlib.sha256(source.encode("utf-8")).hexdigest()[:12]
    return f"inception_dsl_generated_{_identifier(network)}_{digest}"


def execute(source: str, network: str) -> dict[str, Any]:
    """The namespace of `source` executed as a private module; the same source twice
    gives the same module (and classes)."""
    name = module_name(source, network)
    if name in sys.modules:  # the same source was built before: reuse its classes
        return vars(sys.modules[name])
    filename = f"<inception-dsl generated {network} {name.rsplit('_', 1)[1]}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    module = types.ModuleType(name)
    module.__file__ = filename
    setattr(module, _SOURCE, source)
    setattr(module, _NETWORK, network)
    code = compile(source, filename, "exec")
    sys.modules[name] = module
    try:
        exec(code, vars(module))  # noqa: S102 - generated code, never spec text
    except BaseException:
        del sys.modules[name]
        raise
    for value in list(vars(module).values()):
        if isinstance(value, type) and issubclass(value, nn.Module) and value.__module__ == name:
            value.__reduce_ex__ = _reduce_ex
    return vars(module)


def rebuild(network: str, source: str, qualname: str) -> nn.Module:
    """A bare instance of the generated class `qualname` (pickle then restores its state)."""
    cls = execute(source, network)[qualname]  # generated classes are top-level
    return cls.__new__(cls)


def _reduce_ex(self: nn.Module, protocol: int):
    module = sys.modules[type(self).__module__]
    state = self.__getstate__()
    return rebuild, (getattr(module, _NETWORK), getattr(module, _SOURCE), type(self).__qualname__), state


def _identifier(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text)
