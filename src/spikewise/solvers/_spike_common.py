"""What the finite-N spike theories of one and two steps share (private).

:mod:`spikewise.solvers.multi_spike` (one large step) and :mod:`spikewise.solvers.two_step`
(two steps) both model the updated weights as a Gaussian-equivalent sample covariance
(:class:`_CovarianceBulk`, its D-transform and the BGN outlier criterion), average over the
law of the second layer (:func:`_a_nodes`), over the teacher's inputs and labels
(:func:`_teacher_grid`) and over the Gaussian pre-activations (:func:`_smoothed`), and
validate the same inputs (:func:`_check_common`). Every Gaussian rule comes from
:mod:`spikewise._gauss`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from spikewise._gauss import expect, factorials, hermite_polynomials, normal_rule
from spikewise._validation import (
    ConvergenceError,
    InvalidParameterError,
    check_array,
    check_option,
    check_scalar,
)
from spikewise.activations import get_activation
from spikewise.conventions import Step, StepSchedule

_A_INITS = ("gaussian", "rademacher", "constant")


class _SpikeResult:
    """Base of the finite-N spike predictions (:class:`VisibleSpikes`, :class:`TwoStepSpikes`).

    Subclasses are frozen dataclasses with a ``spikes`` tuple (each with ``visible``) and
    ``params``; they say what to print through three hooks, and share :meth:`explain`.
    """

    @property
    def n_outliers(self) -> int:
        """All predicted outliers (visible spikes)."""
        return sum(1 for s in self.spikes if s.visible)

    def _explain_header(self) -> list:
        raise NotImplementedError

    def _explain_notes(self) -> list:
        return []

    def _explain_spike(self, spike) -> str:
        raise NotImplementedError

    def explain(self) -> str:
        """Plain-text account of the predicted outliers, what they carry and why."""
        lines = [*self._explain_header(), *self._explain_notes()]
        lines += [self._explain_spike(s) for s in self.spikes]
        return "\n".join(lines)


class _CovarianceBulk:
    r"""Singular values of ``B = Z Sigma^{1/2} / sqrt(n)`` (n x p), ``Z`` i.i.d. N(0,1).

    ``Sigma``'s spectrum is the discrete measure ``sum_i w_i delta_{t_i}`` (quadrature of the
    population law). ``c = p / n``. The companion Stieltjes transform ``m_(w)`` of
    ``B B^T`` (n x n) is the inverse of Silverstein's
    ``w(m) = -1/m + c sum_i w_i t_i / (1 + t_i m)``; ``m(w)`` of ``B^T B`` is
    ``(m_ + (1 - c)/w) / c``. ``D(z) = z^2 m_(z^2) m(z^2)``.
    """

    def __init__(self, t, w, c):
        self.t = np.asarray(t, dtype=float)
        self.w = np.asarray(w, dtype=float)
        self.c = float(c)
        self.tmax = float(self.t.max())
        self._m_star = self._critical_point()
        self.edge2 = self._w_of_m(self._m_star)  # edge of the eigenvalues of B B^T
        self.edge = math.sqrt(self.edge2)

    # inverse function and its derivatives in m
    def _w_of_m(self, m):
        return -1.0 / m + self.c * np.sum(self.w * self.t / (1.0 + self.t * m))

    def _dw_dm(self, m):
        return 1.0 / m**2 - self.c * np.sum(self.w * self.t**2 / (1.0 + self.t * m) ** 2)

    def _critical_point(self):
        lo_lim = -1.0 / self.tmax
        hi = lo_lim * 1e-6
        if self._dw_dm(hi) <= 0:  # pragma: no cover - would need a degenerate population
            raise ConvergenceError("bulk edge: no sign change of w'(m) near m = 0")
        lo = None
        for j in range(1, 16):
            cand = lo_lim * (1.0 - 10.0 ** (-j))
            if self._dw_dm(cand) < 0:
                lo = cand
                break
        if lo is None:  # pragma: no cover
            raise ConvergenceError(
                f"bulk edge: w'(m) stayed positive down to m = {lo_lim:.6g} (15 iterations)"
            )
        return brentq(self._dw_dm, lo, hi, xtol=1e-15, rtol=1e-14, maxiter=500)

    def m_companion(self, w):
        """``m_(w)`` for real ``w`` above the edge (the root of ``w(m) = w`` in ``(m*, 0)``)."""
        if w <= self.edge2:
            return self._m_star
        hi = -1.0 / (2.0 * (w + self.c * np.sum(self.w * self.t) + 1.0))
        while self._w_of_m(hi) < w:
            hi *= 0.5
        return brentq(
            lambda m: self._w_of_m(m) - w, self._m_star, hi, xtol=1e-16, rtol=1e-15, maxiter=500
        )

    def _parts(self, z):
        w = z * z
        mu = self.m_companion(w)
        dmu = 1.0 / self._dw_dm(mu) if w > self.edge2 else math.inf
        mb = (mu + (1.0 - self.c) / w) / self.c
        dmb = (dmu - (1.0 - self.c) / w**2) / self.c
        return w, mu, dmu, mb, dmb

    def D(self, z):
        w, mu, _, mb, _ = self._parts(z)
        return w * mu * mb

    def dD(self, z):
        w, mu, dmu, mb, dmb = self._parts(z)
        return 2.0 * z * (mu * mb + w * dmu * mb + w * mu * dmb)

    @property
    def threshold(self):
        """Spike strength at which a singular value separates: ``D(b^+)^{-1/2}``."""
        return 1.0 / math.sqrt(self.D(self.edge))

    def outlier(self, theta):
        """``(position, left overlap, right overlap)`` for strength ``theta`` (NaN, 0, 0 below)."""
        if theta <= self.threshold:
            return self.edge, 0.0, 0.0
        target = 1.0 / theta**2
        hi = self.edge * 2.0 + theta * 2.0 + 1.0
        while self.D(hi) > target:
            hi *= 2.0
        lo = self.edge * (1.0 + 1e-14)
        rho = brentq(lambda z: self.D(z) - target, lo, hi, xtol=1e-14, rtol=1e-14, maxiter=500)
        w, mu, _, mb, _ = self._parts(rho)
        dd = self.dD(rho)
        phi_left = -rho * mu
        phi_right = -rho * mb
        return rho, -2.0 * phi_left / (theta**2 * dd), -2.0 * phi_right / (theta**2 * dd)


def _gh(n):
    """``n``-node Gauss-Hermite rule for a standard Gaussian (smooth integrands)."""
    return normal_rule(nodes=n)


def _hermite_matrix(x, k_max):
    """Normalized probabilists' Hermite ``He_k(x)/sqrt(k!)``, k = 0..k_max, shape (k_max+1, len)."""
    x = np.asarray(x, dtype=float).ravel()
    return hermite_polynomials(x, k_max) / np.sqrt(factorials(k_max))[:, None]


