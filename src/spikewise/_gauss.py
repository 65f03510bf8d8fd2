r"""The one Gaussian-expectation and Hermite toolkit of spikewise.

Every expectation over a standard Gaussian in the package, on the theory side and in the
activations, goes through the rules built here; no other module builds a quadrature rule.

Rules
-----
:func:`normal_rule` returns nodes ``x`` and weights ``w`` with
:math:`\mathbb{E}[g(Z)] \approx \sum_i w_i g(x_i)`, :math:`Z \sim \mathcal{N}(0, 1)`:

* without kinks: Gauss–Hermite for the weight :math:`e^{-z^2/2}` (numpy's ``hermegauss``),
  200 nodes by default; exact for polynomials of degree < 400 and accurate to about 1e-15
  for the smooth activations of :mod:`spikewise.activations`;
* with kinks (points where ``g`` or a derivative jumps, e.g. 0 for relu, 0.5 for
  ``max(x - 0.5, 0)``): Gauss–Hermite converges only algebraically across a kink, so the line
  is cut at every kink and each piece is integrated by composite Gauss–Legendre (panels of
  width 1, 16 nodes each, on :math:`[-40, 40]` widened to contain every kink; the Gaussian
  weight is below :math:`10^{-340}` outside).

:func:`expect` applies a rule; :func:`product_rule` builds the tensor rule for several
independent standard Gaussians (conditional expectations, two-point kernels);
:func:`location_scale_rule` gives one rule per pair ``(loc, scale)`` of arrays for
:math:`\mathbb{E}[g(\mathrm{loc} + \mathrm{scale}\,Z)]`, cut at the kinks of ``g``.
:func:`legendre_rule` is the plain Gauss–Legendre rule on :math:`[-1, 1]` for the other
one-dimensional integrals of the theory (densities in an angle variable). :func:`chi2_rule`
is the Gauss rule of the :math:`\chi^2_D` law (the squared norm of :math:`D` standard
Gaussians).

Hermite
-------
Probabilists' Hermite polynomials :math:`\mathrm{He}_k` (:func:`hermite_polynomials`), series
:math:`\sum_k c_k \mathrm{He}_k` (:func:`hermite_series`), and the coefficients
:math:`\mu_k = \mathbb{E}[g(Z)\mathrm{He}_k(Z)]/k!` of any vectorized function
(:func:`hermite_coefficients`), so that :math:`g = \sum_k \mu_k \mathrm{He}_k` in
:math:`L^2(\mathcal{N}(0,1))` and :math:`\mathbb{E}[g(Z)h(Z)] = \sum_k k!\,\mu_k(g)\mu_k(h)`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence

import numpy as np
from numpy.polynomial.hermite_e import hermegauss

from spikewise._validation import InvalidParameterError, check_scalar

__all__ = [
    "normal_rule",
    "product_rule",
    "expect",
    "hermite_polynomials",
    "hermite_series",
    "hermite_series_derivative",
    "hermite_coefficients",
    "factorials",
    "legendre_rule",
    "location_scale_rule",
    "chi2_rule",
]

_SQRT_2PI = math.sqrt(2.0 * math.pi)
_GH_NODES = 200
_GL_NODES = 16
_GL_HALF_RANGE = 40.0


@functools.lru_cache(maxsize=16)
def _hermite_rule(nodes: int):
    x, w = hermegauss(nodes)
    x.setflags(write=False)
    w = w / _SQRT_2PI
    w.setflags(write=False)
    return x, w


@functools.lru_cache(maxsize=64)
def _split_rule(kinks: tuple, panel_nodes: int):
    lo = min((-_GL_HALF_RANGE,) + tuple(k - _GL_HALF_RANGE for k in kinks))
    hi = max((_GL_HALF_RANGE,) + tuple(k + _GL_HALF_RANGE for k in kinks))
    edges = set(np.arange(math.floor(lo), math.ceil(hi) + 1.0, 1.0).tolist())
    edges.update(float(k) for k in kinks)
    edges = np.array(sorted(edges))
    t, wt = _legendre(panel_nodes)
    a = edges[:-1, None]
    b = edges[1:, None]
    x = ((b - a) / 2.0 * t + (a + b) / 2.0).ravel()
    w = ((b - a) / 2.0 * wt).ravel() * np.exp(-0.5 * x * x) / _SQRT_2PI
    keep = w > 0
    x, w = x[keep], w[keep]
    x.setflags(write=False)
    w.setflags(write=False)
    return x, w


@functools.lru_cache(maxsize=16)
def _legendre(nodes: int):
    t, wt = np.polynomial.legendre.leggauss(nodes)
    t.setflags(write=False)
    wt.setflags(write=False)
    return t, wt


def _check_kinks(kinks, owner: str) -> tuple:
    try:
        ks = tuple(sorted(float(k) for k in kinks))
    except (TypeError, ValueError):
        raise InvalidParameterError(
            f"The 'kinks' parameter of {owner} must be a sequence of finite floats. "
            f"Got {kinks!r} instead."
        ) from None
    if not all(math.isfinite(k) for k in ks):
        raise InvalidParameterError(
            f"The 'kinks' parameter of {owner} must be a sequence of finite floats. "
            f"Got {kinks!r} instead."
        )
    return ks


def normal_rule(kinks: Sequence[float] = (), *, nodes: int | None = None):
    """Quadrature nodes and weights for expectations over a standard Gaussian.

    Parameters
    ----------
    kinks : sequence of float, default ()
        Points where the integrand is not smooth; the rule cuts the line there.
    nodes : int, optional
        Without kinks, the number of Gauss–Hermite nodes (default 200, at most 1000); with
        kinks, the number of Gauss–Legendre nodes per unit panel (default 16, at most 64).

    Returns
    -------
    x, w : ndarray (read-only)
        Nodes and weights; ``w.sum() == 1`` to rounding.
    """
    owner = "normal_rule"
    ks = _check_kinks(kinks, owner)
    if ks:
        m = _GL_NODES if nodes is None else check_scalar(
            nodes, "nodes", owner, kind="int", lower=2, upper=64)
        return _split_rule(ks, int(m))
    m = _GH_NODES if nodes is None else check_scalar(
        nodes, "nodes", owner, kind="int", lower=1, upper=1000)
    return _hermite_rule(int(m))


def product_rule(dim: int, kinks: Sequence[float] = (), *, nodes: int | None = None):
    """Tensor-product rule for ``dim`` independent standard Gaussians.

    Parameters
    ----------
    dim : int
        Number of independent coordinates, 1 to 4.
    kinks : sequence of float, default ()
        Kinks of the integrand in every coordinate (see :func:`normal_rule`).
    nodes : int, optional
        Nodes per coordinate as in :func:`normal_rule`; keep it small (e.g. 40–80) for
        ``dim >= 2``, the rule has ``len(x1) ** dim`` points.

    Returns
    -------
    x : ndarray (P, dim)
        The points.
    w : ndarray (P,)
        The weights (sum 1).
    """
    dim = check_scalar(dim, "dim", "product_rule", kind="int", lower=1, upper=4)
    x1, w1 = normal_rule(kinks, nodes=nodes)
    grids = np.meshgrid(*([x1] * dim), indexing="ij")
    weights = np.meshgrid(*([w1] * dim), indexing="ij")
    x = np.stack([g.ravel() for g in grids], axis=1)
    w = np.prod(np.stack([g.ravel() for g in weights], axis=1), axis=1)
    return x, w


def expect(g: Callable, kinks: Sequence[float] = (), *, nodes: int | None = None) -> float:
    r""":math:`\mathbb{E}[g(Z)]`, :math:`Z \sim \mathcal{N}(0, 1)`, for a vectorized ``g``.

    Parameters
    ----------
    g : callable
        Vectorized function of one array.
    kinks, nodes
        As in :func:`normal_rule`.

    Returns
    -------
    float
    """
    x, w = normal_rule(kinks, nodes=nodes)
    return float(np.dot(g(x), w))


def factorials(k_max: int) -> np.ndarray:
    """``[0!, 1!, ..., k_max!]`` as float64."""
    return np.array([math.factorial(k) for k in range(int(k_max) + 1)], dtype=np.float64)


def hermite_polynomials(x, k_max: int) -> np.ndarray:
    r"""Probabilists' Hermite polynomials :math:`\mathrm{He}_0(x), \dots, \mathrm{He}_{k_{max}}(x)`.

    Uses the three-term recurrence :math:`\mathrm{He}_{k+1}(x) = x\,\mathrm{He}_k(x) -
    k\,\mathrm{He}_{k-1}(x)`.

    Parameters
    ----------
    x : array_like
        Points.
    k_max : int
        Highest degree, >= 0.

    Returns
    -------
    ndarray of shape ``(k_max + 1,) + np.shape(x)``
    """
    k_max = check_scalar(k_max, "k_max", "hermite_polynomials", kind="int", lower=0)
    x = np.asarray(x, dtype=np.float64)
    out = np.empty((k_max + 1,) + x.shape)
    out[0] = 1.0
    if k_max >= 1:
        out[1] = x
    for k in range(1, k_max):
        out[k + 1] = x * out[k] - k * out[k - 1]
    return out


def hermite_series(x, coeffs) -> np.ndarray:
    r"""Evaluate :math:`\sum_k c_k \mathrm{He}_k(x)` by the three-term recurrence.

    Parameters
    ----------
    x : array_like
        Points.
    coeffs : array_like (K,)
        Coefficients :math:`c_0, \dots, c_{K-1}`.

    Returns
    -------
    ndarray, shaped like ``x``
    """
    x = np.asarray(x, dtype=np.float64)
    coeffs = np.asarray(coeffs, dtype=np.float64)
    total = np.zeros_like(x) + coeffs[0]
    if len(coeffs) == 1:
        return total
    h_prev = np.ones_like(x)
    h = x.copy()
    total = total + coeffs[1] * h
    for k in range(1, len(coeffs) - 1):
        h_prev, h = h, x * h - k * h_prev
        total = total + coeffs[k + 1] * h
    return total


def hermite_series_derivative(coeffs) -> np.ndarray:
    r"""Coefficients of the derivative of a Hermite series.

    :math:`\frac{d}{dx}\sum_k c_k\mathrm{He}_k = \sum_k k c_k \mathrm{He}_{k-1}`.
    """
    coeffs = np.asarray(coeffs, dtype=np.float64)
    if len(coeffs) <= 1:
        return np.zeros(1)
    return coeffs[1:] * np.arange(1, len(coeffs), dtype=np.float64)


def hermite_coefficients(g: Callable, k_max: int, kinks: Sequence[float] = (),
                         *, nodes: int | None = None) -> np.ndarray:
    r"""Hermite coefficients :math:`\mu_k = \mathbb{E}[g(Z)\mathrm{He}_k(Z)]/k!` of ``g``.

    Parameters
    ----------
    g : callable
        Vectorized function.
    k_max : int
        Highest order, >= 0.
    kinks, nodes
        As in :func:`normal_rule`.

    Returns
    -------
    ndarray (k_max + 1,)

    Raises
    ------
    InvalidParameterError
        When ``g`` is not finite at the quadrature nodes.
    """
    k_max = check_scalar(k_max, "k_max", "hermite_coefficients", kind="int", lower=0)
    x, w = normal_rule(kinks, nodes=nodes)
    with np.errstate(over="ignore", invalid="ignore"):
        values = np.asarray(g(x), dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise InvalidParameterError(
            f"The function {getattr(g, '__name__', g)!r} returned non-finite values at "
            f"quadrature nodes in [{x.min():.1f}, {x.max():.1f}]; its Hermite coefficients "
            "cannot be computed."
        )
    return hermite_polynomials(x, k_max) @ (values * w) / factorials(k_max)


def legendre_rule(nodes: int):
    """Gauss–Legendre nodes and weights on :math:`[-1, 1]` (read-only, cached).

    Parameters
    ----------
    nodes : int
        Number of nodes, 1 to 10000; exact for polynomials of degree < ``2 * nodes``.

    Returns
    -------
    t, w : ndarray (read-only)
        Nodes and weights; ``w.sum() == 2`` to rounding.
    """
    m = check_scalar(nodes, "nodes", "legendre_rule", kind="int", lower=1, upper=10000)
    return _legendre(int(m))


def location_scale_rule(loc, scale, kinks: Sequence[float] = (), *, span: float = 12.0,
                        nodes: int = 200):
    r"""Rules for :math:`\mathbb{E}[g(\mathrm{loc} + \mathrm{scale}\,Z)]`, one per entry.

    The integral is taken in :math:`x = \mathrm{loc} + \mathrm{scale}\,z` over
    :math:`[\mathrm{loc} - \mathrm{span}\,\mathrm{scale}, \mathrm{loc} +
    \mathrm{span}\,\mathrm{scale}]`, cut at ``loc`` and at every kink of ``g`` inside it,
    each piece by
    Gauss–Legendre with ``nodes`` nodes and the Gaussian density as weight; so the nodes
    already are the arguments of ``g`` and a kink of ``g`` never falls inside a piece
    (the kinks in :math:`z` move with ``loc`` and ``scale``, which a fixed rule in :math:`z`
    cannot follow).

    Parameters
    ----------
    loc, scale : array_like
        Broadcast to a common shape ``S``; ``scale > 0``.
    kinks : sequence of float, default ()
        Kinks of ``g`` (in its own argument ``x``).
    span : float, default 12.0
        Half-width of the range in standard deviations (the Gaussian tail beyond 12 is
        below :math:`10^{-32}`).
    nodes : int, default 200
        Gauss–Legendre nodes per piece.

    Returns
    -------
    x, w : ndarray of shape ``S + ((len(kinks) + 2) * nodes,)``
        Arguments of ``g`` and weights: :math:`\mathbb{E}[g] \approx \sum_i w_i g(x_i)`
        along the last axis.
    """
    owner = "location_scale_rule"
    ks = _check_kinks(kinks, owner)
    t, wt = legendre_rule(nodes)
    loc, scale = np.broadcast_arrays(np.asarray(loc, float), np.asarray(scale, float))
    lo, hi = loc - span * scale, loc + span * scale
    # cut at the mean and at every kink inside the range, in increasing order
    cuts = np.sort(np.stack([loc] + [np.clip(k, lo, hi) for k in ks], axis=-1), axis=-1)
    edges = [lo] + [cuts[..., i] for i in range(cuts.shape[-1])] + [hi]
    xs, ws = [], []
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        half, mid = 0.5 * (b - a), 0.5 * (b + a)
        x = mid[..., None] + half[..., None] * t
        dens = np.exp(-0.5 * ((x - loc[..., None]) / scale[..., None]) ** 2)
        xs.append(x)
        ws.append(half[..., None] * wt * dens / (_SQRT_2PI * scale[..., None]))
    return np.concatenate(xs, axis=-1), np.concatenate(ws, axis=-1)


def chi2_rule(dof: float, nodes: int):
    r"""Gauss rule of the :math:`\chi^2_D` law: :math:`\mathbb{E}[g(U)] \approx \sum_i w_i
    g(u_i)`, :math:`U = \|Z\|^2`, :math:`Z \sim \mathcal{N}(0, I_D)`.

    Golub--Welsch on the Jacobi matrix of the monic Laguerre polynomials of
    :math:`U/2 \sim \mathrm{Gamma}(D/2)` (diagonal :math:`2k + D/2`, off-diagonal
    :math:`\sqrt{k(k + D/2 - 1)}`); exact for polynomials of degree < ``2 * nodes``.

    Parameters
    ----------
    dof : float > 0
        Degrees of freedom :math:`D`.
    nodes : int
        Number of nodes, 1 to 200.

    Returns
    -------
    u, w : ndarray
        Nodes (positive) and weights (sum 1).
    """
    owner = "chi2_rule"
    a = check_scalar(dof, "dof", owner, lower=0.0, lower_inclusive=False) / 2.0
    m = check_scalar(nodes, "nodes", owner, kind="int", lower=1, upper=200)
    k = np.arange(m, dtype=np.float64)
    off = np.sqrt(k[1:] * (k[1:] + a - 1.0))
    J = np.diag(2.0 * k + a) + np.diag(off, 1) + np.diag(off, -1)
    x, V = np.linalg.eigh(J)
    w = V[0] ** 2
    return 2.0 * x, w / w.sum()
