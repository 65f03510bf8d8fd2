"""Tests of the outlier engines (spikewise.solvers.spikes).

Two ways for every quantity: closed forms (Marchenko-Pastur bulk: Hermitian, BGN rectangular,
BBP/Paul covariance) to 1e-10 with exact thresholds, and Monte-Carlo simulation with an
aggregate metric (mean over seeds of the relative position error and of the overlap error)
whose tolerance, 4 standard errors plus a 1/p finite-size allowance, shrinks with the size.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spikewise._validation import InvalidParameterError
from spikewise.solvers.marchenko_pastur import MarchenkoPastur
from spikewise.solvers.spikes import (
    OutlierPrediction,
    covariance_outliers,
    hermitian_outliers,
    rectangular_outliers,
)

RTOL = 1e-10


# ----------------------------------------------------------------------------- closed forms


def mp_hermitian_closed_form(theta, g):
    """MP(ratio g) + theta v v^T: G(z) = 1/theta in the MP quadratic gives
    z = theta (theta + 1 - g) / (theta - g); the overlap 1/(theta^2 m'(z)) with m' from the
    implicitly differentiated quadratic is (z (1 - 2 g / theta) - 1 + g) / (theta - g).
    Thresholds: g + sqrt(g) above, g - sqrt(g) below (0 for g >= 1: atom or hard edge)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        z = theta * (theta + 1 - g) / (theta - g)
        ov = (z * (1 - 2 * g / theta) - 1 + g) / (theta - g)
    return z, ov


def bgn_gaussian(theta, c):
    """X n x p with entries N(0, 1/p), c = n/p (BGN 2012, section 3.1)."""
    z = np.sqrt((1 + theta**2) * (c + theta**2)) / theta
    left = 1 - c * (1 + theta**2) / (theta**2 * (theta**2 + c))
    right = 1 - (c + theta**2) / (theta**2 * (theta**2 + 1))
    return z, left, right


def bbp(alpha, gamma):
    """Baik-Ben Arous-Peche position and Paul's overlap, alpha = 1 + l."""
    ell = alpha - 1
    return (1 + ell) * (1 + gamma / ell), (1 - gamma / ell**2) / (1 + gamma / ell)


@pytest.mark.parametrize("g", [0.2, 0.5, 1.0, 2.0, 4.0])
def test_hermitian_mp_closed_form(g):
    law = MarchenkoPastur(ratio=g)
    thr_up = g + math.sqrt(g)
    thr_lo = g - math.sqrt(g) if g < 1 else 0.0
    theta = np.array([0.5 * thr_up, thr_up * 1.3, 6.0, -5.0, -0.7, thr_lo * 0.5 - 1e-3 * (g >= 1)])
    res = hermitian_outliers(law, theta)
    assert isinstance(res, OutlierPrediction) and len(res) == theta.size
    np.testing.assert_allclose(res.thresholds[theta > 0], thr_up, rtol=1e-13)
    np.testing.assert_allclose(res.thresholds[theta < 0], thr_lo, rtol=1e-13, atol=1e-15)
    expect_out = (theta > thr_up) | (theta < thr_lo)
    np.testing.assert_array_equal(res.is_outlier, expect_out)
    z, ov = mp_hermitian_closed_form(theta, g)
    np.testing.assert_allclose(res.positions[expect_out], z[expect_out], rtol=RTOL)
    np.testing.assert_allclose(res.overlaps[expect_out], ov[expect_out], rtol=RTOL)
    # below threshold: no outlier, the eigenvalue sticks to the edge on its side
    lo, hi = law.support[0]
    if g > 1:
        lo = 0.0  # the atom at zero is the lower end of the spectrum
    edges = np.where(theta > 0, hi, lo)
    np.testing.assert_allclose(res.edges, edges, rtol=1e-15, atol=0)
    np.testing.assert_allclose(res.positions[~expect_out], edges[~expect_out], rtol=1e-15)
    assert np.all(res.overlaps[~expect_out] == 0)
    assert res.flags == tuple("outlier" if f else "no outlier" for f in expect_out)
    # the defining equation itself, by the law's own Stieltjes transform
    for zz, t in zip(res.positions[expect_out], theta[expect_out], strict=True):
        assert abs(-law.stieltjes(zz).real - 1 / t) <= 1e-12 / abs(t)


def test_hermitian_rank2_matches_rank1_and_is_monotone():
    law = MarchenkoPastur(ratio=0.5)
    both = hermitian_outliers(law, [4.0, 2.5])
    one = [hermitian_outliers(law, t) for t in (4.0, 2.5)]
    np.testing.assert_allclose(both.positions, [o.positions[0] for o in one], rtol=1e-15)
    np.testing.assert_allclose(both.overlaps, [o.overlaps[0] for o in one], rtol=1e-15)
    grid = hermitian_outliers(law, np.linspace(1.25, 10.0, 30))  # threshold 1.207
    assert np.all(np.diff(grid.positions) > 0) and np.all(np.diff(grid.overlaps) > 0)
    assert np.all((grid.overlaps > 0) & (grid.overlaps < 1))


@pytest.mark.parametrize("c", [0.25, 0.5, 1.0, 2.0, 5.0])
def test_rectangular_bgn_gaussian_closed_form(c):
    # X n x p, entries N(0, 1/p): X X^T ~ MP(ratio = n/p = c), threshold c^(1/4)
    law = MarchenkoPastur(ratio=c)
    tc = c**0.25
    theta = np.array([0.5 * tc, 0.999 * tc, 1.001 * tc, 1.5 * tc + 0.3, 4.0])
    res = rectangular_outliers(law, theta, ratio=c)
    assert res.kind == "singular"
    np.testing.assert_allclose(res.thresholds, tc, rtol=1e-13)
    out = theta > tc
    np.testing.assert_array_equal(res.is_outlier, out)
    z, left, right = bgn_gaussian(theta, c)
    np.testing.assert_allclose(res.positions[out], z[out], rtol=RTOL)
    np.testing.assert_allclose(res.overlaps[out], left[out], rtol=1e-9)
    np.testing.assert_allclose(res.overlaps_right[out], right[out], rtol=1e-9)
    edge = 1 + math.sqrt(c)  # sqrt of the MP upper edge (1 + sqrt c)^2
    np.testing.assert_allclose(res.edges, edge, rtol=1e-15)
    np.testing.assert_allclose(res.positions[~out], edge, rtol=1e-15)
    assert np.all(res.overlaps[~out] == 0) and np.all(res.overlaps_right[~out] == 0)


def test_rectangular_orientation_symmetry():
    # transposing X swaps the Gram laws, the ratio and the two overlaps; D is unchanged
    c, theta = 0.4, [1.3, 2.2]
    a = rectangular_outliers(MarchenkoPastur(ratio=c), theta, ratio=c)
    b = rectangular_outliers(MarchenkoPastur(ratio=1 / c, scale=c), theta, ratio=1 / c)
    np.testing.assert_allclose(a.positions, b.positions, rtol=1e-13)
    np.testing.assert_allclose(a.thresholds, b.thresholds, rtol=1e-13)
    np.testing.assert_allclose(a.overlaps, b.overlaps_right, rtol=1e-12)
    np.testing.assert_allclose(a.overlaps_right, b.overlaps, rtol=1e-12)


@pytest.mark.parametrize("gamma", [0.1, 0.5, 0.9, 1.0, 1.5, 4.0])
@pytest.mark.parametrize("population", [None, ([1.0], [1.0]), ([1.0, 1.0], [0.25, 0.75])])
def test_covariance_bbp_paul_closed_form(gamma, population):
    # None takes the identity shortcut-free generic path too; the last one repeats an atom
    root = math.sqrt(gamma)
    alpha = np.array([1 + 0.5 * root, 1 + 1.2 * root, 6.0, 0.5 * abs(1 - root) + 0.01, 1e-3])
    res = covariance_outliers(alpha, ratio=gamma, population=population)
    up = alpha > 1
    np.testing.assert_allclose(res.thresholds[up], 1 + root, rtol=1e-12)
    np.testing.assert_allclose(res.thresholds[~up], 1 - root, rtol=1e-12, atol=1e-13)
    out = np.where(up, alpha > 1 + root, alpha < 1 - root)
    np.testing.assert_array_equal(res.is_outlier, out)
    pos, ov = bbp(alpha, gamma)
    np.testing.assert_allclose(res.positions[out], pos[out], rtol=RTOL)
    np.testing.assert_allclose(res.overlaps[out], ov[out], rtol=RTOL)
    edges = np.where(up, (1 + root) ** 2, (1 - root) ** 2)
    np.testing.assert_allclose(res.edges, edges, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(res.positions[~out], edges[~out], rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(res.bulk_support, [(1 - root) ** 2, (1 + root) ** 2],
                               rtol=1e-12, atol=1e-13)


def test_covariance_two_atom_population_direct():
    # psi(alpha) = alpha (1 + gamma sum_k w_k t_k / (alpha - t_k)) written out by hand
    t, w, gamma = np.array([1.0, 3.0]), np.array([0.5, 0.5]), 0.3
    alpha = np.array([10.0, 0.3, 0.05, 4.0])

    def psi(a):
        return a * (1 + gamma * np.sum(w * t / (a - t)))

    def dpsi(a):
        return 1 - gamma * np.sum(w * t**2 / (a - t) ** 2)

    res = covariance_outliers(alpha, ratio=gamma, population=(t, w))
    for i, a in enumerate(alpha):
        assert res.is_outlier[i] == (dpsi(a) > 0)
        if dpsi(a) > 0:
            assert res.positions[i] == pytest.approx(psi(a), rel=RTOL)
            assert res.overlaps[i] == pytest.approx(a * dpsi(a) / psi(a), rel=RTOL)
    # thresholds are the critical points of psi and the edges their images
    for i in range(alpha.size):
        assert abs(dpsi(res.thresholds[i])) < 1e-12
        assert res.edges[i] == pytest.approx(psi(res.thresholds[i]), rel=1e-13)


def test_covariance_gap_spike_population_with_gap():
    # H = (delta_1 + delta_10)/2 at gamma = 0.05: the sample spectrum has a gap; a spike
    # inside H's gap and far from both atoms is an outlier in the sample gap
    t, w, gamma = np.array([1.0, 10.0]), np.array([0.5, 0.5]), 0.05
    res = covariance_outliers([4.0, 1.05], ratio=gamma, population=(t, w))

    def dpsi(a):
        return 1 - gamma * np.sum(w * t**2 / (a - t) ** 2)

    assert dpsi(4.0) > 0 and dpsi(1.05) < 0
    np.testing.assert_array_equal(res.is_outlier, [True, False])
    psi4 = 4.0 * (1 + gamma * np.sum(w * t / (4.0 - t)))
    assert res.positions[0] == pytest.approx(psi4, rel=RTOL)
    assert abs(dpsi(res.thresholds[1])) < 1e-10 and 1.0 < res.thresholds[1] < 4.0
    # a spike inside supp H is absorbed in the bulk
    inside = covariance_outliers([10.0], ratio=gamma, population=(t, w))
    assert not inside.is_outlier[0] and np.isnan(inside.positions[0])


def test_covariance_continuous_population_by_quadrature():
    # H = MP(ratio 0.2): psi and psi' by direct quadrature of the density (independent of
    # the law's Stieltjes transform)
    from scipy.integrate import quad

    h_law, gamma = MarchenkoPastur(ratio=0.2), 0.5
    lo, hi = h_law.support[0]

    def integral(f):
        return quad(lambda t: f(t) * h_law.pdf(t), lo, hi, epsabs=1e-14, epsrel=1e-13,
                    limit=200)[0]

    def psi(a):
        return a * (1 + gamma * integral(lambda t: t / (a - t)))

    def dpsi(a):
        return 1 - gamma * integral(lambda t: t**2 / (a - t) ** 2)

    res = covariance_outliers([6.0, 0.05, 2.2], ratio=gamma, population=h_law)
    assert res.is_outlier[0] and res.is_outlier[1]
    assert res.positions[0] == pytest.approx(psi(6.0), rel=1e-10)
    assert res.overlaps[0] == pytest.approx(6.0 * dpsi(6.0) / psi(6.0), rel=1e-10)
    assert res.positions[1] == pytest.approx(psi(0.05), rel=1e-10)
    assert abs(dpsi(res.thresholds[0])) < 1e-9 and abs(dpsi(res.thresholds[1])) < 1e-9
    assert res.edges[0] == pytest.approx(psi(res.thresholds[0]), rel=1e-10)
    assert res.is_outlier[2] == (dpsi(2.2) > 0)


@pytest.mark.parametrize(
    ("gamma", "population", "alpha"),
    [
        (0.25, ([1.0, 3.0], [0.5, 0.5]), [8.0, 0.3, 2.0]),
        (0.05, ([1.0, 10.0], [0.5, 0.5]), [4.0, 1.05, 12.0, 0.5]),
        (0.5, "mp", [6.0, 0.05]),
        (2.0, ([1.0, 3.0], [0.3, 0.7]), [9.0, 0.2]),
        (1.5, ([0.0, 1.0], [0.5, 0.5]), [5.0, 0.05]),  # zero variances: exact zeros in S
        (0.3, ([0.0, 1.0, 4.0], [0.2, 0.4, 0.4]), [9.0, 0.05, 2.0]),
    ],
)
def test_covariance_edges_match_generalized_mp_solver(gamma, population, alpha):
    # independent method: the laws' Silverstein-equation solver gives the sample bulk
    from spikewise.solvers.generalized_mp import GeneralizedMarchenkoPastur

    if population == "mp":
        population = MarchenkoPastur(ratio=0.2)
        law = GeneralizedMarchenkoPastur(ratio=gamma, population=population)
    else:
        law = GeneralizedMarchenkoPastur(ratio=gamma, population=population[0],
                                         weights=population[1])
    res = covariance_outliers(alpha, ratio=gamma, population=population)
    ends = [e for iv in law.support for e in iv]
    assert res.bulk_support[0] == pytest.approx(ends[0], rel=1e-9)
    assert res.bulk_support[1] == pytest.approx(ends[-1], rel=1e-9)
    for i in range(len(alpha)):
        if res.is_outlier[i]:
            # an outlier lies outside the bulk; the edge it left is an edge of the bulk
            assert law.pdf(res.positions[i]) == 0.0
            assert min(abs(e - res.edges[i]) for e in ends) <= 1e-9 * ends[-1]
        elif np.isfinite(res.positions[i]):
            assert min(abs(e - res.positions[i]) for e in ends) <= 1e-9 * ends[-1]


def test_hermitian_on_generalized_mp_bulk():
    # a bulk with no closed form: the defining equation and the derivative by the law itself
    from spikewise.solvers.generalized_mp import GeneralizedMarchenkoPastur

    law = GeneralizedMarchenkoPastur(ratio=0.25, population=[1.0, 3.0], weights=[0.5, 0.5])
    res = hermitian_outliers(law, [3.0, -2.0, 0.5])
    np.testing.assert_array_equal(res.is_outlier, [True, True, False])
    for z, t, ov in zip(res.positions[:2], [3.0, -2.0], res.overlaps[:2], strict=True):
        assert -law.stieltjes(z).real == pytest.approx(1 / t, rel=1e-12)
        h = 1e-5
        dm = (law.stieltjes(z + h).real - law.stieltjes(z - h).real) / (2 * h)
        assert ov == pytest.approx(1 / (t**2 * dm), rel=1e-7)
    lo, hi = law.support[0][0], law.support[-1][1]
    assert res.thresholds[0] == pytest.approx(-1 / law.stieltjes(hi + 1e-13).real, rel=1e-5)
    assert res.thresholds[1] == pytest.approx(-1 / law.stieltjes(lo - 1e-13).real, rel=1e-5)


def test_mp_precision_through_affine_and_gram_flip():
    from spikewise.solvers.transforms import gram_flip

    base = MarchenkoPastur(ratio=0.4)
    for law in (base.affine(2.0, 1.0), base.affine(-1.5, 0.0), gram_flip(base, ratio=0.4)):
        a = hermitian_outliers(law, [5.0, -4.0])
        b = hermitian_outliers(law, [5.0, -4.0], dps=30)
        np.testing.assert_allclose(a.positions, b.positions, rtol=1e-13)
        np.testing.assert_allclose(a.overlaps, b.overlaps, rtol=1e-11)
        np.testing.assert_allclose(a.thresholds, b.thresholds, rtol=1e-12, atol=1e-15)


# ------------------------------------------------------------------------- mpmath precision


def test_mp_precision_near_threshold_hermitian():
    g = 0.5
    theta = (g + math.sqrt(g)) * (1 + 1e-9)
    with mpmath.workdps(60):
        gm, th = mpmath.mpf(g), mpmath.mpf(theta)
        z = th * (th + 1 - gm) / (th - gm)
        ov = (z * (1 - 2 * gm / th) - 1 + gm) / (th - gm)
        excess = z - (1 + mpmath.sqrt(gm)) ** 2
    res = hermitian_outliers(MarchenkoPastur(ratio=g), [theta], dps=50)
    assert res.is_outlier[0]
    assert res.excess[0] == pytest.approx(float(excess), rel=1e-12)
    assert res.overlaps[0] == pytest.approx(float(ov), rel=1e-12)
    assert res.positions[0] == pytest.approx(float(z), rel=1e-15)


def test_mp_precision_near_threshold_bbp_and_rectangular():
    gamma = 0.5
    alpha = 1 + math.sqrt(gamma) * (1 + 1e-9)
    res = covariance_outliers([alpha], ratio=gamma, dps=50)
    with mpmath.workdps(60):
        a, g = mpmath.mpf(alpha), mpmath.mpf(gamma)
        ell = a - 1
        ov = (1 - g / ell**2) / (1 + g / ell)
        ex = a * (1 + g / ell) - (1 + mpmath.sqrt(g)) ** 2
    assert res.overlaps[0] == pytest.approx(float(ov), rel=1e-12)
    assert res.excess[0] == pytest.approx(float(ex), rel=1e-12)
    c = 0.5
    theta = c**0.25 * (1 + 1e-8)
    rect = rectangular_outliers(MarchenkoPastur(ratio=c), [theta], ratio=c, dps=50)
    with mpmath.workdps(60):
        t, cm = mpmath.mpf(theta), mpmath.mpf(c)
        left = 1 - cm * (1 + t**2) / (t**2 * (t**2 + cm))
        right = 1 - (cm + t**2) / (t**2 * (t**2 + 1))
        ex = mpmath.sqrt((1 + t**2) * (cm + t**2)) / t - (1 + mpmath.sqrt(cm))
    assert rect.overlaps[0] == pytest.approx(float(left), rel=1e-12)
    assert rect.overlaps_right[0] == pytest.approx(float(right), rel=1e-12)
    assert rect.excess[0] == pytest.approx(float(ex), rel=1e-12)


def test_mp_and_float_agree_away_from_threshold():
    law = MarchenkoPastur(ratio=0.3)
    for fn, kw in ((hermitian_outliers, {}), (rectangular_outliers, {"ratio": 0.3})):
        a = fn(law, [2.0, 5.0], **kw)
        b = fn(law, [2.0, 5.0], dps=30, **kw)
        np.testing.assert_allclose(a.positions, b.positions, rtol=1e-13)
        np.testing.assert_allclose(a.overlaps, b.overlaps, rtol=1e-12)


# ------------------------------------------------------------------- laws with less structure


class _BlindLaw:
    """Duck-typed law: no dstieltjes, and NaN exactly at the edges (forces the fallbacks:
    complex-step derivative and extrapolation of m to the edge)."""

    def __init__(self, law):
        self._law = law
        self.support = law.support
        self.atoms = law.atoms
        self.params = {}

    def stieltjes(self, z):
        z = np.asarray(z)
        out = np.asarray(self._law.stieltjes(z), dtype=complex)
        ends = [x for iv in self.support for x in iv]
        return np.where(np.isin(z.real, ends) & (z.imag == 0), np.nan, out)


@pytest.mark.parametrize("g", [0.5, 1.0, 3.0])
def test_fallbacks_without_dstieltjes_or_edge_values(g):
    law = MarchenkoPastur(ratio=g)
    a = hermitian_outliers(law, [4.0, -3.0])
    b = hermitian_outliers(_BlindLaw(law), [4.0, -3.0])
    np.testing.assert_allclose(b.thresholds, a.thresholds, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(b.positions, a.positions, rtol=1e-13)
    np.testing.assert_allclose(b.overlaps, a.overlaps, rtol=1e-12)
    a = rectangular_outliers(law, [0.5, 3.0], ratio=g)
    b = rectangular_outliers(_BlindLaw(law), [0.5, 3.0], ratio=g)
    np.testing.assert_allclose(b.thresholds, a.thresholds, rtol=1e-9)
    np.testing.assert_array_equal(b.is_outlier, a.is_outlier)
    np.testing.assert_allclose(b.overlaps_right, a.overlaps_right, rtol=1e-12)


@settings(max_examples=15, deadline=None)
@given(
    g=st.floats(0.05, 5.0),
    rel=st.floats(1e-4, 20.0),
    model=st.sampled_from(["hermitian+", "hermitian-", "rectangular", "covariance"]),
)
def test_properties_random_parameters(g, rel, model):
    # outliers lie beyond the edge on their side, overlaps in (0, 1), mpmath agrees
    law = MarchenkoPastur(ratio=g)
    if model == "hermitian+":
        strength = (g + math.sqrt(g)) * (1 + rel)
        run = lambda **kw: hermitian_outliers(law, strength, **kw)  # noqa: E731
    elif model == "hermitian-":
        strength = -(max(math.sqrt(g) - g, 0.0) * (1 + rel) + 1e-3)
        run = lambda **kw: hermitian_outliers(law, strength, **kw)  # noqa: E731
    elif model == "rectangular":
        strength = g**0.25 * (1 + rel)
        run = lambda **kw: rectangular_outliers(law, strength, ratio=g, **kw)  # noqa: E731
    else:
        strength = 1 + math.sqrt(g) * (1 + rel)
        run = lambda **kw: covariance_outliers(strength, ratio=g, **kw)  # noqa: E731
    a, b = run(), run(dps=30)
    assert a.is_outlier[0] and b.is_outlier[0]
    assert (a.positions[0] - a.edges[0]) * np.sign(strength) > 0
    assert 0 < a.overlaps[0] < 1
    assert a.positions[0] == pytest.approx(b.positions[0], rel=1e-12)
    assert a.overlaps[0] == pytest.approx(b.overlaps[0], rel=1e-7, abs=1e-12)


# ---------------------------------------------------------------------------- invalid input


def test_invalid_input():
    law = MarchenkoPastur(ratio=0.5)
    with pytest.raises(InvalidParameterError, match="'theta' parameter of rectangular"):
        rectangular_outliers(law, [1.0, -1.0], ratio=0.5)
    with pytest.raises(InvalidParameterError, match="'theta'"):
        hermitian_outliers(law, [np.nan])
    with pytest.raises(InvalidParameterError, match="'theta'"):
        hermitian_outliers(law, [0.0])
    with pytest.raises(InvalidParameterError, match="'theta'"):
        hermitian_outliers(law, [])
    with pytest.raises(InvalidParameterError, match="'ratio'"):
        rectangular_outliers(law, [1.0], ratio=-1.0)
    with pytest.raises(InvalidParameterError, match="'spikes'"):
        covariance_outliers([-2.0], ratio=0.5)
    with pytest.raises(InvalidParameterError, match="'spikes'"):
        covariance_outliers([np.inf], ratio=0.5)
    with pytest.raises(InvalidParameterError, match="'ratio'"):
        covariance_outliers([2.0], ratio=float("nan"))
    with pytest.raises(InvalidParameterError, match="'population'"):
        covariance_outliers([2.0], ratio=0.5, population=([1.0, 2.0], [-1.0, 2.0]))
    with pytest.raises(InvalidParameterError, match="'population'"):
        covariance_outliers([2.0], ratio=0.5, population=([-1.0], [1.0]))
    with pytest.raises(InvalidParameterError, match="'dps'"):
        hermitian_outliers(law, [2.0], dps=5)
    with pytest.raises(InvalidParameterError, match="'dps'"):
        hermitian_outliers(_BlindLaw(law), [2.0], dps=30)

    class NoSupport:
        support: list = []
        atoms = (np.empty(0), np.empty(0))

        def stieltjes(self, z):
            return z

    with pytest.raises(InvalidParameterError, match="'law' parameter of hermitian_outliers"):
        hermitian_outliers(NoSupport(), [1.0])
    with pytest.raises(InvalidParameterError, match="'law'"):
        rectangular_outliers(object(), [1.0], ratio=1.0)
    with pytest.raises(InvalidParameterError, match="'law'"):
        rectangular_outliers(_Shifted(law), [1.0], ratio=0.5)  # not a Gram law


class _Shifted(_BlindLaw):
    def __init__(self, law):
        super().__init__(law)
        self.support = [(lo - 5.0, hi - 5.0) for lo, hi in law.support]


def test_result_is_frozen_and_summarised():
    res = covariance_outliers([5.0, 1.1], ratio=0.5)
    with pytest.raises(AttributeError):
        res.positions = None  # type: ignore[misc]
    with pytest.raises(ValueError):
        res.positions[0] = 1.0
    assert res.n_outliers == 1 and res.outliers.shape == (1,)
    text = res.summary()
    assert "no outlier" in text and "spiked covariance" in text
    table = res.to_dict()
    assert table["flag"] == ["outlier", "no outlier"] and table["position"][1] == res.edges[1]
    rect = rectangular_outliers(MarchenkoPastur(ratio=0.5), [2.0], ratio=0.5)
    assert rect.to_dict()["overlap_right"] == rect.overlaps_right.tolist()
    assert "overlap_right" in rect.summary()


# ------------------------------------------------------------------------------ simulation


def _orth(rng, d, k):
    q, _ = np.linalg.qr(rng.standard_normal((d, k)))
    return q


def _check_aggregate(errors, p, label):
    """Mean over seeds within 4 standard errors plus a 1/p finite-size allowance; the
    standard error itself must be O(1/sqrt(p K)) (so the tolerance shrinks with p)."""
    errors = np.asarray(errors)
    k = errors.shape[0]
    mean = errors.mean(axis=0)
    se = errors.std(axis=0, ddof=1) / np.sqrt(k)
    assert np.all(se <= 3.0 / np.sqrt(p * k)), (label, se)
    tol = 4 * se + 1.0 / p
    assert np.all(np.abs(mean) <= tol), (label, mean, tol)


def _simulate_hermitian(p, seeds, g=0.5):
    theta = np.array([3.0, -1.5])
    pred = hermitian_outliers(MarchenkoPastur(ratio=g), theta)
    low = hermitian_outliers(MarchenkoPastur(ratio=g), [0.4])  # below threshold
    n = int(round(p / g))
    errs, tops = [], []
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        y = rng.standard_normal((n, p))
        bulk = y.T @ y / n
        v = _orth(rng, p, 2)
        w, u = np.linalg.eigh(bulk + (v * theta) @ v.T)
        errs.append([w[-1] / pred.positions[0] - 1, w[0] / pred.positions[1] - 1,
                     (u[:, -1] @ v[:, 0]) ** 2 - pred.overlaps[0],
                     (u[:, 0] @ v[:, 1]) ** 2 - pred.overlaps[1]])
        w0, u0 = np.linalg.eigh(bulk + 0.4 * np.outer(v[:, 0], v[:, 0]))
        tops.append([w0[-1] - low.positions[0], (u0[:, -1] @ v[:, 0]) ** 2])
    _check_aggregate(errs, p, "hermitian")
    tops = np.mean(tops, axis=0)
    assert abs(tops[0]) <= 4 * p ** (-2 / 3)  # the top eigenvalue sticks to the edge
    assert tops[1] <= 10.0 / p  # and carries no macroscopic overlap


def _simulate_rectangular(p, seeds, c=0.5):
    theta = np.array([2.0, 1.4])
    pred = rectangular_outliers(MarchenkoPastur(ratio=c), theta, ratio=c)
    n = int(round(c * p))
    errs = []
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((n, p)) / np.sqrt(p)
        u, v = _orth(rng, n, 2), _orth(rng, p, 2)
        a, s, bt = np.linalg.svd(x + (u * theta) @ v.T, full_matrices=False)
        row = []
        for i in range(2):
            row += [s[i] / pred.positions[i] - 1, (a[:, i] @ u[:, i]) ** 2 - pred.overlaps[i],
                    (bt[i] @ v[:, i]) ** 2 - pred.overlaps_right[i]]
        errs.append(row)
    _check_aggregate(errs, n, "rectangular")


def _simulate_covariance(p, seeds, gamma, population, alpha, locs):
    pred = covariance_outliers(alpha, ratio=gamma, population=population)
    assert np.all(pred.is_outlier)
    n = int(round(p / gamma))
    sig = np.concatenate([alpha, locs[np.arange(p - alpha.size) % locs.size]])
    errs = []
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        z = rng.standard_normal((n, p)) * np.sqrt(sig)
        w, u = np.linalg.eigh(z.T @ z / n)
        top, bottom = w[-1], w[0]
        errs.append([top / pred.positions[0] - 1, bottom / pred.positions[1] - 1,
                     u[0, -1] ** 2 - pred.overlaps[0], u[1, 0] ** 2 - pred.overlaps[1]])
    _check_aggregate(errs, p, "covariance")


def test_simulation_hermitian():
    _simulate_hermitian(400, 16)


def test_simulation_rectangular():
    _simulate_rectangular(600, 16)
    _simulate_rectangular(200, 16, c=2.0)  # more rows than columns


def test_simulation_bbp():
    _simulate_covariance(300, 16, 0.5, None, np.array([4.0, 0.15]), np.array([1.0]))


def test_simulation_generalized_two_atom_population():
    _simulate_covariance(300, 16, 0.25, ([1.0, 3.0], [0.5, 0.5]), np.array([8.0, 0.3]),
                         np.array([1.0, 3.0]))


def test_simulation_hermitian_generalized_bulk():
    # B = T^(1/2) Z^T Z T^(1/2) / n with T = diag(1, 3, 1, 3, ...), plus theta v v^T
    from spikewise.solvers.generalized_mp import GeneralizedMarchenkoPastur

    p, gamma, seeds = 300, 0.25, 12
    theta = np.array([3.0, -2.0])
    law = GeneralizedMarchenkoPastur(ratio=gamma, population=[1.0, 3.0], weights=[0.5, 0.5])
    pred = hermitian_outliers(law, theta)
    n = int(round(p / gamma))
    sig = np.where(np.arange(p) % 2 == 0, 1.0, 3.0)
    errs = []
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        z = rng.standard_normal((n, p)) * np.sqrt(sig)
        v = _orth(rng, p, 2)
        w, u = np.linalg.eigh(z.T @ z / n + (v * theta) @ v.T)
        errs.append([w[-1] / pred.positions[0] - 1, w[0] / pred.positions[1] - 1,
                     (u[:, -1] @ v[:, 0]) ** 2 - pred.overlaps[0],
                     (u[:, 0] @ v[:, 1]) ** 2 - pred.overlaps[1]])
    _check_aggregate(errs, p, "hermitian on generalized MP")


@pytest.mark.slow
def test_simulation_large():
    _simulate_hermitian(800, 8)
    _simulate_rectangular(1200, 8)
    _simulate_rectangular(600, 8, c=2.0)
    _simulate_covariance(800, 8, 0.5, None, np.array([4.0, 0.15]), np.array([1.0]))
    _simulate_covariance(800, 8, 0.25, ([1.0, 3.0], [0.5, 0.5]), np.array([8.0, 0.3]),
                         np.array([1.0, 3.0]))
