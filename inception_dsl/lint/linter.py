"""Lint one spec: load it, check every network it defines, then run the lint rules
and keep the findings that the configuration selects and no `# noqa` suppresses.

A spec with errors is not linted: its errors come back instead (lint runs after a
clean check). A file that defines no network (a library of blocks) is checked for
syntax and imports, and gets the syntax rules only. Never imports torch."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Mapping

from inception_dsl.core.diagnostics import Diagnostic, DiagnosticSink
from inception_dsl.api import build_graph
from inception_dsl.ir import Graph
from inception_dsl.core.limits import DEFAULT_LIMITS, Limits
from inception_dsl.language.params_file import ParamSet, ParamsArg, Setting, merge_param_sets, read_params
from inception_dsl.lint.config import LintConfig, suppressed
from inception_dsl.lint.rules import RULES, LintContext, lint
from inception_dsl.language.program import Program, load_program

__all__ = ["lint_spec", "spec_files", "check_networks", "lint_findings"]


def spec_files(paths: list[str]) -> list[str]:
    """Arguments to files: a directory stands for every .incp file below it, sorted."""
    files: list[str] = []
    for path in paths:
        if Path(path).is_dir():
            files.extend(str(p) for p in sorted(Path(path).rglob("*.incp")) if p.is_file())
        else:
            files.append(path)
    return files


def check_networks(program: Program, sink: DiagnosticSink, network: str | None = None,
                   params: Mapping[str, Any] | list[ParamSet] | None = None, input_shape=None,
                   limits: Limits = DEFAULT_LIMITS, *, partial: bool = False) -> list[Graph]:
    """Elaborate and shape-check every network of the main file (or the one named, on the
    command line or in a parameter file); the graphs of those that come out clean. `params`
    is a mapping or the parameter sets read by params_file.read_params. With `partial`,
    also the graphs of networks with errors, shape-checked as far as they elaborated (as
    api.analyze does; the language server shows their shapes)."""
    sets = params if isinstance(params, list) else [ParamSet({k: Setting(v) for k, v in (params or {}).items()})]
    if network or any(s.network is not None for s in sets):
        names: list[str | None] = [network]
    else:
        names = [n.name for n in program.networks()]
    graphs = []
    for name in names:
        binding = merge_param_sets(program, sets, sink, network=name, input_shape=input_shape)
        if binding is None:
            continue
        graph = build_graph(program, sink, network=binding.network, params=binding.overrides,
                            input_shape=binding.input_shape, limits=limits, after_errors=partial)
        if graph is not None:
            graphs.append(graph)
    return graphs


def lint_spec(
    path: str | Path,
    config: LintConfig = LintConfig(),
    *,
    text: str | None = None,
    network: str | None = None,
    params: ParamsArg = None,
    input_shape: tuple[int, ...] | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> list[Diagnostic]:
    """The check errors of `path`, or its lint findings, sorted by location. `params` as
    for api.analyze: a mapping, a YAML parameter file, or a list of those."""
    sink = DiagnosticSink()
    sets = read_params(params, sink, limits)
    program = load_program(path, sink, text=text, limits=limits)
    if sink.has_errors or program.main_module is None:
        return sink.sorted()
    graphs = check_networks(program, sink, network, sets, input_shape, limits)
    if sink.has_errors:
        return sink.sorted()
    return sorted(sink.diagnostics + lint_findings(program, graphs, config), key=Diagnostic.sort_key)


def lint_findings(program: Program, graphs: list[Graph], config: LintConfig = LintConfig()) -> list[Diagnostic]:
    """The lint rules' findings on a checked program, less those `# noqa` suppresses,
    with the configuration's severities."""
    findings = DiagnosticSink()
    rules = tuple(rule for rule in RULES if config.enabled(rule.code, rule.default))
    lint(LintContext(program, program.main_module, graphs), findings, rules)
    kept = []
    for finding in findings.diagnostics:
        span = finding.primary_span
        if span is not None and suppressed(finding.code, span.source, span.line):
            continue
        override = config.severity_of(finding.code)
        kept.append(dataclasses.replace(finding, severity=override) if override else finding)
    return kept
