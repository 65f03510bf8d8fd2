"""The conjugate-kernel (CK) law at initialization.

Convention (the project's one convention): :math:`X \\in \\mathbb{R}^{n \\times d}` with
standard Gaussian rows, :math:`W_0 \\in \\mathbb{R}^{d \\times N}` with entries
:math:`\\mathcal N(0, 1/d)`, features :math:`F = \\sigma(X W_0) \\in \\mathbb{R}^{n \\times N}`,
:math:`\\psi = n/d`, :math:`\\phi = N/d`. With the Hermite coefficients
:math:`\\mu_k = \\mathbb{E}[\\sigma(Z)\\mathrm{He}_k(Z)]/k!` and
:math:`\\mu_\\star^2 = \\mathbb{E}\\sigma(Z)^2 - \\mu_0^2 - \\mu_1^2`, the rows of :math:`F`
(given :math:`W_0`) have, in the proportional limit, the covariance of the linearization
:math:`\\mu_1 W_0^\\top x + \\mu_\\star g` (Pennington & Worah 2017; Péché 2019; Fan & Wang
2020), so the spectral law of the ``"feature"`` Gram :math:`F^\\top F / n` (:math:`N \\times N`)
is the generalized Marchenko–Pastur law with

.. math::

    \\gamma = \\frac{N}{n} = \\frac{\\phi}{\\psi}, \\qquad
    H = \\text{law of } \\mu_1^2 \\lambda + \\mu_\\star^2, \\quad
    \\lambda \\sim \\mathrm{MP}(\\text{ratio} = \\phi),

:math:`\\lambda` the limiting spectrum of :math:`W_0^\\top W_0` (:math:`N \\times N`; with
:math:`\\sqrt d W_0` a :math:`d \\times N` standard matrix, its law is MP with ratio
:math:`N/d = \\phi`, with an atom :math:`1 - 1/\\phi` at zero when :math:`\\phi > 1`).

The ``"sample"`` orientation is the kernel matrix :math:`K = F F^\\top / N` (:math:`n \\times n`,
:math:`K_{ij} \\approx N^{-1}\\sum_k \\sigma(w_k^\\top x_i)\\sigma(w_k^\\top x_j)`). Its nonzero
eigenvalues are those of :math:`F^\\top F / n` times :math:`n/N`, and its law is
``gram_flip(feature, ratio=N/n).affine(n/N)``.

Mean outlier. The bulk law needs :math:`\\mu_0 = 0`. If :math:`\\mu_0 \\ne 0`,
:math:`F = \\mu_0 \\mathbf 1 \\mathbf 1^\\top + F_c` and :math:`F^\\top F / n` has one
eigenvalue outside the bulk, of order :math:`N\\mu_0^2`. Writing
:math:`m_j = \\mathbb{E}_x\\sigma(w_j^\\top x)
= \\mu_0 + \\mu_2\\delta_j + 3\\mu_4\\delta_j^2 + \\dots`
with :math:`\\delta_j = \\|w_j\\|^2 - 1` (heat equation), the population second-moment matrix
has top eigenvalue :math:`\\|m\\|^2 + u^\\top \\Sigma u` (:math:`u = m/\\|m\\|`, :math:`\\Sigma`
the feature covariance), and sampling :math:`n` rows adds :math:`\\operatorname{tr}\\Sigma/n`
(the spiked-covariance shift :math:`\\gamma\\int t\\,dH`). Averaging over :math:`W_0`
(:math:`\\mathbb{E}\\delta_j^2 = 2/d`, :math:`\\mathbb{E}(w_i^\\top w_j)^2 = 1/d`) gives the
finite-size location used here,

.. math::

    \\lambda_{\\text{mean}} \\approx N\\mu_0^2 + (1 + \\gamma)(\\mu_1^2 + \\mu_\\star^2)
    + 4\\phi\\mu_2^2 + 12\\phi\\mu_0\\mu_4,

with zero-mean fluctuations of order one (from :math:`\\sum_j\\delta_j` and
:math:`m^\\top \\bar c`) and relative corrections :math:`O(N^{-1/2})` to the constant; in the
``"sample"`` orientation multiply by :math:`n/N`.
"""

