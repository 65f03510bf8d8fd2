"""Gallery figures regenerated through :func:`spikewise.sweep.sweep` (``spikewise reproduce``).

A page is supported when its figure is a sweep: it is described here by the sweep (the
function, grid, seeds and fixed parameters at each size) and by a figure function that
reads the sweep's Dataset and draws the theory beside it. Sizes: ``"small"`` (seconds, for
tests), ``"full"`` (the size the documentation is built at), ``"paper"`` (larger, for a
publication figure; minutes on a few cores).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spikewise._validation import InvalidParameterError

__all__ = ["PAGES", "SIZES", "find_page", "reproduce"]

SIZES = ("small", "full", "paper")


@dataclass(frozen=True)
class Page:
    """A gallery page that ``spikewise reproduce`` regenerates.

    ``setups[size]`` gives ``(func, grid, seeds, fixed)`` for :func:`~spikewise.sweep.sweep`;
    ``figure(ds)`` draws the figure from the sweep's Dataset and returns it.
    """

    name: str
    title: str
    setups: dict
    figure: object


# -- 06: the BBP transition of one gradient step in the learning rate ----------------------------

_BBP_SIZES = {  # (d, seeds, number of eta values)
    "small": (200, 2, 7),
    "full": (800, 4, 11),
    "paper": (2000, 8, 21),
}


def _bbp_setup(size):
    d, seeds, k = _BBP_SIZES[size]
    grid = {"eta0": np.round(np.linspace(0.5, 8.0, k), 6).tolist()}
    fixed = {"d": d, "n": 2 * d, "N": 3 * d // 2, "activation": "tanh", "teacher": "tanh",
             "spectra": ["W1"]}
    return "one_step", grid, seeds, fixed


def _bbp_figure(ds):
    import matplotlib.pyplot as plt

    from spikewise.plot import theory_vs_simulation
    from spikewise.solvers import critical_learning_rate, one_step_spike

    fixed = _fixed_of(ds)
    n, d, N = fixed["n"], fixed["d"], fixed["N"]
    act, teacher = fixed["activation"], fixed["teacher"]
    psi, phi = n / d, N / d
    etas = ds["eta0"].values
    fine = np.linspace(etas[0], etas[-1], 120)
    finite = [one_step_spike(act, teacher, psi=psi, phi=phi, eta=e, n=n).finite for e in fine]
    limit = [one_step_spike(act, teacher, psi=psi, phi=phi, eta=e).limit for e in fine]
    eta_c = critical_learning_rate(act, teacher, psi=psi, phi=phi, n=n)
    params = {"n": n, "d": d, "N": N, "psi": psi, "phi": phi, "activation": act,
              "teacher": teacher, "seeds": ds.sizes["seed"]}
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.6), layout="constrained")
    panels = [("W1_top", "top_singular_value", "top singular value of W1"),
              ("W1_overlap", "overlap_beta", r"$|\langle u_1, \beta\rangle|^2$")]
    for ax, (var, attr, ylabel) in zip(axes, panels, strict=True):
        measured = ds[var].transpose("seed", "eta0").values
        theory_vs_simulation(etas, [getattr(v, attr) for v in finite], measured, theory_x=fine,
                             ax=ax, threshold=eta_c, ylabel=ylabel, params=params,
                             label="finite size")
        ax.plot(fine, [getattr(v, attr) for v in limit], color="gray", linestyle="--",
                label="proportional limit")
        ax.legend(fontsize="small", frameon=False)
    return fig


# -- 07: the number of CK outliers against the learning-rate exponent alpha --------------------

_SPIKES_SIZES = {  # (d, seeds, number of alpha values)
    "small": (300, 1, 7),
    "full": (1000, 2, 13),
    "paper": (2000, 4, 25),
}
_N_TOP = 12


def _spikes_setup(size):
    d, seeds, k = _SPIKES_SIZES[size]
    grid = {"alpha": np.round(np.linspace(0.0, 0.48, k), 4).tolist()}
    fixed = {"d": d, "n": 2 * d, "N": 3 * d // 2, "activation": "relu", "teacher": "he1",
             "eta0": 1.0, "spectra": ["ck1"], "n_top": _N_TOP, "ck_inputs": "fresh",
             "orientation": "feature"}
    return "one_step", grid, seeds, fixed


def _spikes_figure(ds):
    import matplotlib.pyplot as plt

    from spikewise.plot import theory_vs_simulation
    from spikewise.solvers import spike_count, visible_spikes
    from spikewise.spectra import tracy_widom_margin

    fixed = _fixed_of(ds)
    n, d, N = fixed["n"], fixed["d"], fixed["N"]
    act, teacher = fixed["activation"], fixed["teacher"]
    alphas = ds["alpha"].values
    # the simulated alphas and the midpoints between them (the theory is the slow part)
    fine = np.sort(np.concatenate([alphas, (alphas[1:] + alphas[:-1]) / 2]))
    at_fine = [visible_spikes(act, teacher, n=n, d=d, N=N, eta0=fixed["eta0"], alpha=al)
               for al in fine]
    predicted = [t.n_outliers for t in at_fine]
    # singular values of F / sqrt(n) beyond the predicted edge of the updated features by more
    # than a Tracy-Widom margin (as Spectrum.outliers counts them)
    top = np.sqrt(np.clip(ds["ck1_top"].transpose("seed", "alpha", ...).values, 0, None))
    edges = np.array([t.edge for t in at_fine[::2]])
    margins = np.array([tracy_widom_margin(e, min(n, N), kind="singular") for e in edges])
    counts = (top > (edges + margins)[None, :, None]).sum(axis=-1).astype(float)
    grid = np.linspace(alphas[0], alphas[-1], 400)
    asymptotic = np.array([spike_count(a) + 1 for a in grid], dtype=float)
    fig, ax = plt.subplots(figsize=(8, 4.6), layout="constrained")
    theory_vs_simulation(alphas, predicted, counts, theory_x=fine, ax=ax, xlabel=r"$\alpha$",
                         ylabel="number of outliers", drawstyle="steps-mid",
                         label=f"finite N = {N}",
                         params={"n": n, "d": d, "N": N, "activation": act,
                                 "teacher": teacher, "eta0": fixed["eta0"],
                                 "seeds": ds.sizes["seed"]})
    ax.plot(grid, np.minimum(asymptotic, 8), color="gray", linestyle="--",
            drawstyle="steps-post", label="asymptotic rule + mean spike (capped at 8)")
    ax.legend(fontsize="small", frameon=False)
    return fig


# -- 09: ridge on the learned features against random features and the best linear model ------

_RIDGE_SIZES = {  # (d, seeds)
    "small": (200, 2),
    "full": (600, 3),
    "paper": (1000, 6),
}


def _ridge_setup(size):
    d, seeds = _RIDGE_SIZES[size]
    # eta0 = 0 leaves W1 = W0: ridge on the random features sigma(X W0)
    grid = {"eta0": [0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0]}
    fixed = {"d": d, "n": 4 * d, "N": 3 * d // 2, "activation": "tanh", "teacher": "tanh",
             "noise": 0.1, "spectra": [], "lambdas": np.logspace(-4, 0, 9).tolist()}
    return "one_step", grid, seeds, fixed


def _ridge_figure(ds):
    import matplotlib.pyplot as plt

    from spikewise.activations import get_activation
    from spikewise.solvers import critical_learning_rate

    fixed = _fixed_of(ds)
    n, d, N, noise = fixed["n"], fixed["d"], fixed["N"], fixed["noise"]
    best = ds["ridge_test_error"].min("ridge_test_error_dim0")  # best lambda of each run
    learned = best.sel(eta0=best["eta0"] > 0)
    teacher = get_activation(fixed["teacher"])
    linear = teacher.second_moment + noise**2 - teacher.mu1**2
    eta_c = critical_learning_rate(fixed["activation"], fixed["teacher"], psi=n / d,
                                   phi=N / d, noise=noise, n=n)
    fig, ax = plt.subplots(figsize=(8, 4.6), layout="constrained")
    ax.errorbar(learned["eta0"], learned.mean("seed"), yerr=learned.std("seed"), marker="o",
                capsize=3, label=f"ridge on sigma(X W1), best lambda (mean ± sd, "
                                 f"{ds.sizes['seed']} seeds)")
    ax.axhline(float(best.sel(eta0=0.0).mean()), color="gray", linestyle="--",
               label="random features sigma(X W0) (eta = 0), best lambda")
    ax.axhline(linear, color="black", linestyle=":", label="best linear model E[y^2] - c_1^2")
    ax.axhline(noise**2, color="black", linestyle="-", linewidth=0.8, label="noise floor")
    ax.axvline(eta_c, color="C0", linestyle=":", label=f"BBP threshold {eta_c:.2f}")
    ax.set_xlabel(r"$\eta$")
    ax.set_ylabel("test error")
    ax.set_title(f"n={n}, d={d}, N={N}, activation={fixed['activation']}, "
                 f"teacher={fixed['teacher']}, noise={noise}", fontsize="medium")
    ax.legend(fontsize="small", frameon=False, loc="center right")
    return fig


PAGES = {
    "06_bbp_transition": Page(
        "06_bbp_transition", "One gradient step: the BBP transition in the learning rate",
        {size: _bbp_setup(size) for size in SIZES}, _bbp_figure),
    "07_multiple_spikes": Page(
        "07_multiple_spikes", "Several spikes for larger steps: outliers against alpha",
        {size: _spikes_setup(size) for size in SIZES}, _spikes_figure),
    "09_ridge": Page(
        "09_ridge", "Ridge regression on the learned features",
        {size: _ridge_setup(size) for size in SIZES}, _ridge_figure),
}
"""The gallery pages ``spikewise reproduce`` supports, by name."""


def _fixed_of(ds) -> dict:
    import json

    from spikewise._sweep_store import SPEC_ATTR

    return json.loads(ds.attrs[SPEC_ATTR])["fixed"]


def find_page(page: str) -> Page:
    """The page named ``page``: ``"06_bbp_transition"``, ``"06"``, ``"bbp_transition"`` or
    the gallery file name ``"plot_06_bbp_transition.py"``."""
    key = str(page).removesuffix(".py").removeprefix("plot_")
    for name, entry in PAGES.items():
        number, _, words = name.partition("_")
        if key in (name, number, words):
            return entry
    supported = ", ".join(f"{name} ({p.title})" for name, p in PAGES.items())
    raise InvalidParameterError(
        f"The 'page' parameter of spikewise reproduce must name a gallery page that is a "
        f"sweep: {supported}. Got {page!r} instead. The other gallery pages are scripts: run "
        "them with python docs/examples/plot_NN_*.py (SPIKEWISE_SIZE=small for a quick run)."
    )


def reproduce(page, *, size="paper", out=".", store=None, **sweep_options):
    """Run the sweep of a gallery page and write its figure.

    Parameters
    ----------
    page : str
        See :func:`find_page`.
    size : {"small", "full", "paper"}
    out : path
        Folder for the PNG (``<page>_<size>.png``) and, unless ``store`` is given, the zarr
        store (``<page>_<size>.zarr``), so that rerunning resumes.
    store : path, optional
    **sweep_options
        Passed to :func:`spikewise.sweep.sweep` (``client``, ``scheduler``, ``n_workers``,
        ``progress``, ...).

    Returns
    -------
    (Path, xarray.Dataset)
        The PNG written and the sweep's results.
    """
    import matplotlib.pyplot as plt

    from spikewise._validation import check_option
    from spikewise.sweep import sweep

    entry = find_page(page)
    check_option(size, "size", "spikewise reproduce", SIZES)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{entry.name}_{size}"
    func, grid, seeds, fixed = entry.setups[size]
    ds = sweep(func, grid, seeds=seeds, fixed=fixed,
               store=out / f"{stem}.zarr" if store is None else store, **sweep_options)
    fig = entry.figure(ds)
    path = out / f"{stem}.png"
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path, ds
