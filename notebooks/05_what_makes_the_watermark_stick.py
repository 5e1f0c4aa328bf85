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
# # Lesson 05 — What makes the watermark stick
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/anw-course/anti-neuron-watermarking/blob/main/notebooks/05_what_makes_the_watermark_stick.ipynb)
#
# **You will learn to**
# - compute the margin of a verdict, the loss gap (exercise 5.2);
# - measure how many watermarked photos a user needs (paper Sec. 5.2, Fig. 2a-c);
# - check that every signature in $\{30, \dots, 330\}$ works (Fig. 2d-f);
# - compare architectures and capacities (Fig. 2g-h) and say what the profile on your machine can
#   afford;
# - link each match to **memorisation**: a learner that does not fit a user's photos carries no
#   signal;
# - design experiments that answer several questions with one training, and say when that is sound.
#
# **Time:** about 35 minutes of reading and exercises, besides its training: one learner with
# fourteen users and the capacity curve's networks, one of which is lesson 03's learner, loaded from
# the model cache (opened alone, the lesson trains it first); a second run loads everything from the
# cache.
# **Machine time** (`ci` profile on 2 CPU cores, `colab` on a GPU; written by `python -m
# tools.docs_numbers`): opened alone, about 5 min on 2 CPU cores (measured in fp32 with AVX2 kernels
# on 2 vCPUs of an Intel Xeon with AMX: 2:53 for this lesson after the earlier ones, plus 1:46 for
# lesson 03's learner); about 1.5 min of training on a T4 (projected from FLOPs, not measured).
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
import time

import torch
from IPython.display import Markdown, display

from anw_helpers import plots, verify
from anw_helpers.color import SIGNATURE_SLOTS
from anw_helpers.machinery import throughput
from anw_helpers.profiles import (
    HIGH_RES,
    MULTI_USER_KEYS,
    MULTI_USER_SIZES,
    get_profile,
    multi_user_config,
)
from anw_helpers.train import predict_logits, train_learner
from anw_helpers.users import make_users

lesson_start = time.perf_counter()
profile = get_profile()
print(
    f"profile {profile.name!r}: {profile.config.data.n_train or 50000:,} training images, model "
    f"{profile.config.recipe.model}, {profile.config.recipe.epochs} epochs"
)

# %% [markdown]
# ## 1. One training, fourteen users
#
# Fig. 2a-f of the paper trains one network per setting: one per number of watermarked photos, one
# per key. On 2 CPU cores that would be eleven trainings for the keys alone. Instead we put
# **several users into one learner's training set**, each with their own photos and key, and verify
# each one separately:
#
# | users | photos each | keys | question |
# |---|---|---|---|
# | 5 | 50, 20, 10, 5, 2 | 60, 150, 240, 330, 90 | how many photos are needed (Fig. 2a-c) |
# | 9 | 30 | 30, 90, 120, 180, 210, 240, 270, 300, 330 | does every key work (Fig. 2d-f) |
#
# (Every key: the nine 30-photo users, with the first two users' 60 and 150.)
#
# **Why this is sound.** The users' photos are disjoint, and eq. 6 for user $u$ only looks at user
# $u$'s photos: $\hat k_u$ is about how the network treats *those* photos. Another user's watermark
# is a hue rotation of *other* photos; it could only leak into user $u$'s result if memorising some
# photos at hue 90 made the network prefer hue 90 on photos it never memorised at that hue. The
# held-out user tests exactly that: they carry the first user's key (60) and the learner never saw
# their photos, so their search shows where photos with *no* memorised key land — the learner's
# generic taste in hue. It should not be their key, and any user whose key coincides with it is no
# evidence either way, so section 3 sets such keys aside. The cell below prints where the control
# landed in *this* training: that is one run, printed and not checked, because another seed or
# precision can land elsewhere (the spread over seeds is in
# [the held-out row of the reproduction table](../docs/reproduction.md#sec-5-4)). Over six recorded
# seeds of this learner the control landed on 0 in 4 of 6 trainings in bf16 (elsewhere on 330 and
# 270) and in 5 of 6 in fp32 (elsewhere on 330): with 14 % of its photos rotated, two users of them
# by 330, a small learner can pick up a taste for a hue — a limit of the design, not only of the
# method. The other limits: lesson 07 shows what happens when far more photos are watermarked; and
# the three smallest users share their key with a 30-photo user.

