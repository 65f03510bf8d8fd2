r"""Activation and teacher functions: values, derivatives and exact Hermite coefficients.

An :class:`Activation` is a scalar function :math:`\sigma:\mathbb{R}\to\mathbb{R}` applied
entrywise, with its first and second derivatives, its Hermite coefficients

.. math::

    \mu_k = \frac{\mathbb{E}[\sigma(Z)\,\mathrm{He}_k(Z)]}{k!}, \qquad Z \sim \mathcal{N}(0, 1),

(probabilists' Hermite polynomials :math:`\mathrm{He}_k`, so that
:math:`\sigma = \sum_k \mu_k \mathrm{He}_k` in :math:`L^2(\mathcal{N}(0,1))`), the derived
constants :math:`\mathbb{E}\sigma(Z)^2` and :math:`\mu_\star^2 = \mathbb{E}\sigma(Z)^2 - \mu_0^2 -
\mu_1^2` (Ba et al. 2022; Moniri et al. 2023), and a description that the Numba kernels of
:mod:`spikewise.spectra` understand (``kernel_code``, ``kernel_params``). The same objects serve
as teacher link functions :math:`\sigma_\star` (their Hermite coefficients are then the
:math:`c_k` of the theory).

Presets (``get_activation(name)``)
----------------------------------

{preset_table}

``"centred_relu"`` is an alias of ``"relu_centred"``. :func:`hermite_sum` builds
:math:`\sum_k c_k \mathrm{He}_k` (e.g. the teacher :math:`\mathrm{He}_1 + \mathrm{He}_2/\sqrt{2}`),
and :meth:`Activation.from_callable` wraps any vectorized function.

How the Hermite coefficients are computed
-----------------------------------------

``method="quadrature"`` (default, double precision):

* Hermite sums (``he1``..``he8``, :func:`hermite_sum`, ``linear``) have exact coefficients; no
  quadrature is done.
* Functions without kinks: Gauss–Hermite quadrature for the weight :math:`e^{-z^2/2}` with
  200 nodes (:func:`spikewise._gauss.normal_rule`); for the smooth presets this agrees with
  30-digit mpmath to about 1e-15 for :math:`k \le 12`.
* Functions with kinks (``relu``; a user function declared with ``kinks=``): Gauss–Hermite
  converges only algebraically across a kink, so the Gaussian integral is split at every kink
  and each piece is integrated with composite Gauss–Legendre quadrature (panels of width 1,
  16 nodes each, on :math:`[-40, 40]` widened to contain every kink; the Gaussian weight is
  below :math:`10^{-340}` outside). Relu then agrees with its closed form to about 1e-16.

``method="mpmath"`` (verification, any precision ``dps``): ``mpmath.quad`` of
:math:`\sigma(z)\mathrm{He}_k(z)e^{-z^2/2}/\sqrt{2\pi}` over :math:`(-\infty, \infty)` split
at 0 and at every kink, with the activation evaluated in mpmath arithmetic.

Results are cached on the object (presets are shared singletons, so the cache is too).
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import mpmath
import numpy as np
from scipy.special import erf as _sp_erf
from scipy.special import expit as _sp_expit
from scipy.special import ndtr as _sp_ndtr

from spikewise._gauss import factorials as _factorials
from spikewise._gauss import hermite_polynomials, normal_rule
from spikewise._gauss import hermite_series as _hermite_series
from spikewise._gauss import hermite_series_derivative as _hermite_series_derivative
from spikewise._validation import InvalidParameterError, check_option, check_scalar

__all__ = [
    "Activation",
    "get_activation",
    "hermite_sum",
    "hermite_polynomials",
    "ACTIVATION_NAMES",
    "KERNEL_CODES",
]

_SQRT_2PI = math.sqrt(2.0 * math.pi)
_INV_SQRT_2PI = 1.0 / _SQRT_2PI
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_MAX_K = 100


# --------------------------------------------------------------------------------------------
# Hermite polynomials
# --------------------------------------------------------------------------------------------
def _mp_hermite(k: int, z):
    """He_k(z) in mpmath arithmetic (recurrence)."""
    h_prev, h = mpmath.mpf(1), z
    if k == 0:
        return h_prev
    for j in range(1, k):
        h_prev, h = h, z * h - j * h_prev
    return h


# --------------------------------------------------------------------------------------------
# Module-level scalar functions (picklable, used through functools.partial)
# --------------------------------------------------------------------------------------------
def _linear(x):
    return np.asarray(x, dtype=np.float64) * 1.0


def _ones(x):
    return 1.0 + 0.0 * np.asarray(x, dtype=np.float64)  # keeps NaN


def _zeros(x):
    return 0.0 * np.asarray(x, dtype=np.float64)  # keeps NaN


def _relu(x):
    return np.maximum(np.asarray(x, dtype=np.float64), 0.0)


def _relu_d1(x):
    x = np.asarray(x, dtype=np.float64)
    return np.where(x > 0, 1.0, 0.0 * x)  # 0 at the kink, NaN kept


def _tanh_d1(x):
    t = np.tanh(x)
    return 1.0 - t * t


def _tanh_d2(x):
    t = np.tanh(x)
    return -2.0 * t * (1.0 - t * t)


def _erf_d1(x):
    x = np.asarray(x, dtype=np.float64)
    return _TWO_OVER_SQRT_PI * np.exp(-x * x)


def _erf_d2(x):
    x = np.asarray(x, dtype=np.float64)
    return -2.0 * x * _TWO_OVER_SQRT_PI * np.exp(-x * x)


def _sigmoid_d1(x):
    s = _sp_expit(x)
    return s * (1.0 - s)


def _sigmoid_d2(x):
    s = _sp_expit(x)
    return s * (1.0 - s) * (1.0 - 2.0 * s)


def _softplus(x):
    return np.logaddexp(0.0, np.asarray(x, dtype=np.float64))


def _gelu(x):
    x = np.asarray(x, dtype=np.float64)
    return x * _sp_ndtr(x)


def _gelu_d1(x):
    x = np.asarray(x, dtype=np.float64)
    return _sp_ndtr(x) + x * np.exp(-0.5 * x * x) * _INV_SQRT_2PI


def _gelu_d2(x):
    x = np.asarray(x, dtype=np.float64)
    return (2.0 - x * x) * np.exp(-0.5 * x * x) * _INV_SQRT_2PI


def _neg_sin(x):
    return -np.sin(x)


def _mp_relu(z):
    return z if z > 0 else mpmath.mpf(0)


def _mp_sigmoid(z):
    return 1 / (1 + mpmath.exp(-z))


def _mp_softplus(z):
    return mpmath.log1p(mpmath.exp(z)) if z < 0 else z + mpmath.log1p(mpmath.exp(-z))


def _mp_gelu(z):
    return z * mpmath.ncdf(z)


def _mp_linear(z):
    return z


def _mp_hermite_series(coeffs, z):
    total = mpmath.mpf(0)
    for k, c in enumerate(coeffs):
        if c != 0:
            total += mpmath.mpf(float(c)) * _mp_hermite(k, z)
    return total


def _affine_apply(func, scale, shift, x):
    return scale * func(x) + shift


def _scaled_apply(func, scale, x):
    return scale * func(x)


def _mp_affine(func, scale, shift, z):
    return mpmath.mpf(scale) * func(z) + mpmath.mpf(shift)


def _float_to_mp(func, z):
    return mpmath.mpf(float(np.asarray(func(np.float64(z)))))


def _central_d1(func, x):
    """Fourth-order central difference, step h = eps**(1/5) * max(1, |x|)."""
    x = np.asarray(x, dtype=np.float64)
    h = np.finfo(np.float64).eps ** 0.2 * np.maximum(1.0, np.abs(x))
    return (-func(x + 2 * h) + 8.0 * func(x + h) - 8.0 * func(x - h) + func(x - 2 * h)) / (12.0 * h)


def _central_d2(func, x):
    """Fourth-order central second difference, step h = eps**(1/6) * max(1, |x|)."""
    x = np.asarray(x, dtype=np.float64)
    h = np.finfo(np.float64).eps ** (1.0 / 6.0) * np.maximum(1.0, np.abs(x))
    return (
        -func(x + 2 * h)
        + 16.0 * func(x + h)
        - 30.0 * func(x)
        + 16.0 * func(x - h)
        - func(x - 2 * h)
    ) / (12.0 * h * h)


# --------------------------------------------------------------------------------------------
# Scalar formulas of the Numba path
# --------------------------------------------------------------------------------------------
# Each kernel code of the table below declares its base function and the first two derivatives
# as scalar functions ``f(x, params) -> float`` written in the subset of Python that Numba
# compiles (``math`` only, no NumPy; NaN must propagate, so no ``fastmath``-style shortcuts).
# They are plain Python here: :mod:`spikewise.spectra._kernels` registers them with Numba and
# generates its dispatch on the code from the table, so that a new row needs no edit there.
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)


def _sc_sigmoid(x):
    """Logistic function without overflow for either sign of x."""
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _sc_hermite_sum(params, x, deriv):
    """``sum_k params[2+k] He_k^{(deriv)}(x)`` for deriv in {0, 1, 2}.

    Uses ``He_k' = k He_{k-1}`` and ``He_k'' = k (k-1) He_{k-2}`` with the three-term
    recurrence ``He_{k+1} = x He_k - k He_{k-1}``: ``h`` holds ``He_j`` for j = 0, 1, ...,
    and the coefficient of ``He_j`` in the derivative is ``c_{j+deriv} (j+1)...(j+deriv)``.
    """
    K = params.shape[0] - 2
    total = 0.0
    h_prev = 0.0  # He_{-1} (unused)
    h = 1.0  # He_0
    for j in range(K - deriv):
        k = j + deriv
        factor = 1.0
        for m in range(deriv):
            factor *= k - m
        total += params[2 + k] * factor * h
        h_next = x * h - j * h_prev
        h_prev = h
        h = h_next
    return total


#: Helpers the scalar formulas call (registered with Numba before the formulas).
_SCALAR_HELPERS = (_sc_sigmoid, _sc_hermite_sum)


def _sc_identity(x, params):
    return x


def _sc_one(x, params):
    return 1.0 + 0.0 * x  # keeps NaN


def _sc_zero(x, params):
    return 0.0 * x  # keeps NaN


def _sc_relu(x, params):
    return x if x > 0.0 else 0.0 * x


def _sc_relu_d1(x, params):
    return 1.0 if x > 0.0 else 0.0 * x


def _sc_tanh(x, params):
    return math.tanh(x)


def _sc_tanh_d1(x, params):
    t = math.tanh(x)
    return 1.0 - t * t


def _sc_tanh_d2(x, params):
    t = math.tanh(x)
    return -2.0 * t * (1.0 - t * t)


def _sc_erf(x, params):
    return math.erf(x)


def _sc_erf_d1(x, params):
    return _TWO_OVER_SQRT_PI * math.exp(-x * x)


def _sc_erf_d2(x, params):
    return -2.0 * x * _TWO_OVER_SQRT_PI * math.exp(-x * x)


def _sc_logistic(x, params):
    return _sc_sigmoid(x)


def _sc_logistic_d1(x, params):
    s = _sc_sigmoid(x)
    return s * (1.0 - s)


def _sc_logistic_d2(x, params):
    s = _sc_sigmoid(x)
    return s * (1.0 - s) * (1.0 - 2.0 * s)


def _sc_softplus(x, params):
    if x > 0.0:
        return x + math.log1p(math.exp(-x))
    return math.log1p(math.exp(x))


def _sc_gelu(x, params):
    return x * 0.5 * math.erfc(-x * _INV_SQRT_2)


def _sc_gelu_d1(x, params):
    return 0.5 * math.erfc(-x * _INV_SQRT_2) + x * _INV_SQRT_2PI * math.exp(-0.5 * x * x)


def _sc_gelu_d2(x, params):
    return _INV_SQRT_2PI * math.exp(-0.5 * x * x) * (2.0 - x * x)


def _sc_sin(x, params):
    return math.sin(x)


def _sc_cos(x, params):
    return math.cos(x)


def _sc_neg_sin(x, params):
    return -math.sin(x)


def _sc_hermite(x, params):
    return _sc_hermite_sum(params, x, 0)


def _sc_hermite_d1(x, params):
    return _sc_hermite_sum(params, x, 1)


def _sc_hermite_d2(x, params):
    return _sc_hermite_sum(params, x, 2)


@dataclass(frozen=True)
class _Scalar:
    """The Numba path of one kernel code: scalar base function and its two derivatives."""

    value: Callable
    d1: Callable
    d2: Callable


# --------------------------------------------------------------------------------------------
# The Activation class
# --------------------------------------------------------------------------------------------
def _symmetry_zeros(mu: np.ndarray, x: np.ndarray, values: np.ndarray, func) -> np.ndarray:
    """Set to exact zero the Hermite coefficients that vanish by symmetry.

    With even part ``e(x) = (f(x) + f(-x))/2`` and odd part ``o(x) = (f(x) - f(-x))/2``,
    measured on the quadrature nodes to 64 ulps of ``max|f|``: a constant ``e`` has no even
    coefficient above 0 (``e = 0``: none at all), a linear ``o`` none of odd order above 1
    (``o = 0``: none at all). This covers tanh, erf, sin (odd), relu, gelu, softplus (linear
    plus even) and sigmoid (constant plus odd), where quadrature leaves residues of 1e-17.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        mirrored = np.asarray(func(-x), dtype=np.float64)
    tol = 64.0 * np.finfo(np.float64).eps * float(np.max(np.abs(values), initial=0.0))
    even = 0.5 * (values + mirrored)
    odd = 0.5 * (values - mirrored)
    slope = float(odd @ x / (x @ x))
    if np.all(np.abs(even - even[0]) <= tol):
        mu[2::2] = 0.0
        if np.all(np.abs(even) <= tol):
            mu[0] = 0.0
    if np.all(np.abs(odd - slope * x) <= tol):
        mu[3::2] = 0.0
        if np.all(np.abs(odd) <= tol):
            mu[1] = 0.0
    return mu


