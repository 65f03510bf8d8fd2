"""Generalized Marchenko–Pastur with many population atoms: speed and accuracy (not a test).

The population is an empirical spectrum: the eigenvalues of ``X^T X / (2K)`` for a
``2K x K`` standard Gaussian ``X`` (K distinct atoms in about [0.09, 2.9]), and ``ratio`` is
0.5. For K = 1000, 2000 and 5000 it times, on one thread,

* "cold": building the law, its support and the density on 10^4 points spread over
  ``[lower, upper]``;
* "warm": the density again on the same law object;
* m(z) on 10^4 complex points (real part uniform over the support widened by 20%,
  imaginary part log-uniform in [1e-4, 1] times the top edge);

with wall and CPU (``process_time``) seconds, and compares

* with the solver as it was before the atomic support search and the continuation (the
  module ``src/spikewise/solvers/generalized_mp.py`` at commit ``--old``, loaded from git and
  run in its own process under a time limit): largest density difference relative to the
  largest density (points within 1e-9 of the width of an edge left out: the density is
  ~ sqrt(distance) there), and largest relative difference of the edges;
* with 30-digit mpmath (:func:`spikewise.solvers._precision.mp_stieltjes`: Newton at 30
  digits from the solver's root, the root in the upper half plane being unique) at 12
  points of the support.

It also reports the widely separated population ``(delta_1e-8 + delta_1e8)/2`` (issue 13):
total mass ``int pdf + atoms`` with the new and the old solver.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_gmp_atoms.py [--old COMMIT] [--old-timeout S]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import textwrap
import time

import numpy as np
import scipy

from spikewise.solvers import _precision as P
from spikewise.solvers.generalized_mp import GeneralizedMarchenkoPastur

N_POINTS = 10_000
RATIO = 0.5
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def population(k, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2 * k, k))
    return np.linalg.eigvalsh(x.T @ x / (2 * k))


def grids(law, seed=1):
    rng = np.random.default_rng(seed)
    lo, hi = law.lower, law.upper
    w = hi - lo
    x = np.linspace(lo, hi, N_POINTS)
    z = rng.uniform(lo - 0.2 * w, hi + 0.2 * w, N_POINTS) + 1j * hi * 10.0 ** rng.uniform(
        -4, 0, N_POINTS)
    return x, z


def timed(f):
    w0, c0 = time.perf_counter(), time.process_time()
    out = f()
    return time.perf_counter() - w0, time.process_time() - c0, out


_OLD_SCRIPT = textwrap.dedent(
    r"""
    import importlib.util, json, sys, time
    import numpy as np
    path, tfile, xfile, out = sys.argv[1:5]
    spec = importlib.util.spec_from_file_location("gmp_old", path)
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    t = np.load(tfile); x = np.load(xfile)
    w0, c0 = time.perf_counter(), time.process_time()
    law = mod.GeneralizedMarchenkoPastur(ratio=float(sys.argv[5]), population=t)
    pdf = law.pdf(x)
    res = {"wall": time.perf_counter() - w0, "cpu": time.process_time() - c0}
    np.savez(out, pdf=pdf, edges=law.edges)
    print(json.dumps(res))
    """
)


def old_module(commit, tmp):
    src = subprocess.run(
        ["git", "-C", ROOT, "show", f"{commit}:src/spikewise/solvers/generalized_mp.py"],
        capture_output=True, text=True, check=True,
    ).stdout
    path = os.path.join(tmp, "gmp_old.py")
    with open(path, "w") as fh:
        fh.write(src)
    return path


def run_old(path, t, x, ratio, timeout, tmp):
    tf, xf, of = (os.path.join(tmp, f) for f in ("t.npy", "x.npy", "out.npz"))
    np.save(tf, t)
    np.save(xf, x)
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    try:
        proc = subprocess.run([sys.executable, "-c", _OLD_SCRIPT, path, tf, xf, of, str(ratio)],
                              capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return None, f"did not finish within {timeout} s (wall)"
    if proc.returncode != 0:
        return None, "failed: " + (proc.stderr.strip().splitlines() or ["?"])[-1][:80]
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    data = np.load(of)
    res["pdf"], res["edges"] = data["pdf"], data["edges"]
    return res, ""


def fmt(t):
    return "n/a" if t is None else (f"{t * 1e3:.0f} ms" if t < 1 else f"{t:.2f} s")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,2000,5000")
    parser.add_argument("--old", default="801b5ed", help="commit of the previous solver")
    parser.add_argument("--old-timeout", type=int, default=300)
    args = parser.parse_args(argv)
    load0 = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        old_path = old_module(args.old, tmp) if args.old else None
        for k in (int(v) for v in args.sizes.split(",")):
            t = population(k)
            probe = GeneralizedMarchenkoPastur(ratio=RATIO, population=t)
            x, z = grids(probe)

            def cold(t=t, x=x):
                law = GeneralizedMarchenkoPastur(ratio=RATIO, population=t)
                return law, law.pdf(x)

            w_cold, c_cold, (law, pdf) = timed(cold)
            w_warm, c_warm, _ = timed(lambda law=law, x=x: law.pdf(x))
            w_m, c_m, _ = timed(lambda law=law, z=z: law.stieltjes(z))
            idx = np.linspace(0, N_POINTS - 1, 14).astype(int)[1:-1]
            ref = np.array([complex(P.mp_stieltjes(float(v), law, dps=30)).imag / np.pi
                            for v in x[idx]])
            err_mp = float(np.max(np.abs(pdf[idx] - ref)) / np.max(pdf))
            old, note = (run_old(old_path, t, x, RATIO, args.old_timeout, tmp)
                         if old_path else (None, "not run"))
            if old is not None:
                a, b = law.lower, law.upper
                far = np.min(np.abs(x[:, None] - law.edges[None, :]), axis=1) > 1e-9 * (b - a)
                err_old = float(np.max(np.abs(pdf[far] - old["pdf"][far])) / np.max(pdf))
                if old["edges"].shape == law.edges.shape:
                    e_edges = float(np.max(np.abs(old["edges"] - law.edges) / law.edges))
                else:
                    e_edges = float("nan")
                note = (f"old vs new: density {err_old:.1e}, edges {e_edges:.1e}")
            rows.append((k, len(law.support), w_cold, c_cold, w_warm, c_warm, w_m, c_m,
                         None if old is None else old["wall"],
                         None if old is None else old["cpu"], err_mp, note))
            print(rows[-1][:11], note, flush=True)
        # the widely separated population of issue 13
        sep = GeneralizedMarchenkoPastur(ratio=0.5, population=([1e-8, 1e8], [0.5, 0.5]))
        mass_new = sum(b[2] for b in sep.bulks) + float(np.sum(sep.atoms[1]))
        mass_old = "n/a"
        if old_path:
            code = ("import importlib.util,sys; s=importlib.util.spec_from_file_location('o', "
                    "sys.argv[1]); m=importlib.util.module_from_spec(s); "
                    "s.loader.exec_module(m); law=m.GeneralizedMarchenkoPastur(ratio=0.5, "
                    "population=([1e-8, 1e8], [0.5, 0.5])); "
                    "print(sum(b[2] for b in law.bulks) + sum(law.atoms[1]))")
            out = subprocess.run([sys.executable, "-c", code, old_path], capture_output=True,
                                 text=True, timeout=120)
            mass_old = out.stdout.strip() or "failed"
    load1 = os.getloadavg()
    header = (
        "| atoms | bulks | cold: build + support + density (wall / CPU) | density warm "
        "(wall / CPU) | m(z) 10^4 pts (wall / CPU) | previous solver, cold (wall / CPU) "
        "| max err density vs 30-digit mpmath | previous vs new |\n"
        "|---:|---:|---|---|---|---|---|---|"
    )
    lines = [header]
    for r in rows:
        old_t = "n/a" if r[8] is None else f"{fmt(r[8])} / {fmt(r[9])}"
        lines.append(
            f"| {r[0]} | {r[1]} | {fmt(r[2])} / {fmt(r[3])} | {fmt(r[4])} / {fmt(r[5])} | "
            f"{fmt(r[6])} / {fmt(r[7])} | {old_t} | {r[10]:.1e} | {r[11]} |"
        )
    table = "\n".join(lines)
    sep_line = (f"Population (delta_1e-8 + delta_1e8)/2, ratio 0.5: int pdf + atoms = "
                f"{mass_new!r} (new), {mass_old} (previous solver, commit {args.old}).")
    machine = (
        f"Machine: {os.cpu_count()} cores (nproc); Python {platform.python_version()}, numpy "
        f"{np.__version__}, scipy {scipy.__version__}; OMP_NUM_THREADS="
        f"{os.environ.get('OMP_NUM_THREADS', 'unset')}. Load average (1 min) {load0[0]:.2f} at "
        f"start, {load1[0]:.2f} at end (shared machine: CPU seconds are the steadier figure). "
        "One run each."
    )
    print()
    print(table)
    print()
    print(sep_line)
    print()
    print(machine)


if __name__ == "__main__":
    sys.exit(main())
