"""
The data-adaptive kernel after a giant step
===========================================

The learned features define the kernel :math:`K_1(x, x') = \\mathbb E_w[\\sigma(w^\\top x)
\\sigma(w^\\top x')]` over the neurons of the spiked random-feature model
(:func:`~spikewise.solvers.adaptive_kernel`). At initialization it is an inner-product
kernel: its only eigenvalue of order one is :math:`\\mu_0^2` (the constant), and the linear
functions have :math:`\\mu_1^2/d` each. A giant step (:math:`\\eta = \\eta_0\\sqrt N`) makes it
*data-adaptive*: functions of the learned coordinate :math:`\\kappa = v^\\top x` acquire
eigenvalues of order one (left), and their eigenfunctions align with the target
(:math:`\\beta^\\top v = \\gamma`; right: squared overlap of the top non-constant
eigenfunction with the non-constant functions of :math:`\\beta^\\top x`, and its weight on
:math:`\\mathrm{He}_1(\\kappa)`). The degree-1 eigenvalues (linear functions orthogonal
to :math:`v`, times :math:`d`) *decrease*: the step takes kernel mass from the isotropic
directions. Points: top eigenvalues of the kernel matrix
:func:`~spikewise.solvers.kernel_matrix` on :math:`n` Gaussian inputs, divided by :math:`n`
(mean over seeds), where they separate from the degree-1 bulk. The mixing of the radial
mode :math:`\\|x\\|^2` with :math:`(\\beta^\\top x)^2 - 1`, of order :math:`d^{-1/2}`, is
not resolved here.
"""

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

from spikewise.solvers import SpikedRandomFeatures, adaptive_kernel, kernel_matrix

SMALL = os.environ.get("SPIKEWISE_SIZE", "full") == "small"
d = 100 if SMALL else 500
n = 3 * d
N = int(1.5 * d)
seeds = 1 if SMALL else 3
eta_grid = np.linspace(0.25, 3.0, 7 if SMALL else 23)
eta_sim = np.array([1.0, 3.0]) if SMALL else np.array([0.5, 1.0, 2.0, 3.0])

fig, (ax_l, ax_r) = plt.subplots(1, 2, figsize=(13, 4.6), layout="constrained")
for act, color in (("tanh", "C0"), ("relu", "C3")):
    lam0, lam1, align, he1 = [], [], [], []
    for eta0 in eta_grid:
        model = SpikedRandomFeatures.from_one_step(act, "tanh", psi=n / d, N=N, eta0=eta0,
                                                   alpha=0.5, second_layer="gaussian")
        ak = adaptive_kernel(model, d=d, k=3)
        lam0.append(ak.degree0[:2])
        lam1.append(ak.degree1[0] * d)
        # the top eigenfunction that is not mostly the constant (relu's mean, mu_0^2)
        top = int(np.argmax(ak.hermite[:, 0] < 0.5))
        align.append(ak.target_alignment[top])
        he1.append(ak.hermite[top, 1])
    lam0 = np.array(lam0)
    ax_l.plot(eta_grid, lam0[:, 0], color=color, label=f"{act}: top degree-0 eigenvalue")
    ax_l.plot(eta_grid, lam0[:, 1], color=color, linestyle="--",
              label=f"{act}: second degree-0 eigenvalue")
    ax_l.plot(eta_grid, lam1, color=color, linestyle=":", label=f"{act}: top degree-1 x d")
    ax_r.plot(eta_grid, align, color=color, label=f"{act}: overlap with functions of beta.x")
    ax_r.plot(eta_grid, he1, color=color, linestyle="--", label=f"{act}: weight on He_1(kappa)")
    for eta0 in eta_sim:
        model = SpikedRandomFeatures.from_one_step(act, "tanh", psi=n / d, N=N, eta0=eta0,
                                                   alpha=0.5, second_layer="gaussian")
        tops = []
        for s in range(seeds):
            rng = np.random.default_rng(s)
            X = rng.standard_normal((n, d))
            K = kernel_matrix(model, X, direction=np.eye(d)[0])
            tops.append(np.linalg.eigvalsh(K / n)[::-1][:2])
        tops = np.mean(tops, axis=0)
        # only the eigenvalues separated from the degree-1 bulk (about (1 + sqrt(n/d))^2
        # times the degree-1 eigenvalue) are resolved by the kernel matrix
        ak = adaptive_kernel(model, d=d, k=2)
        sep = ak.degree0[:2] > 3.0 * ak.degree1[0] * (1.0 + np.sqrt(n / d)) ** 2
        ax_l.plot(np.full(int(sep.sum()), eta0), tops[sep], "o", color=color)
ax_l.set_xlabel("eta0 (eta = eta0 sqrt(N))")
ax_l.set_ylabel("kernel eigenvalue")
ax_l.set_yscale("symlog", linthresh=1e-3)
ax_l.legend(fontsize=7)
ax_r.set_xlabel("eta0 (eta = eta0 sqrt(N))")
ax_r.set_ylabel("top non-constant eigenfunction")
ax_r.legend(fontsize=7)
fig.suptitle(f"Data-adaptive kernel, teacher tanh, Gaussian second layer, d = {d}, n = {n}",
             fontsize=10)
plt.show()