class Activation:
    r"""An entrywise activation (or teacher link) with derivatives and Hermite coefficients.

    Build one with :func:`get_activation`, :func:`hermite_sum` or
    :meth:`Activation.from_callable`; the constructor is internal.

    Attributes
    ----------
    name : str
        Label used in plots and results.
    kernel_code : int
        Base function for the Numba kernels (see ``KERNEL_CODES``): 0 linear, 1 relu,
        2 tanh, 3 erf, 4 sigmoid, 5 softplus, 6 gelu, 7 sin, 8 Hermite sum, -1 custom.
    kernel_params : ndarray of float64 (read-only)
        ``sigma(x) = kernel_params[0] * base(x) + kernel_params[1]``; for code 8,
        ``base(x) = sum_k kernel_params[2 + k] He_k(x)``.
    kinks : tuple of float
        Points where the function is not smooth (the quadrature splits there).
    formula : str
        The formula, in words.

    Notes
    -----
    Hermite coefficients are :math:`\mu_k = \mathbb{E}[\sigma(Z)\mathrm{He}_k(Z)]/k!` with the
    probabilists' :math:`\mathrm{He}_k`; see the module docstring for the quadrature rules.
    """

    __slots__ = (
        "name",
        "formula",
        "kernel_code",
        "kernel_params",
        "kinks",
        "_func",
        "_d1",
        "_d2",
        "_mp_func",
        "_exact",
        "_parent",
        "_affine",
        "_cache",
        "__weakref__",
    )

    def __init__(
        self,
        func: Callable,
        d1: Callable,
        d2: Callable,
        *,
        name: str,
        formula: str,
        mp_func: Callable | None,
        kernel_code: int = -1,
        kernel_params=None,
        kinks: Sequence[float] = (),
        exact_hermite: np.ndarray | None = None,
        parent: Activation | None = None,
        affine: tuple[float, float] = (1.0, 0.0),
    ):
        self.name = str(name)
        self.formula = str(formula)
        self._func = func
        self._d1 = d1
        self._d2 = d2
        self._mp_func = mp_func
        self.kernel_code = int(kernel_code)
        params = np.array([1.0, 0.0] if kernel_params is None else kernel_params, np.float64)
        params.setflags(write=False)
        self.kernel_params = params
        self.kinks = tuple(sorted(float(k) for k in kinks))
        if exact_hermite is not None:
            exact_hermite = np.array(exact_hermite, dtype=np.float64)
            exact_hermite.setflags(write=False)
        self._exact = exact_hermite
        self._parent = parent
        self._affine = (float(affine[0]), float(affine[1]))
        self._cache: dict = {}

    # ---------------------------------------------------------------- evaluation
    def __repr__(self) -> str:
        return f"Activation({self.name!r}: {self.formula})"

    @staticmethod
    def _as_input(x, what: str, owner: str) -> np.ndarray:
        arr = np.asarray(x)
        if arr.dtype == object or arr.dtype.kind not in "biuf":
            raise InvalidParameterError(
                f"The {what!r} parameter of {owner} must be a real numeric array or scalar. "
                f"Got {x!r} instead."
            )
        return arr.astype(np.float64, copy=False)

    def __call__(self, x):
        """Evaluate :math:`\\sigma(x)` entrywise (NaN in gives NaN out)."""
        return self._func(self._as_input(x, "x", f"Activation {self.name!r}"))

    def d1(self, x):
        """First derivative :math:`\\sigma'(x)` entrywise."""
        return self._d1(self._as_input(x, "x", f"Activation {self.name!r}.d1"))

    def d2(self, x):
        """Second derivative :math:`\\sigma''(x)` entrywise (0 away from kinks for relu)."""
        return self._d2(self._as_input(x, "x", f"Activation {self.name!r}.d2"))

    # ---------------------------------------------------------------- Hermite coefficients
    def hermite(self, k_max: int = 8, *, method: str = "quadrature", dps: int = 30) -> np.ndarray:
        r"""Hermite coefficients :math:`\mu_k = \mathbb{E}[\sigma(Z)\mathrm{He}_k(Z)]/k!`.

        Parameters
        ----------
        k_max : int, default 8
            Highest order, ``0 <= k_max <= 100``.
        method : {"quadrature", "mpmath"}
            ``"quadrature"``: exact for Hermite sums, Gauss–Hermite (200 nodes) for smooth
            functions, composite Gauss–Legendre split at the kinks otherwise.
            ``"mpmath"``: ``mpmath.quad`` at ``dps`` digits, split at 0 and the kinks
            (for verification; slow).
        dps : int, default 30
            Decimal digits for ``method="mpmath"`` (ignored otherwise), ``15 <= dps <= 1000``.

        Returns
        -------
        ndarray of shape ``(k_max + 1,)``
            :math:`\mu_0, \dots, \mu_{k_{max}}` (a fresh copy; cached internally). With
            ``method="quadrature"`` the coefficients that vanish by symmetry are exact zeros:
            the odd ones of an even function, the even ones of an odd function, and those of
            order >= 2 of the part that is linear or constant (relu = :math:`x/2 + |x|/2` has
            :math:`\mu_3 = \mu_5 = \dots = 0`); parity is checked on the quadrature nodes, to
            64 ulps of the largest value.
        """
        owner = f"Activation({self.name!r}).hermite"
        k_max = check_scalar(k_max, "k_max", owner, kind="int", lower=0, upper=_MAX_K)
        method = check_option(method, "method", owner, ("quadrature", "mpmath"))
        if method == "mpmath":
            dps = check_scalar(dps, "dps", owner, kind="int", lower=15, upper=1000)
        key = (method, dps if method == "mpmath" else None)
        cached = self._cache.get(key)
        if cached is None or len(cached) <= k_max:
            cached = self._compute_hermite(k_max, method, dps)
            self._cache[key] = cached
        return cached[: k_max + 1].copy()

    def _compute_hermite(self, k_max: int, method: str, dps: int) -> np.ndarray:
        if self._parent is not None:
            scale, shift = self._affine
            mu = scale * self._parent.hermite(k_max, method=method, dps=dps)
            mu[0] += shift
            return mu
        if method == "mpmath":
            return self._hermite_mpmath(k_max, dps)
        if self._exact is not None:
            mu = np.zeros(k_max + 1)
            m = min(len(self._exact), k_max + 1)
            mu[:m] = self._exact[:m]
            return mu
        x, w = normal_rule(self.kinks)
        with np.errstate(over="ignore", invalid="ignore"):
            values = self._func(x)
        if not np.all(np.isfinite(values)):
            raise InvalidParameterError(
                f"The activation {self.name!r} returned non-finite values at quadrature nodes "
                f"in [{x.min():.1f}, {x.max():.1f}]; its Hermite coefficients cannot be computed."
            )
        mu = hermite_polynomials(x, k_max) @ (values * w) / _factorials(k_max)
        return _symmetry_zeros(mu, x, values, self._func)

    def _mp_callable(self) -> Callable:
        if self._mp_func is not None:
            return self._mp_func
        return functools.partial(_float_to_mp, self._func)

    def _hermite_mpmath(self, k_max: int, dps: int) -> np.ndarray:
        g = self._mp_callable()
        points = sorted(set((0.0,) + self.kinks))
        out = np.empty(k_max + 1)
        # mpmath.quad uses the same tanh-sinh nodes for every k at a given precision, so the
        # weighted function g(z) exp(-z^2/2) is evaluated once per node and reused.
        memo: dict = {}

        def weighted(z):
            val = memo.get(z)
            if val is None:
                val = g(z) * mpmath.exp(-z * z / 2)
                memo[z] = val
            return val

        with mpmath.workdps(dps):
            pts = [-mpmath.inf] + [mpmath.mpf(p) for p in points] + [mpmath.inf]
            norm = mpmath.sqrt(2 * mpmath.pi)
            for k in range(k_max + 1):
                val = mpmath.quad(lambda z, k=k: weighted(z) * _mp_hermite(k, z), pts)
                out[k] = float(val / norm / mpmath.factorial(k))
        return out

    def _expectation(self, g: Callable) -> float:
        """E[g(Z)] with the same rule as the quadrature coefficients (g vectorized)."""
        x, w = normal_rule(self.kinks)
        return float(np.dot(g(x), w))

    @property
    def mu0(self) -> float:
        r""":math:`\mu_0 = \mathbb{E}\sigma(Z)`."""
        return float(self.hermite(2)[0])

    @property
    def mu1(self) -> float:
        r""":math:`\mu_1 = \mathbb{E}[Z\sigma(Z)]`."""
        return float(self.hermite(2)[1])

    @property
    def mu2(self) -> float:
        r""":math:`\mu_2 = \mathbb{E}[\sigma(Z)(Z^2 - 1)]/2`."""
        return float(self.hermite(2)[2])

    @property
    def second_moment(self) -> float:
        r""":math:`\mathbb{E}\sigma(Z)^2` (exact for Hermite sums: :math:`\sum_k k!\mu_k^2`)."""
        cached = self._cache.get("second_moment")
        if cached is None:
            if self._parent is not None:
                scale, shift = self._affine
                p = self._parent
                cached = scale**2 * p.second_moment + 2 * scale * shift * p.mu0 + shift**2
            elif self._exact is not None:
                mu = self._exact
                cached = float(np.sum(_factorials(len(mu) - 1) * mu * mu))
            else:
                cached = self._expectation(lambda x: self._func(x) ** 2)
            self._cache["second_moment"] = cached
        return float(cached)

    @property
    def mu_star2(self) -> float:
        r""":math:`\mu_\star^2 = \mathbb{E}\sigma(Z)^2 - \mu_0^2 - \mu_1^2` (>= 0)."""
        mu = self.hermite(2)
        return max(self.second_moment - mu[0] ** 2 - mu[1] ** 2, 0.0)

    # ---------------------------------------------------------------- transformations
    def affine(self, scale: float = 1.0, shift: float = 0.0, *, name: str | None = None):
        r"""Return :math:`x \mapsto \text{scale}\cdot\sigma(x) + \text{shift}`.

        Hermite coefficients follow exactly: :math:`\mu_k \to \text{scale}\,\mu_k`, plus
        ``shift`` on :math:`\mu_0`. The Numba description is updated accordingly.
        """
        owner = f"Activation({self.name!r}).affine"
        scale = check_scalar(scale, "scale", owner)
        shift = check_scalar(shift, "shift", owner)
        params = np.array(self.kernel_params, dtype=np.float64)
        params[0] *= scale
        params[1] = scale * params[1] + shift
        if name is None:
            name = f"{scale:g}*{self.name}{shift:+g}"
        return Activation(
            functools.partial(_affine_apply, self._func, scale, shift),
            functools.partial(_scaled_apply, self._d1, scale),
            functools.partial(_scaled_apply, self._d2, scale),
            name=name,
            formula=f"{scale!r} * ({self.formula}) + {shift!r}",
            mp_func=functools.partial(_mp_affine, self._mp_callable(), scale, shift),
            kernel_code=self.kernel_code,
            kernel_params=params,
            kinks=self.kinks,
            parent=self,
            affine=(scale, shift),
        )

    def centred(self) -> Activation:
        r"""Return :math:`\sigma - \mu_0` (so that :math:`\mathbb{E}\sigma(Z) = 0`)."""
        # the preset itself, not any function that happens to be called "relu"
        if self is get_activation("relu"):
            return get_activation("relu_centred")
        mu0 = self.mu0
        return self.affine(1.0, -mu0, name=f"{self.name}_centred")

    # ---------------------------------------------------------------- user functions
    @classmethod
    def from_callable(
        cls,
        func: Callable,
        *,
        d1: Callable | None = None,
        d2: Callable | None = None,
        name: str = "custom",
        mp_func: Callable | None = None,
        kinks: Sequence[float] = (),
    ) -> Activation:
        r"""Wrap a vectorized NumPy function as an :class:`Activation`.

        Parameters
        ----------
        func : callable
            Vectorized: ``func(ndarray) -> ndarray`` of the same shape, real, and finite
            where the quadrature evaluates it (about :math:`|x| \le 28` for smooth functions,
            :math:`[-40, 40]` widened around far kinks otherwise).
        d1, d2 : callable, optional
            Vectorized first and second derivatives. When omitted they are computed by
            fourth-order central differences: ``d1`` with the 5-point stencil and step
            :math:`h = \epsilon^{1/5}\max(1, |x|)` (relative error about 1e-12 for smooth
            functions), ``d2`` with the 5-point stencil and :math:`h = \epsilon^{1/6}\max(1,|x|)`
            (about 1e-10). Within :math:`2h` of a kink they return difference quotients, not
            one-sided derivatives.
        name : str
            Label.
        mp_func : callable, optional
            The same function in mpmath arithmetic (``mpf -> mpf``), used by
            ``hermite(method="mpmath")``. Without it that path evaluates ``func`` in double
            precision, so it checks the quadrature rule but not beyond ~1e-16.
        kinks : sequence of float
            Points where ``func`` or its derivatives jump; the quadrature splits there.

        Returns
        -------
        Activation
            With ``kernel_code = -1`` (no Numba path; callers fall back to NumPy).
        """
        owner = "Activation.from_callable"
        for label, f in (("func", func), ("d1", d1), ("d2", d2), ("mp_func", mp_func)):
            if f is not None and not callable(f):
                raise InvalidParameterError(
                    f"The {label!r} parameter of {owner} must be callable. Got {f!r} instead."
                )
        if func is None:
            raise InvalidParameterError(
                f"The 'func' parameter of {owner} must be callable. Got None instead."
            )
        if not isinstance(name, str) or not name:
            raise InvalidParameterError(
                f"The 'name' parameter of {owner} must be a non-empty str. Got {name!r} instead."
            )
        if isinstance(kinks, numbers.Real):
            kinks = (kinks,)
        try:
            kinks = tuple(kinks)
        except TypeError as exc:
            raise InvalidParameterError(
                f"The 'kinks' parameter of {owner} must be a sequence of finite floats. "
                f"Got {kinks!r} instead."
            ) from exc
        kinks = tuple(check_scalar(k, "kinks", owner) for k in kinks)
        probe = np.linspace(-3.0, 3.0, 7).reshape(7, 1)
        for label, f in (("func", func), ("d1", d1), ("d2", d2)):
            if f is None:
                continue
            try:
                out = np.asarray(f(probe))
            except Exception as exc:
                raise InvalidParameterError(
                    f"The {label!r} parameter of {owner} must accept a float64 ndarray. "
                    f"Calling it on an array raised {type(exc).__name__}: {exc}."
                ) from exc
            if out.shape != probe.shape or out.dtype.kind not in "biuf":
                raise InvalidParameterError(
                    f"The {label!r} parameter of {owner} must be vectorized: an array of shape "
                    f"{probe.shape} in, a real array of the same shape out. Got "
                    f"shape {out.shape} and dtype {out.dtype} instead."
                )
        fd1 = d1 if d1 is not None else functools.partial(_central_d1, func)
        fd2 = d2 if d2 is not None else functools.partial(_central_d2, func)
        how = "given" if d1 is not None else "central differences"
        return cls(
            func,
            fd1,
            fd2,
            name=name,
            formula=f"user function {getattr(func, '__name__', 'f')} (derivatives: {how})",
            mp_func=mp_func,
            kernel_code=-1,
            kernel_params=np.array([1.0, 0.0]),
            kinks=kinks,
        )

    # equality by content for presets/Hermite sums, identity otherwise
    def __eq__(self, other):
        if not isinstance(other, Activation):
            return NotImplemented
        if self is other:
            return True
        if self.kernel_code == -1 or other.kernel_code == -1:
            return False
        return (
            self.kernel_code == other.kernel_code
            and self.kernel_params.shape == other.kernel_params.shape
            and bool(np.all(self.kernel_params == other.kernel_params))
        )

    def __hash__(self):
        if self.kernel_code == -1:
            return id(self)
        return hash((self.kernel_code, self.kernel_params.tobytes()))


