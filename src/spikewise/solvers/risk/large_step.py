r"""Ridge risk after a step of any size, through the spiked random-feature model.

After one step :math:`\eta = \eta_0N^\alpha` every neuron moves along the learned direction
:math:`v` by :math:`t\tilde a_j` (:class:`~spikewise.solvers.SpikedRandomFeatures`, shared
with the spectrum of the learned features). For :math:`\alpha = 0` (Ba et al. 2022) the move
is :math:`O(N^{-1/2})` per neuron; at the maximal rate :math:`\alpha = 1/2` (the giant step
of Dandi et al. 2023 and Cui et al. 2024) it is :math:`O(1)`, and the features are
non-linear in :math:`\kappa = v^\top x`. Three predictions of ridge on ``n`` fresh samples:

* ``conditional``: conditional Gaussian equivalence (Cui et al. 2024;
  :func:`~spikewise.solvers.conditional_risk`): given :math:`\kappa` the features are
  Gaussian-equivalent with conditional moments :math:`\Sigma(\kappa)`, and the rows are a
  mixture over :math:`\kappa`; the fixed point is a function :math:`\delta(\kappa)`. This is
  the theory of the giant step (on the simulated :math:`W_1`, within 1.2% of the simulation
  at d = N = 1000, tests/test_risk_simulation.py);
* ``exact_moments``: the deterministic equivalent of :mod:`spikewise.solvers.risk._ridge`
  with the model's exact population moments (its conditional Mehler series averaged over
  :math:`\kappa`). It keeps every non-linear function of :math:`\kappa` at the level of
  second moments but treats the features as Gaussian with those moments, a single
  component instead of the mixture. At the giant step it is measured 2-6% below the
  simulated error at d = N = 1000 for a tanh teacher and 2-10% above it for sin (gallery
  page 14), against a factor 2-3 for plain GE;
* ``"plain"``: the same with plain Gaussian equivalence, features replaced by
  :math:`\mu_0(r_j) + \mu_1(r_j)w_j^\top x/r_j + \mu_\star(r_j)z_j` (the Hermite series cut
  at order one, :func:`~spikewise.solvers.feature_moments` with ``expansion="linear"``),
  which drops the non-linear dependence on :math:`\kappa` and is measurably wrong at the
  giant step.

All are evaluated on one draw of the model's weights at the given ``d, N`` (the
finite-width theory; average over draws for the proportional limit).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from spikewise._validation import InvalidParameterError, check_rng, check_scalar
from spikewise.solvers.risk._ridge import (
    RidgeRisk,
    _check_lambdas,
    _frozen,
    _risk_from_eigen,
    eigen_weights,
)
from spikewise.solvers.risk.conditional import conditional_risk
from spikewise.solvers.risk.finite_width import finite_width_risk
from spikewise.solvers.spiked_rf import SpikedRandomFeatures, SpikedWeights
from spikewise.solvers.spiked_rf.model import _check_model

__all__ = ["LargeStepRisk", "spiked_rf_risk", "risk_vs_learning_rate"]


@dataclass(frozen=True, eq=False)
class LargeStepRisk:
    """The predictions for ridge on the features of one draw of the spiked model.

    Attributes
    ----------
    exact_moments : RidgeRisk
        Deterministic equivalent with the model's exact (conditional-Mehler) moments.
    plain : RidgeRisk
        Deterministic equivalent under plain (linearized) Gaussian equivalence.
    conditional : RidgeRisk or None
        Conditional Gaussian equivalence (:func:`~spikewise.solvers.conditional_risk`);
        ``None`` when not asked for (``conditional=False``).
    weights : SpikedWeights
        The draw of the first layer both were computed on.
    """

    exact_moments: RidgeRisk
    plain: RidgeRisk
    conditional: RidgeRisk | None
    weights: SpikedWeights = field(repr=False)


def spiked_rf_risk(model, *, d, N, n, lambdas, weights=None, conditional=True,
                   rng=None) -> LargeStepRisk:
    r"""Ridge risk on the features of the spiked random-feature model, three ways.

    Parameters
    ----------
    model : SpikedRandomFeatures
        E.g. ``SpikedRandomFeatures.from_one_step(activation, teacher, psi=n_step/d, N=N,
        eta0=eta0, alpha=alpha, second_layer=..., noise=...)``.
    d, N : int
        Input dimension and width of the draw (ignored when ``weights`` is given).
    n : int
        Fresh ridge samples, >= 1.
    lambdas : array_like
        Penalties >= 0 in the ridge convention of :mod:`spikewise.conventions`
        (:math:`\hat b = (F^\top F/n + \lambda I)^{-1}F^\top y/n`).
    weights : SpikedWeights, optional
        A given draw (``model.weights(d, N, rng=)``); drawn with ``rng`` otherwise.
    conditional : bool, default True
        Also compute the conditional Gaussian-equivalence risk (a few seconds per lambda at
        N = 1000; needs every lambda > 0 and a rank-one spike: pass ``conditional=False``
        for a model of rank >= 2, whose exact-moment and plain risks are computed).
    rng : None, int, SeedSequence or Generator

    Returns
    -------
    LargeStepRisk
    """
    owner = "spiked_rf_risk"
    _check_model(model, owner)
    n = check_scalar(n, "n", owner, kind="int", lower=1)
    lam = _check_lambdas(lambdas, owner)
    if weights is None:
        weights = model.weights(d, N, rng=rng)
    elif not isinstance(weights, SpikedWeights):
        raise InvalidParameterError(
            f"The 'weights' parameter of {owner} must be a SpikedWeights. "
            f"Got {type(weights).__name__} instead."
        )
    if conditional and max(model.rank, weights.rank) > 1:
        raise InvalidParameterError(
            f"The 'conditional' parameter of {owner} must be False for a spike of rank "
            f"{max(model.rank, weights.rank)}: the conditional risk supports rank-one spikes "
            "only (the exact-moment and plain risks handle any rank). Got True instead."
        )
    noise = model.noise
    params = {"d": weights.d, "N": weights.N, **model.params}
    S = np.array(model.population_covariance(weights), dtype=np.float64)
    s, c2 = eigen_weights(S, np.asarray(model.teacher_cross_moment(weights)))
    exact = _risk_from_eigen(
        s, c2, float(model.teacher.second_moment), n=n, lambdas=lam, noise=noise,
        params={**params, "equivalence": "exact moments"}, owner=owner, slack=1e-6)
    plain = finite_width_risk(weights.W, weights.beta, n=n, lambdas=lam,
                              activation=model.activation, teacher=model.teacher,
                              noise=noise, expansion="linear")
    cond = conditional_risk(model, weights, n=n, lambdas=lam) if conditional else None
    return LargeStepRisk(exact_moments=exact, plain=plain, conditional=cond, weights=weights)


def _stack(risks, name, grid):
    """Stack RidgeRisk results of one lambda path along a new leading grid axis."""
    first = risks[0]
    arrays = {k: np.stack([getattr(r, k) for r in risks])
              for k in ("test_error", "train_error", "bias", "variance", "misspecification",
                        "effective_regularization", "df1", "df2")}
    params = {k: v for k, v in first.params.items() if k not in ("strength", "inflation",
                                                                  "overlap", "rank")}
    return RidgeRisk(lambdas=first.lambdas, noise=first.noise, coords={name: grid},
                     params=params, **{k: _frozen(v) for k, v in arrays.items()})


def risk_vs_learning_rate(activation, teacher, *, eta0, alpha=0.0, psi, d, N, n, lambdas,
                          second_layer="gaussian", noise=0.0, rng=None):
    r"""Ridge risk after one step as a function of the learning rate (error vs eta).

    For every ``eta0`` (with :math:`\eta = \eta_0N^\alpha`,
    :func:`spikewise.conventions.learning_rate`) the spiked random-feature model of the step
    (:meth:`SpikedRandomFeatures.from_one_step`) is drawn at ``d, N`` with the SAME random
    numbers (common random numbers: the curve is smooth in eta), and
    :func:`spiked_rf_risk` gives the exact-moment, the plain and the conditional
    Gaussian-equivalence risk of ridge on ``n`` fresh samples.

    Parameters
    ----------
    activation, teacher : str or Activation
    eta0 : array_like
        Learning-rate prefactors, >= 0 (``eta0 = 0``: random features at initialization).
    alpha : float
        Exponent of :math:`\eta = \eta_0N^\alpha`.
    psi : float
        :math:`n_{\rm step}/d` of the batch of the step.
    d, N, n : int
        Input dimension, width, fresh ridge samples.
    lambdas : array_like
        Penalties >= 0 (our convention).
    second_layer : {"gaussian", "rademacher", "constant"}
    noise : float
    rng : None, int, SeedSequence or Generator
        Seeds the one draw shared by all eta0.

    Returns
    -------
    exact_moments, plain, conditional : RidgeRisk
        Arrays of shape ``(len(eta0), len(lambdas))`` with grid axis ``"eta0"`` (every lambda
        must be > 0 for ``conditional``).
    """
    owner = "risk_vs_learning_rate"
    etas = np.asarray(eta0, dtype=float).reshape(-1)
    if etas.size == 0 or not np.all(np.isfinite(etas)) or np.any(etas < 0):
        raise InvalidParameterError(
            f"The 'eta0' parameter of {owner} must be a non-empty array of finite floats "
            f">= 0. Got {eta0!r} instead."
        )
    base = int(check_rng(rng, owner).integers(2**63))  # one draw, shared by every eta0
    exact, plain, cond = [], [], []
    for e in etas:
        model = SpikedRandomFeatures.from_one_step(
            activation, teacher, psi=psi, N=N, eta0=float(e), alpha=alpha,
            second_layer=second_layer, noise=noise)
        w = model.weights(d, N, rng=np.random.default_rng(base))
        risk = spiked_rf_risk(model, d=d, N=N, n=n, lambdas=lambdas, weights=w)
        exact.append(risk.exact_moments)
        plain.append(risk.plain)
        cond.append(risk.conditional)
    return tuple(_stack(r, "eta0", etas) for r in (exact, plain, cond))
