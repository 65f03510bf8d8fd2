"""Conjugate-kernel law at initialization: construction, orientations, mean outlier."""

import warnings

import numpy as np
import pytest

from spikewise._validation import InvalidParameterError
from spikewise.activations import get_activation
from spikewise.solvers.conjugate_kernel import (
    MeanOutlierWarning,
    conjugate_kernel_law,
    conjugate_kernel_law_from_coefficients,
)
from spikewise.solvers.marchenko_pastur import MarchenkoPastur


def test_front_end_matches_coefficients():
    act = get_activation("tanh")
    a = conjugate_kernel_law("tanh", psi=2.0, phi=1.5)
    b = conjugate_kernel_law_from_coefficients(act.mu1, act.mu_star2, psi=2.0, phi=1.5)
    np.testing.assert_allclose(a.edges, b.edges, rtol=1e-14)
    assert a.feature_law.ratio == pytest.approx(1.5 / 2.0)
    assert a.params["activation"] == act.name
    assert not a.has_mean_outlier


@pytest.mark.parametrize("psi, phi", [(2.0, 1.0), (0.5, 1.5)])
def test_pure_nonlinear_activation_is_mp(psi, phi):
    # He_2: mu1 = 0, mu_star^2 = E He_2^2 = 2, so F^T F / n is MP(phi/psi) with scale 2
    feat = conjugate_kernel_law("he2", psi=psi, phi=phi)
    ref = MarchenkoPastur(ratio=phi / psi, scale=2.0)
    x = np.linspace(0, ref.upper * 1.1, 301)
    np.testing.assert_allclose(feat.cdf(x), ref.cdf(x), rtol=1e-10, atol=1e-13)
    z = np.concatenate([x + 0.05j, [-1.0, ref.upper * 1.5]])
    np.testing.assert_allclose(feat.stieltjes(z), ref.stieltjes(z), rtol=1e-10)
    # F F^T / N (n x n) is MP(psi/phi) with scale 2
    samp = conjugate_kernel_law("he2", psi=psi, phi=phi, orientation="sample")
    ref_s = MarchenkoPastur(ratio=psi / phi, scale=2.0)
    np.testing.assert_allclose(samp.cdf(x), ref_s.cdf(x), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(samp.stieltjes(z), ref_s.stieltjes(z), rtol=1e-10)
    np.testing.assert_allclose(samp.edges, ref_s.edges, rtol=1e-12)


def test_linear_activation_moments():
    # sigma(x) = x: F = X W0, F^T F / n = W0^T (X^T X / n) W0: moments 1 and 1 + phi + phi/psi
    psi, phi = 3.0, 0.5
    law = conjugate_kernel_law("linear", psi=psi, phi=phi)
    assert law.mean() == pytest.approx(1.0, rel=1e-10)
    assert law.moment(2) == pytest.approx(1 + phi + phi / psi, rel=1e-10)


def test_orientations_differ_by_zeros_and_scale():
    psi, phi = 2.0, 1.0
    feat = conjugate_kernel_law("tanh", psi=psi, phi=phi)
    samp = conjugate_kernel_law("tanh", psi=psi, phi=phi, orientation="sample")
    g = phi / psi  # N / n
    # n x n law: a fraction 1 - N/n of zeros, the rest the feature law scaled by n/N
    np.testing.assert_allclose(np.sum(samp.atoms[1]), 1 - g, rtol=1e-14)
    x = np.linspace(0.01, 6, 200)
    np.testing.assert_allclose(
        1 - samp.cdf(x), g * (1 - feat.cdf(x * g)), rtol=1e-9, atol=1e-13
    )
    np.testing.assert_allclose(samp.mean(), feat.mean(), rtol=1e-10)  # tr/n = tr/N * N/n * n/N


@pytest.mark.parametrize("orientation", ["feature", "sample"])
def test_real_values_just_outside_the_edges(orientation):
    # what the spike engines use: exact real m and m' > 0 just outside every edge
    law = conjugate_kernel_law("tanh", psi=2.0, phi=1.0, orientation=orientation)
    lo, hi = law.support[0]
    x = np.array([hi * (1 + 1e-6), hi * (1 + 1e-3), hi + 1.0, lo * (1 - 1e-3), -0.5])
    m, dm = law.stieltjes(x), law.dstieltjes(x)
    assert np.all(m.imag == 0) and np.all(dm.imag == 0) and np.all(dm.real > 0)
    h = 1e-3 * np.abs(x - np.where(x > hi, hi, lo))
    fd = (law.stieltjes(x + h) - law.stieltjes(x - h)).real / (2 * h)
    np.testing.assert_allclose(dm.real, fd, rtol=1e-5)
    # the limit from the upper half plane is the same real value (the physical branch)
    np.testing.assert_allclose(law.stieltjes(x + 1e-12j).real, m.real, rtol=1e-6)


def test_mean_outlier_warning_and_attribute():
    with pytest.warns(MeanOutlierWarning, match="mu0"):
        law = conjugate_kernel_law("relu", psi=2.0, phi=1.0)
    assert law.has_mean_outlier
    assert law.mean_outlier(d=1000) > 1000 * law.mu0**2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        law_c = conjugate_kernel_law("relu_centred", psi=2.0, phi=1.0)
    assert not law_c.has_mean_outlier
    assert np.isnan(law_c.mean_outlier(d=1000))
    # the bulk of relu and centred relu is the same law
    np.testing.assert_allclose(law.edges, law_c.edges, rtol=1e-12)


@pytest.mark.parametrize(
    "kwargs, match",
    [({"psi": -1.0, "phi": 1.0}, "'psi'"), ({"psi": 1.0, "phi": 0.0}, "'phi'"),
     ({"psi": 1.0, "phi": 1.0, "orientation": "rows"}, "'orientation'")],
)
def test_invalid(kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        conjugate_kernel_law("tanh", **kwargs)
    with pytest.raises(InvalidParameterError):
        conjugate_kernel_law("not-an-activation", psi=1.0, phi=1.0)


def _top_eigs(act, d, psi, phi, reps, rng):
    n, n_feat = int(psi * d), int(phi * d)
    out = []
    for _ in range(reps):
        x = rng.standard_normal((n, d))
        w = rng.standard_normal((d, n_feat)) / np.sqrt(d)
        f = act(x @ w)
        out.append(np.linalg.eigvalsh(f.T @ f / n)[-1])
    return np.array(out)


@pytest.mark.parametrize("name", ["relu", "sigmoid"])
def test_mean_outlier_simulation(name):
    # the finite-size formula agrees with the mean over seeds within 4 standard errors; the
    # leading term N mu0^2 alone does not (for relu) — the O(1) terms are real
    psi, phi, d = 2.0, 1.0, 100
    with pytest.warns(MeanOutlierWarning):
        law = conjugate_kernel_law(name, psi=psi, phi=phi)
    act = get_activation(name)
    tops = _top_eigs(act, d, psi, phi, 40, np.random.default_rng(11))
    se = tops.std(ddof=1) / np.sqrt(tops.size)
    pred = law.mean_outlier(d=d)
    assert abs(tops.mean() - pred) < 4 * se
    if name == "relu":
        assert abs(tops.mean() - phi * d * act.mu0**2) > 4 * se
    # sample orientation: the same eigenvalue, of F F^T / N, is n/N times larger
    with pytest.warns(MeanOutlierWarning):
        samp = conjugate_kernel_law(name, psi=psi, phi=phi, orientation="sample")
    assert samp.mean_outlier(d=d) == pytest.approx(pred * psi / phi, rel=1e-14)
