"""The theory side: spectral laws, Stieltjes-transform solvers, outlier engines, and the
spike theory of one and two gradient steps.

Laws follow :mod:`scipy.stats` names (``pdf``, ``logpdf``, ``cdf``, ``sf``, ``ppf``,
``moment``, ``rvs`` = ``sample``, ``support()`` = the law's endpoints) and add ``stieltjes``,
``atoms``, a ``label`` for plots, and ``support`` read as a list of intervals (a
:class:`Support`); the outlier engines take any of them as the bulk.
This subpackage never imports :mod:`spikewise.spectra`.
"""

import sys as _sys
import warnings as _warnings

from spikewise.solvers import one_step_theory as _one_step_theory
from spikewise.solvers._law import SpectralLaw, Support
from spikewise.solvers._precision import (
    mp_edges,
    mp_marchenko_pastur_edges,
    mp_marchenko_pastur_stieltjes,
    mp_solve_s,
    mp_spike_location,
    mp_spike_threshold,
    mp_stieltjes,
)
from spikewise.solvers.conjugate_kernel import (
    ConjugateKernelLaw,
    MeanOutlierWarning,
    ck_population,
    conjugate_kernel_law,
    conjugate_kernel_law_from_coefficients,
)
from spikewise.solvers.generalized_mp import DiscreteLaw, GeneralizedMarchenkoPastur
from spikewise.solvers.marchenko_pastur import MarchenkoPastur, narayana_moment
from spikewise.solvers.multi_spike import (
    SpikeLevel,
    VisibleSpikes,
    spike_count,
    spike_growth_exponent,
    spike_interval,
    spike_onset_width,
    visible_spikes,
)
from spikewise.solvers.one_step_theory import (
    OneStepSpike,
    OneStepValues,
    ck_test_outlier,
    column_spike,
    critical_learning_rate,
    one_step_spike,
)
from spikewise.solvers.risk import (
    FeatureMoments,
    LargeStepRisk,
    RidgeRisk,
    conditional_risk,
    feature_moments,
    finite_width_risk,
    random_features_risk,
    ridge_risk,
    ridge_risk_from_spectrum,
    risk_vs_learning_rate,
    spiked_rf_risk,
)
from spikewise.solvers.spiked_rf import (
    AdaptiveKernel,
    CKOutlier,
    CKOutliers,
    FeatureSpectrum,
    KernelSector,
    SpikedRandomFeatures,
    SpikedWeights,
    adaptive_kernel,
    ck_outliers,
    feature_spectrum,
    kernel_matrix,
    kernel_sector,
)
from spikewise.solvers.spikes import (
    OutlierPrediction,
    covariance_outliers,
    hermitian_outliers,
    rectangular_outliers,
)
from spikewise.solvers.transforms import (
    AffineLaw,
    GramFlipLaw,
    SqrtLaw,
    gram_flip,
    rectangular_singular_values,
)
from spikewise.solvers.two_step import (
    TwoStepSpike,
    TwoStepSpikes,
    two_step_growth_exponent,
    two_step_outlier_count,
    two_step_spikes,
)

__all__ = [
    # laws
    "SpectralLaw",
    "Support",
    "MarchenkoPastur",
    "narayana_moment",
    "GeneralizedMarchenkoPastur",
    "DiscreteLaw",
    "ConjugateKernelLaw",
    "MeanOutlierWarning",
    "conjugate_kernel_law",
    "conjugate_kernel_law_from_coefficients",
    "ck_population",
    "AffineLaw",
    "SqrtLaw",
    "GramFlipLaw",
    "gram_flip",
    "rectangular_singular_values",
    # high precision
    "mp_stieltjes",
    "mp_edges",
    "mp_solve_s",
    "mp_spike_threshold",
    "mp_spike_location",
    "mp_marchenko_pastur_stieltjes",
    "mp_marchenko_pastur_edges",
    # outlier engines
    "OutlierPrediction",
    "hermitian_outliers",
    "rectangular_outliers",
    "covariance_outliers",
    # one step (Ba et al. 2022)
    "OneStepSpike",
    "OneStepValues",
    "one_step_spike",
    "critical_learning_rate",
    "column_spike",
    "ck_test_outlier",
    # eta = eta0 N^alpha (Moniri et al. 2023)
    "spike_count",
    "spike_interval",
    "spike_growth_exponent",
    "spike_onset_width",
    "SpikeLevel",
    "VisibleSpikes",
    "visible_spikes",
    # two steps (Moniri & Hassani 2025)
    "two_step_outlier_count",
    "two_step_growth_exponent",
    "TwoStepSpike",
    "TwoStepSpikes",
    "two_step_spikes",
    # ridge risk (finite-width deterministic equivalent, random-features limit)
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
    # the spiked random-feature model (large steps)
    "SpikedRandomFeatures",
    "SpikedWeights",
    "CKOutlier",
    "CKOutliers",
    "ck_outliers",
    "FeatureSpectrum",
    "feature_spectrum",
    "AdaptiveKernel",
    "adaptive_kernel",
    "kernel_matrix",
    "KernelSector",
    "kernel_sector",
]


# ``spikewise.solvers.one_step`` was the old name of ``one_step_theory`` (it clashed with the
# function ``spikewise.spectra.one_step``): imports from it keep working for one release.
_sys.modules.setdefault(__name__ + ".one_step", _one_step_theory)


def __getattr__(name):
    if name == "one_step":
        _warnings.warn(
            "The module spikewise.solvers.one_step is renamed spikewise.solvers.one_step_theory; "
            "the old name will be removed in the next release.",
            DeprecationWarning,
            stacklevel=2,
        )
        return _one_step_theory
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
