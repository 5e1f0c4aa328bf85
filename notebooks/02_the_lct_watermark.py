# ---
# jupyter:
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
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Lesson 02 — The LCT watermark and its properties
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/anw-course/anti-neuron-watermarking/blob/main/notebooks/02_the_lct_watermark.ipynb)
#
# In lesson 01 you built the watermark g_k = T⁻¹·R(θ_k)·T. The paper (Sec. 4.1) asks three things of
# a watermark before it can protect your photos, and Sec. 5.3 tests them:
#
# 1. it **preserves the content** of a photo (a selfie still shows the same person);
# 2. it **survives the learner's augmentations** (random crops, flips, colour jitter…);
# 3. its **signature space is large and bounded**, so an innocent model rarely matches your key by
#    chance, and an arbitrator can search the space.
#
# Here you measure each one, then look at two variants: the "less noticeable" blue-channel watermark
# of Fig. 4 and user-specific colour spaces (Sec. 5.4).
#
# **You will learn to**
# - measure content preservation with PSNR, the luma change and the share of clipped pixels, and
#   explain why PSNR alone misjudges a hue rotation;
# - prove, and check numerically, that crops, flips and resizing commute with a per-pixel colour
#   map, so the network trains on the watermarked version of every augmented view;
# - tell the LCT apart from torchvision's `ColorJitter` hue (an HSV map) and predict what colour
#   jitter does to a signature;
# - relate the number of slots N and the width 2τ to what a signature match can prove;
# - compare the hue watermark with the blue-channel watermark and with random user colour spaces.
#
# **Time:** about 75 minutes (three short exercises).
# **Machine time** (`ci` profile on 2 CPU cores, `colab` on a GPU; written by `python -m
# tools.docs_numbers`): opened alone, under a minute on 2 CPU cores (measured in fp32 with AVX2
# kernels on 2 vCPUs of an Intel Xeon with AMX: 0:07); it trains nothing.
# **Before this:** lesson 01 (YIQ, luma and chroma, g_k). Basic probability (a uniform
# distribution).

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
import torchvision.transforms.v2 as T2
import torchvision.transforms.v2.functional as TF

from anw_helpers import augment, color, plots, verify, widgets
from anw_helpers.datasets import load_cifar10, to_float

torch.set_printoptions(precision=4, sci_mode=False)
portrait = plots.sample_portrait()  # our stand-in selfie, (3, 240, 205)
cifar = load_cifar10("test")
photos = cifar.subset(torch.randperm(len(cifar), generator=torch.Generator().manual_seed(0))[:1000])
images = to_float(photos.images)  # 1 000 random CIFAR-10 photos in [0, 1]
names = [photos.classes[y] for y in photos.labels]
K = 60.0  # the paper's default signature (Sec. 5.1)
marked = color.watermark(images, K)  # what the user shares
print(f"{len(images)} photos, watermarked with k = {K:g}°")


# %% [markdown]
# ## 1. Property one: the content is preserved
#
# ### PSNR
#
# The usual number for "how much did an image change" is the **peak signal-to-noise ratio**,
# PSNR = 10·log₁₀(1 / MSE) in decibels, where MSE is the mean squared difference of all pixel values
# (in [0, 1]; the 1 is the largest possible value, the "peak"). Higher is closer; identical images
# give +∞. Each 10 dB means a ten times smaller mean squared error.
#
# ### Exercise 1 — PSNR


# %% tags=["solution"]
def my_psnr(reference: torch.Tensor, test: torch.Tensor) -> torch.Tensor:
    """PSNR in dB between two batches of images in [0, 1], one value per image.

    Images have shape (..., 3, H, W). PSNR = 10 * log10(1 / MSE), where MSE is the mean of
    (reference - test)**2 over each image's channels, rows and columns (the last three dimensions).
    """
    # BEGIN SOLUTION
    mse = (reference - test).pow(2).mean(dim=(-3, -2, -1))
    return 10 * torch.log10(1.0 / mse)
    # END SOLUTION


# %%
torch.testing.assert_close(my_psnr(images, marked), color.psnr(images, marked))
torch.testing.assert_close(
    my_psnr(portrait, color.watermark(portrait, K)),
    color.psnr(portrait, color.watermark(portrait, K)),
)
print("Correct!")

# %% [markdown]
# To calibrate your intuition, compare the watermark with mild Gaussian noise (standard deviation
# 0.03, barely visible):

