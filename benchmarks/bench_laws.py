"""Benchmark of the spectral laws of spikewise.solvers (prints a table; not a test).

For four laws -- Marchenko–Pastur (MP), generalized MP with 2 and with 50 population atoms
(GMP-2, GMP-50) and the conjugate-kernel law (CK, tanh, psi = 2, phi = 1) -- it times

* the density on a grid of 10^4 real points ("cold": building the law, its support and the
  density; "warm": the density again on the same law object), and
* the Stieltjes transform m(z) on 10^4 complex points x + i y (y log-uniform in
  [1e-4, 1] times the top edge),

and reports the largest error against an independent reference: the MP closed form (for MP
and for the generalized solver run with H = delta_1), or 30-digit mpmath
(:mod:`spikewise.solvers._precision`, polynomial roots with the physical root chosen by
theory) on a subsample of the points. Density errors are absolute, relative to the largest
density value; m errors are relative.

Peers (freealg, rmtool) run in their own virtual environment (``--peers PYTHON``, default
``/work/benchvenv/bin/python`` if it exists; they are never spikewise dependencies), on the
same points, each call under a time limit; their errors are measured here against the same
references.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_laws.py [--peers PYTHON] [--out FILE.md]
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
import warnings

import numpy as np
import scipy

from spikewise.solvers import _precision as P
from spikewise.solvers.conjugate_kernel import conjugate_kernel_law
from spikewise.solvers.generalized_mp import GeneralizedMarchenkoPastur
from spikewise.solvers.marchenko_pastur import MarchenkoPastur

N_POINTS = 10_000
RNG = np.random.default_rng(2024)
T50 = np.sort(RNG.uniform(0.5, 5.0, 50))


def _cases():
    act_name = "tanh"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ck = conjugate_kernel_law(act_name, psi=2.0, phi=1.0)
    return {
        "MP (ratio 0.5)": {
            "build": lambda: MarchenkoPastur(ratio=0.5),
            "gmp_build": lambda: GeneralizedMarchenkoPastur(ratio=0.5, population=[1.0]),
            "peer": {"kind": "mp", "c": 0.5},
        },
        "GMP 2 atoms": {
            "build": lambda: GeneralizedMarchenkoPastur(
                ratio=0.5, population=[1.0, 3.0], weights=[0.5, 0.5]
            ),
            "peer": {"kind": "gmp", "c": 0.5, "t": [1.0, 3.0], "w": [0.5, 0.5]},
            "n_ref": 300,
        },
        "GMP 50 atoms": {
            "build": lambda: GeneralizedMarchenkoPastur(ratio=0.3, population=T50),
            "peer": {"kind": "gmp", "c": 0.3, "t": T50.tolist(), "w": [0.02] * 50},
            "n_ref": 40,
        },
        "CK tanh (psi 2, phi 1)": {
            "build": lambda: conjugate_kernel_law(act_name, psi=2.0, phi=1.0).feature_law,
            "peer": {
                "kind": "ck", "c": 0.5, "phi": 1.0, "mu1sq": ck.mu1**2, "mustar2": ck.mu_star2,
            },
            "n_ref": 150,
        },
    }


def _grids(law):
    lo, hi = law.lower, law.upper
    w = hi - lo
    x = np.linspace(lo - 0.05 * w, hi + 0.05 * w, N_POINTS)
    zx = RNG.uniform(lo - 0.2 * w, hi + 0.2 * w, N_POINTS)
    zy = hi * 10.0 ** RNG.uniform(-4, 0, N_POINTS)
    return x, zx + 1j * zy


def _best_time(f, reps=5):
    best, out = np.inf, None
    for _ in range(reps):
        t0 = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t0)
    return best, out


def _mp_reference(law, x, z, n_ref):
    """30-digit m at a subsample: density from Im m(x + i0) / pi."""
    idx_x = np.unique(np.linspace(0, x.size - 1, n_ref).astype(int))
    idx_z = np.unique(np.linspace(0, z.size - 1, n_ref).astype(int))
    pdf_ref = np.array([complex(P.mp_stieltjes(float(v), law, dps=30)).imag / np.pi
                        if law._inside(np.array([v]))[0] else 0.0 for v in x[idx_x]])
    m_ref = np.array([complex(P.mp_stieltjes(complex(v), law, dps=30)) for v in z[idx_z]])
    return idx_x, pdf_ref, idx_z, m_ref


_PEER_SCRIPT = textwrap.dedent(
    r"""
    import json, sys, time, warnings
    import numpy as np
    warnings.simplefilter("ignore")
    spec = json.loads(sys.argv[1]); tool = sys.argv[2]; xfile, zfile, out = sys.argv[3:6]
    x = np.load(xfile); z = np.load(zfile)
    res = {"pdf_time": None, "m_time": None, "note": ""}
    def timed(f):
        t0 = time.perf_counter(); v = f(); return time.perf_counter() - t0, v
    if tool == "freealg":
        from freealg import distributions as D
        if spec["kind"] == "mp":
            law = D.MarchenkoPastur(spec["c"], 1.0)
            t, pdf = timed(lambda: law.density(x))
            tm, m = timed(lambda: law.stieltjes(z=z, alt_branch=False))
        elif spec["kind"] == "gmp":
            law = D.DeformedMarchenkoPastur(np.array(spec["t"]), np.array(spec["w"]), spec["c"])
            t, pdf = timed(lambda: law.density(x))
            tm, m = timed(lambda: law.stieltjes(z))
            res["note"] = "density at x + 1e-3 i (its default eta)"
        else:
            res["note"] = "no continuous-population law"
            np.savez(out, pdf=np.zeros(0), m=np.zeros(0)); print(json.dumps(res)); sys.exit()
        res["pdf_time"], res["m_time"] = t, tm
        np.savez(out, pdf=np.asarray(pdf, float), m=np.asarray(m, complex))
    else:
        import rmtool as R
        t0 = time.perf_counter()
        if spec["kind"] == "mp":
            L = R.wishartpol(spec["c"])
        elif spec["kind"] == "gmp":
            L = R.AtimesWish(R.atomLmz(spec["t"], spec["w"]), spec["c"])
        else:
            A = R.shiftA(R.scaleA(R.wishartpol(spec["phi"]), round(spec["mu1sq"], 12)),
                         round(spec["mustar2"], 12))
            L = R.AtimesWish(A, spec["c"])
            res["note"] = "mu1^2, mu*^2 rounded to 12 digits (symbolic rationals)"
        t_build = time.perf_counter() - t0
        t, info = timed(lambda: R.Lmz2pdf(L, x))
        pdf = info.best_density()
        res["pdf_time"] = t + t_build
        res["note"] = (res["note"] + "; " if res["note"] else "") + (
            f"symbolic build {t_build:.2f} s included; largest-Im root; no complex m(z)")
        np.savez(out, pdf=np.nan_to_num(np.asarray(pdf, float)), m=np.zeros(0))
    print(json.dumps(res))
    """
)


def _run_peer(python, tool, spec, x, z, timeout):
    with tempfile.TemporaryDirectory() as tmp:
        xf, zf, of = (os.path.join(tmp, f) for f in ("x.npy", "z.npy", "out.npz"))
        np.save(xf, x)
        np.save(zf, z)
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
        try:
            proc = subprocess.run(
                [python, "-c", _PEER_SCRIPT, json.dumps(spec), tool, xf, zf, of],
                capture_output=True, text=True, timeout=timeout, env=env,
            )
        except subprocess.TimeoutExpired:
            return {"note": f"did not finish within {timeout} s"}, None
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["?"])[-1]
            return {"note": f"failed: {last[:80]}"}, None
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        data = np.load(of)
        return res, {"pdf": data["pdf"], "m": data["m"]}


def _peer_errors(vals, law, x, idx_x, pdf_ref, idx_z, m_ref):
    """Errors of a peer's values against the same references, and where the worst is."""
    if vals is None:
        return None, None, ""
    e_pdf = e_m = None
    where = ""
    if vals["pdf"].size:
        err = np.abs(vals["pdf"][idx_x] - pdf_ref) / np.max(pdf_ref)
        e_pdf = float(np.max(err))
        if e_pdf > 1e-6:
            xw = float(x[idx_x][np.argmax(err)])
            side = "inside" if law._inside(np.array([xw]))[0] else "outside"
            where = f"worst density error at x = {xw:.4g} ({side} the support)"
    if vals["m"].size:
        e_m = float(np.max(np.abs(vals["m"][idx_z] - m_ref) / np.abs(m_ref)))
    return e_pdf, e_m, where


