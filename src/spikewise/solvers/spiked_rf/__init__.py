"""The spiked random-feature model of the features after a (large) gradient step.

See :mod:`spikewise.solvers.spiked_rf.model` for the model, its conventions and interface.
"""

from spikewise.solvers.spiked_rf.model import SECOND_LAYERS, SpikedRandomFeatures, SpikedWeights

__all__ = ["SECOND_LAYERS", "SpikedRandomFeatures", "SpikedWeights"]
