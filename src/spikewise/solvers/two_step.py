r"""Outliers of the first-layer weights after two gradient steps (Moniri & Hassani 2025).

Convention (spikewise's one convention, see :mod:`spikewise.solvers.multi_spike`): two steps
``W1 = W0 + eta1 G(X1, y1; W0)``, ``W2 = W1 + eta2 G(X2, y2; W1)`` with
``G(X, y; W) = (1/n) X^T [((y - f(X)) a^T) * sigma'(X W)]``, ``a`` fixed,
``eta_i = eta0_i N^{alpha_i}``. ``batch="fresh"`` draws ``(X2, y2)`` independently of
``(X1, y1)``; ``batch="reuse"`` sets ``(X2, y2) = (X1, y1)``.

Asymptotic rule. With ``u1 = X1^T y1 / n``, ``s = X2 u1`` and ``b_j = eta1 mu_1 a_j``, the mean
of ``sigma'(X2 W1)`` over the initial pre-activations is ``sum_k (k+1) mu_{k+1} (s b_j)^k``,
so the second step adds the rank-one terms

.. math:: \eta_2\,(k+1)\mu_{k+1}(\eta_1\mu_1)^k\;
   \frac{X_2^\top (r_2 \odot s^{\circ k})}{n}\,(a^{\circ (k+1)})^\top,

of operator norm ``~ N^{alpha2 - k(1/2 - alpha1)}`` against the bulk of ``W0`` (norm of order
one). The terms ``k >= 1`` separate iff ``k < alpha2 / (1/2 - alpha1)``:
``floor(alpha2 / (1/2 - alpha1))`` new outliers (:func:`two_step_outlier_count`, the count
of Moniri & Hassani 2025), on top of the outlier along ``a`` (first step and ``k = 0``,
which share the right vector ``a``) whenever ``max(alpha1, alpha2) > 0``.

Which directions. The left vector of term ``k`` is ``E[x r_2 s^k]`` plus noise. With a fresh
batch ``s = c_1 z + tau g`` is independent of ``z = x^T beta`` when ``c_1 = 0`` (information
exponent > 1), so ``E[z r_2 s^k] = 0``: nothing along ``beta`` is learned. With a reused batch
``s_i = x_i^T u1`` contains the sample's own label ``y_i ||x_i||^2 / n ~ y_i / psi``, so the
coefficient along ``beta`` is ``E[z y (y/psi + tau g)^k] / ...`` which is non-zero as soon as
``E[z y^{j+1}] != 0`` for some ``j <= k``: e.g. ``He_2 + He_3`` (``j = 1``) or ``He_3``
(``j = 2``). For an even link (``He_2``) every such moment vanishes by the symmetry
``z -> -z``: neither batch learns ``beta`` at this order.

Finite N (:func:`two_step_spikes`): as in :func:`~spikewise.solvers.multi_spike.visible_spikes`
the powers of ``s b_j`` are not truncated; the mean of ``sigma'`` (and of ``sigma`` for the
network output ``f1`` entering the second residual) is the Gaussian-smoothed activation
evaluated at the exact shift, on a quadrature grid over ``(z, g, noise, a)``. The weight
update is then ``P = (1/n) X^T Q`` with ``Q`` a kernel matrix in (sample, neuron); its
left vectors ``(1/n) X^T psi`` are represented exactly in second moments (the component
along ``beta``, along ``u1`` and an isotropic part of squared norm ``E psi^2 / psi_ratio``),
which gives the singular values of ``P``. Outliers of ``W2 = W0 + P`` follow from the
rectangular BBP criterion (Benaych-Georges & Nadakuditi 2012) for the bulk of ``W0`` plus the
non-rank-one part of both gradients (columns of variance ``1 + v(a_j)``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from scipy.optimize import brentq
from scipy.special import ndtri

from spikewise._validation import check_option, check_scalar
from spikewise.solvers.multi_spike import (
    _a_nodes,
    _check_a,
    _check_common,
    _CovarianceBulk,
    _frozen,
    _hermite_matrix,
    _resolve,
    _smoothed,
    _tau2,
    _teacher_grid,
    _var_d1,
)

__all__ = [
    "two_step_outlier_count",
    "two_step_growth_exponent",
    "TwoStepSpike",
    "TwoStepSpikes",
    "two_step_spikes",
]


def _weight_bulk(a_init, *, N, d, coef, n_nodes=400):
    """Bulk of ``W0`` plus the non-rank-one gradient parts: columns of variance
    ``(1 + coef * a_j^2) / d``.

    The law of ``a_j`` is represented by ``n_nodes`` equally weighted quantiles (midpoint rule
    in probability), not by Gauss-Hermite nodes: far-tail nodes of tiny weight would act as
    isolated population atoms and create a spurious top component of the support.
    """
    if a_init == "gaussian":
        x = ndtri((np.arange(n_nodes) + 0.5) / n_nodes)
        t = 1.0 + coef * x**2 / N
        return _CovarianceBulk(t, np.full(n_nodes, 1.0 / n_nodes), N / d)
    return _CovarianceBulk(np.array([1.0 + coef / N]), np.array([1.0]), N / d)


def _label_outlier_strength(teacher, noise, *, n, d, eta, var_d1):
    """``eta * t_n * sqrt(var_d1 * d) / n`` with ``P(|y| > t_n) = 1/n`` (typical largest label)."""
    z = np.linspace(-12.0, 12.0, 24001)
    pz = np.exp(-0.5 * z * z)
    pz /= pz.sum()
    xi, wxi = hermegauss(20) if noise > 0 else (np.zeros(1), np.ones(1))
    wxi = wxi / wxi.sum()
    y = np.abs(teacher(z)[:, None] + noise * xi[None, :])
    w = pz[:, None] * wxi[None, :]

    def tail(t):
        return float(np.sum(w[y > t])) - 1.0 / n

    hi = float(y.max())
    if tail(0.0) <= 0:  # pragma: no cover - degenerate labels
        return 0.0
    t_n = brentq(tail, 0.0, hi, xtol=1e-10) if tail(hi) < 0 else hi
    return float(eta * t_n * math.sqrt(var_d1 * d) / n)


def two_step_outlier_count(alpha1, alpha2) -> int:
    r"""New outliers of ``W2`` as N -> infinity: ``floor(alpha2 / (1/2 - alpha1))``.

    Moniri & Hassani (2025). These are the terms ``k >= 1`` (right vectors
    ``a^{\circ(k+1)}``) with ``k <= alpha2 / (1/2 - alpha1)``; when the ratio is an integer
    ``k*`` the last term counted, ``k*``, is only of order one (it separates or not depending
    on the prefactors; see :func:`two_step_spikes`). The outlier along ``a`` itself (first
    step merged with the ``k = 0`` term of the second) is not included. Exact rational
    arithmetic on the floats given.

    Parameters
    ----------
    alpha1 : float
        First-step exponent in ``[0, 1/2)``.
    alpha2 : float
        Second-step exponent in ``[0, 1/2)``.
    """
    owner = "two_step_outlier_count"
    alpha1 = check_scalar(alpha1, "alpha1", owner, lower=0.0, upper=0.5, upper_inclusive=False)
    alpha2 = check_scalar(alpha2, "alpha2", owner, lower=0.0, upper=0.5, upper_inclusive=False)
    gap = Fraction(1, 2) - Fraction(alpha1)
    ratio = Fraction(alpha2) / gap
    return int(math.floor(ratio))


def two_step_growth_exponent(k, alpha1, alpha2) -> float:
    """Exponent of N in the norm of the second-step term ``k`` (right vector ``a^{k+1}``).

    ``alpha2 - k (1/2 - alpha1)`` for ``k >= 1``; ``max(alpha1, alpha2)`` for ``k = 0`` (the
    outlier along ``a``).
    """
    owner = "two_step_growth_exponent"
    k = check_scalar(k, "k", owner, kind="int", lower=0)
    alpha1 = check_scalar(alpha1, "alpha1", owner, lower=0.0, upper=0.5)
    alpha2 = check_scalar(alpha2, "alpha2", owner, lower=0.0, upper=0.5)
    if k == 0:
        return max(alpha1, alpha2)
    return alpha2 - k * (0.5 - alpha1)


@dataclass(frozen=True)
class TwoStepSpike:
    """One outlier candidate of ``W2`` (d x N) at finite N.

    Attributes
    ----------
    degree : int
        Hermite degree (in ``sqrt(N) a``) of the right direction: 1 for the direction ``a``
        (first step and ``k = 0``), ``k + 1`` for the second-step term ``k``.
    strength : float
        Singular value of the low-rank part of ``W2 - W0``.
    threshold, edge : float
        BBP strength and upper bulk edge of the singular values of the bulk.
    visible : bool
        Predicted outlier at this N.
    position : float
        Predicted singular value (the edge when not visible).
    vector_overlap : float
        Squared overlap of the outlier's left singular vector with the spike direction.
    beta_overlap : float
        Predicted squared overlap of the outlier's left singular vector with ``beta``.
    direction_beta_overlap : float
        Squared overlap of the spike direction itself with ``beta``.
    growth_exponent : float
        :func:`two_step_growth_exponent` for ``k = degree - 1``.
    """

    degree: int
    strength: float
    threshold: float
    edge: float
    visible: bool
    position: float
    vector_overlap: float
    beta_overlap: float
    direction_beta_overlap: float
    growth_exponent: float


@dataclass(frozen=True)
class TwoStepSpikes:
    """Finite-N prediction of the outliers of ``W2`` after two steps.

    Attributes
    ----------
    spikes : tuple of TwoStepSpike
        In decreasing strength.
    asymptotic_count : int
        :func:`two_step_outlier_count` ``(alpha1, alpha2)``.
    eta1, eta2 : float
        Learning rates.
    edge, threshold : float
        Bulk edge and BBP strength.
    right_hermite : ndarray
        Squared Hermite coefficients (rows: spikes; columns: degree 0..k_max) of the right
        directions as functions of ``sqrt(N) a``.
    label_outlier_strength : float
        Strength of the largest single-sample term ``(eta/n) x_i r_i (a * (sigma'(W^T x_i)
        - mean))^T`` of the gradients, ``~ eta |y|_max sqrt(Var sigma'(Z) d) / n`` with
        ``|y|_max`` the ``1 - 1/n`` quantile of ``|y|`` (on a reused batch both steps see the
        same sample: ``eta = hypot(eta1, eta2)``).
        Above ``threshold`` heavy-tailed labels create extra outliers along single inputs
        ``x_i``, which carry no teacher direction and vary from run to run.
    params : dict
    """

    spikes: tuple
    asymptotic_count: int
    eta1: float
    eta2: float
    edge: float
    threshold: float
    right_hermite: np.ndarray = field(repr=False)
    label_outlier_strength: float = 0.0
    params: dict = field(default_factory=dict)

    @property
    def n_outliers(self) -> int:
        """All predicted outliers of ``W2``."""
        return sum(1 for s in self.spikes if s.visible)

    @property
    def n_new(self) -> int:
        """Visible outliers beyond the direction ``a`` (degree >= 2): compare with
        :attr:`asymptotic_count`."""
        return sum(1 for s in self.spikes if s.visible and s.degree >= 2)

    def explain(self) -> str:
        """Plain-text account of the predicted outliers and the directions they carry."""
        p = self.params
        lines = [
            f"N = {p['N']}, n = {p['n']}, d = {p['d']}, {p['batch']} batch: eta1 = "
            f"{self.eta1:.4g}, eta2 = {self.eta2:.4g}; bulk edge {self.edge:.4g}, BBP strength "
            f"{self.threshold:.4g}.",
            f"Asymptotic rule floor(alpha2/(1/2-alpha1)) = {self.asymptotic_count} new "
            f"outlier(s); visible at this N: {self.n_new} new, {self.n_outliers} in all.",
        ]
        if self.label_outlier_strength > self.threshold:
            lines.append(
                f"  largest labels: single-sample terms of strength ~"
                f"{self.label_outlier_strength:.3g} > {self.threshold:.3g}: expect extra "
                "outliers along individual inputs x_i (heavy-tailed labels), not counted above."
            )
        absent = p.get("absent_terms", ())
        if absent:
            lines.append(
                "  term(s) k = " + ", ".join(str(k) for k in absent) + " never appear: "
                "(k+1) mu_{k+1} is zero for this activation (the rule assumes it is not)."
            )
        for s in self.spikes:
            state = "VISIBLE" if s.visible else "hidden"
            lines.append(
                f"  right degree {s.degree}: strength {s.strength:.4g} -> {state}"
                + (
                    f" at {s.position:.4g}, squared overlap with beta {s.beta_overlap:.3f}"
                    if s.visible
                    else ""
                )
                + f"; grows like N^{s.growth_exponent:+.3f}"
            )
        return "\n".join(lines)


def two_step_spikes(
    sigma,
    teacher,
    *,
    n: int,
    d: int,
    N: int,
    eta0_1: float,
    alpha1: float,
    eta0_2: float,
    alpha2: float,
    batch: str = "fresh",
    noise: float = 0.0,
    a_init: str = "gaussian",
    a=None,
    k_max: int = 8,
    max_spikes: int = 6,
    n_quad: int = 32,
) -> TwoStepSpikes:
    r"""Outliers of ``W2`` (d x N) after two steps, at finite N, and what they point at.

    See the module docstring for the model. Asymptotics: Moniri & Hassani (2025); finite-N
    strengths from the Gaussian-smoothed mean of ``sigma'`` (no truncation in powers of the
    shift); outliers by the rectangular BBP criterion (Benaych-Georges & Nadakuditi 2012).

    Parameters
    ----------
    sigma, teacher : Activation or str
        Student activation and teacher link.
    n, d, N : int
        Batch size (each step), input dimension, width.
    eta0_1, alpha1, eta0_2, alpha2 : float
        ``eta_i = eta0_i * N**alpha_i``.
    batch : {"fresh", "reuse"}
        Independent second batch, or the first batch again.
    noise : float
        Label noise standard deviation.
    a_init : {"gaussian", "rademacher", "constant"}
        Law of ``sqrt(N) a_j`` (Rademacher or constant weights leave only 2 or 1 right
        directions, so at most that many outliers).
    a : array_like of shape (N,), optional
        The realized second layer; its empirical law replaces ``a_init``'s in the low-rank
        part (the bulk keeps the law of ``a_init``).
    k_max : int
        Highest Hermite degree in ``right_hermite``.
    max_spikes : int
        Number of spikes reported: the strongest one of each right degree, plus any further
        visible one.
    n_quad : int
        Gauss-Hermite nodes per variable.

    Returns
    -------
    TwoStepSpikes
    """
    owner = "two_step_spikes"
    n, d, N, noise, a_init, k_max = _check_common(owner, n, d, N, noise, a_init, k_max)
    eta0_1 = check_scalar(eta0_1, "eta0_1", owner, lower=0.0)
    eta0_2 = check_scalar(eta0_2, "eta0_2", owner, lower=0.0)
    alpha1 = check_scalar(alpha1, "alpha1", owner, lower=0.0, upper=0.5, upper_inclusive=False)
    alpha2 = check_scalar(alpha2, "alpha2", owner, lower=0.0, upper=0.5, upper_inclusive=False)
    batch = check_option(batch, "batch", owner, ("fresh", "reuse"))
    max_spikes = check_scalar(max_spikes, "max_spikes", owner, kind="int", lower=1)
    n_quad = check_scalar(n_quad, "n_quad", owner, kind="int", lower=8, upper=120)
    act = _resolve(sigma, "sigma", owner)
    tch = _resolve(teacher, "teacher", owner)

    eta1 = eta0_1 * float(N) ** alpha1
    eta2 = eta0_2 * float(N) ** alpha2
    psi = n / d
    mu1, mu2 = float(act.mu1), float(act.mu2)
    var_d1 = _var_d1(act)

    tg = _teacher_grid(tch, noise, n_quad, 6)
    a_x, a_w = _a_nodes(a_init, N, n_quad, _check_a(a, N, owner))
    f0_mean = math.sqrt(N) * float(np.sum(a_w * a_x)) * float(act.mu0)
    r1 = tg.y - f0_mean
    tau2, _ = _tau2(act, tg, n=n, d=d, N=N)
    e_r1 = float(np.sum(tg.w * r1 * r1)) + float(act.second_moment) / N
    mean_r1 = float(np.sum(tg.w * r1))
    tau = math.sqrt(tau2)
    c1 = float(np.sum(tg.w * tg.z * r1))
    s0 = c1 * tg.z + tau * tg.g

    # step 1 seen by the second batch: mean of sigma and sigma' at the shifted pre-activation
    shift = eta1 * mu1 * np.outer(s0, a_x)
    v1 = eta1**2 * a_x**2 * var_d1 * e_r1 / psi
    scale = np.sqrt((1.0 + 2.0 * eta1 * mu2 * mean_r1 * a_x) ** 2 + v1)[None, :]
    extra = (eta1 * np.outer(r1, a_x) / psi, act.d1) if batch == "reuse" else None
    S = _smoothed(act, shift, scale, extra)
    S1 = _smoothed(act.d1, shift, scale, extra)
    f1 = math.sqrt(N) * (S @ (a_w * a_x))
    r2 = tg.y - f1
    fa = r2[:, None] * S1  # (omega, a): residual times mean sigma'

    w = tg.w
    ez = (w * tg.z) @ fa  # E[z f_a]
    eg = (w * tg.g) @ fa  # E[g f_a]
    sq = np.sqrt(w / psi)[:, None]
    beta_row = eta1 * mu1 * a_x * c1 + eta2 * a_x * ez
    if batch == "fresh":
        e1_row = eta1 * mu1 * a_x * tau + eta2 * a_x * eg
        noise_rows = sq * (eta2 * a_x[None, :] * fa)
        C = np.vstack([beta_row, e1_row, noise_rows])
    else:
        t_r = math.sqrt(e_r1 / psi)
        noise_rows = sq * (
            eta1 * mu1 * a_x[None, :] * r1[:, None]
            + eta2 * a_x[None, :] * (fa + r1[:, None] * (eg / t_r)[None, :])
        )
        C = np.vstack([beta_row, noise_rows])
    C = C * np.sqrt(N * a_w)[None, :]
    U, sv, Vt = np.linalg.svd(C, full_matrices=False)

    # bulk: W0 plus the non-rank-one part of both gradients (column variances 1 + v(a))
    e_r2 = float(np.sum(w * r2 * r2))
    bulk = _weight_bulk(
        a_init, N=N, d=d, coef=(eta1**2 * var_d1 * e_r1 + eta2**2 * var_d1 * e_r2) / psi
    )

    herm = _hermite_matrix(a_x * math.sqrt(N), k_max)
    keep = [m for m in range(sv.size) if sv[m] > 1e-10 * max(sv[0], bulk.threshold)]
    spikes, right, seen = [], [], set()
    for m in keep:
        if len(spikes) == max_spikes:
            break
        coef = (herm * np.sqrt(a_w)[None, :]) @ Vt[m]
        degree = int(np.argmax(coef**2))
        theta = float(sv[m])
        if degree in seen and theta <= bulk.threshold:
            continue  # a weaker hidden component of a degree already listed
        seen.add(degree)
        right.append(coef**2)
        pos, left, _ = bulk.outlier(theta)
        dir_beta = float(U[0, m] ** 2)
        spikes.append(
            TwoStepSpike(
                degree=degree,
                strength=theta,
                threshold=bulk.threshold,
                edge=bulk.edge,
                visible=bool(theta > bulk.threshold),
                position=float(pos),
                vector_overlap=float(left),
                beta_overlap=float(left * dir_beta),
                direction_beta_overlap=dir_beta,
                # a constant right direction comes from the mean of a^2 (term k = 1)
                growth_exponent=two_step_growth_exponent(
                    max(degree - 1, 1 if degree == 0 else 0), alpha1, alpha2
                ),
            )
        )
    count = two_step_outlier_count(alpha1, alpha2)
    n_rule = min(count, 20)  # terms checked for a vanishing (k+1) mu_{k+1}
    mus = np.abs(act.hermite(max(k_max, n_rule + 1)))
    absent = tuple(k for k in range(1, n_rule + 1) if mus[k + 1] < 1e-10 * mus.max())
    return TwoStepSpikes(
        spikes=tuple(spikes),
        asymptotic_count=count,
        eta1=eta1,
        eta2=eta2,
        edge=bulk.edge,
        threshold=bulk.threshold,
        right_hermite=_frozen(np.array(right)),
        label_outlier_strength=_label_outlier_strength(
            tch,
            noise,
            n=n,
            d=d,
            eta=math.hypot(eta2, eta1 if batch == "reuse" else 0.0),
            var_d1=var_d1,
        ),
        params=dict(
            n=n,
            d=d,
            N=N,
            eta0_1=eta0_1,
            alpha1=alpha1,
            eta0_2=eta0_2,
            alpha2=alpha2,
            batch=batch,
            noise=noise,
            a_init=a_init if a is None else "realized",
            sigma=act.name,
            teacher=tch.name,
            absent_terms=absent,
        ),
    )
