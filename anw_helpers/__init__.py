"""anw_helpers: the helper package of the Anti-Neuron Watermarking course.

One module per idea; lessons import what they use, e.g. ``from anw_helpers import color``.

- The paper: ``color`` (the LCT watermark, eq. 3-5), ``datasets`` (CIFAR-10, CUB-200, your
  photos), ``users`` (who watermarks what, Sec. 3, 5.1, 5.4; ``data`` re-exports both), ``models``,
  ``augment`` (batch-wise augmentation), ``recipe`` (a learner's data setting and training recipe,
  Sec. 5.1), ``train`` (``fit`` with a recipe; the learner, load-or-train), ``verify`` (the
  arbitrator, eq. 6), ``defences`` (Sec. 5.3), ``membership`` (Sec. 5.5), ``memorisation``
  (Sec. 5.6), ``tracing`` (radioactive data, Table 1).
- Beyond the paper: ``stats`` (the calibrated ownership test of lesson 09), ``calibration``
  (its false-positive rate over innocent users, lesson 09's section 4), ``claims`` (what a
  verification may claim: the key test and one decision for every verdict line), ``adaptive``
  (lesson 10: learners that fight back, a detector of marked photos, a blend mark to compare),
  ``twins`` (kept twins: each photo marked twice, one published, the other the user's null).
- Running the course: ``profiles`` (compute profiles), ``runtime`` (device and precision),
  ``precision_probe`` (a CPU's fp32 and bf16 training rates, measured once and cached),
  ``throughput`` (training images per second here), ``paths`` (data and cache folders),
  ``checkpoint`` (save, validated load, load-or-train: the model cache), ``pretrained`` (the
  model cache filled from one archive named by ``ANW_PRETRAINED``), ``memory`` (batch
  sizes known in advance: one photo's pass measured on the meta device), ``progress`` (bars on
  stderr for long runs of ``anw``),
  ``_checks`` (input validation shared by every module), ``sweep`` (a grid of learners on
  submitit: ``python -m tools.sweep GRID.toml``), ``distributed`` (one learner on several
  GPUs: ``torchrun ... -m tools.distributed``).
- Showing it: ``plots`` (a package: every figure and result table of the lessons, one call each,
  by topic), ``widgets`` (sliders around the figures).
- Your own photos: ``photos`` (one way to open, list and mark a photo), ``cli`` (the ``anw``
  command).

Instructors' tooling (student copies, sync, run-all, benchmarks) is not installed: it lives in the
repository's ``tools/`` (``python -m tools.course --help``).
"""

from .runtime import flush_denormals, use_rate_probe

flush_denormals()  # before any thread pool starts: fp32 training on denormals is 10-20x slower
from . import color, data, paths, precision_probe  # noqa: E402

# The precision choice on a CPU with bf16 flags times train's step: runtime, a foundation, gets the
# probe from here rather than importing a module above it.
use_rate_probe(precision_probe.rates_here)

__version__ = "0.1.0"
__all__ = ["color", "data", "paths", "__version__"]
