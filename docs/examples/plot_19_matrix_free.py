"""
The conjugate kernel past the dense floor: matrix-free densities
================================================================

A dense eigensolver costs ``O(N^3)``: about 30 s at ``N = 6000`` and out of reach past
``N ~ 20 000`` on one core. A histogram and a few outliers need far less.
:func:`spikewise.spectra.ck_density` (or ``ck_spectrum(F, method="matrix_free")``) never
forms the Gram ``F^T F / n``: block Lanczos on products ``F^T (F X)`` finds the top
eigenpairs (here the ReLU's mean outlier), and stochastic Lanczos quadrature (SLQ) on
independent random probes, deflated of those pairs, estimates the bulk's distribution. The
spread of the probes gives error bars. The result is a
:class:`~spikewise.spectra.DensitySpectrum`, which :func:`spikewise.plot.overlay` draws
like any spectrum.

Here ``F = relu(X W0)`` with ``n = N = 12 000`` and ``d = 4000`` in float32 (tiny at
``SPIKEWISE_SIZE=small``), against the conjugate-kernel law of Pennington & Worah (2017)
and the mean outlier ``law.mean_outlier(d=d)``.
"""

# %%
import os
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np

from spikewise.plot import overlay
from spikewise.solvers.conjugate_kernel import MeanOutlierWarning, conjugate_kernel_law
from spikewise.spectra import ck_density, ck_features, init_first_layer, sample_inputs

SMALL = os.environ.get("SPIKEWISE_SIZE", "full") == "small"
d, n, N = (200, 600, 600) if SMALL else (4000, 12000, 12000)
psi, phi = n / d, N / d

X = sample_inputs(n, d, rng=0, dtype="float32")
F = ck_features(X, init_first_layer(d, N, rng=1, dtype="float32"), activation="relu",
                dtype="float32")
del X
params = {"n": n, "d": d, "N": N, "psi": psi, "phi": phi, "activation": "relu",
          "seed": "0/1"}
t = time.perf_counter()
spectrum = ck_density(F, k=1, n_probes=20, n_steps=60, rng=2, params=params,
                      source="F^T F / n (SLQ)")
elapsed = time.perf_counter() - t
with warnings.catch_warnings():
    warnings.simplefilter("ignore", MeanOutlierWarning)  # the mean outlier is drawn below
    law = conjugate_kernel_law("relu", psi=psi, phi=phi)
predicted = law.mean_outlier(d=d)
print(f"matrix-free: {elapsed:.1f} s for N = {N}; L1 (40 bins) to the law "
      f"{spectrum.l1(law, bins=40):.4f}; outlier {spectrum.top_values[0]:.5g} "
      f"(predicted {predicted:.5g})")

# %%
# Left: the bulk histogram (the outlier, far to the right, is marked in the legend) with the
# 95% band of the probes (Student t over 20 probes). Right: the estimated distribution
# function with its band, against the law's.
fig, axes = plt.subplots(1, 2, figsize=(13, 4.8), layout="constrained")
hi = law.support[-1][1]
edges = np.linspace(0.0, 1.02 * hi, 41)
overlay(spectrum, law, ax=axes[0], bins=edges, outliers=[predicted])
lower, upper, _ = spectrum.confidence_band(40, range=(edges[0], edges[-1]))
axes[0].fill_between(edges[:-1], lower, upper, step="post", color="black", alpha=0.25,
                     linewidth=0, label="95% band (probes)")
axes[0].legend(fontsize="small", frameon=False)
axes[0].set_xlim(edges[0], edges[-1])

x = np.linspace(0.0, 1.02 * hi, 400)
cdf, se = spectrum.cdf(x), spectrum.cdf_se(x)
axes[1].plot(x, law.cdf(x), color="black", linewidth=1.6, label="theory (CK law)")
axes[1].plot(x, cdf, color="C0", label="SLQ estimate")
axes[1].fill_between(x, cdf - 2.09 * se, cdf + 2.09 * se, color="C0", alpha=0.3, linewidth=0,
                     label="95% band (t with 19 dof)")
axes[1].set_xlabel("eigenvalue")
axes[1].set_ylabel("distribution function")
axes[1].set_title(f"outlier {spectrum.top_values[0]:.4g}, predicted {predicted:.4g}",
                  fontsize="medium")
axes[1].legend(fontsize="small", frameon=False)
