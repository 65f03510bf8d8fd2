r"""The deterministic equivalent of ridge regression on features of a given covariance.

Setting (the ridge convention of :mod:`spikewise.conventions`): features
:math:`\varphi(x) \in \mathbb{R}^N` with second-moment matrix :math:`\Sigma = \mathbb{E}
[\varphi\varphi^\top]`, labels :math:`y = f_\star(x) + \varepsilon`,
:math:`\operatorname{Var}\varepsilon = \text{noise}^2`, and the ridge fit on :math:`n` samples

.. math:: \hat b = (F^\top F/n + \lambda I_N)^{-1} F^\top y / n .

The teacher splits into its projection on the features and a remainder orthogonal to them,
:math:`f_\star = \varphi^\top\theta_\star + f_\perp` with
:math:`\theta_\star = \Sigma^{+} b`, :math:`b = \mathbb{E}[\varphi f_\star]`; the
*misspecification* :math:`M = \mathbb{E}f_\star^2 - b^\top\Sigma^{+}b` acts as extra noise
(Gaussian equivalence; Mei & Montanari 2022, Misiakiewicz & Saeed 2024).

The effective regularization :math:`\kappa` solves (Bach 2023, eq. (9); Atanasov,
Zavatone-Veth & Pehlevan 2024, eq. (22), in our normalization)

.. math::

    \kappa - \lambda = \frac{\kappa}{n}\,\mathrm{df}_1(\kappa), \qquad
    \mathrm{df}_1(\kappa) = \operatorname{tr}\Sigma(\Sigma + \kappa)^{-1}, \quad
    \mathrm{df}_2(\kappa) = \operatorname{tr}\Sigma^2(\Sigma + \kappa)^{-2},

and, with :math:`\sigma_{\rm eff}^2 = \text{noise}^2 + M`,

.. math::

    \text{bias} &= \frac{\kappa^2\,\theta_\star^\top\Sigma(\Sigma + \kappa)^{-2}\theta_\star}
                      {1 - \mathrm{df}_2/n}, \qquad
    \text{variance} = \sigma_{\rm eff}^2\,\frac{\mathrm{df}_2/n}{1 - \mathrm{df}_2/n}, \\
    \text{test error} &= \mathbb{E}(y - \varphi^\top\hat b)^2
        = \text{bias} + \text{variance} + M + \text{noise}^2, \qquad
    \text{train error} = (\lambda/\kappa)^2\,\text{test error}.

The train relation holds because the training residual is
:math:`\lambda (FF^\top/n + \lambda)^{-1} y` in this convention. At :math:`\lambda = 0`
the equations give the minimum-norm interpolator: :math:`\kappa = 0` when the rank of
:math:`\Sigma` is below ``n``, else :math:`\kappa_0 > 0` with :math:`\mathrm{df}_1(\kappa_0)
= n`; at rank exactly ``n`` the test error is infinite (the interpolation peak).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.linalg import blas, eigh_tridiagonal, lapack

from spikewise._validation import ConvergenceError, InvalidParameterError, check_array, check_scalar

__all__ = ["RidgeRisk", "ridge_risk", "ridge_risk_from_spectrum"]

_MAX_NEWTON = 200
_RTOL = 1e-13


def _frozen(arr) -> np.ndarray:
    out = np.array(arr, dtype=float, copy=True)
    out.setflags(write=False)
    return out


@dataclass(frozen=True, eq=False)
class RidgeRisk:
    r"""Deterministic-equivalent risk of ridge along a lambda path (and optional grid).

    Every array has shape ``grid_shape + (L,)``: the last axis runs over ``lambdas``, the
    leading ones over the 1-D grids named in ``coords`` (empty for a single feature model).

    Attributes
    ----------
    lambdas : ndarray (L,)
        Ridge penalties in the convention of :mod:`spikewise.conventions`.
    test_error : ndarray
        :math:`\mathbb{E}(y - \varphi^\top\hat b)^2` on a fresh sample, label noise included.
    train_error : ndarray
        :math:`\frac1n\|y - F\hat b\|^2 = (\lambda/\kappa)^2` ``test_error``.
    bias, variance : ndarray
        The split of the excess error (see :mod:`spikewise.solvers.risk._ridge`);
        ``test_error = bias + variance + misspecification + noise``.
    misspecification : ndarray
        :math:`M = \mathbb{E}f_\star^2 - b^\top\Sigma^{+}b`, the part of the teacher outside
        the span of the features (treated as noise).
    noise : float
        Label-noise variance :math:`\text{noise}^2`.
    effective_regularization : ndarray
        The fixed point :math:`\kappa`.
    df1, df2 : ndarray
        Degrees of freedom :math:`\operatorname{tr}\Sigma(\Sigma+\kappa)^{-1}` and
        :math:`\operatorname{tr}\Sigma^2(\Sigma+\kappa)^{-2}` (for a proportional limit: per
        input dimension, i.e. divided by ``d``).
    coords : dict
        Name -> 1-D array of the leading grid axes (e.g. ``psi``, ``phi``).
    params : dict
        Scalar parameters (sizes, activation, teacher, ...).
    """

    lambdas: np.ndarray
    test_error: np.ndarray
    train_error: np.ndarray
    bias: np.ndarray
    variance: np.ndarray
    misspecification: np.ndarray
    noise: float
    effective_regularization: np.ndarray
    df1: np.ndarray
    df2: np.ndarray
    coords: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)

    @property
    def optimal_lambda(self) -> np.ndarray:
        """The lambda of the path with the smallest test error (per grid point)."""
        return self.lambdas[np.argmin(self.test_error, axis=-1)]

    @property
    def optimal_test_error(self) -> np.ndarray:
        """The smallest test error along the path (per grid point)."""
        return np.min(self.test_error, axis=-1)

    def to_xarray(self):
        """An ``xarray.Dataset`` over ``coords`` and ``"lambda"`` with the params as attrs."""
        try:
            import xarray as xr
        except ImportError as exc:  # pragma: no cover - optional dependency
            raise ImportError("RidgeRisk.to_xarray needs xarray: pip install xarray") from exc
        dims = tuple(self.coords) + ("lambda",)
        coords = {k: np.asarray(v) for k, v in self.coords.items()}
        coords["lambda"] = np.asarray(self.lambdas)
        names = ("test_error", "train_error", "bias", "variance", "misspecification",
                 "effective_regularization", "df1", "df2")
        data = {k: (dims, np.broadcast_to(getattr(self, k), self.test_error.shape))
                for k in names}
        attrs = {"noise": self.noise}
        attrs.update({k: v for k, v in self.params.items() if np.isscalar(v)})
        return xr.Dataset(data, coords=coords, attrs=attrs)


def _check_lambdas(lambdas, owner: str) -> np.ndarray:
    lam = check_array(lambdas, "lambdas", owner, ndim=(0, 1)).reshape(-1)
    if lam.size == 0 or np.any(lam < 0):
        raise InvalidParameterError(
            f"The 'lambdas' parameter of {owner} must be a non-empty array of finite floats "
            f">= 0. Got {lam!r} instead."
        )
    return lam


def assemble(b0, g, s_eff, kappa, lam, peak):
    r"""Bias, variance, test and train error from the fixed point (arrays broadcast).

    ``b0`` is :math:`\kappa^2\theta_\star^\top\Sigma(\Sigma+\kappa)^{-2}\theta_\star`,
    ``g`` is :math:`\mathrm{df}_2/n`, ``s_eff`` the effective noise
    :math:`\text{noise}^2 + M`; at ``peak`` (interpolation at rank n) the error is infinite.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        bias = np.where(peak, np.inf, b0 / (1.0 - g))
        variance = np.where(peak, np.inf, s_eff * g / (1.0 - g))
        test = bias + variance + s_eff
        ratio = np.where(kappa > 0, lam / np.where(kappa > 0, kappa, 1.0), 0.0)
        train = np.where(peak, 0.0, ratio**2 * test)
    return bias, variance, test, train


