"""Tests of the ridge-risk theory, ``spikewise.solvers.risk``.

Closed forms (isotropic linear ridge through the Marchenko–Pastur Stieltjes transform,
Hastie et al. 2022; 2-D Gaussian quadrature of the feature moments) at rtol 1e-10, and the
theory against ``spectra.ridge_path`` on fresh data with the same first layer.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from spikewise._gauss import product_rule
from spikewise._validation import ConvergenceError, ConvergenceWarning, InvalidParameterError
from spikewise.activations import get_activation
from spikewise.solvers import MarchenkoPastur
from spikewise.solvers.risk import (
    _ridge,
    feature_moments,
    finite_width_risk,
    random_features_risk,
    ridge_risk,
)
from spikewise.spectra import ridge_path


def _orthonormal_columns(d, N, rng):
    Q, _ = np.linalg.qr(rng.standard_normal((d, N)))
    return Q


def _unit(d, rng):
    beta = rng.standard_normal(d)
    return beta / np.linalg.norm(beta)


# --------------------------------------------------------------------------------------------
# closed forms
# --------------------------------------------------------------------------------------------
def _isotropic_risk(lam, *, gamma, r2, s2):
    """Hastie, Montanari, Rosset & Tibshirani (2022), Thm 5: isotropic ridge, lambda > 0.

    ``R = s2 + r2 lam^2 m'(-lam) + s2 gamma (m(-lam) - lam m'(-lam))``, ``m`` the Stieltjes
    transform of the Marchenko–Pastur law of ratio ``gamma = N/n``.
    """
    law = MarchenkoPastur(ratio=gamma)
    m = law.stieltjes(-lam).real
    dm = law.dstieltjes(-lam).real
    return s2 + r2 * lam**2 * dm + s2 * gamma * (m - lam * dm)


@pytest.mark.parametrize("N, n", [(60, 150), (120, 80)])
@pytest.mark.parametrize("teacher", ["linear", "tanh"])
def test_linear_activation_orthogonal_W_is_isotropic_linear_ridge(N, n, teacher):
    rng = np.random.default_rng(1)
    d = 200
    W = _orthonormal_columns(d, N, rng)
    beta = _unit(d, rng)
    lams = np.logspace(-3, 1, 9)
    noise = 0.3
    risk = finite_width_risk(W, beta, n=n, lambdas=lams, activation="linear",
                             teacher=teacher, noise=noise)
    g = get_activation(teacher)
    r2 = g.mu1**2 * np.sum((W.T @ beta) ** 2)
    s2 = noise**2 + g.second_moment - r2
    want = _isotropic_risk(lams, gamma=N / n, r2=r2, s2=s2)
    np.testing.assert_allclose(risk.test_error, want, rtol=1e-10)
    np.testing.assert_allclose(risk.bias + risk.variance + risk.misspecification + risk.noise,
                               risk.test_error, rtol=1e-12)
    # the minimum-norm limits (Hastie et al. 2022, Thms 1 and 2)
    zero = finite_width_risk(W, beta, n=n, lambdas=[0.0], activation="linear",
                             teacher=teacher, noise=noise).test_error[0]
    gamma = N / n
    if gamma < 1:
        want0 = s2 / (1 - gamma)
    else:
        want0 = s2 + r2 * (1 - 1 / gamma) + s2 / (gamma - 1)
    np.testing.assert_allclose(zero, want0, rtol=1e-10)


def test_lambda_limits_and_train_relation():
    rng = np.random.default_rng(2)
    d, N = 80, 120
    W = rng.standard_normal((d, N)) / np.sqrt(d)
    beta = _unit(d, rng)
    for n in (60, 300):  # over- and under-parameterized
        risk = finite_width_risk(W, beta, n=n, lambdas=[0.0, 1e-11, 1e-3, 1.0, 1e9],
                                 activation="tanh", teacher="tanh", noise=0.2)
        Ef2 = get_activation("tanh").second_moment
        np.testing.assert_allclose(risk.test_error[-1], Ef2 + 0.04, rtol=1e-8)
        np.testing.assert_allclose(risk.test_error[1], risk.test_error[0], rtol=1e-7)
        kappa = risk.effective_regularization
        np.testing.assert_allclose(risk.train_error, (risk.lambdas / np.where(
            kappa > 0, kappa, 1)) ** 2 * risk.test_error * (kappa > 0), rtol=1e-12)
        # the fixed point itself
        S = feature_moments(W, beta, activation="tanh", teacher="tanh").covariance
        s = np.linalg.eigvalsh(S)
        for lam, k in zip(risk.lambdas, kappa, strict=True):
            df1 = np.sum(s / (s + k))
            np.testing.assert_allclose(lam, k * (1 - df1 / n), rtol=1e-10, atol=1e-12 * k)
        np.testing.assert_allclose(risk.df1, [np.sum(s / (s + k)) for k in kappa], rtol=1e-9)
    assert risk.train_error[0] == 0.0  # interpolation below the rank


def test_ridge_risk_generic_matches_finite_width():
    rng = np.random.default_rng(3)
    W = rng.standard_normal((50, 70)) / np.sqrt(50)
    beta = _unit(50, rng)
    mom = feature_moments(W, beta, activation="relu", teacher="sin")
    a = ridge_risk(mom.covariance, mom.cross_moment, n=90, lambdas=[0.01, 0.1],
                   target_second_moment=mom.target_second_moment, noise=0.1)
    b = finite_width_risk(W, beta, n=90, lambdas=[0.01, 0.1], activation="relu",
                          teacher="sin", noise=0.1)
    np.testing.assert_allclose(a.test_error, b.test_error, rtol=1e-12)


# --------------------------------------------------------------------------------------------
# feature moments vs 2-D Gaussian quadrature
# --------------------------------------------------------------------------------------------
def _pair_expectation(f, g, ra, rb, rho):
    x, w = product_rule(2, nodes=200)
    u = ra * x[:, 0]
    v = rb * (rho * x[:, 0] + np.sqrt(1 - rho**2) * x[:, 1])
    return float(np.dot(w, f(u) * g(v)))


def test_feature_moments_tanh_against_quadrature():
    rng = np.random.default_rng(4)
    d = 6
    W = rng.standard_normal((d, 5)) * np.array([0.5, 0.8, 1.0, 1.2, 0.6]) / np.sqrt(d)
    W[:, 4] = W[:, 3] + 0.3 * W[:, 4]  # a strongly correlated pair (cosine 0.96)
    beta = _unit(d, rng)
    mom = feature_moments(W, beta, activation="tanh", teacher="sin", tol=1e-13, k_max=100)
    tanh, sin = np.tanh, np.sin
    r = np.linalg.norm(W, axis=0)
    C = (W / r).T @ (W / r)
    for i in range(5):
        for j in range(5):
            want = _pair_expectation(tanh, tanh, r[i], r[j], min(C[i, j], 1.0))
            np.testing.assert_allclose(mom.covariance[i, j], want, rtol=1e-10, atol=1e-13)
        want_b = _pair_expectation(tanh, sin, r[i], 1.0, (W[:, i] @ beta) / r[i])
        np.testing.assert_allclose(mom.cross_moment[i], want_b, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(mom.target_second_moment, (1 - np.exp(-2)) / 2, rtol=1e-13)
    assert mom.truncation_error <= 1e-13 * mom.covariance.diagonal().max()


def test_relu_closed_form_against_hermite_series():
    rng = np.random.default_rng(5)
    d = 400
    W = rng.standard_normal((d, 30)) / np.sqrt(d)
    beta = _unit(d, rng)
    relu = get_activation("relu_centred")
    mom = feature_moments(W, beta, activation=relu, teacher="relu")
    r = np.linalg.norm(W, axis=0)
    fact = np.cumprod(np.r_[1.0, np.arange(1, 61)])
    C = (W / r).T @ (W / r)
    mu_r = np.outer(r, get_activation("relu").hermite(60))  # relu(r z) = r relu(z)
    mu_r[:, 0] += relu.kernel_params[1]  # the shift does not scale
    series = np.einsum("ik,jk,k,ijk->ij", mu_r, mu_r, fact,
                       C[:, :, None] ** np.arange(61)[None, None, :])
    off = ~np.eye(30, dtype=bool)
    np.testing.assert_allclose(mom.covariance[off], series[off], rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(np.diag(mom.covariance), r**2 / 2 - r / np.pi + 1 / (2 * np.pi),
                               rtol=1e-12)


def test_truncation_warning_when_cosines_near_one():
    rng = np.random.default_rng(6)
    W = rng.standard_normal((10, 3))
    W[:, 1] = W[:, 0] + 1e-3 * W[:, 1]
    with pytest.warns(ConvergenceWarning, match="truncation bound"):
        mom = feature_moments(W, _unit(10, rng), activation="tanh", teacher="tanh", k_max=10)
    assert mom.order == 10 and mom.truncation_error > 1e-10


# --------------------------------------------------------------------------------------------
# theory vs simulation on the same W
# --------------------------------------------------------------------------------------------
def _paired(activation, teacher, *, d, N, n, n_test, lambdas, seeds, noise=0.1):
    act, tea = get_activation(activation), get_activation(teacher)
    diffs, theory = [], []
    for seed in range(seeds):
        rng = np.random.default_rng(100 + seed)
        W = rng.standard_normal((d, N)) / np.sqrt(d)
        beta = _unit(d, rng)
        th = finite_width_risk(W, beta, n=n, lambdas=lambdas, activation=act,
                               teacher=tea, noise=noise)
        X = rng.standard_normal((n + n_test, d))
        y = tea(X @ beta) + noise * rng.standard_normal(n + n_test)
        F = act(X @ W)
        sim = ridge_path(F[:n], y[:n], lambdas=lambdas, F_test=F[n:], y_test=y[n:])
        diffs.append(np.r_[sim.test_error - th.test_error, sim.train_error - th.train_error])
        theory.append(np.r_[th.test_error, th.train_error])
    diffs, theory = np.array(diffs), np.array(theory)
    return diffs.mean(0), diffs.std(0, ddof=1) / np.sqrt(seeds), theory.mean(0)


CASES = [("tanh", "tanh"), ("tanh", "linear"), ("relu", "relu"), ("relu", "linear")]


@pytest.mark.parametrize("activation, teacher", CASES)
def test_finite_width_vs_ridge_path_small(activation, teacher):
    lams = np.array([1e-3, 1e-2, 0.1, 1.0])
    mean, se, th = _paired(activation, teacher, d=150, N=200, n=300, n_test=3000,
                           lambdas=lams, seeds=8)
    # sampling error (3 se) plus the O(1/d) finite-size bias of the deterministic equivalent
    assert np.all(np.abs(mean) <= 3 * se + 0.03 * th), (mean, se, th)


@pytest.mark.slow
@pytest.mark.parametrize("activation, teacher", CASES)
def test_finite_width_vs_ridge_path_d1000(activation, teacher):
    lams = np.array([1e-3, 1e-2, 0.1, 1.0])
    # N / n = 1/3: closer to interpolation (N / n = 0.6, lambda = 1e-3) the deterministic
    # equivalent's own O(n^-1/2) error is amplified; there relu-relu measured +3.0% +- 0.8%
    # (12 seeds), tanh-tanh +1.8% +- 0.9%.
    mean, se, th = _paired(activation, teacher, d=1000, N=1000, n=3000, n_test=8000,
                           lambdas=lams, seeds=8)
    assert np.all(np.abs(mean) <= 3 * se), (mean, se)
    # the train error of one fit fluctuates by sqrt(2 / (n - N)) (3%): only the test error
    # (averaged over n_test = 8000 fresh points) has a sampling error well below 2%
    test = slice(0, lams.size)
    assert np.all(np.abs(mean[test]) <= 0.02 * th[test]), (mean / th)


# --------------------------------------------------------------------------------------------
# the random-features limit
# --------------------------------------------------------------------------------------------
def _average_finite(activation, teacher, *, d, psi, phi, lambdas, draws, noise):
    out = []
    for seed in range(draws):
        rng = np.random.default_rng(200 + seed)
        W = rng.standard_normal((d, int(phi * d))) / np.sqrt(d)
        out.append(finite_width_risk(W, _unit(d, rng), n=int(psi * d), lambdas=lambdas,
                                     activation=activation, teacher=teacher,
                                     noise=noise).test_error)
    out = np.array(out)
    return out.mean(0), out.std(0, ddof=1) / np.sqrt(draws)


@pytest.mark.parametrize("activation, teacher, psi, phi",
                         [("tanh", "tanh", 2.0, 1.5), ("relu", "relu", 1.5, 2.0)])
def test_random_features_limit_vs_finite_width_small(activation, teacher, psi, phi):
    lams = np.array([1e-3, 0.1, 1.0])
    rf = random_features_risk(lams, psi=psi, phi=phi, activation=activation,
                              teacher=teacher, noise=0.1)
    mean, se = _average_finite(activation, teacher, d=200, psi=psi, phi=phi, lambdas=lams,
                               draws=4, noise=0.1)
    assert np.all(np.abs(rf.test_error - mean) <= 3 * se + 0.03 * rf.test_error)


@pytest.mark.slow
@pytest.mark.parametrize("activation, teacher, psi, phi",
                         [("tanh", "tanh", 2.0, 1.5), ("relu", "relu", 1.5, 2.0),
                          ("relu", "tanh", 3.0, 1.0)])
def test_random_features_limit_vs_finite_width_d1000(activation, teacher, psi, phi):
    lams = np.array([1e-3, 0.1, 1.0])
    rf = random_features_risk(lams, psi=psi, phi=phi, activation=activation,
                              teacher=teacher, noise=0.1)
    # the finite-W risk of one draw fluctuates by a few % (the teacher's quadratic forms in
    # W^T beta): 16 draws bring the standard error well below the 1% asked for
    mean, se = _average_finite(activation, teacher, d=1000, psi=psi, phi=phi, lambdas=lams,
                               draws=16, noise=0.1)
    assert np.all(np.abs(mean - rf.test_error) <= 3 * se), (mean, se, rf.test_error)
    np.testing.assert_allclose(mean, rf.test_error, rtol=0.01)


def test_random_features_linear_activation_is_projected_linear_ridge():
    # sigma = identity: Sigma = W^T W, rank min(N, d); large d average equals the limit.
    # phi = 3 keeps the smallest non-zero eigenvalues (edge 0.54) away from kappa: near the
    # edge the finite-d corrections are O(d^{-2/3}) and a d = 200 average is 10% off.
    lams = np.array([0.0, 0.05, 0.5])
    rf = random_features_risk(lams, psi=2.0, phi=3.0, activation="linear", teacher="linear")
    mean, se = _average_finite("linear", "linear", d=200, psi=2.0, phi=3.0, lambdas=lams,
                               draws=10, noise=0.0)
    assert rf.test_error[0] < 1e-12 and mean[0] < 1e-12  # noiseless interpolation, N < n
    assert np.all(np.abs(rf.test_error - mean)[1:] <= 3 * se[1:] + 0.02 * rf.test_error[1:])


def test_random_features_double_descent_peak():
    phis = np.array([0.5, 0.9, 0.99, 1.01, 1.1, 2.0])
    rf = random_features_risk([0.0, 1e-12], psi=1.0, phi=phis, activation="tanh",
                              teacher="tanh", noise=0.2)
    err = rf.test_error[:, 0]
    assert err[2] > 20 * err[0] and err[3] > 20 * err[-1]
    assert np.all(np.diff(err[:3]) > 0) and np.all(np.diff(err[3:]) < 0)
    np.testing.assert_allclose(rf.test_error[:, 1], err, rtol=1e-6)
    at_peak = random_features_risk([0.0], psi=1.0, phi=1.0, activation="tanh",
                                   teacher="tanh", noise=0.2)
    assert np.isinf(at_peak.test_error[0])
    ds = rf.to_xarray()
    assert ds.test_error.dims == ("phi", "lambda") and ds.attrs["psi"] == 1.0
    assert rf.optimal_lambda.shape == (6,)


def test_random_features_lambda_infinity_and_split():
    rf = random_features_risk([1e9], psi=2.0, phi=3.0, activation="relu", teacher="tanh",
                              noise=0.5)
    np.testing.assert_allclose(rf.test_error, get_activation("tanh").second_moment + 0.25,
                               rtol=1e-7)
    rf = random_features_risk(np.logspace(-3, 1, 7), psi=[0.5, 3.0], phi=1.2,
                              activation="tanh", teacher="tanh", noise=0.1)
    np.testing.assert_allclose(rf.bias + rf.variance + rf.misspecification + rf.noise,
                               rf.test_error, rtol=1e-12)


# --------------------------------------------------------------------------------------------
# bad input and non-convergence
# --------------------------------------------------------------------------------------------
def test_bad_input():
    rng = np.random.default_rng(7)
    W = rng.standard_normal((20, 10))
    beta = _unit(20, rng)
    with pytest.raises(InvalidParameterError, match="lambdas"):
        finite_width_risk(W, beta, n=10, lambdas=[-1.0])
    with pytest.raises(InvalidParameterError, match="directions"):
        finite_width_risk(W, beta[:19], n=10, lambdas=[1.0])
    with pytest.raises(InvalidParameterError, match="orthonormal"):
        finite_width_risk(W, 2 * beta, n=10, lambdas=[1.0])
    with pytest.raises(InvalidParameterError, match="'n'"):
        finite_width_risk(W, beta, n=0, lambdas=[1.0])
    bad = W.copy()
    bad[0, 0] = np.nan
    with pytest.raises(InvalidParameterError, match="'W'"):
        finite_width_risk(bad, beta, n=10, lambdas=[1.0])
    with pytest.raises(InvalidParameterError, match="'psi'"):
        random_features_risk([1.0], psi=-1.0, phi=1.0)
    with pytest.raises(InvalidParameterError, match="lambdas"):
        random_features_risk([np.nan], psi=1.0, phi=1.0)
    with pytest.raises(InvalidParameterError, match="inconsistent"):
        ridge_risk(np.eye(2), [1.0, 1.0], n=5, lambdas=[1.0], target_second_moment=1.0)


def test_non_convergence_raises(monkeypatch):
    monkeypatch.setattr(_ridge, "_MAX_NEWTON", 1)
    with pytest.raises(ConvergenceError, match="did not converge"):
        ridge_risk(np.diag([1.0, 2.0, 3.0]), [0.1, 0.1, 0.1], n=2, lambdas=[0.1],
                   target_second_moment=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ConvergenceError, match="did not converge"):
            random_features_risk([0.1], psi=1.0, phi=2.0)


def _weights_by_eigh(S, b):
    s, U = np.linalg.eigh(S)
    return s, (U.T @ b) ** 2


@pytest.mark.parametrize("case", ["random", "wishart_cluster", "isotropic", "invariant",
                                  "diagonal", "one", "zero_b"])
def test_eigen_weights_against_full_eigh(case):
    from spikewise.solvers.risk._ridge import eigen_weights

    rng = np.random.default_rng(3)
    N = 1 if case == "one" else 120
    b = rng.standard_normal(N)
    if case == "random":
        A = rng.standard_normal((N, N))
        S = A @ A.T / N
    elif case == "wishart_cluster":  # rank 40 plus identity: 80 equal eigenvalues
        A = rng.standard_normal((N, 40))
        S = A @ A.T / 40 + np.eye(N)
    elif case == "isotropic":  # T splits at once: all weight on one eigenvalue
        S = 2.5 * np.eye(N)
    elif case == "invariant":  # b in an invariant subspace of dimension 3
        Q, _ = np.linalg.qr(rng.standard_normal((N, N)))
        S = (Q * np.linspace(0.5, 3.0, N)) @ Q.T
        b = Q[:, :3] @ np.array([1.0, -2.0, 0.5])
    elif case == "diagonal":
        S = np.diag(rng.uniform(0.1, 2.0, N))
    elif case == "one":
        S = np.array([[1.7]])
    else:
        A = rng.standard_normal((N, N))
        S = A @ A.T / N
        b = np.zeros(N)
    s_ref, w_ref = _weights_by_eigh(S, b)
    s, w = eigen_weights(np.ascontiguousarray(S.copy()), b)
    np.testing.assert_allclose(s, s_ref, rtol=0, atol=1e-12 * np.abs(s_ref).max())
    assert np.all(w >= 0) and abs(w.sum() - b @ b) <= 1e-12 * max(b @ b, 1.0)
    # functionals of the spectral measure (what the risk uses), at several shifts; equal
    # eigenvalues share their weight in any way, so the weights themselves are compared
    # only through such sums
    for kappa in (1e-3, 0.1, 1.0, 10.0):
        np.testing.assert_allclose(np.sum(w / (s + kappa)), np.sum(w_ref / (s_ref + kappa)),
                                   rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(np.sum(w * s / (s + kappa) ** 2),
                                   np.sum(w_ref * s_ref / (s_ref + kappa) ** 2),
                                   rtol=1e-10, atol=1e-14)