# %%
print("sizes:", MULTI_USER_SIZES)
print("keys: ", [int(k) for k in MULTI_USER_KEYS])
multi = train_learner(
    multi_user_config(profile.config), announce="Lesson 05's fourteen-user learner"
)
users, held = multi.data.users, multi.data.held_out
share = sum(len(u) for u in users) / len(multi.data.train)
print(
    f"{'loaded from cache' if multi.from_cache else 'trained now'}: {len(users)} users, "
    f"{share:.1%} of the {len(multi.data.train):,} training images watermarked; train acc "
    f"{multi.record.train_accuracy:.3f}, test acc {multi.record.test_accuracy:.3f}"
)

# %%
verdicts = verify.verify_users(multi.model, users + [held])
held_verdict = verdicts.result(len(users))
print(
    f"held-out user (key {held.key:g}, {len(held)} photos the learner never saw): k_hat = "
    f"{held_verdict.best:g}"
)
control_slot = held_verdict.best  # where never-seen photos land: no evidence of any key there
# the outcome of one training run: printed, not checked (other seeds and precisions can differ)
control_on_key = verify.match(control_slot, held.key)
print(
    f"this run: the never-seen control {'landed on' if control_on_key else 'stayed off'} its key "
    f"{held.key:g} (one run: printed, not checked)"
)
if control_slot != 0:
    print(
        f"the never-seen photos prefer hue {control_slot:g} to no rotation: a user whose key is "
        f"{control_slot:g} shows nothing in this learner (section 3 sets that key aside)"
    )

# %% [markdown]
# One held-out user checks one key. Every key gets its own never-seen control: 30 photos the learner
# never saw (from the test set, disjoint from each other and from the held-out user), verified with
# that key — no training, only eq. 6. An innocent set of photos should not "match" its key. If the
# learner has a generic taste for one hue, all controls land on that one slot and its key is no
# evidence; several keys matched by never-seen photos would mean the arbitrator matches innocents.
# The cell prints how many matched in *this* training; it checks nothing, because one run cannot
# say how often that happens (another seed or precision gives other numbers; lesson 09 turns a
# match into a calibrated p-value).

# %%
controlled = sorted(set(SIGNATURE_SLOTS[1:]))
control_users = make_users(
    multi.data.test,
    [30] * len(controlled),
    controlled,
    [None] * len(controlled),
    seed=profile.config.recipe.seed + 11,
    prefix="never-seen",
)
controls = verify.verify_users(multi.model, control_users)
control_matches = [k for k, m in zip(controlled, controls.matches().tolist()) if m]
print(
    "never-seen controls, k_hat per key:",
    {int(k): int(kh) for k, kh in zip(controlled, controls.k_hat.tolist())},
)
# the outcome of one training run: printed, not checked (other seeds and precisions can differ)
print(
    f"this run: {len(control_matches)} of {len(controlled)} never-seen controls matched their key: "
    f"{[int(k) for k in control_matches] or 'none'} (one run: printed, not checked)"
)

# %% [markdown]
# Read the controls' $\hat k$: never-seen photos need not land on 0 — the held-out user did not in 3
# of the 12 recorded trainings above — since a small learner has a taste for some hues. What matters
# is that they do not land on *their own* key more often than chance (1 in 12); your run's count is
# printed above (the eleven controls are not recorded over seeds). It is also why
# $\hat k \neq 0$ alone is weak evidence, and why lesson 09 turns a match into a p-value.

# %% [markdown]
# ## 2. How many photos does a user need? (Fig. 2a-c)
#
# One curve per user size, in the paper's style: x is $k - k^*$, the green band is a match, the
# square marks each curve's minimum $\hat k$.
#
# ### Exercise 5.1 — the memorisation behind a match
# A network can only "remember" a key on photos it has fitted. Write the user's **training loss**:
# the mean cross-entropy of the model on the user's photos *as the learner saw them*, i.e.
# watermarked with $k^*$ (use `watermark` from `anw_helpers.color`, `F.cross_entropy`, eval mode, no
# gradients, on the model's device).

# %% tags=["solution"]
import torch.nn.functional as F

from anw_helpers.color import watermark


