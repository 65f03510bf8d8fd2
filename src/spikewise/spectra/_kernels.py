"""Every Numba kernel of :mod:`spikewise.spectra`, in one module (they call each other).

Activation contract (shared with :mod:`spikewise.activations`): an activation is described
to Numba by an integer ``code`` and a float64 array ``params`` meaning

    sigma(x) = params[0] * base_code(x) + params[1]

with the base codes of the table ``spikewise.activations.KERNEL_CODES``: 0 linear ``x``,
1 ReLU ``max(x, 0)``, 2 ``tanh``, 3 ``erf``, 4 sigmoid ``1 / (1 + e^{-x})``, 5 softplus
``log(1 + e^x)``, 6 GELU ``x Phi(x)``, 7 ``sin`` and 8 the Hermite sum
``sum_k params[2 + k] He_k(x)`` (probabilists' Hermite polynomials).
Code -1 (a user callable) has no Numba path; callers fall back to chunked NumPy.

The dispatch on the code (``_base``, ``_base_d1``, ``_base_d2``) is not written here: it is
generated at import from the activation table (``spikewise.activations._BASES``, whose rows
carry the scalar formulas of the value and of both derivatives in the Numba subset of Python),
as a chain of ``if code == k`` calling those formulas, and an unknown code gives NaN. Adding an
activation is one row in that table. Because the formulas are inlined into every kernel but
live in another file, the on-disk cache key of every kernel here includes a fingerprint of the
table's formulas (:data:`TABLE_FINGERPRINT`), so a changed formula recompiles instead of being
served stale.

Kernels are compiled with ``cache=True`` and never with ``fastmath`` (NaN/inf must
propagate). Parallel loops run over independent rows and every row is reduced in a fixed
order, so results are bitwise identical whatever the number of Numba threads. No kernel
draws random numbers.
"""

from __future__ import annotations

import hashlib
import inspect
import math  # noqa: F401 (the generated dispatch returns math.nan)

import numpy as np
from numba import njit, prange
from numba.core.caching import FunctionCache
from numba.core.dispatcher import Dispatcher
from numba.extending import register_jitable

from spikewise.activations import _KERNEL_SCALARS, _SCALAR_HELPERS

__all__ = [
    "act_scalar",
]

# ----------------------------------------------------------------------------------------
# scalar activation functions: the dispatch on the code, generated from the activation table
# ----------------------------------------------------------------------------------------
for _helper in _SCALAR_HELPERS:
    register_jitable(_helper)
_FORMULAS = {}  # name in this module -> scalar formula of the table
for _code, _scalar in sorted(_KERNEL_SCALARS.items()):
    for _which in ("value", "d1", "d2"):
        _FORMULAS[f"_formula_{_which}_{_code}"] = register_jitable(getattr(_scalar, _which))
globals().update(_FORMULAS)


def _dispatch_source(codes, which: str, name: str) -> str:
    """Source of ``name(code, params, x)``: a chain of ``if code == k`` over the table's codes,
    each calling that code's scalar formula ``which`` ("value", "d1" or "d2"); NaN otherwise."""
    lines = [f"def {name}(code, params, x):"]
    for code in codes:
        lines += [f"    if code == {code}:", f"        return _formula_{which}_{code}(x, params)"]
    lines.append("    return math.nan")
    return "\n".join(lines) + "\n"


def _table_fingerprint() -> str:
    """SHA-256 of the source of every scalar formula and helper of the table, by code."""
    digest = hashlib.sha256()
    for helper in _SCALAR_HELPERS:
        digest.update(inspect.getsource(helper).encode())
    for code, scalar in sorted(_KERNEL_SCALARS.items()):
        digest.update(str(code).encode())
        for which in ("value", "d1", "d2"):
            digest.update(inspect.getsource(getattr(scalar, which)).encode())
    return digest.hexdigest()


def _compile_dispatch(which: str, name: str):
    """Compile the generated dispatch into this module, under this file's name (so that Numba
    finds a cache locator for it and its formulas resolve as module globals)."""
    exec(compile(_dispatch_source(sorted(_KERNEL_SCALARS), which, name), __file__, "exec"),
         globals())
    return njit(cache=True)(globals()[name])


