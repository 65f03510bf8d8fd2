"""Matrix-free spectral densities: stochastic Lanczos quadrature plus exact top eigenpairs.

The spectrum of a Gram matrix ``scale * A^T A`` (or ``scale * A A^T``) or of a symmetric
matrix is estimated from products with a block of vectors only; the Gram is never formed,
so memory stays at the size of ``A`` plus a few ``m x p`` blocks and time at
``O(n_steps * nnz(A) * p)`` instead of the ``O(m^3)`` of a dense eigensolver.

Method
------
1. **Top eigenpairs** (the outliers). Block Lanczos with full reorthogonalization on a
   random start block of width ``k + 4`` finds the ``k`` largest eigenpairs, stopped when
   every Ritz residual ``||A x - theta x||`` is below ``tol * theta_1`` (Golub & Van Loan,
   *Matrix Computations*, 4th ed., Sec. 10.3.6). Non-convergence raises
   :class:`~spikewise._validation.ConvergenceError`.
2. **Bulk** (stochastic Lanczos quadrature; Golub & Meurant 1994, Ubaru, Chen & Saad,
   "Fast estimation of tr(f(A)) via stochastic Lanczos quadrature", SIAM J. Matrix Anal.
   Appl. 38 (2017); Lin, Saad & Yang, "Approximating spectral densities of large matrices",
   SIAM Rev. 58 (2016)). Each of ``n_probes`` Rademacher vectors, projected off the ``k`` top
   eigenvectors and normalized, starts its own ``n_steps``-step Lanczos recursion (all probes
   advance together, so the products are matrix-matrix products). The Ritz values
   ``theta_i`` and squared first components ``w_i`` of the tridiagonal matrix form a Gauss
   quadrature of the probe's spectral measure ``sum_j (u_j^T z)^2 delta_{lambda_j}``, an
   unbiased estimate of the spectral measure of the deflated bulk.
3. **Distribution function.** By the Chebyshev–Markov–Stieltjes inequalities the true
   distribution function at node ``theta_i`` lies between ``sum_{l<i} w_l`` and
   ``sum_{l<=i} w_l``; each probe's estimate interpolates linearly through the midpoints
   ``(theta_i, sum_{l<i} w_l + w_i / 2)``, in the coordinate ``sqrt(x)`` for a Gram matrix
   (regular at a hard edge, where the density is ``~ x^{-1/2}``), without filling gaps much
   wider than the node spacing (an outlier left in the spectrum). A probe whose recursion
   ended on an invariant subspace has an exact rule and stays a step function. The
   estimate is the mean over probes, its error bar the standard error across probes (the
   probes are independent, so the standard error is that of a mean of i.i.d. values; it
   covers the probe noise, not the quadrature bias, which ``n_steps`` controls).

The ``k`` exact eigenvalues enter as point masses ``1/m`` each, and the ``|p - q|`` exact
zeros of the larger Gram orientation as an atom, as in the dense functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.linalg as sla
from scipy import stats

from spikewise._validation import (
    ConvergenceError,
    InvalidParameterError,
    check_array,
    check_option,
    check_scalar,
)
from spikewise.spectra._spectrum_base import Spectrum
from spikewise.spectra.features import ORIENTATIONS

__all__ = [
    "DensitySpectrum",
    "ck_density",
    "singular_density",
    "eigen_density",
]

_ROW_BLOCK = 2048  # rows per block of the blockwise finiteness check (no full-size temporary)
_GAP_FACTOR = 4.0  # a node gap wider than 2 * _GAP_FACTOR median spacings is not filled


# --------------------------------------------------------------------------------------------
# the result
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class DensitySpectrum(Spectrum):
    """A spectrum known through its density (SLQ) and its exact top values.

    A :class:`~spikewise.spectra.Spectrum` whose ``values`` are a *representation* of the
    estimated distribution: ``size`` quantiles ``F^{-1}((i - 1/2) / size)`` of the estimated
    bulk, the exact zeros of the larger Gram orientation and the ``k`` exact top values. So
    every consumer of a Spectrum (``plot.overlay``, ``ks``, ``outliers``, ``top``) works
    unchanged, up to the quantization ``1/size`` of the distribution function. The methods
    below use the estimate itself.

    Attributes
    ----------
    values : ndarray
        The quantile representation (sorted, read-only; see above).
    kind, source, params
        As for :class:`~spikewise.spectra.Spectrum`.
    nodes, weights : ndarray, shape (n_probes, n_steps)
        Gauss-quadrature nodes (in the units of ``values``: eigenvalues or singular values)
        and weights of each probe's bulk measure; a probe whose Lanczos recursion ended early
        (an invariant subspace) has zero weights past its end.
    top_values : ndarray, shape (k,)
        The exact top values, decreasing.
    top_vectors : ndarray or None, shape (m_small, k)
        Their eigenvectors on the Gram side ``params["gram_side"]`` (``"cols"``: of
        ``A^T A``, i.e. right singular vectors; ``"rows"``: of ``A A^T``, left ones).
    bulk_fraction : float
        Mass of the SLQ bulk: ``(m_small - k) / size``.
    zero_fraction : float
        Mass of the exact zeros: ``(size - m_small) / size``.
    psd : bool
        Whether the matrix is positive semi-definite (a Gram): the distribution function
        is then interpolated in ``sqrt(x)`` between the nodes (see the module notes).
    exact : ndarray of bool, shape (n_probes,)
        Probes whose Lanczos recursion ended on an invariant subspace (or filled the space):
        their Gauss rule *is* their spectral measure, used as a step function.
    """

    nodes: np.ndarray = field(default=None, repr=False)
    weights: np.ndarray = field(default=None, repr=False)
    top_values: np.ndarray = field(default=None, repr=False)
    top_vectors: np.ndarray = field(default=None, repr=False)
    bulk_fraction: float = 1.0
    zero_fraction: float = 0.0
    psd: bool = False
    exact: np.ndarray = field(default=None, repr=False)

    def __post_init__(self):
        super().__post_init__()
        owner = "DensitySpectrum"
        nodes = check_array(self.nodes, "nodes", owner, ndim=2)
        check_array(self.weights, "weights", owner, shape=nodes.shape)
        if self.exact is None:
            object.__setattr__(self, "exact", np.zeros(np.shape(self.nodes)[0], dtype=bool))
        for name, dt in (("nodes", np.float64), ("weights", np.float64),
                         ("top_values", np.float64), ("exact", bool)):
            arr = np.array(getattr(self, name), dtype=dt)
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)

    def __repr__(self) -> str:
        p, s = self.nodes.shape
        return (f"DensitySpectrum(kind={self.kind!r}, source={self.source!r}, size={len(self)}, "
                f"n_probes={p}, n_steps={s}, top={np.round(self.top_values, 6).tolist()})")

    @property
    def n_probes(self) -> int:
        """Number of independent probes."""
        return self.nodes.shape[0]

    def _extent(self):
        bounds = _bounds(self.nodes, self.weights, self.psd)
        rules = [_probe_knots(t, w, self.psd, bounds, e)
                 for t, w, e in zip(self.nodes, self.weights, self.exact, strict=True)]
        ends = np.array([[r[0][0], r[0][-1]] for r in rules if r is not None]).reshape(-1, 2)
        if self.psd:
            ends = ends ** 2
        lo = min([float(self.values[0])] + list(ends[:, 0]))
        hi = max([float(self.values[-1])] + list(ends[:, 1]))
        return lo, hi

    def _check_x(self, x, owner):
        x = check_array(x, "x", owner, finite=False)
        if np.isnan(x).any():
            raise InvalidParameterError(
                f"The 'x' parameter of {owner} must not contain NaN. "
                f"Got {int(np.isnan(x).sum())} NaN entries instead."
            )
        return x

    def probe_cdfs(self, x) -> np.ndarray:
        """Each probe's estimate of the distribution function at ``x``: shape ``(p,) + x.shape``.

        Includes the exact zeros and top values (the same in every probe).

        Parameters
        ----------
        x : array_like of float
            Points (no NaN).

        Returns
        -------
        ndarray of shape (p,) + x.shape
        """
        x = self._check_x(x, "DensitySpectrum.probe_cdfs")
        flat = x.ravel()
        out = np.empty((self.n_probes, flat.size))
        bounds = _bounds(self.nodes, self.weights, self.psd)
        for j in range(self.n_probes):
            rule = _probe_knots(self.nodes[j], self.weights[j], self.psd, bounds, self.exact[j])
            out[j] = _rule_cdf(rule, flat, self.psd)
        out *= self.bulk_fraction
        out += self.zero_fraction * (flat >= 0.0)
        size = len(self)
        for v in self.top_values:
            out += (flat >= v) / size
        return out.reshape((self.n_probes,) + x.shape)

    def cdf(self, x):
        """The estimated distribution function (mean over probes).

        Parameters
        ----------
        x : array_like of float
            Points (no NaN).

        Returns
        -------
        ndarray of the shape of x
        """
        return self.probe_cdfs(x).mean(axis=0)

    def cdf_se(self, x):
        """Standard error of :meth:`cdf` across the probes (``std / sqrt(p)``).

        Parameters
        ----------
        x : array_like of float
            Points (no NaN).

        Returns
        -------
        ndarray of the shape of x

        Raises
        ------
        InvalidParameterError
            With fewer than 2 probes.
        """
        p = self.n_probes
        if p < 2:
            raise InvalidParameterError("DensitySpectrum.cdf_se needs at least 2 probes.")
        return self.probe_cdfs(x).std(axis=0, ddof=1) / np.sqrt(p)

    def _edges(self, bins, range, owner):
        bins = check_scalar(bins, "bins", owner, kind="int", lower=1)
        if range is None:  # all the estimated mass: the outer knots, the zeros, the top values
            lo, hi = self._extent()
        else:
            lo, hi = (check_scalar(r, "range", owner) for r in range)
        if hi <= lo:
            lo, hi = lo - 0.5, hi + 0.5
        return np.linspace(lo, hi, bins + 1)

    def probe_histograms(self, bins: int = 50, *, range=None, density: bool = True):
        """Each probe's histogram ``(heights (p, bins), edges)`` from the estimated cdf.

        A bin ``(e_i, e_{i+1}]`` gets the mass ``F(e_{i+1}) - F(e_i)`` (the first bin also
        the mass at ``e_0``); ``density=True`` divides by the bin width.

        Parameters
        ----------
        bins : int, default 50
            Number of equal bins.
        range : (float, float), optional
            Limits of the bins; default all the estimated mass (outer knots, zeros, top values).
        density : bool, default True
            Heights as densities (mass / bin width), else masses.

        Returns
        -------
        heights : ndarray of shape (p, bins)
        edges : ndarray of shape (bins + 1,)
        """
        edges = self._edges(bins, range, "DensitySpectrum.probe_histograms")
        F = self.probe_cdfs(edges)
        left = F[:, :-1].copy()
        left[:, 0] = self.probe_cdfs(np.nextafter(edges[:1], -np.inf))[:, 0]
        mass = F[:, 1:] - left
        return (mass / np.diff(edges) if density else mass), edges

    def histogram(self, bins: int = 50, *, range=None, density: bool = True):
        """The estimated histogram ``(heights, edges)`` (mean of :meth:`probe_histograms`).

        ``density=False`` gives the estimated *fraction* of values per bin (not counts).

        Parameters
        ----------
        bins, range, density
            As in :meth:`probe_histograms`.

        Returns
        -------
        heights : ndarray of shape (bins,)
        edges : ndarray of shape (bins + 1,)
        """
        h, edges = self.probe_histograms(bins, range=range, density=density)
        return h.mean(axis=0), edges

    def histogram_se(self, bins: int = 50, *, range=None, density: bool = True):
        """Standard errors ``(se, edges)`` of :meth:`histogram` across the probes.

        Parameters
        ----------
        bins, range, density
            As in :meth:`probe_histograms`.

        Returns
        -------
        se : ndarray of shape (bins,)
        edges : ndarray of shape (bins + 1,)

        Raises
        ------
        InvalidParameterError
            With fewer than 2 probes.
        """
        if self.n_probes < 2:
            raise InvalidParameterError("DensitySpectrum.histogram_se needs at least 2 probes.")
        h, edges = self.probe_histograms(bins, range=range, density=density)
        return h.std(axis=0, ddof=1) / np.sqrt(self.n_probes), edges

    def confidence_band(self, bins: int = 50, *, range=None, level: float = 0.95):
        """A ``level`` confidence band of the density histogram: ``(lower, upper, edges)``.

        Mean +- ``t_{p-1}((1 + level) / 2)`` standard errors (Student t with ``p - 1``
        degrees of freedom for ``p`` probes), clipped at 0.

        Parameters
        ----------
        bins : int, default 50
            Number of equal bins.
        range : (float, float), optional
            Limits of the bins, as in :meth:`histogram`.
        level : float, default 0.95
            Confidence level, in (0, 1).

        Returns
        -------
        lower, upper : ndarray of shape (bins,)
            Limits of the band (densities).
        edges : ndarray of shape (bins + 1,)
        """
        level = check_scalar(level, "level", "DensitySpectrum.confidence_band", lower=0.0,
                             upper=1.0, lower_inclusive=False, upper_inclusive=False)
        h, edges = self.histogram(bins, range=range)
        se, _ = self.histogram_se(bins, range=range)
        t = stats.t.ppf(0.5 + 0.5 * level, self.n_probes - 1)
        return np.clip(h - t * se, 0.0, None), h + t * se, edges

    def l1(self, other, *, bins: int = 100, range=None) -> float:
        """L1 distance of the density histograms: ``sum_b |P_hat(b) - P_other(b)|``.

        ``other`` is anything with ``cdf`` (a law of :mod:`spikewise.solvers` or a dense
        :class:`~spikewise.spectra.Spectrum`); both are binned on the same ``bins`` equal
        bins over ``range`` (default: from just below the smallest value to the largest value
        of the bulk, i.e. without the exact top values, and over the law's support when it
        has one), so this is ``int |h_hat - h_other|`` of the
        two histograms drawn with these bins, plus the masses each puts outside ``range``.

        Parameters
        ----------
        other : object with a ``cdf`` method
            The law or spectrum compared with.
        bins : int, default 100
            Number of equal bins.
        range : (float, float), optional
            Limits of the bins (default above).

        Returns
        -------
        float
            In [0, 2].
        """
        owner = "DensitySpectrum.l1"
        if not callable(getattr(other, "cdf", None)):
            raise InvalidParameterError(
                f"The 'other' parameter of {owner} must have a cdf method. "
                f"Got {type(other).__name__} instead."
            )
        if range is None:  # the bulk: the exact top values fall outside, in both measures
            bulk = self.values[:len(self) - self.top_values.size]
            lo, hi = float(self.values[0]), float(bulk[-1] if bulk.size else self.values[-1])
            for a, b in getattr(other, "support", ()) or ():
                lo, hi = min(lo, float(a)), max(hi, float(b))
            lo -= 1e-9 * max(abs(lo), abs(hi), 1e-300)
            range = (lo, hi)
        edges = self._edges(bins, range, owner)
        mine = np.diff(np.concatenate([[0.0], self.cdf(edges), [1.0]]))
        theirs = np.diff(np.concatenate([[0.0], np.asarray(other.cdf(edges), float), [1.0]]))
        return float(np.sum(np.abs(mine - theirs)))

    def to_xarray(self):
        """An ``xarray.Dataset``: the quantile ``values`` (dim ``index``), the quadrature
        ``nodes``/``weights`` (dims ``probe``, ``step``), ``exact`` (dim ``probe``) and the
        ``top_values`` (dim ``top``).

        Returns
        -------
        xarray.Dataset
        """
        try:
            import xarray as xr
        except ImportError as exc:  # pragma: no cover - optional dependency
            raise ImportError(
                "DensitySpectrum.to_xarray needs xarray: pip install 'spikewise[dask]'"
            ) from exc
        attrs = {"kind": self.kind, "source": self.source, "bulk_fraction": self.bulk_fraction,
                 "zero_fraction": self.zero_fraction}
        attrs.update({k: v for k, v in self.params.items() if np.isscalar(v)})
        return xr.Dataset(
            {
                "values": ("index", np.array(self.values)),
                "nodes": (("probe", "step"), np.array(self.nodes)),
                "weights": (("probe", "step"), np.array(self.weights)),
                "top_values": ("top", np.array(self.top_values)),
                "exact": ("probe", np.array(self.exact)),
            },
            attrs=attrs,
        )


def _probe_knots(nodes, weights, psd, bounds, exact=False):
    """Knots (in the coordinate ``u``) and levels of one probe's distribution function.

    The Gauss rule (nodes, weights) is made continuous: linear in ``u = sqrt(x)`` for a
    positive semi-definite matrix (a hard edge at 0 has a density ``~ x^{-1/2}``, regular
    in ``u``) and in ``u = x`` otherwise, through the midpoints
    ``(u_i, sum_{l<i} w_l + w_i / 2)`` allowed by the Chebyshev-Markov-Stieltjes
    inequalities. The outer half weights are spread over half a node gap beyond the extreme
    nodes, but not beyond ``bounds`` (see :func:`_bounds`). A gap wider than
    ``2 * _GAP_FACTOR`` median node spacings (an outlier left in the spectrum, a gap between
    bulks) is not filled: the half weights next to it stay within ``_GAP_FACTOR`` spacings
    (at most the node's spacing on its other side) of their nodes. An ``exact`` rule (see
    :class:`DensitySpectrum`) stays a step function. Returns ``(knots, levels, exact)``, or
    None for a probe without weight.
    """
    keep = weights > 0
    th, w = nodes[keep], weights[keep]
    if th.size == 0:
        return None
    w = w / w.sum()
    u = np.sqrt(np.clip(th, 0.0, None)) if psd else th
    order = np.argsort(u, kind="stable")
    u, w = u[order], w[order]
    if exact or u.size == 1:
        return u, np.cumsum(w), True
    mid = np.cumsum(w) - 0.5 * w
    g = np.diff(u)
    cap = _GAP_FACTOR * float(np.median(g))
    knots = np.concatenate([[max(u[0] - min(0.5 * g[0], cap), bounds[0])], u,
                            [min(u[-1] + min(0.5 * g[-1], cap), bounds[1])]])
    levels = np.concatenate([[0.0], mid, [1.0]])
    flagged = np.nonzero(g > 2.0 * cap)[0]
    if flagged.size:
        extra_k, extra_l = [], []
        for i in flagged:
            right = min(g[i - 1], cap) if i > 0 else cap
            left = min(g[i + 1], cap) if i + 1 < g.size else cap
            extra_k += [u[i] + right, u[i + 1] - left]
            extra_l += [mid[i] + 0.5 * w[i], mid[i + 1] - 0.5 * w[i + 1]]
        order = np.argsort(np.concatenate([knots, extra_k]), kind="stable")
        knots = np.concatenate([knots, extra_k])[order]
        levels = np.maximum.accumulate(np.concatenate([levels, extra_l])[order])
    return knots, levels, False


def _to_u(x, psd):
    return np.sqrt(np.clip(x, 0.0, None)) if psd else x


def _bounds(nodes, weights, psd):
    """Limits of the outer half gaps, in the interpolation coordinate: 0 (psd) or none below,
    the largest Ritz value over all probes above (it converges fast to the top of the
    spectrum from inside). The smallest Ritz value is not used below: at a hard edge
    (density ~ x^{-1/2}) much mass lies under it."""
    live = nodes[weights > 0]
    top = float(_to_u(np.array([live.max()]), psd)[0]) if live.size else np.inf
    return (0.0 if psd else -np.inf, top)


def _rule_cdf_u(rule, u):
    """A probe's distribution function at points ``u`` of the interpolation coordinate."""
    if rule is None:
        return np.zeros(np.shape(u))
    knots, levels, exact = rule
    if exact:  # right-continuous step function
        idx = np.searchsorted(knots, u, side="right") - 1
        return np.where(idx >= 0, levels[np.clip(idx, 0, None)], 0.0)
    return np.interp(u, knots, levels, left=0.0, right=1.0)


