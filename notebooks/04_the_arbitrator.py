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
# # Lesson 04 — The arbitrator: recovering the signature from the model alone
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/anw-course/anti-neuron-watermarking/blob/main/notebooks/04_the_arbitrator.ipynb)
#
# **You will learn to**
# - write the paper's verification rule, eq. 6, as a grid search over the signature space;
# - read the paper's Fig. 2 plot (loss against $k - k^*$, the green match band, the square marker);
# - run gradient search from random starts, none near the true key, and see whether it converges;
# - check the innocent case: a held-out user whose photos the learner never saw.
#
# **Time:** about 25 minutes. Uses the learner of lesson 03 from the model cache (if you open this
# lesson alone, it trains that learner first).
# **Machine time** (`ci` profile on 2 CPU cores, `colab` on a GPU; written by `python -m
# tools.docs_numbers`): opened alone, about 2 min on 2 CPU cores (measured in fp32 with AVX2 kernels
# on 2 vCPUs of an Intel Xeon with AMX: 0:24 for this lesson after the earlier ones, plus 1:46 for
# lesson 03's learner); about 0.2 min of training on a T4 (projected from FLOPs, not measured).
# After the earlier lessons it loads lesson 03's learner from the model cache instead of training.

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
import torch.nn.functional as F
from IPython.display import display

from anw_helpers import plots, verify
from anw_helpers.color import SIGNATURE_SLOTS, watermark
from anw_helpers.profiles import get_profile
from anw_helpers.train import train_learner

# %%
profile = get_profile()
# lesson 03's learner: loaded from the cache when it exists, else trained first (with a message)
learner = train_learner(profile.config, announce=f"Lesson 03's learner ({profile.learner_size})")
print(
    f"profile {profile.name!r}; model "
    f"{'loaded from cache' if learner.from_cache else 'trained now'}; test accuracy "
    f"{learner.record.test_accuracy:.3f}"
)
user, held = learner.data.users[0], learner.data.held_out
model = learner.model

# %% [markdown]
# ## 1. What the arbitrator knows
#
# The arbitrator receives the suspect model $f$ and the user's **clean** photos with their labels.
# The user's key $k^*$ stays sealed until the end: the search must find it without it (Sec. 3).
#
# The rule of eq. 6: watermark the clean photos with every candidate signature $k$ and keep the one
# under which the model's loss is smallest,
#
# $$\hat k = \arg\min_{k \in \mathcal{K}} \sum_{(I, y) \in \mathcal{D}_u}
# \mathcal{L}\big(f(g_k(I)), y\big).$$
#
# The paper divides the hue circle into $N = 12$ slots of width $2\tau = 30°$ (Sec. 5.1), so
# $\mathcal{K} = \{0, 30, \dots, 330\}$, and 0 means "not watermarked".
#
# ### Exercise 4.1 — write the grid search of eq. 6
# Return a tensor with the **mean** cross-entropy of `model` on `images` watermarked with each
# signature in `signatures` (use `watermark` and `F.cross_entropy`; put the model in eval mode and
# turn off gradients; compute on the model's device and return the losses on the CPU, as lesson 03
# says).


# %% tags=["solution"]
def my_grid_search(
    model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, signatures
) -> torch.Tensor:
    """Mean loss of `model` on `images` watermarked with each signature k (eq. 6)."""
    # BEGIN SOLUTION
    # STUB: model.eval()
    # STUB: device = next(model.parameters()).device
    # STUB: images, labels = images.to(device), labels.to(device)
    # STUB: with torch.no_grad():
    # STUB:     losses = [...  # mean cross-entropy of the images watermarked with k
    # STUB:               for k in signatures]
    # STUB: return torch.stack(losses).cpu()
    model.eval()
    device = next(model.parameters()).device  # compute where the model is (a GPU when there is one)
    images, labels = images.to(device), labels.to(device)
    with torch.no_grad():
        return torch.stack(
            [F.cross_entropy(model(watermark(images, k)), labels) for k in signatures]
        ).cpu()
    # END SOLUTION


