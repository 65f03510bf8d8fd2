"""Alignments: which teacher direction and which polynomial a spike learned.

* Weights (Ba et al. 2022; Moniri & Hassani 2025): squared overlaps ``<u_i, beta_j>^2`` of the
  top left singular vectors ``u_i`` of ``W1`` (or ``W2``, or the update ``W1 - W0``) with the
  unit teacher directions ``beta_j``.
* Conjugate kernel (Moniri et al. 2023): squared overlaps ``<v_i, h_k>^2`` of the top
  eigenvectors ``v_i in R^n`` of ``F F^T / N`` with the normalized Hermite features
  ``h_k = He_k(X beta) / ||He_k(X beta)||`` (probabilists' He_k, k = 1, 2, 3, ...): the k-th
  spike of ``sigma(X W1)`` aligns with ``h_k``.
"""

from __future__ import annotations

import numpy as np

from spikewise._gauss import hermite_polynomials
from spikewise._validation import InvalidParameterError, check_array, check_scalar
from spikewise.spectra.spectrum import top_ck_eigen, top_singular

__all__ = [
    "squared_overlaps",
    "hermite_features",
    "weight_alignments",
    "hermite_alignments",
    "ck_hermite_alignments",
]


def _unit_columns(V, name, owner, dim=None):
    V = check_array(V, name, owner, ndim=(1, 2))
    V = V.reshape(-1, 1) if V.ndim == 1 else V
    if dim is not None and V.shape[0] != dim:
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must have {dim} rows. "
            f"Got shape {V.shape} instead."
        )
    norms = np.linalg.norm(V, axis=0)
    if np.any(norms == 0):
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must have nonzero columns. "
            f"Got zero columns at {np.flatnonzero(norms == 0).tolist()} instead."
        )
    return V / norms


def squared_overlaps(vectors, directions) -> np.ndarray:
    """Squared cosines ``(<v_i, b_j> / (|v_i| |b_j|))^2`` between two sets of columns.

    Parameters
    ----------
    vectors : array_like of shape (p,) or (p, k)
        Nonzero columns ``v_i``.
    directions : array_like of shape (p,) or (p, m)
        Nonzero columns ``b_j``.

    Returns
    -------
    ndarray of shape (k, m)
    """
    owner = "squared_overlaps"
    V = _unit_columns(vectors, "vectors", owner)
    B = _unit_columns(directions, "directions", owner, dim=V.shape[0])
    return (V.T @ B) ** 2


def hermite_features(X, direction, *, degrees=(1, 2, 3)) -> np.ndarray:
    """The features ``He_k(X beta)``, each normalized to unit norm.

    Parameters
    ----------
    X : array_like of shape (n, d)
        Inputs.
    direction : array_like of shape (d,)
        Teacher direction (normalized here).
    degrees : sequence of int
        Hermite degrees ``k >= 0`` (probabilists' ``He_k``).

    Returns
    -------
    ndarray of shape (n, len(degrees))
    """
    owner = "hermite_features"
    X = check_array(X, "X", owner, ndim=2)
    b = _unit_columns(direction, "direction", owner, dim=X.shape[1])[:, 0]
    degrees = [check_scalar(k, "degrees", owner, kind="int", lower=0) for k in degrees]
    out = np.ascontiguousarray(hermite_polynomials(X @ b, max(degrees))[degrees].T)
    norms = np.linalg.norm(out, axis=0)
    return out / np.where(norms > 0, norms, 1.0)


def weight_alignments(W, directions, *, k: int = 1, method: str = "dense") -> np.ndarray:
    """Squared overlaps of the top-k left singular vectors of ``W`` with the teacher directions.

    Parameters
    ----------
    W : array_like of shape (d, N)
        Weights (e.g. ``W1``) or an update ``W1 - W0``.
    directions : array_like of shape (d,) or (d, m)
        Teacher directions.
    k : int
        Number of top singular vectors.
    method : {"dense", "lanczos"}
        As in :func:`~spikewise.spectra.spectrum.top_singular`.

    Returns
    -------
    ndarray of shape (k, m)
    """
    owner = "weight_alignments"
    W = check_array(W, "W", owner, ndim=2, dtype=None)
    B = _unit_columns(directions, "directions", owner, dim=W.shape[0])
    _, U, _ = top_singular(W, k, method=method)
    return squared_overlaps(U, B)


def hermite_alignments(vectors, X, directions, *, degrees=(1, 2, 3)) -> np.ndarray:
    """Squared overlaps of sample-space vectors with the normalized ``He_deg(X beta_j)``.

    Parameters
    ----------
    vectors : array_like of shape (n,) or (n, k)
        Sample-space vectors, e.g. top eigenvectors of ``F F^T / N``.
    X : array_like of shape (n, d)
        The inputs the vectors live on.
    directions : array_like of shape (d,) or (d, m)
        Teacher directions.
    degrees : sequence of int
        Hermite degrees.

    Returns
    -------
    ndarray of shape (k, m, len(degrees))
    """
    owner = "hermite_alignments"
    X = check_array(X, "X", owner, ndim=2)
    V = _unit_columns(vectors, "vectors", owner, dim=X.shape[0])
    B = _unit_columns(directions, "directions", owner, dim=X.shape[1])
    out = np.empty((V.shape[1], B.shape[1], len(tuple(degrees))))
    for j in range(B.shape[1]):
        out[:, j, :] = (V.T @ hermite_features(X, B[:, j], degrees=degrees)) ** 2
    return out


def ck_hermite_alignments(
    F, X, directions, *, k: int = 1, degrees=(1, 2, 3), method: str = "dense"
) -> np.ndarray:
    """Top-k eigenvectors of ``F F^T / N`` against the normalized ``He_deg(X beta_j)``.

    Parameters
    ----------
    F : array_like of shape (n, N)
        Features on the inputs ``X``.
    X : array_like of shape (n, d)
        Inputs.
    directions : array_like of shape (d,) or (d, m)
        Teacher directions.
    k : int
        Number of top eigenvectors.
    degrees : sequence of int
        Hermite degrees.
    method : {"dense", "lanczos"}
        As in :func:`~spikewise.spectra.spectrum.top_ck_eigen`.

    Returns
    -------
    ndarray of shape (k, len(directions), len(degrees))
    """
    owner = "ck_hermite_alignments"
    X = check_array(X, "X", owner, ndim=2)
    F = check_array(F, "F", owner, ndim=2, shape=(X.shape[0], None), dtype=None)
    _unit_columns(directions, "directions", owner, dim=X.shape[1])
    for deg in degrees:
        check_scalar(deg, "degrees", owner, kind="int", lower=0)
    _, V = top_ck_eigen(F, k, orientation="sample", method=method)
    return hermite_alignments(V, X, directions, degrees=degrees)
