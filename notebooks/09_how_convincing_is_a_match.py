# ---
# jupyter:
#   accelerator: GPU
#   colab:
#     gpuType: T4
#   jupytext:
#     cell_metadata_filter: tags,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext,colab,accelerator
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Lesson 09 — How convincing is a match? A calibrated ownership test
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/anw-course/anti-neuron-watermarking/blob/main/notebooks/09_how_convincing_is_a_match.ipynb)
#
# *Beyond the paper.* Lesson 04 ended with a match, $\hat k = k^*$. Would it convince a court? This
# lesson turns the arbitrator's losses into a **p-value**, and measures how often it accuses an
# innocent learner.
#
# **You will learn to**
# - state a null hypothesis for ownership, and say why an argmin over 12 slots is weak evidence;
# - score each photo by how much the model prefers it with the user's hue, and compare the user's
#   photos with public photos the learner never saw: a **permutation test** (exact) or a Welch
#   t-test (approximate);
# - check calibration: the false-positive rate over innocent users at α = 0.05 and 0.01 (the
#   optional appendix, lesson 11, measures what can break it);
# - read a LiRA-style log-log ROC curve, see how the p-value falls with the number of photos, and
#   correct for testing many users at once (Holm).
#
# **Time:** about 30 minutes (our estimate from its length). Uses lesson 03's learner from the
# model cache (opened alone, this lesson first trains it).
# **Compute budget:** forward passes and permutations; it trains nothing else.
# **Machine time** (`ci` profile on 2 CPU cores, `colab` on a GPU; written by `python -m
# tools.docs_numbers`): opened alone, about 2 min on 2 CPU cores (measured in fp32 with AVX2 kernels
# on 2 vCPUs of an Intel Xeon with AMX: 0:22 for this lesson after the earlier ones, plus 1:46 for
# lesson 03's learner); about 0.2 min of training on a T4 (projected from FLOPs, not measured).
# After the earlier lessons it loads lesson 03's learner from the model cache instead of training.
# **Before this:** lessons 03-04.

# %%
# Install the course helpers only when missing (Colab, a fresh machine); torch is never reinstalled.
# Or from a wheel your instructor gives you: set ANW_WHEEL to its path or URL, or upload it here.
try:
    import anw_helpers
except ModuleNotFoundError:
    import glob
    import os

    wheel = os.environ.get("ANW_WHEEL") or max(glob.glob("anw_helpers-*.whl"), default="")
    source = wheel or "git+https://github.com/anw-course/anti-neuron-watermarking@main"
    # %pip install -q "{source}"
    try:
        import anw_helpers  # noqa: F401
    except ModuleNotFoundError:
        raise SystemExit(
            f"anw_helpers did not install from {source}: is that repository published? "
            "Ask your instructor for a wheel (anw_helpers-*.whl) and upload it here (Files "
            "pane) or set ANW_WHEEL to its path or URL, then run this cell again. Instructors: "
            "docs/publishing.md."
        ) from None
from anw_helpers.machinery.runtime import describe_runtime

print(describe_runtime())

# %%
import math
import time
from itertools import combinations

import numpy as np
import torch
import torch.nn.functional as F
from IPython.display import display

from anw_helpers import calibration, plots, stats, verify
from anw_helpers.color import watermark
from anw_helpers.datasets import load_cifar10, to_float
from anw_helpers.profiles import get_profile
from anw_helpers.train import train_learner
from anw_helpers.users import make_users

# %%
lesson_start = time.perf_counter()
profile = get_profile()
# lesson 03's learner: loaded from the cache when it exists, else trained first (with a message)
learner = train_learner(profile.config, announce=f"Lesson 03's learner ({profile.learner_size})")
model, user, held = learner.model, learner.data.users[0], learner.data.held_out
k_star = user.key
# the learner trained on CIFAR-10's training split only: it never saw these
unseen = load_cifar10("test")
print(
    f"profile {profile.name!r}; model "
    f"{'loaded from cache' if learner.from_cache else 'trained now'}; user: {len(user)} photos, "
    f"key k* = {k_star:g}; {len(unseen):,} public test photos the learner never saw"
)

