"""Outlier engines: finite-rank perturbations of a bulk spectral law.

Three models, each taking the bulk as a spectral law (any object with ``stieltjes``,
``support`` and ``atoms``; ``dstieltjes`` is used when present) and returning an
:class:`OutlierPrediction`:

* :func:`hermitian_outliers` -- ``B + sum_i theta_i v_i v_i^T`` (Benaych-Georges & Nadakuditi
  2011): outlier ``z`` solves ``G(z) = 1/theta`` with ``G(z) = -m(z)``; squared overlap
  ``1 / (theta^2 m'(z))``.
* :func:`rectangular_outliers` -- ``X + sum_i theta_i u_i v_i^T`` (Benaych-Georges & Nadakuditi
  2012): outlier singular value ``z`` solves ``D(z) = 1/theta^2`` with the D-transform written
  through the Stieltjes transforms of both Gram laws, ``D(z) = z^2 m_A(z^2) m_B(z^2)``.
* :func:`covariance_outliers` -- sample covariance of a population with spectrum ``H`` plus
  spikes (Baik, Ben Arous & Péché 2005; Paul 2007; Bai & Yao 2012): outlier ``psi(alpha)``
  when ``psi'(alpha) > 0``, squared overlap ``alpha psi'(alpha) / psi(alpha)``.

Stieltjes convention: ``m(z) = ∫ dmu(x) / (x - z)``, so that the Cauchy transform of the
papers is ``G(z) = ∫ dmu(x) / (z - x) = -m(z)``. With ``dps=...`` every engine works in
mpmath at that many decimal digits (needed only very close to a threshold, where the outlier's
distance to the edge falls below the float64 resolution of the edge).
"""

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

__all__ = [
    "OutlierPrediction",
    "hermitian_outliers",
    "rectangular_outliers",
    "covariance_outliers",
]


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
    """mpmath ``(m, m', exact_edges)`` on the real axis off the support, when available.

    Known exactly: a law offering ``stieltjes_mp`` (and optionally ``dstieltjes_mp``), a
    law made of atoms only, :class:`MarchenkoPastur` (closed form), and affine images and
    Gram flips of these. ``exact_edges`` maps float64 edges to their exact mpmath values.
    """
    fn = getattr(law, "stieltjes_mp", None)
    if callable(fn):
        dfn = getattr(law, "dstieltjes_mp", None)
        if not callable(dfn):
            dfn = lambda x, fn=fn: mpmath.diff(fn, x)  # noqa: E731
        return fn, dfn, {}
    name = type(law).__name__
    if name == "MarchenkoPastur":
        return _mp_marchenko_pastur(float(law.ratio), float(law.scale))
    support = law.support if isinstance(law.support, list) else law.support()
    if not list(support or []):
        locs, masses = law.atoms() if callable(law.atoms) else law.atoms
        tw = [(float(t), float(w)) for t, w in zip(locs, masses, strict=True) if w > 0]
        if tw:
            return (
                lambda x: mpmath.fsum(w / (t - x) for t, w in tw),
                lambda x: mpmath.fsum(w / (t - x) ** 2 for t, w in tw),
                {},
            )
    base = getattr(law, "base", None)
    if base is None:
        return None
    inner = _mp_transform(base)
    if inner is None:
        return None
    m0, dm0, exact0 = inner
    if name == "AffineLaw":
        a_f, b_f = float(law.a), float(law.b)

        def m(x):
            a, b = mpmath.mpf(a_f), mpmath.mpf(b_f)
            return m0((x - b) / a) / a

        def dm(x):
            a, b = mpmath.mpf(a_f), mpmath.mpf(b_f)
            return dm0((x - b) / a) / a**2

        exact = {a_f * e + b_f: mpmath.mpf(a_f) * v + mpmath.mpf(b_f) for e, v in exact0.items()}
        return m, dm, exact
    if name == "GramFlipLaw":
        r_f = float(law.ratio)

        def m(x):
            r = mpmath.mpf(r_f)
            return r * m0(x) - (1 - r) / x

        def dm(x):
            r = mpmath.mpf(r_f)
            return r * dm0(x) + (1 - r) / x**2

        return m, dm, exact0
    return None