def my_training_loss(
    model: torch.nn.Module, clean_images: torch.Tensor, labels: torch.Tensor, key: float
) -> float:
    """Mean cross-entropy of `model` on the user's photos watermarked with their key (what it
    trained on)."""
    # BEGIN SOLUTION
    model.eval()
    device = next(model.parameters()).device  # compute where the model is (lesson 03)
    with torch.no_grad():
        return float(
            F.cross_entropy(model(watermark(clean_images.to(device), key)), labels.to(device))
        )
    # END SOLUTION


# %%
u0 = users[0]
mine = my_training_loss(multi.model, u0.clean(), u0.labels, u0.key)
helper = float(verdicts.losses[0][verdicts.signatures == u0.key])  # eq. 6's loss at k = k*
assert abs(mine - helper) < 1e-4, (mine, helper)
print(
    f"Correct! user0's training loss {mine:.4f} is eq. 6's loss at k = k* (the minimum of a "
    "matching curve)."
)


# %%
def summary_row(i: int) -> dict:
    """One user's verdict next to how well the learner fits their photos."""
    u, r = users[i], verdicts.result(i)
    at_key = float(r.losses[r.signatures == u.key])
    # on the model's device
    predicted = predict_logits(multi.model, watermark(u.clean(), u.key)).argmax(1)
    fitted = float((predicted == u.labels).float().mean())
    return dict(
        user=u.name,
        photos=len(u),
        key=u.key,
        k_hat=r.best,
        match=verify.match(r.best, u.key),
        gap=r.gap(u.key),
        train_loss=at_key,
        fitted=fitted,
    )


rows = [summary_row(i) for i in range(len(users))]
size_rows = rows[:5]
display(
    plots.plot_loss_overlay(
        [(f"{len(users[i])} photos (k* = {users[i].key:g})", verdicts.result(i)) for i in range(5)],
        [users[i].key for i in range(5)],
        colors=("tab:blue", "tab:orange", "tab:purple", "tab:red", "tab:brown"),
        title="Fig. 2a-c: one learner, users with different numbers of watermarked photos",
    )
)
display(Markdown(plots.verdict_table(size_rows)))

# %% [markdown]
# **Reading the table.** The gap is the loss at the best slot away from $k^*$ minus the loss at
# $k^*$: positive means $k^*$ wins, and its size says by how much. The paper finds that fewer than
# about five photos fail. Over six recorded seeds of this learner in bf16 ([the reproduction
# table](../docs/reproduction.md#fig-2a-c)), the 50-photo user matched 6 times in 6, the 30-photo
# users 54 in 54, the 20- and 10-photo users 5 in 6 each, the 5-photo user 3 in 6 and the 2-photo
# user 2 in 6 (chance is 1 in 12): more photos, more often a match, but no size below 30 is safe at
# this scale. The small users share their keys with 30-photo users (240, 330, 90), and that seems to
# help them: in [a control grid](../docs/reproduction.md#fig-2a-c-few-unshared) where no small user
# shares its key, the 10-, 5- and 2-photo users matched 3, 2 and 0 times in 6 in bf16, and 4, 3 and
# 2 in fp32 (5, 4 and 2 with shared keys) — twelve learners suggest it, they do not prove it. Your
# table above is this run's.
#
# Fitting is necessary but not enough: the learner fits even the smallest users' photos, but with
# two photos the loss at $k^*$ is an average of two numbers, and other hue rotations of two photos
# can be just as low by chance: there is too little evidence in the user's own data. The cell below
# prints, user by user, what this run shows; it checks none of it. A table like this is the outcome
# of one training: another seed or precision (fp32 on most laptops, bf16 on newer CPUs) can move a
# user across the boundary, as the recorded 20-photo user's miss shows. The rates over seeds, in
# bf16 and fp32: [users with enough photos](../docs/reproduction.md#fig-2a-c) and
# [users with too few](../docs/reproduction.md#fig-2a-c-few).

# %%
by_size = {r["photos"]: r for r in size_rows}
# the outcome of one training run: printed, not checked (other seeds and precisions can differ)
for n_photos, r in by_size.items():
    print(
        f"this run: the {n_photos}-photo user {'matched' if r['match'] else 'missed'} its key "
        f"(gap {r['gap']:+.3f}); the learner fits {r['fitted']:.0%} of its photos "
        "(one run: printed, not checked)"
    )

