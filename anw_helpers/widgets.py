"""Interactive explorers: ipywidgets controls around the pure plotting functions of
:mod:`anw_helpers.plots`.

Every widget here is an :class:`InteractiveFigure`: a row of controls above an output area. When a
control's value changes (a student drags a slider, or code sets ``control.value``), the pure
plotting function is called again with the controls' current values and the new figure replaces the
old one. The latest figure is kept in ``.figure`` and the number of draws in ``.draw_count``, so a
test can build a widget, set a slider, and check that the figure was redrawn, all without a browser.

In JupyterLab and Colab the widget is interactive; executed headless (nbval, CI) it builds, draws
its first figure, and raises nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, Callable, Optional

import ipywidgets
import matplotlib.pyplot as plt
import torch
from IPython import get_ipython
from IPython.display import clear_output, display
from matplotlib.figure import Figure
from torch import Tensor

from . import color, plots
from .machinery.runtime import in_colab

__all__ = [
    "InteractiveFigure",
    "default_color_spaces",
    "signature_slider",
    "watermark_explorer",
    "signature_slots_explorer",
]


_colab_widgets_enabled = False


def _enable_colab_widgets() -> None:
    """In Colab, switch on its custom widget manager once (third-party widgets need it); a no-op
    elsewhere."""
    global _colab_widgets_enabled
    if _colab_widgets_enabled:
        return
    _colab_widgets_enabled = True
    if in_colab():
        try:
            from google.colab import output

            output.enable_custom_widget_manager()
        except Exception:  # noqa: BLE001 - an older Colab: widgets may still render with the default manager
            pass


class InteractiveFigure(ipywidgets.VBox):
    """Controls above an output area that shows ``plot_fn(**fixed, **{name: control.value})``.

    Args:
        plot_fn: a pure function that returns a matplotlib Figure.
        controls: keyword name -> an ipywidgets value widget (slider, dropdown...); the keyword is
            passed to ``plot_fn`` with the widget's value.
        fixed: further keyword arguments passed unchanged on every draw.

    Attributes:
        controls: the controls, by keyword.
        output: the ipywidgets Output the figure is displayed in.
        figure: the figure drawn last (a matplotlib Figure).
        draw_count: how many times the figure was drawn (1 after construction).
    """

    def __init__(
        self,
        plot_fn: Callable[..., Figure],
        controls: Mapping[str, ipywidgets.ValueWidget],
        fixed: Optional[Mapping[str, Any]] = None,
    ) -> None:
        _enable_colab_widgets()
        super().__init__()
        self.plot_fn = plot_fn
        self.controls = dict(controls)
        self.fixed = dict(fixed or {})
        self.output = ipywidgets.Output()
        self.figure: Optional[Figure] = None
        self.draw_count = 0
        self.children = [ipywidgets.HBox(list(self.controls.values())), self.output]
        for control in self.controls.values():
            control.observe(self._on_change, names="value")
        self.redraw()

    def values(self) -> dict[str, Any]:
        """The keyword arguments of the next draw: the fixed ones and each control's current
        value."""
        return {**self.fixed, **{name: c.value for name, c in self.controls.items()}}

    def redraw(self) -> Figure:
        """Call the plotting function with the current values and show its figure in place of the
        last one."""
        figure = self.plot_fn(**self.values())
        previous, self.figure = self.figure, figure
        self.draw_count += 1
        # in a notebook; headless (tests, scripts) there is nothing to show
        if get_ipython() is not None:
            with self.output:
                clear_output(wait=True)
                display(figure)
        if previous is not None:
            plt.close(previous)
        return figure

    def _on_change(self, change: dict) -> None:
        self.redraw()


def default_color_spaces(n_user_spaces: int = 2, seed: int = 0) -> dict[str, Optional[Tensor]]:
    """Colour spaces for the explorer: YIQ (eq. 3), then ``n_user_spaces`` user spaces T_u ~
    U(-1, 1) (Sec. 5.4), seeded."""
    g = torch.Generator().manual_seed(seed)
    spaces: dict[str, Optional[Tensor]] = {"YIQ (eq. 3)": None}
    for i in range(n_user_spaces):
        spaces[f"user space {i + 1}, U(-1, 1)"] = color.random_color_space(g)
    return spaces


K_STEP = 5
"""The watermark explorer's slider step in degrees: 72 positions around the circle."""


