"""Benchmark of the ridge-risk theory of spikewise.solvers.risk (prints a table; not a test).

Rows:

* ``finite_width_risk`` at d = 1000, N = 2000, 50 lambdas (tanh and relu, teacher tanh), and
  the simulation it replaces: ``seeds`` independent ridge fits (``spectra.ridge_path`` on
  n = 3000 fresh samples, test error on 6000 more) on the same W, which is what it takes to
  measure the test error to the accuracy of the theory (their spread is printed);
* ``finite_width_risk`` at d = 4000, N = 8000 (time and the peak of the memory that NumPy
  and SciPy allocate, traced by ``tracemalloc``, in units of N^2 doubles);
* ``random_features_risk`` over 100 points (10 psi x 10 lambdas);
* ``conditional_risk`` (conditional Gaussian equivalence) at d = N = 1000 on the giant step
  of Cui et al. 2024 (tanh on sin, n = 1500): one lambda, and a path of 10 lambdas
  (warm-started).

Wall and CPU (``process_time``) times of one run each; with one BLAS thread the CPU time is
the steadier figure on a shared machine. Usage::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/bench_risk.py [--seeds 10]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import tracemalloc

import numpy as np
import scipy

from spikewise.activations import get_activation
from spikewise.solvers import (
    SpikedRandomFeatures,
    conditional_risk,
    finite_width_risk,
    random_features_risk,
)
from spikewise.spectra import ridge_path


def _timed(fn):
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w0, time.process_time() - c0


def _problem(d, N, seed=0):
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((d, N)) / np.sqrt(d)
    beta = rng.standard_normal(d)
    return W, beta / np.linalg.norm(beta)


def _simulate(W, beta, activation, *, n, n_test, lambdas, seeds, noise):
    act, tea = get_activation(activation), get_activation("tanh")
    errs = []
    for s in range(seeds):
        rng = np.random.default_rng(1000 + s)
        X = rng.standard_normal((n + n_test, W.shape[0]))
        y = tea(X @ beta) + noise * rng.standard_normal(n + n_test)
        F = act(X @ W)
        errs.append(ridge_path(F[:n], y[:n], lambdas=lambdas, F_test=F[n:],
                               y_test=y[n:]).test_error)
    return np.array(errs)


def conditional_rows():
    """Rows for ``conditional_risk`` at d = N = 1000 (the giant step of Cui et al. 2024)."""
    d = N = 1000
    model = SpikedRandomFeatures.from_one_step("tanh", "sin", psi=20.0, N=N, eta0=3.0,
                                               alpha=0.5, second_layer="constant",
                                               kappa_nodes=80)
    w = model.weights(d, N, rng=0)
    rows = []
    for lams in (np.array([0.1 * N / 1500]), np.logspace(-2, 0, 10)):
        _, wall, cpu = _timed(lambda lams=lams: conditional_risk(model, w, n=1500,
                                                                 lambdas=lams))
        rows.append((f"conditional_risk d=N={N} n=1500, {lams.size} lambda(s), tanh on sin",
                     wall, cpu, f"{cpu / lams.size:.2f} s CPU per lambda, "
                     f"{model.kappa_nodes} kappa nodes, l_max {model.l_max}"))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--skip-large", action="store_true")
    args = parser.parse_args()
    lambdas = np.logspace(-3, 0, 50)
    noise = 0.1
    rows = []
    d, N, n = 1000, 2000, 3000
    W, beta = _problem(d, N)
    for act in ("tanh", "relu"):
        th, wall, cpu = _timed(lambda act=act: finite_width_risk(
            W, beta, n=n, lambdas=lambdas, activation=act, teacher="tanh", noise=noise))
        sim, swall, scpu = _timed(lambda act=act: _simulate(
            W, beta, act, n=n, n_test=2 * n, lambdas=lambdas, seeds=args.seeds, noise=noise))
        gap = np.abs(sim.mean(0) - th.test_error) / th.test_error
        se = sim.std(0, ddof=1) / np.sqrt(args.seeds) / th.test_error
        rows.append((f"finite_width_risk d={d} N={N} n={n}, 50 lambdas, {act}",
                     wall, cpu, "arc-cosine kernel (closed form)" if act == "relu"
                     else f"Hermite order {th.params['order']}"))
        rows.append((f"simulation, {args.seeds} seeds (ridge_path, n={n}, n_test={2 * n})",
                     swall, scpu, f"theory speed-up {scpu / cpu:.0f}x (CPU), "
                     f"{swall / wall:.0f}x (wall); |mean sim - theory| / theory max "
                     f"{gap.max():.2%}, sampling se max {se.max():.2%}"))
    if not args.skip_large:
        W8, b8 = _problem(4000, 8000, seed=1)
        tracemalloc.start()
        th, wall, cpu = _timed(lambda: finite_width_risk(
            W8, b8, n=12000, lambdas=lambdas, activation="tanh", teacher="tanh", noise=noise))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        extra = peak / (8.0 * 8000**2)
        rows.append(("finite_width_risk d=4000 N=8000, 50 lambdas, tanh", wall, cpu,
                     f"traced peak {peak / 2**30:.2f} GiB = {extra:.1f} N^2 doubles "
                     f"(W itself is 0.5 N^2)"))
    psis = np.linspace(0.2, 4.0, 10)
    lams = np.logspace(-3, 1, 10)
    random_features_risk(lams, psi=psis, phi=1.5, activation="tanh", teacher="tanh")  # warm
    best = None
    for _ in range(5):
        _, wall, cpu = _timed(lambda: random_features_risk(
            lams, psi=psis, phi=1.5, activation="tanh", teacher="tanh", noise=noise))
        best = (wall, cpu) if best is None or wall < best[0] else best
    rows.append(("random_features_risk, 100 points (10 psi x 10 lambdas)", best[0], best[1],
                 "best of 5"))
    rows.extend(conditional_rows())

    load = os.getloadavg()[0]
    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}; "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}; load average (1 min) at end "
          f"{load:.2f}.\n")
    print("| what | wall (s) | CPU (s) | note |")
    print("|---|---:|---:|---|")
    for name, wall, cpu, note in rows:
        print(f"| {name} | {wall:.3f} | {cpu:.3f} | {note} |")


if __name__ == "__main__":
    main()
