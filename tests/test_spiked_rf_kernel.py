"""Tests of the data-adaptive kernel (``spikewise.solvers.spiked_rf.kernel``).

Exact: at t = 0 the kernel is an inner-product kernel (degree-0 eigenvalue mu_0^2 on the
constant, degree-1 eigenvalue mu_1^2 / d); ``kernel_matrix`` against two-dimensional
quadrature (1e-8). Simulation: ``kernel_matrix`` against ``F F^T / N`` of many neurons, and
the top eigenvalues of the kernel matrix against the operator's, over seeds.

The invariant sector (``kernel_sector``): exact against closed forms for sigma = He_2 (any
step, finite d, 1e-9), the inner-product-kernel values at t = 0 (mu_0^2 + 2 mu_2^2/d,
mu_1^2/d, radial weight 2 mu_2^2/(d mu_0^2)) and the Nystrom degree-0 eigenvalues as
d -> infinity; against simulation: the kernel matrix projected on the theory's
eigenfunctions (an unbiased U-statistic), the top eigenvalues of the kernel matrix where they
are outliers, and its eigenvectors projected on the radial mode and on He_2(beta.x).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from spikewise._gauss import chi2_rule, product_rule
from spikewise._validation import InvalidParameterError
from spikewise.activations import get_activation
from spikewise.solvers import (
    SpikedRandomFeatures,
    adaptive_kernel,
    kernel_matrix,
    kernel_sector,
)


@pytest.mark.parametrize("act", ["tanh", "relu"])
def test_no_step_is_an_inner_product_kernel(act):
    sig = get_activation(act)
    ak = adaptive_kernel(SpikedRandomFeatures(act, strength=0.0), d=400)
    assert ak.degree0[0] == pytest.approx(sig.mu0**2, abs=1e-12)
    assert ak.degree0[1:].max() < 1e-12
    assert ak.degree1[0] * 400 == pytest.approx(sig.mu1**2, rel=1e-10)
    if act == "relu":
        assert ak.hermite[0, 0] == pytest.approx(1.0, rel=1e-10)


def test_kernel_matrix_matches_quadrature_and_many_neurons():
    model = SpikedRandomFeatures("tanh", strength=1.2, overlap=0.6, inflation=0.3,
                                 second_layer="rademacher", l_max=10)
    rng = np.random.default_rng(0)
    d = 200
    X = rng.standard_normal((6, d))
    v = rng.standard_normal(d)
    K = kernel_matrix(model, X, direction=v)
    v = v / np.linalg.norm(v)
    sig = get_activation("tanh")
    x, w = product_rule(2, nodes=120)
    s = math.sqrt(1.0 + model.inflation)
    for i, j in [(0, 1), (2, 5), (3, 3)]:
        ref = 0.0
        for a_t in (-1.0, 1.0):
            C = s * s * np.array([[X[i] @ X[i], X[i] @ X[j]], [X[j] @ X[i], X[j] @ X[j]]]) / d
            p = x @ np.linalg.cholesky(C + (1e-300 if i != j else 1e-14) * np.eye(2)).T
            mi, mj = model.strength * a_t * (X[i] @ v), model.strength * a_t * (X[j] @ v)
            ref += 0.5 * float(w @ (sig(p[:, 0] + mi) * sig(p[:, 1] + mj)))
        assert K[i, j] == pytest.approx(ref, rel=1e-7)
    # F F^T / N with many neurons of the model
    wts = model.weights(d, 60_000, rng=1)
    K2 = kernel_matrix(model, X, direction=wts.v)
    F = sig(X @ wts.W)
    emp = F @ F.T / F.shape[1]
    assert np.max(np.abs(emp - K2)) < 5.0 / math.sqrt(F.shape[1])


def _top_eigs(model, d, n, seeds, k=2):
    tops = []
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        X = rng.standard_normal((n, d))
        v = np.eye(d)[0]
        tops.append(np.linalg.eigvalsh(kernel_matrix(model, X, direction=v) / n)[::-1][:k])
    tops = np.array(tops)
    return tops.mean(axis=0), tops.std(axis=0) / math.sqrt(seeds)


def test_top_eigenvalues_match_the_kernel_matrix_small():
    model = SpikedRandomFeatures("relu", strength=1.0, second_layer="gaussian")
    ak = adaptive_kernel(model, d=150)
    mean, se = _top_eigs(model, 150, 600, seeds=3)
    np.testing.assert_array_less(np.abs(mean - ak.degree0[:2]), 3 * se + 0.03 * ak.degree0[:2])


@pytest.mark.slow
@pytest.mark.parametrize("act, layer", [("tanh", "rademacher"), ("relu", "gaussian"),
                                        ("tanh", "constant")])
def test_top_eigenvalues_within_two_percent_at_d500(act, layer):
    model = SpikedRandomFeatures(act, strength=1.0, second_layer=layer)
    ak = adaptive_kernel(model, d=500)
    mean, se = _top_eigs(model, 500, 1500, seeds=6, k=1)
    assert abs(mean[0] / ak.degree0[0] - 1.0) < max(0.02, 3 * se[0] / ak.degree0[0])


def test_bad_input():
    with pytest.raises(InvalidParameterError, match="'model'"):
        adaptive_kernel("tanh", d=10)
    model = SpikedRandomFeatures("tanh", strength=1.0)
    with pytest.raises(InvalidParameterError, match="'d'"):
        adaptive_kernel(model, d=float("nan"))
    with pytest.raises(InvalidParameterError, match="'direction'"):
        kernel_matrix(model, np.ones((3, 4)), direction=np.zeros(4))


# ---------------------------------------------------------------------- the invariant sector
@pytest.mark.parametrize("dof", [1.0, 4.5, 499.0])
def test_chi2_rule_is_exact_for_polynomials(dof):
    # E U^j = D (D + 2) ... (D + 2j - 2) for U ~ chi^2_D; a 4-node Gauss rule is exact to j = 7
    u, w = chi2_rule(dof, 4)
    assert np.all(u > 0) and np.all(w > 0)
    for j in range(8):
        exact = math.prod(dof + 2 * i for i in range(j))
        assert w @ u**j == pytest.approx(exact, rel=1e-11)
    with pytest.raises(InvalidParameterError, match="'dof'"):
        chi2_rule(0.0, 4)


def _he2_sector(t, d, layer, nu):
    """Closed form of the sector operator for sigma = He_2 on (1, He_2(kappa)/sqrt2, q_1).

    sigma(c kappa + s_perp z) = c^2 kappa^2 + 2 c s_perp kappa z + s_perp^2 z^2 - 1 projects on
    (c^2 + S - 1, sqrt2 c^2, sqrt(2/D) S), S = s_perp^2 = s^2 chi^2_D / d, c = t a + s g/sqrt(d).
    """
    D = d - 1
    ea2, ea4 = (1.0, 3.0) if layer == "gaussian" else (1.0, 1.0)
    s2 = 1.0 + nu  # a~^2 = 1 for the rademacher and constant layers (nu = 0 for gaussian)
    b2 = s2 / d
    ec2 = t * t * ea2 + b2
    ec4 = t**4 * ea4 + 6 * t * t * ea2 * b2 + 3 * b2 * b2
    es, es2 = s2 * D / d, s2 * s2 * D * (D + 2) / d**2
    r = math.sqrt(2.0 / D)
    M = np.array([
        [ec4 + es2 + 1 + 2 * ec2 * es - 2 * ec2 - 2 * es, math.sqrt(2) * (ec4 + ec2 * es - ec2),
         r * (ec2 * es + es2 - es)],
        [0.0, 2 * ec4, math.sqrt(2) * r * ec2 * es],
        [0.0, 0.0, r * r * es2],
    ])
    M = np.triu(M) + np.triu(M, 1).T
    lam, U = np.linalg.eigh(M)
    return lam[::-1], U[:, ::-1]


@pytest.mark.parametrize("layer, nu", [("gaussian", 0.0), ("rademacher", 0.3), ("constant", 0.0)])
@pytest.mark.parametrize("t", [0.0, 0.2, 1.0])
def test_sector_matches_the_closed_form_of_he2(layer, nu, t):
    for d in (5, 60, 500):
        ks = kernel_sector(SpikedRandomFeatures("he2", strength=t, second_layer=layer,
                                                inflation=nu, overlap=0.6), d=d, k=4, k_max=6)
        lam, U = _he2_sector(t, d, layer, nu)
        np.testing.assert_allclose(ks.eigenvalues[:3], lam, rtol=1e-9)
        assert ks.eigenvalues[3] < 1e-12 * lam[0]
        f20, f01 = U[1], U[2]
        np.testing.assert_allclose(ks.quadratic_weight[:3], f20**2, atol=1e-8)
        np.testing.assert_allclose(ks.radial_weight[:3],
                                   (f20 / math.sqrt(d) + math.sqrt((d - 1) / d) * f01) ** 2,
                                   atol=1e-8)
        np.testing.assert_allclose(
            ks.target_weight[:3], (0.36 * f20 + 0.64 * f01 / math.sqrt(d - 1)) ** 2, atol=1e-8)


@pytest.mark.parametrize("act", ["relu", "softplus", "tanh", "relu_centred"])
def test_sector_without_step_gives_the_inner_product_kernel(act):
    # t = 0, d = 1e7: the corrections to the leading closed forms are O(1/d) relative.
    # The constant projection of a neuron is E sigma(|w| h) = mu_0 + mu_2 e + 3 mu_4 e^2 + ...
    # (|w|^2 = 1 + e, Var e = 2/d), its radial one sqrt(2/d) mu_2: the top eigenvalue is
    # mu_0^2 + (4 mu_2^2 + 12 mu_0 mu_4)/d with radial weight 2 mu_2^2 / (d mu_0^2).
    mu = get_activation(act).hermite(4)
    d = 10**7
    ks = kernel_sector(SpikedRandomFeatures(act, strength=0.0), d=d, k=4, k_max=6)
    lam = ks.eigenvalues
    odd = int(np.argmax(ks.coefficients[:, 1, 0] ** 2))  # the linear function kappa
    assert ks.coefficients[odd, 1, 0] ** 2 == pytest.approx(1.0, abs=1e-6)
    assert lam[odd] * d == pytest.approx(mu[1] ** 2, rel=1e-6)
    if abs(mu[0]) > 1e-12:  # the radial mode rides on the constant
        assert lam[0] == pytest.approx(mu[0] ** 2, rel=1e-6)
        assert (lam[0] - mu[0] ** 2) * d == pytest.approx(
            4 * mu[2] ** 2 + 12 * mu[0] * mu[4], rel=1e-5)
        assert ks.radial_weight[0] * d == pytest.approx(2 * mu[2] ** 2 / mu[0] ** 2, rel=1e-5)
        assert lam[2] * d < 1e-6
    elif abs(mu[2]) > 1e-12:  # centred: the constant and u_r share 2 mu_2^2 / d each
        pair = [a for a in range(4) if a != odd][:2]
        assert lam[pair].sum() * d == pytest.approx(4 * mu[2] ** 2, rel=1e-6)
        assert ks.radial_weight[pair].sum() == pytest.approx(1.0, abs=1e-6)
    else:  # odd activation: nothing even
        assert lam[1] * d < 1e-8


@pytest.mark.parametrize("act", ["relu", "tanh"])
def test_sector_tends_to_the_degree0_operator(act):
    model = SpikedRandomFeatures(act, strength=1.0, overlap=0.7, inflation=0.2)
    ak = adaptive_kernel(model, d=10**9, k=3, nodes=200)
    ks = kernel_sector(model, d=10**9, k=3, k_max=24)
    assert ks.eigenvalues[0] == pytest.approx(ak.degree0[0], rel=1e-5)
    np.testing.assert_allclose(ks.eigenvalues[:2], ak.degree0[:2], rtol=1e-3)


def test_sector_sanity_and_eigenfunctions():
    model = SpikedRandomFeatures("relu_centred", strength=0.3, overlap=0.7,
                                 second_layer="rademacher")
    d = 30
    ks = kernel_sector(model, d=d, k=21, k_max=6)
    assert np.all(np.diff(ks.eigenvalues) <= 0) and ks.eigenvalues.min() >= 0
    for w in (ks.radial_weight, ks.quadratic_weight, ks.target_weight):
        assert np.all((w >= 0) & (w <= 1 + 1e-12)) and w.sum() <= 1 + 1e-9
    # u_r and h_q lie in the sector: all their weight is in the 21 modes
    assert ks.radial_weight.sum() == pytest.approx(1.0, abs=1e-9)
    assert ks.quadratic_weight.sum() == pytest.approx(1.0, abs=1e-9)
    ang = ks.mixing_angle[np.isfinite(ks.mixing_angle)]
    assert np.all((ang >= 0) & (ang <= math.pi / 2))
    assert ks.quadratic_weight[ks.quadratic_mode] == ks.quadratic_weight.max()
    # orthonormal eigenfunctions under N(0, I_d), by Monte Carlo
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40_000, d))
    P = ks.eigenfunctions(X, direction=np.eye(d)[0])[:, :4]
    np.testing.assert_allclose(P.T @ P / X.shape[0], np.eye(4), atol=0.05)
    ds = ks.to_xarray()
    assert ds["eigenvalues"].shape == (21,) and ds.attrs["d"] == d


def _sector_simulation(model, d, n, seeds, modes):
    """Per seed: the kernel matrix projected on the theory's eigenfunctions (U-statistic),
    the top eigenvalues of K / n and the squared projections of its top eigenvectors on the
    normalized u_r(x_i) and He_2(beta.x_i)."""
    ks = kernel_sector(model, d=d, k=modes, k_max=10)
    g = model.overlap
    out = {"ustat": [], "eig": [], "radial": [], "target": [], "diag": []}
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        X = rng.standard_normal((n, d))
        v, beta = np.eye(d)[0], g * np.eye(d)[0] + math.sqrt(1 - g * g) * np.eye(d)[1]
        K = kernel_matrix(model, X, direction=v)
        P = ks.eigenfunctions(X, direction=v)
        out["ustat"].append((np.einsum("ia,ij,ja->a", P, K, P)
                             - np.einsum("ia,i,ia->a", P, np.diag(K), P)) / (n * (n - 1)))
        e, V = np.linalg.eigh(K / n)
        e, V = e[::-1][:modes], V[:, ::-1][:, :modes]
        r = np.einsum("ij,ij->i", X, X) - d
        b = (X @ beta) ** 2 - 1
        out["eig"].append(e)
        out["diag"].append(np.mean(np.diag(K)))
        out["radial"].append((r @ V) ** 2 / (r @ r))
        out["target"].append((b @ V) ** 2 / (b @ b))
    mean = {k: np.mean(v, axis=0) for k, v in out.items()}
    se = {k: np.std(v, axis=0) / math.sqrt(seeds) for k, v in out.items()}
    return ks, mean, se


def _check_mixing(d, n, seeds):
    # sigma = He_2 (no degree-1 bulk): at t^4 ~ 1/(3d) the target-aligned quadratic meets
    # the radial pair; the three modes are outliers of K / n
    model = SpikedRandomFeatures("he2", strength=(3.0 * d) ** -0.25, overlap=0.8)
    ks, mean, se = _sector_simulation(model, d, n, seeds, modes=3)
    assert 0.3 < ks.mixing < 1.2  # strongly mixed
    lam = ks.eigenvalues
    # unbiased: the kernel matrix on the theory's eigenfunctions (relative error O(n^-1/2))
    np.testing.assert_array_less(np.abs(mean["ustat"] - lam), 3 * se["ustat"] + 0.03 * lam)
    # eigenvectors: sampling error and bulk perturbation are O(n^-1/2) = O(d^-1/2) at n/d fixed
    tol = 1.0 / math.sqrt(d)
    np.testing.assert_array_less(np.abs(mean["radial"] - ks.radial_weight),
                                 3 * se["radial"] + tol)
    np.testing.assert_array_less(np.abs(mean["target"] - ks.target_weight),
                                 3 * se["target"] + tol)


def _check_relu(d, n, seeds, rel):
    # ReLU after a step: the constant, kappa and target-quadratic modes are outliers
    model = SpikedRandomFeatures("relu", strength=1.0, overlap=0.8)
    ks, mean, se = _sector_simulation(model, d, n, seeds, modes=3)
    lam = ks.eigenvalues
    # an outlier of K / n moves with the bulk by at most about E K(x, x) / n (the diagonal):
    # negligible for the O(1) modes, a few percent for the quadratic one (0.012) at n = 1500
    shift = mean["diag"] / n
    np.testing.assert_array_less(np.abs(mean["eig"] - lam),
                                 np.maximum(3 * se["eig"], rel * lam) + shift)
    np.testing.assert_array_less(np.abs(mean["eig"][:2] - lam[:2]), rel * lam[:2])
    np.testing.assert_array_less(np.abs(mean["ustat"] - lam), 3 * se["ustat"] + rel * lam)
    q = ks.quadratic_mode
    assert q == 2 and ks.mixing < 0.2  # a nearly pure quadratic mode: no radial partner
    assert abs(mean["target"][q] - ks.target_weight[q]) < 3 * se["target"][q] + 1 / math.sqrt(d)
    # the radial mode rides on the constant (weight 1 / (2d) at t = 0): O(1/d) everywhere
    assert ks.radial_weight.max() * d < 1.0
    assert np.all(mean["radial"] < ks.radial_weight + 3 * se["radial"] + 4.0 / n)


def test_sector_against_the_kernel_matrix_small():
    _check_mixing(d=80, n=480, seeds=3)
    _check_relu(d=120, n=480, seeds=3, rel=0.04)


@pytest.mark.slow
def test_sector_against_the_kernel_matrix_d500():
    _check_mixing(d=500, n=2000, seeds=4)
    _check_relu(d=500, n=1500, seeds=4, rel=0.02)


def test_sector_bad_input():
    model = SpikedRandomFeatures("tanh", strength=1.0)
    with pytest.raises(InvalidParameterError, match="'model'"):
        kernel_sector("tanh", d=10)
    with pytest.raises(InvalidParameterError, match="'d'"):
        kernel_sector(model, d=2)
    with pytest.raises(InvalidParameterError, match="'k_max'"):
        kernel_sector(model, d=10, k_max=1)
    with pytest.raises(InvalidParameterError, match="'k'"):
        kernel_sector(model, d=10, k=100, k_max=4, m_max=1)
    with pytest.raises(InvalidParameterError, match="'n_types'"):
        kernel_sector(model, d=10, n_types=float("nan"))
    with pytest.raises(InvalidParameterError, match="'fluctuation_nodes'"):
        kernel_sector(model, d=10, fluctuation_nodes=2)
    ks = kernel_sector(model, d=10, k=2, k_max=4)
    with pytest.raises(InvalidParameterError, match="'X'"):
        ks.eigenfunctions(np.ones((3, 4)), direction=np.ones(10))
    with pytest.raises(InvalidParameterError, match="'direction'"):
        ks.eigenfunctions(np.ones((3, 10)), direction=np.zeros(10))
