"""The course's one plotting home: every figure and result table a lesson shows is one call here.

Nothing here trains, caches or keeps state: call a function with tensors (or the lessons' result
objects), get a matplotlib ``Figure`` (closed in pyplot, shown once by ``display`` or as a cell's
last value) or a Markdown string back. Under each figure a pure function computes what is drawn, so
tests and scripts check the numbers headless. The widgets in :mod:`anw_helpers.widgets` only wrap
these functions with sliders.

Modules, by topic (every name in a module's ``__all__`` is also available here,
``plots.show_images``; this package's ``__all__`` is built from theirs):

- ``core``: ``finish_figure``, ``to_display`` and the image panel every figure shares;
- ``images``: the sample portrait, rows and galleries of photos, colour channels (lessons 01-02);
- ``chroma``: the I-Q plane and the watermark explorer (eq. 3-5, lesson 01);
- ``measurements``: values per signature, histograms, a training record (lessons 01-03);
- ``signatures``: the signature slots and eq. 6's loss curves, alone, overlaid or in panels, and
  the gradient search (lessons 02, 04-06);
- ``many_users``: Fig. 5a and every user's loss curve (lesson 07);
- ``comparison``: Fig. 5b-c and memorisation (lesson 08);
- ``evidence``: scores, null distribution, calibration, p against photos, ROC (lesson 09);
- ``tables``: the Markdown result tables of lessons 05-08;
- ``adaptive``: the marks side by side, eq. 6 per learner, the detector's AUC and the tables of
  lesson 10.
"""

from . import (
    adaptive,
    chroma,
    comparison,
    core,
    evidence,
    images,
    many_users,
    measurements,
    signatures,
    tables,
)
from .adaptive import *  # noqa: F403
from .chroma import *  # noqa: F403
from .comparison import *  # noqa: F403
from .core import *  # noqa: F403
from .evidence import *  # noqa: F403
from .images import *  # noqa: F403
from .many_users import *  # noqa: F403
from .measurements import *  # noqa: F403
from .signatures import *  # noqa: F403
from .tables import *  # noqa: F403

#: The submodules whose ``__all__`` make this package's, in the order of the list above.
_SUBMODULES = (
    core,
    images,
    chroma,
    measurements,
    signatures,
    many_users,
    comparison,
    evidence,
    tables,
    adaptive,
)

__all__ = [name for module in _SUBMODULES for name in module.__all__]
