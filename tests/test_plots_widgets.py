"""Tests of the pure plotting functions of lessons 01-04 (anw_helpers.plots) and the widgets around
them (anw_helpers.widgets); the figures and tables of lessons 05-09 are in test_plots_lessons.py.

Everything runs headless (matplotlib Agg, ipywidgets without a kernel): figures are checked through
their artists (image data, scatter offsets, titles), widgets by setting a control's value and
checking that the figure was redrawn with it.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from anw_helpers import color, plots, widgets  # noqa: E402
from anw_helpers.plots import chroma  # noqa: E402


@pytest.fixture(scope="module")
def small_portrait() -> torch.Tensor:
    return plots.sample_portrait(48)


@pytest.fixture(scope="module")
def photos() -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.rand(4, 3, 16, 16, generator=g)


def _image_axes(fig: Figure) -> list:
    return [ax for ax in fig.axes if ax.images]


# ------------------------------------------------------------------------------------- the exports
def unexported(package) -> list[str]:
    """Public functions of ``package``'s submodules that ``package`` does not export (its
    ``__all__``, each name bound to the submodule's object), and duplicated exported names."""
    import importlib
    import inspect
    import pkgutil

    missing = [name for name in set(package.__all__) if package.__all__.count(name) > 1]
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        missing += [
            f"{info.name}.{name}"
            for name, obj in vars(module).items()
            if inspect.isfunction(obj)
            and obj.__module__ == module.__name__
            and not name.startswith("_")
            and (name not in package.__all__ or getattr(package, name, None) is not obj)
        ]
    return sorted(missing)


def test_plots_exports_every_public_function_of_its_submodules():
    assert unexported(plots) == []
    assert "show_images" in plots.__all__ and plots.show_images is plots.images.show_images


