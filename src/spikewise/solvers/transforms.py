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

from math import comb

import numpy as np
from scipy import integrate

from spikewise._validation import InvalidParameterError, check_option, check_scalar
from spikewise.solvers._law import SpectralLaw, math_number

__all__ = ["AffineLaw", "SqrtLaw", "GramFlipLaw", "gram_flip", "rectangular_singular_values"]


def _check_law(law, owner: str) -> SpectralLaw:
    if not isinstance(law, SpectralLaw):
        raise InvalidParameterError(
            f"The 'law' parameter of {owner} must be a SpectralLaw. Got {type(law).__name__} "
            "instead."
        )
    return law


class AffineLaw(SpectralLaw):
    """Law of :math:`a\\lambda + b` for :math:`\\lambda \\sim` ``law``.

    Parameters
    ----------
    law : SpectralLaw
    a : float, nonzero
    b : float, default 0
    """

    name = "AffineLaw"

    def __init__(self, law, *, a, b=0.0):
        self.base = _check_law(law, self.name)
        self.a = check_scalar(a, "a", self.name)
        if self.a == 0.0:
            raise InvalidParameterError(
                f"The 'a' parameter of {self.name} must be a finite nonzero float. Got 0.0 "
                "instead."
            )
        self.b = check_scalar(b, "b", self.name)

    def _params(self):
        return {"a": self.a, "b": self.b, **self.base.params}

    def _label(self) -> str:
        shift = "" if self.b == 0 else f"{'+' if self.b > 0 else '-'}{math_number(abs(self.b))}"
        return f"${math_number(self.a)}\\,\\lambda{shift}$ for $\\lambda\\sim$ {self.base.label}"

    def _to_base(self, y):
        return (y - self.b) / self.a

    def _singular_points(self):
        return [self.a * p + self.b for p in self.base._singular_points()]

    def _support(self):
        out = []
        for lo, hi in self.base.support:
            u, v = self.a * lo + self.b, self.a * hi + self.b
            out.append((min(u, v), max(u, v)))
        return sorted(out)

    def _atoms(self):
        loc, mass = self.base.atoms
        return self.a * loc + self.b, mass

    def _pdf(self, y):
        return self.base._pdf(self._to_base(y)) / abs(self.a)

    def _cdf(self, y):
        t = self._to_base(y)
        if self.a > 0:
            return self.base._cdf(t)
        loc, mass = self.base.atoms
        at = np.zeros_like(t)
        for u, w in zip(loc, mass, strict=True):
            at += np.where(t == u, w, 0.0)
        return np.clip(1.0 - self.base._cdf(t) + at, 0.0, 1.0)

    def ppf(self, q):
        qq = np.asarray(q, dtype=np.float64)
        if self.a > 0:
            return self.a * np.asarray(self.base.ppf(qq)) + self.b
        return self.a * np.asarray(self.base.ppf(1.0 - qq)) + self.b

    def _stieltjes(self, z):
        # for a < 0, z + i0 maps to w - i0: take the boundary value from below
        w = self._to_base(z)
        if self.a > 0:
            return np.asarray(self.base.stieltjes(w)) / self.a
        return np.conj(np.asarray(self.base.stieltjes(np.conj(w)))) / self.a

    def _dstieltjes(self, z):
        w = self._to_base(z)
        if self.a > 0:
            return np.asarray(self.base.dstieltjes(w)) / self.a**2
        return np.conj(np.asarray(self.base.dstieltjes(np.conj(w)))) / self.a**2

    def _moment(self, k):
        return float(
            sum(
                comb(k, j) * self.a**j * self.b ** (k - j) * self.base.moment(j)
                for j in range(k + 1)
            )
        )


