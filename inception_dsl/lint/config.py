"""Which lint findings to keep: project configuration (`[tool.inception-dsl]` in the
nearest pyproject.toml above a spec) and per-line `# noqa` comments.

    [tool.inception-dsl]
    select = ["W1"]            # codes, slugs or code prefixes; "ALL" for every rule
    extend-select = ["W105"]   # add to the default set (hints are off by default)
    ignore = ["W112"]
    severity = { W103 = "error" }

Bad configuration raises ConfigError (the CLI reports it and exits 2)."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from inception_dsl.core.codes import ALL_CODES, Code, Severity, lookup
from inception_dsl.core.files import read_regular
from inception_dsl.core.limits import DEFAULT_LIMITS
from inception_dsl.core.source import SourceFile

__all__ = ["ConfigError", "LintConfig", "find_config", "load_config", "noqa_codes", "suppressed"]

TABLE = "inception-dsl"
_NOQA = re.compile(r"\bnoqa\b(?::\s*(?P<codes>[A-Za-z][A-Za-z0-9-]*(?:\s*,\s*[A-Za-z][A-Za-z0-9-]*)*))?", re.I)


class ConfigError(Exception):
    """The configuration cannot be used; the message says where and why."""


@dataclass(frozen=True)
class LintConfig:
    select: tuple[str, ...] | None = None  # None: every rule that is on by default
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    severity: dict[str, Severity] = field(default_factory=dict)
    path: Path | None = None  # the pyproject.toml it came from

    def enabled(self, code: Code, default: bool) -> bool:
        chosen = _matches(code, self.select) if self.select is not None else default
        chosen = chosen or _matches(code, self.extend_select)
        return chosen and not _matches(code, self.ignore)

    def severity_of(self, code: Code) -> Severity | None:
        return self.severity.get(code.id)

    def merged(self, *, select=None, extend_select=(), ignore=()) -> "LintConfig":
        """Command-line options on top of the file: --select replaces, the others add."""
        return LintConfig(
            tuple(select) if select else self.select,
            self.extend_select + tuple(extend_select),
            self.ignore + tuple(ignore),
            self.severity,
            self.path,
        )


def _matches(code: Code, patterns: tuple[str, ...] | None) -> bool:
    for pattern in patterns or ():
        upper = pattern.upper()
        if upper == "ALL" or code.id.startswith(upper) or code.slug == pattern:
            return True
    return False


def check_patterns(patterns, where: str) -> tuple[str, ...]:
    """Validate code selectors: each must name a code, a slug or a code prefix."""
    if isinstance(patterns, str) or not isinstance(patterns, (list, tuple)):
        raise ConfigError(f"{where}: expected a list of codes, e.g. [\"W101\"]")
    for pattern in patterns:
        if isinstance(pattern, str) and not pattern.strip():
            raise ConfigError(f"{where}: an empty code would match every code; write \"ALL\" to mean that")
        if not isinstance(pattern, str) or not (
            pattern.upper() == "ALL" or lookup(pattern) or any(c.startswith(pattern.upper()) for c in ALL_CODES)
        ):
            raise ConfigError(f"{where}: unknown code {pattern!r}")
    return tuple(patterns)


def find_config(spec: str | Path) -> Path | None:
    """The nearest pyproject.toml at or above the spec's directory that has our table."""
    directory = Path(spec).resolve().parent
    for folder in (directory, *directory.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            data = _read_toml(candidate)
            tool = data.get("tool", {})
            if not isinstance(tool, dict):
                raise ConfigError(f"{candidate}: `tool` must be a table, not {type(tool).__name__}")
            if TABLE in tool:
                return candidate
    return None


def _read_toml(path: Path) -> dict:
    """A pyproject.toml through the one safe reader (core/files.py: a regular file,
    at most the spec size limit)."""
    try:
        return tomllib.loads(read_regular(path, DEFAULT_LIMITS.max_file_bytes).decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{path}: cannot read: {error}") from None


def load_config(pyproject: Path | None) -> LintConfig:
    if pyproject is None:
        return LintConfig()
    data = _read_toml(pyproject)
    table = data["tool"][TABLE]
    where = f"{pyproject}: [tool.{TABLE}]"
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: must be a table, not {type(table).__name__}")
    if not isinstance(table.get("severity", {}), dict):
        raise ConfigError(f"{where}: severity must be a table like {{ W101 = \"error\" }}")
    unknown = set(table) - {"select", "extend-select", "ignore", "severity"}
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    severity = {}
    for key, value in table.get("severity", {}).items():
        code = lookup(key)
        if code is None:
            raise ConfigError(f"{where}: severity: unknown code {key!r}")
        if value not in ("error", "warning"):
            raise ConfigError(f"{where}: severity of {key}: expected \"error\" or \"warning\", got {value!r}")
        severity[code.id] = Severity(value)
    return LintConfig(
        check_patterns(table["select"], f"{where} select") if "select" in table else None,
        check_patterns(table.get("extend-select", []), f"{where} extend-select"),
        check_patterns(table.get("ignore", []), f"{where} ignore"),
        severity,
        pyproject,
    )


def _comment(line: str) -> str | None:
    """The comment of a source line (a `#` outside a string), or None."""
    quoted = False
    index = 0
    while index < len(line):
        char = line[index]
        if char == "\\" and quoted:
            index += 2
            continue
        if char == '"':
            quoted = not quoted
        elif char == "#" and not quoted:
            return line[index:]
        index += 1
    return None


def noqa_codes(source: SourceFile, line: int) -> frozenset[str] | None:
    """None: no noqa on the line; {"*"}: a bare `# noqa` (every code); else the code
    ids it names (unknown names are ignored, so `# noqa: typo` suppresses nothing)."""
    if not 1 <= line <= source.line_count:
        return None
    comment = _comment(source.line_text(line))
    match = _NOQA.search(comment) if comment else None
    if match is None:
        return None
    if not match.group("codes"):
        return frozenset({"*"})
    found = (lookup(part.strip()) for part in match.group("codes").split(","))
    return frozenset(code.id for code in found if code is not None)


def suppressed(code: Code, source: SourceFile, line: int) -> bool:
    codes = noqa_codes(source, line)
    return codes is not None and ("*" in codes or code.id in codes)
