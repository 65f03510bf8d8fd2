"""Tests of spikewise.spectra.matrix_free: SLQ densities and block-Lanczos outliers.

Every estimate is checked against the dense spectrum of the same matrix (an independent
method), the error bars against their nominal coverage over seeds, and, in the slow test,
the density against the conjugate-kernel law.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import warnings

import matplotlib.pyplot as plt
import numpy as np
import pytest
from scipy.sparse.linalg import aslinearoperator

import spikewise.spectra.spectrum as spectrum_module
from spikewise._validation import ConvergenceError, InvalidParameterError
from spikewise.plot import overlay
from spikewise.solvers.conjugate_kernel import MeanOutlierWarning, conjugate_kernel_law
from spikewise.spectra import (
    DensitySpectrum,
    ck_density,
    ck_features,
    ck_spectrum,
    eigen_density,
    eigen_spectrum,
    init_first_layer,
    sample_inputs,
    singular_density,
    singular_spectrum,
)


def _features(d, n, N, activation="relu", dtype="float64", seed=0):
    X = sample_inputs(n, d, rng=seed)
    W = init_first_layer(d, N, rng=seed + 1)
    return ck_features(X, W, activation=activation, dtype=dtype)


def _probe_noise(bins, m, n_probes):
    """Expected L1 of ``bins`` bin masses from Hutchinson noise alone: each bin mass ``q`` has
    variance ``~ 2 q / (m p)`` for p normalized probes, and E|N(0, s^2)| = 0.8 s."""
    return 0.8 * np.sqrt(2.0 * bins / (m * n_probes))


def _law(activation, n, d, N, orientation="feature"):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MeanOutlierWarning)
        return conjugate_kernel_law(activation, psi=n / d, phi=N / d, orientation=orientation)


@pytest.fixture(scope="module")
def relu_case():
    """ReLU features: a CK bulk plus one mean outlier, m = 1000."""
    d, n, N = 500, 1500, 1000
    F = _features(d, n, N)
    return F, ck_spectrum(F, method="dense")


# ------------------------------------------------------------------------------------------
# against the dense spectrum
# ------------------------------------------------------------------------------------------
def test_gauss_rule_is_exact_when_the_krylov_space_is_full():
    """With n_steps = m each probe's Gauss rule has the eigenvalues as nodes (exactly)."""
    F = _features(20, 60, 30, activation="tanh")
    dense = ck_spectrum(F, method="dense")
    ds = ck_density(F, n_probes=3, n_steps=30, rng=0)
    for nodes in ds.nodes:
        np.testing.assert_allclose(np.sort(nodes), dense.values, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ds.weights.sum(axis=1), 1.0, rtol=1e-12)


def test_lanczos_breakdown_gives_the_exact_step_function():
    """Three distinct eigenvalues: every probe's recursion stops after 3 steps, exactly.

    For a diagonal matrix a normalized Rademacher probe puts weight exactly 1/m on each
    eigenvector, so the estimate is the true distribution function, with zero error bars.
    """
    S = np.diag(np.repeat([1.0, 2.0, 4.0], [100, 50, 150]))
    ds = eigen_density(S, n_probes=5, n_steps=20, rng=0)
    assert np.all(ds.exact)
    x = [0.5, 1.0, 1.5, 2.0, 3.9, 4.0]
    np.testing.assert_allclose(ds.cdf(x), [0, 1 / 3, 1 / 3, 0.5, 0.5, 1.0], atol=1e-12)
    np.testing.assert_allclose(ds.cdf_se(x), 0.0, atol=1e-12)
    np.testing.assert_allclose(ds.values, eigen_spectrum(S, method="dense").values, rtol=1e-12)


