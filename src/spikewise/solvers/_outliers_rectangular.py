"""Rectangular additive outliers, ``X + sum_i theta_i u_i v_i^T`` (Benaych-Georges &
Nadakuditi 2012); see :mod:`spikewise.solvers.spikes`."""

from __future__ import annotations

import contextlib
import math

import mpmath
import numpy as np

from spikewise._validation import (
    InvalidParameterError,
    check_scalar,
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
    prec = mpmath.workdps(dps) if dps is not None else contextlib.nullcontext()
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
