"""The course's one plotting home: every figure and result table a lesson shows is one call here.

Nothing here trains, caches or keeps state: call a function with tensors (or the lessons' result
objects), get a matplotlib ``Figure`` (closed in pyplot, shown once by ``display`` or as a cell's
last value) or a Markdown string back. Under each figure a pure function computes what is drawn, so
tests and scripts check the numbers headless. The widgets in :mod:`anw_helpers.widgets` only wrap
these functions with sliders.

Modules, by topic (every public name is also available here, ``plots.show_images``):

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

from .adaptive import (
    jpeg_survival_table,
    mark_comparison_table,
    mark_verdict_table,
    plot_detection,
    plot_mark_curves,
    plot_marks,
    recipes_table,
)
from .chroma import plot_iq_plane, plot_watermark_explorer
from .comparison import (
    METHOD_COLORS,
    plot_memorisation,
    plot_mia_thresholds,
    plot_protection_advantage,
)
from .core import finish_figure, to_display
from .evidence import (
    SCORE_BINS,
    null_title,
    plot_calibration,
    plot_null_distribution,
    plot_p_by_photos,
    plot_roc,
    plot_score_histograms,
    rejection_curve,
    score_density,
)
from .images import plot_channels, sample_portrait, show_grid, show_images
from .many_users import (
    MATCHING_LINES,
    matching_curves,
    plot_matching_accuracy,
    plot_user_loss_curves,
    user_loss_curves,
)
from .measurements import plot_histograms, plot_per_signature, plot_training_record
from .signatures import (
    key_colors,
    loss_offsets,
    panel_title,
    plot_gradient_search,
    plot_loss_overlay,
    plot_loss_panels,
    plot_signature_losses,
    plot_signature_slots,
)
from .tables import (
    PAPER_TABLE1,
    capacity_table,
    comparison_table,
    cost_table,
    markdown_table,
    matching_table,
    mean_sd,
    results_table,
    settings_list,
    tracing_table,
    variants_table,
    verdict_table,
    yes_no,
)

__all__ = [
    # core, images, chroma, measurements
    "finish_figure",
    "to_display",
    "sample_portrait",
    "show_images",
    "show_grid",
    "plot_channels",
    "plot_iq_plane",
    "plot_watermark_explorer",
    "plot_per_signature",
    "plot_histograms",
    "plot_training_record",
    # signatures: eq. 6's loss curves
    "plot_signature_slots",
    "loss_offsets",
    "plot_signature_losses",
    "key_colors",
    "plot_loss_overlay",
    "panel_title",
    "plot_loss_panels",
    "plot_gradient_search",
    # many users (lesson 07)
    "MATCHING_LINES",
    "matching_curves",
    "plot_matching_accuracy",
    "user_loss_curves",
    "plot_user_loss_curves",
    # comparison (lesson 08)
    "METHOD_COLORS",
    "plot_mia_thresholds",
    "plot_protection_advantage",
    "plot_memorisation",
    # evidence (lesson 09)
    "SCORE_BINS",
    "score_density",
    "plot_score_histograms",
    "null_title",
    "plot_null_distribution",
    "rejection_curve",
    "plot_calibration",
    "plot_p_by_photos",
    "plot_roc",
    # adaptive learners (lesson 10)
    "plot_marks",
    "plot_mark_curves",
    "plot_detection",
    "recipes_table",
    "mark_verdict_table",
    "jpeg_survival_table",
    "mark_comparison_table",
    # tables
    "markdown_table",
    "yes_no",
    "mean_sd",
    "settings_list",
    "verdict_table",
    "cost_table",
    "capacity_table",
    "variants_table",
    "results_table",
    "matching_table",
    "PAPER_TABLE1",
    "tracing_table",
    "comparison_table",
]
