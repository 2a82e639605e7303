"""The standalone source of a statement whose parts are parallel branches: `concat` /
`reduction` (`torch.cat`), `sum` and `product` (`x0 + x1`, `x0 * x1`; torch broadcasts a
1x1 gate over the grid) and `split(...)` (`torch.split` into the branches' inputs, then
`torch.cat`). Each branch is a member of the class being written (naming.py's names),
so the state_dict keys are the IR's. No torch here."""

from __future__ import annotations

from inception_dsl.backends.python.classes import Scope
from inception_dsl.core.python_exprs import Channels, CodegenError, add_channels, py_expr
from inception_dsl.backends.python.facts import paren
from inception_dsl.core import syntax
from inception_dsl.language.naming import TRANSPARENT, statement_names

__all__ = ["write_join"]

_SYMBOL = {"sum": "+", "product": "*"}


def write_join(gen, scope: Scope, op: syntax.Concat, in_ch: Channels, in_var: str, span,
               out_var: str = "x") -> tuple[Channels, str]:
    """Members for the branches and the forward lines joining them; returns (out channels, variable)."""
    names = statement_names(op.body, "concat", gen.program.definitions)
    statements = [s for s in op.body if isinstance(s, syntax.Labeled)]
    inputs = [(in_var, in_ch)] * len(statements)
    if op.kind == "split":
        inputs = _split(gen, scope, op, in_ch, in_var, len(statements))
    conditional = any(s.condition is not None for s in statements)
    branches = scope.forward_ns.create("branches") if conditional else None
    if branches:
        scope.cls.forward.append(f"{branches}: list[torch.Tensor] = []")
    outs, variables, fixed = [], [], []
    for index, (stmt, name, (var, ch)) in enumerate(zip(statements, names, inputs)):
        variable = scope.forward_ns.create(f"x{index}")
        if stmt.source is not None:  # `from LABEL`: a tensor of this forward (or one handed to it)
            var, ch = scope.labels[stmt.source]
        if name is TRANSPARENT:  # `_: { ... }`: its parts are this class's members
            out, variable = gen.inline(scope, stmt.op, ch, var, stmt.span, variable)
            if branches:
                scope.cls.forward.append(f"{branches}.append({variable})")
        else:
            out = gen.member(scope, stmt, name, ch, var, variable, append_to=branches)
        outs.append(out)
        variables.append(variable)
        if stmt.condition is None:
            fixed.append(out)
    if op.kind in _SYMBOL:
        return _elementwise(scope, op, statements, fixed, variables, branches, out_var)
    joined = branches if branches else f"({', '.join(variables)}{',' if len(variables) == 1 else ''})"  # (x0,)
    scope.cls.forward.append(f"{out_var} = torch.cat({joined}, 1)")
    return add_channels(outs), out_var


def _elementwise(scope: Scope, op: syntax.Concat, statements, fixed, variables, branches, out_var):
    symbol = _SYMBOL[op.kind]
    if not fixed:
        raise CodegenError(f"a `{op.kind}` whose branches all have `when` cannot be written; "
                           "leave one branch unconditional", op.span)
    if not branches:
        scope.cls.forward.append(f"{out_var} = {f' {symbol} '.join(variables)}")
        return fixed[0], out_var
    item = scope.forward_ns.create("t")
    scope.cls.forward += [f"{out_var} = {branches}[0]", f"for {item} in {branches}[1:]:",
                          f"    {out_var} = {out_var} {symbol} {item}"]
    return fixed[0], out_var


def _split(gen, scope: Scope, op: syntax.Concat, in_ch: Channels, in_var: str, count: int):
    """`sizes = (...)` in __init__ and `x_0, x_1 = torch.split(x, self._split0, 1)` in
    forward; returns each branch's (input variable, input channels)."""
    sizes = scope.init_ns.create("split_sizes")
    args = [py_expr(arg.value, scope.names, gen.helpers) for arg in op.args]
    if len(args) == 1:
        scope.cls.init.append(f"{sizes} = ({paren(in_ch)} // {args[0]},) * {count}{gen.comment(op.span)}")
    else:
        scope.cls.init.append(f"{sizes} = ({', '.join(args)}){gen.comment(op.span)}")
    attribute, k = "_split", 0
    while f"{attribute}{k}" in scope.attrs:
        k += 1
    attribute = f"{attribute}{k}"
    scope.attrs.add(attribute)
    scope.cls.init.append(f"self.{attribute} = {sizes}  # channels of each part, not a module")
    parts = [scope.forward_ns.create(f"part{i}") for i in range(count)]
    targets = ", ".join(parts) + ("," if count == 1 else "")
    scope.cls.forward.append(f"{targets} = torch.split({in_var}, self.{attribute}, 1)")
    return [(part, f"{sizes}[{i}]") for i, part in enumerate(parts)]
