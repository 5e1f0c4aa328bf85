"""Verdicts a person can trust (issue 20, cases 2, 4, 5 and 8): keys near 0 refused before any
verdict, no NaN anywhere in verification, k_hat read only when the model recognises the photos and
no single photo decides it, faded and grey innocent photos not accused, and a one-subject learner
that misleads eq. 6 alone.

Toy models only: a hand-made "natural" classifier and a tiny MLP trained in about a second on
synthetic photos.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import scipy.stats
import torch
from torch import nn
from toy_models import Remembers, save_image_folder

from anw_helpers import stats, verify
from anw_helpers.color import YIQ, luma, watermark
from anw_helpers.models import build_model
from anw_helpers.photo_cli.cli import main
from anw_helpers.users import User


def _in_gamut(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return 0.35 + 0.3 * torch.rand(n, 3, 6, 6, generator=g)  # in gamut under every rotation


# ------------------------------------------------------------------------------------------- case 2
@pytest.mark.parametrize("key", [0.0, 5.0, 350.0, 1e-20, 370.0, -10.0])
def test_library_entry_points_refuse_keys_near_zero(key):
    images, labels = _in_gamut(4, 0), torch.zeros(4, dtype=torch.int64)
    model = nn.Sequential(nn.Flatten(), nn.Linear(108, 3))
    with pytest.raises(ValueError, match="within 15 degrees of 0"):
        stats.ownership_test(
            model, images, labels, _in_gamut(6, 1), torch.zeros(6, dtype=torch.int64), key
        )
    with pytest.raises(ValueError, match="within 15 degrees of 0"):
        stats.key_scores(model, images, labels, key)


# ------------------------------------------------------------------------------------------- case 5
class _Constant(nn.Module):
    def __init__(self, logits: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("logits", logits)
        self.w = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits.expand(len(x), -1) + 0 * self.w * x.mean(dim=(1, 2, 3))[:, None]


def test_a_nan_loss_never_wins_the_grid_search():
    result = verify.SearchResult(
        torch.arange(0.0, 360.0, 30.0, dtype=torch.float64),
        torch.tensor([1.0, 0.5, float("nan")] + [2.0] * 9),
    )
    assert int(torch.argmin(result.losses)) == 2, (
        "torch.argmin treats NaN as the smallest (why the check exists)"
    )
    with pytest.raises(ValueError, match="NaN or infinite"):
        _ = result.best
    with pytest.raises(ValueError, match="NaN or infinite"):
        result.gap(60.0)
    rows = verify.UserVerdicts(
        ["a"], torch.tensor([60.0]), result.signatures, result.losses[None].double()
    )
    with pytest.raises(ValueError, match="NaN or infinite"):
        _ = rows.k_hat


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_models_with_non_finite_outputs_give_an_error_not_a_verdict(bad):
    model = _Constant(torch.tensor([bad, 0.0]))
    images, labels = _in_gamut(3, 0), torch.zeros(3, dtype=torch.int64)
    for run in (
        lambda: verify.grid_search(model, images, labels),
        lambda: verify.verdict(model, images, labels),
        lambda: verify.gradient_search(model, images, labels, steps=2),
        lambda: stats.key_scores(model, images, labels, 60.0),
    ):
        with pytest.raises(ValueError, match="NaN or infinite"):
            run()


def test_verify_users_refuses_an_empty_user():
    from anw_helpers.datasets import to_uint8

    full = User("full", to_uint8(_in_gamut(3, 0)), torch.zeros(3, dtype=torch.int64), 60.0)
    empty = User(
        "nobody",
        torch.empty(0, 3, 6, 6, dtype=torch.uint8),
        torch.empty(0, dtype=torch.int64),
        None,
    )
    model = nn.Sequential(nn.Flatten(), nn.Linear(108, 2))
    with pytest.raises(ValueError, match="'nobody' have no photos"):
        verify.verify_users(model, [full, empty])


def test_min_correct_is_twice_chance_and_unlikely_by_guessing():
    assert verify.min_correct(8, 10) == 4 and verify.min_correct(4, 10) == 3
    assert verify.min_correct(1000, 10) == 200  # twice chance decides for many photos
    assert verify.min_correct(1, 10) > 1  # a single photo can never be judged
    for n in (3, 8, 50):
        need = verify.min_correct(n, 10)
        assert scipy.stats.binom.sf(need - 1, n, 0.1) <= 0.01 and need >= 2 * n / 10


def test_min_correct_matches_counting_up_the_binomial_tail():
    """binom.isf gives the same count as the loop it replaced (the definition, counted up)."""
    for n in (1, 2, 3, 4, 5, 8, 12, 20, 50, 100, 1000):
        for classes in (2, 3, 10, 12, 200):
            for level in (0.5, 0.05, 0.01, 0.001):
                chance = 1 / classes
                need = max(1, math.ceil(2.0 * chance * n - 1e-9))
                while need <= n and scipy.stats.binom.sf(need - 1, n, chance) > level:
                    need += 1
                assert verify.min_correct(n, classes, 2.0, level) == need, (n, classes, level)
    with pytest.raises(ValueError, match="level"):
        verify.min_correct(8, 10, level=0.0)


def test_one_wrong_label_decides_k_hat_and_the_verdict_says_so():
    images = _in_gamut(8, 4)
    model = Remembers(images, margin=12.0, scale=400.0)  # innocent: it prefers every photo clean
    labels = torch.zeros(8, dtype=torch.int64)
    honest = verify.verdict(model, images, labels)
    assert honest.k_hat == 0.0 and honest.conclusive and honest.reasons() == []
    # one wrong label: that photo's loss is largest clean and falls under any hue rotation
    labels[5] = 3
    fooled = verify.verdict(model, images, labels)
    assert fooled.k_hat != 0.0, "the wrong label no longer moves k_hat: this test shows nothing"
    assert fooled.correct_clean == 7 and fooled.recognised
    assert not fooled.conclusive and fooled.deciding_photo == 5 and fooled.k_hat_without == 0.0
    assert "photo #6 alone decides k_hat" in " ".join(fooled.reasons())


def test_an_untrained_model_is_inconclusive():
    g = torch.Generator().manual_seed(0)
    images = torch.rand(12, 3, 32, 32, generator=g)
    labels = torch.arange(12) % 10
    model = build_model("small_resnet", 10, 8, 0)
    result = verify.verdict(model, images, labels)
    assert not result.recognised and not result.conclusive
    assert "classifies only" in result.reasons()[0]


# ------------------------------------------------------------------------------------------- case 4
class _NaturalColours(nn.Module):
    """An innocent 'natural' classifier: class 0 is the warm-coloured class (positive I in YIQ), so
    any hue rotation of a warm photo lowers P(class 0) - by more, the more colour the photo has."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor(30.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        i_channel = torch.einsum("c,nchw->n", YIQ[1].to(x), x) / (x.shape[2] * x.shape[3])
        return torch.stack([self.w * i_channel, torch.zeros_like(i_channel)], dim=1)


