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
# # Ridge risk on the features
#
# How well does ridge regression of the second layer predict, on the random features at
# initialization and on the features after one step? `spikewise.solvers.risk` gives the
# deterministic equivalent for a given first layer (`finite_width_risk`), the
# random-features limit (`random_features_risk`) and the split into bias, variance and
# misspecification. Lambda is in our convention,
# `b = (F^T F / n + lambda I)^(-1) F^T y / n` (see `spikewise.conventions`).
#
# `SPIKEWISE_SIZE=small` runs at small sizes.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

from spikewise.solvers import finite_width_risk, random_features_risk
from spikewise.spectra import one_step

SMALL = os.environ.get("SPIKEWISE_SIZE", "full") == "small"
d = 100 if SMALL else 500
n, N = 2 * d, 3 * d // 2
activation, teacher, noise = "tanh", "tanh", 0.1
lambdas = np.logspace(-4, 1, 40)

# %% [markdown]
# ## A lambda path on one run, theory beside simulation
# The same `W1`, ridge fitted on `n` fresh samples; the optimal lambda is marked.

# %%
res = one_step(n=n, d=d, N=N, activation=activation, teacher=teacher, noise=noise, eta0=4.0,
               spectra=(), k_top=0, lambdas=lambdas, n_test=4 * n, ridge_samples="fresh",
               rng=0)
theory = finite_width_risk(res.W1, res.teacher.directions, n=n, lambdas=lambdas,
                           activation=activation, teacher=teacher, noise=noise)
fig, ax = plt.subplots(figsize=(7, 4))
ax.loglog(lambdas, theory.test_error, label="test, theory")
ax.loglog(lambdas, res.ridge.test_error, "o", markersize=3, label="test, simulation")
ax.loglog(lambdas, theory.train_error, label="train, theory")
ax.loglog(lambdas, res.ridge.train_error, "s", markersize=3, label="train, simulation")
ax.axvline(float(theory.optimal_lambda), color="gray", linestyle=":", label="optimal lambda")
ax.set_xlabel("lambda")
ax.set_ylabel("error")
ax.legend(fontsize="small", frameon=False)
print(f"optimal lambda {float(theory.optimal_lambda):.3g}: theory "
      f"{float(theory.optimal_test_error):.4f}, simulation at that lambda "
      f"{res.ridge.test_error[np.argmin(theory.test_error)]:.4f}")

# %% [markdown]
# ## Bias, variance and misspecification along the path

# %%
ds = theory.to_xarray()
fig, ax = plt.subplots(figsize=(7, 4))
for name in ("bias", "variance", "misspecification"):
    ax.loglog(lambdas, ds[name], label=name)
ax.loglog(lambdas, ds["test_error"], "k", label="test error")
ax.set_xlabel("lambda")
ax.legend(fontsize="small", frameon=False)
print(ds)

# %% [markdown]
# ## Learning curves of random features
# Test error against `psi = n/d` at fixed width, for a few lambdas: the minimum-norm curve
# peaks at `n = N`.

# %%
psis = np.linspace(0.1, 4.0, 200)
curves = random_features_risk([1e-6, 1e-2, 1e-1], psi=psis, phi=N / d,
                              activation=activation, teacher=teacher, noise=noise)
fig, ax = plt.subplots(figsize=(7, 4))
for k, lam in enumerate(curves.lambdas):
    ax.semilogy(psis, curves.test_error[:, k], label=f"lambda = {lam:g}")
ax.axvline(N / d, color="gray", linestyle=":", label="n = N")
ax.set_xlabel("psi = n/d")
ax.set_ylabel("test error")
ax.legend(fontsize="small", frameon=False)
