r"""Parameter sweeps on :mod:`dask.distributed`, written point by point to xarray/zarr.

:func:`sweep` runs a function over a grid of parameters times seeds and returns an
:class:`xarray.Dataset` with one dimension per grid parameter and one for the seed. The
function is a registered experiment (see :data:`EXPERIMENTS`; ``"one_step"`` runs
:func:`spikewise.spectra.one_step` and keeps a few scalars) or any callable
``func(*, rng, **params) -> dict`` returning scalars or arrays of a fixed shape.

Reproducibility. Point ``i`` (the flat C-order index over the grid's axes and then the seed
axis) is seeded with ``np.random.SeedSequence(base_seed, spawn_key=(i,))``, so a result
depends on the grid, the seed count and ``base_seed``, never on which worker ran it, in
which order, or whether the sweep was interrupted. Each task limits BLAS and Numba to
``n_threads`` threads (:func:`spikewise.spectra.thread_limits`); with one thread, the results
are bit-identical across worker counts and across resumption.

Resumption. With ``store=PATH`` every finished point is written at once into its region of
the zarr store, then its ``done`` flag (chunks of up to 1024 points, each replaced
atomically, so that an interrupted write damages nothing). Calling :func:`sweep` again with the same
arguments skips the points already done; a store written by a different sweep (another
function, grid, seed count, base seed or fixed parameters) is refused. A worker that dies
loses only the task it was running: the scheduler reruns it elsewhere, and ``retries``
reruns tasks that raised.

This module needs the ``dask`` extra (``pip install "spikewise[dask]"``: dask.distributed,
xarray, zarr), imported only when a sweep runs.
"""

from __future__ import annotations

import importlib
import inspect
import json
import math
import numbers
import os
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass

import numpy as np

from spikewise._progress import progress_bar, show_progress
from spikewise._sweep_store import MemoryWriter, ZarrWriter, output_schema
from spikewise._validation import InvalidParameterError, check_scalar
from spikewise.conventions import Sizes
from spikewise.spectra import one_step, thread_limits

__all__ = ["sweep", "SweepError", "Experiment", "EXPERIMENTS", "one_step_summary",
           "point_seed"]

_OWNER = "spikewise.sweep"
_RESERVED = ("seed", "done", "rng")
_THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "NUMBA_NUM_THREADS")


class SweepError(RuntimeError):
    """Some points of a sweep failed; the others are stored and a rerun retries the rest.

    Attributes
    ----------
    failures : list of (dict, int, BaseException)
        For each failed point: its parameters (fixed and swept), its seed index, and the
        exception it raised.
    """

    def __init__(self, message, failures=()):
        super().__init__(message)
        self.failures = list(failures)


# -- registered experiments ---------------------------------------------------------------------


