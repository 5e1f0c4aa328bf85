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
# # Lesson 01 — Colour as linear algebra
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/anw-course/anti-neuron-watermarking/blob/main/notebooks/01_colour_as_linear_algebra.ipynb)
#
# Anti-neuron watermarking (the paper, Sec. 4.1) protects your photos with **one 3×3 matrix**,
# applied to every pixel: it turns the hue of the photo by a secret angle *k*, the signature. If a
# network is later trained on your photos, it remembers that angle, and an arbitrator can find it
# again. In this lesson you build that matrix yourself, from nothing but matrix products.
#
# **You will learn to**
# - treat a pixel as a vector in ℝ³ and a colour space as an invertible 3×3 matrix;
# - convert RGB to YIQ with the matrix of eq. 3 and back, and say what *luma* and *chroma* are;
# - read hue as an **angle** in the I–Q plane and turn it with the rotation of eq. 4;
# - build the watermark g_k = T⁻¹·R(θ_k)·T, and show with numbers why this order — not the
#   order printed in eq. 5, T·R·T⁻¹ — keeps the brightness of every pixel;
# - measure how many pixels the watermark pushes out of the RGB cube, and what clipping them costs.
#
# **Time:** about 75 minutes (three short exercises and an interactive explorer).
# **Machine time** (`ci` profile on 2 CPU cores, `colab` on a GPU; written by `python -m
# tools.docs_numbers`): opened alone, under a minute on 2 CPU cores (measured in fp32 with AVX2
# kernels on 2 vCPUs of an Intel Xeon with AMX: 0:06); it trains nothing.
# **Before this:** matrix–vector products, the inverse of a matrix, the 2-D rotation matrix, and
# PyTorch tensors (shapes, indexing). No colour science: everything about colour is built here.

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

# %% [markdown]
# We use two kinds of photos: the portrait that matplotlib ships as sample data (Grace Hopper,
# standing in for your selfie) and 1 000 real photos drawn at random (seeded) from the CIFAR-10 test
# set, 32×32 pixels each. Both are float tensors with values in [0, 1] and shape `(3, H, W)`:
# channel first, then rows and columns.

# %%
import torch

from anw_helpers import color, plots, widgets
from anw_helpers.datasets import load_cifar10, to_float

torch.set_printoptions(precision=4, sci_mode=False)
portrait = plots.sample_portrait()  # (3, 240, 205), floats in [0, 1]
cifar = load_cifar10("test")  # uint8, 10 000 x 3 x 32 x 32, sorted by class
photos = cifar.subset(torch.randperm(len(cifar), generator=torch.Generator().manual_seed(0))[:1000])
images = to_float(photos.images)  # 1 000 real photos, floats in [0, 1]
names = [photos.classes[y] for y in photos.labels]
print("portrait", tuple(portrait.shape), "| CIFAR-10", tuple(images.shape))
plots.show_images([portrait] + list(images[:7]), titles=["portrait"] + names[:7])

# %% [markdown]
# ## 1. A pixel is a vector, a colour space is a matrix
#
# Each pixel of an RGB image is a column vector **v** = [r, g, b]ᵀ: how much red, green and blue
# light it emits, from 0 (none) to 1 (full). The portrait has 240 × 205 such vectors:

# %%
v = portrait[:, 120, 100]  # the pixel in row 120, column 100
print("one pixel, v = [r, g, b] =", v)

