"""High-precision (mpmath) versions of the law computations, to certify the float64 path.

Everything here works at a user-chosen number of decimal digits ``dps`` (e.g. 30 or 50)
and returns ``mpmath`` numbers. The root selection is independent of the float64 solver:

* Marchenko–Pastur: the closed form with principal square roots
  :math:`m(z) = 2 / (s^2(1 - \\gamma) - z - \\sqrt{z - a}\\sqrt{z - b})` (or its rationalized twin,
  whichever has no cancellation).
* Generalized MP with an atomic population of at most 8 atoms: :math:`z = s D(s)` is a
  polynomial equation of degree ``K + 1`` in :math:`s`; all roots are found by
  ``mpmath.polyroots`` and the physical one is selected by theory, not by size. For
  :math:`\\operatorname{Im} z > 0` it is the unique root in :math:`\\mathbb{C}^+` (Silverstein
  & Bai 1995); for real :math:`z` outside the support it is the unique real root with
  :math:`x'(s) > 0` (Silverstein & Choi 1995, Thm 4.2: on :math:`\\{x' > 0\\}` the map
  :math:`s \\mapsto x(s)` inverts the physical root, so it is one-to-one). A selection that
  is not unique raises.
* Generalized MP with more atoms (the monomial expansion is then too ill-conditioned) or a
  continuous population (an affine image of MP, e.g. the CK law): Newton's method
  (``mpmath.findroot``) at ``dps`` digits from the float64 root, accepted only if it meets
  the same theoretical criterion (``Im s > 0``, or real with :math:`x'(s) > 0`).
* Edges: the real zeros of :math:`x'(s)` refined by ``mpmath.findroot`` from the float64
  critical points; edge :math:`= x(s_c)`.
* Spike thresholds (Baik & Silverstein 2006; Bai & Yao 2008): a population spike
  :math:`\\ell` separates from the top bulk iff :math:`\\ell > s_c` (the largest critical
  point), and the outlier sits at :math:`x(\\ell) = \\ell D(\\ell)`.
"""

from __future__ import annotations

import math

import mpmath as mp

from spikewise._validation import (
    ConvergenceError,
    InvalidParameterError,
    check_scalar,
)
from spikewise.solvers.generalized_mp import DiscreteLaw, GeneralizedMarchenkoPastur
from spikewise.solvers.marchenko_pastur import MarchenkoPastur
from spikewise.solvers.marchenko_pastur import _mp_dstieltjes as _mp_mp_dm
from spikewise.solvers.marchenko_pastur import _mp_stieltjes as _mp_mp_m
from spikewise.solvers.transforms import AffineLaw

__all__ = [
    "mp_marchenko_pastur_stieltjes",
    "mp_marchenko_pastur_edges",
    "mp_solve_s",
    "mp_stieltjes",
    "mp_edges",
    "mp_spike_threshold",
    "mp_spike_location",
]


_MAX_POLY_ATOMS = 8  # beyond, the monomial expansion is too ill-conditioned to enumerate


def _dps(dps, owner):
    return check_scalar(dps, "dps", owner, kind="int", lower=15, upper=1000)


def _check_z(z, owner) -> complex:
    try:
        zc = complex(z)
    except (TypeError, ValueError):
        zc = complex("nan")
    if not (math.isfinite(zc.real) and math.isfinite(zc.imag)):
        raise InvalidParameterError(
            f"The 'z' parameter of {owner} must be a finite complex number. Got {z!r} instead."
        )
    return zc


def _check_law(law, owner):
    if not isinstance(law, GeneralizedMarchenkoPastur):
        raise InvalidParameterError(
            f"The 'law' parameter of {owner} must be a GeneralizedMarchenkoPastur. Got "
            f"{type(law).__name__} instead."
        )
    return law


def _check_mp_params(ratio, scale, owner):
    ratio = check_scalar(ratio, "ratio", owner, lower=0.0, lower_inclusive=False)
    scale = check_scalar(scale, "scale", owner, lower=0.0, lower_inclusive=False)
    return ratio, scale


