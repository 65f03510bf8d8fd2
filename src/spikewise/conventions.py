r"""The one convention of spikewise, and converters from the papers' conventions.

The convention
--------------
Every function of spikewise uses these variables and scalings.

* Data: inputs :math:`X \in \mathbb{R}^{n \times d}` with i.i.d. rows :math:`x_i \sim
  \mathcal{N}(0, I_d)`; a single-index teacher :math:`y = \sigma_\star(X\beta) + \varepsilon`
  with :math:`\|\beta\| = 1` and :math:`\varepsilon \sim \mathcal{N}(0, \text{noise}^2 I_n)`.
* First layer :math:`W \in \mathbb{R}^{d \times N}`: one *column* per neuron, entries
  :math:`\mathcal{N}(0, 1/d)` at initialization.
* Second layer :math:`a \in \mathbb{R}^N`: entries :math:`\mathcal{N}(0, 1/N)` (or
  :math:`\pm 1/\sqrt N`, or the constant :math:`1/\sqrt N`); it is held fixed while the first
  layer moves.
* Network :math:`f(x) = a^\top \sigma(W^\top x) / \sqrt N`.
* Loss :math:`L(W) = \frac{1}{2n} \sum_{i=1}^n (f(x_i) - y_i)^2`.
* Gradient step :math:`W_1 = W_0 - \eta \sqrt N \, \nabla_W L(W_0)`, that is

  .. math::

      W_1 = W_0 + \frac{\eta}{n} X^\top \Big[ \big((y - f(X))\, a^\top\big) \odot
      \sigma'(X W_0) \Big]

  (the :math:`\sqrt N` of the step cancels the :math:`1/\sqrt N` of the output). Its
  rank-one part is :math:`\eta\,\mu_1 X^\top y\, a^\top / n` (Ba et al. 2022).
* Learning-rate law :math:`\eta = \eta_0 N^\alpha`; ratios :math:`\psi = n/d`,
  :math:`\phi = N/d`.
* Ridge on the features :math:`F = \sigma(X W) \in \mathbb{R}^{n \times N}` (possibly a fresh
  sample of size ``n_ridge``):

  .. math::

      \hat a = \arg\min_a \frac1n \|y - F a/\sqrt N\|^2 + \frac{\lambda}{N}\|a\|^2,
      \qquad \hat b = \hat a/\sqrt N = (F^\top F/n + \lambda I_N)^{-1} F^\top y / n,

  with predictions :math:`F\hat b`. Here :math:`\lambda` multiplies the *normalized* loss; it
  is not divided by :math:`n` again. A paper writing :math:`(F^\top F + \lambda' I)^{-1}` has
  :math:`\lambda' = n\lambda`.

Presets
-------
:func:`get_preset` returns a frozen :class:`ConventionPreset` whose
:meth:`~ConventionPreset.to_ours` and :meth:`~ConventionPreset.from_ours` convert
parameters exactly (the gradient step and the ridge fit are then identical, which the tests
check to 1e-12). Parameter names of ours:
``n`` (batch of the step), ``n_ridge`` (samples of the ridge fit), ``d``, ``N``, ``eta``,
``eta0`` and ``alpha`` (:math:`\eta = \eta_0 N^\alpha`), ``lam``, ``W`` (d x N), ``a`` (N,).

Summary of the presets (paper parameter -> ours):

* ``ba2022`` (Ba et al. 2022): same layout, output, ``a`` and loss as ours; ``eta`` and
  ``lam`` are identical.
* ``moniri2023`` (Moniri et al. 2023): Ba et al.'s variables; ``eta`` identical; their law
  :math:`\eta = \eta_c n^\alpha` becomes :math:`\eta_0 = \eta_c (n/N)^\alpha`, same
  :math:`\alpha`; ``lam`` identical.
* ``dandi2023`` (Dandi et al. 2023, GiantStep code): ``W`` stored p x d (transposed),
  :math:`\eta_{ours} = \eta/\sqrt p`, :math:`\lambda_{ours} = \lambda p / n_{ridge}`.
* ``cui2024`` (Cui et al. 2024, OneStepGD_asymptotics code): ``W`` stored p x d with unit-norm
  rows, constant :math:`a = 1/\sqrt p`, :math:`\eta_{ours} = \tilde\eta \sqrt p`,
  :math:`\lambda_{ours} = \lambda p / n` (their ``n`` is the ridge sample, their ``n0``
  the step batch).

All four write the same network function as ours (same :math:`a`, same :math:`1/\sqrt N`), so
``a`` is passed through unchanged and ``W`` is transposed where the paper stores it p x d.
Details, the sources read and what cannot be converted are in each preset's ``notes``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from spikewise._validation import (
    InvalidParameterError,
    check_array,
    check_option,
    check_rng,
    check_scalar,
)

__all__ = [
    "ConventionPreset",
    "PRESETS",
    "OUR_KEYS",
    "get_preset",
    "learning_rate",
    "Sizes",
    "Step",
    "StepSchedule",
    "BATCHES",
]

#: Parameter names of our convention accepted by :meth:`ConventionPreset.from_ours`.
OUR_KEYS = ("n", "n_ridge", "d", "N", "eta", "eta0", "alpha", "lam", "W", "a")

#: Batch policies of a gradient step: a new sample, or the previous step's sample again.
BATCHES = ("fresh", "reuse")
_LOG_MAX_FLOAT = math.log(np.finfo(np.float64).max)


def learning_rate(eta0: float, *, N: int, alpha: float = 0.0) -> float:
    r"""Our learning-rate law :math:`\eta = \eta_0 N^\alpha`.

    Same signature and result as :func:`spikewise.spectra.steps.learning_rate`.

    Parameters
    ----------
    eta0 : float
        Prefactor, >= 0.
    N : int
        Width, >= 1.
    alpha : float, default 0
        Exponent (Moniri et al. 2023 use :math:`\alpha \in [0, 1/2)`; the maximal step of
        Dandi et al. 2023 / Cui et al. 2024 is :math:`\alpha = 1/2`).

    Returns
    -------
    float
        :math:`\eta`.
    """
    owner = "learning_rate"
    eta0 = check_scalar(eta0, "eta0", owner, lower=0.0)
    N = check_scalar(N, "N", owner, kind="int", lower=1)
    alpha = check_scalar(alpha, "alpha", owner)
    # log eta = log eta0 + alpha log N must stay below the largest double's log
    if eta0 > 0 and N > 1 and math.log(eta0) + alpha * math.log(N) > _LOG_MAX_FLOAT:
        top = (_LOG_MAX_FLOAT - math.log(eta0)) / math.log(N)
        raise InvalidParameterError(
            f"The 'alpha' parameter of {owner} must be <= {top:.6g} for eta0={eta0!r} and "
            f"N={N} (eta = eta0 * N**alpha overflows a double, 1.8e308, beyond). Got "
            f"{alpha!r} instead."
        )
    return eta0 * float(N) ** alpha


@dataclass(frozen=True)
class Sizes:
    r"""Problem sizes: samples ``n``, input dimension ``d``, width ``N`` and their ratios.

    :math:`\psi = n/d` and :math:`\phi = N/d` always hold. Build it with :meth:`from_any`
    from any consistent subset; ``n, d, N`` stay ``None`` when only ratios are known
    (proportional limit), and are floats when derived from ratios (the finite-size theory
    evaluates its formulas at ``d = n/psi``, ``N = phi d`` without rounding).

    Attributes
    ----------
    psi, phi : float
        :math:`n/d` and :math:`N/d`.
    n, d, N : int, float or None
        The sizes, when known.

    Examples
    --------
    >>> from spikewise.conventions import Sizes
    >>> Sizes.from_any(n=2000, psi=2.0, phi=1.5)
    Sizes(psi=2.0, phi=1.5, n=2000, d=1000.0, N=1500.0)
    >>> Sizes.from_any(n=400, d=200, N=300).phi
    1.5
    """

    psi: float
    phi: float
    n: float | None = None
    d: float | None = None
    N: float | None = None

    @classmethod
    def from_any(cls, *, n=None, d=None, N=None, psi=None, phi=None,
                 owner: str = "Sizes") -> Sizes:
        """Complete and check sizes given as any consistent subset of ``n, d, N, psi, phi``.

        Parameters
        ----------
        n, d, N : int or float, optional
            Sizes (> 0).
        psi, phi : float, optional
            Ratios ``n/d`` and ``N/d`` (> 0).
        owner : str
            Name of the calling function, for error messages.

        Returns
        -------
        Sizes

        Raises
        ------
        InvalidParameterError
            A value is not a positive number, the subset does not determine ``psi`` and
            ``phi``, or the given values contradict each other (relative 1e-9).
        """
        vals = {}
        for key, v in (("n", n), ("d", d), ("N", N), ("psi", psi), ("phi", phi)):
            if v is not None:
                checked = check_scalar(v, key, owner, lower=0.0, lower_inclusive=False)
                v = int(v) if isinstance(v, numbers.Integral) else checked
            vals[key] = v
        n, d, N, psi, phi = (vals[k] for k in ("n", "d", "N", "psi", "phi"))
        if d is None:
            if n is not None and psi is not None:
                d = n / psi
            elif N is not None and phi is not None:
                d = N / phi
        if d is not None:
            n = psi * d if n is None and psi is not None else n
            N = phi * d if N is None and phi is not None else N
            psi = n / d if psi is None and n is not None else psi
            phi = N / d if phi is None and N is not None else phi
        if psi is None or phi is None:
            given = ", ".join(f"{k}={v!r}" for k, v in vals.items() if v is not None)
            raise InvalidParameterError(
                f"The sizes given to {owner} must determine psi = n/d and phi = N/d (e.g. "
                f"n, d, N; or psi, phi; or n, psi, phi). Got {given or 'nothing'} instead."
            )
        if d is not None:
            for key, ratio, size in (("psi", psi, n), ("phi", phi, N)):
                if not math.isclose(ratio * d, size, rel_tol=1e-9):
                    raise InvalidParameterError(
                        f"The {key!r} parameter of {owner} must equal "
                        f"{'n' if key == 'psi' else 'N'}/d = {size / d!r}. Got {ratio!r} "
                        "instead."
                    )
        return cls(psi=psi, phi=phi, n=n, d=d, N=N)

    @classmethod
    def integers(cls, *, d=None, N=None, n=None, psi=None, phi=None, min_n: int = 1,
                 min_d: int = 1, min_N: int = 1, owner: str = "Sizes") -> Sizes:
        """Integer sizes for a simulation, from ``d`` or ``N`` and the ratios.

        The rounding is Python's :func:`round` (to the nearest integer, ties to even), each
        size clipped below at its ``min_*``. From ``d``: ``d = round(d)``, ``n = round(psi d)``,
        ``N = round(phi d)``. From ``N`` alone (``d`` not given): ``N = round(N)``,
        ``d = round(N / phi)`` and ``n = round(psi N / phi)``, computed in that order (so
        that ``n`` does not inherit the rounding of ``d``). A size given directly is kept.

        Parameters
        ----------
        d, N : int or float, optional
            Input dimension, or else the width; one of them is required.
        n : int, optional
            Samples, in place of ``psi``.
        psi, phi : float, optional
            Ratios ``n/d`` and ``N/d`` (> 0), for the sizes not given.
        min_n, min_d, min_N : int
            Smallest value of each size after rounding.
        owner : str
            Name of the calling function, for error messages.

        Returns
        -------
        Sizes
            With integer ``n, d, N``; ``psi`` and ``phi`` are the ratios of those integers.

        Raises
        ------
        InvalidParameterError
            Neither ``d`` nor ``N`` is given, a ratio a size needs is missing, or a value is
            not a positive number.

        Examples
        --------
        >>> Sizes.integers(d=100, psi=2.5, phi=0.333)
        Sizes(psi=2.5, phi=0.33, n=250, d=100, N=33)
        >>> Sizes.integers(N=401.7, psi=1.0, phi=2.0, min_d=2)
        Sizes(psi=1.0, phi=2.0, n=201, d=201, N=402)
        """
        def ratio(value, name, needed_for):
            if value is None:
                raise InvalidParameterError(
                    f"The {name!r} parameter of {owner} is needed for {needed_for} (not given). "
                    f"Got {name}=None instead."
                )
            return check_scalar(value, name, owner, lower=0.0, lower_inclusive=False)

        if d is not None:
            d = max(min_d, round(check_scalar(d, "d", owner, lower=0.0, lower_inclusive=False)))
            if n is None:
                n = max(min_n, round(ratio(psi, "psi", "n") * d))
            if N is None:
                N = max(min_N, round(ratio(phi, "phi", "N") * d))
        elif N is not None:
            N = max(min_N, round(check_scalar(N, "N", owner, lower=0.0, lower_inclusive=False)))
            phi = ratio(phi, "phi", "d")
            d = max(min_d, round(N / phi))
            if n is None:
                n = max(min_n, round(ratio(psi, "psi", "n") * N / phi))
        else:
            raise InvalidParameterError(
                f"The sizes given to {owner} must include 'd' or 'N'. Got neither instead."
            )
        return cls.from_any(n=n, d=d, N=N, owner=owner)


@dataclass(frozen=True)
class Step:
    r"""One full-batch gradient step on the first layer.

    The learning rate is :math:`\eta = \eta_0 N^\alpha` (:func:`learning_rate`); ``batch``
    says which sample the step uses: ``"fresh"`` a new one, ``"reuse"`` the previous
    step's again (for the first step both mean the first sample).

    Parameters
    ----------
    eta0 : float, default 1.0
        Learning-rate prefactor, >= 0.
    alpha : float, default 0.0
        Learning-rate exponent.
    batch : {"fresh", "reuse"}, default "fresh"
    """

    eta0: float = 1.0
    alpha: float = 0.0
    batch: str = "fresh"

    def __post_init__(self):
        object.__setattr__(self, "eta0", check_scalar(self.eta0, "eta0", "Step", lower=0.0))
        object.__setattr__(self, "alpha", check_scalar(self.alpha, "alpha", "Step"))
        check_option(self.batch, "batch", "Step", BATCHES)

    def learning_rate(self, N) -> float:
        r""":math:`\eta = \eta_0 N^\alpha` at width ``N``."""
        return learning_rate(self.eta0, N=N, alpha=self.alpha)


@dataclass(frozen=True)
class StepSchedule:
    """A training protocol: the sequence of gradient steps on the first layer.

    Parameters
    ----------
    steps : sequence of Step
        At least one step.

    Examples
    --------
    >>> from spikewise.conventions import Step, StepSchedule
    >>> s = StepSchedule.repeat(3, eta0=0.5, alpha=0.25, batch="reuse")
    >>> len(s), s.learning_rates(16)
    (3, (1.0, 1.0, 1.0))
    """

    steps: tuple

    def __post_init__(self):
        steps = tuple(self.steps) if not isinstance(self.steps, Step) else (self.steps,)
        if not steps or not all(isinstance(st, Step) for st in steps):
            raise InvalidParameterError(
                "The 'steps' parameter of StepSchedule must be a non-empty sequence of Step. "
                f"Got {self.steps!r} instead."
            )
        object.__setattr__(self, "steps", steps)

    @classmethod
    def repeat(cls, T: int, *, eta0: float = 1.0, alpha: float = 0.0,
               batch: str = "fresh") -> StepSchedule:
        """``T`` identical steps.

        Parameters
        ----------
        T : int
            Number of steps, >= 1.
        eta0, alpha, batch
            As in :class:`Step`.

        Returns
        -------
        StepSchedule
        """
        T = check_scalar(T, "T", "StepSchedule.repeat", kind="int", lower=1)
        return cls(tuple(Step(eta0, alpha, batch) for _ in range(T)))

    def __len__(self) -> int:
        return len(self.steps)

    def __iter__(self):
        return iter(self.steps)

    def __getitem__(self, index) -> Step:
        return self.steps[index]

    def learning_rates(self, N) -> tuple:
        """The learning rate of every step at width ``N``."""
        return tuple(st.learning_rate(N) for st in self.steps)


# --------------------------------------------------------------------------------------------
# conversion rules
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Rule:
    """Maps one paper parameter to one of ours.

    ``fwd(value, ctx)`` gives ours from the paper's, ``bwd(value, ctx)`` the reverse; ``ctx``
    holds our sizes (and ``alpha``) already converted. ``needs`` lists the keys of ``ctx``
    the rule uses; ``kind`` selects the validation.
    """

    paper: str
    ours: str
    kind: str  # "size", "exponent", "nonneg", "W_dN", "W_pd", "a"
    fwd: Callable | None = None
    bwd: Callable | None = None
    needs: tuple[str, ...] = ()


def _identity(value, ctx):
    return value


def _size(paper: str, ours: str) -> _Rule:
    return _Rule(paper, ours, "size")


def _same(name: str, kind: str = "nonneg") -> _Rule:
    return _Rule(name, name, kind, _identity, _identity)


def _ridge_n(ctx) -> int:
    return ctx["n_ridge"] if "n_ridge" in ctx else ctx["n"]


@dataclass(frozen=True)
class ConventionPreset:
    """A paper's convention and exact converters to ours (frozen).

    Attributes
    ----------
    key : str
        Name used by :func:`get_preset`.
    citation : str
        The paper (and code) the preset follows.
    output : str
        The network function in the paper's variables.
    a_scaling : str
        Initialization of the second layer.
    W_layout : str
        Shape and initialization of the first layer.
    loss : str
        Training loss and the gradient used for the step.
    eta_rule : str
        The paper's learning rate and its value in ours.
    lam_rule : str
        The paper's ridge penalty and its value in ours.
    where : str
        Where in the paper (sections/equations) or code these facts are stated.
    notes : str
        What is converted, what cannot be, and how each fact was checked.
    paper_keys : tuple of str
        Parameter names accepted by :meth:`to_ours`.
    """

    key: str
    citation: str
    output: str
    a_scaling: str
    W_layout: str
    loss: str
    eta_rule: str
    lam_rule: str
    where: str
    notes: str
    rules: tuple = field(repr=False)
    init: Callable = field(repr=False)

    @property
    def paper_keys(self) -> tuple[str, ...]:
        return tuple(r.paper for r in self.rules)

    @property
    def our_keys(self) -> tuple[str, ...]:
        return tuple(r.ours for r in self.rules)

    # ---------------------------------------------------------------- validation
    def _check_value(self, rule: _Rule, name: str, value, owner: str):
        kind = rule.kind
        if kind == "size":
            return check_scalar(value, name, owner, kind="int", lower=1)
        if kind == "exponent":
            return check_scalar(value, name, owner)
        if kind == "nonneg":
            return check_scalar(value, name, owner, lower=0.0)
        if kind in ("W_dN", "W_pd"):
            return check_array(value, name, owner, ndim=2)
        if kind == "a":
            return check_array(value, name, owner, ndim=1)
        raise AssertionError(kind)  # pragma: no cover

    def _convert(self, params: Mapping, direction: str) -> dict:
        to_ours = direction == "to_ours"
        owner = f"ConventionPreset({self.key!r}).{direction}"
        src = {r.paper if to_ours else r.ours: r for r in self.rules}
        unknown = [k for k in params if k not in src]
        if unknown:
            shown = "{" + ", ".join(repr(k) for k in src) + "}"
            raise InvalidParameterError(
                f"The parameter {unknown[0]!r} is not known to {owner}; the accepted "
                f"names are {shown}."
            )
        checked = {
            name: self._check_value(src[name], name, value, owner) for name, value in params.items()
        }
        out: dict = {}
        ctx: dict = {}  # our sizes and alpha
        # sizes and exponents first: the other rules depend on them
        for name, value in checked.items():
            rule = src[name]
            if rule.kind in ("size", "exponent"):
                target = rule.ours if to_ours else rule.paper
                out[target] = value
                ctx[rule.ours] = value
        for name, value in checked.items():
            rule = src[name]
            if rule.kind in ("size", "exponent"):
                continue
            missing = [k for k in rule.needs if not any(o in ctx for o in k.split("|"))]
            if missing:
                back = {r.ours: (r.paper if to_ours else r.ours) for r in self.rules}
                names = [" or ".join(repr(back.get(m, m)) for m in k.split("|")) for k in missing]
                raise InvalidParameterError(
                    f"The parameter {name!r} of {owner} needs {', '.join(names)} to be given "
                    f"as well (the conversion depends on it)."
                )
            if rule.kind in ("W_dN", "W_pd"):
                value = self._convert_W(rule, name, value, owner, ctx, to_ours)
                target = rule.ours if to_ours else rule.paper
                out[target] = value
                continue
            if rule.kind == "a":
                N = ctx.get("N")
                if N is not None and value.shape[0] != N:
                    raise InvalidParameterError(
                        f"The {name!r} parameter of {owner} must have length N = {N}. "
                        f"Got shape {value.shape} instead."
                    )
                out[rule.ours if to_ours else rule.paper] = value.copy()
                continue
            fn = rule.fwd if to_ours else rule.bwd
            out[rule.ours if to_ours else rule.paper] = float(fn(value, ctx))
        return out

    def _convert_W(self, rule: _Rule, name: str, W: np.ndarray, owner: str, ctx, to_ours):
        # shape of the input in the source convention
        d, N = ctx.get("d"), ctx.get("N")
        paper_pd = rule.kind == "W_pd"
        src_is_pd = paper_pd and to_ours
        want = (N, d) if src_is_pd else (d, N)
        layout = "p x d (rows are neurons)" if src_is_pd else "d x N (columns are neurons)"
        for got, exp in zip(W.shape, want, strict=True):
            if exp is not None and got != exp:
                raise InvalidParameterError(
                    f"The {name!r} parameter of {owner} must be {layout} with shape "
                    f"{tuple('any' if e is None else e for e in want)}. Got shape {W.shape} "
                    f"instead."
                )
        return np.ascontiguousarray(W.T if paper_pd else W).copy()

    # ---------------------------------------------------------------- public API
    def to_ours(self, **paper_params) -> dict:
        """Convert the paper's parameters to ours.

        Parameters
        ----------
        **paper_params
            Any subset of :attr:`paper_keys`. Scalars that depend on sizes (e.g. ``eta`` of
            ``dandi2023`` needs ``p``) require those sizes too.

        Returns
        -------
        dict
            Our parameters (names in ``OUR_KEYS``); arrays are copies in our layout
            (``W`` is d x N).
        """
        return self._convert(paper_params, "to_ours")

    def from_ours(self, **ours) -> dict:
        """Convert our parameters to the paper's (inverse of :meth:`to_ours`).

        Parameters
        ----------
        **ours
            Any subset of :attr:`our_keys` (a subset of ``OUR_KEYS``).

        Returns
        -------
        dict
            The paper's parameters (``W`` in the paper's layout).
        """
        return self._convert(ours, "from_ours")

    def initialize(self, d: int, N: int, *, rng=None) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``(W0, a0)`` as the paper does, returned in OUR layout (W0 is d x N).

        Parameters
        ----------
        d, N : int
            Input dimension and width (the paper's p), >= 1.
        rng : None, int, SeedSequence or Generator
            Randomness, through :func:`numpy.random.default_rng`.
        """
        owner = f"ConventionPreset({self.key!r}).initialize"
        d = check_scalar(d, "d", owner, kind="int", lower=1)
        N = check_scalar(N, "N", owner, kind="int", lower=1)
        return self.init(d, N, check_rng(rng, owner))

    def describe(self) -> str:
        """A plain-text summary (the fields above, one per line)."""
        lines = [f"{self.key}: {self.citation}"]
        for label in (
            "output",
            "a_scaling",
            "W_layout",
            "loss",
            "eta_rule",
            "lam_rule",
            "where",
            "notes",
        ):
            lines.append(f"  {label}: {getattr(self, label)}")
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# initializations (our layout)
# --------------------------------------------------------------------------------------------
def _init_gaussian(d: int, N: int, rng: np.random.Generator):
    W = rng.standard_normal((d, N)) / math.sqrt(d)
    a = rng.standard_normal(N) / math.sqrt(N)
    return W, a


