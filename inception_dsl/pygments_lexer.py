"""A Pygments lexer for .incp specs (entry point `incp` in pyproject.toml), so that
Sphinx, MkDocs and `pygmentize -l incp` highlight the language.

The word lists are written out here so that loading the lexer imports neither lark
nor the compiler; tests/test_editors.py checks them against parse.KEYWORDS and
inception_dsl.ops.LAYERS (the registry of layer words)."""

from __future__ import annotations

from pygments.lexer import RegexLexer, bygroups, words
from pygments.token import (Comment, Keyword, Name, Number, Operator, Punctuation, String, Whitespace)

__all__ = ["IncpLexer", "KEYWORDS", "LAYER_NAMES", "CONSTANTS", "FLAGS", "OPERATOR_WORDS", "BUILTIN_NAMES"]

KEYWORDS = ("import", "set", "block", "network", "input", "output", "from", "when",
            "concat", "reduction", "residual", "shortcut", "sum", "product", "split")
# LAYER_NAMES: generated from the op registry by scripts/gen_docs.py (tests fail when stale)
LAYER_NAMES = ("act", "relu", "relu6", "gelu", "silu", "sigmoid", "hardsigmoid", "hardswish", "tanh", "mish",
               "elu", "leaky_relu", "identity", "conv", "maxpool", "avgpool", "global_avgpool",
               "adaptive_avgpool", "bn", "dropout", "flatten", "linear", "global_maxpool",
               "adaptive_maxpool", "attention", "class_token", "pos_embed", "attention2d", "channels",
               "conv_transpose", "drop_path", "upsample", "resize", "pad_to", "groupnorm", "hardtanh",
               "layer_scale", "layernorm", "pool_mixer", "star_relu", "to_patches", "from_patches",
               "pixel_shuffle", "scale", "channel_shuffle", "squared_relu", "to_tokens", "to_grid", "token",
               "avg_tokens", "window_attention", "merge_patches")
CONSTANTS = ("true", "false", "none")
FLAGS = ("same", "valid", "tf_same", "linear", "ceil")
OPERATOR_WORDS = ("and", "or", "not", "if", "else")
BUILTIN_NAMES = ("in_channels", "in_height", "in_width")
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"


class IncpLexer(RegexLexer):
    name = "Inception DSL"
    aliases = ["incp", "inception-dsl"]
    filenames = ["*.incp"]
    mimetypes = ["text/x-incp"]
    url = "https://pypi.org/project/inception-dsl/"

    tokens = {
        "root": [
            (r"\s+", Whitespace),
            (r"#[^\n]*", Comment.Single),
            (r'"([^"\\\n]|\\.)*"', String.Double),
            (rf"\b(block|network)(\s+)({_NAME})", bygroups(Keyword.Declaration, Whitespace, Name.Class)),
            # a label before the keywords: `block: { ... }` labels a statement `block` (torchvision's name)
            (rf"({_NAME})(\s*)(:)", bygroups(Name.Label, Whitespace, Punctuation)),
            (words(KEYWORDS, prefix=r"\b", suffix=r"\b"), Keyword),
            (words(CONSTANTS, prefix=r"\b", suffix=r"\b"), Keyword.Constant),
            (r"\bx[0-9]+(?![A-Za-z0-9_])", Operator.Word),  # repetition: `inception_a x4`
            (r"\bx(?=\s*[A-Za-z_(])(?![A-Za-z0-9_])", Operator.Word),  # repetition: `dense_layer x n`, `x (2 * n)`
            (words(OPERATOR_WORDS, prefix=r"\b", suffix=r"\b"), Operator.Word),
            (words(BUILTIN_NAMES, prefix=r"\b", suffix=r"\b"), Name.Builtin.Pseudo),
            (r"[0-9]+(x[0-9]+)+(?![A-Za-z0-9_])", Number),  # sizes: `3x3`, `3x299x299`
            (r"[0-9]+\.[0-9]*([eE][-+]?[0-9]+)?|[0-9]+[eE][-+]?[0-9]+", Number.Float),
            (r"[0-9]+", Number.Integer),
            (rf"({_NAME})(\s*)(=)", bygroups(Name.Attribute, Whitespace, Operator)),
            (words(LAYER_NAMES, prefix=r"\b", suffix=r"\b"), Name.Builtin),
            (words(FLAGS, prefix=r"\b", suffix=r"\b"), Name.Constant),
            (_NAME, Name),
            (r"//|==|!=|<=|>=|[-+*/%=<>]", Operator),
            (r"[{}()\[\],;]", Punctuation),
        ],
    }