def solve_kappa(lam, h_dh, *, lower, upper, owner: str):
    r"""Solve :math:`h(\kappa) = \lambda` for increasing convex :math:`h` (vectorized).

    ``h_dh(kappa)`` returns :math:`h` and :math:`h'` on arrays shaped like ``lam``; the root
    lies in ``[lower, upper]`` with :math:`h(\text{upper}) \ge \lambda`. Newton's method from
    ``upper`` decreases monotonically to the root (convexity), so no bracketing is needed.

    Raises
    ------
    ConvergenceError
        When the relative step is above 1e-13 after 200 iterations.
    """
    kappa = np.array(upper, dtype=float, copy=True)
    lower = np.broadcast_to(lower, kappa.shape)
    active = np.ones(kappa.shape, dtype=bool)
    for _ in range(_MAX_NEWTON):
        h, dh = h_dh(kappa)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.where(active & (dh > 0), (h - lam) / dh, 0.0)
        new = np.maximum(kappa - step, lower)
        done = np.abs(new - kappa) <= _RTOL * np.maximum(np.abs(new), 1e-300)
        kappa = np.where(active, new, kappa)
        active &= ~done
        if not active.any():
            return kappa
    h, _ = h_dh(kappa)
    worst = float(np.max(np.abs(h - lam)[active]))
    raise ConvergenceError(
        f"{owner}: the fixed point kappa - lambda = kappa df1(kappa)/n did not converge in "
        f"{_MAX_NEWTON} Newton steps (largest residual {worst:.3e})."
    )


