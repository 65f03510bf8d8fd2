"""Generalized Marchenko–Pastur laws: the Silverstein equation, solved exactly.

Model and convention: :math:`S = T^{1/2} Z^\\top Z T^{1/2} / n` with
:math:`Z \\in \\mathbb{R}^{n \\times p}` of i.i.d. standard entries, :math:`T` a
:math:`p \\times p` positive semi-definite population matrix whose spectral law tends to
:math:`H`, and ``ratio`` :math:`\\gamma = p / n`. With :math:`H = \\delta_1` this is
:class:`~spikewise.solvers.marchenko_pastur.MarchenkoPastur`. The companion
:math:`\\underline S = Z T Z^\\top / n` (:math:`n \\times n`) has Stieltjes transform
:math:`\\underline m = \\gamma m - (1 - \\gamma)/z`, the unique solution in
:math:`\\mathbb{C}^+` of the Silverstein equation (Silverstein & Bai 1995)

.. math::

    z = -\\frac{1}{\\underline m} + \\gamma \\int \\frac{t\\, dH(t)}{1 + t \\underline m}.

Writing :math:`s = -1/\\underline m` (:math:`s \\in \\mathbb{C}^+` as well) the equation
becomes :math:`z = s\\, D(s)` with

.. math::

    D(s) = 1 - \\gamma - \\gamma s\\, m_H(s) = 1 - \\gamma \\int \\frac{t\\, dH(t)}{t - s},
    \\qquad m(z) = \\frac{m_H(s)}{D(s)},

:math:`m_H` the Stieltjes transform of :math:`H`. Both forms are free of cancellation at
:math:`z \\to 0` and :math:`z \\to \\infty`; the density is
:math:`\\operatorname{Im}\\underline m(x + i0) / (\\pi\\gamma)
= \\operatorname{Im} s / (\\pi\\gamma |s|^2)`.

Support (Silverstein & Choi 1995): on the real axis, outside the population's support and
atoms, :math:`x(s) = s D(s)` is real and the complement of the support (off zero) is
:math:`\\{x(s) : x'(s) > 0\\}`, with :math:`x'(s) = 1 - \\gamma\\int t^2 dH(t)/(t - s)^2`.
The edges are the values of :math:`x` at the real zeros of :math:`x'`; each increasing piece
of :math:`x` maps onto one gap (or one of the two unbounded components), and on it the
real :math:`s(x)` is the physical root — this is how real :math:`z` outside the support is
solved (a bracketed monotone solve), never by picking among roots. Inside the support and
off the axis the root in :math:`\\mathbb{C}^+` is unique.

Algorithms. For an atomic :math:`H = \\sum_k w_k \\delta_{t_k}` (K atoms) every evaluation of
:math:`x` and :math:`x'` is a weighted sum over the atoms, computed by blocks of points at
cost O(points x K). The zeros of :math:`x'` are found without sampling: between two
consecutive atoms :math:`x' = 1 - \\gamma\\sum_k w_k t_k^2/(t_k - s)^2` is concave, so it has
no zero or two, around its maximum; a two-atom lower bound discards in O(K) the intervals
where no gap can open, and the others are solved by safeguarded Newton, vectorized over the
intervals, with bisection in the logarithm of the distance to the poles, so that bulks whose
scales differ by 1e16 are all found (see :meth:`GeneralizedMarchenkoPastur._pieces_atoms`).
For a continuous :math:`H` the sign of :math:`x'` is sampled on graded nodes. Real points
inside the support are solved by continuation along each support interval (Newton from the
interpolation of solved neighbours, about 2.5 evaluations per point), started from a few
points reached by Newton's method kept in :math:`\\mathbb{C}^+` from :math:`z + i\\eta` with
:math:`\\eta` decreasing (a homotopy); complex :math:`z` first try Newton straight from
:math:`z - \\gamma \\int t\\, dH(t)`, the homotopy taking the rest. Every root is
accepted only if its backward error :math:`|x(s) - z|` is below ``1e-9`` times the size of
the terms of :math:`x(s)`, and the cdf, quantiles, moments and bulks check that the density
integrates, with the atom, to 1 (to ``1e-8``), raising
:class:`~spikewise._validation.ConvergenceError` otherwise (a
:class:`~spikewise._validation.ConvergenceWarning` when the quadrature's own error estimate
accounts for the difference).

Atoms: the law has an atom of mass :math:`\\max(1 - 1/\\gamma, H(\\{0\\}))` at zero and no other.

References
----------
J. W. Silverstein and Z. D. Bai, "On the empirical distribution of eigenvalues of a class of
large dimensional random matrices", J. Multivariate Anal. 54 (1995).
J. W. Silverstein and S.-I. Choi, "Analysis of the limiting spectral distribution of large
dimensional random matrices", J. Multivariate Anal. 54 (1995).
Z. Bai and J. W. Silverstein, *Spectral Analysis of Large Dimensional Random Matrices*,
2nd ed., Springer (2010), ch. 6 (exact separation).
"""

from __future__ import annotations

import warnings
from functools import cached_property

import numpy as np
from scipy import optimize

from spikewise._validation import (
    ConvergenceError,
    ConvergenceWarning,
    InvalidParameterError,
    check_array,
    check_scalar,
)
from spikewise.solvers._law import SpectralLaw

__all__ = ["DiscreteLaw", "GeneralizedMarchenkoPastur"]

_NEWTON_TOL = 2e-15
_ACCEPT_TOL = 1e-9
_MASS_TOL = 1e-8
_BLOCK = 2**16  # entries of one (points x atoms) block
_N_ANCHORS = 9  # points per support interval solved by the homotopy before continuation