# %% [markdown]
# ## 1. One match out of twelve slots is not a verdict
#
# The arbitrator's rule (eq. 6) returns one of $N = 12$ slots. An innocent learner whose $\hat k$
# were a random slot would hit the user's 1 time in 12: "$\hat k = k^*$" alone says at best *"luck
# does this about 8 % of the time"*. Innocent learners do not even pick at random: they mostly pick
# 0 (the held-out users of 26 of the course's 30 recorded learners did, 9 of 12 in bf16; the
# [Sec. 5.4 row](../docs/reproduction.md#sec-5-4)). One claim, one bit, no number.
#
# Other ownership tests in machine learning report **calibrated** evidence: *radioactive data*
# (Sablayrolles et al., 2020) combines per-class p-values with Fisher's method; *dataset inference*
# (Maini et al., 2021) runs a one-sided t-test; LiRA (Carlini et al., 2022) reports the
# true-positive rate at 0.1 % false positives. We do the same, with the **null hypothesis**
#
# > **H0:** the learner never trained on the user's photos watermarked with the claimed key $k^*$.
#
# A p-value is the probability, *if H0 is true*, of evidence at least as strong as observed:
# "p = 0.0001" means an innocent learner looks this guilty in at most 1 of 10,000 claims.
#
# The key under test is the user's **claim**, sealed before anyone looked at the model (lesson 04's
# envelope). The grid search still runs blind. (Testing the $\hat k$ it picked would test the best
# of 11 slots: multiply its p-value by 11.)

# %%
result = verify.grid_search(model, user.clean(), user.labels)
print(
    f"grid search (blind): k_hat = {result.best:g}; the user's sealed claim k* = {k_star:g}; "
    f"match: {verify.match(result.best, k_star)}"
)

# %% [markdown]
# ## 2. A score per photo, and photos to compare with
#
# A learner that memorised the user's watermarked photos is more confident about them with the hue
# $k^*$ than clean. Per photo we measure the **gain in the probability of the true class** under
# the hue $k^*$:
#
# $$s_i = P\big(y_i \mid f(g_{k^*}(I_i))\big) - P\big(y_i \mid f(I_i)\big) \in [-1, 1].$$
#
# A learner trained on natural photos usually prefers the clean photo ($s_i < 0$; the scoring cell
# prints this run's share with $s_i > 0$), by an amount that varies from photo to photo. How much is
# normal? We **measure** it on *reference photos* the learner certainly never saw: CIFAR-10's 10,000
# public test photos. If H0 is true, the user's photos are just 50 more never-seen photos: their
# scores behave like reference scores.
#
# *Why probabilities and not eq. 6's loss?* A loss difference is unbounded: one odd photo whose loss
# jumps from 0.01 to 12 can outweigh forty others. A probability difference lies in $[-1, 1]$.
# (`stats.key_scores(..., kind="loss")` gives the loss difference; section 3 tests both.)
#
# ### Exercise 9.1 — the per-photo score
# Return $s_i$ for every photo: the softmax probability of the true class on the photo watermarked
# with `key` minus the same on the clean photo (use `watermark`, `F.softmax` and `gather`; eval
# mode, no gradients; compute on the model's device, return the scores on the CPU).


# %% tags=["solution"]
def my_key_scores(
    model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, key: float
) -> torch.Tensor:
    """Gain in the probability of the true class when the photos carry the hue `key`, one value per
    photo."""
    # BEGIN SOLUTION
    model.eval()
    device = next(model.parameters()).device  # compute where the model is (lesson 03)
    images, labels = images.to(device), labels.to(device)
    with torch.no_grad():

        def p_true(x: torch.Tensor) -> torch.Tensor:
            return F.softmax(model(x).float(), dim=1).gather(1, labels[:, None]).squeeze(1)

        return (p_true(watermark(images, key)) - p_true(images)).cpu()
    # END SOLUTION


# %%
reference_scores = stats.key_scores(model, user.clean(), user.labels, k_star)
mine = my_key_scores(model, user.clean(), user.labels, k_star)
torch.testing.assert_close(mine.double(), reference_scores, atol=1e-4, rtol=1e-4)
print("Correct! Your scores match anw_helpers.stats.key_scores.")

# %% [markdown]
# From here on we use the course's `stats.key_scores`. Then the same score for all 10,000
# reference photos (20,000 forward passes, the slowest step): `calibration.score_reference` keeps
# the losses at $k^*$ and 0 (eq. 6's terms), so both kinds of score come from the same passes (the
# true class's probability is $e^{-\text{loss}}$), and each photo's colour (`stats.chroma`).

