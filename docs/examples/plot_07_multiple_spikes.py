"""
Multiple spikes with a large learning rate, ``eta = eta0 N^alpha``
==================================================================

Moniri, Lee, Hassani & Dobriban (2023): after one step with ``eta = eta0 N^alpha`` the
feature matrix ``F = sigma(X W1)`` (fresh inputs ``X``) carries the degree-``k`` polynomial
feature of ``beta^T x`` as a separate spike when ``alpha > (k - 1) / (2k)``, so
``ell`` spikes for ``alpha in ((ell - 1)/(2 ell), ell/(2 ell + 2))``. That count is reached
only slowly in ``N``: :func:`spikewise.solvers.multi_spike.visible_spikes` predicts which
spikes are visible *at the simulated size* (strengths from the exact Gaussian-smoothed mean
features, compared with the BBP threshold of the bulk of the updated features, which the
step itself widens at finite ``N``).

Student ``relu`` (its mean ``mu_0`` gives one extra, degree-0 spike), linear teacher.
Singular values of ``F / sqrt(n)``; the bulk drawn is the conjugate-kernel law at
initialization, whose edge lies below the predicted edge of the updated bulk (printed by
``explain()``) by up to 3 % at the largest ``alpha``.
"""

# %%
import os
import warnings

import matplotlib.pyplot as plt
import numpy as np

from spikewise.plot import overlay, theory_vs_simulation
from spikewise.solvers.conjugate_kernel import MeanOutlierWarning, conjugate_kernel_law
from spikewise.solvers.multi_spike import spike_count, visible_spikes
from spikewise.spectra.experiment import one_step
from spikewise.spectra.spectrum import Spectrum

SMALL = os.environ.get("SPIKEWISE_SIZE", "full") == "small"
d, n, N = (300, 600, 450) if SMALL else (1000, 2000, 1500)
psi, phi = n / d, N / d
activation, target = "relu", "he1"
with warnings.catch_warnings():
    warnings.simplefilter("ignore", MeanOutlierWarning)
    bulk = conjugate_kernel_law(activation, psi=psi, phi=phi).sqrt()  # sv of F / sqrt(n)


def run(alpha, seed=0):
    r = one_step(n=n, d=d, N=N, activation=activation, teacher=target, eta0=1.0, alpha=alpha,
                 rng=seed, ck_inputs="fresh", orientation="feature", spectra=("ck1",),
                 k_top=4)
    ck = r.spectra["ck1"]
    spectrum = Spectrum(np.sqrt(np.clip(ck.values, 0, None)), kind="singular",
                        source="F / sqrt(n)", params={**ck.params, "seed": seed})
    return r, spectrum


# %%
# The spectrum at ``alpha = 0.46``
# --------------------------------
# Asymptotically twelve spikes; at this ``N`` the theory predicts the mean spike, the
# degree-1 spike and (just above the edge) the degree-2 spike. Right: the same data, zoomed
# on the bulk edge.

# %%
alpha = 0.46
result, spectrum = run(alpha)
pred = visible_spikes(activation, target, n=n, d=d, N=N, eta0=1.0, alpha=alpha)
print(pred.explain())
fig, axes = plt.subplots(1, 2, figsize=(13, 4.6), layout="constrained")
overlay(spectrum, bulk, ax=axes[0], outliers=pred.positions)
overlay(spectrum, bulk, ax=axes[1], outliers=pred.positions, legend=False)
axes[1].set_xlim(0, 1.25 * max(pred.positions[-1], pred.edge) + 1.0)
axes[1].set_title("zoom on the bulk and the weaker spikes", fontsize="medium")
print("measured top singular values:", np.round(spectrum.top(4), 3))

# %%
# Which polynomial each spike learned
# -----------------------------------
# Squared overlaps of the top eigenvectors of ``F F^T`` with the normalized Hermite features
# ``He_k(X beta)``, k = 1, 2, 3 (rows: spikes in decreasing order; the first is the mean).

# %%
print("measured:\n", np.round(result.alignments["ck1"][:3, 0, :], 3))
for sp in pred.spikes:
    if sp.visible:
        print(f"predicted degree-{sp.degree} spike: overlap with He_{sp.teacher_degree}(X beta)"
              f" = {sp.teacher_overlaps[sp.teacher_degree]:.3f}")

# %%
# Number of outliers against ``alpha``
# ------------------------------------
# The asymptotic rule (learned spikes plus the mean spike), the finite-``N`` prediction, and
# the number of singular values beyond the predicted bulk edge by more than a Tracy–Widom
# margin. The predicted edge is that of the updated features: at ``alpha = 0.48``,
# ``N = 1500`` the step widens the bulk from 1.49 to 1.54 (measured top of the bulk 1.53);
# against the conjugate kernel at initialization two or three values of the bulk would be
# miscounted as outliers. At ``alpha = 0.40`` the degree-2 spike is predicted only 2.6 %
# above its BBP strength, i.e. at the edge itself (1.455 against 1.453; its onset width is
# ``N ~ 1.4e3``): an outlier within the Tracy–Widom margin, which the measured count cannot
# separate from the bulk.

# %%
alphas = np.round(np.linspace(0.0, 0.48, 7 if SMALL else 13), 3)  # simulated
fine = np.round(np.linspace(0.0, 0.48, 13 if SMALL else 33), 3)  # theory
seeds = 1 if SMALL else 2
predicted = np.array([visible_spikes(activation, target, n=n, d=d, N=N, eta0=1.0,
                                     alpha=al).n_outliers for al in fine], dtype=float)
at_sim = {al: visible_spikes(activation, target, n=n, d=d, N=N, eta0=1.0, alpha=al)
          for al in alphas}
counts = np.array([[run(al, seed=s)[1].outliers(at_sim[al].edge).size for al in alphas]
                   for s in range(seeds)], dtype=float)
grid = np.linspace(0.0, 0.48, 400)
asymptotic = np.array([spike_count(a) + 1 for a in grid], dtype=float)
ax = theory_vs_simulation(alphas, predicted, counts, theory_x=fine, xlabel=r"$\alpha$",
                          ylabel="number of outliers", drawstyle="steps-mid",
                          label=f"finite N = {N}",
                          params={"n": n, "d": d, "N": N, "activation": activation,
                                  "target": target, "eta0": 1.0})
ax.plot(grid, np.minimum(asymptotic, 8), color="gray", linestyle="--", drawstyle="steps-post",
        label="asymptotic rule + mean spike (capped at 8)")
ax.legend(fontsize="small", frameon=False)
ax.figure.set_size_inches(8, 4.6)
print("alpha:    ", alphas)
print("predicted:", [at_sim[al].n_outliers for al in alphas])
print("measured: ", counts.astype(int))