# %%
reference = verify.grid_search(model, user.clean(), user.labels)
mine = my_grid_search(model, user.clean(), user.labels, SIGNATURE_SLOTS)
torch.testing.assert_close(mine.float(), reference.losses.float(), atol=1e-4, rtol=1e-4)
print("Correct! Your losses match anw_helpers.verify.grid_search.")

# %% [markdown]
# From here on we use the course's version, `verify.grid_search` (it returns the signatures, their
# losses and $\hat k$ = `best`):

# %%
result = verify.grid_search(model, user.clean(), user.labels)
for k, loss in zip(result.signatures.tolist(), result.losses.tolist()):
    print(f"k = {k:5.0f}   mean loss {loss:.3f}" + ("   <- lowest" if k == result.best else ""))

# %% [markdown]
# ## 2. Open the envelope: does $\hat k$ match $k^*$?
#
# A match means $|\hat k - k^*| < \tau$ on the circle (Sec. 4.2). The plot is the paper's Fig. 2:
# the x-axis is $k - k^*$, the green band is the match region, and the square marks the minimum.

# %%
k_star, tau = user.key, verify.DEFAULT_TAU
print(
    f"inferred k_hat = {result.best:g}, the user's secret k* = {k_star:g}, match: "
    f"{verify.match(result.best, k_star, tau)}"
)
print(f"loss gap between the best wrong slot and k*: {result.gap(k_star, tau):.3f}")
plots.plot_signature_losses(result, k_star, tau=tau, label="watermarked user")

# %%
# Held on all 18 recorded trainings of this learner, bf16 and fp32, loss gap +0.108 to +0.428
# (docs/reproduction.md#lesson-checks); lesson 05's smaller users do miss (its Fig. 2a-c rows).
assert verify.match(result.best, k_star, tau), f"k_hat = {result.best} does not match k* = {k_star}"
assert k_star != 0

# %% [markdown]
# ## 3. The innocent case: a held-out user
#
# The held-out user watermarked their photos with the same key, but the learner never trained on
# them. A network trained on mostly clean images should like clean images best, so the search should
# land on $\hat k \approx 0$ — "no watermark here" (Sec. 5.4 reports $|\hat k - 0| = 4.3 \pm 1.4$).
#
# In the course's records it usually does, not always. Over the recorded trainings of this lesson's
# learner (six seeds in bf16, six in fp32 on each of two instruction sets) the held-out user's curve
# was lowest at 0 in 17 of 18; the miss is seed 0 in bf16, key 60, the very learner this lesson
# uses in `ci` when it trains in bf16, whose held-out user landed on 330, a neighbour of 0. Over
# all the learners the Sec. 5.4 row counts (lesson 05's fourteen-user learners as well), 26 of 30
# held-out users landed at 0: 9 of 12 in bf16 (the others at 330, 330 and 270), 17 of 18 in fp32
# ([Sec. 5.4 row](../docs/reproduction.md#sec-5-4)).
#
# What matters for a claim is sharper than "about 0": the innocent user's search must **not** land
# on their key, and their never-seen photos must not prefer the key to no rotation at all. A small
# learner's curve for photos it never saw is its generic taste in hue, and that taste need not be
# centred exactly on 0; but the loss at the key stayed above the loss at 0, and the search stayed at
# least 30° from the key, in all 18 recorded trainings of this learner: the two checks below rest
# on that record ([lesson checks](../docs/reproduction.md#lesson-checks)). A search that lands near
# 0 is no evidence of a key; a search that lands *on the claimed key* would be — lesson 09 asks how
# often that happens by chance.

# %%
held_result = verify.grid_search(model, held.clean(), held.labels)
print(f"held-out user: k_hat = {held_result.best:g} (their key was {held.key:g})")
display(
    plots.plot_loss_overlay(
        [("watermarked user (trained on)", result), ("held-out user (never seen)", held_result)],
        k_star,
        tau,
        colors=["tab:blue", "tab:gray"],
        title="Trained on vs never seen",
        size=(6, 3.5),
    )
)
at_zero = float(held_result.losses[held_result.signatures == 0])
at_key = float(held_result.losses[held_result.signatures == held.key])
print(f"held-out user's loss: {at_zero:.3f} at k = 0, {at_key:.3f} at their key {held.key:g}")
assert not verify.match(held_result.best, held.key, tau), (
    f"the innocent user matched their key {held.key:g}"
)
assert at_zero < at_key, "photos the learner never saw must not prefer the key to no rotation"

