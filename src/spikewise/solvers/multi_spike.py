r"""Multiple spikes of the updated features for a growing learning rate (Moniri et al. 2023).

Convention (spikewise's one convention): inputs ``X`` (n x d) with N(0, I_d) rows, first layer
``W0`` (d x N) with N(0, 1/d) entries, second layer ``a`` with N(0, 1/N) entries (or
Rademacher/sqrt(N), or constant 1/sqrt(N)), ``f(x) = a^T sigma(W^T x) / sqrt(N)``, one step

.. math:: W_1 = W_0 + \frac{\eta}{n} X^\top\big[((y - f(X)) a^\top) \odot \sigma'(X W_0)\big],
   \qquad \eta = \eta_0 N^{\alpha},

teacher ``y = sigma_*(X beta) + noise``. The updated feature matrix is ``F = sigma(X~ W1)``
on a fresh batch ``X~`` (the setting of Moniri, Lee, Hassani & Dobriban, ICML 2024). Its
singular values are reported
in the units of ``F / sqrt(n)``.

Asymptotic rule (Moniri et al. 2023, Thm. 3.x): with ``a_j ~ N^{-1/2}`` the pre-activation
shift is ``delta_ij = eta mu_1 (x_i^T u) a_j ~ eta / sqrt(N)`` and the degree-``k`` term of
``sigma(h + delta)`` is the rank-one matrix ``mu_k (eta mu_1)^k s^{\circ k} (a^{\circ k})^T``
(``s = X~ u``, ``u = X^T y / n``) of norm ``~ sqrt(n) N^{1/2 - k(1/2 - alpha)}`` against a bulk
of norm ``~ sqrt(n)``: it separates iff ``alpha > (k-1)/(2k)``, so there are ``ell`` spikes for
``alpha in ((ell-1)/(2 ell), ell/(2 ell + 2))`` (:func:`spike_count`).

Finite N (:func:`visible_spikes`): the Taylor series in ``delta`` is *not* usable at the sizes
people run (``|delta|`` reaches several units in the tails of ``s_i a_j`` and the truncated
series grossly overestimates the higher-degree strengths; for ``tanh`` it diverges). The exact
mean part of ``F`` is the kernel matrix ``K(omega_i, a_j)`` with

.. math:: K(\omega, a) = \mathbb E_h\,\sigma\big(c(a)\,h + \eta\,\mu_1\, a\, s_0(\omega)\big),
   \qquad h \sim N(0, 1),

where ``s_0 = c_1 z + tau g`` is the projection of a fresh input on ``u`` (``z = x^T beta``, ``g``
independent standard normal, ``c_1 = E[sigma_*(Z) Z]``, ``tau^2 = (d-1) E[r^2] / n + (E[z^2 y^2] -
c_1^2)/n + mu_1^2 / N``), and ``c(a)^2 = (1 + 2 eta mu_2 E[y] a)^2 + eta^2 a^2 Var(sigma'(Z))
E[r^2] d/n`` accounts for the non-rank-one part of the gradient seen by one neuron. The singular
values of ``K / sqrt(n)`` converge to ``sqrt(N)`` times those of the integral operator with kernel
``K`` on ``L^2(omega) x L^2(a)``, computed here by tensor Gauss-Hermite quadrature. Each singular
value ``theta_m`` is compared with the bulk through the rectangular BBP criterion of
Benaych-Georges & Nadakuditi (2012): outlier iff ``theta_m > D(b^+)^{-1/2}``, where ``D`` is the
D-transform of the bulk.

The bulk is that of the *updated* features, not of the conjugate kernel at initialization
(which it equals for ``eta -> 0``): at finite N the step also changes every neuron's
pre-activation law by terms of relative size ``N^(alpha - 1/2)``. Rows of ``F`` are i.i.d.
given ``W1`` (fresh inputs), so ``F^T F / n`` is a sample covariance (Louart, Liao & Couillet
2018) whose population, outside the spikes, is modelled as ``A = L G L + V``
(``_updated_ck_bulk``): column ``j`` of ``W1`` minus its spike is ``(I + 2 mu_2 eta a_j M)
w_{0,j} + eta a_j e_j`` with ``M = X^T diag(r) X / n`` (its eigenvalue law by the weighted
Marchenko-Pastur equation) and ``e_j`` independent (the Hermite components of degree >= 2 of
``sigma'``); ``G`` is the Gram matrix of those columns; ``l(a) = c(a) E sigma'(c(a) h + eta
mu_1 a s)`` is a neuron's linear coefficient averaged over the inputs (the spike shift
included), and ``v(a)`` the rest of its variance not carried by the mean kernel. The
population's Stieltjes transform solves a deterministic equivalent that is diagonal in the
neurons (``_ProfiledCovarianceBulk``), and Silverstein's equation gives the edge and ``D``. The
linear parts are averaged over the spike coordinate ``s`` (rows are in fact a mixture over
``s``). For tanh the inflated pre-activations saturate and the bulk *narrows*. The measured
accuracy of each approximation is recorded on the theory page
(``docs/theory/multi_spike.rst``).

Known limitation (degree-1 spike near its threshold at small N): its component linear in
``x`` is a spike of ``W1`` amplified by the Marchenko-Pastur law of ``X~`` (as in
:func:`spikewise.solvers.one_step_theory.ck_test_outlier`), not a spike independent of the bulk as
the BGN criterion assumes; replacing BGN by a generic population spike (Bai-Yao) gives the
same positions; near threshold at small N the position is a few per cent low (measured on
the theory page).
Features on the *training* batch are not covered: there the sample's own label enters
``x_i^T u`` (see :mod:`spikewise.solvers.two_step`, which models it for a reused batch) and
the bulk is visibly wider than the conjugate kernel at initialization.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
from scipy.optimize import brentq
from scipy.special import ndtri

from spikewise._gauss import (
    legendre_rule,
    location_scale_rule,
)
from spikewise._validation import (
    ConvergenceError,
    check_scalar,
    renamed_keywords,
)
from spikewise.conventions import Sizes, learning_rate
from spikewise.solvers._spike_common import (
    _a_nodes,
    _check_a,
    _check_common,
    _CovarianceBulk,
    _gh,
    _hermite_matrix,
    _protocol,
    _resolve,
    _smoothed,
    _SpikeResult,
    _tau2,
    _teacher_grid,
    _var_d1,
)
from spikewise.solvers.spikes import _frozen

__all__ = [
    "spike_count",
    "spike_interval",
    "spike_growth_exponent",
    "spike_onset_width",
    "SpikeLevel",
    "VisibleSpikes",
    "visible_spikes",
]




# --------------------------------------------------------------------------------------------
# asymptotic rule
# --------------------------------------------------------------------------------------------


def _exact(value) -> Fraction:
    return Fraction(value) if not isinstance(value, Fraction) else value


def spike_count(alpha) -> int:
    r"""Asymptotic number of spikes of ``sigma(X W1)`` for ``eta = eta0 N^alpha``.

    The degree-``k`` spike diverges relative to the bulk iff
    ``k (1 - 2 alpha) < 1`` (Moniri, Lee, Hassani & Dobriban 2023), so

    .. math:: \ell(\alpha) = \#\{k \ge 1 : k(1 - 2\alpha) < 1\}
       = \lceil 1 / (1 - 2\alpha) \rceil - 1,

    which equals ``ell`` on the open interval ``((ell-1)/(2 ell), ell/(2 ell + 2))``. At a
    boundary ``alpha = (ell-1)/(2 ell)`` the ``ell``-th spike has a strength of order one and
    whether it separates depends on ``eta0`` (use :func:`visible_spikes`); it is not counted.
    At ``alpha = 0`` (``eta`` of order one) the count is 0 for the same reason (Ba et al.
    2022: one spike above a threshold in ``eta0``). The comparison is done in exact rational
    arithmetic on the float given. Assumes ``mu_k != 0`` for the degrees counted.

    Parameters
    ----------
    alpha : float
        Learning-rate exponent in ``[0, 1/2)``.

    Returns
    -------
    int
    """
    alpha = check_scalar(alpha, "alpha", "spike_count", lower=0.0, upper=0.5, upper_inclusive=False)
    x = 1 - 2 * _exact(alpha)
    k = 0
    while (k + 1) * x < 1:
        k += 1
    return k


def spike_interval(ell) -> tuple[float, float]:
    """Open interval of ``alpha`` with ``ell`` spikes: ``((ell-1)/(2 ell), ell/(2 ell + 2))``.

    Parameters
    ----------
    ell : int
        Number of spikes, >= 1.
    """
    ell = check_scalar(ell, "ell", "spike_interval", kind="int", lower=1)
    return (ell - 1) / (2 * ell), ell / (2 * ell + 2)


def spike_growth_exponent(k, alpha) -> float:
    r"""Exponent ``e_k`` with ``theta_k ~ N^{e_k}`` (bulk units): ``1/2 - k(1/2 - alpha)``.

    Degree 0 (the ``mu_0`` mean of a non-centred activation) grows like ``N^{1/2}``.
    """
    k = check_scalar(k, "k", "spike_growth_exponent", kind="int", lower=0)
    alpha = check_scalar(alpha, "alpha", "spike_growth_exponent", lower=0.0, upper=0.5)
    return 0.5 - k * (0.5 - alpha)


# --------------------------------------------------------------------------------------------
# bulk: Gaussian-equivalent sample covariance, D-transform and BGN outliers
# --------------------------------------------------------------------------------------------


def _mp_population_nodes(ratio, scale, shift, n_nodes=3000):
    """Quadrature of the law of ``scale * lambda + shift``, ``lambda ~ MP(ratio)`` (variance 1).

    The continuous part is integrated in the angle variable
    ``lambda = (a+b)/2 + (b-a)/2 cos(theta)``, where the MP density times ``d lambda`` is
    smooth; an atom ``1 - 1/ratio`` at ``lambda = 0`` is added when ``ratio > 1``.
    """
    lo, hi = (1 - math.sqrt(ratio)) ** 2, (1 + math.sqrt(ratio)) ** 2
    x, wx = legendre_rule(n_nodes)
    th = 0.5 * math.pi * (x + 1.0)
    lam = lo + (hi - lo) * np.cos(0.5 * th) ** 2  # = (a+b)/2 + (b-a)/2 cos(th), no cancellation
    dens = (0.5 * (hi - lo)) ** 2 * np.sin(th) ** 2 / (2 * math.pi * ratio * lam)
    wts = dens * wx * 0.5 * math.pi
    t = scale * lam + shift
    if ratio > 1:
        t = np.append(t, shift)
        wts = np.append(wts, 1.0 - 1.0 / ratio)
    return t, wts


def _ck_bulk(act, *, n, d, N, scales=None, weights=None):
    """Centred conjugate-kernel bulk of ``sigma(X W) / sqrt(n)`` (Gaussian equivalent).

    With ``scales`` (and quadrature ``weights``) the neurons' pre-activation standard
    deviations vary (``||w_j|| = c_j`` after a large step): ``mu_1^2`` and ``mu_*^2`` are
    replaced by their averages over the neurons of those of ``sigma(c h)`` (first-order
    correction, exact when all ``c_j`` are equal).
    """
    if scales is None:
        mu1 = float(act.mu1)
        mus2 = max(float(act.mu_star2), 0.0)
    else:
        scales = np.asarray(scales, dtype=float).ravel()
        x, wx = location_scale_rule(0.0, scales, act.kinks)
        vals = act(x)
        m0 = np.sum(wx * vals, axis=-1)
        m1 = np.sum(wx * vals * x, axis=-1) / scales
        m2 = np.sum(wx * vals**2, axis=-1)
        mu1 = math.sqrt(float(np.sum(weights * m1**2)))
        mus2 = max(float(np.sum(weights * (m2 - m0**2 - m1**2))), 0.0)
    if mu1 == 0.0:
        t, w = np.array([mus2]), np.array([1.0])
    else:
        t, w = _mp_population_nodes(N / d, mu1**2, mus2)
    return _CovarianceBulk(t, w, N / n)


class _ProfiledCovarianceBulk(_CovarianceBulk):
    r"""Singular values of ``B = Z A^{1/2} / sqrt(n)`` for a population ``A`` given implicitly.

    ``A = L G L + V`` (N x N) with ``L = diag(l_j)``, ``V = diag(v_j)`` and ``G = W^T W``,
    where ``W`` (d x N) has independent Gaussian entries whose variance depends on the row
    through a spectral coordinate ``lambda`` (law ``lw`` on nodes) and on the column's neuron
    type (law ``aw`` on nodes): ``Var W_{lj} = s2(a_j, lambda_l) / d``. With
    ``L2S = l^2 s2 / c^2`` the population's Stieltjes transform at real ``z`` above its
    support is ``m_A(z) = E_a g(a)``, where (deterministic equivalent of a sum of independent
    rank-one terms with diagonal covariances)

    .. math:: g(a) = \Big(v(a) - z + E_\lambda\frac{L2S(a,\lambda)}{1+\delta(\lambda)}\Big)^{-1},
       \qquad \delta(\lambda) = \frac Nd\,E_a\big[L2S(a,\lambda)\,g(a)\big].

    Silverstein's inverse function of the sample side uses
    ``int t dH(t) / (1 + t m) = (1/m) (1 - m_A(-1/m) / m)``; everything else (edge,
    D-transform, BGN outliers) is inherited.
    """

    def __init__(self, v, L2S, aw, lw, *, ratio_nd, c):
        self.v = np.asarray(v, dtype=float)
        self.L2S = np.asarray(L2S, dtype=float)
        self.aw = np.asarray(aw, dtype=float)
        self.lw = np.asarray(lw, dtype=float)
        self.r_nd = float(ratio_nd)
        self.c = float(c)
        self._g = None
        # upper bound of the population's support (norm of L G L plus max v)
        self.tmax = float(np.max(self.v) + np.max(self.L2S) * (1 + math.sqrt(self.r_nd)) ** 2)
        self._m_star = self._critical_point()
        self.edge2 = self._w_of_m(self._m_star)
        self.edge = math.sqrt(self.edge2)

    def _m_pop(self, z, max_iter=100):
        """``m_A(z)`` for real ``z`` above the population's support (Newton, warm-started)."""
        g = self._g if self._g is not None else np.full(self.v.size, -1.0 / z)
        res, it = math.inf, 0
        for it in range(max_iter):  # noqa: B007 - reported in the error
            delta = self.r_nd * ((self.aw * g) @ self.L2S)
            if np.any(1.0 + delta <= 0):
                break
            q = self.lw / (1.0 + delta)
            g_map = 1.0 / (self.v - z + self.L2S @ q)
            fval = g - g_map
            res = float(np.max(np.abs(fval)))
            if not np.isfinite(res):
                break
            if res < 1e-14 * float(np.max(np.abs(g_map))):
                if np.all(g_map < 0):
                    self._g = g_map
                    return float(self.aw @ g_map)
                break
            # Jacobian of g -> g_map: diag(g_map^2) L2S diag(q^2/lw) r_nd L2S^T diag(aw)
            jac = (g_map**2)[:, None] * (
                (self.L2S * (q * q / self.lw)) @ (self.r_nd * self.L2S.T * self.aw)
            )
            g = g - np.linalg.solve(np.eye(g.size) - jac, fval)
        self._g = None
        raise ConvergenceError(
            f"population resolvent: no real solution at z = {z:.8g} (residual "
            f"{res:.3g} after {it + 1} Newton iterations); z is inside the support"
        )

    def _w_of_m(self, m):
        return -1.0 / m + self.c * (1.0 - self._m_pop(-1.0 / m) / m) / m

    def _dw_dm(self, m):
        h = abs(m) * 1e-5
        return (self._w_of_m(m + h) - self._w_of_m(m - h)) / (2.0 * h)

    def _critical_point(self):
        """Zero of ``w'(m)``: walk ``z = -1/m`` down from above the population's support."""
        z = 2.0 * self.tmax + 1.0
        self._g = None
        prev = -1.0 / z
        if self._dw_dm(prev) <= 0:  # pragma: no cover
            raise ConvergenceError("bulk edge: w'(m) <= 0 far above the population support")
        for _ in range(2000):
            z_new = 0.94 * z
            try:
                if self._dw_dm(-1.0 / z_new) < 0:
                    return brentq(self._dw_dm, -1.0 / z_new, prev, xtol=1e-15, rtol=1e-13)
                z, prev = z_new, -1.0 / z_new
            except ConvergenceError:
                z_bad = z_new  # inside the population support: bisect towards it
                for _ in range(60):
                    zm = 0.5 * (z + z_bad)
                    try:
                        if self._dw_dm(-1.0 / zm) < 0:
                            return brentq(self._dw_dm, -1.0 / zm, prev, xtol=1e-15, rtol=1e-13)
                        z, prev = zm, -1.0 / zm
                    except ConvergenceError:
                        z_bad = zm
                raise ConvergenceError(
                    f"bulk edge: no sign change of w'(m) above the population support "
                    f"(z = {z:.8g}, 60 bisections)"
                ) from None
        raise ConvergenceError("bulk edge: 2000 steps without a sign change of w'(m)")

    def _parts(self, z):
        w = z * z
        if w <= self.edge2 * (1.0 + 1e-12):  # at the edge (rounding of edge**2)
            mu = self._m_star
            mb = (mu + (1.0 - self.c) / w) / self.c
            return w, mu, math.inf, mb, math.inf
        return super()._parts(z)

    def m_companion(self, w):
        if w <= self.edge2:
            return self._m_star
        hi = -1.0 / (2.0 * (w + self.c * self.tmax + 1.0))
        while self._w_of_m(hi) < w:
            hi *= 0.5
        return brentq(
            lambda m: self._w_of_m(m) - w, self._m_star, hi, xtol=1e-16, rtol=1e-13, maxiter=500
        )


