r"""Random-features ridge at initialization in the proportional limit (Mei & Montanari).

``W0`` with i.i.d. :math:`\mathcal{N}(0, 1/d)` entries (or unit-norm neurons),
:math:`n/d \to \psi`, :math:`N/d \to \phi`. By Gaussian equivalence (Mei & Montanari 2022;
Gerace et al. 2020; Hu & Lu 2022) the features behave as

.. math:: \varphi = \mu_0\mathbf 1 + \mu_1 W^\top x + \mu_\star z,
          \qquad z \sim \mathcal{N}(0, I_N),

and the teacher as :math:`f_\star = c_0 + c_1\beta^\top x + f_{\rm nl}` with
:math:`\mathbb{E}f_{\rm nl}^2 = c_\star^2` (Hermite coefficients of the activation and of the
link). The mean feature is a spike of size :math:`N\mu_0^2 \to \infty`: it fits :math:`c_0`
exactly when :math:`\mu_0 \ne 0` (otherwise :math:`c_0^2` is misspecification). The rest is
the deterministic equivalent of :mod:`spikewise.solvers.risk._ridge` with
:math:`\Sigma = \mu_1^2 W^\top W + \mu_\star^2 I`, whose traces are integrals against the
Marchenko–Pastur law :math:`\nu` of :math:`W^\top W` (ratio :math:`\phi`, from
:class:`~spikewise.solvers.MarchenkoPastur`): with :math:`s(x) = \mu_1^2 x + \mu_\star^2`,
:math:`I_1(\kappa) = \int (s+\kappa)^{-1}d\nu = \mu_1^{-2} m(-(\mu_\star^2+\kappa)/\mu_1^2)`
and :math:`I_2 = \int (s+\kappa)^{-2}d\nu = \mu_1^{-4} m'(\cdot)`,

.. math::

    \frac{\mathrm{df}_1}{d} &= \phi(1 - \kappa I_1), \quad
    \frac{\mathrm{df}_2}{d} = \phi(1 - 2\kappa I_1 + \kappa^2 I_2), \quad
    \kappa - \lambda = \frac{\kappa}{\psi}\frac{\mathrm{df}_1}{d}, \\
    b^\top\Sigma^{-1}b &= c_1^2\,\phi\,(1 - \mu_\star^2 I_1(0)), \qquad
    \kappa^2\,b^\top\Sigma^{-1}(\Sigma+\kappa)^{-2}b = c_1^2\phi\,[\kappa^2 I_2
        - \mu_\star^2(I_1(0) - I_1(\kappa)) + \mu_\star^2\kappa I_2],

(using :math:`\beta^\top W g(W^\top W) W^\top\beta \to \frac1d\operatorname{tr}
W^\top W g(W^\top W)`), then bias, variance, train and test error as for a finite model.
At :math:`\lambda = 0` the test error has its interpolation peak at :math:`N = n`.
"""

from __future__ import annotations

import numpy as np

from spikewise._validation import InvalidParameterError, check_array, check_scalar
from spikewise.solvers.marchenko_pastur import MarchenkoPastur
from spikewise.solvers.risk._ridge import (
    RidgeRisk,
    _check_lambdas,
    _frozen,
    assemble,
    solve_kappa,
)
from spikewise.solvers.risk.finite_width import _as_activation

__all__ = ["random_features_risk"]


def _grid(value, name, owner):
    arr = check_array(value, name, owner, ndim=(0, 1))
    if np.any(arr <= 0):
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be > 0. Got {arr!r} instead."
        )
    return arr


