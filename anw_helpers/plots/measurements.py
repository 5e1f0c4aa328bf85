"""Measured curves: a value per signature k (clipping, PSNR), histograms of measured values, and a
learner's training record (lessons 01-03)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Optional

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor

from .core import finish_figure

__all__ = ["plot_per_signature", "plot_histograms", "plot_training_record"]


def plot_per_signature(
    signatures: Sequence[float],
    curves: Mapping[str, Sequence[float]],
    ylabel: str,
    title: Optional[str] = None,
    percent: bool = False,
    xlabel: str = "signature k (degrees)",
) -> Figure:
    """Measured values against the signature k (degrees), one line per label, e.g. clipped share or
    PSNR.

    The paper's signatures are the slots 30, 60, ..., 330 (Sec. 5.1); clipping and PSNR measure the
    content property of Sec. 4.1.

    Args:
        signatures: the k values (x axis), e.g. ``color.SIGNATURE_SLOTS``, or any angles in degrees.
        curves: label -> one value per signature.
        ylabel: the y-axis label.
        title: the title.
        percent: format the y axis as percentages (values are fractions).
        xlabel: the x-axis label.

    The y axis starts at 0 when every value is non-negative (so small differences are not
    magnified).
    """
    ks = [float(k) for k in signatures]
    if not ks or not curves:
        raise ValueError("plot_per_signature needs at least one signature and one curve.")
    fig, ax = plt.subplots(figsize=(6.0, 3.2))
    lowest = math.inf
    for label, values in curves.items():
        values = [float(v) for v in values]
        if len(values) != len(ks):
            raise ValueError(f"curve {label!r} has {len(values)} values for {len(ks)} signatures.")
        ax.plot(ks, values, marker="o", ms=4, label=label)
        lowest = min(lowest, min(values))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if max(ks) - min(ks) >= 60:
        ax.set_xticks([k for k in range(-360, 361, 30) if min(ks) <= k <= max(ks)])
    if lowest >= 0:
        ax.set_ylim(bottom=0)
    if percent:
        ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.grid(alpha=0.3)
    if len(curves) > 1:
        ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return finish_figure(fig)


def plot_histograms(
    samples: Mapping[str, Tensor],
    xlabel: str,
    marks: Optional[Mapping[str, float]] = None,
    bins: int = 60,
    title: Optional[str] = None,
) -> Figure:
    """Overlaid histograms of measured values (e.g. the hue shift each image received), with
    vertical marks.

    Args:
        samples: label -> 1-d tensor of values.
        xlabel: the x-axis label.
        marks: label -> x position of a dashed vertical line (e.g. the key k* = 60).
        bins: number of bins, shared by all histograms.
        title: the title.
    """
    values = {
        k: torch.as_tensor(v).detach().cpu().double().flatten().numpy() for k, v in samples.items()
    }
    lo = min(float(v.min()) for v in values.values())
    hi = max(float(v.max()) for v in values.values())
    edges = np.linspace(lo, hi if hi > lo else lo + 1, bins + 1)
    fig, ax = plt.subplots(figsize=(8.0, 3.2))
    for label, v in values.items():
        ax.hist(v, bins=edges, alpha=0.55, label=label)
    for (label, x), style in zip((marks or {}).items(), ["--", ":", "-.", "-"] * 8):
        ax.axvline(float(x), ls=style, color="black", lw=1.2, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("images")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return finish_figure(fig)


def plot_training_record(record) -> Figure:
    """Training loss and accuracy per epoch, with the final test accuracy
    (``train.TrainRecord``)."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.2))
    epochs = np.arange(1, len(record.epoch_loss) + 1)
    a.plot(epochs, record.epoch_loss, "o-", ms=3)
    a.set_xlabel("epoch")
    a.set_ylabel("training loss (augmented batches)")
    b.plot(epochs, record.epoch_accuracy, "o-", ms=3, label="training accuracy (augmented batches)")
    b.axhline(
        record.test_accuracy,
        color="tab:red",
        ls="--",
        label=f"test accuracy {record.test_accuracy:.2f}",
    )
    b.axhline(
        record.train_accuracy,
        color="tab:green",
        ls=":",
        label=f"final training accuracy {record.train_accuracy:.2f}",
    )
    b.set_xlabel("epoch")
    b.set_ylabel("accuracy")
    b.set_ylim(0, 1)
    b.legend(fontsize=8)
    for ax in (a, b):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return finish_figure(fig)
