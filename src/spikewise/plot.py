"""Pictures that put a measured spectrum beside its theory.

Every function draws on a Matplotlib :class:`~matplotlib.axes.Axes` (``ax=None`` draws on
the current one) and returns it, so that figures compose with ``plt.subplots``. Nothing here
computes theory: the functions receive

* a *spectrum*: a :class:`spikewise.spectra.Spectrum` or anything with ``values`` (a 1-D array
  of eigen- or singular values) and, optionally, ``params`` (a dict: n, d, N, psi, phi,
  activation, eta, seed, ...), ``source`` (a label) and ``kind`` (``"eigen"`` or
  ``"singular"``); a plain array is accepted too;
* a *law*: any object with ``pdf(x)`` (the density of the absolutely continuous part),
  ``support`` (a list of ``(lo, hi)`` intervals), ``atoms`` (``(locations, masses)``) and,
  optionally, ``params`` — every law of :mod:`spikewise.solvers` qualifies;
* predicted outlier positions as numbers (``NaN`` meaning "no outlier").

Normalization (the one rule of every histogram drawn here): the histogram is a density of the
*whole* empirical measure. Eigenvalues that sit on an atom of the law (within ``atom_tol``) are
taken out of the bars and drawn as a stem at the atom, labelled with the theoretical and the
measured mass; the bars then have total area equal to the measured continuous fraction, and the
theoretical curve is ``law.pdf``, whose integral is ``1 - sum(atom masses)``. For a law without
atoms the bars have area 1, as with ``seaborn.histplot(stat="density")``. When several groups
share one axis (:func:`before_after`), each is normalized separately.

Artists carry a ``gid`` so that scripts and tests can find them: ``"spikewise-theory"``,
``"spikewise-atom"``, ``"spikewise-predicted-outlier"``, ``"spikewise-measured-outlier"``,
``"spikewise-threshold"``, ``"spikewise-simulation"``.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import matplotlib.transforms as mtransforms
import numpy as np

from spikewise._validation import InvalidParameterError, check_array, check_option, check_scalar

__all__ = [
    "before_after",
    "format_params",
    "law_density",
    "overlay",
    "theory_vs_simulation",
]

# Order and display names of the parameters shown in titles and legends.
_PARAM_ORDER = (
    "n", "d", "p", "N", "psi", "phi", "ratio", "gamma", "scale", "activation", "sigma",
    "target", "teacher", "noise", "eta", "eta0", "alpha", "eta_2", "eta0_2", "alpha_2", "eta1",
    "eta2", "alpha1", "alpha2", "lam", "lambda", "batch", "orientation", "seed",
)
_PARAM_TEX = {
    "psi": r"$\psi$", "phi": r"$\phi$", "gamma": r"$\gamma$", "eta": r"$\eta$",
    "eta0": r"$\eta_0$", "eta1": r"$\eta_1$", "eta2": r"$\eta_2$", "alpha": r"$\alpha$",
    "alpha1": r"$\alpha_1$", "alpha2": r"$\alpha_2$", "lam": r"$\lambda$",
    "eta_2": r"$\eta_2$", "eta0_2": r"$\eta_{0,2}$", "alpha_2": r"$\alpha_2$",
    "lambda": r"$\lambda$", "sigma": r"$\sigma$",
}
_PARAM_SKIP = frozenset({"tw_size"})  # bookkeeping entries of a Spectrum, not parameters
_GRID_POINTS = 801


# --------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------
def _fmt_value(value) -> str | None:
    """A short text for one parameter value, or None when it has no short text."""
    if value is None:
        return None
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        value = float(value)
        return "0" if abs(value) < 1e-12 else f"{value:.4g}"
    if isinstance(value, str):
        return value
    name = getattr(value, "name", None)  # an Activation, a law, ...
    if isinstance(name, str):
        return name
    if isinstance(value, np.random.SeedSequence):
        return str(value.entropy)
    return None


def format_params(params: Mapping | None, *, keys: Sequence[str] | None = None,
                  max_items: int = 12) -> str:
    """Format a parameter dict as a short, ordered ``"n=2000, d=1000, ψ=2, ..."`` text.

    Parameters
    ----------
    params : mapping or None
        Parameter names to values, e.g. ``spectrum.params`` or ``law.params``. Numbers are
        shown with 4 significant digits; objects with a ``name`` (activations) by their name;
        arrays, nested mappings and other long values are left out.
    keys : sequence of str, optional
        Show only these keys, in this order.
    max_items : int
        Show at most this many entries.

    Returns
    -------
    str
        The text; empty when there is nothing to show.

    Examples
    --------
    >>> format_params({"n": 2000, "d": 1000, "eta": 2.5, "activation": "tanh"})
    'n=2000, d=1000, activation=tanh, $\\\\eta$=2.5'
    """
    if not params:
        return ""
    if not isinstance(params, Mapping):
        raise InvalidParameterError(
            "The 'params' parameter of format_params must be a mapping or None. "
            f"Got {type(params).__name__} instead."
        )
    max_items = check_scalar(max_items, "max_items", "format_params", kind="int", lower=1)
    if keys is None:
        known = [k for k in _PARAM_ORDER if k in params]
        keys = known + [k for k in params if k not in _PARAM_ORDER]
    parts = []
    for key in keys:
        if key not in params or key in _PARAM_SKIP:
            continue
        text = _fmt_value(params[key])
        if text is None:
            continue
        parts.append(f"{_PARAM_TEX.get(key, key)}={text}")
        if len(parts) >= max_items:
            break
    return ", ".join(parts)


def _get_ax(ax):
    if ax is None:
        return plt.gca()
    if not hasattr(ax, "plot") or not hasattr(ax, "transData"):
        raise InvalidParameterError(
            f"The 'ax' parameter must be a matplotlib Axes or None. Got {type(ax).__name__} "
            "instead."
        )
    return ax


def _values_of(spectrum, owner: str) -> np.ndarray:
    values = getattr(spectrum, "values", spectrum)
    values = check_array(values, "spectrum", owner, dtype=np.float64)
    values = values.ravel()
    if values.size == 0:
        raise InvalidParameterError(
            f"The 'spectrum' parameter of {owner} must hold at least one value. Got none instead."
        )
    return values


def _params_of(obj) -> dict:
    params = getattr(obj, "params", None)
    return dict(params) if isinstance(params, Mapping) else {}


def _law_name(law) -> str:
    name = getattr(law, "name", None)
    return name if isinstance(name, str) else type(law).__name__


def _law_label(law, shown: Mapping | None = None) -> str:
    """The law's own short mathematical ``label`` when it has one; otherwise its name and
    those of its parameters not already shown (e.g. in the title)."""
    label = getattr(law, "label", None)
    if isinstance(label, str) and label != _law_name(law):
        return label
    params = _params_of(law)
    if shown:
        params = {k: v for k, v in params.items()
                  if not (k in shown and _fmt_value(shown[k]) == _fmt_value(v))}
    text = format_params(params, max_items=4)
    return f"{_law_name(law)}({text})" if text else _law_name(law)


def _wrap(text: str, width: int = 64) -> str:
    """Break a parameter line at its commas so that it fits above a small panel."""
    lines, current = [], ""
    for part in text.split(", "):
        candidate = f"{current}, {part}" if current else part
        if current and len(candidate) > width:
            lines.append(current)
            current = part
        else:
            current = candidate
    if current:
        lines.append(current)
    return "\n".join(lines)


def _support_of(law) -> list[tuple[float, float]]:
    support = getattr(law, "support", None)
    if callable(support) and not isinstance(support, list):
        support = support()
    if support is None:
        return []
    intervals = []
    for item in support:
        lo, hi = (float(v) for v in item)
        if np.isfinite(lo) and np.isfinite(hi) and hi > lo:
            intervals.append((lo, hi))
    return sorted(intervals)


def _atoms_of(law) -> tuple[np.ndarray, np.ndarray]:
    atoms = getattr(law, "atoms", None)
    if callable(atoms):
        atoms = atoms()
    if atoms is None:
        return np.empty(0), np.empty(0)
    locs, masses = atoms
    locs = np.atleast_1d(np.asarray(locs, dtype=float)).ravel()
    masses = np.atleast_1d(np.asarray(masses, dtype=float)).ravel()
    if locs.shape != masses.shape:
        raise InvalidParameterError(
            f"The atoms of {_law_name(law)} must be (locations, masses) of equal lengths. "
            f"Got {locs.size} locations and {masses.size} masses instead."
        )
    keep = masses > 0
    return locs[keep], masses[keep]


def _positions(values, name: str, owner: str) -> np.ndarray:
    """Outlier positions from numbers, arrays, or objects with ``positions``/``values``."""
    if values is None:
        return np.empty(0)
    if not isinstance(values, np.ndarray):
        # an OutlierPrediction (its ``outliers``), or anything with positions / values
        for attr in ("outliers", "positions", "values"):
            cand = getattr(values, attr, None)
            if cand is not None and not callable(cand):
                values = cand
                break
    arr = check_array(np.atleast_1d(values), name, owner, finite=False).ravel()
    if np.any(np.isinf(arr)):
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must hold finite positions or NaN (no outlier). "
            "Got an infinite value instead."
        )
    return arr[np.isfinite(arr)]


def _edge_grid(lo: float, hi: float, n_points: int) -> np.ndarray:
    """Points on [lo, hi] clustered at both ends (Chebyshev spacing), ends excluded."""
    t = np.linspace(0.0, np.pi, n_points + 2)[1:-1]
    return lo + (hi - lo) * 0.5 * (1.0 - np.cos(t))


def _theory_curve(law, n_points: int, fallback: tuple[float, float] | None):
    """x and pdf(x) on a grid dense near every edge, NaN-separated between intervals."""
    support = _support_of(law)
    if not support:
        if fallback is None:
            raise InvalidParameterError(
                f"The law {_law_name(law)} has no finite support to draw on; pass a spectrum."
            )
        support = [fallback]
    xs, ys = [], []
    for lo, hi in support:
        x = np.concatenate(([lo], _edge_grid(lo, hi, n_points), [hi]))
        with np.errstate(all="ignore"):
            y = np.asarray(law.pdf(x), dtype=float)
        y = np.where(np.isfinite(y), y, np.nan)
        xs.extend([x, [np.nan]])
        ys.extend([y, [np.nan]])
    return np.concatenate(xs[:-1]), np.concatenate(ys[:-1])


def _bin_mean_theory(law, edges: np.ndarray, n_sub: int = 6) -> np.ndarray:
    """Mean of the theoretical continuous density over each bin (for the y-limits).

    A midpoint rule with ``n_sub`` points per bin: finite for integrable edge singularities
    (``x**-0.5``), and one vectorized ``pdf`` call.
    """
    t = (np.arange(n_sub) + 0.5) / n_sub
    x = edges[:-1, None] + np.diff(edges)[:, None] * t[None, :]
    with np.errstate(all="ignore"):
        y = np.asarray(law.pdf(x.ravel()), dtype=float).reshape(x.shape)
    y = np.where(np.isfinite(y), y, 0.0)
    return y.mean(axis=1)


def _as_laws(law) -> list:
    if law is None:
        return []
    if isinstance(law, list | tuple):
        return list(law)
    return [law]


#: most bars a histogram may have (more cannot be seen, and would take minutes and
#: gigabytes inside matplotlib)
MAX_BINS = 10_000


def _check_bins(bins, owner: str):
    if bins is None or isinstance(bins, str):
        return bins
    if isinstance(bins, numbers.Integral) and not isinstance(bins, bool):
        return check_scalar(bins, "bins", owner, kind="int", lower=1, upper=MAX_BINS)
    edges = check_array(bins, "bins", owner, ndim=1)
    if edges.size < 2 or np.any(np.diff(edges) <= 0):
        raise InvalidParameterError(
            f"The 'bins' parameter of {owner} must be an int, a numpy bin rule or increasing "
            f"edges. Got an array of {edges.size} values that does not increase instead."
        )
    if edges.size - 1 > MAX_BINS:
        raise InvalidParameterError(
            f"The 'bins' parameter of {owner} must give at most {MAX_BINS} bins. Got "
            f"{edges.size} edges ({edges.size - 1} bins) instead."
        )
    return edges


def _n_bins(values: np.ndarray, bins) -> int:
    """Number of bins for one bulk: the default rule, an int, or a numpy rule name."""
    if bins is None:
        return int(np.clip(round(2.0 * np.sqrt(max(values.size, 1))), 8, 100))
    if isinstance(bins, str):
        if values.size < 2 or np.ptp(values) == 0:
            return 8
        return int(np.clip(len(np.histogram_bin_edges(values, bins=bins)) - 1, 1, MAX_BINS))
    return int(bins)


def _extend(start: float, stop: float, width: float, room: int) -> np.ndarray:
    """Interior edges strictly between start and stop: steps of ``width``, at most ``room``."""
    span = stop - start
    if span <= 0:
        return np.empty(0)
    k = max(min(int(round(span / width)), room), 1)
    return np.linspace(start, stop, k + 1)[1:-1]


def _make_edges(values: np.ndarray, bins, support, max_bins: int = 400) -> np.ndarray:
    """Bin edges aligned with the bulk(s) and extended to cover every value.

    With a law, each support interval gets its own equal bins (so that a narrow bulk next to
    a wide one is resolved); gaps and the regions beyond the outer edges get bins of the
    neighbouring width, coarser when far outliers would need too many. Without a law, equal
    bins span the values.
    """
    if isinstance(bins, np.ndarray):
        return bins
    lo_all, hi_all = float(values.min()), float(values.max())
    if not support:
        if hi_all <= lo_all:
            return np.array([lo_all - 0.5, lo_all + 0.5])
        return np.linspace(lo_all, hi_all, _n_bins(values, bins) + 1)
    pieces, widths = [], []
    for lo, hi in support:
        pad = 0.02 * (hi - lo)
        inside = values[(values >= lo - pad) & (values <= hi + pad)]
        k = _n_bins(inside, bins)
        pieces.append(np.linspace(lo, hi, k + 1))
        widths.append((hi - lo) / k)
    room = max((max_bins - sum(len(p) - 1 for p in pieces)) // (len(pieces) + 1), 1)
    parts = []
    if lo_all < support[0][0]:  # full-width bins outward from the lower edge
        k = int(np.ceil((support[0][0] - lo_all) / widths[0] - 1e-9))
        if k <= room:
            parts.append(support[0][0] - widths[0] * np.arange(k, 0, -1))
        else:
            parts.append(np.linspace(lo_all, support[0][0], room + 1)[:-1])
    for i, piece in enumerate(pieces):
        parts.append(piece)
        if i + 1 < len(pieces):
            w = max(widths[i], widths[i + 1])
            parts.append(_extend(piece[-1], pieces[i + 1][0], w, room))
    if hi_all > support[-1][1]:  # full-width bins outward from the upper edge
        k = int(np.ceil((hi_all - support[-1][1]) / widths[-1] - 1e-9))
        if k <= room:
            parts.append(support[-1][1] + widths[-1] * np.arange(1, k + 1))
        else:
            parts.append(np.linspace(support[-1][1], hi_all, room + 1)[1:])
    return np.concatenate(parts)


def _palette():
    """seaborn's "deep" palette (imported here: seaborn is slow to import)."""
    import seaborn as sns

    return sns.color_palette("deep")


