r"""One gradient step with :math:`\eta = \Theta(1)`: the rank-one spike and its outliers.

Convention (the project's one convention): :math:`X \in \mathbb{R}^{n\times d}` with
:math:`\mathcal N(0, I_d)` rows, :math:`W_0 \in \mathbb{R}^{d\times N}` with
:math:`\mathcal N(0, 1/d)` entries, :math:`a \in \mathbb{R}^N` of norm about one (Gaussian
:math:`\mathcal N(0, 1/N)`, Rademacher :math:`\pm 1/\sqrt N` or constant :math:`1/\sqrt N`),
:math:`f(x) = a^\top\sigma(W^\top x)/\sqrt N`, teacher :math:`y = \sigma_*(X\beta) + \text{noise}`,
:math:`\|\beta\| = 1`, and the step

.. math:: W_1 = W_0 + \frac{\eta}{n} X^\top\big[((y - f(X)) a^\top)\odot\sigma'(X W_0)\big].

Ratios :math:`\psi = n/d`, :math:`\phi = N/d`. Hermite coefficients
:math:`\mu_k = \mathbb{E}[\sigma(Z)\mathrm{He}_k(Z)]/k!` of the student, :math:`c_k` of the teacher,
:math:`\mu_\star^2 = \mathbb{E}\sigma^2 - \mu_0^2 - \mu_1^2`.

**Proportional limit** (Ba, Erdogdu, Suzuki, Wang, Wu, Yang 2022). The update is rank one to
leading order, :math:`W_1 - W_0 \approx \eta\mu_1 \xi a^\top` with :math:`\xi = X^\top y/n`,
:math:`\|\xi\|^2 \to c_1^2 + \mathbb{E}[y^2]/\psi` (the *total* second moment of the label,
noise included) and :math:`\cos^2(\xi, \beta) \to c_1^2/(c_1^2 + \mathbb{E}[y^2]/\psi)`.
Rotating the right space so that :math:`\hat a = a/\|a\|` is the first axis, a Gaussian
:math:`W_0` becomes :math:`[g, B]` with :math:`g = W_0\hat a` and :math:`B` an independent
:math:`d\times(N-1)` Gaussian matrix, so

.. math:: W_1 \cong [h, B],\qquad h = W_1\hat a, \qquad W_1W_1^\top = BB^\top + hh^\top,

a rank-one *Hermitian* perturbation of a Wishart matrix with :math:`\tau^2 = \|h\|^2 \to
1 + \theta^2`, :math:`\theta^2 = \eta^2\mu_1^2(c_1^2 + \mathbb{E}[y^2]/\psi)`. The outlier
solves :math:`\tau^2 G(\lambda) = 1` (:math:`G` the Cauchy transform of
:math:`BB^\top`), in closed form

.. math:: s_1^2 = \frac{(1 + \theta^2)(\phi + \theta^2)}{\theta^2},\qquad
   |\langle u_1, \hat h\rangle|^2 = 1 - \frac{\phi}{\theta^4},\qquad
   \theta^2 > \sqrt\phi,

which is the Benaych-Georges--Nadakuditi (2012) formula for a rank-one additive spike on a
Gaussian rectangular matrix (left overlap with :math:`\hat\xi`:
:math:`(\theta^4 - \phi)/(\theta^2(1+\theta^2))`, right overlap with :math:`\hat a`:
:math:`(\theta^4 - \phi)/(\theta^2(\theta^2 + \phi))`). The BBP threshold is
:math:`\eta_c = \phi^{1/4}/(|\mu_1|\sqrt{c_1^2 + \mathbb{E}[y^2]/\psi})`.

**Finite size.** The network's output at initialization,
:math:`f \approx \mu_0 A/\sqrt N + \mu_1 X W_0 a/\sqrt N + f_{\rm nl}` (:math:`A = \sum_j a_j`),
adds :math:`-\kappa (X^\top X/n) W_0 a a^\top` with :math:`\kappa = \eta\mu_1^2/\sqrt N` to the
update. Its right vector is again :math:`a`, so it only changes the column :math:`h`:

.. math:: h = (1 - \kappa\|a\|^2)\, g + \|a\|\eta\mu_1 X^\top (y - \mu_0 A/\sqrt N)/n
   - \kappa\|a\|^2 (X^\top X/n - I) g - \|a\|\eta\mu_1 X^\top f_{\rm nl}/n + \dots,

and :math:`\tau^2 = (1 - \kappa\|a\|^2)^2\|g\|^2 + \|a\|^2\eta^2\mu_1^2 q_n + O(1/N)` with
:math:`q_n = c_1^2 + ((d-1)\mathbb{E}r^2 + \mathbb{E}[Z^2y^2] - c_1^2)/n`. The
:math:`-2\kappa` shift is :math:`O(N^{-1/2})` and moves :math:`s_1` by about one per cent at
:math:`N \sim 10^3`; the :math:`O(1/N)` terms kept are the label-like noise of
:math:`f_{\rm nl}` and of the linear part of :math:`f`, the fluctuation of
:math:`\sigma'(XW_0)` around :math:`\mu_1` (which adds noise to :math:`h` and inflates the
bulk by :math:`1 + \eta^2(\mathbb{E}y^2\mathrm{Var}\sigma'(Z)/\psi + 4\mu_2^2c_0^2)/N`), and
:math:`N - 1` in place of :math:`N` for :math:`B`, and the rescaling of :math:`W_0` by
:math:`1 + 2\mu_2\eta\bar r a_j` (:math:`\bar r = c_0 - \mu_0 A/\sqrt N` the mean residual,
coherent when :math:`a` has a mean). Realized arrays (``a``, ``W0``, ``X``,
``y``, ``beta``) replace the corresponding expectations (conditional prediction).

**Conjugate kernel** on independent test inputs, Gram orientation :math:`K = FF^\top/N`
(:math:`n\times n`, the ``"sample"`` orientation of
:func:`~spikewise.solvers.conjugate_kernel.conjugate_kernel_law`), with the Gaussian
equivalent :math:`F \approx \mu_1 XW_1 + \mu_\star Z` (Ba et al. 2022, Thm 3). In the rotated
basis :math:`K = K_B + f_hf_h^\top/N` with :math:`f_h = \mu_1 Xh + \mu_\star z`; given
:math:`X`, :math:`K_B` is a sample covariance with population
:math:`\Sigma = \mu_1^2 XX^\top/d + \mu_\star^2` and :math:`f_h` an extra sample of
population :math:`\Sigma + \mu_1^2\theta^2XX^\top/d`. With :math:`G` the Cauchy transform of
:math:`XX^\top/d` (Marchenko--Pastur, ratio :math:`\psi`), :math:`\varepsilon =
\mu_\star^2/\mu_1^2` and :math:`\rho(t) = (\psi/\phi)((t + \varepsilon)G(t) - 1)`, the bulk
is parametrized by :math:`\lambda(t) = \mu_1^2 (t + \varepsilon)(1 + \rho(t))` (edge at
:math:`\lambda'(t_*) = 0`), and the outlier sits at :math:`\lambda(t_0)` with

.. math:: \theta^2\,\frac{\psi}{\phi}\,\big(t_0G(t_0) - 1\big) = 1, \qquad t_0 > t_*.

Its eigenvector's squared overlap with :math:`X\beta/\|X\beta\|` is
:math:`(\beta\cdot h)^2 (\psi/\phi)\,k^2/((1 + \rho)^2\mu_1^2\,(-\Phi'(t_0))/\lambda'(t_0))`
with :math:`k = tG - 1` and :math:`\Phi = (\rho + (\psi/\phi)\theta^2k)/(1 + \rho)`. On the
*training* inputs :math:`XW_1` carries the extra self-interaction term
:math:`\eta\mu_1\|a\|^2 \cdot\mathrm{diag}(\|x_i\|^2/n)\, r \approx \eta\mu_1 y/\psi` along
the labels, with coefficient :math:`\mathbb{E}[\sigma'(Z)^2]` instead of :math:`\mu_1^2`;
that case is not covered here (see the theory page ``docs/theory/one_step.rst``).

At finite size the CK prediction also accounts for the growth of every neuron's
preactivation variance, :math:`\|w_{1,j}\|^2 - \|w_{0,j}\|^2 \approx a_j^2\|U\|^2`
(:math:`U = \eta\mu_1\xi`): by the heat equation the linear coefficient becomes
:math:`\mathbb{E}\sigma'(\varsigma Z) \approx \mu_1 + \tfrac12\mathbb{E}[\sigma'''(Z)]\,\delta`
and :math:`\mu_\star^2` moves likewise; the bulk sees the mean
:math:`\bar\delta = \|a\|^2\|U\|^2/N`, the spiked column the :math:`a`-weighted mean
:math:`\|a\|^2\|U\|^2\sum_j\hat a_j^4` (three times larger for Gaussian :math:`a`). The
outlier equation then reads :math:`(\psi/\phi)[(A'/A - 1)k(t) + bG(t)] = 1` with :math:`A, B`
the bulk's linear and noise coefficients, :math:`A'` the spiked column's and
:math:`b = (B' - B)/A`. :math:`\mu_0 \ne 0` adds a separate mean outlier
of order :math:`n\mu_0^2` which is not reported.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.optimize import brentq

from spikewise._gauss import expect
from spikewise._validation import (
    InvalidParameterError,
    check_array,
    check_option,
    check_scalar,
    renamed_keywords,
)
from spikewise.activations import get_activation
from spikewise.conventions import Sizes

__all__ = [
    "OneStepValues",
    "OneStepSpike",
    "one_step_spike",
    "critical_learning_rate",
    "column_spike",
    "ck_test_outlier",
]

_INITS = ("gaussian", "rademacher", "constant")
#: largest relative first-order shift of the CK Hermite data the finite-size CK prediction uses
_MAX_CK_SHIFT = 0.5
#: realized second layers must have |a|^2 within this factor of 1 (entries of size 1/sqrt(N))
_A_NORM_FACTOR = 16.0
_TW1_MEAN = -1.2065335745820  # mean of the Tracy-Widom GOE (beta = 1) law


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OneStepValues:
    """Predicted spectral quantities of one step (limit or finite size).

    Attributes
    ----------
    spike_norm2 : float
        :math:`\\|X^\\top y/n\\|^2` (the residual :math:`y - \\mu_0 A/\\sqrt N` at finite size).
    cos2_spike_beta : float
        Squared cosine between :math:`X^\\top y/n` and :math:`\\beta`.
    tau2 : float
        :math:`\\|W_1\\hat a\\|^2`, the squared norm of the spiked column.
    theta2 : float
        Effective squared spike strength :math:`\\tau^2/\\varsigma^2 - 1` against the bulk.
    eta_c : float
        BBP threshold on :math:`\\eta`.
    is_outlier : bool
        Whether :math:`W_1` has a singular value outside the bulk.
    bulk_edge : float
        Upper singular-value edge of the bulk of :math:`W_1`.
    top_singular_value : float
        The outlier, or (no outlier) the edge in the limit and the Tracy--Widom mean of the
        largest bulk singular value at finite size.
    overlap_spike, overlap_beta : float
        Squared overlaps of the top left singular vector with
        :math:`X^\\top y/\\|X^\\top y\\|` and with :math:`\\beta` (0 without outlier).
    overlap_right : float
        Squared overlap of the top right singular vector with :math:`a/\\|a\\|`.
    ck_bulk_edge : float
        Upper edge of the conjugate-kernel law, orientation :math:`FF^\\top/N`. The CK
        values of a finite-size prediction are NaN (with a ``RuntimeWarning``) where the step
        moves the CK's Hermite data by more than half, beyond the first-order correction.
    ck_is_outlier : bool
        Whether the test-input CK has the learned outlier.
    ck_outlier : float
        Its position (the edge without outlier).
    ck_overlap_beta : float
        Squared overlap of its eigenvector with :math:`X\\beta/\\|X\\beta\\|` (test inputs).
    """

    spike_norm2: float
    cos2_spike_beta: float
    tau2: float
    theta2: float
    eta_c: float
    is_outlier: bool
    bulk_edge: float
    top_singular_value: float
    overlap_spike: float
    overlap_beta: float
    overlap_right: float
    ck_bulk_edge: float
    ck_is_outlier: bool
    ck_outlier: float
    ck_overlap_beta: float


@dataclass(frozen=True)
class OneStepSpike:
    """Prediction for one gradient step: proportional limit and finite size side by side.

    Attributes
    ----------
    limit : OneStepValues
        The proportional limit :math:`n, d, N \\to \\infty`.
    finite : OneStepValues or None
        The finite-size prediction at ``(n, d, N)`` (None when no size was given).
    params : dict
        The inputs (activation and teacher names, ``psi``, ``phi``, ``eta``, ``noise``,
        ``second_layer``, sizes, which realized arrays were used), the Hermite data, and
        ``ck_has_mean_outlier`` (mu0 != 0: the CK has one more, unreported, mean outlier).
    """

    limit: OneStepValues
    finite: OneStepValues | None
    params: dict = field(default_factory=dict)

    def best(self) -> OneStepValues:
        """The finite-size values when available, else the limit."""
        return self.finite if self.finite is not None else self.limit

    def as_dict(self) -> dict:
        """``{"limit": {...}, "finite": {...} or None, "params": {...}}``."""
        return {
            "limit": asdict(self.limit),
            "finite": None if self.finite is None else asdict(self.finite),
            "params": dict(self.params),
        }

    def table(self) -> str:
        """A plain-text table: one row per quantity, limit and finite-size columns."""
        rows = [f"{'quantity':<20}{'limit':>14}{'finite size':>14}"]
        for name in OneStepValues.__dataclass_fields__:
            lim = getattr(self.limit, name)
            fin = "" if self.finite is None else getattr(self.finite, name)
            fmt = (lambda v: f"{v!s:>14}") if isinstance(lim, bool) else (
                lambda v: f"{v:>14.6g}" if v != "" else f"{'':>14}"
            )
            rows.append(f"{name:<20}{fmt(lim)}{fmt(fin)}")
        return "\n".join(rows)


# --------------------------------------------------------------------------------------------
# Closed forms
# --------------------------------------------------------------------------------------------
def column_spike(tau2, *, phi, scale=1.0):
    r"""Top eigenvalue of :math:`BB^\top + hh^\top` and the overlap of its eigenvector with h.

    :math:`B` is :math:`d\times N_B` with i.i.d. :math:`\mathcal N(0, \varsigma^2/d)` entries,
    :math:`\phi = N_B/d`, and :math:`h` is independent of :math:`B` with
    :math:`\|h\|^2 = \tau^2`. The outlier solves :math:`\tau^2 G(\lambda) = 1` with :math:`G`
    the Cauchy transform of :math:`\varsigma^2\phi\,\mathrm{MP}(1/\phi)`; with
    :math:`\theta^2 = \tau^2/\varsigma^2 - 1` this is

    .. math:: \lambda = \varsigma^2\frac{(1 + \theta^2)(\phi + \theta^2)}{\theta^2},\qquad
       |\langle u, \hat h\rangle|^2 = 1 - \frac{\phi}{\theta^4},
       \qquad |\langle v, e_1\rangle|^2 = \frac{\tau^2}{\lambda}\Big(1 - \frac{\phi}{\theta^4}
       \Big),

    for :math:`\theta^2 > \sqrt\phi` (otherwise no outlier: the edge
    :math:`\varsigma^2(1 + \sqrt\phi)^2` and zero overlaps). :math:`v` is the right singular
    vector of :math:`[h, B]` and :math:`e_1` its first axis. This is the Gaussian case of
    Benaych-Georges & Nadakuditi (2012) for :math:`[0, B] + h e_1^\top`.

    Parameters
    ----------
    tau2 : float >= 0
        :math:`\|h\|^2`.
    phi : float > 0
        :math:`N_B/d`.
    scale : float > 0
        :math:`\varsigma^2`, the variance of :math:`B`'s entries times :math:`d`.

    Returns
    -------
    tuple of (bool, float, float, float, float)
        ``(is_outlier, singular value sqrt(lambda), edge singular value, overlap with h,
        right overlap with e_1)``.
    """
    owner = "column_spike"
    tau2 = check_scalar(tau2, "tau2", owner, lower=0)
    phi = check_scalar(phi, "phi", owner, lower=0, lower_inclusive=False)
    scale = check_scalar(scale, "scale", owner, lower=0, lower_inclusive=False)
    edge = math.sqrt(scale) * (1.0 + math.sqrt(phi))
    th2 = tau2 / scale - 1.0
    if th2 <= math.sqrt(phi):
        return False, edge, edge, 0.0, 0.0
    lam = scale * (1.0 + th2) * (phi + th2) / th2
    ov = 1.0 - phi / th2**2
    return True, math.sqrt(lam), edge, ov, tau2 * ov / lam


def _mp_cauchy(t, c):
    """Cauchy transform G(t) = int dmu/(t - x) of MP(ratio c, scale 1) for real t > edge."""
    b = t + c - 1.0
    return 2.0 / (b + math.sqrt(b * b - 4.0 * c * t))


def _mp_cauchy_d(t, c):
    g = _mp_cauchy(t, c)
    return -(c * g * g - g) / (2.0 * c * t * g - (t + c - 1.0))


def ck_test_outlier(mu1, mu_star2, *, psi, phi, theta2, beta_h2=0.0):
    r"""Learned outlier of the conjugate kernel :math:`FF^\top/N` on independent inputs.

    Model: :math:`F = \mu_1 X[h, B] + \mu_\star Z` (Gaussian equivalent of
    :math:`\sigma(XW_1)` with :math:`\mu_0 = 0`), :math:`X` :math:`n\times d` standard,
    :math:`B` :math:`d\times N` with :math:`\mathcal N(0,1/d)` entries, :math:`\|h\|^2 =
    1 + \theta^2`. See the module docstring for the derivation; the bulk edge equals the
    upper edge of ``conjugate_kernel_law(..., orientation="sample")``.

    Parameters
    ----------
    mu1 : float, nonzero
        :math:`\mu_1` of the activation.
    mu_star2 : float >= 0
        :math:`\mu_\star^2`.
    psi, phi : float > 0
        :math:`n/d`, :math:`N/d`.
    theta2 : float >= 0
        :math:`\|h\|^2 - 1`.
    beta_h2 : float >= 0
        :math:`(\beta\cdot h)^2`, for the overlap with :math:`X\beta`.

    Returns
    -------
    tuple of (bool, float, float, float)
        ``(is_outlier, outlier (edge if none), bulk edge, squared overlap with X beta)``.
    """
    owner = "ck_test_outlier"
    mu1 = check_scalar(mu1, "mu1", owner)
    mu_star2 = check_scalar(mu_star2, "mu_star2", owner, lower=0)
    psi = check_scalar(psi, "psi", owner, lower=0, lower_inclusive=False)
    phi = check_scalar(phi, "phi", owner, lower=0, lower_inclusive=False)
    theta2 = check_scalar(theta2, "theta2", owner, lower=0)
    beta_h2 = check_scalar(beta_h2, "beta_h2", owner, lower=0)
    if mu1 == 0.0:
        edge = mu_star2 * (1.0 + math.sqrt(psi / phi)) ** 2
        return False, edge, edge, 0.0
    return _ck_outlier(mu1**2, mu_star2, psi=psi, phi=phi, lin_ratio=1.0 + theta2,
                       extra_noise=0.0, weight=beta_h2 / mu1**2)


def _ck_outlier(A, B, *, psi, phi, lin_ratio, extra_noise, weight):
    """CK outlier with bulk population A XX^T/d + B and spike column A' XX^T/d + B'.

    ``lin_ratio = A'/A``, ``extra_noise = (B' - B)/A``; ``weight`` is (beta . h_m)^2 / A^2 with
    h_m the spike column's linear vector, for the overlap with X beta.
    Outlier: (psi/phi) [(A'/A - 1) k(t) + b G(t)] = 1, lambda = A (t + eps)(1 + rho(t)).
    """
    r = psi / phi
    c = psi
    eps = B / A
    tp = (1.0 + math.sqrt(c)) ** 2

    def rho(t):
        return r * ((t + eps) * _mp_cauchy(t, c) - 1.0)

    def rhop(t):
        return r * (_mp_cauchy(t, c) + (t + eps) * _mp_cauchy_d(t, c))

    def lam(t):
        return A * (t + eps) * (1.0 + rho(t))

    def lamp(t):
        return A * ((1.0 + rho(t)) + (t + eps) * rhop(t))

    def k(t):
        return t * _mp_cauchy(t, c) - 1.0

    def psi_fn(t):
        return r * ((lin_ratio - 1.0) * k(t) + extra_noise * _mp_cauchy(t, c))

    lo = tp * (1.0 + 1e-13) + 1e-15
    if lamp(lo) >= 0.0:  # no interior minimum: the edge is at the MP edge
        ts = lo
    else:
        hi = tp + 1.0
        while lamp(hi) <= 0.0:
            hi = tp + 2.0 * (hi - tp)
        ts = brentq(lamp, lo, hi, xtol=1e-15, rtol=1e-15, maxiter=500)
    edge = lam(ts)
    if psi_fn(ts) <= 1.0:
        return False, edge, edge, 0.0
    hi = ts + 1.0
    while psi_fn(hi) > 1.0:
        hi = ts + 2.0 * (hi - ts)
    t0 = brentq(lambda t: psi_fn(t) - 1.0, ts, hi, xtol=1e-15, rtol=1e-15, maxiter=500)
    R, Rp, kk = rho(t0), rhop(t0), k(t0)
    g0, gp = _mp_cauchy(t0, c), _mp_cauchy_d(t0, c)
    kp = g0 + t0 * gp
    P = psi_fn(t0)
    Pp = r * ((lin_ratio - 1.0) * kp + extra_noise * gp)
    # Phi = (rho + Psi) / (1 + rho)
    phi_p = ((Rp + Pp) * (1.0 + R) - (R + P) * Rp) / (1.0 + R) ** 2
    ov = weight * r * kk**2 / (1.0 + R) ** 2 / (-phi_p / lamp(t0))
    return True, lam(t0), edge, float(min(max(ov, 0.0), 1.0))


# --------------------------------------------------------------------------------------------
# Hermite data
# --------------------------------------------------------------------------------------------
def _gh(g, kinks=()) -> float:
    """``E g(Z)`` by the kink-aware rule of :mod:`spikewise._gauss`."""
    with np.errstate(over="ignore", invalid="ignore"):
        return expect(g, kinks)


def _stats(sigma, teacher, noise):
    mu = np.asarray(sigma.hermite(4), dtype=float)
    c = np.asarray(teacher.hermite(2), dtype=float)
    ey2 = teacher.second_moment + noise**2
    # heat-equation derivatives in the preactivation variance s^2 = 1 + delta (at delta = 0):
    # m(delta) = E sigma'(sZ), v(delta) = E sigma(sZ)^2, m0(delta) = E sigma(sZ)
    h = 0.02
    sp, sm = math.sqrt(1.0 + h), math.sqrt(1.0 - h)

    def deriv(g):
        # g(s z) has its kinks at k / s
        return (
            _gh(lambda z: g(sp * z), [k / sp for k in sigma.kinks])
            - _gh(lambda z: g(sm * z), [k / sm for k in sigma.kinks])
        ) / (2.0 * h)

    dm = deriv(sigma.d1)
    dv = deriv(lambda x: sigma(x) ** 2)
    dm0 = deriv(sigma)
    return {
        "dmu1": dm,
        "dmu_star2": dv - 2.0 * float(mu[0]) * dm0 - float(mu[1]) ** 2 - 2.0 * float(mu[1]) * dm,
        "mu0": float(mu[0]),
        "mu1": float(mu[1]),
        "mu2": float(mu[2]),
        "mu_star2": float(sigma.mu_star2),
        "var_d1": max(_gh(lambda z: sigma.d1(z) ** 2, sigma.kinks) - float(mu[1]) ** 2, 0.0),
        "c0": float(c[0]),
        "c1": float(c[1]),
        "Ey2": float(ey2),
        "Ez2y2": _gh(lambda z: z * z * teacher(z) ** 2, teacher.kinks) + noise**2,
    }


# --------------------------------------------------------------------------------------------
# Main entry points
# --------------------------------------------------------------------------------------------
def _eta_c_limit(st, psi, phi):
    q = st["c1"] ** 2 + st["Ey2"] / psi
    if st["mu1"] == 0.0 or q == 0.0:
        return math.inf
    return phi**0.25 / (abs(st["mu1"]) * math.sqrt(q))


def _limit_values(st, psi, phi, eta) -> OneStepValues:
    q = st["c1"] ** 2 + st["Ey2"] / psi
    cos2 = st["c1"] ** 2 / q if q > 0 else 0.0
    th2 = eta**2 * st["mu1"] ** 2 * q
    out, s1, edge, ov_h, ov_r = column_spike(1.0 + th2, phi=phi)
    cos2_h_xi = th2 / (1.0 + th2)
    ck_out, ck_pos, ck_edge, ck_ov = ck_test_outlier(
        st["mu1"], st["mu_star2"], psi=psi, phi=phi, theta2=th2, beta_h2=th2 * cos2
    )
    return OneStepValues(
        spike_norm2=q,
        cos2_spike_beta=cos2,
        tau2=1.0 + th2,
        theta2=th2,
        eta_c=_eta_c_limit(st, psi, phi),
        is_outlier=out,
        bulk_edge=edge,
        top_singular_value=s1,
        overlap_spike=ov_h * cos2_h_xi,
        overlap_beta=ov_h * cos2_h_xi * cos2,
        overlap_right=ov_r,
        ck_bulk_edge=ck_edge,
        ck_is_outlier=ck_out,
        ck_outlier=ck_pos,
        ck_overlap_beta=ck_ov,
    )


class _Finite:
    """Finite-size bookkeeping: tau^2, (beta.h)^2, (xi_hat.h)^2, bulk scale at given eta."""

    def __init__(self, st, *, n, d, N, init, a, W0, X, y, beta):
        self.st, self.n, self.d, self.N = st, n, d, N
        self.psi = n / d
        if a is not None:
            self.alpha2 = float(a @ a)
            self.A = float(a.sum())
            self.A2 = self.A**2
            self.s4 = float(np.sum(a**4)) / self.alpha2**2
            self.s3 = float(np.sum(a**3)) / self.alpha2**1.5
        else:
            self.alpha2 = 1.0
            self.A = 0.0 if init != "constant" else math.sqrt(N)
            self.A2 = 1.0 if init != "constant" else float(N)
            self.s4 = {"gaussian": 3.0, "rademacher": 1.0, "constant": 1.0}[init] / N
            self.s3 = 1.0 / math.sqrt(N) if init == "constant" else 0.0
        self.g = None
        self.gamma = 1.0
        if W0 is not None and a is not None:
            self.g = W0 @ a / math.sqrt(self.alpha2)
            self.gamma = float(self.g @ self.g)
        self.xy = X is not None and y is not None
        self.beta = beta
        if self.xy:
            shift = st["mu0"] * self.A / math.sqrt(N)
            self.v = X.T @ (y - shift) / n
            self.xi = X.T @ y / n
        mu0, c0 = st["mu0"], st["c0"]
        # E (y - mu0 A / sqrt(N))^2, averaging over A when a is not given
        self.er2 = st["Ey2"] - 2.0 * c0 * mu0 * self.A / math.sqrt(N) + mu0**2 * self.A2 / N
        # mean residual rbar = c0 - mu0 A / sqrt(N): its value, E rbar^2 and E[rbar A]
        self.rbar = c0 - mu0 * self.A / math.sqrt(N)
        self.rbar2 = c0**2 - 2.0 * c0 * mu0 * self.A / math.sqrt(N) + mu0**2 * self.A2 / N
        self.rbar_a = c0 * self.A - mu0 * self.A2 / math.sqrt(N)

    def values(self, eta):
        st, n, d, N, psi = self.st, self.n, self.d, self.N, self.psi
        mu1 = st["mu1"]
        al2 = self.alpha2
        al = math.sqrt(al2)
        kap = eta * mu1**2 / math.sqrt(N)
        lin = 1.0 - kap * al2
        c1 = st["c1"]
        var_zy = max(st["Ez2y2"] - c1**2, 0.0)
        # label part of the column: al * eta * mu1 * v, v = X^T (y - mu0 A / sqrt N) / n
        if self.xy:
            v2 = float(self.v @ self.v)
            xi2 = float(self.xi @ self.xi)
            xi_v = float(self.xi @ self.v)
        else:
            v2 = c1**2 + ((d - 1.0) * self.er2 + var_zy) / n
            xi2 = c1**2 + ((d - 1.0) * st["Ey2"] + var_zy) / n
            # v = xi - (mu0 A / sqrt N) X^T 1 / n and (X^T 1/n).(X^T y/n) ~ c0 d/n
            xi_v = xi2 - st["mu0"] * self.A / math.sqrt(N) * st["c0"] / psi
        lab = al * eta * mu1
        g_xi = float(self.g @ self.xi) if (self.g is not None and self.xy) else 0.0
        tau2, scale = self._raw(eta)
        # (beta.h)^2 and (xi_hat.h)^2
        if self.beta is not None and self.xy:
            bv = float(self.beta @ self.v)
            bg = float(self.beta @ self.g) if self.g is not None else 0.0
            beta_h2 = (lin * bg + lab * bv) ** 2 + (0.0 if self.g is not None else lin**2 / d)
            cos2 = float(self.beta @ self.xi) ** 2 / xi2
        else:
            beta_h2 = lab**2 * (c1**2 + var_zy / n) + lin**2 * self.gamma / d
            cos2 = (c1**2 + var_zy / n) / xi2
        xi_h2 = (lab * xi_v + lin * g_xi) ** 2 / xi2 + (0.0 if self.g is not None else
                                                         lin**2 * self.gamma / d)
        phi_b = (N - 1.0) / d
        out, s1, edge, ov_h, ov_r = column_spike(tau2, phi=phi_b, scale=scale)
        if not out:
            # Tracy-Widom mean of the largest eigenvalue of B B^T (Johnstone 2001)
            p, q = d, N - 1.0
            mu_j = (math.sqrt(q - 1.0) + math.sqrt(p)) ** 2
            sd_j = (math.sqrt(q - 1.0) + math.sqrt(p)) * (
                1.0 / math.sqrt(q - 1.0) + 1.0 / math.sqrt(p)
            ) ** (1.0 / 3.0)
            s1 = math.sqrt(scale * (mu_j + _TW1_MEAN * sd_j) / d)
        th2 = tau2 / scale - 1.0
        # CK: the step grows every neuron's preactivation variance by a_j^2 ||U||^2, which
        # shifts its Hermite data (heat equation): bulk by the mean, spike column by the
        # a-weighted mean (sum_j a_hat_j^2 a_j^2 = alpha^2 sum a_hat^4).
        u2 = eta**2 * mu1**2 * self._v2()
        dbar = al2 * u2 / N
        # the heat-equation shifts are first order in dbar: trusted while each moves the
        # Hermite data by less than half (large eta at small N, or a of the wrong scale,
        # would otherwise give a negative CK bulk edge)
        shift = max(abs(2.0 * st["dmu1"] * dbar / mu1) if mu1 != 0.0 else 0.0,
                    abs(st["dmu_star2"] * dbar) / max(st["mu_star2"], 1e-300))
        if shift > _MAX_CK_SHIFT:
            warnings.warn(
                f"The step moves the conjugate kernel's Hermite data by {shift:.0%} at "
                f"eta={eta:.4g}, N={N:.0f}, beyond the first-order correction of the finite-size "
                "prediction (50%); its CK values are NaN. Use a smaller eta or a larger n.",
                RuntimeWarning,
                stacklevel=3,
            )
            ck_out, ck_pos, ck_edge, ck_ov = False, math.nan, math.nan, math.nan
        elif mu1 != 0.0:
            m_a, A, B, B_spike = self.ck_coefficients(eta, scale)
            # the fresh inputs' row norms: the spiked column's mean sum_j a_hat_j
            # mu_2 (|x|^2/d - 1), coherent for a constant second layer (variance
            # (sum_j a_hat_j)^2 mu_2^2 2/d; spikewise.solvers.spiked_rf.ck_outliers)
            B_spike += self.A2 / self.alpha2 * 2.0 * st["mu2"] ** 2 / self.d
            ck_out, ck_pos, ck_edge, ck_ov = _ck_outlier(
                A, max(B, 0.0), psi=psi, phi=phi_b, lin_ratio=tau2 * m_a**2 / A,
                extra_noise=(B_spike - B) / A, weight=m_a**2 * beta_h2 / A**2,
            )
        else:
            ck_out, ck_pos, ck_edge, ck_ov = ck_test_outlier(
                mu1, st["mu_star2"], psi=psi, phi=phi_b, theta2=0.0)
        return OneStepValues(
            spike_norm2=v2,
            cos2_spike_beta=float(min(cos2, 1.0)),
            tau2=tau2,
            theta2=th2,
            eta_c=self.eta_c(),
            is_outlier=out,
            bulk_edge=edge,
            top_singular_value=s1,
            overlap_spike=float(min(ov_h * xi_h2 / tau2, 1.0)),
            overlap_beta=float(min(ov_h * beta_h2 / tau2, 1.0)),
            overlap_right=ov_r,
            ck_bulk_edge=ck_edge,
            ck_is_outlier=ck_out,
            ck_outlier=ck_pos,
            ck_overlap_beta=ck_ov,
        )

    def ck_coefficients(self, eta, scale, shift2=None):
        """``(m_a, A, B, B_spike)``: the spiked column's linear coefficient, the bulk's linear
        and noise coefficients and the spiked column's noise coefficient of the CK's
        Gaussian equivalent (heat-equation shifts of the neurons' Hermite data).

        ``shift2`` is the mean square of the inputs' projection on ``X^T r / n`` (default
        its squared norm: fresh inputs)."""
        st = self.st
        mu1 = st["mu1"]
        u2 = eta**2 * mu1**2 * (self._v2() if shift2 is None else shift2)
        dbar = self.alpha2 * u2 / self.N
        da = self.alpha2 * self.s4 * u2
        m_a = mu1 + st["dmu1"] * da
        A = (mu1**2 + 2.0 * mu1 * st["dmu1"] * dbar) * scale
        B = st["mu_star2"] + st["dmu_star2"] * dbar
        return m_a, A, B, B + st["dmu_star2"] * (da - dbar)

    def _v2(self):
        st = self.st
        if self.xy:
            return float(self.v @ self.v)
        var_zy = max(st["Ez2y2"] - st["c1"] ** 2, 0.0)
        return st["c1"] ** 2 + ((self.d - 1.0) * self.er2 + var_zy) / self.n

    def _excess(self, eta):
        tau2, scale = self._raw(eta)
        return tau2 / scale - 1.0 - math.sqrt((self.N - 1.0) / self.d)

    def _raw(self, eta):
        # tau^2 and the bulk scale only (cheap; used by the threshold search)
        st, N, psi = self.st, self.N, self.psi
        mu1 = st["mu1"]
        al2 = self.alpha2
        kap = eta * mu1**2 / math.sqrt(N)
        lin = 1.0 - kap * al2
        c1 = st["c1"]
        var_zy = max(st["Ez2y2"] - c1**2, 0.0)
        v2 = float(self.v @ self.v) if self.xy else c1**2 + (
            (self.d - 1.0) * self.er2 + var_zy) / self.n
        lab = math.sqrt(al2) * eta * mu1
        cross = 2.0 * lin * lab * float(self.g @ self.v) if (self.g is not None and self.xy) \
            else 0.0
        # He_1 part of sigma'(X W0) times the mean residual rbar = c0 - mu0 A / sqrt(N):
        # W0 -> W0 diag(1 + c a_j), c = 2 mu2 eta rbar (coherent when a has a mean, e.g.
        # constant a with mu0 != 0); column factor zg2, bulk factor zb2
        c_lin = 2.0 * st["mu2"] * eta * self.rbar
        c_sq = 4.0 * st["mu2"] ** 2 * eta**2 * self.rbar2
        c_a = 2.0 * st["mu2"] * eta * self.rbar_a
        zg2 = 1.0 + 2.0 * c_lin * math.sqrt(al2) * self.s3 + c_sq * al2 * self.s4
        zb2 = 1.0 + 2.0 * c_a / N + c_sq * al2 / N
        noise = self.er2 * st["var_d1"] / psi
        tau2 = (lin**2 * self.gamma * zg2 + lab**2 * v2 + cross
                + kap**2 * al2**2 * self.gamma / psi
                + al2**2 * eta**2 * mu1**2 * st["mu_star2"] / (N * psi)
                + al2 * eta**2 * noise * self.s4)
        return tau2, zb2 * (1.0 + eta**2 * noise / N)

    def eta_c(self):
        if self.st["mu1"] == 0.0:
            return math.inf
        hi = 1.0
        while self._excess(hi) <= 0.0:
            hi *= 2.0
            if hi > 1e8:
                return math.inf
        lo = 0.0
        if self._excess(lo) > 0.0:
            return 0.0
        return brentq(self._excess, lo, hi, xtol=1e-13, rtol=1e-13)


def _prepare(name, sigma, teacher, psi, phi, noise, n, init, a, W0, X, y, beta, eta=None):
    sigma = get_activation(sigma)
    teacher = get_activation(teacher)
    psi = check_scalar(psi, "psi", name, lower=0, lower_inclusive=False)
    phi = check_scalar(phi, "phi", name, lower=0, lower_inclusive=False)
    noise = check_scalar(noise, "noise", name, lower=0)
    if eta is not None:
        eta = check_scalar(eta, "eta", name, lower=0)
    init = check_option(init, "second_layer", name, _INITS)
    n = check_scalar(n, "n", name, kind="int", lower=2, allow_none=True)
    st = _stats(sigma, teacher, noise)
    fin = None
    given = {k: v is not None for k, v in dict(a=a, W0=W0, X=X, y=y, beta=beta).items()}
    if n is None and any(given.values()):
        raise InvalidParameterError(
            f"The 'n' parameter of {name} must be given (an int >= 2) when realized arrays are "
            "passed. Got None instead."
        )
    if n is not None:
        sizes = Sizes.from_any(n=n, psi=psi, phi=phi, owner=name)
        d, N = sizes.d, sizes.N
        if N < 2.0 or d < 2.0:
            raise InvalidParameterError(
                f"The 'n' parameter of {name} must give d = n/psi >= 2 and N = phi d >= 2. "
                f"Got n={n} (d={d:.3g}, N={N:.3g}) instead."
            )
        if X is not None:
            X = check_array(X, "X", name, ndim=2, shape=(n, None))
            d = float(X.shape[1])
        if W0 is not None:
            W0 = check_array(W0, "W0", name, ndim=2)
            d, N = float(W0.shape[0]), float(W0.shape[1])
        if a is not None:
            a = check_array(a, "a", name, ndim=1)
            if W0 is not None and a.shape[0] != W0.shape[1]:
                raise InvalidParameterError(
                    f"The 'a' parameter of {name} must have shape ({W0.shape[1]},) to match "
                    f"W0. Got shape {a.shape} instead."
                )
            N = float(a.shape[0])
            a2 = float(a @ a)
            if not 1.0 / _A_NORM_FACTOR <= a2 <= _A_NORM_FACTOR:
                raise InvalidParameterError(
                    f"The 'a' parameter of {name} must have entries of size 1/sqrt(N) (the "
                    f"convention: |a|^2 about 1, accepted in [{1 / _A_NORM_FACTOR:g}, "
                    f"{_A_NORM_FACTOR:g}]). Got |a|^2 = {a2:.4g} for N = {a.shape[0]} "
                    f"instead{'; divide a by sqrt(N)' if a2 > _A_NORM_FACTOR else ''}."
                )
        if y is not None:
            y = check_array(y, "y", name, ndim=1, shape=(n,))
        if (X is None) != (y is None):
            raise InvalidParameterError(
                f"The 'X' and 'y' parameters of {name} must be given together. Got only "
                f"{'X' if y is None else 'y'} instead."
            )
        if X is not None and W0 is not None and X.shape[1] != W0.shape[0]:
            raise InvalidParameterError(
                f"The 'W0' parameter of {name} must have {X.shape[1]} rows to match X. Got "
                f"shape {W0.shape} instead."
            )
        # the arrays fix d and N: psi and phi must agree with them up to rounding
        if abs(n / psi - d) >= 1.0:
            raise InvalidParameterError(
                f"The 'psi' parameter of {name} must equal n/d = {n}/{d:.0f} = {n / d:.6g} "
                f"(d from the shape of the arrays given). Got {psi!r} instead."
            )
        if abs(phi * d - N) >= 1.0:
            raise InvalidParameterError(
                f"The 'phi' parameter of {name} must equal N/d = {N:.0f}/{d:.0f} = "
                f"{N / d:.6g} (N and d from the shapes of the arrays given). Got {phi!r} "
                "instead."
            )
        if beta is not None:
            beta = check_array(beta, "beta", name, ndim=1, shape=(int(round(d)),))
            nb = float(np.linalg.norm(beta))
            if nb == 0.0:
                raise InvalidParameterError(
                    f"The 'beta' parameter of {name} must be a nonzero vector. Got zeros instead."
                )
            beta = beta / nb
        fin = _Finite(st, n=float(n), d=d, N=N, init=init, a=a, W0=W0, X=X, y=y, beta=beta)
    params = {
        "activation": sigma.name,
        "teacher": teacher.name,
        "psi": psi,
        "phi": phi,
        "noise": noise,
        "second_layer": init,
        "n": n,
        "d": None if fin is None else fin.d,
        "N": None if fin is None else fin.N,
        "realized": tuple(k for k, v in given.items() if v),
        # mu0 != 0: the CK Gram has one more (mean) outlier of order n mu0^2, not reported
        "ck_has_mean_outlier": abs(st["mu0"]) > 1e-12,
        **st,
    }
    if eta is not None:
        params["eta"] = eta
    return st, fin, params, psi, phi, eta


@renamed_keywords(sigma="activation", init="second_layer")
def one_step_spike(
    activation,
    teacher,
    *,
    psi,
    phi,
    eta,
    noise=0.0,
    n=None,
    second_layer="gaussian",
    a=None,
    W0=None,
    X=None,
    y=None,
    beta=None,
) -> OneStepSpike:
    r"""Predict the spike of one gradient step with :math:`\eta = \Theta(1)`.

    Returns the proportional-limit values (Ba et al. 2022) and, when ``n`` is given, the
    finite-size prediction at :math:`d = n/\psi`, :math:`N = \phi d` (see the module
    docstring for the derivation: the column model :math:`W_1 \cong [h, B]`, the
    :math:`-\eta\mu_1^2 W_0aa^\top/\sqrt N` term of the network's output at initialization, and
    the :math:`O(1/N)` corrections kept).

    Parameters
    ----------
    activation : Activation or str
        Student activation :math:`\sigma` (old name ``sigma``, deprecated).
    teacher : Activation or str
        Teacher link :math:`\sigma_*`.
    psi, phi : float > 0
        :math:`n/d` and :math:`N/d`.
    eta : float >= 0
        Learning rate in the project's convention.
    noise : float >= 0
        Label-noise standard deviation.
    n : int, optional
        Number of samples; gives the finite-size prediction.
    second_layer : {"gaussian", "rademacher", "constant"}
        Law of the second layer ``a`` (used when ``a`` is not given; old name ``init``,
        deprecated).
    a, W0, X, y, beta : ndarray, optional
        Realized second layer (N,), first layer (d, N), inputs (n, d), labels (n,), teacher
        direction (d,). Each replaces its expectation in the finite-size prediction
        (conditional on the realization; ``W0`` is used together with ``a``, ``X`` with
        ``y``, ``beta`` with ``X`` and ``y``); the spectra are still predicted, not
        computed. Requires ``n``.

    Returns
    -------
    OneStepSpike
        ``.limit`` and ``.finite`` (:class:`OneStepValues`), ``.params``.

    References
    ----------
    J. Ba, M. A. Erdogdu, T. Suzuki, Z. Wang, D. Wu, G. Yang, "High-dimensional asymptotics
    of feature learning: how one gradient step improves the representation", NeurIPS 2022.
    F. Benaych-Georges and R. R. Nadakuditi, "The singular values and vectors of low rank
    perturbations of large rectangular random matrices", J. Multivariate Anal. 2012.
    I. M. Johnstone, "On the distribution of the largest eigenvalue in principal components
    analysis", Ann. Statist. 2001 (finite-size edge below the threshold).

    Examples
    --------
    >>> from spikewise.solvers.one_step_theory import one_step_spike
    >>> r = one_step_spike("tanh", "tanh", psi=2.0, phi=1.5, eta=6.0, n=2000)
    >>> r.limit.is_outlier, round(r.limit.top_singular_value, 3)
    (True, 3.186)
    >>> round(r.finite.top_singular_value, 3)
    3.17
    """
    name = "one_step_spike"
    st, fin, params, psi, phi, eta = _prepare(
        name, activation, teacher, psi, phi, noise, n, second_layer, a, W0, X, y, beta, eta=eta
    )
    limit = _limit_values(st, psi, phi, eta)
    finite = None if fin is None else fin.values(eta)
    return OneStepSpike(limit=limit, finite=finite, params=params)


@renamed_keywords(sigma="activation", init="second_layer")
def critical_learning_rate(
    activation, teacher, *, psi, phi, noise=0.0, n=None, second_layer="gaussian", a=None,
    W0=None, X=None, y=None,
) -> float:
    r"""BBP threshold :math:`\eta_c` of the one-step spike of :math:`W_1`.

    In the limit :math:`\eta_c = \phi^{1/4}/(|\mu_1|\sqrt{c_1^2 + \mathbb{E}[y^2]/\psi})`
    (Ba et al. 2022 with Benaych-Georges & Nadakuditi 2012); with ``n`` the finite-size
    threshold, where the column model's :math:`\tau^2(\eta)/\varsigma^2(\eta) - 1` reaches
    :math:`\sqrt{(N-1)/d}` (same parameters and corrections as :func:`one_step_spike`).
    Returns ``inf`` when :math:`\mu_1 = 0` or the label has no energy.
    """
    name = "critical_learning_rate"
    st, fin, _, psi, phi, _ = _prepare(name, activation, teacher, psi, phi, noise, n,
                                       second_layer, a, W0, X, y, None)
    if fin is None:
        return _eta_c_limit(st, psi, phi)
    return fin.eta_c()