# %% [markdown]
# ### Exercise 5.2 — the margin of a verdict
# The table's gap is the arbitrator's margin: the lowest loss among the slots at least $\tau$ away
# from $k^*$, minus the lowest loss within $\tau$ of $k^*$ (distances on the circle: 350 and 10 are
# 20° apart). Positive means $k^*$ wins, and its size says how safely. Write it from a grid search's
# signatures and losses.


# %% tags=["solution"]
def my_gap(
    signatures: torch.Tensor, losses: torch.Tensor, k_star: float, tau: float = 15.0
) -> float:
    """Lowest loss at least tau away from k_star minus lowest loss within tau of it (> 0: k_star
    wins)."""
    # BEGIN SOLUTION
    # STUB: d = ...  # each signature's distance to k_star on the circle, in [0, 180]
    # STUB: near = d < tau
    # STUB: return ...  # best loss away from k_star minus best loss near it
    d = torch.remainder(signatures.double() - k_star, 360.0)
    near = torch.minimum(d, 360.0 - d) < tau
    return float(losses[~near].min() - losses[near].min())
    # END SOLUTION


# %%
for i in range(len(users)):
    r = verdicts.result(i)
    assert abs(my_gap(r.signatures, r.losses, users[i].key) - r.gap(users[i].key)) < 1e-9, users[
        i
    ].name
print("Correct! Your gap matches SearchResult.gap for every user.")

# %% [markdown]
# ## 3. Does every key work? (Fig. 2d-f)
#
# The users with at least 20 photos carry all eleven keys (60 and 150 from section 2, nine more with
# 30 photos each).

# %%
key_rows = [r for r in rows if r["photos"] >= 20]
key_idx = [i for i, r in enumerate(rows) if r["photos"] >= 20]
display(
    plots.plot_loss_overlay(
        [(f"k* = {users[i].key:g} ({len(users[i])} photos)", verdicts.result(i)) for i in key_idx],
        [users[i].key for i in key_idx],
        colors=plots.key_colors([users[i].key for i in key_idx]),
        title="Fig. 2d-f: every key, one learner",
        legend_columns=2,
    )
)
display(Markdown(plots.verdict_table(sorted(key_rows, key=lambda r: r["key"]))))
recovered = sorted(r["key"] for r in key_rows if r["match"])
print(
    f"keys recovered: {[int(k) for k in recovered]} ({len(recovered)} of "
    f"{len(set(r['key'] for r in key_rows))})"
)
# by construction (MULTI_USER_SIZES and MULTI_USER_KEYS in anw_helpers/profiles.py): no training
assert set(r["key"] for r in key_rows) == set(SIGNATURE_SLOTS[1:]), (
    "the users >= 20 photos must cover every key"
)

# %%
confounded = {k for k in controlled if verify.match(controls.k_hat[controlled.index(k)].item(), k)}
confounded |= {
    r["key"] for r in key_rows if control_slot != 0 and verify.match(control_slot, r["key"])
}
if confounded:
    print(f"set aside: key(s) {sorted(confounded)}, where photos the learner never saw land too")
kept = [r for r in key_rows if r["key"] not in confounded]
missed = [r["key"] for r in kept if not r["match"]]
# the outcome of one training run: printed, not checked (other seeds and precisions can differ)
print(
    f"this run: {len(missed)} of the {len(kept)} keys not set aside missed: "
    f"{[int(k) for k in missed] or 'none'} (one run: printed, not checked)"
)

# %% [markdown]
# **Reading it.** The paper finds no key special: a hue rotation by 120 degrees is as memorable as
# one by 30. What varies is the margin, and at 30 photos (1.2 % of the training set, with thirteen
# other users sharing the learner's memory) some margins are thin. Over six recorded seeds ([the
# reproduction table](../docs/reproduction.md#fig-2d-f)), every key matched in bf16 but once (key
# 150, the 20-photo user, landed on 120 in one seed); in fp32 every key matched on all six seeds
# except key 120, which missed 3 times in 6 (gaps −0.026 to −0.002: its search landed next door),
# and keys 90, 270 and 300 matched with gaps as thin as +0.007. Key 120 is not hard in itself: with
# 50 photos and the learner to itself it matched in bf16, in fp32 and on AVX2 kernels (gaps +0.16 to
# +0.40 in the seed tables' records, `tools/grids/ci_seeds.jsonl` and `cpu_seeds*.jsonl`). Which
# keys miss, and how
# many, is the outcome of one training, so the cell above only prints this run's count. A learner
# that had not memorised its
# users would miss most keys.

