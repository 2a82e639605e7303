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


def _shuffle(x, groups):
    n, c, h, w = x.size()
    x = x.view(n, groups, c // groups, h, w)
    return torch.transpose(x, 1, 2).contiguous().view(n, c, h, w)


class ShuffleUnit(nn.Module):
    """ShuffleNet V2's unit as torchvision writes it: chunk, a branch, cat, shuffle."""

    def __init__(self, channels):
        super().__init__()
        half = channels // 2
        self.branch2 = nn.Sequential(nn.Conv2d(half, half, 1, bias=False), nn.BatchNorm2d(half), nn.ReLU(),
                                     nn.Conv2d(half, half, 3, 1, 1, groups=half, bias=False), nn.BatchNorm2d(half))

    def forward(self, x):
        x1, x2 = x.chunk(2, dim=1)
        return _shuffle(torch.cat((x1, self.branch2(x2)), dim=1), 2)


class ChannelsLastBlock(nn.Module):
    """ConvNeXt's block as timm writes it: permute to channels-last, LayerNorm and Linear
    layers there, permute back, a per-channel parameter, the residual."""

    def __init__(self, dim):
        super().__init__()
        self.conv_dw = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.fc1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), 1e-6))

    def forward(self, x):
        shortcut = x
        x = self.conv_dw(x).permute(0, 2, 3, 1)
        x = self.fc2(self.act(self.fc1(self.norm(x))))
        x = x.permute(0, 3, 1, 2)
        return x.mul(self.gamma.reshape(1, -1, 1, 1)) + shortcut


class Modern(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 2, 2)
        self.shuffle = nn.Sequential(ShuffleUnit(16), ShuffleUnit(16))
        self.blocks = nn.Sequential(ChannelsLastBlock(16), ChannelsLastBlock(16))

    def forward(self, x):
        return self.blocks(self.shuffle(self.stem(x)))


def small_densenet():
    """torchvision's DenseNet, small: layers that read the list of every earlier output."""
    from torchvision.models.densenet import DenseNet

    return DenseNet(growth_rate=8, block_config=(3, 2), num_init_features=16, bn_size=2, num_classes=10)


class MultiBranch(nn.Module):
    """MobileOne/RepVGG-style: a running sum that starts at 0, branches added one by one."""

    def __init__(self, channels=8):
        super().__init__()
        self.identity = nn.BatchNorm2d(channels)
        self.convs = nn.ModuleList(nn.Conv2d(channels, channels, 3, padding=1) for _ in range(2))
        self.scale = nn.Conv2d(channels, channels, 1)

    def forward(self, x):
        out = 0
        out = out + self.identity(x)
        out = out + self.scale(x)
        for conv in self.convs:
            out += conv(x)
        return F.relu(out)


def multi_branch():
    return nn.Sequential(nn.Conv2d(3, 8, 4, padding="same"), MultiBranch())  # torch pads the odd pixel after


class ListNet(nn.Module):
    """Blocks kept in an nn.ModuleList and called in a loop, each on the last one's output
    (timm's `stages`/`blocks` lists): the list is never called itself."""

    def __init__(self):
        super().__init__()
        self.stem = ConvBnAct(3, 8, 2)
        self.blocks = nn.ModuleList([Unit(8, 8, 1) for _ in range(2)] + [Unit(8, 16, 2)])
        self.convs = nn.ModuleList([nn.Conv2d(16, 16, 1), nn.Conv2d(16, 16, 3, padding=1)])
        self.head = nn.Linear(16, 4)

    def forward(self, x):
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        for conv in self.convs:
            x = conv(x)
        return self.head(x.mean((2, 3)))


class Segmenter(nn.Module):
    """torchvision's segmentation models in small: a backbone behind IntermediateLayerGetter
    (a ModuleDict of numbered members returning {'out': x}), a head, bilinear upsampling to
    the input's size, and a dict returned (`aux`: a second entry, as with aux_loss=True)."""

    def __init__(self, aux=False):
        from torchvision.models._utils import IntermediateLayerGetter

        super().__init__()
        layers = {"1": "out", **({"0": "aux"} if aux else {})}
        self.backbone = IntermediateLayerGetter(nn.Sequential(ConvBnAct(3, 8, 2), ConvBnAct(8, 8, 2)), layers)
        self.classifier = nn.Conv2d(8, 3, 1)
        self.aux = aux

    def forward(self, x):
        features = self.backbone(x)
        out = F.interpolate(self.classifier(features["out"]), size=x.shape[-2:], mode="bilinear", align_corners=False)
        return {"out": out, "aux": features["aux"]} if self.aux else {"out": out}


class Named(nn.Module):
    """Members named like the language's keywords (`reduction`, fasternet's PatchMerging) and
    timm's Linear (nn.Linear with its own forward)."""

    def __init__(self):
        from timm.layers import Linear

        super().__init__()
        self.reduction = nn.Conv2d(3, 8, 2, 2, bias=False)
        self.split = nn.BatchNorm2d(8)
        self.fc = Linear(8, 4)

    def forward(self, x):
        return self.fc(self.split(self.reduction(x)).mean((2, 3)))


def small_vovnet():
    """timm's OSA block (VoVNet): its steps' module takes the input and the list of outputs so
    far, and the block concatenates the input with every step's output."""
    from timm.models.vovnet import OsaBlock

    return nn.Sequential(ConvBnAct(3, 16), OsaBlock(16, 16, 16, layer_per_block=3, residual=True, depthwise=True,
                                                    attn="ese"), OsaBlock(16, 8, 24, layer_per_block=2))


class SliceAdd(nn.Module):
    """ReXNet's shortcut: added into the first channels of the block's output."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 5, 1)

    def forward(self, x):
        y = self.conv(x)
        return torch.cat([y[:, 0:3] + x, y[:, 3:]], dim=1)


def ghost_modules():
    """timm's GhostModule cuts its concat to `out_chs` channels (`out[:, :self.out_chs]`): all of them here."""
    from timm.models.ghostnet import GhostModule

    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), GhostModule(8, 16), GhostModule(16, 8))


def tf_same_layers():
    """timm's TF 'SAME' layers: the padding computed from the input size in forward."""
    from timm.layers.conv2d_same import Conv2dSame
    from timm.layers.pool2d_same import AvgPool2dSame, MaxPool2dSame

    return nn.Sequential(Conv2dSame(3, 8, 3, stride=2), nn.BatchNorm2d(8), Conv2dSame(8, 8, 2, stride=2),
                         MaxPool2dSame(3, 2), AvgPool2dSame(2, 2), nn.Flatten(), nn.Linear(8, 4))


class SizeToo(nn.Module):
    """A patch embedding that returns the grid's size beside the tensor (timm's XCiT, Twins)."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Conv2d(3, 8, 2, 2)

    def forward(self, x):
        x = self.proj(x)
        return x, (x.shape[2], x.shape[3])


class Embedded(nn.Module):
    def __init__(self):
        super().__init__()
        self.patch_embed = SizeToo()
        self.head = nn.Conv2d(8, 4, 1)

    def forward(self, x):
        x, (h, w) = self.patch_embed(x)
        return self.head(x[:, :, :h, :w])


def small_vit():
    """timm's VisionTransformer, small: patch embedding, class token, position embedding,
    pre-norm blocks of attention and an MLP, the class token's head."""
    from timm.models.vision_transformer import VisionTransformer

    return VisionTransformer(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, num_classes=5,
                             init_values=1e-5, reg_tokens=2)