def ridge_risk_from_spectrum(eigenvalues, signal, *, n, lambdas, misspecification,
                             noise=0.0, params=None) -> RidgeRisk:
    r"""The deterministic equivalent from the spectrum of :math:`\Sigma` (see module doc).

    Parameters
    ----------
    eigenvalues : array_like (N,)
        Eigenvalues :math:`s_i \ge 0` of :math:`\Sigma`.
    signal : array_like (N,)
        :math:`(v_i^\top b)^2 / s_i` for the eigenvectors :math:`v_i` (0 where
        :math:`s_i = 0`), so that :math:`b^\top\Sigma^{+}b = \sum_i` ``signal``.
    n : int
        Ridge samples, >= 1.
    lambdas : array_like
        Penalties >= 0 (our convention).
    misspecification : float
        :math:`M \ge 0`.
    noise : float
        Label-noise standard deviation.
    params : dict, optional
        Stored on the result.

    Returns
    -------
    RidgeRisk
    """
    owner = "ridge_risk_from_spectrum"
    s = check_array(eigenvalues, "eigenvalues", owner, ndim=1)
    w = check_array(signal, "signal", owner, ndim=1, shape=s.shape)
    n = check_scalar(n, "n", owner, kind="int", lower=1)
    lam = _check_lambdas(lambdas, owner)
    M = check_scalar(misspecification, "misspecification", owner, lower=0.0)
    noise = check_scalar(noise, "noise", owner, lower=0.0)
    tol = max(float(s.max(initial=0.0)), 0.0) * s.size * np.finfo(float).eps
    keep = s > tol
    s, w = s[keep], np.maximum(w[keep], 0.0)
    rank = s.size
    if rank == 0:
        raise InvalidParameterError(
            f"The 'eigenvalues' parameter of {owner} must have a positive eigenvalue. "
            "Got an all-zero spectrum instead."
        )

    def h_dh(kappa):
        q = s[None, :] / (s[None, :] + kappa[:, None])
        return kappa * (1.0 - q.sum(1) / n), 1.0 - (q * q).sum(1) / n

    scale = float(s.sum()) / n
    peak = np.zeros(lam.shape, dtype=bool)
    if rank > n:
        k0 = solve_kappa(np.zeros(1), h_dh, lower=0.0, upper=np.array([scale]), owner=owner)
        lower = np.full(lam.shape, k0[0])
    else:
        lower = np.zeros(lam.shape)
        peak = (lam == 0) & (rank == n)
    lower = np.maximum(lower, lam)
    kappa = np.zeros(lam.shape)
    solve = ~((lam == 0) & (rank <= n))
    if solve.any():
        kappa[solve] = solve_kappa(lam[solve], h_dh, lower=lower[solve],
                                   upper=lam[solve] + scale, owner=owner)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = s[None, :] / (s[None, :] + kappa[:, None])
        df1 = r.sum(1)
        df2 = (r * r).sum(1)
        # kappa^2 theta^T Sigma (Sigma + kappa)^-2 theta = sum_i w_i (kappa/(s_i+kappa))^2
        b0 = ((1.0 - r) ** 2 * w[None, :]).sum(1)
    bias, variance, test, train = assemble(b0, df2 / n, noise**2 + M, kappa, lam, peak)
    return RidgeRisk(
        lambdas=_frozen(lam), test_error=_frozen(test), train_error=_frozen(train),
        bias=_frozen(bias), variance=_frozen(variance),
        misspecification=_frozen(np.full(lam.shape, M)), noise=noise**2,
        effective_regularization=_frozen(kappa), df1=_frozen(df1), df2=_frozen(df2),
        params=dict(params or {}, n=n, rank=rank),
    )