# --------------------------------------------------------------------------------------------
# Presets
# --------------------------------------------------------------------------------------------
def _make_hermite_sum(coeffs: np.ndarray, *, name: str, formula: str) -> Activation:
    coeffs = np.trim_zeros(np.asarray(coeffs, dtype=np.float64), "b")
    if coeffs.size == 0:
        coeffs = np.zeros(1)
    c1 = _hermite_series_derivative(coeffs)
    c2 = _hermite_series_derivative(c1)
    mu = coeffs.copy()  # sum_k c_k He_k has mu_k = c_k exactly
    mp_coeffs = tuple(float(c) for c in coeffs)
    return Activation(
        functools.partial(_hermite_series, coeffs=coeffs),
        functools.partial(_hermite_series, coeffs=c1),
        functools.partial(_hermite_series, coeffs=c2),
        name=name,
        formula=formula,
        mp_func=functools.partial(_mp_hermite_series, mp_coeffs),
        kernel_code=8,
        kernel_params=np.concatenate([[1.0, 0.0], coeffs]),
        exact_hermite=mu,
    )


def hermite_sum(coefficients, *, name: str | None = None) -> Activation:
    r"""Build :math:`\sigma(x) = \sum_k c_k \mathrm{He}_k(x)` (probabilists' Hermite polynomials).

    Its Hermite coefficients are exactly :math:`\mu_k = c_k` (no quadrature), and
    :math:`\mathbb{E}\sigma^2 = \sum_k k!\,c_k^2`.

    Parameters
    ----------
    coefficients : mapping {int: float} or sequence of float
        ``{1: 1.0, 2: 2**-0.5}`` or ``[c_0, c_1, ..., c_K]``; degrees ``0 <= k <= 100``.
    name : str, optional
        Label; by default built from the coefficients.

    Examples
    --------
    >>> teacher = hermite_sum({1: 1.0, 2: 2**-0.5})   # He_1 + He_2 / sqrt(2)
    >>> teacher.hermite(3)
    array([0.        , 1.        , 0.70710678, 0.        ])
    """
    owner = "hermite_sum"
    if isinstance(coefficients, Mapping):
        if not coefficients:
            raise InvalidParameterError(
                f"The 'coefficients' parameter of {owner} must be a non-empty mapping "
                f"{{degree: coefficient}} or sequence. Got {coefficients!r} instead."
            )
        degrees = [
            check_scalar(k, "coefficients (degree)", owner, kind="int", lower=0, upper=_MAX_K)
            for k in coefficients
        ]
        coeffs = np.zeros(max(degrees) + 1)
        for k, c in zip(degrees, coefficients.values(), strict=True):
            coeffs[k] = check_scalar(c, "coefficients", owner)
    else:
        if isinstance(coefficients, str | bytes) or not isinstance(
            coefficients, Sequence | np.ndarray
        ):
            raise InvalidParameterError(
                f"The 'coefficients' parameter of {owner} must be a mapping {{degree: "
                f"coefficient}} or a sequence of floats. Got {coefficients!r} instead."
            )
        if len(coefficients) == 0 or len(coefficients) > _MAX_K + 1:
            raise InvalidParameterError(
                f"The 'coefficients' parameter of {owner} must have between 1 and "
                f"{_MAX_K + 1} entries. Got {len(coefficients)} instead."
            )
        coeffs = np.array([check_scalar(c, "coefficients", owner) for c in coefficients])
    if name is None:
        terms = [f"{c:g}*He{k}" for k, c in enumerate(coeffs) if c != 0]
        name = " + ".join(terms) if terms else "0"
    elif not isinstance(name, str):
        raise InvalidParameterError(
            f"The 'name' parameter of {owner} must be a str. Got {name!r} instead."
        )
    formula = "sum_k c_k He_k(x), c = " + np.array2string(coeffs, precision=6)
    return _make_hermite_sum(coeffs, name=name, formula=formula)