def mp_marchenko_pastur_edges(*, ratio, scale=1.0, dps=30):
    """Edges :math:`s^2(1 \\mp \\sqrt\\gamma)^2` of Marchenko–Pastur at ``dps`` digits.

    Parameters
    ----------
    ratio : float > 0
    scale : float > 0, default 1
    dps : int, default 30

    Returns
    -------
    tuple of mpmath.mpf
    """
    owner = "mp_marchenko_pastur_edges"
    ratio, scale = _check_mp_params(ratio, scale, owner)
    with mp.workdps(_dps(dps, owner)):
        g, s = mp.mpf(ratio), mp.mpf(scale)
        return s * (1 - mp.sqrt(g)) ** 2, s * (1 + mp.sqrt(g)) ** 2


def mp_marchenko_pastur_stieltjes(z, *, ratio, scale=1.0, dps=30):
    """Stieltjes transform of :class:`MarchenkoPastur` at ``dps`` digits.

    Parameters
    ----------
    z : complex
        Any point; real ``z`` inside the support gives the boundary value from above.
    ratio : float > 0
    scale : float > 0, default 1
    dps : int, default 30

    Returns
    -------
    mpmath.mpc
    """
    owner = "mp_marchenko_pastur_stieltjes"
    ratio, scale = _check_mp_params(ratio, scale, owner)
    _check_z(z, owner)
    with mp.workdps(_dps(dps, owner)):
        z = mp.mpc(z)  # an mpmath input keeps its digits
        if z.imag < 0:
            return mp.conj(_mp_mp_m(mp.conj(z), mp.mpf(ratio), mp.mpf(scale)))
        return _mp_mp_m(z, mp.mpf(ratio), mp.mpf(scale))


class _MpPopulation:
    """D(s), D'(s), m_H(s) at high precision for an atomic or affine-MP population."""

    def __init__(self, law: GeneralizedMarchenkoPastur):
        pop = law.population
        self.g = mp.mpf(law.ratio)
        if isinstance(pop, DiscreteLaw):
            self.kind = "atoms"
            self.t = [mp.mpf(float(t)) for t in pop.locations]
            self.w = [mp.mpf(float(w)) for w in pop.weights]
        elif isinstance(pop, AffineLaw) and isinstance(pop.base, MarchenkoPastur):
            self.kind = "affine_mp"
            self.a, self.b = mp.mpf(pop.a), mp.mpf(pop.b)
            self.mg, self.ms = mp.mpf(pop.base.ratio), mp.mpf(pop.base.scale)
        elif isinstance(pop, MarchenkoPastur):
            self.kind = "affine_mp"
            self.a, self.b = mp.mpf(1), mp.mpf(0)
            self.mg, self.ms = mp.mpf(pop.ratio), mp.mpf(pop.scale)
        else:
            raise InvalidParameterError(
                "The 'law' parameter of the mpmath solvers must have an atomic population or "
                "one of the form a * MarchenkoPastur + b. Got a population of type "
                f"{type(pop).__name__} instead."
            )

    def m_h(self, s):
        if self.kind == "atoms":
            return mp.fsum(w / (t - s) for t, w in zip(self.t, self.w, strict=True))
        w = (s - self.b) / self.a
        if mp.im(w) < 0 or (mp.im(w) == 0 and self.a < 0):
            return mp.conj(_mp_mp_m(mp.conj(w), self.mg, self.ms)) / self.a
        return _mp_mp_m(w, self.mg, self.ms) / self.a

    def dm_h(self, s):
        if self.kind == "atoms":
            return mp.fsum(w / (t - s) ** 2 for t, w in zip(self.t, self.w, strict=True))
        w = (s - self.b) / self.a
        if mp.im(w) < 0:
            return mp.conj(_mp_mp_dm(mp.conj(w), self.mg, self.ms)) / self.a**2
        return _mp_mp_dm(w, self.mg, self.ms) / self.a**2

    def d(self, s):
        return 1 - self.g - self.g * s * self.m_h(s)

    def x(self, s):
        return s * self.d(s)

    def dx(self, s):
        return self.d(s) - self.g * s * (self.m_h(s) + s * self.dm_h(s))

    def poly(self, z):
        """Coefficients (highest first) of prod(t_k - s) * (s D(s) - z)."""
        # s D(s) = s - g * sum_k w_k t_k s / (t_k - s)
        def mul(p, q):
            out = [mp.mpf(0)] * (len(p) + len(q) - 1)
            for i, a in enumerate(p):
                for j, b in enumerate(q):
                    out[i + j] += a * b
            return out

        def add(p, q):
            n = max(len(p), len(q))
            p = [mp.mpf(0)] * (n - len(p)) + list(p)
            q = [mp.mpf(0)] * (n - len(q)) + list(q)
            return [a + b for a, b in zip(p, q, strict=True)]

        factors = [[-mp.mpf(1), t] for t in self.t]  # (t - s) as [-1, t]
        full = [mp.mpf(1)]
        for f in factors:
            full = mul(full, f)
        total = mul([mp.mpf(1), -z], full)  # (s - z) * prod
        for k, (t, w) in enumerate(zip(self.t, self.w, strict=True)):
            others = [mp.mpf(1)]
            for j, f in enumerate(factors):
                if j != k:
                    others = mul(others, f)
            total = add(total, mul([-self.g * w * t, mp.mpf(0)], others))
        return total


