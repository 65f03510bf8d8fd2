"""Outlier engines: finite-rank perturbations of a bulk spectral law.

Three models, each taking the bulk as a spectral law (any object with ``stieltjes``,
``support`` and ``atoms``; ``dstieltjes`` is used when present) and returning an
:class:`OutlierPrediction`:

* :func:`hermitian_outliers` -- ``B + sum_i theta_i v_i v_i^T`` (Benaych-Georges & Nadakuditi
  2011): outlier ``z`` solves ``G(z) = 1/theta`` with ``G(z) = -m(z)``; squared overlap
  ``1 / (theta^2 m'(z))``.
* :func:`rectangular_outliers` -- ``X + sum_i theta_i u_i v_i^T`` (Benaych-Georges & Nadakuditi
  2012): outlier singular value ``z`` solves ``D(z) = 1/theta^2`` with the D-transform written
  through the Stieltjes transforms of both Gram laws, ``D(z) = z^2 m_A(z^2) m_B(z^2)``.
* :func:`covariance_outliers` -- sample covariance of a population with spectrum ``H`` plus
  spikes (Baik, Ben Arous & Péché 2005; Paul 2007; Bai & Yao 2012): outlier ``psi(alpha)``
  when ``psi'(alpha) > 0``, squared overlap ``alpha psi'(alpha) / psi(alpha)``.

Stieltjes convention: ``m(z) = ∫ dmu(x) / (x - z)``, so that the Cauchy transform of the
papers is ``G(z) = ∫ dmu(x) / (z - x) = -m(z)``. With ``dps=...`` every engine works in
mpmath at that many decimal digits (needed only very close to a threshold, where the outlier's
distance to the edge falls below the float64 resolution of the edge).

One engine per module (``_outliers_hermitian``, ``_outliers_rectangular``,
``_outliers_covariance``) on the shared machinery of ``_outliers_core``; this module is
where they are imported from.
"""

from spikewise.solvers._outliers_core import (
    OutlierPrediction,
    _frozen,  # noqa: F401 (used by the spike theories)
)
from spikewise.solvers._outliers_covariance import covariance_outliers
from spikewise.solvers._outliers_hermitian import hermitian_outliers
from spikewise.solvers._outliers_rectangular import rectangular_outliers

__all__ = [
    "OutlierPrediction",
    "hermitian_outliers",
    "rectangular_outliers",
    "covariance_outliers",
]
