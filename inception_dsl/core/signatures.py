"""Binding and checking the arguments of a layer call (the layers themselves are defined
in inception_dsl/ops/, each with its `LayerSig`).

A layer call binds positional and keyword arguments against a `LayerSig`; a bare
symbol among the positional arguments may be a flag (`conv(256, 3x3, stride=2, valid)`,
as the paper writes "V"). `coerce_*` turn bound values into IR attributes or emit a
located diagnostic and raise EvalError."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from inception_dsl.core import codes
from inception_dsl.core import syntax
from inception_dsl.core.diagnostics import DiagnosticSink
from inception_dsl.core.shapes import same_padding
from inception_dsl.core.values import EvalError, ListValue, Symbol, describe, did_you_mean, evaluate

__all__ = ["LayerSig", "RESIDUAL", "SETTINGS", "PAD_FLAGS", "REQUIRED", "is_tf_same", "Bound", "bind", "positive_int", "pair", "padding", "choice",
           "boolean", "number"]

REQUIRED = object()

# File-level settings (`set bn_eps = 0.001`): name -> default. They apply to layers written
# in the file that sets them (each layer's signature says how, in `settle`).
SETTINGS: dict[str, Any] = {
    "bn_eps": 1e-5,
    "bn_momentum": 0.1,
    "act": Symbol("relu"),
    "conv_bias": False,
}

Settle = Callable[[dict, Mapping[str, Any], syntax.Call], None]

# BatchNorm's eps must be positive (eps = 0 divides by a zero variance) and its momentum a
# fraction; `set bn_eps` / `set bn_momentum` and `bn(eps=, momentum=)` are held to the same ranges
EPS_RANGE = (1e-12, 1.0)
MOMENTUM_RANGE = (0.0, 1.0)
SETTING_RANGES = {"bn_eps": EPS_RANGE, "bn_momentum": MOMENTUM_RANGE}


@dataclass(frozen=True)
class LayerSig:
    """A layer's signature: positional parameters, keyword parameters with defaults
    (REQUIRED for none), flags (a bare name standing for keyword values), and `settle`,
    which fills what the file's settings decide (unwritten arguments left None)."""

    name: str
    positional: tuple[str, ...] = ()
    keywords: Mapping[str, Any] = field(default_factory=dict)
    flags: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    summary: str = ""
    example: str = ""
    settle: Settle | None = None
    lists: tuple[str, ...] = ()  # parameters that take a list `[a, b, c]` (one value per group)

    @property
    def parameters(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.positional + tuple(self.keywords)))


# The arguments of a `residual(scale=, act=) { ... }` statement (its `act` defaults to the file's).
RESIDUAL = LayerSig("residual", (), {"scale": 1.0, "act": None})

PAD_FLAGS = {"same": {"pad": Symbol("same")}, "valid": {"pad": Symbol("valid")}, "tf_same": {"pad": Symbol("tf_same")}}


def is_tf_same(bound: "Bound") -> bool:
    """`pad=tf_same` (the flag `tf_same`): TensorFlow's SAME, computed from the input size."""
    return isinstance(bound["pad"], Symbol) and bound["pad"].name == "tf_same"


@dataclass
class Bound:
    """Arguments bound to a signature: name -> (value, span of the argument or call)."""

    values: dict[str, tuple[Any, Any]]
    env: Mapping[str, Any] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)  # argument -> the parameter a bare name read

    def shadowing(self, name: str, words) -> str | None:
        """The parameter an argument named by itself, when the name is also one of `words`
        (a block parameter `relu` hides the activation `relu`)."""
        read = self.parameters.get(name)
        return read if read in words else None

    def __getitem__(self, name: str) -> Any:
        return self.values[name][0]

    def span(self, name: str):
        return self.values[name][1]