def _init_gaussian_pd(d: int, N: int, rng: np.random.Generator):
    # drawn p x d as GiantStep does, then transposed to our d x N
    W = np.ascontiguousarray((rng.standard_normal((N, d)) / math.sqrt(d)).T)
    a = rng.standard_normal(N) / math.sqrt(N)
    return W, a


def _init_cui(d: int, N: int, rng: np.random.Generator):
    W = rng.standard_normal((N, d)) / math.sqrt(d)
    W = W / np.linalg.norm(W, axis=1, keepdims=True)
    return np.ascontiguousarray(W.T), np.full(N, 1.0 / math.sqrt(N))


# --------------------------------------------------------------------------------------------
# the presets
# --------------------------------------------------------------------------------------------
def _common_ba_rules() -> tuple[_Rule, ...]:
    return (
        _size("n", "n"),
        _size("n_ridge", "n_ridge"),
        _size("d", "d"),
        _size("N", "N"),
        _same("eta"),
        _same("lam"),
        _Rule("W", "W", "W_dN"),
        _Rule("a", "a", "a"),
    )


_OURS = ConventionPreset(
    key="ours",
    citation="spikewise (this package)",
    output="f(x) = a^T sigma(W^T x) / sqrt(N)",
    a_scaling="N(0, 1/N) (or +-1/sqrt(N), or 1/sqrt(N))",
    W_layout="d x N, columns are neurons, entries N(0, 1/d)",
    loss="(1/(2n)) sum_i (f(x_i) - y_i)^2; W1 = W0 - eta sqrt(N) grad_W L",
    eta_rule="eta = eta0 N^alpha",
    lam_rule="min (1/n)||y - F a/sqrt(N)||^2 + (lam/N)||a||^2",
    where="spikewise.conventions module docstring",
    notes="Identity converter, for symmetry.",
    rules=(
        _size("n", "n"),
        _size("n_ridge", "n_ridge"),
        _size("d", "d"),
        _size("N", "N"),
        _Rule("alpha", "alpha", "exponent"),
        _same("eta"),
        _same("eta0"),
        _same("lam"),
        _Rule("W", "W", "W_dN"),
        _Rule("a", "a", "a"),
    ),
    init=_init_gaussian,
)

