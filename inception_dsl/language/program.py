"""Reading a spec and its imports: path -> Program (every parsed file, every definition
by name, every file's settings). Imports are resolved relative to the importing file;
missing files, cycles, oversized files and non-UTF-8 text become diagnostics."""

from __future__ import annotations

import codecs
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from inception_dsl.core import codes
from inception_dsl.core import syntax
from inception_dsl.core.diagnostics import DiagnosticSink, Label
from inception_dsl.core.files import FileRefused, read_regular
from inception_dsl.core.signatures import SETTING_RANGES, SETTINGS
from inception_dsl.language.metadata import METADATA, check_setting
from inception_dsl.ops import LAYERS
from inception_dsl.ops.activations import NAMES as ACTIVATION_NAMES
from inception_dsl.core.limits import DEFAULT_LIMITS, Limits
from inception_dsl.language.parse import parse
from inception_dsl.core.source import SourceFile, Span
from inception_dsl.core.values import EvalError, describe, did_you_mean, evaluate

if TYPE_CHECKING:
    from inception_dsl.language.caches.parsed_files import ParseCache

__all__ = ["Program", "load_program", "read_source", "file_key", "NO_IMPORTS"]

# `Limits(import_root=NO_IMPORTS)`: no import is read (the language server, for a document
# outside the workspace folders or one that is not a file: nothing outside is read for it)
NO_IMPORTS = "<no imports>"


@dataclass
class Program:
    main: SourceFile | None
    files: dict[str, tuple[SourceFile, syntax.Module]] = field(default_factory=dict)
    definitions: dict[str, syntax.BlockDef] = field(default_factory=dict)
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    root: str = ""  # imports must resolve inside this directory (docs/hardening.md, import policy)
    # elaborated block bodies, kept across the networks and variants checked on this program
    # (language/caches/block_templates.py): Limits -> memo.Templates
    memo: dict = field(default_factory=dict, repr=False, compare=False)
    tokens: int = field(default=0, repr=False, compare=False)  # counted so far against Limits.max_tokens

    def settings_for(self, span: Span) -> dict[str, Any]:
        return self.settings.get(span.source.path, SETTINGS)

    @property
    def main_module(self) -> syntax.Module | None:
        return self.files[self.main.path][1] if self.main and self.main.path in self.files else None

    def networks(self) -> list[syntax.BlockDef]:
        """Networks defined in the main file (imports contribute blocks only)."""
        module = self.main_module
        return [d for d in module.definitions if d.kind == "network"] if module else []


_BRACKETS = re.compile(r"[(){}]")
# what the parser reads as one token (a run of `;` is one: parse._collapse_separators), a comment included
_TOKENS = re.compile(r'#[^\n]*|"(?:[^"\\\n]|\\.)*"|;[\s;]*|[A-Za-z0-9_.]+|\S')


def _within_tokens(program: Program, source: SourceFile, sink: DiagnosticSink, limits: Limits) -> bool:
    """Count the tokens of a file against what is left of the program's budget before it is
    parsed, stopping where the budget runs out: the parser's time and memory (~30 us and a
    few hundred bytes a token) stay proportional to the budget, whatever the size of the
    input (1,000,000 `relu;` in 6 MB took 271 s and 3.96 GB before elaboration stopped it)."""
    left = limits.max_tokens - program.tokens
    count = 0
    for count, match in enumerate(_TOKENS.finditer(source.text), start=1):
        if count > left:
            where = match.start()
            sink.emit(codes.LIMIT_EXCEEDED, f"the spec has more than {limits.max_tokens:,} tokens (names, numbers, "
                      "symbols and comments), over the limit", Span(source, where, where + 1), "the limit is passed here",
                      help="raise the limit with --max-tokens; Inception-v4 written out is ~1,500 tokens")
            return False
    program.tokens += count
    return True


