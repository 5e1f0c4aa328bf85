"""Dataset tracing with "radioactive data" (Sablayrolles et al., 2020), the paper's Table 1
comparison (Sec. 5.5).

Radioactive data marks images in **feature space**: a fixed feature extractor phi and, per class c,
a random unit *carrier* u_c. Each marked image x of class c is nudged by a small pixel perturbation
(bounded by a PSNR) so that its features move along u_c:

    minimise over x~:  -(phi(x~) - phi(x)) . u_c  +  lambda_feat * ||phi(x~) - phi(x)||^2
        s.t. PSNR(x, x~) >= psnr_db

A linear classifier trained on phi's features of a data set that contains marked images tends to
tilt its class-c weight w_c towards u_c; the tracer measures cos(w_c, u_c). With random carriers in
d dimensions an unrelated w_c gives cos ~ N(0, 1/d). The paper's Table 1 (0.1 % marked): -0.005 +-
0.030 before training, -0.005 +- 0.015 after. For the watermark the same table compares the inferred
and the true signature as angles, cos(k_hat - k*): 0.045 +- 0.52 before, 0.999 +- 0.001 after.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .machinery._checks import check_labelled_batch

__all__ = [
    "feature_extractor",
    "extract_features",
    "random_carriers",
    "psnr_radius",
    "mark_images",
    "train_linear_classifier",
    "carrier_cosines",
    "hue_cosine",
]


def feature_extractor(model: nn.Module) -> nn.Module:
    """The penultimate-layer feature map phi of a course classifier, frozen (a copy; ``model`` is
    untouched).

    Works for ``models.Normalized`` wrappers of networks with ``features`` + ``classifier`` (the
    small ResNet,
    AlexNet: features before the classifier) or with a final ``fc`` (torchvision ResNets). Images in
        [0, 1].
    """
    net = copy.deepcopy(model).eval()
    inner = getattr(net, "net", net)
    if hasattr(inner, "features") and hasattr(inner, "classifier"):
        inner.classifier = nn.Identity()
    elif hasattr(inner, "fc"):
        inner.fc = nn.Identity()
    else:
        raise ValueError(
            f"cannot find the classifier head of {type(inner).__name__}: expected a 'classifier' "
            f"(with 'features') or an 'fc' attribute."
        )
    for p in net.parameters():
        p.requires_grad_(False)
    return net


@torch.no_grad()
def extract_features(extractor: nn.Module, images: Tensor, batch_size: int = 1000) -> Tensor:
    """phi(x) for float images in [0, 1] (N, 3, H, W), in eval mode and fp32: an (N, d) tensor on
    the CPU."""
    if not isinstance(images, Tensor) or images.dim() != 4 or not torch.is_floating_point(images):
        raise ValueError(
            "images must be float (N, 3, H, W) in [0, 1]; got "
            f"{getattr(images, 'dtype', type(images))} {tuple(getattr(images, 'shape', ()))}."
        )
    extractor.eval()
    device = next(extractor.parameters()).device
    out = [
        extractor(images[i : i + batch_size].to(device)).float().cpu()
        for i in range(0, len(images), batch_size)
    ]
    return torch.cat(out) if out else torch.empty(0)


def random_carriers(n_classes: int, dim: int, seed: int = 0) -> Tensor:
    """One random unit vector per class in feature space, (n_classes, dim), seeded (the radioactive
    carriers u_c)."""
    if n_classes < 1 or dim < 2:
        raise ValueError(f"need n_classes >= 1 and dim >= 2; got {n_classes} and {dim}.")
    u = torch.randn(
        n_classes, dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64
    )
    return (u / u.norm(dim=1, keepdim=True)).float()


def psnr_radius(psnr_db: float, n_values: int) -> float:
    """Largest L2 norm of a perturbation of ``n_values`` pixel values in [0, 1] that keeps PSNR >=
    ``psnr_db``: PSNR = 10 log10(1 / MSE) and MSE = ||delta||^2 / n_values."""
    if not math.isfinite(psnr_db) or psnr_db <= 0 or n_values < 1:
        raise ValueError(
            f"need a finite psnr_db > 0 and n_values >= 1; got {psnr_db!r} and {n_values!r}."
        )
    return math.sqrt(n_values * 10 ** (-psnr_db / 10))


def mark_images(
    extractor: nn.Module,
    images: Tensor,
    labels: Tensor,
    carriers: Tensor,
    psnr_db: float = 42.0,
    steps: int = 60,
    lr: float = 0.01,
    feature_weight: float = 0.01,
    seed: int = 0,
) -> Tensor:
    """Radioactive marking (Sablayrolles et al. 2020): perturb each image so phi moves along its
    class's carrier.

    Adam on the perturbation delta for ``steps`` steps, minimising ``-(phi(x + delta) - phi(x)) .
    u_y + feature_weight * ||phi(x + delta) - phi(x)||^2``; after every step delta is projected onto
    the L2 ball that keeps PSNR >= ``psnr_db`` and x + delta is clipped to [0, 1]. Images are floats
    in [0, 1]; returns the marked images (floats: round them with ``data.to_uint8`` to publish them,
    which costs a little PSNR).
    """
    check_labelled_batch(images, labels)
    if carriers.dim() != 2 or int(labels.max()) >= len(carriers) or int(labels.min()) < 0:
        raise ValueError(
            "carriers must be (n_classes, d) with a row for every label; got "
            f"{tuple(carriers.shape)} for labels in [{int(labels.min())}, {int(labels.max())}]."
        )
    if steps < 1:
        raise ValueError(f"steps must be >= 1; got {steps}.")
    device = next(extractor.parameters()).device
    x = images.to(device)
    u = carriers.to(device)[labels.to(device)]
    radius = psnr_radius(psnr_db, x[0].numel())
    with torch.no_grad():
        base = extractor(x).float()
    if base.shape[1] != carriers.shape[1]:
        raise ValueError(
            f"carriers have {carriers.shape[1]} dimensions but the extractor gives {base.shape[1]}."
        )
    g = torch.Generator(device="cpu").manual_seed(seed)
    delta = (torch.randn(x.shape, generator=g) * 1e-4).to(device).requires_grad_(True)
    opt = torch.optim.Adam([delta], lr=lr)
    extractor.eval()
    for _ in range(steps):
        shift = extractor((x + delta).clamp(0, 1)).float() - base
        loss = (-(shift * u).sum(dim=1) + feature_weight * shift.pow(2).sum(dim=1)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            norms = delta.flatten(1).norm(dim=1).clamp_min(1e-12)
            delta.mul_((radius / norms).clamp(max=1.0).view(-1, 1, 1, 1))
            delta.copy_((x + delta).clamp(0, 1) - x)
    return (x + delta.detach()).clamp(0, 1).cpu()


def train_linear_classifier(
    features: Tensor,
    labels: Tensor,
    n_classes: int,
    epochs: int = 30,
    lr: float = 0.05,
    weight_decay: float = 1e-4,
    batch_size: int = 256,
    seed: int = 0,
) -> tuple[nn.Linear, Tensor]:
    """The learner of the tracing experiment: multinomial logistic regression on fixed features
    phi(x).

    SGD with momentum and a cosine schedule on mini-batches, seeded. Returns the trained
    ``nn.Linear`` and the class weights **at initialisation** ((n_classes, d): Table 1's "before
    training").
    """
    if features.dim() != 2 or labels.shape != (len(features),) or len(features) == 0:
        raise ValueError(
            f"need features (N, d) and labels (N,) with N >= 1; got {tuple(features.shape)} and "
            f"{tuple(labels.shape)}."
        )
    if not bool(torch.isfinite(features).all()):
        raise ValueError("features contain NaN or infinite values.")
    torch.manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        head = nn.Linear(features.shape[1], n_classes)
    initial = head.weight.detach().clone()
    # centre, and scale by one number (not per dimension, which would turn w away from phi's
    # directions)
    mean = features.mean(dim=0)
    std = (features - mean).pow(2).sum(dim=1).mean().sqrt().clamp_min(1e-6)
    x = (features - mean) / std
    opt = torch.optim.SGD(head.parameters(), lr=lr, momentum=0.9, weight_decay=weight_decay)
    steps_per_epoch = math.ceil(len(x) / batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * steps_per_epoch)
    g = torch.Generator().manual_seed(seed + 1)
    for _ in range(epochs):
        for idx in torch.randperm(len(x), generator=g).split(batch_size):
            loss = F.cross_entropy(head(x[idx]), labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    with torch.no_grad():  # fold the standardisation into the weights: w . (phi - mean) / std
        w = head.weight / std
        b = head.bias - (w * mean).sum(dim=1)
        out = nn.Linear(features.shape[1], n_classes)
        out.weight.copy_(w)
        out.bias.copy_(b)
    return out, initial


def carrier_cosines(weights: Tensor, carriers: Tensor) -> Tensor:
    """cos(w_c, u_c) for every class c: the tracer's statistic (Table 1). ``weights`` and
    ``carriers`` (C, d)."""
    if weights.shape != carriers.shape or weights.dim() != 2:
        raise ValueError(
            f"weights and carriers must both be (n_classes, d); got {tuple(weights.shape)} and "
            f"{tuple(carriers.shape)}."
        )
    return F.cosine_similarity(weights.double(), carriers.double(), dim=1)


def hue_cosine(k_hat: object, k_star: object) -> Tensor:
    """The watermark's row of Table 1: cos(k_hat - k*) of two hue angles in degrees (1: the same
    signature)."""
    a = torch.as_tensor(k_hat, dtype=torch.float64)
    b = torch.as_tensor(k_star, dtype=torch.float64)
    if not bool(torch.isfinite(a).all() and torch.isfinite(b).all()):
        raise ValueError(f"angles must be finite; got k_hat = {k_hat!r}, k_star = {k_star!r}.")
    return torch.cos(torch.deg2rad(a - b))