def _gauss_moments(act, scale, shift):
    """``E_h sigma(x)``, ``E_h sigma(x)^2``, ``E_h sigma'(x)`` for ``x = scale h + shift``.

    Integrates in ``x``, cut at the activation's kinks (:func:`spikewise._gauss.
    location_scale_rule`): a kink at ``x = k`` sits at ``h = (k - shift) / scale``, where
    Gauss-Hermite in ``h`` loses three digits (``E relu(Z)^2`` to 2e-3).
    """
    x, wx = location_scale_rule(shift, scale, act.kinks)
    f = act(x)
    return [np.sum(wx * f, axis=-1), np.sum(wx * f * f, axis=-1), np.sum(wx * act.d1(x), axis=-1)]


def _weighted_gram_law(r, rw, gamma, n_x=200):
    """Eigenvalue law of ``M = X^T diag(r) X / n`` (d x d, ``gamma = d/n``) on a grid.

    ``m(z) = 1 / (-z + E_r[r / (1 + gamma r m(z))])`` (Marchenko-Pastur/Silverstein for a
    weighted Gram matrix), solved at ``z = x + i eps`` for all grid points at once; returns
    nodes and normalized weights (density times spacing).
    """
    er = float(np.sum(rw * r))
    sd = math.sqrt(gamma * float(np.sum(rw * r * r)))
    xs = np.linspace(er - 6.0 * sd, er + 6.0 * sd, n_x)
    z = xs + 1j * 0.02 * (xs[1] - xs[0])
    m = 1j * np.ones(n_x)
    for _ in range(20000):
        m_new = 1.0 / (-z + (rw * r / (1.0 + gamma * np.outer(m, r))).sum(axis=1))
        if np.max(np.abs(m_new - m)) < 1e-12 * np.max(np.abs(m_new)):
            m = m_new
            break
        m = 0.5 * m + 0.5 * m_new
    w = np.maximum(m.imag, 0.0)
    return xs, w / w.sum()


