"""Benchmark of the spiked random-feature spectrum's deterministic equivalent (not a test).

At N = 4000 (d = N / 1.5, n = 3 d; tanh student and teacher, eta = eta0 sqrt(N), Rademacher
and Gaussian second layers) it times, with CPU time and peak traced memory (tracemalloc,
which sees NumPy's buffers):

* the deterministic equivalent :func:`spikewise.solvers.feature_spectrum` (bulk density on
  250 points, outliers), and
* one simulation of the same size: sample the spiked random-feature model, ``F = sigma(X W)``,
  ``eigvalsh(F^T F / n)``,

and reports the Kolmogorov distance between the two and the top outlier of each.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_spiked_rf.py [--N 4000] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np

from spikewise.solvers import SpikedRandomFeatures, feature_spectrum


def _measure(func):
    tracemalloc.start()
    t0 = time.process_time()
    w0 = time.perf_counter()
    out = func()
    cpu, wall = time.process_time() - t0, time.perf_counter() - w0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return out, cpu, wall, peak / 2**20


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--N", type=int, default=4000)
    parser.add_argument("--eta0", type=float, default=1.0)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    N = args.N
    d = int(N / 1.5)
    n = 3 * d
    rows = ["| second layer | method | CPU s | wall s | peak MB | top outlier | KS |",
            "|---|---|---|---|---|---|---|"]
    for layer in ("rademacher", "gaussian"):
        model = SpikedRandomFeatures.from_one_step("tanh", "tanh", psi=n / d, N=N,
                                                   eta0=args.eta0, alpha=0.5,
                                                   second_layer=layer)
        de, cpu_de, wall_de, mem_de = _measure(
            lambda model=model: feature_spectrum(model, psi=n / d, phi=N / d, N=N, grid=250,
                                                 kappa_nodes=24))

        def simulate(model=model):
            w = model.weights(d, N, rng=0)
            _, F, _ = model.sample(n, w, rng=1)
            G = F.T @ F
            G /= n
            del F
            return np.linalg.eigvalsh(G)

        ev, cpu_s, wall_s, mem_s = _measure(simulate)
        ks = de.ks(ev)
        rows.append(f"| {layer} | deterministic equivalent | {cpu_de:.2f} | {wall_de:.2f} | "
                    f"{mem_de:.1f} | {de.outliers[0]:.2f} | {ks:.4f} |")
        rows.append(f"| {layer} | one simulation | {cpu_s:.2f} | {wall_s:.2f} | {mem_s:.1f} | "
                    f"{ev[-1]:.2f} | |")
    text = (f"N = {N}, d = {d}, n = {n}, tanh, eta = {args.eta0:g} sqrt(N) "
            f"(strength t = {model.strength:.3f})\n\n" + "\n".join(rows))
    print(text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text + "\n")


if __name__ == "__main__":
    main()
