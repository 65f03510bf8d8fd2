"""Write docs/_static/overlay.png, the overlay figure shown in the README and on the index.

Run from the repository root: ``python docs/make_readme_figure.py`` (about 10 s).
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

from spikewise.plot import before_after, overlay
from spikewise.solvers.conjugate_kernel import conjugate_kernel_law
from spikewise.solvers.one_step_theory import one_step_spike
from spikewise.solvers.transforms import rectangular_singular_values
from spikewise.spectra.experiment import one_step

n, d, N, eta = 2000, 1000, 1500, 6.0
result = one_step(n=n, d=d, N=N, activation="tanh", teacher="tanh", eta0=eta, rng=0,
                  ck_inputs="fresh", orientation="sample")
pred = one_step_spike("tanh", "tanh", psi=n / d, phi=N / d, eta=eta, n=n, a=result.a,
                      W0=result.W0, X=result.X, y=result.y, beta=result.teacher.beta)
fig, axes = plt.subplots(1, 2, figsize=(12, 5.6), layout="constrained")
overlay(result.spectra["W1"], rectangular_singular_values(ratio=N / d, orientation="n"),
        ax=axes[0], outliers=[pred.finite.top_singular_value], legend="below")
ck = conjugate_kernel_law("tanh", psi=n / d, phi=N / d, orientation="sample")
before_after(result.spectra["ck0"], result.spectra["ck1"], ck, ck, ax=axes[1],
             outliers1=[pred.finite.ck_outlier], legend="below")
axes[1].set_ylim(0, 1.2)
axes[1].set_title(r"conjugate kernel $F F^\top / N$ on fresh inputs, before and after "
                  "(y cut at 1.2)", fontsize="medium")
out = Path(__file__).resolve().parent / "_static" / "overlay.png"
fig.savefig(out, dpi=90)
print(f"wrote {out} ({out.stat().st_size / 1024:.0f} KB)")
