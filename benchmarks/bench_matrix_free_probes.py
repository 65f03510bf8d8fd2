"""How many probes the matrix-free CK density needs for L1 <= 0.01 against dense (not a test).

For ``F = relu(X W0)`` in float64 with d = m/2, n = 3m/2, N = m (the shape of the tests'
``relu_case``) at each m it computes the dense spectrum once and, for each probe count p,
``ck_density(F, k=1, n_probes=p, n_steps=S, rng=seed)`` for the seeds 0-3, and prints a
row of the table in benchmarks/README.md: the L1 distance to the dense spectrum over 10 and
40 equal bins of the bulk (mean and largest over the seeds) and the CPU seconds per
matrix-free call.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_matrix_free_probes.py --sizes 1000 3000 \\
        --probes 20 40 80 160 [--steps 40]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from spikewise.spectra import (
    ck_density,
    ck_features,
    ck_spectrum,
    init_first_layer,
    sample_inputs,
    thread_limits,
)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000, 3000, 4000])
    parser.add_argument("--probes", type=int, nargs="+", default=[20, 40, 80, 160])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--seeds", type=int, default=4)
    args = parser.parse_args()
    print("| m | p x s | L1 10 bins, mean | max | L1 40 bins, mean | max | mf CPU s |")
    print("|---|---|---|---|---|---|---|")
    with thread_limits(1):
        for m in args.sizes:
            F = ck_features(sample_inputs(3 * m // 2, m // 2, rng=0),
                            init_first_layer(m // 2, m, rng=1), activation="relu")
            start = time.process_time()
            dense = ck_spectrum(F, method="dense")
            print(f"m = {m}: dense {time.process_time() - start:.1f} s CPU")
            for p in args.probes:
                l10, l40 = [], []
                start = time.process_time()
                for seed in range(args.seeds):
                    ds = ck_density(F, k=1, n_probes=p, n_steps=args.steps, rng=seed)
                    l10.append(ds.l1(dense, bins=10))
                    l40.append(ds.l1(dense, bins=40))
                cpu = (time.process_time() - start) / args.seeds
                print(f"| {m} | {p} x {args.steps} | {np.mean(l10):.4f} | {np.max(l10):.4f} | "
                      f"{np.mean(l40):.4f} | {np.max(l40):.4f} | {cpu:.1f} |", flush=True)


if __name__ == "__main__":
    main()
