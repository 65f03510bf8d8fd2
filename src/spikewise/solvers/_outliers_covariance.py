"""Outliers of a spiked sample covariance (Baik, Ben Arous & Péché 2005; Paul 2007; Bai &
Yao 2012); see :mod:`spikewise.solvers.spikes`."""

from __future__ import annotations

import contextlib
import math

import mpmath
import numpy as np

from spikewise._validation import (
    InvalidParameterError,
    check_array,
    check_scalar,
    renamed_keywords,
)
from spikewise.solvers._outliers_core import (
    OutlierPrediction,
    _Bulk,
    _context,
    _DiscreteBulk,
    _edge_is_atom,
    _strengths,
    _unit,
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


class _PsiMap:
    r"""The map :math:`\psi(\alpha) = \alpha(1 - \gamma - \gamma\alpha m_H(\alpha))` of a
    population ``H`` (a :class:`_Bulk`) and its critical points, computed once each.

    ``top()``/``bottom()``: the critical point and bulk edge beyond ``supp H`` on each side;
    ``gap(k)``: the two critical points inside the ``k``-th gap of ``supp H`` (None when
    ``psi' <= 0`` throughout it).
    """

    def __init__(self, H, g, ctx):
        self.H, self.g, self.ctx = H, g, ctx
        self._cache: dict = {}

    def psi(self, a):
        H, g = self.H, self.g
        return a * (1 - g - g * a * H.m(a))

    def dpsi(self, a):
        H, g = self.H, self.g
        return 1 - g - 2 * g * a * H.m(a) - g * a * a * H.dm(a)

    def edge_dpsi(self, edge, direction):
        # an atom at t != 0 makes psi' -> -inf (t^2 / (alpha - t)^2); one at 0 does not
        if _edge_is_atom(self.H, edge) and edge != 0:
            return -self.ctx.inf
        return self.H.limit(self.dpsi, edge, direction)

    def edge_psi(self, edge, direction):
        return self.H.limit(self.psi, edge, direction)

    def top(self):
        if "top" not in self._cache:
            H, g, ctx = self.H, self.g, self.ctx
            hmax = H.exact(H.hi)
            de = self.edge_dpsi(H.hi, 1)
            if de >= 0:
                self._cache["top"] = (hmax, self.edge_psi(H.hi, 1))
            else:
                a_hi = hmax * (1 + 2 * ctx.sqrt(g)) if hmax > 0 else 2 * ctx.sqrt(g)
                a_star = ctx.root(self.dpsi, hmax, a_hi, de, self.dpsi(a_hi))
                self._cache["top"] = (a_star, self.psi(a_star))
        return self._cache["top"]

    def bottom(self):
        if "bottom" not in self._cache:
            H, g, ctx = self.H, self.g, self.ctx
            hmin = H.exact(H.lo)
            de = self.edge_dpsi(H.lo, -1)
            if de >= 0:
                self._cache["bottom"] = (hmin, self.edge_psi(H.lo, -1))
            else:
                a_lo = hmin - 2 * ctx.sqrt(g) * max(ctx.num(H.hi), ctx.num(1e-300))
                a_star = ctx.root(self.dpsi, a_lo, hmin, self.dpsi(a_lo), de)
                self._cache["bottom"] = (a_star, self.psi(a_star))
        return self._cache["bottom"]

    def gap(self, k):
        """Critical points of psi in the k-th gap (psi' is concave there)."""
        if ("gap", k) not in self._cache:
            H, ctx, dpsi = self.H, self.ctx, self.dpsi
            g1, g2 = H.pieces[k][1], H.pieces[k + 1][0]
            span = g2 - g1
            lo_, hi_ = ctx.num(g1 + 1e-12 * span), ctx.num(g2 - 1e-12 * span)
            a_max = ctx.argmax(dpsi, lo_, hi_)
            if dpsi(a_max) <= 0:
                self._cache[("gap", k)] = None
            else:
                d1 = self.edge_dpsi(g1, 1)
                d2 = self.edge_dpsi(g2, -1)
                a1 = (ctx.num(g1) if d1 >= 0 else
                      ctx.root(dpsi, ctx.num(g1), a_max, d1, dpsi(a_max)))
                a2 = (ctx.num(g2) if d2 >= 0 else
                      ctx.root(dpsi, a_max, ctx.num(g2), dpsi(a_max), d2))
                p1 = self.psi(a1) if a1 != g1 else self.edge_psi(g1, 1)
                p2 = self.psi(a2) if a2 != g2 else self.edge_psi(g2, -1)
                self._cache[("gap", k)] = (a1, p1, a2, p2)
        return self._cache[("gap", k)]


def _classify(pm: _PsiMap, a_f):
    """``(position, threshold, edge, excess, overlap, is_outlier)`` of one spike ``a_f``."""
    H, ctx = pm.H, pm.ctx
    nan = math.nan
    a = ctx.num(a_f)
    if a_f > H.hi:
        a_star, e = pm.top()
        out = a > a_star
    elif a_f < H.lo:
        a_star, e = pm.bottom()
        out = a < a_star
    else:
        k = next((i for i, (lo, hi) in enumerate(H.pieces) if lo <= a_f <= hi), None)
        if k is not None:
            return (nan, nan, nan, 0.0, 0.0, False)
        k = next(i for i in range(len(H.pieces) - 1)
                 if H.pieces[i][1] < a_f < H.pieces[i + 1][0])
        crit = pm.gap(k)
        if crit is None:
            return (nan, nan, nan, 0.0, 0.0, False)
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
        return (float(e), float(a_star), float(e), 0.0, 0.0, False)
    p = pm.psi(a)
    ov = a * pm.dpsi(a) / p
    return (float(p), float(a_star), float(e), float(p - e), _unit(ov), True)


@renamed_keywords(alpha="spikes")
def covariance_outliers(
    spikes,
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
    spikes : float or array_like of float
        Population spike eigenvalues ``alpha_i``, in ``(0, 1e150]`` (old name ``alpha``, deprecated:
        ``alpha`` is the learning-rate exponent elsewhere in the package).
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
        For non-positive or non-finite ``spikes`` or ``ratio``, or an invalid population.

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
    al = _strengths(spikes, "spikes", owner)
    # psi'(alpha) holds alpha^2, which must stay a double
    if np.any(al <= 0) or np.any(al > 1e150):
        raise InvalidParameterError(
            f"The 'spikes' parameter of {owner} must contain only finite floats in (0, 1e150] "
            f"(population eigenvalues). Got {al.tolist()} instead."
        )
    gamma = check_scalar(ratio, "ratio", owner, lower=0.0, lower_inclusive=False)
    ctx = _context(dps, owner)
    prec = mpmath.workdps(dps) if dps is not None else contextlib.nullcontext()
    with prec:
        H, keep = _population(population, owner, ctx)
        g = ctx.num(gamma) * ctx.num(keep)
        pm = _PsiMap(H, g, ctx)
        rows = [_classify(pm, a_f) for a_f in al]
        lower = float(pm.bottom()[1])
        upper = float(pm.top()[1])
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