# %% [markdown]
# RGB is just one set of coordinates for colour. Any **invertible** 3×3 matrix T gives another: the
# new coordinates of a pixel are T·v, and because T is invertible nothing is lost — T⁻¹ takes us
# back. A *colour space* is exactly that: a matrix.
#
# The paper uses **YIQ** (eq. 3), the colour space of analogue NTSC television:
#
# $$T_{\rm YIQ} = \begin{bmatrix} 0.299 & 0.587 & 0.114 \\
# 0.596 & -0.275 & -0.321 \\ 0.212 & -0.523 & 0.311 \end{bmatrix}$$
#
# Read it row by row:
#
# * **Y, luma** = 0.299 r + 0.587 g + 0.114 b is a weighted average of the three channels: how
#   bright the pixel looks to a person (our eyes are most sensitive to green, least to blue). The
#   weights sum to 1, so white [1, 1, 1] has Y = 1.
# * **I and Q, chroma**: each row sums to 0, so every grey pixel (r = g = b) has I = Q = 0. Chroma
#   says how far a colour is from grey, and in which direction (I runs roughly from blue to orange,
#   Q from green to purple).
#
# Check the row sums on the actual matrix:

# %%
print(color.YIQ)
row_sums = color.YIQ.sum(dim=1)
print("row sums (Y, I, Q):", row_sums)
assert torch.allclose(row_sums, torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64), atol=1e-12)


# %% [markdown]
# ### Exercise 1 — RGB → YIQ
#
# Write a function that converts a whole batch of images to YIQ at once. Every pixel is a column
# vector, so its YIQ coordinates are `T @ v`; `torch.einsum("ij,...jhw->...ihw", T, images)` does
# that for every pixel of every image (the `...` stands for any leading batch dimensions).


# %% tags=["solution"]
def my_rgb_to_yiq(images: torch.Tensor) -> torch.Tensor:
    """Convert RGB images to YIQ with the matrix T of eq. 3.

    ``images`` has shape (..., 3, H, W); T is ``color.YIQ``. Each pixel v = [r, g, b] becomes T @ v
    = [Y, I, Q]. Return a tensor with the same shape and dtype as ``images``; cast T to
    ``images.dtype`` first (``color.YIQ`` is float64).
    """
    # BEGIN SOLUTION
    T = color.YIQ.to(images.dtype)
    return torch.einsum("ij,...jhw->...ihw", T, images)
    # END SOLUTION


# %%
torch.testing.assert_close(my_rgb_to_yiq(images), color.rgb_to_yiq(images))
torch.testing.assert_close(my_rgb_to_yiq(portrait), color.rgb_to_yiq(portrait))
print("Correct!")

# %% [markdown]
# From here on we use the course's version, `color.rgb_to_yiq`, so the lesson runs whatever you
# wrote.
#
# Going back is T⁻¹. Its first column is worth a look: it is [1, 1, 1]. A pixel with luma Y and no
# chroma, [Y, 0, 0], is the grey [Y, Y, Y] — the row sums above, read backwards. Converting to YIQ
# and back loses nothing (up to float rounding):

# %%
T_inv = torch.linalg.inv(color.YIQ)
print("T^-1 =\n", T_inv)
assert torch.allclose(T_inv[:, 0], torch.ones(3, dtype=torch.float64), atol=1e-12)

round_trip = color.yiq_to_rgb(color.rgb_to_yiq(images))
err = (round_trip - images).abs().max().item()
print(f"largest round-trip error over {images.shape[0]} images: {err:.1e}")
assert err < 1e-5

# %% [markdown]
# ## 2. Luma and chroma
#
# Here are the three YIQ coordinates of the portrait as maps. Y looks like a black-and-white photo.
# I and Q are signed, and white means 0, no colour; the colour maps follow the axes: I runs from
# blue (negative) to orange (positive), Q from green (negative) to purple (positive).

# %%
yiq = color.rgb_to_yiq(portrait)
plots.plot_channels(yiq)

# %% [markdown]
# Which part carries the *content* of the photo? Split the two apart: keep Y and set the chroma to
# zero, or keep the chroma and flatten Y to 0.5.

# %%
luma_only = yiq.clone()
luma_only[1:] = 0.0  # no chroma: a grey image
chroma_only = yiq.clone()
chroma_only[0] = 0.5  # the same brightness everywhere
plots.show_images(
    [portrait, color.yiq_to_rgb(luma_only), color.yiq_to_rgb(chroma_only)],
    titles=["original", "luma only (I = Q = 0)", "chroma only (Y = 0.5)"],
    size=3.0,
)