@dataclass(frozen=True)
class _Base:
    """One row of the activation table: a base function known to the Numba kernels."""

    code: int
    name: str
    formula: str
    tex: str
    func: Callable
    d1: Callable
    d2: Callable
    mp_func: Callable
    numba: _Scalar
    kinks: tuple = ()
    exact_hermite: tuple | None = None


#: The one table of base functions. It generates the presets, :data:`KERNEL_CODES`, the table
#: of the module docstring and the Numba dispatch of ``spikewise.spectra._kernels`` (from the
#: ``numba`` scalar formulas): adding an activation is adding a row here.
_BASES = (
    _Base(0, "linear", "x", r":math:`x`", _linear, _ones, _zeros, _mp_linear,
          _Scalar(_sc_identity, _sc_one, _sc_zero), exact_hermite=(0.0, 1.0)),
    _Base(1, "relu", "max(x, 0)", r":math:`\max(x, 0)`", _relu, _relu_d1, _zeros, _mp_relu,
          _Scalar(_sc_relu, _sc_relu_d1, _sc_zero), kinks=(0.0,)),
    _Base(2, "tanh", "tanh(x)", r":math:`\tanh x`", np.tanh, _tanh_d1, _tanh_d2, mpmath.tanh,
          _Scalar(_sc_tanh, _sc_tanh_d1, _sc_tanh_d2)),
    _Base(3, "erf", "erf(x)", r":math:`\operatorname{erf} x`", _sp_erf, _erf_d1, _erf_d2,
          mpmath.erf, _Scalar(_sc_erf, _sc_erf_d1, _sc_erf_d2)),
    _Base(4, "sigmoid", "1 / (1 + exp(-x))", r":math:`1 / (1 + e^{-x})`", _sp_expit,
          _sigmoid_d1, _sigmoid_d2, _mp_sigmoid,
          _Scalar(_sc_logistic, _sc_logistic_d1, _sc_logistic_d2)),
    _Base(5, "softplus", "log(1 + exp(x))", r":math:`\log(1 + e^{x})`", _softplus, _sp_expit,
          _sigmoid_d1, _mp_softplus, _Scalar(_sc_softplus, _sc_logistic, _sc_logistic_d1)),
    _Base(6, "gelu", "x * Phi(x), Phi the normal cdf",
          r":math:`x \Phi(x)`, :math:`\Phi` the normal cdf", _gelu, _gelu_d1, _gelu_d2,
          _mp_gelu, _Scalar(_sc_gelu, _sc_gelu_d1, _sc_gelu_d2)),
    _Base(7, "sin", "sin(x)", r":math:`\sin x`", np.sin, np.cos, _neg_sin, mpmath.sin,
          _Scalar(_sc_sin, _sc_cos, _sc_neg_sin)),
)
_BY_NAME = {b.name: b for b in _BASES}
#: Code of the Hermite sums (``he1``..``he8``, :func:`hermite_sum`), whose coefficients are
#: passed to the kernels in ``kernel_params[2:]``.
_HERMITE_CODE = 8
_HERMITE_MAX = 8