def random_features_risk(lambdas, *, psi, phi, activation="relu", teacher="relu",
                         noise=0.0) -> RidgeRisk:
    r"""Asymptotic ridge risk of random features at initialization (Mei & Montanari 2022).

    Parameters
    ----------
    lambdas : array_like
        Penalties >= 0 in the ridge convention of :mod:`spikewise.conventions`
        (:math:`\hat b = (F^\top F/n + \lambda I)^{-1}F^\top y/n`, :math:`F = \sigma(XW_0)`).
    psi : float or 1-D array_like
        Sample ratio :math:`n/d` (> 0). An array becomes a grid axis ``"psi"``.
    phi : float or 1-D array_like
        Width ratio :math:`N/d` (> 0). An array becomes a grid axis ``"phi"``.
    activation : str or Activation
        Student activation.
    teacher : str or Activation
        Single-index link :math:`\sigma_\star` (direction of norm 1).
    noise : float
        Label-noise standard deviation.

    Returns
    -------
    RidgeRisk
        Arrays of shape ``(len(psi),)? + (len(phi),)? + (L,)`` (axes only for array
        arguments). ``df1``/``df2`` are per input dimension (divided by ``d``).
    """
    owner = "random_features_risk"
    lam = _check_lambdas(lambdas, owner)
    psi_a = _grid(psi, "psi", owner)
    phi_a = _grid(phi, "phi", owner)
    noise = check_scalar(noise, "noise", owner, lower=0.0)
    act = _as_activation(activation, "activation", owner)
    tea = _as_activation(teacher, "teacher", owner)
    mu = act.hermite(1)
    m1 = float(mu[1] ** 2)
    ms = float(act.mu_star2)
    if m1 <= 0 or ms < 0:
        raise InvalidParameterError(
            f"The 'activation' parameter of {owner} must have mu_1 != 0 (the linear part "
            f"carries the teacher's direction). Got mu_1 = {mu[1]:.3g} instead."
        )
    c = tea.hermite(1)
    c1sq = float(c[1] ** 2)
    cstar2 = max(tea.second_moment - c[0] ** 2 - c1sq, 0.0)
    const = 0.0 if abs(mu[0]) > 1e-12 else float(c[0] ** 2)

    coords = {}
    if psi_a.ndim:
        coords["psi"] = psi_a
    if phi_a.ndim:
        coords["phi"] = phi_a
    P = psi_a.reshape((-1, 1, 1)) if psi_a.ndim else psi_a.reshape((1, 1, 1))
    Q = phi_a.reshape((1, -1, 1)) if phi_a.ndim else phi_a.reshape((1, 1, 1))
    shape = (P.shape[0], Q.shape[1], lam.size)
    P = np.broadcast_to(P, shape).ravel()
    Q = np.broadcast_to(Q, shape).ravel()
    L = np.broadcast_to(lam.reshape(1, 1, -1), shape).ravel()

    laws = {float(q): MarchenkoPastur(ratio=float(q)) for q in np.unique(Q)}

    def integrals(kappa, q):
        """I1, I2 at every point (kappa >= 0, q the matching phi)."""
        z = -(ms + kappa) / m1
        i1 = np.full(kappa.shape, np.inf)
        i2 = np.full(kappa.shape, np.inf)
        for value, law in laws.items():
            sel = (q == value) & (z < 0)  # z = 0 only when mu_star = 0 and kappa = 0
            if sel.any():
                i1[sel] = law.stieltjes(z[sel]).real / m1
                i2[sel] = law.dstieltjes(z[sel]).real / m1**2
        return i1, i2

    def dfs(kappa, q):
        """df1/d and df2/d."""
        i1, i2 = integrals(kappa, q)
        pos = kappa > 0
        k_i1 = np.where(pos, kappa * np.where(pos, i1, 0.0), 0.0)
        k2_i2 = np.where(pos, kappa**2 * np.where(pos, i2, 0.0), 0.0)
        if ms == 0.0:  # atom of nu at 0 when phi > 1: rank min(N, d)
            atom = np.maximum(1.0 - 1.0 / q, 0.0)
            k_i1 = np.where(pos, k_i1, atom)
            k2_i2 = np.where(pos, k2_i2, atom)
        return q * (1.0 - k_i1), q * (1.0 - 2.0 * k_i1 + k2_i2)

    def h_dh(sel):
        def f(kappa):
            f1, f2 = dfs(kappa, Q[sel])
            return kappa * (1.0 - f1 / P[sel]), 1.0 - f2 / P[sel]
        return f

    rank = Q if ms > 0 else np.minimum(Q, 1.0)
    over = rank > P
    peak = (rank == P) & (L == 0)
    kappa = np.zeros_like(L)
    upper = L + Q * (m1 + ms) / P  # >= the root: tr(Sigma)/n
    lower = np.zeros_like(L)
    if over.any():
        lower[over] = solve_kappa(np.zeros(int(over.sum())), h_dh(over), lower=0.0,
                                  upper=upper[over] - L[over], owner=owner)
    lower = np.maximum(lower, L)
    solve = ~((L == 0) & ~over)
    if solve.any():
        kappa[solve] = solve_kappa(L[solve], h_dh(solve), lower=lower[solve],
                                   upper=upper[solve], owner=owner)
    f1, f2 = dfs(kappa, Q)
    i1k, i2k = integrals(kappa, Q)
    i10, _ = integrals(np.zeros_like(kappa), Q)
    with np.errstate(invalid="ignore", divide="ignore"):
        ms_i10 = ms * i10 if ms > 0 else np.maximum(1.0 - 1.0 / Q, 0.0)
        explained = c1sq * Q * (1.0 - ms_i10)
        if ms > 0:
            b0 = c1sq * Q * (np.where(kappa > 0, kappa**2 * i2k, 0.0)
                             - ms * (i10 - i1k) + ms * np.where(kappa > 0, kappa * i2k, 0.0))
        else:
            # the atom of nu at 0 (phi > 1) carries no signal: subtract its kappa^2 I2 share
            b0 = c1sq * Q * np.where(kappa > 0, kappa**2 * i2k - ms_i10, 0.0)
    M = np.maximum(c1sq + cstar2 + const - explained, 0.0)
    bias, variance, test, train = assemble(b0, f2 / P, noise**2 + M, kappa, L, peak)
    out_shape = tuple(len(v) for v in coords.values()) + (lam.size,)

    def shaped(a):
        return _frozen(np.reshape(a, out_shape))

    params = {"activation": act.name, "teacher": tea.name, "mu1_sq": m1, "mu_star2": ms,
              "c1_sq": c1sq, "c_star2": cstar2}
    if not psi_a.ndim:
        params["psi"] = float(psi_a)
    if not phi_a.ndim:
        params["phi"] = float(phi_a)
    return RidgeRisk(
        lambdas=_frozen(lam), test_error=shaped(test), train_error=shaped(train),
        bias=shaped(bias), variance=shaped(variance), misspecification=shaped(M),
        noise=noise**2, effective_regularization=shaped(kappa), df1=shaped(f1),
        df2=shaped(f2), coords=coords, params=params,
    )
