"""A calibrated ownership test (beyond the paper): how convincing is a match?

The arbitrator's argmin over N = 12 slots (eq. 6) names a key but says nothing about how surprising
that key would be for an innocent learner. This module turns the same losses into a test with a
p-value:

    H0: the learner never trained on the user's images watermarked with the claimed key k*.

Per image, a **score** says how much the model prefers the photo watermarked with k* to the clean
photo: the gain in the probability it gives the true class,

    s_i = P(y_i | f(g_k*(I_i))) - P(y_i | f(g_0(I_i)))
        (in [-1, 1]; > 0: the model likes k* better),

computed for the user's images and for **reference** images from the same distribution that the
learner never saw (e.g. public test images). Under H0 the user's images are just more images the
learner never saw, so their scores and the reference scores are exchangeable, and a **permutation
test** of "the user's scores are larger" is exact, whatever the (skewed, heavy-tailed) distribution
of the scores. Relabelling within classes (strata) keeps it exact when the user's photos are not a
random mix of classes.

The score shrinks with a photo's colour (exactly 0 for a grey photo: a hue rotation leaves it
unchanged), while colourful photos a learner never saw score below 0 (it prefers them unrotated). A
user with faded or black-and-white photos would therefore look "above the reference" without any
watermark. So the ownership test sets aside photos with almost no colour (:func:`chroma` below
``MIN_CHROMA``: they carry no evidence either way) and relabels within strata of *same class and
similar chroma* (:func:`chroma_strata`, :func:`matched_permutation_test`). The paper (Sec. 4.2)
reads only eq. 6's argmin; the test, and this matching, are the course's additions. The
Welch t-test is offered for comparison: it needs no permutations but its p-value rests on a normal
approximation that is weakest in the far tail, exactly where an accusation lives.

Also here: calibration tools (rejection rates, the package's one count with its Clopper-Pearson
interval (:class:`Rate`), how many rejections alpha allows, ROC curves, the package's one AUC and
the true-positive rate at a low false-positive rate as in LiRA) and family-wise corrections for
many tests. SciPy computes what it can (Welch's t, the binomial interval and allowance, the AUC);
the permutation test and Holm's correction are the course's own, and each says why. Every function
checks its input and raises a clear error for empty, NaN or mismatched data.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Optional, Union

import numpy as np
import scipy.stats
import torch
from torch import Tensor, nn

from .color import apply_color_matrix, lct_matrix
from .datasets import appears_in  # re-exported: lessons 08 and 09 call stats.appears_in
from .machinery._checks import (
    check_float_images,
    check_labelled_batch,
    check_sample,
    check_user_key,
)
from .machinery.memory import MAX_BATCH, PASS_MEMORY_BYTES
from .verify import per_image_losses  # re-exported: the per-image terms of eq. 6

__all__ = [
    "TestResult",
    "per_image_losses",
    "key_scores",
    "scores_from_losses",
    "welch_t",
    "welch_t_test",
    "random_subsets",
    "centre_by_stratum",
    "permutation_test",
    "check_permutations",
    "MAX_PERMUTATIONS",
    "ownership_test",
    "chroma",
    "chroma_strata",
    "matched_permutation_test",
    "MIN_CHROMA",
    "CHROMA_BINS",
    "appears_in",
    "rejection_rate",
    "Rate",
    "allowed_rejections",
    "roc_curve",
    "auc",
    "tpr_at_fpr",
    "bonferroni",
    "holm",
]

ArrayLike = Union[Tensor, np.ndarray, Sequence[float]]


# ------------------------------------------------------------------------------------- input checks
def _as_sample(values: ArrayLike, name: str, min_size: int = 1) -> Tensor:
    """``values`` as a 1-D float64 tensor of finite scores (``_checks.check_sample``)."""
    return check_sample(values, name, min_size, what="score")


def _check_alpha(alpha: float, name: str = "alpha") -> float:
    if (
        not isinstance(alpha, (int, float))
        or isinstance(alpha, bool)
        or not 0.0 < float(alpha) < 1.0
    ):
        raise ValueError(f"{name} must be a number strictly between 0 and 1; got {alpha!r}.")
    return float(alpha)


def _check_p_values(p_values: ArrayLike) -> Tensor:
    p = _as_sample(p_values, "p_values")
    if bool((p < 0).any() or (p > 1).any()):
        raise ValueError(
            f"p_values must lie in [0, 1]; got values in [{float(p.min()):.4g}, "
            f"{float(p.max()):.4g}]."
        )
    return p


# --------------------------------------------------------------------------------- per-image scores
def key_scores(
    model: nn.Module,
    images: Tensor,
    labels: Tensor,
    key: float,
    baseline: Sequence[float] = (0.0,),
    color_space: Optional[Tensor] = None,
    kind: str = "probability",
    batch_size: Optional[int] = None,
) -> Tensor:
    """Per-image score: how much ``model`` prefers each image watermarked with ``key`` to its
    baseline.

    ``kind="probability"`` (default): ``s_i = P(y_i | g_key(I_i)) - mean_b P(y_i | g_b(I_i))``, the
    gain in the probability the model gives the true class, in [-1, 1], so no single odd image can
    dominate a mean. ``kind="loss"``: ``s_i = mean_b L(g_b(I_i)) - L(g_key(I_i))`` with the
    cross-entropy L (unbounded). The default baseline is the clean image (signature 0). Positive:
    the model finds the image easier with the key's hue. Returns a float64 tensor of shape (N,).
    """
    if kind not in ("probability", "loss"):
        raise ValueError(f"kind must be 'probability' or 'loss'; got {kind!r}.")
    base = [float(b) for b in baseline]
    if not base:
        raise ValueError(
            "baseline is empty; give at least one signature (default: 0, the clean image)."
        )
    key = check_user_key(key)  # a key within tau of 0 cannot be told from "clean": refused
    losses = per_image_losses(model, images, labels, [key] + base, color_space, batch_size)
    return scores_from_losses(losses, kind)


def scores_from_losses(losses: Tensor, kind: str = "probability") -> Tensor:
    """:func:`key_scores` from per-image losses already computed (``losses``, shape (N, 1 + B):
    the cross-entropy at the key, then at each baseline signature; eq. 6's terms, Sec. 4.2).

    ``kind="probability"``: the gain in the true class's probability over the baselines' mean;
    ``kind="loss"``: the baselines' mean loss minus the loss at the key."""
    if kind not in ("probability", "loss"):
        raise ValueError(f"kind must be 'probability' or 'loss'; got {kind!r}.")
    if losses.dim() != 2 or losses.shape[1] < 2:
        raise ValueError(
            "losses must have shape (N, 1 + B) with at least one baseline; got "
            f"{tuple(losses.shape)}."
        )
    if kind == "probability":
        probs = torch.exp(-losses)  # cross-entropy is -log P(true class)
        return probs[:, 0] - probs[:, 1:].mean(dim=1)
    return losses[:, 1:].mean(dim=1) - losses[:, 0]


# ---------------------------------------------------------------------------------------- the tests
@dataclass
class TestResult:
    """One one-sided two-sample test of "the user's scores are larger than the reference's".

    ``method`` is ``"permutation"`` (statistic: the difference of mean scores),
    ``"permutation-stratified"`` (the class-matched mean difference), ``"permutation-matched"``
    (matched on class and chroma), ``"permutation-welch"`` or ``"welch-t"`` (statistic: Welch's t).
    ``p_value`` is the one-sided p-value; ``mean_difference`` the user's mean score minus the
    reference's (class-matched when stratified); ``df`` Welch's degrees of freedom. For a
    permutation test ``null`` holds the statistic of every random relabelling and ``n_permutations``
    their number; the smallest p-value it can report is ``1 / (n_permutations + 1)``.
    """

    __test__ = False  # not a pytest test class, despite the name

    statistic: float
    p_value: float
    mean_difference: float
    n_user: int
    n_reference: int
    method: str
    df: float = float("nan")
    n_permutations: Optional[int] = None
    null: Optional[Tensor] = field(default=None, repr=False)
    # the user's photos set aside for carrying almost no colour (ownership test)
    n_set_aside: int = 0

    def reject(self, alpha: float) -> bool:
        """True when the test rejects H0 at level ``alpha`` (p <= alpha)."""
        return self.p_value <= _check_alpha(alpha)

    @property
    def p_floor(self) -> float:
        """The smallest p-value this test can report (``1 / (B + 1)`` for B permutations, 0 for
        Welch's formula)."""
        return 0.0 if self.n_permutations is None else 1.0 / (self.n_permutations + 1)

    def summary(self) -> str:
        """One line: method, statistic, p-value (with the permutation floor when it is reached) and
        sizes."""
        p = f"p = {self.p_value:.3g}"
        if self.n_permutations is not None and self.p_value <= self.p_floor * (1 + 1e-9):
            p = (
                f"p <= {self.p_value:.3g} (no permutation of {self.n_permutations:,} reached the "
                "observed value)"
            )
        name = "t" if "welch" in self.method else "mean score difference"
        aside = (
            f" ({self.n_set_aside} photo(s) set aside: almost no colour)"
            if self.n_set_aside
            else ""
        )
        return (
            f"{self.method}: {name} = {self.statistic:+.3f}, {p}; user n = {self.n_user}{aside}, "
            f"reference m = {self.n_reference:,}"
        )


def _no_spread(x: Tensor, y: Tensor) -> bool:
    """Both samples constant: Welch's t is +-inf (or 0) and its degrees of freedom undefined."""
    return float(x.var()) == 0.0 and float(y.var()) == 0.0


def _welch(x: Tensor, y: Tensor):
    """``scipy.stats.ttest_ind(equal_var=False, alternative="greater")`` on two checked samples
    with some spread: Welch's t, its Welch-Satterthwaite df and the one-sided p-value."""
    return scipy.stats.ttest_ind(x.numpy(), y.numpy(), equal_var=False, alternative="greater")


def welch_t(x: ArrayLike, y: ArrayLike) -> tuple[float, float]:
    """Welch's t statistic for mean(x) > mean(y) and its Welch-Satterthwaite degrees of freedom.

    ``t = (mean x - mean y) / sqrt(var x / n + var y / m)`` with unbiased variances
    (``scipy.stats.ttest_ind(equal_var=False)``; Welch 1947); needs at least two values in each
    sample. When both variances are 0, t is +-inf (or 0 for equal means) and df is nan.
    """
    x, y = _as_sample(x, "x (user scores)", 2), _as_sample(y, "y (reference scores)", 2)
    if _no_spread(x, y):
        diff = float(x.mean() - y.mean())
        return (0.0 if diff == 0 else math.copysign(math.inf, diff)), float("nan")
    result = _welch(x, y)
    return float(result.statistic), float(result.df)


def welch_t_test(x: ArrayLike, y: ArrayLike) -> TestResult:
    """One-sided Welch t-test of mean(x) > mean(y): x the user's scores, y the reference scores.

    ``scipy.stats.ttest_ind(equal_var=False, alternative="greater")`` (Welch 1947): the p-value
    comes from Student's t with Welch-Satterthwaite degrees of freedom, an approximation that
    assumes the sample means are close to normal. Fast and unlimited in how small p can be, but its
    calibration far in the tail must be measured, not assumed (the per-image scores are skewed;
    lesson 11). Both samples constant: p is 0, 1 or 0.5 as the means compare.
    """
    xs, ys = _as_sample(x, "x (user scores)", 2), _as_sample(y, "y (reference scores)", 2)
    if _no_spread(xs, ys):
        t, df = welch_t(xs, ys)
        p = 0.0 if t > 0 else (1.0 if t < 0 else 0.5)
    else:
        result = _welch(xs, ys)
        t, df, p = float(result.statistic), float(result.df), float(result.pvalue)
    return TestResult(t, p, float(xs.mean() - ys.mean()), len(xs), len(ys), "welch-t", df)


def random_subsets(n_pool: int, size: int, count: int, seed: int = 0) -> Tensor:
    """``count`` independent, uniformly random subsets of ``size`` distinct indices of
    range(``n_pool``): (count, size).

    Each row is one random sub-user (rows may share indices with each other: they are not
    independent).
    """
    for name, v in (("n_pool", n_pool), ("size", size), ("count", count)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be an integer >= 1; got {v!r}.")
    if size > n_pool:
        raise ValueError(f"cannot draw {size} distinct indices from {n_pool}.")
    return torch.from_numpy(_random_subsets(n_pool, size, count, np.random.default_rng(int(seed))))


def _random_subsets(n_pool: int, k: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` independent uniformly random k-subsets of range(n_pool), as a (count, k) int64
    array.

    Few indices from a large pool (k * k <= n_pool): draw them one at a time, the j-th uniformly
    among the n_pool - j indices not drawn yet (the r-th free index: r plus the drawn ones at or
    below it), for all rows at once; O(count * k^2). Otherwise: the k smallest of n_pool uniform
    keys per row; O(count * n_pool). Each row comes out sorted.
    """
    if k == n_pool:
        return np.tile(np.arange(n_pool, dtype=np.int64), (count, 1))
    if k * k > n_pool:
        return np.sort(np.argpartition(rng.random((count, n_pool)), k, axis=1)[:, :k], axis=1)
    drawn = np.empty((count, 0), dtype=np.int64)
    for j in range(k):
        index = rng.integers(0, n_pool - j, size=count, dtype=np.int64)
        for column in drawn.T:  # ascending: each drawn index at or below shifts it up by one
            index += column <= index
        drawn = np.sort(np.column_stack([drawn, index]), axis=1)
    return drawn


#: The most relabellings a permutation test draws: its smallest p-value is then 1e-6, and its null
#: distribution (kept in memory) 8 MB. Lesson 09 uses at most 99,999.
MAX_PERMUTATIONS = 1_000_000


def check_permutations(n_permutations: object, name: str = "n_permutations") -> int:
    """``n_permutations`` as an int in 1 .. :data:`MAX_PERMUTATIONS`, else a one-line ValueError.

    Bounds the memory and time of a permutation test (the p-value floor 1 / (B + 1), lesson 09).
    """
    if (
        not isinstance(n_permutations, (int, np.integer))
        or isinstance(n_permutations, bool)
        or not 1 <= int(n_permutations) <= MAX_PERMUTATIONS
    ):
        raise ValueError(
            f"{name} must be a whole number from 1 to {MAX_PERMUTATIONS:,}; got "
            f"{n_permutations!r} (the smallest p-value is 1/(B+1): 9,999 reaches 0.0001, "
            f"{MAX_PERMUTATIONS - 1:,} reaches 1e-6)."
        )
    return int(n_permutations)


#: How many numbers one chunk of relabellings holds at once (16 MB of float64).
_CHUNK_VALUES = 2_000_000


def _rows_per_chunk(k: int, n_pool: int, total: int) -> int:
    """Relabellings per chunk: as many as fit in ``_CHUNK_VALUES`` (see ``_random_subsets``'s
    cost)."""
    width = k if k * k <= n_pool else n_pool
    return max(1, min(total, _CHUNK_VALUES // width))


def _as_strata(strata: ArrayLike, n: int, name: str) -> Tensor:
    t = strata.detach().cpu() if isinstance(strata, Tensor) else torch.as_tensor(np.asarray(strata))
    if t.dim() != 1 or len(t) != n:
        raise ValueError(
            f"{name} must give one stratum (e.g. class label) per score: shape ({n},); got "
            f"{tuple(t.shape)}."
        )
    if torch.is_floating_point(t) or t.dtype == torch.bool:
        raise TypeError(f"{name} must hold integer labels; got dtype {t.dtype}.")
    return t.long()


def centre_by_stratum(
    x: ArrayLike, x_strata: ArrayLike, y: ArrayLike, y_strata: ArrayLike
) -> Tensor:
    """Each value of ``x`` minus the mean of the ``y`` values in its stratum: the user's scores,
    class-matched.

    With class labels as strata, ``centre_by_stratum(user, user_labels, ref, ref_labels).mean()`` is
    the statistic of the stratified :func:`permutation_test`: how far the user's scores lie above
    those of reference images *of the same classes*. Raises when a stratum of ``x`` has no ``y``
    value.
    """
    xs, ys = _as_sample(x, "x (user scores)"), _as_sample(y, "y (reference scores)")
    xst, yst = _as_strata(x_strata, len(xs), "x_strata"), _as_strata(y_strata, len(ys), "y_strata")
    out = torch.empty_like(xs)
    for c in torch.unique(xst).tolist():
        in_y = yst == c
        if not bool(in_y.any()):
            raise ValueError(
                f"stratum {c} has {int((xst == c).sum())} user value(s) but no reference value; "
                "the reference set must cover every class of the user's images."
            )
        out[xst == c] = xs[xst == c] - ys[in_y].mean()
    return out


def permutation_test(
    x: ArrayLike,
    y: ArrayLike,
    n_permutations: int = 9999,
    seed: int = 0,
    statistic: str = "mean",
    x_strata: Optional[ArrayLike] = None,
    y_strata: Optional[ArrayLike] = None,
    keep_null: bool = True,
) -> TestResult:
    """One-sided Monte Carlo permutation test of "x tends to be larger than y" (x: user, y:
    reference).

    Pools x and y, relabels them at random ``n_permutations`` times (which of the n + m values are
    "the user's") and counts how often the relabelled statistic reaches the observed one:
    ``p = (1 + #{null >= observed}) / (n_permutations + 1)``. If x and y are exchangeable (H0: the
    user's images are just more images the learner never saw) this p-value is exact: P(p <= alpha)
    <= alpha for every alpha and any distribution of the scores, however skewed.

    ``statistic``: ``"mean"`` (the difference of means) or ``"welch"`` (Welch's t; asymptotically
    valid even when only the means agree, Chung & Romano 2013). With ``x_strata``/``y_strata`` (e.g.
    class labels) the relabelling happens within each stratum and the statistic is the class-matched
    mean difference ``mean_i (x_i - mean of y in x_i's stratum)``: exact under the weaker H0 that
    within each class the user's images are exchangeable with the reference's (a user who
    photographs only cats is compared with cats). ``seed`` makes the relabellings reproducible.

    Why not ``scipy.stats.permutation_test``: it gives the same p-value formula but permutes all
    n + m values once per relabelling, in a Python loop; this draws only the smaller group (a
    random k-subset, ``_random_subsets``; the other group's sum is the total minus it) for many
    relabellings at once, 2x to 146x faster at lesson 09's sizes (docs/benchmarks.md,
    ``python -m tools.bench_permutation``), and it relabels within strata, which SciPy's cannot.
    """
    if statistic not in ("welch", "mean"):
        raise ValueError(f"statistic must be 'mean' or 'welch'; got {statistic!r}.")
    if (x_strata is None) != (y_strata is None):
        raise ValueError("give both x_strata and y_strata (one stratum per score), or neither.")
    stratified = x_strata is not None
    if stratified and statistic != "mean":
        raise ValueError(
            "a stratified test uses the class-matched mean difference: use statistic='mean'."
        )
    need = 2 if statistic == "welch" else 1
    xs, ys = _as_sample(x, "x (user scores)", need), _as_sample(y, "y (reference scores)", need)
    n_permutations = check_permutations(n_permutations)
    n, m = len(xs), len(ys)
    xst = _as_strata(x_strata, n, "x_strata") if stratified else torch.zeros(n, dtype=torch.long)
    yst = _as_strata(y_strata, m, "y_strata") if stratified else torch.zeros(m, dtype=torch.long)
    rng = np.random.default_rng(int(seed))

    if statistic == "welch":
        observed, null = _welch_null(xs.numpy(), ys.numpy(), n_permutations, rng)
    else:
        x_np, y_np, xst_np, yst_np = xs.numpy(), ys.numpy(), xst.numpy(), yst.numpy()
        groups = []  # per stratum: pooled values (user's first), n_c, m_c, total
        for c in np.unique(xst_np):
            xc, yc = x_np[xst_np == c], y_np[yst_np == c]
            if len(yc) == 0:
                raise ValueError(
                    f"stratum {int(c)} has {len(xc)} user value(s) but no reference value; "
                    "the reference set must cover every class of the user's images."
                )
            pooled = np.concatenate([xc, yc])
            pooled = pooled - pooled.mean()  # centring keeps the sums accurate
            groups.append((pooled, len(xc), len(yc), float(pooled.sum())))

        def excess(sum_x, n_c: int, m_c: int, total: float):
            # sum over the stratum of (x_i - mean of its y)
            return sum_x - n_c * (total - sum_x) / m_c

        observed = (
            sum(float(excess(p[:n_c].sum(), n_c, m_c, tot)) for p, n_c, m_c, tot in groups) / n
        )
        null = np.zeros(n_permutations)
        chunk = min(
            _rows_per_chunk(min(n_c, m_c), n_c + m_c, n_permutations) for _, n_c, m_c, _ in groups
        )
        for start in range(0, n_permutations, chunk):
            count = min(chunk, n_permutations - start)
            for pooled, n_c, m_c, total in groups:
                k = min(n_c, m_c)  # draw the smaller group; the other is the complement
                s = pooled[_random_subsets(n_c + m_c, k, count, rng)].sum(axis=1)
                if k != n_c:
                    s = total - s
                null[start : start + count] += excess(s, n_c, m_c, total)
        null /= n
    tol = 1e-9 * max(1.0, abs(observed)) if math.isfinite(observed) else 0.0
    p = (1 + int((null >= observed - tol).sum())) / (n_permutations + 1)
    null = torch.from_numpy(null)
    if statistic == "welch":
        method, effect, df = "permutation-welch", float(xs.mean() - ys.mean()), welch_t(xs, ys)[1]
    else:
        method, effect, df = (
            ("permutation-stratified" if stratified else "permutation"),
            observed,
            float("nan"),
        )
    return TestResult(
        observed, p, effect, n, m, method, df, n_permutations, null if keep_null else None
    )


def _welch_null(
    xs: np.ndarray, ys: np.ndarray, n_permutations: int, rng: np.random.Generator
) -> tuple[float, np.ndarray]:
    """Observed Welch t of (xs, ys) and its permutation null (no strata)."""
    n, m = len(xs), len(ys)
    pooled = np.concatenate([xs, ys])
    pooled = pooled - pooled.mean()
    n_all, total, total_sq = n + m, float(pooled.sum()), float((pooled**2).sum())
    k = min(n, m)

    def t_from(sum_x: np.ndarray, sq_x: np.ndarray) -> np.ndarray:
        sum_y, sq_y = total - sum_x, total_sq - sq_x
        mean_x, mean_y = sum_x / n, sum_y / m
        var_x = np.maximum((sq_x - n * mean_x**2) / (n - 1), 0.0)
        var_y = np.maximum((sq_y - m * mean_y**2) / (m - 1), 0.0)
        se, diff = np.sqrt(var_x / n + var_y / m), mean_x - mean_y
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(se > 0, diff / np.where(se > 0, se, 1.0), np.sign(diff) * np.inf)

    observed = float(t_from(np.array([pooled[:n].sum()]), np.array([(pooled[:n] ** 2).sum()]))[0])
    chunk = _rows_per_chunk(k, n_all, n_permutations)
    parts = []
    for start in range(0, n_permutations, chunk):
        count = min(chunk, n_permutations - start)
        vals = pooled[_random_subsets(n_all, k, count, rng)]
        s, sq = vals.sum(axis=1), (vals**2).sum(axis=1)
        if k != n:  # we drew the reference group: the user's group is the rest
            s, sq = total - s, total_sq - sq
        parts.append(t_from(s, sq))
    return observed, np.concatenate(parts)


#: Photos whose largest possible mark changes them by less than this (mean RGB change per pixel of a
#: 180-degree rotation, halved; in [0, 1] units, ~2.5 / 255) carry almost no evidence: set aside.
MIN_CHROMA = 0.01
#: At most this many chroma bins per class in the matched test (fewer when the reference is small).
CHROMA_BINS = 20


def chroma(
    images: Tensor, color_space: Optional[Tensor] = None, batch_size: Optional[int] = None
) -> Tensor:
    """How much colour each photo has for the mark to rotate: a float64 tensor of shape (N,), in [0,
    1].

    The mean over pixels of |g_180(I) - I| / 2 (Euclidean RGB distance, clipped to [0, 1] as the
    mark is), in the user's colour space (default YIQ). Without clipping it is the length of the
    pixel's chroma vector (I, Q) mapped back to RGB; a hue rotation by k moves a pixel by 2 sin(k/2)
    times it. Grey photos have chroma 0: the mark cannot change them, and their eq. 6 losses are
    equal at every k.
    """
    check_float_images(images)
    if images.dim() != 4:
        raise ValueError(f"images must be a batch (N, 3, H, W); got shape {tuple(images.shape)}.")
    half_turn = lct_matrix(180.0, color_space)
    if batch_size is None:  # three float64 copies of each photo: within PASS_MEMORY_BYTES
        per_photo = 3 * 8 * images[0].numel() if len(images) else 1
        batch_size = max(1, min(MAX_BATCH, PASS_MEMORY_BYTES // per_photo))
    out = torch.empty(len(images), dtype=torch.float64)
    for start in range(0, len(images), batch_size):
        x = images[start : start + batch_size].double().cpu()
        moved = apply_color_matrix(x, half_turn.double(), clip=True) - x
        out[start : start + len(x)] = moved.pow(2).sum(dim=1).sqrt().mean(dim=(1, 2)) / 2
    return out


def chroma_strata(
    user_labels: ArrayLike,
    user_chroma: ArrayLike,
    reference_labels: ArrayLike,
    reference_chroma: ArrayLike,
    max_bins: int = CHROMA_BINS,
) -> tuple[Tensor, Tensor]:
    """Strata "same class, similar chroma" for the user's and the reference photos: (user strata,
    reference strata).

    Within each class c with n_c user and m_c reference photos, all n_c + m_c photos are ranked by
    chroma and cut into ``b = min(max_bins, (n_c + m_c) // (2 n_c))`` (at least 1) bins of equal
    size, so every bin holds at least as many reference photos as the user could have there (when
    the class has at least as many reference photos as user photos; at least one in any case). The
    bins depend only on the pooled photos and the counts, never on which photos are the user's, so
    relabelling within strata keeps the permutation test exact. Reference photos of classes the user
    lacks get strata of their own (unused).
    """
    if not isinstance(max_bins, int) or isinstance(max_bins, bool) or max_bins < 1:
        raise ValueError(f"max_bins must be an integer >= 1; got {max_bins!r}.")
    uc, rc = (
        _as_sample(user_chroma, "user_chroma"),
        _as_sample(reference_chroma, "reference_chroma"),
    )
    ul, rl = (
        _as_strata(user_labels, len(uc), "user_labels"),
        _as_strata(reference_labels, len(rc), "reference_labels"),
    )
    classes = torch.unique(torch.cat([ul, rl]))
    offset = int(classes.min()) if len(classes) else 0
    xs, ys = torch.empty(len(uc), dtype=torch.long), torch.empty(len(rc), dtype=torch.long)
    for c in classes.tolist():
        in_u, in_r = ul == c, rl == c
        n_c, m_c = int(in_u.sum()), int(in_r.sum())
        base = (c - offset) * (max_bins + 1)
        if n_c == 0:
            ys[in_r] = base + max_bins  # a class the user does not have
            continue
        pooled = torch.cat([uc[in_u], rc[in_r]])
        bins = max(1, min(max_bins, (n_c + m_c) // (2 * n_c)))
        rank = torch.empty(n_c + m_c, dtype=torch.long)
        rank[torch.argsort(pooled, stable=True)] = torch.arange(n_c + m_c)
        which = rank * bins // (n_c + m_c)
        xs[in_u], ys[in_r] = base + which[:n_c], base + which[n_c:]
    return xs, ys


def matched_permutation_test(
    user_scores: ArrayLike,
    user_labels: ArrayLike,
    user_chroma: ArrayLike,
    reference_scores: ArrayLike,
    reference_labels: ArrayLike,
    reference_chroma: ArrayLike,
    n_permutations: int = 9999,
    seed: int = 0,
    min_chroma: float = MIN_CHROMA,
    max_bins: int = CHROMA_BINS,
    keep_null: bool = True,
) -> TestResult:
    """The ownership test's permutation test on precomputed scores: same class, similar chroma.

    Photos with chroma below ``min_chroma`` are set aside on both sides (they carry almost no
    evidence: the mark barely changes them, so their score is near 0 whatever the model learned);
        the rest are
    compared within the strata of :func:`chroma_strata`. Why chroma: the score of a photo the model
    never saw shrinks with its colour (exactly 0 for grey) while colourful reference photos score
    below 0 (the model prefers photos unrotated), so a user with faded or black-and-white photos
    would look "above the reference" without any watermark. Raises ValueError when fewer than 2 of
    the user's photos carry colour: the test is then inconclusive. ``result.n_set_aside`` counts the
    user's photos set aside.
    """
    us, rs = (
        _as_sample(user_scores, "user_scores"),
        _as_sample(reference_scores, "reference_scores"),
    )
    uc, rc = (
        _as_sample(user_chroma, "user_chroma"),
        _as_sample(reference_chroma, "reference_chroma"),
    )
    if len(uc) != len(us) or len(rc) != len(rs):
        raise ValueError(
            f"need one chroma per score: {len(us)} user scores and {len(uc)} chroma values, "
            f"{len(rs)} reference scores and {len(rc)} chroma values."
        )
    ul, rl = (
        _as_strata(user_labels, len(us), "user_labels"),
        _as_strata(reference_labels, len(rs), "reference_labels"),
    )
    keep_u, keep_r = uc >= min_chroma, rc >= min_chroma
    if int(keep_u.sum()) < 2:
        raise ValueError(
            f"only {int(keep_u.sum())} of the user's {len(us)} photos carry enough colour for the "
            f"mark (chroma >= {min_chroma:g}; grey, black-and-white or faded photos carry almost "
            "none): the ownership test is inconclusive with them. Bring colour photos."
        )
    if int(keep_r.sum()) < 2:
        raise ValueError(
            f"only {int(keep_r.sum())} of the {len(rs)} reference photos carry enough colour "
            f"(chroma >= {min_chroma:g}); give colour reference photos."
        )
    xs, ys = chroma_strata(ul[keep_u], uc[keep_u], rl[keep_r], rc[keep_r], max_bins)
    result = permutation_test(
        us[keep_u], rs[keep_r], n_permutations, seed, "mean", xs, ys, keep_null
    )
    result.method = "permutation-matched"
    result.n_set_aside = len(us) - int(keep_u.sum())
    return result


def ownership_test(
    model: nn.Module,
    images: Tensor,
    labels: Tensor,
    reference_images: Tensor,
    reference_labels: Tensor,
    key: float,
    baseline: Sequence[float] = (0.0,),
    color_space: Optional[Tensor] = None,
    method: str = "permutation",
    stratify: bool = True,
    n_permutations: int = 9999,
    seed: int = 0,
    min_chroma: float = MIN_CHROMA,
    chroma_bins: int = CHROMA_BINS,
) -> TestResult:
    """Test H0 "``model`` never trained on these images watermarked with ``key``" and return its
    p-value.

    ``images``/``labels`` are the user's clean photos; ``reference_images``/``reference_labels`` are
    photos of the same kind that the learner certainly never saw (e.g. public test images), disjoint
    from the user's (checked: a shared image raises) and covering the user's classes. Both are
    scored with
    :func:`key_scores`. Photos with almost no colour (:func:`chroma` below ``min_chroma``) are set
    aside on both sides; then (``method="permutation"``, ``stratify=True``, the default) the
    **matched** permutation test compares the user's photos with reference photos of the same class
    and similar chroma (:func:`matched_permutation_test`, exact under H0 within those strata).
    ``stratify=False`` compares with all reference photos (invalid for one-class or washed-out
    users; lesson 09 shows why); ``method="welch"`` runs the Welch t-test (never stratified, for
    comparison).

    ``key`` is the user's claimed key, fixed before looking at the model (refused within 15 degrees
    of 0, ``_checks.check_user_key``); testing at the k_hat of a grid search instead picks the best
    of 11 slots and needs a correction (Bonferroni: p x 11).

    The paper (Sec. 4.2, eq. 6) only reads the argmin k_hat; this test is the course's addition, and
    its chroma matching is the course's answer to faded and black-and-white photos, which the score
    P(y | g_k*(I)) - P(y | I) cannot judge (it is 0 for a grey photo whatever the model learned).
    Raises ValueError when fewer than 2 of the user's photos carry colour (inconclusive).
    """
    if method not in ("permutation", "welch"):
        raise ValueError(f"method must be 'permutation' or 'welch'; got {method!r}.")
    key = check_user_key(key)
    check_labelled_batch(images, labels, "images")
    check_labelled_batch(reference_images, reference_labels, "reference_images")
    if len(images) < 2 or len(reference_images) < 2:
        raise ValueError(
            f"need at least 2 user images and 2 reference images; got {len(images)} and "
            f"{len(reference_images)}."
        )
    shared = int(appears_in(images, reference_images).sum())
    if shared:
        raise ValueError(
            f"{shared} of the user's images also appear in the reference set; the reference must "
            "be images the user does not own (disjoint), or the test compares the user with "
            "themselves."
        )
    user = key_scores(model, images, labels, key, baseline, color_space)
    reference = key_scores(model, reference_images, reference_labels, key, baseline, color_space)
    u_chroma, r_chroma = chroma(images, color_space), chroma(reference_images, color_space)
    if method == "permutation" and stratify:
        return matched_permutation_test(
            user,
            labels,
            u_chroma,
            reference,
            reference_labels,
            r_chroma,
            n_permutations,
            seed,
            min_chroma,
            chroma_bins,
        )
    keep_u, keep_r = u_chroma >= min_chroma, r_chroma >= min_chroma
    if int(keep_u.sum()) < 2 or int(keep_r.sum()) < 2:
        raise ValueError(
            f"only {int(keep_u.sum())} of the user's and {int(keep_r.sum())} of the reference "
            f"photos carry enough colour (chroma >= {min_chroma:g}); need 2 of each: the test is "
            "inconclusive."
        )
    if method == "welch":
        result = welch_t_test(user[keep_u], reference[keep_r])
    else:
        result = permutation_test(user[keep_u], reference[keep_r], n_permutations, seed, "mean")
    result.n_set_aside = len(user) - int(keep_u.sum())
    return result


# -------------------------------------------------------------------------------------- calibration
def rejection_rate(p_values: ArrayLike, alpha: float) -> float:
    """Fraction of tests that reject at level ``alpha`` (p <= alpha): the false-positive rate over
    innocent cases."""
    p = _check_p_values(p_values)
    return float((p <= _check_alpha(alpha)).double().mean())


@dataclass(frozen=True)
class Rate:
    """A rate measured as a count: ``count`` of ``n`` tests rejected, with the exact
    (Clopper-Pearson) interval ``(low, high)`` of the rate at ``confidence`` and, for a
    false-positive rate, the level ``alpha`` the tests were run at (None otherwise).

    The one count-with-interval of the package: lesson 11's false accusations
    (``calibration.false_positive_rate``) and lesson 10's kept-twin rejections
    (``twins.rejections``) are both this. Beyond the paper (Sec. 4.2 reads eq. 6's argmin only).
    """

    count: int
    n: int
    low: float
    high: float
    confidence: float = 0.95
    alpha: Optional[float] = None

    @classmethod
    def from_counts(
        cls, count: int, n: int, confidence: float = 0.95, alpha: Optional[float] = None
    ) -> Rate:
        """``count`` of ``n`` with its exact (Clopper-Pearson) interval at ``confidence``
        (``scipy.stats.binomtest(count, n).proportion_ci(method="exact")``); ``alpha``: the level
        a false-positive count was measured at, which :attr:`consistent` compares with."""
        whole = all(isinstance(x, numbers.Integral) and not isinstance(x, bool) for x in (count, n))
        if not whole or not 0 <= count <= n or n < 1:
            raise ValueError(f"need whole counts with 0 <= count <= n and n >= 1; got {count}/{n}.")
        if not 0.0 < float(confidence) < 1.0:
            raise ValueError(f"confidence must lie in (0, 1); got {confidence}.")
        if alpha is not None:
            alpha = _check_alpha(alpha)
        ci = scipy.stats.binomtest(count, n).proportion_ci(float(confidence), method="exact")
        return cls(count, n, float(ci.low), float(ci.high), float(confidence), alpha)

    @property
    def rate(self) -> float:
        """The measured rate, count / n."""
        return self.count / self.n

    @property
    def consistent(self) -> bool:
        """Whether the interval contains rates at or below ``alpha`` (a calibrated test's)."""
        if self.alpha is None:
            raise ValueError(
                "this rate has no level alpha to compare with; build it with "
                "Rate.from_counts(count, n, alpha=...)."
            )
        return self.low <= self.alpha

    def summary(self) -> str:
        """One line: count, rate and interval, e.g. ``2/5 (40.0%; 95% CI 5.3%-85.3%)``."""
        return (
            f"{self.count}/{self.n} ({self.rate:.1%}; {self.confidence:.0%} CI "
            f"{self.low:.1%}-{self.high:.1%})"
        )


def allowed_rejections(n_tests: int, alpha: float, risk: float = 0.001) -> int:
    """The most rejections a calibrated level-``alpha`` test allows over ``n_tests`` independent
    innocent cases.

    The smallest r with P(Binomial(n_tests, alpha) > r) <= ``risk``: a correct test exceeds r with
    probability at most ``risk``. That is the binomial's inverse survival function,
    ``scipy.stats.binom.isf(risk, n_tests, alpha)`` (the course's test, lesson 11; beyond
    the paper). (Tests that share a reference set are not independent; their count spreads more
    than a binomial - see the lesson.)
    """
    _check_alpha(alpha)
    _check_alpha(risk, "risk")
    if not isinstance(n_tests, int) or isinstance(n_tests, bool) or n_tests < 1:
        raise ValueError(f"n_tests must be an integer >= 1; got {n_tests!r}.")
    return int(scipy.stats.binom.isf(risk, n_tests, alpha))


def roc_curve(
    negative_scores: ArrayLike, positive_scores: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    """False- and true-positive rates of the rule "score >= threshold" for every threshold (higher:
    more suspicious).

    ``negative_scores`` are the innocent cases' scores, ``positive_scores`` the watermarked ones'.
    Returns ``(fpr, tpr)``, both starting at (0, 0) and ending at (1, 1), sorted by increasing FPR:
    one point per distinct score, as ``sklearn.metrics.roc_curve(drop_intermediate=False)`` (not a
    dependency: two sorted searches do it). Its area is :func:`auc`. LiRA (Carlini et al. 2022)
    reads such curves at low FPR (lesson 09, section 5).
    """
    neg = _as_sample(negative_scores, "negative_scores").numpy()
    pos = _as_sample(positive_scores, "positive_scores").numpy()
    thresholds = np.unique(np.concatenate([neg, pos]))[::-1]
    neg_sorted, pos_sorted = np.sort(neg), np.sort(pos)
    # share >= threshold
    fpr = 1.0 - np.searchsorted(neg_sorted, thresholds, side="left") / len(neg)
    tpr = 1.0 - np.searchsorted(pos_sorted, thresholds, side="left") / len(pos)
    return np.concatenate([[0.0], fpr]), np.concatenate([[0.0], tpr])


def auc(negative_scores: ArrayLike, positive_scores: ArrayLike) -> float:
    """Area under :func:`roc_curve`: the probability that a random positive scores above a random
    negative, ties counting half.

    That is the Mann-Whitney U statistic of the positives over n m (Hanley & McNeil 1982), from
    ``scipy.stats.mannwhitneyu``. The package's one AUC: lesson 10's detector
    (``adaptive.detection_by_key``) reads it. 0.5 is chance, 1 a perfect separation.
    """
    neg = _as_sample(negative_scores, "negative_scores").numpy()
    pos = _as_sample(positive_scores, "positive_scores").numpy()
    u = scipy.stats.mannwhitneyu(pos, neg, alternative="greater").statistic
    return float(u) / (len(neg) * len(pos))


def tpr_at_fpr(negative_scores: ArrayLike, positive_scores: ArrayLike, fpr: float) -> float:
    """True-positive rate at a false-positive rate of at most ``fpr`` (LiRA's metric), measured, not
    extrapolated.

    The threshold is the smallest that lets at most ``floor(fpr * len(negatives))`` innocent cases
    score above it; the TPR is the share of positives strictly above it. Raises when there are fewer
    than ``1 / fpr`` negatives: with them a rate that low cannot be measured.
    """
    fpr = _check_alpha(fpr, "fpr")
    neg = _as_sample(negative_scores, "negative_scores").numpy()
    pos = _as_sample(positive_scores, "positive_scores").numpy()
    allowed = math.floor(fpr * len(neg) + 1e-9)
    if allowed < 1:
        raise ValueError(
            f"cannot measure the TPR at FPR {fpr:g} with {len(neg)} innocent cases: need at least "
            f"{math.ceil(1 / fpr)} (one false positive at that rate)."
        )
    # exactly `allowed` negatives lie strictly above it (ties: fewer)
    threshold = np.sort(neg)[::-1][allowed]
    return float((pos > threshold).mean())


# --------------------------------------------------------------------------------------- many tests
def bonferroni(p_values: ArrayLike, alpha: float = 0.05) -> Tensor:
    """Which of m tests reject with the Bonferroni correction (p <= alpha / m); family-wise error <=
    alpha (Dunn 1961; lesson 09, section 6). One comparison: no library call needed."""
    p = _check_p_values(p_values)
    return p <= _check_alpha(alpha) / len(p)


def holm(p_values: ArrayLike, alpha: float = 0.05) -> Tensor:
    """Which of m tests reject with Holm's step-down correction; family-wise error <= alpha under
    any dependence.

    Sort the p-values p_(1) <= ... <= p_(m); reject while p_(j) <= alpha / (m - j + 1) and stop at
    the first that fails (Holm 1979). Rejects everything Bonferroni rejects, and sometimes more.

    Hand-written because exercise 9.3 teaches it and checks the student's version against this
    one, and because no dependency has it: ``scipy.stats.false_discovery_control`` is
    Benjamini-Hochberg (a false-discovery rate, not family-wise), and statsmodels'
    ``multipletests(method="holm")`` is not a dependency. Tested against Holm's adjusted p-values.
    """
    p = _check_p_values(p_values)
    alpha = _check_alpha(alpha)
    m = len(p)
    order = torch.argsort(p, stable=True)
    thresholds = alpha / (m - torch.arange(m, dtype=torch.float64))
    passed = p[order] <= thresholds
    n_reject = m if bool(passed.all()) else int((~passed).nonzero()[0])
    reject = torch.zeros(m, dtype=torch.bool)
    reject[order[:n_reject]] = True
    return reject