def _mp_marchenko_pastur(ratio: float, scale: float):
    """``m`` and ``m'`` of MP(ratio, scale) in mpmath on the real axis off the support.

    ``m`` is the root of ``g s z m^2 + (z - s (1 - g)) m + 1 = 0`` (``g`` the ratio, ``s``
    the scale) that behaves as ``-1/z`` at infinity.
    """

    def m(z):
        g, s = mpmath.mpf(ratio), mpmath.mpf(scale)
        x = z / s
        a = (1 - mpmath.sqrt(g)) ** 2
        b = (1 + mpmath.sqrt(g)) ** 2
        if g == 1:
            a = mpmath.mpf(0)
        if x == 0:
            if g > 1:
                return -mpmath.inf if z > 0 else mpmath.inf
            return (1 / (1 - g)) / s
        root = mpmath.sqrt(max((x - a) * (x - b), 0))
        # the branch with m ~ -1/x: sign of the root is the sign of (x - b) on the right,
        # and of (x - a) on the left of the support
        sign = 1 if x >= b else -1
        return ((1 - g - x + sign * root) / (2 * g * x)) / s

    def dm(z):
        g, s = mpmath.mpf(ratio), mpmath.mpf(scale)
        x = z / s
        mm = m(z) * s
        return (-(g * mm**2 + mm) / (2 * g * x * mm + x - 1 + g)) / s**2

    g, s = mpmath.mpf(ratio), mpmath.mpf(scale)
    lo = mpmath.mpf(0) if ratio == 1 else s * (1 - mpmath.sqrt(g)) ** 2
    hi = s * (1 + mpmath.sqrt(g)) ** 2
    lo_f = 0.0 if ratio == 1 else scale * (1.0 - math.sqrt(ratio)) ** 2
    hi_f = scale * (1.0 + math.sqrt(ratio)) ** 2
    return m, dm, {lo_f: lo, hi_f: hi, float(np.float64(lo)): lo, float(np.float64(hi)): hi}


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


# --------------------------------------------------------------------------------------------
# Hermitian additive
# --------------------------------------------------------------------------------------------