# %%
noisy = (
    images + 0.03 * torch.randn(images.shape, generator=torch.Generator().manual_seed(0))
).clamp(0, 1)
psnr_noise = color.psnr(images, noisy)
psnr_mark = color.psnr(images, marked)
print(f"Gaussian noise, std 0.03: PSNR mean {psnr_noise.mean():.1f} dB")
print(
    f"watermark, k = {K:g}°:      PSNR mean {psnr_mark.mean():.1f} dB, median "
    f"{psnr_mark.median():.1f} dB, worst photo {psnr_mark.min():.1f} dB"
)
assert psnr_mark.mean() < psnr_noise.mean()

# %% [markdown]
# By PSNR the watermark is a *large* change — larger than the noise. Every pixel with some colour
# moves. Yet we claimed it preserves content. Both are true, and the next measurement shows why.
#
# ### Luma
#
# Lesson 01 proved that g_k keeps every pixel's luma, where content lives. After clipping that holds
# for every pixel that was not clipped. Measure the luma change and a *luma-only* PSNR:

# %%
raw = color.apply_color_matrix(images, color.lct_matrix(K))  # g_k v before clipping
was_clipped = ((raw < 0) | (raw > 1)).any(dim=1)  # (N, H, W)
dY = (color.luma(marked) - color.luma(images)).abs()
psnr_luma = 10 * torch.log10(1 / dY.pow(2).mean(dim=(-2, -1)).clamp_min(1e-20))
print(f"luma change on unclipped pixels: max {dY[~was_clipped].max():.1e}")
print(
    f"luma change on clipped pixels:   mean {dY[was_clipped].mean():.3f} "
    f"({was_clipped.float().mean():.1%} of all pixels)"
)
print(
    f"PSNR of luma alone: median {psnr_luma.median():.1f} dB (colour PSNR median "
    f"{psnr_mark.median():.1f} dB)"
)
assert dY[~was_clipped].max() < 1e-6

# photos with no chroma at all
grey = color.rgb_to_yiq(images)[:, 1:].abs().amax(dim=(1, 2, 3)) < 1e-6
print(
    f"{int(grey.sum())} photos are black and white; the watermark changes them by at most "
    f"{(marked[grey] - images[grey]).abs().max():.0e}"
)
assert (marked[grey] - images[grey]).abs().max() < 1e-6

# %% [markdown]
# **Read this carefully.** PSNR treats a change of hue like any other error, so it calls the
# watermark a big change. But the *structure* of the photo — the luma — is untouched except at the
# few clipped pixels. A hue-rotated selfie still shows the same face, just in other colours. That is
# the sense in which the paper says the LCT "preserves an image's original content"; it does **not**
# claim the watermark is invisible (it is not, as you saw in lesson 01). Section 4 looks at a less
# visible variant.
#
# The flip side of "greys are fixed" (lesson 01): a **black-and-white photo carries no signature at
# all**. It has no chroma to turn, so g_k leaves it unchanged. A user whose photos are mostly grey
# gains little from the LCT.
#
# Here is what the numbers mean on real photos: four CIFAR-10 photos and the portrait at three
# signatures, with the PSNR of each column measured on all 1 000 photos.

# %%
show = [3, 5, 8, 11]
signatures_shown = [60.0, 180.0, 300.0]
rows = [[images[i]] + [color.watermark(images[i], k) for k in signatures_shown] for i in show]
rows.append([portrait] + [color.watermark(portrait, k) for k in signatures_shown])
col_titles = ["clean"] + [
    f"k = {k:g}°: {color.psnr(images, color.watermark(images, k)).mean():.1f} dB"
    for k in signatures_shown
]
plots.show_grid(rows, col_titles=col_titles, row_titles=[names[i] for i in show] + ["portrait"])

# %% [markdown]
# And for every signature of the paper: the mean PSNR and the share of clipped pixels (lesson 01).

# %%
slots = color.SIGNATURE_SLOTS[1:]  # 30, 60, ..., 330; slot 0 is "no watermark"
psnr_per_k = [color.psnr(images, color.watermark(images, k)).mean() for k in slots]
clip_per_k = [color.clipped_fraction(images, k).mean() for k in slots]
print("mean PSNR (dB):  ", " ".join(f"{p:5.1f}" for p in psnr_per_k))
print("clipped pixels:  ", " ".join(f"{c:5.1%}" for c in clip_per_k))
assert sorted(psnr_per_k)[-2:] == sorted([psnr_per_k[0], psnr_per_k[-1]])
plots.plot_per_signature(
    slots, {"mean PSNR": psnr_per_k}, ylabel="PSNR (dB)", title="Colour PSNR per signature"
)


# %% [markdown]
# Small rotations (30°, 330°) change the colours least: they have the two highest PSNRs (asserted
# above). Every signature keeps luma, and the paper finds that every slot works for verification
# (Fig. 2 d–f; the course's `ci` learners in bf16 recovered 71 of 72 users over all eleven keys,
# the [Fig. 2d–f row](../docs/reproduction.md#fig-2d-f)), so the choice of k is a trade between how
# visible the change is and how many pixels clip.

