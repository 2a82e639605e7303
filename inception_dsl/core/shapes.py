"""Output-size arithmetic, exactly as PyTorch computes it (pure functions, no torch).

`padding` is always (top, bottom, left, right). Sizes are integers; a result below 1
means the layer does not fit its input.

The three kinds of shape: a grid `(C, H, W)`, flat features `(F,)` and a sequence of
tokens, `Tokens` (a tuple `(C, N)`: channels first as in the other two, so `shape[0]`
is the channel count of every shape)."""

from __future__ import annotations

__all__ = ["Tokens", "is_tokens", "shape_data", "conv_out", "pool_out", "same_padding", "conv2d_out", "pool2d_out"]


def conv_out(size: int, kernel: int, stride: int, pad_before: int, pad_after: int, dilation: int = 1) -> int:
    """torch.nn.Conv2d along one axis: floor((n + p0 + p1 - d*(k-1) - 1) / s) + 1."""
    return (size + pad_before + pad_after - dilation * (kernel - 1) - 1) // stride + 1


def pool_out(size: int, kernel: int, stride: int, pad: int, ceil_mode: bool = False, dilation: int = 1) -> int:
    """torch pooling along one axis (aten pooling_output_shape), padding symmetric."""
    numerator = size + 2 * pad - dilation * (kernel - 1) - 1 + (stride - 1 if ceil_mode else 0)
    out = numerator // stride + 1
    # ceil mode must not start a window entirely in the right padding
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def same_padding(kernel: int, dilation: int = 1) -> tuple[int, int]:
    """Padding that keeps the size at stride 1: total d*(k-1), the extra pixel of an
    even kernel after (bottom/right), as TensorFlow's SAME does."""
    total = dilation * (kernel - 1)
    return total // 2, total - total // 2


def conv2d_out(hw: tuple[int, int], kernel, stride, padding, dilation=(1, 1)) -> tuple[int, int]:
    top, bottom, left, right = padding
    return (
        conv_out(hw[0], kernel[0], stride[0], top, bottom, dilation[0]),
        conv_out(hw[1], kernel[1], stride[1], left, right, dilation[1]),
    )


def pool2d_out(hw: tuple[int, int], kernel, stride, padding, ceil_mode=False) -> tuple[int, int]:
    top, _, left, _ = padding
    return (
        pool_out(hw[0], kernel[0], stride[0], top, ceil_mode),
        pool_out(hw[1], kernel[1], stride[1], left, ceil_mode),
    )


class Tokens(tuple):
    """The shape of a sequence of N tokens of C channels, `(C, N)`, written `NxC tokens`.
    `grid` is the (h, w) grid the last h*w tokens came from (None when not known) and
    `prefix` the number of tokens before them (class and register tokens). `batch`: the
    sequences each image is folded into along the batch (MobileViT's `to_patches`: one per
    position in a patch), so a tensor of this shape is (B * batch, N, C) and an image holds
    batch * C * N values and costs batch times an op's MACs on one sequence. Two shapes
    are equal when their sizes, grid, prefix and batch are."""

    def __new__(cls, channels: int, count: int, grid: tuple[int, int] | None = None, prefix: int = 0,
                batch: int = 1):
        shape = super().__new__(cls, (channels, count))
        shape.grid = tuple(grid) if grid is not None else None
        shape.prefix = prefix
        shape.batch = batch
        return shape

    def __reduce__(self):
        return (Tokens, (self[0], self[1], self.grid, self.prefix, self.batch))

    def __eq__(self, other) -> bool:
        return (isinstance(other, Tokens) and tuple.__eq__(self, other)
                and (self.grid, self.prefix, self.batch) == (other.grid, other.prefix, other.batch))

    def __ne__(self, other) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash((tuple(self), self.grid, self.prefix, self.batch))

    def __repr__(self) -> str:
        return f"Tokens({self[0]}, {self[1]}, grid={self.grid}, prefix={self.prefix}, batch={self.batch})"

    @property
    def channels(self) -> int:
        return self[0]

    @property
    def count(self) -> int:
        return self[1]

    def text(self) -> str:
        """`197x192 tokens`: N tokens of C channels (`4 x 64x96 tokens` when folded 4 times)."""
        return (f"{self.batch} x " if self.batch != 1 else "") + f"{self[1]}x{self[0]} tokens"


def is_tokens(shape) -> bool:
    return isinstance(shape, Tokens)


def shape_data(shape):
    """A shape as plain data (JSON, YAML): `[C, H, W]` or `[C]`, and tokens as a mapping that
    keeps what a list would lose, `{"tokens": N, "channels": C, "grid": [h, w] or None,
    "prefix": P}` (None stays None)."""
    if shape is None:
        return None
    if is_tokens(shape):
        return {"tokens": shape[1], "channels": shape[0], "grid": list(shape.grid) if shape.grid else None,
                "prefix": shape.prefix}
    return list(shape)
