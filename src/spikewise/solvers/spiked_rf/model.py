r"""The spiked random-feature model: the learned features after a (large) gradient step.

Convention (:mod:`spikewise.conventions`): inputs :math:`x \sim \mathcal N(0, I_d)`, first
layer :math:`W \in \mathbb R^{d\times N}` (columns are neurons), features
:math:`\varphi_j(x) = \sigma(w_j^\top x)`, second layer :math:`a` with
:math:`\tilde a_j = \sqrt N a_j` drawn from ``second_layer`` (``"gaussian"``
:math:`\mathcal N(0, 1)`, ``"rademacher"`` :math:`\pm 1`, ``"constant"`` :math:`1`), teacher
:math:`y = \sigma_\star(\beta^\top x) + \text{noise}`, :math:`\|\beta\| = 1`.

The model
---------
After one step :math:`W_1 = W_0 + \frac{\eta}{n}X^\top[((y - f(X))a^\top)\odot\sigma'(XW_0)]`
the update is, to leading order, the rank-one matrix :math:`\eta\mu_1\xi a^\top`,
:math:`\xi = X^\top y/n` (Ba et al. 2022), whose norm tends to :math:`\sqrt q`,
:math:`q = c_1^2 + \mathbb E[y^2]/\psi`, and whose direction :math:`v = \xi/\|\xi\|` has
overlap :math:`\gamma = \beta^\top v \to c_1/\sqrt q` with the teacher. Every neuron moves
along the same direction by :math:`u_j = \eta\mu_1\sqrt q\,a_j = t\,\tilde a_j` with the
*strength*

.. math:: t = \eta\,\mu_1\sqrt{q}/\sqrt N, \qquad \eta = \eta_0 N^\alpha
   \ (\text{:func:`spikewise.conventions.learning_rate`}),

so :math:`t = \Theta(N^{\alpha - 1/2})`: small for Ba et al.'s :math:`\eta = \Theta(1)`,
:math:`\Theta(1)` at the maximal rate :math:`\alpha = 1/2` of Dandi et al. 2023, Cui et al.
2024 and Dandi, Pesce, Zdeborová, Krzakala 2024 (the giant step), where the pre-activation of
every neuron moves by :math:`O(1)`. The non-rank-one part of the gradient (the Hermite
components of degree :math:`\ge 2` of :math:`\sigma'`) adds to column :math:`j` an almost
independent vector of squared norm :math:`\nu\tilde a_j^2` with
:math:`\nu = \eta^2\mathbb E[y^2](\mathrm{Var}\,\sigma'(Z) - 4\mu_2^2)/(\psi N)`
(the *inflation*). The spiked random-feature model is therefore

.. math:: w_j = \sqrt{1 + \nu\tilde a_j^2}\; w_{0,j} + t\,\tilde a_j\, v,
   \qquad w_{0,j} \sim \mathcal N(0, I_d/d),

with :math:`\beta^\top v = \gamma`. (:meth:`SpikedRandomFeatures.from_one_step` builds it
from the one-step theory; the constructor takes :math:`t, \gamma, \nu` directly.) Dandi,
Pesce, Zdeborová & Krzakala (2024) show that the features of a network after a giant step
are asymptotically equivalent to this model (their "spiked random features").

Conditional Gaussian equivalence
--------------------------------
Write :math:`\kappa = v^\top x` and :math:`h_j = w_{\perp,j}^\top x/s_j`, where
:math:`w_{\perp,j} = (I - vv^\top)w_j`, :math:`s_j = \|w_{\perp,j}\|`,
:math:`c_j = v^\top w_j`. Given :math:`\kappa` the :math:`h_j` are standard Gaussians with
correlations :math:`\rho_{jk} = w_{\perp,j}^\top w_{\perp,k}/(s_js_k)` (small:
:math:`O(d^{-1/2})`), and :math:`\varphi_j = \sigma(s_jh_j + c_j\kappa)` is *non-linear* in
:math:`\kappa`. With the conditional Hermite coefficients

.. math:: A_l(j, \kappa) = \frac{1}{l!}\mathbb E_h\big[\sigma(s_jh + c_j\kappa)
   \mathrm{He}_l(h)\big],

Mehler's formula gives, exactly,

.. math:: \Sigma_{jk} = \mathbb E[\varphi_j\varphi_k] = \sum_{l\ge 0} l!\,
   \mathbb E_\kappa\big[A_l(j,\kappa)A_l(k,\kappa)\big]\,\rho_{jk}^l \quad (j \ne k),
   \qquad \Sigma_{jj} = \mathbb E_\kappa\mathbb E_h\,\sigma(s_jh + c_j\kappa)^2,

truncated at ``l_max`` (the terms fall like :math:`\rho^{l}`, i.e. :math:`d^{-l/2}`). This
is the conditional Gaussian equivalence of Cui et al. (2024): given :math:`\kappa`, a feature
is its conditional mean :math:`A_0` plus :math:`A_1` times a Gaussian linear in
:math:`x_\perp` plus an independent rest of variance
:math:`\mathbb E_h\sigma^2 - A_0^2 - A_1^2` (:meth:`~SpikedRandomFeatures.conditional_moments`).
The teacher's cross-moment :math:`b_j = \mathbb E[\varphi_j\,y]` follows the same way with
:math:`\beta^\top x = \gamma\kappa + \sqrt{1 - \gamma^2}\,\tau` and
:math:`r_j = \mathrm{corr}(h_j, \tau)`:
:math:`b_j = \sum_l l!\,\mathbb E_\kappa[A_l(j,\kappa)B_l(\kappa)]\,r_j^l` with
:math:`B_l(\kappa) = \mathbb E_\tau[\sigma_\star(\gamma\kappa + \sqrt{1-\gamma^2}\tau)
\mathrm{He}_l(\tau)]/l!`.

Rank-r spikes
-------------
A step that has learned :math:`r` directions (several steps, or a multi-index student)
gives, with orthonormal directions :math:`V = (v_1, \dots, v_r) \in \mathbb R^{d\times r}`,
strengths :math:`t = (t_1, \dots, t_r)` and loadings :math:`z_j \in \mathbb R^r`,

.. math:: w_j = \sqrt{1 + \nu\tilde a_j^2}\; w_{0,j} + \sum_{k=1}^r t_k z_{jk} v_k,
   \qquad z_{j1} = \tilde a_j, \quad z_{jk}\ (k \ge 2)\ \text{independent, with the law
   of}\ \tilde a,

and :math:`\beta = V\gamma + \sqrt{1 - \|\gamma\|^2}\,\beta_\perp`,
:math:`\beta_\perp \perp V`, :math:`\gamma_k = \beta^\top v_k`. The first direction is the
one the first gradient step learns (loaded by the second layer, as above); a further
direction is learned by a *different* combination of neurons (the loadings of a later step
or of another index of a multi-index student are not the second layer), and the model takes
those loadings independent of :math:`\tilde a` with the same law. (Taking
:math:`z_{jk} = \tilde a_j` for every :math:`k` would collapse the spike to rank one along
:math:`\sum_k t_kv_k`; the same happens for every choice with ``second_layer="constant"``,
where all loadings are 1: the model is still well defined, but its spike has rank one.)
Everything above holds with :math:`\kappa = V^\top x \in \mathbb R^r` (standard Gaussian),
:math:`c_j = V^\top w_j \in \mathbb R^r`, :math:`w_{\perp,j} = (I - VV^\top)w_j`,
:math:`\varphi_j = \sigma(s_jh_j + c_j^\top\kappa)`, :math:`A_l(j, \kappa)` a function of
:math:`c_j^\top\kappa` only, :math:`\beta^\top x = \gamma^\top\kappa +
\sqrt{1 - \|\gamma\|^2}\,\tau` and :math:`B_l` a function of :math:`\gamma^\top\kappa`.

The expectations over :math:`\kappa`: :math:`\mathbb E\varphi_j` and
:math:`\Sigma_{jj}` depend on :math:`c_j^\top\kappa \sim \mathcal N(0, \|c_j\|^2)` alone and
use a one-dimensional rule at any rank. A pair :math:`(j, k)` needs the joint law of
:math:`(c_j^\top\kappa, c_k^\top\kappa)`, a different two-dimensional Gaussian for every
pair; the model evaluates every :math:`A_l(j, \cdot)` once on the tensor-product
Gauss--Hermite rule in :math:`\mathbb R^r` (:func:`spikewise._gauss.product_rule`, ``Q``
nodes per dimension: ``Q**r`` points, :math:`(l_{max}+1)NQ^r` stored coefficients and
:math:`O(l_{max}N^2Q^r)` work for :math:`\Sigma`), so that :math:`\Sigma` stays a few
matrix products. Ranks above 3 are refused there (``Q**4`` points are too many for a
useful ``N``); drawing and sampling work at any rank.

Inner expectations use :func:`spikewise._gauss.normal_rule` for smooth functions; for the
ReLU family (``c * relu(x) + b``), whose kink moves with :math:`\kappa`, they use the closed
forms :math:`\mathbb E[\mathrm{relu}(sh + m)] = s\phi(m/s) + m\Phi(m/s)`,
:math:`\mathbb E[\mathrm{relu}(sh+m)h] = s\Phi(m/s)` and, by Stein's lemma,
:math:`\mathbb E[\mathrm{relu}(sh+m)\mathrm{He}_l(h)] = s\,\mathrm{He}_{l-2}(-m/s)\phi(m/s)`
for :math:`l \ge 2`. Other activations with kinks are rejected.

Interface
---------
``model = SpikedRandomFeatures(activation, teacher=..., strength=t, overlap=gamma,
second_layer=..., inflation=nu, noise=...)`` or
``SpikedRandomFeatures.from_one_step(activation, teacher, psi=, N=, eta0=, alpha=, ...)``;

* ``model.conditional_moments(kappa, a_tilde)``: conditional mean, linear coefficient and
  rest variance of a neuron (law level, used by the spectrum's deterministic equivalent);
* ``w = model.weights(d, N, rng=)`` draws a :class:`SpikedWeights` (``W``, ``a_tilde``,
  ``v``, ``beta``); :meth:`SpikedWeights.from_arrays` wraps any given first layer and
  directions (e.g. a simulated :math:`W_1` with :math:`v = \xi/\|\xi\|`);
* ``model.population_covariance(w)`` (:math:`N\times N` :math:`\Sigma`),
  ``model.feature_mean(w)``, ``model.teacher_cross_moment(w)`` (:math:`b`),
  ``model.label_second_moment()`` (:math:`\mathbb E y^2`): the inputs of a ridge
  deterministic equivalent;
* ``model.sample(n, w, rng=)`` returns ``(X, F, y)`` for simulations and tests.

A rank-r model: ``SpikedRandomFeatures(activation, strength=[t1, t2], overlap=[g1, g2])``;
its draws carry ``w.v`` of shape ``(d, r)`` (``(d,)`` at rank one) and ``w.rank``.

References
----------
J. Ba et al., "High-dimensional asymptotics of feature learning: how one gradient step
improves the representation", NeurIPS 2022. Y. Dandi, F. Krzakala, B. Loureiro, L. Pesce,
L. Stephan, "How two-layer neural networks learn, one (giant) step at a time", 2023.
H. Cui et al., "Asymptotics of feature learning in two-layer networks after one
gradient-step", ICML 2024. Y. Dandi, L. Pesce, L. Zdeborová, F. Krzakala, "A random matrix
theory perspective on the spectrum of learned features and asymptotic generalization
capabilities", 2024.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.special import ndtr

from spikewise._gauss import factorials, hermite_polynomials, normal_rule, product_rule
from spikewise._validation import (
    InvalidParameterError,
    check_array,
    check_option,
    check_rng,
    check_scalar,
)
from spikewise.activations import get_activation
from spikewise.conventions import learning_rate

__all__ = ["SpikedRandomFeatures", "SpikedWeights", "SECOND_LAYERS"]

#: Laws of the second layer (``sqrt(N) a_j``): N(0, 1), +-1, 1.
SECOND_LAYERS = ("gaussian", "rademacher", "constant")
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_RELU_CODE = 1
_CHUNK = 1 << 22  # values per block in the quadratures
#: Gauss--Hermite nodes per dimension of the rule in kappa, by rank (kappa_nodes=None).
_DEFAULT_KAPPA_NODES = {1: 80, 2: 40, 3: 20}
_MAX_QUADRATURE_RANK = 3


def _frozen(arr):
    arr = np.array(arr, dtype=np.float64)
    arr.setflags(write=False)
    return arr


def _smooth_or_relu(act, name, owner):
    """``None`` for a smooth activation, ``(scale, shift)`` for ``scale * relu + shift``."""
    if not act.kinks:
        return None
    if act.kernel_code == _RELU_CODE and act.kinks == (0.0,):
        p = act.kernel_params
        return float(p[0]), float(p[1])
    raise InvalidParameterError(
        f"The {name!r} parameter of {owner} must be smooth or of the ReLU family "
        f"(scale * relu(x) + shift). Got {act.name!r} with kinks {act.kinks} instead."
    )


def _require_rank_one(rank, name, owner):
    if rank != 1:
        raise InvalidParameterError(
            f"{owner} supports rank-one spikes only; got rank {rank} through its {name!r} "
            "parameter (a SpikedRandomFeatures with one strength, or SpikedWeights with one "
            "direction)."
        )


def _check_model(model, owner, *, rank_one=False):
    """Raise unless ``model`` is a :class:`SpikedRandomFeatures` (of rank one when asked)."""
    if not isinstance(model, SpikedRandomFeatures):
        raise InvalidParameterError(
            f"The 'model' parameter of {owner} must be a SpikedRandomFeatures. Got "
            f"{type(model).__name__} instead."
        )
    if rank_one:
        model._require_rank_one(owner)


def _scalar_or_vector(value, name, owner, *, lower):
    """A float (rank one) or a read-only 1-D array of at least two floats >= ``lower``."""
    if np.ndim(value) == 0:
        return check_scalar(value, name, owner, lower=lower)
    arr = check_array(value, name, owner, ndim=1)
    if arr.size == 1:
        return check_scalar(float(arr[0]), name, owner, lower=lower)
    if arr.size == 0 or not np.all(arr >= lower):
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be a float >= {lower} or a non-empty "
            f"1-D array of them. Got {value!r} instead."
        )
    return _frozen(arr)


def _overlaps(value, rank, owner):
    """``gamma``: a float in [-1, 1] (rank one), or ``rank`` overlaps with sum of squares <= 1
    (a float at rank ``r >= 2`` is the overlap with the first direction)."""
    if rank == 1 and np.size(value) == 1:
        return check_scalar(value if np.ndim(value) == 0 else np.ravel(value)[0], "overlap",
                            owner, lower=-1.0, upper=1.0)
    if np.ndim(value) == 0:
        g = np.zeros(rank)
        g[0] = check_scalar(value, "overlap", owner, lower=-1.0, upper=1.0)
        return _frozen(g)
    g = check_array(value, "overlap", owner, ndim=1)
    if g.size != rank:
        raise InvalidParameterError(
            f"The 'overlap' parameter of {owner} must have one entry per spike direction "
            f"(rank {rank}, the length of 'strength'). Got {g.size} entries instead."
        )
    if not float(g @ g) <= 1.0 + 1e-12:
        raise InvalidParameterError(
            f"The 'overlap' parameter of {owner} must satisfy sum(overlap**2) <= 1 (the "
            f"overlaps of the unit teacher with orthonormal directions). Got {value!r} with "
            f"sum of squares {float(g @ g):.6g} instead."
        )
    return _frozen(g)


def _orthonormal_columns(V, owner):
    """Orthonormalize the (d, r) ``direction`` by QR, keeping the signs of its columns."""
    d, r = V.shape
    if r > d:
        raise InvalidParameterError(
            f"The 'direction' parameter of {owner} must have at most d = {d} columns (the "
            f"rank r of the spike cannot exceed the input dimension). Got r = {r} instead."
        )
    Q, R = np.linalg.qr(V)
    diag = np.abs(np.diag(R))
    norms = np.linalg.norm(V, axis=0)
    if not np.all(diag > 1e-10 * norms.max()):
        raise InvalidParameterError(
            f"The 'direction' parameter of {owner} must have linearly independent, nonzero "
            f"columns. Got {r} columns spanning a space of dimension "
            f"{int(np.linalg.matrix_rank(V))} instead."
        )
    return Q * np.where(np.diag(R) < 0, -1.0, 1.0)


def shifted_hermite(act, s, m, l_max, *, owner="shifted_hermite"):
    r"""``A_l = E[sigma(s h + m) He_l(h)] / l!`` for ``l = 0..l_max``, h standard normal.

    ``s`` (> 0) and ``m`` broadcast together; returns an array of shape
    ``(l_max + 1,) + shape``. Smooth activations: Gauss--Hermite (:func:`normal_rule`);
    ReLU family: closed forms (module docstring).
    """
    s, m = np.broadcast_arrays(np.asarray(s, float), np.asarray(m, float))
    shape = s.shape
    s, m = s.ravel(), m.ravel()
    out = np.empty((l_max + 1, s.size))
    relu = _smooth_or_relu(act, "activation", owner)
    fact = factorials(l_max)
    if relu is not None:
        c, b = relu
        r = m / s
        pdf = np.exp(-0.5 * r * r) * _INV_SQRT_2PI
        cdf = ndtr(r)
        out[0] = c * (s * pdf + m * cdf) + b
        if l_max >= 1:
            out[1] = c * s * cdf
        if l_max >= 2:
            out[2:] = c * s * hermite_polynomials(-r, l_max - 2) * pdf / fact[2:, None]
        return out.reshape((l_max + 1,) + shape)
    x, w = normal_rule()
    he = hermite_polynomials(x, l_max) * w / fact[:, None]  # (L+1, Q)
    step = max(1, _CHUNK // x.size)
    with np.errstate(over="ignore"):
        for i in range(0, s.size, step):
            vals = act(s[i:i + step, None] * x[None, :] + m[i:i + step, None])
            out[:, i:i + step] = he @ vals.T
    return out.reshape((l_max + 1,) + shape)


def _shifted_second_moment(act, s, m, *, owner):
    """``E[sigma(s h + m)^2]``, broadcast over ``s`` and ``m``."""
    s, m = np.broadcast_arrays(np.asarray(s, float), np.asarray(m, float))
    relu = _smooth_or_relu(act, "activation", owner)
    if relu is not None:
        c, b = relu
        r = m / s
        pdf = np.exp(-0.5 * r * r) * _INV_SQRT_2PI
        cdf = ndtr(r)
        e1 = s * pdf + m * cdf
        e2 = (s * s + m * m) * cdf + m * s * pdf
        return c * c * e2 + 2.0 * b * c * e1 + b * b
    x, w = normal_rule()
    flat_s, flat_m = s.ravel(), m.ravel()
    out = np.empty(flat_s.size)
    step = max(1, _CHUNK // x.size)
    with np.errstate(over="ignore"):
        for i in range(0, flat_s.size, step):
            vals = act(flat_s[i:i + step, None] * x[None, :] + flat_m[i:i + step, None])
            out[i:i + step] = (vals * vals) @ w
    return out.reshape(s.shape)


def mehler_gram(A, weights, rho):
    r""":math:`\sum_l l!\,(A_l\,\mathrm{diag}(w)\,A_l^\top)\circ\rho^{\circ l}`.

    ``A`` (L+1, m, Q) holds the conditional Hermite coefficients of ``m`` units at ``Q``
    quadrature nodes of weights ``w``, ``rho`` (m, m) their correlations: Mehler's formula for
    :math:`\mathbb E[\varphi_j\varphi_k]` averaged over the nodes (neurons given the spike
    coordinate, or inputs given the neuron type). The diagonal is left to the caller.
    """
    fact = factorials(A.shape[0] - 1)
    out = np.zeros_like(rho)
    rho_l = np.ones_like(rho)
    for ell in range(A.shape[0]):
        out += fact[ell] * ((A[ell] * weights) @ A[ell].T) * rho_l
        rho_l = rho_l * rho
    return out


@dataclass(frozen=True, eq=False)
class SpikedWeights:
    r"""A realized first layer of the spiked random-feature model.

    Attributes
    ----------
    W : ndarray (d, N)
        First layer, columns are neurons.
    v : ndarray (d,) or (d, r)
        The learned (spike) direction, unit norm (rank one), or the ``r >= 2`` orthonormal
        learned directions as columns.
    beta : ndarray (d,)
        The teacher direction, unit norm.
    a_tilde : ndarray (N,) or None
        :math:`\sqrt N a_j`, when known.
    """

    W: np.ndarray = field(repr=False)
    v: np.ndarray = field(repr=False)
    beta: np.ndarray = field(repr=False)
    a_tilde: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def from_arrays(cls, W, *, direction, beta, a=None) -> SpikedWeights:
        """Wrap a given first layer ``W`` (d, N), spike ``direction`` and teacher ``beta``.

        ``direction`` is a vector (d,) (rank one; it is normalized) or a matrix (d, r) whose
        ``r <= d`` linearly independent columns span the learned directions; they are
        orthonormalized by QR (Gram--Schmidt in column order, signs kept, so the first
        direction is ``direction[:, 0]`` normalized). A ``(d, 1)`` matrix is rank one.
        ``beta`` is normalized; ``a`` (N,), optional, is the second layer in our convention
        (stored as ``sqrt(N) a``). For a simulated step use ``direction = X^T y`` (the
        learned direction :math:`\\xi`).
        """
        owner = "SpikedWeights.from_arrays"
        W = check_array(W, "W", owner, ndim=2)
        d, N = W.shape
        v = check_array(direction, "direction", owner, ndim=(1, 2))
        v = check_array(v, "direction", owner, shape=(d,) + (None,) * (v.ndim - 1))
        if v.ndim == 2 and v.shape[1] == 1:
            v = v[:, 0]
        beta = check_array(beta, "beta", owner, ndim=1, shape=(d,))
        for name, vec in (("direction", v), ("beta", beta)):
            if not np.linalg.norm(vec) > 0.0:
                raise InvalidParameterError(
                    f"The {name!r} parameter of {owner} must be a nonzero vector. Got zeros "
                    "instead."
                )
        v = v / np.linalg.norm(v) if v.ndim == 1 else _orthonormal_columns(v, owner)
        a_t = None
        if a is not None:
            a_t = check_array(a, "a", owner, ndim=1, shape=(N,)) * math.sqrt(N)
        return cls(W=_frozen(W), v=_frozen(v),
                   beta=_frozen(beta / np.linalg.norm(beta)),
                   a_tilde=None if a_t is None else _frozen(a_t))

    @property
    def d(self) -> int:
        return self.W.shape[0]

    @property
    def N(self) -> int:
        return self.W.shape[1]

    @property
    def rank(self) -> int:
        """Number ``r`` of learned directions (1 when ``v`` is a vector)."""
        return 1 if self.v.ndim == 1 else self.v.shape[1]

    @property
    def directions(self) -> np.ndarray:
        """The learned directions as the columns of a (d, r) matrix, at every rank."""
        return self.v[:, None] if self.v.ndim == 1 else self.v

    def _require_rank_one(self, owner):
        """Raise for ``r >= 2``: for functions that only handle one learned direction."""
        _require_rank_one(self.rank, "weights", owner)

    def split(self):
        """``(c, s, rho, Wp)``: ``c = W^T v`` ((N,) at rank one, (N, r) at rank r),
        ``Wp = (I - V V^T) W``, its column norms ``s`` and the correlations ``rho`` (N, N)
        of its columns (unit diagonal)."""
        c = self.W.T @ self.v
        Wp = self.W - (np.outer(self.v, c) if self.v.ndim == 1 else self.v @ c.T)
        s = np.sqrt(np.einsum("ij,ij->j", Wp, Wp))
        rho = (Wp.T @ Wp) / np.outer(s, s)
        np.fill_diagonal(rho, 1.0)
        return c, s, rho, Wp


class SpikedRandomFeatures:
    r"""The spiked random-feature model :math:`w_j = \sqrt{1 + \nu\tilde a_j^2}\,w_{0,j} +
    \sum_k t_k z_{jk} v_k` (rank one: :math:`t\tilde a_j v`; see the module docstring for
    the equations and references).

    Parameters
    ----------
    activation : Activation or str
        Student activation :math:`\sigma` (smooth, or of the ReLU family).
    teacher : Activation or str
        Teacher link :math:`\sigma_\star` (smooth, or of the ReLU family).
    strength : float >= 0 or 1-D array of floats >= 0
        :math:`t`: neuron :math:`j` moves by :math:`t\tilde a_j` along :math:`v` (a float:
        rank one); an array :math:`(t_1, \dots, t_r)` gives a rank-``r`` spike, neuron
        :math:`j` moving by :math:`\sum_k t_k z_{jk} v_k` with :math:`z_{j1} = \tilde a_j`
        and, for :math:`k \ge 2`, loadings drawn independently from ``second_layer``
        (module docstring).
    overlap : float in [-1, 1] or 1-D array
        :math:`\gamma = \beta^\top v`; at rank ``r`` an array of ``r`` overlaps
        :math:`\gamma_k = \beta^\top v_k` with :math:`\sum_k\gamma_k^2 \le 1`, or a float,
        the overlap with :math:`v_1` (the others 0).
    second_layer : {"gaussian", "rademacher", "constant"}
        Law of :math:`\tilde a_j = \sqrt N a_j` (and of the loadings :math:`z_{jk}`).
    inflation : float >= 0
        :math:`\nu`: the bulk part of neuron :math:`j` has variance
        :math:`(1 + \nu\tilde a_j^2)/d` per coordinate.
    noise : float >= 0
        Label-noise standard deviation.
    l_max : int
        Truncation of the Mehler series in the bulk correlations (default 6).
    kappa_nodes : int, optional
        Gauss--Hermite nodes per dimension of the expectation over :math:`\kappa`; by
        default 80 in one dimension, 40 in two and 20 in three (the rule has
        ``kappa_nodes ** r`` points; module docstring).

    Attributes
    ----------
    strength, overlap : float or ndarray (r,)
        Floats at rank one, read-only arrays at rank ``r >= 2``.
    params : dict
        The parameters (activation and teacher names included; ``strength`` and
        ``overlap`` as tuples and ``spike_rank`` for ``r >= 2``).
    rank : int
        Number ``r`` of spike directions.

    Notes
    -----
    The population moments of a :class:`SpikedWeights` (:meth:`population_covariance`,
    :meth:`feature_mean`, :meth:`teacher_cross_moment`) depend on its ``W``, directions and
    ``beta`` only; they are computed at the rank of the weights, whatever the rank of the
    model (its activation, teacher, ``l_max`` and ``kappa_nodes`` are used).
    """

    def __init__(self, activation, *, teacher="linear", strength, overlap=1.0,
                 second_layer="gaussian", inflation=0.0, noise=0.0, l_max=6,
                 kappa_nodes=None):
        owner = "SpikedRandomFeatures"
        self.activation = get_activation(activation)
        self.teacher = get_activation(teacher)
        _smooth_or_relu(self.activation, "activation", owner)
        _smooth_or_relu(self.teacher, "teacher", owner)
        self.strength = _scalar_or_vector(strength, "strength", owner, lower=0.0)
        rank = 1 if isinstance(self.strength, float) else self.strength.size
        self.overlap = _overlaps(overlap, rank, owner)
        self.second_layer = check_option(second_layer, "second_layer", owner, SECOND_LAYERS)
        self.inflation = check_scalar(inflation, "inflation", owner, lower=0.0)
        self.noise = check_scalar(noise, "noise", owner, lower=0.0)
        self.l_max = check_scalar(l_max, "l_max", owner, kind="int", lower=1, upper=30)
        self.kappa_nodes = check_scalar(kappa_nodes, "kappa_nodes", owner, kind="int",
                                        lower=8, upper=400, allow_none=True)
        self.params = {
            "activation": self.activation.name, "teacher": self.teacher.name,
            "strength": self.strength, "overlap": self.overlap,
            "second_layer": self.second_layer, "inflation": self.inflation,
            "noise": self.noise,
        }
        if rank > 1:
            self.params.update(strength=tuple(self.strength.tolist()),
                               overlap=tuple(self.overlap.tolist()), spike_rank=rank)

    @property
    def rank(self) -> int:
        """Number ``r`` of spike directions (1 when ``strength`` is a float)."""
        return 1 if isinstance(self.strength, float) else self.strength.size

    def _require_rank_one(self, owner):
        """Raise for ``r >= 2``: for functions that only handle one learned direction."""
        _require_rank_one(self.rank, "model", owner)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"SpikedRandomFeatures({inner})"

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_one_step(cls, activation, teacher, *, psi, N, eta0, alpha=0.0,
                      second_layer="gaussian", noise=0.0, **options) -> SpikedRandomFeatures:
        r"""The model of one step :math:`\eta = \eta_0N^\alpha` in the proportional limit.

        :math:`t = \eta\mu_1\sqrt q/\sqrt N`, :math:`\gamma = c_1/\sqrt q`,
        :math:`\nu = \eta^2\mathbb E[y^2]\max(\mathrm{Var}\,\sigma'(Z) - 4\mu_2^2, 0)/(\psi N)`,
        :math:`q = c_1^2 + \mathbb E[y^2]/\psi` (module docstring). Then
        :math:`N t^2 = \theta^2` of :func:`~spikewise.solvers.one_step_theory.one_step_spike`.

        Parameters
        ----------
        activation, teacher : Activation or str
        psi : float > 0
            :math:`n/d` of the batch of the step.
        N : int
            Width.
        eta0, alpha : float
            Learning rate :math:`\eta = \eta_0 N^\alpha` (``alpha = 0.5``: maximal rate).
        second_layer : {"gaussian", "rademacher", "constant"}
        noise : float >= 0
        **options
            ``l_max``, ``kappa_nodes``.
        """
        owner = "SpikedRandomFeatures.from_one_step"
        sig = get_activation(activation)
        tea = get_activation(teacher)
        psi = check_scalar(psi, "psi", owner, lower=0.0, lower_inclusive=False)
        N = check_scalar(N, "N", owner, kind="int", lower=1)
        noise = check_scalar(noise, "noise", owner, lower=0.0)
        eta0 = check_scalar(eta0, "eta0", owner, lower=0.0)
        alpha = check_scalar(alpha, "alpha", owner)
        eta = learning_rate(eta0, N=N, alpha=alpha)
        mu = sig.hermite(2)
        c1 = float(tea.hermite(1)[1])
        ey2 = float(tea.second_moment) + noise**2
        q = c1 * c1 + ey2 / psi
        _smooth_or_relu(sig, "activation", owner)
        x, w = normal_rule(sig.kinks)
        var_d1 = max(float(w @ sig.d1(x) ** 2) - float(mu[1]) ** 2, 0.0)
        strength = abs(eta * float(mu[1])) * math.sqrt(q / N)
        # the sign of mu_1 only flips v: keep the overlap's sign consistent with it
        overlap = math.copysign(c1 / math.sqrt(q), float(mu[1])) if q > 0 else 0.0
        inflation = eta**2 * ey2 * max(var_d1 - 4.0 * float(mu[2]) ** 2, 0.0) / (psi * N)
        return cls(sig, teacher=tea, strength=strength, overlap=overlap,
                   second_layer=second_layer, inflation=inflation, noise=noise, **options)

    # ------------------------------------------------------------------ law level
    def neuron_law(self, n_nodes=64):
        r"""Nodes and weights of the law of :math:`\tilde a` (``n_nodes`` for Gaussian); at
        rank ``r`` every loading :math:`z_{jk}` has this law, independently."""
        if self.second_layer == "gaussian":
            x, w = normal_rule(nodes=check_scalar(n_nodes, "n_nodes", "neuron_law",
                                                  kind="int", lower=1, upper=1000))
            return np.asarray(x), np.asarray(w)
        if self.second_layer == "rademacher":
            return np.array([-1.0, 1.0]), np.array([0.5, 0.5])
        return np.array([1.0]), np.array([1.0])

    def conditional_moments(self, kappa, a_tilde):
        r"""Conditional Gaussian-equivalent description of one neuron given :math:`\kappa`.

        For a neuron with :math:`\tilde a` and bulk scale :math:`s = \sqrt{1 + \nu\tilde a^2}`
        (its weight :math:`s\,w_0 + t\tilde a v`, :math:`w_0 \perp v`),
        :math:`\varphi = \sigma(s h + t\tilde a\kappa)` with :math:`h` standard normal. At
        rank ``r`` the neuron is :math:`\varphi = \sigma(sh + \sum_k t_kz_k\kappa_k)` with
        loadings :math:`z` (:math:`z_1 = \tilde a`, :math:`s = \sqrt{1 + \nu z_1^2}`).

        Parameters
        ----------
        kappa, a_tilde : array_like
            Broadcast together. At rank ``r >= 2`` both have a last axis of length ``r``:
            :math:`\kappa = V^\top x` and the loadings :math:`(z_1, \dots, z_r)`.

        Returns
        -------
        mean, linear, rest : ndarray
            :math:`A_0 = \mathbb E_h\varphi`, :math:`A_1 = \mathbb E_h[\varphi h]` (the
            coefficient of the Gaussian :math:`h`, linear in :math:`x_\perp`) and
            :math:`\mathbb E_h\varphi^2 - A_0^2 - A_1^2`.
        """
        owner = "conditional_moments"
        if self.rank == 1:
            kappa, a_t = np.broadcast_arrays(np.asarray(kappa, float),
                                             np.asarray(a_tilde, float))
            s = np.sqrt(1.0 + self.inflation * a_t * a_t)
            m = self.strength * a_t * kappa
        else:
            arrays = []
            for name, value in (("kappa", kappa), ("a_tilde", a_tilde)):
                arr = check_array(value, name, owner)
                if arr.ndim == 0 or arr.shape[-1] != self.rank:
                    raise InvalidParameterError(
                        f"The {name!r} parameter of {owner} must have a last axis of length "
                        f"rank = {self.rank}. Got shape {arr.shape} instead."
                    )
                arrays.append(arr)
            kappa, z = np.broadcast_arrays(*arrays)
            s = np.sqrt(1.0 + self.inflation * z[..., 0] ** 2)
            m = (kappa * z) @ self.strength
        A = shifted_hermite(self.activation, s, m, 1, owner=owner)
        second = _shifted_second_moment(self.activation, s, m, owner=owner)
        return A[0], A[1], np.maximum(second - A[0] ** 2 - A[1] ** 2, 0.0)

    def label_second_moment(self) -> float:
        r""":math:`\mathbb E[y^2] = \mathbb E\sigma_\star(Z)^2 + \text{noise}^2`."""
        return float(self.teacher.second_moment) + self.noise**2

    # ------------------------------------------------------------------ realizations
    def _draw_loadings(self, gen, size):
        if self.second_layer == "gaussian":
            return gen.standard_normal(size)
        if self.second_layer == "rademacher":
            return gen.choice(np.array([-1.0, 1.0]), size=size)
        return np.ones(size)

    def weights(self, d, N, *, rng=None) -> SpikedWeights:
        r"""Draw :math:`W_0` (:math:`\mathcal N(0, 1/d)`), :math:`\tilde a`, :math:`v` and
        :math:`\beta` (with :math:`\beta^\top v = \gamma`) and return the model's first layer.

        At rank ``r >= 2`` the draws of rank one come first and are kept (so a rank-``r``
        model with :math:`t_k = \gamma_k = 0` for :math:`k \ge 2` gives the rank-one
        ``W`` and ``beta`` bit for bit); then the directions :math:`v_2, \dots, v_r`
        (uniform, orthogonal to :math:`v_1` and to the teacher's orthogonal part) and the
        loadings :math:`z_{jk}`, :math:`k \ge 2`.

        Parameters
        ----------
        d : int >= r + 1
            Input dimension (room for the ``r`` directions and the teacher's orthogonal
            part).
        N : int >= 1
            Width.
        rng : None, int, SeedSequence or Generator
        """
        owner = "SpikedRandomFeatures.weights"
        d = check_scalar(d, "d", owner, kind="int", lower=2)
        N = check_scalar(N, "N", owner, kind="int", lower=1)
        r = self.rank
        if d < r + 1:
            raise InvalidParameterError(
                f"The 'd' parameter of {owner} must be >= rank + 1 = {r + 1} (room for the "
                f"{r} spike directions of 'strength' and the teacher's orthogonal part). Got "
                f"{d} instead."
            )
        gen = check_rng(rng, owner)
        W0 = gen.standard_normal((d, N)) / math.sqrt(d)
        a_t = self._draw_loadings(gen, N)
        q, _ = np.linalg.qr(gen.standard_normal((d, 2)))
        v, perp = q[:, 0], q[:, 1]
        g = self.overlap if r == 1 else float(self.overlap[0])
        gg = g * g if r == 1 else float(self.overlap @ self.overlap)
        beta = g * v + math.sqrt(max(1.0 - gg, 0.0)) * perp
        t1 = self.strength if r == 1 else float(self.strength[0])
        W = W0 * np.sqrt(1.0 + self.inflation * a_t**2) + t1 * np.outer(v, a_t)
        if r > 1:
            basis, _ = np.linalg.qr(np.column_stack([v, perp, gen.standard_normal((d, r - 1))]))
            more = basis[:, 2:]  # (d, r - 1), orthogonal to v and perp
            Z = self._draw_loadings(gen, (N, r - 1))
            W = W + (more * self.strength[1:]) @ Z.T
            beta = beta + more @ self.overlap[1:]
            v = np.column_stack([v, more])
        return SpikedWeights(W=_frozen(W), v=_frozen(v), beta=_frozen(beta),
                             a_tilde=_frozen(a_t))

    def sample(self, n, weights: SpikedWeights, *, rng=None):
        r"""Simulate ``n`` inputs: ``(X, F, y)`` with ``F = sigma(X W)`` and
        ``y = sigma_*(X beta) + noise``.

        Parameters
        ----------
        n : int >= 1
        weights : SpikedWeights
        rng : None, int, SeedSequence or Generator
        """
        owner = "SpikedRandomFeatures.sample"
        n = check_scalar(n, "n", owner, kind="int", lower=1)
        self._check_weights(weights, owner)
        gen = check_rng(rng, owner)
        X = gen.standard_normal((n, weights.d))
        F = self.activation(X @ weights.W)
        y = self.teacher(X @ weights.beta)
        if self.noise > 0:
            y = y + self.noise * gen.standard_normal(n)
        return X, F, y

    @staticmethod
    def _check_weights(weights, owner):
        if not isinstance(weights, SpikedWeights):
            raise InvalidParameterError(
                f"The 'weights' parameter of {owner} must be a SpikedWeights (see "
                f"SpikedRandomFeatures.weights or SpikedWeights.from_arrays). Got "
                f"{type(weights).__name__} instead."
            )

    # ------------------------------------------------------------------ population moments
    def _kappa_rule(self, dim=1, owner="SpikedRandomFeatures"):
        """Gauss--Hermite rule for :math:`\\kappa \\in \\mathbb R^{dim}`: nodes (Q,) in one
        dimension, the tensor-product points (Q**dim, dim) above; weights (Q**dim,)."""
        if dim > _MAX_QUADRATURE_RANK:
            raise InvalidParameterError(
                f"The 'weights' parameter of {owner} has rank {dim}: the expectation over "
                f"kappa in R^r uses a product rule with kappa_nodes**r points and supports "
                f"rank <= {_MAX_QUADRATURE_RANK}."
            )
        nodes = self.kappa_nodes or _DEFAULT_KAPPA_NODES[dim]
        x, w = normal_rule(nodes=nodes) if dim == 1 else product_rule(dim, nodes=nodes)
        return np.asarray(x), np.asarray(w)

    def _marginal_shifts(self, c):
        """Shifts and weights of the 1-D rule for functions of :math:`c_j^\\top\\kappa` alone,
        which is :math:`\\mathcal N(0, \\|c_j\\|^2)` at any rank: (N, Q) and (Q,)."""
        kx, kw = self._kappa_rule()
        c1 = c if c.ndim == 1 else np.linalg.norm(c, axis=1)
        return c1[:, None] * kx[None, :], kw

    def _conditional_coefficients(self, weights, owner):
        """``(A, c, s, rho, Wp, kx, kw)``: the conditional Hermite coefficients
        ``A[l, j, q] = A_l(j, kappa_q)`` (L+1, N, Q) on the rule of :meth:`_kappa_rule`, and
        :meth:`SpikedWeights.split`. Rank one: ``c`` (N,), ``kx`` (Q,); rank ``r``: ``c``
        (N, r), ``kx`` (Q**r, r) the product-rule points, ``A`` (L+1, N, Q**r)."""
        c, s, rho, Wp = weights.split()
        kx, kw = self._kappa_rule(weights.rank, owner)
        shift = c[:, None] * kx[None, :] if kx.ndim == 1 else c @ kx.T
        A = shifted_hermite(self.activation, s[:, None], shift, self.l_max,
                            owner=owner)  # (L+1, N, Q)
        return A, c, s, rho, Wp, kx, kw

    def feature_mean(self, weights: SpikedWeights) -> np.ndarray:
        r""":math:`\mathbb E[\varphi_j] = \mathbb E_\kappa A_0(j, \kappa)` for each neuron
        (a one-dimensional rule in :math:`c_j^\top\kappa` at any rank)."""
        owner = "SpikedRandomFeatures.feature_mean"
        self._check_weights(weights, owner)
        c, s, _, _ = weights.split()
        shift, kw = self._marginal_shifts(c)
        A = shifted_hermite(self.activation, s[:, None], shift, 0, owner=owner)
        return A[0] @ kw

    def population_covariance(self, weights: SpikedWeights) -> np.ndarray:
        r"""The second-moment matrix :math:`\Sigma = \mathbb E[\varphi\varphi^\top]`
        (:math:`N\times N`, uncentred) by the conditional Mehler series (module docstring).

        Truncation: the first omitted term is bounded entrywise by
        :math:`\max_{j\ne k}|\rho_{jk}|^{l_{max}+1}` times :math:`\mathbb E\varphi^2`. At
        rank ``r`` the off-diagonal expectation over :math:`\kappa` uses the product rule
        (``kappa_nodes**r`` points, rank <= 3), the diagonal a one-dimensional rule.
        """
        owner = "SpikedRandomFeatures.population_covariance"
        self._check_weights(weights, owner)
        A, c, s, rho, _, kx, kw = self._conditional_coefficients(weights, owner)
        Sigma = mehler_gram(A, kw, rho)
        shift, kw1 = self._marginal_shifts(c)
        diag = _shifted_second_moment(self.activation, s[:, None], shift, owner=owner) @ kw1
        np.fill_diagonal(Sigma, diag)
        return Sigma

    def teacher_cross_moment(self, weights: SpikedWeights) -> np.ndarray:
        r""":math:`b_j = \mathbb E[\varphi_j(x)\,\sigma_\star(\beta^\top x)]` (the noise is
        independent and drops out). At rank ``r``, :math:`\beta^\top x = \gamma^\top\kappa
        + \|\beta_\perp\|\tau` with :math:`\gamma = V^\top\beta`."""
        owner = "SpikedRandomFeatures.teacher_cross_moment"
        self._check_weights(weights, owner)
        A, c, s, _, Wp, kx, kw = self._conditional_coefficients(weights, owner)
        if weights.rank == 1:
            g = float(weights.beta @ weights.v)
            bp = weights.beta - g * weights.v
            shift = g * kx
        else:
            g = weights.beta @ weights.v
            bp = weights.beta - weights.v @ g
            shift = kx @ g
        nb = float(np.linalg.norm(bp))
        if nb < 1e-14:  # beta in the span of the directions: only the conditional mean
            return (A[0] * kw) @ self.teacher(shift)
        r = (Wp.T @ bp) / (s * nb)
        B = shifted_hermite(self.teacher, np.full(shift.shape, nb), shift, self.l_max,
                            owner=owner)  # (L+1, Q)
        fact = factorials(self.l_max)
        out = np.zeros(weights.N)
        r_l = np.ones(weights.N)
        for ell in range(self.l_max + 1):
            out += fact[ell] * (A[ell] @ (kw * B[ell])) * r_l
            r_l = r_l * r
        return out
