"""
Test error against the learning-rate exponent
=============================================

Moniri, Lee, Hassani & Dobriban (2023): one step with ``eta = eta0 N^alpha``. For
``alpha in ((l-1)/(2l), l/(2l+2))`` the updated features carry ``l`` spikes, the k-th
aligned with the degree-k polynomial of ``beta^T x``, and the ridge error on them drops as
more of the teacher's Hermite components become learnable (the dotted lines mark
``alpha = (l-1)/(2l)``). At ``alpha = 1/2`` the step is the giant step of the next page.

Curves: the deterministic equivalent on the spiked random-feature model of the step
(:func:`spikewise.solvers.spiked_rf_risk`, Gaussian equivalence with the exact moments)
and its plain Gaussian-equivalence counterpart; points: ``one_step(...,
ridge_samples="fresh")``, ridge on ``n`` fresh samples, best lambda on a common path (our
convention ``b = (F^T F / n + lambda I)^(-1) F^T y / n``). The random-features error and the
best linear predictor frame them.
"""

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

from spikewise.activations import get_activation
from spikewise.solvers import SpikedRandomFeatures, random_features_risk, spiked_rf_risk
from spikewise.spectra import one_step

SMALL = os.environ.get("SPIKEWISE_SIZE", "full") == "small"
d = 80 if SMALL else 500
seeds = 2 if SMALL else 3
N, n = 2 * d, 2 * d
activation, teacher, noise = "tanh", "tanh", 0.1
eta0 = 1.0
lambdas = np.logspace(-3, 0, 10)
alphas = np.array([0.0, 0.1, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5])

cond = np.empty((seeds, alphas.size))
plain = np.empty((seeds, alphas.size))
sim = np.empty((seeds, alphas.size))
for j, alpha in enumerate(alphas):
    model = SpikedRandomFeatures.from_one_step(activation, teacher, psi=n / d, N=N,
                                               eta0=eta0, alpha=alpha, noise=noise)
    for s in range(seeds):
        # the conditional risk (page 14) is skipped: seconds per lambda at this size
        risk = spiked_rf_risk(model, d=d, N=N, n=n, lambdas=lambdas, conditional=False,
                              rng=100 + s)
        cond[s, j] = risk.exact_moments.optimal_test_error
        plain[s, j] = risk.plain.optimal_test_error
        res = one_step(n=n, d=d, N=N, activation=activation, teacher=teacher, noise=noise,
                       eta0=eta0, alpha=alpha, spectra=(), k_top=0, lambdas=lambdas,
                       n_test=4 * n, ridge_samples="fresh", rng=s)
        sim[s, j] = res.ridge.test_error.min()

rf = random_features_risk(lambdas, psi=n / d, phi=N / d, activation=activation,
                          teacher=teacher, noise=noise)
g = get_activation(teacher)
linear = g.second_moment + noise**2 - g.mu0**2 - g.mu1**2

fig, ax = plt.subplots(figsize=(8, 4.6), layout="constrained")
ax.plot(alphas, cond.mean(0), marker="s", label="exact-moment GE (spiked RF model)")
ax.plot(alphas, plain.mean(0), marker="^", linestyle="--", label="plain GE")
ax.errorbar(alphas, sim.mean(0), yerr=sim.std(0), fmt="o", color="k", capsize=3,
            label=f"simulation, fresh ridge samples ({seeds} seeds)")
ax.axhline(float(rf.optimal_test_error), color="gray", linestyle=":",
           label="random features (limit)")
ax.axhline(linear, color="black", linestyle="-.", linewidth=0.8,
           label="best linear predictor")
for ell in (2, 3, 4):
    ax.axvline((ell - 1) / (2 * ell), color="C2", linestyle=":", linewidth=0.8)
ax.set_xlabel(r"$\alpha$ ($\eta = \eta_0 N^\alpha$)")
ax.set_ylabel("test error (best lambda)")
ax.set_title(f"n={n}, d={d}, N={N}, {activation} on {teacher}, eta0={eta0}, noise={noise}",
             fontsize="medium")
ax.legend(fontsize="small", frameon=False)
print("alpha:", alphas.tolist())
print("exact moments:", np.round(cond.mean(0), 4).tolist())
print("plain GE   :", np.round(plain.mean(0), 4).tolist())
print("simulation :", np.round(sim.mean(0), 4).tolist())
