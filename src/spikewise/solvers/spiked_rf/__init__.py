"""The spiked random-feature model of the features after a (large) gradient step.

See :mod:`spikewise.solvers.spiked_rf.model` for the model, its conventions and interface.
"""

from spikewise.solvers.spiked_rf.ck_outliers import CKOutlier, CKOutliers, ck_outliers
from spikewise.solvers.spiked_rf.kernel import (
    AdaptiveKernel,
    KernelSector,
    adaptive_kernel,
    kernel_matrix,
    kernel_sector,
)
from spikewise.solvers.spiked_rf.model import SECOND_LAYERS, SpikedRandomFeatures, SpikedWeights
from spikewise.solvers.spiked_rf.spectrum import FeatureSpectrum, feature_spectrum

__all__ = [
    "SECOND_LAYERS",
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
