"""The ``spikewise demo`` job: one gradient step, simulated and predicted side by side.

This module puts a measurement (:mod:`spikewise.spectra`) beside a prediction
(:mod:`spikewise.solvers`), so it lives at the top level of the package, as the design asks.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from spikewise._validation import InvalidParameterError, check_scalar
from spikewise.conventions import Sizes

_SWEEP = (0.4, 0.7, 0.9, 1.1, 1.4, 2.0, 3.0)


#: file types the figure may be written as (matplotlib infers the format from the suffix)
IMAGE_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg")


def _resolve_out(out) -> Path:
    """The figure's path: ``out`` itself for an image file name, else a file in folder ``out``.

    Checks everything before the experiment runs; raises :class:`InvalidParameterError` for a
    file name with another suffix (``fig.txt`` is not made a folder) and for a path that
    cannot be created.
    """
    try:
        out = Path(out)
    except TypeError:
        raise InvalidParameterError(
            f"The 'out' parameter of spikewise demo must be a path. Got {out!r} instead."
        ) from None
    is_file = out.suffix.lower() in IMAGE_SUFFIXES and not out.is_dir()
    if not is_file and out.suffix and not out.is_dir():
        raise InvalidParameterError(
            f"The 'out' parameter of spikewise demo must be a folder or an image file name "
            f"ending in one of {', '.join(IMAGE_SUFFIXES)}. Got {str(out)!r} instead."
        )
    folder = out.parent if is_file else out
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidParameterError(
            f"The 'out' parameter of spikewise demo must name a folder that can be created. "
            f"Got {str(out)!r}: {exc.strerror or exc}."
        ) from None
    target = out if is_file else out / "spikewise_demo.png"
    if target.is_dir():
        raise InvalidParameterError(
            f"The 'out' parameter of spikewise demo names a folder, {str(target)!r}, where "
            "the figure file should go. Give another file name."
        )
    return target.resolve()


def _row(name, limit, finite, given, measured):
    def fmt(v):
        if v is None:
            return f"{'-':>12}"
        if isinstance(v, bool | np.bool_):
            return f"{'yes' if v else 'no':>12}"
        return f"{v:>12.4f}"

    return f"{name:<34}{fmt(limit)}{fmt(finite)}{fmt(given)}{fmt(measured)}"


def run_demo(*, out=".", d=800, psi=2.0, phi=1.5, activation="tanh", teacher="tanh",
             noise=0.0, eta=None, seed=0, allow_large=False):
    """Run the one-step experiment, draw it over the theory, and return ``(path, table)``.

    The figure has three panels: (a) the singular values of ``W1`` over the Marchenko–Pastur
    bulk of ``W0`` with the predicted (limit and finite size) and measured outliers; (b) the
    conjugate kernel ``F F^T / N`` on fresh inputs before and after the step over its limiting
    law, with the predicted learned outlier; (c) the top singular value of ``W1`` and the
    squared overlap of its left singular vector with ``beta`` against ``eta``, theory curves
    and simulated points, with the BBP threshold marked.

    Parameters
    ----------
    out : path
        Folder (the file is ``spikewise_demo.png``) or an image file name ending in
        ``.png``, ``.pdf``, ``.svg``, ``.jpg`` or ``.jpeg``.
    d : int
        Input dimension; ``n = psi * d`` samples, ``N = phi * d`` neurons.
    psi, phi : float > 0
        Ratios ``n/d`` and ``N/d``.
    activation, teacher : str or Activation
        Student activation (centred, so that the conjugate kernel has no mean outlier) and
        teacher link.
    noise : float >= 0
        Label-noise standard deviation.
    eta : float >= 0, optional
        Learning rate in the project's convention; by default twice the finite-size BBP
        threshold.
    seed : int
        Seed of every random draw.
    allow_large : bool
        Run even when the simulation's estimated memory exceeds the machine's (the CLI's
        ``--force``).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from spikewise import plot
    from spikewise.activations import get_activation
    from spikewise.solvers.conjugate_kernel import conjugate_kernel_law
    from spikewise.solvers.marchenko_pastur import MarchenkoPastur
    from spikewise.solvers.one_step_theory import critical_learning_rate, one_step_spike
    from spikewise.solvers.spiked_rf import ck_outliers
    from spikewise.spectra.experiment import one_step

    owner = "spikewise demo"
    d = check_scalar(d, "d", owner, kind="int", lower=20)
    psi = check_scalar(psi, "psi", owner, lower=0, lower_inclusive=False)
    phi = check_scalar(phi, "phi", owner, lower=0, lower_inclusive=False)
    noise = check_scalar(noise, "noise", owner, lower=0)
    eta = check_scalar(eta, "eta", owner, lower=0, allow_none=True)
    seed = check_scalar(seed, "seed", owner, kind="int", lower=0)
    sigma = get_activation(activation)
    sigma_star = get_activation(teacher)
    if abs(sigma.mu0) > 1e-10:
        sigma = sigma.centred()
    sizes = Sizes.integers(d=d, psi=psi, phi=phi, owner=owner)
    n, N = sizes.n, sizes.N
    for name, value, size in (("psi", psi, n), ("phi", phi, N)):
        if size < 10:
            raise InvalidParameterError(
                f"The {name!r} parameter of {owner} must give at least 10 "
                f"{'samples n' if name == 'psi' else 'neurons N'} = round({name} * d) at "
                f"d = {d}, i.e. {name} >= {9.5 / d:.3g}. Got {value!r} instead."
            )
    path = _resolve_out(out)
    psi, phi = sizes.psi, sizes.phi
    start = time.perf_counter()

    eta_c_limit = critical_learning_rate(sigma, sigma_star, psi=psi, phi=phi, noise=noise)
    eta_c = critical_learning_rate(sigma, sigma_star, psi=psi, phi=phi, noise=noise, n=n)
    if not np.isfinite(eta_c):
        raise ValueError(
            f"The student {sigma.name!r} or the teacher {sigma_star.name!r} has no linear "
            "component (mu_1 = 0 or c_1 = 0 with no label energy): one step with eta = Theta(1) "
            "has no spike to show."
        )
    if eta is None:
        eta = 2.0 * eta_c

    # the CK on fresh inputs, in the orientation F F^T / N of the theory (and of the table)
    run = one_step(n=n, d=d, N=N, activation=sigma, teacher=sigma_star, noise=noise, eta0=eta,
                   spectra=("W1", "ck0", "ck1"), ck_inputs="fresh", orientation="sample",
                   k_top=1, degrees=(1,), rng=seed, allow_large=allow_large)
    theory = one_step_spike(sigma, sigma_star, psi=psi, phi=phi, eta=eta, noise=noise, n=n)
    lim, fin = theory.limit, theory.finite
    # the same prediction conditional on this run's draw of a, W0, X, y and beta: it removes
    # the seed-to-seed spread of |X^T y / n| and |a| (a few per cent at these sizes)
    cond = one_step_spike(sigma, sigma_star, psi=psi, phi=phi, eta=eta, noise=noise, n=n,
                          a=run.a, W0=run.W0, X=run.X, y=run.y, beta=run.teacher.beta).finite
    # the CK outlier given this draw AND the fresh inputs of the CK (the outlier of a fresh
    # batch moves by about 3% from one batch to the next at the default size)
    ck_draw = ck_outliers(sigma, sigma_star, psi=psi, phi=phi, eta0=eta, noise=noise, n=n,
                          a=run.a, W0=run.W0, X=run.X, y=run.y, beta=run.teacher.beta,
                          X_ck=run.X_ck).draw

    # (c) the sweep over eta: theory on a fine grid, one simulation per point
    eta_grid = np.linspace(0.05, 3.2, 80) * eta_c
    th_top = np.empty_like(eta_grid)
    th_ov = np.empty_like(eta_grid)
    for i, e in enumerate(eta_grid):
        v = one_step_spike(sigma, sigma_star, psi=psi, phi=phi, eta=e, noise=noise, n=n).finite
        th_top[i] = v.top_singular_value
        th_ov[i] = v.overlap_beta
    sweep = np.asarray(_SWEEP) * eta_c
    sim_top = np.empty_like(sweep)
    sim_ov = np.empty_like(sweep)
    for i, e in enumerate(sweep):
        r = one_step(n=n, d=d, N=N, activation=sigma, teacher=sigma_star, noise=noise, eta0=e,
                     spectra=("W1",), k_top=1, degrees=(1,), rng=seed, allow_large=allow_large)
        sim_top[i] = r.spectra["W1"].values.max()
        sim_ov[i] = r.alignments["W1"][0, 0]

    bulk_w = MarchenkoPastur(ratio=d / N, scale=N / d).sqrt()
    bulk_ck = conjugate_kernel_law(sigma, psi=psi, phi=phi, orientation="sample")
    s_w1 = run.spectra["W1"]
    top_w1 = float(s_w1.values.max())
    ck1 = run.spectra["ck1"]
    top_ck = float(ck1.values.max())
    ov_beta = float(run.alignments["W1"][0, 0])
    ov_ck = float(run.alignments["ck1"][0, 0, 0]) if "ck1" in run.alignments else None

    fig, axes = plt.subplots(1, 3, figsize=(17, 7.0))
    plot.overlay(s_w1, bulk_w, ax=axes[0], label="$W_1$",
                 outliers={"finite N": fin.top_singular_value if fin.is_outlier else np.nan,
                           "given this draw": cond.top_singular_value if cond.is_outlier
                           else np.nan},
                 title=f"(a) singular values of $W_1$, $\\eta = {eta:.3g}$", legend="below")
    plot.before_after(run.spectra["ck0"], ck1, bulk_ck, bulk_ck, ax=axes[1],
                      outliers1={"finite N": fin.ck_outlier if fin.ck_is_outlier else np.nan,
                                 "given this draw": ck_draw.position if ck_draw.is_outlier
                                 else np.nan},
                      labels=("CK before the step", "CK after the step"), legend="below",
                      title="(b) conjugate kernel $F F^\\top / N$ on fresh inputs")
    # the CK law has a sharp peak near mu_*^2 (W0^T W0 has a null space when N > d); clip the
    # density axis above the rest of the bulk so that the edge and the outlier stay visible
    lo_ck, hi_ck = bulk_ck.support[0][0], bulk_ck.support[-1][1]
    grid = np.linspace(lo_ck + 0.15 * (hi_ck - lo_ck), hi_ck, 200)
    cap = 4.0 * float(np.max(bulk_ck.pdf(grid)))
    if axes[1].get_ylim()[1] > cap:
        axes[1].set_ylim(0.0, cap)
        axes[1].set_title("(b) conjugate kernel $F F^\\top / N$ on fresh inputs "
                          "(peak clipped)")
    # (c): two quantities on colour-coded twin axes, one legend below
    ax2 = axes[2]
    c_top, c_ov = "C0", "C3"
    plot.theory_vs_simulation(sweep, th_top, sim_top, theory_x=eta_grid, ax=ax2,
                              label="top singular value of $W_1$", threshold=eta_c,
                              threshold_label="BBP threshold $\\eta_c$ (finite N)",
                              color=c_top, ylabel="top singular value of $W_1$",
                              legend=False)
    ax2b = ax2.twinx()
    plot.theory_vs_simulation(sweep, th_ov, sim_ov, theory_x=eta_grid, ax=ax2b,
                              label="overlap$^2$ with $\\beta$", color=c_ov,
                              ylabel="squared overlap of the top left vector with $\\beta$",
                              legend=False)
    for axis, colour, side in ((ax2, c_top, "left"), (ax2b, c_ov, "right")):
        axis.yaxis.label.set_color(colour)
        axis.tick_params(axis="y", colors=colour)
        axis.spines[side].set_color(colour)
    ax2.set_title("(c) BBP transition in $\\eta$ (finite-size theory)")
    h1, l1 = ax2.get_legend_handles_labels()
    h2, l2 = ax2b.get_legend_handles_labels()
    ax2.legend(h1 + h2, l1 + l2, fontsize="small", frameon=False, loc="upper center",
               bbox_to_anchor=(0.5, -0.14))
    fig.suptitle(
        f"spikewise demo: one gradient step, $\\sigma$ = {sigma.name}, teacher "
        f"$\\sigma_*$ = {sigma_star.name}, n = {n}, d = {d}, N = {N}, noise = {noise:g}, "
        f"seed = {seed}", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

    lines = [
        f"one gradient step: n={n}, d={d}, N={N} (psi={psi:.3g}, phi={phi:.3g}), "
        f"sigma={sigma.name}, teacher={sigma_star.name}, noise={noise:g}, eta={eta:.4g}, "
        f"seed={seed}",
        f"{'quantity':<34}{'limit':>12}{'finite N':>12}{'this draw':>12}{'measured':>12}",
        _row("BBP threshold eta_c", eta_c_limit, eta_c, cond.eta_c, None),
        _row("W1 bulk edge", lim.bulk_edge, fin.bulk_edge, cond.bulk_edge, None),
        _row("W1 top singular value", lim.top_singular_value, fin.top_singular_value,
             cond.top_singular_value, top_w1),
        _row("overlap^2 of W1's top vector, beta", lim.overlap_beta, fin.overlap_beta,
             cond.overlap_beta, ov_beta),
        _row("CK bulk edge (F F^T / N)", lim.ck_bulk_edge, fin.ck_bulk_edge, ck_draw.bulk_edge,
             None),
        _row("CK top eigenvalue (F F^T / N)", lim.ck_outlier, fin.ck_outlier, ck_draw.position,
             top_ck),
        _row("overlap^2 of CK top vector, X beta", lim.ck_overlap_beta, fin.ck_overlap_beta,
             ck_draw.overlap_beta, ov_ck),
        "limit: proportional limit; finite N: finite-size prediction; this draw: finite-size "
        "prediction given this run's a, W0, X, y, beta (for the CK also given its fresh "
        "inputs).",
        "The CK rows are F F^T / N with F = sigma(X' W) on fresh inputs X', as the theory "
        "states them (the figure's panel (b) too); on the step's own training inputs the CK "
        "outlier is larger, because F then also carries the batch's labels "
        "(spikewise.solvers.ck_outliers(..., inputs='train') predicts it).",
        f"(ran in {time.perf_counter() - start:.1f} s)",
    ]
    return path, "\n".join(lines)
