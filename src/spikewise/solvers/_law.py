"""The interface every spectral law of :mod:`spikewise.solvers` implements.

A *spectral law* is a probability measure :math:`\\mu` on the real line, the limit of the
empirical spectral distribution of a random matrix. It is a finite sum of atoms plus an
absolutely continuous part supported on finitely many disjoint closed intervals. The
methods mirror :mod:`scipy.stats` (``pdf``, ``cdf``, ``ppf``, ``moment``, ``mean``, ``var``)
and add the Stieltjes transform

.. math::

    m(z) = \\int \\frac{d\\mu(x)}{x - z},
    \\qquad z \\in \\mathbb{C} \\setminus \\operatorname{supp}\\mu,

with the sign convention of Bai & Silverstein (2010): :math:`\\operatorname{Im} m > 0` when
:math:`\\operatorname{Im} z > 0`, :math:`m(z) \\sim -1/z` at infinity, :math:`m(\\bar z) =
\\overline{m(z)}`, exact real values for real :math:`z` outside the support, and the
boundary value :math:`m(x + i0)` for real :math:`x` inside it, so that
:math:`\\text{pdf}(x) = \\operatorname{Im} m(x + i0) / \\pi`.

Conventions of the numerical defaults (used by laws that do not override them): on each
support interval :math:`[a, b]` the substitution :math:`x = a + (b - a)(1 - \\cos\\theta)/2`
turns the density times :math:`dx/d\\theta` into a smooth even :math:`2\\pi`-periodic function
of :math:`\\theta` for the square-root (soft) and inverse-square-root (hard) edges of random
matrix laws; its cosine series, computed by a DCT at Chebyshev angles and refined until the
tail is below ``1e-14`` of the mass, gives the cdf (integrated term by term), the quantile
function (Newton in :math:`\\theta`) and the moments (midpoint rule in :math:`\\theta`, exact
for trigonometric polynomials of degree below twice the number of nodes).
"""

from __future__ import annotations

import warnings
from functools import cached_property
from math import comb

import mpmath
import numpy as np
from scipy import fft as _fft
from scipy import integrate

from spikewise._validation import (
    ConvergenceWarning,
    InvalidParameterError,
    check_array,
    check_rng,
    check_scalar,
)

__all__ = ["SpectralLaw", "Support"]


def math_number(value: float) -> str:
    """``value`` with 4 significant digits, for a mathtext label (``1.5``, ``0.6667``)."""
    return f"{float(value):.4g}"

_MIN_NODES = 64
_MAX_NODES = 2**14
_SERIES_TOL = 1e-14
# Newton steps of the quantile inversion: the mass near a square-root edge vanishes like the
# cube of the angle, where Newton converges only linearly
_NEWTON_STEPS = 100


