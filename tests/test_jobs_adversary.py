"""Fig. 5a's adversary: tools/jobs/adversary.py and its metric in tools/reproduction.py."""

from pathlib import Path

import torch
from torch import nn

from tools import reproduction as rp
from tools import sweep
from tools.jobs.adversary import adversary_matches

ROOT = Path(__file__).resolve().parent.parent


def _record(matches, own, guesses=8):
    return {
        "config": {"seed": 0},
        "match": own,
        "adversary": {"guesses": guesses, "matches": matches, "seed": 1000},
    }


def test_the_metric_reads_near_chance_guesses_as_yes_and_a_leaky_space_as_no():
    near_chance = [_record([1, 0, 1, 0], [True, True, True, False])]  # 2 of 32 tries
    out = rp.adversary_matched(near_chance)
    assert out.verdict == "yes" and "2 of 32 tries" in out.number and "3 of 4 users" in out.number
    leaky = [_record([8, 8, 7, 8], [True] * 4)]  # a guess matches as well as the user's own space
    assert rp.adversary_matched(leaky).verdict == "no"
    assert rp.adversary_matched([]) is None


def test_a_model_blind_to_colour_gives_the_adversary_nothing_to_find():
    class Blind(nn.Module):  # the same logits whatever the colours: every slot ties, k_hat = 0
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(10))

        def forward(self, x):
            return self.w.expand(len(x), 10)

    from anw_helpers.users import User

    user = User(
        "u", torch.zeros(4, 3, 8, 8, dtype=torch.uint8), torch.zeros(4, dtype=torch.long), 90.0
    )
    assert adversary_matches(Blind(), [user], guesses=3, seed=0) == [0]


def test_the_grid_is_fig_5a_own_lct_learners_and_names_its_job():
    grid = sweep.load_grid(ROOT / "tools" / "grids" / "ci_fig5a_adversary.toml")
    many = sweep.load_grid(ROOT / "tools" / "grids" / "ci_fig5a_many_users.toml")
    spaces = [j.config.data.color_space_seeds for j in many.jobs]
    own_f1 = [j.config for j, s in zip(many.jobs, spaces) if all(x is not None for x in s)]
    assert [j.config for j in grid.jobs] == own_f1
    assert sweep.job_function(grid).__name__ == "adversary_job"
