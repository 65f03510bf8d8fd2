"""Apply an activation to n x N preactivations: Numba kernels, or chunked NumPy for callables.

An :class:`spikewise.activations.Activation` with ``kernel_code >= 0`` runs through the fused
kernels of :mod:`spikewise.spectra._kernels`; a custom one (``kernel_code == -1``) runs through
its vectorized NumPy methods on blocks of rows, so no n x N temporary is created beyond one
block.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import blas

from spikewise._validation import InvalidParameterError
from spikewise.activations import get_activation
from spikewise.spectra._kernels import (
    _activate_copy,
    _activate_inplace,
    _backprop_given_output,
    _fused_backprop_from_features,
    _fused_backprop_inplace,
)

#: target number of entries per NumPy block in the fallback path
_BLOCK_ENTRIES = 1 << 18


def resolve_activation(spec, name: str, owner: str):
    """``get_activation(spec)`` with the parameter's name and owner in the error message."""
    try:
        act = get_activation(spec)
    except InvalidParameterError as exc:
        raise InvalidParameterError(f"The {name!r} parameter of {owner}: {exc}") from exc
    if int(getattr(act, "kernel_code", -1)) < 0:
        _probe_finite(act, name, owner)
    return act


#: where a user's activation is checked once: preactivations are N(0, 1)-like, so this
#: covers every value a run meets with overwhelming probability
_PROBE = np.linspace(-8.0, 8.0, 161)


def _probe_finite(act, name: str, owner: str) -> None:
    """Refuse a custom activation (or derivative) that is not finite on the probe grid."""
    for what, func in (("value", act), ("derivative", act.d1)):
        with np.errstate(all="ignore"):
            out = np.asarray(func(_PROBE.copy()), dtype=np.float64)
        bad = ~np.isfinite(out)
        if np.any(bad):
            raise InvalidParameterError(
                f"The {name!r} parameter of {owner} must be finite on the real line. Its "
                f"{what} is {out[bad][0]} at x = {_PROBE[bad][0]:g} ({int(bad.sum())} of "
                f"{_PROBE.size} probe points in [-8, 8] are not finite)."
            )


def _numba_desc(act):
    code = int(getattr(act, "kernel_code", -1))
    if code < 0:
        return None
    return code, np.ascontiguousarray(act.kernel_params, dtype=np.float64)


def _row_blocks(n: int, N: int):
    step = max(1, _BLOCK_ENTRIES // max(N, 1))
    for start in range(0, n, step):
        yield slice(start, min(n, start + step))


def activate_inplace(H: np.ndarray, act) -> np.ndarray:
    """``H <- sigma(H)`` in place; returns H."""
    desc = _numba_desc(act)
    if desc is not None:
        _activate_inplace(H, desc[0], desc[1])
        return H
    for blk in _row_blocks(*H.shape):
        H[blk] = act(H[blk])
    return H


def activate_copy(H: np.ndarray, act, out: np.ndarray) -> np.ndarray:
    """``out <- sigma(H)``, H kept; returns out."""
    desc = _numba_desc(act)
    if desc is not None:
        _activate_copy(H, out, desc[0], desc[1])
        return out
    for blk in _row_blocks(*H.shape):
        out[blk] = act(H[blk])
    return out


def backprop_given_output(H, y, a, f, act) -> None:
    """Overwrite ``H`` with ``sigma'(H) * (y - f) a^T`` for a known output ``f``."""
    yv = np.ascontiguousarray(y, dtype=np.float64)
    av = np.ascontiguousarray(a, dtype=np.float64)
    fv = np.ascontiguousarray(f, dtype=np.float64)
    desc = _numba_desc(act)
    if desc is not None:
        _backprop_given_output(H, yv, av, fv, desc[0], desc[1])
        return
    for blk in _row_blocks(*H.shape):
        H[blk] = act.d1(H[blk]) * (yv[blk] - fv[blk])[:, None] * av[None, :]


#: bytes of the block buffer used by :func:`activated_gram`
_GRAM_BLOCK_BYTES = 48 * 2**20


def activated_gram(H, act, a, *, scale: float):
    """Gram matrix of ``F = sigma(H)`` and the output ``f = F a / sqrt(N)``, F never formed.

    ``F`` is produced block by block (rows when ``N <= n``, columns otherwise) into one small
    buffer; each block is accumulated into the smaller Gram by BLAS ``?syrk`` in place:
    ``scale * F^T F`` (N x N) when ``N <= n``, else ``scale * F F^T`` (n x n). Only the upper
    triangle (C order) is filled, which is the triangle :func:`~._linalg.eigh_top` reads.

    Returns ``(G, f, side)`` with side "cols" (``F^T F``) or "rows" (``F F^T``).
    """
    n, N = H.shape
    dt = H.dtype
    syrk = blas.ssyrk if dt == np.float32 else blas.dsyrk
    av = np.ascontiguousarray(a, dtype=dt)
    f = np.zeros(n, dtype=np.float64)
    if N <= n:
        side, m = "cols", N
        step = max(64, min(n, _GRAM_BLOCK_BYTES // (dt.itemsize * N)))
    else:
        side, m = "rows", n
        step = max(64, min(N, _GRAM_BLOCK_BYTES // (dt.itemsize * n)))
    G = np.zeros((m, m), dtype=dt)
    total = n if side == "cols" else N
    buf = np.empty((step, N) if side == "cols" else (step, n), dtype=dt)
    for start in range(0, total, step):
        stop = min(total, start + step)
        if side == "cols":
            Fb = buf[: stop - start]
            activate_copy(H[start:stop], act, Fb)
            f[start:stop] = Fb @ av
            # G^T (Fortran view, lower) += Fb^T Fb
            out = syrk(scale, Fb.T, beta=1.0, c=G.T, trans=0, lower=1, overwrite_c=1)
        else:
            Bt = buf[: stop - start]  # holds F[:, start:stop]^T
            activate_copy(H[:, start:stop], act, Bt.T)
            f += Bt.T @ av[start:stop]
            # G^T (Fortran view, lower) += Bt^T Bt = F[:, c] F[:, c]^T
            out = syrk(scale, Bt.T, beta=1.0, c=G.T, trans=0, lower=1, overwrite_c=1)
        if not np.shares_memory(out, G):  # pragma: no cover - wrapper copied
            G[...] = out.T
    f /= np.sqrt(N)
    return G, f, side


def backprop_inplace(H, y, a, act, *, F=None) -> np.ndarray:
    """Overwrite ``H = X W`` with ``sigma'(H) * (y - f) a^T``; return ``f = sigma(H) a / sqrt(N)``.

    With ``F = sigma(H)`` given, f is computed from F instead of re-evaluating sigma.
    """
    n, N = H.shape
    f = np.empty(n, dtype=np.float64)
    inv = 1.0 / np.sqrt(N)
    yv = np.ascontiguousarray(y, dtype=np.float64)
    av = np.ascontiguousarray(a, dtype=np.float64)
    desc = _numba_desc(act)
    if desc is not None:
        if F is None:
            _fused_backprop_inplace(H, yv, av, desc[0], desc[1], inv, f)
        else:
            _fused_backprop_from_features(H, F, yv, av, desc[0], desc[1], inv, f)
        return f
    for blk in _row_blocks(n, N):
        Fb = act(H[blk]) if F is None else F[blk]
        f[blk] = (Fb @ av) * inv
        r = yv[blk] - f[blk]
        H[blk] = act.d1(H[blk]) * r[:, None] * av[None, :]
    return f
