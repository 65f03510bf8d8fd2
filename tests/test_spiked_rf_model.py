"""Tests of the spiked random-feature model, ``spikewise.solvers.spiked_rf.model``.

Exact checks: the conditional Mehler series against closed forms (arc-cosine kernel for
ReLU) and two-dimensional quadrature of the bivariate Gaussian (rtol 1e-8); the one-step
constructor against ``one_step_spike``. Monte Carlo: the population moments against the
empirical moments of ``sample`` with a tolerance that shrinks like ``1/sqrt(n)``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from spikewise._gauss import product_rule
from spikewise._validation import InvalidParameterError
from spikewise.activations import get_activation
from spikewise.solvers import SpikedRandomFeatures, SpikedWeights, one_step_spike


def _bivariate(f, g, C):
    """E f(p1) g(p2) for p ~ N(0, C) by a 2D Gauss-Hermite rule (smooth f, g)."""
    x, w = product_rule(2, nodes=200)
    p = x @ np.linalg.cholesky(C).T
    return float(w @ (f(p[:, 0]) * g(p[:, 1])))


def test_covariance_matches_arccos_kernel_for_relu():
    m = SpikedRandomFeatures("relu", teacher="tanh", strength=1.2, overlap=0.6, inflation=0.5,
                             l_max=12)
    w = m.weights(800, 12, rng=0)
    S = m.population_covariance(w)
    G = w.W.T @ w.W
    nrm = np.sqrt(np.diag(G))
    rho = np.clip(G / np.outer(nrm, nrm), -1, 1)
    exact = np.outer(nrm, nrm) / (2 * np.pi) * (
        np.sqrt(1 - rho**2) + (np.pi - np.arccos(rho)) * rho)
    np.fill_diagonal(exact, nrm**2 / 2)
    np.testing.assert_allclose(S, exact, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("act", ["tanh", "erf"])
def test_covariance_and_cross_moment_match_bivariate_quadrature(act):
    m = SpikedRandomFeatures(act, teacher="tanh", strength=0.9, overlap=0.5, inflation=0.2,
                             l_max=10)
    w = m.weights(400, 8, rng=3)
    S = m.population_covariance(w)
    b = m.teacher_cross_moment(w)
    sig, tea = get_activation(act), get_activation("tanh")
    G = w.W.T @ w.W
    for j, k in [(0, 1), (2, 5), (4, 4)]:
        C = G[np.ix_([j, k], [j, k])] + (1e-300 if j != k else 0.0)
        if j == k:
            ref = _bivariate(lambda x: sig(x) ** 2, lambda x: 1.0 + 0 * x,
                             np.array([[G[j, j], 0.0], [0.0, 1.0]]))
        else:
            ref = _bivariate(sig, sig, C)
        assert S[j, k] == pytest.approx(ref, rel=1e-8, abs=1e-12)
    for j in range(4):
        cj = w.W[:, j] @ w.beta
        C = np.array([[G[j, j], cj], [cj, 1.0]])
        assert b[j] == pytest.approx(_bivariate(sig, tea, C), rel=1e-8, abs=1e-12)


@pytest.mark.parametrize("act", ["tanh", "relu"])
def test_moments_match_simulation_with_shrinking_tolerance(act):
    m = SpikedRandomFeatures(act, teacher="tanh", strength=0.8, overlap=0.7, inflation=0.3,
                             second_layer="rademacher")
    w = m.weights(60, 15, rng=1)
    S = m.population_covariance(w)
    b = m.teacher_cross_moment(w)
    mean = m.feature_mean(w)
    for n in (4_000, 64_000):
        X, F, y = m.sample(n, w, rng=n)
        # z-scores against the sampling standard errors: RMS about 1 when the moments are right
        prods = (F[:, :, None] * F[:, None, :]).reshape(n, -1)
        z_S = (prods.mean(0) - S.ravel()) / (prods.std(0) / math.sqrt(n))
        z_b = ((F * y[:, None]).mean(0) - b) / ((F * y[:, None]).std(0) / math.sqrt(n))
        z_m = (F.mean(0) - mean) / (F.std(0) / math.sqrt(n))
        for z in (z_S, z_b, z_m):
            assert math.sqrt(np.mean(z**2)) < 1.6


def test_strength_zero_is_the_hermite_gram_of_w0():
    sig = get_activation("tanh")
    m = SpikedRandomFeatures(sig, teacher="tanh", strength=0.0, overlap=1.0, l_max=10)
    w = m.weights(500, 6, rng=5)
    S = m.population_covariance(w)
    G = w.W.T @ w.W
    mu = sig.hermite(40)
    # series in the full cosines, with the neurons' norms (Hermite coefficients of sigma(s x))
    for j, k in [(0, 1), (3, 4)]:
        ref = _bivariate(sig, sig, G[np.ix_([j, k], [j, k])])
        assert S[j, k] == pytest.approx(ref, rel=1e-8)
    mean, lin, rest = m.conditional_moments(0.3, 1.0)
    assert float(mean) == pytest.approx(mu[0], abs=1e-14)
    assert float(lin) == pytest.approx(mu[1], rel=1e-12)
    assert float(rest) == pytest.approx(sig.mu_star2, rel=1e-10)


@pytest.mark.parametrize("alpha", [0.0, 0.25, 0.5])
def test_from_one_step_reproduces_the_one_step_spike(alpha):
    N, psi = 1200, 2.0
    m = SpikedRandomFeatures.from_one_step("tanh", "tanh", psi=psi, N=N, eta0=3.0,
                                           alpha=alpha, noise=0.1)
    eta = 3.0 * N**alpha
    lim = one_step_spike("tanh", "tanh", psi=psi, phi=1.5, eta=eta, noise=0.1).limit
    assert N * m.strength**2 == pytest.approx(lim.theta2, rel=1e-12)
    assert m.overlap**2 == pytest.approx(lim.cos2_spike_beta, rel=1e-12)
    m0 = SpikedRandomFeatures.from_one_step("tanh", "tanh", psi=psi, N=N, eta0=0.0)
    assert m0.strength == 0.0 and m0.inflation == 0.0


def test_from_arrays_normalizes_and_validates():
    rng = np.random.default_rng(0)
    W = rng.standard_normal((10, 4))
    w = SpikedWeights.from_arrays(W, direction=3 * np.eye(10)[0], beta=np.ones(10),
                                  a=np.ones(4) / 2)
    assert np.linalg.norm(w.v) == pytest.approx(1.0)
    assert np.allclose(w.a_tilde, 1.0)
    with pytest.raises(InvalidParameterError, match="'direction'"):
        SpikedWeights.from_arrays(W, direction=np.zeros(10), beta=np.ones(10))
    with pytest.raises(InvalidParameterError, match="'beta'"):
        SpikedWeights.from_arrays(W, direction=np.ones(10), beta=np.ones(9))


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(strength=float("nan")), "strength"),
        (dict(strength=1.0, second_layer="uniform"), "second_layer"),
        (dict(strength=1.0, overlap=1.5), "overlap"),
        (dict(strength=1.0, inflation=-1.0), "inflation"),
        (dict(strength=-1.0), "strength"),
    ],
)
def test_bad_input_names_the_parameter(kwargs, name):
    with pytest.raises(InvalidParameterError, match=f"'{name}'"):
        SpikedRandomFeatures("tanh", **kwargs)


def test_kinked_activation_outside_relu_family_is_rejected():
    act = get_activation("relu").from_callable(lambda x: np.abs(x), name="abs", kinks=(0.0,))
    with pytest.raises(InvalidParameterError, match="'activation'"):
        SpikedRandomFeatures(act, strength=1.0)
    m = SpikedRandomFeatures("tanh", strength=1.0)
    with pytest.raises(InvalidParameterError, match="'weights'"):
        m.population_covariance(np.eye(3))
    with pytest.raises(InvalidParameterError, match="'eta0'"):
        SpikedRandomFeatures.from_one_step("tanh", "tanh", psi=1.0, N=10, eta0=float("nan"))
