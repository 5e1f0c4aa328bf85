"""Toy models shared by the tests: a loss minimum known by construction, and a way to run
``anw verify`` on one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from anw_helpers.datasets import to_float, to_uint8


class HueMatcher(nn.Module):
    """A 'memorising' classifier: class 0 scores high when the input is close to a remembered
    image."""

    def __init__(self, target: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("target", target)
        self.scale = nn.Parameter(torch.tensor(200.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = ((x - self.target) ** 2).mean(dim=(1, 2, 3))
        return torch.stack([-self.scale * d, torch.zeros_like(d)], dim=1)


def in_gamut(n: int, seed: int) -> torch.Tensor:
    """Photos in gamut under every rotation, already quantised to 8 bits (as PNG stores them)."""
    g = torch.Generator().manual_seed(seed)
    return to_float(to_uint8(0.35 + 0.3 * torch.rand(n, 3, 6, 6, generator=g)))


class Remembers(nn.Module):
    """10 classes: class 0 is sure for photos close to the remembered ones, less so farther away."""

    def __init__(self, remembered: torch.Tensor, margin: float, scale: float) -> None:
        super().__init__()
        self.register_buffer("targets", remembered)
        self.margin, self.scale = margin, nn.Parameter(torch.tensor(scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = ((x[:, None] - self.targets[None]) ** 2).mean(dim=(2, 3, 4)).min(dim=1).values
        out = torch.zeros(len(x), 10)
        out[:, 0] = self.margin - self.scale * d
        return out


def save_image_folder(folder: Path, images: torch.Tensor, classes: list[str]) -> Path:
    """``images`` as PNG files ``folder/<class>/<index>.png``: an ImageFolder for ``anw verify``."""
    for i, (x, cls) in enumerate(zip(images, classes)):
        (folder / cls).mkdir(parents=True, exist_ok=True)
        pixels = to_uint8(x).permute(1, 2, 0).numpy()
        Image.fromarray(np.ascontiguousarray(pixels), "RGB").save(folder / cls / f"{i:03d}.png")
    return folder


def verify_out(capsys, *args: str) -> str:
    """``anw verify toy.pt ARGS`` with the model of the ``toy`` fixture (conftest): its output."""
    from anw_helpers.photo_cli.cli import main

    assert main(["verify", "toy.pt", *args]) == 0
    return capsys.readouterr().out
