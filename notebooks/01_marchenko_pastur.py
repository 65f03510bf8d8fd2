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
# # Marchenko–Pastur and generalized Marchenko–Pastur
#
# The bulk of every spectrum in spikewise is a Marchenko–Pastur-type law. This notebook
# puts simulated spectra beside the closed form (Marchenko–Pastur) and the Silverstein
# fixed point (generalized Marchenko–Pastur), atoms and separated bulks included, and
# measures the agreement with the Kolmogorov distance.
#
# Set the environment variable `SPIKEWISE_SIZE=small` for a quick run (CI does).

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

from spikewise.plot import overlay
from spikewise.solvers.marchenko_pastur import MarchenkoPastur
from spikewise.spectra.spectrum import eigen_spectrum

SMALL = os.environ.get("SPIKEWISE_SIZE", "full") == "small"
p = 300 if SMALL else 2000
rng = np.random.default_rng(0)

# %% [markdown]
# ## Marchenko–Pastur
# `S = Y^T Y / n`, `Y` of shape `n x p`, ratio `gamma = p / n`. For `gamma > 1` the law has
# an atom `1 - 1/gamma` at zero: the stem shows its mass (theory, and measured in brackets),
# and the bars hold only the continuous part of the spectrum.

# %%
fig, axes = plt.subplots(1, 3, figsize=(15, 4))
for ax, gamma in zip(axes, [0.25, 1.0, 2.5], strict=True):
    n = int(round(p / gamma))
    Y = rng.standard_normal((n, p))
    spectrum = eigen_spectrum(Y.T @ Y / n, source="Y^T Y / n",
                              params={"n": n, "p": p, "gamma": p / n})
    law = MarchenkoPastur(ratio=p / n)
    overlay(spectrum, law, ax=ax)
    print(f"gamma={p / n:.3g}: KS distance {spectrum.ks(law):.4f}, "
          f"edges {law.support[0][0]:.4f} .. {law.support[-1][1]:.4f}, "
          f"measured {spectrum.values[spectrum.values > 1e-8].min():.4f} .. "
          f"{spectrum.values.max():.4f}")
fig.tight_layout()

# %% [markdown]
# ## The Kolmogorov distance shrinks with size
# The distance between the empirical and the limiting distribution functions decays like
# `1/p` (up to logarithms) for the Marchenko–Pastur law.

# %%
sizes = [100, 200, 400] if SMALL else [250, 500, 1000, 2000]
for size in sizes:
    n = 2 * size
    Y = rng.standard_normal((n, size))
    spectrum = eigen_spectrum(Y.T @ Y / n)
    print(f"p={size:5d}: KS = {spectrum.ks(MarchenkoPastur(ratio=0.5)):.4f}")

# %% [markdown]
# ## Generalized Marchenko–Pastur
# A population covariance `T` with spectral law `H` gives `S = T^(1/2) Z^T Z T^(1/2) / n`,
# whose limit solves the Silverstein equation. With two population values far apart the
# spectrum splits into two bulks; the solver finds their edges exactly (Silverstein–Choi)
# and their masses.

# %%
from spikewise.solvers.generalized_mp import GeneralizedMarchenkoPastur

fig, axes = plt.subplots(1, 2, figsize=(12, 4))
for ax, (values, gamma) in zip(axes, [([1.0, 8.0], 0.1), ([1.0, 3.0], 0.5)], strict=True):
    law = GeneralizedMarchenkoPastur(ratio=gamma, population=values, weights=[0.5, 0.5])
    n = int(round(p / gamma))
    population = np.repeat(values, p // 2)
    A = rng.standard_normal((n, p)) * np.sqrt(population)[None, :]
    spectrum = eigen_spectrum(A.T @ A / n, source="T^1/2 Z^T Z T^1/2 / n",
                              params={"n": n, "p": p, "gamma": gamma})
    overlay(spectrum, law, ax=ax)
    print(f"H = {values}, gamma = {gamma}: bulks (lo, hi, mass) =",
          [tuple(round(v, 4) for v in b) for b in law.bulks],
          f"KS = {spectrum.ks(law):.4f}")
fig.tight_layout()

# %% [markdown]
# ### A continuous population
# `H` itself a Marchenko–Pastur law (the population is a Wishart matrix); `gamma = 2` adds an
# atom of mass 1/2 at zero.

# %%
V = rng.standard_normal((4 * p, p))
population = np.linalg.eigvalsh(V.T @ V / (4 * p))
n = p // 2
A = rng.standard_normal((n, p)) * np.sqrt(population)[None, :]
law = GeneralizedMarchenkoPastur(ratio=p / n, population=MarchenkoPastur(ratio=0.25))
spectrum = eigen_spectrum(A.T @ A / n, source="T^1/2 Z^T Z T^1/2 / n",
                          params={"n": n, "p": p, "gamma": p / n})
ax = overlay(spectrum, law)
print(f"KS = {spectrum.ks(law):.4f}, atoms = {law.atoms}")