# %% [markdown]
# ### Can $\hat k$ be read at all?
#
# Eq. 6 always returns *some* slot, even for a model that has learned nothing: an untrained
# network's losses are also lowest somewhere. And one photo with a wrong class label (its loss is
# highest when it is clean, and falls under any hue rotation) can pull $\hat k$ away from 0 on its
# own. The paper reads $\hat k$ directly; on real photos `verify.verdict` adds two checks before
# $\hat k$ may be read: the model must classify enough of the photos correctly (at least twice
# chance, and more than guessing reaches with probability 1 %: `verify.min_correct`), and no single
# photo may decide $\hat k$ (it is recomputed without each photo in turn). `anw verify` prints both
# and calls a verdict that fails them
# **inconclusive**.
#
# For the innocent held-out user, expect either verdict. Their curve has no minimum the learner put
# there: it is the learner's generic taste in hue, often nearly flat, and whether its lowest slot
# survives dropping each photo in turn depends on the seed and even on the arithmetic. Over the
# recorded trainings of this learner their verdict was readable in 14 of 18: 4 of 6 in bf16, 5 of 6
# in fp32 on each of two instruction sets ([lesson checks](../docs/reproduction.md#lesson-checks)).
# This lesson's own seed was inconclusive in bf16 and readable in fp32 on our Xeon, and one CI run
# in fp32 on a 2-core AMD CPU found a single photo deciding it (docs/benchmarks.md, issue 25). An
# "inconclusive" for an innocent is a correct answer — their photos carry no evidence either way.
# What the method promises, and what the second cell below checks, is that an innocent never gets a
# *readable* verdict for their key.

# %%
from anw_helpers.models import build_model

recipe = profile.config.recipe
untrained = build_model(recipe.model, len(learner.data.train.classes), recipe.width, 1)
untrained = untrained.to(next(model.parameters()).device)
cases = (
    ("watermarked user", user, model),
    ("held-out user", held, model),
    ("watermarked user, untrained network", user, untrained),
)
verdicts = {}
for name, who, judged in cases:
    v = verdicts[name] = verify.verdict(judged, who.clean(), who.labels)
    print(
        f"{name}: k_hat = {v.k_hat:g}; correct {v.correct_clean}/{v.n_photos} clean, "
        f"{v.correct_at_k_hat} at k_hat (needed {v.needed}); "
        f"{'conclusive' if v.conclusive else 'INCONCLUSIVE: ' + ' '.join(v.reasons())}"
    )

# %%
mine, innocent = verdicts["watermarked user"], verdicts["held-out user"]
# Held on all 18 recorded trainings, in bf16 and in fp32 (docs/reproduction.md#lesson-checks):
assert mine.conclusive and verify.match(mine.k_hat, k_star, tau), "the user's verdict is unreadable"
# What an innocent must never get: a readable verdict *for* their key. It held on all 18 recorded
# trainings (their k_hat: 0 or 330; docs/reproduction.md#lesson-checks). Whether it is readable at
# all (k_hat near 0) or inconclusive (one photo tips a flat curve) varies with the seed and the
# precision (14 of 18 readable), so it is printed above, not checked.
assert not (innocent.conclusive and verify.match(innocent.k_hat, held.key, tau)), (
    "the innocent user got a readable verdict for their key"
)
# By the method's logic (verify.min_correct): a network that guesses classifies the needed count
# correctly with probability at most 1 %. This untrained network is seeded, so it is the same
# network on every machine, and it is far from the bar (printed above: in `ci` 6 of 50 correct in
# fp32 and in bf16, 11 needed): rounding cannot carry it over.
assert not verdicts["watermarked user, untrained network"].conclusive, (
    "an untrained network's k_hat must not be read"
)