def hermitian_outliers(law, theta, *, dps: int | None = None) -> OutlierPrediction:
    r"""Outliers of ``B + sum_i theta_i v_i v_i^T`` for a bulk ``B`` with eigenvalue law ``law``.

    For orthonormal ``v_i`` in generic position with respect to ``B`` (e.g. ``B`` orthogonally
    invariant, or ``v_i`` uniform), a spike ``theta > 0`` produces an eigenvalue above the
    upper edge ``b`` iff ``theta > 1 / G(b^+)``, located at the solution of

    .. math:: G(z) = \int \frac{d\mu(x)}{z - x} = -m(z) = \frac{1}{\theta},

    and the eigenvector ``u`` satisfies :math:`|\langle u, v_i\rangle|^2 \to -1/(\theta^2
    G'(z)) = 1/(\theta^2 m'(z))` (Benaych-Georges & Nadakuditi 2011, Thm 2.1 and 2.2).
    Negative ``theta`` acts on the lower edge in the same way (threshold ``1/G(a^-) < 0``).
    Each spike is treated on its own: the overlap of ``u`` with the other ``v_j`` tends to
    zero when the strengths are distinct (for equal strengths the overlap refers to the
    projection on their common span). Outliers in internal gaps of the bulk are not reported.

    Parameters
    ----------
    law : SpectralLaw
        Limit eigenvalue law of ``B``.
    theta : float or array_like of float
        Non-zero spike strengths.
    dps : int, optional
        Work in mpmath at this many decimal digits (``>= 16``). Needs an mpmath Stieltjes
        transform of ``law`` (Marchenko-Pastur closed form, or a law with ``stieltjes_mp``).

    Returns
    -------
    OutlierPrediction
        ``kind="eigen"``; ``thresholds`` are the critical strengths on each spike's side.

    Raises
    ------
    InvalidParameterError
        For a zero, NaN or infinite ``theta``, or a law without support.

    Examples
    --------
    >>> from spikewise.solvers.marchenko_pastur import MarchenkoPastur
    >>> res = hermitian_outliers(MarchenkoPastur(ratio=0.5), [3.0, 0.5])
    >>> res.flags
    ('outlier', 'no outlier')
    >>> print(res.positions.round(6), res.overlaps.round(6), res.thresholds.round(6))
    [4.2      2.914214] [0.92 0.  ] [1.207107 1.207107]
    """
    owner = "hermitian_outliers"
    th = _strengths(theta, "theta", owner)
    if np.any(th == 0):
        raise InvalidParameterError(
            f"The 'theta' parameter of {owner} must contain only non-zero finite floats. "
            f"Got {th.tolist()} instead."
        )
    ctx = _context(dps, owner)
    prec = mpmath.workdps(dps) if dps is not None else _NullContext()
    with prec:
        bulk = _Bulk(law, owner=owner, name="law", ctx=ctx)
        sides = {}

        def side(sign):
            if sign in sides:
                return sides[sign]
            edge = bulk.hi if sign > 0 else bulk.lo
            # F(w) = sign * G(sign * w) is decreasing on (sign * edge, inf)
            if _edge_is_atom(bulk, edge):
                fe = ctx.inf
            else:
                fe = -sign * bulk.limit(bulk.m, edge, sign)
            if ctx.isfinite(fe) and fe <= 0:
                raise ConvergenceError(  # pragma: no cover - a law of mass one cannot do this
                    f"G at the edge {edge} has the wrong sign ({fe})"
                )
            thr = (1 / fe) if ctx.isfinite(fe) else ctx.num(0)
            sides[sign] = (edge, fe, thr)
            return sides[sign]

        rows = []
        for t in th:
            sign = 1 if t > 0 else -1
            edge, fe, thr = side(sign)
            at = ctx.num(abs(t))
            if at <= thr:
                rows.append((edge, float(sign * thr) + 0.0, edge, 0.0, 0.0, False))
                continue
            e = bulk.exact(edge)

            def F(w, sign=sign, at=at):
                return -sign * bulk.m(sign * w) - 1 / at

            w_hi = sign * e + at  # G(z) <= 1/(z - b): the root is below b + theta
            w = ctx.root(F, sign * e, w_hi, fe - 1 / at, F(w_hi))
            z = sign * w
            ov = 1 / (at**2 * bulk.dm(z))
            rows.append((float(z), float(sign * thr) + 0.0, edge, float(z - e), _unit(ov), True))
    pos, thr_, edg, exc, ov, flag = (np.array(c) for c in zip(*rows, strict=True))
    return OutlierPrediction(
        model="hermitian additive",
        kind="eigen",
        strengths=th,
        positions=pos,
        is_outlier=flag,
        thresholds=thr_,
        edges=edg,
        excess=exc,
        overlaps=ov,
        bulk_support=(float(bulk.lo), float(bulk.hi)),
        params={"model": "hermitian additive", "dps": dps, "law": bulk.params},
    )


class _NullContext:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# --------------------------------------------------------------------------------------------
# Rectangular additive
# --------------------------------------------------------------------------------------------


