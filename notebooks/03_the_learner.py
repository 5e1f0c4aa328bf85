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
# # Lesson 03 — The learner: a network that memorises your watermark
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/anw-course/anti-neuron-watermarking/blob/main/notebooks/03_the_learner.ipynb)
#
# **You will learn to**
# - describe the paper's threat model (Sec. 3, Fig. 1): a *user* watermarks their photos, an
#   unauthorised *learner* trains on a data set that contains them, an *arbitrator* checks the
#   model;
# - build the learner's training set with the user's watermarked images in place of the originals;
# - write the training loop every learner runs, and watch a small network memorise what it cannot
#   generalise from;
# - explain why the watermark can only be recovered from a network that **memorises** its
#   training images (Sec. 4.2, 5.6), and read that off a training curve;
# - choose a compute profile and train (or load) the learner.
#
# **Time:** about 20 minutes of reading and exercises, besides its training (a second run loads the
# model from the cache in under a second).
# **Machine time** (`ci` profile on 2 CPU cores, `colab` on a GPU; written by `python -m
# tools.docs_numbers`): opened alone, about 2 min on 2 CPU cores (measured in fp32 with AVX2 kernels
# on 2 vCPUs of an Intel Xeon with AMX: 1:54); about 0.2 min of training on a T4 (projected from
# FLOPs, not measured).
# **Before this:** lessons 01-02 (the LCT watermark g_k).

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
import torch
from IPython.display import Markdown, display

from anw_helpers import data, plots, verify
from anw_helpers.color import watermark
from anw_helpers.profiles import get_profile, profile_table
from anw_helpers.train import learner_data, train_learner

# %% [markdown]
# ## 1. Who does what
#
# - **user** — has a few personal photos $\mathcal{D}_u$ and a secret signature $k^*$; shares
#   $\mathcal{D}_u^* = \{g_{k^*}(I)\}$, the photos with their hue rotated by $k^*$ degrees (eq. 5).
# - **learner** — has a large training set $\mathcal{D}$ that (without asking) contains
#   $\mathcal{D}_u^*$; trains a classifier $f$ on $\mathcal{D}$ as usual.
# - **arbitrator** — has $f$, the user's *clean* photos and labels — **not** $k^*$; infers $\hat k$
#   from $f$ alone (lesson 04).
#
# The user's photos are a tiny share of $\mathcal{D}$ (1 % in the paper's CIFAR experiments, Sec.
# 5.1). Why would a network remember anything about 1 % of its data? Because modern networks fit
# their training set almost perfectly: they reach near-zero loss on every training image, including
# the unusual ones. Feldman (2020) showed they must *memorise* atypical examples to do so, and a
# hue-rotated photo is atypical. After training, the network's loss on the user's images is lowest
# when they carry the same hue rotation it saw: that is the fingerprint the arbitrator looks for.
#
# **No memorisation, no signal.** A learner that does not fit its training set (too little capacity,
# too few epochs, too much data for its size) leaves no trace of $k^*$. This is why even our
# smallest compute profile trains until the training set is fitted.

# %% [markdown]
# ## 2. Compute profiles
#
# The same lesson runs on a 2-core CI machine, a laptop, a Colab GPU and at the paper's own scale.
# The profile is chosen from `ANW_PROFILE`, or automatically from the hardware. Its learner's
# `config` has two parts: `config.data`, what the learner trains on (how many CIFAR-10 images, the
# users, their keys, the held-out user, the test set), and `config.recipe`, how it trains (the
# network, the optimiser and its schedule, augmentation, and the seed, which also draws the
# photos). Instructors can change any setting by name with `profile.config.with_(...)`, e.g.
# `with_(keys=(210.0,), epochs=30)`.
#
# The smallest profile, `ci`, is a compromise we measured (`docs/benchmarks.md`): the whole course
# must train in about half an hour on the slowest 2-core CPU it meets, and this lesson in a few
# minutes. Spent on 5,000 images with a 1 % user (30 epochs), the key was recovered but with a
# hair-thin margin (in an early development run, not recorded); spent on 2,500 images with a
# 50-image user (2 %) for 40 epochs, the learner memorises its data far more thoroughly. A small
# ResNet of width 16 (0.143 GFLOP per image against width 24's 0.321) recovered the key for six of
# six (seed, key) pairs in the tuning run in fp32, with every held-out user at $\hat k = 0$; width
# 12 put the held-out user on 330 twice in six. Over the seed grids recorded since, this learner
# recovered the key in 18 of 18 trainings (six seeds in bf16, six in fp32 on each of two
# instruction sets) and put the held-out user at 0 in 17 of 18: in bf16, seed 0 put it on 330
# ([lesson checks](../docs/reproduction.md#lesson-checks)). The larger profiles use the paper's
# 1 %.
#
# Training runs in the precision your machine does natively — bf16 on CPUs with bf16 instructions
# and on recent GPUs, fp16 on older GPUs, fp32 elsewhere — and the training bar names it. Everything
# the helpers compute happens on the same device as the model (a GPU when there is one); when you
# write your own code in these lessons, move your tensors there too: `images.to(device)`.

