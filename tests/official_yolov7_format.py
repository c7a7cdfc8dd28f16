# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Official-format YOLOv7 models for the converter tests, built here (no
download, no official source): module classes named and nested as the
official ``models.common`` / ``models.yolo`` ones, a flat layer list run
by its ``from`` indices as the official ``Model.forward_once`` runs it,
and a checkpoint saved as official ``train.py`` saves it (the whole Model
pickled, fp16, under 'model' and 'ema').

The layer tables restate the official cfg/training/yolov7-tiny.yaml and
yolov7.yaml in Python helper calls (ELAN, MP, ...)."""
import contextlib
import math
import sys
import types

import numpy as np
import torch
import torch.nn as nn


def _act(kind):
    return nn.LeakyReLU(0.1) if kind == 'leaky' else nn.SiLU()


class Conv(nn.Module):

    def __init__(self, c1, c2, k=1, s=1, act='silu'):
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, k // 2, bias=False)
        self.bn = nn.BatchNorm2d(c2, eps=1e-3, momentum=0.03)
        self.act = _act(act)

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class Concat(nn.Module):

    def forward(self, x):
        return torch.cat(x, 1)


class MP(nn.Module):

    def __init__(self):
        super().__init__()
        self.m = nn.MaxPool2d(2, 2)

    def forward(self, x):
        return self.m(x)


class SP(nn.Module):

    def __init__(self, k):
        super().__init__()
        self.m = nn.MaxPool2d(k, 1, k // 2)

    def forward(self, x):
        return self.m(x)


class SPPCSPC(nn.Module):

    def __init__(self, c1, c2):
        super().__init__()
        c = c2
        self.cv1 = Conv(c1, c, 1)
        self.cv2 = Conv(c1, c, 1)
        self.cv3 = Conv(c, c, 3)
        self.cv4 = Conv(c, c, 1)
        self.m = nn.ModuleList(nn.MaxPool2d(k, 1, k // 2) for k in (5, 9, 13))
        self.cv5 = Conv(4 * c, c, 1)
        self.cv6 = Conv(c, c, 3)
        self.cv7 = Conv(2 * c, c2, 1)

    def forward(self, x):
        x1 = self.cv4(self.cv3(self.cv1(x)))
        y1 = self.cv6(self.cv5(torch.cat([x1] + [m(x1) for m in self.m], 1)))
        return self.cv7(torch.cat((y1, self.cv2(x)), 1))


class RepConv(nn.Module):

    def __init__(self, c1, c2, k=3, s=1):
        super().__init__()
        self.act = nn.SiLU()
        self.rbr_identity = nn.BatchNorm2d(c1, eps=1e-3, momentum=0.03) \
            if c1 == c2 and s == 1 else None
        self.rbr_dense = nn.Sequential(
            nn.Conv2d(c1, c2, 3, s, 1, bias=False),
            nn.BatchNorm2d(c2, eps=1e-3, momentum=0.03))
        self.rbr_1x1 = nn.Sequential(
            nn.Conv2d(c1, c2, 1, s, 0, bias=False),
            nn.BatchNorm2d(c2, eps=1e-3, momentum=0.03))

    def forward(self, x):
        out = self.rbr_dense(x) + self.rbr_1x1(x)
        if self.rbr_identity is not None:
            out = out + self.rbr_identity(x)
        return self.act(out)


class ImplicitA(nn.Module):

    def __init__(self, c):
        super().__init__()
        self.implicit = nn.Parameter(torch.randn(1, c, 1, 1) * .02)

    def forward(self, x):
        return self.implicit + x


class ImplicitM(nn.Module):

    def __init__(self, c):
        super().__init__()
        self.implicit = nn.Parameter(1 + torch.randn(1, c, 1, 1) * .02)

    def forward(self, x):
        return self.implicit * x


class IDetect(nn.Module):

    def __init__(self, nc, anchors, ch):
        super().__init__()
        self.nc, self.no, self.nl = nc, nc + 5, len(anchors)
        self.na = len(anchors[0]) // 2
        a = torch.tensor(anchors).float().view(self.nl, -1, 2)
        self.register_buffer('anchors', a)
        self.register_buffer('anchor_grid',
                             a.clone().view(self.nl, 1, -1, 1, 1, 2))
        self.m = nn.ModuleList(nn.Conv2d(x, self.no * self.na, 1) for x in ch)
        self.ia = nn.ModuleList(ImplicitA(x) for x in ch)
        self.im = nn.ModuleList(ImplicitM(self.no * self.na) for _ in ch)

    def forward(self, x):
        out = []
        for i in range(self.nl):
            y = self.im[i](self.m[i](self.ia[i](x[i])))
            bs, _, ny, nx = y.shape
            out.append(
                y.view(bs, self.na, self.no, ny, nx).permute(0, 1, 3, 4,
                                                             2).contiguous())
        return out  # the raw (training-mode) outputs


class Detect(IDetect):
    """The deploy detection layer: no implicit layers (released
    ``yolov7.pt``)."""

    def __init__(self, nc, anchors, ch):
        super().__init__(nc, anchors, ch)
        del self.ia, self.im

    def forward(self, x):
        out = []
        for i in range(self.nl):
            y = self.m[i](x[i])
            bs, _, ny, nx = y.shape
            out.append(
                y.view(bs, self.na, self.no, ny, nx).permute(0, 1, 3, 4,
                                                             2).contiguous())
        return out


class Model(nn.Module):
    """Runs ``self.model`` as the official ``forward_once``: each layer
    reads the outputs named by its ``f``."""

    def __init__(self, layers, save):
        super().__init__()
        self.model = nn.Sequential(*layers)
        self.save = save
        self.yaml = {'nc': layers[-1].nc}
        self.names = [str(i) for i in range(layers[-1].nc)]

    def forward(self, x):
        y = []
        for m in self.model:
            if m.f != -1:
                x = y[m.f] if isinstance(m.f, int) else \
                    [x if j == -1 else y[j] for j in m.f]
            x = m(x)
            y.append(x if m.i in self.save else None)
        return x


COMMON = (Conv, Concat, MP, SP, SPPCSPC, RepConv, ImplicitA, ImplicitM)
YOLO = (IDetect, Detect, Model)
for _cls in COMMON:
    _cls.__module__ = 'models.common'
for _cls in YOLO:
    _cls.__module__ = 'models.yolo'


class _Builder:

    def __init__(self, act):
        self.layers, self.ch, self.act = [], [], act
        self.save = set()

    def add(self, f, module, c2):
        i = len(self.layers)
        module.f, module.i = f, i
        for j in ([f] if isinstance(f, int) else f):
            if j != -1:  # what forward must keep (official savelist)
                self.save.add(j if j >= 0 else i + j)
        module.type, module.np = type(module).__name__, sum(
            p.numel() for p in module.parameters())
        self.layers.append(module)
        self.ch.append(c2)
        return i

    def c(self, f):
        return self.ch[f] if f >= 0 else self.ch[len(self.ch) + f]

    def conv(self, f, c2, k=1, s=1):
        c1 = 3 if not self.ch else self.c(f)
        return self.add(f, Conv(c1, c2, k, s, self.act), c2)

    def concat(self, fs):
        return self.add(fs, Concat(), sum(self.c(f) for f in fs))

    def mp(self):
        return self.add(-1, MP(), self.c(-1))

    def elan(self, mid, chain, out, n, step):
        """Two 1x1 convs from the input, a chain of n 3x3 convs, concat
        (latest first) of every step-th chain output and both 1x1s, 1x1
        transition."""
        self.conv(-1, mid)
        self.conv(-2, mid)
        for _ in range(n):
            self.conv(-1, chain, 3)
        keep = [-1 - j for j in range(0, n, step)] + [-n - 1, -n - 2]
        self.concat(keep)
        return self.conv(-1, out)

    def mp_down(self, width, extra=None):
        self.mp()
        self.conv(-1, width)
        self.conv(-3, width)
        self.conv(-1, width, 3, 2)
        return self.concat([-1, -3] + ([extra] if extra is not None else []))


def _tiny(nc):
    b = _Builder('leaky')
    b.conv(-1, 32, 3, 2)
    b.conv(-1, 64, 3, 2)
    b.elan(32, 32, 64, 2, 1)
    for mid, out in ((64, 128), (128, 256), (256, 512)):
        b.mp()
        b.elan(mid, mid, out, 2, 1)
    c3, c4 = 14, 21
    # SPP (tiny)
    b.conv(-1, 256)
    b.conv(-2, 256)
    b.add(-1, SP(5), 256)
    b.add(-2, SP(9), 256)
    b.add(-3, SP(13), 256)
    b.concat([-1, -2, -3, -4])
    b.conv(-1, 256)
    b.concat([-1, -7])
    p5 = b.conv(-1, 256)
    b.conv(-1, 128)
    b.add(-1, nn.Upsample(None, 2, 'nearest'), 128)
    b.conv(c4, 128)
    b.concat([-1, -2])
    td4 = b.elan(64, 64, 128, 2, 1)
    b.conv(-1, 64)
    b.add(-1, nn.Upsample(None, 2, 'nearest'), 64)
    b.conv(c3, 64)
    b.concat([-1, -2])
    o3 = b.elan(32, 32, 64, 2, 1)
    b.conv(-1, 128, 3, 2)
    b.concat([-1, td4])
    o4 = b.elan(64, 64, 128, 2, 1)
    b.conv(-1, 256, 3, 2)
    b.concat([-1, p5])
    o5 = b.elan(128, 128, 256, 2, 1)
    outs = [b.conv(o3, 128, 3), b.conv(o4, 256, 3), b.conv(o5, 512, 3)]
    anchors = [[10, 13, 16, 30, 33, 23], [30, 61, 62, 45, 59, 119],
               [116, 90, 156, 198, 373, 326]]
    return b, outs, anchors


def _large(nc):
    b = _Builder('silu')
    b.conv(-1, 32, 3, 1)
    b.conv(-1, 64, 3, 2)
    b.conv(-1, 64, 3, 1)
    b.conv(-1, 128, 3, 2)
    b.elan(64, 64, 256, 4, 2)
    levels = []
    for width, mid, out in ((128, 128, 512), (256, 256, 1024),
                            (512, 256, 1024)):
        b.mp_down(width)
        levels.append(b.elan(mid, mid, out, 4, 2))
    c3, c4 = levels[0], levels[1]
    spp = b.add(-1, SPPCSPC(b.c(-1), 512), 512)
    b.conv(-1, 256)
    b.add(-1, nn.Upsample(None, 2, 'nearest'), 256)
    b.conv(c4, 256)
    b.concat([-1, -2])
    td4 = b.elan(256, 128, 256, 4, 1)
    b.conv(-1, 128)
    b.add(-1, nn.Upsample(None, 2, 'nearest'), 128)
    b.conv(c3, 128)
    b.concat([-1, -2])
    o3 = b.elan(128, 64, 128, 4, 1)
    b.mp_down(128, td4)
    o4 = b.elan(256, 128, 256, 4, 1)
    b.mp_down(256, spp)
    o5 = b.elan(512, 256, 512, 4, 1)
    outs = []
    for f, c in ((o3, 256), (o4, 512), (o5, 1024)):
        outs.append(b.add(f, RepConv(b.ch[f], c), c))
    anchors = [[12, 16, 19, 36, 40, 28], [36, 75, 76, 55, 72, 146],
               [142, 110, 192, 243, 459, 401]]
    return b, outs, anchors


def build_official(arch: str, nc: int = 3, seed: int = 0,
                   deploy: bool = False) -> Model:
    """An official-format YOLOv7 model with random weights and BN
    statistics: the training form (IDetect) or, with ``deploy``, the
    deploy form's detection layer (Detect, no implicit layers)."""
    torch.manual_seed(seed)
    b, outs, anchors = {'tiny': _tiny, 'L': _large}[arch](nc)
    det = (Detect if deploy else IDetect)(nc, anchors,
                                          [b.ch[i] for i in outs])
    strides = [8, 16, 32]
    for conv, s in zip(det.m, strides):
        bias = conv.bias.data.view(det.na, -1)
        bias[:, 4] += math.log(8 / (640 / s)**2)
    det.anchors /= torch.tensor(strides, dtype=torch.float32).view(-1, 1, 1)
    b.add(outs, det, 0)
    model = Model(b.layers, sorted(b.save))
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.1, 0.1)
    return model.eval()


