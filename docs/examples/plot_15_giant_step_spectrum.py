"""
The feature spectrum after a giant step
=======================================

One gradient step at the maximal learning rate :math:`\\eta = \\eta_0 N^{1/2}` (Dandi et al.
2023; Cui et al. 2024) moves every neuron's pre-activation by :math:`O(1)` along the learned
direction. Dandi, Pesce, Zdeborová & Krzakala (2024) show that the features are then those
of a spiked random-feature model, :class:`~spikewise.solvers.SpikedRandomFeatures`
(built here from the one-step theory with
:meth:`~spikewise.solvers.SpikedRandomFeatures.from_one_step`). Given the spike coordinate
:math:`\\kappa = v^\\top x` a feature is Gaussian-equivalent, but its coefficients depend on
:math:`\\kappa`: the rows of :math:`F` are a *mixture*, and
:func:`~spikewise.solvers.feature_spectrum` solves the deterministic equivalent of that mixture.

Each panel: the eigenvalues of :math:`F^\\top F/n` on fresh inputs after one simulated step
(:func:`spikewise.spectra.experiment.one_step`, histogram), the deterministic equivalent
(line), and the predicted outlier (dashed; it is of order :math:`N`, shown in the legend).
The bulk *narrows* as :math:`\\eta_0` grows (tanh saturates along the spike) while the
outlier grows like :math:`N\\,\\mathbb E_\\kappa[m(\\kappa)^2]`.
"""

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

from spikewise.solvers import SpikedRandomFeatures, feature_spectrum
from spikewise.spectra.experiment import one_step

SMALL = os.environ.get("SPIKEWISE_SIZE", "full") == "small"
d = 100 if SMALL else 500
n, N = 3 * d, int(1.5 * d)
eta0s = (0.0, 1.0, 2.0)

fig, axes = plt.subplots(1, len(eta0s), figsize=(14, 4.2), layout="constrained")
for ax, eta0 in zip(axes, eta0s, strict=True):
    run = one_step(n=n, d=d, N=N, activation="tanh", teacher="tanh", eta0=eta0, alpha=0.5,
                   second_layer="rademacher", spectra=("ck1",), ck_inputs="fresh",
                   orientation="feature", k_top=1, degrees=(1,), rng=0)
    ev = run.spectra["ck1"].values
    model = SpikedRandomFeatures.from_one_step("tanh", "tanh", psi=n / d, N=N, eta0=eta0,
                                               alpha=0.5, second_layer="rademacher")
    de = feature_spectrum(model, psi=n / d, phi=N / d, N=N, grid=120 if SMALL else 250,
                          kappa_nodes=24)
    bulk = ev[ev <= 1.1 * de.bulk_edge]
    ax.hist(bulk, bins=40, density=True, alpha=0.45, color="C0",
            label=f"simulation (N = {N}), KS = {de.ks(ev):.3f}")
    ax.plot(de.x, de.density, color="C3", label="deterministic equivalent")
    out = f"{de.outliers[0]:.1f}" if de.outliers.size else "none"
    top = f"{ev.max():.1f}" if de.outliers.size else "-"
    ax.set_title(f"eta0 = {eta0:g} (eta = eta0 sqrt(N)), strength t = {model.strength:.2f}\n"
                 f"outlier: predicted {out}, measured {top}", fontsize=9)
    ax.set_xlabel("eigenvalue of F^T F / n")
    ax.set_ylim(0, 3.0 * float(np.median(de.density[de.density > 0])) + 1.0)
    ax.set_xlim(0, 1.3 * de.bulk_edge)
    ax.legend(fontsize=7)
axes[0].set_ylabel("density")
fig.suptitle("Features after one giant step: tanh, teacher tanh, Rademacher second layer, "
             f"n = {n}, d = {d}", fontsize=10)
plt.show()
