"""`residual(scale=s, act=a) { f } [shortcut { g }]` written into a generated class:
y = a(g(x) + s * f(x)), with g the identity when there is no shortcut. A scale of 1.0
writes no multiply, and `identity` writes no activation. The body's parts are
registered before the shortcut (the IR's order); the forward computes the shortcut
first so that the body may reuse the name `x`. No torch here."""

from __future__ import annotations

from inception_dsl.backends.python.classes import Scope
from inception_dsl.core.python_exprs import Arg, Channels, CodegenError, mentions, py_expr
from inception_dsl.core.literals import py_literal
from inception_dsl.core import signatures
from inception_dsl.core import syntax
from inception_dsl.core.diagnostics import DiagnosticSink
from inception_dsl.language.naming import TRANSPARENT, shortcut_name
from inception_dsl.core.values import EvalError
from inception_dsl.ops.activations import ACTIVATIONS, activation

__all__ = ["ResidualWriter"]


class ResidualWriter:
    def __init__(self, generator):
        self.gen = generator

    def write(self, scope: Scope, op: syntax.Residual, in_ch: Channels, in_var: str, span) -> tuple[Channels, str]:
        gen, cls = self.gen, scope.cls
        scale, act = self._arguments(scope, op)
        start = len(cls.forward)
        out, body_var, _ = gen.body(scope, op.body, "residual", in_ch, in_var)
        body_lines = cls.forward[start:]
        del cls.forward[start:]
        shortcut = scope.forward_ns.create("shortcut")
        short_ch: Channels = in_ch
        if op.shortcut is not None and shortcut_name(op.shortcut) is TRANSPARENT:  # one labelled statement
            stmt = next(s for s in op.shortcut if isinstance(s, syntax.Labeled))
            short_ch = gen.member(scope, stmt, stmt.label, in_ch, in_var, shortcut)
        elif op.shortcut is not None:
            stmt = syntax.Labeled(None, syntax.Seq(op.shortcut, op.span), span=op.span)
            short_ch = gen.member(scope, stmt, "shortcut", in_ch, in_var, shortcut)
        else:
            cls.forward.append(f"{shortcut} = {in_var}")
        if str(short_ch) != str(out):  # a constructor argument could make the sum fail: refuse it here
            gen.helpers.add("_same_channels")
            cls.init.append(f"_same_channels({short_ch}, {out}, {py_literal(cls.name)}, {py_literal(gen.where(span))})")
        cls.forward += body_lines
        cls.forward.append(f"x = {shortcut} + {self._scaled(scope, body_var, scale)}")
        cls.forward += self._activation(scope, act)
        return out, "x"

    def _arguments(self, scope: Scope, op: syntax.Residual) -> tuple[float | str, Arg]:
        """(scale, act): a literal value, or Python source when a parameter decides."""
        settings = self.gen.program.settings_for(op.span)
        sink = DiagnosticSink()
        given = {arg.name: arg.value for arg in op.args if arg.name is not None}
        try:
            bound = signatures.bind(syntax.Call("residual", op.args, True, op.span), signatures.RESIDUAL, scope.env, settings, sink)
            if "scale" in given and mentions(given["scale"], scope.names):
                scale: float | str = py_expr(given["scale"], scope.names, self.gen.helpers)
            else:
                scale = signatures.number(bound, "scale", sink, -1e6, 1e6, "the residual scale")
            if "act" in given and mentions(given["act"], scope.names):
                return scale, Arg(py_expr(given["act"], scope.names, self.gen.helpers), None, True)
            if bound["act"] is None:
                bound.values["act"] = (settings["act"], op.span)
            kind = activation(bound, "act", sink)
            return scale, Arg(py_literal(kind), kind)
        except EvalError:
            message = sink.diagnostics[0].message if sink.diagnostics else "invalid arguments"
            raise CodegenError(f"cannot write this residual: {message}", op.span) from None

    def _scaled(self, scope: Scope, var: str, scale: float | str) -> str:
        if isinstance(scale, str):
            attribute = self._attribute(scope, "res_scale")
            scope.cls.init.append(f"self.{attribute} = float({scale})")
            return f"{var} * self.{attribute}"
        return var if scale == 1.0 else f"{var} * {py_literal(scale)}"

    def _activation(self, scope: Scope, act: Arg) -> list[str]:
        if act.is_("identity"):
            return []
        if not act.symbolic:
            return [f"x = {ACTIVATIONS[act.value].call('x')}"]
        attribute = self._attribute(scope, "res_act")
        scope.cls.init.append(f"self.{attribute} = {act.src}")
        self.gen.helpers.add("_activate")
        return [f"x = _activate(x, self.{attribute})"]

    @staticmethod
    def _attribute(scope: Scope, base: str) -> str:
        name, index = base, 1
        while name in scope.attrs:
            name = f"{base}_{index}"
            index += 1
        scope.attrs.add(name)
        return name