# %%
profile = get_profile()
display(Markdown(profile_table(active=profile.name)))
config = profile.config
print(f"Active profile: {profile.name!r} - {profile.purpose}.")
print(f"data:   {config.data}")
print(f"recipe: {config.recipe}")

# %% [markdown]
# ## 3. The learner's training set
#
# `learner_data` draws the learner's training set from CIFAR-10, picks the user's images from it
# (any classes, seeded), and replaces them by their watermarked versions, saved as 8-bit images as a
# user would share them. It also draws a **held-out user** from the test split: the same kind of
# photos, watermarked with the same key, that the learner never sees — the innocent control.
#
# ### Exercise 3.1 — put the user's photos into the training set
# Write `insert_user_images`: given the training images (uint8, N×3×32×32), the positions of the
# user's images, and the user's clean images, return a *new* tensor in which those positions hold
# the user's images watermarked with key `k` (use `watermark` from lesson 01, then round back to
# uint8). The original tensor must not change.


# %% tags=["solution"]
def insert_user_images(
    train_images: torch.Tensor, positions: torch.Tensor, user_images: torch.Tensor, k: float
) -> torch.Tensor:
    """Return a copy of `train_images` with the user's images, watermarked with k, at
    `positions`."""
    # BEGIN SOLUTION
    out = train_images.clone()
    marked = watermark(user_images.float() / 255, k)
    out[positions] = (marked * 255).round().clamp(0, 255).to(torch.uint8)
    return out
    # END SOLUTION


# %%
learner_set = learner_data(config)
user = learner_set.users[0]
clean_train = learner_set.train.images.clone()
clean_train[user.indices] = user.images  # undo the helper's watermark to start from the clean set
mine = insert_user_images(clean_train, user.indices, user.images, user.key)
assert torch.equal(mine, learner_set.train.images), "your training set differs from the helper's"
assert torch.equal(clean_train[user.indices], user.images), (
    "the original tensor must stay unchanged"
)
print("Correct! The learner's training set holds the user's watermarked photos.")
share = len(user) / len(learner_set.train)
print(
    f"{len(user)} of {len(learner_set.train):,} training images ({share:.1%}) are the user's, key "
    f"k* = {user.key:g} degrees."
)

# %%
plots.show_images(
    torch.cat([user.clean()[:8], data.to_float(learner_set.train.images[user.indices[:8]])]),
    ncols=8,
    size=1.3,
    suptitle="The user's photos: clean (top) and as the learner gets them, hue rotated by k* "
    "(bottom)",
)

# %% [markdown]
# ### Exercise 3.2 — the training loop, and memorisation in miniature
# Every learner runs the same loop. Write it: for each epoch, visit the images in a fresh random
# order in batches; for each batch, zero the gradients, compute the cross-entropy of the model's
# outputs (`F.cross_entropy`), back-propagate and take an optimiser step. Return the mean loss of
# each epoch. The check trains a small network on 128 of the learner's images: it should *fit* them
# (at least 80 % right) while doing far worse on photos it never saw — memorisation, the regime the
# method needs. (`train_learner` below runs the same loop, faster: data on the device, whole batches
# augmented at once, mixed precision where the machine has it.)

# %% tags=["solution"]
import torch.nn.functional as F


