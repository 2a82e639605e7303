"""An unlabelled `X x4` inside a `{ ... }` sequence (naming.py): its instances are the
sequence's own members `start` ... `start+3`, registered by the prelude's `_splice` and
called one after another in forward. No torch here."""

from __future__ import annotations

from inception_dsl.core.python_exprs import Channels, CodegenError, py_expr
from inception_dsl.backends.python.facts import paren
from inception_dsl.core.literals import py_literal
from inception_dsl.backends.python.names import member_ref
from inception_dsl.core import syntax
from inception_dsl.language.naming import instance_names, literal_count

__all__ = ["write_spliced"]


def write_spliced(gen, scope, stmt: syntax.Labeled, name: str, in_ch: Channels, in_var: str, out_var: str) -> Channels:
    """An unlabelled `X xN` in a `{ ... }` sequence: N members named by position
    (`_splice`), run one after another."""
    count = literal_count(stmt)
    names = instance_names("seq", stmt, name, count)
    for member in names:
        if member in scope.attrs:
            raise CodegenError(f"the name `{member}` is used twice in this scope; give the statement a label",
                               stmt.span)
        scope.attrs.add(member)
    scope.at = ()
    make, out_of, note = gen._constructor(scope, stmt, name)
    gen.helpers.add("_splice")
    modules = gen.instances.repeated(scope, (), py_literal(count), in_ch, make, first=int(name))
    comment = gen.comment(stmt.span) + (f" ({note})" if note and gen.comments else "")
    out = out_of(in_ch)
    out = f"{member_ref(names[-1])}.out_channels" if out is None else out
    steps = [f"{out_var} = {member_ref(names[0])}({in_var})"] + [f"{out_var} = {member_ref(n)}({out_var})" for n in names[1:]]
    if stmt.condition is None:
        scope.cls.init.append(f"_splice(self, {py_literal(int(name))}, {modules}){comment}")
        scope.cls.forward += steps
        return out
    use = scope.init_ns.create(f"use_{name}")
    scope.cls.init.append(f"{use} = {py_expr(stmt.condition, scope.names, gen.helpers)}{comment}")
    scope.cls.init.append(f"_splice(self, {py_literal(int(name))}, {modules} if {use} else [None] * {py_literal(count)})")
    channels = scope.init_ns.create("ch")
    scope.cls.init.append(f"{channels} = {out} if {use} else {paren(in_ch)}")
    scope.cls.forward += [f"if {member_ref(names[0])} is not None:"] + [f"    {line}" for line in steps]
    if out_var != in_var:
        scope.cls.forward += ["else:", f"    {out_var} = {in_var}"]
    return channels