def _next_color(ax, color):
    if color is not None:
        return color
    palette = _palette()
    used = len(getattr(ax, "_spikewise_groups", []))
    return palette[used % len(palette)]


def _xlabel(spectrum) -> str:
    kind = getattr(spectrum, "kind", None)
    if kind == "singular":
        return "singular value"
    if kind == "eigen":
        return "eigenvalue"
    return "value"


def _default_margin(values: np.ndarray, support) -> float:
    """A Tracy–Widom-sized margin: 3 * (bulk width) * m^(-2/3) for m values."""
    width = support[-1][1] - support[0][0]
    return 3.0 * width * values.size ** (-2.0 / 3.0)


# --------------------------------------------------------------------------------------------
# the drawing core
# --------------------------------------------------------------------------------------------
def _draw_group(ax, spectrum, laws, *, edges, color, label, outliers, measured, margin,
                atom_tol, n_points, owner, alpha, theory_styles=("-", "--", ":", "-."),
                draw_theory=True):
    values = _values_of(spectrum, owner)
    m = values.size
    blended = mtransforms.blended_transform_factory(ax.transData, ax.transAxes)

    # atoms: take the values sitting on an atom out of the bars
    law0 = laws[0] if laws else None
    locs, masses = _atoms_of(law0) if law0 is not None else (np.empty(0), np.empty(0))
    scale = max(float(np.max(np.abs(values))), 1.0)
    tol = atom_tol * scale
    on_atom = np.zeros(m, dtype=bool)
    atom_counts = []
    for loc in locs:
        hit = np.abs(values - loc) <= tol
        atom_counts.append(int(np.count_nonzero(hit & ~on_atom)))
        on_atom |= hit
    cont = values[~on_atom]
    frac = cont.size / m

    counts, _ = np.histogram(cont, bins=edges)
    widths = np.diff(edges)
    heights = counts / (m * widths) if m else counts * 0.0
    text = label if label is not None else getattr(spectrum, "source", None) or "simulation"
    hist_label = f"{text} ({m} values)"
    if locs.size:
        hist_label += f", continuous part: area {frac:.3f}"
    ax.bar(edges[:-1], heights, width=widths, align="edge", color=color, alpha=alpha,
           linewidth=0, label=hist_label)
    top = float(heights.max()) if heights.size else 0.0

    for i, law in enumerate(laws if draw_theory else []):
        x, y = _theory_curve(law, n_points, fallback=(float(edges[0]), float(edges[-1])))
        (line,) = ax.plot(x, y, color="black" if len(laws) == 1 else None,
                          linestyle=theory_styles[i % len(theory_styles)], linewidth=1.6,
                          label=f"theory: {_law_label(law, _params_of(spectrum))}")
        line.set_gid("spikewise-theory")
        top = max(top, float(np.max(_bin_mean_theory(law, edges), initial=0.0)))

    # atoms as stems with their masses
    stems = zip(locs, masses, atom_counts, strict=True) if draw_theory else ()
    for loc, mass, count in stems:
        (stem,) = ax.plot([loc, loc], [0.0, 0.92], transform=blended, color="black",
                          linewidth=2.0, marker="^", markevery=[1], markersize=7,
                          label=f"atom at {loc:.3g}: mass {mass:.3f} (measured {count / m:.3f})")
        stem.set_gid("spikewise-atom")
        # the arrow's height is not to scale (an atom has no density): its mass is written
        note = ax.annotate(f"mass {mass:.3g}", (loc, 0.92), xycoords=blended,
                           xytext=(4, -2), textcoords="offset points", fontsize="small",
                           va="top")
        note.set_gid("spikewise-atom-mass")

    # predicted outliers: vertical lines
    if isinstance(outliers, Mapping):  # {legend label: position}: one entry per line
        names = [str(k) for k in outliers]
        pred = _positions(list(outliers.values()), "outliers", owner)
        names = [nm for nm, v in zip(names, outliers.values(), strict=True)
                 if np.isfinite(float(v))]
    else:
        pred = _positions(outliers, "outliers", owner)
        names = None
    styles = ("--", ":", "-.")
    for j, pos in enumerate(pred):
        if names is not None:
            text = f"predicted outlier, {names[j]}: {pos:.3g}"
        else:
            text = ("predicted outlier" + ("s" if pred.size > 1 else "")) if j == 0 else None
        line = ax.axvline(pos, color=color, linewidth=1.3, label=text,
                          linestyle=styles[j % len(styles)] if names is not None else "--")
        line.set_gid("spikewise-predicted-outlier")

    # measured outliers: markers on the axis
    if isinstance(measured, str):
        if measured != "auto":
            raise InvalidParameterError(
                f"The 'measured' parameter of {owner} must be 'auto', None or an array of "
                f"positions. Got {measured!r} instead."
            )
        support = _support_of(law0) if law0 is not None else []
        if support and margin is None and callable(getattr(spectrum, "outliers", None)):
            # a spikewise Spectrum knows its matrix size: use its Tracy-Widom margin
            meas = np.asarray(spectrum.outliers(support[-1][1]), dtype=float)
        elif support:
            marg = _default_margin(values, support) if margin is None else float(margin)
            lo, hi = support[0][0], support[-1][1]
            meas = cont[(cont > hi + marg) | (cont < lo - marg)]
        else:
            meas = np.empty(0)
    else:
        meas = _positions(measured, "measured", owner)
    if meas.size:
        (mk,) = ax.plot(meas, np.full(meas.size, 0.03), transform=blended, linestyle="none",
                        marker="o", markersize=7, markerfacecolor=color,
                        markeredgecolor="black",
                        label=f"measured outlier{'s' if meas.size > 1 else ''}: "
                        + ", ".join(f"{v:.3g}" for v in np.sort(meas)[::-1][:4]))
        mk.set_gid("spikewise-measured-outlier")
    return top