def _rule_cdf(rule, x, psd):
    """A probe's distribution function at ``x`` (see :func:`_probe_knots`)."""
    out = _rule_cdf_u(rule, _to_u(x, psd))
    if psd:
        out[x < 0] = 0.0
    return out


def _quantiles(nodes, weights, exact, count, psd):
    """``count`` quantiles ``F^{-1}((i - 1/2) / count)`` of the mean of the probes' cdfs.

    The mean is piecewise linear in ``u`` between the union of the knots, with jumps at the
    nodes of exact probes; it is tabulated at every knot from the left and from the right.
    """
    if count == 0:
        return np.empty(0)
    bounds = _bounds(nodes, weights, psd)
    rules = [_probe_knots(t, w, psd, bounds, e)
             for t, w, e in zip(nodes, weights, exact, strict=True)]
    rules = [r for r in rules if r is not None]
    kn = np.unique(np.concatenate([r[0] for r in rules]))
    knots = np.repeat(kn, 2)
    F = np.empty(knots.size)
    F[0::2] = np.mean([_rule_cdf_u(r, np.nextafter(kn, -np.inf)) for r in rules], axis=0)
    F[1::2] = np.mean([_rule_cdf_u(r, kn) for r in rules], axis=0)
    F = np.maximum.accumulate(F)
    levels = (np.arange(count) + 0.5) / count
    idx = np.clip(np.searchsorted(F, levels, side="left"), 1, knots.size - 1)
    f0, f1 = F[idx - 1], F[idx]
    gap = np.where(f1 > f0, f1 - f0, 1.0)
    t = np.clip(np.where(f1 > f0, (levels - f0) / gap, 1.0), 0.0, 1.0)
    u = knots[idx - 1] + t * (knots[idx] - knots[idx - 1])
    return u ** 2 if psd else u


