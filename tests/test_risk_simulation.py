"""Ridge on fresh samples in the simulator, and the finite-width theory on the simulated W1.

``spectra.one_step(..., ridge_samples="fresh")`` fits the ridge on samples independent of the
step; :func:`spikewise.solvers.finite_width_risk` applied to the returned ``W1`` is the
Gaussian-equivalence prediction for that fit (Ba et al. 2022, eta = Theta(1)).
"""

from __future__ import annotations

import numpy as np
import pytest

from spikewise._validation import InvalidParameterError
from spikewise.solvers import finite_width_risk
from spikewise.spectra import one_step, two_step

LAMS = np.array([1e-2, 0.1, 1.0])


def test_fresh_ridge_keeps_the_step_and_changes_the_fit():
    kw = dict(n=120, d=40, N=60, activation="tanh", target="tanh", eta0=2.0, spectra=(),
              k_top=0, lambdas=LAMS, n_test=200, rng=3)
    reuse = one_step(**kw)
    fresh = one_step(**kw, ridge_samples="fresh", n_ridge=90)
    np.testing.assert_array_equal(reuse.W1, fresh.W1)  # fresh samples are drawn last
    assert fresh.params["ridge_samples"] == "fresh" and fresh.params["n_ridge"] == 90
    assert not np.allclose(reuse.ridge.train_error, fresh.ridge.train_error)
    default = one_step(**kw, ridge_samples="reuse")
    np.testing.assert_array_equal(default.ridge.test_error, reuse.ridge.test_error)
    two = two_step(**kw, ridge_samples="fresh")
    assert two.ridge.test_error.shape == LAMS.shape


def test_fresh_ridge_bad_input():
    kw = dict(n=20, d=10, N=10, spectra=(), k_top=0, lambdas=LAMS)
    with pytest.raises(InvalidParameterError, match="ridge_samples"):
        one_step(**kw, ridge_samples="new")
    with pytest.raises(InvalidParameterError, match="n_ridge"):
        one_step(**kw, ridge_samples="fresh", n_ridge=0)


def _one_step_gap(eta0, *, d, seeds, activation="tanh", teacher="tanh", noise=0.1):
    gaps, theory = [], []
    for seed in range(seeds):
        res = one_step(n=2 * d, d=d, N=3 * d // 2, activation=activation, target=teacher,
                       eta0=eta0, noise=noise, spectra=(), k_top=0, lambdas=LAMS,
                       n_test=8 * d, ridge_samples="fresh", rng=seed)
        th = finite_width_risk(res.W1, res.teacher.directions, n=2 * d, lambdas=LAMS,
                               activation=activation, teacher=teacher, noise=noise)
        gaps.append(res.ridge.test_error - th.test_error)
        theory.append(th.test_error)
    gaps, theory = np.array(gaps), np.array(theory)
    return gaps.mean(0), gaps.std(0, ddof=1) / np.sqrt(seeds), theory.mean(0)


@pytest.mark.parametrize("eta0", [0.0, 4.0])
def test_theory_on_W1_vs_fresh_ridge_small(eta0):
    mean, se, th = _one_step_gap(eta0, d=120, seeds=6)
    assert np.all(np.abs(mean) <= 3 * se + 0.03 * th), (mean, se, th)


@pytest.mark.slow
@pytest.mark.parametrize("eta0", [0.0, 2.0, 5.0, 10.0])
def test_theory_on_W1_vs_fresh_ridge_d1000(eta0):
    mean, se, th = _one_step_gap(eta0, d=1000, seeds=8)
    assert np.all(np.abs(mean) <= 3 * se), (mean, se)
    assert np.all(np.abs(mean) <= 0.03 * th), mean / th