# %% [markdown]
# ## 2. Property two: the watermark survives the learner's augmentations
#
# The learner does not train on your photo as shared: every epoch it sees a random **crop** (pad by
# 4 pixels, cut a 32×32 window) and a random horizontal **flip** (Sec. 5.1). Does the hue signature
# reach the network?
#
# **The argument.** Crop and flip only *move* pixels: output pixel p gets the value of input pixel
# π(p), or 0 in the padding. The watermark φ(v) = clip(g_k·v) changes each pixel's *value*, by the
# same rule everywhere. So
#
# $$\text{crop}(\varphi(x))[p] = \varphi(x)[\pi(p)]
# = \varphi(x[\pi(p)]) = \varphi(\text{crop}(x))[p],$$
#
# and in the padding φ(0) = clip(g_k·0) = 0. Augmenting the watermarked photo gives exactly the
# watermark of the augmented photo: whatever view the learner draws, it is a watermarked view.
#
# **The measurement**, with the course's own augmentation (`augment.crop_flip`, the one lesson 03
# trains with) and the same random draws on both sides:


# %%
def same_draws() -> torch.Generator:
    """A fresh generator with a fixed seed, so both orders use the same crops and flips."""
    return torch.Generator().manual_seed(1234)


augment_then_mark = color.watermark(augment.crop_flip(images, same_draws()), K)
mark_then_augment = augment.crop_flip(color.watermark(images, K), same_draws())
gap = (augment_then_mark - mark_then_augment).abs().max().item()
print(f"crop + flip vs watermark, 1 000 photos: largest difference {gap:.1e}")
assert gap < 1e-6

# %%
i = 5
view = augment.crop_flip(images[i : i + 1], same_draws())[0]
plots.show_images(
    [
        images[i],
        view,
        color.watermark(view, K),
        augment.crop_flip(marked[i : i + 1], same_draws())[0],
        (color.watermark(view, K) - augment.crop_flip(marked[i : i + 1], same_draws())[0])
        .abs()
        .amax(0),
    ],
    titles=[
        "photo",
        "crop + flip",
        "then watermark",
        "watermark, then crop + flip",
        "|difference|",
    ],
    size=2.2,
)

# %% [markdown]
# Augmentations that **interpolate** — resizing, small rotations, blur (common on ImageNet) —
# replace a pixel with a weighted average of its neighbours, weights summing to 1. A *linear* map
# commutes with any such average: g·(Σ wᵢ vᵢ) = Σ wᵢ (g·vᵢ). Only the clipping is not linear, so the
# two orders differ a little where pixels were clipped:

# %%
g = color.lct_matrix(K)


def resize(x):
    return TF.resize(x, [24, 24], antialias=True)


raw_gap = (
    resize(color.apply_color_matrix(images, g)) - color.apply_color_matrix(resize(images), g)
).abs()
clip_gap = (
    resize(color.watermark(images, K)) - color.watermark(resize(images).clamp(0, 1), K)
).abs()
print(f"resize to 24x24, without clipping: largest difference {raw_gap.max():.1e}")
print(
    f"resize to 24x24, with clipping:    mean difference {clip_gap.mean():.1e}, largest "
    f"{clip_gap.max():.2f}"
)
assert raw_gap.max() < 1e-5

# %% [markdown]
# ### Contrast: ColorJitter's hue is a different map
#
# One common augmentation *does* touch colour: `ColorJitter(hue=h)`. Torchvision converts each pixel
# to
# **HSV** (hue, saturation, value), adds a random shift in [−h, h] (in turns: h = 0.1 is ±36°) to
# the HSV hue, and converts back. It sounds like our watermark, but it is a different map. Three
# measurements on a fixed shift of 0.1, with `TF.adjust_hue`, the function ColorJitter calls:

# %%
shifted = TF.adjust_hue(images, 0.1)


def best_linear_fit_error(before: torch.Tensor, after: torch.Tensor) -> float:
    """RMS error of the best 3x3 matrix M with after ≈ M @ before over all pixels (least squares,
    float64)."""
    X = before.double().movedim(1, 0).reshape(3, -1).T
    Y = after.double().movedim(1, 0).reshape(3, -1).T
    M = torch.linalg.lstsq(X, Y).solution
    return (X @ M - Y).pow(2).mean().sqrt().item()