def _fmt_t(t):
    if t is None:
        return "n/a"
    return f"{t * 1e3:.1f} ms" if t < 1 else f"{t:.2f} s"


def _fmt_e(e):
    return "n/a" if e is None or not np.isfinite(e) else f"{e:.1e}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_peer = "/work/benchvenv/bin/python"
    parser.add_argument("--peers", default=default_peer if os.path.exists(default_peer) else "")
    parser.add_argument("--out", default="")
    parser.add_argument("--peer-timeout", type=int, default=120)
    args = parser.parse_args(argv)

    load0 = os.getloadavg()
    rows = []
    for name, case in _cases().items():
        law_probe = case["build"]()
        x, z = _grids(law_probe)
        t_cold, (law, pdf) = _best_time(lambda case=case, x=x: _cold(case["build"], x))
        t_warm, _ = _best_time(lambda law=law, x=x: law.pdf(x))
        t_m, m = _best_time(lambda law=law, z=z: law.stieltjes(z))
        if "gmp_build" in case:  # MP: closed form vs mpmath, GMP(delta_1) vs closed form
            idx = np.unique(np.linspace(0, N_POINTS - 1, 300).astype(int))
            m_mp = np.array([complex(P.mp_marchenko_pastur_stieltjes(complex(v), ratio=0.5))
                             for v in z[idx]])
            err_pdf = 0.0  # the closed form is the reference itself
            err_m = float(np.max(np.abs(m[idx] - m_mp) / np.abs(m_mp)))
            rows.append((name, "spikewise (closed form)", t_cold, t_warm, t_m, err_pdf, err_m,
                         "m vs 30-digit mpmath at 300 points"))
            gt_cold, (glaw, gpdf) = _best_time(lambda case=case, x=x: _cold(case["gmp_build"], x))
            gt_warm, _ = _best_time(lambda glaw=glaw, x=x: glaw.pdf(x))
            gt_m, gm = _best_time(lambda glaw=glaw, z=z: glaw.stieltjes(z))
            e1 = float(np.max(np.abs(gpdf - pdf)) / np.max(pdf))
            e2 = float(np.max(np.abs(gm - m) / np.abs(m)))
            rows.append((name, "spikewise (GMP solver, H = delta_1)", gt_cold, gt_warm, gt_m,
                         e1, e2, "vs closed form, all 10^4 points"))
            idx_x, pdf_ref = np.arange(N_POINTS), pdf
            idx_z, m_ref = np.arange(N_POINTS), m
        else:
            idx_x, pdf_ref, idx_z, m_ref = _mp_reference(law, x, z, case["n_ref"])
            scale = np.max(pdf_ref)
            err_pdf = float(np.max(np.abs(pdf[idx_x] - pdf_ref)) / scale)
            err_m = float(np.max(np.abs(m[idx_z] - m_ref) / np.abs(m_ref)))
            rows.append((name, "spikewise", t_cold, t_warm, t_m, err_pdf, err_m,
                         f"vs 30-digit mpmath at {idx_x.size} + {idx_z.size} points"))
        if args.peers:
            for tool in ("freealg", "rmtool"):
                res, vals = _run_peer(args.peers, tool, case["peer"], x, z, args.peer_timeout)
                e_pdf, e_m, where = _peer_errors(vals, law, x, idx_x, pdf_ref, idx_z, m_ref)
                note = "; ".join(n for n in (res.get("note", ""), where) if n)
                rows.append((name, tool, res.get("pdf_time"), None, res.get("m_time"), e_pdf,
                             e_m, note))
        else:
            rows.append((name, "freealg / rmtool", None, None, None, None, None,
                         "peer environment not given (--peers)"))
    load1 = os.getloadavg()

    header = (
        "| law | implementation | density 10^4 pts (cold) | density (warm) | m(z) 10^4 pts "
        "| max err density | max err m | reference / note |\n"
        "|---|---|---|---|---|---|---|---|"
    )
    lines = [header]
    for r in rows:
        lines.append(
            f"| {r[0]} | {r[1]} | {_fmt_t(r[2])} | {_fmt_t(r[3])} | {_fmt_t(r[4])} | "
            f"{_fmt_e(r[5])} | {_fmt_e(r[6])} | {r[7]} |"
        )
    table = "\n".join(lines)
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    peer_versions = ""
    if args.peers:
        try:
            out = subprocess.run(
                [args.peers, "-c", "import freealg, rmtool; print(freealg.__version__, "
                 "rmtool.__version__)"], capture_output=True, text=True, timeout=120,
            ).stdout.split()
            peer_versions = f"freealg {out[0]}, rmtool {out[1]}"
        except Exception:  # noqa: BLE001 - informative only
            peer_versions = "peer versions unknown"
    machine = (
        f"Machine: {os.cpu_count()} cores (nproc), {cpu}; Python {platform.python_version()}, "
        f"numpy {np.__version__}, scipy {scipy.__version__}; {peer_versions}. "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}. Load average "
        f"(1 min) {load0[0]:.2f} at start, {load1[0]:.2f} at end (the machine is shared). "
        "Times are the best of 5 runs (peers: one run)."
    )
    print(table)
    print()
    print(machine)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write("# Spectral laws: speed and accuracy\n\n")
            fh.write("Produced by `benchmarks/bench_laws.py` (see its docstring for what is "
                     "timed and the references).\n\n")
            fh.write(table + "\n\n" + machine + "\n")


def _cold(build, x):
    law = build()
    return law, law.pdf(x)


if __name__ == "__main__":
    sys.exit(main())
