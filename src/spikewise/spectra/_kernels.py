"""Every Numba kernel of :mod:`spikewise.spectra`, in one module (they call each other).

Activation contract (shared with :mod:`spikewise.activations`): an activation is described
to Numba by an integer ``code`` and a float64 array ``params`` meaning

    sigma(x) = params[0] * base_code(x) + params[1]

with the base codes of the table ``spikewise.activations.KERNEL_CODES``: 0 linear ``x``,
1 ReLU ``max(x, 0)``, 2 ``tanh``, 3 ``erf``, 4 sigmoid ``1 / (1 + e^{-x})``, 5 softplus
``log(1 + e^x)``, 6 GELU ``x Phi(x)``, 7 ``sin`` and 8 the Hermite sum
``sum_k params[2 + k] He_k(x)`` (probabilists' Hermite polynomials).
Code -1 (a user callable) has no Numba path; callers fall back to chunked NumPy.

Kernels are compiled with ``cache=True`` and never with ``fastmath`` (NaN/inf must
propagate). Parallel loops run over independent rows and every row is reduced in a fixed
order, so results are bitwise identical whatever the number of Numba threads. No kernel
draws random numbers.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

__all__ = [
    "act_scalar",
]

_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


# ----------------------------------------------------------------------------------------
# scalar activation functions
# ----------------------------------------------------------------------------------------
@njit(cache=True)
def _sigmoid(x):
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@njit(cache=True)
def _hermite_sum(params, x, deriv):
    """``sum_k params[2+k] He_k^{(deriv)}(x)`` for deriv in {0, 1, 2}.

    Uses ``He_k' = k He_{k-1}`` and ``He_k'' = k (k-1) He_{k-2}`` with the three-term
    recurrence ``He_{k+1} = x He_k - k He_{k-1}``.
    """
    K = params.shape[0] - 2
    total = 0.0
    h_prev = 0.0  # He_{-1} (unused)
    h = 1.0  # He_0
    # h_j holds He_j for j = 0, 1, ...; coefficient of He_{j} in the derivative sum is
    # c_{j + deriv} * (j+1)...(j+deriv)
    for j in range(K - deriv):
        k = j + deriv
        factor = 1.0
        for m in range(deriv):
            factor *= k - m
        total += params[2 + k] * factor * h
        h_next = x * h - j * h_prev
        h_prev = h
        h = h_next
    return total


@njit(cache=True)
def _base(code, params, x):
    if code == 0:
        return x
    elif code == 1:
        return x if x > 0.0 else 0.0 * x  # keeps NaN
    elif code == 2:
        return math.tanh(x)
    elif code == 3:
        return math.erf(x)
    elif code == 4:
        return _sigmoid(x)
    elif code == 5:
        if x > 0.0:
            return x + math.log1p(math.exp(-x))
        return math.log1p(math.exp(x))
    elif code == 6:
        return x * 0.5 * math.erfc(-x * _INV_SQRT_2)
    elif code == 7:
        return math.sin(x)
    elif code == 8:
        return _hermite_sum(params, x, 0)
    return math.nan


@njit(cache=True)
def _base_d1(code, params, x):
    if code == 0:
        return 1.0 + 0.0 * x
    elif code == 1:
        if x > 0.0:
            return 1.0
        return 0.0 * x
    elif code == 2:
        t = math.tanh(x)
        return 1.0 - t * t
    elif code == 3:
        return _TWO_OVER_SQRT_PI * math.exp(-x * x)
    elif code == 4:
        s = _sigmoid(x)
        return s * (1.0 - s)
    elif code == 5:
        return _sigmoid(x)
    elif code == 6:
        return 0.5 * math.erfc(-x * _INV_SQRT_2) + x * _INV_SQRT_2PI * math.exp(-0.5 * x * x)
    elif code == 7:
        return math.cos(x)
    elif code == 8:
        return _hermite_sum(params, x, 1)
    return math.nan


@njit(cache=True)
def _base_d2(code, params, x):
    if code == 0 or code == 1:
        return 0.0 * x
    elif code == 2:
        t = math.tanh(x)
        return -2.0 * t * (1.0 - t * t)
    elif code == 3:
        return -2.0 * x * _TWO_OVER_SQRT_PI * math.exp(-x * x)
    elif code == 4 or code == 5:
        s = _sigmoid(x)
        d = s * (1.0 - s)
        if code == 4:
            return d * (1.0 - 2.0 * s)
        return d
    elif code == 6:
        return _INV_SQRT_2PI * math.exp(-0.5 * x * x) * (2.0 - x * x)
    elif code == 7:
        return -math.sin(x)
    elif code == 8:
        return _hermite_sum(params, x, 2)
    return math.nan


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
    """Evaluate the Numba activation (or a derivative) on an array, for checks and tests."""
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
