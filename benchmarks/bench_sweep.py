"""Sweep throughput: ``spikewise.sweep`` on a LocalCluster of 2 workers against a plain loop.

What is timed, for each workload (a grid of ``eta0`` values x seeds of the registered
``"one_step"`` experiment at a given size, and a trivial function that measures the pure
per-point overhead):

- ``loop``: the points one after another in this process, with the same seeds
  (``point_seed``) and one BLAS/Numba thread: what a user would write without the sweep.
- ``sweep, memory``: ``sweep(..., client=client)`` on an already running LocalCluster of 2
  single-threaded worker processes, results kept in memory.
- ``sweep, zarr``: the same, written point by point into a zarr store.
- ``sweep, zarr + cluster start``: ``sweep(..., n_workers=2, store=...)`` starting and
  closing its own cluster, as the command line does.
- ``resume (all done)``: the same call again on the complete store.

Wall time (``perf_counter``) and CPU time are both reported, with the load average. CPU
time is this process's ``process_time`` for the loop, and for a sweep the workers'
``process_time`` (summed, read through ``client.run``) plus this process's (the driver,
which also hosts the LocalCluster's scheduler). On a shared machine the wall-clock speedup
of 2 workers is bounded by the cores actually free, so the table also gives the speedup
two idle cores would allow, ``2 x CPU(loop) / CPU(sweep)``: derived from the CPU times, not
measured. Every sweep's results are checked to be bit-identical to the loop's.

Run: ``python benchmarks/bench_sweep.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np  # noqa: E402


def trivial(*, rng, x):
    """No work: the per-point overhead of scheduling, transfer and writing."""
    return {"value": x + np.random.default_rng(rng).standard_normal()}


def _loop(func, grid, seeds, fixed):
    from spikewise.spectra import thread_limits
    from spikewise.sweep import point_seed

    (name, values), = grid.items()
    out = []
    with thread_limits(1):
        for i in range(len(values) * seeds):
            out.append(func(rng=point_seed(i), **fixed, **{name: values[i // seeds]}))
    return out


def _worker_cpu(client):
    return sum(client.run(time.process_time).values())


def _same(ds, loop_results, grid, seeds):
    (name, values), = grid.items()
    for i, res in enumerate(loop_results):
        point = {name: values[i // seeds], "seed": i % seeds}
        for key, value in res.items():
            if not np.array_equal(ds[key].sel(point).values, np.asarray(value)):
                return False
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke run)")
    args = parser.parse_args()

    from distributed import Client, LocalCluster

    from spikewise.sweep import one_step_summary, sweep

    seeds = 2 if args.quick else 4
    base = {"psi": 2.0, "phi": 1.5, "activation": "tanh", "teacher": "tanh",
            "spectra": ["W1"]}
    workloads = [
        ("trivial (overhead)", trivial, {"x": list(range(20 if args.quick else 100))}, {}),
        ("one_step d=200", one_step_summary,
         {"eta0": list(np.linspace(0.5, 8, 4 if args.quick else 8))}, {**base, "d": 200}),
    ]
    if not args.quick:
        workloads.append(("one_step d=500", one_step_summary,
                          {"eta0": list(np.linspace(0.5, 8, 6))}, {**base, "d": 500}))

    tmp = Path(tempfile.mkdtemp())
    load0 = os.getloadavg()[0]
    rows = []
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        # warm the workers (imports, Numba cache) so that the loop and the sweep compare
        sweep(one_step_summary, {"eta0": [1.0, 2.0]}, fixed={**base, "d": 40}, client=client,
              progress=False)
        _loop(one_step_summary, {"eta0": [1.0]}, 1, {**base, "d": 40})
        for label, func, grid, fixed in workloads:
            points = len(next(iter(grid.values()))) * seeds
            t, c = time.perf_counter(), time.process_time()
            loop_results = _loop(func, grid, seeds, fixed)
            rows.append((label, points, "loop (1 process)", time.perf_counter() - t,
                         time.process_time() - c, "reference"))
            for name, store in (("sweep, memory", None), ("sweep, zarr", tmp / label)):
                t, c = time.perf_counter(), _worker_cpu(client) + time.process_time()
                ds = sweep(func, grid, seeds=seeds, fixed=fixed, store=store, client=client,
                           progress=False)
                wall = time.perf_counter() - t
                cpu = _worker_cpu(client) + time.process_time() - c
                rows.append((label, points, f"{name} (2 workers)", wall, cpu,
                             "identical" if _same(ds, loop_results, grid, seeds)
                             else "DIFFERENT"))
            shutil.rmtree(tmp / label)
    for label, func, grid, fixed in workloads[1:2]:
        points = len(next(iter(grid.values()))) * seeds
        store = tmp / "own"
        t = time.perf_counter()
        sweep(func, grid, seeds=seeds, fixed=fixed, store=store, n_workers=2, progress=False)
        rows.append((label, points, "sweep, zarr + cluster start/stop", time.perf_counter() - t,
                     float("nan"), ""))
        t = time.perf_counter()
        sweep(func, grid, seeds=seeds, fixed=fixed, store=store, n_workers=2, progress=False)
        rows.append((label, points, "resume (all done)", time.perf_counter() - t,
                     float("nan"), "no cluster started"))
    shutil.rmtree(tmp)
    load1 = os.getloadavg()[0]

    loops = {r[0]: r[3] for r in rows if r[2].startswith("loop")}
    loop_cpu = {r[0]: r[4] for r in rows if r[2].startswith("loop")}
    print("| workload | points | run | wall | points/s | wall speedup vs loop | CPU | "
          "speedup on 2 idle cores (derived) | check |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label, points, run, wall, cpu, check in rows:
        cpu_text = "" if np.isnan(cpu) else f"{cpu:.2f} s"
        bound = "" if np.isnan(cpu) or run.startswith("loop") else \
            f"{min(2.0, 2 * loop_cpu[label] / cpu):.2f}x"
        print(f"| {label} | {points} | {run} | {wall:.2f} s | {points / wall:.1f} | "
              f"{loops[label] / wall:.2f}x | {cpu_text} | {bound} | {check} |")
    print()
    print(f"Machine: {os.cpu_count()} cores ({platform.processor() or platform.machine()}), "
          f"Python {platform.python_version()}, numpy {np.__version__}; load average "
          f"(1 min) {load0:.2f} at start, {load1:.2f} at end. {seeds} seeds per grid value; "
          "one BLAS/Numba thread everywhere.")


if __name__ == "__main__":
    main()