def one_step_summary(*, d, n=None, N=None, psi=None, phi=None, activation="relu",
                     teacher="relu", noise=0.0, eta0=1.0, alpha=0.0, second_layer="gaussian",
                     spectra=("W1",), n_top=1, ck_inputs="train", orientation="feature",
                     lambdas=None, n_test=None, rng=None) -> dict:
    r"""One gradient step (:func:`spikewise.spectra.one_step`), reduced to scalars.

    Takes the step of Ba et al. (2022) (``alpha = 0``) or Moniri et al. (2023)
    (``alpha > 0``) in the package convention, :math:`\eta = \eta_0 N^\alpha` with ``W0``
    entries :math:`N(0, 1/d)` and ``a`` fixed, and keeps what a sweep plots.

    Parameters
    ----------
    d : int
        Input dimension.
    n, N : int, optional
        Samples and width; or give ``psi = n/d`` and ``phi = N/d`` (rounded to integers).
    activation, teacher : str
        Student activation and teacher link.
    noise, eta0, alpha : float
        Label noise; learning rate ``eta = eta0 * N**alpha``.
    second_layer : {"gaussian", "rademacher", "constant"}
    spectra : str or tuple of str
        Which spectra to measure, among ``"W0", "W1", "ck0", "ck1"``.
    n_top : int
        How many of the largest values of each spectrum to keep.
    ck_inputs, orientation : str
        As in :func:`~spikewise.spectra.one_step`: CK features on the training inputs or on
        fresh ones; CK Gram ``F^T F / n`` ("feature") or ``F F^T / N`` ("sample").
    lambdas : sequence of float, optional
        Ridge penalties (convention of :func:`spikewise.spectra.ridge_path`) for the second
        layer refitted on the features :math:`\sigma(X W_1)`.
    n_test : int, optional
        Fresh samples for the ridge test error (default ``n``).
    rng : None, int, SeedSequence or Generator

    Returns
    -------
    dict
        ``spike_value`` (top singular value of ``W1 - W0``), ``spike_overlap``
        (:math:`|\langle u, \beta\rangle|^2` of its left vector), and for each measured
        spectrum ``<name>_top``, its largest singular value or eigenvalue (with ``n_top > 1``
        an array of the ``n_top`` largest, largest first); with ``"W1"`` also
        ``W1_overlap``, :math:`|\langle u_1(W_1), \beta\rangle|^2`; with ``lambdas``,
        ``ridge_test_error`` (one value per lambda). ``eta0 = 0`` leaves ``W1 = W0``: the
        ridge errors are then those of random features and the spike values are 0 and NaN.
    """
    d = check_scalar(d, "d", "one_step_summary", kind="int", lower=1)
    for size, ratio, name, rname in ((n, psi, "n", "psi"), (N, phi, "N", "phi")):
        if (size is None) == (ratio is None):
            raise InvalidParameterError(
                f"The {name!r} parameter of one_step_summary must be given, or else {rname!r} "
                f"(exactly one of them). Got {name}={size!r}, {rname}={ratio!r} instead."
            )
    sizes = Sizes.integers(d=d, n=n, N=N, psi=psi, phi=phi, owner="one_step_summary")
    spectra = (spectra,) if isinstance(spectra, str) else tuple(spectra)
    ridge = {} if lambdas is None else {
        "lambdas": lambdas, "n_test": sizes.n if n_test is None else n_test}
    run = one_step(n=sizes.n, d=d, N=sizes.N, activation=activation,
                   teacher=teacher, noise=noise, eta0=eta0,
                   alpha=alpha, second_layer=second_layer, spectra=spectra,
                   ck_inputs=ck_inputs, orientation=orientation,
                   k_top=1 if "W1" in spectra else 0, rng=rng, **ridge)
    out = {"spike_value": run.spike.value,
           "spike_overlap": float(run.alignments["spike1"][0, 0])}
    n_top = check_scalar(n_top, "n_top", "one_step_summary", kind="int", lower=1)
    for name in spectra:
        values = run.spectra[name].values[::-1]
        out[f"{name}_top"] = float(values[0]) if n_top == 1 else values[:n_top].copy()
    if "W1" in spectra:
        out["W1_overlap"] = float(run.alignments["W1"][0, 0])
    if ridge:
        out["ridge_test_error"] = run.ridge.test_error
    return out


@dataclass(frozen=True)
class Experiment:
    """A function registered for sweeps by name (``sweep("one_step", ...)``, the CLI).

    Attributes
    ----------
    name : str
    func : callable
        Called as ``func(rng=SeedSequence, **params)``; returns a dict of scalars or arrays.
    parameters : tuple of str
        The keyword parameters a grid or ``fixed`` may set.
    description : str
    """

    name: str
    func: Callable
    parameters: tuple
    description: str


EXPERIMENTS = {
    "one_step": Experiment(
        "one_step", one_step_summary,
        ("d", "n", "N", "psi", "phi", "activation", "teacher", "noise", "eta0", "alpha",
         "second_layer", "spectra", "n_top", "ck_inputs", "orientation", "lambdas", "n_test"),
        "one gradient step: spike, top singular value of W1, its overlap with beta, ridge",
    ),
}
"""The registered experiments, by name."""


