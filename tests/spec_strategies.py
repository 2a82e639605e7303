"""Hypothesis strategies that write random specs in the language, tracking the shape as
they go so that every generated spec is valid by construction: blocks with repeats,
nested concat, sum, product (with broadcast gates) and split branches, factorized 1xn/nx1 kernels, strides and paddings, residuals whose
branch ends on the shortcut's channels. `GeneratedSpec.shape` is the output shape the
generator expects, computed here independently of shapes.py."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import strategies as st

__all__ = ["GeneratedSpec", "valid_specs", "Shape"]

Shape = tuple[int, int, int]  # (C, H, W)


@dataclass
class _Writer:
    """Lines of a spec, with the line number each statement lands on."""

    lines: list[str] = field(default_factory=list)

    def add(self, depth: int, text: str) -> int:
        if text.startswith("{") and self.lines and self.lines[-1].strip().isidentifier():
            self.lines[-1] += ";"  # `relu` then `{` would be E008: say it is a statement of its own
        self.lines.append("  " * depth + text)
        return len(self.lines)

    @property
    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


@dataclass
class GeneratedSpec:
    text: str
    shape: Shape
    features: set[str]


def _same(size: int, stride: int) -> int:
    return (size - 1) // stride + 1


def _valid(size: int, kernel: int, stride: int) -> int:
    return (size - kernel) // stride + 1


class _Builder:
    """Draws statements one at a time; `draw` is hypothesis' data.draw."""

    def __init__(self, draw, writer: _Writer):
        self.draw, self.out = draw, writer
        self.features: set[str] = set()
        self.blocks: list[str] = []
        self.labels = 0

    def channels(self) -> int:
        return self.draw(st.integers(1, 12))

    # -- single layers: (text, shape after)
    def layer(self, shape: Shape, *, keep_size: bool) -> tuple[str, Shape]:
        c, h, w = shape
        kinds = ["conv", "factorized", "pool", "act", "shuffle"]
        if not keep_size:
            kinds += ["strided_conv", "valid_conv", "strided_pool", "upsample"]
        kind = self.draw(st.sampled_from(kinds))
        if kind == "conv":
            out, k = self.channels(), self.draw(st.sampled_from([1, 2, 3, 5]))
            bias = self.draw(st.sampled_from(["", ", linear", ", act=gelu", ", bn=false"]))
            return f"conv({out}, {k}x{k}{bias})", (out, h, w)
        if kind == "factorized":
            self.features.add("factorized")
            out, n = self.channels(), self.draw(st.sampled_from([3, 5, 7]))
            first = self.draw(st.booleans())
            return f"conv({out}, {'1x' + str(n) if first else str(n) + 'x1'})", (out, h, w)
        if kind == "pool":
            pool = self.draw(st.sampled_from(["maxpool", "avgpool"]))
            extra = ", count_include_pad=false" if pool == "avgpool" and self.draw(st.booleans()) else ""
            return f"{pool}(3x3{extra})", shape
        if kind == "act":
            return self.draw(st.sampled_from(["relu", "relu6", "silu", "gelu", "dropout(0.1)"])), shape
        if kind == "shuffle":
            self.features.add("shuffle")
            return f"channel_shuffle({self.draw(st.sampled_from([g for g in range(1, c + 1) if c % g == 0]))})", shape
        if kind == "upsample" and h * w <= 64:
            return self._upsample(shape)
        if kind == "strided_conv":
            self.features.add("stride")
            out, k, s = self.channels(), self.draw(st.sampled_from([1, 3])), 2
            return f"conv({out}, {k}x{k}, stride={s})", (out, _same(h, s), _same(w, s))
        if kind == "valid_conv" and min(h, w) >= 3:
            self.features.add("valid")
            out, kh, kw = self.channels(), self.draw(st.integers(1, 3)), self.draw(st.integers(1, 3))
            pad = self.draw(st.sampled_from(["valid", "pad=0", "pad=(0, 0)"]))
            return f"conv({out}, ({kh}, {kw}), {pad})", (out, _valid(h, kh, 1), _valid(w, kw, 1))
        if kind == "strided_pool" and min(h, w) >= 3:
            self.features.add("stride")
            ceil = self.draw(st.booleans())
            return (f"maxpool(3x3, stride=2, valid{', ceil' if ceil else ''})",
                    (c, _pool_valid(h, ceil), _pool_valid(w, ceil)))
        return "relu", shape

    def _upsample(self, shape: Shape) -> tuple[str, Shape]:
        """`upsample(2)` or a transposed conv that doubles the grid (k odd: pad (k-1)/2, output_padding 1)."""
        self.features.add("upsample")
        c, h, w = shape
        if self.draw(st.booleans()):
            mode = self.draw(st.sampled_from(["", ", mode=bilinear", ", mode=bilinear, align_corners=true"]))
            return f"upsample(2{mode})", (c, 2 * h, 2 * w)
        out, k = self.channels(), self.draw(st.sampled_from([1, 3]))
        return f"conv_transpose({out}, {k}x{k}, stride=2, pad={(k - 1) // 2}, output_padding=1)", (out, 2 * h, 2 * w)

    # -- statements, written at `depth`; returns the shape after
    def statement(self, shape: Shape, depth: int, nesting: int, *, keep_size: bool, keep_channels: bool = False) -> Shape:
        options = ["layer"] * 3
        if nesting < 3:
            options += ["concat", "residual", "seq"]
        choice = self.draw(st.sampled_from(options))
        if keep_channels and choice in ("layer", "concat", "seq"):
            choice = "residual"
        if choice == "layer":
            text, after = self.layer(shape, keep_size=keep_size)
            label = self.label()
            self.out.add(depth, f"{label}{text}")
            return after
        if choice == "concat":
            return self.concat(shape, depth, nesting, keep_size=keep_size)
        if choice == "seq":
            self.out.add(depth, f"{self.label()}{{")
            after = self.sequence(shape, depth + 1, nesting + 1, keep_size=keep_size)
            self.out.add(depth, "}")
            return after
        return self.residual(shape, depth, nesting)

    def label(self) -> str:
        if self.draw(st.integers(0, 3)) == 0:
            self.labels += 1
            return f"l{self.labels}: "
        return ""

    def sequence(self, shape: Shape, depth: int, nesting: int, *, keep_size: bool) -> Shape:
        for _ in range(self.draw(st.integers(1, 3))):
            shape = self.statement(shape, depth, nesting, keep_size=keep_size)
        return shape

    def concat(self, shape: Shape, depth: int, nesting: int, *, keep_size: bool) -> Shape:
        c, h, w = shape
        reduce = not keep_size and min(h, w) >= 3 and self.draw(st.booleans())
        kind = "concat" if reduce else self.draw(st.sampled_from(["concat", "concat", "sum", "product", "split"]))
        if kind in ("sum", "product"):
            return self.elementwise(kind, shape, depth, nesting)
        if kind == "split" and c >= 2:
            return self.split(shape, depth, nesting)
        self.features.add("concat")
        self.out.add(depth, "reduction {" if reduce else "concat {")
        total = 0
        for _ in range(self.draw(st.integers(1, 3))):
            self.out.add(depth + 1, "{")
            branch = self.sequence(shape, depth + 2, nesting + 1, keep_size=True)
            if reduce:
                self.features.add("reduction")
                out = self.channels()
                self.out.add(depth + 2, f"conv({out}, 3x3, stride=2, valid)")
                branch = (out, _valid(h, 3, 2), _valid(w, 3, 2))
            self.out.add(depth + 1, "}")
            total += branch[0]
        self.out.add(depth, "}")
        return (total, _valid(h, 3, 2), _valid(w, 3, 2)) if reduce else (total, h, w)

    def elementwise(self, kind: str, shape: Shape, depth: int, nesting: int) -> Shape:
        """`sum`/`product`: every branch ends in a 1x1 conv to the same width; a later
        branch may be a gate pooled to 1x1 (it broadcasts)."""
        self.features.add(kind)
        out = self.channels()
        self.out.add(depth, f"{kind} {{")
        for index in range(self.draw(st.integers(1, 3))):
            self.out.add(depth + 1, "{")
            if index and self.draw(st.booleans()):
                self.features.add("broadcast")
                self.out.add(depth + 2, "global_avgpool")
            else:
                self.sequence(shape, depth + 2, nesting + 1, keep_size=True)
            self.out.add(depth + 2, f"conv({out}, 1x1, bn=false, act=identity)")
            self.out.add(depth + 1, "}")
        self.out.add(depth, "}")
        return (out, shape[1], shape[2])

    def split(self, shape: Shape, depth: int, nesting: int) -> Shape:
        """`split(n)` or `split(a, b, ...)`: each branch works on its slice of the channels."""
        self.features.add("split")
        c, h, w = shape
        parts = self.draw(st.integers(2, min(3, c)))
        if c % parts == 0 and self.draw(st.booleans()):
            sizes, header = [c // parts] * parts, f"split({parts})"
        else:
            cuts = sorted(self.draw(st.sets(st.integers(1, c - 1), min_size=parts - 1, max_size=parts - 1)))
            sizes = [b - a for a, b in zip([0] + cuts, cuts + [c])]
            header = f"split({', '.join(map(str, sizes))})"
        self.out.add(depth, header + " {")
        total = 0
        for size in sizes:
            self.out.add(depth + 1, "{")
            total += self.sequence((size, h, w), depth + 2, nesting + 1, keep_size=True)[0]
            self.out.add(depth + 1, "}")
        self.out.add(depth, "}")
        return (total, h, w)

    def residual(self, shape: Shape, depth: int, nesting: int) -> Shape:
        self.features.add("residual")
        scale = self.draw(st.sampled_from(["", "(scale=0.2)", "(scale=0.17, act=none)", "(act=relu)"]))
        self.out.add(depth, f"residual{scale} {{")
        self.sequence(shape, depth + 1, nesting + 1, keep_size=True)
        self.out.add(depth + 1, f"conv({shape[0]}, 1x1, linear)")
        self.out.add(depth, "}")
        return shape

    def block_definition(self, shape: Shape) -> str:
        """A block that keeps its input shape, so it can be repeated."""
        name = f"unit{len(self.blocks)}"
        self.blocks.append(name)
        self.features.add("block")
        self.out.add(0, f"block {name} {{")
        self.residual(shape, 1, 1)
        self.out.add(0, "}")
        return name


def _pool_valid(size: int, ceil: bool) -> int:
    if not ceil:
        return _valid(size, 3, 2)
    out = (size - 3 + 1) // 2 + 1
    return out - 1 if (out - 1) * 2 >= size else out


@st.composite
def valid_specs(draw, max_statements: int = 5) -> GeneratedSpec:
    writer = _Writer()
    builder = _Builder(draw, writer)
    c, h, w = draw(st.integers(1, 6)), draw(st.integers(6, 24)), draw(st.integers(6, 24))
    stem = draw(st.integers(2, 8))
    block = builder.block_definition((stem, h, w)) if draw(st.booleans()) else None
    writer.add(0, "network generated {")
    writer.add(1, f"input {c}x{h}x{w}")
    writer.add(1, f"conv({stem}, 3x3)")
    shape: Shape = (stem, h, w)
    if block is not None:
        repeat = draw(st.integers(1, 3))
        writer.add(1, f"{block} x{repeat}" if repeat > 1 or draw(st.booleans()) else block)
        builder.features.add("repeat")
    for _ in range(draw(st.integers(1, max_statements))):
        shape = builder.statement(shape, 1, 0, keep_size=False)
    writer.add(0, "}")
    return GeneratedSpec(writer.text, shape, builder.features)
