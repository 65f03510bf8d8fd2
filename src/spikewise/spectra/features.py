"""Conjugate-kernel features ``F = sigma(X W)`` and their Gram matrices.

``F in R^{n x N}`` on the training inputs (then ``W1`` carries a self-interaction with X) or
on an independent sample. Two Gram orientations (the same nonzero spectrum up to the factor
``n / N``): ``"feature"``, ``F^T F / n`` (N x N, the feature covariance), and ``"sample"``,
``F F^T / N`` (n x n, the conjugate kernel of Pennington & Worah 2017 and Fan & Wang 2020).
"""

from __future__ import annotations

import numpy as np

from spikewise._validation import InvalidParameterError, check_array, check_option
from spikewise.spectra._activation_apply import activate_inplace, resolve_activation
from spikewise.spectra._linalg import gram
from spikewise.spectra.sampling import _check_dtype

__all__ = ["ck_features", "ck_gram", "ORIENTATIONS"]

ORIENTATIONS = ("feature", "sample")


def ck_features(X, W, *, activation="relu", dtype="float64") -> np.ndarray:
    """``F = sigma(X W)`` (n x N): one GEMM, then the activation in place (one pass).

    Parameters
    ----------
    X : array_like (n, d)
        Inputs (training or independent).
    W : array_like (d, N)
        First-layer weights (columns are neurons).
    activation : str or Activation
        Student activation sigma.
    dtype : {"float64", "float32"}
        Arithmetic precision.

    Returns
    -------
    ndarray of shape (n, N)
    """
    owner = "ck_features"
    dt = _check_dtype(dtype, owner).type
    X = check_array(X, "X", owner, ndim=2, dtype=dt)
    W = check_array(W, "W", owner, ndim=2, dtype=dt)
    if W.shape[0] != X.shape[1]:
        raise InvalidParameterError(
            f"The 'W' parameter of {owner} must have {X.shape[1]} rows to match X. "
            f"Got shape {W.shape} instead."
        )
    if min(X.shape + W.shape) < 1:
        raise InvalidParameterError(
            f"The 'X' and 'W' parameters of {owner} must be non-empty. "
            f"Got shapes {X.shape} and {W.shape} instead."
        )
    act = resolve_activation(activation, "activation", owner)
    return activate_inplace(X @ W, act)


def ck_gram(F, *, orientation: str = "feature") -> np.ndarray:
    """The conjugate-kernel Gram matrix of features ``F`` (n x N).

    Parameters
    ----------
    F : array_like of shape (n, N)
        Features, e.g. from :func:`ck_features`.
    orientation : {"feature", "sample"}
        ``F^T F / n`` (N x N) or ``F F^T / N`` (n x n).

    Returns
    -------
    ndarray
        The Gram matrix (symmetric).
    """
    owner = "ck_gram"
    check_option(orientation, "orientation", owner, ORIENTATIONS)
    F = check_array(F, "F", owner, ndim=2, dtype=None)
    n, N = F.shape
    if n == 0 or N == 0:
        raise InvalidParameterError(
            f"The 'F' parameter of {owner} must have at least one row and one column. Got "
            f"shape {F.shape} instead."
        )
    if orientation == "feature":
        return gram(F, side="cols", scale=1.0 / n)
    return gram(F, side="rows", scale=1.0 / N)
