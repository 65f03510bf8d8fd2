"""
Marchenko–Pastur: the spectrum of a sample covariance
=====================================================

For ``Y`` of shape ``n x p`` with independent standard Gaussian entries, the eigenvalues of
``S = Y^T Y / n`` follow, as ``n, p -> infinity`` with ``p / n -> gamma``, the
Marchenko–Pastur law: a density on ``[(1 - sqrt(gamma))^2, (1 + sqrt(gamma))^2]`` and, when
``gamma > 1``, an atom of mass ``1 - 1/gamma`` at zero (``S`` has rank ``n < p``).

The three panels cover ``gamma < 1``, the hard edge ``gamma = 1`` (density ``~ x^(-1/2)`` at
zero) and ``gamma > 1`` (the atom, drawn as a stem labelled with its theoretical and
measured mass; the bars hold the remaining, continuous part of the spectrum).
"""

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

from spikewise.plot import overlay
from spikewise.solvers.marchenko_pastur import MarchenkoPastur
from spikewise.spectra.spectrum import eigen_spectrum

SMALL = os.environ.get("SPIKEWISE_SIZE", "full") == "small"
p = 400 if SMALL else 2000
rng = np.random.default_rng(0)

fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
for ax, gamma in zip(axes, [0.25, 1.0, 4.0], strict=True):
    n = int(round(p / gamma))
    Y = rng.standard_normal((n, p))
    spectrum = eigen_spectrum(Y.T @ Y / n, source="Y^T Y / n",
                              params={"n": n, "p": p, "gamma": p / n, "seed": 0})
    law = MarchenkoPastur(ratio=p / n)
    overlay(spectrum, law, ax=ax)
    print(f"gamma = {gamma}: Kolmogorov distance to the law = {spectrum.ks(law):.4f}")
fig.tight_layout()

# %%
# Singular values
# ---------------
# The singular values of ``Y / sqrt(n)`` are the square roots of those eigenvalues; the
# pushforward ``law.sqrt()`` gives their law directly.

# %%
from spikewise.spectra.spectrum import singular_spectrum

n = int(round(p / 0.5))
Y = rng.standard_normal((n, p))
spectrum = singular_spectrum(Y / np.sqrt(n), source="Y / sqrt(n)",
                             params={"n": n, "p": p, "gamma": p / n, "seed": 0})
law = MarchenkoPastur(ratio=p / n).sqrt()
ax = overlay(spectrum, law)
ax.figure.set_size_inches(7, 4.2)
print(f"Kolmogorov distance of the singular values: {spectrum.ks(law):.4f}")

# %%
# The family of laws
# ------------------
# :func:`spikewise.plot.law_density` draws a law alone, on a grid refined at its edges, with
# its atoms as stems of height proportional to their mass.

# %%
from spikewise.plot import law_density

fig, ax = plt.subplots(figsize=(8, 4.2))
for gamma in [0.1, 0.25, 0.5, 1.0, 2.0]:
    law_density(MarchenkoPastur(ratio=gamma), ax=ax, label=f"gamma = {gamma}")
ax.set_ylim(0, 1.6)
ax.set_xlabel("eigenvalue")
ax.legend(fontsize="small", frameon=False)