_LEGEND_PLACES = (True, False, "best", "below")


def _check_legend(legend, owner: str):
    if legend is True:
        return "best"
    return check_option(legend, "legend", owner, _LEGEND_PLACES)


def _place_legend(ax, where="best"):
    """Draw the legend: ``"best"`` inside the axes where it covers the least data,
    ``"below"`` under the axes, outside the data (give the figure a layout engine, e.g.
    ``layout="constrained"``, or save it with ``bbox_inches="tight"``), one entry per line."""
    if where is False:
        return None
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return None
    if where == "below":
        return ax.legend(handles, labels, fontsize="small", frameon=False, loc="upper center",
                         bbox_to_anchor=(0.5, -0.14))
    return ax.legend(handles, labels, fontsize="small", frameon=False, loc="best")


def _title_of(params: Mapping) -> str:
    """Default title: the known experiment parameters (sizes, ratios, activation, eta, seed)."""
    keys = [k for k in _PARAM_ORDER if k in params]
    return _wrap(format_params(params, keys=keys, max_items=len(_PARAM_ORDER)))


def _finish(ax, spectrum, top, *, title, legend):
    groups = getattr(ax, "_spikewise_groups", [])
    top = max([top] + [g for g in groups])
    ax._spikewise_groups = groups + [top]
    if top > 0:
        ax.set_ylim(0.0, 1.15 * top)
    ax.set_xlabel(_xlabel(spectrum))
    ax.set_ylabel("density")
    if title is None:
        title = _title_of(_params_of(spectrum))
    if title:
        ax.set_title(title, fontsize="medium")
    _place_legend(ax, legend)
    return ax