def test_ck_density_matches_dense(relu_case):
    F, dense = relu_case
    ds = ck_density(F, k=1, n_probes=40, n_steps=40, rng=1)
    assert isinstance(ds, DensitySpectrum) and len(ds) == len(dense)
    # the mean outlier: block Lanczos to 1e-6 relative (it reaches ~1e-14 in float64)
    np.testing.assert_allclose(ds.top_values, dense.top(1), rtol=1e-6)
    vec = ds.top_vectors[:, 0]
    dense_vals, dense_vecs = np.linalg.eigh(F.T @ F / F.shape[0])
    assert abs(vec @ dense_vecs[:, -1]) > 1 - 1e-8
    # bulk: L1 of the 10-bin density histograms. Probe noise _probe_noise(10, 1000, 40) =
    # 0.018, plus the interpolation at the soft lower edge (~0.005); seen 0.011-0.013 over
    # seeds. (The issue's 0.01 needs a larger m p / B: see benchmarks/README.md.)
    assert ds.l1(dense, bins=10) <= 1.2 * _probe_noise(10, 1000, 40)
    assert ds.ks(dense) <= 0.02
    assert ds.top(1)[0] == ds.top_values[0]


def test_float32_features_stay_float32_and_match(relu_case):
    F, dense = relu_case
    ds = ck_density(F.astype(np.float32), k=1, n_probes=40, n_steps=40, rng=1)
    np.testing.assert_allclose(ds.top_values, dense.top(1), rtol=1e-5)
    assert ds.top_vectors.dtype == np.float32
    assert ds.l1(dense, bins=10) <= 1.2 * _probe_noise(10, 1000, 40)


def test_sample_orientation_has_the_exact_zeros():
    d, n, N = 100, 400, 200
    F = _features(d, n, N, activation="relu_centred")
    dense = ck_spectrum(F, orientation="sample", method="dense")
    ds = ck_density(F, orientation="sample", k=2, n_probes=20, n_steps=30, rng=0)
    assert len(ds) == n and ds.zero_fraction == pytest.approx((n - N) / n)
    assert np.count_nonzero(ds.values == 0.0) == n - N
    assert ds.cdf(0.0) == pytest.approx((n - N) / n)
    np.testing.assert_allclose(ds.top_values, dense.top(2), rtol=1e-6)
    assert ds.l1(dense, bins=5) <= 1.5 * _probe_noise(5, N, 20)


def test_singular_density_matches_dense():
    A = np.random.default_rng(3).standard_normal((400, 600)) / np.sqrt(600)
    A[:, 0] += 3.0 / np.sqrt(400)  # a rank-one spike: one outlying singular value
    dense = singular_spectrum(A, method="dense")
    ds = singular_density(A, k=1, n_probes=40, n_steps=40, rng=2)
    np.testing.assert_allclose(ds.top_values, dense.top(1), rtol=1e-6)
    assert ds.kind == "singular" and ds.params["gram_side"] == "rows"
    assert ds.l1(dense, bins=8) <= 1.5 * _probe_noise(8, 400, 40)


def test_eigen_density_array_and_operator_agree_with_dense():
    rng = np.random.default_rng(4)
    m = 600
    G = rng.standard_normal((m, m))
    S = (G + G.T) / np.sqrt(2 * m)
    u = rng.standard_normal(m)
    S += 4.0 * np.outer(u, u) / (u @ u)  # Wigner + spike: outlier near 4 + 1/4
    dense = eigen_spectrum(S, method="dense")
    a = eigen_density(S, k=1, n_probes=30, n_steps=40, rng=5)
    b = eigen_density(aslinearoperator(S), k=1, n_probes=30, n_steps=40, rng=5)
    np.testing.assert_allclose(a.top_values, dense.top(1), rtol=1e-6)
    np.testing.assert_allclose(a.cdf([-1.0, 0.0, 1.0]), b.cdf([-1.0, 0.0, 1.0]), rtol=1e-10)
    assert not a.psd and a.l1(dense, bins=8) <= 1.5 * _probe_noise(8, m, 30)


# ------------------------------------------------------------------------------------------
# error bars
# ------------------------------------------------------------------------------------------
def test_error_bars_cover_the_dense_histogram(relu_case):
    """95% bands (Student t, p - 1 dof) cover the dense bin masses in >= 90% of 20 seeds.

    The bands cover the probe noise, not the quadrature bias: next to a hard edge (density
    ~ x^{-1/2}, e.g. the tanh CK at small phi/psi) the first bin is covered less often.
    """
    F, dense = relu_case
    lo_hi = (dense.values[0], dense.values[-2])  # the bulk, without the mean outlier
    hits = []
    for seed in range(20):
        ds = ck_density(F, k=1, n_probes=10, n_steps=40, rng=seed)
        lower, upper, edges = ds.confidence_band(8, range=lo_hi)
        width = np.diff(edges)
        true = np.diff(dense.cdf(edges))
        true[0] += dense.cdf(edges[0]) - dense.cdf(np.nextafter(edges[0], -np.inf))
        hits.append((true >= lower * width - 1e-12) & (true <= upper * width + 1e-12))
    coverage = np.mean(hits)
    assert coverage >= 0.9, coverage


