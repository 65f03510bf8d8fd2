"""
The conjugate-kernel outlier after one step, on fresh and on training inputs
============================================================================

After one step :math:`W_1` carries a spike and the conjugate kernel :math:`K = FF^\\top/N`,
:math:`F = \\sigma(XW_1)`, has a learned outlier. On *fresh* inputs it follows from the spike
of :math:`W_1` (Ba et al. 2022). On the *training* inputs the step is correlated with the
features: on sample :math:`i` neuron :math:`j` moved by
:math:`\\eta a_j r_i\\sigma'(h_{ij})\\|x_i\\|^2/n`, and the feature responds to that move.
This self-interaction aligns the spike with the labels and makes the training outlier much
larger.

Left: :math:`\\eta = \\eta_0` (Ba et al.'s scale, strength :math:`t \\ll 1`, the first-order
spiked-column equation). Right: the maximal rate :math:`\\eta = \\eta_0\\sqrt N` (a giant
step, :math:`t = O(1)`): the self-interaction shift :math:`\\eta_0\\tilde a_jr_i/\\psi` is of
order one and the features are non-linear in the sample's latent; from :math:`t \\ge 0.3`
:func:`~spikewise.solvers.ck_outliers` uses the conditional (mixture) description
(``params["method"]``, crosses on the curves). Curves: the finite-size prediction; points:
simulations (mean ± sd over seeds) of :func:`spikewise.spectra.experiment.one_step`.
"""

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

from spikewise.solvers import ck_outliers
from spikewise.spectra.experiment import one_step

SMALL = os.environ.get("SPIKEWISE_SIZE", "full") == "small"
d = 150 if SMALL else 800
n, N = 2 * d, int(1.5 * d)
seeds = 2 if SMALL else 4
panels = [
    (0.0, np.linspace(0.5, 9.0, 12 if SMALL else 40), np.array([2.0, 4.0, 6.0, 8.0])),
    (0.5, np.linspace(0.25, 3.0, 4 if SMALL else 12), np.array([0.5, 1.5, 3.0])),
]

fig, axes = plt.subplots(1, 2, figsize=(11, 4.8), layout="constrained")
for ax, (alpha, grid, points) in zip(axes, panels, strict=True):
    for inputs, color in (("fresh", "C0"), ("train", "C3")):
        preds = [ck_outliers("tanh", "tanh", psi=2.0, phi=1.5, eta0=e, alpha=alpha, n=n,
                             inputs=inputs) for e in grid]
        theory = np.array([p.finite.position for p in preds])
        mixture = np.array([p.params["method"] == "mixture" for p in preds])
        ax.plot(grid, theory, color=color, label=f"theory, {inputs} inputs (finite size)")
        if mixture.any():
            ax.plot(grid[mixture], theory[mixture], "x", color=color, ms=4,
                    label="x: the mixture treatment (t >= 0.3)" if inputs == "fresh" else None)
        sims = np.empty((seeds, points.size))
        for s in range(seeds):
            for j, eta0 in enumerate(points):
                run = one_step(n=n, d=d, N=N, activation="tanh", teacher="tanh", eta0=eta0,
                               alpha=alpha, spectra=("ck1",), ck_inputs=inputs,
                               orientation="sample", k_top=0, rng=s)
                sims[s, j] = run.spectra["ck1"].values.max()
        ax.errorbar(points, sims.mean(axis=0), yerr=sims.std(axis=0), fmt="o", color=color,
                    capsize=3, label=f"simulation, {inputs} inputs ({seeds} seeds)")
    edge = ck_outliers("tanh", "tanh", psi=2.0, phi=1.5, eta0=0.0, n=n).finite.bulk_edge
    ax.axhline(edge, color="gray", linestyle=":", label="bulk edge at initialization")
    ax.set_xlabel(f"eta0 (eta = eta0 N^{alpha:g})")
    ax.set_ylabel("top eigenvalue of F F^T / N")
    if alpha > 0:
        ax.set_yscale("log")
    ax.set_title(f"tanh, n = {n}, d = {d}, N = {N}, alpha = {alpha:g}", fontsize=10)
    ax.legend(fontsize=8)
plt.show()
