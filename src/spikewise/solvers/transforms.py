"""Pushforwards of spectral laws and the two orientations of a Gram matrix.

* :class:`AffineLaw`: the law of :math:`a\\lambda + b`,
  :math:`m_{a\\lambda+b}(z) = a^{-1} m_\\lambda((z - b)/a)`.
* :class:`SqrtLaw`: the law of :math:`\\sqrt\\lambda` (singular values from the eigenvalues
  of a Gram matrix). Its Stieltjes transform is
  :math:`m_{\\sqrt\\lambda}(z) = 2 z\\, m_\\lambda(z^2)
  + \\int d\\mu(\\lambda)/(\\sqrt\\lambda + z)`
  (from :math:`1/(s - z) - 1/(s + z) = 2z/(s^2 - z^2)`); the last integral has no
  singularity near the support when :math:`\\operatorname{Re} z \\ge 0` and is computed by
  the quadrature of the law's density.
* :func:`gram_flip`: if :math:`A^\\top A / n` (:math:`p \\times p`) has law :math:`\\mu` and
  :math:`\\gamma = p/n`, then :math:`A A^\\top / n` (:math:`n \\times n`) has the same nonzero
  eigenvalues and law :math:`\\gamma\\mu + (1 - \\gamma)\\delta_0`, Stieltjes transform
  :math:`\\gamma m(z) - (1 - \\gamma)/z` (Bai & Silverstein 2010, eq. (3.1.4)).
* :func:`rectangular_singular_values`: singular values of :math:`Y/\\sqrt n`,
  :math:`Y \\in \\mathbb{R}^{n\\times p}` with entries of variance :math:`s^2`: the
  pushforward of :class:`~spikewise.solvers.marchenko_pastur.MarchenkoPastur` by the square
  root (the quarter-circle law at :math:`\\gamma = 1`).
"""

from __future__ import annotations

import mpmath
import numpy as np

from spikewise._validation import InvalidParameterError, check_option, check_scalar
from spikewise.solvers._law import AffineLaw, SpectralLaw, SqrtLaw, _check_law, math_number
from spikewise.solvers.marchenko_pastur import MarchenkoPastur

__all__ = ["AffineLaw", "SqrtLaw", "GramFlipLaw", "gram_flip", "rectangular_singular_values"]


class GramFlipLaw(SpectralLaw):
    """Law :math:`\\gamma\\mu + (1 - \\gamma)\\delta_0` of the other Gram orientation.

    See :func:`gram_flip`.

    Parameters
    ----------
    law : SpectralLaw
        Law of the ``p x p`` orientation.
    ratio : float > 0
        :math:`p/n`.
    """

    name = "GramFlipLaw"

    def __init__(self, law, *, ratio):
        self.base = _check_law(law, self.name)
        self.ratio = check_scalar(ratio, "ratio", self.name, lower=0, lower_inclusive=False)
        g = self.ratio
        if g > 1:
            loc, mass = self.base.atoms
            zero_mass = float(np.sum(mass[loc == 0.0]))
            if zero_mass < 1.0 - 1.0 / g - 1e-12:
                raise InvalidParameterError(
                    f"The 'ratio' parameter of {self.name} must be <= 1/(1 - mu({{0}})) = "
                    f"{1.0 / max(1.0 - zero_mass, 1e-300)} for a law with mass {zero_mass} at "
                    f"zero (a p x p Gram of rank n has at least 1 - n/p zeros). Got {g} instead."
                )

    def _params(self):
        return {"flip_ratio": self.ratio, **self.base.params}

    def _label(self) -> str:
        return f"companion ($\\gamma={math_number(self.ratio)}$) of {self.base.label}"

    def _singular_points(self):
        return list(self.base._singular_points()) + [0.0]

    def _support(self):
        return self.base.support

    def _atoms(self):
        loc, mass = self.base.atoms
        loc = np.append(loc, 0.0)
        mass = np.append(self.ratio * mass, 1.0 - self.ratio)
        uniq = np.unique(loc)
        tot = np.array([mass[loc == u].sum() for u in uniq])
        keep = tot > 1e-15
        return uniq[keep], tot[keep]

    def _pdf(self, x):
        return self.ratio * self.base._pdf(x)

    def _cdf(self, x):
        return np.clip(
            self.ratio * self.base._cdf(x) + (1.0 - self.ratio) * (x >= 0), 0.0, 1.0
        )

    def _stieltjes(self, z):
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.ratio * np.asarray(self.base.stieltjes(z)) - (1.0 - self.ratio) / z

    def _dstieltjes(self, z):
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.ratio * np.asarray(self.base.dstieltjes(z)) + (1.0 - self.ratio) / z**2

    def _stieltjes_mp(self):
        inner = self.base._stieltjes_mp()
        if inner is None:
            return None
        m0, dm0, exact0 = inner
        r_f = float(self.ratio)

        def m(x):
            r = mpmath.mpf(r_f)
            return r * m0(x) - (1 - r) / x

        def dm(x):
            r = mpmath.mpf(r_f)
            return r * dm0(x) + (1 - r) / x**2

        return m, dm, exact0

    def _moment(self, k):
        return self.ratio * self.base.moment(k)


def gram_flip(law, *, ratio):
    """Law of the other orientation of a Gram matrix.

    If :math:`A^\\top A / n` (:math:`p \\times p`) has spectral law ``law`` and
    ``ratio`` :math:`= \\gamma = p/n`, the :math:`n \\times n` matrix :math:`A A^\\top / n`
    has law :math:`\\gamma\\mu + (1 - \\gamma)\\delta_0` (the same nonzero eigenvalues,
    :math:`n - p` more zeros, or :math:`p - n` fewer). A different normalization is an
    :meth:`~spikewise.solvers._law.SpectralLaw.affine` scale on top, e.g. ``A A^T / p`` is
    ``gram_flip(law, ratio=g).affine(1 / g)``.

    Parameters
    ----------
    law : SpectralLaw
        Law of the ``p x p`` orientation.
    ratio : float > 0
        :math:`p/n`, the size of the given orientation over the size of the wanted one.

    Returns
    -------
    GramFlipLaw
    """
    return GramFlipLaw(law, ratio=ratio)


def rectangular_singular_values(*, ratio, scale=1.0, orientation="p"):
    """Law of the singular values of :math:`Y / \\sqrt n`, ``Y`` of shape ``n x p``.

    The entries of ``Y`` are i.i.d. with mean zero and variance ``scale``
    (:math:`s^2`), ``ratio`` :math:`\\gamma = p / n`.

    Parameters
    ----------
    ratio : float > 0
        :math:`p / n`.
    scale : float > 0, default 1
        Entry variance :math:`s^2`.
    orientation : {"p", "n"}
        ``"p"``: the ``p`` square roots of the eigenvalues of :math:`Y^\\top Y / n` (with
        :math:`p - n` zeros when :math:`p > n`); ``"n"``: the ``n`` square roots of the
        eigenvalues of :math:`Y Y^\\top / n`.

    Returns
    -------
    SqrtLaw
        Support :math:`[s|1 - \\sqrt\\gamma|, s(1 + \\sqrt\\gamma)]`.
    """
    check_option(orientation, "orientation", "rectangular_singular_values", ("p", "n"))
    law = MarchenkoPastur(ratio=ratio, scale=scale)
    if orientation == "n":
        law = MarchenkoPastur(ratio=1.0 / law.ratio, scale=law.scale * law.ratio)
    return law.sqrt()