class DiscreteLaw(SpectralLaw):
    """A law made of atoms only, :math:`\\sum_k w_k \\delta_{t_k}`.

    Parameters
    ----------
    atoms : array_like of float
        Locations :math:`t_k`.
    weights : array_like of float, optional
        Masses :math:`w_k \\ge 0` summing to 1 (uniform when omitted).
    owner : str, optional
        Name used in error messages (when built on behalf of another law).
    names : (str, str), optional
        Names of ``atoms`` and ``weights`` in error messages (the caller's own parameters
        when built on behalf of another law).
    """

    name = "DiscreteLaw"

    def __init__(self, atoms, weights=None, *, owner: str | None = None,
                 names: tuple[str, str] = ("atoms", "weights")):
        owner = owner or self.name
        a_name, w_name = names
        loc = check_array(atoms, a_name, owner, ndim=(0, 1)).reshape(-1)
        if loc.size == 0:
            raise InvalidParameterError(
                f"The {a_name!r} parameter of {owner} must contain at least one location. Got "
                "an empty array instead."
            )
        if weights is None:
            w = np.full(loc.size, 1.0 / loc.size)
        else:
            w = check_array(weights, w_name, owner, ndim=(0, 1)).reshape(-1)
            if w.shape != loc.shape:
                raise InvalidParameterError(
                    f"The {w_name!r} parameter of {owner} must have the shape of {a_name!r} "
                    f"{loc.shape}. Got shape {w.shape} instead."
                )
            if np.any(w < 0):
                raise InvalidParameterError(
                    f"The {w_name!r} parameter of {owner} must be non-negative. Got minimum "
                    f"{float(w.min())!r} instead."
                )
            if abs(w.sum() - 1.0) > 1e-10:
                raise InvalidParameterError(
                    f"The {w_name!r} parameter of {owner} must sum to 1. Got sum "
                    f"{float(w.sum())!r} instead."
                )
            w = w / w.sum()
        keep = w > 0
        loc, w = loc[keep], w[keep]
        uniq, inverse = np.unique(loc, return_inverse=True)
        self.locations = uniq
        self.weights = np.bincount(inverse.reshape(-1), weights=w, minlength=uniq.size)

    def _params(self):
        return {"atoms": self.locations.tolist(), "weights": self.weights.tolist()}

    def _support(self):
        return []

    def _atoms(self):
        return self.locations, self.weights

    def _cdf(self, x):
        return np.clip((x[:, None] >= self.locations[None, :]) @ self.weights, 0.0, 1.0)

    def ppf(self, q):
        qq = np.asarray(q, dtype=np.float64)
        cum = np.cumsum(self.weights)
        idx = np.minimum(np.searchsorted(cum, qq - 1e-15, side="left"), cum.size - 1)
        return self.locations[idx]

    def _stieltjes(self, z):
        with np.errstate(divide="ignore", invalid="ignore"):
            return (1.0 / (self.locations[None, :] - z[:, None])) @ self.weights

    def _dstieltjes(self, z):
        with np.errstate(divide="ignore", invalid="ignore"):
            return (1.0 / (self.locations[None, :] - z[:, None]) ** 2) @ self.weights

    def _moment(self, k):
        return float(np.sum(self.weights * self.locations**k))