#: The Numba path of every kernel code, built from the table: ``{code: _Scalar}``.
_KERNEL_SCALARS = {
    **{b.code: b.numba for b in _BASES},
    _HERMITE_CODE: _Scalar(_sc_hermite, _sc_hermite_d1, _sc_hermite_d2),
}

#: Base functions understood by the Numba kernels: ``sigma(x) = p[0] * base(x) + p[1]``.
KERNEL_CODES = {
    -1: "custom (no Numba path)",
    **{b.code: f"{b.name} {b.formula}" for b in _BASES},
    _HERMITE_CODE: "Hermite sum sum_k p[2+k] He_k(x)",
}


def _build_preset(name: str) -> Activation:
    base = _BY_NAME.get(name)
    if base is not None:
        return Activation(
            base.func,
            base.d1,
            base.d2,
            name=base.name,
            formula=base.formula,
            mp_func=base.mp_func,
            kernel_code=base.code,
            kinks=base.kinks,
            exact_hermite=None if base.exact_hermite is None else np.array(base.exact_hermite),
        )
    if name == "relu_centred":
        act = get_activation("relu").affine(1.0, -_INV_SQRT_2PI, name="relu_centred")
        act.formula = "max(x, 0) - 1/sqrt(2 pi)"
        return act
    k = int(name[2:])  # "he1".."he8"
    coeffs = np.zeros(k + 1)
    coeffs[k] = 1.0
    return _make_hermite_sum(coeffs, name=name, formula=f"He_{k}(x) (probabilists')")


