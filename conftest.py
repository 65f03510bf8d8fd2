"""Session-wide test setup.

Notebooks and gallery examples read ``SPIKEWISE_SIZE``; the test suite runs them small.
Plots use the non-interactive Agg backend.
"""

import os

os.environ.setdefault("SPIKEWISE_SIZE", "small")
os.environ.setdefault("MPLBACKEND", "Agg")