# --------------------------------------------------------------------------------------------
# Lanczos engines
# --------------------------------------------------------------------------------------------
def _symmetric_matrix(matmat, m, dtype):
    """The operator applied to the identity, symmetrized."""
    A = matmat(np.eye(m, dtype=dtype))
    return 0.5 * (A + A.T)


def _block_lanczos_top(matmat, m, k, dtype, *, tol, max_steps, rng, owner):
    """The k largest eigenpairs of a symmetric operator by block Lanczos (full reorth).

    Operators with ``m <= 8 (k + 4)`` rows are applied to the identity and solved densely.

    Returns ``(values decreasing float64, vectors (m, k) of dtype)``.
    """
    b = min(k + 4, m)
    if m <= 8 * b:  # a tiny operator: its m x m matrix costs less than the Krylov bookkeeping
        vals, vecs = np.linalg.eigh(_symmetric_matrix(matmat, m, dtype).astype(np.float64))
        return vals[::-1][:k].copy(), np.ascontiguousarray(vecs[:, ::-1][:, :k]).astype(dtype)
    basis = []
    Q, _ = np.linalg.qr(rng.standard_normal((m, b)).astype(dtype))
    Q_prev, B_prev = None, None
    A_blocks, B_blocks = [], []
    ritz_vals = ritz_vecs = None
    res = np.full(k, np.inf)
    scale = 0.0
    for step in range(max_steps):
        basis.append(Q)
        W = matmat(Q)
        if Q_prev is not None:
            W -= Q_prev @ B_prev.T.astype(dtype)
        Aj = Q.T @ W
        Aj = 0.5 * (Aj + Aj.T)
        W -= Q @ Aj
        V = np.concatenate(basis, axis=1)
        for _ in range(2):  # full reorthogonalization, twice is enough (Kahan-Parlett)
            W -= V @ (V.T @ W)
        Q_next, Bj = np.linalg.qr(W)
        A_blocks.append(Aj.astype(np.float64))
        B_blocks.append(Bj.astype(np.float64))
        size = b * (step + 1)
        T = np.zeros((size, size))
        for i, Ai in enumerate(A_blocks):
            T[i * b:(i + 1) * b, i * b:(i + 1) * b] = Ai
            if i + 1 < len(A_blocks):
                T[(i + 1) * b:(i + 2) * b, i * b:(i + 1) * b] = B_blocks[i]
                T[i * b:(i + 1) * b, (i + 1) * b:(i + 2) * b] = B_blocks[i].T
        theta, Y = np.linalg.eigh(T)
        theta, Y = theta[::-1][:k], Y[:, ::-1][:, :k]
        scale = max(scale, float(np.max(np.abs(theta))))
        res = np.linalg.norm(Bj @ Y[-b:], axis=0)
        ritz_vals, ritz_vecs = theta, Y
        if np.all(res <= tol * max(scale, 1e-300)):
            break
        if size + b > m:  # no room for another block: the Krylov space is (nearly) full
            raise ConvergenceError(
                f"{owner}: block Lanczos exhausted the {m}-dimensional space before the top "
                f"{k} eigenpairs converged (largest relative residual "
                f"{np.max(res) / scale:.3g} > tol = {tol:.3g}); raise tol or lower k."
            )
        Q_prev, B_prev, Q = Q, Bj, Q_next
    else:
        raise ConvergenceError(
            f"{owner}: block Lanczos did not converge to the top {k} eigenpairs in "
            f"{max_steps} steps (largest relative residual {np.max(res) / scale:.3g} > "
            f"tol = {tol:.3g}); raise max_steps or tol, or lower k."
        )
    V = np.concatenate(basis, axis=1)
    vecs = V @ ritz_vecs.astype(dtype)
    vecs /= np.linalg.norm(vecs, axis=0)
    return ritz_vals.copy(), vecs