def _nesting_depth(text: str) -> tuple[int, int]:
    """Deepest bracket nesting and the offset where it is reached (comments and strings
    are not skipped: this is a cheap guard against pathological input, not a parser)."""
    depth = best = where = 0
    for match in _BRACKETS.finditer(text):  # one step per bracket, not per character
        index, char = match.start(), match.group()
        if char in "({":
            depth += 1
            if depth > best:
                best, where = depth, index
        elif char in ")}":
            depth -= 1
    return best, where


def read_source(path: Path, display: str, sink: DiagnosticSink, span: Span | None, limits: Limits) -> SourceFile | None:
    """A spec file's text. Only a regular file is read (never a FIFO, a device or a
    directory, also through a symlink: fstat of what was opened), never more than
    `limits.max_file_bytes` of it and never more than the size fstat reports (so a file
    that grows while being read cannot get past the limit, and a pseudo-file that reports
    size 0, like /proc/self/environ, reads as empty), and only UTF-8 text; a leading BOM is
    dropped."""
    if span is None:  # the file named on the command line: anchor its errors at path:1:1
        span = Span(SourceFile(display, ""), 0, 0)
    here = "imported here" if span.source.text else ""
    data = _read_regular(path, display, sink, span, limits)
    if data is None:
        return None
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        sink.emit(codes.BAD_ENCODING, f"`{display}` is not UTF-8 text (byte {error.start} is {data[error.start]:#04x})",
                  span, here, help="save the file as UTF-8")
        return None
    return SourceFile(display, text)


def _read_regular(path: Path, display: str, sink: DiagnosticSink, span: Span, limits: Limits) -> bytes | None:
    here = bool(span.source.text)
    try:
        return read_regular(path, limits.max_file_bytes)
    except FileRefused as refused:
        message = refused.message.replace(f"`{path}`", f"`{display}`")
        if refused.reason == "size":
            sink.emit(codes.FILE_TOO_LARGE, message, span, "imported here" if here else "",
                      help="raise the limit with --max-file-bytes")
        else:
            label = {"missing": "no such file", "kind": "not a file"}.get(refused.reason, "cannot read")
            sink.emit(codes.FILE_NOT_FOUND, message, span, label if here else "",
                      help="a spec is a text file" if refused.reason == "kind" else None)
        return None


def load_program(
    path: str | Path | None,
    sink: DiagnosticSink,
    *,
    text: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
    cache: "ParseCache | None" = None,
    overlay: "Mapping[str, str] | None" = None,
) -> Program:
    """Load a spec and, recursively, its imports. With `text`, `path` only names it (and
    anchors relative imports). With `cache` (caches/parsed_files.ParseCache), files whose text
    was parsed before are not parsed again. `overlay` maps resolved paths to the text to use
    instead of the file's (an editor's unsaved buffers), for imported files."""
    display = str(path) if path is not None else "<input>"
    if text is not None:
        if len(text.encode("utf-8", "surrogatepass")) > limits.max_file_bytes:
            sink.emit(codes.FILE_TOO_LARGE, f"`{display}` is larger than the limit of {limits.max_file_bytes} bytes", None)
            return Program(None)
        main = SourceFile(display, text)
    else:
        main = read_source(Path(display), display, sink, None, limits)
    root = NO_IMPORTS if limits.import_root == NO_IMPORTS else _key(limits.import_root or project_root(Path(display).parent))
    program = Program(main, root=root)
    if main is None:
        return program
    _load_file(program, main, Path(display).parent, sink, limits, stack=[], cache=cache, overlay=overlay)
    return program