def _a_nodes(a_init, N, n_nodes, a=None):
    """Quadrature nodes/weights for the law of one second-layer weight ``a_j``.

    With a realized ``a`` (length N) its empirical measure is used (weights 1/N).
    """
    if a is not None:
        return np.asarray(a, dtype=float), np.full(N, 1.0 / N)
    if a_init == "gaussian":
        x, w = _gh(n_nodes)
        return x / math.sqrt(N), w
    if a_init == "rademacher":
        return np.array([-1.0, 1.0]) / math.sqrt(N), np.array([0.5, 0.5])
    return np.array([1.0]) / math.sqrt(N), np.array([1.0])


def _resolve(spec, name, owner):
    try:
        return get_activation(spec)
    except InvalidParameterError as exc:
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be an Activation or a preset name. "
            f"Got {spec!r} instead."
        ) from exc


@dataclass(frozen=True)
class _Teacher:
    """Moments of ``y = sigma_*(z) + noise * xi`` on an (z, g, xi) quadrature grid."""

    z: np.ndarray
    g: np.ndarray
    y: np.ndarray
    w: np.ndarray
    c1: float
    mean_y: float
    second_y: float
    z2y2: float


def _teacher_grid(teacher, noise, n_zg, n_xi):
    zx, zw = _gh(n_zg)
    if noise > 0:
        xx, xw = _gh(n_xi)
    else:
        xx, xw = np.zeros(1), np.ones(1)
    Z, G, XI = np.meshgrid(zx, zx, xx, indexing="ij")
    W = np.einsum("i,j,k->ijk", zw, zw, xw)
    Z, G, XI, W = Z.ravel(), G.ravel(), XI.ravel(), W.ravel()
    y = teacher(Z) + noise * XI
    return _Teacher(
        z=Z,
        g=G,
        y=y,
        w=W,
        c1=float(np.sum(W * Z * y)),
        mean_y=float(np.sum(W * y)),
        second_y=float(np.sum(W * y * y)),
        z2y2=float(np.sum(W * Z * Z * y * y)),
    )


