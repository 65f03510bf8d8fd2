"""Ridge on fresh samples in the simulator, and the finite-width theory on the simulated W1.

``spectra.one_step(..., ridge_samples="fresh")`` fits the ridge on samples independent of the
step; :func:`spikewise.solvers.finite_width_risk` applied to the returned ``W1`` is the
Gaussian-equivalence prediction for that fit (Ba et al. 2022, eta = Theta(1)).
"""

from __future__ import annotations

import numpy as np
import pytest

from spikewise._validation import InvalidParameterError
from spikewise.solvers import (
    SpikedRandomFeatures,
    SpikedWeights,
    conditional_risk,
    feature_moments,
    finite_width_risk,
    risk_vs_learning_rate,
    spiked_rf_risk,
)
from spikewise.spectra import ck_features, one_step, ridge_path, sample_dataset, two_step

LAMS = np.array([1e-2, 0.1, 1.0])


def test_fresh_ridge_keeps_the_step_and_changes_the_fit():
    kw = dict(n=120, d=40, N=60, activation="tanh", teacher="tanh", eta0=2.0, spectra=(),
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
        res = one_step(n=2 * d, d=d, N=3 * d // 2, activation=activation, teacher=teacher,
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
    assert np.all(np.abs(mean) <= 0.03 * th), mean / th
    if eta0 <= 5.0:
        assert np.all(np.abs(mean) <= 3 * se), (mean, se)
    # at eta0 = 10 each neuron moves by about 0.16 along the spike and the features start to
    # be non-Gaussian in that direction: measured -0.00119 +- 0.00037 (about -1%) at
    # lambda = 1, i.e. 3.2 standard errors, still well inside the 3% of issue 11


# --------------------------------------------------------------------------------------------
# large steps: the spiked random-feature model
# --------------------------------------------------------------------------------------------
def test_spiked_model_moments_agree_with_the_unconditional_series():
    # two independent computations of the same population moments: the model's conditional
    # Mehler series (given kappa = v^T x) and the unconditional series in the cosines of W
    model = SpikedRandomFeatures(activation="tanh", teacher="tanh", strength=0.8,
                                 overlap=0.9, second_layer="rademacher", inflation=0.05)
    w = model.weights(200, 60, rng=1)
    mine = feature_moments(w.W, w.beta, activation="tanh", teacher="tanh", tol=1e-12,
                           k_max=100)
    np.testing.assert_allclose(model.population_covariance(w), mine.covariance, rtol=1e-7,
                               atol=1e-9)
    np.testing.assert_allclose(model.teacher_cross_moment(w), mine.cross_moment, rtol=1e-7,
                               atol=1e-9)
    risk = spiked_rf_risk(model, d=200, N=60, n=100, lambdas=LAMS, weights=w)
    exact = finite_width_risk(w.W, w.beta, n=100, lambdas=LAMS, activation="tanh",
                              teacher="tanh")
    np.testing.assert_allclose(risk.exact_moments.test_error, exact.test_error, rtol=1e-6)
    with pytest.raises(InvalidParameterError, match="model"):
        spiked_rf_risk("tanh", d=10, N=10, n=10, lambdas=LAMS)


def _giant_step(d, seeds, alpha_ridge):
    """Cui et al. 2024: tanh, constant second layer, unit-norm W0, eta_tilde = 3 (eta =
    3 sqrt(N)), step on 20 d samples, ridge (their lambda = 0.1) on alpha d fresh ones."""
    N, n0, n = d, 20 * d, int(alpha_ridge * d)
    lam = [0.1 * N / n]  # the cui2024 preset: lam_ours = lam * p / n
    model = SpikedRandomFeatures.from_one_step("tanh", "tanh", psi=n0 / d, N=N, eta0=3.0,
                                               alpha=0.5, second_layer="constant")
    sim, cond, exact, plain = [], [], [], []
    for seed in range(seeds):
        res = one_step(n=n0, d=d, N=N, activation="tanh", teacher="tanh", eta0=3.0,
                       alpha=0.5, first_layer="unit", second_layer="constant", spectra=(), k_top=0,
                       lambdas=lam, n_test=4000, ridge_samples="fresh", n_ridge=n, rng=seed)
        risk = spiked_rf_risk(model, d=d, N=N, n=n, lambdas=lam, rng=100 + seed)
        sim.append(res.ridge.test_error[0])
        cond.append(risk.conditional.test_error[0])
        exact.append(risk.exact_moments.test_error[0])
        plain.append(risk.plain.test_error[0])
    return np.array(sim), np.array(cond), np.array(exact), np.array(plain)


def test_giant_step_conditional_vs_plain_equivalence_small():
    sim, cond, exact, plain = _giant_step(100, 3, 1.5)
    se = np.hypot(sim.std(ddof=1), cond.std(ddof=1)) / np.sqrt(sim.size)
    assert abs(sim.mean() - cond.mean()) <= 3 * se + 0.05 * cond.mean(), (sim, cond)
    assert plain.mean() > 2 * sim.mean()  # plain Gaussian equivalence is far off
    assert abs(exact.mean() / cond.mean() - 1.0) < 0.1  # the two non-linear theories are close


def _giant_step_paired(d, seeds, teacher, alphas):
    """The giant step of Cui et al. (as :func:`_giant_step`), ridge at ``alphas`` and the
    conditional theory paired with its simulation two ways: (i) a draw of the spiked model
    and ridge on the model's own samples; (ii) the simulated ``W1`` itself, with the spike
    direction the step's top left singular vector (``res.spikes["step1"]``), and ridge on
    fresh inputs through ``W1`` (X^T y or X^T (y - f(X)) as the direction change the theory
    by less than 1e-4 relative). Each fit is scored by its exact population test error
    (E y^2 - 2 coef^T b + coef^T Sigma coef with the model's moments on those weights).
    Returns the relative gaps (sim - theory) / theory, shape (2, seeds, len(alphas))."""
    N, n0 = d, 20 * d
    model = SpikedRandomFeatures.from_one_step("tanh", teacher, psi=20.0, N=N, eta0=3.0,
                                               alpha=0.5, second_layer="constant")
    ey2 = model.label_second_moment()
    gaps = np.empty((2, seeds, len(alphas)))
    for seed in range(seeds):
        res = one_step(n=n0, d=d, N=N, activation="tanh", teacher=teacher, eta0=3.0,
                       alpha=0.5, first_layer="unit", second_layer="constant", spectra=(),
                       k_top=0, rng=seed)
        w1 = SpikedWeights.from_arrays(res.W1, direction=res.spikes["step1"].left,
                                       beta=res.teacher.directions[:, 0])
        for k, w in enumerate((model.weights(d, N, rng=100 + seed), w1)):
            S, b = model.population_covariance(w), model.teacher_cross_moment(w)
            for j, a in enumerate(alphas):
                n = int(a * d)
                lam = [0.1 * N / n]
                th = conditional_risk(model, w, n=n, lambdas=lam).test_error[0]
                if k == 0:
                    _, F, y = model.sample(n, w, rng=1000 + 10 * seed + j)
                else:
                    X, y = sample_dataset(n, res.teacher, rng=2000 + 10 * seed + j)
                    F = ck_features(X, res.W1, activation="tanh")
                coef = ridge_path(F, y, lambdas=lam).coef[0]
                gaps[k, seed, j] = (ey2 - 2.0 * coef @ b + coef @ S @ coef) / th - 1.0
    return gaps


@pytest.mark.slow
@pytest.mark.parametrize("teacher", ["tanh", "sin"])
def test_giant_step_conditional_d1000(teacher):
    # issue 11: the giant step within 2% of the simulation at d = N = 1000, paired over 8
    # seeds, for alpha = n/d = 0.5, 1.5, 3 (their lambda = 0.1), on the model's draws and on
    # the simulated W1. Measured (sim - theory)/theory, mean +- s.e.: tanh, model -0.60 +-
    # 1.07%, -0.37 +- 0.78%, -0.53 +- 0.59%; W1 +0.79 +- 0.67%, +0.27 +- 0.70%, -0.05 +-
    # 0.43%; sin, model -0.71 +- 1.53%, -0.50 +- 0.40%, -0.80 +- 0.44%; W1 +0.38 +- 1.03%,
    # +1.12 +- 0.79%, +0.29 +- 0.27%. (The simulation was 3.4%, 5.9% and 2.4% above the
    # exact-moment Gaussian DE on W1 for tanh, 4 seeds.)
    seeds = 8
    gaps = _giant_step_paired(1000, seeds, teacher, (0.5, 1.5, 3.0))
    mean, se = gaps.mean(1), gaps.std(1, ddof=1) / np.sqrt(seeds)
    assert np.all(np.abs(mean) <= 3 * se), (mean, se)
    assert np.all(np.abs(mean) <= 0.02), (mean, se)


def test_risk_vs_learning_rate_curve():
    etas = [0.0, 2.0, 8.0]
    exact, plain, cond = risk_vs_learning_rate("tanh", "tanh", eta0=etas, psi=2.0, d=120,
                                               N=90, n=150, lambdas=LAMS, noise=0.1, rng=7)
    assert cond.test_error.shape == (3, LAMS.size) and cond.coords["eta0"].tolist() == etas
    # each row is spiked_rf_risk on the shared draw
    base = int(np.random.default_rng(7).integers(2**63))
    model = SpikedRandomFeatures.from_one_step("tanh", "tanh", psi=2.0, N=90, eta0=8.0,
                                               noise=0.1)
    w = model.weights(120, 90, rng=np.random.default_rng(base))
    one = spiked_rf_risk(model, d=120, N=90, n=150, lambdas=LAMS, weights=w)
    np.testing.assert_allclose(exact.test_error[2], one.exact_moments.test_error, rtol=1e-12)
    np.testing.assert_allclose(plain.test_error[2], one.plain.test_error, rtol=1e-12)
    np.testing.assert_allclose(cond.test_error[2], one.conditional.test_error, rtol=1e-12)
    # eta0 = 0 is random features: the three equivalences nearly agree, and a step helps
    for other in (plain, cond):
        assert abs(exact.test_error[0, 1] - other.test_error[0, 1]) < 0.05 * exact.test_error[0, 1]
    assert cond.optimal_test_error[2] < cond.optimal_test_error[0]
    assert cond.to_xarray().test_error.dims == ("eta0", "lambda")
    with pytest.raises(InvalidParameterError, match="eta0"):
        risk_vs_learning_rate("tanh", "tanh", eta0=[-1.0], psi=2.0, d=10, N=10, n=10,
                              lambdas=LAMS)
