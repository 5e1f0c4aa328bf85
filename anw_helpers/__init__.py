"""anw_helpers: the helper package of the Anti-Neuron Watermarking course.

One module per idea: ``color`` (the LCT watermark, eq. 3-5), ``data`` (datasets and users),
``models``, ``train`` (the learner, load-or-train), ``profiles`` (compute profiles), ``verify`` (the
arbitrator, eq. 6), ``plots`` and ``widgets``. Lessons import what they use, e.g.
``from anw_helpers import color``.
"""
from .runtime import flush_denormals

flush_denormals()  # before any thread pool starts: fp32 training on denormals is 10-20x slower
from . import color, data, paths  # noqa: E402

__version__ = "0.1.0"
__all__ = ["color", "data", "paths", "__version__"]