from __future__ import annotations

import warnings

from spikewise._validation import InvalidParameterError, check_option, check_scalar
from spikewise.activations import get_activation
from spikewise.solvers._law import SpectralLaw, math_number
from spikewise.solvers.generalized_mp import DiscreteLaw, GeneralizedMarchenkoPastur
from spikewise.solvers.marchenko_pastur import MarchenkoPastur
from spikewise.solvers.transforms import gram_flip

__all__ = [
    "ConjugateKernelLaw",
    "MeanOutlierWarning",
    "conjugate_kernel_law",
    "conjugate_kernel_law_from_coefficients",
    "ck_population",
]

_ORIENTATIONS = ("feature", "sample")


class MeanOutlierWarning(UserWarning):
    """The activation is not centred: the CK Gram has a rank-one mean outlier."""


def ck_population(mu1, mu_star2, *, phi) -> SpectralLaw:
    """Population law :math:`H` of the CK: law of :math:`\\mu_1^2\\lambda + \\mu_\\star^2`,
    :math:`\\lambda \\sim \\mathrm{MP}(\\phi)`.

    Parameters
    ----------
    mu1 : float
        First Hermite coefficient :math:`\\mu_1`.
    mu_star2 : float >= 0
        :math:`\\mu_\\star^2 = \\mathbb{E}\\sigma^2 - \\mu_0^2 - \\mu_1^2`.
    phi : float > 0
        :math:`N/d`.
    """
    owner = "ck_population"
    mu1 = check_scalar(mu1, "mu1", owner)
    mu_star2 = check_scalar(mu_star2, "mu_star2", owner, lower=0)
    phi = check_scalar(phi, "phi", owner, lower=0, lower_inclusive=False)
    if mu1 == 0.0:
        if mu_star2 == 0.0:
            raise InvalidParameterError(
                f"The 'mu_star2' parameter of {owner} must be > 0 when mu1 = 0 (the features "
                "would be constant). Got 0.0 instead."
            )
        return DiscreteLaw([mu_star2])
    return MarchenkoPastur(ratio=phi).affine(mu1 * mu1, mu_star2)


