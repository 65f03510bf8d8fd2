r"""The data-adaptive kernel of the learned features (function-space view of a large step).

The features of the spiked random-feature model
(:class:`~spikewise.solvers.spiked_rf.SpikedRandomFeatures`,
:math:`w = s(\tilde a)w_0 + t\tilde a v`) define, as :math:`N \to \infty`, the kernel

.. math:: K_1(x, x') = \mathbb E_{\tilde a, w_0}\big[\sigma(w^\top x)\,\sigma(w^\top x')\big]
   = \sum_{l\ge0} l!\;\mathbb E_{\tilde a}\big[A_l(a_x, t\tilde a\kappa)\,
   A_l(a_{x'}, t\tilde a\kappa')\big]\,\rho^l,

with :math:`\kappa = v^\top x`, :math:`a_x = s\|x\|/\sqrt d`,
:math:`\rho = x^\top x'/(\|x\|\|x'\|)` and :math:`A_l` the shifted Hermite coefficients of
the model (Mehler's formula; the kernel is the empirical :math:`FF^\top/N` of infinitely
many neurons). At initialization (:math:`t = 0`) it is an inner-product kernel. After the
step it is *data-adaptive* ("How does feature learning reshape the function space?"): it
depends on the input through its projection on the learned direction.

Eigen-decomposition under :math:`x \sim \mathcal N(0, I_d)`, :math:`d \to \infty`, resolved
by the degree in the directions orthogonal to :math:`v`:

* **degree 0** (functions of :math:`\kappa` only): the operator with kernel
  :math:`K^{(0)}(\kappa, \kappa') = \mathbb E_{\tilde a}[A_0(s, t\tilde a\kappa)
  A_0(s, t\tilde a\kappa')]` on :math:`L^2(\mathcal N(0,1))`, eigenvalues of order one. At
  :math:`t = 0` only the constant survives (:math:`\mu_0^2`); the step *amplifies* the
  eigenvalues of functions of :math:`\kappa`, i.e. of the target direction
  (:math:`\beta^\top v = \gamma`): an eigenfunction :math:`f(\kappa) = \sum_k f_k
  \mathrm{He}_k(\kappa)/\sqrt{k!}` has squared overlap
  :math:`\sum_{k\ge1} f_k^2\gamma^{2k}` with the non-constant functions of
  :math:`\beta^\top x` (Mehler).
* **degree 1** (:math:`(u^\top x)g(\kappa)`, :math:`u \perp v`; multiplicity
  :math:`d - 1`): eigenvalues :math:`\lambda/d`, :math:`\lambda` those of
  :math:`\mathbb E_{\tilde a}[A_1(s, t\tilde a\kappa)A_1(s, t\tilde a\kappa')]` (the terms
  :math:`l \ge 3` are :math:`O(d^{-2})`). At :math:`t = 0`: :math:`\mu_1^2/d`.

The eigenvalues are computed by the Nyström method on Gauss--Hermite nodes in
:math:`\kappa`. They are the nonzero eigenvalues of the type Gram operator of
:func:`~spikewise.solvers.feature_spectrum` (duality: its outliers are :math:`N` times the
degree-0 eigenvalues, to first order). The radial mode (:math:`\|x\|^2`) enters at order
:math:`d^{-1/2}` through :math:`a_x`; the degrees above drop it.

**The invariant sector at finite d** (:func:`kernel_sector`): the kernel restricted to the
functions of :math:`\kappa` and :math:`\|x_\perp\|^2`, which the rotations about :math:`v`
leave invariant, with its :math:`d^{-1/2}` couplings kept exactly. It resolves the radial mode
:math:`u_r = (\|x\|^2 - d)/\sqrt{2d}` (eigenvalues of order :math:`1/d`), the amplification
of the target-aligned quadratic :math:`\mathrm{He}_2(\kappa)/\sqrt2` (order :math:`t^4`) and
their avoided crossing at :math:`t^4 \sim 1/d`, with a mixing angle
(:class:`KernelSector`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from spikewise._gauss import chi2_rule, factorials, hermite_polynomials, normal_rule
from spikewise._validation import InvalidParameterError, check_array, check_scalar
from spikewise.solvers.spiked_rf.model import (
    SpikedRandomFeatures,
    _check_model,
    _shifted_second_moment,
    mehler_gram,
    shifted_hermite,
)

__all__ = ["AdaptiveKernel", "adaptive_kernel", "kernel_matrix", "KernelSector", "kernel_sector"]


@dataclass(frozen=True, eq=False)
class AdaptiveKernel:
    """Eigenvalues of the data-adaptive kernel, by degree (module docstring).

    Attributes
    ----------
    degree0 : ndarray (k,)
        Eigenvalues of the functions of :math:`\\kappa` (descending).
    hermite : ndarray (k, k_max + 1)
        Squared coefficients of their eigenfunctions on the normalized
        :math:`\\mathrm{He}_j(\\kappa)/\\sqrt{j!}`.
    target_alignment : ndarray (k,)
        Squared overlap of each eigenfunction with the non-constant functions of
        :math:`\\beta^\\top x`.
    degree1 : ndarray (k,)
        Eigenvalues of :math:`(u^\\top x)g(\\kappa)`, :math:`u \\perp v` (each with
        multiplicity :math:`d - 1`), already divided by :math:`d`.
    d : int
    params : dict
    """

    degree0: np.ndarray
    hermite: np.ndarray = field(repr=False)
    target_alignment: np.ndarray
    degree1: np.ndarray
    d: int
    params: dict = field(default_factory=dict, repr=False)


def _unit_direction(direction, d, owner):
    """The learned direction ``v`` (d,), checked and normalized."""
    v = check_array(direction, "direction", owner, ndim=1, shape=(d,))
    nv = float(np.linalg.norm(v))
    if not nv > 0:
        raise InvalidParameterError(
            f"The 'direction' parameter of {owner} must be a nonzero vector. Got zeros instead."
        )
    return v / nv


def _nystrom(A, kw, tw, k):
    """Top-k eigenpairs of the kernel sum_t tw A[t](kappa) A[t](kappa') on nodes kappa."""
    sq = np.sqrt(kw)
    M = ((A * tw[None, :]) @ A.T) * np.outer(sq, sq)
    lam, U = np.linalg.eigh(M)
    order = np.argsort(lam)[::-1][:k]
    return lam[order], U[:, order] / sq[:, None]


def adaptive_kernel(model: SpikedRandomFeatures, *, d, k=6, k_max=8, nodes=120,
                    n_types=64) -> AdaptiveKernel:
    r"""Eigen-decomposition of the data-adaptive kernel :math:`K_1` by degree.

    Parameters
    ----------
    model : SpikedRandomFeatures
    d : int >= 2
        Input dimension (scales the degree-1 eigenvalues).
    k : int
        Number of eigenvalues per degree.
    k_max : int
        Hermite degrees reported for the degree-0 eigenfunctions.
    nodes : int
        Gauss--Hermite nodes in :math:`\kappa`.
    n_types : int
        Gauss--Hermite nodes of a Gaussian second layer.

    Returns
    -------
    AdaptiveKernel
    """
    owner = "adaptive_kernel"
    _check_model(model, owner, rank_one=True)
    d = check_scalar(d, "d", owner, kind="int", lower=2)
    k = check_scalar(k, "k", owner, kind="int", lower=1, upper=50)
    k_max = check_scalar(k_max, "k_max", owner, kind="int", lower=0, upper=40)
    nodes = check_scalar(nodes, "nodes", owner, kind="int", lower=8, upper=1000)
    kx, kw = (np.asarray(a) for a in normal_rule(nodes=nodes))
    tx, tw = model.neuron_law(n_nodes=n_types)
    s = np.sqrt(1.0 + model.inflation * tx * tx)
    A = shifted_hermite(model.activation, np.broadcast_to(s, (kx.size, tx.size)),
                        model.strength * kx[:, None] * tx[None, :], 1, owner=owner)
    lam0, F0 = _nystrom(A[0], kw, tw, k)
    lam1, _ = _nystrom(A[1], kw, tw, k)
    He = hermite_polynomials(kx, k_max) / np.sqrt(factorials(k_max))[:, None]
    coef = (He * kw) @ F0  # (k_max + 1, k): coefficients on He_j / sqrt(j!)
    coef2 = (coef**2).T
    gamma2 = model.overlap**2
    align = coef2[:, 1:] @ (gamma2 ** np.arange(1, k_max + 1))
    return AdaptiveKernel(
        degree0=np.maximum(lam0, 0.0), hermite=coef2, target_alignment=align,
        degree1=np.maximum(lam1, 0.0) / d, d=d,
        params={**model.params, "d": d, "nodes": nodes},
    )


def kernel_matrix(model: SpikedRandomFeatures, X, *, direction, n_types=64):
    r""":math:`K_1(x_i, x_j)` for the rows of ``X`` (module docstring; Mehler series to the
    model's ``l_max``, exact diagonal), with ``direction`` the learned direction :math:`v`.

    The infinite-width limit of :math:`FF^\top/N`; ``eigvalsh(kernel_matrix(...)) / n``
    estimates the kernel operator's eigenvalues.
    """
    owner = "kernel_matrix"
    _check_model(model, owner, rank_one=True)
    X = check_array(X, "X", owner, ndim=2)
    n, d = X.shape
    v = _unit_direction(direction, d, owner)
    tx, tw = model.neuron_law(n_nodes=n_types)
    s = np.sqrt(1.0 + model.inflation * tx * tx)
    norms = np.linalg.norm(X, axis=1)
    kappa = X @ v
    a = norms[:, None] * s[None, :] / math.sqrt(d)  # (n, T)
    shift = model.strength * kappa[:, None] * tx[None, :]
    A = shifted_hermite(model.activation, a, shift, model.l_max, owner=owner)
    rho = (X @ X.T) / np.outer(norms, norms)
    K = mehler_gram(A, tw, rho)
    np.fill_diagonal(K, _shifted_second_moment(model.activation, a, shift, owner=owner) @ tw)
    return K


# ---------------------------------------------------------------------- the invariant sector
def _radial_couplings(D, m_max):
    r"""``C_m = (2m-1)!! sqrt(m! / (D/2)_m)``: :math:`\mathbb E[q_m(\|x_\perp\|^2)\mid z] =
    C_m\,\mathrm{He}_{2m}(z)/(2m)!` for one coordinate :math:`z` of :math:`x_\perp`."""
    out = np.empty(m_max + 1)
    for m in range(m_max + 1):
        rising = math.prod(D / 2.0 + i for i in range(m))
        out[m] = math.prod(range(1, 2 * m, 2)) * math.sqrt(math.factorial(m) / rising)
    return out


def _radial_polynomials(u, D, m_max):
    r"""Orthonormal polynomials :math:`q_0, \dots, q_{m_{max}}` of the :math:`\chi^2_D` law
    at ``u`` (Laguerre recurrence in :math:`u/2 \sim \mathrm{Gamma}(D/2)`)."""
    a = D / 2.0
    x = np.asarray(u, float) / 2.0
    p = np.empty((m_max + 1,) + x.shape)
    p[0] = 1.0
    if m_max >= 1:
        p[1] = x - a
    for k in range(1, m_max):
        p[k + 1] = (x - (2 * k + a)) * p[k] - k * (k + a - 1.0) * p[k - 1]
    norms = np.array([math.sqrt(math.factorial(k) * math.prod(a + i for i in range(k)))
                      for k in range(m_max + 1)])
    return p / norms.reshape((-1,) + (1,) * x.ndim)


@dataclass(frozen=True, eq=False)
class KernelSector:
    r"""The data-adaptive kernel on the functions of :math:`(\kappa, \|x_\perp\|^2)`
    (:func:`kernel_sector`).

    Reference functions (unit norm under :math:`\mathcal N(0, I_d)`): the target-aligned
    quadratic :math:`h_q = \mathrm{He}_2(\kappa)/\sqrt2` (in the frame of the learned
    direction :math:`v`), the radial mode :math:`u_r = (\|x\|^2 - d)/\sqrt{2d}`, its part
    orthogonal to :math:`h_q`, :math:`q_1 = (\|x_\perp\|^2 - D)/\sqrt{2D}` (:math:`D = d - 1`;
    :math:`u_r = h_q/\sqrt d + \sqrt{D/d}\,q_1`), and the teacher's quadratic
    :math:`h_\beta = \mathrm{He}_2(\beta^\top x)/\sqrt2`.

    Attributes
    ----------
    eigenvalues : ndarray (k,)
        Descending eigenvalues of the kernel operator on the sector.
    coefficients : ndarray (k, k_max + 1, m_max + 1)
        Eigenfunction :math:`\psi_a = \sum_{j,m} f_{a,jm}\,\mathrm{He}_j(\kappa)/\sqrt{j!}\;
        q_m(\|x_\perp\|^2)` (:math:`q_m` orthonormal for :math:`\chi^2_D`).
    radial_weight : ndarray (k,)
        :math:`\langle\psi_a, u_r\rangle^2 = (f_{a,20}/\sqrt d + \sqrt{D/d}\,f_{a,01})^2`.
    quadratic_weight : ndarray (k,)
        :math:`\langle\psi_a, h_q\rangle^2 = f_{a,20}^2`.
    target_weight : ndarray (k,)
        :math:`\langle\psi_a, h_\beta\rangle^2 = (\gamma^2 f_{a,20} + (1 - \gamma^2)
        f_{a,01}/\sqrt D)^2` (the sector part of :math:`h_\beta` is
        :math:`\gamma^2 h_q + (1-\gamma^2)q_1/\sqrt D`).
    mixing_angle : ndarray (k,)
        :math:`\theta_a = \arctan(|f_{a,01}|/|f_{a,20}|) \in [0, \pi/2]`: the angle of the
        projection of :math:`\psi_a` on the plane :math:`(h_q, q_1)`, from the quadratic
        (0) to the radial mode (:math:`\pi/2`); NaN where that projection vanishes (odd
        modes).
    d : int
    overlap : float
        :math:`\gamma = \beta^\top v`.
    params : dict
    """

    eigenvalues: np.ndarray
    coefficients: np.ndarray = field(repr=False)
    radial_weight: np.ndarray
    quadratic_weight: np.ndarray
    target_weight: np.ndarray
    mixing_angle: np.ndarray
    d: int
    overlap: float
    params: dict = field(default_factory=dict, repr=False)

    @property
    def quadratic_mode(self) -> int:
        """Index of the eigenfunction with the largest weight on :math:`h_q` (at an avoided
        crossing this identity passes from the lower to the upper mode)."""
        return int(np.argmax(self.quadratic_weight))

    @property
    def mixing(self) -> float:
        r"""The kernel's mixing angle: :math:`\theta` of :attr:`quadratic_mode` (0: the
        target-aligned quadratic is unmixed with the radial mode; about :math:`\pi/4` at the
        avoided crossing)."""
        return float(self.mixing_angle[self.quadratic_mode])

    def eigenfunctions(self, X, *, direction) -> np.ndarray:
        r"""The eigenfunctions at the rows of ``X`` (n, d): an (n, k) array, column ``a``
        :math:`\psi_a(x_i)`; ``direction`` is :math:`v` (normalized here).

        ``psi / sqrt(n)`` is the prediction of the kernel matrix's eigenvectors.
        """
        owner = "KernelSector.eigenfunctions"
        X = check_array(X, "X", owner, ndim=2, shape=(None, self.d))
        kappa = X @ _unit_direction(direction, self.d, owner)
        r2 = np.einsum("ij,ij->i", X, X) - kappa * kappa
        _, k1, m1 = self.coefficients.shape
        He = hermite_polynomials(kappa, k1 - 1) / np.sqrt(factorials(k1 - 1))[:, None]
        Q = _radial_polynomials(r2, self.d - 1, m1 - 1)
        return np.einsum("jn,mn,ajm->na", He, Q, self.coefficients)

    def to_xarray(self):
        """The eigenvalues, weights and mixing angles as an ``xarray.Dataset`` over
        ``"mode"`` (needs the optional ``xarray``)."""
        try:
            import xarray as xr
        except ImportError as exc:  # pragma: no cover - optional dependency
            raise ImportError(
                "KernelSector.to_xarray needs xarray: pip install 'spikewise[dask]'"
            ) from exc
        names = ("eigenvalues", "radial_weight", "quadratic_weight", "target_weight",
                 "mixing_angle")
        attrs = {k: v for k, v in self.params.items() if isinstance(v, (int, float, str))}
        return xr.Dataset({n: ("mode", getattr(self, n)) for n in names},
                          coords={"mode": np.arange(self.eigenvalues.size)}, attrs=attrs)


def kernel_sector(model: SpikedRandomFeatures, *, d, k=6, k_max=16, m_max=2, nodes=120,
                  n_types=48, fluctuation_nodes=4) -> KernelSector:
    r"""The data-adaptive kernel on the functions of :math:`(\kappa, \|x_\perp\|^2)`, at
    finite :math:`d`: the radial mode and its mixing with the target-aligned quadratic.

    The kernel :math:`K_1` is invariant under the rotations that fix :math:`v`; so is the
    sector :math:`\mathcal S` of the functions of :math:`\kappa = v^\top x` and
    :math:`\|x_\perp\|^2`, :math:`x_\perp = (I - vv^\top)x`, and the operator restricted to
    it is :math:`\mathbb E_w[P\varphi_w\otimes P\varphi_w]` (:math:`P` the projection on
    :math:`\mathcal S`, :math:`\varphi_w = \sigma(w^\top x)`). In the orthonormal basis
    :math:`e_{jm} = \mathrm{He}_j(\kappa)/\sqrt{j!}\;q_m(\|x_\perp\|^2)` (:math:`q_m` the
    orthonormal Laguerre polynomials of :math:`\chi^2_D`, :math:`D = d - 1`), a neuron with
    :math:`c = v^\top w`, :math:`s_\perp = \|w_\perp\|` has, exactly,

    .. math:: \langle\varphi_w, e_{jm}\rangle = C_m\,\mathbb E_\kappa\big[
       \tfrac{\mathrm{He}_j(\kappa)}{\sqrt{j!}}\,A_{2m}(s_\perp, c\kappa)\big],\qquad
       C_m = (2m-1)!!\sqrt{m!/(D/2)_m},

    (:math:`\mathbb E[q_m(\|x_\perp\|^2)\mid z] = C_m\mathrm{He}_{2m}(z)/(2m)!` for one
    coordinate :math:`z` of :math:`x_\perp`; :math:`A_l` as in :func:`shifted_hermite`): the
    radial functions couple at order :math:`d^{-m/2}` (:math:`C_1 = \sqrt{2/D}`). The matrix
    :math:`M = \mathbb E_w[\langle\varphi_w, e\rangle\langle\varphi_w, e\rangle^\top]` is
    averaged over the model's exact neuron law at finite :math:`d`,
    :math:`w = s w_0 + t\tilde a v`, :math:`w_0 \sim \mathcal N(0, I_d/d)`: so
    :math:`c = t\tilde a + s g/\sqrt d` (:math:`g` standard normal; this component gives
    :math:`\kappa` its degree-1 eigenvalue :math:`\mu_1^2/d` at :math:`t = 0`) and
    :math:`s_\perp^2 = s^2\chi^2_D/d`. Quadratures: the law of :math:`\tilde a`
    (``n_types`` nodes if Gaussian), ``fluctuation_nodes`` Gauss--Hermite nodes for
    :math:`g` and as many nodes of the Gauss rule of :math:`\chi^2_D`
    (:func:`spikewise._gauss.chi2_rule`) for :math:`s_\perp^2` (both exact for polynomials
    of degree < ``2 * fluctuation_nodes``; the projections vary with :math:`g` and
    :math:`s_\perp^2` on the scale :math:`d^{-1/2}`), ``nodes`` Gauss--Hermite nodes in
    :math:`\kappa`. Truncation: :math:`j \le` ``k_max``, :math:`m \le` ``m_max``.

    What it shows (:class:`KernelSector` for the reference functions and the mixing
    angle). At :math:`t = 0` (an inner-product kernel) the sector holds the constant
    (:math:`\mu_0^2`), :math:`\kappa` (:math:`\mu_1^2/d`) and the radial mode, which couples
    through the norm of the neurons: :math:`\langle\varphi_w, u_r\rangle \approx
    \sqrt{2/d}\,\mu_2`. The same norm drives the constant, so for
    :math:`\mu_0 \ne 0` (ReLU) the radial mode rides on the top (constant) eigenfunction with
    weight about :math:`2\mu_2^2/(d\mu_0^2)` and is otherwise left with an
    :math:`O(d^{-2})` eigenvalue; for :math:`\mu_0 = 0` (a centred activation) the constant
    and :math:`u_r` share two eigenvalues :math:`\approx 2\mu_2^2/d`. The step gives the
    functions of :math:`\kappa` eigenvalues growing like :math:`t^{2j}`. To leading order in
    :math:`t`, a neuron projects on :math:`h_q` by :math:`\sqrt2\mu_2t^2\tilde a^2` and on
    the constant by :math:`\mu_0 + \mu_2t^2\tilde a^2`: the growth is along
    :math:`\kappa^2 = 1 + \sqrt2h_q`.
    When :math:`\mu_0 \ne 0` the constant mode takes the mean, and :math:`h_q` keeps an
    eigenvalue :math:`\approx 2\mu_2^2t^4\mathrm{Var}(\tilde a^2)` (a Gaussian second layer;
    with :math:`\tilde a^2 = 1` it rides on the constant mode); the radial mode stays on the
    constant and the quadratic mode stays pure. When :math:`\mu_0 = 0` the mode along
    :math:`\kappa^2/\sqrt3` grows like :math:`3\mu_2^2t^4\mathbb E\tilde a^4` and meets the
    radial pair at :math:`t^4 \sim 1/d`: an avoided crossing, where the eigenfunctions mix
    :math:`h_q` and :math:`u_r` at :math:`O(1)` (mixing angle near :math:`\pi/4`); past it the
    quadratic mode is again nearly free of :math:`u_r`. The expansion in the :math:`v`-frame
    is the natural one: the kernel is invariant about :math:`v`, not :math:`\beta`; the
    teacher's quadratic :math:`h_\beta` has sector part
    :math:`\gamma^2h_q + (1-\gamma^2)q_1/\sqrt D`, so its weight on a mode is essentially
    :math:`\gamma^4` times the weight on :math:`h_q`
    (:attr:`KernelSector.target_weight` gives it exactly).

    Against a kernel matrix (:func:`kernel_matrix`, :math:`n` inputs): its eigenvalues
    divided by :math:`n` estimate these eigenvalues only for modes that are outliers: the
    :math:`d - 1` degree-1 eigenvalues (about :math:`\mu_1^2/d`) and the higher harmonics
    form a bulk of width :math:`O(1/d)` around them; an eigenvalue of order :math:`1/d`
    is resolved by the matrix only when it lies well above that bulk (activations with a
    small :math:`\mu_1`), otherwise compare the kernel matrix projected on the sector
    (:meth:`KernelSector.eigenfunctions` evaluates the eigenfunctions at inputs).

    Parameters
    ----------
    model : SpikedRandomFeatures
    d : int >= 3
        Input dimension.
    k : int
        Number of modes returned (the largest eigenvalues).
    k_max : int
        Highest Hermite degree in :math:`\kappa`.
    m_max : int
        Highest radial degree (couplings :math:`O(d^{-m/2})`).
    nodes : int
        Gauss--Hermite nodes in :math:`\kappa`.
    n_types : int
        Gauss--Hermite nodes of a Gaussian second layer.
    fluctuation_nodes : int
        Gauss--Hermite nodes for the component of :math:`w_0` along :math:`v` and for the
        norm of its orthogonal part.

    Returns
    -------
    KernelSector

    References
    ----------
    Y. Dandi, L. Pesce, L. Zdeborová, F. Krzakala, "A random matrix theory perspective on the
    spectrum of learned features and asymptotic generalization capabilities", 2024;
    "How does feature learning reshape the function space?" (the data-adaptive kernel).
    S. Mei, T. Misiakiewicz, A. Montanari, "Generalization error of random features and
    kernel methods: hypercontractivity and kernel matrix concentration", 2022 (the radial
    mode of inner-product kernels).
    """
    owner = "kernel_sector"
    _check_model(model, owner, rank_one=True)
    d = check_scalar(d, "d", owner, kind="int", lower=3)
    k_max = check_scalar(k_max, "k_max", owner, kind="int", lower=2, upper=30)
    m_max = check_scalar(m_max, "m_max", owner, kind="int", lower=1, upper=6)
    size = (k_max + 1) * (m_max + 1)
    k = check_scalar(k, "k", owner, kind="int", lower=1, upper=size)
    nodes = check_scalar(nodes, "nodes", owner, kind="int", lower=8, upper=1000)
    n_types = check_scalar(n_types, "n_types", owner, kind="int", lower=1, upper=1000)
    fluct = check_scalar(fluctuation_nodes, "fluctuation_nodes", owner, kind="int",
                         lower=3, upper=40)
    D = d - 1
    kx, kw = (np.asarray(a) for a in normal_rule(nodes=nodes))
    gx, gw = (np.asarray(a) for a in normal_rule(nodes=fluct))
    ux, uw = chi2_rule(D, fluct)
    tx, tw = model.neuron_law(n_nodes=n_types)
    s = np.sqrt(1.0 + model.inflation * tx * tx)[:, None, None]
    c = model.strength * tx[:, None, None] + s * gx[None, :, None] / math.sqrt(d)
    s_perp = s * np.sqrt(ux / d)[None, None, :]
    c, s_perp = (a.ravel() for a in np.broadcast_arrays(c, s_perp))
    weights = (tw[:, None, None] * gw[None, :, None] * uw[None, None, :]).ravel()
    A = shifted_hermite(model.activation, s_perp[:, None], c[:, None] * kx[None, :],
                        2 * m_max, owner=owner)[0::2]  # (m_max + 1, neurons, nodes)
    He = hermite_polynomials(kx, k_max) / np.sqrt(factorials(k_max))[:, None]
    P = np.einsum("jq,mnq->njm", He * kw, A) * _radial_couplings(D, m_max)
    P = P.reshape(P.shape[0], size)
    lam, U = np.linalg.eigh((P * weights[:, None]).T @ P)
    order = np.argsort(lam)[::-1][:k]
    lam, F = lam[order], U[:, order].T.reshape(k, k_max + 1, m_max + 1)
    f20, f01 = F[:, 2, 0], F[:, 0, 1]
    gamma2 = model.overlap**2
    plane = np.hypot(f20, f01)
    with np.errstate(invalid="ignore"):
        angle = np.where(plane > 1e-12, np.arctan2(np.abs(f01), np.abs(f20)), np.nan)
    return KernelSector(
        eigenvalues=np.maximum(lam, 0.0), coefficients=F,
        radial_weight=(f20 / math.sqrt(d) + math.sqrt(D / d) * f01) ** 2,
        quadratic_weight=f20**2,
        target_weight=(gamma2 * f20 + (1.0 - gamma2) * f01 / math.sqrt(D)) ** 2,
        mixing_angle=angle, d=d, overlap=model.overlap,
        params={**model.params, "d": d, "k_max": k_max, "m_max": m_max, "nodes": nodes},
    )
