"""Binding the parameters of a block or network call (arguments, overrides, defaults,
the built-in `in_channels`/`in_height`/`in_width`), and the hints elaboration gives when
a call names no layer or block. Used by elaborate.py and by the Python backend, which
binds block calls the same way."""

from __future__ import annotations

from typing import Any

from inception_dsl.core import codes
from inception_dsl.core import syntax
from inception_dsl.core.diagnostics import DiagnosticSink, Label
from inception_dsl.core.values import EvalError, describe, did_you_mean, evaluate, outside_value_problem

__all__ = ["bind_params", "builtins_of", "reads_builtins", "missing_colon", "missing_space"]


def bind_params(
    definition: syntax.BlockDef,
    call: syntax.Call | None,
    caller_env: dict[str, Any],
    overrides: dict[str, Any],
    sink: DiagnosticSink,
    builtins: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Bind a block's (or network's) parameters: call arguments, then overrides, then
    defaults, evaluated in order so that a default may use earlier parameters and the
    `builtins` (in_channels, in_height, in_width), which the result includes."""
    given: dict[str, tuple[Any, Any]] = {}
    names = [p.name for p in definition.params]
    if call is not None:
        positional = list(names)
        for arg in call.args:
            value = evaluate(arg.value, caller_env, sink)
            if arg.name is None:
                if not positional:
                    sink.emit(codes.UNKNOWN_ARG, f"block `{definition.name}` takes {len(names)} argument(s)", arg.span,
                              f"extra argument {describe(value)}")
                    raise EvalError()
                given[positional.pop(0)] = (value, arg.span)
            else:
                if arg.name not in names:
                    sink.emit(codes.UNKNOWN_ARG, f"block `{definition.name}` has no parameter `{arg.name}`", arg.span,
                              "unknown parameter",
                              secondary=[Label(definition.name_span, f"`{definition.name}` defined here", False)],
                              help=did_you_mean(arg.name, names) or (f"parameters: {', '.join(names)}" if names else "it takes no parameters"))
                    raise EvalError()
                if arg.name in given:
                    sink.emit(codes.DUPLICATE_DEF, f"argument `{arg.name}` is given twice", arg.span, "again here")
                    raise EvalError()
                if arg.name in positional:
                    positional.remove(arg.name)
                given[arg.name] = (value, arg.span)
    for name, value in overrides.items():
        if name not in names:
            sink.emit(codes.UNKNOWN_ARG, f"network `{definition.name}` has no parameter `{name}`", definition.name_span,
                      help=did_you_mean(name, names) or (f"parameters: {', '.join(names)}" if names else "it takes no parameters"))
            raise EvalError()
        problem = outside_value_problem(value)
        if problem is not None:
            sink.emit(codes.BAD_ARG_TYPE, f"network parameter `{name}` cannot be {problem}", definition.name_span,
                      f"parameter of `{definition.name}`")
            raise EvalError()
        given[name] = (value, None)
    env: dict[str, Any] = dict(builtins or {})
    for param in definition.params:
        if param.name in given:
            env[param.name] = given[param.name][0]
        elif param.default is not None:
            env[param.name] = evaluate(param.default, env, sink)
        else:
            sink.emit(codes.MISSING_ARG, f"block `{definition.name}` needs its `{param.name}` argument",
                      call.span if call is not None else definition.name_span, f"missing `{param.name}`",
                      secondary=[Label(param.span, "declared here without a default", False)])
            raise EvalError()
    return env


def builtins_of(shape) -> dict[str, int]:
    return dict(zip(syntax.BUILTIN_NAMES, shape))


def reads_builtins(definition: syntax.BlockDef, cache: dict[str, bool]) -> bool:
    if definition.name not in cache:
        cache[definition.name] = syntax.reads((definition.params, definition.body), syntax.BUILTIN_NAMES)
    return cache[definition.name]


def missing_colon(call: syntax.Call) -> str | None:
    """`aux head from x`: a bare name followed on its line by a call reads as two
    statements; the writer almost always meant the label `aux: head`."""
    if call.has_parens or call.args:
        return None
    rest = call.span.source.text[call.span.end:].split("\n", 1)[0].split("#", 1)[0].strip()
    word = rest.split("(", 1)[0].split()[0] if rest else ""
    if word.isidentifier() and word not in ("from", "when", "shortcut") and not (word[:1] == "x" and word[1:].isdigit()):
        return f"a label needs a colon: `{call.name}: {word} ...`"
    return None


def missing_space(call: syntax.Call, env) -> str | None:
    """`conv(8) xn` with a parameter `n`: the repetition needs its space."""
    rest = call.name[1:]
    if call.name.startswith("x") and not call.has_parens and (rest in env or rest.startswith("(")):
        return f"to repeat the statement before `{rest}` times, write `x {rest}` (with a space)"
    return None