def _tau2(act, tg: _Teacher, *, n, d, N):
    """Squared norm of the part of ``u = X^T (y - f0) / n`` orthogonal to ``beta`` (+ its
    fluctuation along ``beta``), see the module docstring."""
    e_r2 = tg.second_y + float(act.second_moment) / N
    return ((d - 1) * e_r2 + tg.z2y2 - tg.c1**2) / n + float(act.mu1) ** 2 / N, e_r2


def _var_d1(act):
    mu1 = float(act.mu1)
    return max(expect(lambda x: act.d1(x) ** 2, act.kinks) - mu1**2, 0.0)


def _smoothed(func, shift, scale, extra=None, n_h=96):
    """``E_h func(scale * h + shift [+ extra * sigma'(h)])`` by Gauss-Hermite in ``h``.

    ``shift`` and ``scale`` broadcast to a common shape ``S``; ``extra`` (optional) is a pair
    ``(coef, d1)``: coefficient array of shape ``S`` and the derivative function, adding
    ``coef * d1(h)`` inside (the sample's own-label term of a reused batch).
    """
    hx, hw = _gh(n_h)
    shape = np.broadcast(shift, scale).shape
    out = np.zeros(shape)
    for h, wh in zip(hx, hw, strict=True):
        arg = scale * h + shift
        if extra is not None:
            coef, d1 = extra
            arg = arg + coef * d1(np.asarray(h))
        out += wh * func(arg)
    return out


def _check_a(a, N, owner):
    if a is None:
        return None
    return check_array(a, "a", owner, ndim=1, shape=(N,))


def _check_common(owner, n, d, N, noise, second_layer, k_max):
    n = check_scalar(n, "n", owner, kind="int", lower=1)
    d = check_scalar(d, "d", owner, kind="int", lower=2)
    N = check_scalar(N, "N", owner, kind="int", lower=1)
    noise = check_scalar(noise, "noise", owner, lower=0.0)
    second_layer = check_option(second_layer, "second_layer", owner, _A_INITS)
    k_max = check_scalar(k_max, "k_max", owner, kind="int", lower=1, upper=20)
    return n, d, N, noise, second_layer, k_max


def _protocol(owner, schedule, n_steps, **given):
    """The learning rates (and batches) of a theory, from ``schedule`` or from keywords.

    ``given`` holds the keywords in the order of the steps: ``eta0``, ``alpha`` for the first,
    ``eta0_2``, ``alpha_2``, ``batch`` for the second. With a
    :class:`~spikewise.conventions.StepSchedule` (or one ``Step``) of ``n_steps`` steps none
    of them may be given; without one, every rate must be (``batch`` defaults to "fresh").
    Returns the values in the order of ``given``.
    """
    if schedule is None:
        for key, value in given.items():
            if value is None and key != "batch":
                raise InvalidParameterError(
                    f"The {key!r} parameter of {owner} must be given (a float), or a "
                    f"'schedule'. Got None instead."
                )
        return tuple("fresh" if k == "batch" and v is None else v for k, v in given.items())
    if isinstance(schedule, Step):
        schedule = StepSchedule((schedule,))
    if not isinstance(schedule, StepSchedule) or len(schedule) != n_steps:
        raise InvalidParameterError(
            f"The 'schedule' parameter of {owner} must be a StepSchedule of {n_steps} step(s). "
            f"Got {schedule!r} instead."
        )
    both = [k for k, v in given.items() if v is not None]
    if both:
        raise InvalidParameterError(
            f"The 'schedule' parameter of {owner} replaces {', '.join(map(repr, both))}; give "
            "one or the other. Got both instead."
        )
    from_schedule = {"eta0": schedule[0].eta0, "alpha": schedule[0].alpha}
    if n_steps == 2:
        from_schedule.update(eta0_2=schedule[1].eta0, alpha_2=schedule[1].alpha,
                             batch=schedule[1].batch)
    return tuple(from_schedule[k] for k in given)