# %%
s_user = stats.key_scores(model, user.clean(), user.labels, k_star)
start = time.perf_counter()
reference = calibration.score_reference(model, unseen, k_star)  # prints its progress
losses_unseen, s_unseen, c_unseen = reference.losses, reference.scores, reference.chroma
torch.testing.assert_close(  # the helper's scores are stats.key_scores
    s_unseen[:100],
    stats.key_scores(model, to_float(unseen.images[:100]), unseen.labels[:100], k_star),
)
print(
    f"took {time.perf_counter() - start:.0f} s. Mean score: user {s_user.mean():+.3f}, "
    f"reference {s_unseen.mean():+.3f}; share of photos with s > 0: user "
    f"{(s_user > 0).float().mean():.0%}, reference {(s_unseen > 0).float().mean():.0%}"
)
plots.plot_score_histograms(
    s_unseen,
    s_user,
    reference_label=f"{len(unseen):,} reference photos (never seen)",
    user_label=f"the user's {len(user)} photos",
)

# %% [markdown]
# ## 3. The permutation test
#
# Our statistic is the **difference of mean scores**, user minus reference. If H0 is true, the
# labels "user" and "reference" are arbitrary: any 50 of the 10,050 scores could have been the
# user's. So we *relabel at random* $B$ times and count how often chance reaches the observed value:
#
# $$p = \frac{1 + \#\{\text{relabellings with statistic} \ge \text{observed}\}}{1 + B}.$$
#
# The "+1" counts the observed labelling itself and makes the p-value **exact**: under H0,
# $P(p \le \alpha) \le \alpha$ for every α, whatever the scores' distribution (Phipson & Smyth,
# 2010: permutation p-values should never be zero). The price: the smallest p-value is $1/(B+1)$.
#
# ### Exercise 9.2 — a permutation p-value
# Return the one-sided Monte Carlo permutation p-value of "mean(x) − mean(y) is large": pool x and
# y, draw `n_permutations` random relabellings (`torch.randperm(..., generator=generator)`), and
# apply the formula above.


# %% tags=["solution"]
def my_permutation_p(
    x: torch.Tensor, y: torch.Tensor, n_permutations: int, generator: torch.Generator
) -> float:
    """One-sided permutation p-value of mean(x) - mean(y), with the +1 that keeps it exact."""
    # BEGIN SOLUTION
    pooled, n = torch.cat([x, y]).double(), len(x)
    observed = x.double().mean() - y.double().mean()
    count = 0
    for _ in range(n_permutations):
        perm = torch.randperm(len(pooled), generator=generator)
        count += int(pooled[perm[:n]].mean() - pooled[perm[n:]].mean() >= observed - 1e-12)
    return (1 + count) / (1 + n_permutations)
    # END SOLUTION


# %%
# (a) on a tiny example the exact p-value can be enumerated: all C(8, 3) = 56 choices of 3
x_toy, y_toy = torch.tensor([2.1, 3.5, 2.9]), torch.tensor([1.0, 2.2, 0.4, 1.7, 3.0])
pooled = torch.cat([x_toy, y_toy])
observed = float(x_toy.mean() - y_toy.mean())
splits = [list(c) for c in combinations(range(8), 3)]
exact = np.mean(
    [
        float(pooled[c].mean() - pooled[[i for i in range(8) if i not in c]].mean())
        >= observed - 1e-12
        for c in splits
    ]
)
toy = my_permutation_p(x_toy, y_toy, 4000, torch.Generator().manual_seed(0))
print(f"toy example: exact p = {exact:.4f}, yours = {toy:.4f}")
assert abs(toy - exact) < 4 * math.sqrt(exact * (1 - exact) / 4000) + 1e-3, (
    "your p-value is far from the exact one"
)
# (b) on the real scores (a 2,000-photo reference to keep it quick) it agrees with the helper
ref_small = s_unseen[torch.randperm(len(unseen), generator=torch.Generator().manual_seed(1))[:2000]]
x_part = s_user[:10]  # 10 of the user's photos, so the p-value is not at its floor
theirs = stats.permutation_test(x_part, ref_small, n_permutations=999, seed=1).p_value
yours = my_permutation_p(x_part, ref_small, 999, torch.Generator().manual_seed(1))
print(
    f"10 of the user's photos vs 2,000 reference photos: yours p = {yours:.4f}, anw_helpers.stats "
    f"p = {theirs:.4f}"
)
assert abs(yours - theirs) < 5 * math.sqrt(2 * theirs * (1 - theirs) / 999) + 3e-3, (
    "your p-value disagrees with the helper's"
)
print("Correct! Your permutation p-value agrees with the exact one and with anw_helpers.stats.")

