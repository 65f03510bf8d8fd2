"""
Random-features double descent
==============================

Ridge regression on random features ``sigma(X W0)`` at initialization, as the width grows
past the number of samples (Mei & Montanari 2022). The curves are
:func:`spikewise.solvers.random_features_risk`, the proportional limit (Gaussian
equivalence, with the traces taken against the Marchenko–Pastur law of ``W0^T W0``); the
points are ridge fits (:func:`spikewise.spectra.ridge_path`) on fresh data, mean and
standard deviation over seeds. ``lambda`` is in our convention,
``b = (F^T F / n + lambda I)^(-1) F^T y / n``: with ``lambda -> 0`` (minimum norm) the test
error blows up at ``N = n`` and descends again; a larger ``lambda`` smooths the peak away.
"""

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

from spikewise.solvers import random_features_risk
from spikewise.spectra import (
    ck_features,
    init_first_layer,
    make_teacher,
    ridge_path,
    sample_dataset,
)

SMALL = os.environ.get("SPIKEWISE_SIZE", "full") == "small"
d = 60 if SMALL else 400
seeds = 3 if SMALL else 6
psi = 2.0  # n / d
n = int(psi * d)
activation, teacher, noise = "tanh", "tanh", 0.2
lambdas = np.array([1e-4, 1e-2, 1e-1])
phis = np.linspace(0.2, 5.0, 300)
phi_sim = np.array([0.5, 1.0, 1.5, 1.8, 2.2, 2.5, 3.5, 5.0])

theory = random_features_risk(lambdas, psi=psi, phi=phis, activation=activation,
                              teacher=teacher, noise=noise)

sim = np.empty((seeds, phi_sim.size, lambdas.size))
for s in range(seeds):
    rng = np.random.default_rng(s)
    t = make_teacher(d, teacher=teacher, noise=noise, rng=rng)
    X, y = sample_dataset(n, t, rng=rng)
    X_test, y_test = sample_dataset(4 * n, t, rng=rng)
    for j, phi in enumerate(phi_sim):
        W0 = init_first_layer(d, int(round(phi * d)), rng=rng)
        path = ridge_path(ck_features(X, W0, activation=activation), y, lambdas=lambdas,
                          F_test=ck_features(X_test, W0, activation=activation),
                          y_test=y_test)
        sim[s, j] = path.test_error

fig, ax = plt.subplots(figsize=(8, 4.6), layout="constrained")
for k, lam in enumerate(lambdas):
    ax.plot(phis, theory.test_error[:, k], color=f"C{k}", label=f"theory, lambda={lam:g}")
    ax.errorbar(phi_sim, sim[:, :, k].mean(0), yerr=sim[:, :, k].std(0), fmt="o",
                color=f"C{k}", capsize=3, markersize=4)
ax.axvline(psi, color="gray", linestyle=":", label="N = n")
ax.axhline(noise**2, color="black", linewidth=0.8,
           label="noise floor")
ax.set_yscale("log")
ax.set_ylim(0.03, 3.0)
ax.set_xlabel(r"$\phi = N/d$")
ax.set_ylabel("test error")
ax.set_title(f"random features: psi = n/d = {psi}, d = {d}, {activation} on {teacher}, "
             f"noise {noise}; points: {seeds} seeds", fontsize="medium")
ax.legend(fontsize="small", frameon=False)
i = np.argmin(np.abs(phi_sim[:, None] - phis[None, :]), axis=1)
print("phi:", phi_sim.tolist())
print("theory (lambda=1e-2):", np.round(theory.test_error[i, 1], 4).tolist())
print("simulation (mean)   :", np.round(sim[:, :, 1].mean(0), 4).tolist())