# ------------------------------------------------------------------------------------------
# the method= switch of the spectrum functions
# ------------------------------------------------------------------------------------------
def test_auto_is_dense_below_the_threshold_and_matrix_free_above(monkeypatch, relu_case):
    F, dense = relu_case
    auto = ck_spectrum(F)
    assert type(auto) is spectrum_module.Spectrum
    np.testing.assert_array_equal(auto.values, dense.values)
    monkeypatch.setattr(spectrum_module, "MATRIX_FREE_SIZE", 500)
    switched = ck_spectrum(F, options={"k": 1, "rng": 0, "n_probes": 4, "n_steps": 20})
    assert isinstance(switched, DensitySpectrum)
    np.testing.assert_allclose(switched.top_values, dense.top(1), rtol=1e-6)
    assert isinstance(singular_spectrum(F, options={"rng": 0, "n_steps": 10}), DensitySpectrum)


def test_overlay_draws_a_density_spectrum(relu_case):
    F, dense = relu_case
    ds = ck_spectrum(F, method="matrix_free", options={"k": 1, "n_probes": 10, "rng": 0})
    law = _law("relu", 1500, 500, 1000)
    fig, ax = plt.subplots()
    overlay(ds, law, ax=ax)
    marks = [ln for ln in ax.lines if ln.get_gid() == "spikewise-measured-outlier"]
    assert len(marks) == 1
    np.testing.assert_allclose(marks[0].get_xdata(), ds.top_values)
    heights = [p.get_height() for p in ax.patches]
    widths = [p.get_width() for p in ax.patches]
    assert np.dot(heights, widths) == pytest.approx(1.0, abs=1e-9)
    plt.close(fig)


def test_density_spectrum_summaries(relu_case):
    F, _ = relu_case
    ds = ck_density(F, k=1, n_probes=6, n_steps=20, rng=0)
    x = np.linspace(-1.0, ds.top_values[0] + 1.0, 200)
    F_x = ds.cdf(x)
    assert F_x[0] == 0.0 and F_x[-1] == pytest.approx(1.0)
    assert np.all(np.diff(F_x) >= -1e-15)
    h, edges = ds.histogram(30)
    assert np.sum(h * np.diff(edges)) == pytest.approx(1.0, abs=1e-12)
    xa = ds.to_xarray()
    assert xa["nodes"].dims == ("probe", "step") and xa.attrs["method"] == "matrix_free"
    assert "n_probes=6" in repr(ds)
    # quantile representation: its empirical cdf is within 1/m of the estimate
    emp = np.searchsorted(ds.values, x, side="right") / len(ds)
    assert np.max(np.abs(emp - F_x)) <= 1.0 / len(ds) + 1e-12


# ------------------------------------------------------------------------------------------
# bad input
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda F: ck_density(F, n_probes=1), "n_probes"),
        (lambda F: ck_density(F, n_steps=1), "n_steps"),
        (lambda F: ck_density(F, k=40), "'k'"),
        (lambda F: ck_density(F, orientation="rows"), "orientation"),
        (lambda F: ck_density(F, tol=0.0), "tol"),
        (lambda F: ck_density(F[:0]), "non-empty"),
        (lambda F: ck_density(np.where(F > 1, np.nan, F)), "finite"),
        (lambda F: eigen_density(F), "square"),
        (lambda F: eigen_density(np.triu(F[:20, :20] + 1)), "symmetric"),
        (lambda F: ck_spectrum(F, method="lanczos"), "method"),
        (lambda F: ck_spectrum(F, method="dense", options={"k": 1}), "options"),
        (lambda F: ck_spectrum(F, options=3), "options"),
        (lambda F: ck_density(F, rng=0).l1(object()), "cdf"),
        (lambda F: ck_density(F, rng=0).confidence_band(level=1.0), "level"),
        (lambda F: ck_density(F, rng=0).cdf([np.nan]), "NaN"),
        (lambda F: DensitySpectrum(np.ones(3)), "nodes"),
        (lambda F: DensitySpectrum(np.ones(3), nodes=np.ones((2, 3)), weights=np.ones(3)),
         "weights"),
    ],
)
def test_bad_input(call, match):
    F = _features(20, 60, 40)
    with pytest.raises(InvalidParameterError, match=match):
        call(F)


