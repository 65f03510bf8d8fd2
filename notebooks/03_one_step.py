# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # One gradient step: the spike, the BBP transition, the alignment, the CK spike
#
# Ba, Erdogdu, Suzuki, Wang, Wu, Yang (2022). One full-batch gradient step on the first
# layer, `W1 = W0 + (eta/n) X^T [((y - f(X)) a^T) * sigma'(X W0)]` (our convention), is
# approximately the rank-one update `eta mu_1 (X^T y / n) a^T`. We check, against
# simulation:
#
# 1. the singular values of `W1`: Marchenko–Pastur bulk plus one outlier past `eta_c`;
# 2. the BBP transition in `eta` of the top singular value and of the alignment with `beta`;
# 3. the conjugate kernel `sigma(X W1)` on fresh inputs: the same bulk as at initialization,
#    plus one outlier aligned with `X beta`.
#
# `SPIKEWISE_SIZE=small` runs at small sizes.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

from spikewise.plot import before_after, overlay, theory_vs_simulation
from spikewise.solvers.conjugate_kernel import conjugate_kernel_law
from spikewise.solvers.one_step_theory import critical_learning_rate, one_step_spike
from spikewise.solvers.transforms import rectangular_singular_values
from spikewise.spectra.experiment import one_step

SMALL = os.environ.get("SPIKEWISE_SIZE", "full") == "small"
d = 200 if SMALL else 1000
n, N = 2 * d, int(1.5 * d)
psi, phi = n / d, N / d
activation, target = "tanh", "tanh"
print(f"n={n}, d={d}, N={N}; eta_c (limit) = "
      f"{critical_learning_rate(activation, target, psi=psi, phi=phi):.4f}, "
      f"eta_c (at this size) = "
      f"{critical_learning_rate(activation, target, psi=psi, phi=phi, n=n):.4f}")

# %% [markdown]
# ## The spike of `W1`
# Prediction at finite size, conditional on the realized `a`, `W0`, `X`, `y`, `beta`.

# %%
eta = 8.0
result = one_step(n=n, d=d, N=N, activation=activation, teacher=target, eta0=eta, rng=0,
                  ck_inputs="fresh", orientation="sample")
pred = one_step_spike(activation, target, psi=psi, phi=phi, eta=eta, n=n, a=result.a,
                      W0=result.W0, X=result.X, y=result.y, beta=result.teacher.beta)
print(pred.table())
bulk = rectangular_singular_values(ratio=phi, orientation="n" if phi > 1 else "p")
ax = overlay(result.spectra["W1"], bulk, outliers=[pred.finite.top_singular_value])
measured = result.spectra["W1"].values[-1]
print(f"top singular value: predicted {pred.finite.top_singular_value:.4f}, "
      f"measured {measured:.4f} ({100 * (measured / pred.finite.top_singular_value - 1):+.2f} %)")
print(f"overlap with beta: predicted {pred.finite.overlap_beta:.3f}, "
      f"measured {result.alignments['W1'][0, 0]:.3f}")

# %% [markdown]
# ## The BBP transition in `eta`

# %%
etas = np.linspace(0.5, 8.0, 6 if SMALL else 12)
seeds = 2 if SMALL else 4
top = np.empty((seeds, etas.size))
overlap = np.empty((seeds, etas.size))
for s in range(seeds):
    for j, e in enumerate(etas):
        r = one_step(n=n, d=d, N=N, activation=activation, teacher=target, eta0=e, rng=s,
                     spectra=("W1",), k_top=1)
        top[s, j] = r.spectra["W1"].values[-1]
        overlap[s, j] = r.alignments["W1"][0, 0]
grid = np.linspace(etas[0], etas[-1], 100)
theory = [one_step_spike(activation, target, psi=psi, phi=phi, eta=e, n=n).finite for e in grid]
eta_c = critical_learning_rate(activation, target, psi=psi, phi=phi, n=n)
fig, axes = plt.subplots(1, 2, figsize=(12, 4))
params = {"n": n, "d": d, "N": N, "activation": activation, "target": target}
theory_vs_simulation(etas, [v.top_singular_value for v in theory], top, theory_x=grid,
                     ax=axes[0], threshold=eta_c, ylabel="top singular value", params=params)
theory_vs_simulation(etas, [v.overlap_beta for v in theory], overlap, theory_x=grid,
                     ax=axes[1], threshold=eta_c, ylabel="overlap with beta", params=params)
fig.tight_layout()
mean_pred = np.interp(etas, grid, [v.top_singular_value for v in theory])
print("relative error of the seed-mean top singular value:",
      np.round(top.mean(axis=0) / mean_pred - 1, 4))

# %% [markdown]
# ## The conjugate kernel before and after the step
# Fresh inputs, `F F^T / N`: the conjugate-kernel law at initialization is the bulk of both;
# after the step one eigenvalue leaves it.

# %%
ck_law = conjugate_kernel_law(activation, psi=psi, phi=phi, orientation="sample")
ax = before_after(result.spectra["ck0"], result.spectra["ck1"], ck_law, ck_law,
                  outliers1=[pred.finite.ck_outlier])
print(f"CK outlier: predicted {pred.finite.ck_outlier:.4f}, "
      f"measured {result.spectra['ck1'].values[-1]:.4f}")
print(f"CK overlap with X beta: predicted {pred.finite.ck_overlap_beta:.3f}, "
      f"measured {result.alignments['ck1'][0, 0, 0]:.3f}")
print(f"KS distance of the CK at W0 to the law: {result.spectra['ck0'].ks(ck_law):.4f}")
