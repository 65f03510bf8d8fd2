r"""The learned outlier of the conjugate kernel after one step, on fresh and on training inputs.

Convention (:mod:`spikewise.solvers.one_step_theory`): ``F = sigma(X W_1)`` (n x N), Gram
:math:`K = FF^\top/N` (the ``"sample"`` orientation), :math:`W_1` from one step
:math:`\eta = \eta_0N^\alpha` on the batch ``(X, y)``; ``inputs="fresh"`` evaluates the
features on independent inputs :math:`\tilde X`, ``inputs="train"`` on the step's own batch.

Model
-----
Rotate the neurons so that :math:`\hat a = a/\|a\|` is the first axis: :math:`W_1 \cong [h, B]`
with :math:`h = W_1\hat a` the spiked column
(:func:`~spikewise.solvers.one_step_theory.one_step_spike`)
and :math:`B` an independent :math:`d\times(N-1)` Gaussian matrix. With the Gaussian
equivalent of the features (Ba et al. 2022) and the inputs' eigen-decomposition
:math:`XX^\top/d = \sum_k \ell_k u_ku_k^\top` (:math:`n` directions, :math:`n - d` of them at
0 when :math:`n > d`),

.. math:: K = K_B + ff^\top/N, \qquad K_B \text{ a sample covariance of } N-1 \text{ columns of
   population } \Sigma = A\,XX^\top/d + B, \qquad f = v + \sqrt{B'}z,

where :math:`v \in \mathbb R^n` is the spiked column's deterministic part:

* fresh inputs: :math:`v = m\,\tilde Xh`;
* training inputs: :math:`v = m\,Xh + c_{\rm self}\,\mathrm{diag}(\|x_i\|^2/n)\,r`, where
  :math:`r = y - f_0(X)` is the residual of the step. The extra term is the
  **self-interaction**: the step moved neuron :math:`j` on sample :math:`i` by
  :math:`\eta a_j r_i\sigma'(h_{ij})\|x_i\|^2/n`, and on that same sample the feature responds
  with :math:`\sigma'(h_{ij})`, so the spiked column gains
  :math:`\|a\|\eta\,\mathbb E[\sigma'(Z)^2]\,r_i\|x_i\|^2/n` of which the Gaussian equivalent
  :math:`m\,Xh` only carries :math:`m\mu_1` (:math:`c_{\rm self} = \|a\|\eta(\mathbb E\sigma'^2
  - m\mu_1)`). Since :math:`h` contains :math:`\eta\mu_1\|a\|X^\top r/n`, the training spike
  is :math:`P(XX^\top/d)\,r` with :math:`P(\ell) = (m\,\mathrm{lab}\,\ell + c_{\rm self})/\psi`
  (plus the :math:`W_0` part :math:`m\,\mathrm{lin}\,Xg`): it is aligned with the *labels*
  and amplified by the top of the inputs' spectrum.

On both inputs the spiked column also carries the **row norms**: given the inputs, row
:math:`i`'s initial pre-activations :math:`x_i^\top w_{0j}` have the variance
:math:`q_i = \|x_i\|^2/d` (not 1), so the column's mean is
:math:`\sum_j\hat a_j\,\mathbb E\,\sigma(\sqrt{q_i}Z) \simeq \sum_j\hat a_j\,(\mu_0 +
\mu_2(q_i - 1))`. Its :math:`\mathrm{He}_2` part is coherent over the neurons when
:math:`\sum_j\hat a_j = O(\sqrt N)` (a constant second layer; :math:`O(1)` for a
random-sign one) and vanishes for odd :math:`\sigma`: a noise of variance
:math:`(\sum_j\hat a_j)^2\mu_2^2\,2/d = 2\phi\mu_2^2` in the spiked column, as large as
:math:`B'` for a ReLU student. The ``draw`` prediction evaluates the column at the realized
:math:`q_i` (on training inputs inside the column's response to the step; on fresh ones when
``X_ck`` is given), the others add its variance :math:`(\sum_j\hat a_j)^2\mu_2^2\,2/d` to
:math:`B'` (the ``limit`` has no second layer and leaves it out). For a ReLU student with a
constant second layer at :math:`\eta_0 = 4` (:math:`n = 1600`, :math:`d = 800`,
:math:`N = 1200`) this moves the training-input ``draw`` prediction from 2.0--3.8% below the
simulations to 0.2--0.6% above them.

:math:`A, B` (bulk), :math:`m` and :math:`B'` (spiked column) are the Hermite data of the
neurons after the step, :math:`\mathrm{lin}`, :math:`\mathrm{lab}` the coefficients of
:math:`h = \mathrm{lin}\,g + \mathrm{lab}\,X^\top r/n` (finite-size bookkeeping of
:mod:`~spikewise.solvers.one_step_theory`; :math:`A = \mu_1^2`, :math:`B = B' = \mu_\star^2`,
:math:`m = \mu_1`, :math:`\mathrm{lin} = 1`, :math:`\mathrm{lab} = \eta\mu_1` in the limit).

Outlier equation
----------------
A rank-one update: :math:`\lambda \notin \mathrm{spec}(K_B)` is an eigenvalue of :math:`K` iff
:math:`f^\top(\lambda - K_B)^{-1}f/N = 1`, with eigenvector
:math:`\propto(\lambda - K_B)^{-1}f`. The deterministic equivalent of the resolvent of a sample
covariance, :math:`(\lambda - K_B)^{-1} \simeq \tau(x - \Sigma)^{-1}` with
:math:`x = \lambda\tau` and :math:`1/\tau = 1 + \frac1{N-1}\mathrm{tr}\,\Sigma(x - \Sigma)^{-1}`
(Silverstein's equation), turns it, with :math:`x = At + B`, :math:`\varepsilon = B/A`,
:math:`r_N = n/(N-1)`,
:math:`G(t) = \frac1n\sum_k\frac{1}{t - \ell_k}`, :math:`S_w(t) = \frac1n\sum_k
\frac{w_k}{t - \ell_k}` (:math:`w_k = (u_k^\top v)^2`), into

.. math:: \rho(t) = r_N\big((t + \varepsilon)G(t) - 1\big),\quad
   \lambda(t) = A(t + \varepsilon)(1 + \rho(t)),\quad
   g(t) = \frac{r_N\,(S_w(t) + B'G(t))}{A\,(1 + \rho(t))} = 1.

The bulk edge is :math:`\lambda(t_*)`, :math:`\lambda'(t_*) = 0`; an outlier exists iff
:math:`g(t_*) > 1`. The squared overlap of its eigenvector with a unit vector :math:`e` is
:math:`\big(\sum_k\frac{(u_k^\top e)(u_k^\top v)}{t - \ell_k}\big)^2 / \big(A^2(1+\rho)^2
(N-1)(-g'(t))/\lambda'(t)\big)`. For the fresh inputs with the Marchenko--Pastur law of
:math:`\ell` (ratio :math:`\psi`) and :math:`w_k = m^2\|h\|^2\ell_k` this is
:func:`~spikewise.solvers.one_step_theory.ck_test_outlier`'s equation (whose :math:`B'` leaves
out the row norms' variance below, nonzero only for :math:`\mu_2 \ne 0`).

Three predictions, as in :func:`~spikewise.solvers.one_step_theory.one_step_spike`:

* ``limit``: the proportional limit, :math:`\ell` Marchenko--Pastur and
  :math:`(u_k^\top r)^2 \simeq c_1^2\ell_k + \mathbb E r^2 - c_1^2`,
  :math:`(u_k^\top X\beta)^2 \simeq \ell_k` (closed forms through :math:`G`);
* ``finite``: the same at :math:`(n, d, N)` with the finite-size corrections of ``one_step``;
* ``draw``: conditional on the realized ``a, W0, X, y, beta`` (and, for fresh inputs, on the
  realized fresh inputs ``X_ck`` when given): the eigenvalues :math:`\ell_k` and the weights
  :math:`w_k` are those of the realization. The outlier of a *fresh* batch fluctuates by about
  3% from one batch to the next at the demo's size (the norm :math:`\|\tilde Xh\|^2` is a
  chi-square with :math:`n` degrees of freedom); conditioning on ``X_ck`` removes it.

Validity: the self-interaction is kept to first order in :math:`\eta a_j` in the bulk
coefficients, i.e. for a spike strength :math:`t = \eta|\mu_1|\sqrt{q/N} \ll 1` (Ba et al.'s
regime and moderately large steps).

Any step: the conditional (mixture) treatment
---------------------------------------------
At the maximal rate (:math:`\alpha = 1/2`, :math:`t = O(1)`) the features are non-linear in
the sample's latent. On training input :math:`x_i` neuron :math:`j`'s pre-activation after the
step is exactly

.. math:: h_{ij} + \eta a_j\mu_1\,\xi_{-i}^\top x_i
   + \frac{\eta}{n}a_j\sum_{k\ne i}r_k(\sigma'(h_{kj}) - \mu_1)x_k^\top x_i
   + \frac{\eta}{n}\|x_i\|^2a_jr_i\,\sigma'(h_{ij}),

(:math:`\xi_{-i} = \sum_{k\ne i}r_kx_k/n`): with :math:`\tilde a_j = \sqrt Na_j`, the spike
:math:`t\tilde a_j\kappa_i` (:math:`\kappa_i = \xi_{-i}^\top x_i/\|\xi\|`, a standard
Gaussian correlated with :math:`\beta^\top x_i` by :math:`c_1/\sqrt q`), an almost independent
Gaussian of variance :math:`\nu\tilde a_j^2`,
:math:`\nu = \eta^2\,\mathbb E[r^2]\,\mathrm{Var}\,\sigma'(Z)/(\psi N)` (the whole
:math:`\mathrm{Var}\,\sigma'`: the weights' measured inflation), and the **self-interaction**
:math:`b_i\tilde a_j\sigma'(h_{ij})`, :math:`b_i = \eta\|x_i\|^2r_i/(n\sqrt N)` (order one at
:math:`\alpha = 1/2`). Given the sample latent :math:`(\kappa_i, r_i)` and the type
:math:`\tilde a_j`, the feature is :math:`\sigma(h_0 + s_gg + t\tilde a\kappa +
b\tilde a\,\sigma'(h_0))` with :math:`h_0, g` standard Gaussians: its conditional mean,
linear coefficient and rest variance enter the two nested deterministic equivalents of
:mod:`~spikewise.solvers.spiked_rf.spectrum` with the latent :math:`(z, \zeta)`
(:math:`z = \beta^\top x_i`, :math:`\zeta` the independent part of :math:`\kappa_i`; plus the
label noise) on a product Gauss--Hermite rule. On fresh inputs :math:`b = 0` and this is
:func:`~spikewise.solvers.feature_spectrum` of the spiked random-feature model (the CK on
fresh inputs has the nonzero eigenvalues of :math:`F^\top F/n` times :math:`n/N`). The
squared overlap with :math:`X\beta/\|X\beta\|` is that of the mean part's sample function
:math:`f(\kappa, r)`, :math:`\mathbb E[fz]^2/\mathbb E[f^2]` (the leading order when the
outlier is far above the bulk). The ``draw`` prediction puts the realized latents
:math:`(\kappa_i, r_i, \|x_i\|^2)` of the :math:`n` samples (of the fresh inputs ``X_ck``)
and the realized :math:`\tilde a` in place of the laws; it removes most of the
draw-to-draw fluctuation of the outlier (standard deviation 3--7% at
:math:`n = 1400`; the draw is within 0.9% of every draw at :math:`\eta_0 = 3`, 2.1% at
:math:`\eta_0 = 1`).

Not modelled in the mixture: the common linear map of the He_2 part of the step
(:math:`W_0 \to (I + 2\mu_2\eta a_jM)W_0`, :math:`M = X^\top\mathrm{diag}(r)X/n`, shared by
the neurons of one sign for Rademacher and constant second layers), the feedback of
:math:`f(X)` on the residual (the neurons' shift along :math:`W_0a`), and the alignment of the
linear part of :math:`\kappa_i` with the inputs' Gram matrix (which the first-order equation
carries through :math:`P(XX^\top/d)`); these are corrections of relative order
bulk/outlier. ``method="auto"`` therefore uses the first-order equation for :math:`t < 0.3`
and the mixture above. Where they meet (:math:`t` = 0.23--0.36, :math:`n = 800`, tanh and
ReLU, Gaussian and constant second layers) both are within the 2--6% scatter of the means of
four simulations; from :math:`t \approx 0.45` the first-order equation fails on fresh inputs
with a Gaussian second layer (12% low at :math:`n = 1400`) and, for tanh, breaks down from
:math:`t \approx 0.7` (its bulk coefficients turn negative).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.interpolate import CubicSpline
from scipy.optimize import brentq
from scipy.special import ndtr

from spikewise._gauss import location_scale_rule, normal_rule, product_rule
from spikewise._validation import InvalidParameterError, check_array, check_option, check_scalar
from spikewise.activations import get_activation
from spikewise.conventions import learning_rate
from spikewise.solvers.one_step_theory import _mp_cauchy, _mp_cauchy_d, _prepare
from spikewise.solvers.spiked_rf.model import _smooth_or_relu
from spikewise.solvers.spiked_rf.spectrum import _mixture_spectrum, _type_law

__all__ = ["CKOutlier", "CKOutliers", "ck_outliers"]

_INPUTS = ("fresh", "train")
_METHODS = ("auto", "first_order", "mixture")
#: Strength :math:`t = \eta|\mu_1|\sqrt{q/N}` from which ``method="auto"`` uses the mixture.
T_SWITCH = 0.3
_LATENT_NODES = 12


@dataclass(frozen=True)
class CKOutlier:
    """The learned outlier of :math:`FF^\\top/N`.

    Attributes
    ----------
    is_outlier : bool
    position : float
        The outlier (the bulk edge when there is none).
    bulk_edge : float
        Upper edge of the bulk.
    overlap_beta : float
        Squared overlap of its eigenvector with :math:`X\\beta/\\|X\\beta\\|` (0 without
        outlier).
    all_outliers : tuple of float
        Every predicted outlier, descending (``position`` first): the first-order equation
        has one; the mixture treatment several at a large step (e.g. the even part of a ReLU
        student).
    """

    is_outlier: bool
    position: float
    bulk_edge: float
    overlap_beta: float
    all_outliers: tuple = ()


@dataclass(frozen=True)
class CKOutliers:
    r"""Predictions of the CK outlier: limit, finite size and conditional on this draw.

    Attributes
    ----------
    inputs : {"fresh", "train"}
    limit : CKOutlier
        The proportional limit of the first-order equation at the same :math:`\eta` (a
        large step has no finite limit: its outliers grow like :math:`n`).
    finite : CKOutlier or None
        At ``(n, d, N)`` (None without ``n``), by ``params["method"]``.
    draw : CKOutlier or None
        Conditional on the realized arrays (None when none were given), by the same method.
    params : dict
    """

    inputs: str
    limit: CKOutlier
    finite: CKOutlier | None
    draw: CKOutlier | None
    params: dict = field(default_factory=dict)

    def best(self) -> CKOutlier:
        """The most conditional prediction available."""
        return self.draw or self.finite or self.limit

    def as_dict(self) -> dict:
        return {"inputs": self.inputs, "limit": asdict(self.limit),
                "finite": None if self.finite is None else asdict(self.finite),
                "draw": None if self.draw is None else asdict(self.draw),
                "params": dict(self.params)}


# --------------------------------------------------------------------------------------------
# Spectral sums over the eigenvalues of X X^T / d
# --------------------------------------------------------------------------------------------
class _MPSums:
    r"""Sums for the Marchenko--Pastur law (ratio ``c = psi``) and polynomial weights.

    ``w(ell) = sum_p w_p ell^p`` and ``e(ell) = sum_p e_p ell^p`` (p <= 3); with
    :math:`I_p(t) = \int \ell^p/(t - \ell)\,d\mu = tI_{p-1} - M_{p-1}` (moments
    :math:`M_0 = M_1 = 1`, :math:`M_2 = 1 + c`).
    """

    def __init__(self, c, w, e, n):
        self.c, self.n = float(c), float(n)
        self.w = np.asarray(w, float)
        self.e = np.asarray(e, float)
        self.ell_max = (1.0 + math.sqrt(self.c)) ** 2
        self.moments = (1.0, 1.0, 1.0 + self.c)

    def _I(self, t):
        g, gp = _mp_cauchy(t, self.c), _mp_cauchy_d(t, self.c)
        val, der = [g], [gp]
        for p in range(1, 4):
            val.append(t * val[-1] - self.moments[p - 1])
            der.append(val[-2] + t * der[-1])
        return np.array(val), np.array(der)

    def __call__(self, t):
        val, der = self._I(t)
        k = len(self.w)
        return (val[0], der[0], float(self.w @ val[:k]), float(self.w @ der[:k]),
                math.sqrt(self.n) * float(self.e @ val[:len(self.e)]))


class _DiscreteSums:
    """Sums over realized eigenvalues ``ell`` (multiplicities ``mult``, total n)."""

    def __init__(self, ell, mult, w, ev):
        self.ell = np.asarray(ell, float)
        self.mult = np.asarray(mult, float)
        self.w = np.asarray(w, float)
        self.ev = np.asarray(ev, float)
        self.n = float(self.mult.sum())
        self.ell_max = float(self.ell.max())

    def __call__(self, t):
        inv = 1.0 / (t - self.ell)
        inv2 = inv * inv
        return (float(self.mult @ inv) / self.n, -float(self.mult @ inv2) / self.n,
                float(self.w @ inv) / self.n, -float(self.w @ inv2) / self.n,
                float(self.ev @ inv))


def _solve(sums, *, A, B, B_spike, N_b) -> CKOutlier:
    """Outlier of ``K_B + f f^T / N`` (module docstring) for the spectral sums ``sums``."""
    r = sums.n / N_b
    eps = B / A

    def parts(t):
        G, Gp, Sw, Swp, Se = sums(t)
        rho = r * ((t + eps) * G - 1.0)
        rhop = r * (G + (t + eps) * Gp)
        lam = A * (t + eps) * (1.0 + rho)
        lamp = A * ((1.0 + rho) + (t + eps) * rhop)
        num = r * (Sw + B_spike * G)
        nump = r * (Swp + B_spike * Gp)
        g = num / (A * (1.0 + rho))
        gp = (nump * (1.0 + rho) - num * rhop) / (A * (1.0 + rho) ** 2)
        return lam, lamp, g, gp, Se, rho

    tp = sums.ell_max
    lo = tp + 1e-12 * max(1.0, tp) + 1e-14
    if parts(lo)[1] >= 0.0:
        ts = lo
    else:
        hi = tp + 1.0
        while parts(hi)[1] <= 0.0:
            hi = tp + 2.0 * (hi - tp)
        ts = brentq(lambda t: parts(t)[1], lo, hi, xtol=1e-15, rtol=1e-15, maxiter=500)
    edge = parts(ts)[0]
    # g = 1 identically when the spiked column is a bulk column (no step): no outlier
    if parts(ts)[2] <= 1.0 + 1e-10:
        return CKOutlier(False, float(edge), float(edge), 0.0)
    hi = ts + 1.0
    while parts(hi)[2] > 1.0:
        hi = ts + 2.0 * (hi - ts)
    t0 = brentq(lambda t: parts(t)[2] - 1.0, ts, hi, xtol=1e-15, rtol=1e-15, maxiter=500)
    lam, lamp, _, gp, Se, rho = parts(t0)
    ov = (Se / (A * (1.0 + rho))) ** 2 / (N_b * (-gp) / lamp)
    return CKOutlier(True, float(lam), float(edge), float(min(max(ov, 0.0), 1.0)),
                     (float(lam),))


def _realized_sums(Xs, vec, e, extra_lin):
    """Spectral sums of the realized inputs ``Xs`` (n, d) for the spike vector ``vec``.

    ``extra_lin`` adds an isotropic part ``extra_lin * ell_k`` to the weights (noise of ``h``
    that the realization does not carry); ``e`` is the unit vector of the overlap.
    """
    n, d = Xs.shape
    lam, V = np.linalg.eigh(Xs.T @ Xs)
    lam = np.maximum(lam, 0.0)
    keep = lam > 1e-10 * lam.max()
    lam, V = lam[keep], V[:, keep]
    s = np.sqrt(lam)
    cv = (V.T @ (Xs.T @ vec)) / s  # u_k^T vec
    ce = (V.T @ (Xs.T @ e)) / s
    ell = lam / d
    w = cv**2 + extra_lin * ell
    ev = cv * ce
    rest = n - ell.size
    if rest > 0:
        ell = np.append(ell, 0.0)
        w = np.append(w, max(float(vec @ vec) - float(cv @ cv), 0.0))
        ev = np.append(ev, float(vec @ e) - float(cv @ ce))
        mult = np.append(np.ones(lam.size), float(rest))
    else:
        mult = np.ones(lam.size)
    return _DiscreteSums(ell, mult, w, ev)


# --------------------------------------------------------------------------------------------
# Public entry point
# --------------------------------------------------------------------------------------------
def ck_outliers(activation, teacher, *, psi, phi, eta0, alpha=0.0, inputs="fresh", noise=0.0,
                n=None, second_layer="gaussian", a=None, W0=None, X=None, y=None, beta=None,
                X_ck=None, method="auto") -> CKOutliers:
    r"""Predict the learned outlier of the conjugate kernel :math:`FF^\top/N` after one step.

    See the module docstring for the model (the spiked column, the self-interaction on the
    training inputs) and the outlier equation.

    Parameters
    ----------
    activation, teacher : Activation or str
        Student activation :math:`\sigma` and teacher link :math:`\sigma_\star`.
    psi, phi : float > 0
        :math:`n/d`, :math:`N/d`.
    eta0, alpha : float
        Learning rate :math:`\eta = \eta_0N^\alpha` (:func:`spikewise.conventions.
        learning_rate`); ``alpha`` must be 0 without ``n`` (no width in the limit).
    inputs : {"fresh", "train"}
        Features on independent inputs or on the batch of the step.
    noise : float >= 0
        Label-noise standard deviation.
    n : int, optional
        Number of samples: gives the finite-size prediction (:math:`d = n/\psi`,
        :math:`N = \phi d`).
    second_layer : {"gaussian", "rademacher", "constant"}
        Law of :math:`a` when ``a`` is not given.
    a, W0, X, y, beta : ndarray, optional
        The realization (as in :func:`~spikewise.solvers.one_step_theory.one_step_spike`); ``a``,
        ``W0``, ``X`` and ``y`` together give the ``draw`` prediction.
    X_ck : ndarray (n, d), optional
        The fresh inputs of the features (``inputs="fresh"``): the first-order draw
        prediction is then conditional on them too.
    method : {"auto", "first_order", "mixture"}
        ``"first_order"``: the spiked-column equation (small strength);
        ``"mixture"``: the conditional (mixture) description, valid at any step (needs
        ``n``); ``"auto"``: ``"mixture"`` when ``n`` is given and the strength
        :math:`t = \eta|\mu_1|\sqrt{q/N}` is at least ``T_SWITCH`` (0.3), else
        ``"first_order"``. The method used is ``params["method"]``.

    Returns
    -------
    CKOutliers

    References
    ----------
    J. Ba et al., NeurIPS 2022 (Gaussian equivalent of the features after one step);
    J. W. Silverstein, Z. D. Bai, J. Multivariate Anal. 1995 (resolvent of a sample covariance);
    Y. Dandi, L. Pesce, L. Zdeborová, F. Krzakala, 2024 (features after a large step).

    Examples
    --------
    >>> from spikewise.solvers import ck_outliers
    >>> r = ck_outliers("tanh", "tanh", psi=2.0, phi=1.5, eta0=5.0, inputs="train", n=1600)
    >>> r.finite.is_outlier
    True
    """
    owner = "ck_outliers"
    inputs = check_option(inputs, "inputs", owner, _INPUTS)
    second_layer = check_option(second_layer, "second_layer", owner,
                                ("gaussian", "rademacher", "constant"))
    alpha = check_scalar(alpha, "alpha", owner, lower=0.0, upper=0.5)
    eta0 = check_scalar(eta0, "eta0", owner, lower=0.0)
    if n is None and alpha != 0.0:
        raise InvalidParameterError(
            f"The 'alpha' parameter of {owner} must be 0 when 'n' is not given (the limit has "
            f"no width). Got {alpha!r} instead."
        )
    if X_ck is not None and inputs != "fresh":
        raise InvalidParameterError(
            f"The 'X_ck' parameter of {owner} is for inputs='fresh' only. Got inputs={inputs!r}."
        )
    st, fin, params, psi, phi, _ = _prepare(owner, activation, teacher, psi, phi, noise, n,
                                            second_layer, None, None, None, None, None)
    eta = eta0 if n is None else learning_rate(eta0, N=max(int(round(fin.N)), 1), alpha=alpha)
    params = {**params, "eta": eta, "eta0": eta0, "alpha": alpha, "inputs": inputs}
    if st["mu1"] == 0.0:
        raise InvalidParameterError(
            f"The 'activation' parameter of {owner} must have a linear component (mu_1 != 0) "
            "for a learned CK outlier. Got mu_1 = 0."
        )
    method = check_option(method, "method", owner, _METHODS)
    strength = abs(eta * st["mu1"]) * (math.sqrt(fin._v2() / fin.N) if fin is not None else 0.0)
    if method == "mixture" and fin is None:
        raise InvalidParameterError(
            f"The 'n' parameter of {owner} must be given for method='mixture' (its outliers "
            "grow with n). Got None instead."
        )
    if method == "auto":
        method = "mixture" if fin is not None and strength >= T_SWITCH else "first_order"
    params = {**params, "method": method, "strength": strength}
    limit = _limit(st, psi, phi, eta, inputs)
    models = dict(act=get_activation(activation), teacher=get_activation(teacher),
                  noise=float(noise), second_layer=second_layer)
    if method == "mixture":
        finite = _mixture(models["act"], second_layer,
                          _law_latent(models["teacher"], float(noise), fin, _LATENT_NODES),
                          fin=fin, eta=eta, inputs=inputs)[0]
    else:
        finite = None if fin is None else _finite(fin, eta, inputs, draw=False, **models)
    draw = None
    if any(arr is not None for arr in (a, W0, X, y, beta, X_ck)):
        if n is None or a is None or W0 is None or X is None or y is None:
            raise InvalidParameterError(
                f"The 'a', 'W0', 'X', 'y' and 'n' parameters of {owner} must be given together "
                "for the conditional (draw) prediction."
            )
        _, fin_d, _, _, _, _ = _prepare(owner, activation, teacher, psi, phi, noise, n,
                                        second_layer, a, W0, X, y, beta)
        if X_ck is not None:
            X_ck = check_array(X_ck, "X_ck", owner, ndim=2, shape=(None, int(fin_d.d)))
        if method == "mixture":
            if inputs == "train" or X_ck is not None:
                latent = _draw_latent(fin_d, X, y, np.asarray(a, float), fin_d.beta, X_ck)
            else:
                latent = _law_latent(models["teacher"], float(noise), fin_d, _LATENT_NODES)
            draw = _mixture(models["act"], second_layer, latent, fin=fin_d, eta=eta,
                            inputs=inputs, types=np.asarray(a, float) * math.sqrt(a.size))[0]
            return CKOutliers(inputs=inputs, limit=limit, finite=finite, draw=draw,
                              params=params)
        draw = _finite(fin_d, eta, inputs, draw=True, a=np.asarray(a, float), X=X, y=y,
                       X_ck=X_ck, **models)
    return CKOutliers(inputs=inputs, limit=limit, finite=finite, draw=draw, params=params)


def _limit(st, psi, phi, eta, inputs):
    mu1, ms2, c1, ey2 = st["mu1"], st["mu_star2"], st["c1"], st["Ey2"]
    A = mu1 * mu1
    if inputs == "fresh":
        th2 = eta**2 * mu1**2 * (c1**2 + ey2 / psi)
        bh = abs(eta * mu1 * c1)  # |beta . h| = eta mu1 c1 in the limit
        sums = _MPSums(psi, [0.0, A * (1.0 + th2)], [0.0, abs(mu1) * bh], 1.0)
    else:
        ed2 = st["var_d1"] + mu1 * mu1  # E sigma'(Z)^2
        P0, P1 = eta * (ed2 - mu1 * mu1) / psi, eta * mu1 * mu1 / psi  # P(ell) = P0 + P1 ell
        w, e = _train_weights(A, P0, P1, c1, ey2, 0.0)
        sums = _MPSums(psi, w, e, 1.0)
    return _solve(sums, A=A, B=ms2, B_spike=ms2, N_b=phi / psi)


def _train_weights(lin2_m2, P0, P1, c1, er2, bg_term):
    """Polynomial weights of the training spike (module docstring): ``w(ell)`` and ``e(ell)``.

    ``w = lin2_m2 ell + (P0 + P1 ell)^2 (c1^2 ell + er2 - c1^2)``, ``e = c1 ell P(ell) +
    bg_term ell``.
    """
    rest = er2 - c1 * c1
    w = [P0 * P0 * rest,
         lin2_m2 + P0 * P0 * c1 * c1 + 2.0 * P0 * P1 * rest,
         2.0 * P0 * P1 * c1 * c1 + P1 * P1 * rest,
         P1 * P1 * c1 * c1]
    e = [0.0, c1 * P0 + bg_term, c1 * P1]
    return w, e


def _finite(fin, eta, inputs, *, act, teacher, noise, second_layer, draw, a=None, X=None,
            y=None, X_ck=None):
    st = fin.st
    n, d, N = fin.n, fin.d, fin.N
    mu1 = st["mu1"]
    tau2, scale = fin._raw(eta)
    shift2 = None
    if inputs == "train":
        # a training input's projection on X^T r / n carries its own label (x_i.x_i r_i / n):
        # mean square (1/n) |X X^T r / n|^2, larger than the fresh |X^T r / n|^2
        if draw:
            shift2 = float(np.mean((X @ fin.v) ** 2))
        else:
            c1, er2, psi_ = st["c1"], fin.er2, fin.psi
            shift2 = c1**2 + er2 / psi_ + er2 / psi_**2 + 2.0 * c1**2 / psi_
    m, A, B, B_spike = fin.ck_coefficients(eta, scale, shift2)
    B = max(B, 0.0)
    B_spike = max(B_spike, 0.0)
    if not (draw and (inputs == "train" or X_ck is not None)):
        # without the realized inputs, the row norms' mean sum_j a_hat_j mu_2 (|x_i|^2/d - 1)
        # (module docstring) is spread isotropically: variance (sum_j a_hat_j)^2 mu_2^2 2/d
        B_spike += fin.A2 / fin.alpha2 * 2.0 * st["mu2"] ** 2 / d
    al = math.sqrt(fin.alpha2)
    lin = 1.0 - eta * mu1**2 / math.sqrt(N) * fin.alpha2
    lab = al * eta * mu1
    v2 = fin._v2()
    # the isotropic rest of ||h||^2 beyond lin g + lab X^T r / n (noise terms of one_step)
    h_main2 = lin**2 * fin.gamma + lab**2 * v2
    if draw:
        h_vec = lin * fin.g + lab * fin.v
        h_main2 = float(h_vec @ h_vec)
    extra = max(tau2 - h_main2, 0.0)
    N_b = N - 1.0
    beta = fin.beta
    if inputs == "fresh":
        if draw and X_ck is not None:
            vec = m * (X_ck @ h_vec) + _norm_response(act, a, X_ck)
            xb = X_ck @ beta if beta is not None else np.zeros(X_ck.shape[0])
            e = xb / max(float(np.linalg.norm(xb)), 1e-300)
            sums = _realized_sums(X_ck, vec, e, m * m * extra)
            return _solve(sums, A=A, B=B, B_spike=B_spike, N_b=N_b)
        if draw and beta is not None:
            bh = abs(float(beta @ h_vec))
        else:
            bh = math.sqrt(lab**2 * st["c1"] ** 2 + lin**2 * fin.gamma / d)
        sums = _MPSums(fin.psi, [0.0, m * m * tau2], [0.0, abs(m) * bh], n)
        return _solve(sums, A=A, B=B, B_spike=B_spike, N_b=N_b)
    if draw:
        r = y - st["mu0"] * fin.A / math.sqrt(N)
        rho = np.einsum("ij,ij->i", X, X) / n
        s_proj = X @ fin.v - rho * r  # x_i . xi_{-i}
        a_hat = a / al
        M, L = _column_response(act, eta * a, a_hat, a_hat * a_hat, s_proj, rho * r, mu1,
                                sd=np.sqrt(rho * n / d))
        vec = M + lin * L * (X @ fin.g)
        xb = X @ beta if beta is not None else np.zeros(X.shape[0])
        e = xb / max(float(np.linalg.norm(xb)), 1e-300)
        sums = _realized_sums(X, vec, e, m * m * extra)
        return _solve(sums, A=A, B=B, B_spike=B_spike, N_b=N_b)
    w, e = _train_law_weights(act, teacher, noise, second_layer, fin, eta, m, lin, extra)
    return _solve(_MPSums(fin.psi, w, e, n), A=A, B=B, B_spike=B_spike, N_b=N_b)


def _norm_response(act, a, Xs):
    r"""The spiked column's response to the inputs' norms (fresh inputs).

    Given the inputs, row :math:`i`'s initial pre-activations have the variance
    :math:`q_i = \|x_i\|^2/d`, so the column's mean is
    :math:`\sum_j\hat a_j\,\mathbb E\,\sigma(\sqrt{q_i}Z)`; returns its deviation from
    :math:`q_i = 1` (to first order :math:`\sum_j\hat a_j\,\mu_2(q_i - 1)`: the He_2 part,
    coherent over the neurons when :math:`\sum_j\hat a_j = O(\sqrt N)`, a constant second
    layer).
    """
    x, w = (np.asarray(v) for v in normal_rule(act.kinks, nodes=None if not act.kinks else 8))
    sd = np.sqrt(np.einsum("ij,ij->i", Xs, Xs) / Xs.shape[1])
    mean = act(sd[:, None] * x[None, :]) @ w - float(act(x) @ w)
    return float(np.sum(a)) / math.sqrt(float(a @ a)) * mean


def _column_response(act, b, wM, wL, s, r_self, mu1, *, sd=None, block=256):
    r"""The spiked column on training inputs, exactly in the neurons' shifts.

    Row :math:`i`, neuron :math:`j`: the pre-activation after the step is
    :math:`h + b_j(\mu_1 s_i + r'_i\sigma'(h))` (:math:`b_j = \eta a_j`,
    :math:`r'_i = r_i\|x_i\|^2/n`, :math:`h = x_i^\top w_{0j}` the initial pre-activation,
    of standard deviation ``sd`` :math:`= \|x_i\|/\sqrt d` given the inputs; 1 when None).
    Returns :math:`M_i = \sum_j\hat a_j\mathbb E_h\sigma(\cdot)` and
    :math:`L_i = \sum_j\hat a_j^2\mathbb E_h[\sigma(\cdot)h]/\mathrm{sd}_i^2` (the
    coefficient of the column's :math:`W_0` part :math:`x_i^\top W_0\hat a`, by Stein's
    lemma); ``wM`` and ``wL`` are the weights :math:`\hat a_j` and :math:`\hat a_j^2` (or
    their quadrature).
    """
    x, w = normal_rule(act.kinks, nodes=None if not act.kinks else 8)
    keep = w > 1e-17
    x, w = np.asarray(x)[keep], np.asarray(w)[keep]
    sd = np.ones(s.size) if sd is None else np.asarray(sd, float)
    M = np.zeros(s.size)
    L = np.zeros(s.size)
    for i in range(0, s.size, block):
        base = mu1 * s[i:i + block, None] * b[None, :]
        rb = r_self[i:i + block, None] * b[None, :]
        sd_i = sd[i:i + block]
        for xq, wq in zip(x, w, strict=True):
            h = xq * sd_i
            val = act(h[:, None] + base + rb * act.d1(h)[:, None])
            M[i:i + block] += wq * (val @ wM)
            L[i:i + block] += wq * xq / sd_i * (val @ wL)
    return M, L


def _train_law_weights(act, teacher, noise, second_layer, fin, eta, m, lin, extra):
    r"""Polynomial weights of the training spike at finite size, averaged over the draw.

    The column response :func:`_column_response` is evaluated on the joint law of
    :math:`(s_i, r_i)` (:math:`s = c_1z + \sqrt{v_2 - c_1^2}\,\zeta`,
    :math:`r = \sigma_\star(z) + \text{noise} - \bar r`, :math:`\|x_i\|^2/n = 1/\psi`) and
    regressed on :math:`(s, r)`: :math:`M = \alpha_s s + \alpha_r r + \epsilon`. Since
    :math:`s = XX^\top r/n - r/\psi`, the spike's linear part is :math:`P(XX^\top/d)\,r`
    with :math:`P(\ell) = (\alpha_s\ell + \alpha_r\psi - \alpha_s)/\psi`; the rest
    :math:`\epsilon` is spread isotropically.
    """
    st = fin.st
    psi, N = fin.psi, fin.N
    c1, er2 = st["c1"], fin.er2
    dim = 3 if noise > 0 else 2
    pts, pw = product_rule(dim, teacher.kinks, nodes=None if teacher.kinks else 24)
    pts, pw = np.asarray(pts), np.asarray(pw)
    keep = pw > 1e-14
    pts, pw = pts[keep], pw[keep]
    z, zeta = pts[:, 0], pts[:, 1]
    r = teacher(z) + (noise * pts[:, 2] if dim == 3 else 0.0) - (st["c0"] - fin.rbar)
    sd = math.sqrt(max(fin._v2() - c1 * c1, 0.0))
    s = c1 * z + sd * zeta
    a_x, a_w = _neuron_nodes(second_layer, N)
    b = eta * a_x / math.sqrt(N)
    # sum_j a_hat_j f(a_j) = sqrt(N) E[a~ f(a~)], sum_j a_hat_j^2 f(a_j) = E[a~^2 f(a~)]
    M, L = _column_response(act, b, math.sqrt(N) * a_x * a_w, a_x * a_x * a_w, s, r / psi,
                            st["mu1"])
    design = np.column_stack([s, r])
    gram = design.T @ (design * pw[:, None])
    coef = np.linalg.solve(gram, design.T @ (pw * M))
    rest2 = float(pw @ (M - design @ coef) ** 2)
    alpha_s, alpha_r = coef
    lbar = float(pw @ L)
    P0, P1 = (alpha_r * psi - alpha_s) / psi, alpha_s / psi
    w, e = _train_weights((lin * lbar) ** 2 * fin.gamma + m * m * extra, P0, P1, c1, er2, 0.0)
    w[0] += rest2
    return w, e


def _neuron_nodes(second_layer, N):
    r"""Nodes and weights of the law of :math:`\sqrt N a_j`."""
    if second_layer == "gaussian":
        x, w = normal_rule(nodes=48)
        return np.asarray(x), np.asarray(w)
    if second_layer == "rademacher":
        return np.array([-1.0, 1.0]), np.array([0.5, 0.5])
    return np.array([1.0]), np.array([1.0])


# --------------------------------------------------------------------------------------------
# Any step: the conditional (mixture) description of the features
# --------------------------------------------------------------------------------------------
def _self_moments(act, sg, shift, b):
    r"""Conditional moments of :math:`\varphi = \sigma(h_0 + s_gg + m + b\,\sigma'(h_0))`.

    :math:`h_0, g` independent standard Gaussians (the initial pre-activation and the
    inflation), ``sg`` (T,) the inflation scale of each type, ``shift`` :math:`m` and ``b``
    (Q, T). Returns the mean, the coefficient of :math:`h = (h_0 + s_gg)/s`
    (:math:`s^2 = 1 + s_g^2`), and the second moment, each (Q, T).

    Smooth :math:`\sigma`: the kink-cut rule of :func:`~spikewise._gauss.normal_rule` in
    :math:`h_0` (Gauss--Hermite converges slowly for
    :math:`\tanh(h_0 + b\,\mathrm{sech}^2h_0)`), Gauss--Hermite in :math:`g`. ReLU family
    (:math:`c\,\mathrm{relu} + b_0`): closed forms in :math:`g`
    (:math:`\mathbb E\,\mathrm{relu}(x + s_gg) = x\Phi(x/s_g) + s_g\phi(x/s_g)`, ...) and,
    on each side of the jump of :math:`\sigma'` at :math:`h_0 = 0`, the rule of
    :func:`~spikewise._gauss.location_scale_rule` in the argument :math:`x = h_0 + m`
    (left) or :math:`h_0 + m + b` (right), cut at that jump and at the kink :math:`x = 0`.
    """
    shift, b = np.broadcast_arrays(np.asarray(shift, float), np.asarray(b, float))
    sg = np.broadcast_to(np.asarray(sg, float), shift.shape)
    s = np.sqrt(1.0 + sg * sg)
    relu = _smooth_or_relu(act, "activation", "ck_outliers")
    if relu is None:
        # sigma(h0 + b sigma'(h0)) is smooth but not polynomial-like: composite rule
        x0, w0 = (np.asarray(v) for v in normal_rule((0.0,), nodes=12))
        x0, w0 = x0[w0 > 1e-16], w0[w0 > 1e-16]
        if float(np.max(sg)) > 0.0:
            xg, wg = normal_rule(nodes=10)
        else:
            xg, wg = np.zeros(1), np.ones(1)
        d1 = act.d1(x0)
        flat_m, flat_b, flat_s = shift.ravel(), b.ravel(), sg.ravel()
        out = np.zeros((4, flat_m.size))  # E phi, E phi h0, E phi g, E phi^2
        step = max(1, (1 << 22) // x0.size)
        for i in range(0, flat_m.size, step):
            m_, b_, s_ = (v[i:i + step, None] for v in (flat_m, flat_b, flat_s))
            for gq, wq in zip(xg, wg, strict=True):
                val = act(x0 + (s_ * gq + m_) + b_ * d1)
                out[0, i:i + step] += wq * (val @ w0)
                out[1, i:i + step] += wq * (val @ (w0 * x0))
                out[2, i:i + step] += wq * gq * (val @ w0)
                out[3, i:i + step] += wq * ((val * val) @ w0)
        m0, mh0, mg, m2 = (v.reshape(shift.shape) for v in out)
        return m0, (mh0 + sg * mg) / s, m2
    c, b0 = relu
    flat_m, flat_b, flat_s = shift.ravel(), b.ravel(), sg.ravel()
    out = np.zeros((4, flat_m.size))  # E R, E R h0, E Rg, E R^2
    step = 8192
    for i in range(0, flat_m.size, step):
        m_, b_, s_ = (v[i:i + step, None] for v in (flat_m, flat_b, flat_s))
        # h0 < 0: argument x = h0 + m; h0 > 0: x = h0 + m + b. In x, a rule centred at the
        # shift and cut there (the jump of sigma') and at the kink 0 of relu
        for loc, side in ((m_, -1.0), (m_ + b_, 1.0)):
            x, w = location_scale_rule(loc[:, 0], 1.0, (0.0,), span=10.0, nodes=30)
            h0 = x - loc
            w = w * (side * h0 > 0.0)
            safe = np.where(s_ > 0.0, s_, 1.0)
            r = x / safe
            cdf = np.where(s_ > 0.0, ndtr(r), (x > 0.0).astype(float))
            pdf = np.where(s_ > 0.0, np.exp(-0.5 * r * r) / math.sqrt(2.0 * math.pi), 0.0)
            R = x * cdf + s_ * pdf
            out[0, i:i + step] += np.einsum("pk,pk->p", w, R)
            out[1, i:i + step] += np.einsum("pk,pk->p", w * h0, R)
            out[2, i:i + step] += np.einsum("pk,pk->p", w, s_ * cdf)
            out[3, i:i + step] += np.einsum("pk,pk->p", w, (x * x + s_ * s_) * cdf
                                            + x * s_ * pdf)
    ER, ERh0, ERg, ER2 = (v.reshape(shift.shape) for v in out)
    return c * ER + b0, c * (ERh0 + sg * ERg) / s, c * c * ER2 + 2.0 * c * b0 * ER + b0 * b0


def _law_latent(teacher, noise, fin, latent_nodes):
    r"""Nodes of the sample latent at the law level: ``(kappa, r, z, self_scale, weights)``.

    :math:`z = \beta^\top x_i`, an independent :math:`\zeta` (and the label noise
    :math:`\epsilon`): :math:`\kappa_i = (c_1z + \sqrt{q - c_1^2}\,\zeta)/\sqrt q` (the
    projection of :math:`x_i` on the step's direction built from the *other* samples),
    :math:`r_i = \sigma_\star(z) + \epsilon - \bar r`, :math:`\|x_i\|^2/n = 1/\psi`.
    """
    st = fin.st
    q, c1 = fin._v2(), st["c1"]
    zx, zw = (np.asarray(v) for v in normal_rule(
        teacher.kinks, nodes=2 if teacher.kinks else latent_nodes))
    keep = zw > 1e-12
    cols, wts = [zx[keep], None], [zw[keep], None]
    cols[1], wts[1] = (np.asarray(v) for v in normal_rule(nodes=latent_nodes))
    if noise > 0.0:
        nx, nw = normal_rule(nodes=max(latent_nodes // 2, 4))
        cols.append(np.asarray(nx))
        wts.append(np.asarray(nw))
    grids = [g.ravel() for g in np.meshgrid(*cols, indexing="ij")]
    kw = np.prod(np.stack([g.ravel() for g in np.meshgrid(*wts, indexing="ij")]), axis=0)
    z, zeta = grids[0], grids[1]
    kappa = (c1 * z + math.sqrt(max(q - c1 * c1, 0.0)) * zeta) / math.sqrt(q)
    r = teacher(z) - fin.rbar + (noise * grids[2] if noise > 0.0 else 0.0)
    return kappa, r, z, np.full(z.size, 1.0 / fin.psi), kw, q, fin.er2


def _draw_latent(fin, X, y, a, beta, X_ck=None):
    """The realized sample latent: ``kappa_i = xi_{-i}.x_i/|xi|``, ``r_i``, ``beta.x_i``,
    ``|x_i|^2/n``, uniform weights (on the fresh inputs ``X_ck`` when given:
    ``kappa_i = xi.x_i/|xi|``)."""
    n = X.shape[0]
    N = a.shape[0]
    r = y - fin.st["mu0"] * float(a.sum()) / math.sqrt(N)
    xi = X.T @ r / n
    q = float(xi @ xi)
    er2 = float(np.mean(r * r))
    if X_ck is not None:
        m = X_ck.shape[0]
        z = X_ck @ beta if beta is not None else np.zeros(m)
        return (X_ck @ xi / math.sqrt(q), np.zeros(m), z, np.zeros(m), np.full(m, 1.0 / m), q,
                er2)
    sq = np.einsum("ij,ij->i", X, X) / n
    kappa = (X @ xi - sq * r) / math.sqrt(q)
    z = X @ beta if beta is not None else np.zeros(n)
    return kappa, r, z, sq, np.full(n, 1.0 / n), q, er2


def _mixture(act, second_layer, latent, *, fin, eta, inputs, n_types=16, grid=60,
             types=None):
    r"""The CK outlier from the conditional description of the features (any step).

    ``latent`` from :func:`_law_latent` or :func:`_draw_latent`. Neuron :math:`j` of type
    :math:`\tilde a` on sample :math:`i`: :math:`\varphi = \sigma(h_0 + s_g g + t\tilde a
    \kappa_i + b_i\tilde a\,\sigma'(h_0))`, :math:`t = \eta\mu_1\sqrt{q/N}`,
    :math:`b_i = \eta\|x_i\|^2r_i/(n\sqrt N)` on the training inputs (0 on fresh ones),
    :math:`s_g^2 = \nu\tilde a^2`, :math:`\nu = \eta^2\,\mathbb E[r^2]\,\mathrm{Var}\,
    \sigma'(Z)/(\psi N)`. Returns the :class:`CKOutlier` and all predicted outliers of
    :math:`FF^\top/N` (descending). ``types``: the realized :math:`\tilde a` (N,) (the
    draw: its quantiles for the bulk, its values for the mean part), else the law of
    ``second_layer``.
    """
    kappa, r, z, sq, kw, q, er2 = latent
    st = fin.st
    n, N = fin.n, fin.N
    psi, phi = fin.psi, fin.N / fin.d
    t = eta * st["mu1"] * math.sqrt(q / N)
    b_self = eta * sq * r / math.sqrt(N) if inputs == "train" else np.zeros(r.size)
    nu = eta**2 * er2 * st["var_d1"] / (psi * N)

    def moments(tx):
        return _self_moments(act, np.sqrt(nu) * np.abs(tx), t * kappa[:, None] * tx[None, :],
                             b_self[:, None] * tx[None, :])

    if types is None:
        tx, tw = _type_law(second_layer, n_types)
    else:  # the bulk on quantiles of the realized a~
        tx, tw = np.unique(np.quantile(types, (np.arange(n_types) + 0.5) / n_types),
                           return_counts=True)
        tw = tw / n_types
    mean, L, second = moments(tx)
    V = np.maximum(second - mean**2 - L**2, 0.0)
    values, counts = (None, None) if types is None else np.unique(types, return_counts=True)
    if types is not None and values.size <= 64:  # e.g. +-1: exact
        mean_o, ow = moments(values)[0], counts / types.size
    elif types is not None:
        # the realized a~: the conditional mean on a grid of a~, splined to each neuron
        grid_a = np.linspace(float(values[0]), float(values[-1]), 64)
        mean_o = CubicSpline(grid_a, moments(grid_a)[0], axis=1)(types)
        ow = np.full(types.size, 1.0 / types.size)
    elif second_layer == "gaussian":
        ox, ow = (np.asarray(v) for v in normal_rule(nodes=48))
        mean_o = moments(ox)[0]
    else:
        mean_o, ow = moments(tx)[0], tw
    _, _, edge, outs, fs = _mixture_spectrum(kw, L, V, tw, mean_o, ow, psi=psi,
                                             phi=phi, N=int(round(N)), grid=grid,
                                             refine_edge=14)
    scale = n / N  # eigenvalues of F F^T / N from those of F^T F / n
    if outs.size == 0:
        return CKOutlier(False, scale * edge, scale * edge, 0.0), outs
    f = fs[0]
    ov = float(kw @ (f * z)) ** 2 / (float(kw @ f**2) * float(kw @ z**2) + 1e-300)
    outs = scale * outs
    return CKOutlier(True, float(outs[0]), scale * edge, min(ov, 1.0),
                     tuple(float(o) for o in outs)), outs
