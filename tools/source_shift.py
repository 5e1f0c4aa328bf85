"""Does a cached model verify users whose photos came from the other CIFAR-10 source? (issue 14)

    python -m tools.source_shift --profile ci

A model pre-trained on the offline JPEG copy is loaded for a learner whose CIFAR-10 came from
torchvision, and back (``ImageSet.identity`` names the canonical images, not the pixels): the
arbitrator then sees the same photos without (or with another) JPEG loss. Without both sources at
hand, this measures the closest thing: lesson 03's learner (load-or-train) verifies its user and
held-out user on the photos it trained on, and on the same photos re-encoded as JPEG (quality 75,
as the offline copy), a second lossy copy of each photo. Prints k_hat, match and gap per case; the
verdicts must agree (exit 1 if they do not).
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Sequence
from typing import Optional

import numpy as np
import torch
from torch import Tensor

__all__ = ["jpeg_roundtrip", "main"]


def jpeg_roundtrip(images: Tensor, quality: int = 75) -> Tensor:
    """uint8 images (N, 3, H, W) encoded as JPEG at ``quality`` and decoded again (Pillow)."""
    from PIL import Image

    out = []
    for image in images:
        buffer = io.BytesIO()
        Image.fromarray(image.permute(1, 2, 0).numpy()).save(buffer, format="JPEG", quality=quality)
        buffer.seek(0)
        with Image.open(buffer) as decoded:
            out.append(np.asarray(decoded.convert("RGB"), dtype=np.uint8).transpose(2, 0, 1))
    return torch.from_numpy(np.stack(out))


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command line: verify lesson 03's two users on both copies (exit 1 when they differ)."""
    parser = argparse.ArgumentParser(
        prog="python -m tools.source_shift",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--profile", default=None, help="ci, cpu, gpu or paper (default: $ANW_PROFILE)"
    )
    args = parser.parse_args(argv)
    from anw_helpers import verify
    from anw_helpers.datasets import to_float
    from anw_helpers.profiles import get_profile
    from anw_helpers.train import train_learner

    learner = train_learner(get_profile(args.profile).config)
    verdicts = {}
    for who in (learner.data.users[0], learner.data.held_out):
        for copy, images in (
            ("as trained", who.images),
            ("JPEG q75 again", jpeg_roundtrip(who.images)),
        ):
            r = verify.grid_search(learner.model, to_float(images), who.labels)
            verdicts[who.name, copy] = verify.match(r.best, who.key)
            shift = (images.float() - who.images.float()).abs().mean().item()
            print(
                f"{who.name:9s} {copy:15s}: mean |pixel change| {shift:5.2f}/255, "
                f"k_hat {r.best:5.0f} "
                f"(key {who.key:g}), match {verdicts[who.name, copy]}, gap {r.gap(who.key):+.3f}"
            )
    agree = all(
        verdicts[name, "as trained"] == verdicts[name, "JPEG q75 again"] for name, _ in verdicts
    )
    print("verdicts agree across the copies" if agree else "VERDICTS DIFFER between the copies")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
