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
(mean over seeds), where they separate from the degree-1 bulk.

The second figure resolves the radial mode :math:`u_r = (\\|x\\|^2 - d)/\\sqrt{2d}` at
finite :math:`d` (:func:`~spikewise.solvers.kernel_sector`: the kernel on the functions of
:math:`\\kappa` and :math:`\\|x_\\perp\\|^2`, with its :math:`d^{-1/2}` couplings). For the
ReLU above the radial mode rides on the constant eigenfunction (weight about
:math:`2\\mu_2^2/(d\\mu_0^2)`) and never meets the quadratic. For an activation with
:math:`\\mu_0 = 0` the constant and :math:`u_r` form a pair of eigenvalues near
:math:`2\\mu_2^2/d`, and the target-aligned quadratic :math:`h_q = \\mathrm{He}_2(\\kappa)/\\sqrt2`,
whose eigenvalue grows like :math:`t^4`, crosses it at :math:`t^4 \\sim 1/d`: an avoided
crossing. Left: :math:`d` times the even eigenvalues of the sector against
:math:`\\eta_0`; points: the kernel matrix on :math:`n` inputs projected on the predicted
eigenfunctions (off-diagonal U-statistic, unbiased). Right: the mixing angle of the mode with
the largest weight on :math:`h_q` (0: a pure quadratic, :math:`\\pi/2`: radial) and that
mode's squared overlaps with :math:`u_r` and with the teacher's
:math:`\\mathrm{He}_2(\\beta^\\top x)/\\sqrt2`; points: the eigenvector of the kernel matrix
most aligned with :math:`h_q(x_i)`, projected on the same functions at the inputs, where
that mode is an outlier of the kernel matrix (its eigenvalue above the mean eigenvalue
:math:`\\mathbb E K(x, x)/n`, where the bulk sits). Near the bulk an outlier eigenvector
loses part of its weight to it (a BBP-type overlap below one), which lowers its squared
overlaps; the mixing angle, a ratio of two of them, is not affected. The
student :math:`0.25\\,\\mathrm{He}_1 + \\mathrm{He}_2` has a small :math:`\\mu_1`, so that the
degree-1 bulk lies below the mixed modes and they are outliers of the kernel matrix.
"""

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

from spikewise.activations import hermite_sum
from spikewise.solvers import (
    SpikedRandomFeatures,
    adaptive_kernel,
    kernel_matrix,
    kernel_sector,
)

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

# %%
# The radial mode and the target-aligned quadratic: an avoided crossing as eta grows
student = hermite_sum({1: 0.25, 2: 1.0}, name="0.25 He1 + He2")
eta_mix = np.linspace(0.1, 3.0, 6 if SMALL else 25)
eta_mix_sim = np.array([0.6, 1.2, 2.4]) if SMALL else np.array([0.5, 0.9, 1.2, 1.6, 2.4])
n_mix = 4 * d
sector_opts = {"k": 4, "k_max": 8, "n_types": 24 if SMALL else 48}


def mixing_model(eta0):
    return SpikedRandomFeatures.from_one_step(student, "tanh", psi=n_mix / d, N=N, eta0=eta0,
                                              alpha=0.5, second_layer="gaussian")


def even_modes(ks):
    """Indices of the even modes (no weight on the odd Hermite degrees of kappa)."""
    odd = (ks.coefficients[:, 1::2, :] ** 2).sum(axis=(1, 2))
    return np.flatnonzero(odd < 0.5)[:3]


theory = []
for eta0 in eta_mix:
    ks = kernel_sector(mixing_model(eta0), d=d, **sector_opts)
    q = ks.quadratic_mode
    lam = np.full(3, np.nan)
    ev = even_modes(ks)
    lam[:ev.size] = ks.eigenvalues[ev] * d
    theory.append([*lam, ks.mixing, ks.radial_weight[q], ks.target_weight[q]])
theory = np.array(theory)

points = []
for eta0 in eta_mix_sim:
    model = mixing_model(eta0)
    ks = kernel_sector(model, d=d, **sector_opts)
    ev = even_modes(ks)
    row = []
    for s in range(seeds):
        rng = np.random.default_rng(100 + s)
        X = rng.standard_normal((n_mix, d))
        v = np.eye(d)[0]
        beta = model.overlap * v + np.sqrt(1 - model.overlap**2) * np.eye(d)[1]
        K = kernel_matrix(model, X, direction=v)
        P = ks.eigenfunctions(X, direction=v)[:, ev]
        ustat = (np.einsum("ia,ij,ja->a", P, K, P)
                 - np.einsum("ia,i,ia->a", P, np.diag(K), P)) / (n_mix * (n_mix - 1))
        _, V = np.linalg.eigh(K / n_mix)
        V = V[:, ::-1][:, :8]
        kappa = X @ v
        r2 = np.einsum("ij,ij->i", X, X) - kappa**2
        unit = [f / np.linalg.norm(f) for f in
                (kappa**2 - 1, r2 - (d - 1), kappa**2 + r2 - d, (X @ beta) ** 2 - 1)]
        hq, q1, ur, hb = (u @ V for u in unit)
        top = int(np.argmax(hq**2))  # the empirical mode most aligned with h_q
        angle = np.arctan2(abs(q1[top]), abs(hq[top]))
        row.append([*(ustat * d), angle, ur[top] ** 2, hb[top] ** 2])
    row = np.mean(row, axis=0)
    # the eigenvectors resolve the quadratic mode only when it is an outlier of K / n, above
    # its mean eigenvalue E K(x, x) / n, where the bulk sits
    if ks.eigenvalues[ks.quadratic_mode] < np.mean(np.diag(K)) / n_mix:
        row[3:] = np.nan
    points.append(row)
points = np.array(points)

fig, (ax_e, ax_m) = plt.subplots(1, 2, figsize=(13, 4.6), layout="constrained")
for i in range(3):
    ax_e.plot(eta_mix, theory[:, i], color=f"C{i}", label=f"even mode {i + 1} (theory)")
    ax_e.plot(eta_mix_sim, points[:, i], "o", color=f"C{i}")
ax_e.set_xlabel("eta0 (eta = eta0 sqrt(N))")
ax_e.set_ylabel("d x kernel eigenvalue")
ax_e.set_yscale("log")
ax_e.legend(fontsize=7, title="points: kernel matrix on the eigenfunctions", title_fontsize=7)
for j, (label, color) in enumerate((("mixing angle (rad)", "k"),
                                    ("weight on u_r", "C3"),
                                    ("weight on He_2(beta.x)/sqrt2", "C2"))):
    ax_m.plot(eta_mix, theory[:, 3 + j], color=color, label=label)
    ax_m.plot(eta_mix_sim, points[:, 3 + j], "o", color=color)
ax_m.axhline(np.pi / 4, color="k", linestyle=":", linewidth=0.8, label="pi/4")
ax_m.set_xlabel("eta0 (eta = eta0 sqrt(N))")
ax_m.set_ylabel("mode most aligned with He_2(kappa)")
ax_m.legend(fontsize=7, title="points: eigenvectors of the kernel matrix", title_fontsize=7)
fig.suptitle(f"Radial mode and target quadratic, student 0.25 He1 + He2, teacher tanh, "
             f"d = {d}, n = {n_mix}", fontsize=10)
plt.show()