def _slq(matmat, m, n_probes, n_steps, dtype, *, deflate, rng):
    """Batched Lanczos on ``n_probes`` Rademacher probes: nodes and weights (p, s)."""
    Z = rng.choice(np.array([-1.0, 1.0], dtype=dtype), size=(m, n_probes))
    if deflate is not None:
        Z -= deflate @ (deflate.T @ Z)
    Z /= np.linalg.norm(Z, axis=0)
    steps = min(n_steps, m - (0 if deflate is None else deflate.shape[1]))
    steps = max(steps, 1)
    basis = np.empty((n_probes, steps, m), dtype=dtype)  # per-probe Lanczos vectors
    alpha = np.zeros((n_probes, steps))
    beta = np.zeros((n_probes, steps))
    length = np.full(n_probes, steps)
    Q, Q_prev = Z, np.zeros_like(Z)
    b_prev = np.zeros(n_probes, dtype=dtype)
    for j in range(steps):
        basis[:, j, :] = Q.T
        W = matmat(Q)
        if deflate is not None:
            W -= deflate @ (deflate.T @ W)
        a = np.einsum("ij,ij->j", Q, W)
        W -= Q * a + Q_prev * b_prev
        for _ in range(2):  # full reorthogonalization of each probe against its own basis
            coef = np.matmul(basis[:, :j + 1, :], W.T[:, :, None])
            W -= np.matmul(basis[:, :j + 1, :].transpose(0, 2, 1), coef)[:, :, 0].T
        bnorm = np.linalg.norm(W, axis=0)
        alpha[:, j] = a
        active = length > j
        size_c = np.maximum(np.abs(alpha[:, :j + 1]).max(axis=1), beta[:, :j].max(axis=1)
                            if j else 0.0)  # the operator's scale seen by each probe so far
        done = active & (bnorm <= 10 * np.finfo(dtype).eps * size_c)
        length[done] = j + 1
        beta[:, j] = np.where(length > j + 1, bnorm, 0.0)
        Q_prev, b_prev = Q, np.where(length > j + 1, bnorm, 0.0).astype(dtype)
        Q = W / np.where(b_prev > 0, b_prev, 1).astype(dtype)
        Q[:, b_prev == 0] = 0
        if not np.any(length > j + 1):
            break
    nodes = np.zeros((n_probes, steps))
    weights = np.zeros((n_probes, steps))
    for c in range(n_probes):
        L = int(length[c])
        if L == 1:
            th, Y = alpha[c, :1], np.ones((1, 1))
        else:
            th, Y = sla.eigh_tridiagonal(alpha[c, :L], beta[c, :L - 1])
        nodes[c, :L] = th
        weights[c, :L] = Y[0] ** 2
        nodes[c, L:] = th[-1]
    # a recursion that stopped early (invariant subspace) or filled the space is exact
    exact = (length < steps) | (length >= m - (0 if deflate is None else deflate.shape[1]))
    return nodes, weights, exact