#: Fingerprint of the activation table, part of the cache key of every kernel below.
TABLE_FINGERPRINT = _table_fingerprint()
_base = _compile_dispatch("value", "_base")
_base_d1 = _compile_dispatch("d1", "_base_d1")
_base_d2 = _compile_dispatch("d2", "_base_d2")


@njit(cache=True)
def _act(code, params, x):
    """``sigma(x) = params[0] * base_code(x) + params[1]`` (scalar)."""
    return params[0] * _base(code, params, x) + params[1]


@njit(cache=True)
def _act_d1(code, params, x):
    """``sigma'(x) = params[0] * base_code'(x)`` (scalar)."""
    return params[0] * _base_d1(code, params, x)


@njit(cache=True)
def _act_d2(code, params, x):
    """``sigma''(x) = params[0] * base_code''(x)`` (scalar)."""
    return params[0] * _base_d2(code, params, x)


@njit(cache=True)
def _act_array(code, params, x, deriv, out):
    """Apply sigma (deriv=0), sigma' (1) or sigma'' (2) to a 1-d array (used by tests)."""
    for i in range(x.shape[0]):
        if deriv == 0:
            out[i] = _act(code, params, x[i])
        elif deriv == 1:
            out[i] = _act_d1(code, params, x[i])
        else:
            out[i] = _act_d2(code, params, x[i])
    return out


def act_scalar(code: int, params: np.ndarray, x, deriv: int = 0) -> np.ndarray:
    """Evaluate the Numba activation (or a derivative) on an array, for checks and tests.

    Parameters
    ----------
    code : int
        Kernel code of the activation table (``KERNEL_CODES``).
    params : ndarray of float64
        ``sigma(x) = params[0] * base(x) + params[1]`` (Hermite coefficients after, code 8).
    x : array_like of float
        Points (flattened).
    deriv : {0, 1, 2}
        sigma, sigma' or sigma''.

    Returns
    -------
    ndarray of float64 of shape (x.size,)
        NaN for a code the table does not have.
    """
    x = np.ascontiguousarray(x, dtype=np.float64).ravel()
    out = np.empty_like(x)
    return _act_array(int(code), np.ascontiguousarray(params, dtype=np.float64), x, deriv, out)


# ----------------------------------------------------------------------------------------
# fused kernels on n x N preactivations
# ----------------------------------------------------------------------------------------
@njit(parallel=True, cache=True)
def _activate_inplace(H, code, params):
    """``H <- sigma(H)`` in place, one pass (rows in parallel)."""
    n, N = H.shape
    for i in prange(n):
        for j in range(N):
            H[i, j] = _act(code, params, H[i, j])


@njit(parallel=True, cache=True)
def _fused_backprop_inplace(H, y, a, code, params, inv_sqrt_N, f_out):
    """The fused gradient assembly, in place on the preactivation ``H = X W``.

    For every row i (in parallel) and in one sweep over a row that stays in cache:

        f_i = sum_j sigma(H_ij) a_j / sqrt(N)          (the network output, kept)
        r_i = y_i - f_i                                 (the exact residual)
        H_ij <- sigma'(H_ij) * r_i * a_j                (overwrites the preactivation)

    so that ``X^T H`` (one GEMM, done by the caller) equals ``-n sqrt(N) grad_W L``.
    No n x N temporary is created. ``f_out`` receives f.
    """
    n, N = H.shape
    for i in prange(n):
        s = 0.0
        for j in range(N):
            s += _act(code, params, H[i, j]) * a[j]
        f = s * inv_sqrt_N
        f_out[i] = f
        r = y[i] - f
        for j in range(N):
            H[i, j] = _act_d1(code, params, H[i, j]) * r * a[j]


@njit(parallel=True, cache=True)
def _fused_backprop_from_features(H, F, y, a, code, params, inv_sqrt_N, f_out):
    """As :func:`_fused_backprop_inplace`, when ``F = sigma(H)`` was already formed.

    Computes f from the stored features (no second activation evaluation) and overwrites H
    with ``sigma'(H) * r a^T``.
    """
    n, N = H.shape
    for i in prange(n):
        s = 0.0
        for j in range(N):
            s += F[i, j] * a[j]
        f = s * inv_sqrt_N
        f_out[i] = f
        r = y[i] - f
        for j in range(N):
            H[i, j] = _act_d1(code, params, H[i, j]) * r * a[j]