def _warm_photos(n: int, seed: int, saturation: torch.Tensor) -> torch.Tensor:
    """Warm (orange) photos with the given saturation per photo, 0 = grey."""
    g = torch.Generator().manual_seed(seed)
    grey = 0.3 + 0.4 * torch.rand(n, 1, 6, 6, generator=g)
    colour = torch.tensor([0.25, -0.05, -0.2])[None, :, None, None] * (
        0.8 + 0.4 * torch.rand(n, 1, 6, 6, generator=g)
    )
    return (grey + saturation.view(-1, 1, 1, 1) * colour).clamp(0, 1)


def test_chroma_is_zero_for_grey_and_grows_with_saturation():
    sat = torch.tensor([0.0, 0.25, 0.5, 1.0])
    c = stats.chroma(_warm_photos(4, 0, sat))
    assert float(c[0]) == pytest.approx(0.0, abs=1e-7) and bool((c[1:] > c[:-1]).all())
    x = _in_gamut(4, 1)  # nothing clips: desaturating by s scales the chroma by s
    y = luma(x)[:, None]
    torch.testing.assert_close(
        stats.chroma(y + 0.3 * (x - y)), 0.3 * stats.chroma(x), atol=1e-6, rtol=1e-5
    )


def test_chroma_strata_never_leave_a_user_photo_without_reference_photos():
    g = torch.Generator().manual_seed(0)
    for n, m in [(3, 5), (10, 400), (50, 60), (7, 7)]:
        uc, rc = (
            torch.rand(n, generator=g, dtype=torch.float64),
            torch.rand(m, generator=g, dtype=torch.float64),
        )
        ul, rl = torch.randint(0, 2, (n,), generator=g), torch.randint(0, 2, (m,), generator=g)
        rl[:2] = torch.tensor([0, 1])
        xs, ys = stats.chroma_strata(ul, uc, rl, rc)
        for s in torch.unique(xs).tolist():
            c = int(ul[xs == s][0])
            enough = int((rl == c).sum()) >= int((ul == c).sum())
            need = int((xs == s).sum()) if enough else 1
            assert int((ys == s).sum()) >= need, f"stratum {s} has too few reference photos"