class SqrtLaw(SpectralLaw):
    """Law of :math:`\\sqrt\\lambda` for :math:`\\lambda \\sim` ``law`` supported in
    :math:`[0, \\infty)`.

    Density :math:`2y\\,\\rho(y^2)`, cdf :math:`F(y^2)`, quantiles :math:`\\sqrt{F^{-1}(q)}`.

    Parameters
    ----------
    law : SpectralLaw
        A law supported in :math:`[0, \\infty)`.
    """

    name = "SqrtLaw"

    def __init__(self, law):
        self.base = _check_law(law, self.name)
        if self.base.lower < 0:
            raise InvalidParameterError(
                f"The 'law' parameter of {self.name} must be supported in [0, inf). Got a law "
                f"with lower end {self.base.lower} instead."
            )

    def _params(self):
        return {"transform": "sqrt", **self.base.params}

    def _label(self) -> str:
        return f"$\\sqrt{{\\lambda}}$ for $\\lambda\\sim$ {self.base.label}"

    def _singular_points(self):
        return [float(np.sqrt(p)) for p in self.base._singular_points() if p >= 0]

    def _support(self):
        return [(float(np.sqrt(lo)), float(np.sqrt(hi))) for lo, hi in self.base.support]

    def _atoms(self):
        loc, mass = self.base.atoms
        return np.sqrt(loc), mass

    def _pdf(self, y):
        out = np.zeros_like(y)
        pos = y > 0
        out[pos] = 2.0 * y[pos] * self.base._pdf(y[pos] ** 2)
        return out

    def _cdf(self, y):
        return np.where(y < 0, 0.0, self.base._cdf(np.where(y < 0, 0.0, y) ** 2))

    def ppf(self, q):
        return np.sqrt(np.maximum(np.asarray(self.base.ppf(q)), 0.0))

    def _moment(self, k):
        if k % 2 == 0:
            return self.base.moment(k // 2)
        # odd moments: the density of sqrt(lambda) may be finite and nonzero at 0 (hard edge
        # of the base law), which the cosine rules resolve only algebraically; use adaptive
        # quadrature in y instead
        loc, mass = self.atoms
        total = float(np.sum(mass * loc**k)) if loc.size else 0.0
        for lo, hi in self.support:
            val, _ = integrate.quad(
                lambda y: y**k * float(self._pdf(np.array([y]))[0]), lo, hi, limit=200,
                epsabs=1e-15, epsrel=1e-13,
            )
            total += val
        return total

    def _base_quadrature(self, z, sign, power):
        """int dmu(l) / (sqrt(l) + sign z)^power, atoms exact, continuous part by quadrature."""
        out = np.zeros(z.shape, dtype=np.complex128)
        loc, mass = self.base.atoms
        for t, w in zip(loc, mass, strict=True):
            out += w / (np.sqrt(t) + sign * z) ** power
        for rule in self.base._rules:
            wts = rule.g * (np.pi / rule.n_nodes)
            r = np.sqrt(rule.x)
            step = max(1, 2_000_000 // r.size)
            for i in range(0, z.size, step):
                zz = z[i : i + step]
                out[i : i + step] += (1.0 / (r[None, :] + sign * zz[:, None]) ** power) @ wts
        return out

    def _stieltjes(self, z):
        out = np.empty_like(z)
        right = z.real >= 0
        if np.any(right):
            zr = z[right]
            out[right] = 2.0 * zr * np.asarray(self.base.stieltjes(zr * zr)) + (
                self._base_quadrature(zr, 1.0, 1)
            )
        if np.any(~right):
            out[~right] = self._base_quadrature(z[~right], -1.0, 1)
        real = (z.imag == 0) & ~self._inside(z.real)
        out[real] = out[real].real
        return out

    def _dstieltjes(self, z):
        out = np.empty_like(z)
        right = z.real >= 0
        if np.any(right):
            zr = z[right]
            w = zr * zr
            out[right] = (
                2.0 * np.asarray(self.base.stieltjes(w))
                + 4.0 * w * np.asarray(self.base.dstieltjes(w))
                - self._base_quadrature(zr, 1.0, 2)
            )
        if np.any(~right):
            out[~right] = self._base_quadrature(z[~right], -1.0, 2)
        real = (z.imag == 0) & ~self._inside(z.real)
        out[real] = out[real].real
        return out


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
    from spikewise.solvers.marchenko_pastur import MarchenkoPastur

    check_option(orientation, "orientation", "rectangular_singular_values", ("p", "n"))
    law = MarchenkoPastur(ratio=ratio, scale=scale)
    if orientation == "n":
        law = MarchenkoPastur(ratio=1.0 / law.ratio, scale=law.scale * law.ratio)
    return law.sqrt()