def _a_quantiles(a_init, N, n_nodes=100, a=None):
    """Equally weighted nodes for the law of ``a_j`` (bulk computations).

    Gauss-Hermite nodes of tiny weight would act as isolated population atoms far out and
    create a spurious top component of the bulk's support; midpoint quantiles do not. A
    realized ``a`` is summarized by the root mean square of ``n_nodes`` groups of its sorted
    entries.
    """
    if a is not None:
        groups = np.array_split(np.sort(np.asarray(a, float)), min(n_nodes, len(a)))
        x = np.array([math.copysign(math.sqrt(np.mean(g**2)), np.mean(g)) for g in groups])
        w = np.array([len(g) for g in groups], float) / len(a)
        return x, w
    if a_init == "gaussian":
        return ndtri((np.arange(n_nodes) + 0.5) / n_nodes) / math.sqrt(N), np.full(
            n_nodes, 1.0 / n_nodes
        )
    return _a_nodes(a_init, N, n_nodes)


def _updated_ck_bulk(act, *, n, d, N, eta, a_x, a_w, r, rw, sd_s):
    r"""Bulk of the centred ``sigma(X~ W1) / sqrt(n)`` after one step (fresh inputs).

    Model (see the module docstring). Column ``j`` of ``W1`` minus its rank-one spike is
    ``(I + 2 mu_2 eta a_j M) w_{0,j} + eta a_j e_j`` with ``M = X^T diag(r) X / n`` and
    ``e_j`` an independent Gaussian vector of per-coordinate variance
    ``E r^2 (Var sigma'(Z) - 4 mu_2^2) / n`` (the Hermite components of ``sigma'`` of degree
    >= 2). In ``M``'s eigenbasis its coordinates are independent with variance
    ``s2(a, lambda)/d``, ``c(a)^2 = E_lambda s2``. A fresh pre-activation is
    ``c(a) h + b(a) s`` (``b = eta mu_1 a``, ``s ~ N(0, c_1^2 + tau^2)`` the spike coordinate).
    Gaussian equivalence conditionally on ``s`` (Hermite expansion in the correlation of two
    neurons, Fan & Wang 2020; Louart, Liao & Couillet 2018 for the sample covariance of
    random features) gives the population covariance of a feature row, outside the spikes,
    ``A = L G L + V``: ``l(a) = c(a) E_{h,s} sigma'(c h + b s)`` is the neuron's linear
    coefficient averaged over the inputs and
    ``v(a) = E_s Var_h sigma(c h + b s) - l(a)^2`` the rest of its variance not carried by
    the mean kernel ``K`` (whose variance over ``s`` is the spikes').
    """
    mu1, mu2 = float(act.mu1), float(act.mu2)
    er2 = float(np.sum(rw * r * r))
    rest = max(_var_d1(act) - 4.0 * mu2 * mu2, 0.0) * er2 * d / n
    if mu2 != 0.0 and eta > 0:
        lam, lw = _weighted_gram_law(r, rw, d / n)
        s2 = (1.0 + 2.0 * mu2 * eta * np.outer(a_x, lam)) ** 2 + (eta * a_x[:, None]) ** 2 * rest
    else:
        lam, lw = np.array([float(np.sum(rw * r))]), np.array([1.0])
        s2 = (1.0 + (eta * a_x[:, None]) ** 2 * rest) * np.ones((a_x.size, 1))
    c = np.sqrt(s2 @ lw)
    sx, sw = _gh(40)
    shift = (eta * mu1 * a_x)[:, None] * sd_s * sx[None, :]
    k1, k2, d1 = _gauss_moments(act, np.broadcast_to(c[:, None], shift.shape), shift)
    slope = d1 @ sw  # E_{h,s} sigma'(c h + b s)
    lin2 = (c * slope) ** 2
    v = np.maximum((k2 - k1**2) @ sw - lin2, 0.0)
    return _ProfiledCovarianceBulk(
        v, slope[:, None] ** 2 * s2, a_w, lw, ratio_nd=N / d, c=N / n
    )