# %% [markdown]
# The face, the glasses, every edge: they all live in **luma**. Chroma alone is a soft coloured wash
# in which you would struggle to recognise anyone. So a watermark that **changes only chroma and
# leaves luma exactly as it was** keeps what matters in a photo. That is the design goal of the LCT
# (linear colour transformation) watermark (Sec. 4.1, "the watermarking function g should preserve
# an image's original content").

# %% [markdown]
# ## 3. The I–Q plane: hue is an angle
#
# Fix Y and look at what is left of a pixel, the point (I, Q). This plane is the *chromaticity
# plane*:
#
# * the **centre** (0, 0) is grey;
# * the **distance** from the centre is how colourful the pixel is (its chroma);
# * the **direction**, an angle, is its **hue**: red, magenta, blue, cyan, green, yellow lie around
#   the circle in that order.
#
# Below, the background paints each point (I, Q) with the colour [Y = 0.5, I, Q] it stands for; pale
# grey marks points that no RGB colour reaches at that brightness. The dots are 1 500 pixels of the
# portrait, each at its own (I, Q) and in its own colour. (A pixel much darker or brighter than Y =
# 0.5 can sit in the pale region: which colours exist depends on the brightness.) The dotted rays
# every 30° will matter later: they are the paper's signatures.

# %%
plots.plot_iq_plane(portrait, title="1 500 pixels of the portrait in the I-Q plane")

# %% [markdown]
# The hue angle is `atan2(Q, I)` and the chroma is the length `hypot(I, Q)`. For a few pure colours:

# %%
palette = {
    "red": (1, 0, 0),
    "magenta": (1, 0, 1),
    "blue": (0, 0, 1),
    "cyan": (0, 1, 1),
    "green": (0, 1, 0),
    "yellow": (1, 1, 0),
    "orange": (1, 0.5, 0),
    "grey": (0.5, 0.5, 0.5),
}
swatch = torch.tensor(list(palette.values())).T.reshape(3, 1, -1)  # an image 1 pixel high
Y, I, Q = color.rgb_to_yiq(swatch)[:, 0]  # noqa: E741 (I: the YIQ channel, as in the text)
hue = torch.rad2deg(torch.atan2(Q, I)) % 360
chroma = torch.hypot(I, Q)
for name, y, h, c in zip(palette, Y, hue, chroma):
    print(f"{name:8s} luma {y:.3f}   hue {h:6.1f}°   chroma {c:.3f}")


# %% [markdown]
# (Grey has chroma 0, so its "hue" is meaningless — `atan2(0, 0)` just returns 0.)
#
# ## 4. Turning hue: the rotation of eq. 4
#
# To change the hue of a pixel by θ without changing its luma or its chroma, rotate (I, Q) by θ and
# leave Y alone. As a 3×3 matrix acting on [Y, I, Q] (eq. 4, with θ_k = kπ/180 for a signature k in
# degrees):
#
# $$T_k = R(\theta_k) = \begin{bmatrix} 1 & 0 & 0\\ 0 & \cos\theta_k & -\sin\theta_k\\
# 0 & \sin\theta_k & \cos\theta_k \end{bmatrix}$$
#
# ### Exercise 2 — the hue rotation


# %% tags=["solution"]
def my_hue_rotation(k: float) -> torch.Tensor:
    """The hue rotation R(theta_k) of eq. 4 as a float64 3x3 matrix.

    1 in the top-left corner (Y is kept), zeros beside it, and a 2-D rotation by theta_k = k * pi /
    180 in the lower-right 2x2 block (the I-Q plane). ``k`` is in degrees.
    """
    # BEGIN SOLUTION
    theta = torch.deg2rad(torch.tensor(float(k), dtype=torch.float64))
    c, s = torch.cos(theta).item(), torch.sin(theta).item()
    return torch.tensor([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]], dtype=torch.float64)
    # END SOLUTION


