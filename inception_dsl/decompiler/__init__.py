"""`inception_dsl.decompile(model_or_source)`: a PyTorch network → a readable spec.

    result = inception_dsl.decompile("timm:resnet18")
    print(result.text)                      # the spec, fmt-clean
    result = inception_dsl.decompile(my_module, input_shape=(3, 64, 64), partial=True)

The pipeline: source.py builds the model, trace.py runs it once (twice, to refuse control
flow that depends on the data), structure.py turns each module call into statements,
blocks.py makes blocks of module classes (parameters where instances differ), emit.py
writes text and language/fmt.py makes it canonical; verify.py proves the round trip.
What the language cannot say raises `DecompileError` listing every `Refusal` (module,
class, file:line, missing word); `partial=True` returns the text with the gaps marked.
Imports torch."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from torch import nn

from inception_dsl.decompiler.blocks import Blocks
from inception_dsl.decompiler.emit import Emitter, separated
from inception_dsl.decompiler.guard import InternalError, checked_text
from inception_dsl.decompiler.source import DecompileError, build, model_name
from inception_dsl.decompiler.located import qualname, where
from inception_dsl.decompiler.structure import Structurer
from inception_dsl.decompiler.trace import TraceError, trace
from inception_dsl.decompiler.tree import Refusal, Seq, value_text
from inception_dsl.decompiler.words import BN_DEFAULTS, is_word_module

__all__ = ["Decompiled", "DecompileError", "InternalError", "Refusal", "decompile"]


@dataclass
class Decompiled:
    text: str
    model: nn.Module
    input_shape: tuple[int, ...]
    name: str
    refusals: list[Refusal] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.refusals


def decompile(model_or_source, input_shape: tuple[int, ...] | None = None, *, partial: bool = False,
              name: str | None = None) -> Decompiled:
    """A spec for the network (an nn.Module, or `timm:NAME`, `torchvision:NAME`,
    `package.module:callable`). Raises DecompileError when it cannot be built or traced,
    or when the language lacks a word for part of it (unless `partial`)."""
    if isinstance(model_or_source, nn.Module):
        model, declared, source = model_or_source.eval(), None, None
    else:
        source = str(model_or_source)
        model, declared = build(source)
    shape = tuple(input_shape) if input_shape is not None else declared
    if shape is None:
        raise DecompileError("the model does not say its input size: give input_shape (CxHxW, --input)")
    name = name or (model_name(source) if source else _snake(type(model).__name__))
    try:
        root, events = trace(model, shape, is_word_module)
    except TraceError as error:
        raise DecompileError(f"cannot trace {source or type(model).__name__}: {error}") from None
    bn = _bn_settings(model)
    try:
        body, blocks, refusals = _structured(model, root, events, shape, bn)
    except Exception as error:  # noqa: BLE001 - a bug of ours: said so, never a traceback
        raise InternalError(f"internal error (a bug of the decompiler) while structuring {source or name}: "
                            f"{type(error).__name__}: {error}", "") from error
    if refusals and not partial:
        lines = "\n".join(f"  {r.describe()}" for r in refusals)
        error = DecompileError(f"{source or name}: {len(refusals)} part(s) the language cannot express:\n{lines}")
        error.refusals = refusals
        raise error
    text = checked_text(_text(model, source, name, shape, body, list(blocks.blocks.values()), bn),
                        f"<decompiled {name}>", complete=not refusals)  # a spec check rejects is never written
    return Decompiled(text, model, shape, name, refusals)


def _structured(model: nn.Module, root, events, shape, bn) -> tuple[list, Blocks, list[Refusal]]:
    """The network's body, its blocks (parameterized) and what the language cannot say."""
    structurer = Structurer(events, shape)
    body = structurer.body(root)
    if isinstance(model, nn.Sequential):  # its children are positions: `_: { ... }` numbers them so
        for stmt in body:
            if getattr(stmt, "label", None) and stmt.label.isdigit():
                stmt.label = None
        body = [Seq(body, "_")]
    blocks = Blocks(structurer.refusals, bn)
    body = blocks.finalize(body)
    blocks.parameterize()
    return body, blocks, structurer.refusals


def _bn_settings(model: nn.Module) -> dict[str, float]:
    found = Counter((float(m.eps), float(m.momentum)) for m in model.modules()
                    if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.momentum is not None)
    if not found:
        return dict(BN_DEFAULTS)
    eps, momentum = found.most_common(1)[0][0]
    return {"eps": eps, "momentum": momentum}


def _text(model, source, name, shape, body, blocks, bn) -> str:
    emitter = Emitter(blocks, bn)
    cls = type(model)
    lines = [f"# Decompiled from {source or qualname(cls)} by `inception-dsl decompile`.",
             f"# {qualname(cls)} ({where(cls)})", ""]
    for key in ("eps", "momentum"):
        if bn[key] != BN_DEFAULTS[key]:
            lines.append(f"set bn_{key} = {value_text(bn[key])}")
    if source and ":" in source and source.split(":")[0] in ("timm", "torchvision"):
        lines.append(f'set reference = "{source}"')
    lines.append("")
    for block in blocks:
        lines += emitter.block(block, f"{qualname(block.cls)} ({where(block.cls)}), e.g. `{block.path}`")
        lines.append("")
    lines.append(f"network {name} {{")
    lines.append(f"  input {'x'.join(map(str, shape))}")
    from inception_dsl.decompiler.emit import _joins_in_scope

    emitter.body(_joins_in_scope(body), 1, lines)
    lines.append("}")
    return "\n".join(separated(lines)) + "\n"


def _snake(name: str) -> str:
    from inception_dsl.decompiler.blocks import snake

    return snake(name)
