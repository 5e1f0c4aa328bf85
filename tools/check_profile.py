"""Train the learner for several (seed, key) pairs and report whether the arbitrator
recovers each key.

Used to tune a compute profile (issue: the `ci` profile must recover every key it is tried on):

    python -m tools.check_profile --profile ci --pairs 0:60 1:210 2:300 3:120 4:30 5:330

Prints, per pair: k_hat, match, the grid losses, held-out k_hat, train/test accuracy and minutes.
Trained models land in the model cache, so a lesson with the same settings loads them.
"""

from __future__ import annotations

import argparse
import json
import time

from anw_helpers import verify
from anw_helpers.profiles import get_profile
from anw_helpers.train import train_learner


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profile", default="ci")
    parser.add_argument("--pairs", nargs="+", default=["0:60"], help="seed:key pairs")
    parser.add_argument(
        "--set", nargs="*", default=[], help="config overrides name=json-value, e.g. epochs=35"
    )
    args = parser.parse_args()
    overrides = {k: json.loads(v) for k, v in (s.split("=", 1) for s in args.set)}
    base = get_profile(args.profile).config.with_(**overrides)
    print(f"profile {args.profile} with {overrides or 'no overrides'}", flush=True)
    for pair in args.pairs:
        seed, key = pair.split(":")
        start = time.perf_counter()
        learner = train_learner(base.with_(seed=int(seed), keys=(float(key),)), progress=False)
        user, held = learner.data.users[0], learner.data.held_out
        grid = verify.grid_search(learner.model, user.clean(), user.labels)
        held_grid = verify.grid_search(learner.model, held.clean(), held.labels)
        r = learner.record
        print(
            json.dumps(
                {
                    "seed": int(seed),
                    "key": float(key),
                    "k_hat": grid.best,
                    "match": verify.match(grid.best, float(key)),
                    "gap": round(grid.gap(float(key)), 4),
                    "losses": [round(x, 3) for x in grid.losses.tolist()],
                    "held_out_k_hat": held_grid.best,
                    "held_out_losses": [round(x, 3) for x in held_grid.losses.tolist()],
                    "train_acc": round(r.train_accuracy, 4),
                    "test_acc": round(r.test_accuracy, 4),
                    "user_acc": round(r.user_accuracy, 4),
                    "img_per_s": round(r.images_per_second, 1),
                    "minutes": round((time.perf_counter() - start) / 60, 2),
                    "cached": learner.from_cache,
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