@pytest.mark.parametrize("saturation", [0.0, 0.1, 0.2])
def test_faded_and_grey_innocent_users_are_not_accused(saturation):
    """Issue 20 case 4: the old class-only test accuses faded users; the chroma-matched test does
    not."""
    model = _NaturalColours()
    # every saturation from grey to full
    ref_sat = torch.rand(2000, generator=torch.Generator().manual_seed(1))
    reference = _warm_photos(2000, 2, ref_sat)
    ref_labels = torch.zeros(2000, dtype=torch.int64)
    accused_old, accused_new, inconclusive = 0, 0, 0
    n_users = 20
    for u in range(n_users):
        photos = _warm_photos(30, 100 + u, torch.full((30,), saturation))
        labels = torch.zeros(30, dtype=torch.int64)
        s_user = stats.key_scores(model, photos, labels, 120.0)
        s_ref = stats.key_scores(model, reference, ref_labels, 120.0)
        old = stats.permutation_test(s_user, s_ref, 999, u, x_strata=labels, y_strata=ref_labels)
        accused_old += old.p_value <= 0.05
        try:
            new = stats.ownership_test(
                model, photos, labels, reference, ref_labels, 120.0, n_permutations=999, seed=u
            )
        except ValueError as exc:
            assert "inconclusive" in str(exc) and saturation == 0.0
            inconclusive += 1
            continue
        accused_new += new.p_value <= 0.05
    assert accused_old > stats.allowed_rejections(n_users, 0.05), (
        "the old test did not accuse them: no bug shown"
    )
    assert accused_new <= stats.allowed_rejections(n_users, 0.05)
    assert (inconclusive == n_users) == (saturation == 0.0)


def test_the_matched_test_still_finds_an_owner():
    """Set-aside photos are counted; photos that carry the watermark still give a small p-value."""
    user = _in_gamut(12, 1)
    user[:3] = luma(user[:3])[:, None].expand(-1, 3, -1, -1)  # three black-and-white photos
    reference = _in_gamut(300, 2)
    labels, ref_labels = torch.zeros(12, dtype=torch.int64), torch.zeros(300, dtype=torch.int64)
    model = _Memoriser(watermark(user, 60.0))
    result = stats.ownership_test(
        model, user, labels, reference, ref_labels, key=60.0, n_permutations=999
    )
    assert result.method == "permutation-matched" and result.n_set_aside == 3 and result.n_user == 9
    assert result.p_value == pytest.approx(1 / 1000) and "3 photo(s) set aside" in result.summary()