def hue_shift(before: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
    """Per image, the rotation angle (degrees) that best turns the I-Q chroma of `before` into that
    of `after`.

    NaN for a black-and-white photo: it has no chroma, hence no hue to turn.
    """
    a = color.apply_color_matrix(before.double(), color.YIQ)[:, 1:]
    b = color.apply_color_matrix(after.double(), color.YIQ)[:, 1:]
    cross = (a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]).sum(dim=(-2, -1))
    dot = (a * b).sum(dim=(-3, -2, -1))
    turn = torch.rad2deg(torch.atan2(cross, dot))
    return torch.where(a.pow(2).sum(dim=(-3, -2, -1)) > 1e-6, turn, torch.nan)


# %%
measured = {}
for name, after in [
    ("LCT g_60 (no clipping)", color.apply_color_matrix(images, g)),
    ("ColorJitter hue +0.1", shifted),
]:
    turn = hue_shift(images, after)
    turn = turn[~turn.isnan()]
    dY = (
        (color.apply_color_matrix(after.double(), color.YIQ)[:, 0] - color.luma(images))
        .abs()
        .mean()
    )
    fit = best_linear_fit_error(images, after)
    measured[name] = (fit, dY, turn)
    print(
        f"{name:24s}: linear fit error {fit:.1e} | mean luma change {dY:.1e} | I-Q turn "
        f"{turn.mean():6.1f}° ± {turn.std():4.1f}°"
    )

lct_fit, lct_dY, lct_turn = measured["LCT g_60 (no clipping)"]
hsv_fit, hsv_dY, hsv_turn = measured["ColorJitter hue +0.1"]
assert lct_fit < 1e-6 < 1e-3 < hsv_fit and lct_dY < 1e-6 < 1e-3 < hsv_dY
assert torch.allclose(lct_turn, torch.full_like(lct_turn, K), atol=1e-3)
assert hsv_turn.mean() < -36 and hsv_turn.std() > 1

# %% [markdown]
# * The LCT **is** a 3×3 matrix (fit error at rounding level); the HSV shift is not linear: even the
#   best 3×3 matrix misses it by a clear margin.
# * The LCT keeps luma; the HSV shift changes it.
# * The LCT turns every photo's I–Q chroma by exactly k; the HSV shift turns it by an amount that
#   depends on the photo (the spread), in the opposite direction, and by more than 36°.
#
# **What jitter does to your signature.** A learner using `ColorJitter(hue=0.1)` trains on
# jitter(g_60(photo)): your rotation, plus a fresh random turn each epoch. Measure the turn the
# network actually sees, photo by photo:

# %%
jitter = T2.ColorJitter(hue=0.1)  # what a learner would add to its augmentations
torch.manual_seed(0)
threads = torch.get_num_threads()
# 1 000 tiny per-photo calls run fastest on one CPU thread
torch.set_num_threads(1)
jittered = torch.stack([jitter(photo) for photo in marked])  # a fresh random hue factor per photo
torch.set_num_threads(threads)
colourful = ~hue_shift(images, images).isnan()  # leave out black-and-white photos
seen_plain = hue_shift(images, marked)[colourful]
seen_jitter = hue_shift(images, jittered)[colourful]


def iqr(t):
    return (t.quantile(0.75) - t.quantile(0.25)).item()


print(
    f"turn seen without jitter: median {seen_plain.median():5.1f}°, interquartile range "
    f"{iqr(seen_plain):4.1f}°"
)
print(
    f"turn seen with jitter:    median {seen_jitter.median():5.1f}°, interquartile range "
    f"{iqr(seen_jitter):4.1f}°"
)
assert abs(seen_jitter.median() - K) < 10 and iqr(seen_jitter) > 3 * iqr(seen_plain)
plots.plot_histograms(
    {"watermark + ColorJitter(hue=0.1)": seen_jitter},
    xlabel="I-Q turn the learner sees (degrees)",
    marks={"k* = 60 (every photo, without jitter)": K},
)

# %% [markdown]
# Jitter **blurs** the signature — the network sees a wide band of turns around 60° — but the centre
# stays at your key, because the jitter is symmetric around zero. That matches the paper's Fig. 3:
# colour jitter is the one augmentation that visibly narrows the loss difference between signatures,
# yet the paper still infers the signature. The course's small `ci` learners, three seeds each, did
# not always: with colour jitter the key was recovered in 3 of 6 (1 of 3 with torchvision's HSV
# jitter, 2 of 3 with a jitter of the YIQ hue), against 3 of 3 for the plain learner
# ([Fig. 3 colour-jitter row](../docs/reproduction.md#fig-3-colour-jitter); lesson 06). A blurred
# signature is harder to pin to a narrow range of angles, which brings us to the signature space.

