"""Input validation shared by every public function of spikewise.

Every check raises :class:`InvalidParameterError` with a message of one form::

    The 'ratio' parameter of MarchenkoPastur must be a finite float > 0. Got -1.0 instead.

so that a user always learns *which* parameter, *of what*, *what is allowed* and *what was
given*. Iterative solvers raise :class:`ConvergenceError` (or warn with
:class:`ConvergenceWarning`) naming the point, the residual and the iteration count.
"""

from __future__ import annotations

import functools
import numbers
import warnings
from collections.abc import Iterable

import numpy as np

__all__ = [
    "InvalidParameterError",
    "ConvergenceError",
    "ConvergenceWarning",
    "check_scalar",
    "check_array",
    "check_option",
    "check_rng",
    "renamed_keywords",
]


class InvalidParameterError(ValueError, TypeError):
    """A parameter has the wrong type, shape or value.

    Subclasses both :class:`ValueError` and :class:`TypeError`, so callers may catch either.
    """


class ConvergenceError(RuntimeError):
    """An iterative solve did not reach its tolerance."""


class ConvergenceWarning(RuntimeWarning):
    """An iterative solve stopped with a residual above its tolerance but below failure."""


def _fmt(value) -> str:
    if isinstance(value, np.ndarray):
        return f"array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, str):
        return repr(value)
    return repr(value)


def _bound_text(kind: str, lower, upper, lower_inclusive: bool, upper_inclusive: bool) -> str:
    text = f"a finite {kind}"
    parts = []
    if lower is not None:
        parts.append(f"{'>=' if lower_inclusive else '>'} {lower}")
    if upper is not None:
        parts.append(f"{'<=' if upper_inclusive else '<'} {upper}")
    if parts:
        text += " " + " and ".join(parts)
    return text


def check_scalar(
    value,
    name: str,
    owner: str,
    *,
    kind: str = "float",
    lower=None,
    upper=None,
    lower_inclusive: bool = True,
    upper_inclusive: bool = True,
    allow_none: bool = False,
):
    """Validate a real scalar parameter and return it as a Python ``float`` or ``int``.

    Parameters
    ----------
    value : object
        The value to check.
    name : str
        The parameter's name, as the user typed it.
    owner : str
        The class or function the parameter belongs to.
    kind : {"float", "int"}
        ``"float"`` accepts any real number (booleans excluded); ``"int"`` accepts integers only.
    lower, upper : float, optional
        Bounds; ``None`` means unbounded on that side.
    lower_inclusive, upper_inclusive : bool
        Whether the bounds themselves are allowed.
    allow_none : bool
        Return ``None`` unchanged when given.

    Returns
    -------
    float or int or None

    Raises
    ------
    InvalidParameterError
        With the message "The '<name>' parameter of <owner> must be <rule>. Got <value> instead."
    """
    if value is None and allow_none:
        return None
    rule = _bound_text(kind, lower, upper, lower_inclusive, upper_inclusive)
    message = f"The {name!r} parameter of {owner} must be {rule}. Got {_fmt(value)} instead."
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, bool | np.bool_):
        raise InvalidParameterError(message)
    if kind == "int":
        if not isinstance(value, numbers.Integral):
            if isinstance(value, numbers.Real) and float(value).is_integer():
                value = int(value)
            else:
                raise InvalidParameterError(message)
        value = int(value)
    elif kind == "float":
        if not isinstance(value, numbers.Real):
            raise InvalidParameterError(message)
        value = float(value)
        if not np.isfinite(value):
            raise InvalidParameterError(message)
    else:  # pragma: no cover - programming error
        raise ValueError(f"unknown kind {kind!r}")
    if lower is not None and (value < lower or (value == lower and not lower_inclusive)):
        raise InvalidParameterError(message)
    if upper is not None and (value > upper or (value == upper and not upper_inclusive)):
        raise InvalidParameterError(message)
    return value