# --------------------------------------------------------------------------------------------
# finite-N prediction
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpikeLevel:
    """One spike of the updated features at finite N.

    Attributes
    ----------
    degree : int
        Polynomial degree of the spike's left direction in ``s = x^T u`` (argmax of its
        squared coefficients on ``He_k(s / ||s||)``); ``k`` is the Hermite degree of the
        feature it carries (0: the ``mu_0`` mean of a non-centred activation).
    strength : float
        ``theta``: singular value of the mean part of ``F / sqrt(n)`` attached to the spike.
    threshold : float
        BBP strength ``D(b^+)^{-1/2}`` of the bulk (rectangular additive model).
    edge : float
        Upper edge of the bulk singular values of ``F / sqrt(n)``.
    visible : bool
        ``strength > threshold``: an outlier singular value is predicted at this N.
    position : float
        Predicted outlier singular value of ``F / sqrt(n)`` (the edge when not visible).
    vector_overlap : float
        Predicted squared overlap of the outlier's left singular vector with the spike's
        direction (0 when not visible).
    teacher_overlaps : ndarray
        Predicted squared overlap of the outlier's left singular vector with the normalized
        ``He_k(X beta)``, k = 0..k_max (``vector_overlap`` times the direction's own overlap).
    direction_overlaps : ndarray
        Squared overlap of the spike's direction itself with the normalized ``He_k(X beta)``.
    teacher_degree : int
        ``argmax_k`` of ``direction_overlaps``: the teacher feature the spike aligns with best.
    growth_exponent : float
        ``e`` with strength ``~ N^e`` at fixed ``eta0, alpha, psi, phi`` (large N).
    asymptotically_visible : bool
        Whether the spike separates as N -> infinity at this alpha (``e > 0``, or ``e == 0``
        and visible).
    """

    degree: int
    strength: float
    threshold: float
    edge: float
    visible: bool
    position: float
    vector_overlap: float
    teacher_overlaps: np.ndarray = field(repr=False)
    direction_overlaps: np.ndarray = field(repr=False)
    teacher_degree: int
    growth_exponent: float
    asymptotically_visible: bool


