"""One built-in layer call -> the Python expression that builds its module.

An argument that mentions a block parameter is translated to a Python expression over
the constructor's arguments (`conv(2 * k, 1x1)` -> `ConvBnAct(in_channels, 2 * k, 1)`);
every other argument is bound and checked exactly as elaborate.py does, and written as
a literal, so the generated code reads like hand-written timm code. What each layer
writes is its op's `source` (inception_dsl/ops/). No torch here."""

from __future__ import annotations

from inception_dsl import ops
from inception_dsl.core.python_exprs import Channels, CodegenError, LayerCode, LayerContext, SourceArgs, mentions
from inception_dsl.core import signatures
from inception_dsl.core import syntax
from inception_dsl.core.diagnostics import DiagnosticSink
from inception_dsl.core.values import EvalError, Symbol, evaluate

__all__ = ["layer_code", "keeps_channels"]


def _given(call: syntax.Call, sig: signatures.LayerSig, env, sink) -> dict[str, syntax.Expr]:
    """Which explicitly written argument expression feeds each parameter (flags excluded)."""
    given: dict[str, syntax.Expr] = {}
    positional = list(sig.positional)
    for arg in call.args:
        if arg.name is not None:
            given[arg.name] = arg.value
            if arg.name in positional:
                positional.remove(arg.name)
            continue
        value = evaluate(arg.value, env, sink)
        if isinstance(value, Symbol) and value.name in sig.flags:
            for key in sig.flags[value.name]:
                given.pop(key, None)
            continue
        if positional:
            given[positional.pop(0)] = arg.value
    return given


def layer_code(call: syntax.Call, in_ch: Channels, ctx: LayerContext) -> LayerCode:
    definition = ops.LAYERS[call.name]
    sink = DiagnosticSink()
    try:
        bound = signatures.bind(call, definition.sig, ctx.env, ctx.settings, sink)
        given = _given(call, definition.sig, ctx.env, sink)
        symbolic = {k: v for k, v in given.items() if mentions(v, ctx.names)}
        return definition.source(SourceArgs(call, bound, symbolic, ctx, sink, coercions=definition.args), in_ch)
    except EvalError:
        message = sink.diagnostics[0].message if sink.diagnostics else "invalid arguments"
        raise CodegenError(f"cannot write `{call.name}` for every instance: {message}", call.span) from None


def keeps_channels(call: syntax.Call) -> bool:
    """Whether the layer's output has its input's channel count."""
    return ops.LAYERS[call.name].keeps_channels