# --------------------------------------------------------------------------------------------
# public functions
# --------------------------------------------------------------------------------------------
def _matrix(A, name, owner):
    A = check_array(A, name, owner, ndim=2, dtype=None, finite=False)
    if A.dtype not in (np.float32, np.float64):
        A = A.astype(np.float64)
    if min(A.shape) < 1:
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be non-empty. Got shape {A.shape} instead."
        )
    for start in range(0, A.shape[0], _ROW_BLOCK):  # blockwise: no full-size boolean temporary
        if not np.all(np.isfinite(A[start:start + _ROW_BLOCK])):
            raise InvalidParameterError(
                f"The {name!r} parameter of {owner} must contain only finite values. "
                "Got NaN or infinite entries instead."
            )
    return A


def _options(owner, k, n_probes, n_steps, tol, max_steps, m):
    k = check_scalar(k, "k", owner, kind="int", lower=0, upper=max(m - 1, 0))
    n_probes = check_scalar(n_probes, "n_probes", owner, kind="int", lower=2)
    n_steps = check_scalar(n_steps, "n_steps", owner, kind="int", lower=2)
    tol = check_scalar(tol, "tol", owner, lower=0.0, lower_inclusive=False, allow_none=True)
    max_steps = check_scalar(max_steps, "max_steps", owner, kind="int", lower=1)
    return k, n_probes, n_steps, tol, max_steps