def my_train(
    model: torch.nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    epochs: int,
    batch_size: int = 32,
    lr: float = 0.02,
) -> list:
    """Train `model` with SGD (momentum 0.9) on float images in [0, 1]; the mean loss of each
    epoch."""
    # BEGIN SOLUTION
    # STUB: opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    # STUB: epoch_losses = []
    # STUB: for _ in range(epochs):
    # STUB:     model.train()
    # STUB:     order = ...  # a fresh random order of the images
    # STUB:     total = 0.0
    # STUB:     for start in range(0, len(images), batch_size):
    # STUB:         batch = order[start : start + batch_size]
    # STUB:         ...  # zero the gradients, loss of this batch, backward, optimiser step
    # STUB:         total += ...  # this batch's summed loss
    # STUB:     epoch_losses.append(total / len(images))
    # STUB: return epoch_losses
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    epoch_losses = []
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(images))
        total = 0.0
        for start in range(0, len(images), batch_size):
            batch = order[start : start + batch_size]
            opt.zero_grad()
            loss = F.cross_entropy(model(images[batch]), labels[batch])
            loss.backward()
            opt.step()
            total += loss.item() * len(batch)
        epoch_losses.append(total / len(images))
    return epoch_losses
    # END SOLUTION


# %%
from anw_helpers.models import build_model
from anw_helpers.train import accuracy

torch.manual_seed(0)
small = build_model("small_resnet", num_classes=10, width=8, seed=0)  # on the CPU: seconds
few = torch.randperm(len(learner_set.train), generator=torch.Generator().manual_seed(0))[:128]
few_images, few_labels = learner_set.train.images[few], learner_set.train.labels[few]
epoch_losses = my_train(small, data.to_float(few_images), few_labels, epochs=40, lr=0.02)
fitted = accuracy(small, few_images, few_labels)
unseen = accuracy(small, learner_set.test.images[:1000], learner_set.test.labels[:1000])
print(f"loss per epoch: {', '.join(f'{x:.2f}' for x in epoch_losses)}")
print(f"right on its 128 training images: {fitted:.0%}; on 1,000 photos it never saw: {unseen:.0%}")
# Bars far from what a working loop gives (docs/benchmarks.md: fp32 on AVX2 kernels, loss 3.87 to
# 0.08, 100 % fitted, 33 % unseen; fp32 on AVX-512, 100 % and 29 %): 128 photos are too few for
# any network to reach 60 % on photos it never saw, and too few to resist being memorised.
assert epoch_losses[-1] < epoch_losses[0] / 3, (
    "the loss should fall: check the order of zero_grad/backward/step"
)
assert fitted >= 0.8, f"the network fitted only {fitted:.0%} of its training images"
assert unseen < fitted - 0.4, "a network trained on 128 photos should not generalise this well"
print("Correct! Your loop trains, and the network memorises what it cannot generalise from.")

# %% [markdown]
# ## 4. Train (or load) the learner
#
# `train_learner` trains with the paper's recipe scaled to the profile (Sec. 5.1, `config.recipe`):
# SGD with momentum 0.9 and weight decay 5e-4, learning rate 0.1 (one-cycle here, or ×0.1 every 30
# epochs at paper scale), random crop with padding 4 and horizontal flips. Where the course departs:
# the momentum and weight decay come from the authors' `main.py` (the paper's text does not give
# them), SGD uses Nesterov momentum (neither the paper nor the authors' code does), and lesson 06's
# cutout fills with 0 rather than the authors' 0.5. Under the hood it keeps the data on the device
# and augments whole batches at once, which makes it several times faster than the usual
# `DataLoader` pipeline (see `docs/benchmarks.md`).
#
# The model is cached under a key made of *every* setting and of the training data itself: run this
# cell again, or open lesson 04, and the same model loads in under a second. Change any setting and
# it trains anew.

# %%
learner = train_learner(config)
record = learner.record
print(
    ("Loaded from cache: " if learner.from_cache else "Trained and cached: ")
    + str(learner.cache_path.name)
)
print(f"device {record.device}, {record.images_per_second:.0f} training images/s")
print(
    f"training accuracy {record.train_accuracy:.3f} | user's images {record.user_accuracy:.3f} | "
    f"test accuracy {record.test_accuracy:.3f}"
)

# %%
plots.plot_training_record(record)

# %% [markdown]
# The training accuracy (measured on the un-augmented training set after training) is far above the
# test accuracy: the gap is memorisation. Ten classes make chance 10 %; we ask the learner for a
# useful classifier (test accuracy at least 30 points above chance) that has fitted its training set
# (training accuracy at least 90 %), the regime in which the paper's method works.

# %%
chance = 1 / len(learner_set.train.classes)
# Both bars held on every recorded training of this learner, in bf16 and in fp32, with room to
# spare (docs/reproduction.md#lesson-checks): a failure here means a broken install, not bad luck.
assert record.test_accuracy > chance + 0.30, (
    f"test accuracy {record.test_accuracy:.3f} is too close to chance {chance:.2f}"
)
assert record.train_accuracy > 0.90, (
    f"training accuracy {record.train_accuracy:.3f}: the learner has not fitted its data"
)
print(
    f"Memorisation gap (train - test accuracy): {record.train_accuracy - record.test_accuracy:.3f}"
)

