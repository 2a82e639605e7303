"""Names and text for generated Python: legal unique identifiers (torch.fx's
`_Namespace`), CamelCase class names, and an escaper that makes any spec text safe
inside a comment or a docstring. No torch here."""

from __future__ import annotations

import builtins
import keyword
import re

from inception_dsl.core.literals import py_literal
from inception_dsl.language.naming import RESERVED_NAMES

__all__ = ["Namespace", "camel", "safe_text", "member_ref", "MODULE_GLOBALS", "RESERVED_ATTRIBUTES"]

# Names the generated file defines or imports at module level; locals and classes never shadow them.
MODULE_GLOBALS = frozenset({
    "torch", "nn", "F", "OrderedDict", "ConvBnAct", "ConvAct", "Activation",
    "_activate", "_padding", "_pool_padding", "_repeat", "_splice", "_same_channels", "_out_channels", "_div", "_area", "__all__",
})

# nn.Module attributes a child module must not replace (a label `training` or `forward`
# would break the module): the front end's list, which check already enforces (E301).
RESERVED_ATTRIBUTES = RESERVED_NAMES

_BUILTINS = frozenset(dir(builtins))
_KEYWORDS = frozenset(keyword.kwlist) | frozenset(getattr(keyword, "softkwlist", ()))


class Namespace:
    """Hands out identifiers that are legal, unique in this namespace, and neither a
    keyword, a builtin, nor one of the reserved names."""

    def __init__(self, reserved: frozenset[str] | set[str] = frozenset()):
        self._reserved = set(reserved) | set(MODULE_GLOBALS) | {"self"}
        self._used: set[str] = set()

    def create(self, base: str) -> str:
        name = re.sub(r"\W", "_", base) or "_"
        if name[0].isdigit():
            name = "_" + name
        if name.startswith("__"):  # `__class__` as a local breaks super(); `__x` would be name-mangled
            name = "p" + name
        if name in _KEYWORDS or name in _BUILTINS or name in self._reserved:
            name += "_"
        candidate, index = name, 1
        while candidate in self._used or candidate in self._reserved:
            candidate = f"{name}_{index}"
            index += 1
        self._used.add(candidate)
        return candidate


def camel(name: str) -> str:
    """`inception_a` -> `InceptionA`, `stem_v4` -> `StemV4`, `mixed_5b` -> `Mixed5b`."""
    parts = [p for p in re.split(r"_+", name) if p]
    return "".join(p[0].upper() + p[1:] for p in parts) or "Block"


def safe_text(text: str, limit: int = 200) -> str:
    """Spec text made safe for a `#` comment or a docstring: one line, printable, no
    backslashes or triple quotes, bounded length."""
    text = " ".join(text.split())
    text = "".join(c if c.isprintable() else "?" for c in text)
    text = text.replace("\\", "/").replace('"""', "'''").replace('"', "'")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _plain(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name)


def member_ref(name: str) -> str:
    """`self.name`; a label that is a Python keyword (`class`) or a position (`3`, as
    nn.Sequential names its children) stays the attribute name, since it is a
    state_dict key, and is reached through getattr."""
    return f"self.{name}" if _plain(name) else f'getattr(self, {py_literal(name)})'