def _density(op, m, size, dtype, *, kind, k, n_probes, n_steps, tol, max_steps, rng, source,
             params, owner, psd, transform=None):
    """Shared driver: top-k, deflated SLQ, quantile representation, DensitySpectrum."""
    gen = np.random.default_rng(rng)
    if tol is None:
        tol = 1e-4 if dtype == np.float32 else 1e-8
    top, vecs = np.empty(0), None
    if k:
        top, vecs = _block_lanczos_top(op, m, k, dtype, tol=tol, max_steps=max_steps, rng=gen,
                                       owner=owner)
    if m - k > 0:
        nodes, weights, exact = _slq(op, m, n_probes, n_steps, dtype, deflate=vecs, rng=gen)
    else:
        nodes, weights = np.zeros((n_probes, 1)), np.zeros((n_probes, 1))
        exact = np.ones(n_probes, dtype=bool)
    nodes = np.clip(nodes, 0.0, None) if transform is not None else nodes
    if transform is not None:
        nodes, top = transform(nodes), transform(np.clip(top, 0.0, None))
    n_zero = size - m
    bulk = _quantiles(nodes, weights, exact, m - k, psd)
    values = np.concatenate([np.zeros(n_zero), bulk, top])
    p = {"tw_size": m, "method": "matrix_free", "n_probes": n_probes, "n_steps": n_steps,
         **(params or {})}
    return DensitySpectrum(values, kind=kind, source=source, params=p, nodes=nodes,
                           weights=weights, top_values=np.asarray(top, float),
                           top_vectors=vecs, bulk_fraction=(m - k) / size,
                           zero_fraction=n_zero / size, psd=psd, exact=exact)


