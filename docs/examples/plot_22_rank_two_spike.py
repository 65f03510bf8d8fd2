"""
Two learned directions: ridge on the rank-two spiked random-feature model
=========================================================================

After several steps, or with a student that learns more than one direction, the first layer
carries a spike of rank :math:`r`:
:math:`w_j = \\sqrt{1 + \\nu\\tilde a_j^2}\\,w_{0,j} + \\sum_k t_k z_{jk}v_k`, with
orthonormal learned directions :math:`v_k`, strengths :math:`t_k`, loadings
:math:`z_{j1} = \\tilde a_j = \\sqrt N a_j` and independent loadings of the same law for
:math:`k \\ge 2` (:class:`~spikewise.solvers.SpikedRandomFeatures` with
``strength=[t_1, t_2]``). The teacher direction overlaps both,
:math:`\\beta = \\gamma_1v_1 + \\gamma_2v_2 + \\sqrt{1 - \\gamma_1^2 - \\gamma_2^2}\\,
\\beta_\\perp`.

Here :math:`t_1` is fixed and the second direction is learned more and more
(:math:`t_2` grows). The curves are the deterministic equivalent of ridge
(:func:`~spikewise.solvers.ridge_risk`) fed with the model's exact population moments
(conditional Mehler series on a two-dimensional Gauss--Hermite rule in
:math:`\\kappa = V^\\top x`), on one draw of the weights per :math:`t_2` (common random
numbers); the points are ridge fitted on ``n`` samples of the same model (mean ± sd over
seeds), its test error evaluated exactly with the population moments. Ridge in our
convention, :math:`\\hat b = (F^\\top F/n + \\lambda I)^{-1}F^\\top y/n`. At :math:`t_2 = 0`
the model is the rank-one model of the first direction alone; learning the second direction
lowers the error because it carries the part :math:`\\gamma_2` of the teacher that the
first one misses. Gaussian equivalence with the exact moments is accurate while the
strengths stay moderate; at giant steps see the conditional theory of the previous pages.
"""

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

from spikewise.solvers import SpikedRandomFeatures, ridge_risk

SIZE = os.environ.get("SPIKEWISE_SIZE", "full")
d, seeds = {"small": (60, 2), "paper": (600, 8)}.get(SIZE, (300, 4))
N, n = int(0.8 * d), 2 * d
t1, overlaps, noise = 0.8, [0.6, 0.6], 0.1
lambdas = np.array([1e-2, 1e-1])
t2_grid = np.linspace(0.0, 1.0, 4 if SIZE == "small" else 6)


def model_at(t2):
    return SpikedRandomFeatures("tanh", teacher="tanh", strength=[t1, t2], overlap=overlaps,
                                second_layer="rademacher", noise=noise)


theory = np.empty((seeds, t2_grid.size, lambdas.size))
simulation = np.empty_like(theory)
for s in range(seeds):
    for i, t2 in enumerate(t2_grid):
        model = model_at(t2)
        w = model.weights(d, N, rng=s)  # the same W0, loadings and directions for every t2
        S, b = model.population_covariance(w), model.teacher_cross_moment(w)
        ef2 = model.label_second_moment() - noise**2
        theory[s, i] = ridge_risk(S, b, n=n, lambdas=lambdas, target_second_moment=ef2,
                                  noise=noise).test_error
        _, F, y = model.sample(n, w, rng=1000 + s)
        for j, lam in enumerate(lambdas):
            coef = np.linalg.solve(F.T @ F / n + lam * np.eye(N), F.T @ y / n)
            simulation[s, i, j] = ef2 + noise**2 - 2 * b @ coef + coef @ S @ coef

fig, ax = plt.subplots(figsize=(8, 4.8), layout="constrained")
for j, lam in enumerate(lambdas):
    ax.plot(t2_grid, theory[:, :, j].mean(axis=0), color=f"C{j}",
            label=f"theory (exact moments), lambda = {lam:g}")
    ax.errorbar(t2_grid, simulation[:, :, j].mean(axis=0),
                yerr=simulation[:, :, j].std(axis=0), fmt="o", color=f"C{j}", capsize=3,
                label=f"ridge on model samples, lambda = {lam:g} ({seeds} seeds)")
ax.set_xlabel("strength t_2 of the second learned direction")
ax.set_ylabel("test error")
ax.set_title(f"tanh, Rademacher loadings, t_1 = {t1}, gamma = {overlaps}, d = {d}, N = {N}, "
             f"n = {n}", fontsize=10)
ax.legend(fontsize=8)
plt.show()

gap = (simulation.mean(axis=0) - theory.mean(axis=0)) / theory.mean(axis=0)
print("relative gap (simulation - theory) / theory, rows t_2, columns lambda:")
print(np.round(gap, 4))
