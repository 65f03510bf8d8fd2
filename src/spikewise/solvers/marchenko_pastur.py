"""The Marchenko–Pastur law in closed form.

Convention: :math:`S = Y^\\top Y / n` with :math:`Y \\in \\mathbb{R}^{n \\times p}` of i.i.d.
entries of mean zero and variance :math:`s^2` (``scale``), ``ratio`` :math:`\\gamma = p/n`.
The limiting spectral law of :math:`S` (Marchenko & Pastur 1967) has edges
:math:`a, b = s^2 (1 \\mp \\sqrt{\\gamma})^2`, density

.. math::

    \\rho(x) = \\frac{\\sqrt{(b - x)(x - a)}}{2 \\pi \\gamma s^2 x}, \\qquad a \\le x \\le b,

and an atom of mass :math:`1 - 1/\\gamma` at zero when :math:`\\gamma > 1`. Its Stieltjes
transform :math:`m(z) = \\int d\\mu(x)/(x - z)` solves
:math:`\\gamma s^2 z m^2 + (z - s^2(1 - \\gamma)) m + 1 = 0`, i.e.

.. math::

    m(z) = \\frac{s^2(1 - \\gamma) - z + \\sqrt{z - a}\\sqrt{z - b}}{2 \\gamma s^2 z}
         = \\frac{2}{s^2(1 - \\gamma) - z - \\sqrt{z - a}\\sqrt{z - b}}

(principal square roots; the form without cancellation is used at each point). Moments are
Narayana polynomials, :math:`\\int x^k d\\mu = s^{2k} \\sum_{r=0}^{k-1} \\frac{\\gamma^r}{r + 1}
\\binom{k}{r}\\binom{k-1}{r}` (Bai & Silverstein 2010, Lemma 3.1).
"""

from __future__ import annotations

import math
from math import comb

import mpmath as mp
import numpy as np
from scipy.special import gammaln, logsumexp

from spikewise._validation import InvalidParameterError, check_scalar
from spikewise.solvers._law import SpectralLaw, math_number

__all__ = ["MarchenkoPastur", "narayana_moment"]

#: ratios below this (and above its inverse) give a continuous part narrower, relative to its
#: location, than double precision resolves: ``4 sqrt(ratio) < 4e-8``
_MIN_RATIO = 1e-16
_TINY = float(np.finfo(np.float64).tiny)
_HUGE = float(np.finfo(np.float64).max)
_LOG_HUGE = float(np.log(_HUGE))

def _mp_stieltjes(z, g, s):
    """Stieltjes transform of MP(ratio ``g``, scale ``s``) in mpmath at any ``z`` (Im z >= 0).

    The root of :math:`g s z m^2 + (z - s(1 - g)) m + 1 = 0` that behaves as :math:`-1/z`
    at infinity, in the form without cancellation. This is the package's one mpmath
    Marchenko-Pastur: :mod:`spikewise.solvers._precision` and the outlier engines (through
    :meth:`MarchenkoPastur._stieltjes_mp`) both use it.
    """
    a, b = s * (1 - mp.sqrt(g)) ** 2, s * (1 + mp.sqrt(g)) ** 2
    z = mp.mpc(z)
    c = s * (1 - g)
    r = mp.sqrt(z - a) * mp.sqrt(z - b)
    num, den = c - z + r, c - z - r
    if abs(num) > abs(den):
        return num / (2 * g * s * z)
    return 2 / den


def _mp_dstieltjes(z, g, s):
    """Derivative of :func:`_mp_stieltjes` in ``z`` (implicit differentiation)."""
    m = _mp_stieltjes(z, g, s)
    z = mp.mpc(z)
    return -(g * s * m * m + m) / (2 * g * s * z * m + z - s * (1 - g))


def _log_narayana_moment(k: int, ratio: float, scale: float) -> float:
    """Natural log of the k-th moment (k >= 1), summed in log space."""
    r = np.arange(k, dtype=np.float64)
    logs = (
        r * np.log(ratio)
        - np.log1p(r)
        + gammaln(k + 1.0) - gammaln(r + 1.0) - gammaln(k - r + 1.0)
        + gammaln(float(k)) - gammaln(r + 1.0) - gammaln(k - r)
    )
    return float(k * np.log(scale) + logsumexp(logs))