_OPTIONS_DOC = """k : int, default 0
        Number of top eigenpairs computed exactly by block Lanczos (the outliers), deflated
        from the bulk and kept as point masses (with their vectors).
    n_probes : int, default 10
        Independent Rademacher probes (at least 2, for the error bars).
    n_steps : int, default 80
        Lanczos steps per probe (Gauss-quadrature nodes per probe).
    tol : float, optional
        Relative residual ``||A x - theta x|| / theta_1`` at which the top pairs count as
        converged; default 1e-4 in float32, 1e-8 in float64.
    max_steps : int, default 200
        Block Lanczos steps allowed for the top pairs before ConvergenceError.
    rng : None, int, Generator or BitGenerator
        Seed of the probes and of the block start (``np.random.default_rng(rng)``).
    source : str
        Label of the matrix.
    params : dict, optional
        Parameters of the experiment, used in labels.

    Returns
    -------
    DensitySpectrum"""


def _gram_operator(A, side, scale):
    """``X -> scale * A^T (A X)`` (side "cols") or ``scale * A (A^T X)`` ("rows")."""
    s = A.dtype.type(scale)
    if side == "cols":
        def matmat(X):
            out = A.T @ (A @ X)
            out *= s
            return out
    else:
        def matmat(X):
            out = A @ (A.T @ X)
            out *= s
            return out
    return matmat


