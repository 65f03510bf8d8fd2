"""
One gradient step: the BBP transition in the learning rate
==========================================================

Sweeping ``eta`` through the threshold ``eta_c`` of Ba et al. (2022): below it the top
singular value of ``W1`` stays at the bulk edge and its left singular vector carries no
information about the teacher; above it the outlier separates and the squared overlap
``|<u_1, beta>|^2`` grows from zero. Curves: the proportional limit (dashed) and the
finite-size prediction at the simulated size (solid); points: simulation, mean and standard
deviation over seeds.
"""

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

from spikewise.plot import theory_vs_simulation
from spikewise.solvers.one_step_theory import critical_learning_rate, one_step_spike
from spikewise.spectra.experiment import one_step

SMALL = os.environ.get("SPIKEWISE_SIZE", "full") == "small"
d, n, N = (200, 400, 300) if SMALL else (800, 1600, 1200)
seeds = 2 if SMALL else 4
psi, phi = n / d, N / d
activation, target = "tanh", "tanh"

etas = np.linspace(0.5, 8.0, 7 if SMALL else 11)
top = np.empty((seeds, etas.size))
overlap = np.empty((seeds, etas.size))
for s in range(seeds):
    for j, eta in enumerate(etas):
        r = one_step(n=n, d=d, N=N, activation=activation, teacher=target, eta0=eta, rng=s,
                     spectra=("W1",), k_top=1)
        top[s, j] = r.spectra["W1"].values[-1]
        overlap[s, j] = r.alignments["W1"][0, 0]

grid = np.linspace(etas[0], etas[-1], 120)
finite = [one_step_spike(activation, target, psi=psi, phi=phi, eta=e, n=n).finite for e in grid]
limit = [one_step_spike(activation, target, psi=psi, phi=phi, eta=e).limit for e in grid]
eta_c = critical_learning_rate(activation, target, psi=psi, phi=phi, n=n)
print(f"eta_c: limit {critical_learning_rate(activation, target, psi=psi, phi=phi):.4f}, "
      f"finite size {eta_c:.4f}")

params = {"n": n, "d": d, "N": N, "psi": psi, "phi": phi, "activation": activation,
          "target": target, "seeds": seeds}
fig, axes = plt.subplots(1, 2, figsize=(13, 4.6), layout="constrained")
for ax, key, meas, ylabel in [
    (axes[0], "top_singular_value", top, "top singular value of W1"),
    (axes[1], "overlap_beta", overlap, r"$|\langle u_1, \beta\rangle|^2$"),
]:
    theory_vs_simulation(etas, [getattr(v, key) for v in finite], meas, theory_x=grid, ax=ax,
                         threshold=eta_c, ylabel=ylabel, params=params, label="finite size")
    ax.plot(grid, [getattr(v, key) for v in limit], color="gray", linestyle="--",
            label="proportional limit")
    ax.legend(fontsize="small", frameon=False)

pred = np.interp(etas, grid, [v.top_singular_value for v in finite])
rel = np.abs(top.mean(axis=0) / pred - 1)
print("relative error of the mean top singular value:", np.round(rel, 4))
