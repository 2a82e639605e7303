"""Network parameters from YAML files (`--params-file p.yaml`, `load(spec, params="p.yaml")`)
and sweep grids (`load_grid`).

A parameter file is a mapping of the network's parameter names to plain scalars, plus two
reserved keys: `network: NAME` (which network of the spec) and `input: 3x224x224` (or
`[3, 224, 224]`). Sources merge in order, later ones winning: files first, then mappings
(`-p` on the command line, keyword arguments in Python); an explicit `--network` /
`--input` (or `network=` / `input_shape=`) wins over the files. Everything written in a
file is checked here, against the chosen network, with diagnostics located in the file:
unknown names (with did-you-mean), values that are not scalars, and values whose type
does not fit the parameter's default (an integer default takes integers, a number
default takes numbers, a boolean default booleans, a name default names). Values given
as mappings are checked by elaboration as they always were (`-p` is unchanged).

YAML strings must be names (the grammar's NAME) and become symbols, as `-p act=relu` does;
YAML's own typing decides the rest (`10` is an integer, `"10"` a string and so refused,
`yes`/`no` booleans, YAML 1.1)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from inception_dsl.core import codes
from inception_dsl.core import syntax
from inception_dsl.core.diagnostics import DiagnosticSink, Label
from inception_dsl.core.limits import DEFAULT_LIMITS, Limits
from inception_dsl.language.program import Program
from inception_dsl.core.source import Span
from inception_dsl.core.values import MAX_MAGNITUDE, MAX_NAME, EvalError, Symbol, describe, did_you_mean, evaluate
from inception_dsl.language.yaml_file import MAX_YAML_NODES, YamlDocument, kind_of, read_yaml, scalar_value, span_of

__all__ = ["Setting", "ParamSet", "Binding", "GridFile", "sources_of", "read_params", "read_params_file",
           "merge_param_sets", "load_grid", "check_grid", "RESERVED"]

RESERVED = ("network", "input")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # the grammar's NAME: YAML strings become these symbols

ParamsArg = Mapping[str, Any] | str | Path | Sequence[Mapping[str, Any] | str | Path] | None


@dataclass(frozen=True)
class Setting:
    """A value and where it was written (None when it came from `-p` or a mapping)."""

    value: Any
    span: Span | None = None  # the value in the file
    key: Span | None = None  # its name in the file


@dataclass
class ParamSet:
    values: dict[str, Setting] = field(default_factory=dict)
    network: Setting | None = None
    input: Setting | None = None


@dataclass(frozen=True)
class Binding:
    """What elaboration gets: the network's name, the parameter overrides, the input."""

    network: str | None
    overrides: dict[str, Any]
    input_shape: tuple[int, ...] | None


def sources_of(params: ParamsArg) -> list[Mapping[str, Any] | str | Path]:
    """`params` as a list of sources: a mapping, a YAML path, or a list of those."""
    if params is None:
        return []
    if isinstance(params, (str, Path, Mapping)):
        return [params]
    if isinstance(params, (list, tuple)) and all(isinstance(p, (str, Path, Mapping)) for p in params):
        return list(params)
    raise TypeError("params must be a dict of network parameters, the path of a YAML parameter file, "
                    f"or a list of those, not {type(params).__name__}")


def read_params(params: ParamsArg, sink: DiagnosticSink, limits: Limits = DEFAULT_LIMITS) -> list[ParamSet]:
    """Every source read (files that fail add diagnostics and contribute nothing)."""
    sets = []
    for source in sources_of(params):
        if isinstance(source, Mapping):
            sets.append(ParamSet({str(name): Setting(value) for name, value in source.items()}))
        else:
            read = read_params_file(source, sink, limits)
            if read is not None:
                sets.append(read)
    return sets


def read_params_file(path: str | Path, sink: DiagnosticSink, limits: Limits = DEFAULT_LIMITS) -> ParamSet | None:
    document = read_yaml(path, sink, limits)
    if document is None:
        return None
    result = ParamSet()
    entries = _mapping_entries(document, document.root, sink, "a parameter file",
                               "write one `name: value` per line, e.g. `num_classes: 10`")
    if entries is None:
        return None
    errors = len(sink.errors)
    for name, key_span, node in entries:
        if name == "network":
            result.network = _network_value(document, node, sink)
        elif name == "input":
            result.input = _input_value(document, node, sink)
        else:
            ok, value = _scalar(document, name, node, sink)
            if ok:
                result.values[name] = Setting(value, span_of(document.source, node), key_span)
    return result if len(sink.errors) == errors else None