# %% [markdown]
# ## 3. Property three: a large, bounded signature space
#
# **Bounded.** A signature is an angle, and g_(k+360) = g_k: the space is a circle of 360°, so an
# arbitrator can search all of it (grid search over N slots costs N evaluations, Sec. 4.2).

# %%
assert torch.allclose(color.lct_matrix(60), color.lct_matrix(420), atol=1e-6)
assert torch.allclose(color.lct_matrix(-30), color.lct_matrix(330), atol=1e-6)
print("g_60 = g_420 and g_-30 = g_330: signatures live on a circle")

# %% [markdown]
# **Slots.** The paper divides the circle into N equal slots of width 2τ = 360°/N; the slot around 0
# means "no watermark", so there are N − 1 signatures (N = 12, τ = 15°, signatures 30, …, 330 in
# Sec. 5.1). An inferred signature k̂ **matches** the key k* when |k̂ − k*| < τ, measured around the
# circle (350° is 10° from 0°).

# %%
print("the paper's slots:", color.SIGNATURE_SLOTS)
plots.plot_signature_slots(12, key=60.0, estimate=70.0)


# %% [markdown]
# ### Exercise 2 — does an inferred signature match?


# %% tags=["solution"]
def my_is_match(k_hat: float, k_star: float, n_slots: int = 12) -> bool:
    """True when the inferred signature k_hat matches the key k_star (Sec. 4.2).

    They match when their distance around the 360-degree circle is less than tau, where the n_slots
    slots have width 2 * tau = 360 / n_slots. Angles are in degrees and may be negative or above
    360; remember that 350 is 10 degrees from 0.
    """
    # BEGIN SOLUTION
    tau = 180.0 / n_slots
    d = (k_hat - k_star) % 360.0
    return min(d, 360.0 - d) < tau
    # END SOLUTION


# %%
assert (
    my_is_match(70, 60)
    and not my_is_match(80, 60)
    and my_is_match(355, 5)
    and my_is_match(-30, 330)
)
assert not my_is_match(65, 60, n_slots=36)  # |65 - 60| = tau = 5: not less than tau
gen = torch.Generator().manual_seed(1)
for k_hat, k_star in (torch.rand(500, 2, generator=gen, dtype=torch.float64) * 720 - 180).tolist():
    assert my_is_match(k_hat, k_star) == (verify.circular_distance(k_hat, k_star) < 15.0), (
        k_hat,
        k_star,
    )
print("Correct!")

# %% [markdown]
# **What a match can prove.** Suppose a learner never saw your photos, and its inferred signature k̂
# is, as far as your key is concerned, a random angle. Then it matches your key with probability
# 2τ/360 = 1/N. A simulation with 200 000 innocent "models":

# %%
gen = torch.Generator().manual_seed(0)
for n_slots in (12, 36, 360):
    tau = 180.0 / n_slots
    k_hat = torch.rand(200_000, generator=gen, dtype=torch.float64) * 360
    chance = (verify.circular_distance(k_hat, 60.0) < tau).double().mean().item()
    print(
        f"N = {n_slots:3d} (τ = {tau:5.2f}°): chance match {chance:.4f}  vs  1/N = "
        f"{1 / n_slots:.4f}"
    )
    assert abs(chance - 1 / n_slots) < 0.005

# %% [markdown]
# So N bounds the strength of the evidence: with the paper's N = 12, even a perfect match is
# something an innocent model would produce about once in 12 tries — suggestive, not proof. Two ways
# out, both coming back in lesson 09:
#
# * **more slots**: a larger N makes a chance match rarer — but the slots get narrower (τ = 180°/N),
#   and the network must tell apart watermarks that differ by only a few degrees;
# * **more independent evidence**: several photo sets, several keys or several models multiply small
#   chances together.
#
# (Innocent models are not really uniform either: the paper's held-out users land near k = 0, "no
# watermark", Sec. 5.4; in the course's records 26 of 30 did, the
# [Sec. 5.4 row](../docs/reproduction.md#sec-5-4). Lesson 09 tests that assumption.)
#
# How different are two watermarks d degrees apart? The mean pixel difference between
# g_(60+d)(photo) and g_60(photo) grows with d — a narrow slot asks the network to notice a very
# small colour change:

# %%
offsets = [1, 2, 5, 10, 15, 30, 60, 90, 180]
gaps = [(color.watermark(images, K + d) - marked).abs().mean() for d in offsets]
for d, gp in zip(offsets, gaps):
    print(f"d = {d:3d}°: mean |g_(60+d) - g_60| = {gp:.4f}")