def check_array(
    value,
    name: str,
    owner: str,
    *,
    ndim: int | Iterable[int] | None = None,
    shape: tuple | None = None,
    dtype=np.float64,
    finite: bool = True,
    allow_complex: bool = False,
    copy: bool = False,
) -> np.ndarray:
    """Validate an array parameter and return it as an ndarray of ``dtype``.

    Parameters
    ----------
    value : array_like
        The array to check.
    name, owner : str
        As in :func:`check_scalar`.
    ndim : int or iterable of int, optional
        Allowed numbers of dimensions.
    shape : tuple, optional
        Required shape; ``None`` entries match any length.
    dtype : numpy dtype or None
        Target dtype (``None`` keeps the input's floating dtype, upcasting integers to float64).
    finite : bool
        Reject NaN and infinities.
    allow_complex : bool
        Accept complex input (cast to complex128 when ``dtype`` is float64).
    copy : bool
        Always return a copy.
    """
    try:
        arr = np.asarray(value)
    except Exception as exc:  # pragma: no cover - exotic inputs
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be array-like. Got {_fmt(value)} instead."
        ) from exc
    if arr.dtype == object or arr.dtype.kind not in "biufc":
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be a numeric array. Got {_fmt(value)} instead."
        )
    if arr.dtype.kind == "c" and not allow_complex:
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be real. Got a complex array instead."
        )
    if dtype is None:
        target = arr.dtype if arr.dtype.kind in "fc" else np.dtype(np.float64)
    elif arr.dtype.kind == "c" and allow_complex:
        target = np.result_type(dtype, np.complex64)
    else:
        target = np.dtype(dtype)
    arr = np.array(arr, dtype=target, copy=True) if copy else np.asarray(arr, dtype=target)
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            rule = " or ".join(str(k) for k in allowed)
            raise InvalidParameterError(
                f"The {name!r} parameter of {owner} must be a {rule}-dimensional array. "
                f"Got an array of shape {arr.shape} instead."
            )
    if shape is not None:
        ok = len(shape) == arr.ndim and all(
            s is None or s == t for s, t in zip(shape, arr.shape, strict=False)
        )
        if not ok:
            want = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
            raise InvalidParameterError(
                f"The {name!r} parameter of {owner} must have shape {want}. "
                f"Got shape {arr.shape} instead."
            )
    if finite and arr.size and not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must contain only finite values. "
            f"Got {bad} NaN or infinite entries instead."
        )
    return arr


def check_option(value, name: str, owner: str, options: Iterable):
    """Validate that ``value`` is one of ``options`` and return it."""
    options = tuple(options)
    try:
        ok = value in options
    except TypeError:
        ok = False
    if not ok:
        shown = "{" + ", ".join(repr(o) for o in options) + "}"
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be one of {shown}. Got {_fmt(value)} instead."
        )
    return value


def check_rng(rng, owner: str = "spikewise") -> np.random.Generator:
    """Return ``np.random.default_rng(rng)``, with a clear error for unusable seeds.

    Accepts ``None``, an int, a :class:`numpy.random.SeedSequence`, a bit generator or a
    :class:`numpy.random.Generator` (returned as is, so that a caller's stream advances).
    """
    try:
        return np.random.default_rng(rng)
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(
            f"The 'rng' parameter of {owner} must be None, a non-negative int, a SeedSequence "
            f"or a numpy Generator. Got {_fmt(rng)} instead."
        ) from exc


def renamed_keywords(**renames: str):
    """Decorator accepting the old names of renamed keywords for one release.

    ``@renamed_keywords(sigma="activation")`` lets callers still write ``sigma=...``: the
    value is passed as ``activation=...`` with a :class:`DeprecationWarning` naming both.
    Giving both the old and the new name raises :class:`InvalidParameterError`. The wrapped
    function keeps its signature (``inspect.signature`` follows ``__wrapped__``) and its
    docstring.

    Parameters
    ----------
    **renames : str
        ``old_name="new_name"`` pairs.

    Returns
    -------
    callable
        The decorator.
    """

    def decorate(func):
        owner = func.__qualname__.replace(".__init__", "")

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            for old, new in renames.items():
                if old in kwargs:
                    if new in kwargs:
                        raise InvalidParameterError(
                            f"The {old!r} parameter of {owner} is the old name of {new!r}; "
                            f"give only {new!r}. Got both instead."
                        )
                    warnings.warn(
                        f"The {old!r} parameter of {owner} is renamed {new!r}; {old!r} will "
                        "be removed in the next release.",
                        DeprecationWarning,
                        stacklevel=2,
                    )
                    kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)

        wrapper.renamed_keywords = dict(renames)
        return wrapper

    return decorate
