"""Shared machinery of the outlier engines (private): the result, the float64 and mpmath
arithmetic contexts, and real-axis access to a law's Stieltjes transform."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import mpmath
import numpy as np
from scipy.optimize import brentq

from spikewise._validation import (
    ConvergenceError,
    InvalidParameterError,
    check_array,
    check_scalar,
)
from spikewise.solvers._law import _default_stieltjes_mp

# --------------------------------------------------------------------------------------------
# Result
# --------------------------------------------------------------------------------------------


def _frozen(arr) -> np.ndarray:
    out = np.array(arr, dtype=float, copy=True)
    out.setflags(write=False)
    return out


@dataclass(frozen=True)
class OutlierPrediction:
    """Asymptotic outliers of a finite-rank perturbation of a bulk law (one entry per spike).

    Attributes
    ----------
    model : str
        ``"hermitian additive"``, ``"rectangular additive"`` or ``"spiked covariance"``.
    kind : str
        ``"eigen"`` or ``"singular"``: what ``positions`` and ``edges`` are.
    strengths : ndarray
        The spike strengths as given (``theta_i``, or the population spikes ``alpha_i``).
    positions : ndarray
        Limit of the eigen-/singular value attached to each spike: the outlier where there is
        one, otherwise the bulk edge it sticks to (NaN for a covariance spike inside the
        population's support, which is absorbed in the bulk).
    is_outlier : ndarray of bool
        Whether the spike produces an outlier.
    thresholds : ndarray
        The strength at which the spike separates from the bulk on its side, in the units of
        ``strengths`` (a spike is an outlier iff it is strictly beyond it).
    edges : ndarray
        The bulk edge on the spike's side.
    excess : ndarray
        ``positions - edges`` computed at the working precision (meaningful near a threshold
        with ``dps``, where the difference of the two float64 values is not); 0 without outlier.
    overlaps : ndarray
        Squared overlap of the outlier's eigenvector (left singular vector for the rectangular
        model) with the spike's direction; 0 without outlier.
    overlaps_right : ndarray or None
        Rectangular model only: squared overlap of the right singular vector with ``v_i``.
    bulk_support : tuple of float
        ``(lower edge, upper edge)`` of the bulk.
    params : dict
        Labels: the model's parameters and the bulk law's ``params``.
    """

    model: str
    kind: str
    strengths: np.ndarray
    positions: np.ndarray
    is_outlier: np.ndarray
    thresholds: np.ndarray
    edges: np.ndarray
    excess: np.ndarray
    overlaps: np.ndarray
    overlaps_right: np.ndarray | None = None
    bulk_support: tuple = (math.nan, math.nan)
    params: dict = field(default_factory=dict)

    def __post_init__(self):
        for name in ("strengths", "positions", "thresholds", "edges", "excess", "overlaps"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))
        flags = np.array(self.is_outlier, dtype=bool, copy=True)
        flags.setflags(write=False)
        object.__setattr__(self, "is_outlier", flags)
        if self.overlaps_right is not None:
            object.__setattr__(self, "overlaps_right", _frozen(self.overlaps_right))

    def __len__(self) -> int:
        return int(self.strengths.size)

    @property
    def flags(self) -> tuple[str, ...]:
        """``"outlier"`` or ``"no outlier"`` for each spike."""
        return tuple("outlier" if f else "no outlier" for f in self.is_outlier)

    @property
    def n_outliers(self) -> int:
        """Number of spikes that produce an outlier."""
        return int(np.count_nonzero(self.is_outlier))

    @property
    def outliers(self) -> np.ndarray:
        """Positions of the outliers only (in the order of the spikes)."""
        return self.positions[self.is_outlier]

    @property
    def overlaps_left(self) -> np.ndarray:
        """Alias of ``overlaps`` (the left singular vector for the rectangular model)."""
        return self.overlaps

    def to_dict(self) -> dict:
        """Per-spike columns as plain lists (e.g. for ``pandas.DataFrame``), plus the labels."""
        out = {
            "strength": self.strengths.tolist(),
            "threshold": self.thresholds.tolist(),
            "position": self.positions.tolist(),
            "edge": self.edges.tolist(),
            "excess": self.excess.tolist(),
            "overlap": self.overlaps.tolist(),
            "flag": list(self.flags),
        }
        if self.overlaps_right is not None:
            out["overlap_right"] = self.overlaps_right.tolist()
        out["model"] = [self.model] * len(self)
        out["kind"] = [self.kind] * len(self)
        return out

    def summary(self) -> str:
        """A plain-text table, one row per spike."""
        head = f"{self.model} ({self.kind} values), bulk [{self.bulk_support[0]:.6g}, "
        head += f"{self.bulk_support[1]:.6g}]"
        cols = ["strength", "threshold", "position", "edge", "overlap"]
        if self.overlaps_right is not None:
            cols = cols[:-1] + ["overlap_left", "overlap_right"]
        lines = [head, "  ".join(f"{c:>13}" for c in cols) + "  flag"]
        for i in range(len(self)):
            vals = [self.strengths[i], self.thresholds[i], self.positions[i], self.edges[i],
                    self.overlaps[i]]
            if self.overlaps_right is not None:
                vals.append(self.overlaps_right[i])
            lines.append("  ".join(f"{v:13.6g}" for v in vals) + "  " + self.flags[i])
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Arithmetic contexts: float64 (SciPy brentq) or mpmath (bisection at dps digits)
# --------------------------------------------------------------------------------------------


class _FloatContext:
    inf = math.inf

    def num(self, x):
        return float(x)

    def sqrt(self, x):
        return math.sqrt(x)

    def isfinite(self, x):
        return math.isfinite(x)

    def root(self, f, a, b, fa, fb):
        """Root of f on [a, b] with a sign change; fa, fb the (possibly limiting) end values."""
        if fa == 0:
            return a
        if fb == 0:
            return b

        big = 1e300
        fa = fa if math.isfinite(fa) else math.copysign(big, fa)
        fb = fb if math.isfinite(fb) else math.copysign(big, fb)

        def g(x):
            if x == a:
                return fa
            if x == b:
                return fb
            return f(x)

        try:
            root, info = brentq(g, a, b, xtol=1e-300, rtol=4 * np.finfo(float).eps,
                                maxiter=500, full_output=True, disp=False)
        except ValueError as exc:  # no sign change: the law's transform is inconsistent
            raise ConvergenceError(
                f"no root of the outlier equation between z = {a} and z = {b} (values {fa} "
                f"and {fb} have the same sign)"
            ) from exc
        if not info.converged:
            raise ConvergenceError(
                f"the outlier equation did not converge near z = {root} (residual "
                f"{g(root)}) after {info.iterations} iterations"
            )
        return root

    def argmax(self, f, a, b):
        lo, hi = a, b
        golden = (math.sqrt(5.0) - 1.0) / 2.0
        for _ in range(200):
            if hi - lo <= 4 * np.finfo(float).eps * max(abs(lo), abs(hi)):
                break
            x1 = hi - golden * (hi - lo)
            x2 = lo + golden * (hi - lo)
            if f(x1) < f(x2):
                lo = x1
            else:
                hi = x2
        return 0.5 * (lo + hi)


class _MpContext:
    inf = mpmath.inf

    def __init__(self, dps: int):
        self.dps = dps

    def num(self, x):
        return mpmath.mpf(x)

    def sqrt(self, x):
        return mpmath.sqrt(x)

    def isfinite(self, x):
        return mpmath.isfinite(x)

    def root(self, f, a, b, fa, fb):
        """Bisection (robust at square-root edges) to the working precision."""
        if fa == 0:
            return a
        if fb == 0:
            return b
        sa = fa > 0
        tol = mpmath.mpf(2) ** (-mpmath.mp.prec + 2)
        for _ in range(20 * mpmath.mp.prec):
            mid = (a + b) / 2
            if b - a <= tol * max(abs(a), abs(b)) or mid in (a, b):
                return mid
            fm = f(mid)
            if fm == 0:
                return mid
            if (fm > 0) == sa:
                a = mid
            else:
                b = mid
        raise ConvergenceError(  # pragma: no cover - bisection always halves
            f"mpmath bisection did not converge on [{a}, {b}]"
        )

    def argmax(self, f, a, b):
        lo, hi = mpmath.mpf(a), mpmath.mpf(b)
        golden = (mpmath.sqrt(5) - 1) / 2
        tol = mpmath.mpf(2) ** (-mpmath.mp.prec // 2)
        while hi - lo > tol * max(abs(lo), abs(hi), 1):
            x1 = hi - golden * (hi - lo)
            x2 = lo + golden * (hi - lo)
            if f(x1) < f(x2):
                lo = x1
            else:
                hi = x2
        return (lo + hi) / 2


def _context(dps, owner):
    if dps is None:
        return _FloatContext()
    dps = check_scalar(dps, "dps", owner, kind="int", lower=16, allow_none=False)
    return _MpContext(dps)


# --------------------------------------------------------------------------------------------
# Real-axis access to a law's Stieltjes transform
# --------------------------------------------------------------------------------------------


def _support_pieces(law, name: str, owner: str):
    """Merged, sorted closed pieces ``[lo, hi]`` of supp(law) ∪ atoms, and the atom set."""
    bad = InvalidParameterError(
        f"The {name!r} parameter of {owner} must be a spectral law (with 'stieltjes', "
        f"'support' and 'atoms') whose support is non-empty and finite. Got {law!r} instead."
    )
    if not hasattr(law, "stieltjes") or not hasattr(law, "support"):
        raise bad
    support = law.support if isinstance(law.support, list) else law.support()
    pieces = []
    try:
        for lo, hi in list(support or []):
            lo, hi = float(lo), float(hi)
            if not (math.isfinite(lo) and math.isfinite(hi)) or hi < lo:
                raise bad
            pieces.append([lo, hi])
        atoms = getattr(law, "atoms", None)
        atoms = atoms() if callable(atoms) else atoms
        atom_locs: list[float] = []
        if atoms is not None and len(atoms) == 2:
            locs = np.atleast_1d(np.asarray(atoms[0], dtype=float))
            masses = np.atleast_1d(np.asarray(atoms[1], dtype=float))
            for x, w in zip(locs, masses, strict=True):
                if w > 0:
                    if not math.isfinite(x):
                        raise bad
                    atom_locs.append(float(x))
                    pieces.append([float(x), float(x)])
    except (TypeError, ValueError) as exc:
        raise bad from exc
    if not pieces:
        raise bad
    pieces.sort()
    merged = [pieces[0]]
    for lo, hi in pieces[1:]:
        if lo <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return [tuple(p) for p in merged], frozenset(atom_locs)


def _mp_transform(law):
    """mpmath ``(m, m', exact_edges)`` on the real axis off the support, or None.

    A :class:`SpectralLaw` answers through its ``_stieltjes_mp`` hook (closed form for
    :class:`MarchenkoPastur`, affine images and Gram flips of laws that have one); any other
    object through :func:`spikewise.solvers._law._default_stieltjes_mp` (a public
    ``stieltjes_mp``, or atoms only).
    """
    hook = getattr(law, "_stieltjes_mp", None)
    return hook() if callable(hook) else _default_stieltjes_mp(law)


class _Bulk:
    """A law's ``m`` and ``m'`` on the real axis outside its support, in a given context."""

    def __init__(self, law, *, owner: str, name: str, ctx):
        self.law = law
        self.ctx = ctx
        self.pieces, self.atoms = _support_pieces(law, name, owner)
        self.lo = self.pieces[0][0]
        self.hi = self.pieces[-1][1]
        self.scale = max(abs(self.lo), abs(self.hi), self.hi - self.lo, 1e-300)
        self.params = dict(getattr(law, "params", {}) or {})
        self._mp = None
        self._exact: dict = {}
        if isinstance(ctx, _MpContext):
            self._mp = _mp_transform(law)
            if self._mp is None:
                raise InvalidParameterError(
                    f"The 'dps' parameter of {owner} needs a law with an mpmath Stieltjes "
                    f"transform (MarchenkoPastur, a law of atoms, their affine images and Gram "
                    f"flips, or a law offering 'stieltjes_mp'). Got {type(law).__name__} "
                    "instead; use dps=None."
                )
            self._exact = self._mp[2]

    def exact(self, edge: float):
        """The edge as a number of the context (exact in mpmath when the law knows it)."""
        if edge in self._exact:
            return self._exact[edge]
        return self.ctx.num(edge)

    # float64 evaluations ------------------------------------------------------------------
    def _m_float(self, x: float) -> float:
        val = complex(np.asarray(self.law.stieltjes(float(x))).reshape(-1)[0])
        return val.real

    def _dm_float(self, x: float) -> float:
        if hasattr(self.law, "dstieltjes"):
            val = complex(np.asarray(self.law.dstieltjes(float(x))).reshape(-1)[0])
            return val.real
        # complex step: m is analytic and real off the support, so m'(x) = Im m(x + ih)/h
        h = 1e-20 * self.scale
        val = complex(np.asarray(self.law.stieltjes(complex(float(x), h))).reshape(-1)[0])
        return val.imag / h

    def m(self, x):
        if self._mp is not None:
            return self._mp[0](x)
        return self._m_float(x)

    def dm(self, x):
        if self._mp is not None:
            return self._mp[1](x)
        return self._dm_float(x)

    # limits at an edge ----------------------------------------------------------------------
    def limit(self, f: Callable, edge: float, direction: int):
        """``lim f(edge + direction * h)`` as ``h -> 0+`` (possibly +-inf)."""
        ctx = self.ctx
        e_num = self.exact(edge)
        if isinstance(ctx, _MpContext):
            try:
                val = f(e_num)
            except (ZeroDivisionError, ValueError):
                val = mpmath.nan
            if mpmath.isfinite(val) or mpmath.isinf(val):
                return val
        hs = [self.scale * 1e-5 * 16.0**-k for k in range(4)]
        vals = []
        for h in hs:
            vals.append(float(f(e_num + direction * ctx.num(h))))
        if not all(math.isfinite(v) for v in vals):
            raise ConvergenceError(
                f"the Stieltjes transform is not finite next to the edge {edge} "
                f"(values {vals}); cannot locate the threshold"
            )
        d2, d3 = vals[2] - vals[1], vals[3] - vals[2]
        if abs(d3) > 0.7 * abs(d2) and abs(d3) > 1e-12 * (1 + abs(vals[3])):
            return math.copysign(math.inf, d3) if not isinstance(ctx, _MpContext) else (
                mpmath.inf if d3 > 0 else -mpmath.inf
            )
        # f(h) = f0 + c1 sqrt(h) + c2 h + c3 h^1.5: solve on the four points (square-root edge)
        r = np.sqrt(np.array(hs) / hs[0])
        A = np.stack([np.ones(4), r, r**2, r**3], axis=1)
        f0 = float(np.linalg.solve(A, np.array(vals))[0])
        try:
            exact = float(f(e_num))
        except (ZeroDivisionError, ValueError, FloatingPointError):
            exact = math.nan
        if math.isfinite(exact) and abs(exact - f0) <= 1e-6 * (1 + abs(f0)):
            return ctx.num(exact)
        return ctx.num(f0)


class _DiscreteBulk(_Bulk):
    """A finitely supported population ``sum_k w_k delta_{t_k}`` (exact in both contexts)."""

    def __init__(self, locations, weights, *, owner: str, ctx):
        self.law = None
        self.ctx = ctx
        self.t = [float(x) for x in locations]
        self.w = [float(x) for x in weights]
        order = np.argsort(self.t)
        self.t = [self.t[i] for i in order]
        self.w = [self.w[i] for i in order]
        self.pieces = [(x, x) for x in self.t]
        self.atoms = frozenset(self.t)
        self.lo, self.hi = self.t[0], self.t[-1]
        self.scale = max(abs(self.lo), abs(self.hi), 1e-300)
        self.params = {"locations": tuple(self.t), "weights": tuple(self.w)}
        self._mp = None
        self._exact = {}
        if isinstance(ctx, _MpContext):
            self._tw = [(mpmath.mpf(t), mpmath.mpf(w)) for t, w in zip(self.t, self.w, strict=True)]
        else:
            self._tw = list(zip(self.t, self.w, strict=True))

    def m(self, x):
        return sum(w / (t - x) for t, w in self._tw)

    def dm(self, x):
        return sum(w / (t - x) ** 2 for t, w in self._tw)


def _unit(x) -> float:
    """A squared overlap as a float in [0, 1]. At float64 resolution an outlier just above
    its threshold can land on the edge itself, where m' is infinite and the overlap's limit
    is 0; rounding can also leave it a hair outside [0, 1]."""
    try:
        val = float(x)
    except (TypeError, ValueError):  # pragma: no cover - complex from a law off its axis
        return math.nan
    if not math.isfinite(val):
        return 0.0
    if val < -1e-10 or val > 1 + 1e-10:
        raise ConvergenceError(
            f"a squared overlap came out as {val}, outside [0, 1]: the law's Stieltjes "
            "transform or its derivative is inaccurate at the outlier"
        )
    return min(max(val, 0.0), 1.0)


def _edge_is_atom(bulk: _Bulk, edge: float) -> bool:
    return edge in bulk.atoms


# --------------------------------------------------------------------------------------------
# Shared checks
# --------------------------------------------------------------------------------------------


def _strengths(value, name: str, owner: str) -> np.ndarray:
    arr = np.atleast_1d(check_array(value, name, owner, ndim=(0, 1)))
    if arr.size == 0:
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must hold at least one spike. Got an empty "
            "array instead."
        )
    return arr