def bind(call: syntax.Call, sig: LayerSig, env: Mapping[str, Any], settings: Mapping[str, Any],
         sink: DiagnosticSink) -> Bound:
    values: dict[str, tuple[Any, Any]] = {}
    parameters: dict[str, str] = {}
    positional = list(sig.positional)
    for arg in call.args:
        value = evaluate(arg.value, env, sink)
        if arg.name is None:
            if isinstance(value, Symbol) and value.name in sig.flags:
                for key, flag_value in sig.flags[value.name].items():
                    values[key] = (flag_value, arg.span)
                continue
            if not positional:
                sink.emit(
                    codes.UNKNOWN_ARG,
                    f"`{sig.name}` takes {len(sig.positional)} positional argument(s)",
                    arg.span,
                    f"extra argument {describe(value)}",
                    help=_flag_help(sig, value),
                )
                raise EvalError()
            key = positional.pop(0)
            values[key] = (value, arg.span)
        else:
            if arg.name not in sig.keywords:
                sink.emit(
                    codes.UNKNOWN_ARG,
                    f"`{sig.name}` has no parameter `{arg.name}`",
                    arg.span,
                    "unknown parameter",
                    help=did_you_mean(arg.name, sig.keywords) or _list(sig),
                )
                raise EvalError()
            if arg.name in positional:
                positional.remove(arg.name)
            key = arg.name
            values[key] = (value, arg.span)
        if isinstance(value, ListValue) and key not in sig.lists:
            _refuse_list(sig, key, value, arg.span, sink)
        if isinstance(arg.value, syntax.Name) and arg.value.name in env:
            parameters[key] = arg.value.name
    for name, default in sig.keywords.items():
        if name in values:
            continue
        if default is REQUIRED:
            sink.emit(codes.MISSING_ARG, f"`{sig.name}` needs its `{name}` argument", call.span,
                      f"missing `{name}`", help=f"e.g. `{_example(sig)}`")
            raise EvalError()
        values[name] = (default, call.span)
    if sig.settle is not None:
        sig.settle(values, settings, call)
    return Bound(values, env, parameters)


def _refuse_list(sig: LayerSig, key: str, value, span, sink: DiagnosticSink) -> None:
    """A list where the layer takes one value (E105): `[3, 5]` is never read as a size."""
    takes = f"; `{sig.name}` takes a list as `{'`, `'.join(sig.lists)}`" if sig.lists else ""
    sink.emit(codes.BAD_ARG_TYPE, f"`{key}` of `{sig.name}` takes one value, not {describe(value)}", span,
              "a list here", help=f"write one value (a size is `3x5` or `(3, 5)`){takes}")
    raise EvalError()


def _flag_help(sig: LayerSig, value: Any) -> str | None:
    if isinstance(value, Symbol) and sig.flags:
        return did_you_mean(value.name, sig.flags) or "flags: " + ", ".join(f"`{f}`" for f in sig.flags)
    return None


def _list(sig: LayerSig) -> str:
    return "parameters: " + ", ".join(f"`{p}`" for p in sig.keywords) if sig.keywords else f"`{sig.name}` takes no arguments"


def _example(sig: LayerSig) -> str:
    return sig.example or f"{sig.name}(...)"


# -- coercions ----------------------------------------------------------------------
def _unknown_name(bound: Bound, name: str, sink: DiagnosticSink) -> None:
    """A bare name where a number belongs is almost always a misspelt parameter."""
    value = bound[name]
    if isinstance(value, Symbol):
        env = bound.env
        sink.emit(codes.UNKNOWN_NAME, f"unknown name `{value.name}`", bound.span(name), "not a parameter in scope",
                  help=did_you_mean(value.name, env) or (f"parameters in scope: {', '.join(sorted(env))}" if env else "no parameters are in scope here"))
        raise EvalError()


def positive_int(bound: Bound, name: str, sink: DiagnosticSink, what: str, minimum: int = 1) -> int:
    _unknown_name(bound, name, sink)
    value = bound[name]
    if isinstance(value, bool) or not isinstance(value, int):
        # a float is refused even when whole (8.0): the generated module would hand torch a float
        code = codes.BAD_VALUE if isinstance(value, float) else codes.BAD_ARG_TYPE
        sink.emit(code, f"{what} must be an integer, not {describe(value)}", bound.span(name), f"{describe(value)}",
                  help=f"write `{int(value)}`" if isinstance(value, float) and value.is_integer() else
                  ("`//` divides to an integer" if isinstance(value, float) else None))
        raise EvalError()
    if value < minimum:
        sink.emit(codes.BAD_VALUE, f"{what} must be at least {minimum}, got {value}", bound.span(name), f"{value}")
        raise EvalError()
    return value


