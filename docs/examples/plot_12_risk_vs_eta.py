"""
Test error after one step, against the step size
================================================

Ba et al. (2022), eta = Theta(1): the first layer takes one full-batch gradient step on
``n`` samples, then the second layer is fitted by ridge on ``n`` FRESH samples
(``one_step(..., ridge_samples="fresh")``). Two bounds frame the result: the random-features
error at initialization (:func:`spikewise.solvers.random_features_risk`, the proportional
limit) and the error of the best linear predictor of the teacher, ``E y^2 - c_1^2``, which
a step of order one cannot beat. The curve is the finite-width theory
(:func:`spikewise.solvers.finite_width_risk`) evaluated on the ``W1`` of each run: the
Gaussian-equivalence prediction for ridge on the features of THAT first layer, which the
points (the simulated fresh-sample ridge) should match within their sampling error. Every
error is the best one along the same lambda path (our convention,
``b = (F^T F / n + lambda I)^(-1) F^T y / n``).
"""

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

from spikewise.activations import get_activation
from spikewise.solvers import critical_learning_rate, finite_width_risk, random_features_risk
from spikewise.spectra import one_step

SMALL = os.environ.get("SPIKEWISE_SIZE", "full") == "small"
d = 80 if SMALL else 600
seeds = 2 if SMALL else 4
n, N = 2 * d, 3 * d // 2
activation, teacher, noise = "tanh", "tanh", 0.1
lambdas = np.logspace(-3, 0, 13)
etas = np.array([0.0, 1.0, 2.0, 4.0, 8.0, 16.0])

theory = np.empty((seeds, etas.size))
sim = np.empty((seeds, etas.size))
for s in range(seeds):
    for j, eta in enumerate(etas):
        res = one_step(n=n, d=d, N=N, activation=activation, teacher=teacher, noise=noise,
                       eta0=eta, spectra=(), k_top=0, lambdas=lambdas, n_test=4 * n,
                       ridge_samples="fresh", rng=s)
        sim[s, j] = res.ridge.test_error.min()
        theory[s, j] = finite_width_risk(res.W1, res.teacher.directions, n=n,
                                         lambdas=lambdas, activation=activation,
                                         teacher=teacher, noise=noise).optimal_test_error

rf = random_features_risk(lambdas, psi=n / d, phi=N / d, activation=activation,
                          teacher=teacher, noise=noise)
g = get_activation(teacher)
linear = g.second_moment + noise**2 - g.mu0**2 - g.mu1**2
eta_c = critical_learning_rate(activation, teacher, psi=n / d, phi=N / d, noise=noise, n=n)

fig, ax = plt.subplots(figsize=(8, 4.6), layout="constrained")
ax.plot(etas, theory.mean(0), marker="s", color="C0",
        label="finite-width theory on each run's W1 (mean)")
ax.errorbar(etas, sim.mean(0), yerr=sim.std(0), fmt="o", color="C1", capsize=3,
            label=f"simulation, ridge on fresh samples (mean ± sd, {seeds} seeds)")
ax.axhline(rf.optimal_test_error, color="gray", linestyle="--",
           label="random features at initialization (limit)")
ax.axhline(linear, color="black", linestyle=":", label="best linear predictor")
ax.axvline(eta_c, color="C0", linestyle=":", label=f"BBP threshold {eta_c:.2f}")
ax.set_xlabel(r"$\eta$")
ax.set_ylabel("test error (best lambda)")
ax.set_title(f"n={n}, d={d}, N={N}, {activation} on {teacher}, noise={noise}",
             fontsize="medium")
ax.legend(fontsize="small", frameon=False)
print("eta:", etas.tolist())
print("theory on W1:", np.round(theory.mean(0), 4).tolist())
print("simulation  :", np.round(sim.mean(0), 4).tolist())
print(f"random features (limit): {float(rf.optimal_test_error):.4f}, "
      f"best linear: {linear:.4f}")
