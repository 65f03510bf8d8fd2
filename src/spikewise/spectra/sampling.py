"""Sampling: Gaussian inputs, single- and multi-index teachers, and network initialization.

The convention (issue 2, :mod:`spikewise.conventions`): inputs ``X in R^{n x d}`` with rows
``N(0, I_d)``; first layer ``W in R^{d x N}`` (columns are neurons) with entries
``N(0, 1/d)`` (or columns normalized to unit norm); second layer ``a in R^N`` with entries
``N(0, 1/N)``, ``+-1/sqrt(N)`` (Rademacher) or the constant ``1/sqrt(N)``; teacher
``y = g(X B) + noise`` with ``B in R^{d x k}`` orthonormal (``k = 1``: ``y = sigma_*(X beta)``,
``||beta|| = 1``) and noise ``N(0, noise^2)``.

Every draw goes through one :class:`numpy.random.Generator` (``rng=None`` ->
``np.random.default_rng``) in a fixed order, so the same seed gives the same numbers whatever
the number of threads. Numbers are drawn in float64 and cast when ``dtype=float32`` is asked
for, so a float32 run sees the same sample as the float64 run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from spikewise._validation import (
    InvalidParameterError,
    check_array,
    check_option,
    check_rng,
    check_scalar,
    renamed_keywords,
)
from spikewise.activations import get_activation

__all__ = [
    "Teacher",
    "make_teacher",
    "sample_inputs",
    "init_first_layer",
    "init_second_layer",
    "sample_dataset",
]

_DTYPES = {"float64": np.float64, "float32": np.float32}


def _check_dtype(dtype, owner):
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise InvalidParameterError(
            f"The 'dtype' parameter of {owner} must be one of {{'float64', 'float32'}}. "
            f"Got {dtype!r} instead."
        ) from exc
    check_option(dt.name, "dtype", owner, tuple(_DTYPES))
    return dt


def _get_activation(spec, name, owner):
    try:
        return get_activation(spec)
    except InvalidParameterError as exc:
        raise InvalidParameterError(f"The {name!r} parameter of {owner}: {exc}") from exc


@dataclass(frozen=True, eq=False)
class Teacher:
    """A teacher ``y = g(X B) + noise`` with orthonormal directions ``B`` (d x k).

    Attributes
    ----------
    directions : ndarray, shape (d, k)
        Orthonormal teacher directions (``k = 1``: the column is ``beta``).
    link : tuple of Activation, or callable
        Either k activations, ``g(Z) = sum_j link[j](Z[:, j])`` (a single-index teacher is
        ``k = 1``; a staircase ``He_1(z_1) + He_2(z_2)`` is two), or a callable mapping the
        (n, k) array ``X B`` to the n labels.
    noise : float
        Standard deviation of the additive Gaussian label noise.
    """

    directions: np.ndarray
    link: object
    noise: float = 0.0
    params: dict = field(default_factory=dict)

    @property
    def beta(self) -> np.ndarray:
        """The first teacher direction (the single-index ``beta``)."""
        return self.directions[:, 0]

    @property
    def n_index(self) -> int:
        return self.directions.shape[1]

    def clean(self, X: np.ndarray) -> np.ndarray:
        """Noise-free labels ``g(X B)``, in float64.

        Parameters
        ----------
        X : array_like of shape (n, d)
            Inputs.

        Returns
        -------
        ndarray of shape (n,)
        """
        Z = np.asarray(X, dtype=np.float64) @ self.directions
        if callable(self.link) and not isinstance(self.link, tuple):
            y = np.asarray(self.link(Z), dtype=np.float64).reshape(-1)
            if y.shape[0] != Z.shape[0]:
                raise InvalidParameterError(
                    f"The 'link' parameter of Teacher must map an (n, k) array to n labels. "
                    f"Got {y.shape[0]} labels for n = {Z.shape[0]} instead."
                )
            return y
        y = np.zeros(Z.shape[0])
        for j, act in enumerate(self.link):
            y += act(Z[:, j])
        return y

    def labels(self, X, *, rng=None) -> np.ndarray:
        """Labels ``y = g(X B) + noise * xi``, ``xi ~ N(0, I_n)`` (float64).

        Parameters
        ----------
        X : array_like of shape (n, d)
            Inputs.
        rng : None, int, SeedSequence or Generator
            Seed of the noise (scikit-learn contract); unused when ``noise == 0``.

        Returns
        -------
        ndarray of shape (n,)
        """
        X = check_array(X, "X", "Teacher.labels", ndim=2, shape=(None, self.directions.shape[0]))
        gen = check_rng(rng, "Teacher.labels")
        y = self.clean(X)
        if self.noise > 0:
            y = y + self.noise * gen.standard_normal(y.shape[0])
        if not np.all(np.isfinite(y)):
            raise InvalidParameterError(
                "The teacher produced non-finite labels; check the 'teacher' activation."
            )
        return y


@renamed_keywords(target="teacher")
def make_teacher(
    d: int,
    *,
    teacher="relu",
    n_index: int = 1,
    directions=None,
    noise: float = 0.0,
    rng=None,
) -> Teacher:
    """Build a teacher ``y = g(X B) + noise`` with ``B`` uniformly random orthonormal.

    Parameters
    ----------
    d : int
        Input dimension.
    teacher : str, Activation, sequence of them, or callable
        The link ``g`` (old name ``target``, deprecated): one activation (used on every
        index when ``n_index > 1``, summed), a sequence of ``n_index`` activations, or a
        callable ``g`` on the (n, n_index) array ``X B``.
    n_index : int
        Number of teacher directions k (1 = single index).
    directions : array_like, optional
        Given directions (d,) or (d, k); orthonormalized (QR) if needed. Default: Haar-random.
    noise : float
        Label-noise standard deviation (>= 0).
    rng : None, int, SeedSequence or Generator

    Returns
    -------
    Teacher
    """
    owner = "make_teacher"
    d = check_scalar(d, "d", owner, kind="int", lower=1)
    noise = check_scalar(noise, "noise", owner, lower=0.0)
    gen = check_rng(rng, owner)
    n_index = check_scalar(n_index, "n_index", owner, kind="int", lower=1, upper=d)
    if directions is not None:
        G = check_array(directions, "directions", owner, ndim=(1, 2))
        n_index = 1 if G.ndim == 1 else G.shape[1]
    if callable(teacher) and not _is_activation_like(teacher):
        link = teacher
        name = getattr(teacher, "__name__", "callable")
    else:
        specs = list(teacher) if _is_sequence(teacher) else [teacher] * n_index
        if len(specs) != n_index:
            raise InvalidParameterError(
                f"The 'teacher' parameter of {owner} must give one activation per index "
                f"(n_index = {n_index}). Got {len(specs)} instead."
            )
        link = tuple(_get_activation(s, "teacher", owner) for s in specs)
        name = "+".join(a.name for a in link)
    if directions is None:
        G = gen.standard_normal((d, n_index))
    else:
        G = G.reshape(-1, 1) if G.ndim == 1 else G
        if G.shape[0] != d or G.shape[1] > d or G.shape[1] < 1:
            raise InvalidParameterError(
                f"The 'directions' parameter of {owner} must have shape (d,) or (d, k) with "
                f"1 <= k <= d = {d}. Got shape {np.shape(directions)} instead."
            )
        n_index = G.shape[1]
    Q, R = np.linalg.qr(G)
    signs = np.sign(np.diag(R))
    signs[signs == 0] = 1.0
    B = Q * signs
    if np.linalg.matrix_rank(R) < n_index:
        raise InvalidParameterError(
            f"The 'directions' parameter of {owner} must have linearly independent columns. "
            f"Got {n_index} columns of rank {np.linalg.matrix_rank(R)} instead."
        )
    return Teacher(
        directions=B,
        link=link,
        noise=noise,
        params={"d": d, "n_index": n_index, "teacher": name, "noise": noise},
    )


def _is_activation_like(obj) -> bool:
    return hasattr(obj, "kernel_code") and hasattr(obj, "d1")


def _is_sequence(obj) -> bool:
    return isinstance(obj, Sequence) and not isinstance(obj, str)


def sample_inputs(n: int, d: int, *, rng=None, dtype="float64") -> np.ndarray:
    """Gaussian inputs ``X in R^{n x d}`` with i.i.d. ``N(0, 1)`` entries.

    Parameters
    ----------
    n, d : int
        Number of samples and input dimension (>= 1).
    rng : None, int, SeedSequence or Generator
        Seed (scikit-learn contract).
    dtype : {"float64", "float32"}
        Type of the result (drawn in float64, then cast).

    Returns
    -------
    ndarray of shape (n, d)
    """
    owner = "sample_inputs"
    n = check_scalar(n, "n", owner, kind="int", lower=1)
    d = check_scalar(d, "d", owner, kind="int", lower=1)
    dt = _check_dtype(dtype, owner)
    gen = check_rng(rng, owner)
    X = gen.standard_normal((n, d))
    return X if dt == np.float64 else X.astype(dt)


@renamed_keywords(init="first_layer")
def init_first_layer(d: int, N: int, *, first_layer: str = "gaussian", rng=None,
                     dtype="float64"):
    """First layer ``W0 in R^{d x N}``; columns are neurons.

    Parameters
    ----------
    d, N : int
        Input dimension and width (>= 1).
    first_layer : {"gaussian", "unit"}
        The law of ``W0`` (``first_layer`` of the experiments): ``"gaussian"``, entries
        ``N(0, 1/d)``; ``"unit"``, each neuron's weight vector (column) Gaussian then
        normalized to unit Euclidean norm.
    rng : None, int, SeedSequence or Generator
        Seed (scikit-learn contract).
    dtype : {"float64", "float32"}
        Type of the result.

    Returns
    -------
    ndarray of shape (d, N)
    """
    owner = "init_first_layer"
    d = check_scalar(d, "d", owner, kind="int", lower=1)
    N = check_scalar(N, "N", owner, kind="int", lower=1)
    check_option(first_layer, "first_layer", owner, ("gaussian", "unit"))
    dt = _check_dtype(dtype, owner)
    gen = check_rng(rng, owner)
    W = gen.standard_normal((d, N))
    if first_layer == "gaussian":
        W *= 1.0 / np.sqrt(d)
    else:
        W /= np.linalg.norm(W, axis=0, keepdims=True)
    return W if dt == np.float64 else W.astype(dt)


@renamed_keywords(kind="second_layer")
def init_second_layer(N: int, *, second_layer: str = "gaussian", rng=None, dtype="float64"):
    """Second layer ``a in R^N``, held fixed during training.

    Parameters
    ----------
    N : int
        Width (>= 1).
    second_layer : {"gaussian", "rademacher", "constant"}
        The law of ``a`` (``second_layer`` of the experiments and the theory): ``N(0, 1/N)``,
        ``+-1/sqrt(N)`` or ``1/sqrt(N)``. The "constant" choice draws no random numbers.
    rng : None, int, SeedSequence or Generator
        Seed (scikit-learn contract).
    dtype : {"float64", "float32"}
        Type of the result.

    Returns
    -------
    ndarray of shape (N,)
    """
    owner = "init_second_layer"
    N = check_scalar(N, "N", owner, kind="int", lower=1)
    check_option(second_layer, "second_layer", owner, ("gaussian", "rademacher", "constant"))
    dt = _check_dtype(dtype, owner)
    gen = check_rng(rng, owner)
    if second_layer == "gaussian":
        a = gen.standard_normal(N)
    elif second_layer == "rademacher":
        a = gen.choice(np.array([-1.0, 1.0]), size=N)
    else:
        a = np.ones(N)
    a /= np.sqrt(N)
    return a if dt == np.float64 else a.astype(dt)


def sample_dataset(n: int, teacher: Teacher, *, rng=None, dtype="float64"):
    """Draw ``(X, y)``: ``n`` Gaussian inputs and their teacher labels.

    Parameters
    ----------
    n : int
        Number of samples (>= 1).
    teacher : Teacher
        From :func:`make_teacher`.
    rng : None, int, SeedSequence or Generator
        Seed (scikit-learn contract); the inputs are drawn first, then the label noise.
    dtype : {"float64", "float32"}
        Type of ``X``; ``y`` is always float64.

    Returns
    -------
    X : ndarray of shape (n, d)
    y : ndarray of shape (n,)
    """
    owner = "sample_dataset"
    n = check_scalar(n, "n", owner, kind="int", lower=1)
    if not isinstance(teacher, Teacher):
        raise InvalidParameterError(
            f"The 'teacher' parameter of {owner} must be a Teacher (see make_teacher). "
            f"Got {type(teacher).__name__} instead."
        )
    gen = check_rng(rng, owner)
    X = sample_inputs(n, teacher.directions.shape[0], rng=gen, dtype="float64")
    y = teacher.labels(X, rng=gen)
    dt = _check_dtype(dtype, owner)
    return (X if dt == np.float64 else X.astype(dt)), y

