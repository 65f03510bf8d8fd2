r"""The data-adaptive kernel of the learned features (function-space view of a large step).

The features of the spiked random-feature model
(:class:`~spikewise.solvers.spiked_rf.SpikedRandomFeatures`,
:math:`w = s(\tilde a)w_0 + t\tilde a v`) define, as :math:`N \to \infty`, the kernel

.. math:: K_1(x, x') = \mathbb E_{\tilde a, w_0}\big[\sigma(w^\top x)\,\sigma(w^\top x')\big]
   = \sum_{l\ge0} l!\;\mathbb E_{\tilde a}\big[A_l(a_x, t\tilde a\kappa)\,
   A_l(a_{x'}, t\tilde a\kappa')\big]\,\rho^l,

with :math:`\kappa = v^\top x`, :math:`a_x = s\|x\|/\sqrt d`,
:math:`\rho = x^\top x'/(\|x\|\|x'\|)` and :math:`A_l` the shifted Hermite coefficients of
the model (Mehler's formula; the kernel is the empirical :math:`FF^\top/N` of infinitely
many neurons). At initialization (:math:`t = 0`) it is an inner-product kernel. After the
step it is *data-adaptive* ("How does feature learning reshape the function space?"): it
depends on the input through its projection on the learned direction.

Eigen-decomposition under :math:`x \sim \mathcal N(0, I_d)`, :math:`d \to \infty`, resolved
by the degree in the directions orthogonal to :math:`v`:

* **degree 0** (functions of :math:`\kappa` only): the operator with kernel
  :math:`K^{(0)}(\kappa, \kappa') = \mathbb E_{\tilde a}[A_0(s, t\tilde a\kappa)
  A_0(s, t\tilde a\kappa')]` on :math:`L^2(\mathcal N(0,1))`, eigenvalues of order one. At
  :math:`t = 0` only the constant survives (:math:`\mu_0^2`); the step *amplifies* the
  eigenvalues of functions of :math:`\kappa`, i.e. of the target direction
  (:math:`\beta^\top v = \gamma`): an eigenfunction :math:`f(\kappa) = \sum_k f_k
  \mathrm{He}_k(\kappa)/\sqrt{k!}` has squared overlap
  :math:`\sum_{k\ge1} f_k^2\gamma^{2k}` with the non-constant functions of
  :math:`\beta^\top x` (Mehler).
* **degree 1** (:math:`(u^\top x)g(\kappa)`, :math:`u \perp v`; multiplicity
  :math:`d - 1`): eigenvalues :math:`\lambda/d`, :math:`\lambda` those of
  :math:`\mathbb E_{\tilde a}[A_1(s, t\tilde a\kappa)A_1(s, t\tilde a\kappa')]` (the terms
  :math:`l \ge 3` are :math:`O(d^{-2})`). At :math:`t = 0`: :math:`\mu_1^2/d`.

The eigenvalues are computed by the Nyström method on Gauss--Hermite nodes in
:math:`\kappa`. They are the nonzero eigenvalues of the type Gram operator of
:func:`~spikewise.solvers.feature_spectrum` (duality: its outliers are :math:`N` times the
degree-0 eigenvalues, to first order). The radial mode (:math:`\|x\|^2`) enters at order
:math:`d^{-1/2}` through :math:`a_x` and is not resolved here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from spikewise._gauss import factorials, hermite_polynomials, normal_rule
from spikewise._validation import InvalidParameterError, check_array, check_scalar
from spikewise.solvers.spiked_rf.model import (
    SpikedRandomFeatures,
    _shifted_second_moment,
    mehler_gram,
    shifted_hermite,
)

__all__ = ["AdaptiveKernel", "adaptive_kernel", "kernel_matrix"]


@dataclass(frozen=True, eq=False)
class AdaptiveKernel:
    """Eigenvalues of the data-adaptive kernel, by degree (module docstring).

    Attributes
    ----------
    degree0 : ndarray (k,)
        Eigenvalues of the functions of :math:`\\kappa` (descending).
    hermite : ndarray (k, k_max + 1)
        Squared coefficients of their eigenfunctions on the normalized
        :math:`\\mathrm{He}_j(\\kappa)/\\sqrt{j!}`.
    target_alignment : ndarray (k,)
        Squared overlap of each eigenfunction with the non-constant functions of
        :math:`\\beta^\\top x`.
    degree1 : ndarray (k,)
        Eigenvalues of :math:`(u^\\top x)g(\\kappa)`, :math:`u \\perp v` (each with
        multiplicity :math:`d - 1`), already divided by :math:`d`.
    d : int
    params : dict
    """

    degree0: np.ndarray
    hermite: np.ndarray = field(repr=False)
    target_alignment: np.ndarray
    degree1: np.ndarray
    d: int
    params: dict = field(default_factory=dict, repr=False)


def _nystrom(A, kw, tw, k):
    """Top-k eigenpairs of the kernel sum_t tw A[t](kappa) A[t](kappa') on nodes kappa."""
    sq = np.sqrt(kw)
    M = ((A * tw[None, :]) @ A.T) * np.outer(sq, sq)
    lam, U = np.linalg.eigh(M)
    order = np.argsort(lam)[::-1][:k]
    return lam[order], U[:, order] / sq[:, None]


def adaptive_kernel(model: SpikedRandomFeatures, *, d, k=6, k_max=8, nodes=120,
                    n_types=64) -> AdaptiveKernel:
    r"""Eigen-decomposition of the data-adaptive kernel :math:`K_1` by degree.

    Parameters
    ----------
    model : SpikedRandomFeatures
    d : int >= 2
        Input dimension (scales the degree-1 eigenvalues).
    k : int
        Number of eigenvalues per degree.
    k_max : int
        Hermite degrees reported for the degree-0 eigenfunctions.
    nodes : int
        Gauss--Hermite nodes in :math:`\kappa`.
    n_types : int
        Gauss--Hermite nodes of a Gaussian second layer.

    Returns
    -------
    AdaptiveKernel
    """
    owner = "adaptive_kernel"
    if not isinstance(model, SpikedRandomFeatures):
        raise InvalidParameterError(
            f"The 'model' parameter of {owner} must be a SpikedRandomFeatures. Got "
            f"{type(model).__name__} instead."
        )
    d = check_scalar(d, "d", owner, kind="int", lower=2)
    k = check_scalar(k, "k", owner, kind="int", lower=1, upper=50)
    k_max = check_scalar(k_max, "k_max", owner, kind="int", lower=0, upper=40)
    nodes = check_scalar(nodes, "nodes", owner, kind="int", lower=8, upper=1000)
    kx, kw = (np.asarray(a) for a in normal_rule(nodes=nodes))
    tx, tw = model.neuron_law(n_nodes=n_types)
    s = np.sqrt(1.0 + model.inflation * tx * tx)
    A = shifted_hermite(model.activation, np.broadcast_to(s, (kx.size, tx.size)),
                        model.strength * kx[:, None] * tx[None, :], 1, owner=owner)
    lam0, F0 = _nystrom(A[0], kw, tw, k)
    lam1, _ = _nystrom(A[1], kw, tw, k)
    He = hermite_polynomials(kx, k_max) / np.sqrt(factorials(k_max))[:, None]
    coef = (He * kw) @ F0  # (k_max + 1, k): coefficients on He_j / sqrt(j!)
    coef2 = (coef**2).T
    gamma2 = model.overlap**2
    align = coef2[:, 1:] @ (gamma2 ** np.arange(1, k_max + 1))
    return AdaptiveKernel(
        degree0=np.maximum(lam0, 0.0), hermite=coef2, target_alignment=align,
        degree1=np.maximum(lam1, 0.0) / d, d=d,
        params={**model.params, "d": d, "nodes": nodes},
    )


def kernel_matrix(model: SpikedRandomFeatures, X, *, direction, n_types=64):
    r""":math:`K_1(x_i, x_j)` for the rows of ``X`` (module docstring; Mehler series to the
    model's ``l_max``, exact diagonal), with ``direction`` the learned direction :math:`v`.

    The infinite-width limit of :math:`FF^\top/N`; ``eigvalsh(kernel_matrix(...)) / n``
    estimates the kernel operator's eigenvalues.
    """
    owner = "kernel_matrix"
    X = check_array(X, "X", owner, ndim=2)
    n, d = X.shape
    v = check_array(direction, "direction", owner, ndim=1, shape=(d,))
    nv = float(np.linalg.norm(v))
    if not nv > 0:
        raise InvalidParameterError(
            f"The 'direction' parameter of {owner} must be a nonzero vector. Got zeros instead."
        )
    v = v / nv
    tx, tw = model.neuron_law(n_nodes=n_types)
    s = np.sqrt(1.0 + model.inflation * tx * tx)
    norms = np.linalg.norm(X, axis=1)
    kappa = X @ v
    a = norms[:, None] * s[None, :] / math.sqrt(d)  # (n, T)
    shift = model.strength * kappa[:, None] * tx[None, :]
    A = shifted_hermite(model.activation, a, shift, model.l_max, owner=owner)
    rho = (X @ X.T) / np.outer(norms, norms)
    K = mehler_gram(A, tw, rho)
    np.fill_diagonal(K, _shifted_second_moment(model.activation, a, shift, owner=owner) @ tw)
    return K
