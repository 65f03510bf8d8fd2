"""Dense / top-k spectral computations, returning the frozen :class:`Spectrum` result.

(:class:`Spectrum` and :func:`tracy_widom_margin` are defined in :mod:`._spectrum_base` and
re-exported here; ``method="matrix_free"`` dispatches to :mod:`.matrix_free`.)

Dense spectra go through the smaller Gram matrix (``sqrt(eigvalsh(A A^T))`` for singular
values, faster than ``svdvals``; timings in ``docs/architecture.rst``); only when outliers alone
are wanted, :func:`top_singular` and :func:`top_ck_eigen` use Lanczos (ARPACK) with a fixed
start vector, so they are reproducible.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy.sparse.linalg import LinearOperator, eigsh, svds

from spikewise._validation import (
    InvalidParameterError,
    check_array,
    check_option,
    check_scalar,
)
from spikewise.spectra._linalg import eigh_top, gram_spectrum
from spikewise.spectra._spectrum_base import Spectrum, tracy_widom_margin
from spikewise.spectra.features import ORIENTATIONS
from spikewise.spectra.matrix_free import ck_density, eigen_density, singular_density

__all__ = [
    "Spectrum",
    "eigen_spectrum",
    "singular_spectrum",
    "ck_spectrum",
    "top_singular",
    "top_ck_eigen",
    "tracy_widom_margin",
    "MATRIX_FREE_SIZE",
]

#: ``method="auto"`` switches to the matrix-free density (SLQ, :mod:`.matrix_free`) when the
#: matrix a dense solver would diagonalize has more than this many rows
#: (benchmarks/bench_matrix_free.py: at 3000 dense is still faster or on par, at 6000 the
#: matrix-free density is several times faster).
MATRIX_FREE_SIZE = 4000
_METHODS = ("auto", "dense", "matrix_free")


def _use_matrix_free(method, m, options, owner):
    """Validate ``method`` / ``options`` and decide dense (False) or matrix-free (True)."""
    method = check_option(method, "method", owner, _METHODS)
    if options is not None and not isinstance(options, Mapping):
        raise InvalidParameterError(
            f"The 'options' parameter of {owner} must be a dict of keyword arguments of the "
            f"matrix-free function or None. Got {type(options).__name__} instead."
        )
    if method == "dense" and options:
        raise InvalidParameterError(
            f"The 'options' parameter of {owner} applies to method='matrix_free' (or 'auto' "
            f"past MATRIX_FREE_SIZE) only. Got {dict(options)!r} with method='dense' instead."
        )
    return method == "matrix_free" or (method == "auto" and m > MATRIX_FREE_SIZE)


def _matrix(A, name, owner):
    A = check_array(A, name, owner, ndim=2, dtype=None)
    if A.dtype not in (np.float32, np.float64):
        A = A.astype(np.float64)
    if min(A.shape) < 1:
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be non-empty. Got shape {A.shape} instead."
        )
    return A


_METHOD_DOC = """source : str
        Label of the matrix.
    params : dict, optional
        Parameters of the experiment, used in labels.
    method : {"auto", "dense", "matrix_free"}, default "auto"
        ``"dense"``: all values by LAPACK. ``"matrix_free"``: a
        :class:`~spikewise.spectra.DensitySpectrum` (stochastic Lanczos quadrature from
        products with the matrix, never squaring it; see :mod:`spikewise.spectra.matrix_free`).
        ``"auto"``: dense up to :data:`MATRIX_FREE_SIZE` rows of the matrix to diagonalize,
        matrix-free beyond.
    options : dict, optional
        Keyword arguments of the matrix-free function (``k``, ``n_probes``, ``n_steps``,
        ``tol``, ``max_steps``, ``rng``); only with a matrix-free method."""


def eigen_spectrum(S, *, source: str = "S", params=None, method: str = "auto",
                   options=None) -> Spectrum:
    """All eigenvalues of a symmetric matrix (LAPACK ``?sytrd`` + ``?sterf``), or its density.

    Parameters
    ----------
    S : array_like (m, m)
        Symmetric (checked to relative 1e-8).
    {method}

    Returns
    -------
    Spectrum
        A :class:`~spikewise.spectra.DensitySpectrum` when matrix-free.
    """
    owner = "eigen_spectrum"
    S = _matrix(S, "S", owner)
    if S.shape[0] != S.shape[1]:
        raise InvalidParameterError(
            f"The 'S' parameter of {owner} must be square. Got shape {S.shape} instead."
        )
    if _use_matrix_free(method, S.shape[0], options, owner):
        return eigen_density(S, source=source, params=params, **(options or {}))
    # LAPACK reads one triangle only: a non-symmetric S would give a silently wrong spectrum
    asym = float(np.max(np.abs(S - S.T))) if S.size else 0.0
    if asym > 1e-8 * float(np.max(np.abs(S))):
        raise InvalidParameterError(
            f"The 'S' parameter of {owner} must be symmetric (to relative 1e-8). "
            f"Got max |S - S^T| = {asym:.3g} instead."
        )
    vals, _ = eigh_top(S, 0)
    p = {"tw_size": S.shape[0], **(params or {})}
    return Spectrum(vals, kind="eigen", source=source, params=p)


def singular_spectrum(A, *, source: str = "A", params=None, method: str = "auto",
                      options=None) -> Spectrum:
    """All ``min(p, q)`` singular values of A, as ``sqrt(eigvalsh)`` of the smaller Gram.

    Parameters
    ----------
    A : array_like (p, q)
    {method}

    Returns
    -------
    Spectrum
        A :class:`~spikewise.spectra.DensitySpectrum` when matrix-free.
    """
    owner = "singular_spectrum"
    A = _matrix(A, "A", owner)
    if _use_matrix_free(method, min(A.shape), options, owner):
        return singular_density(A, source=source, params=params, **(options or {}))
    side = "rows" if A.shape[0] <= A.shape[1] else "cols"
    vals, _ = gram_spectrum(A, side=side)
    vals = np.sqrt(np.clip(vals.astype(np.float64), 0.0, None))
    p = {"tw_size": min(A.shape), **(params or {})}
    return Spectrum(vals, kind="singular", source=source, params=p)


def ck_spectrum(F, *, orientation: str = "feature", source: str = "CK", params=None,
                method: str = "auto", options=None) -> Spectrum:
    """Eigenvalues of ``F^T F / n`` ("feature") or ``F F^T / N`` ("sample").

    Computed on the smaller Gram; the larger orientation gets its exact zeros appended.

    Parameters
    ----------
    F : array_like (n, N)
    orientation : {"feature", "sample"}
    {method}

    Returns
    -------
    Spectrum
        A :class:`~spikewise.spectra.DensitySpectrum` when matrix-free.
    """
    owner = "ck_spectrum"
    check_option(orientation, "orientation", owner, ORIENTATIONS)
    if _use_matrix_free(method, min(np.shape(F)) if np.ndim(F) == 2 else 0, options, owner):
        return ck_density(F, orientation=orientation, source=source, params=params,
                          **(options or {}))
    F = _matrix(F, "F", owner)
    n, N = F.shape
    side, scale = ("cols", 1.0 / n) if orientation == "feature" else ("rows", 1.0 / N)
    vals, _ = gram_spectrum(F, side=side, scale=scale)
    p = {"orientation": orientation, "tw_size": min(n, N), **(params or {})}
    return Spectrum(vals.astype(np.float64), kind="eigen", source=source, params=p)


def _v0(m):
    return np.random.default_rng(20240607).standard_normal(m)


def top_singular(A, k: int = 1, *, method: str = "lanczos"):
    """The k largest singular values of A with left/right vectors ``(s, U, V)``.

    ``method="lanczos"`` uses ARPACK (``svds``, fixed start vector): cheaper than dense only
    when k is small and the matrix is large (timings in ``docs/architecture.rst``).
    ``method="dense"`` uses one tridiagonal reduction of the smaller Gram.

    Parameters
    ----------
    A : array_like of shape (p, q)
        Any real matrix.
    k : int
        Number of singular triples, ``1 <= k <= min(p, q)``.
    method : {"lanczos", "dense"}
        ARPACK with a fixed start vector, or dense.

    Returns
    -------
    s : ndarray of shape (k,)
        Decreasing singular values.
    U : ndarray of shape (p, k)
        Left singular vectors.
    V : ndarray of shape (q, k)
        Right singular vectors.
    """
    owner = "top_singular"
    A = _matrix(A, "A", owner)
    check_option(method, "method", owner, ("lanczos", "dense"))
    k = check_scalar(k, "k", owner, kind="int", lower=1, upper=min(A.shape))
    if method == "lanczos" and k < min(A.shape) - 1:
        A64 = A.astype(np.float64, copy=False)
        U, s, Vt = svds(A64, k=k, solver="arpack", v0=_v0(min(A.shape)))
        order = np.argsort(s)[::-1]
        U, s, V = U[:, order], s[order], Vt[order].T
    else:
        side = "rows" if A.shape[0] <= A.shape[1] else "cols"
        vals, vecs = gram_spectrum(A, side=side, k=k)
        s = np.sqrt(np.clip(vals[::-1][:k].astype(np.float64), 0.0, None))
        vecs = vecs.astype(np.float64)
        safe = np.where(s > 0, s, 1.0)
        if side == "rows":
            U, V = vecs, (A.T.astype(np.float64) @ vecs) / safe
        else:
            V, U = vecs, (A.astype(np.float64) @ vecs) / safe
    # sign convention: largest-magnitude entry of each left vector positive
    idx = np.argmax(np.abs(U), axis=0)
    sg = np.sign(U[idx, np.arange(U.shape[1])])
    sg[sg == 0] = 1.0
    return s, U * sg, V * sg


def top_ck_eigen(F, k: int = 1, *, orientation: str = "feature", method: str = "lanczos"):
    """The k largest eigenvalues of the CK Gram and their eigenvectors ``(values, vectors)``.

    Lanczos (``eigsh`` on the implicit Gram ``F^T (F v) / n``, never forming it) or dense.

    Parameters
    ----------
    F : array_like of shape (n, N)
        Features.
    k : int
        Number of eigenpairs, at least 1 and at most the Gram's size.
    orientation : {"feature", "sample"}
        ``F^T F / n`` (vectors in R^N) or ``F F^T / N`` (vectors in R^n).
    method : {"lanczos", "dense"}
        ARPACK with a fixed start vector, or dense.

    Returns
    -------
    values : ndarray of shape (k,)
        Decreasing eigenvalues.
    vectors : ndarray
        The eigenvectors as columns.
    """
    owner = "top_ck_eigen"
    check_option(orientation, "orientation", owner, ORIENTATIONS)
    check_option(method, "method", owner, ("lanczos", "dense"))
    F = _matrix(F, "F", owner)
    n, N = F.shape
    m = N if orientation == "feature" else n
    k = check_scalar(k, "k", owner, kind="int", lower=1, upper=m)
    if method == "lanczos" and k < m - 1:
        F64 = F.astype(np.float64, copy=False)
        if orientation == "feature":
            op = LinearOperator((N, N), matvec=lambda v: F64.T @ (F64 @ v) / n, dtype=np.float64)
        else:
            op = LinearOperator((n, n), matvec=lambda v: F64 @ (F64.T @ v) / N, dtype=np.float64)
        vals, vecs = eigsh(op, k=k, which="LA", v0=_v0(m))
        order = np.argsort(vals)[::-1]
        vals, vecs = vals[order], vecs[:, order]
    else:
        side, scale = ("cols", 1.0 / n) if orientation == "feature" else ("rows", 1.0 / N)
        allv, vecs = gram_spectrum(F, side=side, scale=scale, k=k)
        vals = allv[::-1][:k].astype(np.float64)
        vecs = vecs.astype(np.float64)
    idx = np.argmax(np.abs(vecs), axis=0)
    sg = np.sign(vecs[idx, np.arange(vecs.shape[1])])
    sg[sg == 0] = 1.0
    return vals, vecs * sg


for _func in (eigen_spectrum, singular_spectrum, ck_spectrum):
    _func.__doc__ = _func.__doc__.replace("{method}", _METHOD_DOC)
