"""The shape of a generated class while it is written: its constructor and forward lines
(`_Class`), and the `Scope` a statement is written into (parameters, locals, attribute
names). No torch here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from inception_dsl.core.literals import py_literal
from inception_dsl.backends.python.names import Namespace, _plain, member_ref, safe_text
from inception_dsl.ops.base import Grid

__all__ = ["Class", "Scope", "member_ref", "assign", "indent", "write_returns"]


@dataclass
class Class:
    name: str
    doc: str
    signature: list[str]
    init: list[str] = field(default_factory=list)
    forward: list[str] = field(default_factory=list)
    forward_doc: str = ""
    returns_tensor: bool = True
    base: str = "nn.Module"
    attributes: list[str] = field(default_factory=list)  # class attributes
    methods: list[list[str]] = field(default_factory=list)  # more methods, after forward
    inputs: list[str] = field(default_factory=list)  # forward's tensors after `x` (a branch's `from LABEL`)
    takes_grids: bool = False  # reads the instances' grids handed down (python/instances.py)

    def render(self) -> str:
        lines = [f"class {self.name}({self.base}):", f'    """{self.doc}"""', ""]
        lines += [f"    {line}" for line in self.attributes] + ([""] if self.attributes else [])
        lines.append(f"    def __init__({', '.join(['self'] + self.signature)}):")
        lines += ["        super().__init__()"] + [indent(line, 8) for line in self.init]
        tensors = "".join(f", {name}: torch.Tensor" for name in self.inputs)
        lines += ["", f"    def forward(self, x: torch.Tensor{tensors})" + (" -> torch.Tensor:" if self.returns_tensor else ":")]
        if self.forward_doc:
            lines.append(f'        """{self.forward_doc}"""')
        lines += [indent(line, 8) for line in self.forward]
        for method in self.methods:
            lines += [""] + [indent(line, 4) for line in method]
        return "\n".join(lines) + "\n"


def assign(name: str, value: str, comment: str) -> str:
    if not _plain(name):
        if "\n" in value:
            first, rest = value.split("\n", 1)
            return f'setattr(self, {py_literal(name)}, {first}{comment}\n{rest})'
        return f'setattr(self, {py_literal(name)}, {value}){comment}'
    return f"self.{name} = {value}{comment}"


def indent(text: str, width: int) -> str:
    return "\n".join(" " * width + line if line else "" for line in text.split("\n"))


@dataclass
class Scope:
    """A class being generated: its parameters, locals and attributes."""

    cls: Class
    env: dict[str, Any]  # concrete parameter values of one instance
    names: dict[str, str]  # spec parameter -> Python local in __init__
    init_ns: Namespace
    forward_ns: Namespace
    attrs: set[str] = field(default_factory=set)
    grid: Grid = None  # a grid size fixed by the last pooling (for flatten)
    lambda_var: str = ""  # the parameter name of `_repeat`'s lambdas, one per class
    marks: list | None = None  # the network's: where each top-level statement starts (model_api.Mark)
    labels: dict = field(default_factory=dict)  # label -> (forward variable, channels) a branch's `from` reads
    at: tuple[str, ...] = ()  # the member being built: its path below this class, as Python source parts

    def repeat_var(self) -> str:
        if not self.lambda_var:
            self.lambda_var = self.init_ns.create("c")
        return self.lambda_var


def write_returns(scope: Scope, outputs, labels, last_var: str, conditional: dict[str, str],
                  gated: frozenset[str] = frozenset()) -> None:
    """The network's return: its main output, and in training mode the auxiliary ones
    (those a `when` switches off are left out of the tuple). `gated`: the outputs computed
    only in training mode (`if self.training:`), declared `Optional` and None before."""
    cls = scope.cls
    if not outputs:
        cls.forward.append(f"return {last_var}")
        cls.forward_doc = "Returns the network's output."
        return
    main = labels[outputs[0][0]][0]
    aux = [labels[name][0] for name, _ in outputs[1:]]
    if not aux:
        cls.forward.append(f"return {main}")
        return
    cls.returns_tensor = False
    names = ", ".join(f"`{safe_text(n)}`" for n, _ in outputs[1:])
    cls.forward_doc = (f"In eval mode returns the main output `{safe_text(outputs[0][0])}`; in training mode "
                       f"the tuple (main, {names}) (auxiliary heads, as torchvision's Inception3). Under "
                       f"TorchScript, the tuple in both modes (auxiliary outputs None in eval), as torchvision's.")
    cls.forward[:0] = [f"{labels[name][0]}: Optional[torch.Tensor] = None" for name, _ in outputs[1:] if name in gated]
    optional = {name: stmt for name, stmt in conditional.items() if name in {n for n, _ in outputs[1:]}}
    if optional:
        cls.forward_doc += " Heads switched off by their `when` are left out of the tuple."
    heads = [(variable, optional.get(name)) for (name, _), variable in zip(outputs[1:], aux)]
    cls.forward += ["if torch.jit.is_scripting():  # one return type for TorchScript"]
    cls.forward += _return_present(heads, [main], "    ") + ([f"    return {main}"] if optional else [])
    cls.forward.append("if self.training:")
    cls.forward += _return_present(heads, [main], "    ")
    cls.forward.append(f"return {main}")


def _return_present(heads: list[tuple[str, str | None]], returned: list[str], indent: str) -> list[str]:
    """Nested `if self.<head> is not None:` returning the tuple of the heads present: a
    fixed-size tuple on each path, so TorchScript (which drops the test of a None
    submodule) scripts it; a list built at run time it cannot size."""
    if not heads:
        return [f"{indent}return {', '.join(returned)}"] if len(returned) > 1 else []
    (variable, member), rest = heads[0], heads[1:]
    if member is None:
        return _return_present(rest, returned + [variable], indent)
    return ([f"{indent}if {member_ref(member)} is not None:"]
            + _return_present(rest, returned + [variable], indent + "    ")
            + _return_present(rest, returned, indent))
