"""
How the tail of the feature spectrum moves with the step
========================================================

Two tail measures of the feature covariance :math:`F^\\top F/n` after one step of size
:math:`\\eta = \\eta_0 N^{1/2}`, from the deterministic equivalent
:func:`~spikewise.solvers.feature_spectrum` of the spiked random-feature model:

* the upper edge of the bulk, and
* the share of the trace carried by the top :math:`k` eigenvalues
  (:meth:`~spikewise.solvers.FeatureSpectrum.top_mass`), here :math:`k = 1` and
  :math:`k = N/20`.

For the three second layers of :func:`spikewise.spectra.sampling.init_second_layer`. The
points are one simulation of :func:`spikewise.spectra.experiment.one_step` (fresh inputs)
per value. The top eigenvalue takes over the trace as the step grows (a learned direction
dominating the features) while the bulk edge recedes: tanh saturates along the spike.
"""

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

from spikewise.solvers import SpikedRandomFeatures, feature_spectrum
from spikewise.spectra.experiment import one_step

SMALL = os.environ.get("SPIKEWISE_SIZE", "full") == "small"
d = 80 if SMALL else 400
n, N = 3 * d, int(1.5 * d)
k_tail = max(N // 20, 2)
theory_eta = np.linspace(0.0, 3.0, 4 if SMALL else 13)
sim_eta = np.array([0.5, 1.5, 3.0]) if SMALL else np.array([0.5, 1.0, 2.0, 3.0])

fig, (ax_e, ax_m) = plt.subplots(1, 2, figsize=(13, 4.5), layout="constrained")
for layer, color in zip(("gaussian", "rademacher", "constant"), ("C0", "C1", "C2"),
                        strict=True):
    edge, top1, topk = [], [], []
    for eta0 in theory_eta:
        model = SpikedRandomFeatures.from_one_step("tanh", "tanh", psi=n / d, N=N, eta0=eta0,
                                                   alpha=0.5, second_layer=layer)
        de = feature_spectrum(model, psi=n / d, phi=N / d, N=N, grid=80 if SMALL else 150,
                              kappa_nodes=20, n_types=12)
        edge.append(de.bulk_edge)
        top1.append(de.top_mass(1))
        topk.append(de.top_mass(k_tail))
    ax_e.plot(theory_eta, edge, color=color, label=f"theory, {layer}")
    ax_m.plot(theory_eta, top1, color=color, label=f"top 1, {layer}")
    ax_m.plot(theory_eta, topk, color=color, linestyle="--", label=f"top {k_tail}, {layer}")
    for eta0 in sim_eta:
        run = one_step(n=n, d=d, N=N, activation="tanh", teacher="tanh", eta0=eta0, alpha=0.5,
                       second_layer=layer, spectra=("ck1",), ck_inputs="fresh",
                       orientation="feature", k_top=0, rng=1)
        ev = np.sort(run.spectra["ck1"].values)[::-1]
        n_out = int(np.sum(ev > 1.2 * edge[0])) if eta0 > 0 else 0
        ax_e.plot(eta0, ev[n_out], "o", color=color)
        ax_m.plot(eta0, ev[0] / ev.sum(), "o", color=color)
        ax_m.plot(eta0, ev[:k_tail].sum() / ev.sum(), "s", color=color, markerfacecolor="none")
ax_e.set_xlabel("eta0 (eta = eta0 sqrt(N))")
ax_e.set_ylabel("upper edge of the bulk (points: largest non-outlier eigenvalue)")
ax_m.set_xlabel("eta0 (eta = eta0 sqrt(N))")
ax_m.set_ylabel("share of the trace in the top k eigenvalues")
ax_e.legend(fontsize=8)
ax_m.legend(fontsize=7, ncol=2)
fig.suptitle(f"tanh student and teacher, n = {n}, d = {d}, N = {N}", fontsize=10)
plt.show()
