"""Tests of the data-adaptive kernel (``spikewise.solvers.spiked_rf.kernel``).

Exact: at t = 0 the kernel is an inner-product kernel (degree-0 eigenvalue mu_0^2 on the
constant, degree-1 eigenvalue mu_1^2 / d); ``kernel_matrix`` against two-dimensional
quadrature (1e-8). Simulation: ``kernel_matrix`` against ``F F^T / N`` of many neurons, and
the top eigenvalues of the kernel matrix against the operator's, over seeds.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from spikewise._gauss import product_rule
from spikewise._validation import InvalidParameterError
from spikewise.activations import get_activation
from spikewise.solvers import SpikedRandomFeatures, adaptive_kernel, kernel_matrix


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