# %% [markdown]
# `stats.permutation_test` does the same, vectorised; given class labels it relabels **within each
# class**, comparing the user's photos with reference photos *of the same classes* (a *stratified*
# test; lesson 11 shows why). Here is the watermarked user's verdict with 99,999 relabellings, next
# to the Welch t-test, which replaces relabelling by a formula (Student's t, as dataset inference).
#
# This p-value is **one** training run's outcome (another seed, precision or CPU gives others):
# printed, not checked. Eq. 6 matched this user's key in all 18 recorded trainings
# ([lesson checks](../docs/reproduction.md#lesson-checks)) and 71 of 72 users of 20 photos or more
# ([Fig. 2d–f row](../docs/reproduction.md#fig-2d-f)); this p-value's spread over seeds is not yet
# recorded.

# %%
wm_test = stats.permutation_test(
    s_user, s_unseen, n_permutations=99_999, x_strata=user.labels, y_strata=unseen.labels
)
welch = stats.welch_t_test(s_user, s_unseen)
print(wm_test.summary())
print(welch.summary())
loss_user = stats.key_scores(model, user.clean(), user.labels, k_star, kind="loss")
loss_test = stats.permutation_test(
    loss_user,
    losses_unseen[:, 1] - losses_unseen[:, 0],
    n_permutations=99_999,
    x_strata=user.labels,
    y_strata=unseen.labels,
)
print(f"with the loss difference as the score instead: p = {loss_test.p_value:.2g}")
plots.plot_null_distribution(wm_test)

# %%
# the outcome of one training run: printed, not checked (other seeds and precisions can differ)
print(
    f"this run: the watermarked user's p = {wm_test.p_value:.2g} "
    f"({'below' if wm_test.p_value < 0.01 else 'NOT below'} 0.01), mean score difference "
    f"{wm_test.statistic:+.4f} ({'above' if wm_test.statistic > 0 else 'NOT above'} the reference)"
    " (one run, printed not checked)"
)
# deterministic: class labels were given, so the helper ran the class-stratified test
assert wm_test.method == "permutation-stratified"

# %% [markdown]
# **Why the permutation test and not the t-test?** Both compare the same means. The t-test assumes
# the user's mean score is near normal; with skewed scores (see the histogram) and few photos it is
# not, and it errs most in the far tail, where a p-value of $10^{-8}$ is read. The permutation test
# assumes only that under H0 the user's photos are exchangeable with the reference photos: what
# "never trained on" means when the reference is like the user's photos. Its limit is its floor,
# $1/(B+1)$: an honest "below $10^{-5}$", not a precise-looking $10^{-8}$ that nothing backs. Lesson
# 11 measures both.
#
# One call does all this from photos: `stats.ownership_test` scores the user's and the reference
# photos, refuses a reference holding any of the user's photos, sets aside photos with almost no
# colour, and relabels within strata of *same class and similar colour* (lesson 11, section e,
# shows why colour matters). Here with a 1,000-photo reference, to keep it quick.

# %%
ref_idx = torch.randperm(len(unseen), generator=torch.Generator().manual_seed(2))[:1000]
one_call = stats.ownership_test(
    model,
    user.clean(),
    user.labels,
    to_float(unseen.images[ref_idx]),
    unseen.labels[ref_idx],
    key=k_star,
    n_permutations=9_999,
    seed=0,
)
print(f"k_hat = {result.best:g}, claim k* = {k_star:g}: {one_call.summary()}")

