r"""One-call experiments: :func:`one_step` and :func:`two_step`.

Draw a teacher and data, initialize the network, take one (or two) full-batch gradient steps
on the first layer in our convention (:mod:`spikewise.spectra.steps`), and measure what
changed: the spike of the update, the singular values of ``W0``, ``W1`` (``W2``), the
conjugate-kernel spectra before and after, the alignments of the top singular vectors with
the teacher directions and of the CK outlier eigenvectors with ``He_k(X beta)``, and, on
request, ridge regression of the second layer on the learned features.

Memory: besides X and the weights, the pipeline holds two n x N buffers (the preactivation,
overwritten by the fused backprop kernel, and the features) and one Gram matrix at a time.
"""

from __future__ import annotations

import contextlib
import contextvars
import inspect
import numbers
import time
from dataclasses import dataclass, field

import numpy as np
from scipy.sparse.linalg import svds

from spikewise._progress import progress_bar, show_progress
from spikewise._validation import (
    InvalidParameterError,
    check_array,
    check_option,
    check_scalar,
    renamed_keywords,
)
from spikewise.conventions import Sizes, Step, StepSchedule
from spikewise.spectra._activation_apply import (
    activate_inplace,
    activated_gram,
    backprop_given_output,
    backprop_inplace,
    resolve_activation,
)
from spikewise.spectra._linalg import eigh_top, gram, thread_limits
from spikewise.spectra._memory import check_memory
from spikewise.spectra.alignments import hermite_alignments, squared_overlaps
from spikewise.spectra.features import ORIENTATIONS
from spikewise.spectra.matrix_free import ck_density, singular_density
from spikewise.spectra.ridge import RidgePath, ridge_path
from spikewise.spectra.sampling import (
    _check_dtype,
    init_first_layer,
    init_second_layer,
    make_teacher,
    sample_dataset,
    sample_inputs,
)
from spikewise.spectra.spectrum import Spectrum, _use_matrix_free, top_ck_eigen, top_singular
from spikewise.spectra.steps import LabelPreprocessing, _axpy_gemm, _check_remove

__all__ = ["Spike", "ExperimentResult", "train", "one_step", "two_step", "repeat",
           "stage_times"]

_SPECTRA_ONE = ("W0", "W1", "ck0", "ck1")

class _StageTimer:
    """Charges the time between successive marks to the stage named at the later mark."""

    def __init__(self, times: dict, clock):
        self.times, self.clock, self.last = times, clock, clock()

    def __call__(self, stage: str | None) -> None:
        now = self.clock()
        if stage is not None:
            self.times[stage] = self.times.get(stage, 0.0) + now - self.last
        self.last = now


_TIMER: contextvars.ContextVar = contextvars.ContextVar("spikewise_stage_timer", default=None)


@contextlib.contextmanager
def stage_times(clock=time.perf_counter):
    """Time the stages of the experiments run inside the block.

    Parameters
    ----------
    clock : callable, default time.perf_counter
        Returns seconds (``time.process_time`` gives CPU time).

    Yields
    ------
    dict
        Filled with seconds per stage (``"sample"``, ``"GEMM X W"``, ``"fused backprop"``,
        ``"Gram"``, ``"eigen"``, ...) summed over the runs of the block.

    Examples
    --------
    >>> from spikewise.spectra.experiment import one_step, stage_times
    >>> with stage_times() as times:
    ...     _ = one_step(n=40, d=10, N=20, rng=0)
    >>> "sample" in times and all(t >= 0 for t in times.values())
    True
    """
    times: dict = {}
    token = _TIMER.set(_StageTimer(times, clock))
    try:
        yield times
    finally:
        _TIMER.reset(token)


def _mark(stage: str | None) -> None:
    """Charge the time since the previous mark to ``stage`` (no-op outside stage_times)."""
    timer = _TIMER.get()
    if timer is not None:
        timer(stage)


@dataclass(frozen=True, eq=False)
class Spike:
    """The top singular triple of a weight update ``W_{t+1} - W_t`` (d x N).

    ``value`` is its largest singular value, ``left`` (d,) and ``right`` (N,) the unit
    singular vectors. Ba et al. (2022) predict ``left ~ beta`` and ``right ~ a / |a|`` with
    ``value ~ eta |mu_1| |X^T y / n| |a|``.
    """

    value: float
    left: np.ndarray = field(repr=False)
    right: np.ndarray = field(repr=False)


