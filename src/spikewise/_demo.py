"""The ``spikewise demo`` job (provisional: Marchenko–Pastur overlay of a Gaussian matrix)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from spikewise._validation import check_rng, check_scalar


def _resolve_out(out) -> Path:
    out = Path(out)
    if out.suffix.lower() == ".png":
        out.parent.mkdir(parents=True, exist_ok=True)
        return out
    out.mkdir(parents=True, exist_ok=True)
    return out / "spikewise_demo.png"


def run_demo(*, out=".", d=800, psi=2.0, phi=1.5, activation="tanh", teacher="tanh",
             noise=0.0, eta=None, seed=0):
    """Draw eigenvalues of ``Y^T Y / n`` over the Marchenko–Pastur law; return (path, table)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from spikewise.solvers.marchenko_pastur import MarchenkoPastur

    d = check_scalar(d, "d", "demo", kind="int", lower=10)
    psi = check_scalar(psi, "psi", "demo", lower=0, lower_inclusive=False)
    phi = check_scalar(phi, "phi", "demo", lower=0, lower_inclusive=False)
    rng = check_rng(seed, "demo")
    n, p = int(round(psi * d)), int(round(phi * d))
    Y = rng.standard_normal((n, p))
    values = np.linalg.eigvalsh(Y.T @ Y / n)
    law = MarchenkoPastur(ratio=p / n)
    lo, hi = law.support[0]
    x = np.linspace(lo, hi, 2000)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.hist(values, bins=80, density=True, alpha=0.5, label=f"eigenvalues, n={n}, p={p}")
    ax.plot(x, law.pdf(x), "k-", label=f"Marchenko–Pastur, ratio={p / n:.3g}")
    ax.legend()
    path = _resolve_out(out)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    table = (
        f"{'quantity':<20}{'theory':>12}{'measured':>12}\n"
        f"{'lower edge':<20}{lo:>12.4f}{values.min():>12.4f}\n"
        f"{'upper edge':<20}{hi:>12.4f}{values.max():>12.4f}"
    )
    return path, table
