"""
The conjugate kernel at initialization
======================================

For inputs ``X`` (``n x d``, standard Gaussian rows) and a random first layer ``W0``
(``d x N``, entries ``N(0, 1/d)``), the features ``F = sigma(X W0)`` have a Gram matrix
``F^T F / n`` whose spectrum converges (``psi = n/d``, ``phi = N/d`` fixed) to a generalized
Marchenko–Pastur law with ratio ``phi/psi`` and population ``mu_1^2 MP(phi) + mu_*^2``
(Pennington & Worah 2017; Péché 2019; Fan & Wang 2020): only two numbers of the activation
matter, its linear Hermite coefficient ``mu_1`` and its non-linear energy ``mu_*^2``.

Three cases: ``tanh`` in the feature orientation ``F^T F / n``; the centred ReLU in the
sample orientation ``F F^T / N`` (an ``n x n`` matrix of rank ``N < n``, hence an atom at
zero); and the plain ReLU, whose mean ``mu_0 != 0`` adds one eigenvalue of order
``N mu_0^2`` outside the bulk, at the location given by ``law.mean_outlier(d=d)``.
"""

# %%
import os
import warnings

import matplotlib.pyplot as plt

from spikewise.plot import overlay
from spikewise.solvers.conjugate_kernel import MeanOutlierWarning, conjugate_kernel_law
from spikewise.spectra.features import ck_features
from spikewise.spectra.sampling import init_first_layer, sample_inputs
from spikewise.spectra.spectrum import ck_spectrum

SMALL = os.environ.get("SPIKEWISE_SIZE", "full") == "small"
d, n, N = (300, 600, 450) if SMALL else (1000, 2000, 1500)
psi, phi = n / d, N / d

X = sample_inputs(n, d, rng=0)
W0 = init_first_layer(d, N, rng=1)

fig, axes = plt.subplots(2, 2, figsize=(13, 9), layout="constrained")
cases = [("tanh", "feature"), ("relu_centred", "sample"), ("relu", "feature")]
for ax, (name, orientation) in zip(axes.flat, cases, strict=False):
    F = ck_features(X, W0, activation=name)
    params = {"n": n, "d": d, "N": N, "psi": psi, "phi": phi, "activation": name,
              "seed": "0/1"}
    spectrum = ck_spectrum(F, orientation=orientation, params=params,
                           source="F^T F / n" if orientation == "feature" else "F F^T / N")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MeanOutlierWarning)  # the ReLU case, shown below
        law = conjugate_kernel_law(name, psi=psi, phi=phi, orientation=orientation)
    predicted = law.mean_outlier(d=d)  # NaN (no outlier) for a centred activation
    overlay(spectrum, law, ax=ax, outliers=[predicted])
    print(f"{name:13s} {orientation:8s} KS distance to the law: {spectrum.ks(law):.4f}; "
          f"mean outlier predicted {predicted:.4g}, largest eigenvalue {spectrum.values[-1]:.4g}")

# the ReLU bulk, zoomed: the mean outlier is far to the right (third panel)
overlay(spectrum, law, ax=axes[1, 1], outliers=[predicted])
axes[1, 1].set_xlim(0, 1.1 * law.support[-1][1])
axes[1, 1].set_title("ReLU, bulk only (same data as the left panel)", fontsize="medium")