@dataclass(frozen=True, eq=False)
class ExperimentResult:
    """Everything a one- or two-step run measured, labelled.

    Attributes
    ----------
    weights : dict
        ``{"W0": ..., "W1": ...(, "W2": ...)}``, each d x N.
    a : ndarray (N,)
        The fixed second layer.
    teacher : Teacher
    X, y : ndarray
        The (first) training batch and its labels (after preprocessing).
    outputs : dict
        The network output on each step's batch before that step (``"step1"``, ``"step2"``).
    etas : tuple of float
        The learning rates used.
    spikes : dict of Spike
        ``"step1"`` (``W1 - W0``), ``"step2"``.
    spectra : dict of Spectrum
        Among ``"W0", "W1", "W2"`` (singular values) and ``"ck0", "ck1", "ck2"`` (CK Gram
        eigenvalues in the chosen orientation).
    alignments : dict of ndarray
        ``"W1"``/``"W2"``: (k_top, m) squared overlaps of the top left singular vectors with
        the m teacher directions; ``"spike1"``/``"spike2"``: (1, m) for the update's spike;
        ``"ck1"``/``"ck2"``: (k_top, m, len(degrees)) overlaps of the top CK eigenvectors
        (sample space) with the normalized ``He_k(X beta_j)``; NaN for an eigenvector in
        the null space of ``F`` (rank-deficient features, e.g. at tiny sizes), which has no
        sample-space image.
    ridge : RidgePath or None
        Ridge on the final features, fitted on the last step batch (``ridge_samples="reuse"``)
        or on ``n_ridge`` fresh samples (``"fresh"``); test error on ``n_test`` fresh samples.
    params : dict
        The parameters (sizes, ratios, activation, learning rates, options).
    seed : object
        The entropy (and spawn key) of the seed sequence, or None if a Generator was passed.
    X_ck : ndarray or None
        The independent inputs of the CK features (``ck_inputs="fresh"``), else None (the
        features then use ``X`` and, for a fresh second batch, that batch).
    activation : Activation
        The student activation used.
    schedule : StepSchedule
        The protocol that was run; the theories of several steps take it as ``schedule=``.
    """

    weights: dict = field(repr=False)
    a: np.ndarray = field(repr=False)
    teacher: object = field(repr=False)
    X: np.ndarray = field(repr=False)
    y: np.ndarray = field(repr=False)
    outputs: dict = field(repr=False)
    etas: tuple
    spikes: dict = field(repr=False)
    spectra: dict = field(repr=False)
    alignments: dict = field(repr=False)
    ridge: RidgePath | None = field(repr=False)
    params: dict
    seed: object = None
    X_ck: np.ndarray | None = field(default=None, repr=False)
    activation: object = field(default=None, repr=False)
    schedule: StepSchedule | None = field(default=None, repr=False)

    def theory_params(self, theory=None, *, realized: bool = False) -> dict:
        """The keywords of the prediction matching this run.

        ``theory(**run.theory_params(theory))`` evaluates the prediction of ``theory`` at
        this run's parameters.

        The names are the package's one vocabulary, shared by :mod:`spikewise.solvers`:
        ``activation``, ``teacher``, ``n``, ``d``, ``N``, ``psi``, ``phi``, ``noise``,
        ``second_layer``, the first step's ``eta``, ``eta0``, ``alpha``, the second step's
        ``eta0_2``, ``alpha_2``, ``batch``, and with ``realized=True`` the drawn arrays ``a``,
        ``W0``, ``X``, ``y`` and ``beta`` (single-index teacher), on which some predictions
        condition.

        Parameters
        ----------
        theory : callable, optional
            A prediction, e.g. :func:`spikewise.solvers.one_step_spike`; only the keywords
            its signature accepts are returned. Default: all of them.
        realized : bool, default False
            Add the drawn arrays.

        Returns
        -------
        dict

        Examples
        --------
        >>> from spikewise.spectra import one_step
        >>> from spikewise.solvers import one_step_spike
        >>> run = one_step(n=200, d=100, N=150, activation="tanh", teacher="tanh", eta0=6.0,
        ...                rng=0)
        >>> sorted(run.theory_params(one_step_spike))
        ['activation', 'eta', 'n', 'noise', 'phi', 'psi', 'second_layer', 'teacher']
        >>> pred = one_step_spike(**run.theory_params(one_step_spike))
        """
        p = self.params
        out = {key: p[key] for key in ("activation", "teacher", "n", "d", "N", "psi", "phi",
                                       "noise", "second_layer", "eta", "eta0", "alpha")}
        # the objects themselves, so that user-defined activations round-trip too
        if self.activation is not None:
            out["activation"] = self.activation
        link = self.teacher.link
        if isinstance(link, tuple) and len(link) == 1:
            out["teacher"] = link[0]
        for key in ("eta0_2", "alpha_2", "batch"):
            if key in p:
                out[key] = p[key]
        if realized:
            out.update(a=self.a, W0=self.W0, X=self.X, y=self.y)
            if self.teacher.directions.shape[1] == 1:
                out["beta"] = self.teacher.beta
        if theory is None:
            return out
        accepted = inspect.signature(theory).parameters
        return {key: v for key, v in out.items() if key in accepted}

    @property
    def W0(self):
        return self.weights["W0"]

    @property
    def W1(self):
        return self.weights["W1"]

    @property
    def W2(self):
        return self.weights.get("W2")

    @property
    def spike(self) -> Spike:
        """The first step's spike."""
        return self.spikes["step1"]


def _seeded(rng, owner):
    if rng is None or isinstance(rng, int | np.integer):
        if rng is not None and int(rng) < 0:
            raise InvalidParameterError(
                f"The 'rng' parameter of {owner} must be None, a non-negative int, a "
                f"SeedSequence or a numpy Generator. Got {rng!r} instead."
            )
        ss = np.random.SeedSequence(None if rng is None else int(rng))
        return np.random.default_rng(ss), ss.entropy
    if isinstance(rng, np.random.SeedSequence):
        return np.random.default_rng(rng), (rng.entropy, tuple(rng.spawn_key))
    if isinstance(rng, np.random.Generator):
        return rng, None
    if isinstance(rng, np.random.BitGenerator):
        return np.random.default_rng(rng), None
    raise InvalidParameterError(
        f"The 'rng' parameter of {owner} must be None, a non-negative int, a SeedSequence, "
        f"a numpy BitGenerator or a numpy Generator. Got {type(rng).__name__} instead."
    )


