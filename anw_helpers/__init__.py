"""anw_helpers: the helper package of the Anti-Neuron Watermarking course.

One module per idea; lessons import what they use, e.g. ``from anw_helpers import color``. The top
level is the teaching core; what runs the lessons sits in two subpackages (the README's module map
gives each module's size).

- The paper: ``color`` (the LCT watermark, eq. 3-5), ``datasets`` (CIFAR-10, CUB-200, your
  photos), ``photos`` (opening and listing photos on disk), ``users`` (who watermarks what, Sec. 3,
  5.1, 5.4; ``data`` re-exports both), ``models``, ``augment`` (batch-wise augmentation),
  ``recipe`` (a learner's data setting and training recipe, Sec. 5.1), ``profiles`` (the compute
  profiles), ``train`` (``fit`` with a recipe; the learner, load-or-train), ``verify`` (the
  arbitrator, eq. 6), ``defences`` (Sec. 5.3), ``membership`` (Sec. 5.5), ``memorisation``
  (Sec. 5.6), ``tracing`` (radioactive data, Table 1).
- Beyond the paper: ``stats`` (the calibrated ownership test of lesson 09), ``calibration``
  (its false-positive rate over innocent users, lesson 11), ``claims`` (what a
  verification may claim: the key test and one decision for every verdict line), ``adaptive``
  (lesson 10: learners that fight back, a detector of marked photos, a blend mark to compare),
  ``twins`` (kept twins: each photo marked twice, one published, the other the user's null).
- Showing it: ``plots`` (a package: every figure and result table of the lessons, one call each,
  by topic), ``widgets`` (sliders around the figures).
- ``machinery`` (a subpackage, not taught): ``runtime`` (device, precision, the lessons' banner),
  ``precision_probe`` (a CPU's fp32 and bf16 training rates, measured once and cached; handed to
  ``runtime`` below), ``throughput`` (training images per second here), ``paths`` (data and cache
  folders), ``checkpoint`` (save, validated load, load-or-train: the model cache), ``pretrained``
  (the model cache filled from one archive named by ``ANW_PRETRAINED``), ``memory`` (batch sizes
  known in advance), ``progress`` (bars on stderr), ``_checks`` (input validation).
- ``photo_cli`` (a subpackage no lesson imports): the ``anw`` command, marking and verifying your
  own photos.

Instructors' tooling is not installed: it lives in the repository's ``tools/``, run from a clone:
``python -m tools.course --help``, the sweep runner ``python -m tools.sweep GRID.toml`` and one
learner on several GPUs ``torchrun ... -m tools.distributed``.
"""

from .machinery.runtime import flush_denormals, use_rate_probe

flush_denormals()  # before any thread pool starts: fp32 training on denormals is 10-20x slower
from . import color, data  # noqa: E402
from .machinery import precision_probe  # noqa: E402

# The precision choice on a CPU with bf16 flags times train's step: machinery.runtime, a foundation,
# gets the probe from here rather than importing a module above it.
use_rate_probe(precision_probe.rates_here)

__version__ = "0.1.0"
__all__ = ["color", "data", "__version__"]