def _mapping_entries(document: YamlDocument, node: Node | None, sink: DiagnosticSink, what: str,
                     help: str) -> list[tuple[str, Span, Node]] | None:
    """(key, key span, value node) of a mapping of plain keys; duplicates are errors."""
    if node is None:
        return []
    source = document.source
    if not isinstance(node, MappingNode):
        sink.emit(codes.BAD_ARG_TYPE, f"{what} must be a mapping, not {kind_of(node)}", span_of(source, node),
                  kind_of(node), help=help)
        return None
    entries, seen, ok = [], {}, True
    for key, value in node.value:
        name = scalar_value(key) if isinstance(key, ScalarNode) else None
        if not isinstance(name, str) or not name:
            sink.emit(codes.BAD_ARG_TYPE, "a key must be a name", span_of(source, key), "not a name", help=help)
            ok = False
            continue
        if name in seen:
            sink.emit(codes.DUPLICATE_DEF, f"`{name}` is given twice", span_of(source, key), "again here",
                      secondary=[Label(seen[name], "first given here", False)])
            ok = False
            continue
        seen[name] = span_of(source, key)
        entries.append((name, seen[name], value))
    return entries if ok else None


def _scalar(document: YamlDocument, name: str, node: Node, sink: DiagnosticSink) -> tuple[bool, Any]:
    """(ok, value) of a plain scalar usable as a parameter value."""
    where = span_of(document.source, node)
    if not isinstance(node, ScalarNode):
        sink.emit(codes.BAD_ARG_TYPE, f"the value of `{name}` must be a plain scalar, not {kind_of(node)}", where,
                  kind_of(node), help="parameters take a number, a boolean or a name")
        return False, None
    value = scalar_value(node)
    problem = None
    if value is None:
        problem = "has no value"
    elif isinstance(value, float) and not math.isfinite(value):
        problem = "is not a finite number"
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_MAGNITUDE:
        problem = f"is larger than {MAX_MAGNITUDE:.0e}"
    elif isinstance(value, str) and len(value) > MAX_NAME:
        problem = f"is a name longer than {MAX_NAME} characters"
    elif isinstance(value, str) and not _NAME.fullmatch(value):
        problem = "is not a name (letters, digits and `_`, as in the spec)"
    if problem:
        sink.emit(codes.BAD_ARG_TYPE, f"`{name}` {problem}", where, f"`{node.value}`" if node.value else "no value",
                  help="parameters take a number, a boolean or a name; a number in quotes is a string")
        return False, None
    return True, Symbol(value) if isinstance(value, str) else value


def _network_value(document: YamlDocument, node: Node, sink: DiagnosticSink) -> Setting | None:
    value = scalar_value(node) if isinstance(node, ScalarNode) else None
    if not isinstance(value, str) or not value:
        sink.emit(codes.BAD_ARG_TYPE, "`network` must name a network of the spec", span_of(document.source, node),
                  "not a name")
        return None
    return Setting(value, span_of(document.source, node))


def _input_value(document: YamlDocument, node: Node, sink: DiagnosticSink) -> Setting | None:
    dims: list[Any] | None = None
    if isinstance(node, ScalarNode):
        text = scalar_value(node)
        if isinstance(text, str):
            try:
                dims = [int(part) for part in text.lower().split("x")]
            except ValueError:
                dims = None
    elif isinstance(node, SequenceNode) and all(isinstance(item, ScalarNode) for item in node.value):
        dims = [scalar_value(item) for item in node.value]
    good = dims is not None and len(dims) == 3 and all(
        isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= MAX_MAGNITUDE for d in dims)
    if not good:
        sink.emit(codes.BAD_VALUE, "`input` must be channels x height x width, each at least 1",
                  span_of(document.source, node), "not CxHxW", help="write e.g. `input: 3x224x224` or `input: [3, 224, 224]`")
        return None
    return Setting(tuple(dims), span_of(document.source, node))