def ridge_risk(covariance, cross_moment, *, n, lambdas, target_second_moment, noise=0.0,
               params=None) -> RidgeRisk:
    r"""Deterministic-equivalent ridge risk for features with a given second-moment matrix.

    One eigendecomposition of :math:`\Sigma` serves every lambda.

    Parameters
    ----------
    covariance : array_like (N, N)
        :math:`\Sigma = \mathbb{E}[\varphi\varphi^\top]`, symmetric positive semi-definite.
    cross_moment : array_like (N,)
        :math:`b = \mathbb{E}[\varphi f_\star]`.
    n : int
        Ridge samples, >= 1.
    lambdas : array_like
        Penalties >= 0, in the ridge convention of :mod:`spikewise.conventions`
        (:math:`\hat b = (F^\top F/n + \lambda I)^{-1}F^\top y/n`).
    target_second_moment : float
        :math:`\mathbb{E}f_\star^2` (noise excluded).
    noise : float, default 0
        Label-noise standard deviation.
    params : dict, optional
        Stored on the result.

    Returns
    -------
    RidgeRisk

    Raises
    ------
    InvalidParameterError
        On shapes that do not match, non-finite entries, a negative lambda, ``n < 1``, or
        :math:`b^\top\Sigma^{+}b > \mathbb{E}f_\star^2` (moments that cannot come from one
        distribution).
    ConvergenceError
        When the fixed point does not converge.
    """
    owner = "ridge_risk"
    S = check_array(covariance, "covariance", owner, ndim=2)
    if S.shape[0] != S.shape[1] or S.shape[0] < 1:
        raise InvalidParameterError(
            f"The 'covariance' parameter of {owner} must be a non-empty square matrix. "
            f"Got shape {S.shape} instead."
        )
    b = check_array(cross_moment, "cross_moment", owner, ndim=1, shape=(S.shape[0],))
    Ef2 = check_scalar(target_second_moment, "target_second_moment", owner, lower=0.0)
    n = check_scalar(n, "n", owner, kind="int", lower=1)
    lam = _check_lambdas(lambdas, owner)
    s, c2 = eigen_weights(S.copy(), b)
    return _risk_from_eigen(s, c2, Ef2, n=n, lambdas=lam, noise=noise, params=params,
                            owner=owner)


def eigen_weights(S, b):
    r"""Eigenvalues :math:`s_i` of symmetric ``S`` (ascending) and the weights
    :math:`(v_i^\top b)^2` of ``b`` on its eigenvectors, without forming the eigenvectors.

    A Householder reflection :math:`P` with :math:`Pb = \pm\|b\|e_1` first (BLAS ``dsymv``
    and ``dsyr2``, :math:`O(N^2)`), then the tridiagonalization :math:`PSP = QTQ^\top`
    (LAPACK ``dsytrd``), whose reflectors leave :math:`e_1` fixed: :math:`Q^\top Pb =
    \pm\|b\|e_1`, so the weights are :math:`\|b\|^2` times the squared FIRST components of
    the eigenvectors of :math:`T` (the Gauss-quadrature weights of the Jacobi matrix
    :math:`T`). With the eigenvalues of :math:`T` (``dstemr``, values only), each weight is
    a residue of :math:`e_1^\top(T - z)^{-1}e_1 = 1/r_0(z)`:
    :math:`u_{k,1}^2 = -1/r_0'(s_k)`, where :math:`r_j(z) = T_{jj} - z -
    T_{j,j+1}^2/r_{j+1}(z)` are the pivots of the bottom-up elimination and :math:`r_j'` their
    derivatives (the Sturm recursion, with LAPACK's tiny-pivot guard). When :math:`T` splits
    (an off-diagonal below :math:`N\varepsilon\|T\|`: ``b`` lies in an invariant subspace),
    the eigenvalues of the blocks below the split carry no weight. Cost
    :math:`\tfrac43N^3` (``dsytrd``) plus :math:`O(N^2)`, against the :math:`O(N^2)` memory
    and larger constant of all the eigenvectors of :math:`T`. ``S`` is overwritten; only its
    upper triangle (C order) is read.
    """
    N = S.shape[0]
    A = S.T  # the Fortran-ordered lower triangle LAPACK works on, in place
    q = np.array(b, dtype=np.float64)
    nb = float(np.linalg.norm(q))
    if nb > 0.0:
        alpha = -np.copysign(nb, q[0])
        q[0] -= alpha
        q /= np.linalg.norm(q)
        w = blas.dsymv(1.0, A, q, lower=1)
        w -= (q @ w) * q
        A = blas.dsyr2(-2.0, q, w, a=A, lower=1, overwrite_a=1)  # P S P, P = I - 2 q q^T
    lwork = int(lapack.dsytrd_lwork(N, lower=1)[0])
    _, diag, off, _, info = lapack.dsytrd(A, lower=1, lwork=lwork, overwrite_a=1)
    if info != 0:  # pragma: no cover - LAPACK argument error
        raise RuntimeError(f"dsytrd failed with info = {info}")
    if N == 1:
        return diag.copy(), np.array([nb * nb])
    if nb == 0.0:
        return eigh_tridiagonal(diag, off, eigvals_only=True), np.zeros(N)
    eps = np.finfo(float).eps
    scale = max(float(np.abs(diag).max()), float(np.abs(off).max()), 1e-300)
    split = np.nonzero(np.abs(off) <= N * eps * scale)[0]
    top = int(split[0]) + 1 if split.size else N  # the block that holds e_1
    s = eigh_tridiagonal(diag[:top], off[:top - 1], eigvals_only=True) if top > 1 \
        else diag[:1].copy()
    weights = _first_weights(diag[:top], off[:top - 1], s, eps * scale)
    if weights is None:  # a pole not resolved as one: the eigenvectors of T, the slow way
        s, U = eigh_tridiagonal(diag[:top], off[:top - 1])
        weights = U[0] ** 2
    weights = weights * (nb * nb)
    if top < N:  # the blocks below the split: eigenvalues without weight
        rest = eigh_tridiagonal(diag[top:], off[top:], eigvals_only=True) if N - top > 1 \
            else diag[top:].copy()
        s = np.concatenate([s, rest])
        weights = np.concatenate([weights, np.zeros(rest.size)])
        order = np.argsort(s, kind="stable")
        s, weights = s[order], weights[order]
    return s, weights