def _spike(W_new, W_old, a) -> Spike:
    """Top singular triple of ``D = W_new - W_old`` by power iteration started at ``D a``.

    The update is nearly rank one with a well separated top singular value, so a few
    iterations (each two GEMVs on the materialized difference) reach ``||u - u_prev|| <
    1e-10``; when the spike is not separated (50 iterations without convergence) ARPACK
    ``svds`` takes over from the current vector.
    """
    D = W_new - W_old
    tol = 1e-10 if D.dtype == np.float64 else 1e-4
    d, N = D.shape
    if not np.any(D):
        # eta = 0 (or a zero residual): no update, hence no spike; the vectors are undefined
        # and reported as NaN rather than as an arbitrary direction
        return Spike(value=0.0, left=np.full(d, np.nan), right=np.full(N, np.nan))
    if min(d, N) <= 2:
        U, s, Vt = np.linalg.svd(D, full_matrices=False)
        u, s0, v = U[:, 0], s[0], Vt[0]
    else:
        u = D @ (np.asarray(a, dtype=D.dtype) + D.dtype.type(1e-3))
        nu = np.linalg.norm(u)
        u = u / nu if nu > 0 else np.ones(d) / np.sqrt(d)
        converged = False
        for _ in range(50):
            v = D.T @ u
            v /= max(np.linalg.norm(v), 1e-300)
            u_new = D @ v
            s0 = float(np.linalg.norm(u_new))
            if s0 == 0.0:
                break
            u_new /= s0
            if np.linalg.norm(u_new - u) < tol:
                u = u_new
                converged = True
                break
            u = u_new
        if not converged:
            if min(d, N) > 3:
                v0 = u if d <= N else D.T @ u
                U, s, Vt = svds(D.astype(np.float64, copy=False), k=1, solver="arpack",
                                v0=v0.astype(np.float64))
                u, s0, v = U[:, 0], float(s[0]), Vt[0]
            else:  # pragma: no cover - tiny matrices
                U, s, Vt = np.linalg.svd(D, full_matrices=False)
                u, s0, v = U[:, 0], s[0], Vt[0]
        else:
            v = D.T @ u
            s0 = float(np.linalg.norm(v))
            v = v / s0
    u = np.asarray(u, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    j = int(np.argmax(np.abs(u)))
    sg = 1.0 if u[j] >= 0 else -1.0
    return Spike(value=float(s0), left=u * sg, right=v * sg)


def _topk_method(shape, k):
    """Lanczos for a few top vectors of a large matrix; dense when k is not small."""
    return "lanczos" if min(shape) > 4 * k + 20 else "dense"


def _weight_spectrum(W, k, params, source, mf_options=None):
    """Singular values of W (d x N) through the smaller Gram, and top-k left vectors.

    With ``mf_options`` (a dict) the matrix-free density instead (:mod:`.matrix_free`).
    """
    d, N = W.shape
    if mf_options is not None:
        spec = singular_density(W, k=k, source=source, params=params, **mf_options)
        U = spec.top_vectors if k else None
        if k and spec.params["gram_side"] == "cols":  # right vectors: u = W v / |W v|
            B = (W @ U).astype(np.float64)
            U = B / np.where(np.linalg.norm(B, axis=0) > 0, np.linalg.norm(B, axis=0), 1.0)
        _mark("matrix-free")
        return spec, (None if U is None else U.astype(np.float64))
    G = gram(W, side="rows" if d <= N else "cols")
    _mark("Gram")
    if d <= N:
        vals, U = eigh_top(G, k, overwrite=True)
    else:
        vals, V = eigh_top(G, k, overwrite=True)
        U = None
        if k:
            B = (W @ V.astype(W.dtype)).astype(np.float64)
            U = B / np.where(np.linalg.norm(B, axis=0) > 0, np.linalg.norm(B, axis=0), 1.0)
    _mark("eigen")
    s = np.sqrt(np.clip(vals.astype(np.float64), 0.0, None))
    spec = Spectrum(s, kind="singular", source=source, params={**params, "tw_size": min(d, N)})
    return spec, (None if U is None else U.astype(np.float64))


def _ck_spectrum(F, k, orientation, params, source, *, shape=None, gram_side=None,
                 mf_options=None):
    """CK Gram eigenvalues (requested orientation) and top-k sample-space eigenvectors.

    With ``gram_side=(G, side)`` the (upper-triangle) Gram of the smaller side is given,
    already scaled by 1/n ("cols") or 1/N ("rows"), and F is not needed (k must be 0).
    With ``mf_options`` (a dict) the matrix-free density of F instead (:mod:`.matrix_free`).
    """
    n, N = F.shape if shape is None else shape
    if mf_options is not None:
        spec = ck_density(F, orientation=orientation, k=k, source=source, params=params,
                          **mf_options)
        Us = spec.top_vectors if k else None
        if k and spec.params["gram_side"] == "cols":  # sample-space u = F v / |F v|
            B = (F @ Us).astype(np.float64)
            Us = B / np.where(np.linalg.norm(B, axis=0) > 0, np.linalg.norm(B, axis=0), 1.0)
        _mark("matrix-free")
        return spec, (None if Us is None else Us.astype(np.float64))
    if gram_side is None:
        side = "cols" if N <= n else "rows"
        G = gram(F, side=side, scale=1.0 / n if side == "cols" else 1.0 / N)
        _mark("Gram")
    else:
        G, side = gram_side
    vals, V = eigh_top(G, k, overwrite=True)
    del G
    vals = vals.astype(np.float64)
    Us = None
    if side == "cols":  # eigenvalues of F^T F / n
        if orientation == "sample":
            vals = np.concatenate([np.zeros(n - N), vals * (n / N)])
        if k:
            B = (F @ V.astype(F.dtype)).astype(np.float64)
            Us = B / np.where(np.linalg.norm(B, axis=0) > 0, np.linalg.norm(B, axis=0), 1.0)
    else:  # eigenvalues of F F^T / N
        if orientation == "feature":
            vals = np.concatenate([np.zeros(N - n), vals * (N / n)])
        Us = None if V is None else V.astype(np.float64)
    _mark("eigen")
    spec = Spectrum(
        vals,
        kind="eigen",
        source=source,
        params={**params, "orientation": orientation, "tw_size": min(n, N)},
    )
    return spec, Us


@dataclass(frozen=True)
class _Options:
    """The checked options of a run (see :func:`train` for their meaning)."""

    n: int
    d: int
    N: int
    noise: float
    n_index: int
    spectra: tuple
    k_top: int
    degrees: tuple
    orientation: str
    ck_inputs: str
    n_test: int
    lambdas: np.ndarray | None
    dtype: type
    remove: tuple
    first_layer: str
    second_layer: str
    n_threads: int | None


def _validate_common(owner, *, n, d, N, noise, n_index, spectra, allowed, k_top, degrees,
                     orientation, ck_inputs, n_test, lambdas, dtype, preprocess, first_layer,
                     second_layer, n_threads) -> _Options:
    n = check_scalar(n, "n", owner, kind="int", lower=1)
    d = check_scalar(d, "d", owner, kind="int", lower=1)
    N = check_scalar(N, "N", owner, kind="int", lower=1)
    noise = check_scalar(noise, "noise", owner, lower=0.0)
    n_index = check_scalar(n_index, "n_index", owner, kind="int", lower=1, upper=d)
    spectra = tuple(spectra)
    for s in spectra:
        check_option(s, "spectra", owner, allowed)
    k_top = check_scalar(k_top, "k_top", owner, kind="int", lower=0)
    degrees = tuple(check_scalar(k, "degrees", owner, kind="int", lower=1) for k in degrees)
    check_option(orientation, "orientation", owner, ORIENTATIONS)
    check_option(ck_inputs, "ck_inputs", owner, ("train", "fresh"))
    n_test = check_scalar(n_test, "n_test", owner, kind="int", lower=0)
    if lambdas is not None:
        lambdas = check_array(lambdas, "lambdas", owner, ndim=(0, 1)).reshape(-1)
        if lambdas.size == 0 or np.any(lambdas < 0):
            raise InvalidParameterError(
                f"The 'lambdas' parameter of {owner} must be a non-empty array of floats >= 0. "
                f"Got {lambdas!r} instead."
            )
    dt = _check_dtype(dtype, owner).type
    remove = _check_remove(preprocess, owner, name="preprocess")
    check_option(first_layer, "first_layer", owner, ("gaussian", "unit"))
    check_option(second_layer, "second_layer", owner, ("gaussian", "rademacher", "constant"))
    if n_threads is not None:
        check_scalar(n_threads, "n_threads", owner, kind="int", lower=1)
    return _Options(n=n, d=d, N=N, noise=noise, n_index=n_index, spectra=spectra,
                    k_top=min(k_top, d, N, n), degrees=degrees, orientation=orientation,
                    ck_inputs=ck_inputs, n_test=n_test, lambdas=lambdas, dtype=dt,
                    remove=remove, first_layer=first_layer, second_layer=second_layer,
                    n_threads=n_threads)


def _ck_alignments(Us, X, directions, degrees):
    """:func:`hermite_alignments` of the nonzero columns of ``Us``, NaN for the others."""
    ok = np.linalg.norm(Us, axis=0) > 0
    out = np.full((Us.shape[1], directions.shape[1], len(degrees)), np.nan)
    if np.any(ok):
        out[ok] = hermite_alignments(Us[:, ok], X, directions, degrees=degrees)
    return out


def _check_finite_step(W, t, owner, e0, eta, noise):
    """Refuse a step whose weights overflowed (or would overflow in a Gram matrix)."""
    big = float(np.sqrt(np.finfo(W.dtype).max / max(W.shape)))
    if W.size and max(float(W.max()), -float(W.min())) < big:  # False for NaN
        return
    sfx = "" if t == 1 else f"_{t}"
    raise InvalidParameterError(
        f"The 'eta0{sfx}' (and 'alpha{sfx}', 'noise') parameters of {owner} are too large: the "
        f"step made W{t} non-finite or larger than {big:.3g} in {W.dtype}, where its spectrum "
        f"cannot be computed. Got eta0{sfx}={e0!r} (eta = {eta:.3g}) and noise={noise!r}; "
        "use a learning rate and a label noise that keep the weights of order one."
    )


def _check_schedule(schedule, owner) -> StepSchedule:
    if isinstance(schedule, Step):
        schedule = StepSchedule((schedule,))
    if not isinstance(schedule, StepSchedule):
        raise InvalidParameterError(
            f"The 'schedule' parameter of {owner} must be a StepSchedule or a Step (see "
            f"spikewise.conventions). Got {type(schedule).__name__} instead."
        )
    return schedule


def _run(owner, *, schedule, activation, teacher, preprocess, rng, method="auto",
         method_options=None, ridge_samples="reuse", n_ridge=None, allow_large=False,
         progress=None, **options):
    n_steps = len(schedule)
    allowed = tuple(f"W{t}" for t in range(n_steps + 1)) + tuple(
        f"ck{t}" for t in range(n_steps + 1))
    o = _validate_common(owner, allowed=allowed, preprocess=preprocess, **options)
    n, d, N = o.n, o.d, o.N
    sizes = Sizes.from_any(n=n, d=d, N=N, owner=owner)
    spectra, k_top, degrees, lambdas = o.spectra, o.k_top, o.degrees, o.lambdas
    orientation, remove, dt = o.orientation, o.remove, o.dtype
    etas_checked = []
    for t, st in enumerate(schedule, start=1):
        sfx = "" if t == 1 else f"_{t}"
        try:
            etas_checked.append((st.eta0, st.alpha, st.learning_rate(N)))
        except InvalidParameterError as exc:
            raise InvalidParameterError(
                str(exc).replace("'alpha' parameter of learning_rate",
                                 f"'alpha{sfx}' parameter of {owner}")
            ) from None
    check_memory(owner, allow_large=allow_large, n=n, d=d, N=N, dtype=dt, n_steps=n_steps,
                 fresh_inputs=o.ck_inputs == "fresh",
                 n_test=o.n_test if lambdas is not None else 0)
    check_option(ridge_samples, "ridge_samples", owner, ("reuse", "fresh"))
    n_ridge = n if n_ridge is None else check_scalar(n_ridge, "n_ridge", owner, kind="int",
                                                     lower=1)
    act = resolve_activation(activation, "activation", owner)
    show = show_progress(progress, owner)
    gen, seed = _seeded(rng, owner)

    # matrix-free spectra (method=): their probes are drawn from the run's generator when
    # the spectra are computed, after all the data, so a dense run's draws are unchanged
    mf_w = _use_matrix_free(method, min(d, N), method_options, owner)
    mf_ck = _use_matrix_free(method, min(n, N), method_options, owner)
    if method_options and "k" in method_options:
        raise InvalidParameterError(
            f"The 'method_options' parameter of {owner} must not set 'k' (the number of "
            f"top pairs is k_top). Got {dict(method_options)!r} instead."
        )
    mf_w, mf_ck = ((({"rng": gen, **(method_options or {})}) if flag else None)
                   for flag in (mf_w, mf_ck))

    # stages: sampling, each step (with its measurements), the ridge path / the end
    with thread_limits(o.n_threads, owner=owner), \
            progress_bar(show, total=n_steps + 2, desc=owner, unit="stage") as bar:
        _mark(None)
        bar.set_postfix_str("sample")
        teacher = make_teacher(d, teacher=teacher, n_index=o.n_index, noise=o.noise, rng=gen)
        X64, y_raw = sample_dataset(n, teacher, rng=gen)
        W = init_first_layer(d, N, first_layer=o.first_layer, rng=gen, dtype=dt)
        a = init_second_layer(N, second_layer=o.second_layer, rng=gen)
        X_ck64 = sample_inputs(n, d, rng=gen) if o.ck_inputs == "fresh" else None
        batches = [(X64, y_raw)]
        for st in schedule[1:]:
            batches.append(sample_dataset(n, teacher, rng=gen) if st.batch == "fresh"
                           else batches[-1])
        test = sample_dataset(o.n_test, teacher, rng=gen) if (o.n_test and lambdas is not None) \
            else None
        # ridge on fresh samples, independent of the step batches (drawn last: the
        # "reuse" stream is unchanged)
        ridge_batch = sample_dataset(n_ridge, teacher, rng=gen) \
            if (lambdas is not None and ridge_samples == "fresh") else None
        _mark("sample")
        bar.update()

        params = {
            "n": n, "d": d, "N": N, "psi": sizes.psi, "phi": sizes.phi,
            "activation": act.name, "teacher": teacher.params["teacher"], "n_index": o.n_index,
            "noise": o.noise, "first_layer": o.first_layer, "second_layer": o.second_layer,
            "preprocess": "+".join(remove) or "none", "ck_inputs": o.ck_inputs,
            "dtype": np.dtype(dt).name, "steps": n_steps,
        }
        for t, (e0, al, eta) in enumerate(etas_checked, start=1):
            sfx = "" if t == 1 else f"_{t}"
            params.update({f"eta0{sfx}": e0, f"alpha{sfx}": al, f"eta{sfx}": eta})
        for t, st in enumerate(schedule[1:], start=2):
            params["batch" if t == 2 else f"batch_{t}"] = st.batch
        if lambdas is not None:
            params.update({"ridge_samples": ridge_samples,
                           "n_ridge": n_ridge if ridge_samples == "fresh" else n})

        Xc = None if X_ck64 is None else X_ck64.astype(dt, copy=False)
        weights = {"W0": W}
        outputs, spikes, specs, aligns = {}, {}, {}, {}
        y_used = None
        F = None
        if "W0" in spectra:
            specs["W0"], _ = _weight_spectrum(W, 0, params, "W0", mf_w)
        for t in range(1, n_steps + 1):
            bar.set_postfix_str(f"step {t}")
            Xb64, yb = batches[t - 1]
            Xb = Xb64.astype(dt, copy=False)
            if remove:
                yb = LabelPreprocessing.fit(Xb64, yb, remove=remove).transform(Xb64, yb)
            if t == 1:
                y_used = yb
            W_old = weights[f"W{t - 1}"]
            _mark("other")
            H = Xb @ W_old if F is None else np.matmul(Xb, W_old, out=F)
            F = None
            _mark("GEMM X W")
            if t == 1 and "ck0" in spectra and Xc is None and mf_ck is None:
                # sigma(X W0) is made block by block: its Gram and the output f, never whole
                G0, f, side = activated_gram(H, act, a, scale=1.0 / (n if N <= n else N))
                _mark("activation + Gram")
                specs["ck0"], _ = _ck_spectrum(None, 0, orientation, params, "CK(W0)",
                                               shape=(n, N), gram_side=(G0, side))
                del G0
                backprop_given_output(H, yb, a, f, act)
                _mark("fused backprop")
            else:
                if t == 1 and "ck0" in spectra:
                    F0 = activate_inplace(np.matmul(Xb if Xc is None else Xc, W_old), act)
                    _mark("activation")
                    specs["ck0"], _ = _ck_spectrum(F0, 0, orientation, params, "CK(W0)",
                                                   mf_options=mf_ck)
                    del F0
                f = backprop_inplace(H, yb, a, act)
            eta = etas_checked[t - 1][2]
            W_new = np.array(W_old, order="C", copy=True)
            _axpy_gemm(W_new, Xb, H, eta / n)
            _check_finite_step(W_new, t, owner, etas_checked[t - 1][0], eta, o.noise)
            F, H = H, None  # the n x N buffer is reused for the new features
            _mark("GEMM X^T M")
            weights[f"W{t}"] = W_new
            outputs[f"step{t}"] = f
            spikes[f"step{t}"] = _spike(W_new, W_old, a)
            left = spikes[f"step{t}"].left
            aligns[f"spike{t}"] = (
                squared_overlaps(left, teacher.directions) if np.all(np.isfinite(left))
                else np.full((1, teacher.directions.shape[1]), np.nan)
            )
            _mark("spike")
            if f"W{t}" in spectra:
                specs[f"W{t}"], U = _weight_spectrum(W_new, k_top, params, f"W{t}", mf_w)
            elif k_top:  # only the top vectors are wanted: Lanczos
                _, U, _ = top_singular(W_new, k_top, method=_topk_method(W_new.shape, k_top))
                _mark("top-k Lanczos")
            if k_top:
                aligns[f"W{t}"] = squared_overlaps(U, teacher.directions)
            _mark("other")
            need_f = f"ck{t}" in spectra or (t == n_steps and lambdas is not None) \
                or (k_top and t == n_steps)
            if need_f:
                np.matmul(Xb if Xc is None else Xc, W_new, out=F)
                _mark("GEMM X W")
                activate_inplace(F, act)
                _mark("activation")
                if f"ck{t}" in spectra or k_top:
                    if f"ck{t}" in spectra:
                        specs[f"ck{t}"], Us = _ck_spectrum(F, k_top, orientation, params,
                                                           f"CK(W{t})", mf_options=mf_ck)
                    else:  # only the top vectors are wanted: Lanczos
                        _, Us = top_ck_eigen(F, k_top, orientation="sample",
                                             method=_topk_method(F.shape, k_top))
                        _mark("top-k Lanczos")
                    if k_top:
                        Xh = Xb64 if Xc is None else X_ck64
                        aligns[f"ck{t}"] = _ck_alignments(Us, Xh, teacher.directions, degrees)
                    _mark("other")
            bar.update()
        bar.set_postfix_str("ridge" if lambdas is not None else "done")
        ridge = None
        if lambdas is not None:
            # the features of the final weights on the last training batch
            W_fin = weights[f"W{n_steps}"]
            Xb64, yb = batches[-1] if ridge_batch is None else ridge_batch
            Xb = Xb64.astype(dt, copy=False)
            if ridge_batch is not None:
                F = activate_inplace(Xb @ W_fin, act)
            elif Xc is not None:  # F holds the features on the fresh inputs
                np.matmul(Xb, W_fin, out=F)
                activate_inplace(F, act)
            Ft = Fy = None
            if test is not None:
                Ft = activate_inplace(test[0].astype(dt) @ W_fin, act)
                Fy = test[1]
                if remove:
                    prep = LabelPreprocessing.fit(Xb64, yb, remove=remove)
                    Fy = prep.transform(test[0], test[1])
            if remove:
                yb = LabelPreprocessing.fit(Xb64, yb, remove=remove).transform(Xb64, yb)
            ridge = ridge_path(
                F.astype(np.float64), yb, lambdas=lambdas, F_test=None if Ft is None else
                Ft.astype(np.float64), y_test=Fy
            )
        F = None
        _mark("other")
        bar.update()

    return ExperimentResult(
        weights=weights,
        a=a,
        teacher=teacher,
        X=X64,
        y=y_used,
        outputs=outputs,
        etas=tuple(e[2] for e in etas_checked),
        spikes=spikes,
        spectra=specs,
        alignments=aligns,
        ridge=ridge,
        params=params,
        seed=seed,
        X_ck=X_ck64,
        activation=act,
        schedule=schedule,
    )


@renamed_keywords(target="teacher")
def train(
    schedule,
    *,
    n: int,
    d: int,
    N: int,
    activation="relu",
    teacher="relu",
    n_index: int = 1,
    noise: float = 0.0,
    first_layer: str = "gaussian",
    second_layer: str = "gaussian",
    preprocess=None,
    ck_inputs: str = "train",
    orientation: str = "feature",
    spectra=None,
    k_top: int = 5,
    degrees=(1, 2, 3),
    n_test: int = 0,
    lambdas=None,
    dtype="float64",
    n_threads=None,
    rng=None,
    method: str = "auto",
    method_options=None,
    ridge_samples: str = "reuse",
    n_ridge: int | None = None,
    allow_large: bool = False,
    progress: bool | None = None,
) -> ExperimentResult:
    r"""Train a two-layer network by a schedule of gradient steps and measure its spectra.

    In our convention (:mod:`spikewise.conventions`): ``X`` (n x d) Gaussian, ``W0`` (d x N)
    ``N(0, 1/d)`` (or unit-norm neurons), ``a`` fixed, ``y = g(X B) + noise``, and step ``t``

    .. math:: W_t = W_{t-1} + \frac{\eta_t}{n} X_t^\top [((y_t - f_{W_{t-1}}(X_t))
              a^\top) \odot \sigma'(X_t W_{t-1})], \quad \eta_t = \eta_{0,t} N^{\alpha_t},

    on the batch ``(X_t, y_t)``: a new sample when the step's ``batch`` is ``"fresh"``, the
    previous step's otherwise (Ba et al. 2022 for one step; Moniri et al. 2023 for
    ``alpha > 0``; Moniri & Hassani 2025 for two steps with a reused batch). Label
    preprocessing is fitted on each step's own batch.

    Random numbers are drawn in a fixed order (teacher, first batch, ``W0``, ``a``, the
    independent CK inputs, the later fresh batches, the test sample), so the same seed gives
    the same arrays as :func:`one_step` and :func:`two_step` for the same protocol.

    Parameters
    ----------
    schedule : StepSchedule or Step
        The protocol (:class:`spikewise.conventions.StepSchedule`).
    n, d, N : int
        Samples per batch, input dimension, width (``psi = n/d``, ``phi = N/d``).
    activation : str or Activation
        Student activation sigma.
    teacher : str, Activation, sequence of them, or callable
        Teacher link sigma_* (see :func:`~spikewise.spectra.sampling.make_teacher`).
    n_index : int
        Number of teacher directions.
    noise : float
        Label-noise standard deviation.
    first_layer : {"gaussian", "unit"}
        ``W0`` entries ``N(0, 1/d)`` or unit-norm neurons.
    second_layer : {"gaussian", "rademacher", "constant"}
        Law of ``sqrt(N) a_j``.
    preprocess : None, "mean", "linear" or both
        Label parts removed with training statistics.
    ck_inputs : {"train", "fresh"}
        CK features on the training inputs or on an independent sample of n inputs.
    orientation : {"feature", "sample"}
        CK Gram ``F^T F / n`` or ``F F^T / N``.
    spectra : tuple, optional
        Which dense spectra to compute, among ``"W0" .. "WT"`` and ``"ck0" .. "ckT"``;
        default all of them.
    k_top : int
        Number of top singular / eigen vectors for the alignments (0: none).
    degrees : tuple of int
        Hermite degrees for the CK alignments.
    n_test : int
        Fresh samples for the ridge test error.
    lambdas : array_like, optional
        Ridge path (our convention) on the final features.
    dtype : {"float64", "float32"}
        Floating type of the weights and features.
    n_threads : int, optional
        BLAS and Numba threads. The sample and the Numba kernels are bitwise identical for
        any count; multithreaded BLAS changes results in the last bits only.
    rng : None, int, SeedSequence or Generator
        Seed (scikit-learn contract).
    method : {"auto", "dense", "matrix_free"}
        How the spectra are computed: dense LAPACK, or the matrix-free density
        (:class:`~spikewise.spectra.DensitySpectrum`: SLQ bulk with the ``k_top`` top pairs
        by block Lanczos, :mod:`spikewise.spectra.matrix_free`). ``"auto"``: dense unless the
        matrix to diagonalize has more than :data:`~spikewise.spectra.MATRIX_FREE_SIZE` rows.
    method_options : dict, optional
        Keyword arguments of the matrix-free functions (``n_probes``, ``n_steps``, ``tol``,
        ``max_steps``, ``rng``; the probes are drawn from ``rng`` of the run by default).
    ridge_samples : {"reuse", "fresh"}
        Fit the ridge on the last step batch (``"reuse"``) or on ``n_ridge`` fresh samples,
        independent of the steps (``"fresh"``: the setting of Ba et al. 2022 and Cui et al.
        2024, and of :func:`spikewise.solvers.finite_width_risk`). The test error is
        ``mean (y - F b_hat)^2`` on ``n_test`` fresh samples, label noise included.
    n_ridge : int, optional
        Fresh ridge samples (default ``n``); used only with ``ridge_samples="fresh"``.
    allow_large : bool, default False
        Run even when the estimated memory (inputs, the n x N features, the weights, the
        largest Gram matrix) exceeds the machine's physical memory. Without it such a run is
        refused up front with the number of GiB it would take.
    progress : bool or None, default None
        A :mod:`tqdm.auto` bar over the stages (sampling, each step with its spectra, the
        ridge path). ``None``: shown when stderr is a terminal or in a Jupyter kernel,
        hidden otherwise (under pytest, in CI logs); ``False`` hides it. It changes no
        result.

    Returns
    -------
    ExperimentResult
        ``params`` holds the sizes, the names and ``eta0``, ``alpha``, ``eta`` of every step
        (suffix ``_t`` from the second step on) and the batch policy of the later steps
        (``batch`` for the second, ``batch_t`` after it); :meth:`ExperimentResult.theory_params`
        gives the keywords of the matching prediction.
    """
    owner = "train"
    schedule = _check_schedule(schedule, owner)
    T = len(schedule)
    if spectra is None:
        spectra = tuple(f"W{t}" for t in range(T + 1)) + tuple(f"ck{t}" for t in range(T + 1))
    return _run(
        owner, schedule=schedule, n=n, d=d, N=N, activation=activation, teacher=teacher,
        n_index=n_index, noise=noise, first_layer=first_layer, second_layer=second_layer,
        preprocess=preprocess, ck_inputs=ck_inputs, orientation=orientation, spectra=spectra,
        k_top=k_top, degrees=degrees, n_test=n_test, lambdas=lambdas, dtype=dtype,
        n_threads=n_threads, rng=rng, method=method, method_options=method_options,
        ridge_samples=ridge_samples, n_ridge=n_ridge, allow_large=allow_large,
        progress=progress,
    )


@renamed_keywords(target="teacher", init="first_layer")
def one_step(
    *,
    n: int,
    d: int,
    N: int,
    activation="relu",
    teacher="relu",
    n_index: int = 1,
    noise: float = 0.0,
    eta0: float = 1.0,
    alpha: float = 0.0,
    first_layer: str = "gaussian",
    second_layer: str = "gaussian",
    preprocess=None,
    ck_inputs: str = "train",
    orientation: str = "feature",
    spectra=_SPECTRA_ONE,
    k_top: int = 5,
    degrees=(1, 2, 3),
    n_test: int = 0,
    lambdas=None,
    ridge_samples: str = "reuse",
    n_ridge: int | None = None,
    dtype="float64",
    n_threads=None,
    rng=None,
    method: str = "auto",
    method_options=None,
    allow_large: bool = False,
    progress: bool | None = None,
) -> ExperimentResult:
    r"""Train a two-layer network for one gradient step and measure its spectra.

    :func:`train` with the schedule ``Step(eta0, alpha)``:

    .. math:: W_1 = W_0 + \frac{\eta}{n} X^\top [((y - f(X)) a^\top) \odot \sigma'(X W_0)],
              \quad \eta = \eta_0 N^\alpha,

    with the network output ``f(X)`` at initialization kept (Ba et al. 2022 for alpha = 0;
    Moniri et al. 2023 for alpha > 0, where the CK carries several spikes).

    Parameters
    ----------
    n, d, N, activation, teacher, n_index, noise
        As in :func:`train`.
    eta0, alpha : float
        Learning rate ``eta = eta0 * N^alpha`` (eta0 >= 0).
    first_layer, second_layer, preprocess, ck_inputs, orientation
        As in :func:`train`.
    k_top, degrees, n_test, lambdas, dtype, n_threads, rng, method, method_options
        As in :func:`train`.
    ridge_samples, n_ridge, allow_large, progress
        As in :func:`train`.
    spectra : tuple
        Which dense spectra to compute, among ``"W0", "W1", "ck0", "ck1"``.

    Returns
    -------
    ExperimentResult

    Examples
    --------
    >>> from spikewise.spectra import one_step
    >>> r = one_step(n=200, d=100, N=150, activation="tanh", teacher="tanh", eta0=6.0, rng=0)
    >>> sorted(r.spectra), r.params["eta"]
    (['W0', 'W1', 'ck0', 'ck1'], 6.0)
    """
    owner = "one_step"
    step = Step(check_scalar(eta0, "eta0", owner, lower=0.0), check_scalar(alpha, "alpha", owner))
    return _run(
        owner, schedule=StepSchedule((step,)), n=n, d=d, N=N,
        activation=activation, teacher=teacher, n_index=n_index, noise=noise,
        first_layer=first_layer, second_layer=second_layer, preprocess=preprocess,
        ck_inputs=ck_inputs, orientation=orientation, spectra=spectra, k_top=k_top,
        degrees=degrees, n_test=n_test, lambdas=lambdas, dtype=dtype, n_threads=n_threads,
        rng=rng, method=method, method_options=method_options,
        ridge_samples=ridge_samples, n_ridge=n_ridge, allow_large=allow_large,
        progress=progress,
    )


@renamed_keywords(target="teacher", init="first_layer")
def two_step(
    *,
    n: int,
    d: int,
    N: int,
    activation="relu",
    teacher="relu",
    n_index: int = 1,
    noise: float = 0.0,
    eta0: float = 1.0,
    alpha: float = 0.0,
    eta0_2: float = 1.0,
    alpha_2: float = 0.0,
    batch: str = "fresh",
    first_layer: str = "gaussian",
    second_layer: str = "gaussian",
    preprocess=None,
    ck_inputs: str = "train",
    orientation: str = "feature",
    spectra=("W0", "W1", "W2", "ck0", "ck1", "ck2"),
    k_top: int = 5,
    degrees=(1, 2, 3),
    n_test: int = 0,
    lambdas=None,
    ridge_samples: str = "reuse",
    n_ridge: int | None = None,
    dtype="float64",
    n_threads=None,
    rng=None,
    method: str = "auto",
    method_options=None,
    allow_large: bool = False,
    progress: bool | None = None,
) -> ExperimentResult:
    r"""Two gradient steps on the first layer (Moniri & Hassani 2025), fresh or reused batch.

    :func:`train` with the schedule ``Step(eta0, alpha), Step(eta0_2, alpha_2, batch)``:
    ``W_2 = W_1 + (eta_2 / n) X_2^T [((y_2 - f_{W_1}(X_2)) a^T) * sigma'(X_2 W_1)]`` with
    ``eta_t = eta0_t N^{alpha_t}``; ``X_2 = X`` for ``batch="reuse"`` (which lets the second
    step learn directions of information exponent > 1), a fresh batch otherwise. Label
    preprocessing is fitted on each step's own batch.

    Parameters
    ----------
    n, d, N, activation, teacher, n_index, noise
        As in :func:`train`.
    eta0, alpha : float
        Learning rate of the first step, ``eta = eta0 * N^alpha``.
    eta0_2, alpha_2 : float
        Learning rate of the second step.
    batch : {"fresh", "reuse"}
        The second step's batch.
    first_layer, second_layer, preprocess, ck_inputs, orientation
        As in :func:`train`.
    k_top, degrees, n_test, lambdas, dtype, n_threads, rng, method, method_options
        As in :func:`train`.
    ridge_samples, n_ridge, allow_large, progress
        As in :func:`train`.
    spectra : tuple
        Which dense spectra to compute, among ``"W0", "W1", "W2", "ck0", "ck1", "ck2"``.

    Returns
    -------
    ExperimentResult
    """
    owner = "two_step"
    schedule = StepSchedule((
        Step(check_scalar(eta0, "eta0", owner, lower=0.0), check_scalar(alpha, "alpha", owner)),
        Step(check_scalar(eta0_2, "eta0_2", owner, lower=0.0),
             check_scalar(alpha_2, "alpha_2", owner),
             check_option(batch, "batch", owner, ("fresh", "reuse"))),
    ))
    return _run(
        owner, schedule=schedule, n=n, d=d, N=N, activation=activation, teacher=teacher,
        n_index=n_index, noise=noise, first_layer=first_layer, second_layer=second_layer,
        preprocess=preprocess, ck_inputs=ck_inputs, orientation=orientation, spectra=spectra,
        k_top=k_top, degrees=degrees, n_test=n_test, lambdas=lambdas, dtype=dtype,
        n_threads=n_threads, rng=rng, method=method, method_options=method_options,
        ridge_samples=ridge_samples, n_ridge=n_ridge, allow_large=allow_large,
        progress=progress,
    )


_REPEATABLE = {"train": train, "one_step": one_step, "two_step": two_step}


def repeat(experiment, seeds, *, base_seed=0, progress=None, **params) -> list:
    r"""Run an experiment once per seed, with a progress bar over the runs.

    Run ``i`` (``i = 0 .. seeds - 1``) calls
    ``experiment(rng=np.random.SeedSequence(base_seed, spawn_key=(i,)), **params)``: the
    seeding of :func:`spikewise.sweep.sweep`, so run ``i`` gives what a sweep with one grid
    point and the same ``base_seed`` gives at seed ``i``, and the runs' streams are
    independent (:class:`numpy.random.SeedSequence` spawning).

    Parameters
    ----------
    experiment : {"one_step", "two_step", "train"} or callable
        :func:`one_step`, :func:`two_step`, :func:`train`, or any callable taking the
        keyword ``rng`` (a SeedSequence, a valid seed for ``np.random.default_rng``).
    seeds : int
        Number of runs.
    base_seed : int, default 0
        The entropy of every run's SeedSequence.
    progress : bool or None, default None
        A :mod:`tqdm.auto` bar over the runs. ``None``: shown when stderr is a terminal or
        in a Jupyter kernel, hidden otherwise (under pytest, in CI logs); ``False`` hides
        it. The runs' own stage bars are hidden unless ``params`` sets their ``progress``.
        It changes no result.
    **params
        Keyword arguments of ``experiment`` (not ``rng``).

    Returns
    -------
    list
        The runs' results, in seed order.

    Examples
    --------
    >>> from spikewise.spectra import repeat
    >>> runs = repeat("one_step", 3, n=200, d=100, N=150, activation="tanh", teacher="tanh",
    ...               eta0=6.0, spectra=("W1",), k_top=1)
    >>> len(runs), runs[0].params["eta"]
    (3, 6.0)
    """
    owner = "repeat"
    if isinstance(experiment, str):
        experiment = _REPEATABLE[check_option(experiment, "experiment", owner,
                                              tuple(_REPEATABLE))]
    if not callable(experiment):
        raise InvalidParameterError(
            f"The 'experiment' parameter of {owner} must be one of {sorted(_REPEATABLE)} or a "
            f"callable taking the keyword 'rng'. Got {type(experiment).__name__} instead.")
    if isinstance(seeds, bool) or not isinstance(seeds, numbers.Integral):
        raise InvalidParameterError(
            f"The 'seeds' parameter of {owner} must be an int >= 1 (the number of runs). Got "
            f"{seeds!r} instead.")
    seeds = check_scalar(seeds, "seeds", owner, kind="int", lower=1)
    base_seed = check_scalar(base_seed, "base_seed", owner, kind="int", lower=0)
    if "rng" in params:
        raise InvalidParameterError(
            f"The parameters of {owner} must not include 'rng': run i is seeded with "
            f"SeedSequence(base_seed, spawn_key=(i,)). Got rng={params['rng']!r}; set "
            "base_seed instead.")
    show = show_progress(progress, owner)
    try:
        takes_progress = "progress" in inspect.signature(experiment).parameters
    except (TypeError, ValueError):  # no signature: pass nothing extra
        takes_progress = False
    if takes_progress:
        params.setdefault("progress", False)
    runs = []
    with progress_bar(show, total=seeds, desc=owner, unit="run") as bar:
        for i in range(seeds):
            runs.append(experiment(rng=np.random.SeedSequence(base_seed, spawn_key=(i,)),
                                   **params))
            bar.update()
    return runs