assert all(a < b for a, b in zip(gaps, gaps[1:]))
plots.plot_per_signature(
    offsets,
    {"mean |pixel difference|": gaps},
    ylabel="mean |difference|",
    xlabel="d, distance between two signatures (degrees)",
    title="How different are neighbouring signatures?",
)

# %% [markdown]
# Explore the slots yourself: change N, the key and the estimate, and see which estimates match.

# %%
widgets.signature_slots_explorer(n_slots=12, key=60.0, estimate=70.0)

# %% [markdown]
# ## 4. The less noticeable watermark (Sec. 5.3, Fig. 4)
#
# The paper also tries a watermark from classic image watermarking: keep the photo, but on a fixed
# set of randomly chosen pixels set the **blue channel** to an intensity s; the signature is s (0.1,
# 0.3 or 0.5, with τ = 0.1). The paper says it *adjusts* the blue channel, citing a Kutter-style
# method; the authors' code adds ±α·luma at random positions, on channel index 1. Setting the blue
# channel to s, as here, is the course's reading of the text, not the authors' code. The paper marks
# 512 random pixels, against the 4 096 pixels (64×64 images) its hue watermark changes — one pixel
# in eight. On CIFAR-10's 32×32 = 1 024 pixels we keep that share, 128 pixels; on the portrait we
# use the helper's default, 512 pixels of ~49 000.