def _resolve_function(func):
    """(callable, identity string, allowed parameter names or None for any)."""
    if isinstance(func, str):
        if func in EXPERIMENTS:
            exp = EXPERIMENTS[func]
            return exp.func, f"spikewise:{exp.name}", exp.parameters
        if ":" in func:
            module, _, qualname = func.partition(":")
            try:
                obj = importlib.import_module(module)
                for part in qualname.split("."):
                    obj = getattr(obj, part)
            except (ImportError, AttributeError) as exc:
                raise InvalidParameterError(
                    f"The 'func' parameter of {_OWNER} names {func!r}, which cannot be "
                    f"imported: {exc}."
                ) from None
            func = obj
        else:
            raise InvalidParameterError(
                f"The 'func' parameter of {_OWNER} must be a callable, one of "
                f"{sorted(EXPERIMENTS)} or 'module:function'. Got {func!r} instead."
            )
    if not callable(func):
        raise InvalidParameterError(
            f"The 'func' parameter of {_OWNER} must be a callable, one of {sorted(EXPERIMENTS)} "
            f"or 'module:function'. Got {type(func).__name__} instead."
        )
    for exp in EXPERIMENTS.values():
        if func is exp.func:
            return func, f"spikewise:{exp.name}", exp.parameters
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):  # builtins without a signature: accept any names
        allowed = None
    else:
        kinds = {p.kind for p in sig.parameters.values()}
        if inspect.Parameter.VAR_KEYWORD in kinds:
            allowed = None
        else:
            allowed = tuple(name for name, p in sig.parameters.items()
                            if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD))
            if "rng" not in allowed:
                raise InvalidParameterError(
                    f"The 'func' parameter of {_OWNER} must accept the keyword 'rng' (the "
                    f"point's SeedSequence). {func!r} takes {list(allowed)}."
                )
            allowed = tuple(a for a in allowed if a != "rng")
    ident = f"{getattr(func, '__module__', '?')}:{getattr(func, '__qualname__', repr(func))}"
    return func, ident, allowed


# -- the grid -----------------------------------------------------------------------------------


