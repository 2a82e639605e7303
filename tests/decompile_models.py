"""Small PyTorch networks for tests/test_decompile.py: one the language says exactly, and
one of each kind of bad input (no word for an op, data-dependent control flow, a tuple
returned, a constructor that fails). Importable as `tests.decompile_models:NAME`."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class ConvBnAct(nn.Module):
    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class Squeeze(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, channels // 4, 1)
        self.fc2 = nn.Conv2d(channels // 4, channels, 1)

    def forward(self, x):
        s = x.mean((2, 3), keepdim=True)
        return x * torch.sigmoid(self.fc2(F.relu(self.fc1(s))))


class Unit(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = ConvBnAct(cin, cout, stride)
        self.se = Squeeze(cout)
        self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        return F.relu(self.se(self.conv1(x)) + self.shortcut(x))


class Mixed(nn.Module):
    def __init__(self, cin):
        super().__init__()
        self.branch0 = ConvBnAct(cin, 8)
        self.branch1 = nn.Sequential(ConvBnAct(cin, 4), ConvBnAct(4, 8))
        self.pool = nn.MaxPool2d(3, 1, 1)

    def forward(self, x):
        return torch.cat([self.branch0(x), self.branch1(x), self.pool(x)], 1)


class Tiny(nn.Module):
    """conv units, a concat, residual SE units (two of one configuration), a head."""

    def __init__(self, num_classes=5):
        super().__init__()
        self.stem = ConvBnAct(3, 16, 2)
        self.mixed = Mixed(16)
        self.stages = nn.Sequential(Unit(32, 32, 2), Unit(32, 32, 1), Unit(32, 32, 1), Unit(32, 48, 2))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(48, num_classes)

    def forward(self, x):
        x = self.stages(self.mixed(self.stem(x)))
        return self.fc(torch.flatten(self.pool(x), 1))


def tiny():
    return Tiny()


class NoWord(nn.Module):
    """torch.cumsum has no word."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x):
        return torch.cumsum(self.conv(x), dim=1)


class DataDependent(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 4, 1)
        self.b = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x):
        return self.a(x) if x.mean() > 0.5 else self.b(x)


class TwoOutputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)

    def forward(self, x):
        y = self.conv(x)
        return y, y.mean()


def broken():
    raise RuntimeError("this model needs a config file")