def ck_density(F, *, orientation: str = "feature", k: int = 0, n_probes: int = 10,
               n_steps: int = 80, tol=None, max_steps: int = 200, rng=None,
               source: str = "CK", params=None) -> DensitySpectrum:
    """Matrix-free density and top eigenpairs of ``F^T F / n`` ("feature") or ``F F^T / N``.

    The same spectrum as :func:`spikewise.spectra.ck_spectrum` (the smaller Gram's nonzero
    eigenvalues, the larger orientation's exact zeros appended), estimated from products
    ``F^T (F X)`` or ``F (F^T X)`` with ``m x n_probes`` blocks on the smaller side
    ``m = min(n, N)``: the Gram is never formed, products run in ``F``'s dtype (float32 stays
    float32), and memory is ``F`` plus ``O(m (n_probes n_steps + k))``.

    Parameters
    ----------
    F : array_like (n, N)
        Features, e.g. :func:`spikewise.spectra.ck_features`.
    orientation : {"feature", "sample"}
    {options}
    """
    owner = "ck_density"
    check_option(orientation, "orientation", owner, ORIENTATIONS)
    F = _matrix(F, "F", owner)
    n, N = F.shape
    m = min(n, N)
    k, n_probes, n_steps, tol, max_steps = _options(owner, k, n_probes, n_steps, tol,
                                                    max_steps, m)
    scale = 1.0 / n if orientation == "feature" else 1.0 / N
    # nonzero eigenvalues of scale * F^T F and scale * F F^T coincide: work on the smaller one
    op = _gram_operator(F, "cols" if N <= n else "rows", scale)
    size = N if orientation == "feature" else n
    p = {"orientation": orientation, "gram_side": "cols" if N <= n else "rows",
         **(params or {})}
    return _density(op, m, size, F.dtype.type, kind="eigen", k=k, n_probes=n_probes,
                    n_steps=n_steps, tol=tol, max_steps=max_steps, rng=rng, source=source,
                    params=p, owner=owner, psd=True)


def singular_density(A, *, k: int = 0, n_probes: int = 10, n_steps: int = 80, tol=None,
                     max_steps: int = 200, rng=None, source: str = "A",
                     params=None) -> DensitySpectrum:
    """Matrix-free distribution of the ``min(p, q)`` singular values of A and the top k.

    The eigenvalues of the smaller Gram ``A A^T`` or ``A^T A`` (products only) are estimated
    as in :func:`ck_density` and mapped by ``sqrt``; ``top_vectors`` are the right or left
    singular vectors of the smaller side (``params["gram_side"]``: "rows" means left).

    Parameters
    ----------
    A : array_like (p, q)
    {options}
    """
    owner = "singular_density"
    A = _matrix(A, "A", owner)
    side = "rows" if A.shape[0] <= A.shape[1] else "cols"
    m = min(A.shape)
    k, n_probes, n_steps, tol, max_steps = _options(owner, k, n_probes, n_steps, tol,
                                                    max_steps, m)
    p = {"gram_side": side, **(params or {})}
    return _density(_gram_operator(A, side, 1.0), m, m, A.dtype.type, kind="singular", k=k,
                    n_probes=n_probes, n_steps=n_steps, tol=tol, max_steps=max_steps, rng=rng,
                    source=source, params=p, owner=owner, psd=True,
                    transform=np.sqrt)


def eigen_density(S, *, k: int = 0, n_probes: int = 10, n_steps: int = 80, tol=None,
                  max_steps: int = 200, rng=None, source: str = "S",
                  params=None) -> DensitySpectrum:
    """Matrix-free eigenvalue distribution and top-k eigenpairs of a symmetric matrix.

    ``S`` is an array (used only through ``S @ X``) or a
    :class:`scipy.sparse.linalg.LinearOperator` (through ``matmat``); symmetry of an array
    is checked to relative 1e-8, as in :func:`spikewise.spectra.eigen_spectrum`.

    Parameters
    ----------
    S : array_like (m, m) or LinearOperator
    {options}
    """
    owner = "eigen_density"
    if hasattr(S, "matmat") and not isinstance(S, np.ndarray):
        if len(S.shape) != 2 or S.shape[0] != S.shape[1]:
            raise InvalidParameterError(
                f"The 'S' parameter of {owner} must be square. Got shape {S.shape} instead."
            )
        dtype = np.dtype(S.dtype).type if np.dtype(S.dtype).kind == "f" else np.float64
        op = S.matmat
    else:
        S = _matrix(S, "S", owner)
        if S.shape[0] != S.shape[1]:
            raise InvalidParameterError(
                f"The 'S' parameter of {owner} must be square. Got shape {S.shape} instead."
            )
        asym = float(np.max(np.abs(S - S.T)))
        if asym > 1e-8 * float(np.max(np.abs(S))):
            raise InvalidParameterError(
                f"The 'S' parameter of {owner} must be symmetric (to relative 1e-8). "
                f"Got max |S - S^T| = {asym:.3g} instead."
            )
        dtype = S.dtype.type
        op = S.__matmul__
    m = S.shape[0]
    k, n_probes, n_steps, tol, max_steps = _options(owner, k, n_probes, n_steps, tol,
                                                    max_steps, m)
    return _density(op, m, m, dtype, kind="eigen", k=k, n_probes=n_probes, n_steps=n_steps,
                    tol=tol, max_steps=max_steps, rng=rng, source=source, params=params,
                    owner=owner, psd=False)


for _func in (ck_density, singular_density, eigen_density):
    _func.__doc__ = _func.__doc__.replace("{options}", _OPTIONS_DOC)