class ConjugateKernelLaw(SpectralLaw):
    """Limiting spectral law of the conjugate kernel at initialization.

    Built by :func:`conjugate_kernel_law` or :func:`conjugate_kernel_law_from_coefficients`;
    see the module docstring for the model, the orientations and the mean outlier.

    Parameters
    ----------
    mu1, mu_star2 : float
        :math:`\\mu_1` and :math:`\\mu_\\star^2 \\ge 0`.
    psi, phi : float > 0
        :math:`n/d` and :math:`N/d`.
    orientation : {"feature", "sample"}, default "feature"
    mu0, mu2, mu4 : float, default 0
        Hermite coefficients used by :meth:`mean_outlier` only.
    activation_name : str, optional
        Label recorded in :attr:`params`.

    Attributes
    ----------
    psi, phi : float
        :math:`n/d` and :math:`N/d`.
    orientation : {"feature", "sample"}
        ``"feature"``: :math:`F^\\top F / n` (``N x N``); ``"sample"``: :math:`F F^\\top / N`
        (``n x n``).
    mu0, mu1, mu_star2, mu2, mu4 : float
        Hermite data of the activation.
    population : SpectralLaw
        :math:`H`, law of :math:`\\mu_1^2\\lambda + \\mu_\\star^2`.
    feature_law : GeneralizedMarchenkoPastur
        The law of :math:`F^\\top F / n` (ratio :math:`\\phi/\\psi`).
    has_mean_outlier : bool
        True when :math:`\\mu_0 \\ne 0` (see :meth:`mean_outlier`).
    """

    name = "ConjugateKernelLaw"

    def __init__(
        self, *, mu1, mu_star2, psi, phi, orientation="feature", mu0=0.0, mu2=0.0, mu4=0.0,
        activation_name=None,
    ):
        owner = self.name
        self.psi = check_scalar(psi, "psi", owner, lower=0, lower_inclusive=False)
        self.phi = check_scalar(phi, "phi", owner, lower=0, lower_inclusive=False)
        self.orientation = check_option(orientation, "orientation", owner, _ORIENTATIONS)
        self.mu0 = check_scalar(mu0, "mu0", owner)
        self.mu1 = check_scalar(mu1, "mu1", owner)
        self.mu_star2 = check_scalar(mu_star2, "mu_star2", owner, lower=0)
        self.mu2 = check_scalar(mu2, "mu2", owner)
        self.mu4 = check_scalar(mu4, "mu4", owner)
        self.activation_name = activation_name
        self.population = ck_population(self.mu1, self.mu_star2, phi=self.phi)
        self.feature_law = GeneralizedMarchenkoPastur(
            ratio=self.phi / self.psi, population=self.population
        )
        if self.orientation == "feature":
            self._inner = self.feature_law
        else:
            g = self.phi / self.psi
            self._inner = gram_flip(self.feature_law, ratio=g).affine(1.0 / g)
        self.has_mean_outlier = abs(self.mu0) > 1e-12

    def _params(self):
        out = {"psi": self.psi, "phi": self.phi, "orientation": self.orientation}
        if self.activation_name is not None:
            out["activation"] = self.activation_name
        out.update({"mu0": self.mu0, "mu1": self.mu1, "mu_star2": self.mu_star2})
        return out

    def _label(self) -> str:
        gram = "F^\\top F/n" if self.orientation == "feature" else "F F^\\top/N"
        act = f"{self.activation_name}, " if self.activation_name else ""
        return (f"CK limit of ${gram}$ ({act}$\\psi={math_number(self.psi)}$, "
                f"$\\phi={math_number(self.phi)}$)")

    # delegation to the inner law
    def _support(self):
        return self._inner.support

    def _atoms(self):
        return self._inner.atoms

    def _pdf(self, x):
        return self._inner._pdf(x)

    def _cdf(self, x):
        return self._inner._cdf(x)

    def _stieltjes(self, z):
        return self._inner._stieltjes(z)

    def _dstieltjes(self, z):
        return self._inner._dstieltjes(z)

    def _moment(self, k):
        return self._inner.moment(k)

    def ppf(self, q):
        return self._inner.ppf(q)

    @property
    def _rules(self):
        return self._inner._rules

    def mean_outlier(self, *, d):
        """Finite-size location of the mean (rank-one) outlier for input dimension ``d``.

        .. math::

            \\lambda_{\\text{mean}} \\approx N\\mu_0^2 + (1 + \\gamma)(\\mu_1^2 + \\mu_\\star^2)
            + 4\\phi\\mu_2^2 + 12\\phi\\mu_0\\mu_4, \\qquad N = \\phi d,\\ \\gamma = \\phi/\\psi,

        for :math:`F^\\top F/n`, times :math:`n/N` for :math:`F F^\\top/N`. It grows like
        :math:`N`; the constant is an average over :math:`W_0` and the data (the outlier
        fluctuates by :math:`O(1)`). Returns ``nan`` when :math:`\\mu_0 = 0`.

        Parameters
        ----------
        d : int or float > 0
            Input dimension.
        """
        d = check_scalar(d, "d", f"{self.name}.mean_outlier", lower=0, lower_inclusive=False)
        if not self.has_mean_outlier:
            return float("nan")
        n_feat = self.phi * d
        g = self.phi / self.psi
        value = (
            n_feat * self.mu0**2
            + (1.0 + g) * (self.mu1**2 + self.mu_star2)
            + 4.0 * self.phi * self.mu2**2
            + 12.0 * self.phi * self.mu0 * self.mu4
        )
        if self.orientation == "sample":
            value /= g
        return float(value)