# %% [markdown]
# ## 5. A first look at the fingerprint
#
# Compare the learner's loss on the user's photos *as it saw them* (watermarked with $k^*$) with its
# loss on the *clean* photos, and on the held-out user's photos, which it never saw. The arbitrator
# cannot compute the first column (it does not know $k^*$) — lesson 04 shows how to find $k^*$
# anyway.

# %%
held = learner_set.held_out
rows = {
    "user's photos, watermarked with k* (seen in training)": verify.signature_losses(
        learner.model, user.clean(), user.labels, [user.key]
    ),
    "user's photos, clean": verify.signature_losses(
        learner.model, user.clean(), user.labels, [0.0]
    ),
    "held-out photos, watermarked with k* (never seen)": verify.signature_losses(
        learner.model, held.clean(), held.labels, [held.key]
    ),
    "held-out photos, clean": verify.signature_losses(
        learner.model, held.clean(), held.labels, [0.0]
    ),
}
for name, loss in rows.items():
    print(f"{float(loss):7.3f}  mean cross-entropy on {name}")
# Both orderings held on every recorded training of this learner, in bf16 and in fp32, on AVX2
# and AVX-512 CPUs (docs/reproduction.md#lesson-checks, with the smallest margins seen).
assert float(rows["user's photos, watermarked with k* (seen in training)"]) < float(
    rows["user's photos, clean"]
)
assert float(rows["held-out photos, clean"]) < float(
    rows["held-out photos, watermarked with k* (never seen)"]
)

# %% [markdown]
# On the user's photos the watermarked version has the *lower* loss — the learner has adapted to the
# hue it saw. On photos it never saw, the clean version wins, as it should for a network trained on
# mostly clean images. This asymmetry is what the arbitrator exploits.
#
# ## Summary
# - The user shares photos watermarked with a secret hue rotation $k^*$; the learner trains on them
#   among many others (2 % in the `ci` profile, 1 % in the larger ones, as in the paper).
# - The method relies on memorisation: the learner fits its training set, user's photos included.
# - Compute profiles scale the experiment from 2 CPU cores to the paper's setting; the model cache
#   makes every later lesson start in seconds.
#
# ## Check your understanding
# 1. Why would a learner that reaches only 60 % training accuracy be useless to the arbitrator?
# 2. The held-out user used the same key $k^*$. Why is that the right control?
# 3. Which settings must be part of the model-cache key, and why is the training data itself hashed?
#
# <details><summary>Answers</summary>
#
# 1. Without fitting the training set the network has not memorised the user's photos, so its loss
#    on them does not depend on the watermark more than on any other hue: there is no signal (lesson
#    05 measures it: over three seeds the narrowest network, width 4, fitted 70-76 % of its
#    training set, recovered the key in 2 of 3 and had a mean loss gap of −0.056, below 0;
#    [Fig. 2h row](../docs/reproduction.md#fig-2h)).
# 2. It isolates the effect of *training on* the photos: same kind of images, same key, only the
#    membership differs. Any $\hat k \approx k^*$ for the held-out user would be a false accusation.
# 3. Everything that changes the weights: data size, users and keys, model and width, epochs, batch,
#    optimiser, schedule, augmentation, seed. Hashing the pixels catches changes no setting names
#    (a different copy of CIFAR-10, a changed watermark function).
# </details>

# %% [markdown]
# ## References
#
# - Zou, Gong & Wang. *Anti-Neuron Watermarking: Protecting Personal Data Against Unauthorized
#   Neural Networks.* ECCV 2022 — the paper this course follows (equations, sections and figures
#   cited as in it).
# - Krizhevsky, *Learning Multiple Layers of Features from Tiny Images*, 2009 — CIFAR-10 (the
#   paper's [3]).
# - He et al., *Deep Residual Learning for Image Recognition*, CVPR 2016 — ResNets (the paper's
#   [14]).
# - Feldman & Zhang, *What Neural Networks Memorize and Why*, NeurIPS 2020 — memorisation (the
#   paper's [9]).
# - Fig. 2d–f against the course's runs: [reproduction table](../docs/reproduction.md#fig-2d-f);
#   this lesson's checks over the recorded seeds:
#   [lesson checks](../docs/reproduction.md#lesson-checks).
