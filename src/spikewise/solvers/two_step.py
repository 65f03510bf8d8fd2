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

Single-sample (label) outliers. Heavy-tailed labels (a ``He_3`` component) make each
sample's own rank-one term ``(eta/n) r_i x_i (a * sigma'(W1^T x_i))^T`` leave the bulk. Its
right vector splits into a mean part along ``a`` (strength ``label_kappa_mean |r_i|``) and
a fluctuation independent across samples (``label_kappa |r_i|``,
``label_kappa = eta sqrt(Var sigma'(Z) d) / n``); together with the spike along ``a`` they
form an arrow matrix whose singular values (other than the one along ``a``) are placed on
the bulk by the BGN criterion: :meth:`TwoStepSpikes.label_outliers` for given residuals,
``label_outlier_count`` (``n P(|y| > threshold / label_kappa)``, exact tail of ``|y|``) and
``label_outlier_positions`` (median order statistics of ``|y|``) on average. On a reused
batch ``hypot(eta1, eta2) |r2_i|`` is used, a rough approximation. Measured accuracy: the
theory page ``docs/theory/multi_spike.rst``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
from scipy.optimize import brentq
from scipy.special import ndtr, ndtri

from spikewise._gauss import normal_rule
from spikewise._validation import check_array, check_option, check_scalar, renamed_keywords
from spikewise.conventions import Sizes, learning_rate
from spikewise.solvers._spike_common import (
    _a_nodes,
    _check_a,
    _check_common,
    _CovarianceBulk,
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


def _label_tail(teacher, noise):
    """``P(|y| > t)`` for ``y = sigma_*(z) + noise * xi`` (``z, xi`` standard normal).

    For each Gauss-Hermite node of ``xi`` the set ``{z : |sigma_*(z) + noise xi| > t}`` is a
    union of intervals whose end points are located on a fine grid of ``z`` in [-12, 12] and
    refined with Brent's method; their Gaussian probabilities are summed exactly (``ndtr``).
    """
    z = np.linspace(-12.0, 12.0, 4801)
    if noise > 0:
        xi, wxi = normal_rule(nodes=20)
    else:
        xi, wxi = np.zeros(1), np.ones(1)
    ty = np.asarray(teacher(z), dtype=float)

    def tail(t):
        total = 0.0
        for x0, w0 in zip(xi, wxi, strict=True):
            def excess(zz, x0=x0):
                return abs(float(teacher(np.array([zz]))[0]) + noise * x0) - t
            vals = np.abs(ty + noise * x0) - t
            inside = vals > 0
            edges = [-np.inf]
            prob = 0.0
            for k in np.nonzero(inside[1:] != inside[:-1])[0]:
                edges.append(brentq(excess, z[k], z[k + 1], xtol=1e-14, rtol=1e-14))
            edges.append(np.inf)
            state = bool(inside[0])
            for lo, hi in zip(edges[:-1], edges[1:], strict=True):
                if state:
                    prob += float(ndtr(hi) - ndtr(lo))
                state = not state
            total += w0 * prob
        return total

    return tail


def _label_quantile(tail, q, hi=1e3):
    """``t`` with ``P(|y| > t) = q`` (bisection on the exact tail)."""
    if tail(0.0) <= q:  # pragma: no cover - degenerate labels
        return 0.0
    while tail(hi) > q:
        hi *= 2.0
    return brentq(lambda t: tail(t) - q, 0.0, hi, xtol=1e-12, rtol=1e-12)


def _arrow_outliers(labels, kappa, kappa_mean, a_strength, bulk):
    """Positions of the single-sample outliers for the largest ``|r_i|`` (``labels``); see
    :meth:`TwoStepSpikes.label_outliers`."""
    k = labels.size
    if k == 0 or kappa == 0.0:
        return np.zeros(0)
    M = np.zeros((k + 1, k + 1))
    M[0, 0] = a_strength
    M[1:, 0] = kappa_mean * labels
    M[np.arange(1, k + 1), np.arange(1, k + 1)] = kappa * labels
    _, sv, Vt = np.linalg.svd(M)
    along_a = int(np.argmax(np.abs(Vt[:, 0])))
    theta = np.delete(sv, along_a)
    theta = theta[theta > bulk.threshold]
    return np.array([bulk.outlier(float(t))[0] for t in theta])


def _label_outliers(teacher, noise, *, n, d, bulk, var_d1, mean_d1_2, eta, a_strength, k_max=10):
    """Single-sample outliers: strengths per unit label, expected count, typical positions."""
    kappa = float(eta * math.sqrt(var_d1 * d) / n)
    kappa_mean = float(eta * math.sqrt(mean_d1_2 * d) / n)
    tail = _label_tail(teacher, noise)
    strength = kappa * _label_quantile(tail, 1.0 / n)
    if kappa == 0.0:
        return dict(kappa=0.0, kappa_mean=kappa_mean, strength=0.0, count=0.0,
                    positions=np.zeros(0))
    count = n * tail(bulk.threshold / kappa)
    typical = np.array([_label_quantile(tail, (k - 0.3) / (n + 0.4)) for k in range(1, k_max + 1)])
    positions = _arrow_outliers(typical, kappa, kappa_mean, a_strength, bulk)
    return dict(kappa=kappa, kappa_mean=kappa_mean, strength=float(strength), count=float(count),
                positions=positions)


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
class TwoStepSpikes(_SpikeResult):
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
    label_outlier_count : float
        Expected number of such single-sample outliers, ``n P(|y| > t_c)`` with
        ``t_c = threshold / label_kappa`` (the residual of the second step is taken equal to
        the label: the network's output is small against the large labels that matter).
    label_outlier_positions : ndarray
        Typical positions of the largest single-sample outliers: the BGN position of the
        strength ``label_kappa * t_k``, ``t_k`` the median of the ``k``-th largest ``|y|``
        among ``n`` (quantile ``1 - (k - 0.3)/(n + 0.4)``), k = 1..10, while above threshold.
    label_kappa : float
        Strength per unit residual of the fluctuating part of one sample's term,
        ``eta sqrt(Var sigma'(Z) d) / n``; see :meth:`label_outliers` for the positions given
        realized residuals.
    label_kappa_mean : float
        Same for its mean part along ``a``, ``eta sqrt(d E_a[(E sigma')^2]) / n``.
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
    label_outlier_count: float = 0.0
    label_outlier_positions: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    label_kappa: float = 0.0
    label_kappa_mean: float = 0.0
    params: dict = field(default_factory=dict)
    _bulk: object = field(default=None, repr=False, compare=False)
    _a_strength: float = field(default=0.0, repr=False, compare=False)

    def label_outliers(self, residuals, k_max: int = 30) -> np.ndarray:
        """Predicted single-sample outliers of ``W2`` given the realized residuals.

        Each sample ``i`` of the second batch adds the rank-one term
        ``(eta/n) r_i x_i (a * sigma'(W1^T x_i))^T`` (left vector ``x_i / ||x_i||``,
        ``||x_i||^2 ~ d``). Its right vector splits into the mean part ``a * E sigma'``, along
        the spike direction ``a`` (strength ``label_kappa_mean * |r_i|``), and the fluctuation
        ``a * (sigma' - E sigma')``, independent across samples (``label_kappa * |r_i|``).
        With the predicted spike along ``a`` of strength ``S`` the low-rank part in the bases
        ``(u, x_1, ..., x_k) x (a, b_1, ..., b_k)`` is the arrow matrix
        ``[[S, 0], [kappa_mean |r_i|, diag(kappa |r_i|)]]``; its singular values other
        than the one along ``a`` are the samples' strengths (the coupling to the spike lowers
        the largest ones), mapped to positions by the BGN criterion on the bulk. ``S`` is the
        typical strength, whose second-moment computation already averages over all samples;
        removing the largest samples' share from it (``S^2 - sum kappa_mean^2 r_i^2``) was
        tried and is 4% high at (600, 300, 450), keeping ``S`` is within 1.2% at both
        (600, 300, 450) and (2000, 1000, 1500) (largest three per run, fresh batch); without
        the coupling the positions are 5% high at the smaller size. On a *reused* batch the
        two steps' terms of one sample add coherently with different residuals; the
        ``hypot(eta1, eta2) |r2_i|`` used there is rough (single runs off by up to 25%).

        Parameters
        ----------
        residuals : array_like of shape (n,)
            ``y - f_1(X_2)`` of the second step (or the labels themselves).
        k_max : int
            Number of largest ``|r_i|`` considered.

        Returns
        -------
        ndarray
            Positions, decreasing (empty when no sample is above threshold).
        """
        r = check_array(residuals, "residuals", "TwoStepSpikes.label_outliers", ndim=1)
        top = np.sort(np.abs(r))[::-1][:k_max]
        top = top[self.label_kappa * top > 0.5 * self.threshold]
        return _arrow_outliers(
            top, self.label_kappa, self.label_kappa_mean, self._a_strength, self._bulk
        )

    @property
    def n_new(self) -> int:
        """Visible outliers beyond the direction ``a`` (degree >= 2): compare with
        :attr:`asymptotic_count`."""
        return sum(1 for s in self.spikes if s.visible and s.degree >= 2)

    # n_outliers (all predicted outliers of W2) and explain() come from _SpikeResult
    def _explain_header(self) -> list:
        p = self.params
        return [
            f"N = {p['N']}, n = {p['n']}, d = {p['d']}, {p['batch']} batch: eta1 = "
            f"{self.eta1:.4g}, eta2 = {self.eta2:.4g}; bulk edge {self.edge:.4g}, BBP strength "
            f"{self.threshold:.4g}.",
            f"Asymptotic rule floor(alpha2/(1/2-alpha1)) = {self.asymptotic_count} new "
            f"outlier(s); visible at this N: {self.n_new} new, {self.n_outliers} in all.",
        ]

    def _explain_notes(self) -> list:
        lines = []
        if self.label_outlier_strength > self.threshold:
            pos = ", ".join(f"{x:.3g}" for x in self.label_outlier_positions[:4])
            lines.append(
                f"  largest labels: single-sample terms of strength ~"
                f"{self.label_outlier_strength:.3g} > {self.threshold:.3g}: expect about "
                f"{self.label_outlier_count:.1f} extra outliers along individual inputs x_i "
                f"(heavy-tailed labels; typical largest at {pos}), not counted above; "
                "label_outliers(residuals) places them for a given run."
            )
        absent = self.params.get("absent_terms", ())
        if absent:
            lines.append(
                "  term(s) k = " + ", ".join(str(k) for k in absent) + " never appear: "
                "(k+1) mu_{k+1} is zero for this activation (the rule assumes it is not)."
            )
        return lines

    def _explain_spike(self, s) -> str:
        state = "VISIBLE" if s.visible else "hidden"
        return (
            f"  right degree {s.degree}: strength {s.strength:.4g} -> {state}"
            + (
                f" at {s.position:.4g}, squared overlap with beta {s.beta_overlap:.3f}"
                if s.visible
                else ""
            )
            + f"; grows like N^{s.growth_exponent:+.3f}"
        )


@dataclass(frozen=True)
class _FirstStep:
    """The first step on the teacher grid: residual ``r1`` at initialization, its moments, and
    the rank-one pre-activation drift ``s0 = c1 z + tau g`` the first gradient adds."""

    r1: np.ndarray
    e_r1: float
    mean_r1: float
    c1: float
    tau: float
    s0: np.ndarray


def _first_step(act, tg, a_x, a_w, *, n, d, N) -> _FirstStep:
    f0_mean = math.sqrt(N) * float(np.sum(a_w * a_x)) * float(act.mu0)
    r1 = tg.y - f0_mean
    tau2, _ = _tau2(act, tg, n=n, d=d, N=N)
    e_r1 = float(np.sum(tg.w * r1 * r1)) + float(act.second_moment) / N
    mean_r1 = float(np.sum(tg.w * r1))
    tau = math.sqrt(tau2)
    c1 = float(np.sum(tg.w * tg.z * r1))
    return _FirstStep(r1=r1, e_r1=e_r1, mean_r1=mean_r1, c1=c1, tau=tau, s0=c1 * tg.z + tau * tg.g)


def _second_batch_means(act, one: _FirstStep, a_x, *, eta1, psi, var_d1, batch):
    """Step 1 seen by the second batch: the Gaussian-smoothed means ``S`` of sigma and ``S1`` of
    sigma' at the shifted pre-activation, on the (omega, a) grid."""
    mu1, mu2 = float(act.mu1), float(act.mu2)
    shift = eta1 * mu1 * np.outer(one.s0, a_x)
    v1 = eta1**2 * a_x**2 * var_d1 * one.e_r1 / psi
    scale = np.sqrt((1.0 + 2.0 * eta1 * mu2 * one.mean_r1 * a_x) ** 2 + v1)[None, :]
    extra = (eta1 * np.outer(one.r1, a_x) / psi, act.d1) if batch == "reuse" else None
    return _smoothed(act, shift, scale, extra), _smoothed(act.d1, shift, scale, extra)


def _low_rank_factor(act, tg, one: _FirstStep, a_x, a_w, fa, *, eta1, eta2, psi, N, batch):
    """Factor ``C`` of the low-rank part of ``W2 - W0``: rows beta, the first step's noise
    direction (fresh batch only) and the residual noise, columns the second-layer nodes, so that
    the outlier strengths are the singular values of ``C``. ``fa`` is the residual times the mean
    sigma' on the (omega, a) grid."""
    mu1 = float(act.mu1)
    w = tg.w
    ez = (w * tg.z) @ fa  # E[z f_a]
    eg = (w * tg.g) @ fa  # E[g f_a]
    sq = np.sqrt(w / psi)[:, None]
    beta_row = eta1 * mu1 * a_x * one.c1 + eta2 * a_x * ez
    if batch == "fresh":
        e1_row = eta1 * mu1 * a_x * one.tau + eta2 * a_x * eg
        noise_rows = sq * (eta2 * a_x[None, :] * fa)
        C = np.vstack([beta_row, e1_row, noise_rows])
    else:
        t_r = math.sqrt(one.e_r1 / psi)
        noise_rows = sq * (
            eta1 * mu1 * a_x[None, :] * one.r1[:, None]
            + eta2 * a_x[None, :] * (fa + one.r1[:, None] * (eg / t_r)[None, :])
        )
        C = np.vstack([beta_row, noise_rows])
    return C * np.sqrt(N * a_w)[None, :]


def _collect_spikes(U, sv, Vt, herm_w, *, bulk, max_spikes, alpha, alpha_2):
    """The spikes from the SVD ``U diag(sv) Vt`` of the low-rank factor: the strongest of each
    right Hermite degree (``herm_w``: Hermite values times the square-root node weights), plus
    any further visible one, at most ``max_spikes``; also the squared right coefficients."""
    keep = [m for m in range(sv.size) if sv[m] > 1e-10 * max(sv[0], bulk.threshold)]
    spikes, right, seen = [], [], set()
    for m in keep:
        if len(spikes) == max_spikes:
            break
        coef = herm_w @ Vt[m]
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
                    max(degree - 1, 1 if degree == 0 else 0), alpha, alpha_2
                ),
            )
        )
    return spikes, right


def _absent_terms(act, *, k_max, count):
    """The terms k <= min(count, 20) whose outlier is absent because ``mu_{k+1}`` vanishes."""
    n_rule = min(count, 20)
    mus = np.abs(act.hermite(max(k_max, n_rule + 1)))
    return tuple(k for k in range(1, n_rule + 1) if mus[k + 1] < 1e-10 * mus.max())


@renamed_keywords(sigma="activation", a_init="second_layer", eta0_1="eta0", alpha1="alpha",
                  alpha2="alpha_2")
def two_step_spikes(
    activation,
    teacher,
    *,
    n: int,
    d: int,
    N: int,
    eta0: float | None = None,
    alpha: float | None = None,
    eta0_2: float | None = None,
    alpha_2: float | None = None,
    batch: str | None = None,
    noise: float = 0.0,
    second_layer: str = "gaussian",
    a=None,
    k_max: int = 8,
    max_spikes: int = 6,
    n_quad: int = 32,
    schedule=None,
) -> TwoStepSpikes:
    r"""Outliers of ``W2`` (d x N) after two steps, at finite N, and what they point at.

    See the module docstring for the model. Asymptotics: Moniri & Hassani (2025); finite-N
    strengths from the Gaussian-smoothed mean of ``sigma'`` (no truncation in powers of the
    shift); outliers by the rectangular BBP criterion (Benaych-Georges & Nadakuditi 2012).

    Parameters
    ----------
    activation, teacher : Activation or str
        Student activation and teacher link.
    n, d, N : int
        Batch size (each step), input dimension, width.
    eta0, alpha, eta0_2, alpha_2 : float
        ``eta_i = eta0_i * N**alpha_i``.
    batch : {"fresh", "reuse"}, default "fresh"
        Independent second batch, or the first batch again.
    noise : float
        Label noise standard deviation.
    second_layer : {"gaussian", "rademacher", "constant"}
        Law of ``sqrt(N) a_j`` (Rademacher or constant weights leave only 2 or 1 right
        directions, so at most that many outliers).
    a : array_like of shape (N,), optional
        The realized second layer; its empirical law replaces ``second_layer``'s in the low-rank
        part (the bulk keeps the law of ``second_layer``).
    k_max : int
        Highest Hermite degree in ``right_hermite``.
    max_spikes : int
        Number of spikes reported: the strongest one of each right degree, plus any further
        visible one.
    n_quad : int
        Gauss-Hermite nodes per variable.
    schedule : StepSchedule, optional
        The two steps as a protocol object (:class:`spikewise.conventions.StepSchedule`), in
        place of ``eta0, alpha, eta0_2, alpha_2, batch``; the same object drives
        :func:`spikewise.spectra.train`.

    Returns
    -------
    TwoStepSpikes
    """
    owner = "two_step_spikes"
    n, d, N, noise, second_layer, k_max = _check_common(owner, n, d, N, noise, second_layer, k_max)
    eta0, alpha, eta0_2, alpha_2, batch = _protocol(
        owner, schedule, 2, eta0=eta0, alpha=alpha, eta0_2=eta0_2, alpha_2=alpha_2, batch=batch
    )
    eta0 = check_scalar(eta0, "eta0", owner, lower=0.0)
    eta0_2 = check_scalar(eta0_2, "eta0_2", owner, lower=0.0)
    alpha = check_scalar(alpha, "alpha", owner, lower=0.0, upper=0.5, upper_inclusive=False)
    alpha_2 = check_scalar(alpha_2, "alpha_2", owner, lower=0.0, upper=0.5, upper_inclusive=False)
    batch = check_option(batch, "batch", owner, ("fresh", "reuse"))
    max_spikes = check_scalar(max_spikes, "max_spikes", owner, kind="int", lower=1)
    n_quad = check_scalar(n_quad, "n_quad", owner, kind="int", lower=8, upper=120)
    act = _resolve(activation, "activation", owner)
    tch = _resolve(teacher, "teacher", owner)

    eta1 = learning_rate(eta0, N=N, alpha=alpha)
    eta2 = learning_rate(eta0_2, N=N, alpha=alpha_2)
    psi = Sizes.from_any(n=n, d=d, N=N, owner=owner).psi
    var_d1 = _var_d1(act)

    tg = _teacher_grid(tch, noise, n_quad, 6)
    a_x, a_w = _a_nodes(second_layer, N, n_quad, _check_a(a, N, owner))
    one = _first_step(act, tg, a_x, a_w, n=n, d=d, N=N)
    S, S1 = _second_batch_means(act, one, a_x, eta1=eta1, psi=psi, var_d1=var_d1, batch=batch)
    r2 = tg.y - math.sqrt(N) * (S @ (a_w * a_x))
    U, sv, Vt = np.linalg.svd(
        _low_rank_factor(act, tg, one, a_x, a_w, r2[:, None] * S1, eta1=eta1, eta2=eta2,
                         psi=psi, N=N, batch=batch),
        full_matrices=False,
    )

    # bulk: W0 plus the non-rank-one part of both gradients (column variances 1 + v(a))
    e_r2 = float(np.sum(tg.w * r2 * r2))
    bulk = _weight_bulk(
        second_layer, N=N, d=d, coef=(eta1**2 * var_d1 * one.e_r1 + eta2**2 * var_d1 * e_r2) / psi
    )
    spikes, right = _collect_spikes(
        U, sv, Vt, _hermite_matrix(a_x * math.sqrt(N), k_max) * np.sqrt(a_w)[None, :],
        bulk=bulk, max_spikes=max_spikes, alpha=alpha, alpha_2=alpha_2,
    )
    a_strength = max([sp.strength for sp in spikes if sp.degree == 1], default=0.0)
    mean_slope = tg.w @ S1  # E sigma' of each neuron type on the second batch
    label = _label_outliers(
        tch, noise, n=n, d=d, bulk=bulk, var_d1=var_d1,
        mean_d1_2=float(N * np.sum(a_w * a_x**2 * mean_slope**2)),
        eta=math.hypot(eta2, eta1 if batch == "reuse" else 0.0), a_strength=a_strength,
    )
    count = two_step_outlier_count(alpha, alpha_2)
    absent = _absent_terms(act, k_max=k_max, count=count)
    return TwoStepSpikes(
        spikes=tuple(spikes),
        asymptotic_count=count,
        eta1=eta1,
        eta2=eta2,
        edge=bulk.edge,
        threshold=bulk.threshold,
        right_hermite=_frozen(np.array(right)),
        label_outlier_strength=label["strength"],
        label_outlier_count=label["count"],
        label_outlier_positions=_frozen(label["positions"]),
        label_kappa=label["kappa"],
        label_kappa_mean=label["kappa_mean"],
        _bulk=bulk,
        _a_strength=a_strength,
        params=dict(
            n=n,
            d=d,
            N=N,
            eta0=eta0,
            alpha=alpha,
            eta0_2=eta0_2,
            alpha_2=alpha_2,
            batch=batch,
            noise=noise,
            second_layer=second_layer if a is None else "realized",
            activation=act.name,
            teacher=tch.name,
            absent_terms=absent,
        ),
    )
