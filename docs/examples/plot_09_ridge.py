"""
Ridge regression on the learned features
========================================

Ba et al. (2022): after one gradient step, ridge regression of the second layer on the
updated features ``sigma(X W1)`` beats the same regression on the random features
``sigma(X W0)`` once the step is large enough for ``W1`` to carry its spike, but (with a
step of order one) not the best linear model of the teacher, whose test error is
``E[y^2] - c_1^2``. This page is empirical: :func:`spikewise.spectra.experiment.one_step`
fits the whole ridge path from one eigendecomposition (``lambda`` in our convention:
``b = (F^T F / n + lambda I)^(-1) F^T y / n``) and reports the test error on fresh data.
"""

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

from spikewise.activations import get_activation
from spikewise.solvers.one_step_theory import critical_learning_rate
from spikewise.spectra.experiment import one_step
from spikewise.spectra.features import ck_features
from spikewise.spectra.ridge import ridge_path
from spikewise.spectra.sampling import sample_inputs

# sizes: "small" (tests), "full" (the documentation), "paper" (spikewise reproduce 09)
SIZE = os.environ.get("SPIKEWISE_SIZE", "full")
d, seeds = {"small": (200, 2), "paper": (1000, 6)}.get(SIZE, (600, 3))
n, N = 4 * d, 3 * d // 2
activation, target, noise = "tanh", "tanh", 0.1
lambdas = np.logspace(-4, 0, 9)
etas = np.array([0.5, 1.0, 2.0, 4.0, 8.0, 16.0])

best = np.empty((seeds, etas.size))
random_features = np.empty(seeds)
for s in range(seeds):
    for j, eta in enumerate(etas):
        r = one_step(n=n, d=d, N=N, activation=activation, teacher=target, noise=noise,
                     eta0=eta, rng=s, spectra=(), n_test=n, lambdas=lambdas)
        best[s, j] = r.ridge.test_error.min()  # best lambda on the path
    # the same ridge path on the random features sigma(X W0) of the last run
    X_test = sample_inputs(n, d, rng=1000 + s)
    path = ridge_path(ck_features(r.X, r.W0, activation=activation), r.y, lambdas=lambdas,
                      F_test=ck_features(X_test, r.W0, activation=activation),
                      y_test=r.teacher.labels(X_test, rng=2000 + s))
    random_features[s] = path.test_error.min()

teacher = get_activation(target)
c1 = teacher.mu1
y2 = teacher.second_moment + noise**2
linear = y2 - c1**2  # test error of the best linear predictor
eta_c = critical_learning_rate(activation, target, psi=n / d, phi=N / d, noise=noise, n=n)

fig, ax = plt.subplots(figsize=(8, 5.8), layout="constrained")
ax.errorbar(etas, best.mean(axis=0), yerr=best.std(axis=0), marker="o", capsize=3,
            label=rf"ridge on $\sigma(X W_1)$, best $\lambda$ (mean ± sd, {seeds} seeds)")
ax.axhline(random_features.mean(), color="gray", linestyle="--",
           label=r"random features $\sigma(X W_0)$, best $\lambda$")
ax.axhline(linear, color="black", linestyle=":",
           label=r"best linear model $\mathbb{E}[y^2] - c_1^2$")
ax.axhline(noise**2, color="black", linestyle="-", linewidth=0.8, label="noise floor")
ax.axvline(eta_c, color="C0", linestyle=":", label=rf"BBP threshold $\eta_c$ = {eta_c:.2f}")
ax.set_xlabel(r"$\eta$")
ax.set_ylabel("test error")
ax.set_title(f"n={n}, d={d}, N={N}, activation={activation}, target={target}, "
             f"noise={noise}", fontsize="medium")
# the legend goes below the axes, where it hides no point
ax.legend(fontsize="small", frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.14),
          ncols=2)
print("test error (best lambda) per eta:", dict(zip(etas.tolist(),
                                                    np.round(best.mean(axis=0), 4).tolist(),
                                                    strict=True)))
print(f"random features: {random_features.mean():.4f}, best linear model: {linear:.4f}")