def signature_slider(k: int = 60, step: int = K_STEP, **kwargs: Any) -> ipywidgets.IntSlider:
    """A slider for the signature k in degrees (eq. 4's θ_k), 0 to 360 - ``step`` in ``step``s.

    The readout shows integers; the track is wide enough that a drag of a few pixels moves k by one
    step, not by tens of degrees. ``k`` must lie on the slider (a multiple of ``step`` in [0, 360)):
    a value between the steps would be shown where it cannot be reached again, so it is refused.
    Further keyword arguments (``style``, ``description``...) go to :class:`ipywidgets.IntSlider`.
    """
    if isinstance(step, bool) or not isinstance(step, int) or step < 1 or 360 % step:
        raise ValueError(f"step must be a whole number of degrees that divides 360; got {step!r}.")
    if isinstance(k, bool) or not isinstance(k, (int, float)) or k != k:
        raise ValueError(f"k must be a number of degrees; got {k!r}.")
    if not 0 <= k < 360 or k % step:
        nearest = int(round(k / step) * step) % 360 if 0 <= k < 360 else 0
        raise ValueError(
            f"k must be a multiple of {step} in [0, 360) for a {step}° slider; "
            f"got {k!r}. Use e.g. k={nearest}."
        )
    options = {
        "description": "signature k (°)",
        "continuous_update": False,
        "layout": ipywidgets.Layout(width="480px"),
        **kwargs,
    }
    return ipywidgets.IntSlider(
        value=int(k), min=0, max=360 - step, step=step, readout_format="d", **options
    )


def _explorer_figure(
    k: int,
    image: str,
    space: str,
    *,
    images: Mapping[str, Tensor],
    spaces: Mapping[str, Optional[Tensor]],
) -> Figure:
    return plots.plot_watermark_explorer(images[image], k, spaces[space])


def watermark_explorer(
    images: Mapping[str, Tensor],
    color_spaces: Optional[Mapping[str, Optional[Tensor]]] = None,
    k: int = 60,
    step: int = K_STEP,
) -> InteractiveFigure:
    """The lesson-01 explorer: a slider for the signature k, a choice of image and of colour space
    (eq. 3-5).

    Each draw is :func:`anw_helpers.plots.plot_watermark_explorer`: the original, the watermarked
    image g_k(I), and their pixels in the chroma plane, with the measured clipped share, PSNR and
    luma change.

    Args:
        images: name -> float image (3, H, W) in [0, 1] (e.g. the portrait and a few CIFAR-10
            images).
        color_spaces: name -> 3x3 colour space T (None for YIQ); default
            :func:`default_color_spaces`.
        k: the slider's starting signature in degrees, a multiple of ``step`` in [0, 360).
        step: the slider's step in degrees (default 5: a drag or an arrow key moves k by whole
            5° steps, and the readout shows integers).

    Returns:
        The widget; ``.controls["k"]``, ``["image"]`` and ``["space"]`` are its controls.
    """
    if not images:
        raise ValueError("watermark_explorer needs at least one image.")
    spaces = dict(color_spaces) if color_spaces is not None else default_color_spaces()
    if not spaces:
        raise ValueError("watermark_explorer needs at least one colour space.")
    style = {"description_width": "initial"}
    controls = {
        "k": signature_slider(k, step, style=style),
        "image": ipywidgets.Dropdown(
            options=list(images), value=next(iter(images)), description="image", style=style
        ),
        "space": ipywidgets.Dropdown(
            options=list(spaces), value=next(iter(spaces)), description="colour space", style=style
        ),
    }
    plot = functools.partial(_explorer_figure, images=dict(images), spaces=spaces)
    return InteractiveFigure(plot, controls)


def signature_slots_explorer(
    n_slots: int = 12, key: float = 60.0, estimate: float = 70.0
) -> InteractiveFigure:
    """Sliders for N, k* and k-hat over :func:`anw_helpers.plots.plot_signature_slots` (Sec. 4.2:
    slots of width 2*tau)."""
    style = {"description_width": "initial"}
    controls = {
        "n_slots": ipywidgets.IntSlider(
            value=n_slots,
            min=2,
            max=72,
            description="slots N",
            continuous_update=False,
            style=style,
        ),
        "key": ipywidgets.FloatSlider(
            value=key,
            min=0,
            max=359,
            step=1,
            description="key k*",
            continuous_update=False,
            style=style,
        ),
        "estimate": ipywidgets.FloatSlider(
            value=estimate,
            min=0,
            max=359,
            step=1,
            description="estimate",
            continuous_update=False,
            style=style,
        ),
    }
    return InteractiveFigure(plots.plot_signature_slots, controls)