@dataclass(frozen=True)
class VisibleSpikes(_SpikeResult):
    """Finite-N prediction of the outliers of ``sigma(X W1) / sqrt(n)`` after one big step.

    Attributes
    ----------
    spikes : tuple of SpikeLevel
        In decreasing strength.
    asymptotic_count : int
        :func:`spike_count` ``(alpha)``: learned spikes (degree >= 1) as N -> infinity.
    eta : float
        ``eta0 * N**alpha``.
    edge, threshold : float
        Bulk edge and BBP strength of the updated features' bulk (equal to those of the
        conjugate kernel at initialization when ``eta -> 0``).
    params : dict
        Inputs (sizes, eta0, alpha, activation and teacher names, second_layer, noise).
    """

    spikes: tuple
    asymptotic_count: int
    eta: float
    edge: float
    threshold: float
    params: dict = field(default_factory=dict)

    @property
    def n_visible(self) -> int:
        """Visible learned spikes (degree >= 1): the outliers a user sees besides the mean."""
        return sum(1 for s in self.spikes if s.visible and s.degree >= 1)

    @property
    def positions(self) -> np.ndarray:
        """Predicted outlier singular values (visible spikes, decreasing)."""
        return np.array([s.position for s in self.spikes if s.visible])

    # n_outliers (all predicted outlier singular values, the mu_0 mean spike included) and
    # explain() come from _SpikeResult
    def _explain_header(self) -> list:
        p = self.params
        return [
            f"N = {p['N']}, n = {p['n']}, d = {p['d']}: eta = {self.eta:.4g} "
            f"(eta0 = {p['eta0']:g}, alpha = {p['alpha']:g}); bulk edge {self.edge:.4g}, "
            f"BBP strength {self.threshold:.4g}.",
            f"Asymptotic rule: {self.asymptotic_count} learned spike(s); visible at this N: "
            f"{self.n_visible}.",
        ]

    def _explain_notes(self) -> list:
        absent = self.params.get("absent_degrees", ())
        if not absent:
            return []
        return [
            "  degree(s) " + ", ".join(str(k) for k in absent) + " never appear: the "
            "activation's Hermite coefficient mu_k is zero (the rule assumes mu_k != 0)."
        ]

    def _explain_spike(self, s) -> str:
        p = self.params
        state = "VISIBLE" if s.visible else "hidden in the bulk"
        line = f"  degree {s.degree}: strength {s.strength:.4g} vs {s.threshold:.4g} -> {state}"
        if s.visible:
            line += (
                f" at {s.position:.4g}, aligned with He_{s.teacher_degree}(X beta) "
                f"(sq. overlap {s.teacher_overlaps[s.teacher_degree]:.3f})"
            )
        if s.degree >= 1:
            e = s.growth_exponent
            line += f"; grows like N^{e:+.3f}"
            if not s.visible and e > 0 and s.strength > 0:
                n_cross = p["N"] * (s.threshold / s.strength) ** (1.0 / e)
                line += f", extrapolated to separate near N ~ {n_cross:.3g}"
            if s.visible and e < 0:
                line += ", visible only because N is small: it sinks into the bulk later"
        return line