_PRESET_NAMES = (
    ("relu", "relu_centred")
    + tuple(b.name for b in _BASES if b.name not in ("relu", "linear"))
    + ("linear",)
    + tuple(f"he{k}" for k in range(1, _HERMITE_MAX + 1))
)
_ALIASES = {"centred_relu": "relu_centred"}

#: Names accepted by :func:`get_activation` (aliases included).
ACTIVATION_NAMES = _PRESET_NAMES + tuple(_ALIASES)

_PRESETS: dict[str, Activation] = {}


def get_activation(spec) -> Activation:
    """Return an :class:`Activation` from a preset name, or ``spec`` itself if it is one.

    Parameters
    ----------
    spec : str or Activation
        One of ``ACTIVATION_NAMES`` ("relu", "relu_centred" (alias "centred_relu"), "tanh",
        "erf", "sigmoid", "softplus", "gelu", "sin", "linear", "he1".."he8"), case-insensitive,
        or an :class:`Activation`.

    Returns
    -------
    Activation
        Presets are shared singletons, so their cached Hermite coefficients are shared too.

    Raises
    ------
    InvalidParameterError
        For an unknown name, listing the options.
    """
    if isinstance(spec, Activation):
        return spec
    key = spec.lower().strip() if isinstance(spec, str) else spec
    key = _ALIASES.get(key, key) if isinstance(key, str) else key
    if not isinstance(key, str) or key not in _PRESET_NAMES:
        shown = "{" + ", ".join(repr(o) for o in ACTIVATION_NAMES) + "}"
        raise InvalidParameterError(
            f"The 'spec' parameter of get_activation must be an Activation or one of {shown}. "
            f"Got {spec!r} instead."
        )
    act = _PRESETS.get(key)
    if act is None:
        act = _build_preset(key)
        _PRESETS[key] = act
    return act


def _preset_table() -> str:
    rows = [(f'``"{b.name}"``', b.tex, str(b.code), ", ".join(f"{k:g}" for k in b.kinks))
            for b in _BASES if b.name != "linear"]
    rows.insert(1, ('``"relu_centred"``', r":math:`\max(x, 0) - 1/\sqrt{2\pi}`", "1", "0"))
    rows.append(('``"linear"``', ":math:`x`", "0", ""))
    rows.append((f'``"he1"``..``he{_HERMITE_MAX}``',
                 r":math:`\mathrm{He}_k(x)` (probabilists')", str(_HERMITE_CODE), ""))
    head = ("name", "formula", "code", "kinks")
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(4)]
    rule = "  ".join("=" * w for w in widths)

    def line(r):
        return "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()

    return "\n".join([rule, line(head), rule, *map(line, rows), rule])


if __doc__:  # None under python -OO
    __doc__ = __doc__.replace("{preset_table}", _preset_table())