def pair(bound: Bound, name: str, sink: DiagnosticSink, what: str, minimum: int = 1) -> tuple[int, int]:
    _unknown_name(bound, name, sink)
    value = bound[name]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = (value, value)
    if not isinstance(value, tuple) or len(value) != 2:
        sink.emit(codes.BAD_ARG_TYPE, f"{what} must be a size like `3x3` or `(1, 7)`, not {describe(value)}",
                  bound.span(name), "expected two sizes")
        raise EvalError()
    result = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int):  # 3.0 too: torch needs ints
            sink.emit(codes.BAD_VALUE, f"{what} must be whole numbers, not {describe(item)}", bound.span(name), "not an integer")
            raise EvalError()
        if item < minimum:
            sink.emit(codes.BAD_VALUE, f"{what} must be at least {minimum}, got {item}", bound.span(name), f"{item}")
            raise EvalError()
        result.append(item)
    return result[0], result[1]


def padding(bound: Bound, sink: DiagnosticSink, kernel, dilation=(1, 1)) -> tuple[int, int, int, int]:
    """The written padding; `tf_same` is `same` here (at stride 1 they agree at every size;
    at a larger stride the layer puts a `pad_same` node before its window, ops/pad_same.py)."""
    value = bound["pad"]
    if isinstance(value, Symbol):
        if value.name in ("same", "tf_same"):
            return same_padding(kernel[0], dilation[0]) + same_padding(kernel[1], dilation[1])
        if value.name == "valid":
            return (0, 0, 0, 0)
    if isinstance(value, tuple) and len(value) == 4:
        items = value
    elif isinstance(value, tuple) and len(value) == 2:
        items = (value[0], value[0], value[1], value[1])
    elif isinstance(value, int) and not isinstance(value, bool):
        items = (value,) * 4
    else:
        sink.emit(codes.BAD_ARG_TYPE, f"padding must be `same`, `valid`, `tf_same`, an integer, (h, w) or (top, bottom, left, right); got {describe(value)}",
                  bound.span("pad"), "invalid padding", help=did_you_mean(str(value), ["same", "valid", "tf_same"]) if isinstance(value, Symbol) else None)
        raise EvalError()
    if any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in items):
        sink.emit(codes.BAD_VALUE, "padding must be whole numbers of at least 0", bound.span("pad"), "invalid padding")
        raise EvalError()
    return tuple(items)  # type: ignore[return-value]


def choice(bound: Bound, name: str, sink: DiagnosticSink, choices: Sequence[str], what: str) -> str:
    """A name among `choices` (an activation among the registered ones); None reads as `identity`."""
    value = bound[name]
    if value is None:
        return "identity"
    if isinstance(value, Symbol) and value.name in choices:
        return value.name
    message = f"unknown {what} `{value.name}`" if isinstance(value, Symbol) else f"an {what} must be a name, not {describe(value)}"
    hidden = bound.shadowing(name, choices)
    notes = [f"`{hidden}` here is the parameter `{hidden}`, {describe(value)}, which hides the {what} `{hidden}`"] if hidden else []
    help = (f"rename the parameter (`use_{hidden}`, say), so that `{hidden}` names the {what} again" if hidden
            else did_you_mean(str(value), choices) if isinstance(value, Symbol) else None)
    sink.emit(codes.BAD_ARG_TYPE, message, bound.span(name), "expected " + ", ".join(choices), notes=notes, help=help)
    raise EvalError()


def boolean(bound: Bound, name: str, sink: DiagnosticSink) -> bool:
    value = bound[name]
    if not isinstance(value, bool):
        sink.emit(codes.BAD_ARG_TYPE, f"`{name}` must be `true` or `false`, not {describe(value)}", bound.span(name), "expected a boolean")
        raise EvalError()
    return value


def number(bound: Bound, name: str, sink: DiagnosticSink, low: float, high: float, what: str) -> float:
    _unknown_name(bound, name, sink)
    value = bound[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (low <= value <= high):
        sink.emit(codes.BAD_VALUE, f"{what} must be a number in [{low:g}, {high:g}], got {describe(value)}",
                  bound.span(name), "out of range")
        raise EvalError()
    return float(value)