def test_block_lanczos_non_convergence_raises():
    F = _features(100, 300, 200, activation="tanh")  # no outlier: the top pairs converge slowly
    with pytest.raises(ConvergenceError, match="did not converge"):
        ck_density(F, k=3, tol=1e-12, max_steps=2, rng=0)


# ------------------------------------------------------------------------------------------
# the method= switch of the experiments
# ------------------------------------------------------------------------------------------
def test_one_step_matrix_free_matches_dense():
    from spikewise.spectra import one_step

    kw = {"n": 600, "d": 300, "N": 450, "eta0": 3.0, "rng": 0, "k_top": 2}
    dense = one_step(**kw)
    mf = one_step(**kw, method="matrix_free", method_options={"n_probes": 8, "n_steps": 30})
    assert isinstance(mf.spectra["ck1"], DensitySpectrum)
    assert type(dense.spectra["ck1"]) is spectrum_module.Spectrum
    for key in ("W1", "ck1"):  # the k_top exact pairs and their alignments
        np.testing.assert_allclose(mf.spectra[key].top(2), dense.spectra[key].top(2),
                                   rtol=1e-6)
        np.testing.assert_allclose(mf.alignments[key], dense.alignments[key], atol=1e-8)
    for key in dense.spectra:
        assert mf.spectra[key].l1(dense.spectra[key], bins=5) <= 3 * _probe_noise(5, 300, 8)
    with pytest.raises(InvalidParameterError, match="k_top"):
        one_step(**kw, method="matrix_free", method_options={"k": 3})
    with pytest.raises(InvalidParameterError, match="'method'"):
        one_step(**kw, method="slq")


@pytest.mark.slow
def test_ck_density_within_the_issue_l1_of_dense_at_m_3000():
    """The issue's criterion, matrix-free against dense where both fit: L1 <= 0.01.

    At m = 3000 (dense: a few seconds) 80 probes put the expected probe noise at
    _probe_noise(10, 3000, 80) = 0.0073 over 10 bins; benchmarks/README.md gives the probe
    count needed against m (at m = 1000 no count below 160 reaches it). Every seed must meet
    0.01, and the outlier stays within 1e-6 relative.
    """
    m = 3000
    F = _features(m // 2, 3 * m // 2, m)
    dense = ck_spectrum(F, method="dense")
    for seed in range(3):
        ds = ck_density(F, k=1, n_probes=80, n_steps=40, rng=seed)
        np.testing.assert_allclose(ds.top_values, dense.top(1), rtol=1e-6)
        assert ds.l1(dense, bins=10) <= 0.01


# ------------------------------------------------------------------------------------------
# Monte Carlo against the theory (slow)
# ------------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("m", [2000, 6000])
def test_density_approaches_the_ck_law(m):
    """L1 (40 bins) of the SLQ density to the CK law shrinks with the size.

    Tolerance: the expected probe noise plus the finite-size distance of the dense spectrum
    to the law (about 40 / m: 0.013 at m = 3000, 0.0075 at 6000, see benchmarks/README.md),
    so 0.045 at m = 2000 and 0.021 at m = 6000; seen 0.0145 and 0.0103.
    """
    d, n, N = m // 2, m, m
    F = _features(d, n, N, activation="relu_centred", dtype="float32", seed=7)
    ds = ck_density(F, n_probes=40, n_steps=60, rng=0)
    law = _law("relu_centred", n, d, N)
    l1 = ds.l1(law, bins=40)
    assert l1 <= _probe_noise(40, m, 40) + 40.0 / m, l1