# %%
for k in list(color.SIGNATURE_SLOTS) + [17.5, -45.0, 400.0]:
    torch.testing.assert_close(
        my_hue_rotation(k), color.hue_rotation(k), check_dtype=False, atol=1e-6, rtol=1e-6
    )
print("Correct!")

# %% [markdown]
# Three facts about R make it a good watermark, and each is a line of linear algebra. We check them:
#
# * RᵀR = I (a rotation): lengths are kept, so every pixel keeps its luma **and** its chroma;
# * R(a)·R(b) = R(a + b): watermarking twice is one watermark with the angles added;
# * R(k + 360) = R(k): the signatures live on a circle — the signature space is *bounded* (lesson
#   02).

# %%
R = color.hue_rotation(60.0)
I3 = torch.eye(3, dtype=torch.float64)
assert torch.allclose(R.T @ R, I3, atol=1e-12)
assert torch.allclose(color.hue_rotation(25.0) @ color.hue_rotation(35.0), R, atol=1e-12)
assert torch.allclose(color.hue_rotation(420.0), R, atol=1e-12)
print("rotation: orthogonal, angles add, 360-periodic")


# %% [markdown]
# Rotate the YIQ coordinates of the 1 000 photos by 60° and measure what happened to each pixel's
# hue angle, chroma and luma (on pixels with some colour; a grey pixel has no angle to turn):