def merge_param_sets(program: Program, sets: list[ParamSet], sink: DiagnosticSink, *, network: str | None = None,
         input_shape: tuple[int, ...] | None = None) -> Binding | None:
    """Merge the parameter sets for the chosen network and check what the files wrote
    against it; None (after located diagnostics) if a file names something wrong."""
    chosen = Setting(network) if network is not None else next(
        (s.network for s in reversed(sets) if s.network is not None), Setting(None))
    found, definition = _definition(program, chosen, sink)
    if not found:
        return None
    merged: dict[str, Setting] = {}
    for params in sets:
        merged.update(params.values)
    if definition is not None and not _check_against(definition, merged, sink):
        return None
    if input_shape is None:
        input_shape = next((s.input.value for s in reversed(sets) if s.input is not None), None)
    return Binding(chosen.value, {name: s.value for name, s in merged.items()}, input_shape)


def _definition(program: Program, chosen: Setting, sink: DiagnosticSink) -> tuple[bool, syntax.BlockDef | None]:
    """(False, None) after a diagnostic when a file names a network the spec lacks; else
    (True, the network's definition or None when elaboration will report it)."""
    networks = program.networks()
    if chosen.value is None:
        return True, networks[0] if networks else None
    definition = next((n for n in networks if n.name == chosen.value), None)
    if definition is None and chosen.span is not None:
        names = [n.name for n in networks]
        sink.emit(codes.NO_NETWORK, f"the spec has no network named `{chosen.value}`", chosen.span, "no such network",
                  help=did_you_mean(chosen.value, names) or (f"networks: {', '.join(names)}" if names else None))
        return False, None
    return True, definition


def _check_against(definition: syntax.BlockDef, merged: dict[str, Setting], sink: DiagnosticSink) -> bool:
    names = [p.name for p in definition.params]
    defaults = _defaults(definition)
    ok = True
    for name, setting in merged.items():
        if setting.span is None:
            continue  # from -p or a mapping: elaboration checks it as before
        here = Label(definition.name_span, f"network `{definition.name}` defined here", False)
        if name not in names:
            sink.emit(codes.UNKNOWN_ARG, f"network `{definition.name}` has no parameter `{name}`", setting.key,
                      "unknown parameter", secondary=[here],
                      help=did_you_mean(name, names) or (f"parameters: {', '.join(names)}" if names
                                                         else "it takes no parameters"))
            ok = False
        elif name in defaults and not _fits(defaults[name], setting.value):
            sink.emit(codes.BAD_ARG_TYPE, f"`{name}` takes {_kind(defaults[name])}, not {describe(setting.value)}",
                      setting.span, describe(setting.value), secondary=[here],
                      notes=[f"its default is {describe(defaults[name])}"])
            ok = False
    return ok


def _defaults(definition: syntax.BlockDef) -> dict[str, Any]:
    """The defaults that evaluate on their own (the expected kind of each parameter)."""
    env: dict[str, Any] = {}
    scratch = DiagnosticSink()
    for param in definition.params:
        if param.default is None:
            continue
        try:
            env[param.name] = evaluate(param.default, env, scratch)
        except EvalError:
            continue
    return {name: value for name, value in env.items() if value is not None}


def _fits(default: Any, value: Any) -> bool:
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(default, (Symbol, str)):
        return isinstance(value, (Symbol, str))
    return True


def _kind(default: Any) -> str:
    if isinstance(default, bool):
        return "a boolean"
    if isinstance(default, int):
        return "an integer"
    if isinstance(default, float):
        return "a number"
    if isinstance(default, (Symbol, str)):
        return "a name"
    return "a value like its default"


# -- sweep grids ---------------------------------------------------------------------------


@dataclass
class GridFile:
    """A sweep grid read from YAML: each axis a parameter and its values in order (with
    `settings` saying where each value was written); `where` the filter expressions, all
    of which must hold, as written."""

    axes: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    where: tuple[Setting, ...] = ()
    settings: dict[str, tuple[Setting, ...]] = field(default_factory=dict)
    network: Setting | None = None
    input: Setting | None = None