def _json_value(value, where):
    """A grid or fixed value as plain JSON (numbers, strings, booleans, lists of them)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool | str) or value is None:
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        if not math.isfinite(value):
            raise InvalidParameterError(
                f"The {where} of {_OWNER} must be finite. Got {value!r} instead.")
        return float(value)
    if isinstance(value, list | tuple | np.ndarray):
        return [_json_value(v, where) for v in value]
    raise InvalidParameterError(
        f"The {where} of {_OWNER} must be a number, a string, a boolean or a list of them. "
        f"Got {type(value).__name__} {value!r} instead."
    )


def _check_grid(grid, fixed, allowed):
    if not isinstance(grid, Mapping) or not grid:
        raise InvalidParameterError(
            f"The 'grid' parameter of {_OWNER} must be a non-empty mapping from parameter "
            f"names to sequences of values (e.g. {{'eta0': [1.0, 2.0]}}). Got {grid!r} instead."
        )
    fixed = {} if fixed is None else fixed
    if not isinstance(fixed, Mapping):
        raise InvalidParameterError(
            f"The 'fixed' parameter of {_OWNER} must be a mapping or None. Got "
            f"{type(fixed).__name__} instead.")
    clean = {}
    for name, values in grid.items():
        if not isinstance(name, str) or not name.isidentifier() or name in _RESERVED:
            raise InvalidParameterError(
                f"The 'grid' parameter of {_OWNER} must have parameter names that are Python "
                f"identifiers other than {list(_RESERVED)}. Got {name!r} instead.")
        if isinstance(values, str) or np.ndim(values) == 0:
            values = [values]
        vals = _json_value(list(values), f"grid values of {name!r}")
        if not vals:
            raise InvalidParameterError(
                f"The 'grid' parameter of {_OWNER} must give each parameter at least one "
                f"value. Got an empty list for {name!r} instead.")
        if any(isinstance(v, list) for v in vals) or len({type(v) is str for v in vals}) > 1:
            raise InvalidParameterError(
                f"The grid values of {name!r} for {_OWNER} must be all numbers or all strings. "
                f"Got {vals!r} instead.")
        if len(set(vals)) != len(vals):
            raise InvalidParameterError(
                f"The grid values of {name!r} for {_OWNER} must be distinct. Got {vals!r} "
                "instead.")
        clean[name] = vals
    both = sorted(set(clean) & set(fixed))
    if both:
        raise InvalidParameterError(
            f"The parameters {both} are given both in 'grid' and in 'fixed' of {_OWNER}; "
            "give each once.")
    if set(fixed) & set(_RESERVED):
        raise InvalidParameterError(
            f"The 'fixed' parameter of {_OWNER} must not set {list(_RESERVED)} (the sweep "
            f"sets the seed). Got {sorted(fixed)} instead.")
    fixed = {k: _json_value(v, f"fixed value of {k!r}") for k, v in fixed.items()}
    if allowed is not None:
        for name in list(clean) + list(fixed):
            if name not in allowed:
                raise InvalidParameterError(
                    f"The parameter names of {_OWNER} must be among {sorted(allowed)} (the "
                    f"parameters of the swept function). Got {name!r} instead.")
    return clean, fixed


def point_seed(index, *, base_seed=0) -> np.random.SeedSequence:
    """The seed of point ``index``: ``SeedSequence(base_seed, spawn_key=(index,))``.

    ``index`` is the flat C-order index of the point over the grid's axes (in the grid's
    order) and then the seed axis.
    """
    return np.random.SeedSequence(base_seed, spawn_key=(int(index),))


# -- one point, on a worker ---------------------------------------------------------------------


def _clean_output(result, owner_name):
    if not isinstance(result, Mapping) or not result:
        raise InvalidParameterError(
            f"The function swept by {_OWNER} ({owner_name}) must return a non-empty dict of "
            f"scalars or arrays. Got {type(result).__name__} instead.")
    out = {}
    for key, value in result.items():
        arr = np.asarray(value)
        if (not isinstance(key, str) or not key.isidentifier() or key == "done"
                or arr.dtype.kind not in "biufc"):
            raise InvalidParameterError(
                f"The function swept by {_OWNER} ({owner_name}) must return a dict of numeric "
                f"scalars or arrays with identifier keys other than 'done'. Got {key!r}: "
                f"{arr.dtype} instead.")
        out[key] = arr
    return out


def _run_point(func, ident, params, base_seed, index, n_threads, process_wide):
    """Run one point (in a worker): limited threads, the point's own SeedSequence.

    With ``process_wide`` the BLAS and Numba limits are set here (the worker is a process);
    otherwise the worker is a thread of the driver, which set the BLAS limits for the whole
    process, and only Numba's (a per-thread setting) is set here.
    """
    import numba

    seed = point_seed(index, base_seed=base_seed)
    if process_wide:
        with thread_limits(n_threads, owner=_OWNER):
            result = func(rng=seed, **params)
    else:
        old = numba.get_num_threads()
        numba.set_num_threads(min(n_threads, numba.config.NUMBA_NUM_THREADS))
        try:
            result = func(rng=seed, **params)
        finally:
            numba.set_num_threads(old)
    return _clean_output(result, ident)


# -- the sweep ----------------------------------------------------------------------------------


def _client(stack, client, scheduler, n_workers, processes, n_threads):
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - the dask extra is missing
        raise ImportError(
            "spikewise.sweep needs dask.distributed, xarray and zarr: "
            "pip install 'spikewise[dask]'") from exc
    if client is not None:
        return client
    if scheduler is not None:
        return stack.enter_context(Client(scheduler))
    kwargs = {}
    if processes:  # the workers' environment, set before they import numpy and numba
        kwargs["env"] = {name: str(n_threads) for name in _THREAD_ENV}
    else:  # the workers are threads of this process: one limit for all, set here
            stack.enter_context(thread_limits(n_threads, owner=_OWNER))
    cluster = stack.enter_context(LocalCluster(
        n_workers=n_workers, threads_per_worker=1, processes=processes,
        dashboard_address=":0", **kwargs))
    return stack.enter_context(Client(cluster))


def sweep(func="one_step", grid=None, *, seeds=1, fixed=None, store=None, base_seed=0,
          client=None, scheduler=None, n_workers=2, processes=True, n_threads=1, retries=2,
          progress=None):
    r"""Run ``func`` over a grid of parameters times seeds on dask.distributed.

    Point ``i`` (flat C-order index over the grid's axes, then the seed axis) calls
    ``func(rng=SeedSequence(base_seed, spawn_key=(i,)), **fixed, **point)``, so its result
    never depends on scheduling. Finished points are written as they arrive; with ``store``
    a rerun of the same call skips them.

    Parameters
    ----------
    func : str or callable, default "one_step"
        A registered experiment (:data:`EXPERIMENTS`), ``"module:function"``, or a callable
        ``func(*, rng, **params)`` returning a dict of numeric scalars or arrays, each of the
        same shape at every point. ``rng`` is a :class:`numpy.random.SeedSequence` (pass it
        to :func:`numpy.random.default_rng`).
    grid : mapping
        ``{parameter: values}``: the swept parameters and their values, in axis order.
    seeds : int, default 1
        Number of seeds per grid point (axis ``seed``, values ``0 .. seeds - 1``).
    fixed : mapping, optional
        Parameters held constant (numbers, strings, booleans or lists of them).
    store : str or path, optional
        A zarr store (a directory) to write into and resume from. ``None`` keeps the results
        in memory.
    base_seed : int, default 0
        The entropy of every point's SeedSequence.
    client : distributed.Client, optional
        Run on this client (left open).
    scheduler : str, optional
        Address of a running dask scheduler (``"tcp://host:8786"``).
    n_workers : int, default 2
        Workers of the :class:`~distributed.LocalCluster` started when neither ``client``
        nor ``scheduler`` is given (one thread each).
    processes : bool, default True
        Whether that LocalCluster's workers are processes (``False``: threads of this
        process, for environments that cannot spawn them, such as a script without an
        ``if __name__ == "__main__":`` guard).
    n_threads : int, default 1
        BLAS and Numba threads of each task, set by :mod:`threadpoolctl` in the task (and
        as the workers' ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS``,
        ``NUMBA_NUM_THREADS`` when the sweep starts a cluster of processes; for a cluster
        of threads, once for this process while the sweep runs).
    retries : int, default 2
        How often a task that raised is rerun. A task whose worker died is rerun in any
        case (up to ``distributed.scheduler.allowed-failures`` times).
    progress : bool or None, default None
        A :mod:`tqdm.auto` progress bar (a widget in Jupyter). ``None``: shown when stderr is
        a terminal or in a notebook, hidden otherwise (under pytest, in CI logs, in the
        docs build).

    Returns
    -------
    xarray.Dataset
        Dimensions: the grid's parameters, then ``seed``, then each output's own axes
        (``<output>_dim<k>``). Variables: the outputs (NaN where not done) and ``done``.
        The attribute ``spikewise_sweep`` holds the sweep's identity as JSON.

    Raises
    ------
    InvalidParameterError
        An empty grid, an unknown parameter name, a store path that is a file, or a store
        written by another sweep.
    SweepError
        Some points failed after their retries; the others are stored.
    """
    func, ident, allowed = _resolve_function(func)
    grid, fixed = _check_grid(grid, fixed, allowed)
    seeds = check_scalar(seeds, "seeds", _OWNER, kind="int", lower=1)
    base_seed = check_scalar(base_seed, "base_seed", _OWNER, kind="int", lower=0)
    n_workers = check_scalar(n_workers, "n_workers", _OWNER, kind="int", lower=1)
    n_threads = check_scalar(n_threads, "n_threads", _OWNER, kind="int", lower=1)
    retries = check_scalar(retries, "retries", _OWNER, kind="int", lower=0)
    if client is not None and scheduler is not None:
        raise InvalidParameterError(
            f"Give at most one of 'client' and 'scheduler' to {_OWNER}. Got both.")
    if not isinstance(processes, bool | np.bool_):
        raise InvalidParameterError(
            f"The 'processes' parameter of {_OWNER} must be True or False. Got "
            f"{processes!r} instead.")
    show = show_progress(progress, _OWNER)
    identity = {"function": ident, "grid": grid, "seeds": seeds, "base_seed": base_seed,
                "fixed": fixed}
    if store is None:
        writer = MemoryWriter(grid, seeds, identity)
    else:
        if not isinstance(store, str | os.PathLike):
            raise InvalidParameterError(
                f"The 'store' parameter of {_OWNER} must be a path or None. Got "
                f"{type(store).__name__} instead.")
        writer = ZarrWriter(store, grid, seeds, identity, owner=_OWNER)

    shape = writer.shape
    todo = np.flatnonzero(~writer.done().reshape(-1))
    names = list(grid)
    if todo.size:
        _execute(func, ident, grid, names, fixed, base_seed, todo, shape, writer,
                 client=client, scheduler=scheduler, n_workers=n_workers,
                 processes=processes, n_threads=n_threads, retries=retries, show=show)
    return writer.dataset()


def _execute(func, ident, grid, names, fixed, base_seed, todo, shape, writer, *, client,
             scheduler, n_workers, processes, n_threads, retries, show):
    from distributed import as_completed

    total = math.prod(shape)
    failures = []
    with ExitStack() as stack:
        cl = _client(stack, client, scheduler, n_workers, processes, n_threads)
        # threadpoolctl limits are per process: tasks on threads of this process must not
        # set and reset them concurrently
        process_wide = client is not None or scheduler is not None or processes
        indices, points = [], []
        for i in todo:
            index = np.unravel_index(int(i), shape)
            indices.append(tuple(int(k) for k in index))
            point = zip(names, index[:-1], strict=True)
            points.append({**fixed, **{n: grid[n][k] for n, k in point}})
        k = len(todo)
        # one graph for all points (faster than one submit each)
        submitted = cl.map(_run_point, [func] * k, [ident] * k, points, [base_seed] * k,
                           [int(i) for i in todo], [n_threads] * k, [process_wide] * k,
                           retries=retries, pure=False)
        futures = dict(zip(submitted, zip(indices, points, strict=True), strict=True))
        # on an error or an interrupt, stop the points not yet run (on a client the caller
        # keeps, they would run on for nothing)
        stack.callback(lambda: cl.cancel(list(futures)) if futures else None)
        bar = stack.enter_context(progress_bar(show, total=total, initial=total - len(todo),
                                               unit="point", desc="sweep"))
        for fut in as_completed(submitted):
            index, params = futures.pop(fut)
            exc = fut.exception()
            if exc is not None:
                failures.append((index, params, exc))
                continue
            result = fut.result()
            fut.release()
            if writer.schema is None:
                _check_names(result, ident, names)
            else:
                _check_schema(result, writer.schema, ident, params)
            writer.write(index, result)
            bar.update()
    if failures:
        index, params, exc = failures[0]
        raise SweepError(
            f"{len(failures)} of {len(todo)} points of the sweep failed (first: {params} with "
            f"seed {index[-1]}: {type(exc).__name__}: {exc}). The others are stored; rerun "
            "to retry the failed points.",
            [(p, i[-1], e) for i, p, e in failures],
        ) from exc


def _check_names(result, ident, names):
    taken = sorted(set(result) & {*names, "seed"})
    if taken:
        raise InvalidParameterError(
            f"The function swept by {_OWNER} ({ident}) must return outputs named unlike the "
            f"sweep's axes {[*names, 'seed']}. Got outputs {taken}.")


def _check_schema(result, schema, ident, params):
    got = output_schema(result)
    if got != schema:
        raise InvalidParameterError(
            f"The function swept by {_OWNER} ({ident}) must return the same outputs, shapes "
            f"and dtypes at every point. At {params} it returned {json.dumps(got)}, the "
            f"earlier points {json.dumps(schema)}."
        )