# %% [markdown]
# ## 4. Architectures and capacity (Fig. 2g-h)
#
# The paper trains AlexNet, VGG, ResNet, Wide-ResNet and DenseNet (Fig. 2g), and ResNets of growing
# depth (Fig. 2h): bigger networks memorise faster and give a sharper minimum. Each of those is a
# full training, so what a lesson can afford depends on the machine. Here is what each profile
# trains (instructors: edit these lists), and, measured on *this* machine, what one training of each
# architecture would cost with this profile's data and epochs.

# %%
# What each profile trains lives in `anw_helpers/profiles.py` (`profile.lessons`): (model, width)
# pairs for the capacity curve (width 0: the profile's own) and the other architectures of Fig. 2g.
CAPACITY = profile.lessons.capacity
ARCHITECTURES = profile.lessons.architectures
cfg = profile.config
images_per_training = (cfg.data.n_train or 50000) * cfg.recipe.epochs
cost_rows = []
for name in [
    "small_resnet",
    "alexnet",
    "vgg11_bn",
    "resnet18",
    "resnet50",
    "wide_resnet50_2",
    "densenet121",
]:
    ips = throughput.training_images_per_second(name, width=cfg.recipe.width, batch=16, steps=1)
    trained_here = name in ARCHITECTURES or any(name == m for m, _ in CAPACITY)
    cost_rows.append((name, ips, images_per_training / ips / 60, trained_here))
display(Markdown(plots.cost_table(cost_rows, profile.name)))

# %% [markdown]
# (Throughput from one step of 16 images after two warm-up steps: a rough projection, good to a
# factor of two.) On 2 CPU cores every architecture but the small ResNet costs minutes to hours per
# training (recorded for `ci`'s data and epochs in bf16 on a 2-core Xeon with AMX: AlexNet about 3
# min, VGG-11 about 5 min; fp32 on AVX2 kernels trains lesson 03's learner two to three times
# slower, docs/benchmarks.md), so the `ci` profile studies **capacity** with the small ResNet at
# widths 4 and 16 (the width-16 network is lesson 03's learner, from the cache), on lesson 03's
# data: one 50-photo user with key 60. A width-4 network has a sixteenth of the width-16 network's
# FLOPs and parameters (26,350 against 412,954): the table below shows how well it fits 2,500
# photos in 40 epochs.


# %%
def capacity_row(label: str, learner) -> dict:
    """One row of the capacity table: the learner's fit next to eq. 6's verdict for its user."""
    u = learner.data.users[0]
    r = verify.grid_search(learner.model, u.clean(), u.labels)
    return dict(
        model=label,
        learner=learner,
        result=r,
        k_hat=r.best,
        match=verify.match(r.best, u.key),
        gap=r.gap(u.key),
        train_acc=learner.record.train_accuracy,
        test_acc=learner.record.test_accuracy,
        train_loss=float(r.losses[r.signatures == u.key]),
        cached=learner.from_cache,
    )


# %%
capacity = []
for model_name, width in CAPACITY:
    width = width or cfg.recipe.width
    label = model_name if model_name != "small_resnet" else f"small ResNet, width {width}"
    is_lesson03 = (model_name, width) == (cfg.recipe.model, cfg.recipe.width)
    what = f"Lesson 03's learner ({profile.learner_size})" if is_lesson03 else f"The {label}"
    learner = train_learner(cfg.with_(model=model_name, width=width), announce=what)
    capacity.append(capacity_row(label, learner))
for name in ARCHITECTURES:
    capacity.append(capacity_row(name, train_learner(cfg.with_(model=name))))

k_star = capacity[-1]["learner"].data.users[0].key
display(
    plots.plot_loss_overlay(
        [(f"{r['model']} (train acc {r['train_acc']:.2f})", r["result"]) for r in capacity],
        k_star,
        title="Fig. 2g-h: capacity and architecture (one user, 50 photos, k* = 60)",
    )
)
display(Markdown(plots.capacity_table(capacity)))

