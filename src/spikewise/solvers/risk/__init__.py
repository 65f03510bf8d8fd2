"""Asymptotic ridge risk on (learned) features: the deterministic equivalent for a given
covariance, the finite-width theory for a given first layer, the random-features limit, and
large steps through the spiked random-feature model (conditional, exact-moment and plain
Gaussian equivalence).

Lambda is in the ridge convention of :mod:`spikewise.conventions`
(``b = (F^T F/n + lambda I)^{-1} F^T y/n``, the one of :func:`spikewise.spectra.ridge_path`).
"""

from spikewise.solvers.risk._ridge import RidgeRisk, ridge_risk, ridge_risk_from_spectrum
from spikewise.solvers.risk.conditional import conditional_risk
from spikewise.solvers.risk.finite_width import (
    FeatureMoments,
    feature_moments,
    finite_width_risk,
)
from spikewise.solvers.risk.large_step import (
    LargeStepRisk,
    risk_vs_learning_rate,
    spiked_rf_risk,
)
from spikewise.solvers.risk.random_features import random_features_risk

__all__ = [
    "RidgeRisk",
    "ridge_risk",
    "ridge_risk_from_spectrum",
    "FeatureMoments",
    "feature_moments",
    "finite_width_risk",
    "random_features_risk",
    "LargeStepRisk",
    "conditional_risk",
    "spiked_rf_risk",
    "risk_vs_learning_rate",
]
