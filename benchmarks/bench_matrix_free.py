"""Benchmark of the matrix-free CK density (spikewise.spectra.matrix_free; not a test).

For the conjugate kernel ``F = relu(X W0)`` (n = N, d = N / 3, float32; the ReLU mean gives
one outlier) at each size it times

* the dense floor: ``ck_spectrum(F, method="dense")`` (Gram + one ``?sytrd``/``?sterf``),
  for sizes up to ``--dense-max``;
* the matrix-free density: ``ck_density(F, k=1, n_probes=P, n_steps=S)`` (block Lanczos for
  the outlier, SLQ for the bulk), with its peak extra memory (tracemalloc, numpy allocations)
  and the process's peak RSS;

and reports the L1 distance of the 40-bin density histograms to the dense spectrum and to
the CK law (:func:`spikewise.solvers.conjugate_kernel_law`, bulk only), and the outlier's
relative difference to the dense one. F is built by row blocks (X is never whole), so the
process holds F, W0 and small blocks. With ``--imate`` it also times imate's SLQ log-det
on the same F against the same quadrature computed from the SLQ nodes (imate is a peer, not
a spikewise dependency: ``pip install imate`` first).

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_matrix_free.py --sizes 3000 6000 [--imate]
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc
import warnings

import numpy as np

from spikewise.solvers.conjugate_kernel import MeanOutlierWarning, conjugate_kernel_law
from spikewise.spectra import ck_density, ck_spectrum, init_first_layer, thread_limits
from spikewise.spectra._activation_apply import activate_inplace, resolve_activation


def features(n, d, N, *, seed=0, block=2048):
    """relu(X W0) in float32, X drawn by row blocks (never whole)."""
    gen = np.random.default_rng(seed)
    W = init_first_layer(d, N, rng=gen, dtype="float32")
    F = np.empty((n, N), dtype=np.float32)
    act = resolve_activation("relu", "activation", "bench")
    for s in range(0, n, block):
        Xb = gen.standard_normal((min(block, n - s), d), dtype=np.float32)
        np.matmul(Xb, W, out=F[s:s + Xb.shape[0]])
        activate_inplace(F[s:s + Xb.shape[0]], act)
    del W
    return F


def l1_binned(a, b, edges):
    """sum over the bins (and the two outer half-lines) of |mass_a - mass_b|, from cdfs."""
    ca = np.concatenate([[0.0], a.cdf(edges), [1.0]])
    cb = np.concatenate([[0.0], b.cdf(edges), [1.0]])
    return float(np.abs(np.diff(ca) - np.diff(cb)).sum())


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run(N, *, n_probes, n_steps, dense_max, use_imate):
    n, d = N, N // 3
    t = time.perf_counter()
    F = features(n, d, N)
    t_gen = time.perf_counter() - t
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MeanOutlierWarning)
        law = conjugate_kernel_law("relu", psi=n / d, phi=N / d)
    row = {"N": N, "d": d, "F_MB": F.nbytes / 2**20, "gen_s": t_gen}
    tracemalloc.start()
    t0, c0 = time.perf_counter(), time.process_time()
    ds = ck_density(F, k=1, n_probes=n_probes, n_steps=n_steps, rng=1)
    row["mf_wall"], row["mf_cpu"] = time.perf_counter() - t0, time.process_time() - c0
    row["mf_peak_MB"] = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    row["rss_after_mf_MB"] = peak_rss_mb()
    row["l1_law"] = ds.l1(law, bins=40)
    row["outlier"] = float(ds.top_values[0])
    if N <= dense_max:
        t0, c0 = time.perf_counter(), time.process_time()
        dense = ck_spectrum(F, method="dense")
        row["dense_wall"], row["dense_cpu"] = time.perf_counter() - t0, time.process_time() - c0
        row["l1_dense"] = ds.l1(dense, bins=40)
        edges = np.linspace(dense.values[0] - 1e-9, law.support[-1][1], 41)
        row["l1_dense_law"] = l1_binned(dense, law, edges)
        row["outlier_rel"] = abs(ds.top_values[0] / dense.top(1)[0] - 1.0)
        row["ks_dense"] = ds.ks(dense)
    if use_imate:
        import imate

        t0 = time.perf_counter()
        val = imate.logdet(F, gram=True, method="slq", min_num_samples=n_probes,
                           max_num_samples=n_probes, lanczos_degree=n_steps)
        row["imate_logdet_s"] = time.perf_counter() - t0
        row["imate_logdet"] = float(np.atleast_1d(val)[0])
        t0 = time.perf_counter()
        ds2 = ck_density(F, n_probes=n_probes, n_steps=n_steps, rng=2)
        est = float(np.mean(np.sum(ds2.weights * np.log(np.clip(ds2.nodes, 1e-30, None)), 1)))
        row["own_slq_s"] = time.perf_counter() - t0
        row["own_logdet_FtF/n"] = est * N
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[3000, 6000])
    ap.add_argument("--n-probes", type=int, default=20)
    ap.add_argument("--n-steps", type=int, default=60)
    ap.add_argument("--dense-max", type=int, default=6000)
    ap.add_argument("--imate", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    with thread_limits(args.threads):
        for N in args.sizes:
            row = run(N, n_probes=args.n_probes, n_steps=args.n_steps,
                      dense_max=args.dense_max, use_imate=args.imate)
            print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                           for k, v in row.items()), flush=True)


if __name__ == "__main__":
    main()
