"""The empirical side: sampling, gradient steps, features, spectra, alignments, ridge.

Everything here follows the convention of :mod:`spikewise.conventions`. Heavy loops are
private ``@njit(cache=True)`` kernels in :mod:`spikewise.spectra._kernels`; this subpackage
never imports :mod:`spikewise.solvers` (``Spectrum.ks`` takes any law by duck typing).
"""

from spikewise.spectra._linalg import thread_limits
from spikewise.spectra.alignments import (
    ck_hermite_alignments,
    hermite_alignments,
    hermite_features,
    squared_overlaps,
    weight_alignments,
)
from spikewise.spectra.experiment import (
    ExperimentResult,
    Spike,
    one_step,
    repeat,
    stage_times,
    train,
    two_step,
)
from spikewise.spectra.features import ck_features, ck_gram
from spikewise.spectra.matrix_free import (
    DensitySpectrum,
    ck_density,
    eigen_density,
    singular_density,
)
from spikewise.spectra.ridge import RidgePath, ridge_path
from spikewise.spectra.sampling import (
    Teacher,
    init_first_layer,
    init_second_layer,
    make_teacher,
    sample_dataset,
    sample_inputs,
)
from spikewise.spectra.spectrum import (
    MATRIX_FREE_SIZE,
    Spectrum,
    ck_spectrum,
    eigen_spectrum,
    singular_spectrum,
    top_ck_eigen,
    top_singular,
    tracy_widom_margin,
)
from spikewise.spectra.steps import (
    LabelPreprocessing,
    StepResult,
    gradient,
    gradient_step,
    network_output,
)

__all__ = [
    # experiments
    "train",
    "one_step",
    "two_step",
    "repeat",
    "stage_times",
    "ExperimentResult",
    "Spike",
    # sampling
    "Teacher",
    "make_teacher",
    "sample_inputs",
    "sample_dataset",
    "init_first_layer",
    "init_second_layer",
    # gradient steps
    "gradient",
    "gradient_step",
    "network_output",
    "LabelPreprocessing",
    "StepResult",
    # features
    "ck_features",
    "ck_gram",
    # spectra
    "Spectrum",
    "eigen_spectrum",
    "singular_spectrum",
    "ck_spectrum",
    "top_singular",
    "top_ck_eigen",
    "tracy_widom_margin",
    "MATRIX_FREE_SIZE",
    # matrix-free densities
    "DensitySpectrum",
    "ck_density",
    "singular_density",
    "eigen_density",
    # alignments
    "squared_overlaps",
    "hermite_features",
    "weight_alignments",
    "hermite_alignments",
    "ck_hermite_alignments",
    # ridge
    "RidgePath",
    "ridge_path",
    # threads
    "thread_limits",
]
