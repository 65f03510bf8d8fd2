"""Gallery figures regenerated from the command line (``spikewise reproduce``).

Every gallery page ``docs/examples/plot_NN_*.py`` can be reproduced, in one of two ways:

- a page whose figure is a sweep over a grid of parameters times seeds is listed in
  :data:`PAGES`, described by the sweep (function, grid, seeds and fixed parameters at each
  size) and by a figure function that reads the sweep's Dataset and draws the theory beside
  it; it runs through :func:`spikewise.sweep.sweep`, so it is parallel on dask and resumable
  from its zarr store;
- every other page is run as its script (:func:`runpy.run_path`) with the environment
  variable ``SPIKEWISE_SIZE`` set to the size, and each matplotlib figure it opens is saved
  as a PNG.

Sizes: ``"small"`` (seconds, for tests), ``"full"`` (the size the documentation is built
at), ``"paper"`` (for a publication figure; minutes on a few cores). A page that knows only
``small`` and ``full`` (it tests ``SPIKEWISE_SIZE == "small"``) runs ``paper`` at its full
size.
"""

from __future__ import annotations

import os
import re
import runpy
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spikewise._validation import InvalidParameterError

__all__ = ["PAGES", "SIZES", "examples_dir", "find_page", "gallery_pages", "reproduce"]

SIZES = ("small", "full", "paper")
_OWNER = "spikewise reproduce"
_PAGE_FILE = re.compile(r"plot_(\d\d)_(\w+)\.py")


