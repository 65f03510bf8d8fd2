"""Spectrum objects, dense and top-k spectra, alignments and the ridge path."""

from __future__ import annotations

import _naive
import numpy as np
import pytest

from spikewise._validation import InvalidParameterError
from spikewise.solvers.marchenko_pastur import MarchenkoPastur
from spikewise.spectra.alignments import (
    ck_hermite_alignments,
    hermite_features,
    squared_overlaps,
    weight_alignments,
)
from spikewise.spectra.ridge import ridge_path
from spikewise.spectra.spectrum import (
    Spectrum,
    ck_spectrum,
    eigen_spectrum,
    singular_spectrum,
    top_ck_eigen,
    top_singular,
    tracy_widom_margin,
)


class _PointMass:
    """A law with one atom, for the atom handling of ks."""

    def __init__(self, loc, mass, rest_cdf):
        self.atoms = (np.array([loc]), np.array([mass]))
        self._loc, self._mass, self._rest = loc, mass, rest_cdf

    def cdf(self, x):
        x = np.asarray(x, dtype=float)
        return self._mass * (x >= self._loc) + (1 - self._mass) * self._rest(x)


def test_spectrum_basic_methods():
    rng = np.random.default_rng(0)
    v = rng.random(500) * 3
    s = Spectrum(v, kind="eigen", source="test", params={"n": 3})
    assert np.all(np.diff(s.values) >= 0) and not s.values.flags.writeable
    with pytest.raises(AttributeError):
        s.kind = "singular"
    h, e = s.histogram(20)
    ref, e2 = np.histogram(v, bins=20, density=True)
    np.testing.assert_allclose(h, ref, rtol=1e-12)
    np.testing.assert_allclose(e, e2)
    z = np.array([1 + 0.5j, -1 + 0j])
    np.testing.assert_allclose(s.stieltjes(z), _naive.stieltjes(v, z), rtol=1e-13)
    assert s.stieltjes(1 + 1j).imag > 0
    np.testing.assert_array_equal(s.top(3), np.sort(v)[::-1][:3])
    xa = s.to_xarray()
    assert xa.attrs["kind"] == "eigen" and xa.attrs["n"] == 3 and xa.shape == (500,)
    assert "eigen" in repr(s)


def test_ks_continuous_and_two_sample():
    rng = np.random.default_rng(1)
    v = rng.random(300)
    s = Spectrum(v)

    class U:
        def cdf(self, x):
            return np.clip(x, 0, 1)

    assert s.ks(U()) == pytest.approx(_naive.ks_continuous(v, lambda x: np.clip(x, 0, 1)))
    w = rng.random(200) + 0.1
    two = s.ks(Spectrum(w))
    grid = np.sort(np.concatenate([v, w]))
    ref = np.max(np.abs(np.searchsorted(np.sort(v), grid, "right") / 300
                        - np.searchsorted(np.sort(w), grid, "right") / 200))
    assert two == pytest.approx(ref)
    assert s.ks(s) == 0.0


def test_ks_handles_atoms():
    rng = np.random.default_rng(2)
    cont = rng.random(600) + 1.0
    zeros = 1e-14 * rng.standard_normal(400)  # numerically zero eigenvalues
    s = Spectrum(np.concatenate([zeros, cont]))
    law = _PointMass(0.0, 0.4, lambda x: np.clip(x - 1.0, 0, 1))
    d = s.ks(law)
    assert d == pytest.approx(_naive.ks_continuous(cont, lambda x: np.clip(x - 1, 0, 1)) * 0.6,
                              rel=1e-12)
    # an atom that is not in the data is seen in full
    s2 = Spectrum(cont)
    assert s2.ks(law) >= 0.4 - 1e-12


