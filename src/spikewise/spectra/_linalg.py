"""Dense spectra through the smaller Gram matrix, top eigenvectors, and thread control.

Singular values are computed as ``sqrt(eigvalsh(A A^T))`` of the smaller Gram (faster than
``svdvals``; timings in ``docs/architecture.rst``); the symmetric eigenproblem is dominated
by the tridiagonal reduction, so all
eigenvalues *and* a few top eigenvectors are obtained from one ``?sytrd`` call (eigenvalues by
``?sterf``, the top vectors by ``?stemr`` on the tridiagonal, back-transformed by the
Householder reflectors), for the price of ``eigvalsh`` alone. Thread counts of both OpenBLAS
copies (numpy's and scipy's) and of Numba are set together by :func:`thread_limits`.
"""

from __future__ import annotations

import contextlib

import numba
import numpy as np
import scipy.linalg as sla
from scipy.linalg import lapack
from threadpoolctl import threadpool_limits

from spikewise._validation import check_scalar
from spikewise.spectra._kernels import _apply_sytrd_q_lower

__all__ = ["thread_limits", "gram", "eigh_top", "gram_spectrum"]


@contextlib.contextmanager
def thread_limits(n_threads=None, *, owner="spikewise.spectra"):
    """Limit BLAS/LAPACK (all loaded OpenBLAS copies) and Numba to ``n_threads`` threads.

    ``None`` leaves the current settings untouched. Random draws and the Numba kernels give
    bitwise identical results for any count; multithreaded BLAS may reorder sums, which
    changes results in the last bits (relative 1e-15).

    Parameters
    ----------
    n_threads : int, optional
        Number of threads (>= 1); the Numba count is capped at ``NUMBA_NUM_THREADS``.
    owner : str
        Name of the caller, for error messages.

    Yields
    ------
    None
        The previous Numba thread count is restored on exit.
    """
    if n_threads is None:
        yield
        return
    n_threads = check_scalar(n_threads, "n_threads", owner, kind="int", lower=1)
    old = numba.get_num_threads()
    numba.set_num_threads(min(n_threads, numba.config.NUMBA_NUM_THREADS))
    try:
        with threadpool_limits(limits=n_threads):
            yield
    finally:
        numba.set_num_threads(old)


def gram(A: np.ndarray, *, side: str = "cols", scale: float = 1.0) -> np.ndarray:
    """``scale * A^T A`` (side "cols") or ``scale * A A^T`` (side "rows"), by BLAS ``syrk``.

    Parameters
    ----------
    A : ndarray of shape (p, q)
    side : {"cols", "rows"}
        Gram of the columns (q x q) or of the rows (p x p).
    scale : float
        Factor applied in place, in A's dtype.

    Returns
    -------
    ndarray of shape (q, q) or (p, p)
    """
    G = A.T @ A if side == "cols" else A @ A.T
    if scale != 1.0:
        G *= G.dtype.type(scale)
    return G


def eigh_top(S: np.ndarray, k: int = 0, *, overwrite: bool = False):
    """All eigenvalues (ascending) of a symmetric S and its top-``k`` eigenvectors.

    One tridiagonal reduction (LAPACK ``?sytrd``, blocked) serves both; the cost equals that
    of ``eigvalsh``.

    Parameters
    ----------
    S : ndarray of shape (m, m)
        Symmetric.
    k : int
        Number of top eigenvectors wanted (0: none).
    overwrite : bool
        Whether ``S`` may be overwritten.

    Returns
    -------
    values : ndarray of shape (m,)
        Ascending.
    vectors : ndarray of shape (m, k) or None
        By decreasing eigenvalue; ``None`` when ``k == 0``.
    """
    m = S.shape[0]
    if m == 0:
        return np.empty(0, dtype=S.dtype), None
    if m == 1:
        vals = S.reshape(1).copy()
        return vals, (np.ones((1, min(k, 1)), dtype=S.dtype) if k else None)
    A = S if overwrite else S.copy()
    A = np.ascontiguousarray(A)
    sytrd = lapack.ssytrd if A.dtype == np.float32 else lapack.dsytrd
    sterf = lapack.ssterf if A.dtype == np.float32 else lapack.dsterf
    # A is symmetric and C-contiguous; its transpose is the same matrix in Fortran order, so
    # LAPACK works in place. Reflectors land in the Fortran lower triangle = A's upper rows.
    c, d, e, tau, info = sytrd(A.T, lower=1, overwrite_a=1, lwork=max(64 * m, 1))
    if info != 0:  # pragma: no cover - LAPACK failure
        raise np.linalg.LinAlgError(f"?sytrd failed with info={info}")
    vals, info = sterf(d.copy(), e.copy())
    if info != 0:  # pragma: no cover
        raise np.linalg.LinAlgError(f"?sterf failed with info={info}")
    vals = np.sort(vals)
    if not k:
        return vals, None
    k = min(int(k), m)
    _, z = sla.eigh_tridiagonal(
        d.astype(np.float64), e.astype(np.float64), select="i", select_range=(m - k, m - 1)
    )
    z = np.ascontiguousarray(z[:, ::-1])  # decreasing eigenvalue
    Cl = np.ascontiguousarray(c.T)  # C-layout view of the Fortran result
    _apply_sytrd_q_lower(Cl, tau.astype(np.float64), z)
    return vals, z.astype(S.dtype, copy=False)


def gram_spectrum(A: np.ndarray, *, side: str, scale: float = 1.0, k: int = 0):
    """Eigenvalues of ``scale * A^T A`` (side "cols") or ``scale * A A^T`` ("rows").

    Computed on the smaller of the two Gram matrices; the ``|p - q|`` zero eigenvalues of the
    larger one are returned as exact zeros. With ``k > 0`` also the top-k eigenvectors of the
    requested Gram (columns, decreasing eigenvalue), mapped from the smaller one through
    ``A`` when needed.

    Parameters
    ----------
    A : ndarray of shape (p, q)
    side : {"cols", "rows"}
        ``A^T A`` (q x q) or ``A A^T`` (p x p).
    scale : float
        Factor of the Gram.
    k : int
        Number of top eigenvectors wanted (0: none).

    Returns
    -------
    values : ndarray
        All eigenvalues, ascending.
    vectors : ndarray of shape (q or p, k) or None
        By decreasing eigenvalue; ``None`` when ``k == 0``.
    """
    n_rows, n_cols = A.shape
    want = n_cols if side == "cols" else n_rows
    other = n_rows if side == "cols" else n_cols
    if want <= other:
        G = gram(A, side=side, scale=scale)
        return eigh_top(G, k, overwrite=True)
    small_side = "rows" if side == "cols" else "cols"
    G = gram(A, side=small_side, scale=scale)
    vals, vecs = eigh_top(G, k, overwrite=True)
    vals = np.concatenate([np.zeros(want - other, dtype=vals.dtype), vals])
    if k:
        # u = A^T v / sqrt(lambda / scale) maps an eigenvector of A A^T to one of A^T A
        B = A.T @ vecs if side == "cols" else A @ vecs
        norms = np.linalg.norm(B, axis=0)
        norms[norms == 0] = 1.0
        vecs = B / norms
    return vals, vecs
