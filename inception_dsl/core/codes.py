"""The one registry of diagnostic codes. Every diagnostic the tool emits names one of
these; docs/diagnostics.md is generated from this table (scripts/gen_docs.py) and a
golden test exists for each error code under tests/cases/diagnostics/.

Ranges: E0xx syntax and files, E1xx binding and elaboration, E2xx shapes and budgets,
E3xx backends (a valid spec a backend cannot write), W1xx lint warnings (lint/rules.py)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["Severity", "Code", "ALL_CODES", "lookup"]


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


@dataclass(frozen=True)
class Code:
    id: str
    slug: str
    summary: str
    severity: Severity = Severity.ERROR


ALL_CODES: dict[str, Code] = {}


def _code(id: str, slug: str, summary: str, severity: Severity = Severity.ERROR) -> Code:
    code = Code(id, slug, summary, severity)
    assert id not in ALL_CODES, id
    ALL_CODES[id] = code
    return code


def lookup(text: str) -> Code | None:
    """A code by id (`E201`) or slug (`concat-mismatch`)."""
    if text.upper() in ALL_CODES:
        return ALL_CODES[text.upper()]
    return next((c for c in ALL_CODES.values() if c.slug == text), None)


# -- E0xx: reading and parsing -------------------------------------------------------
SYNTAX = _code("E001", "syntax", "the text does not follow the grammar")
UNTERMINATED = _code("E002", "unexpected-eof", "the file ends inside a construct")
FILE_NOT_FOUND = _code("E003", "file-not-found", "an imported file does not exist or cannot be read")
IMPORT_CYCLE = _code("E004", "import-cycle", "files import each other in a cycle")
FILE_TOO_LARGE = _code("E005", "file-too-large", "a spec file is larger than the size limit")
BAD_ENCODING = _code("E006", "bad-encoding", "a spec file is not valid UTF-8 text")
IMPORT_TOO_DEEP = _code("E007", "import-too-deep", "imports nest deeper than the limit")
LABEL_WITHOUT_COLON = _code("E008", "label-without-colon", "a bare name is followed by `{`: labels need their colon")
RESERVED_NAME = _code("E009", "reserved-name", "a block, call or parameter is named `and`, `or`, `not`, `if` or `else`")
IMPORT_OUTSIDE_ROOT = _code("E010", "import-outside-root",
                            "an import is absolute or leaves the project root (the top-level spec's directory)")

# -- E1xx: names, arguments, elaboration ----------------------------------------------
UNKNOWN_NAME = _code("E101", "unknown-name", "a name is neither a parameter nor a known value")
UNKNOWN_BLOCK = _code("E102", "unknown-block", "a call names no layer and no block definition")
UNKNOWN_ARG = _code("E103", "unknown-argument", "a call passes an argument the callee does not take")
MISSING_ARG = _code("E104", "missing-argument", "a call omits a required argument")
BAD_ARG_TYPE = _code("E105", "argument-type", "an argument has the wrong type or an invalid value")
DUPLICATE_DEF = _code("E106", "duplicate-definition", "two definitions or two parameters share a name")
RECURSIVE_BLOCK = _code("E107", "recursive-block", "a block calls itself, directly or through others")
BAD_REPEAT = _code("E108", "bad-repeat", "a repetition count is zero, negative or too large")
NO_NETWORK = _code("E109", "no-network", "the file defines no network, or not the one asked for")
MISSING_INPUT = _code("E110", "missing-input", "a network does not declare its input shape")
DUPLICATE_NAME = _code("E111", "duplicate-name", "two layers in one scope get the same name")
BAD_VALUE = _code("E112", "bad-value", "a count or size is zero, negative or not an integer")
UNKNOWN_SOURCE = _code("E113", "unknown-source", "`from` or `output` names no earlier statement")
MISPLACED = _code("E114", "misplaced", "a statement is not allowed where it stands")
LIMIT_EXCEEDED = _code("E115", "limit-exceeded", "the spec exceeds a resource limit")
DIVISION_BY_ZERO = _code("E116", "division-by-zero", "an expression divides by zero")

# -- E2xx: shapes --------------------------------------------------------------------
CONCAT_MISMATCH = _code("E201", "concat-mismatch", "concatenated branches disagree on spatial size")
RESIDUAL_MISMATCH = _code("E202", "residual-mismatch", "a residual sum adds tensors of different shapes")
SIZE_TOO_SMALL = _code("E203", "size-too-small", "a spatial size reaches zero or below")
NOT_SPATIAL = _code("E204", "not-spatial", "a spatial layer receives a flattened tensor or tokens")
NOT_FLAT = _code("E205", "not-flat", "a linear layer receives a tensor that still has spatial size")
NOT_REDUCING = _code("E206", "not-reducing", "a `reduction` leaves the grid size unchanged")
BAD_GROUPS = _code("E207", "bad-groups", "the input channels do not divide as the layer needs (by its groups, say)")
PARAM_BUDGET = _code("E208", "param-budget", "the network has more parameters than the budget allows")
MEMORY_BUDGET = _code("E209", "memory-budget", "activations need more memory than the budget allows")
ELEMENTWISE_MISMATCH = _code("E210", "elementwise-mismatch",
                             "`sum`/`product` branches disagree on channels, or on grids that do not broadcast")
BAD_SPLIT = _code("E211", "bad-split",
                  "`split` sizes do not sum to the input's channels, a count does not divide them, "
                  "or the branches do not match the parts; a channel slice `channels(a, b)` outside the input's channels")
NOT_TOKENS = _code("E212", "not-tokens",
                   "a token layer receives a grid or flat features, or tokens it cannot use (size, prefix, index)")
BAD_HEADS = _code("E213", "bad-heads", "an attention layer's heads do not divide its width")
POS_EMBED_SIZE = _code("E214", "pos-embed-size", "a position embedding was built for another number of tokens")

# -- E3xx: backends ------------------------------------------------------------------
UNSUPPORTED = _code("E301", "unsupported-construct", "the Python backend cannot write this construct as one class")

# -- W1xx: lint (lint/rules.py; docs/lint.md gives each rule's reason and an example) --
_W = Severity.WARNING
RESIDUAL_SCALE = _code("W101", "residual-scale", "a wide residual is not scaled down to 0.1-0.3", _W)
BN_ON_SUM = _code("W102", "bn-on-sum", "BatchNorm is applied on top of a residual sum", _W)
DROPPED_PIXELS = _code("W103", "dropped-pixels", "a strided conv or pool silently drops input rows or columns", _W)
FACTORIZED_MISMATCH = _code("W104", "factorized-mismatch", "the halves of a 1xn / nx1 pair differ in n", _W)
UNFACTORIZED_CONV = _code("W105", "unfactorized-conv", "an nxn conv (n >= 5) that could be factorized", _W)
BIAS_WITH_BN = _code("W106", "bias-with-bn", "a conv has a bias although BatchNorm follows it", _W)
DOUBLE_ACTIVATION = _code("W107", "double-activation", "two activations are applied in a row", _W)
SINGLE_BRANCH_CONCAT = _code("W108", "single-branch-concat", "a concat or reduction has a single branch", _W)
REDUCTION_BOTTLENECK = _code("W109", "reduction-bottleneck", "a grid reduction also reduces the channels", _W)
UNUSED_BLOCK = _code("W110", "unused-block", "a block is defined but no network uses it", _W)
UNUSED_PARAM = _code("W111", "unused-parameter", "a block or network parameter is never used", _W)
SHADOWED_NAME = _code("W112", "shadowed-name", "a label or parameter reuses the name of a block or parameter", _W)
