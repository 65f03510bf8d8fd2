"""Hermitian additive outliers, ``B + sum_i theta_i v_i v_i^T`` (Benaych-Georges &
Nadakuditi 2011); see :mod:`spikewise.solvers.spikes`."""

from __future__ import annotations

import contextlib

import mpmath
import numpy as np

from spikewise._validation import (
    ConvergenceError,
    InvalidParameterError,
)
from spikewise.solvers._outliers_core import (
    OutlierPrediction,
    _Bulk,
    _context,
    _edge_is_atom,
    _strengths,
    _unit,
)

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
    prec = mpmath.workdps(dps) if dps is not None else contextlib.nullcontext()
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
