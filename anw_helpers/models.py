"""Classifiers for 32x32 images: a small ResNet for CPUs and torchvision's families adapted to CIFAR
(Fig. 2g-h).

Every model takes images in [0, 1] and normalises inside itself (``Normalized``), so training and
verification can never normalise differently (the paper's own verification notebook did).
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn

from .color import YIQ

__all__ = [
    "CIFAR_MEAN",
    "CIFAR_STD",
    "Normalized",
    "LumaOnly",
    "SmallResNet",
    "build_model",
    "MODEL_NAMES",
    "PRETRAINED_MODELS",
]

#: CIFAR-10 training-set channel statistics (torchvision's commonly used values).
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)


class Normalized(nn.Module):
    """Wrap a network so it takes images in [0, 1] and standardises them itself."""

    def __init__(
        self,
        net: nn.Module,
        mean: tuple[float, ...] = CIFAR_MEAN,
        std: tuple[float, ...] = CIFAR_STD,
    ) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.net((x - self.mean) / self.std)


class LumaOnly(Normalized):
    """A network that sees only luma: each input image becomes its Y channel (eq. 3) in all three
    channels before it is standardised (lesson 10, grayscale "squeezing" after Liu et al., ICML
    2023).

    The YIQ hue rotation of eq. 4-5 leaves Y unchanged, so such a learner cannot tell a watermarked
    photo from its original (up to the clipping of eq. 5). The weights are those of
    :class:`Normalized` (the same state-dict keys): only the forward pass differs.
    """

    def forward(self, x: Tensor) -> Tensor:
        y = torch.einsum("c,bchw->bhw", YIQ[0].to(device=x.device, dtype=x.dtype), x)
        return super().forward(y.unsqueeze(1).expand(-1, 3, -1, -1))


def _conv_bn(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class _Residual(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.body = nn.Sequential(_conv_bn(c, c), _conv_bn(c, c))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class SmallResNet(nn.Module):
    """A ResNet-9-style network (Page's DAWNBench design) with channel widths w, 2w, 4w, 8w.

    Width 24 is about 0.1 GFLOP per 32x32 forward pass: small enough for 2 CPU cores, big enough to
    fit (memorise) a 5,000-image training set in 30 epochs.
    """

    def __init__(self, width: int = 24, num_classes: int = 10) -> None:
        super().__init__()
        w = width
        self.features = nn.Sequential(
            _conv_bn(3, w),
            _conv_bn(w, 2 * w),
            nn.MaxPool2d(2),
            _Residual(2 * w),
            _conv_bn(2 * w, 4 * w),
            nn.MaxPool2d(2),
            _conv_bn(4 * w, 8 * w),
            nn.MaxPool2d(2),
            _Residual(8 * w),
            nn.AdaptiveMaxPool2d(1),
            nn.Flatten(),
        )
        self.classifier = nn.Linear(8 * w, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


class AlexNetSmall(nn.Module):
    """An AlexNet-style network for 32x32 inputs (five convolutions, three fully connected
    layers)."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(64, 192, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(192, 384, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Flatten(),
        )
        self.classifier = nn.Sequential(
            nn.Dropout(0.5),
            nn.Linear(256 * 4 * 4, 1024),
            nn.ReLU(inplace=True),
            nn.Dropout(0.5),
            nn.Linear(1024, 1024),
            nn.ReLU(inplace=True),
            nn.Linear(1024, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


def _cifar_resnet(factory: Callable[..., nn.Module], num_classes: int) -> nn.Module:
    net = factory(num_classes=num_classes)
    net.conv1 = nn.Conv2d(3, 64, 3, stride=1, padding=1, bias=False)  # 3x3 stem for 32x32 inputs
    net.maxpool = nn.Identity()
    return net


def _cifar_vgg(factory: Callable[..., nn.Module], num_classes: int) -> nn.Module:
    net = factory(num_classes=num_classes)
    net.avgpool = nn.AdaptiveAvgPool2d(1)
    net.classifier = nn.Linear(512, num_classes)
    return net


def _cifar_densenet(num_classes: int) -> nn.Module:
    from torchvision.models import densenet121

    net = densenet121(num_classes=num_classes)
    net.features.conv0 = nn.Conv2d(3, 64, 3, stride=1, padding=1, bias=False)
    net.features.pool0 = nn.Identity()
    return net


def _torchvision(name: str) -> Callable[..., nn.Module]:
    import torchvision.models as tvm

    return getattr(tvm, name)


#: ImageNet channel statistics, for the pretrained network of the high-resolution experiment.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _imagenet_resnet50(num_classes: int, pretrained: bool = True) -> nn.Module:
    """ResNet-50 with ImageNet weights and a new classifier: the paper's CUB-200 setting (Sec. 5.2,
    Fig. 2i). ``pretrained=False`` builds the same network without downloading anything (the network
    a checkpoint is loaded into).
    """
    from torchvision.models import ResNet50_Weights, resnet50

    if not pretrained:
        net = resnet50(weights=None)
        net.fc = nn.Linear(net.fc.in_features, num_classes)
        return net
    try:
        net = resnet50(weights=ResNet50_Weights.IMAGENET1K_V2)
    except Exception as exc:  # noqa: BLE001 - offline, no cached weights
        raise RuntimeError(
            f"could not load torchvision's ImageNet weights for ResNet-50 ({exc}); they are "
            "downloaded once (about 100 MB, into the torch hub cache) and need an internet "
            "connection the first time."
        ) from exc
    net.fc = nn.Linear(net.fc.in_features, num_classes)
    return net


#: name -> builder(num_classes, width, pretrained); only ``PRETRAINED_MODELS`` use ``pretrained``.
_BUILDERS: dict[str, Callable[[int, int, bool], nn.Module]] = {
    "small_resnet": lambda nc, w, p: SmallResNet(w, nc),
    "small_resnet_luma": lambda nc, w, p: SmallResNet(w, nc),
    "alexnet": lambda nc, w, p: AlexNetSmall(nc),
    "vgg11_bn": lambda nc, w, p: _cifar_vgg(_torchvision("vgg11_bn"), nc),
    "vgg16_bn": lambda nc, w, p: _cifar_vgg(_torchvision("vgg16_bn"), nc),
    "resnet18": lambda nc, w, p: _cifar_resnet(_torchvision("resnet18"), nc),
    "resnet34": lambda nc, w, p: _cifar_resnet(_torchvision("resnet34"), nc),
    "resnet50": lambda nc, w, p: _cifar_resnet(_torchvision("resnet50"), nc),
    "wide_resnet50_2": lambda nc, w, p: _cifar_resnet(_torchvision("wide_resnet50_2"), nc),
    "densenet121": lambda nc, w, p: _cifar_densenet(nc),
    "resnet50_imagenet": lambda nc, w, p: _imagenet_resnet50(nc, p),
}
#: Models whose builder downloads pretrained weights (full-size inputs, ImageNet normalisation).
PRETRAINED_MODELS: tuple[str, ...] = ("resnet50_imagenet",)
#: Models that see only luma (:class:`LumaOnly`): lesson 10's grayscale learner.
LUMA_MODELS: tuple[str, ...] = ("small_resnet_luma",)
#: Models with a ``width`` (the small ResNet's channel width).
WIDTH_MODELS: tuple[str, ...] = ("small_resnet", "small_resnet_luma")
#: Every model name ``build_model`` accepts.
MODEL_NAMES: tuple[str, ...] = tuple(_BUILDERS)


def build_model(
    name: str, num_classes: int = 10, width: int = 24, seed: int = 0, pretrained: bool = True
) -> Normalized:
    """Build a freshly initialised classifier for 32x32 images in [0, 1] (normalisation inside).

    ``name`` is one of ``MODEL_NAMES`` (paper Fig. 2g: AlexNet, VGG, ResNet, Wide-ResNet, DenseNet);
    ``width`` only applies to ``small_resnet`` and ``small_resnet_luma`` (the same network seeing
    only luma, :class:`LumaOnly`, lesson 10). Initialisation is seeded. ``resnet50_imagenet`` is
    the paper's pretrained ResNet-50 for high-resolution photos (Fig. 2i): ImageNet weights
    (downloaded once), a new classifier, ImageNet normalisation. ``pretrained=False`` never
    downloads: the network a checkpoint's weights are loaded into
    (``anw_helpers.machinery.checkpoint``).
    """
    if name not in _BUILDERS:
        raise ValueError(f"unknown model {name!r}; expected one of {', '.join(MODEL_NAMES)}.")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if name in PRETRAINED_MODELS:
            net = _BUILDERS[name](num_classes, width, pretrained)
            return Normalized(net, IMAGENET_MEAN, IMAGENET_STD)
        wrapper = LumaOnly if name in LUMA_MODELS else Normalized
        return wrapper(_BUILDERS[name](num_classes, width, pretrained))
