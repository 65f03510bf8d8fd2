r"""Gradient steps on the first layer, with the exact gradient and label preprocessing.

Convention (issue 2, :mod:`spikewise.conventions`): ``f(x) = a^T sigma(W^T x) / sqrt(N)``,
loss ``L = (1/(2n)) sum_i (f(x_i) - y_i)^2``, and the update

.. math::

    W_1 = W_0 - \eta \sqrt{N} \nabla_W L
        = W_0 + \frac{\eta}{n} X^\top \big[ ((y - f(X)) a^\top) \odot \sigma'(X W_0) \big],

with ``eta = eta0 * N^alpha`` (Ba et al. 2022 take alpha = 0; Moniri et al. 2023 and the
two-step analysis of Moniri & Hassani 2025 take alpha > 0). The network output at
initialization ``f(X)`` is kept in the residual: dropping it changes the update by a visible
finite-size amount. Its rank-one approximation is ``eta mu_1 (X^T y / n) a^T``.

Implementation: one GEMM ``H = X W0``; one fused Numba pass over H computing ``f``, the
residual and ``sigma'(H) * r a^T`` in place; one GEMM ``W1 += (eta/n) X^T H`` done in place by
BLAS ``?gemm``. No n x N array besides H is created.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.linalg import blas

from spikewise._validation import (
    InvalidParameterError,
    check_array,
    check_option,
    check_scalar,
)
from spikewise.conventions import learning_rate
from spikewise.spectra._activation_apply import (
    activate_inplace,
    backprop_inplace,
    resolve_activation,
)
from spikewise.spectra.sampling import _check_dtype

__all__ = [
    "learning_rate",
    "LabelPreprocessing",
    "network_output",
    "gradient",
    "StepResult",
    "gradient_step",
]


@dataclass(frozen=True, eq=False)
class LabelPreprocessing:
    """Removal of the label mean and/or linear (He_1) part, fitted on training data only.

    With ``mean = (1/n) sum_i y_i`` and ``coef = X^T (y - mean) / n`` (the plug-in estimate of
    ``E[x y] = mu_1 beta`` for Gaussian inputs: the He_1 component of the target),
    the transform is ``y -> y - mean - X coef`` (each part only when asked for). The same
    fitted statistics are applied to test data (never refitted on test labels).
    ``linear_fit="raw"`` estimates ``coef = X^T y / n`` from the uncentred labels instead, as
    the GiantStep notebook (Dandi et al. 2023) does; the two differ by ``mean`` times the
    column means of ``X``, a finite-sample effect of order ``1/sqrt(n)``.

    Attributes
    ----------
    remove : tuple of str
        Subset of ``("mean", "linear")``.
    mean : float
    coef : ndarray of shape (d,) or None
    """

    remove: tuple
    mean: float = 0.0
    coef: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def fit(cls, X, y, *, remove=("mean",), linear_fit="centred") -> LabelPreprocessing:
        """Fit the removal on training inputs and labels.

        Parameters
        ----------
        X : array_like of shape (n, d)
            Training inputs.
        y : array_like of shape (n,)
            Training labels.
        remove : str or tuple of str
            Subset of ``("mean", "linear")``.
        linear_fit : {"centred", "raw"}
            ``coef = X^T (y - mean) / n`` or ``coef = X^T y / n`` (GiantStep's choice).

        Returns
        -------
        LabelPreprocessing
        """
        owner = "LabelPreprocessing.fit"
        remove = _check_remove(remove, owner)
        check_option(linear_fit, "linear_fit", owner, ("centred", "raw"))
        X, y = _check_xy(X, y, owner)
        mean = float(np.mean(y)) if "mean" in remove else 0.0
        coef = None
        if "linear" in remove:
            target = y - mean if linear_fit == "centred" else y
            coef = (X.T.astype(np.float64, copy=False) @ target) / X.shape[0]
        return cls(remove=remove, mean=mean, coef=coef)

    def transform(self, X, y) -> np.ndarray:
        """Apply the fitted removal to labels ``y`` of inputs ``X`` (train or test).

        Parameters
        ----------
        X : array_like of shape (n, d)
            Inputs of the labels (used for the linear part).
        y : array_like of shape (n,)
            Labels.

        Returns
        -------
        ndarray of shape (n,)
            ``y - mean - X coef`` (each part only when fitted).
        """
        X, y = _check_xy(X, y, "LabelPreprocessing.transform")
        out = y - self.mean
        if self.coef is not None:
            if X.shape[1] != self.coef.shape[0]:
                raise InvalidParameterError(
                    f"The 'X' parameter of LabelPreprocessing.transform must have "
                    f"{self.coef.shape[0]} columns. Got {X.shape[1]} instead."
                )
            out = out - X.astype(np.float64, copy=False) @ self.coef
        return out


def _check_remove(remove, owner, name="remove"):
    if remove is None:
        return ()
    if isinstance(remove, str):
        remove = (remove,)
    remove = tuple(remove)
    for r in remove:
        check_option(r, name, owner, ("mean", "linear"))
    return remove


def _check_xy(X, y, owner, *, dtype=None):
    X = check_array(X, "X", owner, ndim=2, dtype=dtype)
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise InvalidParameterError(
            f"The 'X' parameter of {owner} must have at least one row and one column. "
            f"Got shape {X.shape} instead."
        )
    y = check_array(y, "y", owner, ndim=1, shape=(X.shape[0],), dtype=np.float64)
    return X, y


def _check_weights(X, W, a, owner, dtype):
    d = X.shape[1]
    W = check_array(W, "W", owner, ndim=2, dtype=dtype)
    if W.shape[0] != d or W.shape[1] < 1:
        raise InvalidParameterError(
            f"The 'W' parameter of {owner} must have shape ({d}, N) with N >= 1 to match X. "
            f"Got shape {W.shape} instead."
        )
    a = check_array(a, "a", owner, ndim=1, shape=(W.shape[1],), dtype=np.float64)
    return W, a


def network_output(X, *, W, a, activation="relu") -> np.ndarray:
    """The network's output ``f(X) = sigma(X W) a / sqrt(N)``.

    Parameters
    ----------
    X : array_like of shape (n, d)
        Inputs (float32 inputs are computed in float32).
    W : array_like of shape (d, N)
        First layer (columns are neurons).
    a : array_like of shape (N,)
        Second layer.
    activation : str or Activation
        Student activation sigma.

    Returns
    -------
    ndarray of shape (n,), float64
    """
    owner = "network_output"
    X = check_array(X, "X", owner, ndim=2, dtype=None)
    dt = X.dtype if X.dtype == np.float32 else np.float64
    X = X.astype(dt, copy=False)
    W, a = _check_weights(X, W, a, owner, dt)
    act = resolve_activation(activation, "activation", owner)
    H = activate_inplace(X @ W, act)
    return (H @ a.astype(dt)).astype(np.float64) / np.sqrt(W.shape[1])


def gradient(X, y, *, W, a, activation="relu") -> np.ndarray:
    r"""The exact gradient ``grad_W L`` of ``L = (1/(2n)) ||f(X) - y||^2`` (shape (d, N)).

    ``grad_W L = -(1 / (n sqrt(N))) X^T [ ((y - f(X)) a^T) * sigma'(X W) ]``, including the
    network's output f(X) at W. Computed with the fused kernel and one GEMM.

    Parameters
    ----------
    X : array_like of shape (n, d)
        Inputs.
    y : array_like of shape (n,)
        Labels.
    W : array_like of shape (d, N)
        First layer.
    a : array_like of shape (N,)
        Second layer.
    activation : str or Activation
        Student activation sigma.

    Returns
    -------
    ndarray of shape (d, N)
        In the dtype of ``X`` (float32 or float64).
    """
    owner = "gradient"
    X, y = _check_xy(X, y, owner, dtype=None)
    dt = X.dtype if X.dtype == np.float32 else np.float64
    X = X.astype(dt, copy=False)
    W, a = _check_weights(X, W, a, owner, dt)
    act = resolve_activation(activation, "activation", owner)
    n, N = X.shape[0], W.shape[1]
    H = X @ W
    backprop_inplace(H, y, a, act)
    G = X.T @ H
    G *= dt(-1.0 / (n * np.sqrt(N)))
    return G


@dataclass(frozen=True, eq=False)
class StepResult:
    """One first-layer gradient step.

    Attributes
    ----------
    W : ndarray (d, N)
        The updated first layer ``W_1``.
    eta : float
        The learning rate used, ``eta0 * N^alpha``.
    output : ndarray (n,)
        The network output ``f(X)`` at the weights before the step (kept in the residual).
    labels : ndarray (n,)
        The labels used (after preprocessing).
    """

    W: np.ndarray = field(repr=False)
    eta: float
    output: np.ndarray = field(repr=False)
    labels: np.ndarray = field(repr=False)


def _axpy_gemm(W1, X, M, alpha):
    """``W1 <- W1 + alpha X^T M`` in place through BLAS ?gemm (W1 C-contiguous d x N)."""
    gemm = blas.sgemm if W1.dtype == np.float32 else blas.dgemm
    # in Fortran layout W1^T (N x d) <- W1^T + alpha M^T X
    out = gemm(alpha, M.T, X.T, beta=1.0, c=W1.T, trans_b=1, overwrite_c=1)
    if not np.shares_memory(out, W1):  # pragma: no cover - BLAS wrapper copied
        W1[...] = out.T
    return W1


def _step_core(X, y, W0, a, act, eta, *, H=None, F=None):
    """``W0 + (eta/n) X^T [sigma'(H) * r a^T]`` with ``H = X W0`` (overwritten) -> (W1, f)."""
    n = X.shape[0]
    if H is None:
        H = X @ W0
    f = backprop_inplace(H, y, a, act, F=F)
    W1 = np.array(W0, order="C", copy=True)
    _axpy_gemm(W1, X, H, eta / n)
    return W1, f


def gradient_step(
    X,
    y,
    *,
    W,
    a,
    activation="relu",
    eta0: float = 1.0,
    alpha: float = 0.0,
    preprocess=None,
    dtype="float64",
) -> StepResult:
    r"""One full-batch gradient step on the first layer (``a`` fixed).

    ``W_1 = W + (eta / n) X^T [((y - f(X)) a^T) * sigma'(X W)]``, ``eta = eta0 * N^alpha``.

    Parameters
    ----------
    X : array_like (n, d)
        Inputs.
    y : array_like (n,)
        Labels.
    W : array_like (d, N)
        First layer before the step.
    a : array_like (N,)
        Second layer (fixed).
    activation : str or Activation
        The student's activation sigma.
    eta0, alpha : float
        Learning rate ``eta = eta0 * N^alpha``; ``eta0 >= 0``.
    preprocess : None, str, tuple or LabelPreprocessing
        ``"mean"`` and/or ``"linear"``: remove those parts of y, fitted on these (training)
        data; a fitted :class:`LabelPreprocessing` is applied as is.
    dtype : {"float64", "float32"}
        Arithmetic precision of the GEMMs and the kernel.

    Returns
    -------
    StepResult
    """
    owner = "gradient_step"
    dt = _check_dtype(dtype, owner).type
    X, y = _check_xy(X, y, owner, dtype=dt)
    W, a = _check_weights(X, W, a, owner, dt)
    eta0 = check_scalar(eta0, "eta0", owner, lower=0.0)
    alpha = check_scalar(alpha, "alpha", owner)
    act = resolve_activation(activation, "activation", owner)
    if preprocess is not None and not isinstance(preprocess, LabelPreprocessing):
        preprocess = LabelPreprocessing.fit(X, y, remove=preprocess)
    if preprocess is not None:
        y = preprocess.transform(X, y)
    eta = learning_rate(eta0, N=W.shape[1], alpha=alpha)
    W1, f = _step_core(X, y, W, a.astype(dt), act, eta)
    return StepResult(W=W1, eta=eta, output=f, labels=y)
