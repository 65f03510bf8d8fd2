"""
One gradient step: the spike of W1 and of the conjugate kernel
==============================================================

Ba et al. (2022): after one full-batch gradient step with ``eta = Theta(1)`` from a random
first layer, ``W1 = W0 + eta * mu_1 * (X^T y / n) a^T + (small)`` is a rank-one spiked
rectangular matrix. Past a BBP threshold ``eta_c`` its top singular value leaves the
Marchenko–Pastur bulk of ``W0`` and its left singular vector aligns with the teacher
direction ``beta``; the conjugate kernel ``sigma(X W1)`` inherits an outlier whose
eigenvector aligns with ``X beta``.

:func:`spikewise.spectra.experiment.one_step` runs the step and measures; and
:func:`spikewise.solvers.one_step_theory.one_step_spike` predicts, here at finite size and
conditionally on the realized ``a``, ``W0``, ``X``, ``y``, ``beta`` (the norm of ``a`` alone
moves the spike by a few per cent at ``N`` of a few hundred).
"""

# %%
import os

from spikewise.plot import before_after, overlay
from spikewise.solvers.conjugate_kernel import conjugate_kernel_law
from spikewise.solvers.one_step_theory import one_step_spike
from spikewise.solvers.transforms import rectangular_singular_values
from spikewise.spectra.experiment import one_step

SMALL = os.environ.get("SPIKEWISE_SIZE", "full") == "small"
d, n, N = (300, 600, 240) if SMALL else (1000, 2000, 800)
psi, phi = n / d, N / d
eta = 10.0
activation, target = "tanh", "tanh"

result = one_step(n=n, d=d, N=N, activation=activation, teacher=target, eta0=eta, rng=0,
                  ck_inputs="fresh", orientation="sample")
pred = one_step_spike(activation, target, psi=psi, phi=phi, eta=eta, n=n, a=result.a,
                      W0=result.W0, X=result.X, y=result.y, beta=result.teacher.beta)
print(pred.table())

# %%
# The singular values of ``W1``
# -----------------------------
# The bulk is the singular-value law of ``W0`` (``d x N``, entries ``N(0, 1/d)``): the square
# roots of a Marchenko–Pastur law; the dashed line is the predicted outlier.

# %%
W1 = result.spectra["W1"]
bulk = rectangular_singular_values(ratio=phi, orientation="n" if phi > 1 else "p")
params = {**W1.params, "seed": 0}
W1 = type(W1)(W1.values, kind=W1.kind, source="W1", params=params)
ax = overlay(W1, bulk, outliers=[pred.finite.top_singular_value])
ax.figure.set_size_inches(8, 4.5)
print(f"top singular value: predicted {pred.finite.top_singular_value:.4f} "
      f"(limit {pred.limit.top_singular_value:.4f}), measured {W1.values[-1]:.4f}")
print(f"overlap with beta:  predicted {pred.finite.overlap_beta:.3f}, "
      f"measured {result.alignments['W1'][0, 0]:.3f}")

# %%
# The conjugate kernel before and after the step
# ----------------------------------------------
# On fresh inputs, ``F F^T / N`` with ``F = sigma(X W)``: the bulk is the conjugate-kernel
# law at initialization in both cases; after the step one eigenvalue sits outside it.

# %%
ck_law = conjugate_kernel_law(activation, psi=psi, phi=phi, orientation="sample")
ax = before_after(result.spectra["ck0"], result.spectra["ck1"], ck_law, ck_law,
                  outliers1=[pred.finite.ck_outlier])
ax.figure.set_size_inches(8, 4.5)
ck_top = result.spectra["ck1"].values[-1]
print(f"CK outlier: predicted {pred.finite.ck_outlier:.4f}, measured {ck_top:.4f} "
      f"({100 * (ck_top / pred.finite.ck_outlier - 1):+.1f} %)")
print(f"CK overlap with X beta: predicted {pred.finite.ck_overlap_beta:.3f}, "
      f"measured {result.alignments['ck1'][0, 0, 0]:.3f}")