# %% [markdown]
# **Memorisation is the mechanism.** Read the table from the narrowest network up: the less a
# network fits its training set, the higher the user's loss at $k^*$ and the smaller the gap. Over
# three recorded seeds of lesson 03's learner at widths 4, 8, 16 and 32 ([the reproduction
# table](../docs/reproduction.md#fig-2h), bf16), the width-4 network fitted 71-76 % of its training
# set and matched 2 times in 3 (mean gap −0.056); widths 8, 16 and 32 matched every time, with mean
# gaps +0.154, +0.250 and +0.282. (Width 32 fitted less than width 16 in 40 epochs, 85-90 % against
# 95-97 %, yet its gap was the largest: fit is not the only thing capacity brings.) Architectures
# tell the same story ([Fig. 2g's row](../docs/reproduction.md#fig-2g), three seeds, bf16): with
# lesson 03's data and recipe VGG-11 fitted 99-100 % of its training set and matched every time,
# while AlexNet fitted about half of it and matched once in three. No fit, no signal — which is
# why the course's `ci` profile trains until the training set is fitted, and why Sec. 5.6 of the
# paper measures memorisation directly (lesson 08).
#
# The cell below compares the narrowest and the widest network of *this* run and prints what it
# finds without checking it: each is one training, and another seed or precision can give other
# numbers (the width-4 network missed in one of three recorded seeds). One thing is checked, as
# lesson 04 checks it: lesson 03's learner (the row at the profile's own width) matches its user,
# which it did on all 18 seed-table learners recorded (bf16; fp32 on AVX-512 and on AVX2).

# %%
widest = capacity[len(CAPACITY) - 1]
narrowest = capacity[0]
print(
    f"narrowest: {narrowest['model']}: train acc {narrowest['train_acc']:.3f}, gap "
    f"{narrowest['gap']:+.3f}; widest: {widest['model']}: train acc {widest['train_acc']:.3f}, gap "
    f"{widest['gap']:+.3f}"
)
# the outcome of one training run each: printed, not checked (other seeds and precisions can differ)
fits_better = widest["train_acc"] > narrowest["train_acc"]
print(
    f"this run: the widest network {'matched' if widest['match'] else 'missed'}; it fits its "
    f"training set {'better' if fits_better else 'no better'} than the narrowest, with a "
    f"{'larger' if widest['gap'] > narrowest['gap'] else 'not larger'} gap "
    "(one run each: printed, not checked)"
)
# recorded spread: lesson 03's learner matched its user's key on 18 of 18 seed-table learners
# (bf16; fp32 on AVX-512 and AVX2; loss gap at least +0.108: reproduction.md#fig-2d-f), so its
# match is checked
for r in capacity:
    if r["learner"].config == cfg:  # lesson 03's learner: the profile's own model and width
        assert r["match"], f"{r['model']} is lesson 03's learner: its key should match"

# %% [markdown]
# ## 5. High resolution (Fig. 2i)
#
# The paper's last panel moves to CUB-200-2011 birds at 448×448: a ResNet-50 pretrained on ImageNet,
# fine-tuned on the 5,994 training photos with strong augmentation (colour jitter included), and a
# 60-photo user (1 %). It needs the 1.1 GB data set (`anw_helpers.data.load_cub200` downloads it
# when online), the ImageNet weights (downloaded once) and a GPU: one epoch at 448×448 on 2 CPU
# cores would take longer than this whole course. So it runs in the `gpu` and `paper` profiles only
# (chosen explicitly: `ANW_PROFILE=gpu`), or anywhere with `TRAIN_HIGH_RES = True` (on a GPU: about
# an hour of training on a free Colab T4, projected); in the others the cell prints the
# configuration it would train. Where it trains, the cell prints whether the CUB user matched: one
# training, printed and not checked (the spread over seeds will be recorded in
# [the reproduction table](../docs/reproduction.md#fig-2i)).

# %%
#: Fig. 2i: CUB-200 at 448 x 448, pretrained ResNet-50, a 60-photo user with key 60 (`HIGH_RES` in
#: anw_helpers/profiles.py; `profile.lessons.high_res` is None where the profile skips it).
TRAIN_HIGH_RES = False
hr_config = profile.lessons.high_res or (HIGH_RES if TRAIN_HIGH_RES else None)
if hr_config is None:
    shown = "dataset image_size model user_sizes keys epochs batch_size lr augment".split()
    print(
        f"profile {profile.name!r}: Fig. 2i is not trained here (set TRAIN_HIGH_RES = True on a "
        "GPU; it downloads 1.1 GB). It would train:\n  " + plots.settings_list(HIGH_RES, shown)
    )