def load_grid(path: str | Path, sink: DiagnosticSink, limits: Limits = DEFAULT_LIMITS) -> GridFile | None:
    """Read a sweep grid file: `name: [v1, v2]`, `name: {range: [a, b, step]}` (like
    Python's range: b excluded, step 1 by default), `name: value` (a one-value axis),
    `where: EXPR` or a list of them, and optionally `network:` and `input:` as in a
    parameter file. None after located diagnostics. `check_grid` then checks the axes
    against the spec's network."""
    document = read_yaml(path, sink, limits)
    if document is None:
        return None
    entries = _mapping_entries(document, document.root, sink, "a grid file",
                               "write one `name: [v1, v2, ...]` per line")
    if entries is None:
        return None
    grid, errors = GridFile(), len(sink.errors)
    for name, key_span, node in entries:
        if name == "where":
            grid.where = _where(document, node, sink)
        elif name == "network":
            grid.network = _network_value(document, node, sink)
        elif name == "input":
            grid.input = _input_value(document, node, sink)
        else:
            values = _axis(document, name, node, sink)
            if values is not None:
                grid.settings[name] = tuple(Setting(value, span, key_span) for value, span in values)
                grid.axes[name] = tuple(value for value, _ in values)
    return grid if len(sink.errors) == errors else None


def check_grid(program: Program, grid: GridFile, sink: DiagnosticSink, *, network: str | None = None) -> bool:
    """Check every value of a grid against the chosen network (`network`, else the
    grid's `network:`, else the first) as a parameter file's values are checked: unknown
    names and kinds that do not fit the default, located in the grid file."""
    chosen = Setting(network) if network is not None else grid.network or Setting(None)
    found, definition = _definition(program, chosen, sink)
    if not found:
        return False
    if definition is None:
        return True
    return all([_check_against(definition, {name: setting}, sink)
                for name, settings in grid.settings.items() for setting in settings])


def _axis(document: YamlDocument, name: str, node: Node, sink: DiagnosticSink) -> list[tuple[Any, Span]] | None:
    if isinstance(node, MappingNode):
        values = _range(document, name, node, sink)
        return None if values is None else [(value, span_of(document.source, node)) for value in values]
    items = node.value if isinstance(node, SequenceNode) else [node]
    values = []
    for item in items:
        ok, value = _scalar(document, name, item, sink)
        if not ok:
            return None
        values.append((value, span_of(document.source, item)))
    if not values:
        sink.emit(codes.BAD_VALUE, f"`{name}` lists no values", span_of(document.source, node), "empty")
        return None
    return values


def _range(document: YamlDocument, name: str, node: MappingNode, sink: DiagnosticSink) -> tuple[int, ...] | None:
    source = document.source
    entries = _mapping_entries(document, node, sink, f"`{name}`", "write `{range: [start, stop, step]}`")
    if entries is None:
        return None
    bounds = entries[0][2] if len(entries) == 1 and entries[0][0] == "range" else None
    numbers = [scalar_value(n) for n in bounds.value] if isinstance(bounds, SequenceNode) and all(
        isinstance(n, ScalarNode) for n in bounds.value) else None
    if numbers is None or not 2 <= len(numbers) <= 3 or not all(
            isinstance(v, int) and not isinstance(v, bool) and abs(v) <= MAX_MAGNITUDE for v in numbers):
        sink.emit(codes.BAD_VALUE, f"`{name}` must be a list of values or `{{range: [start, stop, step]}}` of integers",
                  span_of(source, node), "not a range", help="list float values explicitly: `[0.1, 0.2, 0.3]`")
        return None
    if len(numbers) == 3 and numbers[2] == 0:
        sink.emit(codes.BAD_VALUE, f"the step of `{name}`'s range is zero", span_of(source, bounds.value[2]), "zero step")
        return None
    values = range(*numbers)
    if not values or len(values) > MAX_YAML_NODES:
        problem = "gives no values" if not values else f"gives {len(values):,} values, over {MAX_YAML_NODES:,}"
        sink.emit(codes.BAD_VALUE if not values else codes.LIMIT_EXCEEDED, f"the range of `{name}` {problem}",
                  span_of(source, bounds), "this range", help="the stop value is excluded, as in Python's range")
        return None
    return tuple(values)


def _where(document: YamlDocument, node: Node, sink: DiagnosticSink) -> tuple[Setting, ...]:
    items = node.value if isinstance(node, SequenceNode) else [node]
    found = []
    for item in items:
        text = scalar_value(item) if isinstance(item, ScalarNode) else None
        if not isinstance(text, str) or not text.strip():
            sink.emit(codes.BAD_ARG_TYPE, "`where` must be an expression or a list of expressions",
                      span_of(document.source, item), "not an expression", help='quote it: `where: "c2 >= c1"`')
            return ()
        found.append(Setting(text, span_of(document.source, item)))
    return tuple(found)
