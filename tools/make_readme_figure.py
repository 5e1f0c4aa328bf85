"""Draw the README's overview figure: a photo, its watermarked version, and the arbitrator's grid
search.

    ANW_PROFILE=ci python -m tools.make_readme_figure   # writes docs/figures/overview.png

Uses the `ci` learner (from the model cache when lesson 03 ran before; trains it otherwise).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from anw_helpers import plots, verify  # noqa: E402
from anw_helpers.color import watermark  # noqa: E402
from anw_helpers.profiles import get_profile  # noqa: E402
from anw_helpers.train import train_learner  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "docs" / "figures" / "overview.png"


def main() -> None:
    learner = train_learner(get_profile().config)
    user, held = learner.data.users[0], learner.data.held_out
    grid = verify.grid_search(learner.model, user.clean(), user.labels)
    held_grid = verify.grid_search(learner.model, held.clean(), held.labels)
    portrait = plots.sample_portrait(160)
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), gridspec_kw={"width_ratios": [1, 1, 2.2]})
    for ax, img, title in zip(
        axes[:2],
        [portrait, watermark(portrait, user.key)],
        ["your photo", f"watermarked, k* = {user.key:g}°"],
    ):
        ax.imshow(img.permute(1, 2, 0).numpy())
        ax.set_title(title)
        ax.axis("off")
    plots.plot_signature_losses(
        grid, user.key, ax=axes[2], label=f"trained on: k_hat = {grid.best:g}"
    )
    plots.plot_signature_losses(
        held_grid,
        user.key,
        ax=axes[2],
        label=f"never seen: k_hat = {held_grid.best:g}",
        color="tab:gray",
    )
    axes[2].set_title("the arbitrator's grid search (eq. 6) on a learner's model")
    fig.tight_layout()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT, dpi=110)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