def test_mp_simulation_ks_shrinks_with_size():
    """W0 entries N(0, 1/d): eigenvalues of W0^T W0 (N x N) follow MP (atom at 0 when N>d)."""
    rng = np.random.default_rng(3)
    out = []
    for d in (100, 400):
        N = int(1.5 * d)
        W = rng.standard_normal((d, N)) / np.sqrt(d)
        s = ck_spectrum(W, orientation="feature")  # eigenvalues of W^T W / d (W has d rows)
        vals = s.values * d  # eigenvalues of W^T W = G^T G / d, G standard d x N
        law = MarchenkoPastur(ratio=N / d)
        out.append(Spectrum(vals).ks(law))
    assert out[1] < out[0] and out[1] < 0.03


def test_dense_spectra_match_naive():
    rng = np.random.default_rng(4)
    A = rng.standard_normal((70, 40))
    np.testing.assert_allclose(singular_spectrum(A).values, _naive.singular_values(A),
                               rtol=1e-12)
    np.testing.assert_allclose(singular_spectrum(A.T).values, _naive.singular_values(A),
                               rtol=1e-12)
    S = A.T @ A
    np.testing.assert_allclose(eigen_spectrum(S).values, _naive.eigvals(S), rtol=1e-12,
                               atol=1e-12 * S.max())
    for o in ("feature", "sample"):
        for F in (A, A.T):
            ref = _naive.eigvals(_naive.gram(F, o))
            got = ck_spectrum(F, orientation=o).values
            np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-11 * ref.max())


def test_top_k_lanczos_equals_dense():
    rng = np.random.default_rng(5)
    d, N = 80, 120
    beta = rng.standard_normal(d)
    beta /= np.linalg.norm(beta)
    W = rng.standard_normal((d, N)) / np.sqrt(d) + 3.0 * np.outer(beta, np.ones(N)) / np.sqrt(N)
    s1, U1, V1 = top_singular(W, 3, method="lanczos")
    s2, U2, V2 = top_singular(W, 3, method="dense")
    np.testing.assert_allclose(s1, s2, rtol=1e-10)
    np.testing.assert_allclose(np.abs(np.sum(U1 * U2, axis=0)), 1.0, atol=1e-8)
    np.testing.assert_allclose(W @ V2[:, 0], s2[0] * U2[:, 0], atol=1e-10)
    np.testing.assert_allclose(s2, _naive.singular_values(W)[::-1][:3], rtol=1e-12)
    ov = weight_alignments(W, beta, k=2)
    assert ov.shape == (2, 1) and ov[0, 0] > 0.8
    F = np.tanh(rng.standard_normal((150, 60)))
    for o in ("feature", "sample"):
        v1, E1 = top_ck_eigen(F, 2, orientation=o, method="lanczos")
        v2, E2 = top_ck_eigen(F, 2, orientation=o, method="dense")
        np.testing.assert_allclose(v1, v2, rtol=1e-10)
        np.testing.assert_allclose(np.abs(np.sum(E1 * E2, axis=0)), 1.0, atol=1e-8)


def test_outliers_with_tracy_widom_margin():
    rng = np.random.default_rng(6)
    n, p = 800, 400
    Y = rng.standard_normal((n, p))
    Y[:, 0] *= 3.0  # population spike 9 -> outlier near 9 (1 + c/(9-1)) = 9.5625
    s = ck_spectrum(Y, orientation="feature")
    law = MarchenkoPastur(ratio=p / n)
    out = s.outliers(law)
    assert out.size == 1 and out[0] == pytest.approx(9 * (1 + 0.5 / 8), rel=0.05)
    margin = tracy_widom_margin(law.support[-1][1], p)
    assert s.outliers(law.support[-1][1], margin=margin).size == 1
    # no outlier for a null matrix
    s0 = ck_spectrum(rng.standard_normal((n, p)), orientation="feature")
    assert s0.outliers(law).size == 0
    with pytest.raises(InvalidParameterError):
        s0.outliers()