# %%
def hue_and_chroma(c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Hue angle (degrees) and chroma of every pixel, from YIQ coordinates (N, 3, H, W)."""
    return torch.rad2deg(torch.atan2(c[:, 2], c[:, 1])), torch.hypot(c[:, 1], c[:, 2])


yiq_photos = color.rgb_to_yiq(images).double()
turned = torch.einsum("ij,njhw->nihw", R, yiq_photos)  # R times every pixel's [Y, I, Q]
hue_before, chroma_before = hue_and_chroma(yiq_photos)
hue_after, chroma_after = hue_and_chroma(turned)
coloured = chroma_before > 0.01
angle_change = ((hue_after - hue_before) % 360)[coloured]
chroma_change = (chroma_after - chroma_before).abs().max()
luma_change = (turned[:, 0] - yiq_photos[:, 0]).abs().max()
print(f"hue angle changed by {angle_change.min():.6f}° .. {angle_change.max():.6f}°")
print(f"largest chroma change {chroma_change:.1e}, largest luma change {luma_change:.1e}")
assert torch.allclose(angle_change, torch.full_like(angle_change, 60.0), atol=1e-6)
assert chroma_change < 1e-12 and luma_change < 1e-12


# %% [markdown]
# ## 5. The watermark: g_k = T⁻¹ · R(θ_k) · T
#
# We now have all three steps for a pixel v in RGB: convert to YIQ (multiply by T), turn the hue
# (multiply by R), convert back (multiply by T⁻¹). Matrices act right to left, the one nearest to v
# first, so the three steps in one matrix are
#
# $$v' = g_k\,v, \qquad g_k = T^{-1}\cdot R(\theta_k)\cdot T .$$
#
# One 3×3 matrix per signature, the same for every pixel of every photo. The paper then clips v' to
# [0, 1] (Sec. 5.1; section 7 below looks at why).
#
# ### Exercise 3 — the watermark matrix


# %% tags=["solution"]
def my_lct_matrix(k: float) -> torch.Tensor:
    """The watermark matrix g_k of eq. 5, acting on RGB column vectors, as a float64 3x3 matrix.

    Convert RGB to YIQ with T = ``color.YIQ``, rotate the hue by k degrees (your ``my_hue_rotation``
    or ``color.hue_rotation``), convert back with T^-1 (``torch.linalg.inv``). Mind the order: the
    matrix next to v acts first.
    """
    # BEGIN SOLUTION
    T = color.YIQ
    return torch.linalg.inv(T) @ color.hue_rotation(k) @ T
    # END SOLUTION


# %%
for k in color.SIGNATURE_SLOTS:
    torch.testing.assert_close(
        my_lct_matrix(k), color.lct_matrix(k), check_dtype=False, atol=1e-6, rtol=1e-6
    )
# ... and on real photos: apply it to every pixel, clip, compare with the course's watermark
mine = color.apply_color_matrix(images, my_lct_matrix(60), clip=True)
torch.testing.assert_close(mine, color.watermark(images, 60), atol=1e-5, rtol=1e-5)
print("Correct!")

# %% [markdown]
# The portrait with the twelve signatures of the paper (k = 0, 30, …, 330; k = 0 is no watermark):

# %%
slots = color.SIGNATURE_SLOTS
plots.show_images(
    [color.watermark(portrait, k) for k in slots],
    titles=[f"k = {k:g}°" for k in slots],
    ncols=6,
    size=1.9,
)

# %% [markdown]
# ## 6. Why T⁻¹·R·T, and not T·R·T⁻¹ as eq. 5 is printed?
#
# The paper prints eq. 5 as g_k = T·R·T⁻¹. Read right to left on an RGB vector, that order first
# applies T⁻¹ — the YIQ→RGB map — to numbers that already are RGB, as if r, g, b were Y, I, Q;
# rotates the wrong plane; and converts the result "to YIQ" before it is shown as RGB. The paper's
# own code uses the order we teach (`M⁻¹ · Th · M`). Let us measure what each order does.
#
# Luma is the first row of T applied to v, `T[0] @ v`. So a matrix g keeps every pixel's luma
# exactly when `T[0] @ g == T[0]`. For our order that is one line of algebra: T[0]·T⁻¹·R·T = e₁ᵀ·R·T
# = e₁ᵀ·T = T[0], because the first row of R is e₁ᵀ = [1, 0, 0]. Numerically:

# %%
T = color.YIQ
g_ours = torch.linalg.inv(T) @ color.hue_rotation(60) @ T  # convert, rotate, convert back
g_printed = T @ color.hue_rotation(60) @ torch.linalg.inv(T)  # eq. 5 as printed
print("T[0]            ", T[0])
print("T[0] @ g_ours   ", T[0] @ g_ours)
print("T[0] @ g_printed", T[0] @ g_printed)
white = torch.ones(3, dtype=torch.float64)
print("white [1, 1, 1] ->", g_ours @ white, "(ours) and", g_printed @ white, "(printed)")
assert torch.allclose(T[0] @ g_ours, T[0], atol=1e-12) and not torch.allclose(
    T[0] @ g_printed, T[0], atol=1e-3
)
assert torch.allclose(g_ours @ white, white, atol=1e-12) and (g_printed @ white).max() > 1

# %% [markdown]
# Our g_k keeps luma and sends white to white (greys have no chroma to turn). The printed order
# changes the luma weights and turns white into a cyan that is not even a valid colour (values above
# 1). On the photos, before any clipping:

# %%
x = images.double()
dY = {}
for name, g in [("ours, T^-1 R T", g_ours), ("printed, T R T^-1", g_printed)]:
    # g v for every pixel, no clipping
    raw = color.apply_color_matrix(x, g)
    dY[name] = torch.einsum("c,nchw->nhw", T[0], raw - x).abs()  # |Y(g v) - Y(v)|
    out = ((raw < 0) | (raw > 1)).any(dim=1).float().mean()
    print(
        f"{name:18s}: luma change mean {dY[name].mean():.1e}, max {dY[name].max():.1e}; "
        f"pixels out of the cube {out:.1%}"
    )
assert dY["ours, T^-1 R T"].max() < 1e-6
assert dY["printed, T R T^-1"].mean() > 0.01

# %% [markdown]
# Side by side on the portrait, with the luma change of each pixel as a map (black = unchanged):

# %%
ours_img = color.apply_color_matrix(portrait, g_ours, clip=True)
printed_img = color.apply_color_matrix(portrait, g_printed, clip=True)
dY_ours = (color.luma(ours_img) - color.luma(portrait)).abs()
dY_printed = (color.luma(printed_img) - color.luma(portrait)).abs()
plots.show_images(
    [portrait, ours_img, printed_img, dY_ours, dY_printed],
    titles=[
        "original",
        "T⁻¹·R·T (ours)",
        "T·R·T⁻¹ (printed)",
        f"|ΔY| ours, mean {dY_ours.mean():.3f}",
        f"|ΔY| printed, mean {dY_printed.mean():.3f}",
    ],
    cmap="magma",
    vmin=0.0,
    vmax=0.3,
    size=2.6,
)


# %% [markdown]
# (After clipping, "ours" changes the luma of a few pixels too — the clipped ones; section 7.)
#
# **Why the order is forced.** A product A⁻¹·R·A leaves unchanged the direction A⁻¹·e₁, where e₁ =
# [1, 0, 0] is the axis R leaves alone (check: A⁻¹RA·A⁻¹e₁ = A⁻¹Re₁ = A⁻¹e₁). For our order, A = T
# and the fixed direction is the first column of T⁻¹: the grey axis [1, 1, 1]. For the printed
# order, A = T⁻¹ and the fixed direction is T·e₁ = [0.299, 0.596, 0.212], the first column of T — a
# muted green with no special meaning. The eigenvector with eigenvalue 1 of each matrix shows it:


# %%
def fixed_direction(g: torch.Tensor) -> torch.Tensor:
    """The eigenvector of g with eigenvalue 1, scaled so that its first entry is 1."""
    eigvals, eigvecs = torch.linalg.eig(g)
    d = eigvecs[:, (eigvals - 1).abs().argmin()].real
    return d / d[0]


print("g_ours keeps    ", fixed_direction(g_ours))
print("g_printed keeps ", fixed_direction(g_printed), "= T[:, 0] / 0.299:", T[:, 0] / T[0, 0])
assert torch.allclose(fixed_direction(g_ours), torch.ones(3, dtype=torch.float64), atol=1e-9)
assert torch.allclose(fixed_direction(g_printed), T[:, 0] / T[0, 0], atol=1e-9)

# %% [markdown]
# Write the conversion first, so that the rotation happens where hue is an angle.

# %% [markdown]
# ## 7. Out of gamut: clipping and invertibility
#
# In YIQ, g_k is a rotation. But the RGB cube is not round: in the I–Q plot above, the coloured
# region (the colours that exist at that brightness) is a parallelogram, not a disc, so turning a
# colourful point can carry it outside. Pure red rotated by 60° would need a *negative* amount of
# green:

# %%
print("pure red -> g_60 ->", color.lct_matrix(60) @ torch.tensor([1.0, 0.0, 0.0]))

# %% [markdown]
# Such colours do not exist on a screen, so `color.watermark` clips every channel to [0, 1] (the
# paper does the same, Sec. 5.1). Which pixels of the portrait leave the cube for k = 60?

# %%
raw = color.apply_color_matrix(portrait, color.lct_matrix(60))  # g_60 v, no clipping
# (H, W) True where a channel leaves [0, 1]
outside = ((raw < 0) | (raw > 1)).any(dim=0)
print(
    f"portrait: {outside.float().mean():.1%} of the pixels are clipped; raw values span "
    f"[{raw.min():.2f}, {raw.max():.2f}]"
)
plots.show_images(
    [portrait, color.watermark(portrait, 60), outside.float()],
    titles=["original", "watermarked, k = 60°", "clipped pixels (white)"],
    size=3.0,
)

# %% [markdown]
# The saturated reds and blues of the flag and the medals are the ones that leave. Now on the 1 000
# CIFAR-10 photos, with the course's `color.clipped_fraction` (the same test, per image):

# %%
share = color.clipped_fraction(images, 60)
print(
    f"k = 60 on {len(share)} photos: mean {share.mean():.1%} of pixels clipped, median "
    f"{share.median():.1%}, max {share.max():.1%}; {(share > 0).float().mean():.0%} of the photos "
    "have at least one clipped pixel"
)
signatures = slots[1:]  # 30, 60, ..., 330 (k = 0 means no watermark)
plots.plot_per_signature(
    signatures,
    {
        "mean share of clipped pixels": [
            color.clipped_fraction(images, k).mean() for k in signatures
        ]
    },
    ylabel="clipped pixels",
    percent=True,
    title="Clipping per signature, 1 000 CIFAR-10 photos",
)

# %% [markdown]
# Most photos lose only a few pixels, a few lose many (strongly coloured ones). What does clipping
# do to
# **invertibility**? Without clipping, g_k has an exact inverse, g_k⁻¹ = g₋ₖ (angles add). With
# clipping, the information in how far a pixel overshot is gone. `color.remove_watermark` applies
# g₋ₖ; measure how well it restores the photos, separately on the pixels that were clipped and those
# that were not:

# %%
marked = color.watermark(images, 60)
restored = color.remove_watermark(marked, 60)
raw = color.apply_color_matrix(images, color.lct_matrix(60))
was_clipped = ((raw < 0) | (raw > 1)).any(dim=1, keepdim=True).expand_as(images)
error = (restored - images).abs()
print(f"unclipped pixels: largest error {error[~was_clipped].max():.1e}")
print(
    f"clipped pixels:   mean error {error[was_clipped].mean():.3f}, largest "
    f"{error[was_clipped].max():.3f}"
)
assert error[~was_clipped].max() < 1e-5
assert error[was_clipped].mean() > 10 * error[~was_clipped].max()

# %% [markdown]
# So the watermark is exactly invertible where nothing was clipped, and lossy on the clipped pixels.
# That costs the method little: you keep your originals, and an arbitrator never has to undo a
# watermark — they apply candidate g_k to your *clean* photos and look for the one the network knows
# (lessons on verification). Clipping matters for how faithful the shared photo is, which lesson 02
# measures.

# %% [markdown]
# ## 8. Explore: the watermark explorer
#
# The explorer shows, for one image and one signature k: the original, the watermarked image, and
# the pixels in the chroma plane before and after (the arc is θ_k). Its title reports what was
# measured on that image: the share of clipped pixels, the PSNR (lesson 02), and the largest luma
# change on the pixels that were not clipped. Here is the static figure for the portrait at k = 60:

# %%
plots.plot_watermark_explorer(portrait, 60)

# %% [markdown]
# And the interactive version (in JupyterLab or Colab): drag the slider, pick an image, pick a
# colour space. Besides YIQ, the colour-space menu offers two *user-specific* colour spaces with
# random entries in U(−1, 1), an extension the paper tests in Sec. 5.4; look at what they do to luma
# and to clipping — lesson 02 measures it.
#
# Things to try: which k makes the portrait look most natural? At which k do the most pixels clip on
# the CIFAR-10 photos in the menu? Does the luma change ever rise above 10⁻⁶ in YIQ?

# %%
explorer_images = {"portrait (grace_hopper.jpg)": portrait}
for i in (0, 1, 3, 6):
    explorer_images[f"CIFAR-10 #{i}: {names[i]}"] = images[i]
explorer = widgets.watermark_explorer(explorer_images, k=60)
explorer

# %% [markdown]
# ## Summary
#
# * A pixel is a vector v ∈ ℝ³; a colour space is an invertible 3×3 matrix T. YIQ (eq. 3) splits a
#   pixel into **luma** Y (how bright — where the content of a photo lives) and **chroma** (I, Q).
# * In the I–Q plane, grey is the centre, chroma is the distance from it and **hue is the angle**.
#   The matrix R(θ_k) of eq. 4 rotates that plane and keeps Y.
# * The watermark is one matrix per signature, **g_k = T⁻¹·R(θ_k)·T**: convert, rotate, convert
#   back. It keeps every pixel's luma (T[0]·g_k = T[0]) and every grey. The order printed in eq. 5,
#   T·R·T⁻¹, does neither — we measured it.
# * g_k can push colourful pixels out of the RGB cube; they are clipped. Without clipping g_k is
#   exactly invertible (g_k⁻¹ = g₋ₖ); clipped pixels are not, which costs fidelity, not
#   verification.
#
# Next, lesson 02 checks the three properties the paper asks of a watermark (Sec. 4.1): content
# kept, survival of the learner's augmentations, and a large, bounded signature space.
#
# ## Check your understanding
#
# 1. Why do the I and Q rows of eq. 3 sum to zero, and what does g_k do to a grey pixel, to black
#    and to white?
# 2. Prove that g_k = T⁻¹·R·T keeps luma for *every* pixel, using only the first row of R.
# 3. Someone implements eq. 5 exactly as printed, g_k = T·R·T⁻¹. Name two things you could measure
#    to catch the mistake.
# 4. Why is g_k·g_j = g_(k+j), and what is g_k⁻¹? What is g_(k+360)?
# 5. Why can a clipped pixel not be restored exactly, and why does that not stop an arbitrator from
#    verifying the watermark?
# 6. A user picks their own colour space T_u instead of YIQ and watermarks with T_u⁻¹·R·T_u. Which
#    quantity of each pixel is now kept unchanged instead of luma?
#
# <details>
# <summary>Answers (click to open)</summary>
#
# 1. A grey pixel has r = g = b, and a colour should have no chroma exactly when it is grey, so
#    I = Q = 0 for all greys, which is what zero row sums give. R keeps [Y, 0, 0], so g_k maps every
#    grey to itself: black stays black, white stays white (section 6 measured white → white).
# 2. Luma is T[0]·v = e₁ᵀ·T·v. Then e₁ᵀ·T·g_k = e₁ᵀ·T·T⁻¹·R·T = e₁ᵀ·R·T = e₁ᵀ·T, because the first
#    row of R is e₁ᵀ. So Y(g_k v) = Y(v) for all v (before clipping).
# 3. The luma change (T[0]·g − T[0] is not zero; measured above), and what happens to white or grey
#    (it leaves the grey axis; white became a too-bright cyan). Also the fixed direction of g, which
#    is no longer [1, 1, 1].
# 4. g_k·g_j = T⁻¹·R_k·T·T⁻¹·R_j·T = T⁻¹·R_k·R_j·T = T⁻¹·R_(k+j)·T. Hence g_k⁻¹ = g₋ₖ and, since
#    R is 360°-periodic, g_(k+360) = g_k.
# 5. Clipping maps many different raw values (everything above 1, say) to the same value, so it is
#    not one-to-one and cannot be undone. The arbitrator never inverts anything: they apply
#    candidate g_k to the user's clean originals and compare the network's loss.
# 6. The first coordinate of T_u·v: T_u[0]·g_k = T_u[0] by the same proof as in 2. For a random T_u
#    that coordinate is not luma, so brightness changes; the fixed direction is T_u⁻¹·e₁, not grey.
#
# </details>

# %% [markdown]
# ## References
#
# - Zou, Gong & Wang. *Anti-Neuron Watermarking: Protecting Personal Data Against Unauthorized
#   Neural Networks.* ECCV 2022 — the paper this course follows (equations, sections and figures
#   cited as in it).
# - Wikipedia, *YIQ* — the colour space of eq. 3 (the paper's [37]).
