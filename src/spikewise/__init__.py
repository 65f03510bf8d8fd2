"""spikewise: random-matrix spectra of feature learning in two-layer networks.

The empirical side (:mod:`spikewise.spectra`) simulates one- and two-step training and
measures spectra; the theory side (:mod:`spikewise.solvers`) gives the limiting laws and the
outliers. :mod:`spikewise.conventions` states the single convention both sides use.
"""

from spikewise._validation import ConvergenceError, ConvergenceWarning, InvalidParameterError

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "ConvergenceError",
    "ConvergenceWarning",
    "InvalidParameterError",
]
