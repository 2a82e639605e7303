"""Parsed large files kept on disk by content: `load(source)` is the syntax tree a clean
parse of exactly this text gave before (in any process), `store(source, module)` keeps
one. Parsing is the front end's largest fixed cost (about 1.4 s for a 10,000-statement
network, 15 times what reading the kept tree takes, docs/scaling.md).

Only texts of at least `MIN_BYTES` are kept (small files parse in milliseconds), only
parses that emitted no diagnostic (nothing to replay), and at most `KEEP` files (the
least recently written go first). The files live in the parser-table cache directory and
follow its rules (language/caches/parser_tables.py: private directory and files, no symlinks
followed, every payload verified with a per-user keyed hash before it is unpickled); the
name is the SHA-256 of the text, the stamp the hash of the grammar and of the modules
that define the tree, so a tree from another version is never read. The tree's spans
point at the `SourceFile` being parsed, never at a stored copy of the text.
`INCEPTION_DSL_NO_CACHE=1` turns it off, as it does the parser-table cache."""

from __future__ import annotations

import functools
import hashlib
import io
import pickle
import sys
from pathlib import Path

from inception_dsl.language.caches import parser_tables
from inception_dsl.core import syntax
from inception_dsl.core.source import SourceFile

__all__ = ["load", "store", "MIN_BYTES", "KEEP"]

MIN_BYTES = 64 * 1024
KEEP = 8
_PREFIX = "ast-"


@functools.lru_cache(maxsize=1)
def _stamp() -> str:
    language = Path(__file__).parent.parent
    core = language.parent / "core"
    digest = hashlib.sha256(f"py{sys.version_info[0]}.{sys.version_info[1]}".encode())
    for path in (language / "grammar.lark", core / "syntax.py", language / "parse.py", core / "source.py", Path(__file__)):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _name(source: SourceFile) -> str | None:
    if len(source.text) < MIN_BYTES:
        return None
    return _PREFIX + hashlib.sha256(source.text.encode("utf-8", "surrogatepass")).hexdigest()


class _Pickler(pickle.Pickler):
    def __init__(self, buffer, source: SourceFile) -> None:
        super().__init__(buffer, protocol=pickle.HIGHEST_PROTOCOL)
        self.source = source

    def persistent_id(self, obj):
        return "source" if obj is self.source else None


class _Unpickler(pickle.Unpickler):
    def __init__(self, buffer, source: SourceFile) -> None:
        super().__init__(buffer)
        self.source = source

    def persistent_load(self, pid):
        if pid != "source":
            raise pickle.UnpicklingError("unknown reference")
        return self.source


def load(source: SourceFile) -> syntax.Module | None:
    name = _name(source)
    if name is None:
        return None
    payload = parser_tables.read_cache(name, _stamp())
    if payload is None:
        return None
    try:
        module = _Unpickler(io.BytesIO(payload), source).load()
    except Exception:  # verified, yet unreadable (an interrupted write cannot pass the check): parse
        return None
    return module if isinstance(module, syntax.Module) else None


def store(source: SourceFile, module: syntax.Module) -> None:
    name = _name(source)
    if name is None:
        return
    buffer = io.BytesIO()
    try:
        _Pickler(buffer, source).dump(module)
    except (pickle.PicklingError, RecursionError, TypeError):
        return
    if len(buffer.getvalue()) <= parser_tables.MAX_CACHE_BYTES - 1024 and \
            parser_tables.write_cache(name, _stamp(), buffer.getvalue()):
        parser_tables.prune(_PREFIX, KEEP)
