"""Marchenko–Pastur in closed form, and the generalized solver with H = delta_1 against it."""

import numpy as np
import pytest
from scipy import integrate

from spikewise._validation import InvalidParameterError
from spikewise.solvers._law import SpectralLaw
from spikewise.solvers.generalized_mp import GeneralizedMarchenkoPastur
from spikewise.solvers.marchenko_pastur import MarchenkoPastur, narayana_moment

RATIOS = [0.25, 0.9, 1.0, 4.0]
SCALES = [1.0, 2.5]


def _grid(law, n=401):
    a, b = law.support[0]
    return np.linspace(a - 0.3 * (b - a), b + 0.3 * (b - a), n)


def _complex_points(law):
    a, b = law.support[0]
    x = np.linspace(a - 1.0, b + 1.0, 41)
    return np.concatenate([x + 1e-3j, x + 0.5j, x + 10j, 3 * x - 7 + 2j, [1e6 + 1j, -3e4 + 1e-2j]])


def _real_outside(law):
    a, b = law.support[0]
    pts = [b + 1e-6, b + 0.1, b + 10.0, 1e5, -1e-3, -5.0]
    if a > 1e-3:
        pts += [a - 1e-6 * a, 0.5 * a]
    return np.array(pts)


@pytest.mark.parametrize("ratio", RATIOS)
@pytest.mark.parametrize("scale", SCALES)
def test_mp_edges_atoms_mass(ratio, scale):
    law = MarchenkoPastur(ratio=ratio, scale=scale)
    a, b = law.support[0]
    assert a == pytest.approx(scale * (1 - np.sqrt(ratio)) ** 2, abs=1e-15)
    assert b == pytest.approx(scale * (1 + np.sqrt(ratio)) ** 2, rel=1e-15)
    atom = max(1.0 - 1.0 / ratio, 0.0)
    loc, mass = law.atoms
    assert np.sum(mass) == pytest.approx(atom, abs=1e-15)
    if atom:
        assert loc.tolist() == [0.0]
    # total mass of the density = 1 - atom (independent quadrature)
    total, _ = integrate.quad(law.pdf, a, b, limit=400, epsabs=1e-13, points=[a, b])
    assert total == pytest.approx(1.0 - atom, abs=1e-9)
    assert law.continuous_mass == pytest.approx(1.0 - atom, abs=1e-15)
    assert law.cdf(b) == pytest.approx(1.0, abs=1e-15)
    assert law.cdf(-1e-12) == 0.0


@pytest.mark.parametrize("ratio", RATIOS + [0.9999, 1.0001])
def test_mp_cdf_against_quadrature(ratio):
    law = MarchenkoPastur(ratio=ratio, scale=1.7)
    a, b = law.support[0]
    atom = max(1.0 - 1.0 / ratio, 0.0)
    for x in np.linspace(a, b, 9)[1:-1]:
        # break points resolve the crossover at the scale a near ratio 1 (rho ~ sqrt(x-a)/x)
        pts = [p for p in a + max(a, 1e-300) * 10.0 ** np.arange(0, 12) if p < x]
        ref, _ = integrate.quad(
            law.pdf, a, x, limit=800, epsabs=1e-14, epsrel=1e-13, points=pts or None
        )
        assert law.cdf(x) == pytest.approx(ref + atom, abs=1e-11)
    # the closed form and the generic cosine-series cdf of the base class agree
    x = np.linspace(a, b, 201)
    np.testing.assert_allclose(SpectralLaw._cdf(law, x), law.cdf(x), atol=1e-13)


@pytest.mark.parametrize("ratio", RATIOS)
def test_mp_moments_narayana(ratio):
    law = MarchenkoPastur(ratio=ratio, scale=1.3)
    # Narayana numbers N(k, j): k=3 -> 1, 3, 1 ; k=4 -> 1, 6, 6, 1
    g = ratio
    assert narayana_moment(3, g, 1.3) == pytest.approx(1.3**3 * (1 + 3 * g + g**2), rel=1e-14)
    assert narayana_moment(4, g, 1.3) == pytest.approx(
        1.3**4 * (1 + 6 * g + 6 * g**2 + g**3), rel=1e-14
    )
    for k in range(1, 7):
        numeric = SpectralLaw._moment(law, k)  # quadrature of the density + atoms
        assert law.moment(k) == pytest.approx(numeric, rel=1e-11)
    assert law.mean() == pytest.approx(1.3, rel=1e-15)
    assert law.var() == pytest.approx(ratio * 1.3**2, rel=1e-14)
    assert law.moment(0) == 1.0