def rectangular_outliers(law, theta, *, ratio: float, dps: int | None = None) -> OutlierPrediction:
    r"""Singular-value outliers of ``X + sum_i theta_i u_i v_i^T`` (``X`` of size n x p).

    Convention: ``law`` is the limit eigenvalue law of the Gram matrix ``A = X X^T`` (n x n,
    the side of the ``u_i``) and ``ratio = n / p`` is its size over the other dimension, as
    for :class:`MarchenkoPastur` (law of ``Y^T Y / n`` with ``ratio = p / n``). The other Gram
    law is ``mu_B = ratio * mu_A + (1 - ratio) * delta_0`` (``B = X^T X``, p x p). With
    ``s = z^2``, the D-transform of Benaych-Georges & Nadakuditi (2012) is

    .. math:: D(z) = \varphi(z)\,\tilde\varphi(z) = z^2\, m_A(z^2)\, m_B(z^2),
       \qquad \varphi(z) = \int \frac{z\, d\mu_{sv}(t)}{z^2 - t^2} = -z\, m_A(z^2),
       \quad \tilde\varphi(z) = c\,\varphi(z) + \frac{1-c}{z} = -z\, m_B(z^2).

    A spike ``theta > 0`` gives a singular value ``z > b = sqrt(max supp mu_A)`` iff
    ``theta > 1 / sqrt(D(b^+))``, solving ``D(z) = 1/theta^2``; the left and right singular
    vectors satisfy (BGN 2012, Thm 2.9 and 2.10)

    .. math:: |\langle \tilde u, u_i\rangle|^2 \to \frac{-2\varphi(z)}{\theta^2 D'(z)},
       \qquad |\langle \tilde v, v_i\rangle|^2 \to \frac{-2\tilde\varphi(z)}{\theta^2 D'(z)}.

    For ``X`` with i.i.d. entries of variance ``1/p`` (``law = MarchenkoPastur(ratio=n/p)``)
    this gives ``z = sqrt((1 + theta^2)(c + theta^2)) / theta`` above ``theta_c = c^{1/4}``.

    Parameters
    ----------
    law : SpectralLaw
        Limit eigenvalue law of ``X X^T`` (support in ``[0, inf)``).
    theta : float or array_like of float
        Positive spike strengths (a sign can be moved into ``u_i``).
    ratio : float
        ``n / p > 0``.
    dps : int, optional
        Work in mpmath at this many decimal digits.

    Returns
    -------
    OutlierPrediction
        ``kind="singular"``; ``overlaps`` are the left (``u_i``), ``overlaps_right`` the right
        (``v_i``) squared overlaps.

    Raises
    ------
    InvalidParameterError
        For non-positive or non-finite ``theta`` or ``ratio``, or a law not on ``[0, inf)``.

    Examples
    --------
    First-layer weights ``W0`` (d x N, entries of variance 1/d) plus a rank-one spike:
    ``W0 W0^T`` has law ``MarchenkoPastur(ratio=d/N, scale=N/d)`` and ``ratio = d/N``.

    >>> from spikewise.solvers.marchenko_pastur import MarchenkoPastur
    >>> d, N = 1000, 1500
    >>> res = rectangular_outliers(MarchenkoPastur(ratio=d / N, scale=N / d), 2.0, ratio=d / N)
    >>> print(res.positions.round(6), res.thresholds.round(6))
    [2.622022] [1.106682]
    >>> print(res.overlaps.round(6), res.overlaps_right.round(6))
    [0.725] [0.659091]
    """
    owner = "rectangular_outliers"
    th = _strengths(theta, "theta", owner)
    if np.any(th <= 0):
        raise InvalidParameterError(
            f"The 'theta' parameter of {owner} must contain only finite floats > 0. "
            f"Got {th.tolist()} instead."
        )
    r = check_scalar(ratio, "ratio", owner, lower=0.0, lower_inclusive=False)
    ctx = _context(dps, owner)
    prec = mpmath.workdps(dps) if dps is not None else _NullContext()
    with prec:
        bulk = _Bulk(law, owner=owner, name="law", ctx=ctx)
        if bulk.lo < -1e-12 * bulk.scale or bulk.hi <= 0:
            raise InvalidParameterError(
                f"The 'law' parameter of {owner} must be a Gram (eigenvalue) law supported in "
                f"[0, inf) with a positive upper edge. Got support "
                f"[{bulk.lo}, {bulk.hi}] instead."
            )
        rr = ctx.num(r)
        edge = bulk.hi
        e_num = bulk.exact(edge)
        b = ctx.sqrt(e_num)

        def mB(s, mA):
            return rr * mA - (1 - rr) / s

        def D(z):
            s = z * z
            mA = bulk.m(s)
            return s * mA * mB(s, mA)

        if _edge_is_atom(bulk, edge):
            De = ctx.inf
        else:
            mAe = bulk.limit(bulk.m, edge, 1)
            De = (e_num * mAe * mB(e_num, mAe)) if ctx.isfinite(mAe) else ctx.inf
        thr = 1 / ctx.sqrt(De) if ctx.isfinite(De) else ctx.num(0)
        rows = []
        for t in th:
            at = ctx.num(t)
            if at <= thr:
                rows.append((float(b), float(thr), 0.0, 0.0, 0.0, False))
                continue
            target = 1 / at**2
            z_hi = (at + ctx.sqrt(at * at + 4 * e_num)) / 2

            def F(z, target=target):
                return D(z) - target

            z = ctx.root(F, b, z_hi, De - target, F(z_hi))
            s = z * z
            mA = bulk.m(s)
            dmA = bulk.dm(s)
            mb = mB(s, mA)
            dmb = rr * dmA + (1 - rr) / s**2
            dD = 2 * z * (mA * mb + s * (dmA * mb + mA * dmb))
            left = 2 * z * mA / (at**2 * dD)
            right = 2 * z * mb / (at**2 * dD)
            rows.append((float(z), float(thr), float(z - b), _unit(left), _unit(right), True))
    pos, thr_, exc, ovl, ovr, flag = (np.array(c) for c in zip(*rows, strict=True))
    b_f = float(b)
    return OutlierPrediction(
        model="rectangular additive",
        kind="singular",
        strengths=th,
        positions=pos,
        is_outlier=flag,
        thresholds=thr_,
        edges=np.full(th.shape, b_f),
        excess=exc,
        overlaps=ovl,
        overlaps_right=ovr,
        bulk_support=(math.sqrt(max(bulk.lo, 0.0)), b_f),
        params={"model": "rectangular additive", "ratio": r, "dps": dps, "law": bulk.params},
    )