def _physical_root_atoms(pop: _MpPopulation, z, law, dps):
    coeffs = pop.poly(z)
    try:  # mpmath >= 1.4 prefers ascending coefficients
        roots = mp.polyroots(coeffs[::-1], maxsteps=200, extraprec=4 * dps, asc=True)
    except TypeError:  # pragma: no cover - mpmath 1.3
        roots = mp.polyroots(coeffs, maxsteps=200, extraprec=4 * dps)
    if mp.im(z) > 0:
        cand = [r for r in roots if mp.im(r) > 0]
    else:
        tol = mp.mpf(10) ** (-dps // 2)
        real = [mp.re(r) for r in roots if abs(mp.im(r)) <= tol * (1 + abs(r))]
        cand = [r for r in real if pop.dx(r) > 0]
        if not cand:  # inside the support: the root in the upper half plane
            cand = [r for r in roots if mp.im(r) > tol * (1 + abs(r))]
    if len(cand) != 1:
        raise ConvergenceError(
            f"mp_stieltjes: {len(cand)} candidate physical roots at z = {z} (expected one)."
        )
    return mp.mpc(cand[0])


def mp_solve_s(z, law, *, dps=30):
    """Physical root :math:`s = -1/\\underline m(z)` of :math:`z = s D(s)` at ``dps`` digits.

    Parameters
    ----------
    z : complex
        A point with ``Im z >= 0``.
    law : GeneralizedMarchenkoPastur
        With an atomic population, or one of the form ``a * MarchenkoPastur(...) + b``.
    dps : int, default 30
        Decimal digits (15..1000).

    Returns
    -------
    mpmath.mpc
    """
    _check_law(law, "mp_solve_s")
    dps = _dps(dps, "mp_solve_s")
    zc = _check_z(z, "mp_solve_s")
    start = complex(law.solve_s(zc))
    with mp.workdps(dps):
        pop = _MpPopulation(law)
        zz = mp.mpc(zc.real, zc.imag)
        if pop.kind == "atoms" and len(pop.t) <= _MAX_POLY_ATOMS:
            return _physical_root_atoms(pop, zz, law, dps)
        tol = mp.mpf(10) ** (-dps + 5)
        if start.imag == 0:
            s = mp.mpc(mp.findroot(
                lambda u: mp.re(pop.x(u)) - zz.real, mp.mpf(start.real),
                df=lambda u: mp.re(pop.dx(u)), solver="newton",
            ))
            # a real root is the physical one iff x'(s) > 0 (Silverstein & Choi, Thm 4.2)
            ok = mp.re(pop.dx(mp.re(s))) > 0
        else:
            s = mp.mpc(mp.findroot(
                lambda u: pop.x(u) - zz, mp.mpc(start.real, start.imag), df=pop.dx,
                solver="newton",
            ))
            # the root in the upper half plane is unique (Silverstein & Bai 1995)
            ok = mp.im(s) > tol * abs(s)
        res = abs(pop.x(s) - zz)
        if res > tol * (1 + abs(zz)) or not ok:
            raise ConvergenceError(
                f"mp_solve_s: no physical root at z = {z} (residual {mp.nstr(res, 5)})."
            )
        return s


def mp_stieltjes(z, law, *, dps=30):
    """Stieltjes transform of a :class:`GeneralizedMarchenkoPastur` at ``dps`` digits.

    Parameters
    ----------
    z : complex
        Any point (conjugate symmetry below the axis); real ``z`` inside the support gives
        :math:`m(x + i0)`.
    law : GeneralizedMarchenkoPastur
        With an atomic or an affine-MP population.
    dps : int
        Decimal digits.

    Returns
    -------
    mpmath.mpc
    """
    _check_law(law, "mp_stieltjes")
    zc = _check_z(z, "mp_stieltjes")
    if zc.imag < 0:
        return mp.conj(mp_stieltjes(zc.conjugate(), law, dps=dps))
    s = mp_solve_s(zc, law, dps=dps)
    with mp.workdps(_dps(dps, "mp_stieltjes")):
        pop = _MpPopulation(law)
        return pop.m_h(s) / pop.d(s)


def mp_edges(law, *, dps=30):
    """Support edges of a :class:`GeneralizedMarchenkoPastur` at ``dps`` digits.

    Parameters
    ----------
    law : GeneralizedMarchenkoPastur
        With an atomic population, or one of the form ``a * MarchenkoPastur(...) + b``.
    dps : int, default 30
        Decimal digits (15..1000).

    Returns
    -------
    list of mpmath.mpf
        :math:`x(s_c)` at the critical points :math:`s_c`, sorted (the lower edge 0 of a
        law with a hard edge at zero is not a critical value and is omitted).
    """
    _check_law(law, "mp_edges")
    dps = _dps(dps, "mp_edges")
    crit = law.critical_points
    out = []
    with mp.workdps(dps):
        pop = _MpPopulation(law)
        for c in crit:
            sc = mp.findroot(pop.dx, mp.mpf(float(c)))
            out.append(mp.re(pop.x(sc)))
    return sorted(out)


def mp_spike_threshold(law, *, dps=30):
    """Population spike threshold :math:`s_c` (largest critical point) at ``dps`` digits.

    A population eigenvalue :math:`\\ell > s_c` produces a sample outlier above the top edge
    at :math:`x(\\ell)`; for :math:`H = \\delta_1` this is the BBP threshold
    :math:`1 + \\sqrt\\gamma`.

    Parameters
    ----------
    law : GeneralizedMarchenkoPastur
        With an atomic population, or one of the form ``a * MarchenkoPastur(...) + b``.
    dps : int, default 30
        Decimal digits (15..1000).

    Returns
    -------
    mpmath.mpf
    """
    _check_law(law, "mp_spike_threshold")
    dps = _dps(dps, "mp_spike_threshold")
    with mp.workdps(dps):
        pop = _MpPopulation(law)
        return mp.findroot(pop.dx, mp.mpf(float(max(law.critical_points))))


def mp_spike_location(ell, law, *, dps=30):
    """Outlier location :math:`x(\\ell) = \\ell D(\\ell)` of a population spike, ``dps`` digits.

    Parameters
    ----------
    ell : float
        The population spike, above :func:`mp_spike_threshold` (the threshold :math:`s_c`);
        smaller values, which make no outlier, raise :class:`InvalidParameterError`.
    law : GeneralizedMarchenkoPastur
        With an atomic population, or one of the form ``a * MarchenkoPastur(...) + b``.
    dps : int, default 30
        Decimal digits (15..1000).

    Returns
    -------
    mpmath.mpf
    """
    _check_law(law, "mp_spike_location")
    # validated as a float, used as given (an mpf keeps its digits)
    threshold = float(max(law.critical_points))
    value = check_scalar(float(ell) if isinstance(ell, mp.mpf) else ell, "ell",
                         "mp_spike_location")
    if not value > threshold:
        raise InvalidParameterError(
            f"The 'ell' parameter of mp_spike_location must be a population spike above the "
            f"threshold s_c = {threshold:.6g} of this law (below it there is no outlier). "
            f"Got {value!r} instead."
        )
    dps = _dps(dps, "mp_spike_location")
    with mp.workdps(dps):
        pop = _MpPopulation(law)
        return mp.re(pop.x(mp.mpf(ell)))
