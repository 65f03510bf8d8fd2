"""
Sweeps on dask: a grid of learning rates and sample ratios, resumable in zarr
==============================================================================

:func:`spikewise.sweep.sweep` runs an experiment over a grid of parameters times seeds on
:mod:`dask.distributed` and writes each point into an xarray Dataset backed by a zarr store
as soon as it finishes. Point ``i`` of the grid (flat index over the grid's axes, then the
seed) is seeded with ``SeedSequence(base_seed, spawn_key=(i,))``: the results do not depend
on the number of workers or on the order in which points finish, and a rerun of the same
call skips the points already stored.

Here the registered experiment ``"one_step"`` (one gradient step of Ba et al. 2022, reduced
to a few scalars) sweeps the learning rate ``eta0`` and the sample ratio ``psi = n/d``; the
squared overlap of the top left singular vector of ``W1`` with the teacher direction is drawn
over the finite-size prediction of :func:`spikewise.solvers.one_step_spike`.
"""

# %%
import os
import shutil
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from spikewise.plot import theory_vs_simulation
from spikewise.solvers import critical_learning_rate, one_step_spike
from spikewise.sweep import sweep

SMALL = os.environ.get("SPIKEWISE_SIZE", "full") == "small"
d = 100 if SMALL else 400
seeds = 2 if SMALL else 4
grid = {"psi": [1.0, 3.0], "eta0": np.linspace(0.5, 8.0, 5 if SMALL else 11).round(4)}
fixed = {"d": d, "phi": 1.5, "activation": "tanh", "teacher": "tanh", "spectra": ["W1"]}
store = Path(tempfile.mkdtemp()) / "bbp.zarr"

# %%
# Run the sweep
# -------------
# Without ``client`` or ``scheduler`` the sweep starts a ``LocalCluster`` of ``n_workers``
# single-threaded workers and closes it at the end. In a script or a notebook they are
# processes; this page is executed inside the documentation build, so it asks for threads
# (``processes=False``). ``scheduler="tcp://host:8786"`` runs on a real cluster instead.

# %%
start = time.perf_counter()
ds = sweep("one_step", grid, seeds=seeds, fixed=fixed, store=store, n_workers=2,
           processes=False)
print(f"{int(ds['done'].sum())} points in {time.perf_counter() - start:.1f} s")
ds

# %%
# Rerunning the same call finds every point done and only reads the store; a store written
# by another grid, seed count or function is refused rather than mixed.

# %%
start = time.perf_counter()
again = sweep("one_step", grid, seeds=seeds, fixed=fixed, store=store, processes=False)
print(f"resumed in {time.perf_counter() - start:.2f} s;",
      "identical:", bool((again["W1_overlap"] == ds["W1_overlap"]).all()))

# %%
# Plot: simulation over theory
# ----------------------------
# The Dataset's axes are named, so a panel is a selection; the spread is over the ``seed``
# axis.

# %%
fig, axes = plt.subplots(1, len(grid["psi"]), figsize=(13, 4.6), layout="constrained",
                         sharey=True)
fine = np.linspace(grid["eta0"][0], grid["eta0"][-1], 80)
for ax, psi in zip(axes, grid["psi"], strict=True):
    n, N = round(psi * d), round(fixed["phi"] * d)
    theory = [one_step_spike("tanh", "tanh", psi=psi, phi=fixed["phi"], eta=e, n=n)
              .finite.overlap_beta for e in fine]
    eta_c = critical_learning_rate("tanh", "tanh", psi=psi, phi=fixed["phi"], n=n)
    measured = ds["W1_overlap"].sel(psi=psi).transpose("seed", "eta0")
    theory_vs_simulation(ds["eta0"].values, theory, measured.values, theory_x=fine, ax=ax,
                         threshold=eta_c, ylabel=r"$|\langle u_1, \beta\rangle|^2$",
                         params={"n": n, "d": d, "N": N, "psi": psi, "seeds": seeds},
                         label="finite size")

# %%
# The store is an ordinary directory (one chunk per point and variable); open it later with
# ``xarray.open_dataset(store, engine="zarr")``. This page deletes its own.

# %%
shutil.rmtree(store.parent)