@dataclass(frozen=True)
class Page:
    """A gallery page that ``spikewise reproduce`` regenerates through a sweep.

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


PAGES = {
    "06_bbp_transition": Page(
        "06_bbp_transition", "One gradient step: the BBP transition in the learning rate",
        {size: _bbp_setup(size) for size in SIZES}, _bbp_figure),
    "07_multiple_spikes": Page(
        "07_multiple_spikes", "Several spikes for larger steps: outliers against alpha",
        {size: _spikes_setup(size) for size in SIZES}, _spikes_figure),
}
"""The gallery pages that ``spikewise reproduce`` runs as sweeps, by name."""


def _fixed_of(ds) -> dict:
    import json

    from spikewise._sweep_store import SPEC_ATTR

    return json.loads(ds.attrs[SPEC_ATTR])["fixed"]


def examples_dir(examples=None) -> Path:
    """The folder of the gallery scripts: ``examples``, else ``$SPIKEWISE_EXAMPLES``, else
    ``docs/examples`` of the source checkout this package is imported from."""
    if examples is None:
        examples = os.environ.get("SPIKEWISE_EXAMPLES")
    if examples is None:
        examples = Path(__file__).resolve().parents[2] / "docs" / "examples"
    examples = Path(examples)
    if not examples.is_dir():
        raise InvalidParameterError(
            f"The 'examples' parameter of {_OWNER} must be the folder of the gallery scripts "
            "(docs/examples of a spikewise source checkout; --examples DIR or the environment "
            f"variable SPIKEWISE_EXAMPLES). Got {str(examples)!r}, which is not a directory.")
    return examples


def gallery_pages(examples=None) -> dict:
    """The gallery pages found in :func:`examples_dir`: ``{"NN_words": path}``, in order."""
    found = {}
    for path in sorted(examples_dir(examples).glob("plot_*.py")):
        match = _PAGE_FILE.fullmatch(path.name)
        if match:
            found[f"{match[1]}_{match[2]}"] = path
    return found


def find_page(page, examples=None):
    """The page named ``page`` and how it is reproduced.

    ``page`` is ``"06_bbp_transition"``, ``"06"``, ``"6"``, ``"bbp_transition"`` or the
    gallery file name ``"plot_06_bbp_transition.py"``.

    Returns
    -------
    (str, Page or Path)
        The page's name and its sweep (:class:`Page`, for the pages in :data:`PAGES`) or its
        script.
    """
    key = Path(str(page)).name.removesuffix(".py").removeprefix("plot_")
    if key.isdigit():
        key = f"{int(key):02d}"
    pages = gallery_pages(examples)
    for name in [*PAGES, *pages]:
        number, _, words = name.partition("_")
        if key in (name, number, words):
            return name, PAGES.get(name, pages.get(name))
    known = ", ".join(sorted({*PAGES, *pages}))
    raise InvalidParameterError(
        f"The 'page' parameter of {_OWNER} must name a gallery page (its number, its name or "
        f"its file name): one of {known}. Got {page!r} instead.")


def _run_script(path: Path, name: str, size: str, out: Path) -> list:
    """Run a gallery script at ``size`` and save each figure it opens as a PNG in ``out``."""
    import matplotlib.pyplot as plt

    before = set(plt.get_fignums())
    old_size, old_show = os.environ.get("SPIKEWISE_SIZE"), plt.show
    os.environ["SPIKEWISE_SIZE"] = size
    plt.show = lambda *args, **kwargs: None  # the figures are saved, not shown
    try:
        runpy.run_path(str(path), run_name="__main__")
        numbers = sorted(set(plt.get_fignums()) - before)
        if not numbers:
            raise RuntimeError(f"The gallery page {path} drew no matplotlib figure.")
        paths = []
        for k, number in enumerate(numbers, start=1):
            suffix = "" if len(numbers) == 1 else f"_{k}"
            paths.append(out / f"{name}_{size}{suffix}.png")
            plt.figure(number).savefig(paths[-1], dpi=150)
        return paths
    finally:
        for number in set(plt.get_fignums()) - before:
            plt.close(number)
        plt.show = old_show
        if old_size is None:
            os.environ.pop("SPIKEWISE_SIZE", None)
        else:
            os.environ["SPIKEWISE_SIZE"] = old_size


def reproduce(page, *, size="paper", out=".", store=None, examples=None, **sweep_options):
    """Regenerate the figures of a gallery page.

    A page in :data:`PAGES` runs its sweep through :func:`spikewise.sweep.sweep` (resumable
    from its zarr store) and draws its figure from the Dataset; any other page runs its
    script with ``SPIKEWISE_SIZE=size`` and saves the figures it opens.

    Parameters
    ----------
    page : str
        See :func:`find_page`.
    size : {"small", "full", "paper"}
    out : path
        Folder for the PNGs (``<page>_<size>.png``, or ``<page>_<size>_<k>.png`` for a
        script that draws several figures) and, for a sweep page unless ``store`` is given,
        the zarr store (``<page>_<size>.zarr``), so that rerunning resumes.
    store : path, optional
        The zarr store of a sweep page (not allowed for a script page).
    examples : path, optional
        The folder of the gallery scripts (see :func:`examples_dir`).
    **sweep_options
        For a sweep page, passed to :func:`spikewise.sweep.sweep` (``client``,
        ``scheduler``, ``n_workers``, ``progress``, ...); a script page runs in this process
        and ignores them.

    Returns
    -------
    (list of Path, xarray.Dataset or None)
        The PNGs written and, for a sweep page, the sweep's results.
    """
    import matplotlib.pyplot as plt

    from spikewise._validation import check_option
    from spikewise.sweep import sweep

    name, entry = find_page(page, examples)
    check_option(size, "size", _OWNER, SIZES)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if not isinstance(entry, Page):
        if store is not None:
            raise InvalidParameterError(
                f"The 'store' parameter of {_OWNER} applies to the pages that are sweeps "
                f"({', '.join(PAGES)}); {name} is a script. Got store={str(store)!r}.")
        return _run_script(entry, name, size, out), None
    stem = f"{name}_{size}"
    func, grid, seeds, fixed = entry.setups[size]
    ds = sweep(func, grid, seeds=seeds, fixed=fixed,
               store=out / f"{stem}.zarr" if store is None else store, **sweep_options)
    fig = entry.figure(ds)
    path = out / f"{stem}.png"
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return [path], ds