def conjugate_kernel_law_from_coefficients(
    mu1, mu_star2, *, psi, phi, orientation="feature", mu0=0.0, mu2=0.0, mu4=0.0
):
    """CK law from Hermite data (the lower-level constructor).

    Parameters
    ----------
    mu1 : float
        :math:`\\mu_1 = \\mathbb{E}[\\sigma(Z) Z]`.
    mu_star2 : float >= 0
        :math:`\\mu_\\star^2 = \\mathbb{E}\\sigma(Z)^2 - \\mu_0^2 - \\mu_1^2`.
    psi, phi : float > 0
        :math:`n/d`, :math:`N/d`.
    orientation : {"feature", "sample"}
        ``"feature"``: law of :math:`F^\\top F / n`; ``"sample"``: law of :math:`F F^\\top / N`.
    mu0, mu2, mu4 : float, default 0
        Used only for the mean outlier (:meth:`ConjugateKernelLaw.mean_outlier`).

    Returns
    -------
    ConjugateKernelLaw

    Warns
    -----
    MeanOutlierWarning
        When ``mu0 != 0``.
    """
    law = ConjugateKernelLaw(
        mu1=mu1, mu_star2=mu_star2, psi=psi, phi=phi, orientation=orientation, mu0=mu0,
        mu2=mu2, mu4=mu4,
    )
    _warn_mean(law)
    return law


def _warn_mean(law: ConjugateKernelLaw) -> None:
    if law.has_mean_outlier:
        warnings.warn(
            f"The activation has mu0 = {law.mu0:.6g} != 0: the CK Gram has one mean outlier "
            "near N*mu0^2 outside this bulk law (see ConjugateKernelLaw.mean_outlier); "
            "centre the activation to remove it.",
            MeanOutlierWarning,
            stacklevel=3,
        )


def conjugate_kernel_law(activation, *, psi, phi, orientation="feature"):
    """Limiting spectral law of the conjugate kernel :math:`F = \\sigma(X W_0)`.

    Parameters
    ----------
    activation : Activation or str
        An :class:`spikewise.activations.Activation` or a preset name (``"tanh"``,
        ``"relu_centred"``, ...).
    psi : float > 0
        :math:`n/d`.
    phi : float > 0
        :math:`N/d`.
    orientation : {"feature", "sample"}, default "feature"
        ``"feature"``: law of :math:`F^\\top F / n` (``N x N``), generalized MP with ratio
        :math:`\\phi/\\psi` and population :math:`\\mu_1^2\\,\\mathrm{MP}(\\phi) + \\mu_\\star^2`;
        ``"sample"``: law of the kernel matrix :math:`F F^\\top / N` (``n x n``).

    Returns
    -------
    ConjugateKernelLaw

    Warns
    -----
    MeanOutlierWarning
        When :math:`\\mu_0 \\ne 0`: the empirical Gram then has one more eigenvalue, near
        :meth:`ConjugateKernelLaw.mean_outlier`, outside this law.

    References
    ----------
    J. Pennington and P. Worah, "Nonlinear random matrix theory for deep learning", NeurIPS
    2017. S. Péché, "A note on the Pennington–Worah distribution", Electron. Commun. Probab.
    24 (2019). Z. Fan and Z. Wang, "Spectra of the conjugate kernel and neural tangent kernel
    for linear-width neural networks", NeurIPS 2020.

    Examples
    --------
    >>> law = conjugate_kernel_law("tanh", psi=2.0, phi=1.0)
    >>> law.support[0][0] > 0
    True
    """
    act = get_activation(activation)
    mu = act.hermite(4)
    law = ConjugateKernelLaw(
        mu1=act.mu1, mu_star2=max(act.mu_star2, 0.0), psi=psi, phi=phi, orientation=orientation,
        mu0=act.mu0, mu2=float(mu[2]), mu4=float(mu[4]), activation_name=act.name,
    )
    _warn_mean(law)
    return law