# %%
c_user = stats.chroma(user.clean())  # colour per photo: no model (c_unseen: the setup's)
same = stats.matched_permutation_test(
    s_user,
    user.labels,
    c_user,
    s_unseen[ref_idx],
    unseen.labels[ref_idx],
    c_unseen[ref_idx],
    9_999,
    0,
)
# the same test on the same scores, strata and seed: the same p-value, whatever the run
assert abs(one_call.p_value - same.p_value) < 1e-12
# the outcome of one training run: printed, not checked
print(
    f"this run: the one-call p = {one_call.p_value:.2g} is "
    f"{'below' if one_call.p_value < 0.01 else 'NOT below'} 0.01 (one run, printed not checked)"
)

# %% [markdown]
# ## 4. Calibration, in brief
#
# "Exact under H0" is a theorem; whether H0's assumptions fit our photos is measured by counting
# false accusations where we *know* the learner is innocent. The 10,000 test photos split into
# innocent users of our user's size (lesson 04's held-out user is one), each tested against the
# *other* test photos. At level α a calibrated test accuses at most a fraction α of them;
# `stats.allowed_rejections(n, α)` is the largest count it exceeds with probability below 0.1 %.

# %%
innocents = [held] + make_users(
    unseen,
    [len(user)] * (len(unseen) // len(user) - 1),
    [None] * (len(unseen) // len(user) - 1),
    seed=9,
    exclude=held.indices,
    prefix="innocent",
)
innocent_rows = [u.indices for u in innocents]
p_innocent = calibration.leave_user_out("same class", innocent_rows, s_unseen, unseen.labels, 9_999)
n_inn = len(innocents)
print(f"{n_inn} innocent users; lesson 04's held-out user: p = {p_innocent[0]:.3f}")
for alpha in (0.05, 0.01):
    print(
        f"alpha = {alpha}: accused by the permutation test "
        f"{calibration.false_positive_rate(p_innocent, alpha).summary()}; a calibrated test stays "
        f"at or below {stats.allowed_rejections(n_inn, alpha)}"
    )
    # exact under H0 (never-seen photos are exchangeable): the binomial allowance (lesson 11, a)
    assert int((p_innocent <= alpha).sum()) <= stats.allowed_rejections(n_inn, alpha), (
        f"too many false accusations at alpha = {alpha}"
    )

# %% [markdown]
# The appendix, [lesson 11](11_calibration_appendix.ipynb), measures the rest, one helper call
# each: the Welch t-test against the permutation test with 50 photos and with 5; photos the learner
# trained on without the hue; one reference shared by many tests; users who photograph one class;
# faded and black-and-white photos; a learner that learned a subject's hue. In short: on never-seen
# photos the permutation test stays within its allowance (checked there); the Welch t-test with few
# photos, and any reference unlike the user's photos (another class, more colour), can accuse
# innocents above α. Hence `stats.ownership_test` matches the reference on class and colour, and
# sets aside black-and-white photos, which carry no evidence.

# %% [markdown]
# ## 5. How the p-value falls with the number of photos — and a LiRA-style ROC
#
# At the `ci` scale there is **one** watermarked user. To see how the evidence grows with the number
# of photos, we draw random *sub-users* of her 50 photos (2, 5, 10, ... each). They share photos,
# so they show how p depends on $n$ for this user, not a rate over many users (the larger profiles
# train more users and learners).

# %%
sizes = sorted({2, 5, 10, 20, 30, 40, len(user)} | {s for s in (100, 200) if s < len(user)})
median_p, q25_p, q75_p = [], [], []
for n in sizes:
    subs = stats.random_subsets(len(user), n, 1 if n == len(user) else 20, seed=n)
    ps = calibration.p_values_against(
        "same class", s_user[subs], user.labels[subs], s_unseen, unseen.labels, 9_999
    ).numpy()
    median_p.append(np.median(ps))
    q25_p.append(np.quantile(ps, 0.25))
    q75_p.append(np.quantile(ps, 0.75))
    print(
        f"n = {n:3d} photos: median p = {median_p[-1]:.2g} (quartiles {q25_p[-1]:.2g} - "
        f"{q75_p[-1]:.2g})"
    )
display(plots.plot_p_by_photos(sizes, median_p, q25_p, q75_p, floor=1 / (9_999 + 1)))

# %% [markdown]
# LiRA asks: over many cases, what share of watermarked users does the test catch when it may
# falsely accuse only 1 % or 0.1 % of innocent ones? We score each case by its class-matched mean
# difference against one fixed reference (a random fifth of the test photos; it shifts innocent and
# guilty cases alike): 20,000 random innocent users from the other 8,000 photos and 2,000 random
# sub-users of the watermarked user, for three sizes. The cases overlap heavily, so the curves are
# descriptive, not independent trials. A rate of 0.1 % needs well over 1,000 innocent cases.

# %%
folds = torch.randperm(len(unseen), generator=torch.Generator().manual_seed(5)).view(5, -1)
ref, pool = folds[0], torch.cat(list(folds[1:]))
z_pool = stats.centre_by_stratum(
    s_unseen[pool], unseen.labels[pool], s_unseen[ref], unseen.labels[ref]
)
z_user = stats.centre_by_stratum(s_user, user.labels, s_unseen[ref], unseen.labels[ref])
roc, tpr_table = {}, {}
for n in (5, 10, 20):
    negatives = z_pool[stats.random_subsets(len(pool), n, 20_000, seed=1)].mean(dim=1)
    positives = z_user[stats.random_subsets(len(user), n, 2_000, seed=2)].mean(dim=1)
    roc[n] = stats.roc_curve(negatives, positives)
    tpr_table[n] = (
        stats.tpr_at_fpr(negatives, positives, 0.01),
        stats.tpr_at_fpr(negatives, positives, 0.001),
    )
display(plots.plot_roc(roc, tpr_table))
for n, (at1, at01) in tpr_table.items():
    print(f"n = {n:2d}: TPR at 1 % FPR = {at1:.1%}, at 0.1 % FPR = {at01:.1%}")

# %% [markdown]
# ## 6. Many users at once: the family-wise correction
#
# An arbitrator who hears 200 innocent claims at α = 0.05 accuses 10 innocent learners on average:
# each test is calibrated, the family is not. To keep the chance of *any* false accusation below α
# (the **family-wise error rate**), Bonferroni tests each claim at α/m. **Holm's** step-down method
# is sharper: sort the p-values, compare the smallest with α/m, the next with α/(m−1), ..., and stop
# at the first that fails. Both hold whatever the dependence between tests (ours share reference
# photos).
#
# ### Exercise 9.3 — Holm's correction
# Return a boolean tensor: which of the m p-values Holm's method rejects at family-wise level
# `alpha`.


# %% tags=["solution"]
def my_holm(p_values: torch.Tensor, alpha: float) -> torch.Tensor:
    """Which p-values Holm's step-down method rejects at family-wise level alpha."""
    # BEGIN SOLUTION
    m = len(p_values)
    order = torch.argsort(p_values, stable=True)
    reject = torch.zeros(m, dtype=torch.bool)
    for j, i in enumerate(order.tolist()):
        if p_values[i] > alpha / (m - j):
            break
        reject[i] = True
    return reject
    # END SOLUTION


# %%
# the watermarked user first
family = torch.cat([torch.tensor([wm_test.p_value], dtype=torch.float64), p_innocent])
for p_test in (
    family,
    torch.tensor([0.01, 0.04, 0.03, 0.005]),
    torch.rand(50, generator=torch.Generator().manual_seed(0)) * 0.01,
):
    assert my_holm(p_test, 0.05).tolist() == stats.holm(p_test, 0.05).tolist()
print("Correct! Your Holm correction matches anw_helpers.stats.holm.")

# %% [markdown]
# From here on we use the course's versions, `stats.holm` and `stats.bonferroni`:

# %%
m = len(family)
uncorrected, bonf, holm = family <= 0.05, stats.bonferroni(family, 0.05), stats.holm(family, 0.05)
for name, rejected in (("no correction", uncorrected), ("Bonferroni", bonf), ("Holm", holm)):
    print(
        f"{name:13s}: watermarked user accused: {bool(rejected[0])}; innocent users accused: "
        f"{int(rejected[1:].sum())} of {m - 1}"
    )
print(
    f"the watermarked user's p = {wm_test.p_value:.2g} must beat alpha / m = {0.05 / m:.2g}; "
    f"with B relabellings that needs B + 1 > m / alpha = {m / 0.05:,.0f}"
)
# corrections only remove rejections; the p-value floor 1 / (B + 1) must lie below alpha / m
assert bool((bonf <= holm).all()) and int(holm.sum()) <= int(uncorrected.sum())
assert wm_test.n_permutations + 1 > m / 0.05, (
    "too few relabellings for this family: the p-value floor is above alpha / m"
)

# %% [markdown]
# The floor matters here: with 999 relabellings no p-value goes below 0.001, so in a family of
# more than 50 claims (α/m < 0.001 at α = 0.05) none could pass. Plan the relabellings for the
# family size, as the cell above does.

# %%
print(
    f"lesson computations took {time.perf_counter() - lesson_start:.0f} s after the learner was "
    "loaded"
)

# %% [markdown]
# ## Summary
# - An argmin over 12 slots names a key but not how surprising it is. A null hypothesis — *the
#   learner never trained on these photos with this key* — turns the same queries into a p-value.
# - Score each photo by how much more probable the true class becomes under the claimed hue; compare
#   the user's photos with never-seen public photos. A permutation test assumes nothing about the
#   scores' shape and is exact under H0, at the price of its floor $1/(B+1)$. The Welch t-test
#   gives smaller-looking p-values that its assumptions cannot back.
# - Calibration is measured on innocent cases, not assumed (section 4; lesson 11 shows what breaks
#   it: few photos for the t-test, a shared reference, a reference unlike the user's photos). Match
#   the reference to the user: same class, similar colour.
# - The evidence grows quickly with the number of photos (section 5, this run's one user). Many
#   claims need a family-wise correction (Holm) and enough relabellings for its thresholds.
# - The records, misses included: eq. 6 matched this user in 18 of 18 recorded trainings; innocent
#   held-out users landed at 0 in 26 of 30 recorded learners (sections 1 and 3 link them). The
#   p-values of sections 3-5 are one run's, not yet recorded over seeds.
#
# ## Check your understanding
# 1. Why does the p-value formula add 1 to both the count and the number of relabellings?
# 2. An arbitrator tests the $\hat k$ found by the grid search instead of the user's sealed key.
#    What goes wrong, and how can it be fixed?
# 3. Why must the reference photos be disjoint from the user's photos, and what happens to the test
#    if the learner *did* train on some reference photos?
# 4. Your test gives p = 0.003 for one user among 100 claims the arbitrator examined this year. What
#    can you conclude at a family-wise level of 0.05?
#
# <details><summary>Answers</summary>
#
# 1. The observed labelling is itself one of the possible relabellings; counting it makes the
#    p-value exact (P(p ≤ α) ≤ α) and never zero: with B relabellings the smallest p is 1/(B+1).
# 2. Picking the best of 11 slots and then testing it is testing after looking: even an innocent
#    learner has *some* slot with a high score, so the false-positive rate grows up to 11-fold. Fix:
#    test the pre-registered claim, or multiply the p-value at $\hat k$ by 11 (Bonferroni over the
#    slots).
# 3. A photo in both sets is compared with itself, which hides a real difference. If the learner
#    trained on reference photos, the reference is no longer "never seen": its scores move and the
#    test compares two trained-on sets (the watermark part may still show, but the level is no
#    longer guaranteed).
# 4. Holm or Bonferroni over 100 claims needs p ≤ 0.05/100 = 0.0005 for the smallest; 0.003 does not
#    pass. On its own it would be significant at 0.01; in the family it is not convincing.
# </details>

# %% [markdown]
# ## References
#
# - Zou, Gong & Wang. *Anti-Neuron Watermarking: Protecting Personal Data Against Unauthorized
#   Neural Networks.* ECCV 2022 — the paper this course follows (equations, sections and figures
#   cited as in it).
# - Good, *Permutation, Parametric, and Bootstrap Tests of Hypotheses*, Springer 2005 — permutation
#   tests.
# - Holm, *A Simple Sequentially Rejective Multiple Test Procedure*, Scand. J. Statistics 1979.
# - Carlini et al., *Membership Inference Attacks From First Principles* (LiRA), S&P 2022 — the
#   ROC at low false-positive rates of section 5.
# - Maini, Yaghini & Papernot, *Dataset Inference: Ownership Resolution in Machine Learning*, ICLR
#   2021 — a statistical test of ownership (the paper's [23]).
# - The records: innocent held-out users, [Sec. 5.4 row](../docs/reproduction.md#sec-5-4); the
#   user's match, [lesson checks](../docs/reproduction.md#lesson-checks) and
#   [Fig. 2d–f row](../docs/reproduction.md#fig-2d-f).