# %% [markdown]
# Even a readable $\hat k \neq 0$ is a **lead, not proof**: one slot in 12 matches by luck, and a
# learner that learned a hue for a whole class (a user who photographs only her dog) prefers that
# hue for *everyone's* photos of that class (lesson 11, section f). A claim needs the calibrated
# test of lesson 09, with reference photos of the same classes
# (`anw verify --key K --reference FOLDER`).
#
# ## 4. Gradient search
#
# With the model in hand the arbitrator can also treat $k$ as a continuous parameter and follow the
# gradient of the loss (Sec. 4.2) — possible because `lct_matrix` is differentiable in $k$. The loss
# has several valleys, so we start from several points drawn at random over the whole circle
# (seeded), none within $\tau$ of the user's key — the paper's own notebook started *at* it, which
# proves nothing — and keep the end point with the lowest loss. A start that only drifts towards
# $k^*$ would still be "a match" by the slot rule, so we ask for more: does the search *converge* to
# $k^*$, ending within `CONVERGED` degrees of it, well inside the slot?

# ### Exercise 4.2 — one gradient descent on the signature
# Make $k$ a tensor that requires a gradient, and descend the mean cross-entropy of the user's
# photos watermarked with $g_k$ (`color.lct_matrix(k)` is differentiable in $k$; apply it to every
# pixel with `color.apply_color_matrix(images, g, clip=True)`), with `torch.optim.Adam([k], lr=lr)`
# for `steps` steps. The model stays fixed (eval mode); only $k$ moves. Return the final $k$ in
# $[0, 360)$.


