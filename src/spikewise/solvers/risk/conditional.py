r"""Ridge risk by conditional Gaussian equivalence (the giant step of Cui et al. 2024).

Setting: the spiked random-feature model (:class:`~spikewise.solvers.SpikedRandomFeatures`)
with one realized first layer (:class:`~spikewise.solvers.SpikedWeights`), features
:math:`\varphi_j(x) = \sigma(w_j^\top x)`, labels :math:`y = \sigma_\star(\beta^\top x) +
\text{noise}`, and ridge on ``n`` samples in the convention of :mod:`spikewise.conventions`,

.. math:: \hat\theta = (F^\top F/n + \lambda I_N)^{-1}F^\top y/n .

Conditional equivalence
-----------------------
With :math:`\kappa = v^\top x` the spike coordinate, the rows :math:`(\varphi_i, y_i)` are
i.i.d. and, GIVEN :math:`\kappa_i`, concentrated vectors with the conditional second
moments (Mehler's formula on the parts orthogonal to :math:`v`, the model's notation
:math:`A_l(j,\kappa)`, :math:`\rho`, :math:`r_j`, :math:`B_l(\kappa)`)

.. math::

    \Sigma(\kappa)_{jk} = \sum_{l\ge 0} l!\,A_l(j,\kappa)A_l(k,\kappa)\rho_{jk}^l
        \ (j\ne k), \qquad
    \Sigma(\kappa)_{jj} = \mathbb E_h\,\sigma(s_jh + c_j\kappa)^2, \\
    b(\kappa)_j = \mathbb E[\varphi_j y\mid\kappa]
        = \sum_l l!\,A_l(j,\kappa)B_l(\kappa)r_j^l, \qquad
    e(\kappa) = \mathbb E[y^2\mid\kappa]
        = \mathbb E_\tau\sigma_\star(\gamma\kappa + \sqrt{1-\gamma^2}\tau)^2 + \text{noise}^2,

where :math:`\Sigma(\kappa)` includes the outer product of the conditional mean (the
:math:`l = 0` term). The features are NOT jointly Gaussian: their law is a continuous
mixture over :math:`\kappa` of components with different covariances. The leave-one-out
argument, with :math:`f_i^\top Q_{-i}f_i/n` concentrating given :math:`\kappa_i`, gives the
deterministic equivalent of the resolvent :math:`Q = (F^\top F/n + R)^{-1}` for any fixed
positive-definite regularizer :math:`R` (here :math:`R = \lambda I`, or :math:`\lambda I +
\varepsilon P` for the derivatives below):

.. math::

    \bar Q = \Big(R + \mathbb E_\kappa\frac{\Sigma(\kappa)}{1 + \delta(\kappa)}\Big)^{-1},
    \qquad \delta(\kappa) = \frac1n\operatorname{tr}\Sigma(\kappa)\bar Q,

a fixed point for the FUNCTION :math:`\delta` on the Gauss--Hermite nodes of
:math:`\kappa`. It is the structure of Cui et al. (2024), whose homogeneous case has
:math:`\Sigma(\kappa) = \mu_0(\kappa)^2\mathbf 1\mathbf 1^\top + \mu_1(\kappa)^2\Omega +
\mu_2(\kappa)^2 I` and hence :math:`\delta(\kappa) = \mu_1(\kappa)^2V_1 + \mu_2(\kappa)^2V_2`
(their :math:`V(k)`); here the neurons may differ and the Mehler series is kept to
``l_max``. When :math:`\Sigma(\kappa)` does not depend on :math:`\kappa`, :math:`\delta` is a
constant, :math:`\kappa_{\rm eff} = \lambda(1 + \delta)` and everything below reduces to the
standard deterministic equivalent of :mod:`spikewise.solvers.risk._ridge`.

Errors
------
Appending :math:`y` as an :math:`(N+1)`-th coordinate (the augmented resolvent) gives, with
:math:`w(\kappa) = 1/(1 + \delta(\kappa))`, :math:`\tilde b = \mathbb E_\kappa[w\,b(\kappa)]`,
:math:`\tilde e = \mathbb E_\kappa[w\,e(\kappa)]`, :math:`\theta = \bar Q\tilde b`,

.. math::

    \Phi(R) := \min_\vartheta\ \tfrac1n\|y - F\vartheta\|^2 + \vartheta^\top R\vartheta
    \ \simeq\ \tilde e - \tilde b^\top\bar Q\tilde b,

and :math:`\hat\theta^\top u \simeq \theta^\top u` for a deterministic :math:`u`. By the
envelope theorem :math:`\hat\theta^\top P\hat\theta = \partial_\varepsilon\Phi(\lambda I +
\varepsilon P)|_0`, which we take by implicit differentiation of the fixed point (the
adjoint method: ONE linear solve on the nodes, :math:`(I - DK)\mu = -D\tilde R` with
:math:`K_{pq} = \operatorname{tr}(\Sigma_p\bar Q\Sigma_q\bar Q)/n`,
:math:`D = \mathrm{diag}(\omega_q/(1+\delta_q)^2)`, :math:`\omega_q` the node weights,
:math:`\tilde R_q = e_q - 2b_q^\top\theta + \theta^\top\Sigma_q\theta`, solved by GMRES with
matrix-free products), for :math:`P = \Sigma(\kappa_q)` at every node at once. This gives
the conditional test error

.. math::

    R(\kappa) = \mathbb E[(y - \varphi^\top\hat\theta)^2\mid\kappa]
    = \tilde R(\kappa) - \big(K\mu\big)(\kappa),

and

.. math::

    \text{test error} = \mathbb E_\kappa R(\kappa), \qquad
    \text{train error} = \mathbb E_\kappa\frac{R(\kappa)}{(1 + \delta(\kappa))^2},

the latter because a training residual is its leave-one-out residual divided by
:math:`1 + f_i^\top Q_{-i}f_i/n \simeq 1 + \delta(\kappa_i)` (Sherman--Morrison).

The other fields of :class:`RidgeRisk`
--------------------------------------
* ``effective_regularization`` :math:`\kappa_{\rm eff} = \lambda/\mathbb E_\kappa[w(\kappa)]`,
  defined by :math:`\lambda/\kappa_{\rm eff} = \operatorname{tr}\lambda(FF^\top/n +
  \lambda)^{-1}/n` (the standard fixed point's identity);
* ``df1`` :math:`= n(1 - \lambda/\kappa_{\rm eff}) = n\,\mathbb E_\kappa[\delta/(1+\delta)]`
  (:math:`\operatorname{tr}FQF^\top/n^2` times ``n``);
* ``df2`` :math:`= nV/(1 + V)`, where :math:`V` is the variance of the predictor per unit of
  label-noise variance (the same adjoint solve with :math:`e \equiv 1`, :math:`b \equiv 0`);
  in the standard case :math:`V = (\mathrm{df}_2/n)/(1 - \mathrm{df}_2/n)`;
* ``misspecification`` :math:`M = \mathbb E f_\star^2 - b^\top\Sigma^+b` with
  :math:`\Sigma = \mathbb E_\kappa\Sigma(\kappa)`, :math:`b = \mathbb E_\kappa b(\kappa)`
  (population level, as in the standard case);
* ``variance`` :math:`= (\text{noise}^2 + M)\,V`: the variance the label noise and the
  misspecified part would cause if that part were independent noise (exact for the label
  noise; for :math:`M` it is the standard Gaussian-equivalence convention);
* ``bias`` :math:`=` test error :math:`-` variance :math:`- M - \text{noise}^2`, the rest.

At constant :math:`\Sigma(\kappa)` all of them equal the standard deterministic equivalent's.

References
----------
H. Cui, L. Pesce, Y. Dandi, F. Krzakala, Y. M. Lu, L. Zdeborová, B. Loureiro, "Asymptotics
of feature learning in two-layer networks after one gradient-step", ICML 2024 (conditional
Gaussian equivalence, their eq. for :math:`V(k)`). Y. Dandi, L. Pesce, L. Zdeborová,
F. Krzakala, "A random matrix theory perspective on the spectrum of learned features and
asymptotic generalization capabilities", 2024 (the spiked random-feature model).
C. Louart, R. Couillet, "Concentration of measure and large random matrices with an
application to sample covariance matrices", 2018 (deterministic equivalents for mixtures of
concentrated vectors). H. F. Walker, P. Ni, "Anderson acceleration for fixed-point
iterations", SIAM J. Numer. Anal. 2011.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import lapack

from spikewise._gauss import factorials
from spikewise._validation import ConvergenceError, InvalidParameterError, check_scalar
from spikewise.solvers.risk._ridge import RidgeRisk, _check_lambdas, _frozen, eigen_weights
from spikewise.solvers.spiked_rf import SpikedRandomFeatures
from spikewise.solvers.spiked_rf.model import (
    _check_model,
    _shifted_second_moment,
    shifted_hermite,
)

__all__ = ["conditional_risk"]

_MEMORY = 8  # Anderson history


class _ConditionalMoments:
    r"""The conditional moments of the spiked model on the :math:`\kappa` nodes, and the
    three matrix-free maps the risk needs (``gram``, ``traces``, ``resolvent``)."""

    def __init__(self, model, weights, owner):
        A, c, s, rho, Wp, kx, kw = model._conditional_coefficients(weights, owner)
        L = A.shape[0] - 1
        self.A, self.kw, self.fact = A, kw, factorials(L)
        self.R = []  # rho^{o l}, l = 1..L
        r_l = rho
        for _ in range(L):
            self.R.append(r_l)
            r_l = r_l * rho
        e2 = _shifted_second_moment(model.activation, s[:, None], c[:, None] * kx[None, :],
                                    owner=owner)
        mehler_diag = np.einsum("l,ljq->jq", self.fact, A * A)
        self.tail = e2 - mehler_diag  # the diagonal left out by the truncated series
        # teacher, given kappa: beta^T x = g kappa + nb tau
        g = float(weights.beta @ weights.v)
        bp = weights.beta - g * weights.v
        nb = float(np.linalg.norm(bp))
        teacher = model.teacher
        if nb < 1e-14:
            self.b = A[0] * teacher(g * kx)[None, :]
            self.e = teacher(g * kx) ** 2
        else:
            r = (Wp.T @ bp) / (s * nb)
            B = shifted_hermite(teacher, np.full(kx.shape, nb), g * kx, L, owner=owner)
            r_pow = r[None, :] ** np.arange(L + 1)[:, None]  # (L+1, N)
            self.b = np.einsum("l,ljq,lq,lj->jq", self.fact, A, B, r_pow)
            self.e = _shifted_second_moment(teacher, np.full(kx.shape, nb), g * kx,
                                            owner=owner)
        self.e = self.e + model.noise**2

    def gram(self, w):
        r""":math:`\sum_q w_q\Sigma(\kappa_q)` (N x N)."""
        A = self.A
        out = (A[0] * w) @ A[0].T
        for ell in range(1, A.shape[0]):
            out += self.fact[ell] * ((A[ell] * w) @ A[ell].T) * self.R[ell - 1]
        out[np.diag_indices_from(out)] += self.tail @ w
        return out

    def traces(self, P):
        r""":math:`\operatorname{tr}\Sigma(\kappa_q)P` at every node, for symmetric ``P``."""
        A = self.A
        t = np.einsum("jq,jq->q", A[0], P @ A[0])
        for ell in range(1, A.shape[0]):
            t += self.fact[ell] * np.einsum("jq,jq->q", A[ell], (self.R[ell - 1] * P) @ A[ell])
        return t + self.tail.T @ np.diag(P)

    def resolvent(self, lam, w, owner):
        r""":math:`(\lambda I + \sum_q w_q\Sigma_q)^{-1}` by Cholesky."""
        G = self.gram(w)
        G[np.diag_indices_from(G)] += lam
        c, info = lapack.dpotrf(G, lower=0, overwrite_a=1)
        if info == 0:
            c, info = lapack.dpotri(c, lower=0, overwrite_c=1)
        if info != 0:
            raise ConvergenceError(
                f"{owner}: the matrix lambda I + E[Sigma(kappa)/(1 + delta)] is not positive "
                f"definite at lambda = {lam:.6g} (LAPACK info {info})."
            )
        iu = np.triu_indices_from(c, 1)
        c.T[iu] = c[iu]
        return c


def _anderson(fmap, x0, *, tol, max_iter, what, owner):
    """Fixed point ``x = fmap(x)`` (x > 0) by Anderson acceleration (Walker & Ni 2011),
    falling back to the plain step when an extrapolation leaves x > 0."""
    x = x0.copy()
    dX, dR = [], []
    x_old = r_old = None
    for _ in range(max_iter):
        fx, aux = fmap(x)
        r = fx - x
        if np.max(np.abs(r)) <= tol * max(float(np.max(np.abs(fx))), 1e-300):
            return x, aux
        if x_old is not None:
            dX.append(x - x_old)
            dR.append(r - r_old)
            if len(dX) > _MEMORY:
                dX.pop(0)
                dR.pop(0)
        x_old, r_old = x, r
        new = fx
        if dX:
            Xm, Rm = np.array(dX).T, np.array(dR).T
            gam = np.linalg.lstsq(Rm, r, rcond=None)[0]
            new = x + r - (Xm + Rm) @ gam
            if not np.all(new > 0):
                new = fx
                dX, dR = [], []
        x = new
    raise ConvergenceError(
        f"{owner}: the conditional fixed point delta(kappa) = tr(Sigma(kappa) Q)/n did not "
        f"converge in {max_iter} iterations at {what} (largest residual "
        f"{float(np.max(np.abs(r))):.3e}); raise 'max_iter' or check the model."
    )


def _gmres(matvec, rhs, *, tol, owner, what):
    """Solve ``matvec(x) = rhs`` (small dense size m) by full GMRES, at most m steps."""
    m = rhs.size
    beta = float(np.linalg.norm(rhs))
    if beta == 0.0:
        return np.zeros(m)
    V = np.zeros((m + 1, m))
    H = np.zeros((m + 1, m))
    V[0] = rhs / beta
    e1 = np.zeros(m + 1)
    e1[0] = beta
    for k in range(m):
        w = matvec(V[k])
        for i in range(k + 1):  # modified Gram-Schmidt, twice for stability
            H[i, k] = V[i] @ w
            w = w - H[i, k] * V[i]
        for i in range(k + 1):
            c = V[i] @ w
            H[i, k] += c
            w = w - c * V[i]
        H[k + 1, k] = np.linalg.norm(w)
        y = np.linalg.lstsq(H[:k + 2, :k + 1], e1[:k + 2], rcond=None)[0]
        res = float(np.linalg.norm(H[:k + 2, :k + 1] @ y - e1[:k + 2]))
        if res <= tol * beta or H[k + 1, k] <= 1e-300:
            return V[:k + 1].T @ y
        V[k + 1] = w / H[k + 1, k]
    raise ConvergenceError(
        f"{owner}: GMRES for the derivative of the conditional fixed point did not reach "
        f"the relative residual {tol:.1e} at {what} (reached {res / beta:.3e})."
    )


def conditional_risk(model, weights, *, n, lambdas, tol=1e-12, max_iter=300) -> RidgeRisk:
    r"""Ridge risk on the features of the spiked model by conditional Gaussian equivalence.

    The deterministic equivalent of the module docstring: a fixed point for the function
    :math:`\delta(\kappa)` on the model's ``kappa_nodes`` Gauss--Hermite nodes, the test
    error :math:`\mathbb E_\kappa R(\kappa)` and the train error
    :math:`\mathbb E_\kappa R(\kappa)/(1 + \delta(\kappa))^2` from one adjoint solve. Unlike
    the deterministic equivalent with the exact moments
    (:func:`~spikewise.solvers.spiked_rf_risk`'s ``exact_moments``), it does not treat the
    features as Gaussian along the spike: it is the correct theory after a giant step.

    Parameters
    ----------
    model : SpikedRandomFeatures
        Activation, teacher, noise, ``l_max`` (Mehler truncation) and ``kappa_nodes``.
    weights : SpikedWeights
        The first layer: a draw ``model.weights(d, N, rng=)`` or a given ``W`` with its
        spike direction (:meth:`SpikedWeights.from_arrays`, e.g. a simulated :math:`W_1`).
    n : int
        Ridge samples, >= 1.
    lambdas : array_like
        Penalties > 0 in the ridge convention of :mod:`spikewise.conventions`
        (:math:`\hat\theta = (F^\top F/n + \lambda I)^{-1}F^\top y/n`). ``lambda = 0`` is
        not supported (:math:`\delta \to \infty` there).
    tol : float, default 1e-12
        Relative residual of the fixed point and of the adjoint solves.
    max_iter : int, default 300
        Anderson iterations per lambda (warm-started along the path).

    Returns
    -------
    RidgeRisk
        With ``params["equivalence"] = "conditional"``; the fields are defined in the
        module docstring.

    Raises
    ------
    InvalidParameterError
        On a model or weights of the wrong type or of spike rank >= 2 (the fixed point is
        written for one spike coordinate), ``n < 1``, or a lambda <= 0.
    ConvergenceError
        When the fixed point or an adjoint solve does not converge (the message names the
        lambda).

    Notes
    -----
    Cost per lambda: a few tens of :math:`N\times N` Cholesky inversions and
    :math:`N^3` products (the fixed point and the matrix-free GMRES), plus
    :math:`O(l_{\max}N^2Q)` per Mehler map; memory :math:`l_{\max}` matrices
    :math:`N\times N` (the powers of :math:`\rho`).
    """
    owner = "conditional_risk"
    _check_model(model, owner, rank_one=True)
    SpikedRandomFeatures._check_weights(weights, owner)
    weights._require_rank_one(owner)
    n = check_scalar(n, "n", owner, kind="int", lower=1)
    lam = _check_lambdas(lambdas, owner)
    if np.any(lam <= 0):
        raise InvalidParameterError(
            f"The 'lambdas' parameter of {owner} must be > 0 (the conditional fixed point "
            f"diverges at lambda = 0). Got {lam!r} instead."
        )
    tol = check_scalar(tol, "tol", owner, lower=1e-15, upper=1e-3)
    max_iter = check_scalar(max_iter, "max_iter", owner, kind="int", lower=1)
    mom = _ConditionalMoments(model, weights, owner)
    kw = mom.kw
    # population moments (the kappa average) for the misspecification
    Ef2 = float(model.teacher.second_moment)
    s, c2 = eigen_weights(mom.gram(kw), mom.b @ kw)
    cut = max(float(s.max()), 0.0) * s.size * np.finfo(float).eps
    M = max(Ef2 - float(np.sum(np.where(s > cut, c2 / np.where(s > cut, s, 1.0), 0.0))),
            0.0)
    noise2 = model.noise**2

    out = {k: np.empty(lam.size) for k in ("test", "train", "V", "keff", "df1")}
    delta = None
    for i in np.argsort(-lam):  # large lambda first: warm starts along the path
        li = float(lam[i])
        what = f"lambda = {li:.6g}"

        def fmap(dl, li=li):
            Qb = mom.resolvent(li, kw / (1.0 + dl), owner)
            return mom.traces(Qb) / n, Qb

        if delta is None:
            delta = mom.traces(np.eye(mom.A.shape[1])) / (n * li)  # Q <= I/lambda
        delta, Qb = _anderson(fmap, delta, tol=tol, max_iter=max_iter, what=what,
                              owner=owner)
        w = kw / (1.0 + delta)
        D = kw / (1.0 + delta) ** 2
        theta = Qb @ (mom.b @ w)
        Rt = mom.e - 2.0 * (theta @ mom.b) + mom.traces(np.outer(theta, theta))

        def kprod(u, Qb=Qb):
            return mom.traces(Qb @ mom.gram(u) @ Qb) / n

        def lhs(x, D=D, kprod=kprod):
            return x - D * kprod(x)

        mu = _gmres(lhs, -D * Rt, tol=tol, owner=owner, what=what)
        mu_noise = _gmres(lhs, -D, tol=tol, owner=owner, what=what)
        R = Rt - kprod(mu)
        out["test"][i] = kw @ R
        out["train"][i] = kw @ (R / (1.0 + delta) ** 2)
        out["V"][i] = -(kw @ kprod(mu_noise))
        out["keff"][i] = li / float(np.sum(w))
        out["df1"][i] = n * float(kw @ (delta / (1.0 + delta)))
    V = out["V"]
    variance = (noise2 + M) * V
    params = {"d": weights.d, "N": weights.N, **model.params, "l_max": model.l_max,
              "kappa_nodes": model.kappa_nodes, "equivalence": "conditional", "n": n}
    return RidgeRisk(
        lambdas=_frozen(lam), test_error=_frozen(out["test"]),
        train_error=_frozen(out["train"]),
        bias=_frozen(out["test"] - variance - M - noise2), variance=_frozen(variance),
        misspecification=_frozen(np.full(lam.shape, M)), noise=noise2,
        effective_regularization=_frozen(out["keff"]), df1=_frozen(out["df1"]),
        df2=_frozen(n * V / (1.0 + V)), params=params,
    )