def test_hermite_alignments():
    rng = np.random.default_rng(7)
    n, d = 3000, 20
    X = rng.standard_normal((n, d))
    beta = np.zeros(d)
    beta[0] = 1.0
    H = hermite_features(X, beta, degrees=(1, 2, 3))
    np.testing.assert_allclose(np.linalg.norm(H, axis=0), 1.0)
    np.testing.assert_allclose(H[:, 1] * np.linalg.norm(X[:, 0] ** 2 - 1),
                               _naive.hermite(2, X[:, 0]), rtol=1e-10)
    ov = squared_overlaps(H, H)
    assert np.all(np.diag(ov) == pytest.approx(1.0)) and ov[0, 1] < 0.01
    # features F whose only strong direction is He_2(x_1): its top CK eigenvector is h_2
    F = np.column_stack([5 * (X[:, 0] ** 2 - 1), rng.standard_normal((n, 30))])
    al = ck_hermite_alignments(F, X, beta, k=1, degrees=(1, 2, 3))
    assert al.shape == (1, 1, 3) and al[0, 0, 1] > 0.9 and al[0, 0, 0] < 0.05


@pytest.mark.parametrize("shape", [(80, 30), (30, 80)])
def test_ridge_path_matches_solve(shape):
    rng = np.random.default_rng(8)
    F = np.tanh(rng.standard_normal(shape))
    y = rng.standard_normal(shape[0])
    Ft, yt = np.tanh(rng.standard_normal((40, shape[1]))), rng.standard_normal(40)
    lams = np.array([1e-3, 0.1, 1.0, 10.0])
    path = ridge_path(F, y, lambdas=lams, F_test=Ft, y_test=yt)
    for lam, b, tr, te in zip(lams, path.coef, path.train_error, path.test_error, strict=True):
        ref = _naive.ridge(F, y, lam)
        np.testing.assert_allclose(b, ref, rtol=1e-9, atol=1e-11)
        assert tr == pytest.approx(np.mean((y - F @ ref) ** 2), rel=1e-9)
        assert te == pytest.approx(np.mean((yt - Ft @ ref) ** 2), rel=1e-9)
    np.testing.assert_allclose(path.second_layer, path.coef * np.sqrt(shape[1]))
    assert np.all(np.diff(path.train_error) > 0)  # more penalty, worse fit
    # lambda = 0: minimum-norm least squares
    p0 = ridge_path(F, y, lambdas=[0.0])
    np.testing.assert_allclose(p0.coef[0], np.linalg.lstsq(F, y, rcond=None)[0], rtol=1e-6,
                               atol=1e-8)


def test_bad_inputs_spectrum():
    F = np.ones((5, 3))
    bad = [
        lambda: Spectrum(np.array([1.0, np.nan])),
        lambda: Spectrum(np.ones(3), kind="other"),
        lambda: ck_spectrum(F, orientation="x"),
        lambda: eigen_spectrum(F),
        lambda: singular_spectrum(np.ones((0, 3))),
        lambda: top_singular(F, 0),
        lambda: top_singular(F, 2, method="svd"),
        lambda: ridge_path(F, np.ones(4), lambdas=[1.0]),
        lambda: ridge_path(F, np.ones(5), lambdas=[-1.0]),
        lambda: ridge_path(F, np.ones(5), lambdas=[1.0], F_test=F),
        lambda: ridge_path(F, np.ones(5), lambdas=[np.inf]),
        lambda: Spectrum(np.ones(3)).ks(object()),
        lambda: Spectrum(np.ones(3)).histogram(0),
        lambda: Spectrum(np.ones(3)).stieltjes(np.nan),
    ]
    for call in bad:
        with pytest.raises(InvalidParameterError):
            call()


def test_ks_against_mp_with_atom_at_zero():
    """p > n: the p x p Gram has p - n exact zeros; MP(ratio=p/n) has the atom 1 - n/p."""
    rng = np.random.default_rng(12)
    dists = []
    for n in (150, 600):
        p = 2 * n
        s = ck_spectrum(rng.standard_normal((n, p)), orientation="feature")
        assert np.count_nonzero(s.values == 0) == p - n
        dists.append(s.ks(MarchenkoPastur(ratio=p / n)))
    assert dists[1] < dists[0] and dists[1] < 0.02