_BA = ConventionPreset(
    key="ba2022",
    citation=(
        "Ba, Erdogdu, Suzuki, Wang, Wu, Yang (2022), High-dimensional asymptotics of feature "
        "learning: how one gradient step improves the representation, NeurIPS 2022, "
        "arXiv:2205.01445"
    ),
    output="f(x) = a^T sigma(W^T x) / sqrt(N) (same as ours)",
    a_scaling="a_i ~ N(0, 1/N) (same as ours)",
    W_layout="W in R^{d x N}, entries N(0, 1/d) (same as ours)",
    loss=(
        "MSE; step W1 = W0 + eta sqrt(N) G0 with "
        "G0 = (1/n) X^T [((1/sqrt(N)) (y - f(X)) a^T) * sigma'(X W0)]"
    ),
    eta_rule="eta_ours = eta (small-step regime eta = Theta(1), large-step eta ~ sqrt(N))",
    lam_rule="lam_ours = lam (penalty (lam/N)||a||^2 on the 1/n-normalized loss)",
    where=(
        "abstract (network, W in R^{d x N}); Sec. 2 'Problem setup' (initialization, the step "
        "W1 = W0 + eta sqrt(N) G0, ridge on the conjugate kernel); Prop. 2 (rank-one G0 ~ "
        "mu_1 X^T y a^T / (n sqrt N)); equation numbers not re-checked here"
    ),
    notes=(
        "Our convention was written in Ba et al.'s variables, so the converter is the "
        "identity. Caveat: the abstract writes the loss as (1/n) sum (f - y)^2 without the "
        "1/2; the explicit G0 the paper analyses (and its rank-one limit mu_1 X^T y a^T / "
        "(n sqrt N)) is the gradient of the 1/(2n) loss, which is what we follow. "
        "Differentiating the abstract's loss literally would double G0 (use eta/2 then)."
    ),
    rules=_common_ba_rules(),
    init=_init_gaussian,
)

