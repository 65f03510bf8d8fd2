r"""Finite-width deterministic equivalent of ridge on the features of a GIVEN first layer W.

For ``W`` (d x N; ``W0`` or the ``W1`` a simulation returns), features
:math:`\varphi(x) = \sigma(W^\top x)`, :math:`x \sim \mathcal{N}(0, I_d)`, and a teacher
:math:`f_\star(x) = \sum_j g_j(\beta_j^\top x)` with orthonormal directions :math:`\beta_j`,
the population moments are Hermite series in the neuron norms :math:`r_i = \|w_i\|` and the
cosines :math:`\rho_{il} = w_i^\top w_l / (r_i r_l)`, :math:`\tau_{ij} = w_i^\top\beta_j/r_i`:

.. math::

    \Sigma_{il} = \sum_{k\ge0} k!\,\mu_k(r_i)\,\mu_k(r_l)\,\rho_{il}^k, \qquad
    b_i = \mathbb{E}[\varphi_i f_\star] = \sum_j\sum_{k\ge0} k!\,\mu_k(r_i)\,c_{jk}\,\tau_{ij}^k,

with :math:`\mu_k(r)` the Hermite coefficients of :math:`z\mapsto\sigma(rz)` and
:math:`c_{jk}` those of :math:`g_j` (Mehler's formula; e.g. O'Donnell 2014, Prop. 11.31).
The diagonal uses the exact :math:`\mathbb{E}\sigma(r_iZ)^2`.

* ReLU family (:math:`\sigma = p_0\max(x,0) + p_1`): the closed-form arc-cosine kernel
  :math:`\mathbb{E}[\max(u,0)\max(v,0)] = r_ir_l\,(\sqrt{1-\rho^2} + (\pi - \arccos\rho)\rho)
  /(2\pi)` (Cho & Saul 2009), no truncation; the same for a ReLU-family teacher.
* Smooth activations: the series is cut at the smallest order :math:`K` whose tail bound
  :math:`|\rho|^{K+1}\sqrt{T_i(K)T_l(K)}`, with :math:`T_i(K) = \mathbb{E}\sigma(r_iZ)^2 -
  \sum_{k\le K}k!\mu_k(r_i)^2` (Cauchy–Schwarz), is below ``tol`` times the largest
  diagonal entry for every pair; the bound reached is stored as ``truncation_error``.

The ridge risk then follows from :mod:`spikewise.solvers.risk._ridge` (one
eigendecomposition of :math:`\Sigma` for all lambdas): this is the theory to put beside ONE
simulation run on the same ``W`` with ``n`` fresh ridge samples.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from spikewise._gauss import factorials, hermite_polynomials, normal_rule
from spikewise._validation import (
    ConvergenceWarning,
    InvalidParameterError,
    check_array,
    check_option,
    check_scalar,
)
from spikewise.activations import Activation, get_activation
from spikewise.solvers.risk._ridge import (
    RidgeRisk,
    _check_lambdas,
    _risk_from_eigen,
    eigen_weights,
)

__all__ = ["FeatureMoments", "feature_moments", "finite_width_risk"]

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_BLOCK = 512


@dataclass(frozen=True, eq=False)
class FeatureMoments:
    r"""Population moments of the features :math:`\sigma(W^\top x)` and of the teacher.

    Attributes
    ----------
    covariance : ndarray (N, N)
        :math:`\Sigma = \mathbb{E}[\varphi\varphi^\top]` (uncentred).
    cross_moment : ndarray (N,)
        :math:`b = \mathbb{E}[\varphi f_\star]`.
    target_second_moment : float
        :math:`\mathbb{E} f_\star^2`.
    order : int
        Hermite order kept in :math:`\Sigma` (0 for the closed-form ReLU kernel).
    truncation_error : float
        Upper bound on the truncation error of any entry of :math:`\Sigma` and :math:`b`.
    """

    covariance: np.ndarray = field(repr=False)
    cross_moment: np.ndarray = field(repr=False)
    target_second_moment: float
    order: int
    truncation_error: float


def _as_activation(spec, name, owner) -> Activation:
    try:
        return spec if isinstance(spec, Activation) else get_activation(spec)
    except (InvalidParameterError, KeyError, ValueError, TypeError) as exc:
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be an activation name or Activation. "
            f"Got {spec!r} instead."
        ) from exc


def _is_relu(act: Activation) -> bool:
    return act.kernel_code == 1


def _scaled_hermite(act: Activation, r: np.ndarray, k_max: int, owner: str):
    """Hermite coefficients ``mu_k(r_i)`` of ``z -> sigma(r_i z)`` (N, k_max+1) and
    ``E sigma(r_i Z)^2`` (N,)."""
    if _is_relu(act):
        p0, p1 = act.kernel_params[:2]
        base = get_activation("relu").hermite(k_max)
        mu = p0 * r[:, None] * base[None, :]
        mu[:, 0] += p1
        second = p0**2 * r**2 / 2 + 2 * p0 * p1 * r * _INV_SQRT_2PI + p1**2
        return mu, second
    if any(k != 0.0 for k in act.kinks):
        raise InvalidParameterError(
            f"The 'activation' parameter of {owner} must be smooth, of the ReLU family, or "
            f"kinked only at 0 (sigma(r z) then has the same kinks for every norm r). Got "
            f"{act.name!r} with kinks {act.kinks} instead."
        )
    x, w = normal_rule(act.kinks)
    vals = act(r[:, None] * x[None, :])
    if not np.all(np.isfinite(vals)):
        raise InvalidParameterError(
            f"The 'activation' parameter of {owner} is not finite on the quadrature nodes."
        )
    He = hermite_polynomials(x, k_max)  # (K+1, nodes)
    mu = (vals * w[None, :]) @ He.T / factorials(k_max)[None, :]
    second = (vals * vals) @ w
    return mu, second


def _tail_energy(mu: np.ndarray, second: np.ndarray) -> np.ndarray:
    """``T(K) = E sigma^2 - sum_{k<=K} k! mu_k^2`` for every K (rows: neurons)."""
    k_max = mu.shape[1] - 1
    cum = np.cumsum(factorials(k_max)[None, :] * mu * mu, axis=1)
    return np.maximum(second[:, None] - cum, 0.0)


def _pick_order(rho_max: float, tail_a, tail_b, target: float, k_max: int):
    """Smallest K with ``rho_max^(K+1) sqrt(max T_a(K) max T_b(K)) <= target``."""
    ta = tail_a.max(axis=0)
    tb = tail_b.max(axis=0)
    bounds = rho_max ** (np.arange(k_max + 1) + 1.0) * np.sqrt(ta * tb)
    ok = np.nonzero(bounds <= target)[0]
    K = int(ok[0]) if ok.size else k_max
    return K, float(bounds[K])


def _arccos_kernel(rho):
    rho = np.clip(rho, -1.0, 1.0)
    return (np.sqrt(1.0 - rho * rho) + (np.pi - np.arccos(rho)) * rho) / (2.0 * np.pi)


def _relu_pair(p, q, ra, rb, rho):
    """``E[(p0 relu(u) + p1)(q0 relu(v) + q1)]``, ``|u| = ra``, ``|v| = rb``, cos ``rho``."""
    return (p[0] * q[0] * ra * rb * _arccos_kernel(rho)
            + (p[0] * q[1] * ra + p[1] * q[0] * rb) * _INV_SQRT_2PI + p[1] * q[1])


def _teacher_spec(teacher, n_index, owner):
    if isinstance(teacher, (list, tuple)):
        acts = [_as_activation(t, "teacher", owner) for t in teacher]
        if len(acts) != n_index:
            raise InvalidParameterError(
                f"The 'teacher' parameter of {owner} must give one link per direction "
                f"({n_index}). Got {len(acts)} instead."
            )
        return acts
    return [_as_activation(teacher, "teacher", owner)] * n_index


def feature_moments(W, directions, *, activation="relu", teacher="relu", tol=1e-10,
                    k_max=80, expansion="exact") -> FeatureMoments:
    r"""Population moments :math:`\Sigma`, :math:`b`, :math:`\mathbb{E}f_\star^2` for a given W.

    Parameters
    ----------
    W : array_like (d, N)
        First layer, one column per neuron (any norms).
    directions : array_like (d,) or (d, k)
        Orthonormal teacher directions :math:`\beta_j`.
    activation : str or Activation
        Student activation :math:`\sigma`.
    teacher : str, Activation, or a sequence of k of them
        Links :math:`g_j`; :math:`f_\star(x) = \sum_j g_j(\beta_j^\top x)`.
    tol : float, default 1e-10
        Target bound on the truncation error of each entry, relative to
        :math:`\max_i\Sigma_{ii}` (smooth activations).
    k_max : int, default 80
        Highest Hermite order; when the bound is not met there, a
        :class:`~spikewise._validation.ConvergenceWarning` gives the bound reached.
    expansion : {"exact", "linear"}, default "exact"
        ``"exact"``: the full series (or the arc-cosine closed form). ``"linear"``: plain
        Gaussian equivalence, :math:`\varphi_i \approx \mu_0(r_i) + \mu_1(r_i)\,
        w_i^\top x/r_i + \mu_{\star}(r_i) z_i` (Goldt et al. 2022; Hu & Lu 2022), i.e. the
        series cut at order 1 off the diagonal, the diagonal and :math:`\mathbb E f_\star^2`
        exact; ``truncation_error`` is then NaN (the cut is the model, not an
        approximation to it).

    Returns
    -------
    FeatureMoments
    """
    return _moments(W, directions, activation=activation, teacher=teacher, tol=tol,
                    k_max=k_max, expansion=expansion, full=True)


def _moments(W, directions, *, activation, teacher, tol, k_max, expansion, full):
    """:func:`feature_moments`; ``full=False`` leaves the lower triangle of Sigma unset."""
    owner = "feature_moments"
    W = check_array(W, "W", owner, ndim=2)
    d, N = W.shape
    if d < 1 or N < 1:
        raise InvalidParameterError(
            f"The 'W' parameter of {owner} must be non-empty. Got shape {W.shape} instead."
        )
    B = check_array(directions, "directions", owner, ndim=(1, 2))
    B = B.reshape(-1, 1) if B.ndim == 1 else B
    if B.shape[0] != d or not 1 <= B.shape[1] <= d:
        raise InvalidParameterError(
            f"The 'directions' parameter of {owner} must have shape (d,) or (d, k) with "
            f"d = {d} rows, matching W of shape {W.shape}. Got shape {B.shape} instead."
        )
    if not np.allclose(B.T @ B, np.eye(B.shape[1]), atol=1e-8):
        raise InvalidParameterError(
            f"The 'directions' parameter of {owner} must have orthonormal columns "
            f"(||B^T B - I|| <= 1e-8). Got ||B^T B - I|| = "
            f"{np.abs(B.T @ B - np.eye(B.shape[1])).max():.3e} instead."
        )
    act = _as_activation(activation, "activation", owner)
    links = _teacher_spec(teacher, B.shape[1], owner)
    check_option(expansion, "expansion", owner, ("exact", "linear"))
    linear = expansion == "linear"
    tol = check_scalar(tol, "tol", owner, lower=0.0, lower_inclusive=False)
    k_max = check_scalar(k_max, "k_max", owner, kind="int", lower=1, upper=100)
    relu = _is_relu(act) and not linear

    r = np.linalg.norm(W, axis=0)
    if np.any(r == 0):
        raise InvalidParameterError(
            f"The 'W' parameter of {owner} must have non-zero columns. Got "
            f"{int(np.sum(r == 0))} zero columns instead."
        )
    Wn = W / r[None, :]
    mu, second = _scaled_hermite(act, r, k_max, owner)
    fact = factorials(k_max)
    scale = float(second.max())
    target = tol * max(scale, 1e-300)

    # teacher: E f*^2 and b
    c = np.stack([g.hermite(k_max) for g in links])  # (k, K+1)
    means = c[:, 0]
    Ef2 = float(sum(g.second_moment for g in links) + means.sum() ** 2 - np.sum(means**2))
    tau = np.clip(Wn.T @ B, -1.0, 1.0)  # (N, k)
    b = np.zeros(N)
    bound_b = 0.0
    tail_mu = _tail_energy(mu, second)
    for j, g in enumerate(links):
        if relu and _is_relu(g):
            b += _relu_pair(act.kernel_params[:2], g.kernel_params[:2], r, 1.0, tau[:, j])
            continue
        tail_c = _tail_energy(c[j][None, :], np.array([g.second_moment]))
        if linear:
            Kb, bj = 1, np.nan
        else:
            Kb, bj = _pick_order(float(np.abs(tau[:, j]).max()), tail_mu, tail_c, target,
                                 k_max)
        bound_b = max(bound_b, bj)
        powers = tau[:, j][:, None] ** np.arange(Kb + 1)[None, :]
        b += (mu[:, : Kb + 1] * powers) @ (fact[: Kb + 1] * c[j, : Kb + 1])

    # Sigma, by row blocks of its upper triangle (the lower one is mirrored at the end, or
    # left unset for the eigensolver, which reads only the upper triangle): S first holds
    # the cosines, then, block by block, the series
    S = np.empty((N, N))
    rho_max = 0.0
    for start in range(0, N, _BLOCK):
        sl = slice(start, min(start + _BLOCK, N))
        block = S[sl, start:]
        np.matmul(Wn[:, sl].T, Wn[:, start:], out=block)
        block[:, : sl.stop - start][np.diag_indices(sl.stop - start)] = 0.0
        rho_max = max(rho_max, float(np.abs(block).max()))
    if relu:
        K, bound_s = 0, 0.0
    elif linear:
        K, bound_s = 1, np.nan
    else:
        K, bound_s = _pick_order(rho_max, tail_mu, tail_mu, target, k_max)
    for start in range(0, N, _BLOCK):
        sl = slice(start, min(start + _BLOCK, N))
        acc = S[sl, start:]
        R = acc.copy()
        if relu:
            p = act.kernel_params[:2]
            acc[...] = _relu_pair(p, p, r[sl, None], r[None, start:], R)
        else:  # Horner in rho: sum_k k! mu_k(r_i) mu_k(r_l) rho^k
            np.multiply.outer(mu[sl, K], fact[K] * mu[start:, K], out=acc)
            for k in range(K - 1, -1, -1):
                acc *= R
                acc += np.multiply.outer(mu[sl, k], fact[k] * mu[start:, k])
        if full:
            S[start:, sl] = acc.T
    S[np.diag_indices(N)] = second
    bound = np.nan if linear else max(bound_s, bound_b)
    if bound > target:
        warnings.warn(
            f"{owner}: the Hermite series was cut at order k_max = {k_max} with a "
            f"truncation bound {bound:.3e} above the target {target:.3e} (largest off-diagonal "
            "cosine close to 1); raise k_max or accept the bound.",
            ConvergenceWarning, stacklevel=2,
        )
    return FeatureMoments(covariance=S, cross_moment=b, target_second_moment=Ef2, order=K,
                          truncation_error=bound)


def finite_width_risk(W, directions, *, n, lambdas, activation="relu", teacher="relu",
                      noise=0.0, tol=1e-10, k_max=80, expansion="exact") -> RidgeRisk:
    r"""Deterministic equivalent of ridge on :math:`\sigma(XW)` for a GIVEN first layer W.

    Ridge in the convention of :mod:`spikewise.conventions` (the one of
    :func:`spikewise.spectra.ridge_path`): :math:`\hat b = (F^\top F/n + \lambda I)^{-1}
    F^\top y/n` with :math:`F = \sigma(XW)` on ``n`` samples independent of ``W`` (fresh
    ridge samples), :math:`y = f_\star(x) + \text{noise}\cdot\varepsilon`. The population
    moments come from :func:`feature_moments`, the risk from the fixed point of Bach (2023) /
    Atanasov, Zavatone-Veth & Pehlevan (2024) (see :mod:`spikewise.solvers.risk._ridge`).
    Cost: one Hermite/arc-cosine pass over the N x N cosines and one symmetric
    eigenvalue problem without eigenvectors of :math:`\Sigma` (the weights of :math:`b` on
    them come as residues, ``solvers.risk._ridge.eigen_weights``); memory
    about two N x N doubles at the peak (1.6 measured at N = 8000).

    Parameters
    ----------
    W : array_like (d, N)
        First layer (``W0``, or ``W1`` after a step).
    directions : array_like (d,) or (d, k)
        Orthonormal teacher directions.
    n : int
        Ridge samples, >= 1.
    lambdas : array_like
        Penalties >= 0.
    activation, teacher, tol, k_max, expansion
        As in :func:`feature_moments`; ``expansion="linear"`` gives the plain
        Gaussian-equivalence prediction.
    noise : float
        Label-noise standard deviation.

    Returns
    -------
    RidgeRisk
        Over the lambda path; ``params`` holds ``n``, ``d``, ``N``, the Hermite ``order`` and
        ``truncation_error``.
    """
    owner = "finite_width_risk"
    n = check_scalar(n, "n", owner, kind="int", lower=1)
    lam = _check_lambdas(lambdas, owner)
    noise = check_scalar(noise, "noise", owner, lower=0.0)
    mom = _moments(W, directions, activation=activation, teacher=teacher, tol=tol,
                   k_max=k_max, expansion=expansion, full=False)  # upper triangle suffices
    d, N = np.shape(W)
    s, c2 = eigen_weights(mom.covariance, mom.cross_moment)  # overwrites the covariance
    params = {"d": d, "N": N, "order": mom.order, "expansion": expansion,
              "truncation_error": mom.truncation_error,
              "activation": _as_activation(activation, "activation", owner).name}
    return _risk_from_eigen(s, c2, mom.target_second_moment, n=n, lambdas=lam, noise=noise,
                            params=params, owner=owner, slack=1e-6)
