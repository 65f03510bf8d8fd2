"""Pushforwards (affine, sqrt), Gram orientation flip, singular-value laws."""

import numpy as np
import pytest
from scipy import integrate

from spikewise._validation import InvalidParameterError
from spikewise.solvers.marchenko_pastur import MarchenkoPastur
from spikewise.solvers.transforms import gram_flip, rectangular_singular_values


def test_affine_scale_is_mp_scale():
    base = MarchenkoPastur(ratio=0.4)
    law = base.affine(2.5)
    ref = MarchenkoPastur(ratio=0.4, scale=2.5)
    x = np.linspace(0, 9, 301)
    np.testing.assert_allclose(law.pdf(x), ref.pdf(x), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(law.cdf(x), ref.cdf(x), rtol=1e-13, atol=1e-15)
    z = np.concatenate([x + 0.1j, [-1.0, 10.0]])
    np.testing.assert_allclose(law.stieltjes(z), ref.stieltjes(z), rtol=1e-13)
    np.testing.assert_allclose(law.dstieltjes(z), ref.dstieltjes(z), rtol=1e-12)
    np.testing.assert_allclose(law.support, ref.support, rtol=1e-15)
    for k in (1, 2, 3):
        assert law.moment(k) == pytest.approx(ref.moment(k), rel=1e-13)


def test_affine_negative_and_shift():
    base = MarchenkoPastur(ratio=4.0)  # atom 3/4 at 0
    law = base.affine(-2.0, 5.0)
    loc, mass = law.atoms
    np.testing.assert_allclose(loc, [5.0])
    np.testing.assert_allclose(mass, [0.75])
    assert law.mean() == pytest.approx(-2.0 * 1.0 + 5.0, rel=1e-14)
    assert law.var() == pytest.approx(4.0 * 4.0, rel=1e-12)
    (a, b), = law.support
    assert (a, b) == pytest.approx((5 - 2 * 9.0, 5 - 2 * 1.0))
    # boundary values from above have Im m > 0 and give the density
    x = np.linspace(a, b, 51)[1:-1]
    m = law.stieltjes(x)
    np.testing.assert_allclose(m.imag / np.pi, law.pdf(x), rtol=1e-12)
    # cdf: atom at 5 included, right-continuous; agrees with quadrature of the density
    assert law.cdf(5.0) == pytest.approx(1.0)
    assert law.cdf(4.999) == pytest.approx(0.25, abs=1e-12)
    mid = 0.5 * (a + b)
    ref = integrate.quad(law.pdf, a, mid, limit=200)[0]
    assert law.cdf(mid) == pytest.approx(ref, abs=1e-10)
    q = np.linspace(0.01, 0.24, 7)
    np.testing.assert_allclose(law.cdf(law.ppf(q)), q, atol=1e-10)
    with pytest.raises(InvalidParameterError, match="nonzero"):
        base.affine(0.0)


def test_quarter_circle():
    law = rectangular_singular_values(ratio=1.0)
    y = np.linspace(0.01, 1.99, 99)
    np.testing.assert_allclose(law.pdf(y), np.sqrt(4 - y * y) / np.pi, rtol=1e-12)
    assert law.support == [(0.0, 2.0)]
    assert law.mean() == pytest.approx(8 / (3 * np.pi), rel=1e-10)
    assert law.moment(2) == pytest.approx(1.0, rel=1e-14)
    cdf_ref = (y * np.sqrt(4 - y * y) / 2 + 2 * np.arcsin(y / 2)) / np.pi
    np.testing.assert_allclose(law.cdf(y), cdf_ref, rtol=1e-12)


@pytest.mark.parametrize("ratio", [0.3, 2.0])
def test_sqrt_law_stieltjes(ratio):
    law = rectangular_singular_values(ratio=ratio, scale=1.5)
    lo, hi = law.support[0]
    assert (lo, hi) == pytest.approx(
        (np.sqrt(1.5) * abs(1 - np.sqrt(ratio)), np.sqrt(1.5) * (1 + np.sqrt(ratio))),
        rel=1e-14,
    )
    loc, mass = law.atoms
    z = np.array([1 + 0.5j, 0.2 + 0.05j, -1 + 0.1j, 3.5, -0.5, 0.5 * lo])
    for zz in z:
        f_re = integrate.quad(lambda y, zz=zz: (law.pdf(y) / (y - zz)).real, lo, hi, limit=400)
        f_im = integrate.quad(lambda y, zz=zz: (law.pdf(y) / (y - zz)).imag, lo, hi, limit=400)
        ref = f_re[0] + 1j * f_im[0] + np.sum(mass / (loc - zz))
        assert abs(law.stieltjes(zz) - ref) <= 1e-8 * abs(ref)
    real = law.stieltjes(z[3:])
    assert np.all(real.imag == 0)
    h = 1e-6
    zd = z[:3]
    fd = (law.stieltjes(zd + h) - law.stieltjes(zd - h)) / (2 * h)
    np.testing.assert_allclose(law.dstieltjes(zd), fd, rtol=1e-6)
    # near the support from above: the boundary value gives the density
    y = np.linspace(lo, hi, 41)[5:-5]
    np.testing.assert_allclose(law.stieltjes(y).imag / np.pi, law.pdf(y), rtol=1e-6)


@pytest.mark.parametrize("ratio", [0.3, 1.0, 3.0])
def test_gram_flip_mp(ratio):
    # Y n x p: Y Y^T / n has law MP(ratio=n/p, scale=p/n)
    law = gram_flip(MarchenkoPastur(ratio=ratio), ratio=ratio)
    ref = MarchenkoPastur(ratio=1 / ratio, scale=ratio)
    x = np.linspace(-0.5, 6, 301)
    np.testing.assert_allclose(law.cdf(x), ref.cdf(x), atol=1e-14)
    np.testing.assert_allclose(law.pdf(x), ref.pdf(x), rtol=1e-12, atol=1e-15)
    z = np.concatenate([x + 0.2j, [-1.0, 8.0]])
    np.testing.assert_allclose(law.stieltjes(z), ref.stieltjes(z), rtol=1e-12)
    np.testing.assert_allclose(law.dstieltjes(z), ref.dstieltjes(z), rtol=1e-11)
    np.testing.assert_allclose(np.sum(law.atoms[1]), np.sum(ref.atoms[1]), atol=1e-15)
    for k in (1, 2, 3):
        assert law.moment(k) == pytest.approx(ref.moment(k), rel=1e-13)


def test_gram_flip_rejects_impossible_ratio():
    with pytest.raises(InvalidParameterError, match="'ratio'"):
        gram_flip(MarchenkoPastur(ratio=0.5), ratio=2.0)  # needs >= 1/2 mass at zero
    with pytest.raises(InvalidParameterError, match="SpectralLaw"):
        gram_flip([1.0, 2.0], ratio=0.5)


def test_sqrt_rejects_negative_support():
    with pytest.raises(InvalidParameterError, match="\\[0, inf\\)"):
        MarchenkoPastur(ratio=0.5).affine(1.0, -1.0).sqrt()


@pytest.mark.parametrize("orientation", ["p", "n"])
def test_singular_values_simulation(orientation):
    rng = np.random.default_rng(7)
    n, p = 400, 200
    law = rectangular_singular_values(ratio=p / n, scale=2.0, orientation=orientation)
    ks = []
    for _ in range(3):
        y = rng.standard_normal((n, p)) * np.sqrt(2.0)
        sv = np.linalg.svd(y / np.sqrt(n), compute_uv=False)
        if orientation == "n":
            sv = np.concatenate([sv, np.zeros(n - p)])
        sv = np.sort(sv)
        c = law.cdf(sv)
        k = sv.size
        i = np.arange(1, k + 1)
        cm = c - np.where(sv == 0, np.sum(law.atoms[1]), 0.0)
        ks.append(max(np.max(i / k - c), np.max(cm - (i - 1) / k)))
    size = min(n, p)
    assert np.mean(ks) < 1.2 * np.log(size) / size
