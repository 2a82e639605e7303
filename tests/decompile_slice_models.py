"""Small PyTorch networks that take channel slices in different ways, for
tests/test_decompile_slices.py: `x[:, a:b]`, `narrow`, the parts of `chunk`/`split` read
separately, and ReXNet's shortcut added into the first channels. Importable as
`tests.decompile_slice_models:NAME`."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class Narrowed(nn.Module):
    """`narrow` on channels, then a layer: a `channels(a, b)` statement."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.head = nn.Conv2d(4, 6, 1)

    def forward(self, x):
        return self.head(self.conv(x).narrow(1, 2, 4))


class Swapped(nn.Module):
    """Two slices of one tensor concatenated the other way round (one written with `...`)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 1)

    def forward(self, x):
        y = self.conv(x)
        return torch.cat([y[:, 5:, ...], y[:, :5]], dim=1)


class ChunkSwap(nn.Module):
    """`chunk`'s parts concatenated out of order: no `split` statement says it."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 1)
        self.b = nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x):
        a, b = self.conv(x).chunk(2, dim=1)
        return torch.cat([self.b(b), a], dim=1)


class SplitSum(nn.Module):
    """`torch.split` by sizes, each part through its own named layer, then added."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 1)
        self.c1 = nn.Conv2d(3, 6, 1)
        self.c2 = nn.Conv2d(5, 6, 3, padding=1)

    def forward(self, x):
        a, b = torch.split(self.conv(x), [3, 5], dim=1)
        return self.c1(a) + self.c2(b)


class OnePart(nn.Module):
    """One part of a split read, the others never."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 1)
        self.c1 = nn.Conv2d(2, 6, 1)

    def forward(self, x):
        parts = self.conv(x).split(2, dim=1)
        return self.c1(parts[2])


class SliceTwice(nn.Module):
    """A chunk's part read by two operations (a gate), its other part unused."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 1)
        self.a = nn.Conv2d(4, 4, 1)

    def forward(self, x):
        p, _ = self.conv(x).chunk(2, 1)
        return self.a(p) * p


class MidShortcut(nn.Module):
    """ReXNet's partial shortcut from an intermediate tensor, not the input."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 4, 1)
        self.c2 = nn.Conv2d(4, 7, 3, padding=1)

    def forward(self, x):
        y = self.c1(x)
        z = self.c2(F.relu(y))
        return torch.cat([z[:, :4] + y, z[:, 4:]], dim=1)


class PartialShortcut(nn.Module):
    """ReXNet's LinearBottleneck, reduced: the input added into the first channels."""

    def __init__(self, cin, cout):
        super().__init__()
        self.in_channels = cin
        self.conv = nn.Conv2d(cin, cout, 3, padding=1)

    def forward(self, x):
        y = self.conv(x)
        return torch.cat([y[:, 0:self.in_channels] + x, y[:, self.in_channels:]], dim=1)


def partial_shortcuts():
    return nn.Sequential(nn.Conv2d(3, 4, 1), PartialShortcut(4, 6), PartialShortcut(6, 9), PartialShortcut(9, 12))


class Res2Scales(nn.Module):
    """Res2Net's scales: each part of a split added to the last scale's output, the last part
    concatenated as it is."""

    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(3, 16, 1)
        self.s0 = nn.Conv2d(4, 4, 3, padding=1)
        self.s1 = nn.Conv2d(4, 4, 3, padding=1)
        self.s2 = nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x):
        parts = torch.split(self.c(x), 4, 1)
        a = self.s0(parts[0])
        b = self.s1(a + parts[1])
        c = self.s2(b + parts[2])
        return torch.cat([a, b, c, parts[3]], 1)


class Crossed(nn.Module):
    """Two tensors each read by both branches of a concat: no statement order says it."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 4, 1)
        self.b = nn.Conv2d(3, 4, 1)

    def forward(self, x):
        a, b = self.a(x), self.b(x)
        return torch.cat([a + b, a * b], 1)


class ChunkCrossed(nn.Module):
    """A chunk's two parts each read by both branches of a concat."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 1)

    def forward(self, x):
        a, b = self.conv(x).chunk(2, dim=1)
        return torch.cat([a + b, a * b], 1)