def narayana_moment(k: int, ratio: float, scale: float = 1.0, *, owner: str = "narayana_moment"):
    """k-th moment of the Marchenko–Pastur law, :math:`s^{2k} \\sum_r N(k, r+1) \\gamma^r`.

    Parameters
    ----------
    k : int >= 0
        Order. Exact integer binomials up to ``k = 1000``; beyond, the sum is taken in log
        space (relative accuracy about ``1e-16 k``).
    ratio : float > 0
        :math:`\\gamma = p/n`.
    scale : float > 0
        Entry variance :math:`s^2`.

    Raises
    ------
    InvalidParameterError
        When the moment exceeds the largest double (about ``1.8e308``); the message gives the
        largest order that fits.
    """
    k = check_scalar(k, "k", owner, kind="int", lower=0)
    ratio = check_scalar(ratio, "ratio", owner, lower=0, lower_inclusive=False)
    scale = check_scalar(scale, "scale", owner, lower=0, lower_inclusive=False)
    if k == 0:
        return 1.0
    log_m = _log_narayana_moment(k, ratio, scale)
    if log_m > _LOG_HUGE:
        # log-moments are convex in k, so the largest k that fits is found by bisection
        lo, hi = 0, k
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if mid == 0 or _log_narayana_moment(mid, ratio, scale) <= _LOG_HUGE:
                lo = mid
            else:
                hi = mid
        raise InvalidParameterError(
            f"The 'k' parameter of {owner} must be an int in [0, {lo}] for this law (higher "
            f"moments exceed the largest double, 1.8e308). Got {k} instead (the moment is "
            f"about 10^{log_m / np.log(10.0):.0f})."
        )
    if k > 1000:
        return float(np.exp(log_m))
    try:
        total = sum(ratio**r / (r + 1) * comb(k, r) * comb(k - 1, r) for r in range(k))
        return float(scale**k * total)
    except OverflowError:  # an intermediate power overflows although the moment fits
        return float(np.exp(log_m))