@contextlib.contextmanager
def official_modules():
    """``models.common`` / ``models.yolo`` importable while saving (as in
    the official repository), gone afterwards."""
    names = ('models', 'models.common', 'models.yolo')
    saved = {n: sys.modules.get(n) for n in names}
    pkg = types.ModuleType('models')
    common = types.ModuleType('models.common')
    yolo = types.ModuleType('models.yolo')
    for cls in COMMON:
        setattr(common, cls.__name__, cls)
    for cls in YOLO:
        setattr(yolo, cls.__name__, cls)
    pkg.common, pkg.yolo = common, yolo
    sys.modules.update({'models': pkg, 'models.common': common,
                        'models.yolo': yolo})
    try:
        yield
    finally:
        for n, m in saved.items():
            if m is None:
                sys.modules.pop(n, None)
            else:
                sys.modules[n] = m


def save_official(model: Model, path: str) -> None:
    """Save as official train.py does: the whole Model in fp16 under
    'model' and 'ema', plus training state."""
    import copy
    with official_modules():
        ckpt = {
            'epoch': 299,
            'best_fitness': np.array([0.5]),
            'training_results': 'results',
            'model': copy.deepcopy(model).half(),
            'ema': copy.deepcopy(model).half(),
            'updates': 1000,
            'optimizer': None,
            'wandb_id': None,
        }
        torch.save(ckpt, path)