_MONIRI = ConventionPreset(
    key="moniri2023",
    citation=(
        "Moniri, Lee, Hassani, Dobriban (2023/24), A theory of non-linear feature learning "
        "with one gradient step in two-layer neural networks, ICML 2024, arXiv:2310.07891"
    ),
    output="f(x) = a^T sigma(W^T x) / sqrt(N) (Ba et al.'s model)",
    a_scaling="a_i ~ N(0, 1/N)",
    W_layout="W in R^{d x N}, entries N(0, 1/d)",
    loss="as Ba et al.: W1 = W0 + eta sqrt(N) G, G the negative gradient of the 1/(2n) MSE",
    eta_rule=(
        "eta_ours = eta; their growth law eta = eta_c n^alpha (alpha in [0, 1/2), spikes "
        "ell = number of k with alpha > (k-1)/(2k)) maps to eta0 = eta_c (n/N)^alpha with "
        "the same alpha"
    ),
    lam_rule="lam_ours = lam (ridge as in Ba et al.)",
    where=(
        "abstract and Sec. 2 (setup, eta ~ n^alpha); Thm. on the number of spikes; equation "
        "numbers not re-checked here"
    ),
    notes=(
        "The paper builds on Ba et al.'s setting and variables, so eta and lam are passed "
        "through; only the exponent law is re-based from n^alpha to our N^alpha (exact for "
        "given n, N). Not verified against code (none public was found): the ridge "
        "normalization is taken to be Ba et al.'s."
    ),
    rules=(
        _size("n", "n"),
        _size("n_ridge", "n_ridge"),
        _size("d", "d"),
        _size("N", "N"),
        _Rule("alpha", "alpha", "exponent"),
        _same("eta"),
        _Rule(
            "eta_c",
            "eta0",
            "nonneg",
            lambda v, c: v * (c["n"] / c["N"]) ** c["alpha"],
            lambda v, c: v * (c["N"] / c["n"]) ** c["alpha"],
            needs=("n", "N", "alpha"),
        ),
        _same("lam"),
        _Rule("W", "W", "W_dN"),
        _Rule("a", "a", "a"),
    ),
    init=_init_gaussian,
)