class MarchenkoPastur(SpectralLaw):
    """Marchenko–Pastur law of :math:`Y^\\top Y / n`, ``Y`` of shape ``n x p``.

    Parameters
    ----------
    ratio : float > 0
        :math:`\\gamma = p / n`. For :math:`\\gamma > 1` the law has an atom of mass
        :math:`1 - 1/\\gamma` at zero; at :math:`\\gamma = 1` the density diverges like
        :math:`x^{-1/2}` at zero.
    scale : float > 0, default 1.0
        Variance :math:`s^2` of the entries of ``Y``. The law of ``scale * MP(ratio, 1)``.

    Notes
    -----
    Edges :math:`s^2(1 \\mp \\sqrt\\gamma)^2`; mean :math:`s^2`; variance :math:`\\gamma s^4`.
    The cdf is closed form: with :math:`r(x) = \\sqrt{(b-x)(x-a)}`,

    .. math::

        \\int \\frac{r(x)}{x} dx = r(x) + \\frac{a + b}{2}\\arcsin\\frac{2x - a - b}{b - a}
        - \\sqrt{ab}\\,\\arcsin\\frac{(a + b)x - 2ab}{(b - a)x}.

    References
    ----------
    V. A. Marchenko and L. A. Pastur, "Distribution of eigenvalues for some sets of random
    matrices", Mat. Sb. 72 (1967). Z. Bai and J. W. Silverstein, *Spectral Analysis of Large
    Dimensional Random Matrices*, 2nd ed., Springer (2010), ch. 3.

    Examples
    --------
    >>> law = MarchenkoPastur(ratio=0.5)
    >>> [(round(lo, 6), round(hi, 6)) for lo, hi in law.support]
    [(0.085786, 2.914214)]
    >>> law.support()  # as in scipy.stats: the endpoints of the law
    (0.08578643762690492, 2.914213562373095)
    """

    name = "MarchenkoPastur"

    def __init__(self, *, ratio, scale=1.0):
        self.ratio = check_scalar(
            ratio, "ratio", self.name, lower=_MIN_RATIO, upper=1.0 / _MIN_RATIO
        )
        self.scale = check_scalar(
            scale, "scale", self.name, lower=_TINY, upper=_HUGE / (1.0 + np.sqrt(self.ratio)) ** 2
        )
        g, s = self.ratio, self.scale
        # edges of the unit-scale law; every evaluation works in x / scale, so that tiny and
        # huge scales neither underflow nor overflow
        self._a1 = 0.0 if g == 1.0 else (1.0 - np.sqrt(g)) ** 2
        self._b1 = (1.0 + np.sqrt(g)) ** 2
        self.lower_edge = s * self._a1
        self.upper_edge = s * self._b1

    def _params(self) -> dict:
        return {"ratio": self.ratio, "scale": self.scale}

    def _label(self) -> str:
        text = f"Marchenko–Pastur $\\gamma={math_number(self.ratio)}$"
        if self.scale != 1.0:
            text += f", $s^2={math_number(self.scale)}$"
        return text

    def _support(self):
        return [(self.lower_edge, self.upper_edge)]

    def _atoms(self):
        if self.ratio > 1.0:
            return np.array([0.0]), np.array([1.0 - 1.0 / self.ratio])
        return np.empty(0), np.empty(0)

    def _pdf(self, x):
        a, b, s = self._a1, self._b1, self.scale
        t = x / s
        out = np.zeros_like(x)
        inside = (t > a) & (t < b)
        ti = t[inside]
        out[inside] = np.sqrt((b - ti) * (ti - a)) / (2.0 * np.pi * self.ratio * ti) / s
        return out

    def _antiderivative(self, t):
        # unit scale; arcsin written as atan2 with the exact cosine, well conditioned at the edges
        a, b = self._a1, self._b1
        r = np.sqrt(np.maximum((b - t) * (t - a), 0.0))
        out = r + 0.5 * (a + b) * np.arctan2(2 * t - a - b, 2 * r)
        if a > 0:
            root = np.sqrt(a * b)
            out = out - root * np.arctan2((a + b) * t - 2 * a * b, 2 * root * r)
        return out

    def _cdf(self, x):
        a, b = self._a1, self._b1
        g = self.ratio
        t = x / self.scale
        atom = max(1.0 - 1.0 / g, 0.0)
        out = np.where(x >= 0.0, atom, 0.0) if atom > 0 else np.zeros_like(x)
        cont = 1.0 - atom
        out = out + np.where(t >= b, cont, 0.0)
        mid = (t > a) & (t < b)
        if np.any(mid):
            base = self._antiderivative(np.array([a]))[0]
            out[mid] += (self._antiderivative(t[mid]) - base) / (2.0 * np.pi * g)
        return np.clip(out, 0.0, 1.0)

    def _stieltjes1(self, w):
        """Stieltjes transform of the unit-scale law at ``w = z / scale``."""
        g = self.ratio
        c = 1.0 - g
        r = np.sqrt(w - self._a1) * np.sqrt(w - self._b1)
        num = c - w + r
        den = c - w - r
        use_a = np.abs(num) > np.abs(den)
        out = np.empty_like(w)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[use_a] = num[use_a] / (2.0 * g * w[use_a])
            out[~use_a] = 2.0 / den[~use_a]
        return out

    def _real_outside(self, w):
        # exact real values off the support (the square root of a real product is real there)
        return (w.imag == 0) & ~((w.real > self._a1) & (w.real < self._b1))

    def _stieltjes(self, z):
        w = z / self.scale
        out = self._stieltjes1(w) / self.scale
        real = self._real_outside(w)
        out[real] = out[real].real
        return out

    def _dstieltjes(self, z):
        g, s = self.ratio, self.scale
        w = z / s
        m = self._stieltjes1(w)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = -(g * m * m + m) / (2.0 * g * w * m + w - (1.0 - g)) / (s * s)
        real = self._real_outside(w)
        out[real] = out[real].real
        return out

    def _moment(self, k):
        return narayana_moment(k, self.ratio, self.scale, owner=f"{self.name}.moment")

    def mean(self) -> float:
        return float(self.scale)

    def var(self) -> float:
        return float(self.ratio * self.scale**2)

    def _stieltjes_mp(self):
        """mpmath ``(m, m', exact_edges)`` on the real axis off the support (closed form)."""
        ratio, scale = float(self.ratio), float(self.scale)

        def m(x):
            g, s = mp.mpf(ratio), mp.mpf(scale)
            if x == 0 and g > 1:  # the atom at 0
                return mp.inf
            return mp.re(_mp_stieltjes(x, g, s))

        def dm(x):
            return mp.re(_mp_dstieltjes(x, mp.mpf(ratio), mp.mpf(scale)))

        g, s = mp.mpf(ratio), mp.mpf(scale)
        lo = mp.mpf(0) if ratio == 1 else s * (1 - mp.sqrt(g)) ** 2
        hi = s * (1 + mp.sqrt(g)) ** 2
        lo_f = 0.0 if ratio == 1 else scale * (1.0 - math.sqrt(ratio)) ** 2
        hi_f = scale * (1.0 + math.sqrt(ratio)) ** 2
        return m, dm, {lo_f: lo, hi_f: hi, float(np.float64(lo)): lo, float(np.float64(hi)): hi}