def _first_weights(diag, off, s, pivmin):
    r"""Squared first components of the eigenvectors of the Jacobi matrix (``diag``, ``off``)
    at its eigenvalues ``s``, as residues: :math:`u_{k,1}^2 = -1/r_0'(s_k)`.

    The residue is trusted where the computed eigenvalue sits on the pole, i.e. where the
    eigenvalue error implied by the pivot, :math:`|r_0(s_k)/r_0'(s_k)|`, is within rounding
    (:math:`\sqrt{\varepsilon}\|T\|`); elsewhere the pole is narrower than the eigenvalue's
    error, so its weight is below :math:`\varepsilon\|T\|\,|m|` and is set to 0. ``None``
    (use the eigenvectors) when the weights then miss the unit total by more than 1e-11.
    """
    r = diag[-1] - s
    dr = -np.ones_like(s)
    b2 = off**2
    for j in range(diag.size - 2, -1, -1):
        r = np.where(np.abs(r) < pivmin, -pivmin, r)
        t = b2[j] / r
        dr = t * dr / r - 1.0
        r = diag[j] - s - t
    with np.errstate(divide="ignore", invalid="ignore"):
        w = -1.0 / dr
        resolved = (w > 0) & (np.abs(r) * w <= np.sqrt(np.finfo(float).eps) * pivmin
                              / np.finfo(float).eps)
    w = np.where(resolved, w, 0.0)
    if not np.all(np.isfinite(w)) or abs(w.sum() - 1.0) > 1e-11:
        return None
    return w


def _risk_from_eigen(s, c2, Ef2, *, n, lambdas, noise, params, owner,
                     slack=1e-9) -> RidgeRisk:
    """Shared tail of :func:`ridge_risk` and the finite-width risk: eigenvalues (ascending)
    and the squared projections ``c2`` of ``b`` on the eigenvectors to the risk."""
    if s.size and s[0] < -1e-8 * max(float(s[-1]), 1e-300):
        raise InvalidParameterError(
            f"The 'covariance' parameter of {owner} must be positive semi-definite. Got the "
            f"eigenvalue {s[0]:.3e} instead."
        )
    s = np.maximum(s, 0.0)
    tol = max(float(s.max()), 0.0) * s.size * np.finfo(float).eps
    signal = np.where(s > tol, c2 / np.where(s > tol, s, 1.0), 0.0)
    explained = float(signal.sum())
    M = Ef2 - explained
    if M < -slack * max(Ef2, 1e-300):
        raise InvalidParameterError(
            f"The moments given to {owner} are inconsistent: b^T Sigma^+ b = {explained:.6g} "
            f"exceeds the target's second moment E f*^2 = {Ef2:.6g}."
        )
    return ridge_risk_from_spectrum(s, signal, n=n, lambdas=lambdas,
                                    misspecification=max(M, 0.0), noise=noise,
                                    params=params)
