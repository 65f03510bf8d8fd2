"""Tests of spikewise.plot: the functions draw what they promise, on the axes they are given."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import numpy as np
import pytest

from spikewise._validation import InvalidParameterError
from spikewise.plot import (
    before_after,
    format_params,
    law_density,
    overlay,
    theory_vs_simulation,
)


# ------------------------------------------------------------------------------------------
# minimal duck-typed stand-ins (plot.py must not depend on the solvers / spectra internals)
# ------------------------------------------------------------------------------------------
class _MP:
    """Marchenko–Pastur law of Y^T Y / n, ratio = p/n, closed form (no cdf: pdf fallback)."""

    def __init__(self, ratio):
        self.ratio = ratio
        self.lo, self.hi = (1 - np.sqrt(ratio)) ** 2, (1 + np.sqrt(ratio)) ** 2
        self.params = {"ratio": ratio}

    def pdf(self, x):
        x = np.asarray(x, dtype=float)
        inside = (x > self.lo) & (x < self.hi)
        with np.errstate(all="ignore"):
            y = np.sqrt(np.clip((self.hi - x) * (x - self.lo), 0, None)) / (
                2 * np.pi * self.ratio * x
            )
        return np.where(inside, y, 0.0)

    @property
    def support(self):
        return [(self.lo, self.hi)]

    @property
    def atoms(self):
        if self.ratio > 1:
            return np.array([0.0]), np.array([1 - 1 / self.ratio])
        return np.empty(0), np.empty(0)


class _Uniform:
    """Uniform law on [0, 1]."""

    params = {"name": "U"}
    support = [(0.0, 1.0)]
    atoms = (np.empty(0), np.empty(0))

    def pdf(self, x):
        x = np.asarray(x, dtype=float)
        return ((x >= 0) & (x <= 1)).astype(float)


@dataclass(frozen=True)
class _Spectrum:
    values: np.ndarray
    kind: str = "eigen"
    source: str = "W^T W"
    params: dict = field(default_factory=dict)


def _mp_spectrum(n, p, seed=0, spike=None):
    rng = np.random.default_rng(seed)
    y = rng.standard_normal((n, p))
    if spike is not None:
        y[:, 0] *= np.sqrt(spike)
    vals = np.linalg.eigvalsh(y.T @ y / n)
    return _Spectrum(vals, params={"n": n, "d": p, "ratio": p / n, "seed": seed,
                                   "activation": "tanh", "eta": 1.5})


def _bars(ax):
    return [p for p in ax.patches if isinstance(p, matplotlib.patches.Rectangle)]


def _area(ax):
    return sum(p.get_width() * p.get_height() for p in _bars(ax))


def _by_gid(ax, gid):
    return [ln for ln in ax.lines if ln.get_gid() == gid]


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


# ------------------------------------------------------------------------------------------
def test_overlay_density_area_one_and_theory_line():
    spec = _mp_spectrum(800, 400)
    fig, ax = plt.subplots()
    out = overlay(spec, _MP(0.5), ax=ax, bins=30)
    assert out is ax
    bars = _bars(ax)
    assert 30 <= len(bars) <= 60  # 30 across the bulk, maybe a few more for edge fluctuations
    assert _area(ax) == pytest.approx(1.0, rel=1e-12)
    theory = _by_gid(ax, "spikewise-theory")
    assert len(theory) == 1
    x, y = theory[0].get_data()
    # grid clustered at the edges: the first interior step is much finer than the middle one
    assert np.nanmin(x) == pytest.approx(_MP(0.5).lo) and np.nanmax(x) == pytest.approx(
        _MP(0.5).hi
    )
    dx = np.diff(x)
    assert dx[0] < 0.01 * dx[len(dx) // 2]
    # the histogram sits on the curve: mean absolute gap well below the density's scale
    heights = np.array([b.get_height() for b in bars])
    centres = np.array([b.get_x() + b.get_width() / 2 for b in bars])
    gap = np.abs(heights - _MP(0.5).pdf(centres))
    assert np.mean(gap) < 0.1 * heights.max()
    title = ax.get_title()
    for token in ("n=800", "d=400", "seed=0", "activation=tanh", r"$\eta$=1.5"):
        assert token in title
    legend = " ".join(t.get_text() for t in ax.get_legend().get_texts())
    assert "theory: _MP" in legend and "W^T W (400 values)" in legend
    assert "ratio=0.5" in title  # shown once, in the title, not again in the law's label
    ax2 = overlay(spec, _MP(0.5), ax=plt.figure().gca(), title="")
    legend2 = " ".join(t.get_text() for t in ax2.get_legend().get_texts())
    assert "_MP" in legend2
    assert ax.get_xlabel() == "eigenvalue" and ax.get_ylabel() == "density"


def test_overlay_atom_drawn_and_bars_have_continuous_mass():
    n, p = 300, 600  # ratio 2: half of the eigenvalues are 0
    spec = _mp_spectrum(n, p)
    ax = overlay(spec, _MP(2.0), bins=25)
    atoms = _by_gid(ax, "spikewise-atom")
    assert len(atoms) == 1
    assert "mass 0.500" in atoms[0].get_label()
    assert "(measured 0.500)" in atoms[0].get_label()
    # the zero eigenvalues are not in the bars: area equals the continuous fraction 1/2
    assert _area(ax) == pytest.approx(0.5, rel=1e-12)
    assert min(b.get_x() for b in _bars(ax)) > 0.01


def test_overlay_outliers_predicted_lines_and_measured_markers():
    spec = _mp_spectrum(1000, 300, spike=6.0)
    top = spec.values.max()
    law = _MP(0.3)
    assert top > law.hi + 1  # a clear outlier
    ax = overlay(spec, law, outliers=[6.0 * (1 + 0.3 / 5.0), np.nan])
    pred = _by_gid(ax, "spikewise-predicted-outlier")
    assert len(pred) == 1  # NaN means "no outlier"
    assert pred[0].get_xdata()[0] == pytest.approx(6.36)
    meas = _by_gid(ax, "spikewise-measured-outlier")
    assert len(meas) == 1
    np.testing.assert_allclose(meas[0].get_xdata(), [top])
    assert _area(ax) == pytest.approx(1.0, rel=1e-12)
    assert ax.get_xlim()[1] > top  # the outlier is in view
    # no markers when asked for none, explicit markers when given
    ax2 = overlay(spec, law, measured=None, ax=plt.figure().gca())
    assert not _by_gid(ax2, "spikewise-measured-outlier")
    ax3 = overlay(spec, law, measured=[top, 5.0], ax=plt.figure().gca())
    assert _by_gid(ax3, "spikewise-measured-outlier")[0].get_xdata().size == 2


def test_overlay_uses_current_axes_and_plain_arrays():
    fig, ax = plt.subplots()
    out = overlay(np.random.default_rng(1).uniform(size=2000), _Uniform(), bins=20)
    assert out is ax
    assert len(_bars(ax)) == 20
    assert _area(ax) == pytest.approx(1.0, rel=1e-12)
    # y-limit from the bars and the law's mean density per bin
    assert ax.get_ylim()[1] < 2.0


def test_overlay_several_laws_one_line_each():
    spec = _mp_spectrum(600, 300)
    ax = overlay(spec, [_MP(0.5), _MP(0.49)])
    assert len(_by_gid(ax, "spikewise-theory")) == 2


def test_overlay_singular_values_xlabel_and_hard_edge():
    # ratio 1: density x^(-1/2) at 0; the y-range must follow the bars, not the singularity
    spec = _mp_spectrum(500, 500)
    ax = overlay(spec, _MP(1.0), bins=40)
    heights = np.array([b.get_height() for b in _bars(ax)])
    assert ax.get_ylim()[1] < 3 * heights.max()
    sv = _Spectrum(np.sqrt(np.abs(spec.values)), kind="singular")
    ax2 = overlay(sv, ax=plt.figure().gca())
    assert ax2.get_xlabel() == "singular value"


def test_before_after_normalizes_each_group():
    before = _mp_spectrum(800, 400, seed=1)
    after = _mp_spectrum(800, 400, seed=2, spike=8.0)
    law = _MP(0.5)
    fig, ax = plt.subplots()
    out = before_after(before, after, law, law, ax=ax, outliers1=[8.0 * (1 + 0.5 / 7.0)])
    assert out is ax
    assert len(ax.containers) == 2
    for cont in ax.containers:
        area = sum(p.get_width() * p.get_height() for p in cont.patches)
        assert area == pytest.approx(1.0, rel=1e-12)
    # same bin edges for both groups
    x0 = [p.get_x() for p in ax.containers[0].patches]
    x1 = [p.get_x() for p in ax.containers[1].patches]
    np.testing.assert_allclose(x0, x1)
    assert len(_by_gid(ax, "spikewise-theory")) == 1  # the same law object is drawn once
    assert len(_by_gid(ax, "spikewise-predicted-outlier")) == 1
    assert len(_by_gid(ax, "spikewise-measured-outlier")) == 1
    labels = " ".join(t.get_text() for t in ax.get_legend().get_texts())
    assert "before" in labels and "after" in labels
    assert "n=800" in ax.get_title()
    ax2 = before_after(before, after, _MP(0.5), _MP(0.45), ax=plt.figure().gca())
    assert len(_by_gid(ax2, "spikewise-theory")) == 2
    # atoms: each group's bars hold its own continuous part
    ax3 = before_after(_mp_spectrum(200, 400, seed=1), _mp_spectrum(200, 400, seed=2),
                       _MP(2.0), _MP(2.0), ax=plt.figure().gca())
    for cont in ax3.containers:
        assert sum(p.get_width() * p.get_height() for p in cont.patches) == pytest.approx(0.5)
    assert len(_by_gid(ax3, "spikewise-atom")) == 2


def test_theory_vs_simulation_curves_points_threshold():
    eta = np.linspace(0.5, 4, 8)
    grid = np.linspace(0.5, 4, 100)
    theory = np.where(grid > 1.5, grid, np.nan)
    rng = np.random.default_rng(0)
    measured = eta + 0.05 * rng.standard_normal((3, eta.size))
    fig, ax = plt.subplots()
    out = theory_vs_simulation(eta, theory, measured, ax=ax, theory_x=grid, threshold=1.5,
                               label="top singular value", ylabel="s_1",
                               params={"n": 100, "d": 50, "N": 80, "seed": 3})
    assert out is ax
    assert len(_by_gid(ax, "spikewise-theory")) == 1
    sim = _by_gid(ax, "spikewise-simulation")
    assert len(sim) == 1
    np.testing.assert_allclose(sim[0].get_ydata(), measured.mean(axis=0))
    assert len(ax.containers) == 1  # the error bars
    thr = _by_gid(ax, "spikewise-threshold")
    assert len(thr) == 1 and thr[0].get_xdata()[0] == 1.5
    assert "N=80" in ax.get_title() and ax.get_ylabel() == "s_1"
    # 1-D measured: plain markers, no error bars; step drawstyle for counts
    ax2 = theory_vs_simulation([0.1, 0.3], [1, 2], [1, 2], ax=plt.figure().gca(),
                               xlabel=r"$\alpha$", drawstyle="steps-post")
    assert not ax2.containers
    assert _by_gid(ax2, "spikewise-theory")[0].get_drawstyle() == "steps-post"


def test_law_density_draws_curve_and_atoms():
    fig, ax = plt.subplots()
    out = law_density(_MP(4.0), ax=ax)
    assert out is ax
    assert len(_by_gid(ax, "spikewise-theory")) == 1
    atoms = _by_gid(ax, "spikewise-atom")
    assert len(atoms) == 1 and "0.750" in atoms[0].get_label()


def test_format_params_order_and_skips():
    text = format_params({"seed": 1, "eta": 2.0, "n": 10, "W0": np.zeros(3), "activation":
                          type("A", (), {"name": "relu"})()})
    assert text == r"n=10, activation=relu, $\eta$=2, seed=1"
    assert format_params(None) == ""
    assert format_params({"a": 1, "b": 2}, keys=["b"]) == "b=2"


def test_bad_input_raises():
    spec = _mp_spectrum(50, 20)
    with pytest.raises(InvalidParameterError, match="'law' parameter of overlay"):
        overlay(spec, law=object())
    with pytest.raises(InvalidParameterError, match="'bins' parameter of overlay"):
        overlay(spec, bins=0)
    with pytest.raises(InvalidParameterError, match="'spectrum' parameter of overlay"):
        overlay([np.nan, 1.0])
    with pytest.raises(InvalidParameterError, match="'measured' parameter"):
        overlay(spec, _MP(0.4), measured="all")
    with pytest.raises(InvalidParameterError, match="'ax' parameter"):
        overlay(spec, ax="left")
    with pytest.raises(InvalidParameterError, match="'measured' parameter of theory_vs"):
        theory_vs_simulation([1, 2, 3], [1, 2, 3], [1, 2])
    with pytest.raises(InvalidParameterError, match="'theory' parameter"):
        theory_vs_simulation([1, 2, 3], [1, 2], [1, 2, 3])
    with pytest.raises(InvalidParameterError, match="'labels' parameter of before_after"):
        before_after(spec, spec, labels=("x",))
    with pytest.raises(InvalidParameterError,
                       match=r"'alpha' parameter of overlay must be a finite float >= 0.0 and "
                             r"<= 1.0\. Got 2.0 instead"):
        overlay(spec, alpha=2.0)
    with pytest.raises(InvalidParameterError,
                       match=r"'drawstyle' parameter of theory_vs_simulation must be one of "
                             r"\{'default', .*\}\. Got 'x' instead"):
        theory_vs_simulation([1, 2], [1, 2], [1, 2], drawstyle="x")


def test_with_the_real_marchenko_pastur():
    from spikewise.solvers import marchenko_pastur as mp  # a real import: never skipped
    law = mp.MarchenkoPastur(ratio=2.0)
    spec = _mp_spectrum(400, 800, seed=5)
    ax = overlay(spec, law, bins=30)
    assert _area(ax) == pytest.approx(0.5, rel=1e-12)
    assert len(_by_gid(ax, "spikewise-atom")) == 1
    heights = np.array([b.get_height() for b in _bars(ax)])
    centres = np.array([b.get_x() + b.get_width() / 2 for b in _bars(ax)])
    assert np.mean(np.abs(heights - law.pdf(centres))) < 0.1 * heights.max()


def test_bad_calls_leave_no_empty_figure_behind():
    plt.close("all")
    with pytest.raises(InvalidParameterError):
        overlay(np.ones(10), alpha=2.0)
    with pytest.raises(InvalidParameterError):
        theory_vs_simulation([1.0, 2.0], [1.0, 2.0], [1.0, 2.0], drawstyle="zigzag")
    assert plt.get_fignums() == []


# ------------------------------------------------------------------------------------------
# readability (issue 13): legends outside the data, one entry per predicted line, maths
# labels of spikewise laws, atom masses written, thresholds named
# ------------------------------------------------------------------------------------------
def test_legend_below_the_axes_and_named_outliers():
    from spikewise.solvers import MarchenkoPastur

    values = MarchenkoPastur(ratio=0.5).sample(400, rng=1)
    ax = overlay(np.append(values, 4.2), MarchenkoPastur(ratio=0.5), ax=plt.figure().gca(),
                 outliers={"finite N": 4.0, "this draw": 4.3, "none": np.nan}, legend="below")
    fig = ax.figure
    fig.canvas.draw()
    legend_box = ax.get_legend().get_window_extent()
    assert legend_box.y1 <= ax.get_window_extent().y0  # below the axes: over no data
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "predicted outlier, finite N: 4" in texts
    assert "predicted outlier, this draw: 4.3" in texts
    assert not any("none" in t for t in texts)  # NaN: no line, no entry
    lines = [ln for ln in ax.lines if ln.get_gid() == "spikewise-predicted-outlier"]
    assert len(lines) == 2 and lines[0].get_linestyle() != lines[1].get_linestyle()
    # the law's label is maths, not its repr
    assert any(r"Marchenko–Pastur $\gamma=0.5$" in t for t in texts)
    assert not any("MarchenkoPastur(" in t for t in texts)
    plt.close(fig)
    # the default is inside, where matplotlib finds the least data; bad values are named
    ax = overlay(values, MarchenkoPastur(ratio=0.5), ax=plt.figure().gca())
    assert ax.get_legend()._loc == 0  # "best"
    with pytest.raises(InvalidParameterError, match="'legend' parameter of overlay"):
        overlay(values, ax=plt.figure().gca(), legend="above")
    plt.close("all")


def test_atom_arrow_carries_its_mass():
    from spikewise.solvers import MarchenkoPastur

    law = MarchenkoPastur(ratio=2.0)
    values = np.concatenate([np.zeros(200), law.ppf(np.linspace(0.51, 0.99, 200))])
    ax = overlay(values, law, ax=plt.figure().gca())
    notes = [t.get_text() for t in ax.texts if t.get_gid() == "spikewise-atom-mass"]
    assert notes == ["mass 0.5"]
    plt.close(ax.figure)


def test_threshold_label():
    ax = theory_vs_simulation([1.0, 2.0], [1.0, 2.0], [1.1, 1.9], ax=plt.figure().gca(),
                              threshold=1.5, threshold_label=r"BBP threshold $\eta_c$")
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert r"BBP threshold $\eta_c$ = 1.5" in texts
    plt.close(ax.figure)


def test_law_labels():
    from spikewise.solvers import MarchenkoPastur, conjugate_kernel_law

    law = MarchenkoPastur(ratio=2 / 3, scale=1.5)
    assert law.label == r"Marchenko–Pastur $\gamma=0.6667$, $s^2=1.5$"
    assert law.sqrt().label.startswith(r"$\sqrt{\lambda}$ for $\lambda\sim$ Marchenko")
    assert law.affine(2.0, -1.0).label.startswith(r"$2\,\lambda-1$ for")
    assert law._repr_latex_() == law.label
    ck = conjugate_kernel_law("tanh", psi=2.0, phi=1.5, orientation="sample")
    assert ck.label == r"CK limit of $F F^\top/N$ (tanh, $\psi=2$, $\phi=1.5$)"
