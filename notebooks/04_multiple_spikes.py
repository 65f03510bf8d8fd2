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
# # Multiple spikes with `eta = eta0 N^alpha`
#
# Moniri, Lee, Hassani & Dobriban (2023): after one step with a learning rate growing like
# `N^alpha`, the features `sigma(X W1)` carry one spike per polynomial degree `k` with
# `alpha > (k-1)/(2k)`: `ell` spikes for `alpha in ((ell-1)/(2 ell), ell/(2 ell + 2))`.
# At the sizes one simulates, fewer are visible; `visible_spikes` predicts what *this* `N`
# shows, and why.
#
# `SPIKEWISE_SIZE=small` runs at small sizes.

# %%
import os
import warnings

import matplotlib.pyplot as plt
import numpy as np

from spikewise.plot import overlay
from spikewise.solvers.conjugate_kernel import MeanOutlierWarning, conjugate_kernel_law
from spikewise.solvers.multi_spike import spike_count, spike_interval, visible_spikes
from spikewise.spectra.experiment import one_step
from spikewise.spectra.spectrum import Spectrum

SMALL = os.environ.get("SPIKEWISE_SIZE", "full") == "small"
d = 200 if SMALL else 1000
n, N = 2 * d, int(1.5 * d)
activation, target = "relu", "he1"
for ell in range(1, 5):
    print(f"{ell} spike(s) for alpha in {spike_interval(ell)}")

# %%
with warnings.catch_warnings():
    warnings.simplefilter("ignore", MeanOutlierWarning)
    bulk = conjugate_kernel_law(activation, psi=n / d, phi=N / d).sqrt()

alphas = [0.2, 0.36, 0.46]
fig, axes = plt.subplots(1, len(alphas), figsize=(6 * len(alphas), 4))
for ax, alpha in zip(axes, alphas, strict=True):
    pred = visible_spikes(activation, target, n=n, d=d, N=N, eta0=1.0, alpha=alpha)
    r = one_step(n=n, d=d, N=N, activation=activation, teacher=target, eta0=1.0, alpha=alpha,
                 rng=0, ck_inputs="fresh", orientation="feature", spectra=("ck1",), k_top=4)
    spectrum = Spectrum(np.sqrt(np.clip(r.spectra["ck1"].values, 0, None)), kind="singular",
                        source="F / sqrt(n)", params=r.spectra["ck1"].params)
    overlay(spectrum, bulk, ax=ax, outliers=pred.positions, legend=False)
    ax.set_xlim(0, 1.3 * pred.positions[min(1, pred.positions.size - 1)] + 1)
    print(f"--- alpha = {alpha}: rule {spike_count(alpha)} learned spike(s)")
    print(pred.explain())
    print("measured top singular values:", np.round(spectrum.top(4), 3))
    print("measured overlaps of the top CK eigenvectors with He_1..3(X beta):\n",
          np.round(r.alignments["ck1"][:3, 0, :], 3))
fig.tight_layout()