def _load_file(program: Program, source: SourceFile, directory: Path, sink: DiagnosticSink,
               limits: Limits, stack: list[tuple[str, Span | None]], cache=None, overlay=None) -> None:
    depth, where = _nesting_depth(source.text)
    if depth > limits.max_nesting:
        sink.emit(codes.LIMIT_EXCEEDED, f"brackets nest {depth} deep, over the limit of {limits.max_nesting}",
                  Span(source, where, where + 1), "nested too deeply here")
        return
    if not _within_tokens(program, source, sink, limits):
        return
    if cache is not None:
        source, module = cache.parse(source, sink)
        if program.main is not None and program.main.path == source.path and not stack:
            program.main = source
    else:
        module = parse(source, sink)
    if module is None:
        return
    program.files[source.path] = (source, module)
    program.settings[source.path] = _settings(module, sink)
    here = stack + [(_key(source.path), None)]
    for item in module.imports:
        target_path = _import_target(program, directory, item, sink)
        if target_path is None:
            continue
        key = _key(str(target_path))
        chain = [k for k, _ in here]
        if key in chain:
            cycle = " -> ".join(Path(k).name for k in chain[chain.index(key):] + [key])
            sink.emit(codes.IMPORT_CYCLE, f"import cycle: {cycle}", item.span, "this import closes the cycle")
            continue
        if any(_key(p) == key for p in program.files):
            continue  # already loaded through another import
        if len(here) > limits.max_import_depth:
            sink.emit(codes.IMPORT_TOO_DEEP, f"imports nest {len(here)} levels deep here, over the limit of "
                      f"{limits.max_import_depth}", item.span, "imported here",
                      help="import the file from higher up, or raise the limit with --max-import-depth")
            continue
        display = str(target_path)
        unsaved = overlay.get(key) if overlay else None
        if unsaved is not None and len(unsaved) <= limits.max_file_bytes:
            imported = SourceFile(display, unsaved)
        else:
            imported = read_source(target_path, display, sink, item.span, limits)
        if imported is not None:
            _load_file(program, imported, target_path.parent, sink, limits, here, cache, overlay)
    for definition in module.definitions:
        _define(program, definition, sink)


def file_key(path: str) -> str:
    """How files are told apart (imports, cycles, `overlay`): the resolved path."""
    return _key(path)


def project_root(directory: Path) -> str:
    """The import root by default: the nearest directory at or above the spec's that holds a
    `pyproject.toml` or `.git` (the project), else the spec's own directory."""
    start = Path(_key(str(directory)))
    for folder in (start, *start.parents):
        if (folder / "pyproject.toml").is_file() or (folder / ".git").exists():
            return str(folder)
    return str(start)


def _import_target(program: Program, directory: Path, item: syntax.Import, sink: DiagnosticSink) -> Path | None:
    """Where an import points, or None (with a diagnostic) when the import policy refuses
    it: the path must be relative to the importing file, and what it resolves to
    (symlinks followed) must lie inside the project root (`Program.root`: the directory of
    the top-level spec, or `Limits.import_root` / `--import-root`)."""
    if "\x00" in item.path:  # the OS cannot even look such a path up
        sink.emit(codes.FILE_NOT_FOUND, "an import path cannot contain a NUL character", item.span, "invalid path")
        return None
    try:
        os.fsencode(item.path)
    except UnicodeError:  # a lone surrogate: text handed over by an editor or the API, never a UTF-8 file
        sink.emit(codes.FILE_NOT_FOUND, "an import path must be valid Unicode text (it holds a lone surrogate)",
                  item.span, "invalid path")
        return None
    if os.path.isabs(item.path) or item.path.startswith("~") or os.path.splitdrive(item.path)[0]:
        sink.emit(codes.IMPORT_OUTSIDE_ROOT, "an import path must be relative to the importing file", item.span,
                  "absolute path", help="copy the file into the project, or name a wider root with --import-root")
        return None
    if program.root == NO_IMPORTS:
        sink.emit(codes.IMPORT_OUTSIDE_ROOT, "imports are not read for this document", item.span, "not read",
                  help="it is outside the editor's workspace folders (or not a file): open its folder to check imports")
        return None
    target = directory / item.path
    resolved = _key(str(target))
    if os.path.commonpath([resolved, program.root]) != program.root:
        shown = os.path.relpath(resolved, program.root) if os.path.isabs(resolved) else resolved
        sink.emit(codes.IMPORT_OUTSIDE_ROOT, "this import leaves the project root", item.span,
                  f"resolves to `{shown}` from the root", help="imports stay inside the top-level spec's directory; "
                  "name a wider root with --import-root")
        return None
    return target