_DANDI = ConventionPreset(
    key="dandi2023",
    citation=(
        "Dandi, Krzakala, Loureiro, Pesce, Stephan (2023), How two-layer neural networks "
        "learn, one (giant) step at a time, JMLR 25 (2024), arXiv:2305.18270; code "
        "github.com/lucpoisson/GiantStep (single_step.ipynb)"
    ),
    output="f(z) = sigma(z^T W^T) a / sqrt(p), W stored p x d",
    a_scaling="a0 = randn(p)/sqrt(p) (single step); +-1/sqrt(p) in multiple_steps.ipynb",
    W_layout="W in R^{p x d} (rows are neurons), W0 = randn(p, d)/sqrt(d); ours W = W^T",
    loss=("G = (1/n) Z^T [(1/sqrt(p)) ((Y - f) a0^T) * sigma'(Z W0^T)] (d x p); W1 = W0 + eta G^T"),
    eta_rule=(
        "eta_ours = eta / sqrt(p); their eta = 10 sqrt(n) sqrt(p) (single step) gives "
        "eta_ours = 10 sqrt(n); their eta = 2p (multiple steps) gives 2 sqrt(p)"
    ),
    lam_rule=(
        "ridge_estimator(F/sqrt(p), y, lam) = inv(F^T F/p + lam I) F^T y/sqrt(p), lam not "
        "divided by n: lam_ours = lam * p / n_ridge (n_ridge defaults to n, the same batch)"
    ),
    where=(
        "GiantStep single_step.ipynb (fnn0, W0, a0, the cell computing G and Wgd, "
        "get_errors_ridge); paper App. A, Alg. 1 (training procedure)"
    ),
    notes=(
        "Exact: W (transpose), a (unchanged; their f equals ours), eta, lam. Not a parameter "
        "and not converted: the code centres the labels and removes their estimated He_1 "
        "part (Y - mean(Y) - Z (Z^T Y/n)) before the step and adds it back after the ridge "
        "fit; spikewise's LabelPreprocessing.fit(X, y, remove=('mean', 'linear'), "
        "linear_fit='raw') does exactly this. Ridge's a_hat equals their w."
    ),
    rules=(
        _size("n", "n"),
        _size("n_ridge", "n_ridge"),
        _size("d", "d"),
        _size("p", "N"),
        _Rule(
            "eta",
            "eta",
            "nonneg",
            lambda v, c: v / math.sqrt(c["N"]),
            lambda v, c: v * math.sqrt(c["N"]),
            needs=("N",),
        ),
        _Rule(
            "lam",
            "lam",
            "nonneg",
            lambda v, c: v * c["N"] / _ridge_n(c),
            lambda v, c: v * _ridge_n(c) / c["N"],
            needs=("N", "n_ridge|n"),
        ),
        _Rule("W", "W", "W_pd"),
        _Rule("a", "a", "a"),
    ),
    init=_init_gaussian_pd,
)

