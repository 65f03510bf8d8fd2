"""Benchmark of the one-step pipeline: spikewise vs naive NumPy vs the BLAS/LAPACK floor.

The pipeline (one gradient step, Ba et al. 2022 setting, our convention): data and teacher,
initialization, the step (forward pass, exact residual with the network's output, backprop,
update), CK features before and after, dense spectra of W1 (singular values) and of both CK
Grams ``F^T F / n``, the top-5 outliers with their vectors, the update's spike, alignments
with the teacher (W1's top left singular vectors vs beta; CK eigenvectors vs He_k(X beta)).

Variants, each in its own subprocess (so peak memory is that process's ``ru_maxrss``):

* ``spikewise``: :func:`spikewise.spectra.experiment.one_step` (float64, and float32).
* ``naive``: the same written the way papers' notebooks write it (NumPy temporaries,
  ``svdvals(W1)``, ``eigvalsh`` of each Gram, ``svds``/``eigsh`` for the top-5 vectors).
* ``floor``: only the BLAS/LAPACK work any implementation must do: the three GEMMs
  (``X W0``, ``X^T M``, ``X W1``), the three Gram products and ``eigvalsh`` on each Gram.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_pipeline.py --sizes small
    OMP_NUM_THREADS=1 python benchmarks/bench_pipeline.py --sizes large --append

It prints a table and writes it (with the machine description and load averages) to
``benchmarks/RESULTS_pipeline.md``. No timings are asserted anywhere.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

SIZES = {
    "small": [(2000, 1000, 1500), (4000, 2000, 3000)],
    "large": [(8000, 4000, 6000)],
}
SIZES["all"] = SIZES["small"] + SIZES["large"]
SIZES["tiny"] = [(400, 200, 300)]  # smoke test
K_TOP = 5
ETA0 = 3.0
SEED = 12345


# ------------------------------------------------------------------------------------------
# workers (run in a subprocess; thread variables are set before numpy is imported)
# ------------------------------------------------------------------------------------------
def _rss_mb():
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb():
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker_spikewise(n, d, N, dtype, activation, out_npz):
    import numpy as np

    from spikewise.spectra import experiment

    # warm-up: load the cached Numba kernels (compile if the cache is cold)
    experiment.one_step(n=60, d=20, N=30, activation=activation, rng=0, dtype=dtype, k_top=2)
    base = _rss_mb()
    c0, t0 = time.process_time(), time.perf_counter()
    with experiment.stage_times(clock=time.process_time) as stages:
        r = experiment.one_step(
            n=n, d=d, N=N, activation=activation, teacher="relu", eta0=ETA0, rng=SEED,
            spectra=("W1", "ck0", "ck1"), k_top=K_TOP, dtype=dtype,
        )
    total, cpu = time.perf_counter() - t0, time.process_time() - c0
    stages = dict(stages)
    np.savez(out_npz, **{k: v.values for k, v in r.spectra.items()},
             spike=np.array([r.spike.value]), align=r.alignments["W1"][:, 0],
             ck_align=r.alignments["ck1"][:, 0, :])
    return {"total": total, "cpu": cpu, "stages": stages, "base_mb": base,
            "peak_mb": _peak_mb(), "spike": r.spike.value,
            "align_top": float(r.alignments["W1"][0, 0])}


def _act_np(name):
    import numpy as np

    if name == "relu":
        return (lambda z: np.maximum(z, 0)), (lambda z: (z > 0).astype(float))
    if name == "tanh":
        return np.tanh, (lambda z: 1 - np.tanh(z) ** 2)
    raise ValueError(name)


def worker_naive(n, d, N, dtype, activation, out_npz):
    """The pipeline as papers' notebooks write it (no fusion, library defaults)."""
    import numpy as np
    import scipy.linalg
    from numpy.polynomial.hermite_e import hermeval
    from scipy.sparse.linalg import eigsh, svds

    sigma, dsigma = _act_np(activation)
    base = _rss_mb()
    st = {}
    c0, t0 = time.process_time(), time.perf_counter()
    t = c0

    def mark(name):
        nonlocal t
        now = time.process_time()
        st[name] = st.get(name, 0.0) + now - t
        t = now

    rng = np.random.default_rng(SEED)
    beta = rng.standard_normal(d)
    beta /= np.linalg.norm(beta)
    X = rng.standard_normal((n, d))
    y = np.maximum(X @ beta, 0)
    W0 = rng.standard_normal((d, N)) / np.sqrt(d)
    a = rng.standard_normal(N) / np.sqrt(N)
    mark("sample")
    Z = X @ W0
    F0 = sigma(Z)
    yhat = F0 @ a / np.sqrt(N)
    G = X.T @ (((y - yhat)[:, None] * a[None, :]) * dsigma(Z)) / (n * np.sqrt(N))
    W1 = W0 + ETA0 * np.sqrt(N) * G
    mark("step")
    del Z
    sv = scipy.linalg.svdvals(W1)
    mark("svdvals(W1)")
    K0 = F0.T @ F0 / n
    e0 = np.linalg.eigvalsh(K0)
    mark("CK0 Gram + eigvalsh")
    F1 = sigma(X @ W1)
    K1 = F1.T @ F1 / n
    e1 = np.linalg.eigvalsh(K1)
    mark("CK1 Gram + eigvalsh")
    U, s, Vt = svds(W1, k=K_TOP)
    align = (U[:, np.argsort(s)[::-1]].T @ beta) ** 2
    ev, evec = eigsh(K1, k=K_TOP)
    V = F1 @ evec[:, np.argsort(ev)[::-1]]
    V /= np.linalg.norm(V, axis=0)
    z = X @ beta
    H = np.column_stack([hermeval(z, np.eye(4)[k]) for k in (1, 2, 3)])
    H /= np.linalg.norm(H, axis=0)
    ck_align = (V.T @ H) ** 2
    mark("top-5 vectors + alignments")
    us, ss, vts = svds(W1 - W0, k=1)
    mark("spike")
    total, cpu = time.perf_counter() - t0, time.process_time() - c0
    np.savez(out_npz, W1=sv, ck0=e0, ck1=e1, spike=ss, align=align, ck_align=ck_align)
    return {"total": total, "cpu": cpu, "stages": st, "base_mb": base, "peak_mb": _peak_mb(),
            "spike": float(ss[0]), "align_top": float(align[0])}