@pytest.mark.parametrize("ratio", RATIOS)
def test_mp_stieltjes_closed_form(ratio):
    law = MarchenkoPastur(ratio=ratio, scale=1.0)
    z = np.array([1 + 1j, -2 + 0.3j, 5 + 4j, 0.7 + 2j])
    loc, mass = law.atoms
    a, b = law.support[0]
    for zz in z:
        re = integrate.quad(lambda x, zz=zz: (law.pdf(x) / (x - zz)).real, a, b, limit=400)[0]
        im = integrate.quad(lambda x, zz=zz: (law.pdf(x) / (x - zz)).imag, a, b, limit=400)[0]
        ref = re + 1j * im + np.sum(mass / (loc - zz))
        assert abs(law.stieltjes(zz) - ref) <= 1e-9 * abs(ref)
    # the quadratic equation
    z = _complex_points(law)
    m = law.stieltjes(z)
    resid = ratio * z * m**2 + (z - (1 - ratio)) * m + 1
    assert np.max(np.abs(resid) / (1 + np.abs(z * m))) < 1e-12
    assert np.all(m.imag > 0)


@pytest.mark.parametrize("ratio", RATIOS)
def test_mp_pdf_is_boundary_value(ratio):
    law = MarchenkoPastur(ratio=ratio, scale=2.0)
    x = _grid(law)
    x = x[x != 0]
    np.testing.assert_allclose(
        law.stieltjes(x).imag / np.pi, law.pdf(x), rtol=1e-12, atol=1e-15
    )
    xo = _real_outside(law)
    m = law.stieltjes(xo)
    assert np.all(m.imag == 0)
    # m(x) = int dmu / (t - x) is increasing off the support: m' > 0
    assert np.all(law.dstieltjes(xo).real > 0)


@pytest.mark.parametrize("ratio", RATIOS)
def test_mp_derivative_finite_difference(ratio):
    law = MarchenkoPastur(ratio=ratio)
    z = np.concatenate([_complex_points(law)[:-2], _real_outside(law)[:-1]])
    dist = np.min(np.abs(z[:, None] - law.edges[None, :]), axis=1)
    h = np.minimum(1e-6 * np.maximum(1.0, np.abs(z)), 1e-3 * dist)
    fd = (law.stieltjes(z + h) - law.stieltjes(z - h)) / (2 * h)
    np.testing.assert_allclose(law.dstieltjes(z), fd, rtol=1e-5)


@pytest.mark.parametrize("ratio", RATIOS + [0.9999, 1.0001])
@pytest.mark.parametrize("scale", SCALES)
def test_gmp_delta_one_matches_mp(ratio, scale):
    mp_law = MarchenkoPastur(ratio=ratio, scale=scale)
    gmp = GeneralizedMarchenkoPastur(ratio=ratio, population=[scale])
    np.testing.assert_allclose(gmp.edges, mp_law.edges, rtol=1e-12, atol=1e-15)
    loc1, mass1 = gmp.atoms
    loc2, mass2 = mp_law.atoms
    np.testing.assert_allclose(mass1, mass2, rtol=1e-14)
    x = _grid(mp_law)
    p1, p2 = gmp.pdf(x), mp_law.pdf(x)
    a, b = mp_law.support[0]
    far = np.minimum(np.abs(x - a), np.abs(x - b)) > 1e-3 * (b - a)  # pdf ~ sqrt near edges
    np.testing.assert_allclose(p1[far], p2[far], rtol=1e-10)
    # near the edges the density is ~ sqrt(distance), so a one-ulp difference of the edge
    # moves it by ~ sqrt(eps); grid points within 1e-10 of the width of an edge (where even
    # the two float64 edges differ in the last digits) are not comparable
    dist = np.minimum(np.abs(x - a), np.abs(x - b))
    ok = dist > 1e-10 * (b - a)
    np.testing.assert_allclose(p1[ok], p2[ok], atol=1e-7)
    np.testing.assert_allclose(gmp.cdf(x), mp_law.cdf(x), rtol=1e-10, atol=1e-13)
    z = _complex_points(mp_law)
    np.testing.assert_allclose(gmp.stieltjes(z), mp_law.stieltjes(z), rtol=1e-10)
    np.testing.assert_allclose(gmp.dstieltjes(z), mp_law.dstieltjes(z), rtol=1e-9)
    xo = _real_outside(mp_law)
    m1 = gmp.stieltjes(xo)
    assert np.all(m1.imag == 0)
    np.testing.assert_allclose(m1, mp_law.stieltjes(xo), rtol=1e-10)
    np.testing.assert_allclose(gmp.dstieltjes(xo), mp_law.dstieltjes(xo), rtol=1e-8)
    xi = x[(x > a) & (x < b) & ok]
    np.testing.assert_allclose(gmp.stieltjes(xi), mp_law.stieltjes(xi), rtol=1e-9)
    for k in (1, 2, 3):
        assert gmp.moment(k) == pytest.approx(mp_law.moment(k), rel=1e-11)