# %%
h, w = images.shape[-2:]
# flat indices: row * w + column
positions = color.blue_pixel_positions(h, w, n=h * w // 8, seed=0)
print(
    f"CIFAR-10: {len(positions)} of {h * w} pixels marked ({len(positions) / (h * w):.1%}); first "
    f"few: {positions[:5].tolist()}"
)


# %% [markdown]
# ### Exercise 3 — the blue-channel watermark


# %% tags=["solution"]
def my_blue_channel_watermark(
    images: torch.Tensor, intensity: float, positions: torch.Tensor
) -> torch.Tensor:
    """The less noticeable watermark of Sec. 5.3: set the blue channel to ``intensity`` on
    preselected pixels.

    Return a copy of ``images`` (N, 3, H, W) whose blue channel (channel 2) equals ``intensity`` at
    the flat pixel indices ``positions`` (index = row * W + column); every other value is unchanged.
    Do not modify ``images`` itself.
    """
    # BEGIN SOLUTION
    out = images.clone()
    rows, cols = positions // images.shape[-1], positions % images.shape[-1]
    out[..., 2, rows, cols] = intensity
    return out
    # END SOLUTION


# %%
before = images.clone()
torch.testing.assert_close(
    my_blue_channel_watermark(images, 0.3, positions),
    color.blue_channel_watermark(images, 0.3, positions),
)
assert torch.equal(images, before), "the original images must stay unchanged"
print("Correct!")

# %%
intensities = [0.1, 0.3, 0.5]
blue = {s: color.blue_channel_watermark(images, s, positions) for s in intensities}
# helper default: 512 pixels
portrait_blue = {s: color.blue_channel_watermark(portrait, s) for s in intensities}

# %% [markdown]
# A gallery like Fig. 4: clean, hue-rotated by 60°, and the blue-channel watermark at the three
# intensities. Column titles give the mean PSNR over the 1 000 photos.

# %%
rows = [[images[i], marked[i]] + [blue[s][i] for s in intensities] for i in show]
rows.append([portrait, color.watermark(portrait, K)] + [portrait_blue[s] for s in intensities])
col_titles = ["clean", f"hue {K:g}°: {color.psnr(images, marked).mean():.1f} dB"] + [
    f"blue {s}: {color.psnr(images, blue[s]).mean():.1f} dB" for s in intensities
]
plots.show_grid(rows, col_titles=col_titles, row_titles=[names[i] for i in show] + ["portrait"])

# %%
psnr_hue = color.psnr(portrait, color.watermark(portrait, K))
print(f"portrait, hue {K:g}°:  PSNR {psnr_hue:.1f} dB")
for s in intensities:
    changed = (portrait_blue[s] != portrait).any(0).float().mean()
    psnr_blue = color.psnr(portrait, portrait_blue[s])
    print(f"portrait, blue {s}: PSNR {psnr_blue:.1f} dB ({changed:.1%} of pixels changed)")
    assert psnr_blue > psnr_hue + 10 and changed < 0.02

# %% [markdown]
# On a 32×32 photo the blue dots are not much kinder by PSNR than the hue rotation, but they leave
# the overall colours alone; on a large photo they touch 1 % of the pixels and almost vanish. The
# paper's caveat holds too: on red or green photos the blue dots look like noise.
#
# **But is it resilient?** The blue-channel watermark is *not* a per-pixel colour map: it depends on
# *where* a pixel is. A crop or flip moves the marked pixels away from the marked positions. Measure
# how many marked pixels of the augmented view still sit on a marked position:

# %%
mask = torch.zeros(len(images), 1, h * w)
mask[..., positions] = 1.0
mask = mask.reshape(len(images), 1, h, w)
moved = augment.crop_flip(mask, same_draws())
still_aligned = (moved * mask).sum() / moved.sum()
print(
    f"after crop + flip, {still_aligned:.1%} of the marked pixels sit on a marked position "
    f"(chance level: {len(positions) / (h * w):.1%})"
)
assert still_aligned < 2 * len(positions) / (h * w)

# %% [markdown]
# Most marked pixels land elsewhere: the *pattern* does not survive augmentation the way the hue
# rotation does. What survives is the *value* s of the pixels that stay in view — which is why the
# paper uses the intensity, not the positions, as the signature.
#
# Does a learner trained with crop + flip still give the user's intensity back through eq. 6? The
# course trains lesson 03's learner with three users marking 0.1, 0.3 and 0.5 and searches the
# intensities on each user's positions: see the Fig. 4 row of
# [the reproduction table](../docs/reproduction.md#fig-4).

# %% [markdown]
# ## 5. User-specific colour spaces (Sec. 4.1, 5.4)
#
# "An immediate extension … is to make the color transformation matrix specifiable by users": each
# user draws their own T_u with entries from U(−1, 1) and watermarks with g_k = T_u⁻¹·R(θ_k)·T_u. In
# the paper's many-user experiment (Fig. 5a) this kept signatures recoverable when every user
# watermarks. `color.random_color_space` draws such a T_u (re-drawing badly conditioned ones). What
# do they look like, and what happens to the properties we measured?

# %%
gen = torch.Generator().manual_seed(0)
user_spaces = {f"user space {u + 1}": color.random_color_space(gen) for u in range(3)}
spaces = {"YIQ": None, **user_spaces}
clipped = {}
for name, T_u in spaces.items():
    out = color.watermark(images, K, T_u)
    dY = (color.luma(out) - color.luma(images)).abs().mean()
    clipped[name] = color.clipped_fraction(images, K, T_u).mean()
    print(
        f"{name:13s}: PSNR {color.psnr(images, out).mean():5.1f} dB | clipped {clipped[name]:6.1%} "
        f"| mean luma change {dY:.3f}"
    )
assert all(clipped[name] > 2 * clipped["YIQ"] for name in user_spaces)

# %%
rows = [[images[i]] + [color.watermark(images[i], K, T_u) for T_u in spaces.values()] for i in show]
rows.append([portrait] + [color.watermark(portrait, K, T_u) for T_u in spaces.values()])
plots.show_grid(
    rows,
    col_titles=["clean"] + [f"{n}, k = {K:g}°" for n in spaces],
    row_titles=[names[i] for i in show] + ["portrait"],
)

# %% [markdown]
# A random T_u gives up what made YIQ a good choice. By lesson 01's argument, g_k now keeps the
# *first coordinate of T_u·v* — a random mix of r, g, b, not luma — and fixes the direction
# T_u⁻¹·e₁, a random colour instead of grey. And g_k is a rotation only in T_u's coordinates; in RGB
# it can stretch a pixel (up to the condition number of T_u), so many pixels clip. What it keeps is
# what matters for resilience: it is still one matrix per pixel, so it still commutes with crop and
# flip:

# %%
T_u = user_spaces["user space 1"]
gap = (
    (
        color.watermark(augment.crop_flip(images, same_draws()), K, T_u)
        - augment.crop_flip(color.watermark(images, K, T_u), same_draws())
    )
    .abs()
    .max()
    .item()
)
kept = (T_u[0].float() @ color.lct_matrix(K, T_u) - T_u[0].float()).abs().max().item()
print(
    f"user space 1: crop/flip commute to {gap:.1e}; its first row is kept to {kept:.1e}; condition "
    f"number {torch.linalg.cond(T_u):.1f}"
)
assert gap < 1e-6 and kept < 1e-5

# %% [markdown]
# So user-specific spaces buy distinguishability between users at a clear cost in content. Try them
# in lesson 01's explorer (the colour-space menu) to see the trade-off on the portrait; a question
# below asks how one could keep luma and still be user-specific.

# %% [markdown]
# ## Summary
#
# * **Content.** g_k keeps every unclipped pixel's luma exactly (measured to ~10⁻⁷), so the
#   structure of a photo survives. Colour PSNR is low (the colours do change, visibly) and says
#   little about content. A few percent of pixels clip.
# * **Resilience.** Crop, flip and padding move pixels; g_k changes values the same way everywhere:
#   the two commute exactly. Interpolating augmentations commute with the linear map, and differ
#   only at clipped pixels. ColorJitter's HSV hue shift is a different, non-linear map; as an
#   augmentation it blurs the signature around the key without moving its centre.
# * **Signature space.** Signatures live on a circle (g_(k+360) = g_k), cut into N slots of width
#   2τ; a match means |k̂ − k*| < τ around the circle. A random innocent k̂ matches with probability
#   1/N, so N bounds what one match can prove (lesson 09).
# * **Variants.** The blue-channel watermark of Fig. 4 changes few pixels and no overall colour, but
#   is tied to pixel positions that augmentation scrambles. Random user colour spaces keep per-pixel
#   resilience but lose the luma guarantee and clip heavily.
#
# ## Check your understanding
#
# 1. The watermark's colour PSNR (section 1) is lower than that of mild Gaussian noise. Why does the
#    paper still say LCT preserves content? What would you measure to support it?
# 2. Explain in one sentence why `crop(watermark(x)) == watermark(crop(x))`. Which property of the
#    zero padding is needed?
# 3. Would the watermark commute with a random *rotation* of the image by 10° (bilinear
#    interpolation)? Exactly, or only approximately, and why?
# 4. A learner uses `ColorJitter(hue=0.5)`, the largest possible setting. What happens to the turn
#    the network sees, and to the arbitrator's chances?
# 5. With N = 12, an arbitrator finds k̂ = 65° for your key k* = 60°. How surprised should you be if
#    the model were innocent? How would N = 36 change the answer, and what would it demand of the
#    network?
# 6. Why is the blue-channel watermark not a per-pixel colour map, and what does that cost it under
#    random crops?
# 7. A user wants a private colour space but keeps the luma row of YIQ and replaces the I and Q rows
#    by A·[I; Q] with a 2×2 matrix A. Which property of g_k survives? If A is a rotation, is the
#    watermark any different from plain YIQ?
#
# <details>
# <summary>Answers (click to open)</summary>
#
# 1. PSNR counts every changed colour value, and a hue rotation changes nearly all of them. Content
#    — edges, shapes, a face — lives in luma, which g_k keeps exactly except at clipped pixels.
#    Measure the luma change (or a luma-only PSNR) and the clipped share, as in section 1.
# 2. Crop and flip only move pixels and the watermark changes each pixel's value by the same rule
#    wherever it is, so the order does not matter; the padding must map to itself, and g_k·0 = 0
#    does.
# 3. Approximately. Bilinear rotation replaces pixels by weighted averages of neighbours (weights
#    sum to 1), and the linear g_k commutes with averages, so before clipping the two orders agree
#    to rounding; clipping is not linear, so they differ slightly at clipped pixels (as measured for
#    resizing).
# 4. hue = 0.5 adds a uniformly random shift over the whole HSV hue circle, so the turn the network
#    sees is spread over all angles: the signature is blurred into the whole circle and there is
#    little left to infer. Moderate jitter blurs it less (the histogram in section 2).
# 5. Not very: |65 − 60| = 5° < τ = 15°, a match, but a random k̂ matches with probability 1/12 ≈ 8
#    %. With N = 36 (τ = 5°) 65° would be exactly on the edge of the slot (not a match: the
#    condition is strict), a chance match would be 1/36, and the network would have to tell apart
#    watermarks only 10° apart, which differ by a much smaller pixel change (section 3's last plot).
# 6. It depends on the pixel's position (only preselected pixels change), not only on its value. A
#    crop or flip moves the marked pixels off the preselected positions (we measured how few stay
#    aligned), so only the marked values, not the pattern, reach the network intact.
# 7. Luma: the first row of T is still YIQ's luma row, and g_k keeps the first coordinate of T·v
#    (lesson 01, question 6). If A is a rotation, A⁻¹·R(θ)·A = R(θ) because 2-D rotations commute,
#    so g_k is *identical* to YIQ's (and with a reflection it becomes g₋ₖ): a private space must
#    stretch the I–Q plane unevenly, and stretching is what pushes pixels out of the cube.
#
# </details>

# %% [markdown]
# ## References
#
# - Zou, Gong & Wang. *Anti-Neuron Watermarking: Protecting Personal Data Against Unauthorized
#   Neural Networks.* ECCV 2022 — the paper this course follows (equations, sections and figures
#   cited as in it).
# - Tirkel et al., *Electronic watermark*, DICTA 1993, and Cox et al., *Digital Watermarking*,
#   Springer 2002 — classic image watermarking (the paper's [35], [5]).
# - torchvision, `ColorJitter` — the HSV hue jitter measured in section 5.