else:
    hr = train_learner(hr_config)
    hr_user = hr.data.users[0]
    hr_result = verify.grid_search(hr.model, hr_user.clean(), hr_user.labels)
    print(
        f"CUB-200 at {hr_config.data.image_size}px: test acc {hr.record.test_accuracy:.3f}, "
        f"k_hat = {hr_result.best:g} (k* = {hr_user.key:g}), gap {hr_result.gap(hr_user.key):+.3f}"
    )
    display(
        plots.plot_signature_losses(hr_result, hr_user.key, label="CUB-200, ResNet-50 (pretrained)")
    )
    # the outcome of one training run: printed, not checked (other seeds and precisions can differ)
    print(
        f"this run: the 60-photo CUB user "
        f"{'matched' if verify.match(hr_result.best, hr_user.key) else 'missed'} its key "
        "(one run: printed, not checked; spread over seeds: docs/reproduction.md#fig-2i)"
    )

# %% [markdown]
# ## Summary
# - One learner can answer several questions at once when its users are disjoint and each is
#   verified on their own photos; a never-seen control shows where photos without a memorised key
#   land, and a key at that slot is no evidence.
# - Users with many photos match more often: over six recorded seeds in bf16 and six in fp32, the
#   50-photo user every time, the 30-photo users 105 times in 108, the 2-photo user 4 times in 12
#   (chance: 1 in 12); the fewest photos can fail even when they are fitted: the average in eq. 6
#   needs enough photos to stand out. These are rates over seeds, not promises for one training.
# - The paper finds every key works; at the course's scale every key matched in most seeds, but
#   thin margins let a key miss in some (key 120 in fp32: 3 of 6). Larger networks fit more and
#   show a sharper minimum; a network that does not fit carries no signal, whatever its family
#   (AlexNet under lesson 03's recipe: half its training set fitted, 1 match in 3 seeds). See
#   [the reproduction table](../docs/reproduction.md#fig-2a-c) and its
#   [Fig. 2g row](../docs/reproduction.md#fig-2g).
#
# ## Check your understanding
# 1. Why can the 2-photo user fail although the learner classifies both photos correctly?
# 2. What would break the "several users in one training" design?
# 3. A company trains a small model that reaches 70 % training accuracy on its data. What do you
#    expect eq. 6 to return for your photos, and why?
#
# <details><summary>Answers</summary>
#
# 1. Eq. 6 averages the loss over the user's photos; with two photos, random variation of two loss
#    values across the twelve slots is as large as the effect of memorisation, so another slot can
#    win by chance. More photos average that noise away.
# 2. Leakage between users: if the network learned a general preference for a hue that many users
#    share, users could match (or miss) because of others. The never-seen control checks this (and
#    in one of our trainings it found such a taste, for 330); with very many watermarked photos in
#    one colour space the network learns hue tolerance (lesson 07).
# 3. Probably 0 or a random slot: a model that does not fit its training data has not memorised your
#    watermarked photos, so nothing ties their loss to your key.
# </details>

# %%
print(f"lesson 05 ran in {time.perf_counter() - lesson_start:.0f} s (profile {profile.name!r})")

# %% [markdown]
# ## References
#
# - Zou, Gong & Wang. *Anti-Neuron Watermarking: Protecting Personal Data Against Unauthorized
#   Neural Networks.* ECCV 2022 — the paper this course follows (equations, sections and figures
#   cited as in it).
# - He et al., CVPR 2016 (ResNet, [14]); Simonyan & Zisserman, ICLR 2015 (VGG, [32]); Zagoruyko &
#   Komodakis, BMVC 2016 (Wide ResNet, [43]); Huang et al., CVPR 2017 (DenseNet, [16]); Krizhevsky
#   et al., NeurIPS 2012 (AlexNet, [18]) — the architectures of Fig. 2g.
# - Welinder et al., *Caltech-UCSD Birds 200*, 2010 — the high-resolution data of Fig. 2i (the
#   paper's [36]).
# - Fig. 2a–i against the course's runs: [reproduction table](../docs/reproduction.md#fig-2a-c).
