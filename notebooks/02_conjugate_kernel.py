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
# # The conjugate kernel at initialization
#
# Features `F = sigma(X W0)` of a random first layer (`X` is `n x d` Gaussian, `W0` is
# `d x N` with `N(0, 1/d)` entries). In the proportional limit the spectrum of `F^T F / n` is
# a generalized Marchenko–Pastur law with ratio `phi / psi` and population
# `mu_1^2 MP(phi) + mu_*^2` (Pennington & Worah 2017; Péché 2019; Fan & Wang 2020): the
# activation enters only through `mu_1` and `mu_*^2`.
#
# `SPIKEWISE_SIZE=small` runs at small sizes.

# %%
import os
import warnings

import matplotlib.pyplot as plt

from spikewise.activations import get_activation
from spikewise.plot import overlay
from spikewise.solvers.conjugate_kernel import MeanOutlierWarning, conjugate_kernel_law
from spikewise.spectra.features import ck_features
from spikewise.spectra.sampling import init_first_layer, sample_inputs
from spikewise.spectra.spectrum import Spectrum, ck_spectrum

SMALL = os.environ.get("SPIKEWISE_SIZE", "full") == "small"
d = 200 if SMALL else 1000
n, N = 2 * d, int(1.5 * d)
psi, phi = n / d, N / d
X = sample_inputs(n, d, rng=0)
W0 = init_first_layer(d, N, rng=1)

# %% [markdown]
# ## Only `mu_1` and `mu_*^2` matter
# Four activations, their Hermite data, and the Kolmogorov distance between the simulated CK
# spectrum and the law.

# %%
names = ["tanh", "relu_centred", "erf", "sin"]
fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 4))
for ax, name in zip(axes, names, strict=True):
    act = get_activation(name)
    spectrum = ck_spectrum(ck_features(X, W0, activation=name), orientation="feature",
                           source="F^T F / n",
                           params={"n": n, "d": d, "N": N, "psi": psi, "phi": phi,
                                   "activation": name})
    law = conjugate_kernel_law(name, psi=psi, phi=phi)
    overlay(spectrum, law, ax=ax, legend=False)
    print(f"{name:13s} mu0={act.mu0:+.3f} mu1={act.mu1:.4f} mu*^2={act.mu_star2:.4f}  "
          f"KS={spectrum.ks(law):.4f}")
fig.tight_layout()

# %% [markdown]
# ## Both Gram orientations
# `F F^T / N` (`n x n`) has the same nonzero eigenvalues as `F^T F / n` up to the factor
# `n / N`, plus `n - N` zeros: an atom.

# %%
F = ck_features(X, W0, activation="tanh")
fig, axes = plt.subplots(1, 2, figsize=(12, 4))
for ax, orientation in zip(axes, ["feature", "sample"], strict=True):
    spectrum = ck_spectrum(F, orientation=orientation,
                           params={"n": n, "d": d, "N": N, "activation": "tanh",
                                   "orientation": orientation})
    law = conjugate_kernel_law("tanh", psi=psi, phi=phi, orientation=orientation)
    overlay(spectrum, law, ax=ax)
    print(f"{orientation}: KS={spectrum.ks(law):.4f}, atoms={law.atoms}")
fig.tight_layout()

# %% [markdown]
# ## A non-centred activation: the mean outlier
# With `mu_0 != 0` (plain ReLU) the Gram has one more eigenvalue, of order `N mu_0^2`,
# outside the bulk law; `law.mean_outlier(d=d)` gives its finite-size location.

# %%
with warnings.catch_warnings():
    warnings.simplefilter("ignore", MeanOutlierWarning)
    law = conjugate_kernel_law("relu", psi=psi, phi=phi)
spectrum = ck_spectrum(ck_features(X, W0, activation="relu"),
                       params={"n": n, "d": d, "N": N, "activation": "relu"})
print(f"mean outlier: predicted {law.mean_outlier(d=d):.3f}, "
      f"measured {spectrum.values[-1]:.3f}")
bulk_only = Spectrum(spectrum.values[:-1], source="bulk")
print(f"KS of the bulk (largest eigenvalue removed): {bulk_only.ks(law):.4f}")
ax = overlay(spectrum, law, outliers=[law.mean_outlier(d=d)])
