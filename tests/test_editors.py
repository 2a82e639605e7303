"""Editor support: the Pygments lexer and the TextMate grammar know the language's
words, tokenize every shipped spec without errors, and their patterns compile."""

from __future__ import annotations

import json
import re
from importlib.metadata import entry_points

import pytest
from pygments.token import Comment, Error, Keyword, Name, Number, Operator, String

from inception_dsl.ops import LAYERS
from inception_dsl.language.parse import KEYWORDS
from inception_dsl.language.parse import RESERVED
from inception_dsl.core.syntax import BUILTIN_NAMES
from inception_dsl.pygments_lexer import (BUILTIN_NAMES as LEXER_BUILTINS, CONSTANTS, FLAGS, KEYWORDS as LEXER_KEYWORDS,
                                          LAYER_NAMES, OPERATOR_WORDS, IncpLexer)
from inception_dsl.core.values import CONSTANTS as VALUE_CONSTANTS

from .conftest import ROOT, SPECS

ALL_SPECS = sorted(SPECS.rglob("*.incp"))
TEXTMATE = json.loads((ROOT / "editors" / "incp.tmLanguage.json").read_text())


def tokens(text: str) -> list[tuple]:
    return [(t, v) for t, v in IncpLexer().get_tokens(text) if v.strip()]


@pytest.mark.parametrize("spec", ALL_SPECS, ids=lambda p: str(p.relative_to(SPECS)))
def test_lexer_has_no_error_tokens_on_shipped_specs(spec):
    errors = [v for t, v in IncpLexer().get_tokens(spec.read_text()) if t in Error]
    assert errors == []


def test_lexer_word_lists_match_the_language():
    assert set(LEXER_KEYWORDS) == KEYWORDS
    assert set(LAYER_NAMES) == set(LAYERS)
    assert set(CONSTANTS) == set(VALUE_CONSTANTS)
    assert set(FLAGS) == {flag for definition in LAYERS.values() for flag in definition.sig.flags}
    assert set(OPERATOR_WORDS) == RESERVED
    assert set(LEXER_BUILTINS) == set(BUILTIN_NAMES)


def test_lexer_classifies_expressions_and_repetition_counts():
    text = "block b(n) {\n  conv(in_channels // 2) x (2 * n) when not n >= 2 and n != 3\n  dense x n\n}"
    found = tokens(text)
    assert (Name.Builtin.Pseudo, "in_channels") in found
    assert found.count((Operator.Word, "x")) == 2
    assert (Operator.Word, "not") in found and (Operator.Word, "and") in found
    assert (Operator, ">=") in found and (Operator, "!=") in found
    assert (Name, "xn") in tokens("conv(8) xn")  # a name, not a repetition


def test_lexer_classifies_the_tokens():
    text = 'import "b.incp"\nnetwork n {\n  stem: conv(32, 3x3, stride=2, valid)  # note\n  inception_a x4 when true\n}'
    found = tokens(text)
    assert (String.Double, '"b.incp"') in found
    assert (Keyword.Declaration, "network") in found and (Name.Class, "n") in found
    assert (Name.Label, "stem") in found and (Name.Builtin, "conv") in found
    assert (Number, "3x3") in found and (Number.Integer, "32") in found
    assert (Name.Attribute, "stride") in found and (Name.Constant, "valid") in found
    assert (Operator.Word, "x4") in found and (Keyword.Constant, "true") in found
    assert (Comment.Single, "# note") in found and (Name, "inception_a") in found


def test_lexer_is_registered_as_the_incp_entry_point():
    registered = {e.name: e.value for e in entry_points(group="pygments.lexers")}
    assert registered.get("incp") == "inception_dsl.pygments_lexer:IncpLexer"


def patterns(node) -> list[str]:
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("match", "begin", "end") and isinstance(value, str):
                found.append(value)
            else:
                found += patterns(value)
    elif isinstance(node, list):
        for item in node:
            found += patterns(item)
    return found


def test_textmate_patterns_compile_and_every_rule_is_included():
    regexes = patterns(TEXTMATE)
    assert len(regexes) >= 10
    for regex in regexes:
        re.compile(regex)
    included = {p["include"].lstrip("#") for p in TEXTMATE["patterns"]}
    assert included == set(TEXTMATE["repository"])
    assert TEXTMATE["scopeName"] == "source.incp" and "incp" in TEXTMATE["fileTypes"]


def alternatives(rule: str) -> set[str]:
    match = re.fullmatch(r"\\b\(\?:([a-z0-9_|]+)\)\\b", TEXTMATE["repository"][rule]["match"])
    assert match, rule
    return set(match.group(1).split("|"))


def test_textmate_word_lists_match_the_language():
    assert alternatives("keyword") == KEYWORDS
    assert alternatives("layer") == set(LAYERS)
    assert alternatives("constant") == set(VALUE_CONSTANTS)
    assert alternatives("operator-word") == RESERVED
    assert alternatives("builtin") == set(BUILTIN_NAMES)


def test_textmate_repeat_rule_takes_the_x_before_a_count_expression():
    rule = TEXTMATE["repository"]["repeat"]["match"]
    assert re.match(rule, "x n").group(0) == "x" and re.match(rule, "x (2 * n)").group(0) == "x"


@pytest.mark.parametrize("rule,text,whole", [
    ("size", "3x3", True), ("size", "3x299x299", True), ("repeat", "x4", True),
    ("comment", "# a comment", True), ("string", '"blocks/v4.incp"', True),
    ("number", "0.001", True), ("number", "1e-5", True), ("label", "stem:", True),
    ("repeat", "x4a", False), ("size", "3x3a", False), ("repeat", "xn", False),
    ("operator", "==", True), ("operator", ">=", True),
])
def test_textmate_rules_match_their_tokens(rule, text, whole):
    match = re.match(TEXTMATE["repository"][rule]["match"], text)
    assert (match is not None and match.group(0) == text) == whole