_CUI = ConventionPreset(
    key="cui2024",
    citation=(
        "Cui, Pesce, Dandi, Krzakala, Lu, Zdeborova, Loureiro (2024), Asymptotics of feature "
        "learning in two-layer networks after one gradient-step, ICML 2024, arXiv:2402.04980; "
        "code github.com/SPOC-group/OneStepGD_asymptotics (Simulations.ipynb)"
    ),
    output="f(z) = sigma(z^T W^T) a / sqrt(p), W stored p x d",
    a_scaling="a0 = ones(p)/sqrt(p) (constant)",
    W_layout=(
        "W in R^{p x d} (rows are neurons), W0 = randn(p, d)/sqrt(d) with every row "
        "renormalized to unit norm; ours W = W^T (unit-norm columns)"
    ),
    loss=(
        "G = (1/n0) Z^T [(1/sqrt(p)) ((Y - f) a0^T) * sigma'(Z W0^T)]; "
        "W_new = W0 + eta sqrt(p) G^T with eta = eta_tilde sqrt(p) (step eta_tilde p on G)"
    ),
    eta_rule="eta_ours = eta_tilde * sqrt(p) (i.e. eta0 = eta_tilde, alpha = 1/2)",
    lam_rule=(
        "ridge_estimator(F/sqrt(p), y, lam) on n = alpha d fresh samples, lam not divided "
        "by n: lam_ours = lam * p / n"
    ),
    where=(
        "OneStepGD_asymptotics Simulations.ipynb (fnn0, a0, W0 normalization, the 'One "
        "gradient step' cell, get_errors_ridge); paper Sec. 2 (setting, eta_tilde) and "
        "Result 3.3 (theory.ipynb inputs eta_tilde, alpha0, lambda)"
    ),
    notes=(
        "Their n0 = alpha0 d (samples of the step) is our n; their n = alpha d (fresh "
        "samples of the ridge) is our n_ridge. Exact: W (transpose), a (unchanged), eta, "
        "lam. The row-normalized W0 is an initialization choice (initialize() reproduces "
        "it), not a rescaling: our N(0, 1/d) columns have norm 1 + O(1/sqrt(d)). The "
        "teacher is tanh of the first coordinate, no noise."
    ),
    rules=(
        _size("n0", "n"),
        _size("n", "n_ridge"),
        _size("d", "d"),
        _size("p", "N"),
        _Rule(
            "eta_tilde",
            "eta",
            "nonneg",
            lambda v, c: v * math.sqrt(c["N"]),
            lambda v, c: v / math.sqrt(c["N"]),
            needs=("N",),
        ),
        _Rule(
            "lam",
            "lam",
            "nonneg",
            lambda v, c: v * c["N"] / c["n_ridge"],
            lambda v, c: v * c["n_ridge"] / c["N"],
            needs=("N", "n_ridge"),
        ),
        _Rule("W", "W", "W_pd"),
        _Rule("a", "a", "a"),
    ),
    init=_init_cui,
)

