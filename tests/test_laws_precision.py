"""mpmath certification of the float64 laws (edges, thresholds, m(z))."""

import mpmath as mp
import numpy as np
import pytest

from spikewise.solvers import _precision as P
from spikewise.solvers.conjugate_kernel import conjugate_kernel_law
from spikewise.solvers.generalized_mp import GeneralizedMarchenkoPastur
from spikewise.solvers.marchenko_pastur import MarchenkoPastur

LAWS = {
    "two_atoms": lambda: GeneralizedMarchenkoPastur(ratio=0.5, population=[1.0, 3.0],
                                                    weights=[0.3, 0.7]),
    "separated": lambda: GeneralizedMarchenkoPastur(ratio=0.1, population=[1.0, 10.0]),
    "three_atoms_p_gt_n": lambda: GeneralizedMarchenkoPastur(
        ratio=2.5, population=[0.5, 2.0, 6.0], weights=[0.2, 0.5, 0.3]
    ),
    "fifty_atoms": lambda: GeneralizedMarchenkoPastur(
        ratio=0.3, population=np.random.default_rng(0).uniform(0.5, 5.0, 50)
    ),
    "ck_tanh": lambda: conjugate_kernel_law("tanh", psi=2.0, phi=1.0).feature_law,
    "ck_relu_centred_phi_gt_1": lambda: conjugate_kernel_law(
        "relu_centred", psi=1.5, phi=2.0
    ).feature_law,
}


def _points(law):
    pts = [1 + 1j, 0.3 + 1e-3j, law.upper * 0.7 + 1e-9j, -2.0, law.upper * 1.3]
    for lo, hi in law.support:
        pts += [0.5 * (lo + hi), lo + 1e-3 * (hi - lo), hi - 1e-3 * (hi - lo)]
    if law.lower > 0:
        pts.append(0.5 * law.support[0][0])
    for (_, b), (c, _) in zip(law.support[:-1], law.support[1:], strict=True):
        pts.append(0.5 * (b + c))
    return pts


@pytest.mark.parametrize("name", list(LAWS))
def test_stieltjes_certified(name):
    law = LAWS[name]()
    for z in _points(law):
        ref = complex(P.mp_stieltjes(z, law, dps=30))
        got = law.stieltjes(z)
        assert abs(got - ref) <= 1e-12 * abs(ref), (z, got, ref)
        if isinstance(z, float) and not law._inside(np.array([z]))[0]:
            assert got.imag == 0.0 and abs(ref.imag) < 1e-25


@pytest.mark.parametrize("name", list(LAWS))
def test_density_on_a_grid_certified(name):
    # boundary values inside the support: a root that crept onto the real axis (a real root
    # on a decreasing branch of x(s)) would give a density of ~0 here and fail
    law = LAWS[name]()
    x = np.linspace(law.lower, law.upper, 41)[1:-1]
    x = x[law._inside(x)]
    pdf = law.pdf(x)
    for xi, pi in zip(x, pdf, strict=True):
        ref = complex(P.mp_stieltjes(float(xi), law, dps=30)).imag / np.pi
        assert pi == pytest.approx(ref, rel=1e-10, abs=1e-13 * np.max(pdf))


@pytest.mark.parametrize("name", list(LAWS))
def test_edges_certified(name):
    law = LAWS[name]()
    ref = np.array([float(e) for e in P.mp_edges(law, dps=40)])
    got = law.edges[law.edges > 0] if law.edges[0] == 0 else law.edges
    np.testing.assert_allclose(got, ref, rtol=1e-14)


@pytest.mark.parametrize("ratio", [0.1, 0.5, 1.0, 3.0])
def test_mp_closed_form_at_50_digits(ratio):
    law = MarchenkoPastur(ratio=ratio, scale=1.5)
    lo, hi = P.mp_marchenko_pastur_edges(ratio=ratio, scale=1.5, dps=50)
    assert abs(mp.mpf(law.support[0][1]) - hi) <= 1e-15 * hi
    assert abs(mp.mpf(law.support[0][0]) - lo) <= 1e-15 * hi
    for z in [1 + 1j, 2.0 + 1e-6j, -1.0, float(hi) + 1.0, 1e4 + 1j]:
        ref = complex(P.mp_marchenko_pastur_stieltjes(z, ratio=ratio, scale=1.5, dps=50))
        assert abs(law.stieltjes(z) - ref) <= 1e-13 * abs(ref)


@pytest.mark.parametrize("ratio", [0.2, 1.0, 4.0])
def test_bbp_threshold_at_50_digits(ratio):
    law = GeneralizedMarchenkoPastur(ratio=ratio, population=[1.0])
    thr = P.mp_spike_threshold(law, dps=50)
    with mp.workdps(50):
        exact = 1 + mp.sqrt(ratio)
        assert abs(thr - exact) < mp.mpf(10) ** -45
        ell = mp.mpf(5)
        loc = P.mp_spike_location(ell, law, dps=50)
        assert abs(loc - ell * (1 + ratio / (ell - 1))) < mp.mpf(10) ** -45
    assert law.spike_threshold == pytest.approx(float(thr), rel=1e-14)
    assert law.spike_location(5.0) == pytest.approx(float(loc), rel=1e-15)


def test_threshold_two_atoms_certified():
    law = LAWS["two_atoms"]()
    assert law.spike_threshold == pytest.approx(float(P.mp_spike_threshold(law)), rel=1e-14)
    for ell in (8.0, 20.0):
        ref = float(P.mp_spike_location(ell, law, dps=30))
        assert law.spike_location(ell) == pytest.approx(ref, rel=1e-14)


def test_bad_inputs_name_the_parameter():
    from spikewise._validation import InvalidParameterError

    law = GeneralizedMarchenkoPastur(ratio=0.5, population=[1.0])
    mp_law = MarchenkoPastur(ratio=0.5)
    calls = [
        (lambda: P.mp_marchenko_pastur_edges(ratio=-1.0),
         r"'ratio' parameter of mp_marchenko_pastur_edges must be a finite float > 0.0\. "
         r"Got -1.0 instead\."),
        (lambda: P.mp_marchenko_pastur_edges(ratio=0.5, scale=0.0), "'scale' parameter"),
        (lambda: P.mp_marchenko_pastur_stieltjes(float("nan"), ratio=0.5),
         "'z' parameter of mp_marchenko_pastur_stieltjes must be a finite complex"),
        (lambda: P.mp_stieltjes(complex(1.0, np.inf), law), "'z' parameter of mp_stieltjes"),
        (lambda: P.mp_stieltjes(1j, mp_law), "'law' parameter of mp_stieltjes"),
        (lambda: P.mp_edges(mp_law), "'law' parameter of mp_edges"),
        (lambda: P.mp_spike_threshold("x"), "'law' parameter of mp_spike_threshold"),
        (lambda: P.mp_spike_location(np.nan, law), "'ell' parameter of mp_spike_location"),
        (lambda: P.mp_spike_location(5.0, mp_law), "'law' parameter of mp_spike_location"),
    ]
    for call, match in calls:
        with pytest.raises(InvalidParameterError, match=match):
            call()
    # an mpf spike keeps its 50 digits through the check
    with mp.workdps(50):
        loc = P.mp_spike_location(mp.mpf(5), law, dps=50)
        assert abs(loc - 5 * (1 + mp.mpf(0.5) / 4)) < mp.mpf(10) ** -45