# %% tags=["solution"]
def my_descend_signature(
    model: torch.nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    k0: float,
    steps: int = 40,
    lr: float = 6.0,
) -> float:
    """Adam on k alone from k0: the loss of eq. 6 as a function of a continuous signature (Sec.
    4.2)."""
    # BEGIN SOLUTION
    # STUB: from anw_helpers.color import apply_color_matrix, lct_matrix
    # STUB:
    # STUB: device = next(model.parameters()).device
    # STUB: images, labels = images.to(device), labels.to(device)
    # STUB: model.eval()
    # STUB: k = ...  # a tensor holding k0 that requires a gradient
    # STUB: opt = torch.optim.Adam([k], lr=lr)
    # STUB: for _ in range(steps):
    # STUB:     ...  # zero the gradient, loss of the photos marked with g_k, backward, step
    # STUB: return float(k.detach()) % 360.0
    from anw_helpers.color import apply_color_matrix, lct_matrix

    device = next(model.parameters()).device
    images, labels = images.to(device), labels.to(device)
    model.eval()
    k = torch.tensor(float(k0), device=device, requires_grad=True)
    opt = torch.optim.Adam([k], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        marked = apply_color_matrix(images, lct_matrix(k), clip=True)
        F.cross_entropy(model(marked).float(), labels).backward()
        opt.step()
    model.zero_grad(set_to_none=True)  # gradients reached the weights too: drop them
    return float(k.detach()) % 360.0
    # END SOLUTION


# %%
k0 = 150.0
mine = my_descend_signature(model, user.clean(), user.labels, k0)
theirs = float(
    verify.gradient_search(model, user.clean(), user.labels, inits=[k0], steps=40).final_signatures[
        0
    ]
)
assert float(verify.circular_distance(mine, theirs)) < 0.5, (
    f"you ended at {mine:.1f}, the helper at {theirs:.1f}"
)
print(
    f"Correct! From {k0:g} your descent ends at {mine:.1f}, as verify.gradient_search does "
    f"({theirs:.1f})."
)

# %% [markdown]
# From here on we use the course's version, `verify.gradient_search`, which runs several starts in
# one batch and keeps the lowest end point.

# %%
CONVERGED = 7.5  # degrees: half a slot, well below tau = 15
draws = (torch.rand(256, generator=torch.Generator().manual_seed(4)) * 360.0).tolist()
starts = [round(a, 1) for a in draws if float(verify.circular_distance(a, k_star)) > tau][:8]
start = time.perf_counter()
grad = verify.gradient_search(model, user.clean(), user.labels, inits=starts, steps=40)
seconds = time.perf_counter() - start
print(
    f"starts {grad.inits.tolist()} -> ends {[round(k, 1) for k in grad.final_signatures.tolist()]}"
)
print(f"gradient search: k_hat = {grad.best:.1f} (k* = {k_star:g}); it took {seconds:.1f} s")
display(plots.plot_gradient_search(grad, k_star, tau=tau))
assert all(float(verify.circular_distance(a, k_star)) > tau for a in grad.inits.tolist())
distance = float(verify.circular_distance(grad.best, k_star))
print(
    f"this run: the best end lies {distance:.1f} degrees from k* = {k_star:g}: "
    + ("converged" if distance < CONVERGED else f"NOT within {CONVERGED:g} degrees")
    + " (printed, not checked: read on)"
)

# %% [markdown]
# Did your search converge? We print it rather than check it, because it does not always: over the
# recorded trainings of this learner (the gradient-search row of the
# [lesson checks](../docs/reproduction.md#lesson-checks)), these eight starts ended within
# `CONVERGED` of $k^*$ for 15 of 18 learners, a little outside it (8°) for one, and for key 210,
# trained in bf16 and in fp32 on AVX-512, the best of the eight ends lay in another valley, 141°
# and 148° away (in fp32 on AVX2 the same seed converged). Eight starts drawn at random can all
# miss a narrow valley: the grid search of eq. 6 looks at every slot and cannot miss it that way,
# which is why the arbitrator's verdict comes from the grid; gradient search refines a minimum the
# grid found.

# %% [markdown]
# ## Summary
# - Eq. 6 is a one-line search: watermark the clean photos with each candidate key, keep the key
#   with the lowest loss. The arbitrator never needs the user's key to run it.
# - A learner that trained on the photos shows a clear minimum at $k^*$ (18 of 18 recorded
#   trainings of this learner); photos it never saw show none there. Their curve is usually lowest
#   at 0, not always: 17 of 18 for this learner, 26 of 30 over all the learners of the
#   [Sec. 5.4 row](../docs/reproduction.md#sec-5-4), 9 of 12 of them in bf16.
# - $\hat k$ can be read only when the model recognises the photos and no single photo decides it
#   (`verify.verdict`); even then a match is a lead, and a claim needs lesson 09's calibrated test.
# - Gradient search from starts away from the key usually reaches it and refines it beyond the 30°
#   grid (within 7.5° for 15 of 18 recorded learners), but a handful of random starts can all miss
#   its valley (2 of 18 ended 141° and 148° away): the verdict comes from the grid.
# - The misses on record ([lesson checks](../docs/reproduction.md#lesson-checks)): the held-out
#   user at 330 for this lesson's own learner in bf16; their verdict inconclusive for 4 of 18
#   learners; gradient search outside 7.5° for 3 of 18. No recorded training matched the held-out
#   user to their key or gave the watermarked user an unreadable or wrong verdict.
#
# ## Check your understanding
# 1. With $N = 12$ slots, what is the chance that a learner that never saw the photos lands in the
#    user's slot by luck? Why is that not enough to accuse a company (lesson 09 returns to this)?
# 2. Why does the arbitrator watermark the clean photos instead of asking the user for the
#    watermarked ones?
# 3. Why can gradient search get stuck, and how do several starts help?
#
# <details><summary>Answers</summary>
#
# 1. About 1 in 11 for a random non-zero slot (1 in 12 counting 0): a single match is weak evidence;
#    a calibrated test over many images is stronger (lesson 09).
# 2. Searching over all keys with the clean photos never uses the secret, so finding $k^*$ is
#    evidence; testing only the user's own key would be circular.
# 3. The loss as a function of $k$ has several local minima (it is periodic and bumpy); a start in
#    the wrong valley descends to the wrong minimum. Several starts cover the circle and the lowest
#    end point wins.
# </details>

# %% [markdown]
# ## References
#
# - Zou, Gong & Wang. *Anti-Neuron Watermarking: Protecting Personal Data Against Unauthorized
#   Neural Networks.* ECCV 2022 — the paper this course follows (equations, sections and figures
#   cited as in it).
# - Kingma & Ba, *Adam: A Method for Stochastic Optimization*, ICLR 2015 — the optimiser of the
#   gradient search.
# - Sec. 5.4's held-out users, measured: [reproduction table](../docs/reproduction.md#sec-5-4);
#   this lesson's checks over the recorded seeds:
#   [lesson checks](../docs/reproduction.md#lesson-checks).