#: Named presets (frozen); see the module docstring's table.
PRESETS: Mapping[str, ConventionPreset] = MappingProxyType(
    {p.key: p for p in (_OURS, _BA, _MONIRI, _DANDI, _CUI)}
)

_ALIASES = {
    "ba": "ba2022",
    "ba2022": "ba2022",
    "moniri": "moniri2023",
    "moniri2024": "moniri2023",
    "dandi": "dandi2023",
    "giantstep": "dandi2023",
    "cui": "cui2024",
    "onestepgd": "cui2024",
    "spikewise": "ours",
}


def get_preset(name) -> ConventionPreset:
    """Return the named :class:`ConventionPreset`.

    Parameters
    ----------
    name : str or ConventionPreset
        One of ``"ours"``, ``"ba2022"``, ``"moniri2023"``, ``"dandi2023"``, ``"cui2024"``
        (case-insensitive; aliases "ba", "moniri", "dandi", "giantstep", "cui",
        "onestepgd"), or a preset (returned as is).

    Raises
    ------
    InvalidParameterError
        For an unknown name, listing the options.
    """
    if isinstance(name, ConventionPreset):
        return name
    key = name.lower().strip() if isinstance(name, str) else None
    key = _ALIASES.get(key, key)
    if key not in PRESETS:
        shown = "{" + ", ".join(repr(k) for k in PRESETS) + "}"
        raise InvalidParameterError(
            f"The 'name' parameter of get_preset must be one of {shown}. Got {name!r} instead."
        )
    return PRESETS[key]