class _IntervalRule:
    """Cosine-series representation of the density on one support interval.

    The map from the angle to the interval is ``x = lo + (hi - lo)(1 - cos t)/2`` unless a
    singular point of the density's continuation (``near``: ``(side, distance)``) lies
    closer to an end than 5% of the width; then that end is graded logarithmically,
    ``x = lo + eps * expm1(V (1 - cos t)/2)`` with ``V = log1p((hi - lo)/eps)`` (mirrored at
    the upper end), which resolves the crossover at the scale ``eps`` (e.g. the Marchenko–
    Pastur density near ratio 1, ``sqrt(x - a)/x`` with ``a`` tiny) with few terms.
    """

    def __init__(self, lo: float, hi: float, density, near=None):
        self.lo = float(lo)
        self.hi = float(hi)
        width = self.hi - self.lo
        self.side, self.eps = None, None
        if near is not None and near[1] < 0.05 * width and near[1] > 0:
            self.side, self.eps = near[0], float(near[1])
            self.big_v = float(np.log1p(width / self.eps))
        m_nodes = _MIN_NODES
        while True:
            theta = np.pi * (np.arange(m_nodes) + 0.5) / m_nodes
            x = self.x_of(theta)
            g = np.asarray(density(x), dtype=np.float64) * self.dx_dtheta(theta)
            coef = _fft.dct(g, type=2) / m_nodes
            coef[0] *= 0.5
            scale = max(abs(coef[0]), np.finfo(float).tiny)
            tail = np.max(np.abs(coef[3 * m_nodes // 4 :]))
            if tail <= _SERIES_TOL * scale or m_nodes >= _MAX_NODES:
                break
            m_nodes *= 2
        self.n_nodes = m_nodes
        self.theta = theta
        self.x = x
        self.g = g
        # drop the negligible tail so that evaluating the series stays cheap
        keep = np.nonzero(np.abs(coef) > 1e-17 * scale)[0]
        n_keep = int(keep[-1]) + 1 if keep.size else 1
        self.coef = coef[:n_keep]
        self.mass = float(np.pi * self.coef[0])
        self.tail = float(tail / scale)
        if self.tail > 1e-11:
            warnings.warn(
                f"The cosine series of the density on [{self.lo:.6g}, {self.hi:.6g}] kept a "
                f"relative tail of {self.tail:.1e} at {m_nodes} terms; cdf, ppf and moments "
                "are accurate to about that level there.",
                ConvergenceWarning,
                stacklevel=4,
            )

    def x_of(self, theta):
        theta = np.asarray(theta, dtype=np.float64)
        if self.side == "lo":
            return np.minimum(
                self.lo + self.eps * np.expm1(0.5 * self.big_v * (1.0 - np.cos(theta))), self.hi
            )
        if self.side == "hi":
            return np.maximum(
                self.hi - self.eps * np.expm1(0.5 * self.big_v * (1.0 + np.cos(theta))), self.lo
            )
        return self.lo + 0.5 * (self.hi - self.lo) * (1.0 - np.cos(theta))

    def dx_dtheta(self, theta):
        if self.side == "lo":
            v = 0.5 * self.big_v * (1.0 - np.cos(theta))
            return self.eps * np.exp(v) * 0.5 * self.big_v * np.sin(theta)
        if self.side == "hi":
            w = 0.5 * self.big_v * (1.0 + np.cos(theta))
            return self.eps * np.exp(w) * 0.5 * self.big_v * np.sin(theta)
        return 0.5 * (self.hi - self.lo) * np.sin(theta)

    def theta_of(self, x):
        x = np.asarray(x, dtype=np.float64)
        if self.side == "lo":
            v = np.log1p(np.maximum(x - self.lo, 0.0) / self.eps)
            u = 1.0 - 2.0 * v / self.big_v
        elif self.side == "hi":
            w = np.log1p(np.maximum(self.hi - x, 0.0) / self.eps)
            u = 2.0 * w / self.big_v - 1.0
        else:
            u = 1.0 - 2.0 * (x - self.lo) / (self.hi - self.lo)
        return np.arccos(np.clip(u, -1.0, 1.0))

    def integral(self, theta):
        """G(theta) = int_0^theta g, the mass of [lo, x(theta)]."""
        theta = np.asarray(theta, dtype=np.float64)
        out = self.coef[0] * theta
        k = np.arange(1, self.coef.size)
        if k.size:
            w = self.coef[1:] / k
            flat = theta.reshape(-1)
            res = np.empty_like(flat)
            step = max(1, 2_000_000 // k.size)
            for i in range(0, flat.size, step):
                res[i : i + step] = np.sin(np.outer(flat[i : i + step], k)) @ w
            out = out + res.reshape(theta.shape)
        return out

    def g_of(self, theta):
        theta = np.asarray(theta, dtype=np.float64)
        k = np.arange(self.coef.size)
        flat = theta.reshape(-1)
        res = np.empty_like(flat)
        step = max(1, 2_000_000 // k.size)
        for i in range(0, flat.size, step):
            res[i : i + step] = np.cos(np.outer(flat[i : i + step], k)) @ self.coef
        return res.reshape(theta.shape)

    def invert(self, target):
        """theta with G(theta) = target (target in [0, mass])."""
        target = np.asarray(target, dtype=np.float64)
        grid = np.linspace(0.0, np.pi, 4 * self.n_nodes + 1)
        table = np.maximum.accumulate(self.integral(grid))
        theta = np.interp(target, table, grid)
        lo = np.zeros_like(theta)
        hi = np.full_like(theta, np.pi)
        active = np.ones(theta.shape, dtype=bool)
        for _ in range(_NEWTON_STEPS):
            th = theta[active]
            f = self.integral(th) - target[active]
            lo[active] = np.where(f < 0, th, lo[active])
            hi[active] = np.where(f > 0, th, hi[active])
            g = self.g_of(th)
            with np.errstate(divide="ignore", invalid="ignore"):
                new = th - f / g
            bad = ~np.isfinite(new) | (new < lo[active]) | (new > hi[active])
            new = np.where(bad, 0.5 * (lo[active] + hi[active]), new)
            conv = np.abs(new - th) <= 4e-16 * np.pi
            theta[active] = new
            idx = np.nonzero(active)[0]
            active[idx[conv]] = False
            if not np.any(active):
                break
        return theta


def _default_stieltjes_mp(law):
    """The mpmath Stieltjes transform of ``law`` that needs no closed form, or None.

    A law (any object) offering ``stieltjes_mp`` (and optionally ``dstieltjes_mp``), or a law
    made of atoms only.
    """
    fn = getattr(law, "stieltjes_mp", None)
    if callable(fn):
        dfn = getattr(law, "dstieltjes_mp", None)
        if not callable(dfn):
            dfn = lambda x, fn=fn: mpmath.diff(fn, x)  # noqa: E731
        return fn, dfn, {}
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
    return None
class Support(list):
    """The support intervals of a law: a list of ``(lo, hi)``, also callable as in scipy.

    As a list (``law.support``) it holds the disjoint closed intervals of the continuous part,
    sorted; called (``law.support()``) it returns the endpoints ``(lower, upper)`` of the
    whole law, atoms included, like :meth:`scipy.stats.rv_continuous.support`.

    Examples
    --------
    >>> from spikewise.solvers import MarchenkoPastur
    >>> law = MarchenkoPastur(ratio=2.0)
    >>> [round(e, 4) for e in law.support[0]]
    [0.1716, 5.8284]
    >>> law.support()
    (0.0, 5.82842712474619)
    """

    def __init__(self, intervals, bounds):
        super().__init__(intervals)
        self._bounds = (float(bounds[0]), float(bounds[1]))

    def __call__(self) -> tuple[float, float]:
        return self._bounds


class SpectralLaw:
    """Base class of every limiting spectral law.

    Subclasses implement ``_stieltjes(z)`` (for ``Im z >= 0``; real ``z`` inside the support
    means the boundary value from above), ``_dstieltjes(z)``, ``_support()`` and ``_atoms()``,
    and usually ``_pdf(x)`` and ``_params()``. Everything else has a numerical default that
    subclasses with closed forms override.

    Methods
    -------
    pdf(x), logpdf(x)
        Density of the absolutely continuous part (atoms are reported by :attr:`atoms`), and
        its logarithm (``-inf`` off the support).
    cdf(x), sf(x)
        :math:`\\mu((-\\infty, x])`, atoms included (right-continuous), and
        :math:`1 - \\text{cdf}(x)`.
    ppf(q)
        :math:`\\inf\\{x : \\text{cdf}(x) \\ge q\\}`.
    stieltjes(z), dstieltjes(z)
        :math:`m(z) = \\int d\\mu(x)/(x - z)` and :math:`m'(z)`.
    moment(k), mean(), var()
        Moments, atoms included.
    sample(size, rng=None), rvs(size, rng=None)
        Independent draws by quantile sampling (``rvs`` is the :mod:`scipy.stats` name).
    support, support()
        The intervals of the continuous part (a list), or called, the endpoints of the law.
    affine(a, b), sqrt()
        Laws of :math:`a\\lambda + b` and :math:`\\sqrt{\\lambda}`.
    """

    #: name used in error messages and labels
    name = "SpectralLaw"

    # ------------------------------------------------------------------ hooks
    def _stieltjes(self, z: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _dstieltjes(self, z: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _support(self) -> list[tuple[float, float]]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _atoms(self) -> tuple[np.ndarray, np.ndarray]:
        return np.empty(0), np.empty(0)

    def _params(self) -> dict:
        return {}

    def _pdf(self, x: np.ndarray) -> np.ndarray:
        """Density at real x (default: Im m(x + i0) / pi inside the support)."""
        out = np.zeros_like(x)
        inside = self._inside(x)
        if np.any(inside):
            out[inside] = np.maximum(
                self._stieltjes(x[inside].astype(np.complex128)).imag / np.pi, 0.0
            )
        return out

    # ------------------------------------------------------------- structure
    @cached_property
    def _support_cache(self) -> list[tuple[float, float]]:
        return [(float(a), float(b)) for a, b in self._support() if b > a]

    @cached_property
    def _atoms_cache(self) -> tuple[np.ndarray, np.ndarray]:
        loc, mass = self._atoms()
        loc = np.asarray(loc, dtype=np.float64).reshape(-1)
        mass = np.asarray(mass, dtype=np.float64).reshape(-1)
        keep = mass > 0
        order = np.argsort(loc[keep])
        return loc[keep][order], mass[keep][order]

    @property
    def support(self) -> Support:
        """Disjoint closed intervals ``(lo, hi)`` carrying the continuous part, sorted.

        A :class:`Support`: a list, and callable as in :mod:`scipy.stats`:
        ``law.support()`` is ``(lower, upper)``, the endpoints of the whole law (atoms
        included).
        """
        bounds = (self.lower, self.upper) if (self._support_cache or self._atoms_cache[0].size) \
            else (np.nan, np.nan)
        return Support(self._support_cache, bounds)

    @property
    def atoms(self) -> tuple[np.ndarray, np.ndarray]:
        """``(locations, masses)`` of the point masses (possibly empty arrays)."""
        loc, mass = self._atoms_cache
        return loc.copy(), mass.copy()

    @property
    def label(self) -> str:
        """A short mathematical name for legends (matplotlib mathtext), e.g.
        ``"Marchenko–Pastur $\\gamma=0.5$"``; defaults to :attr:`name`."""
        return self._label()

    def _label(self) -> str:
        return self.name

    @property
    def params(self) -> dict:
        """The parameters that define the law (for labels and records)."""
        return dict(self._params())

    @property
    def continuous_mass(self) -> float:
        """Total mass of the absolutely continuous part, ``1 - sum(atoms[1])``."""
        return float(1.0 - np.sum(self._atoms_cache[1]))

    @property
    def edges(self) -> np.ndarray:
        """Sorted endpoints of the support intervals."""
        return np.array([e for iv in self._support_cache for e in iv], dtype=np.float64)

    @property
    def lower(self) -> float:
        """Smallest point of the support (atoms included)."""
        pts = [iv[0] for iv in self._support_cache] + list(self._atoms_cache[0])
        return float(min(pts))

    @property
    def upper(self) -> float:
        """Largest point of the support (atoms included)."""
        pts = [iv[1] for iv in self._support_cache] + list(self._atoms_cache[0])
        return float(max(pts))

    def _inside(self, x: np.ndarray) -> np.ndarray:
        inside = np.zeros(np.shape(x), dtype=bool)
        for a, b in self._support_cache:
            inside |= (x > a) & (x < b)
        return inside

    def _singular_points(self) -> list[float]:
        """Real points where the continuation of the density may be singular.

        Default: the atoms, the support edges, and 0 for a law on ``[0, inf)`` (where the
        laws of Gram matrices have their companion atom). Used to grade the quadrature.
        """
        pts = list(self._atoms_cache[0]) + list(self.edges)
        if self._support_cache and self._support_cache[0][0] >= 0:
            pts.append(0.0)
        return pts

    @cached_property
    def _rules(self) -> list[_IntervalRule]:
        pts = np.array(sorted(set(self._singular_points())), dtype=np.float64)
        rules = []
        for a, b in self._support_cache:
            tiny = 1e-12 * (b - a)
            below = pts[pts < a - tiny]
            above = pts[pts > b + tiny]
            d_lo = a - below.max() if below.size else np.inf
            d_hi = above.min() - b if above.size else np.inf
            near = ("lo", d_lo) if d_lo <= d_hi else ("hi", d_hi)
            rules.append(_IntervalRule(a, b, self._pdf, near=near))
        return rules

    # ------------------------------------------------------------ validation
    def _real_input(self, x, name: str) -> np.ndarray:
        arr = check_array(x, name, f"{self.name}", dtype=np.float64, finite=False)
        if np.any(np.isnan(arr)):
            raise InvalidParameterError(
                f"The {name!r} parameter of {self.name} must not contain NaN. "
                f"Got {int(np.isnan(arr).sum())} NaN entries instead."
            )
        return arr

    def _complex_input(self, z, name: str = "z") -> np.ndarray:
        arr = check_array(z, name, f"{self.name}", dtype=np.float64, allow_complex=True)
        return np.asarray(arr, dtype=np.complex128)

    # ---------------------------------------------------------------- public
    def pdf(self, x):
        """Density of the absolutely continuous part at ``x`` (atoms excluded).

        Parameters
        ----------
        x : array_like of float

        Returns
        -------
        ndarray of float64, same shape as ``x`` (a float for scalar input)
        """
        arr = self._real_input(x, "x")
        flat = arr.reshape(-1)
        out = np.zeros_like(flat)
        fin = np.isfinite(flat)
        if np.any(fin):
            out[fin] = self._pdf(flat[fin])
        out = out.reshape(arr.shape)
        return out if out.ndim else float(out)

    def logpdf(self, x):
        """Natural logarithm of :meth:`pdf` (``-inf`` where the density vanishes); same
        input and output shapes as :meth:`pdf`."""
        with np.errstate(divide="ignore"):
            return np.log(self.pdf(x)) if np.ndim(x) else float(np.log(self.pdf(x)))

    def _cdf(self, x: np.ndarray) -> np.ndarray:
        out = np.zeros_like(x)
        loc, mass = self._atoms_cache
        for t, w in zip(loc, mass, strict=True):
            out += np.where(x >= t, w, 0.0)
        for rule in self._rules:
            full = x >= rule.hi
            out += np.where(full, rule.mass, 0.0)
            mid = (x > rule.lo) & ~full
            if np.any(mid):
                out[mid] += rule.integral(rule.theta_of(x[mid]))
        return np.clip(out, 0.0, 1.0)

    def cdf(self, x):
        """Cumulative distribution function :math:`\\mu((-\\infty, x])`, atoms included.

        Parameters
        ----------
        x : array_like of float

        Returns
        -------
        ndarray of float64 in [0, 1], same shape as ``x``
        """
        arr = self._real_input(x, "x")
        flat = arr.reshape(-1)
        out = self._cdf(flat).reshape(arr.shape)
        return out if out.ndim else float(out)

    def sf(self, x):
        """Survival function :math:`\\mu((x, \\infty)) = 1 - \\text{cdf}(x)`, in [0, 1];
        same input and output shapes as :meth:`cdf`."""
        out = 1.0 - np.asarray(self.cdf(x))
        out = np.clip(out, 0.0, 1.0)
        return out if out.ndim else float(out)

    def _pieces(self):
        """Atoms and intervals sorted by location, with their cumulative masses."""
        loc, mass = self._atoms_cache
        items = [("atom", float(t), float(w), None) for t, w in zip(loc, mass, strict=True)]
        items += [("interval", r.lo, r.mass, r) for r in self._rules]
        items.sort(key=lambda it: (it[1], 0 if it[0] == "atom" else 1))
        return items

    def ppf(self, q):
        """Quantile function :math:`\\inf\\{x : \\text{cdf}(x) \\ge q\\}`.

        Parameters
        ----------
        q : array_like of float in [0, 1]

        Returns
        -------
        ndarray of float64, same shape as ``q``
        """
        arr = self._real_input(q, "q")
        if np.any((arr < 0) | (arr > 1)):
            raise InvalidParameterError(
                f"The 'q' parameter of {self.name}.ppf must contain probabilities in [0, 1]. "
                f"Got values in [{arr.min()}, {arr.max()}] instead."
            )
        flat = arr.reshape(-1)
        out = np.full_like(flat, self.lower)
        pieces = self._pieces()
        total = sum(p[2] for p in pieces)
        base = 0.0
        done = flat <= 0.0
        for kind, loc, mass, rule in pieces:
            mass = mass / total
            sel = ~done & (flat <= base + mass)
            if np.any(sel):
                if kind == "atom":
                    out[sel] = loc
                else:
                    target = np.clip((flat[sel] - base) * total, 0.0, rule.mass)
                    # the ends exactly: the first quantile of an interval is its lower end,
                    # and its full mass is reached at its upper end
                    x = np.where(target <= 0.0, rule.lo, rule.hi)
                    mid = (target > 0.0) & (target < rule.mass)
                    if np.any(mid):
                        x[mid] = np.clip(rule.x_of(rule.invert(target[mid])), rule.lo, rule.hi)
                    out[sel] = x
                done |= sel
            base += mass
        out[~done] = self.upper
        out[flat >= 1.0] = self.upper
        out = out.reshape(arr.shape)
        return out if out.ndim else float(out)

    def stieltjes(self, z):
        """Stieltjes transform :math:`m(z) = \\int d\\mu(x)/(x - z)`.

        Parameters
        ----------
        z : array_like of complex or float
            Points of evaluation. For real ``z`` inside the support the boundary value
            :math:`m(x + i0)` is returned; outside the support the value is real. At an atom
            the transform is infinite.

        Returns
        -------
        ndarray of complex128, same shape as ``z``
        """
        arr = self._complex_input(z)
        flat = arr.reshape(-1)
        out = np.empty_like(flat)
        up = flat.imag >= 0
        if np.any(up):
            out[up] = self._stieltjes(flat[up].real + 1j * np.abs(flat[up].imag))
        if np.any(~up):
            out[~up] = np.conj(self._stieltjes(np.conj(flat[~up])))
        out = out.reshape(arr.shape)
        return out if out.ndim else complex(out)

    def dstieltjes(self, z):
        """Derivative :math:`m'(z) = \\int d\\mu(x)/(x - z)^2` of the Stieltjes transform.

        Same conventions as :meth:`stieltjes` (real values outside the support).
        """
        arr = self._complex_input(z)
        flat = arr.reshape(-1)
        out = np.empty_like(flat)
        up = flat.imag >= 0
        if np.any(up):
            out[up] = self._dstieltjes(flat[up].real + 1j * np.abs(flat[up].imag))
        if np.any(~up):
            out[~up] = np.conj(self._dstieltjes(np.conj(flat[~up])))
        out = out.reshape(arr.shape)
        return out if out.ndim else complex(out)

    def _moment(self, k: int) -> float:
        loc, mass = self._atoms_cache
        total = float(np.sum(mass * loc**k)) if loc.size else 0.0
        for rule in self._rules:
            total += float(np.pi / rule.n_nodes * np.sum(rule.x**k * rule.g))
        return total

    def moment(self, k):
        """Non-central moment :math:`\\int x^k d\\mu(x)` (atoms included).

        Parameters
        ----------
        k : int >= 0
        """
        k = check_scalar(k, "k", f"{self.name}.moment", kind="int", lower=0)
        if k == 0:
            return 1.0
        return float(self._moment(k))

    def mean(self) -> float:
        """First moment."""
        return self.moment(1)

    def var(self) -> float:
        """Variance."""
        m1 = self.moment(1)
        return float(self.moment(2) - m1 * m1)

    def std(self) -> float:
        """Standard deviation."""
        return float(np.sqrt(max(self.var(), 0.0)))

    def sample(self, size, rng=None):
        """Independent draws from the law by quantile sampling.

        Parameters
        ----------
        size : int or tuple of int
        rng : None, int, SeedSequence or numpy Generator

        Returns
        -------
        ndarray of float64 of shape ``size``
        """
        owner = f"{self.name}.sample"
        gen = check_rng(rng, owner)
        shape = (size,) if np.ndim(size) == 0 else tuple(size)
        for s in shape:
            check_scalar(s, "size", owner, kind="int", lower=0)
        u = gen.random(size)
        return np.asarray(self.ppf(u))

    def rvs(self, size=1, rng=None):
        """Independent draws: :meth:`sample` under its :mod:`scipy.stats` name."""
        return self.sample(size, rng=rng)

    def affine(self, a, b=0.0):
        """Law of :math:`a\\lambda + b` for :math:`\\lambda \\sim` this law (``a != 0``)."""
        return AffineLaw(self, a=a, b=b)

    def sqrt(self):
        """Law of :math:`\\sqrt{\\lambda}` (requires a support in :math:`[0, \\infty)`)."""
        return SqrtLaw(self)

    def _stieltjes_mp(self):
        """mpmath ``(m, m', exact_edges)`` on the real axis off the support, or None.

        The hook of the outlier engines at ``dps`` digits
        (:func:`spikewise.solvers.hermitian_outliers` and the others): ``m`` and ``m'`` take
        and return mpmath reals; ``exact_edges`` maps float64 edges to their exact mpmath
        values. Laws known in closed form override it (:class:`MarchenkoPastur`, affine
        images, Gram flips); the default covers a law with a public ``stieltjes_mp`` and a
        law made of atoms only (:func:`_default_stieltjes_mp`).
        """
        return _default_stieltjes_mp(self)

    def _stieltjes_by_quadrature(self, z: np.ndarray, power: int = 1) -> np.ndarray:
        """``sum_atoms w/(t-z)^p + int pdf/(x-z)^p`` by the interval rules (z off support)."""
        out = np.zeros(z.shape, dtype=np.complex128)
        loc, mass = self._atoms_cache
        for t, w in zip(loc, mass, strict=True):
            out += w / (t - z) ** power
        for rule in self._rules:
            wts = rule.g * (np.pi / rule.n_nodes)
            step = max(1, 2_000_000 // rule.x.size)
            for i in range(0, z.size, step):
                zz = z[i : i + step]
                out[i : i + step] += (1.0 / (rule.x[None, :] - zz[:, None]) ** power) @ wts
        return out

    def _repr_latex_(self) -> str:
        """Jupyter's rich display: the :attr:`label`."""
        return self.label

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self._params().items())
        return f"{type(self).__name__}({inner})"


# --------------------------------------------------------------------------------------------
# Pushforwards returned by SpectralLaw.affine and SpectralLaw.sqrt (here, not in transforms.py,
# so that the base class needs no import of its subclasses; transforms.py re-exports them)
# --------------------------------------------------------------------------------------------
def _check_law(law, owner: str) -> SpectralLaw:
    if not isinstance(law, SpectralLaw):
        raise InvalidParameterError(
            f"The 'law' parameter of {owner} must be a SpectralLaw. Got {type(law).__name__} "
            "instead."
        )
    return law


class AffineLaw(SpectralLaw):
    """Law of :math:`a\\lambda + b` for :math:`\\lambda \\sim` ``law``.

    Parameters
    ----------
    law : SpectralLaw
    a : float, nonzero
    b : float, default 0
    """

    name = "AffineLaw"

    def __init__(self, law, *, a, b=0.0):
        self.base = _check_law(law, self.name)
        self.a = check_scalar(a, "a", self.name)
        if self.a == 0.0:
            raise InvalidParameterError(
                f"The 'a' parameter of {self.name} must be a finite nonzero float. Got 0.0 "
                "instead."
            )
        self.b = check_scalar(b, "b", self.name)

    def _params(self):
        return {"a": self.a, "b": self.b, **self.base.params}

    def _label(self) -> str:
        shift = "" if self.b == 0 else f"{'+' if self.b > 0 else '-'}{math_number(abs(self.b))}"
        return f"${math_number(self.a)}\\,\\lambda{shift}$ for $\\lambda\\sim$ {self.base.label}"

    def _to_base(self, y):
        return (y - self.b) / self.a

    def _singular_points(self):
        return [self.a * p + self.b for p in self.base._singular_points()]

    def _support(self):
        out = []
        for lo, hi in self.base.support:
            u, v = self.a * lo + self.b, self.a * hi + self.b
            out.append((min(u, v), max(u, v)))
        return sorted(out)

    def _atoms(self):
        loc, mass = self.base.atoms
        return self.a * loc + self.b, mass

    def _pdf(self, y):
        return self.base._pdf(self._to_base(y)) / abs(self.a)

    def _cdf(self, y):
        t = self._to_base(y)
        if self.a > 0:
            return self.base._cdf(t)
        loc, mass = self.base.atoms
        at = np.zeros_like(t)
        for u, w in zip(loc, mass, strict=True):
            at += np.where(t == u, w, 0.0)
        return np.clip(1.0 - self.base._cdf(t) + at, 0.0, 1.0)

    def ppf(self, q):
        qq = np.asarray(q, dtype=np.float64)
        if self.a > 0:
            return self.a * np.asarray(self.base.ppf(qq)) + self.b
        return self.a * np.asarray(self.base.ppf(1.0 - qq)) + self.b

    def _stieltjes(self, z):
        # for a < 0, z + i0 maps to w - i0: take the boundary value from below
        w = self._to_base(z)
        if self.a > 0:
            return np.asarray(self.base.stieltjes(w)) / self.a
        return np.conj(np.asarray(self.base.stieltjes(np.conj(w)))) / self.a

    def _dstieltjes(self, z):
        w = self._to_base(z)
        if self.a > 0:
            return np.asarray(self.base.dstieltjes(w)) / self.a**2
        return np.conj(np.asarray(self.base.dstieltjes(np.conj(w)))) / self.a**2

    def _stieltjes_mp(self):
        inner = self.base._stieltjes_mp()
        if inner is None:
            return None
        m0, dm0, exact0 = inner
        a_f, b_f = float(self.a), float(self.b)

        def m(x):
            a, b = mpmath.mpf(a_f), mpmath.mpf(b_f)
            return m0((x - b) / a) / a

        def dm(x):
            a, b = mpmath.mpf(a_f), mpmath.mpf(b_f)
            return dm0((x - b) / a) / a**2

        exact = {a_f * e + b_f: mpmath.mpf(a_f) * v + mpmath.mpf(b_f) for e, v in exact0.items()}
        return m, dm, exact

    def _moment(self, k):
        return float(
            sum(
                comb(k, j) * self.a**j * self.b ** (k - j) * self.base.moment(j)
                for j in range(k + 1)
            )
        )


class SqrtLaw(SpectralLaw):
    """Law of :math:`\\sqrt\\lambda` for :math:`\\lambda \\sim` ``law`` supported in
    :math:`[0, \\infty)`.

    Density :math:`2y\\,\\rho(y^2)`, cdf :math:`F(y^2)`, quantiles :math:`\\sqrt{F^{-1}(q)}`.

    Parameters
    ----------
    law : SpectralLaw
        A law supported in :math:`[0, \\infty)`.
    """

    name = "SqrtLaw"

    def __init__(self, law):
        self.base = _check_law(law, self.name)
        if self.base.lower < 0:
            raise InvalidParameterError(
                f"The 'law' parameter of {self.name} must be supported in [0, inf). Got a law "
                f"with lower end {self.base.lower} instead."
            )

    def _params(self):
        return {"transform": "sqrt", **self.base.params}

    def _label(self) -> str:
        return f"$\\sqrt{{\\lambda}}$ for $\\lambda\\sim$ {self.base.label}"

    def _singular_points(self):
        return [float(np.sqrt(p)) for p in self.base._singular_points() if p >= 0]

    def _support(self):
        return [(float(np.sqrt(lo)), float(np.sqrt(hi))) for lo, hi in self.base.support]

    def _atoms(self):
        loc, mass = self.base.atoms
        return np.sqrt(loc), mass

    def _pdf(self, y):
        out = np.zeros_like(y)
        pos = y > 0
        out[pos] = 2.0 * y[pos] * self.base._pdf(y[pos] ** 2)
        return out

    def _cdf(self, y):
        return np.where(y < 0, 0.0, self.base._cdf(np.where(y < 0, 0.0, y) ** 2))

    def ppf(self, q):
        return np.sqrt(np.maximum(np.asarray(self.base.ppf(q)), 0.0))

    def _moment(self, k):
        if k % 2 == 0:
            return self.base.moment(k // 2)
        # odd moments: the density of sqrt(lambda) may be finite and nonzero at 0 (hard edge
        # of the base law), which the cosine rules resolve only algebraically; use adaptive
        # quadrature in y instead
        loc, mass = self.atoms
        total = float(np.sum(mass * loc**k)) if loc.size else 0.0
        for lo, hi in self.support:
            val, _ = integrate.quad(
                lambda y: y**k * float(self._pdf(np.array([y]))[0]), lo, hi, limit=200,
                epsabs=1e-15, epsrel=1e-13,
            )
            total += val
        return total

    def _base_quadrature(self, z, sign, power):
        """int dmu(l) / (sqrt(l) + sign z)^power, atoms exact, continuous part by quadrature."""
        out = np.zeros(z.shape, dtype=np.complex128)
        loc, mass = self.base.atoms
        for t, w in zip(loc, mass, strict=True):
            out += w / (np.sqrt(t) + sign * z) ** power
        for rule in self.base._rules:
            wts = rule.g * (np.pi / rule.n_nodes)
            r = np.sqrt(rule.x)
            step = max(1, 2_000_000 // r.size)
            for i in range(0, z.size, step):
                zz = z[i : i + step]
                out[i : i + step] += (1.0 / (r[None, :] + sign * zz[:, None]) ** power) @ wts
        return out

    def _stieltjes(self, z):
        out = np.empty_like(z)
        right = z.real >= 0
        if np.any(right):
            zr = z[right]
            out[right] = 2.0 * zr * np.asarray(self.base.stieltjes(zr * zr)) + (
                self._base_quadrature(zr, 1.0, 1)
            )
        if np.any(~right):
            out[~right] = self._base_quadrature(z[~right], -1.0, 1)
        real = (z.imag == 0) & ~self._inside(z.real)
        out[real] = out[real].real
        return out

    def _dstieltjes(self, z):
        out = np.empty_like(z)
        right = z.real >= 0
        if np.any(right):
            zr = z[right]
            w = zr * zr
            out[right] = (
                2.0 * np.asarray(self.base.stieltjes(w))
                + 4.0 * w * np.asarray(self.base.dstieltjes(w))
                - self._base_quadrature(zr, 1.0, 2)
            )
        if np.any(~right):
            out[~right] = self._base_quadrature(z[~right], -1.0, 2)
        real = (z.imag == 0) & ~self._inside(z.real)
        out[real] = out[real].real
        return out
