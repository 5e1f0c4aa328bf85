"""Toy models shared by the tests: a loss minimum known by construction."""

from __future__ import annotations

import torch
from torch import nn


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