def worker_floor(n, d, N, dtype, activation, out_npz):
    """Only the GEMMs, Gram products and eigvalsh calls, on random data of the right shapes."""
    import numpy as np

    rng = np.random.default_rng(SEED)
    X = rng.standard_normal((n, d))
    W0 = rng.standard_normal((d, N)) / np.sqrt(d)
    M = np.empty((n, N))
    base = _rss_mb()
    st = {}
    c0, t0 = time.process_time(), time.perf_counter()
    t = c0

    def mark(name):
        nonlocal t
        now = time.process_time()
        st[name] = st.get(name, 0.0) + now - t
        t = now

    np.matmul(X, W0, out=M)
    mark("GEMM X W")
    W1 = X.T @ M
    mark("GEMM X^T M")
    K = M.T @ M
    mark("Gram")
    np.linalg.eigvalsh(K)
    mark("eigen")
    del K
    np.matmul(X, W1, out=M)
    mark("GEMM X W")
    K = M.T @ M
    mark("Gram")
    np.linalg.eigvalsh(K)
    mark("eigen")
    del K
    K = W1 @ W1.T if d <= N else W1.T @ W1
    mark("Gram")
    np.linalg.eigvalsh(K)
    mark("eigen")
    total, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"total": total, "cpu": cpu, "stages": st, "base_mb": base, "peak_mb": _peak_mb()}


WORKERS = {"spikewise": worker_spikewise, "naive": worker_naive, "floor": worker_floor}


# ------------------------------------------------------------------------------------------
# driver
# ------------------------------------------------------------------------------------------
def run_variant(variant, n, d, N, dtype, activation, threads, tmpdir):
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "NUMBA_NUM_THREADS"):
        env[var] = str(threads)
    out_npz = os.path.join(tmpdir, f"{variant}_{dtype}_{n}.npz")
    cmd = [sys.executable, __file__, "--worker", variant, str(n), str(d), str(N), dtype,
           activation, out_npz]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"{variant} failed:\n{res.stderr[-3000:]}")
    out = json.loads(res.stdout.strip().splitlines()[-1])
    out["npz"] = out_npz
    return out


def ks_two_sample(u, v):
    import numpy as np

    u, v = np.sort(u), np.sort(v)
    grid = np.union1d(u, v)
    return float(np.max(np.abs(np.searchsorted(u, grid, "right") / u.size
                               - np.searchsorted(v, grid, "right") / v.size)))