# --------------------------------------------------------------------------------------------
# Spiked covariance (BBP, Paul; Bai & Yao generalized spikes)
# --------------------------------------------------------------------------------------------


def _discrete_population(locs, wts, population, owner, ctx):
    """Atoms of H; a mass w0 at zero is split off: those directions give exact zero sample
    eigenvalues and psi is unchanged with (gamma (1 - w0), H without the atom at 0)."""
    if locs.size == 0 or locs.shape != wts.shape or np.any(wts < 0) or wts.sum() <= 0:
        raise InvalidParameterError(
            f"The 'population' parameter of {owner} must be (locations, weights) of equal "
            f"non-zero length with weights >= 0 and a positive sum. Got {population!r} "
            "instead."
        )
    keep = wts > 0
    locs, wts = locs[keep], wts[keep] / wts.sum()
    if np.any(locs < 0):
        raise InvalidParameterError(
            f"The 'population' parameter of {owner} must have locations >= 0 (covariance "
            f"eigenvalues). Got {locs.tolist()} instead."
        )
    zero = locs == 0
    if np.all(zero):
        raise InvalidParameterError(
            f"The 'population' parameter of {owner} must put mass on (0, inf). Got a "
            "population concentrated at 0 instead."
        )
    w0 = float(wts[zero].sum())
    locs, wts = locs[~zero], wts[~zero] / (1.0 - w0)
    return _DiscreteBulk(locs, wts, owner=owner, ctx=ctx), 1.0 - w0


def _population(population, owner: str, ctx) -> tuple[_Bulk, float]:
    """The population bulk H and the factor (1 - H({0})) that multiplies the ratio."""
    if population is None:
        return _DiscreteBulk([1.0], [1.0], owner=owner, ctx=ctx), 1.0
    if isinstance(population, tuple | list) and len(population) == 2:
        locs = np.atleast_1d(check_array(population[0], "population", owner, ndim=(0, 1)))
        wts = np.atleast_1d(check_array(population[1], "population", owner, ndim=(0, 1)))
        return _discrete_population(locs, wts, population, owner, ctx)
    bulk = _Bulk(population, owner=owner, name="population", ctx=ctx)
    if bulk.lo < 0:
        raise InvalidParameterError(
            f"The 'population' parameter of {owner} must be supported in [0, inf) (covariance "
            f"eigenvalues). Got support [{bulk.lo}, {bulk.hi}] instead."
        )
    if not list(population.support or []):  # atoms only: exact in both contexts
        locs, masses = (np.asarray(x, dtype=float) for x in population.atoms)
        return _discrete_population(locs, masses, population, owner, ctx)
    if 0.0 in bulk.atoms:
        raise InvalidParameterError(
            f"The 'population' parameter of {owner} must not have an atom at 0 unless it is "
            "given by (locations, weights): drop the zero variances and multiply 'ratio' by "
            "the remaining fraction. Got a law with an atom at 0 instead."
        )
    return bulk, 1.0


