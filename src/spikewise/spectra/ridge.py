r"""Ridge regression of the second layer on the features, for a whole path of lambdas.

Convention (issue 2): with ``F = sigma(X W)`` (n x N) the second layer is

.. math::

    \hat a = \arg\min_a \frac1n \|y - F a / \sqrt N\|^2 + \frac{\lambda}{N} \|a\|^2,
    \qquad \hat b = \hat a / \sqrt N = (F^\top F / n + \lambda I_N)^{-1} F^\top y / n .

lambda multiplies the normalized loss and is not divided by n again; papers writing
``(F^T F + lambda I)^{-1}`` have ``lambda_paper = n * lambda`` (see
:mod:`spikewise.conventions` for the presets). One eigendecomposition of the smaller Gram
(``F^T F / n`` when N <= n, else ``F F^T / n`` with the push-through identity) serves every
lambda.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from spikewise._validation import InvalidParameterError, check_array

__all__ = ["RidgePath", "ridge_path"]


@dataclass(frozen=True, eq=False)
class RidgePath:
    """Ridge fits along a path of lambdas.

    Attributes
    ----------
    lambdas : ndarray (L,)
    coef : ndarray (L, N)
        ``b_hat(lambda) = a_hat / sqrt(N)``; predictions are ``F @ coef[l]``.
    train_error : ndarray (L,)
        ``(1/n) ||y - F b_hat||^2``.
    test_error : ndarray (L,) or None
        The same on the independent test sample, when given.
    """

    lambdas: np.ndarray
    coef: np.ndarray = field(repr=False)
    train_error: np.ndarray
    test_error: np.ndarray | None = None

    @property
    def second_layer(self) -> np.ndarray:
        """``a_hat = sqrt(N) b_hat`` in the network's scaling, shape (L, N)."""
        return self.coef * np.sqrt(self.coef.shape[1])


def ridge_path(F, y, *, lambdas, F_test=None, y_test=None) -> RidgePath:
    """Fit ``b_hat(lambda) = (F^T F / n + lambda I)^{-1} F^T y / n`` for every lambda.

    Parameters
    ----------
    F : array_like (n, N)
        Training features.
    y : array_like (n,)
        Training labels.
    lambdas : array_like
        Penalties (>= 0, our convention). ``lambda = 0`` gives the minimum-norm least-squares
        fit.
    F_test, y_test : array_like, optional
        An independent sample for the test error.

    Returns
    -------
    RidgePath
        Coefficients, training errors (and test errors) along ``lambdas``.
    """
    owner = "ridge_path"
    F = check_array(F, "F", owner, ndim=2)
    n, N = F.shape
    if n < 1 or N < 1:
        raise InvalidParameterError(
            f"The 'F' parameter of {owner} must be non-empty. Got shape {F.shape} instead."
        )
    y = check_array(y, "y", owner, ndim=1, shape=(n,))
    lam = check_array(lambdas, "lambdas", owner, ndim=(0, 1)).reshape(-1)
    if lam.size == 0 or np.any(lam < 0):
        raise InvalidParameterError(
            f"The 'lambdas' parameter of {owner} must be a non-empty array of finite floats "
            f">= 0. Got {lam!r} instead."
        )
    if (F_test is None) != (y_test is None):
        raise InvalidParameterError(
            f"The 'F_test' and 'y_test' parameters of {owner} must be given together. "
            f"Got only {'F_test' if y_test is None else 'y_test'} instead."
        )
    if F_test is not None:
        F_test = check_array(F_test, "F_test", owner, ndim=2, shape=(None, N))
        y_test = check_array(y_test, "y_test", owner, ndim=1, shape=(F_test.shape[0],))
    if N <= n:
        s, V = np.linalg.eigh(F.T @ F / n)  # F^T F / n = V diag(s) V^T
        c = V.T @ (F.T @ y) / n
        tol = max(float(s.max()), 0.0) * N * np.finfo(float).eps
        denom = s[None, :] + lam[:, None]
        inv = np.where(denom > tol, 1.0 / np.where(denom > tol, denom, 1.0), 0.0)
        coef = (inv * c[None, :]) @ V.T
    else:
        s, U = np.linalg.eigh(F @ F.T / n)  # F F^T / n = U diag(s) U^T
        c = U.T @ y / n
        tol = max(float(s.max()), 0.0) * n * np.finfo(float).eps
        denom = s[None, :] + lam[:, None]
        inv = np.where(denom > tol, 1.0 / np.where(denom > tol, denom, 1.0), 0.0)
        # (F^T F/n + lam)^{-1} F^T y/n = F^T (F F^T/n + lam)^{-1} y/n
        coef = ((inv * c[None, :]) @ U.T) @ F
    train = np.mean((y[None, :] - coef @ F.T) ** 2, axis=1)
    test = None
    if F_test is not None:
        test = np.mean((y_test[None, :] - coef @ F_test.T) ** 2, axis=1)
    return RidgePath(lambdas=lam, coef=coef, train_error=train, test_error=test)
