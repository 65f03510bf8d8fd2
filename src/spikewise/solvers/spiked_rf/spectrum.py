r"""Deterministic equivalent of the spectrum of the learned features after a (giant) step.

Object: the feature covariance :math:`F^\top F/n` (:math:`N\times N`, the ``"feature"``
orientation of :func:`~spikewise.solvers.conjugate_kernel_law`) of
:math:`F = \sigma(XW)`, :math:`X` with :math:`n` standard Gaussian rows, :math:`W` the
spiked random-feature model :class:`~spikewise.solvers.spiked_rf.SpikedRandomFeatures`,
:math:`\psi = n/d`, :math:`\phi = N/d`.

Conditional Gaussian equivalence (Cui et al. 2024; Dandi, Pesce, Zdeborová, Krzakala 2024):
given the spike coordinate :math:`\kappa_i = v^\top x_i`, row :math:`i` is

.. math:: \varphi_i = m(\kappa_i) + L(\kappa_i)\,\hat W^\top x_{\perp,i}
   + V(\kappa_i)^{1/2}\varepsilon_i,

with, for a neuron of type :math:`\tau` (its :math:`\tilde a`),
:math:`m = A_0`, :math:`L = A_1` and :math:`V = \mathbb E\sigma^2 - A_0^2 - A_1^2` the
conditional moments of :meth:`SpikedRandomFeatures.conditional_moments` and
:math:`\hat W` a :math:`d\times N` matrix with i.i.d. :math:`\mathcal N(0, 1/d)` entries. The
rows are independent but *not* identically distributed: their covariance
:math:`C(\kappa) = L(\kappa)\rho L(\kappa) + V(\kappa)`, :math:`\rho = \hat W^\top\hat W`,
depends on :math:`\kappa`. The mean part :math:`m` is of low rank (outliers); the bulk is
that of the mixture.

Bulk
----
With quadrature nodes :math:`\kappa_q` (weights :math:`\pi_q`) and neuron types :math:`\tau`
(fractions :math:`p_\tau`), two nested deterministic equivalents, each the standard one for
independent terms (a sample covariance of rows with covariances :math:`C_q`, then a Gram
matrix of :math:`d` independent rank-:math:`Q` terms
:math:`\sum_k\sum_q c_q L_q r_kr_k^\top L_q`), give the resolvent
:math:`\bar Q(z) = \mathrm{diag}_\tau\,g_\tau(z)` of :math:`F^\top F/n` (mean part removed):

.. math::
   c_q = \frac{\pi_q}{1 + \delta_q},\qquad
   \Omega_{qq'} = \phi\,\sqrt{c_qc_{q'}}\ \mathbb E_\tau[L_{q\tau}L_{q'\tau}\,g_\tau],\qquad
   g_\tau = \Big(\sum_q c_qV_{q\tau} - z + \sum_{qq'}M_{qq'}L_{q\tau}L_{q'\tau}\Big)^{-1},

   M = S(I + \Omega)^{-1}S,\ S = \mathrm{diag}\sqrt{c},\qquad
   \delta_q = \frac{1}{\psi}\frac{[\Omega(I + \Omega)^{-1}]_{qq}}{c_q}
   + \frac{\phi}{\psi}\,\mathbb E_\tau[V_{q\tau}g_\tau],

and the Stieltjes transform :math:`m(z) = \mathbb E_\tau g_\tau`. Without a step
(:math:`L, V` independent of :math:`\kappa`) this is the generalized Marchenko--Pastur law of
the conjugate kernel (:func:`~spikewise.solvers.conjugate_kernel_law`). Replacing the
mixture by one Gaussian with the averaged covariance ("plain Gaussian equivalence") is
measurably wrong at a giant step: see :meth:`FeatureSpectrum.ks`.

Outliers
--------
The mean part :math:`M_{i\tau} = m(\kappa_i, \tau)` has the Gram operator
:math:`\Gamma_{\tau\tau'} = \mathbb E_\kappa[m(\kappa,\tau)m(\kappa,\tau')]` on the types;
each eigenpair :math:`(\nu_k, b_k)` of :math:`P^{1/2}\Gamma P^{1/2}` (left functions
:math:`f_k(\kappa)`, Hermite components :math:`\mathbb E[f_k\mathrm{He}_l(\kappa)]`) gives,
by the rank-one criterion of Benaych-Georges & Nadakuditi (2012) with the resolvents above,
an outlier :math:`z_k` of :math:`F^\top F/n`:

.. math:: N\nu_k\;\frac{\mathbb E_\kappa[f_k^2/(1 + \delta(\kappa, z))]}{\mathbb E f_k^2}
   \;\mathbb E_\tau[b_k^2\,(-g_\tau(z))] = 1

(so :math:`z_k \approx N\nu_k` to leading order: a large step makes outliers of order
:math:`N`). Their eigenvectors (sample side) have squared overlaps
:math:`\mathbb E[f_k\mathrm{He}_l]^2/(l!\,\mathbb E f_k^2)` with the normalized
:math:`\mathrm{He}_l(\kappa)` (exact for the direction of the mean part).

Fluctuations
------------
The outliers above are deterministic equivalents; at finite :math:`n, N` each fluctuates
by :math:`O(\lambda/\sqrt n + \lambda/\sqrt N)`: with the singular functions of the mean
part, :math:`m(\kappa, \tilde a) = \sum_k\sqrt{\nu_k}\hat f_k(\kappa)b_k(\tilde a)`, they
are to leading order the eigenvalues of :math:`N\,S(I + E)S`,
:math:`S = \mathrm{diag}\sqrt{\nu_k}`, where
:math:`E_{kl} = \frac1n\sum_i(\hat f_k\hat f_l(\kappa_i) - \delta_{kl})
+ \frac1N\sum_j(b_kb_l(\tilde a_j) - \delta_{kl})` is Gaussian with covariances from the
fourth moments of :math:`\hat f, b` (spiked-eigenvalue CLT). A single outlier is unbiased
at this order, but the largest of two close ones is not: the maximum of two fluctuating
values and their repulsion through :math:`E_{12}` lift it.
:attr:`FeatureSpectrum.top_expected` is :math:`\mathbb E` of the largest eigenvalue of the
:math:`2\times2` block of the top two (a product rule over :math:`E_{11}, E_{22}, E_{12}`)
minus :math:`N\nu_1`, added to ``outliers[0]``.

Tail
----
:meth:`FeatureSpectrum.top_mass` (share of the trace in the top :math:`k` eigenvalues) and
:attr:`FeatureSpectrum.bulk_edge`, as functions of :math:`\eta` (plot 16).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import brentq

from spikewise._gauss import factorials, hermite_polynomials, normal_rule, product_rule
from spikewise._validation import ConvergenceError, check_scalar
from spikewise.solvers.spiked_rf.model import (
    SpikedRandomFeatures,
    _check_model,
    _shifted_second_moment,
    shifted_hermite,
)

__all__ = ["FeatureSpectrum", "feature_spectrum"]


@dataclass(frozen=True, eq=False)
class FeatureSpectrum:
    """The deterministic equivalent of the spectrum of :math:`F^\\top F/n` after the step.

    Attributes
    ----------
    x, density : ndarray
        Grid and bulk density (mass of the bulk: 1, the outliers carry O(1/N)).
    bulk_edge : float
        Upper edge of the bulk (density^2 extrapolated to zero past the last grid point
        with density above 1e-3 of its maximum; the grid is quadratic in x).
    outliers : ndarray
        Predicted outliers (descending), order N.
    hermite_overlaps : ndarray (k, l_max + 1)
        Squared overlaps of the outliers' sample-side eigenvectors with the normalized
        :math:`\\mathrm{He}_l(\\kappa)`.
    trace : float
        :math:`\\mathbb E\\,\\mathrm{tr}(F^\\top F/n) = N\\,\\mathbb E\\varphi^2`.
    N : int
    params : dict
    top_expected : float
        :math:`\\mathbb E` of the largest eigenvalue at this :math:`n, N`: ``outliers[0]``
        plus the bias of the sampling fluctuations of the two top outliers (module
        docstring, "Fluctuations"); NaN without outlier.
    """

    x: np.ndarray = field(repr=False)
    density: np.ndarray = field(repr=False)
    bulk_edge: float
    outliers: np.ndarray
    hermite_overlaps: np.ndarray = field(repr=False)
    trace: float
    N: int
    params: dict = field(default_factory=dict, repr=False)
    top_expected: float = math.nan

    def cdf(self, t):
        """CDF of the bulk density (trapezoidal integral on the grid), clipped to [0, 1]."""
        c = np.concatenate([[0.0], np.cumsum(0.5 * (self.density[1:] + self.density[:-1])
                                            * np.diff(self.x))])
        c = c / c[-1]
        return np.interp(np.asarray(t, float), self.x, c, left=0.0, right=1.0)

    def ks(self, eigenvalues):
        """Kolmogorov distance between the bulk law and the empirical law of
        ``eigenvalues`` (those above the bulk, outliers, are excluded)."""
        ev = np.sort(np.asarray(eigenvalues, float))
        ev = ev[ev <= 1.05 * self.bulk_edge]
        m = ev.size
        c = self.cdf(ev)
        return float(max(np.max(np.arange(1, m + 1) / m - c), np.max(c - np.arange(m) / m)))

    def top_mass(self, k):
        """Share of the trace carried by the top ``k`` eigenvalues (outliers, then the
        bulk's top quantiles)."""
        k = check_scalar(k, "k", "FeatureSpectrum.top_mass", kind="int", lower=1,
                         upper=self.N)
        top = float(np.sum(self.outliers[:k]))
        rest = k - min(k, self.outliers.size)
        if rest:
            c = self.cdf(self.x)
            q = 1.0 - rest / self.N
            sel = c >= q
            w = np.gradient(c)[sel]
            top += self.N * float(np.sum(self.x[sel] * w))
        return top / self.trace


def _solve_bulk(z, L, V, pk, pt, psi, phi, state=None, max_iter=4000, tol=1e-11, damp=0.3):
    r"""Fixed point of the module docstring at complex ``z``; returns (m, g, delta).

    :math:`\Omega = UDU^\top` with :math:`U = SL` (Q x T) and
    :math:`D = \phi\,\mathrm{diag}(g\,p)` has rank at most T: the Q x Q inverses are taken
    through the T x T matrix :math:`K = (I + U^\top UD)^{-1}` (Woodbury),
    :math:`(I + \Omega)^{-1} = I - UDKU^\top`.
    """
    Q, T = L.shape
    g = np.full(T, -1.0 / z, complex) if state is None else state[0].copy()
    delta = np.zeros(Q, complex) if state is None else state[1].copy()
    eye = np.eye(T)
    res = math.inf
    for it in range(max_iter):  # noqa: B007 - reported in the error
        c = pk / (1.0 + delta)
        U = np.sqrt(c)[:, None] * L
        D = phi * g * pt
        K = np.linalg.inv(eye + (U.T @ U) * D[None, :])
        DK = D[:, None] * K
        P = L.T @ (c[:, None] * L)  # L^T diag(c) L = U^T U
        quad = np.diag(P) - np.einsum("ts,st->t", P @ DK, P)
        g_new = 1.0 / (c @ V - z + quad)
        od = np.einsum("qt,qt->q", U @ DK, U)  # diag of Omega (I + Omega)^-1
        delta_new = od / (psi * c) + (phi / psi) * (V @ (g_new * pt))
        res = max(float(np.max(np.abs(g_new - g))), float(np.max(np.abs(delta_new - delta))))
        g = damp * g + (1.0 - damp) * g_new
        delta = damp * delta + (1.0 - damp) * delta_new
        if res < tol * max(1.0, float(np.max(np.abs(g)))):
            return complex(g @ pt), g, delta
    raise ConvergenceError(
        f"feature_spectrum: the fixed point did not converge at z = {z:.6g} (residual "
        f"{res:.3g} after {it + 1} iterations)"
    )


def _type_law(second_layer, n_types):
    """Bulk neuron types: equal-mass nodes for a Gaussian second layer (tiny-weight
    Gauss--Hermite nodes would act as isolated types), the exact law otherwise."""
    if second_layer == "gaussian":
        from scipy.special import ndtri

        x = ndtri((np.arange(n_types) + 0.5) / n_types)
        x *= 1.0 / math.sqrt(np.mean(x * x))
        return x, np.full(n_types, 1.0 / n_types)
    if second_layer == "rademacher":
        return np.array([-1.0, 1.0]), np.array([0.5, 0.5])
    return np.array([1.0]), np.array([1.0])


def _refine_edge(x, start, L, V, kw, tw, psi, phi, steps):
    r"""Upper edge of the bulk by bisection, from the grid point ``start``.

    A point is inside the support when the fixed point at :math:`x + i\epsilon`,
    :math:`\epsilon = 10^{-7}x_{max}`, has a density above :math:`10^{-4}/x_{max}` (outside,
    the density is a smoothing tail of order :math:`\epsilon`), or does not settle in 600
    iterations (no real solution close by; outside, it converges fast to the real one). The
    grid is walked from ``start`` to the last point inside, then the bracket is halved
    ``steps`` times.
    """
    eps = 1e-7 * float(x[-1])
    floor = 1e-4 / float(x[-1])

    def inside(xx):
        try:
            m, _, _ = _solve_bulk(complex(xx, eps), L, V, kw, tw, psi, phi, max_iter=600)
        except ConvergenceError:
            return True
        return m.imag / math.pi > floor

    j = start
    if inside(x[j]):
        while j + 1 < x.size and inside(x[j + 1]):
            j += 1
    else:
        while j > 0 and not inside(x[j - 1]):
            j -= 1
        j -= 1
    if j < 0 or j + 1 >= x.size:
        return float(x[max(j, 0)])
    lo, hi = float(x[j]), float(x[j + 1])
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if inside(mid) else (lo, mid)
    return 0.5 * (lo + hi)


def _mixture_spectrum(kw, L, V, tw, mean_o, ow, *, psi, phi, N, grid, top_only=False,
                      refine_edge=0):
    r"""Bulk and outliers of :math:`F^\top F/n` from the conditional moments (module docstring).

    Parameters
    ----------
    kw : ndarray (Q,)
        Weights of the sample-latent nodes.
    L, V : ndarray (Q, T)
        Linear coefficient and rest variance at the latent nodes for the bulk types of
        weights ``tw`` (T,).
    mean_o : ndarray (Q, T')
        Conditional mean at the latent nodes for the outlier types of weights ``ow`` (T',).
    top_only : bool
        Stop after the first outlier found.
    refine_edge : int
        Bisection steps of :func:`_refine_edge` (0: the edge read off the grid).

    Returns
    -------
    x, density, edge, outliers, fs
        The density grid, the bulk edge, the outliers (descending) and, for each, its left
        function of the latent (the sample side of the mean part) at the nodes.
    """
    top = float(np.max(L**2)) * (1.0 + math.sqrt(phi)) ** 2 * (1.0 + math.sqrt(phi / psi)) ** 2
    hi = 1.2 * (top + float(np.max(V)) * (1.0 + math.sqrt(phi / psi)) ** 2) + 1e-9
    # quadratic grid: the law of F^T F / n piles up near its lower edge when N > d
    u = np.linspace(1.0, 0.0, grid + 1)[:-1]
    x = hi * u * u
    spacing = 2.0 * hi * u / grid
    dens = np.empty(x.size)
    state = None
    for i, xi in enumerate(x):
        m, g, delta = _solve_bulk(complex(xi, 0.1 * spacing[i] + 1e-9 * hi), L, V, kw, tw, psi,
                                  phi, state)
        state = (g, delta)
        dens[i] = m.imag / math.pi
    x, dens = x[::-1], dens[::-1]
    mx = float(dens.max())
    above = np.nonzero(dens > 1e-3 * mx)[0]
    edge = float(x[above[-1]]) if above.size else 0.0
    if above.size >= 2 and above[-1] == above[-2] + 1:
        # square-root edge: extrapolate density^2 linearly from the last two grid points
        (x1, x2), (r1, r2) = x[above[-2:]], dens[above[-2:]]
        if r1 > r2:
            edge = float(x2 + r2 * r2 * (x2 - x1) / (r1 * r1 - r2 * r2))
            edge = min(edge, float(x[min(above[-1] + 1, x.size - 1)]))
    if refine_edge:
        edge = _refine_edge(x, above[-1], L, V, kw, tw, psi, phi, refine_edge)

    # outliers from the mean part (its Gram operator on the outlier types)
    Gm = (mean_o * kw[:, None]).T @ mean_o  # (T', T'): E_latent m(., t) m(., t')
    sq = np.sqrt(ow)
    nu, B = np.linalg.eigh(sq[:, None] * Gm * sq[None, :])
    order = np.argsort(nu)[::-1]
    outs, fs = [], []
    for k in order:
        z0 = N * float(nu[k])
        if z0 <= 1e-3 * edge:
            break
        b = B[:, k] / sq  # right function of the types, E[b^2] = 1
        f = mean_o @ (b * ow)  # left function of the latent
        ef2 = float(kw @ f**2)

        def crit(z, f=f, ef2=ef2, nu_k=float(nu[k])):
            m, _, delta = _solve_bulk(complex(z, 0.0), L, V, kw, tw, psi, phi)
            w = float(kw @ (f**2 / (1.0 + delta.real))) / ef2
            return N * nu_k * w * (-m.real) - 1.0

        hi_z = 2.0 * z0 + 10.0 * hi
        found = False
        for factor in (1.02, 1.05, 1.1, 1.2, 1.4, 1.7, 2.0):
            lo = edge * factor
            try:
                found = crit(lo) > 0.0
                break
            except ConvergenceError:  # real z still inside the (smoothed) support
                continue
        if not found:
            continue
        outs.append(brentq(crit, lo, hi_z, xtol=1e-12, rtol=1e-12))
        fs.append(f)
        if top_only:
            break
    return x, dens, edge, np.array(outs), fs


def _top_sampling_shift(kw, mean_o, ow, n, N):
    r"""Bias of the largest outlier from the sampling of the :math:`n` samples and :math:`N`
    neurons (module docstring, "Fluctuations").

    With the singular functions of the mean part, :math:`m(\kappa, \tilde a) = \sum_k
    \sqrt{\nu_k}\hat f_k(\kappa)b_k(\tilde a)`, the outliers are to leading order the
    eigenvalues of :math:`N S(I + E)S` with :math:`S = \mathrm{diag}\sqrt{\nu_k}` and
    :math:`E_{kl} = \frac1n\sum_i(\hat f_k\hat f_l(\kappa_i) - \delta_{kl}) +
    \frac1N\sum_j(b_kb_l(\tilde a_j) - \delta_{kl})`, Gaussian with covariances from the
    fourth moments of :math:`\hat f, b`. On the top two, :math:`\mathbb E[\lambda_{max}]`
    of the :math:`2\times2` block (product rule over :math:`E_{11}, E_{22}, E_{12}`) minus
    :math:`N\nu_1`.
    """
    Gm = (mean_o * kw[:, None]).T @ mean_o
    sq = np.sqrt(ow)
    nu, B = np.linalg.eigh(sq[:, None] * Gm * sq[None, :])
    order = np.argsort(nu)[::-1][:2]
    if order.size < 2 or nu[order[1]] <= 0.0:
        return 0.0
    nu2 = nu[order]
    b = B[:, order] / sq[:, None]  # (T', 2), E b^2 = 1
    f = (mean_o @ (b * ow[:, None])) / np.sqrt(nu2)  # (Q, 2), E f^2 = 1
    pairs = ((0, 0), (1, 1), (0, 1))
    pf = np.stack([f[:, k] * f[:, m] for k, m in pairs], axis=1)
    pb = np.stack([b[:, k] * b[:, m] for k, m in pairs], axis=1)
    cf = (pf * kw[:, None]).T @ pf - np.outer(kw @ pf, kw @ pf)
    cb = (pb * ow[:, None]).T @ pb - np.outer(ow @ pb, ow @ pb)
    cov = cf / n + cb / N
    vals, vecs = np.linalg.eigh(cov)
    root = vecs * np.sqrt(np.maximum(vals, 0.0))
    pts, wts = product_rule(3, nodes=12)
    e = np.asarray(pts) @ root.T  # (P, 3): E11, E22, E12
    a11, a22 = nu2[0] * (1.0 + e[:, 0]), nu2[1] * (1.0 + e[:, 1])
    a12 = math.sqrt(nu2[0] * nu2[1]) * e[:, 2]
    top = 0.5 * (a11 + a22) + np.sqrt(0.25 * (a11 - a22) ** 2 + a12 * a12)
    return N * (float(np.asarray(wts) @ top) - float(nu2[0]))


def feature_spectrum(model: SpikedRandomFeatures, *, psi, phi, N, grid=400, n_types=24,
                     kappa_nodes=40, l_max=4) -> FeatureSpectrum:
    r"""Deterministic equivalent of the spectrum of :math:`F^\top F/n` (module docstring).

    Parameters
    ----------
    model : SpikedRandomFeatures
        The features (strength :math:`t`, second layer, inflation).
    psi, phi : float > 0
        :math:`n/d`, :math:`N/d`.
    N : int
        Width (the outliers are of order :math:`N`).
    grid : int
        Points of the density grid.
    n_types : int
        Equal-mass nodes of a Gaussian second layer.
    kappa_nodes : int
        Gauss--Hermite nodes in :math:`\kappa`.
    l_max : int
        Hermite degrees of the outliers' overlaps.

    Returns
    -------
    FeatureSpectrum
    """
    owner = "feature_spectrum"
    _check_model(model, owner, rank_one=True)
    psi = check_scalar(psi, "psi", owner, lower=0.0, lower_inclusive=False)
    phi = check_scalar(phi, "phi", owner, lower=0.0, lower_inclusive=False)
    N = check_scalar(N, "N", owner, kind="int", lower=1)
    grid = check_scalar(grid, "grid", owner, kind="int", lower=20)
    n_types = check_scalar(n_types, "n_types", owner, kind="int", lower=1, upper=400)
    kappa_nodes = check_scalar(kappa_nodes, "kappa_nodes", owner, kind="int", lower=4,
                               upper=200)
    l_max = check_scalar(l_max, "l_max", owner, kind="int", lower=0, upper=20)
    kx, kw = (np.asarray(a) for a in normal_rule(nodes=kappa_nodes))
    tx, tw = _type_law(model.second_layer, n_types)
    s = np.sqrt(1.0 + model.inflation * tx * tx)
    shift = model.strength * kx[:, None] * tx[None, :]  # (Q, T)
    A = shifted_hermite(model.activation, np.broadcast_to(s, shift.shape), shift, 1,
                        owner=owner)
    second = _shifted_second_moment(model.activation, np.broadcast_to(s, shift.shape), shift,
                                    owner=owner)
    L = A[1]
    V = np.maximum(second - A[0] ** 2 - L**2, 0.0)
    trace = N * float(kw @ second @ tw)
    # outliers: Gauss-Hermite types (the tails of a~ matter here)
    ox, ow = model.neuron_law(n_nodes=max(2 * n_types, 48))
    mean_o = shifted_hermite(model.activation,
                             np.sqrt(1.0 + model.inflation * ox * ox)[None, :],
                             model.strength * kx[:, None] * ox[None, :], 0, owner=owner)[0]
    x, dens, edge, outs, fs = _mixture_spectrum(kw, L, V, tw, mean_o, ow, psi=psi, phi=phi,
                                                N=N, grid=grid)
    fact = factorials(l_max)
    He = hermite_polynomials(kx, l_max)  # (l+1, Q)
    ovs = [(He @ (kw * f)) ** 2 / (fact * float(kw @ f**2)) for f in fs]  # E[f He_l]^2
    top = math.nan
    if outs.size:
        top = float(outs[0]) + _top_sampling_shift(kw, mean_o, ow,
                                                   psi / phi * N, N)
    return FeatureSpectrum(
        x=x, density=dens, bulk_edge=edge, outliers=outs,
        hermite_overlaps=np.array(ovs).reshape(len(ovs), l_max + 1), trace=trace, N=N,
        params={**model.params, "psi": psi, "phi": phi, "N": N}, top_expected=top,
    )