def _key(path: str) -> str:
    try:
        return str(Path(path).resolve())
    except (OSError, RuntimeError, ValueError):  # a symlink loop or an unusable name: compare as written
        return os.path.abspath(path)


def _define(program: Program, definition: syntax.BlockDef, sink: DiagnosticSink) -> None:
    previous = program.definitions.get(definition.name)
    if definition.name in LAYERS:
        sink.emit(codes.DUPLICATE_DEF, f"`{definition.name}` is a built-in layer", definition.name_span,
                  "choose another name for this block")
        return
    if previous is not None and previous is not definition:
        if previous.span.source.path != definition.span.source.path and previous == definition:
            return  # the same definition reached through two import paths
        sink.emit(codes.DUPLICATE_DEF, f"`{definition.name}` is defined twice", definition.name_span,
                  "second definition", secondary=[Label(previous.name_span, "first defined here", False)])
        return
    seen: dict[str, syntax.Param] = {}
    for param in definition.params:
        if param.name in seen:
            sink.emit(codes.DUPLICATE_DEF, f"parameter `{param.name}` is declared twice", param.span,
                      "second declaration", secondary=[Label(seen[param.name].span, "first declared here", False)])
        seen[param.name] = param
    program.definitions[definition.name] = definition


# settings whose value is a name among choices: setting -> (the choices, what they are)
_SETTING_CHOICES = {"act": (ACTIVATION_NAMES, "activation")}


def _settings(module: syntax.Module, sink: DiagnosticSink) -> dict[str, Any]:
    values = dict(SETTINGS)
    known = {**SETTINGS, **METADATA}
    for setting in module.settings:
        if setting.name not in known:
            sink.emit(codes.UNKNOWN_ARG, f"unknown setting `{setting.name}`", setting.span, "not a setting",
                      help=did_you_mean(setting.name, known) or "settings: " + ", ".join(known))
            continue
        try:
            value = evaluate(setting.value, {}, sink)
        except EvalError:
            continue
        if setting.name in METADATA:  # network metadata (language/metadata.py)
            problem = check_setting(setting.name, value)
            if problem:
                sink.emit(codes.BAD_ARG_TYPE, f"setting `{setting.name}` cannot be {describe(value)}",
                          setting.value.span, problem)
            else:
                values[setting.name] = (value,) if setting.name == "feature_taps" and isinstance(value, str) else value
            continue
        expected = type(SETTINGS[setting.name])
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, expected) or isinstance(value, bool) != isinstance(SETTINGS[setting.name], bool):
            sink.emit(codes.BAD_ARG_TYPE, f"setting `{setting.name}` cannot be {describe(value)}", setting.value.span,
                      f"expected a value like {describe(SETTINGS[setting.name])}")
            continue
        choices, what = _SETTING_CHOICES.get(setting.name, (None, ""))
        if choices is not None and value.name not in choices:  # refused here, not at each layer using it
            sink.emit(codes.BAD_ARG_TYPE, f"unknown {what} `{value.name}`", setting.value.span,
                      "expected " + ", ".join(choices), help=did_you_mean(value.name, choices))
            continue
        low, high = SETTING_RANGES.get(setting.name, (None, None))
        if low is not None and not low <= value <= high:
            sink.emit(codes.BAD_VALUE, f"setting `{setting.name}` must be in [{low:g}, {high:g}], got {describe(value)}",
                      setting.value.span, "out of range")
            continue
        values[setting.name] = value
    return values