def machine_text():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:  # pragma: no cover
        pass
    import numpy as np
    import scipy

    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{platform.node()}: {os.cpu_count()} x {cpu}, {mem:.0f} GiB RAM, "
            f"Python {platform.python_version()}, numpy {np.__version__}, "
            f"scipy {scipy.__version__} (OpenBLAS)")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", choices=sorted(SIZES), default="small")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--activation", default="relu", choices=("relu", "tanh"))
    p.add_argument("--out", default=os.path.join(os.path.dirname(__file__),
                                                 "RESULTS_pipeline.md"))
    p.add_argument("--append", action="store_true", help="append to --out")
    p.add_argument("--worker", nargs=7, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        variant, n, d, N, dtype, act, out_npz = args.worker[0], *args.worker[1:]
        res = WORKERS[variant](int(n), int(d), int(N), dtype, act, out_npz)
        print(json.dumps(res))
        return

    import numpy as np

    lines = []
    head = (f"\n## Run of {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: "
            f"sizes={args.sizes}, threads={args.threads}, activation={args.activation}, "
            f"eta0={ETA0}, top-k={K_TOP}\n\nMachine: {machine_text()}\n")
    print(head)
    lines.append(head)
    with tempfile.TemporaryDirectory() as tmp:
        for n, d, N in SIZES[args.sizes]:
            load0 = os.getloadavg()
            res = {}
            for variant, dtype in (("floor", "float64"), ("spikewise", "float64"),
                                   ("spikewise", "float32"), ("naive", "float64")):
                key = variant if variant != "spikewise" else f"spikewise {dtype}"
                res[key] = run_variant(variant, n, d, N, dtype, args.activation, args.threads,
                                       tmp)
                print(f"  ({n}, {d}, {N}) {key}: {res[key]['total']:.2f} s", flush=True)
            load1 = os.getloadavg()
            floor = res["floor"]["cpu"]
            naive = res["naive"]
            sw = res["spikewise float64"]
            nwork = naive["peak_mb"] - naive["base_mb"]
            out = [f"\n### (n, d, N) = ({n}, {d}, {N})\n",
                   f"load average before {load0[0]:.2f}, after {load1[0]:.2f} "
                   f"(1-min; {os.cpu_count()} cores shared with other users)\n",
                   "| variant | wall (s) | CPU (s) | CPU / floor | naive / this (CPU) | "
                   "naive / this (wall) | peak RSS (MB) | peak - baseline (MB) | "
                   "working memory vs naive |",
                   "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
            for key, r in res.items():
                work = r["peak_mb"] - r["base_mb"]
                out.append(f"| {key} | {r['total']:.2f} | {r['cpu']:.2f} | "
                           f"{r['cpu'] / floor:.2f} | {naive['cpu'] / r['cpu']:.2f} | "
                           f"{naive['total'] / r['total']:.2f} | {r['peak_mb']:.0f} | "
                           f"{work:.0f} | {work / nwork:.2f} |")
            f64 = np.load(sw["npz"])
            f32 = np.load(res["spikewise float32"]["npz"])
            nv = np.load(naive["npz"])
            ks = {k: ks_two_sample(f64[k], f32[k]) for k in ("W1", "ck0", "ck1")}
            rel = {}
            for k in ("W1", "ck0", "ck1"):
                u, v = np.sort(f64[k])[-K_TOP:], np.sort(nv[k])[-K_TOP:]
                rel[k] = float(np.max(np.abs(u - v) / np.abs(v)))
            out.append("")
            s32 = res["spikewise float32"]
            out.append("float32 vs float64 (spikewise): speed-up "
                       f"{sw['cpu'] / s32['cpu']:.2f}x (CPU), "
                       f"{sw['total'] / s32['total']:.2f}x (wall); KS distance "
                       + ", ".join(f"{k} {v:.1e}" for k, v in ks.items()))
            out.append("")
            out.append("spikewise float64 vs naive, top-5 values, max relative difference: "
                       + ", ".join(f"{k} {v:.1e}" for k, v in rel.items())
                       + f"; spike {sw['spike']:.6f} vs {naive['spike']:.6f}; "
                       f"top W1 alignment {sw['align_top']:.4f} vs {naive['align_top']:.4f}")
            out.append("")
            out.append("CPU time per stage (s):\n")
            for key, r in res.items():
                stages = ", ".join(f"{k} {v:.2f}" for k, v in
                                   sorted(r["stages"].items(), key=lambda kv: -kv[1]))
                out.append(f"- {key}: {stages}")
            text = "\n".join(out) + "\n"
            print(text, flush=True)
            lines.append(text)
    mode = "a" if args.append and os.path.exists(args.out) else "w"
    with open(args.out, mode) as fh:
        if mode == "w":
            fh.write("# One-step pipeline benchmark (benchmarks/bench_pipeline.py)\n\n"
                     "Generated by the script. Each variant runs in its own process with "
                     "one BLAS and one Numba thread; CPU time (process_time) is reported "
                     "beside wall time because the 2-core machine is shared (wall time "
                     "includes waiting for a core). Peak RSS = ru_maxrss; baseline = RSS "
                     "after imports and warm-up, so 'peak - baseline' is the pipeline's "
                     "working memory. The floor's baseline already holds X, W0 and one "
                     "n x N buffer.\n")
        fh.writelines(lines)


if __name__ == "__main__":
    main()