def test_mp_ppf_and_sample():
    law = MarchenkoPastur(ratio=0.5)
    q = np.linspace(0, 1, 1001)
    np.testing.assert_allclose(law.cdf(law.ppf(q)), q, atol=1e-13)
    x = law.sample(20000, rng=0)
    xs = np.sort(x)
    ks = np.max(np.abs(law.cdf(xs) - np.arange(1, xs.size + 1) / xs.size))
    assert ks < 1.63 / np.sqrt(xs.size)  # 1% level of the Kolmogorov distribution
    np.testing.assert_array_equal(law.sample(5, rng=3), law.sample(5, rng=3))
    # with an atom, the quantiles below the atom's mass are zero
    law4 = MarchenkoPastur(ratio=4.0)
    assert np.all(law4.ppf([0.0, 0.3, 0.74]) == 0.0)
    assert law4.ppf(0.76) > law4.support[0][0]


@pytest.mark.parametrize(
    "kwargs",
    [{"ratio": -1.0}, {"ratio": 0.0}, {"ratio": float("nan")}, {"ratio": 1.0, "scale": -2.0},
     {"ratio": "a"}, {"ratio": True}],
)
def test_mp_invalid_parameters(kwargs):
    with pytest.raises(InvalidParameterError, match="MarchenkoPastur"):
        MarchenkoPastur(**kwargs)


def test_invalid_inputs():
    law = MarchenkoPastur(ratio=0.5)
    with pytest.raises(InvalidParameterError, match="NaN"):
        law.pdf([1.0, np.nan])
    with pytest.raises(InvalidParameterError, match="'q'"):
        law.ppf(1.5)
    with pytest.raises(InvalidParameterError, match="'z'"):
        law.stieltjes(np.nan)
    with pytest.raises(InvalidParameterError, match="'k'"):
        law.moment(-1)
    with pytest.raises(TypeError):
        MarchenkoPastur(0.5)  # keyword-only


def test_params_repr_scalar_io():
    law = MarchenkoPastur(ratio=0.5, scale=2.0)
    assert law.params == {"ratio": 0.5, "scale": 2.0}
    assert "ratio=0.5" in repr(law)
    assert isinstance(law.pdf(1.0), float)
    assert isinstance(law.stieltjes(1.0 + 1j), complex)
    assert law.pdf(np.ones((2, 3))).shape == (2, 3)


def test_sample_rejects_bad_sizes():
    law = MarchenkoPastur(ratio=0.5)
    assert law.sample((2, 3), rng=0).shape == (2, 3) and law.sample(0, rng=0).shape == (0,)
    for bad in (-3, 2.5, (2, -1), "x"):
        with pytest.raises(InvalidParameterError,
                           match=r"'size' parameter of MarchenkoPastur.sample must be a finite "
                                 r"int >= 0\. Got .* instead\."):
            law.sample(bad, rng=0)
