"""The frozen :class:`Spectrum` result (values of one matrix and what is read off them).

A module of its own so that :mod:`.matrix_free` (whose :class:`DensitySpectrum` subclasses it)
and :mod:`.spectrum` (which dispatches to :mod:`.matrix_free`) import it without a cycle; both
names are re-exported by :mod:`spikewise.spectra.spectrum` and :mod:`spikewise.spectra`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from spikewise._validation import (
    InvalidParameterError,
    check_array,
    check_option,
    check_scalar,
)
from spikewise.spectra._kernels import _histogram_uniform, _stieltjes_empirical

__all__ = ["Spectrum", "tracy_widom_margin"]


def tracy_widom_margin(edge: float, size: int, *, kind: str = "eigen", factor: float = 3.0):
    """A Tracy-Widom-sized margin ``factor * |edge| * size^{-2/3}`` (halved for singular).

    For a Marchenko-Pastur edge ``(1 + sqrt(c))^2`` the TW scale of the top eigenvalue is
    ``(1 + sqrt(c)) (1 + 1/sqrt(c))^{1/3} n^{-2/3}`` (Johnstone 2001), i.e. about
    ``0.63 |edge| n^{-2/3}`` at c = 1, so the default ``factor = 3`` puts the margin about
    4.8 TW standard deviations (9 above the TW mean) past the edge: a bulk eigenvalue crosses
    it with probability well below 1e-4. A singular value ``s = sqrt(lambda)`` fluctuates half
    as much relative to its size, hence the factor 1/2 for ``kind="singular"``.

    Parameters
    ----------
    edge : float
        The bulk edge.
    size : int
        The matrix dimension entering ``size^{-2/3}`` (its smaller side), >= 1.
    kind : {"eigen", "singular"}
        Whether ``edge`` is an eigenvalue or a singular value.
    factor : float
        Multiple of ``|edge| size^{-2/3}``, >= 0.

    Returns
    -------
    float
    """
    owner = "tracy_widom_margin"
    edge = check_scalar(edge, "edge", owner)
    size = check_scalar(size, "size", owner, kind="int", lower=1)
    kind = check_option(kind, "kind", owner, ("eigen", "singular"))
    factor = check_scalar(factor, "factor", owner, lower=0.0)
    rel = factor * float(size) ** (-2.0 / 3.0)
    if kind == "singular":
        rel *= 0.5
    return abs(float(edge)) * rel


@dataclass(frozen=True, eq=False)
class Spectrum:
    """Eigen- or singular values with the matrix and parameters that made them.

    Attributes
    ----------
    values : ndarray
        Sorted ascending, float64, read-only.
    kind : {"eigen", "singular"}
    source : str
        Label of the matrix, e.g. ``"W1"``, ``"CK(W1) F^T F/n"``.
    params : dict
        Parameters of the experiment (sizes, activation, eta, ...), used in labels.
    """

    values: np.ndarray = field(repr=False)
    kind: str = "eigen"
    source: str = ""
    params: dict = field(default_factory=dict)

    def __post_init__(self):
        check_option(self.kind, "kind", "Spectrum", ("eigen", "singular"))
        vals = check_array(self.values, "values", "Spectrum", ndim=1, dtype=np.float64, copy=True)
        if self.kind == "singular" and vals.size and vals.min() < 0:
            raise InvalidParameterError(
                "The 'values' parameter of Spectrum must be non-negative when "
                f"kind='singular' (singular values are >= 0). Got a minimum of {vals.min()!r} "
                "instead."
            )
        vals.sort()
        vals.setflags(write=False)
        object.__setattr__(self, "values", vals)
        if not isinstance(self.params, Mapping):
            raise InvalidParameterError(
                "The 'params' parameter of Spectrum must be a mapping (dict). "
                f"Got {type(self.params).__name__} instead."
            )
        object.__setattr__(self, "params", dict(self.params))

    def __len__(self) -> int:
        return self.values.shape[0]

    def __repr__(self) -> str:
        v = self.values
        rng = f"[{v[0]:.4g}, {v[-1]:.4g}]" if v.size else "[]"
        return f"Spectrum(kind={self.kind!r}, source={self.source!r}, size={v.size}, range={rng})"

    # --- law-like interface (so a Spectrum can stand in for a law in ks) -------------------
    @property
    def atoms(self):
        """No atoms are declared for an empirical spectrum (ties are handled in :meth:`ks`)."""
        return np.empty(0), np.empty(0)

    def cdf(self, x):
        """The empirical distribution function ``#{values <= x} / m``.

        Parameters
        ----------
        x : array_like
            Points (no NaN).

        Returns
        -------
        ndarray
            Shaped like ``x``.
        """
        x = check_array(x, "x", "Spectrum.cdf", finite=False)
        if np.isnan(x).any():  # searchsorted would put NaN past every value: cdf 1
            raise InvalidParameterError(
                "The 'x' parameter of Spectrum.cdf must not contain NaN. "
                f"Got {int(np.isnan(x).sum())} NaN entries instead."
            )
        return np.searchsorted(self.values, x, side="right") / max(len(self), 1)

    def top(self, k: int = 1) -> np.ndarray:
        """The k largest values, in decreasing order.

        Parameters
        ----------
        k : int
            ``0 <= k <= len(self)``.

        Returns
        -------
        ndarray of shape (k,)
        """
        k = check_scalar(k, "k", "Spectrum.top", kind="int", lower=0, upper=len(self))
        return self.values[::-1][:k].copy()

    # --- summaries --------------------------------------------------------------------------
    def histogram(self, bins: int = 50, *, range=None, density: bool = True):
        """Histogram of the values on ``bins`` equal bins (Numba kernel; equals numpy's).

        Parameters
        ----------
        bins : int
            Number of equal bins, >= 1.
        range : (float, float), optional
            Lower and upper end; default the smallest and largest value.
        density : bool
            Heights as a density (they integrate to the fraction of values inside ``range``,
            1 by default) instead of counts.

        Returns
        -------
        heights : ndarray of shape (bins,)
        edges : ndarray of shape (bins + 1,)
        """
        owner = "Spectrum.histogram"
        bins = check_scalar(bins, "bins", owner, kind="int", lower=1)
        if range is None:
            lo, hi = (float(self.values[0]), float(self.values[-1])) if len(self) else (0.0, 1.0)
        else:
            lo, hi = (check_scalar(r, "range", owner) for r in range)
        if hi <= lo:
            lo, hi = lo - 0.5, hi + 0.5
        counts = _histogram_uniform(self.values, lo, hi, bins, np.zeros(bins, dtype=np.int64))
        edges = np.linspace(lo, hi, bins + 1)
        if not density:
            return counts, edges
        return counts / (max(len(self), 1) * (hi - lo) / bins), edges

    def stieltjes(self, z):
        """Empirical Stieltjes transform ``m(z) = (1/m) sum_i 1 / (lambda_i - z)``.

        Same sign convention as the laws (``Im m > 0`` for ``Im z > 0``).

        Parameters
        ----------
        z : complex or array_like of complex
            Finite points.

        Returns
        -------
        complex or ndarray of complex
            Shaped like ``z``.
        """
        z = np.asarray(z)
        zc = np.ascontiguousarray(z, dtype=np.complex128).ravel()
        if not np.all(np.isfinite(zc)):
            raise InvalidParameterError(
                "The 'z' parameter of Spectrum.stieltjes must contain only finite values."
            )
        out = _stieltjes_empirical(self.values, zc, np.empty_like(zc))
        return out.reshape(z.shape) if z.ndim else out[0]

    def ks(self, law) -> float:
        """Kolmogorov distance ``sup_x |F_emp(x) - F_law(x)|`` to a law.

        ``law`` is anything with ``cdf(x)`` (and optionally ``atoms = (locations, masses)``),
        e.g. a law from :mod:`spikewise.solvers` or another :class:`Spectrum` (then the exact
        two-sample distance). Values within ``1e-9 * max|values|`` of an atom are put on it
        (numerically zero eigenvalues of a rank-deficient Gram against an atom at 0), and
        both one-sided limits are compared at every jump.

        Parameters
        ----------
        law : law or Spectrum
            Anything with a ``cdf``.

        Returns
        -------
        float
            In ``[0, 1]``.
        """
        if not hasattr(law, "cdf"):
            raise InvalidParameterError(
                "The 'law' parameter of Spectrum.ks must have a cdf method. "
                f"Got {type(law).__name__} instead."
            )
        m = len(self)
        if m == 0:
            raise InvalidParameterError("Spectrum.ks needs a non-empty spectrum.")
        x = self.values.copy()
        if isinstance(law, Spectrum):
            grid = np.union1d(x, law.values)
            return float(np.max(np.abs(self.cdf(grid) - law.cdf(grid))))
        locs, masses = getattr(law, "atoms", (np.empty(0), np.empty(0)))
        locs = np.atleast_1d(np.asarray(locs, dtype=np.float64))
        masses = np.atleast_1d(np.asarray(masses, dtype=np.float64))
        tol = 1e-9 * max(float(np.max(np.abs(x))), 1e-300)
        for loc in locs:
            x[np.abs(x - loc) <= tol] = loc
        u, counts = np.unique(x, return_counts=True)
        right = np.cumsum(counts) / m
        left = right - counts / m
        F = np.asarray(law.cdf(u), dtype=np.float64)
        jump = np.zeros_like(u)
        for loc, mass in zip(locs, masses, strict=False):
            jump[u == loc] += mass
        F_left = F - jump
        return float(max(np.max(np.abs(right - F)), np.max(np.abs(left - F_left))))

    def outliers(self, edge=None, *, margin=None, size=None) -> np.ndarray:
        """Values above the bulk's upper edge by more than ``margin`` (decreasing order).

        Parameters
        ----------
        edge : float or law
            The bulk's upper edge, or a law with a ``support`` (list of ``(lo, hi)``), whose
            largest ``hi`` is used. Required.
        margin : float, optional
            Default :func:`tracy_widom_margin` ``(edge, size)``.
        size : int, optional
            The dimension entering the Tracy-Widom scale ``size^{-2/3}``; default the
            matrix's smaller dimension (``params["tw_size"]``, set by the builders of this
            module), else the number of nonzero values.

        Returns
        -------
        ndarray
            The outlying values, largest first (empty when none).
        """
        owner = "Spectrum.outliers"
        if edge is None:
            raise InvalidParameterError(
                f"The 'edge' parameter of {owner} must be a float or a law with a support. "
                "Got None instead."
            )
        if hasattr(edge, "support"):
            edge = max(hi for _, hi in edge.support)
        edge = check_scalar(edge, "edge", owner)
        if margin is None:
            if size is None:
                size = self.params.get("tw_size") or max(int(np.count_nonzero(self.values)), 1)
            margin = tracy_widom_margin(edge, size, kind=self.kind)
        margin = check_scalar(margin, "margin", owner, lower=0.0)
        return self.values[self.values > edge + margin][::-1].copy()

    def to_xarray(self):
        """The values as an ``xarray.DataArray`` (needs the optional ``xarray``).

        Returns
        -------
        xarray.DataArray
            Over the dimension ``"index"``, with ``kind``, ``source`` and the scalar
            ``params`` as attributes.
        """
        try:
            import xarray as xr
        except ImportError as exc:  # pragma: no cover - optional dependency
            raise ImportError(
                "Spectrum.to_xarray needs xarray: pip install 'spikewise[dask]'"
            ) from exc
        attrs = {"kind": self.kind, "source": self.source}
        attrs.update({k: v for k, v in self.params.items() if np.isscalar(v)})
        return xr.DataArray(
            np.array(self.values),
            dims=("index",),
            coords={"index": np.arange(len(self))},
            name=self.source or "spectrum",
            attrs=attrs,
        )
