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
# # The learned features after a large step
#
# One gradient step with `eta = eta0 N^alpha` (our convention,
# `W1 = W0 + (eta/n) X^T [((y - f(X)) a^T) * sigma'(X W0)]`). At the maximal rate
# `alpha = 1/2` every neuron's pre-activation moves by O(1) along the learned direction and
# the features are those of the **spiked random-feature model**
# `w_j = sqrt(1 + nu a_j~^2) w0_j + t a_j~ v` (Dandi, Pesce, Zdeborová, Krzakala 2024). We
#
# 1. build the model from the one-step theory and check its population covariance against
#    Monte Carlo;
# 2. put the deterministic equivalent of the feature spectrum over a simulated step;
# 3. predict the conjugate-kernel outlier on fresh and on *training* inputs.
#
# `SPIKEWISE_SIZE=small` runs at small sizes.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

from spikewise.solvers import SpikedRandomFeatures, ck_outliers, feature_spectrum
from spikewise.spectra.experiment import one_step

SMALL = os.environ.get("SPIKEWISE_SIZE", "full") == "small"
d = 80 if SMALL else 400
n, N = 3 * d, int(1.5 * d)

# %% [markdown]
# ## 1. The model and its moments
#
# `from_one_step` gives the strength `t = eta |mu_1| sqrt(q / N)`, the overlap of the learned
# direction with the teacher `gamma = c_1 / sqrt(q)` and the inflation `nu` of the bulk.

# %%
model = SpikedRandomFeatures.from_one_step("tanh", "tanh", psi=n / d, N=N, eta0=1.5,
                                           alpha=0.5, second_layer="rademacher")
print(model)
w = model.weights(d, 20, rng=0)
Sigma = model.population_covariance(w)
b = model.teacher_cross_moment(w)
X, F, y = model.sample(50_000, w, rng=1)
print("max |Sigma - F^T F / n| =", np.abs(Sigma - F.T @ F / len(X)).max())
print("max |b - F^T y / n|     =", np.abs(b - F.T @ y / len(X)).max())

# %% [markdown]
# ## 2. The spectrum after a giant step
#
# The deterministic equivalent is a mixture over the spike coordinate `kappa = v^T x`.

# %%
run = one_step(n=n, d=d, N=N, activation="tanh", teacher="tanh", eta0=1.5, alpha=0.5,
               second_layer="rademacher", spectra=("ck1",), ck_inputs="fresh",
               orientation="feature", k_top=0, rng=0)
ev = run.spectra["ck1"].values
de = feature_spectrum(model, psi=n / d, phi=N / d, N=N, grid=100 if SMALL else 200,
                      kappa_nodes=20)
fig, ax = plt.subplots(figsize=(7, 4))
ax.hist(ev[ev < 1.1 * de.bulk_edge], bins=40, density=True, alpha=0.5, label="simulation")
ax.plot(de.x, de.density, color="C3", label="deterministic equivalent")
ax.set_xlim(0, 1.3 * de.bulk_edge)
ax.set_ylim(0, 2.0)
ax.legend()
print(f"KS = {de.ks(ev):.4f}; outlier predicted {de.outliers[0]:.2f}, measured {ev.max():.2f}")
print("squared overlaps of the outlier's vector with He_0..He_4(kappa):",
      np.round(de.hermite_overlaps[0], 3))

# %% [markdown]
# ## 3. The CK outlier on fresh and training inputs
#
# In Ba et al.'s regime (`alpha = 0`). On the training inputs the self-interaction of the
# step (sample `i` moved neuron `j` by `eta a_j r_i sigma'(h_ij) |x_i|^2 / n`) aligns the
# spike with the labels.

# %%
eta = 5.0
for inputs in ("fresh", "train"):
    r = one_step(n=2 * d, d=d, N=N, activation="tanh", teacher="tanh", eta0=eta,
                 spectra=("ck1",), ck_inputs=inputs, orientation="sample", k_top=0, rng=3)
    extra = {"X_ck": r.X_ck} if inputs == "fresh" else {}
    p = ck_outliers("tanh", "tanh", psi=2.0, phi=N / d, eta0=eta, n=2 * d, inputs=inputs,
                    a=r.a, W0=r.W0, X=r.X, y=r.y, beta=r.teacher.beta, **extra)
    print(f"{inputs:>5}: limit {p.limit.position:.3f}, finite {p.finite.position:.3f}, "
          f"this draw {p.draw.position:.3f}, measured {r.spectra['ck1'].values.max():.3f}")