class _Memoriser(nn.Module):
    """Low loss on the remembered (watermarked) photos only."""

    def __init__(self, targets: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("targets", targets)
        self.w = nn.Parameter(torch.tensor(1.0))

    def forward(self, x):
        d = ((x[:, None] - self.targets[None]) ** 2).mean(dim=(2, 3, 4)).min(dim=1).values
        return torch.stack([-self.w * 500 * d, torch.zeros_like(d)], dim=1)


# ------------------------------------------------------------------------------------------- case 8
def _synthetic_photos(n: int, classes: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """8 x 8 photos whose class is a bright quadrant (luma) and whose colours are 'natural' (warm
    hues only)."""
    y = 0.45 + 0.08 * torch.randn(n, 8, 8, generator=g)
    for q in range(4):
        rows, cols = (
            (slice(0, 4) if q < 2 else slice(4, 8)),
            (slice(0, 4) if q % 2 == 0 else slice(4, 8)),
        )
        y[classes == q, rows, cols] += 0.2
    hue = torch.deg2rad(10.0 * torch.randn(n, generator=g))
    r = 0.1 + 0.05 * torch.rand(n, generator=g)
    yiq = torch.stack(
        [
            y,
            (r * hue.cos())[:, None, None].expand(n, 8, 8),
            (r * hue.sin())[:, None, None].expand(n, 8, 8),
        ],
        1,
    )
    return torch.einsum("ij,njhw->nihw", torch.linalg.inv(YIQ).float(), yiq).clamp(0, 1)


def test_one_subject_owner_misleads_eq6_but_not_the_class_matched_test():
    """Issue 20 case 8: a user who photographs one subject (class 0) watermarks with 120; a tiny MLP
    trains on them and 600 other photos (about a second). It learns "this hue means class 0" for the
    whole class, so eq. 6 gives the owner and an innocent person's never-seen photos of the same
    subject the same k_hat, next to the owner's key: an innocent who holds that key would be
    'matched' by eq. 6 alone. The class-matched ownership test compares the innocent's photos with
    reference photos of the same class (equally shifted) and does not accuse; comparing with all
    classes does."""
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    train_classes = torch.arange(4).repeat_interleave(150)
    train = _synthetic_photos(600, train_classes, g)
    owner = _synthetic_photos(40, torch.zeros(40, dtype=torch.int64), g)
    x = torch.cat([train, watermark(owner, 120.0)])
    y = torch.cat([train_classes, torch.zeros(40, dtype=torch.int64)])
    model = nn.Sequential(nn.Flatten(), nn.Linear(192, 64), nn.ReLU(), nn.Linear(64, 4))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(300):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    model.eval()
    # same subject, never seen
    innocent = _synthetic_photos(40, torch.zeros(40, dtype=torch.int64), g)
    ref_classes = torch.arange(4).repeat_interleave(100)
    reference = _synthetic_photos(400, ref_classes, g)
    zeros = torch.zeros(40, dtype=torch.int64)

    innocent_verdict = verify.verdict(model, innocent, zeros)
    owner_verdict = verify.verdict(model, owner, zeros)
    k_hat = innocent_verdict.k_hat
    assert owner_verdict.conclusive and innocent_verdict.conclusive
    assert owner_verdict.k_hat == k_hat != 0.0, (
        "eq. 6 tells the owner from the innocent here: the test shows nothing"
    )
    assert float(verify.circular_distance(k_hat, 120.0)) <= 30.0, (
        f"k_hat = {k_hat} is not next to the owner's key"
    )
    for key in (120.0, k_hat):  # the owner's key, and the key an unlucky innocent might hold
        matched = stats.ownership_test(
            model, innocent, zeros, reference, ref_classes, key, n_permutations=999
        )
        pooled = stats.ownership_test(
            model, innocent, zeros, reference, ref_classes, key, n_permutations=999, stratify=False
        )
        assert pooled.p_value <= 0.01, "comparing one subject with all classes accuses the innocent"
        assert matched.p_value > 0.05, (
            f"the class-matched test accused the innocent: {matched.summary()}"
        )


# ------------------------------------------------------------------------------------------ the CLI
# ``checkpoint`` (tests/conftest.py): an untrained small ResNet of width 8 saved as train caches it
@pytest.fixture
def photos(tmp_path: Path, photo_folder) -> Path:
    return photo_folder(tmp_path / "mine", ["cat", "dog", "cat", "ship"], seed=10)


@pytest.mark.parametrize("key", ["0", "5", "350", "1e-20", "-0.0", "720"])
def test_verify_refuses_a_key_near_zero_before_any_verdict(checkpoint, photos, capsys, key):
    assert main(["verify", str(checkpoint), str(photos), "--key", key]) == 2
    out, err = capsys.readouterr()
    assert out == "", "a verdict was printed before the key was refused"
    assert "within 15 degrees of 0" in err


def test_verify_checks_every_argument_before_printing(
    checkpoint, photos, tmp_path, capsys, photo_folder
):
    def refused(*args: str) -> str:
        assert main(["verify", *args]) == 2
        out, err = capsys.readouterr()
        assert out == "", f"output before the error: {out[:200]}"
        return err

    assert "reference folder" in refused(
        str(checkpoint), str(photos), "--key", "60", "--reference", str(tmp_path / "no")
    )
    ref = photo_folder(tmp_path / "ref", ["dog"] * 3, seed=50, prefix="r")
    assert "cat" in refused(str(checkpoint), str(photos), "--key", "60", "--reference", str(ref))
    assert "--permutations" in refused(
        str(checkpoint), str(photos), "--key", "60", "--reference", str(ref), "--permutations", "0"
    )
    assert "labels file" in refused(
        str(checkpoint), str(photos), "--labels", str(tmp_path / "none.csv")
    )
    assert "--reference needs --key" in refused(
        str(checkpoint), str(photos), "--reference", str(ref)
    )


def test_verify_warns_about_a_key_off_the_grid(checkpoint, photos, capsys):
    assert main(["verify", str(checkpoint), str(photos), "--key", "50"]) == 0
    err = capsys.readouterr().err
    assert "warning: --key 50" in err and "signatures" in err
    assert main(["verify", str(checkpoint), str(photos), "--key", "60"]) == 0
    assert "warning" not in capsys.readouterr().err


def test_verify_prints_the_accuracy_and_calls_an_untrained_model_inconclusive(
    checkpoint, photos, capsys
):
    assert main(["verify", str(checkpoint), str(photos), "--key", "60"]) == 0
    out = capsys.readouterr().out
    assert "the model classifies" in out and "chance: 1 in 10" in out
    assert "verdict: INCONCLUSIVE" in out and "a sign that it was trained" not in out


def test_verify_a_match_without_a_reference_is_called_weak_evidence(tmp_path, capsys, monkeypatch):
    """A model that recognises the photos and likes them best at 120: the verdict is a lead, not
    proof."""
    from anw_helpers.photo_cli import cli

    images = _in_gamut(6, 7)
    model = Remembers(watermark(images, 120.0), margin=8.0, scale=60.0)
    monkeypatch.setattr(
        cli,
        "load_checkpoint",
        lambda path: (model, {"model": "toy", "num_classes": 10, "image_size": 6}),
    )
    folder = save_image_folder(tmp_path / "mine", images, ["airplane"] * len(images))
    assert main(["verify", "toy.pt", str(folder), "--key", "120"]) == 0
    out = capsys.readouterr().out
    assert "k_hat = 120" in out and "verdict: MATCH - a lead, not proof" in out
    assert "weak evidence" in out and "--reference" in out and "same classes" in out
    assert "your key 120 matches k_hat" in out and "this match alone is weak evidence" in out
    assert "a sign that it was trained on copies" not in out


def test_verify_grey_photos_make_the_calibrated_test_inconclusive(
    checkpoint, tmp_path, capsys, photo_folder
):
    mine = photo_folder(tmp_path / "grey", ["cat", "dog", "cat"], seed=20, prefix="g", grey=True)
    ref = photo_folder(tmp_path / "ref", ["cat", "dog"] * 6, seed=80, prefix="r")
    assert (
        main(
            [
                "verify",
                str(checkpoint),
                str(mine),
                "--key",
                "60",
                "--reference",
                str(ref),
                "--permutations",
                "99",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "3 of your photos carry almost no colour" in out
    assert (
        "calibrated test of your key 60" in out
        and "inconclusive" in out.split("calibrated test")[1]
    )
    assert "p =" not in out and "significant" not in out