# --------------------------------------------------------------------------------------------
# public functions
# --------------------------------------------------------------------------------------------
def overlay(spectrum, law=None, *, ax=None, bins=None, outliers=None, measured="auto",
            margin=None, atom_tol=1e-5, label=None, color=None, title=None, legend=True,
            n_points=_GRID_POINTS, alpha=0.55):
    """Density histogram of a spectrum with the theoretical density, atoms and outliers.

    Parameters
    ----------
    spectrum : Spectrum or array_like
        The measured eigen- or singular values (see the module docstring). ``spectrum.params``
        (n, d, N, ratios, activation, eta, seed, ...) becomes the title.
    law : law or sequence of laws, optional
        The theory: ``law.pdf`` is drawn on a grid of ``n_points`` per support interval,
        clustered at the edges; atoms are drawn as stems labelled with their mass. Several laws
        (e.g. the proportional limit and a finite-size correction) get one line each; the first
        one decides the atoms and the bulk edges.
    ax : matplotlib.axes.Axes, optional
        Where to draw; the current axes by default.
    bins : int, str or array_like, optional
        By default ``clip(2 * sqrt(m), 20, 100)`` bins across the bulk (the support of the law)
        for ``m`` values. An int is the number of bins across the bulk, a string a
        :func:`numpy.histogram_bin_edges` rule applied to the bulk; the same bin width is
        extended to cover the outliers. Explicit edges are used as given. At most
        :data:`MAX_BINS` (10000) bins.
    outliers : array_like, mapping or OutlierPrediction, optional
        Predicted outlier positions (``NaN`` entries mean "no outlier" and are skipped), or a
        prediction object of :mod:`spikewise.solvers` (its ``outliers`` are used); drawn as
        dashed vertical lines under one legend entry. A mapping ``{name: position}`` gives
        each line its own legend entry and line style (e.g. ``{"finite N": 2.79,
        "this draw": 2.90}``).
    measured : "auto", array_like or None
        Measured outliers, drawn as markers on the axis. ``"auto"`` marks the values beyond the
        law's outermost edges by more than ``margin``; ``None`` marks nothing.
    margin : float, optional
        Distance beyond the bulk edge for ``measured="auto"``. By default a spectrum with an
        ``outliers(edge)`` method (:class:`spikewise.spectra.Spectrum`) decides with its own
        Tracy–Widom margin (values above the upper edge only); otherwise the margin is
        ``3 * (hi - lo) * m**(-2/3)`` for ``m`` values and support ``[lo, hi]``, on both sides.
    atom_tol : float
        Values within ``atom_tol * max(1, max|values|)`` of an atom count as sitting on it.
    label : str, optional
        Legend label of the histogram (default ``spectrum.source``).
    color : color, optional
        Colour of the bars and the outlier marks (the next seaborn "deep" colour by default).
    title : str, optional
        Axes title; by default the spectrum's parameters, see :func:`format_params`.
    legend : bool or {"best", "below"}
        Draw the legend: ``True`` or ``"best"`` inside the axes where it hides the least
        data, ``"below"`` under the axes, outside the data (the figure then needs a layout
        engine, e.g. ``layout="constrained"``, or ``savefig(..., bbox_inches="tight")``).
    n_points : int
        Grid points per support interval for the theoretical density.
    alpha : float
        Opacity of the bars.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.

    Notes
    -----
    The bars have total area equal to the fraction of values that do not sit on an atom, and
    ``law.pdf`` integrates to one minus the atoms' mass, so bars and curve are on the same
    scale and an atom's mass is shown as a number, never folded into a bar. The y-range is set
    from the bars and from the law's mean density per bin, so an
    integrable singularity of the density (e.g. ``x**-0.5`` at a hard edge) does not squash the
    picture, while a density that disagrees with the bars stays visible. Only ``pdf``,
    ``support`` and ``atoms`` of the law are used.

    Examples
    --------
    >>> import numpy as np, matplotlib
    >>> matplotlib.use("Agg")
    >>> from spikewise.plot import overlay
    >>> ax = overlay(np.random.default_rng(0).uniform(size=500))
    >>> ax.get_ylabel()
    'density'
    """
    owner = "overlay"
    legend = _check_legend(legend, owner)
    bins = _check_bins(bins, owner)
    n_points = check_scalar(n_points, "n_points", owner, kind="int", lower=8)
    atom_tol = check_scalar(atom_tol, "atom_tol", owner, lower=0.0)
    margin = check_scalar(margin, "margin", owner, lower=0.0, allow_none=True)
    alpha = check_scalar(alpha, "alpha", owner, lower=0.0, upper=1.0)
    laws = _as_laws(law)
    for each in laws:
        if not callable(getattr(each, "pdf", None)):
            raise InvalidParameterError(
                f"The 'law' parameter of {owner} must have a pdf method (a spectral law). "
                f"Got {type(each).__name__} instead."
            )
    values = _values_of(spectrum, owner)
    ax = _get_ax(ax)  # after validation: a bad call leaves no empty figure behind
    support = _support_of(laws[0]) if laws else []
    locs, _ = _atoms_of(laws[0]) if laws else (np.empty(0), np.empty(0))
    if locs.size:
        tol = atom_tol * max(float(np.max(np.abs(values))), 1.0)
        keep = np.all(np.abs(values[:, None] - locs[None, :]) > tol, axis=1)
        base = values[keep] if np.any(keep) else values
    else:
        base = values
    edges = _make_edges(base, bins, support)
    color = _next_color(ax, color)
    top = _draw_group(ax, spectrum, laws, edges=edges, color=color, label=label,
                      outliers=outliers, measured=measured, margin=margin, atom_tol=atom_tol,
                      n_points=n_points, owner=owner, alpha=alpha)
    return _finish(ax, spectrum, top, title=title, legend=legend)


