"""spikewise: random-matrix spectra of feature learning in two-layer networks.

The empirical side (:mod:`spikewise.spectra`) simulates one- and two-step training and
measures spectra; the theory side (:mod:`spikewise.solvers`) gives the limiting laws and the
outliers; :mod:`spikewise.plot` draws one over the other. :mod:`spikewise.conventions` states
the single convention every function uses, and converts the papers' parameters into it.
"""

from spikewise import conventions, solvers, spectra
from spikewise._validation import ConvergenceError, ConvergenceWarning, InvalidParameterError
from spikewise.activations import (
    ACTIVATION_NAMES,
    KERNEL_CODES,
    Activation,
    get_activation,
    hermite_polynomials,
    hermite_sum,
)
from spikewise.conventions import (
    OUR_KEYS,
    PRESETS,
    ConventionPreset,
    Sizes,
    Step,
    StepSchedule,
    get_preset,
    learning_rate,
)

__version__ = "0.1.0"

__all__ = [
    "__version__",
    # subpackages
    "conventions",
    "solvers",
    "spectra",
    "plot",
    # errors
    "ConvergenceError",
    "ConvergenceWarning",
    "InvalidParameterError",
    # activations
    "Activation",
    "get_activation",
    "hermite_sum",
    "hermite_polynomials",
    "ACTIVATION_NAMES",
    "KERNEL_CODES",
    # conventions
    "ConventionPreset",
    "get_preset",
    "PRESETS",
    "OUR_KEYS",
    "learning_rate",
    "Sizes",
    "Step",
    "StepSchedule",
]


def __getattr__(name):
    # matplotlib and seaborn load only when the plots are asked for
    if name == "plot":
        import importlib

        return importlib.import_module("spikewise.plot")
    raise AttributeError(f"module 'spikewise' has no attribute {name!r}")