def test_tracy_widom_margin_value_and_bad_inputs():
    assert tracy_widom_margin(-2.0, 8) == pytest.approx(3.0 * 2.0 / 4.0, rel=1e-15)
    assert tracy_widom_margin(2.0, 8, kind="singular", factor=1.0) == pytest.approx(0.25)
    for kwargs, name in (
        (dict(edge=1.0, size=0), "'size' parameter of tracy_widom_margin must be a finite int"),
        (dict(edge=np.nan, size=10), "'edge' parameter of tracy_widom_margin"),
        (dict(edge=1.0, size=10, kind="x"), r"'kind' parameter .* one of \{'eigen', 'singular'\}"),
        (dict(edge=1.0, size=10, factor=-1.0), "'factor' parameter .* >= 0.0. Got -1.0 instead"),
    ):
        with pytest.raises(InvalidParameterError, match=name):
            tracy_widom_margin(**kwargs)


def test_zero_directions_and_unpaired_test_set_messages():
    with pytest.raises(InvalidParameterError,
                       match=r"'directions' parameter of squared_overlaps must have nonzero "
                             r"columns\. Got zero columns at \[1\] instead\."):
        squared_overlaps(np.ones((4, 2)), np.column_stack([np.ones(4), np.zeros(4)]))
    with pytest.raises(InvalidParameterError, match="'direction' parameter of hermite_features"):
        hermite_features(np.ones((4, 3)), np.zeros(3))
    F = np.ones((5, 3))
    with pytest.raises(InvalidParameterError, match="given together. Got only y_test instead"):
        ridge_path(F, np.ones(5), lambdas=[1.0], y_test=np.ones(5))
    with pytest.raises(InvalidParameterError, match="given together. Got only F_test instead"):
        ridge_path(F, np.ones(5), lambdas=[1.0], F_test=F)


def test_eigen_spectrum_rejects_non_symmetric_and_spectrum_bad_params():
    S = np.arange(4.0).reshape(2, 2)  # eigvalsh of either triangle would be silently wrong
    with pytest.raises(InvalidParameterError,
                       match=r"'S' parameter of eigen_spectrum must be symmetric .* "
                             r"Got max \|S - S\^T\| = 1 instead\."):
        eigen_spectrum(S)
    Ssym = S + S.T + 1e-14  # rounding-level asymmetry is accepted
    Ssym[0, 1] += 1e-15
    np.testing.assert_allclose(eigen_spectrum(Ssym).values, np.linalg.eigvalsh(S + S.T),
                               rtol=1e-12, atol=1e-12)
    with pytest.raises(InvalidParameterError, match="'params' parameter of Spectrum"):
        Spectrum(np.ones(3), params="x")


def test_empirical_cdf_values_and_nan():
    s = Spectrum(np.array([3.0, 1.0, 2.0, 2.0]))
    np.testing.assert_array_equal(s.cdf([-np.inf, 1.0, 1.5, 2.0, 3.0, np.inf]),
                                  [0.0, 0.25, 0.25, 0.75, 1.0, 1.0])
    with pytest.raises(InvalidParameterError,
                       match=r"'x' parameter of Spectrum.cdf must not contain NaN\. "
                             r"Got 1 NaN entries instead\."):
        s.cdf([1.0, np.nan])


def test_top_rejects_more_values_than_it_has():
    s = Spectrum(np.array([1.0, 2.0, 3.0]), kind="eigen", source="t")
    np.testing.assert_array_equal(s.top(3), [3.0, 2.0, 1.0])
    with pytest.raises(InvalidParameterError, match="'k' parameter of Spectrum.top"):
        s.top(4)