def law_density(law, *, ax=None, n_points=_GRID_POINTS, label=None, color=None,
                linestyle="-", atoms=True):
    """Draw a law's density alone, on a grid clustered at its edges, with its atoms.

    Parameters
    ----------
    law : law
        Any object with ``pdf`` and ``support`` (and ``atoms``), e.g. a law of
        :mod:`spikewise.solvers`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; the current axes by default.
    n_points : int
        Grid points per support interval.
    label : str, optional
        Legend label (default: the law's class and parameters).
    color : color, optional
        Line colour.
    linestyle : str
        Line style.
    atoms : bool
        Draw the atoms as stems labelled with their mass.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    owner = "law_density"
    ax = _get_ax(ax)
    n_points = check_scalar(n_points, "n_points", owner, kind="int", lower=8)
    if not callable(getattr(law, "pdf", None)):
        raise InvalidParameterError(
            f"The 'law' parameter of {owner} must have a pdf method (a spectral law). "
            f"Got {type(law).__name__} instead."
        )
    x, y = _theory_curve(law, n_points, fallback=None)
    (line,) = ax.plot(x, y, color=color, linestyle=linestyle,
                      label=label if label is not None else _law_label(law))
    line.set_gid("spikewise-theory")
    if atoms:
        blended = mtransforms.blended_transform_factory(ax.transData, ax.transAxes)
        for loc, mass in zip(*_atoms_of(law), strict=True):
            (stem,) = ax.plot([loc, loc], [0.0, 0.9 * min(1.0, 0.2 + mass)],
                              transform=blended, color=line.get_color(), linewidth=2.0,
                              marker="^", markevery=[1], label=f"atom at {loc:.3g}: {mass:.3f}")
            stem.set_gid("spikewise-atom")
    ax.set_ylabel("density")
    return ax


def before_after(spectrum0, spectrum1, law0=None, law1=None, *, ax=None, bins=None,
                 outliers0=None, outliers1=None, measured="auto", labels=("before", "after"),
                 title=None, legend=True, atom_tol=1e-5, n_points=_GRID_POINTS):
    """Two spectra (e.g. the conjugate kernel before and after a step) over their theories.

    Both histograms use the same bin edges, and each is normalized separately as a density
    (see the module docstring), so a spike that leaves the bulk after the step shows as an
    isolated bar of height ``1 / (m * width)``.

    Parameters
    ----------
    spectrum0, spectrum1 : Spectrum or array_like
        The spectra before and after.
    law0, law1 : law, optional
        Their theories (``law1`` is often the same bulk as ``law0``: pass the same object and
        it is drawn once).
    ax : matplotlib.axes.Axes, optional
        Where to draw; the current axes by default.
    bins : int, str or array_like, optional
        As in :func:`overlay`, chosen on the union of both bulks.
    outliers0, outliers1 : array_like, optional
        Predicted outliers of each spectrum (dashed lines in the group's colour).
    measured : "auto" or None
        Mark the values beyond each law's edges (see :func:`overlay`).
    labels : pair of str
        Prefixes of the two groups' legend labels.
    title : str, optional
        Axes title; by default the parameters of ``spectrum1``.
    legend : bool or {"best", "below"}
        As in :func:`overlay`.
    atom_tol : float
        As in :func:`overlay`.
    n_points : int
        Grid points per support interval.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    owner = "before_after"
    legend = _check_legend(legend, owner)
    ax = _get_ax(ax)
    bins = _check_bins(bins, owner)
    if not (isinstance(labels, Sequence) and len(labels) == 2):
        raise InvalidParameterError(
            f"The 'labels' parameter of {owner} must be a pair of strings. Got {labels!r} "
            "instead."
        )
    v0 = _values_of(spectrum0, owner)
    v1 = _values_of(spectrum1, owner)
    supports = [s for law in (law0, law1) if law is not None for s in _support_of(law)]
    support = [(min(s[0] for s in supports), max(s[1] for s in supports))] if supports else []
    edges = _make_edges(np.concatenate([v0, v1]), bins, support)
    palette = _palette()
    top = 0.0
    same = law1 is law0
    for k, (spec, law, outl, lab) in enumerate(
        [(spectrum0, law0, outliers0, labels[0]), (spectrum1, law1, outliers1, labels[1])]
    ):
        source = getattr(spec, "source", None)
        text = f"{lab}: {source}" if source else lab
        top = max(top, _draw_group(
            ax, spec, _as_laws(law), edges=edges, color=palette[k], label=text, outliers=outl,
            measured=measured if law is not None else None, margin=None, atom_tol=atom_tol,
            n_points=n_points, owner=owner, alpha=0.45,
            theory_styles=("-",) if k == 0 else ("--",), draw_theory=not (k == 1 and same),
        ))
    if title is None:
        title = _title_of(_params_of(spectrum1))
    return _finish(ax, spectrum1, top, title=title, legend=legend)


def theory_vs_simulation(param_values, theory, measured, *, ax=None, theory_x=None,
                         xlabel=r"$\eta$", ylabel=None, label=None, color=None,
                         threshold=None, params=None, title=None, logx=False,
                         drawstyle="default", legend=True, threshold_label=None):
    """A theory curve over a parameter with simulated points (mean and spread over seeds).

    Typical uses: the top singular value of ``W1`` or its alignment with the teacher against
    ``eta`` (with the BBP threshold marked), the number of outliers against ``alpha``
    (``drawstyle="steps-post"``).

    Parameters
    ----------
    param_values : array_like, shape (k,)
        Parameter values at which the simulation was run.
    theory : array_like
        Predicted values at ``param_values`` (or at ``theory_x`` when given). ``NaN`` leaves a
        gap (e.g. no outlier below the threshold).
    measured : array_like, shape (k,) or (n_seeds, k)
        Measured values; with several seeds the mean is drawn with error bars of one standard
        deviation across seeds.
    ax : matplotlib.axes.Axes, optional
        Where to draw; the current axes by default.
    theory_x : array_like, optional
        A finer grid on which ``theory`` was evaluated.
    xlabel, ylabel : str, optional
        Axis labels.
    label : str, optional
        Name of the quantity, used in both legend entries.
    color : color, optional
        Colour of curve and points (the next seaborn "deep" colour by default).
    threshold : float or sequence of float, optional
        Parameter values to mark with dotted vertical lines (e.g. ``eta_c``).
    threshold_label : str, optional
        Legend name of the threshold (default ``"<label>: threshold"``), followed by its value,
        e.g. ``r"BBP threshold $\\eta_c$"``.
    params : mapping, optional
        Fixed parameters of the sweep, shown as the title (see :func:`format_params`).
    title : str, optional
        Explicit title (overrides ``params``).
    logx : bool
        Logarithmic x axis.
    drawstyle : str
        Matplotlib draw style of the theory curve (``"steps-post"`` for counts).
    legend : bool or {"best", "below"}
        Draw the legend: ``True`` or ``"best"`` inside the axes where it hides the least
        data, ``"below"`` under the axes, outside the data (the figure then needs a layout
        engine, e.g. ``layout="constrained"``, or ``savefig(..., bbox_inches="tight")``).

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    owner = "theory_vs_simulation"
    legend = _check_legend(legend, owner)
    x = check_array(param_values, "param_values", owner, ndim=1)
    meas = check_array(measured, "measured", owner, ndim=(1, 2), finite=False)
    if meas.shape[-1] != x.size:
        raise InvalidParameterError(
            f"The 'measured' parameter of {owner} must have {x.size} columns, one per parameter "
            f"value. Got shape {meas.shape} instead."
        )
    check_option(drawstyle, "drawstyle", owner,
                 ("default", "steps", "steps-pre", "steps-mid", "steps-post"))
    tx = x if theory_x is None else check_array(theory_x, "theory_x", owner, ndim=1)
    ty = check_array(theory, "theory", owner, ndim=1, finite=False)
    if ty.size != tx.size:
        raise InvalidParameterError(
            f"The 'theory' parameter of {owner} must have {tx.size} values (one per "
            f"{'theory_x' if theory_x is not None else 'param_values'} entry). "
            f"Got {ty.size} instead."
        )
    ax = _get_ax(ax)  # after validation: a bad call leaves no empty figure behind
    if color is None:
        palette = _palette()
        color = palette[sum(1 for ln in ax.lines if ln.get_gid() == "spikewise-theory")
                        % len(palette)]
    name = f"{label}: " if label else ""
    (line,) = ax.plot(tx, ty, color=color, linewidth=1.6, drawstyle=drawstyle,
                      label=f"{name}theory")
    line.set_gid("spikewise-theory")
    if meas.ndim == 2 and meas.shape[0] > 1:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns give NaN
            mean = np.nanmean(meas, axis=0)
            std = np.nanstd(meas, axis=0)
        cont = ax.errorbar(x, mean, yerr=std, color=color, linestyle="none", marker="o",
                           markersize=5, capsize=3,
                           label=f"{name}simulation (mean ± sd, {meas.shape[0]} seeds)")
        cont.lines[0].set_gid("spikewise-simulation")
    else:
        (pts,) = ax.plot(x, meas.reshape(-1), color=color, linestyle="none", marker="o",
                         markersize=5, label=f"{name}simulation")
        pts.set_gid("spikewise-simulation")
    if threshold is not None:
        thr = np.atleast_1d(check_array(threshold, "threshold", owner, finite=False)).ravel()
        for j, t in enumerate(thr[np.isfinite(thr)]):
            what = f"{name}threshold" if threshold_label is None else str(threshold_label)
            vl = ax.axvline(t, color=color, linestyle=":", linewidth=1.2,
                            label=f"{what} = {t:.3g}" if j == 0 else None)
            vl.set_gid("spikewise-threshold")
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    if ylabel is not None:
        ax.set_ylabel(ylabel)
    if title is None:
        title = _wrap(format_params(params))
    if title:
        ax.set_title(title, fontsize="medium")
    _place_legend(ax, legend)
    return ax
