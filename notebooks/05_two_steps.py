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
# # Two steps: fresh versus reused batches
#
# Moniri & Hassani (2025). Two gradient steps with `eta_1 = N^alpha_1`, `eta_2 = N^alpha_2`:
# the weights carry `floor(alpha_2 / (1/2 - alpha_1))` new outliers. For a teacher of
# information exponent 2 the first step cannot find `beta`; reusing the first batch in the
# second step lets it, a fresh batch does not.
#
# `SPIKEWISE_SIZE=small` runs at small sizes.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

from spikewise.activations import hermite_sum
from spikewise.plot import overlay
from spikewise.solvers.transforms import rectangular_singular_values
from spikewise.solvers.two_step import two_step_outlier_count, two_step_spikes
from spikewise.spectra.experiment import two_step

SMALL = os.environ.get("SPIKEWISE_SIZE", "full") == "small"
d = 200 if SMALL else 1000
n, N = 2 * d, int(1.5 * d)
seeds = 2 if SMALL else 4
alpha1, alpha2 = 0.3, 0.45
print("asymptotic rule: new outliers =", two_step_outlier_count(alpha1, alpha2))

# %% [markdown]
# ## A linear teacher: counts and positions
# With `c_1 != 0` both batches learn `beta` in the first step already; the theory predicts
# the outliers visible at this `N`.

# %%
bulk = rectangular_singular_values(ratio=N / d, orientation="n" if N > d else "p")
fig, axes = plt.subplots(1, 2, figsize=(12, 4))
for ax, batch in zip(axes, ["fresh", "reuse"], strict=True):
    pred = two_step_spikes("relu", "he1", n=n, d=d, N=N, eta0=1.0, alpha=alpha1,
                           eta0_2=1.0, alpha_2=alpha2, batch=batch)
    r = two_step(n=n, d=d, N=N, activation="relu", teacher="he1", eta0=1.0, alpha=alpha1,
                 eta0_2=1.0, alpha_2=alpha2, batch=batch, rng=0, spectra=("W2",), k_top=3)
    positions = [sp.position for sp in pred.spikes if sp.visible]
    overlay(r.spectra["W2"], bulk, ax=ax, outliers=positions,
            measured=r.spectra["W2"].outliers(pred.edge))
    print(f"{batch}: predicted {np.round(positions, 3)}, measured "
          f"{np.round(r.spectra['W2'].top(len(positions) + 1), 3)}, bulk edge {pred.edge:.3f}")
fig.tight_layout()

# %% [markdown]
# ## Information exponent 2: only the reused batch learns `beta`
# `y = He_2(z)/2 + He_3(z)/sqrt(12)`. We sum the squared overlaps of the top four left
# singular vectors of `W2` with `beta`.

# %%
teacher = hermite_sum({2: 0.5, 3: 12**-0.5})
for batch in ["fresh", "reuse"]:
    pred = two_step_spikes("relu", teacher, n=n, d=d, N=N, eta0=1.0, alpha=alpha1,
                           eta0_2=1.0, alpha_2=alpha2, batch=batch)
    captured = []
    for s in range(seeds):
        r = two_step(n=n, d=d, N=N, activation="relu", teacher=teacher, eta0=1.0,
                     alpha=alpha1, eta0_2=1.0, alpha_2=alpha2, batch=batch, rng=s,
                     spectra=("W2",), k_top=4)
        captured.append(r.alignments["W2"][:4, 0].sum())
    theory = sum(sp.beta_overlap for sp in pred.spikes if sp.visible)
    print(f"{batch:6s}: beta captured {np.mean(captured):.3f} ± {np.std(captured):.3f} "
          f"(theory {theory:.3f})")
    print(pred.explain())
