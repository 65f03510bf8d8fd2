"""Memory needed by a simulation, estimated before anything is allocated.

A simulation too large for the machine used to fail only at numpy's ``MemoryError``, after
minutes of work or swapping. :func:`check_memory` refuses it up front with the number of GiB
it would take, unless the caller passes ``allow_large=True``.
"""

from __future__ import annotations

import os

import numpy as np

from spikewise._validation import InvalidParameterError

_GIB = float(1 << 30)
#: the budget when the physical memory cannot be read (not Linux or macOS)
_DEFAULT_BUDGET = 16 * _GIB


def physical_memory() -> float | None:
    """Total physical memory in bytes, or None where the OS does not say."""
    try:
        return float(os.sysconf("SC_PAGE_SIZE")) * float(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, OSError, ValueError):  # pragma: no cover - Windows
        return None


def simulation_bytes(*, n: int, d: int, N: int, dtype, n_steps: int = 1,
                     fresh_inputs: bool = False, n_test: int = 0) -> dict:
    """The large arrays of a one- or two-step run and their sizes in bytes.

    Counts the inputs ``X`` (n x d, float64; twice with fresh CK inputs or a second batch),
    the n x N preactivation / feature buffer, the weights ``W0 .. W_t`` and the update
    (d x N each, in ``dtype``), the largest Gram matrix of a dense spectrum
    (``min(n, N)^2`` or ``min(d, N)^2``, float64 for the eigensolver) and the ridge test set.
    Temporaries of BLAS and LAPACK are not counted, so the true peak is somewhat higher.
    """
    item = float(np.dtype(dtype).itemsize)
    n, d, N, n_test = float(n), float(d), float(N), float(n_test)
    parts = {
        "inputs X": 8.0 * n * d * (1 + int(fresh_inputs) + int(n_steps > 1)),
        "features n x N": item * n * N,
        "weights d x N": item * d * N * (n_steps + 2),
        "Gram matrix": 8.0 * max(min(n, N), min(d, N)) ** 2,
    }
    if n_test:
        parts["test set"] = 8.0 * n_test * d + item * n_test * N
    return parts


def check_memory(owner: str, *, allow_large: bool, budget: float | None = None, **sizes):
    """Raise :class:`InvalidParameterError` when the run needs more than ``budget`` bytes.

    ``budget`` defaults to the machine's physical memory (16 GiB where unknown). ``sizes``
    are the keyword arguments of :func:`simulation_bytes`.
    """
    if not isinstance(allow_large, bool | np.bool_):
        raise InvalidParameterError(
            f"The 'allow_large' parameter of {owner} must be a bool. Got {allow_large!r} "
            "instead."
        )
    parts = simulation_bytes(**sizes)
    total = sum(parts.values())
    if budget is None:
        budget = physical_memory() or _DEFAULT_BUDGET
    if allow_large or total <= budget:
        return total
    detail = ", ".join(f"{k} {v / _GIB:.3g}" for k, v in parts.items())
    raise InvalidParameterError(
        f"The sizes n={int(sizes['n'])}, d={int(sizes['d'])}, N={int(sizes['N'])} of {owner} "
        f"need about {total / _GIB:.3g} GiB of memory ({detail} GiB), more than the "
        f"{budget / _GIB:.3g} GiB of this machine. Reduce n, d or N, use dtype='float32', or "
        "pass allow_large=True to run anyway."
    )
