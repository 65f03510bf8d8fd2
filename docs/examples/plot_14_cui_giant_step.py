"""
The giant step: exact-moment against plain Gaussian equivalence
================================================================

The protocol of Cui, Pesce, Dandi, Krzakala, Lu, Zdeborová & Loureiro (2024): ``tanh``
student, teacher ``tanh`` of one direction (their code; see the ``cui2024`` preset), no
noise, constant second layer, unit-norm neurons, ONE step of size ``eta_tilde = 3`` in their
convention on ``n0 = 20 d`` samples, then ridge (their ``lambda = 0.1``) on ``alpha d`` FRESH
samples; the preset converts to ours (``eta = eta_tilde sqrt(N)``, i.e. ``eta0 = 3``,
``alpha = 1/2``, and ``lambda_ours = 0.1 N / n``).

After such a step every neuron moves by O(1) along the learned direction ``v``: the
features are Gaussian-equivalent only GIVEN ``kappa = v^T x`` and non-linear in it. Three
curves: the deterministic equivalent on the shared spiked random-feature model with its
exact moments (the conditional Mehler series, :func:`spikewise.solvers.spiked_rf_risk`), the
same model under plain Gaussian equivalence (features linearized, ``expansion="linear"``),
and the simulation; the random-features error at initialization is the baseline.

What is and is not reproduced: their figure is not reproduced number by number (their
theory notebook needs quadpy, and we do not implement their conditional risk formula). We
reproduce their qualitative claim: plain Gaussian equivalence overestimates the error about
threefold, while keeping the non-linear dependence on ``kappa`` (here through the exact
second moments) brings the theory close; at d = N = 1000 the exact-moment theory is still
2-6% below the simulation (the features are not Gaussian along ``v``), a gap their exact
conditional theory closes and ours does not.
"""

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

from spikewise.conventions import get_preset
from spikewise.solvers import (
    SpikedRandomFeatures,
    feature_moments,
    random_features_risk,
    ridge_risk,
)
from spikewise.spectra import ck_features, one_step, ridge_path, sample_dataset

SMALL = os.environ.get("SPIKEWISE_SIZE", "full") == "small"
d = 100 if SMALL else 1000
seeds = 2 if SMALL else 3
N = d
alphas = np.array([0.2, 0.5, 1.0, 1.5, 2.0, 3.0])
preset = get_preset("cui2024")
conv = [preset.to_ours(n0=20 * d, n=int(a * d), d=d, p=N, eta_tilde=3.0, lam=0.1)
        for a in alphas]
eta, n0 = conv[0]["eta"], conv[0]["n"]
eta0 = eta / np.sqrt(N)  # eta = eta0 N^(1/2)

model = SpikedRandomFeatures.from_one_step("tanh", "tanh", psi=n0 / d, N=N, eta0=eta0,
                                           alpha=0.5, second_layer="constant")
cond = np.empty((seeds, alphas.size))
plain = np.empty((seeds, alphas.size))
sim = np.empty((seeds, alphas.size))
for s in range(seeds):
    # theory: one draw of the model's first layer; its moments serve every alpha
    w = model.weights(d, N, rng=100 + s)
    S, b = model.population_covariance(w), model.teacher_cross_moment(w)
    lin = feature_moments(w.W, w.beta, activation="tanh", teacher="tanh", expansion="linear")
    Ef2 = model.teacher.second_moment
    # simulation: one step, then ridge on alpha d fresh samples for every alpha
    res = one_step(n=n0, d=d, N=N, activation="tanh", teacher="tanh", eta0=eta0, alpha=0.5,
                   first_layer="unit", second_layer="constant", spectra=(), k_top=0, rng=s)
    X_test, y_test = sample_dataset(4000, res.teacher, rng=1000 + s)
    F_test = ck_features(X_test, res.W1, activation="tanh")
    for j, c in enumerate(conv):
        n, lam = c["n_ridge"], [c["lam"]]
        cond[s, j] = ridge_risk(S, b, n=n, lambdas=lam, target_second_moment=Ef2).test_error[0]
        plain[s, j] = ridge_risk(lin.covariance, lin.cross_moment, n=n, lambdas=lam,
                                 target_second_moment=Ef2).test_error[0]
        X, y = sample_dataset(n, res.teacher, rng=2000 + 10 * s + j)
        sim[s, j] = ridge_path(ck_features(X, res.W1, activation="tanh"), y, lambdas=lam,
                               F_test=F_test, y_test=y_test).test_error[0]

rf = [float(random_features_risk([c["lam"]], psi=a, phi=N / d, activation="tanh",
                                 teacher="tanh").test_error[0])
      for a, c in zip(alphas, conv, strict=True)]

fig, ax = plt.subplots(figsize=(8, 4.6), layout="constrained")
ax.plot(alphas, cond.mean(0), marker="s", label="exact-moment GE (spiked RF model)")
ax.plot(alphas, plain.mean(0), marker="^", linestyle="--", label="plain GE (linearized features)")
ax.errorbar(alphas, sim.mean(0), yerr=sim.std(0), fmt="o", color="k", capsize=3,
            label=f"simulation, fresh ridge samples ({seeds} seeds)")
ax.plot(alphas, rf, color="gray", linestyle=":", label="random features at initialization")
ax.set_yscale("log")
ax.set_xlabel(r"$\alpha = n/d$ (ridge samples)")
ax.set_ylabel("test error")
ax.set_title(f"Cui et al. 2024 protocol: d = N = {d}, n0 = 20 d, eta_tilde = 3, "
             "lambda = 0.1 (theirs)", fontsize="medium")
ax.legend(fontsize="small", frameon=False)
print("alpha:", alphas.tolist())
print("exact moments:", np.round(cond.mean(0), 4).tolist())
print("plain GE   :", np.round(plain.mean(0), 4).tolist())
print("simulation :", np.round(sim.mean(0), 4).tolist())