def test_unexported_finds_a_function_left_out_of_a_submodules_all(tmp_path, monkeypatch):
    package = tmp_path / "fakeplots"
    package.mkdir()
    (package / "one.py").write_text(
        '__all__ = ["drawn"]\n\ndef drawn():\n    pass\n\ndef forgotten():\n    pass\n'
    )
    (package / "__init__.py").write_text(
        "from . import one\nfrom .one import *\n__all__ = list(one.__all__)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import fakeplots

    assert unexported(fakeplots) == ["one.forgotten"]


# ------------------------------------------------------------------------------------------ images
def test_sample_portrait_is_a_float_image_in_range():
    p = plots.sample_portrait(60)
    assert p.dtype == torch.float32 and p.shape[0] == 3 and p.shape[1] == 60
    assert p.shape[2] == round(512 * 60 / 600)  # aspect ratio of the 600 x 512 original kept
    assert 0.0 <= float(p.min()) and float(p.max()) <= 1.0
    with pytest.raises(ValueError):
        plots.sample_portrait(2)


def test_to_display_transposes_and_clips_without_touching_the_input():
    x = torch.tensor([[[2.0]], [[-1.0]], [[0.5]]])
    out = plots.to_display(x)
    assert out.shape == (1, 1, 3)
    np.testing.assert_allclose(out[0, 0], [1.0, 0.0, 0.5])
    assert float(x[0, 0, 0]) == 2.0
    assert plots.to_display(torch.zeros(4, 5)).shape == (4, 5)
    with pytest.raises(ValueError):
        plots.to_display(torch.zeros(2, 4, 5))


def test_show_images_draws_each_image_and_closes_it_in_pyplot(photos):
    before = set(plt.get_fignums())
    fig = plots.show_images(photos, titles=["a", "b", "c", "d"], suptitle="s")
    assert isinstance(fig, Figure)
    assert set(plt.get_fignums()) == before  # no figure left open for a second display
    axes = _image_axes(fig)
    assert len(axes) == 4
    assert [ax.get_title() for ax in axes] == ["a", "b", "c", "d"]
    np.testing.assert_allclose(
        axes[2].images[0].get_array(), photos[2].permute(1, 2, 0).double().numpy(), atol=1e-6
    )


def test_show_images_accepts_lists_grids_and_single_channel_maps(photos):
    fig = plots.show_images([photos[0], photos[1, 0]], cmap="magma", vmin=0, vmax=0.5)
    gray = _image_axes(fig)[1].images[0]
    assert gray.get_cmap().name == "magma" and gray.get_clim() == (0, 0.5)
    fig = plots.show_images(photos, ncols=3)
    assert len(fig.axes) == 6 and len(_image_axes(fig)) == 4
    with pytest.raises(ValueError):
        plots.show_images(photos, titles=["only one"])
    with pytest.raises(ValueError):
        plots.show_images([])


def test_show_grid_lays_out_rows_and_columns(photos):
    rows = [[p, color.watermark(p, 60)] for p in photos[:3]]
    fig = plots.show_grid(rows, col_titles=["clean", "k = 60"], row_titles=["x", "y", "z"])
    axes = _image_axes(fig)
    assert len(axes) == 6
    assert (
        axes[0].get_title() == "clean"
        and axes[1].get_title() == "k = 60"
        and axes[2].get_title() == ""
    )
    assert axes[2].get_ylabel() == "y"
    with pytest.raises(ValueError):
        plots.show_grid([[photos[0]], [photos[0], photos[1]]])


def test_plot_channels_shows_luma_and_signed_chroma(small_portrait):
    yiq = color.rgb_to_yiq(small_portrait)
    fig = plots.plot_channels(yiq)
    axes = _image_axes(fig)
    assert [ax.get_title() for ax in axes] == ["Y (luma)", "I", "Q"]
    assert axes[0].images[0].get_clim() == (0, 1)
    lo, hi = axes[1].images[0].get_clim()
    assert lo == -hi and hi == pytest.approx(float(yiq[1].abs().max()))
    with pytest.raises(ValueError):
        plots.plot_channels(yiq[:2])


# ----------------------------------------------------------------------------- the I-Q chroma plane
def test_gamut_slice_is_grey_at_the_centre_and_pale_outside():
    T = color.YIQ
    extent = chroma._chroma_extent(T)
    rgb = chroma._gamut_slice(T, 0.5, extent, resolution=101)
    np.testing.assert_allclose(rgb[50, 50], [0.5, 0.5, 0.5], atol=1e-9)
    # a corner of the square is out of gamut
    np.testing.assert_allclose(rgb[0, 0], [0.93, 0.93, 0.93])
    # every RGB-cube corner's chroma fits inside the drawn square
    corners = torch.tensor(
        [[r, g, b] for r in (0, 1) for g in (0, 1) for b in (0, 1)], dtype=torch.float64
    ).T
    assert float((T @ corners)[1:].abs().max()) < extent


def test_plot_iq_plane_places_each_pixel_at_its_chroma(small_portrait):
    fig = plots.plot_iq_plane(small_portrait, n_points=200, seed=3, rotation=60)
    ax = fig.axes[0]
    offsets = np.asarray(ax.collections[0].get_offsets())
    assert offsets.shape == (200, 2)
    sampled = chroma._sample_pixels(small_portrait, 200, 3)
    expected = (color.YIQ @ sampled)[1:].T.numpy()
    np.testing.assert_allclose(offsets, expected, atol=1e-6)
    # every point is drawn in its own colour
    np.testing.assert_allclose(
        ax.collections[0].get_facecolors()[:, :3], np.clip(sampled.T.numpy(), 0, 1), atol=1e-6
    )
    assert any("60" in t.get_text() for t in ax.texts)


def test_plot_iq_plane_draws_into_a_given_axes_and_other_colour_spaces(small_portrait):
    fig, (a, b) = plt.subplots(1, 2)
    out = plots.plot_iq_plane(small_portrait, ax=b, n_points=50)
    assert out is fig and b.collections and not a.collections
    plt.close(fig)
    T_u = color.random_color_space(torch.Generator().manual_seed(1))
    fig = plots.plot_iq_plane(small_portrait, color_space=T_u, n_points=50)
    assert fig.axes[0].get_xlabel() == "chroma 1"
    offsets = np.asarray(fig.axes[0].collections[0].get_offsets())
    np.testing.assert_allclose(
        offsets, (T_u @ chroma._sample_pixels(small_portrait, 50, 0))[1:].T.numpy(), atol=1e-6
    )


def test_plot_watermark_explorer_reports_measured_values(small_portrait):
    k = 60
    fig = plots.plot_watermark_explorer(small_portrait, k, n_points=100)
    assert len(fig.axes) == 4
    shown = fig.axes[1].images[0].get_array()
    np.testing.assert_allclose(
        shown, color.watermark(small_portrait, k).permute(1, 2, 0).numpy(), atol=1e-6
    )
    title = fig._suptitle.get_text()
    assert f"k = {k}°" in title
    assert f"clipped {float(color.clipped_fraction(small_portrait, k)):.1%}" in title
    assert (
        f"PSNR {float(color.psnr(small_portrait, color.watermark(small_portrait, k))):.1f} dB"
        in title
    )
    luma_max = float(title.rsplit(" ", 1)[-1])
    assert luma_max < 1e-6  # YIQ keeps luma on unclipped pixels
    with pytest.raises(ValueError):
        plots.plot_watermark_explorer(small_portrait[None], k)


def test_plot_watermark_explorer_counts_no_clipping_at_k_zero(small_portrait):
    fig = plots.plot_watermark_explorer(small_portrait, 0, n_points=50)
    assert "clipped 0.0% of pixels" in fig._suptitle.get_text()


# ------------------------------------------------------------------------------------ measurements
def test_plot_per_signature_draws_one_line_per_curve():
    ks = [30, 60, 90]
    fig = plots.plot_per_signature(
        ks, {"a": [0.1, 0.2, 0.3], "b": torch.tensor([0.3, 0.2, 0.1])}, ylabel="y", percent=True
    )
    ax = fig.axes[0]
    assert len(ax.lines) == 2
    np.testing.assert_allclose(ax.lines[1].get_ydata(), [0.3, 0.2, 0.1], atol=1e-7)
    assert ax.get_ylim()[0] == 0
    with pytest.raises(ValueError):
        plots.plot_per_signature(ks, {"a": [1.0]}, ylabel="y")


def test_plot_histograms_and_marks():
    fig = plots.plot_histograms(
        {"x": torch.randn(100, generator=torch.Generator().manual_seed(0))}, "v", marks={"k": 0.0}
    )
    ax = fig.axes[0]
    assert len(ax.patches) == 60 and ax.get_xlabel() == "v"


def test_plot_signature_slots_marks_match_and_miss():
    fig = plots.plot_signature_slots(12, key=60, estimate=70)
    ax = fig.axes[0]
    assert len(ax.patches) == 12
    assert "match" in ax.get_title()
    assert "miss" in plots.plot_signature_slots(12, key=60, estimate=80).axes[0].get_title()
    # |d| = tau: strict
    assert "miss" in plots.plot_signature_slots(36, key=60, estimate=65).axes[0].get_title()
    # around the circle
    assert "match" in plots.plot_signature_slots(12, key=0, estimate=350).axes[0].get_title()
    # the reserved slot 0 ("no watermark") and the key's slot each stand out from the others
    colours = [p.get_facecolor() for p in ax.patches]
    standing_out = [p for p, c in zip(ax.patches, colours) if colours.count(c) == 1]
    assert [p.theta1 + 15 for p in standing_out] == pytest.approx([0, 60])
    no_key = [p.get_facecolor() for p in plots.plot_signature_slots(12).axes[0].patches]
    assert [i for i, c in enumerate(no_key) if no_key.count(c) == 1] == [0]
    with pytest.raises(ValueError):
        plots.plot_signature_slots(1)


# --------------------------------------------------------------------------------------- widgets
def test_interactive_figure_redraws_when_a_control_changes():
    import ipywidgets

    calls = []

    def plot(a: int, b: str) -> Figure:
        calls.append((a, b))
        fig, ax = plt.subplots()
        ax.set_title(f"{a}-{b}")
        plt.close(fig)
        return fig

    slider = ipywidgets.IntSlider(value=1, min=0, max=5)
    w = widgets.InteractiveFigure(plot, {"a": slider}, fixed={"b": "x"})
    assert w.draw_count == 1 and calls == [(1, "x")]
    first = w.figure
    slider.value = 4
    assert w.draw_count == 2 and calls[-1] == (4, "x")
    assert w.figure is not first and w.figure.axes[0].get_title() == "4-x"
    assert w.values() == {"a": 4, "b": "x"}
    assert w.children[1] is w.output


def test_default_color_spaces_are_seeded():
    a, b = widgets.default_color_spaces(2, seed=5), widgets.default_color_spaces(2, seed=5)
    assert list(a)[0] == "YIQ (eq. 3)" and a["YIQ (eq. 3)"] is None and len(a) == 3
    for (_name, m), m2 in zip(list(a.items())[1:], list(b.values())[1:]):
        assert m.shape == (3, 3) and torch.equal(m, m2)


def test_watermark_explorer_redraws_on_slider_image_and_space(small_portrait, photos):
    images = {"portrait": small_portrait, "photo": photos[0]}
    w = widgets.watermark_explorer(images, k=60)
    assert w.draw_count == 1 and "k = 60°" in w.figure._suptitle.get_text()
    first = w.figure

    w.controls["k"].value = 120
    assert w.draw_count == 2 and w.figure is not first
    assert "k = 120°" in w.figure._suptitle.get_text()
    np.testing.assert_allclose(
        w.figure.axes[1].images[0].get_array(),
        color.watermark(small_portrait, 120).permute(1, 2, 0).numpy(),
        atol=1e-6,
    )

    w.controls["image"].value = "photo"
    assert w.draw_count == 3
    np.testing.assert_allclose(
        w.figure.axes[0].images[0].get_array(), photos[0].permute(1, 2, 0).numpy(), atol=1e-6
    )

    space = list(w.controls["space"].options)[1]
    w.controls["space"].value = space
    assert w.draw_count == 4 and "user colour space" in w.figure._suptitle.get_text()
    T_u = widgets.default_color_spaces()[space]
    np.testing.assert_allclose(
        w.figure.axes[1].images[0].get_array(),
        color.watermark(photos[0], 120, T_u).permute(1, 2, 0).numpy(),
        atol=1e-6,
    )


def test_watermark_explorer_needs_images():
    with pytest.raises(ValueError):
        widgets.watermark_explorer({})


def test_signature_slots_explorer_redraws():
    w = widgets.signature_slots_explorer(12, key=60, estimate=70)
    assert "match" in w.figure.axes[0].get_title()
    w.controls["estimate"].value = 100
    assert w.draw_count == 2 and "miss" in w.figure.axes[0].get_title()
    w.controls["n_slots"].value = 36
    assert len(w.figure.axes[0].patches) == 36


def test_watermark_explorer_slider_snaps_to_five_degree_steps_and_shows_integers(small_portrait):
    """Issue 14.5: 72 positions of 5° (a drag or an arrow key moves k by 5°), integer readout."""
    w = widgets.watermark_explorer({"portrait": small_portrait}, k=60)
    k = w.controls["k"]
    assert (k.min, k.max, k.step) == (0, 355, 5)
    assert k.readout_format == "d" and isinstance(k.value, int) and k.value == 60
    assert len(range(k.min, k.max + 1, k.step)) == 72
    k.value = 65  # one step, as the right-arrow key does in the browser (tests/test_browser.py)
    assert w.draw_count == 2 and "k = 65°" in w.figure._suptitle.get_text()
    assert widgets.watermark_explorer({"p": small_portrait}, k=0, step=1).controls["k"].max == 359


@pytest.mark.parametrize("k", [62, -5, 360, float("nan"), "60", True])
def test_watermark_explorer_refuses_a_start_off_the_slider(small_portrait, k):
    with pytest.raises(ValueError, match="k must be"):
        widgets.watermark_explorer({"portrait": small_portrait}, k=k)


@pytest.mark.parametrize("step", [0, 7, 2.5])
def test_signature_slider_refuses_a_step_that_does_not_divide_the_circle(step):
    with pytest.raises(ValueError, match="step must"):
        widgets.signature_slider(60, step)