def covariance_outliers(
    alpha,
    *,
    ratio: float,
    population=None,
    dps: int | None = None,
) -> OutlierPrediction:
    r"""Outliers of a sample covariance matrix whose population has spikes ``alpha_i``.

    Model: ``S = Sigma^{1/2} Z^T Z Sigma^{1/2} / n`` with ``Z`` n x p standard Gaussian,
    ``ratio = gamma = p / n`` (the convention of :class:`MarchenkoPastur`), and ``Sigma`` with
    eigenvalues distributed as ``H`` (``population``; ``None`` means ``H = delta_1``) plus the
    finitely many spikes ``alpha_i`` with eigenvectors ``v_i``. With

    .. math:: \psi(\alpha) = \alpha\Big(1 + \gamma\int\frac{t\,dH(t)}{\alpha - t}\Big)
       = \alpha\,\big(1 - \gamma - \gamma\,\alpha\, m_H(\alpha)\big),

    a spike outside ``supp H`` is distinguished iff ``psi'(alpha) > 0`` and then produces the
    sample eigenvalue ``psi(alpha)`` (Bai & Yao 2012, Thm 4.1). The bulk edges are
    ``psi`` at the critical points ``psi' = 0`` (Silverstein & Choi 1995), which are also the
    thresholds. The eigenvector ``u`` of the outlier satisfies

    .. math:: |\langle u, v_i\rangle|^2 \to \frac{\alpha\,\psi'(\alpha)}{\psi(\alpha)},

    obtained with the resolvent argument of Benaych-Georges & Nadakuditi (2011) on the
    companion matrix (derivation on the theory page ``docs/theory/spikes.rst``); for
    ``H = delta_1`` it is Paul's (2007) ``(1 - gamma/l^2) / (1 + gamma/l)`` with
    ``alpha = 1 + l``, position ``(1 + l)(1 + gamma/l)`` and threshold ``l > sqrt(gamma)``
    (Baik, Ben Arous & Péché 2005).

    Spikes below ``min supp H`` give outliers below the bulk when ``psi' > 0`` there (only
    possible for ``gamma < 1``); spikes in a gap of ``supp H`` are handled through the
    critical points of ``psi`` in that gap; a spike inside ``supp H`` is absorbed in the bulk
    (``positions``, ``edges`` and ``thresholds`` NaN). For ``gamma > 1``, ``bulk_support``
    is that of the non-zero eigenvalues.

    Parameters
    ----------
    alpha : float or array_like of float
        Population spike eigenvalues, in ``(0, 1e150]``.
    ratio : float
        ``gamma = p / n > 0``.
    population : SpectralLaw or (locations, weights) or None
        The population spectrum ``H`` without the spikes (``None``: identity).
    dps : int, optional
        Work in mpmath at this many decimal digits (exact for identity and discrete
        populations; a law needs an mpmath Stieltjes transform).

    Returns
    -------
    OutlierPrediction
        ``kind="eigen"``; ``thresholds`` are the critical population values on each side.

    Raises
    ------
    InvalidParameterError
        For non-positive or non-finite ``alpha`` or ``ratio``, or an invalid population.

    Examples
    --------
    >>> res = covariance_outliers([4.0, 1.5], ratio=0.5)  # BBP: threshold 1 + sqrt(0.5)
    >>> print(res.positions.round(6), res.overlaps.round(6), res.thresholds.round(6))
    [4.666667 2.914214] [0.809524 0.      ] [1.707107 1.707107]
    >>> two_atoms = covariance_outliers([10.0], ratio=0.3, population=([1.0, 3.0], [0.5, 0.5]))
    >>> two_atoms.flags
    ('outlier',)
    """
    owner = "covariance_outliers"
    al = _strengths(alpha, "alpha", owner)
    # psi'(alpha) holds alpha^2, which must stay a double
    if np.any(al <= 0) or np.any(al > 1e150):
        raise InvalidParameterError(
            f"The 'alpha' parameter of {owner} must contain only finite floats in (0, 1e150] "
            f"(population eigenvalues). Got {al.tolist()} instead."
        )
    gamma = check_scalar(ratio, "ratio", owner, lower=0.0, lower_inclusive=False)
    ctx = _context(dps, owner)
    prec = mpmath.workdps(dps) if dps is not None else _NullContext()
    with prec:
        H, keep = _population(population, owner, ctx)
        g = ctx.num(gamma) * ctx.num(keep)

        def psi(a):
            return a * (1 - g - g * a * H.m(a))

        def dpsi(a):
            return 1 - g - 2 * g * a * H.m(a) - g * a * a * H.dm(a)

        def edge_dpsi(edge, direction):
            # an atom at t != 0 makes psi' -> -inf (t^2 / (alpha - t)^2); one at 0 does not
            if _edge_is_atom(H, edge) and edge != 0:
                return -ctx.inf
            return H.limit(dpsi, edge, direction)

        def edge_psi(edge, direction):
            return H.limit(psi, edge, direction)

        cache: dict = {}

        def top():
            if "top" not in cache:
                hmax = H.exact(H.hi)
                de = edge_dpsi(H.hi, 1)
                if de >= 0:
                    cache["top"] = (hmax, edge_psi(H.hi, 1))
                else:
                    a_hi = hmax * (1 + 2 * ctx.sqrt(g)) if hmax > 0 else 2 * ctx.sqrt(g)
                    a_star = ctx.root(dpsi, hmax, a_hi, de, dpsi(a_hi))
                    cache["top"] = (a_star, psi(a_star))
            return cache["top"]

        def bottom():
            if "bottom" not in cache:
                hmin = H.exact(H.lo)
                de = edge_dpsi(H.lo, -1)
                if de >= 0:
                    cache["bottom"] = (hmin, edge_psi(H.lo, -1))
                else:
                    a_lo = hmin - 2 * ctx.sqrt(g) * max(ctx.num(H.hi), ctx.num(1e-300))
                    a_star = ctx.root(dpsi, a_lo, hmin, dpsi(a_lo), de)
                    cache["bottom"] = (a_star, psi(a_star))
            return cache["bottom"]

        def gap(k):
            """Critical points of psi in the k-th gap (psi' is concave there)."""
            if ("gap", k) not in cache:
                g1, g2 = H.pieces[k][1], H.pieces[k + 1][0]
                span = g2 - g1
                lo_, hi_ = ctx.num(g1 + 1e-12 * span), ctx.num(g2 - 1e-12 * span)
                a_max = ctx.argmax(dpsi, lo_, hi_)
                if dpsi(a_max) <= 0:
                    cache[("gap", k)] = None
                else:
                    d1 = edge_dpsi(g1, 1)
                    d2 = edge_dpsi(g2, -1)
                    a1 = (ctx.num(g1) if d1 >= 0 else
                          ctx.root(dpsi, ctx.num(g1), a_max, d1, dpsi(a_max)))
                    a2 = (ctx.num(g2) if d2 >= 0 else
                          ctx.root(dpsi, a_max, ctx.num(g2), dpsi(a_max), d2))
                    p1 = psi(a1) if a1 != g1 else edge_psi(g1, 1)
                    p2 = psi(a2) if a2 != g2 else edge_psi(g2, -1)
                    cache[("gap", k)] = (a1, p1, a2, p2)
            return cache[("gap", k)]

        nan = math.nan
        rows = []
        for a_f in al:
            a = ctx.num(a_f)
            if a_f > H.hi:
                a_star, e = top()
                out = a > a_star
            elif a_f < H.lo:
                a_star, e = bottom()
                out = a < a_star
            else:
                k = next((i for i, (lo, hi) in enumerate(H.pieces) if lo <= a_f <= hi), None)
                if k is not None:
                    rows.append((nan, nan, nan, 0.0, 0.0, False))
                    continue
                k = next(i for i in range(len(H.pieces) - 1)
                         if H.pieces[i][1] < a_f < H.pieces[i + 1][0])
                crit = gap(k)
                if crit is None:
                    rows.append((nan, nan, nan, 0.0, 0.0, False))
                    continue
                a1, p1, a2, p2 = crit
                if a <= a1:
                    a_star, e, out = a1, p1, False
                elif a >= a2:
                    a_star, e, out = a2, p2, False
                else:
                    out = True
                    # report the nearer critical point as the threshold and edge
                    a_star, e = (a1, p1) if (a - a1) <= (a2 - a) else (a2, p2)
            if not out:
                rows.append((float(e), float(a_star), float(e), 0.0, 0.0, False))
                continue
            p = psi(a)
            ov = a * dpsi(a) / p
            rows.append((float(p), float(a_star), float(e), float(p - e), _unit(ov), True))
        lower = float(bottom()[1])
        upper = float(top()[1])
    pos, thr_, edg, exc, ov, flag = (np.array(c, dtype=float) for c in zip(*rows, strict=True))
    return OutlierPrediction(
        model="spiked covariance",
        kind="eigen",
        strengths=al,
        positions=pos,
        is_outlier=flag.astype(bool),
        thresholds=thr_,
        edges=edg,
        excess=exc,
        overlaps=ov,
        bulk_support=(lower, upper),
        params={"model": "spiked covariance", "ratio": gamma, "dps": dps,
                "population": "identity" if population is None else H.params},
    )