class _Population:
    """The population law H seen through D(s), D'(s), m_H(s), m_H'(s).

    For an atomic H every quantity is a weighted sum over the atoms; the sums over a block of
    points are matrix-vector products over a (points x atoms) block of at most ``_BLOCK``
    entries, so memory stays bounded and the cost is O(points x atoms) per evaluation.
    """

    def __init__(self, law: SpectralLaw, ratio: float):
        self.law = law
        self.ratio = ratio
        self.discrete = isinstance(law, DiscreteLaw)
        if self.discrete:
            self.t = law.locations
            self.w = law.weights
            self.wt = self.w * self.t
            self.wts = np.stack([self.wt, self.w], axis=1)
            pos = self.t > 0
            self.tp = self.t[pos]  # the poles of D, sorted
            self.wtt = (self.wt * self.t)[pos]
        loc, mass = law.atoms
        self.zero_mass = float(mass[loc == 0.0].sum())
        self.mean = law.mean()
        # forbidden set of the real s axis: atoms and support intervals (t > 0 only matter)
        forb = [(float(t), float(t)) for t in loc if t > 0]
        forb += [(float(a), float(b)) for a, b in law.support]
        self.forbidden = sorted(forb)

    def _blocks(self, n, k):
        step = max(1, _BLOCK // max(k, 1))
        for i in range(0, n, step):
            yield slice(i, i + step)

    def evaluate(self, s):
        """Return (D, D', m_H, m_H') at s (complex or real array)."""
        g = self.ratio
        s = np.asarray(s)
        if self.discrete:
            dtype = np.complex128 if np.iscomplexobj(s) else np.float64
            one = np.empty((s.size, 2), dtype=dtype)
            two = np.empty((s.size, 2), dtype=dtype)
            with np.errstate(divide="ignore", invalid="ignore"):
                for b in self._blocks(s.size, self.t.size):
                    r = 1.0 / (self.t[None, :] - s[b, None])
                    one[b] = r @ self.wts
                    r *= r
                    two[b] = r @ self.wts
            return 1.0 - g * one[:, 0], -g * two[:, 0], one[:, 1], two[:, 1]
        m_h = np.asarray(self.law.stieltjes(s))
        dm_h = np.asarray(self.law.dstieltjes(s))
        if not np.iscomplexobj(s):
            m_h, dm_h = m_h.real, dm_h.real
        d = 1.0 - g - g * s * m_h
        dd = -g * m_h - g * s * dm_h
        return d, dd, m_h, dm_h

    def z_and_dz(self, s):
        """x(s) = s D(s) and x'(s) = D + s D' (the Newton pair), cheaply."""
        if not self.discrete:
            d, dd, _, _ = self.evaluate(s)
            return s * d, d + s * dd
        a = np.zeros(s.shape, dtype=s.dtype)
        b = np.zeros(s.shape, dtype=s.dtype)
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.t.size <= 16:
                # few atoms: a loop over atoms beats building the (points x atoms) block
                for t, wt in zip(self.t, self.wt, strict=True):
                    r = 1.0 / (t - s)
                    a += wt * r
                    b += wt * (r * r)
            else:
                for blk in self._blocks(s.size, self.t.size):
                    r = 1.0 / (self.t[None, :] - s[blk, None])
                    a[blk] = r @ self.wt
                    r *= r
                    b[blk] = r @ self.wt
        d = 1.0 - self.ratio * a
        return s * d, d - self.ratio * s * b

    def magnitude(self, s):
        """Size of the terms of x(s), the scale of its rounding error (backward error).

        ``|s| (1 + gamma sum_k w_k t_k / |t_k - s|)`` for atoms; ``|s| (1 + gamma +
        gamma |s m_H(s)|)`` otherwise.
        """
        g = self.ratio
        if not self.discrete:
            m_h = np.asarray(self.law.stieltjes(s))
            return np.abs(s) * (1.0 + g + g * np.abs(s * m_h))
        acc = np.empty(s.shape, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            for blk in self._blocks(s.size, self.t.size):
                acc[blk] = (1.0 / np.abs(self.t[None, :] - s[blk, None])) @ self.wt
        return np.abs(s) * (1.0 + g * acc)

    def curvature_sums(self, s, powers):
        """``sum_k w_k t_k^2 / (t_k - s)^p`` for each p in ``powers`` at real s (atoms > 0)."""
        out = [np.empty(s.size) for _ in powers]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            for blk in self._blocks(s.size, self.tp.size):
                r = 1.0 / (self.tp[None, :] - s[blk, None])
                rp = r * r
                p_now = 2
                for j, p in enumerate(powers):
                    while p_now < p:
                        rp *= r
                        p_now += 1
                    out[j][blk] = rp @ self.wtt
        return out


def _midpoint(lo, hi, left, right):
    """Bisection point of [lo, hi] inside the pole interval (left, right).

    Arithmetic, unless the bracket spans more than a factor 4 in the distance to the nearer
    pole; then the geometric mean of the distances, so that a root at a relative distance
    1e-16 of a pole is reached in O(log log) bisections, whatever the scales.
    """
    mid = 0.5 * (lo + hi)
    with np.errstate(invalid="ignore", over="ignore"):
        dl0 = lo - left
        dl1 = hi - left
        floor_l = 4e-16 * np.abs(left) + 1e-300
        geo_l = left + np.sqrt(np.maximum(dl0, floor_l) * dl1)
        use_l = np.isfinite(left) & (dl1 > 4.0 * np.maximum(dl0, floor_l))
        dr0 = right - hi
        dr1 = right - lo
        floor_r = 4e-16 * np.abs(right) + 1e-300
        geo_r = right - np.sqrt(np.maximum(dr0, floor_r) * dr1)
        use_r = np.isfinite(right) & (dr1 > 4.0 * np.maximum(dr0, floor_r))
    near_l = ~np.isfinite(right) | (np.isfinite(left) & (mid - left <= right - mid))
    out = np.where(near_l & use_l, geo_l, np.where(~near_l & use_r, geo_r, mid))
    ok = (out > lo) & (out < hi)
    return np.where(ok, out, mid)


def _safe_newton(fun, lo, hi, s, left, right, owner, what):
    """Roots of increasing functions, one per entry, bracketed in (lo, hi); vectorized.

    Newton's step where it stays in the bracket and halves the step, otherwise a bisection
    (:func:`_midpoint`); the bracket shrinks at every iteration. ``fun(s, idx)`` returns the
    values and derivatives at ``s`` for the entries ``idx``.
    """
    lo, hi, s = lo.copy(), hi.copy(), s.copy()
    s = np.where((s > lo) & (s < hi), s, _midpoint(lo, hi, left, right))
    old_step = hi - lo
    active = np.arange(s.size)
    for _ in range(400):
        if not active.size:
            return s
        sa = s[active]
        f, df = fun(sa, active)
        lo_a = np.where(f < 0, sa, lo[active])
        hi_a = np.where(f > 0, sa, hi[active])
        with np.errstate(divide="ignore", invalid="ignore"):
            new = sa - f / df
        bad = (~np.isfinite(new) | (new <= lo_a) | (new >= hi_a)
               | (np.abs(new - sa) > 0.5 * old_step[active]))
        new = np.where(bad, _midpoint(lo_a, hi_a, left[active], right[active]), new)
        tiny = 4e-16 * np.abs(sa)
        done = (f == 0) | (np.abs(new - sa) <= tiny) | (hi_a - lo_a <= tiny)
        lo[active], hi[active] = lo_a, hi_a
        old_step[active] = np.abs(new - sa)
        s[active] = np.where(f == 0, sa, new)
        active = active[~done]
    raise ConvergenceError(
        f"{owner}: the search for {what} did not converge in 400 iterations (bracket "
        f"[{lo[active[0]]!r}, {hi[active[0]]!r}])."
    )


class GeneralizedMarchenkoPastur(SpectralLaw):
    """Limiting spectral law of :math:`T^{1/2} Z^\\top Z T^{1/2} / n` (generalized MP).

    Parameters
    ----------
    ratio : float > 0
        :math:`\\gamma = p / n`.
    population : SpectralLaw, array_like of float, or tuple (locations, weights)
        The population law :math:`H` of :math:`T`: any law on :math:`[0, \\infty)` (e.g. a
        continuous one such as ``MarchenkoPastur(...).affine(a, b)``), the locations of
        its atoms, or a ``(locations, weights)`` pair as taken by
        :func:`~spikewise.solvers.covariance_outliers`.
    weights : array_like of float, optional
        Masses of the atoms when ``population`` is given by locations (uniform if omitted);
        non-negative, summing to 1.

    Attributes
    ----------
    ratio : float
    population : SpectralLaw
        :math:`H` (a :class:`DiscreteLaw` when atoms were given).
    bulks : list of (lo, hi, mass)
        The separated bulks with their masses.

    Notes
    -----
    See the module docstring for the equations, the root selection and the support
    computation (Silverstein & Bai 1995; Silverstein & Choi 1995). Real arguments outside the
    support give the exact real :math:`m(x)` and :math:`m'(x)`; inside the support the
    boundary value :math:`m(x + i0)`. Every solve checks its residual
    :math:`|s D(s) - z|` and raises :class:`~spikewise._validation.ConvergenceError` naming
    the point, the residual and the number of iterations if it is above ``1e-9`` times the
    size of the terms of :math:`s D(s)` (a backward error, free of the law's scale). The
    cdf, ppf, moments and :attr:`bulks` raise :class:`~spikewise._validation.ConvergenceError`
    if the density and the atom do not add up to mass 1 within ``1e-8`` (they warn instead
    when the quadrature's own error estimate accounts for the difference).

    Cost for K population atoms: O(K log K) plus a few O(K) sweeps per interval where a gap
    can open, for the support; about 2.5 evaluations of O(K) per point for the density
    (10^4 points with K = 5000 atoms: about 0.7 s of CPU for support and density; see
    ``benchmarks/README.md``).

    Examples
    --------
    >>> law = GeneralizedMarchenkoPastur(ratio=0.1, population=[1.0, 10.0], weights=[0.5, 0.5])
    >>> len(law.support)
    2
    """

    name = "GeneralizedMarchenkoPastur"

    def __init__(self, *, ratio, population, weights=None):
        self.ratio = check_scalar(ratio, "ratio", self.name, lower=0, lower_inclusive=False)
        if isinstance(population, SpectralLaw):
            if weights is not None:
                raise InvalidParameterError(
                    f"The 'weights' parameter of {self.name} must be None when 'population' is "
                    f"a SpectralLaw. Got {weights!r} instead."
                )
            law = population
            if not isinstance(law, DiscreteLaw) and not law.support:
                loc, mass = law.atoms
                law = DiscreteLaw(loc, mass, owner=self.name)
        elif (isinstance(population, tuple) and len(population) == 2 and weights is None
              and np.ndim(population[0]) == 1 and np.ndim(population[1]) == 1):
            # (locations, weights), the form the outlier engines take
            law = DiscreteLaw(population[0], population[1], owner=self.name,
                              names=("population[0] (locations)", "population[1] (weights)"))
        else:
            law = DiscreteLaw(population, weights, owner=self.name,
                              names=("population", "weights"))
        if law.lower < 0:
            raise InvalidParameterError(
                f"The 'population' parameter of {self.name} must be supported in [0, inf) "
                f"(population eigenvalues are variances). Got a lower end {law.lower} instead."
            )
        if law.upper <= 0:
            raise InvalidParameterError(
                f"The 'population' parameter of {self.name} must put mass on (0, inf). Got a "
                "law concentrated at 0 instead."
            )
        self.population = law
        self._pop = _Population(law, self.ratio)

    # --------------------------------------------------------------- params
    def _params(self):
        return {"ratio": self.ratio, "population": self.population.params}

    def _atoms(self):
        zero = max(1.0 - 1.0 / self.ratio, self._pop.zero_mass)
        if zero > 1e-15:
            return np.array([0.0]), np.array([zero])
        return np.empty(0), np.empty(0)

    # ------------------------------------------------------------ structure
    def _segments(self):
        """Open intervals of the real s axis where x(s) is real analytic."""
        pts = [(-np.inf, -np.inf), (0.0, 0.0)] + self._pop.forbidden + [(np.inf, np.inf)]
        pts.sort()
        segs = []
        for (_, b), (c, _) in zip(pts[:-1], pts[1:], strict=True):
            if c > b:
                segs.append((b, c))
        return segs

    def _nodes(self, u, v):
        scale = max(self._pop.mean, 1e-300)
        geo = 10.0 ** np.linspace(-13, 0, 300)
        if np.isinf(u) and np.isinf(v):  # pragma: no cover - cannot happen (0 splits)
            raise AssertionError
        if np.isinf(u):  # (-inf, v), v <= 0
            return np.sort(v - scale * 10.0 ** np.linspace(-13, 13, 1500))
        if np.isinf(v):  # (u, inf)
            width = max(u, scale)
            return np.sort(u + width * 10.0 ** np.linspace(-13, 13, 1500))
        phi = np.pi * (np.arange(1200) + 0.5) / 1200
        inner = u + (v - u) * 0.5 * (1.0 - np.cos(phi))
        ends = np.concatenate([u + (v - u) * geo * 0.5, v - (v - u) * geo * 0.5])
        nodes = np.unique(np.concatenate([inner, ends]))
        return nodes[(nodes > u) & (nodes < v)]

    def _dz_real(self, s):
        return self._pop.z_and_dz(np.atleast_1d(np.asarray(s, dtype=np.float64)))[1]

    def _z_real(self, s):
        return self._pop.z_and_dz(np.atleast_1d(np.asarray(s, dtype=np.float64)))[0]

    def _end_value(self, s_end, side):
        """Limit of x(s) at a segment end (side=-1: from the left, +1: from the right)."""
        if s_end == 0.0:
            return 0.0
        if np.isinf(s_end):
            return float(s_end)
        loc, _ = self.population.atoms
        if np.any(loc == s_end):
            # x' -> -inf at an atom, so an increasing piece never ends there; be safe
            return -np.inf * side
        return float(self._z_real([s_end])[0])

    @cached_property
    def _structure(self):
        """Critical points, increasing pieces and support (Silverstein–Choi)."""
        if self._pop.discrete:
            pieces, criticals = self._pieces_atoms()
        else:
            pieces, criticals = self._pieces_sampled()
        pieces.sort(key=lambda p: p[2])
        # support: the gaps of the union of the images, within [0, inf); a gap must be wider
        # than rounding relative to its own ends (scales may differ by 1e16 across the law)
        support = []
        cover = -np.inf
        for _, _, x_l, x_r in pieces:
            if np.isfinite(cover) and x_l > cover + 1e-13 * max(abs(cover), abs(x_l)):
                support.append((max(cover, 0.0), x_l))
            cover = max(cover, x_r)
        return {"pieces": pieces, "criticals": np.array(sorted(criticals)), "support": support}

    def _pieces_atoms(self):
        """Increasing pieces of x(s) for an atomic H, without sampling (O(K log K) + solves).

        With the poles :math:`0 < t_1 < \\dots < t_K` of :math:`D` and
        :math:`f(s) = \\sum_k w_k t_k^2 / (t_k - s)^2`, :math:`x'(s) = 1 - \\gamma f(s)`.
        Between two consecutive poles :math:`f` is strictly convex and tends to
        :math:`+\\infty` at both ends, so :math:`x'` has no zero or exactly two, on either
        side of the minimum of :math:`f`. Keeping only the two nearest poles gives the bound
        :math:`f \\ge (a^{1/3} + b^{1/3})^3 / (t_{k+1} - t_k)^2` (:math:`a = w_k t_k^2`,
        :math:`b = w_{k+1} t_{k+1}^2`, all terms being positive), which rules out every
        interval where :math:`\\gamma` times it is at least 1 (no gap can open there); on the
        others the minimum of :math:`f` and the two zeros are found by safeguarded Newton,
        vectorized over the intervals, the zeros as roots of
        :math:`(\\gamma f)^{-1/2} - 1`, which is close to linear near a pole. On
        :math:`(-\\infty, t_1)` :math:`f` increases and on :math:`(t_K, \\infty)` it
        decreases, so each holds exactly one zero of :math:`x'`.
        """
        pop, g = self._pop, self.ratio
        t, wtt = pop.tp, pop.wtt
        owner = self.name
        f0 = g * float(np.sum(pop.w[pop.t > 0]))  # gamma f(0): f(0) = H((0, inf))
        pieces, criticals = [], []

        def phi(s, idx, sign=1.0):
            f, df = pop.curvature_sums(s, (2, 3))
            df = 2.0 * df
            with np.errstate(divide="ignore", invalid="ignore"):
                q = 1.0 / np.sqrt(g * f)
                return sign * (q - 1.0), sign * (-0.5 * q ** 3 * g * df)

        def lowest(lo, hi):
            one = np.ones(1)
            return _safe_newton(lambda s, i: phi(s, i, -1.0), lo * one, hi * one,
                                0.5 * (lo + hi) * one, -np.inf * one, t[0] * one, owner,
                                "the lowest critical point")[0]

        if f0 < 1.0:
            r = lowest(0.0, t[0])
            pieces += [(-np.inf, 0.0, -np.inf, 0.0), (0.0, r, 0.0, float(self._z_real(r)[0]))]
            criticals.append(r)
        elif f0 > 1.0:
            r = lowest(2.0 * t[-1] * (1.0 - np.sqrt(f0)), 0.0)
            pieces.append((-np.inf, r, -np.inf, float(self._z_real(r)[0])))
            criticals.append(r)
        else:
            pieces.append((-np.inf, 0.0, -np.inf, 0.0))
        if t.size > 1:
            a3 = np.cbrt(wtt[:-1])
            b3 = np.cbrt(wtt[1:])
            gap = np.diff(t)
            idx = np.nonzero(g * (a3 + b3) ** 3 < gap * gap)[0]
            if idx.size:
                p, q = t[idx], t[idx + 1]
                s0 = p + gap[idx] * a3[idx] / (a3[idx] + b3[idx])

                def slope(s, i):
                    d1, d2 = pop.curvature_sums(s, (3, 4))
                    return 2.0 * d1, 6.0 * d2

                s_min = _safe_newton(slope, p, q, s0, p, q, owner,
                                     "the minima of x' between population atoms")
                keep = g * pop.curvature_sums(s_min, (2,))[0] < 1.0
                p, q, s_min = p[keep], q[keep], s_min[keep]
                if p.size:
                    n = p.size
                    sign = np.concatenate([np.ones(n), -np.ones(n)])
                    roots = _safe_newton(
                        lambda s, i: phi(s, i, sign[i]),
                        np.concatenate([p, s_min]), np.concatenate([s_min, q]),
                        np.concatenate([0.5 * (p + s_min), 0.5 * (s_min + q)]),
                        np.concatenate([p, p]), np.concatenate([q, q]), owner,
                        "the critical points between population atoms",
                    )
                    r1, r2 = roots[:n], roots[n:]
                    x1, x2 = self._z_real(r1), self._z_real(r2)
                    pieces += list(zip(r1.tolist(), r2.tolist(), x1.tolist(), x2.tolist(),
                                       strict=True))
                    criticals += roots.tolist()
        one = np.ones(1)
        top = _safe_newton(phi, t[-1] * one, t[-1] * (1.0 + 2.0 * np.sqrt(f0)) * one,
                           t[-1] * (1.0 + np.sqrt(f0)) * one, t[-1] * one, np.inf * one,
                           owner, "the top critical point")[0]
        pieces.append((top, np.inf, float(self._z_real(top)[0]), np.inf))
        criticals.append(top)
        return pieces, [float(c) for c in criticals]

    def _pieces_sampled(self):
        """Increasing pieces of x(s) for a continuous H, from sign changes of x' on nodes."""
        pieces = []  # (s_l, s_r, x_l, x_r)
        criticals = []
        for u, v in self._segments():
            nodes = self._nodes(u, v)
            with np.errstate(all="ignore"):
                dz = self._dz_real(nodes)
            ok = np.isfinite(dz)
            nodes, dz = nodes[ok], dz[ok]
            sign = dz > 0
            roots = []
            for i in np.nonzero(sign[:-1] != sign[1:])[0]:
                a, b = nodes[i], nodes[i + 1]
                r = optimize.brentq(
                    lambda s: float(self._dz_real([s])[0]), a, b, xtol=1e-300, rtol=1e-15,
                    maxiter=400,
                )
                roots.append(r)
            criticals += roots
            # walk the sub-pieces of (u, v) split at the roots
            bounds = [u] + roots + [v]
            for j in range(len(bounds) - 1):
                lo, hi = bounds[j], bounds[j + 1]
                # the sign on this sub-piece: the node samples strictly inside it
                inside = (nodes > lo) & (nodes < hi)
                if not np.any(inside):
                    continue
                if np.median(sign[inside]) < 0.5:
                    continue
                x_l = self._end_value(lo, +1) if j == 0 else float(self._z_real([lo])[0])
                last = j == len(bounds) - 2
                x_r = self._end_value(hi, -1) if last else float(self._z_real([hi])[0])
                pieces.append((lo, hi, x_l, x_r))
        return pieces, criticals

    def _support(self):
        return self._structure["support"]

    @property
    def critical_points(self) -> np.ndarray:
        """Real zeros :math:`s_c` of :math:`x'(s)`; the edges are :math:`x(s_c)`."""
        return self._structure["criticals"].copy()

    @property
    def spike_threshold(self) -> float:
        """Largest critical point :math:`s_c`: a population spike :math:`\\ell > s_c` separates.

        For :math:`H = \\delta_1` this is the BBP threshold :math:`1 + \\sqrt\\gamma` (Baik,
        Ben Arous & Péché 2005; Baik & Silverstein 2006; Bai & Yao 2008).
        """
        return float(np.max(self._structure["criticals"]))

    def spike_location(self, ell):
        """Outlier location :math:`x(\\ell) = \\ell D(\\ell)` of population spikes ``ell``.

        ``nan`` where :math:`\\ell \\le` :attr:`spike_threshold` (no outlier above the top edge).
        """
        arr = check_array(ell, "ell", f"{self.name}.spike_location", ndim=(0, 1))
        flat = np.atleast_1d(arr).astype(np.float64)
        out = np.full(flat.shape, np.nan)
        ok = flat > self.spike_threshold
        if np.any(ok):
            out[ok] = self._z_real(flat[ok])
        return out.reshape(arr.shape) if arr.ndim else float(out[0])

    @property
    def bulks(self) -> list[tuple[float, float, float]]:
        """``(lo, hi, mass)`` of each connected component of the continuous part."""
        return [(r.lo, r.hi, r.mass) for r in self._rules]

    @cached_property
    def _rules(self):
        """The interval rules of :class:`SpectralLaw`, checked: ``int pdf + atoms = 1``.

        The masses of the rules are the integrals of the density over each support interval
        (cosine series refined until their tail is below ``1e-14`` of the mass, at most
        ``2**14`` terms). A total that misses the unit mass by more than ``1e-8`` raises
        :class:`~spikewise._validation.ConvergenceError` (a bulk was lost or mis-solved)
        rather than return wrong cdf, ppf, moments or bulks, unless the rules' own error
        estimates (their relative tails times their masses, reported by a
        :class:`~spikewise._validation.ConvergenceWarning` when above ``1e-11``) account for
        it; then a :class:`~spikewise._validation.ConvergenceWarning` gives the missing mass.
        """
        rules = SpectralLaw.__dict__["_rules"].func(self)
        continuous = float(sum(r.mass for r in rules))
        atoms = float(np.sum(self._atoms_cache[1]))
        missing = 1.0 - continuous - atoms
        if abs(missing) <= _MASS_TOL:
            return rules
        where = (f"the density integrates to {continuous!r} over {len(rules)} support "
                 f"interval(s) in [{self.lower:.6g}, {self.upper:.6g}] and the atoms carry "
                 f"{atoms!r}, so {abs(missing):.3g} of the unit mass is "
                 f"{'missing' if missing > 0 else 'in excess'}")
        explained = float(sum(r.tail * abs(r.mass) for r in rules))
        if abs(missing) <= explained:
            warnings.warn(
                f"{self.name}: {where}, within the error estimate {explained:.2g} of the "
                "cosine series of the density; cdf, ppf and moments are accurate to about "
                "that level.",
                ConvergenceWarning,
                stacklevel=3,
            )
            return rules
        raise ConvergenceError(
            f"{self.name}: the mass check failed: {where} (tolerance {_MASS_TOL:g}, error "
            f"estimate of the quadrature {explained:.2g}). The support or the density was "
            f"not resolved (ratio {self.ratio!r}, population {self.population.name} on "
            f"[{self.population.lower:.6g}, {self.population.upper:.6g}])."
        )

    @cached_property
    def _scale(self) -> float:
        sup = self._structure["support"]
        top = max([b for _, b in sup] + [self._pop.mean * (1 + self.ratio)])
        return float(max(top, 1e-300))

    # ----------------------------------------------------------- real solve
    def _solve_real(self, x):
        """Real s with x(s) = x on the increasing piece whose image contains x."""
        s = np.full(x.shape, np.nan)
        pieces = self._structure["pieces"]
        for s_l, s_r, x_l, x_r in pieces:
            sel = (x > x_l) & (x < x_r) & np.isnan(s)
            if not np.any(sel):
                continue
            xs = x[sel]
            lo = np.full(xs.shape, s_l, dtype=np.float64)
            hi = np.full(xs.shape, s_r, dtype=np.float64)
            if np.isinf(s_l):
                width = np.abs(xs) + self._scale
                lo = np.minimum(s_r, xs - self.ratio * self._pop.mean) - width
                for _ in range(200):
                    bad = self._z_real(lo) >= xs
                    if not np.any(bad):
                        break
                    lo[bad] = s_r - 2.0 * (s_r - lo[bad])
            if np.isinf(s_r):
                width = np.abs(xs) + self._scale
                hi = np.maximum(s_l, xs - self.ratio * self._pop.mean) + width
                for _ in range(200):
                    bad = self._z_real(hi) <= xs
                    if not np.any(bad):
                        break
                    hi[bad] = s_l + 2.0 * (hi[bad] - s_l)
            s[sel] = self._bracketed(xs, lo, hi)
        # exact edges: x equal to an end of a piece
        for s_l, s_r, x_l, x_r in pieces:
            s = np.where(np.isnan(s) & (x == x_l) & np.isfinite(s_l), s_l, s)
            s = np.where(np.isnan(s) & (x == x_r) & np.isfinite(s_r), s_r, s)
        return s

    def _bracketed(self, x, lo, hi):
        s = 0.5 * (lo + hi)
        n_it = 0
        for _ in range(200):
            n_it += 1
            z, dz = self._pop.z_and_dz(s)
            f = z - x
            lo = np.where(f < 0, s, lo)
            hi = np.where(f > 0, s, hi)
            with np.errstate(divide="ignore", invalid="ignore"):
                new = s - f / dz
            bad = ~np.isfinite(new) | (new <= lo) | (new >= hi)
            new = np.where(bad, 0.5 * (lo + hi), new)
            tiny = 4e-16 * np.abs(s)
            done = (np.abs(new - s) <= 0.5 * tiny) | (f == 0) | (hi - lo <= tiny)
            s = new
            if np.all(done):
                break
        z, _ = self._pop.z_and_dz(s)
        res = np.abs(z - x)
        bad = ~(res <= _ACCEPT_TOL * self._pop.magnitude(s))
        if np.any(bad):
            i = int(np.argmax(res))
            raise ConvergenceError(
                f"{self.name}: the real Silverstein solve did not converge at z = {x[i]!r} "
                f"(residual {res[i]:.3g} after {n_it} iterations)."
            )
        return s

    # -------------------------------------------------------- complex solve
    def _newton(self, s, zt, maxit, keep_upper):
        """Newton's method on x(s) = zt, kept in C+ if asked; vectorized, in place.

        Returns ``(s, converged, residual)``, the residual ``|x(s) - zt|`` being the one of the
        last iterate evaluated (the returned s is one step further, hence no worse).
        """
        conv = np.zeros(s.shape, dtype=bool)
        res = np.full(s.shape, np.inf)
        for _ in range(maxit):
            idx = np.nonzero(~conv)[0]
            if idx.size == 0:
                break
            si = s[idx]
            z, dz = self._pop.z_and_dz(si)
            f = z - zt[idx]
            res[idx] = np.abs(f)
            with np.errstate(divide="ignore", invalid="ignore"):
                step = f / dz
            step = np.where(np.isfinite(step), step, 0.5j * np.abs(si))
            if keep_upper:
                # never leave the upper half plane: shorten steps that would
                lim = step.imag >= si.imag
                factor = np.where(lim, 0.5 * si.imag / np.where(lim, step.imag, 1.0), 1.0)
                step = step * factor
            new = si - step
            s[idx] = new
            conv[idx] = np.abs(step) <= _NEWTON_TOL * np.abs(new)
        return s, conv, res

    def _not_spurious(self, s):
        """False for roots that crept onto the real axis on a decreasing branch of x.

        Newton kept in C+ can converge to the boundary of C+, i.e. to one of the real roots
        with x'(s) < 0 that exist for x inside the support; the physical boundary value has
        Im s > 0, and Im s -> 0 only at an edge, where x'(s) -> 0 as well.
        """
        flat = s.imag < 1e-8 * np.abs(s)
        if not np.any(flat):
            return np.ones(s.shape, dtype=bool)
        ok = np.ones(s.shape, dtype=bool)
        _, dz = self._pop.z_and_dz(s[flat].real)
        ok[flat] = ~(dz < -1e-4)
        return ok

    def _accepted(self, s, z):
        """Backward-error test: ``|x(s) - z| <= 1e-9`` times the size of the terms of x(s)."""
        zz, _ = self._pop.z_and_dz(s)
        res = np.abs(zz - z)
        return res <= _ACCEPT_TOL * self._pop.magnitude(s), res

    def _solve_complex(self, z):
        """s in C+ with s D(s) = z, for Im z > 0 or real z inside the support."""
        s = np.empty(z.shape, dtype=np.complex128)
        real = z.imag == 0
        if np.any(real):
            s[real] = self._solve_inside(z.real[real])
        if np.any(~real):
            s[~real] = self._solve_off_axis(z[~real])
        return s

    def _solve_off_axis(self, z):
        """s in C+ for Im z > 0: Newton straight from ``z - gamma E[t]``, else the homotopy.

        The root in the upper half plane being unique, a start that converges there (with
        the checks of :meth:`_continue`) gives the physical root; on the benchmark's points
        most do, saving about a third of the homotopy's evaluations.
        """
        new, conv, res = self._newton(z - self.ratio * self._pop.mean, z, 10, True)
        good = conv & (new.imag > 0) & (res <= _ACCEPT_TOL * np.maximum(np.abs(z), np.abs(new)))
        if np.any(good):
            idx = np.nonzero(good)[0]
            good[idx] = self._not_spurious(new[idx])
        if not np.all(good):
            new[~good] = self._solve_homotopy(z[~good])
        return new

    def _solve_inside(self, x):
        """Boundary values s(x + i0) on the support, by continuation along each interval.

        On each support interval ``[a, b]`` the points are sorted by the angle
        ``theta = arccos(1 - 2 (x - a)/(b - a))``, in which s is smooth up to the square-root
        edges. A few points (``_N_ANCHORS``) are solved by the homotopy of
        :meth:`_solve_homotopy`; then, level by level, the point halfway (in rank) between
        two solved neighbours starts Newton's method from their linear interpolation in
        ``theta``. A point is accepted only if Newton converged, ``Im s > 0``, the root is not
        a real root on a decreasing branch (:meth:`_not_spurious`) and the backward error is
        below tolerance; the root in the upper half plane being unique (Silverstein & Choi
        1995), an accepted point is the physical one. Points that fail go to the homotopy.
        """
        out = np.empty(x.shape, dtype=np.complex128)
        for a, b in self.support:
            sel = np.nonzero((x > a) & (x < b))[0]
            if not sel.size:
                continue
            order = sel[np.argsort(x[sel], kind="stable")]
            xs = x[order]
            th = np.arccos(np.clip(1.0 - 2.0 * (xs - a) / (b - a), -1.0, 1.0))
            out[order] = self._continue(xs, th)
        return out

    def _continue(self, xs, th):
        n = xs.size
        s = np.empty(n, dtype=np.complex128)
        known = np.unique(np.round(np.linspace(0, n - 1, min(n, _N_ANCHORS))).astype(np.intp))
        s[known] = self._solve_homotopy(xs[known].astype(np.complex128))
        while known.size < n:
            i, j = known[:-1], known[1:]
            gap = j - i > 1
            i, j = i[gap], j[gap]
            m = (i + j) // 2
            span = th[j] - th[i]
            with np.errstate(divide="ignore", invalid="ignore"):
                lam = np.where(span > 0, (th[m] - th[i]) / span, 0.5)
            guess = s[i] + lam * (s[j] - s[i])
            zt = xs[m].astype(np.complex128)
            new, conv, res = self._newton(guess, zt, 12, True)
            good = conv & (new.imag > 0)
            # backward error: |x(s)| <= size of the terms of x(s) and |s| <= it, so the
            # cheap test against max(|z|, |s|) is the stricter one; the rest get the full one
            cheap = res <= _ACCEPT_TOL * np.maximum(np.abs(zt), np.abs(new))
            full = good & ~cheap
            if np.any(full):
                idx = np.nonzero(full)[0]
                good[idx] = self._accepted(new[idx], zt[idx])[0]
            if np.any(good):
                idx = np.nonzero(good)[0]
                good[idx] = self._not_spurious(new[idx])
            if not np.all(good):
                new[~good] = self._solve_homotopy(zt[~good])
            s[m] = new
            known = np.sort(np.concatenate([known, m]))
        return s

    def _solve_homotopy(self, z):
        """s in C+ with s D(s) = z, continued from z + i eta with eta decreasing."""
        n = z.size
        s_out = np.empty(n, dtype=np.complex128)
        if n == 0:
            return s_out
        x, y = z.real, z.imag
        scale = self._scale
        eta = np.maximum(y, 2.0 * (np.abs(x) + scale))
        zt = x + 1j * eta
        s = zt - self.ratio * self._pop.mean
        s, _, _ = self._newton(s, zt, 60, True)
        active = np.arange(n)
        q = 0.2
        eta_min_all = 1e-14 * np.maximum(np.abs(x), 1e-280)  # relative: tiny x too
        total_it = 60
        while active.size:
            # try to jump straight to the target
            s_try, conv, _ = self._newton(s.copy(), z[active], 8, True)
            total_it += 8
            good = conv & (s_try.imag > 0) & self._not_spurious(s_try)
            s_out[active[good]] = s_try[good]
            keep = ~good
            active, s, eta = active[keep], s[keep], eta[keep]
            if not active.size:
                break
            yt = y[active]
            eta_min = eta_min_all[active]
            at_bottom = eta <= np.maximum(yt, eta_min)
            if np.any(at_bottom):
                # the smallest level reached: its residual at the target is eta - y
                s_out[active[at_bottom]] = s[at_bottom]
                keep = ~at_bottom
                active, s, eta = active[keep], s[keep], eta[keep]
                yt, eta_min = yt[keep], eta_min[keep]
                if not active.size:
                    break
            eta = np.maximum(np.maximum(yt, eta_min), eta * q)
            s, _, _ = self._newton(s, x[active] + 1j * eta, 30, True)
            total_it += 30
        ok, res = self._accepted(s_out, z)
        bad = ~ok | ~(s_out.imag >= 0)
        if np.any(bad):
            i = int(np.nonzero(bad)[0][np.argmax(np.where(np.isfinite(res[bad]), res[bad], 0))])
            raise ConvergenceError(
                f"{self.name}: the Silverstein solve did not converge at z = {z[i]!r} "
                f"(residual {res[i]:.3g} after at most {total_it} Newton iterations)."
            )
        return s_out

    # ------------------------------------------------------------ transform
    def solve_s(self, z):
        """The physical root :math:`s = -1/\\underline m(z)` of :math:`z = s D(s)`.

        Parameters
        ----------
        z : array_like of complex
            Points with any imaginary part (conjugate symmetry below the axis).

        Returns
        -------
        ndarray of complex128
            For real ``z`` outside the support the value is real.
        """
        arr = self._complex_input(z)
        flat = arr.reshape(-1)
        up = flat.imag >= 0
        out = np.empty_like(flat)
        out[up] = self._solve_upper(flat[up].real + 1j * flat[up].imag)
        out[~up] = np.conj(self._solve_upper(np.conj(flat[~up])))
        return out.reshape(arr.shape)

    def _solve_upper(self, z):
        s = np.empty(z.shape, dtype=np.complex128)
        real = z.imag == 0
        inside = np.zeros(z.shape, dtype=bool)
        inside[real] = self._inside(z.real[real])
        outside = real & ~inside
        if np.any(outside):
            s[outside] = self._solve_real(z.real[outside])
        comp = ~outside
        if np.any(comp):
            s[comp] = self._solve_complex(z[comp])
        return s

    def _stieltjes(self, z):
        s = self._solve_upper(z)
        d, _, m_h, _ = self._pop.evaluate(s)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = m_h / d
        real = (z.imag == 0) & ~self._inside(z.real)
        out[real] = out[real].real
        return out

    def _dstieltjes(self, z):
        s = self._solve_upper(z)
        d, dd, m_h, dm_h = self._pop.evaluate(s)
        with np.errstate(divide="ignore", invalid="ignore"):
            dm_ds = (dm_h * d - m_h * dd) / (d * d)
            out = dm_ds / (d + s * dd)
        real = (z.imag == 0) & ~self._inside(z.real)
        out[real] = out[real].real
        return out

    def companion_stieltjes(self, z):
        """Stieltjes transform :math:`\\underline m(z) = -1/s` of the ``n x n`` companion."""
        return -1.0 / self.solve_s(z)

    def _pdf(self, x):
        out = np.zeros_like(x)
        inside = self._inside(x)
        if np.any(inside):
            s = self._solve_complex(x[inside].astype(np.complex128))
            out[inside] = np.maximum(s.imag, 0.0) / (np.pi * self.ratio * np.abs(s) ** 2)
        return out