@renamed_keywords(sigma="activation", a_init="second_layer")
def visible_spikes(
    activation,
    teacher,
    *,
    n: int,
    d: int,
    N: int,
    eta0: float | None = None,
    alpha: float | None = None,
    noise: float = 0.0,
    second_layer: str = "gaussian",
    a=None,
    k_max: int = 8,
    max_spikes: int = 6,
    n_quad: int = 40,
    schedule=None,
) -> VisibleSpikes:
    r"""Spikes of ``sigma(X W1) / sqrt(n)`` visible at finite N for ``eta = eta0 N^alpha``.

    See the module docstring for the derivation: the strengths are the singular values of
    the mean-feature kernel ``K(omega, a)`` (Gaussian-smoothed activation evaluated at the
    pre-activation shift) times ``sqrt(N)``; each is compared with the BBP strength
    (Benaych-Georges & Nadakuditi 2012) of the bulk of the updated features, whose
    population accounts for the finite-N change of every neuron's pre-activations
    (variance, spectral structure ``M`` and spike shift; see the module docstring).
    Asymptotics: Moniri, Lee, Hassani & Dobriban (2023/ICML 2024).

    Parameters
    ----------
    activation, teacher : Activation or str
        Student activation and teacher link (``spikewise.activations.get_activation``). Old
        names ``sigma`` (for ``activation``) and ``a_init`` (for ``second_layer``) are
        accepted with a DeprecationWarning.
    n, d, N : int
        Samples (of the step and of the feature batch), input dimension, width.
    eta0, alpha : float
        ``eta = eta0 * N**alpha`` (our convention).
    noise : float
        Label noise standard deviation.
    second_layer : {"gaussian", "rademacher", "constant"}
        Law of ``sqrt(N) a_j``. With Rademacher weights the mean features have rank <= 2 and
        with constant weights rank 1: all degrees share one or two right directions.
    a : array_like of shape (N,), optional
        The realized second layer. When given, its empirical law replaces
        ``second_layer``'s (the
        finite-N moments ``sum_j a_j^k`` then enter exactly; useful to compare one run). The
        kernel is then evaluated at N nodes instead of ``n_quad`` (seconds instead of tenths).
    k_max : int
        Highest Hermite degree reported in the overlaps.
    max_spikes : int
        Number of spikes reported: the strongest one of each degree, plus any further visible
        one (weaker hidden components of a degree already listed are corrections to it).
    n_quad : int
        Gauss-Hermite nodes per variable (z, g, a).
    schedule : StepSchedule or Step, optional
        The one step as a protocol object (:class:`spikewise.conventions.Step`), in place
        of ``eta0`` and ``alpha``; the same object drives :func:`spikewise.spectra.train`.

    Returns
    -------
    VisibleSpikes
    """
    owner = "visible_spikes"
    n, d, N, noise, second_layer, k_max = _check_common(owner, n, d, N, noise, second_layer,
                                                        k_max)
    eta0, alpha = _protocol(owner, schedule, 1, eta0=eta0, alpha=alpha)
    eta0 = check_scalar(eta0, "eta0", owner, lower=0.0)
    alpha = check_scalar(alpha, "alpha", owner, lower=0.0, upper=0.5, upper_inclusive=False)
    max_spikes = check_scalar(max_spikes, "max_spikes", owner, kind="int", lower=1)
    n_quad = check_scalar(n_quad, "n_quad", owner, kind="int", lower=8, upper=200)
    act = _resolve(activation, "activation", owner)
    tch = _resolve(teacher, "teacher", owner)

    eta = learning_rate(eta0, N=N, alpha=alpha)
    tg = _teacher_grid(tch, noise, n_quad, 8)
    a_x, a_w = _a_nodes(second_layer, N, n_quad, _check_a(a, N, owner))
    # mean of f(X) at initialization (non-zero only for constant a and mu_0 != 0)
    mean_r = tg.mean_y - math.sqrt(N) * float(np.sum(a_w * a_x)) * float(act.mu0)
    tau2, e_r2 = _tau2(act, tg, n=n, d=d, N=N)
    tau = math.sqrt(tau2)
    mu1 = float(act.mu1)
    mu2 = float(act.mu2)
    s0 = tg.c1 * tg.z + tau * tg.g
    sd_s = math.sqrt(tg.c1**2 + tau2)

    shift = eta * mu1 * np.outer(s0, a_x)
    scale = np.sqrt(
        (1.0 + 2.0 * eta * mu2 * mean_r * a_x) ** 2 + eta**2 * a_x**2 * _var_d1(act) * e_r2 * d / n
    )[None, :]
    K = _smoothed(act, shift, scale)

    A = np.sqrt(tg.w)[:, None] * K * np.sqrt(a_w)[None, :]
    U, sv, _ = np.linalg.svd(A, full_matrices=False)
    theta = math.sqrt(N) * sv

    qa_x, qa_w = _a_quantiles(second_layer, N, a=_check_a(a, N, owner))
    # residual r = y - f(X) at initialization: the labels do not depend on g, sum it out
    shape = (n_quad, n_quad, tg.y.size // n_quad**2)
    r_nodes = tg.y.reshape(shape)[:, 0, :].ravel() + (mean_r - tg.mean_y)
    r_w = tg.w.reshape(shape).sum(axis=1).ravel()
    bulk = _updated_ck_bulk(
        act, n=n, d=d, N=N, eta=eta, a_x=qa_x, a_w=qa_w, r=r_nodes, rw=r_w, sd_s=sd_s
    )
    # numerical zeros (e.g. eta0 = 0 with a centred activation) are not spikes
    keep = [m for m in range(sv.size) if theta[m] > 1e-10 * max(theta[0], bulk.threshold)]
    h_s = _hermite_matrix(s0 / sd_s, k_max)  # structural basis
    h_z = _hermite_matrix(tg.z, k_max)  # teacher features
    sw = np.sqrt(tg.w)
    spikes = []
    seen = set()
    for m in keep:
        if len(spikes) == max_spikes:
            break
        um = U[:, m]  # = sqrt(w) * psi_m(omega)
        coef_s = (h_s * sw[None, :]) @ um
        coef_z = (h_z * sw[None, :]) @ um
        direction = coef_z**2
        degree = int(np.argmax(coef_s**2))
        vis = bool(theta[m] > bulk.threshold)
        if degree in seen and not vis:
            continue  # a weaker hidden component of a degree already listed
        seen.add(degree)
        pos, left, _ = bulk.outlier(float(theta[m]))
        e = spike_growth_exponent(degree, alpha)
        spikes.append(
            SpikeLevel(
                degree=degree,
                strength=float(theta[m]),
                threshold=bulk.threshold,
                edge=bulk.edge,
                visible=vis,
                position=float(pos),
                vector_overlap=float(left),
                teacher_overlaps=_frozen(left * direction),
                direction_overlaps=_frozen(direction),
                teacher_degree=int(np.argmax(direction)),
                growth_exponent=e,
                asymptotically_visible=bool(e > 0 or (e == 0 and vis)),
            )
        )
    n_rule = min(spike_count(alpha), 20)  # degrees checked for a vanishing mu_k
    mus = np.abs(act.hermite(max(k_max, n_rule)))
    absent = tuple(k for k in range(1, n_rule + 1) if mus[k] < 1e-10 * mus.max())
    return VisibleSpikes(
        spikes=tuple(spikes),
        asymptotic_count=spike_count(alpha),
        eta=eta,
        edge=bulk.edge,
        threshold=bulk.threshold,
        params=dict(
            n=n,
            d=d,
            N=N,
            eta0=eta0,
            alpha=alpha,
            noise=noise,
            second_layer=second_layer if a is None else "realized",
            features="fresh",
            activation=act.name,
            teacher=tch.name,
            absent_degrees=absent,
        ),
    )


@renamed_keywords(sigma="activation", a_init="second_layer")
def spike_onset_width(
    activation,
    teacher,
    *,
    degree: int,
    psi: float,
    phi: float,
    eta0: float,
    alpha: float,
    noise: float = 0.0,
    second_layer: str = "gaussian",
    N_min: int = 16,
    N_max: float = 1e9,
    rtol: float = 1e-3,
) -> float:
    r"""Width N at which the degree-``degree`` spike leaves the bulk, at fixed ``psi, phi``.

    Bisection in ``log N`` on ``strength - threshold`` from :func:`visible_spikes` (sizes
    ``n = psi N / phi``, ``d = N / phi``, rounded). Unlike the extrapolation printed by
    :meth:`VisibleSpikes.explain` (``strength ~ N^{e_k}`` from one width) it uses the exact
    finite-N strengths, whose growth is faster than ``N^{e_k}`` at moderate N.

    Parameters
    ----------
    activation, teacher : Activation or str
        As in :func:`visible_spikes`.
    degree : int
        Hermite degree of the spike (>= 1).
    psi, phi : float
        ``n/d`` and ``N/d``, held fixed.
    eta0, alpha, noise, second_layer
        As in :func:`visible_spikes`.
    N_min, N_max : float
        Search range, ``2 <= N_min < N_max <= 1e15``.
    rtol : float
        Relative tolerance on N.

    Returns
    -------
    float
        The onset width; ``N_min`` if already visible there, ``inf`` if not visible by
        ``N_max`` (or if no spike of that degree exists, e.g. ``mu_degree = 0``).
    """
    owner = "spike_onset_width"
    degree = check_scalar(degree, "degree", owner, kind="int", lower=1, upper=20)
    psi = check_scalar(psi, "psi", owner, lower=0.0, lower_inclusive=False)
    phi = check_scalar(phi, "phi", owner, lower=0.0, lower_inclusive=False)
    N_min = check_scalar(N_min, "N_min", owner, lower=2.0)
    # beyond ~1e15 the finite-N strengths of a large step overflow a double
    N_max = check_scalar(N_max, "N_max", owner, lower=N_min, upper=1e15, lower_inclusive=False)
    rtol = check_scalar(rtol, "rtol", owner, lower=1e-8, upper=0.5)

    def margin(N):
        sizes = Sizes.integers(N=N, psi=psi, phi=phi, min_d=2, owner=owner)
        pred = visible_spikes(
            activation,
            teacher,
            n=sizes.n,
            d=sizes.d,
            N=sizes.N,
            eta0=eta0,
            alpha=alpha,
            noise=noise,
            second_layer=second_layer,
            k_max=max(8, degree),
            max_spikes=12,
        )
        for sp in pred.spikes:
            if sp.degree == degree:
                return sp.strength / sp.threshold - 1.0
        return -math.inf

    lo, hi = math.log(N_min), math.log(N_max)
    if margin(N_min) > 0:
        return float(N_min)
    if margin(N_max) <= 0:
        return math.inf
    while hi - lo > rtol:
        mid = 0.5 * (lo + hi)
        if margin(math.exp(mid)) > 0:
            hi = mid
        else:
            lo = mid
    return float(math.exp(hi))
