"""
Spike engines: a low-rank signal in a rectangular noise matrix
==============================================================

``X`` is ``n x p`` with independent ``N(0, 1/p)`` entries and ``P = sum_i theta_i u_i v_i^T``
a rank-two signal with unit vectors ``u_i, v_i``. The singular values of ``X + P`` form the
Marchenko–Pastur bulk (square roots of the law of ``X X^T``, ratio ``c = n/p``) plus one
outlier per spike stronger than the threshold ``theta_c = c^(1/4)`` (Benaych-Georges &
Nadakuditi 2012), at the root of ``D(z) = 1/theta^2`` for the D-transform of the bulk.
:func:`spikewise.solvers.spikes.rectangular_outliers` solves this for any bulk law; for the
Marchenko–Pastur bulk it reproduces ``z = sqrt((1 + theta^2)(c + theta^2)) / theta``.
"""

# %%
import os

import matplotlib.pyplot as plt
import numpy as np
from scipy.sparse.linalg import svds

from spikewise.plot import overlay, theory_vs_simulation
from spikewise.solvers.marchenko_pastur import MarchenkoPastur
from spikewise.solvers.spikes import rectangular_outliers
from spikewise.spectra.spectrum import singular_spectrum

SMALL = os.environ.get("SPIKEWISE_SIZE", "full") == "small"
n, p = (400, 800) if SMALL else (1500, 3000)
c = n / p
rng = np.random.default_rng(1)
bulk = MarchenkoPastur(ratio=c)  # law of X X^T


def unit(k):
    v = rng.standard_normal(k)
    return v / np.linalg.norm(v)


theta = np.array([1.6, 3.0])
X = rng.standard_normal((n, p)) / np.sqrt(p)
P = sum(t * np.outer(unit(n), unit(p)) for t in theta)
spectrum = singular_spectrum(X + P, source="X + P",
                             params={"n": n, "p": p, "ratio": c, "seed": 1})
pred = rectangular_outliers(bulk, theta, ratio=c)
print(pred.summary())
print("measured top singular values:", np.round(spectrum.top(3), 4))

ax = overlay(spectrum, bulk.sqrt(), outliers=pred)
ax.figure.set_size_inches(8, 4.2)

# %%
# Position and overlap against the strength
# -----------------------------------------
# Below the threshold the top singular value sticks to the bulk edge ``1 + sqrt(c)`` and
# its singular vector carries no information about ``u``; above it, the squared overlap
# ``|<u_hat, u>|^2`` grows continuously from zero.

# %%
thetas = np.linspace(0.3, 2.5, 10)
seeds = 2 if SMALL else 4
top = np.empty((seeds, thetas.size))
overlap = np.empty((seeds, thetas.size))
for s in range(seeds):
    G = rng.standard_normal((n, p)) / np.sqrt(p)
    u, v = unit(n), unit(p)
    for j, t in enumerate(thetas):
        U, S, _ = svds(G + t * np.outer(u, v), k=1, random_state=0)
        top[s, j] = S[0]
        overlap[s, j] = (U[:, 0] @ u) ** 2

grid = np.linspace(thetas[0], thetas[-1], 200)
theory = rectangular_outliers(bulk, grid, ratio=c)
fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
params = {"n": n, "p": p, "ratio": c}
theory_vs_simulation(thetas, theory.positions, top, theory_x=grid, ax=axes[0],
                     threshold=theory.thresholds[0], xlabel=r"$\theta$",
                     ylabel="top singular value", params=params)
theory_vs_simulation(thetas, theory.overlaps, overlap, theory_x=grid, ax=axes[1],
                     threshold=theory.thresholds[0], xlabel=r"$\theta$",
                     ylabel=r"$|\langle \hat u, u\rangle|^2$", params=params)
fig.tight_layout()