@njit(parallel=True, cache=True)
def _backprop_given_output(H, y, a, f, code, params):
    """``H <- sigma'(H) * (y - f) a^T`` in place, with the output ``f`` already known."""
    n, N = H.shape
    for i in prange(n):
        r = y[i] - f[i]
        for j in range(N):
            H[i, j] = _act_d1(code, params, H[i, j]) * r * a[j]


@njit(parallel=True, cache=True)
def _activate_copy(H, F, code, params):
    """``F <- sigma(H)`` (H kept), one pass."""
    n, N = H.shape
    for i in prange(n):
        for j in range(N):
            F[i, j] = _act(code, params, H[i, j])


# ----------------------------------------------------------------------------------------
# linear-algebra helpers
# ----------------------------------------------------------------------------------------
@njit(cache=True)
def _apply_sytrd_q_lower(C, tau, Z):
    """``Z <- Q Z`` for the orthogonal Q of LAPACK ``?sytrd`` with ``uplo='L'``.

    ``C`` is the Fortran-layout matrix returned by ``?sytrd`` viewed as its transpose
    (C-contiguous), so the Householder vector of reflector i is ``C[i, i+2:]`` with an implicit
    1 at position i+1. ``Q = H(0) H(1) ... H(n-2)``, ``H(i) = I - tau_i v_i v_i^T``.
    Cost O(n^2 k) for k columns in Z.
    """
    n = Z.shape[0]
    k = Z.shape[1]
    for i in range(n - 2, -1, -1):
        t = tau[i]
        if t == 0.0:
            continue
        for c in range(k):
            s = Z[i + 1, c]
            for r in range(i + 2, n):
                s += C[i, r] * Z[r, c]
            s *= t
            Z[i + 1, c] -= s
            for r in range(i + 2, n):
                Z[r, c] -= s * C[i, r]


# ----------------------------------------------------------------------------------------
# histogram and empirical Stieltjes transform
# ----------------------------------------------------------------------------------------
@njit(cache=True)
def _histogram_uniform(values, lo, hi, nbins, counts):
    """Counts of ``values`` in ``nbins`` equal bins on [lo, hi] (last bin closed), as
    :func:`numpy.histogram`; values outside or NaN are ignored."""
    width = (hi - lo) / nbins
    for i in range(values.shape[0]):
        v = values[i]
        if not (v >= lo and v <= hi):
            continue
        b = int((v - lo) / width)
        if b >= nbins:
            b = nbins - 1
        # guard against rounding at bin boundaries so that the result matches np.histogram
        if b > 0 and v < lo + b * width:
            b -= 1
        elif b < nbins - 1 and v >= lo + (b + 1) * width:
            b += 1
        counts[b] += 1
    return counts


@njit(parallel=True, cache=True)
def _stieltjes_empirical(values, z, out):
    """``m(z) = (1/m) sum_i 1 / (lambda_i - z)`` for every z (z in parallel)."""
    m = values.shape[0]
    for q in prange(z.shape[0]):
        s = 0.0 + 0.0j
        zq = z[q]
        for i in range(m):
            s += 1.0 / (values[i] - zq)
        out[q] = s / m
    return out


# ----------------------------------------------------------------------------------------
# cache keys
# ----------------------------------------------------------------------------------------
class _TableKeyedCache(FunctionCache):
    """Numba's on-disk cache, with the activation table's fingerprint in the key.

    Numba invalidates a cached kernel when the source file of *its own* function changes; the
    scalar formulas inlined into every kernel here live in :mod:`spikewise.activations`, so
    without this key a changed formula would keep being served from a stale cache.
    """

    def _index_key(self, sig, codegen):
        return (*super()._index_key(sig, codegen), TABLE_FINGERPRINT)


for _kernel in [v for v in globals().values() if isinstance(v, Dispatcher)]:
    _kernel._cache = _TableKeyedCache(_kernel.py_func)
